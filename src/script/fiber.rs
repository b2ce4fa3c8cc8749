//! Script calls as stackful coroutines ("fibers") on the thread that serves
//! the request. Rhai is synchronous and the store driver is async: a host
//! function that must wait (a query, a connection, a password hash, a turn
//! on the CPU) hands the future it waits for to [`wait`], which suspends the
//! fiber; the task that drives the fiber awaits the future on the same
//! thread and resumes the fiber with its output. No thread is parked and no
//! request crosses threads.
//!
//! This is the crate's one module with `unsafe` code; the safety argument
//! is beside it, at [`YIELDER`].

#![allow(unsafe_code)]

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr;
use std::time::{Duration, Instant};

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};

/// What a suspended fiber waits for: a future that needs nothing from the
/// fiber's stack, and gives back whatever it owned.
type Work = Pin<Box<dyn Future<Output = Box<dyn Any>>>>;

/// What a fiber is resumed with.
enum Resume {
    /// The output of the future it waited for (nothing on the first resume).
    Ready(Box<dyn Any>),
    /// Stop: every wait fails from now on, so that the call ends.
    Cancel,
}

/// The fiber's waits are over: it is being cancelled, or it called [`wait`]
/// outside a fiber. Store functions turn this into an uncatchable
/// termination of the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

/// Each fiber's stack. The deepest call the default limits admit (64 call
/// levels, each with the deepest expression `max_expr_depth` lets through;
/// a test runs it) used about 5 MiB when this design was prototyped, and an overflow past the guard page kills the process,
/// so the margin is generous: room for `max_call_depth` up to its cap of
/// [`MAX_CALL_DEPTH`]. The memory is committed only as it is used.
pub const STACK_BYTES: usize = 16 * 1024 * 1024;

/// The deepest `max_call_depth` the stack has room for.
pub const MAX_CALL_DEPTH: usize = 128;

/// Finished stacks kept per thread for the next calls (a fresh one costs
/// a mapping and its page faults, about 13 µs). A kept stack keeps the
/// pages its deepest call touched, so few are kept.
const STACKS_KEPT: usize = 16;

/// A fiber that has run this long since it was last resumed gives its turn
/// to the other tasks of its thread at its next progress check.
pub const TURN: Duration = Duration::from_micros(500);

thread_local! {
    /// The yielder of the fiber running on this thread, or null.
    ///
    /// # Safety
    ///
    /// Rhai's native functions are `'static` and shared, so they cannot be
    /// handed the `&Yielder` that corosensei gives a coroutine's body; they
    /// find it here. The pointer is sound to dereference whenever it is not
    /// null, because:
    /// - it is set only by a fiber's body ([`Fiber::new`]), to the `Yielder`
    ///   that corosensei keeps alive for the whole body, at the start of the
    ///   body and again each time a suspension returns;
    /// - it is cleared before every suspension and when the body ends, by
    ///   return or by unwinding ([`Clear`]), so while a fiber is suspended
    ///   or done the pointer is null and no other code on the thread can
    ///   reach its yielder;
    /// - a fiber never leaves the thread it was made on: [`Fiber`] is
    ///   `!Send` (a raw-pointer marker), so the compiler refuses to move it,
    ///   and a thread-local pointer never names another thread's fiber;
    /// - fibers do not nest: [`Fiber::run`] refuses to start inside a fiber.
    static YIELDER: Cell<*const Yielder<Resume, Work>> = const { Cell::new(ptr::null()) };
    /// When the running fiber was last resumed, for [`should_yield`].
    static RESUMED: Cell<Option<Instant>> = const { Cell::new(None) };
    static STACKS: RefCell<Vec<DefaultStack>> = const { RefCell::new(Vec::new()) };
}

/// Clears the yielder pointer when dropped: before a suspension, and when
/// the body ends, however it ends.
struct Clear;

impl Drop for Clear {
    fn drop(&mut self) {
        YIELDER.with(|y| y.set(ptr::null()));
    }
}

