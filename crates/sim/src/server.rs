//! The HTTP side: accepting connections, routing, applying faults at the wire,
//! and the `/_sim/` control endpoint (counters, faults, tokens, the Defender,
//! paging options, the catalog at `GET /_sim/objects`, records written as the
//! platform writes them).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{IpAddr, Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use runtel_protocol::{Call, ServerDateTime};
use serde_json::{json, Value};

use crate::api::{Answer, World};
use crate::config::ErrorStyle;
use crate::counters::Counters;
use crate::faults::{Fault, FaultPlan, FaultRule, MalformedAuth};
use crate::http::{self, html_page, write_head, Head, HTML, JSON, TEXT};

/// State shared by every connection of one simulator.
pub(crate) struct Shared {
    pub world: Mutex<World>,
    /// When serving began, for the health answer's uptime.
    pub started: Instant,
    pub faults: Mutex<FaultPlan>,
    pub counters: Counters,
    pub shutdown: AtomicBool,
    pub open: Mutex<HashMap<u64, Conn>>,
    /// Signalled whenever a connection closes or turns idle, for an accept loop
    /// waiting for room under `max_connections`.
    pub open_changed: Condvar,
    pub max_connections: usize,
    /// Gzip bombs by inflated size: built once, sent many times.
    pub bombs: Mutex<HashMap<u64, Arc<Vec<u8>>>>,
    pub next_conn: AtomicU64,
    pub cert_pem: Option<String>,
    pub vectors_dir: Option<std::path::PathBuf>,
    pub skew_secs: i64,
    pub auth_delay: Duration,
    pub max_request_bytes: usize,
    pub idle_timeout: Duration,
}

/// One open connection, as the accept loop sees it.
pub(crate) struct Conn {
    /// A handle to shut the socket down from outside its thread (`None` if the
    /// descriptor could not be duplicated, e.g. out of file descriptors).
    stream: Option<TcpStream>,
    /// Since when it has been waiting for a request; `None` while a request is
    /// being read or answered, or once it was chosen to be closed.
    idle_since: Option<Instant>,
}

/// Locks a mutex, taking the data even if a thread panicked while holding it:
/// the simulator keeps serving rather than cascading one failure into all tests.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The server's clock: ours plus `skew_secs`.
pub(crate) fn skewed_now(skew_secs: i64) -> SystemTime {
    let now = SystemTime::now();
    let skew = Duration::from_secs(skew_secs.unsigned_abs());
    if skew_secs >= 0 {
        now + skew
    } else {
        now - skew
    }
}

impl Shared {
    /// The server's clock: ours plus the configured skew.
    pub fn now(&self) -> SystemTime {
        skewed_now(self.skew_secs)
    }

    /// The health answer: the same for the control endpoint and `/api/health`.
    fn health(&self) -> Value {
        json!({
            "ok": true,
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_secs": self.started.elapsed().as_secs(),
        })
    }
}

/// What a route decided to send.
enum Reply {
    Full(Full),
    /// Send the head announcing `announced` bytes, then `body`, then close.
    Short {
        status: u16,
        announced: u64,
        body: Vec<u8>,
    },
    /// Close without answering.
    Close,
}

/// A complete answer.
struct Full {
    status: u16,
    content_type: &'static str,
    body: Body,
    gzip: bool,
    /// The `Date` header, when the body refers to it.
    date: Option<SystemTime>,
}

enum Body {
    Owned(Vec<u8>),
    /// A cached body (a gzip bomb) sent without copying.
    Shared(Arc<Vec<u8>>),
}

impl Body {
    fn bytes(&self) -> &[u8] {
        match self {
            Body::Owned(b) => b,
            Body::Shared(b) => b,
        }
    }
}

impl Reply {
    fn full(status: u16, content_type: &'static str, body: Vec<u8>) -> Reply {
        Reply::Full(Full {
            status,
            content_type,
            body: Body::Owned(body),
            gzip: false,
            date: None,
        })
    }
}

fn json_reply(status: u16, v: &Value) -> Reply {
    Reply::full(status, JSON, v.to_string().into_bytes())
}

/// Pause after a failed `accept`: the first, and the most.
const ACCEPT_BACKOFF: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(1));

