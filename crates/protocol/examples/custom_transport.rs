//! The protocol crate driven by a hand-written transport: plain HTTP/1.1 over a
//! `std::net::TcpStream`, no HTTP library. This is the point of sans-IO: the
//! crate decides what to send and what an answer means; any transport carries it.
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
    classify_auth_error, parse_http_date, parse_response, ActionIdGenerator, Call, Endpoint,
    Expected, HttpRequest, Limits, Secret, Session,
};
use serde_json::json;

/// Sends one request with `Connection: close`; returns status, `Date` header and body.
fn send(req: &HttpRequest) -> std::io::Result<(u16, Option<String>, Vec<u8>)> {
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
    Ok((status, date, body))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: custom_transport BASE_URL LOGIN PASSWORD";
    let base = args.next().ok_or(usage)?;
    let login = args.next().ok_or(usage)?;
    let password = Secret::new(args.next().ok_or(usage)?);

    let endpoint = Endpoint::parse(&base)?;
    let ids = ActionIdGenerator::new();
    let limits = Limits::default();
    let mut session = Session::new();

    let auth = Session::auth_request(&endpoint, ids.next_id(), &login, &password)?;
    let (status, date, body) = send(&auth)?;
    let answer = parse_response(Expected::from(&auth), status, &body, &limits)
        .map_err(classify_auth_error)?;
    let info = session.accept_login(
        &answer,
        date.as_deref().and_then(parse_http_date),
        SystemTime::now(),
    )?;
    println!(
        "logged in as {} (role {}), token expires {}",
        info.user_login, info.role_name, info.exp
    );

    let call = Call::new("User", "list", json!({}))?.limit(5);
    let req = session.request(&endpoint, &call, ids.next_id(), SystemTime::now())?;
    let (status, _, body) = send(&req)?;
    let users = parse_response(Expected::from(&req), status, &body, &limits)?;
    println!(
        "{} users in all; first page:",
        users.total_count().unwrap_or(0)
    );
    for u in users.records() {
        println!("  {} {}", u["id"], u["login"]);
    }

    let logout = Call::new("User", "logout", json!({}))?;
    let req = session.request(&endpoint, &logout, ids.next_id(), SystemTime::now())?;
    let (status, _, body) = send(&req)?;
    parse_response(Expected::from(&req), status, &body, &limits)?;
    session.mark_logged_out();
    println!("logged out");
    Ok(())
}
