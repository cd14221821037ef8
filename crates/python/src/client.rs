//! `runtel.Client`, the `client.User.list(...)` proxies and the `Records` iterator.

use std::sync::Mutex;
use std::time::{Duration, UNIX_EPOCH};

use pyo3::exceptions::{PyAttributeError, PyStopIteration};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use runtel_client::{Call, Client, Error, Records, RetryPolicy, SessionStatus};
use serde_json::{Map, Value};

use crate::auth_info::PyAuthInfo;
use crate::convert::{from_py, to_py};
use crate::errors::{invalid_input, to_py_err};

/// A Runtel API client. Safe to use from many threads at once; the GIL is released
/// while it waits on the network.
///
/// With ``login``/``password`` it logs in lazily on the first call and again when the
/// token expires. As a context manager it logs out on exit.
#[pyclass(frozen, module = "runtel._runtel", name = "Client")]
pub struct PyClient {
    client: Mutex<Option<Client>>,
    url: String,
}

impl PyClient {
    /// A handle to the client for one call; the lock is held only to clone the `Arc`.
    fn get(&self, py: Python<'_>) -> PyResult<Client> {
        self.client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| invalid_input(py, "the client is closed"))
    }

    fn auth_info_obj(client: &Client) -> Option<PyAuthInfo> {
        client.auth_info().map(|info| PyAuthInfo {
            info,
            expires_at: client
                .token_expires_at()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs_f64()),
        })
    }
}

/// Params from a dict (or None) and keyword arguments, merged (keywords win).
pub(crate) fn params_from(
    py: Python<'_>,
    params: Option<&Bound<'_, PyAny>>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Value> {
    let mut map = match params.map(from_py).transpose()? {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(invalid_input(py, "params must be a dict")),
    };
    if let Some(kw) = kwargs {
        if let Value::Object(extra) = from_py(kw.as_any())? {
            map.extend(extra);
        }
    }
    Ok(Value::Object(map))
}

fn secs(py: Python<'_>, what: &str, v: f64) -> PyResult<Duration> {
    if !(v.is_finite() && v > 0.0) {
        return Err(invalid_input(
            py,
            &format!("{what} must be a positive number of seconds"),
        ));
    }
    Ok(Duration::from_secs_f64(v))
}

fn call_envelope(py: Python<'_>, client: Client, call: Call) -> PyResult<Py<PyAny>> {
    // The GIL is released for the network wait; the decoder takes it back only to
    // build the dict, in one pass over the body.
    let result = py.detach(move || client.call_decoded(&call, &crate::decode::PyEnvelopeDecoder));
    match result {
        Ok(dict) => Ok(dict.into_any()),
        Err(e) => Err(to_py_err(py, &e)),
    }
}

