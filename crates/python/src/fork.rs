//! What `os.fork()` must not leave behind in the child.
//!
//! `fork()` copies only the thread that calls it. A lock another thread held
//! at that moment stays held in the child for ever, by a thread that does not
//! exist there. The package registers [`after_fork_in_child`] with
//! `os.register_at_fork`; it runs on the child's only thread, so every lock it
//! finds held was held by a thread of the parent:
//!
//! - the queue of log records of runtel's own threads (held for moments, also
//!   by threads without the GIL) is a [`Renewable`] mutex: a held one is
//!   replaced, and the parent's records in it are dropped (the parent logs them);
//! - an iterator's own lock is held for a whole page fetch: an iterator that
//!   another thread was inside at the fork is marked, and using it in the child
//!   raises instead of hanging (its state is half a step of a thread that is gone);
//! - clients drop the parent's connections and `action_id` sequence, and the
//!   worker pool starts over (see [`crate::wait`]).
//!
//! Nothing is held across the fork: a lock taken in a `before` hook would be
//! held while other `before` hooks (such as `logging`'s) let other threads run,
//! and a thread holding the GIL could then wait for it for ever.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Mutex, MutexGuard};

use pyo3::prelude::*;

/// Registered with `os.register_at_fork(after_in_child=...)`.
#[pyfunction]
#[pyo3(name = "_after_fork_in_child")]
pub fn after_fork_in_child() {
    crate::records::mark_those_in_use();
    crate::logging::after_fork_in_child();
    runtel_client::after_fork_in_child();
    crate::exit_safe::after_fork_in_child();
    crate::wait::after_fork_in_child();
}

/// A mutex that a forked child can replace when a thread of the parent held
/// it at the fork. Each mutex is allocated once and never freed, so a `&Mutex`
/// taken before a replacement stays valid.
pub(crate) struct Renewable<T: 'static> {
    current: AtomicPtr<Mutex<T>>,
    make: fn() -> T,
    /// Send and Sync exactly when `Mutex<T>` is (a raw pointer says nothing).
    _holds: PhantomData<Mutex<T>>,
}

impl<T: 'static> Renewable<T> {
    /// A mutex over `make()`, allocated on first use.
    pub(crate) const fn new(make: fn() -> T) -> Renewable<T> {
        Renewable {
            current: AtomicPtr::new(std::ptr::null_mut()),
            make,
            _holds: PhantomData,
        }
    }

    fn get(&self) -> &'static Mutex<T> {
        let mut p = self.current.load(Ordering::Acquire);
        if p.is_null() {
            let fresh = Box::into_raw(Box::new(Mutex::new((self.make)())));
            p = match self.current.compare_exchange(
                std::ptr::null_mut(),
                fresh,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => fresh,
                Err(theirs) => {
                    // SAFETY: `fresh` was never shared.
                    drop(unsafe { Box::from_raw(fresh) });
                    theirs
                }
            };
        }
        // SAFETY: a pointer stored here came from `Box::into_raw` and is never
        // freed (a replaced mutex is leaked), so it lives for 'static.
        unsafe { &*p }
    }

    /// Locks the current mutex (poisoning ignored: the data stays usable).
    pub(crate) fn lock(&self) -> MutexGuard<'static, T> {
        self.get().lock().unwrap_or_else(|e| e.into_inner())
    }

    /// In a forked child's only thread: the mutex, replaced by a fresh one
    /// over `make()` if a thread of the parent held it at the fork.
    pub(crate) fn renew_if_held(&self) -> MutexGuard<'static, T> {
        match self.get().try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                let fresh: &'static Mutex<T> = Box::leak(Box::new(Mutex::new((self.make)())));
                // The held one is leaked: its owner does not exist here.
                self.current
                    .store(fresh as *const Mutex<T> as *mut Mutex<T>, Ordering::Release);
                fresh.lock().unwrap_or_else(|e| e.into_inner())
            }
        }
    }
}
