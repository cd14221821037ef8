//! `runtel_filter_where`: a list filter from conditions written as people write
//! them (`dt>=1704067200`, `src_name~Anna`), so C programs need not hand-write the
//! `field_list` JSON.

use std::ffi::c_char;

use ::runtel_client::Filter;

use crate::error::{runtel_error, Failure};
use crate::runtel_result;
use crate::util::{check_out, guard, str_arg, to_c_string};

/// Builds a filter's JSON (for `runtel_client_call_paged` or `runtel_records_new`)
/// from `count` conditions `FIELD OP VALUE`, OP one of `=` `!=` `<` `<=` `>` `>=`
/// `~` (contains): `"dt>=1704067200"`, `"disposition=BUSY"`. A value that parses as
/// JSON is sent as JSON (numbers, `true`, `"quoted"`), anything else as a string.
/// `any` non-zero joins the conditions with OR, zero with AND. The JSON goes into
/// `*out_json` (free with `runtel_string_free`).
///
/// # Safety
/// `conditions` points to `count` NUL-terminated strings (it may be NULL when
/// `count` is 0); `out_json` is a valid place for one pointer; `err` is NULL or
/// a valid place for one pointer.
#[no_mangle]
pub unsafe extern "C" fn runtel_filter_where(
    conditions: *const *const c_char,
    count: usize,
    any: i32,
    out_json: *mut *mut c_char,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = || -> Result<(), Failure> {
        check_out(out_json, "out_json")?;
        let texts: &[*const c_char] = if count == 0 {
            &[]
        } else if conditions.is_null() {
            return Err(Failure::null("conditions"));
        } else {
            // SAFETY: non-NULL (checked above); the caller promises `count` pointers there.
            unsafe { std::slice::from_raw_parts(conditions, count) }
        };
        let mut parsed = Vec::with_capacity(texts.len());
        for (i, &text) in texts.iter().enumerate() {
            // SAFETY: the caller promises each entry is a NUL-terminated string.
            let text = unsafe { str_arg(text, &format!("conditions[{i}]")) }?;
            parsed.push(Filter::parse_condition(text)?);
        }
        let filter = if any != 0 {
            Filter::any(parsed)
        } else {
            Filter::all(parsed)
        };
        let json = to_c_string(filter.to_json().to_string());
        // SAFETY: `out_json` passed check_out; the caller promises a valid place for one pointer.
        unsafe { *out_json = json };
        Ok(())
    };
    // SAFETY: the caller promises `err` is NULL or a valid place for one pointer.
    unsafe { guard(err, body) }
}
