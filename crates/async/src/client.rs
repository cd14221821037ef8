//! `AsyncClient`: the protocol's call policy carried out with async I/O, plus
//! what a policy cannot do itself: the single-flight login (a tokio mutex and a
//! spawned task), the process-wide login guard shared with the blocking client.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant, SystemTime};

use runtel_client::support::{
    jitter_seed, log_call, log_login, params_value, warn_if_plain_http, LoginNotes,
};
use runtel_client::{
    server_identity, shared_guard, ClientOptions, Decoder, Permit, ResponseDecoder, SharedGuard,
};
use runtel_protocol::{
    is_token_rejection, parse_response, ActionIdGenerator, AuthInfo, Call, CallPolicy, CallStep,
    Endpoint, Error, Expected, HttpRequest, Limits, LoginAttempt, LoginGuard, PolicyOptions,
    Redactor, Response, Secret, Session, SessionStatus,
};
use serde_json::Value;

use crate::records::AsyncRecords;
use crate::transport::Transport;

/// The async Runtel API client. Cheap to clone (an `Arc` inside); all clones
/// share one session, one connection pool and one login.
///
/// `AsyncClient` is `Send + Sync + Clone`: any number of tasks may call it at
/// once. Logins are single flight: when the token expires or is rejected,
/// exactly one `auth` is sent while the other tasks wait (on a tokio mutex,
/// never blocking a runtime thread) and then use the new token.
///
/// # Cancellation
///
/// Every future it returns may be dropped at any `.await` (a `select!`, a
/// `tokio::time::timeout`, an aborted task, a cancelled Python task):
/// - a call dropped mid-request drops its connection (it is not returned to the
///   pool half-read); the client stays usable and the next call opens a fresh
///   one. It never touches the login guard;
/// - a login (explicit, or the lazy one a call starts) runs in a task of its
///   own: the caller dropping its future does not stop it, so its real outcome
///   is counted (a refusal counts, an acceptance stores the token for the
///   others). If that task is cancelled anyway (the runtime shuts down) after
///   the `auth` left, the guard's `Permit` counts it as a failure: fail closed,
///   as `runtel_protocol::LoginOutcome` says, because the server may have
///   counted it. Before the `auth` left, it is not counted.
///
/// # Processes
///
/// Unlike the blocking client, an `AsyncClient` is not meant to cross a
/// `fork()`: a tokio runtime does not survive one. Make clients after forking.
#[derive(Clone)]
pub struct AsyncClient {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    endpoint: Endpoint,
    transport: Transport,
    ids: ActionIdGenerator,
    timeout: Duration,
    connect_timeout: Duration,
    limits: Limits,
    credentials: RwLock<Option<(String, Secret)>>,
    /// Never held across an `.await`.
    session: RwLock<Session>,
    /// Held while logging in or out: the single flight.
    login_lock: tokio::sync::Mutex<()>,
    /// The process-wide guard of this server (shared with blocking clients),
    /// found at the first login.
    guard: tokio::sync::OnceCell<Arc<SharedGuard>>,
    max_auth_failures: u32,
    lockout_cooldown: Duration,
    policy: PolicyOptions,
    logout_on_drop: bool,
    warn_plain_http: AtomicBool,
    warned_expiry: AtomicBool,
}

impl std::fmt::Debug for AsyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let session = self.inner.read_session();
        f.debug_struct("AsyncClient")
            .field("endpoint", &self.inner.endpoint.url())
            .field("status", &session.status(SystemTime::now()))
            .field("user", &session.auth_info().map(|i| i.user_login.clone()))
            .finish_non_exhaustive()
    }
}

/// Builds an [`AsyncClient`] from the same [`ClientOptions`] as the blocking
/// client (every setting and default is shared).
#[derive(Clone)]
pub struct AsyncClientBuilder {
    base_url: String,
    options: ClientOptions,
    roots_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for AsyncClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncClientBuilder")
            .field("base_url", &self.base_url)
            .field("options", &self.options)
            .field("roots_pem", &self.roots_pem.as_ref().map(Vec::len))
            .finish()
    }
}

