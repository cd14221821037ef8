//! Filters built in Rust give exactly the shared wire forms of `tests/filters.json`,
//! which the other front ends check too; and they read back.

use runtel_protocol::{field, Filter, Op};
use serde_json::Value;

fn cases() -> Vec<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/filters.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["cases"].as_array().unwrap().clone()
}

#[test]
fn every_operator_builds_the_shared_wire_form() {
    let mut seen = std::collections::HashSet::new();
    for case in cases() {
        let conditions: Vec<_> = case["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let op = Op::parse(c["op"].as_str().unwrap()).unwrap();
                assert_eq!(op, Op::parse(c["name"].as_str().unwrap()).unwrap());
                seen.insert(op);
                field(c["field"].as_str().unwrap()).op(op, c["value"].clone())
            })
            .collect();
        let filter = if case["any"] == true {
            Filter::any(conditions)
        } else {
            Filter::all(conditions)
        };
        assert_eq!(filter.to_json(), case["wire"]);
        assert_eq!(
            filter.to_json().to_string(),
            case["wire_text"].as_str().unwrap()
        );
        // The `where` texts (the CLI's --where, C's runtel_filter_where) mean the same.
        let parsed: Vec<_> = case["where"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| Filter::parse_condition(w.as_str().unwrap()).unwrap())
            .collect();
        let from_text = if case["any"] == true {
            Filter::any(parsed)
        } else {
            Filter::all(parsed)
        };
        assert_eq!(from_text.to_json(), case["wire"]);
        assert_eq!(Filter::from_json(&case["wire"]).unwrap(), filter);
        // As typed on a command line: `field OP value`.
        if let [c] = &case["conditions"].as_array().unwrap()[..] {
            let text = format!(
                "{}{}{}",
                c["field"].as_str().unwrap(),
                c["op"].as_str().unwrap(),
                match &c["value"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                }
            );
            assert_eq!(
                Filter::all([Filter::parse_condition(&text).unwrap()]).to_json(),
                case["wire"],
                "{text}"
            );
        }
    }
    assert_eq!(
        seen.len(),
        Op::ALL.len(),
        "every operator has a shared case"
    );
}

#[test]
fn the_builders_read_like_the_wire() {
    let f = Filter::all([
        field("dt").ge(1_704_067_200),
        field("src_name").contains("Ив"),
    ]);
    assert_eq!(
        f.to_json(),
        serde_json::json!({"field_list": [
            {"field": "dt", "condition_type": 5, "value": 1_704_067_200},
            {"field": "src_name", "condition_type": 6, "value": "Ив"}], "type": 0})
    );
    assert!(Op::Ge.seen_in_the_field() && !Op::Contains.seen_in_the_field());
    // The first operator in the text splits it; the value may hold operator characters.
    let c = Filter::parse_condition("src_name~a=b").unwrap();
    assert_eq!(
        (c.field.as_str(), c.op, c.value.as_str()),
        ("src_name", Op::Contains, Some("a=b"))
    );
    let c = Filter::parse_condition("name=x>=y").unwrap();
    assert_eq!(
        (c.field.as_str(), c.op, c.value.as_str()),
        ("name", Op::Eq, Some("x>=y"))
    );
    let c = Filter::parse_condition("status!=1").unwrap();
    assert_eq!((c.op, c.value.as_i64()), (Op::Ne, Some(1)));
    for bad in ["dt", ">=5", "dt?5", "!dt"] {
        assert!(Filter::parse_condition(bad).is_err(), "{bad}");
    }
    assert!(Op::parse("like").is_err());
    assert!(Filter::from_json(
        &serde_json::json!({"field_list": [{"field": "a", "condition_type": 9, "value": 1}]})
    )
    .is_err());
}
