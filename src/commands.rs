//! Operator tooling (docs/operations.md): `check` loads every
//! connection's scripts without a store, `try` runs one action as the HTTP
//! path would, and `test` runs the operator's script test cases, each file
//! on a fresh database of the configured server.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mysql_async::prelude::Queryable;
use serde::Deserialize;
use serde_json::Value;

use crate::actions::{Action, Request};
use crate::connection::{Admission, Connection, Timings};
use crate::http::{answer, new_request_id};
use crate::script::{Problem, ScriptSet};
use crate::settings::{ConnectionSettings, Secret, Settings};
use crate::store::connect_opts;

/// Every problem of every connection's scripts, loaded with the real engine
/// and limits. Needs no store.
/// Every problem of every connection's scripts (nothing runs, no store is
/// needed), and for each connection whose scripts load, notes for the
/// operator: the scripts it has, and each `.rhai` file of its folder that
/// is no script's and that no literal import names (a misspelt
/// `get_users.rhai` would otherwise pass unseen, and the action answer 501).
pub fn check(settings: &Settings) -> (Vec<Problem>, Vec<String>) {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    for c in settings.connections.values() {
        match ScriptSet::load(c) {
            Ok(set) => {
                notes.push(format!(
                    "connection `{}`: {}",
                    c.name,
                    set.names().join(", ")
                ));
                notes.extend(unused_files(&c.scripts_dir).into_iter().map(|file| {
                    format!(
                        "note: {} is no script of connection `{}` ({}) and no literal import names it",
                        file.display(),
                        c.name,
                        crate::script::SCRIPTS
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }));
            }
            Err(found) => problems.extend(found),
        }
    }
    (problems, notes)
}

/// The `.rhai` files directly in `dir` that are no script's and that no
/// literal import of a file in the folder (at any depth) names.
fn unused_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    fn rhai_files(dir: &std::path::Path, depth: usize, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() && depth < 8 {
                rhai_files(&path, depth + 1, out);
            } else if path.extension().is_some_and(|e| e == "rhai") {
                out.push(path);
            }
        }
    }
    let mut all = Vec::new();
    rhai_files(dir, 0, &mut all);
    let imported: std::collections::HashSet<String> = all
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|text| crate::script::scan::scan(&text).imports)
        .map(|found| found.text.trim_end_matches(".rhai").to_string())
        .collect();
    let mut unused: Vec<_> = all
        .into_iter()
        .filter(|p| p.parent() == Some(dir))
        .filter(|p| {
            let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            !crate::script::SCRIPTS.iter().any(|(n, _)| *n == stem) && !imported.contains(stem)
        })
        .collect();
    unused.sort();
    unused
}

/// A command line that cannot run: exit status 2.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("no connection `{0}` in the settings")]
    UnknownConnection(String),
    #[error("no action `{0}`; the actions are {1}")]
    UnknownAction(String, String),
    #[error("connection `{connection}`: its scripts do not load:\n{}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Scripts {
        connection: String,
        problems: Vec<Problem>,
    },
    #[error("{0}")]
    Other(String),
}

/// What `try` answers: the HTTP status and body, and the timings.
pub struct Tried {
    pub status: u16,
    pub body: Value,
    pub timings: Timings,
}

/// The connection for a command: one runtime thread, the command's own.
fn open(settings: ConnectionSettings, max_waiting: usize) -> Result<Arc<Connection>, UsageError> {
    let name = settings.name.clone();
    Connection::open(settings, Admission::new(max_waiting), 1)
        .map(Arc::new)
        .map_err(|problems| UsageError::Scripts {
            connection: name,
            problems,
        })
}

fn action(name: &str) -> Result<Action, UsageError> {
    Action::parse(name).ok_or_else(|| {
        let all: Vec<&str> = Action::ALL
            .iter()
            .map(|a| a.name())
            .chain([LIST_USERS])
            .collect();
        UsageError::UnknownAction(name.into(), all.join(", "))
    })
}

/// The export's page, which `try` and `test` run too (not an HTTP action).
const LIST_USERS: &str = "list_users";

