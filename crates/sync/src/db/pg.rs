//! PostgreSQL, through the synchronous client of rust-postgres (`postgres`).
//!
//! Why that driver: it is the most used and best kept PostgreSQL client in
//! Rust (the same code as `tokio-postgres`, which sqlx-free stacks build on),
//! speaks the binary and COPY protocols, and is blocking like `runtel-client`,
//! so the sync loop needs no async runtime of its own. The connection is
//! plain TCP or a Unix socket (`NoTls`): point it at a local server, a socket,
//! or a TLS tunnel (see the README).
//!
//! A page is written by `COPY` into a temporary table, then one
//! `INSERT ... SELECT ... ON CONFLICT DO UPDATE` into the real one, then the
//! checkpoint, all in one transaction.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use postgres::{Client, Config, NoTls};

use super::{
    create_table_sql, now_unix, quote, Backend, Checkpoint, Counts, StateKey, STATE_TABLE,
};
use crate::schema::{Cell, ColumnType, Row, Table};
use crate::Error;

/// A PostgreSQL database.
pub(crate) struct Pg {
    client: Client,
    shown: String,
}

impl Pg {
    pub(crate) fn connect(url: &str) -> Result<Pg, Error> {
        let mut config: Config = url.parse().map_err(|e| {
            // The parser's message never repeats the URL (which may hold a password).
            Error::InvalidInput(format!("the PostgreSQL URL cannot be read: {e}"))
        })?;
        // As libpq does: a password kept out of the URL (and so out of `ps`).
        if config.get_password().is_none() {
            if let Ok(pw) = std::env::var("PGPASSWORD") {
                config.password(pw);
            }
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let shown = describe(&config);
        let client = config
            .connect(NoTls)
            .map_err(|e| Error::Database(format!("{shown}: cannot connect: {}", pg_text(&e))))?;
        Ok(Pg { client, shown })
    }

    fn sql_type(ty: ColumnType) -> &'static str {
        match ty {
            ColumnType::Int => "bigint",
            ColumnType::Text => "text",
            ColumnType::Bool => "boolean",
            ColumnType::Json => "jsonb",
        }
    }
}

/// The error with its server message (the `Display` of `postgres::Error` alone
/// can be just "db error").
fn pg_text(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut s = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                s.push_str(&format!(": {c}"));
                cause = c.source();
            }
            s
        }
    }
}

/// `postgres://user@host:port/db`, never with the password.
fn describe(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let db = config.get_dbname().unwrap_or("");
    format!("postgres://{user}{host}:{port}/{db}")
}

/// Appends `s` in COPY's text format (backslash escapes for the delimiter,
/// line ends and the backslash itself).
fn copy_text(out: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

/// Bytes of COPY text sent at once.
const COPY_CHUNK: usize = 1 << 20;

/// One row in COPY's text format, with its line end.
fn copy_line(out: &mut Vec<u8>, row: &Row) {
    for (i, cell) in row.cells.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match cell {
            Cell::Null => out.extend_from_slice(b"\\N"),
            Cell::Int(v) => {
                let _ = write!(out, "{v}");
            }
            Cell::Bool(b) => out.push(if *b { b't' } else { b'f' }),
            Cell::Text(s) | Cell::Json(s) => copy_text(out, s),
        }
    }
    out.push(b'\n');
}

