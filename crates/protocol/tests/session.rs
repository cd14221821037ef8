//! Session state, expiry and the login guard, driven with a fake clock.

use runtel_protocol::{
    parse_response, Call, Endpoint, Error, ErrorKind, Expected, Limits, LoginGuard, Session,
    SessionStatus,
};
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// A successful auth answer whose exp is `exp` (Unix seconds).
fn auth_answer(exp: u64, token: &str) -> runtel_protocol::Response {
    let exp = runtel_protocol::ServerDateTime::from_unix_micros(exp as i64 * 1_000_000);
    let body = json!({
        "action": "auth", "action_id": "a", "obj": "User", "code": 200, "notifies": [],
        "body": {"token": token, "exp": exp.to_string(), "user_id": 1, "role_type": -1,
                 "future_field": {"x": 1}}
    });
    let exp = Expected {
        action_id: "a",
        obj: "User",
        action: "auth",
        secrets: &[],
    };
    parse_response(exp, 200, body.to_string().as_bytes(), &Limits::default()).unwrap()
}

#[test]
fn lifecycle_unauthenticated_authenticated_expired_logged_out() {
    let ep = Endpoint::parse("http://h").unwrap();
    let call = Call::new("User", "list", json!({})).unwrap();
    let mut s = Session::new();
    assert_eq!(s.status(at(0)), SessionStatus::Unauthenticated);
    let e = s.request(&ep, &call, "1".into(), at(0)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotAuthenticated);

    // Server clock says 1000 and exp 1000+3600; our clock says 50_000.
    let info = s
        .accept_login(&auth_answer(4600, "tok-1"), Some(at(1000)), at(50_000))
        .unwrap();
    assert!(info.is_platform_operator());
    assert_eq!(
        info.extra["future_field"],
        json!({"x": 1}),
        "unknown fields kept"
    );
    assert_eq!(
        s.expires_at(),
        Some(at(53_599)),
        "lifetime less Date's 1 s resolution"
    );
    assert_eq!(s.status(at(53_598)), SessionStatus::Authenticated);
    assert_eq!(s.generation(), 1);
    let req = s.request(&ep, &call, "2".into(), at(50_001)).unwrap();
    assert!(req
        .headers()
        .any(|h| h == ("Authorization", "Bearer tok-1")));

    assert!(!s.needs_login(at(50_000), Duration::from_secs(60)));
    assert!(
        s.needs_login(at(53_550), Duration::from_secs(60)),
        "inside the margin"
    );
    assert_eq!(s.status(at(53_600)), SessionStatus::Expired);
    let e = s.request(&ep, &call, "3".into(), at(53_600)).unwrap_err();
    assert!(e.to_string().contains("expired"), "{e}");

    s.accept_login(&auth_answer(4600, "tok-2"), Some(at(1000)), at(60_000))
        .unwrap();
    assert_eq!(s.generation(), 2);
    // A 401 seen before this login (generation 1) does not condemn the new token.
    s.mark_rejected_unless_renewed(1);
    assert_eq!(s.status(at(60_001)), SessionStatus::Authenticated);
    s.mark_rejected_unless_renewed(2);
    assert_eq!(s.status(at(60_001)), SessionStatus::Expired);
    assert!(s.needs_login(at(60_001), Duration::ZERO));

    s.mark_logged_out();
    assert_eq!(s.status(at(60_002)), SessionStatus::LoggedOut);
    assert!(s.token().is_none());
    assert!(
        !format!("{s:?}").contains("tok-2"),
        "Debug of a session shows no token"
    );
}

#[test]
fn without_date_header_exp_is_read_as_utc_on_our_clock() {
    let mut s = Session::new();
    s.accept_login(&auth_answer(10_000, "t"), None, at(9_000))
        .unwrap();
    assert_eq!(s.expires_at(), Some(at(10_000)));
    // exp before the server's Date cannot be right for a token issued now: it
    // is used until the server rejects it (no panic, no login before every call).
    let mut s = Session::new();
    s.accept_login(&auth_answer(500, "t"), Some(at(1000)), at(7))
        .unwrap();
    assert_eq!(s.status(at(7)), SessionStatus::Authenticated);
    assert!(s.expiry_unknown());
}

#[test]
fn auth_is_not_sent_through_request_and_needs_credentials() {
    let ep = Endpoint::parse("http://h").unwrap();
    let s = Session::new();
    let auth = Call::new("User", "auth", json!({})).unwrap();
    assert_eq!(
        s.request(&ep, &auth, "1".into(), at(0)).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    for (l, p) in [("", "pw"), ("  ", "pw"), ("a", "")] {
        let e = Session::auth_request(&ep, "1".into(), l, &p.into()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }
}

#[test]
fn auth_answer_with_bad_fields_names_the_path() {
    let body = json!({"action":"auth","action_id":"a","obj":"User","code":200,
        "body":{"token":"t","exp":"not a date","user_id":1,"role_type":1}});
    let exp = Expected {
        action_id: "a",
        obj: "User",
        action: "auth",
        secrets: &[],
    };
    let r = parse_response(exp, 200, body.to_string().as_bytes(), &Limits::default()).unwrap();
    let e = Session::new().accept_login(&r, None, at(0)).unwrap_err();
    let info = e.protocol_info().unwrap();
    assert_eq!(info.path.as_deref(), Some("$.body.exp"));
    assert!(e.to_string().contains("invalid date-time"), "{e}");

    // A token of the wrong type is as fatal as a bad exp, and never shown.
    let body = json!({"action":"auth","action_id":"a","obj":"User","code":200,
        "body":{"token":["secret-tok"],"exp":"2021-01-01T00:00:00","user_id":1,"role_type":1}});
    let r = parse_response(exp, 200, body.to_string().as_bytes(), &Limits::default()).unwrap();
    let e = Session::new().accept_login(&r, None, at(0)).unwrap_err();
    assert_eq!(
        e.protocol_info().unwrap().path.as_deref(),
        Some("$.body.token")
    );
    assert!(!e.to_string().contains("secret-tok"), "{e}");
}

#[test]
fn login_guard_locks_after_max_refusals_and_resets_on_success() {
    let cooldown = Duration::from_secs(900);
    let mut g = LoginGuard::new(3, cooldown);
    for i in 0..3 {
        assert!(g.check(at(100 + i)).is_ok(), "attempt {i} allowed");
        g.record_refusal(at(100 + i));
    }
    match g.check(at(103)) {
        Err(Error::AuthLockout {
            failures,
            retry_after,
        }) => {
            assert_eq!(failures, 3);
            assert_eq!(retry_after, Duration::from_secs(899));
        }
        other => panic!("expected lockout, got {other:?}"),
    }
    // After the cool-down one attempt is allowed; a further refusal relocks at once.
    assert!(g.check(at(102 + 900)).is_ok());
    g.record_refusal(at(1002));
    assert_eq!(
        g.check(at(1003)).unwrap_err().kind(),
        ErrorKind::AuthLockout
    );
    g.record_success();
    assert_eq!(g.failures(), 0);
    assert!(g.check(at(1004)).is_ok());
    // Two refusals, a success, two more: never locked (the count is consecutive).
    let mut g = LoginGuard::new(3, cooldown);
    g.record_refusal(at(1));
    g.record_refusal(at(2));
    g.record_success();
    g.record_refusal(at(3));
    g.record_refusal(at(4));
    assert!(g.check(at(5)).is_ok());
    assert_eq!(LoginGuard::new(0, cooldown), LoginGuard::new(1, cooldown));
}
