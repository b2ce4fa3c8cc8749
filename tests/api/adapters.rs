//! The other identity servers' protocols, through the real server and
//! MariaDB, with bodies and headers as each platform's documentation shows
//! them: FusionAuth's Generic Connector, Okta's password import inline
//! hook, Ory Kratos's password migration hook and the Keycloak
//! user-migration REST provider.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{builder, Answer, Process, TestApp, TOKEN};

const FA_SECRET: &str = "fusionauth-basic-secret-0001";
const FA_HEADER: &str = "fusionauth-header-secret-002";
const OKTA_SECRET: &str = "okta-authentication-secret-03";
const KRATOS_SECRET: &str = "kratos-api-key-secret-000004";
const KEYCLOAK_SECRET: &str = "keycloak-bearer-token-000005";
const JANE: &str = "correct horse battery staple";

/// Every adapter on the demo connection.
const ADAPTERS: &str = r#"
[connections.main.adapters.fusionauth]
basic_user = "fusionauth"
basic_password = "fusionauth-basic-secret-0001"
header_name = "X-Connector-Secret"
header_value = "fusionauth-header-secret-002"
[connections.main.adapters.okta]
header_value = "okta-authentication-secret-03"
[connections.main.adapters.kratos]
header_value = "kratos-api-key-secret-000004"
[connections.main.adapters.keycloak]
header_value = "Bearer keycloak-bearer-token-000005"
"#;

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// FusionAuth's documented request body, plus a field of a later version.
fn fusionauth_body(login_id: &str, password: &str) -> Value {
    json!({
        "applicationId": "d37b1de2-3e36-4e6b-8d6c-4e9c2e8e54f0",
        "eventInfo": {
            "deviceName": "Chrome on macOS",
            "deviceType": "BROWSER",
            "ipAddress": "203.0.113.7",
            "userAgent": "Mozilla/5.0"
        },
        "loginId": login_id,
        "loginIdTypes": ["email", "username"],
        "newDevice": false,
        "noJWT": false,
        "password": password
    })
}

/// Okta's documented password import request.
fn okta_body(username: &str, password: &str) -> Value {
    json!({
        "eventId": "3o9jBzq1SmOGmmsDsqyyeQ",
        "eventTime": "2020-01-17T21:23:56.000Z",
        "eventType": "com.okta.user.credential.password.import",
        "eventTypeVersion": "1.0",
        "contentType": "application/json",
        "cloudEventVersion": "0.1",
        "source": "https://example.okta.com/api/v1/inlineHooks/cal2xd5phv9fsPLcF0g7",
        "data": {
            "context": {
                "request": {
                    "id": "XiIl6wn7005Rr@fjYqeC7AAABxw",
                    "method": "POST",
                    "url": { "value": "/api/v1/authn" },
                    "ipAddress": "198.51.100.9"
                },
                "credential": { "username": username, "password": password }
            },
            "action": { "credential": "UNVERIFIED" }
        }
    })
}

async fn fusionauth(app: &TestApp, connection: &str, body: &Value, auth: (&str, &str)) -> Answer {
    app.send(
        app.client
            .post(app.url(&format!("/v1/connections/{connection}/fusionauth/login")))
            .header("Authorization", auth.0)
            .header("X-Connector-Secret", auth.1)
            .json(body),
    )
    .await
}

async fn fa(app: &TestApp, login_id: &str, password: &str) -> Answer {
    fusionauth(
        app,
        "main",
        &fusionauth_body(login_id, password),
        (&basic("fusionauth", FA_SECRET), FA_HEADER),
    )
    .await
}

async fn okta(app: &TestApp, body: &Value) -> Answer {
    app.send(
        app.client
            .post(app.url("/v1/connections/main/okta/password_import"))
            .header("Accept", "application/json")
            .header("Authorization", OKTA_SECRET)
            .json(body),
    )
    .await
}

async fn kratos(app: &TestApp, identifier: &str, password: &str) -> Answer {
    app.send(
        app.client
            .post(app.url("/v1/connections/main/kratos/password_migration"))
            .header("Authorization", KRATOS_SECRET)
            .json(&json!({ "identifier": identifier, "password": password })),
    )
    .await
}

