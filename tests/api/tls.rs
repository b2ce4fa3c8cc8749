//! HTTPS on the listener.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

use crate::helpers::{builder, make_certs, TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_speaks_https_when_cert_and_key_are_set() {
    let dir = tempfile::tempdir().unwrap();
    let certs = make_certs(dir.path());
    let app = builder()
        .http(&format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"",
            certs.cert.display(),
            certs.key.display()
        ))
        .spawn()
        .await;

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&certs.ca).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let body = r#"{"username_or_email":"jane","password":"correct horse battery staple"}"#;
    let tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("a TLS handshake with a certificate our CA signed");
    let request = format!(
        "POST /v1/connections/main/login HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await.ok();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("\"email\":\"jane.doe@example.com\""),
        "{answer}"
    );

    // plain HTTP on the HTTPS port gets no HTTP answer
    let plain = reqwest::Client::new()
        .get(format!("http://{}/healthz", app.addr))
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");
    // and a client that does not trust the certificate is refused
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let refused = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await;
    assert!(refused.is_err());
    // the server still serves after those
    let tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    assert!(connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .is_ok());
}

#[test]
fn unreadable_certificates_stop_the_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let prepared = builder()
        .http(&format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"",
            garbage.display(),
            garbage.display()
        ))
        .prepare();
    let mut process = crate::helpers::Process::start(&prepared.config, &["serve"], &[]);
    assert_eq!(process.wait(), Some(2));
    assert!(process.log().contains("http.tls_cert"), "{}", process.log());
    let prepared = builder().http("tls_cert = \"cert.pem\"").prepare();
    let mut process = crate::helpers::Process::start(&prepared.config, &["serve"], &[]);
    assert_eq!(process.wait(), Some(2));
    assert!(process.log().contains("set both"), "{}", process.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_the_store_verified_against_tls_ca() {
    let dir = tempfile::tempdir().unwrap();
    let certs = make_certs(dir.path());
    let server = crate::helpers::MariaDb::start_with(vec![
        format!("--ssl-ca={}", certs.ca.display()),
        format!("--ssl-cert={}", certs.cert.display()),
        format!("--ssl-key={}", certs.key.display()),
    ]);
    for host in ["%", "localhost"] {
        server.sql(
            None,
            &format!("CREATE USER 'tlsonly'@'{host}' IDENTIFIED BY 'tls-pw' REQUIRE SSL; GRANT ALL ON *.* TO 'tlsonly'@'{host}';"),
        );
    }
    let prepared = builder().prepare();
    server.sql(None, &format!("CREATE DATABASE {}", prepared.database));
    server.sql(
        Some(&prepared.database),
        &std::fs::read_to_string(crate::helpers::repo().join("scripts/demo/schema.sql")).unwrap(),
    );
    let config = std::fs::read_to_string(&prepared.config).unwrap();
    let old_url = config
        .lines()
        .find(|l| l.starts_with("database_url"))
        .unwrap()
        .to_string();
    let url = |query: &str| {
        format!(
            "mysql://tlsonly:tls-pw@localhost:{}/{}?prefer_socket=false{query}",
            server.port, prepared.database
        )
    };

    // Serves the same connection with another `database_url` line.
    let serve_with = |line: String| {
        std::fs::write(&prepared.config, config.replace(&old_url, &line)).unwrap();
        let settings = customdb::Settings::load(Some(&prepared.config)).unwrap();
        async move {
            let app = customdb::Application::build(settings).await.unwrap();
            let addr = app.local_addr();
            tokio::spawn(app.run_until(tokio::sync::watch::channel(0u32).1));
            addr
        }
    };
    let client = reqwest::Client::new();
    let login = |addr: std::net::SocketAddr| {
        client
            .post(format!("http://{addr}/v1/connections/main/login"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({"username_or_email": "jane", "password": "correct horse battery staple"}))
            .send()
    };

    // verified against the CA: it works, over TLS
    let addr = serve_with(format!(
        "database_url = \"{}\"\ntls_ca = \"{}\"",
        url(""),
        certs.ca.display()
    ))
    .await;
    let a = login(addr).await.unwrap();
    assert_eq!(a.status(), 200, "{:?}", a.text().await);
    let held = server.sql(
        None,
        "SELECT COUNT(*) FROM information_schema.processlist WHERE user = 'tlsonly'",
    );
    assert_ne!(
        held, "0",
        "the pool holds a connection of the TLS-only user"
    );

    // TLS required, but the server's certificate is not trusted: 503
    let addr = serve_with(format!("database_url = \"{}\"", url("&require_ssl=true"))).await;
    assert_eq!(login(addr).await.unwrap().status(), 503);

    // no TLS at all: the server refuses the user, 503
    let addr = serve_with(format!("database_url = \"{}\"", url(""))).await;
    assert_eq!(login(addr).await.unwrap().status(), 503);

    // TLS required and no tls_ca: the system's roots are trusted, here
    // the CA given as the system's bundle (SSL_CERT_FILE), in a process of
    // its own so that the setting stays there
    std::fs::write(
        &prepared.config,
        config.replace(
            &old_url,
            &format!("database_url = \"{}\"", url("&require_ssl=true")),
        ),
    )
    .unwrap();
    // the bundle also holds a block no root store takes: it is left out
    // (with a warning) rather than failing every connection
    let bundle = dir.path().join("bundle.pem");
    std::fs::write(
        &bundle,
        format!(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n{}",
            std::fs::read_to_string(&certs.ca).unwrap()
        ),
    )
    .unwrap();
    let ca = bundle.display().to_string();
    let process = crate::helpers::Process::serve(&prepared.config, &[("SSL_CERT_FILE", &ca)]);
    let answer = crate::helpers::raw_post(
        process.addr,
        "/v1/connections/main/login",
        TOKEN,
        r#"{"username_or_email":"jane","password":"correct horse battery staple"}"#,
    );
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "{answer}\n{}",
        process.log()
    );
    let log = process.log();
    assert!(log.contains("left out of TLS to the store"), "{log}");
}
