//! Where the connection settings come from: flags, then the environment, then a
//! named profile in the config file (`~/.config/runtel/config.toml`), then the
//! profile's cached session, which remembers the server and login it was made with.
//!
//! Every key of the file is checked: a misspelt one is an error naming the nearest
//! valid key, not a setting silently ignored. A profile named with `--profile` or
//! `RUNTEL_PROFILE` that neither the file nor the cache knows is an error listing
//! those that exist, when nothing else gives a server URL.
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
use crate::session_cache;
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
    /// Where the URL came from, for `runtel status`.
    pub url_source: String,
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

/// The keys a profile may have. Anything else is refused: a misspelt `pasword`
/// or `ca-file` would otherwise be ignored without a word.
const PROFILE_KEYS: &[&str] = &[
    "url",
    "login",
    "password",
    "ca_file",
    "insecure",
    "timeout",
    "allow_plain_http",
];

/// Edits (insertions, deletions, substitutions) that turn `a` into `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let replaced = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = replaced.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// "unknown key" with the nearest valid key when it is near enough to be the
/// one meant (so `zzz` does not get "did you mean url").
fn unknown_key(path: &std::path::Path, key: &str, place: &str, valid: &[&str]) -> Failure {
    let nearest = valid
        .iter()
        .map(|k| (edit_distance(&key.to_ascii_lowercase(), k), *k))
        .min();
    let hint = match nearest {
        Some((d, k)) if d <= 2.max(key.chars().count() / 3) => format!("did you mean {k:?}? "),
        _ => String::new(),
    };
    Failure::local(format!(
        "{}: unknown key {:?} {place}; {hint}valid keys: {}",
        path.display(),
        key,
        valid.join(", ")
    ))
}

/// The config file, checked key by key; `None` when there is none.
struct Config {
    path: PathBuf,
    profiles: toml::Table,
}

impl Config {
    fn load() -> Result<Option<Config>> {
        let path = config_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Failure::local(format!("{}: {e}", path.display()))),
        };
        let mut doc: toml::Table = text
            .parse()
            .map_err(|e| Failure::local(format!("{}: {e}", path.display())))?;
        if let Some(key) = doc.keys().find(|k| *k != "profiles") {
            return Err(unknown_key(&path, key, "at the top level", &["profiles"]));
        }
        let profiles = match doc.remove("profiles") {
            None => toml::Table::new(),
            Some(toml::Value::Table(t)) => t,
            Some(_) => {
                return Err(Failure::local(format!(
                    "{}: profiles must be tables, as [profiles.NAME]",
                    path.display()
                )))
            }
        };
        for (name, p) in &profiles {
            let Some(p) = p.as_table() else {
                return Err(Failure::local(format!(
                    "{}: profiles.{name} must be a table, as [profiles.{name}]",
                    path.display()
                )));
            };
            if let Some(key) = p.keys().find(|k| !PROFILE_KEYS.contains(&k.as_str())) {
                let place = format!("in profile {name:?}");
                return Err(unknown_key(&path, key, &place, PROFILE_KEYS));
            }
        }
        Ok(Some(Config { path, profiles }))
    }

    fn names(&self) -> Vec<&str> {
        self.profiles.keys().map(String::as_str).collect()
    }

    fn profile(&self, name: &str) -> Result<Option<Profile>> {
        let Some(p) = self.profiles.get(name).and_then(|p| p.as_table()) else {
            return Ok(None);
        };
        let path = &self.path;
        let bad = |key: &str, what: &str| {
            Failure::local(format!(
                "{key} in profile {name:?} of {} must be {what}",
                path.display()
            ))
        };
        let text_of = |k: &str| match p.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(|s| Some(s.to_owned()))
                .ok_or_else(|| bad(k, "a string")),
        };
        let bool_of = |k: &str| match p.get(k) {
            None => Ok(None),
            Some(v) => v.as_bool().map(Some).ok_or_else(|| bad(k, "true or false")),
        };
        let password = text_of("password")?;
        if password.is_some() {
            files::check_private(path)?;
        }
        Ok(Some(Profile {
            url: text_of("url")?,
            login: text_of("login")?,
            password,
            ca_file: text_of("ca_file")?.map(PathBuf::from),
            insecure: bool_of("insecure")?,
            timeout: match p.get("timeout") {
                None => None,
                Some(v) => Some(
                    v.as_float()
                        .or_else(|| v.as_integer().map(|i| i as f64))
                        .ok_or_else(|| bad("timeout", "a number of seconds"))?,
                ),
            },
            allow_plain_http: bool_of("allow_plain_http")?,
        }))
    }
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

/// Settings, or why there is no server to talk to.
pub enum Lookup {
    Ready(Box<Settings>),
    /// No URL from any source; `failure` says where one can come from.
    NoUrl {
        profile: String,
        failure: Failure,
    },
}

