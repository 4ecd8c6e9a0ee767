//! The atomics the protocols use: `std`'s, or loom's under `--cfg loom` so that the model
//! checker explores every interleaving.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64};

pub(crate) use std::sync::atomic::Ordering;

/// One step of a spin-wait on another thread (DPDK's `rte_pause`). Under loom, a yield so the
/// model lets the other thread run.
#[inline(always)]
pub(crate) fn spin() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}
