//! Queue handles: the per-lcore owners of a port's RX and TX queues, with the burst calls.
//!
//! A burst call checks that the port is started, calls the driver and then the queue's software
//! stage when it has work (one branch when it has none): the driver counts packets and bytes in
//! its own loops (see [`crate::driver`]); the stage is [`crate::stage`].

use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rpdk_mbuf::MbufBurst;

use crate::driver::{RxQueueOps, TxQueueOps};
use crate::port::{PortInner, Slot};
use crate::stage::{RxStage, TxStage};

/// An RX queue, owned by one thread at a time (`Send`, not `Clone` nor `Sync`). Dropping it
/// gives the queue back to its port.
pub struct RxQueue {
    port: Arc<PortInner>,
    queue: u16,
    ops: ManuallyDrop<Box<dyn RxQueueOps>>,
    stage: Arc<RxStage>,
}

impl RxQueue {
    pub(crate) fn new(
        port: Arc<PortInner>,
        queue: u16,
        ops: Box<dyn RxQueueOps>,
        stage: Arc<RxStage>,
    ) -> RxQueue {
        RxQueue {
            port,
            queue,
            ops: ManuallyDrop::new(ops),
            stage,
        }
    }

    /// The port id.
    pub fn port_id(&self) -> u16 {
        self.port.id
    }

    /// The queue id.
    pub fn queue_id(&self) -> u16 {
        self.queue
    }

    /// Receives up to `burst.room()` packets into `burst` and returns how many
    /// (DPDK's `rte_eth_rx_burst`); 0 while the port is stopped.
    #[inline]
    pub fn rx_burst<const N: usize>(&mut self, burst: &mut MbufBurst<N>) -> usize {
        self.rx_burst_max(burst, N)
    }

    /// Receives at most `max` packets into `burst` (DPDK's `nb_pkts`).
    #[inline]
    pub fn rx_burst_max<const N: usize>(&mut self, burst: &mut MbufBurst<N>, max: usize) -> usize {
        if !self.port.started.load(Ordering::Relaxed) {
            return 0;
        }
        let start = burst.len();
        let n = self.ops.rx_burst(&mut burst.view_limit(max));
        if self.stage.callbacks.is_empty() {
            return n;
        }
        self.run_callbacks(burst, start, max.saturating_sub(n))
    }

    /// The RX callbacks over the packets just received; how many are left.
    #[inline(never)]
    fn run_callbacks<const N: usize>(
        &mut self,
        burst: &mut MbufBurst<N>,
        start: usize,
        room: usize,
    ) -> usize {
        let (port, queue) = (self.port.id, self.queue);
        burst.with_tail_view(start, room, |v| {
            self.stage.callbacks.run(|cb| cb(port, queue, v));
            v.len()
        })
    }
}

impl std::fmt::Debug for RxQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RxQueue(port {}, queue {})", self.port.id, self.queue)
    }
}

impl std::fmt::Debug for TxQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TxQueue(port {}, queue {})", self.port.id, self.queue)
    }
}

impl Drop for RxQueue {
    fn drop(&mut self) {
        // SAFETY: taken once, here.
        let ops = unsafe { ManuallyDrop::take(&mut self.ops) };
        let mut st = self.port.lock();
        if let Some(slot) = st.rxq.get_mut(self.queue as usize)
            && matches!(slot, Slot::Taken)
        {
            *slot = Slot::Ready(ops);
        }
    }
}

/// A TX queue, owned by one thread at a time. Dropping it gives the queue back to its port.
pub struct TxQueue {
    port: Arc<PortInner>,
    queue: u16,
    ops: ManuallyDrop<Box<dyn TxQueueOps>>,
    stage: Arc<TxStage>,
}

impl TxQueue {
    pub(crate) fn new(
        port: Arc<PortInner>,
        queue: u16,
        ops: Box<dyn TxQueueOps>,
        stage: Arc<TxStage>,
    ) -> TxQueue {
        TxQueue {
            port,
            queue,
            ops: ManuallyDrop::new(ops),
            stage,
        }
    }

    /// The port id.
    pub fn port_id(&self) -> u16 {
        self.port.id
    }

    /// The queue id.
    pub fn queue_id(&self) -> u16 {
        self.queue
    }

    /// Sends packets from the front of `burst` and returns how many were taken (DPDK's
    /// `rte_eth_tx_burst`); the rest stay in `burst`, in order. 0 while the port is stopped.
    /// Packets a TX callback dropped count as taken.
    #[inline]
    pub fn tx_burst<const N: usize>(&mut self, burst: &mut MbufBurst<N>) -> usize {
        if !self.port.started.load(Ordering::Relaxed) || burst.is_empty() {
            return 0;
        }
        if !self.stage.callbacks.is_empty() {
            return self.tx_with_callbacks(burst);
        }
        self.ops.tx_burst(&mut burst.view())
    }

    /// The TX callbacks, then the driver.
    #[inline(never)]
    fn tx_with_callbacks<const N: usize>(&mut self, burst: &mut MbufBurst<N>) -> usize {
        let (port, queue) = (self.port.id, self.queue);
        let before = burst.len();
        let mut v = burst.view();
        self.stage.callbacks.run(|cb| cb(port, queue, &mut v));
        let dropped = before.saturating_sub(v.len());
        dropped + self.ops.tx_burst(&mut v)
    }
}

impl Drop for TxQueue {
    fn drop(&mut self) {
        // SAFETY: taken once, here.
        let ops = unsafe { ManuallyDrop::take(&mut self.ops) };
        let mut st = self.port.lock();
        if let Some(slot) = st.txq.get_mut(self.queue as usize)
            && matches!(slot, Slot::Taken)
        {
            *slot = Slot::Ready(ops);
        }
    }
}
