//! A first-fit free list over a growable range of offsets, with alignment and boundary
//! constraints: the allocator behind each heap. It only does arithmetic; the heap maps memory.

use std::collections::BTreeMap;

/// Free blocks of `[0, end)`, keyed by offset, coalesced.
#[derive(Debug, Default, Clone)]
pub struct FreeList {
    free: BTreeMap<usize, usize>,
    end: usize,
}

/// Where a block of `len` bytes may start at or after `off`, aligned to `align` and (when
/// `bound` is not 0) not crossing a multiple of `bound`. `align` and `bound` are powers of two
/// and `bound >= len`.
fn place(off: usize, len: usize, align: usize, bound: usize) -> usize {
    let start = off.next_multiple_of(align);
    if bound != 0 && start / bound != (start + len - 1) / bound {
        start.next_multiple_of(bound)
    } else {
        start
    }
}

impl FreeList {
    /// An empty list managing nothing.
    pub fn new() -> FreeList {
        FreeList::default()
    }

    /// The end of the managed range.
    #[cfg(test)]
    pub fn end(&self) -> usize {
        self.end
    }

    /// Total free bytes.
    pub fn free_bytes(&self) -> usize {
        self.free.values().sum()
    }

    /// The largest free block.
    pub fn largest_free(&self) -> usize {
        self.free.values().copied().max().unwrap_or(0)
    }

    /// Number of free blocks.
    #[cfg(test)]
    pub fn blocks(&self) -> usize {
        self.free.len()
    }

    /// Grows the managed range to `new_end`; the new space is free.
    pub fn extend(&mut self, new_end: usize) {
        if new_end > self.end {
            let old = self.end;
            self.end = new_end;
            self.insert(old, new_end - old);
        }
    }

    /// Takes `len` bytes; returns their offset.
    pub fn alloc(&mut self, len: usize, align: usize, bound: usize) -> Option<usize> {
        let (off, flen, start) = self
            .free
            .iter()
            .map(|(&off, &flen)| (off, flen, place(off, len, align, bound)))
            .find(|&(off, flen, start)| start + len <= off + flen)?;
        self.free.remove(&off);
        if start > off {
            self.free.insert(off, start - off);
        }
        let tail = off + flen - (start + len);
        if tail > 0 {
            self.free.insert(start + len, tail);
        }
        Some(start)
    }

    /// How far past [`end`](Self::end) the range must grow for `alloc(len, align, bound)` to
    /// succeed in the trailing free block or fresh space.
    pub fn growth_needed(&self, len: usize, align: usize, bound: usize) -> usize {
        let from = self.trailing_free().map_or(self.end, |(off, _)| off);
        let start = place(from, len, align, bound);
        (start + len).saturating_sub(self.end)
    }

    /// Returns `[off, off + len)` to the free list, coalescing with its neighbours.
    pub fn free(&mut self, off: usize, len: usize) {
        debug_assert!(off + len <= self.end, "freeing past the end");
        self.insert(off, len);
    }

    fn insert(&mut self, mut off: usize, mut len: usize) {
        if len == 0 {
            return;
        }
        if let Some((&poff, &plen)) = self.free.range(..off).next_back() {
            debug_assert!(poff + plen <= off, "double free of {off:#x}");
            if poff + plen == off {
                self.free.remove(&poff);
                off = poff;
                len += plen;
            }
        }
        if let Some(&nlen) = self.free.get(&(off + len)) {
            self.free.remove(&(off + len));
            len += nlen;
        }
        self.free.insert(off, len);
    }

    /// The free block that ends at [`end`](Self::end), if any.
    pub fn trailing_free(&self) -> Option<(usize, usize)> {
        self.free
            .iter()
            .next_back()
            .filter(|(off, len)| *off + *len == self.end)
            .map(|(o, l)| (*o, *l))
    }

