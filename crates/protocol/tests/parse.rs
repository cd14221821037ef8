//! Response parsing edge cases and insta snapshots of built requests and parsed values.

use runtel_protocol::{
    parse_response, Call, Endpoint, ErrorKind, Expected, Limits, ProtocolErrorReason, Session,
};
use serde_json::{json, Value};

const EXP: Expected<'static> = Expected {
    action_id: "x1",
    obj: "User",
    action: "list",
    secrets: &[],
};

#[test]
fn oversize_body_is_a_protocol_error() {
    let limits = Limits {
        max_body_bytes: 64,
        error_excerpt_bytes: 16,
    };
    let body = format!(
        r#"{{"action_id":"x1","code":200,"list":["{}"]}}"#,
        "a".repeat(100)
    );
    let e = parse_response(EXP, 200, body.as_bytes(), &limits).unwrap_err();
    assert_eq!(
        e.protocol_info().unwrap().reason,
        ProtocolErrorReason::BodyTooLarge
    );
    assert!(
        e.to_string().contains("exceeds the limit of 64 bytes"),
        "{e}"
    );
}

#[test]
fn error_bodies_are_bounded() {
    let limits = Limits {
        max_body_bytes: 1 << 20,
        error_excerpt_bytes: 100,
    };
    let page = format!("<html>{}</html>", "é".repeat(10_000));
    let e = parse_response(EXP, 503, page.as_bytes(), &limits).unwrap_err();
    let info = e.api_info().unwrap();
    assert!(info.raw_body.len() <= 100 && info.raw_body_truncated);
    assert!(info.raw_body.starts_with("<html>é"));
    assert!(
        e.to_string().len() < 400,
        "message stays short: {}",
        e.to_string().len()
    );
    // Invalid UTF-8 in an error page: still an API error with a lossy excerpt.
    let e = parse_response(EXP, 502, b"\xff\xfe bad gateway", &limits).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Api);
    assert!(e.api_info().unwrap().raw_body.contains("bad gateway"));
}

#[test]
fn json_errors_say_where() {
    let body = b"{\"action_id\":\"x1\",\n\"code\":200,\n\"list\": [1, 2,, 3]}";
    let e = parse_response(EXP, 200, body, &Limits::default()).unwrap_err();
    let info = e.protocol_info().unwrap();
    assert_eq!(info.reason, ProtocolErrorReason::InvalidJson);
    assert_eq!(info.path.as_deref(), Some("line 3 column 15"));
    assert!(info.excerpt.contains("[1, 2,,"), "{}", info.excerpt);
    let e = parse_response(EXP, 200, b"<html>oops</html>", &Limits::default()).unwrap_err();
    assert!(e.to_string().contains("HTML"), "{e}");
}

#[test]
fn success_needs_code_and_right_types() {
    let cases = [
        (json!({"action_id":"x1"}), "$.code"),
        (json!({"action_id":"x1","code":null}), "$.code"),
        (
            json!({"action_id":"x1","code":200,"notifies":{}}),
            "$.notifies",
        ),
        (
            json!({"action_id":"x1","code":200,"total_count":"many"}),
            "$.total_count",
        ),
        (json!({"code":200}), "$.action_id"),
    ];
    for (body, path) in cases {
        let e =
            parse_response(EXP, 200, body.to_string().as_bytes(), &Limits::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol, "{body}");
        assert_eq!(
            e.protocol_info().unwrap().path.as_deref(),
            Some(path),
            "{body}"
        );
    }
    // Tolerated variants: string code, numeric action_id echo.
    let ok = json!({"action_id":"x1","code":"200","body":{}});
    assert!(parse_response(EXP, 200, ok.to_string().as_bytes(), &Limits::default()).is_ok());
    let exp = Expected {
        action_id: "42",
        ..EXP
    };
    let ok = json!({"action_id":42,"code":200});
    assert!(parse_response(exp, 200, ok.to_string().as_bytes(), &Limits::default()).is_ok());
}

#[test]
fn error_envelope_with_message_in_body_and_mismatched_id_is_still_api() {
    let body = json!({"action_id":"other","code":403,"msg_id":7,
                      "body":{"msg":"Access denied to domain 9"}});
    let e = parse_response(EXP, 200, body.to_string().as_bytes(), &Limits::default()).unwrap_err();
    let info = e.api_info().unwrap();
    assert_eq!(info.code, Some(403));
    assert_eq!(info.msg_id.as_deref(), Some("7"));
    assert_eq!(info.message.as_deref(), Some("Access denied to domain 9"));
    assert_eq!(info.action_id.as_deref(), Some("other"));
}

