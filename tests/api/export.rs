//! `customdb export`, through the real binary and MariaDB: every format
//! written from a table whose hashes come from PHP, passlib, hashlib and
//! libxcrypt; every carried hash rebuilt from the target's fields and
//! re-verified by independent implementations (tests/vectors/export_check.py);
//! every user accounted for; a SIGKILL and `--resume` giving the same files
//! as an uninterrupted run; the exit statuses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

use crate::helpers::{builder, repo, Prepared};

const SCHEMA: &str = "CREATE TABLE accounts (
    id INT PRIMARY KEY,
    email VARCHAR(255) NULL,
    username VARCHAR(64) NULL,
    pw_hash TEXT NULL,
    descriptor TEXT NULL,
    blocked TINYINT NOT NULL DEFAULT 0,
    plan VARCHAR(32) NULL
);";

/// list_users over `accounts`, a descriptor when the row has one.
const LIST_USERS: &str = r#"
fn list_users(after, limit) {
    let rows = if after == () {
        db::query("SELECT * FROM accounts ORDER BY id LIMIT ?", [limit])
    } else {
        db::query("SELECT * FROM accounts WHERE id > ? ORDER BY id LIMIT ?", [after, limit])
    };
    let users = [];
    for row in rows {
        let hash = if row.descriptor != () { json::parse(row.descriptor) } else { row.pw_hash };
        users.push(#{
            user_id: row.id,
            email: row.email,
            username: row.username,
            email_verified: row.id % 2 == 0,
            blocked: row.blocked,
            password_hash: hash,
            user_metadata: #{ plan: row.plan },
            metadata: #{ roles: ["member"] },
            shoe_size: 42,
        });
    }
    users
}
fn count_users() { db::query_one("SELECT COUNT(*) AS n FROM accounts").n }
"#;

const LOGIN: &str = "fn login(u, p) { throw WrongUsernameOrPasswordError(u); }";

fn vectors() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for line in include_str!("../vectors/hashes.tsv").lines() {
        let f: Vec<&str> = line.split('\t').collect();
        out.push((f[0].to_string(), f[1].to_string(), f[2].to_string()));
    }
    for line in include_str!("../vectors/legacy.tsv").lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f[1] == "verify" || f[1] == "descriptor" {
            let label = if f[1] == "descriptor" {
                format!("descriptor:{}", f[0])
            } else {
                f[0].to_string()
            };
            out.push((label, f[2].to_string(), f[3].to_string()));
        }
    }
    out
}

fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// A connection over `accounts`, seeded with every vector: the passwords
/// by user_id, and the ids of users with no email.
fn seeded() -> (Prepared, BTreeMap<String, String>) {
    let prepared = exporting(LIST_USERS).prepare();
    let db = crate::helpers::mariadb();
    db.sql(Some(&prepared.database), SCHEMA);
    let mut passwords = BTreeMap::new();
    let mut rows = Vec::new();
    for (i, (label, pw, stored)) in vectors().into_iter().enumerate() {
        let id = i + 1;
        let (hash, descriptor) = match label.strip_prefix("descriptor:") {
            Some(_) => ("NULL".to_string(), sql_text(&stored)),
            None => (sql_text(&stored), "NULL".to_string()),
        };
        rows.push(format!(
            "({id}, 'u{id}@example.com', 'user{id}', {hash}, {descriptor}, {}, 'gold')",
            u8::from(id % 7 == 0)
        ));
        passwords.insert(id.to_string(), pw);
    }
    // no hash, an unknown one, a 2x one, and one without email or username
    let n = passwords.len();
    rows.push(format!(
        "({}, 'nohash@example.com', 'nohash', NULL, NULL, 0, NULL)",
        n + 1
    ));
    rows.push(format!(
        "({}, 'odd@example.com', 'odd', 'not-a-hash-at-all', NULL, 0, NULL)",
        n + 2
    ));
    rows.push(format!(
        "({}, 'twox@example.com', NULL, '$2x$05$abcdefghijklmnopqrstuu5Bz1ON1jKvQX0rGUqHKJ8Tc6hJ8rGie', NULL, 0, NULL)",
        n + 3
    ));
    rows.push(format!("({}, NULL, NULL, NULL, NULL, 0, NULL)", n + 4));
    for extra in 1..=4 {
        passwords.insert((n + extra).to_string(), "unused".into());
    }
    db.sql(
        Some(&prepared.database),
        &format!(
            "INSERT INTO accounts (id, email, username, pw_hash, descriptor, blocked, plan) VALUES {};",
            rows.join(",\n")
        ),
    );
    (prepared, passwords)
}

/// `customdb --config CONFIG export ARGS...`, not yet started.
fn export_command<S: AsRef<std::ffi::OsStr>>(config: &Path, args: &[S]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_customdb"));
    command
        .arg("--config")
        .arg(config)
        .arg("export")
        .args(args)
        .stdin(Stdio::null());
    command
}

fn export(config: &Path, args: &[&str]) -> Output {
    export_command(config, args)
        .output()
        .expect("customdb export runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The files an export wrote for `out`, parts in order.
/// Asserts a run's exit status and that its standard error says `says`.
fn exited(run: &Output, code: i32, says: &str) {
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(code), "{stderr}");
    assert!(stderr.contains(says), "{says}: {stderr}");
}

fn files(out: &Path) -> Vec<PathBuf> {
    if out.exists() {
        return vec![out.to_path_buf()];
    }
    let stem = out.file_stem().unwrap().to_string_lossy().into_owned();
    let mut parts: Vec<PathBuf> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with(&format!("{stem}-")) && n.ends_with(".json")
        })
        .collect();
    parts.sort();
    parts
}