    /// Shrinks the managed range to `new_end`, which must leave only free space behind.
    pub fn truncate(&mut self, new_end: usize) {
        if new_end >= self.end {
            return;
        }
        let (off, _) = self
            .trailing_free()
            .expect("truncating over allocated memory");
        assert!(off <= new_end, "truncating over allocated memory");
        self.free.remove(&off);
        if new_end > off {
            self.free.insert(off, new_end - off);
        }
        self.end = new_end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn first_fit_with_alignment_and_coalescing() {
        let mut f = FreeList::new();
        f.extend(4096);
        assert_eq!(f.alloc(100, 64, 0), Some(0));
        assert_eq!(f.alloc(100, 64, 0), Some(128));
        assert_eq!(f.alloc(10, 1024, 0), Some(1024));
        assert_eq!(f.free_bytes(), 4096 - 100 - 100 - 10);
        f.free(128, 100);
        f.free(0, 100);
        f.free(1024, 10);
        assert_eq!(f.blocks(), 1);
        assert_eq!(f.largest_free(), 4096);
    }

    #[test]
    fn bounds_are_not_crossed() {
        let mut f = FreeList::new();
        f.extend(8192);
        assert_eq!(f.alloc(3000, 64, 0), Some(0));
        // 3008 + 2000 would cross 4096: placed at 4096.
        assert_eq!(f.alloc(2000, 64, 4096), Some(4096));
        assert_eq!(f.alloc(1000, 64, 4096), Some(3008));
    }

    #[test]
    fn growth_accounts_for_trailing_space() {
        let mut f = FreeList::new();
        f.extend(4096);
        assert_eq!(f.alloc(4000, 64, 0), Some(0));
        assert_eq!(f.alloc(1000, 64, 0), None);
        let need = f.growth_needed(1000, 64, 0);
        assert_eq!(need, 4032 + 1000 - 4096);
        f.extend(4096 + need);
        assert_eq!(f.alloc(1000, 64, 0), Some(4032));
        assert_eq!(f.growth_needed(10, 4096, 0), 8192 + 10 - f.end());
    }

    #[test]
    fn truncate_drops_trailing_free_space() {
        let mut f = FreeList::new();
        f.extend(8192);
        assert_eq!(f.alloc(100, 64, 0), Some(0));
        f.truncate(4096);
        assert_eq!(f.end(), 4096);
        assert_eq!(f.free_bytes(), 4096 - 100);
        f.free(0, 100);
        f.truncate(0);
        assert_eq!(f.end(), 0);
        assert_eq!(f.blocks(), 0);
    }

    proptest! {
        /// Random allocations and frees never overlap, respect alignment and bounds, and
        /// everything coalesces back into one block.
        #[test]
        fn never_overlaps(ops in prop::collection::vec((1usize..5000, 0u32..8, any::<bool>(), any::<bool>()), 1..200)) {
            let mut f = FreeList::new();
            let mut live: Vec<(usize, usize)> = Vec::new();
            for (len, align_log, bounded, free_one) in ops {
                if free_one && !live.is_empty() {
                    let (o, l) = live.swap_remove(len % live.len());
                    f.free(o, l);
                    continue;
                }
                let align = 64usize << align_log;
                let bound = if bounded { len.next_power_of_two() } else { 0 };
                let off = match f.alloc(len, align, bound) {
                    Some(o) => o,
                    None => {
                        let grow = f.growth_needed(len, align, bound);
                        f.extend(f.end() + grow);
                        f.alloc(len, align, bound).expect("fits after growing")
                    }
                };
                prop_assert_eq!(off % align, 0);
                if let (Some(first), Some(last)) = (off.checked_div(bound), (off + len - 1).checked_div(bound)) {
                    prop_assert_eq!(first, last, "crosses a bound");
                }
                for &(o, l) in &live {
                    prop_assert!(off + len <= o || o + l <= off, "overlap");
                }
                prop_assert!(off + len <= f.end());
                live.push((off, len));
            }
            let used: usize = live.iter().map(|(_, l)| l).sum();
            prop_assert_eq!(f.free_bytes() + used, f.end());
            for (o, l) in live.drain(..) {
                f.free(o, l);
            }
            prop_assert!(f.blocks() <= 1);
            prop_assert_eq!(f.free_bytes(), f.end());
        }
    }
}
