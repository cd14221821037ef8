//! SQLite: one file, WAL journal, one transaction per page.
//!
//! WAL with `synchronous = NORMAL`: a process killed at any moment (kill -9)
//! loses no committed page; a power cut may lose the last pages, together with
//! their checkpoint, so the next run fetches them again (still no gap, no
//! duplicate).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params_from_iter, Connection, OptionalExtension, ToSql};

use super::{
    create_table_sql, now_unix, quote, Backend, Checkpoint, Counts, StateKey, STATE_TABLE,
};
use crate::schema::{Cell, ColumnType, Row, Table};
use crate::Error;

/// A SQLite database file.
pub(crate) struct Sqlite {
    conn: Connection,
    path: PathBuf,
}

fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::Database(format!("{}: {e}", path.display()))
}

impl Sqlite {
    /// A transaction holding the write lock from its start: a page reads what
    /// the table has, then writes, and another sync writing in between would
    /// make the upgrade to a write lock fail at once (busy_timeout cannot help
    /// a deferred transaction whose snapshot is stale). Taken at BEGIN, the
    /// lock is waited for instead.
    fn write_transaction(conn: &mut Connection) -> rusqlite::Result<rusqlite::Transaction<'_>> {
        conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
    }

    pub(crate) fn open(path: &Path) -> Result<Sqlite, Error> {
        let err = db_err(path);
        let conn = Connection::open(path).map_err(&err)?;
        // A second writer waits for the lock instead of failing at once.
        conn.busy_timeout(Duration::from_secs(30)).map_err(&err)?;
        // Reading the journal mode is the first access: a file that is not a
        // database fails here, before anything is written.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(&err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Database(format!(
                "{}: could not switch to WAL journal mode (got {mode})",
                path.display()
            )));
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL")
            .map_err(&err)?;
        Ok(Sqlite {
            conn,
            path: path.to_owned(),
        })
    }

    fn sql_type(ty: ColumnType) -> &'static str {
        match ty {
            ColumnType::Int | ColumnType::Bool => "INTEGER",
            ColumnType::Text | ColumnType::Json => "TEXT",
        }
    }
}