fn ids_in(format: &str, doc: &Value) -> Vec<String> {
    let records = match format {
        "auth0" | "okta" => doc.as_array().unwrap().clone(),
        "kratos" => doc["identities"].as_array().unwrap().clone(),
        _ => doc["users"].as_array().unwrap().clone(),
    };
    records
        .iter()
        .map(|r| match format {
            "auth0" => r["user_id"].as_str().unwrap().to_string(),
            "okta" => r["body"]["profile"]["legacyUserId"]
                .as_str()
                .unwrap()
                .to_string(),
            "kratos" => r["create"]["external_id"].as_str().unwrap().to_string(),
            "fusionauth" => r["data"]["legacy_user_id"].as_str().unwrap().to_string(),
            _ => r["attributes"]["legacy_user_id"][0]
                .as_str()
                .unwrap()
                .to_string(),
        })
        .collect()
}

/// A connection with `list_users` (and the login every connection needs).
fn exporting(list_users: &str) -> crate::helpers::Builder {
    builder()
        .bare()
        .script("login", LOGIN)
        .script("list_users", list_users)
}

/// [`LIST_USERS`], waiting `seconds` on the store before each page.
fn slow_list_users(seconds: &str) -> String {
    LIST_USERS.replace(
        "let users = [];",
        &format!("db::query(\"SELECT SLEEP({seconds})\"); let users = [];"),
    )
}

/// `connection` prepared over a MariaDB of its own (kept alive by the
/// caller), with users 1 to `n` in `accounts`: `u{i}@example.com`, no hash;
/// with `username` and `plan` when `full`.
fn with_accounts(
    connection: crate::helpers::Builder,
    n: usize,
    full: bool,
) -> (Prepared, crate::helpers::MariaDb) {
    let prepared = connection.prepare();
    let private = prepared.on_private_server(SCHEMA);
    let rows: Vec<String> = (1..=n)
        .map(|i| {
            if full {
                format!("({i}, 'u{i}@example.com', 'user{i}', NULL, NULL, 0, 'gold')")
            } else {
                format!("({i}, 'u{i}@example.com', NULL, NULL, NULL, 0, NULL)")
            }
        })
        .collect();
    private.sql(
        Some(&prepared.database),
        &format!("INSERT INTO accounts (id, email, username, pw_hash, descriptor, blocked, plan) VALUES {};", rows.join(",")),
    );
    (prepared, private)
}

/// An export started with `args` (its standard error kept), once its state
/// has 20 users listed.
fn under_way(config: &Path, args: &[&str], state: &Path) -> std::process::Child {
    let child = export_command(config, args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    crate::helpers::eventually("the export is under way", || {
        let s: Value = serde_json::from_str(&std::fs::read_to_string(state).ok()?).ok()?;
        (s["listed"].as_u64()? >= 20).then_some(())
    });
    child
}

/// The user ids of every part an export to `out` wrote, in order.
fn ids_in_parts(format: &str, out: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    for part in files(out) {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&part).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", part.display()));
        ids.extend(ids_in(format, &doc));
    }
    ids
}

#[test]
fn every_format_carries_what_its_platform_verifies_and_accounts_for_every_user() {
    let (prepared, passwords) = seeded();
    let dir = tempfile::tempdir().unwrap();
    let pw_file = dir.path().join("passwords.json");
    std::fs::write(&pw_file, json!(passwords).to_string()).unwrap();
    let all: BTreeSet<String> = passwords.keys().cloned().collect();
    let stored: Vec<String> = vectors().into_iter().map(|v| v.2).collect();
    for format in ["auth0", "okta", "kratos", "fusionauth", "keycloak"] {
        let out = dir.path().join(format!("{format}.json"));
        let run = export(
            &prepared.config,
            &[
                "main",
                "--format",
                format,
                "--out",
                out.to_str().unwrap(),
                "--page-size",
                "7",
            ],
        );
        let stderr = text(&run.stderr);
        // complete, with report entries
        assert_eq!(run.status.code(), Some(3), "{format}: {stderr}");
        assert!(
            stderr.contains(&format!("export: {} users in", all.len())),
            "{stderr}"
        );
        assert!(
            stderr.contains("shoe_size"),
            "the fields left out are named: {stderr}"
        );
        let parts = files(&out);
        assert!(!parts.is_empty(), "{format}: no file");
        let mut in_files = Vec::new();
        for part in &parts {
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(part).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", part.display()));
            in_files.extend(ids_in(format, &doc));
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(part).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}", part.display());
            }
        }
        // each user at most once in the files
        let unique: BTreeSet<String> = in_files.iter().cloned().collect();
        assert_eq!(unique.len(), in_files.len(), "{format}: a user twice");
        // the report accounts for the rest
        let report =
            std::fs::read_to_string(dir.path().join(format!("{format}.json.report.jsonl")))
                .unwrap();
        let mut left_out = BTreeSet::new();
        for line in report.lines() {
            let entry: Value = serde_json::from_str(line).unwrap();
            let id = entry["user_id"].as_str().unwrap().to_string();
            if entry["exported"] == false {
                left_out.insert(id.clone());
            } else {
                assert!(unique.contains(&id), "{format}: {line}");
            }
        }
        let accounted: BTreeSet<String> = unique.union(&left_out).cloned().collect();
        assert_eq!(
            accounted, all,
            "{format}: every user in the file or the report"
        );
        assert!(report.contains("\"no_password_hash\""), "{report}");
        assert!(report.contains("\"hash_unknown_format\""), "{report}");
        // forms the login verifier knows but outside the export's table
        // (Drupal, yescrypt, {SSHA384}) are unknown formats, told by length
        for (i, (label, _, hash)) in vectors().into_iter().enumerate() {
            if !["drupal7", "yescrypt", "ldap_ssha384"]
                .iter()
                .any(|l| label.starts_with(l))
            {
                continue;
            }
            let expected = json!({
                "user_id": (i + 1).to_string(),
                "email": format!("u{}@example.com", i + 1),
                "reason": "hash_unknown_format",
                "detail": format!("unrecognized, {} characters", hash.chars().count()),
                "exported": true,
            });
            assert!(
                report
                    .lines()
                    .any(|l| serde_json::from_str::<Value>(l).unwrap() == expected),
                "{format} {label}: {expected} not in {report}"
            );
        }
        assert!(report.contains("\"missing_field\""), "{report}");
        // no hash ever outside the output files
        let state_gone = !dir.path().join(format!("{format}.json.state")).exists();
        assert!(state_gone, "the state is removed once complete");
        for s in &stored {
            let tail = &s[s.len().saturating_sub(12)..];
            assert!(!report.contains(tail), "{format}: a hash in the report");
            assert!(!stderr.contains(tail), "{format}: a hash on standard error");
        }
        // every carried hash, rebuilt from the platform's fields, verifies
        let mut check = Command::new(repo().join("tests/vectors/export_check.py"));
        check.arg(format).arg(&pw_file).args(&parts);
        let checked = check.output().expect("export_check.py runs");
        let said = text(&checked.stdout);
        assert!(
            checked.status.success(),
            "{format}: {said}{}",
            text(&checked.stderr)
        );
        let verified: usize = said
            .trim()
            .strip_prefix("export-check: ")
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        eprintln!(
            "{format}: {verified} hashes carried and verified, {} users",
            unique.len()
        );
        assert!(verified >= 5, "{format}: only {verified} carried");
    }
}

