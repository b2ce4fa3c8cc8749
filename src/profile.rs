//! From what a script returns to a PROFILE (docs/scripts.md, "From a returned map
//! to a PROFILE"): one shape for the identity core, whatever the legacy table
//! looked like. Refusals name the field and the rule, never a value.

use rhai::{Dynamic, ImmutableString, Map as RhaiMap};
use serde_json::{Map, Value};

use crate::metadata::Which;
use crate::password::kdf;
use crate::script::convert;

/// The standard string fields: a string, or `()` and then absent.
pub const STRING_FIELDS: &[&str] = &[
    "email",
    "username",
    "name",
    "given_name",
    "family_name",
    "nickname",
    "picture",
    "phone_number",
];

/// FusionAuth's user fields that take a PROFILE string field as they are
/// (theirs, ours): for the export's import file and the login adapter.
pub const FUSIONAUTH_FIELDS: &[(&str, &str)] = &[
    ("email", "email"),
    ("username", "username"),
    ("firstName", "given_name"),
    ("lastName", "family_name"),
    ("fullName", "name"),
    ("imageUrl", "picture"),
    ("mobilePhone", "phone_number"),
];

/// Keycloak's user fields that take a PROFILE string field as they are
/// (theirs, ours): for the export's import file and the login adapter.
pub const KEYCLOAK_FIELDS: &[(&str, &str)] = &[
    ("email", "email"),
    ("firstName", "given_name"),
    ("lastName", "family_name"),
];

/// Every field a normalized PROFILE may hold by name ([`STRING_FIELDS`] and
/// four more); any other is a pass-through attribute.
pub const PROFILE_FIELDS: &[&str] = &[
    "user_id",
    "email",
    "email_verified",
    "username",
    "name",
    "given_name",
    "family_name",
    "nickname",
    "picture",
    "phone_number",
    "user_metadata",
    "app_metadata",
];

/// A normalized profile: its fields as the script gave them, checked and
/// renamed, and their JSON text, written once (for the size rule) and
/// answered as it is. The identity core's answer needs only the text; the
/// adapters and the export read fields, and [`Profile::to_fields`] builds a
/// JSON map for those that want all of them.
#[derive(Debug, Clone)]
pub struct Profile {
    user_id: String,
    email_verified: bool,
    /// The standard string fields given, by their names in [`STRING_FIELDS`].
    strings: Vec<(&'static str, ImmutableString)>,
    /// `None` when the script gave none (or `()`): then `{}`.
    user_metadata: Option<Dynamic>,
    app_metadata: Option<Dynamic>,
    /// What the script called app_metadata (`metadata`, its legacy name, or
    /// `app_metadata`), for a refusal to name the field it returned.
    app_metadata_given_as: &'static str,
    /// Any other attribute, passed through as JSON.
    others: Vec<(String, Dynamic)>,
    json: String,
}

/// Two profiles are equal when they answer the same JSON.
impl PartialEq for Profile {
    fn eq(&self, other: &Profile) -> bool {
        self.json == other.json
    }
}

impl Profile {
    pub fn email_verified(&self) -> bool {
        self.email_verified
    }

