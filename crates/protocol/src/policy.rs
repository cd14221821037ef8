//! The call policy: every rule of the reliability contract, as a sans-IO state
//! machine that any transport drives.
//!
//! A [`CallPolicy`] is made for one call. The transport asks it for the next
//! [`CallStep`] and carries the step out: log in, send a request, sleep, or hand
//! the result to the caller. It reports back what happened ([`CallPolicy::login_done`],
//! [`CallPolicy::answer`], [`CallPolicy::failed`]). The policy decides everything
//! else:
//!
//! - log in lazily when stored credentials exist and the token is missing or about
//!   to expire (renewal margin, clamped to a quarter of the token's lifetime);
//! - on a 401 with stored credentials: one re-login, then one replay; a second 401
//!   is the caller's; without credentials, `not_authenticated`;
//! - reads (`list`, `list_with_detail`, `get`) are retried after a retryable
//!   transport failure or a 502/503/504, with exponential backoff and "equal
//!   jitter" drawn from a seed the transport passes in (so tests are
//!   deterministic); writes are never retried.
//!
//! A [`LoginAttempt`] is the policy of one `auth`: the request, and how its outcome
//! counts for the login guard (fail closed: only a clean acceptance or a request
//! that never left is not a failure).
//!
//! What stays with the transport: moving bytes, the single-flight lock around
//! logins (several threads share one session), waiting for the login guard's turn,
//! and logging.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::error::{Error, Result};
use crate::request::{Call, Endpoint, HttpRequest};
use crate::response::{classify_auth_error, parse_response, Expected, Limits};
use crate::secret::Secret;
use crate::session::{parse_http_date, LoginOutcome, Session};
use crate::types::AuthInfo;

/// When and how idempotent calls (`list`, `list_with_detail`, `get`) are retried
/// after a connection error or a 502/503/504. Writes are never retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 turns retrying off.
    pub max_retries: u32,
    /// Delay before the first retry; doubled for each further one, with jitter.
    pub base_delay: Duration,
    /// Upper bound of a single delay.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// No retries at all.
    pub const NONE: RetryPolicy = RetryPolicy {
        max_retries: 0,
        base_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
    };
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
        }
    }
}

/// The knobs of the call policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyOptions {
    /// Retries of idempotent calls.
    pub retry: RetryPolicy,
    /// Log in again this long before the token expires (at most a quarter of the
    /// token's lifetime, so short-lived tokens are not renewed before every call).
    pub relogin_margin: Duration,
}

impl Default for PolicyOptions {
    fn default() -> Self {
        PolicyOptions {
            retry: RetryPolicy::default(),
            relogin_margin: Duration::from_secs(60),
        }
    }
}

/// A transport's failure to get an answer, categorised for the policy.
#[derive(Debug, Clone)]
pub struct TransportFailure {
    /// The error to report if the policy gives up.
    pub error: Error,
    /// True when sending an idempotent request again is safe (connection
    /// refused, reset, a malformed answer), false when the budget is spent
    /// (timeout) or retrying cannot help (TLS, body too large).
    pub retryable: bool,
    /// True when the request surely never reached the server (no connection,
    /// DNS, TLS handshake): the login guard does not count it.
    pub not_sent: bool,
}

/// What the transport must do next for one call.
#[derive(Debug)]
pub enum CallStep<T> {
    /// Log in with the stored credentials, then report with
    /// [`CallPolicy::login_done`]. Logins are single flight: take the login lock,
    /// and if the session's generation has moved past `seen_generation` and the
    /// session is usable again, another thread already did it (report success).
    /// With `token_rejected`, first mark the session's token rejected if its
    /// generation is still `seen_generation`.
    Login {
        /// The session generation this call saw.
        seen_generation: u64,
        /// The server rejected the token of that generation.
        token_rejected: bool,
    },
    /// Send this request, then report with [`CallPolicy::answer`] or
    /// [`CallPolicy::failed`]. Shared with the policy, which keeps it for a
    /// retry: handing it out copies nothing.
    Send(Arc<HttpRequest>),
    /// Wait this long before the next step (a retry's backoff).
    Sleep(Duration),
    /// The call is over: hand this to the caller.
    Done(Result<T>),
}

#[derive(Debug)]
enum Phase<T> {
    Start,
    /// Waiting for `login_done`; then a fresh request (or the end, after a 401
    /// without a successful re-login).
    LoggingIn,
    /// Build a request from the session and send it.
    Ready,
    /// A request is out; waiting for `answer` or `failed`.
    Sent,
    /// The token was rejected: log in again, then replay.
    Relogin,
    /// Sleep, then send the same request again.
    Backoff(Duration),
    Resend,
    Finished(Option<Result<T>>),
}

