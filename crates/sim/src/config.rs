//! The simulator's settings.

use std::collections::BTreeMap;
use std::time::Duration;

/// How errors are sent (`docs/api-reference.md` §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorStyle {
    /// HTTP status equal to the envelope code (the default).
    #[default]
    Http,
    /// Always HTTP 200; the error is only in the envelope's `code`.
    Envelope,
}

/// Where list answers put their records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListStyle {
    /// Top-level `list` and `total_count` (seen in the field; the default).
    #[default]
    Top,
    /// Inside `body`: `body.list`, `body.total_count`.
    Body,
}

/// How `get` answers carry the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GetStyle {
    /// The record is the `body` (the default).
    #[default]
    Body,
    /// A one-element top-level `list`.
    List,
}

/// How list answers page, beyond what the client asks (`docs/api-reference.md` §6):
/// the ways real servers might deviate. Persistent options, unlike faults, which are used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PagingOptions {
    /// The server caps `limit` at this many records (asked 1000, it answers at
    /// most this many), still announcing the true `total_count`. `None`: no cap.
    pub max_page_size: Option<u64>,
    /// Every list answer starts at offset 0, whatever `offset` was asked.
    pub ignore_offset: bool,
    /// List answers carry no `total_count`.
    pub omit_total_count: bool,
}

impl PagingOptions {
    /// As JSON, the shape `POST /_sim/paging` takes.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "max_page_size": self.max_page_size,
            "ignore_offset": self.ignore_offset,
            "omit_total_count": self.omit_total_count,
        })
    }

    /// Applies `{"max_page_size": 100|null, "ignore_offset": bool,
    /// "omit_total_count": bool}`; absent keys keep their value, and nothing
    /// changes unless every present key is valid.
    pub fn update_from_json(&mut self, v: &serde_json::Value) -> Result<(), String> {
        let serde_json::Value::Object(m) = v else {
            return Err("expected a JSON object".into());
        };
        let mut next = *self;
        for (k, v) in m {
            match k.as_str() {
                "max_page_size" => {
                    next.max_page_size = match v {
                        serde_json::Value::Null => None,
                        v => Some(
                            v.as_u64()
                                .filter(|n| *n > 0)
                                .ok_or("`max_page_size` must be a positive count or null")?,
                        ),
                    }
                }
                "ignore_offset" => {
                    next.ignore_offset = v.as_bool().ok_or("`ignore_offset` must be a boolean")?
                }
                "omit_total_count" => {
                    next.omit_total_count =
                        v.as_bool().ok_or("`omit_total_count` must be a boolean")?
                }
                other => return Err(format!("unknown paging option {other:?}")),
            }
        }
        *self = next;
        Ok(())
    }
}

/// What a restricted role may do: object name (or `*`, every object) to the
/// actions allowed (or `*`, every action of the object). It becomes the `perms` of
/// the account's role, which the simulator checks on every call.
pub type Perms = BTreeMap<String, Vec<String>>;

/// A login the simulator accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The login (an e-mail).
    pub login: String,
    /// The password.
    pub password: String,
    /// Role type: -1 platform administrator, -2 custom platform role, 1 PBX
    /// administrator, 4 custom PBX role.
    pub role_type: i64,
    /// The account's PBX (`None` for platform operators).
    pub domain_id: Option<i64>,
    /// `None`: full rights (its role's `perms` are `{}`, as the built-in roles').
    /// `Some`: a role of its own with these `perms`; calls they do not allow are
    /// refused with 403 `forbidden`. Set with [`Account::with_perms`].
    pub perms: Option<Perms>,
    pub(crate) user_id: i64,
    pub(crate) role_id: i64,
}

impl Account {
    /// A PBX administrator of domain 1.
    pub fn domain_admin(login: &str, password: &str) -> Self {
        Account {
            login: login.to_owned(),
            password: password.to_owned(),
            role_type: 1,
            domain_id: Some(1),
            perms: None,
            user_id: 0,
            role_id: 0,
        }
    }

    /// A PBX administrator of another domain.
    pub fn in_domain(mut self, domain_id: i64) -> Self {
        self.domain_id = Some(domain_id);
        self
    }

    /// A platform operator (role type -1), who must pass `domain_id` for PBX objects.
    pub fn operator(login: &str, password: &str) -> Self {
        Account {
            role_type: -1,
            domain_id: None,
            ..Account::domain_admin(login, password)
        }
    }

