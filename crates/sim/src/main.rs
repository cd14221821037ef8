//! `runtel-sim`: serve the Runtel API v2 simulator until killed.

use std::io::Write;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};
use runtel_protocol::catalog::{self, ObjectKind, Scope};
use runtel_protocol::Op;
use runtel_sim::{
    Account, ConfigError, ErrorStyle, Fault, FaultRule, GetStyle, ListStyle, PagingOptions,
    SimConfig, Simulator, TlsSettings,
};

/// A faithful offline Runtel PBX API v2 server for tests, demos and your own scripts.
///
/// Serves `POST /api/` and prints `listening on URL` as its first line. Readiness
/// probes: GET /_sim/health or GET /api/health (the real platform's health check)
/// answer 200 {"ok": true, "version": ..., "uptime_secs": ...}.
/// Default account: admin@sim.runtel.local / admin (PBX administrator of domain 1);
/// operator@sim.runtel.local / operator is a platform operator (role type -1).
///
/// Control endpoint (for tests): GET /_sim/counters, POST /_sim/counters/reset,
/// POST /_sim/faults {"fault":"html_502","times":1,"action":"list","probability":1.0},
/// POST /_sim/faults/clear, POST /_sim/tokens/expire, POST /_sim/defender/unblock,
/// POST /_sim/error-style {"style":"envelope"}, GET /_sim/ca.pem,
/// POST /_sim/replay {"vector":"error_html_502"} (with --vectors DIR),
/// GET /_sim/last-token (the last token issued: {"token": ...}),
/// GET|POST /_sim/paging {"max_page_size":100,"ignore_offset":false,"omit_total_count":false},
/// GET /_sim/objects (the object catalog as JSON),
/// POST /_sim/records {"obj":"DomainCDR","records":[{"dt":1704067200,"src":"100"}]}
/// and POST /_sim/records/delete {"obj":"DomainCDR","ids":[1,2]} (write and delete
/// records as the platform does: logs are read only through the API).
///
/// As an HTTP proxy (CONNECT, or absolute-form targets) it serves every request
/// itself, whatever host was named, so clients' proxy settings can be tested.
#[derive(Parser, Debug)]
#[command(name = "runtel-sim", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Extra account LOGIN:PASSWORD[:operator|:domain=N][:perms=OBJ.ACTION,...];
    /// repeatable. perms= gives it a role of its own allowing only those calls (e.g.
    /// perms=DomainCDR.list,User.get; User.* every action of User, *.get get on
    /// every object); others are refused with 403 forbidden.
    #[arg(long = "user", value_name = "LOGIN:PASSWORD")]
    users: Vec<String>,
    /// Token lifetime in seconds.
    #[arg(long, default_value_t = 4 * 3600)]
    token_lifetime: u64,
    /// Failed logins from one host before the Defender blocks it.
    #[arg(long, default_value_t = 5)]
    defender_max_failures: u32,
    /// How long the Defender blocks a host, in seconds.
    #[arg(long, default_value_t = 600)]
    defender_block: u64,
    /// How errors are sent: http (status = code) or envelope (always 200).
    #[arg(long, default_value = "http", value_parser = ["http", "envelope"])]
    error_style: String,
    /// Where list answers put records: top (list, total_count) or body.
    #[arg(long, default_value = "top", value_parser = ["top", "body"])]
    list_style: String,
    /// How get answers carry the record: body or list (one-element list).
    #[arg(long, default_value = "body", value_parser = ["body", "list"])]
    get_style: String,
    /// Seed data OBJ=COUNT, e.g. DomainCDR=100000; repeatable; any object listed
    /// below. Log objects get call and event records one every 7 s, the newest dated
    /// at start (see --seed-epoch); configuration objects, numbered records.
    #[arg(long = "seed", value_name = "OBJ=COUNT")]
    seeds: Vec<String>,
    /// Date the oldest seeded log record (id 1) at this Unix time instead, so the
    /// data is the same every run: 1704067200 (2024-01-01) gives record N the dt
    /// 1704067200 + 7*(N-1).
    #[arg(long, value_name = "UNIX", allow_hyphen_values = true)]
    seed_epoch: Option<i64>,
    /// Load your own records from a JSON file: {"DomainCDR": [{...}, ...], "User":
    /// [...]}. Fields are kept; missing ids are assigned; records without domain_id
    /// go to domain 1; users with login and password can log in.
    #[arg(long, value_name = "FILE")]
    fixtures: Option<std::path::PathBuf>,
    /// The server clock's offset from ours, in seconds (tests skew handling).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    clock_skew: i64,
    /// Fault applied to every answer from the start, e.g. delay:200 or html_502 (every
    /// name is listed below); with --fault-probability.
    #[arg(long)]
    fault: Option<String>,
    /// Chance (0..1) that --fault hits an answer.
    #[arg(long, default_value_t = 1.0)]
    fault_probability: f64,
    /// Serve HTTPS with a generated self-signed certificate for localhost and 127.0.0.1.
    #[arg(long)]
    tls: bool,
    /// Names the generated certificate is valid for (repeatable) [default: localhost, 127.0.0.1]
    #[arg(long = "tls-name", requires = "tls")]
    tls_names: Vec<String>,
    /// Generate a certificate that has already expired (for client tests).
    #[arg(long, requires = "tls")]
    tls_expired: bool,
    /// Directory of shared test vectors for POST /_sim/replay {"vector": NAME}.
    #[arg(long, value_name = "DIR")]
    vectors: Option<std::path::PathBuf>,
    /// Write the generated certificate (PEM) here, for clients to trust.
    #[arg(long, requires = "tls")]
    cert_out: Option<std::path::PathBuf>,
    /// The most connections open at once; beyond it the one idle the longest is
    /// closed, or new clients wait until one closes.
    #[arg(long, value_name = "N", default_value_t = 256)]
    max_connections: usize,
    /// Close connections idle (waiting for a request) this long; 0: never.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    idle_timeout: u64,
    /// Cap every list page at N records, still announcing the true total_count.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_page_size: Option<u64>,
    /// Start every list answer at offset 0, whatever offset was asked.
    #[arg(long)]
    ignore_offset: bool,
    /// Leave total_count out of list answers.
    #[arg(long)]
    omit_total_count: bool,
}

