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
