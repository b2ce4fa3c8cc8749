//! What the host gives a script: the `db`, `password`, `json`, `crypto`,
//! `configuration` and `request` modules, `merge_metadata`, and the error
//! constructors (from [`super::errors`]).

use std::collections::BTreeMap;

use rhai::{
    Array, Dynamic, Engine, EvalAltResult, FnPtr, Map as RhaiMap, Module, NativeCallContext,
    Position,
};

use super::{call, convert, errors, fiber};
use crate::password::{self, HashError, HashPolicy};
use crate::settings::Secret;
use crate::store::{Session, StoreError};

pub(super) type Fallible<T> = Result<T, Box<EvalAltResult>>;
pub(super) type Ctx<'a> = NativeCallContext<'a>;

/// Gives a host function's error the place of the script's call to it:
/// Rhai leaves an error from a namespaced native function (`db::query`,
/// `password::verify`, ...) without a position.
pub(super) fn at<T>(ctx: &NativeCallContext, result: Fallible<T>) -> Fallible<T> {
    result.map_err(|e| at_call(ctx, e))
}

fn at_call(ctx: &NativeCallContext, mut error: Box<EvalAltResult>) -> Box<EvalAltResult> {
    if error.position().is_none() {
        error.set_position(ctx.call_position());
    }
    error
}

pub(super) fn runtime(message: impl Into<String>) -> Box<EvalAltResult> {
    let message = message.into();
    call::note_host_error(&message);
    EvalAltResult::ErrorRuntime(message.into(), Position::NONE).into()
}

/// Registers everything on `engine`.
pub fn register(engine: &mut Engine, policy: HashPolicy, configuration: &BTreeMap<String, Secret>) {
    engine.register_static_module("db", db_module().into());
    engine.register_static_module("password", password_module(policy).into());
    engine.register_static_module("json", json_module().into());
    engine.register_static_module("crypto", super::crypto::module().into());
    engine.register_static_module("request", request_module().into());

    let mut conf = Module::new();
    for (key, value) in configuration {
        conf.set_var(key.as_str(), rhai::ImmutableString::from(value.expose()));
    }
    engine.register_static_module("configuration", conf.into());

    errors::register_constructors(engine);
    engine.register_fn("merge_metadata", merge_metadata);
}

fn merge_metadata(current: Dynamic, patch: Dynamic) -> Fallible<Dynamic> {
    let as_object =
        |v: &Dynamic, what: &str| -> Fallible<serde_json::Map<String, serde_json::Value>> {
            if v.is_unit() {
                return Ok(Default::default());
            }
            match convert::to_json(v) {
                Ok(serde_json::Value::Object(m)) => Ok(m),
                _ => Err(runtime(format!(
                    "merge_metadata: {what} must be a map or (), not {}",
                    v.type_name()
                ))),
            }
        };
    let current = as_object(&current, "current")?;
    // `()`, a part the caller did not give (`patch.user_metadata` when only
    // `metadata` came): left as it is, as the update's merge rule has it
    let merged = if patch.is_unit() {
        current
    } else {
        crate::metadata::merge(&current, &as_object(&patch, "patch")?)
    };
    rhai::serde::to_dynamic(serde_json::Value::Object(merged))
}

/// Runs `f` on the call's store session, turning a store failure into the
/// catchable map a script sees.
fn with_session<T>(f: impl FnOnce(&mut Session) -> Result<T, StoreError>) -> Fallible<T> {
    // Out of the call's state while the statement runs: it suspends the
    // fiber, and the state leaves the thread meanwhile.
    let Some(mut session) = call::current(|c| c.session.take()).flatten() else {
        return Err(runtime(
            "db:: is only available while a script serves a request",
        ));
    };
    let result = f(&mut session);
    call::current(|c| c.session = Some(session));
    result.map_err(|e| match e {
        StoreError::Cancelled => {
            EvalAltResult::ErrorTerminated("cancelled".into(), Position::NONE).into()
        }
        // the script's own mistake: a plain error, 500 when not caught
        StoreError::Refused(why) => runtime(format!("the statement was refused: {why}")),
        StoreError::TransactionLost(_) => runtime(e.to_string()),
        // A wait cut short by the call's own time, not the query's: the
        // script is past it and stops (504), with nothing for it to catch.
        StoreError::Timeout if call::past_deadline() => {
            EvalAltResult::ErrorTerminated("deadline".into(), Position::NONE).into()
        }
        other => errors::thrown(errors::store_error_map(&other)),
    })
}

fn params(list: Array) -> Fallible<Vec<mysql_async::Value>> {
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            convert::to_param(v).map_err(|why| runtime(format!("parameter {}: {why}", i + 1)))
        })
        .collect()
}

fn query(sql: &str, list: Array) -> Fallible<Array> {
    let params = params(list)?;
    let rows = with_session(|s| s.query(sql, params))?;
    convert::rows_to_array(rows).map_err(runtime)
}

