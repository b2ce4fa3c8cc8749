//! The HTTP layer (http-api.md): bearer tokens checked first, request ids,
//! JSON in and out, body limits, and the one place where an [`Error`] becomes
//! a status and an `error` code.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use crate::actions::{Action, Outcome, Request as ActionRequest};
use crate::connection::Connection;
use crate::error::Error;
use crate::metrics::Metrics;
use crate::settings::Secret;

/// The longest `x-request-id` a caller may choose.
const MAX_REQUEST_ID_CHARS: usize = 128;
const REQUEST_ID: &str = "x-request-id";

tokio::task_local! {
    static CURRENT_REQUEST_ID: String;
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    connections: BTreeMap<String, Arc<Connection>>,
    metrics: Option<Metrics>,
    /// Swapped whole by a reload, so that a token can be rotated.
    tokens: RwLock<Arc<Vec<Secret>>>,
}

impl AppState {
    /// `metrics`: whether `/metrics` is served (http.metrics).
    pub fn new(
        connections: BTreeMap<String, Arc<Connection>>,
        tokens: Vec<Secret>,
        metrics: bool,
    ) -> Self {
        AppState(Arc::new(Inner {
            connections,
            metrics: metrics.then(Metrics::default),
            tokens: RwLock::new(Arc::new(tokens)),
        }))
    }

    pub fn set_tokens(&self, tokens: Vec<Secret>) {
        *self.0.tokens.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(tokens);
    }

    fn tokens(&self) -> Arc<Vec<Secret>> {
        self.0
            .tokens
            .read()
            .map(|t| t.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    pub fn connections(&self) -> impl Iterator<Item = &Arc<Connection>> {
        self.0.connections.values()
    }
}

pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let v1 = Router::new()
        .route(
            "/connections",
            get(list_connections).fallback(method_not_allowed),
        )
        .route(
            "/connections/{connection}/{action}",
            post(run_action).fallback(method_not_allowed),
        )
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate));
    let mut router = Router::new()
        .route("/healthz", get(healthz).fallback(method_not_allowed))
        .route("/readyz", get(readyz).fallback(method_not_allowed));
    if state.0.metrics.is_some() {
        router = router.route("/metrics", get(metrics).fallback(method_not_allowed));
    }
    router
        .nest("/v1", v1)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(middleware::from_fn(request_id))
        .with_state(state)
}

/// The status of an error, as the error table of http-api.md has it.
pub fn status_of(error: &Error) -> StatusCode {
    match error {
        Error::InvalidRequest(_)
        | Error::InvalidUserMetadata(_)
        | Error::InvalidAppMetadata(_)
        | Error::Validation { .. } => StatusCode::BAD_REQUEST,
        Error::InvalidApiToken | Error::WrongUsernameOrPassword => StatusCode::UNAUTHORIZED,
        Error::Unauthorized(_) | Error::SignupDisabled => StatusCode::FORBIDDEN,
        Error::UnknownConnection | Error::UnknownAction | Error::NotFound | Error::UserNotFound => {
            StatusCode::NOT_FOUND
        }
        Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Error::UserExists(_) => StatusCode::CONFLICT,
        Error::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Error::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Error::Overloaded => StatusCode::TOO_MANY_REQUESTS,
        Error::Script(_) | Error::InvalidProfile(_) => StatusCode::INTERNAL_SERVER_ERROR,
        Error::ActionNotConfigured => StatusCode::NOT_IMPLEMENTED,
        Error::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::ScriptTimeout => StatusCode::GATEWAY_TIMEOUT,
    }
}

/// What the API answers for the result of an action: status and JSON body.
/// `customdb try` and `customdb test` use the same.
pub fn answer(result: Result<Outcome, Error>, request_id: &str) -> (StatusCode, Value) {
    match result {
        Ok(outcome) => outcome_answer(outcome),
        Err(e) => (status_of(&e), error_body(&e, request_id)),
    }
}

fn outcome_answer(outcome: Outcome) -> (StatusCode, Value) {
    match outcome {
        Outcome::Ok(v) => (StatusCode::OK, v),
        Outcome::Created(v) => (StatusCode::CREATED, v),
    }
}

fn error_body(error: &Error, request_id: &str) -> Value {
    json!({
        "error": error.code(),
        "message": error.public_message(),
        "request_id": request_id,
    })
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = status_of(&self);
        let request_id = CURRENT_REQUEST_ID
            .try_with(Clone::clone)
            .unwrap_or_default();
        let mut response = (status, Json(error_body(&self, &request_id))).into_response();
        let headers = response.headers_mut();
        match self {
            Error::InvalidApiToken => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Error::Overloaded => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

/// A new request id: 32 hex digits.
pub fn new_request_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn valid_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Gives every request an id (the caller's when it is acceptable), a span
/// that carries it, and the `x-request-id` response header.
async fn request_id(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_request_id(v))
        .map(str::to_string)
        .unwrap_or_else(new_request_id);
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
        connection = tracing::field::Empty,
        action = tracing::field::Empty,
    );
    let started = Instant::now();
    let mut response = CURRENT_REQUEST_ID
        .scope(
            id.clone(),
            tracing::Instrument::instrument(next.run(request), span.clone()),
        )
        .await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    tracing::info!(
        parent: &span,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "answered"
    );
    response
}

/// Checks the bearer token before anything else, in constant time.
async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let tokens = state.tokens();
    if !tokens.is_empty() {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or_default();
        // Every token is compared, so the time does not tell which matched.
        let matched = tokens.iter().fold(0u8, |acc, t| {
            acc | t.expose().as_bytes().ct_eq(given.as_bytes()).unwrap_u8()
        });
        if given.is_empty() || matched == 0 {
            return Error::InvalidApiToken.into_response();
        }
    }
    next.run(request).await
}

