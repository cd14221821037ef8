//! The `Client`: sessions, single-flight re-login, retries and the login guard,
//! on top of the protocol crate and the ureq transport.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::time::{Duration, Instant, SystemTime};

use runtel_protocol::{
    classify_auth_error, parse_http_date, parse_response, ActionIdGenerator, AuthInfo, Call,
    Endpoint, Error, Expected, HostIdentity, HttpRequest, Limits, LoginOutcome, Redactor, Response,
    Secret, Session, SessionStatus,
};
use serde_json::Value;

use crate::builder::{ClientBuilder, RetryPolicy};
use crate::guard::{resolve_identity, shared_guard, GuardStore, SharedGuard};
use crate::records::Records;
use crate::transport::{SendError, Transport, TransportSettings};

/// A Runtel API client. Cheap to clone (an `Arc` inside); all clones share one
/// session, one connection pool and one login.
///
/// # Thread safety
///
/// `Client` is `Send + Sync`. Any number of threads may call it at once: calls run
/// in parallel over the connection pool; logins are serialized, and when the
/// token expires or is rejected, exactly one thread logs in again while the others
/// wait for it and then use the new token (single flight).
///
/// # Processes
///
/// A client used before a `fork()` (multiprocessing's fork start method,
/// gunicorn `--preload`, celery prefork) keeps working in the child: on its first
/// call there the child drops the connections it inherited (they belong to the
/// parent) without touching them, opens its own, and draws `action_id`s from a
/// new sequence, so no answer meant for one process can reach another. A child
/// never logs out a token that the parent obtained, neither on drop nor on an
/// explicit [`Client::logout`]: that would end the parent's session.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: Endpoint,
    /// The connection pool and `action_id` sequence of the process using them.
    io: RwLock<Arc<ProcessIo>>,
    transport_settings: TransportSettings,
    timeout: Duration,
    limits: Limits,
    credentials: RwLock<Option<(String, Secret)>>,
    session: RwLock<Session>,
    /// The process that obtained the current token; only it may log it out.
    token_pid: AtomicU32,
    /// Held while logging in: the single flight.
    login_lock: Mutex<()>,
    /// The process-wide guard of this server, found at the first login.
    guard: OnceLock<Arc<SharedGuard>>,
    guard_store: Option<Arc<dyn GuardStore>>,
    max_auth_failures: u32,
    lockout_cooldown: Duration,
    retry: RetryPolicy,
    relogin_margin: Duration,
    logout_on_drop: bool,
    warn_plain_http: AtomicBool,
    warned_expiry: AtomicBool,
}

/// What must not cross a `fork()`: pooled sockets and the `action_id` sequence.
struct ProcessIo {
    pid: u32,
    fork_epoch: u64,
    transport: Transport,
    ids: ActionIdGenerator,
}

/// Bumped by [`after_fork_in_child`], for runtimes that know when they forked.
static FORK_EPOCH: AtomicU64 = AtomicU64::new(0);

/// Tells every client that this process is a freshly forked child. Not needed
/// (clients notice a new process id on their own), but runtimes with fork hooks
/// (Python's `os.register_at_fork`) call it so that nothing is reused even if a
/// process id comes back.
pub fn after_fork_in_child() {
    FORK_EPOCH.fetch_add(1, Ordering::SeqCst);
}

/// An `action_id` sequence unique to this process: the prefix mixes the process
/// id into a random value, because a forked child inherits the parent's
/// random state and would otherwise repeat the parent's ids.
fn process_ids(pid: u32) -> ActionIdGenerator {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(pid);
    h.write_u64(FORK_EPOCH.load(Ordering::SeqCst));
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    ActionIdGenerator::with_prefix(format!("rt{pid:x}{:06x}", h.finish() as u32 & 0xff_ffff))
}

