//! Where the connection settings come from: flags, then the environment, then a
//! named profile in the config file (`~/.config/runtel/config.toml`).
//!
//! ```toml
//! [profiles.default]
//! url = "https://pbx.example"
//! login = "admin@pbx.example"
//! # password = "..."   # allowed only when the file is mode 0600
//! ca_file = "/etc/ssl/pbx-ca.pem"
//! timeout = 30                  # seconds, more than 0 and at most 30 days
//! # allow_plain_http = true     # no warning for http:// to another machine
//! ```

use std::io::{IsTerminal, Read};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use runtel_client::{ClientBuilder, Endpoint, Secret};

use crate::failure::{Failure, Result};
use crate::files;
use crate::terminal;

/// Connection flags shared by every subcommand that talks to a server.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ConnectionArgs {
    /// Profile in the config file [env: RUNTEL_PROFILE] [default: default]
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// Base URL of the PBX web cabinet, e.g. https://pbx.example [env: RUNTEL_URL]
    #[arg(long, global = true)]
    pub url: Option<String>,
    /// Login (cabinet e-mail) [env: RUNTEL_LOGIN]
    #[arg(long, global = true)]
    pub login: Option<String>,
    /// Read the password from the first line of standard input (else RUNTEL_PASSWORD,
    /// the profile, or a prompt without echo). Never pass it as a flag.
    #[arg(long, global = true)]
    pub password_stdin: bool,
    /// Trust this CA certificate (PEM) instead of the public roots.
    #[arg(long, global = true)]
    pub ca_file: Option<PathBuf>,
    /// Accept invalid TLS certificates (dangerous).
    #[arg(long, global = true)]
    pub insecure: bool,
    /// Timeout of one request in seconds, more than 0 and at most 30 days [default: 30]
    // Negative numbers reach the range check (exit code 3) instead of reading as a flag.
    #[arg(long, global = true, allow_negative_numbers = true)]
    pub timeout: Option<f64>,
}

/// The settings in force, after precedence.
#[derive(Debug, Clone)]
pub struct Settings {
    pub profile: String,
    pub url: String,
    pub login: Option<String>,
    password: Option<Secret>,
    password_stdin: bool,
    pub ca_file: Option<PathBuf>,
    pub insecure: bool,
    pub timeout: Duration,
    /// Plain `http://` to another machine is meant: no warning.
    pub allow_plain_http: bool,
}

#[derive(Default)]
struct Profile {
    url: Option<String>,
    login: Option<String>,
    password: Option<String>,
    ca_file: Option<PathBuf>,
    insecure: Option<bool>,
    timeout: Option<f64>,
    allow_plain_http: Option<bool>,
}

/// The config file: `RUNTEL_CONFIG`, else `$XDG_CONFIG_HOME/runtel/config.toml`.
pub fn config_path() -> PathBuf {
    if let Some(p) = std::env::var_os("RUNTEL_CONFIG") {
        return PathBuf::from(p);
    }
    base_dir("XDG_CONFIG_HOME", ".config").join("runtel/config.toml")
}

/// The directory of cached tokens and login counts: `RUNTEL_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/runtel`. It must be the user's own and closed to others; see
/// [`files::private_dir`].
pub fn cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("RUNTEL_CACHE_DIR") {
        return PathBuf::from(p);
    }
    base_dir("XDG_CACHE_HOME", ".cache").join("runtel")
}

fn base_dir(xdg: &str, fallback: &str) -> PathBuf {
    match std::env::var_os(xdg) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| ".".into())).join(fallback),
    }
}

fn load_profile(name: &str) -> Result<Profile> {
    let path = config_path();
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(Profile::default());
    };
    let doc: toml::Table = text
        .parse()
        .map_err(|e| Failure::local(format!("{}: {e}", path.display())))?;
    let Some(p) = doc.get("profiles").and_then(|p| p.get(name)) else {
        return Ok(Profile::default());
    };
    let text_of = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let password = text_of("password");
    if password.is_some() {
        files::check_private(&path)?;
    }
    let bad = |key: &str, what: &str| {
        Failure::local(format!(
            "{key} in profile {name:?} of {} must be {what}",
            path.display()
        ))
    };
    let bool_of = |k: &str| match p.get(k) {
        None => Ok(None),
        Some(v) => v.as_bool().map(Some).ok_or_else(|| bad(k, "true or false")),
    };
    Ok(Profile {
        url: text_of("url"),
        login: text_of("login"),
        password,
        ca_file: text_of("ca_file").map(PathBuf::from),
        insecure: p.get("insecure").and_then(|v| v.as_bool()),
        timeout: match p.get("timeout") {
            None => None,
            Some(v) => Some(
                v.as_float()
                    .or_else(|| v.as_integer().map(|i| i as f64))
                    .ok_or_else(|| bad("timeout", "a number of seconds"))?,
            ),
        },
        allow_plain_http: bool_of("allow_plain_http")?,
    })
}

/// A timeout from a flag or setting `name`: more than zero, at most 30 days
/// (anything else is `invalid_input`, never a panic).
fn positive_duration(name: &str, secs: f64) -> Result<Duration> {
    let d = runtel_client::duration_from_secs(name, secs)?;
    if d.is_zero() {
        return Err(Failure::Sdk(runtel_client::Error::InvalidInput(format!(
            "{name} must be more than 0 seconds, got {secs}"
        ))));
    }
    Ok(d)
}

/// A yes/no environment variable.
fn flag_value(name: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(Failure::Sdk(runtel_client::Error::InvalidInput(format!(
            "{name} must be 1 or 0, got {:?}",
            terminal::inert(v)
        )))),
    }
}

