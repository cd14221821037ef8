//! `runtel_records`: a cursor over every record of a list action, page by page.

use std::ffi::c_char;

use ::runtel_client::Records;
use serde_json::Value;

use crate::client::{client_ref, runtel_client};
use crate::error::{runtel_error, Failure};
use crate::runtel_result;
use crate::util::{check_out, guard, json_arg, str_arg, to_c_string};

/// A paging cursor. Holds one page in memory; keeps the client alive. Unlike a
/// client, a cursor is for one thread at a time: calls on one cursor from two
/// threads at once are a data race.
pub struct runtel_records {
    records: Records,
}

/// Makes a cursor over `obj`'s list action `action` (NULL for `list`; or
/// `list_with_detail`, ...), `page_size` records per request, starting at
/// `start_offset` (0 for the beginning; an interrupted export resumes there), with
/// optional `params_json` and `filter_json` (NULL to leave out). No request is sent
/// until the first `runtel_records_next`. Free with `runtel_records_free`.
///
/// # Safety
/// `c` is a client from this library; `obj` a NUL-terminated string; `action` and
/// the JSON arguments NULL or NUL-terminated; `out` a valid place for one pointer;
/// `err` NULL or a valid place for one pointer.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn runtel_records_new(
    c: *mut runtel_client,
    obj: *const c_char,
    action: *const c_char,
    params_json: *const c_char,
    filter_json: *const c_char,
    page_size: u64,
    start_offset: u64,
    out: *mut *mut runtel_records,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = || -> Result<(), Failure> {
        // SAFETY: the caller promises `c` is a client from this library (NULL is reported).
        let client = unsafe { client_ref(c) }?;
        // SAFETY: the caller promises `obj` is a NUL-terminated string.
        let obj = unsafe { str_arg(obj, "obj") }?;
        let action = if action.is_null() {
            "list"
        } else {
            // SAFETY: the caller promises `action` is NULL or a NUL-terminated string.
            unsafe { str_arg(action, "action") }?
        };
        // SAFETY: the caller promises `params_json` is NULL or a NUL-terminated string.
        let params = unsafe { json_arg(params_json, "params_json") }?.unwrap_or(Value::Null);
        // SAFETY: the caller promises `filter_json` is NULL or a NUL-terminated string.
        let filter = unsafe { json_arg(filter_json, "filter_json") }?.unwrap_or(Value::Null);
        check_out(out, "out")?;
        let records = client
            .records(obj, params, page_size)?
            .action(action)?
            .filter(filter)?
            .starting_at(start_offset);
        let handle = Box::into_raw(Box::new(runtel_records { records }));
        // SAFETY: `out` passed check_out; the caller promises a valid place for one pointer.
        unsafe { *out = handle };
        Ok(())
    };
    // SAFETY: the caller promises `err` is NULL or a valid place for one pointer.
    unsafe { guard(err, body) }
}

/// The offset of the next record the cursor will give (where to resume).
/// -1 for NULL.
///
/// # Safety
/// `r` is NULL or a cursor from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn runtel_records_position(r: *const runtel_records) -> i64 {
    // SAFETY: the caller promises `r` is NULL or a cursor from this library not yet freed.
    unsafe { r.as_ref() }
        .and_then(|r| i64::try_from(r.records.position()).ok())
        .unwrap_or(-1)
}

/// The next record as JSON into `*out_json` (free with `runtel_string_free`), or
/// NULL into `*out_json` when there are no more. After an error the cursor is done.
///
/// # Safety
/// `r` is a cursor from this library; `out_json` a valid place for one pointer;
/// `err` NULL or a valid place for one pointer.
#[no_mangle]
pub unsafe extern "C" fn runtel_records_next(
    r: *mut runtel_records,
    out_json: *mut *mut c_char,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = || -> Result<(), Failure> {
        // SAFETY: the caller promises `r` is a cursor from this library (NULL is reported).
        let r = unsafe { r.as_mut() }.ok_or_else(|| Failure::null("records"))?;
        check_out(out_json, "out_json")?;
        let text = match r.records.next() {
            None => std::ptr::null_mut(),
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(v)) => to_c_string(v.to_string()),
        };
        // SAFETY: `out_json` passed check_out; the caller promises a valid place for one pointer.
        unsafe { *out_json = text };
        Ok(())
    };
    // SAFETY: the caller promises `err` is NULL or a valid place for one pointer.
    unsafe { guard(err, body) }
}

/// The `total_count` the server reported with the last page, or -1 before the
/// first page (or when the server sends none). -1 for NULL.
///
/// # Safety
/// `r` is NULL or a cursor from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn runtel_records_total_count(r: *const runtel_records) -> i64 {
    // SAFETY: the caller promises `r` is NULL or a cursor from this library not yet freed.
    unsafe { r.as_ref() }
        .and_then(|r| r.records.total_count())
        .and_then(|n| i64::try_from(n).ok())
        .unwrap_or(-1)
}

/// Once `runtel_records_next` has given NULL (the end): how many records short
/// of the last announced `total_count` the list ended, or -1 when it reached it
/// (or no count was sent). An export should treat a value >= 0 as incomplete.
/// -1 for NULL.
///
/// # Safety
/// `r` is NULL or a cursor from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn runtel_records_shortfall(r: *const runtel_records) -> i64 {
    // SAFETY: the caller promises `r` is NULL or a cursor from this library not yet freed.
    unsafe { r.as_ref() }
        .and_then(|r| r.records.shortfall())
        .and_then(|n| i64::try_from(n).ok())
        .unwrap_or(-1)
}

/// The `notifies` of every page fetched so far (each distinct message once, e.g.
/// a low-balance notice) as a JSON array into `*out_json` (free with
/// `runtel_string_free`).
///
/// # Safety
/// `r` is a cursor from this library; `out_json` a valid place for one pointer;
/// `err` NULL or a valid place for one pointer.
#[no_mangle]
pub unsafe extern "C" fn runtel_records_notifies_json(
    r: *const runtel_records,
    out_json: *mut *mut c_char,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = || -> Result<(), Failure> {
        // SAFETY: the caller promises `r` is a cursor from this library (NULL is reported).
        let r = unsafe { r.as_ref() }.ok_or_else(|| Failure::null("records"))?;
        check_out(out_json, "out_json")?;
        let text = to_c_string(Value::Array(r.records.notifies().to_vec()).to_string());
        // SAFETY: `out_json` passed check_out; the caller promises a valid place for one pointer.
        unsafe { *out_json = text };
        Ok(())
    };
    // SAFETY: the caller promises `err` is NULL or a valid place for one pointer.
    unsafe { guard(err, body) }
}

/// Frees a cursor. NULL is accepted.
///
/// # Safety
/// `r` is NULL or a cursor from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn runtel_records_free(r: *mut runtel_records) {
    if !r.is_null() {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: non-NULL, and the caller promises a cursor from this library not yet freed.
            drop(unsafe { Box::from_raw(r) })
        }));
    }
}
