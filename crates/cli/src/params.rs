//! Params from `key=value` / `key:=JSON` words and `--params JSON|@file`.
//!
//! The typing is httpie's and xh's, so what people already type there means the
//! same here: `key=value` is always a string (`uid=101` is the text "101", which
//! is what a string field wants), `key:=JSON` is raw JSON (`id:=5`, `on:=true`,
//! `tags:=[1,2]`). Guessing the type from the text sent numbers to string fields.
//!
//! `limit`, `offset` and `filter` are not params: the API reads them from the top
//! level of the envelope and ignores them inside `params`, so as words they are
//! taken out and set where the API looks.

use serde_json::{Map, Value};

use crate::failure::{Failure, Result};

fn invalid(msg: String) -> Failure {
    Failure::Sdk(runtel_client::Error::InvalidInput(msg))
}

/// Reads `JSON`, `@file` or `@-` (stdin) as a JSON value.
pub fn json_source(what: &str, text: &str) -> Result<Value> {
    let raw = if let Some(path) = text.strip_prefix('@') {
        if path == "-" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .map_err(|e| Failure::local(format!("reading {what} from stdin: {e}")))?;
            s
        } else {
            std::fs::read_to_string(path)
                .map_err(|e| Failure::local(format!("{what} file {path}: {e}")))?
        }
    } else {
        text.to_owned()
    };
    serde_json::from_str(&raw).map_err(|e| invalid(format!("{what} is not valid JSON: {e}")))
}

/// The value of one word, as typed.
#[derive(Debug, Clone, PartialEq)]
enum Typed {
    /// `key=value`.
    Text(String),
    /// `key:=JSON`, already parsed.
    Json(Value),
}

/// Splits a word at its first `=`; when a `:` stands right before it, the word
/// is `key:=JSON`. So `note=a:=b` is the string "a:=b", as in httpie.
fn parse_word(w: &str) -> Result<(String, Typed)> {
    let Some(eq) = w.find('=') else {
        return Err(invalid(format!(
            "expected key=value or key:=JSON, got {w:?}"
        )));
    };
    let (key, typed) = match w[..eq].strip_suffix(':') {
        Some(key) => {
            let text = &w[eq + 1..];
            let v = serde_json::from_str(text).map_err(|e| {
                invalid(format!(
                    "the value of {key:?} in {w:?} is not valid JSON ({e}); \
                     key:=JSON takes raw JSON, use {key}=text for a string"
                ))
            })?;
            (key, Typed::Json(v))
        }
        None => (&w[..eq], Typed::Text(w[eq + 1..].to_owned())),
    };
    if key.is_empty() {
        return Err(invalid(format!("empty key in {w:?}")));
    }
    Ok((key.to_owned(), typed))
}

/// Params, and the envelope's top-level fields that were given as words.
#[derive(Debug, Default, PartialEq)]
pub struct Words {
    pub params: Value,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    pub filter: Option<Value>,
}

/// `limit=3` and `limit:=3` both mean the number 3: the API wants a count.
fn count(key: &str, typed: Typed) -> Result<u64> {
    let n = match &typed {
        Typed::Text(t) => t.trim().parse::<u64>().ok(),
        Typed::Json(v) => v.as_u64(),
    };
    n.ok_or_else(|| {
        let shown = match typed {
            Typed::Text(t) => t,
            Typed::Json(v) => v.to_string(),
        };
        invalid(format!(
            "{key} must be a whole number of 0 or more, got {shown:?}"
        ))
    })
}

/// `filter=TEXT` reads TEXT as `--filter` does (JSON or @file); `filter:=JSON` is
/// the JSON itself. Either way an object (or null, meaning none).
fn filter(typed: Typed) -> Result<Value> {
    let v = match typed {
        Typed::Text(t) => json_source("filter", &t)?,
        Typed::Json(v) => v,
    };
    match v {
        Value::Object(_) | Value::Null => Ok(v),
        other => Err(invalid(format!(
            "filter must be a JSON object, got {other}"
        ))),
    }
}

