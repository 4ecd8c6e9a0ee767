//! net_vmxnet3's queue cursors: each ring's index with the generation bit it writes or
//! expects, and how an RX or a TX queue's cursors pack into one word of the queue's record in
//! the shared port data ([`CURSORS`], stored at each burst after the ring writes they cover),
//! with the device generation they belong to ([`CURSORS_OF`]). A queue's next driver, in this
//! process or another, goes on from them (`rxtx`).

#![forbid(unsafe_code)]

use super::rxtx::Ring;

/// The queue's words ([`RxShared::words`](super::rxtx::RxShared::words),
/// [`TxShared::words`](super::rxtx::TxShared::words)): the device generation, bumped by each
/// device start (the queue then starts again from the rings' beginning); the cursors as of the
/// last burst ([`RxCursors`], [`TxCursors`], packed); and the device generation those cursors
/// belong to (cursors parked before a start are stale after it).
pub const GENERATION: usize = 0;
pub const CURSORS: usize = 1;
pub const CURSORS_OF: usize = 2;

/// An index and the generation it writes or expects, flipping at each wrap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub idx: u16,
    pub gen_: bool,
}

/// The generation bit of a packed cursor (indices are below 4096 + 32).
const CURSOR_GEN: u16 = 1 << 15;

impl Cursor {
    /// Index 0 of the first pass (generation 1: what the device expects after activation).
    pub fn start() -> Cursor {
        Cursor { idx: 0, gen_: true }
    }

    /// Index 0 of the second pass: where the next fill of a ring armed whole goes.
    fn armed() -> Cursor {
        Cursor {
            idx: 0,
            gen_: false,
        }
    }

    pub fn advance(&mut self, size: u16) {
        self.idx += 1;
        if self.idx >= size {
            self.idx = 0;
            self.gen_ = !self.gen_;
        }
    }

    fn pack(self) -> u64 {
        (self.idx | if self.gen_ { CURSOR_GEN } else { 0 }) as u64
    }

    /// The cursor in the low 16 bits of `v`, for a ring of `size`: an index out of the ring
    /// (words no driver of ours wrote) becomes 0.
    fn unpack(v: u64, size: u16) -> Cursor {
        let v = v as u16;
        let idx = v & !CURSOR_GEN;
        Cursor {
            idx: if idx < size { idx } else { 0 },
            gen_: v & CURSOR_GEN != 0,
        }
    }
}

/// An RX queue's cursors: where the next buffer of each command ring goes, the next
/// completion, and whether the rest of a frame is being dropped (a frame in progress is lost
/// at a handover: its first buffers were the last driver's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxCursors {
    pub fill: [Cursor; 2],
    pub comp: Cursor,
    pub discarding: bool,
}

impl RxCursors {
    /// Right after the rings were armed whole, before the device's first completion.
    pub fn armed() -> RxCursors {
        RxCursors {
            fill: [Cursor::armed(); 2],
            comp: Cursor::start(),
            discarding: false,
        }
    }

    /// 16 bits each: ring 0's, ring 1's, the completion ring's; then the discarding flag.
    pub fn pack(self) -> u64 {
        self.fill[0].pack()
            | self.fill[1].pack() << 16
            | self.comp.pack() << 32
            | (self.discarding as u64) << 48
    }

    pub fn unpack(v: u64, rings: &[Ring; 2], comp: &Ring) -> RxCursors {
        RxCursors {
            fill: [
                Cursor::unpack(v, rings[0].size),
                Cursor::unpack(v >> 16, rings[1].size),
            ],
            comp: Cursor::unpack(v >> 32, comp.size),
            discarding: (v >> 48) & 1 != 0,
        }
    }
}

/// A TX queue's cursors: where the next descriptor goes, the next completion, and the oldest
/// descriptor in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxCursors {
    pub fill: Cursor,
    pub comp: Cursor,
    pub next2comp: u16,
}

impl TxCursors {
    /// An empty ring (after a device start).
    pub fn start() -> TxCursors {
        TxCursors {
            fill: Cursor::start(),
            comp: Cursor::start(),
            next2comp: 0,
        }
    }

