//! # runtel-sim
//!
//! A stateful offline simulator of the Runtel PBX API v2 server, following the
//! repository's `docs/api-reference.md` (§1 transport, §2 envelope, §3 errors, §4
//! logging in, §5 objects, §6 paging and filters): `auth`/`logout` with expiring
//! tokens, the Defender that blocks a host after failed logins, and every object of
//! the catalog (`runtel_protocol::catalog`) as it says: its actions (configuration
//! objects created, changed and deleted; logs read only), its scope (PBX objects
//! need operators to name the PBX, platform objects are operators' only), its
//! fields' rules, and roles' `perms` ([`Account::with_perms`]). Log objects carry
//! `dt` (seeded ones dated up to the start, or pinned with
//! [`SimConfig::seed_epoch`]; [`Simulator::insert_records`] writes more, as the
//! platform does); your own records ([`SimConfig::fixtures`]), paging and filters
//! (the protocol's [`runtel_protocol::Op`] codes), selectable error and answer
//! styles, fault injection, health checks for readiness probes, and optional HTTPS
//! with a generated certificate.
//!
//! Start one in-process from a test:
//!
//! ```
//! let sim = runtel_sim::Simulator::start(runtel_sim::SimConfig::default())?;
//! println!("serving {}", sim.url());
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! The binary (`runtel-sim --help`) serves the same until killed.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api;
mod config;
mod counters;
mod faults;
mod gzip;
mod http;
mod schema;
mod server;
mod store;
mod tls;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

pub use config::{
    load_fixtures, Account, ConfigError, ErrorStyle, GetStyle, ListStyle, PagingOptions, Perms,
    SimConfig, DEFAULT_LOGIN, DEFAULT_PASSWORD,
};
pub use counters::CounterSnapshot;
pub use faults::{Fault, FaultRule, MalformedAuth, Replay};
pub use store::{
    seeded_log_record, DOMAIN_OBJECTS, LOG_OBJECTS, PLATFORM_OBJECTS, SEED_BASE_DT, SEED_STEP_DT,
};
pub use tls::TlsSettings;

use server::{lock, Shared};

/// A running simulator. Dropping it stops the server and closes its connections.
pub struct Simulator {
    addr: SocketAddr,
    url: String,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Starts on `127.0.0.1` with an ephemeral port.
    pub fn start(config: SimConfig) -> std::io::Result<Simulator> {
        Simulator::start_on("127.0.0.1:0", config)
    }

    /// Starts on the given address (`host:port`, port 0 for an ephemeral one).
    ///
    /// A configuration that cannot be served (an unknown object in `seed` or
    /// `fixtures`, a bad fixture record) is refused before the port is taken, with
    /// an [`std::io::ErrorKind::InvalidInput`] error wrapping a [`ConfigError`].
    pub fn start_on(addr: &str, config: SimConfig) -> std::io::Result<Simulator> {
        // What the server side needs, taken before the world takes the config.
        let tls_settings = config.tls.clone();
        let vectors_dir = config.vectors_dir.clone();
        let (skew_secs, auth_delay, max_request_bytes, idle_timeout, max_connections) = (
            config.clock_skew_secs,
            config.auth_delay,
            config.max_request_bytes,
            config.idle_timeout,
            config.max_connections.max(1),
        );
        let fault_seed = config.fault_seed;
        let world = api::World::new(config, server::skewed_now(skew_secs))
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let tls = match &tls_settings {
            Some(settings) => Some(tls::generate(settings).map_err(std::io::Error::other)?),
            None => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let host = match &tls_settings {
            // Certificates name hosts; use the first DNS name so verification can pass.
            Some(s) if addr.ip().is_loopback() => s
                .names
                .iter()
                .find(|n| n.parse::<std::net::IpAddr>().is_err())
                .cloned()
                .unwrap_or_else(|| addr.ip().to_string()),
            _ => addr.ip().to_string(),
        };
        let url = format!("{scheme}://{host}:{}", addr.port());
        let shared = Arc::new(Shared {
            skew_secs,
            auth_delay,
            max_request_bytes,
            idle_timeout,
            max_connections,
            open_changed: Default::default(),
            bombs: Default::default(),
            faults: Mutex::new({
                let mut plan = faults::FaultPlan::default();
                plan.seed(fault_seed);
                plan
            }),
            world: Mutex::new(world),
            started: std::time::Instant::now(),
            counters: Default::default(),
            shutdown: Default::default(),
            open: Default::default(),
            next_conn: Default::default(),
            cert_pem: tls.as_ref().map(|t| t.cert_pem.clone()),
            vectors_dir,
        });
        let accept_shared = Arc::clone(&shared);
        let tls_config = tls.map(|t| t.config);
        let accept = std::thread::Builder::new()
            .name("runtel-sim-accept".into())
            .spawn(move || server::accept_loop(listener, accept_shared, tls_config))?;
        Ok(Simulator {
            addr,
            url,
            shared,
            accept: Some(accept),
        })
    }

    /// The base URL to give a client (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The socket address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The generated certificate in PEM, when serving HTTPS.
    pub fn cert_pem(&self) -> Option<&str> {
        self.shared.cert_pem.as_deref()
    }

    /// What the simulator has seen so far.
    pub fn counters(&self) -> CounterSnapshot {
        self.shared.counters_snapshot()
    }

    /// Zeroes the counters.
    pub fn reset_counters(&self) {
        self.shared.counters.reset();
    }

    /// Adds a fault rule.
    pub fn push_fault(&self, rule: FaultRule) {
        lock(&self.shared.faults).push(rule);
    }

    /// Serves a shared test vector (`tests/vectors/NAME.json` read from `path`) as
    /// the next answer; returns the vector's `expect` block.
    pub fn replay_vector(&self, path: &std::path::Path) -> Result<serde_json::Value, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let (replay, expect) = Replay::from_vector(&v)?;
        self.push_fault(FaultRule::times(Fault::Replay(Box::new(replay)), 1));
        Ok(expect)
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Makes every issued token invalid at once (as if they all expired); returns
    /// how many tokens were live.
    pub fn expire_all_tokens(&self) -> usize {
        lock(&self.shared.world).expire_all_tokens()
    }

    /// Lifts every Defender block.
    pub fn unblock_all(&self) {
        lock(&self.shared.world).unblock_all();
    }

    /// Switches the error style at runtime.
    pub fn set_error_style(&self, style: ErrorStyle) {
        lock(&self.shared.world).config.error_style = style;
    }

    /// Switches where list answers put their records.
    pub fn set_list_style(&self, style: ListStyle) {
        lock(&self.shared.world).config.list_style = style;
    }

    /// Switches how get answers carry the record.
    pub fn set_get_style(&self, style: GetStyle) {
        lock(&self.shared.world).config.get_style = style;
    }

    /// Changes the lifetime of tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: std::time::Duration) {
        lock(&self.shared.world).config.token_lifetime = lifetime;
    }

