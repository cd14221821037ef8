//! Arbitrary obj/action/params/token through request building: no panic, invalid
//! input is a typed error, a built envelope reads back to the same call, and the
//! token never shows in what is printable.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use runtel_protocol::{Call, Endpoint, ErrorKind, Secret};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    base: &'a str,
    obj: &'a str,
    action: &'a str,
    params: &'a [u8],
    filter: &'a [u8],
    limit: Option<u64>,
    token: &'a str,
}

fuzz_target!(|input: Input<'_>| {
    let params = serde_json::from_slice(input.params).unwrap_or(serde_json::Value::Null);
    let call = match Call::new(input.obj, input.action, params) {
        Ok(c) => c,
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            return;
        }
    };
    let filter = serde_json::from_slice(input.filter).unwrap_or(serde_json::Value::Null);
    let call = match call.filter(filter) {
        Ok(c) => c,
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            return;
        }
    };
    let call = match input.limit {
        Some(l) => call.limit(l),
        None => call,
    };
    let endpoint = Endpoint::parse(input.base).unwrap_or_else(|_| Endpoint::parse("https://pbx.example").unwrap());
    let token = Secret::new(input.token);
    let req = call.to_http(&endpoint, "rt-7".into(), Some(&token));
    let (back, id) = Call::from_envelope(&req.body).expect("our own envelope reads back");
    assert_eq!(back, call);
    assert_eq!(id, "rt-7");
    // A leak adds occurrences of the token to the printable forms; the same request
    // built with another token of the same length must show it exactly as often
    // (the other inputs may contain or escape into the same text by chance).
    if !input.token.is_empty() {
        let other: String = input.token.chars().map(|c| if c == '#' { '%' } else { '#' }).collect();
        let printable = |t: &str| {
            let r = call.to_http(&endpoint, "rt-7".into(), Some(&Secret::new(t)));
            format!("{r:?} {:?}", r.masked_headers())
        };
        let with_token = printable(input.token).matches(input.token).count();
        let with_other = printable(&other).matches(input.token).count();
        assert_eq!(with_token, with_other, "the token leaked into Debug or masked headers");
    }
});
