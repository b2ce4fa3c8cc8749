use serde_json::json;

use crate::helpers::{builder, raw_post, raw_request, strip_ansi, Process, TOKEN};

#[test]
fn a_printed_password_never_reaches_the_log() {
    let login = r#"
        fn login(u, p) {
            print(`login attempt for ${u} with password ${p}`);
            debug(`pepper is ${configuration::PEPPER}`);
            throw `failed with ${p}`;
        }
    "#;
    let prepared = builder()
        .bare()
        .script("login", login)
        .connection("[connections.main.configuration]\nPEPPER = \"pepper-marker-7731\"")
        .prepare();
    let server = Process::serve(&prepared.config, &[("RUST_LOG", "trace")]);
    let password = "pw-marker-9f8e7d";
    let body = json!({"username_or_email": "someone", "password": password}).to_string();
    let answer = raw_request(
        server.addr,
        "POST",
        "/v1/connections/main/login",
        &[
            ("Authorization", &format!("Bearer {TOKEN}")),
            ("x-request-id", "marker-req-1"),
        ],
        &body,
    );
    assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
    assert!(!answer.contains(password));
    let log = server.log_with("login attempt for someone with password [redacted]");
    assert!(log.contains("pepper is [redacted]"), "{log}");
    assert!(log.contains("marker-req-1"), "{log}");
    assert!(!log.contains(password), "{log}");
    assert!(!log.contains("pepper-marker-7731"), "{log}");
    assert!(!log.contains(TOKEN), "{log}");
}

#[test]
fn environment_variables_override_the_files() {
    let prepared = builder()
        .bare()
        .script(
            "login",
            "fn login(u, p) { #{ id: 1, pepper: configuration::PEPPER } }",
        )
        .connection("[connections.main.configuration]\nPEPPER = \"from-file\"")
        .prepare();
    // the file's database_url points nowhere; the environment's is the real one
    let real_url = prepared.database_url();
    prepared.set_database_url("mysql://nobody:x@127.0.0.1:1/none");
    let server = Process::serve(
        &prepared.config,
        &[
            (
                "CUSTOMDB__HTTP__API_TOKENS",
                "env-token-one-0123456789,env-token-two-0123456789",
            ),
            ("CUSTOMDB__CONNECTIONS__MAIN__DATABASE_URL", &real_url),
            ("CUSTOMDB__CONNECTIONS__MAIN__CONFIGURATION__PEPPER", "007"),
            ("CUSTOMDB__CONNECTIONS__MAIN__MAX_OPERATIONS", "500000"),
        ],
    );
    let login = r#"{"username_or_email":"a","password":"b"}"#;
    let answer = raw_post(
        server.addr,
        "/v1/connections/main/login",
        "env-token-two-0123456789",
        login,
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // the case of the file's key is kept, the value is the environment's, as a string
    assert!(answer.contains(r#""pepper":"007""#), "{answer}");
    let answer = raw_post(server.addr, "/v1/connections/main/login", TOKEN, login);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(raw_request(server.addr, "GET", "/readyz", &[], "").starts_with("HTTP/1.1 200"));
}

#[test]
fn bad_settings_stop_the_start_naming_the_key_not_the_secret() {
    let cases = [
        (
            "scripts_dir = ",
            "bogus_key = 1\nscripts_dir = ",
            "bogus_key",
        ),
        (
            "database_url = \"mysql://",
            "database_url = \"postgres://",
            "database_url",
        ),
        ("bcrypt_cost = 4", "bcrypt_cost = \"lots\"", "bcrypt_cost"),
        (
            "api_tokens = [",
            "api_tokens = [\"short\", ",
            "api_tokens[0]",
        ),
    ];
    for (from, to, named) in cases {
        let prepared = builder().bare_with_no_login().prepare();
        let text = std::fs::read_to_string(&prepared.config).unwrap();
        assert!(text.contains(from), "{from}");
        std::fs::write(&prepared.config, text.replacen(from, to, 1)).unwrap();
        let mut process = Process::start(&prepared.config, &["serve"], &[]);
        assert_eq!(process.wait(), Some(2), "{}", process.log());
        let log = process.log();
        assert!(log.contains(named), "{named}: {log}");
        assert!(!log.contains(crate::helpers::DB_PASSWORD), "{log}");
        assert!(!log.contains(TOKEN), "{log}");
    }
}

#[test]
fn scripts_that_do_not_load_stop_the_start_with_path_line_col() {
    let prepared = builder()
        .bare()
        .script("login", "fn login(u, p) {\n    let x = ;\n}")
        .script("get_user", "let stray = 1;\nfn get_user(email) { () }")
        .script(
            "create",
            "import \"../outside\" as o;\nfn create(user) { 1 }",
        )
        .script("verify", "fn verify(email, extra) { true }")
        .prepare();
    let dir = prepared.scripts.path().display().to_string();
    let mut process = Process::start(&prepared.config, &["serve"], &[]);
    assert_eq!(process.wait(), Some(2));
    let log = strip_ansi(&process.log());
    for expected in [
        format!("{dir}/login.rhai:2:13: "),
        format!("{dir}/get_user.rhai:1:1: only `fn` definitions and `import` statements"),
        format!("{dir}/create.rhai:1:8: import \"../outside\""),
        format!("{dir}/verify.rhai:1:1: fn verify takes 1 parameter, not 2"),
    ] {
        assert!(log.contains(&expected), "{expected}\n{log}");
    }
}
