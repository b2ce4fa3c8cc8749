//! One script call's use of the store: at most one leased connection, its
//! deadline, its transaction, whether it left state behind, and how long
//! its statements took.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::{Row, Value};

use super::statement::{
    run_statement, stateless_read_cached, Done, Executed, Held, Ran, Statement,
};
use super::{Store, StoreError};
use crate::script::fiber;

/// One script call's use of the store: at most one connection, taken at the
/// first statement and kept until the call ends, so that `LAST_INSERT_ID()`
/// and session variables behave as in one session. Its statements run inside
/// the call's fiber: each one suspends the script while the driver works.
pub struct Session {
    store: Arc<Store>,
    conn: Option<Held>,
    deadline: Instant,
    pub in_transaction: bool,
    /// Why the open transaction's connection was lost: until the script's
    /// `db::transaction` ends, its statements are refused and its commit
    /// fails, rather than running outside the transaction.
    lost: Option<&'static str>,
    /// Whether the session may have left state on its connection (user
    /// variables, locks, LAST_INSERT_ID, a transaction...): only a session
    /// that provably did not skips the reset when the connection goes back.
    stateful: bool,
    /// How long each statement run took, in order.
    pub query_times: Vec<Duration>,
}

impl Session {
    pub fn new(store: Arc<Store>, deadline: Instant) -> Self {
        Session {
            store,
            conn: None,
            deadline,
            in_transaction: false,
            lost: None,
            stateful: false,
            query_times: Vec::new(),
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
        if let Some(why) = &self.lost {
            return Err(StoreError::TransactionLost((*why).to_string()));
        }
        let limit = self.store.query_timeout.min(self.remaining()?);
        let held = self.take_conn()?;
        let started = Instant::now();
        let ran = fiber::wait(run_statement(self.store.clone(), held, statement, limit));
        self.query_times.push(started.elapsed());
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

    /// The connection is going: a transaction open on it goes with it
    /// (the server rolls it back), and is remembered as lost.
    fn lose_transaction(&mut self, why: &'static str) {
        if self.in_transaction {
            self.in_transaction = false;
            self.lost = Some(why);
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
            // The driver gives up the connection after these too: the next
            // statement gets another.
            Some(Err(mysql_async::Error::Driver(d))) if refused_statement(&d) => {
                self.lose_transaction("a statement was refused");
                drop(held);
                Err(StoreError::Refused(d.to_string()))
            }
            Some(Err(other)) => {
                self.lose_transaction("the store connection failed");
                drop(held);
                Err(StoreError::Unavailable(other.to_string()))
            }
            None => {
                self.lose_transaction("a statement ran past its time");
                self.store.abandon(held);
                Err(StoreError::Timeout)
            }
        }
    }

    pub fn query(&mut self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, StoreError> {
        self.stateful |= !stateless_read_cached(sql);
        match self.run(Statement::Query(sql.to_string(), params))? {
            Done::Rows(rows) => Ok(rows),
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
        if let Some(why) = self.lost.take() {
            return Err(StoreError::TransactionLost(why.to_string()));
        }
        self.run(Statement::Plain("COMMIT")).map(drop)
    }

    pub fn rollback(&mut self) -> Result<(), StoreError> {
        self.in_transaction = false;
        if self.lost.take().is_some() || self.conn.is_none() {
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

/// Driver errors about the statement as written: the script's to fix,
/// never an outage.
fn refused_statement(error: &mysql_async::DriverError) -> bool {
    use mysql_async::DriverError as D;
    matches!(
        error,
        D::Params(_)
            | D::MixedParams
            | D::StmtParamsMismatch { .. }
            | D::StmtParamsNumberExceedsLimit { .. }
    )
}
