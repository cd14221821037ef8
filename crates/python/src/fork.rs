//! What `os.fork()` must not leave behind in the child.
//!
//! `fork()` copies only the thread that calls it. A lock another thread held
//! at that moment stays held in the child for ever, by a thread that does not
//! exist there. The package registers these hooks with `os.register_at_fork`:
//!
//! - the locks this module's code holds only for moments (the queue of log
//!   records of runtel's own threads, the list of live iterators) are taken
//!   before the fork and released after it, in the parent and in the child, so
//!   the child never finds them held;
//! - an iterator's own lock is held for a whole page fetch, so it is not
//!   waited for: in the child, an iterator that another thread was inside at
//!   the fork is marked, and using it there raises instead of hanging (its
//!   state is half a step of a thread that is gone);
//! - clients drop the parent's connections and `action_id` sequence, and the
//!   worker pool starts over (see [`crate::wait`]).

use std::cell::RefCell;

use pyo3::prelude::*;

/// Guards taken by [`before_fork`], released by the hooks after it. Each
/// hook runs on the thread that forks (Python calls them around `fork()`).
struct Held {
    iterators: crate::records::LiveGuard,
    _log_queue: crate::logging::QueueGuard,
}

thread_local! {
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
}

/// Registered with `os.register_at_fork(before=...)`.
#[pyfunction]
#[pyo3(name = "_before_fork")]
pub fn before_fork() {
    // Always in this order (nothing else takes both); no thread waits for the
    // GIL while it holds either, so taking them with the GIL held is safe.
    let held = Held {
        iterators: crate::records::lock_live(),
        _log_queue: crate::logging::lock_queue(),
    };
    HELD.with(|h| *h.borrow_mut() = Some(held));
}

/// Registered with `os.register_at_fork(after_in_parent=...)`.
#[pyfunction]
#[pyo3(name = "_after_fork_in_parent")]
pub fn after_fork_in_parent() {
    HELD.with(|h| h.borrow_mut().take());
}

/// Registered with `os.register_at_fork(after_in_child=...)`.
#[pyfunction]
#[pyo3(name = "_after_fork_in_child")]
pub fn after_fork_in_child() {
    // The only thread now: what is locked was locked by a thread of the parent.
    if let Some(held) = HELD.with(|h| h.borrow_mut().take()) {
        crate::records::mark_those_in_use(&held.iterators);
    }
    runtel_client::after_fork_in_child();
    crate::exit_safe::after_fork_in_child();
    crate::wait::after_fork_in_child();
}
