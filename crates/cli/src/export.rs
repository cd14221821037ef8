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
use runtel_client::{Call, Client};
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
    /// CSV for spreadsheets: the delimiter, a byte order mark, times in a zone
    /// (`--csv-delimiter`, `--bom`, `--time-zone`); `csv_raw_formulas` is the
    /// job's own flag.
    pub csv: crate::output::Csv,
    /// Page by id instead of offset (`--consistent`).
    pub consistent: bool,
    /// Finish an export whose records changed meanwhile (`--allow-drift`).
    pub allow_drift: bool,
}

/// How an export ended.
pub struct ExportSummary {
    pub records: u64,
    /// Records already written when this run resumed (0: a new export).
    pub resumed_from: u64,
}

/// The last record written, to check on `--resume` that the position the
/// checkpoint continues from still holds it: offset paging over records added
/// or deleted before that position would skip or repeat records.
#[derive(Debug, Clone, PartialEq)]
struct Anchor {
    /// Its offset in the list (offset paging).
    position: u64,
    /// Its `id` (`null` when it has none).
    id: Value,
    /// [`record_hash`] of it: a record without an id is known by its contents.
    hash: String,
}

impl Anchor {
    fn of(position: u64, record: &Value) -> Anchor {
        Anchor {
            position,
            id: record.get("id").cloned().unwrap_or(Value::Null),
            hash: record_hash(record),
        }
    }

    fn to_json(&self) -> Value {
        json!({"position": self.position, "id": self.id, "hash": self.hash})
    }

    fn from_json(v: &Value) -> Option<Anchor> {
        Some(Anchor {
            position: v["position"].as_u64()?,
            id: v["id"].clone(),
            hash: v["hash"].as_str()?.to_owned(),
        })
    }
}

struct Checkpoint {
    offset: u64,
    records: u64,
    bytes: u64,
    /// CSV: every column so far, in the order first seen.
    columns: Vec<String>,
    /// CSV: the columns of the header line as written; rows written after a
    /// new field appeared are wider, until the file is widened at the end.
    header_width: usize,
    /// The `--since` time the export started with.
    since_at: Option<i64>,
    anchor: Option<Anchor>,
    /// The `total_count` of the export's first page (in any run of it).
    first_total: Option<u64>,
    /// The latest `total_count` that differed from the first, if any did.
    moved_total: Option<u64>,
    /// The latest `total_count`.
    last_total: Option<u64>,
    /// Records dropped because they repeated the previous page.
    repeats_dropped: u64,
    /// Every page is in the file (with the JSON trailer): only the checks and
    /// the rename are left, which `--resume --allow-drift` does without fetching.
    complete: bool,
}

impl Checkpoint {
    fn start(since_at: Option<i64>) -> Self {
        Checkpoint {
            offset: 0,
            records: 0,
            bytes: 0,
            columns: Vec::new(),
            header_width: 0,
            since_at,
            anchor: None,
            first_total: None,
            moved_total: None,
            last_total: None,
            repeats_dropped: 0,
            complete: false,
        }
    }

    /// Notes a page's `total_count` (offset paging: in keyset paging the count is
    /// of what remains, and shrinks by design).
    fn saw_total(&mut self, total: Option<u64>) {
        let Some(t) = total else { return };
        match self.first_total {
            None => self.first_total = Some(t),
            Some(first) if first != t => self.moved_total = Some(t),
            Some(_) => {}
        }
        self.last_total = Some(t);
    }