    /// Restricts the account to a role of its own allowing only `allowed`, each
    /// `OBJECT.ACTION`: `DomainCDR.list`, `User.*` (every action of `User`),
    /// `*.get` (`get` on every object). Its role type becomes the custom one (4 for
    /// PBX users, -2 for operators). Objects and actions are checked against the
    /// catalog; at least one is needed (an empty `perms` means full rights).
    pub fn with_perms<I, S>(mut self, allowed: I) -> Result<Self, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut perms = Perms::new();
        for item in allowed {
            let (obj, action) = parse_perm(item.as_ref())?;
            let actions = perms.entry(obj).or_default();
            if !actions.contains(&action) {
                actions.push(action);
            }
        }
        if perms.is_empty() {
            return Err("perms: name at least one OBJECT.ACTION (e.g. DomainCDR.list)".into());
        }
        self.role_type = if self.role_type < 0 { -2 } else { 4 };
        self.perms = Some(perms);
        Ok(self)
    }

    /// Parses `LOGIN:PASSWORD` followed by options, each after a `:`: `operator`
    /// (a platform operator), `domain=N` (a PBX user of domain N, 1 or 2),
    /// `perms=OBJ.ACTION,...` (a restricted role, see [`Account::with_perms`]).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut parts = spec.split(':');
        let (Some(login), Some(password)) = (parts.next(), parts.next()) else {
            return Err(
                "expected LOGIN:PASSWORD[:operator|:domain=N][:perms=OBJ.ACTION,...]".into(),
            );
        };
        if login.is_empty() || password.is_empty() {
            return Err("login and password must not be empty".into());
        }
        let mut account = Account::domain_admin(login, password);
        let (mut operator, mut domain, mut perms) = (false, None, None);
        for option in parts {
            if option == "operator" {
                operator = true;
            } else if let Some(d) = option.strip_prefix("domain=") {
                match d.parse() {
                    Ok(n @ (1 | 2)) => domain = Some(n),
                    _ => return Err(format!("domain={d}: the simulator has domains 1 and 2")),
                }
            } else if let Some(list) = option.strip_prefix("perms=") {
                perms = Some(list);
            } else {
                return Err(format!(
                    "unknown account option {option:?} (operator, domain=1, domain=2, \
                     perms=OBJ.ACTION,...)"
                ));
            }
        }
        match (operator, domain) {
            (true, Some(_)) => {
                return Err("an operator has no domain: give operator or domain=N".into())
            }
            (true, None) => account = Account::operator(login, password),
            (false, Some(n)) => account = account.in_domain(n),
            (false, None) => {}
        }
        if let Some(list) = perms {
            let items = list.split(',').map(str::trim).filter(|s| !s.is_empty());
            account = account.with_perms(items)?;
        }
        Ok(account)
    }
}

/// Checks `perms` set directly (not through [`Account::with_perms`]) against the catalog.
pub(crate) fn check_perms(perms: &Perms) -> Result<(), String> {
    if perms.is_empty() {
        return Err("perms: name at least one OBJECT.ACTION (e.g. DomainCDR.list)".into());
    }
    for (obj, actions) in perms {
        for action in actions {
            parse_perm(&format!("{obj}.{action}"))?;
        }
    }
    Ok(())
}

/// Reads one `OBJECT.ACTION` of a restricted role, checked against the catalog.
fn parse_perm(item: &str) -> Result<(String, String), String> {
    use runtel_protocol::catalog;
    let Some((obj, action)) = item.trim().split_once('.') else {
        return Err(format!(
            "perms: {item:?} is not OBJECT.ACTION (e.g. DomainCDR.list, User.*, *.get)"
        ));
    };
    if obj == "*" {
        let known = catalog::OBJECTS.iter().any(|o| o.has_action(action));
        if action != "*" && !known {
            return Err(format!("perms: no object has the action {action:?}"));
        }
        return Ok((obj.into(), action.into()));
    }
    let Some(spec) = catalog::object(obj) else {
        let hint = catalog::suggest_object(obj)
            .map(|k| format!(" (did you mean {k:?}?)"))
            .unwrap_or_default();
        return Err(format!("perms: unknown object {obj:?}{hint}"));
    };
    if action != "*" && !spec.has_action(action) {
        return Err(format!(
            "perms: {obj} has no action {action:?}; its actions: {}",
            spec.actions.join(", ")
        ));
    }
    Ok((obj.into(), action.into()))
}

/// The default account.
pub const DEFAULT_LOGIN: &str = "admin@sim.runtel.local";
/// The default account's password.
pub const DEFAULT_PASSWORD: &str = "admin";

