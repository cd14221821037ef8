//! The `runtel._runtel` extension module: thin pyo3 wrappers over `runtel-client`.
//! Every behaviour comes from the Rust client; this crate only converts values and
//! errors, releases the GIL while waiting on the network, and keeps those waits
//! interruptible by Ctrl-C (see `wait`).

mod aio;
mod auth_info;
mod build;
mod catalog;
mod client;
mod convert;
mod decode;
mod errors;
mod exit_safe;
mod filter;
mod fork;
mod json;
mod logging;
mod options;
mod records;
mod response;
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
    m.add_class::<response::PyResponse>()?;
    m.add_class::<catalog::PyObjectSpec>()?;
    m.add_class::<catalog::PyFieldSpec>()?;
    m.add_class::<filter::PyFilter>()?;
    catalog::install(&m.py().get_type::<client::PyClient>())?;
    m.add_function(wrap_pyfunction!(catalog::objects, m)?)?;
    m.add_function(wrap_pyfunction!(catalog::object_spec, m)?)?;
    m.add_function(wrap_pyfunction!(filter::where_, m)?)?;
    response::register_as_mapping(m.py(), &m.py().get_type::<response::PyResponse>())?;
    m.add_function(wrap_pyfunction!(fork::after_fork_in_child, m)?)?;
    m.add_function(wrap_pyfunction!(errors::error_kinds, m)?)?;
    m.add_function(wrap_pyfunction!(errors::sample_error, m)?)?;
    m.add_function(wrap_pyfunction!(errors::transport_causes, m)?)?;
    m.add_function(wrap_pyfunction!(decode::decode_counts, m)?)?;
    m.add_function(wrap_pyfunction!(wait::at_exit, m)?)?;
    aio::register(m)?;
    Ok(())
}