/// Runs one action exactly as `POST /v1/connections/CONNECTION/ACTION` with
/// `body` would: same validation, script, normalization and error mapping.
pub async fn try_action(
    settings: Settings,
    connection: &str,
    action_name: &str,
    body: &[u8],
) -> Result<Tried, UsageError> {
    let max_waiting = settings.http.max_waiting_scripts;
    let conn_settings = settings
        .connections
        .get(connection)
        .cloned()
        .ok_or_else(|| UsageError::UnknownConnection(connection.into()))?;
    if action_name == LIST_USERS {
        // One page of the export: `{"after": ..., "limit": ...}`.
        let request: Value = if body.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Default::default())
        } else {
            serde_json::from_slice(body).map_err(|e| {
                UsageError::Other(format!("list_users: the request is not JSON: {e}"))
            })?
        };
        // under the export's limits for a page of that size
        if !request.is_object() {
            return Err(UsageError::Other(
                "list_users: the request is an object: {\"after\": ..., \"limit\": ...}".into(),
            ));
        }
        let (_, limit) = crate::export::page_request(&request)
            .map_err(|why| UsageError::Other(format!("list_users: {why}")))?;
        let mut conn_settings = conn_settings;
        crate::export::per_user_limits(
            &mut conn_settings.tunables,
            usize::try_from(limit).unwrap_or(1),
        );
        let conn = open(conn_settings, max_waiting)?;
        if !conn.scripts().has(LIST_USERS) {
            return Err(UsageError::Other(format!(
                "connection `{connection}` has no list_users.rhai"
            )));
        }
        let started = std::time::Instant::now();
        let (status, body, store) = crate::export::preview(&conn, &request).await;
        conn.close_thread_store().await;
        return Ok(Tried {
            status,
            body,
            // the page's statements together (their count is not kept)
            timings: Timings {
                script: started.elapsed(),
                queries: if store.is_zero() {
                    Vec::new()
                } else {
                    vec![store]
                },
            },
        });
    }
    let action = action(action_name)?;
    let conn = open(conn_settings, max_waiting)?;
    let request_id = new_request_id();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        connection = %connection,
        action = %action_name
    );
    let (result, timings) = match Request::parse(action, body) {
        Ok(request) => tracing::Instrument::instrument(conn.perform_timed(request), span).await,
        Err(e) => (Err(e), Timings::default()),
    };
    conn.close_thread_store().await;
    let (status, body) = answer(result, &request_id);
    Ok(Tried {
        status: status.as_u16(),
        body,
        timings,
    })
}

/// A file of script test cases (`scripts_dir/tests/*.toml`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Suite {
    /// SQL files run first, relative to the test file.
    #[serde(default)]
    seed_files: Vec<String>,
    /// SQL run after the seed files.
    #[serde(default)]
    seed: String,
    #[serde(default, rename = "case")]
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    action: String,
    #[serde(default)]
    request: Value,
    status: u16,
    /// Fields the answer must hold (a subset: other fields may be there too).
    #[serde(default)]
    expect: Option<Value>,
    /// Dotted paths that must be present and null (TOML has no null).
    #[serde(default)]
    expect_null: Vec<String>,
    /// Dotted paths that must not be in the answer.
    #[serde(default)]
    expect_absent: Vec<String>,
}

/// Which script test cases to run: all by default.
#[derive(Debug, Default, Clone)]
pub struct Selection {
    /// Only this connection's.
    pub connection: Option<String>,
    /// Only the cases whose name contains this text.
    pub filter: Option<String>,
    /// Only these files (each runs for the connection whose scripts_dir
    /// holds it, or for `connection`).
    pub files: Vec<PathBuf>,
}

impl Selection {
    fn narrows(&self) -> bool {
        self.connection.is_some() || self.filter.is_some() || !self.files.is_empty()
    }

    fn takes(&self, case: &Case) -> bool {
        self.filter
            .as_deref()
            .is_none_or(|text| case.name.contains(text))
    }
}

/// What a run of the script tests found.
#[derive(Debug, Default)]
pub struct TestReport {
    pub passed: usize,
    pub failed: usize,
}

/// Every place where `expected` differs from `actual`, as `path: expected
/// X, got Y`: objects need the expected keys only, everything else must be
/// equal.
fn mismatches(expected: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match a.get(k) {
                    Some(got) => mismatches(v, got, &here, out),
                    None => out.push(format!("{here}: expected {v}, got nothing (absent)")),
                }
            }
        }
        // Arrays of the same length: element by element, so that an object
        // inside needs only the keys given too.
        (Value::Array(e), Value::Array(a))
            if e.len() == a.len() && e.iter().any(Value::is_object) =>
        {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                let here = if path.is_empty() {
                    i.to_string()
                } else {
                    format!("{path}.{i}")
                };
                mismatches(ev, av, &here, out);
            }
        }
        _ if expected == actual => {}
        _ => out.push(format!(
            "{}: expected {expected}, got {actual}",
            if path.is_empty() { "answer" } else { path }
        )),
    }
}

