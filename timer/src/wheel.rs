//! One lcore's pending timers: a hierarchical timing wheel keyed by TSC cycle.
//!
//! Eleven levels of 64 slots cover the 64-bit cycle counter: level `k` slots are `64^k` cycles
//! wide, so level 0 slots are single cycles and ordering inside them is exact. A timer goes to
//! the level of the highest 6-bit digit in which its deadline differs from the wheel's current
//! time `cur`, into the slot named by that digit (as in Varghese and Lauck's hierarchical wheel
//! and Tokio's timer); each slot is a doubly-linked list with a tail, and each level has a
//! 64-bit occupancy mask. Insert and remove are O(1) whatever the number of timers.
//!
//! [`Wheel::collect`] takes the timers whose deadline has passed, slot by slot in time order: a
//! slot whose whole range has passed is taken as a whole; one that has only partly passed is
//! filtered, its later timers going down to finer levels. Taken timers join a [`Batch`], which
//! notes whether its deadlines arrived in order and is sorted when they did not, so callbacks
//! always run in deadline order.
//!
//! Everything here runs under the list's lock, on nodes the lock owns (see `protocol.rs`): the
//! functions are `unsafe` because they follow raw node pointers.

use std::ptr;

use crate::node::Header;
use crate::sync::Ordering;

/// Levels of the wheel: 11 digits of 6 bits cover the 64-bit cycle counter.
pub(crate) const LEVELS: usize = 11;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const SLOT_MASK: u64 = SLOTS as u64 - 1;

#[derive(Clone, Copy)]
struct Slot {
    head: *mut Header,
    tail: *mut Header,
}

impl Slot {
    const EMPTY: Slot = Slot {
        head: ptr::null_mut(),
        tail: ptr::null_mut(),
    };
}

/// A hierarchical timing wheel of timer nodes. What `collect` reads first (the time, the masks)
/// shares the first cache lines.
#[repr(C)]
pub(crate) struct Wheel {
    /// Every deadline before `cur` has been collected; placements are relative to it.
    cur: u64,
    len: u64,
    /// Bit `k` is set when level `k` has an occupied slot.
    levels: u64,
    /// Per level, bit `s` is set when slot `s` is occupied.
    occupied: [u64; LEVELS],
    slots: [[Slot; SLOTS]; LEVELS],
}

/// The level at which a deadline `when >= cur` is placed.
#[inline(always)]
fn level_for(cur: u64, when: u64) -> usize {
    let masked = (cur ^ when) | SLOT_MASK;
    ((63 - masked.leading_zeros()) / SLOT_BITS) as usize
}

/// The first cycle of `slot` at `level`, for a wheel at time `cur`.
#[inline]
fn slot_start(cur: u64, level: usize, slot: usize) -> u64 {
    let shift = SLOT_BITS * level as u32;
    let above = shift + SLOT_BITS;
    let high = if above >= 64 {
        0
    } else {
        cur & !((1u64 << above) - 1)
    };
    high | ((slot as u64) << shift)
}

/// The last cycle of the slot starting at `start` at `level`.
#[inline]
fn slot_last(start: u64, level: usize) -> u64 {
    start.saturating_add((1u64 << (SLOT_BITS * level as u32)) - 1)
}

#[inline(always)]
unsafe fn next(n: *mut Header) -> *mut Header {
    // SAFETY: the caller owns `n` (see the module documentation).
    unsafe { (*n).next.get() }
}

#[inline(always)]
unsafe fn expire(n: *mut Header) -> u64 {
    // SAFETY: as above.
    unsafe { (*n).expire.get() }
}

impl Wheel {
    /// An empty wheel at time `now`.
    pub(crate) fn new(now: u64) -> Self {
        Wheel {
            cur: now,
            len: 0,
            levels: 0,
            occupied: [0; LEVELS],
            slots: [[Slot::EMPTY; SLOTS]; LEVELS],
        }
    }

    /// How many timers are linked.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Links `n`, whose `expire` is set. A deadline already past goes to the current slot.
    ///
    /// # Safety
    /// `n` is a live node owned by the caller and linked nowhere.
    #[inline]
    pub(crate) unsafe fn insert(&mut self, n: *mut Header) {
        // SAFETY: the caller owns `n`.
        let when = unsafe { expire(n) }.max(self.cur);
        let level = level_for(self.cur, when);
        let slot = ((when >> (SLOT_BITS * level as u32)) & SLOT_MASK) as usize;
        let s = &mut self.slots[level][slot];
        let tail = s.tail;
        // SAFETY: the caller owns `n`; `tail`, when not null, is a node of this wheel, which the
        // caller owns with the wheel.
        unsafe {
            (*n).slot.set((level * SLOTS + slot) as u32);
            (*n).next.set(ptr::null_mut());
            (*n).prev.set(tail);
            if tail.is_null() {
                s.head = n;
                self.occupied[level] |= 1 << slot;
                self.levels |= 1 << level;
            } else {
                (*tail).next.set(n);
            }
        }
        s.tail = n;
        self.len += 1;
    }

