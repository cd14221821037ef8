//! The call policy without a socket: each rule of the reliability contract as a
//! table of (what the transport reports) -> (what the policy says next).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use runtel_protocol::{
    parse_response, ActionIdGenerator, ApiErrorInfo, Call, CallPolicy, CallStep, Endpoint, Error,
    ErrorKind, Expected, Limits, LoginAttempt, LoginOutcome, PolicyOptions, RawAnswer, RetryPolicy,
    Secret, ServerDateTime, Session, TransportFailure,
};
use serde_json::json;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn endpoint() -> Endpoint {
    Endpoint::parse("http://pbx.test").unwrap()
}

/// A session logged in at `now` with a token that expires `lifetime_secs` later.
fn session_with_token(now: u64, lifetime_secs: u64) -> Session {
    let exp = ServerDateTime::from_unix_micros(((now + lifetime_secs) * 1_000_000) as i64);
    let body = json!({"action": "auth", "action_id": "a", "obj": "User", "code": 200,
        "notifies": [], "body": {"token": "tok-1234567", "exp": exp.to_string(),
        "user_id": 1, "role_type": 1}});
    let r = parse_response(
        Expected::new("a", "User", "auth"),
        200,
        body.to_string().as_bytes(),
        &Limits::default(),
    )
    .unwrap();
    let mut s = Session::new();
    s.accept_login(&r, None, at(now)).unwrap();
    s
}

fn api_error(status: u16, code: Option<i64>) -> Error {
    let mut info = ApiErrorInfo::default();
    info.http_status = status;
    info.code = code;
    Error::Api(Box::new(info))
}

fn failure(kind: &str) -> TransportFailure {
    let (retryable, not_sent) = match kind {
        "refused" => (true, true),
        "reset" => (true, false),
        "timeout" => (false, false),
        _ => unreachable!(),
    };
    TransportFailure {
        error: if kind == "timeout" {
            Error::Timeout(kind.into())
        } else {
            Error::transport(runtel_protocol::TransportCause::Reset, kind)
        },
        retryable,
        not_sent,
    }
}

/// What the transport reports after a `Send`.
#[derive(Clone)]
enum Report {
    /// An answer with this status, decoded into success (`None`) or this error.
    Answer(u16, Option<Error>),
    Failed(&'static str),
}

/// The steps as short words: `login`, `login!` (after a 401), `send:<action_id>`,
/// `sleep:<ms>`, `ok`, `err:<kind>`.
fn run(
    action: &str,
    has_credentials: bool,
    mut session: Session,
    now: u64,
    reports: &[Report],
    options: PolicyOptions,
    seed: u64,
) -> Vec<String> {
    let call = Call::new("User", action, json!({"id": 1})).unwrap();
    let ids = ActionIdGenerator::with_prefix("t");
    let mut policy: CallPolicy<'_, &str> = CallPolicy::new(&call, options, has_credentials, seed);
    let mut reports = reports.iter().cloned();
    let mut steps = Vec::new();
    for _ in 0..20 {
        match policy.next(&session, &endpoint(), || ids.next_id(), at(now)) {
            CallStep::Login {
                token_rejected,
                seen_generation,
            } => {
                steps.push(if token_rejected { "login!" } else { "login" }.to_owned());
                if token_rejected && session.generation() == seen_generation {
                    session.mark_rejected();
                }
                session = session_with_token(now, 3600);
                policy.login_done(Ok(()));
            }
            CallStep::Send(req) => {
                steps.push(format!("send:{}", req.action_id));
                match reports.next().expect("a report for every send") {
                    Report::Answer(status, None) => policy.answer(status, Ok("body")),
                    Report::Answer(status, Some(e)) => policy.answer(status, Err(e)),
                    Report::Failed(kind) => policy.failed(failure(kind)),
                }
            }
            CallStep::Sleep(d) => steps.push(format!("sleep:{}", d.as_millis())),
            CallStep::Done(Ok(_)) => {
                steps.push("ok".into());
                return steps;
            }
            CallStep::Done(Err(e)) => {
                steps.push(format!("err:{}", e.kind()));
                return steps;
            }
        }
    }
    panic!("no end after 20 steps: {steps:?}");
}

fn fixed_jitter() -> PolicyOptions {
    PolicyOptions {
        retry: RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(150),
        },
        relogin_margin: Duration::from_secs(60),
    }
}

