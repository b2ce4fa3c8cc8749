//! Building the application from settings: every connection opened (scripts
//! compiled, pool made), the listener bound (port 0 allowed, so tests can
//! read the port back), and serving until a shutdown signal.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::connection::{Admission, Connection};
use crate::http::{self, AppState};
use crate::script::Problem;
use crate::settings::Settings;

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("connection `{connection}`: its scripts do not load:\n{}", list(.problems))]
    Scripts {
        connection: String,
        problems: Vec<Problem>,
    },
    #[error("{0}")]
    Tls(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

enum Listening {
    Plain(TcpListener),
    Tls(crate::tls::TlsListener),
}

pub struct Application {
    listener: Listening,
    state: AppState,
    max_body_bytes: usize,
    source: Option<std::path::PathBuf>,
}

impl Application {
    /// Opens every connection and binds the listener. Must be called inside
    /// the Tokio runtime that will serve.
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        let admission = Admission::new(settings.http.max_waiting_scripts);
        let mut connections = BTreeMap::new();
        for (name, conn) in settings.connections {
            let opened = Connection::open(conn, admission.clone()).map_err(|problems| {
                StartError::Scripts {
                    connection: name.clone(),
                    problems,
                }
            })?;
            opened.prepare_dummy_hash();
            connections.insert(name, Arc::new(opened));
        }
        let addr = settings.http.listen_addr()?;
        let acceptor = match (&settings.http.tls_cert, &settings.http.tls_key) {
            (Some(cert), Some(key)) => {
                Some(crate::tls::acceptor(cert, key).map_err(StartError::Tls)?)
            }
            _ => None,
        };
        let bind_error = |source| StartError::Bind {
            addr: settings.http.listen.clone(),
            source,
        };
        let tcp = TcpListener::bind(addr).await.map_err(bind_error)?;
        let listener = match acceptor {
            Some(acceptor) => {
                Listening::Tls(crate::tls::TlsListener::new(tcp, acceptor).map_err(bind_error)?)
            }
            None => Listening::Plain(tcp),
        };
        Ok(Application {
            listener,
            state: AppState::new(connections, settings.http.api_tokens, settings.http.metrics),
            max_body_bytes: settings.http.max_body_bytes,
            source: settings.source,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        use axum::serve::Listener;
        match &self.listener {
            Listening::Plain(l) => l.local_addr(),
            Listening::Tls(l) => l.local_addr(),
        }
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Serves until `shutdown` completes, then lets requests in flight
    /// finish and closes the pools.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        crate::reload::start(self.state.clone(), self.source.clone());
        let router = http::router(self.state.clone(), self.max_body_bytes);
        let served = match self.listener {
            Listening::Plain(l) => {
                tracing::info!("listening on {} (http)", l.local_addr()?);
                axum::serve(l, router)
                    .with_graceful_shutdown(shutdown)
                    .await
            }
            Listening::Tls(l) => {
                tracing::info!(
                    "listening on {} (https)",
                    axum::serve::Listener::local_addr(&l)?
                );
                axum::serve(l, router)
                    .with_graceful_shutdown(shutdown)
                    .await
            }
        };
        for c in self.state.connections() {
            c.store.close().await;
        }
        served
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
