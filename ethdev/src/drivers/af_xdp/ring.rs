//! The four rings of an AF_XDP socket, shared with the kernel through mappings: single-producer
//! single-consumer rings of a power-of-two size, with free-running 32-bit producer and consumer
//! indexes. The side that produces writes entries, then publishes its index with a release
//! store; the side that consumes reads the other index with an acquire load before reading
//! entries, and publishes its own index with a release store once done with them (the
//! protocol of the kernel's `xsk_queue.h`). Each side caches the other's index and reads it
//! again only when the cached one says the ring is full or empty, so a burst costs one acquire
//! load and one release store, never a system call.

use std::sync::atomic::{AtomicU32, Ordering};

use super::xsk::RingOffsets;

/// A mapping of one ring, unmapped on drop.
#[derive(Debug)]
pub(super) struct Mapping {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping belongs to this value alone; the memory it shares with the kernel is
// accessed through the ring protocol's atomics.
unsafe impl Send for Mapping {}

impl Mapping {
    /// Takes ownership of a mapping.
    ///
    /// # Safety
    /// `ptr` is a mapping of `len` bytes that nothing else unmaps.
    pub unsafe fn new(ptr: *mut u8, len: usize) -> Mapping {
        Mapping { ptr, len }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping given to `new`, unmapped once.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// Where a ring's words and entries are.
#[derive(Debug)]
struct Raw {
    /// Kept for the pointers below.
    _map: Mapping,
    producer: *const AtomicU32,
    consumer: *const AtomicU32,
    flags: *const AtomicU32,
    desc: *mut u8,
    mask: u32,
}

// SAFETY: the pointers point into `map`, which moves with them; one side of a ring is used by
// one thread at a time (its owner's `&mut`), and the words shared with the kernel are atomics.
unsafe impl Send for Raw {}

impl Raw {
    /// # Safety
    /// `map` is the mapping of a ring of `entries` entries (a power of two) laid out as `off`
    /// says, as the kernel made it.
    unsafe fn new(map: Mapping, off: &RingOffsets, entries: u32) -> Raw {
        let base = map.ptr;
        // SAFETY: the kernel's offsets lie within the mapping, aligned for their words.
        unsafe {
            Raw {
                producer: base.add(off.producer) as *const AtomicU32,
                consumer: base.add(off.consumer) as *const AtomicU32,
                flags: base.add(off.flags) as *const AtomicU32,
                desc: base.add(off.desc),
                mask: entries - 1,
                _map: map,
            }
        }
    }

    #[inline(always)]
    fn producer(&self) -> &AtomicU32 {
        // SAFETY: a live, aligned word of the mapping, which `self` keeps.
        unsafe { &*self.producer }
    }

    #[inline(always)]
    fn consumer(&self) -> &AtomicU32 {
        // SAFETY: as above.
        unsafe { &*self.consumer }
    }

    #[inline(always)]
    fn needs_wakeup(&self) -> bool {
        // SAFETY: as above.
        unsafe { &*self.flags }.load(Ordering::Relaxed) & libc::XDP_RING_NEED_WAKEUP != 0
    }
}

/// The side of a ring this process produces into: the fill ring (addresses) and the TX ring
/// (descriptors). `T` is the entry.
#[derive(Debug)]
pub(super) struct Producer<T> {
    raw: Raw,
    /// Our index, published or not.
    prod: u32,
    /// The consumer's index plus the ring size, as last read: `cons_end - prod` slots are free.
    cons_end: u32,
    _entry: std::marker::PhantomData<T>,
}

/// The side of a ring this process consumes from: the RX ring (descriptors) and the
/// completion ring (addresses).
#[derive(Debug)]
pub(super) struct Consumer<T> {
    raw: Raw,
    /// Our index, published or not.
    cons: u32,
    /// The producer's index as last read: `prod - cons` entries are ready.
    prod: u32,
    _entry: std::marker::PhantomData<T>,
}

/// An entry type of a ring: `u64` addresses or `xdp_desc` descriptors, both plain data.
pub(super) trait Entry: Copy {}
impl Entry for u64 {}
impl Entry for libc::xdp_desc {}

impl<T: Entry> Producer<T> {
    /// The producing side of ring `map`.
    ///
    /// # Safety
    /// As for the ring's layout: `map` is the kernel's mapping of a ring of `entries` entries of
    /// `T`, laid out as `off` says, and nothing else produces into it.
    pub unsafe fn new(map: Mapping, off: &RingOffsets, entries: u32) -> Producer<T> {
        // SAFETY: the caller's contract.
        let raw = unsafe { Raw::new(map, off, entries) };
        let prod = raw.producer().load(Ordering::Relaxed);
        let cons_end = raw.consumer().load(Ordering::Acquire).wrapping_add(entries);
        Producer {
            raw,
            prod,
            cons_end,
            _entry: std::marker::PhantomData,
        }
    }

    /// Entries in the ring.
    pub fn size(&self) -> u32 {
        self.raw.mask + 1
    }

    /// How many of `want` slots are free now, reading the consumer's index again only when the
    /// cached one has fewer.
    #[inline]
    pub fn free(&mut self, want: u32) -> u32 {
        let free = self.cons_end.wrapping_sub(self.prod);
        if free >= want {
            return want;
        }
        self.cons_end = self
            .raw
            .consumer()
            .load(Ordering::Acquire)
            .wrapping_add(self.size());
        self.cons_end.wrapping_sub(self.prod).min(want)
    }

    /// Writes entry `i` after our index (`i` below what [`free`](Self::free) gave).
    #[inline(always)]
    pub fn write(&mut self, i: u32, v: T) {
        let slot = (self.prod.wrapping_add(i) & self.raw.mask) as usize;
        // SAFETY: `slot` is below the ring's size; the slot is free (the kernel consumed it), so
        // only we touch it until published.
        unsafe { (self.raw.desc as *mut T).add(slot).write(v) };
    }

    /// Publishes the `n` entries written after our index.
    #[inline(always)]
    pub fn submit(&mut self, n: u32) {
        self.prod = self.prod.wrapping_add(n);
        self.raw.producer().store(self.prod, Ordering::Release);
    }

    /// Whether the kernel asked to be woken to consume (`XDP_RING_NEED_WAKEUP`).
    #[inline(always)]
    pub fn needs_wakeup(&self) -> bool {
        self.raw.needs_wakeup()
    }
}

impl<T: Entry> Consumer<T> {
    /// The consuming side of ring `map`.
    ///
    /// # Safety
    /// `map` is the kernel's mapping of a ring of `entries` entries of `T`, laid out as `off`
    /// says, and nothing else consumes from it.
    pub unsafe fn new(map: Mapping, off: &RingOffsets, entries: u32) -> Consumer<T> {
        // SAFETY: the caller's contract.
        let raw = unsafe { Raw::new(map, off, entries) };
        let cons = raw.consumer().load(Ordering::Relaxed);
        let prod = raw.producer().load(Ordering::Acquire);
        Consumer {
            raw,
            cons,
            prod,
            _entry: std::marker::PhantomData,
        }
    }

    /// How many of `want` entries are ready, reading the producer's index again only when the
    /// cached one has fewer.
    #[inline]
    pub fn ready(&mut self, want: u32) -> u32 {
        let ready = self.prod.wrapping_sub(self.cons);
        if ready >= want {
            return want;
        }
        self.prod = self.raw.producer().load(Ordering::Acquire);
        self.prod.wrapping_sub(self.cons).min(want)
    }

    /// Entry `i` after our index (`i` below what [`ready`](Self::ready) gave).
    #[inline(always)]
    pub fn read(&self, i: u32) -> T {
        let slot = (self.cons.wrapping_add(i) & self.raw.mask) as usize;
        // SAFETY: `slot` is below the ring's size and holds an entry the kernel published
        // (the acquire load in `ready` orders our read after its write).
        unsafe { (self.raw.desc as *const T).add(slot).read() }
    }

    /// Gives the `n` entries read back to the kernel.
    #[inline(always)]
    pub fn release(&mut self, n: u32) {
        self.cons = self.cons.wrapping_add(n);
        self.raw.consumer().store(self.cons, Ordering::Release);
    }
}
