//! Arbitrary answers (status, Date header, body) through the parser: no panic, and
//! the invariants every front end relies on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runtel_protocol::{
    check_list_answer, classify_auth_error, scan_list_records, is_success_envelope, parse_http_date, parse_response, Expected, Limits, ServerDateTime,
};

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let status = u16::from_le_bytes([data[0], data[1]]) % 1000;
    let split = usize::from(data[2]).min(data.len() - 3);
    let (date, body) = data[3..].split_at(split);
    if let Ok(text) = std::str::from_utf8(date) {
        let _ = parse_http_date(text);
        let _ = text.parse::<ServerDateTime>();
    }
    let limits = Limits { max_body_bytes: 64 * 1024, error_excerpt_bytes: 256 };
    let expected = Expected::new("rt-1", "User", "list");
    match parse_response(expected, status, body, &limits) {
        Ok(r) => {
            assert!((200..300).contains(&status));
            assert_eq!(r.code(), 200);
            assert!(is_success_envelope(expected, status, r.envelope()));
            let _ = r.records();
            let _ = r.record();
            // What fetches pages ahead must agree with the parser on a success.
            if let Ok(check) = check_list_answer(expected, status, body, &limits) {
                assert_eq!(check.records, r.records().len());
                assert_eq!(check.total_count, r.total_count());
                let ids: Vec<String> = r
                    .records()
                    .iter()
                    .filter_map(|rec| match rec.get("id")? {
                        serde_json::Value::Null => None,
                        serde_json::Value::String(s) => Some(s.clone()),
                        other => Some(other.to_string()),
                    })
                    .collect();
                assert_eq!(check.ids, ids);
                // Where the check found the records: what the scan finds,
                // one span per record, each id inside its record.
                if let Some(spans) = &check.spans {
                    assert_eq!(Some(spans), scan_list_records(body).as_ref());
                    assert_eq!(spans.len(), check.records);
                    for span in spans {
                        assert!(body.get(span.text.clone()).is_some());
                        if let Some(id) = &span.id {
                            assert!(span.text.start < id.start && id.end < span.text.end);
                        }
                    }
                }
            } else {
                panic!("the list check refused a success");
            }
        }
        Err(e) => {
            let text = e.to_string();
            assert!(text.len() < 2048, "error messages stay bounded");
            if let Some(info) = e.api_info() {
                assert!(info.raw_body.len() <= limits.error_excerpt_bytes);
            }
            let _ = classify_auth_error(e);
        }
    }
});
