//! net_vmxnet3's queues: TX with its command ring and completion ring, RX with two command
//! rings (head buffers in ring 0, body buffers in ring 1) and a completion ring. Ownership goes
//! by generation bits (flipped at each wrap): the driver writes descriptors with its ring's
//! generation, the device writes completions with the completion ring's. One producer-register
//! write per TX burst; RX writes its producer registers only when the device asks for it
//! (`updateRxProd` in the queue's control area).
//!
//! What a queue's next driver needs is in shared memory, so that a secondary process can drive
//! the queue (`share`): the rings are in the queue's memzone, the mbufs in a slot per
//! descriptor ([`MbufSlots`]), and the cursors (each ring's index with the generation it writes
//! or expects, TX's oldest descriptor in flight) in the queue's record in the shared port data
//! (`cursor`), stored at each burst after the ring writes they cover. Whoever drops a queue
//! object while the queue is handed over leaves the rings and the mbufs in place and parks the
//! record; the next driver goes on from there, generation bits included. A process that dies
//! driving the queue parks nothing: the primary takes over from its last recorded burst
//! ([`RxQueue::resume`], [`TxQueue::resume`]; the scan of what the dead process did after it
//! is `crash`).

#![forbid(unsafe_code)]

mod crash;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering, fence};

use rpdk_eal::bus::PciHandle;
use rpdk_eal::memzone::Memzone;
use rpdk_mbuf::{BurstView, Mbuf, OlFlags, PktmbufPool};

use super::cursor::{CURSORS, CURSORS_OF, GENERATION, RxCursors, TxCursors};
use super::regs::*;
use crate::driver::{RxQueueOps, TxQueueOps};
use crate::drivers::dma::DmaArea;
use crate::drivers::slots::MbufSlots;
use crate::shared::QueueWords;
use crate::stats::QueueCounters;

/// Ring 1 (body buffers) of each RX queue.
pub const BODY_RING: u16 = RING_SIZE_ALIGN;

/// A ring of `size` 16-byte descriptors at `at` in its queue's memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ring {
    pub at: usize,
    pub size: u16,
}

impl Ring {
    pub fn desc(&self, i: u16) -> usize {
        self.at + i as usize * DESC_LEN
    }
}

const fn round_up(x: usize, to: usize) -> usize {
    x.div_ceil(to) * to
}

/// An RX queue's memory for ring 0 of `size` descriptors: ring 0, ring 1 ([`BODY_RING`]) and
/// the completion ring (one entry per descriptor of both), each 512-byte aligned; and the
/// whole length.
pub fn rx_layout(size: u16) -> ([Ring; 2], Ring, usize) {
    let r1 = round_up(size as usize * DESC_LEN, RING_ALIGN);
    let c = r1 + round_up(BODY_RING as usize * DESC_LEN, RING_ALIGN);
    let comp = size + BODY_RING;
    let rings = [
        Ring { at: 0, size },
        Ring {
            at: r1,
            size: BODY_RING,
        },
    ];
    (
        rings,
        Ring { at: c, size: comp },
        c + comp as usize * DESC_LEN,
    )
}

/// A TX queue's memory for `size` descriptors: the command ring, the completion ring, the
/// data ring's offset (the device wants one), and the whole length.
pub fn tx_layout(size: u16) -> (Ring, Ring, usize, usize) {
    let ring_bytes = round_up(size as usize * DESC_LEN, RING_ALIGN);
    let data_at = 2 * ring_bytes;
    (
        Ring { at: 0, size },
        Ring {
            at: ring_bytes,
            size,
        },
        data_at,
        data_at + size as usize * TX_DATA_DESC,
    )
}

/// What the control path and a TX queue share.
pub struct TxShared {
    pub mem: DmaArea,
    pub ring: Ring,
    pub comp: Ring,
    pub data_at: usize,
    pub words: QueueWords,
    /// The mbuf slots' memzone, for the queue's next driver.
    pub slots_zone: Memzone,
    /// The queue object dropped next hands the queue over (the primary lent it, or this is a
    /// secondary's): it leaves its mbufs and parks its cursors.
    pub hand_over: AtomicBool,
}

