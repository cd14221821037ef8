//! Typed records for [`Client::records_as`]: each page's records deserialized
//! straight from the answer's bytes into the caller's type, with the `id` the
//! pager needs read from the same JSON (the type need not have the field).
//!
//! [`Client::records_as`]: crate::Client::records_as

use std::borrow::Cow;
use std::marker::PhantomData;

use runtel_protocol::{parse_page, record_id_in, scan_list_records, Error, Expected, Limits};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::client::Decoder;
use crate::records::{PagedRecord, RecordId, RecordsPage};

/// A typed record, and its `id` as the pager compares ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyed<T> {
    /// The record.
    pub record: T,
    id: Option<RecordId>,
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
        // One parse into `T` (its errors name the record's path), and the ids
        // and the texts for the fingerprint from a structural scan, several
        // times cheaper than reading each record again.
        let page = parse_page::<T>(expected, status, &body, limits)?;
        let total_count = page.total_count();
        let notifies = page.notifies().to_vec();
        let n = page.records.len();
        let (ids, fingerprint) = match scan_list_records(&body).filter(|s| s.len() == n) {
            Some(scanned) => (
                scanned.iter().map(|r| r.id.and_then(id_of_text)).collect(),
                fingerprint(
                    n,
                    scanned.first().map(|r| r.text),
                    scanned.last().map(|r| r.text),
                ),
            ),
            None => ids_by_parsing(expected, status, &body, limits)?,
        };
        let records = page
            .records
            .into_iter()
            .zip(ids)
            .map(|(record, id)| Keyed { record, id })
            .collect();
        Ok(RecordsPage {
            records,
            total_count,
            notifies,
            fingerprint,
        })
    }
}

fn fingerprint(len: usize, first: Option<&str>, last: Option<&str>) -> u64 {
    RecordsPage::<()>::fingerprint_of(len, first, last)
}

/// A record's id from the raw JSON text of its `id` value (valid JSON: the
/// page parsed).
fn id_of_text(raw: &str) -> Option<RecordId> {
    match raw.parse::<i64>() {
        // The usual id, without building a `Value`.
        Ok(n) => Some(RecordId::Int(n)),
        Err(_) => serde_json::from_str::<Value>(raw)
            .ok()
            .and_then(RecordId::from_json),
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

    const RECORDS: &str = r#"{"id":5},{"id":"5"},{"id":1,"id":2},{"id":18446744073709551616},
        {"id":-9223372036854775808},{"id":null},{"x":1},[5],5,"id",{"id":1.50},{"id":-0},
        {"id":{"a":1}},{"id":[1]},{"id":true},{"id":"\u0035"},{"n":{"id":3}},{}"#;

    fn decode(body: &str) -> RecordsPage<Keyed<Value>> {
        let expected = Expected::new("a-1", "DomainCDR", "list");
        KeyedPageDecoder::<Value>::new()
            .decode(expected, 200, body.as_bytes().to_vec(), &Limits::default())
            .unwrap()
    }

    /// The ids read from the scan are the ids read by parsing each record, and
    /// a page the scan gives up on (an escaped key) is read the other way.
    #[test]
    fn a_scanned_page_and_a_parsed_one_give_the_same_ids() {
        let body = format!(r#"{{"code":200,"action_id":"a-1","list":[{RECORDS}]}}"#);
        let scanned = scan_list_records(body.as_bytes()).expect("the plain shape");
        let by_scan: Vec<Option<RecordId>> =
            scanned.iter().map(|r| r.id.and_then(id_of_text)).collect();
        let by_parse: Vec<Option<RecordId>> = scanned.iter().map(|r| record_id(r.text)).collect();
        assert_eq!(by_scan, by_parse);
        assert_eq!(by_scan[0], Some(RecordId::Int(5)));
        assert_eq!(by_scan[2], Some(RecordId::Int(2)), "the last wins");
        assert_eq!(by_scan[10], Some(RecordId::Text("1.50".into())));

        let page = decode(&body);
        let ids: Vec<Option<RecordId>> = page.records.iter().map(|k| k.id.clone()).collect();
        assert_eq!(ids, by_parse);
        // An escaped key elsewhere in the page: no scan, the same ids.
        let escaped = body.replace(r#"{}]"#, r#"{"\u0078":1}]"#);
        assert!(scan_list_records(escaped.as_bytes()).is_none());
        let other = decode(&escaped);
        let other_ids: Vec<Option<RecordId>> = other.records.iter().map(|k| k.id.clone()).collect();
        assert_eq!(other_ids, by_parse);
        // Equal pages, equal fingerprints; the fingerprint sees the last record.
        assert_eq!(decode(&body).fingerprint, page.fingerprint);
        assert_ne!(other.fingerprint, page.fingerprint);
    }
}
