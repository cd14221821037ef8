//! # runtel-client
//!
//! The blocking client for the Runtel PBX API v2, on [ureq](https://docs.rs/ureq)
//! and [`runtel_protocol`]. This is the behaviour the C library and the Python
//! module expose unchanged.
//!
//! ```no_run
//! use runtel_client::Client;
//! use serde_json::json;
//!
//! let client = Client::builder("https://pbx.example")
//!     .credentials("admin@pbx.example", "secret")
//!     .build()?;
//! let users = client.call("User", "list", json!({}))?;   // logs in lazily
//! for cdr in client.records("DomainCDR", json!({}), 1000)? {
//!     let cdr = cdr?;
//!     println!("{} -> {}", cdr["src"], cdr["dst"]);
//! }
//! client.logout()?;
//! # Ok::<(), runtel_client::Error>(())
//! ```
//!
//! What the client promises:
//! - finite timeouts on every exchange, TLS verification on unless you opt out;
//! - a refused `auth` is never retried; after `max_auth_failures` failed logins in a
//!   row for a server (scheme, address, port; counted process-wide, and across
//!   processes with a [`GuardStore`]), logins are refused locally for a cool-down.
//!   A login whose outcome was lost counts as failed, and no more logins are in
//!   flight at once than could fail without reaching the limit;
//! - `list`, `list_with_detail` and `get` are retried on connection errors and
//!   502/503/504 with jittered backoff; writes are never retried;
//! - with stored credentials, an expired or rejected token causes exactly one
//!   re-login shared by all threads, then one replay of the call;
//! - passwords and tokens never appear in `Debug`, `Display`, errors or logs, also
//!   when a server echoes them back;
//! - a list read with [`Client::records`] (or typed, with [`Client::records_as`])
//!   loses nothing to a server that caps pages or sends a stale `total_count`,
//!   and stops on one that ignores `offset`;
//! - a client used before `fork()` keeps working in the child (see [`Client`]);
//! - a call can be stopped while it waits, within 50 ms, by a check the caller
//!   runs on the calling thread ([`interruptible`]; Python's Ctrl-C uses it).
//!
//! # Logging
//!
//! Every call is logged through the [`log`](https://docs.rs/log) facade with its
//! `action_id`, object, action, outcome and latency (`debug` on success, `info` on
//! failure), never with a body, password or token. One caution: ureq's protocol
//! layer (target `ureq_proto`) dumps raw wire bytes at `trace` level, which
//! includes the `Authorization` header and the login body. Keep that target at
//! `debug` or below (`RUST_LOG=trace,ureq_proto=debug`), or drop the records for
//! which [`log_record_may_hold_secrets`] is true, as the C, Python and CLI front
//! ends do.
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![warn(missing_debug_implementations)]

pub mod body;
mod builder;
mod client;
mod exchange;
mod fork;
mod guard;
mod interrupt;
mod options;
mod prefetch;
mod records;
mod resolver;
pub mod support;
mod tcp;
mod transport;
mod typed;

pub use builder::{ClientBuilder, RetryPolicy};
pub use client::{Client, Decoder, PageDecoder, ResponseDecoder};
pub use exchange::{Exchange, ExchangeObserver};
pub use fork::{after_fork_in_child, process_marker, ProcessMarker};
pub use guard::{server_identity, shared_guard, GuardStore, LockedGuardState, Permit, SharedGuard};
pub use interrupt::{forked_during_call, interruptible};
pub use options::ClientOptions;
pub use records::{
    AheadWait, PageStep, PagedRecord, Pager, RecordId, Records, RecordsPage, ValuePageDecoder,
};
pub use runtel_protocol::{catalog, edit_distance, field, Condition, Filter, ObjectSpec, Op};
pub use runtel_protocol::{duration_from_secs, is_success_envelope, MAX_SETTING_DURATION};
pub use runtel_protocol::{
    ApiErrorInfo, AuthInfo, Call, Endpoint, Error, ErrorKind, Expected, HttpRequest, Limits,
    ListCheck, LoginGuard, LoginOutcome, Page, ProtocolErrorInfo, ProtocolErrorReason, RecordSpan,
    Redactor, Response, Secret, ServerDateTime, ServerIdentity, SessionStatus, TlsCause,
    TransportCause, TransportErrorInfo,
};
/// Typed records of the documented objects, to read answers into with
/// [`Response::body_as`] or `serde_json::from_value`.
pub use runtel_protocol::{
    BillingOptions, CatalogRecord, DomainAgentStatus, DomainCdr, DomainQueueCdr, DomainUser,
    QueueLogFields, Role, SoftwareVersion, User,
};
pub use serde_json;
pub use typed::Keyed;

/// True for log records that may carry a password or token: ureq's raw wire
/// dumps (`trace` level under the `ureq_proto` target). A logger that forwards
/// records to files or other systems should drop these.
pub fn log_record_may_hold_secrets(metadata: &log::Metadata<'_>) -> bool {
    metadata.level() == log::Level::Trace && metadata.target().starts_with("ureq_proto")
}
