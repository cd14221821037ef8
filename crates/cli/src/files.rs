//! Files that may hold secrets: created 0600, refused when others can read them.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::failure::{Failure, Result};

/// Refuses a secret-holding file that group or others can read or write.
pub fn check_private(path: &Path) -> Result<()> {
    let meta =
        fs::metadata(path).map_err(|e| Failure::local(format!("{}: {e}", path.display())))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Failure::local(format!(
            "{} holds secrets but is accessible by others (mode {mode:03o}); run: chmod 600 {}",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

/// Writes a secret-holding file atomically with mode 0600 (temp file + rename).
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| Failure::local(format!("{}: {e}", dir.display())))?;
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    let tmp = tmp_path(path);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| Failure::local(format!("{}: {e}", tmp.display())))?;
    f.write_all(contents)
        .and_then(|_| f.sync_all())
        .map_err(|e| Failure::local(format!("{}: {e}", tmp.display())))?;
    fs::rename(&tmp, path).map_err(|e| Failure::local(format!("{}: {e}", path.display())))
}

/// Reads a secret-holding file if it exists, after checking its permissions.
pub fn read_private(path: &Path) -> Result<Option<String>> {
    if !path.exists() {
        return Ok(None);
    }
    check_private(path)?;
    fs::read_to_string(path)
        .map(Some)
        .map_err(|e| Failure::local(format!("{}: {e}", path.display())))
}

pub fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp{}", std::process::id()));
    path.with_file_name(name)
}

/// Creates (or truncates) a file for output with mode 0600 on creation.
pub fn create_output(path: &Path) -> Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(path)
        .map_err(|e| Failure::local(format!("{}: {e}", path.display())))
}