impl TxShared {
    /// A TX queue of `size` descriptors in `mem`, laid out as [`tx_layout`] says, its mbufs in
    /// `slots`; `hand_over` for a queue object that hands the queue over when dropped (a
    /// secondary's).
    pub fn new(
        mem: DmaArea,
        size: u16,
        words: QueueWords,
        slots: &MbufSlots,
        hand_over: bool,
    ) -> Arc<TxShared> {
        let (ring, comp, data_at, _) = tx_layout(size);
        Arc::new(TxShared {
            mem,
            ring,
            comp,
            data_at,
            words,
            slots_zone: slots.zone().clone(),
            hand_over: AtomicBool::new(hand_over),
        })
    }

    /// Before an activation: no descriptor or completion left from before.
    pub fn rearm(&self) {
        for r in [self.ring, self.comp] {
            for i in 0..r.size {
                self.mem.write64(r.desc(i), 0);
                self.mem.write64(r.desc(i) + 8, 0);
            }
        }
        self.words.get(GENERATION).fetch_add(1, Ordering::Release);
    }
}

/// What the control path and an RX queue share.
pub struct RxShared {
    pub mem: DmaArea,
    pub rings: [Ring; 2],
    pub comp: Ring,
    pub words: QueueWords,
    /// The mbuf slots' memzone: ring 0's slots, then ring 1's.
    pub slots_zone: Memzone,
    /// As [`TxShared::hand_over`].
    pub hand_over: AtomicBool,
}

impl RxShared {
    /// An RX queue whose ring 0 has `size` descriptors, in `mem` laid out as [`rx_layout`]
    /// says, its mbufs in `slots`; `hand_over` as for [`TxShared::new`].
    pub fn new(
        mem: DmaArea,
        size: u16,
        words: QueueWords,
        slots: &MbufSlots,
        hand_over: bool,
    ) -> Arc<RxShared> {
        let (rings, comp, _) = rx_layout(size);
        Arc::new(RxShared {
            mem,
            rings,
            comp,
            words,
            slots_zone: slots.zone().clone(),
            hand_over: AtomicBool::new(hand_over),
        })
    }

    /// Before an activation (the device starts at index 0, generation 1): every descriptor
    /// keeps its buffer (a queue never leaves one empty) and gets generation 1; completions
    /// are cleared.
    pub fn rearm(&self) {
        for r in self.rings {
            for i in 0..r.size {
                let dw2 = self.mem.read32(r.desc(i) + 8);
                self.mem.write32(r.desc(i) + 8, dw2 | RXD_GEN);
            }
        }
        for i in 0..self.comp.size {
            self.mem.write64(self.comp.desc(i), 0);
            self.mem.write64(self.comp.desc(i) + 8, 0);
        }
        self.words.get(GENERATION).fetch_add(1, Ordering::Release);
    }

    /// The slots of both rings.
    pub fn slot_count(&self) -> usize {
        self.rings[0].size as usize + self.rings[1].size as usize
    }

    /// The slot of descriptor `i` of ring `r`.
    #[inline(always)]
    fn slot(&self, r: usize, i: u16) -> usize {
        if r == 0 {
            i as usize
        } else {
            self.rings[0].size as usize + i as usize
        }
    }
}

/// What an RX queue object works with besides its rings and slots.
pub struct RxContext {
    pub dev: PciHandle,
    /// The shared area and the offset of this queue's descriptor (its control byte).
    pub ds: Arc<DmaArea>,
    pub qd_at: usize,
    pub qid: u16,
    pub nb_rxq: u16,
    pub pool: PktmbufPool,
    pub port: u16,
    pub counters: Arc<QueueCounters>,
}

/// The receive queue.
pub struct RxQueue {
    sh: Arc<RxShared>,
    /// The device generation the cursors belong to.
    generation: u64,
    cx: RxContext,
    /// Each descriptor's buffer, always all there (but after a crash, see `resume`).
    slots: MbufSlots,
    cur: RxCursors,
    partial: Option<Mbuf>,
}

