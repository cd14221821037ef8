//! Rust `log` records into Python's `logging`, under the `runtel` logger.
//!
//! A record made on a thread Python knows (the main thread, a `threading`
//! thread, a worker of `wait`) is handed to the logger at once, with the GIL.
//! A record made on any other thread (the core's prefetch and login helpers,
//! the async client's runtime threads) does not take the GIL: it is queued and
//! handed over in a batch the next time this module holds the GIL anyway (a
//! call returning, a page of records, an async result). Taking the GIL there
//! would stall the helper behind Python per record, and near exit it could
//! attach to an interpreter that is finalizing, which can crash the process.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};

use pyo3::prelude::*;

use crate::fork::Renewable;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict};

struct Bridge;

static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

thread_local! {
    /// True on threads that always queue (the async client's runtime).
    static QUEUES: Cell<bool> = const { Cell::new(false) };
    /// Records below this Python level are dropped on this thread without
    /// taking the GIL (0: none). Set for the length of a call by
    /// [`CallLevels::begin`].
    static SKIP_BELOW: Cell<i32> = const { Cell::new(0) };
}

/// The `runtel` logger's `isEnabledFor` cache (CPython's `Logger._cache`: a
/// dict from level to bool, emptied in place whenever a level changes).
static LOGGER_CACHE: PyOnceLock<Option<Py<PyDict>>> = PyOnceLock::new();

/// For the length of one call on this thread: records of levels the `runtel`
/// logger refused when the call began are dropped without taking the GIL back
/// (a call's `debug` line would otherwise take it, and call into Python, only
/// to be refused). Read from the logger's own cache of refusals, so a level
/// lowered while a call waits (by another thread, or a signal handler) counts
/// from the next call on; a level the cache does not know yet is asked of the
/// logger as before. A logger class whose own `isEnabledFor` accepts what the
/// base class refused and cached is not asked either.
pub struct CallLevels {
    previous: i32,
}

impl CallLevels {
    /// Starts the call's view of the levels (the GIL is held).
    pub fn begin(py: Python<'_>) -> CallLevels {
        read_level_if_changed(py);
        let skip = refused_below(py).unwrap_or(0);
        CallLevels {
            previous: SKIP_BELOW.replace(skip),
        }
    }
}

impl Drop for CallLevels {
    fn drop(&mut self) {
        SKIP_BELOW.set(self.previous);
    }
}

