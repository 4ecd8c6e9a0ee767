//! The head/tail protocols of one side of a ring, one per sync type: [`St`] (SP/SC), [`Mt`]
//! (MP/MC), [`Rts`] (relaxed tail sync) and [`Hts`] (head/tail sync), as DPDK's
//! `rte_ring_*_pvt.h` with C11 orderings.
//!
//! Positions are free-running `u32`s; a slot is `pos & mask`. A side reserves `n` slots by
//! moving its head, copies, then publishes by moving its tail; the other side only ever reads
//! this side's tail.
//!
//! Every side keeps its tail position in the low half of one 64-bit word, [`TailLine::word`],
//! whatever its sync type, so the other side reads it with one same-size load (no mixed-size
//! atomics). The high half is the RTS tail counter or the HTS head; MT and ST keep their head in
//! [`HeadLine::pos`], RTS in [`HeadLine::rts`] (position low, counter high). Head and tail are
//! on separate cache lines.

use crate::atomic::{AtomicU32, AtomicU64, Ordering::*, spin};
use crate::sync::SyncType;

#[inline(always)]
fn lo(w: u64) -> u32 {
    w as u32
}

#[inline(always)]
fn hi(w: u64) -> u32 {
    (w >> 32) as u32
}

#[inline(always)]
fn pack(lo: u32, hi: u32) -> u64 {
    lo as u64 | (hi as u64) << 32
}

/// One side's state: its head on one cache line, its tail on another, each line followed by
/// an empty one (128 bytes, against adjacent-line prefetch). DPDK keeps a side's head and tail
/// on one line; apart, the other side's reads of the tail do not take the line a multi-thread
/// side CASes its head on.
#[repr(C)]
pub struct HeadTail {
    /// What only this side's threads touch (except for HTS, whose head is in the tail word).
    pub(crate) head: HeadLine,
    /// What the other side reads.
    pub(crate) tail: TailLine,
}

/// A side's head: MT/ST position, RTS head, RTS distance, sync type.
#[repr(C, align(128))]
pub struct HeadLine {
    /// MT and ST head position.
    pub(crate) pos: AtomicU32,
    /// RTS: how far the head may run ahead of the tail.
    pub(crate) htd_max: AtomicU32,
    /// RTS head: position low, counter high.
    pub(crate) rts: AtomicU64,
    /// The side's [`SyncType`], fixed at creation.
    pub(crate) sync: u32,
}

/// A side's tail word: low half the tail position; high half the RTS tail counter, or the HTS
/// head.
#[repr(C, align(128))]
pub struct TailLine {
    pub(crate) word: AtomicU64,
}

impl HeadTail {
    pub(crate) fn new(sync: SyncType, htd_max: u32) -> HeadTail {
        HeadTail {
            head: HeadLine {
                pos: AtomicU32::new(0),
                htd_max: AtomicU32::new(htd_max),
                rts: AtomicU64::new(0),
                sync: sync as u32,
            },
            tail: TailLine {
                word: AtomicU64::new(0),
            },
        }
    }

    /// The published tail position (what the other side may use).
    #[inline(always)]
    pub(crate) fn tail_pos(&self) -> u32 {
        lo(self.tail.word.load(Acquire))
    }

    /// The head position, for dumps (racy by nature).
    pub(crate) fn head_pos(&self) -> u32 {
        match SyncType::from_u32(self.head.sync) {
            Some(SyncType::MtRts) => lo(self.head.rts.load(Relaxed)),
            Some(SyncType::MtHts) => hi(self.tail.word.load(Relaxed)),
            _ => self.head.pos.load(Relaxed),
        }
    }

    /// Back to position 0 (DPDK's `rte_ring_reset` of one side). Not thread safe.
    pub(crate) fn reset(&self) {
        self.head.pos.store(0, Relaxed);
        self.head.rts.store(0, Relaxed);
        self.tail.word.store(0, Release);
    }
}

/// The result of moving a head: `n` slots from position `head` are reserved; `entries` was the
/// room (producer) or the fill (consumer) seen before the move.
#[derive(Clone, Copy, Debug)]
pub struct Reservation {
    pub(crate) head: u32,
    pub(crate) n: u32,
    pub(crate) entries: u32,
}

