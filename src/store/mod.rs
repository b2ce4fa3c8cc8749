//! The operator's MySQL/MariaDB: a pool per connection on each runtime
//! thread, the per-call [`Session`] that scripts' statements run in, and
//! the killing of statements that ran past their time. Nothing here knows
//! of scripts: values come in and go out as the driver's (the script layer
//! converts them, in `script::convert`).

mod session;
mod statement;

pub use session::Session;
use statement::Held;
pub use statement::{is_stateless_read, Executed};

use std::sync::Arc;
use std::time::Duration;

use crate::settings::ConnectionSettings;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Pool, PoolConstraints, PoolOpts};
/// How long an idle connection above `pool.min` is kept.
pub const IDLE_TTL: Duration = Duration::from_secs(60);

/// MySQL's error number for a duplicate key.
pub const ER_DUP_ENTRY: u16 = 1062;

/// One connection's pool and its time limits.
pub struct Store {
    pool: Pool,
    /// Whether the server's default time zone is UTC, asked once: when it
    /// is, a session needs no `SET time_zone` (a round trip per request).
    default_utc: std::sync::OnceLock<bool>,
    /// Connections taken by sessions and not yet given back.
    in_use: Arc<std::sync::atomic::AtomicUsize>,
    /// For the connection that kills a timed-out statement: outside the
    /// pool, so that a full pool cannot hold up the kill.
    opts: Opts,
    /// The one connection outside the pools, shared by the connection's
    /// stores (one per runtime thread).
    aside: Arc<Aside>,
    /// The server's ids of the connections running a statement now, for
    /// a drain that runs out of time: it kills them before the process ends.
    running: std::sync::Mutex<Vec<u32>>,
    query_timeout: Duration,
    acquire_timeout: Duration,
    /// The most connections this pool holds.
    max: usize,
}

/// The connection outside the pools, of a connection's stores together:
/// kills and pings that a full pool must not hold up go through it one at
/// a time, so that they hold at most one connection outside the pools (the
/// capacity rule counts `pool.max + 1`).
#[derive(Debug, Default)]
pub struct Aside {
    one: Arc<tokio::sync::Mutex<()>>,
    /// When the last ping through it ended, and whether it was answered.
    last_ping: std::sync::Mutex<Option<(std::time::Instant, bool)>>,
}

impl Aside {
    fn last_ping(&self) -> Option<(std::time::Instant, bool)> {
        *self.last_ping.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// How long the answer of a ping outside the pool stands for one that
/// cannot run (a kill holds the connection).
const RECENT_ASIDE: Duration = Duration::from_secs(5);

/// A failed store call (a script sees it as a catchable map).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The server refused the statement: MySQL's error number and text.
    #[error("store error {code}: {message}")]
    Server { code: u16, message: String },
    /// The store could not be reached, or no connection came free in time.
    #[error("user store unavailable: {0}")]
    Unavailable(String),
    /// The driver refused the statement itself (a parameter count that
    /// does not match its `?`s, say): the script's fault, not the store's.
    /// Its connection is gone, and with it any transaction.
    #[error("{0}")]
    Refused(String),
    /// The transaction's connection was lost earlier in the transaction
    /// (why): its statements are refused until it ends, and it cannot commit.
    #[error("the transaction was lost ({0}); what it had written was rolled back")]
    TransactionLost(String),
    /// The statement ran past its time and was stopped.
    #[error("query timed out")]
    Timeout,
    /// The call is being cancelled (it outlived its deadline): the script
    /// must end, so this is not for it to catch.
    #[error("the call was cancelled")]
    Cancelled,
}

impl Store {
    /// Builds a pool of at most `max` connections, keeping `min` (it
    /// connects lazily, so a store that is down does not stop the start:
    /// readiness reports it). Must be called on the runtime that will use
    /// it: each runtime thread has pools of its own.
    pub fn new(settings: &ConnectionSettings, min: usize, max: usize) -> Self {
        Self::sharing_aside(settings, min, max, Arc::default())
    }

