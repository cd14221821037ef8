//! `runtel`: the command-line tool for the Runtel PBX API v2.

mod connect;
mod demo;
mod export;
mod failure;
mod files;
mod params;
mod session_cache;
mod settings;
mod status;
mod terminal;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::SystemTime;

use clap::{Parser, Subcommand};
use runtel_client::{Call, Endpoint, Secret};
use serde_json::Value;

use connect::Connection;
use failure::{Failure, Result, EXIT_CODES};
use settings::{ConnectionArgs, Settings};

/// Script a Runtel PBX from the shell: log in once, call any action, export call history.
///
/// Settings come from flags, then RUNTEL_URL / RUNTEL_LOGIN / RUNTEL_PASSWORD, then the
/// profile in ~/.config/runtel/config.toml, then the profile's cached session, which
/// remembers the server and login of its last `runtel login`. Sessions are cached per
/// profile in ~/.cache/runtel (files 0600 in a directory 0700 that must be yours and
/// closed to others), so a loop of invocations logs in once. The count of failed
/// logins is kept there per server (scheme, address and port), as the server's
/// Defender counts per host: every profile and URL spelling of one server shares it.
/// An http:// URL to another machine gets a warning (the password would cross the
/// network in clear) unless the profile says allow_plain_http = true or
/// RUNTEL_ALLOW_PLAIN_HTTP=1.
///
/// Text from the server (error messages, role names) is shown with control
/// characters escaped (ESC as \x1b); JSON output is left to JSON's own escaping.
#[derive(Parser, Debug)]
#[command(name = "runtel", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(flatten)]
    conn: ConnectionArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Walk through login, users, create/update/delete, CDR export and logout on a
    /// built-in simulator. Needs no network and no settings.
    Demo {
        /// CDRs to seed and export.
        #[arg(long, default_value_t = 5000)]
        cdrs: u64,
    },
    /// Log in and cache the session token, server and login for this profile.
    Login {
        /// Print the auth request (password masked) instead of sending it.
        #[arg(long, conflicts_with = "reset_guard")]
        dry_run: bool,
        /// Clear runtel's count of failed logins for this server, and its lock-out,
        /// then exit without logging in. A login in progress in another process
        /// finishes first (waiting up to --timeout). The server's Defender keeps its
        /// own count and may still block this host.
        #[arg(long)]
        reset_guard: bool,
    },
    /// End the cached session on the server and forget it.
    Logout,
    /// Show the profile, its server, the cached session and the server's login guard
    /// (sends nothing). Exit code 0 only with an unexpired cached session.
    Status,
    /// Call one action and print the answer envelope.
    #[command(after_help = CALL_HELP)]
    Call {
        /// Object name, e.g. User, DomainCDR.
        obj: String,
        /// Action, e.g. list, get, append, update, delete.
        action: String,
        /// Params as key=value (a string) or key:=JSON words; limit, offset and
        /// filter words go to the top level (see below).
        #[arg(value_name = "KEY=VALUE|KEY:=JSON")]
        words: Vec<String>,
        /// Params as JSON, @file or @- (stdin); words are added to them.
        #[arg(long, value_name = "JSON|@FILE")]
        params: Option<String>,
        /// Top-level limit (list calls); the same as a limit=N word.
        #[arg(long)]
        limit: Option<u64>,
        /// Top-level offset (list calls); the same as an offset=N word.
        #[arg(long)]
        offset: Option<u64>,
        /// Top-level filter as JSON or @file; the same as a filter:=JSON word.
        #[arg(long, value_name = "JSON|@FILE")]
        filter: Option<String>,
        /// Print the exact request (token and password masked) and send nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Export every record of an object, page by page, to a file or stdout.
    #[command(after_help = EXPORT_HELP)]
    Export {
        /// Object name, e.g. DomainCDR.
        obj: String,
        /// Params as key=value (a string) or key:=JSON words, as for `call`; a
        /// filter word joins the filter, as --filter does.
        #[arg(value_name = "KEY=VALUE|KEY:=JSON")]
        words: Vec<String>,
        /// Params as JSON, @file or @-.
        #[arg(long, value_name = "JSON|@FILE")]
        params: Option<String>,
        /// Only records with dt >= TIME: Unix seconds, YYYY-MM-DD[THH:MM:SS] (UTC) or
        /// N[smhd] ago. A time ago is read once, when the export starts; --resume
        /// keeps that time, so give the same --since again.
        #[arg(long, allow_hyphen_values = true)]
        since: Option<String>,
        /// Extra filter as JSON or @file (combined with --since).
        #[arg(long, value_name = "JSON|@FILE")]
        filter: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: export::Format,
        /// Output file, written atomically with mode 0600 (call records are personal
        /// data), as are its FILE.part and FILE.part.state; stdout when absent.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Continue an interrupted export into the same -o FILE.
        #[arg(long)]
        resume: bool,
        /// Records per request.
        #[arg(long, default_value_t = 1000)]
        page_size: u64,
        /// Use list_with_detail instead of list.
        #[arg(long)]
        detail: bool,
        /// CSV: write cells exactly as received, even those a spreadsheet would run
        /// as formulas (see below). Only for files no spreadsheet will open.
        #[arg(long)]
        csv_raw_formulas: bool,
    },
}

