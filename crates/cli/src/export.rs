//! `runtel export`: every record of a list action to JSON Lines, CSV or JSON, page by
//! page (bounded memory), written atomically and resumable after an interruption.
//!
//! Output goes to `FILE.part` with a checkpoint `FILE.part.state` written after each
//! page (offset, records and bytes so far). On success `.part` is renamed to `FILE`
//! and the state removed. `--resume` truncates `.part` to the last checkpoint and
//! continues from its offset.
//!
//! The output, `.part` and `.state` files are created with mode 0600 whatever the
//! umask: call records are personal data.
//!
//! CSV cells that a spreadsheet would evaluate as a formula are prefixed with `'`
//! unless the job asks for raw cells; see [`neutralise_formula`].

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use runtel_client::Client;
use serde_json::{json, Map, Value};

use crate::failure::{Failure, Result};
use crate::files;
use crate::terminal;

/// Output formats.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// A header row from the first page's fields; nested values as JSON text.
    Csv,
    /// One JSON array.
    Json,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

/// `--since` as given and the time it stands for. A relative time (`7d`) is read
/// once, when an export starts, and kept in its checkpoint: a resumed export must
/// ask for the same records as the run it continues, however much later it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Since {
    /// The text given, which is what a resumed export must repeat.
    pub text: String,
    /// Unix seconds, as read when this run started.
    pub at: i64,
}

/// What to export.
pub struct ExportJob {
    pub obj: String,
    pub action: String,
    pub params: Value,
    /// The filter given (`--filter`, `filter=`), without the `--since` condition.
    pub filter: Value,
    pub since: Option<Since>,
    pub format: Format,
    pub page_size: u64,
    pub output: Option<PathBuf>,
    pub resume: bool,
    pub progress: bool,
    /// Write CSV cells exactly as received, even those a spreadsheet would run as
    /// formulas (`--csv-raw-formulas`).
    pub csv_raw_formulas: bool,
}

/// How an export ended.
pub struct ExportSummary {
    pub records: u64,
    pub resumed_from: u64,
    pub extra_fields_dropped: u64,
}

struct Checkpoint {
    offset: u64,
    records: u64,
    bytes: u64,
    columns: Vec<String>,
    /// The `--since` time the export started with.
    since_at: Option<i64>,
}

impl Checkpoint {
    fn start(since_at: Option<i64>) -> Self {
        Checkpoint {
            offset: 0,
            records: 0,
            bytes: 0,
            columns: Vec::new(),
            since_at,
        }
    }
}

/// The length of the progress bar. It is fixed by the first page that brings a
/// `total_count`: adding each page's count to the records already written made
/// the total grow by a page per page. A resumed export expects the records it
/// already has plus what the server still has from its offset on. The length
/// never falls below the records written, should the server gain records.
#[derive(Debug)]
struct BarLength {
    start_records: u64,
    start_offset: u64,
    expected: Option<u64>,
}

impl BarLength {
    fn new(start_records: u64, start_offset: u64) -> Self {
        BarLength {
            start_records,
            start_offset,
            expected: None,
        }
    }

    /// The length to show after a page; `None` until a count is known.
    fn after_page(&mut self, total_count: Option<u64>, records: u64) -> Option<u64> {
        if self.expected.is_none() {
            self.expected =
                total_count.map(|t| self.start_records + t.saturating_sub(self.start_offset));
        }
        self.expected.map(|e| e.max(records))
    }
}

fn state_path(part: &Path) -> PathBuf {
    let mut s = part.as_os_str().to_owned();
    s.push(".state");
    PathBuf::from(s)
}

fn part_path(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Failure + '_ {
    move |e| Failure::local(format!("{}: {e}", path.display()))
}

impl ExportJob {
    fn identity(&self) -> Value {
        let mut id = json!({"obj": self.obj, "action": self.action, "params": self.params,
               "filter": self.filter, "format": self.format.name(), "page_size": self.page_size});
        // Only when set, so checkpoints of earlier versions still resume; a resumed
        // file must not mix neutralised and raw cells.
        if self.format == Format::Csv && self.csv_raw_formulas {
            id["csv_raw_formulas"] = Value::Bool(true);
        }
        // The text, not the time: `--since 7d` tomorrow is the same export, whose
        // time is the one in the checkpoint.
        if let Some(since) = &self.since {
            id["since"] = Value::String(since.text.clone());
        }
        id
    }

