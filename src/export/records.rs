//! One user's record in each target's import file, and the file's framing
//! (what opens it, separates records and closes it).
//!
//! Each target's record is a struct below, its fields in that platform's
//! names, serialized straight from the profile (its metadata straight from
//! the script's maps): only the small hash and credential parts are built
//! as JSON values. Building whole records as JSON trees was most of what
//! writing them cost on a large table.

use rhai::{Dynamic, Map as RhaiMap};
use serde::ser::{Error as _, SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{json, Error as JsonError, Value};

use super::hash::NotCarried;
use super::{Options, Target, User};
use crate::metadata::{Which, RESERVED_APP_METADATA_KEYS};
use crate::profile::Profile;
use crate::script::convert::{self, AsJson};

/// A problem to report about a user, with whether the user is in the file.
#[derive(Debug, Clone)]
pub struct Problem {
    pub reason: &'static str,
    pub detail: String,
    pub exported: bool,
}

impl Problem {
    fn of(not: &NotCarried) -> Problem {
        Problem {
            reason: not.reason(),
            detail: not.detail().to_string(),
            exported: true,
        }
    }
}

/// What opens a file, separates two records, closes it.
pub fn framing(target: Target) -> (&'static str, &'static str, &'static str) {
    match target {
        Target::Auth0 | Target::Okta => ("[", ",", "]"),
        Target::Kratos => (r#"{"identities":["#, ",", "]}"),
        Target::FusionAuth => (r#"{"users":["#, ",", "]}"),
        Target::Keycloak => (r#"{"ifResourceExists":"SKIP","users":["#, ",", "]}"),
    }
}

/// Standard string fields of the profile under the target's names
/// (theirs, ours), those the profile has.
struct Texts<'a> {
    profile: &'a Profile,
    names: &'a [(&'a str, &'a str)],
}

/// A text field of the profile, `None` when absent or blank: legacy tables
/// often hold `''` (`NOT NULL DEFAULT ''`) where they mean "none", and no
/// platform takes an empty e-mail address or name.
pub(super) fn given<'a>(profile: &'a Profile, field: &str) -> Option<&'a str> {
    profile.text(field).filter(|v| !v.trim().is_empty())
}

impl Serialize for Texts<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (theirs, ours) in self.names {
            if let Some(v) = given(self.profile, ours) {
                map.serialize_entry(theirs, v)?;
            }
        }
        map.end()
    }
}

fn texts<'a>(user: &'a User, names: &'a [(&'a str, &'a str)]) -> Texts<'a> {
    Texts {
        profile: &user.profile,
        names,
    }
}

/// A metadata object, written from the script's map, some keys left out.
struct Object<'a> {
    value: Option<&'a Dynamic>,
    without: &'a [&'a str],
}

impl Serialize for Object<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(value) = self.value else {
            return s.serialize_map(Some(0))?.end();
        };
        if self.without.is_empty() {
            return AsJson(value).serialize(s);
        }
        let Some(entries) = value.read_lock::<RhaiMap>() else {
            return AsJson(value).serialize(s);
        };
        let mut map = s.serialize_map(None)?;
        for (k, v) in entries.iter() {
            if !self.without.contains(&k.as_str()) {
                map.serialize_entry(k.as_str(), &AsJson(v))?;
            }
        }
        map.end()
    }
}

fn object(user: &User, which: Which) -> Object<'_> {
    Object {
        value: user.profile.metadata_value(which),
        without: &[],
    }
}

/// A metadata object as JSON text (for the platforms that keep it in a
/// string attribute).
fn object_text(user: &User, which: Which) -> Result<String, String> {
    user.profile
        .metadata_value(which)
        .map_or_else(|| Ok("{}".into()), convert::json_text)
}

/// The user's id on the platforms that want a UUID: stable, so that a
/// resumed or repeated export gives each user the same one.
fn uuid(options: &Options, user: &User) -> String {
    crate::profile::stable_id(&options.connection, &user.user_id)
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Auth0's bulk import: one user.
#[derive(Serialize)]
struct Auth0<'a> {
    user_id: &'a str,
    #[serde(flatten)]
    texts: Texts<'a>,
    email_verified: bool,
    #[serde(skip_serializing_if = "is_false")]
    blocked: bool,
    user_metadata: Object<'a>,
    app_metadata: Object<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_password_hash: Option<Value>,
}

const AUTH0_FIELDS: &[(&str, &str)] = &[
    ("email", "email"),
    ("username", "username"),
    ("given_name", "given_name"),
    ("family_name", "family_name"),
    ("name", "name"),
    ("nickname", "nickname"),
    ("picture", "picture"),
    ("phone_number", "phone_number"),
];

