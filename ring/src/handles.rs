//! Typed handles: [`Producer`] and [`Consumer`], whose type carries the side's sync mode.
//!
//! A single-producer/consumer handle is `Send` but neither `Clone` nor `Sync`, so only one
//! thread at a time can use that side; multi-thread handles are `Clone + Send + Sync`.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::mem::MaybeUninit;

use crate::layout::{CLAIM_CONSUMER, CLAIM_PRODUCER};
use crate::ring::Ring;
use crate::shared::{Dequeued, Enqueued};
use crate::sync::{ConsumerMode, MultiThread, ProducerMode, SyncType};

/// The enqueue side of a ring, in mode `M` ([`Sp`](crate::Sp), [`Mp`](crate::Mp),
/// [`MpRts`](crate::MpRts), [`MpHts`](crate::MpHts)).
///
/// ```compile_fail
/// // A single-producer handle cannot be shared between threads...
/// let (tx, _rx) = rpdk_ring::RingBuilder::new(8).pair::<u32, rpdk_ring::Sp, rpdk_ring::Sc>().unwrap();
/// std::thread::scope(|s| {
///     s.spawn(|| tx.enqueue(1));
///     s.spawn(|| tx.enqueue(2));
/// });
/// ```
///
/// ```compile_fail
/// // ...nor cloned.
/// let (tx, _rx) = rpdk_ring::RingBuilder::new(8).pair::<u32, rpdk_ring::Sp, rpdk_ring::Sc>().unwrap();
/// let tx2 = tx.clone();
/// ```
///
/// ```
/// // It can move to another thread.
/// let (tx, rx) = rpdk_ring::RingBuilder::new(8).pair::<u32, rpdk_ring::Sp, rpdk_ring::Sc>().unwrap();
/// std::thread::spawn(move || tx.enqueue(1).unwrap()).join().unwrap();
/// assert_eq!(rx.dequeue(), Some(1));
/// ```
pub struct Producer<T: Copy + Send, M: ProducerMode> {
    pub(crate) ring: Ring<T>,
    // Cell: not Sync unless M is multi-thread (see the impl below).
    _mode: PhantomData<(M, Cell<()>)>,
}

/// The dequeue side of a ring, in mode `M` ([`Sc`](crate::Sc), [`Mc`](crate::Mc),
/// [`McRts`](crate::McRts), [`McHts`](crate::McHts)).
///
/// ```compile_fail
/// let (_tx, rx) = rpdk_ring::RingBuilder::new(8).pair::<u32, rpdk_ring::Sp, rpdk_ring::Sc>().unwrap();
/// let rx2 = rx.clone();
/// ```
///
/// ```compile_fail
/// // A guard cannot outlive its handle.
/// let (_tx, rx) = rpdk_ring::RingBuilder::new(8).pair::<u32, rpdk_ring::Sp, rpdk_ring::Sc>().unwrap();
/// let mut rx = rx;
/// let guard = rx.dequeue_zc_burst_start(4);
/// drop(rx);
/// drop(guard);
/// ```
pub struct Consumer<T: Copy + Send, M: ConsumerMode> {
    pub(crate) ring: Ring<T>,
    _mode: PhantomData<(M, Cell<()>)>,
}

// SAFETY: multi-thread protocols are safe to run from any number of threads at once; the
// handle holds nothing but the shared ring.
unsafe impl<T: Copy + Send, M: ProducerMode + MultiThread> Sync for Producer<T, M> {}
// SAFETY: as for Producer.
unsafe impl<T: Copy + Send, M: ConsumerMode + MultiThread> Sync for Consumer<T, M> {}

impl<T: Copy + Send, M: ProducerMode + MultiThread> Clone for Producer<T, M> {
    fn clone(&self) -> Self {
        Producer::new(self.ring.clone())
    }
}

impl<T: Copy + Send, M: ConsumerMode + MultiThread> Clone for Consumer<T, M> {
    fn clone(&self) -> Self {
        Consumer::new(self.ring.clone())
    }
}

impl<T: Copy + Send, M: ProducerMode> Drop for Producer<T, M> {
    fn drop(&mut self) {
        if M::SYNC == SyncType::St {
            self.ring.shared.release(CLAIM_PRODUCER);
        }
    }
}

impl<T: Copy + Send, M: ConsumerMode> Drop for Consumer<T, M> {
    fn drop(&mut self) {
        if M::SYNC == SyncType::St {
            self.ring.shared.release(CLAIM_CONSUMER);
        }
    }
}

impl<T: Copy + Send, M: ProducerMode> Producer<T, M> {
    /// Wraps a ring whose producer mode is `M` (and, for SP, whose claim was taken).
    pub(crate) fn new(ring: Ring<T>) -> Self {
        Producer {
            ring,
            _mode: PhantomData,
        }
    }

