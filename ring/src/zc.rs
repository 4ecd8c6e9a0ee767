//! The zero-copy API (DPDK's `rte_ring_peek_zc.h`) on SP/SC and HTS handles: a `*_start`
//! reserves slots and the guard gives them as up to two slices (two when the reservation wraps
//! around the end of the ring); `finish` publishes. Dropping a guard without `finish` hands the
//! reservation back.
//!
//! ```
//! use rpdk_ring::{McHts, MpHts, RingBuilder};
//!
//! let (mut tx, mut rx) = RingBuilder::new(8).pair::<u64, MpHts, McHts>()?;
//! let mut zc = tx.enqueue_zc_burst_start(3);
//! for v in [10, 20, 30] {
//!     zc.push(v).unwrap(); // written straight into the ring's slots
//! }
//! assert_eq!(zc.finish(), 3);
//!
//! let zc = rx.dequeue_zc_bulk_start(2);
//! let (a, b) = zc.slices(); // read in place
//! assert_eq!([a, b].concat(), [10, 20]);
//! zc.finish(2);
//! assert_eq!(rx.dequeue(), Some(30));
//! # Ok::<(), rpdk_ring::Error>(())
//! ```

use std::marker::PhantomData;
use std::mem::MaybeUninit;

use crate::handles::{Consumer, Producer};
use crate::headtail::Reservation;
use crate::shared::Shared;
use crate::sync::{ConsumerMode, Peek, ProducerMode};

/// An open zero-copy enqueue: [`len`](Self::len) slots of the ring, to write in place.
#[must_use = "dropping the reservation hands it back; call finish"]
pub struct EnqueueZc<'a, T: Copy + Send, M: ProducerMode + Peek> {
    shared: &'a Shared<T>,
    r: Reservation,
    runs: [(*mut MaybeUninit<T>, usize); 2],
    written: usize,
    _handle: PhantomData<&'a mut Producer<T, M>>,
}

/// An open zero-copy dequeue: [`len`](Self::len) elements, readable in place.
#[must_use = "dropping the reservation leaves the elements in the ring; call finish"]
pub struct DequeueZc<'a, T: Copy + Send, M: ConsumerMode + Peek> {
    shared: &'a Shared<T>,
    r: Reservation,
    runs: [(*mut MaybeUninit<T>, usize); 2],
    _handle: PhantomData<&'a mut Consumer<T, M>>,
}

impl<T: Copy + Send, M: ProducerMode + Peek> Producer<T, M> {
    /// Reserves `n` slots, or none if there is less room (DPDK's
    /// `rte_ring_enqueue_zc_bulk_start`).
    #[inline]
    pub fn enqueue_zc_bulk_start(&mut self, n: usize) -> EnqueueZc<'_, T, M> {
        self.enqueue_zc_start(n, true)
    }

    /// Reserves up to `n` slots (DPDK's `rte_ring_enqueue_zc_burst_start`).
    #[inline]
    pub fn enqueue_zc_burst_start(&mut self, n: usize) -> EnqueueZc<'_, T, M> {
        self.enqueue_zc_start(n, false)
    }

    #[inline(always)]
    fn enqueue_zc_start(&mut self, n: usize, fixed: bool) -> EnqueueZc<'_, T, M> {
        let shared = &*self.ring.shared;
        // SAFETY: M's protocol is the producer's; `&mut self` keeps this handle from any other
        // enqueue until the guard is gone.
        let r = unsafe { shared.enqueue_start::<M::PeekProtocol>(n, fixed) };
        EnqueueZc {
            shared,
            r,
            runs: shared.runs(r),
            written: 0,
            _handle: PhantomData,
        }
    }
}