/// Merges `--params` with the words (a later word wins over `--params` and
/// earlier words), taking `limit`, `offset` and `filter` words out of the params.
/// Those keys inside `--params` stay params: that is the way to send them there.
pub fn build(params: Option<&str>, words: &[String]) -> Result<Words> {
    let mut map = match params.map(|p| json_source("--params", p)).transpose()? {
        None => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(invalid("--params must be a JSON object".into())),
    };
    let mut out = Words::default();
    for w in words {
        let (key, typed) = parse_word(w)?;
        match key.as_str() {
            "limit" => out.limit = Some(count("limit", typed)?),
            "offset" => out.offset = Some(count("offset", typed)?),
            "filter" => out.filter = Some(filter(typed)?),
            _ => {
                let v = match typed {
                    Typed::Text(t) => Value::String(t),
                    Typed::Json(v) => v,
                };
                map.insert(key, v);
            }
        }
    }
    out.params = Value::Object(map);
    Ok(out)
}

/// A top-level field given both as a flag and as a word is refused: neither
/// silently winning would be right.
pub fn one_of<T>(key: &str, flag: Option<T>, word: Option<T>) -> Result<Option<T>> {
    match (flag, word) {
        (Some(_), Some(_)) => Err(invalid(format!(
            "{key} given twice: as --{key} and as a {key}= word; give one"
        ))),
        (f, w) => Ok(f.or(w)),
    }
}

/// Parses `--since`: Unix seconds, an ISO date-time (UTC), or `N[smhd]` ago.
pub fn since(text: &str, now_unix: i64) -> Result<i64> {
    let t = text.trim();
    if let Ok(n) = t.parse::<i64>() {
        return Ok(n);
    }
    if let Some(unit) = t.chars().last().filter(|c| "smhd".contains(*c)) {
        if let Ok(n) = t[..t.len() - 1].parse::<i64>() {
            let mult = match unit {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                _ => 86_400,
            };
            if n < 0 {
                return Err(invalid(format!(
                    "--since {t}: a time ago cannot be negative"
                )));
            }
            // Checked: a huge N must be an error, not an overflow panic.
            return n
                .checked_mul(mult)
                .and_then(|secs| now_unix.checked_sub(secs))
                .ok_or_else(|| invalid(format!("--since {t}: too far back")));
        }
    }
    t.parse::<runtel_client::ServerDateTime>()
        .map(|d| d.unix_micros().div_euclid(1_000_000))
        .map_err(|e| {
            invalid(format!(
                "--since: {e}; use Unix seconds, YYYY-MM-DD[THH:MM:SS] (UTC) or N[smhd]"
            ))
        })
}

/// `filter` with the condition `dt >= at` AND-ed to it (a new filter when there
/// is none). A filter that joins two or more conditions with OR is refused:
/// putting `dt >= at` in its list would select more records, not fewer.
pub fn with_since(filter: Value, at: i64) -> Result<Value> {
    with_condition(
        "--since",
        filter,
        serde_json::json!({"field": "dt", "condition_type": 5, "value": at}),
    )
}