    /// What changed under the export, in words, if anything did.
    fn changes(&self) -> Option<String> {
        let mut what = Vec::new();
        if let (Some(first), Some(moved)) = (self.first_total, self.moved_total) {
            let last = self.last_total.unwrap_or(moved);
            let mut s = format!(
                "the server's total_count changed while exporting: {first} on the first page"
            );
            if last != moved {
                s.push_str(&format!(", {moved} later"));
            }
            s.push_str(&format!(", {last} on the last (records were added or deleted, and offset paging may have skipped or repeated some)"));
            what.push(s);
        }
        if self.repeats_dropped > 0 {
            what.push(format!(
                "{} records repeated the previous page and were dropped (records were added before them)",
                self.repeats_dropped
            ));
        }
        (!what.is_empty()).then(|| what.join("; "))
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

/// The UTF-8 byte order mark `--bom` starts a CSV file with, so that a
/// spreadsheet reads it as UTF-8.
const BOM: &[u8] = "\u{feff}".as_bytes();

/// The CSV cell convention of this version (empty string quoted, null empty). A
/// `.part` file of an earlier version wrote both as an empty cell: resuming it
/// would mix the two in one file.
const CSV_CELLS: u64 = 2;

impl ExportJob {
    fn identity(&self) -> Value {
        let mut id = json!({"obj": self.obj, "action": self.action, "params": self.params,
               "filter": self.filter, "format": self.format.name(), "page_size": self.page_size});
        // Only when set, so checkpoints of earlier versions still resume; a resumed
        // file must not mix neutralised and raw cells.
        if self.format == Format::Csv && self.csv_raw_formulas {
            id["csv_raw_formulas"] = Value::Bool(true);
        }
        if self.format == Format::Csv {
            id["csv_cells"] = CSV_CELLS.into();
            // Only when not the default, so checkpoints of earlier versions resume;
            // a resumed file must not mix delimiters or time forms.
            if self.csv.delimiter != ',' {
                id["csv_delimiter"] = self.csv.delimiter.to_string().into();
            }
            if self.csv.bom {
                id["csv_bom"] = Value::Bool(true);
            }
            if let Some(zone) = &self.csv.zone {
                id["csv_time_zone"] = zone.name().into();
            }
        }
        // Offset and id paging continue from different places.
        if self.consistent {
            id["consistent"] = Value::Bool(true);
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
        let ours = self.identity();
        if v["job"] != ours || self.since.is_some() != since_at.is_some() {
            let mut older = ours.clone();
            if let Some(m) = older.as_object_mut() {
                m.remove("csv_cells");
            }
            if v["job"] == older {
                return Err(Failure::local(format!(
                    "{} was written by an earlier runtel, whose CSV wrote an empty string \
                     and a missing value alike; export again without --resume",
                    state.display()
                )));
            }
            return Err(Failure::local(format!(
                "{} belongs to another export (object, params, filter, --since, format, \
                 page size or --consistent differ)",
                state.display()
            )));
        }
        let columns: Vec<String> = serde_json::from_value(v["columns"].clone()).unwrap_or_default();
        Ok(Checkpoint {
            offset: v["offset"].as_u64().unwrap_or(0),
            records: v["records"].as_u64().unwrap_or(0),
            bytes: v["bytes"].as_u64().unwrap_or(0),
            header_width: v["header_width"]
                .as_u64()
                .map_or(columns.len(), |w| w as usize),
            columns,
            since_at,
            anchor: Anchor::from_json(&v["anchor"]),
            first_total: v["first_total"].as_u64(),
            moved_total: v["moved_total"].as_u64(),
            last_total: v["last_total"].as_u64(),
            repeats_dropped: v["repeats_dropped"].as_u64().unwrap_or(0),
            complete: v["complete"].as_bool().unwrap_or(false),
        })
    }

    fn save_checkpoint(&self, part: &Path, c: &Checkpoint) -> Result<()> {
        let state = state_path(part);
        let mut v = json!({"job": self.identity(), "offset": c.offset, "records": c.records,
                           "bytes": c.bytes, "columns": c.columns,
                           "header_width": c.header_width,
                           "anchor": c.anchor.as_ref().map(Anchor::to_json),
                           "first_total": c.first_total, "moved_total": c.moved_total,
                           "last_total": c.last_total, "repeats_dropped": c.repeats_dropped,
                           "complete": c.complete});
        if let Some(at) = c.since_at {
            v["since_at"] = at.into();
        }
        files::write_atomic_private(&state, v.to_string().as_bytes())
    }

    /// Before an offset-paged export continues: the record the checkpoint ended
    /// on must still be at its position, else records were added or deleted
    /// before it and continuing from the offset would skip or repeat records.
    fn check_anchor(
        &self,
        client: &Client,
        filter: &Value,
        cp: &Checkpoint,
        part: &Path,
    ) -> Result<()> {
        let Some(anchor) = &cp.anchor else {
            terminal::note(&format!(
                "runtel: warning: {} was written by an earlier runtel and does not name its \
                 last record, so whether records changed since cannot be checked",
                state_path(part).display()
            ));
            return Ok(());
        };
        let call = Call::new(&self.obj, &self.action, self.params.clone())?
            .filter(filter.clone())?
            .limit(1)
            .offset(anchor.position);
        let response = client.call_with(&call)?;
        terminal::notices(response.notifies());
        let now = response.into_records().into_iter().next();
        let shown_id = |v: &Value| match v {
            Value::Null => "a record without an id".to_owned(),
            other => format!("id {}", terminal::inert(&other.to_string())),
        };
        let found = match &now {
            None => "there is no record there now (records were deleted)".to_owned(),
            Some(rec) => {
                let id = rec.get("id").cloned().unwrap_or(Value::Null);
                let same_id = !anchor.id.is_null() && same_id(&id, &anchor.id);
                let same_hash = record_hash(rec) == anchor.hash;
                if same_id || (anchor.id.is_null() && same_hash) {
                    if !same_hash {
                        terminal::note(&format!(
                            "runtel: warning: record {} was changed on the server after it \
                             was written; the file keeps it as it was then",
                            shown_id(&anchor.id)
                        ));
                    }
                    return Ok(());
                }
                format!("it is now {}", shown_id(&id))
            }
        };
        Err(Failure::Changed(format!(
            "cannot resume: the records changed since {} was written: record {} of the list \
             was {}, and {found}; continuing from the checkpoint's offset would skip or repeat \
             records. Export again without --resume (--consistent pages by id, which such \
             changes do not disturb)",
            part.display(),
            anchor.position + 1,
            shown_id(&anchor.id),
        )))
    }

    /// Runs the export with `client`.
    pub fn run(&self, client: &Client) -> Result<ExportSummary> {
        if self.resume && self.output.is_none() {
            return Err(Failure::local("--resume needs -o FILE"));
        }
        let since_now = self.since.as_ref().map(|s| s.at);
        let (part, mut cp) = match &self.output {
            None => (None, Checkpoint::start(since_now)),
            Some(out) => {
                let part = part_path(out);
                let cp = if self.resume {
                    self.load_checkpoint(&part)?
                } else {
                    Checkpoint::start(since_now)
                };
                (Some(part), cp)
            }
        };
        let resumed_from = cp.records;
        // Columns a CSV on stdout could not take (its header is gone already).
        let mut left_out: Vec<String> = Vec::new();
        if !cp.complete {
            self.fetch_all(client, part.as_deref(), &mut cp, &mut left_out)?;
        }
        self.finish(part.as_deref(), &cp, &left_out)?;
        Ok(ExportSummary {
            records: cp.records,
            resumed_from,
        })
    }

    /// Fetches every page (from the checkpoint on) and writes it.
    fn fetch_all(
        &self,
        client: &Client,
        part: Option<&Path>,
        cp: &mut Checkpoint,
        left_out: &mut Vec<String>,
    ) -> Result<()> {
        let mut sink = match part {
            None => Sink::Stdout(BufWriter::new(std::io::stdout().lock())),
            Some(part) if self.resume => {
                let mut f = files::reopen_output(part)?;
                f.set_len(cp.bytes).map_err(io(part))?;
                f.seek(SeekFrom::End(0)).map_err(io(part))?;
                Sink::file(f, cp.bytes)
            }
            Some(part) => Sink::file(files::create_output(part)?, 0),
        };
        let fail = |e: std::io::Error| match part {
            Some(path) => Failure::local(format!("{}: {e}", path.display())),
            // A reader that closed stdout (`| head`) ends the export quietly.
            None => terminal::stdout_error(e),
        };
        let filter = match cp.since_at {
            Some(at) => crate::params::with_since(self.filter.clone(), at)?,
            None => self.filter.clone(),
        };
        let records = client
            .records(&self.obj, self.params.clone(), self.page_size)?
            .action(&self.action)?;
        let mut records = if self.consistent {
            // Resuming by id: after the last one written, whatever changed since.
            let filter = match (&cp.anchor, cp.records) {
                (_, 0) => filter,
                (Some(anchor), _) if anchor.id.is_i64() || anchor.id.is_u64() => {
                    crate::params::with_condition(
                        "--consistent --resume (id > the last id written)",
                        filter,
                        json!({"field": "id", "condition_type": 4, "value": anchor.id}),
                    )?
                }
                _ => {
                    return Err(Failure::local(format!(
                        "{} does not name the id of its last record; export again without \
                         --resume",
                        part.map(state_path).unwrap_or_default().display()
                    )))
                }
            };
            records.filter(filter)?.consistent()?
        } else {
            if let (Some(part), true) = (part, cp.records > 0) {
                self.check_anchor(client, &filter, cp, part)?;
            }
            records.filter(filter)?.starting_at(cp.offset)
        };
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
        // In id paging the count is of the records past the start.
        let start_offset = if self.consistent { 0 } else { cp.offset };
        let mut bar_length = BarLength::new(cp.records, start_offset);
        let repeats_before = cp.repeats_dropped;
        let mut page: Vec<Value> = Vec::new();
        let mut wrote_header = cp.records > 0 || cp.bytes > 0;
        loop {
            let next = records.next();
            let finished = next.is_none();
            if let Some(r) = next {
                match r {
                    Ok(rec) => page.push(rec),
                    Err(e) => {
                        bar.finish_and_clear();
                        return Err(e.into());
                    }
                }
                if records.buffered() > 0 {
                    continue;
                }
            }
            // A page boundary (or the end): write the page, then checkpoint.
            terminal::notices(records.notifies());
            if let Some(len) =
                bar_length.after_page(records.total_count(), cp.records + page.len() as u64)
            {
                bar.set_length(len);
            }
            if !self.consistent {
                cp.saw_total(records.total_count());
            }
            if let Some(last) = page.last() {
                cp.anchor = Some(Anchor::of(records.position().saturating_sub(1), last));
            }
            if !wrote_header {
                if self.format == Format::Csv {
                    for rec in &page {
                        add_columns(&mut cp.columns, rec);
                    }
                    cp.header_width = cp.columns.len();
                    if self.csv.bom {
                        sink.write_all(BOM).map_err(&fail)?;
                    }
                    write_csv_row(
                        &mut sink,
                        cp.columns.iter().map(|c| Some(Value::String(c.clone()))),
                        self.csv_raw_formulas,
                        self.csv.delimiter,
                    )
                    .map_err(&fail)?;
                } else if self.format == Format::Json {
                    sink.write_all(b"[").map_err(&fail)?;
                }
                wrote_header = true;
            }
            for rec in page.drain(..) {
                match self.format {
                    // The record as it came: a number or a string is a record too.
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
                        let rec = self.csv.times(&self.obj, csv_record(rec));
                        if part.is_some() {
                            // New fields become new last columns; the file is
                            // widened at the end.
                            add_columns(&mut cp.columns, &Value::Object(rec.clone()));
                        } else {
                            for k in rec.keys() {
                                if !cp.columns.contains(k) && !left_out.contains(k) {
                                    left_out.push(k.clone());
                                }
                            }
                        }
                        write_csv_row(
                            &mut sink,
                            cp.columns.iter().map(|c| rec.get(c).cloned()),
                            self.csv_raw_formulas,
                            self.csv.delimiter,
                        )
                        .map_err(&fail)?;
                    }
                }
                cp.records += 1;
            }
            bar.set_position(cp.records);
            sink.flush().map_err(&fail)?;
            cp.repeats_dropped = repeats_before + records.duplicates_dropped();
            if let (Some(part), Some(bytes)) = (part, sink.bytes()) {
                cp.offset = records.position();
                cp.bytes = bytes;
                self.save_checkpoint(part, cp)?;
            }
            if finished {
                break;
            }
        }
        bar.finish_and_clear();
        if let Some(missing) = records.shortfall() {
            // The server announced more than it delivered: a file that looks
            // complete must not appear. The `.part` file keeps what arrived.
            let kept = part.map_or(String::new(), |p| {
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
        cp.complete = true;
        if let (Some(part), Some(bytes)) = (part, sink.bytes()) {
            cp.bytes = bytes;
            self.save_checkpoint(part, cp)?;
        }
        Ok(())
    }

    /// Every page is written: checks what changed meanwhile, widens a CSV file
    /// whose later pages brought new fields, and renames `.part` to the output.
    fn finish(&self, part: Option<&Path>, cp: &Checkpoint, left_out: &[String]) -> Result<()> {
        if let Some(changes) = cp.changes() {
            if self.allow_drift {
                terminal::note(&format!(
                    "runtel: warning: {changes}; finished anyway (--allow-drift)"
                ));
            } else {
                let kept = match (part, &self.output) {
                    (Some(part), Some(out)) => format!(
                        "; the records as exported are in {} (not renamed to {}): run the same \
                         command with --resume --allow-drift to keep them as they are, or \
                         export again with --consistent",
                        part.display(),
                        out.display()
                    ),
                    _ => "; export again with --consistent, or accept it with --allow-drift"
                        .to_owned(),
                };
                return Err(Failure::Changed(format!("{changes}{kept}")));
            }
        }
        if !left_out.is_empty() {
            return Err(Failure::local(format!(
                "CSV on standard output cannot widen its header, which went out with the first \
                 page: fields first seen later were left out: {}; use -o FILE (the file's header \
                 is widened) or --format jsonl",
                terminal::inert(&left_out.join(", "))
            )));
        }
        let (Some(part), Some(out)) = (part, &self.output) else {
            return Ok(());
        };
        if self.format == Format::Csv && cp.columns.len() > cp.header_width {
            widen_csv(part, out, &cp.columns, self.csv_raw_formulas, &self.csv)?;
            terminal::note(&format!(
                "runtel: note: fields first seen after the first page became new columns: {} \
                 (empty in the rows before they appeared)",
                terminal::inert(&cp.columns[cp.header_width..].join(", "))
            ));
        } else {
            File::open(part)
                .and_then(|f| f.sync_all())
                .map_err(io(part))?;
            std::fs::rename(part, out).map_err(io(out))?;
        }
        let _ = std::fs::remove_file(state_path(part));
        Ok(())
    }
}

/// A record as CSV columns: an object as it is, anything else (a bare number or
/// string) in a column named `value`.
fn csv_record(rec: Value) -> Map<String, Value> {
    match rec {
        Value::Object(m) => m,
        other => {
            let mut m = Map::new();
            m.insert("value".into(), other);
            m
        }
    }
}

fn add_columns(columns: &mut Vec<String>, rec: &Value) {
    let keys: Vec<String> = match rec {
        Value::Object(m) => m.keys().cloned().collect(),
        _ => vec!["value".to_owned()],
    };
    for k in keys {
        if !columns.contains(&k) {
            columns.push(k);
        }
    }
}

/// Two ids are the same whether sent as a number or as its digits.
fn same_id(a: &Value, b: &Value) -> bool {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text(a) == text(b)
}

/// A stable hash of a record (FNV-1a 64 over its JSON with keys sorted), kept in
/// checkpoints: the same on every run and version, whatever order the server
/// sends the fields in.
fn record_hash(v: &Value) -> String {
    fn canonical(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    canonical(&m[k], out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical(x, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    canonical(v, &mut text);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Rewrites a CSV `.part` file into `out` with the header of every column,
/// padding each row with empty cells to the full width; rows keep their order
/// and bytes. Streamed: memory stays bounded by the buffers, whatever the size.
fn widen_csv(
    part: &Path,
    out: &Path,
    columns: &[String],
    raw_formulas: bool,
    style: &crate::output::Csv,
) -> Result<()> {
    let mut wide_name = part.as_os_str().to_owned();
    wide_name.push(".wide");
    let wide = PathBuf::from(wide_name);
    let input = File::open(part).map_err(io(part))?;
    let mut w = BufWriter::with_capacity(256 * 1024, files::create_output(&wide)?);
    if style.bom {
        w.write_all(BOM).map_err(io(&wide))?;
    }
    write_csv_row(
        &mut w,
        columns.iter().map(|c| Some(Value::String(c.clone()))),
        raw_formulas,
        style.delimiter,
    )
    .map_err(io(&wide))?;
    pad_rows(
        std::io::BufReader::with_capacity(256 * 1024, input),
        &mut w,
        columns.len(),
        style.delimiter as u8,
    )
    .map_err(io(&wide))?;
    w.flush().map_err(io(&wide))?;
    let file = w.into_inner().map_err(|e| io(&wide)(e.into_error()))?;
    file.sync_all().map_err(io(&wide))?;
    drop(file);
    std::fs::rename(&wide, out).map_err(io(out))?;
    std::fs::remove_file(part).map_err(io(part))
}

/// Copies this tool's CSV rows, skipping the first (the old header) and
/// appending empty cells to each row until it has `width` cells. A row ends at
/// a line feed outside quotes; a carriage return outside quotes only ever comes
/// before it (cells holding one are quoted).
fn pad_rows<R: std::io::BufRead, W: Write>(
    mut r: R,
    w: &mut W,
    width: usize,
    delimiter: u8,
) -> std::io::Result<()> {
    let mut in_quotes = false;
    let mut header = true;
    let mut cells = 1usize;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        let mut from = 0;
        for (i, &b) in buf.iter().enumerate() {
            if in_quotes {
                in_quotes = b != b'"';
                continue;
            }
            match b {
                b'"' => in_quotes = true,
                b if b == delimiter => cells += 1,
                b'\r' | b'\n' => {
                    if !header {
                        w.write_all(&buf[from..i])?;
                    }
                    if b == b'\n' {
                        if !header {
                            for _ in cells..width {
                                w.write_all(&[delimiter])?;
                            }
                            w.write_all(b"\r\n")?;
                        }
                        header = false;
                        cells = 1;
                    }
                    from = i + 1;
                }
                _ => {}
            }
        }
        if !header {
            w.write_all(&buf[from..])?;
        }
        let n = buf.len();
        r.consume(n);
    }
}

/// One CSV row. `None` (a field the record lacks) and `null` are an empty cell;
/// the empty string is a quoted empty cell (`""`), so a reader can tell a value
/// that is empty from one that is not there.
///
/// Cells holding the `delimiter`, a quote or a line break are quoted.
pub fn write_csv_row<W: Write + ?Sized>(
    w: &mut W,
    cells: impl Iterator<Item = Option<Value>>,
    raw_formulas: bool,
    delimiter: char,
) -> std::io::Result<()> {
    let mut line = String::new();
    for (i, v) in cells.enumerate() {
        if i > 0 {
            line.push(delimiter);
        }
        let mut text = match v {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) if s.is_empty() => {
                line.push_str("\"\"");
                continue;
            }
            Some(Value::String(s)) => s,
            Some(Value::Bool(b)) => b.to_string(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => other.to_string(),
        };
        if !raw_formulas {
            neutralise_formula(&mut text);
        }
        if text.contains([delimiter, '"', '\n', '\r']) {
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
    use super::{neutralise_formula, pad_rows, record_hash, BarLength};
    use serde_json::json;

    #[test]
    fn rows_are_padded_to_the_width_and_the_old_header_dropped() {
        let part = "id,a\r\n1,\"x,\r\ny\"\r\n2,\"\"\"\"\r\n3,,z\r\n,\r\n";
        // Any buffer size: a row or a quoted cell may straddle two reads.
        for cap in [1, 2, 3, 7, 64] {
            let mut out = Vec::new();
            let r = std::io::BufReader::with_capacity(cap, part.as_bytes());
            pad_rows(r, &mut out, 3, b',').unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                "1,\"x,\r\ny\",\r\n2,\"\"\"\",\r\n3,,z\r\n,,\r\n",
                "buffer of {cap}"
            );
        }
    }

    #[test]
    fn record_hashes_ignore_field_order_and_see_every_value() {
        let a = json!({"id": 1, "src": "100", "n": {"x": [1, 2], "y": null}});
        let b = json!({"n": {"y": null, "x": [1, 2]}, "src": "100", "id": 1});
        assert_eq!(record_hash(&a), record_hash(&b));
        assert_eq!(record_hash(&a).len(), 16);
        for other in [
            json!({"id": 1, "src": "101", "n": {"x": [1, 2], "y": null}}),
            json!({"id": 1, "src": "100", "n": {"x": [2, 1], "y": null}}),
            json!({"id": "1", "src": "100", "n": {"x": [1, 2], "y": null}}),
        ] {
            assert_ne!(record_hash(&a), record_hash(&other), "{other}");
        }
        // Fixed across runs and versions: checkpoints keep it.
        assert_eq!(
            record_hash(&json!({})),
            "08f44b07b5901a25",
            "FNV-1a 64 of {{}}"
        );
    }

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
