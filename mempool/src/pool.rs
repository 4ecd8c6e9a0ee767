//! The pool: creation, get and put, counts, iteration, audit, dump and lifetime.

use std::collections::HashSet;
use std::fmt;
use std::io::Write;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

use rpdk_eal::memzone::{self, Memzone, MemzoneFlags};
use rpdk_eal::options::IovaMode;

use crate::backing::{Backing, Ops};
use crate::cache::{
    CACHE_MAX_SIZE, CacheCore, LcoreSlot, MempoolStats, StatsCells, flush_threshold,
};
use crate::error::{Error, Exhausted};
use crate::layout::{self, CACHE_LINE, ObjSize};

/// Longest pool name (DPDK's `RTE_MEMPOOL_NAMESIZE` less the NUL): the memzone is
/// `MP_<name>`.
pub const MEMPOOL_NAME_MAX: usize = 28;

/// Mempool flags, with DPDK's values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MempoolFlags(u32);

impl MempoolFlags {
    /// Do not spread objects over memory channels and ranks (`RTE_MEMPOOL_F_NO_SPREAD`).
    pub const NO_SPREAD: MempoolFlags = MempoolFlags(0x0001);
    /// Do not align objects on cache lines (`RTE_MEMPOOL_F_NO_CACHE_ALIGN`).
    pub const NO_CACHE_ALIGN: MempoolFlags = MempoolFlags(0x0002);
    /// Objects may straddle non-contiguous pages (`RTE_MEMPOOL_F_NO_IOVA_CONTIG`).
    pub const NO_IOVA_CONTIG: MempoolFlags = MempoolFlags(0x0020);
    /// One thread at a time puts (`RTE_MEMPOOL_F_SP_PUT`): picks a single-producer ring
    /// unless [`MempoolBuilder::ops`] chose the ops. Needs
    /// [`MempoolBuilder::create_single_thread`].
    pub const SP_PUT: MempoolFlags = MempoolFlags(0x0004);
    /// One thread at a time gets (`RTE_MEMPOOL_F_SC_GET`): picks a single-consumer ring
    /// unless [`MempoolBuilder::ops`] chose the ops. Needs
    /// [`MempoolBuilder::create_single_thread`].
    pub const SC_GET: MempoolFlags = MempoolFlags(0x0008);
    /// Objects are never given to devices (`RTE_MEMPOOL_F_NON_IO`).
    pub const NON_IO: MempoolFlags = MempoolFlags(0x0040);

    /// No flags.
    pub const fn empty() -> MempoolFlags {
        MempoolFlags(0)
    }

    /// Raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether all of `other` is set.
    pub const fn contains(self, other: MempoolFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for MempoolFlags {
    type Output = MempoolFlags;
    fn bitor(self, rhs: MempoolFlags) -> MempoolFlags {
        MempoolFlags(self.0 | rhs.0)
    }
}

/// The header before every object (DPDK's `struct rte_mempool_objhdr`).
#[repr(C)]
pub(crate) struct ObjHeader {
    pub pool: *const RawMempool,
    pub iova: u64,
    pub index: u32,
}

impl ObjHeader {
    /// The header of `obj`.
    ///
    /// # Safety
    /// `obj` is an object of a pool whose headers are `header_size` bytes.
    #[inline(always)]
    pub unsafe fn of<'a>(obj: *mut u8, header_size: usize) -> &'a ObjHeader {
        // SAFETY: the caller guarantees `obj - header_size` is this object's header, written at
        // creation and never changed.
        unsafe { &*(obj.sub(header_size) as *const ObjHeader) }
    }
}

type ObjInit<'a> = Box<dyn FnMut(&mut [u8], u32, u64) + 'a>;

/// Builds a pool (DPDK's `rte_mempool_create`).
pub struct MempoolBuilder<'a> {
    name: String,
    n: u32,
    elt_size: usize,
    cache_size: u32,
    priv_size: usize,
    socket: Option<u32>,
    flags: MempoolFlags,
    ops: Option<Ops>,
    stats: bool,
    obj_init: Option<ObjInit<'a>>,
}

impl<'a> MempoolBuilder<'a> {
    /// Per-lcore cache size (0, the default, or up to 512; at most 2/3 of the pool).
    pub fn cache_size(mut self, size: u32) -> Self {
        self.cache_size = size;
        self
    }

