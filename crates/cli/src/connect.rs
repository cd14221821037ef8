//! Building a client from the settings, the token cache and the persistent guard.

use std::sync::Arc;

use runtel_client::Client;

use crate::failure::Result;
use crate::session_cache::{PersistentGuard, SessionCache};
use crate::settings::Settings;

/// A client ready for one invocation, and what must be saved when it ends.
pub struct Connection {
    pub client: Client,
    cache: SessionCache,
    generation: u64,
}

impl Connection {
    /// Uses the cached token when valid (no password needed); otherwise logs in
    /// lazily with the password from stdin, the environment, the profile or a prompt.
    pub fn open(settings: &mut Settings) -> Result<Connection> {
        let guard = PersistentGuard::load(settings)?;
        let cache = SessionCache::new(settings)?;
        let mut builder = settings.builder()?.guard_store(Arc::new(guard));
        let cached = cache.load(settings.login.as_deref())?;
        match (&cached, settings.login.clone()) {
            // A valid cached token needs no password; take one only if it costs no prompt,
            // so an expired or revoked token can be renewed.
            (Some(_), Some(login)) if settings.has_password_without_prompt() => {
                builder = builder.credentials(&login, settings.password()?);
            }
            (Some(_), _) => {}
            (None, _) => {
                let login = settings.require_login()?;
                builder = builder.credentials(&login, settings.password()?);
            }
        }
        let client = builder.build()?;
        if let Some((info, expires)) = cached {
            client.restore_session(info, expires);
        }
        let generation = client.session_generation();
        Ok(Connection {
            client,
            cache,
            generation,
        })
    }

    /// A client with these credentials, for `runtel login` (never the cache).
    pub fn for_login(settings: &Settings) -> Result<Connection> {
        let guard = PersistentGuard::load(settings)?;
        let cache = SessionCache::new(settings)?;
        let client = settings.builder()?.guard_store(Arc::new(guard)).build()?;
        let generation = client.session_generation();
        Ok(Connection {
            client,
            cache,
            generation,
        })
    }

    /// Saves a new token (if this invocation logged in). The guard's count is
    /// saved by the client as each login ends.
    pub fn finish(&self) -> Result<()> {
        if self.client.session_generation() != self.generation {
            self.cache.save(&self.client)?;
        }
        Ok(())
    }
}