#[test]
fn a_killed_export_resumes_to_the_same_files_as_an_uninterrupted_one() {
    let prepared = exporting(&slow_list_users("0.03")).prepare();
    let db = crate::helpers::mariadb();
    db.sql(Some(&prepared.database), SCHEMA);
    let hash = "$2y$05$q71v/Wnu9brUlx1vKt7cgu2voAnulafbkNBND1JMvCYRg7CB8QlKu";
    let rows: Vec<String> = (1..=400)
        .map(|i| format!("({i}, 'u{i}@example.com', 'user{i}', '{hash}', NULL, 0, 'p{i}')"))
        .collect();
    db.sql(
        Some(&prepared.database),
        &format!("INSERT INTO accounts (id, email, username, pw_hash, descriptor, blocked, plan) VALUES {};", rows.join(",")),
    );
    let dir = tempfile::tempdir().unwrap();
    let args = |out: &Path| -> Vec<String> {
        [
            "main",
            "--format",
            "kratos",
            "--out",
            out.to_str().unwrap(),
            "--page-size",
            "9",
            "--max-file-users",
            "25",
        ]
        .map(String::from)
        .to_vec()
    };
    // the reference: one uninterrupted run
    let whole = dir.path().join("whole/users.json");
    std::fs::create_dir_all(whole.parent().unwrap()).unwrap();
    let a: Vec<String> = args(&whole);
    let run = export(
        &prepared.config,
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));

    // killed mid-way, then resumed
    let cut = dir.path().join("cut/users.json");
    std::fs::create_dir_all(cut.parent().unwrap()).unwrap();
    let a: Vec<String> = args(&cut);
    let mut child = export_command(&prepared.config, &a)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let state = dir.path().join("cut/users.json.state");
    crate::helpers::eventually("the export is under way", || {
        let s: Value = serde_json::from_str(&std::fs::read_to_string(&state).ok()?).ok()?;
        (s["listed"].as_u64()? >= 100).then_some(())
    });
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(state.exists());
    // a second run without --resume refuses to write over it
    let again = export(
        &prepared.config,
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(again.status.code(), Some(2), "{}", text(&again.stderr));
    // a resume for another format is refused, naming the state file
    let mut other: Vec<&str> = a.iter().map(String::as_str).collect();
    other[2] = "okta";
    other.push("--resume");
    let run = export(&prepared.config, &other);
    exited(&run, 2, "users.json.state");
    // so is a resume with another Kratos schema: one file would hold
    // identities of two schemas
    let mut other: Vec<&str> = a.iter().map(String::as_str).collect();
    other.extend(["--resume", "--kratos-schema-id", "other://schema"]);
    let run = export(&prepared.config, &other);
    exited(&run, 2, "record options");
    // a copy whose part being written was cut shorter than the state
    // records is refused, naming it, and not padded with NUL bytes
    let copy = dir.path().join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    let mut partial = None;
    for f in std::fs::read_dir(cut.parent().unwrap()).unwrap() {
        let f = f.unwrap().path();
        let to = copy.join(f.file_name().unwrap());
        std::fs::copy(&f, &to).unwrap();
        if to.to_string_lossy().ends_with(".partial") {
            partial = Some(to);
        }
    }
    let partial = partial.expect("a part being written");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&partial)
        .unwrap()
        .set_len(5)
        .unwrap();
    let copied = copy.join("users.json");
    let mut on_copy: Vec<String> = args(&copied);
    on_copy.push("--resume".into());
    let run = export(
        &prepared.config,
        &on_copy.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    exited(
        &run,
        2,
        partial.file_name().unwrap().to_string_lossy().as_ref(),
    );
    assert_eq!(std::fs::metadata(&partial).unwrap().len(), 5);
    let mut resumed: Vec<&str> = a.iter().map(String::as_str).collect();
    resumed.push("--resume");
    let run = export(&prepared.config, &resumed);
    exited(&run, 0, "export: 400 users in");

    let names = |p: &Path| -> Vec<String> {
        files(p)
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(names(&cut), names(&whole));
    assert_eq!(names(&whole).len(), 16, "400 users, 25 a file");
    for (c, w) in files(&cut).iter().zip(files(&whole)) {
        assert_eq!(
            std::fs::read(c).unwrap(),
            std::fs::read(&w).unwrap(),
            "{} differs",
            c.display()
        );
    }
    assert!(!state.exists());
}

#[test]
fn bad_usage_is_exit_2_and_a_walk_that_does_not_progress_is_exit_1() {
    let (prepared, _) = seeded();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("users.json");
    let o = out.to_str().unwrap();
    for (args, says) in [
        (
            vec!["nope", "--format", "auth0", "--out", o],
            "no connection",
        ),
        (
            vec!["main", "--format", "auth0", "--out", o, "--page-size", "0"],
            "--page-size",
        ),
    ] {
        let run = export(&prepared.config, &args);
        let stderr = text(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{args:?}");
        assert!(stderr.contains(says), "{stderr}");
        // the summary is the last line of a refused run too
        let last = stderr.trim_end().lines().last().unwrap_or_default();
        assert!(last.starts_with("export: 0 users in"), "{stderr}");
    }
    let run = export(&prepared.config, &["main", "--format", "wrong", "--out", o]);
    assert_eq!(run.status.code(), Some(2));
    // a finished export's files are not overwritten without --overwrite
    assert_eq!(
        export(&prepared.config, &["main", "--format", "okta", "--out", o])
            .status
            .code(),
        Some(3)
    );
    let run = export(&prepared.config, &["main", "--format", "okta", "--out", o]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run.stderr).contains("--overwrite"),
        "{}",
        text(&run.stderr)
    );
    let run = export(
        &prepared.config,
        &["main", "--format", "okta", "--out", o, "--overwrite"],
    );
    assert_eq!(run.status.code(), Some(3), "{}", text(&run.stderr));
    // --resume without a state
    let run = export(
        &prepared.config,
        &["main", "--format", "okta", "--out", o, "--resume"],
    );
    assert_eq!(run.status.code(), Some(2));

    // no list_users.rhai
    let plain = builder().bare().script("login", LOGIN).prepare();
    let run = export(
        &plain.config,
        &["main", "--format", "auth0", "--out", o, "--overwrite"],
    );
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run.stderr).contains("list_users"),
        "{}",
        text(&run.stderr)
    );

    // a list_users that ignores `after` stops at its second page
    let looping = builder()
        .bare()
        .script("login", LOGIN)
        .script(
            "list_users",
            "fn list_users(after, limit) { [#{ user_id: 1, email: \"a@b.c\" }, #{ user_id: 2, email: \"b@b.c\" }] }",
        )
        .prepare();
    let run = export(
        &looping.config,
        &["main", "--format", "auth0", "--out", o, "--overwrite"],
    );
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    assert!(text(&run.stderr).contains("after"), "{}", text(&run.stderr));
    // a page longer than the limit
    let run = export(
        &looping.config,
        &[
            "main",
            "--format",
            "auth0",
            "--out",
            o,
            "--overwrite",
            "--page-size",
            "1",
        ],
    );
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
}

