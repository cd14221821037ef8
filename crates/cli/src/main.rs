//! `runtel`: the command-line tool for the Runtel PBX API v2.

mod connect;
mod demo;
mod export;
mod failure;
mod files;
mod params;
mod session_cache;
mod settings;

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
/// profile in ~/.config/runtel/config.toml. Sessions are cached per profile in
/// ~/.cache/runtel (mode 0600), so a loop of invocations logs in once.
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
    /// Log in and cache the session token for this profile.
    Login {
        /// Print the auth request (password masked) instead of sending it.
        #[arg(long)]
        dry_run: bool,
    },
    /// End the cached session on the server and forget it.
    Logout,
    /// Call one action and print the answer envelope.
    #[command(
        after_help = "Examples:\n  runtel call User list\n  runtel call User get id=5\n  \
        runtel call DomainCDR list --limit 100 --filter '{\"field_list\":[{\"field\":\"dt\",\"condition_type\":5,\"value\":1704067200}],\"type\":0}'\n  \
        runtel call User update id=5 name=Anna --dry-run\n\nkey=value: values that parse as JSON (3, true, [1]) are JSON; key:=text forces a string."
    )]
    Call {
        /// Object name, e.g. User, DomainCDR.
        obj: String,
        /// Action, e.g. list, get, append, update, delete.
        action: String,
        /// Params as key=value words.
        #[arg(value_name = "KEY=VALUE")]
        words: Vec<String>,
        /// Params as JSON, @file or @- (stdin); key=value words are merged in.
        #[arg(long, value_name = "JSON|@FILE")]
        params: Option<String>,
        /// Top-level limit (list calls).
        #[arg(long)]
        limit: Option<u64>,
        /// Top-level offset (list calls).
        #[arg(long)]
        offset: Option<u64>,
        /// Top-level filter as JSON or @file.
        #[arg(long, value_name = "JSON|@FILE")]
        filter: Option<String>,
        /// Print the exact request (token and password masked) and send nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Export every record of an object, page by page, to a file or stdout.
    Export {
        /// Object name, e.g. DomainCDR.
        obj: String,
        /// Params as key=value words.
        #[arg(value_name = "KEY=VALUE")]
        words: Vec<String>,
        /// Params as JSON, @file or @-.
        #[arg(long, value_name = "JSON|@FILE")]
        params: Option<String>,
        /// Only records with dt >= TIME: Unix seconds, YYYY-MM-DD[THH:MM:SS] (UTC) or N[smhd] ago.
        #[arg(long)]
        since: Option<String>,
        /// Extra filter as JSON or @file (combined with --since).
        #[arg(long, value_name = "JSON|@FILE")]
        filter: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: export::Format,
        /// Output file (written atomically); stdout when absent.
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
    },
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
    writeln!(out, "{text}").map_err(|e| Failure::local(e.to_string()))
}

fn filter_from(filter: Option<&str>, since: Option<&str>) -> Result<Value> {
    let mut f = match filter {
        Some(text) => params::json_source("--filter", text)?,
        None => Value::Null,
    };
    if let Some(since) = since {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let t = params::since(since, now)?;
        let cond = serde_json::json!({"field": "dt", "condition_type": 5, "value": t});
        match &mut f {
            Value::Object(m) => match m.get_mut("field_list") {
                Some(Value::Array(list)) => list.push(cond),
                _ => {
                    m.insert("field_list".into(), Value::Array(vec![cond]));
                }
            },
            _ => f = serde_json::json!({"field_list": [cond], "type": 0}),
        }
    }
    Ok(f)
}

fn dry_run(settings: &Settings, call: &Call) -> Result<()> {
    let endpoint = Endpoint::parse(&settings.url)?;
    // The real token is never needed: the printed Authorization header is masked.
    let req = call.to_http(&endpoint, "dry-run".into(), Some(&Secret::new("***")));
    println!("{} {}", req.method, req.url);
    for (k, v) in req.masked_headers() {
        println!("{k}: {v}");
    }
    println!();
    let body: Value =
        serde_json::from_str(&req.masked_body()).map_err(|e| Failure::local(e.to_string()))?;
    print_json(&body)
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo { cdrs } => demo::run(cdrs),
        Command::Login { dry_run: true } => {
            let settings = Settings::resolve(&cli.conn)?;
            let login = settings.require_login()?;
            let call = Call::new(
                "User",
                "auth",
                serde_json::json!({"login": login, "password": "***"}),
            )?;
            dry_run(&settings, &call)
        }
        Command::Login { dry_run: false } => {
            let mut settings = Settings::resolve(&cli.conn)?;
            let login = settings.require_login()?;
            let password = settings.password()?;
            let conn = Connection::for_login(&settings)?;
            let result = conn.client.login(&login, password.expose());
            conn.finish()?;
            let info = result?;
            eprintln!(
                "logged in as {} (user #{}, {}, role type {}); token valid until {} UTC, cached for profile {:?}",
                info.user_login, info.user_id, info.role_name, info.role_type, info.exp, settings.profile
            );
            Ok(())
        }
        Command::Logout => {
            let settings = Settings::resolve(&cli.conn)?;
            let cache = session_cache::SessionCache::new(&settings)?;
            let Some((info, expires)) = cache.load(None)? else {
                cache.remove()?;
                eprintln!(
                    "not logged in (no cached session for profile {:?})",
                    settings.profile
                );
                return Ok(());
            };
            let client = settings.builder()?.build()?;
            client.restore_session(info, expires);
            let result = client.logout();
            cache.remove()?;
            result?;
            eprintln!("logged out");
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
            let params = params::build(params.as_deref(), &words)?;
            let mut call =
                Call::new(&obj, &action, params)?.filter(filter_from(filter.as_deref(), None)?)?;
            if let Some(l) = limit {
                call = call.limit(l);
            }
            if let Some(o) = offset {
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
        } => {
            let mut settings = Settings::resolve(&cli.conn)?;
            let job = export::ExportJob {
                obj,
                action: if detail { "list_with_detail" } else { "list" }.into(),
                params: params::build(params.as_deref(), &words)?,
                filter: filter_from(filter.as_deref(), since.as_deref())?,
                format,
                page_size,
                output,
                resume,
                progress: std::io::stderr().is_terminal(),
            };
            let conn = Connection::open(&mut settings)?;
            let result = job.run(&conn.client);
            conn.finish()?;
            let summary = result?;
            let resumed = if summary.resumed_from > 0 {
                format!(" (resumed at record {})", summary.resumed_from)
            } else {
                String::new()
            };
            eprintln!("exported {} records{resumed}", summary.records);
            if summary.extra_fields_dropped > 0 {
                eprintln!(
                    "warning: {} records had fields not in the CSV header (taken from the first page); \
                     use --format jsonl to keep every field",
                    summary.extra_fields_dropped
                );
            }
            Ok(())
        }
    }
}

fn main() {
    let cli = Cli::parse();
    if let Err(f) = run(cli) {
        eprintln!("{}", f.line());
        std::process::exit(f.exit_code());
    }
}
