//! Typed bodies: the auth answer and the documented records.
//!
//! Every type keeps fields it does not know in `extra`, so a newer server loses
//! nothing, and serializes back to the same keys.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::datetime::ServerDateTime;
use crate::secret::Secret;

/// `body.version` of the auth answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoftwareVersion {
    /// Platform software version, e.g. `2.9.0`.
    #[serde(default)]
    pub software: String,
    /// Unix time of the last platform update (fractional seconds).
    #[serde(default)]
    pub last_update: Option<f64>,
    /// Fields this SDK does not know yet.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `body.domain_billing_options` of the auth answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BillingOptions {
    /// The balance as the exact decimal string the server sent (`"1000.0"`):
    /// never a float, so no cent is lost.
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
    #[serde(default)]
    pub version: Option<SoftwareVersion>,
    /// The user's id.
    pub user_id: i64,
    /// The user's display name.
    #[serde(default)]
    pub user_name: String,
    /// The user's login (an e-mail).
    #[serde(default)]
    pub user_login: String,
    /// The PBX (domain) id; absent for platform operators.
    #[serde(default)]
    pub domain_id: Option<i64>,
    /// The PBX (domain) name.
    #[serde(default)]
    pub domain_name: Option<String>,
    /// The role id.
    #[serde(default)]
    pub role_id: Option<i64>,
    /// The role name.
    #[serde(default)]
    pub role_name: String,
    /// The role type: -1 platform administrator, -2 custom platform role,
    /// 1 domain administrator, 4 custom domain role.
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
    #[serde(default)]
    pub domain_mode: Option<i64>,
    /// Billing state of the PBX.
    #[serde(default)]
    pub domain_billing_options: Option<BillingOptions>,
    /// The user's time zone, e.g. `Europe/Prague`.
    #[serde(default)]
    pub tz: Option<String>,
    /// The user's locale, e.g. `en_US`.
    #[serde(default)]
    pub locale: Option<String>,
    /// Fields this SDK does not know yet.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AuthInfo {
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