impl AsyncClientBuilder {
    /// Replaces every setting with these options.
    pub fn options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// Changes some settings in place.
    pub fn with(mut self, change: impl FnOnce(&mut ClientOptions)) -> Self {
        change(&mut self.options);
        self
    }

    /// Stores credentials: the client logs in lazily on the first call, and
    /// again when the token expires or is rejected.
    pub fn credentials(mut self, login: &str, password: impl Into<Secret>) -> Self {
        self.options.login = Some(login.to_owned());
        self.options.password = Some(password.into());
        self
    }

    /// Overall time for one HTTP exchange, connect to last body byte (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = timeout;
        self
    }

    /// Retry policy for idempotent calls.
    pub fn retry(mut self, policy: runtel_protocol::RetryPolicy) -> Self {
        self.options.set_retry_policy(policy);
        self
    }

    /// Trusts the certificates in this PEM **instead of** the public web roots
    /// (takes precedence over [`ClientOptions::ca_file`]).
    pub fn root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.roots_pem = Some(pem.into());
        self
    }

    /// Validates the settings and builds the client. Needs no runtime; the
    /// client's futures must run on a tokio runtime (with the time driver).
    pub fn build(self) -> Result<AsyncClient, Error> {
        let endpoint = Endpoint::parse(&self.base_url)?;
        let o = &self.options;
        o.validate()?;
        let roots_pem = o.roots_pem(self.roots_pem.as_deref())?;
        let transport = Transport::new(o, roots_pem.as_deref())?;
        let credentials = match (&o.login, &o.password) {
            (Some(l), Some(p)) => Some((l.clone(), p.clone())),
            _ => None,
        };
        Ok(AsyncClient {
            inner: Arc::new(Inner {
                transport,
                ids: async_ids(),
                timeout: o.timeout,
                connect_timeout: o.connect_timeout.min(o.timeout),
                limits: Limits {
                    max_body_bytes: o.max_response_bytes,
                    ..Limits::default()
                },
                credentials: RwLock::new(credentials),
                session: RwLock::new(Session::new()),
                login_lock: tokio::sync::Mutex::new(()),
                guard: tokio::sync::OnceCell::new(),
                max_auth_failures: o.max_auth_failures,
                lockout_cooldown: o.auth_lockout_cooldown,
                policy: PolicyOptions {
                    retry: o.retry_policy(),
                    relogin_margin: o.relogin_margin,
                },
                logout_on_drop: o.logout_on_drop,
                warn_plain_http: AtomicBool::new(o.warn_plain_http),
                warned_expiry: AtomicBool::new(false),
                endpoint,
            }),
        })
    }
}

/// An `action_id` sequence of its own for each client, prefixed with the
/// process id and a random value (ids never repeat across clients or processes).
fn async_ids() -> ActionIdGenerator {
    let pid = std::process::id();
    let r = jitter_seed(std::process::id()) as u32 & 0xff_ffff;
    ActionIdGenerator::with_prefix(format!("ra{pid:x}{r:06x}"))
}

impl AsyncClient {
    /// A client for `base_url` with default settings and no stored credentials.
    pub fn new(base_url: &str) -> Result<AsyncClient, Error> {
        AsyncClient::builder(base_url).build()
    }

    /// A builder for all the settings.
    pub fn builder(base_url: &str) -> AsyncClientBuilder {
        AsyncClientBuilder {
            base_url: base_url.to_owned(),
            options: ClientOptions::default(),
            roots_pem: None,
        }
    }

    /// A client for `base_url` with these options (the form every front end fills).
    pub fn with_options(base_url: &str, options: ClientOptions) -> Result<AsyncClient, Error> {
        AsyncClient::builder(base_url).options(options).build()
    }

