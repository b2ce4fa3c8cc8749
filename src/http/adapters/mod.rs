//! Other identity servers' legacy-user protocols, each a small module that
//! maps the platform's request to an action of ours and the outcome to the
//! platform's answer, and nothing else: the connection, its scripts and
//! its rules are the same as for our own API.
//!
//! Common to all four: the adapter's credential (Basic and/or a header,
//! compared in constant time) takes the place of the API token and is
//! checked first; a missing or wrong credential, an unknown connection and
//! an absent or disabled adapter all answer the same 401. The `action` of
//! log lines and metrics is `ADAPTER.SCRIPT`.

mod fusionauth;
mod keycloak;
mod kratos;
mod okta;

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::request_id::CURRENT_REQUEST_ID;
use super::{read_body, AppState};
pub(super) use super::{segment, segment_utf8};
use crate::actions::{Outcome, Request as ActionRequest};
use crate::connection::Connection;
use crate::error::Error;
use crate::password::kdf;
pub(super) use crate::profile::stable_id;
use crate::settings::AdapterSettings;

/// Okta waits 3 s: our answer, a 504 included, comes before.
const OKTA_TIMEOUT: Duration = Duration::from_millis(2500);

/// The adapters' routes, under `/v1`. They carry no API token.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/connections/{connection}/fusionauth/login",
            post(fusionauth::login).fallback(|s, u, h| wrong_method(s, u, h, "fusionauth", 2)),
        )
        .route(
            "/connections/{connection}/okta/password_import",
            post(okta::password_import).fallback(|s, u, h| wrong_method(s, u, h, "okta", 2)),
        )
        .route(
            "/connections/{connection}/kratos/password_migration",
            post(kratos::password_migration).fallback(|s, u, h| wrong_method(s, u, h, "kratos", 2)),
        )
        .route(
            "/connections/{connection}/keycloak/users/{user}",
            get(keycloak::lookup)
                .post(keycloak::verify)
                .fallback(|s, u, h| wrong_method(s, u, h, "keycloak", 3)),
        )
}

/// A method the route does not take: 405, once the credential is checked
/// (it comes before anything else). `back`: where the connection's name is
/// in the path, counted from its end.
async fn wrong_method(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    adapter: &'static str,
    back: usize,
) -> ApiError {
    match admit(&state, &segment(&uri, back), adapter, &headers) {
        Ok(_) => ApiError::MethodNotAllowed,
        Err(e) => e,
    }
}

/// A call whose credential was accepted.
struct Admitted {
    conn: Arc<Connection>,
    adapter: &'static str,
    timeout: Duration,
}

/// [`admit`] for a call that runs `script`: from here on, the request's
/// log lines name the connection and the action (`ADAPTER.SCRIPT`), the
/// 400s and 415s that come before the script included.
fn admit_for(
    state: &AppState,
    connection: &str,
    adapter: &'static str,
    script: &'static str,
    headers: &HeaderMap,
) -> Result<Admitted, ApiError> {
    let admitted = admit(state, connection, adapter, headers)?;
    let span = tracing::Span::current();
    span.record("connection", tracing::field::display(admitted.conn.name()));
    span.record(
        "action",
        tracing::field::display(format_args!("{adapter}.{script}")),
    );
    Ok(admitted)
}

/// Checks the adapter's credential before anything else. Every failure is
/// the same 401, whether the credential, the connection or the adapter is
/// what is missing.
fn admit(
    state: &AppState,
    connection: &str,
    adapter: &'static str,
    headers: &HeaderMap,
) -> Result<Admitted, ApiError> {
    let found = state
        .0
        .connections
        .get(connection)
        .and_then(|c| Some((c, c.settings.adapters.get(adapter)?)))
        .filter(|(_, a)| a.enabled);
    let Some((conn, settings)) = found else {
        // The same work as a real check, so that the time tells nothing.
        let _ = credential_matches(&DUMMY, headers);
        return Err(ApiError::InvalidAdapterCredentials);
    };
    if !credential_matches(settings, headers) {
        return Err(ApiError::InvalidAdapterCredentials);
    }
    let script_timeout = Duration::from_millis(conn.settings.tunables.script_timeout_ms);
    let configured = settings.timeout_ms.map(Duration::from_millis);
    let timeout = match (adapter, configured) {
        (_, Some(t)) => t,
        ("okta", None) => OKTA_TIMEOUT,
        _ => script_timeout,
    };
    Ok(Admitted {
        conn: conn.clone(),
        adapter,
        timeout: timeout.min(script_timeout),
    })
}

static DUMMY: std::sync::LazyLock<AdapterSettings> = std::sync::LazyLock::new(|| AdapterSettings {
    enabled: true,
    basic_user: None,
    basic_password: None,
    header_name: None,
    header_value: Some(crate::settings::Secret::new(kdf::hex_encode(
        &rand::random::<[u8; 16]>(),
    ))),
    timeout_ms: None,
});

/// Whether two secrets are equal, in a time that tells neither their content
/// nor their lengths: their SHA-256 digests are compared.
fn same(expected: &[u8], given: &[u8]) -> u8 {
    let (a, b) = (
        kdf::Digest::Sha256.of(&[expected]),
        kdf::Digest::Sha256.of(&[given]),
    );
    a.ct_eq(&b).unwrap_u8()
}

