//! Typed records for [`Client::records_as`]: each page's records deserialized
//! straight from the answer's bytes into the caller's type, with the `id` the
//! pager needs read from the same JSON (the type need not have the field).
//!
//! [`Client::records_as`]: crate::Client::records_as

use std::borrow::Cow;
use std::marker::PhantomData;

use runtel_protocol::{
    parse_page, record_id_in, scan_list_records, Error, Expected, Limits, ListCheck, RecordSpan,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::client::Decoder;
use crate::records::{PagedRecord, RecordId, RecordsPage};

/// A typed record, and its `id` as the pager compares ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyed<T> {
    /// The record.
    pub record: T,
    id: Option<RecordId>,
}

/// A [`Keyed`] read without its id, which the page decoder sets afterwards:
/// records are read straight into their final layout (no second vector per
/// page). Private, so that no `Keyed` outside the decoder lacks its id.
#[repr(transparent)]
struct Unkeyed<T>(Keyed<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Unkeyed<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Unkeyed<T>, D::Error> {
        T::deserialize(d).map(|record| Unkeyed(Keyed { record, id: None }))
    }
}

impl<T> PagedRecord for Keyed<T> {
    type Item = T;

    fn id_text(&self) -> Option<Cow<'_, str>> {
        self.id.as_ref().map(RecordId::text)
    }

    fn id_int(&self) -> Option<i64> {
        self.id.as_ref()?.int()
    }

    fn into_item(self) -> T {
        self.record
    }
}

/// The `id` of one record's JSON text, as a `Value` record's would be read.
fn record_id(raw: &str) -> Option<RecordId> {
    record_id_in(raw).and_then(RecordId::from_json)
}

/// Decodes list answers into pages of [`Keyed`] records of type `T`.
pub(crate) struct KeyedPageDecoder<T>(PhantomData<fn() -> T>);

impl<T> KeyedPageDecoder<T> {
    pub(crate) fn new() -> Self {
        KeyedPageDecoder(PhantomData)
    }
}

impl<T: DeserializeOwned + Send> Decoder for KeyedPageDecoder<T> {
    type Output = RecordsPage<Keyed<T>>;

    fn decode(
        &self,
        expected: Expected<'_>,
        status: u16,
        body: Vec<u8>,
        limits: &Limits,
    ) -> Result<RecordsPage<Keyed<T>>, Error> {
        self.decode_with_spans(expected, status, body, limits, None)
    }

    fn decode_checked(
        &self,
        expected: Expected<'_>,
        status: u16,
        body: Vec<u8>,
        limits: &Limits,
        check: &ListCheck,
    ) -> Result<RecordsPage<Keyed<T>>, Error> {
        self.decode_with_spans(expected, status, body, limits, Some(check))
    }
}

impl<T: DeserializeOwned + Send> KeyedPageDecoder<T> {
    /// One parse into `T` (its errors name the record's path); the ids and the
    /// texts for the fingerprint from where a structural scan found the
    /// records (the `check` of a page fetched ahead made it already), several
    /// times cheaper than reading each record again, else by reading each
    /// record again.
    fn decode_with_spans(
        &self,
        expected: Expected<'_>,
        status: u16,
        body: Vec<u8>,
        limits: &Limits,
        check: Option<&ListCheck>,
    ) -> Result<RecordsPage<Keyed<T>>, Error> {
        let page = parse_page::<Unkeyed<T>>(expected, status, &body, limits)?;
        let total_count = page.total_count();
        let notifies = page.notifies().to_vec();
        let n = page.records.len();
        // Scanned after the parse: an error answer is not.
        let own_scan;
        let spans = match check {
            Some(check) => check.spans.as_deref(),
            None => {
                own_scan = scan_list_records(&body);
                own_scan.as_deref()
            }
        };
        let scanned = spans
            .filter(|s| s.len() == n)
            .and_then(|spans| ids_from_spans(&body, spans));
        let (ids, fingerprint) = match scanned {
            Some(found) => found,
            None => ids_by_parsing(expected, status, &body, limits)?,
        };
        // Both reads cut the same records out of valid JSON; should they ever
        // disagree, no record is dropped in silence.
        if ids.len() != n {
            return Err(Error::unexpected_shape(
                expected.obj,
                expected.action,
                format!("{n} records read, {} ids", ids.len()),
                "$.list",
            ));
        }
        let mut records = page.records;
        for (record, id) in records.iter_mut().zip(ids) {
            record.0.id = id;
        }
        // The same layout: collected in place, in the same allocation.
        let records = records.into_iter().map(|r| r.0).collect();
        Ok(RecordsPage {
            records,
            total_count,
            notifies,
            fingerprint,
        })
    }
}

