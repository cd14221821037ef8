//! Watching each HTTP exchange of a client ([`ClientBuilder::on_exchange`]), for
//! diagnostics such as the CLI's `--debug-http`.
//!
//! The observer sees every request the client sends (logins, calls, retries,
//! replays, pages of [`Records`], logouts) and what came back. What it is handed
//! can only be shown masked: [`Exchange::describe`] masks the password, the token
//! sent and any token the answer carries.
//!
//! [`ClientBuilder::on_exchange`]: crate::ClientBuilder::on_exchange
//! [`Records`]: crate::Records

use std::sync::Arc;
use std::time::Duration;

use runtel_protocol::{Error, HttpRequest, Redactor};
use serde_json::Value;

/// Called once per HTTP exchange, on the thread that made it (a prefetching
/// [`Records`](crate::Records) calls it from its own thread).
pub type ExchangeObserver = Arc<dyn Fn(&Exchange<'_>) + Send + Sync>;

/// One request and what came of it.
pub struct Exchange<'a> {
    request: &'a HttpRequest,
    answer: Result<(u16, &'a [u8]), &'a Error>,
    elapsed: Duration,
}

impl std::fmt::Debug for Exchange<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange")
            .field("obj", &self.request.obj)
            .field("action", &self.request.action)
            .field("action_id", &self.request.action_id)
            .field("status", &self.status())
            .field("elapsed", &self.elapsed)
            .finish_non_exhaustive()
    }
}

impl<'a> Exchange<'a> {
    pub(crate) fn new(
        request: &'a HttpRequest,
        answer: Result<(u16, &'a [u8]), &'a Error>,
        elapsed: Duration,
    ) -> Self {
        Exchange {
            request,
            answer,
            elapsed,
        }
    }

    /// The object called (`User`, `DomainCDR`, ...).
    pub fn obj(&self) -> &str {
        &self.request.obj
    }

    /// The action called (`list`, `auth`, ...).
    pub fn action(&self) -> &str {
        &self.request.action
    }

    /// The request's `action_id` (a retry or a replay has its own).
    pub fn action_id(&self) -> &str {
        &self.request.action_id
    }

    /// The HTTP status, or `None` when no answer came (refused, timed out,
    /// cut off).
    pub fn status(&self) -> Option<u16> {
        self.answer.as_ref().ok().map(|(status, _)| *status)
    }

    /// The answer's body size in bytes (after decompression), if one came.
    pub fn body_len(&self) -> Option<usize> {
        self.answer.as_ref().ok().map(|(_, body)| body.len())
    }

    /// Why no answer came, already free of the request's secrets.
    pub fn failure(&self) -> Option<&Error> {
        self.answer.as_ref().err().copied()
    }

    /// Time from sending to the last byte of the answer (or the failure).
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// The exchange as lines a person reads: `> ` lines for the request (headers
    /// with the token masked, the body with the password masked), `< ` lines for
    /// the answer (the request's secrets and any token it carries masked).
    /// Bodies longer than `body_bound` bytes are cut, saying how much was left
    /// out. Control characters are left as they are: escape them before
    /// writing to a terminal.
    pub fn describe(&self, body_bound: usize) -> String {
        let req = self.request;
        let mut out = format!("> {} {}\n", req.method, req.url);
        for (k, v) in req.masked_headers() {
            out.push_str(&format!("> {k}: {v}\n"));
        }
        out.push_str(&format!("> {}\n", bounded(&req.masked_body(), body_bound)));
        match self.answer {
            Ok((status, body)) => {
                let mut redactor = Redactor::new(req.secrets());
                if let Ok(v) = serde_json::from_slice::<Value>(body) {
                    // A new token (the answer to `auth`) is a secret too.
                    redactor.add_tokens_in(&v);
                }
                let text = String::from_utf8_lossy(body);
                let shown = redactor.redact_excerpt(&bounded(&redactor.redact(&text), body_bound));
                out.push_str(&format!(
                    "< HTTP {status}, {} bytes in {} ms\n< {shown}",
                    body.len(),
                    self.elapsed.as_millis()
                ));
            }
            Err(e) => out.push_str(&format!(
                "< no answer after {} ms: {e}",
                self.elapsed.as_millis()
            )),
        }
        out
    }
}

/// `text` cut to at most `bound` bytes at a character boundary, saying how much
/// was left out.
fn bounded(text: &str, bound: usize) -> String {
    if text.len() <= bound {
        return text.to_owned();
    }
    let mut end = bound;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}… ({} more bytes not shown)",
        &text[..end],
        text.len() - end
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtel_protocol::{Call, Endpoint, Secret};

    fn request(obj: &str, action: &str, params: Value, token: Option<&Secret>) -> HttpRequest {
        let call = Call::new(obj, action, params).unwrap();
        call.to_http(
            &Endpoint::parse("http://127.0.0.1:9").unwrap(),
            "rt-1".into(),
            token,
        )
    }

    #[test]
    fn login_shows_neither_the_password_nor_the_new_token() {
        let req = request(
            "User",
            "auth",
            serde_json::json!({"login": "admin", "password": "Pw-Secret-9"}),
            None,
        );
        let body = br#"{"status":"ok","data":{"token":"tok-New-123456","echo":"Pw-Secret-9"}}"#;
        let shown = Exchange::new(&req, Ok((200, body)), Duration::from_millis(3)).describe(4096);
        assert!(shown.contains("> POST http://127.0.0.1:9/api/"), "{shown}");
        assert!(shown.contains("< HTTP 200"), "{shown}");
        assert!(!shown.contains("Pw-Secret-9"), "{shown}");
        assert!(!shown.contains("tok-New-123456"), "{shown}");
        assert!(shown.contains("\"login\":\"admin\""), "{shown}");
    }

    #[test]
    fn calls_mask_the_token_they_carry_and_cut_long_bodies() {
        let token = Secret::new("tok-Old-987654");
        let req = request(
            "User",
            "list",
            Value::Object(Default::default()),
            Some(&token),
        );
        let body = format!(
            r#"{{"echo":"Bearer tok-Old-987654","pad":"{}"}}"#,
            "x".repeat(100)
        );
        let ex = Exchange::new(&req, Ok((200, body.as_bytes())), Duration::ZERO);
        let shown = ex.describe(40);
        assert!(!shown.contains("tok-Old-987654"), "{shown}");
        assert!(shown.contains("Authorization: Bearer ***"), "{shown}");
        assert!(shown.contains("more bytes not shown"), "{shown}");
        assert_eq!(ex.status(), Some(200));
        assert_eq!(ex.body_len(), Some(body.len()));
        assert!(!format!("{ex:?}").contains("tok-Old"));
    }

    #[test]
    fn failures_say_why_no_answer_came() {
        let req = request("User", "list", Value::Object(Default::default()), None);
        let err = Error::Timeout("no answer within 1 s".into());
        let ex = Exchange::new(&req, Err(&err), Duration::from_millis(1000));
        assert_eq!(ex.status(), None);
        assert!(ex.failure().is_some());
        assert!(ex.describe(100).contains("< no answer after 1000 ms"));
    }

    #[test]
    fn bodies_are_cut_at_a_character_boundary() {
        let long = "ж".repeat(4097);
        let cut = bounded(&long, 4097);
        assert!(cut.len() < 4097 + 64, "{}", cut.len());
        // 4097 is inside a two-byte letter: the cut falls before it.
        assert!(cut.starts_with(&"ж".repeat(2048)));
        assert!(cut.ends_with(&format!("({} more bytes not shown)", long.len() - 4096)));
        assert_eq!(bounded("short", 4096), "short");
    }
}
