//! Typed records for [`Client::records_as`]: each page's records deserialized
//! straight from the answer's bytes into the caller's type, with the `id` the
//! pager needs read from the same JSON (the type need not have the field).
//!
//! [`Client::records_as`]: crate::Client::records_as

use std::borrow::Cow;
use std::marker::PhantomData;

use runtel_protocol::{parse_page, record_id_in, Error, Expected, Limits};
use serde::de::DeserializeOwned;
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
        // Each record's text is cut out once, then read twice: into `T`, and
        // for its `id`. Errors (an error envelope, bad JSON) are parse_page's.
        let page = parse_page::<Box<RawValue>>(expected, status, &body, limits)?;
        let fingerprint = RecordsPage::<Keyed<T>>::fingerprint_of(
            page.records.len(),
            page.records.first().map(|r| r.get()),
            page.records.last().map(|r| r.get()),
        );
        let total_count = page.total_count();
        let notifies = page.notifies().to_vec();
        let mut records = Vec::with_capacity(page.records.len());
        for raw in &page.records {
            match serde_json::from_str::<T>(raw.get()) {
                Ok(record) => records.push(Keyed {
                    record,
                    id: record_id(raw.get()),
                }),
                // The typed path over the whole body names the record's path.
                Err(_) => {
                    return Err(match parse_page::<T>(expected, status, &body, limits) {
                        Err(e) => e,
                        Ok(_) => Error::unexpected_shape(
                            expected.obj,
                            expected.action,
                            "a record does not fit the requested type".into(),
                            "$.list",
                        ),
                    })
                }
            }
        }
        Ok(RecordsPage {
            records,
            total_count,
            notifies,
            fingerprint,
        })
    }
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
}
