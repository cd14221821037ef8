//! Diagnostics on stderr: the SDK's log records (`-v`, `RUNTEL_LOG`) and each
//! HTTP exchange of a call (`--debug-http`), never with a secret.
//!
//! Secrets are kept out three ways: records that may carry raw wire bytes
//! (ureq's protocol dumps, see [`runtel_client::log_record_may_hold_secrets`])
//! are dropped; every text shown passes through a [`Redactor`] holding the
//! password and token of this invocation as soon as the tool knows them
//! ([`add_secret`]); and a `Bearer` credential in any text is masked whatever
//! it is. Requests are shown with [`runtel_client::HttpRequest::masked_headers`]
//! and `masked_body`, answers redacted with the request's own secrets.

use std::sync::{Mutex, OnceLock};

use log::{Level, LevelFilter, Log, Metadata, Record};
use runtel_client::{Call, Decoder, Endpoint, Error, Expected, Limits, Redactor, Response, Secret};

use crate::terminal;

/// How much of a body `--debug-http` shows, in bytes.
pub const BODY_BOUND: usize = 4096;

/// The secrets of this invocation, as the tool learns them.
static SECRETS: Mutex<Option<Redactor>> = Mutex::new(None);

/// Adds a secret (the password, a token) to what diagnostics mask.
pub fn add_secret(secret: &str) {
    let mut s = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    s.get_or_insert_with(Redactor::default).add(secret);
}

/// `text` with every known secret masked, and any `Bearer` credential.
pub fn scrub(text: &str) -> String {
    let known = {
        let s = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
        match s.as_ref() {
            Some(r) => r.redact(text).into_owned(),
            None => text.to_owned(),
        }
    };
    mask_bearer(&known)
}

/// Masks the credential after every `Bearer ` (any case), which is a token
/// whatever else the text is.
fn mask_bearer(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(i) = lower[at..].find("bearer ") {
        let start = at + i + "bearer ".len();
        out.push_str(&text[at..start]);
        let len = text[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ';' | '}'))
            .unwrap_or(text.len() - start);
        if len > 0 && &text[start..start + len] != "***" {
            out.push_str("***");
        } else {
            out.push_str(&text[start..start + len]);
        }
        at = start + len;
    }
    out.push_str(&text[at..]);
    out
}

/// Which records are shown: a default level and levels per target prefix.
#[derive(Debug, Clone, PartialEq)]
struct Filter {
    default: LevelFilter,
    targets: Vec<(String, LevelFilter)>,
}

impl Filter {
    /// `RUNTEL_LOG` (else `RUST_LOG`) as `LEVEL` or `TARGET=LEVEL`, separated by
    /// commas (`debug`, `runtel_client=debug,ureq=info`), over the level of
    /// `-v` (1 info, 2 debug, 3 trace), whichever says more. `--debug-http`
    /// shows the SDK's own records at debug (logins, retries, failures).
    fn new(spec: Option<&str>, verbose: u8, debug_http: bool) -> (Filter, Vec<String>) {
        let mut default = match verbose {
            0 => LevelFilter::Off,
            1 => LevelFilter::Info,
            2 => LevelFilter::Debug,
            _ => LevelFilter::Trace,
        };
        let mut targets = Vec::new();
        let mut bad = Vec::new();
        for part in spec.unwrap_or_default().split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (target, level) = match part.split_once('=') {
                Some((t, l)) => (Some(t.trim()), l.trim()),
                None => match part.parse::<LevelFilter>() {
                    Ok(_) => (None, part),
                    // A bare target means all of its records.
                    Err(_) => (Some(part), "trace"),
                },
            };
            let Ok(level) = level.parse::<LevelFilter>() else {
                bad.push(part.to_owned());
                continue;
            };
            match target {
                None => default = default.max(level),
                Some(t) => targets.push((t.to_owned(), level)),
            }
        }
        if debug_http && !targets.iter().any(|(t, _)| t == "runtel_client") {
            targets.push(("runtel_client".to_owned(), default.max(LevelFilter::Debug)));
        }
        // The longest prefix decides.
        targets.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        (Filter { default, targets }, bad)
    }

    fn level_for(&self, target: &str) -> LevelFilter {
        self.targets
            .iter()
            .find(|(t, _)| target == t || target.starts_with(&format!("{t}::")))
            .map_or(self.default, |(_, l)| *l)
    }

    fn max(&self) -> LevelFilter {
        self.targets
            .iter()
            .map(|(_, l)| *l)
            .fold(self.default, Ord::max)
    }
}

struct StderrLogger {
    filter: Filter,
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.filter.level_for(metadata.target())
            && !runtel_client::log_record_may_hold_secrets(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        };
        let text = scrub(&record.args().to_string());
        terminal::note(&format!(
            "runtel: log: {level} {}: {}",
            record.target(),
            terminal::inert(&text)
        ));
    }

    fn flush(&self) {}
}

static LOGGER: OnceLock<StderrLogger> = OnceLock::new();

