//! Publishing the classifier to the lcores that read it: two copies, left-right.
//!
//! Readers (the classifying lcores) never lock, allocate or wait: a reader marks itself on the
//! active copy (a counter in its own cache line: one per EAL lcore, written only by that
//! lcore, plus one shared by every other thread, updated with atomic adds), re-checks that the
//! copy is still the active one, reads it, and unmarks itself. The writer (one at a time,
//! behind a mutex: the control path) waits until nobody is on the inactive copy, applies the
//! change to it, makes it the active one, waits until the readers of the other copy have left,
//! and applies the same change there. Each change is applied twice, in O(the change), never by
//! rebuilding; readers see either the old state or the new one, never a mix.
//!
//! Why it is sound: the reader's mark and its re-check, and the writer's switch and its wait,
//! are sequentially consistent, so either the writer's scan sees the reader's mark (and waits
//! for it), or the reader's re-check sees the switch (and moves to the other copy). The
//! reader's unmark is a release that the writer's scan acquires, so the reads of a copy happen
//! before the writer changes it.
//!
//! The `loom` feature swaps the atomics and the copies' cells for loom's, and `loom_tests`
//! model-checks the protocol: `cargo test -p rpdk-flow --features loom --lib loom`.

use crossbeam_utils::CachePadded;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

#[cfg(feature = "loom")]
use loom::sync::atomic::{AtomicU32, AtomicUsize};
#[cfg(not(feature = "loom"))]
use std::sync::atomic::{AtomicU32, AtomicUsize};

/// Nothing in the real build, where the SeqCst accesses around it order the mark before the
/// re-check (and the switch before the scan); a SeqCst fence under loom, which models SeqCst
/// accesses as acquire/release only (tokio-rs/loom#180) but SeqCst fences in full.
#[inline(always)]
fn sc_fence() {
    #[cfg(feature = "loom")]
    loom::sync::atomic::fence(Ordering::SeqCst);
}

/// A copy's cell: `std`'s `UnsafeCell`, or loom's (which checks every access against the
/// others).
struct Cell<T>(
    #[cfg(not(feature = "loom"))] std::cell::UnsafeCell<T>,
    #[cfg(feature = "loom")] loom::cell::UnsafeCell<T>,
);

impl<T> Cell<T> {
    fn new(v: T) -> Cell<T> {
        #[cfg(not(feature = "loom"))]
        return Cell(std::cell::UnsafeCell::new(v));
        #[cfg(feature = "loom")]
        return Cell(loom::cell::UnsafeCell::new(v));
    }

    /// # Safety
    /// No `write` of this cell runs meanwhile.
    #[inline(always)]
    unsafe fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        #[cfg(not(feature = "loom"))]
        // SAFETY: the caller excludes writers.
        return f(unsafe { &*self.0.get() });
        #[cfg(feature = "loom")]
        // SAFETY: the caller excludes writers (and loom checks it).
        return self.0.with(|p| f(unsafe { &*p }));
    }

    /// # Safety
    /// No other `read` or `write` of this cell runs meanwhile.
    unsafe fn write<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        #[cfg(not(feature = "loom"))]
        // SAFETY: the caller excludes every other access.
        return f(unsafe { &mut *self.0.get() });
        #[cfg(feature = "loom")]
        // SAFETY: the caller excludes every other access (and loom checks it).
        return self.0.with_mut(|p| f(unsafe { &mut *p }));
    }
}

/// Readers' slots: one per EAL lcore id, and the last one shared by other threads.
pub(crate) const SLOTS: usize = rpdk_eal::lcore::MAX_LCORE as usize + 1;
const SHARED: usize = SLOTS - 1;

/// The calling thread's slot.
#[inline(always)]
pub(crate) fn slot() -> usize {
    match rpdk_eal::lcore::id() {
        Some(id) if (id as usize) < SHARED => id as usize,
        _ => SHARED,
    }
}

/// Whether `slot` is written by one thread only (an EAL lcore's).
#[inline(always)]
pub(crate) fn is_private(slot: usize) -> bool {
    slot != SHARED
}

/// Two copies of `T` that lcores read without locks while one writer at a time changes them.
pub(crate) struct Published<T> {
    copies: [Cell<T>; 2],
    active: AtomicUsize,
    readers: Box<[CachePadded<[AtomicU32; 2]>]>,
    writer: Mutex<()>,
}

// SAFETY: readers only get `&T` of a copy no writer touches (the protocol above), and the
// writer gets `&mut T` only under the mutex with no reader on that copy; so sharing the
// structure needs `T: Sync` (shared reads from several lcores) and `T: Send` (the writer's
// thread mutates it).
unsafe impl<T: Send + Sync> Sync for Published<T> {}
// SAFETY: owning it is owning two `T`s.
unsafe impl<T: Send> Send for Published<T> {}

struct Leave<'a> {
    counter: &'a AtomicU32,
    private: bool,
}

impl Drop for Leave<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        if self.private {
            let v = self.counter.load(Ordering::Relaxed);
            self.counter.store(v - 1, Ordering::Release);
        } else {
            self.counter.fetch_sub(1, Ordering::Release);
        }
    }
}

