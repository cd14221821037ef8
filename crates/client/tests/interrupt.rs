//! `interruptible`: a stop check installed on the calling thread cuts every wait
//! of a call short (a slow answer, a connect that hangs, a retry pause), and a
//! check that never says stop changes nothing. Real HTTP to the simulator, or to
//! a listener whose queue is full (a connect to it hangs).

use std::cell::Cell;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

use runtel_client::{interruptible, Client, ErrorKind, RetryPolicy};
use runtel_sim::{Fault, FaultRule, SimConfig, Simulator, DEFAULT_LOGIN, DEFAULT_PASSWORD};
use serde_json::json;

fn client(url: &str, retry: RetryPolicy) -> Client {
    builder(url, retry).build().unwrap()
}

fn builder(url: &str, retry: RetryPolicy) -> runtel_client::ClientBuilder {
    Client::builder(url)
        .credentials(DEFAULT_LOGIN, DEFAULT_PASSWORD)
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(20))
        .retry(retry)
}

/// A simulator and a client of it, already logged in.
fn logged_in(retry: RetryPolicy) -> (Simulator, Client) {
    let s = Simulator::start(SimConfig::default()).unwrap();
    let c = client(s.url(), retry);
    c.call("User", "list", json!({})).unwrap();
    (s, c)
}

/// A stop check that says stop once `after` has passed since it was made.
fn stop_after(after: Duration) -> impl Fn() -> bool + 'static {
    let made = Instant::now();
    move || made.elapsed() >= after
}

fn assert_interrupted(e: &runtel_client::Error, what: &str) {
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    let text = e.to_string();
    assert!(
        text.contains(what) && text.contains("interrupted by the caller"),
        "{text}"
    );
}

/// Runs `work` with a stop check that says stop after `stop_at` ms: it must end
/// with the interrupt error naming `what`, at most `within` ms after it began.
fn stopped<T: std::fmt::Debug>(
    stop_at: u64,
    within: u64,
    what: &str,
    work: impl FnOnce() -> Result<T, runtel_client::Error>,
) {
    let started = Instant::now();
    let e = interruptible(stop_after(Duration::from_millis(stop_at)), work).unwrap_err();
    let took = started.elapsed();
    assert_interrupted(&e, what);
    assert!(
        took < Duration::from_millis(within),
        "{what}: gave up after {took:?}"
    );
}

#[test]
fn a_slow_answer_is_given_up_soon_after_the_stop_and_the_next_call_works() {
    let (s, c) = logged_in(RetryPolicy::NONE);
    s.push_fault(FaultRule::times(Fault::Delay(Duration::from_secs(20)), 1).on_action("list"));
    stopped(300, 800, "User.list", || c.call("User", "list", json!({})));
    // The interrupted exchange's connection is not reused: the next call is
    // answered on a fresh one, without waiting for the delayed answer.
    let started = Instant::now();
    let user = c.call("User", "get", json!({"id": 1})).unwrap();
    assert_eq!(user.body()["id"], 1);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_check_that_never_stops_is_asked_in_slices_and_changes_nothing() {
    let (s, c) = logged_in(RetryPolicy::NONE);
    s.push_fault(FaultRule::times(Fault::Delay(Duration::from_millis(700)), 1).on_action("get"));
    let asked = Rc::new(Cell::new(0u32));
    let count = Rc::clone(&asked);
    let user = interruptible(
        move || {
            count.set(count.get() + 1);
            false
        },
        || c.call("User", "get", json!({"id": 1})),
    )
    .unwrap();
    assert_eq!(user.body()["id"], 1);
    // 700 ms in slices of 50 ms.
    assert!(
        (8..=20).contains(&asked.get()),
        "asked {} times",
        asked.get()
    );
}

#[test]
fn a_retry_pause_is_cut_short() {
    let (s, c) = logged_in(RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_secs(10),
        max_delay: Duration::from_secs(10),
    });
    s.reset_counters();
    s.push_fault(FaultRule::times(Fault::Html503, 3).on_action("list"));
    stopped(200, 1000, "User.list", || c.call("User", "list", json!({})));
    assert_eq!(s.counters().action("list"), 1, "no retry was sent");
}

