//! `runtel_client`: the client handle and its calls.

use std::ffi::c_char;
use std::time::UNIX_EPOCH;

use ::runtel_client::{Call, Client};
use serde_json::Value;

use crate::error::{runtel_error, Failure};
use crate::options::runtel_options;
use crate::runtel_result;
use crate::util::{check_out, guard, json_arg, str_arg, to_c_string};

/// A client for one Runtel server. Safe to share between threads.
pub struct runtel_client {
    pub(crate) client: Client,
}

/// Makes a client with default settings for `base_url` (`https://pbx.example`).
/// Free it with `runtel_client_free`.
///
/// # Safety
/// `base_url` is a NUL-terminated string; `out` a valid place for one pointer;
/// `err` NULL or a valid place for one pointer.
#[no_mangle]
pub unsafe extern "C" fn runtel_client_new(
    base_url: *const c_char,
    out: *mut *mut runtel_client,
    err: *mut *mut runtel_error,
) -> runtel_result {
    // SAFETY: our contract is `_with_options`'s, and NULL `options` is allowed there.
    unsafe { runtel_client_new_with_options(base_url, std::ptr::null(), out, err) }
}

/// Makes a client with these options (NULL for the defaults). The options are
/// copied: the caller may free them right after.
///
/// # Safety
/// As `runtel_client_new`; `options` is NULL or an options object from this library.
#[no_mangle]
pub unsafe extern "C" fn runtel_client_new_with_options(
    base_url: *const c_char,
    options: *const runtel_options,
    out: *mut *mut runtel_client,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = || -> Result<(), Failure> {
        // SAFETY: the caller promises `base_url` is a NUL-terminated string.
        let url = unsafe { str_arg(base_url, "base_url") }?;
        check_out(out, "out")?;
        let mut builder = Client::builder(url);
        // SAFETY: the caller promises `options` is NULL or a live options object from this library.
        if let Some(o) = unsafe { options.as_ref() } {
            builder = o.apply(builder);
        }
        let client = builder.build()?;
        let handle = Box::into_raw(Box::new(runtel_client { client }));
        // SAFETY: `out` passed check_out; the caller promises a valid place for one pointer.
        unsafe { *out = handle };
        Ok(())
    };
    // SAFETY: the caller promises `err` is NULL or a valid place for one pointer.
    unsafe { guard(err, body) }
}

/// Frees a client, logging out first when it holds a token (bounded to a few
/// seconds). NULL is accepted. No other call on the client may run concurrently.
///
/// # Safety
/// `c` is NULL or a client from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn runtel_client_free(c: *mut runtel_client) {
    if !c.is_null() {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: non-NULL, and the caller promises a client from this library not yet freed.
            drop(unsafe { Box::from_raw(c) })
        }));
    }
}

/// The client behind a handle; NULL is a null-argument failure.
///
/// # Safety
/// `c` is NULL or a client from this library that is not freed during `'a`.
pub(crate) unsafe fn client_ref<'a>(c: *const runtel_client) -> Result<&'a Client, Failure> {
    // SAFETY: the caller promises `c` is NULL or a live client, not freed during `'a`.
    unsafe { c.as_ref() }
        .map(|c| &c.client)
        .ok_or_else(|| Failure::null("client"))
}

/// Logs in and remembers the credentials for automatic re-login. A refused login
/// is never retried (`RUNTEL_ERR_AUTH`); after too many in a row, logins are refused
/// locally (`RUNTEL_ERR_AUTH_LOCKOUT`).
///
/// # Safety
/// `c` is a client from this library; `login`, `password` NUL-terminated strings;
/// `err` NULL or a valid place for one pointer.
#[no_mangle]
pub unsafe extern "C" fn runtel_client_login(
    c: *mut runtel_client,
    login: *const c_char,
    password: *const c_char,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = || -> Result<(), Failure> {
        // SAFETY: the caller promises `c` is a client from this library (NULL is reported).
        let client = unsafe { client_ref(c) }?;
        // SAFETY: the caller promises `login` is a NUL-terminated string.
        let login = unsafe { str_arg(login, "login") }?;
        // SAFETY: the caller promises `password` is a NUL-terminated string.
        let password = unsafe { str_arg(password, "password") }?;
        client.login(login, password)?;
        Ok(())
    };
    // SAFETY: the caller promises `err` is NULL or a valid place for one pointer.
    unsafe { guard(err, body) }
}

/// Sends one call. `params_json` is a JSON object or NULL (for `{}`). On success
/// `*out_json` receives the whole answer envelope as UTF-8 JSON, to be freed with
/// `runtel_string_free`.
///
/// # Safety
/// `c` is a client from this library; `obj`, `action` NUL-terminated strings;
/// `params_json` NULL or one; `out_json` a valid place for one pointer; `err`
/// NULL or a valid place for one pointer.
#[no_mangle]
pub unsafe extern "C" fn runtel_client_call(
    c: *mut runtel_client,
    obj: *const c_char,
    action: *const c_char,
    params_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut runtel_error,
) -> runtel_result {
    // SAFETY: our contract is `_call_paged`'s, and NULL `filter_json` is allowed there.
    unsafe {
        runtel_client_call_paged(
            c,
            obj,
            action,
            params_json,
            -1,
            -1,
            std::ptr::null(),
            out_json,
            err,
        )
    }
}