    /// Bytes of pool-private data (DPDK's `private_data_size`).
    pub fn private_data_size(mut self, size: usize) -> Self {
        self.priv_size = size;
        self
    }

    /// The NUMA node of the memory (default: the caller's).
    pub fn socket(mut self, socket: u32) -> Self {
        self.socket = Some(socket);
        self
    }

    /// Flags.
    pub fn flags(mut self, flags: MempoolFlags) -> Self {
        self.flags = flags;
        self
    }

    /// The backing store (DPDK's `rte_mempool_set_ops_byname`). Without it, the ring that the
    /// `SP_PUT` and `SC_GET` flags select: `ring_mp_mc` when neither is set.
    pub fn ops(mut self, ops: Ops) -> Self {
        self.ops = Some(ops);
        self
    }

    /// The ops the pool will have.
    fn resolved_ops(&self) -> Ops {
        self.ops.unwrap_or_else(|| {
            Ops::from_flags(
                self.flags.contains(MempoolFlags::SP_PUT),
                self.flags.contains(MempoolFlags::SC_GET),
            )
        })
    }

    /// Keeps per-lcore statistics (a few stores per operation).
    pub fn stats(mut self, on: bool) -> Self {
        self.stats = on;
        self
    }

    /// Called once per object at creation with its bytes, index and IOVA
    /// (DPDK's `obj_init`).
    pub fn obj_init(mut self, f: impl FnMut(&mut [u8], u32, u64) + 'a) -> Self {
        self.obj_init = Some(Box::new(f));
        self
    }

    /// Creates the pool and registers its name. Ops with a single-thread side (by
    /// [`ops`](Self::ops) or the `SP_PUT`/`SC_GET` flags) are refused: they need
    /// [`create_single_thread`](Self::create_single_thread).
    pub fn create(self) -> Result<Mempool, Error> {
        let ops = self.resolved_ops();
        if ops.is_single_thread() {
            return Err(Error::InvalidConfig {
                name: self.name,
                reason: format!(
                    "ops {ops} has a single-thread side: create the pool with the unsafe \
                     create_single_thread, or use ring_mp_mc"
                ),
            });
        }
        // SAFETY: no side of these ops is single-thread.
        unsafe { self.create_single_thread() }
    }

