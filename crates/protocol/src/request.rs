//! Building requests: the endpoint URL, the envelope and the HTTP request description.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::secret::{Secret, MASK};

/// The API endpoint, `{base}/api/`, from a validated base URL.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    base: String,
    url: String,
}

impl Endpoint {
    /// Validates a base URL (`http://` or `https://`, a host, an optional path prefix,
    /// no query or fragment) and derives the endpoint from it.
    ///
    /// `https://pbx.example`, `https://pbx.example/`, `https://h/prefix` and
    /// `https://h/prefix/api/` are all accepted; a base that already ends in `/api`
    /// or `/api/` is taken as the endpoint itself.
    pub fn parse(base_url: &str) -> Result<Self> {
        let trimmed = base_url.trim();
        let lower = trimmed.to_ascii_lowercase();
        let rest_at = if lower.starts_with("https://") {
            8
        } else if lower.starts_with("http://") {
            7
        } else {
            return Err(Error::invalid(format!(
                "base URL must start with http:// or https://, got {:?}",
                shorten(trimmed)
            )));
        };
        if trimmed.contains(['?', '#']) {
            return Err(Error::invalid("base URL must not have a query or fragment"));
        }
        if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::invalid("base URL must not contain whitespace"));
        }
        let rest = &trimmed[rest_at..];
        let authority = rest.split('/').next().unwrap_or("");
        if authority.contains('@') {
            // Credentials in the URL would end up in logs and error messages.
            return Err(Error::invalid(
                "base URL must not contain user info; pass credentials separately",
            ));
        }
        let host = authority
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(authority, |(host, _)| host);
        if host.is_empty() || host == "[]" {
            return Err(Error::invalid("base URL has no host"));
        }
        let mut base = trimmed.trim_end_matches('/').to_owned();
        if base.len() - rest_at > authority.len() && base.to_ascii_lowercase().ends_with("/api") {
            base.truncate(base.len() - 4);
        }
        let url = format!("{base}/api/");
        Ok(Endpoint { base, url })
    }

    /// The base URL, without a trailing slash: also the key of the per-server login guard.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The full endpoint URL, ending in `/api/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// True for an `https` endpoint.
    pub fn is_https(&self) -> bool {
        self.base[..5].eq_ignore_ascii_case("https")
    }

    /// The server this endpoint talks to, as [`ServerIdentity`]: scheme, host and
    /// port, normalised so that every spelling of one server is one identity.
    /// The path plays no part (the Defender blocks a host, not a path).
    pub fn server(&self) -> ServerIdentity {
        let https = self.is_https();
        let rest = &self.base[if https { 8 } else { 7 }..];
        let authority = rest.split('/').next().unwrap_or("");
        let (host, port) = split_host_port(authority);
        // `parse` takes zero-padded ports (`:08080`) as the number they are.
        let port = port
            .filter(|p| !p.is_empty())
            .map_or(if https { 443 } else { 80 }, |p| {
                p.parse::<u32>().unwrap_or(u32::MAX)
            });
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let host = match canonical_ip(&host) {
            Some(ip) => HostIdentity::Ip(ip),
            // RFC 6761: `localhost` and its subdomains are the loopback address.
            None if host == "localhost" || host.ends_with(".localhost") => {
                HostIdentity::Ip(std::net::Ipv4Addr::LOCALHOST.into())
            }
            None => HostIdentity::Name(host),
        };
        ServerIdentity { https, host, port }
    }
}

/// A server as the login guard counts it: one Defender per scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerIdentity {
    /// True for `https`.
    pub https: bool,
    /// The host: an address, or a name still to be resolved.
    pub host: HostIdentity,
    /// The port, with the scheme's default filled in.
    pub port: u32,
}

/// The host part of a [`ServerIdentity`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostIdentity {
    /// An IP address (IPv4-mapped IPv6 addresses are taken as IPv4).
    Ip(std::net::IpAddr),
    /// A DNS name, lower case, without a trailing dot.
    Name(String),
}

impl ServerIdentity {
    /// The same server with its name replaced by an address it resolves to.
    pub fn with_address(&self, ip: std::net::IpAddr) -> ServerIdentity {
        ServerIdentity {
            host: HostIdentity::Ip(unmap(ip)),
            ..self.clone()
        }
    }
}