/// The policy of one call (see the module documentation).
#[derive(Debug)]
pub struct CallPolicy<'a, T> {
    call: &'a Call,
    options: PolicyOptions,
    has_credentials: bool,
    phase: Phase<T>,
    request: Option<Arc<HttpRequest>>,
    /// The session generation the sent request's token came from.
    generation: u64,
    retries_left: u32,
    next_delay: Duration,
    replayed: bool,
    rng: u64,
}

impl<'a, T> CallPolicy<'a, T> {
    /// The policy for `call`. `has_credentials` says whether the transport can log
    /// in by itself; `jitter_seed` feeds the backoff's randomness (any value; pass
    /// a random one in production and a fixed one in tests).
    pub fn new(
        call: &'a Call,
        options: PolicyOptions,
        has_credentials: bool,
        jitter_seed: u64,
    ) -> Self {
        let retries_left = if call.is_idempotent() {
            options.retry.max_retries
        } else {
            0
        };
        CallPolicy {
            call,
            options,
            has_credentials,
            phase: Phase::Start,
            request: None,
            generation: 0,
            retries_left,
            next_delay: options.retry.base_delay,
            replayed: false,
            // xorshift must not start at zero.
            rng: jitter_seed | 1,
        }
    }

    /// The next step, given the session as it is `now`; `next_action_id` is
    /// called when a request is built.
    pub fn next(
        &mut self,
        session: &Session,
        endpoint: &Endpoint,
        next_action_id: impl FnOnce() -> String,
        now: SystemTime,
    ) -> CallStep<T> {
        loop {
            match std::mem::replace(&mut self.phase, Phase::Finished(None)) {
                Phase::Start => {
                    if self.call.is_auth() {
                        return self.finish(Err(Error::InvalidInput(
                            "use login() for the auth action, so the password stays masked".into(),
                        )));
                    }
                    if self.has_credentials && session.needs_login(now, self.options.relogin_margin)
                    {
                        self.phase = Phase::LoggingIn;
                        return CallStep::Login {
                            seen_generation: session.generation(),
                            token_rejected: false,
                        };
                    }
                    self.phase = Phase::Ready;
                }
                Phase::Ready => {
                    return match session.request(endpoint, self.call, next_action_id(), now) {
                        Ok(request) => {
                            let request = Arc::new(request);
                            self.generation = session.generation();
                            self.request = Some(Arc::clone(&request));
                            self.phase = Phase::Sent;
                            CallStep::Send(request)
                        }
                        Err(e) => self.finish(Err(e)),
                    };
                }
                Phase::Relogin => {
                    self.phase = Phase::LoggingIn;
                    return CallStep::Login {
                        seen_generation: self.generation,
                        token_rejected: true,
                    };
                }
                Phase::Backoff(pause) => {
                    self.phase = Phase::Resend;
                    return CallStep::Sleep(pause);
                }
                Phase::Resend => {
                    // The same request (same action_id): it is a read, resent as is.
                    let request = self.request.clone().expect("a retried request was sent");
                    self.phase = Phase::Sent;
                    return CallStep::Send(request);
                }
                Phase::Finished(result) => {
                    return CallStep::Done(result.unwrap_or_else(|| {
                        Err(Error::InvalidInput(
                            "the call policy was asked for a step after it finished".into(),
                        ))
                    }))
                }
                phase @ (Phase::LoggingIn | Phase::Sent) => {
                    // The transport asked again without reporting: say so plainly.
                    self.phase = phase;
                    return CallStep::Done(Err(Error::InvalidInput(
                        "the call policy is waiting for the outcome of its last step".into(),
                    )));
                }
            }
        }
    }

    /// Reports the outcome of a [`CallStep::Login`].
    pub fn login_done(&mut self, result: Result<()>) {
        self.phase = match result {
            Ok(()) => Phase::Ready,
            Err(e) => Phase::Finished(Some(Err(e))),
        };
    }

    /// Reports an answer: its HTTP status and the transport's decoding of it.
    pub fn answer(&mut self, status: u16, decoded: Result<T>) {
        let idempotent_retry = matches!(status, 502..=504);
        match decoded {
            Err(e) if idempotent_retry && self.retries_left > 0 => self.back_off(e),
            Err(e) if is_token_rejection(&e) => self.token_rejected(e),
            other => self.phase = Phase::Finished(Some(other)),
        }
    }