#[test]
fn the_reliability_contract_as_a_table() {
    use Report::*;
    let ok = || Answer(200, None);
    let unauthorized = || Answer(401, Some(api_error(401, Some(401))));
    let busy = || Answer(503, Some(api_error(503, None)));
    let fresh = || session_with_token(1000, 3600);
    let none = Session::new;
    type Case = (
        &'static str,
        &'static str,
        bool,
        Session,
        u64,
        Vec<Report>,
        &'static [&'static str],
    );
    let cases: Vec<Case> = vec![
        (
            "lazy login",
            "list",
            true,
            none(),
            1000,
            vec![ok()],
            &["login", "send:t-1", "ok"],
        ),
        (
            "token valid: no login",
            "list",
            true,
            fresh(),
            1000,
            vec![ok()],
            &["send:t-1", "ok"],
        ),
        (
            "no token, no credentials",
            "list",
            false,
            none(),
            1000,
            vec![],
            &["err:not_authenticated"],
        ),
        (
            "renewed inside the margin",
            "get",
            true,
            fresh(),
            1000 + 3600 - 30,
            vec![ok()],
            &["login", "send:t-1", "ok"],
        ),
        (
            "expired without credentials",
            "get",
            false,
            fresh(),
            1000 + 3600,
            vec![],
            &["err:not_authenticated"],
        ),
        (
            "401: one re-login, one replay",
            "get",
            true,
            fresh(),
            1000,
            vec![unauthorized(), ok()],
            &["send:t-1", "login!", "send:t-2", "ok"],
        ),
        (
            "a second 401 is returned",
            "get",
            true,
            fresh(),
            1000,
            vec![unauthorized(), unauthorized()],
            &["send:t-1", "login!", "send:t-2", "err:api"],
        ),
        (
            "401 without credentials",
            "get",
            false,
            fresh(),
            1000,
            vec![unauthorized()],
            &["send:t-1", "err:not_authenticated"],
        ),
        (
            "reads retry 503, same request",
            "list",
            true,
            fresh(),
            1000,
            vec![busy(), busy(), ok()],
            &[
                "send:t-1",
                "sleep:80",
                "send:t-1",
                "sleep:109",
                "send:t-1",
                "ok",
            ],
        ),
        (
            "reads give up after max_retries",
            "get",
            true,
            fresh(),
            1000,
            vec![busy(), busy(), busy()],
            &[
                "send:t-1",
                "sleep:80",
                "send:t-1",
                "sleep:109",
                "send:t-1",
                "err:api",
            ],
        ),
        (
            "reads retry a reset connection",
            "list_with_detail",
            true,
            fresh(),
            1000,
            vec![Failed("reset"), ok()],
            &["send:t-1", "sleep:80", "send:t-1", "ok"],
        ),
        (
            "a timeout is not retried",
            "list",
            true,
            fresh(),
            1000,
            vec![Failed("timeout")],
            &["send:t-1", "err:timeout"],
        ),
        (
            "writes never retry a 503",
            "update",
            true,
            fresh(),
            1000,
            vec![busy()],
            &["send:t-1", "err:api"],
        ),
        (
            "writes never retry a reset",
            "append",
            true,
            fresh(),
            1000,
            vec![Failed("reset")],
            &["send:t-1", "err:transport"],
        ),
        (
            "writes never retry a refused connection",
            "delete",
            true,
            fresh(),
            1000,
            vec![Failed("refused")],
            &["send:t-1", "err:transport"],
        ),
        (
            "a 404 is the caller's",
            "get",
            true,
            fresh(),
            1000,
            vec![Answer(404, Some(api_error(404, Some(404))))],
            &["send:t-1", "err:api"],
        ),
    ];
    for (name, action, creds, session, now, reports, want) in cases {
        let got = run(action, creds, session, now, &reports, fixed_jitter(), 42);
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn jitter_is_deterministic_per_seed_and_bounded() {
    let busy = Report::Answer(502, Some(api_error(502, None)));
    let opts = PolicyOptions {
        retry: RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(400),
        },
        ..PolicyOptions::default()
    };
    let script = vec![busy; 6];
    let a = run(
        "list",
        true,
        session_with_token(0, 3600),
        0,
        &script,
        opts,
        7,
    );
    let b = run(
        "list",
        true,
        session_with_token(0, 3600),
        0,
        &script,
        opts,
        7,
    );
    let c = run(
        "list",
        true,
        session_with_token(0, 3600),
        0,
        &script,
        opts,
        8,
    );
    assert_eq!(a, b);
    assert_ne!(a, c);
    let sleeps: Vec<u64> = a
        .iter()
        .filter_map(|s| s.strip_prefix("sleep:"))
        .map(|ms| ms.parse().unwrap())
        .collect();
    // 100, 200, 400, 400, 400 ms, each jittered into [d/2, d].
    let caps = [100, 200, 400, 400, 400];
    assert_eq!(sleeps.len(), 5);
    for (s, cap) in sleeps.iter().zip(caps) {
        assert!(*s >= cap / 2 && *s <= cap, "{sleeps:?}");
    }
}

