//! A listener that closes without dropping what the kernel already took.
//!
//! Closing a listening socket resets every connection still in its accept
//! backlog: the kernel finished their handshakes, their clients sent their
//! requests, and they get a reset for an answer, which a balancer cannot
//! tell from a request lost in a replica. So at the drain's end the
//! listener first accepts everything waiting (non-blocking accepts until
//! none is left), then closes, and only then is the server told to stop:
//! after [`GRACE`], so that the connections it just handed over have read
//! their request (hyper closes a connection that has not yet read one the
//! moment it is told to stop).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How long the connections taken from the backlog have to read their
/// request before the server stops (they hold it already: it was sent
/// before the listener closed).
pub const GRACE: Duration = Duration::from_millis(250);

pub struct Closing {
    /// `None` once closed.
    open: Option<Open>,
    stop: watch::Receiver<bool>,
    closed: watch::Sender<bool>,
}

struct Open {
    listener: TcpListener,
    /// The same socket, for non-blocking accepts of the backlog.
    backlog: std::net::TcpListener,
    stopping: bool,
    /// Connections taken from the backlog since the stop.
    taken: usize,
}

/// The most connections taken from the backlog after the stop: the kernel's
/// own bound on it (`SOMAXCONN`).
const MAX_BACKLOG: usize = 4096;

impl Closing {
    /// Serves `listener` until `stop` turns true; `closed` turns true once
    /// the backlog is taken and the socket closed.
    pub fn new(
        listener: std::net::TcpListener,
        stop: watch::Receiver<bool>,
    ) -> io::Result<(Self, watch::Receiver<bool>)> {
        listener.set_nonblocking(true)?;
        let backlog = listener.try_clone()?;
        let (closed, closed_rx) = watch::channel(false);
        let open = Open {
            listener: TcpListener::from_std(listener)?,
            backlog,
            stopping: false,
            taken: 0,
        };
        Ok((
            Closing {
                open: Some(open),
                stop,
                closed,
            },
            closed_rx,
        ))
    }

    /// The next connection; `None` once the listener is closed (then never
    /// another).
    pub async fn next(&mut self) -> Option<io::Result<(TcpStream, SocketAddr)>> {
        let open = self.open.as_mut()?;
        if !open.stopping && *self.stop.borrow() {
            open.stopping = true;
        }
        if !open.stopping {
            tokio::select! {
                biased;
                accepted = open.listener.accept() => return Some(accepted),
                _ = self.stop.wait_for(|stop| *stop) => open.stopping = true,
            }
        }
        // No more than a full backlog: connections that keep coming meanwhile
        // must not hold the socket open.
        open.taken += 1;
        if open.taken > MAX_BACKLOG {
            self.close();
            return None;
        }
        match open.backlog.accept() {
            Ok((stream, addr)) => Some(
                stream
                    .set_nonblocking(true)
                    .and_then(|()| TcpStream::from_std(stream))
                    .map(|stream| (stream, addr)),
            ),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.close();
                None
            }
            Err(e) => Some(Err(e)),
        }
    }

    /// Both handles go: the socket closes, new connections are refused.
    fn close(&mut self) {
        self.open = None;
        let _ = self.closed.send(true);
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.open {
            Some(open) => open.listener.local_addr(),
            None => Err(io::Error::other("the listener is closed")),
        }
    }
}

impl axum::serve::Listener for Closing {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.next().await {
                Some(Ok(pair)) => return pair,
                // As axum's own listener: a failed accept (out of file
                // descriptors, say) is waited out, not fatal.
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                None => std::future::pending().await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Closing::local_addr(self)
    }
}

/// What the server waits for before it stops: the listener closed; with
/// TLS, every connection it accepted through its handshake and handed over
/// (`pending` at 0, within the handshake's own time limit); then [`GRACE`].
pub async fn closed_then_grace(
    mut closed: watch::Receiver<bool>,
    pending: Option<std::sync::Arc<std::sync::atomic::AtomicUsize>>,
) {
    if closed.wait_for(|closed| *closed).await.is_err() {
        return;
    }
    if let Some(pending) = pending {
        let until = tokio::time::Instant::now() + super::tls::HANDSHAKE_TIMEOUT + GRACE;
        while pending.load(std::sync::atomic::Ordering::SeqCst) > 0
            && tokio::time::Instant::now() < until
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    tokio::time::sleep(GRACE).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_backlog_is_taken_before_the_socket_closes() {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let (stop_tx, stop) = watch::channel(false);
        let (mut closing, mut closed) = Closing::new(std_listener, stop).unwrap();
        // three clients whose handshakes the kernel completed: in the
        // backlog, not yet accepted; the stop comes before any accept, so
        // all three are taken by the backlog's non-blocking accepts
        let clients: Vec<_> = (0..3)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        stop_tx.send(true).unwrap();
        let mut taken = 0;
        while let Some(accepted) = closing.next().await {
            accepted.unwrap();
            taken += 1;
        }
        assert_eq!(taken, clients.len());
        assert!(closing.open.is_none());
        assert!(*closed.borrow_and_update());
        // closed: a new connection is refused, and nothing more comes
        assert!(std::net::TcpStream::connect(addr).is_err());
        assert!(closing.next().await.is_none());
    }
}
