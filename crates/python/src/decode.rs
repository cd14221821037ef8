//! Answer bodies decoded straight into Python objects, in one pass over the bytes
//! (no intermediate `serde_json::Value`), with the same success rule and the same
//! errors as the Rust client.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyList, PyString};
use runtel_client::{Decoder, Error, Expected, Limits};
use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Decodes an answer into a `dict` of the whole envelope.
pub struct PyEnvelopeDecoder;

impl Decoder for PyEnvelopeDecoder {
    type Output = Py<PyDict>;

    fn decode(
        &self,
        expected: Expected<'_>,
        status: u16,
        body: Vec<u8>,
        limits: &Limits,
    ) -> Result<Py<PyDict>, Error> {
        if crate::wait::must_not_attach() {
            return Err(Error::InvalidInput(
                "the Python interpreter is exiting; the answer was dropped".into(),
            ));
        }
        if body.len() <= limits.max_body_bytes {
            // The network wait is over; building Python objects needs the GIL.
            let fast = Python::attach(|py| -> Option<Py<PyDict>> {
                let mut de = serde_json::Deserializer::from_slice(&body);
                let keys = RefCell::new(KeyCache::default());
                let (dict, head) = EnvelopeSeed { py, keys: &keys }.deserialize(&mut de).ok()?;
                de.end().ok()?;
                runtel_client::is_success_envelope(expected, status, &head).then(|| dict.unbind())
            });
            if let Some(d) = fast {
                return Ok(d);
            }
        }
        // Not a success (or not decodable): the protocol's parser names the error.
        let response = runtel_client::ResponseDecoder.decode(expected, status, body, limits)?;
        Python::attach(|py| {
            crate::convert::map_to_py(py, response.envelope())
                .map(Bound::unbind)
                .map_err(|e| Error::InvalidInput(format!("converting the answer to Python: {e}")))
        })
    }
}

/// The top-level object: every value into Python, plus the top-level fields the
/// success rule reads (`code`, `action_id`, and the types of `notifies`, `list`,
/// `total_count`) into a small map.
struct EnvelopeSeed<'a, 'py> {
    py: Python<'py>,
    keys: &'a RefCell<KeyCache<'py>>,
}

/// Python strings for the dict keys seen so far: records repeat the same dozen keys,
/// so one `str` object per key serves every record (as orjson does).
#[derive(Default)]
struct KeyCache<'py> {
    keys: HashMap<Box<str>, Bound<'py, PyString>>,
}

impl<'py> KeyCache<'py> {
    const MAX_KEYS: usize = 4096;
    const MAX_KEY_LEN: usize = 64;

    fn get(&mut self, py: Python<'py>, s: &str) -> Bound<'py, PyString> {
        if let Some(k) = self.keys.get(s) {
            return k.clone();
        }
        let k = PyString::new(py, s);
        if s.len() <= Self::MAX_KEY_LEN && self.keys.len() < Self::MAX_KEYS {
            self.keys.insert(s.into(), k.clone());
        }
        k
    }
}

impl<'de, 'a, 'py> DeserializeSeed<'de> for EnvelopeSeed<'a, 'py> {
    type Value = (Bound<'py, PyDict>, Map<String, Value>);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, 'a, 'py> Visitor<'de> for EnvelopeSeed<'a, 'py> {
    type Value = (Bound<'py, PyDict>, Map<String, Value>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an envelope object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let dict = PyDict::new(self.py);
        let mut head = Map::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "code" | "action_id" => {
                    let v: Value = map.next_value()?;
                    dict.set_item(
                        key.as_ref(),
                        crate::convert::to_py(self.py, &v).map_err(A::Error::custom)?,
                    )
                    .map_err(A::Error::custom)?;
                    head.insert(key.into_owned(), v);
                }
                _ => {
                    let v = map.next_value_seed(PySeed {
                        py: self.py,
                        keys: self.keys,
                    })?;
                    let marker = match key.as_ref() {
                        "notifies" | "list" | "total_count" => Some(type_marker(&v)),
                        _ => None,
                    };
                    dict.set_item(key.as_ref(), v).map_err(A::Error::custom)?;
                    if let Some(m) = marker {
                        head.insert(key.into_owned(), m);
                    }
                }
            }
        }
        Ok((dict, head))
    }
}

/// Enough of a value for the success rule's type checks.
fn type_marker(v: &Bound<'_, PyAny>) -> Value {
    if v.is_none() {
        Value::Null
    } else if v.cast::<PyList>().is_ok() {
        Value::Array(Vec::new())
    } else if let Ok(n) = v.extract::<u64>() {
        if v.cast::<pyo3::types::PyBool>().is_ok() {
            Value::Bool(true)
        } else {
            Value::from(n)
        }
    } else {
        Value::String(String::new())
    }
}

/// Any JSON value, as a Python object.
struct PySeed<'a, 'py> {
    py: Python<'py>,
    keys: &'a RefCell<KeyCache<'py>>,
}

impl<'de, 'a, 'py> DeserializeSeed<'de> for PySeed<'a, 'py> {
    type Value = Bound<'py, PyAny>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, 'a, 'py> Visitor<'de> for PySeed<'a, 'py> {
    type Value = Bound<'py, PyAny>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.py.None().into_bound(self.py))
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        self.visit_unit()
    }

    fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Self::Value, E> {
        Ok(pyo3::types::PyBool::new(self.py, b).to_owned().into_any())
    }

    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Self::Value, E> {
        n.into_pyobject(self.py)
            .map(Bound::into_any)
            .map_err(E::custom)
    }

    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Self::Value, E> {
        n.into_pyobject(self.py)
            .map(Bound::into_any)
            .map_err(E::custom)
    }

    fn visit_f64<E: serde::de::Error>(self, f: f64) -> Result<Self::Value, E> {
        Ok(PyFloat::new(self.py, f).into_any())
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(PyString::new(self.py, s).into_any())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let list = PyList::empty(self.py);
        while let Some(v) = seq.next_element_seed(PySeed {
            py: self.py,
            keys: self.keys,
        })? {
            list.append(v).map_err(A::Error::custom)?;
        }
        Ok(list.into_any())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let dict = PyDict::new(self.py);
        while let Some(key) = map.next_key_seed(KeySeed {
            py: self.py,
            keys: self.keys,
        })? {
            let v = map.next_value_seed(PySeed {
                py: self.py,
                keys: self.keys,
            })?;
            dict.set_item(key, v).map_err(A::Error::custom)?;
        }
        Ok(dict.into_any())
    }
}

/// A map key, as a Python str from the key cache.
struct KeySeed<'a, 'py> {
    py: Python<'py>,
    keys: &'a RefCell<KeyCache<'py>>,
}

impl<'de, 'a, 'py> DeserializeSeed<'de> for KeySeed<'a, 'py> {
    type Value = Bound<'py, PyString>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 'a, 'py> Visitor<'de> for KeySeed<'a, 'py> {
    type Value = Bound<'py, PyString>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(self.keys.borrow_mut().get(self.py, s))
    }
}