/// Like `runtel_client_call` with the top-level paging fields of list calls:
/// `limit` and `offset` (negative to leave out) and `filter_json` (NULL to leave out).
///
/// # Safety
/// As `runtel_client_call`; `filter_json` is NULL or a NUL-terminated string.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn runtel_client_call_paged(
    c: *mut runtel_client,
    obj: *const c_char,
    action: *const c_char,
    params_json: *const c_char,
    limit: i64,
    offset: i64,
    filter_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = || -> Result<(), Failure> {
        // SAFETY: the caller promises `c` is a client from this library (NULL is reported).
        let client = unsafe { client_ref(c) }?;
        // SAFETY: the caller promises `obj` is a NUL-terminated string.
        let obj = unsafe { str_arg(obj, "obj") }?;
        // SAFETY: the caller promises `action` is a NUL-terminated string.
        let action = unsafe { str_arg(action, "action") }?;
        // SAFETY: the caller promises `params_json` is NULL or a NUL-terminated string.
        let params = unsafe { json_arg(params_json, "params_json") }?.unwrap_or(Value::Null);
        // SAFETY: the caller promises `filter_json` is NULL or a NUL-terminated string.
        let filter = unsafe { json_arg(filter_json, "filter_json") }?.unwrap_or(Value::Null);
        check_out(out_json, "out_json")?;
        let mut call = Call::new(obj, action, params)?.filter(filter)?;
        if let Ok(l) = u64::try_from(limit) {
            call = call.limit(l);
        }
        if let Ok(o) = u64::try_from(offset) {
            call = call.offset(o);
        }
        let resp = client.call_with(&call)?;
        let text =
            serde_json::to_string(resp.envelope()).map_err(|e| Failure::invalid(e.to_string()))?;
        let text = to_c_string(text);
        // SAFETY: `out_json` passed check_out; the caller promises a valid place for one pointer.
        unsafe { *out_json = text };
        Ok(())
    };
    // SAFETY: the caller promises `err` is NULL or a valid place for one pointer.
    unsafe { guard(err, body) }
}

/// Logs out (ends the token on the server). Without a token it does nothing.
///
/// # Safety
/// `c` is a client from this library; `err` NULL or a valid place for one pointer.
#[no_mangle]
pub unsafe extern "C" fn runtel_client_logout(
    c: *mut runtel_client,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = || -> Result<(), Failure> {
        // SAFETY: the caller promises `c` is a client from this library (NULL is reported).
        unsafe { client_ref(c) }?.logout()?;
        Ok(())
    };
    // SAFETY: the caller promises `err` is NULL or a valid place for one pointer.
    unsafe { guard(err, body) }
}

/// The auth info of the current login as JSON (every field of the auth answer,
/// the token masked as "***"), into `*out_json` (free with `runtel_string_free`).
/// `RUNTEL_ERR_NOT_AUTHENTICATED` when not logged in.
///
/// # Safety
/// `c` is a client from this library; `out_json` a valid place for one pointer;
/// `err` NULL or a valid place for one pointer.
#[no_mangle]
pub unsafe extern "C" fn runtel_client_auth_info_json(
    c: *mut runtel_client,
    out_json: *mut *mut c_char,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = || -> Result<(), Failure> {
        // SAFETY: the caller promises `c` is a client from this library (NULL is reported).
        let client = unsafe { client_ref(c) }?;
        check_out(out_json, "out_json")?;
        let info = client.auth_info().ok_or_else(|| {
            Failure::Sdk(::runtel_client::Error::NotAuthenticated(
                "not logged in".into(),
            ))
        })?;
        let text = to_c_string(info.to_masked_json().to_string());
        // SAFETY: `out_json` passed check_out; the caller promises a valid place for one pointer.
        unsafe { *out_json = text };
        Ok(())
    };
    // SAFETY: the caller promises `err` is NULL or a valid place for one pointer.
    unsafe { guard(err, body) }
}

/// The user id, domain id (0 for platform operators) and the token's expiry on the
/// local clock as Unix seconds, of the current login. Any out pointer may be NULL.
/// `RUNTEL_ERR_NOT_AUTHENTICATED` when not logged in.
///
/// # Safety
/// `c` is a client from this library; each out pointer is NULL or valid;
/// `err` NULL or a valid place for one pointer.
#[no_mangle]
pub unsafe extern "C" fn runtel_client_session(
    c: *mut runtel_client,
    user_id: *mut i64,
    domain_id: *mut i64,
    expires_unix: *mut i64,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = || -> Result<(), Failure> {
        // SAFETY: the caller promises `c` is a client from this library (NULL is reported).
        let client = unsafe { client_ref(c) }?;
        let info = client.auth_info().ok_or_else(|| {
            Failure::Sdk(::runtel_client::Error::NotAuthenticated(
                "not logged in".into(),
            ))
        })?;
        let expires = client
            .token_expires_at()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        // SAFETY: the caller promises `user_id` is NULL or a valid place for one i64.
        if let Some(p) = unsafe { user_id.as_mut() } {
            *p = info.user_id;
        }
        // SAFETY: the caller promises `domain_id` is NULL or a valid place for one i64.
        if let Some(p) = unsafe { domain_id.as_mut() } {
            *p = info.domain_id.unwrap_or(0);
        }
        // SAFETY: the caller promises `expires_unix` is NULL or a valid place for one i64.
        if let Some(p) = unsafe { expires_unix.as_mut() } {
            *p = expires;
        }
        Ok(())
    };
    // SAFETY: the caller promises `err` is NULL or a valid place for one pointer.
    unsafe { guard(err, body) }
}
