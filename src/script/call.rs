//! The state of the one script call running on this thread: its store
//! session, deadline, request context and the secrets to mask. Rhai's native
//! functions are registered once per engine, so they find the call they serve
//! here; each call runs start to end on one blocking thread.

use std::cell::{Cell, RefCell};
use std::time::Instant;

use rhai::Map as RhaiMap;

use crate::store::Session;

/// Replaces every occurrence of a secret with `[redacted]`.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    secrets: Vec<String>,
}

impl Masker {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        // Longest first, so that a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Masker { secrets }
    }

    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "[redacted]");
            }
        }
        out
    }
}

pub struct CallState {
    pub session: Session,
    pub context: RhaiMap,
    pub masker: Masker,
}

thread_local! {
    static CALL: RefCell<Option<CallState>> = const { RefCell::new(None) };
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Installs `state` for the duration of `f`, and hands it back afterwards.
pub fn with_call<R>(
    state: CallState,
    deadline: Instant,
    f: impl FnOnce() -> R,
) -> (R, Option<CallState>) {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            DEADLINE.with(|d| d.set(None));
        }
    }
    CALL.with(|c| *c.borrow_mut() = Some(state));
    DEADLINE.with(|d| d.set(Some(deadline)));
    let _reset = Reset;
    let out = f();
    (out, CALL.with(|c| c.borrow_mut().take()))
}

/// Runs `f` on the current call's state; `None` outside a call (as when
/// scripts are checked at load).
pub fn current<R>(f: impl FnOnce(&mut CallState) -> R) -> Option<R> {
    CALL.with(|c| c.borrow_mut().as_mut().map(f))
}

/// The current call's deadline, if a call is running.
pub fn deadline() -> Option<Instant> {
    DEADLINE.with(Cell::get)
}

/// Has the current call run past its deadline?
pub fn past_deadline() -> bool {
    DEADLINE.with(|d| d.get().is_some_and(|t| Instant::now() >= t))
}

/// Masks `text` with the current call's secrets.
pub fn mask(text: &str) -> String {
    current(|c| c.masker.mask(text)).unwrap_or_else(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_secret_longest_first() {
        let m = Masker::new(["hunter2".into(), "hunter22".into(), String::new()]);
        assert_eq!(
            m.mask("a hunter22 b hunter2 c"),
            "a [redacted] b [redacted] c"
        );
        assert_eq!(m.mask("nothing"), "nothing");
    }
}