#[test]
fn a_list_users_that_breaks_the_rules_stops_the_export_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("users.json");
    let o = out.to_str().unwrap();
    for (script, says) in [
        ("fn list_users(after, limit) { \"not an array\" }", "array"),
        ("fn list_users(after, limit) { [1, 2] }", "maps"),
        ("fn list_users(after, limit) { [#{ email: \"a@b.c\" }] }", "user_id"),
        ("fn list_users(after, limit) { throw \"the table is gone\"; }", "list_users failed"),
        ("fn list_users(after, limit) { loop { } }", "list_users failed"),
        (
            "fn list_users(after, limit) { if after == () { [#{ user_id: 5, email: \"a@b.c\" }] } else { [#{ user_id: 3, email: \"b@b.c\" }] } }",
            "went back",
        ),
        (
            "fn list_users(after, limit) { [#{ user_id: \"x\", email: \"a@b.c\" }, #{ user_id: \"x\", email: \"b@b.c\" }] }",
            "twice",
        ),
        // string ids, `after` ignored: the second page repeats the first
        (
            "fn list_users(after, limit) { [#{ user_id: \"a\", email: \"a@b.c\" }, #{ user_id: \"b\", email: \"b@b.c\" }] }",
            "user_id a again",
        ),
        // `after` itself listed again
        (
            "fn list_users(after, limit) { if after == () { [#{ user_id: \"a\", email: \"a@b.c\" }] } else { [#{ user_id: after, email: \"b@b.c\" }] } }",
            "the `after` it was given",
        ),
        // int and string ids in turn: an int must pass every int before it
        (
            "fn list_users(after, limit) { if after == () { [#{ user_id: 1, email: \"a@b.c\" }, #{ user_id: 2, email: \"b@b.c\" }] } else if type_of(after) == \"i64\" { [#{ user_id: \"1\", email: \"c@b.c\" }] } else { [#{ user_id: 2, email: \"b@b.c\" }] } }",
            "went back",
        ),
        // an int's digits as a string, and the other way round: user 1 again
        (
            "fn list_users(after, limit) { if after == () { [#{ user_id: \"1\", email: \"a@b.c\" }, #{ user_id: \"2\", email: \"b@b.c\" }] } else { [#{ user_id: 1, email: \"c@b.c\" }] } }",
            "again",
        ),
        // a string id listed again on a later page, not at its end
        (
            "fn list_users(after, limit) { if after == () { [#{ user_id: \"a\", email: \"a@b.c\" }, #{ user_id: \"b\", email: \"b@b.c\" }] } else { [#{ user_id: \"c\", email: \"c@b.c\" }, #{ user_id: \"a\", email: \"d@b.c\" }] } }",
            "again",
        ),
        (
            "fn list_users(after, limit) { if after == () { [#{ user_id: 1, email: \"a@b.c\" }, #{ user_id: 2, email: \"b@b.c\" }] } else { [#{ user_id: \"1\", email: \"c@b.c\" }] } }",
            "went back",
        ),
        // string ids going round: a, b, a...
        (
            "fn list_users(after, limit) { if after == () || after == \"b\" { [#{ user_id: \"a\", email: \"a@b.c\" }] } else { [#{ user_id: \"b\", email: \"b@b.c\" }] } }",
            "again",
        ),
    ] {
        let prepared = builder()
            .bare()
            .script("login", LOGIN)
            .script("list_users", script)
            .connection("script_timeout_ms = 1000")
            .prepare();
        let run = export(&prepared.config, &["main", "--format", "auth0", "--out", o, "--overwrite"]);
        let stderr = text(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{script}: {stderr}");
        assert!(stderr.contains(says), "{script}: {stderr}");
        if says == "list_users failed" {
            // logged as serve logs a script's failure
            assert!(stderr.contains("the script failed"), "{script}: {stderr}");
        }
        // the summary is the last line, also on exit 1
        let last = stderr.trim_end().lines().last().unwrap_or_default();
        assert!(last.starts_with("export: ") && last.contains("users in"), "{stderr}");
        // nothing of the broken page was written, and the export can resume
        assert!(dir.path().join("users.json.state").exists(), "{script}");
        assert!(!out.exists(), "{script}");
    }
}