/// Whether code runs inside a fiber now.
pub fn inside() -> bool {
    YIELDER.with(|y| !y.get().is_null())
}

/// Suspends the running fiber until `work` is done, and answers its output.
/// The future runs on the fiber's thread, driven by [`Fiber::run`]; it may
/// borrow nothing from the fiber (it is `'static`). `Err` when the fiber is
/// being cancelled, or when called outside a fiber.
pub fn wait<T: 'static>(work: impl Future<Output = T> + 'static) -> Result<T, Cancelled> {
    let yielder = YIELDER.with(Cell::get);
    if yielder.is_null() {
        return Err(Cancelled);
    }
    let work: Work = Box::pin(async move { Box::new(work.await) as Box<dyn Any> });
    // SAFETY: not null, so set by the running fiber's body to its own
    // yielder, which lives until the body ends (see YIELDER).
    let yielder_ref = unsafe { &*yielder };
    // While suspended, no code on this thread may find this fiber's yielder.
    YIELDER.with(|y| y.set(ptr::null()));
    let resumed = yielder_ref.suspend(work);
    YIELDER.with(|y| y.set(yielder));
    match resumed {
        Resume::Ready(output) => output.downcast::<T>().map(|t| *t).map_err(|_| Cancelled),
        Resume::Cancel => Err(Cancelled),
    }
}

/// Whether the running fiber has had the CPU for a whole [`TURN`].
pub fn should_yield() -> bool {
    RESUMED.with(|r| r.get().is_some_and(|t| t.elapsed() >= TURN))
}

/// Gives the thread's other tasks a turn, then goes on.
pub fn yield_now() -> Result<(), Cancelled> {
    wait(tokio::task::yield_now())
}

/// A script call running as a coroutine on this thread.
pub struct Fiber<R> {
    coroutine: Option<Coroutine<Resume, Work, R, DefaultStack>>,
    /// Never `Send`: the yielder pointer is only sound on one thread.
    _here: PhantomData<*const ()>,
}

impl<R: 'static> Fiber<R> {
    /// A fiber that will run `body`, on a stack from this thread's pool.
    pub fn new(body: impl FnOnce() -> R + 'static) -> std::io::Result<Self> {
        let stack = match STACKS.with(|s| s.borrow_mut().pop()) {
            Some(stack) => stack,
            None => DefaultStack::new(STACK_BYTES)?,
        };
        let coroutine = Coroutine::with_stack(stack, move |yielder: &Yielder<Resume, Work>, _| {
            YIELDER.with(|y| y.set(yielder));
            let _clear = Clear;
            body()
        });
        Ok(Fiber {
            coroutine: Some(coroutine),
            _here: PhantomData,
        })
    }

    /// Runs the fiber to its end, awaiting each future it waits for on this
    /// thread. `around` is called with `true` before each resume and with
    /// `false` after it, to swap the call's state in and out of the thread.
    /// A future still waiting at `give_up` is dropped and the fiber resumed
    /// with a cancellation; from then on every wait fails at once, so that
    /// the call ends.
    pub async fn run(mut self, give_up: Instant, mut around: impl FnMut(bool)) -> R {
        debug_assert!(!inside(), "a fiber cannot run inside another fiber");
        let mut input = Resume::Ready(Box::new(()));
        let mut cancelled = false;
        loop {
            let Some(coroutine) = self.coroutine.as_mut() else {
                unreachable!("a fiber runs once");
            };
            around(true);
            RESUMED.with(|r| r.set(Some(Instant::now())));
            // A panic in the fiber comes out of `resume`: take the call's
            // state back off the thread first, then let it go on.
            let step =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| coroutine.resume(input)));
            RESUMED.with(|r| r.set(None));
            around(false);
            let step = step.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            match step {
                CoroutineResult::Yield(work) => {
                    input = match cancelled {
                        true => Resume::Cancel,
                        false => match tokio::time::timeout_at(give_up.into(), work).await {
                            Ok(output) => Resume::Ready(output),
                            Err(_) => {
                                cancelled = true;
                                Resume::Cancel
                            }
                        },
                    };
                }
                CoroutineResult::Return(value) => {
                    if let Some(done) = self.coroutine.take() {
                        recycle(done.into_stack());
                    }
                    return value;
                }
            }
        }
    }
}

