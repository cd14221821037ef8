//! The promises of the README attacked at the protocol level: secrets echoed by a
//! server, malformed `auth` answers carrying a token, an `exp` already past, a
//! byte-order mark, many logins at once, and one server under many spellings.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use runtel_protocol::{
    parse_response, Call, Endpoint, Error, ErrorKind, Expected, GuardDecision, Limits, LoginGuard,
    LoginOutcome, Secret, ServerDateTime, Session, SessionStatus,
};
use serde_json::json;

const PASSWORD: &str = "Pa$$-w0rd\"with'quotes-777";
const TOKEN: &str = "eyJhbGciOi.TOKEN-abcdef-0123456789";

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn endpoint() -> Endpoint {
    Endpoint::parse("http://127.0.0.1:9").unwrap()
}

fn auth_request() -> runtel_protocol::HttpRequest {
    Session::auth_request(&endpoint(), "a1".into(), "me@pbx", &Secret::new(PASSWORD)).unwrap()
}

fn list_request() -> runtel_protocol::HttpRequest {
    Call::new("User", "list", json!({})).unwrap().to_http(
        &endpoint(),
        "l1".into(),
        Some(&Secret::new(TOKEN)),
    )
}

/// Every text an error offers: Display, Debug and the raw body.
fn all_text(e: &Error) -> String {
    let raw = e.api_info().map(|i| i.raw_body.clone()).unwrap_or_default();
    let excerpt = e
        .protocol_info()
        .map(|i| i.excerpt.clone())
        .unwrap_or_default();
    format!("{e}\n{e:?}\n{raw}\n{excerpt}")
}

fn assert_clean(e: &Error, secret: &str) {
    let text = all_text(e);
    assert!(!text.contains(secret), "secret leaked: {text}");
    // Also no JSON-escaped form and no identifiable part of it.
    let escaped = serde_json::to_string(secret).unwrap();
    assert!(!text.contains(&escaped[1..escaped.len() - 1]), "{text}");
    assert!(!text.contains(&secret[..12]), "a prefix leaked: {text}");
}

#[test]
fn positive_control_the_check_sees_a_leak() {
    let e = Error::transport(runtel_protocol::TransportCause::Io, format!("echo {TOKEN}"));
    assert!(all_text(&e).contains(TOKEN));
}

#[test]
fn error_pages_echoing_the_request_never_show_the_password_or_token() {
    let auth = auth_request();
    let list = list_request();
    for (req, secret) in [(&auth, PASSWORD), (&list, TOKEN)] {
        let echoed_body = String::from_utf8(req.body.clone()).unwrap();
        let header = req
            .headers()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect::<String>();
        let page = format!("POST /api/ HTTP/1.1\r\n{header}\r\n{echoed_body}");
        for status in [200, 400, 500] {
            let e = parse_response(
                Expected::from(req),
                status,
                page.as_bytes(),
                &Limits::default(),
            )
            .unwrap_err();
            assert_clean(&e, secret);
        }
        // An error envelope quoting the request in its message and field errors.
        let envelope = json!({
            "action": req.action, "action_id": req.action_id, "obj": req.obj,
            "code": 400, "msg_id": "bad", "message": format!("bad request: {echoed_body} {header}"),
            "errors": {"params": [echoed_body], "authorization": [header]},
            "notifies": [format!("seen {secret}")], "body": {}
        });
        let e = parse_response(
            Expected::from(req),
            400,
            envelope.to_string().as_bytes(),
            &Limits::default(),
        )
        .unwrap_err();
        assert_clean(&e, secret);
        assert!(e.to_string().contains("***"), "{e}");
    }
}

#[test]
fn an_excerpt_that_cuts_a_token_in_half_masks_the_half() {
    let req = list_request();
    let page = format!("<html>denied for Bearer {TOKEN} and more text after it</html>");
    let cut_inside = page.find(TOKEN).unwrap() + 20;
    let limits = Limits {
        error_excerpt_bytes: cut_inside,
        ..Limits::default()
    };
    let e = parse_response(Expected::from(&req), 502, page.as_bytes(), &limits).unwrap_err();
    let raw = &e.api_info().unwrap().raw_body;
    assert!(raw.ends_with("Bearer ***"), "{raw}");
}