/// A request with no credential at all.
async fn uncredentialed(app: &TestApp, method: Method, path: &str) -> Answer {
    app.send(app.client.request(method, app.url(path))).await
}

/// The Prometheus text of `/metrics`.
async fn metrics_text(app: &TestApp) -> String {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    response.text().await.unwrap()
}

async fn keycloak_get(app: &TestApp, user: &str) -> Answer {
    app.send(
        app.client
            .get(app.url(&format!("/v1/connections/main/keycloak/users/{user}")))
            .header("Authorization", format!("Bearer {KEYCLOAK_SECRET}")),
    )
    .await
}

async fn keycloak_post(app: &TestApp, user: &str, password: &str) -> Answer {
    app.send(
        app.client
            .post(app.url(&format!("/v1/connections/main/keycloak/users/{user}")))
            .header("Authorization", format!("Bearer {KEYCLOAK_SECRET}"))
            .header("Content-Type", "application/json; charset=UTF-8")
            .body(json!({ "password": password }).to_string()),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fusionauth_logs_in_with_its_user_and_refuses_with_404() {
    let app = builder().connection(ADAPTERS).spawn().await;
    let a = fa(&app, "jane.doe@example.com", JANE).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let u = &a.body["user"];
    // the stable id: UUID v5 of customdb:main:1
    let id = u["id"].as_str().unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "5", "version 5: {id}");
    assert_eq!(u["email"], "jane.doe@example.com");
    assert_eq!(u["username"], "jane");
    assert_eq!(u["verified"], true);
    assert_eq!(u["firstName"], "Jane");
    assert_eq!(u["lastName"], "Doe");
    assert_eq!(u["fullName"], "Jane Doe");
    assert_eq!(u["active"], true);
    assert_eq!(
        u["registrations"],
        json!([{ "applicationId": "d37b1de2-3e36-4e6b-8d6c-4e9c2e8e54f0" }])
    );
    assert_eq!(u["data"]["connection"], "main");
    assert_eq!(u["data"]["user_id"], "1");
    assert_eq!(u["data"]["app_metadata"]["roles"], json!(["admin"]));
    assert_eq!(u["data"]["user_metadata"]["hobby"], "surfing");
    assert!(
        u.get("imageUrl").is_none(),
        "absent fields are left out, never null"
    );
    // the same id every time, and by username too
    let again = fa(&app, "jane", JANE).await;
    assert_eq!(again.body["user"]["id"], id);

    // every refusal is a 404, with our error body
    fa(&app, "jane", "wrong")
        .await
        .expect(404, "wrong_username_or_password");
    fa(&app, "nobody@example.com", "x")
        .await
        .expect(404, "wrong_username_or_password");
    fa(&app, "mallory", "mallory-password-1")
        .await
        .expect(404, "unauthorized");

    // credentials: both kinds are needed when both are set
    let body = fusionauth_body("jane", JANE);
    for auth in [
        (
            basic("fusionauth", FA_SECRET),
            "wrong-header-value-000000".to_string(),
        ),
        (
            basic("fusionauth", "wrong-password-00000000"),
            FA_HEADER.to_string(),
        ),
        (String::new(), FA_HEADER.to_string()),
        (format!("Bearer {TOKEN}"), String::new()),
    ] {
        fusionauth(&app, "main", &body, (&auth.0, &auth.1))
            .await
            .expect(401, "invalid_adapter_credentials");
    }
    // an unknown connection looks the same
    let good = (basic("fusionauth", FA_SECRET), FA_HEADER.to_string());
    fusionauth(&app, "nope", &body, (&good.0, &good.1))
        .await
        .expect(401, "invalid_adapter_credentials");
    // malformed JSON, a missing field, a field of the wrong type
    // a body as it is, with the right credentials and this Content-Type
    let raw = |content_type: &'static str, body: String| {
        app.send(
            app.client
                .post(app.url("/v1/connections/main/fusionauth/login"))
                .header("Authorization", &good.0)
                .header("X-Connector-Secret", &good.1)
                .header("Content-Type", content_type)
                .body(body),
        )
    };
    for bad in [
        "{".to_string(),
        json!({"password": "x"}).to_string(),
        json!({"loginId": 7, "password": "x"}).to_string(),
        json!({"loginId": "", "password": "x"}).to_string(),
    ] {
        raw("application/json", bad)
            .await
            .expect(400, "invalid_request");
    }
    // 415
    raw("text/plain", body.to_string())
        .await
        .expect(415, "unsupported_media_type");
    // the API token is neither needed nor accepted here
    let a = app
        .send(
            app.client
                .post(app.url("/v1/connections/main/fusionauth/login"))
                .bearer_auth(TOKEN)
                .json(&body),
        )
        .await;
    a.expect(401, "invalid_adapter_credentials");
    // a wrong method, with the whole credential
    let a = app
        .send(
            app.client
                .get(app.url("/v1/connections/main/fusionauth/login"))
                .header("Authorization", &good.0)
                .header("X-Connector-Secret", &good.1),
        )
        .await;
    a.expect(405, "method_not_allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_gets_a_verdict_in_a_200_and_a_fault_as_an_error_status() {
    let app = builder().connection(ADAPTERS).spawn().await;
    let a = okta(&app, &okta_body("jane.doe@example.com", JANE)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let id = a.headers["x-request-id"].to_str().unwrap();
    assert_eq!(
        a.body,
        json!({"commands":[{"type":"com.okta.action.update","value":{"credential":"VERIFIED"}}],
               "debugContext":{"request_id": id}})
    );
    for (who, pw, reason) in [
        ("jane", "wrong", "wrong_username_or_password"),
        ("nobody@example.com", "x", "wrong_username_or_password"),
        ("mallory", "mallory-password-1", "unauthorized"),
    ] {
        let a = okta(&app, &okta_body(who, pw)).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let id = a.headers["x-request-id"].to_str().unwrap();
        assert_eq!(
            a.body,
            json!({"commands":[{"type":"com.okta.action.update","value":{"credential":"UNVERIFIED"}}],
                   "debugContext":{"request_id": id, "reason": reason}})
        );
    }
    // another event type is not a password import
    let mut wrong = okta_body("jane", JANE);
    wrong["eventType"] = json!("com.okta.user.lifecycle.create");
    okta(&app, &wrong).await.expect(400, "invalid_request");
    // Okta's secret is the whole Authorization value
    let a = app
        .send(
            app.client
                .post(app.url("/v1/connections/main/okta/password_import"))
                .header("Authorization", format!("Bearer {OKTA_SECRET}"))
                .json(&okta_body("jane", JANE)),
        )
        .await;
    a.expect(401, "invalid_adapter_credentials");
    // the label of the metrics
    let metrics = metrics_text(&app).await;
    assert!(
        metrics.contains(
            "customdb_requests_total{connection=\"main\",action=\"okta.login\",status=\"200\"} 4"
        ),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_answers_a_slow_script_inside_its_three_seconds() {
    let app = builder()
        .bare()
        .script(
            "login",
            "fn login(u, p) { db::query(\"SELECT SLEEP(20)\"); #{ id: 1 } }",
        )
        .connection("script_timeout_ms = 30000")
        .connection(
            "[connections.main.adapters.okta]\nheader_value = \"okta-authentication-secret-03\"",
        )
        .spawn()
        .await;
    let started = Instant::now();
    let a = okta(&app, &okta_body("a", "b")).await;
    a.expect(504, "script_timeout");
    // the adapter's 2.5 s, not the connection's 30 s (a generous bound)
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kratos_gets_password_match_or_403() {
    let app = builder().connection(ADAPTERS).spawn().await;
    let a = kratos(&app, "jane.doe@example.com", JANE).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body, json!({"status": "password_match"}));
    kratos(&app, "jane", "wrong")
        .await
        .expect(403, "wrong_username_or_password");
    kratos(&app, "nobody", "x")
        .await
        .expect(403, "wrong_username_or_password");
    kratos(&app, "mallory", "mallory-password-1")
        .await
        .expect(403, "unauthorized");
    let a = app
        .send(
            app.client
                .post(app.url("/v1/connections/main/kratos/password_migration"))
                .json(&json!({"identifier": "jane", "password": JANE})),
        )
        .await;
    a.expect(401, "invalid_adapter_credentials");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_finds_users_by_username_or_email_and_checks_passwords() {
    // Keycloak's provider asks for a username or an email: this get_user
    // matches both columns, as the login does
    let app = builder()
        .script(
            "get_user",
            r#"import "members" as members;
fn get_user(id) {
    let row = db::query_one(
        `SELECT member_id, login_name, email_addr, first_name, last_name, display_name, is_verified, is_blocked, prefs, metadata
           FROM members WHERE email_addr = ? OR login_name = ?`, [id, id]);
    if row == () { return (); }
    members::profile(row)
}"#,
        )
        .connection(ADAPTERS)
        .spawn()
        .await;
    let by_name = keycloak_get(&app, "jane").await;
    assert_eq!(by_name.status, 200, "{}", by_name.body);
    let u = by_name.body.as_object().unwrap();
    let mut keys: Vec<&str> = u.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "attributes",
            "email",
            "emailVerified",
            "enabled",
            "firstName",
            "groups",
            "id",
            "lastName",
            "requiredActions",
            "roles",
            "username"
        ]
    );
    assert_eq!(u["username"], "jane");
    assert_eq!(u["email"], "jane.doe@example.com");
    assert_eq!(u["emailVerified"], true);
    assert_eq!(u["enabled"], true);
    assert_eq!(u["roles"], json!(["admin"]));
    assert_eq!(u["groups"], json!([]));
    assert_eq!(u["requiredActions"], json!([]));
    let attributes = &u["attributes"];
    assert_eq!(attributes["user_id"], json!(["1"]));
    assert_eq!(attributes["connection"], json!(["main"]));
    assert_eq!(attributes["user_metadata.hobby"], json!(["surfing"]));
    assert_eq!(attributes["app_metadata.plan"], json!(["full"]));
    assert_eq!(attributes["app_metadata.roles"], json!(["admin"]));
    // by email, percent-encoded: the same user, the same id
    let by_mail = keycloak_get(&app, "jane.doe%40example.com").await;
    assert_eq!(by_mail.status, 200, "{}", by_mail.body);
    assert_eq!(by_mail.body["id"], u["id"]);
    keycloak_get(&app, "nobody")
        .await
        .expect(404, "user_not_found");

    // the password check, with the provider's Content-Type
    let a = keycloak_post(&app, "jane", JANE).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body, json!({}));
    keycloak_post(&app, "jane", "wrong")
        .await
        .expect(401, "wrong_username_or_password");
    keycloak_post(&app, "mallory", "mallory-password-1")
        .await
        .expect(403, "unauthorized");
    uncredentialed(
        &app,
        Method::GET,
        "/v1/connections/main/keycloak/users/jane",
    )
    .await
    .expect(401, "invalid_adapter_credentials");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absent_or_disabled_adapter_looks_like_a_wrong_credential() {
    let app = builder()
        .connection(
            "[connections.main.adapters.okta]\nenabled = false\nheader_value = \"okta-authentication-secret-03\"",
        )
        .spawn()
        .await;
    okta(&app, &okta_body("jane", JANE))
        .await
        .expect(401, "invalid_adapter_credentials");
    kratos(&app, "jane", JANE)
        .await
        .expect(401, "invalid_adapter_credentials");
    keycloak_get(&app, "jane")
        .await
        .expect(401, "invalid_adapter_credentials");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_that_is_not_utf8_gets_the_adapters_own_answers() {
    let app = builder().connection(ADAPTERS).spawn().await;
    // a connection named by bytes that are not UTF-8 is an unknown one:
    // the credential's 401, in JSON, with a right credential or none
    fusionauth(
        &app,
        "ma%FFin",
        &fusionauth_body("jane", JANE),
        (&basic("fusionauth", FA_SECRET), FA_HEADER),
    )
    .await
    .expect(401, "invalid_adapter_credentials");
    for path in [
        "/v1/connections/%FF/okta/password_import",
        "/v1/connections/%C3%28/kratos/password_migration",
        "/v1/connections/%FF/keycloak/users/jane",
    ] {
        uncredentialed(&app, Method::POST, path)
            .await
            .expect(401, "invalid_adapter_credentials");
    }
    // without Keycloak's credential, a user not UTF-8 is a 401 too
    uncredentialed(
        &app,
        Method::GET,
        "/v1/connections/main/keycloak/users/%FFjane",
    )
    .await
    .expect(401, "invalid_adapter_credentials");
    // with it, no user has that name
    keycloak_get(&app, "%FFjane")
        .await
        .expect(404, "user_not_found");
    keycloak_post(&app, "jane%FF", JANE)
        .await
        .expect(401, "wrong_username_or_password");
    // the password's own rules come first, as for any name
    keycloak_post(&app, "jane%FF", &"p".repeat(1100))
        .await
        .expect(400, "invalid_request");
    // a connection without get_user answers so first, as for any name
    let without = builder()
        .without("get_user")
        .connection(ADAPTERS)
        .spawn()
        .await;
    keycloak_get(&without, "%FFjane")
        .await
        .expect(501, "action_not_configured");
    // not even one whose stored name holds U+FFFD, which a lossy decoding
    // of those bytes gives
    app.sql("UPDATE members SET login_name = 'ren\u{FFFD}' WHERE login_name = 'jane'");
    for user in ["ren%FF", "ren%C3", "ren%EF%BF%BD"] {
        let a = keycloak_post(&app, user, JANE).await;
        if user == "ren%EF%BF%BD" {
            // the character itself, sent as UTF-8, is that user's name
            assert_eq!(a.status, 200, "{user}: {}", a.body);
        } else {
            a.expect(401, "wrong_username_or_password");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_credentials_in_any_scheme_case_and_in_iso_8859_1() {
    // Keycloak's provider writes Basic's pair in ISO-8859-1 (its
    // HttpClient); RFC 7617 recommends UTF-8: both are the same pair
    let app = builder()
        .connection(
            r#"
[connections.main.adapters.fusionauth]
basic_user = "üser"
basic_password = "pässword-sixteen-chars"
"#,
        )
        .spawn()
        .await;
    use base64::Engine as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let latin1: Vec<u8> = "üser:pässword-sixteen-chars"
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap())
        .collect();
    let utf8 = "üser:pässword-sixteen-chars".as_bytes();
    for (header, status) in [
        (format!("Basic {}", b64(utf8)), 200),
        (format!("Basic {}", b64(&latin1)), 200),
        (format!("basic {}", b64(utf8)), 200),
        (format!("BASIC  {}", b64(&latin1)), 200),
        (format!("Bearer {}", b64(utf8)), 401),
        (
            format!("Basic {}", b64("üser:pässword-sixteen-charz".as_bytes())),
            401,
        ),
        ("Basic".to_string(), 401),
    ] {
        let a = app
            .send(
                app.client
                    .post(app.url("/v1/connections/main/fusionauth/login"))
                    .header("Authorization", &header)
                    .json(&fusionauth_body("jane", JANE)),
            )
            .await;
        assert_eq!(a.status, status, "{header}: {}", a.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_the_platforms_own_fields() {
    let app = builder().connection(ADAPTERS).spawn().await;
    let long = "a".repeat(321);
    for (a, field) in [
        (kratos(&app, "a\nb", JANE).await, "`identifier`"),
        (fa(&app, &long, JANE).await, "`loginId`"),
        (
            okta(&app, &okta_body("jane", "a\0b")).await,
            "`data.context.credential.password`",
        ),
        (keycloak_get(&app, "a%0Ab").await, "`username_or_email`"),
        (keycloak_post(&app, "a%0Ab", JANE).await, "`username`"),
    ] {
        a.expect(400, "invalid_request");
        assert!(
            a.body["message"].as_str().unwrap().contains(field),
            "{field}: {}",
            a.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_method_is_405_only_after_the_credential() {
    let app = builder().connection(ADAPTERS).spawn().await;
    for path in [
        "/v1/connections/main/okta/password_import",
        "/v1/connections/main/kratos/password_migration",
        "/v1/connections/main/fusionauth/login",
        "/v1/connections/nope/okta/password_import",
    ] {
        uncredentialed(&app, Method::GET, path)
            .await
            .expect(401, "invalid_adapter_credentials");
    }
    uncredentialed(
        &app,
        Method::DELETE,
        "/v1/connections/main/keycloak/users/jane",
    )
    .await
    .expect(401, "invalid_adapter_credentials");
    let a = app
        .send(
            app.client
                .get(app.url("/v1/connections/main/okta/password_import"))
                .header("Authorization", OKTA_SECRET),
        )
        .await;
    a.expect(405, "method_not_allowed");
    assert_eq!(a.headers["allow"], "POST");
    let a = app
        .send(
            app.client
                .delete(app.url("/v1/connections/main/keycloak/users/jane"))
                .header("Authorization", format!("Bearer {KEYCLOAK_SECRET}")),
        )
        .await;
    a.expect(405, "method_not_allowed");
    let a = app
        .send(
            app.client
                .put(app.url("/v1/connections/main/fusionauth/login"))
                .header("Authorization", basic("fusionauth", FA_SECRET))
                .header("X-Connector-Secret", FA_HEADER),
        )
        .await;
    a.expect(405, "method_not_allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_see_the_platform_and_faults_keep_their_status() {
    let app = builder()
        .bare()
        .script(
            "login",
            r#"fn login(u, p) {
                if u == "boom" { let x = 1 / 0; }
                #{ id: 7, email: "x@example.com", context: request::context() }
            }"#,
        )
        .connection("max_concurrent_scripts = 4")
        .connection(ADAPTERS)
        .spawn()
        .await;
    let a = fa(&app, "someone", "pw").await;
    assert_eq!(a.status, 200, "{}", a.body);
    // a pass-through attribute lands in FusionAuth's data
    assert_eq!(
        a.body["user"]["data"]["context"],
        json!({"platform": "fusionauth", "ip": "203.0.113.7", "user_agent": "Mozilla/5.0"})
    );
    // no username: FusionAuth's id and email are enough; Keycloak needs one of them too
    assert!(a.body["user"].get("username").is_none());
    // a script failure is a 500 on every platform
    fa(&app, "boom", "pw").await.expect(500, "script_error");
    okta(&app, &okta_body("boom", "pw"))
        .await
        .expect(500, "script_error");
    kratos(&app, "boom", "pw").await.expect(500, "script_error");
    keycloak_post(&app, "boom", "pw")
        .await
        .expect(500, "script_error");
    // no get_user script: the Keycloak GET is 501
    keycloak_get(&app, "someone")
        .await
        .expect(501, "action_not_configured");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_outage_is_503_on_every_platform_and_service_resumes() {
    let prepared = builder()
        .connection(ADAPTERS)
        .connection("[connections.main.pool]\nacquire_timeout_ms = 1000")
        .prepare();
    let private = prepared.on_private_server(&crate::helpers::Prepared::demo_schema());
    let app = prepared.spawn().await;
    assert_eq!(kratos(&app, "jane", JANE).await.status, 200);
    private.stop();
    fa(&app, "jane", JANE)
        .await
        .expect(503, "user_store_unavailable");
    okta(&app, &okta_body("jane", JANE))
        .await
        .expect(503, "user_store_unavailable");
    kratos(&app, "jane", JANE)
        .await
        .expect(503, "user_store_unavailable");
    keycloak_get(&app, "jane")
        .await
        .expect(503, "user_store_unavailable");
    keycloak_post(&app, "jane", JANE)
        .await
        .expect(503, "user_store_unavailable");
    private.restart();
    crate::helpers::eventually_async("service resumed", || async {
        (okta(&app, &okta_body("jane", JANE)).await.body["commands"][0]["value"]["credential"]
            == "VERIFIED")
            .then_some(())
    })
    .await;
}

#[test]
fn no_password_or_adapter_secret_reaches_the_log_at_trace() {
    let prepared = builder()
        .connection(ADAPTERS)
        .http("max_body_bytes = 4096")
        .prepare();
    let server = Process::serve(&prepared.config, &[("RUST_LOG", "trace")]);
    let pw = "adapter-pw-marker-7f3e";
    let post = |path: &str, auth: &[(&str, &str)], body: &Value| {
        crate::helpers::raw_request(server.addr, "POST", path, auth, &body.to_string())
    };
    let basic_fa = basic("fusionauth", FA_SECRET);
    let answers = [
        post(
            "/v1/connections/main/fusionauth/login",
            &[
                ("Authorization", &basic_fa),
                ("X-Connector-Secret", FA_HEADER),
            ],
            &fusionauth_body("jane", pw),
        ),
        post(
            "/v1/connections/main/okta/password_import",
            &[("Authorization", OKTA_SECRET)],
            &okta_body("jane", pw),
        ),
        post(
            "/v1/connections/main/kratos/password_migration",
            &[("Authorization", KRATOS_SECRET)],
            &json!({"identifier": "jane", "password": pw}),
        ),
        post(
            "/v1/connections/main/kratos/password_migration",
            &[("Authorization", "not-the-secret")],
            &json!({"identifier": "jane", "password": pw}),
        ),
        // 413: past max_body_bytes
        post(
            "/v1/connections/main/kratos/password_migration",
            &[("Authorization", KRATOS_SECRET)],
            &json!({"identifier": "jane", "password": "x".repeat(5000)}),
        ),
    ];
    assert!(answers[0].starts_with("HTTP/1.1 404"), "{}", answers[0]);
    assert!(answers[1].starts_with("HTTP/1.1 200"), "{}", answers[1]);
    assert!(answers[2].starts_with("HTTP/1.1 403"), "{}", answers[2]);
    assert!(answers[3].starts_with("HTTP/1.1 401"), "{}", answers[3]);
    assert!(answers[4].starts_with("HTTP/1.1 413"), "{}", answers[4]);
    let log = server.log_with("status=413");
    assert!(log.contains("fusionauth.login"), "the label is logged");
    for secret in [
        pw,
        FA_SECRET,
        FA_HEADER,
        OKTA_SECRET,
        KRATOS_SECRET,
        KEYCLOAK_SECRET,
    ] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_the_platform_cannot_take_is_a_500_in_the_answer_and_the_metrics() {
    // neither a username nor an email: FusionAuth and Keycloak cannot name it
    let app = builder()
        .bare()
        .script("login", "fn login(u, p) { #{ id: 9 } }")
        .script("get_user", "fn get_user(u) { #{ id: 9 } }")
        .connection(ADAPTERS)
        .spawn()
        .await;
    fa(&app, "nameless", "pw")
        .await
        .expect(500, "invalid_profile");
    keycloak_get(&app, "nameless")
        .await
        .expect(500, "invalid_profile");
    let metrics = metrics_text(&app).await;
    for action in ["fusionauth.login", "keycloak.get_user"] {
        let line = format!(
            "customdb_requests_total{{connection=\"main\",action=\"{action}\",status=\"500\"}} 1"
        );
        assert!(metrics.contains(&line), "{line} in {metrics}");
        let ok = format!("action=\"{action}\",status=\"200\"");
        assert!(!metrics.contains(&ok), "{ok} in {metrics}");
    }
}

#[test]
fn a_refusal_before_the_script_is_logged_with_the_connection_and_action() {
    let prepared = builder().connection(ADAPTERS).prepare();
    let server = Process::serve(&prepared.config, &[]);
    let answer = crate::helpers::raw_request(
        server.addr,
        "POST",
        "/v1/connections/main/kratos/password_migration",
        &[
            ("Authorization", KRATOS_SECRET),
            ("Content-Type", "application/json"),
            ("x-request-id", "refused-before-script"),
        ],
        r#"{"identifier":"jane"}"#,
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let log = server.log_with("refused-before-script");
    let line = log
        .lines()
        .find(|l| l.contains("refused-before-script") && l.contains("answered"))
        .unwrap_or_else(|| panic!("no access line: {log}"));
    assert!(
        line.contains("connection=main") && line.contains("action=kratos.login"),
        "{line}"
    );
    // without the credential, a wrong method's 401 tells no route's methods
    let refused = crate::helpers::raw_request(
        server.addr,
        "GET",
        "/v1/connections/main/kratos/password_migration",
        &[],
        "",
    );
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    assert!(
        !refused.to_ascii_lowercase().contains("\r\nallow:"),
        "{refused}"
    );
}
