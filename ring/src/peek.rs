//! The peek API (DPDK's `rte_ring_peek.h`) on SP/SC and HTS handles: a `*_start` reserves
//! (for a dequeue, also copies the elements out), and the guard's `finish` publishes as many
//! as wanted; the rest of the reservation goes back. Dropping a guard without `finish` hands
//! the whole reservation back.
//!
//! On an HTS side an open reservation holds the whole side: every other operation on it, from
//! any handle or thread, waits until the guard is finished or dropped. Keep reservations short,
//! and never start an operation on another handle of the same side while holding one on the
//! same thread (it would wait forever). The same holds for [zero-copy](crate::zc).
//!
//! ```
//! use rpdk_ring::{RingBuilder, Sc, Sp};
//!
//! let (mut tx, mut rx) = RingBuilder::new(8).pair::<u32, Sp, Sc>()?;
//! assert_eq!(tx.enqueue_burst(&[1, 2, 3]).count, 3);
//! let mut out = [0; 3];
//! let peek = rx.dequeue_bulk_start(&mut out); // copies 1, 2, 3 out; still in the ring
//! assert_eq!(peek.len(), 3);
//! peek.finish(1); // only 1 leaves
//! assert_eq!(rx.dequeue(), Some(2));
//!
//! let res = tx.enqueue_bulk_start(2); // room for 2 reserved
//! res.finish(&[9]); // 9 goes in; the other slot is handed back
//! assert_eq!(rx.ring().count(), 2);
//! # Ok::<(), rpdk_ring::Error>(())
//! ```

use std::marker::PhantomData;

use crate::handles::{Consumer, Producer};
use crate::headtail::Reservation;
use crate::shared::Shared;
use crate::sync::{ConsumerMode, Peek, ProducerMode};

/// An open peek enqueue: room for [`len`](Self::len) elements is reserved.
#[must_use = "dropping the reservation hands it back; call finish"]
pub struct EnqueuePeek<'a, T: Copy + Send, M: ProducerMode + Peek> {
    shared: &'a Shared<T>,
    r: Reservation,
    _handle: PhantomData<&'a mut Producer<T, M>>,
}

/// An open peek dequeue: [`len`](Self::len) elements were copied out and are still in the ring.
#[must_use = "dropping the reservation leaves the elements in the ring; call finish"]
pub struct DequeuePeek<'a, T: Copy + Send, M: ConsumerMode + Peek> {
    shared: &'a Shared<T>,
    r: Reservation,
    _handle: PhantomData<&'a mut Consumer<T, M>>,
}

impl<T: Copy + Send, M: ProducerMode + Peek> Producer<T, M> {
    /// Reserves room for `n` elements, or nothing if there is less room (DPDK's
    /// `rte_ring_enqueue_bulk_start`).
    #[inline]
    pub fn enqueue_bulk_start(&mut self, n: usize) -> EnqueuePeek<'_, T, M> {
        self.enqueue_start(n, true)
    }

    /// Reserves room for up to `n` elements (DPDK's `rte_ring_enqueue_burst_start`).
    #[inline]
    pub fn enqueue_burst_start(&mut self, n: usize) -> EnqueuePeek<'_, T, M> {
        self.enqueue_start(n, false)
    }

    #[inline(always)]
    fn enqueue_start(&mut self, n: usize, fixed: bool) -> EnqueuePeek<'_, T, M> {
        let shared = &*self.ring.shared;
        // SAFETY: M's protocol is the producer's; `&mut self` keeps this handle from any other
        // enqueue until the guard is gone (and an SP handle is the only producer).
        let r = unsafe { shared.enqueue_start::<M::PeekProtocol>(n, fixed) };
        EnqueuePeek {
            shared,
            r,
            _handle: PhantomData,
        }
    }
}

impl<T: Copy + Send, M: ProducerMode + Peek> EnqueuePeek<'_, T, M> {
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

    /// Enqueues `objs` (at most [`len`](Self::len) of them) and hands the rest of the
    /// reservation back (DPDK's `rte_ring_enqueue_finish`). Returns how many were enqueued.
    #[inline]
    pub fn finish(self, objs: &[T]) -> usize {
        let k = objs.len().min(self.r.n as usize) as u32;
        if self.r.n != 0 {
            // SAFETY: `r` is our open reservation on the producer side; `objs` has k elements.
            unsafe {
                self.shared
                    .enqueue_finish::<M::PeekProtocol>(self.r, objs.as_ptr(), k)
            };
        }
        std::mem::forget(self);
        k as usize
    }
}

impl<T: Copy + Send, M: ProducerMode + Peek> Drop for EnqueuePeek<'_, T, M> {
    fn drop(&mut self) {
        if self.r.n != 0 {
            // SAFETY: our open reservation; zero elements are published.
            unsafe {
                self.shared
                    .enqueue_finish::<M::PeekProtocol>(self.r, std::ptr::null(), 0)
            };
        }
    }
}

impl<T: Copy + Send, M: ConsumerMode + Peek> Consumer<T, M> {
    /// Copies `out.len()` elements into `out` and reserves them, or nothing if fewer are there
    /// (DPDK's `rte_ring_dequeue_bulk_start`).
    #[inline]
    pub fn dequeue_bulk_start(&mut self, out: &mut [T]) -> DequeuePeek<'_, T, M> {
        self.dequeue_start(out, true)
    }

    /// Copies up to `out.len()` elements into the start of `out` and reserves them (DPDK's
    /// `rte_ring_dequeue_burst_start`).
    #[inline]
    pub fn dequeue_burst_start(&mut self, out: &mut [T]) -> DequeuePeek<'_, T, M> {
        self.dequeue_start(out, false)
    }

    #[inline(always)]
    fn dequeue_start(&mut self, out: &mut [T], fixed: bool) -> DequeuePeek<'_, T, M> {
        let shared = &*self.ring.shared;
        // SAFETY: M's protocol is the consumer's; `&mut self` keeps this handle from any
        // other dequeue until the guard is gone; `out` is writable.
        let r =
            unsafe { shared.dequeue_start::<M::PeekProtocol>(out.as_mut_ptr(), out.len(), fixed) };
        DequeuePeek {
            shared,
            r,
            _handle: PhantomData,
        }
    }
}

impl<T: Copy + Send, M: ConsumerMode + Peek> DequeuePeek<'_, T, M> {
    /// How many elements were copied out and reserved.
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

    /// Removes the first `n` reserved elements from the ring (at most [`len`](Self::len)) and
    /// leaves the rest (DPDK's `rte_ring_dequeue_finish`). Returns how many were removed.
    #[inline]
    pub fn finish(self, n: usize) -> usize {
        let k = n.min(self.r.n as usize) as u32;
        if self.r.n != 0 {
            // SAFETY: our open reservation on the consumer side; k is within it.
            unsafe { self.shared.dequeue_finish::<M::PeekProtocol>(self.r, k) };
        }
        std::mem::forget(self);
        k as usize
    }
}

impl<T: Copy + Send, M: ConsumerMode + Peek> Drop for DequeuePeek<'_, T, M> {
    fn drop(&mut self) {
        if self.r.n != 0 {
            // SAFETY: our open reservation; nothing is removed.
            unsafe { self.shared.dequeue_finish::<M::PeekProtocol>(self.r, 0) };
        }
    }
}