#[test]
fn malformed_auth_answers_keep_no_excerpt_and_never_the_token() {
    let req = auth_request();
    let good = json!({"action": "auth", "action_id": "a1", "obj": "User", "code": 200,
        "notifies": [], "body": {"token": TOKEN, "exp": "2030-01-01T00:00:00", "user_id": 1}})
    .to_string();
    let cut = &good[..good.find(TOKEN).unwrap() + TOKEN.len() + 1];
    let no_code = good.replace("\"code\":200,", "");
    let cases: Vec<(&str, u16, String)> = vec![
        ("truncated after the token", 200, cut.to_owned()),
        ("trailing garbage", 200, format!("{good}xyz")),
        ("no code", 200, no_code),
        ("wrapped in an array", 200, format!("[{good}]")),
        ("code 200 on HTTP 500", 500, good.clone()),
        ("HTML 401", 401, format!("<html>401 {TOKEN}</html>")),
    ];
    for (what, status, body) in cases {
        let e = parse_response(
            Expected::from(&req),
            status,
            body.as_bytes(),
            &Limits::default(),
        )
        .unwrap_err();
        assert_clean(&e, TOKEN);
        if let Some(i) = e.api_info() {
            assert!(i.raw_body.is_empty(), "{what}: {:?}", i.raw_body);
        }
        if let Some(i) = e.protocol_info() {
            assert!(i.excerpt.is_empty(), "{what}: {:?}", i.excerpt);
        }
    }
}

