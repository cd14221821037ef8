//! # runtel-sync
//!
//! Copies list objects of the Runtel PBX API v2 (call history above all) into
//! a database you can query, and keeps them current: SQLite (built in, one
//! file) or PostgreSQL. This is what `runtel sync` runs.
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use runtel_client::Client;
//! use runtel_sync::{Database, Quiet, SyncOptions, Syncer};
//!
//! let client = Client::builder("https://pbx.example")
//!     .credentials("admin@pbx.example", "secret")
//!     .build()?;
//! let db = Database::open("cdrs.sqlite")?;              // or "postgres://user:pw@host/db"
//! let mut sync = Syncer::new(&client, db, &["DomainCDR"], SyncOptions::default())?;
//! let summary = sync.run_once(&mut Quiet, &AtomicBool::new(false))?;
//! println!("{}", summary.line());                       // 1200 new, 0 updated, ...
//! # Ok::<(), runtel_sync::Error>(())
//! ```
//!
//! What it promises:
//! - one table per object (`DomainCDR` -> `domain_cdr`): the catalog's fields
//!   as typed columns, the whole record as JSON in `_json` (JSONB on
//!   PostgreSQL), the primary key from the catalog's key field (with
//!   `domain_id` for objects that have one, so several PBXs share a table);
//! - a checkpoint per (server, domain, object) in table `runtel_sync_state` of
//!   the same database, committed in the same transaction as each page's rows:
//!   a crash at any moment loses no record and duplicates none, and the next
//!   run continues after the last committed page;
//! - log objects (those with a time field, such as `DomainCDR`'s `dt`) are read
//!   from where the last run ended, less an overlap window, so records written
//!   late are picked up; re-read records are counted unchanged. Configuration
//!   objects are read whole every run and upserted by key (records deleted on
//!   the server stay in the table);
//! - each page is checked against the catalog before it is written: a record
//!   with a wrong type, no key, or out of key order fails the run with a
//!   `protocol` error naming the record, and that page is not committed;
//! - an existing table is migrated by adding the columns it lacks (filled from
//!   `_json`); a column of another type or another primary key is refused,
//!   and nothing is dropped.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(missing_debug_implementations)]

mod db;
mod engine;
mod schema;

pub use db::{redact_target, Checkpoint, Counts, Database, StateKey, STATE_TABLE};
pub use engine::{
    Domains, ObjectSummary, Observer, PageReport, Quiet, Summary, SyncOptions, Syncer,
};
pub use schema::{table_name, ColumnType, Table};

/// Why a sync failed. Every committed page stays, with its checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From the server or the client: transport, timeout, api, auth, and
    /// `protocol` for a page that failed the checks (naming the record).
    #[error(transparent)]
    Client(#[from] runtel_client::Error),
    /// The database could not be reached, refused the login, or failed a
    /// statement (the text never holds the password).
    #[error("database: {0}")]
    Database(String),
    /// A table exists with columns or a key the sync cannot write into.
    #[error("table: {0}")]
    Schema(String),
    /// Bad arguments: an unknown object, a page size of 0, an OR filter.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

impl Error {
    /// True for errors that waiting cannot heal (bad arguments, a table of
    /// another shape, refused credentials, a local login lock-out): `follow`
    /// stops on them instead of retrying.
    pub fn is_permanent(&self) -> bool {
        use runtel_client::ErrorKind as K;
        match self {
            Error::Client(e) => matches!(
                e.kind(),
                K::InvalidInput | K::Auth | K::AuthLockout | K::NotAuthenticated
            ),
            Error::Database(_) => false,
            Error::Schema(_) | Error::InvalidInput(_) => true,
        }
    }
}