/// The value at a dotted path (`user.app_metadata.roles.0`): object keys,
/// and array indexes as numbers.
fn at_path<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |v, key| match v {
        Value::Object(m) => m.get(key),
        Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// What a case's expectations found wrong with `answer`, one line each.
fn failed_expectations(case: &Case, answer: &Value) -> Vec<String> {
    let mut failed = Vec::new();
    if let Some(expected) = &case.expect {
        let mut found = Vec::new();
        mismatches(expected, answer, "", &mut found);
        failed.extend(found.into_iter().map(|m| format!("expect {m}")));
    }
    for path in &case.expect_null {
        match at_path(answer, path) {
            Some(Value::Null) => {}
            Some(got) => failed.push(format!("expect_null {path}: expected null, got {got}")),
            None => failed.push(format!(
                "expect_null {path}: expected null, got nothing (absent)"
            )),
        }
    }
    for path in &case.expect_absent {
        if let Some(got) = at_path(answer, path) {
            failed.push(format!("expect_absent {path}: expected absent, got {got}"));
        }
    }
    failed
}

fn suites(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("tests"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn load_suite(path: &Path) -> Result<(Suite, String), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // `path:line:col: message`, as check places a script's mistake
    let suite: Suite =
        toml::from_str(&text).map_err(|e| crate::settings::toml_error(path, &text, &e))?;
    let mut sql = String::new();
    let base = path.parent().unwrap_or(Path::new("."));
    for file in &suite.seed_files {
        // read as written (a symbolic link before `..` counts); shown
        // without its dot segments
        let seed = base.join(file);
        sql.push_str(&std::fs::read_to_string(&seed).map_err(|e| {
            format!(
                "{}: seed_files: {}: {e}",
                path.display(),
                crate::settings::lexically_normal(&seed).display()
            )
        })?);
        sql.push('\n');
    }
    sql.push_str(&suite.seed);
    // A case that names no action is the file's mistake, found before
    // anything runs.
    for case in &suite.cases {
        if case.action != LIST_USERS {
            action(&case.action)
                .map_err(|e| format!("{}: case `{}`: {e}", path.display(), case.name))?;
        }
    }
    Ok((suite, sql))
}

/// The connection's URL with another database.
fn with_database(
    settings: &ConnectionSettings,
    database: &str,
) -> Result<ConnectionSettings, String> {
    let mut url = url::Url::parse(settings.database_url.expose())
        .map_err(|_| format!("connections.{}.database_url: not a URL", settings.name))?;
    url.set_path(&format!("/{database}"));
    let mut out = settings.clone();
    out.database_url = Secret::new(url.to_string());
    Ok(out)
}

/// A database made for one test file and dropped after it.
struct Scratch {
    admin: mysql_async::Conn,
    name: String,
}

impl Scratch {
    async fn create(settings: &ConnectionSettings, n: usize) -> Result<Scratch, String> {
        let name = format!("customdb_test_{}_{n}", std::process::id());
        let opts =
            mysql_async::OptsBuilder::from_opts(connect_opts(settings)).db_name(None::<String>);
        let mut admin = mysql_async::Conn::new(opts).await.map_err(|e| {
            format!(
                "connection `{}`: the store cannot be reached: {e}",
                settings.name
            )
        })?;
        admin
            .query_drop(format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
            .await
            .map_err(|e| {
                format!(
                    "connection `{}`: cannot create a scratch database (the user needs CREATE and DROP): {e}",
                    settings.name
                )
            })?;
        Ok(Scratch { admin, name })
    }

    async fn seed(&self, settings: &ConnectionSettings, sql: &str) -> Result<(), String> {
        if sql.trim().is_empty() {
            return Ok(());
        }
        let opts = connect_opts(&with_database(settings, &self.name)?);
        let mut conn = mysql_async::Conn::new(opts)
            .await
            .map_err(|e| e.to_string())?;
        let done = conn
            .query_drop(sql)
            .await
            .map_err(|e| format!("the seed SQL failed: {e}"));
        let _ = conn.disconnect().await;
        done
    }

    async fn drop(mut self) {
        let _ = self
            .admin
            .query_drop(format!("DROP DATABASE `{}`", self.name))
            .await;
        let _ = self.admin.disconnect().await;
    }
}

/// The test files to run, each with the connection it runs for.
fn planned<'s>(
    settings: &'s Settings,
    selection: &Selection,
) -> Result<Vec<(&'s ConnectionSettings, PathBuf)>, String> {
    let connections: Vec<&ConnectionSettings> = match &selection.connection {
        Some(name) => vec![settings
            .connections
            .get(name)
            .ok_or_else(|| format!("no connection `{name}` in the settings"))?],
        None => settings.connections.values().collect(),
    };
    if selection.files.is_empty() {
        return Ok(connections
            .into_iter()
            .flat_map(|c| suites(&c.scripts_dir).into_iter().map(move |f| (c, f)))
            .collect());
    }
    let mut plan: Vec<(&ConnectionSettings, PathBuf)> = Vec::new();
    for file in &selection.files {
        let real = file
            .canonicalize()
            .map_err(|_| format!("{}: no such test file", file.display()))?;
        let owners: Vec<&ConnectionSettings> = if selection.connection.is_some() {
            connections.clone()
        } else {
            owners_of(&real, &connections)
        };
        if owners.is_empty() {
            return Err(format!(
                "{}: not inside any connection's scripts_dir; name the connection with --connection",
                file.display()
            ));
        }
        for owner in owners {
            // A file named twice runs once.
            if !plan.iter().any(|(c, f)| c.name == owner.name && *f == real) {
                plan.push((owner, real.clone()));
            }
        }
    }
    Ok(plan)
}

/// The connections whose scripts_dir holds `file`: the deepest such
/// folder's (several when connections share it).
fn owners_of<'s>(
    file: &Path,
    connections: &[&'s ConnectionSettings],
) -> Vec<&'s ConnectionSettings> {
    let holding: Vec<(&ConnectionSettings, PathBuf)> = connections
        .iter()
        .filter_map(|c| {
            let dir = c.scripts_dir.canonicalize().ok()?;
            file.starts_with(&dir).then_some((*c, dir))
        })
        .collect();
    let deepest = holding.iter().map(|(_, d)| d.components().count()).max();
    holding
        .into_iter()
        .filter(|(_, d)| Some(d.components().count()) == deepest)
        .map(|(c, _)| c)
        .collect()
}

/// Runs the selected script test files, printing each case, and a last
/// line `N passed, M failed`. A selection that matches no case is an error.
pub async fn run_tests(
    settings: Settings,
    selection: &Selection,
    out: &mut impl std::io::Write,
) -> Result<TestReport, String> {
    let mut report = TestReport::default();
    for (n, (conn_settings, file)) in planned(&settings, selection)?.into_iter().enumerate() {
        let shown = file.display().to_string();
        let (mut suite, sql) = load_suite(&file)?;
        let had_cases = !suite.cases.is_empty();
        suite.cases.retain(|c| selection.takes(c));
        if had_cases && suite.cases.is_empty() {
            // The filter took none of its cases.
            continue;
        }
        let scratch = Scratch::create(conn_settings, n).await?;
        let ran = run_suite(
            conn_settings,
            &scratch,
            &suite,
            &sql,
            &shown,
            &mut report,
            out,
        )
        .await;
        scratch.drop().await;
        ran?;
    }
    if selection.narrows() && report.passed + report.failed == 0 {
        return Err("no test case matches the selection".into());
    }
    let _ = writeln!(out, "{} passed, {} failed", report.passed, report.failed);
    Ok(report)
}

async fn run_suite(
    conn_settings: &ConnectionSettings,
    scratch: &Scratch,
    suite: &Suite,
    sql: &str,
    shown: &str,
    report: &mut TestReport,
    out: &mut impl std::io::Write,
) -> Result<(), String> {
    scratch
        .seed(conn_settings, sql)
        .await
        .map_err(|e| format!("{shown}: {e}"))?;
    let mut settings = with_database(conn_settings, &scratch.name)?;
    // list_users cases run under the export's limits for their largest page
    let largest_page = suite
        .cases
        .iter()
        .filter(|c| c.action == LIST_USERS)
        .filter_map(|c| crate::export::page_request(&c.request).ok())
        .map(|(_, limit)| usize::try_from(limit).unwrap_or(1))
        .max();
    if let Some(page) = largest_page {
        crate::export::per_user_limits(&mut settings.tunables, page);
    }
    let conn = Arc::new(
        Connection::open(settings, Admission::new(1), 1).map_err(|problems| {
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })?,
    );
    for case in &suite.cases {
        let failure = run_case(&conn, case).await;
        match failure {
            None => {
                report.passed += 1;
                let _ = writeln!(out, "ok   {shown}: {}", case.name);
            }
            Some(why) => {
                report.failed += 1;
                let _ = writeln!(out, "FAIL {shown}: {}", case.name);
                for line in why {
                    let _ = writeln!(out, "     {line}");
                }
            }
        }
    }
    conn.close_thread_store().await;
    Ok(())
}

/// What went wrong with a case, one line each; `None` when it passed. Its
/// log lines (the script's `print`, a failure's cause) carry the case as
/// a request's carry its request_id, connection and action.
async fn run_case(conn: &Arc<Connection>, case: &Case) -> Option<Vec<String>> {
    let request_id = new_request_id();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        connection = %conn.name(),
        action = %case.action,
        case = %case.name
    );
    tracing::Instrument::instrument(case_outcome(conn, case, &request_id), span).await
}

