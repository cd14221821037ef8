//! `runtel sync`: objects into SQLite or PostgreSQL, incrementally, through
//! `runtel-sync` (all the logic is there; this is flags, signals, a progress bar
//! and log lines).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use indicatif::{ProgressBar, ProgressStyle};
use runtel_client::Filter;
use runtel_sync::{Database, Domains, Observer, PageReport, Summary, SyncOptions, Syncer};
use serde_json::{json, Value};

use crate::connect::Connection;
use crate::failure::{Failure, Result};
use crate::settings::{ConnectionArgs, Settings};
use crate::terminal;

/// How `runtel sync` writes its log lines (stderr).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `runtel: sync: ...` lines for people.
    Text,
    /// One JSON object a line, for services.
    Json,
}

/// The flags of `runtel sync` (`Debug` masks the password of `--to`).
#[derive(clap::Args)]
pub struct SyncArgs {
    /// Objects to copy, e.g. DomainCDR DomainQueueCDR (`runtel objects` lists them).
    #[arg(required = true, value_parser = crate::CatalogNames(crate::object_names), hide_possible_values = true)]
    objects: Vec<String>,
    /// The database: a SQLite file (created if missing), or
    /// postgres://USER@HOST[:PORT]/DB (no TLS). Keep the password out of the
    /// command line, where other users can see it: PGPASSWORD, or the whole URL in
    /// RUNTEL_SYNC_TO.
    #[arg(long, value_name = "FILE|URL", env = "RUNTEL_SYNC_TO")]
    to: String,
    /// Log objects, first run only: start at TIME (Unix seconds,
    /// YYYY-MM-DD[THH:MM:SS] UTC, or N[smhd] ago) instead of the beginning.
    #[arg(long, allow_hyphen_values = true)]
    since: Option<String>,
    /// Log objects: each run starts this long before the newest record already
    /// synced, so records written late are picked up (N[smhd]).
    #[arg(
        long,
        default_value = "1h",
        value_name = "DURATION",
        allow_hyphen_values = true
    )]
    overlap: String,
    /// Platform operators: the PBX to sync (an id, several as 1,2,5, or all).
    #[arg(long, value_name = "ID|all")]
    domain: Option<String>,
    /// Only records where COND holds (FIELD OP VALUE, as on `call` and `export`).
    /// Repeatable; joined with AND.
    #[arg(long = "where", value_name = "COND")]
    where_: Vec<String>,
    /// Keep syncing: a run every --every until SIGINT or SIGTERM (the page being
    /// fetched is committed first); failed runs are retried with backoff.
    #[arg(long)]
    follow: bool,
    /// With --follow: time between the starts of runs (N[smhd]).
    #[arg(
        long,
        default_value = "60s",
        value_name = "DURATION",
        requires = "follow"
    )]
    every: String,
    /// Records per request.
    #[arg(long, default_value_t = 5000)]
    page_size: u64,
    /// Log lines on stderr: text, or json (one object a line) for services.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
}

impl std::fmt::Debug for SyncArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncArgs")
            .field("objects", &self.objects)
            .field("to", &runtel_sync::redact_target(&self.to))
            .field("since", &self.since)
            .field("domain", &self.domain)
            .field("follow", &self.follow)
            .finish_non_exhaustive()
    }
}

/// Set by SIGINT/SIGTERM: stop after the page being fetched.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // A second signal means "now": every committed page is safe, so exiting
    // mid-page loses nothing (the page is fetched again next time).
    if STOP.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(130) };
    }
}

/// SIGINT and SIGTERM set [`STOP`] instead of killing the process.
fn catch_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only touches an atomic and calls _exit, both
        // async-signal-safe; the sigaction struct is zeroed then filled.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// `N[smhd]` (a bare number is seconds) as a duration, more than 0 and at most
/// 30 days.
fn duration(flag: &str, text: &str) -> Result<Duration> {
    let t = text.trim();
    let (num, mult) = match t.chars().last() {
        Some('s') => (&t[..t.len() - 1], 1),
        Some('m') => (&t[..t.len() - 1], 60),
        Some('h') => (&t[..t.len() - 1], 3600),
        Some('d') => (&t[..t.len() - 1], 86_400),
        _ => (t, 1),
    };
    match num.parse::<u64>().ok().and_then(|n| n.checked_mul(mult)) {
        Some(secs) if secs > 0 && secs <= 30 * 86_400 => Ok(Duration::from_secs(secs)),
        _ => Err(crate::invalid(format!(
            "{flag} {}: give N[smhd] (more than 0, at most 30d), e.g. 60s, 5m, 1h",
            terminal::inert(t)
        ))),
    }
}

