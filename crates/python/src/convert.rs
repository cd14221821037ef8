//! JSON values straight between Rust and Python objects, no JSON text in between.

use std::str::FromStr;

use pyo3::exceptions::PyRecursionError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

use crate::errors::invalid_input;
use crate::filter::PyFilter;

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 256;

/// A JSON value as Python objects: dict, list, str, int, float, bool, None.
pub fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => number_to_py(py, n)?,
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(a) => {
            let list = PyList::empty(py);
            for item in a {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(m) => map_to_py(py, m)?.into_any(),
    })
}

/// A JSON number as a Python `int` (of any size, exactly) or `float`.
fn number_to_py<'py>(py: Python<'py>, n: &Number) -> PyResult<Bound<'py, PyAny>> {
    if let Some(i) = n.as_i64() {
        return Ok(i.into_pyobject(py)?.into_any());
    }
    if let Some(u) = n.as_u64() {
        return Ok(u.into_pyobject(py)?.into_any());
    }
    number_text_to_py(py, &n.to_string())
}

/// A JSON number's text (as `arbitrary_precision` keeps it) as a Python object:
/// an integer of any size is an exact `int` (`-0` is `0`), anything with a
/// fraction or an exponent a `float` (correctly rounded, as `json.loads` does).
pub fn number_text_to_py<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    if text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        let v: f64 = text
            .parse()
            .map_err(|_| invalid_input(py, &format!("{text:?} is not a JSON number")))?;
        return Ok(PyFloat::new(py, v).into_any());
    }
    if let Ok(i) = text.parse::<i64>() {
        return Ok(i.into_pyobject(py)?.into_any());
    }
    // Beyond 64 bits: Python parses the digits (only such integers get here).
    py.get_type::<PyInt>().call1((text,))
}

/// A JSON object as a Python dict.
pub fn map_to_py<'py>(py: Python<'py>, m: &Map<String, Value>) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (k, v) in m {
        dict.set_item(k, to_py(py, v)?)?;
    }
    Ok(dict)
}

/// A Python object as JSON; anything JSON cannot hold is an `InvalidInputError`.
pub fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    from_py_at(obj, 0, "params")
}

/// Like [`from_py`], naming `path` (`filter`, `params.id`) in errors.
pub fn from_py_named(obj: &Bound<'_, PyAny>, path: &str) -> PyResult<Value> {
    from_py_at(obj, 0, path)
}

fn from_py_at(obj: &Bound<'_, PyAny>, depth: usize, path: &str) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(PyRecursionError::new_err(format!(
            "{path}: nested deeper than {MAX_DEPTH} levels"
        )));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    // bool before int: True is an int in Python.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        return int_from_py(obj, path);
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        let v = f.value();
        return Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| invalid_input(obj.py(), &format!("{path}: {v} is not a JSON number")));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut m = Map::with_capacity(d.len());
        for (k, v) in d.iter() {
            let Ok(key) = k.cast::<PyString>() else {
                let t = k.get_type().name()?;
                return Err(invalid_input(
                    obj.py(),
                    &format!("{path}: dict keys must be str, not {t}"),
                ));
            };
            let key = key.to_cow()?.into_owned();
            let value = from_py_at(&v, depth + 1, &format!("{path}.{key}"))?;
            m.insert(key, value);
        }
        return Ok(Value::Object(m));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l
            .iter()
            .enumerate()
            .map(|(i, v)| from_py_at(&v, depth + 1, &format!("{path}[{i}]")))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t
            .iter()
            .enumerate()
            .map(|(i, v)| from_py_at(&v, depth + 1, &format!("{path}[{i}]")))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    // A `runtel.where(...)` filter, wherever it is given: its wire form.
    if let Ok(f) = obj.cast::<PyFilter>() {
        return Ok(f.get().to_json());
    }
    let t = obj.get_type().name()?;
    Err(invalid_input(
        obj.py(),
        &format!("{path}: cannot send a {t} as JSON"),
    ))
}

/// A Python `int` as a JSON number with its exact value, however large.
pub fn int_from_py(obj: &Bound<'_, PyAny>, path: &str) -> PyResult<Value> {
    if let Ok(i) = obj.extract::<i64>() {
        return Ok(Value::from(i));
    }
    if let Ok(u) = obj.extract::<u64>() {
        return Ok(Value::from(u));
    }
    // Beyond 64 bits: its decimal digits, which serde_json keeps as they are.
    // `int.__repr__` rather than `str()`: a subclass may print itself otherwise.
    let py = obj.py();
    let digits = py
        .get_type::<PyInt>()
        .call_method1("__repr__", (obj,))
        .and_then(|d| d.extract::<String>())
        .map_err(|e| invalid_input(py, &format!("{path}: {e}")))?;
    Number::from_str(&digits)
        .map(Value::Number)
        .map_err(|e| invalid_input(py, &format!("{path}: {e}")))
}
