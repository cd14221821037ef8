//! The simulator over real HTTP: auth, expiry, logout, Defender, CRUD and validation,
//! paging and filters, scopes, error styles, every fault, control endpoint, TLS,
//! the binary.

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
        Value::Object(runtel_sim::seeded_log_record("DomainCDR", 7, 1))
    );
    // dt >= since (condition 5), AND-ed with another condition.
    let since = runtel_sim::SEED_BASE_DT + 2000 * runtel_sim::SEED_STEP_DT;
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
