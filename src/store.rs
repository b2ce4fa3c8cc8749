//! The bridge from scripts to the operator's MySQL/MariaDB: a pool per
//! connection, a per-call session that takes one pooled connection at its
//! first use and keeps it, every wait bounded by a timeout, and the
//! conversion of values between MySQL and Rhai (scripts.md, "Values").

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::script::fiber;
use crate::settings::ConnectionSettings;
use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::prelude::Queryable;
use mysql_async::{
    Column, Conn, Opts, OptsBuilder, Params, Pool, PoolConstraints, PoolOpts, Row, Value,
};
use rhai::{Dynamic, Map as RhaiMap};

/// MySQL's character set number for binary data.
const BINARY_CHARSET: u16 = 63;
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
    query_timeout: Duration,
    acquire_timeout: Duration,
}

/// A failed store call, as scripts see it (scripts.md: a catchable map).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The server refused the statement: MySQL's error number and text.
    #[error("store error {code}: {message}")]
    Server { code: u16, message: String },
    /// The store could not be reached, or no connection came free in time.
    #[error("user store unavailable: {0}")]
    Unavailable(String),
    /// The statement ran past its time and was stopped.
    #[error("query timed out")]
    Timeout,
    /// The call is being cancelled (it outlived its deadline): the script
    /// must end, so this is not for it to catch.
    #[error("the call was cancelled")]
    Cancelled,
}

impl StoreError {
    /// `#{ kind: "store", code, message }`, plus `timeout: true` for a query
    /// stopped at its time limit (so that a rethrow still means 504).
    pub fn to_map(&self) -> RhaiMap {
        let mut m = RhaiMap::new();
        m.insert("kind".into(), "store".into());
        let code: Dynamic = match self {
            StoreError::Server { code, .. } => i64::from(*code).into(),
            StoreError::Unavailable(_) => Dynamic::UNIT,
            StoreError::Timeout | StoreError::Cancelled => {
                m.insert("timeout".into(), true.into());
                Dynamic::UNIT
            }
        };
        let message = match self {
            StoreError::Server { message, .. } => message.clone(),
            other => other.to_string(),
        };
        m.insert("code".into(), code);
        m.insert("message".into(), message.into());
        m
    }
}

impl Store {
    /// Builds a pool of at most `max` connections, keeping `min` (it
    /// connects lazily, so a store that is down does not stop the start:
    /// readiness reports it). Must be called on the runtime that will use
    /// it: each runtime thread has pools of its own.
    pub fn new(settings: &ConnectionSettings, min: usize, max: usize) -> Self {
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
            query_timeout: Duration::from_millis(t.query_timeout_ms),
            acquire_timeout: Duration::from_millis(t.pool.acquire_timeout_ms),
        }
    }

    /// Answers whether the store takes a `SELECT 1` within `limit`.
    pub async fn ping(&self, limit: Duration) -> Result<(), StoreError> {
        let work = async {
            let mut conn = self.pool.get_conn().await.map_err(unavailable)?;
            conn.ping().await.map_err(unavailable)
        };
        tokio::time::timeout(limit, work)
            .await
            .map_err(|_| StoreError::Unavailable("no answer in time".into()))?
    }

    /// Gives a connection fresh from the pool (so in the server's default
    /// time zone) the UTC session scripts.md promises.
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
    // `tls_ca` requires it and verifies the server against that CA.
    let ssl = match &settings.tls_ca {
        Some(ca) => Some(
            opts.ssl_opts()
                .cloned()
                .unwrap_or_default()
                .with_root_certs(vec![ca.clone().into()]),
        ),
        None => opts.ssl_opts().cloned(),
    };
    OptsBuilder::from_opts(opts)
        .ssl_opts(ssl)
        // `affected_rows` counts the rows matched, as Node's mysql driver
        // (and so every Auth0 template) has it.
        .client_found_rows(true)
        .into()
}

/// Sets a session's time zone to UTC (scripts.md).
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

/// One script call's use of the store: at most one connection, taken at the
/// first statement and kept until the call ends, so that `LAST_INSERT_ID()`
/// and session variables behave as in one session. Its statements run inside
/// the call's fiber: each one suspends the script while the driver works.
pub struct Session {
    store: Arc<Store>,
    conn: Option<Held>,
    deadline: Instant,
    pub in_transaction: bool,
    /// Whether the session may have left state on its connection (user
    /// variables, locks, LAST_INSERT_ID, a transaction...): only a session
    /// that provably did not skips the reset when the connection goes back.
    stateful: bool,
    /// Statements run, and the time spent waiting for them.
    pub queries: u32,
    pub query_time: Duration,
}