async fn case_outcome(
    conn: &Arc<Connection>,
    case: &Case,
    request_id: &str,
) -> Option<Vec<String>> {
    if case.action == LIST_USERS {
        let (status, answer, _) = crate::export::preview(conn, &case.request).await;
        if status != case.status {
            return Some(vec![format!(
                "status: expected {}, got {status}: {answer}",
                case.status
            )]);
        }
        return expectations_met(case, &answer);
    }
    let action = match action(&case.action) {
        Ok(a) => a,
        Err(e) => return Some(vec![e.to_string()]),
    };
    let body = if case.request.is_null() {
        Value::Object(Default::default())
    } else {
        case.request.clone()
    };
    let result = match Request::parse(action, body.to_string().as_bytes()) {
        Ok(request) => conn.perform(request).await,
        Err(e) => Err(e),
    };
    let (status, answer) = answer(result, request_id);
    if status.as_u16() != case.status {
        return Some(vec![format!(
            "status: expected {}, got {}: {answer}",
            case.status,
            status.as_u16()
        )]);
    }
    expectations_met(case, &answer)
}

/// `None` when the answer meets the case's expectations; otherwise a line
/// for each one it does not, then the answer itself (cut at 2,000
/// characters), so that its shape shows.
fn expectations_met(case: &Case, answer: &Value) -> Option<Vec<String>> {
    let mut failed = failed_expectations(case, answer);
    if failed.is_empty() {
        return None;
    }
    let text = answer.to_string();
    let shown: String = text.chars().take(2000).collect();
    let cut = if shown.len() < text.len() { " ..." } else { "" };
    failed.push(format!("the answer: {shown}{cut}"));
    Some(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn case(expect: Value, null: &[&str], absent: &[&str]) -> Case {
        Case {
            name: "c".into(),
            action: "get_user".into(),
            request: Value::Null,
            status: 200,
            expect: Some(expect),
            expect_null: null.iter().map(ToString::to_string).collect(),
            expect_absent: absent.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn expected_fields_are_a_subset_and_every_difference_is_named() {
        let actual =
            json!({"user": {"email": "a@b", "app_metadata": {"plan": "x"}, "user_id": "1"}});
        assert!(
            failed_expectations(&case(json!({"user": {"email": "a@b"}}), &[], &[]), &actual)
                .is_empty()
        );
        assert_eq!(
            failed_expectations(
                &case(
                    json!({"user": {"email": "c@d", "nickname": "n", "user_id": "1"}}),
                    &[],
                    &[]
                ),
                &actual
            ),
            [
                "expect user.email: expected \"c@d\", got \"a@b\"",
                "expect user.nickname: expected \"n\", got nothing (absent)",
            ]
        );
        let mut found = Vec::new();
        mismatches(
            &json!({"list": [1]}),
            &json!({"list": [1, 2]}),
            "",
            &mut found,
        );
        assert_eq!(found, ["list: expected [1], got [1,2]"]);
    }

    #[test]
    fn null_and_absent_paths() {
        let actual = json!({"user": {"nickname": null, "roles": ["a", null], "email": "a@b"}});
        let ok = case(
            json!({}),
            &["user.nickname", "user.roles.1"],
            &["user.picture", "error"],
        );
        assert!(failed_expectations(&ok, &actual).is_empty());
        let bad = case(
            json!({}),
            &["user.email", "user.picture"],
            &["user.nickname", "user.roles.0"],
        );
        assert_eq!(
            failed_expectations(&bad, &actual),
            [
                "expect_null user.email: expected null, got \"a@b\"",
                "expect_null user.picture: expected null, got nothing (absent)",
                "expect_absent user.nickname: expected absent, got null",
                "expect_absent user.roles.0: expected absent, got \"a\"",
            ]
        );
    }
}
