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
//! # max_retries = 0             # any option of runtel_client::ClientOptions
//! ```
//!
//! A profile's keys are the tool's own (`url`, `allow_plain_http`), the name
//! `insecure` kept from earlier versions (it is `accept_invalid_certs`), and every
//! [`ClientOptions`] name: the options are one struct shared with the library, so
//! a setting the library gains is a profile key here without a change (the test
//! `every_client_option_is_a_profile_key_and_reaches_the_client` walks the names).

use std::io::{IsTerminal, Read};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use runtel_client::{ClientBuilder, ClientOptions, Endpoint, Secret};
use serde_json::Value;

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
    /// Read the password from stdin's first line (else RUNTEL_PASSWORD, the profile, a prompt)
    #[arg(long, global = true)]
    pub password_stdin: bool,
    /// Trust this CA certificate (PEM) instead of the public roots.
    #[arg(long, global = true)]
    pub ca_file: Option<PathBuf>,
    /// Accept invalid TLS certificates (dangerous).
    #[arg(long, global = true)]
    pub insecure: bool,
    /// Send every request through this proxy (http://HOST:PORT; SOCKS is not supported)
    #[arg(long, global = true, value_name = "URL")]
    pub proxy: Option<String>,
    /// Timeout of one request in seconds (more than 0, at most 30 days) [default: 30]
    // Negative numbers reach the range check (exit code 3) instead of reading as a flag.
    #[arg(long, global = true, allow_negative_numbers = true)]
    pub timeout: Option<f64>,
    /// Set a client option (a profile key) for this command, e.g. max_retries=0 (config --help)
    #[arg(long = "option", global = true, value_name = "NAME=VALUE")]
    pub options: Vec<String>,
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
    /// Every client option in force. `login` and `password` are left out: a
    /// cached session needs no password, so [`crate::connect::Connection`] adds
    /// them only when a login may be needed. `warn_plain_http` is also the tool's
    /// own warning ([`Settings::warn_if_plain_http`]).
    pub options: ClientOptions,
}

#[derive(Default)]
struct Profile {
    url: Option<String>,
    login: Option<String>,
    password: Option<String>,
    /// Client options in the file's order: the key as written (for messages), the
    /// option it sets, and the value (aliases already turned into their option).
    options: Vec<(String, &'static str, Value)>,
}

/// The options the tool starts from. They differ from the library's in one
/// place: the session outlives the process (it is cached for the next command),
/// so a command does not log out when it ends unless the profile says
/// `logout_on_drop = true`.
pub fn cli_defaults() -> ClientOptions {
    ClientOptions {
        logout_on_drop: false,
        ..ClientOptions::default()
    }
}

/// The option a key of the tool's own names: `insecure` from earlier versions,
/// and `allow_plain_http`, which says the opposite of `warn_plain_http`.
fn option_of(key: &str, value: Value) -> Option<(&'static str, Value)> {
    match (key, value) {
        ("insecure", v) => Some(("accept_invalid_certs", v)),
        ("allow_plain_http", Value::Bool(b)) => Some(("warn_plain_http", Value::Bool(!b))),
        ("allow_plain_http", v) => Some(("warn_plain_http", v)),
        (k, v) => ClientOptions::NAMES
            .iter()
            .find(|n| **n == k)
            .map(|n| (*n, v)),
    }
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

/// The tool's own profile keys, besides the [`ClientOptions`] names. Anything
/// else is refused: a misspelt `pasword` or `ca-file` would otherwise be ignored
/// without a word.
const OWN_KEYS: &[&str] = &["url", "allow_plain_http", "insecure"];

/// Every key a profile may have: the tool's own, then the client options.
fn profile_keys() -> Vec<&'static str> {
    OWN_KEYS
        .iter()
        .chain(ClientOptions::NAMES)
        .copied()
        .collect()
}

/// "unknown key" with the nearest valid key when it is near enough to be the
/// one meant (so `zzz` does not get "did you mean url").
fn unknown_key(path: &std::path::Path, key: &str, place: &str, valid: &[&str]) -> Failure {
    let nearest = valid
        .iter()
        .map(|k| {
            (
                runtel_client::edit_distance(&key.to_ascii_lowercase(), k),
                *k,
            )
        })
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
        Config::parse(path, &text).map(Some)
    }

