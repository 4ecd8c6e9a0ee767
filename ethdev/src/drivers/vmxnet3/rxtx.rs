//! net_vmxnet3's queues: TX with its command ring and completion ring, RX with two command
//! rings (head buffers in ring 0, body buffers in ring 1) and a completion ring. Ownership goes
//! by generation bits (flipped at each wrap): the driver writes descriptors with its ring's
//! generation, the device writes completions with the completion ring's. One producer-register
//! write per TX burst; RX writes its producer registers only when the device asks for it
//! (`updateRxProd` in the queue's control area).

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering, fence};

use rpdk_eal::bus::PciHandle;
use rpdk_mbuf::{BurstView, Mbuf, OlFlags, PktmbufPool};

use super::regs::*;
use crate::driver::{RxQueueOps, TxQueueOps};
use crate::drivers::dma::DmaArea;
use crate::stats::QueueCounters;

/// A ring of `size` 16-byte descriptors at `at` in its queue's memory.
#[derive(Clone, Copy, Debug)]
pub struct Ring {
    pub at: usize,
    pub size: u16,
}

impl Ring {
    pub fn desc(&self, i: u16) -> usize {
        self.at + i as usize * DESC_LEN
    }
}

/// An index and the generation it writes or expects, flipping at each wrap.
#[derive(Clone, Copy, Debug)]
struct Cursor {
    idx: u16,
    gen_: bool,
}

impl Cursor {
    fn start() -> Cursor {
        Cursor { idx: 0, gen_: true }
    }
    fn advance(&mut self, size: u16) {
        self.idx += 1;
        if self.idx == size {
            self.idx = 0;
            self.gen_ = !self.gen_;
        }
    }
}

/// What the control path and a TX queue share.
pub struct TxShared {
    pub mem: DmaArea,
    pub ring: Ring,
    pub comp: Ring,
    pub data_at: usize,
    pub generation: AtomicU32,
}

impl TxShared {
    /// Before an activation: no descriptor or completion left from before.
    pub fn rearm(&self) {
        for r in [self.ring, self.comp] {
            for i in 0..r.size {
                self.mem.write64(r.desc(i), 0);
                self.mem.write64(r.desc(i) + 8, 0);
            }
        }
        self.generation.fetch_add(1, Ordering::Release);
    }
}

/// What the control path and an RX queue share.
pub struct RxShared {
    pub mem: DmaArea,
    pub rings: [Ring; 2],
    pub comp: Ring,
    pub generation: AtomicU32,
}

impl RxShared {
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
        self.generation.fetch_add(1, Ordering::Release);
    }
}

/// The receive queue.
pub struct RxQueue {
    pub sh: Arc<RxShared>,
    pub generation: u32,
    pub dev: PciHandle,
    /// The shared area and the offset of this queue's descriptor (its control byte).
    pub ds: Arc<DmaArea>,
    pub qd_at: usize,
    pub qid: u16,
    pub nb_rxq: u16,
    /// Each ring's buffers, always all there.
    pub mbufs: [Vec<Option<Mbuf>>; 2],
    fill: [Cursor; 2],
    comp: Cursor,
    pub pool: PktmbufPool,
    pub port: u16,
    pub counters: Arc<QueueCounters>,
    partial: Option<Mbuf>,
    discarding: bool,
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
    /// A queue whose rings get a buffer in every descriptor, generation 1 (the device's first
    /// pass), before the device is activated.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        sh: Arc<RxShared>,
        dev: PciHandle,
        ds: Arc<DmaArea>,
        qd_at: usize,
        qid: u16,
        nb_rxq: u16,
        pool: PktmbufPool,
        port: u16,
        counters: Arc<QueueCounters>,
    ) -> Result<RxQueue, String> {
        let mut mbufs: [Vec<Option<Mbuf>>; 2] = [Vec::new(), Vec::new()];
        for (r, ring) in sh.rings.iter().enumerate() {
            for i in 0..ring.size {
                let m = pool.alloc().map_err(|_| {
                    format!(
                        "the pool has fewer free mbufs than the {} RX descriptors",
                        sh.rings[0].size + sh.rings[1].size
                    )
                })?;
                post_rx(&sh.mem, *ring, i, &m, r == 1, true);
                mbufs[r].push(Some(m));
            }
        }
        Ok(RxQueue {
            generation: sh.generation.load(Ordering::Acquire),
            sh,
            dev,
            ds,
            qd_at,
            qid,
            nb_rxq,
            mbufs,
            // Every descriptor was filled: the next fill is at 0 of the second pass.
            fill: [Cursor {
                idx: 0,
                gen_: false,
            }; 2],
            comp: Cursor::start(),
            pool,
            port,
            counters,
            partial: None,
            discarding: false,
        })
    }

    fn restart(&mut self, generation: u32) {
        self.generation = generation;
        self.fill = [Cursor {
            idx: 0,
            gen_: false,
        }; 2];
        self.comp = Cursor::start();
        self.partial = None;
        self.discarding = false;
    }
}