#[test]
fn a_store_outage_mid_way_stops_the_export_and_resume_finishes_it() {
    let (prepared, private) = with_accounts(
        exporting(&slow_list_users("0.05"))
            .connection("[connections.main.pool]\nacquire_timeout_ms = 1000"),
        200,
        false,
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("users.json");
    let args = [
        "main",
        "--format",
        "auth0",
        "--out",
        out.to_str().unwrap(),
        "--page-size",
        "5",
    ];
    let state = dir.path().join("users.json.state");
    let child = under_way(&prepared.config, &args, &state);
    private.stop();
    let done = child.wait_with_output().unwrap();
    assert_eq!(done.status.code(), Some(1), "{}", text(&done.stderr));
    assert!(state.exists());
    private.restart();
    let mut resumed = args.to_vec();
    resumed.push("--resume");
    let run = export(&prepared.config, &resumed);
    assert_eq!(run.status.code(), Some(3), "{}", text(&run.stderr));
    let parts = files(&out);
    assert_eq!(parts.len(), 1, "{parts:?}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&parts[0]).unwrap()).unwrap();
    let ids = ids_in("auth0", &doc);
    let expected: Vec<String> = (1..=200).map(|i| i.to_string()).collect();
    assert_eq!(ids, expected, "every user once, in order");
}

#[test]
fn a_write_failure_mid_way_stops_the_export_and_resume_finishes_it() {
    // The pages are written on a thread of their own while the script lists
    // the next: a write that fails there must still stop the export with
    // exit 1, keep what was written, and let --resume finish the walk.
    let (prepared, _private) = with_accounts(exporting(LIST_USERS), 40, false);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("users.json");
    // The third part cannot be created: a directory stands in its way
    // (--overwrite removes files only).
    let blocker = dir.path().join("users-0003.json.partial");
    std::fs::create_dir(&blocker).unwrap();
    let mut args = vec![
        "main",
        "--format",
        "auth0",
        "--out",
        out.to_str().unwrap(),
        "--page-size",
        "5",
        "--max-file-users",
        "5",
    ];
    let mut first = args.clone();
    first.push("--overwrite");
    let run = export(&prepared.config, &first);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("export stopped: writing the export"),
        "{stderr}"
    );
    let last = stderr.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("export: 10 users in") && last.contains("10 written"),
        "the summary counts the two pages written before the failure, nothing after: {stderr}"
    );
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("users.json.state")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["cursor"], json!(10), "{state}");

    std::fs::remove_dir(&blocker).unwrap();
    args.push("--resume");
    let run = export(&prepared.config, &args);
    assert_eq!(run.status.code(), Some(3), "{}", text(&run.stderr));
    assert_eq!(files(&out).len(), 8, "{:?}", files(&out));
    let ids = ids_in_parts("auth0", &out);
    let expected: Vec<String> = (1..=40).map(|i| i.to_string()).collect();
    assert_eq!(ids, expected, "every user once, in order");
    // No user has a hash: each is in the report once, the failed page's
    // lines cut away by --resume.
    let report = std::fs::read_to_string(dir.path().join("users.json.report.jsonl")).unwrap();
    let reported: Vec<String> = report
        .lines()
        .map(|l| {
            let line: Value = serde_json::from_str(l).unwrap();
            line["user_id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(reported, expected, "{report}");
}

#[test]
fn sigterm_finishes_the_page_being_written_and_resume_finishes_the_export() {
    let (prepared, _private) = with_accounts(exporting(&slow_list_users("0.03")), 200, false);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("users.json");
    let report = dir.path().join("problems.jsonl");
    let mut args = vec![
        "main",
        "--format",
        "auth0",
        "--out",
        out.to_str().unwrap(),
        "--page-size",
        "5",
    ];
    let first: Vec<&str> = args
        .iter()
        .copied()
        .chain(["--report", report.to_str().unwrap()])
        .collect();
    let state = dir.path().join("users.json.state");
    let child = under_way(&prepared.config, &first, &state);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let done = child.wait_with_output().unwrap();
    let stderr = text(&done.stderr);
    assert_eq!(done.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("export stopped: interrupted"), "{stderr}");
    // the summary, last, counts what the state holds: whole pages
    let saved_text = std::fs::read_to_string(&state).unwrap();
    assert!(
        !saved_text.contains("@example.com"),
        "no profile data in the state: {saved_text}"
    );
    let saved: Value = serde_json::from_str(&saved_text).unwrap();
    let listed = saved["listed"].as_u64().unwrap();
    #[cfg(unix)]
    {
        // the part being written, as every output file, is the owner's only
        use std::os::unix::fs::PermissionsExt;
        let partial = dir.path().join("users-0001.json.partial");
        let mode = std::fs::metadata(&partial).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert!(listed < 200 && listed.is_multiple_of(5), "{saved}");
    assert_eq!(saved["cursor"], json!(listed), "{saved}");
    let last = stderr.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!("export: {listed} users in")),
        "{stderr}"
    );

    args.push("--resume");
    // A resume naming another report is refused, that file left alone:
    // it would be cut to the recorded length.
    let other = dir.path().join("important.txt");
    std::fs::write(&other, "x\n".repeat(20_000)).unwrap();
    let elsewhere: Vec<&str> = args
        .iter()
        .copied()
        .chain(["--report", other.to_str().unwrap()])
        .collect();
    let run = export(&prepared.config, &elsewhere);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("problems.jsonl"), "{stderr}");
    assert_eq!(std::fs::read(&other).unwrap().len(), 40_000);
    // another name of the same file is that file: the resume continues
    // the report it recorded
    std::fs::create_dir_all(dir.path().join("sub")).unwrap();
    let same = dir.path().join("sub/../problems.jsonl");
    let args: Vec<&str> = args
        .iter()
        .copied()
        .chain(["--report", same.to_str().unwrap()])
        .collect();
    let run = export(&prepared.config, &args);
    assert_eq!(run.status.code(), Some(3), "{}", text(&run.stderr));
    let ids = ids_in_parts("auth0", &out);
    let expected: Vec<String> = (1..=200).map(|i| i.to_string()).collect();
    assert_eq!(ids, expected, "every user once, in order");
    let lines = std::fs::read_to_string(&report).unwrap();
    assert_eq!(
        lines.lines().count(),
        200,
        "no hashes: each user reported once"
    );
    assert!(!dir.path().join("users.json.report.jsonl").exists());
}

