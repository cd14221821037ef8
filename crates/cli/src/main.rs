//! `runtel`: the command-line tool for the Runtel PBX API v2.

mod completion;
mod connect;
#[cfg(feature = "sim")]
mod demo;
mod diag;
mod export;
mod failure;
mod files;
mod filter;
mod objects;
mod output;
mod params;
mod profiles;
mod session_cache;
mod settings;
mod status;
mod sync;
mod terminal;
mod zone;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::SystemTime;

use clap::{CommandFactory, Parser, Subcommand};
use runtel_client::{Call, Endpoint, Secret};
use serde_json::Value;

use connect::Connection;
use failure::{exit_codes, Failure, Result};
use settings::{ConnectionArgs, Settings};

/// Script a Runtel PBX from the shell: log in once, call any action, export call history.
#[derive(Parser, Debug)]
#[command(name = "runtel", version = VERSION, after_help = TOP_HELP)]
struct Cli {
    #[command(flatten)]
    conn: ConnectionArgs,
    #[command(flatten)]
    diag: DiagArgs,
    #[command(subcommand)]
    command: Command,
}

/// Diagnostics on stderr, for every command.
#[derive(clap::Args, Debug, Clone, Default)]
struct DiagArgs {
    /// Show the SDK's log records on stderr (-v info, -vv debug, -vvv trace) [env: RUNTEL_LOG]
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Show each request and answer on stderr (secrets masked, bodies cut at 4096 bytes)
    #[arg(long, global = true)]
    debug_http: bool,
}

/// `runtel --version`: the version and the commit built from (see build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("RUNTEL_GIT_COMMIT"),
    ")"
);

/// The first example of `runtel --help`, in a build that has the demo.
#[cfg(feature = "sim")]
macro_rules! demo_example {
    () => {
        "\n  runtel demo"
    };
}
/// A slim build (without the `sim` feature) has no demo to show.
#[cfg(not(feature = "sim"))]
macro_rules! demo_example {
    () => {
        ""
    };
}

/// The end of `runtel sync --help`.
const SYNC_HELP: &str = "Examples:
  runtel sync DomainCDR --to cdrs.sqlite
  runtel sync DomainCDR DomainQueueCDR --to postgres://runtel@localhost/pbx --since 30d
  runtel sync DomainCDR --to cdrs.sqlite --follow --every 5m --log-format json
  runtel sync DomainCDR --to all.sqlite --domain all          # platform operators

SIGINT or SIGTERM stops after the page being fetched is committed (a second one
stops at once; nothing committed is lost). A page that fails the catalog's checks
is not written: the error names the record (exit code 6). Database errors, and a
table whose columns differ in type from the catalog's, are exit code 11.";

/// The end of `runtel --help`: examples, where settings come from, exit codes.
const TOP_HELP: &str = concat!(
    "Examples:",
    demo_example!(),
    "
  runtel --url https://pbx.example --login me@pbx.example login
  runtel call User list -o table
  runtel call DomainCDR list --where 'dt>=2026-11-01' --records -o jsonl
  runtel export DomainCDR --since 7d --format csv -o cdrs.csv
  runtel completions bash > ~/.local/share/bash-completion/completions/runtel

Settings: flags, then RUNTEL_URL, RUNTEL_LOGIN, RUNTEL_PASSWORD, then the profile
(`runtel config --help`), then the session of the profile's last login.
`runtel help COMMAND` tells more; `runtel man` prints the manual.

",
    exit_codes!()
);