impl<R> Drop for Fiber<R> {
    /// A fiber dropped while suspended (its driving task was dropped, as at
    /// the end of the runtime) is resumed with cancellations until it ends,
    /// rather than force-unwound: its store functions throw, the script's
    /// error path runs, and its stack is reused.
    fn drop(&mut self) {
        let Some(mut coroutine) = self.coroutine.take() else {
            return;
        };
        if !coroutine.started() {
            return;
        }
        while !coroutine.done() {
            if let CoroutineResult::Return(_) = coroutine.resume(Resume::Cancel) {
                break;
            }
        }
        recycle(coroutine.into_stack());
    }
}

fn recycle(stack: DefaultStack) {
    // At thread exit the pool may be gone already: the stack is then unmapped.
    let _ = STACKS.try_with(|s| {
        let mut kept = s.borrow_mut();
        if kept.len() < STACKS_KEPT {
            kept.push(stack);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> tokio::runtime::LocalRuntime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build_local(Default::default())
            .expect("a local runtime")
    }

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    #[test]
    fn waits_suspend_and_fibers_interleave_on_one_thread() {
        let rt = local();
        rt.block_on(async {
            let log = std::rc::Rc::new(RefCell::new(Vec::new()));
            let fiber = |name: &'static str, pause: u64| {
                let log = log.clone();
                Fiber::new(move || {
                    log.borrow_mut().push(format!("{name} start"));
                    let got = wait(async move {
                        tokio::time::sleep(Duration::from_millis(pause)).await;
                        pause * 2
                    });
                    log.borrow_mut().push(format!("{name} got {got:?}"));
                    got
                })
                .unwrap()
            };
            let (a, b) = (fiber("a", 40), fiber("b", 10));
            let (a, b) = tokio::join!(a.run(later(), |_| {}), b.run(later(), |_| {}));
            assert_eq!((a, b), (Ok(80), Ok(20)));
            assert_eq!(
                *log.borrow(),
                ["a start", "b start", "b got Ok(20)", "a got Ok(80)"]
            );
            assert!(!inside());
        });
    }

    #[test]
    fn a_wait_past_give_up_is_cancelled_and_later_waits_fail_too() {
        let rt = local();
        rt.block_on(async {
            let fiber = Fiber::new(|| {
                let first = wait(std::future::pending::<()>());
                let second = wait(async { 1 });
                (first, second)
            })
            .unwrap();
            let give_up = Instant::now() + Duration::from_millis(50);
            let (first, second) = fiber.run(give_up, |_| {}).await;
            assert_eq!(first, Err(Cancelled));
            // A cancelled fiber's later waits resume at once: the driver
            // already gave up, so the second future is cancelled too.
            assert_eq!(second, Err(Cancelled));
        });
    }

    #[test]
    fn waiting_outside_a_fiber_fails() {
        assert_eq!(wait(async { 1 }), Err(Cancelled));
    }

    #[test]
    fn a_dropped_suspended_fiber_is_cancelled_not_unwound() {
        let rt = local();
        let ended = std::rc::Rc::new(Cell::new(None));
        rt.block_on(async {
            let seen = ended.clone();
            let fiber = Fiber::new(move || {
                let got = wait(std::future::pending::<()>());
                seen.set(Some(got));
            })
            .unwrap();
            // Drive it to its first wait, then drop the driver.
            let _ =
                tokio::time::timeout(Duration::from_millis(20), fiber.run(later(), |_| {})).await;
        });
        assert_eq!(ended.get(), Some(Err(Cancelled)));
    }

    #[test]
    fn stacks_are_reused() {
        let rt = local();
        rt.block_on(async {
            for _ in 0..3 {
                Fiber::new(|| ()).unwrap().run(later(), |_| {}).await;
            }
        });
        assert_eq!(STACKS.with(|s| s.borrow().len()), 1);
    }
}
