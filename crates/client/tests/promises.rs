//! The README's promises attacked the way the world attacks them: many clients
//! logging in at once, lost login answers, one server under many spellings,
//! servers that cap pages or ignore offsets, compressed bombs, lying lengths,
//! odd auth answers. Real HTTP over loopback to the simulator.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use runtel_client::{Client, ErrorKind, ProtocolErrorReason, RetryPolicy};
use runtel_sim::{
    Fault, FaultRule, PagingOptions, SimConfig, Simulator, DEFAULT_LOGIN, DEFAULT_PASSWORD,
};
use serde_json::json;

fn sim(config: SimConfig) -> Simulator {
    Simulator::start(config).unwrap()
}

/// A simulator whose own Defender never blocks, so that what reaches it is
/// what the client let through.
fn lenient_sim() -> Simulator {
    sim(SimConfig {
        defender_max_failures: 1000,
        auth_delay: Duration::from_millis(100),
        ..SimConfig::default()
    })
}

fn client(url: &str) -> Client {
    Client::builder(url)
        .credentials(DEFAULT_LOGIN, DEFAULT_PASSWORD)
        .timeout(Duration::from_secs(5))
        .retry(RetryPolicy::NONE)
        .build()
        .unwrap()
}

fn wrong_password_from_threads(urls: Vec<String>) -> Vec<ErrorKind> {
    let barrier = Arc::new(Barrier::new(urls.len()));
    let threads: Vec<_> = urls
        .into_iter()
        .map(|url| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let c = Client::builder(&url)
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap();
                barrier.wait();
                c.login(DEFAULT_LOGIN, "wrong").unwrap_err().kind()
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn thirty_two_threads_with_a_wrong_password_send_at_most_three_logins() {
    let s = lenient_sim();
    let kinds = wrong_password_from_threads(vec![s.url().to_owned(); 32]);
    let k = s.counters();
    assert_eq!(k.auth_attempts, 3, "logins that reached the server");
    assert_eq!(kinds.iter().filter(|k| **k == ErrorKind::Auth).count(), 3);
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == ErrorKind::AuthLockout)
            .count(),
        29
    );
}

#[test]
fn thirty_two_threads_with_the_right_password_all_log_in() {
    // The in-flight budget must not refuse good logins: they wait their turn.
    let s = lenient_sim();
    let barrier = Arc::new(Barrier::new(32));
    let threads: Vec<_> = (0..32)
        .map(|_| {
            let (url, barrier) = (s.url().to_owned(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let c = Client::new(&url).unwrap();
                barrier.wait();
                c.login(DEFAULT_LOGIN, DEFAULT_PASSWORD).map(|i| i.user_id)
            })
        })
        .collect();
    for t in threads {
        assert!(t.join().unwrap().is_ok());
    }
    assert_eq!(s.counters().auth_attempts, 32);
    assert!(s.counters().max_concurrent_auths <= 3);
}

#[test]
fn one_server_under_five_spellings_is_one_guard() {
    let s = lenient_sim();
    let port = s.addr().port();
    let spellings = [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("http://127.1:{port}"),
        format!("http://127.0.0.1:0{port}"),
        format!("HTTP://LOCALHOST:{port}/"),
    ];
    let urls: Vec<String> = spellings.iter().cycle().take(15).cloned().collect();
    let kinds = wrong_password_from_threads(urls);
    assert_eq!(s.counters().auth_attempts, 3, "{kinds:?}");
}

#[test]
fn lost_login_answers_count_as_failures() {
    for (what, fault) in [
        ("timeout", Fault::Delay(Duration::from_millis(1500))),
        ("dropped after the request", Fault::DropBeforeResponse),
        ("dropped mid-answer", Fault::DropMidBody),
        ("HTML 401", Fault::Html401),
        ("HTML 403", Fault::Html403),
    ] {
        let s = lenient_sim();
        s.push_fault(FaultRule {
            times: None,
            ..FaultRule::times(fault, 1).on_action("auth")
        });
        let c = Client::builder(s.url())
            .timeout(Duration::from_millis(700))
            .build()
            .unwrap();
        let mut kinds = Vec::new();
        for _ in 0..5 {
            kinds.push(c.login(DEFAULT_LOGIN, DEFAULT_PASSWORD).unwrap_err().kind());
        }
        assert_eq!(s.counters().auth_attempts, 3, "{what}: {kinds:?}");
        assert_eq!(kinds[3..], [ErrorKind::AuthLockout; 2], "{what}");
    }
}

