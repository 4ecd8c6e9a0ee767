//! `manage()`: the per-lcore call that runs expired timers.
//!
//! The idle call reads the lcore's earliest deadline (one load, no lock) and, only when a timer
//! is pending, the TSC. When something is due, the lcore's list lock is held just long enough to
//! take the due timers out of the wheel and mark them running; their callbacks then run without
//! the lock, in deadline order, and each timer is stopped, reloaded or re-armed afterwards.

use std::ptr;

use crate::data::{TimerData, check_lcores};
use crate::error::TimerError;
use crate::expired::Expired;
use crate::node::Header;
use crate::protocol::{Request, arm};
use crate::status::{RUNNING, STOPPED, Status};
use crate::sync::{Ordering, current_lcore, now};
use crate::wheel::Batch;

impl TimerData {
    /// Runs the callbacks of this instance's timers that have expired on the calling lcore's
    /// list, in deadline order (DPDK's `rte_timer_manage` and, for an instance,
    /// `rte_timer_alt_manage` on the calling lcore). Returns how many callbacks ran.
    ///
    /// Call it from each lcore's polling loop: when nothing is due it costs a load, a TSC read
    /// and a comparison, and takes no lock. It does nothing off EAL lcores, and nothing when
    /// called from one of its own callbacks.
    #[inline]
    pub fn manage(&self) -> usize {
        let Some(me) = current_lcore() else {
            return 0;
        };
        let lc = self.lcore(me);
        lc.count_manage();
        let due = lc.next_due.load(Ordering::Relaxed);
        if due == 0 {
            return 0;
        }
        let now = now();
        if now < due {
            return 0;
        }
        self.run_due(me, now, &[me])
    }

    /// Runs, on the calling lcore, the expired timers of the lists of `lcores`, in deadline
    /// order across them (DPDK's `rte_timer_alt_manage` with `poll_lcores`). Each timer runs its
    /// own callback; periodic ones reload on the calling lcore's list, as in DPDK. Returns how
    /// many callbacks ran.
    pub fn manage_lcores(&self, lcores: &[u32]) -> Result<usize, TimerError> {
        check_lcores(lcores)?;
        let me = current_lcore().ok_or(TimerError::NotAnLcore)?;
        self.lcore(me).count_manage();
        Ok(self.run_due(me, now(), lcores))
    }

    #[inline(never)]
    fn run_due(&self, me: u32, now: u64, lists: &[u32]) -> usize {
        let lc = self.lcore(me);
        if lc.in_manage.load(Ordering::Relaxed) {
            return 0;
        }
        lc.in_manage.store(true, Ordering::Relaxed);
        let mut batch = Batch::new();
        let mark = Status::new(RUNNING, me).0;
        for &l in lists {
            self.lcore(l).lock().collect(now, &mut batch, mark);
        }
        if !batch.is_sorted() {
            // SAFETY: the batch's timers are running on this lcore: they are ours.
            unsafe { batch.sort() };
        }
        Firing {
            data: self,
            me,
            next: batch.head(),
            current: ptr::null_mut(),
            ran: 0,
        }
        .run()
    }
}

/// The callbacks of a batch, in order. Dropped while unwinding from a panicking callback, it
/// stops that timer and puts the rest back on the list, due, for the next `manage()`.
struct Firing<'a> {
    data: &'a TimerData,
    me: u32,
    next: *mut Header,
    current: *mut Header,
    ran: usize,
}