/// Writes RX descriptor `i` of `ring` for `m`, with generation `gen_`.
fn post_rx(mem: &DmaArea, ring: Ring, i: u16, m: &Mbuf, body: bool, gen_: bool) {
    let at = ring.desc(i);
    let len = (m.tailroom() as u32).min(RCD_LEN_MASK);
    mem.write64(at, m.data_iova());
    let mut dw2 = len;
    if body {
        dw2 |= RXD_BTYPE_BODY;
    }
    if gen_ {
        dw2 |= RXD_GEN;
    }
    mem.write32(at + 8, dw2);
}

impl RxQueue {
    /// A new queue: every descriptor of both rings gets a buffer from the pool, generation 1
    /// (the device's first pass), before the device is activated.
    pub fn new(sh: Arc<RxShared>, mut slots: MbufSlots, cx: RxContext) -> Result<RxQueue, String> {
        for (r, ring) in sh.rings.iter().enumerate() {
            for i in 0..ring.size {
                let m = cx.pool.alloc().map_err(|_| {
                    format!(
                        "the pool has fewer free mbufs than the {} RX descriptors",
                        sh.slot_count()
                    )
                })?;
                post_rx(&sh.mem, *ring, i, &m, r == 1, true);
                drop(slots.replace(sh.slot(r, i), m));
            }
        }
        let q = RxQueue {
            generation: sh.words.get(GENERATION).load(Ordering::Acquire),
            sh,
            cx,
            slots,
            cur: RxCursors::armed(),
            partial: None,
        };
        q.record();
        Ok(q)
    }

    /// The queue from where its last driver left it: its recorded cursors. When that driver
    /// died driving it (`crashed`), every buffer the device completed since its last recorded
    /// burst is posted again with the mbuf of its slot (those frames are dropped: whether it
    /// took them is not known, and counted as errors).
    pub fn resume(sh: Arc<RxShared>, slots: MbufSlots, cx: RxContext, crashed: bool) -> Self {
        let cur = RxCursors::unpack(
            sh.words.get(CURSORS).load(Ordering::Relaxed),
            &sh.rings,
            &sh.comp,
        );
        let generation = sh.words.get(CURSORS_OF).load(Ordering::Relaxed);
        let mut q = RxQueue {
            sh,
            generation,
            cx,
            slots,
            cur,
            partial: None,
        };
        if crashed && generation == q.sh.words.get(GENERATION).load(Ordering::Acquire) {
            q.recover();
        }
        q
    }

    /// The completion at the cursor, if the device wrote it: dwords 0, 2 and 3.
    #[inline(always)]
    fn next_completion(&self) -> Option<(u32, u32, u32)> {
        let mem = &self.sh.mem;
        let at = self.sh.comp.desc(self.cur.comp.idx);
        let dw3 = mem.read32(at + 12);
        if (dw3 & COMP_GEN != 0) != self.cur.comp.gen_ {
            return None;
        }
        // The rest of the completion is read after its generation bit.
        fence(Ordering::Acquire);
        Some((mem.read32(at), mem.read32(at + 8), dw3))
    }

    /// The ring (0 or 1) a completion's `rqID` names, if it is this queue's.
    #[inline(always)]
    fn ring_of(&self, dw0: u32) -> Option<usize> {
        let rqid = ((dw0 >> RCD_RQID_SHIFT) & RCD_RQID_MASK) as u16;
        if rqid == self.cx.qid {
            Some(0)
        } else if rqid == self.cx.qid + self.cx.nb_rxq {
            Some(1)
        } else {
            None
        }
    }

    /// Tells the device where the buffers of the rings in `posted` end.
    fn write_producers(&self, posted: [bool; 2]) {
        fence(Ordering::Release);
        if let Some(bar) = self.cx.dev.bar(0) {
            for (r, reg) in [REG_RXPROD, REG_RXPROD2].into_iter().enumerate() {
                if posted[r] {
                    bar.write32(
                        reg + REG_STRIDE * self.cx.qid as usize,
                        self.cur.fill[r].idx as u32,
                    );
                }
            }
        }
    }

