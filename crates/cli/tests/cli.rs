//! The `runtel` binary run as a process against runtel-sim.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use runtel_sim::{Fault, FaultRule, SimConfig, Simulator, DEFAULT_LOGIN};
use serde_json::{Map, Value};

/// A scratch HOME for one test: config and cache live here.
struct Home(PathBuf);

impl Home {
    fn new(name: &str) -> Home {
        let p = std::env::temp_dir().join(format!("runtel-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Home(p)
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
    fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_runtel"));
        self.prepare(&mut c);
        c
    }
    /// The tool run through `sh` with this umask, so files it creates show whether
    /// it sets their mode itself or leaves it to the umask.
    fn cmd_with_umask(&self, umask: &str) -> Command {
        let mut c = Command::new("sh");
        c.args([
            "-c",
            &format!("umask {umask} && exec \"$0\" \"$@\""),
            env!("CARGO_BIN_EXE_runtel"),
        ]);
        self.prepare(&mut c);
        c
    }
    fn prepare(&self, c: &mut Command) {
        c.env_clear()
            .env("HOME", &self.0)
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::null());
    }
    fn write_config(&self, text: &str, mode: u32) {
        let p = self.path(".config/runtel/config.toml");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn run_with_stdin(cmd: &mut Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A tool that refuses before reading its input (a bad cache directory) may be
    // gone before the input is written: its answer is what counts.
    match child.stdin.take().unwrap().write_all(input.as_bytes()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => panic!("writing to the tool's stdin: {e}"),
    }
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn sim(cdrs: u64) -> Simulator {
    Simulator::start(SimConfig {
        seed: vec![("DomainCDR".into(), cdrs)],
        ..SimConfig::default()
    })
    .unwrap()
}

fn logged_in(home: &Home, s: &Simulator) {
    let out = run_with_stdin(
        home.cmd().args([
            "--url",
            s.url(),
            "--login",
            DEFAULT_LOGIN,
            "--password-stdin",
            "login",
        ]),
        "admin\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn demo_runs_the_main_job_offline() {
    let home = Home::new("demo");
    let out = run(home.cmd().args(["demo", "--cdrs", "2000"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for needle in [
        "[1] log in",
        "[2] list users",
        "created user",
        "deleted user",
        "2000 records",
        "[5] log out",
        "1 login(s)",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");
    }
    assert!(
        !stdout.contains("Demo-pass-1"),
        "the demo user's password is never shown"
    );
}

#[test]
fn help_documents_exit_codes_and_subcommands() {
    let home = Home::new("help");
    let out = text(&run(home.cmd().arg("--help")).stdout);
    for needle in [
        "demo",
        "login",
        "logout",
        "call",
        "export",
        "Exit codes:",
        "auth_lockout",
        "10  not_authenticated",
    ] {
        assert!(out.contains(needle), "{needle}");
    }
}

#[test]
fn token_cache_means_one_login_for_many_invocations() {
    let s = sim(10);
    let home = Home::new("cache");
    logged_in(&home, &s);
    let cache = home.path(".cache/runtel/session-default.json");
    assert_eq!(
        std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        !std::fs::read_to_string(&cache)
            .unwrap()
            .contains("password"),
        "no password in the cache"
    );
    for i in 0..5 {
        // No password anywhere: only the cached token can make this work.
        let out = run(home
            .cmd()
            .args(["--url", s.url(), "call", "User", "get", "id:=1"]));
        assert!(out.status.success(), "call {i}: {}", text(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["body"]["login"], DEFAULT_LOGIN);
        assert!(
            !text(&out.stdout).contains('\n') || text(&out.stdout).trim().lines().count() == 1,
            "compact when piped"
        );
    }
    let k = s.counters();
    assert_eq!((k.auth_attempts, k.action("get")), (1, 5));
    // logout ends the cached session on the server and removes it.
    let out = run(home.cmd().args(["--url", s.url(), "logout"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(s.counters().action("logout"), 1);
    assert!(!cache.exists());
    let out = run(home.cmd().args(["--url", s.url(), "call", "User", "list"]));
    assert_eq!(
        out.status.code(),
        Some(10),
        "not_authenticated without cache or password"
    );
}

#[test]
fn settings_precedence_flags_then_env_then_profile() {
    let home = Home::new("precedence");
    home.write_config(
        "[profiles.default]\nurl = \"http://profile.example\"\nlogin = \"p@x.cz\"\n\n[profiles.other]\nurl = \"http://other.example\"\n",
        0o644,
    );
    let url_of = |out: &Output| {
        text(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    let dry = ["call", "User", "list", "--dry-run"];
    assert_eq!(
        url_of(&run(home.cmd().args(dry))),
        "POST http://profile.example/api/"
    );
    assert_eq!(
        url_of(&run(home
            .cmd()
            .args(dry)
            .env("RUNTEL_URL", "http://env.example"))),
        "POST http://env.example/api/"
    );
    assert_eq!(
        url_of(&run(home
            .cmd()
            .args(["--url", "http://flag.example"])
            .args(dry)
            .env("RUNTEL_URL", "http://env.example"))),
        "POST http://flag.example/api/"
    );
    assert_eq!(
        url_of(&run(home.cmd().args(["--profile", "other"]).args(dry))),
        "POST http://other.example/api/"
    );
    assert_eq!(
        url_of(&run(home.cmd().args(dry).env("RUNTEL_PROFILE", "other"))),
        "POST http://other.example/api/"
    );
    let login_of = |out: &Output| {
        let body = text(&out.stdout);
        let v: Value = serde_json::from_str(body.split_once("\n\n").unwrap().1).unwrap();
        v["params"]["login"].as_str().unwrap().to_owned()
    };
    assert_eq!(
        login_of(&run(home.cmd().args(["login", "--dry-run"]))),
        "p@x.cz"
    );
    assert_eq!(
        login_of(&run(home
            .cmd()
            .args(["login", "--dry-run"])
            .env("RUNTEL_LOGIN", "e@x.cz"))),
        "e@x.cz"
    );
    assert_eq!(
        login_of(&run(home
            .cmd()
            .args(["--login", "f@x.cz", "login", "--dry-run"])
            .env("RUNTEL_LOGIN", "e@x.cz"))),
        "f@x.cz"
    );
}

#[test]
fn secret_files_must_be_private() {
    let s = sim(0);
    let home = Home::new("perms");
    let config = format!(
        "[profiles.default]\nurl = \"{}\"\nlogin = \"{DEFAULT_LOGIN}\"\npassword = \"admin\"\n",
        s.url()
    );
    home.write_config(&config, 0o644);
    let out = run(home.cmd().args(["call", "User", "list"]));
    assert_eq!(out.status.code(), Some(11));
    assert!(
        text(&out.stderr).contains("chmod 600"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(s.counters().requests, 0);
    home.write_config(&config, 0o600);
    let out = run(home.cmd().args(["call", "User", "list"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A cache file someone loosened is refused, not trusted.
    let cache = home.path(".cache/runtel/session-default.json");
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(home.cmd().args(["call", "User", "list"]));
    assert_eq!(out.status.code(), Some(11), "{}", text(&out.stderr));
}

#[test]
fn dry_run_prints_the_request_masked_and_sends_nothing() {
    let s = sim(0);
    let home = Home::new("dry");
    let out = run(home.cmd().args([
        "--url",
        s.url(),
        "call",
        "User",
        "update",
        "id:=5",
        "name=Anna",
        "--dry-run",
    ]));
    assert!(out.status.success());
    let o = text(&out.stdout);
    assert!(o.starts_with(&format!("POST {}/api/\n", s.url())), "{o}");
    assert!(
        o.contains("Authorization: Bearer ***") && o.contains("Content-Type: application/json")
    );
    let body: Value = serde_json::from_str(o.split_once("\n\n").unwrap().1).unwrap();
    assert_eq!(body["params"], serde_json::json!({"id": 5, "name": "Anna"}));
    assert_eq!(
        (body["obj"].as_str(), body["action"].as_str()),
        (Some("User"), Some("update"))
    );
    let out = run(home
        .cmd()
        .args(["--url", s.url(), "--login", "a@b.cz", "login", "--dry-run"])
        .env("RUNTEL_PASSWORD", "Real-Secret-9"));
    let o = text(&out.stdout);
    assert!(
        o.contains("\"password\": \"***\"") || o.contains("\"password\":\"***\""),
        "{o}"
    );
    assert!(!o.contains("Real-Secret-9") && !o.contains("Authorization"));
    assert_eq!(s.counters().requests, 0, "dry runs send nothing");
}

#[test]
fn exit_codes_by_error_kind_and_one_line_errors() {
    let s = sim(0);
    let home = Home::new("exit");
    logged_in(&home, &s);
    let base = |h: &Home| {
        let mut c = h.cmd();
        c.args(["--url", s.url()]);
        c
    };
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["call", "User", "get", "id:=4242"],
            7,
            "runtel: error: api: User.get: HTTP 404, code 404, msg_id \"not_found\"",
        ),
        (
            vec!["call", "User", "list", "--params", "{bad"],
            3,
            "runtel: error: invalid_input:",
        ),
        (
            vec!["call", "User", "list", "--params", "@/nonexistent.json"],
            11,
            "runtel: error: local:",
        ),
    ];
    for (args, code, start) in cases {
        let out = run(base(&home).args(&args));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.starts_with(start), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"));
    }
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = run(home
        .cmd()
        .args([
            "--url",
            &format!("http://{dead}"),
            "--login",
            "a@b.cz",
            "call",
            "User",
            "list",
        ])
        .env("RUNTEL_PASSWORD", "x"));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    s.push_fault(FaultRule::times(Fault::Delay(Duration::from_secs(3)), 1));
    let out = run(base(&home).args(["--timeout", "0.5", "call", "User", "list"]));
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    s.push_fault(FaultRule::times(Fault::WrongActionId, 1));
    assert_eq!(
        run(base(&home).args(["call", "User", "list"]))
            .status
            .code(),
        Some(6)
    );
}

#[test]
fn lockout_persists_across_invocations() {
    let s = sim(0);
    let home = Home::new("lockout");
    let login = |pw: &str| {
        run_with_stdin(
            home.cmd().args([
                "--url",
                s.url(),
                "--login",
                DEFAULT_LOGIN,
                "--password-stdin",
                "login",
            ]),
            pw,
        )
    };
    for _ in 0..3 {
        let out = login("wrong\n");
        assert_eq!(out.status.code(), Some(8), "{}", text(&out.stderr));
        assert!(!text(&out.stderr).contains("wrong"));
    }
    let out = login("admin\n");
    assert_eq!(out.status.code(), Some(9), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("retry in"));
    assert_eq!(
        s.counters().auth_attempts,
        3,
        "the fourth process did not even try"
    );
    let guard = std::fs::read_dir(home.path(".cache/runtel"))
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().starts_with("guard-"))
        .unwrap()
        .path();
    assert_eq!(
        std::fs::metadata(guard).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

/// Parses this tool's CSV (RFC 4180 quoting, CRLF rows).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    rows
}

fn cell_of(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn export_100k_in_every_format_record_by_record() {
    const N: i64 = 100_000;
    let s = sim(N as u64);
    let home = Home::new("export");
    logged_in(&home, &s);
    let expected = |id: i64| s.seeded_record("DomainCDR", id).unwrap();
    for format in ["jsonl", "csv", "json"] {
        let out_path = home.path(&format!("cdrs.{format}"));
        let out = run(home
            .cmd()
            .args([
                "--url",
                s.url(),
                "export",
                "DomainCDR",
                "--format",
                format,
                "-o",
            ])
            .arg(&out_path));
        assert!(out.status.success(), "{format}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(&format!("exported {N} records")));
        assert!(
            !home.path(&format!("cdrs.{format}.part")).exists(),
            "the temp file was renamed"
        );
        let body = std::fs::read_to_string(&out_path).unwrap();
        match format {
            "jsonl" => {
                let mut n = 0;
                for (i, line) in body.lines().enumerate() {
                    let rec: Map<String, Value> = serde_json::from_str(line).unwrap();
                    assert_eq!(rec, expected(i as i64 + 1), "line {i}");
                    n += 1;
                }
                assert_eq!(n, N);
            }
            "json" => {
                let all: Vec<Map<String, Value>> = serde_json::from_str(&body).unwrap();
                assert_eq!(all.len() as i64, N);
                for (i, rec) in all.iter().enumerate() {
                    assert_eq!(rec, &expected(i as i64 + 1), "record {i}");
                }
            }
            _ => {
                let rows = parse_csv(&body);
                assert_eq!(rows.len() as i64, N + 1);
                let header = &rows[0];
                assert_eq!(header, &expected(1).keys().cloned().collect::<Vec<_>>());
                for (i, row) in rows[1..].iter().enumerate() {
                    let rec = expected(i as i64 + 1);
                    let want: Vec<String> = header.iter().map(|k| cell_of(&rec[k])).collect();
                    assert_eq!(row, &want, "row {i}");
                }
            }
        }
    }
    // --since filters on dt.
    let since = s.seed_dt("DomainCDR", N - 10);
    let out = run(home.cmd().args([
        "--url",
        s.url(),
        "export",
        "DomainCDR",
        "--since",
        &since.to_string(),
    ]));
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout).lines().count(),
        10,
        "ids N-9..=N have dt >= since"
    );
}

#[test]
fn interrupted_export_resumes_to_the_same_file() {
    const N: u64 = 60_000;
    let s = sim(N);
    let home = Home::new("resume");
    logged_in(&home, &s);
    let reference = home.path("reference.csv");
    let out = run(home
        .cmd()
        .args([
            "--url",
            s.url(),
            "export",
            "DomainCDR",
            "--format",
            "csv",
            "-o",
        ])
        .arg(&reference));
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Slow every page down, start the export, kill it mid-way.
    s.push_fault(FaultRule {
        fault: Fault::Delay(Duration::from_millis(40)),
        times: None,
        action: Some("list".into()),
        probability: 1.0,
    });
    let target = home.path("cdrs.csv");
    let state = home.path("cdrs.csv.part.state");
    let mut child = home
        .cmd()
        .args([
            "--url",
            s.url(),
            "export",
            "DomainCDR",
            "--format",
            "csv",
            "-o",
        ])
        .arg(&target)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let offset = std::fs::read_to_string(&state)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v["offset"].as_u64())
            .unwrap_or(0);
        if offset >= 20_000 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "export made no progress"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !target.exists(),
        "an interrupted export leaves no final file"
    );
    s.clear_faults();

    let out = run(home
        .cmd()
        .args([
            "--url",
            s.url(),
            "export",
            "DomainCDR",
            "--format",
            "csv",
            "--resume",
            "-o",
        ])
        .arg(&target));
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("resumed at record"), "{err}");
    assert_eq!(
        std::fs::read(&target).unwrap(),
        std::fs::read(&reference).unwrap(),
        "same bytes as an uninterrupted export"
    );
    assert!(!state.exists());
    // Resuming another export's state is refused.
    let out = run(home
        .cmd()
        .args(["--url", s.url(), "export", "DomainCDR", "--resume", "-o"])
        .arg(home.path("none.jsonl")));
    assert_eq!(out.status.code(), Some(11));
}

#[test]
fn password_prompt_on_a_terminal_does_not_echo() {
    // `script` (util-linux) gives the tool a pseudo-terminal, as a person would have.
    let s = Simulator::start(SimConfig {
        accounts: vec![runtel_sim::Account::domain_admin(
            "p@x.cz",
            "Prompt-Secret-7",
        )],
        ..SimConfig::default()
    })
    .unwrap();
    let home = Home::new("prompt");
    let command = format!(
        "{} --url {} --login p@x.cz login",
        env!("CARGO_BIN_EXE_runtel"),
        s.url()
    );
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_clear()
        .env("HOME", &home.0)
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux");
    let mut stdin = child.stdin.take().unwrap();
    std::thread::sleep(Duration::from_millis(700)); // let the prompt turn echo off first
    stdin.write_all(b"Prompt-Secret-7\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let screen = text(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(screen.contains("Password for p@x.cz:"), "{screen}");
    assert!(screen.contains("logged in as p@x.cz"), "{screen}");
    assert!(
        !screen.contains("Prompt-Secret-7"),
        "the password was echoed: {screen}"
    );
    assert_eq!(s.counters().auth_attempts, 1);
}

/// The next answer of `s` is `body` with HTTP `status`, whatever was asked; the
/// body's `"action_id":"REPLAYED"` is replaced by the live request's id.
fn replay_next(s: &Simulator, status: u16, body: Value) {
    s.push_fault(FaultRule::times(Fault::envelope(status, &body), 1));
}

/// Sets the window title, then clears the screen, on a terminal that obeys it.
const HOSTILE: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J";

fn mode_of(p: &std::path::Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn server_text_is_escaped_before_it_reaches_the_terminal() {
    let s = sim(0);
    let home = Home::new("escape");
    logged_in(&home, &s);
    replay_next(
        &s,
        400,
        serde_json::json!({
            "action": "list", "action_id": "REPLAYED", "obj": "User", "code": 400,
            "msg_id": format!("bad{HOSTILE}"),
            "message": format!("Invalid {HOSTILE}\nruntel: forged line\r\u{9b}31m\u{7f}\u{202e}"),
            "errors": {"name": [format!("x{HOSTILE}\u{9b}0m")]},
            "notifies": [], "body": {}
        }),
    );
    let out = run(home.cmd().args(["--url", s.url(), "call", "User", "list"]));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{err}");
    let line = err.strip_suffix('\n').unwrap_or(&err);
    assert!(
        !line.chars().any(|c| c.is_control() || c == '\u{202e}'),
        "raw control characters reached stderr: {line:?}"
    );
    assert!(line.starts_with("runtel: error: api: "), "{line:?}");
    assert!(
        line.contains(r"Invalid \x1b]0;pwned\x07\x1b[2J"),
        "{line:?}"
    );
    assert!(line.contains(r"\nruntel: forged line\r"), "{line:?}");

    // The login summary shows the server's role name: escaped as well.
    replay_next(
        &s,
        200,
        serde_json::json!({
            "action": "auth", "action_id": "REPLAYED", "obj": "User", "code": 200,
            "notifies": [],
            "body": {"exp": "2099-01-01T00:00:00", "user_id": 7, "user_login": DEFAULT_LOGIN,
                     "role_name": format!("Admin{HOSTILE}\u{9b}31m"), "role_type": 1,
                     "token": "replayed-token"}
        }),
    );
    let out = run_with_stdin(
        home.cmd().args([
            "--url",
            s.url(),
            "--login",
            DEFAULT_LOGIN,
            "--password-stdin",
            "login",
        ]),
        "admin\n",
    );
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("logged in as"), "{err:?}");
    assert!(
        !err.trim_end().chars().any(|c| c.is_control()),
        "raw control characters reached stderr: {err:?}"
    );
    assert!(
        err.contains(r"Admin\x1b]0;pwned\x07\x1b[2J\u{009b}31m"),
        "{err:?}"
    );
}

/// A list answer with one record of cells a spreadsheet would run as formulas.
fn replay_formula_record(s: &Simulator) {
    replay_next(
        s,
        200,
        serde_json::json!({
            "action": "list", "action_id": "REPLAYED", "obj": "DomainCDR", "code": 200,
            "notifies": [],
            "list": [{
                "id": 1, "src": "+79161234567", "neg": "-5", "num": -5, "frac": "-2.5e3",
                "dst": "=HYPERLINK(\"http://x\",\"y\")", "at": "@SUM(A1)",
                "plus": "+cmd|' /C calc'!A0", "minus": "-1+1", "tab": "\tx", "cr": "\rx",
                "plain": "Anna", "=col": "v"
            }],
            "total_count": 1
        }),
    );
}

#[test]
fn csv_export_neutralises_formulas_unless_asked_not_to() {
    let s = sim(0);
    let home = Home::new("formula");
    logged_in(&home, &s);
    let export = |extra: &[&str]| {
        let path = home.path("cdrs.csv");
        let out = run(home
            .cmd()
            .args(["--url", s.url(), "export", "DomainCDR", "--format", "csv"])
            .args(extra)
            .arg("-o")
            .arg(&path));
        assert!(out.status.success(), "{}", text(&out.stderr));
        let rows = parse_csv(&std::fs::read_to_string(&path).unwrap());
        assert_eq!(rows.len(), 2, "{rows:?}");
        rows[0]
            .iter()
            .cloned()
            .zip(rows[1].iter().cloned())
            .collect::<std::collections::BTreeMap<String, String>>()
    };
    replay_formula_record(&s);
    let safe = export(&[]);
    let want = |k: &str| safe.get(k).map(String::as_str);
    // Phone numbers and plain numbers stay as they are.
    assert_eq!(want("src"), Some("+79161234567"));
    assert_eq!(want("neg"), Some("-5"));
    assert_eq!(want("num"), Some("-5"));
    assert_eq!(want("frac"), Some("-2.5e3"));
    assert_eq!(want("plain"), Some("Anna"));
    // Anything a spreadsheet would evaluate gets a leading quote.
    assert_eq!(want("dst"), Some("'=HYPERLINK(\"http://x\",\"y\")"));
    assert_eq!(want("at"), Some("'@SUM(A1)"));
    assert_eq!(want("plus"), Some("'+cmd|' /C calc'!A0"));
    assert_eq!(want("minus"), Some("'-1+1"));
    assert_eq!(want("tab"), Some("'\tx"));
    assert_eq!(want("cr"), Some("'\rx"));
    // Column names come from the server too.
    assert_eq!(safe.get("'=col").map(String::as_str), Some("v"), "{safe:?}");

    replay_formula_record(&s);
    let raw = export(&["--csv-raw-formulas"]);
    assert_eq!(
        raw.get("dst").map(String::as_str),
        Some("=HYPERLINK(\"http://x\",\"y\")")
    );
    assert_eq!(
        raw.get("plus").map(String::as_str),
        Some("+cmd|' /C calc'!A0")
    );
    assert_eq!(raw.get("src").map(String::as_str), Some("+79161234567"));
    assert_eq!(raw.get("=col").map(String::as_str), Some("v"));

    let help = text(&run(home.cmd().args(["export", "--help"])).stdout);
    assert!(help.contains("--csv-raw-formulas"), "{help}");
    assert!(help.contains("0600"), "{help}");
}

#[test]
fn export_files_are_private_whatever_the_umask() {
    const N: u64 = 20_000;
    let s = sim(N);
    let home = Home::new("export-mode");
    logged_in(&home, &s);
    let target = home.path("cdrs.jsonl");
    std::fs::write(&target, "an older export\n").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
    let part = home.path("cdrs.jsonl.part");
    let state = home.path("cdrs.jsonl.part.state");
    s.push_fault(FaultRule {
        fault: Fault::Delay(Duration::from_millis(40)),
        times: None,
        action: Some("list".into()),
        probability: 1.0,
    });
    let mut child = home
        .cmd_with_umask("000")
        .args(["--url", s.url(), "export", "DomainCDR", "-o"])
        .arg(&target)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !state.exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "no checkpoint");
        std::thread::sleep(Duration::from_millis(10));
    }
    let (part_mode, state_mode) = (mode_of(&part), mode_of(&state));
    child.kill().unwrap();
    child.wait().unwrap();
    s.clear_faults();
    assert_eq!(part_mode, 0o600, "{} while exporting", part.display());
    assert_eq!(state_mode, 0o600, "{} while exporting", state.display());

    // The resumed export keeps them private, and so is the file it leaves.
    std::fs::set_permissions(&part, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(home
        .cmd_with_umask("000")
        .args(["--url", s.url(), "export", "DomainCDR", "--resume", "-o"])
        .arg(&target));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(mode_of(&target), 0o600);
    assert_eq!(
        std::fs::read_to_string(&target).unwrap().lines().count() as u64,
        N
    );
    // A fresh export under a umask that would strip the owner's write bit.
    let other = home.path("other.csv");
    let out = run(home
        .cmd_with_umask("277")
        .args([
            "--url",
            s.url(),
            "export",
            "DomainCDR",
            "--format",
            "csv",
            "-o",
        ])
        .arg(&other));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(mode_of(&other), 0o600);
}

#[test]
fn cache_writes_do_not_follow_a_planted_symlink() {
    let s = sim(0);
    let home = Home::new("symlink");
    let dir = home.path(".cache/runtel");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let victim = home.path("victim.txt");
    std::fs::write(&victim, "original").unwrap();
    let mut child = home
        .cmd()
        .args([
            "--url",
            s.url(),
            "--login",
            DEFAULT_LOGIN,
            "--password-stdin",
            "login",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The process waits for its password, so its pid (the old temp-name suffix) is
    // known before it writes anything.
    let pid = child.id();
    let planted = dir.join(format!("session-default.json.tmp{pid}"));
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"admin\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "original");
    assert!(std::fs::symlink_metadata(&planted)
        .unwrap()
        .file_type()
        .is_symlink());
    let cache = dir.join("session-default.json");
    let meta = std::fs::symlink_metadata(&cache).unwrap();
    assert!(meta.file_type().is_file(), "the cache is a file of its own");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    // And the cached token works.
    let out = run(home
        .cmd()
        .args(["--url", s.url(), "call", "User", "get", "id:=1"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(s.counters().auth_attempts, 1);
}

#[test]
fn cache_dir_others_can_write_or_that_is_a_symlink_is_refused() {
    let s = sim(0);
    let home = Home::new("cachedir");
    let dir = home.path(".cache/runtel");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let login = |h: &Home| {
        run_with_stdin(
            h.cmd().args([
                "--url",
                s.url(),
                "--login",
                DEFAULT_LOGIN,
                "--password-stdin",
                "login",
            ]),
            "admin\n",
        )
    };
    let out = login(&home);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(11), "{err}");
    assert!(err.starts_with("runtel: error: local:"), "{err}");
    assert!(
        err.contains(&format!("chmod 700 {}", dir.display())),
        "names the directory and the fix: {err}"
    );
    assert_eq!(s.counters().auth_attempts, 0, "refused before logging in");
    assert_eq!(mode_of(&dir), 0o777, "left as found");
    // After the fix it works.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = login(&home);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // A cache directory that is a symbolic link is refused too.
    let home2 = Home::new("cachedir-link");
    let real = home2.path("elsewhere");
    std::fs::create_dir_all(&real).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::create_dir_all(home2.path(".cache")).unwrap();
    std::os::unix::fs::symlink(&real, home2.path(".cache/runtel")).unwrap();
    let out = login(&home2);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(11), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_dir(&real).unwrap().count(), 0);

    // A new cache directory is made 0700 whatever the umask.
    let home3 = Home::new("cachedir-new");
    let out = run_with_stdin(
        home3.cmd_with_umask("000").args([
            "--url",
            s.url(),
            "--login",
            DEFAULT_LOGIN,
            "--password-stdin",
            "login",
        ]),
        "admin\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(mode_of(&home3.path(".cache/runtel")), 0o700);
}

#[test]
fn plain_http_to_another_host_warns_before_anything_is_sent() {
    let home = Home::new("plain");
    let dry = |url: &str| {
        let mut c = home.cmd();
        c.args(["--url", url, "call", "User", "list", "--dry-run"]);
        c
    };
    let warning = |out: &Output| {
        text(&out.stderr)
            .lines()
            .filter(|l| l.starts_with("runtel: warning:"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let out = run(&mut dry("http://192.0.2.1:9"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let w = warning(&out);
    assert_eq!(w.len(), 1, "{}", text(&out.stderr));
    assert!(w[0].contains("http://192.0.2.1:9"), "{}", w[0]);
    assert!(w[0].contains("RUNTEL_ALLOW_PLAIN_HTTP"), "{}", w[0]);
    for url in [
        "http://127.0.0.1:9",
        "http://127.3.4.5",
        "http://localhost:8080/pbx",
        "http://LOCALHOST.",
        "http://[::1]:9",
        "https://192.0.2.1",
    ] {
        let out = run(&mut dry(url));
        assert!(out.status.success(), "{url}");
        assert!(warning(&out).is_empty(), "{url}: {}", text(&out.stderr));
    }
    let out = run(dry("http://192.0.2.1:9").env("RUNTEL_ALLOW_PLAIN_HTTP", "1"));
    assert!(warning(&out).is_empty(), "{}", text(&out.stderr));
    home.write_config(
        "[profiles.default]\nurl = \"http://pbx.example\"\nallow_plain_http = true\n\n[profiles.loud]\nurl = \"http://pbx.example\"\n",
        0o600,
    );
    let out = run(home.cmd().args(["call", "User", "list", "--dry-run"]));
    assert!(warning(&out).is_empty(), "{}", text(&out.stderr));
    let out = run(home
        .cmd()
        .args(["--profile", "loud", "call", "User", "list", "--dry-run"]));
    assert_eq!(warning(&out).len(), 1, "{}", text(&out.stderr));
    // A real login: the warning comes first, before the connection fails.
    let out = run(home
        .cmd()
        .args([
            "--profile",
            "loud",
            "--url",
            "http://192.0.2.1:9",
            "--timeout",
            "0.5",
            "--login",
            "a@b.cz",
            "login",
        ])
        .env("RUNTEL_PASSWORD", "x"));
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(err.starts_with("runtel: warning:"), "{err}");
    assert_eq!(err.lines().count(), 2, "the warning, then the error: {err}");
}

#[test]
fn out_of_range_durations_are_invalid_input_not_a_panic() {
    let home = Home::new("durations");
    for t in ["1e300", "nan", "-1", "inf", "0"] {
        let out = run(home.cmd().args([
            "--url",
            "http://127.0.0.1:9",
            "--timeout",
            t,
            "call",
            "User",
            "list",
            "--dry-run",
        ]));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "--timeout {t}: {err}");
        assert!(
            err.starts_with("runtel: error: invalid_input:"),
            "{t}: {err}"
        );
        assert!(err.contains("--timeout"), "{t}: {err}");
    }
    home.write_config(
        "[profiles.default]\nurl = \"http://127.0.0.1:9\"\ntimeout = 1e300\n",
        0o600,
    );
    let out = run(home.cmd().args(["call", "User", "list", "--dry-run"]));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("timeout"), "{err}");
    for since in ["999999999999999999d", "-5d"] {
        let out = run(home
            .cmd()
            .args(["--timeout", "5", "export", "DomainCDR", "--since", since]));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "--since {since}: {err}");
        assert!(err.contains("--since"), "{since}: {err}");
    }
}

/// Runs `cmd` with its standard output closed by the reader before the tool writes
/// anything: the tool blocks reading `input` from stdin until then.
fn run_with_stdout_closed(cmd: &mut Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_stdout_ends_the_tool_quietly() {
    let s = sim(5000);
    let home = Home::new("epipe");
    logged_in(&home, &s);
    let cases: [&[&str]; 3] = [
        &["call", "User", "list", "--params", "@-"],
        &["call", "User", "list", "--params", "@-", "--dry-run"],
        &[
            "export",
            "DomainCDR",
            "--page-size",
            "500",
            "--params",
            "@-",
        ],
    ];
    for args in cases {
        let out = run_with_stdout_closed(home.cmd().args(["--url", s.url()]).args(args), "{}");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(text(&out.stderr), "", "{args:?}");
    }
    // The demo has no input to wait for; its simulator takes long enough to start.
    let out = run_with_stdout_closed(home.cmd().args(["demo", "--cdrs", "10"]), "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
}

/// A simulator whose Defender never blocks and whose logins take a while, so
/// that parallel logins overlap and what reaches it is what the tool let through.
fn lenient_sim(cdrs: u64) -> Simulator {
    Simulator::start(SimConfig {
        seed: vec![("DomainCDR".into(), cdrs)],
        defender_max_failures: 1000,
        auth_delay: Duration::from_millis(100),
        ..SimConfig::default()
    })
    .unwrap()
}

#[test]
fn sixteen_parallel_processes_with_a_wrong_password_send_three_logins() {
    let s = lenient_sim(0);
    let home = Home::new("xargs");
    // As `xargs -P 16` starts them: all at once, one cache directory.
    let children: Vec<_> = (0..16)
        .map(|_| {
            let mut child = home
                .cmd()
                .args([
                    "--url",
                    s.url(),
                    "--login",
                    DEFAULT_LOGIN,
                    "--password-stdin",
                    "login",
                ])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(b"wrong\n").unwrap();
            child
        })
        .collect();
    let codes: Vec<Option<i32>> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap().status.code())
        .collect();
    assert_eq!(s.counters().auth_attempts, 3, "exit codes {codes:?}");
    assert_eq!(
        codes.iter().filter(|c| **c == Some(8)).count(),
        3,
        "{codes:?}"
    );
    assert_eq!(
        codes.iter().filter(|c| **c == Some(9)).count(),
        13,
        "{codes:?}"
    );
    let state = std::fs::read_dir(home.path(".cache/runtel"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("guard-") && name.ends_with(".json")
        })
        .unwrap();
    let v: Value = serde_json::from_str(&std::fs::read_to_string(state).unwrap()).unwrap();
    assert_eq!(v["failures"], 3);
}

#[test]
fn the_guard_file_is_one_per_server_whatever_the_spelling() {
    let s = lenient_sim(0);
    let home = Home::new("spellings");
    let port = s.addr().port();
    for url in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("http://127.1:{port}/"),
        format!("http://127.0.0.1:0{port}"),
        format!("http://LOCALHOST:{port}/x/.."),
    ] {
        let out = run_with_stdin(
            home.cmd().args([
                "--url",
                &url,
                "--login",
                DEFAULT_LOGIN,
                "--password-stdin",
                "login",
            ]),
            "wrong\n",
        );
        assert!(
            matches!(out.status.code(), Some(8 | 9)),
            "{url}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(s.counters().auth_attempts, 3);
}

#[test]
fn export_from_a_server_that_caps_pages_is_complete() {
    let s = sim(250);
    s.set_max_page_size(Some(100));
    let home = Home::new("capped");
    logged_in(&home, &s);
    let out_file = home.path("cdrs.jsonl");
    let out = run(home.cmd().args([
        "--url",
        s.url(),
        "export",
        "DomainCDR",
        "--format",
        "jsonl",
        "-o",
        out_file.to_str().unwrap(),
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ids: Vec<i64> = std::fs::read_to_string(&out_file)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(ids, (1..=250).collect::<Vec<_>>());
}

fn recorded_page(s: &Simulator, ids: std::ops::Range<i64>, total: u64) {
    let list: Vec<Value> = ids.map(|id| serde_json::json!({"id": id})).collect();
    let body = serde_json::json!({"action": "list", "action_id": "REC", "obj": "DomainCDR",
        "code": 200, "notifies": [], "list": list, "total_count": total});
    s.push_fault(FaultRule::times(Fault::envelope(200, &body), 1).on_action("list"));
}

#[test]
fn an_export_that_ends_below_total_count_fails_and_leaves_no_final_file() {
    let s = sim(0);
    let home = Home::new("shortfall");
    logged_in(&home, &s);
    recorded_page(&s, 1..11, 25);
    recorded_page(&s, 0..0, 25);
    let out_file = home.path("cdrs.csv");
    let out = run(home.cmd().args([
        "--url",
        s.url(),
        "export",
        "DomainCDR",
        "--page-size",
        "10",
        "-o",
        out_file.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("export incomplete") && err.contains("25"),
        "{err}"
    );
    assert!(!out_file.exists(), "no file that looks complete");
}

#[test]
fn bombs_and_lying_lengths_stay_within_a_small_address_space() {
    let s = sim(0);
    let home = Home::new("bomb");
    logged_in(&home, &s);
    // The bomb is a protocol error; the truncated answer under a lying length is
    // a transport error, and `list` is retried, so the call then succeeds.
    for (fault, want) in [
        (Fault::GzipBomb(4 << 30), 6),
        (Fault::LyingLength(10_000_000_000), 0),
    ] {
        let applied = s.counters().faults_applied;
        s.push_fault(FaultRule::times(fault.clone(), 1).on_action("list"));
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            // 300 MiB of address space: the old client reserved its whole limit
            // from Content-Length, or inflated gigabytes.
            "ulimit -v 307200 && exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_runtel"),
            "--url",
            s.url(),
            "call",
            "User",
            "list",
        ]);
        home.prepare(&mut cmd);
        let out = run(&mut cmd);
        assert_eq!(
            out.status.code(),
            Some(want),
            "{fault:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(
            s.counters().faults_applied,
            applied + 1,
            "{fault:?} was served"
        );
    }
}

#[test]
fn echoed_requests_and_malformed_logins_never_reach_stderr_with_a_secret() {
    let s = lenient_sim(0);
    let home = Home::new("echo");
    let password = "Cli-Secret-Passw0rd-42";
    let login = |pw: &str| {
        run_with_stdin(
            home.cmd().args([
                "--url",
                s.url(),
                "--login",
                DEFAULT_LOGIN,
                "--password-stdin",
                "login",
            ]),
            &format!("{pw}\n"),
        )
    };
    let mut secrets = vec![password.to_owned()];
    let mut stderr = String::new();
    for fault in ["echo_request", "echo_envelope"] {
        s.push_fault(FaultRule::times(Fault::parse(fault).unwrap(), 1).on_action("auth"));
        let out = login(password);
        assert!(!out.status.success());
        stderr.push_str(&text(&out.stderr));
        // Each counted as a failed login: start the next with a clean count.
        assert!(login("admin").status.success());
    }
    for variant in [
        "truncated",
        "trailing_garbage",
        "no_code",
        "array",
        "http500",
    ] {
        let fault = Fault::parse(&format!("auth_malformed:{variant}")).unwrap();
        s.push_fault(FaultRule::times(fault, 1).on_action("auth"));
        let out = login("admin");
        assert!(!out.status.success(), "{variant}");
        secrets.push(s.last_issued_token().unwrap());
        stderr.push_str(&text(&out.stderr));
        // Each counted as a failed login: start the next with a clean count.
        assert!(login("admin").status.success());
    }
    // A logged-in call whose answer echoes the bearer token.
    secrets.push(s.last_issued_token().unwrap());
    for fault in ["echo_request", "echo_envelope"] {
        s.push_fault(FaultRule::times(Fault::parse(fault).unwrap(), 1).on_action("list"));
        let out = run(home.cmd().args(["--url", s.url(), "call", "User", "list"]));
        assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
        stderr.push_str(&text(&out.stderr));
    }
    assert!(
        stderr.contains("***"),
        "the echoes are there, masked: {stderr}"
    );
    for secret in &secrets {
        assert!(!stderr.contains(secret.as_str()), "leaked: {stderr}");
    }
}

/// The JSON body a `--dry-run` printed after its request line and headers.
fn dry_body(out: &Output) -> Value {
    let o = text(&out.stdout);
    let (_, body) = o
        .split_once("\n\n")
        .unwrap_or_else(|| panic!("no dry-run body in {o:?}: {}", text(&out.stderr)));
    serde_json::from_str(body).unwrap()
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn login_remembers_the_server_and_login_of_its_profile() {
    let s = sim(10);
    let home = Home::new("remember");
    logged_in(&home, &s);
    // No --url, no environment, no config file: only the session cache knows the server.
    let out = run(home.cmd().args(["call", "User", "list"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["total_count"].as_u64().unwrap() >= 1, "{v}");
    let out = run(home.cmd().args(["login", "--dry-run"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with(&format!("POST {}/api/\n", s.url())),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(dry_body(&out)["params"]["login"], DEFAULT_LOGIN);
    // A token the server no longer takes is renewed with the remembered login.
    s.expire_all_tokens();
    let out = run(home
        .cmd()
        .args(["call", "User", "get", "id:=1"])
        .env("RUNTEL_PASSWORD", "admin"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(s.counters().auth_attempts, 2);

    // Flags, the environment and the profile still win over the cache.
    let url_of = |out: &Output| {
        text(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    let dry = ["call", "User", "list", "--dry-run"];
    assert_eq!(
        url_of(&run(home
            .cmd()
            .args(["--url", "http://flag.example"])
            .args(dry))),
        "POST http://flag.example/api/"
    );
    assert_eq!(
        url_of(&run(home
            .cmd()
            .args(dry)
            .env("RUNTEL_URL", "http://env.example"))),
        "POST http://env.example/api/"
    );
    // The remembered login belongs to the remembered server, not to any other.
    let out = run(home
        .cmd()
        .args(["--url", "http://flag.example", "login", "--dry-run"]));
    assert_eq!(out.status.code(), Some(10), "{}", text(&out.stdout));
    home.write_config(
        "[profiles.default]\nurl = \"http://profile.example\"\n\n[profiles.other]\nlogin = \"o@x.cz\"\n",
        0o600,
    );
    assert_eq!(
        url_of(&run(home.cmd().args(dry))),
        "POST http://profile.example/api/"
    );
    // Another profile has no session, so no server either.
    let requests = s.counters().requests;
    let out = run(home
        .cmd()
        .args(["--profile", "other", "call", "User", "list"]));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no server URL"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(s.counters().requests, requests);
}

#[test]
fn key_value_words_are_strings_and_colon_equals_is_raw_json() {
    let s = sim(0);
    let home = Home::new("words");
    let out = run(home.cmd().args([
        "--url",
        s.url(),
        "call",
        "DomainUser",
        "append",
        "uid=101",
        "pin=0042",
        "user_id:=5",
        "agent:=true",
        "group_outbound:=null",
        "tags:=[1,\"a\"]",
        "extra:={\"k\":1.5}",
        "note=a=b:=c",
        "empty=",
        "--dry-run",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        dry_body(&out)["params"],
        serde_json::json!({"uid": "101", "pin": "0042", "user_id": 5, "agent": true,
            "group_outbound": null, "tags": [1, "a"], "extra": {"k": 1.5},
            "note": "a=b:=c", "empty": ""})
    );
    for bad in ["count:=abc", "count:=", "count:=[1,"] {
        let out =
            run(home
                .cmd()
                .args(["--url", s.url(), "call", "User", "list", bad, "--dry-run"]));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{bad}: {err}");
        assert!(
            err.starts_with("runtel: error: invalid_input:"),
            "{bad}: {err}"
        );
        assert!(err.contains("\"count\""), "names the key: {err}");
    }
    assert_eq!(s.counters().requests, 0);
    // The server wants uid as a string: `uid=101` now is one.
    logged_in(&home, &s);
    let out = run(home.cmd().args([
        "--url",
        s.url(),
        "call",
        "DomainUser",
        "append",
        "uid=101",
        "pin=0042",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&v["body"]["uid"], &v["body"]["pin"]),
        (&"101".into(), &"0042".into())
    );
    let help = text(&run(home.cmd().args(["call", "--help"])).stdout);
    for needle in [
        "key=value",
        "key:=JSON",
        "id:=5",
        "name=Anna",
        "always a string",
    ] {
        assert!(help.contains(needle), "{needle} in {help}");
    }
}

#[test]
fn limit_offset_and_filter_words_go_to_the_top_level_of_the_envelope() {
    let s = sim(10);
    let home = Home::new("paging-words");
    let filter = serde_json::json!({"field_list": [{"field": "dt", "condition_type": 5,
        "value": s.seed_dt("DomainCDR", 7)}], "type": 0});
    let filter_word = format!("filter:={filter}");
    let dry = |words: &[&str]| {
        let out = run(home
            .cmd()
            .args(["--url", s.url(), "call", "DomainCDR", "list"])
            .args(words)
            .arg("--dry-run"));
        assert!(out.status.success(), "{words:?}: {}", text(&out.stderr));
        dry_body(&out)
    };
    for words in [["limit=3", "offset=2"], ["limit:=3", "offset:=2"]] {
        let b = dry(&words);
        assert_eq!((&b["limit"], &b["offset"]), (&3.into(), &2.into()), "{b}");
        assert_eq!(b["params"], serde_json::json!({}), "{b}");
    }
    let b = dry(&["disposition=BUSY", &filter_word]);
    assert_eq!(b["filter"], filter);
    assert_eq!(b["params"], serde_json::json!({"disposition": "BUSY"}));
    // Exactly what the flags send.
    let filter_text = filter.to_string();
    assert_eq!(
        dry(&["limit=3", "offset:=2", &filter_word]),
        dry(&["--limit", "3", "--offset", "2", "--filter", &filter_text])
    );
    assert_eq!(dry(&[&format!("filter={filter}")])["filter"], filter);
    for (bad, key) in [
        (&["limit=abc"][..], "limit"),
        (&["limit:=-1"], "limit"),
        (&["offset:=1.5"], "offset"),
        (&["filter:=[1]"], "filter"),
        (&["filter=nojson"], "filter"),
        (&["limit=3", "--limit", "3"], "limit"),
    ] {
        let out = run(home
            .cmd()
            .args(["--url", s.url(), "call", "DomainCDR", "list"])
            .args(bad)
            .arg("--dry-run"));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{bad:?}: {err}");
        assert!(err.contains(key), "{bad:?}: {err}");
    }
    // A real call: 3 records of the 10, and the true total.
    logged_in(&home, &s);
    let list = |words: &[&str]| {
        let out = run(home
            .cmd()
            .args(["--url", s.url(), "call", "DomainCDR", "list"])
            .args(words));
        assert!(out.status.success(), "{words:?}: {}", text(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let ids: Vec<i64> = v["list"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        (v["total_count"].as_u64(), ids)
    };
    assert_eq!(list(&["limit=3"]), (Some(10), vec![1, 2, 3]));
    assert_eq!(list(&["limit=2", "offset=8"]), (Some(10), vec![9, 10]));
    assert_eq!(list(&[&filter_word]), (Some(3), vec![8, 9, 10]));
    let help = text(&run(home.cmd().args(["call", "--help"])).stdout);
    assert!(
        help.contains("limit, offset and filter") && help.contains("top level"),
        "{help}"
    );
}

#[test]
fn a_relative_since_is_fixed_when_the_export_starts_and_resumes_with_it() {
    // Seeded records pinned in 2024: outside `--since 7d`.
    let s = Simulator::start(SimConfig {
        seed: vec![("DomainCDR".into(), 300)],
        seed_epoch: Some(runtel_sim::SEED_BASE_DT),
        ..SimConfig::default()
    })
    .unwrap();
    let home = Home::new("since-resume");
    logged_in(&home, &s);
    // Log records are written by the platform, not through the API.
    let hour_ago = now_secs() - 3600;
    s.insert_records(
        "DomainCDR",
        (0..200)
            .map(|i| serde_json::json!({"dt": hour_ago + i, "src": "100"}))
            .collect(),
    )
    .unwrap();
    // Last in id order: inside the 7 days when the export starts, outside them
    // once a few seconds have passed.
    let base = now_secs();
    let edge = base - 7 * 86_400 + 4;
    s.insert_records(
        "DomainCDR",
        vec![serde_json::json!({"dt": edge, "src": "edge"})],
    )
    .unwrap();
    s.push_fault(FaultRule {
        fault: Fault::Delay(Duration::from_millis(150)),
        times: None,
        action: Some("list".into()),
        probability: 1.0,
    });
    let target = home.path("recent.jsonl");
    let state = home.path("recent.jsonl.part.state");
    let export = |extra: &[&str]| {
        let mut c = home.cmd();
        c.args([
            "--url",
            s.url(),
            "export",
            "DomainCDR",
            "--since",
            "7d",
            "--page-size",
            "20",
        ])
        .args(extra)
        .arg("-o")
        .arg(&target);
        c
    };
    assert!(
        now_secs() <= base + 2,
        "setting up took too long for this test's clock margin"
    );
    let mut child = export(&[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let offset = std::fs::read_to_string(&state)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v["offset"].as_u64())
            .unwrap_or(0);
        if offset >= 40 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    s.clear_faults();
    // `7d` read again now would leave out the edge record.
    while now_secs() <= base + 5 {
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = run(&mut export(&["--resume"]));
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("resumed at record"), "{err}");
    let recs: Vec<Value> = std::fs::read_to_string(&target)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 201, "the 200 recent records and the edge one");
    let ids: Vec<i64> = recs.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "in order, once: {ids:?}"
    );
    assert_eq!(
        recs[200]["src"], "edge",
        "the time of the first start was used"
    );
    // A new export reads `7d` anew, and the edge record is now too old.
    let out = run(&mut export(&[]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&target).unwrap().lines().count(),
        200
    );
}

/// The login guard's state file and lock file in `home`'s cache.
fn guard_paths(home: &Home) -> (PathBuf, PathBuf) {
    let dir = home.path(".cache/runtel");
    let lock = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("guard-") && name.ends_with(".lock")
        })
        .expect("a guard lock file");
    (lock.with_extension("json"), lock)
}

fn guard_failures(home: &Home) -> u64 {
    let (state, _) = guard_paths(home);
    match std::fs::read_to_string(state) {
        Ok(t) => serde_json::from_str::<Value>(&t).unwrap()["failures"]
            .as_u64()
            .unwrap(),
        Err(_) => 0,
    }
}

#[test]
fn status_shows_the_session_and_the_login_guard_of_the_server() {
    let s = sim(0);
    let home = Home::new("status");
    let status = || run(home.cmd().args(["--url", s.url(), "status"]));
    let login = |pw: &str| {
        run_with_stdin(
            home.cmd().args([
                "--url",
                s.url(),
                "--login",
                DEFAULT_LOGIN,
                "--password-stdin",
                "login",
            ]),
            pw,
        )
    };
    let out = status();
    let o = text(&out.stdout);
    assert_eq!(out.status.code(), Some(10), "{o}{}", text(&out.stderr));
    assert!(o.contains("logged in: no"), "{o}");
    assert!(o.contains(s.url()), "{o}");
    assert!(o.contains("no failed logins"), "{o}");
    for _ in 0..2 {
        assert_eq!(login("wrong\n").status.code(), Some(8));
    }
    let o = text(&status().stdout);
    assert!(o.contains("2 failed logins in a row"), "{o}");
    assert!(!o.contains("locked until"), "{o}");
    assert_eq!(login("wrong\n").status.code(), Some(8));
    let o = text(&status().stdout);
    assert!(o.contains("3 failed logins in a row"), "{o}");
    assert!(o.contains("locked until") && o.contains("UTC"), "{o}");
    assert_eq!(login("admin\n").status.code(), Some(9));

    // Clearing the guard warns that the server may still block this host.
    let out = run(home
        .cmd()
        .args(["--url", s.url(), "login", "--reset-guard"]));
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.starts_with("runtel: warning:"), "{err}");
    assert!(err.contains("Defender"), "{err}");
    assert!(err.contains("cleared"), "{err}");
    assert_eq!(guard_failures(&home), 0);
    let o = text(&status().stdout);
    assert!(
        o.contains("no failed logins") && !o.contains("locked"),
        "{o}"
    );

    assert!(login("admin\n").status.success());
    let requests = s.counters().requests;
    let out = status();
    let o = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{o}{}", text(&out.stderr));
    assert!(
        o.contains(&format!("logged in: yes, as {DEFAULT_LOGIN}")),
        "{o}"
    );
    assert!(o.contains("valid until") && o.contains(s.url()), "{o}");
    // And without --url: the server of the session.
    let o = text(&run(home.cmd().arg("status")).stdout);
    assert!(o.contains(s.url()) && o.contains("session cache"), "{o}");
    assert_eq!(s.counters().requests, requests, "status sends nothing");
}

#[test]
fn reset_guard_takes_the_login_lock() {
    let s = lenient_sim(0);
    let home = Home::new("reset-lock");
    for _ in 0..3 {
        let out = run_with_stdin(
            home.cmd().args([
                "--url",
                s.url(),
                "--login",
                DEFAULT_LOGIN,
                "--password-stdin",
                "login",
            ]),
            "wrong\n",
        );
        assert_eq!(out.status.code(), Some(8), "{}", text(&out.stderr));
    }
    assert_eq!(guard_failures(&home), 3);
    let (_, lock_path) = guard_paths(&home);
    let held = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&lock_path)
        .unwrap();
    held.lock().unwrap();
    // Another process holds the lock (as a login does): the reset waits, then gives up.
    let out = run(home.cmd().args([
        "--url",
        s.url(),
        "--timeout",
        "0.5",
        "login",
        "--reset-guard",
    ]));
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert_eq!(guard_failures(&home), 3, "not cleared without the lock");
    let child = home
        .cmd()
        .args(["--url", s.url(), "login", "--reset-guard"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(guard_failures(&home), 3, "cleared while the lock was held");
    held.unlock().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(guard_failures(&home), 0);
}

#[test]
fn unknown_profiles_and_config_keys_are_named() {
    let home = Home::new("config-names");
    let config = home.path(".config/runtel/config.toml");
    home.write_config(
        "[profiles.default]\nurl = \"http://127.0.0.1:9\"\n\n[profiles.work]\nurl = \"http://127.0.0.1:9\"\n",
        0o600,
    );
    for out in [
        run(home
            .cmd()
            .args(["--profile", "nosuch", "call", "User", "list", "--dry-run"])),
        run(home
            .cmd()
            .args(["call", "User", "list", "--dry-run"])
            .env("RUNTEL_PROFILE", "nosuch")),
    ] {
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(11), "{err}");
        assert!(err.contains("profile \"nosuch\" does not exist"), "{err}");
        assert!(err.contains("default, work"), "lists those that do: {err}");
        assert!(err.contains(&config.display().to_string()), "{err}");
        assert!(!err.contains("no server URL"), "{err}");
    }
    for (text_of_config, key, nearest) in [
        (
            "[profiles.default]\nurl = \"http://127.0.0.1:9\"\npasword = \"x\"\n",
            "pasword",
            "password",
        ),
        (
            "[profiles.work]\nurl = \"http://127.0.0.1:9\"\nlogn = \"a@b.cz\"\n",
            "logn",
            "login",
        ),
        (
            "[profile.default]\nurl = \"http://127.0.0.1:9\"\n",
            "profile",
            "profiles",
        ),
    ] {
        home.write_config(text_of_config, 0o600);
        let out = run(home.cmd().args(["call", "User", "list", "--dry-run"]));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(11), "{key}: {err}");
        assert!(err.contains(&format!("unknown key \"{key}\"")), "{err}");
        assert!(
            err.contains(&format!("did you mean \"{nearest}\"")),
            "{err}"
        );
        assert!(err.contains(&config.display().to_string()), "{err}");
    }
}

/// `runtel config`'s JSON for this home and these extra arguments.
fn config_json(home: &Home, args: &[&str]) -> Value {
    let out = run(home.cmd().args(args).arg("config"));
    assert!(
        out.status.success(),
        "config {args:?}: {}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn every_client_option_is_a_profile_key_and_reaches_the_client() {
    let s = Simulator::start(SimConfig {
        tls: Some(runtel_sim::TlsSettings::default()),
        ..SimConfig::default()
    })
    .unwrap();
    let home = Home::new("options");
    let ca = home.path("sim-ca.pem");
    std::fs::write(&ca, s.cert_pem().unwrap()).unwrap();
    // A value other than the default for every option, as TOML, and as the
    // client's options read back as JSON.
    let sample = |name: &str| -> (String, Value) {
        let (toml, json) = match name {
            "timeout" => ("12.5".to_owned(), serde_json::json!(12.5)),
            "connect_timeout" => ("3".into(), serde_json::json!(3.0)),
            "ca_file" => (
                format!("{:?}", ca.display().to_string()),
                Value::String(ca.display().to_string()),
            ),
            "accept_invalid_certs" => ("true".into(), serde_json::json!(true)),
            "proxy" => (
                "\"http://proxy.invalid:3128\"".into(),
                serde_json::json!("http://proxy.invalid:3128"),
            ),
            "proxy_from_env" => ("true".into(), serde_json::json!(true)),
            "user_agent" => ("\"me/1\"".into(), serde_json::json!("me/1")),
            "max_response_bytes" => ("1024".into(), serde_json::json!(1024)),
            "login" => ("\"a@b.cz\"".into(), serde_json::json!("a@b.cz")),
            "password" => ("\"pw-xyz\"".into(), serde_json::json!("***")),
            "max_auth_failures" => ("5".into(), serde_json::json!(5)),
            "auth_lockout_cooldown" => ("60".into(), serde_json::json!(60.0)),
            "max_retries" => ("0".into(), serde_json::json!(0)),
            "retry_base_delay" => ("0.05".into(), serde_json::json!(0.05)),
            "retry_max_delay" => ("1".into(), serde_json::json!(1.0)),
            "relogin_margin" => ("10".into(), serde_json::json!(10.0)),
            "logout_on_drop" => ("true".into(), serde_json::json!(true)),
            "max_idle_age" => ("5".into(), serde_json::json!(5.0)),
            "warn_plain_http" => ("false".into(), serde_json::json!(false)),
            other => panic!("no sample for the option {other}: add one to this test"),
        };
        (toml, json)
    };
    let same = |a: &Value, b: &Value| match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        _ => a == b,
    };
    let url_line = format!("[profiles.default]\nurl = \"{}\"\n", s.url());
    home.write_config(&url_line, 0o600);
    let defaults = config_json(&home, &[]);
    let names: Vec<&str> = defaults["options"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        names,
        runtel_client::ClientOptions::NAMES,
        "every option is shown"
    );
    assert_eq!(
        defaults["options"]["logout_on_drop"], false,
        "the tool keeps its session"
    );
    for name in runtel_client::ClientOptions::NAMES {
        let (toml, want) = sample(name);
        assert!(
            !same(&defaults["options"][name], &want),
            "{name}: the sample must differ from the default"
        );
        home.write_config(&format!("{url_line}{name} = {toml}\n"), 0o600);
        let got = config_json(&home, &[]);
        assert!(same(&got["options"][name], &want), "{name}: {got}");
        // The same from the command line, over a profile without it.
        if !matches!(*name, "password" | "ca_file") {
            home.write_config(&url_line, 0o600);
            let flag = format!("{name}={}", toml.trim_matches('"'));
            let got = config_json(&home, &["--option", &flag]);
            assert!(same(&got["options"][name], &want), "--option {flag}: {got}");
        }
    }
    assert!(
        !text(&run(home.cmd().arg("config")).stdout).contains("pw-xyz"),
        "the password is masked"
    );
    assert_eq!(s.counters().requests, 0, "config sends nothing");

    // They reach the client that talks to the server. ca_file: the sim's
    // self-signed certificate is trusted only through it.
    let login = |home: &Home| {
        run_with_stdin(
            home.cmd()
                .args(["--login", DEFAULT_LOGIN, "--password-stdin", "login"]),
            "admin\n",
        )
    };
    home.write_config(&url_line, 0o600);
    let out = login(&home);
    assert_eq!(
        out.status.code(),
        Some(4),
        "untrusted: {}",
        text(&out.stderr)
    );
    home.write_config(
        &format!("{url_line}ca_file = {:?}\n", ca.display().to_string()),
        0o600,
    );
    let out = login(&home);
    assert!(out.status.success(), "ca_file: {}", text(&out.stderr));
    // insecure, the name of earlier versions, is accept_invalid_certs.
    home.write_config(&format!("{url_line}insecure = true\n"), 0o600);
    assert_eq!(
        config_json(&home, &[])["options"]["accept_invalid_certs"],
        true
    );
    let out = login(&home);
    assert!(out.status.success(), "insecure: {}", text(&out.stderr));
    // max_response_bytes: a list answer over 200 bytes is refused (protocol).
    home.write_config(
        &format!("{url_line}max_response_bytes = 200\ninsecure = true\n"),
        0o600,
    );
    let out = run(home.cmd().args(["call", "User", "list"]));
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    // max_retries: a 503 on a list is retried by default, and not with 0.
    home.write_config(&format!("{url_line}insecure = true\n"), 0o600);
    for (args, ok) in [(vec![], true), (vec!["--option", "max_retries=0"], false)] {
        s.push_fault(FaultRule::times(Fault::Html503, 1).on_action("list"));
        let before = s.counters().action("list");
        let out = run(home.cmd().args(&args).args(["call", "User", "list"]));
        assert_eq!(out.status.success(), ok, "{args:?}: {}", text(&out.stderr));
        assert_eq!(
            s.counters().action("list") - before,
            if ok { 2 } else { 1 },
            "{args:?}"
        );
    }
    // logout_on_drop = true: the command logs out when it ends and caches nothing.
    let cache = home.path(".cache/runtel/session-default.json");
    std::fs::remove_file(&cache).unwrap();
    home.write_config(
        &format!("{url_line}insecure = true\nlogin = \"{DEFAULT_LOGIN}\"\nlogout_on_drop = true\n"),
        0o600,
    );
    let logouts = s.counters().action("logout");
    let out = run(home
        .cmd()
        .args(["call", "User", "list"])
        .env("RUNTEL_PASSWORD", "admin"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(s.counters().action("logout"), logouts + 1);
    assert!(!cache.exists(), "no session kept");

    // Misspelt and doubled keys are named.
    for (extra, needle) in [
        ("max_retires = 0\n", "did you mean \"max_retries\""),
        (
            "insecure = true\naccept_invalid_certs = true\n",
            "both insecure and accept_invalid_certs",
        ),
    ] {
        home.write_config(&format!("{url_line}{extra}"), 0o600);
        let out = run(home.cmd().arg("config"));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(11), "{err}");
        assert!(err.contains(needle), "{err}");
    }
    home.write_config(&format!("{url_line}retry_max_delay = -1\n"), 0o600);
    let out = run(home.cmd().arg("config"));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("retry_max_delay") && err.contains("profile \"default\""),
        "{err}"
    );
}

#[test]
fn a_transport_error_is_one_line_with_its_detail_once() {
    let home = Home::new("transport-line");
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{dead}");
    // What the library says about the same failure.
    let e = runtel_client::Client::builder(&url)
        .credentials("a@b.cz", "x")
        .build()
        .unwrap()
        .call("User", "list", ())
        .unwrap_err();
    let detail = e.detail();
    assert!(
        detail.contains(": "),
        "the case this test is about: {detail}"
    );
    let out = run(home
        .cmd()
        .args(["--url", &url, "--login", "a@b.cz", "call", "User", "list"])
        .env("RUNTEL_PASSWORD", "x"));
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        text(&out.stderr),
        format!("runtel: error: transport: {detail}\n")
    );
    assert!(
        !text(&out.stderr).contains("transport error"),
        "the label is not repeated"
    );
}

/// The next `list` answer: these records, this total, these notifies.
fn list_answer(s: &Simulator, list: Vec<Value>, total: u64, notifies: Value) {
    let body = serde_json::json!({"action": "list", "action_id": "REC", "obj": "DomainCDR",
        "code": 200, "notifies": notifies, "list": list, "total_count": total});
    s.push_fault(FaultRule::times(Fault::envelope(200, &body), 1).on_action("list"));
}

fn ids_page(ids: std::ops::Range<i64>) -> Vec<Value> {
    ids.map(|id| serde_json::json!({"id": id})).collect()
}

#[test]
fn notifies_go_to_stderr_once_each_and_never_to_stdout() {
    let s = sim(0);
    let home = Home::new("notifies");
    // A login answer with a notice (twice) and one that tries to drive the terminal.
    let body = serde_json::json!({"action": "auth", "action_id": "REPLAYED", "obj": "User",
        "code": 200, "notifies": [{"text": "Low balance"}, {"text": "Low balance"},
                                  {"type": "warning", "text": format!("x{HOSTILE}")}],
        "body": {"exp": "9999-12-31T23:59:59", "user_id": 1, "user_login": DEFAULT_LOGIN,
                 "role_name": "admin", "role_type": 1, "token": "notice-token-0123456789"}});
    replay_next(&s, 200, body);
    let out = run_with_stdin(
        home.cmd().args([
            "--url",
            s.url(),
            "--login",
            DEFAULT_LOGIN,
            "--password-stdin",
            "login",
        ]),
        "admin\n",
    );
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(text(&out.stdout), "", "nothing on stdout");
    assert_eq!(
        err.matches("runtel: notice: Low balance\n").count(),
        1,
        "{err}"
    );
    assert!(
        err.contains("runtel: notice: x\\x1b]0;pwned\\x07\\x1b[2J\n"),
        "escaped: {err}"
    );
    assert!(!err.contains('\u{1b}'), "{err}");

    // A call answer: the envelope on stdout as JSON, the notice on stderr.
    let home = Home::new("notifies-call");
    logged_in(&home, &s);
    list_answer(
        &s,
        ids_page(1..3),
        2,
        serde_json::json!([{"text": "Low balance"}]),
    );
    let out = run(home
        .cmd()
        .args(["--url", s.url(), "call", "DomainCDR", "list"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "runtel: notice: Low balance\n");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["list"].as_array().unwrap().len(), 2);

    // Every page of an export: each notice once, the records alone on stdout.
    list_answer(
        &s,
        ids_page(1..3),
        5,
        serde_json::json!([{"text": "Low balance"}]),
    );
    list_answer(
        &s,
        ids_page(3..5),
        5,
        serde_json::json!([{"text": "Low balance"}, {"text": "Trial ends soon"}]),
    );
    list_answer(&s, ids_page(5..6), 5, serde_json::json!([]));
    let out = run(home
        .cmd()
        .args(["--url", s.url(), "export", "DomainCDR", "--page-size", "2"]));
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        err.matches("runtel: notice: Low balance\n").count(),
        1,
        "{err}"
    );
    assert_eq!(
        err.matches("runtel: notice: Trial ends soon\n").count(),
        1,
        "{err}"
    );
    let ids: Vec<i64> = text(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 5]);
}

fn export_cmd(home: &Home, s: &Simulator, args: &[&str]) -> Command {
    let mut c = home.cmd();
    c.args(["--url", s.url(), "export", "DomainCDR"]).args(args);
    c
}

fn jsonl_ids(body: &str) -> Vec<i64> {
    body.lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect()
}

#[test]
fn an_export_whose_records_change_fails_as_changed_unless_allowed() {
    let s = sim(0);
    let home = Home::new("drift");
    logged_in(&home, &s);
    let out_file = home.path("cdrs.jsonl");
    let part = home.path("cdrs.jsonl.part");
    let pages = |s: &Simulator| {
        list_answer(s, ids_page(1..11), 30, serde_json::json!([]));
        list_answer(s, ids_page(11..21), 25, serde_json::json!([]));
        list_answer(s, ids_page(21..26), 25, serde_json::json!([]));
    };
    pages(&s);
    let args = ["--page-size", "10", "-o", out_file.to_str().unwrap()];
    let out = run(&mut export_cmd(&home, &s, &args));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(12), "{err}");
    assert!(err.starts_with("runtel: error: changed:"), "{err}");
    assert!(
        err.contains("total_count") && err.contains("30") && err.contains("25"),
        "{err}"
    );
    assert!(
        err.contains("--allow-drift") && err.contains("--consistent"),
        "{err}"
    );
    assert!(
        !out_file.exists(),
        "a file that may lack records does not look finished"
    );
    assert_eq!(
        jsonl_ids(&std::fs::read_to_string(&part).unwrap()),
        (1..=25).collect::<Vec<_>>()
    );
    // Kept as it is on request, without fetching anything again.
    let lists = s.counters().action("list");
    let mut resume_args = args.to_vec();
    resume_args.extend(["--resume", "--allow-drift"]);
    let out = run(&mut export_cmd(&home, &s, &resume_args));
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("runtel: warning:") && err.contains("30"),
        "{err}"
    );
    assert_eq!(s.counters().action("list"), lists, "nothing fetched again");
    assert_eq!(
        jsonl_ids(&std::fs::read_to_string(&out_file).unwrap()),
        (1..=25).collect::<Vec<_>>()
    );
    assert!(!part.exists() && !home.path("cdrs.jsonl.part.state").exists());

    // On stdout: the records went out, the exit code says they may be incomplete.
    pages(&s);
    let out = run(&mut export_cmd(&home, &s, &["--page-size", "10"]));
    assert_eq!(out.status.code(), Some(12), "{}", text(&out.stderr));
    assert_eq!(jsonl_ids(&text(&out.stdout)).len(), 25);
    // --allow-drift from the start: a warning, and success.
    pages(&s);
    let out = run(&mut export_cmd(
        &home,
        &s,
        &["--page-size", "10", "--allow-drift"],
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("runtel: warning:"),
        "{}",
        text(&out.stderr)
    );

    // Records repeated across a page boundary (the list grew at its head): dropped,
    // and said, with the number.
    list_answer(&s, ids_page(1..11), 20, serde_json::json!([]));
    list_answer(&s, ids_page(8..18), 20, serde_json::json!([]));
    list_answer(&s, vec![], 20, serde_json::json!([]));
    let out = run(&mut export_cmd(&home, &s, &["--page-size", "10"]));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(12), "{err}");
    assert!(err.contains("3 records repeated"), "{err}");
    assert_eq!(jsonl_ids(&text(&out.stdout)), (1..18).collect::<Vec<_>>());
    let help = text(&run(home.cmd().arg("--help")).stdout);
    assert!(help.contains("12  changed"), "{help}");
}

/// Starts `cmd` (an export to `state`'s FILE), waits until its checkpoint holds
/// at least `records`, and returns the running child.
fn export_until(cmd: &mut Command, state: &std::path::Path, records: u64) -> std::process::Child {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let written = std::fs::read_to_string(state)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v["records"].as_u64())
            .unwrap_or(0);
        if written >= records {
            return child;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the export ended ({status}) before {records} records were written");
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Deletes CDRs as the platform does (the API cannot: they are logs).
fn delete_cdrs(s: &Simulator, ids: impl IntoIterator<Item = i64>) {
    let ids: Vec<i64> = ids.into_iter().collect();
    assert_eq!(
        s.delete_records("DomainCDR", ids.clone()),
        ids.len(),
        "{ids:?}"
    );
}

fn slow_lists(s: &Simulator, ms: u64) {
    s.push_fault(FaultRule {
        fault: Fault::Delay(Duration::from_millis(ms)),
        times: None,
        action: Some("list".into()),
        probability: 1.0,
    });
}

#[test]
fn records_deleted_mid_export_fail_offset_paging_and_not_consistent_paging() {
    for consistent in [false, true] {
        let s = sim(40);
        let home = Home::new(&format!("mid-delete-{consistent}"));
        logged_in(&home, &s);
        slow_lists(&s, 250);
        let target = home.path("cdrs.jsonl");
        let state = home.path("cdrs.jsonl.part.state");
        let mut cmd = export_cmd(
            &home,
            &s,
            &["--page-size", "10", "-o", target.to_str().unwrap()],
        );
        if consistent {
            cmd.arg("--consistent");
        }
        let child = export_until(&mut cmd, &state, 10);
        // Records already exported go away: offset paging then skips as many.
        delete_cdrs(&s, 1..=5);
        let out = child.wait_with_output().unwrap();
        let err = text(&out.stderr);
        if consistent {
            assert!(out.status.success(), "{err}");
            assert_eq!(
                jsonl_ids(&std::fs::read_to_string(&target).unwrap()),
                (1..=40).collect::<Vec<_>>(),
                "every record, once, in order"
            );
        } else {
            assert_eq!(out.status.code(), Some(12), "{err}");
            assert!(err.contains("40") && err.contains("35"), "{err}");
            let got = jsonl_ids(&std::fs::read_to_string(home.path("cdrs.jsonl.part")).unwrap());
            assert_eq!(got.len(), 35, "offset paging skipped 5: {got:?}");
            assert!(!target.exists());
        }
    }
    // Consistent paging cannot take an OR filter.
    let s = sim(1);
    let home = Home::new("consistent-or");
    logged_in(&home, &s);
    let out = run(&mut export_cmd(
        &home,
        &s,
        &["--consistent", "--filter", r#"{"field_list":[],"type":1}"#],
    ));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
}

#[test]
fn resume_refuses_when_records_before_its_checkpoint_changed() {
    // Offset paging: records deleted before the checkpoint move the rest.
    let s = sim(60);
    let home = Home::new("resume-anchor");
    logged_in(&home, &s);
    slow_lists(&s, 150);
    let target = home.path("cdrs.jsonl");
    let state = home.path("cdrs.jsonl.part.state");
    let args = ["--page-size", "10", "-o", target.to_str().unwrap()];
    let mut child = export_until(&mut export_cmd(&home, &s, &args), &state, 20);
    child.kill().unwrap();
    child.wait().unwrap();
    s.clear_faults();
    let anchor = serde_json::from_str::<Value>(&std::fs::read_to_string(&state).unwrap()).unwrap()
        ["anchor"]
        .clone();
    assert!(
        anchor["id"].is_i64() && anchor["hash"].is_string(),
        "{anchor}"
    );
    delete_cdrs(&s, 1..=3);
    let mut resume = args.to_vec();
    resume.push("--resume");
    let out = run(&mut export_cmd(&home, &s, &resume));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(12), "{err}");
    assert!(
        err.contains("cannot resume") && err.contains("changed"),
        "{err}"
    );
    assert!(!target.exists(), "{err}");

    // Unchanged before the checkpoint: it resumes, even after deletions past it.
    let s = sim(60);
    let home = Home::new("resume-anchor-ok");
    logged_in(&home, &s);
    slow_lists(&s, 150);
    let target = home.path("cdrs.jsonl");
    let state = home.path("cdrs.jsonl.part.state");
    let args = [
        "--page-size",
        "10",
        "-o",
        target.to_str().unwrap(),
        "--allow-drift",
    ];
    let mut child = export_until(&mut export_cmd(&home, &s, &args), &state, 20);
    child.kill().unwrap();
    child.wait().unwrap();
    s.clear_faults();
    let written = serde_json::from_str::<Value>(&std::fs::read_to_string(&state).unwrap()).unwrap()
        ["records"]
        .as_i64()
        .unwrap();
    delete_cdrs(&s, [55, 56]);
    let mut resume = args.to_vec();
    resume.push("--resume");
    let out = run(&mut export_cmd(&home, &s, &resume));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let want: Vec<i64> = (1..=60).filter(|id| *id != 55 && *id != 56).collect();
    assert_eq!(jsonl_ids(&std::fs::read_to_string(&target).unwrap()), want);
    assert!(written >= 20);

    // Consistent paging resumes after the last id written, whatever changed.
    let s = sim(60);
    let home = Home::new("resume-consistent");
    logged_in(&home, &s);
    slow_lists(&s, 150);
    let target = home.path("cdrs.jsonl");
    let state = home.path("cdrs.jsonl.part.state");
    let args = vec![
        "--page-size",
        "10",
        "--consistent",
        "-o",
        target.to_str().unwrap(),
    ];
    let mut child = export_until(&mut export_cmd(&home, &s, &args), &state, 20);
    child.kill().unwrap();
    child.wait().unwrap();
    s.clear_faults();
    let last = serde_json::from_str::<Value>(&std::fs::read_to_string(&state).unwrap()).unwrap()
        ["anchor"]["id"]
        .as_i64()
        .unwrap();
    delete_cdrs(&s, [1, 2, 3, last + 2]);
    let mut resume = args.clone();
    resume.push("--resume");
    let out = run(&mut export_cmd(&home, &s, &resume));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let want: Vec<i64> = (1..=60).filter(|id| *id != last + 2).collect();
    assert_eq!(jsonl_ids(&std::fs::read_to_string(&target).unwrap()), want);
}

#[test]
fn csv_widens_its_header_for_fields_that_appear_on_later_pages() {
    let s = sim(0);
    let home = Home::new("csv-widen");
    logged_in(&home, &s);
    let pages = |s: &Simulator| {
        list_answer(
            s,
            vec![
                serde_json::json!({"id": 1, "a": "x"}),
                serde_json::json!({"id": 2, "a": "line\nbreak, and \"quotes\""}),
            ],
            4,
            serde_json::json!([]),
        );
        list_answer(
            s,
            vec![
                serde_json::json!({"id": 3, "a": "z", "b": "new"}),
                serde_json::json!({"id": 4, "b": "only b", "c": 5}),
            ],
            4,
            serde_json::json!([]),
        );
        list_answer(s, vec![], 4, serde_json::json!([]));
    };
    pages(&s);
    let target = home.path("wide.csv");
    let out = run(&mut export_cmd(
        &home,
        &s,
        &[
            "--format",
            "csv",
            "--page-size",
            "2",
            "-o",
            target.to_str().unwrap(),
        ],
    ));
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("new columns: b, c"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "id,a,b,c\r\n1,x,,\r\n2,\"line\nbreak, and \"\"quotes\"\"\",,\r\n3,z,new,\r\n4,,only b,5\r\n"
    );
    assert_eq!(mode_of(&target), 0o600);
    assert!(!home.path("wide.csv.part").exists() && !home.path("wide.csv.part.wide").exists());
    // On stdout the header is gone before the new fields come: an error naming them.
    pages(&s);
    let out = run(&mut export_cmd(
        &home,
        &s,
        &["--format", "csv", "--page-size", "2"],
    ));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(11), "{err}");
    assert!(err.contains("b, c"), "{err}");
    let rows = parse_csv(&text(&out.stdout));
    assert!(rows.iter().all(|r| r.len() == 2), "{rows:?}");
}

#[test]
fn csv_tells_an_empty_string_from_a_missing_value() {
    let s = sim(0);
    let home = Home::new("csv-empty");
    logged_in(&home, &s);
    list_answer(
        &s,
        vec![
            serde_json::json!({"id": 1, "s": "", "n": null, "m": "x"}),
            serde_json::json!({"id": 2, "s": "t"}),
        ],
        2,
        serde_json::json!([]),
    );
    let out = run(&mut export_cmd(&home, &s, &["--format", "csv"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "id,s,n,m\r\n1,\"\",,x\r\n2,t,,\r\n");
    let help = text(&run(home.cmd().args(["export", "--help"])).stdout);
    assert!(help.contains("quoted empty cell"), "{help}");
}

#[test]
fn json_exports_write_records_that_are_not_objects_as_they_came() {
    let s = sim(0);
    let home = Home::new("bare");
    logged_in(&home, &s);
    let bare = || {
        vec![
            serde_json::json!(5),
            serde_json::json!("101"),
            Value::Null,
            serde_json::json!({"id": 4}),
        ]
    };
    for (format, want) in [
        ("jsonl", "5\n\"101\"\nnull\n{\"id\":4}\n"),
        ("json", "[\n5,\n\"101\",\nnull,\n{\"id\":4}\n]\n"),
        ("csv", "value,id\r\n5,\r\n101,\r\n,\r\n,4\r\n"),
    ] {
        list_answer(&s, bare(), 4, serde_json::json!([]));
        let out = run(&mut export_cmd(&home, &s, &["--format", format]));
        assert!(out.status.success(), "{format}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), want, "{format}");
    }
}

/// Every `--help` text the tool prints: the top level and each subcommand's.
fn every_help(home: &Home) -> String {
    let mut all = String::new();
    for sub in [
        None,
        Some("demo"),
        Some("login"),
        Some("logout"),
        Some("status"),
        Some("config"),
        Some("call"),
        Some("export"),
        Some("objects"),
        Some("completions"),
        Some("man"),
        Some("profiles"),
    ] {
        let mut c = home.cmd();
        c.args(sub).arg("--help");
        let out = run(&mut c);
        assert!(out.status.success(), "{sub:?}: {}", text(&out.stderr));
        all.push_str(&text(&out.stdout));
        all.push('\n');
    }
    all
}

/// The README's section on the tool, which this crate owns.
fn readme_cli_section() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let start = readme
        .find("## The `runtel` command-line tool")
        .expect("the README has a CLI section");
    let rest = &readme[start + 3..];
    let end = rest.find("\n## ").map_or(rest.len(), |i| i + 3);
    readme[start..start + end].to_owned()
}

/// CamelCase words the tool's texts use that are not objects: library types.
const NOT_OBJECTS: &[&str] = &["ClientOptions"];

/// The object names a text uses: the word after `runtel call`, `runtel export`
/// and `runtel objects`, and every CamelCase word (an inner capital after a small
/// letter, as in `DomainCDR` or `PbxHost`) but the library types of [`NOT_OBJECTS`].
fn object_names_in(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for cmd in ["runtel call ", "runtel export ", "runtel objects "] {
        for (i, _) in text.match_indices(cmd) {
            let word: String = text[i + cmd.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // Placeholders (OBJ, NAME) and flags are not names.
            if word.chars().any(|c| c.is_ascii_lowercase()) {
                names.push(word);
            }
        }
    }
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        let camel = word
            .as_bytes()
            .windows(2)
            .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase());
        if camel
            && word.starts_with(|c: char| c.is_ascii_uppercase())
            && !NOT_OBJECTS.contains(&word)
        {
            names.push(word.to_owned());
        }
    }
    names
}

#[test]
fn objects_lists_exactly_the_catalog() {
    use runtel_client::catalog;
    let home = Home::new("objects");
    // No server, no settings: the catalog is built in.
    let out = run(home.cmd().arg("objects"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    let mut lines = listing.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "SCOPE", "KIND", "SOURCE", "ACTIONS"]);
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), catalog::OBJECTS.len(), "{listing}");
    for (row, o) in rows.iter().zip(catalog::OBJECTS) {
        let kind = match o.kind {
            catalog::ObjectKind::Config => "config",
            catalog::ObjectKind::Log => "log",
        };
        let actions = o.actions.join(",");
        assert_eq!(
            row,
            &[
                o.name,
                o.scope.as_str(),
                kind,
                o.source.as_str(),
                actions.as_str()
            ],
            "{listing}"
        );
    }
    let out = run(home.cmd().args(["objects", "--json"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json, catalog::to_json());
    // One object: every field with its type, whether required, its constraints.
    for (o, entry) in catalog::OBJECTS.iter().zip(json.as_array().unwrap()) {
        let out = run(home.cmd().args(["objects", o.name]));
        assert!(out.status.success(), "{}: {}", o.name, text(&out.stderr));
        let shown = text(&out.stdout);
        assert!(
            shown.starts_with(&format!("{}: {}\n", o.name, o.doc)),
            "{shown}"
        );
        assert!(
            shown.contains(&format!("actions  {}\n", o.actions.join(", "))),
            "{shown}"
        );
        for f in o.fields {
            let line = shown
                .lines()
                .find(|l| l.split_whitespace().next() == Some(f.name))
                .unwrap_or_else(|| panic!("{}.{} missing in {shown}", o.name, f.name));
            let words: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(words[1], f.ty.as_str(), "{line}");
            assert_eq!(words[2], if f.required { "yes" } else { "no" }, "{line}");
            assert_eq!(line.contains("read only"), f.read_only, "{line}");
            if f.max_len > 0 {
                assert!(
                    line.contains(&format!("length {}..{}", f.min_len, f.max_len)),
                    "{line}"
                );
            }
            if !f.choices.is_empty() {
                let choices: Vec<String> = f.choices.iter().map(i64::to_string).collect();
                assert!(
                    line.contains(&format!("one of {}", choices.join(", "))),
                    "{line}"
                );
            }
        }
        let out = run(home.cmd().args(["objects", o.name, "--json"]));
        assert_eq!(
            &serde_json::from_slice::<Value>(&out.stdout).unwrap(),
            entry
        );
    }
    // A typo is an error with the nearest name; nothing is printed on stdout.
    let out = run(home.cmd().args(["objects", "DomainCdr"]));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("did you mean DomainCDR?"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    // The tool names no object the catalog does not: help texts and the README.
    let help = every_help(&home);
    let readme = readme_cli_section();
    for (what, text) in [("--help", &help), ("README", &readme)] {
        let names = object_names_in(text);
        assert!(
            names.iter().any(|n| n == "DomainCDR"),
            "{what} names objects: {names:?}"
        );
        for n in names {
            assert!(
                catalog::object(&n).is_some(),
                "{what} names {n}, which the catalog does not have"
            );
        }
    }
    assert!(help.contains("runtel objects"), "the help points to it");
}

/// The stderr lines of a run that must succeed.
fn ok_stderr(out: &Output) -> String {
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stderr)
}

#[test]
fn unknown_objects_and_actions_are_sent_with_a_warning() {
    let s = sim(5);
    let home = Home::new("typo-warnings");
    let dry = |obj: &str, action: &str| {
        let out = run(home
            .cmd()
            .args(["--url", s.url(), "call", obj, action, "--dry-run"]));
        let err = ok_stderr(&out);
        // Sent as typed: the API may have objects and actions we do not know.
        let body = dry_body(&out);
        assert_eq!(
            (body["obj"].as_str(), body["action"].as_str()),
            (Some(obj), Some(action))
        );
        err
    };
    let err = dry("DomainCdr", "list");
    assert_eq!(
        err,
        "runtel: warning: DomainCdr is not a known object (sent as typed); did you mean DomainCDR?\n"
    );
    let err = dry("DomainCDR", "append");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("runtel: warning: append is not a known action of DomainCDR")
            && err.contains("the server decides")
            && err.contains("list, list_with_detail, get"),
        "{err}"
    );
    let err = dry("DomainCDR", "lst");
    assert!(
        err.starts_with("runtel: warning: lst is not a known action of DomainCDR")
            && err.trim_end().ends_with("did you mean list?"),
        "{err}"
    );
    // Known objects and actions, and names the catalog has nothing near: silence.
    for (obj, action) in [
        ("DomainCDR", "list"),
        ("User", "get"),
        ("DomainDPEResult", "get_dialog"),
        ("SomethingNew", "list"),
    ] {
        assert_eq!(dry(obj, action), "", "{obj}.{action}");
    }
    assert_eq!(s.counters().requests, 0);
    // export: the warning, and the request is still sent.
    logged_in(&home, &s);
    let lists = s.counters().action("list");
    let out = run(home.cmd().args(["--url", s.url(), "export", "DomainCdr"]));
    let err = text(&out.stderr);
    assert!(
        err.starts_with(
            "runtel: warning: DomainCdr is not a known object (sent as typed); did you mean DomainCDR?\n"
        ),
        "{err}"
    );
    assert_eq!(s.counters().action("list"), lists + 1, "sent anyway");
    let out = run(home.cmd().args(["--url", s.url(), "export", "DomainCDR"]));
    let err = ok_stderr(&out);
    assert!(!err.contains("warning"), "{err}");
    assert_eq!(jsonl_ids(&text(&out.stdout)), vec![1, 2, 3, 4, 5]);
}

/// The shared filter vectors, `tests/filters.json`.
fn filter_cases() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/filters.json"
    ))
    .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

/// `runtel call OBJ list ARGS --dry-run`.
fn dry_list(home: &Home, s: &Simulator, obj: &str, args: &[&str]) -> Output {
    run(home
        .cmd()
        .args(["--url", s.url(), "call", obj, "list"])
        .args(args)
        .arg("--dry-run"))
}

/// An invalid_input refusal (exit 3) whose message contains `needle`.
fn refused(out: &Output, needle: &str) -> String {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.starts_with("runtel: error: invalid_input:"), "{err}");
    assert!(err.contains(needle), "{needle:?} in {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

#[test]
fn where_conditions_build_the_shared_wire_filters() {
    let s = sim(0);
    let home = Home::new("where");
    let cases = filter_cases();
    assert!(cases.len() >= 9);
    for case in &cases {
        let mut args: Vec<&str> = Vec::new();
        for w in case["where"].as_array().unwrap() {
            args.extend(["--where", w.as_str().unwrap()]);
        }
        if case["any"] == true {
            args.push("--where-any");
        }
        let out = dry_list(&home, &s, "DomainCDR", &args);
        ok_stderr(&out);
        assert_eq!(dry_body(&out)["filter"], case["wire"], "{args:?}");
        // The exact text, numbers beyond 64 bits included.
        let wire_text = case["wire_text"].as_str().unwrap();
        assert!(
            text(&out.stdout).contains(&format!("\"filter\":{wire_text}")),
            "{args:?}: {}",
            text(&out.stdout)
        );
    }
    // Dates for time fields become Unix seconds; no zone means UTC.
    let cond = |obj: &str, w: &str| {
        let out = dry_list(&home, &s, obj, &["--where", w]);
        ok_stderr(&out);
        let f = dry_body(&out)["filter"].clone();
        assert_eq!(f["type"], 0, "{f}");
        assert_eq!(f["field_list"].as_array().unwrap().len(), 1, "{f}");
        f["field_list"][0].clone()
    };
    let wire = |field: &str, code: i64, value: Value| serde_json::json!({"field": field, "condition_type": code, "value": value});
    for (w, want) in [
        ("dt>=2026-11-01", wire("dt", 5, 1_793_491_200i64.into())),
        (
            "dt>=2026-11-01T10:00:00Z",
            wire("dt", 5, 1_793_527_200i64.into()),
        ),
        (
            "dt<2026-11-01T10:00:00",
            wire("dt", 2, 1_793_527_200i64.into()),
        ),
        (
            "dt<=2026-11-01T10:00",
            wire("dt", 3, 1_793_527_200i64.into()),
        ),
        (
            "dt>2026-11-01 13:00:00+03:00",
            wire("dt", 4, 1_793_527_200i64.into()),
        ),
        (
            "dt=2026-11-01T05:00:00-05:00",
            wire("dt", 0, 1_793_527_200i64.into()),
        ),
        ("dt<1704067200", wire("dt", 2, 1_704_067_200i64.into())),
        ("src_name~Ив", wire("src_name", 6, "Ив".into())),
        ("disposition=BUSY", wire("disposition", 0, "BUSY".into())),
        // A date for a field that is not a time stays text.
        (
            "src_name=2026-11-01",
            wire("src_name", 0, "2026-11-01".into()),
        ),
    ] {
        assert_eq!(cond("DomainCDR", w), want, "{w}");
    }
    // An object the catalog does not know: `dt` is still a time.
    assert_eq!(
        cond("SomethingNew", "dt>=2026-11-01"),
        wire("dt", 5, 1_793_491_200i64.into())
    );
    assert_eq!(
        cond("SomethingNew", "dt>=soon"),
        wire("dt", 5, "soon".into())
    );
    // A time field of the catalog takes seconds or a date, nothing else.
    for (w, needle) in [
        ("dt>=yesterday", "dt"),
        ("dt>=2026-13-01", "2026-13-01"),
        ("dt>=2026-11-01T10:00:00.5Z", "whole seconds"),
        ("nocondition", "nocondition"),
        ("=5", "=5"),
    ] {
        refused(&dry_list(&home, &s, "DomainCDR", &["--where", w]), needle);
    }
    // --where is for list actions.
    let out = run(home.cmd().args([
        "--url",
        s.url(),
        "call",
        "User",
        "get",
        "id:=1",
        "--where",
        "id=1",
        "--dry-run",
    ]));
    refused(&out, "list");
    // With --filter and filter=: one field_list, every condition AND-ed.
    let a = wire("dt", 5, 7.into());
    let b = wire("disposition", 0, "BUSY".into());
    let c = wire("src", 0, 100.into());
    let and1 = serde_json::json!({"field_list": [a], "type": 0}).to_string();
    let or1 = serde_json::json!({"field_list": [a], "type": 1}).to_string();
    let or2 = serde_json::json!({"field_list": [a, c], "type": 1}).to_string();
    let and_ab = serde_json::json!({"field_list": [a, b], "type": 0});
    for args in [
        vec!["--filter", &and1, "--where", "disposition=BUSY"],
        vec!["--where", "disposition=BUSY", "--filter", &and1],
        // An OR of one condition is that condition: AND-ing it is exact.
        vec!["--filter", &or1, "--where", "disposition=BUSY"],
        vec![
            "--filter",
            &or1,
            "--where",
            "disposition=BUSY",
            "--where-any",
        ],
    ] {
        let out = dry_list(&home, &s, "DomainCDR", &args);
        ok_stderr(&out);
        assert_eq!(dry_body(&out)["filter"], and_ab, "{args:?}");
    }
    let word = format!("filter:={and1}");
    let out = dry_list(
        &home,
        &s,
        "DomainCDR",
        &[&word, "--where", "disposition=BUSY"],
    );
    ok_stderr(&out);
    assert_eq!(dry_body(&out)["filter"], and_ab);
    // A filter alone is sent exactly as given, as before.
    let odd = r#"{"field_list":[{"field":"dt","condition_type":5,"value":7}],"type":1,"x":2}"#;
    let out = dry_list(&home, &s, "DomainCDR", &["--filter", odd]);
    ok_stderr(&out);
    assert_eq!(
        dry_body(&out)["filter"],
        serde_json::from_str::<Value>(odd).unwrap()
    );
    // OR together with other conditions would widen what is selected: refused.
    let or_word = format!("filter:={or2}");
    for args in [
        vec!["--filter", &or2, "--where", "disposition=BUSY"],
        vec![&or_word, "--where", "disposition=BUSY"],
        vec![
            "--where",
            "disposition=BUSY",
            "--where",
            "src=100",
            "--where-any",
            "--filter",
            &and1,
        ],
    ] {
        refused(&dry_list(&home, &s, "DomainCDR", &args), "OR");
    }
    // --where-any needs --where.
    let out = dry_list(&home, &s, "DomainCDR", &["--where-any"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(s.counters().requests, 0);
    let help = text(&run(home.cmd().args(["call", "--help"])).stdout);
    for needle in ["--where", "--where-any", "UTC", "'dt>=2026-11-01'"] {
        assert!(help.contains(needle), "{needle} in {help}");
    }
}

/// The ids an export printed as JSON Lines, after checking it succeeded.
fn exported_ids(out: &Output) -> Vec<i64> {
    assert!(out.status.success(), "{}", text(&out.stderr));
    jsonl_ids(&text(&out.stdout))
}

#[test]
fn export_where_selects_the_records_and_since_never_widens_an_or_filter() {
    let s = Simulator::start(SimConfig {
        seed: vec![("DomainCDR".into(), 300)],
        seed_epoch: Some(runtel_sim::SEED_BASE_DT),
        ..SimConfig::default()
    })
    .unwrap();
    let home = Home::new("export-where");
    logged_in(&home, &s);
    let recs: Vec<Map<String, Value>> = (1..=300)
        .map(|id| s.seeded_record("DomainCDR", id).unwrap())
        .collect();
    let ids_where = |keep: &dyn Fn(&Map<String, Value>) -> bool| -> Vec<i64> {
        recs.iter()
            .filter(|r| keep(r))
            .map(|r| r["id"].as_i64().unwrap())
            .collect()
    };
    let dt = |r: &Map<String, Value>| r["dt"].as_i64().unwrap();
    let disposition = |r: &Map<String, Value>| r["disposition"].as_str().unwrap().to_owned();
    // Record 101's time as an ISO date-time in UTC, without a zone and with Z.
    let t = s.seed_dt("DomainCDR", 100);
    assert_eq!(t, runtel_sim::SEED_BASE_DT + 700);
    for iso in [
        "2024-01-01T00:11:40",
        "2024-01-01T00:11:40Z",
        "2024-01-01T03:11:40+03:00",
    ] {
        let out = run(&mut export_cmd(
            &home,
            &s,
            &[
                "--page-size",
                "40",
                "--where",
                &format!("dt>={iso}"),
                "--where",
                "disposition=BUSY",
            ],
        ));
        let want = ids_where(&|r| dt(r) >= t && disposition(r) == "BUSY");
        assert!(!want.is_empty() && want.len() < 200, "{want:?}");
        assert_eq!(exported_ids(&out), want, "{iso}");
    }
    // OR: either disposition.
    let out = run(&mut export_cmd(
        &home,
        &s,
        &[
            "--where",
            "disposition=BUSY",
            "--where",
            "disposition=NO ANSWER",
            "--where-any",
        ],
    ));
    let want = ids_where(&|r| matches!(disposition(r).as_str(), "BUSY" | "NO ANSWER"));
    assert!(want.len() > 50 && want.len() < 250, "{}", want.len());
    assert_eq!(exported_ids(&out), want);
    // --since, --where and --filter: all must hold.
    let since = s.seed_dt("DomainCDR", 200).to_string();
    let or1 = serde_json::json!({"field_list": [{"field": "src_name", "condition_type": 6,
        "value": "Caller 1"}], "type": 1})
    .to_string();
    let out = run(&mut export_cmd(
        &home,
        &s,
        &[
            "--since",
            &since,
            "--where",
            "disposition!=BUSY",
            "--filter",
            &or1,
        ],
    ));
    let want = ids_where(&|r| {
        dt(r) >= t + 700
            && disposition(r) != "BUSY"
            && r["src_name"].as_str().unwrap().contains("Caller 1")
    });
    assert!(!want.is_empty(), "some records match");
    assert_eq!(exported_ids(&out), want);
    // An OR of two conditions with --since (or --where): refused before anything is
    // sent. It used to get `dt >= since` appended to its OR list, selecting more.
    let or2 = serde_json::json!({"field_list": [
        {"field": "disposition", "condition_type": 0, "value": "BUSY"},
        {"field": "disposition", "condition_type": 0, "value": "NO ANSWER"}], "type": 1})
    .to_string();
    let lists = s.counters().action("list");
    for args in [
        vec!["--filter", or2.as_str(), "--since", since.as_str()],
        vec![
            "--since",
            since.as_str(),
            "--where",
            "disposition=BUSY",
            "--where",
            "src=1",
            "--where-any",
        ],
        vec!["--filter", or2.as_str(), "--where", "dt>=2024-01-01"],
    ] {
        refused(&run(&mut export_cmd(&home, &s, &args)), "OR");
    }
    assert_eq!(s.counters().action("list"), lists, "nothing sent");
    // The OR filter alone still selects what it says.
    let out = run(&mut export_cmd(&home, &s, &["--filter", &or2]));
    assert_eq!(
        exported_ids(&out),
        ids_where(&|r| matches!(disposition(r).as_str(), "BUSY" | "NO ANSWER"))
    );
}

/// `runtel call` with `args` after a login, checked to succeed.
fn call_ok(home: &Home, s: &Simulator, args: &[&str]) -> String {
    let out = run(home.cmd().args(["--url", s.url(), "call"]).args(args));
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// `secs` as `date` shows it in `zone` with `format`.
fn date_in(zone: &str, secs: i64, format: &str) -> String {
    let out = Command::new("date")
        .env("TZ", zone)
        .args([&format!("-d@{secs}"), format])
        .output()
        .unwrap();
    assert!(out.status.success());
    text(&out.stdout).trim().to_owned()
}

#[test]
fn call_output_formats_and_records() {
    let s = sim(3);
    let home = Home::new("formats");
    logged_in(&home, &s);
    let list = ["DomainCDR", "list"];
    // jsonl: the envelope on one line; with --records one record a line.
    let env_line = call_ok(&home, &s, &[&list[..], &["-o", "jsonl"]].concat());
    assert_eq!(env_line.lines().count(), 1, "{env_line}");
    let env: Value = serde_json::from_str(&env_line).unwrap();
    assert_eq!(env["code"], 200);
    let dt0 = s.seed_dt("DomainCDR", 0);
    let recs = call_ok(
        &home,
        &s,
        &[&list[..], &["-o", "jsonl", "--records"]].concat(),
    );
    let ids: Vec<i64> = recs
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(ids, [1, 2, 3], "{recs}");
    assert!(
        recs.starts_with('{') && recs.contains(&format!("\"dt\":{dt0}")),
        "{recs}"
    );
    // json --records: one array of the records, times raw even with --time-zone.
    let arr: Value = serde_json::from_str(&call_ok(
        &home,
        &s,
        &[&list[..], &["--records", "--time-zone", "+03:00"]].concat(),
    ))
    .unwrap();
    assert_eq!(arr.as_array().unwrap().len(), 3);
    assert_eq!(arr[0]["dt"], dt0);
    // A get with --records: its record, as a list of one.
    let one: Value =
        serde_json::from_str(&call_ok(&home, &s, &["User", "get", "id:=1", "--records"])).unwrap();
    assert_eq!(one[0]["login"], DEFAULT_LOGIN, "{one}");
    // yaml: the envelope, keys as block lines, strings that read otherwise quoted.
    let yaml = call_ok(&home, &s, &[&list[..], &["-o", "yaml"]].concat());
    assert!(yaml.contains("\ncode: 200\n"), "{yaml}");
    assert!(yaml.contains("\nlist:\n  - id: 1\n"), "{yaml}");
    assert!(yaml.contains(&format!("\n    dt: {dt0}\n")), "{yaml}");
    assert!(
        !yaml.contains('{') || yaml.contains("{}"),
        "block style: {yaml}"
    );
    let yaml_recs = call_ok(
        &home,
        &s,
        &[&list[..], &["-o", "yaml", "--records"]].concat(),
    );
    assert!(yaml_recs.starts_with("- id: 1\n"), "{yaml_recs}");
    // csv: a header, a row per record, times raw unless --time-zone.
    let csv = call_ok(&home, &s, &[&list[..], &["-o", "csv"]].concat());
    let rows = parse_csv(&csv);
    assert_eq!(rows.len(), 4, "{csv}");
    let dt_col = rows[0].iter().position(|c| c == "dt").unwrap();
    assert_eq!(rows[1][dt_col], dt0.to_string());
    let csv = call_ok(
        &home,
        &s,
        &[&list[..], &["-o", "csv", "--time-zone", "+03:00"]].concat(),
    );
    let rows = parse_csv(&csv);
    assert_eq!(
        rows[1][dt_col],
        date_in("UTC-3", dt0, "+%Y-%m-%dT%H:%M:%S+03:00")
    );
    // A zone this system does not know is refused before anything is sent.
    let before = s.counters().requests;
    let out = run(home
        .cmd()
        .args(["--url", s.url(), "call"])
        .args(list)
        .args(["-o", "table", "--time-zone", "Mars/Olympus"]));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("Mars/Olympus"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(s.counters().requests, before);
}

/// Runs `runtel ARGS` on a pseudo-terminal `cols` wide (`script` from
/// util-linux), returning what the terminal showed, line by line.
fn on_terminal(home: &Home, cols: u16, args: &str) -> Vec<String> {
    let command = format!(
        "stty cols {cols} rows 50; exec {} {args}",
        env!("CARGO_BIN_EXE_runtel")
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_clear()
        .env("HOME", &home.0)
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .output()
        .expect("script(1) from util-linux");
    let screen = text(&out.stdout);
    assert!(out.status.success(), "{screen}");
    screen
        .split('\n')
        .map(|l| l.trim_end_matches('\r').to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn table_fits_the_terminal_at_two_widths_with_times_in_the_login_zone() {
    let s = sim(3);
    let home = Home::new("table");
    logged_in(&home, &s);
    let args = format!("--url {} call DomainCDR list -o table", s.url());
    let dt0 = s.seed_dt("DomainCDR", 0);
    // The simulator's logins are in Europe/Prague.
    let local = date_in("Europe/Prague", dt0, "+%Y-%m-%d %H:%M:%S");
    let catalog: Vec<String> = runtel_client::catalog::object("DomainCDR")
        .unwrap()
        .fields
        .iter()
        .map(|f| f.name.to_uppercase())
        .collect();
    let wide = on_terminal(&home, 250, &args);
    assert_eq!(wide.len(), 4, "{wide:#?}");
    let header: Vec<&str> = wide[0].split_whitespace().collect();
    // Every field of the catalog, in its order; the time column names the zone.
    let mut want: Vec<&str> = Vec::new();
    for c in &catalog {
        want.push(c);
        if c == "DT" {
            want.push("(Europe/Prague)");
        }
    }
    assert_eq!(header, want, "{}", wide[0]);
    assert!(
        wide[1].starts_with(&format!("1   1          {local}  ")),
        "{}",
        wide[1]
    );
    assert!(wide.iter().all(|l| l.chars().count() <= 250));
    let narrow = on_terminal(&home, 60, &args);
    let (notes, table): (Vec<&String>, Vec<&String>) =
        narrow.iter().partition(|l| l.starts_with("runtel: "));
    assert_eq!(table.len(), 4, "{narrow:#?}");
    for l in &table {
        assert!(
            l.chars().count() <= 60,
            "{} columns: {l:?}",
            l.chars().count()
        );
    }
    assert!(
        table[0].starts_with("ID  DOMAIN_ID  DT (Europe/Prague)"),
        "{}",
        table[0]
    );
    assert!(table[1].contains(&local), "{}", table[1]);
    assert!(
        table[0].split_whitespace().count() < header.len(),
        "fewer columns: {}",
        table[0]
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("columns left out to fit 60 columns")),
        "{narrow:#?}"
    );
    // In a pipe, COLUMNS is the width; --time-zone overrides the login's zone.
    let out = run(home
        .cmd()
        .env("COLUMNS", "45")
        .args(["--url", s.url(), "call", "DomainCDR", "list", "-o", "table"])
        .args(["--time-zone", "UTC"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let piped = text(&out.stdout);
    assert!(piped.lines().all(|l| l.chars().count() <= 45), "{piped}");
    assert!(piped.starts_with("ID  DOMAIN_ID  DT (UTC)"), "{piped}");
    assert!(
        piped.contains(&date_in("UTC", dt0, "+%Y-%m-%d %H:%M:%S")),
        "{piped}"
    );
}

#[test]
fn top_level_help_is_one_screen_with_examples() {
    let home = Home::new("help-screen");
    let out = run(home.cmd().arg("--help"));
    assert!(out.status.success());
    let help = text(&out.stdout);
    let lines = help.lines().count();
    assert!(lines <= 60, "{lines} lines:\n{help}");
    assert!(help.contains("\nExamples:\n  runtel demo\n"), "{help}");
    for cmd in ["completions", "man", "call", "export", "objects"] {
        assert!(help.contains(&format!("\n  {cmd} ")), "{cmd}: {help}");
    }
    // -h is the same screen.
    assert_eq!(text(&run(home.cmd().arg("-h")).stdout), help);
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let home = Home::new("version");
    let out = run(home.cmd().arg("--version"));
    assert!(out.status.success());
    let line = text(&out.stdout);
    let rest = line
        .trim_end()
        .strip_prefix(concat!("runtel ", env!("CARGO_PKG_VERSION"), " (commit "))
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{line}"));
    // Built inside this repository: a commit it has.
    assert_eq!(rest.len(), 12, "{line}");
    assert!(rest.bytes().all(|b| b.is_ascii_hexdigit()), "{line}");
    let known = Command::new("git")
        .args(["cat-file", "-e", &format!("{rest}^{{commit}}")])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(known.success(), "{rest} is not a commit of this repository");
}

/// PATH with the directory of the tool under test first, as a shell would find it.
fn path_with_runtel() -> String {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_runtel"));
    format!("{}:/usr/bin:/bin", bin.parent().unwrap().display())
}

/// Runs the function the bash completion `script` registers for runtel (as
/// `complete -p runtel` names it) on `line`, the cursor at its end, in a real
/// bash with `home` as HOME and the tool on PATH, returning the candidates.
fn bash_complete(home: &Home, script: &std::path::Path, line: &str) -> Vec<String> {
    let program = r#"
        source "$1" || exit 9
        spec=$(complete -p runtel) || exit 8
        fn=${spec##*-F }; fn=${fn%% *}
        read -ra COMP_WORDS <<< "$2"
        [[ "$2" == *" " ]] && COMP_WORDS+=("")
        COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
        COMP_LINE="$2"; COMP_POINT=${#COMP_LINE}
        prev=""; (( COMP_CWORD > 0 )) && prev="${COMP_WORDS[COMP_CWORD-1]}"
        "$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "$prev"
        if (( ${#COMPREPLY[@]} )); then printf '%s\n' "${COMPREPLY[@]}"; fi
    "#;
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", program, "bash"])
        .arg(script)
        .arg(line)
        .env("HOME", &home.0)
        .env("PATH", path_with_runtel())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn bash_completion_offers_commands_flags_and_catalog_objects() {
    let home = Home::new("completions");
    let out = run(home.cmd().args(["completions", "bash"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let script = home.path("runtel.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    // The script registers a completion for runtel.
    let out = Command::new("bash")
        .args([
            "--norc",
            "--noprofile",
            "-c",
            "source \"$1\" && complete -p runtel",
            "bash",
        ])
        .arg(&script)
        .output()
        .unwrap();
    let registered = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        registered.contains("-F _runtel_with_profiles")
            && registered.trim_end().ends_with(" runtel"),
        "{registered}"
    );
    // Commands.
    let cmds = bash_complete(&home, &script, "runtel co");
    for c in ["completions", "config"] {
        assert!(cmds.iter().any(|x| x == c), "{c}: {cmds:?}");
    }
    // Object names from the catalog, for the OBJ of call and export.
    let objs = bash_complete(&home, &script, "runtel call DomainC");
    assert!(objs.iter().any(|x| x == "DomainCDR"), "{objs:?}");
    assert!(objs.iter().all(|x| x.starts_with("DomainC")), "{objs:?}");
    let known: Vec<&str> = runtel_client::catalog::OBJECTS
        .iter()
        .map(|o| o.name)
        .filter(|n| n.starts_with("DomainC"))
        .collect();
    for n in &known {
        assert!(objs.iter().any(|x| x == n), "{n} missing: {objs:?}");
    }
    for cmd in ["export", "sync"] {
        let objs = bash_complete(&home, &script, &format!("runtel {cmd} DomainQ"));
        assert!(
            objs.iter().any(|x| x == "DomainQueueCDR"),
            "{cmd}: {objs:?}"
        );
    }
    // Actions and flags.
    let actions = bash_complete(&home, &script, "runtel call User list_w");
    assert_eq!(actions, ["list_with_detail"]);
    let flags = bash_complete(&home, &script, "runtel call User list --rec");
    assert_eq!(flags, ["--records"]);
    let formats = bash_complete(&home, &script, "runtel call User list -o y");
    assert_eq!(formats, ["yaml"]);
    // The other shells get a script too; zsh and fish name the catalog's objects.
    for (shell, objects) in [
        ("zsh", true),
        ("fish", true),
        ("powershell", false),
        ("elvish", false),
    ] {
        let out = run(home.cmd().args(["completions", shell]));
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(script.contains("--records"), "{shell}");
        assert_eq!(script.contains("DomainCDR"), objects, "{shell}");
    }
    let out = run(home.cmd().args(["completions", "tcsh"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn profile_names_complete_from_the_config_and_the_cache() {
    let s = sim(0);
    let home = Home::new("complete-profiles");
    home.write_config(
        "[profiles.office]\nurl = \"https://office.example\"\n\n[profiles.warehouse]\nurl = \"https://wh.example\"\n",
        0o600,
    );
    // A profile only the session cache knows.
    let out = run_with_stdin(
        home.cmd().args([
            "--profile",
            "adhoc",
            "--url",
            s.url(),
            "--login",
            DEFAULT_LOGIN,
            "--password-stdin",
            "login",
        ]),
        "admin\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(home.cmd().args(["profiles", "--names"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "office\nwarehouse\nadhoc\n");

    let out = run(home.cmd().args(["completions", "bash"]));
    let script = home.path("runtel.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    assert_eq!(
        bash_complete(&home, &script, "runtel --profile "),
        ["office", "warehouse", "adhoc"]
    );
    assert_eq!(
        bash_complete(&home, &script, "runtel call User list --profile wa"),
        ["warehouse"]
    );
    // Other words still come from clap's function.
    assert_eq!(
        bash_complete(&home, &script, "runtel call User list --rec"),
        ["--records"]
    );
    // Nothing to offer without a config or cache, and no error text either.
    let empty = Home::new("complete-profiles-none");
    let out = run(empty.cmd().args(["profiles", "--names"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    assert!(bash_complete(&empty, &script, "runtel --profile ").is_empty());

    // zsh and fish ask the same command (no zsh or fish here to run them).
    let zsh = text(&run(home.cmd().args(["completions", "zsh"])).stdout);
    assert!(zsh.contains(":PROFILE:_runtel_profiles'"), "{zsh}");
    assert!(
        !zsh.contains(":PROFILE:_default'"),
        "every --profile is patched"
    );
    let defined = zsh
        .find("_runtel_profiles() {")
        .expect("zsh function defined");
    let registered = zsh.find("compdef _runtel runtel").expect("compdef line");
    assert!(defined < registered, "defined before compdef runs it");
    let fish = text(&run(home.cmd().args(["completions", "fish"])).stdout);
    assert!(
        fish.contains("-l profile -f -r -a \"(runtel profiles --names 2>/dev/null)\""),
        "{fish}"
    );
}

#[test]
fn proxy_flag_sends_through_the_proxy_and_the_environment_only_when_asked() {
    let s = sim(0);
    let home = Home::new("proxy");
    // Nothing listens at the server URL: only the proxy (the simulator, which
    // serves proxied requests itself) can answer.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{dead}");
    let base = |c: &mut Command| {
        c.args(["--url", &url, "--login", DEFAULT_LOGIN])
            .env("RUNTEL_PASSWORD", "admin");
    };
    let mut cmd = home.cmd();
    base(&mut cmd);
    let out = run(cmd.args(["--proxy", s.url(), "call", "User", "list", "-o", "json"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["total_count"], 1, "{body}");
    assert_eq!(
        s.counters().requests,
        2,
        "auth and list went through the proxy"
    );

    // The environment's proxy is ignored by default: the call goes to the dead
    // URL and fails as a transport error (exit 4), the proxy sees nothing.
    let mut cmd = home.cmd();
    base(&mut cmd);
    let out = run(cmd
        .env("http_proxy", s.url())
        .env("HTTP_PROXY", s.url())
        .args(["call", "User", "list"]));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert_eq!(s.counters().requests, 2);

    // proxy_from_env in the profile opts in.
    home.write_config("[profiles.default]\nproxy_from_env = true\n", 0o600);
    let mut cmd = home.cmd();
    base(&mut cmd);
    let out = run(cmd
        .env("http_proxy", s.url())
        .args(["call", "User", "list"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        s.counters().requests,
        3,
        "the cached session, through the proxy"
    );

    // A flag and --option for the same setting: refused, nothing sent.
    let mut cmd = home.cmd();
    base(&mut cmd);
    let out = run(cmd.args([
        "--proxy",
        s.url(),
        "--option",
        "proxy=http://other:3128",
        "call",
        "User",
        "list",
    ]));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("proxy given twice"),
        "{}",
        text(&out.stderr)
    );
    // A proxy URL that is not one: a clear error naming the flag.
    let mut cmd = home.cmd();
    base(&mut cmd);
    let out = run(cmd.args(["--proxy", "not a url", "call", "User", "list"]));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("proxy"), "{}", text(&out.stderr));
    assert_eq!(s.counters().requests, 3);
}

#[test]
fn man_pages_are_generated_from_the_commands() {
    let home = Home::new("man");
    let out = run(home.cmd().arg("man"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    assert!(
        page.contains(&format!(
            ".TH runtel 1  \"runtel {}",
            env!("CARGO_PKG_VERSION")
        )),
        "{page}"
    );
    for needle in [
        ".SH NAME",
        ".SH SYNOPSIS",
        "runtel\\-call(1)",
        "Exit codes:",
    ] {
        assert!(page.contains(needle), "{needle} missing in:\n{page}");
    }
    // groff (on every machine of this kind, for man) reads it without a warning.
    let mut groff = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("groff, which man uses");
    groff
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let checked = groff.wait_with_output().unwrap();
    assert!(checked.status.success());
    assert_eq!(text(&checked.stderr), "", "groff warnings");
    let dir = home.path("man1");
    let out = run(home.cmd().arg("man").arg("--dir").arg(&dir));
    assert!(out.status.success(), "{}", text(&out.stderr));
    for name in [
        "runtel.1",
        "runtel-call.1",
        "runtel-export.1",
        "runtel-completions.1",
    ] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert!(text.contains(".SH NAME"), "{name}");
    }
    let call = std::fs::read_to_string(dir.join("runtel-call.1")).unwrap();
    assert!(call.contains("\\-\\-records"), "{call}");
}

/// The token cached for the default profile of `home`.
fn cached_token(home: &Home) -> String {
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(home.path(".cache/runtel/session-default.json")).unwrap(),
    )
    .unwrap();
    v["auth"]["token"].as_str().unwrap().to_owned()
}

#[test]
fn verbose_logs_reach_stderr_without_a_secret() {
    let s = Simulator::start(SimConfig {
        accounts: vec![runtel_sim::Account::domain_admin(
            "v@x.cz",
            "Verbose-Secret-9",
        )],
        seed: vec![("DomainCDR".into(), 3)],
        ..SimConfig::default()
    })
    .unwrap();
    let home = Home::new("verbose");
    let call = |extra: &[&str], env: &[(&str, &str)]| {
        let mut c = home.cmd();
        c.args(["--url", s.url(), "--login", "v@x.cz"])
            .args(extra)
            .args(["call", "User", "list"])
            .env("RUNTEL_PASSWORD", "Verbose-Secret-9");
        for (k, v) in env {
            c.env(k, v);
        }
        let out = run(&mut c);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    // Without -v or RUNTEL_LOG: no records at all.
    let quiet = call(&[], &[]);
    assert!(!quiet.contains("runtel: log:"), "{quiet}");
    let token = cached_token(&home);
    // -vv: the SDK's debug records, the call with its action_id.
    std::fs::remove_file(home.path(".cache/runtel/session-default.json")).unwrap();
    let debug = call(&["-vv"], &[]);
    assert!(
        debug.contains("runtel: log: info runtel_client") && debug.contains("User.auth action_id="),
        "{debug}"
    );
    assert!(
        debug.contains("User.list action_id=") && debug.contains("code=200"),
        "{debug}"
    );
    // Everything, ureq's records included: still no password and no token.
    let token2 = cached_token(&home);
    for (what, err) in [
        ("-vvv", call(&["-vvv"], &[])),
        ("RUNTEL_LOG=trace", call(&[], &[("RUNTEL_LOG", "trace")])),
        ("RUST_LOG=trace", call(&[], &[("RUST_LOG", "trace")])),
    ] {
        assert!(err.contains("runtel: log: debug ureq"), "{what}: {err}");
        for secret in ["Verbose-Secret-9", &token, &token2] {
            assert!(!err.contains(secret), "{what} shows a secret:\n{err}");
        }
    }
    // A fresh login under trace: the password is sent, never shown.
    std::fs::remove_file(home.path(".cache/runtel/session-default.json")).unwrap();
    let err = call(&[], &[("RUNTEL_LOG", "trace")]);
    let token3 = cached_token(&home);
    assert!(err.contains("User.auth"), "{err}");
    for secret in ["Verbose-Secret-9", &token3] {
        assert!(!err.contains(secret), "shows a secret:\n{err}");
    }
    // Per target: only ureq's records; a malformed part is named and ignored.
    let err = call(&[], &[("RUNTEL_LOG", "ureq=debug,loud=very")]);
    assert!(err.contains("runtel: log: debug ureq"), "{err}");
    assert!(!err.contains("runtel_client"), "{err}");
    assert!(
        err.contains("\"loud=very\" is not LEVEL or TARGET=LEVEL"),
        "{err}"
    );
}

#[test]
fn debug_http_shows_exchanges_masked_and_cut() {
    let s = Simulator::start(SimConfig {
        accounts: vec![runtel_sim::Account::domain_admin(
            "d@x.cz",
            "Debug-Secret-8",
        )],
        seed: vec![("DomainCDR".into(), 300)],
        ..SimConfig::default()
    })
    .unwrap();
    let home = Home::new("debug-http");
    let base = |c: &mut Command| {
        c.args(["--url", s.url(), "--login", "d@x.cz", "--debug-http"])
            .env("RUNTEL_PASSWORD", "Debug-Secret-8");
    };
    // login: the auth request with the password masked, the answer without its token.
    let mut c = home.cmd();
    base(&mut c);
    let out = run(c.arg("login"));
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let token = cached_token(&home);
    assert!(err.contains(&format!("> POST {}/api/", s.url())), "{err}");
    assert!(err.contains("\"password\":\"***\""), "{err}");
    assert!(err.contains("\"token\":\"***\""), "{err}");
    assert!(
        !err.contains(&token) && !err.contains("Debug-Secret-8"),
        "{err}"
    );
    // A call: request headers and body, then the answer's status and body.
    let mut c = home.cmd();
    base(&mut c);
    let out = run(c.args(["call", "User", "get", "id:=1"]));
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("> Authorization: Bearer ***\n"), "{err}");
    let body = err
        .lines()
        .find(|l| l.starts_with("> {"))
        .unwrap_or_default();
    assert!(
        body.contains("\"obj\":\"User\"") && body.contains("\"params\":{\"id\":1}"),
        "{err}"
    );
    assert!(err.contains("< HTTP 200, "), "{err}");
    assert!(err.contains("\"login\":\"d@x.cz\""), "{err}");
    // stdout keeps only the answer.
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["body"]["login"], "d@x.cz");
    // A large answer is cut at the bound.
    let mut c = home.cmd();
    base(&mut c);
    let out = run(c.args(["call", "DomainCDR", "list", "limit=300"]));
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(out.stdout.len() > 20_000, "{}", out.stdout.len());
    assert!(err.contains("more bytes not shown)"), "{err}");
    assert!(err.len() < 10_000, "{} bytes of stderr", err.len());
    // An answer that echoes the token and password has them masked.
    replay_next(
        &s,
        200,
        serde_json::json!({"code": 200, "action_id": "REPLAYED", "obj": "User", "action": "get",
            "body": {"echo": format!("Bearer {token}"), "raw": token, "pw": "Debug-Secret-8"}}),
    );
    let mut c = home.cmd();
    base(&mut c);
    let out = run(c.args(["call", "User", "get", "id:=1"]));
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("\"raw\":\"***\""), "{err}");
    for secret in [token.as_str(), "Debug-Secret-8"] {
        assert!(!err.contains(secret), "a secret in:\n{err}");
    }
    // An export shows every page it asks for, each with its offset.
    let file = home.path("cdrs.jsonl");
    let mut c = home.cmd();
    base(&mut c);
    let out = run(c
        .args(["export", "DomainCDR", "--page-size", "100", "-o"])
        .arg(&file));
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let pages: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("> {") && l.contains("\"obj\":\"DomainCDR\""))
        .collect();
    for offset in [0, 100, 200] {
        assert!(
            pages
                .iter()
                .any(|l| l.contains(&format!("\"offset\":{offset}"))),
            "no page at offset {offset} in:\n{err}"
        );
    }
    assert_eq!(
        err.matches("< HTTP 200, ").count(),
        pages.len(),
        "one answer per page:\n{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 300);
    // So does a sync, into SQLite.
    let db = home.path("cdrs.sqlite");
    let mut c = home.cmd();
    base(&mut c);
    let out = run(c
        .args(["sync", "DomainCDR", "--page-size", "100", "--to"])
        .arg(&db));
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let sync_pages = err
        .lines()
        .filter(|l| l.starts_with("> {") && l.contains("\"obj\":\"DomainCDR\""))
        .count();
    assert!(sync_pages >= 3, "{sync_pages} pages shown:\n{err}");
    for secret in [token.as_str(), "Debug-Secret-8"] {
        assert!(!err.contains(secret), "a secret in:\n{err}");
    }
}

#[test]
fn config_set_get_list_path_edit_the_file_and_keep_it_private() {
    let home = Home::new("config-edit");
    let file = home.path(".config/runtel/config.toml");
    let config = |args: &[&str]| run(home.cmd().arg("config").args(args));
    let out = config(&["path"]);
    assert_eq!(text(&out.stdout).trim(), file.display().to_string());
    let out = run(home
        .cmd()
        .env("RUNTEL_CONFIG", "/x/c.toml")
        .args(["config", "path"]));
    assert_eq!(text(&out.stdout).trim(), "/x/c.toml");
    // set creates the file (mode 0600) and the profile; values are typed.
    for (k, v) in [
        ("url", "https://pbx.example"),
        ("timeout", "12.5"),
        ("proxy_from_env", "true"),
        ("login", "1234"),
        ("max_retries", "0"),
    ] {
        let out = config(&["set", k, v]);
        assert!(out.status.success(), "{k}: {}", text(&out.stderr));
    }
    assert_eq!(mode_of(&file), 0o600);
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        written,
        "[profiles.default]\nurl = \"https://pbx.example\"\ntimeout = 12.5\nproxy_from_env = true\n\
         login = \"1234\"\nmax_retries = 0\n"
    );
    let get = |k: &str| text(&config(&["get", k]).stdout).trim().to_owned();
    assert_eq!(get("url"), "https://pbx.example");
    assert_eq!(get("timeout"), "12.5");
    assert_eq!(get("login"), "1234");
    let out = config(&["list"]);
    assert_eq!(
        text(&out.stdout),
        "url = \"https://pbx.example\"\ntimeout = 12.5\nproxy_from_env = true\nlogin = \"1234\"\n\
         max_retries = 0\n"
    );
    // What is set is what the client gets.
    let shown = config_json(&home, &[]);
    assert_eq!(shown["url"], "https://pbx.example");
    assert_eq!(shown["options"]["timeout"], 12.5);
    assert_eq!(shown["options"]["proxy_from_env"], true);
    // An existing file keeps its comments and other profiles; a file others could
    // read becomes 0600; aliases replace each other.
    std::fs::write(
        &file,
        "# my settings\n[profiles.work]  # the office\nurl = \"https://work.example\"\ninsecure = true\n",
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(home.cmd().args([
        "--profile",
        "work",
        "config",
        "set",
        "accept_invalid_certs",
        "false",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(home
        .cmd()
        .args(["--profile", "work", "config", "set", "timeout", "5"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "# my settings\n[profiles.work]  # the office\nurl = \"https://work.example\"\n\
         accept_invalid_certs = false\ntimeout = 5\n"
    );
    assert_eq!(mode_of(&file), 0o600);
    let out = run(home
        .cmd()
        .args(["--profile", "work", "config", "unset", "timeout"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!std::fs::read_to_string(&file).unwrap().contains("timeout"));
    // Refused, the file unchanged: unknown keys (with the nearest), bad values,
    // the password.
    let before = std::fs::read_to_string(&file).unwrap();
    for (args, code, needle) in [
        (
            vec!["set", "max_retires", "1"],
            11,
            "did you mean \"max_retries\"",
        ),
        (vec!["set", "timeout", "-1"], 3, "timeout"),
        (vec!["set", "max_retries", "two"], 3, "max_retries"),
        (vec!["set", "url", "ftp://x"], 3, "url"),
        (
            vec!["set", "password", "hunter22"],
            3,
            "visible to other users",
        ),
        (vec!["get", "password"], 11, "not printed"),
        (vec!["get", "proxy"], 11, "not set"),
    ] {
        let out = run(home.cmd().args(["--profile", "work", "config"]).args(&args));
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(needle),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), before, "{args:?}");
    }
    // A symlinked file stays a link; its target is edited.
    let target = home.path("dotfiles-config.toml");
    std::fs::rename(&file, &target).unwrap();
    std::os::unix::fs::symlink(&target, &file).unwrap();
    let out = run(home
        .cmd()
        .args(["--profile", "work", "config", "set", "max_retries", "2"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(std::fs::symlink_metadata(&file)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::read_to_string(&target)
        .unwrap()
        .contains("max_retries = 2"));
}

#[test]
fn profiles_lists_file_and_cached_sessions_and_logout_all_ends_them() {
    let s = sim(1);
    let home = Home::new("profiles");
    home.write_config(
        &format!(
            "[profiles.default]\nurl = \"{}\"\nlogin = \"{DEFAULT_LOGIN}\"\n\n[profiles.spare]\nurl = \"https://spare.example\"\n",
            s.url()
        ),
        0o600,
    );
    logged_in(&home, &s);
    // A second session, for a profile only the cache knows.
    let out = run_with_stdin(
        home.cmd().args([
            "--profile",
            "adhoc",
            "--url",
            s.url(),
            "--login",
            DEFAULT_LOGIN,
            "--password-stdin",
            "login",
        ]),
        "admin\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(home.cmd().arg("profiles"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    let rows: Vec<Vec<&str>> = listing
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["PROFILE", "URL", "LOGIN", "SESSION"], "{listing}");
    assert_eq!(
        rows[1][..4],
        ["*", "default", s.url(), DEFAULT_LOGIN],
        "{listing}"
    );
    assert_eq!(rows[1][4..6], ["valid", "until"], "{listing}");
    assert_eq!(
        rows[2][..3],
        ["spare", "https://spare.example", "-"],
        "{listing}"
    );
    assert_eq!(rows[2][3], "none", "{listing}");
    assert_eq!(rows[3][..3], ["adhoc", s.url(), DEFAULT_LOGIN], "{listing}");
    let out = run(home.cmd().args(["--profile", "spare", "profiles"]));
    assert!(text(&out.stdout).lines().nth(2).unwrap().starts_with('*'));
    // logout --all: both sessions end on the server and are forgotten.
    let before = s.counters().action("logout");
    let out = run(home.cmd().args(["logout", "--all"]));
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(s.counters().action("logout"), before + 2, "{err}");
    assert!(
        err.contains("default: logged out of") && err.contains("adhoc: logged out of"),
        "{err}"
    );
    for p in ["default", "adhoc"] {
        assert!(!home
            .path(&format!(".cache/runtel/session-{p}.json"))
            .exists());
    }
    let out = run(home.cmd().arg("profiles"));
    assert!(
        !text(&out.stdout).contains("valid until"),
        "{}",
        text(&out.stdout)
    );
    let out = run(home.cmd().args(["logout", "--all"]));
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("not logged in"));
}

#[test]
fn csv_for_spreadsheets_delimiter_bom_and_times_in_a_zone() {
    let s = sim(3);
    let home = Home::new("csv-sheets");
    logged_in(&home, &s);
    let dt0 = s.seed_dt("DomainCDR", 0);
    // A name holding the delimiter, and a field first seen on the last page.
    s.insert_records(
        "DomainCDR",
        vec![serde_json::json!({"dt": dt0, "src_name": "Ив;ан", "note": "=1+1"})],
    )
    .unwrap();
    let file = home.path("cdrs.csv");
    let out = run(&mut export_cmd(
        &home,
        &s,
        &[
            "--format",
            "csv",
            "--csv-delimiter",
            ";",
            "--bom",
            "--time-zone",
            "+03:00",
            "--page-size",
            "2",
            "-o",
            file.to_str().unwrap(),
        ],
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"\xef\xbb\xbf"), "{:?}", &bytes[..8]);
    let body = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let lines: Vec<&str> = body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 5, "{body}");
    let header: Vec<&str> = lines[0].split(';').collect();
    assert_eq!(header.first(), Some(&"id"), "{body}");
    assert_eq!(header.last(), Some(&"note"), "the widened header: {body}");
    let dt = header.iter().position(|c| *c == "dt").unwrap();
    let iso = date_in("UTC-3", dt0, "+%Y-%m-%dT%H:%M:%S+03:00");
    for row in &lines[1..] {
        // Every row as wide as the header (the earlier ones padded).
        assert_eq!(
            row.matches(';').count(),
            header.len() - 1 + usize::from(row.contains("\"Ив;ан\"")),
            "{row}"
        );
    }
    assert_eq!(lines[1].split(';').nth(dt), Some(iso.as_str()), "{body}");
    assert!(
        lines[4].contains(";\"Ив;ан\";") && lines[4].ends_with(";'=1+1"),
        "{body}"
    );
    // stdout, a tab: the mark first, then the header.
    let out = run(&mut export_cmd(
        &home,
        &s,
        &[
            "--format",
            "csv",
            "--csv-delimiter",
            "tab",
            "--bom",
            "--where",
            "id<=2",
        ],
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        out.stdout
            .starts_with("\u{feff}id\tdomain_id\tdt\t".as_bytes()),
        "{}",
        text(&out.stdout)
    );
    // Without --time-zone, times stay Unix seconds.
    let out = run(&mut export_cmd(
        &home,
        &s,
        &["--format", "csv", "--where", "id=1"],
    ));
    assert!(
        text(&out.stdout).contains(&format!(",{dt0},")),
        "{}",
        text(&out.stdout)
    );
    // call -o csv takes the same flags.
    let csv = call_ok(
        &home,
        &s,
        &[
            "DomainCDR",
            "list",
            "-o",
            "csv",
            "--csv-delimiter",
            ";",
            "--bom",
            "--time-zone",
            "UTC",
        ],
    );
    assert!(csv.starts_with("\u{feff}id;domain_id;dt;"), "{csv}");
    assert!(
        csv.contains(&date_in("UTC", dt0, "+;%Y-%m-%dT%H:%M:%SZ;")),
        "{csv}"
    );
    // Refused before anything is sent: the flags without CSV, a bad delimiter.
    let before = s.counters().requests;
    for args in [
        vec!["export", "DomainCDR", "--bom"],
        vec![
            "export",
            "DomainCDR",
            "--format",
            "json",
            "--time-zone",
            "UTC",
        ],
        vec![
            "export",
            "DomainCDR",
            "--format",
            "csv",
            "--csv-delimiter",
            "ab",
        ],
        vec!["call", "DomainCDR", "list", "--csv-delimiter", ";"],
        vec![
            "call",
            "DomainCDR",
            "list",
            "-o",
            "csv",
            "--csv-delimiter",
            "\"",
        ],
    ] {
        let out = run(home.cmd().args(["--url", s.url()]).args(&args));
        assert_eq!(
            out.status.code(),
            Some(3),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(s.counters().requests, before);
}

#[test]
fn a_resumed_csv_export_keeps_its_delimiter_mark_and_zone() {
    let s = sim(40);
    let home = Home::new("csv-resume");
    logged_in(&home, &s);
    slow_lists(&s, 150);
    let target = home.path("c.csv");
    let state = home.path("c.csv.part.state");
    let choices = [
        "--format",
        "csv",
        "--csv-delimiter",
        ";",
        "--bom",
        "--time-zone",
        "+03:00",
    ];
    let with = |extra: &[&str]| {
        let mut args: Vec<&str> = choices.to_vec();
        args.extend(["--page-size", "10", "-o", target.to_str().unwrap()]);
        args.extend(extra);
        export_cmd(&home, &s, &args)
    };
    let mut child = export_until(&mut with(&[]), &state, 10);
    child.kill().unwrap();
    child.wait().unwrap();
    s.clear_faults();
    // Other choices would mix two forms in one file: refused.
    for other in [["--csv-delimiter", ","], ["--time-zone", "UTC"]] {
        let mut args: Vec<&str> = choices.to_vec();
        let i = args.iter().position(|a| *a == other[0]).unwrap();
        args[i + 1] = other[1];
        args.extend([
            "--page-size",
            "10",
            "--resume",
            "-o",
            target.to_str().unwrap(),
        ]);
        let out = run(&mut export_cmd(&home, &s, &args));
        assert_eq!(
            out.status.code(),
            Some(11),
            "{other:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("belongs to another export"),
            "{}",
            text(&out.stderr)
        );
    }
    let out = run(&mut with(&["--resume"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bytes = std::fs::read(&target).unwrap();
    assert!(bytes.starts_with(b"\xef\xbb\xbf"));
    let body = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(!body.contains('\u{feff}'), "one mark, at the start");
    let lines: Vec<&str> = body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 41, "{body}");
    let dt = lines[0].split(';').position(|c| c == "dt").unwrap();
    for (i, l) in lines[1..].iter().enumerate() {
        assert_eq!(
            l.split(';').next(),
            Some((i + 1).to_string().as_str()),
            "{l}"
        );
        let iso = date_in(
            "UTC-3",
            s.seed_dt("DomainCDR", i as i64),
            "+%Y-%m-%dT%H:%M:%S+03:00",
        );
        assert_eq!(l.split(';').nth(dt), Some(iso.as_str()), "{l}");
    }
}
