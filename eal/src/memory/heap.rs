//! A heap: one [`Region`] of pages and the [`FreeList`] that carves it, for one NUMA node.

use super::freelist::FreeList;
use super::region::Region;
use crate::error::{Error, Result};

/// Memory of one NUMA node.
#[derive(Debug)]
pub struct Heap {
    socket: u32,
    region: Region,
    list: FreeList,
    /// Bytes reserved at start (`-m`, `--socket-mem`), never given back.
    prealloc: usize,
}

/// How far a heap may grow.
#[derive(Clone, Copy, Debug)]
pub enum Cap<'a> {
    /// Up to its address-space reservation.
    Reserve,
    /// Not at all (`--legacy-mem`).
    Fixed,
    /// Up to this many bytes mapped, as the flag written says (`--pagesz-mem=2M:64M`).
    Limit {
        /// The most bytes mapped.
        bytes: usize,
        /// The flag that set it, for messages.
        flag: &'a str,
    },
}

/// What a heap holds, for statistics and dumps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeapStats {
    /// NUMA node.
    pub socket: u32,
    /// Page size.
    pub page_size: usize,
    /// Bytes of pages mapped.
    pub mapped: usize,
    /// Bytes free inside the mapped pages.
    pub free: usize,
    /// The largest free block.
    pub largest_free: usize,
    /// Start address.
    pub base: usize,
    /// The backing hugepage file, if any.
    pub file: Option<std::path::PathBuf>,
}

impl Heap {
    /// A heap over `region`, with `prealloc` bytes mapped now.
    pub fn new(socket: u32, mut region: Region, prealloc: usize) -> Result<Heap> {
        if prealloc > 0 {
            region.grow(prealloc)?;
        }
        let mut list = FreeList::new();
        list.extend(region.mapped());
        Ok(Heap {
            socket,
            prealloc: region.mapped(),
            region,
            list,
        })
    }

    /// Takes `len` bytes aligned to `align`, not crossing a multiple of `bound` (0: no bound);
    /// maps more pages when needed, up to `cap` bytes mapped in all. Returns the offset from
    /// the heap's base.
    pub fn alloc(&mut self, len: usize, align: usize, bound: usize, cap: Cap<'_>) -> Result<usize> {
        if let Some(off) = self.list.alloc(len, align, bound) {
            return Ok(off);
        }
        let grow = self
            .list
            .growth_needed(len, align, bound)
            .next_multiple_of(self.region.page_size());
        let mapped = self.region.mapped();
        match cap {
            Cap::Fixed if grow > 0 => {
                return Err(Error::Memory(format!(
                    "--legacy-mem: {len} bytes do not fit in the {} MiB of socket {} mapped at \
                     start (give more with -m or --socket-mem)",
                    mapped >> 20,
                    self.socket
                )));
            }
            Cap::Limit { bytes, flag } if mapped + grow > bytes => {
                return Err(Error::Memory(format!(
                    "{len} bytes on socket {} need {} MiB more pages, past the {} MiB that \
                     {flag} allows ({} MiB mapped)",
                    self.socket,
                    grow.div_ceil(1 << 20),
                    bytes >> 20,
                    mapped >> 20
                )));
            }
            _ => {}
        }
        self.region.grow(grow)?;
        self.list.extend(self.region.mapped());
        self.list.alloc(len, align, bound).ok_or_else(|| {
            Error::Memory(format!(
                "heap of socket {} cannot place {len} bytes",
                self.socket
            ))
        })
    }

    /// Returns a block and gives whole free pages at the end back to the system.
    pub fn free(&mut self, off: usize, len: usize) {
        self.list.free(off, len);
        if let Some((start, _)) = self.list.trailing_free() {
            let keep = start
                .next_multiple_of(self.region.page_size())
                .max(self.prealloc);
            if keep < self.region.mapped() {
                self.region.shrink_to(keep);
                self.list.truncate(self.region.mapped());
            }
        }
    }

    /// Its NUMA node.
    pub fn socket(&self) -> u32 {
        self.socket
    }

    /// In a secondary: maps the primary's pages up to `mapped` bytes (they are the primary's
    /// to carve; this heap never allocates).
    pub fn map_up_to(&mut self, mapped: usize) -> Result<()> {
        if mapped > self.region.mapped() {
            self.region.grow(mapped - self.region.mapped())?;
        }
        Ok(())
    }

    /// The region under the heap.
    pub fn region(&self) -> &Region {
        &self.region
    }

    /// Removes the backing file from its directory.
    pub fn unlink(&mut self) {
        self.region.unlink();
    }

    /// Statistics.
    pub fn stats(&self) -> HeapStats {
        HeapStats {
            socket: self.socket,
            page_size: self.region.page_size(),
            mapped: self.region.mapped(),
            free: self.list.free_bytes(),
            largest_free: self.list.largest_free(),
            base: self.region.base().as_ptr() as usize,
            file: self.region.file_path().cloned(),
        }
    }
}
