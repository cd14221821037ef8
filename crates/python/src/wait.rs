//! Blocking work that Ctrl-C can interrupt.
//!
//! Python runs signal handlers only on the main thread, and only between
//! bytecodes: while the main thread sits in a 20-second network wait, a SIGINT
//! just sets a flag. So on the main thread the work runs on a pooled worker
//! thread, and the main thread waits for it detached, in short slices, attaching
//! between slices only to run the signal handlers (`PyErr_CheckSignals`). When a
//! handler raises (`KeyboardInterrupt`, or whatever a handler of the user's
//! raises), that exception is returned at once; the worker finishes the work in
//! the background and its result is dropped (or handed back, see [`run`]).
//! Other threads never run signal handlers, so they do the work inline.
//!
//! A plain call needs no worker: [`interruptible`] runs it on the main thread
//! itself with the core's stop check ([`runtel_client::interruptible`]), which
//! makes every wait inside the call (the answer, a connect, a retry pause) wait
//! in slices and runs the signal handlers between them. That saves the two
//! thread hand-overs per call. Work that waits outside the core's sliced waits
//! (a login holding its lock, an iterator's page) still goes through [`run`].
//!
//! Workers are kept (a few, for a while) because starting a thread per call
//! would cost more than the call itself on a fast network.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

/// How long the main thread waits detached before it runs the signal handlers:
/// the bound on the interrupt latency, at the cost of one attach per slice.
pub(crate) const SLICE: Duration = Duration::from_millis(50);
/// Idle workers beyond this many end at once. The main thread needs one, plus
/// one per interrupted call still running.
const MAX_IDLE: usize = 2;
/// An idle worker ends after this long, so a program that stopped calling does
/// not keep threads around (they would also make a later `fork()` warn on
/// Python 3.12+).
const IDLE_EXIT: Duration = Duration::from_secs(60);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic on a worker is reported to its caller; it must not wedge the pool.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Set by an `atexit` hook; see [`must_not_attach`].
static EXITING: AtomicBool = AtomicBool::new(false);

thread_local! {
    static IS_WORKER: Cell<bool> = const { Cell::new(false) };
}

/// True on a worker thread once the interpreter has begun to exit. Only work
/// abandoned by an interrupt can still be running there then, and attaching to
/// a finalizing interpreter can crash the process, so that work drops its
/// result (and its log records) instead of building Python objects.
pub fn must_not_attach() -> bool {
    EXITING.load(Ordering::Acquire) && IS_WORKER.with(Cell::get)
}

/// [`must_not_attach`], and also true once the interpreter has begun to exit on
/// a thread Python does not know (such as the core's prefetch helper, whose
/// calls log): attaching would create a thread state in a finalizing
/// interpreter.
pub fn must_not_attach_here() -> bool {
    if !EXITING.load(Ordering::Acquire) {
        return false;
    }
    // SAFETY: only reads this thread's own slot; callable without the GIL.
    must_not_attach() || unsafe { pyo3::ffi::PyGILState_GetThisThreadState().is_null() }
}

/// Registered with `atexit` by the package; see [`must_not_attach`]. From then
/// on the main thread also runs its calls inline (an `atexit` handler of the
/// user's may still make calls).
#[pyfunction]
#[pyo3(name = "_at_exit")]
pub fn at_exit(py: Python<'_>) {
    EXITING.store(true, Ordering::Release);
    // The async client's runtime threads must be out of Python before the
    // interpreter finalizes.
    crate::exit_safe::leave_python(py);
}

/// In a forked child (see [`crate::fork`]): this thread, the child's only
/// one, is now its main thread, and has no workers: fork() copies only the
/// thread that called it.
pub fn after_fork_in_child() {
    LOCAL.with(|l| *l.borrow_mut() = None);
}

// ---------------------------------------------------------------------------
// The slot through which a worker hands its result to the waiting caller.

type Panic = Box<dyn Any + Send>;

enum State<R> {
    Waiting,
    Ready(R),
    Panicked(Panic),
    /// The caller was interrupted and left.
    Abandoned,
    /// The caller took the outcome.
    Taken,
}

struct Slot<R> {
    state: Mutex<State<R>>,
    changed: Condvar,
}

impl<R> Slot<R> {
    fn new() -> Arc<Slot<R>> {
        Arc::new(Slot {
            state: Mutex::new(State::Waiting),
            changed: Condvar::new(),
        })
    }

    /// Stores the outcome, unless the caller has left: then a result comes back.
    fn finish(&self, outcome: State<R>) -> Option<R> {
        let mut state = lock(&self.state);
        if let State::Abandoned = *state {
            return match outcome {
                State::Ready(r) => Some(r),
                _ => None,
            };
        }
        *state = outcome;
        self.changed.notify_all();
        None
    }

