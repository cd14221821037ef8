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
    Client::builder(url)
        .credentials(DEFAULT_LOGIN, DEFAULT_PASSWORD)
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(20))
        .retry(retry)
        .build()
        .unwrap()
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

#[test]
fn a_slow_answer_is_given_up_soon_after_the_stop_and_the_next_call_works() {
    let s = Simulator::start(SimConfig::default()).unwrap();
    let c = client(s.url(), RetryPolicy::NONE);
    c.call("User", "list", json!({})).unwrap();
    s.push_fault(FaultRule::times(Fault::Delay(Duration::from_secs(20)), 1).on_action("list"));
    let started = Instant::now();
    let e = interruptible(stop_after(Duration::from_millis(300)), || {
        c.call("User", "list", json!({}))
    })
    .unwrap_err();
    let took = started.elapsed();
    assert_interrupted(&e, "User.list");
    assert!(took < Duration::from_millis(800), "gave up after {took:?}");
    // The interrupted exchange's connection is not reused: the next call is
    // answered on a fresh one, without waiting for the delayed answer.
    let started = Instant::now();
    let user = c.call("User", "get", json!({"id": 1})).unwrap();
    assert_eq!(user.body()["id"], 1);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_check_that_never_stops_is_asked_in_slices_and_changes_nothing() {
    let s = Simulator::start(SimConfig::default()).unwrap();
    let c = client(s.url(), RetryPolicy::NONE);
    c.call("User", "list", json!({})).unwrap();
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
    let s = Simulator::start(SimConfig::default()).unwrap();
    let slow_retries = RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_secs(10),
        max_delay: Duration::from_secs(10),
    };
    let c = client(s.url(), slow_retries);
    c.call("User", "list", json!({})).unwrap();
    s.reset_counters();
    s.push_fault(FaultRule::times(Fault::Html503, 3).on_action("list"));
    let started = Instant::now();
    let e = interruptible(stop_after(Duration::from_millis(200)), || {
        c.call("User", "list", json!({}))
    })
    .unwrap_err();
    assert_interrupted(&e, "User.list");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
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
    let started = Instant::now();
    let e = interruptible(stop_after(Duration::from_millis(300)), || {
        c.login(DEFAULT_LOGIN, DEFAULT_PASSWORD)
    })
    .unwrap_err();
    let took = started.elapsed();
    assert_interrupted(&e, "User.auth");
    assert!(took < Duration::from_millis(900), "gave up after {took:?}");
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
