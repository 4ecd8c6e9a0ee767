//! A ring of object pointers (DPDK's `ring_*` mempool ops, `drivers/mempool/ring`), in any of
//! rpdk-ring's sync modes.

use rpdk_ring::{Ring, RingBuilder, SyncType};

/// An object pointer as a ring element.
#[derive(Clone, Copy)]
#[repr(transparent)]
struct ObjPtr(*mut u8);

// SAFETY: a pool object's address, handed between threads as the pool does; the ring never
// dereferences it.
unsafe impl Send for ObjPtr {}

/// The free objects of a pool in a ring of `(n + 1).next_power_of_two()` slots, as DPDK's
/// `ring_alloc`, so that every object fits.
pub struct RingStore {
    ring: Ring<ObjPtr>,
}

impl RingStore {
    /// A ring for `capacity` objects, empty, with the given producer (put) and consumer (get)
    /// modes.
    pub fn new(capacity: usize, put: SyncType, get: SyncType) -> Result<RingStore, String> {
        let count = u32::try_from(capacity + 1)
            .ok()
            .and_then(u32::checked_next_power_of_two)
            .ok_or_else(|| format!("{capacity} objects do not fit a ring"))?;
        let ring = RingBuilder::new(count)
            .sync(put, get)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(RingStore { ring })
    }

    /// Adds every pointer, or none if they do not fit.
    ///
    /// # Safety
    /// With a single-producer ring, no other thread adds at the same time.
    #[inline(always)]
    pub unsafe fn push_bulk(&self, objs: &[*mut u8]) -> bool {
        // SAFETY: ObjPtr is a transparent *mut u8.
        let objs = unsafe { &*(objs as *const [*mut u8] as *const [ObjPtr]) };
        // SAFETY: the caller's single-producer contract.
        unsafe { self.ring.enqueue_bulk(objs) }.count == objs.len()
    }

    /// Takes `out.len()` pointers, or none.
    ///
    /// # Safety
    /// With a single-consumer ring, no other thread takes at the same time.
    #[inline(always)]
    pub unsafe fn pop_bulk(&self, out: &mut [*mut u8]) -> bool {
        let n = out.len();
        // SAFETY: ObjPtr is a transparent *mut u8.
        let out = unsafe { &mut *(out as *mut [*mut u8] as *mut [ObjPtr]) };
        // SAFETY: the caller's single-consumer contract.
        unsafe { self.ring.dequeue_bulk(out) }.count == n
    }

    /// Pointers held.
    pub fn len(&self) -> usize {
        self.ring.count()
    }
}