/// Both kinds of credential, when both are set; compared in constant time.
fn credential_matches(settings: &AdapterSettings, headers: &HeaderMap) -> bool {
    let given = |name: &str| -> &[u8] {
        headers
            .get(name)
            .map(HeaderValue::as_bytes)
            .unwrap_or_default()
    };
    let mut ok = 1u8;
    if let (Some(user), Some(password)) = (&settings.basic_user, &settings.basic_password) {
        let pair = format!("{user}:{}", password.expose());
        let given = basic_pair(given(header::AUTHORIZATION.as_str()));
        // UTF-8, as RFC 7617 recommends, or ISO-8859-1, which Keycloak's
        // provider writes (its HttpClient); both are compared whenever the
        // pair can be written in ISO-8859-1, so the time depends on the
        // settings alone.
        let utf8 = same(pair.as_bytes(), &given);
        let latin1 = iso_8859_1(&pair).map_or(0, |bytes| same(&bytes, &given));
        ok &= utf8 | latin1;
    }
    if let Some(value) = &settings.header_value {
        ok &= same(value.expose().as_bytes(), given(settings.header_name()));
    }
    ok == 1
}

/// The `user:password` bytes of a Basic credential (the scheme's name in
/// any case, RFC 7617); empty when the header is absent or not Basic.
fn basic_pair(value: &[u8]) -> Vec<u8> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, encoded)| kdf::base64_decode(encoded.trim()))
        .unwrap_or_default()
}

/// `text` in ISO-8859-1, when every character has a byte there.
fn iso_8859_1(text: &str) -> Option<Vec<u8>> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}

/// A POST body, read as JSON: 415, 413 and 400 as our own API answers them.
fn json_body(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let body = read_body(headers, body)?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| Error::invalid_request(format!("malformed JSON: {e}")))?;
    if !value.is_object() {
        return Err(Error::invalid_request("the body must be a JSON object").into());
    }
    Ok(value)
}

/// A required string at a JSON pointer: present, a string, not empty.
fn required(body: &Value, pointer: &str, name: &str) -> Result<String, ApiError> {
    match body.pointer(pointer) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => {
            Err(Error::invalid_request(format!("`{name}` must not be an empty string")).into())
        }
        Some(_) => Err(Error::invalid_request(format!("`{name}` must be a string")).into()),
        None => Err(Error::invalid_request(format!("`{name}` is required")).into()),
    }
}

/// An optional string at a JSON pointer.
fn optional(body: &Value, pointer: &str) -> Option<String> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `request::context()` for a call: the platform, and what it told of the
/// end user.
fn context(adapter: &str, ip: Option<String>, user_agent: Option<String>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("platform".into(), adapter.into());
    if let Some(ip) = ip {
        m.insert("ip".into(), ip.into());
    }
    if let Some(agent) = user_agent {
        m.insert("user_agent".into(), agent.into());
    }
    m
}

impl Admitted {
    /// Runs the action, with the adapter's time limit, under the label
    /// `ADAPTER.SCRIPT` in logs and metrics. `status` is what the platform
    /// gets, for the metrics.
    async fn run(
        &self,
        state: &AppState,
        mut request: ActionRequest,
        status: impl FnOnce(&Result<Outcome, Error>) -> StatusCode,
    ) -> Result<Outcome, Error> {
        let label = format!("{}.{}", self.adapter, request.action.script());
        request.time_limit = Some(self.timeout);
        let (result, timings) = self.conn.perform_timed(request).await;
        if let Some(metrics) = &state.0.metrics {
            metrics.record(
                self.conn.name(),
                &label,
                status(&result).as_u16(),
                Some(&timings),
            );
        }
        result
    }
}

/// The request id of the call being answered.
fn request_id() -> String {
    CURRENT_REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_default()
}

/// Our error body, at the status the platform needs.
fn error_at(status: StatusCode, error: Error) -> Response {
    let e = ApiError::from(error);
    let mut response = (status, axum::Json(e.body(&request_id()))).into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// The status our own API gives an error.
fn our_status(error: &Error) -> StatusCode {
    super::error::status_of(error)
}

/// A JSON answer.
fn json(status: StatusCode, value: &Value) -> Response {
    let mut response = (status, Body::from(value.to_string())).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The PROFILE's standard fields; every other is a pass-through attribute.
use crate::profile::PROFILE_FIELDS as STANDARD;

/// A profile the platform cannot take: 500 `invalid_profile`.
/// Whether FusionAuth and Keycloak can take this profile: each needs a
/// username or an email to name the user by.
fn named(profile: &crate::profile::Profile) -> bool {
    profile.text("username").is_some() || profile.text("email").is_some()
}

/// The status a login or lookup that answers a user gets, for the metrics:
/// 200, or 500 when the answer is no user or one the platform cannot take.
fn user_status(result: &Result<crate::actions::Outcome, Error>) -> Option<StatusCode> {
    match result {
        Ok(crate::actions::Outcome::User(p)) if named(p) => Some(StatusCode::OK),
        Ok(_) => Some(StatusCode::INTERNAL_SERVER_ERROR),
        Err(_) => None,
    }
}

fn not_for(platform: &str, rule: &str) -> Error {
    let e = Error::InvalidProfile(crate::profile::ProfileError {
        field: format!("{platform} user"),
        rule: rule.into(),
    });
    tracing::error!(error = e.code(), cause = %crate::telemetry::OneLine(&e), "the profile cannot be answered");
    e
}
