//! The `filter` a command sends, from its parts: `--filter` (or a `filter=` word),
//! `--where` conditions, `--since`, and the `id > last` of a resumed consistent
//! export.
//!
//! The API has one filter per request: a `field_list` joined by AND (`type` 0) or
//! OR (`type` 1). Every part narrows what is selected, so the parts are joined
//! with AND into one `field_list`. That is exact for parts whose conditions are
//! AND-ed already (or that have one condition), and impossible for a part that
//! joins two or more conditions with OR: putting the others in its list would
//! make them alternatives and select more, not less. Such a mix is refused
//! (invalid_input, exit code 3), naming the parts.
//!
//! `--where FIELD OP VALUE` is read by the core's [`Filter::parse_condition`], so
//! it builds what every front end builds from the same text (the shared vectors
//! in `tests/filters.json`); on top of that, a date given for a time field becomes
//! Unix seconds.

use runtel_client::{catalog, Condition, Filter, ServerDateTime};
use serde_json::{Map, Value};

use crate::failure::{Failure, Result};
use crate::terminal::inert;

fn invalid(msg: String) -> Failure {
    Failure::Sdk(runtel_client::Error::InvalidInput(msg))
}

/// How a date is written for a time field, for messages.
pub const DATE_FORMS: &str =
    "YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS], with Z or +HH:MM, or without a zone meaning UTC";

/// True when `text` starts as a date does (`2026-`), so a typo in one is an
/// error rather than a text value.
fn looks_like_a_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() > 4 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-'
}

/// Reads one `--where` text for object `obj`.
///
/// The value is the core's reading (JSON when it parses, else text). A text
/// value for a time field becomes Unix seconds when it is a date: the field is
/// a time when the catalog types it `unix_time` for `obj`, or, where the catalog
/// does not know the object or the field, when it is named `dt`. For a field
/// the catalog types as a time, a text that is no date is an error; for a `dt`
/// it does not know, a text that does not start like a date is sent as it is.
pub fn condition(obj: &str, text: &str) -> Result<Condition> {
    let shown = inert(text);
    let mut c = Filter::parse_condition(text)
        .map_err(|e| invalid(format!("--where {shown:?}: {}", e.detail())))?;
    let known = catalog::object(obj).and_then(|o| o.field(&c.field));
    let typed_time = known.is_some_and(|f| f.ty == catalog::FieldType::UnixTime);
    let guessed_time = known.is_none() && c.field == "dt";
    if let (Value::String(s), true) = (&c.value, typed_time || guessed_time) {
        match s.parse::<ServerDateTime>() {
            Ok(d) => {
                let micros = d.unix_micros();
                if micros % 1_000_000 != 0 {
                    return Err(invalid(format!(
                        "--where {shown:?}: {} is Unix time in whole seconds: give the time without a \
                         fraction of a second",
                        inert(&c.field)
                    )));
                }
                c.value = (micros / 1_000_000).into();
            }
            Err(e) if typed_time || looks_like_a_date(s) => {
                return Err(invalid(format!(
                    "--where {shown:?}: {} is a Unix time: give Unix seconds or a date, \
                     {DATE_FORMS} ({e})",
                    inert(&c.field)
                )));
            }
            Err(_) => {}
        }
    }
    Ok(c)
}

/// The `--where` conditions as one filter, joined with AND (or with OR when
/// `any`); `null` when there are none.
pub fn from_where(obj: &str, texts: &[String], any: bool) -> Result<Value> {
    if texts.is_empty() {
        return Ok(Value::Null);
    }
    let conditions = texts
        .iter()
        .map(|t| condition(obj, t))
        .collect::<Result<Vec<_>>>()?;
    Ok(if any {
        Filter::any(conditions)
    } else {
        Filter::all(conditions)
    }
    .to_json())
}

