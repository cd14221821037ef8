//! Field validation from the catalog (`runtel_protocol::catalog`, after
//! `docs/api-reference.md` §5): each known field's type, whether it is required
//! and may be null, its lengths and choices; read-only fields are the server's to
//! fill. Messages are per field, in the `{field: [messages]}` shape of the error
//! envelope. Fields the catalog does not know are kept as sent.

use runtel_protocol::catalog::{FieldSpec, FieldType, ObjectSpec};
use serde_json::{Map, Value};

fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
        && !domain.contains('@')
}

/// Whether a string's length is within the field's bounds (`max_len` 0: no upper
/// bound known).
fn length(field: &FieldSpec, s: &str) -> Option<String> {
    let n = s.chars().count();
    match (field.min_len, field.max_len) {
        (min, 0) if n < min => Some(format!("Length must be at least {min}.")),
        (_, 0) => None,
        (min, max) => {
            (n < min || n > max).then(|| format!("Length must be between {min} and {max}."))
        }
    }
}

/// What is wrong with `v` as a value of `field`, if anything.
fn check(field: &FieldSpec, v: &Value) -> Option<String> {
    if v.is_null() {
        return (!field.nullable).then(|| "Field may not be null.".to_owned());
    }
    match field.ty {
        FieldType::Str => match v.as_str() {
            None => Some("Not a valid string.".into()),
            Some(s) => length(field, s),
        },
        FieldType::Email => match v.as_str() {
            None => Some("Not a valid string.".into()),
            Some(s) => length(field, s).or_else(|| {
                (!s.is_empty() && !looks_like_email(s)).then(|| "Not a valid email address.".into())
            }),
        },
        FieldType::Int | FieldType::UnixTime => match v.as_i64() {
            None => Some("Not a valid integer.".into()),
            Some(n) if !field.choices.is_empty() && !field.choices.contains(&n) => Some(format!(
                "Must be one of: {}.",
                field
                    .choices
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Some(_) => None,
        },
        FieldType::Bool => (!v.is_boolean()).then(|| "Not a valid boolean.".into()),
        FieldType::Dict => (!v.is_object()).then(|| "Not a valid mapping type.".into()),
        FieldType::List => (!v.is_array()).then(|| "Not a valid list.".into()),
        FieldType::Any => None,
    }
}

/// Removes the fields the client may not write (`id`, `numbers`: the server fills
/// them), as the platform ignores them.
pub(crate) fn drop_read_only(spec: &ObjectSpec, fields: &mut Map<String, Value>) {
    for f in spec.fields.iter().filter(|f| f.read_only) {
        fields.shift_remove(f.name);
    }
}

/// Validates the fields of an `append` (`full`: required fields must be there) or an
/// `update` (only the fields given) of `spec`. Read-only fields are not checked
/// (see [`drop_read_only`]); unknown fields are accepted. Returns
/// `{field: [messages]}` when invalid.
pub(crate) fn validate(
    spec: &ObjectSpec,
    fields: &Map<String, Value>,
    full: bool,
) -> Result<(), Map<String, Value>> {
    let mut errors = Map::new();
    for field in spec.fields.iter().filter(|f| !f.read_only) {
        let problem = match fields.get(field.name) {
            None if full && field.required => Some("Missing data for required field.".to_owned()),
            None => None,
            Some(v) => check(field, v),
        };
        if let Some(msg) = problem {
            errors.insert(field.name.into(), Value::from(vec![msg]));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtel_protocol::catalog::{self, ObjectKind};
    use serde_json::json;

    fn spec(name: &str) -> &'static ObjectSpec {
        catalog::object(name).unwrap()
    }

    #[test]
    fn user_rules() {
        let user = spec("User");
        let ok = json!({"login":"a@b.cz","password":"x","name":"A","status":1});
        assert!(validate(user, ok.as_object().unwrap(), true).is_ok());
        let bad =
            json!({"login":"nope","password":"","name":"x".repeat(51),"status":7,"email":"a@b"});
        let e = validate(user, bad.as_object().unwrap(), true).unwrap_err();
        assert_eq!(e["login"][0], "Not a valid email address.");
        assert_eq!(e["password"][0], "Length must be between 1 and 512.");
        assert_eq!(e["name"][0], "Length must be between 1 and 50.");
        assert_eq!(e["status"][0], "Must be one of: 0, 1.");
        assert_eq!(e["email"][0], "Not a valid email address.");
        let missing = validate(user, &Map::new(), true).unwrap_err();
        assert_eq!(missing.len(), 4);
        assert!(
            validate(user, &Map::new(), false).is_ok(),
            "update needs nothing"
        );
    }

    #[test]
    fn every_type_of_the_catalog_is_checked() {
        let cdr = spec("DomainCDR");
        for (field, wrong, message) in [
            ("dt", json!(1.5), "Not a valid integer."),
            ("dt", json!("soon"), "Not a valid integer."),
            ("src", json!(100), "Not a valid string."),
            ("record", json!("yes"), "Not a valid boolean."),
            ("duration", json!([]), "Not a valid integer."),
        ] {
            let mut rec = Map::new();
            rec.insert(field.into(), wrong);
            let e = validate(cdr, &rec, true).unwrap_err();
            assert_eq!(e[field][0], message, "{field}");
        }
        let role = spec("Role");
        let e = validate(role, json!({"perms": []}).as_object().unwrap(), false).unwrap_err();
        assert_eq!(e["perms"][0], "Not a valid mapping type.");
        let e = validate(role, json!({"domain_id": null}).as_object().unwrap(), true).unwrap_err();
        assert!(
            !e.contains_key("domain_id"),
            "required but nullable: null is given"
        );
        let user = spec("User");
        let e = validate(user, json!({"numbers": "x"}).as_object().unwrap(), false);
        assert!(
            e.is_ok(),
            "read-only fields are not the client's: not checked"
        );
        let mut rec = json!({"id": 5, "numbers": [], "name": "N"});
        drop_read_only(user, rec.as_object_mut().unwrap());
        assert_eq!(rec, json!({"name": "N"}));
        let unknown = json!({"tags": [1, {"a": null}]});
        assert!(validate(cdr, unknown.as_object().unwrap(), true).is_ok());
    }

    #[test]
    fn seeded_configuration_records_pass_the_rules() {
        for spec in catalog::OBJECTS
            .iter()
            .filter(|o| o.kind == ObjectKind::Config)
        {
            for i in [1, 2, 10_001] {
                let rec = crate::store::seeded_config_record(spec, i);
                assert_eq!(validate(spec, &rec, true), Ok(()), "{} {i}", spec.name);
            }
        }
    }
}
