//! The token cache and the login guard, kept in the cache directory across
//! invocations so a shell loop neither logs in every time nor gets its host
//! blocked by the server's Defender.

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use runtel_client::{AuthInfo, Client, Endpoint, Error, GuardStore, LockedGuardState};
use serde_json::{json, Value};

use crate::failure::{Failure, Result};
use crate::files;
use crate::settings::{cache_dir, Settings};

fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A saved Unix time; a damaged value (NaN, huge) reads as the far future, so a
/// damaged lock-out stays in force rather than panicking or lifting it.
fn from_unix(s: f64) -> SystemTime {
    let far = Duration::from_secs(100 * 365 * 24 * 3600);
    let d = Duration::try_from_secs_f64(s.max(0.0))
        .unwrap_or(far)
        .min(far);
    UNIX_EPOCH + d
}

/// A file-system-safe name for a server.
fn server_key(base: &str) -> String {
    base.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The cached session of one profile. Besides the token it keeps the URL and
/// login it was made with, so that later commands of the profile need neither
/// (see [`remembered`]).
pub struct SessionCache {
    path: PathBuf,
    profile: String,
    url: String,
    login: Option<String>,
    base: String,
}

fn session_path(profile: &str) -> PathBuf {
    cache_dir().join(format!("session-{}.json", server_key(profile)))
}

/// The saved session of `profile`, if the file is there, readable and its own:
/// distinct profile names can map to one file name (`a.b`, `a_b`), and a file
/// written before the profile was recorded has none.
fn read_session(profile: &str) -> Result<Option<Value>> {
    let Some(text) = files::read_private(&session_path(profile))? else {
        return Ok(None);
    };
    let Ok(v) = serde_json::from_str::<Value>(&text) else {
        return Ok(None); // a damaged cache is just a cache miss
    };
    Ok(match &v["profile"] {
        Value::String(p) if p == profile => Some(v),
        Value::Null => Some(v),
        _ => None,
    })
}

/// The server and login a profile last logged in with.
pub struct Remembered {
    pub url: String,
    pub login: Option<String>,
    /// The server's normalised base URL, to tell whether a URL given otherwise
    /// is the same server (then the login applies to it too).
    pub base: String,
}

/// What the session cache of `profile` remembers, whether or not its token is
/// still valid: the server and login stay useful for the next login. The cache
/// directory is checked as for every cache read ([`files::read_private`]), so
/// a URL planted by someone else is refused, never followed with a password.
pub fn remembered(profile: &str) -> Result<Option<Remembered>> {
    let Some(v) = read_session(profile)? else {
        return Ok(None);
    };
    let (Some(url), Some(base)) = (v["url"].as_str(), v["base"].as_str()) else {
        return Ok(None);
    };
    Ok(Some(Remembered {
        url: url.to_owned(),
        login: v["login"].as_str().map(str::to_owned),
        base: base.to_owned(),
    }))
}

/// The profiles with a cached session, for the message about a profile that
/// does not exist. Best effort: anything unreadable is left out.
pub fn cached_profiles() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(cache_dir()) else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name.starts_with("session-") && name.ends_with(".json")).then_some(())?;
            let text = files::read_private(&e.path()).ok()??;
            let v: Value = serde_json::from_str(&text).ok()?;
            v["profile"].as_str().map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

/// What the session cache of `profile` holds, for `runtel profiles`: the
/// server, the login, and when its token expires.
pub fn session_of(profile: &str) -> Result<Option<(String, Option<String>, SystemTime)>> {
    let Some(v) = read_session(profile)? else {
        return Ok(None);
    };
    let Some(url) = v["url"].as_str() else {
        return Ok(None);
    };
    Ok(Some((
        url.to_owned(),
        v["login"].as_str().map(str::to_owned),
        from_unix(v["expires_at"].as_f64().unwrap_or(0.0)),
    )))
}

/// A cached session as saved, valid or not.
pub struct Cached {
    pub info: AuthInfo,
    pub expires: SystemTime,
}

impl SessionCache {
    pub fn new(settings: &Settings) -> Result<Self> {
        let endpoint = Endpoint::parse(&settings.url)?;
        Ok(SessionCache {
            path: session_path(&settings.profile),
            profile: settings.profile.clone(),
            url: settings.url.clone(),
            login: settings.login.clone(),
            base: endpoint.base().to_owned(),
        })
    }

    /// The session cached for this profile and server, expired or not.
    pub fn peek(&self) -> Result<Option<Cached>> {
        let Some(v) = read_session(&self.profile)? else {
            return Ok(None);
        };
        if v["base"] != self.base.as_str() {
            return Ok(None);
        }
        let Ok(info) = serde_json::from_value::<AuthInfo>(v["auth"].clone()) else {
            return Ok(None);
        };
        let expires = from_unix(v["expires_at"].as_f64().unwrap_or(0.0));
        Ok(Some(Cached { info, expires }))
    }

    /// The cached login for this profile and server, if still valid.
    pub fn load(&self, login: Option<&str>) -> Result<Option<(AuthInfo, SystemTime)>> {
        let Some(Cached { info, expires }) = self.peek()? else {
            return Ok(None);
        };
        if login.is_some_and(|l| !l.eq_ignore_ascii_case(&info.user_login)) {
            return Ok(None);
        }
        // Keep a minute in hand so a call does not start on a token about to die.
        if SystemTime::now() + Duration::from_secs(60) >= expires {
            return Ok(None);
        }
        Ok(Some((info, expires)))
    }