/// Okta's create-user request: `activate` and the body.
#[derive(Serialize)]
struct Okta<'a> {
    activate: bool,
    body: OktaBody<'a>,
}

#[derive(Serialize)]
struct OktaBody<'a> {
    profile: OktaProfile<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    credentials: Option<Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OktaProfile<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    login: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    legacy_user_id: &'a str,
    #[serde(flatten)]
    texts: Texts<'a>,
    user_metadata: String,
    app_metadata: String,
}

const OKTA_FIELDS: &[(&str, &str)] = &[
    ("legacyUsername", "username"),
    ("firstName", "given_name"),
    ("lastName", "family_name"),
    ("displayName", "name"),
    ("nickName", "nickname"),
    ("mobilePhone", "phone_number"),
];

/// Kratos's identity patch: a create.
#[derive(Serialize)]
struct Kratos<'a> {
    patch_id: String,
    create: KratosIdentity<'a>,
}

#[derive(Serialize)]
struct KratosIdentity<'a> {
    schema_id: &'a str,
    external_id: &'a str,
    traits: KratosTraits<'a>,
    state: &'static str,
    metadata_public: KratosMetadata<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verifiable_addresses: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    credentials: Option<Value>,
}

#[derive(Serialize)]
struct KratosTraits<'a> {
    email: Option<&'a str>,
}

#[derive(Serialize)]
struct KratosMetadata<'a> {
    #[serde(flatten)]
    texts: Texts<'a>,
    user_metadata: Object<'a>,
    app_metadata: Object<'a>,
}

const KRATOS_FIELDS: &[(&str, &str)] = &[
    ("username", "username"),
    ("given_name", "given_name"),
    ("family_name", "family_name"),
    ("name", "name"),
    ("nickname", "nickname"),
    ("picture", "picture"),
    ("phone_number", "phone_number"),
];

/// FusionAuth's import: one user, the hash's fields among the user's.
#[derive(Serialize)]
struct FusionAuth<'a> {
    id: String,
    #[serde(flatten)]
    texts: Texts<'a>,
    verified: bool,
    active: bool,
    data: FusionAuthData<'a>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    hash: Option<Value>,
}

#[derive(Serialize)]
struct FusionAuthData<'a> {
    legacy_user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    nickname: Option<&'a str>,
    user_metadata: Object<'a>,
    app_metadata: Object<'a>,
}

/// Keycloak's realm import: one user.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Keycloak<'a> {
    id: String,
    username: &'a str,
    #[serde(flatten)]
    texts: Texts<'a>,
    enabled: bool,
    email_verified: bool,
    attributes: KeycloakAttributes<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    credentials: Option<[Value; 1]>,
}

/// Keycloak's attributes are lists of strings.
struct KeycloakAttributes<'a> {
    user: &'a User,
}

impl Serialize for KeycloakAttributes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let user = self.user;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("legacy_user_id", &[&user.user_id])?;
        for field in ["name", "nickname", "picture", "phone_number"] {
            if let Some(v) = given(&user.profile, field) {
                map.serialize_entry(field, &[v])?;
            }
        }
        for which in [Which::User, Which::App] {
            let text = object_text(user, which).map_err(S::Error::custom)?;
            map.serialize_entry(which.name(), &[text])?;
        }
        map.end()
    }
}

fn okta(user: &User, email: Option<&str>, hash: Option<Value>) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(&Okta {
        activate: !user.blocked,
        body: OktaBody {
            profile: OktaProfile {
                login: email,
                email,
                legacy_user_id: &user.user_id,
                texts: texts(user, OKTA_FIELDS),
                user_metadata: object_text(user, Which::User).map_err(JsonError::custom)?,
                app_metadata: object_text(user, Which::App).map_err(JsonError::custom)?,
            },
            credentials: hash.map(|h| json!({ "password": { "hash": h } })),
        },
    })
}

