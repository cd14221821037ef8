//! SDK errors as instances of the exception classes in `runtel/_errors.py`.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};
use runtel_client::{Error, ErrorKind};

use crate::convert::to_py;

/// The classes of `runtel/_errors.py`, by the index `class_index` gives.
const CLASS_NAMES: [&str; 9] = [
    "RuntelError",
    "InvalidInputError",
    "TransportError",
    "RuntelTimeoutError",
    "ProtocolError",
    "ApiError",
    "AuthError",
    "AuthLockoutError",
    "NotAuthenticatedError",
];

fn class_index(kind: ErrorKind) -> usize {
    match kind {
        ErrorKind::InvalidInput => 1,
        ErrorKind::Transport => 2,
        ErrorKind::Timeout => 3,
        ErrorKind::Protocol => 4,
        ErrorKind::Api => 5,
        ErrorKind::Auth => 6,
        ErrorKind::AuthLockout => 7,
        ErrorKind::NotAuthenticated => 8,
    }
}

fn class(py: Python<'_>, kind: ErrorKind) -> PyResult<Bound<'_, PyType>> {
    // Looked up once per class; the module is part of the same package.
    static CLASSES: [PyOnceLock<Py<PyType>>; 9] = [const { PyOnceLock::new() }; 9];
    let i = class_index(kind);
    CLASSES[i]
        .import(py, "runtel._errors", CLASS_NAMES[i])
        .cloned()
}

/// The Python exception for an SDK error, with every detail as an attribute.
pub fn to_py_err(py: Python<'_>, e: &Error) -> PyErr {
    build(py, e).unwrap_or_else(|failure| failure)
}

fn build(py: Python<'_>, e: &Error) -> Result<PyErr, PyErr> {
    let cls = class(py, e.kind())?;
    let kw = PyDict::new(py);
    kw.set_item("kind", e.kind().as_str())?;
    kw.set_item("http_status", e.http_status())?;
    kw.set_item("code", e.api_code())?;
    if let Some(info) = e.api_info() {
        kw.set_item("msg_id", info.msg_id.as_deref())?;
        kw.set_item("message", info.message.as_deref())?;
        kw.set_item("action_id", info.action_id.as_deref())?;
        kw.set_item("body", info.raw_body.as_str())?;
        if let Some(fe) = &info.field_errors {
            kw.set_item("field_errors", to_py(py, fe)?)?;
        }
    }
    if let Error::AuthLockout { retry_after, .. } = e {
        kw.set_item("retry_after", retry_after.as_secs_f64())?;
    }
    let instance = cls.call((e.to_string(),), Some(&kw))?;
    Ok(PyErr::from_value(instance))
}

/// An `InvalidInputError` (also a `ValueError`) with this message.
pub fn invalid_input(py: Python<'_>, message: &str) -> PyErr {
    to_py_err(py, &Error::InvalidInput(message.to_owned()))
}