    fn load_checkpoint(&self, part: &Path) -> Result<Checkpoint> {
        let state = state_path(part);
        let text = std::fs::read_to_string(&state).map_err(|_| {
            Failure::local(format!("nothing to resume: {} not found", state.display()))
        })?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| Failure::local(format!("{}: {e}", state.display())))?;
        let since_at = v["since_at"].as_i64();
        if v["job"] != self.identity() || self.since.is_some() != since_at.is_some() {
            return Err(Failure::local(format!(
                "{} belongs to another export (object, params, filter, --since, format or \
                 page size differ)",
                state.display()
            )));
        }
        Ok(Checkpoint {
            offset: v["offset"].as_u64().unwrap_or(0),
            records: v["records"].as_u64().unwrap_or(0),
            bytes: v["bytes"].as_u64().unwrap_or(0),
            columns: serde_json::from_value(v["columns"].clone()).unwrap_or_default(),
            since_at,
        })
    }

    fn save_checkpoint(&self, part: &Path, c: &Checkpoint) -> Result<()> {
        let state = state_path(part);
        let mut v = json!({"job": self.identity(), "offset": c.offset, "records": c.records,
                           "bytes": c.bytes, "columns": c.columns});
        if let Some(at) = c.since_at {
            v["since_at"] = at.into();
        }
        files::write_atomic_private(&state, v.to_string().as_bytes())
    }

    /// Runs the export with `client`.
    pub fn run(&self, client: &Client) -> Result<ExportSummary> {
        if self.resume && self.output.is_none() {
            return Err(Failure::local("--resume needs -o FILE"));
        }
        let since_now = self.since.as_ref().map(|s| s.at);
        let (mut sink, part, mut cp): (Sink, Option<PathBuf>, Checkpoint) = match &self.output {
            None => (
                Sink::Stdout(BufWriter::new(std::io::stdout().lock())),
                None,
                Checkpoint::start(since_now),
            ),
            Some(out) => {
                let part = part_path(out);
                let (file, cp) = if self.resume {
                    let cp = self.load_checkpoint(&part)?;
                    let mut f = files::reopen_output(&part)?;
                    f.set_len(cp.bytes).map_err(io(&part))?;
                    f.seek(SeekFrom::End(0)).map_err(io(&part))?;
                    (f, cp)
                } else {
                    (files::create_output(&part)?, Checkpoint::start(since_now))
                };
                (Sink::file(file, cp.bytes), Some(part), cp)
            }
        };
        let resumed_from = cp.offset;
        let fail = |e: std::io::Error| match &part {
            Some(path) => Failure::local(format!("{}: {e}", path.display())),
            // A reader that closed stdout (`| head`) ends the export quietly.
            None => terminal::stdout_error(e),
        };
        let filter = match cp.since_at {
            Some(at) => crate::params::with_since(self.filter.clone(), at),
            None => self.filter.clone(),
        };
        let mut records = client
            .records(&self.obj, self.params.clone(), self.page_size)?
            .action(&self.action)?
            .filter(filter)?
            .starting_at(cp.offset);

        let bar = if self.progress {
            ProgressBar::new(0)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {pos}/{len} records  {per_sec}  ETA {eta}  {wide_bar}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_position(cp.records);
        let mut bar_length = BarLength::new(cp.records, cp.offset);
        let mut extra_dropped = 0u64;
        let mut page: Vec<Map<String, Value>> = Vec::new();
        let mut wrote_header = cp.records > 0 || cp.bytes > 0;
        loop {
            let next = records.next();
            let finished = next.is_none();
            if let Some(r) = next {
                let rec = match r? {
                    Value::Object(m) => m,
                    other => {
                        let mut m = Map::new();
                        m.insert("value".into(), other);
                        m
                    }
                };
                page.push(rec);
                if records.buffered() > 0 {
                    continue;
                }
            }
            // A page boundary (or the end): write the page, then checkpoint.
            if let Some(len) =
                bar_length.after_page(records.total_count(), cp.records + page.len() as u64)
            {
                bar.set_length(len);
            }
            if !wrote_header {
                if self.format == Format::Csv {
                    for rec in &page {
                        for k in rec.keys() {
                            if !cp.columns.contains(k) {
                                cp.columns.push(k.clone());
                            }
                        }
                    }
                    write_csv_row(
                        &mut sink,
                        cp.columns.iter().map(|c| Value::String(c.clone())),
                        self.csv_raw_formulas,
                    )
                    .map_err(&fail)?;
                } else if self.format == Format::Json {
                    sink.write_all(b"[").map_err(&fail)?;
                }
                wrote_header = true;
            }
            for rec in page.drain(..) {
                match self.format {
                    Format::Jsonl => {
                        serde_json::to_writer(&mut sink, &rec).map_err(|e| fail(e.into()))?;
                        sink.write_all(b"\n").map_err(&fail)?;
                    }
                    Format::Json => {
                        sink.write_all(if cp.records == 0 { b"\n" } else { b",\n" })
                            .map_err(&fail)?;
                        serde_json::to_writer(&mut sink, &rec).map_err(|e| fail(e.into()))?;
                    }
                    Format::Csv => {
                        if rec.keys().any(|k| !cp.columns.contains(k)) {
                            extra_dropped += 1;
                        }
                        write_csv_row(
                            &mut sink,
                            cp.columns
                                .iter()
                                .map(|c| rec.get(c).cloned().unwrap_or(Value::Null)),
                            self.csv_raw_formulas,
                        )
                        .map_err(&fail)?;
                    }
                }
                cp.records += 1;
            }
            bar.set_position(cp.records);
            sink.flush().map_err(&fail)?;
            if let (Some(part), Some(bytes)) = (&part, sink.bytes()) {
                cp.offset = records.position();
                cp.bytes = bytes;
                self.save_checkpoint(part, &cp)?;
            }
            if finished {
                break;
            }
        }
        if let Some(missing) = records.shortfall() {
            // The server announced more than it delivered: a file that looks
            // complete must not appear. The `.part` file keeps what arrived.
            bar.finish_and_clear();
            let kept = part.as_ref().map_or(String::new(), |p| {
                format!("; what arrived is in {}", p.display())
            });
            return Err(Failure::Sdk(runtel_client::Error::unexpected_shape(
                &self.obj,
                &self.action,
                format!(
                    "export incomplete: the server announced {} records but the list ended \
                     {missing} short, after {}{kept}",
                    records.total_count().unwrap_or_default(),
                    records.position()
                ),
                "$.total_count",
            )));
        }
        if self.format == Format::Json {
            if !wrote_header {
                sink.write_all(b"[").map_err(&fail)?;
            }
            sink.write_all(b"\n]\n").map_err(&fail)?;
        }
        sink.flush().map_err(&fail)?;
        drop(sink);
        bar.finish_and_clear();
        if let (Some(part), Some(out)) = (part, &self.output) {
            File::open(&part)
                .and_then(|f| f.sync_all())
                .map_err(io(&part))?;
            std::fs::rename(&part, out).map_err(io(out))?;
            let _ = std::fs::remove_file(state_path(&part));
        }
        Ok(ExportSummary {
            records: cp.records,
            resumed_from,
            extra_fields_dropped: extra_dropped,
        })
    }
}

