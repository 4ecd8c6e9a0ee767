//! Named memzones: blocks of EAL memory found by name (DPDK's `rte_memzone`).
//!
//! ```no_run
//! use rpdk_eal::memzone::{self, MemzoneFlags};
//!
//! let _eal = rpdk_eal::init(["app", "--no-huge", "-l", "0"]).unwrap().0;
//! let mz = memzone::reserve("my_table", 1 << 20, None, MemzoneFlags::empty()).unwrap();
//! assert_eq!(memzone::lookup("my_table").unwrap().as_ptr(), mz.as_ptr());
//! mz.free().unwrap();
//! assert!(memzone::lookup("my_table").is_none());
//! ```
//!
//! A [`Memzone`] is a counted handle. [`Memzone::free`] removes the name at once; the memory goes
//! back to its heap when the last handle is dropped, so a handle never points at freed memory
//! (in DPDK, using a zone after `rte_memzone_free` is undefined behaviour).

use std::fmt;
use std::io::Write;
use std::ops::BitOr;
use std::ptr::NonNull;
use std::sync::Arc;

use super::{CACHE_LINE_SIZE, Memory};
use crate::error::{Error, Result};
use crate::options::IovaMode;

/// Longest memzone name, in bytes (DPDK's `RTE_MEMZONE_NAMESIZE` less the NUL).
pub const MEMZONE_NAME_MAX: usize = 31;

/// Most memzones that can exist at once (DPDK's `RTE_MAX_MEMZONE`).
pub const MAX_MEMZONE: usize = 2560;

/// Memzone flags, with DPDK's values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MemzoneFlags(u32);

impl MemzoneFlags {
    /// Use 2 MiB pages (`RTE_MEMZONE_2MB`).
    pub const PAGE_2MB: MemzoneFlags = MemzoneFlags(0x0000_0001);
    /// Use 1 GiB pages (`RTE_MEMZONE_1GB`).
    pub const PAGE_1GB: MemzoneFlags = MemzoneFlags(0x0000_0002);
    /// The page size flags are a preference, not a requirement (`RTE_MEMZONE_SIZE_HINT_ONLY`).
    pub const SIZE_HINT_ONLY: MemzoneFlags = MemzoneFlags(0x0000_0004);
    /// The zone must be contiguous in IOVA space (`RTE_MEMZONE_IOVA_CONTIG`).
    pub const IOVA_CONTIG: MemzoneFlags = MemzoneFlags(0x0010_0000);

    /// No flags.
    pub const fn empty() -> MemzoneFlags {
        MemzoneFlags(0)
    }

    /// Flags from raw bits.
    pub const fn from_bits(bits: u32) -> MemzoneFlags {
        MemzoneFlags(bits)
    }

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: MemzoneFlags) -> bool {
        self.0 & other.0 == other.0
    }

    fn page_size(self) -> Option<usize> {
        if self.contains(Self::PAGE_1GB) {
            Some(1 << 30)
        } else if self.contains(Self::PAGE_2MB) {
            Some(2 << 20)
        } else {
            None
        }
    }
}

impl BitOr for MemzoneFlags {
    type Output = MemzoneFlags;
    fn bitor(self, rhs: MemzoneFlags) -> MemzoneFlags {
        MemzoneFlags(self.0 | rhs.0)
    }
}

struct Zone {
    name: String,
    addr: NonNull<u8>,
    iova: u64,
    len: usize,
    socket: u32,
    flags: MemzoneFlags,
    /// Where the block is in its heap, for the primary that owns it; `None` for a secondary's
    /// view of the primary's zone, which frees nothing when dropped.
    offset: Option<usize>,
    memory: Arc<Memory>,
}

// SAFETY: a Zone only records where its block is; the block itself is EAL memory that lives as
// long as the Zone (it holds the Memory), and access to the bytes goes through raw pointers whose
// synchronisation is the user's business, as in DPDK.
unsafe impl Send for Zone {}
// SAFETY: see Send; a Zone's fields are immutable.
unsafe impl Sync for Zone {}

impl Drop for Zone {
    fn drop(&mut self) {
        if let Some(offset) = self.offset {
            self.memory.free(self.socket, offset, self.len);
        }
    }
}

/// A handle to a named block of EAL memory. Cloning it gives another handle to the same zone.
#[derive(Clone)]
pub struct Memzone(Arc<Zone>);

impl Memzone {
    /// The zone's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The start of the zone.
    pub fn addr(&self) -> NonNull<u8> {
        self.0.addr
    }

    /// The start of the zone as a raw pointer. Reading and writing through it is `unsafe`;
    /// the pointer is valid for [`len`](Self::len) bytes while any handle to the zone lives.
    pub fn as_ptr(&self) -> *mut u8 {
        self.0.addr.as_ptr()
    }

