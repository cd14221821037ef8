//! Typed bodies: the auth answer and the documented records.
//!
//! Every type keeps fields it does not know in `extra`, so a newer server loses
//! nothing, and serializes back to the same keys.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::datetime::ServerDateTime;
use crate::extra::deserialize_with_extra;
use crate::secret::Secret;

/// `body.version` of the auth answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoftwareVersion {
    /// Platform software version, e.g. `2.9.0`.
    #[serde(default)]
    pub software: String,
    /// Unix time of the last platform update (fractional seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update: Option<f64>,
    /// Fields this SDK does not know yet.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `body.domain_billing_options` of the auth answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BillingOptions {
    /// The balance as the exact decimal string the server sent (`"1000.0"`):
    /// never a float, so no cent is lost. A balance sent as a JSON number keeps
    /// its digits too (`1000.10` -> `"1000.10"`; only an exponent is respelled,
    /// `1E3` -> `"1e+3"`).
    #[serde(default, deserialize_with = "decimal_string")]
    pub balance: Option<String>,
    /// Inbound calls blocked.
    #[serde(default)]
    pub block_inbound: bool,
    /// Outbound calls blocked.
    #[serde(default)]
    pub block_outbound: bool,
    /// The account's cabinet blocked.
    #[serde(default)]
    pub block_face: bool,
    /// Fields this SDK does not know yet.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Accepts a decimal as a string (as documented) or a JSON number, keeping the text.
fn decimal_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(serde::de::Error::custom(format!(
            "expected a decimal string, got {other}"
        ))),
    }
}

/// The body of a successful `auth`: who is logged in, their role and domain, and
/// the token with its expiry. Every field of the vendor's example is here; `token`
/// is a [`Secret`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthInfo {
    /// The bearer token. `Debug` and `Serialize` mask it.
    pub token: Secret,
    /// When the token expires, as the server wrote it (zone-less, read as UTC).
    pub exp: ServerDateTime,
    /// Platform software version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<SoftwareVersion>,
    /// The user's id (0 when the server sent none or an unreadable one).
    #[serde(default)]
    pub user_id: i64,
    /// The user's display name.
    #[serde(default)]
    pub user_name: String,
    /// The user's login (an e-mail).
    #[serde(default)]
    pub user_login: String,
    /// The PBX (domain) id; absent for platform operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<i64>,
    /// The PBX (domain) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    /// The role id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_id: Option<i64>,
    /// The role name.
    #[serde(default)]
    pub role_name: String,
    /// The role type: -1 platform administrator, -2 custom platform role,
    /// 1 domain administrator, 4 custom domain role (0 when the server sent none
    /// or an unreadable one).
    #[serde(default)]
    pub role_type: i64,
    /// Permissions, keyed by object name.
    #[serde(default)]
    pub role_perms: Map<String, Value>,
    /// Visible objects, keyed by object name.
    #[serde(default)]
    pub role_visible: Map<String, Value>,
    /// Filters, keyed by object name.
    #[serde(default)]
    pub role_filters: Map<String, Value>,
    /// How the user authenticated (`http`).
    #[serde(default)]
    pub auth_type: String,
    /// End of the PBX's trial, `null` when not on trial (format undocumented, kept as sent).
    #[serde(default)]
    pub domain_test_until: Value,
    /// PBX mode (undocumented integer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_mode: Option<i64>,
    /// Billing state of the PBX.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_billing_options: Option<BillingOptions>,
    /// The user's time zone, e.g. `Europe/Prague`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// The user's locale, e.g. `en_US`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// The `notifies` of the auth answer's envelope (messages for the user, such
    /// as a low-balance notice), kept with the login.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifies: Vec<Value>,
    /// Fields this SDK does not know yet.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AuthInfo {
    /// Reads an auth answer's `body` leniently: the token (and its expiry) is
    /// what matters, so a secondary field of an unexpected type never fails the
    /// login. Integers sent as digit strings (`"34"`) and booleans sent as 0/1 or
    /// `"true"`/`"false"` are read as meant; a field that still does not fit is
    /// kept as sent in `extra` (or its object's `extra`), and its name returned.
    ///
    /// `token` must be a non-empty string and `exp` a date-time; anything else
    /// about them is a `protocol` error with the JSON path.
    pub fn from_auth_body(
        body: &Value,
        http_status: u16,
    ) -> crate::Result<(AuthInfo, Vec<String>)> {
        let Value::Object(map) = body else {
            return crate::response::deserialize_at(body, "$.body", "User", "auth", http_status)
                .map(|info| (info, Vec::new()));
        };
        let mut map = map.clone();
        coerce_auth_fields(&mut map);
        let mut set_aside: Vec<(String, Value)> = Vec::new();
        loop {
            let value = Value::Object(map.clone());
            match crate::response::deserialize_at::<AuthInfo>(
                &value,
                "$.body",
                "User",
                "auth",
                http_status,
            ) {
                Ok(mut info) => {
                    let names = set_aside.iter().map(|(k, _)| k.clone()).collect();
                    info.extra.extend(set_aside);
                    return Ok((info, names));
                }
                Err(e) => {
                    // `$.body.domain_mode` or `$.body.version.last_update`: the
                    // top-level field that does not fit.
                    let field = e
                        .protocol_info()
                        .and_then(|p| p.path.as_deref())
                        .and_then(|p| p.strip_prefix("$.body."))
                        .map(|p| p.split(['.', '[']).next().unwrap_or(p).to_owned());
                    match field {
                        Some(f) if f != "token" && f != "exp" && map.contains_key(&f) => {
                            let v = map.remove(&f).expect("checked above");
                            set_aside.push((f, v));
                        }
                        _ => return Err(e),
                    }
                }
            }
        }
    }

    /// True for platform operators (role types -1 and -2), who must pass
    /// `domain_id` in params to act inside a PBX.
    pub fn is_platform_operator(&self) -> bool {
        self.role_type < 0
    }

    /// The auth body as JSON with the token masked, safe to log or show.
    pub fn to_masked_json(&self) -> Value {
        serde_json::to_value(self).expect("AuthInfo always serializes")
    }

    /// The auth body as JSON including the real token, for callers that hand the
    /// token to another tool. Do not log the result.
    pub fn to_json_with_token(&self) -> Value {
        let mut v = self.to_masked_json();
        v["token"] = Value::String(self.token.expose().to_owned());
        v
    }
}

