//! A configured connection: its stores (a pool on each runtime thread), its
//! scripts and its slots. Running an action admits it (per-connection slots,
//! a bounded global queue), then runs the script as a fiber on the thread
//! that took the request, driven by a task of that thread's own.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

use crate::actions::{Action, Outcome, Request};
use crate::error::{Error, Result};
use crate::password;
use crate::script::call::{self, CallState, Masker};
use crate::script::{Problem, ScriptSet};
use crate::settings::ConnectionSettings;
use crate::store::{Session, Store};
use crate::telemetry::OneLine;

/// Scripts waiting for a slot, over all connections.
#[derive(Debug)]
pub struct Admission {
    waiting: AtomicUsize,
    max_waiting: usize,
}

impl Admission {
    pub fn new(max_waiting: usize) -> Arc<Self> {
        Arc::new(Admission {
            waiting: AtomicUsize::new(0),
            max_waiting,
        })
    }
}

struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How long one action took: the script call (queries included) and each
/// statement it ran.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    pub script: Duration,
    pub queries: Vec<Duration>,
}

impl Timings {
    /// The time spent waiting for statements.
    pub fn query_time(&self) -> Duration {
        self.queries.iter().sum()
    }
}

pub struct Connection {
    pub settings: ConnectionSettings,
    /// Tells this connection's stores apart in each thread's map.
    id: usize,
    /// The runtime threads that share `pool.min` and `pool.max`.
    threads: usize,
    /// Every thread's store, for readiness and metrics.
    stores: Mutex<Vec<Arc<Store>>>,
    /// Shared by its stores: kills of timed-out statements and pings that
    /// a full pool must not hold up go one at a time, through at most one
    /// connection outside the pools.
    aside: Arc<crate::store::Aside>,
    scripts: RwLock<Arc<ScriptSet>>,
    /// Scripts of this connection waiting for a slot.
    waiting: AtomicUsize,
    /// The problems of the last reload, when it was refused.
    reload_failed: RwLock<Option<Vec<Problem>>>,
    slots: Arc<Semaphore>,
    admission: Arc<Admission>,
    /// Masks the secret configuration values; each call adds its passwords.
    masker: Masker,
    /// What a login that found no user verifies.
    dummy_hash: DummyHash,
}

impl Connection {
    /// Loads the scripts. Each of the `threads` runtime threads makes its
    /// own pool at its first use, with an even share of `pool.min` and
    /// `pool.max` (see [`share`]).
    pub fn open(
        settings: ConnectionSettings,
        admission: Arc<Admission>,
        threads: usize,
    ) -> std::result::Result<Self, Vec<Problem>> {
        static NEXT_ID: AtomicUsize = AtomicUsize::new(0);
        let scripts = ScriptSet::load(&settings)?;
        let slots = Arc::new(Semaphore::new(settings.tunables.concurrent_scripts()));
        for (key, value) in settings.secret_configuration() {
            let chars = value.expose().chars().count();
            // An empty value is no secret and is never masked.
            if (1..call::WHOLE_TEXT_CHARS).contains(&chars) {
                tracing::warn!(
                    connection = %settings.name,
                    "configuration value `{key}` is shorter than {} characters: it is masked \
                     only where it stands as a whole word; list it in public_configuration \
                     if it is not a secret",
                    call::WHOLE_TEXT_CHARS
                );
            }
        }
        let masker = Masker::new(
            settings
                .secret_configuration()
                .map(|(_, v)| v)
                .chain(settings.adapters.secrets())
                .map(|v| v.expose().to_string()),
        );
        Ok(Connection {
            masker,
            dummy_hash: DummyHash {
                made: Arc::default(),
                took_micros: Arc::default(),
                policy: settings.hash_policy(),
                connection: settings.name.clone(),
            },
            settings,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            threads: threads.max(1),
            stores: Mutex::default(),
            aside: Arc::default(),
            scripts: RwLock::new(Arc::new(scripts)),
            reload_failed: RwLock::new(None),
            waiting: AtomicUsize::new(0),
            slots,
            admission,
        })
    }

    /// Makes the dummy hash now, on the blocking pool and through the hash
    /// gate, so that the first unknown user does not pay for it.
    pub fn prepare_dummy_hash(&self) {
        let dummy = self.dummy_hash.clone();
        tokio::spawn(password::gated(None, move || {
            dummy.get();
        }));
    }