#[test]
fn a_login_that_never_left_does_not_count() {
    // Nothing listens on this port: the request is never sent.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = Client::builder(&format!("http://127.0.0.1:{port}"))
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    for _ in 0..5 {
        let e = c.login(DEFAULT_LOGIN, "x-wrong").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
        // Structured: a cause to match on, the message without its label, the
        // transport's own error underneath.
        assert_eq!(
            e.transport_info().unwrap().cause,
            runtel_client::TransportCause::Connect
        );
        assert!(e.to_string().starts_with("transport error: "), "{e}");
        assert!(e.detail().starts_with("User.auth: "), "{}", e.detail());
        let inner = std::error::Error::source(&e).expect("the transport info");
        assert!(
            std::error::Error::source(inner).is_some(),
            "ureq's error kept"
        );
    }
    assert_eq!(c.login_guard_state().failures(), 0);
}

#[test]
fn a_server_that_caps_pages_loses_nothing() {
    let s = sim(SimConfig {
        seed: vec![("DomainCDR".into(), 250)],
        ..SimConfig::default()
    });
    s.set_max_page_size(Some(100));
    let c = client(s.url());
    let mut it = c.records("DomainCDR", json!({}), 1000).unwrap();
    let ids: Vec<i64> = it
        .by_ref()
        .map(|r| r.unwrap()["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, (1..=250).collect::<Vec<_>>());
    assert_eq!(it.server_page_size(), Some(100));
    assert_eq!(it.pages_fetched(), 3);
    assert_eq!(it.shortfall(), None);
    // Without total_count too: one more page tells the end.
    s.set_omit_total_count(true);
    let n = c.records("DomainCDR", json!({}), 1000).unwrap().count();
    assert_eq!(n, 250);
}

#[test]
fn a_server_that_ignores_offset_is_detected_not_looped() {
    let s = sim(SimConfig {
        seed: vec![("DomainCDR".into(), 250)],
        ..SimConfig::default()
    });
    for omit_total in [true, false] {
        s.set_paging(PagingOptions {
            max_page_size: None,
            ignore_offset: true,
            omit_total_count: omit_total,
        });
        let c = client(s.url());
        let started = Instant::now();
        let results: Vec<_> = c.records("DomainCDR", json!({}), 100).unwrap().collect();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(results.len(), 101, "one page, then the error");
        let e = results.last().unwrap().as_ref().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol);
        assert!(e.to_string().contains("ignores `offset`"), "{e}");
    }
}

fn page(records: std::ops::Range<i64>, total: u64) -> FaultRule {
    let list: Vec<_> = records.map(|id| json!({"id": id})).collect();
    let body = json!({"action": "list", "action_id": "RECORDED", "obj": "DomainCDR",
        "code": 200, "notifies": [], "list": list, "total_count": total});
    FaultRule::times(Fault::envelope(200, &body), 1).on_action("list")
}

#[test]
fn a_list_that_ends_below_its_total_count_says_so() {
    let s = sim(SimConfig::default());
    let c = client(s.url());
    // Announced 25, then an empty page at offset 10.
    s.push_fault(page(1..11, 25));
    s.push_fault(page(0..0, 25));
    let mut it = c.records("DomainCDR", json!({}), 10).unwrap();
    assert_eq!(it.by_ref().count(), 10);
    assert_eq!(it.shortfall(), Some(15));
    // Full pages with a stale count of 10: paging goes on to the real end.
    s.push_fault(page(1..11, 10));
    s.push_fault(page(11..21, 10));
    s.push_fault(page(21..26, 10));
    let mut it = c.records("DomainCDR", json!({}), 10).unwrap();
    let ids: Vec<i64> = it
        .by_ref()
        .map(|r| r.unwrap()["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, (1..26).collect::<Vec<_>>());
    assert_eq!(it.shortfall(), None);
}

#[test]
fn gzip_answers_work_and_bombs_are_refused_quickly() {
    let s = sim(SimConfig::default());
    let c = client(s.url());
    s.push_fault(FaultRule::times(Fault::Gzip, 1));
    let r = c.call("User", "list", json!({})).unwrap();
    assert_eq!(r.total_count(), Some(1));
    let started = Instant::now();
    s.push_fault(FaultRule::times(Fault::GzipBomb(4 << 30), 1).on_action("list"));
    let e = c.call("User", "list", json!({})).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert_eq!(
        e.protocol_info().unwrap().reason,
        ProtocolErrorReason::BodyTooLarge
    );
    assert!(e.to_string().contains("decompression bomb"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(c.call("User", "list", json!({})).is_ok(), "still usable");
}

#[test]
fn a_lying_content_length_is_not_preallocated() {
    let s = sim(SimConfig::default());
    let c = client(s.url());
    s.push_fault(FaultRule::times(Fault::LyingLength(10_000_000_000), 1).on_action("list"));
    let e = c.call("User", "list", json!({})).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Transport | ErrorKind::Protocol),
        "{e}"
    );
    assert!(c.call("User", "list", json!({})).is_ok());
}

#[test]
fn a_connection_is_kept_between_calls_but_not_once_the_server_spoiled_it() {
    let s = sim(SimConfig::default());
    let c = client(s.url());
    for _ in 0..20 {
        c.call("User", "list", json!({})).unwrap();
    }
    let before = s.counters();
    assert_eq!(
        before.connections, 1,
        "keep-alive: one connection for 20 calls"
    );
    // Content-Length 3, then more bytes and a close: what is left after the
    // announced body must never be read as the next answer.
    s.push_fault(FaultRule::times(Fault::LyingLength(3), 1).on_action("list"));
    assert!(c.call("User", "list", json!({})).is_err());
    c.call("User", "list", json!({})).unwrap();
    let after = s.counters();
    assert_eq!(
        after.requests - before.requests,
        2,
        "the next call needed no retry"
    );
    assert_eq!(
        after.connections, 2,
        "a fresh connection after the spoiled one"
    );
    for _ in 0..20 {
        c.call("User", "list", json!({})).unwrap();
    }
    assert_eq!(s.counters().connections, 2, "and that one is kept");
}

#[test]
fn an_exp_already_past_costs_one_login_not_one_per_call() {
    let s = sim(SimConfig::default());
    s.push_fault(FaultRule::times(Fault::ExpPast, 1).on_action("auth"));
    let c = client(s.url());
    for _ in 0..5 {
        c.call("User", "list", json!({})).unwrap();
    }
    assert_eq!(s.counters().auth_attempts, 1);
    // When the server does reject it, one re-login and a replay.
    s.expire_all_tokens();
    c.call("User", "list", json!({})).unwrap();
    assert_eq!(s.counters().auth_attempts, 2);
}

#[test]
fn a_byte_order_mark_is_accepted() {
    let s = sim(SimConfig::default());
    let c = client(s.url());
    s.push_fault(FaultRule::times(Fault::Bom, 1).on_action("list"));
    assert_eq!(
        c.call("User", "list", json!({})).unwrap().total_count(),
        Some(1)
    );
}

#[test]
fn unbounded_durations_are_invalid_input() {
    for b in [
        Client::builder("http://127.0.0.1:9").timeout(Duration::MAX),
        Client::builder("http://127.0.0.1:9").auth_lockout_cooldown(Duration::from_secs(1 << 40)),
    ] {
        assert_eq!(b.build().unwrap_err().kind(), ErrorKind::InvalidInput);
    }
}
