//! The receive and transmit queues of net_e1000_em: legacy descriptor rings in hugepage memory,
//! one tail-register write per burst (8254x §3.2 and §3.3, 82574 §7.1 and §7.2).

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering, fence};

use rpdk_eal::bus::PciHandle;
use rpdk_mbuf::{BurstView, Mbuf, PktmbufPool};

use super::regs::*;
use crate::driver::{RxQueueOps, TxQueueOps};
use crate::drivers::dma::DescRing;
use crate::stats::QueueCounters;

/// Where a queue's ring is and where its software index stands: what `start` programs into
/// the device (head and tail continue from where the queue is).
pub(super) struct RingState {
    pub iova: u64,
    pub bytes: u32,
    pub count: u32,
    /// RX: the next descriptor to read; TX: the next descriptor to fill.
    pub position: AtomicU32,
    /// Bumped at each device start: a TX queue that sees it change drops what was in flight.
    pub generation: AtomicU32,
}

/// The receive queue: every descriptor holds a fresh mbuf; the device fills them in order.
pub(super) struct RxQueue {
    pub ring: DescRing<RxDesc>,
    pub mbufs: Vec<Option<Mbuf>>,
    pub pool: PktmbufPool,
    pub next: usize,
    pub port: u16,
    pub dev: PciHandle,
    pub counters: Arc<QueueCounters>,
    pub state: Arc<RingState>,
    /// Dropping the pieces of a frame that spans descriptors (bigger than a buffer).
    pub discarding: bool,
    /// Empty polls since the tail was last written.
    pub idle_polls: u32,
}

/// Empty polls after which an idle queue writes its (unchanged) tail again. QEMU's e1000
/// models queue frames while they cannot receive and deliver them only on a tail write (or
/// their flush timer); a frame queued just after our last write can otherwise wait forever
/// on a quiet link. One register write per this many empty polls; harmless on hardware.
const IDLE_TAIL_REWRITE: u32 = 1024;

impl RxQueue {
    /// Arms every descriptor with an mbuf from the pool (8254x §3.2.6: software gives the
    /// device buffers by writing their addresses and moving the tail).
    pub fn fill(&mut self) -> Result<(), String> {
        for i in 0..self.mbufs.len() {
            let m = self.pool.alloc().map_err(|_| {
                format!(
                    "the pool has fewer free mbufs than the {} RX descriptors",
                    self.mbufs.len()
                )
            })?;
            self.ring.write(
                i,
                RxDesc {
                    addr: m.data_iova(),
                    ..RxDesc::default()
                },
            );
            self.mbufs[i] = Some(m);
        }
        Ok(())
    }
}

impl RxQueueOps for RxQueue {
    fn rx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let count = self.mbufs.len();
        let mut n = 0usize;
        let mut bytes = 0u64;
        let mut errors = 0u64;
        let mut armed = None;
        while n < pkts.room() {
            let i = self.next;
            if self.ring.read_u8(i, RXD_STATUS_OFFSET) & RXD_STAT_DD == 0 {
                if n == 0 && armed.is_none() {
                    self.idle_polls += 1;
                    if self.idle_polls == IDLE_TAIL_REWRITE {
                        self.idle_polls = 0;
                        let count = self.mbufs.len();
                        armed = Some((self.next + count - 1) % count);
                    }
                }
                break;
            }
            self.idle_polls = 0;
            // The rest of the descriptor is read after its DD bit.
            fence(Ordering::Acquire);
            let d = self.ring.read(i);
            let Ok(fresh) = self.pool.alloc() else {
                self.counters.add_nombuf(1);
                break;
            };
            self.ring.write(
                i,
                RxDesc {
                    addr: fresh.data_iova(),
                    ..RxDesc::default()
                },
            );
            let got = self.mbufs[i].replace(fresh);
            armed = Some(i);
            self.next = if i + 1 == count { 0 } else { i + 1 };
            let eop = d.status & RXD_STAT_EOP != 0;
            if self.discarding || !eop || d.errors & RXD_ERR_FRAME != 0 {
                // A frame in several buffers (scatter is not supported) or with an error.
                if !self.discarding {
                    errors += 1;
                }
                self.discarding = !eop;
                continue;
            }
            let Some(mut m) = got else { continue };
            if m.set_len(d.length).is_err() {
                errors += 1;
                continue;
            }
            m.set_port(self.port);
            bytes += d.length as u64;
            if pkts.push(m).is_err() {
                break;
            }
            n += 1;
        }
        if let Some(last) = armed {
            // Descriptors are written before the device may read them.
            fence(Ordering::Release);
            if let Some(bar) = self.dev.bar(0) {
                bar.write32(RDT, last as u32);
            }
            self.state
                .position
                .store(self.next as u32, Ordering::Relaxed);
        }
        self.counters.add(n as u64, bytes);
        if errors > 0 {
            self.counters.add_errors(errors);
        }
        n
    }
}

