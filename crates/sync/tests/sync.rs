//! runtel-sync against the simulator over loopback, into real databases: a SQLite
//! file always, and PostgreSQL when `RUNTEL_TEST_PG_URL` is set (scripts/test-all
//! sets it through scripts/with-postgres; set but unreachable is a failure, never
//! a skip). Every PostgreSQL test gets a database of its own.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use runtel_client::{Client, ErrorKind, RetryPolicy};
use runtel_sim::{Fault, FaultRule, SimConfig, Simulator, DEFAULT_LOGIN, DEFAULT_PASSWORD};
use runtel_sync::{
    Database, Domains, Observer, PageReport, Quiet, StateKey, Summary, SyncOptions, Syncer,
};
use serde_json::{json, Value};

/// A database to sync into, and a way to read it back.
enum Target {
    Sqlite(PathBuf),
    Pg(String),
}

impl Target {
    fn url(&self) -> String {
        match self {
            Target::Sqlite(p) => p.display().to_string(),
            Target::Pg(u) => u.clone(),
        }
    }

    fn open(&self) -> Database {
        Database::open(&self.url()).unwrap()
    }

    fn name(&self) -> &'static str {
        match self {
            Target::Sqlite(_) => "sqlite",
            Target::Pg(_) => "postgres",
        }
    }

    /// Runs a query whose columns are all BIGINT/INTEGER or TEXT, as rows of JSON values.
    fn query(&self, sql: &str) -> Vec<Vec<Value>> {
        match self {
            Target::Sqlite(p) => {
                let c = rusqlite::Connection::open(p).unwrap();
                let mut st = c.prepare(sql).unwrap();
                let n = st.column_count();
                st.query_map([], |r| {
                    (0..n)
                        .map(|i| {
                            Ok(match r.get_ref(i)? {
                                rusqlite::types::ValueRef::Null => Value::Null,
                                rusqlite::types::ValueRef::Integer(v) => v.into(),
                                rusqlite::types::ValueRef::Text(t) => {
                                    String::from_utf8_lossy(t).into_owned().into()
                                }
                                other => panic!("{other:?}"),
                            })
                        })
                        .collect()
                })
                .unwrap()
                .map(Result::unwrap)
                .collect()
            }
            Target::Pg(u) => {
                let mut c = postgres::Client::connect(u, postgres::NoTls).unwrap();
                c.query(sql, &[])
                    .unwrap()
                    .iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| match r.columns()[i].type_().name() {
                                "int8" => {
                                    r.get::<_, Option<i64>>(i).map_or(Value::Null, Value::from)
                                }
                                "int4" => {
                                    r.get::<_, Option<i32>>(i).map_or(Value::Null, Value::from)
                                }
                                _ => r
                                    .get::<_, Option<String>>(i)
                                    .map_or(Value::Null, Value::from),
                            })
                            .collect()
                    })
                    .collect()
            }
        }
    }

    /// `(domain_id, id, record)` of every row of `table`, in key order.
    fn rows(&self, table: &str) -> Vec<(i64, i64, Value)> {
        self.query(&format!(
            "SELECT domain_id, id, CAST(_json AS TEXT) FROM \"{table}\" ORDER BY domain_id, id"
        ))
        .into_iter()
        .map(|r| {
            (
                r[0].as_i64().unwrap(),
                r[1].as_i64().unwrap(),
                serde_json::from_str(r[2].as_str().unwrap()).unwrap(),
            )
        })
        .collect()
    }

    fn count(&self, table: &str) -> i64 {
        self.query(&format!("SELECT count(*) FROM \"{table}\""))[0][0]
            .as_i64()
            .unwrap()
    }
}

