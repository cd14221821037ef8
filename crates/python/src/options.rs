//! The keyword arguments of `Client(...)`: every name of the core's
//! [`ClientOptions::NAMES`], filled by name, plus two Python conveniences
//! (`verify=` as requests and httpx take it, and `lockout_cooldown=`, the name
//! this module used before the core named the option). A name the core adds is
//! a keyword at once; its Python type follows from the type of its default.

use std::time::Duration;

use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};
use runtel_client::{edit_distance, ClientOptions};
use serde_json::{Number, Value};

use crate::convert::int_from_py;
use crate::errors::to_py_err;

/// Keywords of `Client(...)` that are not option names.
const CONVENIENCES: [&str; 2] = ["verify", "lockout_cooldown"];

/// What a keyword takes, read from the option's default: a bool, seconds (the
/// core writes durations as fractional numbers), a count, or text (a string,
/// or None by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Seconds,
    Count,
    Text,
}

impl Kind {
    fn of(default: &Value) -> Kind {
        match default {
            Value::Bool(_) => Kind::Bool,
            Value::Number(n) if n.is_u64() || n.is_i64() => Kind::Count,
            Value::Number(_) => Kind::Seconds,
            _ => Kind::Text,
        }
    }

    fn wants(self) -> &'static str {
        match self {
            Kind::Bool => "True or False",
            Kind::Seconds => "seconds (an int or a float)",
            Kind::Count => "an int",
            Kind::Text => "a str",
        }
    }
}

/// The option names, for `Client.OPTION_NAMES`.
pub fn names() -> &'static [&'static str] {
    ClientOptions::NAMES
}

/// The options the keywords describe. Unknown names and values of the wrong
/// type are `TypeError`s (as for any Python function); values of the right
/// type the core refuses are `InvalidInputError`s naming the keyword.
pub fn from_keywords(
    py: Python<'_>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<ClientOptions> {
    let mut options = ClientOptions::default();
    let Some(kwargs) = kwargs else {
        return Ok(options);
    };
    let defaults = ClientOptions::default().to_json();
    let mut verify = None;
    for (key, value) in kwargs.iter() {
        let given: String = key.extract()?;
        let name = match given.as_str() {
            "verify" => {
                verify = Some(value);
                continue;
            }
            "lockout_cooldown" => {
                if kwargs.contains("auth_lockout_cooldown")? {
                    return Err(PyTypeError::new_err(
                        "lockout_cooldown and auth_lockout_cooldown are the same option: give one",
                    ));
                }
                "auth_lockout_cooldown"
            }
            n => match ClientOptions::NAMES.iter().find(|known| **known == n) {
                Some(known) => *known,
                None => return Err(unknown_keyword(n)),
            },
        };
        let kind = Kind::of(&defaults[name]);
        let json = to_json(py, &given, kind, &value)?;
        options.set(name, json).map_err(|e| to_py_err(py, &e))?;
    }
    if let Some(v) = verify {
        apply_verify(kwargs, &mut options, &v)?;
    }
    Ok(options)
}

/// `TypeError` as Python words it for a function, with the nearest keyword.
fn unknown_keyword(given: &str) -> PyErr {
    let nearest = ClientOptions::NAMES
        .iter()
        .chain(CONVENIENCES.iter())
        .map(|n| (edit_distance(given, n), *n))
        // Two edits, or one in three letters for longer names (max_retry).
        .filter(|(d, _)| *d <= 2 || *d * 3 <= given.chars().count())
        .min();
    let hint = nearest.map_or(String::new(), |(_, n)| format!("; did you mean '{n}'?"));
    PyTypeError::new_err(format!(
        "Client() got an unexpected keyword argument '{given}'{hint}"
    ))
}

fn wrong_type(given: &str, kind: Kind, value: &Bound<'_, PyAny>) -> PyErr {
    let t = value
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string());
    PyTypeError::new_err(format!("{given} takes {}, not {t}", kind.wants()))
}

