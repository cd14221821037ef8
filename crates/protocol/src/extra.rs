//! Deserializing a record type whose fields are all optional and whose other
//! keys go to an `extra` map, without `#[serde(flatten)]`.
//!
//! With `flatten`, the derived implementation copies every key it does not
//! know, with its value, into serde's intermediate buffer (with serde_json's
//! `arbitrary_precision`, a `String` for every number there), then reads
//! `extra` from the copy: a large share of the cost of reading a record, on
//! the types integrators pull by the million (call records).
//! [`deserialize_with_extra!`] reads each key once and puts its value where it
//! belongs; the result is the same as the derived `flatten` implementation's
//! (a differential test holds them together): missing fields and `null` are
//! `None`, a known field given twice is an error, an unknown key given twice
//! keeps its last value.

use std::fmt;

use serde::de::{Deserializer, Visitor};

/// A record's key: borrowed from the input where it can be, owned when it had
/// to be unescaped (so a key is copied only when it is unknown, or escaped).
pub(crate) enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }

    pub(crate) fn into_string(self) -> String {
        match self {
            Key::Borrowed(s) => s.to_owned(),
            Key::Owned(s) => s,
        }
    }
}

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        d.deserialize_identifier(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
        Ok(Key::Borrowed(s))
    }

    fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
        Ok(Key::Owned(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
        Ok(Key::Owned(s))
    }
}

/// Implements `Deserialize` for `$ty`, a struct whose listed fields are all
/// `Option`s (missing or `null`: `None`) and whose field `extra`, a
/// `Map<String, Value>`, takes every other key. The field names are the keys.
macro_rules! deserialize_with_extra {
    ($ty:ident, [$($field:ident),+ $(,)?]) => {
        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                d: D,
            ) -> ::core::result::Result<$ty, D::Error> {
                struct RecordVisitor;

                impl<'de> ::serde::de::Visitor<'de> for RecordVisitor {
                    type Value = $ty;

                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(concat!("struct ", stringify!($ty)))
                    }

                    fn visit_map<A: ::serde::de::MapAccess<'de>>(
                        self,
                        mut __map: A,
                    ) -> ::core::result::Result<$ty, A::Error> {
                        $(let mut $field = ::core::option::Option::None;)+
                        let mut __extra = ::serde_json::Map::new();
                        while let ::core::option::Option::Some(__key) = __map.next_key::<$crate::extra::Key<'de>>()? {
                            match __key.as_str() {
                                $(stringify!($field) => {
                                    if $field.is_some() {
                                        return ::core::result::Result::Err(<A::Error as ::serde::de::Error>::duplicate_field(
                                            stringify!($field),
                                        ));
                                    }
                                    $field = ::core::option::Option::Some(__map.next_value()?);
                                })+
                                _ => {
                                    let __value = __map.next_value()?;
                                    __extra.insert(__key.into_string(), __value);
                                }
                            }
                        }
                        ::core::result::Result::Ok($ty {
                            // `Option::flatten`: only `Option` fields compile (missing is `None`).
                            $($field: $field.flatten(),)+
                            extra: __extra,
                        })
                    }
                }

                d.deserialize_map(RecordVisitor)
            }
        }
    };
}