    /// Creates a pool whose ops may have a single-thread side (`ring_sp_sc`, `ring_sp_mc`,
    /// `ring_mp_sc`, or the `SP_PUT`/`SC_GET` flags), as DPDK's `rte_mempool_create` does.
    ///
    /// # Safety
    /// For a single-producer side, at most one thread at a time puts objects into the pool;
    /// for a single-consumer side, at most one thread at a time gets objects from it. Cache
    /// flushes and refills are puts and gets on the backing: with lcore caches, "one thread"
    /// means that only one lcore uses the pool (or that the users synchronise among
    /// themselves).
    pub unsafe fn create_single_thread(self) -> Result<Mempool, Error> {
        let mut registry = registry().lock().unwrap_or_else(|e| e.into_inner());
        if registry.iter().any(|p| p.name() == self.name) {
            return Err(Error::Exists(self.name));
        }
        let pool = RawMempool::create(self)?;
        registry.push(pool.clone());
        Ok(pool)
    }
}

/// A pool's state, shared by every [`Mempool`] handle and referenced by its objects.
pub struct RawMempool {
    name: String,
    n: u32,
    size: ObjSize,
    flags: MempoolFlags,
    ops: Ops,
    socket: u32,
    cache_size: u32,
    backing: Backing,
    /// Indexed by lcore id; empty when the pool has no cache.
    caches: Box<[LcoreSlot]>,
    stats_on: bool,
    /// Counters of threads without an lcore cache.
    shared_stats: StatsCells,
    /// Object pointers by index.
    objs: Box<[*mut u8]>,
    priv_ptr: *mut u8,
    priv_size: usize,
    /// Objects per page when laid out page by page (IOVA mode PA), and the page size.
    per_page: Option<(usize, usize)>,
    mz: Memzone,
}

// SAFETY: the raw pointers point into the pool's own memzone, which it keeps alive; shared
// state is atomic or owned per lcore (see `cache`).
unsafe impl Send for RawMempool {}
// SAFETY: as above.
unsafe impl Sync for RawMempool {}

impl RawMempool {
    fn create(b: MempoolBuilder<'_>) -> Result<Mempool, Error> {
        let invalid = |reason: String| Error::InvalidConfig {
            name: b.name.clone(),
            reason,
        };
        if b.name.is_empty() || b.name.len() > MEMPOOL_NAME_MAX {
            return Err(invalid(format!("a name has 1 to {MEMPOOL_NAME_MAX} bytes")));
        }
        if b.n == 0 {
            return Err(invalid("a pool needs at least one object".into()));
        }
        if b.elt_size == 0 {
            return Err(invalid("object size 0".into()));
        }
        if b.cache_size > CACHE_MAX_SIZE {
            return Err(invalid(format!(
                "cache size {} is above the maximum {CACHE_MAX_SIZE}",
                b.cache_size
            )));
        }
        if flush_threshold(b.cache_size) > b.n {
            return Err(invalid(format!(
                "cache size {} needs at least {} objects (1.5 x the cache), the pool has {}",
                b.cache_size,
                flush_threshold(b.cache_size),
                b.n
            )));
        }
        let spread = (!b.flags.contains(MempoolFlags::NO_SPREAD)).then(|| {
            let ranks = rpdk_eal::options()
                .and_then(|o| o.memory_ranks)
                .unwrap_or(1);
            (rpdk_eal::memory_channels() as usize, ranks as usize)
        });
        let size = layout::obj_size(
            b.elt_size,
            std::mem::size_of::<ObjHeader>(),
            !b.flags.contains(MempoolFlags::NO_CACHE_ALIGN),
            spread,
        );

        // Placement: contiguous, except that in IOVA mode PA an object must not straddle two
        // pages (they need not be physically contiguous), so objects are laid out page by page.
        let page = rpdk_eal::memory::page_size().unwrap_or(4096);
        let per_page = if rpdk_eal::memory::iova_mode() == Some(IovaMode::Pa)
            && !b.flags.contains(MempoolFlags::NO_IOVA_CONTIG)
            && !b.flags.contains(MempoolFlags::NON_IO)
        {
            let k = page / size.total_size;
            if k == 0 {
                return Err(invalid(format!(
                    "objects of {} bytes do not fit a {} kB page in IOVA mode PA: use \
                     MempoolFlags::NO_IOVA_CONTIG or --iova-mode=va",
                    size.total_size,
                    page >> 10
                )));
            }
            Some(k)
        } else {
            None
        };
        let n = b.n as usize;
        let objs_len = match per_page {
            Some(k) => n.div_ceil(k) * page,
            None => n * size.total_size,
        };
        let priv_off = objs_len.next_multiple_of(CACHE_LINE);
        let mz_len = priv_off + b.priv_size.max(1);
        let align = if per_page.is_some() { page } else { CACHE_LINE };
        let mz = memzone::reserve_aligned(
            &format!("MP_{}", b.name),
            mz_len,
            b.socket,
            MemzoneFlags::empty(),
            align,
        )
        .map_err(|source| Error::Memory {
            name: b.name.clone(),
            source,
        })?;
        let offset_of = |i: usize| match per_page {
            Some(k) => (i / k) * page + (i % k) * size.total_size,
            None => i * size.total_size,
        };

        // A slot for every lcore id up to the highest enabled one.
        let slots = rpdk_eal::lcore::list().last().map_or(0, |&l| l + 1);
        let caches: Box<[LcoreSlot]> = if b.cache_size > 0 {
            (0..slots)
                .map(|_| LcoreSlot {
                    cache: CacheCore::new(b.cache_size),
                    stats: StatsCells::default(),
                })
                .collect()
        } else {
            Box::new([])
        };
        let base = mz.as_ptr();
        let objs: Box<[*mut u8]> = (0..n)
            // SAFETY: offset_of(i) + header_size + elt_size lies within the memzone.
            .map(|i| unsafe { base.add(offset_of(i) + size.header_size) })
            .collect();
        let ops = b.resolved_ops();
        let backing = match Backing::new(ops, &objs, size.header_size) {
            Ok(backing) => backing,
            Err(e) => {
                // Nothing else holds the zone yet.
                let _ = mz.free();
                return Err(invalid(format!("ops {ops}: {e}")));
            }
        };
        let raw = Box::new(RawMempool {
            name: b.name.clone(),
            n: b.n,
            size,
            flags: b.flags,
            ops,
            socket: mz.socket_id(),
            cache_size: b.cache_size,
            backing,
            caches,
            stats_on: b.stats,
            shared_stats: StatsCells::default(),
            objs,
            // SAFETY: priv_off + priv_size is within the memzone.
            priv_ptr: unsafe { base.add(priv_off) },
            priv_size: b.priv_size,
            per_page: per_page.map(|k| (k, page)),
            mz,
        });
        let raw_ptr: *const RawMempool = &*raw;
        let mut obj_init = b.obj_init;
        for (i, &obj) in raw.objs.iter().enumerate() {
            let hdr_off = offset_of(i);
            let iova = raw.mz.iova_at(hdr_off + size.header_size).unwrap_or(0);
            // SAFETY: the header and the object lie inside the memzone, which nothing else uses
            // yet; each slot is written once here.
            unsafe {
                (base.add(hdr_off) as *mut ObjHeader).write(ObjHeader {
                    pool: raw_ptr,
                    iova,
                    index: i as u32,
                });
                std::ptr::write_bytes(obj, 0, size.elt_size);
                if let Some(f) = obj_init.as_mut() {
                    f(
                        std::slice::from_raw_parts_mut(obj, size.elt_size),
                        i as u32,
                        iova,
                    );
                }
            }
        }
        // SAFETY: the private area lies inside the memzone.
        unsafe { std::ptr::write_bytes(raw.priv_ptr, 0, raw.priv_size) };
        raw.backing.enqueue_bulk(&raw.objs);
        log::debug!(
            target: "lib.mempool",
            "mempool {}: {} objects of {} bytes ({} with header and padding), cache {}, ops {}",
            raw.name, raw.n, size.elt_size, size.total_size, raw.cache_size, raw.ops
        );
        Ok(Mempool {
            handle: Arc::new(Handle(NonNull::from(Box::leak(raw)))),
        })
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of objects.
    pub fn size(&self) -> u32 {
        self.n
    }

    /// Object size as asked.
    pub fn elt_size(&self) -> usize {
        self.size.elt_size
    }

    /// The slot layout.
    pub fn obj_size(&self) -> ObjSize {
        self.size
    }

    /// Per-lcore cache size.
    pub fn cache_size(&self) -> u32 {
        self.cache_size
    }

    /// NUMA node of the memory.
    pub fn socket_id(&self) -> u32 {
        self.socket
    }

    /// Flags.
    pub fn flags(&self) -> MempoolFlags {
        self.flags
    }

    /// The backing store.
    pub fn ops(&self) -> Ops {
        self.ops
    }

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
        let mut one = [std::ptr::null_mut(); 1];
        self.get_bulk(&mut one)?;
        Ok(NonNull::new(one[0]).expect("pool objects are not null"))
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
        // SAFETY: forwarded contract.
        unsafe { self.put_bulk(&[obj]) }
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

    /// Moves the calling lcore's cached objects back to the backing store.
    pub fn flush_lcore_cache(&self) {
        if let Some(slot) = self.slot() {
            // SAFETY: this thread is the only user of its lcore's slot.
            unsafe { slot.cache.flush(&self.backing) };
        }
    }

    /// Free objects: in the backing store and every cache (DPDK's `rte_mempool_avail_count`).
    /// Exact when the pool is idle.
    pub fn avail_count(&self) -> u32 {
        let cached: u32 = self.caches.iter().map(|s| s.cache.len()).sum();
        (self.backing.count() as u32 + cached).min(self.n)
    }

    /// Free objects in the lcore caches and in the backing store, as DPDK's telemetry counts
    /// them (`total_cache_count`, `common_pool_count`).
    pub(crate) fn counts(&self) -> (u32, u32) {
        let cached: u32 = self.caches.iter().map(|s| s.cache.len()).sum();
        let common = (self.backing.count() as u32).min(self.n.saturating_sub(cached));
        (cached, common)
    }

    /// The memzone holding the objects.
    pub(crate) fn memzone(&self) -> &Memzone {
        &self.mz
    }

    /// Objects taken and not given back (DPDK's `rte_mempool_in_use_count`).
    pub fn in_use_count(&self) -> u32 {
        self.n - self.avail_count()
    }

    /// Whether every object is free.
    pub fn is_full(&self) -> bool {
        self.avail_count() == self.n
    }

    /// Whether no object is free.
    pub fn is_empty(&self) -> bool {
        self.avail_count() == 0
    }

    /// Object `index`.
    pub fn obj(&self, index: u32) -> Option<*mut u8> {
        self.objs.get(index as usize).copied()
    }

    /// The index of `obj`, if it is one of this pool's objects (computed from its address;
    /// nothing is read).
    pub fn index_of(&self, obj: *const u8) -> Option<u32> {
        let off = (obj as usize).checked_sub(self.mz.as_ptr() as usize)?;
        let total = self.size.total_size;
        let idx = match self.per_page {
            None => {
                if off % total != self.size.header_size {
                    return None;
                }
                off / total
            }
            Some((k, page)) => {
                let (p, in_page) = (off / page, off % page);
                if in_page % total != self.size.header_size || in_page / total >= k {
                    return None;
                }
                p * k + in_page / total
            }
        };
        (idx < self.n as usize).then_some(idx as u32)
    }

    /// The IOVA of object `obj` (stored in its header at creation).
    pub fn virt2iova(&self, obj: *const u8) -> Option<u64> {
        let i = self.index_of(obj)?;
        // SAFETY: `obj` is object `i` of this pool.
        Some(unsafe { ObjHeader::of(self.objs[i as usize], self.size.header_size) }.iova)
    }

    /// Calls `f(object, index)` for every object (DPDK's `rte_mempool_obj_iter`).
    pub fn for_each_obj(&self, mut f: impl FnMut(*mut u8, u32)) {
        for (i, &o) in self.objs.iter().enumerate() {
            f(o, i as u32);
        }
    }

    /// The pool-private area (DPDK's `rte_mempool_get_priv`) and its size.
    pub fn private_data(&self) -> (*mut u8, usize) {
        (self.priv_ptr, self.priv_size)
    }

    /// Summed statistics, if the pool keeps them.
    pub fn stats(&self) -> Option<MempoolStats> {
        if !self.stats_on {
            return None;
        }
        let mut s = MempoolStats::default();
        self.shared_stats.add_to(&mut s);
        self.caches.iter().for_each(|c| c.stats.add_to(&mut s));
        Some(s)
    }

    /// Checks that every object is free, once: each is in the backing store or one cache, none
    /// is missing and none appears twice. Call it when the pool is idle (at the end of a test):
    /// it fails with a reason otherwise. It runs on the main lcore while no worker lcore runs
    /// (checked), so that reading their caches cannot race with them.
    pub fn audit(&self) -> Result<(), Error> {
        let err = |reason: String| Error::Audit {
            name: self.name.clone(),
            reason,
        };
        if rpdk_eal::is_initialized() {
            if rpdk_eal::lcore::id() != rpdk_eal::lcore::main_lcore() {
                return Err(err("audit runs on the main lcore".into()));
            }
            if let Some(w) = rpdk_eal::lcore::workers()
                .into_iter()
                .find(|&w| rpdk_eal::lcore::state(w) == Some(rpdk_eal::LcoreState::Running))
            {
                return Err(err(format!("lcore {w} is running: audit an idle pool")));
            }
        }
        let mut seen: HashSet<*mut u8> = HashSet::with_capacity(self.n as usize);
        let mut check = |o: *mut u8, place: &str| -> Result<(), Error> {
            if self.index_of(o).is_none() {
                return Err(err(format!(
                    "{o:p} in {place} is not an object of this pool"
                )));
            }
            if !seen.insert(o) {
                return Err(err(format!(
                    "object {o:p} is free twice (found again in {place})"
                )));
            }
            Ok(())
        };
        for (lcore, slot) in self.caches.iter().enumerate() {
            // SAFETY: no lcore runs (checked above) and this is the main lcore, so no thread
            // uses any cache now.
            for &o in unsafe { slot.cache.contents() } {
                check(o, &format!("the cache of lcore {lcore}"))?;
            }
        }
        let count = self.backing.count();
        let mut drained = vec![std::ptr::null_mut(); count];
        if !self.backing.dequeue_bulk(&mut drained) {
            return Err(err(
                "the pool is in use: its backing store changed during the audit".into(),
            ));
        }
        let result = drained
            .iter()
            .try_for_each(|&o| check(o, "the backing store"));
        self.backing.enqueue_bulk(&drained);
        result?;
        if seen.len() != self.n as usize {
            let missing: Vec<u32> = self
                .objs
                .iter()
                .enumerate()
                .filter(|(_, o)| !seen.contains(*o))
                .map(|(i, _)| i as u32)
                .take(8)
                .collect();
            return Err(err(format!(
                "{} of {} objects are not back (first indices: {missing:?})",
                self.n as usize - seen.len(),
                self.n
            )));
        }
        Ok(())
    }

    /// Writes a description of the pool (DPDK's `rte_mempool_dump`).
    pub fn dump(&self, w: &mut dyn Write) -> std::io::Result<()> {
        writeln!(w, "mempool <{}>@{:p}", self.name, self)?;
        writeln!(w, "  flags={:#x}", self.flags.bits())?;
        writeln!(w, "  socket_id={}", self.socket)?;
        writeln!(w, "  pool ops={}", self.ops)?;
        writeln!(w, "  size={}", self.n)?;
        writeln!(w, "  header_size={}", self.size.header_size)?;
        writeln!(w, "  elt_size={}", self.size.elt_size)?;
        writeln!(w, "  trailer_size={}", self.size.trailer_size)?;
        writeln!(w, "  total_obj_size={}", self.size.total_size)?;
        writeln!(w, "  private_data_size={}", self.priv_size)?;
        writeln!(
            w,
            "  memzone=<{}> iova={:#x}",
            self.mz.name(),
            self.mz.iova()
        )?;
        writeln!(w, "  avail_count={}", self.avail_count())?;
        writeln!(w, "  in_use_count={}", self.in_use_count())?;
        writeln!(w, "  cache_size={}", self.cache_size)?;
        for (lcore, slot) in self.caches.iter().enumerate() {
            if slot.cache.len() > 0 {
                writeln!(w, "    cache_count[{lcore}]={}", slot.cache.len())?;
            }
        }
        if let Some(s) = self.stats() {
            writeln!(w, "  stats:")?;
            writeln!(w, "    put_bulk={}", s.put_bulk)?;
            writeln!(w, "    put_objs={}", s.put_objs)?;
            writeln!(w, "    get_success_bulk={}", s.get_success_bulk)?;
            writeln!(w, "    get_success_objs={}", s.get_success_objs)?;
            writeln!(w, "    get_fail_bulk={}", s.get_fail_bulk)?;
            writeln!(w, "    get_fail_objs={}", s.get_fail_objs)?;
        }
        Ok(())
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
                name: self.name.clone(),
                reason: format!(
                    "user cache size {size} must be 1 to {CACHE_MAX_SIZE} and at most 2/3 of the pool"
                ),
            });
        }
        Ok(MempoolCache {
            pool: self,
            core: CacheCore::new(size),
        })
    }
}

