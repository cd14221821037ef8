//! `runtel.Client`, the `client.User.list(...)` proxies and the `Records` iterator.

use std::sync::Mutex;
use std::time::{Duration, UNIX_EPOCH};

use pyo3::exceptions::{PyAttributeError, PyOverflowError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use runtel_client::{AuthInfo, Call, Client, Error, RetryPolicy, SessionStatus};
use serde_json::{Map, Value};

use crate::auth_info::PyAuthInfo;
use crate::convert::from_py;
use crate::errors::{invalid_input, to_py_err};
use crate::records::PyRecords;
use crate::wait;

/// A Runtel API client. Safe to use from many threads at once; the GIL is released
/// while it waits on the network.
///
/// With ``login``/``password`` it logs in lazily on the first call and again when the
/// token expires. As a context manager it logs out on exit.
///
/// Every blocking method can be interrupted with Ctrl-C (or any signal whose
/// handler raises) within a fraction of a second. The exchange then goes on in
/// the background and its answer is dropped: after an interrupt, whether a write
/// was applied on the server is unknown. The client stays usable.
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

    fn handle(&self) -> Option<Client> {
        self.client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The client's session, read detached: its locks may be held by a thread
    /// that is waiting for the GIL (to log, or to build an answer).
    fn session(py: Python<'_>, client: Client) -> Session {
        py.detach(move || Session {
            status: client.session_status(),
            info: client.auth_info(),
            expires_at: client
                .token_expires_at()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs_f64()),
        })
    }

    /// Takes the client out and logs out (when holding a token), interruptibly.
    /// The outer error is a signal's exception, the inner one the logout's.
    fn close_inner(&self, py: Python<'_>) -> PyResult<Result<(), Error>> {
        let taken = self.client.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(client) = taken else {
            return Ok(Ok(()));
        };
        wait::blocking(py, move || {
            let r = if client.session_status() == SessionStatus::Authenticated {
                client.logout()
            } else {
                Ok(())
            };
            // The last handle may go here: its drop must not run with the GIL held.
            drop(client);
            r
        })
    }
}

/// What the getters show of a session.
struct Session {
    status: SessionStatus,
    info: Option<AuthInfo>,
    expires_at: Option<f64>,
}

impl Session {
    fn auth_info(self) -> Option<PyAuthInfo> {
        let expires_at = self.expires_at;
        self.info.map(|info| PyAuthInfo { info, expires_at })
    }
}

impl Drop for PyClient {
    fn drop(&mut self) {
        // Dropping the last handle logs out (bounded by the core): not with the
        // GIL held, which would stall every Python thread meanwhile.
        if let Some(client) = self
            .client
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = Python::try_attach(|py| py.detach(move || drop(client)));
        }
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

/// Seconds from Python (a float or an int) as a `Duration`, through the one check
/// every front end uses: NaN, negative, infinite or above 30 days is an
/// `InvalidInputError` naming the keyword, never a panic.
fn secs(py: Python<'_>, name: &str, value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let v = match value.extract::<f64>() {
        Ok(v) => v,
        // An int beyond the float range: as much a mistake as 1e300.
        Err(e) if e.is_instance_of::<PyOverflowError>(py) => f64::INFINITY,
        Err(e) => return Err(e),
    };
    runtel_client::duration_from_secs(name, v).map_err(|e| to_py_err(py, &e))
}