pub(crate) fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    let mut backoff = Duration::ZERO;
    loop {
        let accepted = listener.accept();
        if shared.shutdown.load(Ordering::SeqCst) {
            break;
        }
        let stream = match accepted {
            Ok((stream, _)) => {
                backoff = Duration::ZERO;
                stream
            }
            // The one connection went away before we took it; the next may be fine.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionAborted
                        | ErrorKind::ConnectionReset
                        | ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => {
                // Out of descriptors (EMFILE, ENFILE) or memory: retrying at once
                // would fail again at full speed, so wait, longer each time.
                backoff = (backoff * 2).clamp(ACCEPT_BACKOFF.0, ACCEPT_BACKOFF.1);
                log::warn!("accept failed ({e}); retrying in {backoff:?}");
                std::thread::sleep(backoff);
                continue;
            }
        };
        make_room(&shared);
        if shared.shutdown.load(Ordering::SeqCst) {
            break;
        }
        shared.counters.connections.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        // Zero would be refused by the socket; it means no limit here.
        let timeout = Some(shared.idle_timeout).filter(|t| !t.is_zero());
        let _ = stream.set_read_timeout(timeout);
        // A client that stops reading must not pin a connection slot forever.
        let _ = stream.set_write_timeout(timeout);
        let peer = stream
            .peer_addr()
            .map(|a| a.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
        lock(&shared.open).insert(
            id,
            Conn {
                stream: stream.try_clone().ok(),
                idle_since: Some(Instant::now()),
            },
        );
        let conn_shared = Arc::clone(&shared);
        let tls = tls.clone();
        let spawned = std::thread::Builder::new()
            .name("runtel-sim-conn".into())
            .spawn(move || {
                let shared = conn_shared;
                let _slot = Slot {
                    shared: &shared,
                    id,
                };
                match tls {
                    None => serve_connection(stream, peer, &shared, id),
                    Some(config) => match rustls::ServerConnection::new(config) {
                        Ok(conn) => serve_connection(
                            rustls::StreamOwned::new(conn, stream),
                            peer,
                            &shared,
                            id,
                        ),
                        Err(e) => log::warn!("TLS setup failed: {e}"),
                    },
                }
            });
        if let Err(e) = spawned {
            log::warn!("cannot spawn a connection thread: {e}");
            release(&shared, id);
        }
    }
}

/// Frees a connection's place when its thread ends, even by a panic.
struct Slot<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        release(self.shared, self.id);
    }
}

impl Shared {
    /// The counters, with the connections open at this moment.
    pub(crate) fn counters_snapshot(&self) -> crate::CounterSnapshot {
        let mut snapshot = self.counters.snapshot();
        snapshot.open_connections = lock(&self.open).len() as u64;
        snapshot
    }
}

fn release(shared: &Shared, id: u64) {
    lock(&shared.open).remove(&id);
    shared.open_changed.notify_all();
}

/// Marks a connection as waiting for a request (evictable) or busy.
fn set_idle(shared: &Shared, id: u64, idle: bool) {
    if let Some(c) = lock(&shared.open).get_mut(&id) {
        c.idle_since = idle.then(Instant::now);
    }
    if idle {
        shared.open_changed.notify_all();
    }
}

/// Waits until one more connection fits under `max_connections`. Closes the
/// connection idle the longest to make room; when every one is busy, waits for one
/// to finish (new clients queue in the listen backlog meanwhile).
fn make_room(shared: &Shared) {
    let mut open = lock(&shared.open);
    while open.len() >= shared.max_connections && !shared.shutdown.load(Ordering::SeqCst) {
        let oldest_idle = open
            .iter()
            .filter(|(_, c)| c.stream.is_some())
            .filter_map(|(id, c)| c.idle_since.map(|t| (t, *id)))
            .min();
        if let Some((_, id)) = oldest_idle {
            if let Some(c) = open.get_mut(&id) {
                c.idle_since = None;
                if let Some(s) = &c.stream {
                    let _ = s.shutdown(Shutdown::Both);
                }
            }
        }
        // Bounded, so a shutdown is noticed even if nothing signals.
        open = shared
            .open_changed
            .wait_timeout(open, Duration::from_millis(200))
            .map(|(g, _)| g)
            .unwrap_or_else(|e| e.into_inner().0);
    }
}