impl<T: Clone> Published<T> {
    /// Two copies of `value`.
    pub fn new(value: T) -> Published<T> {
        Self::with_slots(value, SLOTS)
    }

    /// With `slots` reader slots, the last one shared (the loom models use 2).
    fn with_slots(value: T, slots: usize) -> Published<T> {
        Published {
            copies: [Cell::new(value.clone()), Cell::new(value)],
            active: AtomicUsize::new(0),
            readers: (0..slots)
                .map(|_| CachePadded::new([AtomicU32::new(0), AtomicU32::new(0)]))
                .collect(),
            writer: Mutex::new(()),
        }
    }
}

impl<T> Published<T> {
    /// Runs `f` on the current state: no lock, no allocation, no waiting.
    #[inline]
    pub fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        let s = slot();
        self.read_at(s, is_private(s), f)
    }

    /// [`read`](Self::read) as the reader of slot `s` (`private`: written by this thread only).
    #[inline(always)]
    fn read_at<R>(&self, s: usize, private: bool, f: impl FnOnce(&T) -> R) -> R {
        let counters = &self.readers[s];
        let i = loop {
            let i = self.active.load(Ordering::SeqCst);
            let c = &counters[i];
            if private {
                c.store(c.load(Ordering::Relaxed) + 1, Ordering::SeqCst);
            } else {
                c.fetch_add(1, Ordering::SeqCst);
            }
            sc_fence();
            if self.active.load(Ordering::SeqCst) == i {
                break i;
            }
            drop(Leave {
                counter: c,
                private,
            });
        };
        let _leave = Leave {
            counter: &counters[i],
            private,
        };
        // SAFETY: this thread is marked on copy `i` and saw it active after marking, so the
        // writer does not touch it until the mark is gone (the module's protocol).
        unsafe { self.copies[i].read(f) }
    }

    fn drain(&self, copy: usize) {
        sc_fence();
        let mut spins = 0u32;
        for r in self.readers.iter() {
            while r[copy].load(Ordering::SeqCst) != 0 {
                spins += 1;
                #[cfg(feature = "loom")]
                loom::thread::yield_now();
                if spins < 64 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }

    /// Applies `op` to both copies, one after the other, publishing the first before changing
    /// the second. `op` must bring both to the same state. Returns what the last call returned.
    pub fn write<R>(&self, mut op: impl FnMut(&mut T) -> R) -> R {
        let _g = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let a = self.active.load(Ordering::SeqCst);
        let b = 1 - a;
        self.drain(b);
        // SAFETY: we hold the writer lock, `b` is inactive and no reader is on it (a late
        // reader that marks it will see `a` active and leave without reading).
        unsafe { self.copies[b].write(&mut op) };
        self.active.store(b, Ordering::SeqCst);
        self.drain(a);
        // SAFETY: as above, for `a` now that `b` is the active copy.
        unsafe { self.copies[a].write(op) }
    }

    /// Reads the current state from the control path (under the writer lock, so it is stable).
    pub fn inspect<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        let _g = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let a = self.active.load(Ordering::SeqCst);
        // SAFETY: writers are excluded by the lock, and readers only read.
        unsafe { self.copies[a].read(f) }
    }
}

#[cfg(all(test, feature = "loom"))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    /// A private reader (an lcore's slot), a shared-slot reader and a writer making two
    /// changes: under every interleaving (2 preemptions at most), no read overlaps a write of
    /// its copy (loom's cells check it), readers see both halves of a change or neither, and
    /// never go back.
    #[test]
    fn loom_left_right_publication() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(2);
        b.check(|| {
            let p = Arc::new(Published::with_slots((0u32, 0u32), 2));
            let readers: Vec<_> = [(0, true), (1, false)]
                .into_iter()
                .map(|(s, private)| {
                    let p = p.clone();
                    loom::thread::spawn(move || {
                        let mut seen = 0;
                        for _ in 0..2 {
                            p.read_at(s, private, |&(a, b)| {
                                assert_eq!(a, b, "torn read");
                                assert!(a >= seen, "went back");
                                seen = a;
                            });
                        }
                    })
                })
                .collect();
            for k in 1..=2 {
                p.write(|v| *v = (k, k));
            }
            for r in readers {
                r.join().unwrap();
            }
            p.read_at(1, false, |&v| assert_eq!(v, (2, 2)));
        });
    }
}

#[cfg(all(test, not(feature = "loom")))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    /// Readers must always see the pair consistent (both halves written by the same op).
    #[test]
    fn readers_never_see_a_half_applied_change() {
        let p = Arc::new(Published::new((0u64, vec![0u64; 64])));
        let stop = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (p, stop) = (p.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut seen = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        p.read(|(n, v)| {
                            assert!(v.iter().all(|x| x == n), "torn read");
                            assert!(*n >= seen, "went back in time");
                            seen = *n;
                        });
                    }
                    seen
                })
            })
            .collect();
        for k in 1..=2000u64 {
            p.write(|(n, v)| {
                *n = k;
                v.iter_mut().for_each(|x| *x = k);
            });
        }
        stop.store(true, Ordering::Relaxed);
        for r in readers {
            assert!(r.join().unwrap() <= 2000);
        }
        p.read(|(n, _)| assert_eq!(*n, 2000));
    }
}
