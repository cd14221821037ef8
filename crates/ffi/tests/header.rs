//! The committed `runtel.h` is exactly what cbindgen generates from this crate.

use std::path::PathBuf;

fn generate() -> String {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let mut parts = version.split('.');
    let (major, minor, patch) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    config.after_includes = Some(format!(
        "\n#define RUNTEL_VERSION \"{version}\"\n#define RUNTEL_VERSION_MAJOR {major}\n\
         #define RUNTEL_VERSION_MINOR {minor}\n#define RUNTEL_VERSION_PATCH {patch}\n"
    ));
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen runs")
        .write(&mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn committed_header_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bindings/c/include/runtel.h");
    let fresh = generate();
    if std::env::var_os("RUNTEL_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "bindings/c/include/runtel.h is stale: run `RUNTEL_UPDATE_HEADER=1 cargo test -p runtel-ffi --test header`"
    );
    for name in [
        "runtel_client_new",
        "runtel_client_call",
        "runtel_error_http_status",
        "RUNTEL_ERR_PANIC",
        "RUNTEL_VERSION_MAJOR",
    ] {
        assert!(fresh.contains(name), "{name} missing from the header");
    }
}
