//! Typed pages: a list answer's `list` deserialized straight from the body's
//! bytes into records of the caller's type, with no `serde_json::Value` between.
//!
//! Only the small top-level fields (`code`, `action_id`, `total_count`, ...)
//! become `Value`s, to apply the same success rule as [`parse_response`]. When
//! anything fails, the body is parsed again the slow way, once, so the error is
//! exactly the one [`parse_response`] gives (an error envelope, bad JSON...) or,
//! for a record that does not fit the type, a protocol error naming its JSON
//! path (`$.list[3].duration`).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::Result;
use crate::response::{deserialize_at, is_success_envelope, parse_response, Expected, Limits};
use crate::scan::RecordSpan;

/// One page of a list answer, its records typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The records of `list` (or of `body.list`), in order.
    pub records: Vec<T>,
    /// The envelope without `list`: `code`, `action_id`, `total_count`, `body`...
    pub head: Map<String, Value>,
    /// The HTTP status of the answer.
    pub http_status: u16,
}

impl<T> Page<T> {
    /// The `total_count` announced, if any: at the top level, else in `body`
    /// (as [`crate::Response::total_count`] reads it).
    pub fn total_count(&self) -> Option<u64> {
        self.head
            .get("total_count")
            .and_then(Value::as_u64)
            .or_else(|| {
                self.head
                    .get("body")
                    .and_then(|b| b.get("total_count"))
                    .and_then(Value::as_u64)
            })
    }

    /// The `notifies` of the answer (messages for the user).
    pub fn notifies(&self) -> &[Value] {
        match self.head.get("notifies") {
            Some(Value::Array(a)) => a,
            _ => &[],
        }
    }
}

/// Parses a list answer into a [`Page`] of `T`, deserializing each record
/// straight from `body`. Errors are those of [`parse_response`], plus a protocol
/// error naming the path of the first field that does not fit `T`.
pub fn parse_page<T: DeserializeOwned>(
    expected: Expected<'_>,
    status: u16,
    body: &[u8],
    limits: &Limits,
) -> Result<Page<T>> {
    // A value that does not fit `T` is quoted in the error: it may be an
    // echoed token.
    parse_page_unmasked(expected, status, body, limits).map_err(|mut e| {
        e.redact(&crate::redact::Redactor::new(expected.secrets));
        e
    })
}

fn parse_page_unmasked<T: DeserializeOwned>(
    expected: Expected<'_>,
    status: u16,
    body: &[u8],
    limits: &Limits,
) -> Result<Page<T>> {
    let text = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if body.len() <= limits.max_body_bytes {
        // Checked as UTF-8 once for the whole body, the text is read without
        // serde_json checking every string again; a body that is not UTF-8 is
        // read from the bytes (strings a record skips are not checked there).
        let fast = match std::str::from_utf8(text) {
            Ok(text) => read_envelope::<T, _>(serde_json::Deserializer::from_str(text)),
            Err(_) => read_envelope::<T, _>(serde_json::Deserializer::from_slice(text)),
        };
        if let Some(fast) = fast {
            if is_success_envelope(expected, status, &fast.head) {
                let mut head = fast.head;
                let records = match fast.records {
                    Some(r) => r,
                    None => records_in_body(&mut head, &expected, status)?,
                };
                return Ok(Page {
                    records,
                    head,
                    http_status: status,
                });
            }
        }
    }
    // The slow path, for the exact error (or a success the fast path could not
    // type): the whole envelope as a `Value`, then each record with its path.
    let response = parse_response(expected, status, body, limits)?;
    let records = response.records_as::<T>()?;
    let mut head = response.into_envelope();
    head.remove("list");
    Ok(Page {
        records,
        head,
        http_status: status,
    })
}