    /// Its length in bytes (the length asked for, rounded up to a cache line, as DPDK).
    pub fn len(&self) -> usize {
        self.0.len
    }

    /// Always false: zones have at least one cache line.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The IOVA of its start.
    pub fn iova(&self) -> u64 {
        self.0.iova
    }

    /// The IOVA of the byte at `offset` (which must be inside the zone).
    pub fn iova_at(&self, offset: usize) -> Option<u64> {
        if offset >= self.0.len {
            return None;
        }
        self.0.memory.iova(self.0.addr.as_ptr() as usize + offset)
    }

    /// The NUMA node of its memory.
    pub fn socket_id(&self) -> u32 {
        self.0.socket
    }

    /// The page size under it.
    pub fn hugepage_size(&self) -> usize {
        self.0.memory.page_size()
    }

    /// The flags it was reserved with.
    pub fn flags(&self) -> MemzoneFlags {
        self.0.flags
    }

    /// Removes the zone's name (DPDK's `rte_memzone_free`). Its memory returns to the heap
    /// when the last handle is dropped; in a secondary, the primary frees it (the memory stays
    /// mapped here, but the primary may hand it out again).
    pub fn free(self) -> Result<()> {
        let state = crate::state::get()?;
        if state.memory.attached_config().is_some() {
            return super::secondary::free(&self.0.name, self.0.addr.as_ptr() as usize);
        }
        let mut zones = state.zones.lock().unwrap_or_else(|e| e.into_inner());
        let pos = zones
            .iter()
            .position(|z| Arc::ptr_eq(&z.0, &self.0))
            .ok_or_else(|| Error::Memzone {
                name: self.0.name.clone(),
                reason: "already freed".into(),
            })?;
        zones.remove(pos);
        if let Some(shared) = &state.shared {
            shared.remove_zone(self.0.addr.as_ptr() as usize);
        }
        Ok(())
    }

    /// A secondary's handle to a zone of the primary's table, mapped here.
    pub(crate) fn attached(info: &super::shared::ZoneInfo, memory: Arc<Memory>) -> Memzone {
        Memzone(Arc::new(Zone {
            name: info.name.clone(),
            addr: NonNull::new(info.addr as *mut u8).expect("zones are not at 0"),
            iova: info.iova,
            len: info.len,
            socket: info.socket,
            flags: MemzoneFlags(info.flags),
            offset: None,
            memory,
        }))
    }
}

impl fmt::Debug for Memzone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memzone")
            .field("name", &self.0.name)
            .field("addr", &self.0.addr)
            .field("iova", &format_args!("{:#x}", self.0.iova))
            .field("len", &self.0.len)
            .field("socket", &self.0.socket)
            .finish()
    }
}

/// Reserves a zone of `len` bytes aligned to a cache line (DPDK's `rte_memzone_reserve`).
/// `socket` `None` means the NUMA node of the calling lcore (or of the main lcore).
pub fn reserve(
    name: &str,
    len: usize,
    socket: Option<u32>,
    flags: MemzoneFlags,
) -> Result<Memzone> {
    reserve_bounded(name, len, socket, flags, CACHE_LINE_SIZE, 0)
}

/// Reserves a zone aligned to `align`, a power of two.
pub fn reserve_aligned(
    name: &str,
    len: usize,
    socket: Option<u32>,
    flags: MemzoneFlags,
    align: usize,
) -> Result<Memzone> {
    reserve_bounded(name, len, socket, flags, align, 0)
}

