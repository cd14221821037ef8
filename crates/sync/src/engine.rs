//! The sync loop: for each object and domain, page by key from the checkpoint,
//! check each page, commit it with the next checkpoint, and stop cleanly
//! between pages when asked.
//!
//! Pages go by key (`id > last`, offset 0), which records added or deleted
//! meanwhile cannot shift. A log object's run also filters `dt >= from`, where
//! `from` is the newest time of the previous run less the overlap, so records
//! that arrive late with an older time are still read; re-reading the overlap is
//! harmless, as rows are upserted and counted unchanged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use runtel_client::catalog::Scope;
use runtel_client::{field, Call, Client, Filter};
use serde_json::{json, Value};

use crate::db::{now_unix, Checkpoint, Counts, Database, StateKey};
use crate::schema::Table;
use crate::Error;

/// Which PBXs (domains) to sync.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Domains {
    /// The login's own PBX (no `domain_id` sent): what a PBX administrator uses.
    #[default]
    Own,
    /// These PBXs (`domain_id` sent), for platform operators.
    Ids(Vec<i64>),
    /// Every PBX an operator can see: the `domain_id`s of the platform's users
    /// (`User list`); tenant objects (`User`, `Role`) are read whole.
    All,
}

/// What to sync and how.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Records per request.
    pub page_size: u64,
    /// Log objects, first run only: start at this Unix time (else from the start).
    pub since: Option<i64>,
    /// Log objects: each run starts this far before the newest time already
    /// synced, so that records written late are picked up.
    pub overlap: Duration,
    /// Which PBXs.
    pub domains: Domains,
    /// Only records matching this (AND-ed with the sync's own conditions; a
    /// filter joining two or more conditions with OR is refused).
    pub filter: Option<Filter>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            page_size: 5000,
            since: None,
            overlap: Duration::from_secs(3600),
            domains: Domains::Own,
            filter: None,
        }
    }
}

/// One committed page, for progress reports.
#[derive(Debug, Clone)]
pub struct PageReport<'a> {
    /// The object.
    pub object: &'a str,
    /// The domain (`own`, an id, `all`, `-`).
    pub domain: &'a str,
    /// Records on this page.
    pub records: u64,
    /// Records committed so far for this object and domain in this run.
    pub done: u64,
    /// Records the server said are left after this page, if it said.
    pub left: Option<u64>,
    /// What the page did.
    pub counts: Counts,
}

/// Hooks for progress and service logs; every method has an empty default.
pub trait Observer {
    /// A sync of `object` in `domain` starts (`resumed`: an interrupted run goes on).
    fn start(&mut self, _object: &str, _domain: &str, _resumed: bool) {}
    /// A page was committed.
    fn page(&mut self, _page: &PageReport<'_>) {}
    /// The server sent `notifies` (messages for the user, such as a low balance).
    fn notices(&mut self, _items: &[Value]) {}
    /// A run ended (also an interrupted one: see [`Summary::stopped`]).
    fn run(&mut self, _summary: &Summary) {}
    /// `--follow`: a run failed; the next try is in `wait`.
    fn retry(&mut self, _error: &Error, _wait: Duration) {}
}

/// An observer that does nothing.
#[derive(Debug, Default)]
pub struct Quiet;
impl Observer for Quiet {}

/// What one object (in one domain) got in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectSummary {
    /// The object.
    pub object: String,
    /// The domain (`own`, an id, `all`, `-`).
    pub domain: String,
    /// The table written.
    pub table: String,
    /// What was written.
    pub counts: Counts,
    /// Pages committed.
    pub pages: u64,
    /// True when the run went on from an interrupted one.
    pub resumed: bool,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Every object and domain, in order.
    pub objects: Vec<ObjectSummary>,
    /// Totals.
    pub counts: Counts,
    /// Pages committed.
    pub pages: u64,
    /// How long the run took.
    pub elapsed: Duration,
    /// True when a stop was asked for and the run ended after a committed page
    /// (the next run continues from there).
    pub stopped: bool,
}

