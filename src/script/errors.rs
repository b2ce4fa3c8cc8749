//! The maps scripts throw, built and read in one place: the error
//! constructors (`WrongUsernameOrPasswordError`, `ValidationError`,
//! `UnauthorizedError`) and the store's failures build them; [`meaning`]
//! reads a thrown map back as the host's error.

use std::path::Path;

use rhai::{Dynamic, Engine, EvalAltResult, Map as RhaiMap, Position};

use super::call;
use crate::error::{Error, RESERVED_CODES};
use crate::store::{StoreError, ER_DUP_ENTRY};

/// The `kind` of the maps the error constructors build.
pub const WRONG_USERNAME_OR_PASSWORD: &str = "WrongUsernameOrPasswordError";
pub const VALIDATION: &str = "ValidationError";
pub const UNAUTHORIZED: &str = "UnauthorizedError";

/// The `kind` of a store failure's map.
const STORE: &str = "store";

/// A thrown value, as Rhai carries it.
pub fn thrown(map: RhaiMap) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(Dynamic::from_map(map), Position::NONE).into()
}

fn error_map(kind: &str, pairs: &[(&str, Dynamic)]) -> RhaiMap {
    let mut m = RhaiMap::new();
    m.insert("kind".into(), kind.into());
    for (k, v) in pairs {
        m.insert((*k).into(), v.clone());
    }
    m
}

/// What `ValidationError(code, message)` builds.
pub fn validation(code: &str, message: &str) -> RhaiMap {
    error_map(
        VALIDATION,
        &[("code", code.into()), ("message", message.into())],
    )
}

/// Registers the error constructors on `engine`.
pub fn register_constructors(engine: &mut Engine) {
    engine.register_fn(WRONG_USERNAME_OR_PASSWORD, |user: Dynamic| {
        Dynamic::from_map(error_map(WRONG_USERNAME_OR_PASSWORD, &[("user", user)]))
    });
    engine.register_fn(WRONG_USERNAME_OR_PASSWORD, |user: Dynamic, why: Dynamic| {
        Dynamic::from_map(error_map(
            WRONG_USERNAME_OR_PASSWORD,
            &[("user", user), ("message", why)],
        ))
    });
    engine.register_fn(VALIDATION, |code: Dynamic, message: Dynamic| {
        Dynamic::from_map(error_map(
            VALIDATION,
            &[("code", code), ("message", message)],
        ))
    });
    engine.register_fn(VALIDATION, |code: Dynamic| {
        Dynamic::from_map(error_map(
            VALIDATION,
            &[("code", code), ("message", Dynamic::UNIT)],
        ))
    });
    engine.register_fn(UNAUTHORIZED, |message: Dynamic| {
        Dynamic::from_map(error_map(UNAUTHORIZED, &[("message", message)]))
    });
}

/// The constructor that built `map`, when it is exactly what one of the
/// error constructors builds (a script that returned such a value meant to
/// throw it).
pub fn constructed(map: &RhaiMap) -> Option<&'static str> {
    if map.len() > 3 {
        return None;
    }
    let kind = map.get("kind")?.read_lock::<rhai::ImmutableString>()?;
    let (name, keys): (_, &[&str]) = match kind.as_str() {
        WRONG_USERNAME_OR_PASSWORD => (WRONG_USERNAME_OR_PASSWORD, &["kind", "user", "message"]),
        VALIDATION => (VALIDATION, &["kind", "code", "message"]),
        UNAUTHORIZED => (UNAUTHORIZED, &["kind", "message"]),
        _ => return None,
    };
    map.keys()
        .all(|k| keys.contains(&k.as_str()))
        .then_some(name)
}

/// Whether a thrown map is a store error the host made (`kind: "store"`).
pub fn is_store_error(map: &RhaiMap) -> bool {
    map.get("kind")
        .and_then(|k| {
            k.read_lock::<rhai::ImmutableString>()
                .map(|k| k.as_str() == STORE)
        })
        .unwrap_or(false)
}

/// `#{ kind: "store", code, message }`, plus `timeout: true` for a query
/// stopped at its time limit (so that a rethrow still means 504).
pub fn store_error_map(error: &StoreError) -> RhaiMap {
    let mut m = RhaiMap::new();
    m.insert("kind".into(), STORE.into());
    let code: Dynamic = match error {
        StoreError::Server { code, .. } => i64::from(*code).into(),
        StoreError::Unavailable(_) | StoreError::Refused(_) | StoreError::TransactionLost(_) => {
            Dynamic::UNIT
        }
        StoreError::Timeout | StoreError::Cancelled => {
            m.insert("timeout".into(), true.into());
            Dynamic::UNIT
        }
    };
    let message = match error {
        StoreError::Server { message, .. } => message.clone(),
        other => other.to_string(),
    };
    m.insert("code".into(), code);
    m.insert("message".into(), message.into());
    m
}

