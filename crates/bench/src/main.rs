//! Benchmark drivers run by `bench/run`, each mode in its own process so CPU time and
//! peak RSS belong to that mode alone. Prints one JSON line per run.
//!
//! Modes: rust-calls, ureq-calls, rust-list, rust-list-typed (through `Value`),
//! rust-list-direct (typed, `call_as`), ureq-list, rust-stream (prefetching),
//! rust-stream-noprefetch, rust-export (records written as JSON lines),
//! rust-export-noprefetch, rust-threads;
//! rust-async-calls and reqwest-calls (see `aio`).

mod aio;

use std::time::Instant;

use runtel_client::Client;
use serde_json::{json, Value};

const LOGIN: &str = "admin@sim.runtel.local";
const PASSWORD: &str = "admin";

/// (user + system CPU seconds, peak RSS in MiB) of this process. The CPU time
/// is the kernel's exact count (`CLOCK_PROCESS_CPUTIME_ID`, as Python's
/// `time.process_time` and the C benches' `getrusage` read it), not
/// `/proc/self/stat`'s 10 ms ticks, which made a 0.06 s run read 0.05-0.07 s.
fn usage() -> (f64, f64) {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes only the struct passed, which lives for the call.
    let cpu = if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) } == 0 {
        t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
    } else {
        0.0
    };
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    (cpu, hwm_kb / 1024.0)
}

fn report(bench: &str, n: u64, wall: f64, cpu: f64, extra: Value) {
    let (_, rss) = usage();
    let mut v = json!({"bench": bench, "n": n, "wall_s": wall, "cpu_s": cpu,
                       "per_s": n as f64 / wall, "cpu_us_per_op": cpu * 1e6 / n as f64, "peak_rss_mib": rss});
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    println!("{v}");
}

fn client(url: &str) -> Client {
    let c = Client::builder(url)
        .max_response_bytes(512 << 20)
        .build()
        .expect("client");
    c.login(LOGIN, PASSWORD).expect("login");
    c
}

/// The hand-written floor: ureq + serde_json, the same POSTs, the same checks.
struct Raw {
    agent: ureq::Agent,
    url: String,
    token: String,
    next: u64,
}

