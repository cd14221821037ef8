//! # runtel-protocol
//!
//! The sans-IO core of the Runtel PBX API v2 SDK. It builds request envelopes and
//! HTTP request descriptions, parses answers into a [`Response`] or a typed
//! [`Error`], reads the typed auth body ([`AuthInfo`]) and keeps the session state
//! ([`Session`], [`LoginGuard`]).
//!
//! Scope: this crate opens no socket and reads no clock. Whoever owns the transport
//! (the blocking `runtel-client`, an async runtime, a test harness) sends the
//! [`HttpRequest`] it gets from here, hands back the status, the `Date` header and
//! the body bytes, and passes `now` wherever time matters. That keeps every rule of
//! the protocol testable without a network and reusable with any transport; see
//! `examples/custom_transport.rs`.
//!
//! ```
//! use runtel_protocol::{Call, Endpoint, Expected, Limits, parse_response};
//! use serde_json::json;
//!
//! let endpoint = Endpoint::parse("https://pbx.example")?;
//! let call = Call::new("DomainUser", "list", json!({"domain_id": 3}))?.limit(100);
//! let request = call.to_http(&endpoint, "42".into(), None);
//! assert_eq!(request.url, "https://pbx.example/api/");
//!
//! let body = br#"{"action":"list","action_id":"42","obj":"DomainUser","code":200,
//!                 "notifies":[],"list":[{"id":1}],"total_count":1}"#;
//! let response = parse_response(Expected::from(&request), 200, body, &Limits::default())?;
//! assert_eq!(response.total_count(), Some(1));
//! # Ok::<(), runtel_protocol::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(missing_debug_implementations)]

pub mod catalog;
mod datetime;
mod duration;
mod error;
mod extra;
mod filter;
mod page;
mod policy;
mod redact;
mod request;
mod response;
mod scan;
mod secret;
mod session;
mod types;
mod value_reader;

pub use catalog::{edit_distance, ObjectSpec};
pub use datetime::{DateTimeParseError, ServerDateTime};
pub use duration::{duration_from_secs, MAX_SETTING_DURATION};
pub use error::{
    ApiErrorInfo, Error, ErrorKind, ProtocolErrorInfo, ProtocolErrorReason, Result, TlsCause,
    TransportCause, TransportErrorInfo,
};
pub use filter::{field, Condition, FieldRef, Filter, Op};
pub use page::{
    check_list_answer, is_integer_as_written, parse_page, record_id_in, scan_list_records,
    ListCheck, Page,
};
pub use policy::{
    is_token_rejection, CallPolicy, CallStep, LoginAttempt, PolicyOptions, RawAnswer, RetryPolicy,
    TransportFailure,
};
pub use redact::Redactor;
pub use request::{ActionIdGenerator, Call, Endpoint, HostIdentity, HttpRequest, ServerIdentity};
pub use response::{
    classify_auth_error, is_success_envelope, parse_response, Expected, Limits, Response,
};
pub use scan::RecordSpan;
pub use secret::{Secret, MASK};
pub use session::{
    parse_http_date, GuardDecision, LoginGuard, LoginOutcome, Session, SessionStatus,
};
pub use types::{
    AuthInfo, BillingOptions, CatalogRecord, DomainAgentStatus, DomainCdr, DomainQueueCdr,
    DomainUser, QueueLogFields, Role, SoftwareVersion, User,
};

/// The version of this crate (and of the SDK).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Re-exported so callers need not depend on serde_json to build params.
pub use serde_json;
