//! Rust `log` records into Python's `logging`, under the `runtel` logger.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

struct Bridge;

static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

pub(crate) fn python_level(level: log::Level) -> i32 {
    match level {
        log::Level::Error => 40,
        log::Level::Warn => 30,
        log::Level::Info => 20,
        log::Level::Debug => 10,
        log::Level::Trace => 5,
    }
}

impl log::Log for Bridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        // ureq's wire dumps carry the token and password; ureq's other records are noise.
        !runtel_client::log_record_may_hold_secrets(metadata)
            && (metadata.target().starts_with("runtel") || metadata.level() <= log::Level::Warn)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) || crate::wait::must_not_attach_here() {
            return;
        }
        // The async client's runtime threads queue records instead of taking the GIL.
        if crate::aio::queue_log(record) {
            return;
        }
        // Interpreter shutdown or a broken handler must not take the caller down.
        let _ = Python::try_attach(|py| -> PyResult<()> {
            let logger = LOGGER.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
                Ok(py
                    .import("logging")?
                    .call_method1("getLogger", ("runtel",))?
                    .unbind())
            })?;
            let logger = logger.bind(py);
            let level = python_level(record.level());
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
