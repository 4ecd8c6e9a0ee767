//! Getting and putting objects: through the calling lcore's cache, a user-owned cache, or
//! straight from the backing store, and the two cache handles.

use std::ptr::NonNull;

use crate::cache::{CACHE_MAX_SIZE, CacheCore, LcoreSlot, flush_threshold};
use crate::error::{Error, Exhausted};
use crate::placed::ShSlice;

use super::RawMempool;

impl RawMempool {
    /// The calling lcore's cache slot.
    #[inline(always)]
    fn slot(&self) -> Option<&LcoreSlot> {
        let id = rpdk_eal::lcore::id()?;
        self.caches.get(id as usize)
    }

    /// Takes `out.len()` objects (DPDK's `rte_mempool_get_bulk`); all or nothing.
    #[inline]
    pub fn get_bulk(&self, out: &mut [*mut u8]) -> Result<(), Exhausted> {
        let ok = match self.slot() {
            // SAFETY: the slot of lcore `id` is used only by the thread whose lcore id is `id`,
            // which is this one.
            Some(slot) => unsafe { self.get_cached(slot, out) },
            None => {
                let ok = self.backing.dequeue_bulk(out);
                if self.stats_on {
                    self.shared_stats.get(out.len(), ok, true);
                }
                ok
            }
        };
        if ok { Ok(()) } else { Err(Exhausted) }
    }

    /// Gets through an lcore's cache.
    ///
    /// # Safety
    /// The calling thread is the lcore of `slot`.
    #[inline(always)]
    unsafe fn get_cached(&self, slot: &LcoreSlot, out: &mut [*mut u8]) -> bool {
        // SAFETY: the caller's contract makes this thread the slot's only user.
        let ok = unsafe { slot.cache.get(&self.backing, out) };
        if self.stats_on {
            slot.stats.get(out.len(), ok, false);
        }
        ok
    }

    /// Puts through an lcore's cache.
    ///
    /// # Safety
    /// The calling thread is the lcore of `slot`; the objects are as `put_bulk` says.
    #[inline(always)]
    unsafe fn put_cached(&self, slot: &LcoreSlot, objs: &[*mut u8]) {
        if self.stats_on {
            slot.stats.put(objs.len(), false);
        }
        // SAFETY: the caller's contract.
        unsafe { slot.cache.put(&self.backing, objs) };
    }

    /// Takes one object.
    #[inline]
    pub fn get(&self) -> Result<NonNull<u8>, Exhausted> {
        let obj = match self.slot() {
            Some(slot) => {
                // SAFETY: the slot of lcore `id` is used only by the thread whose lcore id is
                // `id`, which is this one.
                let obj = unsafe { slot.cache.get_one(&self.backing) };
                if self.stats_on {
                    slot.stats.get(1, obj.is_some(), false);
                }
                obj
            }
            None => {
                let mut one = [std::ptr::null_mut(); 1];
                let ok = self.backing.dequeue_bulk(&mut one);
                if self.stats_on {
                    self.shared_stats.get(1, ok, true);
                }
                ok.then_some(one[0])
            }
        };
        obj.and_then(NonNull::new).ok_or(Exhausted)
    }

    /// Returns objects (DPDK's `rte_mempool_put_bulk`).
    ///
    /// # Safety
    /// Every pointer is an object of this pool that the caller got from it and no longer uses,
    /// given back once.
    #[inline]
    pub unsafe fn put_bulk(&self, objs: &[*mut u8]) {
        match self.slot() {
            // SAFETY: the slot is this thread's lcore's; the objects are as our contract says.
            Some(slot) => unsafe { self.put_cached(slot, objs) },
            None => {
                if self.stats_on {
                    self.shared_stats.put(objs.len(), true);
                }
                self.backing.enqueue_bulk(objs);
            }
        }
    }

    /// Returns one object.
    ///
    /// # Safety
    /// As [`put_bulk`](Self::put_bulk).
    #[inline]
    pub unsafe fn put(&self, obj: *mut u8) {
        match self.slot() {
            Some(slot) => {
                if self.stats_on {
                    slot.stats.put(1, false);
                }
                // SAFETY: the slot is this thread's lcore's; the object is as our contract says.
                unsafe { slot.cache.put_one(&self.backing, obj) }
            }
            // SAFETY: forwarded contract.
            None => unsafe { self.put_bulk(&[obj]) },
        }
    }

    /// Takes objects through a user cache (for threads that are not EAL lcores).
    #[inline]
    pub fn get_bulk_with_cache(
        &self,
        cache: &mut MempoolCache<'_>,
        out: &mut [*mut u8],
    ) -> Result<(), Exhausted> {
        assert!(
            std::ptr::eq(cache.pool, self),
            "a user cache belongs to one pool"
        );
        // SAFETY: `&mut MempoolCache` makes us its only user.
        let ok = unsafe { cache.core.get(&self.backing, out) };
        if self.stats_on {
            self.shared_stats.get(out.len(), ok, true);
        }
        if ok { Ok(()) } else { Err(Exhausted) }
    }