fn serve_connection<S: Read + Write>(stream: S, peer: IpAddr, shared: &Shared, id: u64) {
    let mut reader = BufReader::with_capacity(16 * 1024, stream);
    loop {
        // Idle until the first byte of a request: only then may the connection be
        // closed to make room for another client.
        set_idle(shared, id, true);
        match reader.fill_buf() {
            Ok(b) if !b.is_empty() => {}
            _ => return,
        }
        set_idle(shared, id, false);
        let req = match http::read_request(&mut reader, shared.max_request_bytes) {
            Ok(http::Read::Request(r)) => r,
            Ok(http::Read::Closed) | Err(_) => return,
            Ok(http::Read::Bad(status, why)) => {
                let body = html_page(status, &format!("<p>{why}</p>\r\n"));
                let w = reader.get_mut();
                let _ = write_head(w, &Head::plain(status, HTML, body.len(), false))
                    .and_then(|_| w.write_all(&body))
                    .and_then(|_| w.flush());
                return;
            }
        };
        if req.method == "CONNECT" {
            // Acting as a proxy for proxy tests: every tunnel leads to this simulator,
            // so the rest of the connection is served here, whatever host was named.
            let w = reader.get_mut();
            if w.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .and_then(|_| w.flush())
                .is_err()
            {
                return;
            }
            continue;
        }
        let keep_alive = req.keep_alive && !shared.shutdown.load(Ordering::SeqCst);
        let reply = route(shared, &req, peer);
        let w = reader.get_mut();
        let written = match reply {
            Reply::Full(full) => {
                let body = full.body.bytes();
                let head = Head {
                    content_encoding: full.gzip.then_some("gzip"),
                    date: full.date,
                    ..Head::plain(full.status, full.content_type, body.len(), keep_alive)
                };
                write_head(w, &head)
                    .and_then(|_| w.write_all(body))
                    .and_then(|_| w.flush())
            }
            Reply::Short {
                status,
                announced,
                body,
            } => {
                let head = Head {
                    content_length: announced,
                    ..Head::plain(status, JSON, 0, false)
                };
                let _ = write_head(w, &head)
                    .and_then(|_| w.write_all(&body))
                    .and_then(|_| w.flush());
                return;
            }
            Reply::Close => return,
        };
        if written.is_err() || !keep_alive {
            return;
        }
    }
}

fn route(shared: &Shared, req: &http::Request, peer: IpAddr) -> Reply {
    // Absolute-form targets (`POST http://host/api/`, what a client sends to a
    // proxy) are served as their path: servers must accept them (RFC 9112 3.2.2),
    // and it lets tests point a client's proxy setting at the simulator.
    let target = match req.path.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => req.path.as_str(),
    };
    let path = target.split('?').next().unwrap_or_default();
    // The real platform has a health check here (`docs/api-reference.md` §7; its
    // answer is not known). Served outside the API: no counters, faults or
    // Defender, so a readiness probe changes nothing a test asserts on.
    if path == "/api/health" || path == "/api/health/" {
        if req.method != "GET" {
            return Reply::full(405, HTML, html_page(405, ""));
        }
        return json_reply(200, &shared.health());
    }
    if path == "/api/" || path == "/api" {
        if req.method != "POST" {
            return Reply::full(405, HTML, html_page(405, ""));
        }
        return api(shared, req, peer);
    }
    if let Some(op) = path.strip_prefix("/_sim/") {
        return control(shared, &req.method, op, &req.body);
    }
    Reply::full(404, HTML, html_page(404, ""))
}

