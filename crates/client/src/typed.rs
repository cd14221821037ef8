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
use serde_json::Value;

use crate::client::Decoder;
use crate::records::{PagedRecord, RecordsPage};

/// A typed record, and its `id` as the pager compares ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyed<T> {
    /// The record.
    pub record: T,
    id: Option<RecordId>,
}

/// A record's `id`: kept as an integer when it is one (the common case costs
/// no allocation), else as the text ids are compared by.
#[derive(Debug, Clone, PartialEq)]
enum RecordId {
    Int(i64),
    Text(String),
}

impl<T> PagedRecord for Keyed<T> {
    type Item = T;

    fn id_text(&self) -> Option<Cow<'_, str>> {
        match self.id.as_ref()? {
            RecordId::Int(n) => Some(Cow::Owned(n.to_string())),
            RecordId::Text(s) => Some(Cow::Borrowed(s)),
        }
    }

    fn id_int(&self) -> Option<i64> {
        match self.id {
            Some(RecordId::Int(n)) => Some(n),
            _ => None,
        }
    }

    fn into_item(self) -> T {
        self.record
    }
}

/// The `id` of one record's JSON text, compared as [`Value`] records compare
/// theirs (see [`PagedRecord::id_text`]).
fn record_id(raw: &str) -> Option<RecordId> {
    match record_id_in(raw)? {
        Value::Null => None,
        Value::Number(n) if n.as_i64().is_some() => n.as_i64().map(RecordId::Int),
        Value::String(s) => Some(RecordId::Text(s)),
        other => Some(RecordId::Text(other.to_string())),
    }
}

/// Decodes list answers into pages of [`Keyed`] records of type `T`.
pub struct KeyedPageDecoder<T>(PhantomData<fn() -> T>);

impl<T> KeyedPageDecoder<T> {
    /// A decoder into records of type `T`.
    pub fn new() -> Self {
        KeyedPageDecoder(PhantomData)
    }
}

impl<T> Default for KeyedPageDecoder<T> {
    fn default() -> Self {
        KeyedPageDecoder::new()
    }
}

impl<T> std::fmt::Debug for KeyedPageDecoder<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyedPageDecoder<{}>", std::any::type_name::<T>())
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
