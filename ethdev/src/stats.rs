//! Port statistics (`struct rte_eth_stats`) and extended statistics by name.
//!
//! Each queue counts into its own cache-line-aligned counters. The driver writes them in its
//! burst functions, on the lcore that owns the queue (a load and a store, no locked
//! instruction), counting what it received or sent where it already has each packet's length
//! in hand, as DPDK's PMDs do; anyone reads them. Resetting records a baseline instead of
//! writing the counters, so it never races with the owner.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Queues with their own counters in [`Stats`] (`RTE_ETHDEV_QUEUE_STAT_CNTRS`).
pub const QUEUE_STAT_CNTRS: usize = 16;

/// The counters themselves: in the process's heap, or in the shared port data (see
/// [`crate::shared`]) when secondary processes may drive the queue.
#[derive(Default, Debug)]
#[repr(C, align(64))]
pub(crate) struct CounterBlock {
    packets: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
    /// RX: mbuf allocation failures.
    nombuf: AtomicU64,
    /// RX: packets the device dropped for want of room.
    missed: AtomicU64,
}

impl CounterBlock {
    /// Zeroes the counters (control path, no queue counting into them).
    pub(crate) fn clear(&self) {
        for c in [
            &self.packets,
            &self.bytes,
            &self.errors,
            &self.nombuf,
            &self.missed,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// Counters of one queue: its own, or a block of the shared port data that every process
/// driving the queue counts into (one at a time: the queue's owner).
#[derive(Default, Debug)]
pub struct QueueCounters {
    own: CounterBlock,
    shared: Option<crate::shared::SharedBlock>,
}

/// A snapshot of one queue's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueSnapshot {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
    /// Errors.
    pub errors: u64,
    /// RX mbuf allocation failures.
    pub nombuf: u64,
    /// RX drops for want of room.
    pub missed: u64,
}

impl QueueSnapshot {
    fn minus(self, b: QueueSnapshot) -> QueueSnapshot {
        QueueSnapshot {
            packets: self.packets.wrapping_sub(b.packets),
            bytes: self.bytes.wrapping_sub(b.bytes),
            errors: self.errors.wrapping_sub(b.errors),
            nombuf: self.nombuf.wrapping_sub(b.nombuf),
            missed: self.missed.wrapping_sub(b.missed),
        }
    }
}

#[inline(always)]
fn bump(c: &AtomicU64, by: u64) {
    c.store(
        c.load(Ordering::Relaxed).wrapping_add(by),
        Ordering::Relaxed,
    );
}

impl QueueCounters {
    /// Counters in a block of the shared port data.
    pub(crate) fn in_shared(block: crate::shared::SharedBlock) -> QueueCounters {
        QueueCounters {
            own: CounterBlock::default(),
            shared: Some(block),
        }
    }

    #[inline(always)]
    fn block(&self) -> &CounterBlock {
        match &self.shared {
            Some(b) => b.get(),
            None => &self.own,
        }
    }

    /// Counts packets received or sent and their bytes (by the queue's owner: the driver, once
    /// per burst).
    #[inline(always)]
    pub fn add(&self, packets: u64, bytes: u64) {
        if packets > 0 {
            let b = self.block();
            bump(&b.packets, packets);
            bump(&b.bytes, bytes);
        }
    }

    /// Counts errors (by the queue's owner).
    #[inline(always)]
    pub fn add_errors(&self, n: u64) {
        bump(&self.block().errors, n);
    }

    /// Counts RX mbuf allocation failures (by the queue's owner).
    #[inline(always)]
    pub fn add_nombuf(&self, n: u64) {
        bump(&self.block().nombuf, n);
    }

    /// Counts RX drops for want of room (by the queue's owner).
    #[inline(always)]
    pub fn add_missed(&self, n: u64) {
        bump(&self.block().missed, n);
    }

    /// Reads the counters.
    pub fn snapshot(&self) -> QueueSnapshot {
        let b = self.block();
        QueueSnapshot {
            packets: b.packets.load(Ordering::Relaxed),
            bytes: b.bytes.load(Ordering::Relaxed),
            errors: b.errors.load(Ordering::Relaxed),
            nombuf: b.nombuf.load(Ordering::Relaxed),
            missed: b.missed.load(Ordering::Relaxed),
        }
    }
}

/// Port statistics (`struct rte_eth_stats`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets received.
    pub ipackets: u64,
    /// Packets sent.
    pub opackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// Packets dropped by the device for want of room.
    pub imissed: u64,
    /// Receive errors.
    pub ierrors: u64,
    /// Transmit errors.
    pub oerrors: u64,
    /// Mbuf allocation failures on receive.
    pub rx_nombuf: u64,
    /// Packets received per queue (the first 16).
    pub q_ipackets: [u64; QUEUE_STAT_CNTRS],
    /// Packets sent per queue.
    pub q_opackets: [u64; QUEUE_STAT_CNTRS],
    /// Bytes received per queue.
    pub q_ibytes: [u64; QUEUE_STAT_CNTRS],
    /// Bytes sent per queue.
    pub q_obytes: [u64; QUEUE_STAT_CNTRS],
    /// Errors per RX queue.
    pub q_errors: [u64; QUEUE_STAT_CNTRS],
}

/// The counters of a port's queues, with their reset baselines.
///
/// With software RX queues (more queues than the device has, see `stage::swq`), the driver
/// counts each device queue into `kernel_rx`: its packets and bytes are what the stage then
/// hands to the queues (which count what they deliver into `rx`), so only its errors,
/// `nombuf` and `missed` (ring overflows of the stage included) add to the port's.
#[derive(Debug, Default)]
pub(crate) struct PortCounters {
    pub rx: Vec<std::sync::Arc<QueueCounters>>,
    pub tx: Vec<std::sync::Arc<QueueCounters>>,
    pub kernel_rx: Vec<std::sync::Arc<QueueCounters>>,
    base: Mutex<[Vec<QueueSnapshot>; 3]>,
}

type Snapshots = [Vec<QueueSnapshot>; 3];

impl PortCounters {
    pub fn new(nb_rx: u16, nb_tx: u16, nb_kernel_rx: u16) -> PortCounters {
        PortCounters::new_in(nb_rx, nb_tx, nb_kernel_rx, None)
    }

