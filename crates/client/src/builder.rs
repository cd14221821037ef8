//! `ClientBuilder`: every setting of a client, with safe defaults.

use std::sync::Arc;
use std::time::Duration;

use runtel_protocol::{duration_from_secs, Endpoint, Error, Limits, LoginGuard, Secret};

use crate::client::Client;
use crate::guard::GuardStore;
use crate::transport::{TlsChoice, Transport, TransportSettings};

pub use runtel_protocol::RetryPolicy;

/// Builds a [`Client`]. Every setting has a safe default: finite timeouts, TLS
/// verification on, no proxy unless asked for, a bounded answer size.
#[derive(Clone)]
pub struct ClientBuilder {
    pub(crate) base_url: String,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) tls: TlsChoice,
    pub(crate) proxy: ProxyChoice,
    pub(crate) user_agent: String,
    pub(crate) limits: Limits,
    pub(crate) credentials: Option<(String, Secret)>,
    pub(crate) max_auth_failures: u32,
    pub(crate) lockout_cooldown: Duration,
    pub(crate) guard_store: Option<Arc<dyn GuardStore>>,
    pub(crate) warn_plain_http: bool,
    pub(crate) retry: RetryPolicy,
    pub(crate) relogin_margin: Duration,
    pub(crate) logout_on_drop: bool,
    pub(crate) max_idle_age: Duration,
}

#[derive(Clone)]
pub(crate) enum ProxyChoice {
    None,
    FromEnv,
    Url(String),
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("accept_invalid_certs", &self.tls.accept_invalid_certs)
            .field("login", &self.credentials.as_ref().map(|(l, _)| l))
            .field("password", &self.credentials.as_ref().map(|(_, p)| p))
            .field("max_auth_failures", &self.max_auth_failures)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    pub(crate) fn new(base_url: &str) -> Self {
        ClientBuilder {
            base_url: base_url.to_owned(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            tls: TlsChoice::default(),
            proxy: ProxyChoice::None,
            user_agent: format!("runtel/{}", runtel_protocol::VERSION),
            limits: Limits::default(),
            credentials: None,
            max_auth_failures: LoginGuard::DEFAULT_MAX_FAILURES,
            lockout_cooldown: LoginGuard::DEFAULT_COOLDOWN,
            guard_store: None,
            warn_plain_http: true,
            retry: RetryPolicy::default(),
            relogin_margin: Duration::from_secs(60),
            logout_on_drop: true,
            max_idle_age: Duration::from_secs(30),
        }
    }

    /// Overall time for one HTTP exchange, connect to last body byte (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time to establish a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Trusts the certificates in this PEM (a private CA, or a PBX's self-signed
    /// certificate) **instead of** the public web roots.
    pub fn root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.roots_pem = Some(pem.into());
        self
    }