/// What a successful list answer holds, learnt without building its records.
/// Made by [`check_list_answer`] (or [`ListCheck::without_spans`]); it may
/// learn more in later versions, so it is not built field by field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListCheck {
    /// How many records the answer holds.
    pub records: usize,
    /// The `total_count` announced (top level, else in `body`), if any.
    pub total_count: Option<u64>,
    /// The `id` of each record that has one, as ids are compared when paging:
    /// a string as it is, any other JSON value as its JSON text.
    pub ids: Vec<String>,
    /// Where each record and its `id` are in the body checked (byte ranges,
    /// a byte-order mark included), when the check found them by a structural
    /// scan (the usual shape of an answer; see [`scan_list_records`]); `None`
    /// when it parsed the answer.
    pub spans: Option<Vec<RecordSpan>>,
}

impl ListCheck {
    /// What a check that parsed the answer reports: `records` records, the
    /// `total_count` announced, the records' `ids` (as in [`ListCheck::ids`]),
    /// and no spans, so a decoder reads the records by parsing.
    pub fn without_spans(records: usize, total_count: Option<u64>, ids: Vec<String>) -> ListCheck {
        ListCheck {
            records,
            total_count,
            ids,
            spans: None,
        }
    }
}

/// Checks a list answer as [`parse_response`] would (the same success rule,
/// the same errors) while only counting its records, reading their `id`s and,
/// for an answer of the usual shape, noting where each record is
/// ([`ListCheck::spans`]): the JSON is read through once, and nothing else is
/// built of the records. What fetches a page ahead runs this, so that the page
/// can be decoded later, where it is read.
pub fn check_list_answer(
    expected: Expected<'_>,
    status: u16,
    body: &[u8],
    limits: &Limits,
) -> Result<ListCheck> {
    if let Some(check) = quick_check(expected, status, body, limits) {
        return Ok(check);
    }
    let page = parse_page::<IdOnly>(expected, status, body, limits)?;
    let total_count = page.total_count();
    let records = page.records.len();
    let ids = page
        .records
        .into_iter()
        .filter_map(|r| match r.id? {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        })
        .collect();
    Ok(ListCheck {
        records,
        total_count,
        ids,
        spans: None,
    })
}

/// [`check_list_answer`] for a success of the plain shape, from a structural
/// scan ([`crate::scan`]) instead of a parse; None leaves the answer to the
/// parser (which also makes every error).
fn quick_check(
    expected: Expected<'_>,
    status: u16,
    body: &[u8],
    limits: &Limits,
) -> Option<ListCheck> {
    if body.len() > limits.max_body_bytes {
        return None;
    }
    let (text, bom, scanned) = scan_body(body)?;
    let mut head = Map::new();
    for (key, raw) in scanned.head {
        head.insert(key.to_owned(), serde_json::from_str::<Value>(raw).ok()?);
    }
    if !is_success_envelope(expected, status, &head) {
        return None;
    }
    let mut ids = Vec::with_capacity(scanned.records.len());
    for raw in scanned.records.iter().filter_map(|r| r.id.clone()) {
        let raw = text.get(raw)?;
        // The usual id, an integer as JSON writes it, is its own text.
        if is_integer_as_written(raw) {
            ids.push(raw.to_owned());
            continue;
        }
        match serde_json::from_str::<Value>(raw).ok()? {
            Value::Null => {}
            Value::String(s) => ids.push(s),
            other => ids.push(other.to_string()),
        }
    }
    let page = Page::<()> {
        records: Vec::new(),
        head,
        http_status: status,
    };
    Some(ListCheck {
        records: scanned.records.len(),
        total_count: page.total_count(),
        ids,
        spans: Some(
            scanned
                .records
                .into_iter()
                .map(|r| r.shifted(bom))
                .collect(),
        ),
    })
}

/// Whether `text` is how an integer is written (`i64::to_string` would give
/// it back, if it fits): digits, no leading zero or `+`, no `-0`. Checked
/// without allocating, since every id of a page goes through here (the
/// check of a page, and the client's paging, which compares ids by it).
#[doc(hidden)]
pub fn is_integer_as_written(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (!digits.starts_with('0') || text == "0")
}