/// The ids and the fingerprint of a page from where its records are; `None`
/// if a span is not text (never, for a page that parsed).
fn ids_from_spans(body: &[u8], spans: &[RecordSpan]) -> Option<(Vec<Option<RecordId>>, u64)> {
    let text = |range: &std::ops::Range<usize>| std::str::from_utf8(body.get(range.clone())?).ok();
    let mut ids = Vec::with_capacity(spans.len());
    for span in spans {
        ids.push(match &span.id {
            Some(id) => id_of_text(text(id)?, || text(&span.text))?,
            None => None,
        });
    }
    let (first, last) = match (spans.first(), spans.last()) {
        (Some(first), Some(last)) => (Some(text(&first.text)?), Some(text(&last.text)?)),
        _ => (None, None),
    };
    Some((ids, fingerprint(spans.len(), first, last)))
}

fn fingerprint(len: usize, first: Option<&str>, last: Option<&str>) -> u64 {
    RecordsPage::<()>::fingerprint_of(len, first, last)
}

/// A record's id from the raw JSON text of its `id` value: the usual ids (an
/// integer, a string without escapes) read from that text alone, any other
/// from the record's text as [`record_id`] reads it (a value the parser
/// refuses voids the id, though the page's parse may have skipped it without
/// looking). `None` (outer) when the record's text is not at hand. The page
/// parsed, so `raw` is valid JSON: `parse` meets no `+5` or `05` here.
fn id_of_text<'a>(raw: &str, record: impl FnOnce() -> Option<&'a str>) -> Option<Option<RecordId>> {
    if let Ok(n) = raw.parse::<i64>() {
        return Some(Some(RecordId::Int(n)));
    }
    match raw.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(text) if !text.contains('\\') => Some(Some(RecordId::Text(text.to_owned()))),
        _ => Some(record_id(record()?)),
    }
}

/// The ids and the fingerprint of a page the scan cannot read (another
/// shape, escaped keys): each record's text cut out by the parser, its id
/// read from it.
fn ids_by_parsing(
    expected: Expected<'_>,
    status: u16,
    body: &[u8],
    limits: &Limits,
) -> Result<(Vec<Option<RecordId>>, u64), Error> {
    let page = parse_page::<Box<RawValue>>(expected, status, body, limits)?;
    let ids = page
        .records
        .iter()
        .map(|raw| record_id(raw.get()))
        .collect();
    let print = fingerprint(
        page.records.len(),
        page.records.first().map(|r| r.get()),
        page.records.last().map(|r| r.get()),
    );
    Ok((ids, print))
}

#[cfg(test)]
mod tests {
    use runtel_protocol::check_list_answer;
    use serde::de::IgnoredAny;

    use super::*;

