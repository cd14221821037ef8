//! Session state and the login guard. No clock is read here: every method that
//! needs the time takes `now`.

use std::time::{Duration, SystemTime};

use serde_json::json;

use crate::error::{Error, Result};
use crate::request::{Call, Endpoint, HttpRequest};
use crate::response::Response;
use crate::secret::Secret;
use crate::types::AuthInfo;

/// Where a session stands at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    /// Never logged in.
    Unauthenticated,
    /// Holds a token that has not expired.
    Authenticated,
    /// Held a token that has expired, or that the server rejected.
    Expired,
    /// Logged out.
    LoggedOut,
}

#[derive(Debug, Clone)]
struct Held {
    info: AuthInfo,
    /// Expiry on the local clock (see [`expiry_on_local_clock`]); `None` when the
    /// answer's `exp` could not be believed: the token is then used until the
    /// server rejects it.
    expires_at: Option<SystemTime>,
    /// When the token arrived, on the local clock (unknown for a restored one).
    issued_at: Option<SystemTime>,
    rejected: bool,
}

/// The client side of a login: token, auth info and expiry.
#[derive(Debug, Clone, Default)]
pub struct Session {
    held: Option<Held>,
    logged_out: bool,
    generation: u64,
    set_aside: Vec<String>,
}

/// Converts the server's `exp` into a local expiry time, tolerant of clock skew.
///
/// With the server's `Date` header, the token's lifetime is `exp - date` on the
/// server's own clock, and the token expires that long after `now` on ours: skew
/// between the clocks cancels out. `Date` has whole seconds (the fraction is cut
/// off), so one second is taken off the lifetime to stay on the safe side.
/// Without `Date`, `exp` is read as UTC on our clock.
pub(crate) fn expiry_on_local_clock(
    exp: SystemTime,
    server_date: Option<SystemTime>,
    now: SystemTime,
) -> SystemTime {
    match server_date {
        Some(date) => match exp.duration_since(date + Duration::from_secs(1)) {
            Ok(lifetime) => now + lifetime,
            Err(_) => now, // already expired on the server's own clock
        },
        None => exp,
    }
}

/// Parses an HTTP `Date` header (IMF-fixdate and the two obsolete forms).
pub fn parse_http_date(value: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(value.trim()).ok()
}

impl Session {
    /// A session that has not logged in.
    pub fn new() -> Self {
        Session::default()
    }

    /// The `auth` request for these credentials. It never carries a token.
    pub fn auth_request(
        endpoint: &Endpoint,
        action_id: String,
        login: &str,
        password: &Secret,
    ) -> Result<HttpRequest> {
        if login.trim().is_empty() {
            return Err(Error::InvalidInput("login must not be empty".into()));
        }
        if password.is_empty() {
            return Err(Error::InvalidInput("password must not be empty".into()));
        }
        let call = Call::new(
            "User",
            "auth",
            json!({"login": login, "password": password.expose()}),
        )?;
        Ok(call.to_http(endpoint, action_id, None))
    }

    /// The request for `call` carrying this session's token. `auth` calls go through
    /// [`Session::auth_request`]; without a valid token this is `not_authenticated`.
    pub fn request(
        &self,
        endpoint: &Endpoint,
        call: &Call,
        action_id: String,
        now: SystemTime,
    ) -> Result<HttpRequest> {
        if call.is_auth() {
            return Err(Error::InvalidInput(
                "use login() for the auth action, so the password stays masked".into(),
            ));
        }
        match self.status(now) {
            SessionStatus::Authenticated => {
                let held = self.held.as_ref().expect("authenticated implies held");
                Ok(call.to_http(endpoint, action_id, Some(&held.info.token)))
            }
            SessionStatus::Unauthenticated => Err(Error::NotAuthenticated(
                "not logged in: call login() first".into(),
            )),
            SessionStatus::Expired => Err(Error::NotAuthenticated(
                "the token has expired or was rejected; log in again".into(),
            )),
            SessionStatus::LoggedOut => {
                Err(Error::NotAuthenticated("logged out; log in again".into()))
            }
        }
    }

    /// Takes a successful `auth` answer: parses the [`AuthInfo`], stores the token and
    /// computes its local expiry from `exp` and the answer's `Date` header.
    ///
    /// An `exp` that is already past on arrival (a clock or time-zone mix-up on
    /// the server) cannot be right for a token issued this instant: the token is
    /// then kept with no known expiry ([`Session::expiry_unknown`]) and used until
    /// the server rejects it, instead of logging in again before every call.
    pub fn accept_login(
        &mut self,
        response: &Response,
        server_date: Option<SystemTime>,
        now: SystemTime,
    ) -> Result<AuthInfo> {
        let (mut info, set_aside) =
            AuthInfo::from_auth_body(response.body(), response.http_status()).map_err(
                |mut e| {
                    // An auth answer holds a token: no excerpt of it is kept.
                    let mut redactor = crate::Redactor::default();
                    redactor.add_tokens_in(response.body());
                    e.redact(&redactor);
                    if let Error::Protocol(p) = &mut e {
                        p.excerpt.clear();
                    }
                    e
                },
            )?;
        info.notifies = response.notifies().to_vec();
        if info.token.is_empty() {
            return Err(Error::Protocol(Box::new(crate::error::ProtocolErrorInfo {
                reason: crate::error::ProtocolErrorReason::UnexpectedShape,
                detail: "auth answer has an empty token".into(),
                path: Some("$.body.token".into()),
                http_status: response.http_status(),
                obj: "User".into(),
                action: "auth".into(),
                excerpt: String::new(),
            })));
        }
        let expires_at = expiry_on_local_clock(info.exp.to_system_time(), server_date, now);
        let expires_at = (expires_at > now).then_some(expires_at);
        self.set_aside = set_aside;
        self.held = Some(Held {
            info: info.clone(),
            expires_at,
            issued_at: Some(now),
            rejected: false,
        });
        self.logged_out = false;
        self.generation += 1;
        Ok(info)
    }