/// Where the named profile's absence is explained: which profiles the config
/// file has, and which have a cached session.
fn no_such_profile(name: &str, config: Option<&Config>) -> Failure {
    let path = config_path();
    let mut msg = match config.map(Config::names) {
        None => format!(
            "profile {name:?} does not exist: there is no config file {}",
            path.display()
        ),
        Some(names) if names.is_empty() => format!(
            "profile {name:?} does not exist: {} has no profiles",
            path.display()
        ),
        Some(names) => format!(
            "profile {name:?} does not exist; profiles in {}: {}",
            path.display(),
            names.join(", ")
        ),
    };
    let cached: Vec<String> = session_cache::cached_profiles()
        .into_iter()
        .filter(|p| config.is_none_or(|c| !c.profiles.contains_key(p)))
        .collect();
    if !cached.is_empty() {
        msg.push_str(&format!("; sessions cached for: {}", cached.join(", ")));
    }
    msg.push_str(&format!(
        " (with --url, {name:?} would name a new session instead)"
    ));
    Failure::local(msg)
}

/// True when `url` is the server whose normalised base URL is `base`.
pub fn same_server(url: &str, base: &str) -> bool {
    Endpoint::parse(url).is_ok_and(|e| e.base() == base)
}

impl Settings {
    pub fn resolve(args: &ConnectionArgs) -> Result<Settings> {
        match Self::lookup(args)? {
            Lookup::Ready(s) => Ok(*s),
            Lookup::NoUrl { failure, .. } => Err(failure),
        }
    }

    /// Flags, then the environment, then the profile, then the profile's session
    /// cache, which remembers the server and login of its last login: after
    /// `runtel --url U --login L login`, plain `runtel call ...` talks to U as L.
    pub fn lookup(args: &ConnectionArgs) -> Result<Lookup> {
        let named = args.profile.clone().or_else(|| env("RUNTEL_PROFILE"));
        let profile_name = named.clone().unwrap_or_else(|| "default".into());
        let config = Config::load()?;
        let found = match &config {
            Some(c) => c.profile(&profile_name)?,
            None => None,
        };
        let in_config = found.is_some();
        let profile = found.unwrap_or_default();
        let given = [
            (args.url.clone(), "--url".to_owned()),
            (env("RUNTEL_URL"), "RUNTEL_URL".to_owned()),
            (profile.url.clone(), format!("profile {profile_name:?}")),
        ]
        .into_iter()
        .find_map(|(url, source)| url.map(|u| (u, source)));
        let mut login = args
            .login
            .clone()
            .or_else(|| env("RUNTEL_LOGIN"))
            .or(profile.login.clone());
        let (url, url_source) = match given {
            Some((url, source)) => {
                // The remembered login is for the remembered server only.
                if login.is_none() {
                    if let Some(r) = session_cache::remembered(&profile_name)? {
                        if same_server(&url, &r.base) {
                            login = r.login;
                        }
                    }
                }
                (url, source)
            }
            None => match session_cache::remembered(&profile_name)? {
                Some(r) => {
                    login = login.or(r.login);
                    (r.url, "the session cache of the last login".to_owned())
                }
                None if named.is_some() && !in_config && profile_name != "default" => {
                    return Err(no_such_profile(&profile_name, config.as_ref()));
                }
                None => {
                    let failure = Failure::Sdk(runtel_client::Error::InvalidInput(format!(
                        "no server URL: pass --url, set RUNTEL_URL, add url to profile \
                         {profile_name:?} in {}, or log in once with --url (the session of a \
                         profile remembers its server)",
                        config_path().display()
                    )));
                    return Ok(Lookup::NoUrl {
                        profile: profile_name,
                        failure,
                    });
                }
            },
        };
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
        Ok(Lookup::Ready(Box::new(Settings {
            profile: profile_name,
            url,
            url_source,
            login,
            password: env("RUNTEL_PASSWORD").or(profile.password).map(Secret::new),
            password_stdin: args.password_stdin,
            ca_file: args.ca_file.clone().or(profile.ca_file),
            insecure: args.insecure || profile.insecure.unwrap_or(false),
            timeout,
            allow_plain_http,
        })))
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
    fn edit_distances() {
        for (a, b, d) in [
            ("pasword", "password", 1),
            ("logn", "login", 1),
            ("ca-file", "ca_file", 1),
            ("url", "url", 0),
            ("", "url", 3),
            ("timeuot", "timeout", 2),
            ("kitten", "sitting", 3),
        ] {
            assert_eq!(edit_distance(a, b), d, "{a} -> {b}");
        }
        let far = unknown_key(std::path::Path::new("c.toml"), "zzz", "here", PROFILE_KEYS).line();
        assert!(!far.contains("did you mean"), "{far}");
        assert!(far.contains("valid keys: url, login"), "{far}");
    }

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