impl<T: Copy + Send, M: ProducerMode + Peek> EnqueueZc<'_, T, M> {
    /// How many slots are reserved.
    pub fn len(&self) -> usize {
        self.r.n as usize
    }

    /// Whether nothing was reserved.
    pub fn is_empty(&self) -> bool {
        self.r.n == 0
    }

    /// Free slots left besides the reservation.
    pub fn free_space(&self) -> usize {
        self.r.entries.wrapping_sub(self.r.n) as usize
    }

    /// How many elements are written so far (they will be published by [`finish`]).
    ///
    /// [`finish`]: Self::finish
    pub fn written(&self) -> usize {
        self.written
    }

    /// Writes the next slot in place; gives `obj` back if the reservation is full.
    #[inline]
    pub fn push(&mut self, obj: T) -> Result<(), T> {
        let i = self.written;
        if i >= self.r.n as usize {
            return Err(obj);
        }
        let (run, idx) = if i < self.runs[0].1 {
            (self.runs[0].0, i)
        } else {
            (self.runs[1].0, i - self.runs[0].1)
        };
        // SAFETY: idx is inside the run, whose slots are reserved for this guard alone.
        unsafe { (*run.add(idx)).write(obj) };
        self.written += 1;
        Ok(())
    }

    /// The reserved slots, as up to two runs (DPDK's `ptr1`/`n1` and `ptr2`), to write in
    /// place; then say how many with [`set_written`](Self::set_written).
    pub fn slices_mut(&mut self) -> (&mut [MaybeUninit<T>], &mut [MaybeUninit<T>]) {
        // SAFETY: the runs are slots of the ring reserved for this guard alone, valid while
        // the ring lives (the guard borrows its handle); they do not overlap.
        unsafe {
            (
                std::slice::from_raw_parts_mut(self.runs[0].0, self.runs[0].1),
                std::slice::from_raw_parts_mut(self.runs[1].0, self.runs[1].1),
            )
        }
    }

    /// Says that the first `n` reserved slots (in run order) are written.
    ///
    /// # Safety
    /// They are initialised (through [`slices_mut`](Self::slices_mut) or
    /// [`push`](Self::push)), and `n <= len()`.
    pub unsafe fn set_written(&mut self, n: usize) {
        self.written = n.min(self.r.n as usize);
    }

    /// Publishes the written elements and hands the other slots back (DPDK's
    /// `rte_ring_enqueue_zc_finish`). Returns how many were enqueued.
    #[inline]
    pub fn finish(self) -> usize {
        let k = self.written;
        if self.r.n != 0 {
            // SAFETY: our open reservation; its first k slots are initialised.
            unsafe {
                self.shared
                    .enqueue_commit::<M::PeekProtocol>(self.r, k as u32)
            };
        }
        std::mem::forget(self);
        k
    }
}

impl<T: Copy + Send, M: ProducerMode + Peek> Drop for EnqueueZc<'_, T, M> {
    fn drop(&mut self) {
        if self.r.n != 0 {
            // SAFETY: our open reservation; nothing is published.
            unsafe { self.shared.enqueue_commit::<M::PeekProtocol>(self.r, 0) };
        }
    }
}

impl<T: Copy + Send, M: ConsumerMode + Peek> Consumer<T, M> {
    /// Reserves `n` elements, or none if fewer are there (DPDK's
    /// `rte_ring_dequeue_zc_bulk_start`).
    #[inline]
    pub fn dequeue_zc_bulk_start(&mut self, n: usize) -> DequeueZc<'_, T, M> {
        self.dequeue_zc_start(n, true)
    }

    /// Reserves up to `n` elements (DPDK's `rte_ring_dequeue_zc_burst_start`).
    #[inline]
    pub fn dequeue_zc_burst_start(&mut self, n: usize) -> DequeueZc<'_, T, M> {
        self.dequeue_zc_start(n, false)
    }

    #[inline(always)]
    fn dequeue_zc_start(&mut self, n: usize, fixed: bool) -> DequeueZc<'_, T, M> {
        let shared = &*self.ring.shared;
        // SAFETY: M's protocol is the consumer's; `&mut self` keeps this handle from any
        // other dequeue until the guard is gone; a null destination copies nothing.
        let r = unsafe { shared.dequeue_start::<M::PeekProtocol>(std::ptr::null_mut(), n, fixed) };
        DequeueZc {
            shared,
            r,
            runs: shared.runs(r),
            _handle: PhantomData,
        }
    }
}

impl<T: Copy + Send, M: ConsumerMode + Peek> DequeueZc<'_, T, M> {
    /// How many elements are reserved.
    pub fn len(&self) -> usize {
        self.r.n as usize
    }

    /// Whether nothing was reserved.
    pub fn is_empty(&self) -> bool {
        self.r.n == 0
    }

    /// Elements in the ring besides the reservation.
    pub fn available(&self) -> usize {
        self.r.entries.wrapping_sub(self.r.n) as usize
    }

    /// The reserved elements in place, as up to two runs (the second is empty unless the
    /// reservation wraps around the end of the ring).
    pub fn slices(&self) -> (&[T], &[T]) {
        // SAFETY: the runs are slots reserved for this guard, holding published (initialised)
        // elements that no producer may overwrite before we finish; valid while the ring lives.
        unsafe {
            (
                std::slice::from_raw_parts(self.runs[0].0.cast::<T>(), self.runs[0].1),
                std::slice::from_raw_parts(self.runs[1].0.cast::<T>(), self.runs[1].1),
            )
        }
    }

    /// Removes the first `n` reserved elements (at most [`len`](Self::len)) and leaves the
    /// rest (DPDK's `rte_ring_dequeue_zc_finish`). Returns how many were removed.
    #[inline]
    pub fn finish(self, n: usize) -> usize {
        let k = n.min(self.r.n as usize) as u32;
        if self.r.n != 0 {
            // SAFETY: our open reservation; k is within it.
            unsafe { self.shared.dequeue_finish::<M::PeekProtocol>(self.r, k) };
        }
        std::mem::forget(self);
        k as usize
    }
}

impl<T: Copy + Send, M: ConsumerMode + Peek> Drop for DequeueZc<'_, T, M> {
    fn drop(&mut self) {
        if self.r.n != 0 {
            // SAFETY: our open reservation; nothing is removed.
            unsafe { self.shared.dequeue_finish::<M::PeekProtocol>(self.r, 0) };
        }
    }
}
