//! What a callback gets: its own timer, which it may reset or stop.

use std::marker::PhantomData;

use crate::error::TimerError;
use crate::node::Header;
use crate::protocol;
use crate::timer::TimerType;

/// The timer whose callback is running, as its callback sees it (DPDK passes the
/// `struct rte_timer *`).
///
/// The callback may [`reset`](Expired::reset) or [`stop`](Expired::stop) it, as often as it
/// likes: the last call wins and takes effect when the callback returns (until then the timer
/// stays running, and other threads' resets and stops see it busy). Without either, a
/// single-shot timer stops and a periodic one reloads for `expire + period`.
pub struct Expired<'a> {
    node: *mut Header,
    lcore: u32,
    expire: u64,
    _callback: PhantomData<&'a mut ()>,
}

impl Expired<'_> {
    pub(crate) fn new(node: *mut Header, lcore: u32, expire: u64) -> Self {
        Expired {
            node,
            lcore,
            expire,
            _callback: PhantomData,
        }
    }

    /// Re-arms this timer to expire `ticks` TSC cycles from now on `lcore` (or
    /// [`crate::LCORE_ID_ANY`]), once the callback returns. Fails only on bad arguments.
    pub fn reset(&self, ticks: u64, kind: TimerType, lcore: u32) -> Result<(), TimerError> {
        // SAFETY: the node is running on this lcore for as long as `self` lives.
        unsafe { protocol::reset(self.node, ticks, kind, lcore) }
    }

    /// Stops this timer once the callback returns: a periodic timer does not reload.
    pub fn stop(&self) {
        // SAFETY: as above. Stopping one's own running timer cannot fail.
        let stopped = unsafe { protocol::stop(self.node) };
        debug_assert!(stopped.is_ok());
    }

    /// The deadline it expired for, in TSC cycles.
    pub fn expire(&self) -> u64 {
        self.expire
    }

    /// The lcore running the callback.
    pub fn lcore(&self) -> u32 {
        self.lcore
    }

    /// The period of a periodic timer; `None` for a single-shot one.
    pub fn period(&self) -> Option<u64> {
        // SAFETY: the node is running on this lcore, so this thread owns its fields.
        let period = unsafe { (*self.node).period.get() };
        (period != 0).then_some(period)
    }
}

impl std::fmt::Debug for Expired<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expired")
            .field("lcore", &self.lcore)
            .field("expire", &self.expire)
            .field("period", &self.period())
            .finish()
    }
}
