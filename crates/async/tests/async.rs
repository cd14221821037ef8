//! The async client against the simulator over real HTTP on loopback: round
//! trip, the shared fault matrix, single-flight re-login under 500 tasks,
//! cancellation, and the login guard shared with the blocking client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use runtel_async::{AsyncClient, ErrorKind, RetryPolicy, SessionStatus};
use runtel_client::Client;
use runtel_sim::{Fault, FaultRule, SimConfig, Simulator, DEFAULT_LOGIN, DEFAULT_PASSWORD};
use serde_json::{json, Value};

fn sim(config: SimConfig) -> Simulator {
    Simulator::start(config).unwrap()
}

fn client(s: &Simulator) -> AsyncClient {
    AsyncClient::builder(s.url())
        .credentials(DEFAULT_LOGIN, DEFAULT_PASSWORD)
        .timeout(Duration::from_secs(10))
        .retry(RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
        })
        .build()
        .unwrap()
}

/// Waits (at most 5 s) until `f` holds.
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_call_records_logout_round_trip() {
    let s = sim(SimConfig {
        seed: vec![("DomainCDR".into(), 2_345)],
        ..SimConfig::default()
    });
    let c = AsyncClient::new(s.url()).unwrap();
    assert_eq!(c.session_status(), SessionStatus::Unauthenticated);
    let e = c.call("User", "list", ()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotAuthenticated, "{e}");

    let info = c.login(DEFAULT_LOGIN, DEFAULT_PASSWORD).await.unwrap();
    assert_eq!(info.user_login, DEFAULT_LOGIN);
    assert_eq!(c.auth_info().unwrap().user_id, info.user_id);
    assert_eq!(c.session_status(), SessionStatus::Authenticated);

    let r = c.call("User", "list", json!({})).await.unwrap();
    assert_eq!(r.code(), 200);
    assert_eq!(r.total_count(), Some(1));
    assert_eq!(r.records()[0]["login"], DEFAULT_LOGIN);
    assert!(r.action_id().starts_with("ra"), "{}", r.action_id());

    let id = r.records()[0]["id"].clone();
    let user: runtel_client::User = c.call_as("User", "get", json!({ "id": id })).await.unwrap();
    assert_eq!(user.login.as_deref(), Some(DEFAULT_LOGIN));

    // Paging: every record once, in order, pages of 1000.
    let mut records = c.records("DomainCDR", (), 1000).unwrap();
    let mut ids = Vec::new();
    while let Some(r) = records.try_next().await.unwrap() {
        ids.push(r["id"].as_i64().unwrap());
    }
    assert_eq!(ids.len(), 2_345);
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 2_345, "no record twice");
    assert_eq!(records.pager().pages_fetched(), 3);
    assert_eq!(records.pager().total_count(), Some(2_345));

    c.logout().await.unwrap();
    assert_eq!(c.session_status(), SessionStatus::LoggedOut);
    assert_eq!(s.counters().action("logout"), 1);
    // The credentials given to login() are kept: the next call logs in again.
    assert_eq!(c.call("User", "list", ()).await.unwrap().code(), 200);
    assert_eq!(s.counters().auth_attempts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stay_out_of_debug_and_errors() {
    let s = sim(SimConfig::default());
    let c = client(&s);
    c.call("User", "list", ()).await.unwrap();
    let token = s.last_issued_token().unwrap();
    s.push_fault(FaultRule::times(Fault::EchoEnvelope, 1).on_action("list"));
    let e = c.call("User", "list", ()).await.unwrap_err();
    for text in [format!("{c:?}"), format!("{e}"), format!("{e:?}")] {
        assert!(!text.contains(&token), "token leaked: {text}");
    }
    // The echo came back: the mask is what shows instead.
    assert!(e.to_string().contains("***"), "{e}");
}

/// The fault matrix every front end runs (one table, `tests/fault-matrix.json`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_gives_its_kind_in_time_and_the_client_recovers() {
    let m: Value = serde_json::from_str(include_str!("../../../tests/fault-matrix.json")).unwrap();
    let settings = &m["client"];
    let s = sim(SimConfig::default());
    let c = AsyncClient::builder(s.url())
        .credentials(DEFAULT_LOGIN, DEFAULT_PASSWORD)
        .with(|o| {
            o.timeout = Duration::from_secs_f64(settings["timeout"].as_f64().unwrap());
            o.max_response_bytes = settings["max_response_bytes"].as_u64().unwrap() as usize;
            o.max_retries = settings["max_retries"].as_u64().unwrap() as u32;
        })
        .build()
        .unwrap();
    let within = Duration::from_secs_f64(m["within_seconds"].as_f64().unwrap());
    c.call("User", "list", ()).await.unwrap();
    let cases = m["faults"].as_array().unwrap();
    assert_eq!(cases.len(), 10, "the matrix lost a case");
    for case in cases {
        let fault = Fault::parse(case["fault"].as_str().unwrap()).unwrap();
        s.push_fault(FaultRule::times(fault.clone(), 1));
        let started = Instant::now();
        let e = c.call("User", "list", ()).await.unwrap_err();
        assert_eq!(e.kind().as_str(), case["kind"], "{fault:?}: {e}");
        assert!(
            started.elapsed() < within,
            "{fault:?} took {:?}",
            started.elapsed()
        );
        assert_eq!(
            c.call("User", "list", ()).await.unwrap().code(),
            200,
            "after {fault:?}"
        );
        // A write hit by the same fault is reported, and sent exactly once.
        s.reset_counters();
        s.push_fault(FaultRule::times(fault.clone(), 1).on_action("update"));
        let e = c
            .call("User", "update", json!({"id": 1, "surname": "X"}))
            .await
            .unwrap_err();
        assert_eq!(e.kind().as_str(), case["kind"], "update, {fault:?}: {e}");
        assert_eq!(s.counters().action("update"), 1, "{fault:?}");
    }
    assert_eq!(s.counters().action("auth"), 0, "faults never cost a login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_retried_and_gzip_bombs_refused() {
    let s = sim(SimConfig::default());
    let c = client(&s);
    c.call("User", "list", ()).await.unwrap();
    s.reset_counters();
    s.push_fault(FaultRule::times(Fault::Html502, 2).on_action("list"));
    assert_eq!(c.call("User", "list", ()).await.unwrap().code(), 200);
    assert_eq!(s.counters().action("list"), 3);
    // Compressed answers are inflated by the client (shared body rules).
    s.push_fault(FaultRule::times(Fault::Gzip, 1));
    assert_eq!(
        c.call("User", "list", ()).await.unwrap().total_count(),
        Some(1)
    );
    s.push_fault(FaultRule::times(Fault::GzipBomb(1 << 30), 1));
    let e = c.call("User", "get", json!({"id": 1})).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(e.to_string().contains("decompression bomb"), "{e}");
    assert_eq!(c.call("User", "list", ()).await.unwrap().code(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_tasks_through_a_token_expiry_cause_one_relogin() {
    let s = sim(SimConfig {
        max_connections: 1024,
        ..SimConfig::default()
    });
    let c = client(&s);
    c.call("User", "list", ()).await.unwrap();
    assert_eq!(s.counters().auth_attempts, 1);
    assert!(s.expire_all_tokens() >= 1);
    let barrier = Arc::new(tokio::sync::Barrier::new(500));
    let tasks: Vec<_> = (0..500)
        .map(|_| {
            let (c, barrier) = (c.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                c.call("User", "list", ()).await.map(|r| r.code())
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 200);
    }
    let counters = s.counters();
    assert_eq!(
        counters.auth_attempts, 2,
        "exactly one re-login for 500 tasks"
    );
    assert!(counters.action("list") >= 501, "{counters:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_at_the_first_call_share_one_lazy_login() {
    let s = sim(SimConfig {
        auth_delay: Duration::from_millis(100),
        ..SimConfig::default()
    });
    let c = client(&s);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.call("User", "list", ()).await.map(|r| r.code()) })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 200);
    }
    assert_eq!(s.counters().auth_attempts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_hundred_calls_in_flight_leaks_no_connection() {
    let s = sim(SimConfig::default());
    let c = client(&s);
    c.call("User", "list", ()).await.unwrap();
    let open_before = s.counters().open_connections;
    assert!(open_before >= 1, "the pooled connection is open");
    s.push_fault(FaultRule::times(Fault::Delay(Duration::from_secs(3)), 100));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.call("User", "list", ()).await })
        })
        .collect();
    // Every call is on the wire (the simulator holds them in its Delay).
    eventually("100 calls in flight", || s.counters().faults_applied >= 100).await;
    assert!(s.counters().open_connections >= 100);
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        assert!(t.await.unwrap_err().is_cancelled());
    }
    // Dropped futures dropped their connections: the server sees them close
    // when its delay ends and it writes to a closed socket.
    eventually("the cancelled connections closed", || {
        s.counters().open_connections <= open_before
    })
    .await;
    let started = Instant::now();
    assert_eq!(c.call("User", "list", ()).await.unwrap().code(), 200);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(s.counters().auth_attempts, 1, "cancellation cost no login");
    let guard = c.login_guard_state().unwrap();
    assert_eq!((guard.failures(), guard.in_flight()), (0, 0));
    assert!(s.counters().open_connections <= open_before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_login_still_counts_its_real_outcome() {
    let s = sim(SimConfig {
        defender_max_failures: 1000,
        auth_delay: Duration::from_millis(300),
        ..SimConfig::default()
    });
    let c = AsyncClient::builder(s.url()).build().unwrap();
    // Wrong password, dropped while the auth is on the wire: still a failure.
    let dropped = tokio::time::timeout(Duration::from_millis(100), c.login(DEFAULT_LOGIN, "wrong"));
    assert!(dropped.await.is_err(), "timed out mid-login");
    eventually("the refusal counted", || {
        c.login_guard_state()
            .is_some_and(|g| g.failures() == 1 && g.in_flight() == 0)
    })
    .await;
    // Right password, dropped the same way: the login completes for the client.
    let dropped = tokio::time::timeout(
        Duration::from_millis(100),
        c.login(DEFAULT_LOGIN, DEFAULT_PASSWORD),
    );
    assert!(dropped.await.is_err());
    eventually("the login completed", || {
        c.session_status() == SessionStatus::Authenticated
    })
    .await;
    assert_eq!(
        c.login_guard_state().unwrap().failures(),
        0,
        "a success resets the count"
    );
    assert_eq!(c.call("User", "list", ()).await.unwrap().code(), 200);
    assert_eq!(s.counters().auth_attempts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lockout_guard_is_shared_with_the_blocking_client() {
    let s = sim(SimConfig {
        defender_max_failures: 1000,
        ..SimConfig::default()
    });
    let url = s.url().to_owned();
    let blocking = Client::builder(&url).build().unwrap();
    let a = AsyncClient::new(&url).unwrap();
    let b = AsyncClient::new(&url).unwrap();
    let blocking_login = |c: Client| {
        tokio::task::spawn_blocking(move || c.login(DEFAULT_LOGIN, "wrong").unwrap_err().kind())
    };
    // Five attempts alternating between the front ends: three reach the server.
    let mut kinds = vec![blocking_login(blocking.clone()).await.unwrap()];
    kinds.push(a.login(DEFAULT_LOGIN, "wrong").await.unwrap_err().kind());
    kinds.push(blocking_login(blocking.clone()).await.unwrap());
    kinds.push(b.login(DEFAULT_LOGIN, "wrong").await.unwrap_err().kind());
    kinds.push(blocking_login(blocking.clone()).await.unwrap());
    assert_eq!(
        kinds,
        [
            ErrorKind::Auth,
            ErrorKind::Auth,
            ErrorKind::Auth,
            ErrorKind::AuthLockout,
            ErrorKind::AuthLockout
        ]
    );
    assert_eq!(
        s.counters().auth_attempts,
        3,
        "3 logins in total across both"
    );
    // Even the right password is refused locally now, by both.
    let e = a.login(DEFAULT_LOGIN, DEFAULT_PASSWORD).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AuthLockout);
    assert_eq!(
        blocking.login_guard_state().failures(),
        a.login_guard_state().unwrap().failures()
    );
    assert_eq!(s.counters().auth_attempts, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_logins_from_both_front_ends_send_three() {
    let s = sim(SimConfig {
        defender_max_failures: 1000,
        auth_delay: Duration::from_millis(100),
        ..SimConfig::default()
    });
    let url = s.url().to_owned();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let url = url.clone();
        if i % 2 == 0 {
            tasks.push(tokio::spawn(async move {
                let c = AsyncClient::new(&url).unwrap();
                c.login(DEFAULT_LOGIN, "wrong").await.unwrap_err().kind()
            }));
        } else {
            tasks.push(tokio::task::spawn_blocking(move || {
                let c = Client::new(&url).unwrap();
                c.login(DEFAULT_LOGIN, "wrong").unwrap_err().kind()
            }));
        }
    }
    let mut kinds = Vec::new();
    for t in tasks {
        kinds.push(t.await.unwrap());
    }
    let auth = kinds.iter().filter(|k| **k == ErrorKind::Auth).count();
    assert_eq!(auth, 3, "{kinds:?}");
    assert_eq!(s.counters().auth_attempts, 3);
    assert!(kinds
        .iter()
        .all(|k| matches!(k, ErrorKind::Auth | ErrorKind::AuthLockout)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_record_stream_leaves_the_client_usable() {
    let s = sim(SimConfig {
        seed: vec![("DomainCDR".into(), 500)],
        ..SimConfig::default()
    });
    let c = client(&s);
    let first: Vec<_> = c
        .records("DomainCDR", (), 100)
        .unwrap()
        .take(150)
        .collect()
        .await;
    assert_eq!(first.len(), 150);
    assert!(first.iter().all(Result::is_ok));
    s.push_fault(FaultRule::times(Fault::Delay(Duration::from_secs(2)), 1));
    let mut stream = c.records("DomainCDR", (), 100).unwrap();
    let cut = tokio::time::timeout(Duration::from_millis(200), stream.next()).await;
    assert!(cut.is_err());
    drop(stream);
    let all: Vec<Value> = c
        .records("DomainCDR", (), 100)
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 500);
}

/// Fail closed: a login cut off after its `auth` left (here the runtime that
/// runs it shuts down) counts as a failure, because the server may have
/// counted it; one cut off before it left does not count.
#[test]
fn a_login_cut_off_after_sending_counts_as_a_failure() {
    let s = sim(SimConfig {
        defender_max_failures: 1000,
        auth_delay: Duration::from_millis(500),
        ..SimConfig::default()
    });
    let blocking = Client::new(s.url()).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let c = AsyncClient::new(s.url()).unwrap();
    let login = {
        let c = c.clone();
        rt.spawn(async move { c.login(DEFAULT_LOGIN, DEFAULT_PASSWORD).await })
    };
    // The auth is on the wire (the simulator holds it for 500 ms)...
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.counters().auth_attempts == 0 {
        assert!(Instant::now() < deadline, "the auth never left");
        std::thread::sleep(Duration::from_millis(5));
    }
    // ...when the runtime goes, and the login task with it.
    rt.shutdown_timeout(Duration::from_millis(50));
    drop(login);
    let guard = blocking.login_guard_state();
    assert_eq!(
        (guard.failures(), guard.in_flight()),
        (1, 0),
        "a lost login outcome counts as a failure"
    );
    // The right password even so: the client is not logged in.
    assert_eq!(c.session_status(), SessionStatus::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_roots_opt_out_and_certificate_failures_name_their_cause() {
    use runtel_client::{TlsCause, TransportCause};
    use runtel_sim::TlsSettings;
    let s = sim(SimConfig {
        tls: Some(TlsSettings::default()),
        ..SimConfig::default()
    });
    let cause = |e: &runtel_async::Error| e.transport_info().map(|i| i.cause);
    let plain = AsyncClient::new(s.url()).unwrap();
    let e = plain
        .login(DEFAULT_LOGIN, DEFAULT_PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport);
    assert_eq!(
        cause(&e),
        Some(TransportCause::Tls(TlsCause::UnknownIssuer)),
        "{e}"
    );
    assert!(e.to_string().contains("not trusted"), "{e}");
    // A handshake failure never left: the guard does not count it.
    assert_eq!(plain.login_guard_state().unwrap().failures(), 0);
    let trusting = AsyncClient::builder(s.url())
        .root_certificates_pem(s.cert_pem().unwrap())
        .build()
        .unwrap();
    trusting
        .login(DEFAULT_LOGIN, DEFAULT_PASSWORD)
        .await
        .unwrap();
    let reckless = AsyncClient::builder(s.url())
        .with(|o| o.accept_invalid_certs = true)
        .build()
        .unwrap();
    reckless
        .login(DEFAULT_LOGIN, DEFAULT_PASSWORD)
        .await
        .unwrap();
    let bad_pem = AsyncClient::builder(s.url())
        .root_certificates_pem("not pem")
        .build()
        .unwrap_err();
    assert_eq!(bad_pem.kind(), ErrorKind::InvalidInput);
    assert_eq!(s.counters().auth_attempts, 2);

    // An expired certificate, trusted otherwise.
    let s = sim(SimConfig {
        tls: Some(TlsSettings {
            expired: true,
            ..TlsSettings::default()
        }),
        ..SimConfig::default()
    });
    let c = AsyncClient::builder(s.url())
        .root_certificates_pem(s.cert_pem().unwrap())
        .build()
        .unwrap();
    let e = c.login(DEFAULT_LOGIN, DEFAULT_PASSWORD).await.unwrap_err();
    assert_eq!(
        cause(&e),
        Some(TransportCause::Tls(TlsCause::Expired)),
        "{e}"
    );
    assert!(e.to_string().contains("certificate has expired"), "{e}");
    assert_eq!(s.counters().auth_attempts, 0, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_a_transport_error_that_never_counts() {
    // A port nobody listens on (a simulator started and stopped).
    let url = {
        let s = sim(SimConfig::default());
        s.url().to_owned()
    };
    let c = AsyncClient::builder(&url)
        .retry(RetryPolicy::NONE)
        .build()
        .unwrap();
    let e = c.login(DEFAULT_LOGIN, DEFAULT_PASSWORD).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
    assert_eq!(
        e.transport_info().map(|i| i.cause),
        Some(runtel_client::TransportCause::Connect),
        "{e}"
    );
    let guard = c.login_guard_state().unwrap();
    assert_eq!((guard.failures(), guard.in_flight()), (0, 0));
}

/// Waiting for the login guard's turn must not block a runtime thread: on a
/// single-threaded runtime, the logins that hold the turns run on the same
/// thread as those waiting, so a blocking wait would stall them until the
/// wait timed out.
#[tokio::test(flavor = "current_thread")]
async fn waiting_for_the_guard_does_not_block_a_single_threaded_runtime() {
    let s = sim(SimConfig {
        defender_max_failures: 1000,
        auth_delay: Duration::from_millis(300),
        ..SimConfig::default()
    });
    let started = Instant::now();
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let c = AsyncClient::builder(s.url())
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            tokio::spawn(async move { c.login(DEFAULT_LOGIN, "wrong").await.unwrap_err().kind() })
        })
        .collect();
    let mut kinds = Vec::new();
    for t in tasks {
        kinds.push(t.await.unwrap());
    }
    kinds.sort_by_key(|k| k.as_str());
    assert_eq!(
        kinds,
        [
            ErrorKind::Auth,
            ErrorKind::Auth,
            ErrorKind::Auth,
            ErrorKind::AuthLockout,
            ErrorKind::AuthLockout,
            ErrorKind::AuthLockout
        ]
    );
    assert_eq!(s.counters().auth_attempts, 3);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the waiting logins stalled the runtime: {:?}",
        started.elapsed()
    );
}
