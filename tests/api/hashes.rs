//! Legacy password hashes: the worked example connections on the committed
//! vectors (which `tools/test` re-verifies with the implementations that
//! made them, before these tests), and hashes the host refuses.

use serde_json::json;

use crate::helpers::{builder, raw_post, strip_ansi, Process, TOKEN};

const VECTORS: &str = include_str!("../vectors/hashes.tsv");
const SALTED_SHA1: &str = include_str!("../vectors/salted_sha1.tsv");

/// The (password, hash) of a vector, by format, first password or second.
fn vector(format: &str, second: bool) -> (String, String) {
    VECTORS
        .lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|f| f[0] == format)
        .nth(usize::from(second))
        .map(|f| (f[1].to_string(), f[2].to_string()))
        .unwrap_or_else(|| panic!("no vector {format}"))
}

async fn login(app: &crate::helpers::TestApp, who: &str, pw: &str) -> crate::helpers::Answer {
    app.action("login", json!({"username_or_email": who, "password": pw}))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wordpress_phpass_and_6_8_hashes_log_in_and_are_upgraded() {
    let app = builder()
        .example("wordpress")
        .connection("bcrypt_cost = 5")
        .spawn()
        .await;
    let (pw, phpass) = vector("passlib_phpass_P", false);
    let (pw2, wp68) = vector("wordpress_6_8", true);
    let (pw3, current) = vector("php_bcrypt_2y", false);
    app.sql(&format!(
        "INSERT INTO wp_users (ID, user_login, user_pass, user_nicename, user_email, display_name) VALUES
           (1, 'alice', '{phpass}', 'alice', 'alice@example.com', 'Alice A.'),
           (2, 'bob', '{wp68}', 'bob', 'bob@example.com', ''),
           (3, 'carol', '{current}', 'carol', 'carol@example.com', 'Carol');
         INSERT INTO wp_usermeta (user_id, meta_key, meta_value) VALUES
           (1, 'wp_capabilities', 'a:2:{{s:13:\"administrator\";b:1;s:6:\"editor\";b:1;}}'),
           (2, 'wp_capabilities', 'a:1:{{s:10:\"subscriber\";b:1;}}');"
    ));
    let stored = |id: u32| app.sql(&format!("SELECT user_pass FROM wp_users WHERE ID = {id}"));

    login(&app, "alice", "wrong")
        .await
        .expect(401, "wrong_username_or_password");
    assert_eq!(stored(1), phpass);
    for (id, who, pw, roles) in [
        (1, "alice", &pw, json!(["administrator", "editor"])),
        (2, "bob@example.com", &pw2, json!(["subscriber"])),
    ] {
        let a = login(&app, who, pw).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["user"]["user_id"], id.to_string());
        assert_eq!(a.body["user"]["app_metadata"]["roles"], roles);
        assert!(stored(id).starts_with("$2b$05$"), "{}", stored(id));
        // the upgraded hash still logs in
        assert_eq!(login(&app, who, pw).await.status, 200);
    }
    let a = login(&app, "alice", &pw).await;
    assert_eq!(a.body["user"]["name"], "Alice A.");
    assert_eq!(a.body["user"]["nickname"], "alice");
    // a hash already in the configured algorithm and cost is left untouched
    assert_eq!(login(&app, "carol", &pw3).await.status, 200);
    assert_eq!(stored(3), current);
    let a = app
        .action("get_user", json!({"email": "bob@example.com"}))
        .await;
    assert_eq!(a.body["user"]["username"], "bob");
    assert!(a.body["user"].get("name").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn django_hashes_log_in_and_are_upgraded_to_argon2id() {
    let app = builder()
        .example("django")
        .connection("password_hash = \"argon2id\"")
        .spawn()
        .await;
    let formats = [
        "passlib_django_pbkdf2_sha256",
        "passlib_django_pbkdf2_sha1",
        "django_argon2",
        "django_bcrypt_sha256",
        "php_argon2id_default",
    ];
    let mut rows = Vec::new();
    for (i, f) in formats.iter().enumerate() {
        let (_, hash) = vector(f, i % 2 == 1);
        rows.push(format!(
            "({id}, '{hash}', {staff}, 'user{id}', 'First', '', 'user{id}@example.com', {staff}, 1, '2020-01-01')",
            id = i + 1,
            staff = u8::from(i == 0)
        ));
    }
    app.sql(&format!(
        "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined) VALUES {};
         INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
           VALUES (9, '{}', 0, 'gone', '', '', 'gone@example.com', 0, 0, '2020-01-01');",
        rows.join(","),
        vector("passlib_django_pbkdf2_sha256", false).1
    ));
    let stored = |id: usize| app.sql(&format!("SELECT password FROM auth_user WHERE id = {id}"));
    for (i, f) in formats.iter().enumerate() {
        let id = i + 1;
        let (pw, hash) = vector(f, i % 2 == 1);
        login(&app, &format!("user{id}"), &format!("{pw}!"))
            .await
            .expect(401, "wrong_username_or_password");
        let a = login(&app, &format!("user{id}"), &pw).await;
        assert_eq!(a.status, 200, "{f}: {}", a.body);
        assert_eq!(
            a.body["user"]["app_metadata"],
            json!({"is_staff": id == 1, "is_superuser": id == 1})
        );
        assert_eq!(a.body["user"]["given_name"], "First");
        assert!(a.body["user"].get("family_name").is_none());
        if *f == "php_argon2id_default" {
            assert_eq!(stored(id), hash, "an up-to-date hash is left alone");
        } else {
            assert!(
                stored(id).starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
                "{f}: {}",
                stored(id)
            );
        }
        let again = login(&app, &format!("user{id}@example.com"), &pw).await;
        assert_eq!(again.status, 200, "{f}");
        assert!(again.body["user"]["last_login"].is_string());
    }
    let (pw, _) = vector("passlib_django_pbkdf2_sha256", false);
    let a = login(&app, "gone", &pw).await;
    a.expect(403, "unauthorized");
    assert_eq!(a.body["message"], "This account is inactive.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn laravel_bcrypt_upgrades_only_when_the_cost_differs() {
    let (pw, hash) = vector("php_bcrypt_2y", true);
    let insert = format!(
        "INSERT INTO users (id, name, email, email_verified_at, password) VALUES (1, 'Lara Vel', 'lara@example.com', '2024-01-02 03:04:05', '{hash}')"
    );
    // same cost as the vector: untouched
    let app = builder()
        .example("laravel")
        .connection("bcrypt_cost = 5")
        .spawn()
        .await;
    app.sql(&insert);
    let a = login(&app, "lara@example.com", &pw).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["user"]["email_verified"], true);
    assert_eq!(a.body["user"]["name"], "Lara Vel");
    assert_eq!(app.sql("SELECT password FROM users WHERE id = 1"), hash);
    // another cost: upgraded, and still logs in
    let app = builder()
        .example("laravel")
        .connection("bcrypt_cost = 4")
        .spawn()
        .await;
    app.sql(&insert);
    assert_eq!(login(&app, "lara@example.com", &pw).await.status, 200);
    assert!(app
        .sql("SELECT password FROM users WHERE id = 1")
        .starts_with("$2b$04$"));
    assert_eq!(login(&app, "lara@example.com", &pw).await.status, 200);
    login(&app, "lara@example.com", "nope")
        .await
        .expect(401, "wrong_username_or_password");
    // sign-up into the Laravel table
    let a = app
        .action(
            "signup",
            json!({"email": "new@example.com", "password": "pw-1", "name": "New"}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(
        login(&app, "new@example.com", "pw-1").await.body["user"]["name"],
        "New"
    );
    app.action(
        "signup",
        json!({"email": "new@example.com", "password": "pw-2"}),
    )
    .await
    .expect(409, "user_exists");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salted_sha1_moves_to_bcrypt_on_login() {
    let app = builder().example("salted_sha1").spawn().await;
    for (i, line) in SALTED_SHA1.lines().enumerate() {
        let [salt, _, digest] = line.split('\t').collect::<Vec<_>>()[..] else {
            panic!()
        };
        app.sql(&format!(
            "INSERT INTO accounts (acct_id, handle, mail, salt, pw_sha1, roles) VALUES ({id}, 'h{id}', 'h{id}@example.com', '{salt}', '{digest}', 'staff,ops')",
            id = i + 1
        ));
    }
    for (i, line) in SALTED_SHA1.lines().enumerate() {
        let id = i + 1;
        let pw = line.split('\t').nth(1).unwrap();
        login(&app, &format!("h{id}"), "wrong")
            .await
            .expect(401, "wrong_username_or_password");
        let a = login(&app, &format!("h{id}"), pw).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(
            a.body["user"]["app_metadata"]["roles"],
            json!(["staff", "ops"])
        );
        let row = app.sql(&format!(
            "SELECT salt IS NULL, pw_sha1 IS NULL, pw_hash FROM accounts WHERE acct_id = {id}"
        ));
        assert!(row.starts_with("1\t1\t$2b$04$"), "{row}");
        let after = login(&app, &format!("h{id}@example.com"), pw).await;
        assert_eq!(after.status, 200);
        login(&app, &format!("h{id}"), "wrong")
            .await
            .expect(401, "wrong_username_or_password");
    }
}

#[test]
fn unknown_formats_and_costly_hashes_fail_the_request_not_the_process() {
    let prepared = builder().prepare();
    let db = crate::helpers::mariadb();
    db.sql(
        Some(&prepared.database),
        "UPDATE members SET pass_hash = '$zz$opaque-hash-body-1234' WHERE login_name = 'bob';
         UPDATE members SET pass_hash = '$2y$17$abcdefghijklmnopqrstuu5Bz1ON1jKvQX0rGUqHKJ8Tc6hJ8rGie' WHERE login_name = 'mallory';",
    );
    let server = Process::serve(&prepared.config, &[]);
    let post = |who: &str, pw: &str| {
        let body = json!({"username_or_email": who, "password": pw}).to_string();
        let answer = raw_post(server.addr, "/v1/connections/main/login", TOKEN, &body);
        answer
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(post("bob", "bob-password-1"), "500");
    assert_eq!(post("mallory", "mallory-password-1"), "500");
    assert_eq!(post("jane", "correct horse battery staple"), "200");
    // the last request's access line: the lines before it are written
    server.log_with("status=200");
    let log = strip_ansi(&server.log());
    assert!(
        log.contains("unknown password hash format (it starts with `$zz$`)"),
        "{log}"
    );
    assert!(!log.contains("opaque-hash-body"), "{log}");
    assert!(log.contains("asks for cost 17"), "{log}");
}
