//! Building the application from settings: every connection opened (scripts
//! compiled), the listeners bound (port 0 allowed, so tests can read the port
//! back), and serving on the runtime threads until a shutdown signal.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

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

pub struct Application {
    /// One listener per runtime thread, all on the same address.
    listeners: Vec<std::net::TcpListener>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    addr: SocketAddr,
    state: AppState,
    max_body_bytes: usize,
    source: Option<std::path::PathBuf>,
    drain_delay: Duration,
    drain_timeout: Duration,
}

/// How a drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Every request in flight was answered.
    Clean,
    /// The drain timeout passed with this many requests still running (0:
    /// none, only the threads' own closing was left). The process must end
    /// now, which drops them: the threads are not waited for.
    TimedOut(usize),
}

impl Application {
    /// Loads every connection's scripts and binds the listeners: one
    /// `SO_REUSEPORT` socket per runtime thread, so that the kernel spreads
    /// the clients over the threads (one socket shared by the threads
    /// balanced badly). Nothing serves until [`Application::run_until`].
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        settings.http.require_token()?;
        let threads = settings.http.runtime_threads();
        let admission = Admission::new(settings.http.max_waiting_scripts);
        let mut connections = BTreeMap::new();
        for (name, conn) in settings.connections {
            let opened =
                Connection::open(conn, admission.clone(), threads).map_err(|problems| {
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
                Some(crate::http::tls::acceptor(cert, key).map_err(StartError::Tls)?)
            }
            _ => None,
        };
        let longest = connections
            .values()
            .map(|c| c.settings.tunables.script_timeout_ms)
            .max()
            .unwrap_or(0);
        if settings.http.drain_timeout_ms < longest {
            tracing::warn!(
                "http.drain_timeout_ms ({}) is below the longest script_timeout_ms ({longest}): \
                 a drain may cut scripts short",
                settings.http.drain_timeout_ms
            );
        }
        let listeners = bind(addr, threads).map_err(|source| StartError::Bind {
            addr: settings.http.listen.clone(),
            source,
        })?;
        let addr = listeners
            .first()
            .and_then(|l| l.local_addr().ok())
            .unwrap_or(addr);
        Ok(Application {
            listeners,
            acceptor,
            addr,
            state: AppState::new(connections, settings.http.api_tokens, settings.http.metrics),
            max_body_bytes: settings.http.max_body_bytes,
            source: settings.source,
            drain_delay: Duration::from_millis(settings.http.drain_delay_ms),
            drain_timeout: Duration::from_millis(settings.http.drain_timeout_ms),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until the first signal counted by `signals`, then drains:
    /// at once `/readyz` answers 503 and answers carry `Connection: close`
    /// while everything is still served; after the drain delay (or a second
    /// signal) the listeners close; requests in flight then have the drain
    /// timeout to finish before they are dropped. A `signals` whose sender
    /// is gone never signals. Reload (SIGHUP, watched folders) runs on the
    /// caller's runtime.
    pub async fn run_until(
        self,
        mut signals: tokio::sync::watch::Receiver<u32>,
    ) -> std::io::Result<Drained> {
        crate::reload::start(self.state.clone(), self.source.clone());
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut threads = Vec::new();
        for (n, listener) in self.listeners.into_iter().enumerate() {
            let (state, acceptor, stopped) =
                (self.state.clone(), self.acceptor.clone(), stopped.clone());
            let max_body_bytes = self.max_body_bytes;
            let thread = std::thread::Builder::new()
                .name(format!("customdb-{n}"))
                .spawn(move || serve_thread(listener, acceptor, state, max_body_bytes, stopped))?;
            threads.push(thread);
        }
        let scheme = if self.acceptor.is_some() {
            "https"
        } else {
            "http"
        };
        tracing::info!(
            threads = threads.len(),
            "listening on {} ({scheme})",
            self.addr
        );
        if signals.wait_for(|n| *n >= 1).await.is_err() {
            std::future::pending::<()>().await;
        }
        self.state.begin_drain();
        tracing::info!(
            "draining: /readyz answers 503; the listener closes in {} ms (a second signal closes it now)",
            self.drain_delay.as_millis()
        );
        tokio::select! {
            () = tokio::time::sleep(self.drain_delay) => {}
            _ = signals.wait_for(|n| *n >= 2) => {}
        }
        let _ = stop.send(true);
        tracing::info!(
            in_flight = self.state.in_flight(),
            "the listener is closed; finishing the requests in flight"
        );
        let joined = tokio::task::spawn_blocking(move || {
            threads
                .into_iter()
                .map(|t| {
                    t.join()
                        .unwrap_or_else(|_| Err(std::io::Error::other("a runtime thread panicked")))
                })
                .collect::<Vec<_>>()
        });
        match tokio::time::timeout(self.drain_timeout, joined).await {
            Ok(joined) => {
                let joined = joined.map_err(std::io::Error::other)?;
                joined.into_iter().collect::<std::io::Result<()>>()?;
                tracing::info!("drained: every request was answered");
                Ok(Drained::Clean)
            }
            Err(_) => {
                let cut = self.state.in_flight();
                // `cut` counts HTTP requests; script calls whose client
                // already left, and kills, may be running too.
                if cut > 0 {
                    tracing::error!(
                        cut,
                        "the drain timeout passed: dropping the requests still running (and script calls whose client left)"
                    );
                } else {
                    tracing::warn!(
                        "the drain timeout passed with no request running: exiting without waiting for the rest (script calls whose client left, connections still closing)"
                    );
                }
                // Their statements would otherwise run on in the store (and
                // hold its locks) after the process is gone.
                let kills = async {
                    for connection in self.state.connections() {
                        connection.kill_running().await;
                    }
                };
                if tokio::time::timeout(Duration::from_secs(1), kills)
                    .await
                    .is_err()
                {
                    tracing::warn!("not every running statement was killed within a second");
                }
                Ok(Drained::TimedOut(cut))
            }
        }
    }
}

/// `threads` listening sockets on `addr` with `SO_REUSEPORT`; for port 0,
/// the others take the port the first one got.
fn bind(addr: SocketAddr, threads: usize) -> std::io::Result<Vec<std::net::TcpListener>> {
    use socket2::{Domain, Protocol, Socket, Type};
    // SO_REUSEPORT would let a second server (another customdb, started by
    // mistake) share the port without a word: a plain bind first finds
    // anything listening there already.
    if addr.port() != 0 {
        // bound, never listening: no connection lands on it meanwhile
        let probe = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        probe.set_reuse_address(true)?;
        probe.bind(&addr.into())?;
    }
    let mut addr = addr;
    let mut listeners = Vec::with_capacity(threads);
    for _ in 0..threads.max(1) {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        let listener: std::net::TcpListener = socket.into();
        addr = listener.local_addr()?;
        listeners.push(listener);
    }
    Ok(listeners)
}

/// One runtime thread: a current-thread runtime that serves its listener,
/// runs its requests' scripts as fibers and owns its pools.
fn serve_thread(
    listener: std::net::TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    state: AppState,
    max_body_bytes: usize,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build_local(Default::default())?;
    runtime.block_on(async move {
        // At the drain's end the listener takes its backlog, closes, and
        // the server stops a moment later (see `http::closing`).
        let (listener, closed) = http::closing::Closing::new(listener, stopped)?;
        let router = http::service(state.clone(), max_body_bytes);
        let served = match acceptor {
            Some(acceptor) => {
                let tls = crate::http::tls::TlsListener::new(listener, acceptor)?;
                let shutdown = http::closing::closed_then_grace(closed, Some(tls.pending()));
                axum::serve(tls, router)
                    .with_graceful_shutdown(shutdown)
                    .await
            }
            None => {
                let shutdown = http::closing::closed_then_grace(closed, None);
                axum::serve(listener, router)
                    .with_graceful_shutdown(shutdown)
                    .await
            }
        };
        // Scripts whose client left, and kills of timed-out statements,
        // finish before the pools close (each is bounded by its own limit).
        let longest = state
            .connections()
            .map(|c| c.settings.tunables.script_timeout_ms)
            .max()
            .unwrap_or(0);
        let drain = std::time::Duration::from_millis(longest) + std::time::Duration::from_secs(6);
        if tokio::time::timeout(drain, crate::inflight::all_finished())
            .await
            .is_err()
        {
            tracing::warn!("stopping with script calls still running");
        }
        for c in state.connections() {
            c.close_thread_store().await;
        }
        served
    })
}

/// Counts SIGTERM and SIGINT (Ctrl-C) into a watch channel: the first
/// begins a drain, the second ends its delay. On Unix the handlers are installed
/// here, at once, not when the counting task first runs: a signal that
/// comes right after the start is counted, never the default action.
pub fn count_signals() -> tokio::sync::watch::Receiver<u32> {
    let (tx, rx) = tokio::sync::watch::channel(0u32);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).ok();
        let mut int = signal(SignalKind::interrupt()).ok();
        tokio::task::spawn_local(async move {
            async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
                let received = match s {
                    Some(s) => s.recv().await.is_some(),
                    None => false,
                };
                if !received {
                    std::future::pending::<()>().await;
                }
            }
            loop {
                tokio::select! {
                    () = next(&mut term) => {},
                    () = next(&mut int) => {},
                }
                tx.send_modify(|n| *n += 1);
            }
        });
    }
    #[cfg(not(unix))]
    tokio::task::spawn_local(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            tx.send_modify(|n| *n += 1);
        }
    });
    rx
}