/// `filter` with one more condition AND-ed to it (a new filter when there is
/// none), as [`with_since`] does; `what` names the condition's source in the
/// refusal.
pub fn with_condition(what: &str, filter: Value, cond: Value) -> Result<Value> {
    crate::filter::and_all(vec![
        crate::filter::Part::new("the filter", filter),
        crate::filter::Part::new(what, crate::filter::of_condition(cond)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn words(ws: &[&str]) -> Result<Words> {
        build(None, &ws.iter().map(|w| w.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn words_and_params_merge() {
        let w = build(
            Some(r#"{"domain_id": 3, "name": "x", "limit": 9}"#),
            &[
                "name=Anna".into(),
                "status:=1".into(),
                "uid=007".into(),
                "tags:=[1,2]".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            w.params,
            json!({"domain_id": 3, "name": "Anna", "limit": 9, "status": 1, "uid": "007",
                   "tags": [1, 2]})
        );
        assert_eq!((w.limit, w.offset, w.filter), (None, None, None));
        assert!(build(Some("[1]"), &[]).is_err());
        assert!(words(&["novalue"]).is_err());
        assert!(words(&["=x"]).is_err());
        assert!(words(&[":=1"]).is_err());
    }

    #[test]
    fn equals_is_a_string_and_colon_equals_is_json() {
        let w = words(&[
            "a=3", "b=true", "c=null", "d=", "e=x:=y", "f:=\"s\"", "g:=3.5",
        ])
        .unwrap();
        assert_eq!(
            w.params,
            json!({"a": "3", "b": "true", "c": "null", "d": "", "e": "x:=y", "f": "s", "g": 3.5})
        );
        let err = words(&["n:=abc"]).unwrap_err().line();
        assert!(err.contains("\"n\""), "{err}");
    }

    #[test]
    fn limit_offset_and_filter_leave_the_params() {
        let w = words(&["limit=3", "offset:=20", "filter:={\"type\":0}", "x=1"]).unwrap();
        assert_eq!(
            (w.limit, w.offset, w.filter, w.params),
            (
                Some(3),
                Some(20),
                Some(json!({"type": 0})),
                json!({"x": "1"})
            )
        );
        assert_eq!(
            words(&["filter={\"type\":1}"]).unwrap().filter,
            Some(json!({"type": 1}))
        );
        for bad in [
            "limit=-1",
            "limit=x",
            "limit:=1.5",
            "offset:=\"3\"",
            "filter:=[1]",
            "filter=x",
        ] {
            assert!(words(&[bad]).is_err(), "{bad}");
        }
        assert!(one_of("limit", Some(1), Some(2)).is_err());
        assert_eq!(one_of("limit", None, Some(2)).unwrap(), Some(2));
    }

    #[test]
    fn since_forms() {
        assert_eq!(since("1704067200", 0).unwrap(), 1_704_067_200);
        assert_eq!(since("2024-01-01", 0).unwrap(), 1_704_067_200);
        assert_eq!(since("2h", 10_000).unwrap(), 2_800);
        assert!(since("yesterday", 0).is_err());
        assert!(since("999999999999999999d", 1).is_err());
        assert!(since("-5d", 0).is_err());
    }

    #[test]
    fn since_joins_the_filter_and_never_widens_it() {
        let cond = json!({"field": "dt", "condition_type": 5, "value": 7});
        let a = json!({"field": "src", "condition_type": 0, "value": "100"});
        let b = json!({"field": "src", "condition_type": 0, "value": "101"});
        assert_eq!(
            with_since(Value::Null, 7).unwrap(),
            json!({"field_list": [cond], "type": 0})
        );
        assert_eq!(
            with_since(json!({"field_list": [a], "type": 0}), 7).unwrap(),
            json!({"field_list": [a, cond], "type": 0})
        );
        // An OR of one condition is that condition: AND-ing the time to it is exact.
        assert_eq!(
            with_since(json!({"field_list": [a], "type": 1}), 7).unwrap(),
            json!({"field_list": [a, cond], "type": 0})
        );
        // An OR of two: appending `dt >= 7` to its list selected more records,
        // not fewer (src 100, or src 101, or recent). Refused.
        let err = with_since(json!({"field_list": [a, b], "type": 1}), 7)
            .unwrap_err()
            .line();
        assert!(err.contains("OR") && err.contains("--since"), "{err}");
        let err = with_condition("x", json!({"field_list": [a, b], "type": 1}), cond.clone())
            .unwrap_err()
            .line();
        assert!(err.contains("OR"), "{err}");
    }
}
