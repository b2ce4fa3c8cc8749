//! The actions: each request validated into typed input ([`input`]), the
//! script it runs with its arguments, and what the script's result means
//! ([`run`]). Nothing here knows about HTTP: an action answers an
//! [`Outcome`] or an [`Error`], and the HTTP layer picks status and body.

mod input;
mod run;

use serde_json::{Map, Value};

use crate::profile::Profile;

pub const MAX_PASSWORD_CHARS: usize = 1024;
pub const MAX_IDENTIFIER_CHARS: usize = 320;
pub const MAX_CONTEXT_BYTES: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Login,
    Signup,
    Create,
    GetUser,
    Verify,
    ChangePassword,
    ChangeEmail,
    Delete,
    UpdateMetadata,
}

impl Action {
    pub const ALL: [Action; 9] = [
        Action::Login,
        Action::Signup,
        Action::Create,
        Action::GetUser,
        Action::Verify,
        Action::ChangePassword,
        Action::ChangeEmail,
        Action::Delete,
        Action::UpdateMetadata,
    ];

    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::Signup => "signup",
            Action::Create => "create",
            Action::GetUser => "get_user",
            Action::Verify => "verify",
            Action::ChangePassword => "change_password",
            Action::ChangeEmail => "change_email",
            Action::Delete => "delete",
            Action::UpdateMetadata => "update_metadata",
        }
    }

    /// The script that serves the action: `signup` runs `create`.
    pub fn script(self) -> &'static str {
        match self {
            Action::Signup => "create",
            other => other.name(),
        }
    }
}
/// What a successful action answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// login, get_user, update_metadata: the user's profile.
    User(Profile),
    /// signup, create: the new user's profile.
    Created(Profile),
    /// verify: the email is marked verified.
    Verified,
    /// change_password, change_email.
    Changed,
    /// delete.
    Deleted,
}

/// A new user, from `signup` or `create`.
#[derive(Debug, Clone)]
pub struct NewUser {
    email: String,
    password: String,
    email_verified: bool,
    /// username, the name fields, phone_number: only those given.
    optional: Vec<(&'static str, String)>,
    user_metadata: Map<String, Value>,
    app_metadata: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub(crate) enum Input {
    Login {
        username_or_email: String,
        password: String,
    },
    New(NewUser),
    GetUser(String),
    Verify(String),
    ChangePassword {
        email: String,
        new_password: String,
    },
    ChangeEmail {
        email: String,
        new_email: String,
        email_verified: bool,
    },
    Delete(String),
    UpdateMetadata {
        user_id: String,
        user_metadata: Option<Map<String, Value>>,
        app_metadata: Option<Map<String, Value>>,
    },
}

/// A validated action request.
#[derive(Debug, Clone)]
pub struct Request {
    pub action: Action,
    input: Input,
    /// The caller's `context`, handed to scripts as `request::context()`.
    pub context: Map<String, Value>,
    /// A time limit shorter than the connection's `script_timeout_ms`, set
    /// by the caller (an adapter's `timeout_ms`).
    pub time_limit: Option<std::time::Duration>,
}
