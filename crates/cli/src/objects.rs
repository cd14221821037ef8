//! The object catalog for people: `runtel objects [NAME] [--json]`, and the
//! warnings for object and action names the catalog does not know.
//!
//! Everything shown comes from `runtel_client::catalog`, so the tool names no
//! object the catalog does not have, and a new object is listed without an edit
//! here. Names the catalog does not know are still sent: the API may have
//! objects and actions we have not seen, and the server decides.

use runtel_client::catalog::{self, FieldSpec, ObjectKind, ObjectSpec, Scope, Source};
use runtel_client::edit_distance;
use serde_json::Value;

use crate::failure::{Failure, Result};
use crate::terminal::inert;

fn kind_name(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Config => "config",
        ObjectKind::Log => "log",
    }
}

/// The catalog as a table: a header, then one line per object with its name,
/// scope, kind, source and actions (comma-separated, no spaces, so every column
/// is one word).
pub fn table() -> String {
    let rows: Vec<[String; 5]> = catalog::OBJECTS
        .iter()
        .map(|o| {
            [
                o.name.to_owned(),
                o.scope.as_str().to_owned(),
                kind_name(o.kind).to_owned(),
                o.source.as_str().to_owned(),
                o.actions.join(","),
            ]
        })
        .collect();
    let header = ["NAME", "SCOPE", "KIND", "SOURCE", "ACTIONS"].map(str::to_owned);
    columns(std::iter::once(&header).chain(&rows))
}

/// Lines of cells, each column as wide as its widest cell, two spaces apart;
/// the last column is not padded.
pub fn columns<'a, const N: usize>(rows: impl Iterator<Item = &'a [String; N]> + Clone) -> String {
    let mut width = [0usize; N];
    for row in rows.clone() {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < N {
                line.push_str(&format!("{cell:<w$}  ", w = width[i]));
            } else {
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.pop();
    out
}

/// What a field must be, in words: `read only`, `not null` (optional but never
/// null), `may be null` (required, null allowed), `length 1..50`, `one of 0, 1`;
/// `-` for none.
fn constraints(f: &FieldSpec) -> String {
    let mut c = Vec::new();
    if f.read_only {
        c.push("read only".to_owned());
    }
    match (f.required, f.nullable) {
        (false, false) => c.push("not null".to_owned()),
        // Required on append, but null is a value (a platform role's domain_id).
        (true, true) => c.push("may be null".to_owned()),
        _ => {}
    }
    if f.max_len > 0 {
        c.push(format!("length {}..{}", f.min_len, f.max_len));
    }
    if !f.choices.is_empty() {
        let choices: Vec<String> = f.choices.iter().map(i64::to_string).collect();
        c.push(format!("one of {}", choices.join(", ")));
    }
    if c.is_empty() {
        "-".to_owned()
    } else {
        c.join("; ")
    }
}

/// One object: its description, scope, kind, source, key and actions, then a
/// table of its known fields (name, type, required on append, constraints).
pub fn describe(o: &ObjectSpec) -> String {
    let scope = match o.scope {
        Scope::Tenant => "tenant (platform users and roles; PBX users see their own PBX's)",
        Scope::Domain => "domain (inside one PBX; platform operators must pass domain_id)",
        Scope::Platform => "platform (platform configuration; platform operators only)",
    };
    let kind = match (o.kind, o.time_field) {
        (ObjectKind::Config, _) => "config (records clients create, change and delete)".to_owned(),
        (ObjectKind::Log, Some(t)) => {
            format!("log (written by the platform, read by clients; time field {t})")
        }
        (ObjectKind::Log, None) => "log (written by the platform, read by clients)".to_owned(),
    };
    let source = match o.source {
        Source::Vendor => "vendor (documented by the vendor)",
        Source::Field => "field (seen in client programs; actions and fields inferred)",
    };
    let mut out = format!(
        "{}: {}\nscope    {scope}\nkind     {kind}\nsource   {source}\nkey      {}\nactions  {}\n\n",
        o.name,
        o.doc,
        o.key,
        o.actions.join(", ")
    );
    let header = ["FIELD", "TYPE", "REQUIRED", "CONSTRAINTS"].map(str::to_owned);
    let rows: Vec<[String; 4]> = o
        .fields
        .iter()
        .map(|f| {
            [
                f.name.to_owned(),
                f.ty.as_str().to_owned(),
                if f.required { "yes" } else { "no" }.to_owned(),
                constraints(f),
            ]
        })
        .collect();
    out.push_str(&columns(std::iter::once(&header).chain(&rows)));
    out.push_str(
        "\n\nOther fields are sent and kept as given; REQUIRED is for append. \
         `runtel objects` lists every object.",
    );
    out
}

/// The catalog object named `name`, or an error naming the nearest one.
pub fn find(name: &str) -> Result<&'static ObjectSpec> {
    catalog::object(name).ok_or_else(|| {
        let hint = match catalog::suggest_object(name) {
            Some(s) => format!("; did you mean {s}?"),
            None => "; `runtel objects` lists them".to_owned(),
        };
        Failure::Sdk(runtel_client::Error::InvalidInput(format!(
            "{} is not in the catalog of known objects{hint}",
            inert(name)
        )))
    })
}

/// `runtel objects --json`: the catalog's JSON, or one object's entry of it.
pub fn json(name: Option<&str>) -> Result<Value> {
    let all = catalog::to_json();
    let Some(name) = name else { return Ok(all) };
    let o = find(name)?;
    Ok(all
        .as_array()
        .and_then(|a| a.iter().find(|e| e["name"] == o.name))
        .cloned()
        .unwrap_or(Value::Null))
}

/// The action of `o` that a misspelt `action` most likely meant: the same in
/// another case, or one at most two edits away.
fn suggest_action(o: &ObjectSpec, action: &str) -> Option<&'static str> {
    let lower = action.to_ascii_lowercase();
    o.actions
        .iter()
        .map(|a| (edit_distance(&lower, a), *a))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, a)| a)
}

