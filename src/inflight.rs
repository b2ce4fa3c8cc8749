//! Work still running on this runtime thread that no client waits for: the
//! script calls (whose client may have gone) and the kills of timed-out
//! statements. A thread that stops waits for them before it closes its
//! pools, so that a script whose client left is not cut short by shutdown.

use std::cell::Cell;
use std::rc::Rc;

use tokio::sync::Notify;

#[derive(Default)]
struct InFlight {
    count: Cell<usize>,
    idle: Notify,
}

thread_local! {
    static IN_FLIGHT: Rc<InFlight> = Rc::default();
}

/// Counts one piece of work in flight on this thread until dropped.
pub struct Working(Rc<InFlight>);

impl Working {
    pub fn start() -> Self {
        IN_FLIGHT.with(|f| {
            f.count.set(f.count.get() + 1);
            Working(f.clone())
        })
    }
}

impl Drop for Working {
    fn drop(&mut self) {
        let left = self.0.count.get().saturating_sub(1);
        self.0.count.set(left);
        if left == 0 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Completes once no work is in flight on this thread.
pub async fn all_finished() {
    let in_flight = IN_FLIGHT.with(Rc::clone);
    loop {
        let idle = in_flight.idle.notified();
        if in_flight.count.get() == 0 {
            return;
        }
        idle.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_when_the_last_work_ends() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build_local(Default::default())
            .unwrap();
        rt.block_on(async {
            let (a, b) = (Working::start(), Working::start());
            let waiter = tokio::task::spawn_local(all_finished());
            tokio::task::yield_now().await;
            drop(a);
            tokio::task::yield_now().await;
            assert!(!waiter.is_finished());
            drop(b);
            waiter.await.unwrap();
            // nothing in flight: at once
            all_finished().await;
        });
    }
}