#[test]
fn an_earlier_exports_parts_block_a_new_export_and_overwrite_removes_them() {
    let prepared = exporting(LIST_USERS).prepare();
    let private = prepared.on_private_server(SCHEMA);
    private.sql(
        Some(&prepared.database),
        "INSERT INTO accounts (id, email) VALUES (1, 'a@example.com'), (2, 'b@example.com');",
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("users.json");
    let run_as = |format: &str, more: &[&str]| {
        let mut args = vec!["main", "--format", format, "--out", out.to_str().unwrap()];
        args.extend_from_slice(more);
        export(&prepared.config, &args)
    };
    // Kratos splits (1,000 users a file): users-0001.json
    let run = run_as("kratos", &[]);
    assert_eq!(run.status.code(), Some(3), "{}", text(&run.stderr));
    let part = dir.path().join("users-0001.json");
    assert!(part.exists());
    // Okta does not split, but the earlier parts are still that export's
    // (the earlier report removed, so that the parts alone stand in the way)
    std::fs::remove_file(dir.path().join("users.json.report.jsonl")).unwrap();
    let run = run_as("okta", &[]);
    exited(&run, 2, "users-0001.json");
    // a file past a gap in the numbers is not a part of it
    let yours = dir.path().join("users-2024.json");
    std::fs::write(&yours, "[]").unwrap();
    let run = run_as("okta", &["--overwrite"]);
    assert_eq!(run.status.code(), Some(3), "{}", text(&run.stderr));
    assert!(!part.exists(), "the earlier export's part is removed");
    assert!(yours.exists(), "a file that is no part stays");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(ids_in("okta", &doc), ["1", "2"]);
}

#[test]
fn odd_blocked_values_are_refused_and_every_field_left_out_is_told_once() {
    let script = r#"
fn list_users(after, limit) {
    if after != () { return []; }
    [
        #{ user_id: 1, email: "a@example.com", blocked: true },
        #{ user_id: 2, email: "b@example.com", blocked: 0, shoe_size: 42 },
        #{ user_id: 3, email: "c@example.com", blocked: "yes" },
        #{ user_id: 4, email: "d@example.com", blocked: 2, hat: "red" },
        #{ user_id: 5, email: "e@example.com", blocked: (), shoe_size: 40 },
        #{ user_id: 6, email: "f@example.com", nickname: "$2y$05$q71v/Wnu9brUlx1vKt7cgu2voAnulafbkNBND1JMvCYRg7CB8QlKu" },
        #{ user_id: 7, email: "g@example.com", nickname: "$2y$05$q71v/Wnu9brUlx1vKt7cgu2voAnulafbkNBND1JMvCYRg7CB8QlKu" },
        #{ user_id: 8, email: "$2y$05$q71v/Wnu9brUlx1vKt7cgu2voAnulafbkNBND1JMvCYRg7CB8QlKu", blocked: "no" },
    ]
}
"#;
    let prepared = exporting(script).prepare();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("users.json");
    let run = export(
        &prepared.config,
        &["main", "--format", "auth0", "--out", out.to_str().unwrap()],
    );
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{stderr}");
    // one line, naming the fields of every map, not only the first's
    let told: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("fields not exported"))
        .collect();
    assert_eq!(told.len(), 1, "{stderr}");
    assert!(told[0].ends_with(": hat, shoe_size"), "{stderr}");
    let parts = files(&out);
    assert_eq!(parts.len(), 1, "{parts:?}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&parts[0]).unwrap()).unwrap();
    assert_eq!(ids_in("auth0", &doc), ["1", "2", "5", "6", "7"]);
    // a hash-shaped value is dropped as serve drops it, warned once
    assert!(doc[3].get("nickname").is_none(), "{doc}");
    let warned = stderr
        .lines()
        .filter(|l| l.contains("field left out of the profile") && l.contains("nickname"))
        .count();
    assert_eq!(warned, 1, "{stderr}");
    assert!(
        !stderr.contains("CYRg7CB8QlKu"),
        "no hash on standard error: {stderr}"
    );
    assert_eq!(doc[0]["blocked"], json!(true));
    assert!(doc[1].get("blocked").is_none() && doc[2].get("blocked").is_none());
    let report = std::fs::read_to_string(dir.path().join("users.json.report.jsonl")).unwrap();
    assert!(
        !report.contains("CYRg7CB8QlKu"),
        "no hash in the report: {report}"
    );
    for id in ["3", "4", "8"] {
        let line = report
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|l| l["user_id"] == id)
            .unwrap_or_else(|| panic!("{id} not in {report}"));
        assert_eq!(line["reason"], "invalid_profile", "{line}");
        assert_eq!(line["exported"], false, "{line}");
        assert!(
            line["detail"].as_str().unwrap().contains("blocked"),
            "{line}"
        );
    }
}

