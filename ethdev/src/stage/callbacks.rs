//! A queue's list of callbacks: read lock-free by the lcore that polls the queue, changed by
//! control threads, and freed only once that lcore cannot be reading it any more.
//!
//! The protocol (what DPDK leaves to the application with `rte_rcu_qsbr`, built in here):
//!
//! - The list is published through one atomic pointer, null when there is no callback: a queue
//!   with none pays one relaxed load and a branch that always goes the same way.
//! - The queue has one reader at a time (its handle's owner). Before it reads the pointer, it
//!   makes its sequence counter odd, then a full fence; when done, it makes it even again
//!   (release). Control threads never write the counter.
//! - A change builds a new list, swaps it in, then a full fence, then reads the counter: even
//!   means the reader is outside and, by the two fences, will see the new list next time; odd
//!   means it may hold the old list, so the change waits until the counter moves on. Only then
//!   is the old list dropped, and the change returns. So once `remove` returns, the removed
//!   callback is never called again.

use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering, fence};
use std::sync::{Arc, Mutex, MutexGuard};

/// The entries of a published list: `(id, callback)`, in calling order.
struct Entries<F: ?Sized> {
    list: Vec<(u64, Arc<F>)>,
}

/// A list of callbacks of type `F` (a `dyn Fn`), with quiescent-state removal.
pub(crate) struct CallbackList<F: ?Sized> {
    /// The published entries, or null.
    head: AtomicPtr<Entries<F>>,
    /// Odd while the reader is inside [`run`](Self::run).
    seq: AtomicU64,
    /// Serialises changes; holds the next id.
    writer: Mutex<u64>,
}

// SAFETY: the entries behind `head` are only read through `&Arc<F>` (F: Send + Sync) and are
// freed by one writer at a time after the reader is quiescent (see the module's protocol).
unsafe impl<F: ?Sized + Send + Sync> Send for CallbackList<F> {}
// SAFETY: as above; every shared field is atomic or behind the mutex.
unsafe impl<F: ?Sized + Send + Sync> Sync for CallbackList<F> {}

impl<F: ?Sized> Default for CallbackList<F> {
    fn default() -> Self {
        CallbackList {
            head: AtomicPtr::new(std::ptr::null_mut()),
            seq: AtomicU64::new(0),
            writer: Mutex::new(1),
        }
    }
}