/// A store's error text as `export` tells it: its words up to the first
/// thing it quotes (`Unknown column …`), since what it quotes may be of the
/// script's SQL; a SIGNAL's text (error 1644) is the script's own, and is
/// left out whole.
fn unquoted(code: Option<i64>, text: &str) -> String {
    const ER_SIGNAL_EXCEPTION: i64 = 1644;
    if code == Some(ER_SIGNAL_EXCEPTION) {
        return "(the text a SIGNAL gave, not shown under export)".into();
    }
    let (words, cut) = match text.find(['\'', '"', '`']) {
        Some(at) => (&text[..at], "…"),
        None => (text, ""),
    };
    // and an unquoted name the script made (`FUNCTION db.x5f4dcc3b…`):
    // MySQL's own words are short
    let words: Vec<&str> = words
        .split(' ')
        .map(|w| if w.chars().count() >= 16 { "…" } else { w })
        .collect();
    format!("{}{cut}", words.join(" "))
}

fn text_of(map: &RhaiMap, key: &str) -> Option<String> {
    map.get(key).filter(|v| !v.is_unit()).map(|v| v.to_string())
}

/// The meaning of a thrown map: one of the error constructors, or a store
/// failure thrown on. `place` is where it was thrown, for the log.
pub(super) fn meaning(map: &RhaiMap, file: &Path, place: &str) -> Option<Error> {
    let kind = map.get("kind")?.clone().into_immutable_string().ok()?;
    match kind.as_str() {
        WRONG_USERNAME_OR_PASSWORD => {
            if let Some(why) = text_of(map, "message") {
                tracing::info!(script = %file.display(), why = %crate::telemetry::OneLine(call::mask(&why)), "wrong username or password");
            }
            Some(Error::WrongUsernameOrPassword)
        }
        // Messages go to the caller: masked like the log, so that no answer
        // carries a password or a configuration value.
        UNAUTHORIZED => Some(Error::Unauthorized(call::mask(
            &text_of(map, "message").unwrap_or_else(|| "unauthorized".into()),
        ))),
        VALIDATION => {
            let code = text_of(map, "code").unwrap_or_default();
            let message =
                call::mask(&text_of(map, "message").unwrap_or_else(|| code.replace('_', " ")));
            if code == "user_exists" {
                return Some(Error::UserExists(message));
            }
            // The code is sent as it is: one that is a secret is not sent.
            // (Only the whole code: `password_too_short` under the
            // password `password` is a rule's name, not the password.)
            if call::is_any_secret(&code) {
                return Some(Error::Script(format!(
                    "{place}: ValidationError code `{}` holds the request's password or a secret configuration value",
                    call::mask(&code)
                )));
            }
            if !valid_code(&code) {
                return Some(Error::Script(format!(
                    "{place}: ValidationError code `{}` is not [a-z][a-z0-9_]{{0,63}} or is one of the host's own codes",
                    call::mask(&code)
                )));
            }
            Some(Error::Validation { code, message })
        }
        STORE => {
            if map.get("timeout").and_then(|v| v.as_bool().ok()) == Some(true) {
                return Some(Error::StatementTimeout(place.to_string()));
            }
            let message = call::mask(&text_of(map, "message").unwrap_or_default());
            // Under `export` a store's text is told without what it quotes
            // (`Unknown column …`): the script may have built the SQL of a
            // salt or a digest, which has no shape to mask.
            let message = if call::withholds() {
                unquoted(map.get("code").and_then(|c| c.as_int().ok()), &message)
            } else {
                message
            };
            match map.get("code").map(|c| c.as_int()) {
                Some(Ok(code)) if code == i64::from(ER_DUP_ENTRY) => {
                    tracing::info!(script = %file.display(), cause = %crate::telemetry::OneLine(&message), "duplicate key");
                    Some(Error::UserExists("the user already exists".into()))
                }
                Some(Ok(code)) => Some(Error::Script(format!(
                    "{place}: store error {code}: {message}"
                ))),
                // (the map's message already says so: not twice in the log)
                _ => Some(Error::StoreUnavailable(
                    message
                        .strip_prefix("user store unavailable: ")
                        .unwrap_or(&message)
                        .to_string(),
                )),
            }
        }
        _ => None,
    }
}

fn valid_code(code: &str) -> bool {
    let mut chars = code.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && code.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !RESERVED_CODES.contains(&code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_codes() {
        for ok in ["email_too_long", "a", "x9_"] {
            assert!(valid_code(ok), "{ok}");
        }
        for bad in [
            "",
            "Email",
            "9a",
            "email-too-long",
            "script_error",
            "invalid_request",
            &"a".repeat(65),
        ] {
            assert!(!valid_code(bad), "{bad}");
        }
        assert!(valid_code(&"a".repeat(64)));
    }

    #[test]
    fn unquoted_keeps_the_words_and_not_what_they_quote() {
        assert_eq!(
            unquoted(
                Some(1054),
                "Unknown column '3890cb1a3114350acbed9fcc43e8e0d6' in 'SELECT'"
            ),
            "Unknown column …"
        );
        assert_eq!(
            unquoted(
                Some(1064),
                "You have an error in your SQL syntax; near ''5f4dcc'' at line 1"
            ),
            "You have an error in your SQL syntax; near …"
        );
        assert!(!unquoted(Some(1644), "5f4dcc3b5aa765d6").contains("5f4d"));
        assert_eq!(unquoted(None, "no quotes"), "no quotes");
        assert_eq!(
            unquoted(
                Some(1305),
                "FUNCTION rq_main.x5f4dcc3b5aa765d61d8327deb882cf99 does not exist"
            ),
            "FUNCTION … does not exist"
        );
    }
}
