//! One statement on a leased connection: what it is, how it runs within
//! its time (and is killed on the server when it is given up), what it
//! gave; and which statements provably leave no state on their session.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Row, Value};

use super::Store;

/// A pooled connection held by a session, counted in [`Store::in_use`].
pub(super) struct Held {
    pub(super) conn: Conn,
    in_use: Arc<AtomicUsize>,
}

impl Held {
    pub(super) fn new(conn: Conn, in_use: &Arc<AtomicUsize>) -> Self {
        in_use.fetch_add(1, Ordering::SeqCst);
        Held {
            conn,
            in_use: in_use.clone(),
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.in_use.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What `db::execute` answers.
pub struct Executed {
    pub affected_rows: u64,
    pub last_insert_id: Option<u64>,
}

/// One statement of a session, owned, so that it can be handed to the
/// fiber's driver.
pub(super) enum Statement {
    Query(String, Vec<Value>),
    Execute(String, Vec<Value>),
    /// A statement without parameters or rows: transaction control.
    Plain(&'static str),
}

/// What a statement gave.
pub(super) enum Done {
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
pub(super) type Ran = (Held, Option<Result<Done, mysql_async::Error>>);

/// Runs `statement` on `held` within `limit`, handing the connection back.
/// Dropped before the statement ended (the call was cancelled), it kills
/// the statement on the server.
pub(super) async fn run_statement(
    store: Arc<Store>,
    mut held: Held,
    statement: Statement,
    limit: Duration,
) -> Ran {
    /// Notes the statement as running while it lives (however the future
    /// ends: done, dropped or unwound), and kills it on the server when it
    /// is dropped before it is done.
    struct Running {
        store: Arc<Store>,
        id: u32,
        done: bool,
    }
    impl Drop for Running {
        fn drop(&mut self) {
            self.store.note_running(self.id, false);
            if !self.done {
                self.store.kill(self.id, None);
            }
        }
    }
    let id = held.conn.id();
    store.note_running(id, true);
    let mut running = Running {
        store,
        id,
        done: false,
    };
    let result = tokio::time::timeout(limit, statement.run(&mut held.conn))
        .await
        .ok();
    running.done = true;
    (held, result)
}

/// [`is_stateless_read`], remembered per thread for the statements seen:
/// a script's SQL is mostly the same few texts, and the check scans them
/// whole.
pub(super) fn stateless_read_cached(sql: &str) -> bool {
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
