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
    /// maps more pages when needed. Returns the offset from the heap's base.
    pub fn alloc(&mut self, len: usize, align: usize, bound: usize) -> Result<usize> {
        if let Some(off) = self.list.alloc(len, align, bound) {
            return Ok(off);
        }
        let grow = self.list.growth_needed(len, align, bound);
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
