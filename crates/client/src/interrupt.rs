//! Calls that a caller can interrupt while they wait.
//!
//! Some hosts must run code of their own during a long wait: Python runs its
//! signal handlers (Ctrl-C) only on the main thread, and only when that thread
//! comes back from native code. [`interruptible`] runs work on the calling
//! thread with a *stop check*: every wait of the client on this thread for the
//! network or another thread (a name lookup, connecting, the TLS handshake,
//! the answer, a retry pause, another thread's login) waits in slices of at
//! most 50 ms and asks the check between slices. Once the check says stop, the
//! call gives up at once with a [`Timeout`](crate::ErrorKind::Timeout) error
//! whose message says it was interrupted; as after any timeout, a write may
//! have been applied. A login a call needs runs on a helper thread and is left
//! to finish when the call is stopped, so the lock-out guard counts its real
//! outcome and a token it gets is kept; a [`Client::login`](crate::Client::login)
//! stopped before anything was written (while connecting) is not counted.
//!
//! Without a check (the usual case) waits are not sliced and cost nothing more.
//! Not sliced: writing a request (it returns as soon as the kernel takes the
//! bytes, at once for an API request, and is bounded by the timeout) and the
//! [`GuardStore`](crate::GuardStore)'s file lock.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::{mpsc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use runtel_protocol::Error;

use crate::fork::{process_marker, ProcessMarker};

/// The longest a wait goes without asking the stop check: the bound on how late
/// an interrupt is noticed.
pub(crate) const SLICE: Duration = Duration::from_millis(50);

type StopCheck = Rc<dyn Fn() -> bool>;

thread_local! {
    static CHECK: RefCell<Option<StopCheck>> = const { RefCell::new(None) };
    /// The check said stop during the current [`interruptible`] scope: it is not
    /// asked again, every later wait of the scope gives up at once.
    static STOPPED: Cell<bool> = const { Cell::new(false) };
    /// Bytes of the current request were handed to a socket on this thread.
    static SENDING: Cell<bool> = const { Cell::new(false) };
    /// The process the current scope began in: a stop check that forks (a
    /// Python signal handler calling `os.fork()`) returns in a child, where
    /// the call in progress must not go on (see [`stop_requested`]).
    static SCOPE_PROCESS: Cell<Option<ProcessMarker>> = const { Cell::new(None) };
}

/// A request starts on this thread: nothing of it was written yet.
pub(crate) fn begin_request() {
    SENDING.with(|s| s.set(false));
}

/// Bytes of the current request (or of its connection's TLS handshake) are
/// about to be written.
pub(crate) fn note_sending() {
    SENDING.with(|s| s.set(true));
}

/// Whether anything of the current request may have reached the server; false
/// when it was stopped while connecting, so a stopped login is not counted.
pub(crate) fn request_may_have_left() -> bool {
    SENDING.with(Cell::get)
}

/// Runs `work` on this thread; while it waits, `stop` is asked at least every
/// 50 ms, and the first `true` makes the call in progress fail (see the
/// module's documentation). `stop` runs on this thread, between two waits; it may
/// itself make calls (they are not interruptible by it).
///
/// ```no_run
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// # let client = runtel_client::Client::builder("https://pbx.example").build()?;
/// let cancel = Arc::new(AtomicBool::new(false));
/// let flag = Arc::clone(&cancel);
/// let users = runtel_client::interruptible(
///     move || flag.load(Ordering::Relaxed),
///     || client.call("User", "list", serde_json::json!({})),
/// );
/// # Ok::<(), runtel_client::Error>(())
/// ```
pub fn interruptible<R>(stop: impl Fn() -> bool + 'static, work: impl FnOnce() -> R) -> R {
    struct Restore(Option<StopCheck>, bool, Option<ProcessMarker>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CHECK.with(|c| *c.borrow_mut() = self.0.take());
            STOPPED.with(|s| s.set(self.1));
            SCOPE_PROCESS.with(|p| p.set(self.2));
        }
    }
    let previous = CHECK.with(|c| c.borrow_mut().replace(Rc::new(stop)));
    let _restore = Restore(
        previous,
        STOPPED.with(|s| s.replace(false)),
        SCOPE_PROCESS.with(|p| p.replace(Some(process_marker()))),
    );
    work()
}

