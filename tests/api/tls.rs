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
