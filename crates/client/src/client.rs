//! The `Client`: the protocol's call policy carried out over the ureq transport,
//! with what a policy cannot do itself: the single-flight lock around logins, the
//! login guard shared by threads, the connection pool of each process.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::time::{Duration, Instant, SystemTime};

use runtel_protocol::{
    is_token_rejection, parse_page, parse_response, ActionIdGenerator, AuthInfo, Call, CallPolicy,
    CallStep, Endpoint, Error, Expected, HttpRequest, Limits, ListCheck, LoginAttempt, Page,
    PolicyOptions, RawAnswer, Redactor, Response, Secret, Session, SessionStatus, TransportFailure,
};
use serde_json::Value;

use crate::builder::ClientBuilder;
use crate::exchange::{Exchange, ExchangeObserver};
use crate::fork::{process_marker, ProcessMarker};
use crate::guard::{resolve_identity, shared_guard, GuardStore, SharedGuard};
use crate::interrupt;
use crate::options::ClientOptions;
use crate::records::{PagedRecord, Records, RecordsPage, ValuePageDecoder};
use crate::support::{self, jitter_seed, log_call, params_value, LoginNotes};
use crate::transport::{Transport, TransportSettings};
use crate::typed::{Keyed, KeyedPageDecoder};

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
/// new sequence, so no answer meant for one process can reach another. It goes
/// on with a copy of the parent's token (or logs in itself if a thread of the
/// parent was changing it at the fork). A child never logs out a token that the
/// parent obtained, neither on drop nor on an explicit [`Client::logout`]: that
/// would end the parent's session. None of this waits for a lock that a thread
/// of the parent may have held at the fork.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: Endpoint,
    /// The connection pool and `action_id` sequence of the process that made
    /// the client; a forked child's are chained to it (see [`Inner::io`]).
    io: Arc<ProcessIo>,
    transport_settings: TransportSettings,
    timeout: Duration,
    limits: Limits,
    credentials: RwLock<Option<(String, Secret)>>,
    guard_store: Option<Arc<dyn GuardStore>>,
    max_auth_failures: u32,
    lockout_cooldown: Duration,
    policy: PolicyOptions,
    logout_on_drop: bool,
    warn_plain_http: AtomicBool,
    warned_expiry: AtomicBool,
    /// Told of every exchange ([`ClientBuilder::on_exchange`]).
    on_exchange: Option<ExchangeObserver>,
}

/// What must not cross a `fork()`: pooled sockets, the `action_id` sequence,
/// the login lock and the session's lock (each process has its own).
struct ProcessIo {
    /// The process this belongs to.
    owner: ProcessMarker,
    transport: Transport,
    ids: ActionIdGenerator,
    /// Held while logging in: the single flight. Per process, because a fork
    /// while another thread logs in would leave the child a lock nobody releases.
    login_lock: Arc<Mutex<()>>,
    /// The process-wide guard of this server, found at the first login.
    guard: OnceLock<Arc<SharedGuard>>,
    /// The token and what came with it. Per process too: a thread of the
    /// parent reading or changing it at a fork would leave the lock held in
    /// the child for ever. A child starts from a copy of its parent's.
    session: RwLock<Session>,
    /// The session's token was obtained (or restored) by this process, which
    /// alone may log it out: a child's copy of its parent's token is not its own.
    token_is_ours: AtomicBool,
    /// The next process's own: set once, by a forked child (descendant) of
    /// this process at its first exchange; `None` if no pool could be made.
    successor: OnceLock<Option<Arc<ProcessIo>>>,
}

impl ProcessIo {
    /// The pool and ids of the process `marker` names (its
    /// [`process_marker`]).
    fn new(transport: Transport, marker: ProcessMarker, session: Session) -> ProcessIo {
        ProcessIo {
            session: RwLock::new(session),
            token_is_ours: AtomicBool::new(false),
            owner: marker,
            transport,
            ids: process_ids(marker),
            login_lock: Arc::default(),
            guard: OnceLock::new(),
            successor: OnceLock::new(),
        }
    }

    fn is_of(&self, marker: ProcessMarker) -> bool {
        self.owner == marker
    }