    /// `user_id` or a standard string field, when the profile has it.
    pub fn text(&self, field: &str) -> Option<&str> {
        if field == "user_id" {
            return Some(&self.user_id);
        }
        self.strings
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, value)| value.as_str())
    }

    /// One of the metadata objects as the script gave it (a map whose JSON
    /// form was checked); `None` when the script gave none or `()`, which
    /// the profile answers as `{}`.
    pub fn metadata_value(&self, which: Which) -> Option<&Dynamic> {
        match which {
            Which::User => self.user_metadata.as_ref(),
            Which::App => self.app_metadata.as_ref(),
        }
    }

    /// Every field, as a JSON map (built on each call, from the values
    /// themselves: not parsed back from the text, which would round some
    /// floats).
    pub fn to_fields(&self) -> Map<String, Value> {
        let json = |v: &Dynamic| convert::to_json(v).unwrap_or(Value::Null);
        let mut out = Map::new();
        out.insert("user_id".into(), self.user_id.as_str().into());
        out.insert("email_verified".into(), self.email_verified.into());
        for (name, value) in &self.strings {
            out.insert((*name).into(), value.as_str().into());
        }
        for which in [Which::User, Which::App] {
            let value = self
                .metadata_value(which)
                .map_or_else(|| Value::Object(Map::new()), json);
            out.insert(which.name().into(), value);
        }
        for (name, value) in &self.others {
            out.insert(name.clone(), json(value));
        }
        out
    }

    /// The fields as JSON text.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The JSON text of the fields, keys in order as a JSON map orders
    /// them. A pass-through value with no JSON form is refused here.
    fn write_json(&self) -> Result<String, ProfileError> {
        enum Out<'a> {
            Text(&'a str),
            Flag(bool),
            /// With the name the script gave it.
            Object(Option<&'a Dynamic>, &'a str),
            Other(&'a Dynamic),
        }
        let mut fields: Vec<(&str, Out)> = Vec::with_capacity(4 + self.strings.len());
        fields.push(("user_id", Out::Text(&self.user_id)));
        fields.push(("email_verified", Out::Flag(self.email_verified)));
        let user_metadata = Out::Object(self.user_metadata.as_ref(), "user_metadata");
        fields.push(("user_metadata", user_metadata));
        let app_metadata = Out::Object(self.app_metadata.as_ref(), self.app_metadata_given_as);
        fields.push(("app_metadata", app_metadata));
        for (name, value) in &self.strings {
            fields.push((name, Out::Text(value)));
        }
        for (name, value) in &self.others {
            fields.push((name, Out::Other(value)));
        }
        fields.sort_unstable_by(|a, b| a.0.cmp(b.0));

        let mut out = Vec::with_capacity(256);
        out.push(b'{');
        for (i, (name, value)) in fields.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let given_as = match value {
                Out::Object(_, given_as) => given_as,
                _ => name,
            };
            let written = serde_json::to_writer(&mut out, name).and_then(|()| {
                out.push(b':');
                match value {
                    Out::Text(s) => serde_json::to_writer(&mut out, s),
                    Out::Flag(b) => serde_json::to_writer(&mut out, &b),
                    Out::Object(None, _) => {
                        out.extend_from_slice(b"{}");
                        Ok(())
                    }
                    Out::Object(Some(v), _) | Out::Other(v) => {
                        serde_json::to_writer(&mut out, &convert::AsJson(v))
                    }
                }
            });
            written.map_err(|e| refuse(given_as, e.to_string()))?;
        }
        out.push(b'}');
        // serde_json writes UTF-8 only.
        String::from_utf8(out).map_err(|_| refuse("profile", "not UTF-8 once serialized"))
    }
}

/// A script result the normalization rules refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the script's result is not a valid profile: field `{field}`: {rule}")]
pub struct ProfileError {
    pub field: String,
    pub rule: String,
}

fn refuse(field: &str, rule: impl Into<String>) -> ProfileError {
    ProfileError {
        field: field.to_string(),
        rule: rule.into(),
    }
}

/// A field left out of the profile, for a warning in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub field: String,
    pub reason: &'static str,
}

