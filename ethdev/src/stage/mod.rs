//! The software stage of every port: what runs on the polling lcore between the driver's burst
//! and the application, the same for every driver.
//!
//! Per RX queue, after the driver's `rx_burst`: the software queues and RSS when the port has
//! more queues than its device ([`swq`]), the RSS hash when the device writes none, then the
//! RX callbacks in order (DPDK's `rte_eth_add_rx_callback`). Per TX queue, before the driver's
//! `tx_burst`: the TX callbacks, then the software TX queues' turn-taking.
//! A queue with no callback pays one relaxed load and a branch that always goes the same way.
//! Callbacks are added and removed while traffic runs, without a lock on the burst path;
//! removal waits until the polling lcore is past the callback (see [`callbacks`]).

mod callbacks;
pub(crate) mod rss;
pub(crate) mod swq;

use std::sync::Arc;

use rpdk_mbuf::BurstView;

use crate::driver::RxQueueOps;
use callbacks::CallbackList;
pub(crate) use rss::RssState;
pub use rss::{STAGE_KEY_SIZE, STAGE_RETA_SIZE, STAGE_RSS_TYPES};

/// An RX callback: called as `cb(port, queue, burst)` on the polling lcore after each receive,
/// with the packets just received in `burst` (its room is what is left of the caller's
/// maximum). It may keep, rewrite or drop them ([`BurstView::retain`] frees what it drops), or
/// add packets; what it leaves is what `rx_burst` returns.
pub type RxCallbackFn = dyn Fn(u16, u16, &mut BurstView<'_>) + Send + Sync;

/// A TX callback: called as `cb(port, queue, burst)` on the sending lcore before the driver
/// sends `burst`. It may keep, rewrite or drop packets (dropped ones count as taken by
/// `tx_burst`, so the caller's burst holds only what was neither dropped nor sent).
pub type TxCallbackFn = dyn Fn(u16, u16, &mut BurstView<'_>) + Send + Sync;

/// A callback's handle, for removal (DPDK's `struct rte_eth_rxtx_callback *`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallbackId {
    pub(crate) queue: u16,
    pub(crate) id: u64,
}

impl CallbackId {
    /// The queue it is on.
    pub fn queue(&self) -> u16 {
        self.queue
    }
}

/// The stage of one RX queue. Lives as long as the port's configuration: callbacks survive
/// stop, start and queue setup, as DPDK's.
#[derive(Default)]
pub(crate) struct RxStage {
    pub callbacks: CallbackList<RxCallbackFn>,
}

/// The stage of one TX queue.
#[derive(Default)]
pub(crate) struct TxStage {
    pub callbacks: CallbackList<TxCallbackFn>,
}

/// Most RX or TX queues of a port, the device's and the stage's (DPDK's
/// `RTE_MAX_QUEUES_PER_PORT`).
pub const STAGE_MAX_QUEUES: u16 = 1024;

/// The stage of a port, made at configure.
#[derive(Default)]
pub(crate) struct PortStage {
    pub rx: Vec<Arc<RxStage>>,
    pub tx: Vec<Arc<TxStage>>,
    /// The device's queues in use (the rest are the stage's).
    pub kernel_rx: u16,
    pub kernel_tx: u16,
    /// The RSS state (key, hash types, RETA): the stage's, or the one owner's copy of a device
    /// that does RSS itself.
    pub rss: Option<Arc<RssState>>,
    /// Whether the stage spreads by RSS over its software queues.
    pub spread: bool,
    /// Whether the stage writes the RSS hash on a device's own queues (`RSS_HASH`).
    pub hash_rx: bool,
    /// The device's RX queues, shared by software RX queues (when there are more queues).
    pub sw_rx: Option<Arc<[swq::SharedRx]>>,
    /// The device's TX queues, shared by software TX queues, with their private counters.
    pub sw_tx: Option<Vec<(Arc<swq::SharedTx>, Arc<crate::stats::QueueCounters>)>>,
}

impl PortStage {
    pub fn new(nb_rx: u16, nb_tx: u16) -> PortStage {
        PortStage {
            rx: (0..nb_rx).map(|_| Arc::default()).collect(),
            tx: (0..nb_tx).map(|_| Arc::default()).collect(),
            ..PortStage::default()
        }
    }
}

/// What the port reports (DPDK's `rte_eth_dev_info`) for a device described by `d`: the
/// stage's queues beyond the device's, and its RSS when the device has none.
pub(crate) fn port_info(mut d: crate::DevInfo) -> crate::DevInfo {
    if d.max_rx_queues > 0 {
        d.max_rx_queues = d.max_rx_queues.max(STAGE_MAX_QUEUES);
    }
    if d.max_tx_queues > 0 {
        d.max_tx_queues = d.max_tx_queues.max(STAGE_MAX_QUEUES);
    }
    if d.reta_size == 0 {
        d.reta_size = STAGE_RETA_SIZE;
        d.hash_key_size = STAGE_KEY_SIZE;
        d.flow_type_rss_offloads = STAGE_RSS_TYPES;
        d.rx_offload_capa |= crate::rx_offload::RSS_HASH;
    }
    d
}

/// The stage's RSS hash over a driver queue that does not compute it (the `RSS_HASH` offload
/// on a port whose device spreads over its own queues but writes no hash into mbufs).
pub(crate) struct HashRx {
    pub inner: Box<dyn RxQueueOps>,
    pub rss: Arc<RssState>,
}

impl RxQueueOps for HashRx {
    #[inline]
    fn rx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let start = pkts.len();
        let n = self.inner.rx_burst(pkts);
        if n > 0 {
            let snap = self.rss.snapshot();
            for m in &mut pkts.as_mut_slice()[start..] {
                if let Some(h) = snap.hash(m) {
                    m.set_rss_hash(h);
                }
            }
        }
        n
    }
}