fn write_csv_row<W: Write + ?Sized>(
    w: &mut W,
    cells: impl Iterator<Item = Value>,
    raw_formulas: bool,
) -> std::io::Result<()> {
    let mut line = String::new();
    for (i, v) in cells.enumerate() {
        if i > 0 {
            line.push(',');
        }
        let mut text = match v {
            Value::Null => String::new(),
            Value::String(s) => s,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            other => other.to_string(),
        };
        if !raw_formulas {
            neutralise_formula(&mut text);
        }
        if text.contains([',', '"', '\n', '\r']) {
            line.push('"');
            line.push_str(&text.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(&text);
        }
    }
    line.push_str("\r\n");
    w.write_all(line.as_bytes())
}

/// Prefixes `'` to a cell that a spreadsheet would evaluate as a formula (CSV
/// injection): one starting with `=`, `@`, a tab or a carriage return, or with `+`
/// or `-` unless the whole cell is a plain number. Phone numbers such as
/// `+79161234567` and numbers such as `-5` or `-2.5e3` stay as they are, so they
/// still read as numbers; `+cmd|...` and `-1+1` do not.
pub fn neutralise_formula(cell: &mut String) {
    let risky = match cell.as_bytes().first() {
        Some(b'=' | b'@' | b'\t' | b'\r') => true,
        Some(b'+' | b'-') => !is_plain_number(&cell[1..]),
        _ => false,
    };
    if risky {
        cell.insert(0, '\'');
    }
}

/// Digits, an optional fraction and an optional exponent (`5`, `2.50`, `1e-3`).
fn is_plain_number(s: &str) -> bool {
    let digits = |s: &str| -> usize { s.bytes().take_while(u8::is_ascii_digit).count() };
    let int = digits(s);
    let mut rest = &s[int..];
    let mut frac = 0;
    if let Some(r) = rest.strip_prefix('.') {
        frac = digits(r);
        rest = &r[frac..];
    }
    if int + frac == 0 {
        return false;
    }
    if let Some(r) = rest.strip_prefix(['e', 'E']) {
        let r = r.strip_prefix(['+', '-']).unwrap_or(r);
        let exp = digits(r);
        if exp == 0 {
            return false;
        }
        rest = &r[exp..];
    }
    rest.is_empty()
}

/// Where records go: standard output, or a file whose length is tracked for checkpoints.
enum Sink {
    Stdout(BufWriter<std::io::StdoutLock<'static>>),
    File { inner: BufWriter<File>, bytes: u64 },
}

impl Sink {
    fn file(file: File, bytes: u64) -> Self {
        Sink::File {
            inner: BufWriter::with_capacity(256 * 1024, file),
            bytes,
        }
    }

    /// Bytes written to the file so far (None for stdout, which cannot resume).
    fn bytes(&self) -> Option<u64> {
        match self {
            Sink::Stdout(_) => None,
            Sink::File { bytes, .. } => Some(*bytes),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Stdout(w) => w.write(buf),
            Sink::File { inner, bytes } => {
                let n = inner.write(buf)?;
                *bytes += n as u64;
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Stdout(w) => w.flush(),
            // A checkpoint must not claim bytes the disk does not have.
            Sink::File { inner, .. } => {
                inner.flush()?;
                inner.get_ref().sync_data()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{neutralise_formula, BarLength};

    #[test]
    fn the_bar_length_is_the_first_total_count() {
        // 5,000 records in pages of 1,000: 5,000 from the first page to the last.
        let mut bar = BarLength::new(0, 0);
        let lengths: Vec<_> = (1..=5)
            .map(|page| bar.after_page(Some(5000), page * 1000))
            .collect();
        assert_eq!(lengths, vec![Some(5000); 5]);
        // No count yet: no length; a later count is taken, and then kept.
        let mut bar = BarLength::new(0, 0);
        assert_eq!(bar.after_page(None, 10), None);
        assert_eq!(bar.after_page(Some(40), 20), Some(40));
        assert_eq!(bar.after_page(Some(45), 30), Some(40));
        // Records beyond the count stretch the bar instead of overflowing it.
        assert_eq!(bar.after_page(Some(45), 45), Some(45));
        // Resumed at offset 2,000 with 2,000 records written: those plus the rest.
        let mut bar = BarLength::new(2000, 2000);
        assert_eq!(bar.after_page(Some(5000), 3000), Some(5000));
        assert_eq!(bar.after_page(Some(5000), 4000), Some(5000));
        // A count below the offset (records deleted meanwhile) is not an underflow.
        let mut bar = BarLength::new(2000, 2000);
        assert_eq!(bar.after_page(Some(100), 2000), Some(2000));
    }

    #[test]
    fn formulas_get_a_quote_and_numbers_do_not() {
        for (cell, want) in [
            ("+79161234567", "+79161234567"),
            ("-5", "-5"),
            ("-2.5e3", "-2.5e3"),
            ("+.5", "+.5"),
            ("Anna", "Anna"),
            ("", ""),
            ("=1+1", "'=1+1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("-1+1", "'-1+1"),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("-", "'-"),
            ("+1e", "'+1e"),
            ("- 5", "'- 5"),
        ] {
            let mut c = cell.to_owned();
            neutralise_formula(&mut c);
            assert_eq!(c, want, "{cell:?}");
        }
    }
}