#[test]
fn response_keeps_every_top_level_field_and_finds_records() {
    let body = json!({"action":"list","action_id":"x1","obj":"User","code":200,
        "notifies":[{"text":"hi"}],"list":[{"id":1},{"id":2}],"total_count":2,
        "server_time": 123});
    let r = parse_response(EXP, 200, body.to_string().as_bytes(), &Limits::default()).unwrap();
    assert_eq!(r.get("server_time"), Some(&json!(123)));
    assert_eq!(r.notifies(), &[json!({"text":"hi"})]);
    assert_eq!(r.records().len(), 2);
    assert_eq!(Value::Object(r.clone().into_envelope()), body);
    assert_eq!(r.into_records(), vec![json!({"id":1}), json!({"id":2})]);
    // Records inside body.list, or body as an array.
    for body in [
        json!({"action_id":"x1","code":200,"body":{"list":[{"id":3}]}}),
        json!({"action_id":"x1","code":200,"body":[{"id":3}]}),
    ] {
        let r = parse_response(EXP, 200, body.to_string().as_bytes(), &Limits::default()).unwrap();
        assert_eq!(r.records(), &[json!({"id":3})]);
        assert_eq!(r.record(), Some(&json!({"id":3})));
    }
}

#[test]
fn snapshot_built_requests() {
    let ep = Endpoint::parse("https://pbx.example/cabinet/").unwrap();
    let auth =
        Session::auth_request(&ep, "a-1".into(), "ops@pbx.example", &"s3cret!".into()).unwrap();
    let list = Call::new("DomainCDR", "list", json!({"domain_id": 3}))
        .unwrap()
        .limit(1000)
        .offset(2000)
        .filter(
            json!({"field_list":[{"field":"dt","condition_type":5,"value":1704067200}],"type":0}),
        )
        .unwrap()
        .to_http(&ep, "a-2".into(), Some(&"tok-abc".into()));
    for (name, req) in [("auth_request", &auth), ("list_request", &list)] {
        let snap = json!({
            "method": req.method,
            "url": req.url,
            "headers": req.masked_headers(),
            "body": serde_json::from_str::<Value>(&req.masked_body()).unwrap(),
            "idempotent": req.idempotent,
        });
        // Through serde_json, whose numbers keep their text (arbitrary_precision):
        // insta's own serializer would show serde_json's private number type.
        insta::assert_snapshot!(name, serde_json::to_string_pretty(&snap).unwrap());
    }
    // The real bytes carry the secrets; the snapshots above must not.
    assert!(String::from_utf8_lossy(&auth.body).contains("s3cret!"));
}

#[test]
fn snapshot_parsed_auth_info() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/auth_seed.json"),
    )
    .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let body = v["response"]["body_text"].as_str().unwrap();
    let exp = Expected {
        action_id: "123",
        obj: "User",
        action: "auth",
        secrets: &[],
    };
    let r = parse_response(exp, 200, body.as_bytes(), &Limits::default()).unwrap();
    let info: runtel_protocol::AuthInfo = r.body_as().unwrap();
    insta::assert_snapshot!(
        "auth_info_masked",
        serde_json::to_string_pretty(&info.to_masked_json()).unwrap()
    );
    insta::assert_debug_snapshot!("auth_info_debug", info);
}

#[test]
fn floats_survive_parsing_exactly() {
    // Found by the property tests: without serde_json's float_roundtrip feature the
    // last digit of some floats changed on the way through the SDK.
    let body =
        br#"{"action_id":"x1","code":200,"body":{"v":-197854296469300.06,"w":-925659209586311.1}}"#;
    let r = parse_response(EXP, 200, body, &Limits::default()).unwrap();
    assert_eq!(r.body()["v"].as_f64(), Some(-197_854_296_469_300.06));
    assert_eq!(r.body()["w"].as_f64(), Some(-925_659_209_586_311.1));
    assert_eq!(
        serde_json::to_string(r.body()).unwrap(),
        r#"{"v":-197854296469300.06,"w":-925659209586311.1}"#
    );
}

#[test]
fn invalid_utf8_error_pages_stay_within_the_excerpt_bound() {
    // Found by fuzzing: every invalid byte became a 3-byte replacement character,
    // so the "bounded" excerpt could be three times the limit.
    let limits = Limits {
        max_body_bytes: 1 << 20,
        error_excerpt_bytes: 256,
    };
    let body = vec![0xFFu8; 1000];
    let e = parse_response(EXP, 502, &body, &limits).unwrap_err();
    let info = e.api_info().unwrap();
    assert!(info.raw_body.len() <= 256, "{}", info.raw_body.len());
    assert!(info.raw_body_truncated);
}
