//! Dropping a `records()` iterator early (inside its first page): at most one page
//! fetched ahead, and its
//! helper thread ends. Alone in its test binary, so that the threads counted are
//! this test's.

use std::time::{Duration, Instant};

use runtel_client::Client;
use runtel_sim::{SimConfig, Simulator, DEFAULT_LOGIN, DEFAULT_PASSWORD};
use serde_json::json;

mod support;
use support::prefetch_threads;

#[test]
fn dropping_after_the_first_page_fetches_at_most_one_more_and_the_helper_ends() {
    let s = Simulator::start(SimConfig {
        seed: vec![("DomainCDR".into(), 1_000)],
        ..SimConfig::default()
    })
    .unwrap();
    let c = Client::builder(s.url())
        .credentials(DEFAULT_LOGIN, DEFAULT_PASSWORD)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    c.call("User", "list", json!({})).unwrap(); // log in first
    s.reset_counters();
    let mut it = c.records("DomainCDR", json!({}), 100).unwrap();
    assert_eq!(it.next().unwrap().unwrap()["id"], 1);
    assert_eq!(it.next().unwrap().unwrap()["id"], 2);
    drop(it);
    let deadline = Instant::now() + Duration::from_secs(5);
    while prefetch_threads() > 0 {
        assert!(Instant::now() < deadline, "the prefetch thread did not end");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    let lists = s.counters().action("list");
    assert_eq!(lists, 2, "the first page and the one fetched ahead");
    assert_eq!(prefetch_threads(), 0);
}
