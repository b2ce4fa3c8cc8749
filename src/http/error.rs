//! What the HTTP layer answers when a request fails: the domain's errors
//! ([`Error`]) and the ones only this layer finds (a token, a route, a body),
//! each as one status and one stable code, in the body shape every error
//! shares.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::request_id::CURRENT_REQUEST_ID;
use crate::error::Error;

/// A request that failed, as the HTTP layer answers it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The action failed: validation, script, store.
    #[error(transparent)]
    Action(#[from] Error),
    #[error("missing or invalid API token")]
    InvalidApiToken,
    /// An adapter's credential is missing or wrong, or its connection or
    /// the adapter is not there: all look the same.
    #[error("missing or invalid adapter credentials")]
    InvalidAdapterCredentials,
    #[error("no connection of that name")]
    UnknownConnection,
    #[error("no such action")]
    UnknownAction,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("no such route")]
    NotFound,
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("requests must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
}

impl ApiError {
    pub fn code(&self) -> &str {
        match self {
            ApiError::Action(e) => e.code(),
            ApiError::InvalidApiToken => "invalid_api_token",
            ApiError::InvalidAdapterCredentials => "invalid_adapter_credentials",
            ApiError::UnknownConnection => "unknown_connection",
            ApiError::UnknownAction => "unknown_action",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::NotFound => "not_found",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Action(e) => status_of(e),
            ApiError::InvalidApiToken | ApiError::InvalidAdapterCredentials => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::UnknownConnection | ApiError::UnknownAction | ApiError::NotFound => {
                StatusCode::NOT_FOUND
            }
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }

    fn public_message(&self) -> String {
        match self {
            ApiError::Action(e) => e.public_message(),
            other => other.to_string(),
        }
    }

    /// The body every error answers.
    pub fn body(&self, request_id: &str) -> Value {
        json!({
            "error": self.code(),
            "message": self.public_message(),
            "request_id": request_id,
        })
    }
}

/// The status of a domain error.
pub fn status_of(error: &Error) -> StatusCode {
    match error {
        Error::InvalidRequest(_)
        | Error::InvalidUserMetadata(_)
        | Error::InvalidAppMetadata(_)
        | Error::Validation { .. } => StatusCode::BAD_REQUEST,
        Error::WrongUsernameOrPassword => StatusCode::UNAUTHORIZED,
        Error::Unauthorized(_) | Error::SignupDisabled => StatusCode::FORBIDDEN,
        Error::UserNotFound => StatusCode::NOT_FOUND,
        Error::UserExists(_) => StatusCode::CONFLICT,
        Error::Overloaded => StatusCode::TOO_MANY_REQUESTS,
        Error::Script(_) | Error::InvalidProfile(_) => StatusCode::INTERNAL_SERVER_ERROR,
        Error::ActionNotConfigured => StatusCode::NOT_IMPLEMENTED,
        Error::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::ScriptTimeout | Error::StatementTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = CURRENT_REQUEST_ID
            .try_with(Clone::clone)
            .unwrap_or_default();
        let mut response = (self.status(), Json(self.body(&request_id))).into_response();
        let headers = response.headers_mut();
        match self {
            ApiError::InvalidApiToken => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Action(Error::Overloaded) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::RESERVED_CODES;
    use crate::profile::ProfileError;

    /// One error of every kind.
    fn every_error() -> Vec<ApiError> {
        let domain = vec![
            Error::invalid_request("x"),
            Error::InvalidUserMetadata("x".into()),
            Error::InvalidAppMetadata("x".into()),
            Error::WrongUsernameOrPassword,
            Error::Unauthorized("x".into()),
            Error::SignupDisabled,
            Error::UserNotFound,
            Error::UserExists("x".into()),
            Error::Overloaded,
            Error::Script("x".into()),
            Error::InvalidProfile(ProfileError {
                field: "x".into(),
                rule: "y".into(),
            }),
            Error::ActionNotConfigured,
            Error::StoreUnavailable("x".into()),
            Error::ScriptTimeout,
            Error::StatementTimeout("x".into()),
        ];
        let mut all: Vec<ApiError> = domain.into_iter().map(ApiError::from).collect();
        all.extend([
            ApiError::InvalidApiToken,
            ApiError::InvalidAdapterCredentials,
            ApiError::UnknownConnection,
            ApiError::UnknownAction,
            ApiError::MethodNotAllowed,
            ApiError::NotFound,
            ApiError::PayloadTooLarge,
            ApiError::UnsupportedMediaType,
        ]);
        all
    }

    /// The reference's table of errors, as (status, code) pairs.
    fn documented() -> Vec<(u16, String)> {
        include_str!("../../docs/http-api.md")
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
    fn the_reference_lists_every_error_with_its_status() {
        let table = documented();
        assert!(table.len() > 10, "the table was not found: {table:?}");
        let errors = every_error();
        for e in &errors {
            let row = (e.status().as_u16(), e.code().to_string());
            assert!(table.contains(&row), "docs/http-api.md lacks {row:?}");
        }
        // and nothing else, but for the script's own ValidationError codes
        for row in &table {
            assert!(
                row.1 == "CODE"
                    || errors
                        .iter()
                        .any(|e| (e.status().as_u16(), e.code()) == (row.0, row.1.as_str())),
                "docs/http-api.md has {row:?}, which no error answers"
            );
        }
    }

    #[test]
    fn the_reserved_codes_are_the_codes_the_host_answers() {
        let errors = every_error();
        let answered: Vec<&str> = errors
            .iter()
            .map(ApiError::code)
            .filter(|c| *c != "user_exists")
            .collect();
        for code in RESERVED_CODES {
            assert!(answered.contains(code), "{code} is answered by no error");
        }
        for code in &answered {
            assert!(RESERVED_CODES.contains(code), "{code} is not reserved");
        }
    }
}
