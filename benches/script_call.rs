//! One script call as the host makes it, with no I/O: a login-shaped script
//! that reads a row-like map, checks it and answers a profile, then the
//! profile normalization, the per-call state and the masking set-up, run
//! as a fiber the way the server runs it (a stack from the thread's pool,
//! the state swapped in and out). The target is under 20 µs; run by
//! `tools/bench` or `cargo bench --bench script_call`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use customdb::actions::{Action, Request};
use customdb::script::call::{self, CallState, Masker};
use customdb::script::ScriptSet;
use customdb::store::{Session, Store};
use customdb::Settings;

const LOGIN: &str = r#"
fn login(username_or_email, password) {
    let row = #{
        member_id: 42, login_name: "jane", email_addr: "jane.doe@example.com",
        pass_hash: "$2b$10$Wa/Qas3cAcaRpNxqgBnwees/dvqAswyPiG0rMzqLZnyLqAuWj/gWK",
        first_name: "Jane", last_name: "Doe", display_name: "Jane Doe",
        is_verified: 1, is_blocked: 0,
        prefs: `{"hobby": "surfing", "theme": "dark"}`,
        metadata: `{"plan": "full", "roles": ["admin"]}`
    };
    if row.login_name != username_or_email && row.email_addr != username_or_email {
        throw WrongUsernameOrPasswordError(username_or_email);
    }
    if row.is_blocked == 1 {
        throw UnauthorizedError("locked");
    }
    #{
        user_id: row.member_id, email: row.email_addr, username: row.login_name,
        given_name: row.first_name, family_name: row.last_name, name: row.display_name,
        email_verified: row.is_verified,
        user_metadata: json::parse(row.prefs), metadata: json::parse(row.metadata)
    }
}
"#;

fn script_call(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a scratch folder");
    std::fs::write(dir.path().join("login.rhai"), LOGIN).expect("the script");
    let config = dir.path().join("settings.toml");
    std::fs::write(
        &config,
        format!(
            "[http]\napi_tokens = [\"bench-token-0123456789\"]\n[connections.bench]\n\
             database_url = \"mysql://u:p@127.0.0.1:1/db\"\nscripts_dir = \"{}\"\n",
            dir.path().display()
        ),
    )
    .expect("the settings");
    let settings = Settings::load(Some(&config)).expect("settings load");
    let conn = settings.connections["bench"].clone();
    let scripts = ScriptSet::load(&conn).expect("the script loads");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build_local(Default::default())
        .expect("a runtime");
    let store = runtime.block_on(async { Arc::new(Store::new(&conn, 1, 1)) });
    let scripts = Arc::new(scripts);
    let request = Request::parse(
        Action::Login,
        br#"{"username_or_email": "jane", "password": "correct horse battery staple"}"#,
    )
    .expect("a valid request");

    c.bench_function("script call: login with profile normalization", |b| {
        b.iter(|| {
            let deadline = Instant::now() + Duration::from_secs(20);
            let state = CallState {
                session: Some(Session::new(store.clone(), deadline)),
                context: Default::default(),
                masker: Masker::default().with_request(request.secrets()),
                verifying: std::time::Duration::ZERO,
                deadline,
                modules: Vec::new(),
                compiling: Vec::new(),
                host_error: None,
            };
            let (request, scripts) = (request.clone(), scripts.clone());
            let (answer, _) = runtime
                .block_on(call::run(state, move |call| {
                    request.run(call, &scripts, "bench", 10240)
                }))
                .expect("the call runs");
            black_box(answer.expect("a profile"))
        })
    });
}

criterion_group!(benches, script_call);
criterion_main!(benches);