/// The optional seconds keyword `name`, when given.
fn opt_secs(
    py: Python<'_>,
    name: &str,
    value: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<Duration>> {
    value.map(|v| secs(py, name, v)).transpose()
}

fn call_envelope(py: Python<'_>, client: Client, call: Call) -> PyResult<Py<PyAny>> {
    // The GIL is released for the network wait; the decoder takes it back only to
    // build the dict, in one pass over the body.
    let result = wait::blocking(py, move || {
        client.call_decoded(&call, &crate::decode::PyEnvelopeDecoder)
    })?;
    match result {
        Ok(dict) => Ok(dict.into_any()),
        Err(e) => Err(to_py_err(py, &e)),
    }
}

#[pymethods]
impl PyClient {
    /// Seconds-valued keywords (``timeout``, ``connect_timeout``,
    /// ``lockout_cooldown``, ``retry_base_delay``, ``retry_max_delay``,
    /// ``relogin_margin``) accept a float or an int from 0 to 30 days; anything
    /// else (NaN, negative, infinite, huge) raises ``InvalidInputError``. The two
    /// timeouts must also be above zero.
    #[new]
    #[pyo3(signature = (base_url, *, timeout=None, connect_timeout=None, verify=true, ca_file=None,
                        login=None, password=None, max_auth_failures=3, lockout_cooldown=None,
                        max_retries=2, retry_base_delay=None, retry_max_delay=None,
                        relogin_margin=None, user_agent=None, proxy=None, max_response_bytes=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        base_url: &str,
        timeout: Option<&Bound<'_, PyAny>>,
        connect_timeout: Option<&Bound<'_, PyAny>>,
        verify: bool,
        ca_file: Option<std::path::PathBuf>,
        login: Option<&str>,
        password: Option<&str>,
        max_auth_failures: u32,
        lockout_cooldown: Option<&Bound<'_, PyAny>>,
        max_retries: u32,
        retry_base_delay: Option<&Bound<'_, PyAny>>,
        retry_max_delay: Option<&Bound<'_, PyAny>>,
        relogin_margin: Option<&Bound<'_, PyAny>>,
        user_agent: Option<&str>,
        proxy: Option<&str>,
        max_response_bytes: Option<usize>,
    ) -> PyResult<Self> {
        // Unset keywords keep the core's defaults (the stub shows them).
        let mut retry = RetryPolicy {
            max_retries,
            ..RetryPolicy::default()
        };
        if let Some(d) = opt_secs(py, "retry_base_delay", retry_base_delay)? {
            retry.base_delay = d;
        }
        if let Some(d) = opt_secs(py, "retry_max_delay", retry_max_delay)? {
            retry.max_delay = d;
        }
        let mut b = Client::builder(base_url)
            .danger_accept_invalid_certs(!verify)
            .max_auth_failures(max_auth_failures)
            .retry(retry);
        if let Some(d) = opt_secs(py, "timeout", timeout)? {
            b = b.timeout(d);
        }
        if let Some(d) = opt_secs(py, "connect_timeout", connect_timeout)? {
            b = b.connect_timeout(d);
        }
        if let Some(d) = opt_secs(py, "lockout_cooldown", lockout_cooldown)? {
            b = b.auth_lockout_cooldown(d);
        }
        if let Some(d) = opt_secs(py, "relogin_margin", relogin_margin)? {
            b = b.relogin_margin(d);
        }
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
    /// raises ``AuthError`` and is never retried. Ctrl-C interrupts it; the login
    /// may still complete in the background.
    fn login(&self, py: Python<'_>, login: &str, password: &str) -> PyResult<PyAuthInfo> {
        let client = self.get(py)?;
        let (login, password) = (login.to_owned(), password.to_owned());
        let c = client.clone();
        wait::blocking(py, move || c.login(&login, &password))?.map_err(|e| to_py_err(py, &e))?;
        PyClient::session(py, client)
            .auth_info()
            .ok_or_else(|| invalid_input(py, "logged out by another thread meanwhile"))
    }

    /// Sends one call; returns the whole answer envelope as a dict.
    /// ``params`` (a dict) and keyword arguments are merged. If Ctrl-C interrupts
    /// it, the request may still reach the server: a write may have been applied.
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
        Ok(PyRecords::new(records))
    }

    /// Ends the token on the server. Stored credentials are kept. If interrupted,
    /// the logout goes on in the background.
    fn logout(&self, py: Python<'_>) -> PyResult<()> {
        let client = self.get(py)?;
        wait::blocking(py, move || client.logout())?.map_err(|e| to_py_err(py, &e))
    }

    /// Logs out (when holding a token) and closes the client; later calls raise
    /// ``InvalidInputError``. Calling it again does nothing. If interrupted, the
    /// client is closed and the logout goes on in the background.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.close_inner(py)?.map_err(|e| to_py_err(py, &e))
    }

    /// The auth info of the current login, or None.
    #[getter]
    fn auth_info(&self, py: Python<'_>) -> PyResult<Option<PyAuthInfo>> {
        let client = self.get(py)?;
        Ok(PyClient::session(py, client).auth_info())
    }

    /// ``"unauthenticated"``, ``"authenticated"``, ``"expired"``, ``"logged_out"`` or ``"closed"``.
    #[getter]
    fn status(&self, py: Python<'_>) -> &'static str {
        match self.handle().map(|c| PyClient::session(py, c).status) {
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
    /// a logout failure; an interrupt (Ctrl-C) during the logout is raised.
    #[pyo3(signature = (exc_type=None, _exc=None, _tb=None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let result = self.close_inner(py)?;
        match (result, exc_type.is_some_and(|t| !t.is_none())) {
            (Err(e), false) => Err(to_py_err(py, &e)),
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

    fn __repr__(&self, py: Python<'_>) -> String {
        let user = self
            .handle()
            .and_then(|c| PyClient::session(py, c).info)
            .map(|i| format!(" user={:?}", i.user_login))
            .unwrap_or_default();
        format!(
            "<runtel.Client url={:?} status={}{user}>",
            self.url,
            self.status(py)
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
