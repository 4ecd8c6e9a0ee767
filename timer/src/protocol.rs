//! The cross-lcore state machine: reset, stop and drop of a timer from any thread, against
//! `manage()` on the lcore that owns it.
//!
//! Who may touch a timer's fields (its links, deadline, period, and the closure), by state:
//!
//! - `STOPPED(h)` and `PENDING(h)`: the holder of lcore `h`'s list lock. A pending timer is
//!   linked in `h`'s wheel; a stopped one is linked nowhere and `h` is just its home, whose
//!   lock serialises the next change. Every transition out of these states happens under that
//!   lock, after re-reading the status (it may have changed before the lock was taken).
//! - `RUNNING(l)`: lcore `l`'s thread alone, which runs `manage()` and set this state, under the
//!   list lock, on every timer it took from a list. Others only read the status and back off
//!   ([`TimerError::Running`]); `l` changes it without any lock once the callback returns. A
//!   callback's reset or stop of its own timer is recorded as a [`Request`] and applied then,
//!   so a callback never runs on two lcores at once and the node stays put while it runs.
//! - `CONFIG(x)`: the thread moving the timer from one lcore's list to another's, between the
//!   two locks. Others back off.
//!
//! Status stores that hand a timer over are `Release`, and the loads that pick it up `Acquire`
//! (or happen under the lock, whose acquire and release order the fields). Dropping the owning
//! [`crate::Timer`] frees the node at once when it is stopped or pending, waits while another
//! lcore runs it, and when the caller is that lcore (a callback dropping its own timer or one
//! queued behind it) sets the orphan flag so that `manage()` frees it after the callback.

use crate::data::{ListGuard, TimerData};
use crate::error::TimerError;
use crate::node::Header;
use crate::status::{CONFIG, NO_LCORE, PENDING, RUNNING, STOPPED, Status};
use crate::sync::{Ordering, current_lcore, now, spin};
use crate::timer::TimerType;

/// What a callback asked its own timer to do once it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    /// Nothing: a single-shot timer stops, a periodic one reloads.
    None,
    /// Stop.
    Stop,
    /// Re-arm with this deadline and period on this lcore.
    Reset {
        /// The deadline.
        expire: u64,
        /// The period, 0 for single-shot.
        period: u64,
        /// The lcore.
        lcore: u32,
    },
}

#[inline(always)]
fn load(n: *mut Header) -> Status {
    // SAFETY: the status word is atomic, and the node lives while its owner calls in.
    Status(unsafe { (*n).status.load(Ordering::Acquire) })
}

/// Whether `n`, in status `s`, is the timer whose callback the calling lcore `me` runs.
#[inline]
fn is_running_here(data: &TimerData, n: *mut Header, s: Status, me: Option<u32>) -> bool {
    Some(s.lcore()) == me && data.lcore(s.lcore()).running.load(Ordering::Relaxed) == n
}

/// Records `request` for the callback running on `lcore` (the calling thread).
fn request(data: &TimerData, lcore: u32, request: Request) {
    // SAFETY: the request cell of an lcore is only used by that lcore's thread, the caller.
    unsafe { data.lcore(lcore).request.set(request) };
}

/// Links `n` on `target`'s list with this deadline and period, and makes it pending there.
///
/// # Safety
/// The caller owns `n` (running it, or configuring it), which is linked nowhere.
pub(crate) unsafe fn arm(data: &TimerData, n: *mut Header, expire: u64, period: u64, target: u32) {
    let mut list = data.lcore(target).lock();
    // SAFETY: the caller owns `n`; the target lock is held for the insertion.
    unsafe {
        (*n).expire.set(expire);
        (*n).period.set(period);
        list.insert(n);
        (*n).status
            .store(Status::new(PENDING, target).0, Ordering::Release);
    }
}