impl Firing<'_> {
    fn run(mut self) -> usize {
        let lc = self.data.lcore(self.me);
        while !self.next.is_null() {
            let n = self.next;
            // SAFETY: the batch's timers are running on this lcore, so this thread owns them
            // (an orphaned one is freed here, once).
            unsafe {
                self.next = (*n).next.get();
                if Status((*n).status.load(Ordering::Relaxed)).orphan() {
                    free_cold(n);
                    continue;
                }
                self.current = n;
                lc.running.store(n, Ordering::Relaxed);
                Header::run(n, &Expired::new(n, self.me, (*n).expire.get()));
                lc.running.store(ptr::null_mut(), Ordering::Relaxed);
                self.current = ptr::null_mut();
                self.ran += 1;
                self.finish(n, false);
            }
        }
        self.ran
    }

    /// Applies what comes after the callback of `n`: free it if orphaned, else what the callback
    /// asked, else stop a single-shot timer and reload a periodic one.
    ///
    /// # Safety
    /// `n` is running on this lcore and its callback has returned (or unwound).
    #[inline(always)]
    unsafe fn finish(&self, n: *mut Header, panicked: bool) {
        let lc = self.data.lcore(self.me);
        // SAFETY: this lcore's request cell is this thread's; `n` runs on this lcore, so this
        // thread owns it.
        unsafe {
            if lc.request.get() == Request::None
                && !panicked
                && (*n).period.get() == 0
                && !Status((*n).status.load(Ordering::Relaxed)).orphan()
            {
                // The common case: a single-shot timer that its callback left alone.
                self.stopped(n);
            } else {
                self.finish_other(n, panicked);
            }
        }
    }

    /// [`Firing::finish`] for orphans, periodic timers, requests and panics.
    ///
    /// # Safety
    /// As [`Firing::finish`].
    #[cold]
    #[inline(never)]
    unsafe fn finish_other(&self, n: *mut Header, panicked: bool) {
        let lc = self.data.lcore(self.me);
        // SAFETY: this lcore's request cell is this thread's.
        let request = unsafe { lc.request.get() };
        // SAFETY: as above.
        unsafe { lc.request.set(Request::None) };
        // SAFETY: `n` runs on this lcore: this thread owns it.
        unsafe {
            if Status((*n).status.load(Ordering::Relaxed)).orphan() {
                Header::free(n);
                return;
            }
            let period = (*n).period.get();
            match (request, panicked) {
                (Request::Reset { .. } | Request::None, true) | (Request::Stop, _) => {
                    self.stopped(n);
                }
                (Request::None, false) if period == 0 => self.stopped(n),
                (Request::None, false) => {
                    let expire = (*n).expire.get().saturating_add(period);
                    arm(self.data, n, expire, period, self.me);
                }
                (
                    Request::Reset {
                        expire,
                        period,
                        lcore,
                    },
                    false,
                ) => arm(self.data, n, expire, period, lcore),
            }
        }
    }

    /// Makes `n` stopped, homed here.
    ///
    /// # Safety
    /// As [`Firing::finish`].
    #[inline(always)]
    unsafe fn stopped(&self, n: *mut Header) {
        // SAFETY: `n` runs on this lcore; the release hands it over.
        unsafe {
            (*n).status
                .store(Status::new(STOPPED, self.me).0, Ordering::Release)
        };
    }
}

/// Frees an orphan, out of the firing loop's way.
///
/// # Safety
/// As [`Header::free`].
#[cold]
#[inline(never)]
unsafe fn free_cold(n: *mut Header) {
    // SAFETY: per this function's contract.
    unsafe { Header::free(n) }
}

impl Drop for Firing<'_> {
    fn drop(&mut self) {
        let lc = self.data.lcore(self.me);
        lc.running.store(ptr::null_mut(), Ordering::Relaxed);
        if !self.current.is_null() || !self.next.is_null() {
            self.unwind();
        }
        lc.in_manage.store(false, Ordering::Relaxed);
    }
}

impl Firing<'_> {
    /// After a panicking callback: stops its timer, and puts the rest back on the list.
    #[cold]
    #[inline(never)]
    fn unwind(&mut self) {
        if !self.current.is_null() {
            // SAFETY: the callback of `current` unwound; its timer is still ours.
            unsafe { self.finish(self.current, true) };
        }
        while !self.next.is_null() {
            let n = self.next;
            // SAFETY: the rest of the batch is still running on this lcore, hence ours.
            unsafe {
                self.next = (*n).next.get();
                if Status((*n).status.load(Ordering::Relaxed)).orphan() {
                    Header::free(n);
                } else {
                    arm(self.data, n, (*n).expire.get(), (*n).period.get(), self.me);
                }
            }
        }
    }
}
