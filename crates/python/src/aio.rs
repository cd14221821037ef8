//! `runtel.AsyncClient`: the Rust `runtel_async::AsyncClient` for asyncio, through
//! pyo3-async-runtimes on a tokio runtime of this module's own.
//!
//! Every method that waits returns an asyncio future: the call runs on the
//! tokio runtime, never on the event loop's thread, and the GIL is taken once,
//! on a blocking thread, to build the result (pyo3-async-runtimes does that
//! after the Rust future ends, through [`crate::exit_safe`], which keeps those
//! threads out of a finalizing interpreter). Cancelling the asyncio task cancels the Rust
//! future (pyo3-async-runtimes drops it): the request is abandoned, its
//! connection closed, and the client stays usable (see `runtel_async` on
//! cancellation).
//!
//! Logging: a `log` record emitted on a runtime thread does not take the GIL
//! (that would stall the runtime thread behind the event loop, per record). It
//! is queued (see `crate::logging`) and handed to the `runtel` logger in a
//! batch when a result is built, or at `close`.

use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::{FutureExt, StreamExt};
use pyo3::exceptions::{PyAttributeError, PyStopAsyncIteration, PyStopIteration};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use pyo3::IntoPyObjectExt;
use runtel_async::{AsyncClient, AsyncRecords};
use runtel_client::{catalog, Call, Error, ObjectSpec, Response, SessionStatus};
use serde_json::{Map, Value};

use crate::auth_info::PyAuthInfo;
use crate::client::{count_keyword, CallArgs};
use crate::convert::{from_py_named, map_to_py, to_py};
use crate::errors::{invalid_input, to_py_err};
use crate::response::PyResponse;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------
// The runtime.

/// Sets up the runtime pyo3-async-runtimes uses (before its first use) and
/// adds the classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder
        .enable_all()
        .thread_name("runtel-async")
        .on_thread_start(crate::logging::queue_on_this_thread);
    pyo3_async_runtimes::tokio::init(builder);
    m.add_function(wrap_pyfunction!(crate::logging::log_queue_counts, m)?)?;
    m.add_class::<PyAsyncClient>()?;
    m.add_class::<PyAsyncRecords>()?;
    m.add_class::<AsyncObjectProxy>()?;
    m.add_class::<AsyncActionProxy>()?;
    // `pbx.User` and the rest of the catalog, as on `Client`.
    let cls = m.py().get_type::<PyAsyncClient>();
    for spec in catalog::OBJECTS {
        cls.setattr(spec.name, Bound::new(m.py(), AsyncCatalogObject { spec })?)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Results: built with the GIL once the Rust future is over.

/// What a future hands back to Python; converted (and the log queue flushed)
/// under the one GIL acquisition pyo3-async-runtimes makes for the result.
enum Outcome {
    Response(Result<Response, Error>),
    AuthInfo(Result<Option<Box<PyAuthInfo>>, Error>),
    Unit(Result<(), Error>),
    /// `__aexit__`: a logout failure while another exception is raised is logged.
    Exit(Result<(), Error>, bool),
    Record(Option<Result<Value, Error>>),
}

impl<'py> IntoPyObject<'py> for Outcome {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::logging::flush_and_read_level(py);
        let raise = |e: Error| Err(to_py_err(py, &e));
        match self {
            Outcome::Response(Ok(r)) => {
                let status = r.http_status();
                let dict = map_to_py(py, &r.into_envelope())?;
                PyResponse::wrap(dict.unbind(), status).into_bound_py_any(py)
            }
            Outcome::AuthInfo(Ok(Some(info))) => (*info).into_bound_py_any(py),
            Outcome::AuthInfo(Ok(None)) => {
                Err(invalid_input(py, "logged out by another task meanwhile"))
            }
            Outcome::Unit(Ok(())) | Outcome::Exit(Ok(()), _) => Ok(py.None().into_bound(py)),
            Outcome::Exit(Err(e), true) => {
                log::warn!(
                    "logout at the end of the async with block failed while another \
                     exception was being raised (that one is raised): {}",
                    e.detail()
                );
                crate::logging::flush_and_read_level(py);
                Ok(false.into_bound_py_any(py)?)
            }
            Outcome::Record(Some(Ok(v))) => to_py(py, &v),
            Outcome::Record(None) => Err(PyStopAsyncIteration::new_err(())),
            Outcome::Response(Err(e))
            | Outcome::AuthInfo(Err(e))
            | Outcome::Unit(Err(e))
            | Outcome::Exit(Err(e), false)
            | Outcome::Record(Some(Err(e))) => raise(e),
        }
    }
}

