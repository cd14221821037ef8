//! `ClientOptions`: every setting of a client, its default and its meaning, in
//! one place. The Rust builder, the C option setters, the Python keyword
//! arguments and the CLI's profile keys all fill this one struct, so a setting
//! added here is reachable everywhere (each front end has a test that walks
//! [`ClientOptions::NAMES`]).

use std::path::PathBuf;
use std::time::Duration;

use runtel_protocol::{duration_from_secs, edit_distance, Error, LoginGuard, RetryPolicy, Secret};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Every setting of a client. Durations are seconds (fractions allowed) when
/// read from or written as JSON, TOML or Python keywords.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientOptions {
    /// Overall time for one HTTP exchange, connect to last body byte (30 s).
    #[serde(with = "seconds")]
    pub timeout: Duration,
    /// Time to establish a connection (10 s; never more than `timeout`).
    #[serde(with = "seconds")]
    pub connect_timeout: Duration,
    /// Trust the certificates in this PEM file (a private CA, or the PBX's
    /// self-signed certificate) instead of the public web roots (none).
    #[serde(with = "lossy_path")]
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate. Dangerous: anyone on the path can read the
    /// password and token (false).
    pub accept_invalid_certs: bool,
    /// Send through this HTTP proxy, `http://host:port` (SOCKS is refused)
    /// (none: no proxy, whatever the environment says).
    pub proxy: Option<String>,
    /// Use the proxy named by `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` when `proxy`
    /// is not set (false).
    pub proxy_from_env: bool,
    /// The `User-Agent` header (`runtel/VERSION`).
    pub user_agent: Option<String>,
    /// The largest answer accepted, in bytes after decompression (64 MiB).
    pub max_response_bytes: usize,
    /// The login for lazy logins and renewals (none: call `login` yourself).
    pub login: Option<String>,
    /// The password that goes with `login`. Shown as `***` when serialized.
    pub password: Option<Secret>,
    /// Failed logins in a row for a server before logins are refused locally (3).
    pub max_auth_failures: u32,
    /// How long logins stay refused after that (900 s).
    #[serde(with = "seconds")]
    pub auth_lockout_cooldown: Duration,
    /// Retries of `list`, `list_with_detail` and `get` after a connection
    /// failure or a 502/503/504 (2; 0 turns retries off). Writes never retry.
    pub max_retries: u32,
    /// Delay before the first retry, doubled for each further one, jittered (0.2 s).
    #[serde(with = "seconds")]
    pub retry_base_delay: Duration,
    /// The longest single retry delay (2 s).
    #[serde(with = "seconds")]
    pub retry_max_delay: Duration,
    /// Log in again this long before the token expires; at most a quarter of
    /// the token's lifetime (60 s).
    #[serde(with = "seconds")]
    pub relogin_margin: Duration,
    /// Log out when the client is dropped or closed (true).
    pub logout_on_drop: bool,
    /// Close idle keep-alive connections older than this (30 s).
    #[serde(with = "seconds")]
    pub max_idle_age: Duration,
    /// Warn once before a password goes over plain `http://` to a host that is
    /// not this machine (true).
    pub warn_plain_http: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        let retry = RetryPolicy::default();
        ClientOptions {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            ca_file: None,
            accept_invalid_certs: false,
            proxy: None,
            proxy_from_env: false,
            user_agent: None,
            max_response_bytes: runtel_protocol::Limits::default().max_body_bytes,
            login: None,
            password: None,
            max_auth_failures: LoginGuard::DEFAULT_MAX_FAILURES,
            auth_lockout_cooldown: LoginGuard::DEFAULT_COOLDOWN,
            max_retries: retry.max_retries,
            retry_base_delay: retry.base_delay,
            retry_max_delay: retry.max_delay,
            relogin_margin: Duration::from_secs(60),
            logout_on_drop: true,
            max_idle_age: Duration::from_secs(30),
            warn_plain_http: true,
        }
    }
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Serialized form: durations in seconds, the password masked.
        write!(f, "ClientOptions({})", self.to_json())
    }
}

