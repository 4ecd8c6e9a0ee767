//! Per-lcore packet and byte counters of COUNT actions and shared (indirect) counters.
//!
//! Each reader slot (an EAL lcore, or the shared slot of other threads; see `publish`) has its
//! own counters, in chunks of 256 allocated by the control path when a counter is created, so
//! the classifying lcores only add to memory nobody else writes: a relaxed load and store on
//! an lcore's own cells, an atomic add in the shared slot. A query sums every slot; a reset
//! records the sums as a baseline instead of writing the lcores' cells.

use super::publish::{SLOTS, is_private};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

const CHUNK: usize = 256;
/// The most counters a table has (COUNT actions and indirect counters together).
pub(crate) const MAX_COUNTERS: usize = CHUNK * 1024;

#[derive(Default)]
struct Cell {
    hits: AtomicU64,
    bytes: AtomicU64,
}

type Chunk = Box<[Cell]>;
type Directory = Box<[OnceLock<Chunk>]>;

struct Alloc {
    next: u32,
    free: Vec<u32>,
    /// Sums at the last reset (or at allocation), per counter.
    base: Vec<(u64, u64)>,
}

pub(crate) struct Counters {
    slots: Box<[OnceLock<Directory>]>,
    alloc: Mutex<Alloc>,
}

impl Counters {
    pub fn new() -> Counters {
        Counters {
            slots: (0..SLOTS).map(|_| OnceLock::new()).collect(),
            alloc: Mutex::new(Alloc {
                next: 0,
                free: Vec::new(),
                base: Vec::new(),
            }),
        }
    }

    /// Makes sure the chunk of counter `idx` exists in the slots of the lcores there are now
    /// and in the shared slot (others fall back to the shared slot).
    fn provision(&self, idx: u32) {
        let c = idx as usize / CHUNK;
        let mut slots: Vec<usize> = rpdk_eal::lcore::list()
            .into_iter()
            .map(|l| l as usize)
            .filter(|&l| l < SLOTS - 1)
            .collect();
        slots.push(SLOTS - 1);
        for s in slots {
            let dir = self.slots[s]
                .get_or_init(|| (0..MAX_COUNTERS / CHUNK).map(|_| OnceLock::new()).collect());
            dir[c].get_or_init(|| (0..CHUNK).map(|_| Cell::default()).collect());
        }
    }

    /// A new counter at zero, or `None` when the table has `MAX_COUNTERS`.
    pub fn alloc(&self) -> Option<u32> {
        let mut a = self.alloc.lock().unwrap_or_else(|e| e.into_inner());
        let idx = match a.free.pop() {
            Some(i) => i,
            None if (a.next as usize) < MAX_COUNTERS => {
                a.next += 1;
                a.base.push((0, 0));
                a.next - 1
            }
            None => return None,
        };
        drop(a);
        self.provision(idx);
        let now = self.sum(idx);
        self.alloc.lock().unwrap_or_else(|e| e.into_inner()).base[idx as usize] = now;
        Some(idx)
    }

    /// Gives a counter back; the caller guarantees no reader can still add to it.
    pub fn free(&self, idx: u32) {
        self.alloc
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .free
            .push(idx);
    }

    #[inline(always)]
    fn cell(&self, slot: usize, idx: u32) -> Option<&Cell> {
        let dir = self.slots[slot].get()?;
        let chunk = dir[idx as usize / CHUNK].get()?;
        Some(&chunk[idx as usize % CHUNK])
    }

    /// Counts one packet of `bytes` on the calling thread's slot.
    #[inline(always)]
    pub fn add(&self, slot: usize, idx: u32, bytes: u64) {
        if is_private(slot)
            && let Some(c) = self.cell(slot, idx)
        {
            c.hits
                .store(c.hits.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            c.bytes
                .store(c.bytes.load(Ordering::Relaxed) + bytes, Ordering::Relaxed);
            return;
        }
        if let Some(c) = self.cell(SLOTS - 1, idx) {
            c.hits.fetch_add(1, Ordering::Relaxed);
            c.bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    fn sum(&self, idx: u32) -> (u64, u64) {
        let mut t = (0u64, 0u64);
        for s in 0..SLOTS {
            if let Some(c) = self.cell(s, idx) {
                t.0 += c.hits.load(Ordering::Relaxed);
                t.1 += c.bytes.load(Ordering::Relaxed);
            }
        }
        t
    }

    /// Hits and bytes since the last reset; `reset` starts again from zero.
    pub fn query(&self, idx: u32, reset: bool) -> (u64, u64) {
        let now = self.sum(idx);
        let mut a = self.alloc.lock().unwrap_or_else(|e| e.into_inner());
        let base = a.base[idx as usize];
        if reset {
            a.base[idx as usize] = now;
        }
        (now.0.wrapping_sub(base.0), now.1.wrapping_sub(base.1))
    }
}
