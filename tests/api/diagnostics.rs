//! What an operator reads when something is wrong: failures placed at the
//! script's line and column (a module's own file inside a module), paths in
//! the settings resolved from the settings file's folder, and colour only
//! on a terminal.

use std::process::Command;

use crate::helpers::{builder, repo};
use crate::tooling::{customdb, text};

const LOGIN: &str = r#"{"username_or_email":"a","password":"b"}"#;

#[test]
fn host_function_errors_name_the_scripts_line_and_column() {
    let prepared = builder()
        .bare()
        .script(
            "login",
            "fn login(u, p) {\n    let stored = \"$zz$abc\";\n    if password::verify(p, stored) { return #{ id: 1 }; }\n    throw WrongUsernameOrPasswordError(u);\n}",
        )
        .script("get_user", "fn get_user(e) {\n  let rows =\n    db::query(\"SELEC nonsense\");\n  ()\n}")
        .prepare();
    let dir = prepared.scripts.path().display().to_string();
    let out = customdb(&prepared.config, &["try", "main", "login", LOGIN], None);
    let log = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(log.contains(&format!("{dir}/login.rhai:3:18: ")), "{log}");
    assert!(!log.contains(":?"), "{log}");

    let out = customdb(
        &prepared.config,
        &["try", "main", "get_user", r#"{"email":"a@b"}"#],
        None,
    );
    let log = text(&out.stderr);
    assert!(
        log.contains(&format!("{dir}/get_user.rhai:3:9: store error 1064")),
        "{log}"
    );
}

#[test]
fn errors_inside_a_module_name_the_modules_file_and_line() {
    let prepared = builder()
        .bare()
        .script("lib", "fn boom(x) {\n    let y = x / 0;\n    y\n}\n\nfn check(p) {\n  password::verify(p, \"$zz$x\")\n}")
        .script(
            "login",
            "import \"lib\" as lib;\n\nfn login(u, p) {\n  if u == \"a\" { lib::boom(1) } else { lib::check(p) }\n}",
        )
        .prepare();
    let dir = prepared.scripts.path().display().to_string();
    let out = customdb(&prepared.config, &["try", "main", "login", LOGIN], None);
    let log = text(&out.stderr);
    assert!(log.contains(&format!("{dir}/lib.rhai:2:15: ")), "{log}");
    let out = customdb(
        &prepared.config,
        &[
            "try",
            "main",
            "login",
            r#"{"username_or_email":"z","password":"b"}"#,
        ],
        None,
    );
    let log = text(&out.stderr);
    assert!(log.contains(&format!("{dir}/lib.rhai:7:13: ")), "{log}");
    assert!(!log.contains("login.rhai:7"), "{log}");
}

fn check_from(
    cwd: &std::path::Path,
    config: &std::path::Path,
    env: &[(&str, &str)],
) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_customdb"))
        .arg("--config")
        .arg(config)
        .arg("check")
        .current_dir(cwd)
        .envs(env.iter().copied())
        .output()
        .expect("run customdb");
    (out.status.code(), text(&out.stderr))
}

