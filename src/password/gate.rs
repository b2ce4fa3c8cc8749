//! The hash gate: password hashing is pure CPU, so it runs on the blocking
//! pool, at most one computation per core at once, so that a burst of
//! logins can neither stall the runtime threads nor starve them (and
//! `/healthz`) of CPU. A script waiting at the gate is suspended and holds
//! no thread.

use std::sync::LazyLock;
use std::time::Instant;

use tokio::sync::Semaphore;

/// One slot per core.
static HASH_SLOTS: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(1, |n| n.get())));

/// Runs `f` on the blocking pool once a hash slot is free, waiting for the
/// slot no later than `deadline`; `None` when the deadline passed first.
pub async fn gated<T: Send + 'static>(
    deadline: Option<Instant>,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let slot = match deadline {
        Some(d) => tokio::time::timeout_at(d.into(), HASH_SLOTS.acquire())
            .await
            .ok()?
            .ok()?,
        None => HASH_SLOTS.acquire().await.ok()?,
    };
    tokio::task::spawn_blocking(move || {
        // The slot is held until the work is done, even if the waiter left.
        let _slot = slot;
        f()
    })
    .await
    .ok()
}
