//! The simulator over real HTTP: auth, expiry, logout, Defender, CRUD and validation,
//! paging and filters, scopes, error styles, every fault, control endpoint, TLS,
//! the binary, seed dates and fixtures, start-up checks, health checks.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use runtel_sim::{
    Account, ErrorStyle, Fault, FaultRule, GetStyle, ListStyle, SimConfig, Simulator,
    DEFAULT_LOGIN, DEFAULT_PASSWORD,
};
use serde_json::{json, Value};

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

fn post_raw(
    agent: &ureq::Agent,
    url: &str,
    body: &[u8],
    token: Option<&str>,
) -> Result<Answer, ureq::Error> {
    let mut req = agent
        .post(format!("{url}/api/"))
        .header("Content-Type", "application/json");
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let mut resp = req.send(body)?;
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let status = resp.status().as_u16();
    let body = resp.body_mut().with_config().limit(1 << 30).read_to_vec()?;
    Ok(Answer {
        status,
        headers,
        body,
    })
}

fn post(url: &str, obj: &str, action: &str, params: Value, token: Option<&str>) -> Answer {
    let env = json!({"action": action, "obj": obj, "action_id": "t-1", "params": params});
    post_raw(&agent(), url, env.to_string().as_bytes(), token).unwrap()
}

fn post_env(url: &str, env: Value, token: Option<&str>) -> Answer {
    post_raw(&agent(), url, env.to_string().as_bytes(), token).unwrap()
}

fn login(url: &str, l: &str, p: &str) -> String {
    let a = post(
        url,
        "User",
        "auth",
        json!({"login": l, "password": p}),
        None,
    );
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    a.json()["body"]["token"].as_str().unwrap().to_owned()
}

fn admin(url: &str) -> String {
    login(url, DEFAULT_LOGIN, DEFAULT_PASSWORD)
}

fn sim(config: SimConfig) -> Simulator {
    Simulator::start(config).unwrap()
}

#[test]
fn auth_answers_with_the_vendor_shape_and_nginx_headers() {
    let s = sim(SimConfig::default());
    let a = post(
        s.url(),
        "User",
        "auth",
        json!({"login": DEFAULT_LOGIN, "password": DEFAULT_PASSWORD}),
        None,
    );
    assert_eq!(a.status, 200);
    assert_eq!(a.header("server"), Some("nginx/1.16.1"));
    assert_eq!(
        a.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(a.header("access-control-allow-origin"), Some("*"));
    let date = runtel_protocol::parse_http_date(a.header("date").unwrap()).unwrap();
    let v = a.json();
    let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        ["action", "action_id", "obj", "code", "notifies", "body"],
        "vendor key order"
    );
    let body = &v["body"];
    let seed: Value = {
        let p = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/vectors/auth_seed.json"
        );
        let vec: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        serde_json::from_str(vec["response"]["body_text"].as_str().unwrap()).unwrap()
    };
    let mut ours: Vec<_> = body.as_object().unwrap().keys().collect();
    let mut theirs: Vec<_> = seed["body"].as_object().unwrap().keys().collect();
    ours.sort();
    theirs.sort();
    assert_eq!(
        ours, theirs,
        "every field of the vendor's auth body, no more"
    );
    // exp is zone-less and 4 hours after the Date header (default lifetime).
    let exp_text = body["exp"].as_str().unwrap();
    assert!(!exp_text.ends_with('Z') && !exp_text.contains('+'));
    let exp: runtel_protocol::ServerDateTime = exp_text.parse().unwrap();
    let lifetime = exp.to_system_time().duration_since(date).unwrap();
    assert!(
        lifetime > Duration::from_secs(4 * 3600 - 2)
            && lifetime <= Duration::from_secs(4 * 3600 + 1)
    );
    assert_eq!(body["user_login"], DEFAULT_LOGIN);
    assert_eq!(body["role_type"], 1);
    assert_eq!(body["domain_billing_options"]["balance"], "1000.0");
    assert_ne!(admin(s.url()), admin(s.url()), "a fresh token each time");
    assert_eq!(s.counters().auth_attempts, 3);
}

#[test]
fn wrong_credentials_missing_and_bad_tokens_are_401() {
    let s = sim(SimConfig::default());
    let a = post(
        s.url(),
        "User",
        "auth",
        json!({"login": DEFAULT_LOGIN, "password": "nope"}),
        None,
    );
    assert_eq!(a.status, 401);
    assert_eq!(a.json()["code"], 401);
    assert_eq!(a.json()["msg_id"], "auth_failed");
    for token in [None, Some("garbage")] {
        let a = post(s.url(), "User", "list", json!({}), token);
        assert_eq!(a.status, 401);
        assert_eq!(a.json()["action_id"], "t-1");
    }
    assert_eq!(s.counters().auth_failures, 1);
}

#[test]
fn tokens_expire_and_logout_revokes() {
    let s = sim(SimConfig {
        token_lifetime: Duration::from_millis(600),
        ..SimConfig::default()
    });
    let t = admin(s.url());
    assert_eq!(
        post(s.url(), "User", "list", json!({}), Some(&t)).status,
        200
    );
    std::thread::sleep(Duration::from_millis(700));
    let a = post(s.url(), "User", "list", json!({}), Some(&t));
    assert_eq!(
        (a.status, a.json()["msg_id"].as_str()),
        (401, Some("token_expired"))
    );

    s.set_token_lifetime(Duration::from_secs(3600));
    let t = admin(s.url());
    let a = post(s.url(), "User", "logout", json!({}), Some(&t));
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["body"], json!({}));
    assert_eq!(
        post(s.url(), "User", "list", json!({}), Some(&t)).status,
        401
    );

    let t = admin(s.url());
    s.expire_all_tokens();
    assert_eq!(
        post(s.url(), "User", "list", json!({}), Some(&t)).status,
        401
    );
}

#[test]
fn defender_blocks_a_host_with_an_html_403() {
    let s = sim(SimConfig {
        defender_max_failures: 3,
        ..SimConfig::default()
    });
    for _ in 0..2 {
        assert_eq!(
            post(
                s.url(),
                "User",
                "auth",
                json!({"login": "x@y.z", "password": "bad"}),
                None
            )
            .status,
            401
        );
    }
    // A success in between resets the count.
    admin(s.url());
    for _ in 0..3 {
        assert_eq!(
            post(
                s.url(),
                "User",
                "auth",
                json!({"login": "x@y.z", "password": "bad"}),
                None
            )
            .status,
            401
        );
    }
    let a = post(
        s.url(),
        "User",
        "auth",
        json!({"login": DEFAULT_LOGIN, "password": DEFAULT_PASSWORD}),
        None,
    );
    assert_eq!(a.status, 403);
    assert_eq!(a.header("content-type"), Some("text/html"));
    assert!(String::from_utf8_lossy(&a.body).contains("403 Forbidden"));
    s.unblock_all();
    admin(s.url());
}

#[test]
fn user_crud_with_validation() {
    let s = sim(SimConfig::default());
    let t = admin(s.url());
    let a = post(
        s.url(),
        "User",
        "append",
        json!({"login": "not-an-email", "name": "", "status": 3}),
        Some(&t),
    );
    assert_eq!(a.status, 400);
    let e = a.json();
    assert_eq!(e["msg_id"], "validation_error");
    assert_eq!(e["errors"]["login"][0], "Not a valid email address.");
    assert_eq!(e["errors"]["name"][0], "Length must be between 1 and 50.");
    assert_eq!(e["errors"]["status"][0], "Must be one of: 0, 1.");
    assert_eq!(
        e["errors"]["password"][0],
        "Missing data for required field."
    );

    let new =
        json!({"login": "new@sim.runtel.local", "password": "pw", "name": "New", "status": 1});
    let a = post(s.url(), "User", "append", new.clone(), Some(&t));
    assert_eq!(a.status, 200);
    let id = a.json()["body"]["id"].as_i64().unwrap();
    assert!(
        a.json()["body"].get("password").is_none(),
        "passwords are never returned"
    );
    assert_eq!(
        a.json()["body"]["domain_id"],
        1,
        "domain users create in their own domain"
    );
    assert_eq!(
        post(s.url(), "User", "append", new, Some(&t)).status,
        400,
        "login is unique"
    );

    let a = post(
        s.url(),
        "User",
        "update",
        json!({"id": id, "surname": "Updated"}),
        Some(&t),
    );
    assert_eq!(a.json()["body"]["surname"], "Updated");
    let a = post(s.url(), "User", "get", json!({"id": id}), Some(&t));
    assert_eq!(
        (
            a.json()["body"]["login"].as_str(),
            a.json()["body"]["surname"].as_str()
        ),
        (Some("new@sim.runtel.local"), Some("Updated"))
    );
    login(s.url(), "new@sim.runtel.local", "pw");
    assert_eq!(
        post(s.url(), "User", "delete", json!({"id": id}), Some(&t)).status,
        200
    );
    let a = post(s.url(), "User", "get", json!({"id": id}), Some(&t));
    assert_eq!((a.status, a.json()["code"].as_i64()), (404, Some(404)));
    assert_eq!(
        post(
            s.url(),
            "User",
            "update",
            json!({"id": 99999, "name": "x"}),
            Some(&t)
        )
        .status,
        404
    );
    assert_eq!(
        post(s.url(), "User", "get", json!({}), Some(&t)).json()["errors"]["id"][0],
        "Missing data for required field."
    );
}

#[test]
fn role_and_domain_user_validation_and_numbers() {
    let s = sim(SimConfig::default());
    let t = admin(s.url());
    let a = post(
        s.url(),
        "Role",
        "append",
        json!({"name": "R", "type": 7, "status": 1}),
        Some(&t),
    );
    let e = a.json();
    assert_eq!(e["errors"]["type"][0], "Must be one of: -1, -2, 1, 4.");
    assert_eq!(e["errors"]["perms"][0], "Missing data for required field.");
    let ok = json!({"name": "Ops", "type": 4, "status": 1, "perms": {"User": [1]}, "filters": {}, "visible": {}});
    assert_eq!(post(s.url(), "Role", "append", ok, Some(&t)).status, 200);
    let a = post(
        s.url(),
        "DomainUser",
        "append",
        json!({"uid": 101}),
        Some(&t),
    );
    assert_eq!(a.json()["errors"]["uid"][0], "Not a valid string.");
    let a = post(
        s.url(),
        "DomainUser",
        "append",
        json!({"uid": "101", "user_id": 1, "pin": "0000"}),
        Some(&t),
    );
    assert_eq!(a.status, 200);
    let users = post(s.url(), "User", "list", json!({}), Some(&t)).json();
    assert_eq!(users["list"][0]["numbers"], json!(["101"]));
}

