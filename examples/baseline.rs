//! The benchmarks' baseline: a hand-written axum + mysql_async server that
//! answers the demo connection's `login` and `get_user`, and the second read
//! shape of `benches/shape/get_user.rhai`, with the same SQL, the same pool
//! size, the same password check and the same profile as the scripts, with
//! no script engine. What customdb costs is the difference between the two.
//!
//! `baseline LISTEN DATABASE_URL TOKEN POOL_MAX`

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mysql_async::prelude::Queryable;
use mysql_async::{Opts, OptsBuilder, Pool, PoolConstraints, PoolOpts, Row};
use serde_json::{json, Value};

/// The same allocator as customdb's binary, so that the comparison is of the
/// request paths, not of the allocators.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct App {
    pool: Pool,
    token: String,
}

const COLUMNS: &str = "member_id, login_name, email_addr, first_name, last_name, display_name, \
                       is_verified, is_blocked, prefs, metadata";

fn profile(row: &Row) -> Value {
    let text = |name: &str| row.get::<Option<String>, _>(name).flatten();
    let json_col = |name: &str| {
        text(name)
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .unwrap_or_else(|| json!({}))
    };
    let mut user = json!({
        "user_id": row.get::<u64, _>("member_id").unwrap_or_default().to_string(),
        "email_verified": row.get::<i64, _>("is_verified") == Some(1),
        "user_metadata": json_col("prefs"),
        "app_metadata": json_col("metadata"),
    });
    for (field, column) in [
        ("email", "email_addr"),
        ("username", "login_name"),
        ("given_name", "first_name"),
        ("family_name", "last_name"),
        ("name", "display_name"),
    ] {
        if let Some(v) = text(column) {
            user[field] = Value::String(v);
        }
    }
    json!({ "user": user })
}

fn error(status: StatusCode, code: &str) -> Response {
    (
        status,
        Json(json!({ "error": code, "message": code, "request_id": "" })),
    )
        .into_response()
}

fn authorized(app: &App, headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == app.token)
}

/// The first row of `sql`, on a pooled connection given back at once;
/// an unreachable store or a failed query is the error answer.
async fn find(
    app: &App,
    sql: String,
    params: Vec<mysql_async::Value>,
) -> Result<Option<Row>, Response> {
    let Ok(mut conn) = app.pool.get_conn().await else {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "user_store_unavailable",
        ));
    };
    conn.exec_first::<Row, _, _>(sql, params)
        .await
        .map_err(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "script_error"))
}

/// The token checked, then the body's `email`; or the error's status and code.
fn authorized_email<'b>(
    app: &App,
    headers: &HeaderMap,
    body: &'b Value,
) -> Result<&'b str, (StatusCode, &'static str)> {
    if !authorized(app, headers) {
        return Err((StatusCode::UNAUTHORIZED, "invalid_api_token"));
    }
    body["email"]
        .as_str()
        .ok_or((StatusCode::BAD_REQUEST, "invalid_request"))
}

async fn get_user(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let email = match authorized_email(&app, &headers, &body) {
        Ok(email) => email,
        Err((status, code)) => return error(status, code),
    };
    let sql = format!("SELECT {COLUMNS} FROM members WHERE email_addr = ?");
    match find(&app, sql, vec![email.into()]).await {
        Ok(Some(row)) => Json(profile(&row)).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "user_not_found"),
        Err(answer) => answer,
    }
}

/// The second read shape: a login-shaped lookup, then the JSON columns in a
/// second query on the same connection, as `benches/shape/get_user.rhai`.
async fn shape(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let email = match authorized_email(&app, &headers, &body) {
        Ok(email) => email,
        Err((status, code)) => return error(status, code),
    };
    let Ok(mut conn) = app.pool.get_conn().await else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "user_store_unavailable");
    };
    let first = conn
        .exec_first::<Row, _, _>(
            "SELECT member_id, login_name, email_addr, first_name, last_name, display_name, \
             is_verified FROM members WHERE email_addr = ? OR login_name = ?",
            (email, email),
        )
        .await;
    let row = match first {
        Ok(Some(row)) => row,
        Ok(None) => return error(StatusCode::NOT_FOUND, "user_not_found"),
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "script_error"),
    };
    let id: u64 = row.get("member_id").unwrap_or_default();
    let extra = conn
        .exec_first::<Row, _, _>(
            "SELECT prefs, metadata FROM members WHERE member_id = ?",
            (id,),
        )
        .await;
    let Ok(Some(extra)) = extra else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "script_error");
    };
    let mut answer = profile(&row);
    let json_col = |name: &str| {
        extra
            .get::<Option<String>, _>(name)
            .flatten()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .unwrap_or_else(|| json!({}))
    };
    answer["user"]["user_metadata"] = json_col("prefs");
    answer["user"]["app_metadata"] = json_col("metadata");
    Json(answer).into_response()
}

async fn login(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !authorized(&app, &headers) {
        return error(StatusCode::UNAUTHORIZED, "invalid_api_token");
    }
    let (Some(who), Some(password)) = (
        body["username_or_email"].as_str(),
        body["password"].as_str(),
    ) else {
        return error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let sql =
        format!("SELECT {COLUMNS}, pass_hash FROM members WHERE email_addr = ? OR login_name = ?");
    let row = match find(&app, sql, vec![who.into(), who.into()]).await {
        Ok(Some(row)) => row,
        Ok(None) => return error(StatusCode::UNAUTHORIZED, "wrong_username_or_password"),
        Err(answer) => return answer,
    };
    let hash: String = row.get("pass_hash").unwrap_or_default();
    let password = password.to_string();
    // The same check customdb's password::verify makes, off the async workers.
    let ok = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
        .await
        .unwrap_or(false);
    if !ok {
        return error(StatusCode::UNAUTHORIZED, "wrong_username_or_password");
    }
    if row.get::<i64, _>("is_blocked") == Some(1) {
        return error(StatusCode::FORBIDDEN, "unauthorized");
    }
    Json(profile(&row)).into_response()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, listen, url, token, pool_max] = &args[..] else {
        eprintln!("usage: baseline LISTEN DATABASE_URL TOKEN POOL_MAX");
        std::process::exit(2);
    };
    let max: usize = pool_max.parse().expect("POOL_MAX is a number");
    let opts = OptsBuilder::from_opts(Opts::from_url(url).expect("a mysql:// URL")).pool_opts(
        PoolOpts::default()
            .with_constraints(PoolConstraints::new(1, max).expect("1 <= POOL_MAX"))
            // as customdb keeps idle connections
            .with_inactive_connection_ttl(customdb::store::IDLE_TTL)
            // its handlers only read, as customdb skips the reset after a
            // session that only read
            .with_reset_connection(false),
    );
    let app = Arc::new(App {
        pool: Pool::new(opts),
        token: token.clone(),
    });
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/v1/connections/demo/get_user", post(get_user))
        .route("/v1/connections/demo/login", post(login))
        .route("/v1/connections/shape/get_user", post(shape))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(listen).await.expect("bind");
    eprintln!(
        "listening on {}",
        listener.local_addr().expect("an address")
    );
    axum::serve(listener, router).await.expect("serve");
}