    /// As [`Store::new`], with the connection outside the pool shared with
    /// the connection's other stores (one per runtime thread), so that a
    /// replica holds at most one such connection per connection.
    pub fn sharing_aside(
        settings: &ConnectionSettings,
        min: usize,
        max: usize,
        aside: Arc<Aside>,
    ) -> Self {
        let t = &settings.tunables;
        let max = max.max(1);
        let constraints = PoolConstraints::new(min.min(max), max)
            .unwrap_or_else(|| PoolConstraints::new(0, max).unwrap_or_default());
        let opts: Opts = OptsBuilder::from_opts(connect_opts(settings))
            .pool_opts(
                PoolOpts::default()
                    .with_constraints(constraints)
                    // Idle connections above `pool.min` stay a minute before
                    // they are closed (the driver's default closes them at its
                    // next 30 s check), so that bursts do not reconnect.
                    .with_inactive_connection_ttl(IDLE_TTL),
            )
            .into();
        Store {
            pool: Pool::new(opts.clone()),
            default_utc: std::sync::OnceLock::new(),
            in_use: Arc::default(),
            opts,
            aside,
            running: std::sync::Mutex::default(),
            query_timeout: Duration::from_millis(t.query_timeout_ms),
            acquire_timeout: Duration::from_millis(t.pool.acquire_timeout_ms),
            max,
        }
    }

    /// Answers whether the store takes a `SELECT 1` within `limit`.
    pub async fn ping(&self, limit: Duration) -> Result<(), StoreError> {
        let work = async {
            if self.in_use() >= self.max {
                // Every pooled connection is busy with a script: waiting for
                // one would tell that the pool is busy, not that the store
                // is down. Ask over a connection of its own.
                return self.ping_aside(limit).await;
            }
            let mut conn = self.pool.get_conn().await.map_err(unavailable)?;
            conn.ping().await.map_err(unavailable)
        };
        tokio::time::timeout(limit, work)
            .await
            .map_err(|_| StoreError::Unavailable("no answer in time".into()))?
    }

    /// A ping over the connection outside the pools, as a kill's. A task
    /// holds that connection until it is closed, within the caller's limit,
    /// even when the caller stops waiting, so that the capacity rule's one
    /// connection outside the pools holds. When a kill or another ping (of
    /// any thread) holds it, the answer of the last ping serves if it ended
    /// in the last few seconds; otherwise this one waits its turn (the
    /// caller's limit bounds the wait) and takes the answer of a ping that
    /// ended meanwhile rather than ask again: probes that come together
    /// are not told the store is down because one of them is asking it.
    async fn ping_aside(&self, limit: Duration) -> Result<(), StoreError> {
        let asked = std::time::Instant::now();
        let answer = |ok: bool| {
            ok.then_some(())
                .ok_or_else(|| StoreError::Unavailable("no answer in time".into()))
        };
        let one = match self.aside.one.clone().try_lock_owned() {
            Ok(one) => one,
            Err(_) => {
                let recent = |(at, _): &(std::time::Instant, bool)| at.elapsed() < RECENT_ASIDE;
                if let Some((_, ok)) = self.aside.last_ping().filter(recent) {
                    return answer(ok);
                }
                let one = self.aside.one.clone().lock_owned().await;
                if let Some((_, ok)) = self.aside.last_ping().filter(|(at, _)| *at >= asked) {
                    return answer(ok);
                }
                one
            }
        };
        // What is left of the caller's limit: past it, nobody waits for
        // the answer, and a kill may be waiting for the connection.
        let limit = limit.saturating_sub(asked.elapsed());
        let (opts, aside) = (self.opts.clone(), self.aside.clone());
        let ping = tokio::spawn(async move {
            let _one = one;
            let ping = async {
                let mut conn = Conn::new(opts).await.map_err(unavailable)?;
                let answered = conn.ping().await.map_err(unavailable);
                let _ = conn.disconnect().await;
                answered
            };
            let answered = tokio::time::timeout(limit, ping)
                .await
                .unwrap_or_else(|_| Err(StoreError::Unavailable("no answer in time".into())));
            *aside.last_ping.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((std::time::Instant::now(), answered.is_ok()));
            answered
        });
        ping.await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the ping stopped".into())))
    }

    /// Gives a connection fresh from the pool (so in the server's default
    /// time zone) the UTC session scripts are promised.
    async fn make_utc(&self, conn: &mut Conn) -> Result<(), mysql_async::Error> {
        let utc = match self.default_utc.get() {
            Some(utc) => *utc,
            None => {
                let zones: Option<(String, String)> = conn
                    .query_first("SELECT @@session.time_zone, @@system_time_zone")
                    .await?;
                let utc = zones.is_some_and(|(session, system)| is_utc(&session, &system));
                *self.default_utc.get_or_init(|| utc)
            }
        };
        if !utc {
            conn.query_drop(SET_UTC).await?;
        }
        Ok(())
    }