#[derive(Subcommand, Debug)]
enum Command {
    /// Walk through the whole job on a built-in simulator (no network, no settings).
    #[cfg(feature = "sim")]
    ///
    /// Login, users, create/update/delete, CDR export and logout, on a simulator
    /// started inside the tool.
    Demo {
        /// CDRs to seed and export.
        #[arg(long, default_value_t = 5000)]
        cdrs: u64,
    },
    /// Log in and cache the session (token, server, login) for this profile.
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
    Logout {
        /// Every cached session, of every profile.
        #[arg(long)]
        all: bool,
    },
    /// Show the profile, server, cached session and login guard (sends nothing).
    ///
    /// Shows the profile, its server, the cached session and the server's login
    /// guard. Exit code 0 only with an unexpired cached session.
    Status,
    /// Print the settings in force as JSON, or path|list|get|set|unset the config file.
    ///
    /// Without a subcommand: the profile, the server and where its URL came
    /// from, and every client option as the client gets it (the password as
    /// ***). Checks them by building a client; sends nothing. The subcommands
    /// read and edit the profile (--profile) in the config file.
    #[command(after_help = config_help())]
    Config {
        #[command(subcommand)]
        cmd: Option<profiles::ConfigCmd>,
    },
    /// List the profiles (config file and cached sessions); * marks the one in use.
    Profiles {
        /// Print only the names, one per line (for scripts and shell completion).
        #[arg(long)]
        names: bool,
    },
    /// List the objects the API is known to have, or one object's fields.
    ///
    /// The list: name, scope, kind, source, actions. One object: its fields with
    /// type, whether required, constraints. Needs no server and no settings.
    #[command(after_help = OBJECTS_HELP)]
    Objects {
        /// The object to show, e.g. DomainCDR.
        #[arg(value_parser = CatalogNames(object_names), hide_possible_values = true)]
        name: Option<String>,
        /// Print the catalog (or the object) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Call one action and print the answer.
    #[command(after_help = CALL_HELP)]
    Call {
        /// Object name, e.g. User, DomainCDR (`runtel objects` lists them).
        #[arg(value_parser = CatalogNames(object_names), hide_possible_values = true)]
        obj: String,
        /// Action, e.g. list, get, append, update, delete.
        #[arg(value_parser = CatalogNames(action_names), hide_possible_values = true)]
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
        /// List actions: only records where COND holds, COND being FIELD OP VALUE
        /// with OP one of = != < <= > >= ~ (contains), e.g. 'dt>=2026-11-01'
        /// (quote it: > is a shell redirection). Repeatable; joined with AND, and
        /// AND-ed with --filter (see below).
        #[arg(long = "where", value_name = "COND")]
        where_: Vec<String>,
        /// Join the --where conditions with OR instead of AND.
        #[arg(long, requires = "where_")]
        where_any: bool,
        /// Print the exact request (token and password masked) and send nothing.
        #[arg(long)]
        dry_run: bool,
        /// Output format [default: json, pretty on a terminal, compact in a pipe]
        #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
        output: Option<output::Format>,
        /// Print only the records of a list (the record of a get): json an array,
        /// jsonl one record a line, yaml a sequence.
        #[arg(long)]
        records: bool,
        /// Show times in this zone: UTC, an offset such as +03:00, or a zone name
        /// such as Europe/Moscow [default: the login's zone]. Table: times of
        /// Unix-time fields; csv: those times as ISO 8601 (raw without it).
        #[arg(long, value_name = "ZONE", allow_hyphen_values = true)]
        time_zone: Option<String>,
        /// CSV: the cell separator, e.g. ';' for a spreadsheet whose decimal mark is a
        /// comma, or tab [default: ,]
        #[arg(long, value_name = "CHAR")]
        csv_delimiter: Option<String>,
        /// CSV: start with a UTF-8 byte order mark, so a spreadsheet reads the text
        /// as UTF-8 (Cyrillic in Excel).
        #[arg(long)]
        bom: bool,
    },
    /// Export every record of an object, page by page, to a file or stdout.
    #[command(after_help = EXPORT_HELP)]
    Export {
        /// Object name, e.g. DomainCDR.
        #[arg(value_parser = CatalogNames(object_names), hide_possible_values = true)]
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
        /// Extra filter as JSON or @file (AND-ed with --since and --where).
        #[arg(long, value_name = "JSON|@FILE")]
        filter: Option<String>,
        /// Only records where COND holds: FIELD OP VALUE, OP one of = != < <= > >= ~
        /// (contains), e.g. 'dt>=2026-11-01' (quoted: > is a shell redirection).
        /// Repeatable; joined with AND, and AND-ed with --since and --filter (see
        /// `runtel call --help` for values and dates).
        #[arg(long = "where", value_name = "COND")]
        where_: Vec<String>,
        /// Join the --where conditions with OR instead of AND.
        #[arg(long, requires = "where_")]
        where_any: bool,
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
        /// CSV: the cell separator, e.g. ';' for a spreadsheet whose decimal mark is a
        /// comma, or tab [default: ,]
        #[arg(long, value_name = "CHAR")]
        csv_delimiter: Option<String>,
        /// CSV: start with a UTF-8 byte order mark, so a spreadsheet reads the text
        /// as UTF-8 (Cyrillic in Excel).
        #[arg(long)]
        bom: bool,
        /// CSV: times of Unix-time fields (such as dt) as ISO 8601 in this zone: UTC,
        /// an offset such as +03:00, or a zone name such as Europe/Moscow [default:
        /// Unix seconds, as received]
        #[arg(long, value_name = "ZONE", allow_hyphen_values = true)]
        time_zone: Option<String>,
        /// Page by id (each page asks for id > the last one) instead of by offset:
        /// records added or deleted while exporting neither shift nor repeat. The
        /// server must return records sorted by ascending integer id (checked on
        /// every page), and a filter that joins its conditions with OR cannot be
        /// used.
        #[arg(long)]
        consistent: bool,
        /// Finish (exit 0, rename FILE.part to FILE) even when the records changed
        /// while exporting; the warning is still given. See below.
        #[arg(long)]
        allow_drift: bool,
    },
    /// Copy objects into SQLite or Postgres and keep them current (incremental,
    /// crash-safe).
    ///
    /// One table per object (DomainCDR -> domain_cdr): the catalog's fields as
    /// typed columns plus the whole record as JSON in _json. A checkpoint per
    /// server, domain and object is committed with each page, so an interrupted
    /// sync continues where it stopped; logs resume by time with an overlap.
    #[command(after_help = SYNC_HELP)]
    Sync(sync::SyncArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    #[command(after_help = COMPLETIONS_HELP)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command into --dir.
    #[command(after_help = MAN_HELP)]
    Man {
        /// Write runtel.1 and a runtel-COMMAND.1 per command into this directory
        /// (created if missing) instead of printing runtel.1.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

const COMPLETIONS_HELP: &str = "\
The script completes commands, flags, flag values and the object and action
names of the catalog (`runtel objects`). Install it where the shell looks:
  runtel completions bash > ~/.local/share/bash-completion/completions/runtel
  runtel completions zsh > ~/.zfunc/_runtel     # with fpath+=(~/.zfunc) before compinit
  runtel completions fish > ~/.config/fish/completions/runtel.fish
  runtel completions powershell >> $PROFILE";

const MAN_HELP: &str = "\
Examples:
  runtel man | man -l -
  runtel man --dir ~/.local/share/man/man1      # then: man runtel, man runtel-call";

/// Accepts any name (the API may have objects and actions the catalog does not
/// know) and offers the catalog's names of one kind to shell completion.
#[derive(Clone, Debug)]
struct CatalogNames(fn() -> Vec<&'static str>);

/// Every object the catalog knows.
pub(crate) fn object_names() -> Vec<&'static str> {
    runtel_client::catalog::OBJECTS
        .iter()
        .map(|o| o.name)
        .collect()
}

/// Every action the catalog knows, of any object, once each.
pub(crate) fn action_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = runtel_client::catalog::OBJECTS
        .iter()
        .flat_map(|o| o.actions.iter().copied())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

impl clap::builder::TypedValueParser for CatalogNames {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> std::result::Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            (self.0)()
                .into_iter()
                .map(clap::builder::PossibleValue::new),
        ))
    }
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

Filters (list actions), --where COND, repeatable:
  COND is FIELD OP VALUE, OP one of = != < <= > >= ~ (~: the text contains VALUE):
  'dt>=1704067200', 'disposition=BUSY', 'src_name~Ив'. Quote each: > and < are
  shell redirections. VALUE is JSON when it parses as JSON (101, true, "101"),
  else the text as typed ('disposition=NO ANSWER').
  Dates: for a time field (one the catalog types unix_time, such as dt, or a field
  named dt of an object it does not know) VALUE may be a date, sent as Unix
  seconds: YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS], with Z or +HH:MM; WITHOUT A ZONE IT
  MEANS UTC. 'dt>=2026-11-01' is dt >= 1793491200, midnight UTC.
  Conditions are joined with AND; --where-any joins them with OR instead.
  --where, --filter (or filter=) and export's --since go into one filter whose
  conditions must all hold. A part that joins two or more conditions with OR
  cannot take the others (they would become alternatives and select more), so
  that mix is refused (invalid_input, exit 3): put everything in one --filter.
  The >= code (5) is the one seen on live servers; the others are inferred.

Object names: `runtel objects` lists the known ones. Another name is sent as
typed (the API may have objects we do not know), with a warning on stderr when it
looks like a typo of a known one; likewise an action the catalog does not know
for the object.

Examples:
  runtel call User list
  runtel call User get id:=5
  runtel call User update id:=5 name=Anna status:=1 --dry-run
  runtel call DomainUser append uid=101 pin=0042 user_id:=5
  runtel call DomainCDR list limit=100 offset=200
  runtel call DomainCDR list limit=100 --where 'dt>=2026-11-01' --where disposition=BUSY
  runtel call DomainCDR list --where disposition=BUSY --where 'disposition=NO ANSWER' --where-any
  runtel call DomainCDR list limit=100 filter:='{"field_list":[{"field":"dt","condition_type":5,"value":1704067200}],"type":0}'"#;

const OBJECTS_HELP: &str = "\
The catalog: every object the API is known to have, built into runtel.
  SCOPE   tenant: platform users and roles; domain: inside one PBX (platform
          operators must pass domain_id); platform: platform operators only
  KIND    config: records clients create, change and delete; log: records the
          platform writes, read by time (dt)
  SOURCE  vendor: documented by the vendor; field: seen in client programs that
          talk to live servers (actions and fields inferred)

Examples:
  runtel objects
  runtel objects DomainCDR
  runtel objects --json";

const EXPORT_HELP: &str = "\
Filters: --where COND (repeatable; --where-any joins them with OR), --since and
--filter are AND-ed into one filter, e.g.
  runtel export DomainCDR --since 7d --where disposition=BUSY -o busy.jsonl
  runtel export DomainCDR --where 'dt>=2026-11-01' --where 'dt<2026-12-01T00:00:00+03:00'
A date without a zone is UTC; see `runtel call --help` for conditions and dates.
A filter joining several conditions with OR cannot be combined with others (exit 3).

CSV for spreadsheets: --csv-delimiter ';' (or tab), --bom (a UTF-8 byte order mark,
so Excel reads Cyrillic), --time-zone ZONE (dt and other Unix times as ISO 8601), e.g.
  runtel export DomainCDR --format csv --csv-delimiter ';' --bom --time-zone +03:00 -o c.csv

CSV and formulas: a cell that starts with =, @, a tab or a carriage return, or
with + or - when the cell is not a plain number, is written with a leading ' so that
a spreadsheet shows it as text instead of running it as a formula (CSV injection).
Phone numbers such as +79161234567 and numbers such as -5 are left as they are.
--csv-raw-formulas writes every cell as received.

CSV cells: null or a missing field is an empty cell (nothing between the commas);
the empty string is a quoted empty cell (\"\"), so the two stay apart. A field first
seen on a later page becomes a new last column: with -o FILE, the file is rewritten
at the end (streamed, not held in memory) with the wider header and empty cells in
the earlier rows; on stdout, where rows already went out, that is an error (exit 11)
naming the fields (use -o FILE or --format jsonl). JSON Lines and JSON write every
record exactly as it came, numbers, strings and null included; only CSV puts a
record that is not an object in a column named value.

Records that change while exporting: offset paging (the API's own) can skip or
repeat records when records are added or deleted meanwhile. Repeats across a page
boundary are dropped; a total_count that moves between pages, or dropped repeats,
are reported with the numbers, and the export fails with exit code 12 (changed):
-o FILE then stays FILE.part, complete as far as it goes, so a file that may lack
records never looks finished. To keep it anyway, run the same command with
--resume --allow-drift (nothing is fetched again); to get a consistent copy, export
again with --consistent, which pages by id and is not affected.

--resume continues from the checkpoint in FILE.part.state, which keeps the last
record written (its id and a hash of it). Before continuing, the record at that
position is fetched again: if it is another record now (records were added or
deleted before it), resuming by offset would skip or repeat records, and the
resume is refused (exit 12). With --consistent, the export resumes after the last
id written, which no change can move.

Files: -o FILE and its FILE.part and FILE.part.state are created with mode 0600
whatever the umask: call records are personal data.";

/// The help of `runtel config`, listing the option names from the library, so
/// a new option is listed without an edit here.
fn config_help() -> String {
    let mut names = String::from(" ");
    let mut width = 1;
    for (i, name) in runtel_client::ClientOptions::NAMES.iter().enumerate() {
        let item = if i + 1 < runtel_client::ClientOptions::NAMES.len() {
            format!(" {name},")
        } else {
            format!(" {name}")
        };
        if width + item.len() > 80 {
            names.push_str("\n ");
            width = 1;
        }
        names.push_str(&item);
        width += item.len();
    }
    format!(
        "Settings come from flags, then RUNTEL_URL / RUNTEL_LOGIN / RUNTEL_PASSWORD, then
the profile (--profile or RUNTEL_PROFILE, else default) in the config file
(~/.config/runtel/config.toml, or RUNTEL_CONFIG), then the profile's cached session,
which remembers the server and login of its last `runtel login`. Sessions are cached
per profile in ~/.cache/runtel (files 0600 in a directory 0700 that must be yours
and closed to others), so a loop of invocations logs in once. The count of failed
logins is kept there per server (scheme, address and port), as the server's
Defender counts per host. An http:// URL to another machine gets a warning (the
password would cross the network in clear) unless the profile says
allow_plain_http = true or RUNTEL_ALLOW_PLAIN_HTTP=1.

Profile keys ([profiles.NAME] in the config file) are the tool's own:
  url                the server
  allow_plain_http   true: no warning for http:// to another machine (the same as
                     warn_plain_http = false)
  insecure           the name earlier versions used for accept_invalid_certs
and every client option, with the library's meaning and default, except
logout_on_drop, false here: the session is cached for the next command (true: each
command logs out when it ends, and nothing is cached):
{names}
Durations are seconds. --option NAME=VALUE sets any of them (but url and password)
for one command, over the profile; --timeout, --ca-file and --insecure are the same
as their option. A misspelt key is an error naming the nearest."
    )
}

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
        #[cfg(feature = "sim")]
        Command::Demo { cdrs } => demo::run(cdrs),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "runtel", &mut script);
            let mut script = String::from_utf8_lossy(&script).into_owned();
            completion::extend(shell, &mut script);
            terminal::out_raw(&script)
        }
        Command::Man { dir: None } => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut page)
                .map_err(|e| Failure::local(format!("rendering the man page: {e}")))?;
            terminal::out_raw(&String::from_utf8_lossy(&page))
        }
        Command::Man { dir: Some(dir) } => {
            std::fs::create_dir_all(&dir)
                .and_then(|()| clap_mangen::generate_to(Cli::command(), &dir))
                .map_err(|e| Failure::local(format!("{}: {e}", dir.display())))?;
            terminal::note(&format!("man pages written to {}", dir.display()));
            Ok(())
        }
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
            let before = guard.reset(settings.options.timeout)?;
            terminal::note(&format!(
                "runtel: login guard for {server} cleared (it had {})",
                status::describe_guard(&before, SystemTime::now(), &settings.options)
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
            if settings.options.logout_on_drop {
                terminal::note(
                    "runtel: warning: logout_on_drop is set for this profile: the session \
                     ends with this command and is not cached",
                );
            }
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
        Command::Objects { name, json: true } => print_json(&objects::json(name.as_deref())?),
        Command::Objects { name, json: false } => terminal::out(&match name {
            None => objects::table(),
            Some(name) => objects::describe(objects::find(&name)?),
        }),
        Command::Config { cmd: Some(cmd) } => profiles::config(cmd, &cli.conn),
        Command::Profiles { names: false } => profiles::list(&cli.conn),
        Command::Profiles { names: true } => profiles::names(),
        Command::Logout { all: true } => {
            prepare_cache()?;
            profiles::logout_all(&cli.conn)
        }
        Command::Config { cmd: None } => {
            let settings = Settings::resolve(&cli.conn)?;
            // Building checks what only the client can (the CA file, the proxy
            // URL); the credentials are left out, as a cached session needs none.
            settings.builder().build()?;
            let shown = settings.shown_options();
            print_json(&serde_json::json!({
                "profile": settings.profile,
                "url": settings.url,
                "url_source": settings.url_source,
                "config_file": settings::config_path(),
                "options": shown.to_json(),
            }))
        }
        Command::Logout { all: false } => {
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
            let client = settings.builder().build()?;
            diag::add_secret(info.token.expose());
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
            where_,
            where_any,
            dry_run: dry,
            output: format,
            records,
            time_zone,
            csv_delimiter,
            bom,
        } => {
            let mut settings = Settings::resolve(&cli.conn)?;
            let time_zone = time_zone.as_deref().map(zone::Zone::parse).transpose()?;
            let is_csv = format == Some(output::Format::Csv);
            csv_only(is_csv, csv_delimiter.is_some(), bom, false, "-o csv")?;
            let csv = output::Csv {
                delimiter: csv_delimiter
                    .as_deref()
                    .map(output::delimiter)
                    .transpose()?
                    .unwrap_or(','),
                bom,
                zone: time_zone.clone(),
                raw_formulas: false,
            };
            let words = params::build(params.as_deref(), &words)?;
            if !where_.is_empty() && !action.starts_with("list") {
                return Err(invalid(format!(
                    "--where selects the records of a list action (list, list_with_detail); \
                     {}.{} is not one: give its params instead (or --filter to send a filter \
                     anyway)",
                    terminal::inert(&obj),
                    terminal::inert(&action)
                )));
            }
            let filter = filter::and_all(vec![
                filter::Part::new(
                    "the filter (--filter or filter=)",
                    filter_of(filter.as_deref(), words.filter)?,
                ),
                filter::Part::new(
                    where_label(where_any),
                    filter::from_where(&obj, &where_, where_any)?,
                ),
            ])?;
            warn_unknown(&obj, &action);
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
            let response = result?;
            terminal::notices(response.notifies());
            let view = View {
                format: format.unwrap_or(output::Format::Json),
                records,
                time_zone,
                login_tz: conn.client.auth_info().and_then(|i| i.tz),
                csv,
            };
            view.print(&obj, response)
        }
        Command::Sync(args) => sync::run(args, &cli.conn),
        Command::Export {
            obj,
            words,
            params,
            since,
            filter,
            where_,
            where_any,
            format,
            output,
            resume,
            page_size,
            detail,
            csv_raw_formulas,
            csv_delimiter,
            bom,
            time_zone,
            consistent,
            allow_drift,
        } => {
            let mut settings = Settings::resolve(&cli.conn)?;
            csv_only(
                format == export::Format::Csv,
                csv_delimiter.is_some(),
                bom,
                time_zone.is_some(),
                "--format csv",
            )?;
            let csv = output::Csv {
                delimiter: csv_delimiter
                    .as_deref()
                    .map(output::delimiter)
                    .transpose()?
                    .unwrap_or(','),
                bom,
                zone: time_zone.as_deref().map(zone::Zone::parse).transpose()?,
                raw_formulas: csv_raw_formulas,
            };
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
            let given = filter::Part::new(
                "the filter (--filter or filter=)",
                filter_of(filter.as_deref(), words.filter)?,
            );
            let wheres = filter::Part::new(
                where_label(where_any),
                filter::from_where(&obj, &where_, where_any)?,
            );
            // Refused here, before anything is sent, if --since cannot be AND-ed.
            if let Some(since) = &since {
                filter::and_all(vec![
                    filter::Part::new(given.what.clone(), given.filter.clone()),
                    filter::Part::new(wheres.what.clone(), wheres.filter.clone()),
                    filter::Part::new(
                        "--since",
                        filter::of_condition(
                            serde_json::json!({"field": "dt", "condition_type": 5, "value": since.at}),
                        ),
                    ),
                ])?;
            }
            let action = if detail { "list_with_detail" } else { "list" };
            warn_unknown(&obj, action);
            let job = export::ExportJob {
                filter: filter::and_all(vec![given, wheres])?,
                obj,
                action: action.into(),
                params: words.params,
                since,
                format,
                page_size,
                output,
                resume,
                progress: std::io::stderr().is_terminal(),
                csv_raw_formulas,
                csv,
                consistent,
                allow_drift,
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
            Ok(())
        }
    }
}

/// How `runtel call` prints its answer.
struct View {
    format: output::Format,
    records: bool,
    /// `--time-zone`, already checked.
    time_zone: Option<zone::Zone>,
    /// The zone of the login (`auth.tz`), the table's default.
    login_tz: Option<String>,
    /// How `-o csv` is written.
    csv: output::Csv,
}

impl View {
    /// Prints `response` of a call on `obj` on stdout.
    fn print(self, obj: &str, response: runtel_client::Response) -> Result<()> {
        use output::Format;
        let pretty = std::io::stdout().is_terminal();
        let text = match (self.format, self.records) {
            (Format::Json, false) => output::json(&Value::Object(response.into_envelope()), pretty),
            (Format::Jsonl, false) => output::json(&Value::Object(response.into_envelope()), false),
            (Format::Yaml, false) => output::yaml(&Value::Object(response.into_envelope())),
            (Format::Json, true) => output::json(&Value::Array(output::rows_of(&response)), pretty),
            (Format::Jsonl, true) => output::jsonl(&output::rows_of(&response)),
            (Format::Yaml, true) => output::yaml(&Value::Array(output::rows_of(&response))),
            (Format::Csv, _) => output::csv(obj, &output::rows_of(&response), &self.csv),
            (Format::Table, _) => {
                let rows = output::rows_of(&response);
                if rows.is_empty() {
                    terminal::note("runtel: note: no records");
                    return Ok(());
                }
                let zone = self
                    .time_zone
                    .unwrap_or_else(|| zone::Zone::of_login(self.login_tz.as_deref()));
                let width = terminal::stdout_width();
                let table = output::table(obj, &rows, &zone, width);
                if !table.left_out.is_empty() {
                    terminal::note(&format!(
                        "runtel: note: {} columns left out to fit {} columns: {} (-o json shows \
                         every field)",
                        table.left_out.len(),
                        width.unwrap_or_default(),
                        inert_list(&table.left_out)
                    ));
                }
                table.text
            }
        };
        terminal::out_raw(&text)
    }
}

/// Refuses the CSV flags for another format: they would do nothing.
fn csv_only(csv: bool, delimiter: bool, bom: bool, zone: bool, how: &str) -> Result<()> {
    let given: Vec<&str> = [
        (delimiter, "--csv-delimiter"),
        (bom, "--bom"),
        (zone, "--time-zone"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect();
    if csv || given.is_empty() {
        return Ok(());
    }
    Err(invalid(format!(
        "{} only change CSV output: add {how} (JSON keeps every value as received)",
        given.join(" and ")
    )))
}

/// Names from a server, escaped and joined with commas.
fn inert_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| terminal::inert(n).into_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// How the `--where` conditions are named in a refusal.
fn where_label(any: bool) -> &'static str {
    if any {
        "--where with --where-any"
    } else {
        "--where"
    }
}

/// Warns on stderr about an object or action the catalog does not know (the
/// call is sent as typed all the same).
fn warn_unknown(obj: &str, action: &str) {
    for w in objects::warnings(obj, action) {
        terminal::note(&w);
    }
}

/// Checks (and creates, mode 0700) the cache directory before anything is sent,
/// so a directory others could tamper with is refused before a login, not after.
fn prepare_cache() -> Result<()> {
    files::private_dir(&settings::cache_dir(), true).map(drop)
}

fn main() {
    let cli = Cli::parse();
    diag::init(cli.diag.verbose, cli.diag.debug_http);
    match run(cli) {
        Ok(()) => {}
        // The reader of stdout went away: nothing left to say, and no one to say it to.
        Err(Failure::StdoutClosed) => std::process::exit(0),
        Err(f) => {
            // A refusal may come with a notice that explains it (a blocked balance).
            if let Failure::Sdk(e) = &f {
                if let Some(info) = e.api_info() {
                    terminal::notices(&info.notifies);
                }
            }
            terminal::note(&f.line());
            std::process::exit(f.exit_code());
        }
    }
}
