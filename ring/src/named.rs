//! Named rings in EAL memzones (DPDK's `rte_ring_create`, `rte_ring_lookup`,
//! `rte_ring_free`). The ring, header and slots, is one memzone named `RG_<name>` in hugepage
//! memory; the header holds no pointer, so a later multi-process EAL can attach to it.
//!
//! ```
//! use rpdk_ring::{Mc, Ring, RingFlags, Sp};
//!
//! let _eal = rpdk_eal::init(["app", "--no-huge", "--no-shconf", "-l", "0"])?.0;
//! let ring = Ring::<u64>::create("rx_to_worker", 1024, None, RingFlags::SP_ENQ)?;
//! let tx = ring.producer::<Sp>()?;
//! // Elsewhere, by name:
//! let rx = Ring::<u64>::lookup("rx_to_worker")?.consumer::<Mc>()?;
//! tx.enqueue(42).unwrap();
//! assert_eq!(rx.dequeue(), Some(42));
//! ring.free()?; // the name goes; the memory stays until tx and rx are dropped
//! assert!(Ring::<u64>::lookup("rx_to_worker").is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

use rpdk_eal::memzone::{self, MemzoneFlags};

use crate::error::{Error, Result};
use crate::layout::{self, HEADER_ALIGN, HEADER_SIZE, Header, MAGIC, VERSION};
use crate::ring::{Ring, RingBuilder};
use crate::shared::{Backing, Shared};
use crate::sync::{RingFlags, SyncType};

/// Memzone names of rings start with this (DPDK's `RTE_RING_MZ_PREFIX`).
pub const RING_MZ_PREFIX: &str = "RG_";

/// Serialises creating (reserve, then write the header) with looking up (read the header), so
/// a lookup never sees a half-written header.
static NAMED: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    NAMED.lock().unwrap_or_else(|e| e.into_inner())
}

/// Calls `f` with the memzone and header of every named ring of the EAL, under the lock that
/// keeps headers from being half-written. A memzone named like a ring that holds none is
/// skipped.
pub(crate) fn walk<E>(
    mut f: impl FnMut(&memzone::Memzone, &Header) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let _guard = lock();
    for mz in memzone::list() {
        if !mz.name().starts_with(RING_MZ_PREFIX) || mz.len() < HEADER_SIZE {
            continue;
        }
        // SAFETY: the zone has at least HEADER_SIZE bytes of EAL memory, aligned to a cache
        // line, alive while `mz` is; ring headers are written only by `create`, under the lock
        // held here, so the fixed fields read now are settled; the rest are atomics.
        let h = unsafe { mz.addr().cast::<Header>().as_ref() };
        if h.meta.magic == MAGIC && h.meta.version == VERSION {
            f(&mz, h)?;
        }
    }
    Ok(())
}

/// Writes the state of every named ring of the EAL, as [`Ring::dump`] (DPDK's
/// `rte_ring_list_dump`).
pub fn list_dump(w: &mut dyn std::io::Write) -> std::io::Result<()> {
    walk(|_, h| h.dump(w))
}

impl RingBuilder {
    /// Creates the ring in an EAL memzone under its [`name`](RingBuilder::name), findable with
    /// [`Ring::lookup`] (DPDK's `rte_ring_create_elem`). Needs the EAL.
    pub fn create<T: Copy + Send + 'static>(&self) -> Result<Ring<T>> {
        let (init, bytes) = self.plan::<T>()?;
        let name = init.name;
        if name.is_empty() {
            return Err(Error::Invalid {
                name: String::new(),
                reason: "a named ring needs a name".into(),
            });
        }
        let mz_name = format!("{RING_MZ_PREFIX}{name}");
        let _guard = lock();
        if memzone::lookup(&mz_name).is_some() {
            return Err(Error::Exists(name.to_string()));
        }
        let align = HEADER_ALIGN.max(align_of::<T>());
        let mz =
            memzone::reserve_aligned(&mz_name, bytes, self.socket, MemzoneFlags::empty(), align)?;
        let mem = mz.addr();
        // SAFETY: the zone is fresh, at least `bytes` long (header and slots) and aligned to
        // `align`; the memzone handle in the backing keeps it alive.
        let shared = unsafe { Shared::<T>::init_at(mem, &init, Backing::Memzone(mz)) };
        log::debug!(target: "lib.ring", "ring {name}: {} slots of {} bytes in memzone {mz_name}", shared.size(), size_of::<T>());
        Ok(Ring {
            shared: Arc::new(shared),
        })
    }
}