    fn read_session(&self) -> std::sync::RwLockReadGuard<'_, Session> {
        self.session.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_session(&self) -> std::sync::RwLockWriteGuard<'_, Session> {
        self.session.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// An `action_id` sequence unique to this process: the prefix mixes the process
/// id into a random value, because a forked child inherits the parent's
/// random state and would otherwise repeat the parent's ids.
fn process_ids(ProcessMarker { pid, fork_epoch }: ProcessMarker) -> ActionIdGenerator {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(pid);
    h.write_u64(fork_epoch);
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    ActionIdGenerator::with_prefix(format!("rt{pid:x}{:06x}", h.finish() as u32 & 0xff_ffff))
}

thread_local! {
    /// The login locks (by address) this thread holds.
    static FLIGHTS_HELD: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A client's login lock (one login, logout or re-login at a time), held.
///
/// A stop check (see [`crate::interruptible`]) runs host code while this thread
/// may be logging in; if that code calls the same client and needs the lock,
/// waiting would be waiting for itself: it is refused at once instead.
struct Flight<'a> {
    _guard: MutexGuard<'a, ()>,
    id: usize,
}

impl<'a> Flight<'a> {
    fn take(lock: &'a Mutex<()>, limit: Duration) -> Result<Flight<'a>, Error> {
        let id = std::ptr::from_ref(lock) as usize;
        if FLIGHTS_HELD.with(|h| h.borrow().contains(&id)) {
            return Err(Error::NotAuthenticated(
                "a login of this client is in progress on this thread (this call came \
                 from a stop check or signal handler running inside it)"
                    .into(),
            ));
        }
        let guard = interrupt::lock(lock, "User.auth", limit)?;
        FLIGHTS_HELD.with(|h| h.borrow_mut().push(id));
        Ok(Flight { _guard: guard, id })
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        FLIGHTS_HELD.with(|h| h.borrow_mut().retain(|&held| held != self.id));
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in another thread must not make the client unusable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let io = self.inner.io();
        let session = io.read_session();
        f.debug_struct("Client")
            .field("endpoint", &self.inner.endpoint.url())
            .field("status", &session.status(SystemTime::now()))
            .field("user", &session.auth_info().map(|i| i.user_login.clone()))
            .finish_non_exhaustive()
    }
}

impl Client {
    /// The limits answers are read with.
    pub(crate) fn limits(&self) -> &Limits {
        &self.inner.limits
    }

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
        let limits = b.limits();
        let o = &b.options;
        let credentials = match (&o.login, &o.password) {
            (Some(l), Some(p)) => Some((l.clone(), p.clone())),
            _ => None,
        };
        Client {
            inner: Arc::new(Inner {
                io: Arc::new(ProcessIo::new(transport, process_marker(), Session::new())),
                transport_settings,
                timeout: o.timeout,
                limits,
                credentials: RwLock::new(credentials),
                max_auth_failures: o.max_auth_failures,
                lockout_cooldown: o.auth_lockout_cooldown,
                policy: PolicyOptions {
                    retry: o.retry_policy(),
                    relogin_margin: o.relogin_margin,
                },
                logout_on_drop: o.logout_on_drop,
                warn_plain_http: AtomicBool::new(o.warn_plain_http),
                warned_expiry: AtomicBool::new(false),
                guard_store: b.guard_store,
                on_exchange: b.on_exchange,
                endpoint,
            }),
        }
    }

    /// A client for `base_url` with these options (the form every front end fills).
    pub fn with_options(base_url: &str, options: ClientOptions) -> Result<Client, Error> {
        Client::builder(base_url).options(options).build()
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
        let flight = self.inner.login_lock();
        let _flight = Flight::take(&flight, self.inner.timeout)?;
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
        self.inner.io().read_session().auth_info().cloned()
    }

    /// Where the session stands now.
    pub fn session_status(&self) -> SessionStatus {
        self.inner.io().read_session().status(SystemTime::now())
    }

    /// Uses a login saved earlier (the CLI's token cache) instead of logging in.
    /// If the server rejects the token, stored credentials (if any) log in again.
    pub fn restore_session(&self, info: AuthInfo, expires_at: SystemTime) {
        let flight = self.inner.login_lock();
        let _flight = lock(&flight);
        let io = self.inner.io();
        io.write_session().restore(info, expires_at);
        io.token_is_ours.store(true, Ordering::SeqCst);
    }

