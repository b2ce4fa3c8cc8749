//! Property tests over the two places that take untrusted shapes: request
//! parsing (anything the network sends) and profile normalization (anything
//! a script returns). A bounded number of cases, so the test command stays
//! quick.

use proptest::prelude::*;
use rhai::Dynamic;
use serde_json::Value;

use crate::actions::{Action, Request};

const CASES: u32 = 256;

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::String),
        prop_oneof![Just("a@b"), Just("jane"), Just(""), Just("x.y"), Just("$z")]
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..12)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Field names the actions know, and others.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "email",
            "password",
            "username",
            "username_or_email",
            "new_password",
            "new_email",
            "email_verified",
            "user_id",
            "user_metadata",
            "app_metadata",
            "context",
            "given_name",
            "phone_number",
            "picture",
            "metadata",
            "id",
        ])
        .prop_map(String::from),
        "[a-z.$_]{0,12}",
    ]
}

fn dynamic(v: &Value) -> Dynamic {
    rhai::serde::to_dynamic(v).unwrap_or(Dynamic::UNIT)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn parsing_any_bytes_never_panics_and_refuses_with_a_4xx_code(bytes in prop::collection::vec(any::<u8>(), 0..300), a in 0usize..9) {
        let action = Action::ALL[a];
        if let Err(e) = Request::parse(action, &bytes) {
            prop_assert!(["invalid_request", "invalid_user_metadata", "invalid_app_metadata"].contains(&e.code()));
        }
    }

    #[test]
    fn parsing_any_object_keeps_the_rules(body in prop::collection::btree_map(key(), json(), 0..10), a in 0usize..9) {
        let action = Action::ALL[a];
        let body = Value::Object(body.into_iter().collect());
        match Request::parse(action, body.to_string().as_bytes()) {
            Err(e) => prop_assert!(["invalid_request", "invalid_user_metadata", "invalid_app_metadata"].contains(&e.code())),
            Ok(_) => {
                let m = body.as_object().unwrap();
                if action == Action::Signup {
                    prop_assert!(m.get("app_metadata").is_none_or(Value::is_null));
                    if let Some(Value::Object(um)) = m.get("user_metadata") {
                        prop_assert!(um.len() <= 10);
                        prop_assert!(um.values().all(Value::is_string));
                    }
                }
                for field in ["email", "new_email"] {
                    if let Some(Value::String(e)) = m.get(field) {
                        prop_assert!(e.contains('@') && e.chars().count() <= 320);
                    }
                }
                for field in ["password", "new_password"] {
                    if let Some(Value::String(p)) = m.get(field) {
                        prop_assert!(!p.is_empty() && p.chars().count() <= 1024);
                    }
                }
            }
        }
    }

    #[test]
    fn normalizing_any_map_answers_the_profile_shape_or_a_named_refusal(map in prop::collection::btree_map(key(), json(), 0..12), max in 64usize..4096) {
        let rhai: rhai::Map = map.iter().map(|(k, v)| (k.as_str().into(), dynamic(v))).collect();
        match crate::profile::normalize(rhai, max, &mut Vec::new()) {
            Err(e) => prop_assert!(!e.field.is_empty() && !e.rule.is_empty()),
            Ok(p) => {
                let p = p.to_fields();
                prop_assert!(p["user_id"].as_str().is_some_and(|s| !s.is_empty()));
                prop_assert!(p["email_verified"].is_boolean());
                prop_assert!(p["user_metadata"].is_object() && p["app_metadata"].is_object());
                for gone in ["password", "metadata", "id"] {
                    prop_assert!(p.get(gone).is_none());
                }
                for field in crate::profile::STRING_FIELDS {
                    prop_assert!(p.get(*field).is_none_or(Value::is_string));
                }
                prop_assert!(serde_json::to_vec(&p).unwrap().len() <= max);
            }
        }
    }
}
