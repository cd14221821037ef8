//! `runtel.Records`: the paging iterator.
//!
//! Fetching a page holds the iterator's lock for a whole network exchange, so
//! that lock is only ever waited for detached (or by a worker). What the
//! properties show is copied after every step into a second, short-lived lock,
//! which nothing holds across the network or while taking the GIL: reading
//! `position` while another thread is inside `next()` never waits for it.
//!
//! A fork while another thread is inside `next()` leaves that thread's lock
//! held in the child for ever; the fork hook (see [`crate::fork`]) marks such
//! an iterator, and the child gets an error from it instead of a hang.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError, Weak};

use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use pyo3::types::PyList;
use runtel_client::{AheadWait, Error, Records};
use serde_json::Value;

use crate::convert::to_py;
use crate::decode::PyRecord;
use crate::errors::{invalid_input, to_py_err};
use crate::wait;

/// Records come decoded into dicts straight from each page's bytes, with the
/// GIL held once per page (see [`crate::decode::PyPageDecoder`]).
type DictRecords = Records<PyRecord>;
type Item = Result<Py<PyAny>, Error>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The iterator's numbers as of its last step.
#[derive(Debug, Clone, Copy, Default)]
struct View {
    total_count: Option<u64>,
    position: u64,
    pages_fetched: u64,
    shortfall: Option<u64>,
    server_page_size: Option<u64>,
    duplicates_dropped: u64,
    total_count_drift: Option<(u64, u64)>,
}

impl View {
    fn of(r: &DictRecords) -> View {
        View {
            total_count: r.total_count(),
            position: r.position(),
            pages_fetched: r.pages_fetched(),
            shortfall: r.shortfall(),
            server_page_size: r.server_page_size(),
            duplicates_dropped: r.duplicates_dropped(),
            total_count_drift: r.total_count_drift(),
        }
    }
}

#[derive(Default)]
struct State {
    view: View,
    /// The iterator's `notifies` so far. They only ever grow (each distinct
    /// message once), so they are copied only when there are more.
    notifies: Vec<Value>,
    /// Items taken from the iterator but not yet returned, oldest first: the
    /// rest of the page being read, and items fetched for a caller that was
    /// interrupted before it got them. The next `next()` returns these before
    /// anything else, so an interrupt loses no record and no error.
    pending: VecDeque<Item>,
}

struct Shared {
    /// None once the iterator was dropped (see `Drop for PyRecords`).
    records: Mutex<Option<DictRecords>>,
    state: Mutex<State>,
    /// In a forked child: `records` (or `state`) was held by a thread of the
    /// parent at the fork, so it stays locked here.
    records_lost: AtomicBool,
    state_lost: AtomicBool,
}

/// Every iterator of this process that may still be alive, for the fork hook.
/// Only ever locked with the GIL held.
static LIVE: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

/// In a forked child, whose only thread is the caller: marks the iterators
/// whose locks a thread of the parent held at the fork. [`LIVE`] itself is
/// free: it is only held with the GIL, which the forking thread had.
pub(crate) fn mark_those_in_use() {
    for shared in lock(&LIVE).iter().filter_map(Weak::upgrade) {
        if matches!(shared.records.try_lock(), Err(TryLockError::WouldBlock)) {
            shared.records_lost.store(true, Ordering::Relaxed);
        }
        if matches!(shared.state.try_lock(), Err(TryLockError::WouldBlock)) {
            shared.state_lost.store(true, Ordering::Relaxed);
        }
    }
}

/// What using an iterator marked by [`mark_those_in_use`] raises.
const LOST_AT_FORK: &str = "another thread was inside this iterator when the process forked; \
     that thread does not exist in this child, so the iterator cannot go on here: \
     make a new one in the child (records(..., start=position))";

/// The iterator's numbers after a step, copied for the properties.
fn note(state: &mut State, records: &DictRecords) {
    state.view = View::of(records);
    let notifies = records.notifies();
    if notifies.len() != state.notifies.len() {
        state.notifies = notifies.to_vec();
    }
}

impl Shared {
    /// One step of the iterator into `pending`, with the numbers copied for
    /// the properties under the same lock (so `position` never counts an item
    /// twice or not at all); false at the end of the list.
    fn step_into_pending(&self, records: &mut DictRecords) -> bool {
        let item = records.next();
        let mut state = lock(&self.state);
        note(&mut state, records);
        match item {
            Some(item) => {
                state.pending.push_back(item);
                true
            }
            None => false,
        }
    }

