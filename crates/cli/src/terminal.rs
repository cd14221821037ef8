//! What the tool writes for people: server text made inert, and output that
//! tolerates a reader who went away.
//!
//! A server (or anything between it and us) chooses the text of error messages,
//! role names and field errors. Written raw to a terminal, an escape sequence in
//! it could retitle the window, clear the screen or hide the real message, so
//! every control character is shown as an escape instead.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write;

use crate::failure::{Failure, Result};

/// True for characters that must not reach a terminal raw: C0 controls
/// (newline and tab included: messages are one line), DEL, C1 controls, and the
/// bidirectional and line-separator formatting characters that reorder or break
/// what is shown.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}'
                | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every unsafe character replaced by a visible escape: `\n`, `\r`,
/// `\t`, `\xNN` for other C0 controls and DEL, `\u{NNNN}` for the rest. An ESC
/// thus becomes the four characters `\x1b`, which no terminal interprets.
/// Backslashes are kept as they are: they are harmless, and paths keep their look.
pub fn inert(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Maps an error writing to standard output: a reader that closed the pipe
/// (`runtel ... | head -1`) ends the tool quietly, anything else is a local error.
pub fn stdout_error(e: std::io::Error) -> Failure {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Failure::StdoutClosed
    } else {
        Failure::local(format!("writing to standard output: {e}"))
    }
}

/// Writes `text` to standard output (`println!` would panic on a closed pipe).
pub fn out(text: &str) -> Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_all(text.as_bytes())
        .and_then(|()| o.write_all(b"\n"))
        .and_then(|()| o.flush())
        .map_err(stdout_error)
}

/// The width of the terminal standard output goes to, in columns: measured
/// when it is a terminal, else `COLUMNS` when set (as shells export it); `None`
/// when neither says (a pipe or a file: nothing is cut).
pub fn stdout_width() -> Option<usize> {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        // SAFETY: TIOCGWINSZ writes one `winsize` into the struct given, which
        // lives across the call; a failure leaves it zeroed, which is checked.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
        if ok && ws.ws_col > 0 {
            return Some(usize::from(ws.ws_col));
        }
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0)
}

/// Writes `text` to standard output as it is (no newline added).
pub fn out_raw(text: &str) -> Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_all(text.as_bytes())
        .and_then(|()| o.flush())
        .map_err(stdout_error)
}

/// Writes one line to standard error. A failure is ignored: there is nowhere
/// left to report it, and `eprintln!` would panic instead.
pub fn note(line: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e
        .write_all(line.as_bytes())
        .and_then(|()| e.write_all(b"\n"));
}

/// The words of one `notifies` item: its `text` (or `message`, `msg`), a
/// string as it is, anything else as compact JSON. The API does not document
/// the items' shape; `{"text": ...}` is what has been seen.
pub fn notice_text(item: &serde_json::Value) -> String {
    use serde_json::Value;
    match item {
        Value::String(s) => s.clone(),
        Value::Object(m) => ["text", "message", "msg"]
            .iter()
            .find_map(|k| m.get(*k).and_then(Value::as_str))
            .map_or_else(|| item.to_string(), str::to_owned),
        other => other.to_string(),
    }
}

/// Shows the server's `notifies` (a low balance, say) on standard error, each
/// distinct one once per invocation however many answers repeat it: standard
/// output holds only the data, so a pipe or a file never gets them mixed in.
pub fn notices(items: &[serde_json::Value]) {
    static SHOWN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut shown = SHOWN.lock().unwrap_or_else(|e| e.into_inner());
    for item in items {
        let text = notice_text(item);
        if !shown.contains(&text) {
            note(&format!("runtel: notice: {}", inert(&text)));
            shown.push(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{inert, notice_text};

    #[test]
    fn notices_show_their_text() {
        use serde_json::json;
        for (item, want) in [
            (
                json!({"type": "warning", "text": "Low balance"}),
                "Low balance",
            ),
            (json!({"message": "m"}), "m"),
            (json!("plain"), "plain"),
            (json!({"code": 5}), "{\"code\":5}"),
            (json!(7), "7"),
        ] {
            assert_eq!(notice_text(&item), want);
        }
    }

    #[test]
    fn escapes_controls_and_keeps_the_rest() {
        assert_eq!(
            inert("plain text, Ünïcode \\ ok"),
            "plain text, Ünïcode \\ ok"
        );
        assert_eq!(
            inert("\u{1b}]0;t\u{7}\u{1b}[2J\n\r\t\u{7f}\u{9b}\u{202e}x"),
            "\\x1b]0;t\\x07\\x1b[2J\\n\\r\\t\\x7f\\u{009b}\\u{202e}x"
        );
    }
}
