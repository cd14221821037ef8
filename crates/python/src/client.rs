//! `runtel.Client`, the `client.User.list(...)` proxies and the `Records` iterator.

use std::sync::Mutex;
use std::time::SystemTime;

use pyo3::exceptions::{PyAttributeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyTuple};
use runtel_client::{AuthInfo, Call, Client, Error, ObjectSpec, SessionStatus};
use serde_json::{Map, Value};

use crate::auth_info::PyAuthInfo;
use crate::catalog::PyObjectSpec;
use crate::convert::{from_py, from_py_named, map_to_py};
use crate::errors::{invalid_input, to_py_err};
use crate::records::PyRecords;
use crate::response::PyResponse;
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
    /// The options the client was built with, as JSON (password masked).
    options: Map<String, Value>,
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
            expires_at: client.token_expires_at(),
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
    expires_at: Option<SystemTime>,
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

/// What one call sends: its params, and the top-level `limit`, `offset` and
/// `filter` (keywords of these names go there, not into params).
pub(crate) struct CallArgs {
    params: Value,
    limit: Option<u64>,
    offset: Option<u64>,
    filter: Option<Value>,
}

impl CallArgs {
    /// Params from a dict (or None) and keyword arguments, merged (keywords
    /// win), with `limit`, `offset` and `filter` taken out of the keywords.
    /// A params dict is sent as given, whatever its keys.
    pub(crate) fn from_py(
        py: Python<'_>,
        params: Option<&Bound<'_, PyAny>>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<CallArgs> {
        let mut map = match params.map(from_py).transpose()? {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(invalid_input(py, "params must be a dict")),
        };
        let mut args = CallArgs {
            params: Value::Null,
            limit: None,
            offset: None,
            filter: None,
        };
        if let Some(kw) = kwargs {
            for (key, value) in kw.iter() {
                let key: String = key.extract()?;
                match key.as_str() {
                    "limit" => args.limit = count_keyword(py, "limit", &value)?,
                    "offset" => args.offset = count_keyword(py, "offset", &value)?,
                    "filter" => args.filter = Some(from_py_named(&value, "filter")?),
                    _ => {
                        let v = from_py_named(&value, &format!("params.{key}"))?;
                        map.insert(key, v);
                    }
                }
            }
        }
        args.params = Value::Object(map);
        Ok(args)
    }

    /// The params alone (for paging, which sets the top-level words itself).
    pub(crate) fn into_params(self) -> Value {
        self.params
    }

    /// The call, with the top-level words set.
    pub(crate) fn call(self, py: Python<'_>, obj: &str, action: &str) -> PyResult<Call> {
        let mut call = Call::new(obj, action, self.params)
            .and_then(|c| c.filter(self.filter.unwrap_or(Value::Null)))
            .map_err(|e| to_py_err(py, &e))?;
        if let Some(l) = self.limit {
            call = call.limit(l);
        }
        if let Some(o) = self.offset {
            call = call.offset(o);
        }
        Ok(call)
    }
}

/// A non-negative integer keyword (`limit`, `offset`, `page_size`, `start`);
/// None when not given or None.
pub(crate) fn count_keyword(
    py: Python<'_>,
    name: &str,
    value: &Bound<'_, PyAny>,
) -> PyResult<Option<u64>> {
    if value.is_none() {
        return Ok(None);
    }
    if value.is_instance_of::<PyBool>() || !value.is_instance_of::<PyInt>() {
        let t = value.get_type().name()?;
        return Err(PyTypeError::new_err(format!(
            "{name} takes an int, not {t}"
        )));
    }
    value.extract::<u64>().map(Some).map_err(|_| {
        invalid_input(
            py,
            &format!("{name} must be an integer from 0 to 2^64-1, not {value}"),
        )
    })
}

fn call_envelope(py: Python<'_>, client: Client, call: Call) -> PyResult<PyResponse> {
    // The GIL is released for the network wait; the decoder takes it back only to
    // build the dict, in one pass over the body.
    let result = wait::interruptible(py, move || {
        client.call_decoded(&call, &crate::decode::PyEnvelopeDecoder)
    })?;
    match result {
        Ok(d) => Ok(PyResponse::wrap(d.envelope, d.http_status)),
        Err(e) => Err(to_py_err(py, &e)),
    }
}

