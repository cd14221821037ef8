//! Building a client from the settings, the token cache and the persistent guard.

use std::sync::Arc;

use runtel_client::{Client, ClientBuilder};

use crate::failure::Result;
use crate::session_cache::{PersistentGuard, SessionCache};
use crate::settings::Settings;
use crate::terminal;

/// `builder` showing each exchange under `--debug-http`.
fn observed(builder: ClientBuilder) -> ClientBuilder {
    match crate::diag::exchange_observer() {
        Some(show) => builder.on_exchange(show),
        None => builder,
    }
}

/// A client ready for one invocation, and what must be saved when it ends.
pub struct Connection {
    pub client: Client,
    cache: SessionCache,
    generation: u64,
    logout_on_drop: bool,
}

impl Connection {
    /// Uses the cached token when valid (no password needed); otherwise logs in
    /// lazily with the password from stdin, the environment, the profile or a prompt.
    pub fn open(settings: &mut Settings) -> Result<Connection> {
        let guard = PersistentGuard::load(settings)?;
        let cache = SessionCache::new(settings)?;
        let cached = cache.load(settings.login.as_deref())?;
        let options = match (&cached, settings.login.clone()) {
            // A valid cached token needs no password; take one only if it costs no prompt,
            // so an expired or revoked token can be renewed.
            (Some(_), Some(login)) if settings.has_password_without_prompt() => {
                let password = settings.password()?;
                settings.options_with_credentials(&login, password)
            }
            (Some(_), _) => settings.options.clone(),
            (None, _) => {
                let login = settings.require_login()?;
                let password = settings.password()?;
                settings.options_with_credentials(&login, password)
            }
        };
        let client = observed(Client::builder(&settings.url).options(options))
            .guard_store(Arc::new(guard))
            .build()?;
        if let Some((info, expires)) = cached {
            crate::diag::add_secret(info.token.expose());
            client.restore_session(info, expires);
        }
        let generation = client.session_generation();
        Ok(Connection {
            client,
            cache,
            generation,
            logout_on_drop: settings.options.logout_on_drop,
        })
    }

    /// A client with these credentials, for `runtel login` (never the cache).
    pub fn for_login(settings: &Settings) -> Result<Connection> {
        let guard = PersistentGuard::load(settings)?;
        let cache = SessionCache::new(settings)?;
        let client = observed(settings.builder())
            .guard_store(Arc::new(guard))
            .build()?;
        let generation = client.session_generation();
        Ok(Connection {
            client,
            cache,
            generation,
            logout_on_drop: settings.options.logout_on_drop,
        })
    }

    /// Shows the notices of a login this invocation made, and saves its token.
    /// The guard's count is saved by the client as each login ends.
    ///
    /// With `logout_on_drop = true` the client ends the session when the command
    /// does, so there is nothing to keep: the cached session (restored or not) is
    /// removed instead of saved.
    pub fn finish(&self) -> Result<()> {
        let logged_in = self.client.session_generation() != self.generation;
        if logged_in {
            if let Some(info) = self.client.auth_info() {
                crate::diag::add_secret(info.token.expose());
                terminal::notices(&info.notifies);
            }
        }
        if self.logout_on_drop {
            self.cache.remove()?;
        } else if logged_in {
            self.cache.save(&self.client)?;
        }
        Ok(())
    }
}