#[test]
fn paging_and_filters_on_seeded_cdrs() {
    let s = sim(SimConfig {
        seed: vec![("DomainCDR".into(), 2500)],
        ..SimConfig::default()
    });
    let t = admin(s.url());
    let mut ids = Vec::new();
    let mut offset = 0;
    loop {
        let a = post_env(
            s.url(),
            json!({"action":"list","obj":"DomainCDR","action_id":"p","params":{},
                                         "limit":1000,"offset":offset}),
            Some(&t),
        );
        let v = a.json();
        assert_eq!(v["total_count"], 2500);
        let page = v["list"].as_array().unwrap();
        ids.extend(page.iter().map(|r| r["id"].as_i64().unwrap()));
        offset += 1000;
        if page.len() < 1000 {
            break;
        }
    }
    assert_eq!(ids, (1..=2500).collect::<Vec<_>>());
    // Deterministic: the same record twice, equal to the library's generator.
    let a = post(s.url(), "DomainCDR", "get", json!({"id": 7}), Some(&t)).json();
    assert_eq!(
        a["body"],
        Value::Object(s.seeded_record("DomainCDR", 7).unwrap())
    );
    // dt >= since (condition 5), AND-ed with another condition.
    let since = s.seed_dt("DomainCDR", 2000);
    let f = json!({"field_list":[{"field":"dt","condition_type":5,"value":since}],"type":0});
    let v = post_env(
        s.url(),
        json!({"action":"list","obj":"DomainCDR","action_id":"f","params":{},
                                     "filter": f, "limit": 10}),
        Some(&t),
    )
    .json();
    assert_eq!(v["total_count"], 500);
    assert_eq!(v["list"][0]["id"], 2001);
    let f = json!({"field_list":[{"field":"id","condition_type":2,"value":3},
                                 {"field":"id","condition_type":4,"value":2498}],"type":1});
    let v = post_env(
        s.url(),
        json!({"action":"list","obj":"DomainCDR","action_id":"f","params":{},
                                     "filter": f}),
        Some(&t),
    )
    .json();
    let got: Vec<_> = v["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, [1, 2, 2499, 2500]);
    let bad = json!({"field_list":[{"field":"dt","condition_type":99,"value":1}]});
    let a = post_env(
        s.url(),
        json!({"action":"list","obj":"DomainCDR","action_id":"f","params":{},
                                     "filter": bad}),
        Some(&t),
    );
    assert_eq!(
        (a.status, a.json()["msg_id"].as_str()),
        (400, Some("bad_filter"))
    );
    // list_with_detail and get_dialog.
    let v = post_env(
        s.url(),
        json!({"action":"list_with_detail","obj":"DomainCDR","action_id":"d",
                                     "params":{},"limit":1}),
        Some(&t),
    )
    .json();
    assert!(v["list"][0]["detail"].is_object());
    let v = post(
        s.url(),
        "DomainDPEResult",
        "get_dialog",
        json!({"call_uuid": "abc", "domain_id": 1}),
        Some(&t),
    )
    .json();
    assert_eq!(v["body"]["dialog"].as_array().unwrap().len(), 2);
}

#[test]
fn answer_style_variants() {
    let s = sim(SimConfig::default());
    let t = admin(s.url());
    s.set_list_style(ListStyle::Body);
    let v = post(s.url(), "User", "list", json!({}), Some(&t)).json();
    assert!(v.get("list").is_none());
    assert_eq!(v["body"]["total_count"], 1);
    s.set_get_style(GetStyle::List);
    let v = post(s.url(), "User", "get", json!({"id": 1}), Some(&t)).json();
    assert_eq!(v["list"][0]["id"], 1);
    assert_eq!(v["total_count"], 1);
    s.set_error_style(ErrorStyle::Envelope);
    let a = post(s.url(), "User", "get", json!({"id": 12345}), Some(&t));
    assert_eq!((a.status, a.json()["code"].as_i64()), (200, Some(404)));
    let a = post(
        s.url(),
        "User",
        "auth",
        json!({"login": "a@b.c", "password": "x"}),
        None,
    );
    assert_eq!((a.status, a.json()["code"].as_i64()), (200, Some(401)));
}

#[test]
fn scopes_for_operators_and_domain_users() {
    let s = sim(SimConfig {
        accounts: vec![
            Account::domain_admin(DEFAULT_LOGIN, DEFAULT_PASSWORD),
            Account::domain_admin("b@second.runtel.local", "b").in_domain(2),
            Account::operator("op@sim.runtel.local", "op"),
        ],
        ..SimConfig::default()
    });
    let a = admin(s.url());
    let b = login(s.url(), "b@second.runtel.local", "b");
    let op = login(s.url(), "op@sim.runtel.local", "op");
    assert_eq!(
        post(
            s.url(),
            "DomainUser",
            "list",
            json!({"domain_id": 2}),
            Some(&a)
        )
        .status,
        403
    );
    assert_eq!(
        post(s.url(), "PbxHost", "list", json!({}), Some(&a)).status,
        403
    );
    assert_eq!(
        post(s.url(), "User", "get", json!({"id": 2}), Some(&a)).status,
        403,
        "user of another domain"
    );
    let v = post(s.url(), "DomainUser", "list", json!({}), Some(&op)).json();
    assert_eq!(
        (v["code"].as_i64(), v["msg_id"].as_str()),
        (Some(400), Some("domain_required"))
    );
    assert_eq!(
        post(
            s.url(),
            "DomainUser",
            "list",
            json!({"domain_id": 2}),
            Some(&op)
        )
        .status,
        200
    );
    assert_eq!(
        post(s.url(), "PbxHost", "list", json!({}), Some(&op)).status,
        200
    );
    let all = post(s.url(), "User", "list", json!({}), Some(&op)).json();
    assert_eq!(all["total_count"], 3, "operators see every domain");
    let mine = post(s.url(), "User", "list", json!({}), Some(&b)).json();
    assert_eq!(mine["total_count"], 1);
    assert_eq!(
        post(s.url(), "NoSuchThing", "list", json!({}), Some(&a)).json()["msg_id"],
        "unknown_object"
    );
    assert_eq!(
        post(s.url(), "User", "explode", json!({}), Some(&a)).json()["msg_id"],
        "unknown_action"
    );
}

#[test]
fn malformed_requests_get_400_envelopes() {
    let s = sim(SimConfig::default());
    let ag = agent();
    for body in [
        &b"{not json"[..],
        b"[1]",
        br#"{"obj":"User","action_id":"1"}"#,
        br#"{"action":"list","obj":"  "}"#,
    ] {
        let a = post_raw(&ag, s.url(), body, None).unwrap();
        assert_eq!(a.status, 400, "{}", String::from_utf8_lossy(body));
        assert_eq!(a.json()["msg_id"], "bad_request");
    }
}

/// Sends one request on a raw socket and reads whatever comes back until close
/// or until the announced body is complete.
fn raw_exchange(url: &str, body: &str) -> (String, Vec<u8>) {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "POST /api/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut r = BufReader::new(s);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    (head, rest)
}

#[test]
fn every_fault_misbehaves_as_named() {
    let s = sim(SimConfig::default());
    let t = admin(s.url());
    let env = json!({"action":"list","obj":"User","action_id":"f-1","params":{}}).to_string();
    let ag = agent();
    let send = || post_raw(&ag, s.url(), env.as_bytes(), Some(&t));

    s.push_fault(FaultRule::times(Fault::Html502, 1));
    let a = send().unwrap();
    assert_eq!(
        (a.status, a.header("content-type")),
        (502, Some("text/html"))
    );
    s.push_fault(FaultRule::times(Fault::Html503, 1));
    assert_eq!(send().unwrap().status, 503);
    s.push_fault(FaultRule::times(Fault::WrongActionId, 1));
    assert_eq!(send().unwrap().json()["action_id"], "not-f-1");
    s.push_fault(FaultRule::times(Fault::NonObjectJson, 1));
    assert!(send().unwrap().json().is_array());
    s.push_fault(FaultRule::times(Fault::Oversize(300_000), 1));
    assert!(send().unwrap().body.len() > 300_000);
    s.push_fault(FaultRule::times(Fault::InvalidUtf8, 1));
    let a = send().unwrap();
    assert!(std::str::from_utf8(&a.body).is_err());
    s.push_fault(FaultRule::times(Fault::TruncatedJson, 1));
    let a = send().unwrap();
    assert_eq!(a.status, 200);
    assert!(serde_json::from_slice::<Value>(&a.body)
        .unwrap_err()
        .is_eof());
    s.push_fault(FaultRule::times(
        Fault::Delay(Duration::from_millis(300)),
        1,
    ));
    let started = std::time::Instant::now();
    assert_eq!(send().unwrap().status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    s.push_fault(FaultRule::times(Fault::DropBeforeResponse, 1));
    assert!(send().is_err(), "no answer at all");
    s.push_fault(FaultRule::times(Fault::DropMidBody, 1));
    let tok_env = format!(
        r#"{{"action":"auth","obj":"User","action_id":"m","params":{{"login":"{DEFAULT_LOGIN}","password":"{DEFAULT_PASSWORD}"}}}}"#
    );
    let (head, rest) = raw_exchange(s.url(), &tok_env);
    let announced: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(rest.len() < announced, "{} of {announced}", rest.len());
    // Action-scoped rules hit only that action; all rules are used up now.
    s.push_fault(FaultRule::times(Fault::Html502, 1).on_action("get"));
    assert_eq!(send().unwrap().status, 200);
    assert_eq!(
        post(s.url(), "User", "get", json!({"id": 1}), Some(&t)).status,
        502
    );
    assert_eq!(send().unwrap().status, 200);
    assert_eq!(s.counters().faults_applied, 11);
}

#[test]
fn control_endpoint_over_http() {
    let s = sim(SimConfig::default());
    let ag = agent();
    let ctl = |method: &str, op: &str, body: Value| -> Value {
        let url = format!("{}/_sim/{op}", s.url());
        let mut resp = if method == "GET" {
            ag.get(&url).call().unwrap()
        } else {
            ag.post(&url).send(body.to_string().as_bytes()).unwrap()
        };
        serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap()
    };
    let t = admin(s.url());
    assert_eq!(
        ctl(
            "POST",
            "faults",
            json!({"fault": "html_502", "times": 2, "action": "list"})
        ),
        json!({"ok": true})
    );
    assert_eq!(
        post(s.url(), "User", "list", json!({}), Some(&t)).status,
        502
    );
    assert_eq!(ctl("POST", "faults/clear", Value::Null)["ok"], true);
    assert_eq!(
        post(s.url(), "User", "list", json!({}), Some(&t)).status,
        200
    );
    let c = ctl("GET", "counters", Value::Null);
    assert_eq!(
        (c["auth_attempts"].as_u64(), c["by_action"]["list"].as_u64()),
        (Some(1), Some(2))
    );
    ctl("POST", "tokens/expire", Value::Null);
    assert_eq!(
        post(s.url(), "User", "list", json!({}), Some(&t)).status,
        401
    );
    ctl("POST", "error-style", json!({"style": "envelope"}));
    assert_eq!(
        post(s.url(), "User", "list", json!({}), Some(&t)).status,
        200
    );
    assert_eq!(
        ctl("POST", "faults", json!({"fault": "bogus"}))["ok"],
        false
    );
    ctl("POST", "counters/reset", Value::Null);
    assert_eq!(ctl("GET", "counters", Value::Null)["requests"], 0);
}

#[test]
fn keep_alive_and_concurrent_clients() {
    let s = sim(SimConfig::default());
    let t = admin(s.url());
    let env = json!({"action":"get","obj":"User","action_id":"c","params":{"id":1}}).to_string();
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let ag = agent();
                for _ in 0..100 {
                    assert_eq!(
                        post_raw(&ag, s.url(), env.as_bytes(), Some(&t))
                            .unwrap()
                            .status,
                        200
                    );
                }
            });
        }
    });
    let c = s.counters();
    assert_eq!(c.action("get"), 800);
    assert!(
        c.connections <= 16,
        "keep-alive reuses connections: {} opened",
        c.connections
    );
}

#[test]
fn https_with_the_generated_certificate() {
    let s = sim(SimConfig {
        tls: Some(Default::default()),
        ..SimConfig::default()
    });
    assert!(s.url().starts_with("https://localhost:"));
    let pem = s.cert_pem().unwrap().to_owned();
    let cert = ureq::tls::Certificate::from_pem(pem.as_bytes()).unwrap();
    let trusting: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]))
                .build(),
        )
        .build()
        .into();
    let env = json!({"action":"auth","obj":"User","action_id":"1","params":{"login":DEFAULT_LOGIN,"password":DEFAULT_PASSWORD}});
    let a = post_raw(&trusting, s.url(), env.to_string().as_bytes(), None).unwrap();
    assert_eq!(a.status, 200);
    let e = post_raw(&agent(), s.url(), env.to_string().as_bytes(), None)
        .err()
        .expect("untrusted cert refused");
    assert!(
        e.to_string().to_lowercase().contains("certificate")
            || e.to_string().contains("UnknownIssuer"),
        "{e}"
    );
}

