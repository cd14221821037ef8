//! Files that hold secrets or personal data: created 0600 whatever the umask,
//! written through a temp file no one else can have prepared, and refused when
//! others can read them or plant files beside them.

use std::collections::hash_map::RandomState;
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::failure::{Failure, Result};

fn at(path: &Path) -> impl Fn(std::io::Error) -> Failure + '_ {
    move |e| Failure::local(format!("{}: {e}", path.display()))
}

fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Refuses a secret-holding file that group or others can read or write.
pub fn check_private(path: &Path) -> Result<()> {
    let meta = fs::metadata(path).map_err(at(path))?;
    check_private_meta(path, &meta)
}

fn check_private_meta(path: &Path, meta: &fs::Metadata) -> Result<()> {
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

/// Checks the directory that holds cached tokens, creating it (mode 0700) when
/// `create` is set and it is missing. Returns whether it exists.
///
/// Refused, with the fix in the message: a symbolic link (it could point anywhere,
/// and be re-pointed later), a directory owned by another user, or one that group
/// or others can write (anyone could plant a file or a symlink in it).
pub fn private_dir(dir: &Path, create: bool) -> Result<bool> {
    let meta = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound && !create => return Ok(false),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(parent).map_err(at(parent))?;
            }
            match fs::DirBuilder::new().mode(0o700).create(dir) {
                Ok(()) => {
                    // The umask may have taken the owner's own bits away.
                    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(at(dir))?;
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(at(dir)(e)),
            }
            fs::symlink_metadata(dir).map_err(at(dir))?
        }
        Err(e) => return Err(at(dir)(e)),
    };
    let shown = dir.display();
    if meta.file_type().is_symlink() {
        return Err(Failure::local(format!(
            "the cache directory {shown} is a symbolic link, which could be pointed anywhere; \
             remove it (rm {shown}) or set RUNTEL_CACHE_DIR to a directory of your own"
        )));
    }
    if !meta.is_dir() {
        return Err(Failure::local(format!(
            "the cache directory {shown} is not a directory"
        )));
    }
    let me = current_uid();
    if meta.uid() != me {
        return Err(Failure::local(format!(
            "the cache directory {shown} belongs to uid {}, not to you (uid {me}); \
             set RUNTEL_CACHE_DIR to a directory of your own",
            meta.uid()
        )));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(Failure::local(format!(
            "the cache directory {shown} can be written by group or others (mode {:03o}), \
             so they could plant files in it; run: chmod 700 {shown}",
            mode & 0o777
        )));
    }
    if create && mode & 0o777 != 0o700 {
        // Readable by others, or not fully ours (an older runtel, or a mkdir by hand).
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(at(dir))?;
    }
    Ok(true)
}

/// Writes a cache file atomically with mode 0600 (random temp file + rename), in
/// the cache directory checked and created by [`private_dir`].
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    private_dir(dir, true)?;
    write_atomic_private(path, contents)
}

/// Writes `path` atomically with mode 0600, whatever the umask: the contents go to
/// a new file of a random name beside it, opened with `O_CREAT|O_EXCL|O_NOFOLLOW`
/// so a file or symlink planted in advance is never written through, then renamed
/// over `path`.
pub fn write_atomic_private(path: &Path, contents: &[u8]) -> Result<()> {
    let (tmp, mut f) = create_temp_beside(path)?;
    let written = f
        .write_all(contents)
        .and_then(|()| f.sync_all())
        .map_err(at(&tmp))
        .and_then(|()| fs::rename(&tmp, path).map_err(at(path)));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// A new, empty, private file beside `path` with a name no one could predict.
fn create_temp_beside(path: &Path) -> Result<(PathBuf, File)> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let seed = RandomState::new();
    for attempt in 0u32..16 {
        let mut h = seed.build_hasher();
        h.write_u32(std::process::id());
        h.write_u32(attempt);
        if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            h.write_u128(d.as_nanos());
        }
        let tmp = path.with_file_name(format!(".{name}.{:016x}.tmp", h.finish()));
        match open_private(&tmp, Existing::Refuse) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(at(&tmp)(e)),
        }
    }
    Err(Failure::local(format!(
        "{}: could not create a temp file beside it",
        path.display()
    )))
}

/// How [`open_private`] treats an existing file.
#[derive(Clone, Copy)]
enum Existing {
    /// It must not exist (temp files).
    Refuse,
    /// Emptied (a new export over an old one).
    Truncate,
    /// Kept and continued; the file must exist (a resumed export).
    Keep,
}

/// Opens `path` for writing without following a symlink, with mode 0600 set
/// explicitly: the mode given to `open` is cut by the umask, and an existing file
/// would keep its old mode.
fn open_private(path: &Path, existing: Existing) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).mode(0o600).custom_flags(libc::O_NOFOLLOW);
    match existing {
        Existing::Refuse => o.create_new(true),
        Existing::Truncate => o.create(true).truncate(true),
        Existing::Keep => &mut o,
    };
    let f = o.open(path)?;
    f.set_permissions(fs::Permissions::from_mode(0o600))?;
    Ok(f)
}

/// Reads a cache file if it exists, after checking its directory (see
/// [`private_dir`]) and that the file is not a symlink and is private.
pub fn read_private(path: &Path) -> Result<Option<String>> {
    let dir = path.parent().unwrap_or(Path::new("."));
    if !private_dir(dir, false)? {
        return Ok(None);
    }
    let mut f = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Failure::local(format!(
                "{} is a symbolic link, not a cache file; remove it",
                path.display()
            )))
        }
        Err(e) => return Err(at(path)(e)),
    };
    // The checks apply to the file just opened, not to whatever the name points to now.
    let meta = f.metadata().map_err(at(path))?;
    check_private_meta(path, &meta)?;
    let mut text = String::new();
    f.read_to_string(&mut text).map_err(at(path))?;
    Ok(Some(text))
}

/// Creates (or truncates) an export's output file with mode 0600: call records
/// are personal data.
pub fn create_output(path: &Path) -> Result<File> {
    open_private(path, Existing::Truncate).map_err(at(path))
}

/// Opens an existing export output file to continue it, making it 0600 if an
/// older version of the tool left it readable by others.
pub fn reopen_output(path: &Path) -> Result<File> {
    open_private(path, Existing::Keep).map_err(at(path))
}