    /// Records the cursors for the queue's next driver.
    #[inline(always)]
    fn record(&self) {
        let w = &self.sh.words;
        w.get(CURSORS).store(self.cur.pack(), Ordering::Relaxed);
        w.get(CURSORS_OF).store(self.generation, Ordering::Relaxed);
    }

    /// After a device start: the rings were armed whole again.
    fn restart(&mut self, generation: u64) {
        self.generation = generation;
        self.cur = RxCursors::armed();
        self.partial = None;
        self.record();
    }
}

impl Drop for RxQueue {
    fn drop(&mut self) {
        if self.sh.hand_over.load(Ordering::Acquire) {
            // A frame in progress is lost (its first buffers are this process's): the next
            // driver drops the rest of it.
            self.cur.discarding |= self.partial.take().is_some();
            self.slots.leave();
            self.record();
            self.sh.words.park();
        }
    }
}

impl RxQueueOps for RxQueue {
    fn rx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let generation = self.sh.words.get(GENERATION).load(Ordering::Acquire);
        if generation != self.generation {
            self.restart(generation);
        }
        let (mut n, mut bytes, mut errors) = (0usize, 0u64, 0u64);
        let mut posted = [false; 2];
        let first = self.cur;
        while n < pkts.room() {
            let Some((dw0, dw2, dw3)) = self.next_completion() else {
                break;
            };
            let Some(r) = self.ring_of(dw0) else {
                self.cur.comp.advance(self.sh.comp.size);
                errors += 1;
                continue;
            };
            let ring = self.sh.rings[r];
            let idx = (dw0 & RCD_IDX_MASK) as u16;
            if idx != self.cur.fill[r].idx {
                // Completions come in ring order; anything else is a device error.
                self.cur.comp.advance(self.sh.comp.size);
                errors += 1;
                continue;
            }
            let gen_ = self.cur.fill[r].gen_;
            let s = self.sh.slot(r, idx);
            // The descriptor gets a fresh buffer; with none, the frame is dropped and its
            // buffer goes back (a descriptor is never left empty).
            let Ok(fresh) = self.cx.pool.alloc() else {
                self.cx.counters.add_nombuf(1);
                let Some(m) = self.slots.take(s) else {
                    // Empty since a crash: waits for the next burst that finds an mbuf.
                    break;
                };
                post_rx(&self.sh.mem, ring, idx, &m, r == 1, gen_);
                drop(self.slots.replace(s, m));
                self.cur.comp.advance(self.sh.comp.size);
                self.cur.fill[r].advance(ring.size);
                posted[r] = true;
                self.cur.discarding = dw0 & RCD_EOP == 0;
                self.partial = None;
                continue;
            };
            post_rx(&self.sh.mem, ring, idx, &fresh, r == 1, gen_);
            let old = self.slots.replace(s, fresh);
            self.cur.comp.advance(self.sh.comp.size);
            self.cur.fill[r].advance(ring.size);
            posted[r] = true;
            let Some(mut m) = old else {
                // The slot was empty since a crash: no frame to give.
                errors += 1;
                self.cur.discarding = dw0 & RCD_EOP == 0;
                self.partial = None;
                continue;
            };
            let len = (dw2 & RCD_LEN_MASK) as u16;
            let sop = dw0 & RCD_SOP != 0;
            let eop = dw0 & RCD_EOP != 0;
            if sop {
                self.cur.discarding = false;
                self.partial = None;
            }
            if self.cur.discarding || dw2 & RCD_ERR != 0 || m.set_len(len).is_err() {
                if !self.cur.discarding {
                    errors += 1;
                }
                self.cur.discarding = !eop;
                self.partial = None;
                continue;
            }
            if sop {
                if dw0 & RCD_CNC == 0 {
                    let mut f = m.ol_flags();
                    if dw3 & RCD_V4 != 0 && dw3 & RCD_IPC != 0 {
                        f |= OlFlags::RX_IP_CKSUM_GOOD;
                    }
                    if dw3 & (RCD_TCP | RCD_UDP) != 0 && dw3 & RCD_TUC != 0 {
                        f |= OlFlags::RX_L4_CKSUM_GOOD;
                    }
                    m.set_ol_flags(f);
                }
            } else {
                let Some(mut head) = self.partial.take() else {
                    errors += 1;
                    continue;
                };
                if head.chain(m).is_err() {
                    errors += 1;
                    self.cur.discarding = !eop;
                    continue;
                }
                m = head;
            }
            if !eop {
                self.partial = Some(m);
                continue;
            }
            m.set_port(self.cx.port);
            bytes += m.pkt_len() as u64;
            if let Err(m) = pkts.push(m) {
                drop(m);
                break;
            }
            n += 1;
        }
        if self.cur != first {
            self.record();
        }
        if posted != [false; 2] && self.cx.ds.read8(self.cx.qd_at) != 0 {
            // The device asks to be told where the buffers end (`updateRxProd`).
            self.write_producers(posted);
        }
        self.cx.counters.add(n as u64, bytes);
        if errors > 0 {
            self.cx.counters.add_errors(errors);
        }
        n
    }
}