    /// The ring (for its name, counts and run-time operations).
    pub fn ring(&self) -> &Ring<T> {
        &self.ring
    }

    /// Enqueues one element (DPDK's `rte_ring_enqueue`); gives it back if the ring is full.
    #[inline]
    pub fn enqueue(&self, obj: T) -> Result<(), T> {
        // SAFETY: M's protocol is the producer side's (checked when the handle was made); a
        // single-producer handle is unique and not Sync, so no other thread enqueues with it.
        unsafe { self.ring.shared.enqueue_one::<M::Protocol>(obj) }
    }

    /// Enqueues all of `objs` or none (DPDK's `rte_ring_enqueue_bulk`); `count` is 0 or
    /// `objs.len()`, `free_space` what is left.
    #[inline]
    pub fn enqueue_bulk(&self, objs: &[T]) -> Enqueued {
        // SAFETY: as in `enqueue`; `objs` is readable.
        unsafe {
            self.ring
                .shared
                .enqueue::<M::Protocol>(objs.as_ptr(), objs.len(), true)
        }
    }

    /// Enqueues as many of `objs` as fit, in order (DPDK's `rte_ring_enqueue_burst`).
    #[inline]
    pub fn enqueue_burst(&self, objs: &[T]) -> Enqueued {
        // SAFETY: as in `enqueue`; `objs` is readable.
        unsafe {
            self.ring
                .shared
                .enqueue::<M::Protocol>(objs.as_ptr(), objs.len(), false)
        }
    }
}

impl<T: Copy + Send, M: ConsumerMode> Consumer<T, M> {
    /// Wraps a ring whose consumer mode is `M` (and, for SC, whose claim was taken).
    pub(crate) fn new(ring: Ring<T>) -> Self {
        Consumer {
            ring,
            _mode: PhantomData,
        }
    }

    /// The ring (for its name, counts and run-time operations).
    pub fn ring(&self) -> &Ring<T> {
        &self.ring
    }

    /// Dequeues one element (DPDK's `rte_ring_dequeue`).
    #[inline]
    pub fn dequeue(&self) -> Option<T> {
        // SAFETY: M's protocol is the consumer side's; a single-consumer handle is unique and
        // not Sync.
        unsafe { self.ring.shared.dequeue_one::<M::Protocol>() }
    }

    /// Fills all of `out` or dequeues nothing (DPDK's `rte_ring_dequeue_bulk`); `available`
    /// is what is left in the ring.
    #[inline]
    pub fn dequeue_bulk(&self, out: &mut [T]) -> Dequeued {
        // SAFETY: as in `dequeue`; `out` is writable.
        unsafe {
            self.ring
                .shared
                .dequeue::<M::Protocol>(out.as_mut_ptr(), out.len(), true)
        }
    }

    /// Dequeues up to `out.len()` elements into the start of `out` (DPDK's
    /// `rte_ring_dequeue_burst`).
    #[inline]
    pub fn dequeue_burst(&self, out: &mut [T]) -> Dequeued {
        // SAFETY: as in `dequeue`; `out` is writable.
        unsafe {
            self.ring
                .shared
                .dequeue::<M::Protocol>(out.as_mut_ptr(), out.len(), false)
        }
    }

    /// As [`dequeue_bulk`](Self::dequeue_bulk), into memory not yet initialised: on success
    /// every element of `out` is.
    #[inline]
    pub fn dequeue_bulk_uninit(&self, out: &mut [MaybeUninit<T>]) -> Dequeued {
        // SAFETY: as in `dequeue`; `out` is writable, and the dequeue only writes it.
        unsafe {
            self.ring
                .shared
                .dequeue::<M::Protocol>(out.as_mut_ptr().cast(), out.len(), true)
        }
    }

    /// As [`dequeue_burst`](Self::dequeue_burst), into memory not yet initialised: the first
    /// `count` elements of `out` are, after it.
    #[inline]
    pub fn dequeue_burst_uninit(&self, out: &mut [MaybeUninit<T>]) -> Dequeued {
        // SAFETY: as in `dequeue_bulk_uninit`.
        unsafe {
            self.ring
                .shared
                .dequeue::<M::Protocol>(out.as_mut_ptr().cast(), out.len(), false)
        }
    }
}

impl<T: Copy + Send, M: ProducerMode> fmt::Debug for Producer<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("mode", &M::SYNC.producer_name())
            .field("ring", &self.ring)
            .finish()
    }
}

impl<T: Copy + Send, M: ConsumerMode> fmt::Debug for Consumer<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("mode", &M::SYNC.consumer_name())
            .field("ring", &self.ring)
            .finish()
    }
}