    /// Restores a login saved earlier (a token cache): the token in `info` is used
    /// until `expires_at` on the local clock, or until the server rejects it.
    pub fn restore(&mut self, info: AuthInfo, expires_at: SystemTime) {
        self.held = Some(Held {
            info,
            expires_at: Some(expires_at),
            issued_at: None,
            rejected: false,
        });
        self.logged_out = false;
        self.generation += 1;
    }

    /// The status at `now`.
    pub fn status(&self, now: SystemTime) -> SessionStatus {
        match &self.held {
            None if self.logged_out => SessionStatus::LoggedOut,
            None => SessionStatus::Unauthenticated,
            Some(h) if h.rejected || h.expires_at.is_some_and(|at| now >= at) => {
                SessionStatus::Expired
            }
            Some(_) => SessionStatus::Authenticated,
        }
    }

    /// True when a login is due: no usable token, or it expires within `margin`.
    ///
    /// The margin is at most a quarter of the token's lifetime: with tokens that
    /// live less than the margin, renewing "a minute early" would mean logging in
    /// before every call.
    pub fn needs_login(&self, now: SystemTime, margin: Duration) -> bool {
        match &self.held {
            Some(h) if !h.rejected => h.expires_at.is_some_and(|at| {
                let lifetime = h
                    .issued_at
                    .and_then(|issued| at.duration_since(issued).ok());
                let margin = lifetime.map_or(margin, |l| margin.min(l / 4));
                now + margin >= at
            }),
            _ => true,
        }
    }

    /// The auth info of the current login, also after it expired (not after logout).
    pub fn auth_info(&self) -> Option<&AuthInfo> {
        self.held.as_ref().map(|h| &h.info)
    }

    /// The token of the current login, if any (expired or not).
    pub fn token(&self) -> Option<&Secret> {
        self.held.as_ref().map(|h| &h.info.token)
    }

    /// The local time at which the token expires (`None` also when unknown).
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.held.as_ref().and_then(|h| h.expires_at)
    }

    /// Fields of the last auth answer that did not fit their documented type and
    /// were kept as sent in `extra` (worth a debug log).
    pub fn set_aside_fields(&self) -> &[String] {
        &self.set_aside
    }

    /// True when the current token came with an `exp` already past on arrival, so
    /// it is used until the server rejects it (worth a warning).
    pub fn expiry_unknown(&self) -> bool {
        self.held.as_ref().is_some_and(|h| h.expires_at.is_none())
    }

    /// Counts logins: a caller that saw generation `g` fail with 401 re-logs in only if
    /// the generation is still `g` (another thread may have done it already).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Marks the token rejected by the server (a 401 on a non-auth call).
    pub fn mark_rejected(&mut self) {
        if let Some(h) = &mut self.held {
            h.rejected = true;
        }
    }

    /// Marks the token rejected unless another thread or task has logged in
    /// since the 401 was seen (`seen_generation`): a fresh token stays good.
    pub fn mark_rejected_unless_renewed(&mut self, seen_generation: u64) {
        if self.generation() == seen_generation {
            self.mark_rejected();
        }
    }

    /// Forgets the token after a logout (whether or not the server confirmed it).
    pub fn mark_logged_out(&mut self) {
        self.held = None;
        self.logged_out = true;
    }
}

/// The lock-out rule that keeps a client from getting its host blocked by the
/// server's Defender: after `max_failures` consecutive failed logins, further
/// logins are refused locally for `cooldown`. A success resets the count.
///
/// Checking and recording are one step per attempt: [`LoginGuard::try_begin`]
/// counts the attempt as in flight, and an attempt may only start while
/// `failures + in_flight < max_failures`, so many threads logging in at once
/// cannot send more than `max_failures` logins that may all fail.
/// [`LoginGuard::finish`] records the [`LoginOutcome`]; anything but a clean
/// acceptance or a request that never left counts as a failure (fail closed).
///
/// After the cool-down one attempt is allowed; if it fails too, the guard locks
/// again at once (the count is not reset by waiting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginGuard {
    max_failures: u32,
    cooldown: Duration,
    failures: u32,
    locked_until: Option<SystemTime>,
    in_flight: u32,
}

