//! The operator commands: check, try, test, and live reload.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{builder, mariadb, raw_post, raw_request, repo, strip_ansi, Process, TOKEN};

pub(crate) fn customdb(config: &std::path::Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_customdb"))
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run customdb");
    if let Some(text) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("customdb ends")
}

pub(crate) fn text(bytes: &[u8]) -> String {
    strip_ansi(&String::from_utf8_lossy(bytes))
}

#[test]
fn check_lists_every_problem_with_path_and_line() {
    let prepared = builder()
        .bare()
        .script("create", "fn create(user) {\n  let x = 1 +;\n}")
        .script(
            "get_user",
            "fn get_user(email) { () }\nlet stray = 2;\nprint(stray);",
        )
        .script(
            "verify",
            "// marks the address verified\n\nprivate fn helper() { 1 }\nfn verify(email, extra) { true }",
        )
        .script("delete", "fn remove(id) { true }")
        .script(
            "update_metadata",
            "fn update_metadata(id, patch) {\n  eval(\"1\")\n}",
        )
        .script(
            "change_email",
            "import \"/etc/passwd\" as p;\nfn change_email(a, b, c) { true }",
        )
        .script(
            "change_password",
            "fn change_password(e, p) {\n  import \"../../escape\" as x;\n  true\n}",
        )
        .prepare();
    let dir = prepared.scripts.path().display().to_string();
    let out = customdb(&prepared.config, &["check"], None);
    assert_eq!(out.status.code(), Some(1));
    let listed = text(&out.stdout);
    for expected in [
        format!("{dir}/login.rhai:1:1: missing: every connection needs a login script"),
        format!("{dir}/create.rhai:2:14: "),
        format!("{dir}/get_user.rhai:2:1: only `fn` definitions"),
        format!("{dir}/get_user.rhai:3:1: only `fn` definitions"),
        // at the function's own line
        format!("{dir}/verify.rhai:4:1: fn verify takes 1 parameter, not 2"),
        format!("{dir}/delete.rhai:1:1: no fn delete with 1 parameter(s)"),
        format!("{dir}/change_email.rhai:1:8: import \"/etc/passwd\""),
        format!("{dir}/change_password.rhai:2:10: import \"../../escape\""),
        format!("{dir}/update_metadata.rhai:2:3: "),
    ] {
        assert!(listed.contains(&expected), "missing {expected}\n{listed}");
    }
    assert_eq!(listed.lines().count(), 9, "{listed}");
    assert!(listed.contains("eval"), "eval is refused: {listed}");

    let clean = builder().prepare();
    let out = customdb(&clean.config, &["check"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).is_empty());
}

/// With `max_modules` at 0 every import fails when it runs: `check` tells
/// it, as it tells the other limits.
#[test]
fn check_tells_a_script_that_imports_when_max_modules_is_0() {
    let prepared = builder()
        .connection("max_modules = 0")
        .script("members", "fn name(row) { row.login_name }")
        .script(
            "get_user",
            "import \"members\" as m;\nfn get_user(email) { () }",
        )
        .prepare();
    let out = customdb(&prepared.config, &["check"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("get_user.rhai:1:8: imports a module, but max_modules is 0"),
        "{}",
        text(&out.stdout)
    );
    // Above 0: more modules imported at the top level, which every call
    // runs, than the limit lets a call import.
    let prepared = builder()
        .connection("max_modules = 1")
        .script("a", "fn f() { 1 }")
        .script("b", "fn f() { 2 }")
        .script(
            "get_user",
            "import \"a\" as a;\nimport \"b\" as b;\nimport \"a\" as again;\nfn get_user(email) { () }",
        )
        .prepare();
    let out = customdb(&prepared.config, &["check"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains(
            "get_user.rhai:2:8: imports 2 modules at the top level, which every call runs, but max_modules is 1"
        ),
        "{}",
        text(&out.stdout)
    );
}

/// `check` with no connection configured (no `--config`, most often) is
/// bad usage, not a success.
#[test]
fn check_with_no_connection_is_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_customdb"))
        .arg("check")
        .env_remove("CUSTOMDB_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--config"),
        "{}",
        text(&out.stderr)
    );
}