    /// The config file `path` holding `text`, checked key by key.
    fn parse(path: PathBuf, text: &str) -> Result<Config> {
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
            let valid = profile_keys();
            if let Some(key) = p.keys().find(|k| !valid.contains(&k.as_str())) {
                let place = format!("in profile {name:?}");
                return Err(unknown_key(&path, key, &place, &valid));
            }
            if p.contains_key("insecure") && p.contains_key("accept_invalid_certs") {
                return Err(Failure::local(format!(
                    "{}: profile {name:?} has both insecure and accept_invalid_certs, which \
                     are one setting; keep accept_invalid_certs",
                    path.display()
                )));
            }
            if p.contains_key("allow_plain_http") && p.contains_key("warn_plain_http") {
                return Err(Failure::local(format!(
                    "{}: profile {name:?} has both allow_plain_http and warn_plain_http, \
                     which are one setting (allow_plain_http = true is warn_plain_http = \
                     false); keep one",
                    path.display()
                )));
            }
        }
        Ok(Config { path, profiles })
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
        let password = text_of("password")?;
        if password.is_some() {
            files::check_private(path)?;
        }
        let mut options = Vec::new();
        for (key, value) in p {
            if matches!(key.as_str(), "url" | "login" | "password") {
                continue;
            }
            let value = serde_json::to_value(value)
                .map_err(|e| Failure::local(format!("{key} in profile {name:?}: {e}")))?;
            if let Some((option, value)) = option_of(key, value) {
                options.push((key.clone(), option, value));
            }
        }
        Ok(Some(Profile {
            url: text_of("url")?,
            login: text_of("login")?,
            password,
            options,
        }))
    }
}

/// Checks a whole config file's text as loading it would (every key known,
/// no setting given twice); `runtel config set` checks before it writes.
pub fn check_config_text(path: &std::path::Path, text: &str) -> Result<()> {
    let config = Config::parse(path.to_owned(), text)?;
    for name in config.names() {
        let profile = config.profile(name)?.unwrap_or_default();
        Settings::options_of(&ConnectionArgs::default(), name, &profile.options)?;
    }
    Ok(())
}

/// The profile names of the config file, in its order (none without a file).
pub fn config_profiles() -> Result<Vec<String>> {
    Ok(Config::load()?
        .map(|c| c.names().into_iter().map(str::to_owned).collect())
        .unwrap_or_default())
}

/// The url and login the config file gives profile `name`.
pub fn config_url_login(name: &str) -> Result<(Option<String>, Option<String>)> {
    let Some(config) = Config::load()? else {
        return Ok((None, None));
    };
    Ok(config
        .profile(name)?
        .map_or((None, None), |p| (p.url, p.login)))
}

/// The profile in use: `--profile`, else `RUNTEL_PROFILE`, else `default`.
pub fn profile_name(args: &ConnectionArgs) -> String {
    args.profile
        .clone()
        .or_else(|| env("RUNTEL_PROFILE"))
        .unwrap_or_else(|| "default".into())
}

