//! Field validation for the documented objects (`docs/api-reference.md` §5), with
//! per-field messages in the `{field: [messages]}` shape of the error envelope.

use serde_json::{Map, Value};

#[derive(Clone, Copy)]
enum Kind {
    Str { min: usize, max: usize },
    Email { min: usize, max: usize },
    Int { choices: &'static [i64] },
    Dict,
    Any,
}

#[derive(Clone, Copy)]
struct Field {
    name: &'static str,
    kind: Kind,
    required: bool,
    nullable: bool,
}

const fn f(name: &'static str, kind: Kind, required: bool) -> Field {
    Field {
        name,
        kind,
        required,
        nullable: false,
    }
}

const fn nullable(mut field: Field) -> Field {
    field.nullable = true;
    field
}

const USER: &[Field] = &[
    f("login", Kind::Email { min: 1, max: 50 }, true),
    f("password", Kind::Str { min: 1, max: 512 }, true),
    nullable(f("email", Kind::Email { min: 0, max: 50 }, false)),
    f("name", Kind::Str { min: 1, max: 50 }, true),
    nullable(f("surname", Kind::Str { min: 0, max: 50 }, false)),
    f("status", Kind::Int { choices: &[0, 1] }, true),
    nullable(f("domain_id", Kind::Int { choices: &[] }, false)),
    nullable(f("role_id", Kind::Int { choices: &[] }, false)),
];

const ROLE: &[Field] = &[
    f("name", Kind::Str { min: 1, max: 100 }, true),
    f(
        "type",
        Kind::Int {
            choices: &[-1, -2, 1, 4],
        },
        true,
    ),
    f("status", Kind::Int { choices: &[0, 1] }, true),
    nullable(f("domain_id", Kind::Int { choices: &[] }, true)),
    f("perms", Kind::Dict, true),
    f("filters", Kind::Dict, true),
    f("visible", Kind::Dict, true),
];

const DOMAIN_USER: &[Field] = &[
    f("uid", Kind::Str { min: 1, max: 20 }, true),
    nullable(f("pin", Kind::Str { min: 0, max: 20 }, false)),
    nullable(f("user_id", Kind::Int { choices: &[] }, false)),
    nullable(f("agent", Kind::Any, false)),
    nullable(f("group_outbound", Kind::Any, false)),
    nullable(f("group_interception", Kind::Any, false)),
    nullable(f("group_eavesdrop", Kind::Any, false)),
];

fn schema_of(obj: &str) -> Option<&'static [Field]> {
    match obj {
        "User" => Some(USER),
        "Role" => Some(ROLE),
        "DomainUser" => Some(DOMAIN_USER),
        _ => None,
    }
}

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

fn check(field: &Field, v: &Value) -> Option<String> {
    if v.is_null() {
        return (!field.nullable).then(|| "Field may not be null.".to_owned());
    }
    let length = |s: &str, min: usize, max: usize| {
        let n = s.chars().count();
        (n < min || n > max).then(|| format!("Length must be between {min} and {max}."))
    };
    match field.kind {
        Kind::Str { min, max } => match v.as_str() {
            None => Some("Not a valid string.".into()),
            Some(s) => length(s, min, max),
        },
        Kind::Email { min, max } => match v.as_str() {
            None => Some("Not a valid string.".into()),
            Some(s) => length(s, min, max).or_else(|| {
                (!s.is_empty() && !looks_like_email(s)).then(|| "Not a valid email address.".into())
            }),
        },
        Kind::Int { choices } => match v.as_i64() {
            None => Some("Not a valid integer.".into()),
            Some(n) if !choices.is_empty() && !choices.contains(&n) => Some(format!(
                "Must be one of: {}.",
                choices
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Some(_) => None,
        },
        Kind::Dict => (!v.is_object()).then(|| "Not a valid mapping type.".into()),
        Kind::Any => None,
    }
}

/// Validates the fields of an `append` (`full`: required fields must be there) or an
/// `update` (only the fields given). Returns `{field: [messages]}` when invalid.
pub(crate) fn validate(
    obj: &str,
    fields: &Map<String, Value>,
    full: bool,
) -> Result<(), Map<String, Value>> {
    let Some(schema) = schema_of(obj) else {
        return Ok(());
    };
    let mut errors = Map::new();
    for field in schema {
        match fields.get(field.name) {
            None if full && field.required => {
                errors.insert(
                    field.name.into(),
                    Value::from(vec!["Missing data for required field."]),
                );
            }
            None => {}
            Some(v) => {
                if let Some(msg) = check(field, v) {
                    errors.insert(field.name.into(), Value::from(vec![msg]));
                }
            }
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
    use serde_json::json;

    #[test]
    fn user_rules() {
        let ok = json!({"login":"a@b.cz","password":"x","name":"A","status":1});
        assert!(validate("User", ok.as_object().unwrap(), true).is_ok());
        let bad =
            json!({"login":"nope","password":"","name":"x".repeat(51),"status":7,"email":"a@b"});
        let e = validate("User", bad.as_object().unwrap(), true).unwrap_err();
        assert_eq!(e["login"][0], "Not a valid email address.");
        assert_eq!(e["password"][0], "Length must be between 1 and 512.");
        assert_eq!(e["name"][0], "Length must be between 1 and 50.");
        assert_eq!(e["status"][0], "Must be one of: 0, 1.");
        assert_eq!(e["email"][0], "Not a valid email address.");
        let missing = validate("User", &Map::new(), true).unwrap_err();
        assert_eq!(missing.len(), 4);
        assert!(
            validate("User", &Map::new(), false).is_ok(),
            "update needs nothing"
        );
        assert!(
            validate("DomainCDR", &Map::new(), true).is_ok(),
            "no schema, no rules"
        );
    }
}