/// A module's top level runs at load, under the call's time limit: one
/// that loops stops there, even where the operations limit is off.
#[test]
fn a_module_that_loops_at_load_is_stopped_by_the_time_limit() {
    let prepared = builder()
        .connection("script_timeout_ms = 300\nmax_operations = 9223372036854775807")
        .script("spin", "let i = 0;\nloop { i += 1; }\nfn f() { 1 }")
        .script(
            "get_user",
            "import \"spin\" as s;\nfn get_user(email) { () }",
        )
        .prepare();
    let out = customdb(&prepared.config, &["check"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout)
            .contains("import \"spin\": the module's top level ran past script_timeout_ms"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn check_tells_the_scripts_a_connection_has_and_a_file_that_is_none() {
    // get_users.rhai, misspelt: no action's, and no import names it; the
    // demo's members.rhai is imported, so it is no stray
    let prepared = builder()
        .without("get_user")
        .script("get_users", "fn get_user(email) { () }")
        .prepare();
    let dir = prepared.scripts.path().display().to_string();
    let out = customdb(&prepared.config, &["check"], None);
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains("connection `main`: login, create, verify,"),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "note: {dir}/get_users.rhai is no script of connection `main`"
        )),
        "{said}"
    );
    assert!(!said.contains("members.rhai is no script"), "{said}");
}

