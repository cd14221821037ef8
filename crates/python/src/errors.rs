//! SDK errors as instances of the exception classes in `runtel/_errors.py`.
//!
//! Every [`ErrorKind`] names its class in [`class_name`], a `match` without a
//! fallback: a kind added to the core does not compile here until it has a
//! class. `_error_kinds()` and `_sample_error(kind)` let the tests walk the table.

use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyModule};
use runtel_client::{ApiErrorInfo, Error, ErrorKind, TransportCause};

use crate::convert::to_py;

/// The class of `runtel/_errors.py` raised for each kind.
fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidInput => "InvalidInputError",
        ErrorKind::Transport => "TransportError",
        ErrorKind::Timeout => "RuntelTimeoutError",
        ErrorKind::Protocol => "ProtocolError",
        ErrorKind::Api => "ApiError",
        ErrorKind::Auth => "AuthError",
        ErrorKind::AuthLockout => "AuthLockoutError",
        ErrorKind::NotAuthenticated => "NotAuthenticatedError",
    }
}

fn class(py: Python<'_>, kind: ErrorKind) -> PyResult<Bound<'_, PyAny>> {
    // The module is imported once; the class is looked up in it per error.
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let module = MODULE.get_or_try_init(py, || py.import("runtel._errors").map(Bound::unbind))?;
    module.bind(py).getattr(class_name(kind))
}

/// The Python exception for an SDK error, with every detail as an attribute.
/// If the exception cannot be built (the package is broken), the reason why is
/// raised instead, never a class of another kind.
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
        let notifies = PyList::empty(py);
        for n in &info.notifies {
            notifies.append(to_py(py, n)?)?;
        }
        kw.set_item("notifies", notifies)?;
    }
    if let Some(info) = e.transport_info() {
        kw.set_item("cause", info.cause.as_str())?;
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

/// ``_error_kinds()``: the name of every error kind of the core, in its order.
#[pyfunction]
#[pyo3(name = "_error_kinds")]
pub fn error_kinds() -> Vec<&'static str> {
    ErrorKind::ALL.iter().map(|k| k.as_str()).collect()
}

/// ``_transport_causes()``: every ``TransportError.cause`` the core can give.
#[pyfunction]
#[pyo3(name = "_transport_causes")]
pub fn transport_causes() -> Vec<&'static str> {
    TransportCause::ALL.iter().map(|c| c.as_str()).collect()
}

/// ``_sample_error(kind)``: the exception an error of this kind becomes (for
/// tests of the table); ``ValueError`` for a name that is not a kind.
#[pyfunction]
#[pyo3(name = "_sample_error")]
pub fn sample_error(py: Python<'_>, kind: &str) -> PyResult<Py<PyAny>> {
    let kind = ErrorKind::ALL
        .into_iter()
        .find(|k| k.as_str() == kind)
        .ok_or_else(|| PyValueError::new_err(format!("no error kind {kind:?}")))?;
    Ok(to_py_err(py, &sample(kind)).into_value(py).into_any())
}

/// An error of each kind, as the core would report it.
fn sample(kind: ErrorKind) -> Error {
    let refusal = |status: u16| {
        let mut info = ApiErrorInfo::default();
        info.http_status = status;
        info.code = Some(i64::from(status));
        info.obj = "User".into();
        info.action = "get".into();
        info.message = Some("refused".into());
        Box::new(info)
    };
    match kind {
        ErrorKind::InvalidInput => Error::InvalidInput("a sample".into()),
        ErrorKind::Transport => Error::transport(TransportCause::Connect, "a sample"),
        ErrorKind::Timeout => Error::Timeout("a sample".into()),
        ErrorKind::Protocol => Error::unexpected_shape("User", "get", "a sample".into(), "$.code"),
        ErrorKind::Api => Error::Api(refusal(404)),
        ErrorKind::Auth => Error::Auth(refusal(401)),
        ErrorKind::AuthLockout => Error::AuthLockout {
            failures: 3,
            retry_after: Duration::from_secs(60),
        },
        ErrorKind::NotAuthenticated => Error::NotAuthenticated("a sample".into()),
    }
}
