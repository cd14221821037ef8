//! `records()` fetching the next page ahead, against the simulator over real HTTP.

use std::time::Duration;

use runtel_client::{AheadWait, Client, RetryPolicy};
use runtel_sim::{Fault, FaultRule, SimConfig, Simulator, DEFAULT_LOGIN, DEFAULT_PASSWORD};
use serde_json::{json, Value};

fn start(cdrs: u64) -> (Simulator, Client) {
    let s = Simulator::start(SimConfig {
        seed: vec![("DomainCDR".into(), cdrs)],
        ..SimConfig::default()
    })
    .unwrap();
    let c = Client::builder(s.url())
        .credentials(DEFAULT_LOGIN, DEFAULT_PASSWORD)
        .timeout(Duration::from_secs(10))
        .retry(RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
        })
        .build()
        .unwrap();
    (s, c)
}

fn ids(records: &[Value]) -> Vec<i64> {
    records.iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

#[test]
fn many_pages_equal_the_result_without_prefetch() {
    let (s, c) = start(2_345);
    let ahead: Vec<Value> = c
        .records("DomainCDR", json!({}), 100)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    s.reset_counters();
    let plain: Vec<Value> = c
        .records("DomainCDR", json!({}), 100)
        .unwrap()
        .prefetch(false)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ahead.len(), 2_345);
    assert_eq!(ahead, plain);
    assert_eq!(ids(&ahead), (1..=2_345).collect::<Vec<_>>());
    // 24 pages: nothing is fetched past the end.
    assert_eq!(s.counters().action("list"), 24);
}

#[test]
fn a_503_mid_stream_is_retried_and_every_record_comes_once_in_order() {
    let (s, c) = start(1_000);
    let mut it = c.records("DomainCDR", json!({}), 100).unwrap();
    let mut got = Vec::new();
    // Read into the third page, then make the server fail once: the failure
    // hits a page being fetched ahead.
    for _ in 0..250 {
        got.push(it.next().unwrap().unwrap());
    }
    s.reset_counters();
    s.push_fault(FaultRule::times(Fault::Html503, 1).on_action("list"));
    for r in it.by_ref() {
        got.push(r.unwrap());
    }
    assert_eq!(ids(&got), (1..=1_000).collect::<Vec<_>>());
    assert!(s.counters().faults_applied == 1, "{:?}", s.counters());
    assert!(it.next().is_none());
}

#[test]
fn a_page_that_keeps_failing_is_an_error_where_it_starts() {
    let (s, c) = start(500);
    let mut it = c.records("DomainCDR", json!({}), 100).unwrap();
    let first = it.next().unwrap().unwrap();
    assert_eq!(first["id"], 1);
    // Nothing was fetched ahead yet (only the first record was asked for).
    assert_eq!(s.counters().action("list"), 1);
    // Page two is fetched ahead: three failures exhaust its two retries.
    s.push_fault(FaultRule::times(Fault::Html503, 3).on_action("list"));
    let mut n = 1;
    let e = loop {
        match it.next().unwrap() {
            Ok(_) => n += 1,
            Err(e) => break e,
        }
    };
    // Page two's fetch starts at the second record, after the faults: it fails,
    // and every record before it came.
    assert_eq!(n, 100);
    assert_eq!(e.http_status(), Some(503));
    assert!(it.next().is_none(), "one error, then the end");
    // The client stays usable.
    assert_eq!(c.records("DomainCDR", json!({}), 100).unwrap().count(), 500);
}

#[test]
fn next_if_ready_never_waits_and_takes_pages_the_helper_fetched() {
    let (s, c) = start(250);
    // No page at hand before the first fetch, and asking makes no request.
    let mut it = c.records("DomainCDR", json!({}), 100).unwrap();
    assert!(it.next_if_ready().is_none());
    assert_eq!(s.counters().action("list"), 0);
    let mut got = vec![it.next().unwrap().unwrap()];
    // Page two, which the helper fetches, comes late.
    s.push_fault(FaultRule::times(Fault::Delay(Duration::from_millis(400)), 1).on_action("list"));
    // The rest of page one is at hand; the second record starts the helper.
    for _ in 1..100 {
        got.push(it.next_if_ready().expect("buffered").unwrap().unwrap());
    }
    // Page two: at hand once the helper has it (never waited for here).
    let mut waited = 0;
    let second = loop {
        match it.next_if_ready() {
            Some(item) => break item.unwrap().unwrap(),
            None => {
                waited += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    };
    got.push(second);
    assert!(waited >= 5, "page two came before its delay: {waited}");
    got.extend(it.by_ref().map(Result::unwrap));
    assert_eq!(ids(&got), (1..=250).collect::<Vec<_>>());
    assert!(
        matches!(it.next_if_ready(), Some(None)),
        "the end is at hand"
    );
    // Without prefetch a page is never at hand before it is fetched.
    let mut plain = c
        .records("DomainCDR", json!({}), 100)
        .unwrap()
        .prefetch(false);
    assert!(plain.next().is_some());
    for _ in 1..100 {
        assert!(plain.next_if_ready().is_some());
    }
    let before = s.counters().action("list");
    assert!(plain.next_if_ready().is_none());
    assert_eq!(
        s.counters().action("list"),
        before,
        "asking made no request"
    );
}

#[test]
fn wait_ahead_waits_for_the_helper_s_page_without_taking_it() {
    let (s, c) = start(250);
    let mut it = c.records("DomainCDR", json!({}), 100).unwrap();
    // Nothing is fetched ahead before the caller comes back for a second record.
    assert_eq!(it.wait_ahead(Duration::from_millis(10)), AheadWait::Nothing);
    assert_eq!(it.next().unwrap().unwrap()["id"], 1);
    s.push_fault(FaultRule::times(Fault::Delay(Duration::from_millis(300)), 1).on_action("list"));
    for id in 2..=100 {
        assert_eq!(it.next_if_ready().unwrap().unwrap().unwrap()["id"], id);
        if id == 50 {
            // Mid-page it never takes the next page (the helper would fetch a third).
            assert_eq!(it.wait_ahead(Duration::from_millis(10)), AheadWait::Nothing);
        }
    }
    assert_eq!(it.wait_ahead(Duration::from_millis(50)), AheadWait::Pending);
    let mut waits = 1;
    while it.wait_ahead(Duration::from_millis(50)) == AheadWait::Pending {
        waits += 1;
    }
    assert!(waits >= 3, "the delayed page came after {waits} waits");
    // Arrived and kept: taken by the next step, once.
    assert_eq!(it.wait_ahead(Duration::ZERO), AheadWait::Arrived);
    assert_eq!(it.next_if_ready().unwrap().unwrap().unwrap()["id"], 101);
    let rest: Vec<Value> = it.by_ref().map(Result::unwrap).collect();
    assert_eq!(ids(&rest), (102..=250).collect::<Vec<_>>());
    assert_eq!(it.wait_ahead(Duration::from_millis(10)), AheadWait::Nothing);
    // Without prefetch nothing is ever fetched ahead.
    let mut plain = c
        .records("DomainCDR", json!({}), 100)
        .unwrap()
        .prefetch(false);
    plain.next();
    plain.next();
    assert_eq!(
        plain.wait_ahead(Duration::from_millis(10)),
        AheadWait::Nothing
    );
}
