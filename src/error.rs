//! The domain's errors: what can go wrong in validating a request, running
//! its script and reading the result. Each has a stable `error` code; the
//! HTTP layer ([`crate::http::error`]) alone decides the status it answers.
//! Failures of the host or the script carry their cause for the log only.

/// A failure of a request, as the identity core will see it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidUserMetadata(String),
    #[error("{0}")]
    InvalidAppMetadata(String),
    /// `ValidationError(code, message)` thrown by a script, code checked.
    #[error("{message}")]
    Validation { code: String, message: String },
    #[error("wrong username or password")]
    WrongUsernameOrPassword,
    /// `UnauthorizedError(message)`: the message is for the end user.
    #[error("{0}")]
    Unauthorized(String),
    #[error("sign-up is disabled on this connection")]
    SignupDisabled,
    #[error("user not found")]
    UserNotFound,
    #[error("{0}")]
    UserExists(String),
    #[error("too many scripts waiting; retry shortly")]
    Overloaded,
    /// The script failed; the field is the cause, for the log.
    #[error("script failed: {0}")]
    Script(String),
    /// The script's result broke a normalization rule.
    #[error("{0}")]
    InvalidProfile(#[from] crate::profile::ProfileError),
    #[error("this connection has no script for this action")]
    ActionNotConfigured,
    /// The store could not be reached; the field is the cause, for the log.
    #[error("user store unavailable: {0}")]
    StoreUnavailable(String),
    #[error("the script ran past its time limit")]
    ScriptTimeout,
    /// A statement ran past `query_timeout_ms` and the script did not catch
    /// it: answered as [`Error::ScriptTimeout`], logged as what it was, so
    /// that an operator raises the right setting.
    /// The field is the script's place (`file:line:col`), for the log.
    #[error("{0}: a statement ran past query_timeout_ms (the store's time limit) and was killed")]
    StatementTimeout(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The stable `error` code.
    pub fn code(&self) -> &str {
        match self {
            Error::InvalidRequest(_) => "invalid_request",
            Error::InvalidUserMetadata(_) => "invalid_user_metadata",
            Error::InvalidAppMetadata(_) => "invalid_app_metadata",
            Error::Validation { code, .. } => code,
            Error::WrongUsernameOrPassword => "wrong_username_or_password",
            Error::Unauthorized(_) => "unauthorized",
            Error::SignupDisabled => "signup_disabled",
            Error::UserNotFound => "user_not_found",
            Error::UserExists(_) => "user_exists",
            Error::Overloaded => "overloaded",
            Error::Script(_) => "script_error",
            Error::InvalidProfile(_) => "invalid_profile",
            Error::ActionNotConfigured => "action_not_configured",
            Error::StoreUnavailable(_) => "user_store_unavailable",
            Error::ScriptTimeout | Error::StatementTimeout(_) => "script_timeout",
        }
    }

    /// The text a caller may see. 5xx answers are generic except where the
    /// contract names what to say (invalid_profile names field and rule).
    pub fn public_message(&self) -> String {
        match self {
            Error::Script(_) => "the connection's script failed; the log has the cause".into(),
            Error::StoreUnavailable(_) => "the user store cannot be reached".into(),
            Error::StatementTimeout(_) => Error::ScriptTimeout.to_string(),
            other => other.to_string(),
        }
    }

    /// A failure of the host or the script, not of the request: the log
    /// gets its cause (the caller gets a generic 5xx).
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Error::Script(_)
                | Error::InvalidProfile(_)
                | Error::StoreUnavailable(_)
                | Error::ScriptTimeout
                | Error::StatementTimeout(_)
        )
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Error::InvalidRequest(message.into())
    }
}

/// Every code the host answers, its HTTP layer's included: a script's
/// `ValidationError` may not use them (`user_exists` excepted: a script
/// throws it through `UserExistsError`, and may name it). A test of the HTTP
/// layer checks this list against every error it can answer.
pub const RESERVED_CODES: &[&str] = &[
    "invalid_request",
    "invalid_user_metadata",
    "invalid_app_metadata",
    "invalid_api_token",
    "invalid_adapter_credentials",
    "wrong_username_or_password",
    "unauthorized",
    "signup_disabled",
    "unknown_connection",
    "unknown_action",
    "method_not_allowed",
    "not_found",
    "user_not_found",
    "payload_too_large",
    "unsupported_media_type",
    "overloaded",
    "script_error",
    "invalid_profile",
    "action_not_configured",
    "user_store_unavailable",
    "script_timeout",
];