/// The `runtel` logger's `_cache` dict, if it has one.
fn logger_cache(py: Python<'_>) -> Option<Bound<'_, PyDict>> {
    let cache = LOGGER_CACHE
        .get_or_try_init(py, || -> PyResult<_> {
            let cache = runtel_logger(py)?.bind(py).getattr("_cache").ok();
            Ok(cache
                .and_then(|c| c.cast_into::<PyDict>().ok())
                .map(Bound::unbind))
        })
        .ok()?
        .as_ref()?;
    Some(cache.bind(py).clone())
}

/// Reads the logger's level again (for the records of runtel's own threads,
/// see `queue`) when the program changed a level since the last look, so a
/// call, or a page of `records()`, made after the change is filtered by it.
/// `setLevel` (on this logger or an ancestor), `logging.disable` and the
/// configuration functions all empty the logger's cache in place, so a key of
/// ours put there when the level was read is the sign: while it is there,
/// nothing changed (one dict lookup); the GIL is held. (The cache's own
/// entries are no sign: anyone's `isEnabledFor` refills them.) Not seen: a
/// level assigned as an attribute, or a logger class keeping no `_cache`;
/// records filtered by a stale level make the next flush read it again, so
/// at most the records of one page or call are lost then.
pub fn read_level_if_changed(py: Python<'_>) {
    let Some(cache) = logger_cache(py) else {
        return;
    };
    if cache.contains(read_mark(py)).unwrap_or(true) {
        return;
    }
    let _ = runtel_logger(py).and_then(|logger| {
        let logger = logger.bind(py);
        read_level(py, logger)?;
        // Fills the cache's `debug` entry, which `refused_below` reads.
        logger.call_method1("isEnabledFor", (python_level(log::Level::Debug),))?;
        Ok(())
    });
}

/// The key of ours in the logger's cache (see [`read_level_if_changed`]).
fn read_mark(py: Python<'_>) -> &Bound<'_, pyo3::types::PyString> {
    pyo3::intern!(py, "runtel: level read")
}

/// Stores the logger's effective level in [`LEVEL`]. The mark goes into the
/// cache first: a level changed while `getEffectiveLevel` runs (its Python
/// code may let another thread in) empties the cache after the mark, so the
/// next look reads again instead of trusting the older level.
fn read_level(py: Python<'_>, logger: &Bound<'_, PyAny>) -> PyResult<()> {
    if let Some(cache) = logger_cache(py) {
        cache.set_item(read_mark(py), true)?;
    }
    let effective: i32 = logger.call_method0("getEffectiveLevel")?.extract()?;
    LEVEL.store(effective, Ordering::Relaxed);
    Ok(())
}

/// The level below which the logger's cache says every record is refused:
/// `isEnabledFor` answers are monotonic in the level, and only a cached
/// `False` is trusted (a logger set `disabled` since answers `False` anyway).
fn refused_below(py: Python<'_>) -> Option<i32> {
    let cache = logger_cache(py)?;
    for (level, skip) in [
        (python_level(log::Level::Info), 30),
        (python_level(log::Level::Debug), 20),
    ] {
        if let Ok(Some(answer)) = cache.get_item(level) {
            if answer.is(PyBool::new(py, false).as_any()) {
                return Some(skip);
            }
        }
    }
    None
}

/// Records waiting for the GIL: (Python level, message).
/// Renewable: a helper thread may hold it at the moment of a fork.
static QUEUE: Renewable<VecDeque<(i32, String)>> = Renewable::new(VecDeque::new);
/// True while [`QUEUE`] may hold records, or a record was filtered by a level
/// that may be stale (so a flush with nothing to do costs one load).
static QUEUE_USED: AtomicBool = AtomicBool::new(false);
/// At most this many records wait; beyond, records are counted and dropped.
const QUEUE_MAX: usize = 10_000;
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// Records queued, and batches handed to Python, since the start (for tests).
static QUEUED: AtomicU64 = AtomicU64::new(0);
static BATCHES: AtomicU64 = AtomicU64::new(0);
/// The `runtel` logger's effective level as last seen (0: not known yet, so
/// everything is queued).
static LEVEL: AtomicI32 = AtomicI32::new(0);

/// In a forked child (see [`crate::fork`]): the queue, made anew if a thread
/// of the parent held it, starts empty (the parent logs what it held).
pub(crate) fn after_fork_in_child() {
    QUEUE.renew_if_held().clear();
    DROPPED.store(0, Ordering::Relaxed);
    QUEUE_USED.store(false, Ordering::Release);
}

pub(crate) fn python_level(level: log::Level) -> i32 {
    match level {
        log::Level::Error => 40,
        log::Level::Warn => 30,
        log::Level::Info => 20,
        log::Level::Debug => 10,
        log::Level::Trace => 5,
    }
}

/// Makes this thread queue its records (for the async client's runtime).
pub fn queue_on_this_thread() {
    QUEUES.with(|q| q.set(true));
}

/// True when a record made here must be queued: a thread marked by
/// [`queue_on_this_thread`], or one Python has no thread state for.
fn must_queue_here() -> bool {
    // SAFETY: only reads this thread's own slot; callable without the GIL.
    QUEUES.with(Cell::get) || unsafe { pyo3::ffi::PyGILState_GetThisThreadState().is_null() }
}

/// Queues the record `message` makes, formatted only if it is kept.
fn queue(level: i32, message: impl FnOnce() -> String) {
    if level < LEVEL.load(Ordering::Relaxed) {
        // Below the level last seen; the next flush reads the level again (the
        // program may have lowered it since).
        QUEUE_USED.store(true, Ordering::Release);
        return;
    }
    let message = message();
    let mut q = QUEUE.lock();
    if q.len() >= QUEUE_MAX {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    } else {
        q.push_back((level, message));
        QUEUED.fetch_add(1, Ordering::Relaxed);
    }
    QUEUE_USED.store(true, Ordering::Release);
}

/// Hands the queued records to the `runtel` logger (the GIL is held). Cheap
/// when nothing is queued.
pub fn flush_queued(py: Python<'_>) {
    if QUEUE_USED.load(Ordering::Acquire) {
        flush_and_read_level(py);
    }
}

/// [`flush_queued`], and the logger's level read again in any case (a client
/// being made, an async result: the program may have changed the level).
pub fn flush_and_read_level(py: Python<'_>) {
    QUEUE_USED.store(false, Ordering::Release);
    let records: Vec<_> = QUEUE.lock().drain(..).collect();
    let dropped = DROPPED.swap(0, Ordering::Relaxed);
    if !records.is_empty() {
        BATCHES.fetch_add(1, Ordering::Relaxed);
    }
    // A broken handler must not fail the call whose result is being built.
    let _ = (|| -> PyResult<()> {
        let logger = runtel_logger(py)?.bind(py);
        for (level, message) in records {
            if logger.call_method1("isEnabledFor", (level,))?.is_truthy()? {
                logger.call_method1("log", (level, "%s", message))?;
            }
        }
        if dropped > 0 {
            logger.call_method1(
                "warning",
                (
                    "%d log records of runtel's own threads were dropped (more than %d waited)",
                    dropped,
                    QUEUE_MAX,
                ),
            )?;
        }
        read_level(py, logger)
    })();
}

fn runtel_logger(py: Python<'_>) -> PyResult<&Py<PyAny>> {
    LOGGER.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py
            .import("logging")?
            .call_method1("getLogger", ("runtel",))?
            .unbind())
    })
}

