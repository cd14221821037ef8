//! "Loses no data" while the data changes under the pager: records added at the
//! head of a newest-first list, records deleted mid-export, notices that come
//! with the pages. Real HTTP to the simulator.

use std::time::Duration;

use runtel_client::{Client, ErrorKind, RetryPolicy};
use runtel_sim::{Fault, FaultRule, SimConfig, Simulator, DEFAULT_LOGIN, DEFAULT_PASSWORD};
use serde_json::{json, Value};

fn client(s: &Simulator) -> Client {
    Client::builder(s.url())
        .credentials(DEFAULT_LOGIN, DEFAULT_PASSWORD)
        .timeout(Duration::from_secs(5))
        .retry(RetryPolicy::NONE)
        .build()
        .unwrap()
}

/// The next `list` answer: these ids (newest first), this total, these notifies.
fn page(s: &Simulator, ids: &[i64], total: u64, notifies: Value) {
    let list: Vec<Value> = ids.iter().map(|id| json!({"id": id})).collect();
    let body = json!({"action": "list", "action_id": "REC", "obj": "DomainCDR", "code": 200,
        "notifies": notifies, "list": list, "total_count": total});
    s.push_fault(FaultRule::times(Fault::envelope(200, &body), 1).on_action("list"));
}

fn ids(records: impl Iterator<Item = Result<Value, runtel_client::Error>>) -> Vec<i64> {
    records
        .map(|r| r.unwrap()["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn a_list_that_grows_at_its_head_yields_each_record_once_and_says_so() {
    let s = Simulator::start(SimConfig::default()).unwrap();
    let c = client(&s);
    // Newest first, 10 records; three new ones arrive after the first page, so
    // the page at offset 5 starts with three records already seen.
    page(&s, &[10, 9, 8, 7, 6], 10, json!([]));
    page(&s, &[8, 7, 6, 5, 4], 13, json!([{"text": "Low balance"}]));
    page(&s, &[3, 2, 1], 13, json!([{"text": "Low balance"}]));
    let mut it = c.records("DomainCDR", (), 5).unwrap();
    assert_eq!(ids(it.by_ref()), (1..=10).rev().collect::<Vec<_>>());
    assert_eq!(it.duplicates_dropped(), 3);
    assert_eq!(it.total_count_drift(), Some((10, 13)));
    assert_eq!(
        it.notifies(),
        [json!({"text": "Low balance"})],
        "once, not per page"
    );
}

#[test]
fn consistent_paging_loses_nothing_when_records_are_deleted_mid_export() {
    let s = Simulator::start(SimConfig {
        seed: vec![("DomainCDR".into(), 250)],
        ..SimConfig::default()
    })
    .unwrap();
    let c = client(&s);
    // Offset paging: deleting records already read shifts the rest left, and
    // the pager skips them. It cannot know which, but it says the count moved.
    let mut it = c.records("DomainCDR", (), 100).unwrap();
    let mut seen = Vec::new();
    for r in it.by_ref() {
        seen.push(r.unwrap()["id"].as_i64().unwrap());
        if seen.len() == 100 {
            // Retention deletes old call records (the platform does; clients cannot).
            s.delete_records("DomainCDR", 1..=50);
        }
    }
    assert_eq!(
        seen.len(),
        200,
        "offset paging skipped 50 that existed all along"
    );
    assert_eq!(it.total_count_drift(), Some((250, 200)));

    // Keyset paging over the same change: every record that existed throughout.
    let s = Simulator::start(SimConfig {
        seed: vec![("DomainCDR".into(), 250)],
        ..SimConfig::default()
    })
    .unwrap();
    let c = client(&s);
    let mut it = c
        .records("DomainCDR", (), 100)
        .unwrap()
        .consistent()
        .unwrap();
    let mut seen = Vec::new();
    for r in it.by_ref() {
        seen.push(r.unwrap()["id"].as_i64().unwrap());
        if seen.len() == 100 {
            // Retention deletes old call records (the platform does; clients cannot).
            s.delete_records("DomainCDR", 1..=50);
        }
    }
    assert_eq!(seen, (1..=250).collect::<Vec<_>>());
    assert_eq!(it.shortfall(), None);
    assert_eq!(it.total_count_drift(), None);
}

#[test]
fn consistent_paging_refuses_a_server_that_does_not_sort_by_id() {
    let s = Simulator::start(SimConfig::default()).unwrap();
    let c = client(&s);
    page(&s, &[10, 9, 8], 10, json!([]));
    let results: Vec<_> = c
        .records("DomainCDR", (), 3)
        .unwrap()
        .consistent()
        .unwrap()
        .collect();
    let e = results.last().unwrap().as_ref().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert!(e.to_string().contains("sorted by ascending `id`"), "{e}");
    // An OR filter cannot take the extra condition.
    let or = json!({"field_list": [{"field": "dt", "condition_type": 5, "value": 0}], "type": 1});
    let e = c
        .records("DomainCDR", (), 3)
        .unwrap()
        .filter(or)
        .unwrap()
        .consistent()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[test]
fn a_server_that_ignores_offset_is_caught_even_when_its_records_change_or_shuffle() {
    let s = Simulator::start(SimConfig::default()).unwrap();
    let c = client(&s);
    for (name, second) in [
        // The same records in another order (unordered SQL).
        (
            "shuffled",
            vec![json!({"id": 3}), json!({"id": 1}), json!({"id": 2})],
        ),
        // The same records with a field that changes per request.
        (
            "volatile",
            vec![
                json!({"id": 1, "age": 9}),
                json!({"id": 2, "age": 9}),
                json!({"id": 3, "age": 9}),
            ],
        ),
    ] {
        let first = vec![
            json!({"id": 1, "age": 1}),
            json!({"id": 2, "age": 1}),
            json!({"id": 3, "age": 1}),
        ];
        for list in [first, second] {
            let body = json!({"action": "list", "action_id": "REC", "obj": "DomainCDR",
                "code": 200, "notifies": [], "list": list, "total_count": 9});
            s.push_fault(FaultRule::times(Fault::envelope(200, &body), 1).on_action("list"));
        }
        let results: Vec<_> = c.records("DomainCDR", (), 3).unwrap().collect();
        assert_eq!(results.len(), 4, "{name}: one page, then the error");
        let e = results[3].as_ref().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol, "{name}");
        assert!(e.to_string().contains("ignores `offset`"), "{name}: {e}");
    }
}

#[test]
fn consistent_paging_with_small_pages_reaches_the_end() {
    // In keyset mode total_count is what remains past the last id; with pages
    // that divide the list exactly, the last ask finds nothing left.
    let s = Simulator::start(SimConfig {
        seed: vec![("DomainCDR".into(), 40)],
        ..SimConfig::default()
    })
    .unwrap();
    let c = client(&s);
    let mut it = c
        .records("DomainCDR", (), 10)
        .unwrap()
        .consistent()
        .unwrap();
    assert_eq!(ids(it.by_ref()), (1..=40).collect::<Vec<_>>());
    assert_eq!(it.shortfall(), None);
}