/// The process the runtime's threads were started in.
static RUNTIME_PROCESS: std::sync::OnceLock<runtel_client::ProcessMarker> =
    std::sync::OnceLock::new();

fn spawn<'py, F>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: std::future::Future<Output = Outcome> + Send + 'static,
{
    // fork() copies no thread: in a child, the parent's runtime has no workers
    // and a future sent to it would never end. Refuse instead of hanging.
    let process = runtel_client::process_marker();
    if *RUNTIME_PROCESS.get_or_init(|| process) != process {
        return Err(invalid_input(
            py,
            "the async client's runtime was started before this process was forked, \
             and does not survive fork(): use AsyncClient in the parent only, or \
             first in the children",
        ));
    }
    // The runtime's threads filter their records by the level last read: a
    // level changed since the last result counts from this call on.
    crate::logging::read_level_if_changed(py);
    // The tokio glue that is safe at the interpreter's exit (see `exit_safe`).
    pyo3_async_runtimes::generic::future_into_py::<crate::exit_safe::ExitSafeTokio, _, _>(
        py,
        async move { Ok(fut.await) },
    )
}

/// An awaitable that is already done: `await` gives its value at once, without
/// a trip through the event loop (records of a page already in memory).
#[pyclass(module = "runtel._runtel", name = "_Ready")]
pub struct Ready {
    value: Option<Py<PyAny>>,
}

#[pymethods]
impl Ready {
    fn __await__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<()> {
        let value = self.value.take().unwrap_or_else(|| py.None());
        Err(PyStopIteration::new_err((value,)))
    }
}

// ---------------------------------------------------------------------------
// The client.

/// The asyncio client: the same calls, options, ``Response`` and exceptions as
/// ``Client``, as coroutines (see ``runtel.AsyncClient`` for the docs).
#[pyclass(frozen, module = "runtel._runtel", name = "AsyncClient")]
pub struct PyAsyncClient {
    client: Mutex<Option<AsyncClient>>,
    url: String,
    options: Map<String, Value>,
}

impl PyAsyncClient {
    fn get(&self, py: Python<'_>) -> PyResult<AsyncClient> {
        lock(&self.client)
            .clone()
            .ok_or_else(|| invalid_input(py, "the client is closed"))
    }

    fn send<'py>(&self, py: Python<'py>, call: Call) -> PyResult<Bound<'py, PyAny>> {
        let client = self.get(py)?;
        spawn(py, async move {
            Outcome::Response(client.call_with(&call).await)
        })
    }

    /// Takes the client out; the future logs out when it holds a token.
    fn close_future<'py>(
        &self,
        py: Python<'py>,
        raising: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let taken = lock(&self.client).take();
        spawn(py, async move {
            let result = match taken {
                Some(c) if c.session_status() == SessionStatus::Authenticated => c.logout().await,
                _ => Ok(()),
            };
            match raising {
                Some(raising) => Outcome::Exit(result, raising),
                None => Outcome::Unit(result),
            }
        })
    }
}

impl Drop for PyAsyncClient {
    fn drop(&mut self) {
        // The core logs out on drop with a task of the runtime: enter it.
        if let Some(client) = self
            .client
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _runtime = pyo3_async_runtimes::tokio::get_runtime().enter();
            drop(client);
        }
    }
}

