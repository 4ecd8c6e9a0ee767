//! Pool flags, the builder and creation: object layout, the memzone, the backing store, the
//! per-lcore caches and the object headers.

use std::sync::Arc;

use rpdk_eal::memzone::{self, MemzoneFlags};
use rpdk_eal::options::IovaMode;

use crate::backing::{Backing, Ops};
use crate::cache::{CACHE_MAX_SIZE, CacheCore, LcoreSlot, StatsCells, flush_threshold};
use crate::error::Error;
use crate::layout::{self, CACHE_LINE};
use crate::placed::{Carver, ShSlice};

use super::handle::{Handle, registry};
use super::{Mempool, ObjHeader, RawMempool};

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
type ObjInit<'a> = Box<dyn FnMut(&mut [u8], u32, u64) + 'a>;

/// Builds a pool (DPDK's `rte_mempool_create`).
pub struct MempoolBuilder<'a> {
    pub(super) name: String,
    pub(super) n: u32,
    pub(super) elt_size: usize,
    pub(super) cache_size: u32,
    pub(super) priv_size: usize,
    pub(super) socket: Option<u32>,
    pub(super) flags: MempoolFlags,
    pub(super) ops: Option<Ops>,
    pub(super) stats: bool,
    pub(super) obj_init: Option<ObjInit<'a>>,
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
        if registry.iter().any(|p| p.name() == self.name)
            || memzone::lookup(&format!("MP_{}", self.name)).is_some()
        {
            return Err(Error::Exists(self.name));
        }
        let pool = RawMempool::create(self)?;
        registry.push(pool.clone());
        Ok(pool)
    }
}
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
        let align = if per_page.is_some() { page } else { CACHE_LINE };
        // The pool's state first, then the object slots, the private area, and what the state
        // points at: the object array, the lcore caches and the backing store.
        let obj_off = size_of::<RawMempool>().next_multiple_of(align);
        let objs_len = match per_page {
            Some(k) => n.div_ceil(k) * page,
            None => n * size.total_size,
        };
        let priv_off = (obj_off + objs_len).next_multiple_of(CACHE_LINE);
        let tail_off = priv_off + b.priv_size.max(1);
        let offset_of = |i: usize| {
            obj_off
                + match per_page {
                    Some(k) => (i / k) * page + (i % k) * size.total_size,
                    None => i * size.total_size,
                }
        };
        // A slot for every lcore id up to the highest with a thread, service lcores included;
        // for every possible lcore id when secondaries may use the pool with lcores of theirs.
        let slots = if b.cache_size == 0 {
            0
        } else if rpdk_eal::options().is_some_and(|o| !o.no_shconf && !o.in_memory) {
            rpdk_eal::lcore::MAX_LCORE
        } else {
            rpdk_eal::lcore::all().last().map_or(0, |&l| l + 1)
        } as usize;
        let ops = b.resolved_ops();
        let mut measure = Carver::measure(tail_off);
        carve_tail(
            &mut measure,
            ops,
            n,
            slots,
            b.cache_size,
            size.header_size,
            |_| std::ptr::null_mut(),
        )
        .map_err(|e| invalid(format!("ops {ops}: {e}")))?;
        let mz = memzone::reserve_aligned(
            &format!("MP_{}", b.name),
            measure.offset(),
            b.socket,
            MemzoneFlags::empty(),
            align,
        )
        .map_err(|source| Error::Memory {
            name: b.name.clone(),
            source,
        })?;
        let base = mz.addr();
        // SAFETY: the memzone has the bytes the measuring carver counted, and is ours alone.
        let mut carver = unsafe { Carver::new(base, tail_off) };
        let tail = carve_tail(
            &mut carver,
            ops,
            n,
            slots,
            b.cache_size,
            size.header_size,
            |i| {
                // SAFETY: offset_of(i) + header_size + elt_size lies within the memzone.
                unsafe { base.as_ptr().add(offset_of(i) + size.header_size) }
            },
        );
        let (objs, caches, backing) = match tail {
            Ok(Some(t)) => t,
            Ok(None) => unreachable!("a carver over memory builds"),
            Err(e) => {
                // Nothing else holds the zone yet.
                let _ = mz.free();
                return Err(invalid(format!("ops {ops}: {e}")));
            }
        };
        let mut name = [0u8; 32];
        name[..b.name.len()].copy_from_slice(b.name.as_bytes());
        let raw_ptr = base.cast::<RawMempool>();
        // SAFETY: the memzone starts with room for the state (obj_off >= its size), aligned to
        // a cache line; nothing else uses the memory yet.
        unsafe {
            raw_ptr.as_ptr().write(RawMempool {
                magic: super::POOL_MAGIC,
                layout_size: size_of::<RawMempool>() as u64,
                name,
                name_len: b.name.len(),
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
                priv_ptr: base.as_ptr().add(priv_off),
                priv_size: b.priv_size,
                per_page: per_page.map(|k| (k, page)),
                obj_base: base.as_ptr().add(obj_off),
                mz_base: base.as_ptr(),
                mz_len: mz.len(),
                mz_iova: mz.iova(),
            })
        };
        // SAFETY: just written.
        let raw = unsafe { raw_ptr.as_ref() };
        let mut obj_init = b.obj_init;
        for (i, &obj) in raw.objs.iter().enumerate() {
            let hdr_off = offset_of(i);
            let iova = mz.iova_at(hdr_off + size.header_size).unwrap_or(0);
            // SAFETY: the header and the object lie inside the memzone, which nothing else uses
            // yet; each slot is written once here.
            unsafe {
                (base.as_ptr().add(hdr_off) as *mut ObjHeader).write(ObjHeader {
                    pool: raw_ptr.as_ptr(),
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
            raw.name(), raw.n, size.elt_size, size.total_size, raw.cache_size, raw.ops
        );
        Ok(Mempool {
            handle: Arc::new(Handle {
                raw: raw_ptr,
                mz,
                owner: true,
            }),
        })
    }
}

/// What the pool's state points at, carved in this order by both the measuring and the real
/// pass: the object array (object `i` at `obj(i)`), the lcore caches and the backing store.
type Tail = (ShSlice<*mut u8>, ShSlice<LcoreSlot>, Backing);

fn carve_tail(
    c: &mut Carver,
    ops: Ops,
    n: usize,
    slots: usize,
    cache_size: u32,
    header_size: usize,
    obj: impl FnMut(usize) -> *mut u8,
) -> Result<Option<Tail>, String> {
    let objs = c.slice_with(n, obj);
    let cache_slots: Vec<ShSlice<*mut u8>> = (0..slots)
        .map(|_| c.slice_with(CacheCore::capacity(cache_size), |_| std::ptr::null_mut()))
        .collect();
    let caches = c.slice_with(slots, |i| LcoreSlot {
        cache: CacheCore::new(cache_size, cache_slots[i]),
        stats: StatsCells::default(),
    });
    let backing = Backing::carve(ops, objs, header_size, c)?;
    Ok(backing.map(|b| (objs, caches, b)))
}
