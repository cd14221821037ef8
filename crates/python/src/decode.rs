//! Answer bodies decoded straight into Python objects, in one pass over the bytes
//! (no intermediate `serde_json::Value`), with the same success rule and the same
//! errors as the Rust client.
//!
//! While it builds the envelope dict, the decoder notes the few top-level fields
//! the success rule reads in a typed [`EnvelopeHead`]. A success is returned as
//! built; anything else goes to the core's parser, which names the exact error.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyList, PyString};
use runtel_client::{
    Decoder, Error, Expected, Limits, PagedRecord, RecordId, RecordsPage, Response,
};
use serde_json::Value;

use crate::build::Builder;
use crate::convert::{from_py, to_py};
use crate::json::Reader;

/// How answers were decoded, for `_decode_counts()` (tests check that every
/// success takes the fast path, i.e. that [`EnvelopeHead`] agrees with the core).
static FAST: AtomicU64 = AtomicU64::new(0);
static SLOW_OK: AtomicU64 = AtomicU64::new(0);
static SLOW_ERROR: AtomicU64 = AtomicU64::new(0);

/// ``_decode_counts()``: answers decoded in one pass (``fast``), and answers the
/// core's parser read after the head refused them, as a success (``slow_ok``,
/// which should stay 0: the head and the core disagreed) or an error
/// (``slow_error``).
#[pyfunction]
#[pyo3(name = "_decode_counts")]
pub fn decode_counts(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("fast", FAST.load(Ordering::Relaxed))?;
    d.set_item("slow_ok", SLOW_OK.load(Ordering::Relaxed))?;
    d.set_item("slow_error", SLOW_ERROR.load(Ordering::Relaxed))?;
    Ok(d)
}

/// A successful answer: the envelope as a dict, and the HTTP status.
pub struct Decoded {
    pub envelope: Py<PyDict>,
    pub http_status: u16,
}

/// Decodes an answer into a `dict` of the whole envelope.
pub struct PyEnvelopeDecoder;

impl Decoder for PyEnvelopeDecoder {
    type Output = Decoded;

    fn decode(
        &self,
        expected: Expected<'_>,
        status: u16,
        body: Vec<u8>,
        limits: &Limits,
    ) -> Result<Decoded, Error> {
        decode_answer(
            expected,
            status,
            body,
            limits,
            |_, dict, _| {
                Some(Decoded {
                    envelope: dict.unbind(),
                    http_status: status,
                })
            },
            |py, response| {
                crate::convert::map_to_py(py, response.envelope()).map(|d| Decoded {
                    envelope: d.unbind(),
                    http_status: response.http_status(),
                })
            },
        )
    }
}

/// What both decoders share: the envelope decoded into Python objects in one
/// pass, the GIL taken once, and handed to `fast` when the success rule accepts
/// it (`fast` may still decline, with `None`). Anything else goes through the
/// core's parser, which names the error, or whose answer `slow` converts.
fn decode_answer<T>(
    expected: Expected<'_>,
    status: u16,
    body: Vec<u8>,
    limits: &Limits,
    fast: impl FnOnce(Python<'_>, Bound<'_, PyDict>, &EnvelopeHead) -> Option<T>,
    slow: impl FnOnce(Python<'_>, Response) -> PyResult<T>,
) -> Result<T, Error> {
    if crate::wait::must_not_attach_here() {
        return Err(Error::InvalidInput(
            "the Python interpreter is exiting; the answer was dropped".into(),
        ));
    }
    if body.len() <= limits.max_body_bytes {
        // The network wait is over; building Python objects needs the GIL.
        let decoded = Python::attach(|py| {
            let (dict, head) = decode_envelope(py, &body)?;
            if !head.is_success(&expected, status) {
                return None;
            }
            fast(py, dict, &head)
        });
        if let Some(decoded) = decoded {
            FAST.fetch_add(1, Ordering::Relaxed);
            return Ok(decoded);
        }
    }
    // Not a success (or not decodable): the protocol's parser names the error.
    let response = runtel_client::ResponseDecoder
        .decode(expected, status, body, limits)
        .inspect_err(|_| {
            SLOW_ERROR.fetch_add(1, Ordering::Relaxed);
        })?;
    SLOW_OK.fetch_add(1, Ordering::Relaxed);
    Python::attach(|py| slow(py, response))
        .map_err(|e| Error::InvalidInput(format!("converting the answer to Python: {e}")))
}

/// A record of a `records()` page: the object as decoded (a dict), with the
/// `id` the pager reads taken out once, while the GIL was held.
pub struct PyRecord {
    obj: Py<PyAny>,
    id: Option<RecordId>,
}

impl PagedRecord for PyRecord {
    type Item = Py<PyAny>;

    fn id_text(&self) -> Option<Cow<'_, str>> {
        self.id.as_ref().map(RecordId::text)
    }

    fn id_int(&self) -> Option<i64> {
        self.id.as_ref()?.int()
    }

    fn into_item(self) -> Py<PyAny> {
        self.obj
    }
}

