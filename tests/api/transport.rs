use serde_json::{json, Value};

use crate::helpers::{builder, raw_post, Process, TestApp, SECOND_TOKEN, TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_is_checked_before_anything_else() {
    let app = TestApp::demo().await;
    let login = json!({"username_or_email": "jane", "password": "correct horse battery staple"});
    for (path, token) in [
        ("/v1/connections/main/login", None),
        ("/v1/connections/main/login", Some("wrong-token-0123456789")),
        ("/v1/connections/main/login", Some("")),
        ("/v1/connections/nope/login", None),
        ("/v1/connections/main/nope", Some("x")),
        ("/v1/connections", None),
    ] {
        let mut req = app.client.post(app.url(path)).json(&login);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let a = app.send(req).await;
        a.expect(401, "invalid_api_token");
        assert_eq!(a.headers["www-authenticate"], "Bearer");
    }
    // a wrong method without a token: the same 401, no `Allow` to tell
    // which methods the route takes
    let a = app
        .send(app.client.get(app.url("/v1/connections/main/login")))
        .await;
    a.expect(401, "invalid_api_token");
    assert!(a.headers.get("allow").is_none(), "{:?}", a.headers);
    // both configured tokens work (rotation)
    for token in [TOKEN, SECOND_TOKEN] {
        let a = app
            .send(
                app.client
                    .post(app.url("/v1/connections/main/login"))
                    .bearer_auth(token)
                    .json(&login),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    // the scheme's name in any case (RFC 9110); another scheme is refused
    for (header, status) in [
        (format!("bearer {TOKEN}"), 200),
        (format!("BEARER {TOKEN}"), 200),
        (format!("Basic {TOKEN}"), 401),
        (format!("Bearer{TOKEN}"), 401),
    ] {
        let a = app
            .send(
                app.client
                    .post(app.url("/v1/connections/main/login"))
                    .header("authorization", header.as_str())
                    .json(&login),
            )
            .await;
        assert_eq!(a.status, status, "{header}: {}", a.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_connection_action_and_method() {
    let app = TestApp::demo().await;
    let a = app
        .send(
            app.client
                .post(app.url("/v1/connections/nope/login"))
                .bearer_auth(TOKEN)
                .json(&json!({})),
        )
        .await;
    a.expect(404, "unknown_connection");
    let a = app.action("fly", json!({})).await;
    a.expect(404, "unknown_action");
    let a = app
        .send(
            app.client
                .get(app.url("/v1/connections/main/login"))
                .bearer_auth(TOKEN),
        )
        .await;
    a.expect(405, "method_not_allowed");
    assert!(a.body["request_id"].is_string());
}

#[test]
fn names_in_the_path_are_decoded_leniently_and_logged_escaped() {
    let prepared = builder().prepare();
    let server = Process::serve(&prepared.config, &[]);
    let answer = |path: &str| raw_post(server.addr, path, TOKEN, "{}");
    // bytes that are not UTF-8 name nothing that exists
    let a = answer("/v1/connections/main/%FF");
    assert!(
        a.starts_with("HTTP/1.1 404") && a.contains(r#""error":"unknown_action""#),
        "{a}"
    );
    let a = answer("/v1/connections/%FF/login");
    assert!(
        a.starts_with("HTTP/1.1 404") && a.contains(r#""error":"unknown_connection""#),
        "{a}"
    );
    // a decoded newline does not start a line of its own in the log
    let a = answer("/v1/connections/x%0AFORGED%20ERROR%20line/login");
    assert!(a.starts_with("HTTP/1.1 404"), "{a}");
    let a = answer("/v1/connections/main/y%0D%0AFORGED%00");
    assert!(a.contains(r#""error":"unknown_action""#), "{a}");
    let log = server.log_with(r"y\r\nFORGED\0");
    assert!(log.contains(r"connection=x\nFORGED ERROR line"), "{log}");
    assert!(
        !log.lines().any(|l| l.starts_with("FORGED")) && !log.contains('\0'),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_script_is_501() {
    let app = builder().without("get_user").spawn().await;
    let a = app
        .action("get_user", json!({"email": "jane.doe@example.com"}))
        .await;
    a.expect(501, "action_not_configured");
    let list = app
        .send(
            app.client
                .get(app.url("/v1/connections"))
                .bearer_auth(TOKEN),
        )
        .await;
    let actions = &list.body["connections"][0]["actions"];
    assert!(!actions.as_array().unwrap().contains(&json!("get_user")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_listed_with_their_actions() {
    let app = builder().without("delete").spawn().await;
    let a = app
        .send(
            app.client
                .get(app.url("/v1/connections"))
                .bearer_auth(TOKEN),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body,
        json!({"connections": [{"name": "main", "actions": ["login", "signup", "create", "get_user", "verify",
            "change_password", "change_email", "update_metadata"]}]})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_only_and_bounded_bodies() {
    let app = builder().http("max_body_bytes = 1024").spawn().await;
    let url = app.url("/v1/connections/main/login");
    let body = r#"{"username_or_email":"jane","password":"x"}"#;
    for (content_type, status, error) in [
        (None, 415, "unsupported_media_type"),
        (Some("text/plain"), 415, "unsupported_media_type"),
        (
            Some("application/json; charset=utf-8"),
            401,
            "wrong_username_or_password",
        ),
    ] {
        let mut request = app.client.post(&url).bearer_auth(TOKEN).body(body);
        if let Some(t) = content_type {
            request = request.header("content-type", t);
        }
        app.send(request).await.expect(status, error);
    }
    let big = json!({"username_or_email": "jane", "password": "x".repeat(2000)});
    let a = app
        .send(app.client.post(&url).bearer_auth(TOKEN).json(&big))
        .await;
    a.expect(413, "payload_too_large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_400_naming_the_field() {
    let app = TestApp::demo().await;
    let cases: [(&str, Value, &str); 8] = [
        (
            "login",
            json!({"username_or_email": "jane", "password": "x", "remember": true}),
            "`remember`",
        ),
        ("login", json!({"username_or_email": "jane"}), "`password`"),
        (
            "login",
            json!({"username_or_email": 5, "password": "x"}),
            "`username_or_email`",
        ),
        (
            "login",
            json!({"username_or_email": "jane", "password": ""}),
            "`password`",
        ),
        (
            "signup",
            json!({"email": "not-an-email", "password": "x"}),
            "`email`",
        ),
        ("get_user", json!({"email": "a@"}), "`email`"),
        ("login", json!([1, 2]), "object"),
        (
            "login",
            json!({"username_or_email": "j", "password": "x", "context": {"ip": 1}}),
            "context.ip",
        ),
    ];
    for (action, body, named) in cases {
        let a = app.action(action, body).await;
        a.expect(400, "invalid_request");
        assert!(
            a.body["message"].as_str().unwrap().contains(named),
            "{}",
            a.body
        );
    }
    let a = app
        .send(
            app.client
                .post(app.url("/v1/connections/main/login"))
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .body("{\"username_or_email\": \"jane\", "),
        )
        .await;
    a.expect(400, "invalid_request");
    // null is absent
    let a = app
        .action("signup", json!({"email": "n@example.com", "password": "pw", "username": null, "user_metadata": null}))
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_echoed_or_made() {
    let app = TestApp::demo().await;
    let login = json!({"username_or_email": "jane", "password": "wrong"});
    let a = app
        .send(
            app.client
                .post(app.url("/v1/connections/main/login"))
                .bearer_auth(TOKEN)
                .header("x-request-id", "abc.DEF_123-x")
                .json(&login),
        )
        .await;
    assert_eq!(a.headers["x-request-id"], "abc.DEF_123-x");
    assert_eq!(a.body["request_id"], "abc.DEF_123-x");
    for bad in ["has space", "semi;colon", &"x".repeat(129)] {
        let a = app
            .send(
                app.client
                    .post(app.url("/v1/connections/main/login"))
                    .bearer_auth(TOKEN)
                    .header("x-request-id", bad)
                    .json(&login),
            )
            .await;
        let made = a.headers["x-request-id"].to_str().unwrap();
        assert_ne!(made, bad);
        assert_eq!(a.body["request_id"], made);
    }
    // successes carry one too
    let ok = app
        .send(
            app.client
                .post(app.url("/v1/connections/main/get_user"))
                .bearer_auth(TOKEN)
                .json(&json!({"email": "bob@example.com"})),
        )
        .await;
    assert_eq!(ok.headers["x-request-id"].len(), 32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness() {
    let app = TestApp::demo().await;
    let a = app.send(app.client.get(app.url("/healthz"))).await;
    assert_eq!(a.status, 200);
    let a = app.send(app.client.get(app.url("/readyz"))).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["connections"]["main"], "ok");
}

/// Points the connection of `prepared` at a port where nothing listens.
fn point_at_a_closed_port(prepared: &crate::helpers::Prepared) {
    let text = std::fs::read_to_string(&prepared.config).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let text = text.replace(
        &format!(":{}/", crate::helpers::mariadb().port),
        &format!(":{closed}/"),
    );
    std::fs::write(&prepared.config, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_names_an_unreachable_store_without_details() {
    let prepared = builder().prepare();
    point_at_a_closed_port(&prepared);
    let app = prepared.spawn().await;
    let a = app.send(app.client.get(app.url("/readyz"))).await;
    assert_eq!(a.status, 503);
    assert_eq!(a.body["connections"]["main"], "store_unreachable");
    let a = app
        .action("get_user", json!({"email": "jane.doe@example.com"}))
        .await;
    a.expect(503, "user_store_unavailable");
    assert!(!a.body["message"].as_str().unwrap().contains("127.0.0.1"));
}

#[test]
fn the_readiness_warning_carries_the_request_id() {
    let prepared = builder().prepare();
    point_at_a_closed_port(&prepared);
    let server = Process::serve(&prepared.config, &[]);
    let answer = crate::helpers::raw_request(
        server.addr,
        "GET",
        "/readyz",
        &[("x-request-id", "probe-ready-0042")],
        "",
    );
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    let log = server.log_with("store unreachable");
    let line = log
        .lines()
        .find(|l| l.contains("store unreachable"))
        .unwrap();
    assert!(line.contains("probe-ready-0042"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_busy_with_scripts_is_a_ready_store() {
    let app = builder()
        .http("threads = 1")
        .connection("pool.max = 1\nmax_concurrent_scripts = 2")
        .script(
            "get_user",
            "fn get_user(email) { db::query(\"SELECT SLEEP(4)\"); () }",
        )
        .spawn()
        .await;
    let client = app.client.clone();
    let slow = tokio::spawn(
        client
            .post(app.url("/v1/connections/main/get_user"))
            .bearer_auth(crate::helpers::TOKEN)
            .json(&json!({"email": "a@b.co"}))
            .send(),
    );
    // the pool's only connection runs the script's SLEEP
    crate::helpers::eventually("the SLEEP to run", || {
        let n = app.sql(
            "SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP(4)%'",
        );
        (n.trim() == "1").then_some(())
    });
    // probes that come together (a balancer's and a monitor's) all get
    // the one ping's answer: none is told the store is down because
    // another is asking it
    let probes: Vec<_> = (0..4)
        .map(|_| {
            let (client, url) = (app.client.clone(), app.url("/readyz"));
            tokio::spawn(async move { client.get(url).send().await.unwrap() })
        })
        .collect();
    for probe in probes {
        let a = probe.await.unwrap();
        let status = a.status();
        let body = a.text().await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("\"main\":\"ok\""), "{body}");
    }
    assert_eq!(slow.await.unwrap().unwrap().status(), 404);
}

#[test]
fn what_a_script_prints_or_gives_as_a_reason_stays_on_its_log_line() {
    let prepared = builder()
        .script(
            "login",
            "fn login(u, p) { print(\"a\\nFORGED print\"); throw WrongUsernameOrPasswordError(u, \"why\\r\\nFORGED why\"); }",
        )
        .prepare();
    let server = Process::serve(&prepared.config, &[]);
    let a = raw_post(
        server.addr,
        "/v1/connections/main/login",
        TOKEN,
        r#"{"username_or_email": "jane", "password": "pw"}"#,
    );
    assert!(a.starts_with("HTTP/1.1 401"), "{a}");
    let log = server.log_with(r"why\r\nFORGED why");
    assert!(log.contains(r"a\nFORGED print"), "{log}");
    assert!(!log.lines().any(|l| l.starts_with("FORGED")), "{log}");
}