impl Drop for RawMempool {
    fn drop(&mut self) {
        // Releases the memzone's name; its memory goes with the last handle (ours).
        let _ = self.mz.clone().free();
    }
}

impl fmt::Debug for RawMempool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mempool")
            .field("name", &self.name)
            .field("size", &self.n)
            .field("elt_size", &self.size.elt_size)
            .field("cache_size", &self.cache_size)
            .field("ops", &self.ops)
            .finish()
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

/// The owner of a pool's state; frees it when the last handle goes, unless objects are still
/// out (they point at it), in which case it is leaked with a warning.
struct Handle(NonNull<RawMempool>);

// SAFETY: RawMempool is Send + Sync.
unsafe impl Send for Handle {}
// SAFETY: as above.
unsafe impl Sync for Handle {}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the pointer came from Box::leak and is freed only here, once.
        let raw = unsafe { self.0.as_ref() };
        let in_use = raw.in_use_count();
        if in_use == 0 {
            // No handle is left and every object is home, so nothing can reach the pool: each
            // put's last write to pool memory is the count update we have just read.
            // SAFETY: as above; the Box is rebuilt and dropped once.
            drop(unsafe { Box::from_raw(self.0.as_ptr()) });
        } else {
            log::warn!(
                target: "lib.mempool",
                "mempool {} dropped with {in_use} objects still in use: its memory is kept",
                raw.name
            );
        }
    }
}