impl fmt::Display for ServerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        match &self.host {
            HostIdentity::Ip(std::net::IpAddr::V6(ip)) => {
                write!(f, "{scheme}://[{ip}]:{}", self.port)
            }
            HostIdentity::Ip(ip) => write!(f, "{scheme}://{ip}:{}", self.port),
            HostIdentity::Name(n) => write!(f, "{scheme}://{n}:{}", self.port),
        }
    }
}

fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    if let Some(rest) = authority.strip_prefix('[') {
        // [v6]:port
        return match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':')),
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => (h, Some(p)),
        _ => (authority, None),
    }
}

fn unmap(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
        v4 => v4,
    }
}

/// An IP literal in any spelling a resolver accepts: IPv6, dotted IPv4 and the
/// classic shorthand forms (`127.1`, `0x7f.0.0.1`, `2130706433`, octal parts).
fn canonical_ip(host: &str) -> Option<std::net::IpAddr> {
    if let Ok(v6) = host.parse::<std::net::Ipv6Addr>() {
        return Some(unmap(v6.into()));
    }
    let parts: Vec<&str> = host.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let numbers: Vec<u64> = parts
        .iter()
        .map(|p| parse_c_number(p))
        .collect::<Option<_>>()?;
    let (last, leading) = numbers.split_last()?;
    if leading.iter().any(|&n| n > 255) {
        return None;
    }
    let room = 8 * (4 - leading.len() as u32);
    if room < 64 && *last >= 1u64 << room {
        return None;
    }
    let mut value: u64 = 0;
    for (i, n) in leading.iter().enumerate() {
        value |= n << (24 - 8 * i);
    }
    value |= last;
    Some(std::net::Ipv4Addr::from(value as u32).into())
}

/// A number as `inet_aton` reads it: decimal, `0x` hex, or octal with a leading 0.
fn parse_c_number(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() {
        return (radix == 16).then_some(0);
    }
    u64::from_str_radix(digits, radix)
        .ok()
        .filter(|&n| n <= u32::MAX as u64)
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({})", self.url)
    }
}

fn shorten(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Generates `action_id`s unique within the process and unlikely to repeat across
/// processes: a random per-process prefix and a counter.
#[derive(Debug)]
pub struct ActionIdGenerator {
    prefix: String,
    next: AtomicU64,
}

impl ActionIdGenerator {
    /// A generator with a random prefix (from the standard library's hash seed, no clock).
    pub fn new() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x5275_6e74_656c);
        ActionIdGenerator::with_prefix(format!("rt{:08x}", h.finish() as u32))
    }

    /// A generator with a fixed prefix, for reproducible tests.
    pub fn with_prefix(prefix: impl Into<String>) -> Self {
        ActionIdGenerator {
            prefix: prefix.into(),
            next: AtomicU64::new(1),
        }
    }

    /// The next `action_id`.
    pub fn next_id(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        // Once per call: written by hand, `format!` costs several times more.
        let mut id = String::with_capacity(self.prefix.len() + 21);
        id.push_str(&self.prefix);
        id.push('-');
        push_decimal(&mut id, n);
        id
    }
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
}

impl Default for ActionIdGenerator {
    fn default() -> Self {
        Self::new()
    }
}

/// One API call before it is sent: object, action, params and the optional
/// top-level paging and filter fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    obj: String,
    action: String,
    params: Map<String, Value>,
    limit: Option<u64>,
    offset: Option<u64>,
    filter: Option<Value>,
}

impl Call {
    /// A call; `params` must be a JSON object (`null` means `{}`).
    pub fn new(obj: &str, action: &str, params: Value) -> Result<Self> {
        let obj = checked_name("obj", obj)?;
        let action = checked_name("action", action)?;
        let params = match params {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            other => {
                return Err(Error::invalid(format!(
                    "params must be a JSON object, got {}",
                    json_type_name(&other)
                )))
            }
        };
        Ok(Call {
            obj,
            action,
            params,
            limit: None,
            offset: None,
            filter: None,
        })
    }

    /// Sets the top-level `limit` (page size of a list call).
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Sets the top-level `offset` of a list call.
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    /// Sets the top-level `filter` (passed through unchanged); must be an object or null.
    pub fn filter(mut self, filter: Value) -> Result<Self> {
        match filter {
            Value::Null => self.filter = None,
            Value::Object(_) => self.filter = Some(filter),
            other => {
                return Err(Error::invalid(format!(
                    "filter must be a JSON object, got {}",
                    json_type_name(&other)
                )))
            }
        }
        Ok(self)
    }

