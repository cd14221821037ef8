//! Profiles and sessions: `runtel config path|list|get|set|unset`, `runtel
//! profiles` and `runtel logout --all`.
//!
//! `config set` edits the config file in place with `toml_edit`, so comments,
//! order and layout stay as the user wrote them; the result is checked as a
//! load would check it before it is written, atomically and with mode 0600
//! (a profile may hold a password).

use std::path::PathBuf;
use std::time::SystemTime;

use serde_json::Value;

use crate::failure::{Failure, Result};
use crate::session_cache::{self, SessionCache};
use crate::settings::{self, ConnectionArgs, Lookup, Settings};
use crate::terminal::{self, inert};

/// `runtel config` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ConfigCmd {
    /// Print the config file's path (RUNTEL_CONFIG, else ~/.config/runtel/config.toml).
    Path,
    /// Print the keys the profile sets in the file, one `KEY = VALUE` a line.
    List,
    /// Print the value the profile sets for KEY (text without quotes).
    Get {
        /// A profile key, e.g. url, timeout.
        key: String,
    },
    /// Set KEY to VALUE in the profile (created if missing), keeping the rest of
    /// the file as it is.
    Set {
        /// A profile key, e.g. url, timeout, proxy_from_env.
        key: String,
        /// The value: JSON when it is JSON and fits the key (10, true), else text.
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// Remove KEY from the profile (its default applies again).
    Unset {
        /// A profile key.
        key: String,
    },
}

/// The config file to write: its target when it is a symbolic link (a dotfile
/// manager's link stays a link), else the path itself.
fn file_to_write() -> PathBuf {
    let path = settings::config_path();
    match std::fs::canonicalize(&path) {
        Ok(target) if target != path => target,
        _ => path,
    }
}

/// The config file as an editable document (empty when there is none).
fn read_document(path: &std::path::Path) -> Result<toml_edit::DocumentMut> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Failure::local(format!("{}: {e}", path.display()))),
    };
    text.parse::<toml_edit::DocumentMut>()
        .map_err(|e| Failure::local(format!("{}: {e}", path.display())))
}

/// The profile's table in the document, if the file has it.
fn profile_table<'d>(doc: &'d toml_edit::DocumentMut, name: &str) -> Option<&'d toml_edit::Table> {
    doc.get("profiles")?.get(name)?.as_table()
}

/// A value as `config list` shows it: TOML, the password masked.
fn shown(key: &str, item: &toml_edit::Item) -> String {
    if key == "password" {
        return "\"***\"".into();
    }
    item.as_value().map_or_else(
        || item.to_string(),
        |v| v.clone().decorated("", "").to_string(),
    )
}

/// Runs `runtel config SUBCOMMAND` for the profile of `args`.
pub fn config(cmd: ConfigCmd, args: &ConnectionArgs) -> Result<()> {
    let profile = settings::profile_name(args);
    match cmd {
        ConfigCmd::Path => terminal::out(&settings::config_path().display().to_string()),
        ConfigCmd::List => {
            let path = settings::config_path();
            let doc = read_document(&path)?;
            let Some(table) = profile_table(&doc, &profile) else {
                terminal::note(&format!(
                    "runtel: note: {} has no profile {:?}",
                    path.display(),
                    inert(&profile)
                ));
                return Ok(());
            };
            let lines: Vec<String> = table
                .iter()
                .map(|(k, v)| format!("{k} = {}", inert(&shown(k, v))))
                .collect();
            if lines.is_empty() {
                return Ok(());
            }
            terminal::out(&lines.join("\n"))
        }
        ConfigCmd::Get { key } => {
            if key == "password" {
                return Err(Failure::local(
                    "the password is not printed; `runtel config list` shows whether it is set",
                ));
            }
            let path = settings::config_path();
            let doc = read_document(&path)?;
            let item = profile_table(&doc, &profile).and_then(|t| t.get(&key));
            match item.and_then(toml_edit::Item::as_value) {
                Some(toml_edit::Value::String(s)) => terminal::out(&inert(s.value())),
                Some(v) => terminal::out(&inert(&v.clone().decorated("", "").to_string())),
                None => Err(Failure::local(format!(
                    "{} is not set in profile {:?} of {}",
                    inert(&key),
                    inert(&profile),
                    path.display()
                ))),
            }
        }
        ConfigCmd::Set { key, value } => {
            if key == "password" {
                return Err(Failure::Sdk(runtel_client::Error::InvalidInput(
                    "config set password is refused: a command line is visible to other users \
                     of this machine; write it into the file yourself (which must then be mode \
                     0600), or use RUNTEL_PASSWORD, --password-stdin or the prompt"
                        .into(),
                )));
            }
            let typed = settings::profile_value(&key, &value)?;
            edit(&profile, |table| {
                if let Some(other) = settings::same_setting(&key) {
                    table.remove(other);
                }
                table.insert(&key, toml_edit::value(toml_value(&typed)));
            })?;
            terminal::note(&format!(
                "profile {:?}: {} set in {}",
                inert(&profile),
                inert(&key),
                settings::config_path().display()
            ));
            Ok(())
        }
        ConfigCmd::Unset { key } => {
            let mut found = false;
            edit(&profile, |table| found = table.remove(&key).is_some())?;
            if !found {
                terminal::note(&format!(
                    "runtel: note: {} was not set in profile {:?}",
                    inert(&key),
                    inert(&profile)
                ));
            }
            Ok(())
        }
    }
}