/// A profile key as `runtel config set KEY VALUE` takes it: the key must be
/// one a profile may have (the nearest named otherwise), and VALUE is read
/// as JSON when it is JSON and fits the key (`10`, `true`), else as text, as
/// `--option` reads it. Returns the value to write.
pub fn profile_value(key: &str, text: &str) -> Result<Value> {
    let valid = profile_keys();
    if !valid.contains(&key) {
        return Err(unknown_key(&config_path(), key, "for a profile", &valid));
    }
    let as_text = Value::String(text.to_owned());
    let candidates: Vec<Value> = match serde_json::from_str::<Value>(text) {
        Ok(v) if !v.is_string() => vec![v, as_text],
        _ => vec![as_text],
    };
    let mut first_error = None;
    for v in candidates {
        let checked = match key {
            "url" => match &v {
                Value::String(u) => Endpoint::parse(u).map(drop).map_err(|e| {
                    Failure::Sdk(runtel_client::Error::InvalidInput(format!(
                        "url: {}",
                        e.detail()
                    )))
                }),
                _ => Err(Failure::Sdk(runtel_client::Error::InvalidInput(
                    "url must be text".into(),
                ))),
            },
            _ => match option_of(key, v.clone()) {
                Some((name, typed)) => set_option(&mut cli_defaults(), name, typed, key),
                None => Ok(()),
            },
        };
        match checked {
            Ok(()) => return Ok(v),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.expect("one candidate at least"))
}

/// The key that is the same setting as `key` under another name, if any: a
/// profile may hold only one of them.
pub fn same_setting(key: &str) -> Option<&'static str> {
    match key {
        "insecure" => Some("accept_invalid_certs"),
        "accept_invalid_certs" => Some("insecure"),
        "allow_plain_http" => Some("warn_plain_http"),
        "warn_plain_http" => Some("allow_plain_http"),
        _ => None,
    }
}

/// Sets one option, the error naming where the value came from (`from`).
fn set_option(options: &mut ClientOptions, name: &str, value: Value, from: &str) -> Result<()> {
    options.set(name, value).map_err(|e| {
        Failure::Sdk(runtel_client::Error::InvalidInput(format!(
            "{from}: {}",
            e.detail()
        )))
    })
}

