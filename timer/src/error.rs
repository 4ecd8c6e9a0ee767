//! Why a timer operation did not happen.

use crate::sync::MAX_LCORE;

/// Why a reset, stop or manage call did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimerError {
    /// The timer's callback is running (or queued to run) on `lcore`; DPDK's `-1` for the
    /// `RUNNING` state. Try again once it returns, or use the `_sync` variant.
    #[error("the timer is running on lcore {lcore}: it can change once its callback returns")]
    Running {
        /// The lcore running the timer.
        lcore: u32,
    },
    /// Another thread is moving the timer between lcores; DPDK's `-1` for the `CONFIG` state.
    #[error("the timer is being configured by another thread")]
    Config,
    /// A `_sync` call would wait forever: the timer is queued behind the callback that is
    /// running on this very lcore, so it cannot change before that callback returns. (DPDK's
    /// `rte_timer_reset_sync` hangs here.)
    #[error(
        "the timer is queued to run on this lcore ({lcore}) after the running callback: waiting for it here would never end"
    )]
    WouldDeadlock {
        /// The calling lcore.
        lcore: u32,
    },
    /// The lcore id has no timer list.
    #[error("lcore {0} is out of range: lcore ids go from 0 to {max}, or LCORE_ID_ANY", max = MAX_LCORE - 1)]
    InvalidLcore(u32),
    /// A periodic timer was given a period of 0 ticks.
    #[error("a periodic timer needs a period of at least one tick")]
    ZeroPeriod,
    /// `LCORE_ID_ANY` was asked for but no lcore is enabled (the EAL is not initialised).
    #[error("LCORE_ID_ANY needs an enabled lcore, and none is (is the EAL initialised?)")]
    NoLcore,
    /// The call must be made from an EAL lcore thread.
    #[error("this call must be made from an EAL lcore")]
    NotAnLcore,
}

impl TimerError {
    /// Whether the timer was busy (running or being configured): the same call may succeed
    /// later.
    pub fn is_busy(&self) -> bool {
        matches!(self, TimerError::Running { .. } | TimerError::Config)
    }
}
