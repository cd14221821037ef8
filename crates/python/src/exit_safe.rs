//! The tokio glue of pyo3-async-runtimes, made safe for the interpreter's exit.
//!
//! When an async call ends, pyo3-async-runtimes hands the result to the event
//! loop from a blocking thread of the runtime, holding the GIL. Handing it over
//! (`call_soon_threadsafe`) writes to the loop's wake-up socket, and Python
//! releases the GIL around that write: the event loop can take the result, the
//! program can end, and the interpreter can begin to finalize before the
//! runtime thread takes the GIL back to finish. A thread taking the GIL during
//! finalization is ended by Python in a way Rust cannot unwind through: the
//! process aborts or crashes, in a few percent of the runs of a short script.
//!
//! [`ExitSafeTokio`] is the same tokio runtime with one change: those blocking
//! hand-overs are counted, and once the interpreter has begun to exit
//! ([`crate::wait::at_exit`], an `atexit` hook, so while the interpreter is
//! still whole) new ones are dropped instead of run. [`leave_python`], called
//! by that hook, waits (detached, so they can finish) until none is running.
//!
//! One consequence: `atexit` runs hooks in the reverse order of registration,
//! so an `AsyncClient` call made by a hook registered before `import runtel`
//! runs after this one and gets no answer.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3_async_runtimes::generic::{ContextExt, Runtime};
use pyo3_async_runtimes::TaskLocals;

/// Hand-overs queued or running (each may hold or wait for the GIL).
static IN_PYTHON: AtomicUsize = AtomicUsize::new(0);
/// Set by [`leave_python`]: hand-overs from now on are dropped.
static LEAVING: AtomicBool = AtomicBool::new(false);
/// The longest [`leave_python`] waits: a hand-over takes microseconds, unless a
/// done-callback of the user's runs long.
const LEAVE_WAIT: Duration = Duration::from_secs(5);

tokio::task_local! {
    static TASK_LOCALS: std::cell::OnceCell<TaskLocals>;
}

/// pyo3-async-runtimes' tokio runtime, with the hand-overs counted (see the
/// module's documentation).
pub struct ExitSafeTokio;

/// Counts one hand-over for as long as it lives.
struct Counted;

impl Counted {
    fn new() -> Counted {
        IN_PYTHON.fetch_add(1, Ordering::SeqCst);
        Counted
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        IN_PYTHON.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Runtime for ExitSafeTokio {
    type JoinError = tokio::task::JoinError;
    type JoinHandle = tokio::task::JoinHandle<()>;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        pyo3_async_runtimes::tokio::get_runtime().spawn(fut)
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        // Counted from now, so that one queued before the exit is waited for.
        let counted = Counted::new();
        pyo3_async_runtimes::tokio::get_runtime().spawn_blocking(move || {
            let _counted = counted;
            if LEAVING.load(Ordering::SeqCst) {
                // Nobody is left to take the result; what it holds of Python is
                // released without the GIL (pyo3 defers that safely).
                drop(f);
                return;
            }
            f();
        })
    }
}

impl ContextExt for ExitSafeTokio {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let cell = std::cell::OnceCell::new();
        let _ = cell.set(locals);
        Box::pin(TASK_LOCALS.scope(cell, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS
            .try_with(|c| c.get().cloned())
            .unwrap_or_default()
    }
}

/// In a forked child: the parent's runtime threads were not copied, and neither
/// are their hand-overs.
pub fn after_fork_in_child() {
    IN_PYTHON.store(0, Ordering::SeqCst);
}

/// From the `atexit` hook: no hand-over starts from now on, and the running
/// ones finish (the GIL released meanwhile) before the interpreter finalizes.
pub fn leave_python(py: Python<'_>) {
    // SeqCst: a hand-over counted before it reads `LEAVING`, and this store
    // before reading the count, so that one of the two sees the other.
    LEAVING.store(true, Ordering::SeqCst);
    if IN_PYTHON.load(Ordering::SeqCst) == 0 {
        return;
    }
    py.detach(|| {
        let until = Instant::now() + LEAVE_WAIT;
        while IN_PYTHON.load(Ordering::SeqCst) > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}