/// Warnings (one line each) for a call of `action` on `obj` that the catalog
/// does not know: an unknown object the catalog has a near name for (one it has
/// nothing near may be an object we have not seen: no warning), or an action the
/// known object is not known to answer. The call is sent as typed either way.
pub fn warnings(obj: &str, action: &str) -> Vec<String> {
    let Some(o) = catalog::object(obj) else {
        return catalog::suggest_object(obj)
            .map(|s| {
                format!(
                    "runtel: warning: {} is not a known object (sent as typed); did you mean {s}?",
                    inert(obj)
                )
            })
            .into_iter()
            .collect();
    };
    if o.has_action(action) {
        return Vec::new();
    }
    let tail = match suggest_action(o, action) {
        Some(a) => format!("did you mean {a}?"),
        None => format!("its known actions are {}", o.actions.join(", ")),
    };
    vec![format!(
        "runtel: warning: {} is not a known action of {} (sent anyway: the server decides); \
         {tail}",
        inert(action),
        o.name
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_name_the_nearest_object_or_action() {
        assert_eq!(
            warnings("DomainCdr", "list"),
            ["runtel: warning: DomainCdr is not a known object (sent as typed); did you mean DomainCDR?"]
        );
        assert!(warnings("DomainCDR", "list_with_detail").is_empty());
        assert!(warnings("Unseen", "list").is_empty());
        let w = warnings("DomainCDR", "Get");
        assert!(w[0].ends_with("did you mean get?"), "{w:?}");
        let w = warnings("DomainCDR", "append");
        assert!(
            w[0].ends_with("its known actions are list, list_with_detail, get"),
            "{w:?}"
        );
    }

    #[test]
    fn constraints_in_words() {
        let user = catalog::object("User").unwrap();
        assert_eq!(constraints(user.field("id").unwrap()), "read only");
        assert_eq!(constraints(user.field("login").unwrap()), "length 1..50");
        assert_eq!(constraints(user.field("status").unwrap()), "one of 0, 1");
        assert_eq!(constraints(user.field("domain_id").unwrap()), "-");
        let role = catalog::object("Role").unwrap();
        assert_eq!(constraints(role.field("domain_id").unwrap()), "may be null");
    }
}