const CALL_HELP: &str = r#"Params, typed as in httpie and xh:
  key=value     always a string: uid=101 sends "uid": "101", pin=0042 keeps its zeros
  key:=JSON     raw JSON: numbers, true/false, null, arrays, objects, e.g.
                id:=5  status:=1  enabled:=true  note:=null  tags:='[1,2]'
  The value after := must be valid JSON, else an invalid_input error names the key.
  Words are added to --params, a later one replacing an earlier value.

limit, offset and filter are not params: the API reads them at the top level of the
request, beside params, and ignores them inside it. Given as words they go to the
top level exactly as --limit, --offset and --filter do: limit=3 and limit:=3 both
mean the number 3; filter:=JSON, or filter=JSON|@FILE as --filter takes it. Giving
one both as a word and as a flag is an error. To send such a key inside params,
put it in --params.

Examples:
  runtel call User list
  runtel call User get id:=5
  runtel call User update id:=5 name=Anna status:=1 --dry-run
  runtel call DomainUser append uid=101 pin=0042 user_id:=5
  runtel call DomainCDR list limit=100 offset=200
  runtel call DomainCDR list limit=100 filter:='{"field_list":[{"field":"dt","condition_type":5,"value":1704067200}],"type":0}'"#;

const EXPORT_HELP: &str = "\
CSV and spreadsheets: a cell that starts with =, @, a tab or a carriage return, or
with + or - when the cell is not a plain number, is written with a leading ' so that
a spreadsheet shows it as text instead of running it as a formula (CSV injection).
Phone numbers such as +79161234567 and numbers such as -5 are left as they are.
--csv-raw-formulas writes every cell as received.

Files: -o FILE and its FILE.part and FILE.part.state are created with mode 0600
whatever the umask: call records are personal data.";

fn print_json(v: &Value) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let text = if stdout.is_terminal() {
        serde_json::to_string_pretty(v)
    } else {
        serde_json::to_string(v)
    }
    .map_err(|e| Failure::local(e.to_string()))?;
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(terminal::stdout_error)
}

fn invalid(msg: impl Into<String>) -> Failure {
    Failure::Sdk(runtel_client::Error::InvalidInput(msg.into()))
}

/// The filter from `--filter` or a `filter` word (not both).
fn filter_of(flag: Option<&str>, word: Option<Value>) -> Result<Value> {
    let flag = flag
        .map(|text| params::json_source("--filter", text))
        .transpose()?;
    Ok(params::one_of("filter", flag, word)?.unwrap_or(Value::Null))
}

