//! `runtel_options`: client settings, gathered before `runtel_client_new_with_options`.

use std::ffi::c_char;
use std::time::Duration;

use ::runtel_client::{ClientBuilder, ClientOptions, Secret};

use crate::error::{runtel_error, Failure};
use crate::runtel_result;
use crate::util::{check_out, guard, json_arg, opt_str_arg, str_arg, to_c_string};

/// Client settings: the SDK's one [`ClientOptions`] table (30 s timeout, 10 s
/// connect timeout, TLS verification on, no proxy, 3 login failures before the
/// local lock-out, ...). Made by `runtel_options_new` with the defaults, freed
/// with `runtel_options_free`. Every option can be set by name with
/// `runtel_options_set` (their names: `runtel_options_name`); the typed setters
/// below are shortcuts for the common ones. An options object is for one thread
/// at a time (set it up, make clients from it, free it).
#[derive(Default)]
pub struct runtel_options {
    options: ClientOptions,
}

/// Milliseconds from C as a bounded duration (the one rule of every front end:
/// at most 30 days), so the options never hold a value `runtel_options_set`
/// would later refuse.
fn millis(name: &str, ms: u64) -> Result<Duration, Failure> {
    Ok(::runtel_client::duration_from_secs(
        name,
        ms as f64 / 1000.0,
    )?)
}

impl runtel_options {
    pub(crate) fn apply(&self, b: ClientBuilder) -> ClientBuilder {
        b.options(self.options.clone())
    }
}

/// Makes an options object with the defaults. Free it with `runtel_options_free`.
///
/// # Safety
/// `out` is a valid place for one pointer; `err` is NULL or one too.
#[no_mangle]
pub unsafe extern "C" fn runtel_options_new(
    out: *mut *mut runtel_options,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = || -> Result<(), Failure> {
        check_out(out, "out")?;
        let handle = Box::into_raw(Box::default());
        // SAFETY: `out` passed check_out; the caller promises a valid place for one pointer.
        unsafe { *out = handle };
        Ok(())
    };
    // SAFETY: the caller promises `err` is NULL or a valid place for one pointer.
    unsafe { guard(err, body) }
}

/// Frees an options object. NULL is accepted.
///
/// # Safety
/// `o` is NULL or an options object from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn runtel_options_free(o: *mut runtel_options) {
    if !o.is_null() {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: non-NULL, and the caller promises options from this library not yet freed.
            drop(unsafe { Box::from_raw(o) })
        }));
    }
}

/// Runs `f` on the options behind `o` (NULL is a null-argument failure) behind the
/// panic guard.
///
/// # Safety
/// `o` is NULL or an options object from this library, not freed or used elsewhere
/// during the call; `err` is NULL or a valid place for one pointer.
unsafe fn with_options(
    o: *mut runtel_options,
    err: *mut *mut runtel_error,
    f: impl FnOnce(&mut runtel_options) -> Result<(), Failure>,
) -> runtel_result {
    let body = || -> Result<(), Failure> {
        // SAFETY: the caller promises `o` is NULL or a live options object not used elsewhere meanwhile.
        let o = unsafe { o.as_mut() }.ok_or_else(|| Failure::null("options"))?;
        f(o)
    };
    // SAFETY: the caller promises `err` is NULL or a valid place for one pointer.
    unsafe { guard(err, body) }
}

/// Overall time for one HTTP exchange in milliseconds (must be > 0).
///
/// # Safety
/// `o` is an options object from this library; `err` is NULL or a valid place for one pointer.
#[no_mangle]
pub unsafe extern "C" fn runtel_options_set_timeout_ms(
    o: *mut runtel_options,
    ms: u64,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = |o: &mut runtel_options| -> Result<(), Failure> {
        if ms == 0 {
            return Err(Failure::invalid("timeout must be greater than zero".into()));
        }
        o.options.timeout = millis("timeout", ms)?;
        Ok(())
    };
    // SAFETY: the caller promises `o` is an options object from this library and `err` NULL or valid.
    unsafe { with_options(o, err, body) }
}

/// Time to establish a connection in milliseconds (must be > 0).
///
/// # Safety
/// As `runtel_options_set_timeout_ms`.
#[no_mangle]
pub unsafe extern "C" fn runtel_options_set_connect_timeout_ms(
    o: *mut runtel_options,
    ms: u64,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = |o: &mut runtel_options| -> Result<(), Failure> {
        if ms == 0 {
            return Err(Failure::invalid(
                "connect timeout must be greater than zero".into(),
            ));
        }
        o.options.connect_timeout = millis("connect_timeout", ms)?;
        Ok(())
    };
    // SAFETY: the caller promises `o` is an options object from this library and `err` NULL or valid.
    unsafe { with_options(o, err, body) }
}