/// The host of a validated base URL (`http://host:port/prefix`), without port or
/// IPv6 brackets.
fn host_of(base: &str) -> &str {
    let rest = base.split_once("://").map_or(base, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    authority
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(authority, |(host, _)| host)
}

/// True for hosts that are this machine: `localhost`, 127.0.0.0/8 and ::1.
fn is_loopback_host(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => a.is_loopback(),
        Ok(IpAddr::V6(a)) => a.is_loopback() || a.to_ipv4_mapped().is_some_and(|m| m.is_loopback()),
        Err(_) => false,
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Settings {
    pub fn resolve(args: &ConnectionArgs) -> Result<Settings> {
        let profile_name = args
            .profile
            .clone()
            .or_else(|| env("RUNTEL_PROFILE"))
            .unwrap_or_else(|| "default".into());
        let profile = load_profile(&profile_name)?;
        let url = args
            .url
            .clone()
            .or_else(|| env("RUNTEL_URL"))
            .or(profile.url)
            .ok_or_else(|| {
                Failure::Sdk(runtel_client::Error::InvalidInput(format!(
                    "no server URL: pass --url, set RUNTEL_URL, or add url to profile {profile_name:?} in {}",
                    config_path().display()
                )))
            })?;
        let timeout = match (args.timeout, profile.timeout) {
            (Some(secs), _) => positive_duration("--timeout", secs)?,
            (None, Some(secs)) => {
                positive_duration(&format!("timeout in profile {profile_name:?}"), secs)?
            }
            (None, None) => Duration::from_secs(30),
        };
        let allow_plain_http = match env("RUNTEL_ALLOW_PLAIN_HTTP") {
            Some(v) => flag_value("RUNTEL_ALLOW_PLAIN_HTTP", &v)?,
            None => profile.allow_plain_http.unwrap_or(false),
        };
        Ok(Settings {
            profile: profile_name,
            url,
            login: args
                .login
                .clone()
                .or_else(|| env("RUNTEL_LOGIN"))
                .or(profile.login),
            password: env("RUNTEL_PASSWORD").or(profile.password).map(Secret::new),
            password_stdin: args.password_stdin,
            ca_file: args.ca_file.clone().or(profile.ca_file),
            insecure: args.insecure || profile.insecure.unwrap_or(false),
            timeout,
            allow_plain_http,
        })
    }

    /// Warns on stderr, before anything is sent, when the password and token would
    /// cross the network unencrypted: an `http://` URL whose host is not this
    /// machine. Silenced by `allow_plain_http` or `RUNTEL_ALLOW_PLAIN_HTTP=1`.
    pub fn warn_if_plain_http(&self) {
        if self.allow_plain_http {
            return;
        }
        let Ok(endpoint) = Endpoint::parse(&self.url) else {
            return; // the request will fail on the URL itself, with its own error
        };
        if endpoint.is_https() || is_loopback_host(host_of(endpoint.base())) {
            return;
        }
        terminal::note(&format!(
            "runtel: warning: {} is plain http:// to another machine: the password and the \
             session token cross the network unencrypted; use https://, or set \
             allow_plain_http = true in the profile or RUNTEL_ALLOW_PLAIN_HTTP=1 to silence this",
            terminal::inert(endpoint.base())
        ));
    }

    /// The password, from stdin, the environment, the profile, or a prompt, in that order.
    pub fn password(&mut self) -> Result<Secret> {
        if self.password_stdin {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .take(4096)
                .read_to_string(&mut line)
                .map_err(|e| Failure::local(format!("reading the password from stdin: {e}")))?;
            let pw = line.lines().next().unwrap_or_default().to_owned();
            self.password_stdin = false;
            self.password = Some(Secret::new(pw));
        }
        if let Some(p) = &self.password {
            return Ok(p.clone());
        }
        let login = self.login.clone().unwrap_or_default();
        if !std::io::stdin().is_terminal() {
            return Err(Failure::Sdk(runtel_client::Error::NotAuthenticated(
                "no password: use --password-stdin, set RUNTEL_PASSWORD, or run `runtel login` on a terminal".into(),
            )));
        }
        let pw = rpassword::prompt_password(format!("Password for {login}: "))
            .map_err(|e| Failure::local(format!("reading the password: {e}")))?;
        self.password = Some(Secret::new(pw));
        Ok(self.password.clone().expect("just set"))
    }

    /// True when a password can be had without a prompt.
    pub fn has_password_without_prompt(&self) -> bool {
        self.password.is_some() || self.password_stdin
    }

    pub fn require_login(&self) -> Result<String> {
        self.login.clone().ok_or_else(|| {
            Failure::Sdk(runtel_client::Error::NotAuthenticated(
                "no login: pass --login, set RUNTEL_LOGIN, or add login to the profile".into(),
            ))
        })
    }

    /// A client builder with these settings (credentials are added by the caller).
    pub fn builder(&self) -> Result<ClientBuilder> {
        let mut b = runtel_client::Client::builder(&self.url)
            .timeout(self.timeout)
            .danger_accept_invalid_certs(self.insecure)
            .logout_on_drop(false);
        if let Some(path) = &self.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| Failure::local(format!("{}: {e}", path.display())))?;
            b = b.root_certificates_pem(pem);
        }
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for (base, local) in [
            ("http://127.0.0.1:9", true),
            ("http://127.255.0.1/pbx", true),
            ("http://localhost", true),
            ("http://LocalHost.:80", true),
            ("http://[::1]:9", true),
            ("http://[::ffff:127.0.0.1]", true),
            ("http://192.0.2.1:9", false),
            ("http://[2001:db8::1]:80", false),
            ("http://localhost.example", false),
            ("http://128.0.0.1", false),
        ] {
            assert_eq!(is_loopback_host(host_of(base)), local, "{base}");
        }
    }
}
