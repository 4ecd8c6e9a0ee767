//! [`Timer`]: a callback that runs once or periodically on a chosen lcore.

use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::Arc;

use crate::data::TimerData;
use crate::error::TimerError;
use crate::expired::Expired;
use crate::node::{Header, Node};
use crate::protocol;
use crate::status::{PENDING, Status, TimerStatus};
use crate::sync::{Ordering, current_lcore};

/// Whether a timer runs once or reloads (DPDK's `enum rte_timer_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerType {
    /// One-shot: the timer stops once its callback returns (`SINGLE`).
    Single,
    /// Reloads after each run for `expire + period`, the period being the ticks it was armed
    /// with (`PERIODICAL`).
    Periodical,
}

/// A timer: a callback, owned by the timer, that runs on a chosen lcore once or periodically
/// after a number of TSC cycles (DPDK's `struct rte_timer` with `rte_timer_reset` and
/// friends). The lcore runs it from [`crate::manage()`] (or the instance's
/// [`TimerData::manage`]).
///
/// A timer is `Send` and `Sync`: share it (in an `Arc`, say) and any thread may reset or stop
/// it, while its callback may be running on another lcore; those calls return
/// [`TimerError::Running`] then, as DPDK's return -1, and the `_sync` variants wait.
///
/// Dropping a timer stops it. If its callback is running on another lcore at that moment, the
/// drop waits for the callback to return, as [`Timer::stop_sync`]; if that lcore is the caller
/// (a callback dropping its own timer, or one queued behind it), the timer is freed when the
/// callback returns, and a queued one does not run.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use rpdk_timer::{Timer, TimerType};
///
/// # let (_eal, _) = rpdk_eal::init(["doc", "-l", "0", "--no-huge", "--no-shconf"]).unwrap();
/// let fired = Arc::new(AtomicU32::new(0));
/// let count = fired.clone();
/// let timer = Timer::new(move |t| {
///     count.fetch_add(1, Ordering::Relaxed);
///     assert!(rpdk_eal::rdtsc() >= t.expire());
/// });
/// timer.reset(0, TimerType::Single, rpdk_eal::lcore::id().unwrap()).unwrap();
/// assert!(timer.pending());
/// while rpdk_timer::manage() == 0 {}
/// assert_eq!(fired.load(Ordering::Relaxed), 1);
/// assert!(!timer.pending());
/// ```
pub struct Timer<F> {
    node: NonNull<Header>,
    _closure: PhantomData<F>,
}

// SAFETY: the closure moves to and runs on the lcores the timer is armed on, one at a time (the
// protocol gives it to one running lcore), and is dropped on whichever thread frees the node:
// `F: Send` is what that needs. The rest of the node is atomics or fields the protocol guards.
unsafe impl<F: Send> Send for Timer<F> {}
// SAFETY: `&Timer` only allows reset, stop and status reads, which follow the protocol from any
// thread; the closure is never reached through a shared reference.
unsafe impl<F: Send> Sync for Timer<F> {}

impl<F> Timer<F>
where
    F: FnMut(&Expired<'_>) + Send + 'static,
{
    /// A stopped timer of the global instance that will run `f` (DPDK's `rte_timer_init`, with
    /// the callback given once, here).
    #[cfg(not(loom))]
    pub fn new(f: F) -> Self {
        Self::from_node(TimerData::global(), TimerData::acquire_global(), f)
    }

    /// A stopped timer of instance `data` that will run `f`; it is run by
    /// [`TimerData::manage`] of that instance only (the `alt` API of DPDK).
    pub fn new_in(data: &Arc<TimerData>, f: F) -> Self {
        Self::from_node(data, data.acquire(), f)
    }

    fn from_node(data: &TimerData, held: *const TimerData, f: F) -> Self {
        let home = current_lcore().unwrap_or(0);
        // The home list is where the first reset goes: make it now rather than then.
        data.lcore(home).prepare();
        let node = Node::alloc(f, held, home);
        Timer {
            node: NonNull::new(node).expect("Box::into_raw is never null"),
            _closure: PhantomData,
        }
    }
}

impl<F> Timer<F> {
    /// Arms the timer to expire `ticks` TSC cycles from now on `lcore` ([`crate::LCORE_ID_ANY`]
    /// for round robin over the enabled lcores), once or periodically with `ticks` as period
    /// (DPDK's `rte_timer_reset`). A pending timer is rescheduled.
    ///
    /// Fails with [`TimerError::Running`] while its callback runs on another lcore (or is
    /// queued to run), with [`TimerError::Config`] while another thread moves it, and on bad
    /// arguments. Called from the timer's own callback, it takes effect when the callback
    /// returns.
    #[inline]
    pub fn reset(&self, ticks: u64, kind: TimerType, lcore: u32) -> Result<(), TimerError> {
        // SAFETY: `self` owns the live node.
        unsafe { protocol::reset(self.node.as_ptr(), ticks, kind, lcore) }
    }

    /// [`Timer::reset`], waiting while the timer is busy (DPDK's `rte_timer_reset_sync`).
    /// Where DPDK would hang (the timer is queued behind the callback running on the calling
    /// lcore), it fails with [`TimerError::WouldDeadlock`].
    pub fn reset_sync(&self, ticks: u64, kind: TimerType, lcore: u32) -> Result<(), TimerError> {
        loop {
            match self.reset(ticks, kind, lcore) {
                Err(e) => protocol::wait_or_fail(e)?,
                Ok(()) => return Ok(()),
            }
        }
    }

    /// Stops the timer (DPDK's `rte_timer_stop`): once this returns `Ok`, its callback will not
    /// run until it is reset. Stopping a stopped timer succeeds. Fails with
    /// [`TimerError::Running`] while its callback runs on another lcore, and with
    /// [`TimerError::Config`] while another thread moves it. Called from the timer's own
    /// callback, it takes effect when the callback returns.
    #[inline]
    pub fn stop(&self) -> Result<(), TimerError> {
        // SAFETY: `self` owns the live node.
        unsafe { protocol::stop(self.node.as_ptr()) }
    }

    /// [`Timer::stop`], waiting while the timer is busy (DPDK's `rte_timer_stop_sync`), or
    /// failing with [`TimerError::WouldDeadlock`] where waiting could not end.
    pub fn stop_sync(&self) -> Result<(), TimerError> {
        loop {
            match self.stop() {
                Err(e) => protocol::wait_or_fail(e)?,
                Ok(()) => return Ok(()),
            }
        }
    }

    /// Whether the timer is pending: armed, its callback not yet started (DPDK's
    /// `rte_timer_pending`).
    #[inline]
    pub fn pending(&self) -> bool {
        self.raw_status().state() == PENDING
    }

    /// Its state and owner lcore.
    pub fn status(&self) -> TimerStatus {
        self.raw_status().public()
    }

    #[inline(always)]
    fn raw_status(&self) -> Status {
        // SAFETY: `self` owns the live node; the status word is atomic.
        Status(unsafe { self.node.as_ref() }.status.load(Ordering::Relaxed))
    }
}

impl<F> Drop for Timer<F> {
    fn drop(&mut self) {
        // SAFETY: the owner is going away; no other `Timer` refers to the node.
        unsafe { protocol::release(self.node.as_ptr()) }
    }
}

impl<F> std::fmt::Debug for Timer<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer")
            .field("status", &self.status())
            .finish()
    }
}