/// Trusts the certificates in this PEM file instead of the public roots (a private
/// CA or a PBX's self-signed certificate). The file is read now.
///
/// # Safety
/// As `runtel_options_set_timeout_ms`; `path` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn runtel_options_set_ca_file(
    o: *mut runtel_options,
    path: *const c_char,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = |o: &mut runtel_options| -> Result<(), Failure> {
        // SAFETY: the caller promises `path` is a NUL-terminated string.
        let path = unsafe { str_arg(path, "path") }?;
        // Read now, so a wrong path is reported here and not at the first call.
        std::fs::read(path)
            .map_err(|e| Failure::invalid(format!("cannot read CA file {path:?}: {e}")))?;
        o.options.ca_file = Some(path.into());
        Ok(())
    };
    // SAFETY: the caller promises `o` is an options object from this library and `err` NULL or valid.
    unsafe { with_options(o, err, body) }
}

/// Accepts invalid certificates when `accept` is non-zero. Dangerous: anyone on
/// the path can read the password and token. Prefer `runtel_options_set_ca_file`.
///
/// # Safety
/// As `runtel_options_set_timeout_ms`.
#[no_mangle]
pub unsafe extern "C" fn runtel_options_set_accept_invalid_certs(
    o: *mut runtel_options,
    accept: i32,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = |o: &mut runtel_options| -> Result<(), Failure> {
        o.options.accept_invalid_certs = accept != 0;
        Ok(())
    };
    // SAFETY: the caller promises `o` is an options object from this library and `err` NULL or valid.
    unsafe { with_options(o, err, body) }
}

/// Stores credentials: the client logs in lazily and again when the token expires.
/// The strings are copied.
///
/// # Safety
/// As `runtel_options_set_timeout_ms`; `login` and `password` are NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn runtel_options_set_credentials(
    o: *mut runtel_options,
    login: *const c_char,
    password: *const c_char,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = |o: &mut runtel_options| -> Result<(), Failure> {
        // SAFETY: the caller promises `login` is a NUL-terminated string.
        let login = unsafe { str_arg(login, "login") }?;
        // SAFETY: the caller promises `password` is a NUL-terminated string.
        let password = unsafe { str_arg(password, "password") }?;
        o.options.login = Some(login.to_owned());
        o.options.password = Some(Secret::new(password));
        Ok(())
    };
    // SAFETY: the caller promises `o` is an options object from this library and `err` NULL or valid.
    unsafe { with_options(o, err, body) }
}

/// Refused logins in a row before logins are refused locally (default 3), and the
/// cool-down in seconds (default 900; 0 keeps the default).
///
/// # Safety
/// As `runtel_options_set_timeout_ms`.
#[no_mangle]
pub unsafe extern "C" fn runtel_options_set_max_auth_failures(
    o: *mut runtel_options,
    max_failures: u32,
    cooldown_s: u64,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = |o: &mut runtel_options| -> Result<(), Failure> {
        o.options.max_auth_failures = max_failures;
        if cooldown_s > 0 {
            o.options.auth_lockout_cooldown =
                millis("auth_lockout_cooldown", cooldown_s.saturating_mul(1000))?;
        }
        Ok(())
    };
    // SAFETY: the caller promises `o` is an options object from this library and `err` NULL or valid.
    unsafe { with_options(o, err, body) }
}

/// Retries of idempotent calls after connection errors and 502/503/504 (default 2; 0 disables).
///
/// # Safety
/// As `runtel_options_set_timeout_ms`.
#[no_mangle]
pub unsafe extern "C" fn runtel_options_set_max_retries(
    o: *mut runtel_options,
    retries: u32,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = |o: &mut runtel_options| -> Result<(), Failure> {
        o.options.max_retries = retries;
        Ok(())
    };
    // SAFETY: the caller promises `o` is an options object from this library and `err` NULL or valid.
    unsafe { with_options(o, err, body) }
}

/// The largest answer body accepted in bytes, after decompression (default 64 MiB).
///
/// # Safety
/// As `runtel_options_set_timeout_ms`.
#[no_mangle]
pub unsafe extern "C" fn runtel_options_set_max_response_bytes(
    o: *mut runtel_options,
    bytes: u64,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = |o: &mut runtel_options| -> Result<(), Failure> {
        if bytes == 0 {
            return Err(Failure::invalid(
                "max response bytes must be greater than zero".into(),
            ));
        }
        o.options.max_response_bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
        Ok(())
    };
    // SAFETY: the caller promises `o` is an options object from this library and `err` NULL or valid.
    unsafe { with_options(o, err, body) }
}

/// The `User-Agent` header; NULL restores the default.
///
/// # Safety
/// As `runtel_options_set_timeout_ms`; `ua` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn runtel_options_set_user_agent(
    o: *mut runtel_options,
    ua: *const c_char,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = |o: &mut runtel_options| -> Result<(), Failure> {
        // SAFETY: the caller promises `ua` is NULL or a NUL-terminated string.
        o.options.user_agent = unsafe { opt_str_arg(ua, "user_agent") }?.map(str::to_owned);
        Ok(())
    };
    // SAFETY: the caller promises `o` is an options object from this library and `err` NULL or valid.
    unsafe { with_options(o, err, body) }
}