impl RxQueueOps for RxQueue {
    fn rx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let generation = self.sh.generation.load(Ordering::Acquire);
        if generation != self.generation {
            self.restart(generation);
        }
        let (mut n, mut bytes, mut errors) = (0usize, 0u64, 0u64);
        let mut posted = [false; 2];
        let mem = &self.sh.mem;
        while n < pkts.room() {
            let at = self.sh.comp.desc(self.comp.idx);
            let dw3 = mem.read32(at + 12);
            if (dw3 & COMP_GEN != 0) != self.comp.gen_ {
                break;
            }
            // The rest of the completion is read after its generation bit.
            fence(Ordering::Acquire);
            let dw0 = mem.read32(at);
            let dw2 = mem.read32(at + 8);
            self.comp.advance(self.sh.comp.size);
            let rqid = ((dw0 >> RCD_RQID_SHIFT) & RCD_RQID_MASK) as u16;
            let r = if rqid == self.qid {
                0
            } else if rqid == self.qid + self.nb_rxq {
                1
            } else {
                errors += 1;
                continue;
            };
            let ring = self.sh.rings[r];
            let idx = (dw0 & RCD_IDX_MASK) as u16;
            if idx >= ring.size || idx != self.fill[r].idx {
                // Completions come in ring order; anything else is a device error.
                errors += 1;
                continue;
            }
            let gen_ = self.fill[r].gen_;
            self.fill[r].advance(ring.size);
            posted[r] = true;
            // The descriptor gets a fresh buffer; with none, the frame is dropped and its
            // buffer goes back (a descriptor is never left empty).
            let Ok(fresh) = self.pool.alloc() else {
                self.counters.add_nombuf(1);
                let m = self.mbufs[r][idx as usize].as_ref().expect("always armed");
                post_rx(mem, ring, idx, m, r == 1, gen_);
                self.discarding = dw0 & RCD_EOP == 0;
                self.partial = None;
                continue;
            };
            post_rx(mem, ring, idx, &fresh, r == 1, gen_);
            let mut m = self.mbufs[r][idx as usize]
                .replace(fresh)
                .expect("always armed");
            let len = (dw2 & RCD_LEN_MASK) as u16;
            let sop = dw0 & RCD_SOP != 0;
            let eop = dw0 & RCD_EOP != 0;
            if sop {
                self.discarding = false;
                self.partial = None;
            }
            if self.discarding || dw2 & RCD_ERR != 0 || m.set_len(len).is_err() {
                if !self.discarding {
                    errors += 1;
                }
                self.discarding = !eop;
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
                    self.discarding = !eop;
                    continue;
                }
                m = head;
            }
            if !eop {
                self.partial = Some(m);
                continue;
            }
            m.set_port(self.port);
            bytes += m.pkt_len() as u64;
            if let Err(m) = pkts.push(m) {
                drop(m);
                break;
            }
            n += 1;
        }
        if posted != [false; 2] && self.ds.read8(self.qd_at) != 0 {
            // The device asks to be told where the buffers end (`updateRxProd`).
            fence(Ordering::Release);
            if let Some(bar) = self.dev.bar(0) {
                for (r, reg) in [REG_RXPROD, REG_RXPROD2].into_iter().enumerate() {
                    if posted[r] {
                        bar.write32(
                            reg + REG_STRIDE * self.qid as usize,
                            self.fill[r].idx as u32,
                        );
                    }
                }
            }
        }
        self.counters.add(n as u64, bytes);
        if errors > 0 {
            self.counters.add_errors(errors);
        }
        n
    }
}

