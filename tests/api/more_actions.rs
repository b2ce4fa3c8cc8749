//! verify, change_password, change_email, delete and update_metadata.

use serde_json::{json, Value};

use crate::helpers::{builder, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_sets_the_flag_or_404() {
    let app = TestApp::demo().await;
    assert_eq!(
        app.sql("SELECT is_verified FROM members WHERE login_name = 'bob'"),
        "0"
    );
    let a = app
        .action("verify", json!({"email": "bob@example.com"}))
        .await;
    assert_eq!(
        (a.status.as_u16(), a.body.clone()),
        (200, json!({"verified": true}))
    );
    assert_eq!(
        app.sql("SELECT is_verified FROM members WHERE login_name = 'bob'"),
        "1"
    );
    // verifying again still finds the user (affected_rows counts matched rows)
    let a = app
        .action("verify", json!({"email": "bob@example.com"}))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    app.action("verify", json!({"email": "nobody@example.com"}))
        .await
        .expect(404, "user_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_password_swaps_which_password_logs_in() {
    let app = TestApp::demo().await;
    let a = app
        .action(
            "change_password",
            json!({"email": "bob@example.com", "new_password": "new-bob-pw"}),
        )
        .await;
    assert_eq!(
        (a.status.as_u16(), a.body.clone()),
        (200, json!({"changed": true}))
    );
    let login = |pw: &str| json!({"username_or_email": "bob@example.com", "password": pw});
    assert_eq!(app.action("login", login("new-bob-pw")).await.status, 200);
    app.action("login", login("bob-password-1"))
        .await
        .expect(401, "wrong_username_or_password");
    assert!(!app
        .sql("SELECT pass_hash FROM members WHERE login_name = 'bob'")
        .contains("new-bob-pw"));
    app.action(
        "change_password",
        json!({"email": "nobody@example.com", "new_password": "x"}),
    )
    .await
    .expect(404, "user_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_password_may_answer_a_map() {
    let app = builder()
        .script(
            "change_password",
            "fn change_password(email, pw) { #{ last_password_reset: 1700000000 } }",
        )
        .spawn()
        .await;
    let a = app
        .action(
            "change_password",
            json!({"email": "bob@example.com", "new_password": "x"}),
        )
        .await;
    assert_eq!(
        (a.status.as_u16(), a.body.clone()),
        (200, json!({"changed": true}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_email_moves_the_address() {
    let app = TestApp::demo().await;
    let a = app
        .action("change_email", json!({"email": "bob@example.com", "new_email": "robert@example.com", "email_verified": true}))
        .await;
    assert_eq!(
        (a.status.as_u16(), a.body.clone()),
        (200, json!({"changed": true}))
    );
    assert_eq!(app.count("members WHERE email_addr = 'bob@example.com'"), 0);
    assert_eq!(
        app.sql("SELECT is_verified FROM members WHERE email_addr = 'robert@example.com'"),
        "1"
    );
    app.action("get_user", json!({"email": "bob@example.com"}))
        .await
        .expect(404, "user_not_found");
    let got = app
        .action("get_user", json!({"email": "robert@example.com"}))
        .await;
    assert_eq!(got.body["user"]["email_verified"], true);
    // onto an address another user has
    app.action("change_email", json!({"email": "robert@example.com", "new_email": "jane.doe@example.com", "email_verified": false}))
        .await
        .expect(409, "user_exists");
    assert_eq!(
        app.count("members WHERE email_addr = 'robert@example.com'"),
        1
    );
    app.action("change_email", json!({"email": "nobody@example.com", "new_email": "n2@example.com", "email_verified": false}))
        .await
        .expect(404, "user_not_found");
    app.action(
        "change_email",
        json!({"email": "robert@example.com", "new_email": "n3@example.com"}),
    )
    .await
    .expect(400, "invalid_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_the_row_once() {
    let app = TestApp::demo().await;
    let a = app.action("delete", json!({"user_id": "2"})).await;
    assert_eq!(
        (a.status.as_u16(), a.body.clone()),
        (200, json!({"deleted": true}))
    );
    assert_eq!(app.count("members WHERE member_id = 2"), 0);
    assert_eq!(app.count("members"), 2);
    app.action("delete", json!({"user_id": "2"}))
        .await
        .expect(404, "user_not_found");
    // a delete script that answers () counts as done
    let app = builder()
        .script(
            "delete",
            "fn delete(id) { db::execute(\"DELETE FROM members WHERE member_id = ?\", [id]); () }",
        )
        .spawn()
        .await;
    assert_eq!(
        app.action("delete", json!({"user_id": "3"})).await.status,
        200
    );
    assert_eq!(app.count("members"), 2);
}

fn stored(app: &TestApp, column: &str) -> Value {
    let text = app.sql(&format!("SELECT {column} FROM members WHERE member_id = 1"));
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_metadata_merges_by_the_rule() {
    let app = TestApp::demo().await;
    let patch = |body: Value| {
        let mut b = body;
        b["user_id"] = json!("1");
        b
    };
    let app_meta = stored(&app, "metadata");

    // a new root property beside the old ones; app_metadata left alone
    let a = app
        .action(
            "update_metadata",
            patch(json!({"user_metadata": {"addresses": {"home": "1 Main St"}}})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let want = json!({"hobby": "surfing", "theme": "dark", "addresses": {"home": "1 Main St"}});
    assert_eq!(a.body["user"]["user_metadata"], want);
    assert_eq!(stored(&app, "prefs"), want);
    assert_eq!(stored(&app, "metadata"), app_meta);
    assert_eq!(a.body["user"]["app_metadata"], app_meta);

    // a nested object is replaced whole; null deletes
    let a = app
        .action("update_metadata", patch(json!({"user_metadata": {"addresses": {"home": "2 Side St", "work": "3 Office Rd"}, "theme": null}})))
        .await;
    let want =
        json!({"hobby": "surfing", "addresses": {"home": "2 Side St", "work": "3 Office Rd"}});
    assert_eq!(a.body["user"]["user_metadata"], want);
    assert_eq!(stored(&app, "prefs"), want);
    let a = app
        .action(
            "update_metadata",
            patch(json!({"user_metadata": {"addresses": {"work": "4 New Rd"}}})),
        )
        .await;
    assert_eq!(
        a.body["user"]["user_metadata"]["addresses"],
        json!({"work": "4 New Rd"})
    );

    // app_metadata goes to the legacy column
    let a = app
        .action(
            "update_metadata",
            patch(json!({"app_metadata": {"plan": "pro", "roles": null}})),
        )
        .await;
    assert_eq!(a.body["user"]["app_metadata"], json!({"plan": "pro"}));
    assert_eq!(stored(&app, "metadata"), json!({"plan": "pro"}));

    // {} clears that metadata only
    let a = app
        .action("update_metadata", patch(json!({"user_metadata": {}})))
        .await;
    assert_eq!(a.body["user"]["user_metadata"], json!({}));
    assert_eq!(stored(&app, "prefs"), json!({}));
    assert_eq!(stored(&app, "metadata"), json!({"plan": "pro"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_metadata_refusals_write_nothing() {
    let app = TestApp::demo().await;
    let before = (stored(&app, "prefs"), stored(&app, "metadata"));
    let cases = [
        (
            json!({"user_id": "1", "user_metadata": {"a.b": 1}}),
            400,
            "invalid_user_metadata",
        ),
        (
            json!({"user_id": "1", "user_metadata": {"ok": {"$bad": 1}}}),
            400,
            "invalid_user_metadata",
        ),
        (
            json!({"user_id": "1", "app_metadata": {"email": "x"}}),
            400,
            "invalid_app_metadata",
        ),
        (
            json!({"user_id": "1", "app_metadata": {"plan.x": 1}}),
            400,
            "invalid_app_metadata",
        ),
        (json!({"user_id": "1"}), 400, "invalid_request"),
        (
            json!({"user_id": "1", "user_metadata": null, "app_metadata": null}),
            400,
            "invalid_request",
        ),
        (
            json!({"user_id": "1", "user_metadata": "text"}),
            400,
            "invalid_request",
        ),
        (
            json!({"user_id": "999", "user_metadata": {"a": 1}}),
            404,
            "user_not_found",
        ),
    ];
    for (body, status, code) in cases {
        app.action("update_metadata", body)
            .await
            .expect(status, code);
        assert_eq!((stored(&app, "prefs"), stored(&app, "metadata")), before);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_metadata_patch_reaches_the_script_with_the_legacy_name() {
    let app = builder()
        .bare_with_no_login()
        .script(
            "update_metadata",
            "fn update_metadata(id, patch) { #{ id: id, seen: patch, keys: patch.keys() } }",
        )
        .spawn()
        .await;
    let a = app
        .action(
            "update_metadata",
            json!({"user_id": "5", "app_metadata": {"plan": "x"}}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["user"]["seen"], json!({"metadata": {"plan": "x"}}));
    assert_eq!(a.body["user"]["user_id"], "5");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_metadata_in_a_script() {
    let login = r#"
        fn login(u, p) {
            let cur = #{ hobby: "surf", addresses: #{ home: "A" }, gone: 1 };
            #{ id: 1,
               added: merge_metadata(cur, #{ color: "red" }),
               replaced: merge_metadata(cur, #{ addresses: #{ work: "B" } }),
               deleted: merge_metadata(cur, #{ gone: () }),
               cleared: merge_metadata(cur, #{}),
               from_unit: merge_metadata((), #{ a: 1 }),
               not_given: merge_metadata(cur, ()) }
        }
    "#;
    let app = builder().bare().script("login", login).spawn().await;
    let a = app
        .action("login", json!({"username_or_email": "a", "password": "b"}))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let u = &a.body["user"];
    assert_eq!(
        u["added"],
        json!({"hobby": "surf", "addresses": {"home": "A"}, "gone": 1, "color": "red"})
    );
    assert_eq!(
        u["replaced"],
        json!({"hobby": "surf", "addresses": {"work": "B"}, "gone": 1})
    );
    assert_eq!(
        u["deleted"],
        json!({"hobby": "surf", "addresses": {"home": "A"}})
    );
    assert_eq!(u["cleared"], json!({}));
    assert_eq!(u["from_unit"], json!({"a": 1}));
    // a part the caller did not give leaves the metadata as it is
    assert_eq!(
        u["not_given"],
        json!({"hobby": "surf", "addresses": {"home": "A"}, "gone": 1})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flag_actions_refuse_other_answers() {
    let app = builder()
        .script("verify", "fn verify(email) { \"yes\" }")
        .spawn()
        .await;
    app.action("verify", json!({"email": "bob@example.com"}))
        .await
        .expect(500, "script_error");
    let app = builder()
        .script("update_metadata", "fn update_metadata(id, p) { 42 }")
        .spawn()
        .await;
    app.action(
        "update_metadata",
        json!({"user_id": "1", "user_metadata": {}}),
    )
    .await
    .expect(500, "invalid_profile");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_modules_counts_distinct_modules_not_import_statements_run() {
    // a helper that imports, called 40 times: one module
    let login = r#"
        fn helper() { import "util" as u; u::one() }
        fn login(u, p) {
            let n = 0;
            for i in 0..40 { n += helper(); }
            if u == "many" {
                import "m1" as a; import "m2" as b; import "m3" as c;
                n += a::x() + b::x() + c::x();
            }
            #{ id: n }
        }
    "#;
    let app = builder()
        .bare()
        .script("login", login)
        .script("util", "fn one() { 1 }")
        .script("m1", "fn x() { 1 }")
        .script("m2", "fn x() { 2 }")
        .script("m3", "fn x() { 3 }")
        .connection("max_modules = 3")
        .spawn()
        .await;
    let a = app
        .action(
            "login",
            json!({"username_or_email": "one", "password": "b"}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["user"]["user_id"], "40");
    // util and three more: four distinct modules, past 3
    app.action(
        "login",
        json!({"username_or_email": "many", "password": "b"}),
    )
    .await
    .expect(500, "script_error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_cut_by_the_calls_own_time_cannot_be_caught() {
    // the query may run 10 s, the call only 1 s: the call's time ends it,
    // and a script that catches everything still answers 504
    let get_user = r#"
        fn get_user(email) {
            try { db::query("SELECT SLEEP(5)"); } catch (e) { return (); }
            #{ id: 1 }
        }
    "#;
    let app = builder()
        .script("get_user", get_user)
        .connection("script_timeout_ms = 1000\nquery_timeout_ms = 10000")
        .spawn()
        .await;
    app.action("get_user", json!({"email": "jane@example.com"}))
        .await
        .expect(504, "script_timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_calls_compiling_the_same_module_at_once_see_no_cycle() {
    // one thread, a module imported by name at run time whose top-level
    // code waits on the store: the second call compiles it while the first
    // is suspended in the middle of compiling it
    let get_user = r#"
        fn get_user(email) {
            let name = "slowmod";
            import name as m;
            #{ id: m::one() }
        }
    "#;
    let app = builder()
        .script("get_user", get_user)
        .script(
            "slowmod",
            "let waited = db::query_one(\"SELECT SLEEP(0.3) AS s\");\nfn one() { 1 }",
        )
        .http("threads = 1")
        .spawn()
        .await;
    let (a, b) = tokio::join!(
        app.action("get_user", json!({"email": "a@example.com"})),
        app.action("get_user", json!({"email": "b@example.com"}))
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(b.status, 200, "{}", b.body);
}