#[test]
fn an_auth_body_of_the_wrong_shape_does_not_show_the_token() {
    let req = auth_request();
    let answer = json!({"action": "auth", "action_id": "a1", "obj": "User", "code": 200,
        "notifies": [], "body": {"token": TOKEN, "exp": TOKEN, "user_id": 1}});
    let r = parse_response(
        Expected::from(&req),
        200,
        answer.to_string().as_bytes(),
        &Limits::default(),
    )
    .unwrap();
    let e = Session::new().accept_login(&r, None, at(0)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert_clean(&e, TOKEN);
}

#[test]
fn a_byte_order_mark_before_the_json_is_accepted() {
    let req = list_request();
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend_from_slice(
        json!({"action": "list", "action_id": "l1", "obj": "User", "code": 200,
               "notifies": [], "list": [{"id": 1}], "total_count": 1})
        .to_string()
        .as_bytes(),
    );
    let r = parse_response(Expected::from(&req), 200, &body, &Limits::default()).unwrap();
    assert_eq!(r.total_count(), Some(1));
}

#[test]
fn an_exp_already_past_keeps_the_token_until_the_server_rejects_it() {
    let req = auth_request();
    let date = at(1_000_000);
    let exp = ServerDateTime::from_unix_micros((1_000_000 - 3600) * 1_000_000);
    let answer = json!({"action": "auth", "action_id": "a1", "obj": "User", "code": 200,
        "notifies": [], "body": {"token": TOKEN, "exp": exp.to_string(), "user_id": 1, "role_type": 1}});
    let r = parse_response(
        Expected::from(&req),
        200,
        answer.to_string().as_bytes(),
        &Limits::default(),
    )
    .unwrap();
    let mut s = Session::new();
    s.accept_login(&r, Some(date), at(5)).unwrap();
    assert!(s.expiry_unknown());
    assert_eq!(s.expires_at(), None);
    assert_eq!(s.status(at(1_000_000_000)), SessionStatus::Authenticated);
    assert!(!s.needs_login(at(6), Duration::from_secs(60)));
    s.mark_rejected();
    assert!(s.needs_login(at(7), Duration::ZERO));
}

#[test]
fn logins_in_flight_count_against_the_limit() {
    let mut g = LoginGuard::new(3, Duration::from_secs(900));
    for _ in 0..3 {
        assert_eq!(g.try_begin(at(1)).unwrap(), GuardDecision::Proceed);
    }
    assert_eq!(g.try_begin(at(1)).unwrap(), GuardDecision::Wait);
    assert_eq!(g.in_flight(), 3);
    // A request that never left counts for nothing; its slot frees up.
    g.finish(LoginOutcome::NotSent, at(2));
    assert_eq!(g.failures(), 0);
    assert_eq!(g.try_begin(at(2)).unwrap(), GuardDecision::Proceed);
    // A lost answer counts like a refusal (fail closed).
    g.finish(LoginOutcome::Unknown, at(3));
    g.finish(LoginOutcome::Refused, at(3));
    assert_eq!(g.try_begin(at(3)).unwrap(), GuardDecision::Wait);
    g.finish(LoginOutcome::Refused, at(4));
    assert_eq!(g.failures(), 3);
    assert_eq!(
        g.try_begin(at(5)).unwrap_err().kind(),
        ErrorKind::AuthLockout
    );
    // After the cool-down: exactly one attempt at a time.
    assert_eq!(g.try_begin(at(905)).unwrap(), GuardDecision::Proceed);
    assert_eq!(g.try_begin(at(905)).unwrap(), GuardDecision::Wait);
    g.finish(LoginOutcome::Accepted, at(906));
    assert_eq!(g.failures(), 0);
    assert_eq!(g.try_begin(at(906)).unwrap(), GuardDecision::Proceed);
}

#[test]
fn a_limit_lowered_below_the_count_locks_instead_of_waiting_forever() {
    let mut g = LoginGuard::new(100, Duration::from_secs(900));
    for _ in 0..5 {
        g.record_refusal(at(1));
    }
    assert_eq!(g.try_begin(at(2)).unwrap(), GuardDecision::Proceed);
    g.finish(LoginOutcome::NotSent, at(2));
    g.set_limits(3, Duration::from_secs(900));
    assert_eq!(
        g.try_begin(at(3)).unwrap_err().kind(),
        ErrorKind::AuthLockout
    );
}

#[test]
fn one_server_under_many_spellings_is_one_identity() {
    let id = |u: &str| Endpoint::parse(u).unwrap().server();
    let canonical = id("http://127.0.0.1:8080");
    for spelling in [
        "http://localhost:8080",
        "HTTP://LocalHost.:8080/",
        "http://127.1:8080",
        "http://0x7f.0.0.1:8080",
        "http://2130706433:8080",
        "http://127.0.0.1:08080",
        "http://127.0.0.1:8080/x/..",
        "http://127.0.0.1:8080/api/",
        "http://[::ffff:127.0.0.1]:8080",
    ] {
        assert_eq!(id(spelling), canonical, "{spelling}");
    }
    assert_eq!(canonical.to_string(), "http://127.0.0.1:8080");
    assert_ne!(id("http://127.0.0.1:8081"), canonical);
    assert_ne!(id("https://127.0.0.1:8080"), canonical);
    assert_eq!(id("https://pbx.example"), id("https://PBX.example.:443/"));
    assert_eq!(id("http://[::1]"), id("http://[0:0::1]:80"));
    assert_eq!(
        id("https://pbx.example").to_string(),
        "https://pbx.example:443"
    );
}

#[test]
fn secondary_auth_fields_of_another_type_never_fail_the_login() {
    let req = auth_request();
    let answer = json!({"action": "auth", "action_id": "a1", "obj": "User", "code": 200,
        "notifies": [{"text": "Low balance"}], "body": {
            "token": TOKEN, "exp": "9999-12-31T23:59:59.999999",
            "user_id": "48", "domain_id": "34", "role_id": "2", "role_type": "1",
            "domain_mode": "two", "user_name": 5,
            "version": {"software": "2.22.1", "last_update": "2025-06-01 10:00:00"},
            "domain_billing_options": {"balance": "1000.10", "block_inbound": 0,
                                       "block_outbound": "true", "block_face": 1}}});
    let r = parse_response(
        Expected::from(&req),
        200,
        answer.to_string().as_bytes(),
        &Limits::default(),
    )
    .unwrap();
    let mut s = Session::new();
    let info = s.accept_login(&r, None, at(0)).unwrap();
    assert_eq!(
        (info.user_id, info.domain_id, info.role_id, info.role_type),
        (48, Some(34), Some(2), 1)
    );
    let billing = info.domain_billing_options.as_ref().unwrap();
    assert_eq!(billing.balance.as_deref(), Some("1000.10"));
    assert!(!billing.block_inbound && billing.block_outbound && billing.block_face);
    let version = info.version.as_ref().unwrap();
    assert_eq!(version.last_update, None);
    assert_eq!(version.extra["last_update_text"], "2025-06-01 10:00:00");
    // What still does not fit is kept as sent, and named.
    assert_eq!(info.domain_mode, None);
    assert_eq!(info.extra["domain_mode"], "two");
    assert_eq!(info.extra["user_name"], 5);
    let mut aside = s.set_aside_fields().to_vec();
    aside.sort();
    assert_eq!(aside, ["domain_mode", "user_name"]);
    assert_eq!(
        info.to_masked_json()["domain_mode"],
        "two",
        "serialized as sent"
    );
    assert_eq!(info.notifies, [json!({"text": "Low balance"})]);
    assert_eq!(info.to_masked_json()["notifies"][0]["text"], "Low balance");
    // A year-9999 "never" is a time far away, not an error.
    assert_eq!(s.status(at(4_000_000_000)), SessionStatus::Authenticated);
}

#[test]
fn every_number_keeps_its_exact_value_and_text() {
    let req = list_request();
    let body = r#"{"action":"list","action_id":"l1","obj":"User","code":200,"notifies":[],
        "list":[{"id":18446744073709551616},{"id":18446744073709551621},
                {"id":340282366920938463463374607431768211455},{"id":-9223372036854775809},
                {"balance":1000.10},{"balance":1E3},{"balance":123456789012345678.99},
                {"zero":-0}],"total_count":8}"#;
    let r = parse_response(
        Expected::from(&req),
        200,
        body.as_bytes(),
        &Limits::default(),
    )
    .unwrap();
    let texts: Vec<String> = r
        .records()
        .iter()
        .map(|rec| {
            rec.as_object()
                .unwrap()
                .values()
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        texts,
        [
            "18446744073709551616",
            "18446744073709551621",
            "340282366920938463463374607431768211455",
            "-9223372036854775809",
            "1000.10",
            // The exact value; serde_json spells the exponent its own way.
            "1e+3",
            "123456789012345678.99",
            "-0"
        ]
    );
    assert_ne!(r.records()[0], r.records()[1], "2^64 and 2^64+5 stay apart");
    // And on the way out: a request built from JSON text sends the same digits.
    let params: serde_json::Value =
        serde_json::from_str(r#"{"id": 18446744073709551621, "amount": 1000.10}"#).unwrap();
    let call = Call::new("User", "delete", params).unwrap();
    let http = call.to_http(&endpoint(), "d1".into(), Some(&Secret::new(TOKEN)));
    let sent = String::from_utf8(http.body).unwrap();
    assert!(sent.contains(r#""id":18446744073709551621"#), "{sent}");
    assert!(sent.contains(r#""amount":1000.10"#), "{sent}");
}

#[test]
fn a_numeric_balance_keeps_the_text_it_was_sent_with() {
    let req = auth_request();
    for (sent, kept) in [
        ("1000.10", "1000.10"),
        ("1E3", "1e+3"),
        ("123456789012345678.99", "123456789012345678.99"),
    ] {
        let body = format!(
            r#"{{"action":"auth","action_id":"a1","obj":"User","code":200,"notifies":[],
            "body":{{"token":"{TOKEN}","exp":"2030-01-01T00:00:00","user_id":1,"role_type":1,
            "domain_billing_options":{{"balance":{sent}}}}}}}"#
        );
        let r = parse_response(
            Expected::from(&req),
            200,
            body.as_bytes(),
            &Limits::default(),
        )
        .unwrap();
        let info = Session::new().accept_login(&r, None, at(0)).unwrap();
        assert_eq!(
            info.domain_billing_options.unwrap().balance.as_deref(),
            Some(kept)
        );
    }
}

#[test]
fn a_count_at_the_limit_without_a_lock_refuses_and_a_fork_counts_what_was_in_flight() {
    // A count saved by another process (or read from a damaged file as the worst
    // case) at the limit, with no lock-out time: refused, and locked from now.
    let mut g = LoginGuard::new(3, Duration::from_secs(900));
    g.load_state(7, None);
    assert_eq!(
        g.enforce_limit(at(10)).unwrap_err().kind(),
        ErrorKind::AuthLockout
    );
    assert_eq!(g.locked_until(), Some(at(910)));
    // After a fork, the attempts the parent had in flight count as failures.
    let mut g = LoginGuard::new(3, Duration::from_secs(900));
    assert_eq!(g.try_begin(at(1)).unwrap(), GuardDecision::Proceed);
    assert_eq!(g.try_begin(at(1)).unwrap(), GuardDecision::Proceed);
    let child = g.after_fork(at(2));
    assert_eq!((child.failures(), child.in_flight()), (2, 0));
}
