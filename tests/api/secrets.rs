//! No password, token, database password or configuration value in any log
//! line, at any level, whatever the scripts print or throw.

use serde_json::json;

use crate::helpers::{builder, raw_post, Process, DB_PASSWORD};

const PASSWORD: &str = "pw-marker-5d1c";
const NEW_PASSWORD: &str = "newpw-marker-77a0";
const TOKEN: &str = "token-marker-0b9e-0123456789";
const CONF: &str = "conf-marker-3f3f";

fn leaks(text: &str) -> Vec<&'static str> {
    [PASSWORD, NEW_PASSWORD, TOKEN, CONF, DB_PASSWORD]
        .into_iter()
        .filter(|m| text.contains(m))
        .collect()
}

#[test]
fn no_secret_reaches_the_log_at_trace_level() {
    let say = |args: &str| format!("print(`{args} ${{configuration::SECRET}}`); debug({args});");
    let prepared = builder()
        .script("login", &format!("fn login(u, p) {{ {} throw `bad ${{p}} ${{configuration::SECRET}}`; }}", say("p")))
        .script("create", &format!("fn create(user) {{ {} throw #{{ what: user.password, conf: configuration::SECRET }}; }}", say("user")))
        .script("change_password", &format!("fn change_password(e, p) {{ {} db::query(`SELECT ${{p}}`); }}", say("p")))
        .script("get_user", &format!("fn get_user(e) {{ {} throw UnauthorizedError(configuration::SECRET); }}", say("e")))
        .script("verify", &format!("fn verify(e) {{ {} throw ValidationError(\"bad_thing\", configuration::SECRET); }}", say("e")))
        .script("delete", &format!("fn delete(id) {{ {} let x = configuration::SECRET + 1 / 0; }}", say("id")))
        .connection(&format!("[connections.main.configuration]\nSECRET = \"{CONF}\""))
        .prepare();
    let config = std::fs::read_to_string(&prepared.config).unwrap();
    std::fs::write(
        &prepared.config,
        config.replace(crate::helpers::TOKEN, TOKEN),
    )
    .unwrap();
    let server = Process::serve(&prepared.config, &[("RUST_LOG", "trace")]);
    let requests = [
        (
            "login",
            json!({"username_or_email": "jane", "password": PASSWORD}),
        ),
        (
            "signup",
            json!({"email": "s@example.com", "password": PASSWORD}),
        ),
        (
            "create",
            json!({"email": "c@example.com", "password": PASSWORD, "user_metadata": {"note": PASSWORD}}),
        ),
        ("get_user", json!({"email": "jane.doe@example.com"})),
        ("verify", json!({"email": "jane.doe@example.com"})),
        (
            "change_password",
            json!({"email": "jane.doe@example.com", "new_password": NEW_PASSWORD}),
        ),
        (
            "change_email",
            json!({"email": "jane.doe@example.com", "new_email": "j2@example.com", "email_verified": true}),
        ),
        ("delete", json!({"user_id": "2"})),
        (
            "update_metadata",
            json!({"user_id": "1", "user_metadata": {"k": "v"}}),
        ),
        (
            "login",
            json!({"username_or_email": "jane", "password": PASSWORD, "extra": PASSWORD}),
        ),
        (
            "login",
            json!({"username_or_email": "jane", "password": 12345}),
        ),
    ];
    for (action, body) in requests {
        let answer = raw_post(
            server.addr,
            &format!("/v1/connections/main/{action}"),
            TOKEN,
            &body.to_string(),
        );
        assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
        assert!(leaks(body).is_empty(), "{action} answered {body}");
    }
    // a wrong token is refused without being echoed
    raw_post(
        server.addr,
        "/v1/connections/main/login",
        "wrong-token-marker-0123456789",
        "{}",
    );
    // the wrong token's access line is the last one written
    let log = server.log_with("status=401");
    // RUST_LOG=trace took effect (our most detailed lines are DEBUG)
    assert!(log.contains("DEBUG"), "not at trace level");
    assert!(
        log.contains("[redacted]"),
        "the scripts' lines are there, masked"
    );
    assert!(leaks(&log).is_empty(), "leaked {:?}", leaks(&log));
    assert!(!log.contains("wrong-token-marker"));
}

#[test]
fn malformed_settings_never_print_a_secret() {
    let cases = [
        (
            "database_url = \"mysql://",
            &format!("database_url = \"mysql://u:{CONF}@host:port/db\"\nx_ = \"") as &str,
        ),
        ("bcrypt_cost = 4", "bcrypt_cost = \"conf-marker-3f3f\""),
        (
            "scripts_dir = ",
            "configuration = \"conf-marker-3f3f\"\nscripts_dir = ",
        ),
    ];
    for (from, to) in cases {
        let prepared = builder().prepare();
        let config = std::fs::read_to_string(&prepared.config).unwrap();
        std::fs::write(&prepared.config, config.replacen(from, to, 1)).unwrap();
        let mut process = Process::start(&prepared.config, &["serve"], &[("RUST_LOG", "trace")]);
        assert_eq!(process.wait(), Some(2), "{}", process.log());
        assert!(leaks(&process.log()).is_empty(), "{}", process.log());
    }
    // a malformed value from the environment
    let prepared = builder().prepare();
    let mut process = Process::start(
        &prepared.config,
        &["serve"],
        &[
            ("CUSTOMDB__CONNECTIONS__MAIN__MAX_OPERATIONS", CONF),
            ("CUSTOMDB__HTTP__API_TOKENS", "short"),
        ],
    );
    assert_eq!(process.wait(), Some(2));
    assert!(leaks(&process.log()).is_empty(), "{}", process.log());
}
