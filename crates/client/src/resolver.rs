//! Name resolution for the ureq agent without a thread per request.
//!
//! ureq's default resolver puts a timeout on every lookup by running it on a
//! new thread, for every request, even for an IP literal and even when a pooled
//! connection is then reused. This one answers IP literals at once, and keeps the
//! addresses of a name for a bounded time ([`CACHE_TTL`], at most
//! [`CACHE_ENTRIES`] names), so a thread is spawned only when a name is actually
//! looked up (the lookup itself still has the request's timeout).

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

use crate::interrupt::{self, Waited};

/// How long the addresses of a name are used before it is looked up again.
pub(crate) const CACHE_TTL: Duration = Duration::from_secs(30);
/// How many names are remembered at most.
pub(crate) const CACHE_ENTRIES: usize = 32;
/// How many addresses ureq takes from a resolver.
const MAX_ADDRS: usize = 16;

/// The time source of the cache (a fixed one in tests).
pub(crate) trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Instant;
}

/// The system's monotonic clock.
struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A name lookup: `host` (no brackets) and `port` to addresses.
pub(crate) type Lookup = dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync;

fn system_lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    Ok((host, port).to_socket_addrs()?.collect())
}

struct Entry {
    addrs: Vec<SocketAddr>,
    resolved_at: Instant,
}

/// A [`Resolver`] that answers IP literals directly and caches names.
pub(crate) struct CachingResolver {
    cache: Mutex<HashMap<(String, u16), Entry>>,
    clock: Arc<dyn Clock>,
    lookup: Arc<Lookup>,
    ttl: Duration,
    capacity: usize,
}

impl fmt::Debug for CachingResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachingResolver")
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Default for CachingResolver {
    fn default() -> Self {
        CachingResolver::with_parts(
            Arc::new(SystemClock),
            Arc::new(system_lookup),
            CACHE_TTL,
            CACHE_ENTRIES,
        )
    }
}

impl CachingResolver {
    /// A resolver with its own clock, lookup and bounds.
    pub(crate) fn with_parts(
        clock: Arc<dyn Clock>,
        lookup: Arc<Lookup>,
        ttl: Duration,
        capacity: usize,
    ) -> CachingResolver {
        CachingResolver {
            cache: Mutex::new(HashMap::new()),
            clock,
            lookup,
            ttl,
            capacity: capacity.max(1),
        }
    }