/// Sends log records to stderr as `-v`, `RUNTEL_LOG` (or `RUST_LOG`) and
/// `--debug-http` ask; nothing when none does.
pub fn init(verbose: u8, debug_http: bool) {
    let spec = std::env::var("RUNTEL_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok());
    let (filter, bad) = Filter::new(spec.as_deref(), verbose, debug_http);
    for part in bad {
        terminal::note(&format!(
            "runtel: warning: RUNTEL_LOG: {:?} is not LEVEL or TARGET=LEVEL (levels: off, \
             error, warn, info, debug, trace); ignored",
            terminal::inert(&part)
        ));
    }
    let max = filter.max();
    if max == LevelFilter::Off {
        return;
    }
    let logger = LOGGER.get_or_init(|| StderrLogger { filter });
    if log::set_logger(logger).is_ok() {
        log::set_max_level(max);
    }
}

/// `text` cut to [`BODY_BOUND`] bytes (at a character boundary), saying how
/// much was left out.
fn bounded(text: &str) -> String {
    if text.len() <= BODY_BOUND {
        return text.to_owned();
    }
    let mut end = BODY_BOUND;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}… ({} more bytes not shown)",
        &text[..end],
        text.len() - end
    )
}

/// A decoder that shows each exchange of a call on stderr before decoding the
/// answer as usual: the request as sent (headers and body masked), then the
/// answer's status and body (redacted, cut at [`BODY_BOUND`]). Retries and the
/// replay after a new login are shown too, each with its own `action_id`.
pub struct HttpDebug<'a> {
    /// The call being made.
    pub call: &'a Call,
    /// Its server.
    pub endpoint: Endpoint,
}

impl Decoder for HttpDebug<'_> {
    type Output = Response;

    fn decode(
        &self,
        expected: Expected<'_>,
        status: u16,
        body: Vec<u8>,
        limits: &Limits,
    ) -> Result<Response, Error> {
        // The request as the client built it for this action_id; the token in
        // it is masked anyway, so a stand-in gives the same text.
        let req = self.call.to_http(
            &self.endpoint,
            expected.action_id.to_owned(),
            Some(&Secret::new("***")),
        );
        let mut shown = format!("> {} {}\n", req.method, req.url);
        for (k, v) in req.masked_headers() {
            shown.push_str(&format!("> {k}: {v}\n"));
        }
        shown.push_str(&format!("> {}\n", bounded(&req.masked_body())));
        let redactor = Redactor::new(expected.secrets);
        let text = String::from_utf8_lossy(&body);
        let answer = redactor.redact_excerpt(&bounded(&redactor.redact(&text)));
        shown.push_str(&format!(
            "< HTTP {status}, {} bytes\n< {}",
            body.len(),
            answer
        ));
        for line in scrub(&shown).lines() {
            terminal::note(&terminal::inert(line));
        }
        runtel_client::ResponseDecoder.decode(expected, status, body, limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_from_flags_and_environment() {
        let (f, bad) = Filter::new(None, 0, false);
        assert_eq!(f.max(), LevelFilter::Off);
        assert!(bad.is_empty());
        let (f, _) = Filter::new(None, 2, false);
        assert_eq!(f.level_for("runtel_client::client"), LevelFilter::Debug);
        let (f, bad) = Filter::new(
            Some("info, ureq=trace,runtel_client=warn,nope=loud"),
            0,
            false,
        );
        assert_eq!(bad, ["nope=loud"]);
        assert_eq!(f.level_for("ureq::pool"), LevelFilter::Trace);
        assert_eq!(f.level_for("ureq_proto::client"), LevelFilter::Info);
        assert_eq!(f.level_for("runtel_client"), LevelFilter::Warn);
        assert_eq!(f.level_for("other"), LevelFilter::Info);
        // -v says more than the environment's bare level: -v wins.
        let (f, _) = Filter::new(Some("warn"), 3, false);
        assert_eq!(f.level_for("x"), LevelFilter::Trace);
        let (f, _) = Filter::new(None, 0, true);
        assert_eq!(f.level_for("runtel_client::client"), LevelFilter::Debug);
        assert_eq!(f.level_for("ureq"), LevelFilter::Off);
    }

    #[test]
    fn bearer_credentials_and_known_secrets_are_masked() {
        assert_eq!(
            mask_bearer("Authorization: Bearer abc.def-1 next"),
            "Authorization: Bearer *** next"
        );
        assert_eq!(
            mask_bearer("{\"h\":\"bearer xyz\"}"),
            "{\"h\":\"bearer ***\"}"
        );
        assert_eq!(mask_bearer("Bearer ***"), "Bearer ***");
        assert_eq!(mask_bearer("no credential"), "no credential");
        add_secret("Sekrit-Passw0rd");
        assert_eq!(scrub("pw=Sekrit-Passw0rd!"), "pw=***!");
    }

    #[test]
    fn bodies_are_cut_at_the_bound() {
        let long = "ж".repeat(BODY_BOUND);
        let cut = bounded(&long);
        assert!(cut.len() < BODY_BOUND + 64, "{}", cut.len());
        assert!(cut.ends_with(&format!(
            "({} more bytes not shown)",
            long.len() - BODY_BOUND
        )));
        assert_eq!(bounded("short"), "short");
    }
}