    /// The object name.
    pub fn obj(&self) -> &str {
        &self.obj
    }

    /// The action name.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The params.
    pub fn params(&self) -> &Map<String, Value> {
        &self.params
    }

    /// The top-level `limit`, if set.
    pub fn get_limit(&self) -> Option<u64> {
        self.limit
    }

    /// The top-level `offset`, if set.
    pub fn get_offset(&self) -> Option<u64> {
        self.offset
    }

    /// The top-level `filter`, if set.
    pub fn get_filter(&self) -> Option<&Value> {
        self.filter.as_ref()
    }

    /// True for the `auth` action, which is sent without a token.
    pub fn is_auth(&self) -> bool {
        self.action == "auth"
    }

    /// True for actions that only read, and so may be retried after a connection error.
    pub fn is_idempotent(&self) -> bool {
        matches!(self.action.as_str(), "list" | "list_with_detail" | "get")
    }

    /// The envelope as JSON bytes, with the given `action_id`.
    pub fn envelope_bytes(&self, action_id: &str) -> Vec<u8> {
        // Field order follows the vendor's example: action, obj, action_id, params.
        #[derive(serde::Serialize)]
        struct Envelope<'a> {
            action: &'a str,
            obj: &'a str,
            action_id: &'a str,
            params: &'a Map<String, Value>,
            #[serde(skip_serializing_if = "Option::is_none")]
            limit: Option<u64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            offset: Option<u64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            filter: Option<&'a Value>,
        }
        serde_json::to_vec(&Envelope {
            action: &self.action,
            obj: &self.obj,
            action_id,
            params: &self.params,
            limit: self.limit,
            offset: self.offset,
            filter: self.filter.as_ref(),
        })
        .expect("a JSON value always serializes")
    }

    /// The complete HTTP request; `token` is required for every action but `auth`,
    /// and is never sent with `auth`.
    pub fn to_http(
        &self,
        endpoint: &Endpoint,
        action_id: String,
        token: Option<&Secret>,
    ) -> HttpRequest {
        let mut authorization = None;
        let mut secrets = Vec::new();
        if self.is_auth() {
            if let Some(Value::String(p)) = self.params.get("password") {
                secrets.push(Secret::new(p.as_str()));
            }
        } else if let Some(t) = token {
            let mut bearer = String::with_capacity(7 + t.expose().len());
            bearer.push_str("Bearer ");
            bearer.push_str(t.expose());
            authorization = Some(Secret::new(bearer));
            secrets.push(t.clone());
        }
        HttpRequest {
            method: "POST",
            url: endpoint.url().to_owned(),
            headers: if authorization.is_some() {
                HEADERS_WITH_TOKEN
            } else {
                HEADERS
            },
            authorization,
            body: self.envelope_bytes(&action_id),
            action_id,
            obj: self.obj.clone(),
            action: self.action.clone(),
            idempotent: self.is_idempotent(),
            carries_password: self.is_auth(),
            secrets,
        }
    }
}

impl Call {
    /// Reads a request envelope as a server receives it: the other side of
    /// [`Call::envelope_bytes`]. Returns the call and its `action_id` (a number is
    /// taken as its decimal text; a missing one as empty). Used by the simulator.
    pub fn from_envelope(body: &[u8]) -> Result<(Call, String)> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| Error::invalid(format!("request body is not valid JSON: {e}")))?;
        let Value::Object(mut m) = v else {
            return Err(Error::invalid("request body is not a JSON object"));
        };
        let text = |v: Option<Value>, what: &str| -> Result<String> {
            match v {
                Some(Value::String(s)) => Ok(s),
                None | Some(Value::Null) => Err(Error::invalid(format!("`{what}` is missing"))),
                Some(other) => Err(Error::invalid(format!(
                    "`{what}` must be a string, got {}",
                    json_type_name(&other)
                ))),
            }
        };
        let action_id = match m.remove("action_id") {
            Some(Value::String(s)) => s,
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let obj = text(m.remove("obj"), "obj")?;
        let action = text(m.remove("action"), "action")?;
        let mut call = Call::new(&obj, &action, m.remove("params").unwrap_or(Value::Null))?;
        let count = |v: Option<Value>, what: &str| -> Result<Option<u64>> {
            match v {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) if n.is_u64() => Ok(n.as_u64()),
                Some(_) => Err(Error::invalid(format!(
                    "`{what}` must be a non-negative integer"
                ))),
            }
        };
        call.limit = count(m.remove("limit"), "limit")?;
        call.offset = count(m.remove("offset"), "offset")?;
        call = call.filter(m.remove("filter").unwrap_or(Value::Null))?;
        Ok((call, action_id))
    }
}

