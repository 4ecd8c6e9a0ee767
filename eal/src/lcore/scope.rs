//! Scoped launches: closures that borrow from the caller's stack run on worker lcores, and every
//! one of them has returned before the scope ends (as `std::thread::scope`).

use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Mutex};

use super::launch::{Job, panic_message};
use crate::error::{Error, Result};
use crate::state::EalState;

type Packet<T> = Arc<Mutex<Option<std::thread::Result<T>>>>;

/// A scope in which closures borrowing local data run on worker lcores; made by
/// [`crate::Eal::scope`].
pub struct Scope<'scope, 'env: 'scope> {
    state: Arc<EalState>,
    launched: Mutex<Vec<u32>>,
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// The handle of a closure launched in a [`Scope`].
pub struct ScopedJoinHandle<'scope, T> {
    lcore: u32,
    packet: Packet<T>,
    state: Arc<EalState>,
    scope: PhantomData<&'scope ()>,
}

impl<'scope> Scope<'scope, '_> {
    /// Runs `f` on worker lcore `lcore`. Fails if the lcore is not a worker or is busy.
    pub fn launch<F, T>(&'scope self, lcore: u32, f: F) -> Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let packet: Packet<T> = Arc::new(Mutex::new(None));
        let out = packet.clone();
        let job: Box<dyn FnOnce() -> i32 + Send + 'scope> = Box::new(move || {
            let result = catch_unwind(AssertUnwindSafe(f));
            *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
            0
        });
        // SAFETY: only the lifetime changes. The job may borrow data that lives for 'scope;
        // `run` does not return (nor unwind) before every launched lcore has finished its job,
        // so the job never runs after those borrows end.
        let job: Job =
            unsafe { std::mem::transmute::<Box<dyn FnOnce() -> i32 + Send + 'scope>, Job>(job) };
        self.state.lcores.remote_launch(lcore, job)?;
        self.launched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(lcore);
        Ok(ScopedJoinHandle {
            lcore,
            packet,
            state: self.state.clone(),
            scope: PhantomData,
        })
    }
}

impl<T> ScopedJoinHandle<'_, T> {
    /// The lcore it runs on.
    pub fn lcore(&self) -> u32 {
        self.lcore
    }

    /// Whether the closure has returned.
    pub fn is_finished(&self) -> bool {
        self.packet
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Waits for the closure and returns its value, or [`Error::Panicked`] if it panicked.
    pub fn join(self) -> Result<T> {
        self.state.lcores.wait(self.lcore)?;
        let result = self
            .packet
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .expect("a finished scoped job leaves its result");
        result.map_err(|p| Error::Panicked {
            lcore: self.lcore,
            message: panic_message(p),
        })
    }
}

/// Runs `f` with a new scope and waits for every lcore launched in it.
pub(crate) fn run<'env, F, R>(state: Arc<EalState>, f: F) -> R
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
{
    let scope = Scope {
        state,
        launched: Mutex::new(Vec::new()),
        scope: PhantomData,
        env: PhantomData,
    };
    let result = catch_unwind(AssertUnwindSafe(|| f(&scope)));
    let launched = std::mem::take(&mut *scope.launched.lock().unwrap_or_else(|e| e.into_inner()));
    for lcore in launched {
        // The job itself never panics (it catches the closure's panic), so this only waits.
        let _ = scope.state.lcores.wait(lcore);
    }
    match result {
        Ok(r) => r,
        Err(p) => resume_unwind(p),
    }
}
