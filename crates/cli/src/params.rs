//! Params from `key=value` words and `--params JSON|@file`.

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

/// Merges `--params` with `key=value` words. A value that parses as JSON
/// (`3`, `true`, `null`, `[1,2]`, `{"a":1}`, `"quoted"`) is taken as such;
/// anything else is a string. `key:=text` forces a string.
pub fn build(params: Option<&str>, words: &[String]) -> Result<Value> {
    let mut map = match params.map(|p| json_source("--params", p)).transpose()? {
        None => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(invalid("--params must be a JSON object".into())),
    };
    for w in words {
        if let Some((k, v)) = w.split_once(":=") {
            map.insert(k.to_owned(), Value::String(v.to_owned()));
            continue;
        }
        let Some((k, v)) = w.split_once('=') else {
            return Err(invalid(format!("expected key=value, got {w:?}")));
        };
        if k.is_empty() {
            return Err(invalid(format!("empty key in {w:?}")));
        }
        let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_owned()));
        map.insert(k.to_owned(), value);
    }
    Ok(Value::Object(map))
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn words_and_params_merge() {
        let v = build(
            Some(r#"{"domain_id": 3, "name": "x"}"#),
            &[
                "name=Anna".into(),
                "status=1".into(),
                "uid:=007".into(),
                "tags=[1,2]".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"domain_id": 3, "name": "Anna", "status": 1, "uid": "007", "tags": [1, 2]})
        );
        assert!(build(Some("[1]"), &[]).is_err());
        assert!(build(None, &["novalue".into()]).is_err());
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
}
