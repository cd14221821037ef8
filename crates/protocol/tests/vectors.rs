//! The shared wire vectors: each answer parses to what its `expect` says.

mod common;

use runtel_protocol::{
    classify_auth_error, parse_http_date, parse_response, Call, Endpoint, Expected, Limits, Session,
};
use serde_json::Value;
use std::time::{Duration, UNIX_EPOCH};

#[test]
fn every_vector_parses_as_expected() {
    let vectors = common::all();
    assert!(vectors.len() >= 12, "vectors missing: {}", vectors.len());
    for v in &vectors {
        let expect = &v.json["expect"];
        let expected = Expected {
            action_id: v.req("action_id"),
            obj: v.req("obj"),
            action: v.req("action"),
            secrets: &[],
        };
        let got = parse_response(expected, v.status(), &v.response_body(), &Limits::default());
        if expect["ok"].as_bool().unwrap() {
            let r = got.unwrap_or_else(|e| panic!("{}: {e}", v.name));
            assert_eq!(r.code(), 200, "{}", v.name);
            assert_eq!(r.action_id(), v.req("action_id"), "{}", v.name);
            if let Some(n) = expect["total_count"].as_u64() {
                assert_eq!(r.total_count(), Some(n), "{}", v.name);
            }
            if let Some(n) = expect["records"].as_u64() {
                assert_eq!(r.records().len() as u64, n, "{}", v.name);
                let id = expect["first_record_id"].as_i64().unwrap();
                assert_eq!(r.records()[0]["id"].as_i64(), Some(id), "{}", v.name);
            }
            continue;
        }
        let err = got.expect_err(&v.name);
        assert_eq!(
            err.kind().as_str(),
            expect["kind"].as_str().unwrap(),
            "{}: {err}",
            v.name
        );
        assert_eq!(
            err.http_status().map(u64::from),
            expect["http_status"].as_u64(),
            "{}",
            v.name
        );
        if let Some(reason) = expect["reason"].as_str() {
            assert_eq!(
                err.protocol_info().unwrap().reason.as_str(),
                reason,
                "{}",
                v.name
            );
        }
        if let Some(info) = err.api_info() {
            assert_eq!(info.code, expect["code"].as_i64(), "{}", v.name);
            assert_eq!(
                info.msg_id.as_deref(),
                expect["msg_id"].as_str(),
                "{}",
                v.name
            );
            if let Some(m) = expect["message"].as_str() {
                assert_eq!(info.message.as_deref(), Some(m), "{}", v.name);
                assert!(err.to_string().contains(m), "{}: {err}", v.name);
            }
            if let Some(a) = expect["action_id"].as_str() {
                assert_eq!(info.action_id.as_deref(), Some(a), "{}", v.name);
            }
            if let Some(fields) = expect["field_errors"].as_array() {
                let fe = info.field_errors.as_ref().expect("field errors kept");
                for f in fields {
                    assert!(fe.get(f.as_str().unwrap()).is_some(), "{}: {f}", v.name);
                }
            }
            if let Some(s) = expect["raw_body_contains"].as_str() {
                assert!(info.raw_body.contains(s), "{}", v.name);
                assert!(err.to_string().contains(s), "{}: {err}", v.name);
            }
        }
        if let Some(k) = expect["auth_kind"].as_str() {
            assert_eq!(classify_auth_error(err).kind().as_str(), k, "{}", v.name);
        }
    }
}

#[test]
fn seed_auth_request_is_what_we_build() {
    let v = common::load("auth_seed");
    let page: Value = serde_json::from_str(v.req("body_text")).unwrap();
    let ep = Endpoint::parse("https://office.runtel.org").unwrap();
    let req =
        Session::auth_request(&ep, "123".into(), "{{username}}", &"{{password}}".into()).unwrap();
    let ours: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(ours, page);
    // Same key order as the vendor's page.
    let keys: Vec<_> = ours.as_object().unwrap().keys().cloned().collect();
    let page_keys: Vec<_> = page.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, page_keys);
    assert_eq!(req.method, v.req("method"));
    assert!(req.url.ends_with(v.req("path")));
    let headers: Vec<_> = req.headers().collect();
    assert!(headers.contains(&("Content-Type", "application/json")));
    assert!(!headers.iter().any(|(k, _)| *k == "Authorization"));
}

