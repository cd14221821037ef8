//! The login guard as clients share it: one per server for the whole process,
//! and, through a [`GuardStore`], across processes (the CLI's cache file).
//!
//! The rule itself ([`LoginGuard`]: failures, attempts in flight, cool-down) is
//! the protocol crate's; this module only decides which clients share one, and
//! lets threads wait their turn when the attempts in flight use up the budget.
//!
//! Other clients of this process (the async client of `runtel-async`) share the
//! same guards through [`shared_guard`]: a blocking and an async client of one
//! server count their failed logins together.

use std::collections::HashMap;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use runtel_protocol::{
    Error, GuardDecision, HostIdentity, LoginGuard, LoginOutcome, ServerIdentity,
};

/// Keeps a login guard's count where other processes see it, so that many
/// processes started at once (`xargs -P 16`) cannot each send a login that may
/// fail. The client takes the lock before each login attempt, loads the state,
/// sends the `auth`, saves the new state and only then releases the lock: the
/// processes take turns.
pub trait GuardStore: Send + Sync {
    /// Takes the cross-process lock (waiting at most `wait`) and reads the saved
    /// state. The lock is released when the returned value is dropped.
    fn lock(&self, wait: Duration) -> Result<Box<dyn LockedGuardState + '_>, Error>;
}

/// The saved state of a [`GuardStore`] while its lock is held.
pub trait LockedGuardState {
    /// Consecutive failed logins saved by any process.
    fn failures(&self) -> u32;
    /// The end of the current lock-out, if any.
    fn locked_until(&self) -> Option<SystemTime>;
    /// Saves the new state (still under the lock).
    fn save(&mut self, failures: u32, locked_until: Option<SystemTime>) -> Result<(), Error>;
}

/// A [`LoginGuard`] shared by every client of one server in this process (get
/// it with [`shared_guard`]). A login takes a [`Permit`] first
/// ([`SharedGuard::begin`], or [`SharedGuard::try_begin`] for callers that must
/// not block), marks it sent just before the `auth` leaves, and finishes it
/// with the outcome the protocol's `LoginAttempt::finish` names.
#[derive(Debug, Default)]
pub struct SharedGuard {
    state: Mutex<LoginGuard>,
    turn: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in another thread must not disable the guard.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SharedGuard {
    /// Counts a login in flight if one may start now; `Ok(None)` when it must
    /// wait for others to finish (never blocks: for async callers, which then
    /// wait with [`SharedGuard::begin`] on a blocking thread). Refuses with
    /// `auth_lockout` during a lock-out.
    pub fn try_begin(
        self: &Arc<Self>,
        max_failures: u32,
        cooldown: Duration,
    ) -> Result<Option<Permit>, Error> {
        let mut state = lock(&self.state);
        state.set_limits(max_failures, cooldown);
        Ok(match state.try_begin(SystemTime::now())? {
            GuardDecision::Proceed => Some(Permit {
                guard: Arc::clone(self),
                sent: false,
                finished: false,
            }),
            GuardDecision::Wait => None,
        })
    }

    /// Waits (at most `wait`, blocking this thread) until a login may start,
    /// then counts it in flight.
    pub fn begin(
        self: &Arc<Self>,
        max_failures: u32,
        cooldown: Duration,
        wait: Duration,
    ) -> Result<Permit, Error> {
        let deadline = Instant::now() + wait;
        let mut state = lock(&self.state);
        state.set_limits(max_failures, cooldown);
        loop {
            match state.try_begin(SystemTime::now())? {
                GuardDecision::Proceed => {
                    return Ok(Permit {
                        guard: Arc::clone(self),
                        sent: false,
                        finished: false,
                    })
                }
                GuardDecision::Wait => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Error::Timeout(format!(
                            "waited {:.1}s for other logins to this server to finish \
                             (at most {max_failures} may be in flight, so they cannot \
                             all fail and get the host blocked)",
                            wait.as_secs_f64()
                        )));
                    }
                    let slice = crate::interrupt::slice_of(Some(left)).unwrap_or(left);
                    state = self
                        .turn
                        .wait_timeout(state, slice)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                    if crate::interrupt::armed() {
                        // Asked without the lock: the check may run host code.
                        drop(state);
                        if crate::interrupt::stop_requested() {
                            return Err(crate::interrupt::interrupted("User.auth"));
                        }
                        state = lock(&self.state);
                    }
                }
            }
        }
    }

    /// A copy of the state (for tests and status displays).
    pub fn snapshot(&self) -> LoginGuard {
        lock(&self.state).clone()
    }

    fn with_state(state: LoginGuard) -> SharedGuard {
        SharedGuard {
            state: Mutex::new(state),
            turn: Condvar::new(),
        }
    }

    /// What a forked child keeps of this guard: the count, with every attempt
    /// that was in flight in the parent counted as a failure. If the state's
    /// lock was held at the fork (a thread was inside it), the child cannot read
    /// it and starts locked out for the cool-down instead: the safe side.
    fn inherited_state(&self) -> LoginGuard {
        let now = SystemTime::now();
        match self.state.try_lock() {
            Ok(state) => state.after_fork(now),
            Err(_) => {
                let mut g = LoginGuard::default();
                for _ in 0..LoginGuard::DEFAULT_MAX_FAILURES {
                    g.record_refusal(now);
                }
                g
            }
        }
    }
}