#[test]
fn file_and_report_options_work_as_given() {
    let (prepared, _private) = with_accounts(exporting(LIST_USERS), 30, true);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("users.json");
    let o = out.to_str().unwrap();
    let report = dir.path().join("elsewhere/problems.jsonl");
    std::fs::create_dir_all(report.parent().unwrap()).unwrap();

    // a page size past 10,000 is bad usage
    let run = export(
        &prepared.config,
        &[
            "main",
            "--format",
            "auth0",
            "--out",
            o,
            "--page-size",
            "10001",
        ],
    );
    assert_eq!(run.status.code(), Some(2), "{}", text(&run.stderr));

    // parts cut before 2,000 bytes, a user never split; the report where asked
    let run = export(
        &prepared.config,
        &[
            "main",
            "--format",
            "auth0",
            "--out",
            o,
            "--max-file-bytes",
            "2000",
            "--report",
            report.to_str().unwrap(),
            "--page-size",
            "4",
        ],
    );
    assert_eq!(run.status.code(), Some(3), "{}", text(&run.stderr));
    let parts = files(&out);
    assert!(parts.len() > 2, "{parts:?}");
    let mut ids = Vec::new();
    for part in &parts {
        let bytes = std::fs::read(part).unwrap();
        assert!(
            bytes.len() <= 2000,
            "{}: {} bytes",
            part.display(),
            bytes.len()
        );
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        ids.extend(ids_in("auth0", &doc));
    }
    let expected: Vec<String> = (1..=30).map(|i| i.to_string()).collect();
    assert_eq!(ids, expected);
    assert!(!dir.path().join("users.json.report.jsonl").exists());
    let lines = std::fs::read_to_string(&report).unwrap();
    assert_eq!(lines.lines().count(), 30, "no hashes: each user reported");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&report).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    // Kratos: the schema id and the migration hook from the command line
    let kratos = dir.path().join("kratos.json");
    let run = export(
        &prepared.config,
        &[
            "main",
            "--format",
            "kratos",
            "--out",
            kratos.to_str().unwrap(),
            "--kratos-schema-id",
            "customer",
            "--kratos-migration-hook",
        ],
    );
    assert_eq!(run.status.code(), Some(3), "{}", text(&run.stderr));
    let parts = files(&kratos);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&parts[0]).unwrap()).unwrap();
    let first = &doc["identities"][0]["create"];
    assert_eq!(first["schema_id"], "customer", "{first}");
    assert_eq!(
        first["credentials"]["password"]["config"]["use_password_migration_hook"], true,
        "{first}"
    );
}

#[test]
fn check_names_a_list_users_or_count_users_of_the_wrong_shape() {
    let prepared = builder()
        .bare()
        .script("login", LOGIN)
        .script(
            "list_users",
            "fn list_users(after) { [] }\nfn count_users(x) { 1 }",
        )
        .prepare();
    let out = Command::new(env!("CARGO_BIN_EXE_customdb"))
        .arg("--config")
        .arg(&prepared.config)
        .arg("check")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = text(&out.stdout);
    assert!(
        said.contains("list_users.rhai:1:1: fn list_users takes 2 parameters, not 1"),
        "{said}"
    );
    assert!(
        said.contains("list_users.rhai:2:1: fn count_users takes no parameters, not 1"),
        "{said}"
    );
}