impl ToSql for Cell {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Cell::Null => ValueRef::Null,
            Cell::Int(i) => ValueRef::Integer(*i),
            Cell::Bool(b) => ValueRef::Integer(i64::from(*b)),
            Cell::Text(s) | Cell::Json(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

impl Backend for Sqlite {
    fn prepare(&mut self, table: &Table) -> Result<(), Error> {
        let err = db_err(&self.path);
        let tx = Sqlite::write_transaction(&mut self.conn).map_err(&err)?;
        tx.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {STATE_TABLE} (
               server TEXT NOT NULL, domain TEXT NOT NULL, object TEXT NOT NULL,
               run_from INTEGER, after_key INTEGER, next_from INTEGER, max_time INTEGER,
               updated_at INTEGER NOT NULL,
               PRIMARY KEY (server, domain, object))"
        ))
        .map_err(&err)?;
        // name -> (declared type, position in the primary key)
        let mut have: Vec<(String, String, i64)> = Vec::new();
        {
            let mut stmt = tx
                .prepare("SELECT name, type, pk FROM pragma_table_info(?1)")
                .map_err(&err)?;
            let rows = stmt
                .query_map([&table.name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(&err)?;
            for r in rows {
                have.push(r.map_err(&err)?);
            }
        }
        let name = quote(&table.name);
        if have.is_empty() {
            tx.execute_batch(&create_table_sql(table, Self::sql_type))
                .map_err(&err)?;
        } else {
            let mut pk_have: Vec<(i64, String)> = have
                .iter()
                .filter(|c| c.2 > 0)
                .map(|c| (c.2, c.0.clone()))
                .collect();
            pk_have.sort();
            let pk_have: Vec<&str> = pk_have.iter().map(|c| c.1.as_str()).collect();
            if pk_have != table.primary_key {
                return Err(Error::Schema(format!(
                    "{}: table {} has the primary key ({}), the sync needs ({}); rename the \
                     table or sync into another database",
                    self.path.display(),
                    table.name,
                    pk_have.join(", "),
                    table.primary_key.join(", ")
                )));
            }
            for (c, ty) in table.all_columns() {
                let want = Self::sql_type(ty);
                match have.iter().find(|h| h.0 == c) {
                    Some(h) if h.1.eq_ignore_ascii_case(want) => {}
                    Some(h) => {
                        return Err(Error::Schema(format!(
                            "{}: column {c} of table {} is {}, the sync writes {want} there; \
                             nothing was changed (no column is ever dropped or retyped)",
                            self.path.display(),
                            table.name,
                            if h.1.is_empty() { "untyped" } else { &h.1 }
                        )))
                    }
                    None => {
                        log::info!(
                            "{}: adding column {c} to table {}",
                            self.path.display(),
                            table.name
                        );
                        tx.execute_batch(&format!(
                            "ALTER TABLE {name} ADD COLUMN {} {want}",
                            quote(c)
                        ))
                        .map_err(&err)?;
                        // Rows synced before the column existed: from their JSON.
                        if have.iter().any(|h| h.0 == "_json") && !c.starts_with('_') {
                            let path = format!("$.{c}");
                            let op = if ty == ColumnType::Json { "->" } else { "->>" };
                            tx.execute(
                                &format!("UPDATE {name} SET {} = \"_json\" {op} ?1", quote(c)),
                                [&path],
                            )
                            .map_err(&err)?;
                        }
                    }
                }
            }
        }
        tx.commit().map_err(&err)
    }

    fn checkpoint(&mut self, key: &StateKey) -> Result<Option<Checkpoint>, Error> {
        let err = db_err(&self.path);
        let exists: Option<i64> = self
            .conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [STATE_TABLE],
                |r| r.get(0),
            )
            .optional()
            .map_err(&err)?;
        if exists.is_none() {
            return Ok(None);
        }
        self.conn
            .query_row(
                &format!(
                    "SELECT run_from, after_key, next_from, max_time, updated_at FROM \
                     {STATE_TABLE} WHERE server = ?1 AND domain = ?2 AND object = ?3"
                ),
                [&key.server, &key.domain, &key.object],
                |r| {
                    Ok(Checkpoint {
                        run_from: r.get(0)?,
                        after_key: r.get(1)?,
                        next_from: r.get(2)?,
                        max_time: r.get(3)?,
                        updated_at: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(&err)
    }

    fn commit(
        &mut self,
        table: &Table,
        rows: &[Row],
        key: &StateKey,
        cp: &Checkpoint,
    ) -> Result<Counts, Error> {
        let err = db_err(&self.path);
        let name = quote(&table.name);
        let cols = table.all_columns();
        let mut counts = Counts::default();
        let tx = Sqlite::write_transaction(&mut self.conn).map_err(&err)?;
        if !rows.is_empty() {
            // What the table holds of this page: one range scan (a page's keys
            // ascend), not one lookup per row.
            let old = {
                let first = rows.first().map_or(0, |r| r.key);
                let last = rows.last().map_or(0, |r| r.key);
                let key = quote(table.spec.key);
                let mut old: HashMap<(i64, i64), Option<i64>> = HashMap::new();
                let mut read = |sql: String, params: &[&dyn ToSql]| -> rusqlite::Result<()> {
                    let mut st = tx.prepare_cached(&sql)?;
                    let mut q = st.query(params)?;
                    while let Some(r) = q.next()? {
                        old.insert((r.get(0)?, r.get(1)?), r.get(2)?);
                    }
                    Ok(())
                };
                if table.keyed_by_domain() {
                    let mut domains: Vec<i64> =
                        rows.iter().map(|r| r.domain.unwrap_or(0)).collect();
                    domains.dedup();
                    for d in domains {
                        read(
                            format!(
                                "SELECT \"domain_id\", {key}, \"_hash\" FROM {name} \
                                 WHERE \"domain_id\" = ?1 AND {key} BETWEEN ?2 AND ?3"
                            ),
                            &[&d, &first, &last],
                        )
                        .map_err(&err)?;
                    }
                } else {
                    read(
                        format!(
                            "SELECT 0, {key}, \"_hash\" FROM {name} WHERE {key} BETWEEN ?1 AND ?2"
                        ),
                        &[&first, &last],
                    )
                    .map_err(&err)?;
                }
                old
            };
            let names: Vec<String> = cols.iter().map(|(c, _)| quote(c)).collect();
            let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
            let pk: Vec<String> = table.primary_key.iter().map(|c| quote(c)).collect();
            let sets: Vec<String> = names
                .iter()
                .filter(|n| !pk.contains(n))
                .map(|n| format!("{n} = excluded.{n}"))
                .collect();
            let mut upsert = tx
                .prepare_cached(&format!(
                    "INSERT INTO {name} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
                    names.join(", "),
                    marks.join(", "),
                    pk.join(", "),
                    sets.join(", ")
                ))
                .map_err(&err)?;
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
                upsert
                    .execute(params_from_iter(row.cells.iter()))
                    .map_err(&err)?;
            }
        }
        tx.execute(
            &format!(
                "INSERT INTO {STATE_TABLE} (server, domain, object, run_from, after_key, \
                 next_from, max_time, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT (server, domain, object) DO UPDATE SET run_from = excluded.run_from, \
                 after_key = excluded.after_key, next_from = excluded.next_from, \
                 max_time = excluded.max_time, updated_at = excluded.updated_at"
            ),
            rusqlite::params![
                key.server,
                key.domain,
                key.object,
                cp.run_from,
                cp.after_key,
                cp.next_from,
                cp.max_time,
                now_unix()
            ],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(counts)
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}