impl PyRecord {
    /// The record and its `id`, read as the core reads a `Value` record's.
    fn of(record: Bound<'_, PyAny>) -> PyRecord {
        let id = record
            .cast::<PyDict>()
            .ok()
            .and_then(|d| d.get_item(pyo3::intern!(d.py(), "id")).ok().flatten())
            .and_then(|id| {
                // The usual ids without a detour through `Value`.
                if let Ok(s) = id.cast::<PyString>() {
                    s.to_cow().ok().map(|s| RecordId::Text(s.into_owned()))
                } else if let Some(n) = id
                    .is_exact_instance_of::<PyInt>()
                    .then(|| id.extract::<i64>().ok())
                    .flatten()
                {
                    Some(RecordId::Int(n))
                } else {
                    from_py(&id).ok().and_then(RecordId::from_json)
                }
            });
        PyRecord {
            obj: record.unbind(),
            id,
        }
    }
}

/// Decodes list answers into pages of Python dicts for `records()`, in one
/// pass like [`PyEnvelopeDecoder`] (anything but a success with a top-level
/// `list` goes through the core's parser, as there).
pub struct PyPageDecoder;

impl Decoder for PyPageDecoder {
    type Output = RecordsPage<PyRecord>;

    fn decode(
        &self,
        expected: Expected<'_>,
        status: u16,
        body: Vec<u8>,
        limits: &Limits,
    ) -> Result<RecordsPage<PyRecord>, Error> {
        decode_answer(
            expected,
            status,
            body,
            limits,
            page_of_envelope,
            |py, response| {
                let page = RecordsPage::from_response(response);
                let records = page
                    .records
                    .iter()
                    .map(|r| to_py(py, r).map(PyRecord::of))
                    .collect::<PyResult<Vec<_>>>()?;
                Ok(RecordsPage {
                    records,
                    total_count: page.total_count,
                    notifies: page.notifies,
                    fingerprint: page.fingerprint,
                })
            },
        )
    }
}

/// The page of a successful envelope with its records in a top-level `list`
/// and its count (if any) at the top level; `None` for the other shapes, which
/// the core reads (`body.list`, a count in `body`).
fn page_of_envelope(
    _: Python<'_>,
    dict: Bound<'_, PyDict>,
    head: &EnvelopeHead,
) -> Option<RecordsPage<PyRecord>> {
    let list = dict.get_item("list").ok()??.cast_into::<PyList>().ok()?;
    let total_count = match head.total_count {
        Shape::Count => Some(dict.get_item("total_count").ok()??.extract::<u64>().ok()?),
        _ if dict.contains("body").ok()? => return None,
        _ => None,
    };
    let notifies = match dict.get_item("notifies").ok().flatten() {
        Some(n) if n.is_exact_instance_of::<PyList>() => match from_py(&n).ok()? {
            Value::Array(a) => a,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let text = |i: usize| from_py(&list.get_item(i).ok()?).ok().map(|v| v.to_string());
    let n = list.len();
    let (first, last) = match n {
        0 => (None, None),
        _ => (text(0), text(n - 1)),
    };
    let fingerprint = RecordsPage::<PyRecord>::fingerprint_of(n, first.as_deref(), last.as_deref());
    Some(RecordsPage {
        records: list.iter().map(PyRecord::of).collect(),
        total_count,
        notifies,
        fingerprint,
    })
}

/// The body as an envelope dict and its head, or None when it is not one JSON
/// object (a byte-order mark before it is skipped, as the core's parser does).
fn decode_envelope<'py>(
    py: Python<'py>,
    body: &[u8],
) -> Option<(Bound<'py, PyDict>, EnvelopeHead)> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    // UTF-8 checked once for the whole body instead of string by string (a
    // body that is not UTF-8 is not JSON: the core's parser names the error).
    let text = std::str::from_utf8(body).ok()?;
    let mut builder = Builder::new(py);
    let mut reader = Reader::new(text, &mut builder);
    let dict = PyDict::new(py);
    let mut head = EnvelopeHead::default();
    let mut position = 0;
    reader.members(|reader, key| {
        let start = reader.offset();
        let value = reader.value()?;
        let text = text[start..reader.offset()].trim_start();
        match key.as_ref() {
            // Scalars the rule reads by value, read as the core reads them (a
            // repeated key: the last wins, as in the dict and the core's map).
            "code" => head.set_code(text)?,
            "action_id" => head.set_action_id(text)?,
            "total_count" => head.total_count = Shape::of_value(&serde_json::from_str(text).ok()?),
            "notifies" => head.notifies = Shape::of(&value),
            "list" => head.list = Shape::of(&value),
            _ => {}
        }
        let key = reader.builder().key(&key, position);
        position += 1;
        dict.set_item(key, value).ok()
    })?;
    reader.end()?;
    Some((dict, head))
}

/// The top-level fields the success rule reads, as the decoder found them:
/// the same rule as `runtel_client::is_success_envelope`, on typed fields
/// instead of a map (`tests::head_agrees_with_the_core` holds them together).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct EnvelopeHead {
    /// `code` as the core reads it: an integer, or a string holding one
    /// (some back ends stringify numbers). None: absent or anything else.
    code: Option<i64>,
    /// The `action_id` echo as text: a string as sent, a number as its digits.
    /// None: absent or another type.
    action_id: Option<String>,
    notifies: Shape,
    list: Shape,
    total_count: Shape,
}

