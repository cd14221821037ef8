//! Conversions at the boundary: C strings in and out, and the panic guard.

use std::ffi::{c_char, CStr, CString};

use crate::error::{runtel_error, Failure};
use crate::runtel_result;

/// Reads a required C string argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid and
/// unchanged for `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: non-NULL (checked above); the caller promises a C string valid for `'a`.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|e| Failure::utf8(name, e.valid_up_to()))
}

/// Reads an optional C string argument (NULL is `None`).
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(
    p: *const c_char,
    name: &str,
) -> Result<Option<&'a str>, Failure> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: the caller promises what `str_arg` needs: `p` is NULL or a string valid for `'a`.
        unsafe { str_arg(p, name) }.map(Some)
    }
}

/// Parses a JSON argument (NULL is `None`); malformed JSON is an invalid-input error.
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn json_arg(
    p: *const c_char,
    name: &str,
) -> Result<Option<serde_json::Value>, Failure> {
    // SAFETY: the caller promises what `opt_str_arg` needs: `p` is NULL or a NUL-terminated string.
    match unsafe { opt_str_arg(p, name) }? {
        None => Ok(None),
        Some(text) => serde_json::from_str(text)
            .map(Some)
            .map_err(|e| Failure::invalid(format!("{name} is not valid JSON: {e}"))),
    }
}

/// A string for C, owned by the caller; interior NULs (impossible in JSON output)
/// are replaced rather than failing.
pub(crate) fn to_c_string(s: String) -> *mut c_char {
    match CString::new(s) {
        Ok(c) => c.into_raw(),
        Err(e) => {
            let bytes: Vec<u8> = e
                .into_vec()
                .into_iter()
                .map(|b| if b == 0 { b' ' } else { b })
                .collect();
            CString::new(bytes)
                .map(CString::into_raw)
                .unwrap_or(std::ptr::null_mut())
        }
    }
}

/// Frees a string returned by this library through a `char **` out-parameter.
/// NULL is accepted.
///
/// # Safety
/// `s` is NULL or a string from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn runtel_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: non-NULL, and the caller promises a string from `to_c_string` not yet freed.
        let _ = std::panic::catch_unwind(|| drop(unsafe { CString::from_raw(s) }));
    }
}

/// Runs `body` behind a panic guard, reporting failures through `err`.
///
/// # Safety
/// `err` is NULL or a valid place to store one pointer.
pub(crate) unsafe fn guard<F>(err: *mut *mut runtel_error, body: F) -> runtel_result
where
    F: FnOnce() -> Result<(), Failure>,
{
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
    let failure = match outcome {
        Ok(Ok(())) => return runtel_result::RUNTEL_OK,
        Ok(Err(f)) => f,
        Err(_) => Failure::panic(),
    };
    let code = failure.code();
    if !err.is_null() {
        let error = Box::into_raw(Box::new(failure.into_error()));
        // SAFETY: `err` is non-NULL here, and the caller promises it is a valid place for one pointer.
        unsafe { *err = error };
    }
    code
}

/// Checks that an out-parameter is not NULL (done before any work, so that a NULL
/// one fails without side effects). It does not write it.
pub(crate) fn check_out<T>(out: *mut T, name: &str) -> Result<(), Failure> {
    if out.is_null() {
        Err(Failure::null(name))
    } else {
        Ok(())
    }
}
