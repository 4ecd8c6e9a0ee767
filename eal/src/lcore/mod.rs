//! Lcores: the EAL's pinned threads, their ids, and what runs on them.
//!
//! Every lcore of `-l` but the main one gets an OS thread pinned to its CPU set; the thread that
//! calls [`crate::init`] becomes the main lcore and is pinned too. Workers wait for work:
//! [`crate::Eal::remote_launch`] hands one a function, [`crate::Eal::wait_lcore`] collects its
//! return value. The functions here tell any thread about the lcores.

mod launch;
mod scope;
mod stack;

use std::cell::Cell;

pub use launch::CallMain;
pub(crate) use launch::{Lcores, panic_message};
pub(crate) use scope::run as scope_run;
pub use scope::{Scope, ScopedJoinHandle};
pub(crate) use stack::worker_stack_size;

use crate::cpuset::CpuSet;

/// The most lcores (DPDK's default `RTE_MAX_LCORE`); lcore ids go from 0 to 127.
pub const MAX_LCORE: u32 = 128;

thread_local! {
    static LCORE_ID: Cell<u32> = const { Cell::new(u32::MAX) };
    static SOCKET_ID: Cell<u32> = const { Cell::new(u32::MAX) };
}

/// The lcore id of the calling thread (DPDK's `rte_lcore_id`); `None` off EAL threads.
#[inline]
pub fn id() -> Option<u32> {
    let id = LCORE_ID.with(Cell::get);
    (id != u32::MAX).then_some(id)
}

/// The NUMA node of the calling lcore (DPDK's `rte_socket_id`); `None` off EAL threads.
#[inline]
pub fn socket_id() -> Option<u32> {
    let s = SOCKET_ID.with(Cell::get);
    (s != u32::MAX).then_some(s)
}

pub(crate) fn set_current(id: Option<u32>, socket: Option<u32>) {
    LCORE_ID.with(|c| c.set(id.unwrap_or(u32::MAX)));
    SOCKET_ID.with(|c| c.set(socket.unwrap_or(u32::MAX)));
}

/// What a worker lcore is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LcoreState {
    /// Waiting for a function.
    Wait,
    /// Running a launched function.
    Running,
    /// Its function returned; [`crate::Eal::wait_lcore`] collects the value.
    Finished,
}

/// What the EAL knows of one lcore.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LcoreInfo {
    /// The lcore id.
    pub id: u32,
    /// Its position among enabled lcores (DPDK's `rte_lcore_index`).
    pub index: u32,
    /// The CPUs its thread may run on.
    pub cpuset: CpuSet,
    /// Its NUMA node: that of its first CPU.
    pub socket: u32,
    /// Whether it is the main lcore.
    pub is_main: bool,
}

fn with_lcores<T>(f: impl FnOnce(&Lcores) -> T) -> Option<T> {
    crate::state::get().ok().map(|s| f(&s.lcores))
}

/// The main lcore (DPDK's `rte_get_main_lcore`); `None` before init.
pub fn main_lcore() -> Option<u32> {
    with_lcores(Lcores::main)
}

/// How many lcores are enabled (DPDK's `rte_lcore_count`), service lcores left out; 0 before
/// init.
pub fn count() -> u32 {
    list().len() as u32
}

/// The enabled lcores in increasing order, main included, service lcores left out (DPDK's
/// `RTE_LCORE_FOREACH`).
pub fn list() -> Vec<u32> {
    with_lcores(|l| {
        l.infos()
            .iter()
            .filter(|i| !crate::service::is_service_lcore(i.id))
            .map(|i| i.id)
            .collect()
    })
    .unwrap_or_default()
}

/// Every lcore with a thread, main, workers and service lcores, in increasing order (what
/// per-lcore state such as mempool caches must cover: DPDK keeps it for every lcore id).
pub fn all() -> Vec<u32> {
    with_lcores(|l| l.infos().iter().map(|i| i.id).collect()).unwrap_or_default()
}

/// The worker lcores in increasing order, service lcores left out (DPDK's
/// `RTE_LCORE_FOREACH_WORKER`).
pub fn workers() -> Vec<u32> {
    with_lcores(|l| {
        l.infos()
            .iter()
            .filter(|i| !i.is_main && !crate::service::is_service_lcore(i.id))
            .map(|i| i.id)
            .collect()
    })
    .unwrap_or_default()
}

/// What the EAL knows of lcore `id`, if it is enabled.
pub fn info(id: u32) -> Option<LcoreInfo> {
    with_lcores(|l| l.infos().iter().find(|i| i.id == id).cloned()).flatten()
}

/// Whether lcore `id` is enabled (DPDK's `rte_lcore_is_enabled`).
pub fn is_enabled(id: u32) -> bool {
    info(id).is_some()
}

/// The state of worker lcore `id` (DPDK's `rte_eal_get_lcore_state`).
pub fn state(id: u32) -> Option<LcoreState> {
    with_lcores(|l| l.state(id)).flatten()
}

/// Calls `f` with each lcore id that no live process of the file prefix runs, the ids of a
/// process that died among them, holding each for this process while `f` runs (so that no
/// process starting meanwhile takes it). Mempools use it to give back what a killed
/// secondary's lcore caches held. Without secondaries (`--no-shconf`), there is none.
pub fn with_orphan_lcores(f: impl FnMut(u32)) {
    let Ok(state) = crate::state::get() else {
        return;
    };
    if let Some(t) = state.shared.as_ref().or(state.memory.attached_config()) {
        t.with_orphan_lcores(std::process::id(), f);
    }
}
