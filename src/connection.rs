//! A configured connection: its store, its scripts and its slots. Running an
//! action admits it (per-connection slots, a bounded global queue), moves it
//! to the blocking pool, installs the call state and runs the script there.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
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

/// How long one action took: the script call (queries included) and the
/// statements it ran.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    pub script: Duration,
    pub queries: u32,
    pub query_time: Duration,
}

pub struct Connection {
    pub settings: ConnectionSettings,
    pub store: Arc<Store>,
    scripts: RwLock<Arc<ScriptSet>>,
    /// Scripts of this connection waiting for a slot.
    waiting: AtomicUsize,
    /// The problems of the last reload, when it was refused.
    reload_failed: RwLock<Option<Vec<Problem>>>,
    slots: Arc<Semaphore>,
    admission: Arc<Admission>,
    /// Masks the secret configuration values; each call adds its passwords.
    masker: Masker,
    /// What a login that found no user verifies (see [`password::dummy_hash`]),
    /// made once, off the request path.
    dummy_hash: Arc<OnceLock<String>>,
}

impl Connection {
    /// Loads the scripts and builds the pool (which connects lazily).
    pub fn open(
        settings: ConnectionSettings,
        admission: Arc<Admission>,
    ) -> std::result::Result<Self, Vec<Problem>> {
        let scripts = ScriptSet::load(&settings)?;
        let store = Arc::new(Store::new(&settings, tokio::runtime::Handle::current()));
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
                .map(|(_, v)| v.expose().to_string()),
        );
        Ok(Connection {
            masker,
            dummy_hash: Arc::default(),
            settings,
            store,
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
        let (dummy, policy, name) = (
            self.dummy_hash.clone(),
            self.settings.hash_policy(),
            self.settings.name.clone(),
        );
        tokio::task::spawn_blocking(move || {
            password::gated(None, || make_dummy_hash(&dummy, policy, &name));
        });
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

    /// Runs a validated request through the connection's script.
    pub async fn perform(&self, request: Request) -> Result<Outcome> {
        self.perform_timed(request).await.0
    }

    /// As [`Connection::perform`], with how long the script and its queries took.
    pub async fn perform_timed(&self, request: Request) -> (Result<Outcome>, Timings) {
        let mut timings = Timings::default();
        let result = self.run(request, &mut timings).await;
        tracing::debug!(
            script_ms = timings.script.as_secs_f64() * 1000.0,
            queries = timings.queries,
            query_ms = timings.query_time.as_secs_f64() * 1000.0,
            "script finished"
        );
        if let Err(e) = &result {
            if e.is_failure() {
                // The cause stays in the log, under the request's span and id.
                tracing::error!(error = e.code(), cause = %e, "the script failed");
            }
        }
        (result, timings)
    }

    async fn run(&self, request: Request, timings: &mut Timings) -> Result<Outcome> {
        let scripts = self.scripts();
        let script = request.action.script();
        if !scripts.has(script) {
            return Err(Error::ActionNotConfigured);
        }
        if request.action == crate::actions::Action::Signup && !self.settings.tunables.signup {
            return Err(Error::SignupDisabled);
        }
        let permit = self.admit().await?;
        let t = &self.settings.tunables;
        let timeout = Duration::from_millis(t.script_timeout_ms);
        let max_profile = t.max_profile_bytes;
        let store = self.store.clone();
        let name = self.settings.name.clone();
        let masker = self.masker.with_request(request.secrets());
        let is_login = request.action == Action::Login;
        let (dummy_hash, policy) = (self.dummy_hash.clone(), self.settings.hash_policy());
        let connection = self.settings.name.clone();
        let span = tracing::Span::current();
        let run = tokio::task::spawn_blocking(move || {
            let _enter = span.enter();
            let _permit = permit;
            let deadline = Instant::now() + timeout;
            let state = CallState {
                session: Session::new(store, deadline),
                context: request
                    .context
                    .iter()
                    .map(|(k, v)| (k.as_str().into(), v.as_str().unwrap_or_default().into()))
                    .collect(),
                masker,
                verified: false,
            };
            let started = Instant::now();
            let (result, state) = call::with_call(state, deadline, || {
                request.run(&scripts, &name, max_profile)
            });
            let verified = state.as_ref().is_some_and(|s| s.verified);
            if is_login && matches!(result, Err(Error::WrongUsernameOrPassword)) && !verified {
                tracing::debug!("the login verified no password: verifying a dummy hash");
                password::gated(Some(deadline), || {
                    let dummy = make_dummy_hash(&dummy_hash, policy, &connection);
                    password::verify("", dummy)
                });
            }
            let mut timings = Timings {
                script: started.elapsed(),
                ..Timings::default()
            };
            if let Some(state) = state {
                timings.queries = state.session.queries;
                timings.query_time = state.session.query_time;
                state.session.finish();
            }
            (result, timings)
        });
        match run.instrument(tracing::Span::current()).await {
            Ok((result, took)) => {
                *timings = took;
                result
            }
            Err(e) => Err(Error::Script(format!("the script's thread failed: {e}"))),
        }
    }
}

/// The connection's dummy hash, made at its first use. A failure (which
/// the settings' cost limits rule out) is logged: unknown users would then
/// answer faster than wrong passwords.
fn make_dummy_hash<'d>(
    dummy: &'d OnceLock<String>,
    policy: password::HashPolicy,
    connection: &str,
) -> &'d str {
    dummy.get_or_init(|| {
        password::dummy_hash(policy).unwrap_or_else(|e| {
            tracing::error!(
                connection,
                "no dummy hash could be made ({e}): login timing may tell which users exist"
            );
            String::new()
        })
    })
}