impl<F: ?Sized> CallbackList<F> {
    /// Whether there is no callback (the burst path's one branch).
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.head.load(Ordering::Relaxed).is_null()
    }

    /// Calls `f` on each callback in order. Only the queue's owner calls this (one thread at a
    /// time: the queue handle is not `Sync`).
    #[inline]
    pub fn run(&self, mut f: impl FnMut(&F)) {
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let p = self.head.load(Ordering::Acquire);
        if !p.is_null() {
            // SAFETY: `p` was published by a writer and is not freed while `seq` is odd: a
            // writer that swapped it out waits for `seq` to change before dropping it.
            let entries = unsafe { &*p };
            for (_, cb) in &entries.list {
                f(cb);
            }
        }
        self.seq.store(s.wrapping_add(2), Ordering::Release);
    }

    fn lock(&self) -> MutexGuard<'_, u64> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The callbacks as they are now (the writer's lock is held).
    fn current(&self) -> Vec<(u64, Arc<F>)> {
        let p = self.head.load(Ordering::Acquire);
        if p.is_null() {
            return Vec::new();
        }
        // SAFETY: only writers free entries, and the caller holds the writer's lock.
        unsafe { (*p).list.clone() }
    }

    /// Publishes `list` (the writer's lock is held) and frees the old one once the reader is
    /// quiescent.
    fn publish(&self, list: Vec<(u64, Arc<F>)>) {
        let new = if list.is_empty() {
            std::ptr::null_mut()
        } else {
            Box::into_raw(Box::new(Entries { list }))
        };
        let old = self.head.swap(new, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let s = self.seq.load(Ordering::Acquire);
        if s % 2 == 1 {
            let mut spins = 0u32;
            while self.seq.load(Ordering::Acquire) == s {
                spins += 1;
                if spins < 64 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
        if !old.is_null() {
            // SAFETY: `old` came from Box::into_raw in an earlier publish, was swapped out
            // above, and the reader is past any use of it (the wait above).
            drop(unsafe { Box::from_raw(old) });
        }
    }

    /// Adds `cb` last (or first), returns its id.
    pub fn add(&self, cb: Arc<F>, first: bool) -> u64 {
        let mut next = self.lock();
        let id = *next;
        *next += 1;
        let mut list = self.current();
        if first {
            list.insert(0, (id, cb));
        } else {
            list.push((id, cb));
        }
        self.publish(list);
        id
    }

    /// Removes every callback; returns once the reader can no longer be calling them.
    pub fn clear(&self) {
        let _w = self.lock();
        if !self.current().is_empty() {
            self.publish(Vec::new());
        }
    }

    /// Removes callback `id`; returns once the reader can no longer be calling it. False when
    /// there is no such callback.
    pub fn remove(&self, id: u64) -> bool {
        let _w = self.lock();
        let mut list = self.current();
        let Some(i) = list.iter().position(|(e, _)| *e == id) else {
            return false;
        };
        list.remove(i);
        self.publish(list);
        true
    }
}

impl<F: ?Sized> Drop for CallbackList<F> {
    fn drop(&mut self) {
        let p = *self.head.get_mut();
        if !p.is_null() {
            // SAFETY: nobody else holds the list any more (`&mut self`).
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize};

    type Cb = dyn Fn(&AtomicUsize) + Send + Sync;

    #[test]
    fn order_first_and_removal() {
        let l = CallbackList::<Cb>::default();
        assert!(l.is_empty());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mk = |tag: u32| -> Arc<Cb> {
            let seen = seen.clone();
            Arc::new(move |_: &AtomicUsize| seen.lock().unwrap().push(tag))
        };
        let a = l.add(mk(1), false);
        l.add(mk(2), false);
        l.add(mk(0), true);
        let n = AtomicUsize::new(0);
        l.run(|cb| cb(&n));
        assert_eq!(*seen.lock().unwrap(), [0, 1, 2]);
        assert!(l.remove(a));
        assert!(!l.remove(a), "removed once");
        seen.lock().unwrap().clear();
        l.run(|cb| cb(&n));
        assert_eq!(*seen.lock().unwrap(), [0, 2]);
    }

    /// A reader runs the list in a loop while a writer adds and removes; after each removal
    /// returns, the removed callback must never run again.
    #[test]
    fn removed_callbacks_never_run_after_remove_returns() {
        let l = Arc::new(CallbackList::<Cb>::default());
        let stop = Arc::new(AtomicBool::new(false));
        let violations = Arc::new(AtomicUsize::new(0));
        let reader = {
            let (l, stop) = (l.clone(), stop.clone());
            std::thread::spawn(move || {
                let n = AtomicUsize::new(0);
                while !stop.load(Ordering::Relaxed) {
                    l.run(|cb| cb(&n));
                }
                n.load(Ordering::Relaxed)
            })
        };
        for _ in 0..2000 {
            let removed = Arc::new(AtomicBool::new(false));
            let called = Arc::new(AtomicBool::new(false));
            let cb: Arc<Cb> = {
                let (removed, violations) = (removed.clone(), violations.clone());
                let called = called.clone();
                // Looks at the mark for a while: removal must wait until it is done.
                Arc::new(move |n: &AtomicUsize| {
                    called.store(true, Ordering::SeqCst);
                    for _ in 0..200 {
                        if removed.load(Ordering::SeqCst) {
                            violations.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        std::hint::spin_loop();
                    }
                    n.fetch_add(1, Ordering::Relaxed);
                })
            };
            let id = l.add(cb, false);
            // Removed while the reader is most likely inside it.
            while !called.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
            assert!(l.remove(id));
            removed.store(true, Ordering::SeqCst);
        }
        stop.store(true, Ordering::Relaxed);
        reader.join().unwrap();
        assert_eq!(violations.load(Ordering::Relaxed), 0);
        assert!(l.is_empty());
    }
}
