//! Knowing that this process is a forked child, cheaply.
//!
//! A forked child shares its parent's connections and state; clients compare a
//! process marker on every call to give the child its own. The marker is read
//! without a system call: a handler `fork()` runs in every child bumps an epoch.
#![allow(unsafe_code)] // one block: registering that handler

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};

/// Bumped in every forked child (see [`process_marker`]).
static FORK_EPOCH: AtomicU64 = AtomicU64::new(0);
/// This process's id as of the last fork (0: not known, ask the system).
static KNOWN_PID: AtomicU32 = AtomicU32::new(0);

/// Tells every client that this process is a freshly forked child. Not needed
/// (the library notices forks on its own), but harmless; runtimes with fork
/// hooks (Python's `os.register_at_fork`) call it.
pub fn after_fork_in_child() {
    FORK_EPOCH.fetch_add(1, Ordering::SeqCst);
    KNOWN_PID.store(0, Ordering::SeqCst);
}

/// A process and its fork epoch: what tells a forked child from its parent
/// (see [`process_marker`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessMarker {
    /// The process id.
    pub pid: u32,
    /// How many forks this process's line has been through (as far as the
    /// fork handler saw them); a child that reuses an ancestor's id differs
    /// here.
    pub fork_epoch: u64,
}

/// This process and its fork epoch: what changes in a forked child. Read once
/// or more per call, so without a system call: a fork handler registered on
/// first use bumps the epoch and forgets the process id in every child (a
/// child that reuses an ancestor's id is new all the same). Where no handler
/// could be registered, the id is asked for every time. (A child made by a raw
/// `clone` system call, which skips the handlers, is not noticed; `fork()`,
/// Python's `os.fork` and `multiprocessing` run them.) Front ends that keep
/// per-process state of their own compare it too.
pub fn process_marker() -> ProcessMarker {
    let handled = fork_handler_registered();
    let fork_epoch = FORK_EPOCH.load(Ordering::SeqCst);
    let pid = match KNOWN_PID.load(Ordering::SeqCst) {
        0 => {
            let pid = std::process::id();
            if handled {
                KNOWN_PID.store(pid, Ordering::SeqCst);
            }
            pid
        }
        pid => pid,
    };
    ProcessMarker { pid, fork_epoch }
}

/// Registers the fork handler on first use; true once it is registered. Not a
/// `Once`: a fork while another thread is inside it would leave the child
/// waiting for that thread for ever. A child forked mid-registration (or a
/// process where it failed) asks the system for its id every time.
fn fork_handler_registered() -> bool {
    const UNREGISTERED: u8 = 0;
    const REGISTERING: u8 = 1;
    const REGISTERED: u8 = 2;
    const FAILED: u8 = 3;
    static STATE: AtomicU8 = AtomicU8::new(UNREGISTERED);
    match STATE.load(Ordering::SeqCst) {
        REGISTERED => true,
        UNREGISTERED => {
            if STATE
                .compare_exchange(
                    UNREGISTERED,
                    REGISTERING,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                )
                .is_err()
            {
                return false;
            }
            let ok = register_fork_handler();
            STATE.store(if ok { REGISTERED } else { FAILED }, Ordering::SeqCst);
            ok
        }
        _ => false,
    }
}

/// Registers [`after_fork_in_child`] to run in every child `fork()` makes.
#[cfg(unix)]
fn register_fork_handler() -> bool {
    extern "C" fn in_child() {
        // Only atomics: this runs in the child before anything else, where
        // little is safe to call.
        after_fork_in_child();
    }
    // SAFETY: registers a handler that only touches atomics. glibc and the BSDs
    // drop a library's handlers when it is unloaded, so none outlives its code.
    unsafe { libc::pthread_atfork(None, None, Some(in_child)) == 0 }
}

#[cfg(not(unix))]
fn register_fork_handler() -> bool {
    // No fork: the process id never changes.
    true
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_forked_child_gets_a_new_marker_from_the_handler() {
        let parent = process_marker();
        // Another test thread may be registering it this moment.
        let started = std::time::Instant::now();
        while !fork_handler_registered() {
            assert!(
                started.elapsed().as_secs() < 5,
                "the handler was never registered"
            );
            std::thread::yield_now();
        }
        let parent = if parent.pid == KNOWN_PID.load(Ordering::SeqCst) {
            parent
        } else {
            process_marker()
        };
        assert_eq!(parent.pid, std::process::id());
        assert_eq!(
            KNOWN_PID.load(Ordering::SeqCst),
            parent.pid,
            "the id is kept"
        );
        // SAFETY: the child only reads atomics, asks for its id and exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            // The handler ran before anything here: the id is forgotten and the
            // epoch moved, so even a reused process id would not match.
            let forgotten = KNOWN_PID.load(Ordering::SeqCst) == 0;
            let child = process_marker();
            let ok = forgotten
                && child.fork_epoch > parent.fork_epoch
                && child.pid == std::process::id()
                && child.pid != parent.pid;
            // SAFETY: ends the child without running the parent's exit code.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waits for the child made above.
        let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(waited, pid);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "child saw the old marker"
        );
        assert_eq!(process_marker(), parent, "the parent's marker is unchanged");
    }
}