#[test]
fn a_failed_relogin_ends_the_call_and_auth_is_refused() {
    let call = Call::new("User", "list", json!({})).unwrap();
    let mut p: CallPolicy<'_, ()> = CallPolicy::new(&call, PolicyOptions::default(), true, 1);
    let s = Session::new();
    assert!(matches!(
        p.next(&s, &endpoint(), || "x".into(), at(0)),
        CallStep::Login { .. }
    ));
    p.login_done(Err(Error::AuthLockout {
        failures: 3,
        retry_after: Duration::from_secs(5),
    }));
    match p.next(&s, &endpoint(), || "x".into(), at(0)) {
        CallStep::Done(Err(e)) => assert_eq!(e.kind(), ErrorKind::AuthLockout),
        other => panic!("{other:?}"),
    }
    let auth = Call::new("User", "auth", json!({})).unwrap();
    let mut p: CallPolicy<'_, ()> = CallPolicy::new(&auth, PolicyOptions::default(), true, 1);
    match p.next(&s, &endpoint(), || "x".into(), at(0)) {
        CallStep::Done(Err(e)) => assert_eq!(e.kind(), ErrorKind::InvalidInput),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_renewal_margin_is_at_most_a_quarter_of_the_lifetime() {
    // A 2 s token with the default 60 s margin: renewed only in its last 0.5 s.
    let s = session_with_token(1000, 2);
    assert!(!s.needs_login(
        UNIX_EPOCH + Duration::from_millis(1_001_400),
        Duration::from_secs(60)
    ));
    assert!(s.needs_login(
        UNIX_EPOCH + Duration::from_millis(1_001_600),
        Duration::from_secs(60)
    ));
    // A 4 h token keeps the full minute.
    let s = session_with_token(1000, 4 * 3600);
    assert!(s.needs_login(at(1000 + 4 * 3600 - 59), Duration::from_secs(60)));
    assert!(!s.needs_login(at(1000 + 4 * 3600 - 61), Duration::from_secs(60)));
}

#[test]
fn login_outcomes_fail_closed() {
    let ep = endpoint();
    let answer = |status: u16, body: String| {
        Ok(RawAnswer {
            status,
            date: None,
            body: body.into_bytes(),
        })
    };
    let envelope = |code: u16| {
        json!({"action": "auth", "action_id": "l1", "obj": "User", "code": code, "notifies": [],
            "body": {"token": "tok-abcdef", "exp": "2999-01-01T00:00:00", "user_id": 1, "role_type": 1}})
        .to_string()
    };
    let cases: Vec<(&str, Result<RawAnswer, TransportFailure>, LoginOutcome)> = vec![
        (
            "accepted",
            answer(200, envelope(200)),
            LoginOutcome::Accepted,
        ),
        ("refused", answer(401, envelope(401)), LoginOutcome::Refused),
        (
            "HTML 401",
            answer(401, "<html>401</html>".into()),
            LoginOutcome::Unknown,
        ),
        (
            "HTML 403",
            answer(403, "<html>403</html>".into()),
            LoginOutcome::Unknown,
        ),
        (
            "truncated",
            answer(200, envelope(200)[..40].to_owned()),
            LoginOutcome::Unknown,
        ),
        ("timeout", Err(failure("timeout")), LoginOutcome::Unknown),
        (
            "dropped after sending",
            Err(failure("reset")),
            LoginOutcome::Unknown,
        ),
        ("never sent", Err(failure("refused")), LoginOutcome::NotSent),
    ];
    for (name, outcome, want) in cases {
        let attempt =
            LoginAttempt::new(&ep, "l1".into(), "me@pbx", &Secret::new("pw-12345")).unwrap();
        assert!(attempt.request().carries_password());
        let mut session = Session::new();
        let (got, result) = attempt.finish(outcome, &Limits::default(), &mut session, at(0));
        assert_eq!(got, want, "{name}");
        assert_eq!(result.is_ok(), want == LoginOutcome::Accepted, "{name}");
        assert_eq!(
            session.token().is_some(),
            want == LoginOutcome::Accepted,
            "{name}"
        );
    }
}