    /// Returns objects through a user cache.
    ///
    /// # Safety
    /// As [`put_bulk`](Self::put_bulk).
    #[inline]
    pub unsafe fn put_bulk_with_cache(&self, cache: &mut MempoolCache<'_>, objs: &[*mut u8]) {
        assert!(
            std::ptr::eq(cache.pool, self),
            "a user cache belongs to one pool"
        );
        if self.stats_on {
            self.shared_stats.put(objs.len(), true);
        }
        // SAFETY: `&mut MempoolCache` makes us its only user.
        unsafe { cache.core.put(&self.backing, objs) };
    }

    /// Moves what the caches of lcores that no live process runs hold back to the backing
    /// store, and returns how many objects that was. A secondary killed while it ran leaves
    /// objects in its lcores' caches: counted as free (`avail_count`, the audit) but out of
    /// reach of the other lcores until a process with those lcore ids starts, or this runs.
    pub fn reclaim_orphan_caches(&self) -> u32 {
        let mut moved = 0;
        rpdk_eal::lcore::with_orphan_lcores(|lcore| {
            if let Some(slot) = self.caches.get(lcore as usize) {
                moved += slot.cache.len();
                // SAFETY: no live process runs the lcore, and the EAL holds it for us while
                // this runs, so nobody else uses its cache.
                unsafe { slot.cache.flush(&self.backing) };
            }
        });
        moved
    }

    /// Moves the calling lcore's cached objects back to the backing store.
    pub fn flush_lcore_cache(&self) {
        if let Some(slot) = self.slot() {
            // SAFETY: this thread is the only user of its lcore's slot.
            unsafe { slot.cache.flush(&self.backing) };
        }
    }

    /// The calling lcore's cache of this pool, found once for a loop of gets and puts (DPDK's
    /// `rte_mempool_default_cache`, for `rte_mempool_generic_get/put`); `None` off EAL lcores
    /// or when the pool has no cache. The handle stays on this thread.
    pub fn default_cache(&self) -> Option<LcoreCache<'_>> {
        Some(LcoreCache {
            pool: self,
            slot: self.slot()?,
            _thread: std::marker::PhantomData,
        })
    }

    /// Creates a user cache of `size` objects for a thread without an lcore cache
    /// (DPDK's `rte_mempool_cache_create`). It flushes itself when dropped.
    pub fn create_cache(&self, size: u32) -> Result<MempoolCache<'_>, Error> {
        if size == 0 || size > CACHE_MAX_SIZE || flush_threshold(size) > self.n {
            return Err(Error::InvalidConfig {
                name: self.name().to_string(),
                reason: format!(
                    "user cache size {size} must be 1 to {CACHE_MAX_SIZE} and at most 2/3 of the pool"
                ),
            });
        }
        let mut slots = vec![std::ptr::null_mut(); CacheCore::capacity(size)].into_boxed_slice();
        let core = CacheCore::new(size, ShSlice::over(&mut slots));
        Ok(MempoolCache {
            pool: self,
            core,
            _slots: slots,
        })
    }
}

/// The calling lcore's cache of a pool ([`RawMempool::default_cache`]): gets and puts through
/// it skip finding the lcore each time. Not `Send`: it belongs to the lcore's thread.
pub struct LcoreCache<'p> {
    pool: &'p RawMempool,
    slot: &'p LcoreSlot,
    _thread: std::marker::PhantomData<*const ()>,
}

impl LcoreCache<'_> {
    /// Takes `out.len()` objects, all or nothing (DPDK's `rte_mempool_generic_get`).
    #[inline]
    pub fn get_bulk(&self, out: &mut [*mut u8]) -> Result<(), Exhausted> {
        // SAFETY: the handle was made on this slot's lcore and cannot leave its thread.
        if unsafe { self.pool.get_cached(self.slot, out) } {
            Ok(())
        } else {
            Err(Exhausted)
        }
    }

    /// Returns objects (DPDK's `rte_mempool_generic_put`).
    ///
    /// # Safety
    /// As [`RawMempool::put_bulk`].
    #[inline]
    pub unsafe fn put_bulk(&self, objs: &[*mut u8]) {
        // SAFETY: as in get_bulk; the objects are as the caller's contract says.
        unsafe { self.pool.put_cached(self.slot, objs) }
    }

    /// Objects in the cache now.
    pub fn len(&self) -> u32 {
        self.slot.cache.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A user-owned object cache (DPDK's `struct rte_mempool_cache` from
/// `rte_mempool_cache_create`).
pub struct MempoolCache<'p> {
    pool: &'p RawMempool,
    core: CacheCore,
    /// The memory of `core`'s slots (a box's contents do not move with it).
    _slots: Box<[*mut u8]>,
}

impl MempoolCache<'_> {
    /// The cache's size.
    pub fn size(&self) -> u32 {
        self.core.size()
    }

    /// Objects in the cache.
    pub fn len(&self) -> u32 {
        self.core.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Gives every cached object back to the pool.
    pub fn flush(&mut self) {
        // SAFETY: `&mut self` makes us the only user.
        unsafe { self.core.flush(&self.pool.backing) };
    }
}

impl Drop for MempoolCache<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}
