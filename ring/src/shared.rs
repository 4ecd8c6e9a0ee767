//! The ring object behind every handle: its memory (heap or memzone), the header in it, and the
//! enqueue/dequeue/peek operations, generic over the protocol of the side they run on.

use std::alloc::Layout;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use crate::atomic::Ordering::AcqRel;
use crate::headtail::{Hts, Mt, PeekProtocol, Protocol, Reservation, Rts, St};
use crate::layout::{HEADER_ALIGN, HEADER_SIZE, Header, Init};
use crate::slots::Slots;
use crate::sync::SyncType;

/// What an enqueue did: DPDK's return value and `*free_space`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use]
pub struct Enqueued {
    /// How many elements were enqueued (for a bulk: 0 or all of them).
    pub count: usize,
    /// Free slots left after the enqueue, as seen by it.
    pub free_space: usize,
}

/// What a dequeue did: DPDK's return value and `*available`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use]
pub struct Dequeued {
    /// How many elements were dequeued (for a bulk: 0 or all asked for).
    pub count: usize,
    /// Elements left in the ring after the dequeue, as seen by it.
    pub available: usize,
}

/// Where a ring's memory comes from.
pub(crate) enum Backing {
    /// The process heap (rings without the EAL); freed on drop.
    Heap(Layout),
    /// An EAL memzone, shared by every handle to it (in this or other processes).
    #[cfg(not(loom))]
    Memzone(rpdk_eal::memzone::Memzone),
    /// Memory its user keeps alive (a [`PlacedRing`](crate::PlacedRing)).
    #[cfg(not(loom))]
    External,
}

/// A ring: its header, slots and geometry, and what keeps its memory alive.
pub(crate) struct Shared<T> {
    hdr: NonNull<Header>,
    /// Under loom, the slots are tracked cells of their own; otherwise they follow the header
    /// (see [`Shared::slots`]).
    #[cfg(loom)]
    slots: Slots<T>,
    #[cfg(not(loom))]
    _slots: std::marker::PhantomData<T>,
    mask: u32,
    capacity: u32,
    prod_sync: SyncType,
    cons_sync: SyncType,
    backing: Backing,
}