/// How a login attempt ended, as far as the server's Defender is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    /// The server accepted the credentials.
    Accepted,
    /// The server refused the credentials.
    Refused,
    /// The request may have reached the server but no clean answer came back
    /// (timeout, connection dropped, an HTML 401/403 page, a malformed answer).
    /// Counted as a failure: the server may have counted one.
    Unknown,
    /// The request never left (no connection, DNS or TLS handshake failure).
    NotSent,
}

/// Whether a login may start now (see [`LoginGuard::try_begin`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardDecision {
    /// Go ahead: the attempt is counted as in flight until [`LoginGuard::finish`].
    Proceed,
    /// Other attempts in flight use up the budget: wait for one to finish, then ask again.
    Wait,
}

impl LoginGuard {
    /// Default number of consecutive failures before the lock-out.
    pub const DEFAULT_MAX_FAILURES: u32 = 3;
    /// Default cool-down.
    pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(15 * 60);

    /// A guard; `max_failures` of 0 is taken as 1.
    pub fn new(max_failures: u32, cooldown: Duration) -> Self {
        LoginGuard {
            max_failures: max_failures.max(1),
            cooldown,
            failures: 0,
            locked_until: None,
            in_flight: 0,
        }
    }

    /// A guard restored from saved state (the CLI keeps it across invocations).
    pub fn restore(
        max_failures: u32,
        cooldown: Duration,
        failures: u32,
        locked_until: Option<SystemTime>,
    ) -> Self {
        LoginGuard {
            failures,
            locked_until,
            ..LoginGuard::new(max_failures, cooldown)
        }
    }

    /// Replaces the failure count and lock with state saved by another process,
    /// keeping this guard's limits and attempts in flight.
    pub fn load_state(&mut self, failures: u32, locked_until: Option<SystemTime>) {
        self.failures = failures;
        self.locked_until = locked_until;
    }

    /// Is the guard locked at `now`? Then an [`Error::AuthLockout`].
    pub fn check(&self, now: SystemTime) -> Result<()> {
        match self.locked_until {
            Some(until) if now < until => Err(Error::AuthLockout {
                failures: self.failures,
                retry_after: until.duration_since(now).unwrap_or_default(),
            }),
            _ => Ok(()),
        }
    }

    /// Refuses at once when the count has reached the limit without a lock-out
    /// (a lowered limit, or a count saved by another process), setting the lock.
    pub fn enforce_limit(&mut self, now: SystemTime) -> Result<()> {
        if self.locked_until.is_none() && self.failures >= self.max_failures {
            // Lock now rather than wait for an attempt that never comes.
            self.locked_until = Some(now + self.cooldown);
        }
        self.check(now)
    }

    /// The guard a forked child keeps: the count, with the attempts in flight in
    /// the parent (which no thread of the child will finish) counted as failures.
    pub fn after_fork(&self, now: SystemTime) -> LoginGuard {
        let mut g = self.clone();
        g.in_flight = 0;
        for _ in 0..self.in_flight {
            g.record_refusal(now);
        }
        g
    }

    /// Asks to start a login at `now`: refused while locked, [`GuardDecision::Wait`]
    /// while the attempts in flight could use up the budget, else counted in flight.
    pub fn try_begin(&mut self, now: SystemTime) -> Result<GuardDecision> {
        self.enforce_limit(now)?;
        let may_start = if self.locked_until.is_some() {
            // The cool-down is over: one attempt at a time, a failure locks again.
            self.in_flight == 0
        } else {
            self.failures.saturating_add(self.in_flight) < self.max_failures
        };
        if !may_start {
            return Ok(GuardDecision::Wait);
        }
        self.in_flight += 1;
        Ok(GuardDecision::Proceed)
    }

    /// Records how an attempt started with [`LoginGuard::try_begin`] ended.
    pub fn finish(&mut self, outcome: LoginOutcome, now: SystemTime) {
        self.in_flight = self.in_flight.saturating_sub(1);
        match outcome {
            LoginOutcome::Accepted => self.record_success(),
            LoginOutcome::Refused | LoginOutcome::Unknown => self.record_refusal(now),
            LoginOutcome::NotSent => {}
        }
    }

    /// Records a failed login (outside [`LoginGuard::try_begin`]/[`LoginGuard::finish`]).
    pub fn record_refusal(&mut self, now: SystemTime) {
        self.failures = self.failures.saturating_add(1);
        if self.failures >= self.max_failures {
            self.locked_until = Some(now + self.cooldown);
        }
    }

    /// Records a successful login: the count starts again.
    pub fn record_success(&mut self) {
        self.failures = 0;
        self.locked_until = None;
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Attempts started and not yet finished.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// The end of the current lock-out, if one was set.
    pub fn locked_until(&self) -> Option<SystemTime> {
        self.locked_until
    }

    /// Changes the limits, keeping the count (a client built with other settings).
    pub fn set_limits(&mut self, max_failures: u32, cooldown: Duration) {
        self.max_failures = max_failures.max(1);
        self.cooldown = cooldown;
    }
}

impl Default for LoginGuard {
    fn default() -> Self {
        LoginGuard::new(Self::DEFAULT_MAX_FAILURES, Self::DEFAULT_COOLDOWN)
    }
}
