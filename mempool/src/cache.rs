//! Object caches: one per EAL lcore (found through the lcore id) and user caches for other
//! threads, with DPDK 22.11's algorithm.
//!
//! A cache holds up to `flushthresh` = 1.5 x `size` objects. A put that would cross the
//! threshold first flushes the whole cache to the backing; a get that the cache cannot serve
//! refills it with the request plus enough to bring it back to `size`. Requests larger than the
//! cache go to the backing directly.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::backing::Backing;
use crate::copy::copy_ptrs;
use crate::placed::ShSlice;

/// The largest cache size (DPDK's `RTE_MEMPOOL_CACHE_MAX_SIZE`).
pub const CACHE_MAX_SIZE: u32 = 512;

/// DPDK's `CALC_CACHE_FLUSHTHRESH`: 1.5 times the size.
pub const fn flush_threshold(size: u32) -> u32 {
    size * 3 / 2
}

/// A cache's state. Only its owner (the lcore of its slot, or the holder of a user cache) calls
/// the `unsafe` methods; anyone may read `len`.
#[repr(align(64))]
pub(crate) struct CacheCore {
    size: u32,
    flushthresh: u32,
    len: AtomicU32,
    /// [`capacity`](Self::capacity) slots, in the pool's memzone (lcore caches) or in the
    /// user cache's own memory.
    objs: ShSlice<*mut u8>,
}

// SAFETY: `objs` is touched only by the cache's single owner (see the methods' contracts) or,
// for audits, while the owner provably runs nothing; `len` is atomic.
unsafe impl Send for CacheCore {}
// SAFETY: as above.
unsafe impl Sync for CacheCore {}

impl CacheCore {
    /// The slots a cache of `size` needs.
    pub fn capacity(size: u32) -> usize {
        (2 * size).max(flush_threshold(size)) as usize
    }

