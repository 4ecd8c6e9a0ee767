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

use crossbeam_utils::CachePadded;
use std::cell::UnsafeCell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

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
    copies: [UnsafeCell<T>; 2],
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
        Published {
            copies: [UnsafeCell::new(value.clone()), UnsafeCell::new(value)],
            active: AtomicUsize::new(0),
            readers: (0..SLOTS)
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
        let private = is_private(s);
        let counters = &self.readers[s];
        let i = loop {
            let i = self.active.load(Ordering::SeqCst);
            let c = &counters[i];
            if private {
                c.store(c.load(Ordering::Relaxed) + 1, Ordering::SeqCst);
            } else {
                c.fetch_add(1, Ordering::SeqCst);
            }
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
        f(unsafe { &*self.copies[i].get() })
    }

    fn drain(&self, copy: usize) {
        let mut spins = 0u32;
        for r in self.readers.iter() {
            while r[copy].load(Ordering::SeqCst) != 0 {
                spins += 1;
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
        op(unsafe { &mut *self.copies[b].get() });
        self.active.store(b, Ordering::SeqCst);
        self.drain(a);
        // SAFETY: as above, for `a` now that `b` is the active copy.
        op(unsafe { &mut *self.copies[a].get() })
    }

    /// Reads the current state from the control path (under the writer lock, so it is stable).
    pub fn inspect<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        let _g = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let a = self.active.load(Ordering::SeqCst);
        // SAFETY: writers are excluded by the lock, and readers only read.
        f(unsafe { &*self.copies[a].get() })
    }
}

#[cfg(test)]
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