/// Whether waits on this thread are sliced (a stop check is installed).
pub(crate) fn armed() -> bool {
    CHECK.with(|c| c.borrow().is_some())
}

/// Asks the stop check (if any); true once it has said stop in this scope.
pub(crate) fn stop_requested() -> bool {
    if STOPPED.with(Cell::get) {
        return true;
    }
    // Cloned out so that the check may itself run an interruptible call.
    let Some(check) = CHECK.with(|c| c.borrow().clone()) else {
        return false;
    };
    // Not interruptible by itself: calls it makes run without a check.
    let stop = interruptible_by_none(|| check()) || forked_in_scope();
    if stop {
        STOPPED.with(|s| s.set(true));
    }
    stop
}

/// True when the current scope was stopped: an error seen now is the interrupt's.
pub(crate) fn was_stopped() -> bool {
    STOPPED.with(Cell::get)
}

fn interruptible_by_none<R>(work: impl FnOnce() -> R) -> R {
    let previous = CHECK.with(|c| c.borrow_mut().take());
    let was = STOPPED.with(|s| s.replace(false));
    let result = work();
    CHECK.with(|c| *c.borrow_mut() = previous);
    STOPPED.with(|s| s.set(was));
    result
}

/// True in a child forked by the stop check itself: the call in progress
/// (its connection, the helper threads it waits for) is the parent's.
fn forked_in_scope() -> bool {
    SCOPE_PROCESS
        .with(Cell::get)
        .is_some_and(|p| p != process_marker())
}

/// The error of a call given up because the stop check said so.
pub(crate) fn interrupted(what: &str) -> Error {
    if forked_in_scope() {
        return forked_during_call(what);
    }
    Error::Timeout(format!("{what}: interrupted by the caller"))
}

/// The error of a call `what` given up in a child that code run during its
/// wait (a stop check, a host's signal handler) forked: the call, its
/// connection and the threads it waits for are the parent's. For hosts that
/// wait for calls themselves (Python's worker threads).
#[doc(hidden)]
pub fn forked_during_call(what: &str) -> Error {
    Error::Timeout(format!(
        "{what}: the process forked during this call (in code the wait ran, \
         such as a signal handler); the call goes on in the parent only"
    ))
}

/// How long one blocking wait may last, at most `left` (None: no limit): a slice
/// when a check is installed.
pub(crate) fn slice_of(left: Option<Duration>) -> Option<Duration> {
    if !armed() {
        return left;
    }
    Some(left.map_or(SLICE, |l| l.min(SLICE)))
}

