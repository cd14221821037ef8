//! Diagnostics on stderr: the SDK's log records (`-v`, `RUNTEL_LOG`) and each
//! HTTP exchange of a call (`--debug-http`), never with a secret.
//!
//! Secrets are kept out three ways: records that may carry raw wire bytes
//! (ureq's protocol dumps, see [`runtel_client::log_record_may_hold_secrets`])
//! are dropped; every text shown passes through a [`Redactor`] holding the
//! password and token of this invocation as soon as the tool knows them
//! ([`add_secret`]); and a `Bearer` credential in any text is masked whatever
//! it is. Exchanges come from the client's observer already masked
//! ([`runtel_client::Exchange::describe`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use log::{Level, LevelFilter, Log, Metadata, Record};
use runtel_client::{Exchange, Redactor};

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
    DEBUG_HTTP.store(debug_http, Ordering::Relaxed);
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

/// Whether `--debug-http` was given (set once by [`init`]).
static DEBUG_HTTP: AtomicBool = AtomicBool::new(false);

/// The client's exchange observer under `--debug-http`, `None` otherwise.
pub fn exchange_observer() -> Option<impl Fn(&Exchange<'_>) + Send + Sync + 'static> {
    DEBUG_HTTP.load(Ordering::Relaxed).then_some(show_exchange)
}

/// Shows one exchange on stderr: the request as sent (token and password
/// masked), then the answer's status and body (every known secret and any
/// token in it masked), each body cut at [`BODY_BOUND`]. Logins, retries, the
/// replay after a new login and every page of an export or sync are shown,
/// each with its own `action_id`.
fn show_exchange(exchange: &Exchange<'_>) {
    for line in scrub(&exchange.describe(BODY_BOUND)).lines() {
        terminal::note(&terminal::inert(line));
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
}