/// Normalizes a script's map. `dropped` receives the fields removed because
/// they hold a password or a password hash.
pub fn normalize(
    map: RhaiMap,
    max_bytes: usize,
    dropped: &mut Vec<Dropped>,
) -> Result<Profile, ProfileError> {
    let mut user_id = None;
    let mut id = None;
    let mut app_metadata = None;
    let mut app_metadata_given_as = "app_metadata";
    let mut user_metadata = None;
    let mut email_verified = false;
    let mut strings = Vec::new();
    let mut others = Vec::new();

    for (key, value) in map {
        let key = key.as_str();
        let holds_hash = value
            .read_lock::<ImmutableString>()
            .is_some_and(|s| crate::password::recognised(&s));
        if holds_hash {
            dropped.push(Dropped {
                field: key.to_string(),
                reason: "it holds a password hash",
            });
            continue;
        }
        match key {
            // `()` (a NULL column) is absent, as for every standard field
            "user_id" | "id" | "metadata" | "app_metadata" if value.is_unit() => {}
            "user_id" => user_id = Some(id_string(key, value)?),
            "id" => id = Some(id_string(key, value)?),
            "metadata" | "app_metadata" => {
                if app_metadata.is_some() {
                    return Err(refuse(
                        key,
                        "`metadata` and `app_metadata` both given; return one of them",
                    ));
                }
                app_metadata = Some(metadata_object(key, value)?);
                if key == "metadata" {
                    app_metadata_given_as = "metadata";
                }
            }
            "user_metadata" => user_metadata = Some(metadata_object(key, value)?),
            "email_verified" => email_verified = verified_flag(value)?,
            "password" => dropped.push(Dropped {
                field: key.to_string(),
                reason: "a field named password is never forwarded",
            }),
            k => match STRING_FIELDS.iter().find(|f| **f == k) {
                Some(_) if value.is_unit() => {}
                Some(name) => {
                    let s = value
                        .into_immutable_string()
                        .map_err(|t| refuse(k, format!("must be a string or (), not {t}")))?;
                    strings.push((*name, s));
                }
                None => others.push((k.to_string(), value)),
            },
        }
    }

    // Below the standard fields, nothing of a password reaches the answer:
    // at any depth, a field named `password`, a string shaped as a hash, or
    // a string that is the request's password or a secret configuration
    // value, is left out. The standard fields are not looked at: a
    // username may be what its user chose as a password.
    others.retain_mut(|(name, value)| {
        if let Some((reason, key_hidden)) = left_out(name, value) {
            dropped.push(Dropped {
                field: shown(name, key_hidden).to_string(),
                reason,
            });
            return false;
        }
        prune(value, &mut name.clone(), dropped);
        true
    });
    for (value, name) in [
        (user_metadata.as_mut(), "user_metadata"),
        (app_metadata.as_mut(), app_metadata_given_as),
    ] {
        if let Some(Some(value)) = value {
            prune(value, &mut name.to_string(), dropped);
        }
    }

    let user_id = match (user_id, id) {
        (Some(a), Some(b)) if a != b => {
            return Err(refuse(
                "user_id",
                "`user_id` and `id` both given with different values",
            ))
        }
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => return Err(refuse("user_id", "missing: return `user_id` or `id`")),
    };
    let mut profile = Profile {
        user_id,
        email_verified,
        strings,
        user_metadata: user_metadata.flatten(),
        app_metadata: app_metadata.flatten(),
        app_metadata_given_as,
        others,
        json: String::new(),
    };
    profile.json = profile.write_json()?;
    let size = profile.json.len();
    if size > max_bytes {
        return Err(refuse(
            "profile",
            format!("{size} bytes once serialized, over max_profile_bytes ({max_bytes})"),
        ));
    }
    Ok(profile)
}

/// Why a string below the standard fields is left out, if it is: shaped
/// as a whole password hash ([`crate::password::shaped_as_hash`]) or
/// holding one ([`crate::password::holds_hash`]: ordinary text such as
/// "$5$ off" does not), or holding the request's password or a secret
/// configuration value of 8 characters or more. (A top-level string is
/// held to [`crate::password::recognised`] before.)
fn withheld(text: &str) -> Option<&'static str> {
    if crate::password::shaped_as_hash(text) || crate::password::holds_hash(text) {
        Some("it holds a password hash")
    } else if crate::script::call::holds_secret(text) {
        Some("it holds the request's password or a secret configuration value")
    } else {
        None
    }
}