impl Raw {
    fn new(url: &str) -> Raw {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(30)))
            .build()
            .into();
        let mut raw = Raw {
            agent,
            url: format!("{url}/api/"),
            token: String::new(),
            next: 0,
        };
        let v = raw.post(
            json!({"action": "auth", "obj": "User", "action_id": "a",
                                "params": {"login": LOGIN, "password": PASSWORD}}),
            false,
        );
        raw.token = v["body"]["token"].as_str().expect("token").to_owned();
        raw
    }

    fn post(&mut self, env: Value, auth: bool) -> Value {
        let mut req = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json");
        if auth {
            req = req.header("Authorization", format!("Bearer {}", self.token));
        }
        let body = serde_json::to_vec(&env).unwrap();
        let mut resp = req.send(&body[..]).expect("send");
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(512 << 20)
            .read_to_vec()
            .expect("read");
        let v: Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(v["code"], 200);
        assert_eq!(v["action_id"], env["action_id"]);
        v
    }

    fn call(&mut self, obj: &str, action: &str, params: Value, extra: Value) -> Value {
        self.next += 1;
        let mut env = json!({"action": action, "obj": obj, "action_id": format!("b-{}", self.next), "params": params});
        if let (Value::Object(m), Value::Object(e)) = (&mut env, extra) {
            m.extend(e);
        }
        self.post(env, true)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mode, url) = (args[1].as_str(), args[2].as_str());
    let n: u64 = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(10_000);
    if aio::run(mode, url, n, &args) {
        return;
    }
    match mode {
        "rust-calls" => {
            let c = client(url);
            for _ in 0..200 {
                c.call("User", "get", json!({"id": 1})).unwrap();
            }
            let (cpu0, _) = usage();
            let t = Instant::now();
            for _ in 0..n {
                let r = c.call("User", "get", json!({"id": 1})).unwrap();
                assert_eq!(r.body()["id"], 1);
            }
            report(
                mode,
                n,
                t.elapsed().as_secs_f64(),
                usage().0 - cpu0,
                json!({}),
            );
        }
        "ureq-calls" => {
            let mut raw = Raw::new(url);
            for _ in 0..200 {
                raw.call("User", "get", json!({"id": 1}), json!({}));
            }
            let (cpu0, _) = usage();
            let t = Instant::now();
            for _ in 0..n {
                let v = raw.call("User", "get", json!({"id": 1}), json!({}));
                assert_eq!(v["body"]["id"], 1);
            }
            report(
                mode,
                n,
                t.elapsed().as_secs_f64(),
                usage().0 - cpu0,
                json!({}),
            );
        }
        "rust-list" | "rust-list-typed" => {
            let c = client(url);
            let (cpu0, _) = usage();
            let t = Instant::now();
            let call = runtel_client::Call::new("DomainCDR", "list", json!({}))
                .unwrap()
                .limit(n);
            let resp = c.call_with(&call).unwrap();
            let records = resp.into_records();
            let count = if mode == "rust-list-typed" {
                #[derive(serde::Deserialize)]
                #[allow(dead_code)]
                struct Cdr {
                    id: i64,
                    dt: i64,
                    src: String,
                    dst: String,
                    duration: u64,
                }
                let typed: Vec<Cdr> = records
                    .into_iter()
                    .map(|r| serde_json::from_value(r).unwrap())
                    .collect();
                typed.len()
            } else {
                records.len()
            };
            assert_eq!(count as u64, n);
            report(
                mode,
                n,
                t.elapsed().as_secs_f64(),
                usage().0 - cpu0,
                json!({}),
            );
        }
        "rust-list-direct" => {
            // The typed path straight from the bytes: `call_as` (no `Value`).
            #[derive(serde::Deserialize)]
            #[allow(dead_code)]
            struct Cdr {
                id: i64,
                dt: i64,
                src: String,
                dst: String,
                duration: u64,
            }
            let c = client(url);
            let (cpu0, _) = usage();
            let t = Instant::now();
            let call = runtel_client::Call::new("DomainCDR", "list", json!({}))
                .unwrap()
                .limit(n);
            let page = c.call_as::<Cdr>(&call).unwrap();
            assert_eq!(page.records.len() as u64, n);
            report(
                mode,
                n,
                t.elapsed().as_secs_f64(),
                usage().0 - cpu0,
                json!({}),
            );
        }
        "ureq-list" => {
            let mut raw = Raw::new(url);
            let (cpu0, _) = usage();
            let t = Instant::now();
            let v = raw.call("DomainCDR", "list", json!({}), json!({"limit": n}));
            assert_eq!(v["list"].as_array().unwrap().len() as u64, n);
            report(
                mode,
                n,
                t.elapsed().as_secs_f64(),
                usage().0 - cpu0,
                json!({}),
            );
        }
        "rust-stream"
        | "rust-stream-noprefetch"
        | "rust-stream-typed"
        | "rust-stream-typed-noprefetch"
        | "rust-export"
        | "rust-export-noprefetch" => {
            // `rust-export*`: each record written out as a JSON line (to memory),
            // what `runtel export` does: a consumer with work to overlap.
            // `rust-stream-typed*`: `records_as::<DomainCdr>()`, pages decoded
            // straight into the type.
            let c = client(url);
            let (cpu0, _) = usage();
            let t = Instant::now();
            let prefetch = !mode.ends_with("-noprefetch");
            let count = if mode.starts_with("rust-stream-typed") {
                c.records_as::<runtel_client::DomainCdr>("DomainCDR", json!({}), 1000)
                    .unwrap()
                    .prefetch(prefetch)
                    .map(|r| u64::from(r.unwrap().id.is_some()))
                    .sum::<u64>()
            } else {
                let export = mode.starts_with("rust-export");
                let mut line = Vec::with_capacity(1024);
                let mut written = 0usize;
                let mut count = 0u64;
                for r in c
                    .records("DomainCDR", json!({}), 1000)
                    .unwrap()
                    .prefetch(prefetch)
                {
                    let r = r.unwrap();
                    if export {
                        line.clear();
                        serde_json::to_writer(&mut line, &r).unwrap();
                        line.push(b'\n');
                        written += line.len();
                    }
                    count += u64::from(r["id"].is_i64());
                }
                assert!(!export || written > 0);
                count
            };
            assert_eq!(count, n);
            report(
                mode,
                n,
                t.elapsed().as_secs_f64(),
                usage().0 - cpu0,
                json!({}),
            );
        }
        "rust-threads" => {
            let threads: u64 = args.get(4).and_then(|v| v.parse().ok()).unwrap_or(4);
            let c = client(url);
            let (cpu0, _) = usage();
            let t = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..threads {
                    let c = c.clone();
                    s.spawn(move || {
                        for _ in 0..n / threads {
                            c.call("User", "get", json!({"id": 1})).unwrap();
                        }
                    });
                }
            });
            report(
                mode,
                n / threads * threads,
                t.elapsed().as_secs_f64(),
                usage().0 - cpu0,
                json!({"threads": threads}),
            );
        }
        other => {
            eprintln!("unknown mode {other}");
            std::process::exit(2);
        }
    }
}
