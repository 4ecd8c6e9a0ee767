//! The software stage of every port: what runs on the polling lcore between the driver's burst
//! and the application, the same for every driver.
//!
//! Per RX queue, after the driver's `rx_burst`: the RX callbacks in order (DPDK's
//! `rte_eth_add_rx_callback`). Per TX queue, before the driver's `tx_burst`: the TX callbacks.
//! A queue with no callback pays one relaxed load and a branch that always goes the same way.
//! Callbacks are added and removed while traffic runs, without a lock on the burst path;
//! removal waits until the polling lcore is past the callback (see [`callbacks`]).

mod callbacks;

use std::sync::Arc;

use rpdk_mbuf::BurstView;

use callbacks::CallbackList;

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

/// The stages of a port's queues, made at configure.
#[derive(Default)]
pub(crate) struct PortStage {
    pub rx: Vec<Arc<RxStage>>,
    pub tx: Vec<Arc<TxStage>>,
}

impl PortStage {
    pub fn new(nb_rx: u16, nb_tx: u16) -> PortStage {
        PortStage {
            rx: (0..nb_rx).map(|_| Arc::default()).collect(),
            tx: (0..nb_tx).map(|_| Arc::default()).collect(),
        }
    }
}