    /// Connections held by scripts now.
    pub fn in_use(&self) -> usize {
        self.in_use.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub async fn close(&self) {
        let _ = self.pool.clone().disconnect().await;
    }
}

/// How to reach the connection's store: its URL, TLS against `tls_ca` when
/// set, and the session settings every connection gets.
pub fn connect_opts(settings: &ConnectionSettings) -> Opts {
    // Checked when the settings were loaded.
    let opts = Opts::from_url(settings.database_url.expose()).unwrap_or_default();
    // TLS comes from the URL (`require_ssl=true`, `verify_ca`, ...); a
    // `tls_ca` requires it and verifies the server against that CA. Without
    // one, the server is verified against the system's roots too (the
    // driver knows only its built-in ones), as a private CA installed on
    // the host or in the image is expected to be trusted.
    let ssl = match &settings.tls_ca {
        Some(ca) => Some(
            opts.ssl_opts()
                .cloned()
                .unwrap_or_default()
                .with_root_certs(vec![ca.clone().into()]),
        ),
        None => opts.ssl_opts().cloned().map(|ssl| {
            // lent from the bundle read once, not copied for each pool
            ssl.with_root_certs(system_roots().iter().map(|d| d.as_slice().into()).collect())
        }),
    };
    OptsBuilder::from_opts(opts)
        .ssl_opts(ssl)
        // `affected_rows` counts the rows matched, as Node's mysql driver
        // (and so every Auth0 template) has it.
        .client_found_rows(true)
        .into()
}

/// The system's CA certificates, read once: the file `SSL_CERT_FILE` names,
/// as OpenSSL reads it, or the distribution's bundle. Only those a root
/// store takes: the driver adds every one it is given, and one it refuses
/// (an odd corporate CA, say) would fail every TLS connection.
fn system_roots() -> &'static [Vec<u8>] {
    static ROOTS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    ROOTS.get_or_init(read_system_roots)
}

fn read_system_roots() -> Vec<Vec<u8>> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let named = std::env::var_os("SSL_CERT_FILE").map(std::path::PathBuf::from);
    if let Some(file) = named.as_ref().filter(|f| !f.is_file()) {
        tracing::warn!(file = %file.display(), "SSL_CERT_FILE names no file: TLS to the store uses the distribution's CA bundle");
    }
    let bundles = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ];
    let Some(file) = named
        .into_iter()
        .chain(bundles.iter().map(std::path::PathBuf::from))
        .find(|p| p.is_file())
    else {
        return Vec::new();
    };
    let Ok(certs) = CertificateDer::pem_file_iter(&file) else {
        tracing::warn!(file = %file.display(), "the CA bundle cannot be read: TLS to the store uses the built-in roots only");
        return Vec::new();
    };
    let (mut kept, mut left_out) = (Vec::new(), 0);
    for cert in certs {
        let taken = cert.ok().filter(|c| {
            let mut store = tokio_rustls::rustls::RootCertStore::empty();
            store.add(c.clone()).is_ok()
        });
        match taken {
            Some(c) => kept.push(c.to_vec()),
            None => left_out += 1,
        }
    }
    if left_out > 0 {
        tracing::warn!(file = %file.display(), left_out, "CA certificates left out of TLS to the store: a root store does not take them");
    }
    kept
}

/// Sets a session's time zone to UTC, as scripts are promised.
const SET_UTC: &str = "SET time_zone = '+00:00'";

/// Whether a server's default time zone, as `@@session.time_zone` and
/// `@@system_time_zone` of a fresh session show it, is UTC.
fn is_utc(session: &str, system: &str) -> bool {
    let utc = |z: &str| {
        matches!(
            z.to_ascii_uppercase().as_str(),
            "+00:00"
                | "UTC"
                | "ETC/UTC"
                | "GMT"
                | "ETC/GMT"
                | "UNIVERSAL"
                | "ZULU"
                | "COORDINATED UNIVERSAL TIME"
        )
    };
    utc(session) || (session.eq_ignore_ascii_case("SYSTEM") && utc(system))
}