#[pymethods]
impl PyAsyncClient {
    /// The same keywords as ``Client`` (``OPTION_NAMES``, ``verify``,
    /// ``lockout_cooldown``).
    #[new]
    #[pyo3(signature = (base_url, **options))]
    fn new(py: Python<'_>, base_url: &str, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let options = crate::options::from_keywords(py, options)?;
        let Value::Object(shown) = options.to_json() else {
            unreachable!("options serialize to an object")
        };
        let client = AsyncClient::with_options(base_url, options).map_err(|e| to_py_err(py, &e))?;
        crate::logging::flush_and_read_level(py);
        Ok(PyAsyncClient {
            url: client.endpoint_url().to_owned(),
            client: Mutex::new(Some(client)),
            options: shown,
        })
    }

    /// The name of every option (each is a keyword of ``AsyncClient(...)``).
    #[classattr]
    #[allow(non_snake_case)]
    fn OPTION_NAMES(py: Python<'_>) -> PyResult<Py<PyTuple>> {
        PyTuple::new(py, crate::options::names()).map(Bound::unbind)
    }

    /// Every option the client was built with, as a new dict.
    #[getter]
    fn options<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        map_to_py(py, &self.options)
    }

    fn login<'py>(
        &self,
        py: Python<'py>,
        login: &str,
        password: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = self.get(py)?;
        let (login, password) = (login.to_owned(), password.to_owned());
        spawn(py, async move {
            Outcome::AuthInfo(client.login(&login, &password).await.map(|_| {
                client.auth_info().map(|info| {
                    Box::new(PyAuthInfo {
                        info,
                        expires_at: client.token_expires_at(),
                    })
                })
            }))
        })
    }

    #[pyo3(signature = (obj, action, params=None, /, **kwargs))]
    fn call<'py>(
        &self,
        py: Python<'py>,
        obj: &str,
        action: &str,
        params: Option<&Bound<'_, PyAny>>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let call = CallArgs::from_py(py, params, kwargs)?.call(py, obj, action)?;
        self.send(py, call)
    }

    /// One page of a list action, as ``Client.list``.
    #[pyo3(signature = (obj, params=None, /, *, limit=None, offset=None, filter=None, action="list", **kwargs))]
    #[allow(clippy::too_many_arguments)]
    fn list<'py>(
        &self,
        py: Python<'py>,
        obj: &str,
        params: Option<&Bound<'_, PyAny>>,
        limit: Option<&Bound<'_, PyAny>>,
        offset: Option<&Bound<'_, PyAny>>,
        filter: Option<&Bound<'_, PyAny>>,
        action: &str,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut call = CallArgs::from_py(py, params, kwargs)?.call(py, obj, action)?;
        if let Some(l) = limit
            .map(|l| count_keyword(py, "limit", l))
            .transpose()?
            .flatten()
        {
            call = call.limit(l);
        }
        if let Some(o) = offset
            .map(|o| count_keyword(py, "offset", o))
            .transpose()?
            .flatten()
        {
            call = call.offset(o);
        }
        if let Some(f) = filter.map(|f| from_py_named(f, "filter")).transpose()? {
            call = call.filter(f).map_err(|e| to_py_err(py, &e))?;
        }
        self.send(py, call)
    }

    #[pyo3(signature = (obj, params=None, /, *, page_size=None, filter=None, start=None, action="list",
                        consistent=false, **kwargs))]
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
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyAsyncRecords> {
        let page_size = page_size
            .map(|v| count_keyword(py, "page_size", v))
            .transpose()?
            .flatten()
            .unwrap_or(1000);
        let start = start
            .map(|v| count_keyword(py, "start", v))
            .transpose()?
            .flatten()
            .unwrap_or(0);
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
            .records(obj, args.into_params(), page_size)
            .and_then(|r| {
                r.with_pager(|p| {
                    let p = p.action(action)?.filter(filter)?.starting_at(start);
                    if consistent {
                        p.consistent()
                    } else {
                        Ok(p)
                    }
                })
            })
            .map_err(|e| to_py_err(py, &e))?;
        Ok(PyAsyncRecords {
            view: Arc::new(Mutex::new(View::of(records.pager()))),
            stream: Arc::new(tokio::sync::Mutex::new(records)),
        })
    }

    fn logout<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.get(py)?;
        spawn(py, async move { Outcome::Unit(client.logout().await) })
    }

    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.close_future(py, None)
    }

    #[getter]
    fn auth_info(&self, py: Python<'_>) -> PyResult<Option<PyAuthInfo>> {
        let client = self.get(py)?;
        Ok(client.auth_info().map(|info| PyAuthInfo {
            info,
            expires_at: client.token_expires_at(),
        }))
    }

    #[getter]
    fn status(&self) -> &'static str {
        match lock(&self.client).as_ref().map(AsyncClient::session_status) {
            None => "closed",
            Some(SessionStatus::Unauthenticated) => "unauthenticated",
            Some(SessionStatus::Authenticated) => "authenticated",
            Some(SessionStatus::Expired) => "expired",
            Some(SessionStatus::LoggedOut) => "logged_out",
        }
    }

    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    fn __aenter__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let value = slf.into_any().unbind();
        Ok(Bound::new(py, Ready { value: Some(value) })?.into_any())
    }

    #[pyo3(signature = (exc_type=None, _exc=None, _tb=None))]
    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.close_future(py, Some(exc_type.is_some_and(|t| !t.is_none())))
    }

    /// Reached only for names that are not attributes of the class (every
    /// catalog object is one): refuses, naming the nearest catalog object.
    fn __getattr__(&self, name: &str) -> PyResult<Py<PyAny>> {
        Err(PyAttributeError::new_err(
            crate::catalog::unknown_attribute(name).replace("'Client'", "'AsyncClient'"),
        ))
    }

    fn __repr__(&self) -> String {
        let user = lock(&self.client)
            .as_ref()
            .and_then(AsyncClient::auth_info)
            .map(|i| format!(" user={:?}", i.user_login))
            .unwrap_or_default();
        format!(
            "<runtel.AsyncClient url={:?} status={}{user}>",
            self.url,
            self.status()
        )
    }
}

