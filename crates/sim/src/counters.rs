//! Counters that tests read to assert what the server saw.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde_json::{json, Value};

/// What the simulator has seen since it started (or since the last reset).
#[derive(Debug, Default)]
pub struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) connections: AtomicU64,
    pub(crate) auth_attempts: AtomicU64,
    pub(crate) auth_failures: AtomicU64,
    pub(crate) concurrent_auths: AtomicU64,
    pub(crate) max_concurrent_auths: AtomicU64,
    pub(crate) faults_applied: AtomicU64,
    pub(crate) by_action: Mutex<BTreeMap<String, u64>>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CounterSnapshot {
    /// HTTP requests to `/api/`.
    pub requests: u64,
    /// TCP (or TLS) connections accepted.
    pub connections: u64,
    /// Connections open now (a gauge, not reset): what a client holds, pooled
    /// or in use. A client that leaks connections makes it grow.
    pub open_connections: u64,
    /// `auth` calls received.
    pub auth_attempts: u64,
    /// `auth` calls refused (wrong login or password).
    pub auth_failures: u64,
    /// The most `auth` calls that were in progress at the same time.
    pub max_concurrent_auths: u64,
    /// Answers that had a fault applied.
    pub faults_applied: u64,
    /// Calls per action name (`list`, `append`, ...), faults included.
    pub by_action: BTreeMap<String, u64>,
}

impl CounterSnapshot {
    /// Calls of one action.
    pub fn action(&self, action: &str) -> u64 {
        self.by_action.get(action).copied().unwrap_or(0)
    }

    /// As JSON, for the control endpoint.
    pub fn to_json(&self) -> Value {
        json!({
            "requests": self.requests,
            "connections": self.connections,
            "open_connections": self.open_connections,
            "auth_attempts": self.auth_attempts,
            "auth_failures": self.auth_failures,
            "max_concurrent_auths": self.max_concurrent_auths,
            "faults_applied": self.faults_applied,
            "by_action": self.by_action,
        })
    }
}

impl Counters {
    pub(crate) fn count_action(&self, action: &str) {
        let mut m = self.by_action.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry(action.to_owned()).or_default() += 1;
    }

    pub(crate) fn snapshot(&self) -> CounterSnapshot {
        let get = |a: &AtomicU64| a.load(Ordering::SeqCst);
        CounterSnapshot {
            requests: get(&self.requests),
            connections: get(&self.connections),
            open_connections: 0,
            auth_attempts: get(&self.auth_attempts),
            auth_failures: get(&self.auth_failures),
            max_concurrent_auths: get(&self.max_concurrent_auths),
            faults_applied: get(&self.faults_applied),
            by_action: self
                .by_action
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    pub(crate) fn reset(&self) {
        for a in [
            &self.requests,
            &self.connections,
            &self.auth_attempts,
            &self.auth_failures,
            &self.max_concurrent_auths,
            &self.faults_applied,
        ] {
            a.store(0, Ordering::SeqCst);
        }
        self.by_action
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Marks an auth in progress until the guard drops, tracking the maximum overlap.
    pub(crate) fn auth_in_progress(&self) -> AuthInProgress<'_> {
        let now = self.concurrent_auths.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_concurrent_auths.fetch_max(now, Ordering::SeqCst);
        AuthInProgress(self)
    }
}

pub(crate) struct AuthInProgress<'a>(&'a Counters);

impl Drop for AuthInProgress<'_> {
    fn drop(&mut self) {
        self.0.concurrent_auths.fetch_sub(1, Ordering::SeqCst);
    }
}