    /// The next item if it is at hand (see `Records::next_if_ready`).
    /// Past a page's first record (taking the second starts the fetch ahead),
    /// the rest of the page moves to `pending` at once, so the following
    /// `next()` calls take their records without the iterator's lock.
    fn step_if_ready(&self, records: &mut DictRecords) -> Option<Option<Item>> {
        let pages = records.pages_fetched();
        let item = records.next_if_ready()?;
        let mut state = lock(&self.state);
        if records.pages_fetched() == pages && matches!(item, Some(Ok(_))) {
            while records.buffered() > 0 {
                match records.next_if_ready() {
                    Some(Some(next)) => state.pending.push_back(next),
                    _ => break,
                }
            }
        }
        note(&mut state, records);
        Some(item)
    }

    fn take_pending(&self) -> Option<Item> {
        lock(&self.state).pending.pop_front()
    }

    /// The lock on the numbers, unless a thread of the parent held it at a fork.
    fn state(&self, py: Python<'_>) -> PyResult<MutexGuard<'_, State>> {
        if self.state_lost.load(Ordering::Relaxed) {
            return Err(invalid_input(py, LOST_AT_FORK));
        }
        Ok(lock(&self.state))
    }
}

/// An iterator over every record of a list action (dicts), one page in memory.
/// Safe to share between threads; each record is yielded once.
///
/// ``next()`` may be interrupted with Ctrl-C like any call; the page it was
/// fetching is kept, and the following ``next()`` resumes with its first record.
#[pyclass(frozen, module = "runtel._runtel", name = "Records")]
pub struct PyRecords {
    shared: Arc<Shared>,
}

impl PyRecords {
    pub(crate) fn new(records: DictRecords) -> PyRecords {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                view: View::of(&records),
                ..State::default()
            }),
            records: Mutex::new(Some(records)),
            records_lost: AtomicBool::new(false),
            state_lost: AtomicBool::new(false),
        });
        let mut live = lock(&LIVE);
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&shared));
        PyRecords { shared }
    }

    fn view(&self, py: Python<'_>) -> PyResult<View> {
        Ok(self.shared.state(py)?.view)
    }

    /// The next item without handing over to a worker: a buffered record, the
    /// end, or a page the helper fetches ahead, waited for here in slices
    /// without the GIL and decoded with it. Between slices the iterator's lock
    /// is released and Python's signal handlers run (an interrupt loses
    /// nothing: the page stays with the helper; a handler may use the iterator
    /// too). `None` when the page must be fetched (a worker does that, see
    /// `step_with_network`) or another thread holds the iterator.
    fn step_on_this_thread(&self, py: Python<'_>) -> PyResult<Option<Option<Item>>> {
        loop {
            let mut guard = match self.shared.records.try_lock() {
                Ok(r) => r,
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
                Err(TryLockError::WouldBlock) => return Ok(None),
            };
            let Some(records) = guard.as_mut() else {
                return Ok(None);
            };
            // Checked again under the iterator's lock: a worker may have just
            // left an item.
            if let Some(item) = self.shared.take_pending() {
                return Ok(Some(Some(item)));
            }
            if let Some(item) = self.shared.step_if_ready(records) {
                return Ok(Some(item));
            }
            let waited = py.detach(|| records.wait_ahead(wait::SLICE));
            drop(guard);
            match waited {
                AheadWait::Arrived => {}
                AheadWait::Pending => py.check_signals()?,
                AheadWait::Nothing => return Ok(None),
            }
        }
    }

    /// The next item from a worker that fetches the page (holding the
    /// iterator's lock) while this thread waits in slices. The worker leaves
    /// the item in `pending`, under the iterator's lock, so an interrupted
    /// caller's item keeps its place and `position` counts it as not taken.
    fn step_with_network(&self, py: Python<'_>) -> PyResult<Option<Item>> {
        loop {
            let shared = Arc::clone(&self.shared);
            let more = wait::run(
                py,
                move |reply: wait::Reply<bool>| {
                    let more = {
                        let mut guard = lock(&shared.records);
                        match guard.as_mut() {
                            // An item left by an earlier worker comes first.
                            Some(_) if !lock(&shared.state).pending.is_empty() => true,
                            Some(records) => shared.step_into_pending(records),
                            None => false,
                        }
                    };
                    // Only with the iterator's lock released: once the caller
                    // has the reply it may fork, and a child must not inherit
                    // a lock held by this thread (which it does not have).
                    let _ = reply.send(more);
                },
                drop,
            )?;
            if !more {
                return Ok(None);
            }
            // Another thread may take it first: then step again.
            if let Some(item) = self.shared.take_pending() {
                return Ok(Some(item));
            }
        }
    }
}