#[pymethods]
impl PyClient {
    #[new]
    #[pyo3(signature = (base_url, *, timeout=30.0, connect_timeout=10.0, verify=true, ca_file=None,
                        login=None, password=None, max_auth_failures=3, lockout_cooldown=900.0,
                        max_retries=2, user_agent=None, proxy=None, max_response_bytes=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        base_url: &str,
        timeout: f64,
        connect_timeout: f64,
        verify: bool,
        ca_file: Option<std::path::PathBuf>,
        login: Option<&str>,
        password: Option<&str>,
        max_auth_failures: u32,
        lockout_cooldown: f64,
        max_retries: u32,
        user_agent: Option<&str>,
        proxy: Option<&str>,
        max_response_bytes: Option<usize>,
    ) -> PyResult<Self> {
        let mut b = Client::builder(base_url)
            .timeout(secs(py, "timeout", timeout)?)
            .connect_timeout(secs(py, "connect_timeout", connect_timeout)?)
            .danger_accept_invalid_certs(!verify)
            .max_auth_failures(max_auth_failures)
            .auth_lockout_cooldown(secs(py, "lockout_cooldown", lockout_cooldown)?)
            .retry(RetryPolicy {
                max_retries,
                ..RetryPolicy::default()
            });
        if let Some(path) = ca_file {
            let pem = std::fs::read(&path).map_err(|e| {
                invalid_input(py, &format!("cannot read ca_file {}: {e}", path.display()))
            })?;
            b = b.root_certificates_pem(pem);
        }
        match (login, password) {
            (Some(l), Some(p)) => b = b.credentials(l, p),
            (None, None) => {}
            _ => {
                return Err(invalid_input(
                    py,
                    "pass both login and password, or neither",
                ))
            }
        }
        if let Some(ua) = user_agent {
            b = b.user_agent(ua);
        }
        if let Some(p) = proxy {
            b = b.proxy(p);
        }
        if let Some(n) = max_response_bytes {
            b = b.max_response_bytes(n);
        }
        let client = b.build().map_err(|e| to_py_err(py, &e))?;
        Ok(PyClient {
            url: client.endpoint_url().to_owned(),
            client: Mutex::new(Some(client)),
        })
    }

    /// Logs in and remembers the credentials for automatic re-login. A refused login
    /// raises ``AuthError`` and is never retried.
    fn login(&self, py: Python<'_>, login: &str, password: &str) -> PyResult<PyAuthInfo> {
        let client = self.get(py)?;
        let (login, password) = (login.to_owned(), password.to_owned());
        let c = client.clone();
        py.detach(move || c.login(&login, &password))
            .map_err(|e| to_py_err(py, &e))?;
        Ok(PyClient::auth_info_obj(&client).expect("logged in"))
    }

    /// Sends one call; returns the whole answer envelope as a dict.
    /// ``params`` (a dict) and keyword arguments are merged.
    #[pyo3(signature = (obj, action, params=None, /, **kwargs))]
    fn call(
        &self,
        py: Python<'_>,
        obj: &str,
        action: &str,
        params: Option<&Bound<'_, PyAny>>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let client = self.get(py)?;
        let params = params_from(py, params, kwargs)?;
        let call = Call::new(obj, action, params).map_err(|e| to_py_err(py, &e))?;
        call_envelope(py, client, call)
    }

    /// A list call with the top-level ``limit``, ``offset`` and ``filter``.
    #[pyo3(signature = (obj, params=None, /, *, limit=None, offset=None, filter=None, action="list", **kwargs))]
    #[allow(clippy::too_many_arguments)]
    fn list(
        &self,
        py: Python<'_>,
        obj: &str,
        params: Option<&Bound<'_, PyAny>>,
        limit: Option<u64>,
        offset: Option<u64>,
        filter: Option<&Bound<'_, PyAny>>,
        action: &str,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let client = self.get(py)?;
        let params = params_from(py, params, kwargs)?;
        let filter = filter.map(from_py).transpose()?.unwrap_or(Value::Null);
        let mut call = Call::new(obj, action, params)
            .and_then(|c| c.filter(filter))
            .map_err(|e| to_py_err(py, &e))?;
        if let Some(l) = limit {
            call = call.limit(l);
        }
        if let Some(o) = offset {
            call = call.offset(o);
        }
        call_envelope(py, client, call)
    }

    /// Iterates over every record of a list action, ``page_size`` per request, one
    /// page in memory. ``filter`` is sent with every page; ``start`` skips records.
    #[pyo3(signature = (obj, params=None, /, *, page_size=1000, filter=None, start=0, action="list", **kwargs))]
    #[allow(clippy::too_many_arguments)]
    fn records(
        &self,
        py: Python<'_>,
        obj: &str,
        params: Option<&Bound<'_, PyAny>>,
        page_size: u64,
        filter: Option<&Bound<'_, PyAny>>,
        start: u64,
        action: &str,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyRecords> {
        let client = self.get(py)?;
        let params = params_from(py, params, kwargs)?;
        let filter = filter.map(from_py).transpose()?.unwrap_or(Value::Null);
        let records = client
            .records(obj, params, page_size)
            .and_then(|r| r.action(action))
            .and_then(|r| r.filter(filter))
            .map(|r| r.starting_at(start))
            .map_err(|e| to_py_err(py, &e))?;
        Ok(PyRecords {
            records: Mutex::new(Some(records)),
        })
    }

    /// Ends the token on the server. Stored credentials are kept.
    fn logout(&self, py: Python<'_>) -> PyResult<()> {
        let client = self.get(py)?;
        py.detach(move || client.logout())
            .map_err(|e| to_py_err(py, &e))
    }

    /// Logs out (when holding a token) and closes the client; later calls raise
    /// ``InvalidInputError``. Calling it again does nothing.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let taken = self.client.lock().unwrap_or_else(|e| e.into_inner()).take();
        match taken {
            None => Ok(()),
            Some(client) => py
                .detach(move || {
                    let r = if client.session_status() == SessionStatus::Authenticated {
                        client.logout()
                    } else {
                        Ok(())
                    };
                    drop(client);
                    r
                })
                .map_err(|e| to_py_err(py, &e)),
        }
    }

    /// The auth info of the current login, or None.
    #[getter]
    fn auth_info(&self, py: Python<'_>) -> PyResult<Option<PyAuthInfo>> {
        Ok(PyClient::auth_info_obj(&self.get(py)?))
    }

    /// ``"unauthenticated"``, ``"authenticated"``, ``"expired"``, ``"logged_out"`` or ``"closed"``.
    #[getter]
    fn status(&self) -> &'static str {
        match self
            .client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(Client::session_status)
        {
            None => "closed",
            Some(SessionStatus::Unauthenticated) => "unauthenticated",
            Some(SessionStatus::Authenticated) => "authenticated",
            Some(SessionStatus::Expired) => "expired",
            Some(SessionStatus::LoggedOut) => "logged_out",
        }
    }

    /// The endpoint URL (``{base}/api/``).
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Logs out and closes. An exception already being raised is never replaced by
    /// a logout failure.
    #[pyo3(signature = (exc_type=None, _exc=None, _tb=None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let result = self.close(py);
        match (result, exc_type.is_some_and(|t| !t.is_none())) {
            (Err(e), false) => Err(e),
            (Err(e), true) => {
                log::warn!(
                    "runtel logout on context exit failed while another error was raised: {e}"
                );
                Ok(false)
            }
            (Ok(()), _) => Ok(false),
        }
    }

    /// ``client.User`` is a proxy whose attributes call actions: ``client.User.list()``.
    fn __getattr__(slf: &Bound<'_, Self>, name: &str) -> PyResult<ObjectProxy> {
        // Object names start with a capital letter; anything else is a plain typo.
        if !name.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
            return Err(PyAttributeError::new_err(format!(
                "'Client' object has no attribute '{name}'"
            )));
        }
        Ok(ObjectProxy {
            client: slf.clone().unbind(),
            obj: name.to_owned(),
        })
    }

    fn __repr__(&self) -> String {
        let user = self
            .client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(Client::auth_info)
            .map(|i| format!(" user={:?}", i.user_login))
            .unwrap_or_default();
        format!(
            "<runtel.Client url={:?} status={}{user}>",
            self.url,
            self.status()
        )
    }
}

