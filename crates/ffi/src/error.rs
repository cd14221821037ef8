//! `runtel_error`: the details of a failure, for C.

use std::ffi::{c_char, CStr, CString};

use ::runtel_client::{Error, TlsCause, TransportCause};

use crate::runtel_result;

/// A failure inside the library, before it becomes a `runtel_error`.
pub(crate) enum Failure {
    Sdk(Error),
    Boundary {
        code: runtel_result,
        message: String,
    },
}

impl Failure {
    pub(crate) fn null(name: &str) -> Self {
        Failure::Boundary {
            code: runtel_result::RUNTEL_ERR_NULL_ARGUMENT,
            message: format!("argument `{name}` must not be NULL"),
        }
    }

    pub(crate) fn utf8(name: &str, at: usize) -> Self {
        Failure::Boundary {
            code: runtel_result::RUNTEL_ERR_INVALID_UTF8,
            message: format!("argument `{name}` is not valid UTF-8 (bad byte at offset {at})"),
        }
    }

    pub(crate) fn invalid(message: String) -> Self {
        Failure::Sdk(Error::InvalidInput(message))
    }

    pub(crate) fn panic() -> Self {
        Failure::Boundary {
            code: runtel_result::RUNTEL_ERR_PANIC,
            message: "internal error: a panic was caught at the C boundary (please report it)"
                .into(),
        }
    }

    pub(crate) fn code(&self) -> runtel_result {
        match self {
            Failure::Sdk(e) => e.kind().into(),
            Failure::Boundary { code, .. } => *code,
        }
    }

    pub(crate) fn into_error(self) -> runtel_error {
        let code = self.code();
        match self {
            Failure::Boundary { message, .. } => runtel_error {
                code,
                message: cstring(message),
                api_code: 0,
                http_status: 0,
                msg_id: None,
                body: None,
                api_message: None,
                action_id: None,
                field_errors: None,
                retry_after_ms: -1,
                transport_cause: None,
            },
            Failure::Sdk(e) => {
                let info = e.api_info();
                runtel_error {
                    code,
                    message: cstring(e.to_string()),
                    api_code: e
                        .api_code()
                        .and_then(|c| i32::try_from(c).ok())
                        .unwrap_or(0),
                    http_status: e.http_status().map_or(0, i32::from),
                    msg_id: info.and_then(|i| i.msg_id.clone()).map(cstring),
                    body: info.map(|i| cstring(i.raw_body.clone())),
                    api_message: info.and_then(|i| i.message.clone()).map(cstring),
                    action_id: info.and_then(|i| i.action_id.clone()).map(cstring),
                    field_errors: info
                        .and_then(|i| i.field_errors.as_ref())
                        .map(|v| cstring(v.to_string())),
                    transport_cause: e.transport_info().map(|i| cause_name(i.cause)),
                    retry_after_ms: match &e {
                        Error::AuthLockout { retry_after, .. } => {
                            i64::try_from(retry_after.as_millis()).unwrap_or(i64::MAX)
                        }
                        _ => -1,
                    },
                }
            }
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Sdk(e)
    }
}

fn cstring(s: String) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

/// The details of a failure. Made by the library, freed with `runtel_error_free`.
pub struct runtel_error {
    code: runtel_result,
    message: CString,
    api_code: i32,
    http_status: i32,
    msg_id: Option<CString>,
    body: Option<CString>,
    api_message: Option<CString>,
    action_id: Option<CString>,
    field_errors: Option<CString>,
    retry_after_ms: i64,
    transport_cause: Option<&'static CStr>,
}

/// The C string of a transport cause's stable name.
fn cause_name(cause: TransportCause) -> &'static CStr {
    match cause {
        TransportCause::Dns => c"dns",
        TransportCause::Connect => c"connect",
        TransportCause::Reset => c"reset",
        TransportCause::Tls(TlsCause::UnknownIssuer) => c"tls_unknown_issuer",
        TransportCause::Tls(TlsCause::Expired) => c"tls_expired",
        TransportCause::Tls(TlsCause::WrongName) => c"tls_wrong_name",
        TransportCause::Tls(TlsCause::Other) => c"tls_other",
        TransportCause::Proxy => c"proxy",
        TransportCause::MalformedHttp => c"malformed_http",
        TransportCause::Io => c"io",
    }
}

/// The error's kind, the same value the failing function returned.
/// NULL gives `RUNTEL_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `e` is NULL or an error from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn runtel_error_kind(e: *const runtel_error) -> runtel_result {
    // SAFETY: the caller promises `e` is NULL or an error from this library not yet freed.
    unsafe { e.as_ref() }.map_or(runtel_result::RUNTEL_ERR_NULL_ARGUMENT, |e| e.code)
}

/// A one-line description (kind, HTTP status, envelope code, msg_id, message).
/// Never contains a password or token. Valid until the error is freed; "" for NULL.
///
/// # Safety
/// `e` is NULL or an error from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn runtel_error_message(e: *const runtel_error) -> *const c_char {
    // SAFETY: the caller promises `e` is NULL or an error from this library not yet freed.
    unsafe { e.as_ref() }.map_or(c"".as_ptr(), |e| e.message.as_ptr())
}

