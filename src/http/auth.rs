//! The API token check: before anything else on the `/v1` routes, every
//! configured token compared in constant time (lengths included).

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use subtle::ConstantTimeEq;

use super::AppState;
use crate::password::kdf::Digest;

pub(super) async fn authenticate(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let tokens = state.token_digests();
    if !tokens.is_empty() {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            // the scheme's name is case-insensitive (RFC 9110, 11.1)
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .unwrap_or_default();
        // Digests are compared, every one of them: the time tells neither
        // which token matched nor any token's length.
        let given_digest = Digest::Sha256.of(&[given.as_bytes()]);
        let matched = tokens
            .iter()
            .fold(0u8, |acc, t| acc | t.ct_eq(&given_digest).unwrap_u8());
        if given.is_empty() || matched == 0 {
            return ApiError::InvalidApiToken.into_response();
        }
    }
    next.run(request).await
}
