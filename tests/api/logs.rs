use std::io::Write;

use serde_json::json;

use crate::helpers::{builder, Process, TOKEN};

#[test]
fn a_printed_password_never_reaches_the_log() {
    let login = r#"
        fn login(u, p) {
            print(`login attempt for ${u} with password ${p}`);
            debug(`pepper is ${configuration::PEPPER}`);
            throw `failed with ${p}`;
        }
    "#;
    let prepared = builder()
        .bare()
        .script("login", login)
        .connection("[connections.main.configuration]\nPEPPER = \"pepper-marker-7731\"")
        .prepare();
    let server = Process::serve(&prepared.config, &[("RUST_LOG", "trace")]);
    let password = "pw-marker-9f8e7d";
    let body = json!({"username_or_email": "someone", "password": password}).to_string();
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    write!(
        stream,
        "POST /v1/connections/main/login HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nx-request-id: marker-req-1\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
    assert!(!answer.contains(password));
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = server.log();
    assert!(
        log.contains("login attempt for someone with password [redacted]"),
        "{log}"
    );
    assert!(log.contains("pepper is [redacted]"), "{log}");
    assert!(log.contains("marker-req-1"), "{log}");
    assert!(!log.contains(password), "{log}");
    assert!(!log.contains("pepper-marker-7731"), "{log}");
    assert!(!log.contains(TOKEN), "{log}");
}
