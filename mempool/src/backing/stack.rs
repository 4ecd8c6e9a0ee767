//! A stack behind a spinlock (DPDK's "stack" mempool ops, `rte_stack` in standard mode).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::placed::ShSlice;

/// A bounded stack of object pointers protected by a spinlock.
pub struct SpinStack {
    lock: AtomicBool,
    len: AtomicUsize,
    objs: ShSlice<*mut u8>,
}

// SAFETY: `objs` is only touched while `lock` is held, which serialises all access; the
// pointers themselves are plain addresses of pool objects.
unsafe impl Send for SpinStack {}
// SAFETY: as above.
unsafe impl Sync for SpinStack {}

struct Guard<'a>(&'a SpinStack);

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.0.lock.store(false, Ordering::Release);
    }
}

impl SpinStack {
    /// A stack holding up to `objs.len()` pointers, in `objs`.
    pub fn new(objs: ShSlice<*mut u8>) -> SpinStack {
        SpinStack {
            lock: AtomicBool::new(false),
            len: AtomicUsize::new(0),
            objs,
        }
    }

    fn lock(&self) -> Guard<'_> {
        while self
            .lock
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            while self.lock.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        }
        Guard(self)
    }

    /// Pushes every pointer, or none if they do not fit.
    pub fn push_bulk(&self, objs: &[*mut u8]) -> bool {
        let _g = self.lock();
        // SAFETY: we hold the lock, so we have the only access to `objs`.
        let stack = unsafe { self.objs.slice_mut() };
        let len = self.len.load(Ordering::Relaxed);
        if len + objs.len() > stack.len() {
            return false;
        }
        stack[len..len + objs.len()].copy_from_slice(objs);
        // The last write to the stack's memory: after it, this call touches nothing.
        self.len.store(len + objs.len(), Ordering::Release);
        true
    }

    /// Pops `out.len()` pointers, or none if there are fewer.
    pub fn pop_bulk(&self, out: &mut [*mut u8]) -> bool {
        let _g = self.lock();
        let stack = &self.objs[..];
        let len = self.len.load(Ordering::Relaxed);
        let n = out.len();
        if n > len {
            return false;
        }
        out.copy_from_slice(&stack[len - n..len]);
        self.len.store(len - n, Ordering::Release);
        true
    }

    /// Pointers on the stack.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifo_and_bounds() {
        let s = SpinStack::new(ShSlice::leak(vec![std::ptr::null_mut(); 4]));
        let p = |i: usize| i as *mut u8;
        assert!(s.push_bulk(&[p(1), p(2), p(3)]));
        assert!(!s.push_bulk(&[p(4), p(5)]), "all or nothing");
        assert_eq!(s.len(), 3);
        let mut out = [std::ptr::null_mut(); 2];
        assert!(s.pop_bulk(&mut out));
        assert_eq!(out, [p(2), p(3)]);
        let mut big = [std::ptr::null_mut(); 2];
        assert!(!s.pop_bulk(&mut big));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn threads_lose_nothing() {
        let s = std::sync::Arc::new(SpinStack::new(ShSlice::leak(vec![
            std::ptr::null_mut();
            1024
        ])));
        let objs: Vec<*mut u8> = (1..=1024).map(|i| i as *mut u8).collect();
        assert!(s.push_bulk(&objs));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    let mut buf = [std::ptr::null_mut(); 8];
                    for _ in 0..20_000 {
                        if s.pop_bulk(&mut buf) {
                            assert!(s.push_bulk(&buf));
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        let mut all = vec![std::ptr::null_mut(); 1024];
        assert!(s.pop_bulk(&mut all));
        all.sort();
        assert_eq!(all, objs);
    }
}
