//! Timer instances (DPDK's `rte_timer_data`): a list of pending timers per lcore with its lock,
//! what each lcore is running, and per-lcore statistics.
//!
//! The per-lcore part that `manage()` reads on every call (the earliest deadline, the lock, the
//! counters) is one 128-byte block per lcore; the wheels themselves are allocated the first
//! time a timer is armed on that lcore.

use std::io::{self, Write};
use std::ptr;
use std::sync::Arc;

use crate::error::TimerError;
use crate::node::Header;
use crate::protocol::Request;
use crate::sync::{
    AtomicBool, AtomicPtr, AtomicU32, AtomicU64, MAX_LCORE, Ordering, Racy, current_lcore, now,
    spin,
};
use crate::wheel::{Batch, Wheel};

/// The `lcore` of [`crate::Timer::reset`] that asks for a different lcore at each call, round
/// robin over the enabled lcores (DPDK's `LCORE_ID_ANY`).
pub const LCORE_ID_ANY: u32 = u32::MAX;

/// One lcore's timer list and what that lcore is doing with timers.
#[repr(C, align(128))]
pub(crate) struct LcoreTimers {
    /// A lower bound of the earliest deadline in this lcore's list; 0 when it is empty. Written
    /// under `lock`, read by `manage()` without it.
    pub(crate) next_due: AtomicU64,
    lock: AtomicBool,
    /// Set while `manage()` runs on this lcore, which is not reentrant.
    pub(crate) in_manage: AtomicBool,
    /// The round-robin cursor of [`LCORE_ID_ANY`], plus one: 0 until first used, when it
    /// starts from this lcore (as DPDK's).
    prev_lcore: AtomicU32,
    /// The timer whose callback runs on this lcore; null between callbacks.
    pub(crate) running: AtomicPtr<Header>,
    /// What that callback asked its own timer to do once it returns (this lcore only).
    pub(crate) request: Racy<Request>,
    wheel: AtomicPtr<Racy<Wheel>>,
    resets: AtomicU64,
    stops: AtomicU64,
    manages: AtomicU64,
}

impl LcoreTimers {
    #[cfg(not(loom))]
    const fn new() -> Self {
        LcoreTimers {
            next_due: AtomicU64::new(0),
            lock: AtomicBool::new(false),
            in_manage: AtomicBool::new(false),
            prev_lcore: AtomicU32::new(0),
            running: AtomicPtr::new(ptr::null_mut()),
            request: Racy::new(Request::None),
            wheel: AtomicPtr::new(ptr::null_mut()),
            resets: AtomicU64::new(0),
            stops: AtomicU64::new(0),
            manages: AtomicU64::new(0),
        }
    }

    #[cfg(loom)]
    fn new() -> Self {
        LcoreTimers {
            next_due: AtomicU64::new(0),
            lock: AtomicBool::new(false),
            in_manage: AtomicBool::new(false),
            prev_lcore: AtomicU32::new(0),
            running: AtomicPtr::new(ptr::null_mut()),
            request: Racy::new(Request::None),
            wheel: AtomicPtr::new(ptr::null_mut()),
            resets: AtomicU64::new(0),
            stops: AtomicU64::new(0),
            manages: AtomicU64::new(0),
        }
    }

    /// Counts a `manage()` call made by this lcore (its own thread only).
    #[inline(always)]
    pub(crate) fn count_manage(&self) {
        bump(&self.manages);
    }

    /// Makes sure the list's wheel exists (it is allocated on first use).
    pub(crate) fn prepare(&self) {
        self.wheel();
    }

    #[inline(always)]
    fn wheel(&self) -> &Racy<Wheel> {
        let mut w = self.wheel.load(Ordering::Acquire);
        if w.is_null() {
            w = self.install_wheel();
        }
        // SAFETY: an installed wheel lives as long as its instance, which outlives `self`'s
        // borrow.
        unsafe { &*w }
    }

    #[cold]
    #[inline(never)]
    fn install_wheel(&self) -> *mut Racy<Wheel> {
        let fresh = Box::into_raw(Box::new(Racy::new(Wheel::new(now()))));
        match self.wheel.compare_exchange(
            ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => fresh,
            Err(installed) => {
                // SAFETY: `fresh` was never shared.
                drop(unsafe { Box::from_raw(fresh) });
                installed
            }
        }
    }