/// The user's record as JSON, and the problems to report. `None`: the
/// user is left out (reported).
pub fn record(target: Target, options: &Options, user: &User) -> (Option<Vec<u8>>, Vec<Problem>) {
    let mut problems = Vec::new();
    let email = given(&user.profile, "email");
    let username = given(&user.profile, "username");
    let identifier_ok = match target {
        Target::Auth0 | Target::Okta | Target::Kratos => email.is_some(),
        Target::FusionAuth | Target::Keycloak => email.is_some() || username.is_some(),
    };
    if !identifier_ok {
        let field = match target {
            Target::Auth0 | Target::Okta | Target::Kratos => "email",
            _ => "email or username",
        };
        problems.push(Problem {
            reason: "missing_field",
            detail: field.into(),
            exported: false,
        });
        return (None, problems);
    }
    let hash = match &user.hash {
        Ok(stored) => stored.for_target(target),
        Err(not) => Err(not.clone()),
    };
    if let Err(not) = &hash {
        problems.push(Problem::of(not));
    }
    let hash = hash.ok();
    let verified = user.profile.email_verified();
    let written = match target {
        Target::Auth0 => {
            let app = user.profile.metadata_value(Which::App);
            let present = |key: &str| {
                app.and_then(|m| m.read_lock::<RhaiMap>())
                    .is_some_and(|m| m.contains_key(key))
            };
            for key in RESERVED_APP_METADATA_KEYS.iter().filter(|k| present(k)) {
                problems.push(Problem {
                    reason: "reserved_key",
                    detail: (*key).into(),
                    exported: true,
                });
            }
            serde_json::to_vec(&Auth0 {
                user_id: &user.user_id,
                texts: texts(user, AUTH0_FIELDS),
                email_verified: verified,
                blocked: user.blocked,
                user_metadata: object(user, Which::User),
                app_metadata: Object {
                    value: app,
                    without: RESERVED_APP_METADATA_KEYS,
                },
                custom_password_hash: hash,
            })
        }
        Target::Okta => okta(user, email, hash),
        Target::Kratos => {
            let credentials = match hash {
                Some(h) => Some(json!({ "password": { "config": { "hashed_password": h } } })),
                None if options.kratos_migration_hook => Some(json!({ "password": { "config": {
                    "hashed_password": "", "use_password_migration_hook": true,
                } } })),
                None => None,
            };
            serde_json::to_vec(&Kratos {
                patch_id: uuid(options, user),
                create: KratosIdentity {
                    schema_id: &options.kratos_schema_id,
                    external_id: &user.user_id,
                    traits: KratosTraits { email },
                    state: if user.blocked { "inactive" } else { "active" },
                    metadata_public: KratosMetadata {
                        texts: texts(user, KRATOS_FIELDS),
                        user_metadata: object(user, Which::User),
                        app_metadata: object(user, Which::App),
                    },
                    verifiable_addresses: verified.then(|| {
                        json!([{
                            "value": email, "verified": true, "via": "email", "status": "completed",
                        }])
                    }),
                    credentials,
                },
            })
        }
        Target::FusionAuth => serde_json::to_vec(&FusionAuth {
            id: uuid(options, user),
            texts: texts(user, crate::profile::FUSIONAUTH_FIELDS),
            verified,
            active: !user.blocked,
            data: FusionAuthData {
                legacy_user_id: &user.user_id,
                nickname: given(&user.profile, "nickname"),
                user_metadata: object(user, Which::User),
                app_metadata: object(user, Which::App),
            },
            hash: hash.filter(Value::is_object),
        }),
        Target::Keycloak => serde_json::to_vec(&Keycloak {
            id: uuid(options, user),
            username: username.or(email).unwrap_or_default(),
            texts: texts(user, crate::profile::KEYCLOAK_FIELDS),
            enabled: !user.blocked,
            email_verified: verified,
            attributes: KeycloakAttributes { user },
            credentials: hash.map(|h| [h]),
        }),
    };
    match written {
        Ok(bytes) => (Some(bytes), problems),
        // Not expected: every value was checked when normalized.
        Err(e) => {
            for p in &mut problems {
                p.exported = false;
            }
            problems.push(Problem {
                reason: "invalid_profile",
                detail: e.to_string(),
                exported: false,
            });
            (None, problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use rhai::Dynamic;
    use serde_json::json;

    use super::*;
    use crate::export::hash;

    fn options(target: Target, hook: bool) -> Options {
        Options {
            connection: "shop".into(),
            target,
            out: PathBuf::from("out.json"),
            page_size: 1000,
            report: None,
            resume: false,
            overwrite: false,
            max_file_bytes: None,
            max_file_users: None,
            kratos_schema_id: "preset://email".into(),
            kratos_migration_hook: hook,
        }
    }

    fn user(hash: &str, blocked: bool, verified: bool) -> User {
        let mut app = RhaiMap::new();
        app.insert("plan".into(), "full".into());
        app.insert("roles".into(), Dynamic::from_array(vec!["admin".into()]));
        app.insert("blocked".into(), true.into());
        let mut prefs = RhaiMap::new();
        prefs.insert("ratio".into(), (1.0_f64 / 11.0).into());
        let mut map = RhaiMap::new();
        for (k, v) in [
            ("email", "ann@example.com"),
            ("username", "ann"),
            ("given_name", "Ann"),
            ("family_name", "Lee"),
            ("name", "Ann Lee"),
            ("nickname", "annie"),
            ("picture", "https://x/a.png"),
            ("phone_number", "+15550100"),
        ] {
            map.insert(k.into(), v.into());
        }
        map.insert("id".into(), 7_i64.into());
        map.insert("email_verified".into(), verified.into());
        map.insert("metadata".into(), Dynamic::from_map(app));
        map.insert("user_metadata".into(), Dynamic::from_map(prefs));
        let profile = crate::profile::normalize(map, 10_240, &mut Vec::new()).unwrap();
        User {
            user_id: "7".into(),
            profile,
            blocked,
            hash: hash::parse(hash),
        }
    }

    const BCRYPT: &str = "$2y$10$abcdefghijklmnopqrstuu5Bz1ON1jKvQX0rGUqHKJ8Tc6hJ8rGie";

    fn record_of(target: Target, user: &User, hook: bool) -> (Value, Vec<Problem>) {
        let (bytes, problems) = record(target, &options(target, hook), user);
        (serde_json::from_slice(&bytes.unwrap()).unwrap(), problems)
    }

    #[test]
    fn each_platform_gets_its_record_shape() {
        let ratio = 1.0_f64 / 11.0;
        let u = user(BCRYPT, true, true);
        let uuid = crate::profile::stable_id("shop", "7");
        let (salt, bcrypt_hash) = BCRYPT[7..].split_at(22);

        let (auth0, problems) = record_of(Target::Auth0, &u, false);
        assert_eq!(
            auth0,
            json!({
                "user_id": "7", "email": "ann@example.com", "username": "ann",
                "given_name": "Ann", "family_name": "Lee", "name": "Ann Lee",
                "nickname": "annie", "picture": "https://x/a.png",
                "phone_number": "+15550100",
                "email_verified": true, "blocked": true,
                "user_metadata": {"ratio": ratio},
                "app_metadata": {"plan": "full", "roles": ["admin"]},
                "custom_password_hash": {"algorithm": "bcrypt",
                    "hash": {"value": BCRYPT, "encoding": "utf8"}},
            })
        );
        let reasons: Vec<_> = problems
            .iter()
            .map(|p| (p.reason, p.detail.as_str(), p.exported))
            .collect();
        assert_eq!(reasons, [("reserved_key", "blocked", true)]);

        let (okta, _) = record_of(Target::Okta, &u, false);
        assert_eq!(okta["activate"], false);
        let profile = &okta["body"]["profile"];
        assert_eq!(
            profile,
            &json!({
                "login": "ann@example.com", "email": "ann@example.com", "legacyUserId": "7",
                "legacyUsername": "ann", "firstName": "Ann", "lastName": "Lee",
                "displayName": "Ann Lee", "nickName": "annie", "mobilePhone": "+15550100",
                "userMetadata": format!("{{\"ratio\":{ratio:?}}}"),
                "appMetadata": r#"{"blocked":true,"plan":"full","roles":["admin"]}"#,
            })
        );
        assert_eq!(
            okta["body"]["credentials"],
            json!({"password": {"hash": {"algorithm": "BCRYPT", "workFactor": 10,
                "salt": salt, "value": bcrypt_hash}}})
        );

        let (kratos, _) = record_of(Target::Kratos, &u, false);
        assert_eq!(kratos["patch_id"], uuid);
        let identity = &kratos["create"];
        assert_eq!(identity["schema_id"], "preset://email");
        assert_eq!(identity["external_id"], "7");
        assert_eq!(identity["traits"], json!({"email": "ann@example.com"}));
        assert_eq!(identity["state"], "inactive");
        assert_eq!(
            identity["metadata_public"],
            json!({"username": "ann", "given_name": "Ann", "family_name": "Lee",
                "name": "Ann Lee", "nickname": "annie", "picture": "https://x/a.png",
                "phone_number": "+15550100", "user_metadata": {"ratio": ratio},
                "app_metadata": {"blocked": true, "plan": "full", "roles": ["admin"]}})
        );
        assert_eq!(
            identity["verifiable_addresses"],
            json!([{"value": "ann@example.com", "verified": true, "via": "email", "status": "completed"}])
        );
        assert_eq!(
            identity["credentials"]["password"]["config"]["hashed_password"],
            BCRYPT
        );

        let (fusionauth, _) = record_of(Target::FusionAuth, &u, false);
        assert_eq!(
            fusionauth,
            json!({
                "id": uuid, "email": "ann@example.com", "username": "ann",
                "firstName": "Ann", "lastName": "Lee", "fullName": "Ann Lee",
                "imageUrl": "https://x/a.png", "mobilePhone": "+15550100",
                "verified": true, "active": false,
                "data": {"legacy_user_id": "7", "nickname": "annie",
                    "user_metadata": {"ratio": ratio},
                    "app_metadata": {"blocked": true, "plan": "full", "roles": ["admin"]}},
                "encryptionScheme": "bcrypt", "factor": 10, "salt": salt, "password": bcrypt_hash,
            })
        );

        // Keycloak verifies no bcrypt: the user is in the file, reported.
        let (keycloak, problems) = record_of(Target::Keycloak, &u, false);
        assert_eq!(problems[0].reason, "hash_not_importable");
        assert!(problems[0].exported);
        assert_eq!(
            keycloak,
            json!({
                "id": uuid, "username": "ann", "email": "ann@example.com",
                "firstName": "Ann", "lastName": "Lee", "enabled": false, "emailVerified": true,
                "attributes": {"legacy_user_id": ["7"], "name": ["Ann Lee"],
                    "nickname": ["annie"], "picture": ["https://x/a.png"],
                    "phone_number": ["+15550100"],
                    "user_metadata": [format!("{{\"ratio\":{ratio:?}}}")],
                    "app_metadata": [r#"{"blocked":true,"plan":"full","roles":["admin"]}"#]},
            })
        );
    }

    #[test]
    fn what_is_left_out_stays_out() {
        let u = user("", false, false);
        let (auth0, problems) = record_of(Target::Auth0, &u, false);
        assert!(auth0.get("blocked").is_none() && auth0.get("custom_password_hash").is_none());
        assert_eq!(auth0["email_verified"], false);
        assert_eq!(problems[0].reason, "no_password_hash");
        let (kratos, _) = record_of(Target::Kratos, &u, false);
        assert_eq!(kratos["create"]["state"], "active");
        assert!(kratos["create"].get("verifiable_addresses").is_none());
        assert!(kratos["create"].get("credentials").is_none());
        let (hooked, _) = record_of(Target::Kratos, &u, true);
        assert_eq!(
            hooked["create"]["credentials"],
            json!({"password": {"config": {"hashed_password": "", "use_password_migration_hook": true}}})
        );
        let (okta, _) = record_of(Target::Okta, &u, false);
        assert_eq!(okta["activate"], true);
        assert!(okta["body"].get("credentials").is_none());
        let (keycloak, _) = record_of(Target::Keycloak, &u, false);
        assert!(keycloak.get("credentials").is_none());
        assert_eq!(keycloak["enabled"], true);
    }

    /// A user whose text fields are `''` (a legacy `NOT NULL DEFAULT ''`).
    fn blank(fields: &[(&str, &str)]) -> User {
        let mut map = RhaiMap::new();
        map.insert("id".into(), 8_i64.into());
        for (k, v) in fields {
            map.insert((*k).into(), (*v).into());
        }
        User {
            user_id: "8".into(),
            profile: crate::profile::normalize(map, 10_240, &mut Vec::new()).unwrap(),
            blocked: false,
            hash: hash::parse(BCRYPT),
        }
    }

    #[test]
    fn a_blank_identifier_is_a_missing_one_and_blank_texts_are_left_out() {
        let none = blank(&[("email", ""), ("username", " "), ("given_name", "")]);
        for target in [
            Target::Auth0,
            Target::Okta,
            Target::Kratos,
            Target::FusionAuth,
            Target::Keycloak,
        ] {
            let (record, problems) = record(target, &options(target, false), &none);
            assert!(record.is_none(), "{target:?}");
            assert_eq!(problems[0].reason, "missing_field");
        }
        let named = blank(&[("email", ""), ("username", "bob"), ("given_name", "")]);
        let (keycloak, _) = record_of(Target::Keycloak, &named, false);
        assert_eq!(keycloak["username"], "bob");
        assert!(keycloak.get("email").is_none() && keycloak.get("firstName").is_none());
        let (fusionauth, _) = record_of(Target::FusionAuth, &named, false);
        assert_eq!(fusionauth["username"], "bob");
        assert!(fusionauth.get("email").is_none());
    }
}
