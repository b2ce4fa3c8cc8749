//! Okta's password import inline hook: `POST .../okta/password_import`.
//! A verdict on the password is a 200 with a `VERIFIED` or `UNVERIFIED`
//! command ("don't use the HTTP status code to return information to
//! Okta"); a fault of ours is no verdict, so it is an error status: the
//! sign-in fails and the next one calls the hook again.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::json;

use super::{
    admit_for, context, error_at, json, json_body, optional, our_status, request_id, required,
    segment, AppState,
};
use crate::actions::{Outcome, Request as ActionRequest};
use crate::error::Error;
use crate::http::error::ApiError;

const EVENT_TYPE: &str = "com.okta.user.credential.password.import";

fn status(result: &Result<Outcome, Error>) -> StatusCode {
    match result {
        Ok(_) | Err(Error::WrongUsernameOrPassword | Error::Unauthorized(_)) => StatusCode::OK,
        Err(e) => our_status(e),
    }
}

/// The command that imports the password, or refuses it.
fn command(credential: &str) -> serde_json::Value {
    json!([{ "type": "com.okta.action.update", "value": { "credential": credential } }])
}

pub(super) async fn password_import(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let connection = segment(&uri, 2);
    let admitted = admit_for(&state, &connection, "okta", "login", &headers)?;
    let body = json_body(&headers, body)?;
    if required(&body, "/eventType", "eventType")? != EVENT_TYPE {
        return Err(Error::invalid_request(format!("`eventType` must be {EVENT_TYPE}")).into());
    }
    let username = required(
        &body,
        "/data/context/credential/username",
        "data.context.credential.username",
    )?;
    let password = required(
        &body,
        "/data/context/credential/password",
        "data.context.credential.password",
    )?;
    let ctx = context(
        "okta",
        optional(&body, "/data/context/request/ipAddress"),
        None,
    );
    let request = ActionRequest::login_named(
        [
            "data.context.credential.username",
            "data.context.credential.password",
        ],
        username,
        password,
        ctx,
    )?;
    let result = admitted.run(&state, request, status).await;
    Ok(match result {
        Ok(_) => json(
            StatusCode::OK,
            &json!({
                "commands": command("VERIFIED"),
                "debugContext": { "request_id": request_id() },
            }),
        ),
        Err(e @ (Error::WrongUsernameOrPassword | Error::Unauthorized(_))) => json(
            StatusCode::OK,
            &json!({
                "commands": command("UNVERIFIED"),
                "debugContext": { "request_id": request_id(), "reason": e.code() },
            }),
        ),
        Err(e) => error_at(our_status(&e), e),
    })
}