/// Reads integers sent as digit strings and booleans sent as 0/1 or text, in
/// the fields whose types the vendor documents.
fn coerce_auth_fields(map: &mut Map<String, Value>) {
    fn int(v: &mut Value) {
        if let Value::String(s) = v {
            if let Ok(n) = s.trim().parse::<i64>() {
                *v = Value::from(n);
            }
        }
    }
    fn boolean(v: &mut Value) {
        let b = match v {
            Value::Number(n) => match n.as_i64() {
                Some(0) => Some(false),
                Some(1) => Some(true),
                _ => None,
            },
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "0" | "false" => Some(false),
                "1" | "true" => Some(true),
                _ => None,
            },
            _ => None,
        };
        if let Some(b) = b {
            *v = Value::Bool(b);
        }
    }
    for key in [
        "user_id",
        "domain_id",
        "role_id",
        "role_type",
        "domain_mode",
    ] {
        if let Some(v) = map.get_mut(key) {
            int(v);
        }
    }
    if let Some(Value::Object(billing)) = map.get_mut("domain_billing_options") {
        for key in ["block_inbound", "block_outbound", "block_face"] {
            if let Some(v) = billing.get_mut(key) {
                boolean(v);
            }
        }
    }
    if let Some(Value::Object(version)) = map.get_mut("version") {
        if let Some(Value::String(s)) = version.get("last_update") {
            match s.trim().parse::<f64>() {
                Ok(f) if f.is_finite() => {
                    version.insert("last_update".into(), Value::from(f));
                }
                // A date string, say: kept as sent, in the version's own extra.
                _ => {
                    let v = version.remove("last_update").expect("just read");
                    version.insert("last_update_text".into(), v);
                }
            }
        }
    }
}

fn expose_secret<S: serde::Serializer>(v: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(secret) => s.serialize_some(secret.expose()),
        None => s.serialize_none(),
    }
}

/// A platform user (`User`). Documented fields are typed; all are optional because
/// partial records appear in lists and updates.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct User {
    /// Record id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Login, an e-mail (1-50 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    /// Password (write-only; servers do not return it). Masked in `Debug`; serialized
    /// as the real value because a serialized `User` is meant for `append`/`update`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose_secret"
    )]
    pub password: Option<Secret>,
    /// Contact e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Name (1-50 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Surname (0-50 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    /// 1 active, 0 disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    /// The user's PBX.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<i64>,
    /// The user's role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_id: Option<i64>,
    /// Extension numbers (in list answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numbers: Option<Vec<String>>,
    /// Fields this SDK does not know yet.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A role (`Role`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Role {
    /// Record id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Name (1-100 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Role type (see [`AuthInfo::role_type`]).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub role_type: Option<i64>,
    /// Status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    /// The role's PBX.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<i64>,
    /// Permissions keyed by object name (lists of integers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perms: Option<Map<String, Value>>,
    /// Filters keyed by object name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Map<String, Value>>,
    /// Visibility keyed by object name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visible: Option<Map<String, Value>>,
    /// Fields this SDK does not know yet.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An extension of a PBX (`DomainUser`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DomainUser {
    /// Record id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The PBX the extension belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<i64>,
    /// The extension identifier (number), as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<Value>,
    /// The extension's PIN, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<Value>,
    /// The platform user owning the extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    /// Call-centre agent settings, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<Value>,
    /// Outbound group, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_outbound: Option<Value>,
    /// Interception group, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_interception: Option<Value>,
    /// Eavesdrop group, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_eavesdrop: Option<Value>,
    /// Fields this SDK does not know yet.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A typed record of a catalog object: the object's name, for checks and for