/// Why an entry `key: item` below the standard fields is left out, if it
/// is, and whether its key is what is withheld. A key is looked at as a
/// value is: a map keyed by the password would answer it too.
fn left_out(key: &str, item: &Dynamic) -> Option<(&'static str, bool)> {
    if named_password(key) {
        return Some(("a field named password is never forwarded", false));
    }
    if let Some(reason) = withheld(key) {
        return Some((reason, true));
    }
    item.read_lock::<ImmutableString>()
        .and_then(|s| withheld(&s))
        .map(|reason| (reason, false))
}

/// A key as the warning's place shows it: `[redacted]` when it is what is
/// withheld.
fn shown(key: &str, key_hidden: bool) -> &str {
    if key_hidden {
        "[redacted]"
    } else {
        key
    }
}

/// Whether a field's name is `password`, in any case, spaces around.
fn named_password(name: &str) -> bool {
    name.trim().eq_ignore_ascii_case("password")
}

/// Leaves out of a map or array, at every depth, what [`withheld`] names and
/// any entry named `password`; `path` names the place for the warning (it
/// grows and shrinks back as the walk goes down and up). Most profiles have
/// nothing to leave out: they are walked once, and changed only when they
/// do.
fn prune(value: &mut Dynamic, path: &mut String, dropped: &mut Vec<Dropped>) {
    let nested = |item: &Dynamic| item.is_map() || item.is_array();
    let at = path.len();
    if value.is_map() {
        let Some(mut map) = value.write_lock::<RhaiMap>() else {
            return;
        };
        let mut any = false;
        for (key, item) in map.iter_mut() {
            if left_out(key, item).is_some() {
                any = true;
            } else if nested(item) {
                path.push('.');
                path.push_str(key);
                prune(item, path, dropped);
                path.truncate(at);
            }
        }
        if any {
            map.retain(|key, item| match left_out(key, item) {
                Some((reason, key_hidden)) => {
                    let field = format!("{path}.{}", shown(key, key_hidden));
                    dropped.push(Dropped { field, reason });
                    false
                }
                None => true,
            });
        }
    } else if value.is_array() {
        let Some(mut items) = value.write_lock::<rhai::Array>() else {
            return;
        };
        // An element left out becomes null: the others keep their places.
        for (i, item) in items.iter_mut().enumerate() {
            if let Some(reason) = item
                .read_lock::<ImmutableString>()
                .and_then(|s| withheld(&s))
            {
                let field = format!("{path}[{i}]");
                dropped.push(Dropped { field, reason });
                *item = Dynamic::UNIT;
            } else if nested(item) {
                path.push_str(&format!("[{i}]"));
                prune(item, path, dropped);
                path.truncate(at);
            }
        }
    }
}

fn id_string(field: &str, value: Dynamic) -> Result<String, ProfileError> {
    if let Ok(i) = value.as_int() {
        return Ok(i.to_string());
    }
    match value.into_immutable_string() {
        Ok(s) if s.is_empty() => Err(refuse(field, "must not be an empty string")),
        Ok(s) => Ok(s.to_string()),
        Err(t) => Err(refuse(
            field,
            format!("must be a non-empty string or an integer, not {t}"),
        )),
    }
}

/// A metadata field: a map (its JSON form checked when the profile is
/// written), or `()` and then `None`.
fn metadata_object(field: &str, value: Dynamic) -> Result<Option<Dynamic>, ProfileError> {
    if value.is_unit() {
        return Ok(None);
    }
    if value.is_string() {
        return Err(refuse(
            field,
            "must be an object, not a string; decode a JSON column with json::parse",
        ));
    }
    if !value.is_map() {
        return Err(refuse(
            field,
            format!("must be an object or (), not {}", value.type_name()),
        ));
    }
    Ok(Some(value))
}

fn verified_flag(value: Dynamic) -> Result<bool, ProfileError> {
    if value.is_unit() {
        return Ok(false);
    }
    if let Ok(b) = value.as_bool() {
        return Ok(b);
    }
    match value.as_int() {
        Ok(0) => Ok(false),
        Ok(1) => Ok(true),
        _ => Err(refuse(
            "email_verified",
            "must be a bool, 0, 1 or (), as a TINYINT(1) column gives it",
        )),
    }
}

