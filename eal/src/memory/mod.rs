//! Memory: hugepage heaps per NUMA node, named memzones carved from them, and IOVAs.
//!
//! Each NUMA node gets a heap: a large reservation of address space whose start is backed by
//! pages as memzones need them, so every heap is virtually contiguous. Pages come from
//!
//! - one file per node on hugetlbfs, `<huge-dir>/<file-prefix>map_<node>` (the default; the file
//!   is locked while in use, stale files of dead instances are removed at start, ours at exit);
//! - anonymous `MAP_HUGETLB` memory with `--in-memory` (no files at all);
//! - anonymous 4 KiB pages with `--no-huge` (a warning says it is slow).
//!
//! `-m`/`--socket-mem` map memory at start that stays mapped; beyond it, heaps grow as needed and
//! give whole free pages at their end back when memzones are freed, up to the `--pagesz-mem`
//! limit of the page size in use. With `--legacy-mem` heaps never grow past what was mapped at
//! start. `--base-virtaddr` asks for the first heap at an address, the next ones after it.
//!
//! In IOVA mode PA, the physical address of every page is read from `/proc/self/pagemap` when it
//! is mapped; in VA mode the IOVA is the virtual address.

mod freelist;
mod heap;
pub mod hugetlbfs;
mod iova;
pub mod memzone;
mod region;
pub(crate) mod secondary;
pub(crate) mod shared;
pub mod vfio;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub use heap::HeapStats;
pub use iova::{Pagemap, phys_addrs_available};

use crate::error::{Error, Result};
use crate::options::{HugeUnlink, IovaMode};
use heap::{Cap, Heap};
use region::{Backing, Region};
use shared::{HeapInfo, SharedConfig};

/// Where heaps go without `--base-virtaddr`: 16 TiB, far below where Linux places shared
/// libraries, thread stacks and other mappings (just under 128 TiB) and above the executable
/// and its brk heap, so that a secondary finds the primary's heap range free in its own
/// address space (see `docs/multi-process.md`).
pub const DEFAULT_BASE_VIRTADDR: usize = 0x1000_0000_0000;

/// Address space each heap reserves: the most memory one NUMA node can hand out.
pub const HEAP_VA_RESERVE: usize = 64 << 30;

/// The cache line size memzones are aligned to.
pub const CACHE_LINE_SIZE: usize = 64;

/// Where pages come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PageKind {
    /// A file per heap in this hugetlbfs directory.
    HugeFile(PathBuf),
    /// Anonymous hugepages.
    HugeAnon,
    /// Anonymous 4 KiB pages.
    Small,
}

/// How the memory subsystem is set up.
#[derive(Clone, Debug)]
pub(crate) struct MemoryConfig {
    pub kind: PageKind,
    pub page_size: usize,
    pub iova_mode: IovaMode,
    pub prefix: String,
    pub unlink: HugeUnlink,
    /// Bind pages to their node (only worth a syscall on multi-node machines).
    pub numa: bool,
    /// `--legacy-mem`: heaps keep what they mapped at start and never grow.
    pub fixed: bool,
    /// The most bytes mapped over all heaps, and the flag that says so (`--pagesz-mem`).
    pub limit: Option<(usize, String)>,
    /// `--base-virtaddr`: where the first heap should go.
    pub base_hint: Option<usize>,
    /// `--numa-limit`: the most bytes each node's heap maps (0: no limit), and the flag.
    pub node_limits: (Vec<usize>, String),
    /// The configuration shared with secondaries (a primary with a runtime directory).
    pub shared: Option<Arc<SharedConfig>>,
}

/// The heaps of all nodes.
#[derive(Debug)]
pub(crate) struct Memory {
    cfg: MemoryConfig,
    heaps: Mutex<BTreeMap<u32, Heap>>,
    /// Where the next heap should go.
    next_hint: AtomicUsize,
    /// In a secondary: the primary's configuration, whose heaps this one maps.
    attached: Option<Arc<SharedConfig>>,
}