fn domains(text: Option<&str>) -> Result<Domains> {
    let Some(t) = text.map(str::trim) else {
        return Ok(Domains::Own);
    };
    if t.eq_ignore_ascii_case("all") {
        return Ok(Domains::All);
    }
    t.split(',')
        .map(|s| s.trim().parse::<i64>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map(Domains::Ids)
        .map_err(|_| {
            crate::invalid(format!(
                "--domain {}: give a PBX id, ids as 1,2,5, or all",
                terminal::inert(t)
            ))
        })
}

fn failure(e: runtel_sync::Error) -> Failure {
    match e {
        runtel_sync::Error::Client(e) => Failure::Sdk(e),
        runtel_sync::Error::InvalidInput(m) => crate::invalid(m),
        e @ (runtel_sync::Error::Database(_) | runtel_sync::Error::Schema(_)) => {
            Failure::local(e.to_string())
        }
    }
}

/// Progress bar on a terminal, log lines on stderr.
struct Report {
    format: LogFormat,
    bar: ProgressBar,
    runs: u64,
}

impl Report {
    fn log(&self, event: &str, text: String, fields: Value) {
        self.bar.suspend(|| match self.format {
            LogFormat::Text => terminal::note(&format!("runtel: sync: {}", terminal::inert(&text))),
            LogFormat::Json => {
                let mut v = json!({"event": event, "time": now()});
                if let (Value::Object(m), Value::Object(f)) = (&mut v, fields) {
                    m.extend(f);
                }
                terminal::note(&v.to_string());
            }
        });
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Observer for Report {
    fn start(&mut self, object: &str, domain: &str, resumed: bool) {
        self.bar.reset();
        self.bar.set_length(0);
        self.bar.set_message(format!("{object} ({domain})"));
        if resumed {
            self.log(
                "resume",
                format!("{object} ({domain}): continuing an interrupted run"),
                json!({"object": object, "domain": domain}),
            );
        }
    }

    fn page(&mut self, p: &PageReport<'_>) {
        if let Some(left) = p.left {
            self.bar.set_length(p.done + left);
        }
        self.bar.set_position(p.done);
    }

    fn notices(&mut self, items: &[Value]) {
        self.bar.suspend(|| terminal::notices(items));
    }

    fn run(&mut self, s: &Summary) {
        self.runs += 1;
        self.bar.finish_and_clear();
        let objects: Vec<String> = s
            .objects
            .iter()
            .map(|o| format!("{} {}", o.object, o.domain))
            .collect();
        let stopped = if s.stopped { ", stopped" } else { "" };
        let mut fields = s.to_json();
        fields["run"] = self.runs.into();
        self.log(
            "run",
            format!("{}{stopped} ({})", s.line(), objects.join(", ")),
            fields,
        );
    }

    fn retry(&mut self, e: &runtel_sync::Error, wait: Duration) {
        self.bar.finish_and_clear();
        let line = failure_text(e);
        self.log(
            "retry",
            format!("{line}; retrying in {} s", wait.as_secs()),
            json!({"error": line, "retry_in": wait.as_secs()}),
        );
    }
}

fn failure_text(e: &runtel_sync::Error) -> String {
    match e {
        runtel_sync::Error::Client(c) => format!("{}: {}", c.kind(), c.detail()),
        other => other.to_string(),
    }
}

/// Runs `runtel sync`.
pub fn run(args: SyncArgs, conn_args: &ConnectionArgs) -> Result<()> {
    let overlap = duration("--overlap", &args.overlap)?;
    let every = duration("--every", &args.every)?;
    let domains = domains(args.domain.as_deref())?;
    let since = args
        .since
        .as_deref()
        .map(|t| crate::params::since(t, now() as i64))
        .transpose()?;
    let filter = match args.where_.is_empty() {
        true => None,
        // One object's date rules: with several objects, the first's.
        false => Some(
            Filter::from_json(&crate::filter::from_where(
                &args.objects[0],
                &args.where_,
                false,
            )?)
            .map_err(Failure::Sdk)?,
        ),
    };
    let options = SyncOptions {
        page_size: args.page_size,
        since,
        overlap,
        domains,
        filter,
    };
    let mut settings = Settings::resolve(conn_args)?;
    // The database first: a wrong URL or password fails before any login.
    let db = Database::open(&args.to).map_err(failure)?;
    crate::prepare_cache()?;
    settings.warn_if_plain_http();
    let conn = Connection::open(&mut settings)?;
    let names: Vec<&str> = args.objects.iter().map(String::as_str).collect();
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg} {pos}/{len} records  {per_sec}  ETA {eta}  {wide_bar}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut report = Report {
        format: args.log_format,
        bar,
        runs: 0,
    };
    catch_signals();
    let result = Syncer::new(&conn.client, db, &names, options).and_then(|mut s| {
        if args.follow {
            s.follow(every, &mut report, &STOP)
        } else {
            s.run_once(&mut report, &STOP).map(drop)
        }
    });
    report.bar.finish_and_clear();
    conn.finish()?;
    result.map_err(failure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Wrap {
        #[command(flatten)]
        args: SyncArgs,
    }

    #[test]
    fn debug_never_shows_the_database_password() {
        let w =
            Wrap::try_parse_from(["x", "DomainCDR", "--to", "postgres://u:hunter2@h/db"]).unwrap();
        let shown = format!("{w:?}");
        assert!(shown.contains("postgres://u:***@h/db"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn durations_and_domains_are_checked() {
        assert_eq!(duration("--every", "5m").unwrap(), Duration::from_secs(300));
        assert_eq!(duration("--every", "90").unwrap(), Duration::from_secs(90));
        for bad in ["0s", "-1m", "31d", "x", "1.5h"] {
            assert!(duration("--every", bad).is_err(), "{bad}");
        }
        assert_eq!(domains(Some("1, 2")).unwrap(), Domains::Ids(vec![1, 2]));
        assert_eq!(domains(Some("ALL")).unwrap(), Domains::All);
        assert_eq!(domains(None).unwrap(), Domains::Own);
        assert!(domains(Some("1,x")).is_err());
    }
}