    /// A cache of `size` over `objs`, which has [`capacity`](Self::capacity) slots.
    pub fn new(size: u32, objs: ShSlice<*mut u8>) -> CacheCore {
        debug_assert_eq!(objs.len(), Self::capacity(size));
        CacheCore {
            size,
            flushthresh: flush_threshold(size),
            len: AtomicU32::new(0),
            objs,
        }
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    /// Objects in the cache now.
    pub fn len(&self) -> u32 {
        self.len.load(Ordering::Acquire)
    }

    /// Puts `objs`, flushing to `backing` when the threshold would be crossed.
    ///
    /// # Safety
    /// The caller is the cache's only user for the duration of the call.
    #[inline(always)]
    pub unsafe fn put(&self, backing: &Backing, objs: &[*mut u8]) {
        let n = objs.len() as u32;
        let len = self.len.load(Ordering::Relaxed);
        if len + n > self.flushthresh {
            // SAFETY: forwarded contract.
            return unsafe { self.put_slow(backing, objs) };
        }
        // SAFETY: the caller is the only user of the cache's slots; `len + n` is within the
        // threshold, which the slots hold; `objs` (a shared slice the caller holds) is not
        // among them.
        let free =
            unsafe { std::slice::from_raw_parts_mut(self.slots().add(len as usize), objs.len()) };
        copy_ptrs(free, objs);
        // The last write to pool memory in this call.
        self.len.store(len + n, Ordering::Release);
    }

    /// Puts one object, as [`put`](Self::put) with one: the pointer stays in a register
    /// instead of going through a one-element slice on the stack, whose store and reload sit on
    /// the chain from one get to the next (`mbuf cache=256 alloc+free single`).
    ///
    /// # Safety
    /// As [`put`](Self::put).
    #[inline(always)]
    pub unsafe fn put_one(&self, backing: &Backing, obj: *mut u8) {
        let len = self.len.load(Ordering::Relaxed);
        if len + 1 > self.flushthresh {
            // SAFETY: forwarded contract.
            return unsafe { self.put_slow(backing, &[obj]) };
        }
        // SAFETY: the caller is the only user of the cache's slots; `len` is below the
        // threshold, which the slots hold.
        unsafe { self.slots().add(len as usize).write(obj) };
        // The last write to pool memory in this call.
        self.len.store(len + 1, Ordering::Release);
    }

    /// A put that crosses the threshold: the cache goes to the backing first, or the objects
    /// go there directly when they alone cross it.
    ///
    /// # Safety
    /// As [`put`](Self::put).
    #[cold]
    #[inline(never)]
    unsafe fn put_slow(&self, backing: &Backing, objs: &[*mut u8]) {
        let n = objs.len() as u32;
        if n > self.flushthresh {
            backing.enqueue_bulk(objs);
            return;
        }
        // SAFETY: the caller is the only user of the cache's slots.
        let slots = unsafe { self.objs.slice_mut() };
        let len = self.len.load(Ordering::Relaxed);
        backing.enqueue_bulk(&slots[..len as usize]);
        slots[..n as usize].copy_from_slice(objs);
        self.len.store(n, Ordering::Release);
    }

    /// Fills `out` from the cache, refilling it from `backing` first when needed; all or
    /// nothing. The most recently put objects come out (they are the warmest in the CPU's
    /// caches).
    ///
    /// # Safety
    /// The caller is the cache's only user for the duration of the call.
    #[inline(always)]
    pub unsafe fn get(&self, backing: &Backing, out: &mut [*mut u8]) -> bool {
        let n = out.len() as u32;
        let len = self.len.load(Ordering::Relaxed);
        if n > len {
            // SAFETY: forwarded contract.
            return unsafe { self.get_slow(backing, out) };
        }
        // SAFETY: the caller is the only user of the cache's slots; the top `n` of the `len`
        // cached ones (the most recently put) are read, and `out` (a `&mut`) is not among them.
        let cached =
            unsafe { std::slice::from_raw_parts(self.slots().add((len - n) as usize), n as usize) };
        copy_ptrs(out, cached);
        self.len.store(len - n, Ordering::Release);
        true
    }

    /// Takes one object, as [`get`](Self::get) with one, returned in a register (see
    /// [`put_one`](Self::put_one)); `None` when neither the cache nor the backing has one.
    ///
    /// # Safety
    /// As [`get`](Self::get).
    #[inline(always)]
    pub unsafe fn get_one(&self, backing: &Backing) -> Option<*mut u8> {
        let len = self.len.load(Ordering::Relaxed);
        if len == 0 {
            let mut one = [std::ptr::null_mut(); 1];
            // SAFETY: forwarded contract.
            return unsafe { self.get_slow(backing, &mut one) }.then_some(one[0]);
        }
        // SAFETY: the caller is the only user of the cache's slots; slot `len - 1` holds the
        // most recently put object.
        let obj = unsafe { self.slots().add(len as usize - 1).read() };
        self.len.store(len - 1, Ordering::Release);
        Some(obj)
    }

    /// A get the cache cannot serve: requests as large as the cache go to the backing
    /// directly; smaller ones refill the cache with the request plus enough to bring it back
    /// to `size`, or go to the backing alone when it is short of that many.
    ///
    /// # Safety
    /// As [`get`](Self::get).
    #[cold]
    #[inline(never)]
    unsafe fn get_slow(&self, backing: &Backing, out: &mut [*mut u8]) -> bool {
        let n = out.len() as u32;
        if n >= self.size {
            return backing.dequeue_bulk(out);
        }
        // SAFETY: the caller is the only user of the cache's slots.
        let slots = unsafe { self.objs.slice_mut() };
        let len = self.len.load(Ordering::Relaxed);
        let req = n + (self.size - len);
        if !backing.dequeue_bulk(&mut slots[len as usize..(len + req) as usize]) {
            // Short of objects for the refill: try the request alone.
            return backing.dequeue_bulk(out);
        }
        let len = len + req;
        out.copy_from_slice(&slots[(len - n) as usize..len as usize]);
        self.len.store(len - n, Ordering::Release);
        true
    }

    /// The first slot.
    #[inline(always)]
    fn slots(&self) -> *mut *mut u8 {
        self.objs.as_mut_ptr()
    }

    /// Moves every cached object to `backing`.
    ///
    /// # Safety
    /// The caller is the cache's only user for the duration of the call.
    pub unsafe fn flush(&self, backing: &Backing) {
        let slots = &self.objs[..];
        let len = self.len.load(Ordering::Relaxed) as usize;
        if len > 0 {
            backing.enqueue_bulk(&slots[..len]);
        }
        self.len.store(0, Ordering::Release);
    }

    /// The cached objects.
    ///
    /// # Safety
    /// Nobody uses the cache during the call and while the slice lives.
    pub unsafe fn contents(&self) -> &[*mut u8] {
        &self.objs[..self.len() as usize]
    }
}

/// Per-lcore counters (DPDK's `rte_mempool_debug_stats`), kept when the pool was created with
/// statistics on.
#[derive(Default)]
#[repr(align(64))]
pub(crate) struct StatsCells {
    put_bulk: AtomicU64,
    put_objs: AtomicU64,
    get_success_bulk: AtomicU64,
    get_success_objs: AtomicU64,
    get_fail_bulk: AtomicU64,
    get_fail_objs: AtomicU64,
}

/// Mempool statistics summed over lcores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MempoolStats {
    /// Put calls.
    pub put_bulk: u64,
    /// Objects put.
    pub put_objs: u64,
    /// Successful get calls.
    pub get_success_bulk: u64,
    /// Objects got.
    pub get_success_objs: u64,
    /// Failed get calls.
    pub get_fail_bulk: u64,
    /// Objects asked for by failed get calls.
    pub get_fail_objs: u64,
}

impl StatsCells {
    /// Adds on the owner's slot: a plain load and store, no locked instruction.
    #[inline(always)]
    fn bump(c: &AtomicU64, by: u64, shared: bool) {
        if shared {
            c.fetch_add(by, Ordering::Relaxed);
        } else {
            c.store(c.load(Ordering::Relaxed) + by, Ordering::Relaxed);
        }
    }

    #[inline]
    pub fn put(&self, n: usize, shared: bool) {
        Self::bump(&self.put_bulk, 1, shared);
        Self::bump(&self.put_objs, n as u64, shared);
    }

    #[inline]
    pub fn get(&self, n: usize, ok: bool, shared: bool) {
        if ok {
            Self::bump(&self.get_success_bulk, 1, shared);
            Self::bump(&self.get_success_objs, n as u64, shared);
        } else {
            Self::bump(&self.get_fail_bulk, 1, shared);
            Self::bump(&self.get_fail_objs, n as u64, shared);
        }
    }

    pub fn add_to(&self, s: &mut MempoolStats) {
        s.put_bulk += self.put_bulk.load(Ordering::Relaxed);
        s.put_objs += self.put_objs.load(Ordering::Relaxed);
        s.get_success_bulk += self.get_success_bulk.load(Ordering::Relaxed);
        s.get_success_objs += self.get_success_objs.load(Ordering::Relaxed);
        s.get_fail_bulk += self.get_fail_bulk.load(Ordering::Relaxed);
        s.get_fail_objs += self.get_fail_objs.load(Ordering::Relaxed);
    }
}

/// The cache and counters of one lcore.
pub(crate) struct LcoreSlot {
    pub cache: CacheCore,
    pub stats: StatsCells,
}
