//! Typed pages (`Client::call_as`) against the simulator over real HTTP.

use std::time::Duration;

use runtel_client::{Call, Client, DomainCdr, Error, ProtocolErrorReason};
use runtel_sim::{SimConfig, Simulator, DEFAULT_LOGIN, DEFAULT_PASSWORD};
use serde_json::json;

fn start(cdrs: u64) -> (Simulator, Client) {
    let s = Simulator::start(SimConfig {
        seed: vec![("DomainCDR".into(), cdrs)],
        ..SimConfig::default()
    })
    .unwrap();
    let c = Client::builder(s.url())
        .credentials(DEFAULT_LOGIN, DEFAULT_PASSWORD)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    (s, c)
}

#[test]
fn a_page_of_cdrs_decodes_into_domain_cdr_like_the_value_path() {
    let (_s, c) = start(250);
    let call = Call::new("DomainCDR", "list", json!({}))
        .unwrap()
        .limit(100)
        .offset(50);
    let page = c.call_as::<DomainCdr>(&call).unwrap();
    assert_eq!(page.records.len(), 100);
    assert_eq!(page.total_count(), Some(250));
    // The same records as through `Value`.
    let slow: Vec<DomainCdr> = c.call_with(&call).unwrap().records_as().unwrap();
    assert_eq!(page.records, slow);
    assert!(page
        .records
        .iter()
        .all(|r| r.id.is_some() && r.dt.is_some()));
}

#[test]
fn unknown_fields_are_kept_in_extra() {
    let (s, c) = start(0);
    s.insert_records(
        "DomainCDR",
        vec![
            json!({"dt": 1_700_000_000, "src": "100", "dst": "200", "duration": 5,
                    "a_field_from_the_future": {"x": [1, 2]}}),
        ],
    )
    .unwrap();
    let page = c
        .call_as::<DomainCdr>(&Call::new("DomainCDR", "list", json!({})).unwrap())
        .unwrap();
    assert_eq!(page.records.len(), 1);
    assert_eq!(page.records[0].duration, Some(5));
    assert_eq!(
        page.records[0].extra["a_field_from_the_future"],
        json!({"x": [1, 2]})
    );
}

/// A type that does not fit the answer: the error names the record and field.
#[test]
fn a_field_of_the_wrong_type_names_its_path() {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Wrong {
        id: i64,
        src: u64,
    }
    let (_s, c) = start(10);
    let e = c
        .call_as::<Wrong>(&Call::new("DomainCDR", "list", json!({})).unwrap().limit(10))
        .unwrap_err();
    let Error::Protocol(info) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(info.reason, ProtocolErrorReason::UnexpectedShape);
    assert_eq!(info.path.as_deref(), Some("$.list[0].src"), "{e}");
    // The client stays usable.
    assert!(c
        .call_as::<DomainCdr>(&Call::new("DomainCDR", "list", json!({})).unwrap().limit(1))
        .is_ok());
}

// ---------------------------------------------------------------------------
// `Client::records_as`: the paging iterator over typed records.

/// A record type with required fields: a page where one does not fit fails.
#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct StrictCdr {
    id: i64,
    duration: u64,
}

/// The next `list` answer of the simulator: these records, this total.
fn next_page(s: &Simulator, list: serde_json::Value, total: u64) {
    use runtel_sim::{Fault, FaultRule};
    let body = json!({"action": "list", "action_id": "REC", "obj": "DomainCDR", "code": 200,
        "notifies": [], "list": list, "total_count": total});
    s.push_fault(FaultRule::times(Fault::envelope(200, &body), 1).on_action("list"));
}

#[test]
fn typed_records_are_the_value_records_over_many_pages_with_and_without_prefetch() {
    let (_s, c) = start(2_345);
    let expected: Vec<DomainCdr> = c
        .records("DomainCDR", (), 1000)
        .unwrap()
        .map(|r| serde_json::from_value(r.unwrap()).unwrap())
        .collect();
    assert_eq!(expected.len(), 2_345);
    for prefetch in [true, false] {
        let mut it = c
            .records_as::<DomainCdr>("DomainCDR", (), 1000)
            .unwrap()
            .prefetch(prefetch);
        let got: Vec<DomainCdr> = it.by_ref().map(Result::unwrap).collect();
        assert_eq!(got, expected, "prefetch {prefetch}");
        assert_eq!(it.pages_fetched(), 3);
        assert_eq!(it.total_count(), Some(2_345));
        assert_eq!(it.shortfall(), None);
    }
}

/// Repeats across a page boundary are dropped by the records' `id`, read from
/// the JSON even when the type has no such field; ids compare as text, so `8`
/// and `"8"` are one record, as in the `Value` path.
#[test]
fn typed_records_drop_repeats_by_the_json_id_even_without_an_id_field() {
    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Src {
        src: String,
    }
    let (s, c) = start(0);
    let rec = |id: serde_json::Value| json!({"id": id, "src": format!("n{id}")});
    next_page(&s, json!([rec(json!(10)), rec(json!(9)), rec(json!(8))]), 6);
    next_page(
        &s,
        json!([rec(json!("8")), rec(json!(7)), rec(json!(6))]),
        7,
    );
    next_page(&s, json!([rec(json!(5))]), 7);
    let mut it = c.records_as::<Src>("DomainCDR", (), 3).unwrap();
    let got: Vec<String> = it.by_ref().map(|r| r.unwrap().src).collect();
    assert_eq!(got, ["n10", "n9", "n8", "n7", "n6", "n5"]);
    assert_eq!(it.duplicates_dropped(), 1);
    assert_eq!(it.total_count_drift(), Some((6, 7)));
}