    /// The token of the last successful `auth` (whether or not it is still valid),
    /// so tests can check that it never leaks into logs or errors.
    pub fn last_issued_token(&self) -> Option<String> {
        lock(&self.shared.world).last_token.clone()
    }

    /// The paging options in force.
    pub fn paging(&self) -> PagingOptions {
        lock(&self.shared.world).config.paging
    }

    /// Replaces every paging option at once.
    pub fn set_paging(&self, paging: PagingOptions) {
        lock(&self.shared.world).config.paging = paging;
    }

    /// Caps every list page at `max` records (`None`: no cap).
    pub fn set_max_page_size(&self, max: Option<u64>) {
        lock(&self.shared.world).config.paging.max_page_size = max;
    }

    /// Makes every list answer start at offset 0 (or stops doing so).
    pub fn set_ignore_offset(&self, ignore: bool) {
        lock(&self.shared.world).config.paging.ignore_offset = ignore;
    }

    /// Leaves `total_count` out of list answers (or puts it back).
    pub fn set_omit_total_count(&self, omit: bool) {
        lock(&self.shared.world).config.paging.omit_total_count = omit;
    }

    /// The `dt` of seeded log record `index` of `obj` (index 0 is the oldest, id 1):
    /// `seed_epoch + index × SEED_STEP_DT` when pinned, otherwise counted back from
    /// the start so that the newest is dated then. Tests compute filter values with
    /// it whatever the epoch. For an object without seeded records, what its first
    /// would be.
    pub fn seed_dt(&self, obj: &str, index: i64) -> i64 {
        lock(&self.shared.world).seed_dt(obj, index)
    }

    /// Seeded log record `id` of `obj` as generated at start with this simulator's
    /// dates (calls that update or delete it since do not change this), or `None`
    /// if no such record was seeded.
    pub fn seeded_record(
        &self,
        obj: &str,
        id: i64,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        let world = lock(&self.shared.world);
        world.store.collections.get(obj)?.seeded_record(obj, id)
    }

    /// Writes records of `obj` as the platform does: the way to add log records,
    /// which the API does not let clients write. Each is checked against the
    /// catalog's types and required fields, all before any is stored; `id` is
    /// assigned and `domain_id` is 1 unless given (platform objects have none);
    /// other fields are kept. A `User` with a login and password can log in.
    /// Returns the new ids, or why nothing was stored.
    pub fn insert_records(
        &self,
        obj: &str,
        records: Vec<serde_json::Value>,
    ) -> Result<Vec<i64>, String> {
        lock(&self.shared.world).insert_records(obj, records)
    }

    /// Deletes records of `obj` (logs too) as the platform does; returns how many
    /// of `ids` existed.
    pub fn delete_records(&self, obj: &str, ids: impl IntoIterator<Item = i64>) -> usize {
        lock(&self.shared.world).delete_records(obj, ids)
    }

    /// Number of records an object holds (seeded ones included).
    pub fn record_count(&self, obj: &str) -> usize {
        lock(&self.shared.world).store.collection(obj).len()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, std::time::Duration::from_secs(1));
        server::close_all(&self.shared);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}