    /// Reports that no answer came.
    pub fn failed(&mut self, failure: TransportFailure) {
        if failure.retryable && self.retries_left > 0 {
            self.back_off(failure.error);
        } else {
            self.phase = Phase::Finished(Some(Err(failure.error)));
        }
    }

    /// Retries left for this call (for logs).
    pub fn retries_left(&self) -> u32 {
        self.retries_left
    }

    fn finish(&mut self, result: Result<T>) -> CallStep<T> {
        self.phase = Phase::Finished(None);
        CallStep::Done(result)
    }

    fn back_off(&mut self, _error: Error) {
        self.retries_left -= 1;
        let delay = self.next_delay.min(self.options.retry.max_delay);
        self.next_delay = self.next_delay.saturating_mul(2);
        self.phase = Phase::Backoff(self.jitter(delay));
    }

    fn token_rejected(&mut self, error: Error) {
        if self.replayed {
            // One replay only: a second 401 is reported as it is.
            self.phase = Phase::Finished(Some(Err(error)));
        } else if !self.has_credentials {
            self.phase = Phase::Finished(Some(Err(Error::NotAuthenticated(format!(
                "the server rejected the token ({error}); log in again"
            )))));
        } else {
            self.replayed = true;
            self.phase = Phase::Relogin;
        }
    }

    /// A random duration in `[d/2, d]` ("equal jitter"), so retrying clients spread out.
    fn jitter(&mut self, d: Duration) -> Duration {
        // xorshift64*: small, and deterministic for a given seed.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let frac = (r >> 11) as f64 / (1u64 << 53) as f64;
        d.mul_f64(0.5 + 0.5 * frac)
    }
}

/// True for the answer that says the token is not (or no longer) valid.
pub fn is_token_rejection(e: &Error) -> bool {
    match e {
        Error::Api(info) => {
            info.code == Some(401) || (info.code.is_none() && info.http_status == 401)
        }
        _ => false,
    }
}

/// The policy of one `auth`: its request, and what its outcome means for the
/// session and the login guard.
#[derive(Debug)]
pub struct LoginAttempt {
    request: HttpRequest,
}

/// An answer as a transport read it: status, `Date` header, body.
#[derive(Debug, Clone)]
pub struct RawAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The `Date` header, if any.
    pub date: Option<String>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl LoginAttempt {
    /// The attempt for these credentials (refused locally when they are empty).
    pub fn new(
        endpoint: &Endpoint,
        action_id: String,
        login: &str,
        password: &Secret,
    ) -> Result<Self> {
        Ok(LoginAttempt {
            request: Session::auth_request(endpoint, action_id, login, password)?,
        })
    }

    /// The `auth` request to send, once. A lost or refused login is never resent.
    pub fn request(&self) -> &HttpRequest {
        &self.request
    }

    /// Takes the outcome of sending [`LoginAttempt::request`]: stores the login
    /// in `session` on success, and says how it counts for the login guard.
    ///
    /// Fail closed: only a clean acceptance (`code` 200, the `action_id` echoed)
    /// or a request that never left is not a failure; a refusal, a timeout, a
    /// dropped connection, an HTML page or a malformed answer counts as one,
    /// because the server may have counted it.
    pub fn finish(
        self,
        outcome: std::result::Result<RawAnswer, TransportFailure>,
        limits: &Limits,
        session: &mut Session,
        now: SystemTime,
    ) -> (LoginOutcome, Result<AuthInfo>) {
        let request = &self.request;
        let parsed = match outcome {
            Err(f) => {
                let guard = if f.not_sent {
                    LoginOutcome::NotSent
                } else {
                    LoginOutcome::Unknown
                };
                return (guard, Err(f.error));
            }
            Ok(raw) => parse_response(Expected::from(request), raw.status, &raw.body, limits)
                .map_err(classify_auth_error)
                .map(|resp| (resp, raw.date)),
        };
        match parsed {
            // The server accepted the credentials, even if the body turns out unusable.
            Ok((resp, date)) => (
                LoginOutcome::Accepted,
                session.accept_login(&resp, date.as_deref().and_then(parse_http_date), now),
            ),
            Err(e @ Error::Auth(_)) => (LoginOutcome::Refused, Err(e)),
            Err(e) => (LoginOutcome::Unknown, Err(e)),
        }
    }
}