/// Everything that shapes a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Accounts that may log in.
    pub accounts: Vec<Account>,
    /// How long a token lives.
    pub token_lifetime: Duration,
    /// Consecutive failed logins from a host before the Defender blocks it.
    pub defender_max_failures: u32,
    /// How long the Defender blocks a host.
    pub defender_block: Duration,
    /// How errors are sent.
    pub error_style: ErrorStyle,
    /// Where list answers put records.
    pub list_style: ListStyle,
    /// How get answers carry the record.
    pub get_style: GetStyle,
    /// Seed data: object name and record count, for any object of the catalog
    /// (`runtel_protocol::catalog`). Log objects ([`crate::LOG_OBJECTS`]) get
    /// generated records with the catalog's fields (calls for `DomainCDR`, events
    /// for the others), one every [`crate::SEED_STEP_DT`] seconds (see
    /// [`SimConfig::seed_epoch`] for their dates); configuration objects get
    /// numbered records that pass the catalog's rules. An unknown name is refused
    /// at start.
    pub seed: Vec<(String, u64)>,
    /// The Unix time (`dt`) of the oldest seeded log record, id 1, of every seeded
    /// log object. `None` (the default): dated back from the start, so each
    /// object's newest record is dated when the simulator starts (by its clock,
    /// skew included) and a "last 7 days" query finds records; N records span
    /// (N-1) × 7 s, so up to 370,000 fit in the last 30 days. Pin it to get the
    /// same dates every run: `Some(SEED_BASE_DT)` gives the dates
    /// [`crate::seeded_log_record`] and the constants describe, whatever the count.
    pub seed_epoch: Option<i64>,
    /// Your own records, loaded at start after the seeds: object name and records
    /// (JSON objects), in order. Records keep their fields; one without `id` gets
    /// the next free id (after every explicit one); one without `domain_id` in a
    /// PBX or tenant object is put in domain 1, the default account's. A `User`
    /// with a `login` and `password` can log in, as one created by `append` can.
    /// Unknown objects, records that are not objects, and ids that are not positive
    /// integers or are already taken are refused at start. The binary's
    /// `--fixtures FILE` reads a file with [`load_fixtures`].
    pub fixtures: Vec<(String, Vec<serde_json::Value>)>,
    /// How far the server's clock is ahead of ours (negative: behind), in seconds.
    pub clock_skew_secs: i64,
    /// Extra time every `auth` takes, so concurrent logins overlap visibly in tests.
    pub auth_delay: Duration,
    /// Serve HTTPS with a generated self-signed certificate.
    pub tls: Option<crate::tls::TlsSettings>,
    /// Largest request body accepted.
    pub max_request_bytes: usize,
    /// Close connections that wait this long for a request (or for the client to
    /// read an answer), so idle clients cannot hold connections forever. Zero: never.
    pub idle_timeout: Duration,
    /// The most connections open at once. When reached, the connection idle the
    /// longest is closed for a new one; if none is idle, new clients wait in the
    /// listen backlog until one closes. Zero counts as one.
    pub max_connections: usize,
    /// How list answers page; see [`PagingOptions`].
    pub paging: PagingOptions,
    /// Seed of the fault dice.
    pub fault_seed: u64,
    /// Where `POST /_sim/replay {"vector": NAME}` finds `NAME.json` (the shared
    /// `tests/vectors`); `None` disables replays over HTTP.
    pub vectors_dir: Option<std::path::PathBuf>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            accounts: vec![
                Account::domain_admin(DEFAULT_LOGIN, DEFAULT_PASSWORD),
                Account::operator("operator@sim.runtel.local", "operator"),
            ],
            token_lifetime: Duration::from_secs(4 * 3600),
            defender_max_failures: 5,
            defender_block: Duration::from_secs(600),
            error_style: ErrorStyle::Http,
            list_style: ListStyle::Top,
            get_style: GetStyle::Body,
            seed: Vec::new(),
            seed_epoch: None,
            fixtures: Vec::new(),
            clock_skew_secs: 0,
            auth_delay: Duration::ZERO,
            tls: None,
            max_request_bytes: 16 * 1024 * 1024,
            idle_timeout: Duration::from_secs(30),
            max_connections: 256,
            paging: PagingOptions::default(),
            fault_seed: 1,
            vectors_dir: None,
        }
    }
}

/// Why a [`SimConfig`] was refused at start (inside the `InvalidInput` error of
/// `Simulator::start`; its text is the message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// A [`SimConfig::seed`] entry names an unknown object.
    Seed(String),
    /// A [`SimConfig::fixtures`] record cannot be loaded.
    Fixtures(String),
    /// An [`Account`] in [`SimConfig::accounts`] has `perms` naming an object or
    /// action the catalog does not have.
    Accounts(String),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Seed(m) | ConfigError::Fixtures(m) | ConfigError::Accounts(m) => {
                f.write_str(m)
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// Reads a fixtures file, `{"DomainCDR": [{...}, ...], "User": [...]}`, into what
/// [`SimConfig::fixtures`] takes, in the file's order. Errors name the file, and
/// for malformed JSON the line and column. Object names and records are checked
/// when the simulator starts.
pub fn load_fixtures(
    path: &std::path::Path,
) -> Result<Vec<(String, Vec<serde_json::Value>)>, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{shown}: invalid JSON: {e}"))?;
    let serde_json::Value::Object(map) = value else {
        return Err(format!(
            "{shown}: expected a JSON object of object names and arrays of records, \
             like {{\"DomainCDR\": [{{\"dt\": 1704067200}}]}}"
        ));
    };
    map.into_iter()
        .map(|(name, records)| match records {
            serde_json::Value::Array(list) => Ok((name, list)),
            _ => Err(format!("{shown}: {name:?}: expected an array of records")),
        })
        .collect()
}
