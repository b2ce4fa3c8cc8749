//! The HTTP layer: the routes, bearer tokens checked first ([`auth`]),
//! request ids and access lines ([`request_id`]), JSON in and out, body
//! limits, and the one place where an action's outcome or error becomes a
//! status and a body ([`error`]).

mod adapters;
pub mod auth;
pub mod closing;
pub mod error;
pub mod metrics;
pub mod request_id;
pub mod tls;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::actions::{Action, Outcome, Request as ActionRequest};
use crate::connection::Connection;
use crate::error::Error;
use crate::settings::Secret;
use crate::telemetry::OneLine;
use error::ApiError;
use metrics::Metrics;
pub use request_id::new_request_id;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    connections: BTreeMap<String, Arc<Connection>>,
    metrics: Option<Metrics>,
    /// Swapped whole by a reload, so that a token can be rotated.
    /// The SHA-256 digests of the API tokens, made once: a request's
    /// token is compared with them, in a time that tells nothing.
    tokens: RwLock<Arc<Vec<Vec<u8>>>>,
    /// Set when a drain begins (SIGTERM, SIGINT): `/readyz` answers 503
    /// and answers carry `Connection: close`.
    draining: std::sync::atomic::AtomicBool,
    /// Requests being answered now.
    in_flight: std::sync::atomic::AtomicUsize,
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
            tokens: RwLock::new(Arc::new(digests(&tokens))),
            draining: Default::default(),
            in_flight: Default::default(),
        }))
    }

    /// Begins a drain: readiness fails, connections are not kept alive.
    pub fn begin_drain(&self) {
        self.0
            .draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn draining(&self) -> bool {
        self.0.draining.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Requests being answered now, over every thread.
    pub fn in_flight(&self) -> usize {
        self.0.in_flight.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn set_tokens(&self, tokens: Vec<Secret>) {
        *self.0.tokens.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(digests(&tokens));
    }

    /// Whether the API asks for a token (it does unless the server started
    /// with none, on loopback with `allow_no_token`).
    pub fn has_tokens(&self) -> bool {
        !self.token_digests().is_empty()
    }

    fn token_digests(&self) -> Arc<Vec<Vec<u8>>> {
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

fn digests(tokens: &[Secret]) -> Vec<Vec<u8>> {
    tokens
        .iter()
        .map(|t| crate::password::kdf::Digest::Sha256.of(&[t.expose().as_bytes()]))
        .collect()
}

/// What [`service`] puts around each answer.
type AnswerMap = fn(Response) -> std::future::Ready<Response>;

/// The router with [`service`]'s layer around it.
pub type Served = axum::middleware::MapResponse<AnswerMap, (), Router, ()>;

/// The router as the server runs it: a 401 carries no `Allow`. The router
/// adds `Allow` to what a wrong method's fallback answers, outside every
/// layer, even when that answer is the credential's 401; without a
/// credential, nothing may tell which methods a route takes.
pub fn service(state: AppState, max_body_bytes: usize) -> axum::routing::IntoMakeService<Served> {
    let without_allow: AnswerMap = |mut response| {
        if response.status() == StatusCode::UNAUTHORIZED {
            response.headers_mut().remove(header::ALLOW);
        }
        std::future::ready(response)
    };
    let app = tower_layer::Layer::layer(
        &axum::middleware::map_response(without_allow),
        router(state, max_body_bytes),
    );
    axum::ServiceExt::<axum::extract::Request>::into_make_service(app)
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
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        // After the token's layer: on these, an adapter's credential takes
        // the token's place.
        .merge(adapters::routes());
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
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_id::request_id,
        ))
        .with_state(state)
}

/// A request being answered, counted while it lives.
pub(super) struct InFlight(AppState);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0
             .0
            .in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl AppState {
    /// Counts a request in flight until the guard is dropped.
    pub(super) fn enter(&self) -> InFlight {
        self.0
            .in_flight
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        InFlight(self.clone())
    }

    /// Once a drain has begun, asks the client to close its connection,
    /// so that it opens a new one on another replica.
    pub(super) fn on_answer(&self, response: &mut Response) {
        if self.draining() {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready when every connection's store answers a ping within a second;
/// with `?exclude=store`, when every connection's scripts are loaded,
/// whatever the store's state (balancers probe that form: a store outage
/// shared by every replica must not take them all out). 503 `draining` once
/// a drain has begun.
async fn readyz(
    State(state): State<AppState>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    if state.draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "draining" })),
        )
            .into_response();
    }
    let exclude_store = query.as_deref().is_some_and(|q| {
        q.split('&')
            .any(|kv| kv == "exclude=store" || kv == "exclude%3Dstore")
    });
    if exclude_store {
        let results: BTreeMap<String, &str> = state
            .connections()
            .map(|c| {
                let word = if c.scripts_ok() {
                    "ok"
                } else {
                    "scripts_failed"
                };
                (c.name().to_string(), word)
            })
            .collect();
        let ready = results.values().all(|w| *w == "ok");
        let status = if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        return (
            status,
            Json(json!({
                "status": if ready { "ready" } else { "not_ready" },
                "connections": results,
            })),
        )
            .into_response();
    }
    let mut checks = tokio::task::JoinSet::new();
    for c in state.connections() {
        let c = Arc::clone(c);
        // in the request's span, so that its warning carries the request id
        let span = tracing::Span::current();
        checks.spawn(tracing::Instrument::instrument(async move {
            let word = match c.store().ping(Duration::from_secs(1)).await {
                Ok(()) if c.scripts_ok() => "ok",
                Ok(()) => "scripts_failed",
                Err(e) => {
                    tracing::warn!(connection = c.name(), cause = %OneLine(&e), "store unreachable");
                    "store_unreachable"
                }
            };
            (c.name().to_string(), word)
        }, span));
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
            let actions: Vec<&str> = Action::ALL
                .into_iter()
                .filter(|a| c.offers(*a).is_ok())
                .map(Action::name)
                .collect();
            json!({ "name": c.name(), "actions": actions })
        })
        .collect();
    Json(json!({ "connections": list }))
}

