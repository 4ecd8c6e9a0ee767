//! [`Mempool`], the reference-counted handle to a pool with the process's registry of named
//! pools, and [`PoolObj`], an object that goes back to its pool when dropped.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

use rpdk_eal::memzone::{self, Memzone};

use crate::error::Exhausted;

use super::{MempoolBuilder, MempoolFlags, RawMempool};

/// A process's hold on a pool: its state in the memzone and the memzone handle. The process
/// that made the pool owns it: when its last handle goes (after [`Mempool::free`]), the pool's
/// memzone is freed, unless objects are still out (they point at it), in which case it is kept
/// with a warning. A handle found by name in another process owns nothing.
pub(super) struct Handle {
    pub(super) raw: NonNull<RawMempool>,
    pub(super) mz: Memzone,
    pub(super) owner: bool,
}

// SAFETY: RawMempool is Send + Sync.
unsafe impl Send for Handle {}
// SAFETY: as above.
unsafe impl Sync for Handle {}

impl Drop for Handle {
    fn drop(&mut self) {
        if !self.owner {
            return;
        }
        // SAFETY: the memzone (which `mz` keeps) holds the state.
        let raw = unsafe { self.raw.as_ref() };
        let in_use = raw.in_use_count();
        if in_use == 0 {
            // No handle is left and every object is home, so nothing of this process can
            // reach the pool: each put's last write to pool memory is the count update we have
            // just read.
            // SAFETY: the state was written once at creation and is dropped once, here.
            unsafe { std::ptr::drop_in_place(self.raw.as_ptr()) };
            let _ = self.mz.clone().free();
        } else {
            log::warn!(
                target: "lib.mempool",
                "mempool {} dropped with {in_use} objects still in use: its memory is kept",
                raw.name()
            );
            std::mem::forget(self.mz.clone());
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
    pub(super) handle: Arc<Handle>,
}

impl Deref for Mempool {
    type Target = RawMempool;
    fn deref(&self) -> &RawMempool {
        // SAFETY: the handle keeps the pool's memzone, and so its state, alive.
        unsafe { self.handle.raw.as_ref() }
    }
}

impl fmt::Debug for Mempool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

pub(super) fn registry() -> &'static Mutex<Vec<Mempool>> {
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

    /// Finds a pool by name (DPDK's `rte_mempool_lookup`): one this process made, or one of
    /// another process of the file prefix (the primary's, in a secondary), found by its
    /// memzone.
    pub fn lookup(name: &str) -> Option<Mempool> {
        let own = registry()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|p| p.name() == name)
            .cloned();
        own.or_else(|| memzone::lookup(&format!("MP_{name}")).and_then(Self::attach))
    }

    /// Every pool (DPDK's `rte_mempool_walk`): this process's and the others' of the prefix.
    pub fn list() -> Vec<Mempool> {
        let mut out = registry().lock().unwrap_or_else(|e| e.into_inner()).clone();
        for mz in memzone::list() {
            if let Some(name) = mz.name().strip_prefix("MP_")
                && !out.iter().any(|p| p.name() == name)
                && let Some(p) = Self::attach(mz)
            {
                out.push(p);
            }
        }
        out
    }

    /// A handle to the pool whose state begins memzone `mz`, if it holds one made by this
    /// rpdk.
    fn attach(mz: Memzone) -> Option<Mempool> {
        if mz.len() < size_of::<RawMempool>() {
            return None;
        }
        let raw = mz.addr().cast::<RawMempool>();
        // SAFETY: the zone has room for the state; its first two words are plain integers,
        // written before the zone's name was visible to lookups.
        let (magic, layout) = unsafe {
            let r = raw.as_ptr();
            (
                std::ptr::addr_of!((*r).magic).read(),
                std::ptr::addr_of!((*r).layout_size).read(),
            )
        };
        (magic == super::POOL_MAGIC && layout == size_of::<RawMempool>() as u64).then(|| Mempool {
            handle: Arc::new(Handle {
                raw,
                mz,
                owner: false,
            }),
        })
    }

    /// The memzone holding the pool.
    pub(crate) fn memzone(&self) -> &Memzone {
        &self.handle.mz
    }

    /// Unregisters the pool's name (DPDK's `rte_mempool_free`); its memory goes when the last
    /// handle does and every object is back.
    pub fn free(self) {
        registry()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|p| !Arc::ptr_eq(&p.handle, &self.handle));
        // The name goes now, in every process; the memory when the last handle does.
        if self.handle.owner {
            let _ = self.handle.mz.clone().free();
        }
    }

    /// The pool state, for objects that must find their pool again (an mbuf's `pool` field).
    pub fn as_raw(&self) -> *const RawMempool {
        self.handle.raw.as_ptr()
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