/// A listener whose accept queue is full: the kernel drops further SYNs, so a
/// connect to it hangs until its timeout. The fillers are kept open.
fn hanging_listener() -> (TcpListener, Vec<TcpStream>, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4096 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => fillers.push(s),
            Err(_) => return (listener, fillers, addr),
        }
    }
    panic!("the accept queue never filled");
}

#[test]
fn a_connect_that_hangs_is_given_up_soon_after_the_stop() {
    let (_listener, _fillers, addr) = hanging_listener();
    let c = client(&format!("http://{addr}"), RetryPolicy::NONE);
    stopped(300, 900, "User.auth", || {
        c.login(DEFAULT_LOGIN, DEFAULT_PASSWORD)
    });
    // Without a check the same connect runs into its own timeout.
    let c = Client::builder(&format!("http://{addr}"))
        .connect_timeout(Duration::from_millis(400))
        .retry(RetryPolicy::NONE)
        .build()
        .unwrap();
    let started = Instant::now();
    let e = c.login(DEFAULT_LOGIN, DEFAULT_PASSWORD).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(!e.to_string().contains("interrupted"), "{e}");
    assert!(started.elapsed() >= Duration::from_millis(350));
}

#[test]
fn over_https_a_slow_answer_is_given_up_soon_after_the_stop() {
    // TLS reads go through rustls, which retries a read that reports
    // "interrupted": the stop must not look like one.
    let s = Simulator::start(SimConfig {
        tls: Some(Default::default()),
        ..SimConfig::default()
    })
    .unwrap();
    let c = builder(s.url(), RetryPolicy::NONE)
        .root_certificates_pem(s.cert_pem().unwrap())
        .build()
        .unwrap();
    c.call("User", "list", json!({})).unwrap();
    s.push_fault(FaultRule::times(Fault::Delay(Duration::from_secs(20)), 1).on_action("list"));
    stopped(300, 800, "User.list", || c.call("User", "list", json!({})));
    assert_eq!(
        c.call("User", "get", json!({"id": 1})).unwrap().body()["id"],
        1
    );
}

/// A server that answers with a head announcing 1000 bytes of body, sends 10,
/// and then holds the connection open.
fn stalling_body_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut buf = [0u8; 4096];
            let _ = std::io::Read::read(&mut conn, &mut buf);
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"code\":200";
            let _ = std::io::Write::write_all(&mut conn, head.as_bytes());
            held.push(conn);
        }
    });
    addr
}

#[test]
fn a_body_that_stalls_is_given_up_soon_after_the_stop() {
    let addr = stalling_body_server();
    let c = client(&format!("http://{addr}"), RetryPolicy::NONE);
    stopped(300, 800, "User.auth", || {
        c.login(DEFAULT_LOGIN, DEFAULT_PASSWORD)
    });
}

#[test]
fn an_interrupted_login_that_never_left_is_not_counted_against_the_server() {
    // Three logins stopped while connecting: nothing was sent, so the lock-out
    // guard (3 failures) must not lock this server out.
    let (_listener, _fillers, addr) = hanging_listener();
    let url = format!("http://{addr}");
    for _ in 0..4 {
        let c = client(&url, RetryPolicy::NONE);
        let e = interruptible(stop_after(Duration::from_millis(100)), || {
            c.login(DEFAULT_LOGIN, DEFAULT_PASSWORD)
        })
        .unwrap_err();
        assert_interrupted(&e, "User.auth");
    }
    let endpoint = runtel_client::Endpoint::parse(&url).unwrap();
    let server = runtel_client::server_identity(&endpoint, Duration::from_secs(1));
    let guard = runtel_client::shared_guard(&server);
    assert_eq!(guard.snapshot().failures(), 0, "{:?}", guard.snapshot());
}

#[test]
fn a_stop_check_calling_the_client_during_its_login_waits_for_that_login() {
    // Python runs signal handlers inside the stop check; one that calls the
    // client while this call logs in must neither deadlock nor log in again.
    let s = Simulator::start(SimConfig::default()).unwrap();
    let c = client(s.url(), RetryPolicy::NONE);
    s.push_fault(FaultRule::times(Fault::Delay(Duration::from_millis(400)), 1).on_action("auth"));
    let inner: Rc<std::cell::RefCell<Vec<u64>>> = Rc::default();
    let seen = Rc::clone(&inner);
    let nested = c.clone();
    let user = interruptible(
        move || {
            if seen.borrow().is_empty() {
                let r = nested.call("User", "get", json!({"id": 1})).unwrap();
                seen.borrow_mut().push(r.body()["id"].as_u64().unwrap());
            }
            false
        },
        || c.call("User", "get", json!({"id": 1})),
    )
    .unwrap();
    assert_eq!(user.body()["id"], 1);
    assert_eq!(*inner.borrow(), vec![1]);
    assert_eq!(s.counters().auth_attempts, 1, "one login for both calls");
}