    /// The addresses of `host:port`: an IP literal as is, a name from the cache
    /// while fresh, else looked up (within `timeout`) and remembered.
    fn addresses(
        &self,
        host: &str,
        port: u16,
        timeout: NextTimeout,
    ) -> Result<Vec<SocketAddr>, ureq::Error> {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let key = (bare.to_ascii_lowercase(), port);
        let now = self.clock.now();
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(e) = cache.get(&key) {
                if now.saturating_duration_since(e.resolved_at) < self.ttl {
                    return Ok(e.addrs.clone());
                }
            }
        }
        let addrs = self.look_up(&key.0, port, timeout)?;
        if addrs.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= self.capacity && !cache.contains_key(&key) {
            let ttl = self.ttl;
            cache.retain(|_, e| now.saturating_duration_since(e.resolved_at) < ttl);
            if cache.len() >= self.capacity {
                let oldest = cache
                    .iter()
                    .min_by_key(|(_, e)| e.resolved_at)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    cache.remove(&k);
                }
            }
        }
        cache.insert(
            key,
            Entry {
                addrs: addrs.clone(),
                resolved_at: now,
            },
        );
        Ok(addrs)
    }

    /// One lookup through `self.lookup`, on a helper thread when there is a
    /// timeout (std offers no lookup with a deadline).
    fn look_up(
        &self,
        host: &str,
        port: u16,
        timeout: NextTimeout,
    ) -> Result<Vec<SocketAddr>, ureq::Error> {
        let found = if timeout.after.is_not_happening() {
            (self.lookup)(host, port)
        } else {
            let (tx, rx) = mpsc::sync_channel(1);
            let lookup = Arc::clone(&self.lookup);
            let name = host.to_owned();
            std::thread::Builder::new()
                .name("runtel-resolve".into())
                .spawn(move || {
                    let _ = tx.send(lookup(&name, port));
                })
                .map_err(ureq::Error::Io)?;
            // Waited in slices when the caller may stop the call (see `interrupt`).
            match interrupt::recv_within(&rx, Some(*timeout.after)) {
                Waited::Got(found) => found,
                Waited::Stopped => return Err(crate::tcp::stopped()),
                Waited::TimedOut => return Err(ureq::Error::Timeout(timeout.reason)),
                Waited::Gone => Err(io::Error::other(
                    "the name lookup thread ended without an answer",
                )),
            }
        };
        // A name that does not resolve is "host not found", as ureq reports it
        // when a lookup returns nothing.
        found.map_err(|_| ureq::Error::HostNotFound)
    }

    #[cfg(test)]
    fn cached_names(&self) -> usize {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// The port of `uri`, or its scheme's default.
fn port_of(uri: &Uri) -> Option<u16> {
    uri.port_u16().or_else(|| match uri.scheme_str()? {
        "http" => Some(80),
        "https" => Some(443),
        "socks4" | "socks4a" | "socks5" | "socks5h" => Some(1080),
        _ => None,
    })
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri
            .host()
            .ok_or_else(|| ureq::Error::BadUri(format!("{uri}: no host")))?;
        let port =
            port_of(uri).ok_or_else(|| ureq::Error::BadUri(format!("{uri}: unknown scheme")))?;
        let addrs = self.addresses(host, port, timeout)?;
        let mut result = self.empty();
        for addr in config
            .ip_family()
            .keep_wanted(addrs.into_iter())
            .take(MAX_ADDRS)
        {
            result.push(addr);
        }
        if result.is_empty() {
            Err(ureq::Error::HostNotFound)
        } else {
            Ok(result)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A clock that moves only when told.
    struct ManualClock {
        start: Instant,
        elapsed: Mutex<Duration>,
    }

    impl ManualClock {
        fn advance(&self, by: Duration) {
            *self.elapsed.lock().unwrap() += by;
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> Instant {
            self.start + *self.elapsed.lock().unwrap()
        }
    }

    /// A resolver over a counting fake lookup (every name is 10.0.0.n).
    fn fake(
        ttl: Duration,
        capacity: usize,
    ) -> (CachingResolver, Arc<ManualClock>, Arc<AtomicUsize>) {
        let clock = Arc::new(ManualClock {
            start: Instant::now(),
            elapsed: Mutex::new(Duration::ZERO),
        });
        let count = Arc::new(AtomicUsize::new(0));
        let lookups = Arc::clone(&count);
        let lookup = move |_host: &str, port: u16| {
            let n = lookups.fetch_add(1, Ordering::SeqCst) as u8;
            Ok(vec![SocketAddr::from(([10, 0, 0, n], port))])
        };
        let r = CachingResolver::with_parts(clock.clone(), Arc::new(lookup), ttl, capacity);
        (r, clock, count)
    }

    fn no_timeout() -> NextTimeout {
        NextTimeout {
            after: ureq::unversioned::transport::time::Duration::NotHappening,
            reason: ureq::Timeout::Resolve,
            ..NextTimeout::default()
        }
    }

    fn with_timeout() -> NextTimeout {
        NextTimeout {
            after: ureq::unversioned::transport::time::Duration::Exact(Duration::from_secs(5)),
            reason: ureq::Timeout::Resolve,
            ..NextTimeout::default()
        }
    }

    fn resolve(r: &CachingResolver, url: &str) -> Vec<SocketAddr> {
        let uri: Uri = url.parse().unwrap();
        r.resolve(&uri, &Config::default(), with_timeout())
            .unwrap()
            .iter()
            .copied()
            .collect()
    }

    #[test]
    fn ip_literals_need_no_lookup() {
        let (r, _, count) = fake(CACHE_TTL, 4);
        assert_eq!(
            resolve(&r, "http://127.0.0.1:8080/api"),
            vec![SocketAddr::from(([127, 0, 0, 1], 8080))]
        );
        assert_eq!(
            resolve(&r, "https://[::1]/api"),
            vec!["[::1]:443".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(count.load(Ordering::SeqCst), 0);
        assert_eq!(r.cached_names(), 0);
    }

    #[test]
    fn a_name_is_cached_within_its_time_and_looked_up_again_after() {
        let (r, clock, count) = fake(Duration::from_secs(30), 4);
        let first = resolve(&r, "http://pbx.example:8080/");
        assert_eq!(count.load(Ordering::SeqCst), 1);
        clock.advance(Duration::from_secs(29));
        assert_eq!(resolve(&r, "http://PBX.example:8080/x"), first);
        assert_eq!(
            count.load(Ordering::SeqCst),
            1,
            "a cache hit looks nothing up"
        );
        clock.advance(Duration::from_secs(1));
        let again = resolve(&r, "http://pbx.example:8080/");
        assert_eq!(count.load(Ordering::SeqCst), 2, "expired: looked up again");
        assert_ne!(again, first, "the new answer is used");
        // Another port is another entry.
        resolve(&r, "http://pbx.example:9090/");
        assert_eq!(count.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn the_cache_is_bounded() {
        let (r, clock, count) = fake(Duration::from_secs(30), 3);
        for n in 0..10 {
            resolve(&r, &format!("http://host{n}.example/"));
            clock.advance(Duration::from_millis(10));
            assert!(r.cached_names() <= 3);
        }
        assert_eq!(count.load(Ordering::SeqCst), 10);
        // The newest stayed; the oldest went.
        resolve(&r, "http://host9.example/");
        assert_eq!(count.load(Ordering::SeqCst), 10);
        resolve(&r, "http://host0.example/");
        assert_eq!(count.load(Ordering::SeqCst), 11);
    }

    #[test]
    fn without_a_timeout_the_lookup_runs_inline_and_failures_are_not_cached() {
        let fails = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&fails);
        let lookup = move |_: &str, _: u16| -> io::Result<Vec<SocketAddr>> {
            seen.fetch_add(1, Ordering::SeqCst);
            Err(io::Error::other("no such name"))
        };
        let r = CachingResolver::with_parts(Arc::new(SystemClock), Arc::new(lookup), CACHE_TTL, 4);
        let uri: Uri = "http://nowhere.invalid/".parse().unwrap();
        for _ in 0..2 {
            let e = r
                .resolve(&uri, &Config::default(), no_timeout())
                .unwrap_err();
            assert!(matches!(e, ureq::Error::HostNotFound), "{e:?}");
        }
        assert_eq!(fails.load(Ordering::SeqCst), 2);
    }

    /// A resolver whose lookups take `delay`.
    fn slow_resolver(delay: Duration) -> CachingResolver {
        let lookup = move |_: &str, port: u16| -> io::Result<Vec<SocketAddr>> {
            std::thread::sleep(delay);
            Ok(vec![SocketAddr::from(([10, 0, 0, 1], port))])
        };
        CachingResolver::with_parts(Arc::new(SystemClock), Arc::new(lookup), CACHE_TTL, 4)
    }

    /// A resolve timeout of `after`.
    fn resolve_within(after: Duration) -> NextTimeout {
        NextTimeout {
            after: ureq::unversioned::transport::time::Duration::Exact(after),
            reason: ureq::Timeout::Resolve,
            ..NextTimeout::default()
        }
    }

    #[test]
    fn a_slow_lookup_times_out() {
        let r = slow_resolver(Duration::from_millis(500));
        let uri: Uri = "http://slow.example/".parse().unwrap();
        let timeout = resolve_within(Duration::from_millis(20));
        let e = r.resolve(&uri, &Config::default(), timeout).unwrap_err();
        assert!(
            matches!(e, ureq::Error::Timeout(ureq::Timeout::Resolve)),
            "{e:?}"
        );
    }

    #[test]
    fn a_slow_lookup_is_given_up_when_the_caller_stops() {
        let r = slow_resolver(Duration::from_secs(3));
        let uri: Uri = "http://slow.example/".parse().unwrap();
        let timeout = resolve_within(Duration::from_secs(10));
        let started = std::time::Instant::now();
        let e = crate::interrupt::interruptible(
            move || started.elapsed() > Duration::from_millis(100),
            || r.resolve(&uri, &Config::default(), timeout).unwrap_err(),
        );
        assert!(
            matches!(&e, ureq::Error::Io(io) if io.to_string().contains("interrupted")),
            "{e:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn localhost_resolves_through_the_system() {
        let r = CachingResolver::default();
        let addrs = resolve(&r, "http://localhost:8080/");
        assert!(addrs
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 8080));
        assert_eq!(r.cached_names(), 1);
    }
}
