//! What every runtel transport does around the call policy besides moving
//! bytes, written once for the blocking client and the async client
//! (`runtel-async`): the log line of one exchange and of one login, the
//! backoff's jitter seed, the plain-HTTP warning, params as JSON.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use runtel_protocol::{AuthInfo, Endpoint, Error, HostIdentity, HttpRequest, Redactor, Session};
use serde_json::Value;

/// Params as JSON: `()` and `None` are no params; anything else must serialize
/// to an object (checked by [`runtel_protocol::Call::new`]).
pub fn params_value(params: impl serde::Serialize) -> Result<Value, Error> {
    serde_json::to_value(params)
        .map_err(|e| Error::InvalidInput(format!("params cannot be sent as JSON: {e}")))
}

/// Logs one exchange: `debug` on success, `info` on failure, with its
/// `action_id`, object, action, outcome and latency; never a body or a secret
/// (the error was redacted with the request's secrets before).
pub fn log_call(request: &HttpRequest, result: Result<(), &Error>, started: Instant) {
    let ms = started.elapsed().as_millis();
    match result {
        Ok(()) => log::debug!(
            "{}.{} action_id={} code=200 {} ms",
            request.obj,
            request.action,
            request.action_id,
            ms
        ),
        Err(e) => {
            // Plain words in log lines (other languages read them): `-` for "none".
            let code = e.api_code().map_or("-".to_owned(), |c| c.to_string());
            let http = e.http_status().map_or("-".to_owned(), |c| c.to_string());
            // The line names the call already; the detail need not say it again.
            let detail = e.detail();
            let prefix = format!("{}.{}: ", request.obj, request.action);
            let detail = detail.strip_prefix(&prefix).unwrap_or(&detail);
            log::info!(
                "{}.{} action_id={} failed kind={} code={code} http={http} {} ms: {}",
                request.obj,
                request.action,
                request.action_id,
                e.kind(),
                ms,
                detail
            )
        }
    }
}

/// What a login's log lines tell of the session, copied out of it so that no
/// session lock is held while logging (a log handler may wait for a host
/// lock, such as Python's GIL, while another thread forks).
#[derive(Debug)]
pub struct LoginNotes {
    set_aside: Vec<String>,
    expiry_unknown: bool,
}

impl LoginNotes {
    /// The notes of `session` just after a login.
    pub fn of(session: &Session) -> LoginNotes {
        LoginNotes {
            set_aside: session.set_aside_fields().to_vec(),
            expiry_unknown: session.expiry_unknown(),
        }
    }
}

/// Redacts a failed login's error with the attempt's secrets and logs the
/// outcome of one `auth`; on success also what the session noticed (fields of
/// unexpected types, an `exp` already past: warned once per `warned_expiry`).
pub fn log_login(
    action_id: &str,
    result: &mut Result<AuthInfo, Error>,
    redactor: &Redactor,
    failures: u32,
    started: Instant,
    notes: &LoginNotes,
    warned_expiry: &AtomicBool,
) {
    let info = match result {
        Ok(info) => &*info,
        Err(e) => {
            e.redact(redactor);
            log::warn!(
                "User.auth action_id={action_id} login failed: kind={} after {} ms \
                 ({failures} failed in a row for this server)",
                e.kind(),
                started.elapsed().as_millis(),
            );
            return;
        }
    };
    let set_aside = &notes.set_aside;
    if !set_aside.is_empty() {
        log::debug!(
            "User.auth action_id={action_id}: fields of another type than documented, \
             kept as sent in extra: {}",
            set_aside.join(", ")
        );
    }
    if notes.expiry_unknown && !warned_expiry.swap(true, Ordering::Relaxed) {
        log::warn!(
            "the server's token expiry (exp {}) was already past when the \
             token arrived (a clock or time-zone mix-up on the server); using the \
             token until the server rejects it",
            info.exp
        );
    }
    log::info!(
        "User.auth action_id={action_id} logged in user_id={} role_type={} in {} ms",
        info.user_id,
        info.role_type,
        started.elapsed().as_millis()
    );
}

/// Warns once per client (`armed` is cleared) before a password goes over
/// plain HTTP to a host that is not this machine.
pub fn warn_if_plain_http(endpoint: &Endpoint, armed: &AtomicBool) {
    if endpoint.is_https() || !armed.swap(false, Ordering::Relaxed) {
        return;
    }
    let server = endpoint.server();
    let loopback = matches!(server.host, HostIdentity::Ip(ip) if ip.is_loopback());
    if !loopback {
        log::warn!(
            "sending the password and token in clear text over http:// to {server}; \
             use https:// (or turn this warning off with the warn_plain_http setting)"
        );
    }
}

/// A seed for the backoff's jitter: different per call and per process, so
/// clients retrying after the same outage spread out. `pid` is this process's
/// id (a caller that knows it saves a system call).
pub fn jitter_seed(pid: u32) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
    h.write_u32(pid);
    h.finish()
}