    fn take(state: &mut State<R>) -> Option<Result<R, Panic>> {
        match std::mem::replace(state, State::Taken) {
            State::Ready(r) => Some(Ok(r)),
            State::Panicked(p) => Some(Err(p)),
            other => {
                *state = other;
                None
            }
        }
    }

    /// The outcome, waiting for it at most `limit`.
    fn wait(&self, limit: Duration) -> Option<Result<R, Panic>> {
        let deadline = Instant::now() + limit;
        let mut state = lock(&self.state);
        loop {
            if let Some(outcome) = Slot::take(&mut state) {
                return Some(outcome);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The caller leaves; a result that arrived meanwhile comes back to it.
    fn abandon(&self) -> Option<R> {
        match std::mem::replace(&mut *lock(&self.state), State::Abandoned) {
            State::Ready(r) => Some(r),
            _ => None,
        }
    }
}

/// Where a job sends its result.
pub struct Reply<R> {
    slot: Arc<Slot<R>>,
}

impl<R> Reply<R> {
    /// Hands `result` to the caller, or gives it back when the caller was
    /// interrupted and has left (the job may keep it for a later caller).
    pub fn send(self, result: R) -> Result<(), R> {
        match self.slot.finish(State::Ready(result)) {
            None => Ok(()),
            Some(r) => Err(r),
        }
    }
}

/// Runs a job, turning a panic (or a job that never replied) into the outcome.
fn execute<R, J: FnOnce(Reply<R>)>(slot: Arc<Slot<R>>, job: J) {
    let reply = Reply {
        slot: Arc::clone(&slot),
    };
    let outcome = catch_unwind(AssertUnwindSafe(move || job(reply)));
    let mut state = lock(&slot.state);
    if let State::Waiting = *state {
        let why: Panic = match outcome {
            Err(p) => p,
            Ok(()) => Box::new("runtel: the work ended without an answer"),
        };
        *state = State::Panicked(why);
        slot.changed.notify_all();
    }
}

// ---------------------------------------------------------------------------
// The worker pool of the main thread.

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    queue: Mutex<Queue>,
    ready: Condvar,
}

struct Queue {
    jobs: VecDeque<Job>,
    idle: usize,
}

impl Pool {
    /// Queues a job, starting a worker unless enough are idle; gives the job back
    /// when no thread can be started.
    fn submit(self: &Arc<Pool>, job: Job) -> Result<(), Job> {
        let mut q = lock(&self.queue);
        q.jobs.push_back(job);
        if q.jobs.len() <= q.idle {
            self.ready.notify_one();
            return Ok(());
        }
        let pool = Arc::clone(self);
        let started = std::thread::Builder::new()
            .name("runtel-call".into())
            .spawn(move || pool.work());
        match started {
            Ok(_) => Ok(()),
            Err(_) => Err(q.jobs.pop_back().expect("just queued")),
        }
    }

    fn work(&self) {
        IS_WORKER.with(|w| w.set(true));
        // The worker stays known to Python (detached) for its whole life, so that
        // decoding an answer here is a cheap re-attach, not a new thread state.
        let attached = Python::try_attach(|py| py.detach(|| self.serve_then_park()));
        if attached.is_none() {
            // No interpreter to attach to: the queued job must still run.
            self.serve_then_park();
        }
    }

    fn serve_then_park(&self) {
        self.serve();
        // Returning through the attach in `work` takes the GIL once more; while
        // the interpreter exits that is unsafe, so park for good instead.
        while must_not_attach() {
            std::thread::park();
        }
    }

    fn serve(&self) {
        let mut q = lock(&self.queue);
        loop {
            if let Some(job) = q.jobs.pop_front() {
                drop(q);
                job();
                q = lock(&self.queue);
                continue;
            }
            if q.idle >= MAX_IDLE {
                return;
            }
            q.idle += 1;
            let (guard, waited) = self
                .ready
                .wait_timeout(q, IDLE_EXIT)
                .unwrap_or_else(|e| e.into_inner());
            q = guard;
            q.idle -= 1;
            if waited.timed_out() && q.jobs.is_empty() {
                return;
            }
        }
    }
}

/// What this thread knows about itself, for the process it was computed in
/// (a forked child starts over).
struct Local {
    process: runtel_client::ProcessMarker,
    is_main: bool,
    pool: Option<Arc<Pool>>,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

fn is_main_thread(py: Python<'_>) -> bool {
    let check = || -> PyResult<bool> {
        let threading = py.import("threading")?;
        let main = threading.call_method0("main_thread")?.getattr("ident")?;
        main.eq(threading.call_method0("get_ident")?)
    };
    check().unwrap_or(false)
}

/// Whether this is the main thread (the one that runs signal handlers) of a
/// running interpreter.
fn runs_signal_handlers(py: Python<'_>) -> bool {
    if EXITING.load(Ordering::Acquire) {
        return false;
    }
    know_thread(py);
    LOCAL.with(|l| l.borrow().as_ref().is_some_and(|l| l.is_main))
}

/// The pool, when this is the main thread (the one that runs signal handlers).
fn main_thread_pool(py: Python<'_>) -> Option<Arc<Pool>> {
    if !runs_signal_handlers(py) {
        return None;
    }
    LOCAL.with(|l| {
        let mut l = l.borrow_mut();
        let l = l.as_mut()?;
        Some(Arc::clone(l.pool.get_or_insert_with(|| {
            Arc::new(Pool {
                queue: Mutex::new(Queue {
                    jobs: VecDeque::new(),
                    idle: 0,
                }),
                ready: Condvar::new(),
            })
        })))
    })
}

/// Fills this thread's [`Local`] for the current process.
fn know_thread(py: Python<'_>) {
    // The core's marker: no system call per call.
    let process = runtel_client::process_marker();
    let known = LOCAL.with(|l| l.borrow().as_ref().is_some_and(|l| l.process == process));
    if !known {
        // Asked once per thread and process; Python code runs outside the borrow.
        let is_main = is_main_thread(py);
        LOCAL.with(|l| {
            *l.borrow_mut() = Some(Local {
                process,
                is_main,
                pool: None,
            })
        });
    }
}

fn unwrap<R>(outcome: Result<R, Panic>) -> R {
    outcome.unwrap_or_else(|p| resume_unwind(p))
}

/// Runs `job` detached, and returns what it sent to its [`Reply`]; a panic in
/// the job is re-raised here (pyo3 makes it a `PanicException`).
///
/// On the main thread the job runs on a worker while this thread waits in
/// slices of [`SLICE`], running the signal handlers between them. If a handler
/// raises, its exception is returned at once and the job goes on by itself:
/// its `Reply::send` gives the result back to it, and a result that had just
/// arrived is passed to `unclaimed` here. Either way the outcome of the work is
/// unknown to the caller (a write may have been applied).
pub fn run<R, J, U>(py: Python<'_>, job: J, unclaimed: U) -> PyResult<R>
where
    R: Send + 'static,
    J: FnOnce(Reply<R>) + Send + 'static,
    U: FnOnce(R),
{
    let slot = Slot::new();
    let worker_slot = Arc::clone(&slot);
    let Some(pool) = main_thread_pool(py) else {
        py.detach(move || execute(worker_slot, job));
        crate::logging::flush_queued(py);
        return Ok(unwrap(slot.wait(Duration::ZERO).expect("the job has run")));
    };
    if let Err(job) = pool.submit(Box::new(move || execute(worker_slot, job))) {
        // No thread could be started: do the work here, uninterruptible as before.
        py.detach(job);
    }
    let process = runtel_client::process_marker();
    loop {
        if let Some(outcome) = py.detach(|| slot.wait(SLICE)) {
            // The worker's records (and its helpers') reach `logging` now.
            crate::logging::flush_queued(py);
            return Ok(unwrap(outcome));
        }
        if let Err(e) = py.check_signals() {
            if let Some(result) = slot.abandon() {
                unclaimed(result);
            }
            return Err(e);
        }
        if runtel_client::process_marker() != process {
            // A signal handler forked: this is the child, and the worker (the
            // work, its result) stayed in the parent.
            return Err(crate::errors::to_py_err(
                py,
                &runtel_client::forked_during_call("call"),
            ));
        }
    }
}

/// [`run`] for a closure whose result is simply dropped when interrupted.
pub fn blocking<R, F>(py: Python<'_>, work: F) -> PyResult<R>
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    run(
        py,
        move |reply: Reply<R>| {
            let _ = reply.send(work());
        },
        drop,
    )
}

/// Runs `work` detached on this thread. On the main thread the core's waits are
/// sliced ([`runtel_client::interruptible`]) and the signal handlers run between
/// slices: when one raises, the work gives up at once (its connection is
/// closed) and the handler's exception is returned; as after a timeout, a write
/// may have been applied. Cheaper than [`run`] (no hand-over to a worker), for
/// work that only waits inside the core.
pub fn interruptible<R, F>(py: Python<'_>, work: F) -> PyResult<R>
where
    R: Send,
    F: FnOnce() -> R + Send,
{
    let _levels = crate::logging::CallLevels::begin(py);
    if !runs_signal_handlers(py) {
        let result = py.detach(work);
        crate::logging::flush_queued(py);
        return Ok(result);
    }
    let raised: Arc<Mutex<Option<PyErr>>> = Arc::default();
    let slot = Arc::clone(&raised);
    let result = py.detach(move || {
        runtel_client::interruptible(
            move || {
                Python::attach(|py| match py.check_signals() {
                    Ok(()) => false,
                    Err(e) => {
                        *lock(&slot) = Some(e);
                        true
                    }
                })
            },
            work,
        )
    });
    // Records of helper threads the work used (a login, a connect) reach
    // `logging` now.
    crate::logging::flush_queued(py);
    let raised = lock(&raised).take();
    match raised {
        Some(e) => Err(e),
        None => Ok(result),
    }
}
