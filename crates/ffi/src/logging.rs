//! Log records for C programs, through a callback they register.

use std::cell::Cell;
use std::ffi::{c_char, c_void, CString};
use std::sync::RwLock;

use crate::error::runtel_error;
use crate::runtel_result;
use crate::util::guard;

/// Receives one log record: `level` 1 (error) to 5 (trace), the emitting module
/// (`target`, e.g. "runtel_client::client") and the message. Both strings are valid
/// only during the call. Records never contain a password or token. The callback
/// may be called from any thread, concurrently.
pub type runtel_log_callback = Option<
    unsafe extern "C" fn(
        level: i32,
        target: *const c_char,
        message: *const c_char,
        user_data: *mut c_void,
    ),
>;

struct Sink {
    callback: unsafe extern "C" fn(i32, *const c_char, *const c_char, *mut c_void),
    user_data: usize,
    max_level: log::Level,
}

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

thread_local! {
    /// Set while this thread runs the C callback. A callback that calls back into
    /// the library would otherwise take the sink's lock again on the same thread:
    /// a deadlock when it replaces the callback (write under our read), and
    /// possibly when it logs (a nested read behind a waiting writer).
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// Clears [`IN_CALLBACK`] when the callback returns (or unwinds).
struct CallbackScope;

impl CallbackScope {
    fn enter() -> CallbackScope {
        IN_CALLBACK.with(|f| f.set(true));
        CallbackScope
    }
}

impl Drop for CallbackScope {
    fn drop(&mut self) {
        IN_CALLBACK.with(|f| f.set(false));
    }
}

fn in_callback() -> bool {
    IN_CALLBACK.with(Cell::get)
}

struct CLogger;

fn level_number(level: log::Level) -> i32 {
    level as i32
}

impl log::Log for CLogger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        // Records of library calls made by the callback itself are dropped.
        if in_callback() {
            return false;
        }
        let sink = SINK.read().unwrap_or_else(|e| e.into_inner());
        sink.as_ref().is_some_and(|s| {
            m.level() <= s.max_level
                && !runtel_client::log_record_may_hold_secrets(m)
                // ureq's own records are noise below warnings.
                && (m.target().starts_with("runtel") || m.level() <= log::Level::Warn)
        })
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let sink = SINK.read().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = sink.as_ref() {
            let target = CString::new(record.target().replace('\0', " ")).unwrap_or_default();
            let message =
                CString::new(record.args().to_string().replace('\0', " ")).unwrap_or_default();
            let _scope = CallbackScope::enter();
            // SAFETY: registered as callable from any thread until replaced; SINK is locked.
            unsafe {
                (s.callback)(
                    level_number(record.level()),
                    target.as_ptr(),
                    message.as_ptr(),
                    s.user_data as *mut c_void,
                )
            };
        }
    }

    fn flush(&self) {}
}

/// Sends the library's log records with level <= `max_level` (1 error .. 5 trace)
/// to `callback`, with `user_data` passed back. NULL `callback` turns logging off.
/// Per call, `runtel_client` logs the action_id, object, action, outcome and latency
/// at level 4 (debug) on success and 3 (info) on failure. If the program already
/// installed another Rust logger, this returns `RUNTEL_ERR_INVALID_INPUT`.
///
/// The callback may call the library; the records those calls would log are
/// dropped (no recursion). Calling `runtel_set_log_callback` from inside the
/// callback returns `RUNTEL_ERR_INVALID_INPUT` instead of deadlocking. From any
/// other thread it returns once the calls to the old callback in progress have
/// finished: after it returns, the old callback is not running and will not be
/// called again, so its `user_data` may be freed.
///
/// # Safety
/// `callback` is NULL or a function safe to call from any thread until it is
/// replaced; `user_data` stays valid as long; `err` is NULL or a valid place for
/// one pointer.
#[no_mangle]
pub unsafe extern "C" fn runtel_set_log_callback(
    callback: runtel_log_callback,
    max_level: i32,
    user_data: *mut c_void,
    err: *mut *mut runtel_error,
) -> runtel_result {
    let body = || -> Result<(), crate::error::Failure> {
        if in_callback() {
            return Err(crate::error::Failure::invalid(
                "runtel_set_log_callback called from inside the log callback; \
                 change the callback from another place"
                    .into(),
            ));
        }
        static LOGGER: CLogger = CLogger;
        let installed = log::set_logger(&LOGGER).is_ok()
            || std::ptr::eq(
                log::logger() as *const dyn log::Log as *const (),
                &LOGGER as *const CLogger as *const (),
            );
        if !installed {
            return Err(crate::error::Failure::invalid(
                "another logger is already installed in this process".into(),
            ));
        }
        let max = match max_level {
            i32::MIN..=1 => log::Level::Error,
            2 => log::Level::Warn,
            3 => log::Level::Info,
            4 => log::Level::Debug,
            _ => log::Level::Trace,
        };
        log::set_max_level(if callback.is_some() {
            max.to_level_filter()
        } else {
            log::LevelFilter::Off
        });
        *SINK.write().unwrap_or_else(|e| e.into_inner()) = callback.map(|callback| Sink {
            callback,
            user_data: user_data as usize,
            max_level: max,
        });
        Ok(())
    };
    // SAFETY: the caller promises `err` is NULL or a valid place for one pointer.
    unsafe { guard(err, body) }
}