#[test]
fn relative_paths_are_resolved_from_the_settings_files_folder() {
    let root = tempfile::tempdir().unwrap();
    let (conf, scripts) = (root.path().join("conf"), root.path().join("scripts"));
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::create_dir_all(&scripts).unwrap();
    std::fs::copy(
        repo().join("scripts/demo/login.rhai"),
        scripts.join("login.rhai"),
    )
    .unwrap();
    std::fs::copy(
        repo().join("scripts/demo/members.rhai"),
        scripts.join("members.rhai"),
    )
    .unwrap();
    let settings = |dir: &str| {
        format!(
            "[http]\napi_tokens = [\"0123456789abcdef\"]\n[connections.main]\n\
             database_url = \"mysql://u:p@127.0.0.1:1/db\"\nscripts_dir = \"{dir}\"\n"
        )
    };
    let config = conf.join("settings.toml");
    std::fs::write(&config, settings("../scripts")).unwrap();
    // from any working directory
    for cwd in [std::path::Path::new("/"), root.path(), &conf] {
        let (status, log) = check_from(cwd, &config, &[]);
        assert_eq!(status, Some(0), "from {}: {log}", cwd.display());
    }
    // a missing folder: the key and the resolved path, no made-up position
    std::fs::write(&config, settings("../nowhere")).unwrap();
    let (status, log) = check_from(std::path::Path::new("/"), &config, &[]);
    assert_eq!(status, Some(2), "{log}");
    let resolved = root.path().join("nowhere");
    assert!(
        log.contains("connections.main.scripts_dir")
            && log.contains(
                &std::path::absolute(&resolved)
                    .unwrap()
                    .display()
                    .to_string()
            ),
        "{log}"
    );
    assert!(!log.contains(":1:1"), "{log}");
    // a relative path from the environment is relative to the working directory
    let (status, log) = check_from(
        root.path(),
        &config,
        &[("CUSTOMDB__CONNECTIONS__MAIN__SCRIPTS_DIR", "scripts")],
    );
    assert_eq!(status, Some(0), "{log}");
}

#[test]
fn logs_are_coloured_only_on_a_terminal_and_never_with_no_color() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[http]\nlisten = \"nowhere\"\n").unwrap();
    let bin = env!("CARGO_BIN_EXE_customdb");
    // To a file or a pipe: no escape codes.
    let out = Command::new(bin)
        .args(["--config", &config.display().to_string(), "check"])
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("http.listen"), "{log}");
    assert!(!log.contains('\u{1b}'), "{log:?}");
    // On a terminal (util-linux `script` gives the command a pseudo-terminal).
    let on_terminal = |no_color: bool| {
        let mut cmd = Command::new("script");
        cmd.args(["-q", "-e", "-c"])
            .arg(format!("{bin} --config {} check", config.display()))
            .arg("/dev/null")
            .env_remove("NO_COLOR");
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        let out = cmd.output().expect("util-linux `script`");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = on_terminal(false);
    assert!(
        coloured.contains("http.listen") && coloured.contains('\u{1b}'),
        "{coloured:?}"
    );
    let plain = on_terminal(true);
    assert!(
        plain.contains("http.listen") && !plain.contains('\u{1b}'),
        "{plain:?}"
    );
}

/// `try` of a login whose statement sleeps 5 s, under `limits`: its
/// answer and its log.
fn sleeping_login(limits: &str) -> (Option<i32>, String, String) {
    let prepared = builder()
        .bare()
        .script(
            "login",
            "fn login(u, p) {\n  db::query(\"SELECT SLEEP(5)\");\n  #{ id: 1 }\n}",
        )
        .connection(limits)
        .prepare();
    let out = customdb(&prepared.config, &["try", "main", "login", LOGIN], None);
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn a_statement_past_query_timeout_ms_is_logged_as_such() {
    // the answer is the 504 of a script past its time; the log tells the
    // operator which limit it was, so that the right one is raised
    let (code, answer, log) = sleeping_login("query_timeout_ms = 300\nscript_timeout_ms = 4000");
    assert_eq!(code, Some(1), "{log}");
    assert!(answer.contains("script_timeout"), "{answer}");
    assert!(log.contains("query_timeout_ms"), "{log}");
    // at the statement's place in the script
    assert!(log.contains("login.rhai:2:"), "{log}");
    assert!(!log.contains("the script ran past its time limit"), "{log}");

    // the script's own limit first: that is what the log names
    let (_, answer, log) = sleeping_login("query_timeout_ms = 10000\nscript_timeout_ms = 400");
    assert!(answer.contains("script_timeout"), "{log}");
    assert!(log.contains("the script ran past its time limit"), "{log}");
    assert!(!log.contains("query_timeout_ms"), "{log}");
}