#[pymethods]
impl PyClient {
    /// Every option of the core is a keyword (``OPTION_NAMES``), plus
    /// ``verify`` (True, False, or the path of a CA file) and
    /// ``lockout_cooldown`` (``auth_lockout_cooldown``). Unknown keywords and
    /// values of the wrong type raise ``TypeError``; values the core refuses
    /// (NaN, negative or huge seconds, a zero timeout, an unreadable CA file)
    /// raise ``InvalidInputError`` naming the keyword.
    #[new]
    #[pyo3(signature = (base_url, **options))]
    fn new(py: Python<'_>, base_url: &str, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let options = crate::options::from_keywords(py, options)?;
        let Value::Object(shown) = options.to_json() else {
            unreachable!("options serialize to an object")
        };
        let client = Client::with_options(base_url, options).map_err(|e| to_py_err(py, &e))?;
        // Records of runtel's own threads are queued from now on if they reach
        // the `runtel` logger's level as the program has set it at this point.
        crate::logging::flush_and_read_level(py);
        Ok(PyClient {
            url: client.endpoint_url().to_owned(),
            client: Mutex::new(Some(client)),
            options: shown,
        })
    }

    /// The name of every option, in the core's order (each is a keyword of
    /// ``Client(...)`` and a key of ``options``).
    #[classattr]
    #[allow(non_snake_case)]
    fn OPTION_NAMES(py: Python<'_>) -> PyResult<Py<PyTuple>> {
        PyTuple::new(py, crate::options::names()).map(Bound::unbind)
    }

    /// Every option the client was built with, defaults included, as a new
    /// dict (seconds as floats, the password as ``"***"``).
    #[getter]
    fn options<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        map_to_py(py, &self.options)
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

