//! The object catalog: every object the API is known to have, once.
//!
//! For each object: its scope (who may touch it and whether operators must name a
//! PBX), whether the vendor documents it or it was only seen in client code,
//! its actions, its key field, its time field if it is a log, and the fields we
//! know with their types and constraints. The simulator routes, validates and
//! seeds from it; the Python proxies and stubs, the CLI's `runtel objects` and
//! the typed records follow it (tests check they name nothing else).
//!
//! Sources are the API reference's tags (`docs/api-reference.md`, section 5):
//! what the vendor documents is [`Source::Vendor`]; objects seen only in client
//! code are [`Source::Field`], and their fields and actions are inferred.

/// Who may use an object, and how a PBX is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Platform users and roles (`User`, `Role`): records carry a `domain_id`;
    /// PBX users see their own PBX's.
    Tenant,
    /// Inside one PBX (`Domain*`): platform operators must pass `domain_id`.
    Domain,
    /// Platform configuration: platform operators only.
    Platform,
}

impl Scope {
    /// `tenant`, `domain` or `platform`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Tenant => "tenant",
            Scope::Domain => "domain",
            Scope::Platform => "platform",
        }
    }
}

/// Where what we know of an object comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Documented by the vendor (name, fields, constraints).
    Vendor,
    /// Seen in client programs that talk to live servers; actions and fields inferred.
    Field,
}

impl Source {
    /// `vendor` or `field`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Vendor => "vendor",
            Source::Field => "field",
        }
    }
}

/// The type of a known field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// An integer.
    Int,
    /// A string.
    Str,
    /// An e-mail address (a string).
    Email,
    /// true or false.
    Bool,
    /// A JSON object.
    Dict,
    /// A JSON array.
    List,
    /// Unix time in whole seconds (an integer).
    UnixTime,
    /// Anything: kept as sent.
    Any,
}

impl FieldType {
    /// `int`, `str`, `email`, `bool`, `dict`, `list`, `unix_time` or `any`.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Int => "int",
            FieldType::Str => "str",
            FieldType::Email => "email",
            FieldType::Bool => "bool",
            FieldType::Dict => "dict",
            FieldType::List => "list",
            FieldType::UnixTime => "unix_time",
            FieldType::Any => "any",
        }
    }
}

/// A known field of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// The field's name.
    pub name: &'static str,
    /// Its type.
    pub ty: FieldType,
    /// Required when creating a record (`append`).
    pub required: bool,
    /// May be `null`.
    pub nullable: bool,
    /// Shortest length, for strings.
    pub min_len: usize,
    /// Longest length, for strings (0: no limit known).
    pub max_len: usize,
    /// The allowed values, for integers (empty: any).
    pub choices: &'static [i64],
    /// Sent by the server but never accepted from the client (`id`, `numbers`).
    pub read_only: bool,
}

const fn field(name: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        required: false,
        nullable: true,
        min_len: 0,
        max_len: 0,
        choices: &[],
        read_only: false,
    }
}

const fn required(mut f: FieldSpec) -> FieldSpec {
    f.required = true;
    f.nullable = false;
    f
}

const fn len(mut f: FieldSpec, min: usize, max: usize) -> FieldSpec {
    f.min_len = min;
    f.max_len = max;
    f
}

const fn choices(mut f: FieldSpec, c: &'static [i64]) -> FieldSpec {
    f.choices = c;
    f
}

const fn read_only(mut f: FieldSpec) -> FieldSpec {
    f.read_only = true;
    f
}

/// Whether an object holds configuration (records you create and change) or a
/// log (records the platform writes; you read and poll them by time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// Created, changed and deleted by clients.
    Config,
    /// Written by the platform, read by clients (`dt` grows).
    Log,
}

impl ObjectKind {
    /// `config` or `log`.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Config => "config",
            ObjectKind::Log => "log",
        }
    }
}

/// One object of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectSpec {
    /// The name as sent in `obj`.
    pub name: &'static str,
    /// Who may use it.
    pub scope: Scope,
    /// Where what we know comes from.
    pub source: Source,
    /// Configuration or log.
    pub kind: ObjectKind,
    /// The actions it answers.
    pub actions: &'static [&'static str],
    /// The field that identifies a record.
    pub key: &'static str,
    /// For logs: the Unix-time field clients poll on.
    pub time_field: Option<&'static str>,
    /// The fields we know (others are kept as sent).
    pub fields: &'static [FieldSpec],
    /// One line for people.
    pub doc: &'static str,
}