impl Backend for Pg {
    fn prepare(&mut self, table: &Table) -> Result<(), Error> {
        let shown = self.shown.clone();
        let err = |e: postgres::Error| Error::Database(format!("{shown}: {}", pg_text(&e)));
        let mut tx = self.client.transaction().map_err(err)?;
        // Two syncs creating the same tables at once would collide in the
        // catalog (CREATE ... IF NOT EXISTS is not atomic): one at a time.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('runtel_sync schema'))",
            &[],
        )
        .map_err(err)?;
        tx.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {STATE_TABLE} (
               server text NOT NULL, domain text NOT NULL, object text NOT NULL,
               run_from bigint, after_key bigint, next_from bigint, max_time bigint,
               updated_at bigint NOT NULL,
               PRIMARY KEY (server, domain, object))"
        ))
        .map_err(err)?;
        let have: Vec<(String, String)> = tx
            .query(
                "SELECT column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1",
                &[&table.name],
            )
            .map_err(err)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let name = quote(&table.name);
        if have.is_empty() {
            tx.batch_execute(&create_table_sql(table, Self::sql_type))
                .map_err(err)?;
        } else {
            let pk_have: Vec<String> = tx
                .query(
                    "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a \
                     ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
                     WHERE i.indrelid = (quote_ident(current_schema()) || '.' || quote_ident($1))::regclass \
                     AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)",
                    &[&table.name],
                )
                .map_err(err)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            if pk_have != table.primary_key {
                return Err(Error::Schema(format!(
                    "{shown}: table {} has the primary key ({}), the sync needs ({}); rename \
                     the table or sync into another database",
                    table.name,
                    pk_have.join(", "),
                    table.primary_key.join(", ")
                )));
            }
            let has_json = have.iter().any(|h| h.0 == "_json");
            for (c, ty) in table.all_columns() {
                let want = Self::sql_type(ty);
                match have.iter().find(|h| h.0 == c) {
                    Some(h) if h.1 == want => {}
                    Some(h) => {
                        return Err(Error::Schema(format!(
                            "{shown}: column {c} of table {} is {}, the sync writes {want} \
                             there; nothing was changed (no column is ever dropped or retyped)",
                            table.name, h.1
                        )))
                    }
                    None => {
                        log::info!("{shown}: adding column {c} to table {}", table.name);
                        tx.batch_execute(&format!(
                            "ALTER TABLE {name} ADD COLUMN {} {want}",
                            quote(c)
                        ))
                        .map_err(err)?;
                        if has_json && !c.starts_with('_') {
                            // Rows synced before the column existed: from their JSON.
                            let expr = match ty {
                                ColumnType::Json => "\"_json\" -> $1".to_owned(),
                                _ => format!("(\"_json\" ->> $1)::{want}"),
                            };
                            tx.execute(&format!("UPDATE {name} SET {} = {expr}", quote(c)), &[&c])
                                .map_err(err)?;
                        }
                    }
                }
            }
        }
        tx.commit().map_err(err)
    }

    fn checkpoint(&mut self, key: &StateKey) -> Result<Option<Checkpoint>, Error> {
        let shown = self.shown.clone();
        let err = |e: postgres::Error| Error::Database(format!("{shown}: {}", pg_text(&e)));
        let exists = self
            .client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&STATE_TABLE])
            .map_err(err)?
            .get::<_, bool>(0);
        if !exists {
            return Ok(None);
        }
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT run_from, after_key, next_from, max_time, updated_at FROM \
                     {STATE_TABLE} WHERE server = $1 AND domain = $2 AND object = $3"
                ),
                &[&key.server, &key.domain, &key.object],
            )
            .map_err(err)?;
        Ok(rows.first().map(|r| Checkpoint {
            run_from: r.get(0),
            after_key: r.get(1),
            next_from: r.get(2),
            max_time: r.get(3),
            updated_at: r.get(4),
        }))
    }

    fn commit(
        &mut self,
        table: &Table,
        rows: &[Row],
        key: &StateKey,
        cp: &Checkpoint,
    ) -> Result<Counts, Error> {
        let shown = self.shown.clone();
        let err = |e: postgres::Error| Error::Database(format!("{shown}: {}", pg_text(&e)));
        let name = quote(&table.name);
        let cols = table.all_columns();
        let names: Vec<String> = cols.iter().map(|(c, _)| quote(c)).collect();
        let mut counts = Counts::default();
        let mut tx = self.client.transaction().map_err(err)?;
        // Page writes into one table take turns: this page's check of what the
        // table holds, then its COPY of the rows found new, must not interleave
        // with another sync's (a unique violation, or a row counted new twice).
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))",
            &[&format!("runtel_sync table {}", table.name)],
        )
        .map_err(err)?;
        // What the table holds of this page already: a range scan per domain (a
        // page's keys ascend).
        let first = rows.first().map_or(0, |r| r.key);
        let last = rows.last().map_or(0, |r| r.key);
        let key_col = quote(table.spec.key);
        let found = if rows.is_empty() {
            Vec::new()
        } else if table.keyed_by_domain() {
            let mut domains: Vec<i64> = rows.iter().map(|r| r.domain.unwrap_or(0)).collect();
            domains.sort_unstable();
            domains.dedup();
            tx.query(
                &format!(
                    "SELECT \"domain_id\", {key_col}, \"_hash\" FROM {name} \
                     WHERE \"domain_id\" = ANY($1) AND {key_col} BETWEEN $2 AND $3"
                ),
                &[&domains, &first, &last],
            )
            .map_err(err)?
        } else {
            tx.query(
                &format!(
                    "SELECT 0::bigint, {key_col}, \"_hash\" FROM {name} \
                     WHERE {key_col} BETWEEN $1 AND $2"
                ),
                &[&first, &last],
            )
            .map_err(err)?
        };
        let old: HashMap<(i64, i64), Option<i64>> = found
            .iter()
            .map(|r| ((r.get(0), r.get(1)), r.get(2)))
            .collect();
        let mut to_write = Vec::with_capacity(rows.len());
        for row in rows {
            let domain = if table.keyed_by_domain() {
                row.domain.unwrap_or(0)
            } else {
                0
            };
            match old.get(&(domain, row.key)) {
                Some(Some(h)) if *h == row.hash => {
                    counts.unchanged += 1;
                    continue;
                }
                Some(_) => counts.updated += 1,
                None => counts.new += 1,
            }
            to_write.push(row);
        }
        if !to_write.is_empty() {
            // All new (checked in this transaction): straight into the table.
            // Otherwise through a temporary table and one upsert.
            let all_new = counts.updated == 0;
            let stage = quote(&format!("_runtel_stage_{}", table.name));
            if !all_new {
                tx.batch_execute(&format!(
                    "CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {name}) ON COMMIT DELETE ROWS"
                ))
                .map_err(err)?;
            }
            let into = if all_new { &name } else { &stage };
            let mut w = tx
                .copy_in(&format!("COPY {into} ({}) FROM STDIN", names.join(", ")))
                .map_err(err)?;
            // In chunks of about 1 MiB: each write to the COPY stream is a message
            // to the connection's task, so rows one by one cost more than the
            // rows; and a whole page is not held a second time as COPY text.
            let mut chunk = Vec::with_capacity(COPY_CHUNK + 4096);
            let copy_err = |e: std::io::Error| Error::Database(format!("{shown}: COPY: {e}"));
            for row in to_write {
                copy_line(&mut chunk, row);
                if chunk.len() >= COPY_CHUNK {
                    w.write_all(&chunk).map_err(copy_err)?;
                    chunk.clear();
                }
            }
            w.write_all(&chunk).map_err(copy_err)?;
            w.finish().map_err(err)?;
            if !all_new {
                let pk: Vec<String> = table.primary_key.iter().map(|c| quote(c)).collect();
                let sets: Vec<String> = names
                    .iter()
                    .filter(|n| !pk.contains(n))
                    .map(|n| format!("{n} = excluded.{n}"))
                    .collect();
                tx.batch_execute(&format!(
                    "INSERT INTO {name} ({cols}) SELECT {cols} FROM {stage} \
                     ON CONFLICT ({}) DO UPDATE SET {}",
                    pk.join(", "),
                    sets.join(", "),
                    cols = names.join(", ")
                ))
                .map_err(err)?;
            }
        }
        tx.execute(
            &format!(
                "INSERT INTO {STATE_TABLE} (server, domain, object, run_from, after_key, \
                 next_from, max_time, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (server, domain, object) DO UPDATE SET run_from = excluded.run_from, \
                 after_key = excluded.after_key, next_from = excluded.next_from, \
                 max_time = excluded.max_time, updated_at = excluded.updated_at"
            ),
            &[
                &key.server,
                &key.domain,
                &key.object,
                &cp.run_from,
                &cp.after_key,
                &cp.next_from,
                &cp.max_time,
                &now_unix(),
            ],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(counts)
    }

    fn describe(&self) -> String {
        self.shown.clone()
    }
}