    /// Sends one call; returns the answer as a ``Response``.
    /// ``params`` (a dict) and keyword arguments are merged; the keywords
    /// ``limit``, ``offset`` and ``filter`` go to the envelope's top level. If
    /// Ctrl-C interrupts it, the request may still reach the server: a write may
    /// have been applied.
    #[pyo3(signature = (obj, action, params=None, /, **kwargs))]
    fn call(
        &self,
        py: Python<'_>,
        obj: &str,
        action: &str,
        params: Option<&Bound<'_, PyAny>>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyResponse> {
        let client = self.get(py)?;
        let call = CallArgs::from_py(py, params, kwargs)?.call(py, obj, action)?;
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
        limit: Option<&Bound<'_, PyAny>>,
        offset: Option<&Bound<'_, PyAny>>,
        filter: Option<&Bound<'_, PyAny>>,
        action: &str,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyResponse> {
        let client = self.get(py)?;
        let mut args = CallArgs::from_py(py, params, kwargs)?;
        args.limit = limit
            .map(|l| count_keyword(py, "limit", l))
            .transpose()?
            .flatten();
        args.offset = offset
            .map(|o| count_keyword(py, "offset", o))
            .transpose()?
            .flatten();
        args.filter = filter.map(|f| from_py_named(f, "filter")).transpose()?;
        call_envelope(py, client, args.call(py, obj, action)?)
    }

    /// Iterates over every record of a list action, ``page_size`` per request, one
    /// page in memory. ``filter`` is sent with every page; ``start`` skips records.
    /// ``limit`` and ``offset`` are other names of ``page_size`` and ``start``
    /// (they are each page's top-level ``limit`` and the first ``offset``).
    /// ``consistent=True`` pages by ``id`` instead of by offset. ``prefetch=False``
    /// stops fetching the next page while the current one is read.
    #[pyo3(signature = (obj, params=None, /, *, page_size=None, filter=None, start=None, action="list",
                        consistent=false, limit=None, offset=None, prefetch=true, **kwargs))]
    #[allow(clippy::too_many_arguments)]
    fn records(
        &self,
        py: Python<'_>,
        obj: &str,
        params: Option<&Bound<'_, PyAny>>,
        page_size: Option<&Bound<'_, PyAny>>,
        filter: Option<&Bound<'_, PyAny>>,
        start: Option<&Bound<'_, PyAny>>,
        action: &str,
        consistent: bool,
        limit: Option<&Bound<'_, PyAny>>,
        offset: Option<&Bound<'_, PyAny>>,
        prefetch: bool,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyRecords> {
        let either = |name: &str,
                      a: Option<&Bound<'_, PyAny>>,
                      alias: &str,
                      b: Option<&Bound<'_, PyAny>>| {
            let a = a.map(|v| count_keyword(py, name, v)).transpose()?.flatten();
            let b = b
                .map(|v| count_keyword(py, alias, v))
                .transpose()?
                .flatten();
            match (a, b) {
                (Some(_), Some(_)) => Err(PyTypeError::new_err(format!(
                    "{alias} is another name of {name}: give one"
                ))),
                (a, b) => Ok(a.or(b)),
            }
        };
        let page_size = either("page_size", page_size, "limit", limit)?.unwrap_or(1000);
        let start = either("start", start, "offset", offset)?.unwrap_or(0);
        if consistent && start > 0 {
            return Err(invalid_input(
                py,
                "start does not apply to consistent paging, which pages by id: \
                 filter on id instead",
            ));
        }
        let client = self.get(py)?;
        let args = CallArgs::from_py(py, params, kwargs)?;
        let filter = filter
            .map(|f| from_py_named(f, "filter"))
            .transpose()?
            .unwrap_or(Value::Null);
        let records = client
            .records_decoded(obj, args.params, page_size, crate::decode::PyPageDecoder)
            .and_then(|r| r.action(action))
            .and_then(|r| r.filter(filter))
            .map(|r| r.starting_at(start).prefetch(prefetch))
            .and_then(|r| if consistent { r.consistent() } else { Ok(r) })
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
                    "logout at the end of the with block failed while another exception \
                     was being raised (that one is raised): {}",
                    e.detail()
                );
                Ok(false)
            }
            (Ok(()), _) => Ok(false),
        }
    }

    /// Reached only for names that are not attributes of the class: every
    /// catalog object is one (``client.User``), so this refuses the rest, naming
    /// the nearest catalog object for a name that looks like an object's.
    fn __getattr__(&self, name: &str) -> PyResult<Py<PyAny>> {
        Err(PyAttributeError::new_err(
            crate::catalog::unknown_attribute(name),
        ))
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
    spec: &'static ObjectSpec,
}

impl ObjectProxy {
    /// The proxy of a catalog object on `client`.
    pub(crate) fn new(client: Py<PyClient>, spec: &'static ObjectSpec) -> ObjectProxy {
        ObjectProxy { client, spec }
    }
}

#[pymethods]
impl ObjectProxy {
    /// Any action, also one the catalog does not list (the API may have more).
    fn __getattr__(&self, py: Python<'_>, action: &str) -> PyResult<ActionProxy> {
        if action.starts_with('_') {
            return Err(PyAttributeError::new_err(action.to_owned()));
        }
        Ok(ActionProxy {
            client: self.client.clone_ref(py),
            obj: self.spec.name.to_owned(),
            action: action.to_owned(),
        })
    }

    /// The catalog's actions of the object, with the proxy's own attributes.
    fn __dir__(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.spec.actions.to_vec();
        names.push("spec");
        names.sort_unstable();
        names
    }

    /// The object's catalog entry.
    #[getter]
    fn spec(&self) -> PyObjectSpec {
        PyObjectSpec::of(self.spec)
    }

    fn __repr__(&self) -> String {
        format!("<runtel object {}>", self.spec.name)
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
    ) -> PyResult<PyResponse> {
        self.client
            .get()
            .call(py, &self.obj, &self.action, params, kwargs)
    }

    fn __repr__(&self) -> String {
        format!("<runtel action {}.{}>", self.obj, self.action)
    }
}