    /// The endpoint URL (`{base}/api/`).
    pub fn endpoint_url(&self) -> &str {
        self.inner.endpoint.url()
    }

    /// Logs in with these credentials and remembers them, so an expired or
    /// rejected token is renewed automatically later. A refused login is never
    /// retried; after `max_auth_failures` refusals in a row for this server
    /// (counted with every other client of this process, blocking ones
    /// included), logins are refused locally (`auth_lockout`) for the cool-down.
    ///
    /// The login runs in a task of its own (see [`AsyncClient`] on cancellation):
    /// dropping this future does not stop it, and on success the credentials
    /// are stored all the same.
    pub async fn login(&self, login: &str, password: &str) -> Result<AuthInfo, Error> {
        let inner = Arc::clone(&self.inner);
        let (login, password) = (login.to_owned(), Secret::new(password));
        spawn_login(async move {
            let _flight = inner.login_lock.lock().await;
            let info = inner.login_now(&login, &password).await?;
            *inner.credentials.write().unwrap_or_else(|e| e.into_inner()) = Some((login, password));
            Ok(info)
        })
        .await
    }

    /// Ends the token on the server and forgets it. Stored credentials are kept:
    /// a later call logs in again. Without a token this does nothing.
    pub async fn logout(&self) -> Result<(), Error> {
        let _flight = self.inner.login_lock.lock().await;
        let Some(request) = self.inner.logout_request()? else {
            return Ok(());
        };
        let started = Instant::now();
        let result = match self.inner.transport.send(&request, None).await {
            Ok(raw) => parse_response(
                Expected::from(&request),
                raw.status,
                &raw.body,
                &self.inner.limits,
            ),
            Err(f) => Err(f.error),
        };
        log_call(&request, result.as_ref().map(|_| ()), started);
        // The token is gone for us whatever the server said.
        self.inner.write_session().mark_logged_out();
        match result {
            Ok(_) => Ok(()),
            // Already expired or revoked on the server: logged out all the same.
            Err(e) if is_token_rejection(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The auth info of the current login, if logged in (also once expired).
    pub fn auth_info(&self) -> Option<AuthInfo> {
        self.inner.read_session().auth_info().cloned()
    }

    /// Where the session stands now.
    pub fn session_status(&self) -> SessionStatus {
        self.inner.read_session().status(SystemTime::now())
    }

    /// Counts logins; it changes whenever the token does.
    pub fn session_generation(&self) -> u64 {
        self.inner.read_session().generation()
    }

    /// When the token expires, on the local clock (skew-corrected).
    pub fn token_expires_at(&self) -> Option<SystemTime> {
        self.inner.read_session().expires_at()
    }

    /// The login guard's state for this client's server in this process (the
    /// one the blocking clients of that server share), once a login was tried.
    pub fn login_guard_state(&self) -> Option<LoginGuard> {
        self.inner.guard.get().map(|g| g.snapshot())
    }

    /// Sends one call and returns the whole answer envelope once `code == 200`
    /// and the `action_id` echo are checked. With stored credentials it logs in
    /// first when needed; reads are retried on connection errors and
    /// 502/503/504; writes never.
    ///
    /// `params` is anything that serializes to a JSON object, or `()` for none.
    pub async fn call(
        &self,
        obj: &str,
        action: &str,
        params: impl serde::Serialize,
    ) -> Result<Response, Error> {
        let call = Call::new(obj, action, params_value(params)?)?;
        self.call_with(&call).await
    }

    /// Like [`AsyncClient::call`], reading the answer's `body` into `T` (one of
    /// the typed records, such as `runtel_client::User`, or a type of your own).
    pub async fn call_as<T: serde::de::DeserializeOwned>(
        &self,
        obj: &str,
        action: &str,
        params: impl serde::Serialize,
    ) -> Result<T, Error> {
        self.call(obj, action, params).await?.body_as()
    }

    /// Like [`AsyncClient::call`] for a prepared [`Call`] (with `limit`, `offset`,
    /// `filter`).
    pub async fn call_with(&self, call: &Call) -> Result<Response, Error> {
        self.call_decoded(call, &ResponseDecoder).await
    }

    /// Like [`AsyncClient::call_with`], decoding the answer with `decoder`
    /// (the same [`Decoder`] trait as the blocking client's).
    pub async fn call_decoded<D: Decoder>(
        &self,
        call: &Call,
        decoder: &D,
    ) -> Result<D::Output, Error> {
        self.inner.call(call, decoder).await
    }

    /// Every record of a list action, page by page (`limit`/`offset`), as a
    /// [`futures_core::Stream`], holding one page in memory. The paging rules
    /// (capped pages, stale counts, a server ignoring `offset`) are the blocking
    /// client's, from the same `runtel_client::Pager`.
    pub fn records(
        &self,
        obj: &str,
        params: impl serde::Serialize,
        page_size: u64,
    ) -> Result<AsyncRecords, Error> {
        AsyncRecords::new(self.clone(), obj, params_value(params)?, page_size)
    }
}

/// Runs a login in a task of its own, so that a caller dropping its future
/// cannot cut it off halfway (see [`AsyncClient`] on cancellation).
async fn spawn_login<T: Send + 'static>(
    login: impl std::future::Future<Output = Result<T, Error>> + Send + 'static,
) -> Result<T, Error> {
    match tokio::spawn(login).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(Error::InvalidInput(
            "the login task was cancelled (the runtime is shutting down)".into(),
        )),
    }
}

impl Inner {
    fn read_session(&self) -> RwLockReadGuard<'_, Session> {
        self.session.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_session(&self) -> RwLockWriteGuard<'_, Session> {
        self.session.write().unwrap_or_else(|e| e.into_inner())
    }

