//! A lock-free stack of pool objects (DPDK's "lf_stack" mempool ops).
//!
//! Objects of a pool are numbered, so the stack is a linked list of indices: `next[i]` is the
//! object below object `i`. The head packs the top index with a tag that every successful
//! update increments, in one 64-bit word, so a compare-and-swap fails when the head was popped
//! and pushed back in between (the ABA problem) without the 128-bit CAS DPDK uses. `len` is
//! reserved before popping, so a popper only walks as many nodes as are surely there.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::placed::ShSlice;

/// The "no object" index, the `next` of the bottom of the stack.
pub(crate) const NIL: u32 = u32::MAX;

fn pack(idx: u32, tag: u32) -> u64 {
    ((tag as u64) << 32) | idx as u64
}

fn unpack(v: u64) -> (u32, u32) {
    (v as u32, (v >> 32) as u32)
}

/// A lock-free stack of the objects `0..n` of a pool.
pub struct LfStack {
    head: AtomicU64,
    len: AtomicUsize,
    next: ShSlice<AtomicU32>,
    /// Object pointer by index (the pool's array); fixed after creation.
    objs: ShSlice<*mut u8>,
}

// SAFETY: `objs` is immutable after creation; everything else is atomic.
unsafe impl Send for LfStack {}
// SAFETY: as above.
unsafe impl Sync for LfStack {}

impl LfStack {
    /// An empty stack for the objects `objs` (object `i` is `objs[i]`), linked through `next`
    /// (as many, each [`NIL`]).
    pub fn new(next: ShSlice<AtomicU32>, objs: ShSlice<*mut u8>) -> LfStack {
        debug_assert_eq!(next.len(), objs.len());
        LfStack {
            head: AtomicU64::new(pack(NIL, 0)),
            len: AtomicUsize::new(0),
            next,
            objs,
        }
    }

    /// Pushes objects given by index.
    pub fn push_bulk(&self, idx: impl ExactSizeIterator<Item = u32> + Clone) -> bool {
        let n = idx.len();
        if n == 0 {
            return true;
        }
        // Link the new nodes to each other: idx[0] -> idx[1] -> ... -> idx[n-1].
        let mut it = idx.clone();
        let first = it.next().expect("n > 0");
        let mut last = first;
        for i in it {
            self.next[last as usize].store(i, Ordering::Relaxed);
            last = i;
        }
        let mut old = self.head.load(Ordering::Relaxed);
        loop {
            let (top, tag) = unpack(old);
            self.next[last as usize].store(top, Ordering::Relaxed);
            match self.head.compare_exchange_weak(
                old,
                pack(first, tag.wrapping_add(1)),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(cur) => old = cur,
            }
        }
        // Published after the nodes are reachable, so reservations never exceed the list.
        self.len.fetch_add(n, Ordering::Release);
        true
    }

    /// Pops `out.len()` objects, or none if there are fewer.
    pub fn pop_bulk(&self, out: &mut [*mut u8]) -> bool {
        let n = out.len();
        if n == 0 {
            return true;
        }
        let mut len = self.len.load(Ordering::Relaxed);
        loop {
            if len < n {
                return false;
            }
            match self
                .len
                .compare_exchange_weak(len, len - n, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(cur) => len = cur,
            }
        }
        let mut old = self.head.load(Ordering::Acquire);
        'retry: loop {
            let (top, tag) = unpack(old);
            let mut idx = top;
            let mut below = NIL;
            for (k, slot) in out.iter_mut().enumerate() {
                if idx == NIL {
                    // A stale snapshot: the list changed under us.
                    old = self.head.load(Ordering::Acquire);
                    continue 'retry;
                }
                *slot = self.objs[idx as usize];
                let nx = self.next[idx as usize].load(Ordering::Relaxed);
                if k + 1 == n {
                    below = nx;
                } else {
                    idx = nx;
                }
            }
            match self.head.compare_exchange_weak(
                old,
                pack(below, tag.wrapping_add(1)),
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(cur) => old = cur,
            }
        }
    }

    /// Objects on the stack.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn stack(n: usize) -> LfStack {
        LfStack::new(
            ShSlice::leak((0..n).map(|_| AtomicU32::new(NIL)).collect()),
            ShSlice::leak((0..n).map(|i| (i + 1) as *mut u8).collect()),
        )
    }

    #[test]
    fn lifo_and_bounds() {
        let s = stack(8);
        assert!(s.push_bulk([0u32, 1, 2].into_iter()));
        assert!(s.push_bulk([5u32].into_iter()));
        assert_eq!(s.len(), 4);
        let mut out = [std::ptr::null_mut(); 2];
        assert!(s.pop_bulk(&mut out));
        assert_eq!(out.map(|p| p as usize), [6, 1]);
        let mut three = [std::ptr::null_mut(); 3];
        assert!(!s.pop_bulk(&mut three), "only 2 left");
        assert_eq!(s.len(), 2);
    }

    /// Threads popping and pushing random bulks: at the end every object is there once.
    #[test]
    fn threads_lose_and_duplicate_nothing() {
        let n = 512;
        let s = Arc::new(stack(n));
        assert!(s.push_bulk(0..n as u32));
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let s = s.clone();
                std::thread::spawn(move || {
                    let mut buf = vec![std::ptr::null_mut(); 1 + t * 3];
                    for _ in 0..20_000 {
                        if s.pop_bulk(&mut buf) {
                            let idx: Vec<u32> = buf.iter().map(|p| *p as u32 - 1).collect();
                            assert!(s.push_bulk(idx.into_iter()));
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        let mut all = vec![std::ptr::null_mut(); n];
        assert!(s.pop_bulk(&mut all));
        let mut got: Vec<usize> = all.iter().map(|p| *p as usize).collect();
        got.sort();
        assert_eq!(got, (1..=n).collect::<Vec<_>>());
    }
}