fn dry_run(settings: &Settings, call: &Call) -> Result<()> {
    let endpoint = Endpoint::parse(&settings.url)?;
    // The real token is never needed: the printed Authorization header is masked.
    let req = call.to_http(&endpoint, "dry-run".into(), Some(&Secret::new("***")));
    settings.warn_if_plain_http();
    let mut head = format!("{} {}\n", req.method, req.url);
    for (k, v) in req.masked_headers() {
        head.push_str(&format!("{k}: {v}\n"));
    }
    terminal::out(&head)?;
    let body: Value =
        serde_json::from_str(&req.masked_body()).map_err(|e| Failure::local(e.to_string()))?;
    print_json(&body)
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo { cdrs } => demo::run(cdrs),
        Command::Login {
            reset_guard: true, ..
        } => {
            let settings = Settings::resolve(&cli.conn)?;
            prepare_cache()?;
            let guard = session_cache::PersistentGuard::load(&settings)?;
            let server = terminal::inert(guard.server()).into_owned();
            terminal::note(&format!(
                "runtel: warning: this clears only runtel's own count of failed logins for \
                 {server}; the server's Defender keeps its own count for this host and may \
                 still block it until its own block ends"
            ));
            // The same lock as a login: a login in progress finishes first.
            let before = guard.reset(settings.timeout)?;
            terminal::note(&format!(
                "runtel: login guard for {server} cleared (it had {})",
                status::describe_guard(&before, SystemTime::now())
            ));
            Ok(())
        }
        Command::Login { dry_run: true, .. } => {
            let settings = Settings::resolve(&cli.conn)?;
            let login = settings.require_login()?;
            let call = Call::new(
                "User",
                "auth",
                serde_json::json!({"login": login, "password": "***"}),
            )?;
            dry_run(&settings, &call)
        }
        Command::Login { dry_run: false, .. } => {
            let mut settings = Settings::resolve(&cli.conn)?;
            let login = settings.require_login()?;
            prepare_cache()?;
            settings.warn_if_plain_http();
            let password = settings.password()?;
            let conn = Connection::for_login(&settings)?;
            let result = conn.client.login(&login, password.expose());
            conn.finish()?;
            let info = result?;
            // The login and role name are the server's words: escaped.
            terminal::note(&format!(
                "logged in as {} (user #{}, {}, role type {}); token valid until {} UTC, cached for profile {}",
                terminal::inert(&info.user_login),
                info.user_id,
                terminal::inert(&info.role_name),
                info.role_type,
                terminal::inert(&info.exp.to_string()),
                terminal::inert(&format!("{:?}", settings.profile))
            ));
            Ok(())
        }
        Command::Status => status::run(&cli.conn),
        Command::Logout => {
            let settings = Settings::resolve(&cli.conn)?;
            prepare_cache()?;
            let cache = session_cache::SessionCache::new(&settings)?;
            let Some((info, expires)) = cache.load(None)? else {
                cache.remove()?;
                terminal::note(&format!(
                    "not logged in (no cached session for profile {})",
                    terminal::inert(&format!("{:?}", settings.profile))
                ));
                return Ok(());
            };
            settings.warn_if_plain_http();
            let client = settings.builder()?.build()?;
            client.restore_session(info, expires);
            let result = client.logout();
            cache.remove()?;
            result?;
            terminal::note("logged out");
            Ok(())
        }
        Command::Call {
            obj,
            action,
            words,
            params,
            limit,
            offset,
            filter,
            dry_run: dry,
        } => {
            let mut settings = Settings::resolve(&cli.conn)?;
            let words = params::build(params.as_deref(), &words)?;
            let filter = filter_of(filter.as_deref(), words.filter)?;
            let mut call = Call::new(&obj, &action, words.params)?.filter(filter)?;
            if let Some(l) = params::one_of("limit", limit, words.limit)? {
                call = call.limit(l);
            }
            if let Some(o) = params::one_of("offset", offset, words.offset)? {
                call = call.offset(o);
            }
            if dry {
                return dry_run(&settings, &call);
            }
            if call.is_auth() {
                return Err(Failure::Sdk(runtel_client::Error::InvalidInput(
                    "use `runtel login` to authenticate".into(),
                )));
            }
            prepare_cache()?;
            settings.warn_if_plain_http();
            let conn = Connection::open(&mut settings)?;
            let result = conn.client.call_with(&call);
            conn.finish()?;
            print_json(&Value::Object(result?.into_envelope()))
        }
        Command::Export {
            obj,
            words,
            params,
            since,
            filter,
            format,
            output,
            resume,
            page_size,
            detail,
            csv_raw_formulas,
        } => {
            let mut settings = Settings::resolve(&cli.conn)?;
            let words = params::build(params.as_deref(), &words)?;
            if words.limit.is_some() || words.offset.is_some() {
                return Err(invalid(
                    "export pages through every record itself: limit and offset words do not \
                     apply (--page-size sets the records per request)",
                ));
            }
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            let since = since
                .map(|text| {
                    params::since(&text, now).map(|at| export::Since {
                        text: text.trim().to_owned(),
                        at,
                    })
                })
                .transpose()?;
            let job = export::ExportJob {
                obj,
                action: if detail { "list_with_detail" } else { "list" }.into(),
                params: words.params,
                filter: filter_of(filter.as_deref(), words.filter)?,
                since,
                format,
                page_size,
                output,
                resume,
                progress: std::io::stderr().is_terminal(),
                csv_raw_formulas,
            };
            prepare_cache()?;
            settings.warn_if_plain_http();
            let conn = Connection::open(&mut settings)?;
            let result = job.run(&conn.client);
            conn.finish()?;
            let summary = result?;
            let resumed = if summary.resumed_from > 0 {
                format!(" (resumed at record {})", summary.resumed_from)
            } else {
                String::new()
            };
            terminal::note(&format!("exported {} records{resumed}", summary.records));
            if summary.extra_fields_dropped > 0 {
                terminal::note(&format!(
                    "warning: {} records had fields not in the CSV header (taken from the first page); \
                     use --format jsonl to keep every field",
                    summary.extra_fields_dropped
                ));
            }
            Ok(())
        }
    }
}

/// Checks (and creates, mode 0700) the cache directory before anything is sent,
/// so a directory others could tamper with is refused before a login, not after.
fn prepare_cache() -> Result<()> {
    files::private_dir(&settings::cache_dir(), true).map(drop)
}

fn main() {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => {}
        // The reader of stdout went away: nothing left to say, and no one to say it to.
        Err(Failure::StdoutClosed) => std::process::exit(0),
        Err(f) => {
            terminal::note(&f.line());
            std::process::exit(f.exit_code());
        }
    }
}
