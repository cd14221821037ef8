//! The HTTP side: accepting connections, routing, applying faults at the wire,
//! and the `/_sim/` control endpoint.

use std::collections::HashMap;
use std::io::{BufReader, Read, Write};
use std::net::{IpAddr, Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use runtel_protocol::Call;
use serde_json::{json, Value};

use crate::api::{Answer, World};
use crate::config::ErrorStyle;
use crate::counters::Counters;
use crate::faults::{Fault, FaultPlan, FaultRule};
use crate::http::{self, html_page, write_head, HTML, JSON};

/// State shared by every connection of one simulator.
pub(crate) struct Shared {
    pub world: Mutex<World>,
    pub faults: Mutex<FaultPlan>,
    pub counters: Counters,
    pub shutdown: AtomicBool,
    pub open: Mutex<HashMap<u64, TcpStream>>,
    pub next_conn: AtomicU64,
    pub cert_pem: Option<String>,
    pub vectors_dir: Option<std::path::PathBuf>,
    pub skew_secs: i64,
    pub auth_delay: Duration,
    pub max_request_bytes: usize,
    pub idle_timeout: Duration,
}

/// Locks a mutex, taking the data even if a thread panicked while holding it:
/// the simulator keeps serving rather than cascading one failure into all tests.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// The server's clock: ours plus the configured skew.
    pub fn now(&self) -> SystemTime {
        let now = SystemTime::now();
        let skew = Duration::from_secs(self.skew_secs.unsigned_abs());
        if self.skew_secs >= 0 {
            now + skew
        } else {
            now - skew
        }
    }
}

/// What a route decided to send.
enum Reply {
    Full {
        status: u16,
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// Send the head announcing `body.len() * 2` bytes, then `body`, then close.
    CutShort { status: u16, body: Vec<u8> },
    /// Close without answering.
    Close,
}

fn json_reply(status: u16, v: &Value) -> Reply {
    Reply::Full {
        status,
        content_type: JSON,
        body: v.to_string().into_bytes(),
    }
}

pub(crate) fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    for stream in listener.incoming() {
        if shared.shutdown.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        shared.counters.connections.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(shared.idle_timeout));
        let peer = stream
            .peer_addr()
            .map(|a| a.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.open).insert(id, clone);
        }
        let shared = Arc::clone(&shared);
        let tls = tls.clone();
        let spawned = std::thread::Builder::new()
            .name("runtel-sim-conn".into())
            .spawn(move || {
                match tls {
                    None => serve_connection(stream, peer, &shared),
                    Some(config) => match rustls::ServerConnection::new(config) {
                        Ok(conn) => {
                            serve_connection(rustls::StreamOwned::new(conn, stream), peer, &shared)
                        }
                        Err(e) => log::warn!("TLS setup failed: {e}"),
                    },
                }
                lock(&shared.open).remove(&id);
            });
        if let Err(e) = spawned {
            log::warn!("cannot spawn a connection thread: {e}");
        }
    }
}