pub(crate) use deserialize_with_extra;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde::Deserialize;
    use serde_json::{Map, Value};

    use crate::types::{DomainCdr, QueueLogFields};

    /// The same fields read by `#[derive(Deserialize)]` with `flatten`: the
    /// reference the hand-written implementation must agree with. The `From`
    /// impl names every field of the real type, so a field added there and not
    /// here does not compile.
    macro_rules! flatten_reference {
        ($name:ident, $target:ident, [$($field:ident: $t:ty),+ $(,)?]) => {
            #[derive(Deserialize)]
            struct $name {
                $(#[serde(default)] $field: Option<$t>,)+
                #[serde(flatten)]
                extra: Map<String, Value>,
            }

            impl From<$name> for $target {
                fn from(r: $name) -> $target {
                    $target { $($field: r.$field,)+ extra: r.extra }
                }
            }
        };
    }

    flatten_reference!(CdrByFlatten, DomainCdr, [
        id: i64, domain_id: i64, dt: i64, uuid: String, direction: String, src: String,
        dst: String, src_name: String, duration: u64, billsec: u64, disposition: String,
        gateway: String, record: bool,
    ]);

    flatten_reference!(QueueLogByFlatten, QueueLogFields, [
        id: i64, domain_id: i64, dt: i64, call_uuid: String, agent: String, queue: String,
        status: String, wait: u64,
    ]);

    /// Reads `text` both ways, from a string, from bytes and from a `Value`:
    /// the same record, or both an error.
    fn agree<T, R>(text: &str)
    where
        T: serde::de::DeserializeOwned + PartialEq + Clone + std::fmt::Debug,
        R: serde::de::DeserializeOwned + Into<T>,
    {
        let ours = serde_json::from_str::<T>(text);
        let reference = serde_json::from_str::<R>(text).map(Into::into);
        assert_eq!(
            ours.is_ok(),
            reference.is_ok(),
            "{text}: {ours:?} / {:?}",
            reference.as_ref().err()
        );
        if let (Ok(a), Ok(b)) = (&ours, &reference) {
            assert_eq!(a, b, "{text}");
        }
        let from_bytes = serde_json::from_slice::<T>(text.as_bytes());
        assert_eq!(
            from_bytes.ok(),
            ours.as_ref().ok().cloned(),
            "{text} as bytes"
        );
        // From a `Value` (which keeps one of repeated keys) as from its text.
        // (The derived `flatten` cannot read numbers beyond 64 bits from a
        // `Value`, with `arbitrary_precision`: not a reference there.)
        if let Ok(value) = serde_json::from_str::<Value>(text) {
            let as_text = serde_json::from_str::<T>(&value.to_string());
            assert_eq!(
                serde_json::from_value::<T>(value).ok(),
                as_text.ok(),
                "{text} as a Value"
            );
        }
    }

    fn key() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "id",
            "dt",
            "uuid",
            "duration",
            "record",
            "src",
            "wait",
            "status",
            "call_uuid",
            "i\\u0064",
            "dur\\u0061tion",
            "x",
            "extra",
            "\\u00e9t\\u00e9",
            "",
        ])
    }

    fn value() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "1",
            "-5",
            "0",
            "18446744073709551615",
            "9223372036854775808",
            "-9223372036854775809",
            "1.5",
            "1e3",
            "-0.0",
            "123456789012345678901234567890",
            "\"s\"",
            "\"a\\nb\\u00e9\"",
            "\"12\"",
            "true",
            "false",
            "null",
            "{}",
            "[]",
            "[1,\"2\"]",
            "{\"id\":3,\"a\":[null]}",
        ])
    }

    fn record() -> impl Strategy<Value = String> {
        prop_oneof![
            8 => prop::collection::vec((key(), value()), 0..10).prop_map(|pairs| {
                let fields: Vec<String> =
                    pairs.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", fields.join(","))
            }),
            1 => value().prop_map(str::to_owned),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn records_read_as_flatten_reads_them(text in record()) {
            agree::<DomainCdr, CdrByFlatten>(&text);
            agree::<QueueLogFields, QueueLogByFlatten>(&text);
        }
    }

    #[test]
    fn the_cases_that_matter_read_as_flatten_reads_them() {
        // Spelled out, so that they are checked whatever the property generates.
        for text in [
            r#"{"id":1,"id":2}"#,
            r#"{"id":null,"id":2}"#,
            r#"{"x":1,"x":2,"y":3}"#,
            r#"{"i\u0064":7,"duration":"5"}"#,
            r#"{"duration":1.5}"#,
            r#"{"extra":{"a":1},"z":123456789012345678901234567890}"#,
            r#"[1,2]"#,
            r#""id""#,
        ] {
            agree::<DomainCdr, CdrByFlatten>(text);
        }
        let cdr: DomainCdr = serde_json::from_str(r#"{"i\u0064":7,"x":1,"x":2,"a":null}"#).unwrap();
        assert_eq!(cdr.id, Some(7));
        assert_eq!(
            Value::Object(cdr.extra),
            serde_json::json!({"x": 2, "a": null})
        );
        let e = serde_json::from_str::<DomainCdr>(r#"{"id":1,"id":2}"#).unwrap_err();
        assert!(e.to_string().contains("duplicate field `id`"), "{e}");
    }
}