    /// Ids as a `Value` record's `get("id")` gives them.
    #[test]
    fn ids_are_read_as_value_records_read_them() {
        let id = |raw: &str| Keyed {
            record: (),
            id: record_id(raw),
        };
        assert_eq!(id(r#"{"id":5}"#).id_int(), Some(5));
        assert_eq!(id(r#"{"id":5}"#).id_text().as_deref(), Some("5"));
        assert_eq!(id(r#"{"id":"5"}"#).id_text().as_deref(), Some("5"));
        assert_eq!(id(r#"{"id":"5"}"#).id_int(), None);
        assert_eq!(id(r#"{"id":1,"id":2}"#).id_int(), Some(2), "the last wins");
        assert_eq!(
            id(r#"{"id":18446744073709551616}"#).id_text().as_deref(),
            Some("18446744073709551616")
        );
        for none in [r#"{"id":null}"#, r#"{"x":1}"#, "[5]", "5", r#""id""#] {
            assert_eq!(id(none).id_text(), None, "{none}");
        }
    }

    const RECORDS: &str = r#"{"id":5},{"id":"5"},{"id":18446744073709551616},
        {"id":-9223372036854775808},{"id":null},{"x":1},[5],5,"id",{"id":1.50},{"id":-0},
        {"id":{"a":1}},{"id":[1]},{"id":true},{"id":"\u0035"},{"id":"a b"},{"n":{"id":3}},{}"#;

    fn page_of(records: &str) -> String {
        format!(r#"{{"code":200,"action_id":"a-1","list":[{records}]}}"#)
    }

    /// The page decoded as the caller fetching it decodes it, and as a page
    /// fetched ahead (checked by the helper) is decoded: the same.
    fn decode(body: &str) -> RecordsPage<Keyed<IgnoredAny>> {
        let expected = Expected::new("a-1", "DomainCDR", "list");
        let limits = Limits::default();
        let decoder = KeyedPageDecoder::<IgnoredAny>::new();
        let page = decoder
            .decode(expected, 200, body.as_bytes().to_vec(), &limits)
            .unwrap();
        // (The check reads ids as `Value`s: it refuses a lone surrogate that
        // a type skipping the `id` never looks at, as `records()` would.)
        if let Ok(check) = check_list_answer(expected, 200, body.as_bytes(), &limits) {
            let checked = decoder
                .decode_checked(expected, 200, body.as_bytes().to_vec(), &limits, &check)
                .unwrap();
            assert_eq!(checked, page, "{body}");
            assert_eq!(
                check.spans.is_some(),
                scan_list_records(body.as_bytes()).is_some()
            );
        }
        page
    }

    fn ids(page: &RecordsPage<Keyed<IgnoredAny>>) -> Vec<Option<RecordId>> {
        page.records.iter().map(|k| k.id.clone()).collect()
    }

    /// Each record's id as the parser cuts the record out and reads it.
    fn ids_by_record(body: &str) -> Vec<Option<RecordId>> {
        let expected = Expected::new("a-1", "DomainCDR", "list");
        let page = parse_page::<Box<RawValue>>(expected, 200, body.as_bytes(), &Limits::default());
        page.unwrap()
            .records
            .iter()
            .map(|r| record_id(r.get()))
            .collect()
    }

    /// The ids of a scanned page are the ids read by parsing each record, and
    /// a page the scan gives up on is read the other way, to the same ids.
    #[test]
    fn a_scanned_page_and_a_parsed_one_give_the_same_ids() {
        let body = page_of(RECORDS);
        assert!(
            scan_list_records(body.as_bytes()).is_some(),
            "the plain shape"
        );
        let page = decode(&body);
        assert_eq!(ids(&page), ids_by_record(&body));
        assert_eq!(ids(&page)[0], Some(RecordId::Int(5)));
        assert_eq!(ids(&page)[9], Some(RecordId::Text("1.50".into())));
        assert_eq!(ids(&page)[15], Some(RecordId::Text("a b".into())));
        // Given up on: an escaped key, a repeated id (the first one voids the
        // record's id for the parser, though the page's parse skipped it).
        let deep = format!(r#"{{"id":{}{}}}"#, "[".repeat(127), "]".repeat(127));
        for odd in [
            r#"{"\u0078":1}"#,
            r#"{"id":1,"id":2}"#,
            r#"{"id":"\ud800","id":5}"#,
            deep.as_str(),
        ] {
            let body = page_of(&format!("{RECORDS},{odd}"));
            assert_eq!(ids(&decode(&body)), ids_by_record(&body), "{odd}");
        }
        // Behind a byte-order mark: the spans count from the body's start.
        let bom = format!("\u{feff}{body}");
        assert_eq!(decode(&bom), page);
        let repeated = page_of(r#"{"id":"\ud800","id":5},{"id":1,"id":2}"#);
        assert_eq!(ids(&decode(&repeated)), vec![None, Some(RecordId::Int(2))]);
        assert_eq!(ids(&decode(&page_of(&deep)))[0], None);
        // The plain page is read from the scan (the fast path), to the same
        // ids and fingerprint. The fingerprint sees the last record, and does
        // not depend on the way the page was read.
        let spans = scan_list_records(body.as_bytes()).unwrap();
        let (fast_ids, fast_print) = ids_from_spans(body.as_bytes(), &spans).expect("fast path");
        assert_eq!((fast_ids, fast_print), (ids(&page), page.fingerprint));
        let other = page_of(&format!(r#"{RECORDS},{{"\u0078":1}}"#));
        assert_ne!(decode(&other).fingerprint, page.fingerprint);
        let (_, by_parsing) = ids_by_parsing(
            Expected::new("a-1", "DomainCDR", "list"),
            200,
            body.as_bytes(),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(by_parsing, page.fingerprint);
    }
}
