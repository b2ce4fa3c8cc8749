use serde_json::json;

use crate::helpers::builder;

const KINDS: &str = r#"
    SET time_zone = '+00:00';
    CREATE TABLE kinds (
        id INT PRIMARY KEY,
        nothing VARCHAR(10) NULL,
        big BIGINT, neg INT, flag TINYINT(1),
        u_past BIGINT UNSIGNED, u_fits INT UNSIGNED,
        f FLOAT, d DOUBLE, money DECIMAL(10,2),
        day DATE, moment DATETIME(6), whole DATETIME, stamp TIMESTAMP NULL, clock TIME, back TIME(3),
        doc JSON, txt TEXT CHARACTER SET utf8mb4, vc VARCHAR(50), bin BLOB, vb VARBINARY(10),
        choice ENUM('a','b'), yr YEAR
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
    INSERT INTO kinds VALUES (1, NULL, 9223372036854775807, -42, 1, 9223372036854775808, 5,
        0.1, 2.5, 12.30, '2015-03-04', '2015-03-04 05:06:07.123456', '2015-03-04 05:06:07',
        '2015-03-04 05:06:07', '05:06:07', '-838:59:58.500', '{"a": [1, {"b": null}], "c": "d"}',
        'Zoë 🚀 — ünïcode', 'plain', X'00FF01', X'0A0B', 'b', 2024);
"#;

const SCRIPT: &str = r#"
    fn login(u, p) {
        let row = db::query_one("SELECT * FROM kinds WHERE id = ?", [1]);
        let types = #{};
        for k in row.keys() { types[k] = type_of(row[k]); }
        #{ id: 1, row: row, types: types, parsed: json::parse(row.doc) }
    }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_column_kind_converts_as_scripts_md_says() {
    let app = builder().bare().script("login", SCRIPT).spawn().await;
    app.sql(KINDS);
    let a = app
        .action("login", json!({"username_or_email": "a", "password": "b"}))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let row = &a.body["user"]["row"];
    let types = &a.body["user"]["types"];
    let expect = [
        ("nothing", json!(null), "()"),
        ("big", json!(9223372036854775807_i64), "i64"),
        ("neg", json!(-42), "i64"),
        ("flag", json!(1), "i64"),
        ("u_past", json!("9223372036854775808"), "string"),
        ("u_fits", json!(5), "i64"),
        ("f", json!(0.1), "f64"),
        ("d", json!(2.5), "f64"),
        ("money", json!("12.30"), "string"),
        ("day", json!("2015-03-04"), "string"),
        ("moment", json!("2015-03-04T05:06:07.123456"), "string"),
        ("whole", json!("2015-03-04T05:06:07"), "string"),
        ("stamp", json!("2015-03-04T05:06:07"), "string"),
        ("clock", json!("05:06:07"), "string"),
        ("back", json!("-838:59:58.500000"), "string"),
        ("txt", json!("Zoë 🚀 — ünïcode"), "string"),
        ("vc", json!("plain"), "string"),
        ("bin", json!([0, 255, 1]), "blob"),
        ("vb", json!([10, 11]), "blob"),
        ("choice", json!("b"), "string"),
        ("yr", json!(2024), "i64"),
    ];
    for (col, value, ty) in expect {
        assert_eq!(
            (&row[col], types[col].as_str().unwrap()),
            (&value, ty),
            "column {col}"
        );
    }
    // MariaDB keeps JSON as text; json::parse decodes it (MySQL decodes it itself)
    assert_eq!(types["doc"], "string");
    assert_eq!(
        a.body["user"]["parsed"],
        json!({"a": [1, {"b": null}], "c": "d"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_convert_into_sql() {
    let create = r#"
        fn create(user) {
            db::execute("INSERT INTO params VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [1, (), true, false, #{ plan: "x", n: [1, 2] }, [1, "two"], 2.5, "Zoë 🚀"]);
            db::execute("INSERT INTO params (id) VALUES (?)", [2]);
            let n = db::query_one("SELECT COUNT(*) AS n FROM params WHERE tf IS NULL AND id = ?", [2]).n;
            let none = db::query_one("SELECT * FROM params WHERE id = ?", [99]);
            let all = db::query("SELECT id FROM params ORDER BY id");
            #{ id: 1, n: n, none_is_unit: none == (), ids: all.map(|r| r.id) }
        }
        fn login(u, p) { () }
    "#;
    let app = creating(create).await;
    app.sql("CREATE TABLE params (id INT PRIMARY KEY, nul TEXT, tf TINYINT, ff TINYINT, m TEXT, arr TEXT, fl DOUBLE, s TEXT) DEFAULT CHARSET=utf8mb4");
    let a = app
        .action("create", json!({"email": "a@b", "password": "pw"}))
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["user"]["n"], 1);
    assert_eq!(a.body["user"]["none_is_unit"], true);
    assert_eq!(a.body["user"]["ids"], json!([1, 2]));
    let stored = app.sql("SELECT nul IS NULL, tf, ff, m, arr, fl, s FROM params WHERE id = 1");
    let cols: Vec<&str> = stored.split('\t').collect();
    assert_eq!(cols[..3], ["1", "1", "0"]);
    let m: serde_json::Value = serde_json::from_str(cols[3]).unwrap();
    assert_eq!(m, json!({"plan": "x", "n": [1, 2]}));
    assert_eq!(cols[4], r#"[1,"two"]"#);
    assert_eq!(cols[5..], ["2.5", "Zoë 🚀"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_store_connection_per_call_keeps_session_state() {
    let login = r#"
        fn login(u, p) {
            db::execute("SET @who = ?", [u]);
            db::execute("INSERT INTO t (v) VALUES (?)", ["x"]);
            let id = db::query_one("SELECT LAST_INSERT_ID() AS id, @who AS who, TIME_FORMAT(TIMEDIFF(NOW(), UTC_TIMESTAMP()), '%H:%i') AS tz");
            #{ id: id.id, who: id.who, tz: id.tz }
        }
    "#;
    let app = builder().bare().script("login", login).spawn().await;
    app.sql("CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT)");
    for n in 1..=3 {
        let a = app
            .action(
                "login",
                json!({"username_or_email": "zed", "password": "pw"}),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["user"]["user_id"], n.to_string());
        assert_eq!(a.body["user"]["who"], "zed");
        assert_eq!(a.body["user"]["tz"], "00:00", "the session is in UTC");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_utc_on_a_server_whose_default_is_not() {
    let server = crate::helpers::MariaDb::start_with(vec!["--default-time-zone=+02:00".into()]);
    let login = r#"
        fn login(u, p) {
            let r = db::query_one("SELECT TIME_FORMAT(TIMEDIFF(NOW(), UTC_TIMESTAMP()), '%H:%i') AS tz, stamp FROM t");
            #{ id: 1, tz: r.tz, stamp: r.stamp }
        }
    "#;
    let prepared = builder().bare().script("login", login).prepare();
    server.sql(None, &format!("CREATE DATABASE {}", prepared.database));
    // stored at 12:00 in the server's +02:00, which is 10:00 UTC
    server.sql(
        Some(&prepared.database),
        "CREATE TABLE t (stamp TIMESTAMP NULL); INSERT INTO t VALUES ('2020-01-01 12:00:00');",
    );
    prepared.set_database_port(server.port);
    let app = prepared.spawn().await;
    for _ in 0..3 {
        let a = app
            .action("login", json!({"username_or_email": "a", "password": "b"}))
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["user"]["tz"], "00:00");
        assert_eq!(a.body["user"]["stamp"], "2020-01-01T10:00:00");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_session_state_leaks_into_the_next_call() {
    // one connection, so every call gets the same one back
    let login = r#"
        fn login(u, p) {
            if u == "set" { db::execute("SET @leak = 'x'"); }
            if u == "assign" { db::query("SELECT @leak := 'y' AS v"); }
            if u == "lock" { db::query("SELECT GET_LOCK('customdb-test', 0) AS got"); }
            let r = db::query_one("SELECT @leak AS v, IS_USED_LOCK('customdb-test') AS held, CONNECTION_ID() AS conn");
            #{ id: 1, leak: r.v, held: r.held, conn: r.conn }
        }
    "#;
    let app = builder()
        .bare()
        .script("login", login)
        .connection("max_concurrent_scripts = 1\n[connections.main.pool]\nmin = 1\nmax = 1")
        // One runtime thread, so one pool: every call gets the same connection.
        .http("threads = 1")
        .spawn()
        .await;
    let call = |who: &'static str| {
        let app = &app;
        async move {
            let a = app
                .action("login", json!({"username_or_email": who, "password": "x"}))
                .await;
            assert_eq!(a.status, 200, "{}", a.body);
            a.body["user"].clone()
        }
    };
    let first = call("read").await;
    for who in ["set", "assign", "lock"] {
        let during = call(who).await;
        assert!(
            !during["leak"].is_null() || !during["held"].is_null(),
            "{who}: {during}"
        );
        let after = call("read").await;
        assert!(
            after["leak"].is_null() && after["held"].is_null(),
            "{who} leaked: {after}"
        );
        // the same connection all along: it was reset, not replaced
        assert_eq!(after["conn"], first["conn"], "{who}");
    }
}

/// A blob's bytes iterate as integers that arithmetic takes, as indexing
/// already gives them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_bytes_iterate_as_integers() {
    let script = r#"
        fn login(u, p) {
            let row = db::query_one("SELECT UNHEX('0102FF') AS b");
            let sum = 0;
            let kinds = [];
            for byte in row.b { sum += byte; kinds.push(type_of(byte)); }
            #{ id: 1, sum: sum, kinds: kinds, first: row.b[0] + 1 }
        }
    "#;
    let app = builder().bare().script("login", script).spawn().await;
    let a = app.login("a", "b").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["user"]["sum"], 258);
    assert_eq!(a.body["user"]["kinds"], json!(["i64", "i64", "i64"]));
    assert_eq!(a.body["user"]["first"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_columns_of_one_name_are_an_error_not_a_lost_value() {
    // a join's `a.member_id, b.member_id` would be one key of the row's map
    let script = r#"
        fn login(u, p) {
            let why = "";
            try {
                db::query("SELECT a.member_id, b.member_id, a.email_addr FROM members a JOIN members b ON b.member_id = a.member_id");
            } catch (e) { why = e; }
            let row = db::query_one("SELECT a.member_id, b.member_id AS other FROM members a JOIN members b ON b.member_id = a.member_id ORDER BY a.member_id LIMIT 1");
            #{ id: 1, why: why, other: row.other }
        }
    "#;
    let app = builder().script("login", script).spawn().await;
    let a = app.login("a", "b").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let why = a.body["user"]["why"].as_str().unwrap_or_default();
    assert!(
        why.contains("two columns named `member_id` (columns 1 and 2)"),
        "{}",
        a.body
    );
    assert_eq!(a.body["user"]["other"], 1, "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_with_the_wrong_number_of_parameters_is_the_scripts_fault_not_an_outage() {
    let get_user = r#"
        fn get_user(email) {
            if email == "caught@example.com" {
                // caught: a plain error, and the session goes on
                let why = "";
                try { db::query("SELECT ? AS a, ? AS b", [1]); } catch (e) { why = e; }
                let n = db::query_one("SELECT 7 AS n").n;
                return #{ id: 1, why: why, n: n };
            }
            db::query_one("SELECT member_id FROM members WHERE email_addr = ?")
        }
    "#;
    let app = builder().script("get_user", get_user).spawn().await;
    // not caught: 500 script_error, not 503
    app.action("get_user", json!({"email": "jane@example.com"}))
        .await
        .expect(500, "script_error");
    let a = app
        .action("get_user", json!({"email": "caught@example.com"}))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["user"]["n"], 7, "{}", a.body);
    let why = a.body["user"]["why"].as_str().unwrap_or_default();
    assert!(why.contains("the statement was refused"), "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_that_lost_its_connection_neither_goes_on_outside_it_nor_commits() {
    // the refused statement costs the transaction its connection: what
    // follows must not run in autocommit, and the commit must fail
    let create = r#"
        fn create(user) {
            db::transaction(|| {
                db::execute("INSERT INTO lost (id) VALUES (1)");
                try { db::execute("INSERT INTO lost (id) VALUES (?)", []); } catch (e) {}
                try { db::execute("INSERT INTO lost (id) VALUES (3)"); } catch (e) {}
            });
            #{ id: 1 }
        }
    "#;
    let app = creating(create).await;
    app.sql("CREATE TABLE lost (id INT PRIMARY KEY)");
    app.action("create", json!({"email": "a@b", "password": "pw"}))
        .await
        .expect(500, "script_error");
    assert_eq!(app.sql("SELECT COUNT(*) FROM lost"), "0");
}

/// A server whose connection has `create` and a login that answers nobody.
async fn creating(create: &str) -> crate::helpers::TestApp {
    builder()
        .bare_with_no_login()
        .script("create", create)
        .spawn()
        .await
}
