//! Soak: 8 threads share one client for SOAK_SECS seconds (default 60) against the
//! simulator with ~5% random faults on reads and writes and every token expired every
//! 3 s. Run with `cargo test --release -p runtel-client --test soak -- --ignored --nocapture`.
//!
//! Afterwards: every call succeeded or returned one of the kinds a fault can cause;
//! `auth` calls = expiries + 1 (single flight); no thread hung; RSS did not grow
//! after warm-up.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use runtel_client::{Client, ErrorKind, RetryPolicy};
use runtel_sim::{Fault, FaultRule, SimConfig, Simulator, DEFAULT_LOGIN, DEFAULT_PASSWORD};
use serde_json::json;

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

#[test]
#[ignore = "long-running; scripts/test-all runs it in release mode"]
fn soak_eight_threads_faults_and_expiry() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let s = Simulator::start(SimConfig {
        auth_delay: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .unwrap();
    // About 5% of reads and writes hit a fault; logins never do, so every auth the
    // server sees is a re-login caused by an expiry.
    for action in ["get", "update"] {
        for (fault, p) in [
            (Fault::Html502, 0.01),
            (Fault::Html503, 0.008),
            (Fault::DropBeforeResponse, 0.01),
            (Fault::WrongActionId, 0.01),
            (Fault::TruncatedJson, 0.01),
            (Fault::Delay(Duration::from_millis(400)), 0.002),
        ] {
            s.push_fault(FaultRule {
                fault,
                times: None,
                action: Some(action.into()),
                probability: p,
            });
        }
    }
    let c = Client::builder(s.url())
        .credentials(DEFAULT_LOGIN, DEFAULT_PASSWORD)
        .timeout(Duration::from_millis(300))
        .retry(RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(20),
        })
        .build()
        .unwrap();
    c.call("User", "get", json!({"id": 1})).unwrap();

    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let (tx, rx) = mpsc::channel::<BTreeMap<String, u64>>();
    let mut expiries = 0u64;
    let (mut rss_warm, mut rss_end) = (0.0, 0.0);
    std::thread::scope(|scope| {
        for t in 0..8 {
            let (c, tx, stop) = (c.clone(), tx.clone(), &stop);
            scope.spawn(move || {
                let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let r = if i.is_multiple_of(10) {
                        c.call(
                            "User",
                            "update",
                            json!({"id": 1, "surname": format!("t{t}-{i}")}),
                        )
                    } else {
                        c.call("User", "get", json!({"id": 1}))
                    };
                    let key = match r {
                        Ok(resp) => {
                            assert_eq!(resp.code(), 200);
                            "ok".to_owned()
                        }
                        Err(e) => {
                            assert!(
                                matches!(
                                    e.kind(),
                                    ErrorKind::Api
                                        | ErrorKind::Protocol
                                        | ErrorKind::Transport
                                        | ErrorKind::Timeout
                                ),
                                "a fault can cause only these kinds, got {}: {e}",
                                e.kind()
                            );
                            e.kind().as_str().to_owned()
                        }
                    };
                    *outcomes.entry(key).or_default() += 1;
                }
                tx.send(outcomes).unwrap();
            });
        }
        drop(tx);
        let started = Instant::now();
        let mut next_expiry = started + Duration::from_secs(3);
        let warm_at = started + Duration::from_secs(secs / 3);
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            if Instant::now() >= next_expiry {
                // Counted only when a token was live: an expiry while the re-login
                // is still on its way kills nothing.
                expiries += s.expire_all_tokens().min(1) as u64;
                next_expiry += Duration::from_secs(3);
            }
            if rss_warm == 0.0 && Instant::now() >= warm_at {
                rss_warm = rss_mib();
            }
        }
        stop.store(true, Ordering::Relaxed);
        rss_end = rss_mib();
    });
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    let mut threads = 0;
    while let Ok(o) = rx.recv_timeout(Duration::from_secs(10)) {
        threads += 1;
        for (k, v) in o {
            *totals.entry(k).or_default() += v;
        }
    }
    assert_eq!(threads, 8, "every thread finished");
    let calls: u64 = totals.values().sum();
    // An expiry in the last moments may find the threads already stopping; one more
    // read settles it, so the count of re-logins below is exact, not racy.
    let settled = (0..20).any(|_| c.call("User", "get", json!({"id": 1})).is_ok());
    assert!(settled, "the client still works after the soak");
    let k = s.counters();
    println!(
        "soak: {secs} s, 8 threads, {calls} calls ({:.0}/s), outcomes {totals:?}, faults applied {}, \
         expiries {expiries}, auth calls {}, RSS {rss_warm:.1} MiB after warm-up -> {rss_end:.1} MiB at the end",
        calls as f64 / secs as f64,
        k.faults_applied,
        k.auth_attempts
    );
    assert!(calls > 10_000, "tens of thousands of calls: {calls}");
    assert!(expiries >= secs / 3 - 2, "expiries happened: {expiries}");
    assert_eq!(
        k.auth_attempts,
        expiries + 1,
        "one re-login per expiry, shared by all threads"
    );
    assert!(totals.get("ok").copied().unwrap_or(0) as f64 > calls as f64 * 0.9);
    assert!(
        rss_end - rss_warm < 8.0,
        "RSS grew from {rss_warm:.1} to {rss_end:.1} MiB"
    );
}