fn checked_name(what: &str, v: &str) -> Result<String> {
    if v.trim().is_empty() {
        return Err(Error::invalid(format!("{what} must not be empty")));
    }
    if v.trim() != v || v.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "{what} must not have surrounding whitespace or control characters: {:?}",
            shorten(v)
        )));
    }
    Ok(v.to_owned())
}

pub(crate) fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Everything a transport needs to send one call. `Debug` masks the
/// `Authorization` header and, for `auth`, the body (it holds the password).
#[derive(Clone)]
pub struct HttpRequest {
    /// Always `POST`.
    pub method: &'static str,
    /// The endpoint URL.
    pub url: String,
    /// Headers other than `Authorization` (whose slot holds an empty value);
    /// all fixed texts: a request allocates nothing for them.
    headers: &'static [(&'static str, &'static str)],
    authorization: Option<Secret>,
    /// The envelope bytes.
    pub body: Vec<u8>,
    /// The `action_id` the answer must echo.
    pub action_id: String,
    /// The object name, for errors and logs.
    pub obj: String,
    /// The action name, for errors and logs.
    pub action: String,
    /// True when the call may be retried after a connection error.
    pub idempotent: bool,
    carries_password: bool,
    /// The secrets this request carries (its token, or the `auth` password), so
    /// whatever echoes them in the answer can be masked.
    secrets: Vec<Secret>,
}

/// The headers of every request.
const HEADERS: &[(&str, &str)] = &[
    ("Content-Type", "application/json"),
    ("Accept", "application/json"),
];
/// The same, with the slot of the bearer token (filled by [`HttpRequest::headers`]).
const HEADERS_WITH_TOKEN: &[(&str, &str)] = &[
    ("Content-Type", "application/json"),
    ("Accept", "application/json"),
    ("Authorization", ""),
];

impl HttpRequest {
    /// The headers to send, `Authorization` included, as the transport needs them.
    /// This exposes the token: do not log the result.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(move |&(k, v)| {
            if k == "Authorization" {
                let auth = self.authorization.as_ref().map_or("", Secret::expose);
                (k, auth)
            } else {
                (k, v)
            }
        })
    }

    /// The headers without `Authorization`: fixed texts, which a transport can
    /// use without copying them (see [`HttpRequest::authorization`]).
    pub fn fixed_headers(&self) -> impl Iterator<Item = (&'static str, &'static str)> {
        self.headers
            .iter()
            .copied()
            .filter(|&(k, _)| k != "Authorization")
    }

    /// The value of the `Authorization` header (`Bearer` and the token), if the
    /// request carries one. This exposes the token: do not log the result.
    pub fn authorization(&self) -> Option<&str> {
        self.authorization.as_ref().map(Secret::expose)
    }

    /// The headers with `Authorization` masked, safe to print.
    pub fn masked_headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|&(k, v)| {
                if k == "Authorization" {
                    (k.to_owned(), format!("Bearer {MASK}"))
                } else {
                    (k.to_owned(), v.to_owned())
                }
            })
            .collect()
    }

    /// The body with `params.password` masked, safe to print.
    pub fn masked_body(&self) -> String {
        let Ok(mut v) = serde_json::from_slice::<Value>(&self.body) else {
            return format!("<{} bytes>", self.body.len());
        };
        mask_secrets_in(&mut v);
        v.to_string()
    }

    /// True when the body holds a password (the `auth` action).
    pub fn carries_password(&self) -> bool {
        self.carries_password
    }

    /// The secrets this request carries: the token it authorizes with, or the
    /// password of an `auth`. Answers are redacted with them.
    pub fn secrets(&self) -> &[Secret] {
        &self.secrets
    }
}