    /// Unlinks `n`.
    ///
    /// # Safety
    /// `n` is linked in this wheel.
    #[inline]
    pub(crate) unsafe fn remove(&mut self, n: *mut Header) {
        // SAFETY: `n` and its neighbours are nodes of this wheel, owned with it.
        unsafe {
            let idx = (*n).slot.get() as usize;
            let (level, slot) = (idx / SLOTS, idx % SLOTS);
            let (prev, next) = ((*n).prev.get(), (*n).next.get());
            let s = &mut self.slots[level][slot];
            if prev.is_null() {
                s.head = next;
            } else {
                (*prev).next.set(next);
            }
            if next.is_null() {
                s.tail = prev;
            } else {
                (*next).prev.set(prev);
            }
            if s.head.is_null() {
                self.vacate(level, slot);
            }
        }
        self.len -= 1;
    }

    /// Marks `slot` of `level` empty.
    #[inline(always)]
    fn vacate(&mut self, level: usize, slot: usize) {
        self.occupied[level] &= !(1 << slot);
        if self.occupied[level] == 0 {
            self.levels &= !(1 << level);
        }
    }

    /// The earliest occupied slot: its level, index and first cycle.
    ///
    /// It is usually on the lowest occupied level, but not always: a slot of a higher level
    /// whose start `cur` has just reached comes first.
    #[inline]
    fn earliest(&self) -> Option<(usize, usize, u64)> {
        let mut levels = self.levels;
        let mut best: Option<(usize, usize, u64)> = None;
        while levels != 0 {
            let level = levels.trailing_zeros() as usize;
            levels &= levels - 1;
            let slot = self.occupied[level].trailing_zeros() as usize;
            let start = slot_start(self.cur, level, slot);
            if best.is_none_or(|(_, _, b)| start < b) {
                best = Some((level, slot, start));
            }
        }
        best
    }

    /// A lower bound of every linked deadline that `collect` needs: the first cycle of the
    /// earliest occupied slot; 0 when the wheel is empty (what `collect` returns).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn next_due(&self) -> u64 {
        self.earliest().map_or(0, |(_, _, start)| start.max(1))
    }

    /// The earliest linked deadline, exactly (it scans the earliest slot).
    pub(crate) fn earliest_expire(&self) -> Option<u64> {
        let (level, slot, _) = self.earliest()?;
        let mut n = self.slots[level][slot].head;
        let mut min = u64::MAX;
        while !n.is_null() {
            // SAFETY: nodes of this wheel, owned with it.
            unsafe {
                min = min.min(expire(n));
                n = next(n);
            }
        }
        Some(min)
    }

    /// Moves every timer whose deadline is at or before `now` to `batch`, storing `mark` in its
    /// status word, advances the wheel to `now`, and returns the first cycle of the earliest slot
    /// left (0 when none is): a lower bound of the deadlines still linked.
    ///
    /// # Safety
    /// The caller owns the wheel and its nodes.
    pub(crate) unsafe fn collect(&mut self, now: u64, batch: &mut Batch, mark: u32) -> u64 {
        let mut due = 0;
        while let Some((level, slot, start)) = self.earliest() {
            if start > now {
                due = start;
                break;
            }
            self.cur = start;
            let s = std::mem::replace(&mut self.slots[level][slot], Slot::EMPTY);
            self.vacate(level, slot);
            if slot_last(start, level) <= now {
                // SAFETY: the slot's nodes are owned with the wheel.
                let taken = unsafe { batch.append(s.head, s.tail, mark) };
                self.len -= taken;
                continue;
            }
            let mut n = s.head;
            while !n.is_null() {
                // SAFETY: as above; `n` is unlinked before it is pushed or reinserted.
                unsafe {
                    let after = next(n);
                    self.len -= 1;
                    if expire(n) <= now {
                        batch.push(n, mark);
                    } else {
                        self.insert(n);
                    }
                    n = after;
                }
            }
        }
        if now > self.cur {
            self.cur = now;
        }
        due
    }

    /// Unlinks every timer, calling `f` on each, and empties the wheel.
    ///
    /// # Safety
    /// The caller owns the wheel and its nodes.
    pub(crate) unsafe fn drain(&mut self, mut f: impl FnMut(*mut Header)) {
        for level in 0..LEVELS {
            let mut occ = self.occupied[level];
            while occ != 0 {
                let slot = occ.trailing_zeros() as usize;
                occ &= occ - 1;
                let mut n = self.slots[level][slot].head;
                while !n.is_null() {
                    // SAFETY: nodes of this wheel, owned with it; `f` may relink `n`.
                    unsafe {
                        let after = next(n);
                        f(n);
                        n = after;
                    }
                }
                self.slots[level][slot] = Slot::EMPTY;
            }
            self.occupied[level] = 0;
        }
        self.levels = 0;
        self.len = 0;
    }
}