    fn credentials(&self) -> Option<(String, Secret)> {
        self.credentials
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// This server's process-wide guard; its host name is resolved once, on a
    /// blocking thread.
    async fn guard(&self) -> Result<Arc<SharedGuard>, Error> {
        self.guard
            .get_or_try_init(|| async {
                let endpoint = self.endpoint.clone();
                let wait = self.connect_timeout;
                let server = tokio::task::spawn_blocking(move || server_identity(&endpoint, wait))
                    .await
                    .map_err(|e| Error::InvalidInput(format!("resolving the server: {e}")))?;
                Ok(shared_guard(&server))
            })
            .await
            .cloned()
    }

    /// Waits for the guard's turn without blocking the runtime: the common case
    /// takes a permit at once; when other logins use up the budget, the wait
    /// runs on a blocking thread. If this future is dropped meanwhile, a permit
    /// obtained later is dropped unsent: it does not count.
    async fn permit(&self, guard: &Arc<SharedGuard>) -> Result<Permit, Error> {
        if let Some(p) = guard.try_begin(self.max_auth_failures, self.lockout_cooldown)? {
            return Ok(p);
        }
        let (g, max, cooldown, wait) = (
            Arc::clone(guard),
            self.max_auth_failures,
            self.lockout_cooldown,
            self.timeout,
        );
        tokio::task::spawn_blocking(move || g.begin(max, cooldown, wait))
            .await
            .map_err(|e| Error::InvalidInput(format!("waiting for the login guard: {e}")))?
    }

    /// Sends `auth`; the caller holds the login lock. What the outcome means
    /// (for the session and the guard) is the protocol's [`LoginAttempt`].
    async fn login_now(&self, login: &str, password: &Secret) -> Result<AuthInfo, Error> {
        let guard = self.guard().await?;
        let mut permit = self.permit(&guard).await?;
        warn_if_plain_http(&self.endpoint, &self.warn_plain_http);
        let attempt = LoginAttempt::new(&self.endpoint, self.ids.next_id(), login, password)?;
        let action_id = attempt.request().action_id.clone();
        let redactor = Redactor::new(attempt.request().secrets());
        let started = Instant::now();
        // From here a lost outcome counts as a failure (the permit's Drop).
        permit.mark_sent();
        // Never retried: a refused or lost auth counts against the Defender's limit.
        let sent = self.transport.send(attempt.request(), None).await;
        let (outcome, result) = {
            let mut session = self.write_session();
            attempt.finish(sent, &self.limits, &mut session, SystemTime::now())
        };
        let (failures, _) = permit.finish(outcome);
        let mut result = result;
        let notes = LoginNotes::of(&self.read_session());
        log_login(
            &action_id,
            &mut result,
            &redactor,
            failures,
            started,
            &notes,
            &self.warned_expiry,
        );
        result
    }

    /// Logs in again unless another task already did since `seen_generation`.
    async fn relogin(&self, seen_generation: u64) -> Result<(), Error> {
        let _flight = self.login_lock.lock().await;
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
        self.login_now(&login, &password).await.map(|_| ())
    }

    /// Carries out the protocol's [`CallPolicy`] for one call: the policy decides
    /// (log in, send, back off, replay), this only moves bytes and waits.
    async fn call<D: Decoder>(
        self: &Arc<Self>,
        call: &Call,
        decoder: &D,
    ) -> Result<D::Output, Error> {
        let mut policy = CallPolicy::new(
            call,
            self.policy,
            self.credentials().is_some(),
            jitter_seed(std::process::id()),
        );
        loop {
            let step = {
                let session = self.read_session();
                policy.next(
                    &session,
                    &self.endpoint,
                    || self.ids.next_id(),
                    SystemTime::now(),
                )
            };
            match step {
                CallStep::Login {
                    seen_generation,
                    token_rejected,
                } => {
                    if token_rejected {
                        self.write_session()
                            .mark_rejected_unless_renewed(seen_generation);
                    }
                    let inner = Arc::clone(self);
                    let result =
                        spawn_login(async move { inner.relogin(seen_generation).await }).await;
                    policy.login_done(result);
                }
                CallStep::Send(request) => {
                    let started = Instant::now();
                    match self.transport.send(&request, None).await {
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
                        Err(mut failure) => {
                            // A proxy or a transport may quote what it was sent.
                            failure.error.redact(&Redactor::new(request.secrets()));
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
                    tokio::time::sleep(pause).await;
                }
                CallStep::Done(result) => return result,
            }
        }
    }

    /// The `User.logout` request for the current token, if there is one.
    fn logout_request(&self) -> Result<Option<HttpRequest>, Error> {
        let s = self.read_session();
        let Some(token) = s.token() else {
            return Ok(None);
        };
        let call = Call::new("User", "logout", Value::Object(Default::default()))?;
        Ok(Some(call.to_http(
            &self.endpoint,
            self.ids.next_id(),
            Some(token),
        )))
    }
}

impl Drop for Inner {
    /// Best effort: a token still held when the last handle goes is logged out
    /// by a task on the current tokio runtime (bounded to 2 s). Without a
    /// runtime it cannot be: prefer an explicit [`AsyncClient::logout`].
    fn drop(&mut self) {
        if !self.logout_on_drop
            || !matches!(
                self.read_session().status(SystemTime::now()),
                SessionStatus::Authenticated
            )
        {
            return;
        }
        let Ok(Some(request)) = self.logout_request() else {
            return;
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            log::debug!("not logged out on drop: no tokio runtime here (call logout())");
            return;
        };
        let transport = self.transport.clone();
        handle.spawn(async move {
            if let Err(f) = transport.send(&request, Some(Duration::from_secs(2))).await {
                log::debug!("logout on drop failed: {}", f.error);
            }
        });
    }
}

/// Compile-time proof of the thread-safety contract.
const _: () = {
    const fn assert_send_sync_clone<T: Send + Sync + Clone>() {}
    assert_send_sync_clone::<AsyncClient>();
};
