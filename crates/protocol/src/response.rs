//! Parsing answers: success envelopes and the three error shapes of
//! `docs/api-reference.md`, section 3.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{ApiErrorInfo, Error, ProtocolErrorInfo, ProtocolErrorReason, Result};
use crate::redact::Redactor;
use crate::request::{json_type_name, HttpRequest};
use crate::secret::Secret;

/// Bounds on what an answer may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest body accepted, in bytes, after decompression (default 64 MiB).
    /// A `list` page of 100,000 CDRs is about 25 MB; page with `limit` for more.
    pub max_body_bytes: usize,
    /// How much of a raw body an error keeps (and shows), in bytes.
    pub error_excerpt_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024 * 1024,
            error_excerpt_bytes: 2048,
        }
    }
}

/// What the parser must know of the request an answer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected<'a> {
    /// The `action_id` the answer must echo.
    pub action_id: &'a str,
    /// The request's object, for error messages.
    pub obj: &'a str,
    /// The request's action, for error messages.
    pub action: &'a str,
    /// The secrets the request carried (token or password): masked in every
    /// excerpt, message and field error made of the answer.
    pub secrets: &'a [Secret],
}

impl<'a> Expected<'a> {
    /// What to expect of the answer to a request that carried no secret.
    pub fn new(action_id: &'a str, obj: &'a str, action: &'a str) -> Self {
        Expected {
            action_id,
            obj,
            action,
            secrets: &[],
        }
    }

    /// True for the answer to `auth`: it may carry a token even when malformed,
    /// so no excerpt of it is ever kept.
    pub fn is_auth(&self) -> bool {
        self.action == "auth"
    }

    /// The redactor for text taken from this answer.
    fn redactor(&self) -> Redactor {
        Redactor::new(self.secrets)
    }
}

impl<'a> From<&'a HttpRequest> for Expected<'a> {
    fn from(r: &'a HttpRequest) -> Self {
        Expected {
            action_id: &r.action_id,
            obj: &r.obj,
            action: &r.action,
            secrets: r.secrets(),
        }
    }
}

/// A successful answer: the whole envelope, every top-level field kept.
///
/// The accessors read the known fields; [`Response::get`] and
/// [`Response::envelope`] reach anything else the server sent.
#[derive(Debug, Clone)]
pub struct Response {
    envelope: Map<String, Value>,
    http_status: u16,
    /// The secrets the request carried: errors made from this answer later
    /// (`records_as`, `body_as`) mask them where the server echoed them.
    secrets: Vec<Secret>,
}

/// Two answers are equal when they hold the same envelope and status.
impl PartialEq for Response {
    fn eq(&self, other: &Response) -> bool {
        self.envelope == other.envelope && self.http_status == other.http_status
    }
}

const EMPTY: &[Value] = &[];

impl Response {
    /// The `action` the server echoed (empty if it sent none).
    pub fn action(&self) -> &str {
        self.str_field("action")
    }

    /// The `action_id` the server echoed (checked against the request's).
    pub fn action_id(&self) -> &str {
        self.str_field("action_id")
    }

    /// The `obj` the server echoed (empty if it sent none).
    pub fn obj(&self) -> &str {
        self.str_field("obj")
    }

    /// The envelope `code` (always 200 for a `Response`).
    pub fn code(&self) -> i64 {
        self.envelope
            .get("code")
            .and_then(code_of)
            .unwrap_or_default()
    }

    /// The HTTP status of the answer.
    pub fn http_status(&self) -> u16 {
        self.http_status
    }

    /// The `notifies` list (empty when absent).
    pub fn notifies(&self) -> &[Value] {
        match self.envelope.get("notifies") {
            Some(Value::Array(a)) => a,
            _ => EMPTY,
        }
    }

    /// The `body` (`Value::Null` when absent).
    pub fn body(&self) -> &Value {
        self.envelope.get("body").unwrap_or(&Value::Null)
    }

