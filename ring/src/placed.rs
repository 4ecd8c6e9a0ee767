//! Rings in memory their user provides and keeps alive, as a plain value: a header pointer and
//! the ring's geometry, with no reference count or heap pointer, so that the value itself may
//! be stored in shared memory that every process maps at the same address (a mempool's
//! backing store lives in the pool's memzone this way).

use std::ptr::NonNull;

use crate::error::Result;
use crate::layout::HEADER_ALIGN;
use crate::ring::RingBuilder;
use crate::shared::{Backing, Dequeued, Enqueued, Shared};

/// A ring in caller-provided memory (see the module docs). It never frees that memory.
pub struct PlacedRing<T> {
    shared: Shared<T>,
}

// SAFETY: as `Ring<T>`: the header is atomics, slots are handed over by the protocols.
unsafe impl<T: Send> Send for PlacedRing<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for PlacedRing<T> {}

impl RingBuilder {
    /// The bytes, and the alignment, that [`build_at`](Self::build_at) needs for this ring.
    pub fn placed_layout<T: Copy + Send>(&self) -> Result<(usize, usize)> {
        let (_, bytes) = self.plan::<T>()?;
        Ok((bytes, HEADER_ALIGN.max(align_of::<T>())))
    }

    /// Builds the ring in `mem`.
    ///
    /// # Safety
    /// `mem` is valid for the bytes [`placed_layout`](Self::placed_layout) gives, aligned as it
    /// says, used by nothing else, and outlives every use of the returned ring (in every
    /// process that maps it).
    pub unsafe fn build_at<T: Copy + Send>(&self, mem: NonNull<u8>) -> Result<PlacedRing<T>> {
        let (init, _) = self.plan::<T>()?;
        Ok(PlacedRing {
            // SAFETY: the caller's contract.
            shared: unsafe { Shared::init_at(mem, &init, Backing::External) },
        })
    }
}

impl<T: Copy + Send> PlacedRing<T> {
    /// Enqueues all of `objs` or none (DPDK's `rte_ring_enqueue_bulk`).
    ///
    /// # Safety
    /// On a single-producer ring, no other thread enqueues at the same time.
    #[inline(always)]
    pub unsafe fn enqueue_bulk(&self, objs: &[T]) -> Enqueued {
        let s = &self.shared;
        // SAFETY: the producer side's sync type; `objs` is readable; the caller's contract.
        unsafe { s.enqueue_dyn(s.prod_sync(), objs.as_ptr(), objs.len(), true) }
    }

    /// Dequeues `out.len()` elements or none (DPDK's `rte_ring_dequeue_bulk`).
    ///
    /// # Safety
    /// On a single-consumer ring, no other thread dequeues at the same time.
    #[inline(always)]
    pub unsafe fn dequeue_bulk(&self, out: &mut [T]) -> Dequeued {
        let s = &self.shared;
        // SAFETY: the consumer side's sync type; `out` is writable; the caller's contract.
        unsafe { s.dequeue_dyn(s.cons_sync(), out.as_mut_ptr(), out.len(), true) }
    }

    /// Elements in the ring now.
    pub fn count(&self) -> usize {
        self.shared.count() as usize
    }
}
