//! The pool, split by concern:
//!
//! - this file: [`RawMempool`], the state every handle and object points at, its properties
//!   and counts, and each object's header;
//! - `builder.rs`: flags, [`MempoolBuilder`] and creation (layout, memzone, backing, caches);
//! - `getput.rs`: get and put, through the lcore's cache, a user cache or the backing store;
//! - `inspect.rs`: objects by index, IOVAs, stats, audit and dump;
//! - `handle.rs`: [`Mempool`], the named, reference-counted handle, and [`PoolObj`].

mod builder;
mod getput;
mod handle;
mod inspect;

use std::fmt;

use crate::backing::{Backing, Ops};
use crate::cache::{LcoreSlot, StatsCells};
use crate::layout::ObjSize;
use crate::placed::ShSlice;

pub use builder::{MEMPOOL_NAME_MAX, MempoolBuilder, MempoolFlags};
pub use getput::{LcoreCache, MempoolCache};
pub use handle::{Mempool, PoolObj};

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
/// `rpdkmpl` and a version: what a pool's memzone starts with.
pub(crate) const POOL_MAGIC: u64 = 0x7270_646b_6d70_6c01;

/// A pool's state, shared by every [`Mempool`] handle and referenced by its objects.
///
/// It lives at the start of the pool's memzone, and everything it points at (object array,
/// caches, backing store) lies in the memzone too, at the same address in every process that
/// maps it: a secondary process uses the primary's pools (and the primary a secondary's) with
/// no translation. The ops are an enum matched at each call, not a function pointer.
#[repr(C)]
pub struct RawMempool {
    magic: u64,
    /// `size_of::<RawMempool>()` in the process that made it, checked by a lookup.
    layout_size: u64,
    name: [u8; 32],
    name_len: usize,
    n: u32,
    size: ObjSize,
    flags: MempoolFlags,
    ops: Ops,
    socket: u32,
    cache_size: u32,
    backing: Backing,
    /// Indexed by lcore id; empty when the pool has no cache.
    caches: ShSlice<LcoreSlot>,
    stats_on: bool,
    /// Counters of threads without an lcore cache.
    shared_stats: StatsCells,
    /// Object pointers by index.
    objs: ShSlice<*mut u8>,
    priv_ptr: *mut u8,
    priv_size: usize,
    /// Objects per page when laid out page by page (IOVA mode PA), and the page size.
    per_page: Option<(usize, usize)>,
    /// Where the first object slot starts.
    obj_base: *mut u8,
    /// The memzone's start, length and IOVA.
    mz_base: *mut u8,
    mz_len: usize,
    mz_iova: u64,
}

// SAFETY: the raw pointers point into the pool's own memzone, which it keeps alive; shared
// state is atomic or owned per lcore (see `cache`).
unsafe impl Send for RawMempool {}
// SAFETY: as above.
unsafe impl Sync for RawMempool {}
impl RawMempool {
    /// The pool's name.
    pub fn name(&self) -> &str {
        std::str::from_utf8(&self.name[..self.name_len]).unwrap_or("?")
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

    /// Free objects: in the backing store and every cache (DPDK's `rte_mempool_avail_count`).
    /// Exact when the pool is idle.
    pub fn avail_count(&self) -> u32 {
        let cached: u32 = self.caches.iter().map(|s| s.cache.len()).sum();
        (self.backing.count() as u32 + cached).min(self.n)
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
}

impl fmt::Debug for RawMempool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mempool")
            .field("name", &self.name())
            .field("size", &self.n)
            .field("elt_size", &self.size.elt_size)
            .field("cache_size", &self.cache_size)
            .field("ops", &self.ops)
            .finish()
    }
}
