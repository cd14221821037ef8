//! The one error type of the SDK and its stable [`ErrorKind`].
//!
//! The client, the C library and the Python module all report these kinds: the
//! kind picks the C result code and the Python exception class, so kinds are
//! only ever added, never renamed.

use std::fmt;
use std::time::Duration;

/// The stable category of an [`Error`]. `as_str` names are part of the public contract.
///
/// Deliberately exhaustive: every front end maps each kind to its own code, class
/// or exit status with a `match` that has no fallback, so a new kind fails to
/// compile there instead of being silently mislabelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The caller passed something unusable (empty `obj`, params not an object, bad URL).
    InvalidInput,
    /// The connection failed: DNS, refused, reset, TLS.
    Transport,
    /// A connect or overall timeout ran out.
    Timeout,
    /// The server's answer could not be understood (bad JSON, wrong `action_id`, too large).
    Protocol,
    /// The server said no: an error envelope or an HTTP error status.
    Api,
    /// The server refused the login or password.
    Auth,
    /// The client refuses to try another login for now, to keep its host from being blocked.
    AuthLockout,
    /// No token (or an expired one) and no stored credentials to get a new one.
    NotAuthenticated,
}

impl ErrorKind {
    /// Every kind, in a fixed order.
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::InvalidInput,
        ErrorKind::Transport,
        ErrorKind::Timeout,
        ErrorKind::Protocol,
        ErrorKind::Api,
        ErrorKind::Auth,
        ErrorKind::AuthLockout,
        ErrorKind::NotAuthenticated,
    ];

    /// The stable snake_case name used in logs, the CLI and the other front ends.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Transport => "transport",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Api => "api",
            ErrorKind::Auth => "auth",
            ErrorKind::AuthLockout => "auth_lockout",
            ErrorKind::NotAuthenticated => "not_authenticated",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a connection failed, for programs to match on (see
/// [`TransportErrorInfo`]). The `as_str` names are part of the public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportCause {
    /// The host name could not be resolved.
    Dns,
    /// No connection could be made (refused, unreachable, connect timed out).
    Connect,
    /// The connection broke while the request or the answer was on the way.
    Reset,
    /// TLS failed: the certificate or the handshake.
    Tls(TlsCause),
    /// The proxy refused or failed the tunnel.
    Proxy,
    /// The server's answer was not valid HTTP.
    MalformedHttp,
    /// Another I/O failure.
    Io,
}

/// Why TLS failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsCause {
    /// The certificate is not signed by a trusted root (self-signed, private CA).
    UnknownIssuer,
    /// The certificate has expired (or is not valid yet).
    Expired,
    /// The certificate is not valid for the host name.
    WrongName,
    /// Another TLS failure.
    Other,
}

impl TransportCause {
    /// Every cause, in a fixed order (for tables in other languages).
    pub const ALL: [TransportCause; 10] = [
        TransportCause::Dns,
        TransportCause::Connect,
        TransportCause::Reset,
        TransportCause::Tls(TlsCause::UnknownIssuer),
        TransportCause::Tls(TlsCause::Expired),
        TransportCause::Tls(TlsCause::WrongName),
        TransportCause::Tls(TlsCause::Other),
        TransportCause::Proxy,
        TransportCause::MalformedHttp,
        TransportCause::Io,
    ];

    /// The stable snake_case name (`dns`, `tls_unknown_issuer`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            TransportCause::Dns => "dns",
            TransportCause::Connect => "connect",
            TransportCause::Reset => "reset",
            TransportCause::Tls(TlsCause::UnknownIssuer) => "tls_unknown_issuer",
            TransportCause::Tls(TlsCause::Expired) => "tls_expired",
            TransportCause::Tls(TlsCause::WrongName) => "tls_wrong_name",
            TransportCause::Tls(TlsCause::Other) => "tls_other",
            TransportCause::Proxy => "proxy",
            TransportCause::MalformedHttp => "malformed_http",
            TransportCause::Io => "io",
        }
    }
}

impl fmt::Display for TransportCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A transport failure: its cause, a message for people, and the underlying
/// error (`source()`), kept for programs that want to look deeper.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TransportErrorInfo {
    /// What failed.
    pub cause: TransportCause,
    /// A one-line description (names the call and the phase).
    pub detail: String,
    /// The transport's own error, if it had one.
    pub source: Option<std::sync::Arc<dyn std::error::Error + Send + Sync>>,
}

