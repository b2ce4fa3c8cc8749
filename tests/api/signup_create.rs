use serde_json::{json, Map, Value};

use crate::helpers::{builder, TestApp};

fn signup_body(email: &str, user_metadata: Value) -> Value {
    json!({"email": email, "password": "a new password", "username": "newbie",
           "given_name": "New", "user_metadata": user_metadata})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_stores_user_metadata_and_answers_it() {
    let app = TestApp::demo().await;
    let a = app
        .action(
            "signup",
            signup_body("new@example.com", json!({"hobby": "chess", "lang": "fr"})),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let user = &a.body["user"];
    assert_eq!(user["user_id"], "4");
    assert_eq!(user["email"], "new@example.com");
    assert_eq!(user["username"], "newbie");
    assert_eq!(user["given_name"], "New");
    assert_eq!(user["email_verified"], false);
    assert_eq!(
        user["user_metadata"],
        json!({"hobby": "chess", "lang": "fr"})
    );
    assert_eq!(user["app_metadata"], json!({}));
    assert!(user.get("password").is_none());
    // stored in the legacy JSON column, hashed password, and it logs in
    let prefs: Value =
        serde_json::from_str(&app.sql("SELECT prefs FROM members WHERE member_id = 4")).unwrap();
    assert_eq!(prefs, json!({"hobby": "chess", "lang": "fr"}));
    assert!(app
        .sql("SELECT pass_hash FROM members WHERE member_id = 4")
        .starts_with("$2b$04$"));
    let login = app
        .action(
            "login",
            json!({"username_or_email": "newbie", "password": "a new password"}),
        )
        .await;
    assert_eq!(login.status, 200);
    assert_eq!(login.body["user"]["user_metadata"], user["user_metadata"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_metadata_limits_at_their_edges() {
    let app = TestApp::demo().await;
    let props = |n: usize| {
        Value::Object(
            (0..n)
                .map(|i| (format!("p{i}"), json!("v")))
                .collect::<Map<_, _>>(),
        )
    };
    let cases = [
        (props(10), true),
        (props(11), false),
        (json!({ "n".repeat(100): "v" }), true),
        (json!({ "n".repeat(101): "v" }), false),
        (json!({ "note": "v".repeat(500) }), true),
        (json!({ "note": "v".repeat(501) }), false),
        (json!({ "age": 42 }), false),
        (json!({ "a.b": "v" }), false),
        (json!({ "$where": "v" }), false),
    ];
    for (i, (meta, passes)) in cases.into_iter().enumerate() {
        let rows = app.count("members");
        let a = app.action("signup", json!({"email": format!("edge{i}@example.com"), "password": "pw", "user_metadata": meta})).await;
        if passes {
            assert_eq!(a.status, 201, "case {i}: {}", a.body);
            assert_eq!(app.count("members"), rows + 1);
        } else {
            a.expect(400, "invalid_user_metadata");
            assert_eq!(app.count("members"), rows, "case {i} wrote a row");
        }
    }
    // app_metadata is not the end user's to set
    let a = app
        .action(
            "signup",
            json!({"email": "x@example.com", "password": "pw", "app_metadata": {"plan": "full"}}),
        )
        .await;
    a.expect(400, "invalid_request");
    assert!(a.body["message"].as_str().unwrap().contains("app_metadata"));
    assert_eq!(app.count("members WHERE email_addr = 'x@example.com'"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_hands_app_metadata_to_the_script_as_metadata() {
    let app = TestApp::demo().await;
    let a = app
        .action(
            "create",
            json!({"email": "admin.made@example.com", "password": "pw", "email_verified": true,
                                  "app_metadata": {"plan": "enterprise", "roles": ["billing"]},
                                  "user_metadata": {"deep": {"nested": [1, 2]}}}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(
        a.body["user"]["app_metadata"],
        json!({"plan": "enterprise", "roles": ["billing"]})
    );
    assert_eq!(a.body["user"]["email_verified"], true);
    // stored in the legacy `metadata` column
    let stored: Value = serde_json::from_str(
        &app.sql("SELECT metadata FROM members WHERE email_addr = 'admin.made@example.com'"),
    )
    .unwrap();
    assert_eq!(stored, json!({"plan": "enterprise", "roles": ["billing"]}));
    assert_eq!(
        app.sql("SELECT is_verified FROM members WHERE email_addr = 'admin.made@example.com'"),
        "1"
    );
    // and login and get_user answer that column as app_metadata
    let login = app
        .action(
            "login",
            json!({"username_or_email": "admin.made@example.com", "password": "pw"}),
        )
        .await;
    assert_eq!(login.body["user"]["app_metadata"], stored);
    let got = app
        .action("get_user", json!({"email": "admin.made@example.com"}))
        .await;
    assert_eq!(got.body["user"]["app_metadata"], stored);
    assert_eq!(
        got.body["user"]["user_metadata"],
        json!({"deep": {"nested": [1, 2]}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_script_sees_the_user_map_of_scripts_md() {
    let app = builder()
        .bare()
        .script(
            "login",
            "fn login(u, p) { throw WrongUsernameOrPasswordError(u); }",
        )
        .script(
            "create",
            "fn create(user) { #{ id: 9, seen: user, password_seen: user.password == \"pw\" } }",
        )
        .spawn()
        .await;
    let a = app
        .action("create", json!({"email": "a@b.c", "password": "pw", "app_metadata": {"plan": "x"}, "nickname": "nick", "username": null}))
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let seen = a.body["user"]["seen"].clone();
    // the plain password reaches the script, and is never answered, not
    // even from the map this script echoes
    assert_eq!(a.body["user"]["password_seen"], true, "{}", a.body);
    assert_eq!(
        seen,
        json!({"email": "a@b.c", "email_verified": false, "nickname": "nick",
               "user_metadata": {}, "metadata": {"plan": "x"}, "connection": "main"})
    );
    // reserved keys are refused before the script runs
    let a = app
        .action(
            "create",
            json!({"email": "a@b.c", "password": "pw", "app_metadata": {"loginsCount": 1}}),
        )
        .await;
    a.expect(400, "invalid_app_metadata");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_returning_unit_reads_the_user_back_with_get_user() {
    // Rhai answers the value of the last statement, `;` or not: hence the `()`.
    let create = "fn create(user) { db::execute(\"INSERT INTO members (email_addr, pass_hash) VALUES (?, ?)\", [user.email, password::hash(user.password)]); () }";
    let app = builder().script("create", create).spawn().await;
    let a = app
        .action(
            "create",
            json!({"email": "unit@example.com", "password": "pw"}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["user"]["email"], "unit@example.com");
    assert_eq!(a.body["user"]["user_id"], "4");

    let app = builder()
        .script("create", create)
        .without("get_user")
        .spawn()
        .await;
    let a = app
        .action(
            "create",
            json!({"email": "unit@example.com", "password": "pw"}),
        )
        .await;
    a.expect(500, "script_error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_signup_is_409_though_the_script_does_not_check() {
    let app = TestApp::demo().await;
    let body = json!({"email": "jane.doe@example.com", "password": "pw"});
    let a = app.action("signup", body).await;
    a.expect(409, "user_exists");
    assert!(!a.body.to_string().contains("Duplicate"), "{}", a.body);
    assert_eq!(app.count("members"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_signups_of_one_email_make_one_user() {
    let app = std::sync::Arc::new(TestApp::demo().await);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            app.action(
                "signup",
                json!({"email": "race@example.com", "password": format!("pw{i}")}),
            )
            .await
        }));
    }
    let mut created = 0;
    let mut conflicts = 0;
    for t in tasks {
        let a = t.await.unwrap();
        match a.status.as_u16() {
            201 => created += 1,
            409 => {
                assert_eq!(a.error(), "user_exists");
                conflicts += 1
            }
            other => panic!("unexpected {other}: {}", a.body),
        }
    }
    assert_eq!((created, conflicts), (1, 19));
    assert_eq!(
        app.count("members WHERE email_addr = 'race@example.com'"),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_that_throws_leaves_no_row() {
    let create = r#"
        fn create(user) {
            db::transaction(|| {
                let done = db::execute("INSERT INTO members (email_addr, pass_hash) VALUES (?, ?)", [user.email, "x"]);
                db::execute("INSERT INTO audit (member_id, what) VALUES (?, ?)", [done.last_insert_id, "created"]);
                throw "something went wrong after both writes";
            })
        }
    "#;
    let app = builder().script("create", create).spawn().await;
    app.sql("CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, member_id INT, what TEXT) ENGINE=InnoDB");
    let a = app
        .action(
            "create",
            json!({"email": "tx@example.com", "password": "pw"}),
        )
        .await;
    a.expect(500, "script_error");
    assert_eq!(app.count("members"), 3);
    assert_eq!(app.count("audit"), 0);

    // and one that returns commits both
    let ok = create.replace(
        "throw \"something went wrong after both writes\";",
        "done.last_insert_id",
    );
    let app = builder().script("create", &ok).spawn().await;
    app.sql("CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, member_id INT, what TEXT) ENGINE=InnoDB");
    let a = app
        .action(
            "create",
            json!({"email": "tx@example.com", "password": "pw"}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(app.count("members"), 4);
    assert_eq!(app.count("audit"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caught_store_error_is_the_scripts_to_handle() {
    let create = r#"
        fn create(user) {
            try {
                db::execute("INSERT INTO members (email_addr, pass_hash) VALUES (?, ?)", [user.email, "x"]);
            } catch (e) {
                if e.kind == "store" && e.code == 1062 {
                    throw ValidationError("email_taken", "That email is taken.");
                }
                throw e;
            }
        }
    "#;
    let app = builder().script("create", create).spawn().await;
    let a = app
        .action(
            "create",
            json!({"email": "jane.doe@example.com", "password": "pw"}),
        )
        .await;
    a.expect(400, "email_taken");
    assert_eq!(a.body["message"], "That email is taken.");
    // a store error thrown on keeps its meaning
    let rethrow = create.replace("e.code == 1062", "false");
    let app = builder().script("create", &rethrow).spawn().await;
    let a = app
        .action(
            "create",
            json!({"email": "jane.doe@example.com", "password": "pw"}),
        )
        .await;
    a.expect(409, "user_exists");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_disabled_still_allows_create() {
    let app = builder().connection("signup = false").spawn().await;
    let a = app
        .action(
            "signup",
            json!({"email": "s@example.com", "password": "pw"}),
        )
        .await;
    a.expect(403, "signup_disabled");
    let a = app
        .action(
            "create",
            json!({"email": "s@example.com", "password": "pw"}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bcrypt_refuses_a_password_over_72_bytes_instead_of_cutting_it() {
    let app = TestApp::demo().await;
    let a = app
        .action(
            "signup",
            json!({"email": "long@example.com", "password": "x".repeat(73)}),
        )
        .await;
    a.expect(400, "password_too_long");
    assert_eq!(app.count("members"), 3);
    let a = app
        .action(
            "signup",
            json!({"email": "long@example.com", "password": "x".repeat(72)}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
}

/// Sign-up's limits count characters and a profile's bytes: ten values of
/// 500 emoji pass the first and not the second. Such a request is refused
/// before its script runs, so nothing is written that no answer could
/// carry (the user would otherwise exist, refused at every login).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_too_large_for_a_profile_is_refused_before_the_script_writes() {
    let app = TestApp::demo().await;
    let emoji: Map<String, Value> = (0..10)
        .map(|i| (format!("k{i}"), json!("😀".repeat(500))))
        .collect();
    let a = app
        .action(
            "signup",
            signup_body("emoji@example.com", Value::Object(emoji.clone())),
        )
        .await;
    a.expect(400, "invalid_request");
    assert!(
        a.body["message"]
            .as_str()
            .unwrap()
            .contains("max_profile_bytes"),
        "{}",
        a.body
    );
    assert_eq!(
        app.sql("SELECT COUNT(*) FROM members WHERE email_addr = 'emoji@example.com'"),
        "0"
    );
    // the same through create, and through update_metadata: the stored
    // metadata is left as it was
    let a = app
        .action(
            "create",
            json!({"email": "emoji@example.com", "password": "a new password",
                   "app_metadata": {"blob": "x".repeat(12_000)}}),
        )
        .await;
    a.expect(400, "invalid_request");
    let before = app.sql("SELECT prefs FROM members WHERE member_id = 1");
    let a = app
        .action(
            "update_metadata",
            json!({"user_id": "1", "user_metadata": {"bio": "z".repeat(11_000)}}),
        )
        .await;
    a.expect(400, "invalid_request");
    assert_eq!(
        app.sql("SELECT prefs FROM members WHERE member_id = 1"),
        before
    );
    // under the limit, sign-up still works and logs in
    let a = app
        .action(
            "signup",
            signup_body("small@example.com", json!({"k": "😀".repeat(500)})),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    // Across the edge of the default 10240 bytes, a user the check lets
    // through is one every later answer can carry.
    let mut refused = 0;
    for length in (9_800..10_240).step_by(8) {
        let email = format!("edge{length}@example.com");
        let a = app
            .action(
                "create",
                json!({"email": email, "password": "a new password",
                       "user_metadata": {"k": "a".repeat(length)}}),
            )
            .await;
        if a.status == 400 {
            refused += 1;
            continue;
        }
        assert_eq!(a.status, 201, "{length}: {}", a.body);
        let a = app.action("get_user", json!({ "email": email })).await;
        assert_eq!(a.status, 200, "{length}: {}", a.body);
    }
    assert!(refused > 0, "the lengths tried never reached the limit");
}