/// A pooled connection held by a session, counted in [`Store::in_use`].
struct Held {
    conn: Conn,
    in_use: Arc<std::sync::atomic::AtomicUsize>,
}

impl Held {
    fn new(conn: Conn, in_use: &Arc<std::sync::atomic::AtomicUsize>) -> Self {
        in_use.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Held {
            conn,
            in_use: in_use.clone(),
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.in_use
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// What `db::execute` answers.
pub struct Executed {
    pub affected_rows: u64,
    pub last_insert_id: Option<u64>,
}

/// One statement of a session, owned, so that it can be handed to the
/// fiber's driver.
enum Statement {
    Query(String, Vec<Value>),
    Execute(String, Vec<Value>),
    /// A statement without parameters or rows: transaction control.
    Plain(&'static str),
}

/// What a statement gave.
enum Done {
    Rows(Vec<Row>),
    Executed(Executed),
    Nothing,
}

impl Statement {
    async fn run(self, conn: &mut Conn) -> Result<Done, mysql_async::Error> {
        match self {
            Statement::Query(sql, params) => {
                conn.exec(sql, to_params(params)).await.map(Done::Rows)
            }
            Statement::Execute(sql, params) => {
                conn.exec_drop(sql, to_params(params)).await?;
                Ok(Done::Executed(Executed {
                    affected_rows: conn.affected_rows(),
                    last_insert_id: conn.last_insert_id(),
                }))
            }
            Statement::Plain(sql) => conn.query_drop(sql).await.map(|()| Done::Nothing),
        }
    }
}

/// How a statement ended: the connection back, with the statement's
/// result, or `None` when it ran past `limit`.
type Ran = (Held, Option<Result<Done, mysql_async::Error>>);

/// Runs `statement` on `held` within `limit`, handing the connection back.
/// Dropped before the statement ended (the call was cancelled), it kills
/// the statement on the server.
async fn run_statement(
    store: Arc<Store>,
    mut held: Held,
    statement: Statement,
    limit: Duration,
) -> Ran {
    struct KillIfDropped(Option<(Arc<Store>, u32)>);
    impl Drop for KillIfDropped {
        fn drop(&mut self) {
            if let Some((store, id)) = self.0.take() {
                store.kill(id, None);
            }
        }
    }
    let mut guard = KillIfDropped(Some((store, held.conn.id())));
    let result = tokio::time::timeout(limit, statement.run(&mut held.conn))
        .await
        .ok();
    guard.0 = None;
    (held, result)
}

impl Session {
    pub fn new(store: Arc<Store>, deadline: Instant) -> Self {
        Session {
            store,
            conn: None,
            deadline,
            in_transaction: false,
            stateful: false,
            queries: 0,
            query_time: Duration::ZERO,
        }
    }

    fn remaining(&self) -> Result<Duration, StoreError> {
        self.deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or(StoreError::Timeout)
    }

    /// The session's connection, taken from the pool at its first use.
    /// Suspends the call while it waits.
    fn take_conn(&mut self) -> Result<Held, StoreError> {
        if let Some(held) = self.conn.take() {
            return Ok(held);
        }
        let remaining = self.remaining()?;
        let limit = self.store.acquire_timeout.min(remaining);
        let store = self.store.clone();
        let acquire = async move {
            let mut conn = store.pool.get_conn().await?;
            store.make_utc(&mut conn).await?;
            Ok::<_, mysql_async::Error>(conn)
        };
        let conn = fiber::wait(tokio::time::timeout(limit, acquire))
            .map_err(|fiber::Cancelled| StoreError::Cancelled)?
            .map_err(|_| {
                if limit == remaining {
                    // The script's own time ran out while it waited.
                    StoreError::Timeout
                } else {
                    StoreError::Unavailable("no store connection came free in time".into())
                }
            })?
            // Refused logins and TLS failures too: the store is not
            // reachable for this call.
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Held::new(conn, &self.store.in_use))
    }

    /// Runs one statement on the session's connection within the query's
    /// time, suspending the call while it runs. A statement past its time
    /// is killed on the server and its connection thrown away; a broken
    /// connection is dropped.
    fn run(&mut self, statement: Statement) -> Result<Done, StoreError> {
        let limit = self.store.query_timeout.min(self.remaining()?);
        let held = self.take_conn()?;
        let started = Instant::now();
        let ran = fiber::wait(run_statement(self.store.clone(), held, statement, limit));
        self.queries += 1;
        self.query_time += started.elapsed();
        match ran {
            Ok(ran) => self.settle(ran),
            // The call is being cancelled: its connection went with the
            // statement, which the driver dropped.
            Err(fiber::Cancelled) => {
                self.in_transaction = false;
                Err(StoreError::Cancelled)
            }
        }
    }

    /// Takes back the connection of a statement that ended, as its result
    /// says.
    fn settle(&mut self, (held, result): Ran) -> Result<Done, StoreError> {
        match result {
            Some(Ok(done)) => {
                self.conn = Some(held);
                Ok(done)
            }
            Some(Err(mysql_async::Error::Server(s))) => {
                self.conn = Some(held);
                Err(StoreError::Server {
                    code: s.code,
                    message: s.message,
                })
            }
            Some(Err(other)) => {
                self.in_transaction = false;
                drop(held);
                Err(StoreError::Unavailable(other.to_string()))
            }
            None => {
                self.in_transaction = false;
                self.store.abandon(held);
                Err(StoreError::Timeout)
            }
        }
    }

    pub fn query(&mut self, sql: &str, params: Vec<Value>) -> Result<Vec<RhaiMap>, StoreError> {
        self.stateful |= !stateless_read_cached(sql);
        match self.run(Statement::Query(sql.to_string(), params))? {
            Done::Rows(rows) => Ok(rows.into_iter().map(row_to_map).collect()),
            _ => Ok(Vec::new()),
        }
    }

    pub fn execute(&mut self, sql: &str, params: Vec<Value>) -> Result<Executed, StoreError> {
        self.stateful = true;
        match self.run(Statement::Execute(sql.to_string(), params))? {
            Done::Executed(done) => Ok(done),
            _ => Ok(Executed {
                affected_rows: 0,
                last_insert_id: None,
            }),
        }
    }

    pub fn begin(&mut self) -> Result<(), StoreError> {
        self.stateful = true;
        self.run(Statement::Plain("START TRANSACTION"))?;
        self.in_transaction = true;
        Ok(())
    }

    pub fn commit(&mut self) -> Result<(), StoreError> {
        self.in_transaction = false;
        self.run(Statement::Plain("COMMIT")).map(drop)
    }

    pub fn rollback(&mut self) -> Result<(), StoreError> {
        self.in_transaction = false;
        if self.conn.is_none() {
            return Ok(());
        }
        self.run(Statement::Plain("ROLLBACK")).map(drop)
    }

    /// Ends the session, on the driver's side once the call is over: a
    /// transaction still open is rolled back (past the deadline there is no
    /// time left to ask, and the connection is thrown away), and the
    /// connection goes back to the pool, reset unless it only read.
    pub async fn finish(mut self) {
        if self.in_transaction {
            self.in_transaction = false;
            let Some(held) = self.conn.take() else {
                return;
            };
            let Ok(limit) = self.remaining() else {
                self.store.abandon(held);
                return;
            };
            let ran = run_statement(
                self.store.clone(),
                held,
                Statement::Plain("ROLLBACK"),
                limit,
            )
            .await;
            // A connection whose rollback failed goes back reset, or not at all.
            if self.settle(ran).is_err() {
                return;
            }
        }
        if let Some(held) = self.conn.as_mut().filter(|_| !self.stateful) {
            // Nothing to undo: back to the pool as it is, prepared
            // statements kept, without a reset round trip.
            held.conn.reset_connection(false);
        }
    }
}

impl Store {
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
        let working = crate::inflight::Working::start();
        let task = async move {
            let _working = working;
            let kill = async {
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

/// [`is_stateless_read`], remembered per thread for the statements seen:
/// a script's SQL is mostly the same few texts, and the check scans them
/// whole.
fn stateless_read_cached(sql: &str) -> bool {
    /// Enough for every statement of every script; dynamic SQL beyond it is
    /// checked each time.
    const KEPT: usize = 1024;
    thread_local! {
        static SEEN: std::cell::RefCell<std::collections::HashMap<Box<str>, bool>> =
            std::cell::RefCell::default();
    }
    SEEN.with(|seen| {
        if let Some(&known) = seen.borrow().get(sql) {
            return known;
        }
        let stateless = is_stateless_read(sql);
        let mut seen = seen.borrow_mut();
        if seen.len() < KEPT {
            seen.insert(sql.into(), stateless);
        }
        stateless
    })
}

/// A statement that provably leaves no state on its session: a plain
/// `SELECT` that names no user variable and takes no lock, writes into
/// nothing, and touches neither LAST_INSERT_ID nor a sequence. Words are
/// matched whole (a column `is_blocked` is no lock); anything in doubt
/// counts as stateful, and the connection is then reset.
pub fn is_stateless_read(sql: &str) -> bool {
    const STATEFUL: &[&str] = &[
        "INTO",
        "LOCK",
        "UPDATE",
        "GET_LOCK",
        "RELEASE_LOCK",
        "RELEASE_ALL_LOCKS",
        "LAST_INSERT_ID",
        "NEXTVAL",
        "SETVAL",
        "LASTVAL",
        "NEXT",
        "SQL_CALC_FOUND_ROWS",
    ];
    let upper = sql.trim_start().to_ascii_uppercase();
    upper.starts_with("SELECT")
        && !upper.contains(['@', ';'])
        && !upper
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|word| STATEFUL.contains(&word))
}

fn to_params(params: Vec<Value>) -> Params {
    if params.is_empty() {
        Params::Empty
    } else {
        Params::Positional(params)
    }
}

fn row_to_map(row: Row) -> RhaiMap {
    let columns = row.columns();
    columns
        .iter()
        .zip(row.unwrap())
        .map(|(col, value)| (col.name_str().as_ref().into(), to_dynamic(value, col)))
        .collect()
}

/// A MySQL value as scripts.md says a script sees it.
pub fn to_dynamic(value: Value, col: &Column) -> Dynamic {
    let ty = col.column_type();
    match value {
        Value::NULL => Dynamic::UNIT,
        Value::Int(i) => i.into(),
        Value::UInt(u) => match i64::try_from(u) {
            Ok(i) => i.into(),
            Err(_) => u.to_string().into(),
        },
        // Through its shortest text, so that FLOAT 0.1 reads as 0.1.
        Value::Float(f) => f.to_string().parse::<f64>().unwrap_or(f as f64).into(),
        Value::Double(d) => d.into(),
        Value::Date(y, mo, d, h, mi, s, us) => {
            if matches!(
                ty,
                ColumnType::MYSQL_TYPE_DATE | ColumnType::MYSQL_TYPE_NEWDATE
            ) {
                format!("{y:04}-{mo:02}-{d:02}").into()
            } else if us > 0 {
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{us:06}").into()
            } else {
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}").into()
            }
        }
        Value::Time(neg, days, h, mi, s, us) => {
            let sign = if neg { "-" } else { "" };
            let hours = days * 24 + u32::from(h);
            if us > 0 {
                format!("{sign}{hours:02}:{mi:02}:{s:02}.{us:06}").into()
            } else {
                format!("{sign}{hours:02}:{mi:02}:{s:02}").into()
            }
        }
        Value::Bytes(bytes) => match ty {
            ColumnType::MYSQL_TYPE_DECIMAL | ColumnType::MYSQL_TYPE_NEWDECIMAL => {
                String::from_utf8_lossy(&bytes).into_owned().into()
            }
            ColumnType::MYSQL_TYPE_JSON => serde_json::from_slice::<Dynamic>(&bytes)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned().into()),
            ColumnType::MYSQL_TYPE_BIT | ColumnType::MYSQL_TYPE_GEOMETRY => {
                Dynamic::from_blob(bytes)
            }
            _ if col.character_set() == BINARY_CHARSET
                && !col.flags().contains(ColumnFlags::ENUM_FLAG)
                && !col.flags().contains(ColumnFlags::SET_FLAG) =>
            {
                Dynamic::from_blob(bytes)
            }
            _ => match String::from_utf8(bytes) {
                Ok(s) => s.into(),
                Err(e) => Dynamic::from_blob(e.into_bytes()),
            },
        },
    }
}

/// A script value as a statement parameter: `()` is NULL, a bool 1 or 0, a
/// map or array its JSON text.
pub fn to_param(value: &Dynamic) -> Result<Value, String> {
    if value.is_unit() {
        return Ok(Value::NULL);
    }
    if let Ok(b) = value.as_bool() {
        return Ok(Value::Int(i64::from(b)));
    }
    if let Ok(i) = value.as_int() {
        return Ok(Value::Int(i));
    }
    if let Ok(f) = value.as_float() {
        return Ok(Value::Double(f));
    }
    if let Ok(c) = value.as_char() {
        return Ok(Value::Bytes(c.to_string().into_bytes()));
    }
    if let Some(s) = value.read_lock::<rhai::ImmutableString>() {
        return Ok(Value::Bytes(s.as_bytes().to_vec()));
    }
    if value.is_blob() {
        let blob = value.clone().into_blob().unwrap_or_default();
        return Ok(Value::Bytes(blob));
    }
    if value.is_map() || value.is_array() {
        let json = crate::profile::to_json("parameter", value).map_err(|e| e.rule)?;
        return Ok(Value::Bytes(json.to_string().into_bytes()));
    }
    Err(format!(
        "a {} cannot be a statement parameter",
        value.type_name()
    ))
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