/// One part of a filter: what gave it (for messages) and its wire form (`null`
/// when that part is not given).
pub struct Part {
    /// `--filter`, `--where`, `--since`, ...
    pub what: String,
    /// The part's filter, as sent.
    pub filter: Value,
}

impl Part {
    /// A part named `what`.
    pub fn new(what: impl Into<String>, filter: Value) -> Part {
        Part {
            what: what.into(),
            filter,
        }
    }
}

/// A part's conditions and whether it joins them with OR, when it can take more.
struct Shape {
    map: Map<String, Value>,
    list: Vec<Value>,
    any: bool,
}

fn shape(part: &Part) -> Result<Shape> {
    let what = &part.what;
    let Value::Object(map) = &part.filter else {
        return Err(invalid(format!(
            "{what}: a filter must be a JSON object to add conditions to it, got {}",
            inert(&part.filter.to_string())
        )));
    };
    let list = match map.get("field_list") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => {
            return Err(invalid(format!(
                "{what}: the filter's field_list must be a list to add conditions to it"
            )))
        }
    };
    let any = match map.get("type") {
        None | Some(Value::Null) => false,
        Some(t) if t.as_i64() == Some(0) => false,
        Some(t) if t.as_i64() == Some(1) => true,
        Some(t) => {
            return Err(invalid(format!(
                "{what}: the filter's type {} is neither 0 (AND) nor 1 (OR), so runtel cannot \
                 add conditions to it",
                inert(&t.to_string())
            )))
        }
    };
    Ok(Shape {
        map: map.clone(),
        list,
        any,
    })
}

/// The parts as one filter that selects what all of them select.
///
/// A single part given is sent exactly as it is (a `--filter` keeps its own
/// form, unknown keys included). Several are merged into the first one's
/// object: every condition in one `field_list`, in the order of the parts, with
/// `type` 0, or the part's own `type` when only one part has conditions. A part
/// that joins two or more conditions with OR, beside another part with
/// conditions, is refused.
pub fn and_all(parts: Vec<Part>) -> Result<Value> {
    let given: Vec<Part> = parts.into_iter().filter(|p| !p.filter.is_null()).collect();
    if given.len() <= 1 {
        return Ok(given.into_iter().next().map_or(Value::Null, |p| p.filter));
    }
    let shapes = given.iter().map(shape).collect::<Result<Vec<_>>>()?;
    let with_conditions: Vec<usize> = (0..given.len())
        .filter(|&i| !shapes[i].list.is_empty())
        .collect();
    if with_conditions.len() > 1 {
        if let Some(&or) = with_conditions
            .iter()
            .find(|&&i| shapes[i].any && shapes[i].list.len() > 1)
        {
            let others: Vec<&str> = with_conditions
                .iter()
                .filter(|&&i| i != or)
                .map(|&i| given[i].what.as_str())
                .collect();
            return Err(invalid(format!(
                "{} joins its {} conditions with OR, and {} must hold as well; the API takes \
                 one filter whose conditions are all joined one way, and adding them to the OR \
                 list would select more records, not fewer. Give the OR conditions alone, or \
                 join every condition with AND",
                given[or].what,
                shapes[or].list.len(),
                others.join(" and ")
            )));
        }
    }
    let any = match with_conditions.as_slice() {
        [only] => shapes[*only].any,
        _ => false,
    };
    let mut shapes = shapes.into_iter();
    let first = shapes.next().expect("two parts or more");
    let mut map = first.map;
    let mut list = first.list;
    for s in shapes {
        list.extend(s.list);
        for (k, v) in s.map {
            if k != "field_list" && k != "type" && !map.contains_key(&k) {
                map.insert(k, v);
            }
        }
    }
    map.insert("field_list".into(), Value::Array(list));
    map.insert("type".into(), i64::from(any).into());
    Ok(Value::Object(map))
}

