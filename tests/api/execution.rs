//! The execution core: scripts run as fibers on the runtime threads. A
//! script busy on the CPU shares its thread, the deepest script the limits
//! allow fits its stack, and a client that goes away mid-transaction leaves
//! nothing behind.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{builder, TOKEN};

/// A login request written on a raw socket to the server at `addr`, left open.
fn send_login(addr: std::net::SocketAddr, user: &str) -> std::net::TcpStream {
    let body = json!({"username_or_email": user, "password": "x"}).to_string();
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "POST /v1/connections/main/login HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    stream
}

/// Polls `condition` every 50 ms until it holds, for at most `within`.
async fn eventually(within: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_script_spinning_on_every_thread_leaves_room_for_the_others() {
    let app = Arc::new(
        builder()
            .script(
                "login",
                "fn login(u, p) { let n = 0; loop { n += 1; } }",
            )
            .connection(
                "script_timeout_ms = 6000\nmax_concurrent_scripts = 12\nmax_operations = 1000000000000",
            )
            .http("threads = 2")
            .spawn()
            .await,
    );
    // Eight spinners on eight client connections: the kernel spreads the
    // connections over both runtime threads, so each has spinners.
    let spinners: Vec<_> = (0..8).map(|_| send_login(app.addr, "spin")).collect();
    eventually(Duration::from_secs(10), "spinners running", || {
        let text = crate::helpers::raw_request(app.addr, "GET", "/metrics", &[], "");
        text.lines()
            .any(|l| l.starts_with("customdb_scripts_running{connection=\"main\"} 8"))
    })
    .await;
    // While they spin, fresh connections (spread over both threads too)
    // are answered: health at once, a lookup with its query.
    for _ in 0..6 {
        let started = Instant::now();
        let health = app.send(app.client.get(app.url("/healthz"))).await;
        assert_eq!(health.status, 200);
        let user = app
            .send(
                reqwest::Client::new()
                    .post(app.url("/v1/connections/main/get_user"))
                    .bearer_auth(TOKEN)
                    .json(&json!({"email": "jane.doe@example.com"})),
            )
            .await;
        assert_eq!(user.status, 200, "{}", user.body);
        // A generous bound: the spinners' deadline is 6 s away.
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "answered after {:?} while scripts spin",
            started.elapsed()
        );
    }
    // The spinners end at their deadline, with 504.
    for mut s in spinners {
        let mut answer = String::new();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let _ = s.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 504"), "{answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deepest_script_the_limits_allow_runs_and_one_level_more_is_refused() {
    // 63 nested calls below login (the default max_call_depth is 64), each
    // with the most nesting that max_expr_depth lets through.
    let mut expr = "deep(n - 1)".to_string();
    for _ in 0..28 {
        expr = format!("abs({expr})");
    }
    let app = builder()
        .bare()
        .script(
            "login",
            &format!(
                "fn login(u, p) {{ #{{ id: deep(parse_int(u)) }} }}\n\
                 fn deep(n) {{ if n <= 0 {{ return 1; }} {expr} }}"
            ),
        )
        .spawn()
        .await;
    let a = app.login("63", "x").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = app.login("64", "x").await;
    a.expect(500, "script_error");
    // the process lives on
    let again = app.login("63", "x").await;
    assert_eq!(again.status, 200, "{}", again.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gone_mid_transaction_leaves_no_row_no_transaction_and_no_slot() {
    let app = builder()
        .script(
            "login",
            r#"fn login(u, p) {
                if u == "quick" { return #{ id: 1 }; }
                db::transaction(|| {
                    db::execute("INSERT INTO marks VALUES (1)");
                    db::query("SELECT SLEEP(30)");
                });
                #{ id: 1 }
            }"#,
        )
        .connection("script_timeout_ms = 2000\nmax_concurrent_scripts = 1")
        .spawn()
        .await;
    app.sql("CREATE TABLE marks (n INT) ENGINE=InnoDB");
    let processlist = |what: &str| {
        app.sql(&format!(
            "SELECT COUNT(*) FROM information_schema.processlist WHERE db = '{}' AND {what}",
            app.database
        ))
    };
    let client = send_login(app.addr, "writer");
    // The row is written and the script waits inside its transaction...
    eventually(Duration::from_secs(10), "the SLEEP to start", || {
        processlist("info = 'SELECT SLEEP(30)'") == "1"
    })
    .await;
    // ...when the client goes away.
    drop(client);
    // The script runs on to its deadline; its statement is killed, its
    // transaction rolled back, its slot and connection given back.
    eventually(Duration::from_secs(15), "no statement left", || {
        processlist("info LIKE 'SELECT SLEEP%'") == "0"
    })
    .await;
    eventually(Duration::from_secs(15), "no transaction left", || {
        app.sql(&format!(
            "SELECT COUNT(*) FROM information_schema.innodb_trx t \
             JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id \
             WHERE p.db = '{}'",
            app.database
        )) == "0"
    })
    .await;
    assert_eq!(app.count("marks"), 0);
    let quick = app.login("quick", "x").await;
    assert_eq!(quick.status, 200, "{}", quick.body);
    let metrics = crate::helpers::raw_request(app.addr, "GET", "/metrics", &[], "");
    assert!(
        metrics.contains("customdb_pool_connections_in_use{connection=\"main\"} 0"),
        "{metrics}"
    );
}

const LATE_WRITER: &str = r#"fn login(u, p) {
    db::query("SELECT SLEEP(1)");
    db::execute("INSERT INTO marks VALUES (2)");
    #{ id: 1 }
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_whose_client_left_runs_to_its_end() {
    let app = builder().script("login", LATE_WRITER).spawn().await;
    app.sql("CREATE TABLE marks (n INT) ENGINE=InnoDB");
    let client = send_login(app.addr, "writer");
    eventually(Duration::from_secs(10), "the SLEEP to start", || {
        app.sql(&format!(
            "SELECT COUNT(*) FROM information_schema.processlist WHERE db = '{}' AND info = 'SELECT SLEEP(1)'",
            app.database
        )) == "1"
    })
    .await;
    drop(client);
    // The write after the client left still happens.
    eventually(Duration::from_secs(10), "the late write", || {
        app.count("marks") == 1
    })
    .await;
}

/// A script that holds no store connection yet when shutdown comes (it is
/// hashing), so that only the drain keeps it alive to its write.
const HASH_THEN_WRITE: &str = r#"fn login(u, p) {
    print("hashing now");
    let h = password::hash("a password to hash slowly");
    db::execute("INSERT INTO marks VALUES (3)");
    #{ id: 1 }
}"#;

#[test]
fn shutdown_waits_for_a_script_whose_client_left() {
    let prepared = builder()
        .script("login", HASH_THEN_WRITE)
        .connection("bcrypt_cost = 13")
        .prepare();
    let db = crate::helpers::mariadb();
    db.sql(
        Some(&prepared.database),
        "CREATE TABLE marks (n INT) ENGINE=InnoDB",
    );
    let mut server = crate::helpers::Process::serve(&prepared.config, &[]);
    let client = send_login(server.addr, "writer");
    let started = Instant::now();
    while !server.log().contains("hashing now") {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(client);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(server.wait(), Some(0), "{}", server.log());
    assert_eq!(
        db.sql(Some(&prepared.database), "SELECT COUNT(*) FROM marks"),
        "1",
        "{}",
        server.log()
    );
}
