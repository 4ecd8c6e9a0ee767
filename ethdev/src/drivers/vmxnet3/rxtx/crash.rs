//! Taking a net_vmxnet3 queue over from a driver that died driving it (a secondary process
//! killed while it held the queue): that driver parked nothing, so its next driver (the
//! primary, taking the queue back) goes on from the cursors of the dead one's last recorded
//! burst and scans the rings for what it did after it.
//!
//! - RX: the completions since the record are the dead driver's frames, whether it took them
//!   is not known; their buffers are posted again and the frames counted as errors.
//! - TX: packets the dead driver placed whole after the record (their first descriptor has the
//!   ring's generation: it is flipped last) are taken as in flight and the device is told of
//!   them; a packet left half written stops the scan, and the mbufs of descriptors not in
//!   flight are freed (the device never saw them).

#![forbid(unsafe_code)]

use super::{RxQueue, TxQueue, post_rx};
use crate::drivers::vmxnet3::cursor::TxCursors;
use crate::drivers::vmxnet3::regs::{RCD_IDX_MASK, TXD_GEN};

impl RxQueue {
    /// After a crash: the completions since the last recorded burst, each descriptor posted
    /// again at its ring's cursor with its slot's mbuf (a fresh one for an empty slot: the
    /// dead process held that one); the producer registers written; the frames dropped
    /// counted as errors, and the cursors recorded.
    pub(super) fn recover(&mut self) {
        let mut dropped = 0;
        for _ in 0..self.sh.comp.size {
            let Some((dw0, _, _)) = self.next_completion() else {
                break;
            };
            self.cur.comp.advance(self.sh.comp.size);
            let Some(r) = self.ring_of(dw0) else {
                continue;
            };
            let ring = self.sh.rings[r];
            let idx = (dw0 & RCD_IDX_MASK) as u16;
            if idx != self.cur.fill[r].idx {
                continue;
            }
            let s = self.sh.slot(r, idx);
            let Some(m) = self.slots.take(s).or_else(|| self.cx.pool.alloc().ok()) else {
                // Posted at the next burst that finds an mbuf.
                self.cx.counters.add_nombuf(1);
                break;
            };
            post_rx(&self.sh.mem, ring, idx, &m, r == 1, self.cur.fill[r].gen_);
            drop(self.slots.replace(s, m));
            self.cur.fill[r].advance(ring.size);
            dropped += 1;
        }
        self.cur.discarding = true;
        self.write_producers([true; 2]);
        if dropped > 0 {
            self.cx.counters.add_errors(dropped);
        }
        self.record();
    }
}

impl TxQueue {
    /// After a crash: the packets placed whole after the last record taken as in flight, any
    /// other slot's mbuf freed, the cursors recorded and, when packets were taken, the
    /// producer register written.
    pub(super) fn recover(&mut self) {
        let size = self.sh.ring.size;
        let (mem, ring) = (&self.sh.mem, self.sh.ring);
        let placed = self
            .cur
            .take_placed(size, |i| mem.read32(ring.desc(i) + 8) & TXD_GEN != 0);
        self.free = self.cur.free(size);
        for i in 0..size {
            if !self.cur.in_flight(i, size) {
                drop(self.slots.take(i as usize));
            }
        }
        self.record();
        if placed > 0 {
            self.write_producer();
        }
    }
}

impl TxCursors {
    /// After a crash: moves the fill cursor over the descriptors a dead driver placed after
    /// its last record, those whose generation bit (`gen_at`) is already the ring's, at most
    /// the free ones; returns how many. A packet's first descriptor gets the ring's generation
    /// last, once the packet is whole, so a packet left half written stops the scan.
    pub(super) fn take_placed(&mut self, size: u16, gen_at: impl Fn(u16) -> bool) -> usize {
        let mut n = 0;
        while self.free(size) > 0 && gen_at(self.fill.idx) == self.fill.gen_ {
            self.fill.advance(size);
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use crate::drivers::vmxnet3::cursor::{Cursor, TxCursors};

    #[test]
    fn tx_crash_scan_takes_whole_packets_only() {
        // Descriptors 0..5 were reclaimed; 5..9 are in flight as recorded; a dead driver then
        // placed 9..12 whole and half wrote a packet at 12..14 (its first descriptor not yet
        // flipped to the ring's generation, 1).
        let size = 32u16;
        let mut t = TxCursors {
            fill: Cursor { idx: 9, gen_: true },
            comp: Cursor { idx: 2, gen_: true },
            next2comp: 5,
        };
        let gens = |i: u16| (5..12).contains(&i) || i == 13;
        assert_eq!(t.take_placed(size, gens), 3);
        assert_eq!(
            t.fill,
            Cursor {
                idx: 12,
                gen_: true
            }
        );
        assert_eq!(t.free(size), 31 - 7);
        let busy: Vec<u16> = (0..size).filter(|&i| t.in_flight(i, size)).collect();
        assert_eq!(busy, (5..12).collect::<Vec<_>>());
        // Nothing placed after the record: nothing taken.
        assert_eq!(t.take_placed(size, gens), 0);
    }

    #[test]
    fn tx_crash_scan_crosses_a_wrap_and_stops_at_a_full_ring() {
        let size = 32u16;
        // Placed at 30, 31 (first pass, generation 1) and 0, 1 (second pass, generation 0);
        // descriptor 2 still has the first pass's.
        let mut t = TxCursors {
            fill: Cursor {
                idx: 30,
                gen_: true,
            },
            comp: Cursor::start(),
            next2comp: 20,
        };
        assert_eq!(t.take_placed(size, |i| i >= 2), 4);
        assert_eq!(
            t.fill,
            Cursor {
                idx: 2,
                gen_: false
            }
        );
        assert!(t.in_flight(31, size) && t.in_flight(1, size) && !t.in_flight(2, size));
        // Every descriptor with the ring's generation: the scan ends when the ring is full
        // and never runs into the packets in flight.
        let mut t = TxCursors {
            fill: Cursor { idx: 0, gen_: true },
            comp: Cursor::start(),
            next2comp: 0,
        };
        assert_eq!(t.take_placed(size, |_| true), 31);
        assert_eq!(t.free(size), 0);
        assert!((0..size).all(|i| t.in_flight(i, size) == (i != 31)));
    }
}