    /// The top-level `list` of a list answer, if present.
    pub fn list(&self) -> Option<&[Value]> {
        match self.envelope.get("list") {
            Some(Value::Array(a)) => Some(a),
            _ => None,
        }
    }

    /// The `total_count` of a list answer wherever the server put it: at the top
    /// level, else in `body` (as [`Response::records`] looks for the list).
    pub fn total_count(&self) -> Option<u64> {
        self.envelope
            .get("total_count")
            .and_then(Value::as_u64)
            .or_else(|| self.body().get("total_count").and_then(Value::as_u64))
    }

    /// The records of a list answer wherever the server put them: the top-level
    /// `list`, else `body.list`, else `body` itself when it is an array.
    pub fn records(&self) -> &[Value] {
        if let Some(l) = self.list() {
            return l;
        }
        match self.body() {
            Value::Object(b) => match b.get("list") {
                Some(Value::Array(a)) => a,
                _ => EMPTY,
            },
            Value::Array(a) => a,
            _ => EMPTY,
        }
    }

    /// The record of a `get` answer: `body` when it is a non-empty object,
    /// else the only element of a one-element `list`.
    pub fn record(&self) -> Option<&Value> {
        match self.body() {
            Value::Object(b) if !b.is_empty() && !b.get("list").is_some_and(Value::is_array) => {
                Some(self.body())
            }
            _ => match self.records() {
                [one] => Some(one),
                _ => None,
            },
        }
    }

    /// Any top-level field.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.envelope.get(key)
    }

    /// The whole envelope.
    pub fn envelope(&self) -> &Map<String, Value> {
        &self.envelope
    }

    /// The whole envelope, by value.
    pub fn into_envelope(self) -> Map<String, Value> {
        self.envelope
    }

    /// Takes the records out of a list answer (see [`Response::records`]).
    pub fn into_records(mut self) -> Vec<Value> {
        if let Some(Value::Array(a)) = self.envelope.remove("list") {
            return a;
        }
        match self.envelope.remove("body") {
            Some(Value::Object(mut b)) => match b.remove("list") {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            },
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        }
    }

    /// The records as typed values (`resp.records_as::<DomainCdr>()`); a record
    /// that does not fit is a protocol error naming its index and field.
    pub fn records_as<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>> {
        self.masked(
            self.records()
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    deserialize_at(
                        r,
                        &format!("$.list[{i}]"),
                        self.obj(),
                        self.action(),
                        self.http_status,
                    )
                })
                .collect(),
        )
    }

    /// Deserializes `body` into a typed value; a mismatch is a protocol error
    /// naming the JSON path (`$.body.exp`).
    pub fn body_as<T: DeserializeOwned>(&self) -> Result<T> {
        self.masked(deserialize_at(
            self.body(),
            "$.body",
            self.obj(),
            self.action(),
            self.http_status,
        ))
    }

    /// `result`, its error masking the secrets the request carried (a value
    /// that does not fit is quoted in the message, and may be an echoed token).
    fn masked<T>(&self, result: Result<T>) -> Result<T> {
        result.map_err(|mut e| {
            e.redact(&Redactor::new(&self.secrets));
            e
        })
    }

    fn str_field(&self, key: &str) -> &str {
        self.envelope
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// Deserializes `value` into `T`, reporting the JSON path of a mismatch under `root`.
pub(crate) fn deserialize_at<T: DeserializeOwned>(
    value: &Value,
    root: &str,
    obj: &str,
    action: &str,
    http_status: u16,
) -> Result<T> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let inner = e.path().to_string();
        let path = if inner == "." {
            root.to_owned()
        } else {
            format!("{root}.{inner}")
        };
        // The excerpt must not show a token or password the value may hold.
        let mut masked = value.clone();
        crate::request::mask_secrets_in(&mut masked);
        let excerpt = masked.to_string();
        Error::Protocol(Box::new(ProtocolErrorInfo {
            reason: ProtocolErrorReason::UnexpectedShape,
            detail: e.inner().to_string(),
            path: Some(path),
            http_status,
            obj: obj.to_owned(),
            action: action.to_owned(),
            excerpt: bounded(&excerpt, 200).0,
        }))
    })
}

