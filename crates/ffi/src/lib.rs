//! # runtel-ffi: the C ABI (`libruntel`, `runtel.h`)
//!
//! Conventions (after rustls-ffi):
//! - every type is an opaque handle made by a `_new` function and released by its
//!   `_free` function, which accepts NULL;
//! - functions return a [`runtel_result`]; out-parameters come last and are written
//!   only on success; `err` may be NULL, and on failure receives a `runtel_error`
//!   the caller frees with `runtel_error_free`;
//! - strings are UTF-8 and NUL-terminated; strings returned through `char **` are
//!   owned by the caller and freed with `runtel_string_free`; `const char *`
//!   returned by accessors live as long as the object they came from;
//! - no panic crosses the boundary: each entry point catches it and returns
//!   `RUNTEL_ERR_PANIC`;
//! - a `runtel_client` may be used from several threads at once; only
//!   `runtel_client_free` must not race with other calls on it.
//!
//! All behaviour comes from `runtel-client`; this crate only converts.
#![allow(non_camel_case_types)]
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod client;
mod error;
mod filter;
mod logging;
mod options;
mod records;
mod util;

pub use client::*;
pub use error::*;
pub use filter::*;
pub use logging::*;
pub use options::*;
pub use records::*;
pub use util::runtel_string_free;

use ::runtel_client::ErrorKind;

/// The result of every fallible function. `RUNTEL_OK` is 0; each error kind of the
/// SDK has its own value, plus three for problems at the C boundary itself.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum runtel_result {
    /// Success.
    RUNTEL_OK = 0,
    /// An argument was unusable (empty object name, params not a JSON object, bad URL).
    RUNTEL_ERR_INVALID_INPUT = 1,
    /// The connection failed (DNS, refused, reset, TLS).
    RUNTEL_ERR_TRANSPORT = 2,
    /// A timeout ran out.
    RUNTEL_ERR_TIMEOUT = 3,
    /// The answer could not be understood (bad JSON, wrong action_id, too large).
    RUNTEL_ERR_PROTOCOL = 4,
    /// The server refused the request; see `runtel_error_api_code` and friends.
    RUNTEL_ERR_API = 5,
    /// The server refused the login or password.
    RUNTEL_ERR_AUTH = 6,
    /// Logins are suspended locally after too many refusals.
    RUNTEL_ERR_AUTH_LOCKOUT = 7,
    /// No valid token and no stored credentials.
    RUNTEL_ERR_NOT_AUTHENTICATED = 8,
    /// A required pointer argument was NULL.
    RUNTEL_ERR_NULL_ARGUMENT = 9,
    /// A string argument was not valid UTF-8.
    RUNTEL_ERR_INVALID_UTF8 = 10,
    /// A bug inside the library was caught at the boundary; the handle may be unusable.
    RUNTEL_ERR_PANIC = 11,
}

impl From<ErrorKind> for runtel_result {
    fn from(k: ErrorKind) -> Self {
        match k {
            ErrorKind::InvalidInput => runtel_result::RUNTEL_ERR_INVALID_INPUT,
            ErrorKind::Transport => runtel_result::RUNTEL_ERR_TRANSPORT,
            ErrorKind::Timeout => runtel_result::RUNTEL_ERR_TIMEOUT,
            ErrorKind::Protocol => runtel_result::RUNTEL_ERR_PROTOCOL,
            ErrorKind::Api => runtel_result::RUNTEL_ERR_API,
            ErrorKind::Auth => runtel_result::RUNTEL_ERR_AUTH,
            ErrorKind::AuthLockout => runtel_result::RUNTEL_ERR_AUTH_LOCKOUT,
            ErrorKind::NotAuthenticated => runtel_result::RUNTEL_ERR_NOT_AUTHENTICATED,
        }
    }
}

/// The stable name of a result (`"ok"`, `"api"`, `"null_argument"`, ...): a static
/// string. Takes a plain `int`, because C may pass any value in an enum: an
/// unknown value gives `"unknown"` instead of undefined behaviour.
#[no_mangle]
pub extern "C" fn runtel_result_name(result: i32) -> *const std::ffi::c_char {
    use runtel_result as R;
    const NAMES: [(R, &[u8]); 12] = [
        (R::RUNTEL_OK, b"ok\0"),
        (R::RUNTEL_ERR_INVALID_INPUT, b"invalid_input\0"),
        (R::RUNTEL_ERR_TRANSPORT, b"transport\0"),
        (R::RUNTEL_ERR_TIMEOUT, b"timeout\0"),
        (R::RUNTEL_ERR_PROTOCOL, b"protocol\0"),
        (R::RUNTEL_ERR_API, b"api\0"),
        (R::RUNTEL_ERR_AUTH, b"auth\0"),
        (R::RUNTEL_ERR_AUTH_LOCKOUT, b"auth_lockout\0"),
        (R::RUNTEL_ERR_NOT_AUTHENTICATED, b"not_authenticated\0"),
        (R::RUNTEL_ERR_NULL_ARGUMENT, b"null_argument\0"),
        (R::RUNTEL_ERR_INVALID_UTF8, b"invalid_utf8\0"),
        (R::RUNTEL_ERR_PANIC, b"panic\0"),
    ];
    let s: &'static [u8] = NAMES
        .iter()
        .find(|(code, _)| *code as i32 == result)
        .map_or(b"unknown\0", |(_, name)| name);
    s.as_ptr().cast()
}

/// The library version, e.g. `"0.1.0"`: a static string.
#[no_mangle]
pub extern "C" fn runtel_version() -> *const std::ffi::c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