/// ``client.User``: attribute access gives the object's actions.
#[pyclass(frozen, module = "runtel._runtel", name = "ObjectProxy")]
pub struct ObjectProxy {
    client: Py<PyClient>,
    obj: String,
}

#[pymethods]
impl ObjectProxy {
    fn __getattr__(&self, py: Python<'_>, action: &str) -> PyResult<ActionProxy> {
        if action.starts_with('_') {
            return Err(PyAttributeError::new_err(action.to_owned()));
        }
        Ok(ActionProxy {
            client: self.client.clone_ref(py),
            obj: self.obj.clone(),
            action: action.to_owned(),
        })
    }

    fn __repr__(&self) -> String {
        format!("<runtel object {}>", self.obj)
    }
}

/// ``client.User.list``: calling it sends the action.
#[pyclass(frozen, module = "runtel._runtel", name = "ActionProxy")]
pub struct ActionProxy {
    client: Py<PyClient>,
    obj: String,
    action: String,
}

#[pymethods]
impl ActionProxy {
    #[pyo3(signature = (params=None, /, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        params: Option<&Bound<'_, PyAny>>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        self.client
            .get()
            .call(py, &self.obj, &self.action, params, kwargs)
    }

    fn __repr__(&self) -> String {
        format!("<runtel action {}.{}>", self.obj, self.action)
    }
}

/// An iterator over every record of a list action (dicts), one page in memory.
#[pyclass(module = "runtel._runtel", name = "Records")]
pub struct PyRecords {
    records: Mutex<Option<Records>>,
}

#[pymethods]
impl PyRecords {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let mut guard = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let Some(records) = guard.as_mut() else {
            return Err(PyStopIteration::new_err(()));
        };
        let next: Option<Result<Value, Error>> = py.detach(|| records.next());
        match next {
            None => Err(PyStopIteration::new_err(())),
            Some(Ok(v)) => Ok(to_py(py, &v)?.unbind()),
            Some(Err(e)) => Err(to_py_err(py, &e)),
        }
    }

    /// The ``total_count`` reported with the last page, or None before the first.
    #[getter]
    fn total_count(&self) -> Option<u64> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(Records::total_count)
    }

    /// The offset of the next record (to resume an interrupted export with ``start``).
    #[getter]
    fn position(&self) -> u64 {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(0, Records::position)
    }

    /// Pages fetched so far.
    #[getter]
    fn pages_fetched(&self) -> u64 {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(0, Records::pages_fetched)
    }
}
