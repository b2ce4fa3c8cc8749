//! The metadata rules (docs/http-api.md): what a caller may send as
//! `user_metadata` and `app_metadata`, and how `update_metadata` merges a
//! patch into what is stored.

use serde_json::{Map, Value};

use crate::error::Error;

/// Root keys an `app_metadata` sent by a caller must not hold.
pub const RESERVED_APP_METADATA_KEYS: &[&str] = &[
    "__tenant",
    "_id",
    "blocked",
    "clientID",
    "created_at",
    "email_verified",
    "email",
    "globalClientID",
    "global_client_id",
    "identities",
    "lastIP",
    "lastLogin",
    "loginsCount",
    "metadata",
    "multifactor_last_modified",
    "multifactor",
    "updated_at",
    "user_id",
];

pub const SIGNUP_MAX_PROPERTIES: usize = 10;
pub const SIGNUP_MAX_NAME_CHARS: usize = 100;
pub const SIGNUP_MAX_VALUE_CHARS: usize = 500;

/// The two metadata objects of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    User,
    App,
}

impl Which {
    fn error(self, message: String) -> Error {
        match self {
            Which::User => Error::InvalidUserMetadata(message),
            Which::App => Error::InvalidAppMetadata(message),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Which::User => "user_metadata",
            Which::App => "app_metadata",
        }
    }
}

/// `user_metadata` at the end user's own sign-up.
pub fn check_signup_user_metadata(meta: &Map<String, Value>) -> Result<(), Error> {
    let which = Which::User;
    if meta.len() > SIGNUP_MAX_PROPERTIES {
        return Err(which.error(format!(
            "user_metadata: at sign-up it holds at most {SIGNUP_MAX_PROPERTIES} properties, not {}",
            meta.len()
        )));
    }
    for (name, value) in meta {
        let chars = name.chars().count();
        if chars == 0 || chars > SIGNUP_MAX_NAME_CHARS {
            // Not named: a cut name could show part of a secret the
            // answer's masking would no longer find whole.
            return Err(which.error(format!(
                "user_metadata: a property name of {chars} characters; at sign-up a property \
                 name is 1 to {SIGNUP_MAX_NAME_CHARS} characters"
            )));
        }
        match value {
            Value::String(s) if s.chars().count() <= SIGNUP_MAX_VALUE_CHARS => {}
            Value::String(_) => {
                return Err(which.error(format!(
                    "user_metadata.{name}: at sign-up a value is at most {SIGNUP_MAX_VALUE_CHARS} characters"
                )))
            }
            _ => {
                return Err(which.error(format!(
                    "user_metadata.{name}: at sign-up every value must be a string"
                )))
            }
        }
    }
    check_names(meta, which)
}

/// Property names, at every depth, must not contain `.` nor start with `$`.
pub fn check_names(meta: &Map<String, Value>, which: Which) -> Result<(), Error> {
    fn object(map: &Map<String, Value>, path: &str, which: Which) -> Result<(), Error> {
        for (name, inner) in map {
            let here = format!("{path}.{name}");
            if name.contains('.') {
                return Err(which.error(format!("{here}: a property name must not contain `.`")));
            }
            if name.starts_with('$') {
                return Err(which.error(format!("{here}: a property name must not start with `$`")));
            }
            value(inner, &here, which)?;
        }
        Ok(())
    }
    fn value(v: &Value, path: &str, which: Which) -> Result<(), Error> {
        match v {
            Value::Object(map) => object(map, path, which),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, item)| value(item, &format!("{path}[{i}]"), which)),
            _ => Ok(()),
        }
    }
    object(meta, which.name(), which)
}

/// An `app_metadata` sent by a caller (create, update_metadata).
pub fn check_app_metadata(meta: &Map<String, Value>) -> Result<(), Error> {
    if let Some(key) = meta
        .keys()
        .find(|k| RESERVED_APP_METADATA_KEYS.contains(&k.as_str()))
    {
        return Err(Which::App.error(format!(
            "app_metadata.{key}: `{key}` is a reserved root key"
        )));
    }
    check_names(meta, Which::App)
}

