//! A timer's status word: its state (DPDK's `RTE_TIMER_STOP`, `PENDING`, `RUNNING`, `CONFIG`)
//! and the lcore it belongs to, read and written atomically as one `u32`.
//!
//! For a stopped timer the lcore is its *home*: the list whose lock guards its next change.

/// What a timer is doing (DPDK's `RTE_TIMER_*` states).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerState {
    /// Not scheduled: never armed, stopped, or a single-shot timer whose callback has returned.
    Stopped,
    /// Scheduled on an lcore's list, its callback not yet started.
    Pending,
    /// Expired and taken by `manage()` on its owner lcore: its callback is running or about to.
    Running,
    /// Being moved from one lcore's list to another's by a reset.
    Config,
}

/// A timer's state and owner lcore, as [`crate::Timer::status`] reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerStatus {
    /// The state.
    pub state: TimerState,
    /// The lcore that owns the timer: the list it is pending on, the lcore running it, or the
    /// one configuring it; `None` when stopped (DPDK's `RTE_TIMER_NO_OWNER`).
    pub owner: Option<u32>,
}

pub(crate) const STOPPED: u32 = 0;
pub(crate) const PENDING: u32 = 1;
pub(crate) const RUNNING: u32 = 2;
pub(crate) const CONFIG: u32 = 3;
const STATE_MASK: u32 = 3;
/// Set on a running timer whose owner dropped it: `manage()` frees it when its callback returns.
const ORPHAN: u32 = 1 << 2;
const LCORE_SHIFT: u32 = 16;
/// The lcore field of a status set by a thread that is not an lcore.
pub(crate) const NO_LCORE: u32 = 0xFFFF;

/// A status word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Status(pub(crate) u32);

impl Status {
    /// `state` owned by `lcore` (`NO_LCORE` for none).
    #[inline(always)]
    pub(crate) const fn new(state: u32, lcore: u32) -> Self {
        Self(state | (lcore << LCORE_SHIFT))
    }

    /// The state: `STOPPED`, `PENDING`, `RUNNING` or `CONFIG`.
    #[inline(always)]
    pub(crate) const fn state(self) -> u32 {
        self.0 & STATE_MASK
    }

    /// The lcore field.
    #[inline(always)]
    pub(crate) const fn lcore(self) -> u32 {
        self.0 >> LCORE_SHIFT
    }

    /// Whether the owner dropped this running timer.
    #[inline(always)]
    pub(crate) const fn orphan(self) -> bool {
        self.0 & ORPHAN != 0
    }

    /// The same status with the orphan flag set.
    #[inline(always)]
    pub(crate) const fn orphaned(self) -> Self {
        Self(self.0 | ORPHAN)
    }

    /// The public view.
    pub(crate) fn public(self) -> TimerStatus {
        let state = match self.state() {
            STOPPED => TimerState::Stopped,
            PENDING => TimerState::Pending,
            RUNNING => TimerState::Running,
            _ => TimerState::Config,
        };
        let owner =
            (state != TimerState::Stopped && self.lcore() != NO_LCORE).then(|| self.lcore());
        TimerStatus { state, owner }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        for state in [STOPPED, PENDING, RUNNING, CONFIG] {
            for lcore in [0, 1, 127, NO_LCORE] {
                let s = Status::new(state, lcore);
                assert_eq!((s.state(), s.lcore(), s.orphan()), (state, lcore, false));
                let o = s.orphaned();
                assert_eq!((o.state(), o.lcore(), o.orphan()), (state, lcore, true));
            }
        }
    }

    #[test]
    fn public_view_hides_the_home_of_a_stopped_timer() {
        let stopped = Status::new(STOPPED, 3).public();
        assert_eq!(stopped.state, TimerState::Stopped);
        assert_eq!(stopped.owner, None);
        let running = Status::new(RUNNING, 5).orphaned().public();
        assert_eq!(running.state, TimerState::Running);
        assert_eq!(running.owner, Some(5));
        assert_eq!(Status::new(CONFIG, NO_LCORE).public().owner, None);
    }
}