    /// Counts logins and restores; it changes whenever the token does, so a caller
    /// can tell whether a call logged in (and a cached token should be saved).
    pub fn session_generation(&self) -> u64 {
        self.inner.io().read_session().generation()
    }

    /// When the token expires, on the local clock (skew-corrected).
    pub fn token_expires_at(&self) -> Option<SystemTime> {
        self.inner.io().read_session().expires_at()
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
    pub fn call_decoded<D: Decoder + ?Sized>(
        &self,
        call: &Call,
        decoder: &D,
    ) -> Result<D::Output, Error> {
        if call.is_auth() {
            return Err(Error::InvalidInput(
                "use login() for the auth action, so the password stays masked".into(),
            ));
        }
        self.inner.call(call, decoder)
    }

    /// Like [`Client::call_with`] for a list action, its records deserialized
    /// straight from the answer's bytes into `T` (no `serde_json::Value` in
    /// between). A record that does not fit `T` is a `protocol` error naming its
    /// path (`$.list[3].duration`).
    ///
    /// ```no_run
    /// # let client = runtel_client::Client::new("https://pbx.example")?;
    /// use runtel_client::{Call, DomainCdr};
    /// let page = client.call_as::<DomainCdr>(&Call::new("DomainCDR", "list", serde_json::json!({}))?.limit(100))?;
    /// println!("{} of {:?}", page.records.len(), page.total_count());
    /// # Ok::<(), runtel_client::Error>(())
    /// ```
    pub fn call_as<T: serde::de::DeserializeOwned + Send>(
        &self,
        call: &Call,
    ) -> Result<Page<T>, Error> {
        self.call_decoded(call, &PageDecoder::<T>::new())
    }

    /// Iterates over every record of a list action, page by page (`limit`/`offset`),
    /// holding at most two pages in memory (the one read and the next, fetched
    /// ahead). See [`Records`] for filters, resuming and turning prefetch off.
    /// `params` as for [`Client::call`].
    pub fn records(
        &self,
        obj: &str,
        params: impl serde::Serialize,
        page_size: u64,
    ) -> Result<Records, Error> {
        self.records_decoded(obj, params, page_size, ValuePageDecoder)
    }

    /// Like [`Client::records`], each record deserialized straight from the
    /// answer's bytes into `T` (no `serde_json::Value` in between), with the
    /// same paging rules: repeats across a page boundary are dropped and
    /// [`Records::consistent`] pages by key, both by the records' `id` (read
    /// from the JSON whether or not `T` has the field). A record that does not
    /// fit `T` fails its whole page: a `protocol` error naming the record's
    /// path in that page (`$.list[3].duration`), yielded where the page would
    /// start; the list ends there.
    ///
    /// ```no_run
    /// # let client = runtel_client::Client::new("https://pbx.example")?;
    /// use runtel_client::DomainCdr;
    /// for cdr in client.records_as::<DomainCdr>("DomainCDR", (), 1000)? {
    ///     let cdr = cdr?;
    ///     println!("{:?} -> {:?}", cdr.src, cdr.dst);
    /// }
    /// # Ok::<(), runtel_client::Error>(())
    /// ```
    pub fn records_as<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        obj: &str,
        params: impl serde::Serialize,
        page_size: u64,
    ) -> Result<Records<Keyed<T>>, Error> {
        self.records_decoded(obj, params, page_size, KeyedPageDecoder::<T>::new())
    }