    /// Takes this lcore's list lock.
    #[inline]
    pub(crate) fn lock(&self) -> ListGuard<'_> {
        let wheel = self.wheel();
        while self
            .lock
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spin();
            while self.lock.load(Ordering::Relaxed) {
                spin();
            }
        }
        ListGuard { lc: self, wheel }
    }
}

/// Adds one to a counter that only one thread writes.
#[inline(always)]
fn bump(c: &AtomicU64) {
    c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

/// A held list lock: the wheel and the nodes linked in it are the holder's.
pub(crate) struct ListGuard<'a> {
    lc: &'a LcoreTimers,
    wheel: &'a Racy<Wheel>,
}

impl ListGuard<'_> {
    /// Links `n`, whose deadline is set.
    ///
    /// # Safety
    /// The caller owns `n` under the protocol, and `n` is linked nowhere.
    #[inline]
    pub(crate) unsafe fn insert(&mut self, n: *mut Header) {
        // SAFETY: the lock is held, so the wheel is ours; the caller owns `n`.
        let expire = unsafe {
            self.wheel.with_mut(|w| w.insert(n));
            (*n).expire.get()
        };
        let due = self.lc.next_due.load(Ordering::Relaxed);
        if due == 0 || expire < due {
            self.lc.next_due.store(expire.max(1), Ordering::Relaxed);
        }
    }

    /// Unlinks `n`.
    ///
    /// # Safety
    /// `n` is linked in this list.
    #[inline]
    pub(crate) unsafe fn remove(&mut self, n: *mut Header) {
        // SAFETY: the lock is held; `n` is linked in this wheel.
        unsafe { self.wheel.with_mut(|w| w.remove(n)) }
    }

    /// Moves the timers due at `now` to `batch`, marking them with `mark`.
    pub(crate) fn collect(&mut self, now: u64, batch: &mut Batch, mark: u32) {
        // SAFETY: the lock is held: the wheel and its nodes are ours.
        let due = unsafe { self.wheel.with_mut(|w| w.collect(now, batch, mark)) };
        self.lc.next_due.store(due, Ordering::Relaxed);
    }

    /// Unlinks every timer, calling `f` on each.
    pub(crate) fn drain(&mut self, f: impl FnMut(*mut Header)) {
        // SAFETY: the lock is held.
        unsafe { self.wheel.with_mut(|w| w.drain(f)) };
        self.lc.next_due.store(0, Ordering::Relaxed);
    }

    /// How many timers are pending.
    pub(crate) fn len(&self) -> u64 {
        // SAFETY: the lock is held.
        unsafe { self.wheel.with_mut(|w| w.len()) }
    }

    /// The earliest pending deadline.
    pub(crate) fn earliest_expire(&self) -> Option<u64> {
        // SAFETY: the lock is held.
        unsafe { self.wheel.with_mut(|w| w.earliest_expire()) }
    }
}

impl Drop for ListGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.lc.lock.store(false, Ordering::Release);
    }
}

/// Timer statistics (DPDK's `rte_timer_debug_stats`), always kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimerStats {
    /// Successful resets (calls of `reset`, not the reloads of periodic timers).
    pub reset: u64,
    /// Successful stops, those of `stop_all` included.
    pub stop: u64,
    /// Calls of `manage()`.
    pub manage: u64,
    /// Timers pending now.
    pub pending: u64,
}

/// An instance of the timer subsystem: a list of pending timers per lcore (DPDK's
/// `rte_timer_data`).
///
/// [`TimerData::global`] is the instance behind [`crate::Timer::new`] and [`crate::manage()`];
/// [`TimerData::new`] makes independent ones (DPDK's `rte_timer_data_alloc` and the `alt`
/// API), whose timers are made with [`crate::Timer::new_in`] and run by their own
/// [`TimerData::manage`]. A timer keeps its instance alive.
pub struct TimerData {
    lcores: [LcoreTimers; MAX_LCORE as usize],
    /// Resets and stops made off EAL threads.
    foreign_resets: AtomicU64,
    foreign_stops: AtomicU64,
}

