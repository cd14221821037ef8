//! Starts the simulator in-process, logs in, lists users, pages through CDRs and
//! logs out. Point `Client::builder` at a real PBX to do the same there.
//!
//! `cargo run -p runtel-client --example quickstart`

use runtel_client::Client;
use runtel_sim::{SimConfig, Simulator, DEFAULT_LOGIN, DEFAULT_PASSWORD};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Simulator::start(SimConfig {
        seed: vec![("DomainCDR".into(), 5_000)],
        ..SimConfig::default()
    })?;

    // With credentials the client logs in by itself on the first call, and again
    // whenever the token expires: no explicit login() needed.
    let client = Client::builder(sim.url())
        .credentials(DEFAULT_LOGIN, DEFAULT_PASSWORD)
        .build()?;

    let users = client.call("User", "list", ())?;
    let info = client.auth_info().expect("the first call logged in");
    println!(
        "logged in as {} on {:?}, token valid until {} (UTC)",
        info.user_login, info.domain_name, info.exp
    );
    for user in users.records() {
        println!("user {} {} <{}>", user["id"], user["name"], user["login"]);
    }

    let mut answered = 0u64;
    let mut seconds = 0u64;
    let mut records = client.records("DomainCDR", (), 1000)?;
    for cdr in records.by_ref() {
        let cdr = cdr?;
        if cdr["disposition"] == "ANSWERED" {
            answered += 1;
            seconds += cdr["billsec"].as_u64().unwrap_or(0);
        }
    }
    println!(
        "{} CDRs in {} pages: {answered} answered, {} talk minutes",
        records.total_count().unwrap_or(0),
        records.pages_fetched(),
        seconds / 60
    );

    client.logout()?;
    println!("logged out");
    println!(
        "the simulator saw {} login(s)",
        sim.counters().auth_attempts
    );
    Ok(())
}