/// Expired timers in the order their callbacks will run, linked through `next`.
pub(crate) struct Batch {
    head: *mut Header,
    tail: *mut Header,
    len: usize,
    last: u64,
    sorted: bool,
}

impl Batch {
    /// An empty batch.
    pub(crate) fn new() -> Self {
        Batch {
            head: ptr::null_mut(),
            tail: ptr::null_mut(),
            len: 0,
            last: 0,
            sorted: true,
        }
    }

    /// The first node; null when empty.
    pub(crate) fn head(&self) -> *mut Header {
        self.head
    }

    /// Whether its deadlines never decrease along the list.
    pub(crate) fn is_sorted(&self) -> bool {
        self.sorted
    }

    #[inline(always)]
    unsafe fn note(&mut self, n: *mut Header, mark: u32) {
        // SAFETY: the caller owns `n`.
        let e = unsafe { expire(n) };
        self.sorted &= e >= self.last;
        self.last = e;
        // SAFETY: as above.
        unsafe { (*n).status.store(mark, Ordering::Relaxed) };
    }

    /// Appends `n`.
    ///
    /// # Safety
    /// The caller owns `n`, which is in no list.
    #[inline]
    pub(crate) unsafe fn push(&mut self, n: *mut Header, mark: u32) {
        // SAFETY: the caller owns `n` and the batch's nodes.
        unsafe {
            self.note(n, mark);
            (*n).next.set(ptr::null_mut());
            if self.tail.is_null() {
                self.head = n;
            } else {
                (*self.tail).next.set(n);
            }
        }
        self.tail = n;
        self.len += 1;
    }

    /// Appends the list `head..=tail` linked through `next`, and returns its length.
    ///
    /// # Safety
    /// The caller owns the list's nodes, which are in no other list.
    unsafe fn append(&mut self, head: *mut Header, tail: *mut Header, mark: u32) -> u64 {
        let mut count = 0;
        let mut n = head;
        while !n.is_null() {
            // SAFETY: the caller owns the list.
            unsafe {
                self.note(n, mark);
                n = next(n);
            }
            count += 1;
        }
        if self.tail.is_null() {
            self.head = head;
        } else {
            // SAFETY: the batch's tail is owned by the caller.
            unsafe { (*self.tail).next.set(head) };
        }
        self.tail = tail;
        self.len += count as usize;
        count
    }

    /// Relinks the batch in deadline order (ties in no particular order).
    ///
    /// # Safety
    /// The caller owns the batch's nodes.
    #[cold]
    #[inline(never)]
    pub(crate) unsafe fn sort(&mut self) {
        const ON_STACK: usize = 64;
        let mut small = [(0u64, ptr::null_mut::<Header>()); ON_STACK];
        let mut large = Vec::new();
        let items: &mut [(u64, *mut Header)] = if self.len <= ON_STACK {
            &mut small[..self.len]
        } else {
            large.resize(self.len, (0, ptr::null_mut()));
            &mut large
        };
        let mut n = self.head;
        for item in items.iter_mut() {
            // SAFETY: the caller owns the batch.
            unsafe {
                *item = (expire(n), n);
                n = next(n);
            }
        }
        items.sort_unstable_by_key(|&(e, _)| e);
        self.head = ptr::null_mut();
        self.tail = ptr::null_mut();
        for &(e, n) in items.iter() {
            // SAFETY: as above.
            unsafe { (*n).next.set(ptr::null_mut()) };
            if self.tail.is_null() {
                self.head = n;
            } else {
                // SAFETY: as above.
                unsafe { (*self.tail).next.set(n) };
            }
            self.tail = n;
            self.last = e;
        }
        self.sorted = true;
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