    /// Like [`Client::records`], each page decoded by `decoder` into records
    /// of the front end's own type (how the Python module pages dicts). The
    /// decoder must apply [`runtel_protocol::is_success_envelope`] as
    /// [`Decoder`] says; paging, prefetch and retries stay the client's.
    pub fn records_decoded<R, D>(
        &self,
        obj: &str,
        params: impl serde::Serialize,
        page_size: u64,
        decoder: D,
    ) -> Result<Records<R>, Error>
    where
        R: PagedRecord + Send + 'static,
        D: Decoder<Output = RecordsPage<R>> + Send + Sync + 'static,
    {
        Records::new(
            self.clone(),
            obj,
            params_value(params)?,
            page_size,
            Arc::new(decoder),
        )
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

    /// Decodes a list answer that was already checked (a page fetched ahead):
    /// `check` is [`runtel_protocol::check_list_answer`] of exactly this
    /// `expected`, `status`, `body` and `limits`, so a decoder may use what it
    /// found (where each record is: [`ListCheck::spans`], byte ranges of
    /// `body`) instead of finding it again. The result must be what
    /// [`Decoder::decode`] gives for the same answer (the client calls one or
    /// the other depending on how the page was fetched); a decoder wrapping
    /// another should forward this method, or the inner one loses its fast
    /// path. By default, [`Decoder::decode`].
    fn decode_checked(
        &self,
        expected: Expected<'_>,
        status: u16,
        body: Vec<u8>,
        limits: &Limits,
        check: &ListCheck,
    ) -> Result<Self::Output, Error> {
        let _ = check;
        self.decode(expected, status, body, limits)
    }
}

/// The default decoder: a [`Response`] holding the whole envelope.
#[derive(Debug, Clone, Copy, Default)]
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

/// Decodes a list answer into a typed [`Page`] (see [`Client::call_as`]).
pub struct PageDecoder<T>(std::marker::PhantomData<fn() -> T>);

impl<T> PageDecoder<T> {
    /// A decoder into records of type `T`.
    pub fn new() -> Self {
        PageDecoder(std::marker::PhantomData)
    }
}

impl<T> Default for PageDecoder<T> {
    fn default() -> Self {
        PageDecoder::new()
    }
}

impl<T> std::fmt::Debug for PageDecoder<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PageDecoder<{}>", std::any::type_name::<T>())
    }
}

impl<T: serde::de::DeserializeOwned + Send> Decoder for PageDecoder<T> {
    type Output = Page<T>;
    fn decode(
        &self,
        expected: Expected<'_>,
        status: u16,
        body: Vec<u8>,
        limits: &Limits,
    ) -> Result<Page<T>, Error> {
        parse_page(expected, status, &body, limits)
    }
}