fn api(shared: &Shared, req: &http::Request, peer: IpAddr) -> Reply {
    shared.counters.requests.fetch_add(1, Ordering::Relaxed);
    let now = shared.now();
    if let Some(Answer::Html { status, body }) = lock(&shared.world).defender_blocks(peer, now) {
        return Reply::full(status, HTML, body);
    }
    let (call, action_id) = match Call::from_envelope(&req.body) {
        Ok(v) => v,
        Err(e) => {
            let style = lock(&shared.world).config.error_style;
            let message = e.to_string();
            let env = json!({"action": "", "action_id": "", "obj": "", "code": 400,
                "msg_id": "bad_request", "message": message.trim_start_matches("invalid input: "),
                "notifies": [], "body": {}});
            return json_reply(if style == ErrorStyle::Http { 400 } else { 200 }, &env);
        }
    };
    // Counted before any fault, so tests can count what reached the server even
    // when a fault replaces the answer.
    shared.counters.count_action(call.action());
    let is_auth = call.action() == "auth";
    let _auth_guard = is_auth.then(|| {
        shared.counters.auth_attempts.fetch_add(1, Ordering::SeqCst);
        shared.counters.auth_in_progress()
    });
    if is_auth && !shared.auth_delay.is_zero() {
        std::thread::sleep(shared.auth_delay);
    }

    let fault = lock(&shared.faults).take(call.action());
    if fault.is_some() {
        shared
            .counters
            .faults_applied
            .fetch_add(1, Ordering::Relaxed);
    }
    match &fault {
        Some(Fault::Delay(d)) => std::thread::sleep(*d),
        Some(Fault::DropBeforeResponse) => return Reply::Close,
        Some(Fault::Html502) => return Reply::full(502, HTML, html_page(502, "")),
        Some(Fault::Html503) => return Reply::full(503, HTML, html_page(503, "")),
        Some(Fault::Html401) => return Reply::full(401, HTML, html_page(401, "")),
        Some(Fault::Html403) => return Reply::full(403, HTML, html_page(403, "")),
        Some(Fault::Replay(replay)) => {
            let content_type = if replay.content_type.starts_with("text/html") {
                HTML
            } else {
                JSON
            };
            return Reply::full(replay.status, content_type, replay.body_for(&action_id));
        }
        Some(Fault::NonObjectJson) => {
            return Reply::full(200, JSON, b"[\"not\", \"an\", \"envelope\"]".to_vec())
        }
        Some(Fault::EchoRequest) => {
            let mut body = req.head.clone();
            body.extend_from_slice(&req.body);
            return Reply::full(400, TEXT, body);
        }
        Some(Fault::EchoEnvelope) => {
            let raw = String::from_utf8_lossy(&req.body);
            let auth = req.header("authorization").unwrap_or_default();
            let env = json!({"action": call.action(), "action_id": action_id,
                "obj": call.obj(), "code": 400, "msg_id": "bad_request",
                "message": format!("{raw} auth={auth}"),
                "errors": {"params": [raw], "authorization": [auth]},
                "notifies": [], "body": {}});
            return json_reply(400, &env);
        }
        Some(Fault::GzipBomb(size)) => {
            let bomb = {
                let mut bombs = lock(&shared.bombs);
                Arc::clone(
                    bombs
                        .entry(*size)
                        .or_insert_with(|| Arc::new(crate::gzip::bomb(*size))),
                )
            };
            return Reply::Full(Full {
                status: 200,
                content_type: JSON,
                body: Body::Shared(bomb),
                gzip: true,
                date: None,
            });
        }
        Some(Fault::LyingLength(n)) => {
            return Reply::Short {
                status: 200,
                announced: *n,
                body: b"{\"code\":200".to_vec(),
            }
        }
        _ => {}
    }

    let token = req
        .header("authorization")
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim);
    let answer = lock(&shared.world).handle(&call, &action_id, token, peer, now);
    let (mut status, mut envelope, raw_list) = match answer {
        Answer::Envelope {
            status,
            envelope,
            raw_list,
        } => (status, envelope, raw_list),
        Answer::Html { status, body } => return Reply::full(status, HTML, body),
    };
    if is_auth && envelope.get("code").and_then(Value::as_i64) != Some(200) {
        shared.counters.auth_failures.fetch_add(1, Ordering::SeqCst);
    }
    let mut date = None;
    match &fault {
        Some(Fault::WrongActionId) => {
            envelope.insert("action_id".into(), format!("not-{action_id}").into());
        }
        Some(Fault::Oversize(n)) => {
            envelope.insert("padding".into(), "x".repeat(*n).into());
        }
        Some(Fault::ExpPast) => {
            // Whole seconds, as the Date header carries them, so `exp` is exactly
            // one hour before the Date the client reads.
            let secs = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            let sent = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
            date = Some(sent);
            if let Some(Value::Object(body)) = envelope.get_mut("body") {
                let exp = ServerDateTime::from_system_time(sent - Duration::from_secs(3600));
                body.insert("exp".into(), exp.to_string().into());
            }
        }
        Some(Fault::AuthMalformed(MalformedAuth::NoCode)) => {
            envelope.shift_remove("code");
        }
        Some(Fault::AuthMalformed(MalformedAuth::Http500)) => status = 500,
        _ => {}
    }
    let token_issued = envelope
        .get("body")
        .and_then(|b| b.get("token"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut body = serialize_envelope(envelope, raw_list);
    let mut gzip = false;
    match fault {
        Some(Fault::InvalidUtf8) => {
            // Inside the `obj` string value, so only the UTF-8 check can catch it.
            let at = find(&body, b"\"obj\":\"").map_or(1, |i| i + 7);
            body.insert(at, 0xFF);
        }
        Some(Fault::TruncatedJson) => body.truncate(body.len() / 2),
        Some(Fault::DropMidBody) => {
            body.truncate(body.len() / 2);
            let announced = body.len() as u64 * 2;
            return Reply::Short {
                status,
                announced,
                body,
            };
        }
        Some(Fault::Bom) => {
            body.splice(0..0, [0xEF, 0xBB, 0xBF]);
        }
        Some(Fault::Gzip) => {
            body = crate::gzip::compress(&body);
            gzip = true;
        }
        Some(Fault::AuthMalformed(MalformedAuth::Truncated)) => {
            let cut = token_issued
                .and_then(|t| {
                    let field = format!("\"token\":\"{t}\"");
                    find(&body, field.as_bytes()).map(|i| i + field.len())
                })
                .unwrap_or(body.len() / 2);
            body.truncate(cut);
        }
        Some(Fault::AuthMalformed(MalformedAuth::TrailingGarbage)) => {
            body.extend_from_slice(b"xyz");
        }
        Some(Fault::AuthMalformed(MalformedAuth::Array)) => {
            body.insert(0, b'[');
            body.push(b']');
        }
        _ => {}
    }
    Reply::Full(Full {
        status,
        content_type: JSON,
        body: Body::Owned(body),
        gzip,
        date,
    })
}

/// The envelope's bytes; a pre-serialized `list` goes in before `total_count`, in the
/// same key order as the general path (`..., "list": [...], "total_count": N`).
fn serialize_envelope(
    mut envelope: serde_json::Map<String, Value>,
    raw_list: Option<String>,
) -> Vec<u8> {
    let Some(raw) = raw_list else {
        return serde_json::to_vec(&envelope).unwrap_or_default();
    };
    let total = envelope.shift_remove("total_count");
    let mut body = serde_json::to_vec(&envelope).unwrap_or_default();
    body.pop(); // the closing brace
    body.reserve(raw.len() + 40);
    body.extend_from_slice(b",\"list\":");
    body.extend_from_slice(raw.as_bytes());
    // Absent when the paging options say to omit it.
    if let Some(total) = total {
        body.extend_from_slice(b",\"total_count\":");
        body.extend_from_slice(total.to_string().as_bytes());
    }
    body.push(b'}');
    body
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn control(shared: &Shared, method: &str, op: &str, body: &[u8]) -> Reply {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let ok = || json_reply(200, &json!({"ok": true}));
    let bad = |m: String| json_reply(400, &json!({"ok": false, "error": m}));
    match (method, op) {
        ("GET", "health") => json_reply(200, &shared.health()),
        ("GET", "counters") => json_reply(200, &shared.counters_snapshot().to_json()),
        ("POST", "counters/reset") => {
            shared.counters.reset();
            ok()
        }
        ("GET", "faults") => json_reply(200, &lock(&shared.faults).to_json()),
        ("POST", "faults") => {
            let rules = match &parsed {
                Value::Array(a) => a.iter().map(FaultRule::from_json).collect(),
                v => FaultRule::from_json(v).map(|r| vec![r]),
            };
            match rules {
                Ok(rules) => {
                    let mut plan = lock(&shared.faults);
                    rules.into_iter().for_each(|r| plan.push(r));
                    ok()
                }
                Err(e) => bad(e),
            }
        }
        ("POST", "faults/clear") | ("DELETE", "faults") => {
            lock(&shared.faults).clear();
            ok()
        }
        ("POST", "tokens/expire") => {
            let expired = lock(&shared.world).expire_all_tokens();
            json_reply(200, &json!({"ok": true, "expired": expired}))
        }
        ("POST", "defender/unblock") => {
            lock(&shared.world).unblock_all();
            ok()
        }
        ("POST", "error-style") => match parsed["style"].as_str() {
            Some("http") => {
                lock(&shared.world).config.error_style = ErrorStyle::Http;
                ok()
            }
            Some("envelope") => {
                lock(&shared.world).config.error_style = ErrorStyle::Envelope;
                ok()
            }
            _ => bad("style must be \"http\" or \"envelope\"".into()),
        },
        ("POST", "replay") => {
            // Serve a shared test vector as the next answer; answer with its `expect`.
            let name = parsed["vector"].as_str().unwrap_or_default();
            if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
                return bad("`vector` must be a vector file name".into());
            }
            let Some(dir) = &shared.vectors_dir else {
                return bad("the simulator was started without --vectors DIR".into());
            };
            let loaded = std::fs::read_to_string(dir.join(format!("{name}.json")))
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()))
                .and_then(|v| crate::faults::Replay::from_vector(&v));
            match loaded {
                Ok((replay, expect)) => {
                    lock(&shared.faults).push(FaultRule::times(Fault::Replay(Box::new(replay)), 1));
                    json_reply(200, &expect)
                }
                Err(e) => bad(format!("vector {name}: {e}")),
            }
        }
        ("GET", "ca.pem") => match &shared.cert_pem {
            Some(pem) => Reply::full(200, "application/x-pem-file", pem.clone().into_bytes()),
            None => bad("not serving TLS".into()),
        },
        ("GET", "last-token") => {
            let token = lock(&shared.world).last_token.clone();
            json_reply(200, &json!({ "token": token }))
        }
        ("GET", "objects") => json_reply(200, &runtel_protocol::catalog::to_json()),
        ("POST", "records") => {
            // As the platform writes: the way to add log records.
            let (Some(obj), Some(records)) = (parsed["obj"].as_str(), parsed["records"].as_array())
            else {
                return bad("expected {\"obj\": NAME, \"records\": [{...}, ...]}".into());
            };
            match lock(&shared.world).insert_records(obj, records.clone()) {
                Ok(ids) => json_reply(200, &json!({"ok": true, "ids": ids})),
                Err(e) => bad(e),
            }
        }
        ("POST", "records/delete") => {
            let (Some(obj), Some(ids)) = (parsed["obj"].as_str(), parsed["ids"].as_array()) else {
                return bad("expected {\"obj\": NAME, \"ids\": [1, 2, ...]}".into());
            };
            let Some(ids) = ids.iter().map(Value::as_i64).collect::<Option<Vec<i64>>>() else {
                return bad("`ids` must be integers".into());
            };
            if runtel_protocol::catalog::object(obj).is_none() {
                return bad(format!("unknown object {obj:?}"));
            }
            let deleted = lock(&shared.world).delete_records(obj, ids);
            json_reply(200, &json!({"ok": true, "deleted": deleted}))
        }
        ("GET", "paging") => json_reply(200, &lock(&shared.world).config.paging.to_json()),
        ("POST", "paging") => {
            let mut world = lock(&shared.world);
            match world.config.paging.update_from_json(&parsed) {
                Ok(()) => json_reply(
                    200,
                    &json!({"ok": true, "paging": world.config.paging.to_json()}),
                ),
                Err(e) => bad(e),
            }
        }
        _ => json_reply(
            404,
            &json!({"ok": false, "error": format!("no control operation {method} /_sim/{op}")}),
        ),
    }
}

/// Ends every open connection (on shutdown).
pub(crate) fn close_all(shared: &Shared) {
    for (_, c) in lock(&shared.open).drain() {
        if let Some(s) = c.stream {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
    shared.open_changed.notify_all();
}
