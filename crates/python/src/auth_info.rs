//! `AuthInfo`: the auth answer as attributes, `exp` as a timezone-aware datetime.

use std::time::SystemTime;

use pyo3::prelude::*;
use pyo3::types::{IntoPyDict, PyDict, PyList};
use runtel_client::{AuthInfo, ServerDateTime};
use serde_json::Value;

use crate::convert::{map_to_py, to_py};

/// Who is logged in: an attribute for every field of the auth answer.
/// ``exp`` is an aware UTC ``datetime``; ``repr`` masks the token.
#[pyclass(frozen, module = "runtel._runtel", name = "AuthInfo")]
pub struct PyAuthInfo {
    pub(crate) info: AuthInfo,
    /// The token's expiry on the local clock (skew-corrected).
    pub(crate) expires_at: Option<SystemTime>,
}

/// An aware UTC `datetime` of the same calendar parts, to the microsecond
/// (never through a float, which cannot hold a microsecond in year 2999).
/// Python's `datetime` ends at years 1 and 9999: an instant before or after
/// is clamped to `datetime.min` or `datetime.max` (in UTC).
fn utc_datetime(py: Python<'_>, t: ServerDateTime) -> PyResult<Py<PyAny>> {
    // Built through the datetime module: its C API is not part of the abi3 ABI.
    let dt = py.import("datetime")?;
    let utc = dt.getattr("timezone")?.getattr("utc")?;
    let class = dt.getattr("datetime")?;
    let (year, month, day, hour, minute, second, micro) = t.parts();
    let made = if (1..=9999).contains(&year) {
        class.call1((year, month, day, hour, minute, second, micro, &utc))?
    } else {
        let bound = class.getattr(if year < 1 { "min" } else { "max" })?;
        bound.call_method("replace", (), Some(&[("tzinfo", &utc)].into_py_dict(py)?))?
    };
    Ok(made.unbind())
}

#[pymethods]
impl PyAuthInfo {
    /// The bearer token. Keep it out of logs.
    #[getter]
    fn token(&self) -> &str {
        self.info.token.expose()
    }
    /// When the token expires, as the server wrote it, read as UTC.
    #[getter]
    fn exp(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        utc_datetime(py, self.info.exp)
    }
    /// When the token expires on this machine's clock (corrected for server clock skew).
    #[getter]
    fn expires_at(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.expires_at
            .map(|t| utc_datetime(py, ServerDateTime::from_system_time(t)))
            .transpose()
    }
    /// The ``notifies`` of the auth answer (messages for the user, such as a
    /// low-balance notice), as sent.
    #[getter]
    fn notifies<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for n in &self.info.notifies {
            list.append(to_py(py, n)?)?;
        }
        Ok(list)
    }
    /// `version` as a dict (`software`, `last_update`).
    #[getter]
    fn version(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let v = serde_json::to_value(&self.info.version).unwrap_or(Value::Null);
        Ok(to_py(py, &v)?.unbind())
    }
    #[getter]
    fn user_id(&self) -> i64 {
        self.info.user_id
    }
    #[getter]
    fn user_name(&self) -> &str {
        &self.info.user_name
    }
    #[getter]
    fn user_login(&self) -> &str {
        &self.info.user_login
    }
    #[getter]
    fn domain_id(&self) -> Option<i64> {
        self.info.domain_id
    }
    #[getter]
    fn domain_name(&self) -> Option<&str> {
        self.info.domain_name.as_deref()
    }
    #[getter]
    fn role_id(&self) -> Option<i64> {
        self.info.role_id
    }
    #[getter]
    fn role_name(&self) -> &str {
        &self.info.role_name
    }
    /// -1 platform administrator, -2 custom platform role, 1 PBX administrator, 4 custom PBX role.
    #[getter]
    fn role_type(&self) -> i64 {
        self.info.role_type
    }
    #[getter]
    fn role_perms<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        map_to_py(py, &self.info.role_perms)
    }
    #[getter]
    fn role_visible<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        map_to_py(py, &self.info.role_visible)
    }
    #[getter]
    fn role_filters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        map_to_py(py, &self.info.role_filters)
    }
    #[getter]
    fn auth_type(&self) -> &str {
        &self.info.auth_type
    }
    #[getter]
    fn domain_test_until(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(to_py(py, &self.info.domain_test_until)?.unbind())
    }
    #[getter]
    fn domain_mode(&self) -> Option<i64> {
        self.info.domain_mode
    }
    /// `domain_billing_options` as a dict; `balance` stays the exact decimal string.
    #[getter]
    fn domain_billing_options(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let v = serde_json::to_value(&self.info.domain_billing_options).unwrap_or(Value::Null);
        Ok(to_py(py, &v)?.unbind())
    }
    #[getter]
    fn tz(&self) -> Option<&str> {
        self.info.tz.as_deref()
    }
    #[getter]
    fn locale(&self) -> Option<&str> {
        self.info.locale.as_deref()
    }
    /// True for platform operators, who pass `domain_id` to act inside a PBX.
    #[getter]
    fn is_platform_operator(&self) -> bool {
        self.info.is_platform_operator()
    }
    /// The auth body as a dict, every field including unknown ones, token masked.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.info.to_masked_json())
    }
    fn __repr__(&self) -> String {
        let domain = self
            .info
            .domain_id
            .map_or_else(|| "None".to_owned(), |d| d.to_string());
        format!(
            "AuthInfo(user_id={}, user_login={:?}, role_type={}, domain_id={domain}, exp='{}', token='***')",
            self.info.user_id, self.info.user_login, self.info.role_type, self.info.exp
        )
    }
}