#[test]
fn typed_records_page_by_key_and_catch_a_server_that_ignores_offset() {
    let (s, c) = start(250);
    // Keyset paging over deletions mid-export: every record that existed throughout.
    let mut seen = Vec::new();
    let mut it = c
        .records_as::<DomainCdr>("DomainCDR", (), 100)
        .unwrap()
        .consistent()
        .unwrap();
    for r in it.by_ref() {
        seen.push(r.unwrap().id.unwrap());
        if seen.len() == 100 {
            s.delete_records("DomainCDR", 1..=50);
        }
    }
    assert_eq!(seen, (1..=250).collect::<Vec<_>>());
    // The same page twice: an error after the first page, not records forever.
    let page = json!([{"id": 1}, {"id": 2}, {"id": 3}]);
    next_page(&s, page.clone(), 9);
    next_page(&s, page, 9);
    let results: Vec<_> = c
        .records_as::<DomainCdr>("DomainCDR", (), 3)
        .unwrap()
        .collect();
    assert_eq!(results.len(), 4, "one page, then the error");
    let e = results[3].as_ref().unwrap_err();
    assert!(e.to_string().contains("ignores `offset`"), "{e}");
}

/// A record that does not fit the type fails its page with the record's path;
/// the records of the pages before it were yielded, and the list ends there.
#[test]
fn a_typed_record_that_does_not_fit_ends_the_list_naming_its_path() {
    let (s, c) = start(0);
    next_page(
        &s,
        json!([{"id": 1, "duration": 5}, {"id": 2, "duration": 6}]),
        4,
    );
    next_page(
        &s,
        json!([{"id": 3, "duration": 7}, {"id": 4, "duration": "long"}]),
        4,
    );
    let results: Vec<_> = c
        .records_as::<StrictCdr>("DomainCDR", (), 2)
        .unwrap()
        .collect();
    assert_eq!(results.len(), 3);
    assert_eq!(results[1].as_ref().unwrap().duration, 6);
    let Err(Error::Protocol(info)) = &results[2] else {
        panic!("{:?}", results[2])
    };
    assert_eq!(info.path.as_deref(), Some("$.list[1].duration"));
}

/// A page fetched ahead is decoded where it is read, still knowing the token
/// its request carried: a record echoing the token, in a field of the wrong
/// type, gives an error without it.
#[test]
fn a_typed_error_on_a_page_fetched_ahead_masks_the_echoed_token() {
    let (s, c) = start(0);
    c.login(DEFAULT_LOGIN, DEFAULT_PASSWORD).unwrap();
    let token = s.last_issued_token().expect("logged in");
    next_page(
        &s,
        json!([{"id": 1, "duration": 5}, {"id": 2, "duration": 6}]),
        4,
    );
    next_page(
        &s,
        json!([{"id": 3, "duration": token}, {"id": 4, "duration": 1}]),
        4,
    );
    let mut it = c.records_as::<StrictCdr>("DomainCDR", (), 2).unwrap();
    assert_eq!(it.next().unwrap().unwrap().id, 1);
    assert_eq!(it.next().unwrap().unwrap().id, 2); // the second page is fetched ahead now
    let e = it.next().unwrap().unwrap_err();
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(!text.contains(&token), "{text}");
    }
    assert!(e.to_string().contains("$.list[0].duration"), "{e}");
}

/// Records and the count under `body` (another server style), and a null
/// `list` beside `body.list`: typed paging reads them as `records()` does.
#[test]
fn typed_records_read_the_body_style_like_value_records() {
    use runtel_sim::ListStyle;
    let (s, c) = start(25);
    s.set_list_style(ListStyle::Body);
    let mut it = c.records_as::<DomainCdr>("DomainCDR", (), 10).unwrap();
    let ids: Vec<i64> = it.by_ref().map(|r| r.unwrap().id.unwrap()).collect();
    assert_eq!(ids, (1..=25).collect::<Vec<_>>());
    assert_eq!(it.total_count(), Some(25));
    assert_eq!(it.shortfall(), None);
    s.set_list_style(ListStyle::Top);
    let body = json!({"action": "list", "action_id": "REC", "obj": "DomainCDR", "code": 200,
        "list": null, "body": {"list": [{"id": 7}], "total_count": 1}});
    s.push_fault(
        runtel_sim::FaultRule::times(runtel_sim::Fault::envelope(200, &body), 1).on_action("list"),
    );
    let got: Vec<Option<i64>> = c
        .records_as::<DomainCdr>("DomainCDR", (), 10)
        .unwrap()
        .map(|r| r.unwrap().id)
        .collect();
    assert_eq!(got, [Some(7)]);
}