/// A user's stable id on another platform (the adapters' and the
/// export's alike): the UUID version 5 of
/// `customdb:{connection}:{user_id}` in RFC 4122's URL namespace.
pub fn stable_id(connection: &str, user_id: &str) -> String {
    const URL_NAMESPACE: [u8; 16] = [
        0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30,
        0xc8,
    ];
    let name = format!("customdb:{connection}:{user_id}");
    let digest = kdf::Digest::Sha1.of(&[&URL_NAMESPACE, name.as_bytes()]);
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = kdf::hex_encode(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rhai::{Array, Blob};

    fn map(pairs: Vec<(&str, Dynamic)>) -> RhaiMap {
        pairs.into_iter().map(|(k, v)| (k.into(), v)).collect()
    }
    fn meta(pairs: Vec<(&str, Dynamic)>) -> Dynamic {
        Dynamic::from_map(map(pairs))
    }
    fn norm(pairs: Vec<(&str, Dynamic)>) -> Result<Profile, ProfileError> {
        normalize(map(pairs), 10240, &mut Vec::new())
    }
    fn ok(pairs: Vec<(&str, Dynamic)>) -> Value {
        Value::Object(norm(pairs).unwrap().to_fields())
    }
    fn refused(pairs: Vec<(&str, Dynamic)>) -> ProfileError {
        norm(pairs).unwrap_err()
    }

    #[test]
    fn stable_ids_are_uuid_v5_of_the_connection_and_user() {
        // RFC 4122's URL namespace; checked with Python's uuid.uuid5
        assert_eq!(
            stable_id("shop", "1"),
            "beec0ba2-b644-5fe6-aab4-9ac3fc2a79a3"
        );
        assert_ne!(stable_id("shop", "2"), stable_id("shop", "1"));
    }

    #[test]
    fn user_id_from_user_id_or_id() {
        assert_eq!(ok(vec![("user_id", "42".into())])["user_id"], "42");
        assert_eq!(ok(vec![("id", 42_i64.into())])["user_id"], "42");
        assert!(ok(vec![("id", 42_i64.into())]).get("id").is_none());
        assert_eq!(
            ok(vec![("id", 7_i64.into()), ("user_id", "7".into())])["user_id"],
            "7"
        );
        for (pairs, field) in [
            (
                vec![("id", 7_i64.into()), ("user_id", "8".into())],
                "user_id",
            ),
            (vec![("user_id", "".into())], "user_id"),
            (vec![("id", 1.5_f64.into())], "id"),
            (vec![("id", true.into())], "id"),
            (vec![("email", "a@b".into())], "user_id"),
        ] {
            assert_eq!(refused(pairs).field, field);
        }
    }

    #[test]
    fn metadata_becomes_app_metadata() {
        let p = ok(vec![
            ("id", 1_i64.into()),
            ("metadata", meta(vec![("plan", "full".into())])),
        ]);
        assert_eq!(p["app_metadata"]["plan"], "full");
        assert!(p.get("metadata").is_none());
        let p = ok(vec![
            ("id", 1_i64.into()),
            ("app_metadata", meta(vec![("plan", "x".into())])),
        ]);
        assert_eq!(p["app_metadata"]["plan"], "x");
        let e = refused(vec![
            ("id", 1_i64.into()),
            ("metadata", meta(vec![])),
            ("app_metadata", meta(vec![])),
        ]);
        assert!(e.rule.contains("both"));
    }

    #[test]
    fn metadata_unit_is_empty_string_refused_with_hint() {
        for field in ["metadata", "user_metadata", "app_metadata"] {
            let p = ok(vec![("id", 1_i64.into()), (field, Dynamic::UNIT)]);
            let out = if field == "user_metadata" {
                "user_metadata"
            } else {
                "app_metadata"
            };
            assert_eq!(p[out], serde_json::json!({}));
            let e = refused(vec![("id", 1_i64.into()), (field, "{\"a\":1}".into())]);
            assert_eq!(e.field, field);
            assert!(e.rule.contains("json::parse"));
            let e = refused(vec![("id", 1_i64.into()), (field, 5_i64.into())]);
            assert_eq!(e.field, field);
        }
        let p = ok(vec![("id", 1_i64.into())]);
        assert_eq!(p["user_metadata"], serde_json::json!({}));
        assert_eq!(p["app_metadata"], serde_json::json!({}));
        // `()` beside the other name is absent, as a NULL column would be
        let p = ok(vec![
            ("id", 1_i64.into()),
            ("metadata", Dynamic::UNIT),
            ("app_metadata", meta(vec![("plan", "full".into())])),
        ]);
        assert_eq!(p["app_metadata"], serde_json::json!({"plan": "full"}));
    }

    #[test]
    fn a_unit_id_is_absent() {
        let p = ok(vec![("id", Dynamic::UNIT), ("user_id", "8".into())]);
        assert_eq!(p["user_id"], "8");
        let e = refused(vec![("id", Dynamic::UNIT), ("user_id", Dynamic::UNIT)]);
        assert!(e.rule.contains("missing"), "{}", e.rule);
    }

    #[test]
    fn email_verified_forms() {
        for (v, want) in [
            (Dynamic::from(true), true),
            (Dynamic::from(false), false),
            (Dynamic::from(1_i64), true),
            (Dynamic::from(0_i64), false),
            (Dynamic::UNIT, false),
        ] {
            assert_eq!(
                ok(vec![("id", 1_i64.into()), ("email_verified", v)])["email_verified"],
                want
            );
        }
        assert_eq!(ok(vec![("id", 1_i64.into())])["email_verified"], false);
        for bad in [Dynamic::from(2_i64), Dynamic::from("true")] {
            assert_eq!(
                refused(vec![("id", 1_i64.into()), ("email_verified", bad)]).field,
                "email_verified"
            );
        }
    }

    #[test]
    fn standard_string_fields() {
        for field in STRING_FIELDS {
            let p = ok(vec![("id", 1_i64.into()), (field, "v".into())]);
            assert_eq!(p[*field], "v");
            let p = ok(vec![("id", 1_i64.into()), (field, Dynamic::UNIT)]);
            assert!(p.get(*field).is_none());
            let e = refused(vec![("id", 1_i64.into()), (field, 3_i64.into())]);
            assert_eq!(e.field, *field);
        }
    }

    #[test]
    fn passwords_and_hashes_are_dropped() {
        let hash = "$2y$10$abcdefghijklmnopqrstuu5Bz1ON1jKvQX0rGUqHKJ8Tc6hJ8rGie";
        let mut dropped = Vec::new();
        let p = normalize(
            map(vec![
                ("id", 1_i64.into()),
                ("password", "plain".into()),
                ("pass_hash", hash.into()),
                ("nickname", hash.into()),
                ("note", "$2y$ is bcrypt".into()),
            ]),
            10240,
            &mut dropped,
        )
        .unwrap()
        .to_fields();
        assert!(p.get("password").is_none() && p.get("pass_hash").is_none());
        assert!(p.get("nickname").is_none());
        assert_eq!(p["note"], "$2y$ is bcrypt");
        let fields: Vec<_> = dropped.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["nickname", "pass_hash", "password"]);
    }

    /// A hash `password::verify` would refuse as malformed is still a
    /// hash: cut one character short, one too long, with a line break
    /// after it, a phpass or Drupal value of the wrong length; `{noop}`
    /// holds a plain password.
    #[test]
    fn malformed_hashes_and_plain_braced_passwords_are_dropped_too() {
        let bcrypt = "$2b$04$o1MoTMJFN7.I2PK.Wuw26OXNk/diLdK5Ij2oU1CPGgmhkclh2T13L";
        let bad = [
            bcrypt[..59].to_string(),
            format!("{bcrypt}x"),
            format!("{bcrypt}\n"),
            "$P$HY7Mnyd5fRtE6bDe6xMGaKiue9vlIF".to_string(),
            "$S$DUO.cTsEbWm8Tpm4rbDjmkLh4KzkMxP4oRm1HHn8blbHAfMLu4".to_string(),
        ];
        for value in bad
            .into_iter()
            .chain(["{noop}my secret pw".into(), "{noop}abc".into()])
        {
            let text = || Dynamic::from(value.clone());
            let mut dropped = Vec::new();
            let p = normalize(
                map(vec![
                    ("id", 1_i64.into()),
                    ("nickname", text()),
                    ("user_metadata", meta(vec![("deep", text())])),
                    ("list", vec![text()].into()),
                ]),
                10240,
                &mut dropped,
            )
            .unwrap()
            .to_fields();
            assert!(p.get("nickname").is_none(), "{value:?}: {p:?}");
            assert_eq!(p["user_metadata"], serde_json::json!({}), "{value:?}");
            assert_eq!(p["list"], serde_json::json!([null]), "{value:?}");
        }
    }

    #[test]
    fn other_attributes_pass_through_as_json() {
        let arr: Array = vec![1_i64.into(), "x".into()];
        let p = ok(vec![
            ("id", 1_i64.into()),
            ("logins", 3_i64.into()),
            ("score", 1.5_f64.into()),
            ("tags", arr.into()),
            ("nested", meta(vec![("a", Dynamic::UNIT)])),
            ("raw", Dynamic::from_blob(Blob::from([1u8, 2]))),
        ]);
        assert_eq!(p["logins"], 3);
        assert_eq!(p["score"], 1.5);
        assert_eq!(p["tags"], serde_json::json!([1, "x"]));
        assert_eq!(p["nested"], serde_json::json!({"a": null}));
        assert_eq!(p["raw"], serde_json::json!([1, 2]));
        let e = refused(vec![("id", 1_i64.into()), ("bad", f64::NAN.into())]);
        assert_eq!(e.field, "bad");
        for field in ["metadata", "app_metadata", "user_metadata"] {
            let e = refused(vec![
                ("id", 1_i64.into()),
                (field, meta(vec![("x", f64::INFINITY.into())])),
            ]);
            assert_eq!(e.field, field);
            assert!(e.rule.contains("not finite"), "{}", e.rule);
        }
    }

    #[test]
    fn json_text_is_the_fields_in_json_map_order() {
        let p = norm(vec![
            (
                "metadata",
                meta(vec![("roles", vec![Dynamic::from("a")].into())]),
            ),
            ("zeta", 2.5_f64.into()),
            ("email", "a@b.c\n\"".into()),
            ("id", 9_i64.into()),
            ("aa", Dynamic::UNIT),
            ("given_name", "Ann".into()),
        ])
        .unwrap();
        let want = serde_json::json!({
            "aa": null, "app_metadata": {"roles": ["a"]}, "email": "a@b.c\n\"",
            "email_verified": false, "given_name": "Ann", "user_id": "9",
            "user_metadata": {}, "zeta": 2.5,
        });
        assert_eq!(p.json(), serde_json::to_string(&want).unwrap());
        assert_eq!(Value::Object(p.to_fields()), want);
        assert_eq!(p.text("email"), Some("a@b.c\n\""));
        assert_eq!(p.text("user_id"), Some("9"));
        assert_eq!(p.text("family_name"), None);
        assert!(p.metadata_value(Which::App).is_some_and(Dynamic::is_map));
        assert!(p.metadata_value(Which::User).is_none());
    }

    #[test]
    fn size_limit() {
        let big = "x".repeat(200);
        let e = normalize(
            map(vec![("id", 1_i64.into()), ("bio", big.into())]),
            100,
            &mut Vec::new(),
        )
        .unwrap_err();
        assert_eq!(e.field, "profile");
        assert!(e.rule.contains("max_profile_bytes"));
    }
}