impl<T: Copy + Send + 'static> Ring<T> {
    /// Creates a named ring of `count` slots in an EAL memzone (DPDK's `rte_ring_create`):
    /// `socket` `None` is the caller's NUMA node.
    pub fn create(
        name: &str,
        count: u32,
        socket: Option<u32>,
        flags: RingFlags,
    ) -> Result<Ring<T>> {
        RingBuilder::new(count)
            .name(name)
            .flags(flags)
            .socket(socket)
            .create()
    }

    /// Finds a named ring (DPDK's `rte_ring_lookup`). Its elements must be of type `T`.
    pub fn lookup(name: &str) -> Result<Ring<T>> {
        let _guard = lock();
        let mz = memzone::lookup(&format!("{RING_MZ_PREFIX}{name}"))
            .ok_or_else(|| Error::NotFound(name.to_string()))?;
        let mismatch = |reason: String| Error::Mismatch {
            name: name.to_string(),
            reason,
        };
        if mz.len() < HEADER_SIZE {
            return Err(mismatch(format!(
                "memzone of {} bytes is not a ring",
                mz.len()
            )));
        }
        let mem: NonNull<u8> = mz.addr();
        // SAFETY: the zone has at least HEADER_SIZE bytes of EAL memory, aligned to a cache
        // line; rings are only written by `create` under the lock we hold, so no one writes
        // the header's fixed fields now. Only plain fields are read here.
        let (magic, version, esize, ealign, hash, size, prod, cons) = unsafe {
            let h = mem.cast::<Header>().as_ref();
            (
                h.meta.magic,
                h.meta.version,
                h.meta.esize,
                h.meta.ealign,
                h.meta.type_hash,
                h.meta.size,
                h.prod.head.sync,
                h.cons.head.sync,
            )
        };
        if magic != MAGIC
            || version != VERSION
            || SyncType::from_u32(prod).is_none()
            || SyncType::from_u32(cons).is_none()
        {
            return Err(mismatch(
                "its memzone does not hold an rpdk ring (of this version)".into(),
            ));
        }
        if esize as usize != size_of::<T>()
            || ealign as usize != align_of::<T>()
            || hash != layout::fnv1a(std::any::type_name::<T>())
        {
            return Err(mismatch(format!(
                "it holds elements of another type ({esize} bytes, aligned to {ealign}) than {} ({} bytes, aligned to {})",
                std::any::type_name::<T>(),
                size_of::<T>(),
                align_of::<T>()
            )));
        }
        let need = layout::memsize(size, esize as usize).unwrap_or(usize::MAX);
        if mz.len() < need
            || !(mem.as_ptr() as usize).is_multiple_of(HEADER_ALIGN.max(align_of::<T>()))
        {
            return Err(mismatch(
                "its memzone is too small or misaligned for its slots".into(),
            ));
        }
        // SAFETY: an initialised ring header for `T` followed by its slots (checked above);
        // the memzone handle keeps the memory alive.
        let shared = unsafe { Shared::<T>::attach_at(mem, Backing::Memzone(mz)) };
        Ok(Ring {
            shared: Arc::new(shared),
        })
    }

    /// The memzone holding a named ring (`None` for a heap ring).
    pub fn memzone(&self) -> Option<&memzone::Memzone> {
        match self.shared.backing() {
            Backing::Memzone(mz) => Some(mz),
            Backing::Heap(_) | Backing::External => None,
        }
    }

    /// Removes a named ring's name (DPDK's `rte_ring_free`). Handles still open keep working;
    /// the memory goes back to the EAL when the last one is dropped.
    pub fn free(self) -> Result<()> {
        let _guard = lock();
        match self.shared.backing() {
            Backing::Memzone(mz) => Ok(mz.clone().free()?),
            Backing::Heap(_) | Backing::External => Err(Error::NotSupported {
                name: self.name().to_string(),
                reason: "not created in a memzone (a heap ring goes when its last handle does)"
                    .into(),
            }),
        }
    }
}