#[test]
fn a_full_default_page_fits_the_map_and_string_limits_which_count_per_user() {
    // 1,000 users of 11 entries each: 11,000 map entries in one page, past
    // the default max_map_entries of 10,000 that one script value may hold;
    // and some 30 KB of text, past a max_string_bytes of 2,000 that one
    // user's text fits in
    let (prepared, _private) = with_accounts(
        exporting(LIST_USERS).connection("max_string_bytes = 2000"),
        1000,
        true,
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("users.json");
    let run = export(
        &prepared.config,
        &["main", "--format", "okta", "--out", out.to_str().unwrap()],
    );
    assert_eq!(run.status.code(), Some(3), "{}", text(&run.stderr));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(ids_in("okta", &doc).len(), 1000);
}

#[test]
fn a_hash_a_script_prints_or_throws_stays_off_standard_error() {
    let bcrypt = "$2y$05$BrTyryabcdefghijklmnopuJ8F2nM1vMv1jJ4XkR1hEJ3C5yVdS2G";
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("users.json");
    let o = out.to_str().unwrap();
    let script = format!(
        r#"fn list_users(after, limit) {{
            let h = "{bcrypt}";
            print("row hash " + h);
            debug(#{{ pw_hash: h }});
            throw "bad row, hash was " + h;
        }}"#
    );
    let prepared = exporting(&script).prepare();
    let run = export(&prepared.config, &["main", "--format", "okta", "--out", o]);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("BrTyry"), "{stderr}");
    assert!(stderr.contains("not shown under export"), "{stderr}");
    assert!(text(&run.stdout).is_empty());
}

/// A kill between the first state and the report's creation leaves a
/// state and no report: `--resume` takes it (the state records an empty
/// report), where it once refused it, as a new run refused the report.
/// Without `--report`, the resume goes on with the report the state names.
#[test]
fn a_state_whose_empty_report_is_missing_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("users.json");
    let report = dir.path().join("problems.jsonl");
    let prepared = exporting("fn list_users(after, limit) { throw \"not yet\"; }").prepare();
    let mut args = vec!["main", "--format", "okta", "--out", out.to_str().unwrap()];
    let first: Vec<&str> = args
        .iter()
        .copied()
        .chain(["--report", report.to_str().unwrap()])
        .collect();
    let run = export(&prepared.config, &first);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    std::fs::remove_file(&report).unwrap();
    args.push("--resume");
    let run = export(&prepared.config, &args);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("list_users failed"), "{stderr}");
    assert!(report.exists());
    assert!(!dir.path().join("users.json.report.jsonl").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&report).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

/// A `user_id` of `()` (a NULL column) beside `id` is absent, as in a
/// profile.
#[test]
fn a_unit_user_id_beside_id_is_absent() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("users.json");
    let prepared = exporting(
        "fn list_users(after, limit) { if after == () { [#{ id: 8, user_id: (), email: \"y@x.io\" }] } else { [] } }",
    )
    .prepare();
    let run = export(
        &prepared.config,
        &["main", "--format", "auth0", "--out", out.to_str().unwrap()],
    );
    assert_eq!(run.status.code(), Some(3), "{}", text(&run.stderr));
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&files(&out)[0]).unwrap()).unwrap();
    assert_eq!(ids_in("auth0", &doc), ["8"]);
}

/// A salt, an HMAC key or a bare hex digest has no shape to find: under
/// export, what a script prints or throws is left out whole, while the
/// host's own errors (a query the store refuses) are still told.
#[test]
fn a_salt_key_or_digest_a_script_prints_or_throws_stays_off_standard_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    for (script, told) in [
        (
            r#"fn list_users(after, limit) {
                let d = #{ algorithm: "sha1", value: "5f4dcc3b5aa765d61d8327deb882cf99",
                           salt: "s4lt-6a1f", key: "k3y-secret-93" };
                print("digest " + d.value + " salt " + d.salt);
                debug(d);
                throw "bad digest " + d.value + " key " + d.key;
            }"#,
            "threw a value",
        ),
        (
            r#"fn list_users(after, limit) {
                throw ValidationError("bad_row", "salt s4lt-6a1f");
            }"#,
            "threw a value",
        ),
        // Rhai's own error quotes the text it could not parse
        (
            r#"fn list_users(after, limit) {
                let salt = "s4lt-6a1f";
                parse_int(salt, 16)
            }"#,
            "quotes its values",
        ),
    ] {
        let prepared = exporting(script).prepare();
        let run = export(
            &prepared.config,
            &[
                "main",
                "--format",
                "auth0",
                "--out",
                &o("users.json"),
                "--overwrite",
            ],
        );
        let stderr = text(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{stderr}");
        for secret in ["5f4dcc3b", "s4lt-6a1f", "k3y-secret"] {
            assert!(!stderr.contains(secret), "{secret}: {stderr}");
        }
        assert!(stderr.contains(told), "{stderr}");
    }
    // The host's errors are still told, without what the store's message
    // quotes: the script may have made its SQL of a digest.
    let prepared = exporting(
        r#"fn list_users(after, limit) {
            let d = #{ algorithm: "md5", value: "3890cb1a3114350acbed9fcc43e8e0d6" };
            db::query("SELECT `" + d.value + "`", [])
        }"#,
    )
    .prepare();
    let run = export(
        &prepared.config,
        &["main", "--format", "auth0", "--out", &o("other.json")],
    );
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("store error 1054"), "{stderr}");
    assert!(stderr.contains("Unknown column …"), "{stderr}");
    assert!(!stderr.contains("3890cb1a"), "{stderr}");
}