/// ``_async_log_counts()`` (registered by `aio`): ``{"queued": ...,
/// "batches": ...}``, the records of runtel's own threads queued so far and the
/// batches they were handed to Python in (tests read it).
#[pyfunction]
#[pyo3(name = "_async_log_counts")]
pub fn log_queue_counts(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("queued", QUEUED.load(Ordering::Relaxed))?;
    d.set_item("batches", BATCHES.load(Ordering::Relaxed))?;
    Ok(d)
}

impl log::Log for Bridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        // ureq's wire dumps carry the token and password; ureq's other records are noise.
        !runtel_client::log_record_may_hold_secrets(metadata)
            && (metadata.target().starts_with("runtel") || metadata.level() <= log::Level::Warn)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = python_level(record.level());
        if level < SKIP_BELOW.with(Cell::get) {
            return;
        }
        if must_queue_here() {
            queue(level, || record.args().to_string());
            return;
        }
        if crate::wait::must_not_attach_here() {
            return;
        }
        // Interpreter shutdown or a broken handler must not take the caller down.
        let _ = Python::try_attach(|py| -> PyResult<()> {
            flush_queued(py);
            let logger = runtel_logger(py)?.bind(py);
            if logger.call_method1("isEnabledFor", (level,))?.is_truthy()? {
                logger.call_method1("log", (level, "%s", record.args().to_string()))?;
            }
            Ok(())
        });
    }

    fn flush(&self) {}
}

/// Installs the bridge once per process (a no-op if another logger is already set).
pub fn install() {
    static BRIDGE: Bridge = Bridge;
    if log::set_logger(&BRIDGE).is_ok() {
        log::set_max_level(log::LevelFilter::Debug);
    }
}