/// One login attempt counted in flight. Dropped without [`Permit::finish`] after
/// [`Permit::mark_sent`] (a panic mid-request, an async login cancelled while its
/// `auth` was out), it counts as a failure: fail closed, the server may have
/// counted it. Dropped before `mark_sent`, it counts as never sent.
#[derive(Debug)]
pub struct Permit {
    guard: Arc<SharedGuard>,
    sent: bool,
    finished: bool,
}

impl Permit {
    /// Replaces the count with state another process saved (under its lock), and
    /// refuses at once if that state is locked.
    pub fn load(&mut self, failures: u32, locked_until: Option<SystemTime>) -> Result<(), Error> {
        let mut state = lock(&self.guard.state);
        state.load_state(failures, locked_until);
        // A saved count at the limit without a lock-out (saved by a client with a
        // higher limit, or a damaged file read as the worst case) refuses too.
        state.enforce_limit(SystemTime::now())
    }

    /// The request is about to leave: from now on a lost outcome is a failure.
    pub fn mark_sent(&mut self) {
        self.sent = true;
    }

    /// Records the outcome and wakes the logins waiting for their turn; returns
    /// the state to save for other processes.
    pub fn finish(mut self, outcome: LoginOutcome) -> (u32, Option<SystemTime>) {
        self.finished = true;
        self.record(outcome)
    }

    fn record(&self, outcome: LoginOutcome) -> (u32, Option<SystemTime>) {
        let mut state = lock(&self.guard.state);
        state.finish(outcome, SystemTime::now());
        self.guard.turn.notify_all();
        (state.failures(), state.locked_until())
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.finished {
            let outcome = if self.sent {
                LoginOutcome::Unknown
            } else {
                LoginOutcome::NotSent
            };
            self.record(outcome);
        }
    }
}

/// The process-wide guard of a server, so that making a new client in a loop,
/// or one per thread, cannot get around the lock-out.
///
/// Per process: a forked child gets its own guard, carrying over the parent's
/// count, with the parent's logins in flight counted as failures (fail closed:
/// they may have reached the server, and no thread of the child will finish them).
///
/// The key is a [`ServerIdentity`] with its host name resolved (see
/// [`server_identity`]), as the blocking client keys it.
pub fn shared_guard(server: &ServerIdentity) -> Arc<SharedGuard> {
    type Guards = HashMap<ServerIdentity, (u32, Arc<SharedGuard>)>;
    static GUARDS: OnceLock<Mutex<Guards>> = OnceLock::new();
    let pid = std::process::id();
    let mut map = lock(GUARDS.get_or_init(Default::default));
    let entry = map
        .entry(server.clone())
        .or_insert_with(|| (pid, Arc::default()));
    if entry.0 != pid {
        let inherited = entry.1.inherited_state();
        *entry = (pid, Arc::new(SharedGuard::with_state(inherited)));
    }
    Arc::clone(&entry.1)
}

/// The identity the login guard counts `endpoint` under: scheme, address and
/// port, its host name resolved (waiting at most `wait`; on failure the name
/// itself). Tools that keep their own guard state (the CLI's file) key it so.
pub fn server_identity(endpoint: &runtel_protocol::Endpoint, wait: Duration) -> ServerIdentity {
    resolve_identity(endpoint.server(), wait)
}

/// How long a name's address is trusted for the guard's key.
const RESOLVED_TTL: Duration = Duration::from_secs(300);
/// At most this many names are remembered.
const RESOLVED_CAPACITY: usize = 256;

/// The server with its host name resolved to an address, so that two names of
/// one host share one guard (the Defender blocks by address). Resolution is
/// bounded by `wait`; when it fails or times out (a proxy resolves names for
/// us, say), the name itself is the key.
pub(crate) fn resolve_identity(server: ServerIdentity, wait: Duration) -> ServerIdentity {
    let HostIdentity::Name(name) = &server.host else {
        return server;
    };
    type Cache = HashMap<(String, u32), (IpAddr, Instant)>;
    static RESOLVED: OnceLock<Mutex<Cache>> = OnceLock::new();
    let cache = RESOLVED.get_or_init(Default::default);
    let key = (name.clone(), server.port);
    if let Some((ip, at)) = lock(cache).get(&key) {
        if at.elapsed() < RESOLVED_TTL {
            return server.with_address(*ip);
        }
    }
    let (tx, rx) = mpsc::channel();
    let target = (name.clone(), u16::try_from(server.port).unwrap_or(0));
    // std's resolver has no timeout: a thread that may outlive us bounds it.
    let spawned = std::thread::Builder::new()
        .name("runtel-resolve".into())
        .spawn(move || {
            let lowest = target
                .to_socket_addrs()
                .ok()
                .and_then(|a| a.map(|s| s.ip()).min());
            let _ = tx.send(lowest);
        });
    let resolved = spawned
        .ok()
        .and_then(|_| rx.recv_timeout(wait).ok())
        .flatten();
    match resolved {
        Some(ip) => {
            let mut c = lock(cache);
            if c.len() >= RESOLVED_CAPACITY {
                c.retain(|_, (_, at)| at.elapsed() < RESOLVED_TTL);
                if c.len() >= RESOLVED_CAPACITY {
                    c.clear();
                }
            }
            c.insert(key, (ip, Instant::now()));
            server.with_address(ip)
        }
        None => server,
    }
}
