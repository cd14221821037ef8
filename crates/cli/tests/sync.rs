//! `runtel sync` run as a process against the simulator, into real databases:
//! SQLite always, PostgreSQL when `RUNTEL_TEST_PG_URL` is set (scripts/test-all
//! sets it; set but unreachable fails the test). Killed with SIGKILL in the middle
//! of a page, stopped with SIGTERM while following, given bad databases.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use runtel_sim::{Fault, FaultRule, SimConfig, Simulator, DEFAULT_LOGIN, DEFAULT_PASSWORD};
use serde_json::{json, Value};

/// A scratch HOME and a database target for one test.
struct Case {
    home: PathBuf,
    to: String,
    pg: bool,
}

impl Case {
    fn all(name: &str) -> Vec<Case> {
        let home =
            std::env::temp_dir().join(format!("runtel-cli-sync-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).unwrap();
        let mut out = vec![Case {
            to: home.join("cdrs.sqlite").display().to_string(),
            home: home.clone(),
            pg: false,
        }];
        if let Ok(url) = std::env::var("RUNTEL_TEST_PG_URL") {
            let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| {
                panic!("RUNTEL_TEST_PG_URL is set but PostgreSQL cannot be reached: {e}")
            });
            let db = format!("cli_{name}_{}", std::process::id());
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
                .unwrap();
            admin
                .batch_execute(&format!("CREATE DATABASE {db}"))
                .unwrap();
            out.push(Case {
                to: format!("{}/{db}", url.rsplit_once('/').unwrap().0),
                home,
                pg: true,
            });
        }
        out
    }

    fn name(&self) -> &'static str {
        if self.pg {
            "postgres"
        } else {
            "sqlite"
        }
    }

    fn cmd(&self, s: &Simulator, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_runtel"));
        c.env_clear()
            .env("HOME", &self.home)
            .env("PATH", "/usr/bin:/bin")
            .env("RUNTEL_URL", s.url())
            .env("RUNTEL_LOGIN", DEFAULT_LOGIN)
            .env("RUNTEL_PASSWORD", DEFAULT_PASSWORD)
            .stdin(Stdio::null())
            .args(["sync", "DomainCDR", "--to", &self.to])
            .args(args);
        c
    }

    /// `(id, record)` of every row of domain_cdr, in id order.
    fn rows(&self) -> Vec<(i64, Value)> {
        let sql = "SELECT id, CAST(_json AS TEXT) FROM domain_cdr ORDER BY id";
        if self.pg {
            let mut c = postgres::Client::connect(&self.to, postgres::NoTls).unwrap();
            c.query(sql, &[])
                .unwrap()
                .iter()
                .map(|r| (r.get(0), serde_json::from_str(r.get(1)).unwrap()))
                .collect()
        } else {
            let c = rusqlite::Connection::open(&self.to).unwrap();
            let mut st = c.prepare(sql).unwrap();
            st.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    serde_json::from_str(&r.get::<_, String>(1)?).unwrap(),
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
        }
    }

    /// The committed checkpoint's `after_key` (`None` between runs or before one).
    fn after_key(&self) -> Option<i64> {
        let sql = "SELECT after_key FROM runtel_sync_state WHERE object = 'DomainCDR'";
        if self.pg {
            let mut c = postgres::Client::connect(&self.to, postgres::NoTls).unwrap();
            c.query(sql, &[])
                .ok()?
                .first()
                .and_then(|r| r.get::<_, Option<i64>>(0))
        } else {
            let c = rusqlite::Connection::open(&self.to).ok()?;
            c.query_row(sql, [], |r| r.get::<_, Option<i64>>(0)).ok()?
        }
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        if !self.pg {
            let _ = std::fs::remove_dir_all(&self.home);
        }
    }
}

fn sim(cdrs: u64) -> Simulator {
    Simulator::start(SimConfig {
        seed: vec![("DomainCDR".into(), cdrs)],
        ..Default::default()
    })
    .unwrap()
}