    /// Counters whose RX and TX queues count into `shared`'s blocks (the first
    /// [`crate::shared::SHARED_QUEUES`] of each direction), zeroed.
    pub fn new_in(
        nb_rx: u16,
        nb_tx: u16,
        nb_kernel_rx: u16,
        shared: Option<&crate::shared::SharedPort>,
    ) -> PortCounters {
        let make = |rx: bool, q: u16| -> std::sync::Arc<QueueCounters> {
            match shared.and_then(|s| s.block(rx, q)) {
                Some(b) => {
                    b.get().clear();
                    std::sync::Arc::new(QueueCounters::in_shared(b))
                }
                None => Default::default(),
            }
        };
        PortCounters {
            rx: (0..nb_rx).map(|q| make(true, q)).collect(),
            tx: (0..nb_tx).map(|q| make(false, q)).collect(),
            kernel_rx: (0..nb_kernel_rx).map(|_| Default::default()).collect(),
            base: Mutex::new([
                vec![QueueSnapshot::default(); nb_rx as usize],
                vec![QueueSnapshot::default(); nb_tx as usize],
                vec![QueueSnapshot::default(); nb_kernel_rx as usize],
            ]),
        }
    }

    fn current(&self) -> Snapshots {
        let base = self.base.lock().unwrap_or_else(|e| e.into_inner());
        let since = |cs: &[std::sync::Arc<QueueCounters>], bs: &[QueueSnapshot]| {
            cs.iter()
                .zip(bs)
                .map(|(c, b)| c.snapshot().minus(*b))
                .collect()
        };
        [
            since(&self.rx, &base[0]),
            since(&self.tx, &base[1]),
            since(&self.kernel_rx, &base[2]),
        ]
    }

