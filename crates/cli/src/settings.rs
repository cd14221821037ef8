//! Where the connection settings come from: flags, then the environment, then a
//! named profile in the config file (`~/.config/runtel/config.toml`).
//!
//! ```toml
//! [profiles.default]
//! url = "https://pbx.example"
//! login = "admin@pbx.example"
//! # password = "..."   # allowed only when the file is mode 0600
//! ca_file = "/etc/ssl/pbx-ca.pem"
//! timeout = 30
//! ```

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::time::Duration;

use runtel_client::{ClientBuilder, Secret};

use crate::failure::{Failure, Result};
use crate::files;

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
    /// Timeout of one request in seconds [default: 30]
    #[arg(long, global = true)]
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
}

#[derive(Default)]
struct Profile {
    url: Option<String>,
    login: Option<String>,
    password: Option<String>,
    ca_file: Option<PathBuf>,
    insecure: Option<bool>,
    timeout: Option<f64>,
}

pub fn config_path() -> PathBuf {
    if let Some(p) = std::env::var_os("RUNTEL_CONFIG") {
        return PathBuf::from(p);
    }
    base_dir("XDG_CONFIG_HOME", ".config").join("runtel/config.toml")
}

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
    Ok(Profile {
        url: text_of("url"),
        login: text_of("login"),
        password,
        ca_file: text_of("ca_file").map(PathBuf::from),
        insecure: p.get("insecure").and_then(|v| v.as_bool()),
        timeout: p
            .get("timeout")
            .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64))),
    })
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
        let timeout = args.timeout.or(profile.timeout).unwrap_or(30.0);
        if !(timeout.is_finite() && timeout > 0.0) {
            return Err(Failure::Sdk(runtel_client::Error::InvalidInput(
                "--timeout must be a positive number of seconds".into(),
            )));
        }
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
            timeout: Duration::from_secs_f64(timeout),
        })
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