impl Inner {
    /// Whether the client may log in by itself (without copying the password).
    fn has_credentials(&self) -> bool {
        self.credentials
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    fn credentials(&self) -> Option<(String, Secret)> {
        self.credentials
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The connection pool and id sequence of this process: after a fork, the
    /// child makes its own before its first exchange. Lock-free on purpose: a
    /// lock some thread of the parent held at the fork would stay held in the
    /// child for ever. Each process walks the chain its ancestors left to its
    /// own entry (one per fork), making it if it is not there yet.
    fn io(&self) -> Arc<ProcessIo> {
        let me = process_marker();
        let mut io = &self.io;
        let mut made = false;
        while !io.is_of(me) {
            // Nothing in here waits for a host lock (no logging): a thread
            // inside it at a fork would leave the child's walk blocked here.
            let next = io.successor.get_or_init(|| {
                let transport = Transport::new(self.transport_settings.clone()).ok()?;
                // The token goes on in the child; if a thread of the parent was
                // changing the session at the fork, the child logs in itself.
                let session = io.session.try_read().map(|s| s.clone()).unwrap_or_default();
                made = true;
                Some(Arc::new(ProcessIo::new(transport, me, session)))
            });
            match next {
                Some(next) => io = next,
                // The settings were accepted once; keep the old pool rather than fail.
                None => break,
            }
        }
        if made {
            log::debug!(
                "new process {}: fresh connection pool and action_id sequence",
                me.pid
            );
        }
        Arc::clone(io)
    }

    /// Sends `request` on this process's pool and tells the exchange observer.
    fn send(
        &self,
        io: &ProcessIo,
        request: &HttpRequest,
        timeout: Option<Duration>,
    ) -> Result<RawAnswer, TransportFailure> {
        let started = Instant::now();
        let mut sent = io.transport.send(request, timeout);
        if let Err(failure) = &mut sent {
            // A proxy or a transport may quote what it was sent.
            failure.error.redact(&Redactor::new(request.secrets()));
        }
        if let Some(observe) = &self.on_exchange {
            let answer = match &sent {
                Ok(raw) => Ok((raw.status, raw.body.as_slice())),
                Err(failure) => Err(&failure.error),
            };
            observe(&Exchange::new(request, answer, started.elapsed()));
        }
        sent
    }

    /// This server's process-wide guard (its name resolved to an address once).
    fn guard(&self) -> Arc<SharedGuard> {
        let io = self.io();
        let guard = io.guard.get_or_init(|| {
            let server = resolve_identity(
                self.endpoint.server(),
                self.transport_settings.connect_timeout,
            );
            shared_guard(&server)
        });
        Arc::clone(guard)
    }

    /// The single-flight lock of this process (see [`ProcessIo::login_lock`]).
    fn login_lock(&self) -> Arc<Mutex<()>> {
        Arc::clone(&self.io().login_lock)
    }

    /// Sends `auth`; the caller holds the login lock. What the outcome means
    /// (for the session and the guard) is the protocol's [`LoginAttempt`].
    fn login_now(&self, login: &str, password: &Secret) -> Result<AuthInfo, Error> {
        let guard = self.guard();
        let mut permit =
            guard.begin(self.max_auth_failures, self.lockout_cooldown, self.timeout)?;
        let mut store_lock = match &self.guard_store {
            Some(store) => {
                let locked = store.lock(self.timeout)?;
                permit.load(locked.failures(), locked.locked_until())?;
                Some(locked)
            }
            None => None,
        };
        support::warn_if_plain_http(&self.endpoint, &self.warn_plain_http);
        let io = self.io();
        let attempt = LoginAttempt::new(&self.endpoint, io.ids.next_id(), login, password)?;
        let action_id = attempt.request().action_id.clone();
        let redactor = Redactor::new(attempt.request().secrets());
        let started = Instant::now();
        permit.mark_sent();
        // Never retried: a refused or lost auth counts against the Defender's limit.
        let sent = self.send(&io, attempt.request(), None);
        let (outcome, result) = {
            let mut session = io.write_session();
            attempt.finish(sent, &self.limits, &mut session, SystemTime::now())
        };
        let (failures, locked_until) = permit.finish(outcome);
        if let Some(locked) = &mut store_lock {
            if let Err(e) = locked.save(failures, locked_until) {
                log::warn!("could not save the login guard: {e}");
            }
        }
        drop(store_lock);
        let mut result = result;
        let notes = LoginNotes::of(&io.read_session());
        support::log_login(
            &action_id,
            &mut result,
            &redactor,
            failures,
            started,
            &notes,
            &self.warned_expiry,
        );
        let info = result?;
        io.token_is_ours.store(true, Ordering::SeqCst);
        Ok(info)
    }

    /// Logs in again unless another thread already did since `seen_generation`.
    fn relogin(&self, seen_generation: u64) -> Result<(), Error> {
        let flight = self.login_lock();
        let _flight = Flight::take(&flight, self.timeout)?;
        {
            let io = self.io();
            let s = io.read_session();
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

    /// [`Inner::relogin`], on a helper thread when the caller may stop the call
    /// (see [`crate::interruptible`]) while this thread waits in slices: a login
    /// that has left must run to its end, so that the lock-out guard counts its
    /// real outcome and a token it gets is kept, yet the caller can leave at once.
    fn relogin_interruptibly(self: &Arc<Self>, seen_generation: u64) -> Result<(), Error> {
        if !interrupt::armed() {
            return self.relogin(seen_generation);
        }
        let inner = Arc::clone(self);
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("runtel-login".into())
            .spawn(move || {
                let _ = tx.send(inner.relogin(seen_generation));
            });
        match spawned {
            Ok(_) => interrupt::recv(&rx, "User.auth")?,
            Err(_) => self.relogin(seen_generation),
        }
    }

    /// Carries out the protocol's [`CallPolicy`] for one call: the policy decides
    /// (log in, send, back off, replay), this only moves bytes and waits.
    fn call<D: Decoder + ?Sized>(
        self: &Arc<Self>,
        call: &Call,
        decoder: &D,
    ) -> Result<D::Output, Error> {
        let io = self.io();
        let mut policy = CallPolicy::new(
            call,
            self.policy,
            self.has_credentials(),
            jitter_seed(io.owner.pid),
        );
        loop {
            let step = {
                let session = io.read_session();
                policy.next(
                    &session,
                    &self.endpoint,
                    || io.ids.next_id(),
                    SystemTime::now(),
                )
            };
            match step {
                CallStep::Login {
                    seen_generation,
                    token_rejected,
                } => {
                    if token_rejected {
                        io.write_session()
                            .mark_rejected_unless_renewed(seen_generation);
                    }
                    policy.login_done(self.relogin_interruptibly(seen_generation));
                }
                CallStep::Send(request) => {
                    let started = Instant::now();
                    match self.send(&io, &request, None) {
                        Ok(raw) => {
                            let mut decoded = decoder.decode(
                                Expected::from(&*request),
                                raw.status,
                                raw.body,
                                &self.limits,
                            );
                            if let Err(e) = &mut decoded {
                                e.redact(&Redactor::new(request.secrets()));
                            }
                            log_call(&request, decoded.as_ref().map(|_| ()), started);
                            policy.answer(raw.status, decoded);
                        }
                        Err(failure) => {
                            log_call(&request, Err(&failure.error), started);
                            policy.failed(failure);
                        }
                    }
                }
                CallStep::Sleep(pause) => {
                    log::debug!(
                        "{}.{} retrying in {} ms ({} retries left)",
                        call.obj(),
                        call.action(),
                        pause.as_millis(),
                        policy.retries_left()
                    );
                    if !interrupt::sleep(pause) {
                        return Err(interrupt::interrupted(&format!(
                            "{}.{}",
                            call.obj(),
                            call.action()
                        )));
                    }
                }
                CallStep::Done(result) => return result,
            }
        }
    }

    fn logout(&self, timeout: Option<Duration>) -> Result<(), Error> {
        let flight = self.login_lock();
        let _flight = Flight::take(&flight, self.timeout)?;
        let io = self.io();
        if !io.token_is_ours.load(Ordering::SeqCst) {
            // A forked child: the token is the parent's, and ending it on the
            // server would end the parent's session. Forget it here only.
            if io.read_session().token().is_some() {
                log::debug!("not logging out the parent process's token from a child");
                io.write_session().mark_logged_out();
            }
            return Ok(());
        }
        let request = {
            let s = io.read_session();
            let Some(token) = s.token() else {
                return Ok(());
            };
            let call = Call::new("User", "logout", Value::Object(Default::default()))?;
            call.to_http(&self.endpoint, io.ids.next_id(), Some(token))
        };
        let started = Instant::now();
        let result = self
            .send(&io, &request, timeout)
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
        io.write_session().mark_logged_out();
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
        self.logout_if_ours();
        // The pools of other processes (the parent's, inherited by a fork) are
        // their connections: closing them politely (a TLS close_notify) would
        // write into their streams. They are left untouched, for the life of
        // this process; only this process's own pool is closed.
        // Kept reachable (not leaked), so leak checkers of a child stay quiet.
        static OTHERS: Mutex<Vec<Arc<ProcessIo>>> = Mutex::new(Vec::new());
        let me = process_marker();
        let mut node = Arc::get_mut(&mut self.io).and_then(|io| io.successor.take().flatten());
        if !self.io.is_of(me) {
            lock(&OTHERS).push(Arc::clone(&self.io));
        }
        while let Some(mut io) = node {
            node = Arc::get_mut(&mut io).and_then(|io| io.successor.take().flatten());
            if !io.is_of(me) {
                lock(&OTHERS).push(io);
            }
        }
    }
}

impl Inner {
    fn logout_if_ours(&self) {
        if !self.logout_on_drop {
            return;
        }
        let io = self.io();
        let holds_token = io.token_is_ours.load(Ordering::SeqCst)
            && matches!(
                io.read_session().status(SystemTime::now()),
                SessionStatus::Authenticated
            );
        if holds_token {
            // Best effort and bounded: a dead server must not stall the program's exit.
            if let Err(e) = self.logout(Some(Duration::from_secs(2))) {
                log::debug!("logout on drop failed: {e}");
            }
        }
    }
}

/// Compile-time proof of the thread-safety contract.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Client>();
};