/// Params as JSON: `()` and `None` are no params; anything else must serialize
/// to an object (checked by [`Call::new`]).
fn params_value(params: impl serde::Serialize) -> Result<Value, Error> {
    serde_json::to_value(params)
        .map_err(|e| Error::InvalidInput(format!("params cannot be sent as JSON: {e}")))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in another thread must not make the client unusable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let session = self.inner.session.read().unwrap_or_else(|e| e.into_inner());
        f.debug_struct("Client")
            .field("endpoint", &self.inner.endpoint.url())
            .field("status", &session.status(SystemTime::now()))
            .field("user", &session.auth_info().map(|i| i.user_login.clone()))
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `base_url` with default settings and no stored credentials.
    pub fn new(base_url: &str) -> Result<Client, Error> {
        Client::builder(base_url).build()
    }

    /// A builder for all the settings.
    pub fn builder(base_url: &str) -> ClientBuilder {
        ClientBuilder::new(base_url)
    }

    pub(crate) fn from_parts(
        b: ClientBuilder,
        endpoint: Endpoint,
        transport: Transport,
        transport_settings: TransportSettings,
    ) -> Client {
        let pid = std::process::id();
        Client {
            inner: Arc::new(Inner {
                io: RwLock::new(Arc::new(ProcessIo {
                    pid,
                    fork_epoch: FORK_EPOCH.load(Ordering::SeqCst),
                    transport,
                    ids: process_ids(pid),
                })),
                transport_settings,
                timeout: b.timeout,
                limits: b.limits,
                credentials: RwLock::new(b.credentials),
                session: RwLock::new(Session::new()),
                token_pid: AtomicU32::new(pid),
                login_lock: Mutex::new(()),
                guard: OnceLock::new(),
                guard_store: b.guard_store,
                max_auth_failures: b.max_auth_failures,
                lockout_cooldown: b.lockout_cooldown,
                retry: b.retry,
                relogin_margin: b.relogin_margin,
                logout_on_drop: b.logout_on_drop,
                warn_plain_http: AtomicBool::new(b.warn_plain_http),
                warned_expiry: AtomicBool::new(false),
                endpoint,
            }),
        }
    }

    /// The login guard's state for this client's server in this process:
    /// consecutive failures, attempts in flight, end of the lock-out.
    pub fn login_guard_state(&self) -> runtel_protocol::LoginGuard {
        self.inner.guard().snapshot()
    }

    /// The endpoint URL (`{base}/api/`).
    pub fn endpoint_url(&self) -> &str {
        self.inner.endpoint.url()
    }

    /// Logs in with these credentials and remembers them, so an expired or
    /// rejected token is renewed automatically later. A refused login is never
    /// retried; after `max_auth_failures` refusals in a row for this server, logins
    /// are refused locally (`auth_lockout`) for the cool-down.
    pub fn login(&self, login: &str, password: &str) -> Result<AuthInfo, Error> {
        let password = Secret::new(password);
        let _flight = lock(&self.inner.login_lock);
        let info = self.inner.login_now(login, &password)?;
        *self
            .inner
            .credentials
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some((login.to_owned(), password));
        Ok(info)
    }

    /// Ends the token on the server and forgets it. Stored credentials are kept: a
    /// later call logs in again. Without a token this does nothing.
    pub fn logout(&self) -> Result<(), Error> {
        self.inner.logout(None)
    }

    /// The auth info of the current login, if logged in (also once expired).
    pub fn auth_info(&self) -> Option<AuthInfo> {
        self.inner.read_session().auth_info().cloned()
    }

    /// Where the session stands now.
    pub fn session_status(&self) -> SessionStatus {
        self.inner.read_session().status(SystemTime::now())
    }

    /// Uses a login saved earlier (the CLI's token cache) instead of logging in.
    /// If the server rejects the token, stored credentials (if any) log in again.
    pub fn restore_session(&self, info: AuthInfo, expires_at: SystemTime) {
        let _flight = lock(&self.inner.login_lock);
        self.inner.write_session().restore(info, expires_at);
        self.inner
            .token_pid
            .store(std::process::id(), Ordering::SeqCst);
    }

    /// Counts logins and restores; it changes whenever the token does, so a caller
    /// can tell whether a call logged in (and a cached token should be saved).
    pub fn session_generation(&self) -> u64 {
        self.inner.read_session().generation()
    }

    /// When the token expires, on the local clock (skew-corrected).
    pub fn token_expires_at(&self) -> Option<SystemTime> {
        self.inner.read_session().expires_at()
    }

    /// Sends one call and returns the whole answer envelope once `code == 200` and
    /// the `action_id` echo are checked. With stored credentials it logs in first
    /// when needed; reads are retried on connection errors and 502/503/504.
    ///
    /// `params` is anything that serializes to a JSON object: `json!({"id": 5})`,
    /// a struct of your own, or `()` for none.
    ///
    /// ```no_run
    /// # let client = runtel_client::Client::new("https://pbx.example")?;
    /// let users = client.call("User", "list", ())?;
    /// let one = client.call("User", "get", serde_json::json!({"id": 5}))?;
    /// # Ok::<(), runtel_client::Error>(())
    /// ```
    pub fn call(
        &self,
        obj: &str,
        action: &str,
        params: impl serde::Serialize,
    ) -> Result<Response, Error> {
        self.call_with(&Call::new(obj, action, params_value(params)?)?)
    }

    /// Like [`Client::call`] for a prepared [`Call`] (with `limit`, `offset`, `filter`).
    pub fn call_with(&self, call: &Call) -> Result<Response, Error> {
        self.call_decoded(call, &ResponseDecoder)
    }

    /// Like [`Client::call_with`], decoding the answer with `decoder`.
    pub fn call_decoded<D: Decoder>(&self, call: &Call, decoder: &D) -> Result<D::Output, Error> {
        if call.is_auth() {
            return Err(Error::InvalidInput(
                "use login() for the auth action, so the password stays masked".into(),
            ));
        }
        self.inner.call(call, decoder)
    }

    /// Iterates over every record of a list action, page by page (`limit`/`offset`),
    /// holding one page in memory. See [`Records`] for filters and resuming.
    /// `params` as for [`Client::call`].
    pub fn records(
        &self,
        obj: &str,
        params: impl serde::Serialize,
        page_size: u64,
    ) -> Result<Records, Error> {
        Records::new(self.clone(), obj, params_value(params)?, page_size)
    }
}

