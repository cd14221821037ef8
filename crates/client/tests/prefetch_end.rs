//! A `records()` iterator kept after its list ended (to read its counts): the
//! helper thread that fetched ahead ends with the list. Alone in its test
//! binary, so that the threads counted are this test's.

use std::time::{Duration, Instant};

use runtel_client::Client;
use runtel_sim::{SimConfig, Simulator, DEFAULT_LOGIN, DEFAULT_PASSWORD};
use serde_json::json;

mod support;
use support::prefetch_threads;

/// A list that ended while the iterator is kept (to read its counts): the
/// helper, which may have asked one page past the end (no `total_count`, a
/// server capping its pages), does not wait on with that page; it ends.
#[test]
fn the_helper_ends_with_the_list_even_while_the_iterator_is_kept() {
    let s = Simulator::start(SimConfig {
        seed: vec![("DomainCDR".into(), 14)],
        ..SimConfig::default()
    })
    .unwrap();
    s.set_paging(runtel_sim::PagingOptions {
        max_page_size: Some(4),
        omit_total_count: true,
        ..Default::default()
    });
    let c = Client::builder(s.url())
        .credentials(DEFAULT_LOGIN, DEFAULT_PASSWORD)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut it = c.records("DomainCDR", json!({}), 10).unwrap();
    let ids: Vec<i64> = it
        .by_ref()
        .map(|r| r.unwrap()["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, (1..=14).collect::<Vec<_>>());
    assert_eq!(it.server_page_size(), Some(4));
    let deadline = Instant::now() + Duration::from_secs(5);
    while prefetch_threads() > 0 {
        assert!(
            Instant::now() < deadline,
            "the helper still waits though the list is over"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(it);
}
