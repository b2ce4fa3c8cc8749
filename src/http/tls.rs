//! HTTPS on the listener (rustls with the ring provider): certificates from
//! PEM files, each handshake on a task of its own with a time limit, so that
//! a slow or broken client cannot hold up the others.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::closing::Closing;

/// The longest a client may take over its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the acceptor from a certificate chain and a private key in PEM.
/// Errors name the file, never its content.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|_| {
            format!(
                "http.tls_cert: no PEM certificate could be read from {}",
                cert.display()
            )
        })?;
    if certs.is_empty() {
        return Err(format!(
            "http.tls_cert: {} holds no certificate",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|_| {
        format!(
            "http.tls_key: no PEM private key could be read from {}",
            key.display()
        )
    })?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|e| format!("http.tls_cert / http.tls_key: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A listener that answers connections whose TLS handshake completed.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    /// Connections accepted and not yet handed to the server: in their
    /// handshake, or waiting in `ready`. The drain waits for none.
    pending: Arc<AtomicUsize>,
}

impl TlsListener {
    pub fn new(mut tcp: Closing, acceptor: TlsAcceptor) -> io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let pending = Arc::new(AtomicUsize::new(0));
        let counted = pending.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = tcp.next() => match accepted {
                        Some(accepted) => accepted,
                        // closed, its backlog taken
                        None => return,
                    },
                    // The server stopped: stop accepting, free the port.
                    () = tx.closed() => return,
                };
                let (stream, addr) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (acceptor, tx, pending) = (acceptor.clone(), tx.clone(), counted.clone());
                pending.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        // counted down when the server takes it
                        Ok(Ok(tls)) => {
                            if tx.send((tls, addr)).await.is_ok() {
                                return;
                            }
                        }
                        Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                    }
                    pending.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Ok(TlsListener {
            ready,
            local,
            pending,
        })
    }

    /// The count of connections accepted and not yet handed over.
    pub fn pending(&self) -> Arc<AtomicUsize> {
        self.pending.clone()
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(pair) => {
                self.pending.fetch_sub(1, Ordering::SeqCst);
                pair
            }
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}