/// The merge rule of update_metadata: root properties are merged, anything
/// below the root is replaced whole, `null` deletes a property, and an empty
/// patch clears everything.
pub fn merge(current: &Map<String, Value>, patch: &Map<String, Value>) -> Map<String, Value> {
    if patch.is_empty() {
        return Map::new();
    }
    let mut out = current.clone();
    for (key, value) in patch {
        if value.is_null() {
            out.remove(key);
        } else {
            out.insert(key.clone(), value.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn signup_limits_at_their_edges() {
        let props = |n: usize| {
            obj(Value::Object(
                (0..n).map(|i| (format!("k{i}"), json!("v"))).collect(),
            ))
        };
        assert!(check_signup_user_metadata(&props(10)).is_ok());
        let e = check_signup_user_metadata(&props(11)).unwrap_err();
        assert_eq!(e.code(), "invalid_user_metadata");

        let name = |n: usize| obj(json!({ "a".repeat(n): "v" }));
        assert!(check_signup_user_metadata(&name(100)).is_ok());
        let e = check_signup_user_metadata(&name(101)).unwrap_err();
        // the rule and the name's length, not the name: a cut name could
        // show part of a secret that masking would no longer find
        let m = e.to_string();
        assert!(!m.contains("aaaa"), "{m}");
        assert!(
            m.contains("of 101 characters") && m.contains("1 to 100 characters"),
            "{m}"
        );
        assert!(check_signup_user_metadata(&name(0)).is_err());
        // characters, not bytes
        assert!(check_signup_user_metadata(&obj(json!({ "é".repeat(100): "v" }))).is_ok());

        let value = |n: usize| obj(json!({ "hobby": "x".repeat(n) }));
        assert!(check_signup_user_metadata(&value(500)).is_ok());
        let e = check_signup_user_metadata(&value(501)).unwrap_err();
        assert!(e.to_string().contains("user_metadata.hobby"), "{e}");
        for bad in [json!(1), json!(true), json!(null), json!({}), json!([])] {
            let e = check_signup_user_metadata(&obj(json!({ "n": bad }))).unwrap_err();
            assert!(e.to_string().contains("must be a string"), "{e}");
        }
    }

    #[test]
    fn names_checked_at_every_depth() {
        let cases = [
            (json!({"a.b": 1}), "user_metadata.a.b"),
            (json!({"$set": 1}), "user_metadata.$set"),
            (json!({"a": {"b": {"c.d": 1}}}), "user_metadata.a.b.c.d"),
            (json!({"a": [{"$x": 1}]}), "user_metadata.a[0].$x"),
        ];
        for (meta, field) in cases {
            let e = check_names(&obj(meta), Which::User).unwrap_err();
            assert!(e.to_string().starts_with(field), "{e}");
        }
        assert!(check_names(&obj(json!({"a$": {"b": "c.d"}})), Which::User).is_ok());
    }

    #[test]
    fn reserved_app_metadata_keys_refused_at_the_root_only() {
        for key in RESERVED_APP_METADATA_KEYS {
            let e = check_app_metadata(&obj(json!({ *key: 1 }))).unwrap_err();
            assert_eq!(e.code(), "invalid_app_metadata");
            assert!(e.to_string().contains(key));
        }
        assert!(check_app_metadata(&obj(json!({"plan": {"email": 1}}))).is_ok());
    }

    #[test]
    fn merge_rule() {
        let cur = obj(json!({"hobby": "surf", "addresses": {"home": "A"}}));
        let cases = [
            // a new root property beside the old ones
            (
                json!({"color": "red"}),
                json!({"hobby": "surf", "addresses": {"home": "A"}, "color": "red"}),
            ),
            // a nested object replaced whole
            (
                json!({"addresses": {"home": "B", "work": "C"}}),
                json!({"hobby": "surf", "addresses": {"home": "B", "work": "C"}}),
            ),
            (
                json!({"addresses": {"work": "C"}}),
                json!({"hobby": "surf", "addresses": {"work": "C"}}),
            ),
            // null deletes
            (json!({"hobby": null}), json!({"addresses": {"home": "A"}})),
            (
                json!({"absent": null}),
                json!({"hobby": "surf", "addresses": {"home": "A"}}),
            ),
            // {} clears
            (json!({}), json!({})),
        ];
        for (patch, want) in cases {
            assert_eq!(
                Value::Object(merge(&cur, &obj(patch.clone()))),
                want,
                "{patch}"
            );
        }
    }
}