fn unavailable(e: mysql_async::Error) -> StoreError {
    match e {
        mysql_async::Error::Server(s) => StoreError::Server {
            code: s.code,
            message: s.message,
        },
        other => StoreError::Unavailable(other.to_string()),
    }
}

impl Store {
    /// Notes that connection `id` runs a statement (`true`) or no longer does.
    pub(super) fn note_running(&self, id: u32, running: bool) {
        let mut ids = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running {
            ids.push(id);
        } else if let Some(at) = ids.iter().position(|i| *i == id) {
            ids.swap_remove(at);
        }
    }

    /// Kills every statement running now, each over a connection of its
    /// own: for a drain out of time, just before the process ends (and the
    /// pool's limits with it). Best effort: failures are logged.
    pub async fn kill_running(&self) {
        let ids = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        // at once, each over a connection of its own: the caller's second
        // is for all of them
        let mut kills = tokio::task::JoinSet::new();
        for id in ids {
            let opts = self.opts.clone();
            kills.spawn(async move {
                let mut other = Conn::new(opts).await?;
                other.query_drop(format!("KILL {id}")).await?;
                other.disconnect().await
            });
        }
        while let Some(done) = kills.join_next().await {
            if let Ok(Err(e)) = done {
                tracing::warn!(error = %e, "could not kill a statement at the drain timeout");
            }
        }
    }

    /// Kills the connection's running statement on the server and throws the
    /// connection away, without waiting for either. The kill goes through a
    /// connection outside the pool, so that a full pool cannot hold it up.
    fn abandon(&self, held: Held) {
        self.kill(held.conn.id(), Some(held));
    }

    /// Kills the statement running on connection `id`, then drops `held`
    /// (that connection, when the caller still has it).
    fn kill(&self, id: u32, held: Option<Held>) {
        let opts = self.opts.clone();
        let aside = self.aside.clone();
        let working = crate::inflight::Working::start();
        let task = async move {
            let _working = working;
            let kill = async {
                let _one_at_a_time = aside.one.lock().await;
                let mut other = Conn::new(opts).await?;
                other.query_drop(format!("KILL {id}")).await?;
                other.disconnect().await
            };
            match tokio::time::timeout(Duration::from_secs(5), kill).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "could not kill a timed-out query"),
                Err(_) => tracing::warn!("could not kill a timed-out query in time"),
            }
            drop(held);
        };
        // Called from a drop too, perhaps as the runtime goes away: a kill
        // that cannot be spawned any more is logged, never a panic.
        let spawned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            tokio::task::spawn_local(task);
        }));
        if spawned.is_err() {
            tracing::warn!("the runtime is gone: a timed-out query was not killed");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_plain_reads_skip_the_reset() {
        for sql in [
            "SELECT id, email FROM members WHERE email = ?",
            "  select 1",
            "SELECT a FROM t WHERE b = ? OR c = ? LIMIT 1",
            "SELECT is_blocked, last_update, into_date FROM t",
        ] {
            assert!(super::is_stateless_read(sql), "{sql}");
        }
        for sql in [
            "SET @a = 1",
            "SELECT @a := 5",
            "SELECT x INTO @v FROM t",
            "SELECT * FROM t FOR UPDATE",
            "SELECT * FROM t LOCK IN SHARE MODE",
            "SELECT GET_LOCK('x', 1)",
            "SELECT LAST_INSERT_ID(7)",
            "SELECT NEXTVAL(s)",
            "SELECT SQL_CALC_FOUND_ROWS * FROM t",
            "/* hint */ SELECT 1",
            "INSERT INTO t VALUES (1)",
            "SELECT 1; SET @x = 1",
        ] {
            assert!(!super::is_stateless_read(sql), "{sql}");
        }
    }

    #[test]
    fn utc_defaults() {
        for (session, system, utc) in [
            ("SYSTEM", "UTC", true),
            ("SYSTEM", "Etc/UTC", true),
            ("+00:00", "CET", true),
            ("UTC", "PST", true),
            ("SYSTEM", "CET", false),
            ("+01:00", "UTC", false),
            ("Europe/Paris", "UTC", false),
        ] {
            assert_eq!(super::is_utc(session, system), utc, "{session} {system}");
        }
    }
}
