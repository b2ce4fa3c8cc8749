use serde_json::json;

use crate::helpers::{builder, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_by_email_and_by_username() {
    let app = TestApp::demo().await;
    for id in ["jane.doe@example.com", "jane"] {
        let a = app
            .action(
                "login",
                json!({"username_or_email": id, "password": "correct horse battery staple"}),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        let user = &a.body["user"];
        assert_eq!(user["user_id"], "1");
        assert_eq!(user["email"], "jane.doe@example.com");
        assert_eq!(user["username"], "jane");
        assert_eq!(user["given_name"], "Jane");
        assert_eq!(user["family_name"], "Doe");
        assert_eq!(user["email_verified"], true);
        // the JSON columns: prefs as user_metadata, the legacy `metadata` as app_metadata
        assert_eq!(
            user["user_metadata"],
            json!({"hobby": "surfing", "theme": "dark"})
        );
        assert_eq!(
            user["app_metadata"],
            json!({"plan": "full", "roles": ["admin"]})
        );
        assert!(user.get("metadata").is_none() && user.get("pass_hash").is_none());
        assert!(!a.body.to_string().contains("$2b$"));
    }
    // bob: NULL columns are absent, TINYINT 0 is false, NULL prefs is {}
    let a = app
        .action(
            "login",
            json!({"username_or_email": "bob", "password": "bob-password-1"}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let user = &a.body["user"];
    assert_eq!(user["email_verified"], false);
    assert!(user.get("family_name").is_none());
    assert_eq!(user["user_metadata"], json!({}));
    assert_eq!(user["app_metadata"], json!({"plan": "free"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_unknown_user_are_the_same_401() {
    let app = TestApp::demo().await;
    let wrong = app
        .action(
            "login",
            json!({"username_or_email": "jane", "password": "wrong"}),
        )
        .await;
    wrong.expect(401, "wrong_username_or_password");
    let unknown = app
        .action(
            "login",
            json!({"username_or_email": "nobody@example.com", "password": "x"}),
        )
        .await;
    unknown.expect(401, "wrong_username_or_password");
    assert_eq!(wrong.body["message"], unknown.body["message"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_user_gets_the_scripts_message() {
    let app = TestApp::demo().await;
    let a = app
        .action(
            "login",
            json!({"username_or_email": "mallory", "password": "mallory-password-1"}),
        )
        .await;
    a.expect(403, "unauthorized");
    assert_eq!(
        a.body["message"],
        "Your account is locked. Please contact support."
    );
    // the wrong password says nothing about the block
    let a = app
        .action(
            "login",
            json!({"username_or_email": "mallory", "password": "guess"}),
        )
        .await;
    a.expect(401, "wrong_username_or_password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_upgrades_a_hash_of_another_cost() {
    // The seed hashes are bcrypt cost 10; the test connection wants cost 4.
    let app = TestApp::demo().await;
    let before = app.sql("SELECT pass_hash FROM members WHERE login_name = 'jane'");
    assert!(before.starts_with("$2b$10$"));
    let body = json!({"username_or_email": "jane", "password": "correct horse battery staple"});
    assert_eq!(app.action("login", body.clone()).await.status, 200);
    let after = app.sql("SELECT pass_hash FROM members WHERE login_name = 'jane'");
    assert!(after.starts_with("$2b$04$"), "{after}");
    assert_eq!(app.action("login", body).await.status, 200);
    // a hash already in the configured cost is left as it is
    assert_eq!(
        app.sql("SELECT pass_hash FROM members WHERE login_name = 'jane'"),
        after
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_user_answers_the_profile_or_404() {
    let app = TestApp::demo().await;
    let a = app
        .action("get_user", json!({"email": "jane.doe@example.com"}))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["user"]["app_metadata"]["plan"], "full");
    assert_eq!(a.body["user"]["user_metadata"]["hobby"], "surfing");
    let a = app
        .action("get_user", json!({"email": "nobody@example.com"}))
        .await;
    a.expect(404, "user_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_that_neither_answers_nor_throws_is_invalid_profile() {
    for (result, field) in [
        ("()", "login result"),
        ("false", "login result"),
        ("#{ email: \"a@b\" }", "user_id"),
        // an error value returned where it was meant to be thrown
        (
            "WrongUsernameOrPasswordError(u)",
            "returned, not thrown: write `throw WrongUsernameOrPasswordError(...)`",
        ),
        (
            "UnauthorizedError(\"locked\")",
            "write `throw UnauthorizedError(...)`",
        ),
        // a map of the same kind with fields of its own is a profile's
        (
            "#{ kind: \"ValidationError\", code: \"x\", email: \"a@b\" }",
            "user_id",
        ),
    ] {
        let app = builder()
            .bare()
            .script("login", &format!("fn login(u, p) {{ {result} }}"))
            .spawn()
            .await;
        let a = app
            .action("login", json!({"username_or_email": "a", "password": "b"}))
            .await;
        a.expect(500, "invalid_profile");
        assert!(
            a.body["message"].as_str().unwrap().contains(field),
            "{}",
            a.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_errors_map_to_their_codes() {
    let cases = [
        (
            "throw ValidationError(\"email_too_long\", \"Email is too long.\");",
            400,
            "email_too_long",
            Some("Email is too long."),
        ),
        (
            "throw ValidationError(\"user_exists\", \"taken\");",
            409,
            "user_exists",
            Some("taken"),
        ),
        (
            "throw ValidationError(\"script_error\", \"sneaky\");",
            500,
            "script_error",
            None,
        ),
        (
            "throw ValidationError(\"Bad-Code\", \"x\");",
            500,
            "script_error",
            None,
        ),
        (
            "throw UnauthorizedError(\"Not today.\");",
            403,
            "unauthorized",
            Some("Not today."),
        ),
        (
            "throw WrongUsernameOrPasswordError(u, \"why\");",
            401,
            "wrong_username_or_password",
            None,
        ),
        ("throw \"SELECT secret FROM x\";", 500, "script_error", None),
        ("let x = 1 / 0;", 500, "script_error", None),
        ("undefined_function()", 500, "script_error", None),
    ];
    for (body, status, code, message) in cases {
        let app = builder()
            .bare()
            .script("login", &format!("fn login(u, p) {{ {body} }}"))
            .spawn()
            .await;
        let a = app
            .action("login", json!({"username_or_email": "a", "password": "b"}))
            .await;
        a.expect(status, code);
        if let Some(m) = message {
            assert_eq!(a.body["message"], m);
        }
        let text = a.body.to_string();
        assert!(!text.contains("SELECT") && !text.contains("line"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_level_imports_reach_functions_and_helpers_throw_through() {
    let app = builder()
        .bare()
        .script("util", "fn deny(u) { throw WrongUsernameOrPasswordError(u); }\nfn ok(u) { #{ id: 7, username: u } }")
        .script(
            "login",
            "import \"util\" as util;\nfn login(u, p) { if p == \"no\" { util::deny(u) } check(u) }\nfn check(u) { util::ok(u) }",
        )
        .spawn()
        .await;
    let a = app
        .action(
            "login",
            json!({"username_or_email": "zed", "password": "yes"}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.body["user"],
        json!({"user_id": "7", "username": "zed", "email_verified": false, "user_metadata": {}, "app_metadata": {}})
    );
    let a = app
        .action(
            "login",
            json!({"username_or_email": "zed", "password": "no"}),
        )
        .await;
    a.expect(401, "wrong_username_or_password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_reaches_the_script() {
    let app = builder()
        .bare()
        .script(
            "login",
            "fn login(u, p) { #{ id: 1, seen: request::context() } }",
        )
        .spawn()
        .await;
    let a = app
        .action("login", json!({"username_or_email": "a", "password": "b", "context": {"ip": "10.1.2.3", "client_id": "abc"}}))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.body["user"]["seen"],
        json!({"ip": "10.1.2.3", "client_id": "abc"})
    );
    let a = app
        .action("login", json!({"username_or_email": "a", "password": "b"}))
        .await;
    assert_eq!(a.body["user"]["seen"], json!({}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_values_reach_scripts() {
    let app = builder()
        .bare()
        .script(
            "login",
            "fn login(u, p) { #{ id: 1, pepper_len: configuration::PEPPER.len() } }",
        )
        .connection("[connections.main.configuration]\nPEPPER = \"s3cr3t-pepper\"")
        .spawn()
        .await;
    let a = app
        .action("login", json!({"username_or_email": "a", "password": "b"}))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["user"]["pepper_len"], 13);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_for_the_caller_never_carry_the_password() {
    for throw in [
        "ValidationError(\"weak_password\", `${p} is weak`)",
        "UnauthorizedError(`no ${p} here`)",
    ] {
        let app = builder()
            .bare()
            .script("login", &format!("fn login(u, p) {{ throw {throw}; }}"))
            .spawn()
            .await;
        let a = app
            .action(
                "login",
                json!({"username_or_email": "a", "password": "pw-4242-marker"}),
            )
            .await;
        assert!(a.status == 400 || a.status == 403, "{}", a.body);
        assert!(!a.body.to_string().contains("pw-4242-marker"), "{}", a.body);
        assert!(
            a.body["message"].as_str().unwrap().contains("[redacted]"),
            "{}",
            a.body
        );
    }
}

/// An unknown user costs one verification of a dummy hash at the
/// configured cost, as a wrong password costs one of the stored hash, so
/// that timing logins does not list the table's users.
#[test]
fn an_unknown_user_costs_a_hash_verification_like_a_wrong_password() {
    use crate::helpers::{mariadb, raw_request, Process, TOKEN};
    // bcrypt cost 12: one verify takes a few hundred milliseconds.
    let prepared = builder().connection("bcrypt_cost = 12").prepare();
    let server = Process::serve(&prepared.config, &[("RUST_LOG", "info,customdb=debug")]);
    let login = |id: &str, user: &str, password: &str| {
        let started = std::time::Instant::now();
        let answer = raw_request(
            server.addr,
            "POST",
            "/v1/connections/main/login",
            &[
                ("Authorization", &format!("Bearer {TOKEN}")),
                ("x-request-id", id),
            ],
            &json!({"username_or_email": user, "password": password}).to_string(),
        );
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
        started.elapsed()
    };
    // Bob has no hash at all: verify(p, "") costs nothing, so the dummy runs.
    mariadb().sql(
        Some(&prepared.database),
        "UPDATE members SET pass_hash = '' WHERE login_name = 'bob'",
    );
    // Carol still has a fast legacy hash (MD5-crypt, passlib's): verifying
    // it costs next to nothing, so a wrong password verifies the dummy too.
    mariadb().sql(
        Some(&prepared.database),
        "INSERT INTO members (login_name, email_addr, pass_hash, is_verified, is_blocked) \
         VALUES ('carol', 'carol@example.com', '$1$0d932ods$beMfhxOKtlgcmq8e2ltHB0', 1, 0)",
    );
    // First a wrong password, which also opens the store connection.
    let wrong = login("wrong-password-1", "jane", "wrong");
    let unknown = login("unknown-user-1", "nobody@example.com", "whatever");
    let no_hash = login("no-hash-1", "bob", "whatever");
    let fast_hash = login("fast-hash-1", "carol", "whatever");
    // Lower bounds only: a loaded machine makes answers slower, never
    // faster. Without the dummy an unknown user answers in a few ms, while
    // one bcrypt-12 verification takes a hundred or more.
    for (what, took) in [
        ("an unknown user", unknown),
        ("a user without a hash", no_hash),
        ("a wrong password against a fast hash", fast_hash),
    ] {
        assert!(
            took >= std::time::Duration::from_millis(50) && took * 4 >= wrong,
            "{what} answered in {took:?}, a wrong password in {wrong:?}"
        );
    }
    // The dummy runs only when the script verified nothing, or only a hash
    // far faster than the dummy: the log says so for the unknown user and
    // the fast hash, and not for the wrong password.
    let started = std::time::Instant::now();
    let dummy_for = |id: &str| {
        server
            .log()
            .lines()
            .any(|l| l.contains(id) && l.contains("dummy hash"))
    };
    while !dummy_for("unknown-user-1") && started.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(dummy_for("unknown-user-1"), "{}", server.log());
    assert!(dummy_for("no-hash-1"), "{}", server.log());
    assert!(dummy_for("fast-hash-1"), "{}", server.log());
    assert!(!dummy_for("wrong-password-1"), "{}", server.log());
}
