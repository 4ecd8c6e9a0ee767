//! Where small timer nodes live: 64-byte slots carved in order out of large chunks, so that
//! timers made one after the other sit one after the other in memory, a cache line each.
//!
//! `manage()` walks a wheel slot's list of nodes, a chain of dependent loads: when consecutive
//! nodes are consecutive lines, the CPU's prefetchers fetch the next ones during the walk. Nodes
//! from the general allocator start wherever a freed 64-byte chunk was (a walk over the first
//! 100 timers of `timer_perf` crossed 7 pages instead of 2), and straddle two lines.
//!
//! A freed slot goes on a free list and is reused by the next node; chunks are never given back
//! (as DPDK's mempools keep their memory), so the memory held is the most nodes ever live at
//! once, rounded up to a chunk (2 MiB).

use std::alloc::{Layout, alloc, handle_alloc_error};
use std::ptr;
use std::sync::Mutex;

/// The size and alignment of a slot: one cache line.
pub(crate) const SLOT: usize = 64;
/// Slots are carved from chunks of this many bytes, aligned to their size: one transparent
/// huge page each where the kernel gives them (a million timers then walk 32 TLB entries
/// rather than 16,000).
const CHUNK: usize = 2 * 1024 * 1024;

struct Slab {
    /// The last freed slot; each free slot's first word points at the next one.
    free: *mut u8,
    /// The next never-used slot of the current chunk, and the chunk's end.
    bump: *mut u8,
    end: *mut u8,
}

// SAFETY: the pointers name memory that only the slab hands out, always under its mutex.
unsafe impl Send for Slab {}

static SLAB: Mutex<Slab> = Mutex::new(Slab {
    free: ptr::null_mut(),
    bump: ptr::null_mut(),
    end: ptr::null_mut(),
});

fn slab() -> std::sync::MutexGuard<'static, Slab> {
    // A panic never happens with the lock held (nothing below panics), but a poisoned lock
    // still guards consistent pointers.
    SLAB.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fresh 64-byte, 64-aligned slot, uninitialised.
pub(crate) fn alloc_slot() -> *mut u8 {
    let mut s = slab();
    if !s.free.is_null() {
        let slot = s.free;
        // SAFETY: a free slot's first word is the next free slot, written by `free_slot`.
        s.free = unsafe { slot.cast::<*mut u8>().read() };
        return slot;
    }
    if s.bump == s.end {
        let layout = Layout::from_size_align(CHUNK, CHUNK).expect("a valid constant layout");
        // SAFETY: the layout's size is not zero.
        let chunk = unsafe { alloc(layout) };
        if chunk.is_null() {
            handle_alloc_error(layout);
        }
        // A hint: where transparent huge pages are off, or `madvise` fails, the chunk stays
        // in small pages and works the same.
        // SAFETY: `chunk` is `CHUNK` bytes of this process's memory, aligned to a page; advice
        // changes no content.
        let _ = unsafe { libc::madvise(chunk.cast(), CHUNK, libc::MADV_HUGEPAGE) };
        s.bump = chunk;
        // SAFETY: `chunk` is `CHUNK` bytes long.
        s.end = unsafe { chunk.add(CHUNK) };
    }
    let slot = s.bump;
    // SAFETY: `bump` is below `end` and both are `SLOT`-aligned in the same chunk.
    s.bump = unsafe { slot.add(SLOT) };
    slot
}

/// Gives `slot` back for reuse.
///
/// # Safety
/// `slot` came from [`alloc_slot`], is not in use, and is never used again by the caller.
pub(crate) unsafe fn free_slot(slot: *mut u8) {
    let mut s = slab();
    // SAFETY: the slot is ours and 64 bytes long, so its first word can hold the link.
    unsafe { slot.cast::<*mut u8>().write(s.free) };
    s.free = slot;
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn slots_are_lines_and_freed_ones_come_back_first() {
        let a = alloc_slot();
        let b = alloc_slot();
        assert_eq!(a as usize % SLOT, 0);
        assert_eq!(b as usize % SLOT, 0);
        assert_ne!(a, b);
        // SAFETY: `b` came from `alloc_slot` and is not used after.
        unsafe { free_slot(b) };
        // Other tests may take slots meanwhile; a slot handed out twice would show as equal
        // live slots.
        let c = alloc_slot();
        let d = alloc_slot();
        assert_ne!(c, a);
        assert_ne!(d, a);
        assert_ne!(c, d);
        for s in [a, c, d] {
            // SAFETY: each came from `alloc_slot` and is freed once.
            unsafe { free_slot(s) };
        }
    }

    #[test]
    fn a_chunk_hands_out_consecutive_lines() {
        // Fresh slots after the free list is empty are consecutive within a chunk.
        let mut taken: Vec<*mut u8> = (0..CHUNK / SLOT + 100).map(|_| alloc_slot()).collect();
        taken.sort();
        let consecutive = taken
            .windows(2)
            .filter(|w| w[1] as usize == w[0] as usize + SLOT)
            .count();
        assert!(
            consecutive >= taken.len() - 16,
            "{consecutive} of {} consecutive",
            taken.len()
        );
        for s in taken {
            // SAFETY: each came from `alloc_slot` and is freed once.
            unsafe { free_slot(s) };
        }
    }
}