async fn not_found() -> Error {
    Error::NotFound
}

async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready when every connection's store answers a ping within a second.
async fn readyz(State(state): State<AppState>) -> Response {
    let mut checks = tokio::task::JoinSet::new();
    for c in state.connections() {
        let c = Arc::clone(c);
        checks.spawn(async move {
            let word = match c.store().ping(Duration::from_secs(1)).await {
                Ok(()) if c.scripts_ok() => "ok",
                Ok(()) => "scripts_failed",
                Err(e) => {
                    tracing::warn!(connection = c.name(), cause = %e, "store unreachable");
                    "store_unreachable"
                }
            };
            (c.name().to_string(), word)
        });
    }
    let mut results = BTreeMap::new();
    while let Some(Ok((name, word))) = checks.join_next().await {
        results.insert(name, word);
    }
    let ready = results.values().all(|w| *w == "ok");
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "connections": results,
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let text = state
        .0
        .metrics
        .as_ref()
        .map(|m| m.render(state.connections()))
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn list_connections(State(state): State<AppState>) -> Json<Value> {
    let list: Vec<Value> = state
        .connections()
        .map(|c| {
            let scripts = c.scripts();
            let actions: Vec<&str> = Action::ALL
                .into_iter()
                .filter(|a| scripts.has(a.script()))
                .filter(|a| *a != Action::Signup || c.settings.tunables.signup)
                .map(Action::name)
                .collect();
            json!({ "name": c.name(), "actions": actions })
        })
        .collect();
    Json(json!({ "connections": list }))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

async fn run_action(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    let Path((connection, action)) = path.map_err(|_| Error::UnknownConnection)?;
    let span = tracing::Span::current();
    span.record("connection", tracing::field::display(&connection));
    span.record("action", tracing::field::display(&action));
    let conn = state
        .0
        .connections
        .get(&connection)
        .ok_or(Error::UnknownConnection)?;
    let action = Action::parse(&action).ok_or(Error::UnknownAction)?;
    if !is_json(&headers) {
        return Err(Error::UnsupportedMediaType);
    }
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::PayloadTooLarge
        } else {
            Error::invalid_request("the body could not be read")
        }
    })?;
    let (result, timings) = match ActionRequest::parse(action, &body) {
        Ok(request) => {
            let (result, timings) = conn.perform_timed(request).await;
            (result, Some(timings))
        }
        Err(e) => (Err(e), None),
    };
    let answered = result.map(outcome_answer);
    if let Some(metrics) = &state.0.metrics {
        let status = match &answered {
            Ok((status, _)) => *status,
            Err(e) => status_of(e),
        };
        metrics.record(
            conn.name(),
            action.name(),
            status.as_u16(),
            timings.as_ref(),
        );
    }
    let (status, body) = answered?;
    Ok((status, Json(body)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::HOST_CODES;
    use crate::profile::ProfileError;

    /// One error of every kind.
    fn every_error() -> Vec<Error> {
        vec![
            Error::invalid_request("x"),
            Error::InvalidUserMetadata("x".into()),
            Error::InvalidAppMetadata("x".into()),
            Error::InvalidApiToken,
            Error::WrongUsernameOrPassword,
            Error::Unauthorized("x".into()),
            Error::SignupDisabled,
            Error::UnknownConnection,
            Error::UnknownAction,
            Error::MethodNotAllowed,
            Error::NotFound,
            Error::UserNotFound,
            Error::UserExists("x".into()),
            Error::PayloadTooLarge,
            Error::UnsupportedMediaType,
            Error::Overloaded,
            Error::Script("x".into()),
            Error::InvalidProfile(ProfileError {
                field: "x".into(),
                rule: "y".into(),
            }),
            Error::ActionNotConfigured,
            Error::StoreUnavailable("x".into()),
            Error::ScriptTimeout,
        ]
    }

    /// The README's table of errors, as (status, code) pairs.
    fn documented() -> Vec<(u16, String)> {
        include_str!("../README.md")
            .lines()
            .skip_while(|l| !l.starts_with("**Errors, by status and code**"))
            .skip(3)
            .take_while(|l| l.starts_with('|'))
            .filter_map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                let status = cells.get(1)?.parse().ok()?;
                let code = cells.get(2)?.trim_matches('`').to_string();
                Some((status, code))
            })
            .collect()
    }

    #[test]
    fn the_readme_lists_every_error_with_its_status() {
        let table = documented();
        let errors = every_error();
        for e in &errors {
            let row = (status_of(e).as_u16(), e.code().to_string());
            assert!(table.contains(&row), "README lacks {row:?}");
        }
        // and nothing else, but for the script's own ValidationError codes
        for row in &table {
            assert!(
                row.1 == "CODE"
                    || errors
                        .iter()
                        .any(|e| (status_of(e).as_u16(), e.code()) == (row.0, row.1.as_str())),
                "README has {row:?}, which no error answers"
            );
        }
        // every host code a script may not take is an error the host answers
        for code in HOST_CODES {
            assert!(errors.iter().any(|e| e.code() == *code), "{code}");
        }
        assert_eq!(
            HOST_CODES.len() + 1,
            errors.len(),
            "user_exists is the one a script may use"
        );
    }
}
