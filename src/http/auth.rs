//! The API token check: before anything else on the `/v1` routes, every
//! configured token compared in constant time (lengths included).

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::AppState;

pub(super) async fn authenticate(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
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
            acc | super::adapters::same(t.expose().as_bytes(), given.as_bytes())
        });
        if given.is_empty() || matched == 0 {
            return ApiError::InvalidApiToken.into_response();
        }
    }
    next.run(request).await
}