/// The transmit queue.
pub struct TxQueue {
    sh: Arc<TxShared>,
    /// The device generation the cursors belong to.
    generation: u64,
    dev: PciHandle,
    qid: u16,
    /// Each packet's mbuf, in the slot of its last descriptor.
    slots: MbufSlots,
    cur: TxCursors,
    free: usize,
    counters: Arc<QueueCounters>,
}

impl TxQueue {
    /// A new queue: it starts clean at its first burst.
    pub fn new(
        sh: Arc<TxShared>,
        slots: MbufSlots,
        dev: PciHandle,
        qid: u16,
        counters: Arc<QueueCounters>,
    ) -> Self {
        let size = sh.ring.size;
        TxQueue {
            // Differs from the shared one: the first burst starts clean.
            generation: sh
                .words
                .get(GENERATION)
                .load(Ordering::Acquire)
                .wrapping_sub(1),
            sh,
            dev,
            qid,
            slots,
            cur: TxCursors::start(),
            free: size as usize - 1,
            counters,
        }
    }

    /// The queue from where its last driver left it: its recorded cursors, the packets from the
    /// oldest in flight to the next descriptor still in their slots. When that driver died
    /// driving it (`crashed`), packets it had placed whole after its last record (their first
    /// descriptor has the ring's generation) are taken as in flight and the device is told of
    /// them; any other slot's mbuf is freed (the device never saw it).
    pub fn resume(
        sh: Arc<TxShared>,
        slots: MbufSlots,
        dev: PciHandle,
        qid: u16,
        counters: Arc<QueueCounters>,
        crashed: bool,
    ) -> Self {
        let size = sh.ring.size;
        let cur = TxCursors::unpack(sh.words.get(CURSORS).load(Ordering::Relaxed), size);
        let generation = sh.words.get(CURSORS_OF).load(Ordering::Relaxed);
        let mut q = TxQueue {
            sh,
            generation,
            dev,
            qid,
            slots,
            cur,
            free: cur.free(size),
            counters,
        };
        if crashed && generation == q.sh.words.get(GENERATION).load(Ordering::Acquire) {
            q.recover();
        }
        q
    }

    fn record(&self) {
        let w = &self.sh.words;
        w.get(CURSORS).store(self.cur.pack(), Ordering::Relaxed);
        w.get(CURSORS_OF).store(self.generation, Ordering::Relaxed);
    }

    fn write_producer(&self) {
        fence(Ordering::Release);
        if let Some(bar) = self.dev.bar(0) {
            bar.write32(
                REG_TXPROD + REG_STRIDE * self.qid as usize,
                self.cur.fill.idx as u32,
            );
        }
    }

    /// After a device start: nothing in flight.
    fn restart(&mut self, generation: u64) {
        self.generation = generation;
        self.slots.clear();
        self.cur = TxCursors::start();
        self.free = self.slots.len() - 1;
        self.record();
    }

