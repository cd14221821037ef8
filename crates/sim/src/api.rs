//! The API itself: accounts, tokens and the Defender (`docs/api-reference.md` §4),
//! and the actions on objects (`docs/api-reference.md` §5). Which objects exist,
//! the actions each answers, who may use them and their fields come from the
//! catalog (`runtel_protocol::catalog`); roles' `perms` restrict what their users
//! may do.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::SystemTime;

use runtel_protocol::catalog::{ObjectKind, ObjectSpec, Scope};
use runtel_protocol::{Call, ServerDateTime};
use serde_json::{json, Map, Value};

use crate::config::{Account, ConfigError, ErrorStyle, GetStyle, ListStyle, SimConfig};
use crate::schema;
use crate::store::{
    known_objects, seeded_config_record, spec_of, suggest_object, Filter, Store, LOG_OBJECTS,
    SEED_STEP_DT,
};

/// What to send back for one API request.
pub(crate) enum Answer {
    /// A JSON envelope with this HTTP status.
    Envelope {
        status: u16,
        envelope: Map<String, Value>,
        /// A pre-serialized `list` array, sent after the other fields (big seeded pages).
        raw_list: Option<String>,
    },
    /// An HTML page (the Defender's block page).
    Html { status: u16, body: Vec<u8> },
}

struct Token {
    account: usize,
    expires_at: SystemTime,
}

#[derive(Default)]
struct HostRecord {
    failures: u32,
    blocked_until: Option<SystemTime>,
}

/// Everything the server knows, behind one lock.
pub(crate) struct World {
    pub config: SimConfig,
    accounts: Vec<Account>,
    tokens: HashMap<String, Token>,
    hosts: HashMap<IpAddr, HostRecord>,
    pub store: Store,
    /// The token of the last successful login, for leak checks in tests.
    pub last_token: Option<String>,
    token_counter: u64,
    token_salt: u64,
    /// The server's Unix time at start: unpinned seeded logs end here.
    seed_now: i64,
}

/// The fields of a successful answer.
struct Fields {
    map: Map<String, Value>,
    raw_list: Option<String>,
}

impl From<Map<String, Value>> for Fields {
    fn from(map: Map<String, Value>) -> Self {
        Fields {
            map,
            raw_list: None,
        }
    }
}

struct Refusal {
    code: u16,
    msg_id: &'static str,
    message: String,
    errors: Option<Map<String, Value>>,
}

/// A 400 validation error for one field, in the `{field: [message]}` shape.
fn field_error(field: &str, message: &str) -> Refusal {
    let mut errors = Map::new();
    errors.insert(field.into(), json!([message]));
    Refusal {
        errors: Some(errors),
        ..refuse(400, "validation_error", "Invalid fields")
    }
}

fn refuse(code: u16, msg_id: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        msg_id,
        message: message.into(),
        errors: None,
    }
}

/// A 400 validation error with the `{field: [messages]}` the schema gave.
fn invalid(errors: Map<String, Value>) -> Refusal {
    Refusal {
        errors: Some(errors),
        ..refuse(400, "validation_error", "Invalid fields")
    }
}

/// The catalog entry of the object a call names, or the 400 the API gives for an
/// object it does not have (with a suggestion for a slip).
fn object_of(call: &Call) -> Result<&'static ObjectSpec, Refusal> {
    let name = call.obj();
    spec_of(name).ok_or_else(|| {
        let hint = suggest_object(name)
            .map(|k| format!(" (did you mean {k}?)"))
            .unwrap_or_default();
        refuse(
            400,
            "unknown_object",
            format!("Unknown object {name}{hint}"),
        )
    })
}

/// The 400 for an action the catalog does not give the object; for a log, says
/// it is read only.
fn no_action(spec: &ObjectSpec, action: &str) -> Refusal {
    let why = match spec.kind {
        ObjectKind::Log => format!(
            ": it is a log the platform writes, read only (actions: {})",
            spec.actions.join(", ")
        ),
        ObjectKind::Config => format!(" (actions: {})", spec.actions.join(", ")),
    };
    refuse(
        400,
        "unknown_action",
        format!("{} has no action {action}{why}", spec.name),
    )
}