#[test]
fn binary_prints_its_url_and_serves() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_runtel-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--seed",
            "DomainCDR=10",
            "--user",
            "x@y.cz:pw:operator",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect(&line)
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"));
    let t = login(&url, "x@y.cz", "pw");
    let v = post(&url, "DomainCDR", "list", json!({"domain_id": 1}), Some(&t)).json();
    assert_eq!(v["total_count"], 10);
    child.kill().unwrap();
    child.wait().unwrap();
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_runtel-sim"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    for flag in [
        "--listen",
        "--user",
        "--token-lifetime",
        "--defender-max-failures",
        "--error-style",
        "--seed",
        "--tls",
        "--fault",
    ] {
        assert!(help.contains(flag), "--help documents {flag}");
    }
}

// ---------------------------------------------------------------------------
// Raw-socket helpers for the connection and wire-level fault tests.

/// An answer read off a raw socket.
struct Raw {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// A `POST /api/` request, byte for byte; `close` asks the server to close after it.
fn api_request(body: &str, token: Option<&str>, close: bool) -> Vec<u8> {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let connection = if close { "Connection: close\r\n" } else { "" };
    format!(
        "POST /api/ HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\n{auth}\
         Content-Length: {}\r\n{connection}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn auth_body(action_id: &str) -> String {
    json!({"action": "auth", "obj": "User", "action_id": action_id,
           "params": {"login": DEFAULT_LOGIN, "password": DEFAULT_PASSWORD}})
    .to_string()
}

fn read_head<R: BufRead>(r: &mut R) -> (u16, String) {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    (status, head)
}

/// Sends `request` on a new connection and reads until the server closes it.
fn raw(addr: std::net::SocketAddr, request: &[u8]) -> Raw {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request).unwrap();
    let mut r = BufReader::new(s);
    let (status, head) = read_head(&mut r);
    let mut body = Vec::new();
    r.read_to_end(&mut body).unwrap();
    Raw { status, head, body }
}

/// Reads one answer on a keep-alive connection, by its `Content-Length`.
fn read_answer<R: BufRead>(r: &mut R) -> Raw {
    let (status, head) = read_head(r);
    let mut raw = Raw {
        status,
        head,
        body: Vec::new(),
    };
    let n: usize = raw.header("content-length").unwrap().parse().unwrap();
    raw.body.resize(n, 0);
    r.read_exact(&mut raw.body).unwrap();
    raw
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// True if the server closed `s` (a read gives end of file or a reset).
fn closed_by_server(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(n) => panic!("unexpected {n} bytes from an idle connection"),
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

// ---------------------------------------------------------------------------
// Connection hygiene.

#[test]
fn connection_cap_closes_the_connection_idle_the_longest() {
    // A long idle timeout, so only the cap can explain a quick answer.
    let s = sim(SimConfig {
        max_connections: 4,
        idle_timeout: Duration::from_secs(20),
        ..SimConfig::default()
    });
    let mut idle = Vec::new();
    for i in 1..=4 {
        idle.push(TcpStream::connect(s.addr()).unwrap());
        wait_until("the server accepted it", || s.counters().connections == i);
        // Distinct idle-since instants, so "the longest" is the first one.
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = std::time::Instant::now();
    let a = raw(s.addr(), &api_request(&auth_body("cap"), None, true));
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["body"]["token"].as_str().map(str::len), Some(64));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered in {:?}",
        started.elapsed()
    );
    assert!(
        closed_by_server(&mut idle[0], Duration::from_secs(2)),
        "the oldest idle connection made room"
    );
    for (i, c) in idle.iter_mut().enumerate().skip(1) {
        assert!(
            !closed_by_server(c, Duration::from_millis(100)),
            "idle connection {i} was left alone"
        );
    }
    assert_eq!(s.counters().connections, 5);
}

#[test]
fn a_short_idle_timeout_closes_silent_and_keep_alive_connections() {
    let s = sim(SimConfig {
        idle_timeout: Duration::from_millis(300),
        ..SimConfig::default()
    });
    // Never sends anything.
    let mut silent = TcpStream::connect(s.addr()).unwrap();
    let started = std::time::Instant::now();
    assert!(closed_by_server(&mut silent, Duration::from_secs(5)));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    // One request, then silence on a keep-alive connection.
    let mut c = TcpStream::connect(s.addr()).unwrap();
    c.write_all(&api_request(&auth_body("ka"), None, false))
        .unwrap();
    let mut r = BufReader::new(c.try_clone().unwrap());
    let a = read_answer(&mut r);
    assert_eq!(
        (a.status, a.header("connection")),
        (200, Some("keep-alive"))
    );
    let started = std::time::Instant::now();
    assert!(closed_by_server(&mut c, Duration::from_secs(5)));
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[test]
fn when_every_connection_is_busy_a_new_client_waits_then_is_served() {
    let s = sim(SimConfig {
        max_connections: 1,
        ..SimConfig::default()
    });
    s.push_fault(FaultRule::times(Fault::Delay(Duration::from_millis(800)), 1).on_action("auth"));
    let started = std::time::Instant::now();
    let addr = s.addr();
    let first = std::thread::spawn(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        c.write_all(&api_request(&auth_body("busy"), None, false))
            .unwrap();
        let a = read_answer(&mut BufReader::new(c.try_clone().unwrap()));
        (a.status, c)
    });
    wait_until("the first request is being answered", || {
        s.counters().auth_attempts == 1
    });
    let second = raw(addr, &api_request(&auth_body("wait"), None, true));
    let second_done = started.elapsed();
    let (first_status, mut first_conn) = first.join().unwrap();
    assert_eq!((first_status, second.status), (200, 200));
    // Served only once the first answer (delayed 800 ms) was out; without the cap
    // it would take milliseconds.
    assert!(
        second_done >= Duration::from_millis(750),
        "second answered at {second_done:?}"
    );
    assert!(
        closed_by_server(&mut first_conn, Duration::from_secs(2)),
        "the first connection, idle after its answer, made room"
    );
    assert_eq!(s.counters().connections, 2);
}

/// CPU time (user + system) of a process, in clock ticks.
#[cfg(target_os = "linux")]
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15; the slice starts at field 3.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Kills a spawned simulator even when an assertion fails first.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(target_os = "linux")]
#[test]
fn out_of_descriptors_the_accept_loop_backs_off_and_recovers() {
    let mut child = std::process::Command::new("sh")
        .args([
            "-c",
            "ulimit -n 16 && exec \"$0\" --listen 127.0.0.1:0",
            env!("CARGO_BIN_EXE_runtel-sim"),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = KillOnDrop(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr: std::net::SocketAddr = line
        .trim()
        .strip_prefix("listening on http://")
        .expect(&line)
        .parse()
        .unwrap();
    // More idle clients than 16 descriptors can hold: accept starts failing.
    let hogs: Vec<TcpStream> = (0..30).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let mut probe = TcpStream::connect(addr).unwrap();
    probe
        .write_all(&api_request(&auth_body("fd"), None, true))
        .unwrap();
    assert!(
        !closed_by_server(&mut probe, Duration::from_millis(500)),
        "no answer while the server is out of descriptors"
    );
    let before = cpu_ticks(child.0.id());
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(child.0.id()) - before;
    assert!(used < 20, "{used} ticks of CPU in 1 s while accept fails");
    drop(hogs);
    probe
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let (status, _) = read_head(&mut BufReader::new(probe));
    assert_eq!(status, 200, "served once descriptors are free again");
}

// ---------------------------------------------------------------------------
// Faults that leak secrets, lie about encodings and lengths, or spoil logins.

#[test]
fn echo_faults_send_back_the_raw_request_and_its_secrets() {
    let s = sim(SimConfig::default());
    s.push_fault(FaultRule::times(Fault::EchoRequest, 1));
    let sent = api_request(&auth_body("echo"), Some("tok-123"), true);
    let a = raw(s.addr(), &sent);
    assert_eq!(
        (a.status, a.header("content-type")),
        (400, Some("text/plain"))
    );
    assert_eq!(
        String::from_utf8(a.body).unwrap(),
        String::from_utf8(sent).unwrap(),
        "request line, every header and the body, byte for byte"
    );
    assert_eq!(s.last_issued_token(), None, "not processed: no login");

    s.push_fault(FaultRule::times(Fault::EchoEnvelope, 1));
    let body = json!({"action": "list", "obj": "User", "action_id": "ee-7",
                      "params": {"password": "hunter2"}})
    .to_string();
    let a = raw(s.addr(), &api_request(&body, Some("tok-456"), true));
    assert_eq!(a.status, 400);
    assert_eq!(
        a.json(),
        json!({"action": "list", "action_id": "ee-7", "obj": "User", "code": 400,
               "msg_id": "bad_request", "message": format!("{body} auth=Bearer tok-456"),
               "errors": {"params": [body], "authorization": ["Bearer tok-456"]},
               "notifies": [], "body": {}})
    );
    let c = s.counters();
    assert_eq!(
        (
            c.requests,
            c.auth_attempts,
            c.action("auth"),
            c.action("list")
        ),
        (2, 1, 1, 1)
    );
}

#[test]
fn html_401_and_403_pages_count_the_login_that_reached_the_server() {
    let s = sim(SimConfig::default());
    for (fault, status, title) in [
        (Fault::Html401, 401, "401 Unauthorized"),
        (Fault::Html403, 403, "403 Forbidden"),
    ] {
        s.push_fault(FaultRule::times(fault, 1).on_action("auth"));
        let a = raw(s.addr(), &api_request(&auth_body("h"), None, true));
        assert_eq!(
            (a.status, a.header("content-type")),
            (status, Some("text/html"))
        );
        let page = String::from_utf8(a.body).unwrap();
        assert!(page.contains(&format!("<title>{title}</title>")), "{page}");
        assert!(page.contains("nginx/1.16.1"), "{page}");
    }
    let c = s.counters();
    assert_eq!(
        (
            c.requests,
            c.auth_attempts,
            c.auth_failures,
            c.faults_applied
        ),
        (2, 2, 0, 2)
    );
    assert_eq!(s.last_issued_token(), None);
}

#[test]
fn gzip_compresses_a_processed_answer_whatever_the_client_accepts() {
    let s = sim(SimConfig::default());
    s.push_fault(FaultRule::times(Fault::Gzip, 1));
    let mut req = api_request(&auth_body("gz"), None, true);
    // Asking for no encoding changes nothing: the fault imitates a broken server.
    let at = req.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    req.splice(at..at, *b"\r\nAccept-Encoding: identity");
    let a = raw(s.addr(), &req);
    assert_eq!(
        (a.status, a.header("content-encoding")),
        (200, Some("gzip"))
    );
    assert_eq!(
        a.header("content-length"),
        Some(a.body.len().to_string().as_str())
    );
    assert_eq!(&a.body[..2], &[0x1f, 0x8b]);
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&a.body[..])
        .read_to_end(&mut plain)
        .unwrap();
    let v: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(v["code"], 200);
    assert_eq!(
        v["body"]["token"].as_str(),
        s.last_issued_token().as_deref()
    );
}

/// Inflates a gzip body, checking every byte is a space; returns how many.
fn inflate_spaces(gz: &[u8]) -> u64 {
    let mut d = flate2::read::GzDecoder::new(gz);
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let got = d.read(&mut buf).unwrap();
        if got == 0 {
            return n;
        }
        assert!(buf[..got].iter().all(|b| *b == b' '), "only spaces");
        n += got as u64;
    }
}

#[test]
fn gzip_bomb_is_small_on_the_wire_and_inflates_to_the_size_asked() {
    let s = sim(SimConfig::default());
    // Below one piece, two pieces plus a tail, and several repeated pieces.
    for size in [1000u64, (8 << 20) + 7, (13 << 20) + 1] {
        s.push_fault(FaultRule::times(Fault::GzipBomb(size), 1));
        let a = raw(s.addr(), &api_request(&auth_body("b"), None, true));
        assert_eq!(
            (a.status, a.header("content-encoding")),
            (200, Some("gzip"))
        );
        assert_eq!(
            a.header("content-length"),
            Some(a.body.len().to_string().as_str())
        );
        // The decoder checks the CRC and length trailer too.
        assert_eq!(inflate_spaces(&a.body), size);
    }
    assert_eq!(s.last_issued_token(), None, "not processed");
    // 4 GiB: a few MB on the wire; the trailer names the size modulo 2^32.
    let size = 4u64 << 30;
    s.push_fault(FaultRule::times(Fault::GzipBomb(size), 1));
    let started = std::time::Instant::now();
    let a = raw(s.addr(), &api_request(&auth_body("b"), None, true));
    assert_eq!(a.status, 200);
    assert!(
        a.body.len() > 1 << 20 && a.body.len() < 8 << 20,
        "{} bytes",
        a.body.len()
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let isize_field = u32::from_le_bytes(a.body[a.body.len() - 4..].try_into().unwrap());
    assert_eq!(isize_field, 0);
    // Cached: the second one is the same bytes.
    s.push_fault(FaultRule::times(Fault::GzipBomb(size), 1));
    let again = raw(s.addr(), &api_request(&auth_body("b"), None, true));
    assert_eq!(again.body, a.body);
}

#[test]
fn lying_length_announces_ten_gigabytes_and_closes_after_a_few() {
    let s = sim(SimConfig::default());
    s.push_fault(FaultRule::times(Fault::LyingLength(10_000_000_000), 1));
    // Keep-alive asked for, yet the server closes: read_to_end returns.
    let a = raw(s.addr(), &api_request(&auth_body("l"), None, false));
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-length"), Some("10000000000"));
    assert_eq!(a.header("connection"), Some("close"));
    assert_eq!(a.body, b"{\"code\":200");
    assert_eq!(s.counters().auth_attempts, 1);
}

#[test]
fn bom_prefixes_a_processed_answer() {
    let s = sim(SimConfig::default());
    s.push_fault(FaultRule::times(Fault::Bom, 1));
    let a = raw(s.addr(), &api_request(&auth_body("bom"), None, true));
    assert_eq!(a.status, 200);
    assert_eq!(&a.body[..4], b"\xEF\xBB\xBF{");
    assert_eq!(
        a.header("content-length"),
        Some(a.body.len().to_string().as_str())
    );
    let v: Value = serde_json::from_slice(&a.body[3..]).unwrap();
    assert_eq!(
        v["body"]["token"].as_str(),
        s.last_issued_token().as_deref()
    );
}

#[test]
fn exp_past_dates_exp_an_hour_before_the_answer_but_the_token_works() {
    let s = sim(SimConfig::default());
    s.push_fault(FaultRule::times(Fault::ExpPast, 1).on_action("auth"));
    let a = raw(s.addr(), &api_request(&auth_body("exp"), None, true));
    assert_eq!(a.status, 200);
    let date = runtel_protocol::parse_http_date(a.header("date").unwrap()).unwrap();
    let v = a.json();
    let exp: runtel_protocol::ServerDateTime = v["body"]["exp"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        date.duration_since(exp.to_system_time()).unwrap(),
        Duration::from_secs(3600)
    );
    let token = v["body"]["token"].as_str().unwrap();
    assert_eq!(Some(token), s.last_issued_token().as_deref());
    assert_eq!(
        post(s.url(), "User", "list", json!({}), Some(token)).status,
        200,
        "valid on the server for its normal lifetime"
    );
}

#[test]
fn auth_malformed_variants_carry_a_real_token_in_a_spoiled_answer() {
    let s = sim(SimConfig::default());
    let login = |variant: &str| -> (Raw, String) {
        s.push_fault(FaultRule {
            fault: Fault::parse(&format!("auth_malformed:{variant}")).unwrap(),
            times: Some(1),
            action: Some("auth".into()),
            probability: 1.0,
        });
        let a = raw(s.addr(), &api_request(&auth_body("am"), None, true));
        let token = s.last_issued_token().expect("a token was issued");
        // Every issued token is really valid.
        assert_eq!(
            post(s.url(), "User", "list", json!({}), Some(&token)).status,
            200,
            "{variant}"
        );
        (a, token)
    };

    let (a, token) = login("truncated");
    assert_eq!(a.status, 200);
    let text = String::from_utf8(a.body).unwrap();
    assert!(text.ends_with(&format!("\"token\":\"{token}\"")), "{text}");
    assert!(serde_json::from_str::<Value>(&text).unwrap_err().is_eof());

    let (a, token) = login("trailing_garbage");
    assert_eq!(a.status, 200);
    assert_eq!(&a.body[a.body.len() - 3..], b"xyz");
    let v: Value = serde_json::from_slice(&a.body[..a.body.len() - 3]).unwrap();
    assert_eq!(
        (v["code"].as_i64(), v["body"]["token"].as_str()),
        (Some(200), Some(token.as_str()))
    );

    let (a, token) = login("no_code");
    let v = a.json();
    assert_eq!(a.status, 200);
    assert!(v.get("code").is_none());
    assert_eq!(v["body"]["token"], token);

    let (a, token) = login("array");
    let v = a.json();
    assert_eq!(v.as_array().map(Vec::len), Some(1));
    assert_eq!(
        (v[0]["code"].as_i64(), v[0]["body"]["token"].as_str()),
        (Some(200), Some(token.as_str()))
    );

    let (a, token) = login("http500");
    let v = a.json();
    assert_eq!((a.status, v["code"].as_i64()), (500, Some(200)));
    assert_eq!(v["body"]["token"], token);

    let c = s.counters();
    assert_eq!(
        (c.auth_attempts, c.action("list"), c.faults_applied),
        (5, 5, 5)
    );
}

#[test]
fn last_issued_token_over_the_control_endpoint() {
    let s = sim(SimConfig::default());
    let ctl = || -> Value {
        let mut r = agent()
            .get(format!("{}/_sim/last-token", s.url()))
            .call()
            .unwrap();
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
    };
    assert_eq!(ctl(), json!({"token": null}));
    let first = admin(s.url());
    assert_eq!(ctl(), json!({ "token": first }));
    let second = admin(s.url());
    assert_ne!(first, second);
    assert_eq!(ctl(), json!({ "token": second }));
    assert_eq!(s.last_issued_token(), Some(second));
    // A refused login issues nothing.
    post(
        s.url(),
        "User",
        "auth",
        json!({"login": "x@y.z", "password": "no"}),
        None,
    );
    assert_eq!(ctl()["token"], s.last_issued_token().unwrap());
}

#[test]
fn every_fault_name_parses_and_is_listed_in_the_errors_and_help() {
    for name in Fault::NAMES {
        let spec = name
            .replace(":MS", ":5")
            .replace(":BYTES", ":100")
            .replace(":N", ":7")
            .replace(":VARIANT", ":array");
        assert!(Fault::parse(&spec).is_ok(), "{spec}");
    }
    for variant in runtel_sim::MalformedAuth::NAMES {
        assert!(Fault::parse(&format!("auth_malformed:{variant}")).is_ok());
    }
    assert!(Fault::parse("auth_malformed").is_err());
    assert!(Fault::parse("auth_malformed:bogus").is_err());
    assert!(Fault::parse("gzip_bomb:lots").is_err());
    let err = Fault::parse("bogus").unwrap_err();
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_runtel-sim"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    for name in Fault::NAMES.iter().chain(runtel_sim::MalformedAuth::NAMES) {
        assert!(err.contains(name), "error lists {name}: {err}");
        assert!(help.contains(name), "--help lists {name}");
    }
    // Over HTTP, the same list.
    let s = sim(SimConfig::default());
    let mut r = agent()
        .post(format!("{}/_sim/faults", s.url()))
        .send(json!({"fault": "bogus"}).to_string().as_bytes())
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(v["error"], err);
}

// ---------------------------------------------------------------------------
// Paging behaviours.

/// `(ids, total_count)` of one list call, wherever the answer puts them.
fn page(url: &str, t: &str, obj: &str, action: &str, limit: u64, offset: u64) -> (Vec<i64>, Value) {
    let v = post_env(
        url,
        json!({"action": action, "obj": obj, "action_id": "pg", "params": {},
               "limit": limit, "offset": offset}),
        Some(t),
    )
    .json();
    let holder = if v.get("list").is_some() {
        &v
    } else {
        &v["body"]
    };
    let ids = holder["list"]
        .as_array()
        .unwrap_or_else(|| panic!("no list in {v}"))
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    let total = match holder.get("total_count") {
        Some(n) => n.clone(),
        None => Value::String("absent".into()),
    };
    (ids, total)
}

#[test]
fn paging_options_apply_to_every_list_action_and_style() {
    let s = sim(SimConfig {
        seed: vec![("DomainCDR".into(), 250), ("DomainQueue".into(), 150)],
        ..SimConfig::default()
    });
    let t = admin(s.url());
    for style in [ListStyle::Top, ListStyle::Body] {
        s.set_list_style(style);
        for action in ["list", "list_with_detail"] {
            // Seeded logs (the fast path) and stored records.
            for (obj, n) in [("DomainCDR", 250i64), ("DomainQueue", 150)] {
                let case = format!("{obj} {action} {style:?}");
                s.set_paging(Default::default());
                let first_id = page(s.url(), &t, obj, action, 1, 0).0[0];
                let at = |k: i64| first_id + k;
                let (ids, total) = page(s.url(), &t, obj, action, 1000, 40);
                assert_eq!(
                    (ids.len() as i64, ids[0], total),
                    (n - 40, at(40), json!(n)),
                    "{case}"
                );

                s.set_max_page_size(Some(100));
                let (ids, total) = page(s.url(), &t, obj, action, 1000, 40);
                assert_eq!(
                    (ids.len(), ids[0], total),
                    (100, at(40), json!(n)),
                    "{case}"
                );
                let (ids, _) = page(s.url(), &t, obj, action, 30, 0);
                assert_eq!(ids.len(), 30, "a smaller limit stays: {case}");

                s.set_max_page_size(None);
                s.set_ignore_offset(true);
                let (ids, total) = page(s.url(), &t, obj, action, 10, 40);
                assert_eq!(
                    (ids, total),
                    ((0..10).map(at).collect(), json!(n)),
                    "{case}"
                );

                s.set_ignore_offset(false);
                s.set_omit_total_count(true);
                let (ids, total) = page(s.url(), &t, obj, action, 10, 40);
                assert_eq!(
                    (ids, total),
                    ((40..50).map(at).collect(), json!("absent")),
                    "{case}"
                );
            }
        }
    }
}

#[test]
fn paging_options_from_config_and_the_control_endpoint() {
    let s = sim(SimConfig {
        seed: vec![("DomainCDR".into(), 50)],
        paging: runtel_sim::PagingOptions {
            max_page_size: Some(20),
            ignore_offset: false,
            omit_total_count: true,
        },
        ..SimConfig::default()
    });
    let t = admin(s.url());
    let (ids, total) = page(s.url(), &t, "DomainCDR", "list", 1000, 5);
    assert_eq!((ids, total), ((6..=25).collect(), json!("absent")));
    // No limit asked: the cap still applies.
    let v = post(s.url(), "DomainCDR", "list", json!({}), Some(&t)).json();
    assert_eq!(v["list"].as_array().map(Vec::len), Some(20));
    let ctl = |body: Value| {
        let mut r = agent()
            .post(format!("{}/_sim/paging", s.url()))
            .send(body.to_string().as_bytes())
            .unwrap();
        let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        (r.status().as_u16(), v)
    };
    let (status, v) = ctl(json!({"max_page_size": null, "ignore_offset": true}));
    assert_eq!(
        (status, v),
        (
            200,
            json!({"ok": true, "paging": {"max_page_size": null, "ignore_offset": true,
                                              "omit_total_count": true}})
        )
    );
    let (ids, total) = page(s.url(), &t, "DomainCDR", "list", 1000, 5);
    assert_eq!((ids, total), ((1..=50).collect(), json!("absent")));
    for bad in [
        json!({"max_page_size": 0}),
        json!({"ignore_offset": 1}),
        json!({"limit": 5}),
        json!([]),
    ] {
        let (status, v) = ctl(bad.clone());
        assert_eq!((status, v["ok"].as_bool()), (400, Some(false)), "{bad}");
    }
    assert_eq!(
        s.paging(),
        runtel_sim::PagingOptions {
            max_page_size: None,
            ignore_offset: true,
            omit_total_count: true
        },
        "refused updates change nothing"
    );
    ctl(json!({"omit_total_count": false, "ignore_offset": false, "max_page_size": 7}));
    assert_eq!(
        page(s.url(), &t, "DomainCDR", "list", 1000, 5),
        ((6..=12).collect(), json!(50))
    );
}

// ---------------------------------------------------------------------------
// Seed dates, fixtures, start-up checks, health.

/// The binary, killed when dropped so a failing test leaves no server behind.
struct Bin(std::process::Child);

impl Drop for Bin {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary on an ephemeral port with `args`; returns it and its URL.
fn spawn_binary(args: &[&str]) -> (Bin, String) {
    let mut child = Bin(std::process::Command::new(env!("CARGO_BIN_EXE_runtel-sim"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap());
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = match line.trim().strip_prefix("listening on ") {
        Some(u) => u.to_owned(),
        None => {
            let mut err = String::new();
            let _ = child.0.stderr.take().unwrap().read_to_string(&mut err);
            panic!("{args:?} did not start: {line:?} {err}");
        }
    };
    (child, url)
}

/// Runs the binary expecting it to refuse to start: its exit code and stderr.
/// Fails the test if it is still serving after a few seconds.
fn binary_refuses(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Bin(std::process::Command::new(env!("CARGO_BIN_EXE_runtel-sim"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{args:?} was accepted: the simulator started"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code(), err)
}

/// A file in the temp directory holding `text`, unique to this process and `name`.
fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("runtel-sim-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `total_count` of a `dt >= since` list of `obj`.
fn count_since(url: &str, t: &str, obj: &str, since: i64) -> Value {
    let f =
        json!({"field_list": [{"field": "dt", "condition_type": 5, "value": since}], "type": 0});
    let v = post_env(
        url,
        json!({"action": "list", "obj": obj, "action_id": "s", "params": {},
               "filter": f, "limit": 1}),
        Some(t),
    )
    .json();
    v["total_count"].clone()
}

#[test]
fn seeded_logs_end_at_the_start_time_by_default() {
    let before = unix_now();
    let s = sim(SimConfig {
        seed: vec![("DomainCDR".into(), 1000), ("DomainQueueCDR".into(), 10)],
        ..SimConfig::default()
    });
    let after = unix_now();
    let t = admin(s.url());
    let dt = |obj: &str, id: i64| {
        post(s.url(), obj, "get", json!({"id": id}), Some(&t)).json()["body"]["dt"]
            .as_i64()
            .unwrap()
    };
    // Each object's newest record is dated when the simulator started.
    for (obj, n) in [("DomainCDR", 1000), ("DomainQueueCDR", 10)] {
        let newest = dt(obj, n);
        assert!(
            (before..=after).contains(&newest),
            "{obj} {n}: {newest} not in {before}..={after}"
        );
        assert_eq!(
            dt(obj, 1),
            newest - (n - 1) * runtel_sim::SEED_STEP_DT,
            "{obj}"
        );
    }
    // What `runtel export DomainCDR --since 7d` asks finds every record, and an
    // hour ago finds the records of the last hour (one every SEED_STEP_DT).
    assert_eq!(
        count_since(s.url(), &t, "DomainCDR", before - 7 * 86_400),
        1000
    );
    let hour = count_since(s.url(), &t, "DomainCDR", after - 3600)
        .as_i64()
        .unwrap();
    let per_hour = 3600 / runtel_sim::SEED_STEP_DT;
    assert!((per_hour - 1..=per_hour + 2).contains(&hour), "{hour}");
}

#[test]
fn the_binary_pins_seed_dates_with_seed_epoch() {
    // What the C and Python suites start: their filter value 1704084000 is the dt
    // of the 2401st record, so the last 100 of 2500 match.
    let (_bin, url) = spawn_binary(&["--seed", "DomainCDR=2500", "--seed-epoch", "1704067200"]);
    let t = admin(&url);
    assert_eq!(count_since(&url, &t, "DomainCDR", 1_704_084_000), 100);
    let first = post(&url, "DomainCDR", "get", json!({"id": 1}), Some(&t)).json();
    assert_eq!(first["body"]["dt"], runtel_sim::SEED_BASE_DT);
    // Without it, the newest record is about now.
    let (_bin, url) = spawn_binary(&["--seed", "DomainCDR=5"]);
    let t = admin(&url);
    let newest = post(&url, "DomainCDR", "get", json!({"id": 5}), Some(&t)).json()["body"]["dt"]
        .as_i64()
        .unwrap();
    assert!((unix_now() - newest).abs() <= 5, "{newest}");
    for bad in ["soon", "1.5", ""] {
        let (code, err) = binary_refuses(&["--seed", "DomainCDR=5", "--seed-epoch", bad]);
        assert_eq!(code, Some(2), "{bad:?}: {err}");
        assert!(err.contains("--seed-epoch"), "{bad:?}: {err}");
    }
}

#[test]
fn seeding_an_unknown_object_is_refused_at_start() {
    let (code, err) = binary_refuses(&["--seed", "Foo=3"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("\"Foo\""), "{err}");
    for listed in ["DomainCDR", "User", "DomainUser", "PbxHost"] {
        assert!(err.contains(listed), "lists {listed}: {err}");
    }
    // A case slip gets a suggestion.
    let (code, err) = binary_refuses(&["--seed", "domaincdr=3"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("did you mean \"DomainCDR\""), "{err}");
}

#[test]
fn health_endpoints_answer_without_counting_as_requests() {
    let s = sim(SimConfig::default());
    for path in ["/_sim/health", "/api/health"] {
        let mut r = agent().get(format!("{}{path}", s.url())).call().unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let ct = r
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(ct.starts_with("application/json"), "{path}: {ct}");
        let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        assert_eq!(v["ok"], true, "{path}: {v}");
        assert_eq!(v["version"], env!("CARGO_PKG_VERSION"), "{path}: {v}");
    }
    // Probes leave the counters that tests assert on untouched.
    assert_eq!(s.counters().requests, 0);
    // Only GET: the API endpoint itself still wants POST /api/.
    let r = agent()
        .post(format!("{}/api/health", s.url()))
        .send(&b"{}"[..])
        .unwrap();
    assert_eq!(r.status(), 405);
}

#[test]
fn the_binary_loads_fixtures_and_keeps_their_fields() {
    let file = temp_file(
        "fixtures.json",
        r#"{
  "DomainCDR": [
    {"dt": 1700000000, "src": "100", "dst": "200", "tags": ["a", {"b": null}]},
    {"id": 50, "dt": 1700000100, "src": "101"},
    {"dt": 1700000200, "domain_id": 2}
  ],
  "User": [
    {"login": "fixture@example.cz", "password": "fx-pw", "name": "Fixture", "role_id": 2}
  ],
  "PbxHost": [{"id": 9, "name": "pbx-a"}]
}"#,
    );
    let (_bin, url) = spawn_binary(&[
        "--seed",
        "DomainCDR=10",
        "--seed-epoch",
        "1704067200",
        "--fixtures",
        file.to_str().unwrap(),
    ]);
    let t = admin(&url);
    let (ids, total) = page(&url, &t, "DomainCDR", "list", 1000, 0);
    // Explicit ids are kept; the others follow every id in use, in file order.
    // The record in domain 2 is not the domain-1 administrator's to see.
    assert_eq!(ids, (1..=10).chain([50, 51]).collect::<Vec<i64>>());
    assert_eq!(total, json!(12));
    let get = |obj: &str, id: i64, token: &str| {
        post(&url, obj, "get", json!({"id": id}), Some(token)).json()["body"].clone()
    };
    assert_eq!(
        get("DomainCDR", 51, &t),
        json!({"id": 51, "dt": 1700000000, "src": "100", "dst": "200",
               "tags": ["a", {"b": null}], "domain_id": 1}),
        "fields kept, the domain the default account's"
    );
    assert_eq!(
        get("DomainCDR", 50, &t),
        json!({"id": 50, "dt": 1700000100, "src": "101", "domain_id": 1})
    );
    let op = login(&url, "operator@sim.runtel.local", "operator");
    let v = post(
        &url,
        "DomainCDR",
        "get",
        json!({"id": 52, "domain_id": 2}),
        Some(&op),
    )
    .json();
    assert_eq!(v["body"]["dt"], 1_700_000_200);
    assert_eq!(get("PbxHost", 9, &op), json!({"id": 9, "name": "pbx-a"}));
    // A fixture user is a user like one created with `append`: it can log in.
    let ft = login(&url, "fixture@example.cz", "fx-pw");
    let me = post(
        &url,
        "User",
        "list",
        json!({"login": "fixture@example.cz"}),
        Some(&ft),
    )
    .json();
    assert_eq!(me["list"][0]["name"], "Fixture");
    assert!(me["list"][0].get("password").is_none(), "{me}");
}

#[test]
fn bad_fixtures_are_refused_at_start_naming_the_file() {
    let cases: &[(&str, &str, &[&str])] = &[
        // Malformed JSON: the file and the position.
        (
            "syntax.json",
            "{\"DomainCDR\": [\n  {\"dt\": 1,}\n]}",
            &["line 2 column"],
        ),
        (
            "unknown.json",
            r#"{"DomainCdr": [{"dt": 1}]}"#,
            &["\"DomainCdr\"", "did you mean \"DomainCDR\""],
        ),
        ("not-object.json", r#"[{"dt": 1}]"#, &["object"]),
        (
            "not-list.json",
            r#"{"DomainCDR": {"dt": 1}}"#,
            &["DomainCDR", "array"],
        ),
        (
            "not-record.json",
            r#"{"DomainCDR": [{"dt": 1}, 5]}"#,
            &["DomainCDR[1]", "object"],
        ),
        (
            "bad-id.json",
            r#"{"DomainCDR": [{"id": "7"}]}"#,
            &["DomainCDR[0]", "id"],
        ),
        (
            "twice.json",
            r#"{"DomainCDR": [{"id": 7}, {"id": 7}]}"#,
            &["DomainCDR[1]", "7"],
        ),
        // Seeded records hold ids 1..=3; the default accounts are users 1 and 2.
        (
            "taken.json",
            r#"{"DomainCDR": [{"id": 3}]}"#,
            &["DomainCDR[0]", "3"],
        ),
        (
            "taken-user.json",
            r#"{"User": [{"id": 2, "login": "x@y.cz"}]}"#,
            &["User[0]", "2"],
        ),
    ];
    for (name, text, needles) in cases {
        let file = temp_file(name, text);
        let path = file.to_str().unwrap();
        let (code, err) = binary_refuses(&["--seed", "DomainCDR=3", "--fixtures", path]);
        assert_eq!(code, Some(2), "{name}: {err}");
        assert!(err.contains(path), "{name}: names the file: {err}");
        for needle in *needles {
            assert!(err.contains(needle), "{name}: {needle:?} in {err}");
        }
    }
    let missing = std::env::temp_dir().join("runtel-sim-no-such-fixtures.json");
    let (code, err) = binary_refuses(&["--fixtures", missing.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(missing.to_str().unwrap()), "{err}");
}

#[test]
fn seed_dt_and_seeded_record_follow_the_epoch() {
    let with_epoch = |epoch: Option<i64>| {
        sim(SimConfig {
            seed: vec![("DomainCDR".into(), 2500), ("DomainNotify".into(), 3)],
            seed_epoch: epoch,
            ..SimConfig::default()
        })
    };
    // Pinned at SEED_BASE_DT: the constants and the pure generator are right.
    let s = with_epoch(Some(runtel_sim::SEED_BASE_DT));
    let t = admin(s.url());
    for obj in ["DomainCDR", "DomainNotify"] {
        assert_eq!(s.seed_dt(obj, 0), runtel_sim::SEED_BASE_DT, "{obj}");
    }
    assert_eq!(
        s.seed_dt("DomainCDR", 2400),
        runtel_sim::SEED_BASE_DT + 2400 * runtel_sim::SEED_STEP_DT
    );
    assert_eq!(
        count_since(s.url(), &t, "DomainCDR", s.seed_dt("DomainCDR", 2400)),
        100
    );
    for id in [1, 7, 2500] {
        let served = post(s.url(), "DomainCDR", "get", json!({"id": id}), Some(&t)).json();
        let pure = runtel_sim::seeded_log_record("DomainCDR", id, 1);
        assert_eq!(served["body"], Value::Object(pure.clone()), "{id}");
        assert_eq!(s.seeded_record("DomainCDR", id), Some(pure), "{id}");
    }
    assert_eq!(s.seeded_record("DomainCDR", 2501), None);
    assert_eq!(s.seeded_record("DomainCDR", 0), None);
    // Another epoch moves the dates and nothing else.
    let s = with_epoch(Some(1_800_000_000));
    let t = admin(s.url());
    let rec = s.seeded_record("DomainCDR", 7).unwrap();
    assert_eq!(rec["dt"], 1_800_000_000 + 6 * runtel_sim::SEED_STEP_DT);
    assert_eq!(s.seed_dt("DomainCDR", 6), rec["dt"].as_i64().unwrap());
    let mut pinned = runtel_sim::seeded_log_record("DomainCDR", 7, 1);
    pinned.insert("dt".into(), rec["dt"].clone());
    assert_eq!(rec, pinned);
    let served = post(s.url(), "DomainCDR", "get", json!({"id": 7}), Some(&t)).json();
    assert_eq!(served["body"], Value::Object(rec));
    // Unpinned: whatever now was, the helpers say what is served.
    let s = with_epoch(None);
    let t = admin(s.url());
    for (obj, id) in [("DomainCDR", 1), ("DomainCDR", 2500), ("DomainNotify", 3)] {
        let served = post(s.url(), obj, "get", json!({"id": id}), Some(&t)).json();
        assert_eq!(served["body"]["dt"], s.seed_dt(obj, id - 1), "{obj} {id}");
        assert_eq!(
            served["body"],
            Value::Object(s.seeded_record(obj, id).unwrap()),
            "{obj} {id}"
        );
    }
    // Both objects end at the same moment however many records each has.
    assert_eq!(s.seed_dt("DomainCDR", 2499), s.seed_dt("DomainNotify", 2));
}

#[test]
fn fixtures_and_seeds_through_the_library() {
    let s = sim(SimConfig {
        seed: vec![("DomainUser".into(), 2)],
        fixtures: vec![(
            "DomainUser".into(),
            vec![json!({"uid": "555", "pin": "0000", "custom": true})],
        )],
        ..SimConfig::default()
    });
    assert_eq!(s.record_count("DomainUser"), 3);
    let t = admin(s.url());
    let v = post(s.url(), "DomainUser", "get", json!({"id": 3}), Some(&t)).json();
    assert_eq!(
        v["body"],
        json!({"id": 3, "uid": "555", "pin": "0000", "custom": true, "domain_id": 1})
    );
    // The same checks as the binary's, as an InvalidInput error.
    let refused = |config: SimConfig| match Simulator::start(config) {
        Ok(_) => panic!("started"),
        Err(e) => {
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
            e.to_string()
        }
    };
    let err = refused(SimConfig {
        seed: vec![("Foo".into(), 3)],
        ..SimConfig::default()
    });
    assert!(
        err.contains("\"Foo\"") && err.contains("DomainCDR"),
        "{err}"
    );
    let err = refused(SimConfig {
        fixtures: vec![("Bar".into(), vec![json!({})])],
        ..SimConfig::default()
    });
    assert!(err.contains("\"Bar\""), "{err}");
    let err = refused(SimConfig {
        fixtures: vec![("User".into(), vec![json!("not a record")])],
        ..SimConfig::default()
    });
    assert!(err.contains("User[0]"), "{err}");
    // Loading a file gives what SimConfig::fixtures takes, in file order.
    let file = temp_file(
        "lib-fixtures.json",
        r#"{"User": [{"login": "a@b.cz"}], "DomainCDR": [{"dt": 1}, {"dt": 2}]}"#,
    );
    let loaded = runtel_sim::load_fixtures(&file).unwrap();
    assert_eq!(
        loaded,
        vec![
            ("User".to_owned(), vec![json!({"login": "a@b.cz"})]),
            (
                "DomainCDR".to_owned(),
                vec![json!({"dt": 1}), json!({"dt": 2})]
            ),
        ]
    );
    let bad = temp_file("lib-bad.json", "{\"User\": [}");
    let err = runtel_sim::load_fixtures(&bad).unwrap_err();
    assert!(
        err.contains(bad.to_str().unwrap()) && err.contains("line 1 column"),
        "{err}"
    );
}

#[test]
fn the_docs_cite_the_api_reference_users_have() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let reference = std::fs::read_to_string(root.join("../../docs/api-reference.md")).unwrap();
    let mut cited = 0;
    for entry in std::fs::read_dir(root.join("src")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("runtel-api.md"),
            "{} cites a file users do not have",
            path.display()
        );
        // Every `§N` (they all cite the reference) names a section that exists.
        for (at, _) in text.match_indices('§') {
            let n: String = text[at + '§'.len_utf8()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            assert!(
                !n.is_empty() && reference.contains(&format!("\n## {n}. ")),
                "{}: no section §{n} in docs/api-reference.md",
                path.display()
            );
            cited += 1;
        }
    }
    assert!(
        cited >= 3,
        "the sources cite sections of docs/api-reference.md"
    );
}

// ---------------------------------------------------------------------------
// The catalog (`runtel_protocol::catalog`) drives objects, actions, validation,
// seeds and permissions.

use runtel_protocol::catalog::{self, FieldSpec, FieldType, ObjectKind, ObjectSpec, Scope};

/// A value of `f`'s type that its constraints accept, different for each `n`.
fn valid_value(spec: &ObjectSpec, f: &FieldSpec, n: i64) -> Value {
    let text = |base: String| -> Value {
        let max = if f.max_len > 0 { f.max_len } else { usize::MAX };
        let mut s: String = base.chars().take(max).collect();
        while s.chars().count() < f.min_len {
            s.push('x');
        }
        s.into()
    };
    match f.ty {
        FieldType::Int if !f.choices.is_empty() => f.choices[n as usize % f.choices.len()].into(),
        FieldType::Int => n.into(),
        FieldType::UnixTime => (1_704_067_200 + n).into(),
        FieldType::Str => text(format!("{}{n}", f.name)),
        FieldType::Email => text(format!("{}{n}@{}.cz", f.name, spec.name.to_lowercase())),
        FieldType::Bool => true.into(),
        FieldType::Dict => json!({}),
        FieldType::List => json!([]),
        FieldType::Any => json!("any"),
    }
}

/// A record of `spec` that the catalog's rules accept: every required field (and
/// every other writable one), `domain_id` 1 where there is one.
fn valid_record(spec: &ObjectSpec, n: i64) -> serde_json::Map<String, Value> {
    let mut rec = serde_json::Map::new();
    for f in spec.fields.iter().filter(|f| !f.read_only) {
        let v = match f.name {
            "domain_id" => json!(1),
            _ => valid_value(spec, f, n),
        };
        rec.insert(f.name.into(), v);
    }
    rec
}

/// `params` plus the `domain_id` an operator must pass for PBX objects.
fn scoped(spec: &ObjectSpec, mut params: Value) -> Value {
    if spec.scope == Scope::Domain {
        params["domain_id"] = json!(1);
    }
    params
}

fn operator(url: &str) -> String {
    login(url, "operator@sim.runtel.local", "operator")
}

/// Every action name any catalog object has, and a few no object has.
fn every_action() -> Vec<&'static str> {
    let mut all: Vec<&str> = catalog::OBJECTS
        .iter()
        .flat_map(|o| o.actions.iter().copied())
        .collect();
    all.sort();
    all.dedup();
    all
}

#[test]
fn every_catalog_object_answers_its_actions_and_only_those() {
    let seeds = catalog::OBJECTS
        .iter()
        .filter(|o| o.kind == ObjectKind::Log)
        .map(|o| (o.name.to_owned(), 3))
        .collect();
    let s = sim(SimConfig {
        seed: seeds,
        seed_epoch: Some(runtel_sim::SEED_BASE_DT),
        ..SimConfig::default()
    });
    let op = operator(s.url());
    let actions = every_action();
    assert!(actions.len() >= 9, "{actions:?}");
    for (n, spec) in catalog::OBJECTS.iter().enumerate() {
        let n = n as i64 + 1;
        let name = spec.name;
        let call = |action: &str, params: Value, token: &str| {
            let a = post(s.url(), name, action, scoped(spec, params), Some(token));
            (a.status, a.json())
        };
        // list and list_with_detail, for every object.
        for action in ["list", "list_with_detail"] {
            let (status, v) = call(action, json!({}), &op);
            assert_eq!(status, 200, "{name} {action}: {v}");
            assert!(
                v["list"].is_array() && v["total_count"].is_u64(),
                "{name}: {v}"
            );
        }
        // A record to get: created for configuration, seeded for logs.
        let id = match spec.kind {
            ObjectKind::Config => {
                let rec = valid_record(spec, n);
                let (status, v) = call("append", Value::Object(rec.clone()), &op);
                assert_eq!(status, 200, "{name} append: {v}");
                let body = &v["body"];
                for (k, want) in rec.iter().filter(|(k, _)| *k != "password") {
                    assert_eq!(&body[k], want, "{name} append keeps {k}: {v}");
                }
                body["id"].as_i64().unwrap()
            }
            ObjectKind::Log => 1,
        };
        let (status, got) = call("get", json!({"id": id}), &op);
        assert_eq!(status, 200, "{name} get: {got}");
        assert_eq!(got["body"]["id"], id, "{name}: {got}");
        if spec.kind == ObjectKind::Log {
            assert_eq!(
                got["body"],
                Value::Object(s.seeded_record(name, 1).unwrap()),
                "{name}"
            );
        }
        for action in &actions {
            let (status, v) = match *action {
                "list" | "list_with_detail" | "get" => continue,
                "append" => call("append", Value::Object(valid_record(spec, n + 100)), &op),
                "update" => call("update", json!({"id": id}), &op),
                // Deleted below, after the refusals were checked on the record.
                "delete" if spec.has_action("delete") => continue,
                "delete" => call("delete", json!({"id": id}), &op),
                "get_dialog" => call("get_dialog", json!({"call_uuid": "u-1"}), &op),
                "auth" => {
                    let a = post(
                        s.url(),
                        name,
                        "auth",
                        json!({"login": "operator@sim.runtel.local", "password": "operator"}),
                        None,
                    );
                    (a.status, a.json())
                }
                "logout" => {
                    let fresh = operator(s.url());
                    call("logout", json!({}), &fresh)
                }
                other => panic!("no test for the action {other:?}: add one"),
            };
            if spec.has_action(action) {
                assert_eq!(status, 200, "{name} {action}: {v}");
            } else {
                assert_eq!(
                    (status, v["msg_id"].as_str()),
                    (400, Some("unknown_action")),
                    "{name} {action} is not in the catalog: {v}"
                );
                assert_eq!(v["code"], 400, "{name} {action}: {v}");
            }
        }
        // Refused writes changed nothing.
        let (_, again) = call("get", json!({"id": id}), &op);
        assert_eq!(again["body"], got["body"], "{name}");
        if spec.has_action("delete") {
            let (status, v) = call("delete", json!({"id": id}), &op);
            assert_eq!(status, 200, "{name} delete: {v}");
            let (status, v) = call("get", json!({"id": id}), &op);
            assert_eq!(status, 404, "{name} deleted: {v}");
        }
    }
}

#[test]
fn log_objects_are_read_only_even_for_administrators() {
    let s = sim(SimConfig {
        seed: vec![("DomainCDR".into(), 5)],
        ..SimConfig::default()
    });
    let t = admin(s.url());
    // What the issue saw accepted: `runtel call DomainCDR append dt=1 src=1`.
    for (action, params) in [
        ("append", json!({"dt": 1, "src": "1"})),
        ("update", json!({"id": 2, "src": "x"})),
        ("delete", json!({"id": 2})),
    ] {
        let a = post(s.url(), "DomainCDR", action, params, Some(&t));
        let v = a.json();
        assert_eq!(a.status, 400, "{action}: {v}");
        assert_eq!(v["msg_id"], "unknown_action", "{action}: {v}");
        let m = v["message"].as_str().unwrap();
        assert!(m.contains("DomainCDR") && m.contains(action), "{m}");
        assert!(m.contains("read only"), "{m}");
    }
    let v = post(s.url(), "DomainCDR", "list", json!({}), Some(&t)).json();
    assert_eq!(v["total_count"], 5, "nothing added or deleted");
    let v = post(s.url(), "DomainCDR", "get", json!({"id": 2}), Some(&t)).json();
    assert_eq!(
        v["body"],
        Value::Object(s.seeded_record("DomainCDR", 2).unwrap())
    );
}

#[test]
fn the_platform_writes_logs_through_the_library_and_the_control_endpoint() {
    let s = sim(SimConfig {
        seed: vec![("DomainCDR".into(), 3)],
        ..SimConfig::default()
    });
    let t = admin(s.url());
    let ids = s
        .insert_records(
            "DomainCDR",
            vec![json!({"dt": 1_800_000_000, "src": "100", "extra": [1]})],
        )
        .unwrap();
    assert_eq!(ids, [4]);
    let v = post(s.url(), "DomainCDR", "get", json!({"id": 4}), Some(&t)).json();
    assert_eq!(
        v["body"],
        json!({"id": 4, "dt": 1_800_000_000, "src": "100", "extra": [1], "domain_id": 1}),
        "fields kept, domain 1 by default"
    );
    // Checked against the catalog, all or nothing.
    let err = s
        .insert_records("DomainCDR", vec![json!({"dt": 5}), json!({"dt": "soon"})])
        .unwrap_err();
    assert!(err.contains("[1]") && err.contains("dt"), "{err}");
    assert_eq!(s.record_count("DomainCDR"), 4);
    let err = s.insert_records("DomainCdr", vec![json!({})]).unwrap_err();
    assert!(err.contains("did you mean \"DomainCDR\""), "{err}");
    assert_eq!(s.delete_records("DomainCDR", [1, 4, 99]), 2);
    assert_eq!(s.record_count("DomainCDR"), 2);
    // The same over HTTP, for the Python and C suites.
    let ctl = |op: &str, body: Value| {
        let mut r = agent()
            .post(format!("{}/_sim/{op}", s.url()))
            .send(body.to_string().as_bytes())
            .unwrap();
        let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        (r.status().as_u16(), v)
    };
    let (status, v) = ctl(
        "records",
        json!({"obj": "DomainNotify", "records": [{"dt": 7}, {"dt": 8, "status": "sent"}]}),
    );
    assert_eq!((status, &v["ids"]), (200, &json!([1, 2])), "{v}");
    let (status, v) = ctl(
        "records",
        json!({"obj": "DomainNotify", "records": [{"wait": "x"}]}),
    );
    assert_eq!(status, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("wait"), "{v}");
    let (status, v) = ctl("records/delete", json!({"obj": "DomainNotify", "ids": [2]}));
    assert_eq!((status, &v["deleted"]), (200, &json!(1)), "{v}");
    let v = post(s.url(), "DomainNotify", "list", json!({}), Some(&t)).json();
    assert_eq!(v["list"], json!([{"id": 1, "dt": 7, "domain_id": 1}]));
    let (status, _) = ctl("records", json!({"obj": "Nope", "records": []}));
    assert_eq!(status, 400);
}

#[test]
fn seeded_logs_have_the_catalog_fields_and_types_for_every_log_object() {
    let logs: Vec<&ObjectSpec> = catalog::OBJECTS
        .iter()
        .filter(|o| o.kind == ObjectKind::Log)
        .collect();
    let s = sim(SimConfig {
        seed: logs.iter().map(|o| (o.name.to_owned(), 50)).collect(),
        seed_epoch: Some(runtel_sim::SEED_BASE_DT),
        ..SimConfig::default()
    });
    for spec in logs {
        let mut statuses = std::collections::BTreeSet::new();
        for id in 1..=50 {
            let rec = s.seeded_record(spec.name, id).unwrap();
            let keys: Vec<&str> = rec.keys().map(String::as_str).collect();
            let want: Vec<&str> = spec.fields.iter().map(|f| f.name).collect();
            assert_eq!(keys, want, "{}: the catalog's fields, in order", spec.name);
            for f in spec.fields {
                let v = &rec[f.name];
                let ok = match f.ty {
                    FieldType::Int | FieldType::UnixTime => v.is_i64(),
                    FieldType::Str | FieldType::Email => v.is_string(),
                    FieldType::Bool => v.is_boolean(),
                    FieldType::Dict => v.is_object(),
                    FieldType::List => v.is_array(),
                    FieldType::Any => true,
                };
                assert!(ok, "{} {id}: {} = {v}", spec.name, f.name);
            }
            let time = spec.time_field.unwrap();
            assert_eq!(
                rec[time],
                runtel_sim::SEED_BASE_DT + (id - 1) * runtel_sim::SEED_STEP_DT,
                "{}",
                spec.name
            );
            assert_eq!(rec["domain_id"], 1);
            if let Some(st) = rec.get("status") {
                statuses.insert(st.as_str().unwrap().to_owned());
            }
            // Deterministic: the pure generator gives the same record.
            assert_eq!(
                runtel_sim::seeded_log_record(spec.name, id, 1),
                rec,
                "{}",
                spec.name
            );
        }
        if spec.field("status").is_some() {
            assert!(statuses.len() >= 2, "{}: {statuses:?}", spec.name);
        }
    }
    // Each log speaks of its own things: agent statuses are not fax outcomes.
    let status = |obj: &str| {
        (1..=50)
            .map(|id| runtel_sim::seeded_log_record(obj, id, 1)["status"].to_string())
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_ne!(status("DomainAgentStatus"), status("DomainFax"));
}

#[test]
fn configuration_seeds_follow_the_catalog() {
    let configs: Vec<&ObjectSpec> = catalog::OBJECTS
        .iter()
        .filter(|o| o.kind == ObjectKind::Config)
        .collect();
    let s = sim(SimConfig {
        seed: configs.iter().map(|o| (o.name.to_owned(), 2)).collect(),
        ..SimConfig::default()
    });
    let op = operator(s.url());
    for spec in configs {
        let v = post(
            s.url(),
            spec.name,
            "list",
            scoped(spec, json!({})),
            Some(&op),
        )
        .json();
        let list = v["list"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: {v}", spec.name));
        let seeded: Vec<&Value> = list.iter().rev().take(2).collect();
        for rec in seeded {
            for f in spec.fields.iter().filter(|f| f.required && !f.read_only) {
                let present = rec.get(f.name).is_some() || f.name == "password";
                assert!(present, "{}: {} missing in {rec}", spec.name, f.name);
            }
            assert_eq!(
                rec.get("domain_id").is_some(),
                spec.scope != Scope::Platform,
                "{}: {rec}",
                spec.name
            );
        }
    }
}

#[test]
fn validation_follows_the_catalog_for_every_field() {
    let s = sim(SimConfig::default());
    let op = operator(s.url());
    let mut checked = 0;
    for spec in catalog::OBJECTS.iter().filter(|o| o.has_action("append")) {
        let refused = |rec: &serde_json::Map<String, Value>, field: &str, why: &str| {
            let a = post(
                s.url(),
                spec.name,
                "append",
                scoped(spec, Value::Object(rec.clone())),
                Some(&op),
            );
            let v = a.json();
            assert_eq!(a.status, 400, "{} {field} {why}: {v}", spec.name);
            assert_eq!(v["msg_id"], "validation_error", "{}: {v}", spec.name);
            assert!(
                v["errors"][field][0].is_string(),
                "{} {why}: names {field}: {v}",
                spec.name
            );
            v["errors"][field][0].as_str().unwrap().to_owned()
        };
        for (i, f) in spec.fields.iter().enumerate() {
            // domain_id is the scope an operator passes, checked separately.
            if f.read_only || f.name == "domain_id" {
                continue;
            }
            let base = valid_record(spec, 1000 + i as i64);
            if f.required {
                let mut rec = base.clone();
                rec.remove(f.name);
                let m = refused(&rec, f.name, "missing");
                assert_eq!(m, "Missing data for required field.");
                checked += 1;
            }
            let wrong = match f.ty {
                FieldType::Any => None,
                FieldType::Str | FieldType::Email => Some(json!(12345)),
                _ => Some(json!("wrong")),
            };
            if let Some(wrong) = wrong {
                let mut rec = base.clone();
                rec.insert(f.name.into(), wrong);
                refused(&rec, f.name, "wrong type");
                checked += 1;
            }
            if !f.nullable {
                let mut rec = base.clone();
                rec.insert(f.name.into(), Value::Null);
                assert_eq!(refused(&rec, f.name, "null"), "Field may not be null.");
                checked += 1;
            }
            if f.max_len > 0 {
                let mut rec = base.clone();
                let long = match f.ty {
                    FieldType::Email => {
                        format!("{}@x.cz", "a".repeat(f.max_len))
                    }
                    _ => "a".repeat(f.max_len + 1),
                };
                rec.insert(f.name.into(), long.into());
                let m = refused(&rec, f.name, "too long");
                assert_eq!(
                    m,
                    format!("Length must be between {} and {}.", f.min_len, f.max_len)
                );
                checked += 1;
            }
            if !f.choices.is_empty() {
                let mut rec = base.clone();
                let outside = f.choices.iter().max().unwrap() + 1;
                rec.insert(f.name.into(), outside.into());
                let m = refused(&rec, f.name, "not a choice");
                assert!(m.starts_with("Must be one of: "), "{m}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 30, "only {checked} rules checked");
    // update: only the fields given, with the same types.
    let t = admin(s.url());
    let a = post(
        s.url(),
        "User",
        "update",
        json!({"id": 1, "status": "on"}),
        Some(&t),
    );
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["errors"]["status"][0], "Not a valid integer.");
    let a = post(
        s.url(),
        "User",
        "update",
        json!({"id": 1, "surname": "S"}),
        Some(&t),
    );
    assert_eq!(a.status, 200, "nothing required on update");
    // Unknown fields are kept; read-only ones are the server's to fill.
    let a = post(
        s.url(),
        "DomainQueue",
        "append",
        json!({"name": "Sales", "strategy": "ring-all", "id": 777}),
        Some(&t),
    );
    let v = a.json();
    assert_eq!(a.status, 200, "{v}");
    assert_eq!(v["body"]["strategy"], "ring-all");
    assert_ne!(
        v["body"]["id"], 777,
        "id is assigned, not taken from the client"
    );
    let a = post(
        s.url(),
        "User",
        "append",
        json!({"login": "ro@sim.runtel.local", "password": "p", "name": "R", "status": 1,
               "numbers": ["999"]}),
        Some(&t),
    );
    assert_eq!(a.status, 200);
    assert!(a.json()["body"].get("numbers").is_none(), "{}", a.json());
}

#[test]
fn restricted_roles_get_403_for_what_their_perms_do_not_allow() {
    let s = sim(SimConfig {
        accounts: vec![
            Account::domain_admin(DEFAULT_LOGIN, DEFAULT_PASSWORD),
            Account::domain_admin("r@sim.runtel.local", "r")
                .with_perms(["DomainCDR.list", "User.get"])
                .unwrap(),
            Account::operator("hosts@sim.runtel.local", "h")
                .with_perms(["PbxHost.*"])
                .unwrap(),
            Account::domain_admin("ro@sim.runtel.local", "ro")
                .with_perms(["*.list", "*.get"])
                .unwrap(),
        ],
        seed: vec![("DomainCDR".into(), 3)],
        ..SimConfig::default()
    });
    let r_auth = post(
        s.url(),
        "User",
        "auth",
        json!({"login": "r@sim.runtel.local", "password": "r"}),
        None,
    )
    .json();
    let body = &r_auth["body"];
    assert_eq!(
        body["role_perms"],
        json!({"DomainCDR": ["list"], "User": ["get"]})
    );
    assert_eq!(body["role_type"], 4, "a custom PBX role");
    let r = body["token"].as_str().unwrap().to_owned();
    let code = |obj: &str, action: &str, params: Value, t: &str| {
        let a = post(s.url(), obj, action, params, Some(t));
        let v = a.json();
        if a.status == 403 {
            assert_eq!(v["msg_id"], "forbidden", "{v}");
            assert_eq!(v["code"], 403, "{v}");
        }
        a.status
    };
    assert_eq!(code("DomainCDR", "list", json!({}), &r), 200);
    assert_eq!(code("DomainCDR", "get", json!({"id": 1}), &r), 403);
    assert_eq!(code("DomainCDR", "list_with_detail", json!({}), &r), 403);
    assert_eq!(code("User", "get", json!({"id": 1}), &r), 200);
    assert_eq!(code("User", "list", json!({}), &r), 403);
    assert_eq!(code("DomainUser", "list", json!({}), &r), 403);
    assert_eq!(code("PbxHost", "list", json!({}), &r), 403);
    // The role is a Role record: changing its perms changes what its users may do.
    let a = admin(s.url());
    let role_id = body["role_id"].as_i64().unwrap();
    let role = post(s.url(), "Role", "get", json!({"id": role_id}), Some(&a)).json();
    assert_eq!(role["body"]["perms"], body["role_perms"]);
    let perms = json!({"DomainCDR": ["list"], "User": ["get"], "DomainUser": ["*"]});
    let v = post(
        s.url(),
        "Role",
        "update",
        json!({"id": role_id, "perms": perms}),
        Some(&a),
    );
    assert_eq!(v.status, 200);
    assert_eq!(code("DomainUser", "list", json!({}), &r), 200);
    // Full rights for the default accounts: their role's perms are {}.
    let full = post(
        s.url(),
        "User",
        "auth",
        json!({"login": DEFAULT_LOGIN, "password": DEFAULT_PASSWORD}),
        None,
    )
    .json();
    assert_eq!(full["body"]["role_perms"], json!({}));
    assert_eq!(code("DomainCDR", "get", json!({"id": 1}), &a), 200);
    // A restricted operator: platform objects it was given, nothing else.
    let h = login(s.url(), "hosts@sim.runtel.local", "h");
    assert_eq!(code("PbxHost", "append", json!({"name": "pbx"}), &h), 200);
    assert_eq!(code("GSSystem", "list", json!({}), &h), 403);
    assert_eq!(code("DomainCDR", "list", json!({"domain_id": 1}), &h), 403);
    // A read-only role through the object wildcard.
    let ro = login(s.url(), "ro@sim.runtel.local", "ro");
    assert_eq!(code("DomainQueue", "list", json!({}), &ro), 200);
    assert_eq!(code("User", "get", json!({"id": 1}), &ro), 200);
    assert_eq!(
        code("DomainQueue", "append", json!({"name": "q"}), &ro),
        403
    );
    // Logging out needs no permission.
    assert_eq!(code("User", "logout", json!({}), &ro), 200);
}

#[test]
fn restricted_accounts_are_checked_against_the_catalog() {
    let perms = |login: &str, spec: &[&str]| Account::domain_admin(login, "p").with_perms(spec);
    assert!(perms("a@b.cz", &["DomainCDR.list"]).is_ok());
    let err = perms("a@b.cz", &["DomainCdr.list"]).unwrap_err();
    assert!(err.contains("did you mean \"DomainCDR\""), "{err}");
    let err = perms("a@b.cz", &["DomainCDR.append"]).unwrap_err();
    assert!(err.contains("DomainCDR") && err.contains("append"), "{err}");
    assert!(err.contains("list"), "names the actions there are: {err}");
    assert!(perms("a@b.cz", &["DomainCDR"]).is_err());
    assert!(perms("a@b.cz", &[]).is_err());
    let a = Account::parse("x@y.cz:pw:domain=2:perms=DomainCDR.list,User.get").unwrap();
    assert_eq!(a.domain_id, Some(2));
    assert_eq!(a.role_type, 4);
    let want: std::collections::BTreeMap<String, Vec<String>> = [
        ("DomainCDR".to_owned(), vec!["list".to_owned()]),
        ("User".to_owned(), vec!["get".to_owned()]),
    ]
    .into();
    assert_eq!(a.perms, Some(want));
    // perms set directly are checked when the simulator starts.
    let mut direct = Account::domain_admin("d@y.cz", "p");
    direct.perms = Some([("Nope".to_owned(), vec!["list".to_owned()])].into());
    match Simulator::start(SimConfig {
        accounts: vec![direct],
        ..SimConfig::default()
    }) {
        Ok(_) => panic!("started with perms naming no object"),
        Err(e) => {
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
            assert!(e.to_string().contains("\"Nope\""), "{e}");
        }
    }
    let o = Account::parse("o@y.cz:pw:operator:perms=PbxHost.list").unwrap();
    assert_eq!((o.role_type, o.domain_id), (-2, None));
    for bad in [
        "x@y.cz:pw:perms=",
        "x@y.cz:pw:perms=Nope.list",
        "x@y.cz:pw:perms=DomainCDR.delete",
        "x@y.cz:pw:operator:domain=1",
    ] {
        assert!(Account::parse(bad).is_err(), "{bad}");
    }
    // The binary: --user with perms, and a bad one refused at start.
    let (_bin, url) = spawn_binary(&[
        "--user",
        "cdr@sim.runtel.local:c:perms=DomainCDR.list",
        "--seed",
        "DomainCDR=2",
    ]);
    let t = login(&url, "cdr@sim.runtel.local", "c");
    assert_eq!(
        post(&url, "DomainCDR", "list", json!({}), Some(&t)).status,
        200
    );
    let a = post(&url, "User", "list", json!({}), Some(&t));
    assert_eq!(
        (a.status, a.json()["msg_id"].clone()),
        (403, json!("forbidden"))
    );
    let (code, err) = binary_refuses(&["--user", "x@y.cz:p:perms=DomainCDR.append"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--user") && err.contains("append"), "{err}");
}

#[test]
fn operators_name_the_pbx_and_pbx_users_stay_off_platform_objects() {
    let s = sim(SimConfig::default());
    let op = operator(s.url());
    let a = admin(s.url());
    for spec in catalog::OBJECTS {
        let as_op = post(s.url(), spec.name, "list", json!({}), Some(&op));
        let as_admin = post(s.url(), spec.name, "list", json!({}), Some(&a));
        match spec.scope {
            Scope::Domain => {
                let v = as_op.json();
                assert_eq!(
                    (as_op.status, v["msg_id"].as_str()),
                    (400, Some("domain_required")),
                    "{}: {v}",
                    spec.name
                );
                assert!(v["message"].as_str().unwrap().contains("domain_id"), "{v}");
                let other = post(
                    s.url(),
                    spec.name,
                    "list",
                    json!({"domain_id": 99}),
                    Some(&op),
                );
                assert_eq!(other.status, 404, "{}", spec.name);
                assert_eq!(as_admin.status, 200, "{}", spec.name);
            }
            Scope::Platform => {
                assert_eq!(as_op.status, 200, "{}", spec.name);
                let v = as_admin.json();
                assert_eq!(
                    (as_admin.status, v["msg_id"].as_str()),
                    (403, Some("forbidden")),
                    "{}: {v}",
                    spec.name
                );
            }
            Scope::Tenant => {
                assert_eq!((as_op.status, as_admin.status), (200, 200), "{}", spec.name);
            }
        }
    }
}

#[test]
fn sim_objects_is_the_catalog_as_json() {
    let s = sim(SimConfig::default());
    let mut r = agent()
        .get(format!("{}/_sim/objects", s.url()))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(v, catalog::to_json());
    assert_eq!(v.as_array().unwrap().len(), catalog::OBJECTS.len());
}

/// The words of a text: runs of letters and digits.
fn words(text: &str) -> std::collections::BTreeSet<&str> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect()
}

#[test]
fn help_lists_every_catalog_object_and_filter_operator() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_runtel-sim"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let w = words(&help);
    for o in catalog::OBJECTS {
        assert!(w.contains(o.name), "--help names {}: {help}", o.name);
    }
    for op in runtel_protocol::Op::ALL {
        assert!(
            help.contains(&format!("{} {}", op.code(), op.symbol())),
            "--help gives condition_type {} {}: {help}",
            op.code(),
            op.symbol()
        );
    }
    assert!(help.contains("perms="), "--user documents perms: {help}");
}

#[test]
fn the_simulator_names_no_object_the_catalog_does_not() {
    let catalog_names: Vec<&str> = catalog::OBJECTS.iter().map(|o| o.name).collect();
    let pick = |f: &dyn Fn(&ObjectSpec) -> bool| -> Vec<&str> {
        catalog::OBJECTS
            .iter()
            .filter(|o| f(o))
            .map(|o| o.name)
            .collect()
    };
    // The public lists are the catalog's, in its order.
    assert_eq!(
        runtel_sim::LOG_OBJECTS,
        pick(&|o| o.kind == ObjectKind::Log).as_slice()
    );
    assert_eq!(
        runtel_sim::DOMAIN_OBJECTS,
        pick(&|o| o.scope == Scope::Domain).as_slice()
    );
    assert_eq!(
        runtel_sim::PLATFORM_OBJECTS,
        pick(&|o| o.scope == Scope::Platform).as_slice()
    );
    // What it says it can seed is exactly the catalog.
    let err = match Simulator::start(SimConfig {
        seed: vec![("Nothing".into(), 1)],
        ..SimConfig::default()
    }) {
        Ok(_) => panic!("seeded an unknown object"),
        Err(e) => e.to_string(),
    };
    let listed: std::collections::BTreeSet<&str> = words(&err)
        .into_iter()
        .filter(|w| w.chars().next().is_some_and(char::is_uppercase) && *w != "Nothing")
        .filter(|w| !["Objects", "Other"].contains(w))
        .collect();
    let all: std::collections::BTreeSet<&str> = catalog_names.iter().copied().collect();
    assert_eq!(listed, all, "{err}");
    // No object name in the sources outside the catalog: string literals that look
    // like object names must name catalog objects.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut seen = 0;
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for lit in text.split('"').skip(1).step_by(2) {
            let looks_like_object = ["Domain", "GS", "Mod", "System", "Pbx"]
                .iter()
                .any(|p| lit.starts_with(p) && lit.len() > p.len())
                && lit.chars().all(|c| c.is_ascii_alphanumeric())
                || lit == "User"
                || lit == "Role";
            if looks_like_object {
                seen += 1;
                assert!(
                    catalog_names.contains(&lit),
                    "{} names {lit:?}, not in the catalog",
                    path.display()
                );
            }
        }
    }
    assert!(seen >= 3, "the scan found the names the sources use");
}