#[cfg(not(loom))]
static GLOBAL: TimerData = TimerData::new_const();

impl TimerData {
    #[cfg(not(loom))]
    const fn new_const() -> Self {
        TimerData {
            lcores: [const { LcoreTimers::new() }; MAX_LCORE as usize],
            foreign_resets: AtomicU64::new(0),
            foreign_stops: AtomicU64::new(0),
        }
    }

    /// A new, independent instance (DPDK's `rte_timer_data_alloc`).
    #[cfg(not(loom))]
    pub fn new() -> Arc<TimerData> {
        Arc::new(Self::new_const())
    }

    /// A new, independent instance (DPDK's `rte_timer_data_alloc`).
    #[cfg(loom)]
    pub fn new() -> Arc<TimerData> {
        Arc::new(TimerData {
            lcores: std::array::from_fn(|_| LcoreTimers::new()),
            foreign_resets: AtomicU64::new(0),
            foreign_stops: AtomicU64::new(0),
        })
    }

    /// The default instance, which [`crate::Timer::new`] and [`crate::manage()`] use.
    #[cfg(not(loom))]
    pub fn global() -> &'static TimerData {
        &GLOBAL
    }

    fn is_global(data: *const TimerData) -> bool {
        #[cfg(not(loom))]
        {
            ptr::eq(data, &GLOBAL)
        }
        #[cfg(loom)]
        {
            let _ = data;
            false
        }
    }

    /// A reference to this instance for a new timer node.
    pub(crate) fn acquire(self: &Arc<Self>) -> *const TimerData {
        Arc::into_raw(Arc::clone(self))
    }

    /// A reference to the global instance for a new timer node.
    #[cfg(not(loom))]
    pub(crate) fn acquire_global() -> *const TimerData {
        &GLOBAL
    }

    /// Gives back a node's reference to its instance.
    ///
    /// # Safety
    /// `data` came from [`TimerData::acquire`] (or is the global instance) and is given back
    /// once.
    pub(crate) unsafe fn release(data: *const TimerData) {
        if !Self::is_global(data) {
            // SAFETY: `acquire` took this reference with `Arc::into_raw`.
            drop(unsafe { Arc::from_raw(data) });
        }
    }

    /// Lcore `id`'s part. `id` is below `MAX_LCORE`.
    #[inline(always)]
    pub(crate) fn lcore(&self, id: u32) -> &LcoreTimers {
        &self.lcores[id as usize]
    }

    /// The lcore a timer armed for `lcore` goes to.
    #[inline]
    pub(crate) fn resolve(&self, lcore: u32, me: Option<u32>) -> Result<u32, TimerError> {
        if lcore < MAX_LCORE {
            return Ok(lcore);
        }
        if lcore != LCORE_ID_ANY {
            return Err(TimerError::InvalidLcore(lcore));
        }
        self.round_robin(me)
    }

    #[cold]
    fn round_robin(&self, me: Option<u32>) -> Result<u32, TimerError> {
        let enabled = rpdk_eal::lcore::list();
        let first = *enabled.first().ok_or(TimerError::NoLcore)?;
        let Some(me) = me else {
            return Ok(first);
        };
        let lc = self.lcore(me);
        let prev = match lc.prev_lcore.load(Ordering::Relaxed) {
            0 => me,
            p => p - 1,
        };
        let next = enabled.iter().copied().find(|&l| l > prev).unwrap_or(first);
        lc.prev_lcore.store(next + 1, Ordering::Relaxed);
        Ok(next)
    }

    /// Counts a successful reset by `me`.
    #[inline(always)]
    pub(crate) fn count_reset(&self, me: Option<u32>) {
        match me {
            Some(l) => bump(&self.lcore(l).resets),
            None => {
                self.foreign_resets.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Counts `n` successful stops by `me`.
    #[inline(always)]
    pub(crate) fn count_stops(&self, me: Option<u32>, n: u64) {
        match me {
            Some(l) => {
                let c = &self.lcore(l).stops;
                c.store(c.load(Ordering::Relaxed) + n, Ordering::Relaxed);
            }
            None => {
                self.foreign_stops.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// Ticks until the earliest timer pending on the calling lcore (DPDK's
    /// `rte_timer_next_ticks`): `Some(0)` when one is due, `None` when none is pending or the
    /// caller is not an lcore.
    pub fn next_ticks(&self) -> Option<u64> {
        let me = current_lcore()?;
        let lc = self.lcore(me);
        if lc.next_due.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let now = now();
        let earliest = lc.lock().earliest_expire()?;
        Some(earliest.saturating_sub(now))
    }

    /// Stops every timer pending on the lists of `lcores` and returns how many it stopped
    /// (DPDK's `rte_timer_stop_all`). Timers running at the time are left alone.
    pub fn stop_all(&self, lcores: &[u32]) -> Result<usize, TimerError> {
        check_lcores(lcores)?;
        let mut stopped = 0usize;
        for &l in lcores {
            let lc = self.lcore(l);
            if lc.next_due.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let stopped_here = crate::protocol::stop_list(&mut lc.lock(), l);
            stopped += stopped_here;
        }
        self.count_stops(current_lcore(), stopped as u64);
        Ok(stopped)
    }

    /// The statistics of the calls made by `lcore` and of the timers pending on its list.
    pub fn lcore_stats(&self, lcore: u32) -> Result<TimerStats, TimerError> {
        check_lcores(&[lcore])?;
        let lc = self.lcore(lcore);
        let pending = if lc.next_due.load(Ordering::Relaxed) == 0 {
            0
        } else {
            lc.lock().len()
        };
        Ok(TimerStats {
            reset: lc.resets.load(Ordering::Relaxed),
            stop: lc.stops.load(Ordering::Relaxed),
            manage: lc.manages.load(Ordering::Relaxed),
            pending,
        })
    }

    /// The statistics summed over every lcore (and, for resets and stops, over the threads
    /// that are not lcores).
    pub fn stats(&self) -> TimerStats {
        let mut sum = TimerStats {
            reset: self.foreign_resets.load(Ordering::Relaxed),
            stop: self.foreign_stops.load(Ordering::Relaxed),
            ..TimerStats::default()
        };
        for l in 0..MAX_LCORE {
            if let Ok(s) = self.lcore_stats(l) {
                sum.reset += s.reset;
                sum.stop += s.stop;
                sum.manage += s.manage;
                sum.pending += s.pending;
            }
        }
        sum
    }

    /// Writes the statistics as DPDK's `rte_timer_dump_stats` does, then one line per lcore
    /// with pending timers.
    pub fn dump_stats(&self, w: &mut dyn Write) -> io::Result<()> {
        let s = self.stats();
        writeln!(w, "Timer statistics:")?;
        writeln!(w, "  reset = {}", s.reset)?;
        writeln!(w, "  stop = {}", s.stop)?;
        writeln!(w, "  manage = {}", s.manage)?;
        writeln!(w, "  pending = {}", s.pending)?;
        for l in 0..MAX_LCORE {
            let lc = self.lcore(l);
            if lc.next_due.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let (pending, earliest) = {
                let list = lc.lock();
                (list.len(), list.earliest_expire())
            };
            if let Some(earliest) = earliest {
                let ticks = earliest.saturating_sub(now());
                writeln!(
                    w,
                    "  lcore {l}: pending = {pending}, next in {ticks} cycles"
                )?;
            }
        }
        Ok(())
    }
}

impl Drop for TimerData {
    fn drop(&mut self) {
        for lc in &self.lcores {
            let w = lc.wheel.load(Ordering::Acquire);
            if !w.is_null() {
                // SAFETY: the wheel was installed by `LcoreTimers::wheel` from a `Box`, and no
                // timer (each holds a reference to the instance) can use it any more.
                drop(unsafe { Box::from_raw(w) });
            }
        }
    }
}

impl std::fmt::Debug for TimerData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerData")
            .field("stats", &self.stats())
            .finish()
    }
}

/// Checks that every lcore id has a list.
pub(crate) fn check_lcores(lcores: &[u32]) -> Result<(), TimerError> {
    match lcores.iter().find(|&&l| l >= MAX_LCORE) {
        Some(&l) => Err(TimerError::InvalidLcore(l)),
        None => Ok(()),
    }
}
