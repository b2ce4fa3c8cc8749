//! One user's record in each target's import file, and the file's framing
//! (what opens it, separates records and closes it).

use serde_json::{json, Map, Value};

use super::hash::NotCarried;
use super::{Options, Target, User};
use crate::metadata::RESERVED_APP_METADATA_KEYS;
use crate::profile::Metadata;

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

fn text<'a>(user: &'a User, field: &str) -> Option<&'a str> {
    user.profile.text(field)
}

fn object(user: &User, which: Metadata) -> Value {
    Value::Object(user.profile.metadata(which))
}

fn copy(out: &mut Map<String, Value>, user: &User, pairs: &[(&str, &str)]) {
    for (theirs, ours) in pairs {
        if let Some(v) = text(user, ours) {
            out.insert((*theirs).into(), v.into());
        }
    }
}

/// The user's id on the platforms that want a UUID: stable, so that a
/// resumed or repeated export gives each user the same one.
fn uuid(options: &Options, user: &User) -> String {
    crate::profile::stable_id(&options.connection, &user.user_id)
}

/// The user's record, and the problems to report. `None`: the user is
/// left out (reported).
pub fn record(target: Target, options: &Options, user: &User) -> (Option<Value>, Vec<Problem>) {
    let mut problems = Vec::new();
    let email = text(user, "email");
    let username = text(user, "username");
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
    let record = match target {
        Target::Auth0 => {
            let mut r = Map::new();
            r.insert("user_id".into(), user.user_id.clone().into());
            copy(
                &mut r,
                user,
                &[
                    ("email", "email"),
                    ("username", "username"),
                    ("given_name", "given_name"),
                    ("family_name", "family_name"),
                    ("name", "name"),
                    ("nickname", "nickname"),
                    ("picture", "picture"),
                ],
            );
            r.insert("email_verified".into(), verified.into());
            if user.blocked {
                r.insert("blocked".into(), true.into());
            }
            r.insert("user_metadata".into(), object(user, Metadata::User));
            let mut app = user.profile.metadata(Metadata::App);
            for key in RESERVED_APP_METADATA_KEYS {
                if app.remove(*key).is_some() {
                    problems.push(Problem {
                        reason: "reserved_key",
                        detail: (*key).into(),
                        exported: true,
                    });
                }
            }
            r.insert("app_metadata".into(), Value::Object(app));
            if let Some(h) = hash {
                r.insert("custom_password_hash".into(), h);
            }
            Value::Object(r)
        }
        Target::Okta => {
            let mut profile = Map::new();
            if let Some(e) = email {
                profile.insert("login".into(), e.into());
                profile.insert("email".into(), e.into());
            }
            profile.insert("legacyUserId".into(), user.user_id.clone().into());
            copy(
                &mut profile,
                user,
                &[
                    ("legacyUsername", "username"),
                    ("firstName", "given_name"),
                    ("lastName", "family_name"),
                    ("displayName", "name"),
                    ("nickName", "nickname"),
                    ("mobilePhone", "phone_number"),
                ],
            );
            profile.insert(
                "userMetadata".into(),
                object(user, Metadata::User).to_string().into(),
            );
            profile.insert(
                "appMetadata".into(),
                object(user, Metadata::App).to_string().into(),
            );
            let mut body = json!({ "profile": profile });
            if let Some(h) = hash {
                body["credentials"] = json!({ "password": { "hash": h } });
            }
            json!({ "activate": !user.blocked, "body": body })
        }
        Target::Kratos => {
            let mut public = Map::new();
            copy(
                &mut public,
                user,
                &[
                    ("username", "username"),
                    ("given_name", "given_name"),
                    ("family_name", "family_name"),
                    ("name", "name"),
                    ("nickname", "nickname"),
                    ("picture", "picture"),
                    ("phone_number", "phone_number"),
                ],
            );
            public.insert("user_metadata".into(), object(user, Metadata::User));
            public.insert("app_metadata".into(), object(user, Metadata::App));
            let mut identity = json!({
                "schema_id": options.kratos_schema_id,
                "external_id": user.user_id,
                "traits": { "email": email },
                "state": if user.blocked { "inactive" } else { "active" },
                "metadata_public": public,
            });
            if verified {
                identity["verifiable_addresses"] = json!([{
                    "value": email, "verified": true, "via": "email", "status": "completed",
                }]);
            }
            match hash {
                Some(h) => {
                    identity["credentials"] =
                        json!({ "password": { "config": { "hashed_password": h } } });
                }
                None if options.kratos_migration_hook => {
                    identity["credentials"] = json!({ "password": { "config": {
                        "hashed_password": "", "use_password_migration_hook": true,
                    } } });
                }
                None => {}
            }
            json!({ "patch_id": uuid(options, user), "create": identity })
        }
        Target::FusionAuth => {
            let mut r = Map::new();
            r.insert("id".into(), uuid(options, user).into());
            copy(&mut r, user, crate::profile::FUSIONAUTH_FIELDS);
            r.insert("verified".into(), verified.into());
            r.insert("active".into(), (!user.blocked).into());
            let mut data = Map::new();
            data.insert("legacy_user_id".into(), user.user_id.clone().into());
            if let Some(n) = text(user, "nickname") {
                data.insert("nickname".into(), n.into());
            }
            data.insert("user_metadata".into(), object(user, Metadata::User));
            data.insert("app_metadata".into(), object(user, Metadata::App));
            r.insert("data".into(), Value::Object(data));
            if let Some(Value::Object(h)) = hash {
                r.extend(h);
            }
            Value::Object(r)
        }
        Target::Keycloak => {
            let mut r = Map::new();
            r.insert("id".into(), uuid(options, user).into());
            r.insert(
                "username".into(),
                username.or(email).unwrap_or_default().into(),
            );
            copy(&mut r, user, crate::profile::KEYCLOAK_FIELDS);
            r.insert("enabled".into(), (!user.blocked).into());
            r.insert("emailVerified".into(), verified.into());
            let mut attributes = Map::new();
            attributes.insert("legacy_user_id".into(), json!([user.user_id]));
            for field in ["name", "nickname", "picture", "phone_number"] {
                if let Some(v) = text(user, field) {
                    attributes.insert(field.into(), json!([v]));
                }
            }
            for which in [Metadata::User, Metadata::App] {
                attributes.insert(
                    which.field().into(),
                    json!([object(user, which).to_string()]),
                );
            }
            r.insert("attributes".into(), Value::Object(attributes));
            if let Some(h) = hash {
                r.insert("credentials".into(), json!([h]));
            }
            Value::Object(r)
        }
    };
    (Some(record), problems)
}
