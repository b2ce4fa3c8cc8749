//! The Keycloak user-migration REST provider (daniel-frak/keycloak-user-
//! migration): `GET .../keycloak/users/{username_or_email}` answers the
//! user, `POST .../keycloak/users/{username}` with `{"password"}` checks the
//! password. Any status but 200 is "not found" to the GET and "invalid
//! credentials" to the POST.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::{
    admit_for, context, error_at, json, json_body, not_for, our_status, required, segment,
    segment_utf8, stable_id, user_status, AppState, STANDARD,
};
use crate::actions::{Outcome, Request as ActionRequest};
use crate::error::Error;
use crate::http::error::ApiError;
use crate::profile::Profile;

fn lookup_status(result: &Result<Outcome, Error>) -> StatusCode {
    match result {
        Err(e) => our_status(e),
        Ok(_) => user_status(result).unwrap_or(StatusCode::OK),
    }
}

fn verify_status(result: &Result<Outcome, Error>) -> StatusCode {
    match result {
        Ok(_) => StatusCode::OK,
        Err(Error::WrongUsernameOrPassword) => StatusCode::UNAUTHORIZED,
        Err(Error::Unauthorized(_)) => StatusCode::FORBIDDEN,
        Err(e) => our_status(e),
    }
}

pub(super) async fn lookup(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // .../connections/{connection}/keycloak/users/{user}
    let connection = segment(&uri, 3);
    let admitted = admit_for(&state, &connection, "keycloak", "get_user", &headers)?;
    // A name whose bytes are not UTF-8 (`%FF`) is no user's: answered as an
    // unknown one without a script (a lossy decoding would hand the script
    // a U+FFFD that a stored name could hold), once the connection is known
    // to have the script.
    let result = match segment_utf8(&uri, 0) {
        Some(user) => {
            let request =
                ActionRequest::lookup("username_or_email", user, context("keycloak", None, None))?;
            admitted.run(&state, request, lookup_status).await
        }
        None => admitted
            .conn
            .offers(crate::actions::Action::GetUser)
            .and(Err(Error::UserNotFound)),
    };
    Ok(match result {
        Ok(Outcome::User(profile)) => match kc_user(&connection, &profile) {
            Ok(user) => json(StatusCode::OK, &user),
            Err(e) => error_at(our_status(&e), e),
        },
        Ok(_) => error_at(
            StatusCode::INTERNAL_SERVER_ERROR,
            Error::Script("get_user answered no user".into()),
        ),
        Err(e) => error_at(our_status(&e), e),
    })
}

pub(super) async fn verify(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    // .../connections/{connection}/keycloak/users/{user}
    let connection = segment(&uri, 3);
    let admitted = admit_for(&state, &connection, "keycloak", "login", &headers)?;
    let body = json_body(&headers, body)?;
    let password = required(&body, "/password", "password")?;
    // A name whose bytes are not UTF-8 is no user's (see `lookup`); the
    // password's rules are checked first all the same (400 before 401).
    let user = segment_utf8(&uri, 0);
    let request = ActionRequest::login_named(
        ["username", "password"],
        user.clone().unwrap_or_else(|| "-".into()),
        password,
        context("keycloak", None, None),
    )?;
    let result = match user {
        Some(_) => admitted.run(&state, request, verify_status).await,
        None => Err(Error::WrongUsernameOrPassword),
    };
    let code = verify_status(&result);
    Ok(match result {
        Ok(_) => json(StatusCode::OK, &json!({})),
        Err(e) => error_at(code, e),
    })
}

/// An attribute value as the provider takes it: a list of strings.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Null => {}
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Array(_) => out.push(item.to_string()),
                    other => strings(other, out),
                }
            }
        }
        other => out.push(other.to_string()),
    }
}

fn attribute(attributes: &mut Map<String, Value>, name: String, value: &Value) {
    if value.is_null() || attributes.contains_key(&name) {
        return;
    }
    let mut list = Vec::new();
    strings(value, &mut list);
    attributes.insert(name, json!(list));
}

/// The provider's user: exactly its keys, no other (its JSON reader refuses
/// unknown properties).
fn kc_user(connection: &str, profile: &Profile) -> Result<Value, Error> {
    let fields = profile.to_fields();
    let username = profile
        .text("username")
        .or_else(|| profile.text("email"))
        .ok_or_else(|| not_for("Keycloak", "Keycloak needs a username or an email"))?;
    let user_id = profile.text("user_id").unwrap_or_default();
    let mut u = Map::new();
    u.insert("id".into(), stable_id(connection, user_id).into());
    u.insert("username".into(), username.into());
    for (theirs, ours) in crate::profile::KEYCLOAK_FIELDS {
        if let Some(v) = profile.text(ours) {
            u.insert((*theirs).into(), v.into());
        }
    }
    u.insert("enabled".into(), true.into());
    u.insert(
        "emailVerified".into(),
        fields
            .get("email_verified")
            .cloned()
            .unwrap_or(false.into()),
    );
    // The host's names first: they win a clash.
    let mut attributes = Map::new();
    attribute(&mut attributes, "user_id".into(), &user_id.into());
    attribute(&mut attributes, "connection".into(), &connection.into());
    for which in ["user_metadata", "app_metadata"] {
        if let Some(Value::Object(m)) = fields.get(which) {
            for (k, v) in m {
                attribute(&mut attributes, format!("{which}.{k}"), v);
            }
        }
    }
    for (k, v) in fields
        .iter()
        .filter(|(k, _)| !STANDARD.contains(&k.as_str()))
    {
        attribute(&mut attributes, k.clone(), v);
    }
    u.insert("attributes".into(), Value::Object(attributes));
    for key in ["roles", "groups"] {
        let list: Vec<&str> = fields
            .get("app_metadata")
            .and_then(|m| m.get(key))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        u.insert(key.into(), json!(list));
    }
    u.insert("requiredActions".into(), json!([]));
    Ok(Value::Object(u))
}