/// [`crate::Response::records_as`].
pub trait CatalogRecord: serde::de::DeserializeOwned {
    /// The object's name in the catalog (`DomainCDR`).
    const OBJECT: &'static str;
}

impl CatalogRecord for User {
    const OBJECT: &'static str = "User";
}
impl CatalogRecord for Role {
    const OBJECT: &'static str = "Role";
}
impl CatalogRecord for DomainUser {
    const OBJECT: &'static str = "DomainUser";
}

/// A call record (`DomainCDR`), the object integrators pull most. The vendor
/// documents none of its fields but `dt`: these are the ones seen, all optional,
/// and anything else is kept in `extra`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct DomainCdr {
    /// Record id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The PBX.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<i64>,
    /// When the call started, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dt: Option<i64>,
    /// The call's unique id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// `inbound`, `outbound` or `local`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    /// The calling number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// The called number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst: Option<String>,
    /// The caller's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_name: Option<String>,
    /// Seconds from start to end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
    /// Seconds of conversation (billed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billsec: Option<u64>,
    /// `ANSWERED`, `NO ANSWER`, `BUSY`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<String>,
    /// The gateway (trunk) used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// Whether the call was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<bool>,
    /// Fields this SDK does not know yet.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

// Read without `flatten`: call records come by the million (see `extra`).
deserialize_with_extra!(
    DomainCdr,
    [
        id,
        domain_id,
        dt,
        uuid,
        direction,
        src,
        dst,
        src_name,
        duration,
        billsec,
        disposition,
        gateway,
        record
    ]
);

impl CatalogRecord for DomainCdr {
    const OBJECT: &'static str = "DomainCDR";
}

/// The fields queue and agent logs share (seen, not documented; all optional).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct QueueLogFields {
    /// Record id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The PBX.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<i64>,
    /// When it happened, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dt: Option<i64>,
    /// The call it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_uuid: Option<String>,
    /// The agent (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// What happened (`ok`, `missed`, `busy`, a status name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Seconds the caller waited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<u64>,
    /// Fields this SDK does not know yet.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

deserialize_with_extra!(
    QueueLogFields,
    [id, domain_id, dt, call_uuid, agent, queue, status, wait]
);

/// A queue call record (`DomainQueueCDR`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DomainQueueCdr(pub QueueLogFields);

impl CatalogRecord for DomainQueueCdr {
    const OBJECT: &'static str = "DomainQueueCDR";
}

/// An agent status change (`DomainAgentStatus`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DomainAgentStatus(pub QueueLogFields);

impl CatalogRecord for DomainAgentStatus {
    const OBJECT: &'static str = "DomainAgentStatus";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{self, FieldType};

    /// A record with every field the catalog knows for `obj`, each with a value
    /// of its type.
    fn sample(obj: &str) -> Value {
        let spec = catalog::object(obj).unwrap();
        let mut m = Map::new();
        for f in spec.fields {
            let v = match f.ty {
                FieldType::Int | FieldType::UnixTime => Value::from(7),
                FieldType::Str => Value::from("s"),
                FieldType::Email => Value::from("a@b.c"),
                FieldType::Bool => Value::from(true),
                FieldType::Dict => Value::Object(Map::new()),
                FieldType::List => Value::Array(vec![Value::from("1")]),
                FieldType::Any => Value::from("any"),
            };
            m.insert(f.name.to_owned(), v);
        }
        Value::Object(m)
    }

    fn typed_covers_catalog<T: CatalogRecord + Serialize>(
        extra_of: impl Fn(&T) -> &Map<String, Value>,
    ) {
        let record: T = serde_json::from_value(sample(T::OBJECT)).unwrap();
        assert!(
            extra_of(&record).is_empty(),
            "{}: catalog fields without a typed field: {:?}",
            T::OBJECT,
            extra_of(&record).keys().collect::<Vec<_>>()
        );
        // And nothing typed that the catalog does not know.
        let back = serde_json::to_value(&record).unwrap();
        for key in back.as_object().unwrap().keys() {
            assert!(
                catalog::object(T::OBJECT).unwrap().field(key).is_some(),
                "{}: {key} is not in the catalog",
                T::OBJECT
            );
        }
    }

    #[test]
    fn typed_records_and_the_catalog_name_the_same_fields() {
        typed_covers_catalog::<User>(|r| &r.extra);
        typed_covers_catalog::<Role>(|r| &r.extra);
        typed_covers_catalog::<DomainUser>(|r| &r.extra);
        typed_covers_catalog::<DomainCdr>(|r| &r.extra);
        typed_covers_catalog::<DomainQueueCdr>(|r| &r.0.extra);
        typed_covers_catalog::<DomainAgentStatus>(|r| &r.0.extra);
    }
}