    pub fn pack(self) -> u64 {
        self.fill.pack() | self.comp.pack() << 16 | (self.next2comp as u64) << 32
    }

    pub fn unpack(v: u64, size: u16) -> TxCursors {
        let next2comp = (v >> 32) as u16;
        TxCursors {
            fill: Cursor::unpack(v, size),
            comp: Cursor::unpack(v >> 16, size),
            next2comp: if next2comp < size { next2comp } else { 0 },
        }
    }

    /// Descriptors free for new packets in a ring of `size` (one always stays empty, so that a
    /// full ring and an empty one differ).
    pub fn free(&self, size: u16) -> usize {
        let in_flight =
            (self.fill.idx as usize + size as usize - self.next2comp as usize) % size as usize;
        size as usize - 1 - in_flight
    }

    /// Whether descriptor `i` is in flight (from the oldest to the next to fill).
    pub fn in_flight(&self, i: u16, size: u16) -> bool {
        let n = size as usize;
        (i as usize + n - self.next2comp as usize) % n < n - 1 - self.free(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::vmxnet3::rxtx::rx_layout;

    #[test]
    fn cursors_wrap_and_flip_their_generation() {
        let mut c = Cursor::start();
        for _ in 0..31 {
            c.advance(32);
        }
        assert_eq!(
            c,
            Cursor {
                idx: 31,
                gen_: true
            }
        );
        c.advance(32);
        assert_eq!(c, Cursor::armed(), "index 0 of the second pass");
        for _ in 0..32 {
            c.advance(32);
        }
        assert_eq!(c, Cursor::start(), "back to generation 1 after two passes");
    }

    #[test]
    fn rx_cursors_survive_packing() {
        let (rings, comp, _) = rx_layout(4096);
        let all = [
            RxCursors::armed(),
            RxCursors {
                fill: [
                    Cursor {
                        idx: 4095,
                        gen_: false,
                    },
                    Cursor {
                        idx: 31,
                        gen_: true,
                    },
                ],
                comp: Cursor {
                    idx: 4127,
                    gen_: false,
                },
                discarding: true,
            },
            RxCursors {
                fill: [Cursor { idx: 7, gen_: true }, Cursor::armed()],
                comp: Cursor { idx: 0, gen_: true },
                discarding: false,
            },
        ];
        for c in all {
            assert_eq!(RxCursors::unpack(c.pack(), &rings, &comp), c);
        }
        // Every generation bit has its own place.
        let mut c = RxCursors::armed();
        let base = c.pack();
        c.fill[1].gen_ = true;
        assert_ne!(c.pack(), base);
        assert!(!RxCursors::unpack(c.pack(), &rings, &comp).fill[0].gen_);
    }

    #[test]
    fn out_of_ring_words_give_in_ring_cursors() {
        let (rings, comp, _) = rx_layout(32);
        let c = RxCursors::unpack(u64::MAX, &rings, &comp);
        assert!(c.fill[0].idx < 32 && c.fill[1].idx < 32 && c.comp.idx < 64);
        let t = TxCursors::unpack(u64::MAX, 64);
        assert!(t.fill.idx < 64 && t.comp.idx < 64 && t.next2comp < 64);
    }

    #[test]
    fn tx_cursors_and_free_count() {
        let t = TxCursors {
            fill: Cursor {
                idx: 3,
                gen_: false,
            },
            comp: Cursor {
                idx: 511,
                gen_: true,
            },
            next2comp: 500,
        };
        assert_eq!(TxCursors::unpack(t.pack(), 512), t);
        // 500..512 and 0..3 in flight: 15 of the 511 usable.
        assert_eq!(t.free(512), 511 - 15);
        assert_eq!(TxCursors::start().free(512), 511);
        let full = TxCursors {
            fill: Cursor { idx: 9, gen_: true },
            comp: Cursor::start(),
            next2comp: 10,
        };
        assert_eq!(full.free(512), 0);
    }
}