/// Reserves a zone aligned to `align` that does not cross a multiple of `bound` (0: no bound;
/// otherwise a power of two at least `len`).
pub fn reserve_bounded(
    name: &str,
    len: usize,
    socket: Option<u32>,
    flags: MemzoneFlags,
    align: usize,
    bound: usize,
) -> Result<Memzone> {
    let err = |reason: String| Error::Memzone {
        name: name.to_string(),
        reason,
    };
    if name.is_empty() || name.len() > MEMZONE_NAME_MAX {
        return Err(err(format!("a name has 1 to {MEMZONE_NAME_MAX} bytes")));
    }
    if len == 0 {
        return Err(err("length 0".into()));
    }
    if !align.is_power_of_two() {
        return Err(err(format!("alignment {align} is not a power of two")));
    }
    if align > super::region::BASE_ALIGN {
        return Err(err(format!(
            "alignment {align} is above the largest supported ({})",
            super::region::BASE_ALIGN
        )));
    }
    let len = len
        .checked_next_multiple_of(CACHE_LINE_SIZE)
        .ok_or_else(|| err(format!("length {len} is too large")))?;
    if bound != 0 && (!bound.is_power_of_two() || bound < len) {
        return Err(err(format!(
            "bound {bound} must be a power of two no smaller than the length {len}"
        )));
    }
    let align = align.max(CACHE_LINE_SIZE);
    let state = crate::state::get()?;
    if state.memory.attached_config().is_some() {
        super::secondary::reserve(name, len, socket, flags, align, bound)?;
        return lookup(name).ok_or_else(|| err("the primary reserved it, but it is gone".into()));
    }
    let memory = state.memory.clone();
    let page_size = memory.page_size();
    if let Some(want) = flags.page_size()
        && want != page_size
        && !flags.contains(MemzoneFlags::SIZE_HINT_ONLY)
    {
        return Err(err(format!(
            "{} kB pages asked for, but EAL memory uses {} kB pages",
            want >> 10,
            page_size >> 10
        )));
    }
    let socket = match socket {
        Some(s) if state.sockets.contains(&s) => s,
        Some(s) => {
            return Err(err(format!(
                "socket {s} does not exist (sockets: {:?})",
                state.sockets
            )));
        }
        None => crate::lcore::socket_id().unwrap_or(state.main_socket),
    };
    let contig_needed =
        flags.contains(MemzoneFlags::IOVA_CONTIG) && memory.iova_mode() == IovaMode::Pa;
    // A zone within one page is IOVA-contiguous by construction.
    let bound = if contig_needed && len <= page_size && (bound == 0 || bound > page_size) {
        page_size
    } else {
        bound
    };

    let mut zones = state.zones.lock().unwrap_or_else(|e| e.into_inner());
    if zones.iter().any(|z| z.name() == name) {
        return Err(err("a memzone of this name already exists".into()));
    }
    if zones.len() >= MAX_MEMZONE {
        return Err(err(format!("too many memzones (at most {MAX_MEMZONE})")));
    }
    let (addr, offset) = memory
        .alloc(socket, len, align, bound)
        .map_err(|e| err(e.to_string()))?;
    if contig_needed && len > page_size && !memory.iova_contiguous(socket, offset, len) {
        memory.free(socket, offset, len);
        return Err(err(format!(
            "no IOVA-contiguous block of {len} bytes: in IOVA mode PA, hugepages are not \
             physically contiguous; use --iova-mode=va or a smaller zone"
        )));
    }
    let zone = Memzone(Arc::new(Zone {
        name: name.to_string(),
        addr: NonNull::new(addr as *mut u8).expect("heap addresses are not null"),
        iova: memory.iova(addr).unwrap_or(addr as u64),
        len,
        socket,
        flags,
        offset: Some(offset),
        memory,
    }));
    if let Some(shared) = &state.shared {
        let published = shared.add_zone(&super::shared::ZoneInfo {
            order: 0,
            name: name.to_string(),
            socket,
            flags: flags.bits(),
            addr,
            iova: zone.iova(),
            len,
        });
        if !published {
            return Err(err("the shared memzone table is full".into()));
        }
    }
    zones.push(zone.clone());
    log::debug!(target: "lib.eal", "memzone {name}: {len:#x} bytes at {addr:#x}, socket {socket}");
    Ok(zone)
}

/// Finds a zone by name (DPDK's `rte_memzone_lookup`).
pub fn lookup(name: &str) -> Option<Memzone> {
    let state = crate::state::get().ok()?;
    if state.memory.attached_config().is_some() {
        return super::secondary::lookup(&state.memory, name);
    }
    let zones = state.zones.lock().unwrap_or_else(|e| e.into_inner());
    zones.iter().find(|z| z.name() == name).cloned()
}

/// Every zone, in reservation order (DPDK's `rte_memzone_walk`).
pub fn list() -> Vec<Memzone> {
    match crate::state::get() {
        Ok(state) if state.memory.attached_config().is_some() => {
            super::secondary::list(&state.memory)
        }
        Ok(state) => state
            .zones
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone(),
        Err(_) => Vec::new(),
    }
}

/// Writes every zone (DPDK's `rte_memzone_dump`).
pub fn dump(w: &mut dyn Write) -> Result<()> {
    let page_size = super::page_size().ok_or(Error::NotInitialized)?;
    let io = |e| Error::io("writing the memzone dump", e);
    for (i, z) in list().iter().enumerate() {
        writeln!(
            w,
            "Zone {i}: name:<{}>, len:{:#x}, virt:{:p}, socket_id:{}, flags:{:#x}",
            z.name(),
            z.len(),
            z.as_ptr(),
            z.socket_id(),
            z.flags().bits()
        )
        .map_err(io)?;
        writeln!(w, "physical segments used:").map_err(io)?;
        let start = z.as_ptr() as usize;
        let mut at = start;
        while at < start + z.len() {
            let seg_end = ((at / page_size) + 1) * page_size;
            let seg_len = seg_end.min(start + z.len()) - at;
            writeln!(
                w,
                "  addr: {at:#x}, iova: {:#x}, len: {seg_len:#x}, pagesz: {page_size:#x}",
                z.iova_at(at - start).unwrap_or(0)
            )
            .map_err(io)?;
            at += seg_len;
        }
    }
    Ok(())
}