fn serve_connection<S: Read + Write>(stream: S, peer: IpAddr, shared: &Shared) {
    let mut reader = BufReader::with_capacity(16 * 1024, stream);
    loop {
        let req = match http::read_request(&mut reader, shared.max_request_bytes) {
            Ok(http::Read::Request(r)) => r,
            Ok(http::Read::Closed) | Err(_) => return,
            Ok(http::Read::Bad(status, why)) => {
                let body = html_page(status, &format!("<p>{why}</p>\r\n"));
                let w = reader.get_mut();
                let _ = write_head(w, status, HTML, body.len(), false)
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
            Reply::Full {
                status,
                content_type,
                body,
            } => write_head(w, status, content_type, body.len(), keep_alive)
                .and_then(|_| w.write_all(&body))
                .and_then(|_| w.flush()),
            Reply::CutShort { status, body } => {
                let _ = write_head(w, status, JSON, body.len() * 2, false)
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
    if path == "/api/" || path == "/api" {
        if req.method != "POST" {
            return Reply::Full {
                status: 405,
                content_type: HTML,
                body: html_page(405, ""),
            };
        }
        return api(shared, req, peer);
    }
    if let Some(op) = path.strip_prefix("/_sim/") {
        return control(shared, &req.method, op, &req.body);
    }
    Reply::Full {
        status: 404,
        content_type: HTML,
        body: html_page(404, ""),
    }
}

fn api(shared: &Shared, req: &http::Request, peer: IpAddr) -> Reply {
    shared.counters.requests.fetch_add(1, Ordering::Relaxed);
    let now = shared.now();
    if let Some(Answer::Html { status, body }) = lock(&shared.world).defender_blocks(peer, now) {
        return Reply::Full {
            status,
            content_type: HTML,
            body,
        };
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
        Some(Fault::Html502) => {
            return Reply::Full {
                status: 502,
                content_type: HTML,
                body: html_page(502, ""),
            }
        }
        Some(Fault::Html503) => {
            return Reply::Full {
                status: 503,
                content_type: HTML,
                body: html_page(503, ""),
            }
        }
        Some(Fault::Replay(replay)) => {
            return Reply::Full {
                status: replay.status,
                content_type: if replay.content_type.starts_with("text/html") {
                    HTML
                } else {
                    JSON
                },
                body: replay.body_for(&action_id),
            }
        }
        Some(Fault::NonObjectJson) => {
            return Reply::Full {
                status: 200,
                content_type: JSON,
                body: b"[\"not\", \"an\", \"envelope\"]".to_vec(),
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
    let (status, mut envelope, raw_list) = match answer {
        Answer::Envelope {
            status,
            envelope,
            raw_list,
        } => (status, envelope, raw_list),
        Answer::Html { status, body } => {
            return Reply::Full {
                status,
                content_type: HTML,
                body,
            }
        }
    };
    if is_auth && envelope.get("code").and_then(Value::as_i64) != Some(200) {
        shared.counters.auth_failures.fetch_add(1, Ordering::SeqCst);
    }
    match &fault {
        Some(Fault::WrongActionId) => {
            envelope.insert("action_id".into(), format!("not-{action_id}").into());
        }
        Some(Fault::Oversize(n)) => {
            envelope.insert("padding".into(), "x".repeat(*n).into());
        }
        _ => {}
    }
    let mut body = serialize_envelope(envelope, raw_list);
    match fault {
        Some(Fault::InvalidUtf8) => {
            // Inside the `obj` string value, so only the UTF-8 check can catch it.
            let at = find(&body, b"\"obj\":\"").map_or(1, |i| i + 7);
            body.insert(at, 0xFF);
        }
        Some(Fault::TruncatedJson) => body.truncate(body.len() / 2),
        Some(Fault::DropMidBody) => {
            body.truncate(body.len() / 2);
            return Reply::CutShort { status, body };
        }
        _ => {}
    }
    Reply::Full {
        status,
        content_type: JSON,
        body,
    }
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
    let total = envelope.shift_remove("total_count").unwrap_or(Value::Null);
    let mut body = serde_json::to_vec(&envelope).unwrap_or_default();
    body.pop(); // the closing brace
    body.reserve(raw.len() + 40);
    body.extend_from_slice(b",\"list\":");
    body.extend_from_slice(raw.as_bytes());
    body.extend_from_slice(b",\"total_count\":");
    body.extend_from_slice(total.to_string().as_bytes());
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
        ("GET", "counters") => json_reply(200, &shared.counters.snapshot().to_json()),
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
            Some(pem) => Reply::Full {
                status: 200,
                content_type: "application/x-pem-file",
                body: pem.clone().into_bytes(),
            },
            None => bad("not serving TLS".into()),
        },
        _ => json_reply(
            404,
            &json!({"ok": false, "error": format!("no control operation {method} /_sim/{op}")}),
        ),
    }
}

/// Ends every open connection (on shutdown).
pub(crate) fn close_all(shared: &Shared) {
    for (_, s) in lock(&shared.open).drain() {
        let _ = s.shutdown(Shutdown::Both);
    }
}