#[test]
fn seed_logout_and_list_requests_match() {
    for name in ["logout", "list_paging"] {
        let v = common::load(name);
        let page: Value = serde_json::from_str(v.req("body_text")).unwrap();
        let mut call = Call::new(v.req("obj"), v.req("action"), page["params"].clone()).unwrap();
        if let Some(l) = page["limit"].as_u64() {
            call = call.limit(l);
        }
        if let Some(o) = page["offset"].as_u64() {
            call = call.offset(o);
        }
        call = call.filter(page["filter"].clone()).unwrap();
        let ep = Endpoint::parse("http://pbx.example/").unwrap();
        let req = call.to_http(
            &ep,
            v.req("action_id").into(),
            Some(&"{{auth_token}}".into()),
        );
        let ours: Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(ours, page, "{name}");
        let auth = req
            .headers()
            .find(|(k, _)| *k == "Authorization")
            .unwrap()
            .1;
        let want = v.json["request"]["headers"][1][1].as_str().unwrap();
        assert_eq!(auth, want, "{name}");
    }
}

#[test]
fn seed_auth_response_fills_every_auth_field() {
    let v = common::load("auth_seed");
    let body = v.response_body();
    assert_eq!(body.len(), 846, "the page's body, byte for byte");
    let ep = Endpoint::parse("https://office.runtel.org").unwrap();
    let req =
        Session::auth_request(&ep, "123".into(), "a@office.runtel.org", &"pw".into()).unwrap();
    let resp = parse_response(Expected::from(&req), 200, &body, &Limits::default()).unwrap();
    assert!(resp.notifies().is_empty());
    assert_eq!(resp.obj(), "User");
    assert_eq!(resp.action(), "auth");

    let date = parse_http_date(v.header("Date").unwrap()).unwrap();
    assert_eq!(date, UNIX_EPOCH + Duration::from_secs(1_632_118_454));
    let now = UNIX_EPOCH + Duration::from_secs(2_000_000_000); // our clock is far off
    let mut session = Session::new();
    let info = session.accept_login(&resp, Some(date), now).unwrap();

    let version = info.version.as_ref().unwrap();
    assert_eq!(version.software, "2.9.0");
    assert_eq!(version.last_update, Some(1_631_889_200.532_154));
    assert_eq!(info.exp.to_string(), "2021-09-20T10:14:13.998824");
    assert_eq!(info.user_id, 48);
    assert_eq!(info.user_name, "Алексей");
    assert_eq!(info.user_login, "a@office.runtel.org");
    assert_eq!(info.domain_id, Some(34));
    assert_eq!(info.role_id, Some(2));
    assert_eq!(info.role_name, "PBX administrator");
    assert_eq!(info.role_type, 1);
    assert!(!info.is_platform_operator());
    assert!(info.role_perms.is_empty() && info.role_visible.is_empty());
    assert!(info.role_filters.is_empty());
    assert_eq!(info.auth_type, "http");
    assert_eq!(info.domain_name.as_deref(), Some("office.runtel.org"));
    assert_eq!(info.domain_test_until, Value::Null);
    assert_eq!(info.domain_mode, Some(2));
    let billing = info.domain_billing_options.as_ref().unwrap();
    assert_eq!(billing.balance.as_deref(), Some("1000.0"));
    assert!(!billing.block_inbound && !billing.block_outbound && !billing.block_face);
    assert_eq!(info.tz.as_deref(), Some("Europe/Prague"));
    assert_eq!(info.locale.as_deref(), Some("en_US"));
    assert_eq!(info.token.expose(), "J...W");
    assert!(info.extra.is_empty(), "unexpected extra: {:?}", info.extra);

    // Lifetime on the server's clock is exp - Date = 3h59m59.998824s, less the
    // second that Date's resolution may hide; our expiry is that long after our
    // `now`, whatever our clock says.
    let expires = session.expires_at().unwrap();
    assert_eq!(
        expires.duration_since(now).unwrap(),
        Duration::from_micros(4 * 3600 * 1_000_000 - 1_176 - 1_000_000)
    );
    // Masked everywhere but expose().
    assert!(!format!("{info:?}").contains("J...W"));
    assert!(!info.to_masked_json().to_string().contains("J...W"));
    assert_eq!(info.to_json_with_token()["token"], "J...W");
}
