//! # runtel-async
//!
//! The async client for the Runtel PBX API v2, on [tokio](https://tokio.rs):
//! the same surface and the same reliability contract as the blocking
//! [`runtel_client::Client`], for services that must not block their runtime.
//!
//! ```no_run
//! use futures_util::TryStreamExt;
//! use runtel_async::AsyncClient;
//! use serde_json::json;
//!
//! # async fn run() -> Result<(), runtel_async::Error> {
//! let client = AsyncClient::builder("https://pbx.example")
//!     .credentials("admin@pbx.example", "secret")
//!     .build()?;
//! let users = client.call("User", "list", json!({})).await?;   // logs in lazily
//! let mut cdrs = client.records("DomainCDR", json!({}), 1000)?;
//! while let Some(cdr) = cdrs.try_next().await? {
//!     println!("{} -> {}", cdr["src"], cdr["dst"]);
//! }
//! client.logout().await?;
//! # Ok(()) }
//! ```
//!
//! # No rule of its own
//!
//! Every decision is the protocol crate's sans-IO policy
//! ([`runtel_protocol::CallPolicy`] for a call, [`runtel_protocol::LoginAttempt`]
//! for a login): this crate only carries out its steps (log in, send, sleep,
//! done) with async I/O. The rules around the policy are shared with the
//! blocking client, not copied: the body rules (size limit, gzip inflated by
//! the client with a bound on the ratio, TLS error names) come from
//! [`runtel_client::body`], paging from [`runtel_client::Pager`], the login
//! guard from [`runtel_client::shared_guard`] — so a blocking and an async
//! client of one server in one process count failed logins together — and the
//! log lines from [`runtel_client::support`]. Settings are the same
//! [`ClientOptions`], with the same defaults.
//!
//! What this crate adds: single-flight logins across tasks (a tokio mutex; a
//! login runs in a task of its own, so cancelling a caller cannot cut it off
//! halfway), waiting for the login guard's turn without blocking a runtime
//! thread, and cancellation safety (see [`AsyncClient`]).
//!
//! # Why reqwest
//!
//! The HTTP client is [reqwest](https://docs.rs/reqwest) without its default
//! features, on hyper, with rustls configured here (the `ring` provider the
//! blocking client's ureq already brings, and the same web roots). A bare
//! hyper-util client would need us to write what reqwest already does well and
//! is widely used for: HTTP and SOCKS proxies (a `ClientOptions` setting),
//! connection pooling with an idle timeout, and connect timeouts. reqwest's own
//! gzip decoding stays off: the client inflates answers itself, to bound a
//! decompression bomb as the blocking client does.
//!
//! # Logging
//!
//! As in the blocking client: every call is logged through the `log` facade
//! with its `action_id`, object, action, outcome and latency, never a body,
//! password or token. hyper and reqwest log at `trace` without bodies or
//! headers.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(missing_debug_implementations)]

mod client;
mod records;
mod tls;
mod transport;

pub use client::{AsyncClient, AsyncClientBuilder};
pub use records::AsyncRecords;
pub use runtel_client::{ClientOptions, Decoder, PageStep, Pager, ResponseDecoder};
pub use runtel_protocol::{
    AuthInfo, Call, Error, ErrorKind, LoginGuard, Response, RetryPolicy, SessionStatus,
};