/// The one-condition filter of `cond` (AND).
pub fn of_condition(cond: Value) -> Value {
    serde_json::json!({"field_list": [cond], "type": 0})
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(field: &str, code: i64, value: Value) -> Value {
        json!({"field": field, "condition_type": code, "value": value})
    }

    fn wire(obj: &str, text: &str) -> Result<Value> {
        condition(obj, text).map(|c| c.to_json())
    }

    #[test]
    fn dates_become_seconds_only_for_time_fields() {
        assert_eq!(
            wire("DomainCDR", "dt>=2024-01-01").unwrap(),
            cond("dt", 5, 1_704_067_200.into())
        );
        assert_eq!(
            wire("DomainQueueCDR", "dt<2024-01-01T03:00:00+03:00").unwrap(),
            cond("dt", 2, 1_704_067_200.into())
        );
        assert_eq!(
            wire("DomainCDR", "src_name=2024-01-01").unwrap(),
            cond("src_name", 0, "2024-01-01".into())
        );
        // Not in the catalog: `dt` is a time when the value is a date.
        assert_eq!(
            wire("Unknown", "dt>=2024-01-01").unwrap(),
            cond("dt", 5, 1_704_067_200.into())
        );
        assert_eq!(
            wire("Unknown", "dt=later").unwrap(),
            cond("dt", 0, "later".into())
        );
        assert!(wire("Unknown", "dt>=2024-02-30").is_err());
        assert!(wire("DomainCDR", "dt>=later").is_err());
        assert!(wire("DomainCDR", "dt>=2024-01-01T00:00:00.25").is_err());
        // A zero fraction is whole seconds.
        assert_eq!(
            wire("DomainCDR", "dt>=2024-01-01T00:00:00.000").unwrap(),
            cond("dt", 5, 1_704_067_200.into())
        );
        // The first operator splits the text: the value may hold operator characters.
        assert_eq!(
            wire("DomainCDR", "note~a=b").unwrap(),
            cond("note", 6, "a=b".into())
        );
        assert!(wire("DomainCDR", "nothing").is_err());
    }

    #[test]
    fn parts_are_and_ed_or_refused() {
        let a = cond("a", 0, 1.into());
        let b = cond("b", 0, 2.into());
        let c = cond("c", 0, 3.into());
        let or_ab = json!({"field_list": [a, b], "type": 1});
        // Alone: as given.
        let odd = json!({"type": 7, "x": 1});
        assert_eq!(
            and_all(vec![
                Part::new("--filter", odd.clone()),
                Part::new("--where", Value::Null)
            ])
            .unwrap(),
            odd
        );
        assert_eq!(
            and_all(vec![Part::new("--where", or_ab.clone())]).unwrap(),
            or_ab
        );
        assert_eq!(and_all(vec![]).unwrap(), Value::Null);
        // Merged into the first, its other keys kept.
        assert_eq!(
            and_all(vec![
                Part::new("--filter", json!({"field_list": [a], "type": 1, "x": 1})),
                Part::new("--where", of_condition(c.clone())),
            ])
            .unwrap(),
            json!({"field_list": [a, c], "type": 0, "x": 1})
        );
        // Only one part with conditions keeps its join.
        assert_eq!(
            and_all(vec![
                Part::new("--filter", json!({"x": 1})),
                Part::new("--where", or_ab.clone()),
            ])
            .unwrap(),
            json!({"x": 1, "field_list": [a, b], "type": 1})
        );
        let err = and_all(vec![
            Part::new("--filter", or_ab.clone()),
            Part::new("--where", of_condition(c.clone())),
            Part::new("--since", of_condition(c.clone())),
        ])
        .unwrap_err()
        .line();
        assert!(
            err.contains("--filter joins its 2 conditions with OR, and --where and --since"),
            "{err}"
        );
        for bad in [json!([1]), json!({"field_list": 3}), json!({"type": 2})] {
            assert!(and_all(vec![
                Part::new("--filter", bad.clone()),
                Part::new("--where", of_condition(c.clone())),
            ])
            .is_err());
        }
    }
}