/// A handle to a pool (DPDK's `struct rte_mempool *`). Cloning gives another handle; the pool
/// lives while a handle or an object taken from it does.
///
/// ```
/// use rpdk_mempool::{Mempool, Ops};
///
/// let _eal = rpdk_eal::init(["t", "--no-huge", "--no-shconf", "-l", "0"]).unwrap().0;
/// let pool = Mempool::builder("doc_pool", 1024, 64).cache_size(32).ops(Ops::LfStack).create()?;
/// let mut objs = [std::ptr::null_mut(); 8];
/// pool.get_bulk(&mut objs)?;
/// assert_eq!(pool.in_use_count(), 8);
/// // SAFETY: the objects came from this pool and are no longer used.
/// unsafe { pool.put_bulk(&objs) };
/// pool.audit()?;
/// pool.free();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Mempool {
    handle: Arc<Handle>,
}

impl Deref for Mempool {
    type Target = RawMempool;
    fn deref(&self) -> &RawMempool {
        // SAFETY: the handle keeps the pool alive.
        unsafe { self.handle.0.as_ref() }
    }
}

impl fmt::Debug for Mempool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

fn registry() -> &'static Mutex<Vec<Mempool>> {
    static REGISTRY: Mutex<Vec<Mempool>> = Mutex::new(Vec::new());
    &REGISTRY
}