/// Whether a role's `perms` allow `action` on `obj`. `{}` allows everything (the
/// built-in roles); otherwise the object's entry (or `*`'s) must list the action
/// or `*`. A list of numbers, the vendor's codes whose meaning is unknown, allows
/// every action of its object.
fn perms_allow(perms: &Map<String, Value>, obj: &str, action: &str) -> bool {
    if perms.is_empty() {
        return true;
    }
    let allows = |entry: Option<&Value>| match entry {
        Some(Value::Array(list)) => {
            list.iter()
                .any(|v| v.as_str().is_some_and(|a| a == action || a == "*"))
                || (!list.is_empty() && list.iter().all(Value::is_number))
        }
        Some(Value::String(a)) => a == action || a == "*",
        _ => false,
    };
    allows(perms.get(obj)) || allows(perms.get("*"))
}

const DOMAINS: &[(i64, &str)] = &[(1, "sim.runtel.local"), (2, "second.runtel.local")];

/// "unknown object" for start-up errors: a slip gets a suggestion, anything
/// else the list of objects that exist.
fn unknown_object(name: &str) -> String {
    match suggest_object(name) {
        Some(known) => format!("unknown object {name:?} (did you mean {known:?}?)"),
        None => format!(
            "unknown object {name:?}; objects: {}",
            known_objects().collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The message for a `seed` entry naming an unknown object.
fn unknown_seed(name: &str) -> String {
    let others: Vec<&str> = known_objects()
        .filter(|o| !LOG_OBJECTS.contains(o))
        .collect();
    let hint = suggest_object(name)
        .map(|k| format!(" (did you mean {k:?}?)"))
        .unwrap_or_default();
    format!(
        "cannot seed {name:?}: unknown object{hint}. Objects that can be seeded: \
         log objects, generated with dates: {}; configuration objects, as numbered \
         records: {}",
        LOG_OBJECTS.join(", "),
        others.join(", ")
    )
}

/// The login account a `User` record gives, the way the platform treats a created
/// user: a user outside any domain, or with the platform role, is an operator.
fn account_of(rec: &Map<String, Value>) -> Account {
    let text = |k: &str| {
        rec.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let role_id = rec.get("role_id").and_then(Value::as_i64).unwrap_or(2);
    let domain_id = rec.get("domain_id").and_then(Value::as_i64);
    Account {
        login: text("login"),
        password: text("password"),
        role_type: if role_id == 1 || domain_id.is_none() {
            -1
        } else {
            1
        },
        domain_id,
        // What the role allows is read from its record on every call.
        perms: None,
        user_id: rec.get("id").and_then(Value::as_i64).unwrap_or_default(),
        role_id,
    }
}

impl World {
    /// A world with its built-in records, seeds and fixtures, or why the
    /// configuration cannot be served.
    pub fn new(mut config: SimConfig, now: SystemTime) -> Result<World, ConfigError> {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u8(1);
        let seed_now = match now.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        };
        let fixtures = std::mem::take(&mut config.fixtures);
        let mut world = World {
            accounts: config.accounts.clone(),
            config,
            tokens: HashMap::new(),
            hosts: HashMap::new(),
            store: Store::default(),
            last_token: None,
            token_counter: 0,
            token_salt: h.finish(),
            seed_now,
        };
        world.seed()?;
        world.load_fixtures(fixtures)?;
        Ok(world)
    }

    fn seed(&mut self) -> Result<(), ConfigError> {
        let roles = self.store.collection("Role");
        roles.insert(obj(
            json!({"name": "Platform administrator", "type": -1, "status": 1,
            "domain_id": null, "perms": {}, "filters": {}, "visible": {}}),
        ));
        roles.insert(obj(
            json!({"name": "PBX administrator", "type": 1, "status": 1,
            "domain_id": 1, "perms": {}, "filters": {}, "visible": {}}),
        ));
        roles.insert(obj(
            json!({"name": "PBX administrator", "type": 1, "status": 1,
            "domain_id": 2, "perms": {}, "filters": {}, "visible": {}}),
        ));
        let accounts = self.accounts.clone();
        for (i, a) in accounts.iter().enumerate() {
            let role_id = match (&a.perms, a.role_type, a.domain_id) {
                (Some(perms), _, _) => {
                    // A restricted account gets a role of its own, a Role record
                    // like any other: changing its perms changes what it may do.
                    crate::config::check_perms(perms).map_err(|e| {
                        ConfigError::Accounts(format!("account {:?}: {e}", a.login))
                    })?;
                    let role = self.store.collection("Role").insert(obj(json!({
                        "name": format!("Restricted role of {}", a.login),
                        "type": if a.role_type < 0 { -2 } else { 4 },
                        "status": 1, "domain_id": a.domain_id, "perms": perms,
                        "filters": {}, "visible": {}})));
                    role["id"].as_i64().unwrap_or_default()
                }
                (None, t, _) if t < 0 => 1,
                (None, _, Some(2)) => 3,
                (None, _, _) => 2,
            };
            let name = a.login.split('@').next().unwrap_or("user").to_owned();
            let rec = self.store.collection("User").insert(obj(json!({
                "login": a.login, "password": a.password, "email": a.login,
                "name": name, "surname": "", "status": 1,
                "domain_id": a.domain_id, "role_id": role_id})));
            self.accounts[i].user_id = rec["id"].as_i64().unwrap_or_default();
            self.accounts[i].role_id = role_id;
        }
        let seeds = self.config.seed.clone();
        // All checked first, so a refused configuration does no work.
        if let Some((name, _)) = seeds.iter().find(|(n, _)| spec_of(n).is_none()) {
            return Err(ConfigError::Seed(unknown_seed(name)));
        }
        for (name, count) in seeds {
            if let Some(spec) = spec_of(&name) {
                self.seed_object(spec, count);
            }
        }
        Ok(())
    }

    /// The `dt` of the oldest of `count` seeded records: pinned, or far enough
    /// back that the newest is dated now.
    fn seed_oldest_dt(&self, count: i64) -> i64 {
        self.config
            .seed_epoch
            .unwrap_or(self.seed_now - (count - 1).max(0).saturating_mul(SEED_STEP_DT))
    }

    /// The `dt` of seeded log record `index` (0: the oldest, id 1) of `obj`; for an
    /// object without seeded logs, what its first would be.
    pub fn seed_dt(&self, obj: &str, index: i64) -> i64 {
        let oldest = match self.store.collections.get(obj).map(|c| c.seeded_logs()) {
            Some((n, oldest)) if n > 0 => oldest,
            _ => self.seed_oldest_dt(0),
        };
        oldest + index * SEED_STEP_DT
    }

    /// Seeds `count` records of a catalog object: generated logs dated back from
    /// the start (or from the pinned epoch), or configuration records built from
    /// the catalog's fields.
    fn seed_object(&mut self, spec: &ObjectSpec, count: u64) {
        let count = count as i64;
        if spec.kind == ObjectKind::Log {
            let oldest = self.seed_oldest_dt(count);
            self.store.collection(spec.name).seed_logs(count, 1, oldest);
            return;
        }
        for i in 1..=count {
            let rec = seeded_config_record(spec, i);
            self.store.collection(spec.name).insert(rec);
        }
    }

    /// Stores the fixtures: records with an id first, so the ones without get ids
    /// after every id the file names and never take one it uses further down.
    fn load_fixtures(&mut self, fixtures: Vec<(String, Vec<Value>)>) -> Result<(), ConfigError> {
        let bad = |name: &str, i: usize, why: String| {
            ConfigError::Fixtures(format!("{name}[{i}]: {why}"))
        };
        let mut without_id = Vec::new();
        // Records without an id are stored last, so the store cannot see their
        // logins yet. `auth` matches logins in any case, so this check does too.
        let mut fixture_logins = std::collections::HashSet::new();
        for (name, records) in fixtures {
            let Some(spec) = spec_of(&name) else {
                return Err(ConfigError::Fixtures(unknown_object(&name)));
            };
            let scope = spec.scope;
            for (i, rec) in records.into_iter().enumerate() {
                let Value::Object(mut rec) = rec else {
                    let kind = match rec {
                        Value::Array(_) => "an array",
                        Value::String(_) => "a string",
                        Value::Number(_) => "a number",
                        Value::Bool(_) => "a boolean",
                        _ => "null",
                    };
                    return Err(bad(&name, i, format!("expected a JSON object, got {kind}")));
                };
                if scope != Scope::Platform && !rec.contains_key("domain_id") {
                    rec.insert("domain_id".into(), 1.into());
                }
                if spec.has_action("auth") {
                    if let Some(login) = rec.get("login").and_then(Value::as_str) {
                        let fresh = fixture_logins.insert(login.to_lowercase());
                        let taken = self.login_taken(login, None)
                            || self
                                .accounts
                                .iter()
                                .any(|a| a.login.eq_ignore_ascii_case(login));
                        if !fresh || taken {
                            return Err(bad(&name, i, format!("login {login:?} is already taken")));
                        }
                    }
                }
                let id = match rec.get("id") {
                    None | Some(Value::Null) => {
                        without_id.push((name.clone(), rec));
                        continue;
                    }
                    Some(v) => v.as_i64().filter(|id| *id > 0).ok_or_else(|| {
                        bad(
                            &name,
                            i,
                            format!("`id` must be a positive integer, not {v}"),
                        )
                    })?,
                };
                let collection = self.store.collection(&name);
                if collection.id_taken(id) {
                    return Err(bad(
                        &name,
                        i,
                        format!(
                            "id {id} is already taken (by a built-in or seeded record, or an \
                             earlier fixture); leave `id` out to have one assigned"
                        ),
                    ));
                }
                collection.insert_with_id(id, rec.clone());
                rec.insert("id".into(), id.into());
                self.add_fixture_account(&name, &rec);
            }
        }
        for (name, rec) in without_id {
            let rec = self.store.collection(&name).insert(rec);
            self.add_fixture_account(&name, &rec);
        }
        Ok(())
    }

    /// Makes a stored record of an object one logs in with (the catalog's objects
    /// with `auth`: `User`) an account, when it has a login and a password.
    fn add_fixture_account(&mut self, obj_name: &str, rec: &Map<String, Value>) {
        let account = account_of(rec);
        let logs_in = spec_of(obj_name).is_some_and(|s| s.has_action("auth"));
        if logs_in && !account.login.is_empty() && !account.password.is_empty() {
            self.accounts.push(account);
        }
    }

    /// Blocked hosts get the Defender's page for everything.
    pub fn defender_blocks(&mut self, peer: IpAddr, now: SystemTime) -> Option<Answer> {
        let host = self.hosts.get_mut(&peer)?;
        match host.blocked_until {
            Some(until) if now < until => Some(Answer::Html {
                status: 403,
                body: crate::http::html_page(
                    403,
                    "<p>Your host has been blocked by the Defender after too many failed logins.</p>\r\n",
                ),
            }),
            Some(_) => {
                host.blocked_until = None;
                host.failures = 0;
                None
            }
            None => None,
        }
    }

    pub fn unblock_all(&mut self) {
        self.hosts.clear();
    }

    /// Ends every token; returns how many were live.
    pub fn expire_all_tokens(&mut self) -> usize {
        let n = self.tokens.len();
        self.tokens.clear();
        n
    }

    pub fn handle(
        &mut self,
        call: &Call,
        action_id: &str,
        token: Option<&str>,
        peer: IpAddr,
        now: SystemTime,
    ) -> Answer {
        let result = if call.action() == "auth" {
            self.auth(call, peer, now).map(Fields::from)
        } else {
            self.authorized(call, token, now)
        };
        let style = self.config.error_style;
        match result {
            Ok(fields) => {
                let mut env = Map::new();
                env.insert("action".into(), call.action().into());
                env.insert("action_id".into(), action_id.into());
                env.insert("obj".into(), call.obj().into());
                env.insert("code".into(), 200.into());
                env.insert("notifies".into(), Value::Array(Vec::new()));
                env.extend(fields.map);
                Answer::Envelope {
                    status: 200,
                    envelope: env,
                    raw_list: fields.raw_list,
                }
            }
            Err(r) => {
                let mut env = Map::new();
                env.insert("action".into(), call.action().into());
                env.insert("action_id".into(), action_id.into());
                env.insert("obj".into(), call.obj().into());
                env.insert("code".into(), r.code.into());
                env.insert("msg_id".into(), r.msg_id.into());
                env.insert("message".into(), r.message.into());
                if let Some(e) = r.errors {
                    env.insert("errors".into(), Value::Object(e));
                }
                env.insert("notifies".into(), Value::Array(Vec::new()));
                env.insert("body".into(), Value::Object(Map::new()));
                let status = match style {
                    ErrorStyle::Http => r.code,
                    ErrorStyle::Envelope => 200,
                };
                Answer::Envelope {
                    status,
                    envelope: env,
                    raw_list: None,
                }
            }
        }
    }

    fn new_token(&mut self) -> String {
        self.token_counter += 1;
        let mut out = String::with_capacity(64);
        let mut x = self.token_salt ^ self.token_counter.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for _ in 0..4 {
            x = crate::store::mix(x);
            out.push_str(&format!("{x:016x}"));
        }
        out
    }

    fn auth(
        &mut self,
        call: &Call,
        peer: IpAddr,
        now: SystemTime,
    ) -> Result<Map<String, Value>, Refusal> {
        let spec = object_of(call)?;
        if !spec.has_action("auth") {
            return Err(no_action(spec, "auth"));
        }
        let p = call.params();
        let login = p.get("login").and_then(Value::as_str).unwrap_or_default();
        let password = p
            .get("password")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let found = self.accounts.iter().position(|a| {
            !a.password.is_empty() && a.login.eq_ignore_ascii_case(login) && a.password == password
        });
        let Some(index) = found else {
            let host = self.hosts.entry(peer).or_default();
            host.failures += 1;
            if host.failures >= self.config.defender_max_failures {
                host.blocked_until = Some(now + self.config.defender_block);
            }
            return Err(refuse(401, "auth_failed", "Wrong login or password"));
        };
        self.hosts.remove(&peer);
        let token = self.new_token();
        self.last_token = Some(token.clone());
        let expires_at = now + self.config.token_lifetime;
        self.tokens.insert(
            token.clone(),
            Token {
                account: index,
                expires_at,
            },
        );
        let a = self.accounts[index].clone();
        let domain = a
            .domain_id
            .and_then(|d| DOMAINS.iter().find(|(id, _)| *id == d));
        let role = self.role(a.role_id);
        let role_name = match role.as_ref().and_then(|r| r.get("name")?.as_str()) {
            Some(name) => name.to_owned(),
            None if a.role_type < 0 => "Platform administrator".to_owned(),
            None => "PBX administrator".to_owned(),
        };
        let role_field = |k: &str| match role.as_ref().and_then(|r| r.get(k)) {
            Some(Value::Object(m)) => Value::Object(m.clone()),
            _ => json!({}),
        };
        let body = json!({
            "version": {"software": "2.9.0", "last_update": 1_631_889_200.532_154},
            "exp": ServerDateTime::from_system_time(expires_at).to_string(),
            "user_id": a.user_id,
            "user_name": a.login.split('@').next().unwrap_or_default(),
            "user_login": a.login,
            "domain_id": a.domain_id,
            "role_id": a.role_id,
            "role_name": role_name,
            "role_type": a.role_type,
            "role_perms": role_field("perms"),
            "role_visible": role_field("visible"),
            "role_filters": role_field("filters"),
            "auth_type": "http",
            "domain_name": domain.map(|(_, n)| *n),
            "domain_test_until": null,
            "domain_mode": 2,
            "domain_billing_options": {"balance": "1000.0", "block_inbound": false,
                                       "block_outbound": false, "block_face": false},
            "tz": "Europe/Prague",
            "locale": "en_US",
            "token": token,
        });
        Ok(obj(json!({ "body": body })))
    }

    /// The record of role `id`, as stored now (`None` if there is none).
    fn role(&mut self, id: i64) -> Option<Map<String, Value>> {
        self.store.collection("Role").get("Role", id)
    }

    /// Refuses with 403 what the account's role does not allow: its `perms`, read
    /// from the Role record on every call (`auth` and `logout` are always allowed).
    fn permitted(&mut self, who: &Account, spec: &ObjectSpec, action: &str) -> Result<(), Refusal> {
        if matches!(action, "auth" | "logout") {
            return Ok(());
        }
        let perms = match self.role(who.role_id).and_then(|mut r| r.remove("perms")) {
            Some(Value::Object(perms)) => perms,
            // No role record, or perms that are no mapping: nothing restricts.
            _ => return Ok(()),
        };
        if perms_allow(&perms, spec.name, action) {
            Ok(())
        } else {
            Err(refuse(
                403,
                "forbidden",
                format!(
                    "Your role may not {action} {}: its perms do not allow it",
                    spec.name
                ),
            ))
        }
    }

    fn authorized(
        &mut self,
        call: &Call,
        token: Option<&str>,
        now: SystemTime,
    ) -> Result<Fields, Refusal> {
        let Some(token) = token.map(str::to_owned) else {
            return Err(refuse(
                401,
                "token_required",
                "Authorization token is missing",
            ));
        };
        let account = match self.tokens.get(&token) {
            Some(t) if now < t.expires_at => self.accounts[t.account].clone(),
            Some(_) => {
                self.tokens.remove(&token);
                return Err(refuse(401, "token_expired", "Token has expired"));
            }
            None => return Err(refuse(401, "token_invalid", "Invalid token")),
        };
        self.act(call, &account, &token)
    }

    /// One call by a logged-in account: the object and action must be the
    /// catalog's, the role must allow it, and the scope decides the domain.
    fn act(&mut self, call: &Call, who: &Account, token: &str) -> Result<Fields, Refusal> {
        let spec = object_of(call)?;
        let obj_name = spec.name;
        let action = call.action();
        if !spec.has_action(action) {
            return Err(no_action(spec, action));
        }
        let operator = who.role_type < 0;
        if spec.scope == Scope::Platform && !operator {
            return Err(refuse(
                403,
                "forbidden",
                format!("{obj_name} is for platform operators only"),
            ));
        }
        self.permitted(who, spec, action)?;
        if action == "logout" {
            self.tokens.remove(token);
            return Ok(obj(json!({"body": {}})).into());
        }
        let asked_domain = match call.params().get("domain_id") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_i64()
                    .ok_or_else(|| field_error("domain_id", "Not a valid integer."))?,
            ),
        };
        // The domain this call acts in (None: all, for operators on tenant objects).
        let domain = match (spec.scope, operator) {
            (Scope::Platform, _) => None,
            (_, false) => match asked_domain {
                Some(d) if Some(d) != who.domain_id => {
                    return Err(refuse(403, "forbidden", format!("No access to domain {d}")))
                }
                _ => who.domain_id,
            },
            (Scope::Domain, true) => match asked_domain {
                None => {
                    return Err(refuse(
                        400,
                        "domain_required",
                        "Platform operators must pass domain_id to act inside a PBX",
                    ))
                }
                Some(d) if !DOMAINS.iter().any(|(id, _)| *id == d) => {
                    return Err(refuse(404, "domain_not_found", format!("No domain {d}")))
                }
                Some(d) => Some(d),
            },
            (Scope::Tenant, true) => asked_domain,
        };
        match action {
            "list" | "list_with_detail" => self.list(call, spec, domain),
            _ => self.act_one(call, spec, domain, operator).map(Fields::from),
        }
    }

    fn act_one(
        &mut self,
        call: &Call,
        spec: &'static ObjectSpec,
        domain: Option<i64>,
        operator: bool,
    ) -> Result<Map<String, Value>, Refusal> {
        let obj_name = spec.name;
        match call.action() {
            "get" => {
                let rec = self.find(call, spec, domain)?;
                Ok(match self.config.get_style {
                    GetStyle::Body => obj(json!({"body": rec})),
                    GetStyle::List => obj(json!({"body": {}, "list": [rec], "total_count": 1})),
                })
            }
            "append" => self.append(call, spec, domain, operator),
            "update" => self.update(call, spec, domain),
            "delete" => {
                let rec = self.find(call, spec, domain)?;
                let id = rec["id"].as_i64().unwrap_or_default();
                self.remove(spec, id);
                Ok(obj(json!({"body": {"id": id}})))
            }
            "get_dialog" => {
                let uuid = call
                    .params()
                    .get("call_uuid")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if uuid.is_empty() {
                    return Err(field_error("call_uuid", "Missing data for required field."));
                }
                // Dated with the seeded results, so pinned dates stay pinned.
                let dt = self.seed_dt(obj_name, 0);
                Ok(obj(json!({"body": {"dialog": [
                    {"dt": dt, "who": "bot", "text": "Hello! How can I help?"},
                    {"dt": dt + 3, "who": "caller", "text": format!("Call {uuid}")},
                ]}})))
            }
            // An action the catalog gives but the simulator does not act out.
            other => Err(refuse(
                400,
                "unknown_action",
                format!("{obj_name} has no action {other} in the simulator"),
            )),
        }
    }

    /// Deletes record `id` of `spec`; for an object one logs in with, the account
    /// can no longer log in and its tokens end. True if there was such a record.
    fn remove(&mut self, spec: &ObjectSpec, id: i64) -> bool {
        let removed = self.store.collection(spec.name).delete(id);
        if removed && spec.has_action("auth") {
            // Accounts keep their index (tokens refer to it), so blank the password.
            for (i, a) in self.accounts.iter_mut().enumerate() {
                if a.user_id == id {
                    a.password.clear();
                    self.tokens.retain(|_, t| t.account != i);
                }
            }
        }
        removed
    }

    fn list(
        &mut self,
        call: &Call,
        spec: &ObjectSpec,
        domain: Option<i64>,
    ) -> Result<Fields, Refusal> {
        let obj_name = spec.name;
        let mut filter =
            Filter::parse(call.get_filter()).map_err(|m| refuse(400, "bad_filter", m))?;
        for (k, v) in call.params() {
            if k != "domain_id" {
                filter = filter.and_equals(k, v.clone());
            }
        }
        let paging = self.config.paging;
        let offset = match paging.ignore_offset {
            true => 0,
            false => call.get_offset().unwrap_or(0),
        };
        let limit = match (call.get_limit(), paging.max_page_size) {
            (Some(asked), Some(max)) => Some(asked.min(max)),
            (asked, max) => asked.or(max),
        };
        let with_total = |total: u64, mut map: Map<String, Value>| {
            if !paging.omit_total_count {
                map.insert("total_count".into(), total.into());
            }
            map
        };
        if call.action() == "list" && self.config.list_style == ListStyle::Top {
            let fast = self
                .store
                .collection(obj_name)
                .list_seeded_raw(obj_name, domain, &filter, offset, limit);
            if let Some((raw, total)) = fast {
                return Ok(Fields {
                    map: with_total(total, Map::new()),
                    raw_list: Some(raw),
                });
            }
        }
        let page = self
            .store
            .collection(obj_name)
            .list(obj_name, domain, &filter, offset, limit);
        let detail = call.action() == "list_with_detail";
        // `numbers` is read only: the server fills it, from the extensions.
        let numbers = spec
            .field("numbers")
            .filter(|f| f.read_only)
            .map(|_| self.numbers_by_user());
        let records: Vec<Value> = page
            .records
            .into_iter()
            .map(|mut r| {
                r.shift_remove("password");
                if let Some(n) = &numbers {
                    let id = r.get("id").and_then(Value::as_i64).unwrap_or_default();
                    r.insert(
                        "numbers".into(),
                        json!(n.get(&id).cloned().unwrap_or_default()),
                    );
                }
                if detail {
                    r.insert("detail".into(), json!({"object": obj_name}));
                }
                Value::Object(r)
            })
            .collect();
        let list = with_total(page.total, obj(json!({ "list": records })));
        Ok(match self.config.list_style {
            ListStyle::Top => list,
            ListStyle::Body => obj(json!({ "body": list })),
        }
        .into())
    }

    /// The extension numbers (`DomainUser.uid`) of each user (`DomainUser.user_id`).
    fn numbers_by_user(&mut self) -> HashMap<i64, Vec<String>> {
        let mut out: HashMap<i64, Vec<String>> = HashMap::new();
        let page = self.store.collection("DomainUser").list(
            "DomainUser",
            None,
            &Filter::default(),
            0,
            None,
        );
        for r in page.records {
            if let (Some(u), Some(uid)) = (
                r.get("user_id").and_then(Value::as_i64),
                r.get("uid").and_then(Value::as_str),
            ) {
                out.entry(u).or_default().push(uid.to_owned());
            }
        }
        out
    }

    fn id_of(call: &Call) -> Result<i64, Refusal> {
        call.params()
            .get("id")
            .and_then(Value::as_i64)
            .ok_or_else(|| field_error("id", "Missing data for required field."))
    }

    fn find(
        &mut self,
        call: &Call,
        spec: &ObjectSpec,
        domain: Option<i64>,
    ) -> Result<Map<String, Value>, Refusal> {
        let id = Self::id_of(call)?;
        let obj_name = spec.name;
        let mut rec = self
            .store
            .collection(obj_name)
            .get(obj_name, id)
            .ok_or_else(|| refuse(404, "not_found", format!("{obj_name} {id} not found")))?;
        let rec_domain = rec.get("domain_id").and_then(Value::as_i64);
        if let Some(d) = domain {
            if rec_domain != Some(d) {
                if spec.scope == Scope::Tenant && rec_domain.is_some() {
                    return Err(refuse(
                        403,
                        "forbidden",
                        format!("No access to {obj_name} {id}"),
                    ));
                }
                return Err(refuse(
                    404,
                    "not_found",
                    format!("{obj_name} {id} not found"),
                ));
            }
        }
        rec.shift_remove("password");
        Ok(rec)
    }

    fn append(
        &mut self,
        call: &Call,
        spec: &ObjectSpec,
        domain: Option<i64>,
        operator: bool,
    ) -> Result<Map<String, Value>, Refusal> {
        let obj_name = spec.name;
        let mut fields = call.params().clone();
        schema::drop_read_only(spec, &mut fields);
        if let Some(d) = domain {
            fields.insert("domain_id".into(), d.into());
        } else if !operator {
            fields.remove("domain_id");
        }
        schema::validate(spec, &fields, true).map_err(invalid)?;
        let logs_in = spec.has_action("auth");
        if logs_in {
            let login = fields
                .get("login")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if self.login_taken(&login, None) {
                return Err(field_error(
                    "login",
                    "A user with this login already exists.",
                ));
            }
        }
        let mut rec = self.store.collection(obj_name).insert(fields);
        if logs_in {
            // A created user can log in, as on the real platform.
            self.accounts.push(account_of(&rec));
        }
        rec.shift_remove("password");
        Ok(obj(json!({"body": rec})))
    }

    fn login_taken(&mut self, login: &str, except: Option<i64>) -> bool {
        let f = Filter::default().and_equals("login", login.into());
        self.store
            .collection("User")
            .list("User", None, &f, 0, None)
            .records
            .iter()
            .any(|r| r.get("id").and_then(Value::as_i64) != except)
    }

    fn update(
        &mut self,
        call: &Call,
        spec: &ObjectSpec,
        domain: Option<i64>,
    ) -> Result<Map<String, Value>, Refusal> {
        let obj_name = spec.name;
        self.find(call, spec, domain)?;
        let id = Self::id_of(call)?;
        let mut fields = call.params().clone();
        schema::drop_read_only(spec, &mut fields);
        if domain.is_some() {
            fields.remove("domain_id");
        }
        schema::validate(spec, &fields, false).map_err(invalid)?;
        let logs_in = spec.has_action("auth");
        if let (true, Some(login)) = (logs_in, fields.get("login").and_then(Value::as_str)) {
            if self.login_taken(login, Some(id)) {
                return Err(field_error(
                    "login",
                    "A user with this login already exists.",
                ));
            }
        }
        let mut rec = self
            .store
            .collection(obj_name)
            .update(obj_name, id, &fields)
            .ok_or_else(|| refuse(404, "not_found", format!("{obj_name} {id} not found")))?;
        rec.shift_remove("password");
        // A changed password takes effect for logins.
        if logs_in {
            if let Some(p) = fields.get("password").and_then(Value::as_str) {
                for a in &mut self.accounts {
                    if a.user_id == id {
                        a.password = p.to_owned();
                    }
                }
            }
        }
        Ok(obj(json!({"body": rec})))
    }

    /// Records written as the platform writes them (for logs, the only way): each
    /// checked against the catalog's types and required fields, all before any is
    /// stored; `id` assigned, `domain_id` 1 unless given (not for platform
    /// objects). Returns the new ids.
    pub fn insert_records(
        &mut self,
        obj_name: &str,
        records: Vec<Value>,
    ) -> Result<Vec<i64>, String> {
        let spec = spec_of(obj_name).ok_or_else(|| unknown_object(obj_name))?;
        let mut checked = Vec::with_capacity(records.len());
        for (i, rec) in records.into_iter().enumerate() {
            let Value::Object(mut rec) = rec else {
                return Err(format!("{obj_name}[{i}]: expected a JSON object"));
            };
            rec.shift_remove("id");
            if spec.scope != Scope::Platform && !rec.contains_key("domain_id") {
                rec.insert("domain_id".into(), 1.into());
            }
            if let Err(errors) = schema::validate(spec, &rec, true) {
                let why: Vec<String> = errors
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", v[0].as_str().unwrap_or_default()))
                    .collect();
                return Err(format!("{obj_name}[{i}]: {}", why.join("; ")));
            }
            checked.push(rec);
        }
        let mut ids = Vec::with_capacity(checked.len());
        for rec in checked {
            let rec = self.store.collection(obj_name).insert(rec);
            self.add_fixture_account(obj_name, &rec);
            ids.push(rec["id"].as_i64().unwrap_or_default());
        }
        Ok(ids)
    }

    /// Deletes records as the platform does (any object, logs too); returns how
    /// many of `ids` existed.
    pub fn delete_records(&mut self, obj_name: &str, ids: impl IntoIterator<Item = i64>) -> usize {
        let Some(spec) = spec_of(obj_name) else {
            return 0;
        };
        ids.into_iter().filter(|id| self.remove(spec, *id)).count()
    }
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