/// The JSON type of a top-level field, as far as the success rule cares.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Shape {
    #[default]
    Absent,
    Null,
    Array,
    /// An integer from 0 to `u64::MAX`: a usable `total_count`.
    Count,
    /// Anything else (an object, a string, a bool, a negative or huge or
    /// fractional number).
    Other,
}

impl Shape {
    /// The shape of a value the decoder built (only exact built-in types occur),
    /// for `notifies` and `list`, whose shapes a Python object shows exactly.
    fn of(v: &Bound<'_, PyAny>) -> Shape {
        if v.is_none() {
            Shape::Null
        } else if v.is_exact_instance_of::<PyList>() {
            Shape::Array
        } else {
            Shape::Other
        }
    }

    /// The shape of a JSON value, for `total_count`: read from its text, since
    /// `-0` and `0` are the same Python `int` but only `0` is a count.
    fn of_value(v: &Value) -> Shape {
        match v {
            Value::Null => Shape::Null,
            Value::Array(_) => Shape::Array,
            Value::Number(n) if n.is_u64() => Shape::Count,
            _ => Shape::Other,
        }
    }
}

impl EnvelopeHead {
    /// A 2xx status, `code` 200, the request's `action_id` echoed, and
    /// `notifies`/`list`/`total_count` absent or of their types.
    pub(crate) fn is_success(&self, expected: &Expected<'_>, status: u16) -> bool {
        (200..300).contains(&status)
            && self.code == Some(200)
            && self.action_id.as_deref() == Some(expected.action_id)
            && matches!(self.notifies, Shape::Absent | Shape::Array)
            && matches!(self.list, Shape::Absent | Shape::Array | Shape::Null)
            && matches!(self.total_count, Shape::Absent | Shape::Count | Shape::Null)
    }

    /// `code` from its JSON text: plain integers read directly, anything else
    /// as the core reads it (through a `Value`). None: not JSON.
    fn set_code(&mut self, json: &str) -> Option<()> {
        let body = json.strip_prefix('-').unwrap_or(json);
        self.code = if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) {
            json.parse().ok()
        } else {
            match serde_json::from_str(json).ok()? {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
        };
        Some(())
    }

