//! `runtel.Response`: a successful answer as a read-only mapping over the
//! envelope dict the decoder built (wrapped, never copied), with the fields a
//! program wants read the way the Rust `Response` reads them.

use pyo3::exceptions::{PyKeyError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyIterator, PyList, PyMapping, PyTuple, PyType};

/// A successful answer: a read-only ``collections.abc.Mapping`` over the whole
/// envelope (``resp["code"]``, ``dict(resp)``), plus ``records``, ``record``,
/// ``total_count``, ``body`` and ``notifies`` wherever the server put them.
#[pyclass(frozen, mapping, module = "runtel._runtel", name = "Response")]
pub struct PyResponse {
    envelope: Py<PyDict>,
    http_status: Option<u16>,
}

impl PyResponse {
    /// Wraps an envelope dict the decoder built (nobody else holds it).
    pub(crate) fn wrap(envelope: Py<PyDict>, http_status: u16) -> PyResponse {
        PyResponse {
            envelope,
            http_status: Some(http_status),
        }
    }

    fn field<'py>(&self, py: Python<'py>, key: &str) -> Option<Bound<'py, PyAny>> {
        self.envelope.bind(py).get_item(key).ok().flatten()
    }

    fn body_dict<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyDict>> {
        self.field(py, "body")
            .and_then(|b| b.cast_into::<PyDict>().ok())
    }
}

/// A usable count: an int (not a bool) from 0 to 2^64-1, as the core reads one.
fn count(v: Option<Bound<'_, PyAny>>) -> Option<u64> {
    let v = v?;
    if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
        return None;
    }
    v.extract::<u64>().ok()
}

#[pymethods]
impl PyResponse {
    /// A response over a copy of ``envelope`` (any mapping), for tests and for
    /// answers obtained some other way; ``http_status`` is then None.
    #[new]
    #[pyo3(signature = (envelope, /))]
    fn new(envelope: &Bound<'_, PyAny>) -> PyResult<PyResponse> {
        let py = envelope.py();
        let mapping = envelope.cast::<PyMapping>().map_err(|_| {
            PyTypeError::new_err(format!(
                "Response() takes a mapping (the envelope), not {}",
                envelope
                    .get_type()
                    .name()
                    .map_or_else(|_| "?".into(), |n| n.to_string())
            ))
        })?;
        let dict = PyDict::new(py);
        dict.update(mapping)?;
        Ok(PyResponse {
            envelope: dict.unbind(),
            http_status: None,
        })
    }

    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.envelope
            .bind(py)
            .get_item(key)?
            .ok_or_else(|| PyKeyError::new_err(key.clone().unbind()))
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        self.envelope.bind(py).len()
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyIterator>> {
        PyIterator::from_object(self.envelope.bind(py).as_any())
    }

    fn __contains__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.envelope.bind(py).contains(key)
    }

    /// The envelope's field ``key``, or ``default``.
    #[pyo3(signature = (key, default=None, /))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self.envelope.bind(py).get_item(key)? {
            Some(v) => v,
            None => default.unwrap_or_else(|| py.None().into_bound(py)),
        })
    }

    /// A view of the envelope's keys.
    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.envelope.bind(py).call_method0("keys")
    }

    /// A view of the envelope's values.
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.envelope.bind(py).call_method0("values")
    }

    /// A view of the envelope's ``(key, value)`` pairs.
    fn items<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.envelope.bind(py).call_method0("items")
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let mine = self.envelope.bind(py);
        let equal = if let Ok(r) = other.cast::<PyResponse>() {
            mine.eq(r.get().envelope.bind(py))?
        } else if other.is_instance_of::<PyDict>() {
            mine.eq(other)?
        } else if let Ok(m) = other.cast::<PyMapping>() {
            let theirs = PyDict::new(py);
            theirs.update(m)?;
            mine.eq(theirs)?
        } else {
            return Ok(py.NotImplemented());
        };
        Ok(PyBool::new(py, equal).to_owned().into_any().unbind())
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("Response({})", self.envelope.bind(py).repr()?))
    }

    /// Pickles (and copies) as ``Response(envelope)``.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let cls = py.get_type::<PyResponse>();
        let args = PyTuple::new(py, [self.envelope.clone_ref(py)])?;
        PyTuple::new(py, [cls.into_any(), args.into_any()])
    }

    /// The records of a list answer wherever the server put them: the top-level
    /// ``list``, else ``body["list"]``, else ``body`` when it is a list; else
    /// ``[]``. The envelope's own list, not a copy.
    #[getter]
    fn records<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        if let Some(l) = self
            .field(py, "list")
            .filter(|l| l.is_instance_of::<PyList>())
        {
            return l;
        }
        let in_body = match self.field(py, "body") {
            Some(b) if b.is_instance_of::<PyList>() => Some(b),
            Some(b) => b
                .cast_into::<PyDict>()
                .ok()
                .and_then(|d| d.get_item("list").ok().flatten())
                .filter(|l| l.is_instance_of::<PyList>()),
            None => None,
        };
        in_body.unwrap_or_else(|| PyList::empty(py).into_any())
    }

    /// The record of a ``get`` answer: ``body`` when it is a non-empty dict
    /// (not one holding a ``list``), else the only record of a one-record
    /// list, else None.
    #[getter]
    fn record<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        if let Some(b) = self.body_dict(py) {
            let holds_list = b
                .get_item("list")?
                .is_some_and(|l| l.is_instance_of::<PyList>());
            if !b.is_empty() && !holds_list {
                return Ok(Some(b.into_any()));
            }
        }
        let records = self.records(py);
        if records.len()? == 1 {
            return Ok(Some(records.get_item(0)?));
        }
        Ok(None)
    }

    /// The ``total_count`` of a list answer, at the top level or in ``body``;
    /// None when absent or not a non-negative integer.
    #[getter]
    fn total_count(&self, py: Python<'_>) -> Option<u64> {
        count(self.field(py, "total_count")).or_else(|| {
            self.body_dict(py)
                .and_then(|b| count(b.get_item("total_count").ok().flatten()))
        })
    }

    /// The ``body``, or None when the answer has none.
    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.field(py, "body")
            .unwrap_or_else(|| py.None().into_bound(py))
    }

    /// The ``notifies`` (messages for the user that came with the answer), or
    /// ``[]``.
    #[getter]
    fn notifies<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.field(py, "notifies")
            .filter(|n| n.is_instance_of::<PyList>())
            .unwrap_or_else(|| PyList::empty(py).into_any())
    }

    /// The HTTP status of the answer (None for a ``Response`` made from a dict).
    #[getter]
    fn http_status(&self) -> Option<u16> {
        self.http_status
    }
}

/// Registers `Response` as a `collections.abc.Mapping`, so `isinstance` and
/// code that checks for mappings treat it as one.
pub fn register_as_mapping(py: Python<'_>, cls: &Bound<'_, PyType>) -> PyResult<()> {
    py.import("collections.abc")?
        .getattr("Mapping")?
        .call_method1("register", (cls,))?;
    Ok(())
}