#[test]
fn check_needs_no_database() {
    let prepared = builder().prepare();
    prepared.set_database_port(1);
    let out = customdb(&prepared.config, &["check"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn only_serve_needs_an_api_token() {
    let prepared = builder().prepare();
    // a container's settings: listening on every address, no token (the
    // tokens come from the environment of the server only)
    let settings = std::fs::read_to_string(&prepared.config).unwrap();
    let tokenless: String = settings
        .lines()
        .filter(|l| !l.starts_with("api_tokens") && !l.starts_with("listen"))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .replace("[http]\n", "[http]\nlisten = \"0.0.0.0:0\"\n");
    std::fs::write(&prepared.config, tokenless).unwrap();
    let out = customdb(&prepared.config, &["check"], None);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("serve would not start") && err.contains("no token"),
        "{err}"
    );
    let out = customdb(
        &prepared.config,
        &["try", "main", "get_user", r#"{"email": "bob@example.com"}"#],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("bob@example.com"));
    let mut server = Process::start(&prepared.config, &["serve"], &[]);
    assert_eq!(server.wait(), Some(2), "{}", server.log());
    assert!(
        server.log().contains("no token configured"),
        "{}",
        server.log()
    );
    // the token from the environment, as the image takes it
    let server = Process::serve(&prepared.config, &[("CUSTOMDB__HTTP__API_TOKENS", TOKEN)]);
    let answer = raw_post(
        server.addr,
        "/v1/connections/main/get_user",
        TOKEN,
        r#"{"email": "bob@example.com"}"#,
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn try_answers_what_http_answers() {
    let prepared = builder().prepare();
    let server = Process::serve(&prepared.config, &[]);
    let requests = [
        (
            "login",
            json!({"username_or_email": "jane", "password": "correct horse battery staple"}),
        ),
        ("get_user", json!({"email": "bob@example.com"})),
        (
            "login",
            json!({"username_or_email": "jane", "password": "wrong"}),
        ),
        ("get_user", json!({"email": "nobody@example.com"})),
        (
            "signup",
            json!({"email": "x@example.com", "password": "pw", "app_metadata": {}}),
        ),
    ];
    for (action, body) in requests {
        let over_http = raw_post(
            server.addr,
            &format!("/v1/connections/main/{action}"),
            TOKEN,
            &body.to_string(),
        );
        let status: u16 = over_http
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let http_body: Value =
            serde_json::from_str(over_http.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        let out = customdb(
            &prepared.config,
            &["try", "main", action, &body.to_string()],
            None,
        );
        let tried: Value = serde_json::from_str(&text(&out.stdout)).expect("JSON on stdout");
        let without_id = |mut v: Value| {
            v.as_object_mut().unwrap().remove("request_id");
            v
        };
        assert_eq!(without_id(tried), without_id(http_body), "{action}");
        let want = if status < 300 { 0 } else { 1 };
        assert_eq!(
            out.status.code(),
            Some(want),
            "{action}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(&format!("status {status}; script ")),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn try_reads_stdin_prints_script_lines_and_times_and_exits_by_kind() {
    let prepared = builder()
        .script("get_user", "fn get_user(email) {\n print(`looking up ${email}`);\n debug(\"dbg-line\");\n db::query_one(\"SELECT 1 AS one\");\n ()\n}")
        .script("verify", "fn verify(email) {\n\n    throw \"broken\";\n}")
        .prepare();
    let out = customdb(
        &prepared.config,
        &["try", "main", "get_user"],
        Some(r#"{"email":"who@example.com"}"#),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("looking up who@example.com"), "{err}");
    assert!(err.contains("1 query in"), "{err}");
    // debug lines carry the file and line, print and debug the request's id
    let dbg = err
        .lines()
        .find(|l| l.contains("dbg-line"))
        .expect("the debug line");
    assert!(dbg.contains("get_user.rhai:3"), "{dbg}");
    assert!(
        dbg.contains("request_id=")
            && dbg.contains("connection=main")
            && dbg.contains("action=get_user"),
        "{dbg}"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&text(&out.stdout)).unwrap()["error"],
        "user_not_found"
    );

    let out = customdb(
        &prepared.config,
        &["try", "main", "verify", r#"{"email":"a@b"}"#],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        serde_json::from_str::<Value>(&text(&out.stdout)).unwrap()["error"],
        "script_error"
    );
    let failure = text(&out.stderr);
    let line = failure
        .lines()
        .find(|l| l.contains("broken"))
        .expect("the cause is on stderr");
    assert!(line.contains("verify.rhai:3:5: "), "{line}");
    assert!(
        line.contains("request_id=") && line.contains("action=verify"),
        "{line}"
    );

    let out = customdb(
        &prepared.config,
        &["try", "main", "login", "{not json"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        serde_json::from_str::<Value>(&text(&out.stdout)).unwrap()["error"],
        "invalid_request"
    );

    for args in [["try", "nope", "login", "{}"], ["try", "main", "fly", "{}"]] {
        let out = customdb(&prepared.config, &args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
    }
    let out = customdb(&prepared.config, &["try", "main"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_demo_connections_own_test_cases_pass() {
    let prepared = builder().prepare();
    prepared.set_scripts_dir(&repo().join("scripts/demo"));
    let out = customdb(&prepared.config, &["test"], None);
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{report}{}", text(&out.stderr));
    assert!(report.ends_with("9 passed, 0 failed\n"), "{report}");
    // each file ran on a scratch database, dropped afterwards, and the
    // configured database was not touched
    let left = mariadb().sql(None, "SHOW DATABASES LIKE 'customdb_test_%'");
    assert!(left.is_empty(), "{left}");
    assert_eq!(
        mariadb().sql(Some(&prepared.database), "SELECT COUNT(*) FROM members"),
        "3"
    );
}

#[test]
fn test_runner_reports_each_case_and_a_summary() {
    let prepared = builder().prepare();
    let tests = prepared.scripts.path().join("tests");
    std::fs::create_dir_all(&tests).unwrap();
    let schema = repo().join("scripts/demo/schema.sql").display().to_string();
    std::fs::write(
        tests.join("cases.toml"),
        format!(
            r#"seed_files = ["{schema}"]
[[case]]
name = "bob logs in"
action = "login"
request = {{ username_or_email = "bob", password = "bob-password-1" }}
status = 200
expect = {{ user = {{ username = "bob" }} }}

[[case]]
name = "expects the wrong name"
action = "login"
request = {{ username_or_email = "bob", password = "bob-password-1" }}
status = 200
expect = {{ user = {{ username = "robert" }} }}

[[case]]
name = "expects the wrong status"
action = "get_user"
request = {{ email = "nobody@example.com" }}
status = 200
"#
        ),
    )
    .unwrap();
    let out = customdb(&prepared.config, &["test"], None);
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.contains("ok   ") && report.contains(": bob logs in"),
        "{report}"
    );
    assert!(
        report.contains("FAIL ")
            && report.contains("user.username: expected \"robert\", got \"bob\""),
        "{report}"
    );
    assert!(report.contains("status: expected 200, got 404"), "{report}");
    // a failed expectation shows the answer it looked at
    assert!(
        report.contains("the answer: {\"user\":{\"app_metadata\""),
        "{report}"
    );
    assert!(report.ends_with("1 passed, 2 failed\n"), "{report}");
}

/// A case's log lines name it, as a request's name the request.
#[test]
fn a_test_cases_log_lines_name_the_case() {
    let prepared = builder()
        .script(
            "login",
            "fn login(u, p) { print(`attempt by ${u}`); #{ user_id: 2, username: u } }",
        )
        .prepare();
    let tests = prepared.scripts.path().join("tests");
    std::fs::create_dir_all(&tests).unwrap();
    std::fs::write(
        tests.join("cases.toml"),
        "[[case]]\nname = \"bob logs in\"\naction = \"login\"\n\
         request = { username_or_email = \"bob\", password = \"pw\" }\nstatus = 200\n",
    )
    .unwrap();
    let out = customdb(&prepared.config, &["test"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let log = text(&out.stderr);
    let line = log
        .lines()
        .find(|l| l.contains("attempt by bob"))
        .unwrap_or_else(|| panic!("no line of the script: {log}"));
    for part in ["request_id=", "action=login", "case=bob logs in"] {
        assert!(line.contains(part), "{part}: {line}");
    }
}

#[test]
fn a_test_file_with_a_mistake_is_exit_2_naming_the_place() {
    let prepared = builder().prepare();
    let tests = prepared.scripts.path().join("tests");
    std::fs::create_dir_all(&tests).unwrap();
    let file = tests.join("cases.toml");
    let shown = file.display().to_string();
    for (content, says) in [
        // a case without its status: the line of its table
        (
            "[[case]]\nname = \"a\"\naction = \"login\"\n\n[[case]]\nname = \"b\"\naction = \"login\"\nstatus = 200\n".to_string(),
            format!("{shown}:1:1: missing field `status`"),
        ),
        // an action no script has: told before anything runs, the
        // export's page among the names
        (
            "[[case]]\nname = \"fly\"\naction = \"fly\"\nstatus = 200\n".to_string(),
            format!("{shown}: case `fly`: no action `fly`; the actions are login,"),
        ),
        // a seed file that is not there: the key, and the path as it is
        (
            "seed_files = [\"../../nowhere/../schema.sql\"]\n".to_string(),
            format!("{shown}: seed_files: "),
        ),
    ] {
        std::fs::write(&file, &content).unwrap();
        let out = customdb(&prepared.config, &["test"], None);
        let said = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{content}\n{said}");
        assert!(said.contains(&says), "{content}\n{said}");
        assert!(!said.contains("/../"), "{said}");
        if says.contains("the actions are") {
            assert!(said.contains("list_users"), "{said}");
        }
    }
}

#[test]
fn try_runs_one_page_of_list_users() {
    let prepared = builder().prepare();
    prepared.set_scripts_dir(&repo().join("scripts/demo"));
    let out = customdb(
        &prepared.config,
        &[
            "try",
            "main",
            "list_users",
            r#"{"after": null, "limit": 2}"#,
        ],
        None,
    );
    let page: Value = serde_json::from_str(&text(&out.stdout)).expect("JSON on stdout");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let users = page["users"].as_array().expect("users");
    assert_eq!(users.len(), 2, "{page}");
    // what the export would not ask for is refused, naming it
    for (request, says) in [
        ("{not json", "not JSON"),
        (
            r#"{"limit": 0}"#,
            "`limit` must be an integer from 1 to 10000",
        ),
        (r#"{"after": 1, "page": 2}"#, "not `page`"),
        (r#"{"after": [1]}"#, "`after` must be"),
    ] {
        let out = customdb(
            &prepared.config,
            &["try", "main", "list_users", request],
            None,
        );
        assert_eq!(out.status.code(), Some(2), "{request}");
        assert!(
            text(&out.stderr).contains(says),
            "{request}: {}",
            text(&out.stderr)
        );
    }
}

/// Writes a file whole, as an editor's save-by-rename does.
fn replace_file(path: &std::path::Path, content: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn watched_scripts_reload_under_load_and_a_bad_set_is_refused() {
    let v1 = "fn login(u, p) { #{ id: 1, version: 1 } }";
    let prepared = builder()
        .bare()
        .script("login", v1)
        .connection("watch = true")
        .prepare();
    let login = prepared.scripts.path().join("login.rhai");
    let app = std::sync::Arc::new(prepared_spawn(prepared).await);
    let body = json!({"username_or_email": "a", "password": "b"});

    // a steady stream of logins while the script changes
    // a steady stream of logins while the script changes; each stream
    // records the versions it was answered, in order
    const STREAMS: usize = 4;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen: std::sync::Arc<Vec<std::sync::Mutex<Vec<i64>>>> =
        std::sync::Arc::new((0..STREAMS).map(|_| Default::default()).collect());
    let mut streams = Vec::new();
    for n in 0..STREAMS {
        let (app, stop, body, seen) = (app.clone(), stop.clone(), body.clone(), seen.clone());
        streams.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let a = app.action("login", body.clone()).await;
                assert_eq!(a.status, 200, "a request failed during reload: {}", a.body);
                let version = a.body["user"]["version"].as_i64().unwrap();
                seen[n].lock().unwrap().push(version);
            }
        }));
    }
    let every_stream = |version: i64| {
        seen.iter()
            .all(|s| s.lock().unwrap().contains(&version))
            .then_some(())
    };
    crate::helpers::eventually_async("every stream answered", || async { every_stream(1) }).await;
    replace_file(&login, &v1.replace("version: 1", "version: 2"));
    crate::helpers::eventually_async("every stream answered by the new script", || async {
        every_stream(2)
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for s in streams {
        s.await.unwrap();
    }
    for s in seen.iter() {
        let seen = s.lock().unwrap();
        // each saw the change, and once it had, it never went back
        let first_new = seen.iter().position(|v| *v == 2).expect("the new version");
        assert!(first_new > 0, "{seen:?}");
        assert!(seen[first_new..].iter().all(|v| *v == 2), "{seen:?}");
    }

    // a bad change is refused: the old scripts keep answering, /readyz says so
    replace_file(&login, "fn login(u, p) { let broken = ; }");
    let ready = app.url("/readyz");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let a = app.send(app.client.get(&ready)).await;
        if a.status == 503 {
            assert_eq!(a.body["connections"]["main"], "scripts_failed");
            break;
        }
        assert!(Instant::now() < deadline, "the bad change was not noticed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let a = app.action("login", body.clone()).await;
    assert_eq!(
        (a.status.as_u16(), &a.body["user"]["version"]),
        (200, &json!(2))
    );

    // a good set clears it
    replace_file(&login, &v1.replace("version: 1", "version: 3"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.action("login", body.clone()).await.body["user"]["version"] != 3 {
        assert!(Instant::now() < deadline, "the fix was not taken");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.send(app.client.get(&ready)).await.status, 200);
}

async fn prepared_spawn(prepared: crate::helpers::Prepared) -> crate::helpers::TestApp {
    prepared.spawn().await
}

#[test]
fn sighup_reloads_scripts_and_rotates_tokens() {
    let prepared = builder()
        .bare()
        .script("login", "fn login(u, p) { #{ id: 1, version: 1 } }")
        .prepare();
    let server = Process::serve(&prepared.config, &[]);
    let body = r#"{"username_or_email":"a","password":"b"}"#;
    let path = "/v1/connections/main/login";
    assert!(raw_post(server.addr, path, TOKEN, body).contains(r#""version":1"#));

    let new_token = "brand-new-token-0123456789";
    let settings = std::fs::read_to_string(&prepared.config).unwrap();
    std::fs::write(&prepared.config, settings.replace(TOKEN, new_token)).unwrap();
    replace_file(
        &prepared.scripts.path().join("login.rhai"),
        "fn login(u, p) { #{ id: 1, version: 2 } }",
    );
    let status = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = raw_post(server.addr, path, new_token, body);
        if answer.contains(r#""version":2"#) {
            break;
        }
        assert!(Instant::now() < deadline, "not reloaded: {answer}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(raw_post(server.addr, path, TOKEN, body).starts_with("HTTP/1.1 401"));
    assert!(raw_request(server.addr, "GET", "/readyz", &[], "").starts_with("HTTP/1.1 200"));
    assert!(server.log().contains("scripts reloaded"));

    // a file with no token (on loopback, allowed at start) is not taken by
    // a server that asks for one: the token stays needed and valid
    let settings = std::fs::read_to_string(&prepared.config).unwrap();
    let tokenless: String = settings
        .lines()
        .filter(|l| !l.starts_with("api_tokens"))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .replace("[http]\n", "[http]\nallow_no_token = true\n");
    std::fs::write(&prepared.config, tokenless).unwrap();
    let status = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    server.log_with("a server that asks for a token keeps at least one");
    assert!(raw_post(server.addr, path, "", body).starts_with("HTTP/1.1 401"));
    assert!(raw_post(server.addr, path, new_token, body).contains(r#""version":2"#));
}

#[test]
fn test_runner_selects_by_connection_file_and_name_and_checks_null_and_absent() {
    let prepared = builder()
        .bare()
        .script(
            "login",
            "fn login(u, p) { #{ id: 1, email: u, extra: () } }",
        )
        .prepare();
    let tests = prepared.scripts.path().join("tests");
    std::fs::create_dir_all(&tests).unwrap();
    let case = |name: &str, null: &str, absent: &str| {
        format!(
            "[[case]]\nname = \"{name}\"\naction = \"login\"\n\
             request = {{ username_or_email = \"a@b\", password = \"x\" }}\nstatus = 200\n\
             expect = {{ user = {{ email = \"a@b\" }} }}\n\
             expect_null = [{null}]\nexpect_absent = [{absent}]\n"
        )
    };
    std::fs::write(
        tests.join("a.toml"),
        case(
            "alpha one",
            "\"user.extra\"",
            "\"user.nickname\", \"error\"",
        ) + case("beta", "", "").as_str(),
    )
    .unwrap();
    std::fs::write(
        tests.join("b.toml"),
        case(
            "alpha two",
            "\"user.email\", \"user.nickname\"",
            "\"user.extra\"",
        ),
    )
    .unwrap();
    // A second connection on another folder, with one case of its own.
    let other = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(other.path().join("tests")).unwrap();
    std::fs::write(
        other.path().join("login.rhai"),
        "fn login(u, p) { #{ id: 2 } }",
    )
    .unwrap();
    std::fs::write(other.path().join("tests/c.toml"), case("gamma", "", "")).unwrap();
    let settings = std::fs::read_to_string(&prepared.config).unwrap();
    std::fs::write(
        &prepared.config,
        format!(
            "{settings}\n[connections.other]\ndatabase_url = \"{}\"\nscripts_dir = \"{}\"\n",
            mariadb().url(&prepared.database),
            other.path().display()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["test"];
        all.extend_from_slice(args);
        let out = customdb(&prepared.config, &all, None);
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };

    let (status, report, _) = run(&["--filter", "alpha"]);
    assert_eq!(status, Some(1), "{report}");
    assert!(
        report.contains("ok   ") && report.contains(": alpha one"),
        "{report}"
    );
    assert!(
        !report.contains("beta") && !report.contains("gamma"),
        "{report}"
    );
    // the failed expectations of "alpha two", each with path, expected and actual
    assert!(
        report.contains("FAIL ") && report.contains(": alpha two"),
        "{report}"
    );
    assert!(
        report.contains("expect_null user.email: expected null, got \"a@b\""),
        "{report}"
    );
    assert!(
        report.contains("expect_null user.nickname: expected null, got nothing (absent)"),
        "{report}"
    );
    assert!(
        report.contains("expect_absent user.extra: expected absent, got null"),
        "{report}"
    );
    assert!(report.ends_with("1 passed, 1 failed\n"), "{report}");

    let a = tests.join("a.toml").display().to_string();
    let (status, report, _) = run(&[&a]);
    assert_eq!(status, Some(0), "{report}");
    assert!(
        report.contains(": beta") && !report.contains("alpha two"),
        "{report}"
    );
    assert!(report.ends_with("2 passed, 0 failed\n"), "{report}");

    // gamma fails on the email: the other connection's login answers none
    let (status, report, _) = run(&["--connection", "other"]);
    assert_eq!(status, Some(1), "{report}");
    assert!(
        report.contains(": gamma") && !report.contains("alpha"),
        "{report}"
    );
    assert!(
        report.contains("expect user.email: expected \"a@b\", got nothing"),
        "{report}"
    );

    // A file outside every scripts_dir runs only for a named connection.
    let elsewhere = tempfile::tempdir().unwrap();
    let loose = elsewhere.path().join("loose.toml");
    std::fs::write(&loose, case("loose", "", "")).unwrap();
    let loose = loose.display().to_string();
    let (status, report, _) = run(&["--connection", "main", &loose, &loose]);
    assert_eq!(status, Some(0), "{report}");
    assert!(
        report.ends_with("1 passed, 0 failed\n"),
        "named twice, run once: {report}"
    );

    for (args, said) in [
        (
            vec![loose.as_str()],
            "not inside any connection's scripts_dir",
        ),
        (vec!["--connection", "nope"], "no connection `nope`"),
        (vec!["--filter", "zzz"], "no test case matches"),
        (vec!["/no/such/file.toml"], "no such test file"),
    ] {
        let (status, _, errors) = run(&args);
        assert_eq!(status, Some(2), "{args:?}: {errors}");
        assert!(errors.contains(said), "{args:?}: {errors}");
    }
}

#[test]
fn an_import_cycle_is_a_problem_at_load_not_a_crash() {
    let prepared = builder()
        .bare()
        .script("a", "import \"b\" as b;\nfn fa() { 1 }")
        .script("b", "import \"a\" as a;\nfn fb() { 2 }")
        .script(
            "login",
            "import \"a\" as a;\nfn login(u, p) { #{ id: a::fa() } }",
        )
        .prepare();
    let out = customdb(&prepared.config, &["check"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("an import cycle (a → b → a)"), "{said}");
}
