//! The protocol crate driven by a hand-written transport: plain HTTP/1.1 over a
//! `std::net::TcpStream`, no HTTP library. This is the point of sans-IO: the
//! crate decides what to send, what an answer means, when to log in, retry or
//! replay ([`CallPolicy`], [`LoginAttempt`]); any transport carries it out and gets
//! the whole reliability contract.
//!
//! Run it against the simulator:
//! ```sh
//! cargo run -p runtel-sim -- --listen 127.0.0.1:8765 &
//! cargo run -p runtel-protocol --example custom_transport -- http://127.0.0.1:8765 \
//!     admin@sim.runtel.local admin
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use runtel_protocol::{
    parse_response, ActionIdGenerator, AuthInfo, Call, CallPolicy, CallStep, Endpoint, Error,
    Expected, GuardDecision, HttpRequest, Limits, LoginAttempt, LoginGuard, PolicyOptions,
    RawAnswer, Response, Secret, Session, TransportCause, TransportFailure,
};
use serde_json::json;

/// Sends one request; a failure is categorised the way the call policy needs it.
fn send(req: &HttpRequest) -> Result<RawAnswer, TransportFailure> {
    send_over_tcp(req).map_err(|e| {
        let timed_out = matches!(
            e.kind(),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
        );
        let refused = e.kind() == std::io::ErrorKind::ConnectionRefused;
        TransportFailure {
            error: if timed_out {
                Error::Timeout(format!("{}.{}: {e}", req.obj, req.action))
            } else {
                Error::transport(
                    if refused {
                        TransportCause::Connect
                    } else {
                        TransportCause::Io
                    },
                    format!("{}.{}: {e}", req.obj, req.action),
                )
            },
            retryable: !timed_out,
            not_sent: refused,
        }
    })
}

/// Sends one request with `Connection: close`; returns status, `Date` header and body.
fn send_over_tcp(req: &HttpRequest) -> std::io::Result<RawAnswer> {
    let rest = req
        .url
        .split_once("://")
        .map_or(req.url.as_str(), |(_, r)| r);
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head = format!("{} /{path} HTTP/1.1\r\nHost: {authority}\r\n", req.method);
    for (name, value) in req.headers() {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        req.body.len()
    ));
    stream.write_all(head.as_bytes())?;
    stream.write_all(&req.body)?;

    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut date = None;
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        if line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("date") {
                date = Some(v.trim().to_owned());
            }
        }
    }
    let mut body = Vec::new();
    reader.read_to_end(&mut body)?;
    Ok(RawAnswer { status, date, body })
}

/// A client in a few lines: the protocol's policies decide, this struct moves bytes.
struct Pbx {
    endpoint: Endpoint,
    ids: ActionIdGenerator,
    limits: Limits,
    session: Session,
    guard: LoginGuard,
    login: String,
    password: Secret,
}

impl Pbx {
    /// One `auth`, counted by the login guard as the protocol says (fail closed).
    fn log_in(&mut self) -> Result<AuthInfo, Error> {
        match self.guard.try_begin(SystemTime::now())? {
            GuardDecision::Proceed => {}
            // One thread here: nothing else can be in flight.
            GuardDecision::Wait => unreachable!("no other login is in flight"),
        }
        let attempt = LoginAttempt::new(
            &self.endpoint,
            self.ids.next_id(),
            &self.login,
            &self.password,
        )?;
        let sent = send(attempt.request());
        let now = SystemTime::now();
        let (outcome, result) = attempt.finish(sent, &self.limits, &mut self.session, now);
        self.guard.finish(outcome, now);
        result
    }

    /// One call with the whole reliability contract: lazy login, renewal, one
    /// re-login and replay after a 401, retries of reads with backoff.
    fn call(&mut self, call: &Call) -> Result<Response, Error> {
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        let mut policy = CallPolicy::new(call, PolicyOptions::default(), true, seed);
        loop {
            let ids = &self.ids;
            match policy.next(
                &self.session,
                &self.endpoint,
                || ids.next_id(),
                SystemTime::now(),
            ) {
                CallStep::Login { token_rejected, .. } => {
                    if token_rejected {
                        self.session.mark_rejected();
                    }
                    let logged_in = self.log_in().map(|info| {
                        println!(
                            "logged in as {} (role {}), token expires {}",
                            info.user_login, info.role_name, info.exp
                        );
                    });
                    policy.login_done(logged_in);
                }
                CallStep::Send(request) => match send(&request) {
                    Ok(raw) => {
                        let decoded = parse_response(
                            Expected::from(&*request),
                            raw.status,
                            &raw.body,
                            &self.limits,
                        );
                        policy.answer(raw.status, decoded);
                    }
                    Err(failure) => policy.failed(failure),
                },
                CallStep::Sleep(pause) => {
                    println!("retrying in {} ms", pause.as_millis());
                    std::thread::sleep(pause);
                }
                CallStep::Done(result) => return result,
            }
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: custom_transport BASE_URL LOGIN PASSWORD";
    let base = args.next().ok_or(usage)?;
    let login = args.next().ok_or(usage)?;
    let password = Secret::new(args.next().ok_or(usage)?);

    let mut pbx = Pbx {
        endpoint: Endpoint::parse(&base)?,
        ids: ActionIdGenerator::new(),
        limits: Limits::default(),
        session: Session::new(),
        guard: LoginGuard::default(),
        login,
        password,
    };

    // No explicit login: the policy logs in on the first call.
    let users = pbx.call(&Call::new("User", "list", json!({}))?.limit(5))?;
    println!(
        "{} users in all; first page:",
        users.total_count().unwrap_or(0)
    );
    for u in users.records() {
        println!("  {} {}", u["id"], u["login"]);
    }

    let logout = Call::new("User", "logout", json!({}))?;
    let req = pbx
        .session
        .request(&pbx.endpoint, &logout, pbx.ids.next_id(), SystemTime::now())?;
    let raw = send(&req).map_err(|f| f.error)?;
    parse_response(Expected::from(&req), raw.status, &raw.body, &pbx.limits)?;
    pbx.session.mark_logged_out();
    println!("logged out");
    Ok(())
}