fn query_one(sql: &str, list: Array) -> Fallible<Dynamic> {
    Ok(query(sql, list)?
        .into_iter()
        .next()
        .unwrap_or(Dynamic::UNIT))
}

fn execute(sql: &str, list: Array) -> Fallible<RhaiMap> {
    let params = params(list)?;
    let done = with_session(|s| s.execute(sql, params))?;
    let mut m = RhaiMap::new();
    m.insert("affected_rows".into(), (done.affected_rows as i64).into());
    m.insert(
        "last_insert_id".into(),
        done.last_insert_id
            .map_or(Dynamic::UNIT, |id| (id as i64).into()),
    );
    Ok(m)
}

fn transaction(ctx: &NativeCallContext, body: FnPtr) -> Fallible<Dynamic> {
    if call::current(|c| c.session.as_ref().is_some_and(|s| s.in_transaction)).unwrap_or(false) {
        return Err(runtime("db::transaction cannot be nested"));
    }
    with_session(|s| s.begin())?;
    match body.call_within_context::<Dynamic>(ctx, ()) {
        Ok(value) => {
            with_session(|s| s.commit())?;
            Ok(value)
        }
        Err(e) => {
            // The script's own error is what matters; a failed rollback is
            // handled by the session (the connection is thrown away).
            let _ = with_session(|s| s.rollback());
            Err(e)
        }
    }
}

fn db_module() -> Module {
    let mut m = Module::new();
    m.set_native_fn("query", |ctx: Ctx, sql: &str| {
        at(&ctx, query(sql, Array::new()))
    });
    m.set_native_fn("query", |ctx: Ctx, sql: &str, list: Array| {
        at(&ctx, query(sql, list))
    });
    m.set_native_fn("query_one", |ctx: Ctx, sql: &str| {
        at(&ctx, query_one(sql, Array::new()))
    });
    m.set_native_fn("query_one", |ctx: Ctx, sql: &str, list: Array| {
        at(&ctx, query_one(sql, list))
    });
    m.set_native_fn("execute", |ctx: Ctx, sql: &str| {
        at(&ctx, execute(sql, Array::new()))
    });
    m.set_native_fn("execute", |ctx: Ctx, sql: &str, list: Array| {
        at(&ctx, execute(sql, list))
    });
    m.set_native_fn("transaction", |ctx: Ctx, body: FnPtr| {
        let done = transaction(&ctx, body);
        at(&ctx, done)
    });
    m
}

fn hash_error(e: HashError) -> Box<EvalAltResult> {
    match e {
        HashError::TooLong => errors::thrown(errors::validation(
            "password_too_long",
            "The password is too long: bcrypt uses at most 72 bytes.",
        )),
        other => runtime(format!("password: {other}")),
    }
}

/// Runs `f` through the hash gate, waiting no longer than the call's
/// deadline; the script is suspended meanwhile and holds no thread.
pub(super) fn gated<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Fallible<T> {
    fiber::wait(password::gated(call::deadline(), f))
        .ok()
        .flatten()
        .ok_or_else(|| EvalAltResult::ErrorTerminated("deadline".into(), Position::NONE).into())
}

/// Runs a verification `f`: first on this thread up to where its costly
/// work begins (see [`password::before_work`]), so that a value refused
/// (unknown, malformed, too costly) or a single digest is answered at once;
/// otherwise through the hash gate, adding the time its work took to the
/// call's (see [`call::CallState::verifying`]). A refusal adds nothing.
fn verifying(
    f: impl Fn() -> Result<bool, HashError> + Send + 'static,
) -> Fallible<Result<bool, HashError>> {
    if let Some(ended) = password::before_work(&f) {
        return Ok(ended);
    }
    let (result, took) = gated(move || {
        let started = std::time::Instant::now();
        let result = f();
        (result, started.elapsed())
    })?;
    if result.is_ok() {
        call::current(|c| c.verifying += took);
    }
    Ok(result)
}