impl Mempool {
    /// Starts building a pool of `n` objects of `elt_size` bytes named `name`.
    pub fn builder<'a>(name: &str, n: u32, elt_size: usize) -> MempoolBuilder<'a> {
        MempoolBuilder {
            name: name.to_string(),
            n,
            elt_size,
            cache_size: 0,
            priv_size: 0,
            socket: None,
            flags: MempoolFlags::empty(),
            ops: None,
            stats: false,
            obj_init: None,
        }
    }

    /// Finds a pool by name (DPDK's `rte_mempool_lookup`).
    pub fn lookup(name: &str) -> Option<Mempool> {
        registry()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|p| p.name() == name)
            .cloned()
    }

    /// Every registered pool (DPDK's `rte_mempool_walk`).
    pub fn list() -> Vec<Mempool> {
        registry().lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Unregisters the pool's name (DPDK's `rte_mempool_free`); its memory goes when the last
    /// handle does and every object is back.
    pub fn free(self) {
        registry()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|p| !Arc::ptr_eq(&p.handle, &self.handle));
    }

    /// The pool state, for objects that must find their pool again (an mbuf's `pool` field).
    pub fn as_raw(&self) -> *const RawMempool {
        self.handle.0.as_ptr()
    }

    /// Takes an object as an owned handle that returns it when dropped.
    pub fn alloc(&self) -> Result<PoolObj<'_>, Exhausted> {
        let ptr = self.get()?;
        Ok(PoolObj { pool: self, ptr })
    }
}

/// An object taken from a pool, given back when dropped.
pub struct PoolObj<'p> {
    pool: &'p Mempool,
    ptr: NonNull<u8>,
}

impl PoolObj<'_> {
    /// The object's address.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Its IOVA.
    pub fn iova(&self) -> u64 {
        self.pool.virt2iova(self.ptr.as_ptr()).unwrap_or(0)
    }
}

impl Deref for PoolObj<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: we own the object, which has elt_size bytes.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.pool.elt_size()) }
    }
}

impl DerefMut for PoolObj<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: we own the object exclusively.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.pool.elt_size()) }
    }
}

impl Drop for PoolObj<'_> {
    fn drop(&mut self) {
        // SAFETY: the object came from this pool and is given back once.
        unsafe { self.pool.put(self.ptr.as_ptr()) };
    }
}