/// The transmit queue: packets go out in order; each packet's last descriptor asks for a
/// status write-back (RS), and the mbufs are freed once the device set its DD bit.
pub(super) struct TxQueue {
    pub ring: DescRing<TxDesc>,
    /// The mbuf of each packet, at the index of its last descriptor.
    pub mbufs: Vec<Option<Mbuf>>,
    /// For the first descriptor of each packet in flight: the index of its last.
    pub last: Vec<u16>,
    pub tail: usize,
    pub clean: usize,
    pub free: usize,
    pub dev: PciHandle,
    pub counters: Arc<QueueCounters>,
    pub state: Arc<RingState>,
    pub generation: u32,
}

impl TxQueue {
    /// Frees the mbufs of sent packets, oldest first.
    fn reclaim(&mut self) {
        let count = self.mbufs.len();
        while self.clean != self.tail {
            let last = self.last[self.clean] as usize;
            if self.ring.read_u8(last, TXD_STATUS_OFFSET) & TXD_STAT_DD == 0 {
                break;
            }
            self.mbufs[last] = None;
            let used = (last + count - self.clean) % count + 1;
            self.free += used;
            self.clean = (last + 1) % count;
        }
    }

    /// After a restart the device begins at our tail: what was in flight is dropped.
    fn restarted(&mut self, generation: u32) {
        for m in &mut self.mbufs {
            *m = None;
        }
        self.clean = self.tail;
        self.free = self.mbufs.len() - 1;
        self.generation = generation;
    }
}

impl TxQueueOps for TxQueue {
    fn tx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let generation = self.state.generation.load(Ordering::Relaxed);
        if generation != self.generation {
            self.restarted(generation);
        }
        self.reclaim();
        let count = self.mbufs.len();
        // How many packets fit in the free descriptors.
        let mut take = 0;
        let mut need = 0;
        for m in pkts.as_slice() {
            need += m.nb_segs() as usize;
            if need > self.free {
                break;
            }
            take += 1;
        }
        let mut bytes = 0u64;
        pkts.take_front(take, |m| {
            let first = self.tail;
            let segs = m.nb_segs() as usize;
            for (k, seg) in m.segments().enumerate() {
                let mut cmd = TXD_CMD_IFCS;
                if k + 1 == segs {
                    cmd |= TXD_CMD_EOP | TXD_CMD_RS;
                }
                self.ring.write(
                    self.tail,
                    TxDesc {
                        addr: seg.data_iova(),
                        length: seg.data().len() as u16,
                        cmd,
                        ..TxDesc::default()
                    },
                );
                if k + 1 < segs {
                    self.tail = (self.tail + 1) % count;
                }
            }
            self.last[first] = self.tail as u16;
            bytes += m.pkt_len() as u64;
            self.mbufs[self.tail] = Some(m);
            self.tail = (self.tail + 1) % count;
            self.free -= segs;
        });
        if take > 0 {
            // Descriptors are written before the device may read them.
            fence(Ordering::Release);
            if let Some(bar) = self.dev.bar(0) {
                bar.write32(TDT, self.tail as u32);
            }
            self.state
                .position
                .store(self.tail as u32, Ordering::Relaxed);
            self.counters.add(take as u64, bytes);
        }
        take
    }
}
