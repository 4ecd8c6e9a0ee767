//! The receive and transmit queues of net_e1000_em: legacy descriptor rings in hugepage memory,
//! one tail-register write per burst (8254x §3.2 and §3.3, 82574 §7.1 and §7.2).
//!
//! A queue's descriptors, its mbufs (one slot per descriptor) and its position are in shared
//! memory, so that a secondary process can drive it: whoever drops a queue object while the
//! queue is handed over leaves the ring and the mbufs to the next driver and parks the
//! position (see `share`).

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering, fence};

use rpdk_eal::bus::PciHandle;
use rpdk_eal::memzone::Memzone;
use rpdk_mbuf::{BurstView, PktmbufPool};

use super::regs::*;
use crate::driver::{RxQueueOps, TxQueueOps};
use crate::drivers::dma::DescRing;
use crate::drivers::slots::MbufSlots;
use crate::shared::QueueWords;
use crate::stats::QueueCounters;

/// [`RingState::words`]: RX, the next descriptor to read; TX, the next descriptor to fill.
pub(super) const POSITION: usize = 0;
/// TX: the oldest descriptor not yet reclaimed (parked at a handover).
pub(super) const CLEAN: usize = 1;
/// TX: bumped at each device start: a TX queue that sees it change drops what was in flight.
pub(super) const GENERATION: usize = 2;

/// Where a queue's ring is and where its software index stands: what `start` programs into
/// the device (head and tail continue from where the queue is).
pub(super) struct RingState {
    pub queue: u16,
    pub iova: u64,
    pub bytes: u32,
    pub count: u32,
    /// The descriptor ring's and the mbuf slots' memzones, for the queue's next driver.
    pub ring_zone: Memzone,
    pub slots_zone: Memzone,
    pub words: QueueWords,
    /// The queue object dropped next hands the queue over (the primary lent it, or this is a
    /// secondary's): it leaves its ring and mbufs and parks the position.
    pub hand_over: AtomicBool,
}

impl RingState {
    pub fn new(
        queue: u16,
        words: QueueWords,
        ring: &DescRing<impl crate::drivers::dma::Descriptor>,
        slots: &MbufSlots,
    ) -> RingState {
        RingState {
            queue,
            iova: ring.iova(),
            bytes: ring.bytes() as u32,
            count: ring.len() as u32,
            ring_zone: ring.zone().expect("a ring has its zone").clone(),
            slots_zone: slots.zone().clone(),
            words,
            hand_over: AtomicBool::new(false),
        }
    }

    #[inline(always)]
    pub fn position(&self) -> u32 {
        self.words.get(POSITION).load(Ordering::Relaxed) as u32
    }
}

/// The receive queue: every descriptor holds a fresh mbuf; the device fills them in order.
pub(super) struct RxQueue {
    pub ring: DescRing<RxDesc>,
    pub slots: MbufSlots,
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
    /// Arms every descriptor with its slot's mbuf, taking one from the pool for an empty slot
    /// (8254x §3.2.6: software gives the device buffers by writing their addresses and moving
    /// the tail), and starts reading at descriptor 0.
    pub fn fill(&mut self) -> Result<(), String> {
        for i in 0..self.slots.len() {
            let m = match self.slots.take(i) {
                Some(m) => m,
                None => self.pool.alloc().map_err(|_| {
                    format!(
                        "the pool has fewer free mbufs than the {} RX descriptors",
                        self.slots.len()
                    )
                })?,
            };
            self.ring.write(
                i,
                RxDesc {
                    addr: m.data_iova(),
                    ..RxDesc::default()
                },
            );
            self.slots.replace(i, m);
        }
        self.next = 0;
        self.state.words.get(POSITION).store(0, Ordering::Relaxed);
        Ok(())
    }
}