/// A JSON value checked by [`settings::profile_value`] as a TOML value.
fn toml_value(v: &Value) -> toml_edit::Value {
    match v {
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64().unwrap_or_default().into(),
        },
        Value::String(s) => s.as_str().into(),
        other => other.to_string().into(),
    }
}

/// Changes the table of `profile` (created when missing) and writes the file
/// back: checked first as a load would check it, then atomically, mode 0600.
fn edit(profile: &str, change: impl FnOnce(&mut toml_edit::Table)) -> Result<()> {
    let path = file_to_write();
    let mut doc = read_document(&path)?;
    let profiles = doc
        .entry("profiles")
        .or_insert_with(|| {
            let mut t = toml_edit::Table::new();
            t.set_implicit(true);
            toml_edit::Item::Table(t)
        })
        .as_table_mut()
        .ok_or_else(|| {
            Failure::local(format!(
                "{}: profiles must be tables, as [profiles.NAME]",
                path.display()
            ))
        })?;
    let table = profiles
        .entry(profile)
        .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()))
        .as_table_mut()
        .ok_or_else(|| {
            Failure::local(format!(
                "{}: profiles.{profile} must be a table",
                path.display()
            ))
        })?;
    change(table);
    let text = doc.to_string();
    settings::check_config_text(&path, &text)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::local(format!("{}: {e}", dir.display())))?;
    }
    crate::files::write_atomic_private(&path, text.as_bytes())
}

/// `runtel profiles`: every profile of the config file and of the session
/// cache, with its server, login and session; `*` marks the one in use.
pub fn list(args: &ConnectionArgs) -> Result<()> {
    let current = settings::profile_name(args);
    let names = all_names()?;
    if names.is_empty() {
        terminal::note(&format!(
            "runtel: note: no profiles: {} has none and no session is cached \
             (`runtel config set url URL` or `runtel --url URL login` makes one)",
            settings::config_path().display()
        ));
        return Ok(());
    }
    let now = SystemTime::now();
    let header = ["", "PROFILE", "URL", "LOGIN", "SESSION"].map(str::to_owned);
    let mut rows = Vec::new();
    for name in names {
        let (url, login) = settings::config_url_login(&name)?;
        let session = session_cache::session_of(&name)?;
        let url = url
            .or_else(|| session.as_ref().map(|(u, _, _)| u.clone()))
            .unwrap_or_else(|| "-".into());
        let login = login
            .or_else(|| session.as_ref().and_then(|(_, l, _)| l.clone()))
            .unwrap_or_else(|| "-".into());
        let state = match &session {
            None => "none".to_owned(),
            Some((_, _, exp)) if *exp > now => {
                format!("valid until {}", crate::status::utc(*exp))
            }
            Some((_, _, exp)) => format!("expired at {}", crate::status::utc(*exp)),
        };
        rows.push([
            if name == current { "*" } else { "" }.to_owned(),
            inert(&name).into_owned(),
            inert(&url).into_owned(),
            inert(&login).into_owned(),
            state,
        ]);
    }
    terminal::out(&crate::objects::columns(
        std::iter::once(&header).chain(&rows),
    ))
}

/// The profiles of the config file, in its order, then those that only have a
/// cached session.
fn all_names() -> Result<Vec<String>> {
    let mut names = settings::config_profiles()?;
    for cached in session_cache::cached_profiles() {
        if !names.contains(&cached) {
            names.push(cached);
        }
    }
    Ok(names)
}

/// `runtel profiles --names`: one name per line, nothing else, for scripts and
/// the shell completion of `--profile`. Names are printed inert (a control
/// character cannot reach the terminal or a completion list).
pub fn names() -> Result<()> {
    let mut text = String::new();
    for name in all_names()? {
        text.push_str(&inert(&name));
        text.push('\n');
    }
    terminal::out_raw(&text)
}

/// `runtel logout --all`: ends every cached session on its server and forgets
/// it. Every session is forgotten even when its server cannot be reached; the
/// first failure is the exit code.
pub fn logout_all(args: &ConnectionArgs) -> Result<()> {
    let profiles = session_cache::cached_profiles();
    if profiles.is_empty() {
        terminal::note("not logged in (no cached session)");
        return Ok(());
    }
    let mut first_failure = None;
    for name in profiles {
        // The session's own server, whatever RUNTEL_URL or the profile say now.
        let url = session_cache::session_of(&name)?.map(|(url, _, _)| url);
        let one = ConnectionArgs {
            profile: Some(name.clone()),
            url,
            login: None,
            ..args.clone()
        };
        match logout_profile(&one) {
            Ok(line) => terminal::note(&format!("{}: {line}", inert(&name))),
            Err(f) => {
                terminal::note(&format!("{}: {}", inert(&name), f.line()));
                first_failure.get_or_insert(f);
            }
        }
    }
    first_failure.map_or(Ok(()), Err)
}

/// Logs out the cached session of one profile; the line to report.
fn logout_profile(args: &ConnectionArgs) -> Result<String> {
    let settings = match Settings::lookup(args)? {
        Lookup::Ready(s) => *s,
        Lookup::NoUrl { failure, .. } => return Err(failure),
    };
    let cache = SessionCache::new(&settings)?;
    let Some((info, expires)) = cache.load(None)? else {
        cache.remove()?;
        return Ok("no valid session (forgotten)".into());
    };
    settings.warn_if_plain_http();
    let client = settings.builder().build()?;
    crate::diag::add_secret(info.token.expose());
    client.restore_session(info, expires);
    let result = client.logout();
    cache.remove()?;
    result?;
    Ok(format!("logged out of {}", inert(&settings.url)))
}