    pub fn save(&self, client: &Client) -> Result<()> {
        let (Some(info), Some(expires)) = (client.auth_info(), client.token_expires_at()) else {
            return Ok(());
        };
        let login = self
            .login
            .clone()
            .unwrap_or_else(|| info.user_login.clone());
        let v = json!({"profile": self.profile, "url": self.url, "login": login,
                       "base": self.base, "expires_at": unix(expires),
                       "auth": info.to_json_with_token()});
        files::write_private(&self.path, v.to_string().as_bytes())
    }

    pub fn remove(&self) -> Result<bool> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Failure::local(format!("{}: {e}", self.path.display()))),
        }
    }
}

/// The login guard of one server, kept in the cache directory and shared by
/// every `runtel` process: the client locks it (an exclusive `flock` on a lock
/// file beside it) from reading the count to saving the outcome of the login, so
/// processes started together take turns instead of all sending a login.
///
/// The file is keyed by the server's normalised identity (scheme, address, port),
/// not by the URL's spelling: `localhost` and `127.0.0.1` are one server.
pub struct PersistentGuard {
    path: PathBuf,
    lock_path: PathBuf,
    server: String,
}

/// The saved state of a login guard, for `runtel status`.
pub struct GuardState {
    pub failures: u32,
    pub locked_until: Option<SystemTime>,
    /// The file could not be read: logins are refused as if locked.
    pub damaged: bool,
}

impl PersistentGuard {
    pub fn load(settings: &Settings) -> Result<Self> {
        let endpoint = Endpoint::parse(&settings.url)?;
        let server = runtel_client::server_identity(&endpoint, Duration::from_secs(5));
        let name = format!("guard-{}", server_key(&server.to_string()));
        Ok(PersistentGuard {
            path: cache_dir().join(format!("{name}.json")),
            lock_path: cache_dir().join(format!("{name}.lock")),
            server: server.to_string(),
        })
    }

    /// The server the count is kept for: scheme, address and port.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The saved state, read without the lock: files are replaced whole (by
    /// rename), so a reader sees the state before or after a login, never half.
    pub fn state(&self) -> GuardState {
        let (failures, locked_until) = self.read_state();
        GuardState {
            failures,
            locked_until,
            damaged: failures == u32::MAX,
        }
    }

    /// Forgets the count and any lock-out, under the lock logins take, so it
    /// cannot interleave with a login of another process: one in progress
    /// finishes first (waiting at most `wait`). Returns the state it cleared.
    pub fn reset(&self, wait: Duration) -> Result<GuardState> {
        let held = self.lock(wait)?;
        let before = GuardState {
            failures: held.failures(),
            locked_until: held.locked_until(),
            damaged: held.failures() == u32::MAX,
        };
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Failure::local(format!("{}: {e}", self.path.display()))),
        }
        drop(held);
        Ok(before)
    }

    fn read_state(&self) -> (u32, Option<SystemTime>) {
        match files::read_private(&self.path) {
            Ok(Some(text)) => match serde_json::from_str::<Value>(&text) {
                Ok(v) => (
                    v["failures"].as_u64().unwrap_or(0) as u32,
                    v["locked_until"].as_f64().map(from_unix),
                ),
                // A damaged file must not lift the guard: assume the worst.
                Err(_) => (u32::MAX, None),
            },
            Ok(None) => (0, None),
            Err(_) => (u32::MAX, None),
        }
    }
}

struct LockedFile<'a> {
    guard: &'a PersistentGuard,
    // Holding the open file holds the lock; dropping it releases the lock.
    _lock: std::fs::File,
    failures: u32,
    locked_until: Option<SystemTime>,
}

impl GuardStore for PersistentGuard {
    fn lock(&self, wait: Duration) -> std::result::Result<Box<dyn LockedGuardState + '_>, Error> {
        let local = |what: &str, e: &dyn std::fmt::Display| {
            Error::InvalidInput(format!("{what} {}: {e}", self.lock_path.display()))
        };
        if let Some(dir) = self.lock_path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| local("cannot create the directory of", &e))?;
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            // A planted symlink must not redirect the lock file.
            .custom_flags(libc::O_NOFOLLOW)
            .open(&self.lock_path)
            .map_err(|e| local("cannot open the login guard lock", &e))?;
        // The umask must not make the lock file unwritable for the next process.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| local("cannot set the mode of", &e))?;
        let deadline = std::time::Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(Error::Timeout(format!(
                        "another runtel process is logging in to this server; waited {:.0}s for it",
                        wait.as_secs_f64()
                    )))
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(local("cannot lock", &e));
                }
            }
        }
        let (failures, locked_until) = self.read_state();
        Ok(Box::new(LockedFile {
            guard: self,
            _lock: file,
            failures,
            locked_until,
        }))
    }
}

impl LockedGuardState for LockedFile<'_> {
    fn failures(&self) -> u32 {
        self.failures
    }

    fn locked_until(&self) -> Option<SystemTime> {
        self.locked_until
    }

    fn save(
        &mut self,
        failures: u32,
        locked_until: Option<SystemTime>,
    ) -> std::result::Result<(), Error> {
        let v = json!({"failures": failures, "locked_until": locked_until.map(unix)});
        files::write_private(&self.guard.path, v.to_string().as_bytes())
            .map_err(|e| Error::InvalidInput(format!("saving the login guard: {}", e.line())))
    }
}