// SAFETY: the header is atomics and fields fixed at creation; slots are handed between threads
// by the protocols (each slot has one owner at a time), which moves `T`s between threads:
// hence `T: Send`.
unsafe impl<T: Send> Send for Shared<T> {}
// SAFETY: as for Send; shared access only goes through the protocols.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Shared<T> {
    /// The layout of a ring of `size` slots.
    pub(crate) fn layout(size: u32) -> Option<Layout> {
        let bytes = crate::layout::memsize(size, size_of::<T>())?;
        Layout::from_size_align(bytes, HEADER_ALIGN.max(align_of::<T>())).ok()
    }

    /// A new ring on the heap.
    pub(crate) fn new_heap(init: &Init<'_>) -> Option<Shared<T>> {
        let layout = Self::layout(init.size)?;
        // SAFETY: the layout has a non-zero size (at least the header).
        let mem = NonNull::new(unsafe { std::alloc::alloc(layout) })?;
        // SAFETY: `mem` is fresh memory of `layout`, large and aligned enough for a header and
        // `size` slots after it.
        Some(unsafe { Self::init_at(mem, init, Backing::Heap(layout)) })
    }

    /// Writes a new header at `mem` and takes the ring there.
    ///
    /// # Safety
    /// `mem` is valid for `memsize(size, size_of::<T>())` bytes, aligned to 128 and to `T`,
    /// not used by anyone else, and `backing` keeps it alive.
    pub(crate) unsafe fn init_at(mem: NonNull<u8>, init: &Init<'_>, backing: Backing) -> Shared<T> {
        let hdr = mem.cast::<Header>();
        // SAFETY: the caller's contract: the memory is ours and big enough.
        unsafe { hdr.as_ptr().write(Header::new(init)) };
        // SAFETY: as above; the header is initialised.
        unsafe { Self::attach_at(mem, backing) }
    }

    /// Takes the ring whose initialised header is at `mem`.
    ///
    /// # Safety
    /// `mem` holds an initialised ring header for elements of type `T` followed by its slots,
    /// and `backing` keeps the memory alive.
    pub(crate) unsafe fn attach_at(mem: NonNull<u8>, backing: Backing) -> Shared<T> {
        let hdr = mem.cast::<Header>();
        // SAFETY: the caller's contract.
        let h = unsafe { hdr.as_ref() };
        Shared {
            hdr,
            // SAFETY: `size` slots of T follow the 640-byte header, which keeps T's alignment
            // (the memory is aligned to at least 128 and to T).
            #[cfg(loom)]
            slots: unsafe { Slots::new(mem.add(HEADER_SIZE).cast::<T>(), h.meta.size) },
            #[cfg(not(loom))]
            _slots: std::marker::PhantomData,
            mask: h.meta.mask,
            capacity: h.meta.capacity,
            prod_sync: SyncType::from_u32(h.prod.head.sync).unwrap_or(SyncType::Mt),
            cons_sync: SyncType::from_u32(h.cons.head.sync).unwrap_or(SyncType::Mt),
            backing,
        }
    }

    /// The slots, which start right after the 640-byte header: derived from the header's
    /// address rather than loaded, so that an enqueue or dequeue loads one pointer from its
    /// handle, as DPDK's `rte_ring *` (the slots at `&r[1]`).
    #[cfg(not(loom))]
    #[inline(always)]
    fn slots(&self) -> Slots<T> {
        // SAFETY: `attach_at`'s contract: `size` slots of T follow the header, aligned, alive
        // as long as `self.backing`.
        unsafe { Slots::new(self.hdr.cast::<u8>().add(HEADER_SIZE).cast::<T>(), 0) }
    }

    #[cfg(loom)]
    #[inline(always)]
    fn slots(&self) -> &Slots<T> {
        &self.slots
    }

    /// The header.
    #[inline(always)]
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: the header lives as long as `self.backing`.
        unsafe { self.hdr.as_ref() }
    }

    #[cfg(not(loom))]
    pub(crate) fn backing(&self) -> &Backing {
        &self.backing
    }

    #[inline(always)]
    pub(crate) fn capacity(&self) -> u32 {
        self.capacity
    }

    #[inline(always)]
    pub(crate) fn size(&self) -> u32 {
        self.mask + 1
    }

    #[inline(always)]
    pub(crate) fn prod_sync(&self) -> SyncType {
        self.prod_sync
    }

    #[inline(always)]
    pub(crate) fn cons_sync(&self) -> SyncType {
        self.cons_sync
    }

    /// Elements in the ring (DPDK's `rte_ring_count`).
    #[inline]
    pub(crate) fn count(&self) -> u32 {
        let h = self.header();
        let prod_tail = h.prod.tail_pos();
        let cons_tail = h.cons.tail_pos();
        let count = prod_tail.wrapping_sub(cons_tail) & self.mask;
        count.min(self.capacity)
    }

    /// Whether the ring is empty (DPDK's `rte_ring_empty`).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        let h = self.header();
        h.prod.tail_pos() == h.cons.tail_pos()
    }

    /// Takes the single-side claim `bit`; false if already taken.
    pub(crate) fn claim(&self, bit: u32) -> bool {
        self.header().meta.claims.fetch_or(bit, AcqRel) & bit == 0
    }

    /// Gives the claim `bit` back.
    pub(crate) fn release(&self, bit: u32) {
        self.header().meta.claims.fetch_and(!bit, AcqRel);
    }

    /// Empties the ring (DPDK's `rte_ring_reset`).
    ///
    /// # Safety
    /// No operation or reservation is in progress on either side, in any thread.
    pub(crate) unsafe fn reset(&self) {
        let h = self.header();
        h.prod.reset();
        h.cons.reset();
    }

    /// Enqueues `n` elements from `src` with protocol `P` (all or nothing if `fixed`).
    ///
    /// # Safety
    /// `P` is the producer side's protocol; if it is single-thread, no other enqueue runs at
    /// the same time; `src` is valid for `n` reads.
    #[inline(always)]
    pub(crate) unsafe fn enqueue<P: Protocol>(
        &self,
        src: *const T,
        n: usize,
        fixed: bool,
    ) -> Enqueued {
        let h = self.header();
        let n = n.min(u32::MAX as usize) as u32;
        let r = P::move_head(&h.prod, &h.cons, self.capacity, n, fixed);
        if r.n != 0 {
            // SAFETY: the slots [head, head + n) are reserved for us; the caller vouches for src.
            unsafe { self.slots().write(r.head, self.mask, src, r.n) };
            P::update_tail(&h.prod, r.head, r.n);
        }
        Enqueued {
            count: r.n as usize,
            free_space: r.entries.wrapping_sub(r.n) as usize,
        }
    }

    /// Dequeues up to `n` elements into `dst` with protocol `P` (all or nothing if `fixed`).
    ///
    /// # Safety
    /// `P` is the consumer side's protocol; if it is single-thread, no other dequeue runs at
    /// the same time; `dst` is valid for `n` writes.
    #[inline(always)]
    pub(crate) unsafe fn dequeue<P: Protocol>(
        &self,
        dst: *mut T,
        n: usize,
        fixed: bool,
    ) -> Dequeued {
        let h = self.header();
        let n = n.min(u32::MAX as usize) as u32;
        let r = P::move_head(&h.cons, &h.prod, 0, n, fixed);
        if r.n != 0 {
            // SAFETY: the slots are reserved for us and hold published elements.
            unsafe { self.slots().read(r.head, self.mask, dst, r.n) };
            P::update_tail(&h.cons, r.head, r.n);
        }
        Dequeued {
            count: r.n as usize,
            available: r.entries.wrapping_sub(r.n) as usize,
        }
    }

    /// Enqueues with the protocol of `sync`, chosen at run time: a branch before moving the
    /// head and one before moving the tail, around one copy of the slot code (rather than one
    /// inlined enqueue per protocol, whose size costs more than the branches).
    ///
    /// # Safety
    /// `sync` is the producer side's; if it is single-thread, no other enqueue runs at the
    /// same time; `src` is valid for `n` reads.
    #[inline(always)]
    pub(crate) unsafe fn enqueue_dyn(
        &self,
        sync: SyncType,
        src: *const T,
        n: usize,
        fixed: bool,
    ) -> Enqueued {
        let h = self.header();
        let (own, other, cap) = (&h.prod, &h.cons, self.capacity);
        let n = n.min(u32::MAX as usize) as u32;
        let r = match sync {
            SyncType::Mt => Mt::move_head(own, other, cap, n, fixed),
            SyncType::St => St::move_head(own, other, cap, n, fixed),
            SyncType::MtRts => Rts::move_head(own, other, cap, n, fixed),
            SyncType::MtHts => Hts::move_head(own, other, cap, n, fixed),
        };
        if r.n != 0 {
            // SAFETY: the slots [head, head + n) are reserved for us; the caller vouches for src.
            unsafe { self.slots().write(r.head, self.mask, src, r.n) };
            match sync {
                SyncType::Mt => Mt::update_tail(own, r.head, r.n),
                SyncType::St => St::update_tail(own, r.head, r.n),
                SyncType::MtRts => Rts::update_tail(own, r.head, r.n),
                SyncType::MtHts => Hts::update_tail(own, r.head, r.n),
            }
        }
        Enqueued {
            count: r.n as usize,
            free_space: r.entries.wrapping_sub(r.n) as usize,
        }
    }

    /// Dequeues with the protocol of `sync`, chosen at run time (see
    /// [`enqueue_dyn`](Self::enqueue_dyn)).
    ///
    /// # Safety
    /// `sync` is the consumer side's; if it is single-thread, no other dequeue runs at the
    /// same time; `dst` is valid for `n` writes.
    #[inline(always)]
    pub(crate) unsafe fn dequeue_dyn(
        &self,
        sync: SyncType,
        dst: *mut T,
        n: usize,
        fixed: bool,
    ) -> Dequeued {
        let h = self.header();
        let (own, other) = (&h.cons, &h.prod);
        let n = n.min(u32::MAX as usize) as u32;
        let r = match sync {
            SyncType::Mt => Mt::move_head(own, other, 0, n, fixed),
            SyncType::St => St::move_head(own, other, 0, n, fixed),
            SyncType::MtRts => Rts::move_head(own, other, 0, n, fixed),
            SyncType::MtHts => Hts::move_head(own, other, 0, n, fixed),
        };
        if r.n != 0 {
            // SAFETY: the slots are reserved for us and hold published elements.
            unsafe { self.slots().read(r.head, self.mask, dst, r.n) };
            match sync {
                SyncType::Mt => Mt::update_tail(own, r.head, r.n),
                SyncType::St => St::update_tail(own, r.head, r.n),
                SyncType::MtRts => Rts::update_tail(own, r.head, r.n),
                SyncType::MtHts => Hts::update_tail(own, r.head, r.n),
            }
        }
        Dequeued {
            count: r.n as usize,
            available: r.entries.wrapping_sub(r.n) as usize,
        }
    }

    /// Enqueues one element.
    ///
    /// # Safety
    /// As [`enqueue`](Self::enqueue).
    #[inline(always)]
    pub(crate) unsafe fn enqueue_one<P: Protocol>(&self, obj: T) -> Result<(), T> {
        // SAFETY: the caller's contract; `obj` is one readable element.
        let done = unsafe { self.enqueue::<P>(&obj, 1, true) };
        if done.count == 1 { Ok(()) } else { Err(obj) }
    }

    /// Dequeues one element.
    ///
    /// # Safety
    /// As [`dequeue`](Self::dequeue).
    #[inline(always)]
    pub(crate) unsafe fn dequeue_one<P: Protocol>(&self) -> Option<T> {
        let mut out = MaybeUninit::<T>::uninit();
        // SAFETY: the caller's contract; `out` has room for one element.
        let done = unsafe { self.dequeue::<P>(out.as_mut_ptr(), 1, true) };
        // SAFETY: one element was written into `out`.
        (done.count == 1).then(|| unsafe { out.assume_init() })
    }

    /// Reserves up to `n` slots for a peek or zero-copy enqueue.
    ///
    /// # Safety
    /// `P` is the producer side's protocol; for single-thread, no other enqueue runs until the
    /// reservation is finished with [`enqueue_finish`](Self::enqueue_finish).
    #[inline(always)]
    pub(crate) unsafe fn enqueue_start<P: PeekProtocol>(
        &self,
        n: usize,
        fixed: bool,
    ) -> Reservation {
        let h = self.header();
        let n = n.min(u32::MAX as usize) as u32;
        P::move_head(&h.prod, &h.cons, self.capacity, n, fixed)
    }

    /// Writes `src` (at most the `r.n` reserved) into a reservation and publishes that many.
    ///
    /// # Safety
    /// `r` is an open enqueue reservation of protocol `P` on this ring; `src` is valid for
    /// `k` reads, `k <= r.n`.
    #[inline(always)]
    pub(crate) unsafe fn enqueue_finish<P: PeekProtocol>(
        &self,
        r: Reservation,
        src: *const T,
        k: u32,
    ) {
        if k != 0 {
            // SAFETY: the slots are reserved for us.
            unsafe { self.slots().write(r.head, self.mask, src, k) };
        }
        P::finish(&self.header().prod, r.head, k);
    }

    /// Publishes `k` of the slots of a zero-copy reservation (their contents were written in
    /// place).
    ///
    /// # Safety
    /// `r` is an open enqueue reservation of protocol `P`; its first `k` slots hold
    /// initialised elements, `k <= r.n`.
    #[cfg(not(loom))]
    #[inline(always)]
    pub(crate) unsafe fn enqueue_commit<P: PeekProtocol>(&self, r: Reservation, k: u32) {
        P::finish(&self.header().prod, r.head, k);
    }

    /// Reserves up to `n` elements for a peek or zero-copy dequeue (and copies them to `dst`
    /// if it is not null).
    ///
    /// # Safety
    /// `P` is the consumer side's protocol; for single-thread, no other dequeue runs until the
    /// reservation is finished; `dst` is null or valid for `n` writes.
    #[inline(always)]
    pub(crate) unsafe fn dequeue_start<P: PeekProtocol>(
        &self,
        dst: *mut T,
        n: usize,
        fixed: bool,
    ) -> Reservation {
        let h = self.header();
        let n = n.min(u32::MAX as usize) as u32;
        let r = P::move_head(&h.cons, &h.prod, 0, n, fixed);
        if r.n != 0 && !dst.is_null() {
            // SAFETY: the slots are reserved for us and hold published elements.
            unsafe { self.slots().read(r.head, self.mask, dst, r.n) };
        }
        r
    }

    /// Removes `k` of the reserved elements from the ring; the rest stay.
    ///
    /// # Safety
    /// `r` is an open dequeue reservation of protocol `P` on this ring, `k <= r.n`.
    #[inline(always)]
    pub(crate) unsafe fn dequeue_finish<P: PeekProtocol>(&self, r: Reservation, k: u32) {
        P::finish(&self.header().cons, r.head, k);
    }

    /// The slots of a reservation, as up to two runs.
    #[cfg(not(loom))]
    #[inline(always)]
    pub(crate) fn runs(&self, r: Reservation) -> [(*mut MaybeUninit<T>, usize); 2] {
        self.slots().runs(r.head, self.mask, r.n)
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        #[allow(irrefutable_let_patterns)] // under loom there is no memzone backing
        if let Backing::Heap(layout) = self.backing {
            // SAFETY: the header was written by `init_at` and nobody else uses the memory now
            // (this is the last handle); the memory came from `alloc` with `layout`.
            unsafe {
                std::ptr::drop_in_place(self.hdr.as_ptr());
                std::alloc::dealloc(self.hdr.as_ptr().cast(), layout);
            }
        }
    }
}