/// Every CDR at the server, in id order.
fn source(s: &Simulator) -> Vec<Value> {
    let c = runtel_client::Client::builder(s.url())
        .credentials(DEFAULT_LOGIN, DEFAULT_PASSWORD)
        .build()
        .unwrap();
    c.records("DomainCDR", json!({}), 10_000)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn assert_equal(case: &Case, want: &[Value]) {
    let rows = case.rows();
    assert_eq!(rows.len(), want.len(), "{}: rows", case.name());
    for ((id, rec), w) in rows.iter().zip(want) {
        assert_eq!(Some(*id), w["id"].as_i64(), "{}", case.name());
        assert_eq!(rec, w, "{}: record {id}", case.name());
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run(c: &mut Command) -> Output {
    c.output().unwrap()
}

/// The numbers of a text summary line (`runtel: sync: N new, N updated, N unchanged, N pages`).
fn summary(stderr: &str) -> (u64, u64, u64, u64) {
    let line = stderr
        .lines()
        .rfind(|l| l.starts_with("runtel: sync: ") && l.contains(" new, "))
        .unwrap_or_else(|| panic!("no summary line in {stderr}"));
    let n: Vec<u64> = line
        .split([' ', ','])
        .filter_map(|w| w.parse().ok())
        .collect();
    (n[0], n[1], n[2], n[3])
}

fn kill(child: &Child, sig: i32) {
    let status = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn killed_with_sigkill_in_the_middle_of_a_page_a_rerun_leaves_no_gap_and_no_duplicate() {
    let s = sim(12_000);
    let want = source(&s);
    for case in Case::all("kill9") {
        // Every page takes 700 ms to arrive: a kill right after a commit lands in
        // the middle of the next page.
        s.push_fault(
            FaultRule::times(Fault::Delay(Duration::from_millis(700)), 1_000).on_action("list"),
        );
        let mut child = case
            .cmd(&s, &["--page-size", "1000"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let committed = loop {
            match case.after_key() {
                Some(k) if k >= 3_000 => break k,
                _ => {}
            }
            assert!(
                Instant::now() < deadline,
                "{}: no 3 pages committed",
                case.name()
            );
            assert!(
                child.try_wait().unwrap().is_none(),
                "{}: ended early",
                case.name()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        kill(&child, 9);
        child.wait().unwrap();
        s.clear_faults();
        // Exactly the committed pages: no half page, no gap.
        let after_kill = case.after_key().unwrap();
        assert!(
            after_kill >= committed && after_kill % 1_000 == 0,
            "{after_kill}"
        );
        assert_equal(&case, &want[..after_kill as usize]);
        let out = run(&mut case.cmd(&s, &["--page-size", "1000"]));
        let err = text(&out.stderr);
        assert!(out.status.success(), "{}: {err}", case.name());
        assert!(err.contains("continuing an interrupted run"), "{err}");
        let (new, updated, unchanged, _) = summary(&err);
        assert_eq!(
            (new, updated, unchanged),
            (12_000 - after_kill as u64, 0, 0),
            "{err}"
        );
        assert_equal(&case, &want);
        assert_eq!(case.after_key(), None);
    }
}

#[test]
fn follow_polls_until_sigterm_and_finishes_the_page_it_is_on() {
    let s = sim(3_000);
    for case in Case::all("follow") {
        let mut child = case
            .cmd(
                &s,
                &[
                    "--page-size",
                    "1000",
                    "--follow",
                    "--every",
                    "1s",
                    "--log-format",
                    "json",
                ],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                if tx.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        let next_run = |rx: &mpsc::Receiver<String>| -> Value {
            loop {
                let line = rx
                    .recv_timeout(Duration::from_secs(60))
                    .expect("a run event within 60 s");
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| panic!("not a JSON log line: {line}"));
                if v["event"] == "run" {
                    return v;
                }
            }
        };
        let first = next_run(&rx);
        let expected_new = if case.pg { 3_005 } else { 3_000 };
        assert_eq!(first["new"], expected_new, "{}: {first}", case.name());
        for k in ["updated", "unchanged", "pages", "seconds"] {
            assert!(first.get(k).is_some(), "{first}");
        }
        // New calls arrive; a later run picks them up.
        let newest = source(&s).last().unwrap()["dt"].as_i64().unwrap();
        s.insert_records(
            "DomainCDR",
            (0..5)
                .map(|i| json!({"dt": newest + 1 + i, "src": "follow", "dst": "1"}))
                .collect(),
        )
        .unwrap();
        let later = loop {
            let r = next_run(&rx);
            if r["new"] != 0 {
                break r;
            }
        };
        assert_eq!(later["new"], 5, "{later}");
        // SIGTERM while a page is under way (each takes 1.5 s now): the page is
        // committed, the run summarised, and the tool exits 0.
        s.push_fault(
            FaultRule::times(Fault::Delay(Duration::from_millis(1500)), 100).on_action("list"),
        );
        std::thread::sleep(Duration::from_millis(1_600));
        kill(&child, 15);
        let stopped = Instant::now();
        let status = child.wait().unwrap();
        assert!(status.success(), "{}: {status:?}", case.name());
        assert!(stopped.elapsed() < Duration::from_secs(10));
        s.clear_faults();
        assert_equal(&case, &source(&s));
    }
}

#[test]
fn bad_databases_and_flags_are_clear_errors_and_write_nothing() {
    let s = sim(200);
    let home = std::env::temp_dir().join(format!("runtel-cli-sync-bad-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let case = Case {
        home: home.clone(),
        to: home.join("missing/dir/x.sqlite").display().to_string(),
        pg: false,
    };
    let out = run(&mut case.cmd(&s, &[]));
    assert_eq!(out.status.code(), Some(11), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).starts_with("runtel: error: local: database: "),
        "{}",
        text(&out.stderr)
    );

    // A table whose column has another type: refused, naming it; nothing written.
    let db = home.join("typed.sqlite");
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch(
        "CREATE TABLE domain_cdr (domain_id INTEGER NOT NULL, id INTEGER NOT NULL, \
         billsec TEXT, PRIMARY KEY (domain_id, id))",
    )
    .unwrap();
    let case = Case {
        home: home.clone(),
        to: db.display().to_string(),
        pg: false,
    };
    let out = run(&mut case.cmd(&s, &[]));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(11), "{err}");
    assert!(
        err.contains("billsec") && err.contains("nothing was changed"),
        "{err}"
    );
    let n: i64 = c
        .query_row("SELECT count(*) FROM domain_cdr", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0);

    for (flags, what) in [
        (vec!["--every", "0s", "--follow"], "--every"),
        (vec!["--overlap", "-5m"], "--overlap"),
        (vec!["--domain", "x"], "--domain"),
        (vec!["--since", "yesterday"], "--since"),
    ] {
        let out = run(&mut case.cmd(&s, &flags));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{flags:?}: {err}");
        assert!(err.contains(what), "{err}");
    }

    if let Ok(url) = std::env::var("RUNTEL_TEST_PG_URL") {
        let (head, tail) = url.rsplit_once('@').unwrap();
        let user = head.rsplit_once(':').unwrap().0;
        let case = Case {
            home: home.clone(),
            to: format!("{user}:not-the-pw-42@{tail}"),
            pg: true,
        };
        let out = run(&mut case.cmd(&s, &[]));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(11), "{err}");
        assert!(err.contains("password authentication failed"), "{err}");
        assert!(!err.contains("not-the-pw-42"), "{err}");
        // Nothing was sent to the PBX either: the database is checked first.
        assert_eq!(s.counters().requests, 0);
    }
    let _ = std::fs::remove_dir_all(&home);
}
