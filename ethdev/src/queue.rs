//! Queue handles: the per-lcore owners of a port's RX and TX queues, with the burst calls.

use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rpdk_mbuf::MbufBurst;

use crate::driver::{RxQueueOps, TxQueueOps};
use crate::port::{PortInner, Slot};
use crate::stats::QueueCounters;

/// An RX queue, owned by one thread at a time (`Send`, not `Clone` nor `Sync`). Dropping it
/// gives the queue back to its port.
pub struct RxQueue {
    port: Arc<PortInner>,
    queue: u16,
    ops: ManuallyDrop<Box<dyn RxQueueOps>>,
    counters: Arc<QueueCounters>,
}

impl RxQueue {
    pub(crate) fn new(
        port: Arc<PortInner>,
        queue: u16,
        ops: Box<dyn RxQueueOps>,
        counters: Arc<QueueCounters>,
    ) -> RxQueue {
        RxQueue {
            port,
            queue,
            ops: ManuallyDrop::new(ops),
            counters,
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
        let before = burst.len();
        let n = self.ops.rx_burst(&mut burst.view_limit(max));
        if n > 0 {
            let bytes: u64 = burst.as_slice()[before..]
                .iter()
                .map(|m| m.pkt_len() as u64)
                .sum();
            self.counters.add(n as u64, bytes);
        }
        n
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
    counters: Arc<QueueCounters>,
}

impl TxQueue {
    pub(crate) fn new(
        port: Arc<PortInner>,
        queue: u16,
        ops: Box<dyn TxQueueOps>,
        counters: Arc<QueueCounters>,
    ) -> TxQueue {
        TxQueue {
            port,
            queue,
            ops: ManuallyDrop::new(ops),
            counters,
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
    #[inline]
    pub fn tx_burst<const N: usize>(&mut self, burst: &mut MbufBurst<N>) -> usize {
        if !self.port.started.load(Ordering::Relaxed) || burst.is_empty() {
            return 0;
        }
        let total: u64 = burst.iter().map(|m| m.pkt_len() as u64).sum();
        let (drops, drop_bytes) = self.counters.tx_dropped();
        let n = self.ops.tx_burst(&mut burst.view());
        if n > 0 {
            let left: u64 = burst.iter().map(|m| m.pkt_len() as u64).sum();
            let (drops2, drop_bytes2) = self.counters.tx_dropped();
            // Frames the driver took but dropped are errors, not sent packets.
            self.counters.add(
                n as u64 - (drops2 - drops),
                (total - left) - (drop_bytes2 - drop_bytes),
            );
        }
        n
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