/// How many of `n` to take when `entries` are there: all or nothing (`fixed`, bulk) or as many
/// as possible (burst).
///
/// All or nothing is one comparison, `n - 1 < entries` (wrapping, so that `n == 0` takes
/// nothing too): the caller's test for 0 then folds into it, and a failing bulk call (polling
/// an empty ring) is a load, a compare and a branch, instead of a minimum and two flags merged.
#[inline(always)]
fn fit(n: u32, entries: u32, fixed: bool) -> u32 {
    if fixed {
        if n.wrapping_sub(1) < entries { n } else { 0 }
    } else {
        n.min(entries)
    }
}

/// One sync type's protocol. `base` is the capacity for a producer (room = capacity +
/// other tail - head) and 0 for a consumer (fill = other tail - head).
pub trait Protocol: Send + Sync + 'static {
    /// The sync type this protocol implements.
    const SYNC: SyncType;

    /// Reserves up to `n` slots by moving `own`'s head.
    #[doc(hidden)]
    fn move_head(own: &HeadTail, other: &HeadTail, base: u32, n: u32, fixed: bool) -> Reservation;

    /// Publishes a reservation of `n` slots from `head` by moving `own`'s tail.
    #[doc(hidden)]
    fn update_tail(own: &HeadTail, head: u32, n: u32);
}

/// The protocols with peek and zero-copy: the reservation is finished with fewer slots than
/// reserved, and the rest handed back.
pub trait PeekProtocol: Protocol {
    /// Ends a reservation that started at `head`, keeping `n` slots (`n` at most reserved).
    #[doc(hidden)]
    fn finish(own: &HeadTail, head: u32, n: u32);
}

/// Single thread (SP/SC): plain loads and stores.
pub struct St;

/// Multi-thread (MP/MC): CAS on the head, then wait for earlier reservations before moving the
/// tail.
pub struct Mt;

/// Relaxed tail sync: head and tail carry a counter; whoever finishes last moves the tail.
pub struct Rts;

/// Head/tail sync: one 64-bit word holds both; a reservation waits until head == tail.
pub struct Hts;

impl Protocol for St {
    const SYNC: SyncType = SyncType::St;

    #[inline(always)]
    fn move_head(own: &HeadTail, other: &HeadTail, base: u32, n: u32, fixed: bool) -> Reservation {
        let head = own.head.pos.load(Relaxed);
        // Acquire: the other side's slot accesses happen before we touch the slots.
        let entries = base.wrapping_add(other.tail_pos()).wrapping_sub(head);
        let n = fit(n, entries, fixed);
        if n != 0 {
            own.head.pos.store(head.wrapping_add(n), Relaxed);
        }
        Reservation { head, n, entries }
    }

    #[inline(always)]
    fn update_tail(own: &HeadTail, head: u32, n: u32) {
        // Release: our slot accesses happen before the other side sees the new tail.
        own.tail.word.store(pack(head.wrapping_add(n), 0), Release);
    }
}

impl PeekProtocol for St {
    #[inline(always)]
    fn finish(own: &HeadTail, head: u32, n: u32) {
        let pos = head.wrapping_add(n);
        own.head.pos.store(pos, Relaxed);
        own.tail.word.store(pack(pos, 0), Release);
    }
}

impl Protocol for Mt {
    const SYNC: SyncType = SyncType::Mt;

    #[inline(always)]
    fn move_head(own: &HeadTail, other: &HeadTail, base: u32, n: u32, fixed: bool) -> Reservation {
        // Acquire pairs with the release CAS of the thread that moved the head to this value,
        // so the other tail we read is at least as new as the one it read: the room computed
        // below can never go negative (wrap).
        let mut head = own.head.pos.load(Acquire);
        loop {
            let entries = base.wrapping_add(other.tail_pos()).wrapping_sub(head);
            let n = fit(n, entries, fixed);
            if n == 0 {
                return Reservation { head, n, entries };
            }
            match own
                .head
                .pos
                .compare_exchange_weak(head, head.wrapping_add(n), Release, Acquire)
            {
                Ok(_) => return Reservation { head, n, entries },
                Err(now) => head = now,
            }
        }
    }

