//! Every shared vector, served by the simulator byte for byte, gives the client the
//! outcome the vector's `expect` names.

use std::path::PathBuf;

use runtel_client::{Client, RetryPolicy};
use runtel_sim::{SimConfig, Simulator, DEFAULT_LOGIN, DEFAULT_PASSWORD};
use serde_json::{json, Value};

#[test]
fn vectors_replayed_over_http() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors");
    let s = Simulator::start(SimConfig::default()).unwrap();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let (obj, action) = (
            v["request"]["obj"].as_str().unwrap(),
            v["request"]["action"].as_str().unwrap(),
        );
        let c = Client::builder(s.url())
            .retry(RetryPolicy::NONE)
            .logout_on_drop(false)
            .build()
            .unwrap();
        c.login(DEFAULT_LOGIN, DEFAULT_PASSWORD).unwrap();
        let expect = s.replay_vector(&path).unwrap();
        let outcome = if action == "auth" {
            c.login("someone@pbx.example", "pw")
                .map(|info| json!(info.user_id))
        } else {
            c.call(obj, action, json!({}))
                .map(|r| Value::Object(r.into_envelope()))
        };
        match outcome {
            Ok(_) => assert_eq!(expect["ok"], true, "{name}"),
            Err(e) => {
                let kind = expect
                    .get("auth_kind")
                    .or(expect.get("kind"))
                    .and_then(Value::as_str);
                assert_eq!(Some(e.kind().as_str()), kind, "{name}: {e}");
                assert_eq!(
                    e.http_status().map(u64::from),
                    expect["http_status"].as_u64(),
                    "{name}"
                );
                if let Some(code) = expect["code"].as_i64() {
                    assert_eq!(e.api_code(), Some(code), "{name}");
                }
            }
        }
        seen += 1;
    }
    assert!(seen >= 12);
}
