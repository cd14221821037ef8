//! The `runtel._runtel` extension module: thin pyo3 wrappers over `runtel-client`.
//! Every behaviour comes from the Rust client; this crate only converts values and
//! errors, releases the GIL while waiting on the network, and keeps those waits
//! interruptible by Ctrl-C (see `wait`).

mod auth_info;
mod client;
mod convert;
mod decode;
mod errors;
mod logging;
mod records;
mod wait;

use pyo3::prelude::*;

#[pymodule]
fn _runtel(m: &Bound<'_, PyModule>) -> PyResult<()> {
    logging::install();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<client::PyClient>()?;
    m.add_class::<records::PyRecords>()?;
    m.add_class::<client::ObjectProxy>()?;
    m.add_class::<client::ActionProxy>()?;
    m.add_class::<auth_info::PyAuthInfo>()?;
    m.add_function(wrap_pyfunction!(wait::after_fork_in_child, m)?)?;
    m.add_function(wrap_pyfunction!(wait::at_exit, m)?)?;
    Ok(())
}