/// SOCKS proxies need a connector this build does not have: refused, so that a
/// request never leaves by another way than the one asked for.
pub(crate) fn refuse_socks(proxy: &ureq::Proxy, named: &str) -> Result<(), Error> {
    use ureq::ProxyProtocol as P;
    if matches!(
        proxy.protocol(),
        P::Socks4 | P::Socks4A | P::Socks5 | P::Socks5h
    ) {
        return Err(Error::InvalidInput(format!(
            "{named}: SOCKS proxies are not supported by this build; use an HTTP proxy \
             (http://host:port)"
        )));
    }
    Ok(())
}

/// The proxy `url` names, or the error the caller sees (`proxy URL: ...`).
pub(crate) fn parse_proxy(url: &str) -> Result<ureq::Proxy, Error> {
    let proxy =
        ureq::Proxy::new(url).map_err(|e| Error::InvalidInput(format!("proxy URL: {e}")))?;
    refuse_socks(&proxy, "proxy")?;
    Ok(proxy)
}

impl ClientOptions {
    /// The PEM of the roots to trust instead of the public web roots: `pem`
    /// given in memory wins, else the contents of [`ClientOptions::ca_file`],
    /// else `None` (the public roots).
    pub fn roots_pem(&self, pem: Option<&[u8]>) -> Result<Option<Vec<u8>>, Error> {
        match (pem, &self.ca_file) {
            (Some(pem), _) => Ok(Some(pem.to_vec())),
            (None, Some(path)) => std::fs::read(path)
                .map(Some)
                .map_err(|e| Error::InvalidInput(format!("ca_file {}: {e}", path.display()))),
            (None, None) => Ok(None),
        }
    }

    /// Checks the settings every client needs valid (durations in range,
    /// non-zero timeouts and body limit, login and password together and not
    /// empty); each client's `build` calls it.
    pub fn validate(&self) -> Result<(), Error> {
        let o = self;
        for (name, d) in [
            ("timeout", o.timeout),
            ("connect_timeout", o.connect_timeout),
            ("auth_lockout_cooldown", o.auth_lockout_cooldown),
            ("relogin_margin", o.relogin_margin),
            ("max_idle_age", o.max_idle_age),
            ("retry_base_delay", o.retry_base_delay),
            ("retry_max_delay", o.retry_max_delay),
        ] {
            // Durations from other languages arrive as seconds: one bound for all.
            duration_from_secs(name, d.as_secs_f64())?;
        }
        if o.timeout.is_zero() || o.connect_timeout.is_zero() {
            return Err(Error::InvalidInput(
                "timeouts must be greater than zero".into(),
            ));
        }
        if let Some(url) = &o.proxy {
            parse_proxy(url)?;
        }
        if o.max_response_bytes == 0 {
            return Err(Error::InvalidInput(
                "max_response_bytes must be greater than zero".into(),
            ));
        }
        match (&o.login, &o.password) {
            (Some(login), Some(password)) if login.trim().is_empty() || password.is_empty() => {
                return Err(Error::InvalidInput(
                    "login and password must not be empty".into(),
                ))
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(Error::InvalidInput(
                    "login and password go together: give both or neither".into(),
                ))
            }
            _ => {}
        }
        Ok(())
    }

