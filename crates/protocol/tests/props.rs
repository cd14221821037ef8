//! Property tests: round trips of envelopes, typed bodies and date-times, and the
//! parser's invariants on arbitrary answers.

use proptest::prelude::*;
use runtel_protocol::{
    is_success_envelope, parse_response, AuthInfo, Call, Endpoint, Expected, Limits, Secret,
    ServerDateTime,
};
use serde_json::{json, Map, Value};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e15f64..1e15).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(".{0,8}", json_value(), 0..6).prop_map(|m| m.into_iter().collect())
}

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_]{0,20}"
}

proptest! {
    #[test]
    fn call_envelope_round_trips(obj in name(), action in name(), params in object(),
                                 limit in proptest::option::of(any::<u64>()),
                                 offset in proptest::option::of(any::<u64>()),
                                 id in "[ -~]{0,16}") {
        let mut call = Call::new(&obj, &action, Value::Object(params.clone())).unwrap();
        if let Some(l) = limit { call = call.limit(l); }
        if let Some(o) = offset { call = call.offset(o); }
        let (back, back_id) = Call::from_envelope(&call.envelope_bytes(&id)).unwrap();
        prop_assert_eq!(back, call);
        prop_assert_eq!(back_id, id);
    }

    #[test]
    fn requests_never_show_the_token(obj in name(), params in object(), token in "[A-Za-z0-9]{16,64}") {
        let ep = Endpoint::parse("https://pbx.example").unwrap();
        let req = Call::new(&obj, "list", Value::Object(params)).unwrap().to_http(&ep, "1".into(), Some(&Secret::new(token.clone())));
        let shown = format!("{req:?} {:?} {}", req.masked_headers(), req.masked_body());
        prop_assert!(!shown.contains(&token));
        let bearer = format!("Bearer {}", token);
        let has_bearer = req.headers().any(|(k, v)| k == "Authorization" && v == bearer);
        prop_assert!(has_bearer);
    }

    #[test]
    fn server_datetime_round_trips(micros in -62_135_596_800_000_000i64..253_402_300_799_999_999) {
        let t = ServerDateTime::from_unix_micros(micros);
        prop_assert_eq!(t.to_string().parse::<ServerDateTime>().unwrap(), t);
        prop_assert_eq!(ServerDateTime::from_system_time(t.to_system_time()), t);
    }

    #[test]
    fn auth_info_round_trips_with_unknown_fields(user_id in any::<i64>(), role_type in -2i64..5,
            name in ".{0,20}", balance in "[0-9]{1,9}\\.[0-9]{1,4}", exp in 0i64..4_102_444_800_000_000,
            token in "[A-Za-z0-9]{8,64}", extra in object()) {
        let mut body = json!({
            "token": token, "exp": ServerDateTime::from_unix_micros(exp).to_string(), "user_id": user_id,
            "user_name": name, "role_type": role_type,
            "domain_billing_options": {"balance": balance, "block_inbound": false},
        });
        for (k, v) in extra {
            if body.get(&k).is_none() && !k.is_empty() && !["version","user_login","domain_id","domain_name","role_id","role_name",
                "role_perms","role_visible","role_filters","auth_type","domain_test_until","domain_mode","tz","locale"].contains(&k.as_str()) {
                body[k] = v;
            }
        }
        let info: AuthInfo = serde_json::from_value(body.clone()).unwrap();
        prop_assert_eq!(info.domain_billing_options.as_ref().unwrap().balance.as_deref(), Some(balance.as_str()));
        let again: AuthInfo = serde_json::from_value(info.to_json_with_token()).unwrap();
        prop_assert_eq!(&again, &info);
        let shown = format!("{:?}", info);
        prop_assert!(!shown.contains(&token));
    }

    #[test]
    fn parser_agrees_with_the_success_rule(status in prop_oneof![Just(200u16), 100u16..600], body in object(),
                                           code in prop_oneof![Just(json!(200)), json_value()],
                                           echo in prop_oneof![Just(json!("x1")), json_value()]) {
        let mut env = body;
        env.insert("code".into(), code);
        env.insert("action_id".into(), echo);
        let bytes = serde_json::to_vec(&env).unwrap();
        let exp = Expected { action_id: "x1", obj: "User", action: "list" ,    secrets: &[],};
        let parsed = parse_response(exp, status, &bytes, &Limits::default());
        prop_assert_eq!(parsed.is_ok(), is_success_envelope(exp, status, &env));
        if let Ok(r) = parsed {
            prop_assert_eq!(r.into_envelope(), env);
        } else if let Some(info) = parsed.unwrap_err().api_info() {
            prop_assert!(info.raw_body.len() <= Limits::default().error_excerpt_bytes);
        }
    }

    #[test]
    fn parser_never_panics_on_bytes(status in any::<u16>(), body in prop::collection::vec(any::<u8>(), 0..512)) {
        let exp = Expected { action_id: "x1", obj: "User", action: "list" ,    secrets: &[],};
        let limits = Limits { max_body_bytes: 256, error_excerpt_bytes: 64 };
        if let Err(e) = parse_response(exp, status, &body, &limits) {
            let text = e.to_string();
            prop_assert!(text.len() < 1024, "bounded message: {}", text.len());
        }
    }
}
