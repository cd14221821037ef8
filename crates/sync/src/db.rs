//! Where records go: a database opened from a target (a SQLite file or a
//! `postgres://` URL), behind one small interface the sync loop uses.
//!
//! Each backend keeps the same promises: a table is created from the catalog or
//! migrated by adding the columns it lacks (never dropping or retyping one);
//! the rows of a page and the checkpoint that follows them are written in one
//! transaction, so after any crash the table and its checkpoint agree.

use crate::schema::{ColumnType, Row, Table};
use crate::Error;

pub(crate) mod pg;
pub(crate) mod sqlite;

/// The checkpoint table's name, in the same database as the data.
pub const STATE_TABLE: &str = "runtel_sync_state";

/// Which checkpoint: one per server, domain and object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateKey {
    /// The server's API URL.
    pub server: String,
    /// `own` (the login's PBX), a domain id, `all`, or `-` (platform objects).
    pub domain: String,
    /// The object's name.
    pub object: String,
}

/// Where a sync of one object stands, as committed with its last page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// While a run is under way: the lower bound of its time filter.
    pub run_from: Option<i64>,
    /// While a run is under way: the last key committed (pages go by key).
    pub after_key: Option<i64>,
    /// Logs: where the next run starts (the newest time seen, less the overlap).
    pub next_from: Option<i64>,
    /// Logs: the newest time seen so far.
    pub max_time: Option<i64>,
    /// Unix seconds of the last commit.
    pub updated_at: i64,
}

impl Checkpoint {
    /// True while a run was interrupted after some of its pages.
    pub fn in_run(&self) -> bool {
        self.after_key.is_some()
    }
}

/// What a page did to the table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Records the table did not have.
    pub new: u64,
    /// Records it had with other content, now replaced.
    pub updated: u64,
    /// Records it had exactly so (read again in the overlap, or not changed).
    pub unchanged: u64,
}

impl Counts {
    /// Adds `other` to these counts.
    pub fn add(&mut self, other: Counts) {
        self.new += other.new;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
    }
}

/// What a database does for the sync.
pub(crate) trait Backend: Send {
    /// Creates the checkpoint table and `table` if missing, or adds the columns
    /// `table` lacks; refuses a table whose columns or key differ in type.
    fn prepare(&mut self, table: &Table) -> Result<(), Error>;
    /// The committed checkpoint of `key`, if any.
    fn checkpoint(&mut self, key: &StateKey) -> Result<Option<Checkpoint>, Error>;
    /// In one transaction: upserts `rows` (only those new or changed are
    /// written) and sets the checkpoint of `key` to `cp`.
    fn commit(
        &mut self,
        table: &Table,
        rows: &[Row],
        key: &StateKey,
        cp: &Checkpoint,
    ) -> Result<Counts, Error>;
    /// A short description for messages, with no password.
    fn describe(&self) -> String;
}

/// A database to sync into.
pub struct Database {
    pub(crate) backend: Box<dyn Backend>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("target", &self.backend.describe())
            .finish()
    }
}

impl Database {
    /// Opens `target`: a `postgres://` or `postgresql://` URL (libpq's key=value
    /// form is not taken), a `sqlite:PATH` or `sqlite://PATH` URL, or a file path
    /// (SQLite; created if missing). Fails with [`Error::Database`] when the
    /// database cannot be reached or refuses the credentials, before anything is
    /// written.
    pub fn open(target: &str) -> Result<Database, Error> {
        let backend: Box<dyn Backend> =
            if target.starts_with("postgres://") || target.starts_with("postgresql://") {
                Box::new(pg::Pg::connect(target)?)
            } else {
                let path = target
                    .strip_prefix("sqlite://")
                    .or_else(|| target.strip_prefix("sqlite:"))
                    .unwrap_or(target);
                if path.is_empty() {
                    return Err(Error::InvalidInput("the SQLite file name is empty".into()));
                }
                Box::new(sqlite::Sqlite::open(std::path::Path::new(path))?)
            };
        Ok(Database { backend })
    }

    /// The target for messages (a PostgreSQL URL without its password).
    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    /// The committed checkpoint of `key`, if any (for tools that show progress).
    pub fn checkpoint(&mut self, key: &StateKey) -> Result<Option<Checkpoint>, Error> {
        self.backend.checkpoint(key)
    }
}

/// `target` with the password of a URL (`scheme://user:PASSWORD@host`) replaced by
/// `***`, for messages and `Debug`.
pub fn redact_target(target: &str) -> String {
    let Some((scheme, rest)) = target.split_once("://") else {
        return target.to_owned();
    };
    // The credentials end at the last '@' before the path.
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return target.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => target.to_owned(),
    }
}

/// Unix seconds now.
pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `name` quoted as an SQL identifier (both databases take double quotes).
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `CREATE TABLE` for `table`: every column with its type in this database
/// (`sql_type`), key columns `NOT NULL`, the catalog's primary key.
pub(crate) fn create_table_sql(table: &Table, sql_type: fn(ColumnType) -> &'static str) -> String {
    let cols: Vec<String> = table
        .all_columns()
        .iter()
        .map(|(c, ty)| {
            let not_null = if table.primary_key.contains(c) {
                " NOT NULL"
            } else {
                ""
            };
            format!("{} {}{not_null}", quote(c), sql_type(*ty))
        })
        .collect();
    let pk: Vec<String> = table.primary_key.iter().map(|c| quote(c)).collect();
    format!(
        "CREATE TABLE {} ({}, PRIMARY KEY ({}))",
        quote(&table.name),
        cols.join(", "),
        pk.join(", ")
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_in_targets_are_masked() {
        let r = super::redact_target;
        assert_eq!(r("postgres://u:p@ss@h:5/db"), "postgres://u:***@h:5/db");
        assert_eq!(r("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(r("cdrs.sqlite"), "cdrs.sqlite");
        assert_eq!(r("postgresql://u:x@h/d@b"), "postgresql://u:***@h/d@b");
    }
}