fn config_from(args: &Args) -> Result<SimConfig, String> {
    let mut config = SimConfig {
        token_lifetime: Duration::from_secs(args.token_lifetime),
        defender_max_failures: args.defender_max_failures.max(1),
        defender_block: Duration::from_secs(args.defender_block),
        clock_skew_secs: args.clock_skew,
        error_style: if args.error_style == "envelope" {
            ErrorStyle::Envelope
        } else {
            ErrorStyle::Http
        },
        list_style: if args.list_style == "body" {
            ListStyle::Body
        } else {
            ListStyle::Top
        },
        get_style: if args.get_style == "list" {
            GetStyle::List
        } else {
            GetStyle::Body
        },
        tls: args.tls.then(|| TlsSettings {
            names: if args.tls_names.is_empty() {
                TlsSettings::default().names
            } else {
                args.tls_names.clone()
            },
            expired: args.tls_expired,
        }),
        vectors_dir: args.vectors.clone(),
        max_connections: args.max_connections,
        idle_timeout: Duration::from_secs(args.idle_timeout),
        paging: PagingOptions {
            max_page_size: args.max_page_size,
            ignore_offset: args.ignore_offset,
            omit_total_count: args.omit_total_count,
        },
        ..SimConfig::default()
    };
    for u in &args.users {
        config
            .accounts
            .push(Account::parse(u).map_err(|e| format!("--user {u:?}: {e}"))?);
    }
    for s in &args.seeds {
        let (obj, n) = s
            .split_once('=')
            .ok_or(format!("--seed {s:?}: expected OBJ=COUNT"))?;
        let n = n
            .parse()
            .map_err(|_| format!("--seed {s:?}: COUNT must be a number"))?;
        config.seed.push((obj.to_owned(), n));
    }
    config.seed_epoch = args.seed_epoch;
    if let Some(path) = &args.fixtures {
        config.fixtures = runtel_sim::load_fixtures(path).map_err(|e| format!("--fixtures {e}"))?;
    }
    Ok(config)
}