/// Replaces the values of `password` and `token` keys anywhere in `v` by the mask.
pub(crate) fn mask_secrets_in(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if matches!(k.as_str(), "password" | "token") && !val.is_null() {
                    *val = Value::String(MASK.to_owned());
                } else {
                    mask_secrets_in(val);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mask_secrets_in),
        _ => {}
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &self.masked_headers())
            .field("body", &self.masked_body())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn endpoint_joins_api_onto_any_base() {
        let cases = [
            ("https://pbx.example", "https://pbx.example/api/"),
            ("https://pbx.example/", "https://pbx.example/api/"),
            ("http://10.0.0.5:8080", "http://10.0.0.5:8080/api/"),
            (
                "https://h.example/cabinet",
                "https://h.example/cabinet/api/",
            ),
            (
                "https://h.example/cabinet//",
                "https://h.example/cabinet/api/",
            ),
            ("https://h.example/api", "https://h.example/api/"),
            ("https://h.example/x/api/", "https://h.example/x/api/"),
            ("HTTPS://H.example", "HTTPS://H.example/api/"),
            ("  http://[::1]:9000 ", "http://[::1]:9000/api/"),
        ];
        for (base, url) in cases {
            let e = Endpoint::parse(base).unwrap();
            assert_eq!(e.url(), url, "{base}");
        }
        assert_eq!(
            Endpoint::parse("https://h/x/").unwrap().base(),
            "https://h/x"
        );
        assert!(Endpoint::parse("https://h").unwrap().is_https());
        assert!(!Endpoint::parse("http://h").unwrap().is_https());
    }

    #[test]
    fn endpoint_rejects_what_is_not_an_http_base() {
        for bad in [
            "",
            "pbx.example",
            "ftp://pbx.example",
            "https://",
            "https:///api",
            "https://h/?x=1",
            "https://h/#frag",
            "https://user:pw@h/",
            "https://h /x",
        ] {
            let e = Endpoint::parse(bad).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput, "{bad:?}");
        }
        let e = Endpoint::parse("https://admin:hunter2@h/").unwrap_err();
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn call_validates_names_and_params() {
        for (obj, action) in [
            ("", "list"),
            ("  ", "list"),
            ("User", ""),
            (" User", "list"),
        ] {
            let e = Call::new(obj, action, json!({})).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
        }
        for p in [json!([1]), json!("x"), json!(3), json!(true)] {
            let e = Call::new("User", "list", p).unwrap_err();
            assert!(
                e.to_string().contains("params must be a JSON object"),
                "{e}"
            );
        }
        assert!(Call::new("User", "list", Value::Null)
            .unwrap()
            .params()
            .is_empty());
        let e = Call::new("U", "list", json!({}))
            .unwrap()
            .filter(json!([1]));
        assert!(e.is_err());
    }

    #[test]
    fn action_ids_are_unique_and_prefixed() {
        let g = ActionIdGenerator::new();
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| g.next_id()).collect();
        assert_eq!(ids.len(), 1000);
        let other = ActionIdGenerator::new();
        assert_ne!(
            g.next_id(),
            other.next_id(),
            "two generators share a prefix"
        );
        assert_eq!(ActionIdGenerator::with_prefix("t").next_id(), "t-1");
    }

    #[test]
    fn decimals_are_written_as_to_string_writes_them() {
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            12_345,
            u64::from(u32::MAX) + 1,
            u64::MAX,
        ] {
            let mut s = String::from("x");
            push_decimal(&mut s, n);
            assert_eq!(s, format!("x{n}"));
        }
    }

    #[test]
    fn auth_never_carries_a_token_and_others_do() {
        let ep = Endpoint::parse("https://h").unwrap();
        let token = Secret::new("TOKEN123");
        let auth = Call::new("User", "auth", json!({"login": "a", "password": "pw"}))
            .unwrap()
            .to_http(&ep, "1".into(), Some(&token));
        assert!(auth.headers().all(|(k, _)| k != "Authorization"));
        assert!(auth.carries_password());
        let list =
            Call::new("User", "list", json!({}))
                .unwrap()
                .to_http(&ep, "2".into(), Some(&token));
        let h: Vec<_> = list.headers().collect();
        assert!(h.contains(&("Authorization", "Bearer TOKEN123")));
        assert!(h.contains(&("Content-Type", "application/json")));
        let dbg = format!("{list:?} {auth:?}");
        assert!(
            !dbg.contains("TOKEN123") && !dbg.contains("\"pw\""),
            "{dbg}"
        );
        assert!(dbg.contains("Bearer ***"));
    }
}
