//! Ory Kratos's password migration hook: `POST .../kratos/password_migration`
//! with its default payload `{"identifier", "password"}`. Only 200
//! `password_match` logs in; 403 is "invalid credentials"; any other status
//! tells the user to try again later, right for an outage.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::json;

use super::{
    admit_for, context, error_at, json, json_body, our_status, required, segment, AppState,
};
use crate::actions::{Outcome, Request as ActionRequest};
use crate::error::Error;
use crate::http::error::ApiError;

fn status(result: &Result<Outcome, Error>) -> StatusCode {
    match result {
        Ok(_) => StatusCode::OK,
        Err(Error::WrongUsernameOrPassword | Error::Unauthorized(_)) => StatusCode::FORBIDDEN,
        Err(e) => our_status(e),
    }
}

pub(super) async fn password_migration(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let connection = segment(&uri, 2);
    let admitted = admit_for(&state, &connection, "kratos", "login", &headers)?;
    let body = json_body(&headers, body)?;
    let identifier = required(&body, "/identifier", "identifier")?;
    let password = required(&body, "/password", "password")?;
    let request = ActionRequest::login_named(
        ["identifier", "password"],
        identifier,
        password,
        context("kratos", None, None),
    )?;
    let result = admitted.run(&state, request, status).await;
    let code = status(&result);
    Ok(match result {
        Ok(_) => json(StatusCode::OK, &json!({ "status": "password_match" })),
        Err(e) => error_at(code, e),
    })
}