/// One `--option NAME=VALUE`: VALUE as JSON when it is JSON and the option takes
/// it, else as text, so `max_retries=0`, `proxy_from_env=true` and
/// `proxy=http://p:3128` all mean what they say.
fn apply_flag_option(options: &mut ClientOptions, word: &str) -> Result<&'static str> {
    let Some((key, text)) = word.split_once('=') else {
        return Err(Failure::Sdk(runtel_client::Error::InvalidInput(format!(
            "--option takes NAME=VALUE, got {:?}",
            terminal::inert(word)
        ))));
    };
    let key = key.trim();
    match key {
        "password" => {
            return Err(Failure::Sdk(runtel_client::Error::InvalidInput(
                "--option password is refused: a command line is visible to other users of \
                 this machine; use --password-stdin, RUNTEL_PASSWORD or the profile"
                    .into(),
            )))
        }
        "url" => {
            return Err(Failure::Sdk(runtel_client::Error::InvalidInput(
                "the server URL is --url, not an option".into(),
            )))
        }
        _ => {}
    }
    let as_json = serde_json::from_str::<Value>(text).ok();
    let Some((name, _)) = option_of(key, Value::Null) else {
        let valid = profile_keys();
        let nearest = valid
            .iter()
            .filter(|k| !matches!(**k, "url" | "password"))
            .map(|k| {
                (
                    runtel_client::edit_distance(&key.to_ascii_lowercase(), k),
                    *k,
                )
            })
            .min()
            .filter(|(d, _)| *d <= 2.max(key.chars().count() / 3))
            .map_or(String::new(), |(_, k)| format!("; did you mean {k:?}?"));
        return Err(Failure::Sdk(runtel_client::Error::InvalidInput(format!(
            "--option: unknown option {:?}{nearest} (`runtel config` lists them)",
            terminal::inert(key)
        ))));
    };
    let from = format!("--option {key}");
    let typed = |v: Value| option_of(key, v).map_or(Value::Null, |(_, v)| v);
    match as_json {
        Some(v) => {
            let first = set_option(options, name, typed(v), &from);
            if first.is_err()
                && set_option(options, name, typed(Value::String(text.into())), &from).is_ok()
            {
                return Ok(name);
            }
            first.map(|()| name)
        }
        None => set_option(options, name, typed(Value::String(text.into())), &from).map(|()| name),
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

/// `--option login=L`, which is `--login L` (not both).
fn flag_login(args: &ConnectionArgs) -> Result<Option<String>> {
    let mut found = None;
    for word in &args.options {
        if let Some(("login", value)) = word.split_once('=').map(|(k, v)| (k.trim(), v)) {
            if args.login.is_some() {
                return Err(Failure::Sdk(runtel_client::Error::InvalidInput(
                    "login given twice: as --login and as --option login=...; give one".into(),
                )));
            }
            found = Some(value.to_owned());
        }
    }
    Ok(found)
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
            .or(flag_login(args)?)
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
        let options = Self::options_of(args, &profile_name, &profile.options)?;
        Ok(Lookup::Ready(Box::new(Settings {
            profile: profile_name,
            url,
            url_source,
            login,
            password: env("RUNTEL_PASSWORD").or(profile.password).map(Secret::new),
            password_stdin: args.password_stdin,
            options,
        })))
    }

    /// The client options: the tool's defaults, then the profile's keys, then
    /// `--option`, then the flags of their own (`--timeout`, `--ca-file`,
    /// `--insecure`, `--proxy`), then `RUNTEL_ALLOW_PLAIN_HTTP`. The credentials are not
    /// among them (see [`Settings::options`]).
    fn options_of(
        args: &ConnectionArgs,
        profile_name: &str,
        profile: &[(String, &'static str, Value)],
    ) -> Result<ClientOptions> {
        let mut o = cli_defaults();
        let from_profile = format!("{}, profile {profile_name:?}", config_path().display());
        // What a flag sets, the profile does not: not even a value the flag
        // replaces is checked, so a flag can stand in for a bad profile value.
        let mut replaced: Vec<&str> = args
            .options
            .iter()
            .filter_map(|w| w.split_once('='))
            .filter_map(|(k, _)| option_of(k.trim(), Value::Null).map(|(name, _)| name))
            .collect();
        for (set, name) in [
            (args.timeout.is_some(), "timeout"),
            (args.ca_file.is_some(), "ca_file"),
            (args.insecure, "accept_invalid_certs"),
            (args.proxy.is_some(), "proxy"),
            (env("RUNTEL_ALLOW_PLAIN_HTTP").is_some(), "warn_plain_http"),
        ] {
            if set {
                replaced.push(name);
            }
        }
        for (key, name, value) in profile {
            if !replaced.contains(name) {
                set_option(
                    &mut o,
                    name,
                    value.clone(),
                    &format!("{key} in {from_profile}"),
                )?;
            }
        }
        let mut by_flag = Vec::new();
        for word in &args.options {
            by_flag.push(apply_flag_option(&mut o, word)?);
        }
        let twice = |name: &str, flag: &str| -> Result<()> {
            if by_flag.contains(&name) {
                return Err(Failure::Sdk(runtel_client::Error::InvalidInput(format!(
                    "{name} given twice: as {flag} and as --option {name}=...; give one"
                ))));
            }
            Ok(())
        };
        if let Some(secs) = args.timeout {
            twice("timeout", "--timeout")?;
            o.timeout = positive_duration("--timeout", secs)?;
        }
        if let Some(path) = &args.ca_file {
            twice("ca_file", "--ca-file")?;
            o.ca_file = Some(path.clone());
        }
        if args.insecure {
            twice("accept_invalid_certs", "--insecure")?;
            o.accept_invalid_certs = true;
        }
        if let Some(url) = &args.proxy {
            twice("proxy", "--proxy")?;
            set_option(&mut o, "proxy", Value::String(url.clone()), "--proxy")?;
        }
        if let Some(v) = env("RUNTEL_ALLOW_PLAIN_HTTP") {
            o.warn_plain_http = !flag_value("RUNTEL_ALLOW_PLAIN_HTTP", &v)?;
        }
        // Zero passes the library's range check but would fail every request.
        for (name, d) in [
            ("timeout", o.timeout),
            ("connect_timeout", o.connect_timeout),
        ] {
            if d.is_zero() {
                return Err(Failure::Sdk(runtel_client::Error::InvalidInput(format!(
                    "{name} must be more than 0 seconds (from {from_profile} or --option)"
                ))));
            }
        }
        // The login is kept beside the options (see `Settings::options`).
        o.login = None;
        o.password = None;
        Ok(o)
    }

    /// Warns on stderr, before anything is sent, when the password and token would
    /// cross the network unencrypted: an `http://` URL whose host is not this
    /// machine. Silenced by `allow_plain_http` (`warn_plain_http = false`) or
    /// `RUNTEL_ALLOW_PLAIN_HTTP=1`. The library's own warning goes to its log,
    /// which the tool does not show: this one is what people see.
    pub fn warn_if_plain_http(&self) {
        if !self.options.warn_plain_http {
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
            crate::diag::add_secret(p.expose());
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
        crate::diag::add_secret(&pw);
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

    /// A client builder with these settings (credentials are added by the caller,
    /// through [`Settings::options_with_credentials`]).
    pub fn builder(&self) -> ClientBuilder {
        runtel_client::Client::builder(&self.url).options(self.options.clone())
    }

    /// The options with a login and password, for a client that may log in.
    pub fn options_with_credentials(&self, login: &str, password: Secret) -> ClientOptions {
        ClientOptions {
            login: Some(login.to_owned()),
            password: Some(password),
            ..self.options.clone()
        }
    }

    /// What `runtel config` shows: the options as the client gets them, with the
    /// login and (masked) password a login would use when they are known
    /// without a prompt.
    pub fn shown_options(&self) -> ClientOptions {
        ClientOptions {
            login: self.login.clone(),
            password: self.password.clone(),
            ..self.options.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_get_the_nearest_only_when_near() {
        let keys = profile_keys();
        let far = unknown_key(std::path::Path::new("c.toml"), "zzz", "here", &keys).line();
        assert!(!far.contains("did you mean"), "{far}");
        assert!(
            far.contains("valid keys: url, allow_plain_http, insecure, timeout"),
            "{far}"
        );
        for (typo, meant) in [
            ("ca-file", "ca_file"),
            ("max_retires", "max_retries"),
            ("URL", "url"),
        ] {
            let near = unknown_key(std::path::Path::new("c.toml"), typo, "here", &keys).line();
            assert!(near.contains(&format!("did you mean {meant:?}")), "{near}");
        }
    }

    #[test]
    fn own_keys_map_onto_options() {
        assert_eq!(
            option_of("insecure", Value::Bool(true)),
            Some(("accept_invalid_certs", Value::Bool(true)))
        );
        assert_eq!(
            option_of("allow_plain_http", Value::Bool(true)),
            Some(("warn_plain_http", Value::Bool(false)))
        );
        assert_eq!(option_of("url", Value::Null), None);
        for name in ClientOptions::NAMES {
            assert_eq!(option_of(name, Value::Null), Some((*name, Value::Null)));
        }
        let mut o = cli_defaults();
        assert_eq!(
            apply_flag_option(&mut o, "max_retries=0").unwrap(),
            "max_retries"
        );
        assert_eq!(o.max_retries, 0);
        apply_flag_option(&mut o, "user_agent=5").unwrap();
        assert_eq!(
            o.user_agent.as_deref(),
            Some("5"),
            "not JSON to a text option: text"
        );
        apply_flag_option(&mut o, "proxy=http://p:3128").unwrap();
        assert_eq!(o.proxy.as_deref(), Some("http://p:3128"));
        apply_flag_option(&mut o, "allow_plain_http=true").unwrap();
        assert!(!o.warn_plain_http);
        for bad in [
            "password=x",
            "url=http://x",
            "max_retries=two",
            "timeout=1e300",
            "nosuch=1",
            "novalue",
        ] {
            let before = o.clone();
            assert!(apply_flag_option(&mut o, bad).is_err(), "{bad}");
            assert!(o == before, "{bad} changed the options");
        }
        let hint = apply_flag_option(&mut o, "max_retires=1")
            .unwrap_err()
            .line();
        assert!(hint.contains("did you mean \"max_retries\""), "{hint}");
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