fn password_module(policy: HashPolicy) -> Module {
    let mut m = Module::new();
    m.set_native_fn("hash", move |ctx: Ctx, plain: &str| {
        at(&ctx, {
            let plain = plain.to_string();
            gated(move || password::hash(&plain, policy)).and_then(|r| r.map_err(hash_error))
        })
    });
    m.set_native_fn("verify", |ctx: Ctx, plain: &str, stored: Dynamic| {
        at(&ctx, verify(plain, stored))
    });
    m.set_native_fn(
        "verify_as",
        |ctx: Ctx, format: &str, plain: &str, stored: Dynamic| {
            at(&ctx, verify_as(format, plain, stored))
        },
    );
    m.set_native_fn(
        "verify_keycloak",
        |ctx: Ctx, plain: &str, secret: Dynamic, credential: Dynamic| {
            at(&ctx, verify_keycloak(plain, secret, credential))
        },
    );
    // Never throws: `()`, a number, anything not a hash wants a new one.
    m.set_native_fn("needs_rehash", move |stored: Dynamic| {
        Ok(stored
            .into_immutable_string()
            .map_or(true, |s| password::needs_rehash(&s, policy)))
    });
    // With the password: also false when `password::hash` would refuse it
    // (over 72 bytes with bcrypt), so that the upgrade at the end of a login
    // never turns a right password into an error.
    // (A `plain` that is no string is no password `password::hash` takes.)
    m.set_native_fn("needs_rehash", move |stored: Dynamic, plain: Dynamic| {
        let hashable = plain
            .read_lock::<rhai::ImmutableString>()
            .is_some_and(|plain| password::hashable(&plain, policy));
        Ok(hashable
            && stored
                .into_immutable_string()
                .map_or(true, |s| password::needs_rehash(&s, policy)))
    });
    m
}

/// `password::verify(plain, stored)`: `()` and `""` are no hash.
fn verify(plain: &str, stored: Dynamic) -> Fallible<bool> {
    if stored.is_unit() {
        return Ok(false);
    }
    let stored = stored.into_immutable_string().map_err(|t| {
        runtime(format!(
            "password::verify: the stored hash must be a string, not {t}"
        ))
    })?;
    if stored.is_empty() {
        return Ok(false);
    }
    let plain = plain.to_string();
    verifying(move || password::verify(&plain, &stored))?.map_err(hash_error)
}

/// `password::verify_as(format, plain, stored)`: `()` and `""` are false.
fn verify_as(format: &str, plain: &str, stored: Dynamic) -> Fallible<bool> {
    if !password::VERIFY_AS_FORMATS.contains(&format) {
        return Err(hash_error(HashError::UnknownName(
            format.chars().take(40).collect(),
        )));
    }
    if stored.is_unit() {
        return Ok(false);
    }
    let stored = stored.into_immutable_string().map_err(|t| {
        runtime(format!(
            "password::verify_as: the stored hash must be a string, not {t}"
        ))
    })?;
    if stored.is_empty() {
        return Ok(false);
    }
    let (format, plain) = (format.to_string(), plain.to_string());
    verifying(move || password::verify_as(&format, &plain, &stored))?.map_err(hash_error)
}

/// A Keycloak column: JSON text or an already decoded map.
fn keycloak_column(what: &str, value: Dynamic) -> Fallible<serde_json::Value> {
    if value.is_map() {
        return convert::to_json(&value)
            .map_err(|rule| runtime(format!("password::verify_keycloak: {what}: {rule}")));
    }
    let text = value.into_immutable_string().map_err(|t| {
        runtime(format!(
            "password::verify_keycloak: {what} must be JSON text or a map, not {t}"
        ))
    })?;
    serde_json::from_str(&text).map_err(|_| {
        runtime(format!(
            "password::verify_keycloak: {what} is not valid JSON"
        ))
    })
}

/// `password::verify_keycloak(plain, secret_data, credential_data)`.
fn verify_keycloak(plain: &str, secret: Dynamic, credential: Dynamic) -> Fallible<bool> {
    if secret.is_unit() {
        return Ok(false);
    }
    let secret = keycloak_column("secret_data", secret)?;
    let credential = keycloak_column("credential_data", credential)?;
    let plain = plain.to_string();
    verifying(move || password::verify_keycloak(&plain, &secret, &credential))?.map_err(hash_error)
}

fn json_module() -> Module {
    let mut m = Module::new();
    m.set_native_fn("parse", |ctx: Ctx, value: Dynamic| {
        at(&ctx, json_parse(value))
    });
    m.set_native_fn("stringify", |ctx: Ctx, value: Dynamic| {
        at(&ctx, json_stringify(&value))
    });
    m
}

/// `json::parse`: a map, an array or `()` is already parsed (MySQL's JSON
/// columns arrive decoded, MariaDB's as text).
fn json_parse(value: Dynamic) -> Fallible<Dynamic> {
    if value.is_map() || value.is_array() || value.is_unit() {
        return Ok(value);
    }
    let text = value
        .into_immutable_string()
        .map_err(|t| runtime(format!("json::parse takes a string, not {t}")))?;
    // Straight into script values, with no `serde_json::Value` between.
    convert::parse_json(&text).map_err(|e| runtime(format!("json::parse: not valid JSON ({e})")))
}

fn json_stringify(value: &Dynamic) -> Fallible<String> {
    convert::json_text(value).map_err(|rule| runtime(format!("json::stringify: {rule}")))
}

fn request_module() -> Module {
    let mut m = Module::new();
    m.set_native_fn("context", || -> Fallible<RhaiMap> {
        Ok(call::current(|c| c.context.clone()).unwrap_or_default())
    });
    m
}