/// The objects served, from the catalog, by kind and scope.
fn objects_help() -> String {
    let names = |keep: &dyn Fn(&runtel_protocol::ObjectSpec) -> bool| {
        catalog::OBJECTS
            .iter()
            .filter(|o| keep(o))
            .map(|o| o.name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    // Actions some logs have beyond reading (DomainDPEResult's get_dialog).
    let extra: Vec<String> = catalog::OBJECTS
        .iter()
        .filter(|o| o.kind == ObjectKind::Log)
        .flat_map(|o| {
            o.actions
                .iter()
                .filter(|a| !catalog::LOG_ACTIONS.contains(a))
                .map(move |a| format!("; {} also {a}", o.name))
        })
        .collect();
    format!(
        "Objects (the catalog; GET /_sim/objects has their actions and fields):\n  \
         users and roles: {}\n  \
         a PBX's configuration (operators pass domain_id): {}\n  \
         a PBX's logs, read only ({}{}; --seed them): {}\n  \
         platform configuration (operators only): {}",
        names(&|o| o.scope == Scope::Tenant),
        names(&|o| o.scope == Scope::Domain && o.kind == ObjectKind::Config),
        catalog::LOG_ACTIONS.join(", "),
        extra.concat(),
        names(&|o| o.kind == ObjectKind::Log),
        names(&|o| o.scope == Scope::Platform),
    )
}

/// The filter operators, from the protocol's one table.
fn filters_help() -> String {
    let ops: Vec<String> = Op::ALL
        .iter()
        .map(|op| {
            let seen = if op.seen_in_the_field() {
                " (seen in the field)"
            } else {
                ""
            };
            format!("{} {} ({}){seen}", op.code(), op.symbol(), op.name())
        })
        .collect();
    format!(
        "Filter condition_type codes: {}; filter type 0 joins with AND, 1 with OR.",
        ops.join(", ")
    )
}

fn main() {
    // Faults, objects and filter codes come from their one list each, so help
    // cannot fall behind.
    let command = Args::command().after_help(format!(
        "{}\n\n{}\n\nFaults (--fault, POST /_sim/faults): {}",
        objects_help(),
        filters_help(),
        Fault::names_help()
    ));
    let args = Args::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    let config = match config_from(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("runtel-sim: {e}");
            std::process::exit(2);
        }
    };
    let sim = match Simulator::start_on(&args.listen, config) {
        Ok(s) => s,
        // A refused configuration, not a port problem (a bad --listen address is
        // InvalidInput too, hence the downcast).
        Err(e) if e.get_ref().is_some_and(|e| e.is::<ConfigError>()) => {
            match (e.get_ref().and_then(|e| e.downcast_ref()), &args.fixtures) {
                (Some(ConfigError::Fixtures(m)), Some(path)) => {
                    eprintln!("runtel-sim: --fixtures {}: {m}", path.display())
                }
                (Some(ConfigError::Seed(m)), _) => eprintln!("runtel-sim: --seed: {m}"),
                (Some(ConfigError::Accounts(m)), _) => eprintln!("runtel-sim: --user: {m}"),
                _ => eprintln!("runtel-sim: {e}"),
            }
            std::process::exit(2);
        }
        Err(e) => {
            eprintln!("runtel-sim: cannot listen on {}: {e}", args.listen);
            std::process::exit(1);
        }
    };
    if let Some(spec) = &args.fault {
        match Fault::parse(spec) {
            Ok(fault) => sim.push_fault(FaultRule {
                fault,
                times: None,
                action: None,
                probability: args.fault_probability.clamp(0.0, 1.0),
            }),
            Err(e) => {
                eprintln!("runtel-sim: --fault: {e}");
                std::process::exit(2);
            }
        }
    }
    if let (Some(path), Some(pem)) = (&args.cert_out, sim.cert_pem()) {
        if let Err(e) = std::fs::write(path, pem) {
            eprintln!("runtel-sim: cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {}", sim.url());
    let _ = out.flush();
    drop(out);
    loop {
        std::thread::park();
    }
}