impl Memory {
    /// Sets up memory, mapping `prealloc` bytes on each listed node now.
    pub fn new(cfg: MemoryConfig, prealloc: &[(u32, usize)]) -> Result<Memory> {
        let mem = Memory {
            next_hint: AtomicUsize::new(cfg.base_hint.unwrap_or(DEFAULT_BASE_VIRTADDR)),
            cfg,
            heaps: Mutex::new(BTreeMap::new()),
            attached: None,
        };
        for &(socket, bytes) in prealloc {
            if bytes > 0 {
                let heap = mem.new_heap(socket, bytes)?;
                mem.publish(&heap);
                mem.lock().insert(socket, heap);
            }
        }
        Ok(mem)
    }

    /// A secondary's memory: the primary's heaps, mapped as memzones need them
    /// ([`Memory::attach_heap`]).
    pub fn attached(cfg: MemoryConfig, shared: Arc<SharedConfig>) -> Memory {
        Memory {
            next_hint: AtomicUsize::new(0),
            cfg,
            heaps: Mutex::new(BTreeMap::new()),
            attached: Some(shared),
        }
    }

    /// In a secondary, the primary's shared configuration.
    pub fn attached_config(&self) -> Option<&Arc<SharedConfig>> {
        self.attached.as_ref()
    }

    /// Whether this process maps a primary's heap of `socket`.
    pub fn has_heap(&self, socket: u32) -> bool {
        self.lock().contains_key(&socket)
    }

    /// Maps, in a secondary, the primary's heap of `socket` over `file` (its backing, passed
    /// over IPC) at the primary's address.
    pub fn attach_heap(&self, socket: u32, file: File) -> Result<()> {
        let shared = self
            .attached
            .as_ref()
            .ok_or_else(|| Error::Memory("only a secondary attaches to a primary's heap".into()))?;
        let info = shared
            .heap(socket)
            .ok_or_else(|| Error::Memory(format!("the primary has no heap on socket {socket}")))?;
        let mut heaps = self.lock();
        if heaps.contains_key(&socket) {
            return Ok(());
        }
        let region = Region::attach(
            info.base,
            info.reserved,
            info.page_size,
            file,
            self.cfg.iova_mode,
            socket,
        )?;
        let mut heap = Heap::new(socket, region, 0)?;
        heap.map_up_to(info.mapped)?;
        log::debug!(target: "lib.eal", "attached the heap of socket {socket}: {:#x}, {} KiB mapped", info.base, info.mapped >> 10);
        heaps.insert(socket, heap);
        Ok(())
    }

    /// In a secondary, maps what the primary mapped of the heap of `socket` since.
    pub fn sync_heap(&self, socket: u32) -> Result<()> {
        let Some(info) = self.attached.as_ref().and_then(|s| s.heap(socket)) else {
            return Ok(());
        };
        match self.lock().get_mut(&socket) {
            Some(heap) => heap.map_up_to(info.mapped),
            None => Ok(()),
        }
    }

    /// Duplicates of the files under each heap, for a secondary (the primary).
    pub fn shareable_files(&self) -> Result<Vec<(u32, File)>> {
        let mut out = Vec::new();
        for (&socket, heap) in self.lock().iter() {
            if let Some(f) = heap.region().shareable_file() {
                let dup = f
                    .try_clone()
                    .map_err(|e| Error::io("duplicating a heap's file", e))?;
                out.push((socket, dup));
            }
        }
        Ok(out)
    }