    /// This thread's store for the connection, made at its first use.
    pub fn store(&self) -> Arc<Store> {
        if let Some(store) = THREAD_STORES.with(|m| m.borrow().get(&self.id).cloned()) {
            return store;
        }
        let mut all = self.stores.lock().unwrap_or_else(|p| p.into_inner());
        let pool = &self.settings.tunables.pool;
        let nth = all.len();
        let store = Arc::new(Store::sharing_aside(
            &self.settings,
            share(pool.min, self.threads, nth),
            share(pool.max, self.threads, nth).max(1),
            self.aside.clone(),
        ));
        all.push(store.clone());
        THREAD_STORES.with(|m| m.borrow_mut().insert(self.id, store.clone()));
        store
    }

    /// Kills the statements the connection's pools run now, on every
    /// thread: a drain out of time, just before the process ends.
    pub async fn kill_running(&self) {
        let stores: Vec<Arc<Store>> = self
            .stores
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for store in stores {
            store.kill_running().await;
        }
    }

    /// Store connections held by scripts now, over all threads.
    pub fn in_use(&self) -> usize {
        let all = self.stores.lock().unwrap_or_else(|p| p.into_inner());
        all.iter().map(|s| s.in_use()).sum()
    }

    /// The most store connections the connection's pools may hold over all
    /// threads: `pool.max`, split between the threads, each holding at
    /// least one (so the number of threads, when that is more).
    pub fn pool_max(&self) -> usize {
        pools_total(self.settings.tunables.pool.max, self.threads)
    }