/// ``AsyncClient.User``: on a client, the object's proxy; on the class, itself.
#[pyclass(frozen, module = "runtel._runtel", name = "AsyncCatalogObject")]
pub struct AsyncCatalogObject {
    spec: &'static ObjectSpec,
}

#[pymethods]
impl AsyncCatalogObject {
    fn __get__(
        slf: &Bound<'_, Self>,
        instance: &Bound<'_, PyAny>,
        _owner: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        if instance.is_none() {
            return Ok(slf.clone().into_any().unbind());
        }
        let proxy = AsyncObjectProxy {
            client: instance.cast::<PyAsyncClient>()?.clone().unbind(),
            spec: slf.get().spec,
        };
        Ok(Bound::new(slf.py(), proxy)?.into_any().unbind())
    }

    fn __set__(&self, _instance: &Bound<'_, PyAny>, _value: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(PyAttributeError::new_err(format!(
            "{} is an object of the catalog: read only",
            self.spec.name
        )))
    }

    fn __repr__(&self) -> String {
        format!("<runtel catalog object {}>", self.spec.name)
    }
}

/// ``pbx.User`` of an ``AsyncClient``: attribute access gives the actions.
#[pyclass(frozen, module = "runtel._runtel", name = "AsyncObjectProxy")]
pub struct AsyncObjectProxy {
    client: Py<PyAsyncClient>,
    spec: &'static ObjectSpec,
}