impl ObjectSpec {
    /// True when the object answers `action`.
    pub fn has_action(&self, action: &str) -> bool {
        self.actions.contains(&action)
    }

    /// A known field by name.
    pub fn field(&self, name: &str) -> Option<&'static FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// Actions of configuration objects ("as a rule every object supports them").
pub const CONFIG_ACTIONS: &[&str] = &[
    "list",
    "list_with_detail",
    "get",
    "append",
    "update",
    "delete",
];
/// Actions of log objects: read only (inferred: the platform writes them).
pub const LOG_ACTIONS: &[&str] = &["list", "list_with_detail", "get"];
const USER_ACTIONS: &[&str] = &[
    "list",
    "list_with_detail",
    "get",
    "append",
    "update",
    "delete",
    "auth",
    "logout",
];
const DPE_ACTIONS: &[&str] = &["list", "list_with_detail", "get", "get_dialog"];

const ID: FieldSpec = read_only(field("id", FieldType::Int));
const DOMAIN_ID: FieldSpec = field("domain_id", FieldType::Int);
const DT: FieldSpec = field("dt", FieldType::UnixTime);

const USER_FIELDS: &[FieldSpec] = &[
    ID,
    required(len(field("login", FieldType::Email), 1, 50)),
    required(len(field("password", FieldType::Str), 1, 512)),
    len(field("email", FieldType::Email), 0, 50),
    required(len(field("name", FieldType::Str), 1, 50)),
    len(field("surname", FieldType::Str), 0, 50),
    required(choices(field("status", FieldType::Int), &[0, 1])),
    DOMAIN_ID,
    field("role_id", FieldType::Int),
    read_only(field("numbers", FieldType::List)),
];

const ROLE_FIELDS: &[FieldSpec] = &[
    ID,
    required(len(field("name", FieldType::Str), 1, 100)),
    required(choices(field("type", FieldType::Int), &[-1, -2, 1, 4])),
    required(choices(field("status", FieldType::Int), &[0, 1])),
    // Required, but null for platform roles.
    FieldSpec {
        required: true,
        ..DOMAIN_ID
    },
    required(field("perms", FieldType::Dict)),
    required(field("filters", FieldType::Dict)),
    required(field("visible", FieldType::Dict)),
];

const DOMAIN_USER_FIELDS: &[FieldSpec] = &[
    ID,
    DOMAIN_ID,
    required(len(field("uid", FieldType::Str), 1, 20)),
    len(field("pin", FieldType::Str), 0, 20),
    field("user_id", FieldType::Int),
    field("agent", FieldType::Any),
    field("group_outbound", FieldType::Any),
    field("group_interception", FieldType::Any),
    field("group_eavesdrop", FieldType::Any),
];

/// Fields of the call records the simulator serves (inferred: the vendor documents none).
const CDR_FIELDS: &[FieldSpec] = &[
    ID,
    DOMAIN_ID,
    DT,
    field("uuid", FieldType::Str),
    field("direction", FieldType::Str),
    field("src", FieldType::Str),
    field("dst", FieldType::Str),
    field("src_name", FieldType::Str),
    field("duration", FieldType::Int),
    field("billsec", FieldType::Int),
    field("disposition", FieldType::Str),
    field("gateway", FieldType::Str),
    field("record", FieldType::Bool),
];

/// Fields of the other logs as the simulator serves them (inferred).
const EVENT_FIELDS: &[FieldSpec] = &[
    ID,
    DOMAIN_ID,
    DT,
    field("call_uuid", FieldType::Str),
    field("agent", FieldType::Str),
    field("queue", FieldType::Str),
    field("status", FieldType::Str),
    field("wait", FieldType::Int),
];

const DOMAIN_FIELDS: &[FieldSpec] = &[ID, DOMAIN_ID];
const PLATFORM_FIELDS: &[FieldSpec] = &[ID];

const fn config(
    name: &'static str,
    scope: Scope,
    fields: &'static [FieldSpec],
    doc: &'static str,
) -> ObjectSpec {
    ObjectSpec {
        name,
        scope,
        source: Source::Field,
        kind: ObjectKind::Config,
        actions: CONFIG_ACTIONS,
        key: "id",
        time_field: None,
        fields,
        doc,
    }
}

const fn log(name: &'static str, fields: &'static [FieldSpec], doc: &'static str) -> ObjectSpec {
    ObjectSpec {
        name,
        scope: Scope::Domain,
        source: Source::Field,
        kind: ObjectKind::Log,
        actions: LOG_ACTIONS,
        key: "id",
        time_field: Some("dt"),
        fields,
        doc,
    }
}

/// Every known object: the platform's users and roles, then a PBX's
/// configuration, its logs, and the platform's configuration.
pub const OBJECTS: &[ObjectSpec] = &[
    ObjectSpec {
        source: Source::Vendor,
        actions: USER_ACTIONS,
        ..config(
            "User",
            Scope::Tenant,
            USER_FIELDS,
            "platform users (cabinet logins)",
        )
    },
    ObjectSpec {
        source: Source::Vendor,
        ..config(
            "Role",
            Scope::Tenant,
            ROLE_FIELDS,
            "roles and their permissions",
        )
    },
    ObjectSpec {
        source: Source::Vendor,
        ..config(
            "DomainUser",
            Scope::Domain,
            DOMAIN_USER_FIELDS,
            "a PBX's extensions",
        )
    },
    config(
        "DomainAgent",
        Scope::Domain,
        DOMAIN_FIELDS,
        "call-centre agents",
    ),
    config(
        "DomainRole",
        Scope::Domain,
        DOMAIN_FIELDS,
        "a PBX's own roles",
    ),
    config(
        "DomainPermission",
        Scope::Domain,
        DOMAIN_FIELDS,
        "a PBX's permissions",
    ),
    config("DomainQueue", Scope::Domain, DOMAIN_FIELDS, "call queues"),
    config(
        "DomainConference",
        Scope::Domain,
        DOMAIN_FIELDS,
        "conference rooms",
    ),
    config(
        "DomainDialPlan",
        Scope::Domain,
        DOMAIN_FIELDS,
        "dial plan rules",
    ),
    config(
        "DomainGateway",
        Scope::Domain,
        DOMAIN_FIELDS,
        "SIP gateways (trunks)",
    ),
    config(
        "DomainSofiaProfile",
        Scope::Domain,
        DOMAIN_FIELDS,
        "SIP profiles",
    ),
    config(
        "DomainLocalStream",
        Scope::Domain,
        DOMAIN_FIELDS,
        "music on hold streams",
    ),
    config(
        "DomainDialerBatch",
        Scope::Domain,
        DOMAIN_FIELDS,
        "auto-dialer campaigns",
    ),
    config(
        "DomainAutoDialingBatchSchedule",
        Scope::Domain,
        DOMAIN_FIELDS,
        "auto-dialer schedules",
    ),
    log(
        "DomainCDR",
        CDR_FIELDS,
        "call history (call detail records)",
    ),
    log("DomainQueueCDR", EVENT_FIELDS, "queue call records"),
    log(
        "DomainQueueMemberCDR",
        EVENT_FIELDS,
        "queue member call records",
    ),
    log(
        "DomainConferenceCdr",
        EVENT_FIELDS,
        "conference records (sic: Cdr)",
    ),
    log(
        "DomainConferenceMemberCDR",
        EVENT_FIELDS,
        "conference member records",
    ),
    log("DomainAgentStatus", EVENT_FIELDS, "agent status changes"),
    ObjectSpec {
        actions: DPE_ACTIONS,
        ..log(
            "DomainDPEResult",
            EVENT_FIELDS,
            "dial plan results; get_dialog(call_uuid) answers body.dialog",
        )
    },
    log("DomainDialerContact", EVENT_FIELDS, "auto-dialer contacts"),
    log("DomainDialerAttempt", EVENT_FIELDS, "auto-dialer attempts"),
    log("DomainVoiceMail", EVENT_FIELDS, "voicemail messages"),
    log("DomainNotify", EVENT_FIELDS, "notifications"),
    log("DomainCRMEvent", EVENT_FIELDS, "CRM events"),
    log("DomainFax", EVENT_FIELDS, "faxes"),
    config("PbxHost", Scope::Platform, PLATFORM_FIELDS, "PBX hosts"),
    config(
        "GSSystem",
        Scope::Platform,
        PLATFORM_FIELDS,
        "global system settings",
    ),
    config(
        "GSPluginCore",
        Scope::Platform,
        PLATFORM_FIELDS,
        "core plugin settings",
    ),
    config(
        "GSPluginCDR",
        Scope::Platform,
        PLATFORM_FIELDS,
        "CDR plugin settings",
    ),
    config(
        "GSDefaults",
        Scope::Platform,
        PLATFORM_FIELDS,
        "platform defaults",
    ),
    config(
        "ModCallCenter",
        Scope::Platform,
        PLATFORM_FIELDS,
        "call-centre module",
    ),
    config(
        "ModEventSocket",
        Scope::Platform,
        PLATFORM_FIELDS,
        "event socket module",
    ),
    config(
        "ModXmlCdr",
        Scope::Platform,
        PLATFORM_FIELDS,
        "XML CDR module",
    ),
    config(
        "SystemAudioFile",
        Scope::Platform,
        PLATFORM_FIELDS,
        "audio files",
    ),
    config(
        "SystemFileStorage",
        Scope::Platform,
        PLATFORM_FIELDS,
        "file storage",
    ),
    config(
        "SystemLocalStream",
        Scope::Platform,
        PLATFORM_FIELDS,
        "platform streams",
    ),
];

/// The object named `name`, exactly.
pub fn object(name: &str) -> Option<&'static ObjectSpec> {
    OBJECTS.iter().find(|o| o.name == name)
}