    /// The name of every option, in declaration order: the keys of
    /// [`ClientOptions::to_json`], the Python keyword arguments, the C
    /// `runtel_options_set` names and the CLI's profile keys.
    pub const NAMES: &'static [&'static str] = &[
        "timeout",
        "connect_timeout",
        "ca_file",
        "accept_invalid_certs",
        "proxy",
        "proxy_from_env",
        "user_agent",
        "max_response_bytes",
        "login",
        "password",
        "max_auth_failures",
        "auth_lockout_cooldown",
        "max_retries",
        "retry_base_delay",
        "retry_max_delay",
        "relogin_margin",
        "logout_on_drop",
        "max_idle_age",
        "warn_plain_http",
    ];

    /// The options as JSON, durations in seconds, the password masked.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("options always serialize")
    }

    /// Options from a JSON object of some of them (the rest default). Unknown
    /// names and wrong types are `invalid_input` naming the option (and the
    /// nearest valid name for a typo).
    pub fn from_json(v: &Value) -> Result<ClientOptions, Error> {
        let mut options = ClientOptions::default();
        let Value::Object(map) = v else {
            return Err(Error::InvalidInput("options must be a JSON object".into()));
        };
        for (name, value) in map {
            options.set(name, value.clone())?;
        }
        Ok(options)
    }

    /// Sets one option by name from a JSON value (`null` restores the default).
    pub fn set(&mut self, name: &str, value: Value) -> Result<(), Error> {
        if !Self::NAMES.contains(&name) {
            return Err(Error::InvalidInput(format!(
                "unknown option `{name}`{}",
                nearest(name).map_or(String::new(), |n| format!("; did you mean `{n}`?"))
            )));
        }
        if name == "password" && value.as_str() == Some(runtel_protocol::MASK) {
            // What `to_json` shows is not a password: copying shown options into
            // a new client would send "***" and burn a counted failed login.
            return Err(Error::InvalidInput(
                "option `password`: \"***\" is how a password is shown, not a password; \
                 give the real one"
                    .into(),
            ));
        }
        // Checked alone first, against the defaults, so an error names this
        // option and not another that was set some other way.
        if !value.is_null() {
            let mut probe = ClientOptions::default().to_json_with_secrets();
            probe.insert(name.to_owned(), value.clone());
            serde_json::from_value::<ClientOptions>(Value::Object(probe)).map_err(|e| {
                Error::InvalidInput(format!("option `{name}`: {}", strip_serde_position(&e)))
            })?;
        }
        let mut map = self.to_json_with_secrets();
        if value.is_null() {
            map.remove(name);
            // Only this one goes back to its default.
            let default = ClientOptions::default().to_json_with_secrets();
            if let Some(d) = default.get(name) {
                map.insert(name.to_owned(), d.clone());
            }
        } else {
            map.insert(name.to_owned(), value);
        }
        *self = serde_json::from_value(Value::Object(map)).map_err(|e| {
            Error::InvalidInput(format!(
                "options (another option holds a value out of range): {}",
                strip_serde_position(&e)
            ))
        })?;
        Ok(())
    }

    /// The retry policy these options describe.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_retries: self.max_retries,
            base_delay: self.retry_base_delay,
            max_delay: self.retry_max_delay,
        }
    }

    /// Sets the three retry options from a policy.
    pub fn set_retry_policy(&mut self, policy: RetryPolicy) {
        self.max_retries = policy.max_retries;
        self.retry_base_delay = policy.base_delay;
        self.retry_max_delay = policy.max_delay;
    }

    fn to_json_with_secrets(&self) -> Map<String, Value> {
        let Value::Object(mut map) = self.to_json() else {
            unreachable!("a struct serializes to an object")
        };
        if let Some(p) = &self.password {
            map.insert("password".into(), Value::String(p.expose().to_owned()));
        }
        map
    }
}

/// The option name closest to a misspelt one (at most two edits away).
fn nearest(name: &str) -> Option<&'static str> {
    ClientOptions::NAMES
        .iter()
        .map(|n| (edit_distance(name, n), *n))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, n)| n)
}

fn strip_serde_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    s.split(" at line ").next().unwrap_or(&s).to_owned()
}

/// A path as text: a path that is not UTF-8 is shown with replacement
/// characters rather than making the options unprintable.
mod lossy_path {
    use super::*;