impl fmt::Display for TransportErrorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for TransportErrorInfo {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// What the server answered when it refused a request (see `docs/api-reference.md`, section 3).
///
/// Every field the answer had is kept; `raw_body` is an excerpt bounded by
/// [`crate::Limits::error_excerpt_bytes`].
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ApiErrorInfo {
    /// The HTTP status of the answer.
    pub http_status: u16,
    /// The envelope's `code`, when the body was an envelope.
    pub code: Option<i64>,
    /// The envelope's `msg_id`, a machine-readable reason.
    pub msg_id: Option<String>,
    /// A human-readable message from the envelope, if it had one.
    pub message: Option<String>,
    /// The `action_id` the answer echoed, if any.
    pub action_id: Option<String>,
    /// The object and action of the request.
    pub obj: String,
    /// The action of the request.
    pub action: String,
    /// Per-field validation messages (`errors` in the envelope), as sent.
    pub field_errors: Option<serde_json::Value>,
    /// The `notifies` of the answer, as sent.
    pub notifies: Vec<serde_json::Value>,
    /// The start of the raw body (lossy UTF-8), bounded.
    pub raw_body: String,
    /// True when `raw_body` is shorter than the body.
    pub raw_body_truncated: bool,
}

impl fmt::Display for ApiErrorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}: HTTP {}", self.obj, self.action, self.http_status)?;
        if let Some(code) = self.code {
            write!(f, ", code {code}")?;
        } else {
            f.write_str(", not a JSON envelope")?;
        }
        if let Some(m) = &self.msg_id {
            write!(f, ", msg_id {m:?}")?;
        }
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        if let Some(fe) = &self.field_errors {
            write!(f, " (fields: {fe})")?;
        }
        if self.code.is_none() && !self.raw_body.is_empty() {
            write!(f, "; body starts {:?}", excerpt_for_message(&self.raw_body))?;
        }
        Ok(())
    }
}

fn excerpt_for_message(s: &str) -> String {
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(120).collect()
}

/// Why an answer could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolErrorReason {
    /// The body is not valid UTF-8.
    InvalidUtf8,
    /// The body is not valid JSON (or is truncated).
    InvalidJson,
    /// The JSON is valid but not the expected shape (not an object, field of the wrong type).
    UnexpectedShape,
    /// The answer echoed another `action_id` than the request's.
    ActionIdMismatch,
    /// The body is larger than the configured limit.
    BodyTooLarge,
}

impl ProtocolErrorReason {
    /// A stable snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            ProtocolErrorReason::InvalidUtf8 => "invalid_utf8",
            ProtocolErrorReason::InvalidJson => "invalid_json",
            ProtocolErrorReason::UnexpectedShape => "unexpected_shape",
            ProtocolErrorReason::ActionIdMismatch => "action_id_mismatch",
            ProtocolErrorReason::BodyTooLarge => "body_too_large",
        }
    }
}

/// Details of an answer that could not be understood.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProtocolErrorInfo {
    /// What went wrong.
    pub reason: ProtocolErrorReason,
    /// A one-line description.
    pub detail: String,
    /// Where in the JSON it went wrong (`$.body.exp`, or `line 1 column 40`), when known.
    pub path: Option<String>,
    /// The HTTP status of the answer (0 when none was read).
    pub http_status: u16,
    /// The object and action of the request.
    pub obj: String,
    /// The action of the request.
    pub action: String,
    /// A bounded excerpt of the body around the failure (lossy UTF-8).
    pub excerpt: String,
}

impl fmt::Display for ProtocolErrorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}: {}", self.obj, self.action, self.detail)?;
        if let Some(p) = &self.path {
            write!(f, " at {p}")?;
        }
        if self.http_status != 0 {
            write!(f, " (HTTP {})", self.http_status)?;
        }
        if !self.excerpt.is_empty() {
            write!(f, "; near {:?}", excerpt_for_message(&self.excerpt))?;
        }
        Ok(())
    }
}

/// Every error the SDK reports. Match on [`Error::kind`] for a stable category.
///
/// No variant ever holds a password or token: messages built from server answers
/// are excerpts of bodies, and requests are never echoed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller passed something unusable.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The connection failed.
    #[error("transport error: {0}")]
    Transport(#[source] Box<TransportErrorInfo>),
    /// A timeout ran out.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The answer could not be understood.
    #[error("protocol error: {0}")]
    Protocol(Box<ProtocolErrorInfo>),
    /// The server refused the request.
    #[error("API error: {0}")]
    Api(Box<ApiErrorInfo>),
    /// The server refused the credentials.
    #[error("authentication refused: {0}")]
    Auth(Box<ApiErrorInfo>),
    /// Logins are suspended locally after too many refusals.
    #[error(
        "login suspended locally after {failures} refused attempts; retry in {}s \
         (this protects the host from being blocked by the server's Defender)",
        retry_after.as_secs()
    )]
    AuthLockout {
        /// Consecutive refusals counted for this server.
        failures: u32,
        /// How long until a login is allowed again.
        retry_after: Duration,
    },
    /// No usable token and no stored credentials.
    #[error("not authenticated: {0}")]
    NotAuthenticated(String),
}