    /// Accepts any certificate, valid or not. Dangerous: anyone on the path can read
    /// the password and token. Prefer [`ClientBuilder::root_certificates_pem`].
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.tls.accept_invalid_certs = accept;
        self
    }

    /// Sends through this proxy (`http://host:port`, `socks5://host:port`).
    /// Without it, no proxy is used, whatever the environment says.
    pub fn proxy(mut self, url: &str) -> Self {
        self.proxy = ProxyChoice::Url(url.to_owned());
        self
    }

    /// Uses the proxy named by `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`, if any.
    pub fn proxy_from_env(mut self) -> Self {
        self.proxy = ProxyChoice::FromEnv;
        self
    }

    /// The `User-Agent` header (default `runtel/VERSION`).
    pub fn user_agent(mut self, ua: &str) -> Self {
        self.user_agent = ua.to_owned();
        self
    }

    /// The largest answer body accepted, in bytes, counted after decompression
    /// (default 64 MiB, room for a 100,000-record page). A compressed answer is
    /// also refused when it inflates beyond 100 times its size on the wire.
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_body_bytes = bytes;
        self
    }

    /// Stores credentials: the client logs in lazily on the first call, and again
    /// when the token expires or is rejected.
    pub fn credentials(mut self, login: &str, password: impl Into<Secret>) -> Self {
        self.credentials = Some((login.to_owned(), password.into()));
        self
    }

    /// Consecutive refused logins for this server before logins are refused locally
    /// (default 3; 0 is taken as 1).
    pub fn max_auth_failures(mut self, n: u32) -> Self {
        self.max_auth_failures = n;
        self
    }

    /// How long logins stay refused locally after `max_auth_failures` (default 15 min).
    pub fn auth_lockout_cooldown(mut self, cooldown: Duration) -> Self {
        self.lockout_cooldown = cooldown;
        self
    }

    /// Also keeps the login guard's count in `store`, shared with other processes
    /// (the CLI keeps it in its cache directory with a file lock, so a shell loop
    /// or `xargs -P` cannot get around it). The process-wide guard still applies.
    pub fn guard_store(mut self, store: Arc<dyn GuardStore>) -> Self {
        self.guard_store = Some(store);
        self
    }

    /// Warn (through the `log` facade, once per client) before sending the
    /// password over plain `http://` to a host that is not this machine
    /// (default true).
    pub fn warn_plain_http(mut self, warn: bool) -> Self {
        self.warn_plain_http = warn;
        self
    }

    /// Retry policy for idempotent calls; [`RetryPolicy::NONE`] turns retries off.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Log in again this long before the token expires (default 60 s).
    pub fn relogin_margin(mut self, margin: Duration) -> Self {
        self.relogin_margin = margin;
        self
    }

    /// Log out when the last handle of the client is dropped (default true).
    pub fn logout_on_drop(mut self, logout: bool) -> Self {
        self.logout_on_drop = logout;
        self
    }

    /// Close idle keep-alive connections older than this (default 30 s).
    pub fn max_idle_age(mut self, age: Duration) -> Self {
        self.max_idle_age = age;
        self
    }

    /// Validates the settings and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let endpoint = Endpoint::parse(&self.base_url)?;
        for (name, d) in [
            ("timeout", self.timeout),
            ("connect_timeout", self.connect_timeout),
            ("auth_lockout_cooldown", self.lockout_cooldown),
            ("relogin_margin", self.relogin_margin),
            ("max_idle_age", self.max_idle_age),
            ("retry base_delay", self.retry.base_delay),
            ("retry max_delay", self.retry.max_delay),
        ] {
            // Durations from other languages arrive as seconds: one bound for all.
            duration_from_secs(name, d.as_secs_f64())?;
        }
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::InvalidInput(
                "timeouts must be greater than zero".into(),
            ));
        }
        if self.limits.max_body_bytes == 0 {
            return Err(Error::InvalidInput(
                "max_response_bytes must be greater than zero".into(),
            ));
        }
        if let Some((login, password)) = &self.credentials {
            if login.trim().is_empty() || password.is_empty() {
                return Err(Error::InvalidInput(
                    "login and password must not be empty".into(),
                ));
            }
        }
        let proxy = match &self.proxy {
            ProxyChoice::None => None,
            ProxyChoice::FromEnv => ureq::Proxy::try_from_env(),
            ProxyChoice::Url(u) => Some(
                ureq::Proxy::new(u).map_err(|e| Error::InvalidInput(format!("proxy URL: {e}")))?,
            ),
        };
        let settings = TransportSettings {
            timeout: self.timeout,
            connect_timeout: self.connect_timeout.min(self.timeout),
            tls: self.tls.clone(),
            proxy,
            user_agent: self.user_agent.clone(),
            max_body_bytes: self.limits.max_body_bytes,
            max_idle_age: self.max_idle_age,
        };
        let transport = Transport::new(settings.clone())?;
        Ok(Client::from_parts(self, endpoint, transport, settings))
    }
}