/// A POST body, as our API and the adapters read it: 415 unless it is
/// declared JSON, 413 past the size limit, 400 when it cannot be read.
pub(crate) fn read_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, ApiError> {
    if !is_json(headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            Error::invalid_request("the body could not be read").into()
        }
    })
}

pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// The request path's segment `back` places from its end (0: the last),
/// percent-decoded as axum's `Path` decodes a capture, except that bytes
/// that are not UTF-8 once decoded (`%FF`) read as U+FFFD instead of being
/// refused. Such a name matches no connection, action or user, so the
/// caller gets the answer for an unknown one (after the credential's
/// check), where `Path` would answer a plain-text 400.
pub(crate) fn segment(uri: &Uri, back: usize) -> String {
    percent_encoding::percent_decode_str(raw_segment(uri, back))
        .decode_utf8_lossy()
        .into_owned()
}

/// A path segment, percent-decoded, counted from the end; `None` when the
/// bytes it decodes to are not UTF-8 (`%FF`).
pub(crate) fn segment_utf8(uri: &Uri, back: usize) -> Option<String> {
    percent_encoding::percent_decode_str(raw_segment(uri, back))
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

fn raw_segment(uri: &Uri, back: usize) -> &str {
    uri.path().rsplit('/').nth(back).unwrap_or_default()
}

async fn run_action(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    // .../connections/{connection}/{action}; names that are not UTF-8 once
    // decoded, which `Path` refuses, are read leniently
    let (connection, action) = match path {
        Ok(Path(names)) => names,
        Err(_) => (segment(&uri, 1), segment(&uri, 0)),
    };
    let span = tracing::Span::current();
    span.record("connection", tracing::field::display(OneLine(&connection)));
    span.record("action", tracing::field::display(OneLine(&action)));
    let conn = state
        .0
        .connections
        .get(&connection)
        .ok_or(ApiError::UnknownConnection)?;
    let action = Action::parse(&action).ok_or(ApiError::UnknownAction)?;
    let body = read_body(&headers, body)?;
    let (result, timings) = match ActionRequest::parse(action, &body) {
        Ok(request) => {
            let (result, timings) = conn.perform_timed(request).await;
            (result, Some(timings))
        }
        Err(e) => (Err(e), None),
    };
    if let Some(metrics) = &state.0.metrics {
        let status = match &result {
            Ok(outcome) => status_of_outcome(outcome),
            Err(e) => error::status_of(e),
        };
        metrics.record(
            conn.name(),
            action.name(),
            status.as_u16(),
            timings.as_ref(),
        );
    }
    let (status, body) = outcome_body(&result?);
    let mut response = (status, Body::from(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

fn status_of_outcome(outcome: &Outcome) -> StatusCode {
    match outcome {
        Outcome::Created(_) => StatusCode::CREATED,
        _ => StatusCode::OK,
    }
}

/// The status and JSON body of an action's outcome. The profile was
/// serialized once, when it was normalized; it is not serialized again.
fn outcome_body(outcome: &Outcome) -> (StatusCode, Vec<u8>) {
    let body = match outcome {
        Outcome::User(p) | Outcome::Created(p) => {
            let json = p.json();
            let mut body = Vec::with_capacity(json.len() + 9);
            body.extend_from_slice(b"{\"user\":");
            body.extend_from_slice(json.as_bytes());
            body.push(b'}');
            body
        }
        Outcome::Verified => br#"{"verified":true}"#.to_vec(),
        Outcome::Changed => br#"{"changed":true}"#.to_vec(),
        Outcome::Deleted => br#"{"deleted":true}"#.to_vec(),
    };
    (status_of_outcome(outcome), body)
}

/// What the API answers for the result of an action: status and JSON body,
/// as `customdb try` and `customdb test` show it.
pub fn answer(result: Result<Outcome, Error>, request_id: &str) -> (StatusCode, Value) {
    match result {
        Ok(outcome) => {
            let (status, body) = outcome_body(&outcome);
            // As deep as the API answered it: serde_json's default limit of
            // 128 levels would turn a deeper profile into `null`. Its depth
            // is what the script built, on a stack of the same size.
            let mut reader = serde_json::Deserializer::from_slice(&body);
            reader.disable_recursion_limit();
            let value = serde::Deserialize::deserialize(&mut reader).unwrap_or(Value::Null);
            (status, value)
        }
        Err(e) => {
            let e = ApiError::from(e);
            (e.status(), e.body(request_id))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deep_profile_reads_back_whole() {
        let mut deep = rhai::Dynamic::from_array(Vec::new());
        for _ in 0..300 {
            deep = rhai::Dynamic::from_array(vec![deep]);
        }
        let mut map = rhai::Map::new();
        map.insert("user_id".into(), "7".into());
        map.insert("deep".into(), deep);
        let profile = crate::profile::normalize(map, 10_000, &mut Vec::new()).unwrap();
        let (status, body) = answer(Ok(Outcome::User(profile)), "r");
        assert_eq!(status, StatusCode::OK);
        let mut level = &body["user"]["deep"];
        for _ in 0..300 {
            level = &level[0];
        }
        assert_eq!(level, &serde_json::json!([]));
    }

    #[test]
    fn outcomes_answer_their_status_and_body() {
        let mut map = rhai::Map::new();
        map.insert("user_id".into(), "7".into());
        let profile = crate::profile::normalize(map, 1024, &mut Vec::new()).unwrap();
        let user = json!({"user": {"user_id": "7", "email_verified": false,
            "user_metadata": {}, "app_metadata": {}}});
        let cases = [
            (Outcome::User(profile.clone()), 200, user.clone()),
            (Outcome::Created(profile), 201, user),
            (Outcome::Verified, 200, json!({"verified": true})),
            (Outcome::Changed, 200, json!({"changed": true})),
            (Outcome::Deleted, 200, json!({"deleted": true})),
        ];
        for (outcome, status, body) in cases {
            assert_eq!(
                answer(Ok(outcome), "r"),
                (StatusCode::from_u16(status).unwrap(), body)
            );
        }
    }
}