/// The targets of one test: SQLite, and PostgreSQL when configured.
fn targets(test: &str) -> Vec<Target> {
    let dir = std::env::temp_dir().join(format!("runtel-sync-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut out = vec![Target::Sqlite(dir.join("sync.sqlite"))];
    if let Ok(url) = std::env::var("RUNTEL_TEST_PG_URL") {
        let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| {
            panic!("RUNTEL_TEST_PG_URL is set but PostgreSQL cannot be reached: {e}")
        });
        let db = format!("t_{test}_{}", std::process::id());
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .unwrap();
        let base = url.rsplit_once('/').unwrap().0;
        out.push(Target::Pg(format!("{base}/{db}")));
    } else {
        eprintln!(
            "RUNTEL_TEST_PG_URL not set: PostgreSQL not tested (scripts/with-postgres sets it)"
        );
    }
    out
}

fn sim(cdrs: u64) -> Simulator {
    Simulator::start(SimConfig {
        seed: vec![("DomainCDR".into(), cdrs)],
        ..Default::default()
    })
    .unwrap()
}

fn client(s: &Simulator) -> Client {
    Client::builder(s.url())
        .credentials(DEFAULT_LOGIN, DEFAULT_PASSWORD)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Every record of `obj` at the server, in id order.
fn source(c: &Client, obj: &str) -> Vec<Value> {
    let mut v: Vec<Value> = c
        .records(obj, json!({}), 20_000)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    v.sort_by_key(|r| r["id"].as_i64());
    v
}

/// The table equals the source, row by row: same ids, same records, nothing more.
fn assert_equal(t: &Target, table: &str, want: &[Value]) {
    let rows = t.rows(table);
    assert_eq!(rows.len(), want.len(), "{}: row count", t.name());
    for ((d, id, rec), w) in rows.iter().zip(want) {
        assert_eq!(Some(*id), w["id"].as_i64(), "{}", t.name());
        assert_eq!(Some(*d), w["domain_id"].as_i64(), "{}", t.name());
        assert_eq!(rec, w, "{}: record {id}", t.name());
    }
}

fn options(page_size: u64) -> SyncOptions {
    SyncOptions {
        page_size,
        ..Default::default()
    }
}

fn sync(c: &Client, t: &Target, objects: &[&str], opts: SyncOptions) -> Summary {
    let mut s = Syncer::new(c, t.open(), objects, opts).unwrap();
    s.run_once(&mut Quiet, &AtomicBool::new(false)).unwrap()
}

/// An observer that runs `f` after the page numbered `at` (1-based) is committed.
struct AfterPage<F: FnMut()> {
    at: u64,
    pages: u64,
    f: F,
}

impl<F: FnMut()> Observer for AfterPage<F> {
    fn page(&mut self, _: &PageReport<'_>) {
        self.pages += 1;
        if self.pages == self.at {
            (self.f)();
        }
    }
}

fn new_cdr(dt: i64, src: &str) -> Value {
    json!({"dt": dt, "uuid": format!("late-{src}"), "direction": "inbound", "src": src,
           "dst": "100", "src_name": "Late", "duration": 5, "billsec": 3,
           "disposition": "ANSWERED", "gateway": "gw1", "record": false})
}

#[test]
fn a_full_sync_of_100k_equals_the_source_and_a_second_run_adds_only_the_new() {
    let s = sim(100_000);
    let c = client(&s);
    let mut want = source(&c, "DomainCDR");
    for t in targets("full") {
        assert!(want.len() >= 100_000);
        let first = sync(&c, &t, &["DomainCDR"], options(25_000));
        assert_eq!(first.counts.new, want.len() as u64, "{}", t.name());
        assert_eq!((first.counts.updated, first.counts.unchanged), (0, 0));
        assert_eq!(first.pages, want.len().div_ceil(25_000) as u64);
        assert_equal(&t, "domain_cdr", &want);
        // Typed columns hold the record's values.
        let typed = t.query("SELECT src, duration FROM domain_cdr WHERE id = 777");
        assert_eq!(typed[0][0], want[776]["src"]);
        assert_eq!(typed[0][1], want[776]["duration"]);

        let newest = want.last().unwrap()["dt"].as_i64().unwrap();
        let added: Vec<Value> = (0..25)
            .map(|i| new_cdr(newest + 10 + i, &format!("n{}{i}", t.name())))
            .collect();
        let ids = s.insert_records("DomainCDR", added.clone()).unwrap();
        let second = sync(&c, &t, &["DomainCDR"], options(25_000));
        assert_eq!(second.counts.new, 25, "{}", t.name());
        assert_eq!(second.counts.updated, 0);
        // What was read again is the overlap (1 h of records), no more.
        let in_window = want
            .iter()
            .filter(|r| r["dt"].as_i64().unwrap() >= newest - 3600)
            .count() as u64;
        assert_eq!(second.counts.unchanged, in_window, "{}", t.name());
        for (id, mut rec) in ids.into_iter().zip(added) {
            let mut full = serde_json::Map::new();
            full.insert("id".into(), id.into());
            full.insert("domain_id".into(), 1.into());
            full.extend(std::mem::take(rec.as_object_mut().unwrap()));
            want.push(Value::Object(full));
        }
        assert_equal(&t, "domain_cdr", &want);
    }
    // The records added above are the server's, exactly.
    assert_eq!(source(&c, "DomainCDR"), want);
}

#[test]
fn records_written_late_inside_the_overlap_are_picked_up() {
    let s = sim(2_000);
    let c = client(&s);
    for t in targets("late") {
        let opts = || SyncOptions {
            overlap: Duration::from_secs(1800),
            ..options(500)
        };
        sync(&c, &t, &["DomainCDR"], opts());
        let newest = source(&c, "DomainCDR").last().unwrap()["dt"]
            .as_i64()
            .unwrap();
        // A call that ended late: dated 10 minutes before the newest record synced.
        let inside = s
            .insert_records("DomainCDR", vec![new_cdr(newest - 600, "inside")])
            .unwrap()[0];
        // Older than the overlap window: not looked for again (the window's limit).
        let outside = s
            .insert_records("DomainCDR", vec![new_cdr(newest - 7200, "outside")])
            .unwrap()[0];
        let run = sync(&c, &t, &["DomainCDR"], opts());
        assert_eq!(run.counts.new, 1, "{}", t.name());
        let ids: Vec<i64> = t.rows("domain_cdr").iter().map(|r| r.1).collect();
        assert!(ids.contains(&inside), "{}", t.name());
        assert!(!ids.contains(&outside), "{}", t.name());
        s.delete_records("DomainCDR", [outside]);
    }
}

#[test]
fn faults_during_a_sync_end_in_a_clean_error_and_the_next_run_resumes() {
    let faults = [
        Fault::TruncatedJson,
        Fault::DropMidBody,
        Fault::NonObjectJson,
        Fault::WrongActionId,
        Fault::envelope(
            500,
            &json!({"code": 500, "message": "internal", "action_id": "x"}),
        ),
    ];
    let s = sim(5_000);
    let plain = client(&s);
    let want = source(&plain, "DomainCDR");
    for t in targets("faults") {
        for (i, fault) in faults.iter().enumerate() {
            // Retries off: the fault must reach the sync.
            let c = Client::builder(s.url())
                .credentials(DEFAULT_LOGIN, DEFAULT_PASSWORD)
                .retry(RetryPolicy::NONE)
                .build()
                .unwrap();
            // Each fault gets its own object's state: a fresh table name per round
            // is not possible, so start from an empty database state per round.
            let table_before = if i == 0 { 0 } else { t.count("domain_cdr") };
            assert!(table_before == 0 || table_before == 5_000);
            let db = t.open();
            let mut syncer = Syncer::new(
                &c,
                db,
                &["DomainCDR"],
                SyncOptions {
                    domains: Domains::Ids(vec![1]),
                    ..options(1_000)
                },
            )
            .unwrap();
            let key = syncer.state_key("DomainCDR", "1");
            let fault = fault.clone();
            let mut obs = AfterPage {
                at: 2,
                pages: 0,
                f: || s.push_fault(FaultRule::times(fault.clone(), 1).on_action("list")),
            };
            let err = syncer
                .run_once(&mut obs, &AtomicBool::new(false))
                .expect_err("the fault must end the run");
            assert!(
                matches!(err, runtel_sync::Error::Client(ref e)
                    if matches!(e.kind(), ErrorKind::Protocol | ErrorKind::Transport | ErrorKind::Api)),
                "{}: {err}",
                t.name()
            );
            let cp = syncer.database().checkpoint(&key).unwrap().unwrap();
            assert_eq!(cp.after_key, Some(2_000), "{}: {err}", t.name());
            if i == 0 {
                // Exactly the two committed pages, nothing of the failed one.
                assert_equal(&t, "domain_cdr", &want[..2_000]);
            }
            s.clear_faults();
            let done = syncer
                .run_once(&mut Quiet, &AtomicBool::new(false))
                .unwrap();
            assert!(done.objects[0].resumed, "{}", t.name());
            assert_eq!(done.pages, 3);
            assert_equal(&t, "domain_cdr", &want);
            // Start the next round from scratch: same table, no checkpoint.
            t.query("DELETE FROM runtel_sync_state RETURNING 1");
            t.query("DELETE FROM domain_cdr RETURNING 1");
        }
    }
}

#[test]
fn a_page_that_fails_the_checks_is_not_committed_and_the_error_names_the_record() {
    let s = sim(3_000);
    let c = client(&s);
    let want = source(&c, "DomainCDR");
    for t in targets("invalid") {
        let mut good = want[1_000].clone();
        let mut bad = want[1_001].clone();
        bad["duration"] = json!("long");
        good["src"] = json!("changed");
        let page = json!({"code": 200, "action_id": "x", "list": [good, bad], "total_count": 2});
        let mut syncer = Syncer::new(&c, t.open(), &["DomainCDR"], options(1_000)).unwrap();
        let key = syncer.state_key("DomainCDR", "own");
        let mut obs = AfterPage {
            at: 1,
            pages: 0,
            f: || s.push_fault(FaultRule::times(Fault::envelope(200, &page), 1).on_action("list")),
        };
        let err = syncer
            .run_once(&mut obs, &AtomicBool::new(false))
            .unwrap_err();
        let runtel_sync::Error::Client(e) = &err else {
            panic!("{err}")
        };
        assert_eq!(e.kind(), ErrorKind::Protocol);
        let text = e.to_string();
        assert!(
            text.contains("id 1002") && text.contains("duration") && text.contains("\"long\""),
            "{text}"
        );
        // The good record of that page was not written either.
        assert_equal(&t, "domain_cdr", &want[..1_000]);
        let cp = syncer.database().checkpoint(&key).unwrap().unwrap();
        assert_eq!(cp.after_key, Some(1_000));
        syncer
            .run_once(&mut Quiet, &AtomicBool::new(false))
            .unwrap();
        assert_equal(&t, "domain_cdr", &want);
    }
}

#[test]
fn a_stop_ends_the_run_after_a_committed_page_and_the_next_run_continues() {
    let s = sim(4_000);
    let c = client(&s);
    let want = source(&c, "DomainCDR");
    for t in targets("stop") {
        let stop = AtomicBool::new(false);
        let mut syncer = Syncer::new(&c, t.open(), &["DomainCDR"], options(1_000)).unwrap();
        let mut obs = AfterPage {
            at: 1,
            pages: 0,
            f: || stop.store(true, Ordering::SeqCst),
        };
        let first = syncer.run_once(&mut obs, &stop).unwrap();
        assert!(first.stopped);
        assert_eq!(first.counts.new, 1_000);
        assert_equal(&t, "domain_cdr", &want[..1_000]);
        let rest = syncer
            .run_once(&mut Quiet, &AtomicBool::new(false))
            .unwrap();
        assert_eq!((rest.counts.new, rest.pages), (3_000, 3), "{}", t.name());
        assert_equal(&t, "domain_cdr", &want);
    }
}

#[test]
fn configuration_objects_are_synced_whole_and_changes_count_as_updated() {
    let s = Simulator::start(SimConfig {
        seed: vec![("DomainUser".into(), 30)],
        ..Default::default()
    })
    .unwrap();
    let c = client(&s);
    for t in targets("config") {
        let first = sync(&c, &t, &["DomainUser"], options(7));
        assert_eq!(first.counts.new, 30, "{}", t.name());
        let id = source(&c, "DomainUser")[4]["id"].clone();
        let pin = format!("4321-{}", t.name());
        c.call("DomainUser", "update", json!({"id": id, "pin": pin}))
            .unwrap();
        let second = sync(&c, &t, &["DomainUser"], options(7));
        assert_eq!(
            (
                second.counts.new,
                second.counts.updated,
                second.counts.unchanged
            ),
            (0, 1, 29),
            "{}",
            t.name()
        );
        let stored = t.query(&format!("SELECT pin FROM domain_user WHERE id = {id}"));
        assert_eq!(stored[0][0], json!(pin));
        assert_equal(&t, "domain_user", &source(&c, "DomainUser"));
    }
}

#[test]
fn operators_sync_several_pbxs_into_one_table() {
    let s = Simulator::start(SimConfig {
        seed: vec![("DomainCDR".into(), 300)],
        ..Default::default()
    })
    .unwrap();
    s.insert_records(
        "DomainCDR",
        (0..40)
            .map(|i| {
                let mut r = new_cdr(1_790_000_000 + i, &format!("d2-{i}"));
                r["domain_id"] = 2.into();
                r
            })
            .collect(),
    )
    .unwrap();
    s.insert_records(
        "User",
        vec![
            json!({"login": "u@two.example", "password": "pw-two-1", "name": "Two",
                    "status": 1, "domain_id": 2}),
        ],
    )
    .unwrap();
    let op = Client::builder(s.url())
        .credentials("operator@sim.runtel.local", "operator")
        .build()
        .unwrap();
    for t in targets("operators") {
        let run = sync(
            &op,
            &t,
            &["DomainCDR"],
            SyncOptions {
                domains: Domains::All,
                ..options(100)
            },
        );
        let domains: Vec<&str> = run.objects.iter().map(|o| o.domain.as_str()).collect();
        assert_eq!(domains, ["1", "2"], "{}", t.name());
        assert_eq!(run.counts.new, 340);
        let mut want: Vec<Value> = Vec::new();
        for d in [1, 2] {
            want.extend(
                op.records("DomainCDR", json!({"domain_id": d}), 1000)
                    .unwrap()
                    .map(Result::unwrap),
            );
        }
        assert_equal(&t, "domain_cdr", &want);
    }
}

#[test]
fn tables_gain_missing_columns_and_one_of_another_type_is_refused() {
    let s = sim(50);
    let c = client(&s);
    let rec = source(&c, "DomainCDR")[0].clone();
    for t in targets("migrate") {
        let (int, text) = match t {
            Target::Sqlite(_) => ("INTEGER", "TEXT"),
            Target::Pg(_) => ("bigint", "text"),
        };
        // An earlier table: fewer columns, one of the user's own, one old row.
        t.query(&format!(
            "CREATE TABLE domain_cdr (domain_id {int} NOT NULL, id {int} NOT NULL, dt {int}, \
             _json {json}, _hash {int}, _synced_at {int}, note {text}, \
             PRIMARY KEY (domain_id, id))",
            json = if int == "bigint" { "jsonb" } else { "TEXT" },
        ));
        t.query(
            "INSERT INTO domain_cdr (domain_id, id, dt, _json, _hash, note) VALUES \
             (1, 999, 5, '{\"id\": 999, \"src\": \"old\"}', 0, 'mine') RETURNING 1",
        );
        let run = sync(&c, &t, &["DomainCDR"], options(100));
        assert_eq!(run.counts.new, 50, "{}", t.name());
        let old = t.query("SELECT src, note FROM domain_cdr WHERE id = 999");
        assert_eq!(old[0], vec![json!("old"), json!("mine")], "{}", t.name());
        let first = t.query("SELECT src, billsec FROM domain_cdr WHERE id = 1");
        assert_eq!(first[0], vec![rec["src"].clone(), rec["billsec"].clone()]);

        // A column of another type: refused before anything is written.
        t.query("DROP TABLE domain_cdr");
        t.query(&format!(
            "CREATE TABLE domain_cdr (domain_id {int} NOT NULL, id {int} NOT NULL, \
             duration {text}, PRIMARY KEY (domain_id, id))"
        ));
        let err = Syncer::new(&c, t.open(), &["DomainCDR"], options(100)).unwrap_err();
        assert!(
            matches!(err, runtel_sync::Error::Schema(_)) && err.to_string().contains("duration"),
            "{}: {err}",
            t.name()
        );
        let cols = match t {
            Target::Sqlite(_) => t.query("SELECT count(*) FROM pragma_table_info('domain_cdr')"),
            Target::Pg(_) => t.query(
                "SELECT count(*)::bigint FROM information_schema.columns \
                 WHERE table_name = 'domain_cdr'",
            ),
        };
        assert_eq!(cols[0][0], json!(3), "{}: nothing added", t.name());
    }
}

#[test]
fn an_unreachable_database_or_a_wrong_password_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("runtel-sync-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Not a database: refused, and left as it was.
    let junk = dir.join("notes.txt");
    std::fs::write(&junk, b"these are my notes, not a database\n".repeat(200)).unwrap();
    let before = std::fs::read(&junk).unwrap();
    let err = Database::open(junk.to_str().unwrap()).unwrap_err();
    assert!(
        matches!(err, runtel_sync::Error::Database(_)) && err.to_string().contains("notes.txt"),
        "{err}"
    );
    assert_eq!(std::fs::read(&junk).unwrap(), before);
    let err = Database::open(dir.join("no/such/dir/x.sqlite").to_str().unwrap()).unwrap_err();
    assert!(matches!(err, runtel_sync::Error::Database(_)), "{err}");
    // Nothing listens on port 1.
    let err = Database::open("postgres://runtel:sekrit-pw@127.0.0.1:1/db").unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, runtel_sync::Error::Database(_)) && text.contains("cannot connect"),
        "{text}"
    );
    assert!(!text.contains("sekrit-pw"), "{text}");
    if let Ok(url) = std::env::var("RUNTEL_TEST_PG_URL") {
        let (head, tail) = url.rsplit_once('@').unwrap();
        let user = head.rsplit_once(':').unwrap().0;
        let wrong = format!("{user}:wrong-pw-123@{tail}");
        let err = Database::open(&wrong).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("password authentication failed"), "{text}");
        assert!(!text.contains("wrong-pw-123"), "{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn checkpoints_are_per_server_domain_and_object() {
    let s = sim(120);
    let c = client(&s);
    for t in targets("keys") {
        sync(&c, &t, &["DomainCDR"], options(50));
        let mut db = t.open();
        let key = StateKey {
            server: c.endpoint_url().to_owned(),
            domain: "own".into(),
            object: "DomainCDR".into(),
        };
        let cp = db.checkpoint(&key).unwrap().unwrap();
        assert!(!cp.in_run());
        let newest = source(&c, "DomainCDR").last().unwrap()["dt"]
            .as_i64()
            .unwrap();
        assert_eq!(cp.max_time, Some(newest));
        assert_eq!(cp.next_from, Some(newest - 3600));
        let other = StateKey {
            server: "https://other.example/api/".into(),
            ..key
        };
        assert_eq!(db.checkpoint(&other).unwrap(), None);
    }
}

#[test]
fn two_syncs_into_one_database_at_once_both_succeed_and_agree_with_the_source() {
    // Two cron jobs overlapping, or `--follow` beside a manual run: page writes
    // into one table take turns (SQLite: the write lock at BEGIN; PostgreSQL: a
    // transaction-scoped advisory lock), so neither fails on the other's rows.
    let s = sim(6_000);
    let c = client(&s);
    let want = source(&c, "DomainCDR");
    for t in targets("concurrent") {
        let summaries: Vec<Summary> = std::thread::scope(|scope| {
            let runs: Vec<_> = (0..2)
                .map(|_| scope.spawn(|| sync(&c, &t, &["DomainCDR"], options(500))))
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        // Every record was new to exactly one of the two runs.
        assert_eq!(
            summaries.iter().map(|r| r.counts.new).sum::<u64>(),
            want.len() as u64,
            "{}",
            t.name()
        );
        assert_equal(&t, "domain_cdr", &want);
    }
}