    /// Frees the packets the device completed (each completion names a packet's last
    /// descriptor); records the cursors if any.
    fn reclaim(&mut self) {
        let size = self.sh.ring.size;
        let mem = &self.sh.mem;
        let first = self.cur.comp;
        for _ in 0..self.sh.comp.size {
            let at = self.sh.comp.desc(self.cur.comp.idx);
            if (mem.read32(at + 12) & COMP_GEN != 0) != self.cur.comp.gen_ {
                break;
            }
            fence(Ordering::Acquire);
            let eop = (mem.read32(at) & TCD_IDX_MASK) as u16;
            self.cur.comp.advance(self.sh.comp.size);
            if eop >= size {
                continue;
            }
            drop(self.slots.take(eop as usize));
            self.cur.next2comp = (eop + 1) % size;
        }
        if self.cur.comp != first {
            self.free = self.cur.free(size);
            // Before any new packet goes into the descriptors freed: a process taking over
            // from this one, had it died, finds no completion twice.
            self.record();
        }
    }
}

impl Drop for TxQueue {
    fn drop(&mut self) {
        if self.sh.hand_over.load(Ordering::Acquire) {
            self.slots.leave();
            self.record();
            self.sh.words.park();
        }
    }
}

impl TxQueueOps for TxQueue {
    fn tx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let generation = self.sh.words.get(GENERATION).load(Ordering::Acquire);
        if generation != self.generation {
            self.restart(generation);
        }
        self.reclaim();
        let mut take = 0;
        let mut need = 0;
        for m in pkts.as_slice() {
            need += m.nb_segs() as usize;
            if need > self.free {
                break;
            }
            take += 1;
        }
        let size = self.sh.ring.size;
        let mut bytes = 0u64;
        pkts.take_front(take, |m| {
            let mem = &self.sh.mem;
            let ring = self.sh.ring;
            let first = self.cur.fill;
            let segs = m.nb_segs() as usize;
            let mut last = first.idx;
            for (k, seg) in m.segments().enumerate() {
                let at = ring.desc(self.cur.fill.idx);
                let len = seg.data().len() as u32 & 0x3fff;
                // The first descriptor is written with the generation the device does not
                // expect, and flipped once the whole packet is there.
                let own = if k == 0 {
                    !self.cur.fill.gen_
                } else {
                    self.cur.fill.gen_
                };
                mem.write64(at, seg.data_iova());
                mem.write32(at + 8, len | if own { TXD_GEN } else { 0 });
                mem.write32(at + 12, if k + 1 == segs { TXD_EOP | TXD_CQ } else { 0 });
                last = self.cur.fill.idx;
                self.cur.fill.advance(size);
            }
            fence(Ordering::Release);
            let at = ring.desc(first.idx) + 8;
            mem.write32(at, mem.read32(at) ^ TXD_GEN);
            bytes += m.pkt_len() as u64;
            drop(self.slots.replace(last as usize, m));
            self.free -= segs;
        });
        if take > 0 {
            self.record();
            self.write_producer();
            self.counters.add(take as u64, bytes);
        }
        take
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Ring {
        fn end(&self) -> usize {
            self.desc(self.size)
        }
    }

    #[test]
    fn layouts_are_aligned_and_disjoint() {
        for size in [32u16, 128, 512, 4096] {
            let (rings, comp, len) = rx_layout(size);
            assert_eq!(rings[0], Ring { at: 0, size });
            assert_eq!(rings[1].size, BODY_RING);
            assert_eq!(comp.size, size + BODY_RING, "one completion per descriptor");
            for r in [rings[0], rings[1], comp] {
                assert_eq!(r.at % RING_ALIGN, 0, "{size}: {r:?}");
            }
            assert!(rings[0].end() <= rings[1].at && rings[1].end() <= comp.at);
            assert_eq!(comp.end(), len);
            let (ring, comp, data_at, len) = tx_layout(size);
            assert_eq!((ring.at, comp.at % RING_ALIGN, comp.size), (0, 0, size));
            assert!(ring.end() <= comp.at && comp.end() <= data_at);
            assert_eq!(data_at % RING_ALIGN, 0);
            assert_eq!(len, data_at + size as usize * TX_DATA_DESC);
        }
    }
}