#[test]
fn a_stopped_call_leaves_its_login_to_finish_and_the_token_is_kept() {
    // Stopped while its implicit login waits for the answer: the caller leaves
    // at once, the login runs to its end (the guard counts its real outcome:
    // a success), and the next call uses its token.
    let s = Simulator::start(SimConfig::default()).unwrap();
    let c = client(s.url(), RetryPolicy::NONE);
    s.push_fault(FaultRule::times(Fault::Delay(Duration::from_millis(800)), 1).on_action("auth"));
    stopped(200, 600, "User.auth", || {
        c.call("User", "get", json!({"id": 1}))
    });
    assert_eq!(
        c.call("User", "get", json!({"id": 1})).unwrap().body()["id"],
        1
    );
    let k = s.counters();
    assert_eq!((k.auth_attempts, k.auth_failures), (1, 0), "{k:?}");
}

#[test]
fn a_stop_check_logging_in_during_this_thread_s_own_login_is_refused_at_once() {
    // `login` itself runs on the calling thread: a stop check that logs in the
    // same client would wait for its own thread. Refused instead.
    let s = Simulator::start(SimConfig::default()).unwrap();
    let c = client(s.url(), RetryPolicy::NONE);
    s.push_fault(FaultRule::times(Fault::Delay(Duration::from_millis(400)), 1).on_action("auth"));
    let inner: Rc<std::cell::RefCell<Vec<(ErrorKind, Duration)>>> = Rc::default();
    let seen = Rc::clone(&inner);
    let nested = c.clone();
    interruptible(
        move || {
            if seen.borrow().is_empty() {
                let t = Instant::now();
                let e = nested.login(DEFAULT_LOGIN, DEFAULT_PASSWORD).unwrap_err();
                seen.borrow_mut().push((e.kind(), t.elapsed()));
            }
            false
        },
        || c.login(DEFAULT_LOGIN, DEFAULT_PASSWORD),
    )
    .unwrap();
    let inner = inner.borrow();
    assert_eq!(inner.len(), 1);
    assert_eq!(inner[0].0, ErrorKind::NotAuthenticated);
    assert!(inner[0].1 < Duration::from_millis(100), "{:?}", inner[0].1);
    assert_eq!(s.counters().auth_attempts, 1);
}

#[test]
fn a_tls_handshake_that_stalls_is_given_up_soon_after_the_stop() {
    // A server that accepts and never answers the ClientHello.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let held: Vec<TcpStream> = listener.incoming().map_while(Result::ok).collect();
        drop(held);
    });
    let c = client(&format!("https://{addr}"), RetryPolicy::NONE);
    stopped(300, 800, "User.auth", || {
        c.login(DEFAULT_LOGIN, DEFAULT_PASSWORD)
    });
}

#[test]
fn a_call_waiting_for_another_thread_s_login_is_given_up_soon_after_the_stop() {
    let s = Simulator::start(SimConfig::default()).unwrap();
    let c = client(s.url(), RetryPolicy::NONE);
    s.push_fault(FaultRule::times(Fault::Delay(Duration::from_secs(2)), 1).on_action("auth"));
    let other = c.clone();
    let logging_in = std::thread::spawn(move || other.login(DEFAULT_LOGIN, DEFAULT_PASSWORD));
    std::thread::sleep(Duration::from_millis(100));
    stopped(200, 700, "User.auth", || {
        c.call("User", "get", json!({"id": 1}))
    });
    // The other thread's login was not disturbed, and serves the next call.
    logging_in.join().unwrap().unwrap();
    assert_eq!(
        c.call("User", "get", json!({"id": 1})).unwrap().body()["id"],
        1
    );
    assert_eq!(s.counters().auth_attempts, 1);
}
