//! # rpdk-timer: per-lcore timers that scale to millions
//!
//! DPDK's `rte_timer` in Rust: a [`Timer`] runs a callback once or periodically after a number
//! of TSC cycles, on the lcore it is armed for; each lcore runs its expired timers by calling
//! [`manage()`] from its polling loop. The semantics are rte_timer's: the states stopped, pending,
//! running and config with an owner lcore, [`Timer::reset`] and [`Timer::stop`] from any lcore
//! that fail while the callback runs elsewhere, their `_sync` variants that wait,
//! [`Timer::pending`], [`next_ticks`], callbacks that reset or stop their own timer, independent
//! instances ([`TimerData`], the `alt` API) and statistics.
//!
//! What differs is inside and around: each lcore's list is a hierarchical timing wheel (O(1)
//! arm, reset and stop with a million timers pending, where rte_timer's skiplist walks), an
//! idle [`manage()`] is one load and a TSC read, and Rust ownership replaces the C contract: a
//! timer owns its closure, dropping a timer stops it, and nothing it refers to can dangle.
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//! use rpdk_timer::{Timer, TimerType};
//!
//! let (eal, _) = rpdk_eal::init(["app", "-l", "0", "--no-huge", "--no-shconf"]).unwrap();
//! let hz = rpdk_eal::tsc_hz();
//! let ticks = Arc::new(AtomicU64::new(0));
//!
//! // Every millisecond on this lcore; the closure is the timer's.
//! let count = ticks.clone();
//! let stats = Timer::new(move |t| {
//!     count.fetch_add(1, Ordering::Relaxed);
//!     if count.load(Ordering::Relaxed) == 5 {
//!         t.stop(); // a callback may stop (or reset) its own timer
//!     }
//! });
//! stats.reset(hz / 1000, TimerType::Periodical, eal.main_lcore()).unwrap();
//!
//! // The polling loop: receive, process, transmit... and run the timers that are due.
//! let give_up = rpdk_eal::rdtsc() + 5 * hz;
//! while ticks.load(Ordering::Relaxed) < 5 && rpdk_eal::rdtsc() < give_up {
//!     // rx_burst, process, tx_burst ...
//!     rpdk_timer::manage();
//! }
//! assert_eq!(ticks.load(Ordering::Relaxed), 5);
//! assert!(!stats.pending());
//! ```
//!
//! ## What is where
//!
//! - [`Timer`], [`TimerType`], [`Expired`] (what a callback gets): the timer API;
//! - [`manage()`], [`next_ticks`], [`stats`], [`dump_stats`]: the global instance, per lcore;
//! - [`TimerData`]: instances, with `manage_lcores` and `stop_all`;
//! - inside: `wheel` (the timing wheel), `protocol` (the cross-lcore state machine, loom-checked
//!   under `--cfg loom`), `node` (a timer's allocation), `manage` (running what expired).
//!
//! ## Dependencies
//!
//! `rpdk-eal` for lcore ids and the TSC, `thiserror` for the error type; `loom` (only under
//! `--cfg loom`) model-checks the protocol.

mod data;
mod error;
mod expired;
mod manage;
mod node;
mod protocol;
mod slab;
mod status;
mod sync;
mod timer;
mod wheel;

#[cfg(all(test, loom))]
mod loom_tests;

pub use data::{LCORE_ID_ANY, TimerData, TimerStats};
pub use error::TimerError;
pub use expired::Expired;
pub use status::{TimerState, TimerStatus};
pub use sync::MAX_LCORE;
pub use timer::{Timer, TimerType};

/// Runs the callbacks of the global instance's timers that have expired on the calling lcore
/// (DPDK's `rte_timer_manage`); returns how many ran. See [`TimerData::manage`].
#[cfg(not(loom))]
#[inline]
pub fn manage() -> usize {
    TimerData::global().manage()
}

/// Ticks until the earliest global timer pending on the calling lcore (DPDK's
/// `rte_timer_next_ticks`). See [`TimerData::next_ticks`].
#[cfg(not(loom))]
pub fn next_ticks() -> Option<u64> {
    TimerData::global().next_ticks()
}

/// The global instance's statistics, summed over lcores.
#[cfg(not(loom))]
pub fn stats() -> TimerStats {
    TimerData::global().stats()
}

/// Writes the global instance's statistics (DPDK's `rte_timer_dump_stats`).
#[cfg(not(loom))]
pub fn dump_stats(w: &mut dyn std::io::Write) -> std::io::Result<()> {
    TimerData::global().dump_stats(w)
}
