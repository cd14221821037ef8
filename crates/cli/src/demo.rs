//! `runtel demo`: the main job end to end on an in-process simulator.

use std::time::Instant;

use runtel_client::Client;
use runtel_sim::{SimConfig, Simulator, DEFAULT_LOGIN, DEFAULT_PASSWORD};
use serde_json::json;

use crate::export::{ExportJob, Format};
use crate::failure::{Failure, Result};
use crate::terminal;

/// `println!` that ends the demo quietly, instead of panicking, when the reader
/// of stdout has gone (`runtel demo | head`).
macro_rules! say {
    ($($arg:tt)*) => {
        terminal::out(&format!($($arg)*))?
    };
}

fn step(n: u32, text: &str) -> Result<()> {
    say!("\n[{n}] {text}");
    Ok(())
}

/// Runs the demo on a simulator seeded with `cdrs` call records.
pub fn run(cdrs: u64) -> Result<()> {
    let started = Instant::now();
    let sim = Simulator::start(SimConfig {
        seed: vec![("User".into(), 12), ("DomainCDR".into(), cdrs)],
        ..SimConfig::default()
    })
    .map_err(|e| Failure::local(format!("cannot start the simulator: {e}")))?;
    say!(
        "runtel demo: a simulated Runtel PBX is serving {} (no network needed)",
        sim.url()
    );

    let client = Client::builder(sim.url()).build()?;

    step(1, &format!("log in as {DEFAULT_LOGIN}"))?;
    let info = client.login(DEFAULT_LOGIN, DEFAULT_PASSWORD)?;
    say!(
        "    user #{} {:?}, role {:?} (type {}), PBX {:?}, token valid until {} UTC",
        info.user_id,
        info.user_login,
        info.role_name,
        info.role_type,
        info.domain_name.as_deref().unwrap_or("-"),
        info.exp
    );
    say!("    token: {} (never printed, never logged)", info.token);

    step(2, "list users")?;
    let users = client.call("User", "list", json!({}))?;
    say!(
        "    {} users; first five:",
        users.total_count().unwrap_or(0)
    );
    for u in users.records().iter().take(5) {
        say!(
            "      #{:<3} {:<28} {}",
            u["id"],
            u["login"].as_str().unwrap_or(""),
            u["name"].as_str().unwrap_or("")
        );
    }

    step(3, "create, update and delete a user")?;
    let created = client.call(
        "User",
        "append",
        json!({"login": "demo.user@sim.runtel.local", "password": "Demo-pass-1", "name": "Demo",
               "surname": "User", "status": 1}),
    )?;
    let id = created.body()["id"].as_i64().unwrap_or_default();
    say!("    created user #{id} {}", created.body()["login"]);
    let updated = client.call(
        "User",
        "update",
        json!({"id": id, "surname": "Renamed", "status": 0}),
    )?;
    say!(
        "    updated: surname {}, status {}",
        updated.body()["surname"],
        updated.body()["status"]
    );
    match client.call(
        "User",
        "append",
        json!({"login": "not-an-email", "name": ""}),
    ) {
        Err(e) => say!("    a bad record is refused with details: {e}"),
        Ok(_) => say!("    (unexpected: the bad record was accepted)"),
    }
    client.call("User", "delete", json!({"id": id}))?;
    say!("    deleted user #{id}");

    step(
        4,
        &format!("export {cdrs} CDRs, 1000 per page, to JSON Lines"),
    )?;
    let dir = std::env::temp_dir().join(format!("runtel-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Failure::local(e.to_string()))?;
    let out = dir.join("cdrs.jsonl");
    let t = Instant::now();
    let summary = ExportJob {
        obj: "DomainCDR".into(),
        action: "list".into(),
        params: json!({}),
        filter: serde_json::Value::Null,
        since: None,
        format: Format::Jsonl,
        page_size: 1000,
        output: Some(out.clone()),
        resume: false,
        progress: true,
        csv_raw_formulas: false,
        csv: crate::output::Csv::default(),
        consistent: false,
        allow_drift: false,
    }
    .run(&client)?;
    let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    say!(
        "    {} records, {:.1} MB in {:.2} s -> {}",
        summary.records,
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64(),
        out.display()
    );
    let _ = std::fs::remove_dir_all(&dir);

    step(5, "log out")?;
    client.logout()?;
    let k = sim.counters();
    say!(
        "    done. The server saw {} requests, {} login(s).",
        k.requests,
        k.auth_attempts
    );
    say!("\nFinished in {:.2} s.", started.elapsed().as_secs_f64());
    Ok(())
}
