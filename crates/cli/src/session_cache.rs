//! The token cache and the login guard, kept in the cache directory across
//! invocations so a shell loop neither logs in every time nor gets its host
//! blocked by the server's Defender.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use runtel_client::{AuthInfo, Client, Endpoint, LoginGuard};
use serde_json::{json, Value};

use crate::failure::{Failure, Result};
use crate::files;
use crate::settings::{cache_dir, Settings};

fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn from_unix(s: f64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs_f64(s.max(0.0))
}

/// A file-system-safe name for a server.
fn server_key(base: &str) -> String {
    base.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

pub struct SessionCache {
    path: PathBuf,
    base: String,
}

impl SessionCache {
    pub fn new(settings: &Settings) -> Result<Self> {
        let endpoint = Endpoint::parse(&settings.url)?;
        let name = format!("session-{}.json", server_key(&settings.profile));
        Ok(SessionCache {
            path: cache_dir().join(name),
            base: endpoint.base().to_owned(),
        })
    }

    /// The cached login for this profile and server, if still valid.
    pub fn load(&self, login: Option<&str>) -> Result<Option<(AuthInfo, SystemTime)>> {
        let Some(text) = files::read_private(&self.path)? else {
            return Ok(None);
        };
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            return Ok(None); // a damaged cache is just a cache miss
        };
        if v["base"] != self.base.as_str() {
            return Ok(None);
        }
        let Ok(info) = serde_json::from_value::<AuthInfo>(v["auth"].clone()) else {
            return Ok(None);
        };
        if login.is_some_and(|l| !l.eq_ignore_ascii_case(&info.user_login)) {
            return Ok(None);
        }
        let expires = from_unix(v["expires_at"].as_f64().unwrap_or(0.0));
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
        let v = json!({"base": self.base, "expires_at": unix(expires), "auth": info.to_json_with_token()});
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

/// The login guard of one server, loaded from and saved to the cache directory.
pub struct PersistentGuard {
    path: PathBuf,
    pub guard: Arc<Mutex<LoginGuard>>,
}

impl PersistentGuard {
    pub fn load(settings: &Settings) -> Result<Self> {
        let endpoint = Endpoint::parse(&settings.url)?;
        let path = cache_dir().join(format!("guard-{}.json", server_key(endpoint.base())));
        let mut guard = LoginGuard::default();
        if let Some(text) = files::read_private(&path)? {
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                guard = LoginGuard::restore(
                    LoginGuard::DEFAULT_MAX_FAILURES,
                    LoginGuard::DEFAULT_COOLDOWN,
                    v["failures"].as_u64().unwrap_or(0) as u32,
                    v["locked_until"].as_f64().map(from_unix),
                );
            }
        }
        Ok(PersistentGuard {
            path,
            guard: Arc::new(Mutex::new(guard)),
        })
    }

    pub fn save(&self) -> Result<()> {
        let g = self.guard.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let v = json!({"failures": g.failures(), "locked_until": g.locked_until().map(unix)});
        files::write_private(&self.path, v.to_string().as_bytes())
    }
}