/// The transmit queue.
pub struct TxQueue {
    pub sh: Arc<TxShared>,
    pub generation: u32,
    pub dev: PciHandle,
    pub qid: u16,
    /// Each packet's mbuf, at the index of its last descriptor.
    pub mbufs: Vec<Option<Mbuf>>,
    fill: Cursor,
    /// The oldest descriptor in flight.
    next2comp: u16,
    comp: Cursor,
    free: usize,
    pub counters: Arc<QueueCounters>,
}

impl TxQueue {
    pub fn new(sh: Arc<TxShared>, dev: PciHandle, qid: u16, counters: Arc<QueueCounters>) -> Self {
        let size = sh.ring.size as usize;
        TxQueue {
            // Differs from the shared one: the first burst starts clean.
            generation: sh.generation.load(Ordering::Acquire).wrapping_sub(1),
            sh,
            dev,
            qid,
            mbufs: (0..size).map(|_| None).collect(),
            fill: Cursor::start(),
            next2comp: 0,
            comp: Cursor::start(),
            free: size - 1,
            counters,
        }
    }

    fn restart(&mut self, generation: u32) {
        self.generation = generation;
        for m in &mut self.mbufs {
            *m = None;
        }
        self.fill = Cursor::start();
        self.next2comp = 0;
        self.comp = Cursor::start();
        self.free = self.mbufs.len() - 1;
    }

    /// Frees the packets the device completed (each completion names a packet's last
    /// descriptor).
    fn reclaim(&mut self) {
        let size = self.sh.ring.size;
        let mem = &self.sh.mem;
        loop {
            let at = self.sh.comp.desc(self.comp.idx);
            if (mem.read32(at + 12) & COMP_GEN != 0) != self.comp.gen_ {
                break;
            }
            fence(Ordering::Acquire);
            let eop = (mem.read32(at) & TCD_IDX_MASK) as u16;
            self.comp.advance(self.sh.comp.size);
            if eop >= size {
                continue;
            }
            self.mbufs[eop as usize] = None;
            let used = (eop as usize + size as usize - self.next2comp as usize) % size as usize + 1;
            self.free += used;
            self.next2comp = (eop + 1) % size;
        }
    }
}

impl TxQueueOps for TxQueue {
    fn tx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let generation = self.sh.generation.load(Ordering::Acquire);
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
            let first = self.fill;
            let segs = m.nb_segs() as usize;
            let mut last = first.idx;
            for (k, seg) in m.segments().enumerate() {
                let at = ring.desc(self.fill.idx);
                let len = seg.data().len() as u32 & 0x3fff;
                // The first descriptor is written with the generation the device does not
                // expect, and flipped once the whole packet is there.
                let own = if k == 0 {
                    !self.fill.gen_
                } else {
                    self.fill.gen_
                };
                mem.write64(at, seg.data_iova());
                mem.write32(at + 8, len | if own { TXD_GEN } else { 0 });
                mem.write32(at + 12, if k + 1 == segs { TXD_EOP | TXD_CQ } else { 0 });
                last = self.fill.idx;
                self.fill.advance(size);
            }
            fence(Ordering::Release);
            let at = ring.desc(first.idx) + 8;
            mem.write32(at, mem.read32(at) ^ TXD_GEN);
            bytes += m.pkt_len() as u64;
            self.mbufs[last as usize] = Some(m);
            self.free -= segs;
        });
        if take > 0 {
            fence(Ordering::Release);
            if let Some(bar) = self.dev.bar(0) {
                bar.write32(
                    REG_TXPROD + REG_STRIDE * self.qid as usize,
                    self.fill.idx as u32,
                );
            }
            self.counters.add(take as u64, bytes);
        }
        take
    }
}
