//! The `runtel._runtel` extension module: thin pyo3 wrappers over `runtel-client`.
//! Every behaviour comes from the Rust client; this crate only converts values and
//! errors, and releases the GIL while waiting on the network.

mod auth_info;
mod client;
mod convert;
mod decode;
mod errors;
mod logging;

use pyo3::prelude::*;

#[pymodule]
fn _runtel(m: &Bound<'_, PyModule>) -> PyResult<()> {
    logging::install();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<client::PyClient>()?;
    m.add_class::<client::PyRecords>()?;
    m.add_class::<client::ObjectProxy>()?;
    m.add_class::<client::ActionProxy>()?;
    m.add_class::<auth_info::PyAuthInfo>()?;
    Ok(())
}
