//! Request ids: the caller's `x-request-id` when it is acceptable, a new one
//! otherwise; a span that carries it into every log line of the request;
//! the header on the answer; and the access line once answered.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;

/// The longest `x-request-id` a caller may choose.
const MAX_REQUEST_ID_CHARS: usize = 128;
const REQUEST_ID: &str = "x-request-id";

tokio::task_local! {
    /// The id of the request being answered, for error bodies.
    pub(super) static CURRENT_REQUEST_ID: String;
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

/// Gives every request an id, a span that carries it, the `x-request-id`
/// response header, and writes the access line.
/// Also counts the request in flight, and marks answers during a drain
/// ([`AppState::on_answer`]): one middleware for what every request needs.
pub(super) async fn request_id(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let _in_flight = state.enter();
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
    state.on_answer(&mut response);
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
