//! `runtel_options`: client settings, gathered before `runtel_client_new_with_options`.

use std::ffi::c_char;
use std::time::Duration;

use ::runtel_client::{ClientBuilder, RetryPolicy};

use crate::error::{runtel_error, Failure};
use crate::runtel_result;
use crate::util::{check_out, guard, opt_str_arg, str_arg};

/// Client settings. Made by `runtel_options_new` with the SDK's defaults (30 s
/// timeout, 10 s connect timeout, TLS verification on, no proxy, 3 login failures
/// before the local lock-out), freed with `runtel_options_free`.
#[derive(Default)]
pub struct runtel_options {
    timeout_ms: Option<u64>,
    connect_timeout_ms: Option<u64>,
    ca_pem: Option<Vec<u8>>,
    accept_invalid_certs: bool,
    credentials: Option<(String, String)>,
    max_auth_failures: Option<u32>,
    lockout_cooldown_s: Option<u64>,
    max_retries: Option<u32>,
    max_response_bytes: Option<u64>,
    user_agent: Option<String>,
    proxy: Option<String>,
}

impl runtel_options {
    pub(crate) fn apply(&self, mut b: ClientBuilder) -> ClientBuilder {
        if let Some(t) = self.timeout_ms {
            b = b.timeout(Duration::from_millis(t));
        }
        if let Some(t) = self.connect_timeout_ms {
            b = b.connect_timeout(Duration::from_millis(t));
        }
        if let Some(pem) = &self.ca_pem {
            b = b.root_certificates_pem(pem.clone());
        }
        b = b.danger_accept_invalid_certs(self.accept_invalid_certs);
        if let Some((l, p)) = &self.credentials {
            b = b.credentials(l, p.as_str());
        }
        if let Some(n) = self.max_auth_failures {
            b = b.max_auth_failures(n);
        }
        if let Some(s) = self.lockout_cooldown_s {
            b = b.auth_lockout_cooldown(Duration::from_secs(s));
        }
        if let Some(n) = self.max_retries {
            b = b.retry(RetryPolicy {
                max_retries: n,
                ..RetryPolicy::default()
            });
        }
        if let Some(n) = self.max_response_bytes {
            b = b.max_response_bytes(usize::try_from(n).unwrap_or(usize::MAX));
        }
        if let Some(ua) = &self.user_agent {
            b = b.user_agent(ua);
        }
        if let Some(p) = &self.proxy {
            b = b.proxy(p);
        }
        b
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
    guard(err, || {
        check_out(out, "out")?;
        *out = Box::into_raw(Box::default());
        Ok(())
    })
}

/// Frees an options object. NULL is accepted.
///
/// # Safety
/// `o` is NULL or an options object from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn runtel_options_free(o: *mut runtel_options) {
    if !o.is_null() {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(Box::from_raw(o))));
    }
}

unsafe fn with_options(
    o: *mut runtel_options,
    err: *mut *mut runtel_error,
    f: impl FnOnce(&mut runtel_options) -> Result<(), Failure>,
) -> runtel_result {
    guard(err, || {
        let o = o.as_mut().ok_or_else(|| Failure::null("options"))?;
        f(o)
    })
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
    with_options(o, err, |o| {
        if ms == 0 {
            return Err(Failure::invalid("timeout must be greater than zero".into()));
        }
        o.timeout_ms = Some(ms);
        Ok(())
    })
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
    with_options(o, err, |o| {
        if ms == 0 {
            return Err(Failure::invalid(
                "connect timeout must be greater than zero".into(),
            ));
        }
        o.connect_timeout_ms = Some(ms);
        Ok(())
    })
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
    with_options(o, err, |o| {
        let path = str_arg(path, "path")?;
        let pem = std::fs::read(path)
            .map_err(|e| Failure::invalid(format!("cannot read CA file {path:?}: {e}")))?;
        o.ca_pem = Some(pem);
        Ok(())
    })
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
    with_options(o, err, |o| {
        o.accept_invalid_certs = accept != 0;
        Ok(())
    })
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
    with_options(o, err, |o| {
        let login = str_arg(login, "login")?;
        let password = str_arg(password, "password")?;
        o.credentials = Some((login.to_owned(), password.to_owned()));
        Ok(())
    })
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
    with_options(o, err, |o| {
        o.max_auth_failures = Some(max_failures);
        if cooldown_s > 0 {
            o.lockout_cooldown_s = Some(cooldown_s);
        }
        Ok(())
    })
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
    with_options(o, err, |o| {
        o.max_retries = Some(retries);
        Ok(())
    })
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
    with_options(o, err, |o| {
        if bytes == 0 {
            return Err(Failure::invalid(
                "max response bytes must be greater than zero".into(),
            ));
        }
        o.max_response_bytes = Some(bytes);
        Ok(())
    })
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
    with_options(o, err, |o| {
        o.user_agent = opt_str_arg(ua, "user_agent")?.map(str::to_owned);
        Ok(())
    })
}

/// A proxy URL (`http://host:port`, `socks5://host:port`); NULL for none (the default;
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
    with_options(o, err, |o| {
        o.proxy = opt_str_arg(url, "url")?.map(str::to_owned);
        Ok(())
    })
}
