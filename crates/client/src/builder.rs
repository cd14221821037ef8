//! `ClientBuilder`: a fluent way to fill [`ClientOptions`], plus the two settings
//! only Rust programs can give (a PEM in memory, a [`GuardStore`]).

use std::sync::Arc;
use std::time::Duration;

use runtel_protocol::{Endpoint, Error, Limits, Secret};

use crate::client::Client;
use crate::exchange::{Exchange, ExchangeObserver};
use crate::guard::GuardStore;
use crate::options::{parse_proxy, refuse_socks, ClientOptions};
use crate::transport::{TlsChoice, Transport, TransportSettings};

pub use runtel_protocol::RetryPolicy;

/// Builds a [`Client`]. Every setting has a safe default (see [`ClientOptions`]):
/// finite timeouts, TLS verification on, no proxy unless asked for, a bounded
/// answer size.
#[derive(Clone)]
pub struct ClientBuilder {
    pub(crate) base_url: String,
    pub(crate) options: ClientOptions,
    roots_pem: Option<Vec<u8>>,
    pub(crate) guard_store: Option<Arc<dyn GuardStore>>,
    pub(crate) on_exchange: Option<ExchangeObserver>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("options", &self.options)
            .field("roots_pem", &self.roots_pem.as_ref().map(Vec::len))
            .field("guard_store", &self.guard_store.is_some())
            .field("on_exchange", &self.on_exchange.is_some())
            .finish()
    }
}

impl ClientBuilder {
    pub(crate) fn new(base_url: &str) -> Self {
        ClientBuilder {
            base_url: base_url.to_owned(),
            options: ClientOptions::default(),
            roots_pem: None,
            guard_store: None,
            on_exchange: None,
        }
    }

    /// Calls `observer` after each HTTP exchange (logins, calls, retries, pages,
    /// logouts), on the thread that made it; see [`Exchange::describe`] for a
    /// masked rendering. For diagnostics: keep it quick, it runs inside the call.
    pub fn on_exchange(mut self, observer: impl Fn(&Exchange<'_>) + Send + Sync + 'static) -> Self {
        self.on_exchange = Some(Arc::new(observer));
        self
    }

    /// Replaces every setting with these options.
    pub fn options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// Overall time for one HTTP exchange, connect to last body byte (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = timeout;
        self
    }

    /// Time to establish a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.options.connect_timeout = timeout;
        self
    }

    /// Trusts the certificates in this PEM (a private CA, or a PBX's self-signed
    /// certificate) **instead of** the public web roots. Takes precedence over
    /// [`ClientOptions::ca_file`].
    pub fn root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.roots_pem = Some(pem.into());
        self
    }

    /// Accepts any certificate, valid or not. Dangerous: anyone on the path can read
    /// the password and token. Prefer [`ClientBuilder::root_certificates_pem`].
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.options.accept_invalid_certs = accept;
        self
    }

    /// Sends through this HTTP proxy (`http://host:port`; a SOCKS proxy is
    /// refused with `invalid_input`: this build has no SOCKS support).
    /// Without it, no proxy is used, whatever the environment says.
    pub fn proxy(mut self, url: &str) -> Self {
        self.options.proxy = Some(url.to_owned());
        self
    }

    /// Uses the proxy named by `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`, if any.
    pub fn proxy_from_env(mut self) -> Self {
        self.options.proxy_from_env = true;
        self
    }

    /// The `User-Agent` header (default `runtel/VERSION`).
    pub fn user_agent(mut self, ua: &str) -> Self {
        self.options.user_agent = Some(ua.to_owned());
        self
    }

    /// The largest answer body accepted, in bytes, counted after decompression
    /// (default 64 MiB, room for a 100,000-record page). A compressed answer is
    /// also refused when it inflates beyond 100 times its size on the wire.
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.options.max_response_bytes = bytes;
        self
    }

    /// Stores credentials: the client logs in lazily on the first call, and again
    /// when the token expires or is rejected.
    pub fn credentials(mut self, login: &str, password: impl Into<Secret>) -> Self {
        self.options.login = Some(login.to_owned());
        self.options.password = Some(password.into());
        self
    }

    /// Consecutive failed logins for this server before logins are refused
    /// locally (default 3; 0 is taken as 1).
    pub fn max_auth_failures(mut self, n: u32) -> Self {
        self.options.max_auth_failures = n;
        self
    }

    /// How long logins stay refused locally after `max_auth_failures` (default 15 min).
    pub fn auth_lockout_cooldown(mut self, cooldown: Duration) -> Self {
        self.options.auth_lockout_cooldown = cooldown;
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
        self.options.warn_plain_http = warn;
        self
    }

    /// Retry policy for idempotent calls; [`RetryPolicy::NONE`] turns retries off.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.options.set_retry_policy(policy);
        self
    }

    /// Log in again this long before the token expires (default 60 s, at most a
    /// quarter of the token's lifetime).
    pub fn relogin_margin(mut self, margin: Duration) -> Self {
        self.options.relogin_margin = margin;
        self
    }

    /// Log out when the last handle of the client is dropped (default true).
    pub fn logout_on_drop(mut self, logout: bool) -> Self {
        self.options.logout_on_drop = logout;
        self
    }

    /// Close idle keep-alive connections older than this (default 30 s).
    pub fn max_idle_age(mut self, age: Duration) -> Self {
        self.options.max_idle_age = age;
        self
    }

    /// Validates the settings and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let endpoint = Endpoint::parse(&self.base_url)?;
        let o = &self.options;
        o.validate()?;
        let roots_pem = o.roots_pem(self.roots_pem.as_deref())?;
        let proxy = match (&o.proxy, o.proxy_from_env) {
            (Some(u), _) => Some(parse_proxy(u)?),
            (None, true) => match ureq::Proxy::try_from_env() {
                Some(p) => {
                    refuse_socks(
                        &p,
                        "the environment's proxy (ALL_PROXY, HTTPS_PROXY or HTTP_PROXY)",
                    )?;
                    Some(p)
                }
                None => None,
            },
            (None, false) => None,
        };
        let settings = TransportSettings {
            timeout: o.timeout,
            connect_timeout: o.connect_timeout.min(o.timeout),
            tls: TlsChoice {
                roots_pem,
                accept_invalid_certs: o.accept_invalid_certs,
            },
            proxy,
            user_agent: o
                .user_agent
                .clone()
                .unwrap_or_else(|| format!("runtel/{}", runtel_protocol::VERSION)),
            max_body_bytes: o.max_response_bytes,
            max_idle_age: o.max_idle_age,
        };
        let transport = Transport::new(settings.clone())?;
        Ok(Client::from_parts(self, endpoint, transport, settings))
    }

    pub(crate) fn limits(&self) -> Limits {
        Limits {
            max_body_bytes: self.options.max_response_bytes,
            ..Limits::default()
        }
    }
}