    #[inline(always)]
    fn update_tail(own: &HeadTail, head: u32, n: u32) {
        // Earlier reservations publish first. Acquire: their slot accesses happen before our
        // release below, so the other side sees them too.
        while lo(own.tail.word.load(Acquire)) != head {
            spin();
        }
        own.tail.word.store(pack(head.wrapping_add(n), 0), Release);
    }
}

impl Protocol for Rts {
    const SYNC: SyncType = SyncType::MtRts;

    #[inline(always)]
    fn move_head(own: &HeadTail, other: &HeadTail, base: u32, n: u32, fixed: bool) -> Reservation {
        loop {
            // Wait until the head is at most htd_max ahead of the tail.
            let mut old = own.head.rts.load(Acquire);
            let max = own.head.htd_max.load(Relaxed);
            while lo(old).wrapping_sub(lo(own.tail.word.load(Relaxed))) > max {
                spin();
                old = own.head.rts.load(Acquire);
            }
            let head = lo(old);
            let entries = base.wrapping_add(other.tail_pos()).wrapping_sub(head);
            let n = fit(n, entries, fixed);
            if n == 0 {
                return Reservation { head, n, entries };
            }
            let new = pack(head.wrapping_add(n), hi(old).wrapping_add(1));
            if own
                .head
                .rts
                .compare_exchange_weak(old, new, Release, Relaxed)
                .is_ok()
            {
                return Reservation { head, n, entries };
            }
        }
    }

    #[inline(always)]
    fn update_tail(own: &HeadTail, _head: u32, _n: u32) {
        // Count ourselves out; if every reservation so far is out, move the tail to the head.
        let mut old = own.tail.word.load(Acquire);
        loop {
            let head = own.head.rts.load(Relaxed);
            let count = hi(old).wrapping_add(1);
            let pos = if count == hi(head) { lo(head) } else { lo(old) };
            match own
                .tail
                .word
                .compare_exchange_weak(old, pack(pos, count), Release, Acquire)
            {
                Ok(_) => return,
                Err(now) => old = now,
            }
        }
    }
}

impl Protocol for Hts {
    const SYNC: SyncType = SyncType::MtHts;

    #[inline(always)]
    fn move_head(own: &HeadTail, other: &HeadTail, base: u32, n: u32, fixed: bool) -> Reservation {
        loop {
            // Wait until no reservation is open (head == tail).
            let mut old = own.tail.word.load(Acquire);
            while lo(old) != hi(old) {
                spin();
                old = own.tail.word.load(Acquire);
            }
            let head = hi(old);
            let entries = base.wrapping_add(other.tail_pos()).wrapping_sub(head);
            let n = fit(n, entries, fixed);
            if n == 0 {
                return Reservation { head, n, entries };
            }
            let new = pack(lo(old), head.wrapping_add(n));
            if own
                .tail
                .word
                .compare_exchange_weak(old, new, Release, Relaxed)
                .is_ok()
            {
                return Reservation { head, n, entries };
            }
        }
    }

    #[inline(always)]
    fn update_tail(own: &HeadTail, head: u32, n: u32) {
        // Only the owner of the open reservation writes the word until head == tail again.
        let pos = head.wrapping_add(n);
        own.tail.word.store(pack(pos, pos), Release);
    }
}