/// The object a misspelt name most likely meant: the same name in another case
/// (`DomainCdr`), or one at most two edits away.
pub fn suggest_object(name: &str) -> Option<&'static str> {
    if let Some(o) = OBJECTS.iter().find(|o| o.name.eq_ignore_ascii_case(name)) {
        return Some(o.name);
    }
    OBJECTS
        .iter()
        .map(|o| {
            (
                edit_distance(&name.to_ascii_lowercase(), &o.name.to_ascii_lowercase()),
                o.name,
            )
        })
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, n)| n)
}

/// The catalog as JSON (for `GET /_sim/objects`, `runtel objects --json`, other
/// languages): one entry per object with its scope, source, kind, actions, key,
/// time field and fields.
pub fn to_json() -> serde_json::Value {
    let objects: Vec<serde_json::Value> = OBJECTS
        .iter()
        .map(|o| {
            let fields: Vec<serde_json::Value> = o
                .fields
                .iter()
                .map(|f| {
                    let mut v = serde_json::json!({"name": f.name, "type": f.ty.as_str(),
                        "required": f.required, "nullable": f.nullable,
                        "read_only": f.read_only});
                    if f.max_len > 0 {
                        v["min_len"] = f.min_len.into();
                        v["max_len"] = f.max_len.into();
                    }
                    if !f.choices.is_empty() {
                        v["choices"] = f.choices.into();
                    }
                    v
                })
                .collect();
            serde_json::json!({
                "name": o.name, "scope": o.scope.as_str(), "source": o.source.as_str(),
                "kind": o.kind.as_str(),
                "actions": o.actions, "key": o.key, "time_field": o.time_field,
                "fields": fields, "doc": o.doc,
            })
        })
        .collect();
    serde_json::Value::Array(objects)
}

/// Levenshtein distance, for "did you mean" hints.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_consistent() {
        let mut names = std::collections::HashSet::new();
        for o in OBJECTS {
            assert!(names.insert(o.name), "{} twice", o.name);
            assert!(o.field(o.key).is_some(), "{}: key is a field", o.name);
            if let Some(t) = o.time_field {
                assert_eq!(o.field(t).unwrap().ty, FieldType::UnixTime, "{}", o.name);
                assert_eq!(o.kind, ObjectKind::Log);
            }
            if o.scope == Scope::Domain {
                assert!(o.field("domain_id").is_some(), "{}", o.name);
            }
            assert_eq!(
                o.name.starts_with("Domain"),
                o.scope == Scope::Domain,
                "{}",
                o.name
            );
        }
        assert_eq!(OBJECTS.len(), 38);
    }

    #[test]
    fn misspelt_names_are_suggested() {
        assert_eq!(suggest_object("DomainCdr"), Some("DomainCDR"));
        assert_eq!(suggest_object("DomainQeue"), Some("DomainQueue"));
        assert_eq!(suggest_object("Nothing"), None);
    }
}