/// The structural scan of a body ([`crate::scan`]): its text without a
/// byte-order mark, the mark's length, and what the scan found; `None` for a
/// body that is not UTF-8 or not of the plain shape.
fn scan_body(body: &[u8]) -> Option<(&str, usize, crate::scan::Scanned<'_>)> {
    let text = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let bom = body.len() - text.len();
    let text = std::str::from_utf8(text).ok()?;
    Some((text, bom, crate::scan::scan_list_answer(text)?))
}

/// Where the records of a list answer and their `id`s are (byte ranges of
/// `body`), for an answer of the plain shape (one object whose `list` is an
/// array, no escaped keys at its top level or at the top level of a record,
/// no record with two `id`s), found by following quotes and brackets: several
/// times faster than a parse, and validating nothing. `None` for any other
/// shape, or a body that is not UTF-8. For a decoder that parses the page into
/// its own type and also needs each record's `id` (the client's typed
/// records): parse the answer too, and trust the spans only when they count
/// as many records as the parse. [`check_list_answer`] gives them too.
pub fn scan_list_records(body: &[u8]) -> Option<Vec<RecordSpan>> {
    let (_, bom, scanned) = scan_body(body)?;
    Some(
        scanned
            .records
            .into_iter()
            .map(|r| r.shifted(bom))
            .collect(),
    )
}

/// The `id` of one record given as JSON text, read as a [`Value`] record's
/// `get("id")` would give it (the last of a repeated key; nothing for a record
/// that is not an object), without building the rest of the record. `None`
/// also when the text is not JSON.
pub fn record_id_in(record: &str) -> Option<Value> {
    serde_json::from_str::<IdOnly>(record).ok()?.id
}

/// A record's `id` alone (the other fields are skipped, not built). A record
/// that is not an object is counted, with no `id`.
struct IdOnly {
    id: Option<Value>,
}

impl<'de> serde::Deserialize<'de> for IdOnly {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<IdOnly, D::Error> {
        d.deserialize_any(IdOnlyVisitor)
    }
}

struct IdOnlyVisitor;