    pub fn serialize<S: serde::Serializer>(p: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
        match p {
            Some(p) => s.serialize_some(&p.to_string_lossy()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<PathBuf>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.map(PathBuf::from))
    }
}

/// Durations as a number of seconds, checked by [`duration_from_secs`].
mod seconds {
    use super::*;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        duration_from_secs("the value", secs).map_err(|e| match e {
            Error::InvalidInput(m) => serde::de::Error::custom(m),
            other => serde::de::Error::custom(other),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_come_from_memory_first_then_the_ca_file() {
        let dir = std::env::temp_dir().join(format!("runtel-roots-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ca.pem");
        std::fs::write(&file, b"FROM FILE").unwrap();
        let mut o = ClientOptions::default();
        assert_eq!(o.roots_pem(None).unwrap(), None);
        o.ca_file = Some(file.clone());
        assert_eq!(
            o.roots_pem(None).unwrap().as_deref(),
            Some(&b"FROM FILE"[..])
        );
        assert_eq!(
            o.roots_pem(Some(b"MEM")).unwrap().as_deref(),
            Some(&b"MEM"[..])
        );
        o.ca_file = Some(dir.join("missing.pem"));
        let e = o.roots_pem(None).unwrap_err();
        assert!(e.to_string().contains("missing.pem"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_are_the_serialized_keys_in_order() {
        let json = ClientOptions::default().to_json();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ClientOptions::NAMES);
    }

    #[test]
    fn every_option_round_trips_by_name() {
        let mut o = ClientOptions::default();
        let samples = serde_json::json!({
            "timeout": 12.5, "connect_timeout": 3, "ca_file": "/etc/ca.pem",
            "accept_invalid_certs": true, "proxy": "http://proxy:3128", "proxy_from_env": true,
            "user_agent": "me/1", "max_response_bytes": 1024, "login": "a@b",
            "password": "pw-xyz", "max_auth_failures": 5, "auth_lockout_cooldown": 60,
            "max_retries": 0, "retry_base_delay": 0.05, "retry_max_delay": 1,
            "relogin_margin": 10, "logout_on_drop": false, "max_idle_age": 5,
            "warn_plain_http": false
        });
        for name in ClientOptions::NAMES {
            let before = o.clone();
            o.set(name, samples[name].clone()).unwrap();
            assert_ne!(o, before, "{name} changed nothing");
        }
        assert_eq!(o.timeout, Duration::from_millis(12_500));
        assert_eq!(o.password.as_ref().unwrap().expose(), "pw-xyz");
        assert_eq!(o.to_json()["password"], "***");
        assert!(!format!("{o:?}").contains("pw-xyz"));
        // null restores one default, the rest stay.
        o.set("timeout", Value::Null).unwrap();
        assert_eq!(o.timeout, Duration::from_secs(30));
        assert_eq!(o.max_retries, 0);
        assert_eq!(o.password.as_ref().unwrap().expose(), "pw-xyz");
    }

    #[test]
    fn typos_and_bad_values_are_named() {
        let mut o = ClientOptions::default();
        let e = o.set("timout", serde_json::json!(5)).unwrap_err();
        assert!(e.to_string().contains("did you mean `timeout`"), "{e}");
        for (name, bad) in [
            ("timeout", serde_json::json!(1e300)),
            ("timeout", serde_json::json!(-1)),
            ("max_retries", serde_json::json!("two")),
            ("login", serde_json::json!(5)),
        ] {
            let e = o.set(name, bad).unwrap_err();
            assert_eq!(e.kind(), runtel_protocol::ErrorKind::InvalidInput);
            assert!(e.to_string().contains(name), "{e}");
        }
        assert_eq!(
            o,
            ClientOptions::default(),
            "a refused value changes nothing"
        );
    }

    #[test]
    fn shown_options_cannot_be_copied_with_the_masked_password() {
        let mut o = ClientOptions::default();
        o.set("password", serde_json::json!("real-pw-123")).unwrap();
        let shown = o.to_json();
        assert_eq!(shown["password"], "***");
        let e = ClientOptions::from_json(&shown).unwrap_err();
        assert!(e.to_string().contains("not a password"), "{e}");
    }

    #[test]
    fn an_out_of_range_option_set_elsewhere_is_not_blamed_on_another() {
        let mut o = ClientOptions {
            // Through a builder method, which takes any Duration.
            timeout: Duration::from_secs(40 * 24 * 3600),
            ..ClientOptions::default()
        };
        let e = o.set("max_retries", serde_json::json!(1)).unwrap_err();
        assert!(!e.to_string().contains("max_retries"), "{e}");
        let e = o
            .set("relogin_margin", serde_json::json!(1e300))
            .unwrap_err();
        assert!(e.to_string().contains("relogin_margin"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn a_ca_file_path_that_is_not_utf8_is_shown_not_a_panic() {
        use std::os::unix::ffi::OsStrExt;
        let o = ClientOptions {
            ca_file: Some(PathBuf::from(std::ffi::OsStr::from_bytes(
                b"/tmp/ca-\xff.pem",
            ))),
            ..ClientOptions::default()
        };
        assert!(format!("{o:?}").contains("ca-"));
    }
}