/// The envelope `code` of the server's answer, 0 if there was none.
///
/// # Safety
/// `e` is NULL or an error from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn runtel_error_api_code(e: *const runtel_error) -> i32 {
    // SAFETY: the caller promises `e` is NULL or an error from this library not yet freed.
    unsafe { e.as_ref() }.map_or(0, |e| e.api_code)
}

/// The HTTP status of the server's answer, 0 if there was none.
///
/// # Safety
/// `e` is NULL or an error from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn runtel_error_http_status(e: *const runtel_error) -> i32 {
    // SAFETY: the caller promises `e` is NULL or an error from this library not yet freed.
    unsafe { e.as_ref() }.map_or(0, |e| e.http_status)
}

/// The envelope's `msg_id`, or NULL. Valid until the error is freed.
///
/// # Safety
/// `e` is NULL or an error from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn runtel_error_msg_id(e: *const runtel_error) -> *const c_char {
    // SAFETY: the caller promises `e` is NULL or an error from this library not yet freed.
    unsafe { e.as_ref() }
        .and_then(|e| e.msg_id.as_ref())
        .map_or(std::ptr::null(), |s| s.as_ptr())
}

/// The start of the server's raw answer body (bounded, lossy UTF-8) for `api` and
/// `auth` errors, or NULL. Valid until the error is freed.
///
/// # Safety
/// `e` is NULL or an error from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn runtel_error_body(e: *const runtel_error) -> *const c_char {
    // SAFETY: the caller promises `e` is NULL or an error from this library not yet freed.
    unsafe { e.as_ref() }
        .and_then(|e| e.body.as_ref())
        .map_or(std::ptr::null(), |s| s.as_ptr())
}

/// The server's own message (the envelope's `message`), without the SDK's
/// framing, or NULL. Valid until the error is freed.
///
/// # Safety
/// `e` is NULL or an error from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn runtel_error_api_message(e: *const runtel_error) -> *const c_char {
    // SAFETY: the caller promises `e` is NULL or an error from this library not yet freed.
    unsafe { e.as_ref() }
        .and_then(|e| e.api_message.as_ref())
        .map_or(std::ptr::null(), |s| s.as_ptr())
}

/// The `action_id` the server's answer echoed, or NULL. Valid until the error is
/// freed.
///
/// # Safety
/// `e` is NULL or an error from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn runtel_error_action_id(e: *const runtel_error) -> *const c_char {
    // SAFETY: the caller promises `e` is NULL or an error from this library not yet freed.
    unsafe { e.as_ref() }
        .and_then(|e| e.action_id.as_ref())
        .map_or(std::ptr::null(), |s| s.as_ptr())
}

/// Per-field validation messages as JSON (`{"login": ["..."]}`, as the server
/// sent them), or NULL. Valid until the error is freed.
///
/// # Safety
/// `e` is NULL or an error from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn runtel_error_field_errors_json(e: *const runtel_error) -> *const c_char {
    // SAFETY: the caller promises `e` is NULL or an error from this library not yet freed.
    unsafe { e.as_ref() }
        .and_then(|e| e.field_errors.as_ref())
        .map_or(std::ptr::null(), |s| s.as_ptr())
}

/// For `RUNTEL_ERR_AUTH_LOCKOUT`: milliseconds until a login is allowed again;
/// -1 for other errors and NULL.
///
/// # Safety
/// `e` is NULL or an error from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn runtel_error_retry_after_ms(e: *const runtel_error) -> i64 {
    // SAFETY: the caller promises `e` is NULL or an error from this library not yet freed.
    unsafe { e.as_ref() }.map_or(-1, |e| e.retry_after_ms)
}

/// For `RUNTEL_ERR_TRANSPORT`: why the connection failed, as a stable name
/// (`dns`, `connect`, `reset`, `tls_unknown_issuer`, `tls_expired`,
/// `tls_wrong_name`, `tls_other`, `proxy`, `malformed_http`, `io`); NULL for other
/// errors and NULL. A static string: never freed.
///
/// # Safety
/// `e` is NULL or an error from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn runtel_error_transport_cause(e: *const runtel_error) -> *const c_char {
    // SAFETY: the caller promises `e` is NULL or an error from this library not yet freed.
    unsafe { e.as_ref() }
        .and_then(|e| e.transport_cause)
        .map_or(std::ptr::null(), CStr::as_ptr)
}

/// Frees an error. NULL is accepted.
///
/// # Safety
/// `e` is NULL or an error from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn runtel_error_free(e: *mut runtel_error) {
    if !e.is_null() {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: non-NULL, and the caller promises an error from this library not yet freed.
            drop(unsafe { Box::from_raw(e) })
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::runtel_client::ErrorKind;

    #[test]
    fn every_kind_has_its_own_code_named_like_the_kind() {
        let mut codes = std::collections::HashSet::new();
        for kind in ErrorKind::ALL {
            let code = runtel_result::from(kind);
            assert!(codes.insert(code as i32), "{kind} shares a code");
            // SAFETY: runtel_result_name returns a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(crate::runtel_result_name(code as i32)) };
            assert_eq!(name.to_str().unwrap(), kind.as_str());
        }
    }

    #[test]
    fn every_transport_cause_has_its_c_name() {
        for cause in TransportCause::ALL {
            assert_eq!(cause_name(cause).to_str().unwrap(), cause.as_str());
        }
    }
}