#[pymethods]
impl AsyncObjectProxy {
    fn __getattr__(&self, py: Python<'_>, action: &str) -> PyResult<AsyncActionProxy> {
        if action.starts_with('_') {
            return Err(PyAttributeError::new_err(action.to_owned()));
        }
        Ok(AsyncActionProxy {
            client: self.client.clone_ref(py),
            obj: self.spec.name.to_owned(),
            action: action.to_owned(),
        })
    }

    fn __dir__(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.spec.actions.to_vec();
        names.push("spec");
        names.sort_unstable();
        names
    }

    /// The object's catalog entry.
    #[getter]
    fn spec(&self) -> crate::catalog::PyObjectSpec {
        crate::catalog::PyObjectSpec::of(self.spec)
    }

    fn __repr__(&self) -> String {
        format!("<runtel async object {}>", self.spec.name)
    }
}

/// ``pbx.User.list``: calling it returns the call's awaitable.
#[pyclass(frozen, module = "runtel._runtel", name = "AsyncActionProxy")]
pub struct AsyncActionProxy {
    client: Py<PyAsyncClient>,
    obj: String,
    action: String,
}

#[pymethods]
impl AsyncActionProxy {
    #[pyo3(signature = (params=None, /, **kwargs))]
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        params: Option<&Bound<'_, PyAny>>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.client
            .get()
            .call(py, &self.obj, &self.action, params, kwargs)
    }

    fn __repr__(&self) -> String {
        format!("<runtel async action {}.{}>", self.obj, self.action)
    }
}

// ---------------------------------------------------------------------------
// Records.

/// ``async for r in pbx.records(...)``: one page in memory; records of a page
/// already fetched are handed out without a trip through the event loop.
#[pyclass(frozen, module = "runtel._runtel", name = "AsyncRecords")]
pub struct PyAsyncRecords {
    stream: Arc<tokio::sync::Mutex<AsyncRecords>>,
    /// The paging numbers as of the last step: read without waiting for a
    /// page being fetched.
    view: Arc<Mutex<View>>,
}

/// What the properties show.
#[derive(Debug, Clone, Copy, Default)]
struct View {
    total_count: Option<u64>,
    position: u64,
    pages_fetched: u64,
    shortfall: Option<u64>,
}

impl View {
    fn of(p: &runtel_client::Pager) -> View {
        View {
            total_count: p.total_count(),
            position: p.position(),
            pages_fetched: p.pages_fetched(),
            shortfall: p.shortfall(),
        }
    }
}

#[pymethods]
impl PyAsyncRecords {
    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        // A record of the page in memory: ready now.
        if let Ok(mut stream) = self.stream.try_lock() {
            if stream.pager().buffered() > 0 {
                if let Some(Some(Ok(record))) = stream.next().now_or_never() {
                    *lock(&self.view) = View::of(stream.pager());
                    let value = to_py(py, &record)?.unbind();
                    return Ok(Bound::new(py, Ready { value: Some(value) })?.into_any());
                }
            }
        }
        let (stream, view) = (Arc::clone(&self.stream), Arc::clone(&self.view));
        spawn(py, async move {
            let mut stream = stream.lock().await;
            let item = stream.next().await;
            *lock(&view) = View::of(stream.pager());
            Outcome::Record(item)
        })
    }

    /// The ``total_count`` of the last page, once one was fetched.
    #[getter]
    fn total_count(&self) -> Option<u64> {
        lock(&self.view).total_count
    }

    /// The offset of the next record.
    #[getter]
    fn position(&self) -> u64 {
        lock(&self.view).position
    }

    /// Pages asked for so far.
    #[getter]
    fn pages_fetched(&self) -> u64 {
        lock(&self.view).pages_fetched
    }

    /// How many announced records never came, once the list ended short.
    #[getter]
    fn shortfall(&self) -> Option<u64> {
        lock(&self.view).shortfall
    }
}
