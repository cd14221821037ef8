//! Async modes: `rust-async-calls` (runtel-async's `AsyncClient`) against
//! `reqwest-calls` (a hand-written reqwest + serde_json loop doing the same
//! POSTs and checks), `n` gets at a concurrency of `args[4]` (default 50) tasks
//! on a two-thread tokio runtime.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use super::{report, usage, LOGIN, PASSWORD};

/// Runs `mode` if it is one of this module's; false otherwise.
pub fn run(mode: &str, url: &str, n: u64, args: &[String]) -> bool {
    if !matches!(mode, "rust-async-calls" | "reqwest-calls") {
        return false;
    }
    let concurrency: u64 = args.get(4).and_then(|v| v.parse().ok()).unwrap_or(50);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        match mode {
            "rust-async-calls" => {
                let c = runtel_async::AsyncClient::builder(url)
                    .credentials(LOGIN, PASSWORD)
                    .build()
                    .expect("client");
                let get = move |c: runtel_async::AsyncClient| async move {
                    let r = c.call("User", "get", json!({"id": 1})).await.unwrap();
                    assert_eq!(r.body()["id"], 1);
                };
                measure(mode, n, concurrency, c, get).await;
            }
            _ => {
                let raw = Arc::new(RawAsync::new(url).await);
                let get = move |raw: Arc<RawAsync>| async move {
                    let v = raw.call("User", "get", json!({"id": 1})).await;
                    assert_eq!(v["body"]["id"], 1);
                };
                measure(mode, n, concurrency, raw, get).await;
            }
        }
    });
    true
}

/// Warms up (200 calls), then runs `n` calls from `concurrency` tasks.
async fn measure<C, F, Fut>(mode: &str, n: u64, concurrency: u64, client: C, one: F)
where
    C: Clone + Send + 'static,
    F: Fn(C) -> Fut + Copy + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    for _ in 0..200 {
        one(client.clone()).await;
    }
    let (cpu0, _) = usage();
    let t = Instant::now();
    let left = Arc::new(AtomicU64::new(n));
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, left) = (client.clone(), Arc::clone(&left));
            tokio::spawn(async move {
                while left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| l.checked_sub(1))
                    .is_ok()
                {
                    one(client.clone()).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    report(
        mode,
        n,
        t.elapsed().as_secs_f64(),
        usage().0 - cpu0,
        json!({"concurrency": concurrency}),
    );
}

/// The hand-written floor on reqwest: the same POSTs and checks as the
/// client (code 200, the action_id echo), nothing else.
struct RawAsync {
    http: reqwest::Client,
    url: String,
    token: String,
    next: AtomicU64,
}

impl RawAsync {
    async fn new(url: &str) -> RawAsync {
        // reqwest without its default TLS needs a crypto provider chosen: ring,
        // as the client uses (loopback HTTP does not use it).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("reqwest");
        let mut raw = RawAsync {
            http,
            url: format!("{url}/api/"),
            token: String::new(),
            next: AtomicU64::new(0),
        };
        let v = raw
            .post(json!({"action": "auth", "obj": "User", "action_id": "a",
                         "params": {"login": LOGIN, "password": PASSWORD}}))
            .await;
        raw.token = v["body"]["token"].as_str().expect("token").to_owned();
        raw
    }

    async fn post(&self, env: Value) -> Value {
        let mut req = self
            .http
            .post(&self.url)
            .header("Content-Type", "application/json");
        if !self.token.is_empty() {
            req = req.header("Authorization", format!("Bearer {}", self.token));
        }
        let resp = req
            .body(serde_json::to_vec(&env).unwrap())
            .send()
            .await
            .expect("send");
        let bytes = resp.bytes().await.expect("read");
        let v: Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(v["code"], 200);
        assert_eq!(v["action_id"], env["action_id"]);
        v
    }

    async fn call(&self, obj: &str, action: &str, params: Value) -> Value {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.post(
            json!({"action": action, "obj": obj, "action_id": format!("b-{id}"), "params": params}),
        )
        .await
    }
}