    pub fn stats(&self) -> Stats {
        let [rx, tx, kernel] = self.current();
        let mut s = Stats::default();
        for q in &kernel {
            s.ierrors += q.errors;
            s.rx_nombuf += q.nombuf;
            s.imissed += q.missed;
        }
        for (i, q) in rx.iter().enumerate() {
            s.ipackets += q.packets;
            s.ibytes += q.bytes;
            s.ierrors += q.errors;
            s.rx_nombuf += q.nombuf;
            s.imissed += q.missed;
            if i < QUEUE_STAT_CNTRS {
                s.q_ipackets[i] = q.packets;
                s.q_ibytes[i] = q.bytes;
                s.q_errors[i] = q.errors;
            }
        }
        for (i, q) in tx.iter().enumerate() {
            s.opackets += q.packets;
            s.obytes += q.bytes;
            s.oerrors += q.errors;
            if i < QUEUE_STAT_CNTRS {
                s.q_opackets[i] = q.packets;
                s.q_obytes[i] = q.bytes;
            }
        }
        s
    }

    /// Extended statistics, DPDK's generic names first.
    pub fn xstats(&self) -> Vec<(String, u64)> {
        let s = self.stats();
        let [rx, tx, _] = self.current();
        let mut out = vec![
            ("rx_good_packets".to_string(), s.ipackets),
            ("tx_good_packets".to_string(), s.opackets),
            ("rx_good_bytes".to_string(), s.ibytes),
            ("tx_good_bytes".to_string(), s.obytes),
            ("rx_missed_errors".to_string(), s.imissed),
            ("rx_errors".to_string(), s.ierrors),
            ("tx_errors".to_string(), s.oerrors),
            ("rx_mbuf_allocation_errors".to_string(), s.rx_nombuf),
        ];
        for (i, q) in rx.iter().enumerate() {
            out.push((format!("rx_q{i}_packets"), q.packets));
            out.push((format!("rx_q{i}_bytes"), q.bytes));
            out.push((format!("rx_q{i}_errors"), q.errors));
        }
        for (i, q) in tx.iter().enumerate() {
            out.push((format!("tx_q{i}_packets"), q.packets));
            out.push((format!("tx_q{i}_bytes"), q.bytes));
        }
        out
    }

    pub fn reset(&self) {
        let mut base = self.base.lock().unwrap_or_else(|e| e.into_inner());
        base[0] = self.rx.iter().map(|c| c.snapshot()).collect();
        base[1] = self.tx.iter().map(|c| c.snapshot()).collect();
        base[2] = self.kernel_rx.iter().map(|c| c.snapshot()).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_per_queue_and_resets_by_baseline() {
        let c = PortCounters::new(2, 1, 1);
        c.kernel_rx[0].add(9, 900);
        c.kernel_rx[0].add_missed(2);
        c.rx[0].add(3, 300);
        c.rx[1].add(2, 128);
        c.rx[1].add_nombuf(4);
        c.rx[1].add_missed(1);
        c.tx[0].add(5, 500);
        c.tx[0].add_errors(1);
        let s = c.stats();
        assert_eq!(
            (s.ipackets, s.ibytes, s.opackets, s.obytes),
            (5, 428, 5, 500)
        );
        assert_eq!(
            (s.rx_nombuf, s.imissed, s.oerrors),
            (4, 3, 1),
            "kernel queues' missed too"
        );
        assert_eq!((s.q_ipackets[0], s.q_ipackets[1]), (3, 2));
        let x = c.xstats();
        assert!(x.contains(&("rx_q1_bytes".to_string(), 128)));
        assert!(x.contains(&("rx_mbuf_allocation_errors".to_string(), 4)));
        c.reset();
        assert_eq!(c.stats(), Stats::default());
        c.rx[0].add(1, 60);
        assert_eq!(c.stats().ipackets, 1);
    }
}