fn code_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        // Tolerate "200": some PHP/Python back ends stringify numbers.
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The first `max` bytes of `s`, cut on a character boundary, and whether it was cut.
fn bounded(s: &str, max: usize) -> (String, bool) {
    if s.len() <= max {
        return (s.to_owned(), false);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (s[..end].to_owned(), true)
}

fn lossy_excerpt(body: &[u8], max: usize) -> (String, bool) {
    let head = &body[..body.len().min(max)];
    let lossy = String::from_utf8_lossy(head);
    // Each invalid byte becomes a 3-byte replacement character: bound the text
    // itself, not only the bytes it came from.
    let (mut s, cut_text) = bounded(&lossy, max);
    let cut = cut_text || body.len() > max;
    // A multi-byte character cut in half shows as a replacement char at the end.
    if cut && s.ends_with('\u{FFFD}') {
        s.pop();
    }
    (s, cut)
}

/// Parses one answer.
///
/// `status` is the HTTP status and `body` the whole body as read. Success needs a
/// 2xx status, a JSON object with `code == 200` and the request's `action_id`
/// echoed. Anything else is a typed error: [`Error::Api`] when the server refused
/// (an error envelope on any status, or a non-JSON body on an error status),
/// [`Error::Protocol`] when a success status carries something unusable.
pub fn parse_response(
    expected: Expected<'_>,
    status: u16,
    body: &[u8],
    limits: &Limits,
) -> Result<Response> {
    let success_status = (200..300).contains(&status);
    // A byte-order mark before the JSON is legal in UTF-8 files and some servers
    // send one; it is not part of the envelope.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    // Excerpts of an `auth` answer are never kept (a malformed one still carries a
    // token), except the title of an HTML page (the Defender's block page says
    // who refused); others are kept with the request's secrets masked.
    let excerpt = |text: String| -> String {
        if expected.is_auth() {
            html_title(body)
                .map(|t| expected.redactor().redact(&t).into_owned())
                .unwrap_or_default()
        } else {
            expected.redactor().redact_excerpt(&text)
        }
    };
    let proto = |reason, detail: String, path: Option<String>, excerpt_text: String| {
        Error::Protocol(Box::new(ProtocolErrorInfo {
            reason,
            detail,
            path,
            http_status: status,
            obj: expected.obj.to_owned(),
            action: expected.action.to_owned(),
            excerpt: excerpt(excerpt_text),
        }))
    };
    let api_without_envelope = || {
        let (raw_body, raw_body_truncated) = lossy_excerpt(body, limits.error_excerpt_bytes);
        Error::Api(Box::new(ApiErrorInfo {
            http_status: status,
            obj: expected.obj.to_owned(),
            action: expected.action.to_owned(),
            raw_body_truncated: raw_body_truncated || (expected.is_auth() && !body.is_empty()),
            raw_body: excerpt(raw_body),
            ..ApiErrorInfo::default()
        }))
    };

    if body.len() > limits.max_body_bytes {
        return Err(proto(
            ProtocolErrorReason::BodyTooLarge,
            format!(
                "answer body of {} bytes exceeds the limit of {} bytes",
                body.len(),
                limits.max_body_bytes
            ),
            None,
            lossy_excerpt(body, 200).0,
        ));
    }
    let text = match std::str::from_utf8(body) {
        Ok(t) => t,
        Err(_) if !success_status => return Err(api_without_envelope()),
        Err(e) => {
            let at = e.valid_up_to();
            let from = at.saturating_sub(100);
            return Err(proto(
                ProtocolErrorReason::InvalidUtf8,
                format!("answer body is not valid UTF-8 (bad byte at offset {at})"),
                Some(format!("byte {at}")),
                lossy_excerpt(&body[from..], 200).0,
            ));
        }
    };
    // The one-pass reader first; what it is not sure of, serde_json reads (and
    // names the error of).
    let read = crate::value_reader::read_value(text).map_or_else(|| serde_json::from_str(text), Ok);
    let value: Value = match read {
        Ok(v) => v,
        Err(_) if !success_status => return Err(api_without_envelope()),
        Err(e) => {
            let detail = if e.is_eof() {
                format!("answer body is truncated JSON ({} bytes)", body.len())
            } else if text.trim_start().starts_with('<') {
                "answer body is HTML, not JSON".to_owned()
            } else {
                format!("answer body is not valid JSON: {e}")
            };
            let offset = byte_offset(text, e.line(), e.column());
            let from = floor_boundary(text, offset.saturating_sub(100));
            return Err(proto(
                ProtocolErrorReason::InvalidJson,
                detail,
                Some(format!("line {} column {}", e.line(), e.column())),
                bounded(&text[from..], 200).0,
            ));
        }
    };
    let Value::Object(envelope) = value else {
        if !success_status {
            return Err(api_without_envelope());
        }
        return Err(proto(
            ProtocolErrorReason::UnexpectedShape,
            format!(
                "answer is {}, not an envelope object",
                json_type_name(&value)
            ),
            Some("$".to_owned()),
            bounded(text, 200).0,
        ));
    };

    if is_success_envelope(expected, status, &envelope) {
        return Ok(Response {
            envelope,
            http_status: status,
            secrets: expected.secrets.to_vec(),
        });
    }
    // Not a success: find out exactly why.
    let code = envelope.get("code").and_then(code_of);
    if !success_status || code != Some(200) {
        if code.is_none() && success_status {
            return Err(proto(
                ProtocolErrorReason::UnexpectedShape,
                match envelope.get("code") {
                    None => "envelope has no `code`".to_owned(),
                    Some(v) => format!("envelope `code` is {}", json_type_name(v)),
                },
                Some("$.code".to_owned()),
                bounded(text, 200).0,
            ));
        }
        return Err(Error::Api(Box::new(api_error_from_envelope(
            &expected, status, &envelope, text, limits,
        ))));
    }

    match envelope.get("action_id") {
        Some(Value::String(s)) if s == expected.action_id => {}
        // Some servers echo a numeric id as a number.
        Some(Value::Number(n)) if n.to_string() == expected.action_id => {}
        other => {
            let got = match other {
                None => "no action_id".to_owned(),
                Some(v) => format!("action_id {v}"),
            };
            return Err(proto(
                ProtocolErrorReason::ActionIdMismatch,
                format!(
                    "answer echoed {got}, expected {:?}: it belongs to another request",
                    expected.action_id
                ),
                Some("$.action_id".to_owned()),
                String::new(),
            ));
        }
    }
    for (key, ok) in [
        (
            "notifies",
            envelope.get("notifies").is_none_or(Value::is_array),
        ),
        (
            "list",
            envelope
                .get("list")
                .is_none_or(|v| v.is_array() || v.is_null()),
        ),
        (
            "total_count",
            envelope
                .get("total_count")
                .is_none_or(|v| v.is_u64() || v.is_null()),
        ),
    ] {
        if !ok {
            return Err(proto(
                ProtocolErrorReason::UnexpectedShape,
                format!("envelope `{key}` has the wrong type"),
                Some(format!("$.{key}")),
                bounded(text, 200).0,
            ));
        }
    }
    Ok(Response {
        envelope,
        http_status: status,
        secrets: expected.secrets.to_vec(),
    })
}

/// The success rule on the top-level fields alone: a 2xx status, `code` 200, the
/// request's `action_id` echoed, and `notifies`/`list`/`total_count` of the right
/// types. Front ends that decode bodies their own way (the Python module builds
/// Python objects straight from the bytes) apply this to the top-level scalars they
/// captured, and call [`parse_response`] for the detailed error when it is false.
pub fn is_success_envelope(expected: Expected<'_>, status: u16, head: &Map<String, Value>) -> bool {
    if !(200..300).contains(&status) {
        return false;
    }
    // One pass over the few top-level fields: cheaper than a hashed lookup of
    // each name (this runs once per call).
    let (mut code_ok, mut echo_ok) = (false, false);
    for (key, value) in head {
        let ok = match key.as_str() {
            "code" => {
                code_ok = code_of(value) == Some(200);
                true
            }
            "action_id" => {
                echo_ok = match value {
                    Value::String(s) => s == expected.action_id,
                    Value::Number(n) => n.to_string() == expected.action_id,
                    _ => false,
                };
                true
            }
            "notifies" => value.is_array(),
            "list" => value.is_array() || value.is_null(),
            "total_count" => value.is_u64() || value.is_null(),
            _ => true,
        };
        if !ok {
            return false;
        }
    }
    code_ok && echo_ok
}

fn api_error_from_envelope(
    expected: &Expected<'_>,
    status: u16,
    env: &Map<String, Value>,
    text: &str,
    limits: &Limits,
) -> ApiErrorInfo {
    let mut redactor = expected.redactor();
    if expected.is_auth() {
        // A refused or broken login answer may still hold a token.
        redactor.add_tokens_in(&Value::Object(env.clone()));
    }
    let body = env.get("body").and_then(Value::as_object);
    let lookup = |keys: &[&str]| -> Option<&Value> {
        keys.iter()
            .find_map(|k| env.get(*k).or_else(|| body.and_then(|b| b.get(*k))))
            .filter(|v| !v.is_null())
    };
    let as_text = |v: &Value| {
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        redactor.redact(&text).into_owned()
    };
    let message = lookup(&[
        "message",
        "msg",
        "error",
        "error_message",
        "description",
        "detail",
    ])
    .map(as_text);
    let field_errors = lookup(&["errors", "fields", "field_errors"]).map(|v| {
        let mut v = v.clone();
        redactor.redact_value(&mut v);
        v
    });
    let (raw_body, raw_body_truncated) = if expected.is_auth() {
        (String::new(), !text.is_empty())
    } else {
        let (cut, truncated) = bounded(text, limits.error_excerpt_bytes);
        (redactor.redact_excerpt(&cut), truncated)
    };
    let mut notifies = match env.get("notifies") {
        Some(Value::Array(a)) => Value::Array(a.clone()),
        _ => Value::Array(Vec::new()),
    };
    redactor.redact_value(&mut notifies);
    ApiErrorInfo {
        http_status: status,
        code: env.get("code").and_then(code_of),
        msg_id: lookup(&["msg_id"]).map(as_text),
        message,
        action_id: env.get("action_id").map(as_text),
        obj: expected.obj.to_owned(),
        action: expected.action.to_owned(),
        field_errors,
        notifies: match notifies {
            Value::Array(a) => a,
            _ => Vec::new(),
        },
        raw_body,
        raw_body_truncated,
    }
}

/// The `<title>` of an HTML page, one line and at most 120 characters.
fn html_title(body: &[u8]) -> Option<String> {
    let head = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    let lower = head.to_ascii_lowercase();
    if !lower.trim_start().starts_with('<') {
        return None;
    }
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower[start..].find("</title>")?;
    let title: String = head[start..end]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    Some(title.chars().take(120).collect()).filter(|t: &String| !t.is_empty())
}

fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (line_start + column.saturating_sub(1)).min(text.len())
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Turns an API refusal of an `auth` call into [`Error::Auth`] (credentials refused):
/// an envelope with code 401 or 403. Other errors pass unchanged; a non-JSON 403
/// (the Defender's block page) stays an [`Error::Api`].
pub fn classify_auth_error(err: Error) -> Error {
    match err {
        Error::Api(info) if matches!(info.code, Some(401 | 403)) => Error::Auth(info),
        other => other,
    }
}