impl Drop for RxQueue {
    fn drop(&mut self) {
        if self.state.hand_over.load(Ordering::Acquire) {
            self.ring.leave();
            self.slots.leave();
            self.state
                .words
                .get(POSITION)
                .store(self.next as u64, Ordering::Relaxed);
            self.state.words.park();
        }
    }
}

impl RxQueueOps for RxQueue {
    fn rx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let count = self.slots.len();
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
            let got = self.slots.replace(i, fresh);
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
                .words
                .get(POSITION)
                .store(self.next as u64, Ordering::Relaxed);
        }
        self.counters.add(n as u64, bytes);
        if errors > 0 {
            self.counters.add_errors(errors);
        }
        n
    }
}

/// The transmit queue: packets go out in order; each packet's last descriptor asks for a
/// status write-back (RS) and its slot holds the packet's mbuf (the slots of the others are
/// empty), freed once the device set its DD bit.
pub(super) struct TxQueue {
    pub ring: DescRing<TxDesc>,
    pub slots: MbufSlots,
    pub tail: usize,
    pub clean: usize,
    pub free: usize,
    pub dev: PciHandle,
    pub counters: Arc<QueueCounters>,
    pub state: Arc<RingState>,
    pub generation: u64,
}

impl TxQueue {
    /// The queue from where its last driver left it (`tail`, `clean`).
    pub fn resume(
        ring: DescRing<TxDesc>,
        slots: MbufSlots,
        dev: PciHandle,
        counters: Arc<QueueCounters>,
        state: Arc<RingState>,
    ) -> TxQueue {
        let count = slots.len();
        let w = &state.words;
        let tail = w.get(POSITION).load(Ordering::Relaxed) as usize % count;
        let clean = w.get(CLEAN).load(Ordering::Relaxed) as usize % count;
        let generation = w.get(GENERATION).load(Ordering::Relaxed);
        TxQueue {
            ring,
            slots,
            tail,
            clean,
            free: count - 1 - (tail + count - clean) % count,
            dev,
            counters,
            state,
            generation,
        }
    }

    /// Frees the mbufs of sent packets, oldest first.
    fn reclaim(&mut self) {
        let count = self.slots.len();
        while self.clean != self.tail {
            // The packet's last descriptor: the first from `clean` whose slot holds an mbuf.
            let mut last = self.clean;
            while self.slots.is_empty(last) {
                last = (last + 1) % count;
                if last == self.tail {
                    return;
                }
            }
            if self.ring.read_u8(last, TXD_STATUS_OFFSET) & TXD_STAT_DD == 0 {
                break;
            }
            drop(self.slots.take(last));
            let used = (last + count - self.clean) % count + 1;
            self.free += used;
            self.clean = (last + 1) % count;
        }
    }

    /// After a restart the device begins at our tail: what was in flight is dropped.
    fn restarted(&mut self, generation: u64) {
        self.slots.clear();
        self.clean = self.tail;
        self.free = self.slots.len() - 1;
        self.generation = generation;
    }
}

impl Drop for TxQueue {
    fn drop(&mut self) {
        if self.state.hand_over.load(Ordering::Acquire) {
            self.ring.leave();
            self.slots.leave();
            let w = &self.state.words;
            w.get(POSITION).store(self.tail as u64, Ordering::Relaxed);
            w.get(CLEAN).store(self.clean as u64, Ordering::Relaxed);
            w.park();
        }
    }
}

impl TxQueueOps for TxQueue {
    fn tx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let generation = self.state.words.get(GENERATION).load(Ordering::Relaxed);
        if generation != self.generation {
            self.restarted(generation);
        }
        self.reclaim();
        let count = self.slots.len();
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
            bytes += m.pkt_len() as u64;
            // The slots of a packet's first descriptors stay empty.
            drop(self.slots.replace(self.tail, m));
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
                .words
                .get(POSITION)
                .store(self.tail as u64, Ordering::Relaxed);
            self.counters.add(take as u64, bytes);
        }
        take
    }
}
