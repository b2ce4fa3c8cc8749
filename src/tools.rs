//! Operator tooling (config.md, "Command line"): `check` loads every
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
pub fn check(settings: &Settings) -> Vec<Problem> {
    settings
        .connections
        .values()
        .flat_map(|c| ScriptSet::load(c).err().unwrap_or_default())
        .collect()
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

fn open(settings: ConnectionSettings, max_waiting: usize) -> Result<Connection, UsageError> {
    let name = settings.name.clone();
    Connection::open(settings, Admission::new(max_waiting)).map_err(|problems| {
        UsageError::Scripts {
            connection: name,
            problems,
        }
    })
}

fn action(name: &str) -> Result<Action, UsageError> {
    Action::parse(name).ok_or_else(|| {
        let all: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
        UsageError::UnknownAction(name.into(), all.join(", "))
    })
}

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
    conn.store.close().await;
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
}

/// What a run of the script tests found.
#[derive(Debug, Default)]
pub struct TestReport {
    pub passed: usize,
    pub failed: usize,
}

/// Where `expected` differs from `actual`: objects need the expected keys
/// only, everything else must be equal.
fn mismatch(expected: &Value, actual: &Value, path: &str) -> Option<String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e.iter().find_map(|(k, v)| {
            let here = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            match a.get(k) {
                Some(got) => mismatch(v, got, &here),
                None => Some(format!("{here}: expected {v}, missing")),
            }
        }),
        _ if expected == actual => None,
        _ => Some(format!(
            "{}: expected {expected}, got {actual}",
            if path.is_empty() { "answer" } else { path }
        )),
    }
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
    let suite: Suite = config::Config::builder()
        .add_source(config::File::from_str(&text, config::FileFormat::Toml))
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut sql = String::new();
    let base = path.parent().unwrap_or(Path::new("."));
    for file in &suite.seed_files {
        let seed = base.join(file);
        sql.push_str(
            &std::fs::read_to_string(&seed).map_err(|e| format!("{}: {e}", seed.display()))?,
        );
        sql.push('\n');
    }
    sql.push_str(&suite.seed);
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

/// Runs every connection's `scripts_dir/tests/*.toml`, printing each case,
/// and a last line `N passed, M failed`.
pub async fn run_tests(
    settings: Settings,
    out: &mut impl std::io::Write,
) -> Result<TestReport, String> {
    let mut report = TestReport::default();
    let mut n = 0;
    for conn_settings in settings.connections.values() {
        for file in suites(&conn_settings.scripts_dir) {
            n += 1;
            let shown = file.display().to_string();
            let (suite, sql) = load_suite(&file)?;
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
    let settings = with_database(conn_settings, &scratch.name)?;
    let conn = Arc::new(
        Connection::open(settings, Admission::new(1)).map_err(|problems| {
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
                let _ = writeln!(out, "FAIL {shown}: {}\n     {why}", case.name);
            }
        }
    }
    conn.store.close().await;
    Ok(())
}

async fn run_case(conn: &Connection, case: &Case) -> Option<String> {
    let action = match action(&case.action) {
        Ok(a) => a,
        Err(e) => return Some(e.to_string()),
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
    let (status, answer) = answer(result, "");
    if status.as_u16() != case.status {
        return Some(format!(
            "expected status {}, got {}: {answer}",
            case.status,
            status.as_u16()
        ));
    }
    case.expect.as_ref().and_then(|e| mismatch(e, &answer, ""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expected_fields_are_a_subset() {
        let actual =
            json!({"user": {"email": "a@b", "app_metadata": {"plan": "x"}, "user_id": "1"}});
        assert_eq!(
            mismatch(&json!({"user": {"email": "a@b"}}), &actual, ""),
            None
        );
        assert_eq!(
            mismatch(&json!({"user": {"email": "c@d"}}), &actual, ""),
            Some("user.email: expected \"c@d\", got \"a@b\"".into())
        );
        assert_eq!(
            mismatch(&json!({"user": {"nickname": "n"}}), &actual, ""),
            Some("user.nickname: expected \"n\", missing".into())
        );
        assert!(mismatch(&json!({"list": [1]}), &json!({"list": [1, 2]}), "").is_some());
    }
}