/// Arms `n` to expire `ticks` from now on `lcore` (DPDK's `rte_timer_reset`).
///
/// # Safety
/// `n` is a live node whose owner (a `Timer` or the callback's `Expired`) is borrowed.
pub(crate) unsafe fn reset(
    n: *mut Header,
    ticks: u64,
    kind: TimerType,
    lcore: u32,
) -> Result<(), TimerError> {
    // SAFETY: a live node's instance outlives it.
    let data = unsafe { &*(*n).data };
    let period = match kind {
        TimerType::Single => 0,
        TimerType::Periodical if ticks == 0 => return Err(TimerError::ZeroPeriod),
        TimerType::Periodical => ticks,
    };
    let me = current_lcore();
    let target = data.resolve(lcore, me)?;
    let expire = now().saturating_add(ticks);
    loop {
        let s = load(n);
        match s.state() {
            STOPPED | PENDING => {
                let home = s.lcore();
                let mut list = data.lcore(home).lock();
                if load(n) != s {
                    continue;
                }
                // SAFETY: under `home`'s lock, a timer stopped or pending there is ours.
                unsafe {
                    if s.state() == PENDING {
                        list.remove(n);
                    }
                    if home == target {
                        (*n).expire.set(expire);
                        (*n).period.set(period);
                        list.insert(n);
                        (*n).status
                            .store(Status::new(PENDING, target).0, Ordering::Release);
                    } else {
                        let config = Status::new(CONFIG, me.unwrap_or(NO_LCORE));
                        (*n).status.store(config.0, Ordering::Relaxed);
                        drop(list);
                        arm(data, n, expire, period, target);
                    }
                }
                data.count_reset(me);
                return Ok(());
            }
            RUNNING if is_running_here(data, n, s, me) => {
                request(
                    data,
                    s.lcore(),
                    Request::Reset {
                        expire,
                        period,
                        lcore: target,
                    },
                );
                data.count_reset(me);
                return Ok(());
            }
            RUNNING => return Err(TimerError::Running { lcore: s.lcore() }),
            _ => return Err(TimerError::Config),
        }
    }
}

/// Stops `n` (DPDK's `rte_timer_stop`).
///
/// # Safety
/// As [`reset`].
pub(crate) unsafe fn stop(n: *mut Header) -> Result<(), TimerError> {
    // SAFETY: a live node's instance outlives it.
    let data = unsafe { &*(*n).data };
    let me = current_lcore();
    loop {
        let s = load(n);
        match s.state() {
            STOPPED => {}
            PENDING => {
                let home = s.lcore();
                let mut list = data.lcore(home).lock();
                if load(n) != s {
                    continue;
                }
                // SAFETY: under `home`'s lock, a timer pending there is ours.
                unsafe {
                    list.remove(n);
                    (*n).status
                        .store(Status::new(STOPPED, home).0, Ordering::Release);
                }
            }
            RUNNING if is_running_here(data, n, s, me) => {
                request(data, s.lcore(), Request::Stop);
            }
            RUNNING => return Err(TimerError::Running { lcore: s.lcore() }),
            _ => return Err(TimerError::Config),
        }
        data.count_stops(me, 1);
        return Ok(());
    }
}

/// What `_sync` does with a busy result: wait, unless waiting cannot end.
pub(crate) fn wait_or_fail(e: TimerError) -> Result<(), TimerError> {
    match e {
        TimerError::Running { lcore } if Some(lcore) == current_lcore() => {
            Err(TimerError::WouldDeadlock { lcore })
        }
        e if e.is_busy() => {
            spin();
            Ok(())
        }
        e => Err(e),
    }
}

/// Frees `n` for its dropped owner, or hands it to the lcore running it.
///
/// # Safety
/// `n` is live and its owner is being dropped: no other `Timer` or `Expired` refers to it
/// except the running callback's.
pub(crate) unsafe fn release(n: *mut Header) {
    let me = current_lcore();
    loop {
        let s = load(n);
        match s.state() {
            STOPPED => {
                // SAFETY: a stopped timer is in no list and nobody else refers to it; the
                // acquire load ordered the last changes before this.
                unsafe { Header::free(n) };
                return;
            }
            PENDING => {
                // SAFETY: a live node's instance outlives it.
                let data = unsafe { &*(*n).data };
                let mut list = data.lcore(s.lcore()).lock();
                if load(n) != s {
                    continue;
                }
                // SAFETY: under its list's lock, a pending timer is ours; once unlinked,
                // nothing refers to it.
                unsafe {
                    list.remove(n);
                    drop(list);
                    Header::free(n);
                }
                return;
            }
            RUNNING if Some(s.lcore()) == me => {
                // The lcore running (or about to run) it is this thread, inside `manage()`:
                // it frees the node when done. Only this thread writes a status it runs.
                // SAFETY: the status word is atomic.
                unsafe { (*n).status.store(s.orphaned().0, Ordering::Relaxed) };
                return;
            }
            _ => spin(),
        }
    }
}

/// Stops every timer of a held list whose lcore is `lcore`; returns how many.
pub(crate) fn stop_list(list: &mut ListGuard<'_>, lcore: u32) -> usize {
    let mut stopped = 0;
    let status = Status::new(STOPPED, lcore).0;
    list.drain(|n| {
        // SAFETY: the list lock is held, so its pending timers are ours.
        unsafe { (*n).status.store(status, Ordering::Release) };
        stopped += 1;
    });
    stopped
}
