//! The catalog through the client: typed records of log objects, filters built
//! as code, and the permission and operator rules the simulator enforces as the
//! catalog says. Real HTTP to the simulator.

use std::time::Duration;

use runtel_client::{catalog, field, Client, DomainCdr, ErrorKind, Filter, RetryPolicy};
use runtel_sim::{Account, SimConfig, Simulator, DEFAULT_LOGIN, DEFAULT_PASSWORD};
use serde_json::json;

fn client_as(s: &Simulator, login: &str, password: &str) -> Client {
    Client::builder(s.url())
        .credentials(login, password)
        .timeout(Duration::from_secs(5))
        .retry(RetryPolicy::NONE)
        .build()
        .unwrap()
}

#[test]
fn call_records_decode_into_their_typed_record_with_nothing_left_over() {
    let s = Simulator::start(SimConfig {
        seed: vec![("DomainCDR".into(), 30)],
        ..SimConfig::default()
    })
    .unwrap();
    let c = client_as(&s, DEFAULT_LOGIN, DEFAULT_PASSWORD);
    let page = c.call("DomainCDR", "list", ()).unwrap();
    let cdrs: Vec<DomainCdr> = page.records_as().unwrap();
    assert_eq!(cdrs.len(), 30);
    for (i, cdr) in cdrs.iter().enumerate() {
        assert_eq!(cdr.id, Some(i as i64 + 1));
        assert_eq!(cdr.dt, Some(s.seed_dt("DomainCDR", i as i64)));
        assert!(
            cdr.extra.is_empty(),
            "every served field is typed: {:?}",
            cdr.extra
        );
        assert!(cdr.disposition.is_some() && cdr.src.is_some());
    }
}

#[test]
fn filters_built_as_code_select_what_they_say() {
    let s = Simulator::start(SimConfig {
        seed: vec![("DomainCDR".into(), 200)],
        ..SimConfig::default()
    })
    .unwrap();
    let c = client_as(&s, DEFAULT_LOGIN, DEFAULT_PASSWORD);
    let since = s.seed_dt("DomainCDR", 150);
    let busy = Filter::all([field("dt").ge(since), field("disposition").eq("BUSY")]);
    let got: Vec<DomainCdr> = c
        .records("DomainCDR", (), 30)
        .unwrap()
        .filter(busy)
        .unwrap()
        .map(|r| serde_json::from_value(r.unwrap()).unwrap())
        .collect();
    assert!(!got.is_empty());
    assert!(got
        .iter()
        .all(|r| r.dt.unwrap() >= since && r.disposition.as_deref() == Some("BUSY")));
    // The same count, counted by hand over everything.
    let all: Vec<DomainCdr> = c
        .call("DomainCDR", "list", ())
        .unwrap()
        .records_as()
        .unwrap();
    let by_hand = all
        .iter()
        .filter(|r| r.dt.unwrap() >= since && r.disposition.as_deref() == Some("BUSY"))
        .count();
    assert_eq!(got.len(), by_hand);
}

#[test]
fn roles_and_operators_get_the_documented_refusals() {
    let s = Simulator::start(SimConfig {
        accounts: vec![
            Account::domain_admin(DEFAULT_LOGIN, DEFAULT_PASSWORD),
            Account::domain_admin("reader@sim.runtel.local", "reader-pw")
                .with_perms(["DomainCDR.list"])
                .unwrap(),
            Account::operator("op@sim.runtel.local", "op-pw"),
        ],
        seed: vec![("DomainCDR".into(), 5)],
        ..SimConfig::default()
    })
    .unwrap();
    let reader = client_as(&s, "reader@sim.runtel.local", "reader-pw");
    assert_eq!(
        reader
            .call("DomainCDR", "list", ())
            .unwrap()
            .records()
            .len(),
        5
    );
    let e = reader.call("User", "list", ()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Api);
    assert_eq!((e.http_status(), e.api_code()), (Some(403), Some(403)));
    assert_eq!(e.api_info().unwrap().msg_id.as_deref(), Some("forbidden"));
    // Operators must name the PBX for domain objects, and then may read them.
    let op = client_as(&s, "op@sim.runtel.local", "op-pw");
    let e = op.call("DomainCDR", "list", ()).unwrap_err();
    assert_eq!(e.http_status(), Some(400));
    assert_eq!(
        e.api_info().unwrap().msg_id.as_deref(),
        Some("domain_required")
    );
    assert_eq!(
        op.call("DomainCDR", "list", json!({"domain_id": 1}))
            .unwrap()
            .records()
            .len(),
        5
    );
    // PBX users stay off platform objects.
    let admin = client_as(&s, DEFAULT_LOGIN, DEFAULT_PASSWORD);
    let platform = catalog::OBJECTS
        .iter()
        .find(|o| o.scope == catalog::Scope::Platform)
        .unwrap();
    let e = admin.call(platform.name, "list", ()).unwrap_err();
    assert_eq!(e.http_status(), Some(403));
}