/// Locks `m`, held by another login (`what`) for at most `limit`, waiting in
/// slices when a stop check is installed.
///
/// Polled, as a mutex cannot be waited for with a limit. The limit matters when
/// the check itself runs host code that calls in (a Python signal handler making
/// a call while this thread logs in): that call must not wait forever for the
/// lock its own thread holds.
pub(crate) fn lock<'m, T>(
    m: &'m Mutex<T>,
    what: &str,
    limit: Duration,
) -> Result<MutexGuard<'m, T>, Error> {
    if !armed() {
        return Ok(m.lock().unwrap_or_else(|e| e.into_inner()));
    }
    let started = Instant::now();
    let mut asked = started;
    loop {
        match m.try_lock() {
            Ok(g) => return Ok(g),
            Err(TryLockError::Poisoned(p)) => return Ok(p.into_inner()),
            Err(TryLockError::WouldBlock) => {}
        }
        if asked.elapsed() >= SLICE {
            if stop_requested() {
                return Err(interrupted(what));
            }
            if started.elapsed() >= limit {
                return Err(Error::Timeout(format!(
                    "{what}: waited {:.1}s for another login of this client to finish",
                    limit.as_secs_f64()
                )));
            }
            asked = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// How a wait for another thread's answer ended (see [`recv_within`]).
pub(crate) enum Waited<T> {
    /// The answer.
    Got(T),
    /// The stop check said stop first.
    Stopped,
    /// The limit passed first.
    TimedOut,
    /// The other thread ended without an answer.
    Gone,
}

/// What another thread sends on `rx`, waited for at most `limit` (None: no
/// limit), in slices when a stop check is installed.
pub(crate) fn recv_within<T>(rx: &mpsc::Receiver<T>, limit: Option<Duration>) -> Waited<T> {
    let until = limit.map(|l| Instant::now() + l);
    loop {
        let left = until.map(|u| u.saturating_duration_since(Instant::now()));
        let received = match slice_of(left) {
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            Some(slice) => rx.recv_timeout(slice),
        };
        match received {
            Ok(value) => return Waited::Got(value),
            Err(mpsc::RecvTimeoutError::Disconnected) => return Waited::Gone,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if stop_requested() {
                    return Waited::Stopped;
                }
                if left.is_some_and(|l| l <= SLICE || !armed()) {
                    return Waited::TimedOut;
                }
            }
        }
    }
}

/// [`recv_within`] with no limit, its outcomes as the client's errors naming
/// `what`.
pub(crate) fn recv<T>(rx: &mpsc::Receiver<T>, what: &str) -> Result<T, Error> {
    match recv_within(rx, None) {
        Waited::Got(value) => Ok(value),
        Waited::Stopped => Err(interrupted(what)),
        Waited::TimedOut | Waited::Gone => Err(Error::transport(
            runtel_protocol::TransportCause::Io,
            format!("{what}: the thread doing it ended without an answer"),
        )),
    }
}

/// Sleeps `pause`; false (early) when the stop check said stop.
pub(crate) fn sleep(pause: Duration) -> bool {
    if !armed() {
        std::thread::sleep(pause);
        return true;
    }
    let until = Instant::now() + pause;
    loop {
        if stop_requested() {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(SLICE));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_check_nothing_is_sliced_or_stopped() {
        assert!(!armed());
        assert!(!stop_requested());
        assert_eq!(
            slice_of(Some(Duration::from_secs(3))),
            Some(Duration::from_secs(3))
        );
        assert_eq!(slice_of(None), None);
    }

    #[test]
    fn a_check_slices_waits_and_its_stop_sticks_for_the_scope_only() {
        let asked = Rc::new(Cell::new(0));
        let counter = Rc::clone(&asked);
        interruptible(
            move || {
                counter.set(counter.get() + 1);
                counter.get() >= 2
            },
            || {
                assert_eq!(slice_of(None), Some(SLICE));
                assert_eq!(
                    slice_of(Some(Duration::from_millis(7))),
                    Some(Duration::from_millis(7))
                );
                assert!(!stop_requested());
                assert!(stop_requested());
                // Stopped: the check is not asked again.
                assert!(stop_requested() && was_stopped());
                let started = Instant::now();
                assert!(!sleep(Duration::from_secs(5)));
                assert!(started.elapsed() < SLICE);
            },
        );
        assert_eq!(asked.get(), 2);
        assert!(!armed() && !was_stopped());
    }

    #[test]
    fn a_sleep_ends_within_a_slice_of_the_stop() {
        let started = Instant::now();
        let slept = interruptible(
            move || started.elapsed() > Duration::from_millis(120),
            || sleep(Duration::from_secs(10)),
        );
        assert!(!slept);
        let took = started.elapsed();
        assert!(took < Duration::from_millis(120) + SLICE * 2, "{took:?}");
    }

    #[test]
    fn scopes_nest_and_the_check_may_call_interruptibly() {
        interruptible(
            || interruptible(|| true, stop_requested),
            || {
                // The outer check ran an inner scope that stopped; the outer one
                // saw its result, and the inner stop did not leak out.
                assert!(stop_requested());
            },
        );
        assert!(!armed());
    }
}