impl Drop for PyRecords {
    fn drop(&mut self) {
        // The iterator may hold the last handle of its client, whose drop logs out
        // (bounded by the core): not with the GIL held. A worker still fetching
        // for an interrupted caller holds the iterator; it then drops it itself.
        let shared = &self.shared;
        if shared.records_lost.load(Ordering::Relaxed) || shared.state_lost.load(Ordering::Relaxed)
        {
            // Half a step of a thread that is gone: never touched again.
            std::mem::forget(Arc::clone(shared));
            return;
        }
        if Arc::strong_count(shared) != 1 {
            return;
        }
        // Uncontended: no other handle (the fork hook upgrades the list of
        // live iterators only on a child's single thread).
        let records = lock(&shared.records).take();
        if let Some(records) = records {
            let _ = Python::try_attach(|py| py.detach(move || drop(records)));
        }
    }
}

#[pymethods]
impl PyRecords {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let pending = self.shared.state(py)?.pending.pop_front();
        let item = match pending {
            Some(item) => Some(item),
            None if self.shared.records_lost.load(Ordering::Relaxed) => {
                return Err(invalid_input(py, LOST_AT_FORK));
            }
            None => {
                // A page boundary: pages the helper fetches after this point
                // log by the level the program set before this `next()` (the
                // one handed over now was filtered when it was fetched).
                crate::logging::read_level_if_changed(py);
                let item = match self.step_on_this_thread(py)? {
                    Some(item) => item,
                    None => self.step_with_network(py)?,
                };
                // What the helper fetching ahead logged reaches `logging`.
                crate::logging::flush_queued(py);
                item
            }
        };
        match item {
            None => Err(PyStopIteration::new_err(())),
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(to_py_err(py, &e)),
        }
    }

    /// The ``total_count`` reported with the last page, or None before the first.
    #[getter]
    fn total_count(&self, py: Python<'_>) -> PyResult<Option<u64>> {
        Ok(self.view(py)?.total_count)
    }

    /// The offset of the next record (to resume an interrupted export with ``start``).
    #[getter]
    fn position(&self, py: Python<'_>) -> PyResult<u64> {
        let state = self.shared.state(py)?;
        let kept = state.pending.iter().filter(|i| i.is_ok()).count() as u64;
        Ok(state.view.position.saturating_sub(kept))
    }

    /// Pages fetched so far.
    #[getter]
    fn pages_fetched(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.view(py)?.pages_fetched)
    }

    /// None while iterating and after a complete list; once the iterator has
    /// ended below the last ``total_count`` the server announced, how many
    /// records short it ended. An export should treat a number as incomplete.
    #[getter]
    fn shortfall(&self, py: Python<'_>) -> PyResult<Option<u64>> {
        Ok(self.view(py)?.shortfall)
    }

    /// The page size the server turned out to use when it sent fewer records
    /// than asked while more were announced (a server capping ``limit``), or None.
    #[getter]
    fn server_page_size(&self, py: Python<'_>) -> PyResult<Option<u64>> {
        Ok(self.view(py)?.server_page_size)
    }

    /// Records not yielded because their ``id`` was already on the previous
    /// page (the list gained records at its head while paging).
    #[getter]
    fn duplicates_dropped(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.view(py)?.duplicates_dropped)
    }

    /// ``(first, latest)`` when the ``total_count`` changed while paging
    /// (records were added or deleted, and offset paging may have skipped some;
    /// ``consistent=True`` avoids that), else None.
    #[getter]
    fn total_count_drift(&self, py: Python<'_>) -> PyResult<Option<(u64, u64)>> {
        Ok(self.view(py)?.total_count_drift)
    }

    /// The ``notifies`` of every page so far, each distinct message once
    /// (messages for the user that came with the data, such as a low-balance
    /// notice).
    #[getter]
    fn notifies<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let notifies = self.shared.state(py)?.notifies.clone();
        let list = PyList::empty(py);
        for n in &notifies {
            list.append(to_py(py, n)?)?;
        }
        Ok(list)
    }
}