impl<'de> Visitor<'de> for IdOnlyVisitor {
    type Value = IdOnly;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<IdOnly, A::Error> {
        let mut id = None;
        // Keys borrowed from the text (a `Cow` key would be copied every time).
        while let Some(key) = map.next_key::<crate::extra::Key<'de>>()? {
            if key.as_str() == "id" {
                // A repeated key: the last wins, as in a `Value`.
                id = Some(map.next_value::<Value>()?);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(IdOnly { id })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<IdOnly, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(IdOnly { id: None })
    }

    fn visit_bool<E>(self, _: bool) -> std::result::Result<IdOnly, E> {
        Ok(IdOnly { id: None })
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<IdOnly, E> {
        Ok(IdOnly { id: None })
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<IdOnly, E> {
        Ok(IdOnly { id: None })
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<IdOnly, E> {
        Ok(IdOnly { id: None })
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<IdOnly, E> {
        Ok(IdOnly { id: None })
    }
    fn visit_unit<E>(self) -> std::result::Result<IdOnly, E> {
        Ok(IdOnly { id: None })
    }
}

/// Records sent as `body.list` (or `body` as an array) instead of `list`.
fn records_in_body<T: DeserializeOwned>(
    head: &mut Map<String, Value>,
    expected: &Expected<'_>,
    status: u16,
) -> Result<Vec<T>> {
    let list = match head.get_mut("body") {
        Some(Value::Object(b)) => b.remove("list"),
        Some(Value::Array(_)) => head.remove("body"),
        _ => None,
    };
    match list {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, r)| {
                deserialize_at(
                    r,
                    &format!("$.body.list[{i}]"),
                    expected.obj,
                    expected.action,
                    status,
                )
            })
            .collect(),
        _ => Ok(Vec::new()),
    }
}

/// What the fast path reads: the top-level fields, with `list` typed.
struct Envelope<T> {
    head: Map<String, Value>,
    records: Option<Vec<T>>,
}

/// The whole answer read by `de` into an [`Envelope`], if it fits one.
fn read_envelope<'de, T: DeserializeOwned, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
) -> Option<Envelope<T>> {
    let envelope = de.deserialize_map(EnvelopeVisitor::<T>(PhantomData)).ok()?;
    de.end().ok().map(|()| envelope)
}

struct EnvelopeVisitor<T>(PhantomData<T>);

impl<'de, T: DeserializeOwned> Visitor<'de> for EnvelopeVisitor<T> {
    type Value = Envelope<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an answer envelope (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Envelope<T>, A::Error> {
        let mut head = Map::new();
        let mut records = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "list" {
                records = map.next_value_seed(ListSeed::<T>(PhantomData))?;
            } else {
                let value: Value = map.next_value()?;
                head.insert(key, value);
            }
        }
        Ok(Envelope { head, records })
    }
}

/// `list`: an array of `T`, or `null`.
struct ListSeed<T>(PhantomData<T>);

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for ListSeed<T> {
    type Value = Option<Vec<T>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for ListSeed<T> {
    type Value = Option<Vec<T>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of records")
    }

    /// `"list": null`: no top-level list; the records may be in `body.list`
    /// (as [`crate::Response::records`] reads it).
    fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element::<T>()? {
            out.push(item);
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::DomainCdr;
    use crate::{Error, ProtocolErrorReason};

    fn exp() -> Expected<'static> {
        Expected::new("a1", "DomainCDR", "list")
    }

    /// A UTF-8 body is read as text, any other from the bytes: the same
    /// records either way, and a byte that is not UTF-8 in a string the type
    /// skips is skipped as before.
    #[test]
    fn a_page_reads_the_same_from_text_and_from_bytes() {
        #[derive(Debug, PartialEq, serde::Deserialize)]
        struct Narrow {
            id: i64,
            src: String,
        }
        let text = "{\"code\":200,\"action_id\":\"a1\",\"list\":[{\"id\":1,\"src\":\"\u{418}\u{432} \\u0430\\n\",\"x\":\"@\"}]}";
        let page = parse_page::<Narrow>(exp(), 200, text.as_bytes(), &Limits::default()).unwrap();
        let want = Narrow {
            id: 1,
            src: "\u{418}\u{432} \u{430}\n".into(),
        };
        assert_eq!(page.records, vec![want]);
        let mut bytes = text.as_bytes().to_vec();
        let at = bytes.iter().position(|&b| b == b'@').unwrap();
        bytes[at] = 0xFF;
        let page = parse_page::<Narrow>(exp(), 200, &bytes, &Limits::default()).unwrap();
        assert_eq!(page.records[0].src, "\u{418}\u{432} \u{430}\n");
        // Where the type reads it, such a byte is an error, as before.
        let at = bytes.iter().position(|&b| b == 0xD0).unwrap();
        bytes[at] = 0xFF;
        assert!(parse_page::<Narrow>(exp(), 200, &bytes, &Limits::default()).is_err());
    }

    #[test]
    fn a_page_decodes_straight_into_records() {
        let body = br#"{"code":200,"action_id":"a1","total_count":2,
            "list":[{"id":1,"duration":30,"src":"100","x_new":"kept"},{"id":2}]}"#;
        let page = parse_page::<DomainCdr>(exp(), 200, body, &Limits::default()).unwrap();
        assert_eq!(page.records.len(), 2);
        assert_eq!(page.records[0].duration, Some(30));
        assert_eq!(page.records[0].extra["x_new"], "kept");
        assert_eq!(page.records[1].id, Some(2));
        assert_eq!(page.total_count(), Some(2));
        assert!(!page.head.contains_key("list"));
    }

    /// The check agrees with the full parser on what is a success, on the
    /// error, on the number of records and on the count, in every list style.
    #[test]
    fn the_list_check_agrees_with_the_full_parser() {
        use crate::response::parse_response;
        let bodies: &[&[u8]] = &[
            br#"{"code":200,"action_id":"a1","total_count":3,"list":[{"id":1},{"id":"2"},{}]}"#,
            br#"{"code":200,"action_id":"a1","list":[{"id":18446744073709551616},{"id":null},{"id":1.5},[1],7,{"id":1,"id":2}]}"#,
            br#"{"code":200,"action_id":"a1","body":{"list":[{"id":1}],"total_count":9}}"#,
            br#"{"code":200,"action_id":"a1","body":[{"id":1},{"id":2}]}"#,
            br#"{"code":200,"action_id":"a1","list":null}"#,
            br#"{"code":200,"action_id":"a1","list":null,"body":{"list":[{"id":4}],"total_count":1}}"#,
            br#"{"code":200,"action_id":"a1"}"#,
            br#"{"code":"200","action_id":"a1","list":[]}"#,
            br#"{"code":404,"action_id":"a1","msg":"no","list":[]}"#,
            br#"{"code":200,"action_id":"zz","list":[]}"#,
            br#"{"code":200,"action_id":"a1","list":[{"id":1},"#,
            br#"{"code":200,"action_id":"a1","list":{"id":1}}"#,
            br#"{"code":200,"action_id":"a1","total_count":-1,"list":[]}"#,
            b"<html>busy</html>",
            // Shapes the quick scan reads: escapes, nesting, spacing, a BOM.
            b"\xEF\xBB\xBF {\"code\":200 ,\"action_id\":\"a1\",\n\"list\" : [ {\"x\":\"}]\\\"{\",\"id\":\"q\\\"\\u0041\"} ,\t{\"sub\":{\"id\":5},\"id\":-0.0e1}, {\"id\":true} ] }",
            br#"{"list":[{"id":[1,2]},{"id":{"a":1}}],"action_id":"a1","code":200,"notifies":[{"m":"x"}]}"#,
            // Integer ids in every spelling, valid or not.
            br#"{"code":200,"action_id":"a1","list":[{"id":0},{"id":-0},{"id":7},{"id":-7},{"id":10},{"id":9223372036854775808},{"id":-9223372036854775809},{"id":1e2},{"id":-1.0}]}"#,
            br#"{"code":200,"action_id":"a1","list":[{"id":01}]}"#,
            br#"{"code":200,"action_id":"a1","list":[{"id":-}]}"#,
            br#"{"code":200,"action_id":"a1","list":[{"id":+1}]}"#,
        ];
        for body in bodies {
            for status in [200, 500] {
                let full = parse_response(exp(), status, body, &Limits::default());
                let check = check_list_answer(exp(), status, body, &Limits::default());
                let text = String::from_utf8_lossy(body);
                match (full, check) {
                    (Ok(r), Ok(c)) => {
                        assert_eq!(c.records, r.records().len(), "{text}");
                        assert_eq!(c.total_count, r.total_count(), "{text}");
                        let ids: Vec<String> = r
                            .records()
                            .iter()
                            .filter_map(|r| match r.get("id")? {
                                Value::Null => None,
                                Value::String(s) => Some(s.clone()),
                                other => Some(other.to_string()),
                            })
                            .collect();
                        assert_eq!(c.ids, ids, "{text}");
                    }
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{text}"),
                    (a, b) => panic!("{text} {status}: {a:?} against {b:?}"),
                }
            }
        }
    }

    /// The agreement above is the quick scan's wherever it applies: plain
    /// successes take it; errors and other shapes are left to the parser.
    #[test]
    fn plain_successes_are_checked_by_the_quick_scan() {
        let l = Limits::default();
        let plain =
            br#"{"code":200,"action_id":"a1","total_count":3,"list":[{"id":1},{"id":"2"},{}]}"#;
        let q = quick_check(exp(), 200, plain, &l).expect("plain");
        assert_eq!(
            (q.records, q.total_count, q.ids),
            (3, Some(3), vec!["1".into(), "2".into()])
        );
        let in_body = br#"{"code":200,"action_id":"a1","list":[],"body":{"total_count":7}}"#;
        assert_eq!(
            quick_check(exp(), 200, in_body, &l).unwrap().total_count,
            Some(7)
        );
        for other in [
            &br#"{"code":404,"action_id":"a1","list":[]}"#[..],
            br#"{"code":200,"action_id":"zz","list":[]}"#,
            br#"{"code":200,"action_id":"a1","body":{"list":[{"id":1}]}}"#,
        ] {
            assert_eq!(quick_check(exp(), 200, other, &l), None);
        }
        let small = Limits {
            max_body_bytes: 10,
            ..l
        };
        assert_eq!(
            quick_check(exp(), 200, plain, &small),
            None,
            "over the limit"
        );
    }

    /// A record echoing the request's token in a field of the wrong type: the
    /// error quotes the value, masked, whichever way the records are typed.
    #[test]
    fn a_typed_error_masks_an_echoed_secret() {
        use crate::response::parse_response;
        use crate::secret::Secret;
        let token = "0123456789abcdef0123456789abcdef";
        let secrets = [Secret::from(token)];
        let expected = Expected {
            secrets: &secrets,
            ..exp()
        };
        let body = format!(
            r#"{{"code":200,"action_id":"a1","list":[{{"id":1,"duration":"{token}"}}],
                "body":{{"exp":"{token}"}}}}"#
        );
        let limits = Limits::default();
        let errors = [
            parse_page::<DomainCdr>(expected, 200, body.as_bytes(), &limits).unwrap_err(),
            parse_response(expected, 200, body.as_bytes(), &limits)
                .unwrap()
                .records_as::<DomainCdr>()
                .unwrap_err(),
            parse_response(expected, 200, body.as_bytes(), &limits)
                .unwrap()
                .body_as::<std::collections::HashMap<String, u64>>()
                .unwrap_err(),
        ];
        for e in errors {
            let text = format!("{e} {e:?}");
            assert!(!text.contains(token), "{text}");
            assert!(text.contains("invalid type"), "{text}");
        }
    }

    #[test]
    fn a_wrong_field_names_its_path() {
        let body = br#"{"code":200,"action_id":"a1","list":[{"id":1},{"id":2},{"id":3},
            {"id":4,"duration":"long"}]}"#;
        let e = parse_page::<DomainCdr>(exp(), 200, body, &Limits::default()).unwrap_err();
        let Error::Protocol(info) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(info.reason, ProtocolErrorReason::UnexpectedShape);
        assert_eq!(info.path.as_deref(), Some("$.list[3].duration"), "{e}");
    }

    #[test]
    fn error_envelopes_and_bad_echoes_are_the_usual_errors() {
        let refused = br#"{"list":[{"duration":"x"}],"code":403,"message":"no"}"#;
        let e = parse_page::<DomainCdr>(exp(), 403, refused, &Limits::default()).unwrap_err();
        assert!(matches!(e, Error::Api(_)), "{e:?}");
        let wrong_id = br#"{"code":200,"action_id":"zz","list":[]}"#;
        let e = parse_page::<DomainCdr>(exp(), 200, wrong_id, &Limits::default()).unwrap_err();
        assert!(matches!(e, Error::Protocol(_)), "{e:?}");
        let truncated = br#"{"code":200,"action_id":"a1","list":[{"id":1}"#;
        let e = parse_page::<DomainCdr>(exp(), 200, truncated, &Limits::default()).unwrap_err();
        assert!(matches!(e, Error::Protocol(_)), "{e:?}");
    }

    #[test]
    fn records_under_body_and_null_lists_are_read() {
        let body = br#"{"code":200,"action_id":"a1","body":{"list":[{"id":7}]}}"#;
        let page = parse_page::<DomainCdr>(exp(), 200, body, &Limits::default()).unwrap();
        assert_eq!(page.records[0].id, Some(7));
        let body = br#"{"code":200,"action_id":"a1","list":null}"#;
        let page = parse_page::<DomainCdr>(exp(), 200, body, &Limits::default()).unwrap();
        assert!(page.records.is_empty());
    }
}
