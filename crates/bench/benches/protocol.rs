//! The protocol crate alone: envelope building and answer parsing, in bytes per
//! second, against serde_json parsing the same bytes into a `Value` (the floor).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use runtel_protocol::{parse_response, Call, Endpoint, Expected, Limits, Secret};
use serde_json::{json, Value};

fn list_answer(records: usize) -> Vec<u8> {
    let list: Vec<Value> = (1..=records as i64)
        .map(|id| {
            json!({"id": id, "domain_id": 1, "dt": 1_704_067_200 + id * 7, "uuid": "0f6c1c52-3b2a-4e0e-a1f2-9a8b7c6d5e4f",
                   "direction": "inbound", "src": "79990001122", "dst": "101", "src_name": "Caller 42",
                   "duration": 93, "billsec": 88, "disposition": "ANSWERED", "gateway": "gw1", "record": true})
        })
        .collect();
    serde_json::to_vec(
        &json!({"action": "list", "action_id": "x1", "obj": "DomainCDR", "code": 200,
                               "notifies": [], "list": list, "total_count": records}),
    )
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let expected = Expected {
        action_id: "x1",
        obj: "DomainCDR",
        action: "list",
        secrets: &[],
    };
    let limits = Limits::default();
    for records in [1usize, 1000] {
        let body = list_answer(records);
        let mut g = c.benchmark_group(format!("parse_{records}_records"));
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function("runtel_parse_response", |b| {
            b.iter(|| parse_response(expected, 200, std::hint::black_box(&body), &limits).unwrap())
        });
        g.bench_function("serde_json_from_slice_value", |b| {
            b.iter(|| serde_json::from_slice::<Value>(std::hint::black_box(&body)).unwrap())
        });
        g.finish();
    }
    let endpoint = Endpoint::parse("https://pbx.example").unwrap();
    let token = Secret::new("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    let params = json!({"domain_id": 3, "name": "Anna", "status": 1});
    let sample = Call::new("User", "update", params.clone())
        .unwrap()
        .envelope_bytes("rt0000-1");
    let mut g = c.benchmark_group("build_request");
    g.throughput(Throughput::Bytes(sample.len() as u64));
    g.bench_function("runtel_call_to_http", |b| {
        b.iter_batched(
            || params.clone(),
            |p| {
                Call::new("User", "update", p).unwrap().to_http(
                    &endpoint,
                    "rt0000-1".into(),
                    Some(&token),
                )
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("serde_json_to_vec_envelope", |b| {
        b.iter_batched(
            || params.clone(),
            |p| serde_json::to_vec(&json!({"action": "update", "obj": "User", "action_id": "rt0000-1", "params": p})).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