/// Turns an answer's HTTP status and body into a value or a typed error.
/// [`Response`] (through [`parse_response`]) is the default; a front end may decode
/// straight into its own objects, as the Python module does, provided it applies
/// [`runtel_protocol::is_success_envelope`] and falls back to [`parse_response`] for
/// the exact error. Retries, re-login and logging stay the client's.
pub trait Decoder: Sync {
    /// What a successful answer becomes.
    type Output: Send;
    /// Decodes one answer.
    fn decode(
        &self,
        expected: Expected<'_>,
        status: u16,
        body: Vec<u8>,
        limits: &Limits,
    ) -> Result<Self::Output, Error>;
}

/// The default decoder: a [`Response`] holding the whole envelope.
pub struct ResponseDecoder;

impl Decoder for ResponseDecoder {
    type Output = Response;
    fn decode(
        &self,
        expected: Expected<'_>,
        status: u16,
        body: Vec<u8>,
        limits: &Limits,
    ) -> Result<Response, Error> {
        parse_response(expected, status, &body, limits)
    }
}

enum Attempt<T> {
    Done(Result<T, Error>),
    /// The token was rejected (401) while this login generation was in use.
    TokenRejected(u64, Error),
}

impl Inner {
    fn read_session(&self) -> std::sync::RwLockReadGuard<'_, Session> {
        self.session.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_session(&self) -> std::sync::RwLockWriteGuard<'_, Session> {
        self.session.write().unwrap_or_else(|e| e.into_inner())
    }

    fn credentials(&self) -> Option<(String, Secret)> {
        self.credentials
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The connection pool and id sequence of this process: after a fork, the
    /// child replaces what it inherited before its first exchange.
    fn io(&self) -> Arc<ProcessIo> {
        let pid = std::process::id();
        let epoch = FORK_EPOCH.load(Ordering::SeqCst);
        {
            let io = self.io.read().unwrap_or_else(|e| e.into_inner());
            if io.pid == pid && io.fork_epoch == epoch {
                return Arc::clone(&io);
            }
        }
        let mut io = self.io.write().unwrap_or_else(|e| e.into_inner());
        if io.pid != pid || io.fork_epoch != epoch {
            let transport = match Transport::new(self.transport_settings.clone()) {
                Ok(t) => t,
                // The settings were accepted once; keep the old pool rather than fail.
                Err(_) => return Arc::clone(&io),
            };
            let fresh = Arc::new(ProcessIo {
                pid,
                fork_epoch: epoch,
                transport,
                ids: process_ids(pid),
            });
            let inherited = std::mem::replace(&mut *io, fresh);
            // The inherited sockets are the parent's connections: closing them
            // politely (a TLS close_notify) would write into the parent's stream.
            // Keep them, untouched, for the life of the process (once per fork).
            static INHERITED: Mutex<Vec<Arc<ProcessIo>>> = Mutex::new(Vec::new());
            lock(&INHERITED).push(inherited);
            log::debug!("runtel: new process {pid}: fresh connection pool and action_id sequence");
        }
        Arc::clone(&io)
    }

    /// This server's process-wide guard (its name resolved to an address once).
    fn guard(&self) -> &Arc<SharedGuard> {
        self.guard.get_or_init(|| {
            let server = resolve_identity(
                self.endpoint.server(),
                self.transport_settings.connect_timeout,
            );
            shared_guard(&server)
        })
    }

    /// Sends `auth`; the caller holds the login lock.
    fn login_now(&self, login: &str, password: &Secret) -> Result<AuthInfo, Error> {
        let mut permit =
            self.guard()
                .begin(self.max_auth_failures, self.lockout_cooldown, self.timeout)?;
        let mut store_lock = match &self.guard_store {
            Some(store) => {
                let locked = store.lock(self.timeout)?;
                permit.load(locked.failures(), locked.locked_until())?;
                Some(locked)
            }
            None => None,
        };
        self.warn_if_plain_http();
        let io = self.io();
        let request = Session::auth_request(&self.endpoint, io.ids.next_id(), login, password)?;
        let started = Instant::now();
        permit.mark_sent();
        // Never retried: a refused or lost auth counts against the Defender's limit.
        let mut not_sent = false;
        let result = io
            .transport
            .send(&request, None)
            .map_err(|e| {
                not_sent = e.not_sent;
                e.error
            })
            .and_then(|raw| {
                let parsed = parse_response(
                    Expected::from(&request),
                    raw.status,
                    &raw.body,
                    &self.limits,
                )
                .map_err(classify_auth_error);
                parsed.map(|resp| (resp, raw.date))
            });
        // Fail closed: only a clean acceptance or a request that never left is
        // not a failure; a timeout or a dropped answer may have been counted.
        let outcome = match &result {
            Ok(_) => LoginOutcome::Accepted,
            Err(Error::Auth(_)) => LoginOutcome::Refused,
            Err(_) if not_sent => LoginOutcome::NotSent,
            Err(_) => LoginOutcome::Unknown,
        };
        let (failures, locked_until) = permit.finish(outcome);
        if let Some(locked) = &mut store_lock {
            if let Err(e) = locked.save(failures, locked_until) {
                log::warn!("runtel: could not save the login guard: {e}");
            }
        }
        drop(store_lock);
        let (resp, date) = match result {
            Ok(v) => v,
            Err(mut e) => {
                e.redact(&Redactor::new(request.secrets()));
                log::warn!(
                    "runtel auth action_id={} login failed: kind={} after {} ms ({} failed in a row for this server)",
                    request.action_id,
                    e.kind(),
                    started.elapsed().as_millis(),
                    failures
                );
                return Err(e);
            }
        };
        let now = SystemTime::now();
        let info = {
            let mut session = self.write_session();
            let info =
                session.accept_login(&resp, date.as_deref().and_then(parse_http_date), now)?;
            if session.expiry_unknown() && !self.warned_expiry.swap(true, Ordering::Relaxed) {
                log::warn!(
                    "runtel: the server's token expiry (exp {}) was already past when the \
                     token arrived (a clock or time-zone mix-up on the server); using the \
                     token until the server rejects it",
                    info.exp
                );
            }
            info
        };
        self.token_pid.store(std::process::id(), Ordering::SeqCst);
        log::info!(
            "runtel auth action_id={} logged in user_id={} role_type={} in {} ms",
            request.action_id,
            info.user_id,
            info.role_type,
            started.elapsed().as_millis()
        );
        Ok(info)
    }

    /// Warns once per client before a password goes over plain HTTP to a host
    /// that is not this machine.
    fn warn_if_plain_http(&self) {
        if self.endpoint.is_https() || !self.warn_plain_http.swap(false, Ordering::Relaxed) {
            return;
        }
        let server = self.endpoint.server();
        let loopback = matches!(server.host, HostIdentity::Ip(ip) if ip.is_loopback());
        if !loopback {
            log::warn!(
                "runtel: sending the password and token in clear text over http:// to {server}; \
                 use https:// (or turn this warning off with the warn_plain_http setting)"
            );
        }
    }

    /// Logs in again unless another thread already did since `seen_generation`.
    fn relogin(&self, seen_generation: u64) -> Result<(), Error> {
        let _flight = lock(&self.login_lock);
        {
            let s = self.read_session();
            if s.generation() != seen_generation
                && !s.needs_login(SystemTime::now(), Duration::ZERO)
            {
                return Ok(());
            }
        }
        let Some((login, password)) = self.credentials() else {
            return Err(Error::NotAuthenticated(
                "no valid token and no stored credentials".into(),
            ));
        };
        self.login_now(&login, &password).map(|_| ())
    }

    fn call<D: Decoder>(&self, call: &Call, decoder: &D) -> Result<D::Output, Error> {
        let has_credentials = self.credentials().is_some();
        // Log in lazily, or renew a token that is about to expire.
        let (needs, generation) = {
            let s = self.read_session();
            (
                s.needs_login(SystemTime::now(), self.relogin_margin),
                s.generation(),
            )
        };
        if needs && has_credentials {
            self.relogin(generation)?;
        }
        match self.attempt(call, decoder) {
            Attempt::Done(r) => r,
            Attempt::TokenRejected(generation, err) => {
                if self.credentials().is_none() {
                    return Err(Error::NotAuthenticated(format!(
                        "the server rejected the token ({err}); log in again"
                    )));
                }
                self.write_session_reject(generation);
                self.relogin(generation)?;
                // One replay with the new token; a second 401 is reported as it is.
                match self.attempt(call, decoder) {
                    Attempt::Done(r) => r,
                    Attempt::TokenRejected(_, err) => Err(err),
                }
            }
        }
    }

    fn write_session_reject(&self, generation: u64) {
        let mut s = self.write_session();
        if s.generation() == generation {
            s.mark_rejected();
        }
    }

    /// One call with retries for reads; a 401 is handed back to the caller.
    fn attempt<D: Decoder>(&self, call: &Call, decoder: &D) -> Attempt<D::Output> {
        let io = self.io();
        let (request, generation) = {
            let s = self.read_session();
            match s.request(&self.endpoint, call, io.ids.next_id(), SystemTime::now()) {
                Ok(r) => (r, s.generation()),
                Err(e) => return Attempt::Done(Err(e)),
            }
        };
        let mut retries_left = if request.idempotent {
            self.retry.max_retries
        } else {
            0
        };
        let mut delay = self.retry.base_delay;
        loop {
            let started = Instant::now();
            let outcome = io.transport.send(&request, None);
            let (mut result, retryable) = match outcome {
                Ok(raw) => {
                    let retryable_status = matches!(raw.status, 502..=504);
                    let decoded = decoder.decode(
                        Expected::from(&request),
                        raw.status,
                        raw.body,
                        &self.limits,
                    );
                    (decoded, retryable_status)
                }
                Err(SendError {
                    error, retryable, ..
                }) => (Err(error), retryable),
            };
            if let Err(e) = &mut result {
                // A proxy or a transport may quote what it was sent.
                e.redact(&Redactor::new(request.secrets()));
            }
            log_call(&request, result.as_ref().map(|_| ()), started);
            match result {
                Err(e) if retryable && retries_left > 0 => {
                    retries_left -= 1;
                    let pause = jitter(delay.min(self.retry.max_delay));
                    log::debug!(
                        "runtel {}.{} action_id={} retrying in {} ms after: {e}",
                        request.obj,
                        request.action,
                        request.action_id,
                        pause.as_millis()
                    );
                    std::thread::sleep(pause);
                    delay = delay.saturating_mul(2);
                }
                Err(e) if is_token_rejection(&e) => return Attempt::TokenRejected(generation, e),
                other => return Attempt::Done(other),
            }
        }
    }

    fn logout(&self, timeout: Option<Duration>) -> Result<(), Error> {
        let _flight = lock(&self.login_lock);
        if self.token_pid.load(Ordering::SeqCst) != std::process::id() {
            // A forked child: the token is the parent's, and ending it on the
            // server would end the parent's session. Forget it here only.
            if self.read_session().token().is_some() {
                log::debug!("runtel: not logging out the parent process's token from a child");
            }
            self.write_session().mark_logged_out();
            return Ok(());
        }
        let io = self.io();
        let request = {
            let s = self.read_session();
            let Some(token) = s.token() else {
                return Ok(());
            };
            let call = Call::new("User", "logout", Value::Object(Default::default()))?;
            call.to_http(&self.endpoint, io.ids.next_id(), Some(token))
        };
        let started = Instant::now();
        let result = io
            .transport
            .send(&request, timeout)
            .map_err(|e| e.error)
            .and_then(|raw| {
                parse_response(
                    Expected::from(&request),
                    raw.status,
                    &raw.body,
                    &self.limits,
                )
            });
        log_call(&request, result.as_ref().map(|_| ()), started);
        // The token is gone for us whatever the server said.
        self.write_session().mark_logged_out();
        match result {
            Ok(_) => Ok(()),
            // Already expired or revoked on the server: logged out all the same.
            Err(e) if is_token_rejection(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if !self.logout_on_drop {
            return;
        }
        let holds_token = matches!(
            self.read_session().status(SystemTime::now()),
            SessionStatus::Authenticated
        ) && self.token_pid.load(Ordering::SeqCst) == std::process::id();
        if holds_token {
            // Best effort and bounded: a dead server must not stall the program's exit.
            if let Err(e) = self.logout(Some(Duration::from_secs(2))) {
                log::debug!("runtel logout on drop failed: {e}");
            }
        }
    }
}

fn is_token_rejection(e: &Error) -> bool {
    match e {
        Error::Api(info) => {
            info.code == Some(401) || (info.code.is_none() && info.http_status == 401)
        }
        _ => false,
    }
}

fn log_call(request: &HttpRequest, result: Result<(), &Error>, started: Instant) {
    let ms = started.elapsed().as_millis();
    match result {
        Ok(()) => log::debug!(
            "runtel {}.{} action_id={} code=200 {} ms",
            request.obj,
            request.action,
            request.action_id,
            ms
        ),
        Err(e) => log::info!(
            "runtel {}.{} action_id={} failed kind={} code={:?} http={:?} {} ms: {e}",
            request.obj,
            request.action,
            request.action_id,
            e.kind(),
            e.api_code(),
            e.http_status(),
            ms
        ),
    }
}

/// A random duration in `[d/2, d]` ("equal jitter"), so retrying clients spread out.
fn jitter(d: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    let frac = (h.finish() >> 11) as f64 / (1u64 << 53) as f64;
    d.mul_f64(0.5 + 0.5 * frac)
}

/// Compile-time proof of the thread-safety contract.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Client>();
};
