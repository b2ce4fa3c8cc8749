//! FusionAuth's Generic Connector: `POST .../fusionauth/login` with
//! `loginId` and `password`; 200 with FusionAuth's user, or 404 for every
//! refused login ("a 404 is returned for any non 200 status code returned
//! from your connector"); faults keep their 5xx for the connector's Event
//! Log and our metrics.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::{
    admit_for, context, error_at, json, json_body, named, not_for, optional, our_status, required,
    segment, stable_id, user_status, AppState, STANDARD,
};
use crate::actions::{Outcome, Request as ActionRequest};
use crate::error::Error;
use crate::http::error::ApiError;
use crate::profile::Profile;

fn status(result: &Result<Outcome, Error>) -> StatusCode {
    if let Some(status) = user_status(result) {
        return status;
    }
    match result {
        Err(Error::WrongUsernameOrPassword | Error::Unauthorized(_)) => StatusCode::NOT_FOUND,
        Err(e) => our_status(e),
        Ok(_) => StatusCode::OK,
    }
}

pub(super) async fn login(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let connection = segment(&uri, 2);
    let admitted = admit_for(&state, &connection, "fusionauth", "login", &headers)?;
    let body = json_body(&headers, body)?;
    let login_id = required(&body, "/loginId", "loginId")?;
    let password = required(&body, "/password", "password")?;
    let application = optional(&body, "/applicationId");
    let ctx = context(
        "fusionauth",
        optional(&body, "/eventInfo/ipAddress"),
        optional(&body, "/eventInfo/userAgent"),
    );
    let request = ActionRequest::login_named(["loginId", "password"], login_id, password, ctx)?;
    let result = admitted.run(&state, request, status).await;
    let code = status(&result);
    Ok(match result {
        Ok(Outcome::User(profile)) => match user(&connection, &profile, application) {
            Ok(user) => json(StatusCode::OK, &json!({ "user": user })),
            Err(e) => error_at(our_status(&e), e),
        },
        Ok(_) => error_at(
            StatusCode::INTERNAL_SERVER_ERROR,
            Error::Script("login answered no user".into()),
        ),
        Err(e) => error_at(code, e),
    })
}

/// FusionAuth's user, from the PROFILE.
fn user(connection: &str, profile: &Profile, application: Option<String>) -> Result<Value, Error> {
    let fields = profile.to_fields();
    if !named(profile) {
        return Err(not_for(
            "FusionAuth",
            "FusionAuth needs a username or an email",
        ));
    }
    let user_id = profile.text("user_id").unwrap_or_default();
    let mut u = Map::new();
    u.insert("id".into(), stable_id(connection, user_id).into());
    for (theirs, ours) in crate::profile::FUSIONAUTH_FIELDS {
        if let Some(v) = profile.text(ours) {
            u.insert((*theirs).into(), v.into());
        }
    }
    u.insert(
        "verified".into(),
        fields
            .get("email_verified")
            .cloned()
            .unwrap_or(false.into()),
    );
    u.insert("active".into(), true.into());
    if let Some(a) = application {
        u.insert("registrations".into(), json!([{ "applicationId": a }]));
    }
    let mut data = Map::new();
    if let Some(nickname) = fields.get("nickname") {
        data.insert("nickname".into(), nickname.clone());
    }
    for (k, v) in fields
        .iter()
        .filter(|(k, _)| !STANDARD.contains(&k.as_str()))
    {
        data.insert(k.clone(), v.clone());
    }
    // the first four win a clash
    data.insert("connection".into(), connection.into());
    data.insert("user_id".into(), user_id.into());
    for key in ["user_metadata", "app_metadata"] {
        data.insert(
            key.into(),
            fields.get(key).cloned().unwrap_or_else(|| json!({})),
        );
    }
    u.insert("data".into(), Value::Object(data));
    Ok(Value::Object(u))
}