    /// Tells secondaries where a heap is and how much of it is mapped.
    fn publish(&self, heap: &Heap) {
        if let Some(shared) = &self.cfg.shared {
            let r = heap.region();
            shared.publish_heap(HeapInfo {
                socket: heap.socket(),
                base: r.base().as_ptr() as usize,
                reserved: r.reserved(),
                page_size: r.page_size(),
                mapped: r.mapped(),
            });
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, Heap>> {
        self.heaps.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn new_heap(&self, socket: u32, prealloc: usize) -> Result<Heap> {
        let backing = match &self.cfg.kind {
            PageKind::HugeFile(dir) => region::open_hugepage_file(
                dir.join(hugetlbfs::file_name(&self.cfg.prefix, socket)),
                self.cfg.unlink == HugeUnlink::Always,
                self.cfg.unlink == HugeUnlink::Never,
            )?,
            PageKind::HugeAnon => Backing::AnonHuge,
            PageKind::Small => region::memfd(socket)?,
        };
        let hint = Some(self.next_hint.fetch_add(
            HEAP_VA_RESERVE + region::BASE_ALIGN.max(self.cfg.page_size),
            Ordering::Relaxed,
        ));
        let region = Region::new(
            HEAP_VA_RESERVE,
            self.cfg.page_size,
            backing,
            self.cfg.iova_mode,
            self.cfg.numa.then_some(socket),
            hint,
            self.cfg.base_hint.is_some(),
        )?;
        Heap::new(socket, region, prealloc)
    }

    /// The page size.
    pub fn page_size(&self) -> usize {
        self.cfg.page_size
    }

    /// The IOVA mode.
    pub fn iova_mode(&self) -> IovaMode {
        self.cfg.iova_mode
    }

    /// Takes a block on `socket`; returns (address, offset in the heap).
    pub fn alloc(
        &self,
        socket: u32,
        len: usize,
        align: usize,
        bound: usize,
    ) -> Result<(usize, usize)> {
        let mut heaps = self.lock();
        let others: usize = heaps
            .iter()
            .filter(|(s, _)| **s != socket)
            .map(|(_, h)| h.region().mapped())
            .sum();
        let (limits, limit_flag) = &self.cfg.node_limits;
        let node = limits
            .get(socket as usize)
            .filter(|b| **b > 0)
            .map(|b| (*b, limit_flag.as_str()));
        let page = self
            .cfg
            .limit
            .as_ref()
            .map(|(b, f)| (b.saturating_sub(others), f.as_str()));
        let tighter = match (node, page) {
            (Some(n), Some(p)) => Some(if n.0 <= p.0 { n } else { p }),
            (n, p) => n.or(p),
        };
        let cap = match tighter {
            _ if self.cfg.fixed => Cap::Fixed,
            Some((bytes, flag)) => Cap::Limit { bytes, flag },
            None => Cap::Reserve,
        };
        let heap = match heaps.entry(socket) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => e.insert(self.new_heap(socket, 0)?),
        };
        let off = heap.alloc(len, align, bound, cap)?;
        let addr = heap.region().base().as_ptr() as usize + off;
        let heap = &heaps[&socket];
        self.publish(heap);
        Ok((addr, off))
    }

    /// Returns a block.
    pub fn free(&self, socket: u32, offset: usize, len: usize) {
        let mut heaps = self.lock();
        if let Some(heap) = heaps.get_mut(&socket) {
            heap.free(offset, len);
            self.publish(heap);
        }
    }

    /// Whether the pages under `[offset, offset + len)` of a heap have consecutive IOVAs.
    pub fn iova_contiguous(&self, socket: u32, offset: usize, len: usize) -> bool {
        let heaps = self.lock();
        let Some(heap) = heaps.get(&socket) else {
            return false;
        };
        let region = heap.region();
        let page = region.page_size();
        let first = offset / page * page;
        let mut expect = region.iova_at(first);
        let mut at = first;
        while at < offset + len {
            if region.iova_at(at) != expect {
                return false;
            }
            expect += page as u64;
            at += page;
        }
        true
    }

    /// The IOVA of `addr` if it lies in one of the heaps.
    pub fn iova(&self, addr: usize) -> Option<u64> {
        self.lock().values().find_map(|h| {
            let r = h.region();
            r.contains(addr)
                .then(|| r.iova_at(addr - r.base().as_ptr() as usize))
        })
    }

    /// Calls `f(va, iova, len)` for every mapped page of every heap, stopping at the first
    /// error (VFIO maps them into the IOMMU this way).
    pub fn for_each_segment(
        &self,
        mut f: impl FnMut(usize, u64, usize) -> Result<()>,
    ) -> Result<()> {
        for h in self.lock().values() {
            let r = h.region();
            let base = r.base().as_ptr() as usize;
            for (i, iova) in r.page_iovas().enumerate() {
                f(base + i * r.page_size(), iova, r.page_size())?;
            }
        }
        Ok(())
    }

    /// Statistics of every heap.
    pub fn stats(&self) -> Vec<HeapStats> {
        self.lock().values().map(Heap::stats).collect()
    }

    /// Removes hugepage files from their directory (unless `--huge-unlink=never`).
    pub fn unlink_files(&self) {
        if self.cfg.unlink != HugeUnlink::Never {
            self.lock().values_mut().for_each(Heap::unlink);
        }
    }

    /// Writes the layout of every heap and its pages.
    pub fn dump(&self, w: &mut dyn Write) -> std::io::Result<()> {
        for h in self.lock().values() {
            let s = h.stats();
            writeln!(
                w,
                "Heap socket {}: base {:#x}, mapped {:#x}, free {:#x} (largest {:#x}), pagesz {:#x}{}",
                s.socket,
                s.base,
                s.mapped,
                s.free,
                s.largest_free,
                s.page_size,
                s.file
                    .map(|f| format!(", file {}", f.display()))
                    .unwrap_or_default()
            )?;
            for (i, iova) in h.region().page_iovas().enumerate() {
                writeln!(
                    w,
                    "  Segment {i}: addr {:#x}, iova {iova:#x}, len {:#x}, socket_id {}",
                    s.base + i * s.page_size,
                    s.page_size,
                    s.socket
                )?;
            }
        }
        Ok(())
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        self.unlink_files();
    }
}

/// The IOVA of `addr` (DPDK's `rte_mem_virt2iova`): from the EAL's page table for EAL memory,
/// from `/proc/self/pagemap` for other memory in PA mode, the address itself in VA mode.
/// `None` before init, or when the physical address cannot be read.
pub fn virt2iova<T>(addr: *const T) -> Option<u64> {
    let state = crate::state::get().ok()?;
    let addr = addr as usize;
    if let Some(iova) = state.memory.iova(addr) {
        return Some(iova);
    }
    match state.memory.iova_mode() {
        IovaMode::Va => Some(addr as u64),
        IovaMode::Pa => Pagemap::open().ok()?.phys(addr),
    }
}

/// The IOVA mode in effect, after init.
pub fn iova_mode() -> Option<IovaMode> {
    crate::state::get().ok().map(|s| s.memory.iova_mode())
}

/// The page size of EAL memory, after init.
pub fn page_size() -> Option<usize> {
    crate::state::get().ok().map(|s| s.memory.page_size())
}

/// Statistics of every heap, after init.
pub fn heap_stats() -> Vec<HeapStats> {
    crate::state::get()
        .map(|s| s.memory.stats())
        .unwrap_or_default()
}

/// Writes the physical memory layout (DPDK's `rte_dump_physmem_layout`).
pub fn dump_physmem_layout(w: &mut dyn Write) -> Result<()> {
    let state = crate::state::get()?;
    state
        .memory
        .dump(w)
        .map_err(|e| Error::io("writing the memory layout", e))
}

/// Whether the machine has an IOMMU: a unit in `/sys/class/iommu` (VFIO's no-IOMMU mode makes
/// IOMMU groups without one, so the groups alone do not tell).
pub fn iommu_present() -> bool {
    std::fs::read_dir("/sys/class/iommu")
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
}
