//! Gives the shared library a versioned soname (`libruntel.so.0`), so programs
//! link against the ABI version and distributions can package it (`make install`
//! lays out `libruntel.so.0.1.0`, `libruntel.so.0` and `libruntel.so`).
fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" {
        // ABI version 0 until 1.0: every 0.x release may break the C API.
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libruntel.so.0");
    }
}