    /// Closes this thread's pool of the connection, when it has one: at the
    /// end of the thread's runtime, which the pool belongs to.
    pub async fn close_thread_store(&self) {
        let store = THREAD_STORES.with(|m| m.borrow_mut().remove(&self.id));
        if let Some(store) = store {
            store.close().await;
        }
    }

    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// The scripts in service now.
    pub fn scripts(&self) -> Arc<ScriptSet> {
        match self.scripts.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Loads the scripts again. A set that fails to load is not taken: the
    /// previous one keeps serving, and the failure is kept for `/readyz`
    /// until a good set loads. Requests in flight finish on their own set.
    pub fn reload_scripts(&self) -> std::result::Result<(), Vec<Problem>> {
        let loaded = ScriptSet::load(&self.settings);
        let mut failed = self
            .reload_failed
            .write()
            .unwrap_or_else(|p| p.into_inner());
        match loaded {
            Ok(set) => {
                *self.scripts.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
                *failed = None;
                tracing::info!(connection = self.name(), "scripts reloaded");
                Ok(())
            }
            Err(problems) => {
                for p in &problems {
                    tracing::error!(connection = self.name(), "reload refused: {p}");
                }
                *failed = Some(problems.clone());
                Err(problems)
            }
        }
    }

    /// False while the last reload was refused.
    pub fn scripts_ok(&self) -> bool {
        self.reload_failed
            .read()
            .map(|f| f.is_none())
            .unwrap_or(false)
    }

    /// Scripts running now.
    pub fn running(&self) -> usize {
        self.settings
            .tunables
            .concurrent_scripts()
            .saturating_sub(self.slots.available_permits())
    }

    /// Scripts waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    async fn admit(&self) -> Result<OwnedSemaphorePermit> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let waiting = &self.admission.waiting;
        if waiting.fetch_add(1, Ordering::SeqCst) >= self.admission.max_waiting {
            waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::Overloaded);
        }
        let _waiting = Waiting(waiting);
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _mine = Waiting(&self.waiting);
        self.slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Overloaded)
    }

    /// Whether the connection serves `action` now: it has the script, and
    /// sign-up is allowed. The one place these rules live.
    pub fn offers(&self, action: Action) -> Result<()> {
        self.offers_with(&self.scripts(), action)
    }

    fn offers_with(&self, scripts: &ScriptSet, action: Action) -> Result<()> {
        if !scripts.has(action.script()) {
            return Err(Error::ActionNotConfigured);
        }
        if action == Action::Signup && !self.settings.tunables.signup {
            return Err(Error::SignupDisabled);
        }
        Ok(())
    }

    /// Calls `function` of the script `script` outside any request (a
    /// command's work, such as `export`'s pages), under the connection's
    /// limits, with its own store session. Answers the result and the time
    /// spent waiting for the store.
    pub async fn call_function(
        self: &Arc<Self>,
        script: &'static str,
        function: &'static str,
        args: Vec<rhai::Dynamic>,
        masker: Masking,
    ) -> (Result<rhai::Dynamic>, Duration) {
        let scripts = self.scripts();
        let deadline =
            Instant::now() + Duration::from_millis(self.settings.tunables.script_timeout_ms);
        let state = CallState {
            session: Some(Session::new(self.store(), deadline)),
            context: Default::default(),
            masker: match masker {
                Masking::Hashes => self.masker.hiding_hashes(),
                Masking::Export => self.masker.exporting(),
            },
            verifying: Duration::ZERO,
            deadline,
            modules: Vec::new(),
            compiling: Vec::new(),
            host_error: None,
        };
        let ran = call::run(state, move |call| {
            scripts.call_fn(call, script, function, args)
        })
        .await;
        let (result, state) = match ran {
            Ok(done) => done,
            Err(e) => {
                return (
                    Err(Error::Script(format!("the script could not start: {e}"))),
                    Duration::ZERO,
                )
            }
        };
        let mut waited = Duration::ZERO;
        if let Some(mut session) = state.session {
            waited = std::mem::take(&mut session.query_times).iter().sum();
            session.finish().await;
        }
        if let Err(e) = &result {
            if e.is_failure() {
                // as a request's failure is logged (the cause masked)
                tracing::error!(error = e.code(), cause = %OneLine(e), script, function, "the script failed");
            }
        }
        (result, waited)
    }

    /// Runs a validated request through the connection's script.
    pub async fn perform(self: &Arc<Self>, request: Request) -> Result<Outcome> {
        self.perform_timed(request).await.0
    }

    /// As [`Connection::perform`], with how long the script and its queries
    /// took. The call runs on a task of this thread's own, which the caller
    /// only awaits: a caller that goes away (a client that disconnects)
    /// does not cut a script in the middle of its writes; it runs to its
    /// end or its deadline. Must run on a local runtime (a runtime thread,
    /// or the command line's).
    pub async fn perform_timed(self: &Arc<Self>, request: Request) -> (Result<Outcome>, Timings) {
        let this = self.clone();
        let span = tracing::Span::current();
        let working = crate::inflight::Working::start();
        let task = tokio::task::spawn_local(
            async move {
                let _working = working;
                let mut timings = Timings::default();
                let result = this.run(request, &mut timings).await;
                (result, timings)
            }
            .instrument(span),
        );
        let (result, timings) = match task.await {
            Ok(done) => done,
            Err(e) => (
                Err(Error::Script(format!("the script's task failed: {e}"))),
                Timings::default(),
            ),
        };
        tracing::debug!(
            script_ms = timings.script.as_secs_f64() * 1000.0,
            queries = timings.queries.len(),
            query_ms = timings.query_time().as_secs_f64() * 1000.0,
            "script finished"
        );
        if let Err(e) = &result {
            if e.is_failure() {
                // The cause stays in the log, under the request's span and id.
                tracing::error!(error = e.code(), cause = %OneLine(&e), "the script failed");
            }
        }
        (result, timings)
    }

    async fn run(&self, request: Request, timings: &mut Timings) -> Result<Outcome> {
        let scripts = self.scripts();
        self.offers_with(&scripts, request.action)?;
        request.check_profile_size(self.settings.tunables.max_profile_bytes)?;
        let _permit = self.admit().await?;
        let t = &self.settings.tunables;
        let limit = Duration::from_millis(t.script_timeout_ms);
        let deadline = Instant::now() + request.time_limit.map_or(limit, |l| l.min(limit));
        let max_profile = t.max_profile_bytes;
        let name = self.settings.name.clone();
        let is_login = request.action == Action::Login;
        let state = CallState {
            session: Some(Session::new(self.store(), deadline)),
            context: request
                .context
                .iter()
                .map(|(k, v)| (k.as_str().into(), v.as_str().unwrap_or_default().into()))
                .collect(),
            masker: self.masker.with_request(request.secrets()),
            verifying: Duration::ZERO,
            deadline,
            modules: Vec::new(),
            compiling: Vec::new(),
            host_error: None,
        };
        let started = Instant::now();
        let (result, state) = call::run(state, move |call| {
            request.run(call, &scripts, &name, max_profile)
        })
        .await
        .map_err(|e| Error::Script(format!("the script could not start: {e}")))?;
        *timings = Timings {
            script: started.elapsed(),
            ..Timings::default()
        };
        // The connection goes back before any dummy verification.
        if let Some(mut session) = state.session {
            timings.queries = std::mem::take(&mut session.query_times);
            session.finish().await;
        }
        if is_login
            && matches!(result, Err(Error::WrongUsernameOrPassword))
            && !self.dummy_hash.covered_by(state.verifying)
        {
            tracing::debug!(
                "the login verified no password, or only a fast hash: verifying a dummy hash"
            );
            let dummy = self.dummy_hash.clone();
            password::gated(Some(deadline), move || dummy.verify()).await;
        }
        result
    }
}