    /// `action_id` from its JSON text: a string without escapes taken as it
    /// stands, anything else as the core reads it. None: not JSON.
    fn set_action_id(&mut self, json: &str) -> Option<()> {
        let plain = json
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .filter(|s| !s.contains(['"', '\\']));
        self.action_id = match plain {
            Some(s) => Some(s.to_owned()),
            None => match serde_json::from_str(json).ok()? {
                Value::String(s) => Some(s),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            },
        };
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    /// Bodies whose head the rule must judge like the core; each is also run
    /// with a wrong echo and a non-2xx status.
    const BODIES: &[&str] = &[
        r#"{"action_id":"a1","code":200}"#,
        r#"{"action_id":"a1","code":200,"notifies":[],"list":[{"id":1}],"total_count":1}"#,
        r#"{"action_id":"a1","code":"200"}"#,
        r#"{"action_id":"a1","code":" 200 "}"#,
        r#"{"action_id":"a1","code":"2OO"}"#,
        r#"{"action_id":"a1","code":200.0}"#,
        r#"{"action_id":"a1","code":2e2}"#,
        r#"{"action_id":"a1","code":true}"#,
        r#"{"action_id":"a1","code":null}"#,
        r#"{"action_id":"a1","code":404}"#,
        r#"{"action_id":"a1","code":18446744073709551816}"#,
        r#"{"action_id":"a1"}"#,
        r#"{"code":200}"#,
        r#"{"action_id":null,"code":200}"#,
        r#"{"action_id":["a1"],"code":200}"#,
        r#"{"action_id":"a2","code":200}"#,
        r#"{"action_id":12,"code":200}"#,
        r#"{"action_id":12.0,"code":200}"#,
        r#"{"action_id":"a1","code":200,"notifies":null}"#,
        r#"{"action_id":"a1","code":200,"notifies":{}}"#,
        r#"{"action_id":"a1","code":200,"notifies":"x"}"#,
        r#"{"action_id":"a1","code":200,"list":null}"#,
        r#"{"action_id":"a1","code":200,"list":{}}"#,
        r#"{"action_id":"a1","code":200,"list":0}"#,
        r#"{"action_id":"a1","code":200,"total_count":null}"#,
        r#"{"action_id":"a1","code":200,"total_count":0}"#,
        r#"{"action_id":"a1","code":200,"total_count":18446744073709551615}"#,
        r#"{"action_id":"a1","code":200,"total_count":18446744073709551616}"#,
        r#"{"action_id":"a1","code":200,"total_count":-1}"#,
        r#"{"action_id":"a1","code":200,"total_count":-0}"#,
        r#"{"action_id":"a1","code":200,"total_count":1.0}"#,
        r#"{"action_id":"a1","code":200,"total_count":1e0}"#,
        r#"{"action_id":"a1","code":200,"total_count":"1"}"#,
        r#"{"action_id":"a1","code":200,"total_count":true}"#,
        r#"{"action_id":"a1","code":200,"total_count":[]}"#,
        r#"{"action_id":"a1","code":404,"code":200}"#,
        r#"{"action_id":"a1","code":200,"code":404}"#,
        r#"{"action_id":"a1","code":200,"total_count":"1","total_count":1}"#,
        r#"{"list":{"code":200},"action_id":"a1","code":200}"#,
        // The plain forms read without serde_json, and their neighbours.
        r#"{ "action_id" : "a1" , "code" : 200 }"#,
        r#"{"action_id":"a\u0031","code":200}"#,
        r#"{"action_id":"a1\"","code":200}"#,
        r#"{"action_id":"","code":200}"#,
        r#"{"action_id":"a1","code":-200}"#,
        r#"{"action_id":"a1","code":-0}"#,
        r#"{"action_id":"a1","code":9223372036854775807}"#,
        r#"{"action_id":"a1","code":9223372036854775808}"#,
        r#"{"action_id":"a1","code":-9223372036854775809}"#,
        r#"{"action_id":12,"code":"200","action_id":"12"}"#,
    ];

    #[test]
    fn head_agrees_with_the_core() {
        Python::initialize();
        Python::attach(|py| {
            for body in BODIES {
                let (_, head) = decode_envelope(py, body.as_bytes()).expect(body);
                let map: Map<String, Value> = serde_json::from_str(body).unwrap();
                for (id, status) in [
                    ("a1", 200),
                    ("a1", 204),
                    ("a1", 500),
                    ("a1", 302),
                    ("12", 200),
                    ("x", 200),
                ] {
                    let expected = Expected::new(id, "User", "list");
                    assert_eq!(
                        head.is_success(&expected, status),
                        runtel_client::is_success_envelope(expected, status, &map),
                        "{body} echo {id} status {status}: {head:?}"
                    );
                }
            }
        });
    }

    #[test]
    fn numbers_keep_their_value() {
        Python::initialize();
        Python::attach(|py| {
            let body = br#"{"a":[18446744073709551621,-9223372036854775809,0.1,-0,-0.0,1e400,7]}"#;
            let (dict, _) = decode_envelope(py, body).unwrap();
            let a = dict.get_item("a").unwrap().unwrap();
            let shown: String = a.repr().unwrap().extract().unwrap();
            assert_eq!(
                shown,
                "[18446744073709551621, -9223372036854775809, 0.1, 0, -0.0, inf, 7]"
            );
        });
    }

    #[test]
    fn a_byte_order_mark_and_trailing_text() {
        Python::initialize();
        Python::attach(|py| {
            assert!(decode_envelope(py, b"\xEF\xBB\xBF{\"code\":200}").is_some());
            assert!(decode_envelope(py, b"{\"code\":200} x").is_none());
            assert!(decode_envelope(py, b"[1]").is_none());
        });
    }
}
