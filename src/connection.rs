//! A configured connection: its store, its scripts and its slots. Running an
//! action admits it (per-connection slots, a bounded global queue), moves it
//! to the blocking pool, installs the call state and runs the script there.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

use crate::actions::{Outcome, Request};
use crate::error::{Error, Result};
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

pub struct Connection {
    pub settings: ConnectionSettings,
    pub store: Arc<Store>,
    scripts: RwLock<Arc<ScriptSet>>,
    slots: Arc<Semaphore>,
    admission: Arc<Admission>,
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
        Ok(Connection {
            settings,
            store,
            scripts: RwLock::new(Arc::new(scripts)),
            slots,
            admission,
        })
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
        self.slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Overloaded)
    }

    /// Runs a validated request through the connection's script.
    pub async fn perform(&self, request: Request) -> Result<Outcome> {
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
        let masker = Masker::new(
            request.secrets().into_iter().chain(
                self.settings
                    .configuration
                    .values()
                    .map(|v| v.expose().to_string()),
            ),
        );
        let span = tracing::Span::current();
        let started = Instant::now();
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
                source: scripts.file_of(script).display().to_string(),
            };
            let (result, state) = call::with_call(state, deadline, || {
                request.run(&scripts, &name, max_profile)
            });
            if let Some(state) = state {
                state.session.finish();
            }
            result
        });
        let result = run
            .instrument(tracing::Span::current())
            .await
            .unwrap_or_else(|e| Err(Error::Script(format!("the script's thread failed: {e}"))));
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "script finished"
        );
        result
    }
}