/// A keyword's value as the JSON the core's option takes (None: the default).
fn to_json(py: Python<'_>, given: &str, kind: Kind, value: &Bound<'_, PyAny>) -> PyResult<Value> {
    if value.is_none() {
        return Ok(Value::Null);
    }
    let is_bool = value.is_instance_of::<PyBool>();
    match kind {
        Kind::Bool if is_bool => Ok(Value::Bool(value.is_truthy()?)),
        Kind::Count if value.is_instance_of::<PyInt>() && !is_bool => int_from_py(value, given),
        Kind::Seconds
            if !is_bool
                && (value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>()) =>
        {
            let d = seconds(py, given, value)?;
            Ok(Number::from_f64(d.as_secs_f64()).map_or(Value::Null, Value::Number))
        }
        Kind::Text => path_or_str(value).ok_or_else(|| wrong_type(given, kind, value)),
        _ => Err(wrong_type(given, kind, value)),
    }
}

/// A `str`, or an `os.PathLike` whose path is one.
fn path_or_str(value: &Bound<'_, PyAny>) -> Option<Value> {
    if let Ok(s) = value.cast::<PyString>() {
        return s.to_cow().ok().map(|s| Value::String(s.into_owned()));
    }
    let path = value
        .py()
        .import("os")
        .ok()?
        .call_method1("fspath", (value,))
        .ok()?;
    let s = path.cast::<PyString>().ok()?;
    s.to_cow().ok().map(|s| Value::String(s.into_owned()))
}

/// Seconds from Python (a float or an int) as a `Duration`, through the one check
/// every front end uses: NaN, negative, infinite or above 30 days is an
/// `InvalidInputError` naming the keyword, never a panic.
pub fn seconds(py: Python<'_>, name: &str, value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let v = match value.extract::<f64>() {
        Ok(v) => v,
        // An int beyond the float range: as much a mistake as 1e300.
        Err(e) if e.is_instance_of::<PyOverflowError>(py) => f64::INFINITY,
        Err(e) => return Err(e),
    };
    runtel_client::duration_from_secs(name, v).map_err(|e| to_py_err(py, &e))
}

/// `verify=True` (the default), `verify=False` (`accept_invalid_certs`), or
/// `verify=PATH` (`ca_file`), as requests and httpx take it.
fn apply_verify(
    kwargs: &Bound<'_, PyDict>,
    options: &mut ClientOptions,
    verify: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let py = verify.py();
    let conflict = |with: &str| -> PyResult<()> {
        if kwargs.contains(with)? {
            return Err(PyTypeError::new_err(format!(
                "verify and {with} both say how to check certificates: give one"
            )));
        }
        Ok(())
    };
    if verify.is_none() {
        return Ok(());
    }
    if let Ok(b) = verify.cast::<PyBool>() {
        if b.is_true() {
            // verify=True with accept_invalid_certs=True says both: refuse.
            if let Some(accept) = kwargs.get_item("accept_invalid_certs")? {
                if accept.is_truthy()? {
                    return Err(PyTypeError::new_err(
                        "verify=True and accept_invalid_certs=True contradict each other: give one",
                    ));
                }
            }
        } else {
            conflict("accept_invalid_certs")?;
            options
                .set("accept_invalid_certs", Value::Bool(true))
                .map_err(|e| to_py_err(py, &e))?;
        }
        return Ok(());
    }
    let Some(path) = path_or_str(verify) else {
        let t = verify.get_type().name()?;
        return Err(PyTypeError::new_err(format!(
            "verify takes True, False or the path of a CA file (PEM), not {t}"
        )));
    };
    conflict("ca_file")?;
    conflict("accept_invalid_certs")?;
    options.set("ca_file", path).map_err(|e| to_py_err(py, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_has_a_kind_from_its_default() {
        let defaults = ClientOptions::default().to_json();
        let kinds: Vec<(&str, Kind)> = ClientOptions::NAMES
            .iter()
            .map(|n| (*n, Kind::of(&defaults[*n])))
            .collect();
        let of = |n: &str| kinds.iter().find(|(k, _)| *k == n).unwrap().1;
        assert_eq!(of("timeout"), Kind::Seconds);
        assert_eq!(of("max_idle_age"), Kind::Seconds);
        assert_eq!(of("max_retries"), Kind::Count);
        assert_eq!(of("max_response_bytes"), Kind::Count);
        assert_eq!(of("logout_on_drop"), Kind::Bool);
        assert_eq!(of("ca_file"), Kind::Text);
        assert_eq!(of("password"), Kind::Text);
    }

    #[test]
    fn conveniences_are_not_option_names() {
        for c in CONVENIENCES {
            assert!(!ClientOptions::NAMES.contains(&c), "{c}");
        }
    }
}