impl PeekProtocol for Hts {
    #[inline(always)]
    fn finish(own: &HeadTail, head: u32, n: u32) {
        Self::update_tail(own, head, n);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn pair(p: SyncType, c: SyncType) -> (HeadTail, HeadTail) {
        (HeadTail::new(p, 1), HeadTail::new(c, 1))
    }

    #[test]
    fn layout_puts_head_and_tail_128_bytes_apart() {
        assert_eq!(std::mem::size_of::<HeadTail>(), 256);
        assert_eq!(std::mem::align_of::<HeadTail>(), 128);
        assert_eq!(std::mem::offset_of!(HeadTail, tail), 128);
    }

    fn roundtrip<P: Protocol, C: Protocol>() {
        let (prod, cons) = pair(P::SYNC, C::SYNC);
        let cap = 7;
        // Fill in two steps: bulk of 5, bulk of 3 refused, burst of 3 gives 2.
        let r = P::move_head(&prod, &cons, cap, 5, true);
        assert_eq!((r.head, r.n, r.entries), (0, 5, 7));
        P::update_tail(&prod, r.head, r.n);
        let r = P::move_head(&prod, &cons, cap, 3, true);
        assert_eq!((r.n, r.entries), (0, 2));
        let r = P::move_head(&prod, &cons, cap, 3, false);
        assert_eq!((r.head, r.n, r.entries), (5, 2, 2));
        P::update_tail(&prod, r.head, r.n);
        assert_eq!(prod.tail_pos(), 7);
        // Drain.
        let r = C::move_head(&cons, &prod, 0, 8, true);
        assert_eq!((r.n, r.entries), (0, 7));
        let r = C::move_head(&cons, &prod, 0, 8, false);
        assert_eq!((r.head, r.n, r.entries), (0, 7, 7));
        C::update_tail(&cons, r.head, r.n);
        assert_eq!(cons.tail_pos(), 7);
        assert_eq!(prod.head_pos(), 7);
        assert_eq!(cons.head_pos(), 7);
    }

    #[test]
    fn fit_takes_all_or_nothing_or_what_is_there() {
        for (n, entries, bulk, burst) in [
            (0, 0, 0, 0),
            (0, 5, 0, 0),
            (1, 0, 0, 0),
            (5, 5, 5, 5),
            (6, 5, 0, 5),
            (4, 5, 4, 4),
            (u32::MAX, u32::MAX, u32::MAX, u32::MAX),
            (u32::MAX, 3, 0, 3),
        ] {
            assert_eq!(fit(n, entries, true), bulk, "bulk {n} of {entries}");
            assert_eq!(fit(n, entries, false), burst, "burst {n} of {entries}");
        }
    }

    #[test]
    fn every_protocol_pair_moves_heads_and_tails() {
        roundtrip::<St, St>();
        roundtrip::<Mt, Rts>();
        roundtrip::<Rts, Hts>();
        roundtrip::<Hts, Mt>();
        roundtrip::<Rts, Rts>();
    }

    #[test]
    fn positions_wrap_around_u32() {
        let (prod, cons) = pair(SyncType::Mt, SyncType::Mt);
        let start = u32::MAX - 2;
        prod.head.pos.store(start, Relaxed);
        prod.tail.word.store(pack(start, 0), Relaxed);
        cons.head.pos.store(start, Relaxed);
        cons.tail.word.store(pack(start, 0), Relaxed);
        let r = Mt::move_head(&prod, &cons, 7, 6, true);
        assert_eq!((r.head, r.n, r.entries), (start, 6, 7));
        Mt::update_tail(&prod, r.head, r.n);
        assert_eq!(prod.tail_pos(), 3);
        let r = Mt::move_head(&cons, &prod, 0, 6, true);
        assert_eq!((r.head, r.n, r.entries), (start, 6, 6));
    }

    #[test]
    fn hts_waits_for_no_open_reservation_and_peek_finish_returns_the_rest() {
        let (prod, cons) = pair(SyncType::MtHts, SyncType::St);
        let r = Hts::move_head(&prod, &cons, 7, 4, true);
        assert_eq!(r.n, 4);
        assert_eq!(prod.tail_pos(), 0, "nothing published while reserved");
        assert_eq!(prod.head_pos(), 4);
        Hts::finish(&prod, r.head, 1);
        assert_eq!((prod.tail_pos(), prod.head_pos()), (1, 1));
    }

    #[test]
    fn rts_tail_moves_when_the_last_reservation_finishes() {
        let (prod, cons) = pair(SyncType::MtRts, SyncType::Mt);
        prod.head.htd_max.store(100, Relaxed);
        let a = Rts::move_head(&prod, &cons, 7, 2, true);
        let b = Rts::move_head(&prod, &cons, 7, 3, true);
        assert_eq!((a.head, b.head), (0, 2));
        Rts::update_tail(&prod, b.head, b.n);
        assert_eq!(prod.tail_pos(), 0, "a is still open");
        Rts::update_tail(&prod, a.head, a.n);
        assert_eq!(prod.tail_pos(), 5);
    }
}