/// An HTTP proxy URL (`http://host:port`; SOCKS is refused); NULL for none (the default;
/// the environment is not consulted).
///
/// # Safety
/// As `runtel_options_set_timeout_ms`; `url` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn runtel_options_set_proxy(
    o: *mut runtel_options,
    url: *const c_char,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = |o: &mut runtel_options| -> Result<(), Failure> {
        // SAFETY: the caller promises `url` is NULL or a NUL-terminated string.
        o.options.proxy = unsafe { opt_str_arg(url, "url") }?.map(str::to_owned);
        Ok(())
    };
    // SAFETY: the caller promises `o` is an options object from this library and `err` NULL or valid.
    unsafe { with_options(o, err, body) }
}

/// Log in again this long (milliseconds) before the token expires (default
/// 60000; at most a quarter of the token's lifetime is used).
///
/// # Safety
/// As `runtel_options_set_timeout_ms`.
#[no_mangle]
pub unsafe extern "C" fn runtel_options_set_relogin_margin_ms(
    o: *mut runtel_options,
    ms: u64,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = |o: &mut runtel_options| -> Result<(), Failure> {
        o.options.relogin_margin = millis("relogin_margin", ms)?;
        Ok(())
    };
    // SAFETY: the caller promises `o` is an options object from this library and `err` NULL or valid.
    unsafe { with_options(o, err, body) }
}

/// Whether `runtel_client_free` logs out (non-zero, the default) or leaves the
/// token valid (0, e.g. when it is saved for another process).
///
/// # Safety
/// As `runtel_options_set_timeout_ms`.
#[no_mangle]
pub unsafe extern "C" fn runtel_options_set_logout_on_free(
    o: *mut runtel_options,
    logout: i32,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = |o: &mut runtel_options| -> Result<(), Failure> {
        o.options.logout_on_drop = logout != 0;
        Ok(())
    };
    // SAFETY: the caller promises `o` is an options object from this library and `err` NULL or valid.
    unsafe { with_options(o, err, body) }
}

/// Sets any option by name from a JSON value: `"timeout"` to `"12.5"` (seconds),
/// `"proxy"` to `"\"http://proxy:3128\""`, `"max_retries"` to `"0"`; `"null"`
/// restores the default. Every name is listed by `runtel_options_name`; an
/// unknown name or a value of the wrong type is `RUNTEL_ERR_INVALID_INPUT`
/// naming the option (and the nearest valid name for a typo).
///
/// # Safety
/// As `runtel_options_set_timeout_ms`; `name` and `value_json` are
/// NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn runtel_options_set(
    o: *mut runtel_options,
    name: *const c_char,
    value_json: *const c_char,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = |o: &mut runtel_options| -> Result<(), Failure> {
        // SAFETY: the caller promises `name` is a NUL-terminated string.
        let name = unsafe { str_arg(name, "name") }?;
        // SAFETY: the caller promises `value_json` is a NUL-terminated string (NULL is reported).
        let value = unsafe { json_arg(value_json, "value_json") }?
            .ok_or_else(|| Failure::null("value_json"))?;
        o.options.set(name, value)?;
        Ok(())
    };
    // SAFETY: the caller promises `o` is an options object from this library and `err` NULL or valid.
    unsafe { with_options(o, err, body) }
}

/// The current value of an option as JSON into `*out_json` (free with
/// `runtel_string_free`); the password reads as `"***"`.
///
/// # Safety
/// `o` is an options object from this library; `name` a NUL-terminated string;
/// `out_json` a valid place for one pointer; `err` NULL or one too.
#[no_mangle]
pub unsafe extern "C" fn runtel_options_get(
    o: *const runtel_options,
    name: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = || -> Result<(), Failure> {
        // SAFETY: the caller promises `o` is an options object from this library (NULL is reported).
        let o = unsafe { o.as_ref() }.ok_or_else(|| Failure::null("options"))?;
        // SAFETY: the caller promises `name` is a NUL-terminated string.
        let name = unsafe { str_arg(name, "name") }?;
        check_out(out_json, "out_json")?;
        let all = o.options.to_json();
        let value = all.get(name).ok_or_else(|| {
            Failure::invalid(format!("unknown option `{name}` (see runtel_options_name)"))
        })?;
        let text = to_c_string(value.to_string());
        // SAFETY: `out_json` passed check_out; the caller promises a valid place for one pointer.
        unsafe { *out_json = text };
        Ok(())
    };
    // SAFETY: the caller promises `err` is NULL or a valid place for one pointer.
    unsafe { guard(err, body) }
}

/// The name of option number `index` (0, 1, ...), or NULL past the last one.
/// A static string: never freed.
#[no_mangle]
pub extern "C" fn runtel_options_name(index: usize) -> *const c_char {
    static NAMES: std::sync::OnceLock<Vec<std::ffi::CString>> = std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        ClientOptions::NAMES
            .iter()
            .map(|n| std::ffi::CString::new(*n).expect("option names have no NUL"))
            .collect()
    });
    names.get(index).map_or(std::ptr::null(), |n| n.as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn every_option_is_named_for_c() {
        let mut i = 0;
        while !runtel_options_name(i).is_null() {
            // SAFETY: a non-NULL result is a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(runtel_options_name(i)) };
            assert_eq!(name.to_str().unwrap(), ClientOptions::NAMES[i]);
            i += 1;
        }
        assert_eq!(i, ClientOptions::NAMES.len());
    }
}
