//! Masking hides the secret and nothing else: long secrets wherever they
//! appear, short ones only as whole tokens, public configuration never; a
//! short secret configuration value is warned about at start-up.

use serde_json::{json, Value};

use crate::helpers::{builder, raw_post, Process, TOKEN};

/// The JSON body of a raw HTTP answer.
fn body(answer: &str) -> Value {
    let text = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(text).unwrap_or(Value::Null)
}

#[test]
fn short_secrets_are_masked_only_as_whole_tokens_and_public_values_never() {
    let prepared = builder()
        .script(
            "login",
            r#"fn login(u, p) {
                if u == "divide" { let x = 1 / 0; }
                if u == "echo" { throw UnauthorizedError(`wrong: ${p}.`); }
                if u == "rule" {
                    throw ValidationError("password_too_short", `Use at least 10 characters (min ${configuration::MIN}).`);
                }
                if u == "prefix" {
                    throw UnauthorizedError(`table ${configuration::TABLE_PREFIX}users, prefix ${configuration::TABLE_PREFIX}`);
                }
                if u == "long" { throw UnauthorizedError(`x${configuration::PEPPER}y`); }
                if u == "accent" { throw UnauthorizedError("e\u0301tude, o\u0301 e"); }
                if u == "keyed" { let m = #{ id: 1 }; m[`pre-${p}`] = 0.0 / 0.0; return m; }
                if u == "code" { throw ValidationError(p, "m"); }
                if u == "code_password_too_short" { throw ValidationError("password_too_short", "longer"); }
                throw UnauthorizedError("Your account is locked.");
            }"#,
        )
        .connection(
            "public_configuration = [\"TABLE_PREFIX\"]\n\
             [connections.main.configuration]\nMIN = \"1\"\nTABLE_PREFIX = \"wp_\"\nPEPPER = \"pepper-5ecret\"",
        )
        .prepare();
    let server = Process::serve(&prepared.config, &[]);
    let login = |user: &str, password: &str| {
        body(&raw_post(
            server.addr,
            "/v1/connections/main/login",
            TOKEN,
            &json!({"username_or_email": user, "password": password}).to_string(),
        ))
    };

    // The password `o` is in "Your account is locked", but not as a word.
    let answer = login("locked", "o");
    assert_eq!(answer["message"], "Your account is locked.", "{answer}");
    // As a whole word, it is masked, and the text around it kept.
    let answer = login("echo", "o");
    assert_eq!(answer["message"], "wrong: [redacted].", "{answer}");
    // The secret configuration value `1` inside "10" stays; alone it goes.
    let answer = login("rule", "pw");
    assert_eq!(
        answer["message"], "Use at least 10 characters (min [redacted]).",
        "{answer}"
    );
    // A public configuration value is never masked.
    let answer = login("prefix", "pw");
    assert_eq!(answer["message"], "table wp_users, prefix wp_", "{answer}");
    // A secret of 8 characters or more is masked wherever it stands.
    let answer = login("long", "pw");
    assert_eq!(answer["message"], "x[redacted]y", "{answer}");
    // `e` and a combining accent are one character, é, not the password `e`.
    let answer = login("accent", "e");
    assert_eq!(
        answer["message"], "e\u{301}tude, o\u{301} [redacted]",
        "{answer}"
    );
    // The host's own messages name what the script made, masked too: a
    // field's name, a ValidationError's code.
    let answer = login("keyed", "pw");
    assert_eq!(answer["error"], "invalid_profile", "{answer}");
    let message = answer["message"].as_str().unwrap();
    assert!(message.contains("pre-[redacted]"), "{answer}");
    let answer = login("code", "sup3rsecretpw");
    assert_eq!(answer["error"], "script_error", "{answer}");
    // a code that only holds the password's word is a rule's name
    let answer = login("code_password_too_short", "password");
    assert_eq!(answer["error"], "password_too_short", "{answer}");
    // a key that holds a long password is left out before anything else
    let answer = login("keyed", "sup3rsecretpw");
    assert_eq!(answer["user"]["user_id"], "1", "{answer}");
    assert!(!answer.to_string().contains("sup3rsecretpw"), "{answer}");

    // The log: the division error keeps its words with the password `y`.
    login("divide", "y");
    let log = server.log_with("Division by zero");
    assert!(!log.contains("sup3rsecretpw"), "{log}");
    assert!(log.contains("Division by zero"), "{log}");
    assert!(!log.contains("b[redacted]"), "{log}");
    // The start-up warning names the short secret's key, not its value,
    // and says nothing of the public one.
    let warning = log
        .lines()
        .find(|l| l.contains("`MIN`"))
        .unwrap_or_else(|| panic!("no warning about MIN: {log}"));
    assert!(warning.contains("shorter than 8"), "{warning}");
    assert!(!log.contains("`TABLE_PREFIX` is shorter"), "{log}");
    assert!(!log.contains("`PEPPER` is shorter"), "{log}");
}

#[test]
fn public_configuration_must_name_configuration_keys() {
    let prepared = builder()
        .connection(
            "public_configuration = [\"TABLE_PREFX\"]\n\
             [connections.main.configuration]\nTABLE_PREFIX = \"wp_\"",
        )
        .prepare();
    let mut process = Process::start(&prepared.config, &["check"], &[]);
    assert_eq!(process.wait(), Some(2));
    let log = process.log();
    assert!(
        log.contains("connections.main.public_configuration") && log.contains("TABLE_PREFX"),
        "{log}"
    );
}

