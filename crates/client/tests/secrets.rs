//! Password and token never appear in Debug, Display, errors or log output,
//! with every log level on, through success and error paths.

use std::sync::Mutex;
use std::time::Duration;

use runtel_client::{Client, RetryPolicy};
use runtel_sim::{Account, Fault, FaultRule, MalformedAuth, SimConfig, Simulator};
use serde_json::json;

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

static WIRE_DUMPS: Mutex<String> = Mutex::new(String::new());

/// A logger that forwards what the front ends forward, and keeps the text of the
/// records it drops to prove the filter is needed.
struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let line = format!("{} {} {}", record.level(), record.target(), record.args());
        if runtel_client::log_record_may_hold_secrets(record.metadata()) {
            // Hex dump rows end with their printable text after two spaces.
            let text = line.rsplit("  ").next().unwrap_or_default().to_owned();
            WIRE_DUMPS.lock().unwrap().push_str(&text);
            return;
        }
        LINES.lock().unwrap().push(line);
    }
    fn flush(&self) {}
}

const PASSWORD: &str = "Pa55-w0rd-that-must-not-leak";

#[test]
fn secrets_never_leak() {
    static CAPTURE: Capture = Capture;
    log::set_logger(&CAPTURE).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    let login = "leaktest@sim.runtel.local";
    let s = Simulator::start(SimConfig {
        accounts: vec![Account::domain_admin(login, PASSWORD)],
        ..SimConfig::default()
    })
    .unwrap();
    let c = Client::builder(s.url())
        .credentials(login, PASSWORD)
        // The hostile auth answers below count as failed logins (fail closed).
        .max_auth_failures(100)
        .timeout(Duration::from_millis(500))
        .retry(RetryPolicy {
            max_retries: 1,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
        })
        .build()
        .unwrap();
    let mut shown = Vec::new();
    let info = c.login(login, PASSWORD).unwrap();
    let token = info.token.expose().to_owned();
    assert!(token.len() >= 32);
    shown.push(format!("{info:?} {:?} {c:?}", info.to_masked_json()));
    shown.push(format!(
        "{:?}",
        Client::builder(s.url()).credentials(login, PASSWORD)
    ));
    for fault in Fault::all_for_tests(Duration::from_millis(800), 10_000) {
        s.push_fault(FaultRule::times(fault, 1));
        let r = c.call("User", "list", json!({}));
        shown.push(format!("{r:?}"));
        if let Err(e) = r {
            shown.push(format!("{e} {e:?}"));
        }
    }
    // Error paths that carry the server's words: rejected token, refused login.
    s.expire_all_tokens();
    shown.push(format!("{:?}", c.call("User", "get", json!({"id": 1}))));
    let e = c.login(login, "wrong-but-also-secret").unwrap_err();
    shown.push(format!("{e} {e:?}"));
    // An auth answer with a field the SDK rejects: the excerpt must mask the token.
    s.push_fault(FaultRule::times(Fault::WrongActionId, 1).on_action("auth"));
    shown.push(format!("{:?}", c.login(login, PASSWORD)));
    let mut tokens = vec![token.clone()];
    tokens.extend(s.last_issued_token());
    // Malformed auth answers that still carry a (valid, fresh) token.
    for variant in MalformedAuth::NAMES {
        s.push_fault(FaultRule::times(
            Fault::parse(&format!("auth_malformed:{variant}")).unwrap(),
            1,
        ));
        let e = c.login(login, PASSWORD).unwrap_err();
        tokens.push(s.last_issued_token().unwrap());
        shown.push(format!("{variant}: {e} {e:?}"));
    }
    // Servers and proxies that echo the request: the auth body holds the
    // password, every other request the bearer token.
    let info = c.login(login, PASSWORD).unwrap();
    tokens.push(info.token.expose().to_owned());
    for fault in [Fault::EchoRequest, Fault::EchoEnvelope] {
        s.push_fault(FaultRule::times(fault.clone(), 1).on_action("auth"));
        let e = c.login(login, PASSWORD).unwrap_err();
        shown.push(format!("{e} {e:?}"));
        s.push_fault(FaultRule::times(fault, 1).on_action("list"));
        let e = c.call("User", "list", json!({})).unwrap_err();
        assert!(
            format!("{e:?}").contains("***"),
            "the echo is there, masked: {e:?}"
        );
        shown.push(format!("{e} {e:?}"));
    }
    if let Some(t) = s.last_issued_token() {
        tokens.push(t);
    }
    drop(c);

    let logs = LINES.lock().unwrap().clone();
    if std::env::var_os("RUNTEL_SHOW_LOGS").is_some() {
        logs.iter().for_each(|l| eprintln!("{l}"));
    }
    assert!(logs.len() > 20, "logging was on: {} lines", logs.len());
    assert!(
        logs.iter().any(|l| l.contains("action_id=")),
        "per-call log lines exist"
    );
    // Log lines are read by people and other languages: no Rust syntax, and no
    // repeat of the logger's name.
    for l in logs.iter().filter(|l| l.contains(" runtel_client ")) {
        assert!(!l.contains("Some(") && !l.contains("None"), "{l}");
        assert!(!l.contains(" runtel_client runtel"), "{l}");
        // The call is named once per line, not again by the error's detail.
        if let Some((head, _)) = l.split_once(" action_id=") {
            let call = head.rsplit(' ').next().unwrap_or_default();
            assert_eq!(l.matches(&format!("{call}:")).count(), 0, "{l}");
        }
    }
    assert!(logs
        .iter()
        .any(|l| l.contains("failed kind=api code=-") || l.contains("code=404")));
    // Without the filter, ureq's trace dumps would show the token: the filter is needed.
    let dumps = WIRE_DUMPS.lock().unwrap().clone();
    assert!(
        dumps.contains(&token[..16]),
        "ureq_proto trace dumps carry the token"
    );
    for text in shown.iter().chain(logs.iter()) {
        for secret in tokens
            .iter()
            .map(String::as_str)
            .chain([PASSWORD, "wrong-but-also-secret"])
        {
            assert!(!text.contains(secret), "secret leaked in: {text}");
        }
    }
}
