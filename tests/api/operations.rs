//! /metrics, graceful shutdown.

use serde_json::json;

use crate::helpers::{builder, mariadb, TestApp};

fn metric(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// The Prometheus text of `/metrics`.
async fn scrape(app: &TestApp) -> String {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_count_known_traffic() {
    let app = std::sync::Arc::new(
        builder()
            .script(
                "verify",
                "fn verify(email) { db::query(\"SELECT SLEEP(0.6)\"); true }",
            )
            .spawn()
            .await,
    );
    let good = json!({"username_or_email": "bob", "password": "bob-password-1"});
    for _ in 0..3 {
        assert_eq!(app.action("login", good.clone()).await.status, 200);
    }
    app.action(
        "login",
        json!({"username_or_email": "bob", "password": "no"}),
    )
    .await
    .expect(401, "wrong_username_or_password");
    app.action("get_user", json!({"email": "nobody@example.com"}))
        .await
        .expect(404, "user_not_found");
    app.action("get_user", json!({"email": "not an email"}))
        .await
        .expect(400, "invalid_request");

    // while a slow script runs: one running, one store connection held
    let slow = {
        let app = app.clone();
        tokio::spawn(async move {
            app.action("verify", json!({"email": "bob@example.com"}))
                .await
        })
    };
    // (the slow script holds both for a second: polled, not slept for)
    crate::helpers::eventually_async("one script running, one connection held", || async {
        let body = scrape(&app).await;
        let running = metric(&body, "customdb_scripts_running{connection=\"main\"}");
        let held = metric(
            &body,
            "customdb_pool_connections_in_use{connection=\"main\"}",
        );
        (running == Some(1.0) && held == Some(1.0)).then_some(())
    })
    .await;
    assert_eq!(slow.await.unwrap().status, 200);

    let body = scrape(&app).await;
    let count = |labels: &str| metric(&body, &format!("customdb_requests_total{{{labels}}}"));
    assert_eq!(
        count("connection=\"main\",action=\"login\",status=\"200\""),
        Some(3.0),
        "{body}"
    );
    assert_eq!(
        count("connection=\"main\",action=\"login\",status=\"401\""),
        Some(1.0)
    );
    assert_eq!(
        count("connection=\"main\",action=\"get_user\",status=\"404\""),
        Some(1.0)
    );
    assert_eq!(
        count("connection=\"main\",action=\"get_user\",status=\"400\""),
        Some(1.0)
    );
    assert_eq!(
        count("connection=\"main\",action=\"verify\",status=\"200\""),
        Some(1.0)
    );
    // four login scripts ran (the 400 never reached its script)
    let script = |action: &str, suffix: &str| {
        metric(&body, &format!("customdb_script_duration_seconds_{suffix}{{connection=\"main\",action=\"{action}\"}}"))
    };
    assert_eq!(script("login", "count"), Some(4.0));
    assert_eq!(script("get_user", "count"), Some(1.0));
    assert!(script("verify", "sum").unwrap() >= 0.6);
    assert_eq!(
        metric(&body, "customdb_script_duration_seconds_bucket{connection=\"main\",action=\"verify\",le=\"0.5\"}"),
        Some(0.0)
    );
    // statements: 4 logins with one SELECT each (a cost-4 rehash adds an UPDATE
    // on the first), one get_user, one verify
    let queries = metric(
        &body,
        "customdb_query_duration_seconds_count{connection=\"main\"}",
    )
    .unwrap();
    assert_eq!(queries, 7.0, "{body}");
    assert_eq!(
        metric(&body, "customdb_scripts_running{connection=\"main\"}"),
        Some(0.0)
    );
    assert_eq!(
        metric(
            &body,
            "customdb_pool_connections_in_use{connection=\"main\"}"
        ),
        Some(0.0)
    );
    assert_eq!(
        metric(&body, "customdb_pool_connections_max{connection=\"main\"}"),
        Some(20.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_be_turned_off() {
    let app = builder().http("metrics = false").spawn().await;
    let a = app.send(app.client.get(app.url("/metrics"))).await;
    a.expect(404, "not_found");
    let on = TestApp::demo().await;
    assert_eq!(on.send(on.client.get(on.url("/metrics"))).await.status, 200);
}

#[test]
fn sigterm_finishes_the_request_in_flight_then_exits() {
    use crate::helpers::{raw_post, Process, TOKEN};
    let prepared = builder()
        .bare()
        .script(
            "login",
            "fn login(u, p) { db::query(\"SELECT SLEEP(1)\"); #{ id: 1 } }",
        )
        .prepare();
    let mut server = Process::serve(&prepared.config, &[]);
    let addr = server.addr;
    let in_flight = std::thread::spawn(move || {
        raw_post(
            addr,
            "/v1/connections/main/login",
            TOKEN,
            r#"{"username_or_email":"a","password":"b"}"#,
        )
    });
    // the script has its store connection: the request is in flight
    crate::helpers::eventually("the login in flight", || {
        (mariadb().sql(
            None,
            &format!(
                "SELECT COUNT(*) FROM information_schema.processlist WHERE db = '{}' AND info LIKE 'SELECT SLEEP%'",
                prepared.database
            ),
        ) == "1")
            .then_some(())
    });
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let answer = in_flight.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(server.wait(), Some(0), "{}", server.log());
    assert!(server.log().contains("draining"), "{}", server.log());
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still listening"
    );
}