#[test]
fn escaped_secrets_are_masked_in_logs_and_messages() {
    let prepared = builder()
        .script(
            "login",
            r#"fn login(u, p) {
                print(#{ pw: p });
                debug(p);
                debug(configuration::QUOTED);
                print(json::stringify(#{ password: p }));
                if u == "throw" { throw #{ pw: p }; }
                throw UnauthorizedError(`no: ${to_debug(p)} ${json::stringify([configuration::QUOTED])}`);
            }"#,
        )
        .connection("[connections.main.configuration]\nQUOTED = 'ab\"cd\\efgh12'")
        .prepare();
    let server = Process::serve(&prepared.config, &[]);
    // a tab, a quote and a backslash: each escaped in a debug print or JSON
    let password = "tab\tQuote\"Pass\\word";
    let login = |user: &str| {
        raw_post(
            server.addr,
            "/v1/connections/main/login",
            TOKEN,
            &json!({"username_or_email": user, "password": password}).to_string(),
        )
    };
    let refused = login("jane@example.com");
    assert_eq!(
        body(&refused)["message"],
        "no: \"[redacted]\" [\"[redacted]\"]",
        "{refused}"
    );
    let answer = login("throw");
    assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
    let log = server.log_with(body(&answer)["request_id"].as_str().unwrap());
    for part in ["Quote", "Pass", "efgh12"] {
        assert!(!log.contains(part), "{part} in the log: {log}");
        assert!(!answer.contains(part), "{part} in the answer: {answer}");
        assert!(!refused.contains(part), "{part} in the answer: {refused}");
    }
    assert!(log.matches("[redacted]").count() >= 8, "{log}");
}

/// No answer carries a password, a hash or a secret (http-api.md): below
/// the standard fields, at any depth, a field named `password`, a string
/// shaped as a hash, and a string that is the request's password or a
/// secret configuration value (8 characters or more) are left out, each
/// with a warning naming its place. Other values, a short enum equal to a
/// short password among them, pass as the script gave them.
#[test]
fn a_profile_carries_no_password_hash_or_secret_at_any_depth() {
    let bcrypt = "$2b$10$Wa/Qas3cAcaRpNxqgBnwees/dvqAswyPiG0rMzqLZnyLqAuWj/gWK";
    let prepared = builder()
        .script(
            "login",
            &format!(
                r#"fn login(u, p) {{
                    let h = "{bcrypt}";
                    let keyed = #{{}};
                    keyed[p] = 1;
                    keyed[configuration::PEPPER] = 2;
                    keyed["kept"] = 3;
                    keyed[h] = 4;
                    keyed["old:" + h] = 5;
                    keyed["old:" + h.sub_string(0, h.len() - 1)] = 6;
                    if u == "short" {{ return #{{ id: 1, plan: p, app_metadata: #{{ tier: p }} }}; }}
                    #{{ id: 1, email: u, pw: p, kept: 7, said: "mine is " + p,
                        got: #{{ Password: "x", email: u, deeper: [p, "ok", h], promo: "$5$ off", was: "old:" + h }},
                        keyed: keyed,
                        pepper: configuration::PEPPER,
                        user_metadata: #{{ echo: p, theme: "dark" }},
                        app_metadata: #{{ h: h, roles: ["admin", h] }} }}
                }}"#
            ),
        )
        .connection("[connections.main.configuration]\nPEPPER = \"pepper-5ecret\"")
        .prepare();
    let server = Process::serve(&prepared.config, &[]);
    let login = |user: &str, password: &str| {
        raw_post(
            server.addr,
            "/v1/connections/main/login",
            TOKEN,
            &json!({"username_or_email": user, "password": password}).to_string(),
        )
    };
    let answer = login("jane@example.com", "correct horse battery staple");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    for gone in ["correct horse", "pepper-5ecret", "Wa/Qas3c", "\"password\""] {
        assert!(!answer.contains(gone), "{gone} in the answer: {answer}");
    }
    let user = &body(&answer)["user"];
    assert_eq!(user["kept"], 7, "{answer}");
    assert_eq!(
        user["got"],
        json!({"email": "jane@example.com", "deeper": [null, "ok", null], "promo": "$5$ off"})
    );
    // a key made of a secret goes, with the entry it names
    assert_eq!(user["keyed"], json!({"kept": 3}), "{answer}");
    assert_eq!(user["user_metadata"], json!({"theme": "dark"}));
    assert_eq!(user["app_metadata"], json!({"roles": ["admin", null]}));
    for place in [
        "field=pw",
        "field=got.Password",
        "field=got.deeper[0]",
        "field=got.deeper[2]",
        "field=pepper",
        "field=user_metadata.echo",
        "field=app_metadata.h",
        "field=app_metadata.roles[1]",
        "field=keyed.[redacted]",
        "field=said",
        "field=got.was",
    ] {
        server.log_with(place);
    }
    // nor in a place's name: a legacy column keyed by its hash
    let log = server.log_with("field=keyed.");
    assert!(!log.contains("Wa/Qas3c"), "{log}");
    // a password under 8 characters cannot be told from an ordinary value
    let answer = login("short", "b");
    let user = &body(&answer)["user"];
    assert_eq!(user["plan"], "b", "{answer}");
    assert_eq!(user["app_metadata"], json!({"tier": "b"}));
}
