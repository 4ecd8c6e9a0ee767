//! What the timer protocol runs on: std's atomics and cells, or loom's under `--cfg loom` (where
//! the protocol is model-checked), and the two facts it takes from the environment: the calling
//! lcore and the time.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};

/// The most lcores, hence timer lists per instance (the EAL's `MAX_LCORE`; 4 under loom).
#[cfg(not(loom))]
pub const MAX_LCORE: u32 = rpdk_eal::lcore::MAX_LCORE;
/// The most lcores, hence timer lists per instance (the EAL's `MAX_LCORE`; 4 under loom).
#[cfg(loom)]
pub const MAX_LCORE: u32 = 4;

/// A cell whose accesses an atomics protocol makes exclusive: a list lock, or the state of the
/// timer it belongs to. Under loom, every access is checked against the protocol's
/// happens-before edges, so a field touched without owning it is reported as a data race.
pub(crate) struct Racy<T> {
    #[cfg(not(loom))]
    cell: std::cell::UnsafeCell<T>,
    #[cfg(loom)]
    cell: loom::cell::UnsafeCell<T>,
}

// SAFETY: every access goes through the `unsafe` methods below, whose callers guarantee that no
// other thread accesses the value at the same time (they own it under the timer protocol).
unsafe impl<T: Send> Sync for Racy<T> {}

impl<T> Racy<T> {
    /// A cell holding `v`.
    #[cfg(not(loom))]
    pub(crate) const fn new(v: T) -> Self {
        Self {
            cell: std::cell::UnsafeCell::new(v),
        }
    }

    /// A cell holding `v`.
    #[cfg(loom)]
    pub(crate) fn new(v: T) -> Self {
        Self {
            cell: loom::cell::UnsafeCell::new(v),
        }
    }

    /// Runs `f` on the value.
    ///
    /// # Safety
    /// The caller owns the value under the protocol for the whole call: no other thread reads
    /// or writes it meanwhile.
    #[inline(always)]
    pub(crate) unsafe fn with_mut<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        #[cfg(not(loom))]
        {
            // SAFETY: exclusive access, per this function's contract.
            f(unsafe { &mut *self.cell.get() })
        }
        #[cfg(loom)]
        {
            // SAFETY: exclusive access, per this function's contract.
            self.cell.with_mut(|p| f(unsafe { &mut *p }))
        }
    }
}

impl<T: Copy> Racy<T> {
    /// Reads the value.
    ///
    /// # Safety
    /// As [`Racy::with_mut`]: no other thread writes the value meanwhile.
    #[inline(always)]
    pub(crate) unsafe fn get(&self) -> T {
        #[cfg(not(loom))]
        {
            // SAFETY: no concurrent writer, per this function's contract.
            unsafe { *self.cell.get() }
        }
        #[cfg(loom)]
        {
            // SAFETY: no concurrent writer, per this function's contract.
            self.cell.with(|p| unsafe { *p })
        }
    }

    /// Writes the value.
    ///
    /// # Safety
    /// As [`Racy::with_mut`].
    #[inline(always)]
    pub(crate) unsafe fn set(&self, v: T) {
        // SAFETY: exclusive access, per this function's contract.
        unsafe { self.with_mut(|x| *x = v) }
    }
}

/// The calling thread's lcore id; `None` off EAL threads.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn current_lcore() -> Option<u32> {
    rpdk_eal::lcore::id()
}

/// The time, in TSC cycles.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn now() -> u64 {
    rpdk_eal::time::rdtsc()
}

/// Tells the CPU that the thread is spinning.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn spin() {
    std::hint::spin_loop();
}

#[cfg(loom)]
loom::thread_local! {
    static LCORE: std::cell::Cell<u32> = std::cell::Cell::new(u32::MAX);
}

/// The calling thread's lcore id, as set by [`set_lcore`] (loom models have no EAL).
#[cfg(loom)]
pub(crate) fn current_lcore() -> Option<u32> {
    let id = LCORE.with(|c| c.get());
    (id != u32::MAX).then_some(id)
}

/// Makes the calling loom thread lcore `id`.
#[cfg(loom)]
pub(crate) fn set_lcore(id: Option<u32>) {
    LCORE.with(|c| c.set(id.unwrap_or(u32::MAX)));
}

/// A clock that ticks once per reading (outside loom's model: time is not shared state), so
/// timers armed with 0 or 1 ticks are due at the next `manage()`.
#[cfg(loom)]
pub(crate) fn now() -> u64 {
    static CLOCK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1 << 20);
    CLOCK.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Yields to loom's scheduler, which must see a spinning thread give way.
#[cfg(loom)]
pub(crate) fn spin() {
    loom::hint::spin_loop();
}
