//! Removing secrets from text that came back from a server.
//!
//! A server (or a proxy in front of it) may echo the request it refused: the
//! `Authorization` header, the `auth` body with the password. Every excerpt, raw
//! body, message and field error the SDK keeps from an answer passes through a
//! [`Redactor`] holding the secrets of the request it answers, so they are replaced
//! by [`MASK`] before any error, log line or C string is made of them.

use std::borrow::Cow;

use serde_json::Value;

use crate::secret::{Secret, MASK};

/// The secrets to remove from server text, in the forms a server may echo them:
/// as sent, and JSON-escaped.
#[derive(Clone, Default)]
pub struct Redactor {
    patterns: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} patterns)", self.patterns.len())
    }
}

impl Redactor {
    /// A redactor for these secrets (those shorter than [`Redactor::MIN_SECRET_LEN`] are ignored).
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a Secret>) -> Self {
        let mut r = Redactor::default();
        for s in secrets {
            r.add(s.expose());
        }
        r
    }

    /// Secrets shorter than this are not searched for: one to three characters
    /// occur in ordinary text everywhere, and masking them would make every
    /// message unreadable while protecting nothing.
    pub const MIN_SECRET_LEN: usize = 4;

    /// Adds one more secret value.
    pub fn add(&mut self, secret: &str) {
        if secret.len() < Self::MIN_SECRET_LEN {
            return;
        }
        let escaped = serde_json::to_string(secret).expect("a string always serializes");
        let escaped = &escaped[1..escaped.len() - 1];
        for p in [secret, escaped] {
            if !self.patterns.iter().any(|q| q == p) {
                self.patterns.push(p.to_owned());
            }
        }
        // Longest first, so a secret that contains another is masked whole.
        self.patterns.sort_by_key(|p| std::cmp::Reverse(p.len()));
    }

    /// True when there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// `text` with every occurrence of a secret replaced by [`MASK`].
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for p in &self.patterns {
            if out.contains(p.as_str()) {
                out = Cow::Owned(out.replace(p.as_str(), MASK));
            }
        }
        out
    }

    /// Like [`Redactor::redact`] for an excerpt cut out of a longer text: a secret
    /// cut in half at either edge is masked too (its visible part is at least
    /// four bytes, or the whole secret when it is shorter).
    pub fn redact_excerpt(&self, excerpt: &str) -> String {
        let mut s = self.redact(excerpt).into_owned();
        for p in &self.patterns {
            let min = p.len().min(4);
            // The tail of an excerpt that is the start of a secret.
            if let Some(n) = (min..p.len())
                .rev()
                .find(|&n| p.is_char_boundary(n) && s.ends_with(&p[..n]))
            {
                s.truncate(s.len() - n);
                s.push_str(MASK);
            }
            // The head of an excerpt that is the end of a secret.
            if let Some(n) = (min..p.len())
                .rev()
                .find(|&n| p.is_char_boundary(p.len() - n) && s.starts_with(&p[p.len() - n..]))
            {
                s.replace_range(..n, MASK);
            }
        }
        s
    }

    /// Redacts every string (and object key) inside `v`.
    pub fn redact_value(&self, v: &mut Value) {
        if self.is_empty() {
            return;
        }
        match v {
            Value::String(s) => {
                if let Cow::Owned(r) = self.redact(s) {
                    *s = r;
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.redact_value(x)),
            Value::Object(m) => {
                let needs_key_change = m.keys().any(|k| matches!(self.redact(k), Cow::Owned(_)));
                if needs_key_change {
                    let old = std::mem::take(m);
                    for (k, mut val) in old {
                        self.redact_value(&mut val);
                        m.insert(self.redact(&k).into_owned(), val);
                    }
                } else {
                    m.values_mut().for_each(|x| self.redact_value(x));
                }
            }
            _ => {}
        }
    }

    /// Adds the value of every `token` key inside `v`: an `auth` answer that is
    /// malformed still carries a token, which must not reach an error.
    pub fn add_tokens_in(&mut self, v: &Value) {
        match v {
            Value::Object(m) => {
                for (k, val) in m {
                    match val {
                        Value::String(s) if k == "token" => self.add(s),
                        other => self.add_tokens_in(other),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| self.add_tokens_in(x)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(secrets: &[&str]) -> Redactor {
        let mut r = Redactor::default();
        secrets.iter().for_each(|s| r.add(s));
        r
    }

    #[test]
    fn masks_plain_and_json_escaped_forms() {
        let red = r(&["pa\"ss\\word", "tok123"]);
        assert_eq!(
            red.redact(r#"{"password":"pa\"ss\\word"} Bearer tok123 pa"ss\word"#),
            r#"{"password":"***"} Bearer *** ***"#
        );
        assert!(matches!(red.redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn masks_secrets_cut_at_the_edges_of_an_excerpt() {
        let red = r(&["ABCDEFGHIJ"]);
        assert_eq!(red.redact_excerpt("token=ABCDE"), "token=***");
        assert_eq!(red.redact_excerpt("FGHIJ\" rest"), "***\" rest");
        // Three bytes of a ten-byte secret are not identifiable: kept.
        assert_eq!(red.redact_excerpt("xABC"), "xABC");
        assert_eq!(red.redact_excerpt("a ABCDEFGHIJ b"), "a *** b");
    }

    #[test]
    fn masks_strings_and_keys_in_json() {
        let red = r(&["s3cret"]);
        let mut v = serde_json::json!({"m": "x s3cret y", "s3cret": ["s3cret"], "n": 5});
        red.redact_value(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"m": "x *** y", "***": ["***"], "n": 5})
        );
    }

    #[test]
    fn finds_tokens_anywhere() {
        let mut red = Redactor::default();
        red.add_tokens_in(&serde_json::json!([{"body": {"token": "T0KEN-1"}}]));
        assert_eq!(red.redact("x T0KEN-1"), "x ***");
    }
}