impl Error {
    /// The stable category of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidInput(_) => ErrorKind::InvalidInput,
            Error::Transport(_) => ErrorKind::Transport,
            Error::Timeout(_) => ErrorKind::Timeout,
            Error::Protocol(_) => ErrorKind::Protocol,
            Error::Api(_) => ErrorKind::Api,
            Error::Auth(_) => ErrorKind::Auth,
            Error::AuthLockout { .. } => ErrorKind::AuthLockout,
            Error::NotAuthenticated(_) => ErrorKind::NotAuthenticated,
        }
    }

    /// The server's answer, for `Api` and `Auth` errors.
    pub fn api_info(&self) -> Option<&ApiErrorInfo> {
        match self {
            Error::Api(i) | Error::Auth(i) => Some(i),
            _ => None,
        }
    }

    /// The details, for `Protocol` errors.
    pub fn protocol_info(&self) -> Option<&ProtocolErrorInfo> {
        match self {
            Error::Protocol(i) => Some(i),
            _ => None,
        }
    }

    /// A transport error with this cause and description.
    pub fn transport(cause: TransportCause, detail: impl Into<String>) -> Self {
        Error::Transport(Box::new(TransportErrorInfo {
            cause,
            detail: detail.into(),
            source: None,
        }))
    }

    /// A transport error keeping the transport's own error as its `source()`.
    pub fn transport_with_source(
        cause: TransportCause,
        detail: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Transport(Box::new(TransportErrorInfo {
            cause,
            detail: detail.into(),
            source: Some(std::sync::Arc::new(source)),
        }))
    }

    /// The details, for `Transport` errors.
    pub fn transport_info(&self) -> Option<&TransportErrorInfo> {
        match self {
            Error::Transport(i) => Some(i),
            _ => None,
        }
    }

    /// The message without the kind's label (`Display` is "transport error: " +
    /// this), so a front end that shows the kind itself need not cut strings.
    pub fn detail(&self) -> String {
        match self {
            Error::InvalidInput(s) | Error::Timeout(s) | Error::NotAuthenticated(s) => s.clone(),
            Error::Transport(i) => i.detail.clone(),
            Error::Protocol(i) => i.to_string(),
            Error::Api(i) | Error::Auth(i) => i.to_string(),
            Error::AuthLockout { .. } => self.to_string(),
        }
    }

    /// The HTTP status of the answer that caused this error, if there was one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Api(i) | Error::Auth(i) => Some(i.http_status),
            Error::Protocol(i) if i.http_status != 0 => Some(i.http_status),
            _ => None,
        }
    }

    /// The envelope `code` of the answer, if it was an envelope.
    pub fn api_code(&self) -> Option<i64> {
        self.api_info().and_then(|i| i.code)
    }

    /// The error for an answer whose body grew past `limit` bytes while a transport
    /// was reading it (the transport stops reading; the protocol never sees it).
    pub fn body_too_large(limit: u64, obj: &str, action: &str) -> Self {
        Error::Protocol(Box::new(ProtocolErrorInfo {
            reason: ProtocolErrorReason::BodyTooLarge,
            detail: format!("answer body exceeds the limit of {limit} bytes"),
            path: None,
            http_status: 0,
            obj: obj.to_owned(),
            action: action.to_owned(),
            excerpt: String::new(),
        }))
    }

    /// A `protocol` error for an answer that was valid JSON but made no sense in
    /// context (a repeated page, say); `path` points into the answer.
    pub fn unexpected_shape(obj: &str, action: &str, detail: String, path: &str) -> Self {
        Error::Protocol(Box::new(ProtocolErrorInfo {
            reason: ProtocolErrorReason::UnexpectedShape,
            detail,
            path: Some(path.to_owned()),
            http_status: 200,
            obj: obj.to_owned(),
            action: action.to_owned(),
            excerpt: String::new(),
        }))
    }

    /// Masks the secrets of `redactor` in every text this error holds. The client
    /// applies it to every error with the secrets of the request it belongs to:
    /// a transport or a proxy may quote what it was sent.
    pub fn redact(&mut self, redactor: &crate::Redactor) {
        if redactor.is_empty() {
            return;
        }
        let fix = |s: &mut String| {
            if let std::borrow::Cow::Owned(r) = redactor.redact(s) {
                *s = r;
            }
        };
        match self {
            Error::InvalidInput(s) | Error::Timeout(s) | Error::NotAuthenticated(s) => fix(s),
            Error::Transport(i) => fix(&mut i.detail),
            Error::Protocol(i) => {
                fix(&mut i.detail);
                i.excerpt = redactor.redact_excerpt(&i.excerpt);
            }
            Error::Api(i) | Error::Auth(i) => {
                i.message.as_mut().map(fix);
                i.msg_id.as_mut().map(fix);
                i.action_id.as_mut().map(fix);
                i.raw_body = redactor.redact_excerpt(&i.raw_body);
                if let Some(v) = &mut i.field_errors {
                    redactor.redact_value(v);
                }
                i.notifies.iter_mut().for_each(|v| redactor.redact_value(v));
            }
            Error::AuthLockout { .. } => {}
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidInput(msg.into())
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
