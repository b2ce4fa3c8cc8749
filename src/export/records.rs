//! One user's record in each target's import file, and the file's framing
//! (what opens it, separates records and closes it).
//!
//! Each target's record is a struct below, its fields in that platform's
//! names, serialized straight from the profile (its metadata straight from
//! the script's maps): no JSON tree is built for a record, which on a large
//! table is most of what writing it costs.

use rhai::{Dynamic, Map as RhaiMap};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{json, Value};

use super::hash::NotCarried;
use super::{Options, Target, User};
use crate::metadata::RESERVED_APP_METADATA_KEYS;
use crate::profile::{Metadata, Profile};
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

impl Serialize for Texts<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (theirs, ours) in self.names {
            if let Some(v) = self.profile.text(ours) {
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

fn object(user: &User, which: Metadata) -> Object<'_> {
    Object {
        value: user.profile.metadata_value(which),
        without: &[],
    }
}

/// A metadata object as JSON text (for the platforms that keep it in a
/// string attribute).
fn object_text(user: &User, which: Metadata) -> String {
    match user.profile.metadata_value(which) {
        // Its JSON form was checked when the profile was normalized.
        Some(v) => convert::json_text(v).unwrap_or_else(|_| "{}".into()),
        None => "{}".into(),
    }
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
            if let Some(v) = user.profile.text(field) {
                map.serialize_entry(field, &[v])?;
            }
        }
        for which in [Metadata::User, Metadata::App] {
            map.serialize_entry(which.field(), &[object_text(user, which)])?;
        }
        map.end()
    }
}

/// The user's record as JSON, and the problems to report. `None`: the
/// user is left out (reported).
pub fn record(target: Target, options: &Options, user: &User) -> (Option<Vec<u8>>, Vec<Problem>) {
    let mut problems = Vec::new();
    let email = user.profile.text("email");
    let username = user.profile.text("username");
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
            let app = user.profile.metadata_value(Metadata::App);
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
                user_metadata: object(user, Metadata::User),
                app_metadata: Object {
                    value: app,
                    without: RESERVED_APP_METADATA_KEYS,
                },
                custom_password_hash: hash,
            })
        }
        Target::Okta => serde_json::to_vec(&Okta {
            activate: !user.blocked,
            body: OktaBody {
                profile: OktaProfile {
                    login: email,
                    email,
                    legacy_user_id: &user.user_id,
                    texts: texts(user, OKTA_FIELDS),
                    user_metadata: object_text(user, Metadata::User),
                    app_metadata: object_text(user, Metadata::App),
                },
                credentials: hash.map(|h| json!({ "password": { "hash": h } })),
            },
        }),
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
                        user_metadata: object(user, Metadata::User),
                        app_metadata: object(user, Metadata::App),
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
                nickname: user.profile.text("nickname"),
                user_metadata: object(user, Metadata::User),
                app_metadata: object(user, Metadata::App),
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
            problems.push(Problem {
                reason: "invalid_profile",
                detail: e.to_string(),
                exported: false,
            });
            (None, problems)
        }
    }
}
