//! Warnings a user must see once, through the `log` facade: a password about to
//! cross the network in clear, and a token whose expiry cannot be believed.

use std::sync::Mutex;
use std::time::Duration;

use runtel_client::Client;
use runtel_sim::{Fault, FaultRule, SimConfig, Simulator, DEFAULT_LOGIN, DEFAULT_PASSWORD};
use serde_json::json;

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            LINES.lock().unwrap().push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

fn warnings_containing(needle: &str) -> usize {
    LINES
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains(needle))
        .count()
}

#[test]
fn warnings_are_given_once_where_they_matter() {
    static CAPTURE: Capture = Capture;
    log::set_logger(&CAPTURE).unwrap();
    log::set_max_level(log::LevelFilter::Warn);

    // Plain HTTP to another host: warned before the password leaves, once.
    // 192.0.2.1 is TEST-NET-1: nothing answers, the connect times out.
    let remote = Client::builder("http://192.0.2.1:9")
        .connect_timeout(Duration::from_millis(200))
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    for _ in 0..2 {
        assert!(remote.login(DEFAULT_LOGIN, "pw-x").is_err());
    }
    assert_eq!(warnings_containing("in clear text over http://"), 1);
    let quiet = Client::builder("http://192.0.2.1:9")
        .warn_plain_http(false)
        .connect_timeout(Duration::from_millis(200))
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    assert!(quiet.login(DEFAULT_LOGIN, "pw-x").is_err());
    assert_eq!(warnings_containing("in clear text over http://"), 1);

    // Loopback is this machine: no warning.
    let s = Simulator::start(SimConfig::default()).unwrap();
    let local = Client::builder(s.url())
        .credentials(DEFAULT_LOGIN, DEFAULT_PASSWORD)
        .build()
        .unwrap();
    s.push_fault(FaultRule::times(Fault::ExpPast, 1).on_action("auth"));
    for _ in 0..3 {
        local.call("User", "list", json!({})).unwrap();
    }
    assert_eq!(warnings_containing("in clear text over http://"), 1);
    assert_eq!(
        warnings_containing("already past when the token arrived"),
        1
    );
    assert_eq!(s.counters().auth_attempts, 1);
}