impl Summary {
    /// `N new, N updated, N unchanged, N pages, S s`.
    pub fn line(&self) -> String {
        format!(
            "{} new, {} updated, {} unchanged, {} pages, {:.2} s",
            self.counts.new,
            self.counts.updated,
            self.counts.unchanged,
            self.pages,
            self.elapsed.as_secs_f64()
        )
    }

    /// The summary as one JSON object (for service logs).
    pub fn to_json(&self) -> Value {
        json!({
            "new": self.counts.new,
            "updated": self.counts.updated,
            "unchanged": self.counts.unchanged,
            "pages": self.pages,
            "seconds": (self.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            "stopped": self.stopped,
            "objects": self.objects.iter().map(|o| json!({
                "object": o.object, "domain": o.domain, "table": o.table,
                "new": o.counts.new, "updated": o.counts.updated,
                "unchanged": o.counts.unchanged, "pages": o.pages, "resumed": o.resumed,
            })).collect::<Vec<_>>(),
        })
    }
}

/// Copies objects from a server into a database, incrementally.
pub struct Syncer<'a> {
    client: &'a Client,
    db: Database,
    options: SyncOptions,
    tables: Vec<Table>,
    server: String,
}

impl std::fmt::Debug for Syncer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Syncer")
            .field("server", &self.server)
            .field("db", &self.db)
            .field(
                "objects",
                &self.tables.iter().map(|t| t.spec.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl<'a> Syncer<'a> {
    /// A syncer of `objects` (catalog names) from `client`'s server into `db`.
    /// Checks the names, the options and the filter, and creates or migrates each
    /// object's table (no record is fetched yet).
    pub fn new(
        client: &'a Client,
        mut db: Database,
        objects: &[&str],
        options: SyncOptions,
    ) -> Result<Syncer<'a>, Error> {
        if objects.is_empty() {
            return Err(Error::InvalidInput(
                "name at least one object to sync".into(),
            ));
        }
        if options.page_size == 0 {
            return Err(Error::InvalidInput(
                "the page size must be at least 1".into(),
            ));
        }
        if let Some(f) = &options.filter {
            if f.any && f.conditions.len() > 1 {
                return Err(Error::InvalidInput(
                    "the sync adds its own conditions with AND; a filter that joins two or \
                     more conditions with OR cannot take them"
                        .into(),
                ));
            }
        }
        let mut tables = Vec::new();
        for name in objects {
            let spec = runtel_client::catalog::object(name).ok_or_else(|| {
                let hint = runtel_client::catalog::suggest_object(name)
                    .map(|s| format!("; did you mean {s}?"))
                    .unwrap_or_default();
                Error::InvalidInput(format!(
                    "{name} is not an object of the catalog, whose fields and key the sync \
                     needs{hint}"
                ))
            })?;
            if !spec.has_action("list") {
                return Err(Error::InvalidInput(format!("{name} has no list action")));
            }
            if tables.iter().any(|t: &Table| t.spec.name == spec.name) {
                continue;
            }
            tables.push(Table::of(spec)?);
        }
        for t in &tables {
            db.backend.prepare(t)?;
        }
        Ok(Syncer {
            server: client.endpoint_url().to_owned(),
            client,
            db,
            options,
            tables,
        })
    }

    /// The database.
    pub fn database(&mut self) -> &mut Database {
        &mut self.db
    }

    /// The checkpoint key of `object` in `domain` (as [`ObjectSummary::domain`] names it).
    pub fn state_key(&self, object: &str, domain: &str) -> StateKey {
        StateKey {
            server: self.server.clone(),
            domain: domain.to_owned(),
            object: object.to_owned(),
        }
    }

    /// One run: every object, every domain, from its checkpoint to the end of
    /// the list. Returns early (with [`Summary::stopped`]) once `stop` is set,
    /// after the page being fetched is committed. An error leaves every committed
    /// page and its checkpoint in place: the next run continues from there.
    pub fn run_once(
        &mut self,
        observer: &mut dyn Observer,
        stop: &AtomicBool,
    ) -> Result<Summary, Error> {
        let started = Instant::now();
        let mut summary = Summary::default();
        let mut domain_ids: Option<Vec<i64>> = None;
        for ti in 0..self.tables.len() {
            let table = self.tables[ti].clone();
            let targets: Vec<(String, Option<i64>)> =
                match (&self.options.domains, table.spec.scope) {
                    (_, Scope::Platform) => vec![("-".into(), None)],
                    (Domains::Own, _) => vec![("own".into(), None)],
                    (Domains::Ids(ids), _) => {
                        ids.iter().map(|d| (d.to_string(), Some(*d))).collect()
                    }
                    (Domains::All, Scope::Tenant) => vec![("all".into(), None)],
                    (Domains::All, Scope::Domain) => {
                        if domain_ids.is_none() {
                            domain_ids = Some(self.all_domains()?);
                        }
                        domain_ids
                            .iter()
                            .flatten()
                            .map(|d| (d.to_string(), Some(*d)))
                            .collect()
                    }
                };
            for (label, domain) in targets {
                if stop.load(Ordering::SeqCst) {
                    summary.stopped = true;
                    break;
                }
                let one = self.sync_one(&table, &label, domain, observer, stop, &mut summary);
                summary.elapsed = started.elapsed();
                one?;
                if summary.stopped {
                    break;
                }
            }
            if summary.stopped {
                break;
            }
        }
        summary.elapsed = started.elapsed();
        observer.run(&summary);
        Ok(summary)
    }

    /// Runs again and again, `every` apart (measured from the start of each
    /// run), until `stop` is set. A failed run is retried with backoff (from
    /// `every` / 8, doubling, at most `every` × 4, at least 1 s) unless the error
    /// cannot heal by waiting (see [`Error::is_permanent`]), which ends it.
    pub fn follow(
        &mut self,
        every: Duration,
        observer: &mut dyn Observer,
        stop: &AtomicBool,
    ) -> Result<(), Error> {
        let floor = Duration::from_secs(1);
        let mut backoff: Option<Duration> = None;
        while !stop.load(Ordering::SeqCst) {
            let started = Instant::now();
            let wait = match self.run_once(observer, stop) {
                Ok(s) if s.stopped => return Ok(()),
                Ok(_) => {
                    backoff = None;
                    every.saturating_sub(started.elapsed())
                }
                Err(e) if e.is_permanent() => return Err(e),
                Err(e) => {
                    let next = match backoff {
                        None => (every / 8).max(floor),
                        Some(b) => (b * 2).min((every * 4).max(floor)),
                    };
                    backoff = Some(next);
                    observer.retry(&e, next);
                    next
                }
            };
            sleep_unless(stop, wait);
        }
        Ok(())
    }

    /// The domains an operator sees: the distinct `domain_id`s of `User list`.
    fn all_domains(&self) -> Result<Vec<i64>, Error> {
        let mut ids = std::collections::BTreeSet::new();
        for user in self
            .client
            .records("User", json!({}), self.options.page_size)?
        {
            if let Some(d) = user?.get("domain_id").and_then(Value::as_i64) {
                ids.insert(d);
            }
        }
        Ok(ids.into_iter().collect())
    }

    fn sync_one(
        &mut self,
        table: &Table,
        label: &str,
        domain: Option<i64>,
        observer: &mut dyn Observer,
        stop: &AtomicBool,
        summary: &mut Summary,
    ) -> Result<(), Error> {
        let obj = table.spec.name;
        let key = self.state_key(obj, label);
        let cp = self.db.backend.checkpoint(&key)?.unwrap_or_default();
        let time_field = table.time_field();
        let resumed = cp.in_run();
        let run_from = if resumed {
            cp.run_from
        } else if time_field.is_some() {
            cp.next_from.or(self.options.since)
        } else {
            None
        };
        let mut after = cp.after_key;
        let mut max_time = cp.max_time;
        observer.start(obj, label, resumed);
        let mut mine = ObjectSummary {
            object: obj.to_owned(),
            domain: label.to_owned(),
            table: table.name.clone(),
            counts: Counts::default(),
            pages: 0,
            resumed,
        };
        let mut params = serde_json::Map::new();
        if let Some(d) = domain {
            params.insert("domain_id".into(), d.into());
        }
        // A time far ahead of ours is not trusted as the newest (it would stop
        // every later run from reading anything before it).
        let horizon = now_unix() + 86_400;
        let mut done_records = 0u64;
        let result = loop {
            if stop.load(Ordering::SeqCst) {
                summary.stopped = true;
                break Ok(());
            }
            let mut filter = self
                .options
                .filter
                .clone()
                .unwrap_or_else(|| Filter::all([]));
            filter.any = false;
            if let (Some(tf), Some(from)) = (time_field, run_from) {
                filter = filter.and(field(tf).ge(from));
            }
            if let Some(a) = after {
                filter = filter.and(field(table.spec.key).gt(a));
            }
            let mut call = Call::new(obj, "list", Value::Object(params.clone()))?
                .limit(self.options.page_size);
            if !filter.conditions.is_empty() {
                call = call.filter(filter.to_json())?;
            }
            let resp = self.client.call_with(&call)?;
            if !resp.notifies().is_empty() {
                observer.notices(resp.notifies());
            }
            let total = resp.total_count();
            let records = resp.into_records();
            let synced_at = now_unix();
            let mut rows = Vec::with_capacity(records.len());
            for (i, rec) in records.into_iter().enumerate() {
                let row = table.row(rec, i, domain, synced_at)?;
                if let Some(prev) = rows.last().map(|r: &crate::schema::Row| r.key).or(after) {
                    if row.key <= prev {
                        return Err(runtel_client::Error::unexpected_shape(
                            obj,
                            "list",
                            format!(
                                "{obj}: record {} {} (record {i} of the page) is not after {} \
                                 {prev}: the server must list records by ascending {} for an \
                                 incremental sync",
                                table.spec.key, row.key, table.spec.key, table.spec.key
                            ),
                            &format!("$.list[{i}].{}", table.spec.key),
                        )
                        .into());
                    }
                }
                rows.push(row);
            }
            let n = rows.len() as u64;
            // The end: an empty page, or as many records as the server said were left
            // (without a count, a page shorter than asked).
            let last_page = n == 0
                || match total {
                    Some(t) => n >= t,
                    None => n < self.options.page_size,
                };
            for r in &rows {
                if let Some(t) = r.time.filter(|t| *t <= horizon) {
                    max_time = Some(max_time.map_or(t, |m| m.max(t)));
                }
            }
            let next_cp = if last_page {
                let overlap = self.options.overlap.as_secs() as i64;
                Checkpoint {
                    run_from: None,
                    after_key: None,
                    next_from: match time_field {
                        Some(_) => max_time.map(|m| m.saturating_sub(overlap)).or(run_from),
                        None => None,
                    },
                    max_time,
                    updated_at: 0,
                }
            } else {
                Checkpoint {
                    run_from,
                    after_key: rows.last().map(|r| r.key),
                    next_from: cp.next_from,
                    max_time,
                    updated_at: 0,
                }
            };
            let counts = self.db.backend.commit(table, &rows, &key, &next_cp)?;
            after = next_cp.after_key;
            if n > 0 {
                mine.pages += 1;
                mine.counts.add(counts);
                summary.pages += 1;
                summary.counts.add(counts);
                done_records += n;
                observer.page(&PageReport {
                    object: obj,
                    domain: label,
                    records: n,
                    done: done_records,
                    left: total.map(|t| t.saturating_sub(n)),
                    counts,
                });
            }
            if last_page {
                break Ok(());
            }
        };
        summary.objects.push(mine);
        result
    }
}

/// Sleeps `d`, waking early once `stop` is set.
fn sleep_unless(stop: &AtomicBool, d: Duration) {
    let end = Instant::now() + d;
    while !stop.load(Ordering::SeqCst) {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}