/// How [`Connection::call_function`] masks what its script logs: hashes
/// hidden by their shape (no hash is logged by a command), or also what the
/// script prints or throws left out whole (`export`'s pages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Masking {
    Hashes,
    Export,
}

/// A connection's dummy hash (see [`password::dummy_hash`]): made once, at
/// start or at its first use, on the blocking pool.
#[derive(Clone)]
struct DummyHash {
    made: Arc<OnceLock<String>>,
    /// How long its verification takes, a running average of the times
    /// measured (its making first), in microseconds; 0 while it is not made.
    took_micros: Arc<AtomicU64>,
    policy: password::HashPolicy,
    connection: String,
}

impl DummyHash {
    /// The hash, made now if it is not yet. A failure (which the settings'
    /// cost limits rule out) is logged: unknown users would then answer
    /// faster than wrong passwords.
    fn get(&self) -> &str {
        self.made.get_or_init(|| {
            let started = Instant::now();
            let made = password::dummy_hash(self.policy);
            self.note_time(started);
            made.unwrap_or_else(|e| {
                tracing::error!(
                    connection = %self.connection,
                    "no dummy hash could be made ({e}): login timing may tell which users exist"
                );
                String::new()
            })
        })
    }

    /// Verifies a password against the dummy hash (it fails), noting how
    /// long that took.
    fn verify(&self) {
        let hash = self.get();
        let started = Instant::now();
        let _ = password::verify("", hash);
        self.note_time(started);
    }

    /// Folds one verification's time into a running average (an eighth a
    /// time), so that one slow run on a loaded machine moves it little.
    fn note_time(&self, started: Instant) {
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let before = self.took_micros.load(Ordering::Relaxed);
        let now = if before == 0 {
            micros
        } else {
            (before.saturating_mul(7) / 8).saturating_add(micros / 8)
        };
        self.took_micros.store(now.max(1), Ordering::Relaxed);
    }

    /// Whether a failed login whose verifications took `verifying` already
    /// cost about what the dummy's verification costs: at least half of its
    /// usual time. None verified, or only a hash far faster than the
    /// connection's own algorithm (an MD5 or SHA-1 form, a low cost), is not.
    fn covered_by(&self, verifying: Duration) -> bool {
        let dummy = Duration::from_micros(self.took_micros.load(Ordering::Relaxed));
        !verifying.is_zero() && verifying * 2 >= dummy
    }
}

thread_local! {
    /// This runtime thread's stores, by connection id.
    static THREAD_STORES: RefCell<HashMap<usize, Arc<Store>>> = RefCell::default();
}

/// The `nth` of `threads` even shares of `total`: the remainder goes to the
/// first shares, so that the shares add up to `total`.
pub fn share(total: usize, threads: usize, nth: usize) -> usize {
    let threads = threads.max(1);
    total / threads + usize::from(nth % threads < total % threads)
}

/// What the pools of `threads` threads hold at most, each given its
/// [`share`] of `max` and at least one.
fn pools_total(max: usize, threads: usize) -> usize {
    (0..threads.max(1))
        .map(|nth| share(max, threads, nth).max(1))
        .sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn pools_hold_pool_max_or_one_a_thread() {
        for (max, threads, total) in [(20, 2, 20), (1, 4, 4), (3, 16, 16), (10, 1, 10), (7, 3, 7)] {
            assert_eq!(
                super::pools_total(max, threads),
                total,
                "{max} over {threads}"
            );
        }
    }

    #[test]
    fn shares_add_up() {
        for (total, threads) in [(20, 2), (21, 2), (1, 4), (0, 3), (7, 3), (5, 1)] {
            let shares: Vec<usize> = (0..threads)
                .map(|n| super::share(total, threads, n))
                .collect();
            assert_eq!(
                shares.iter().sum::<usize>(),
                total,
                "{total} over {threads}"
            );
            assert!(shares.iter().max().unwrap() - shares.iter().min().unwrap() <= 1);
        }
    }
}
