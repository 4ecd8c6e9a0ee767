//! A ring of object pointers (DPDK's `ring_*` mempool ops, `drivers/mempool/ring`), in any of
//! rpdk-ring's sync modes.

use std::ptr::NonNull;

use rpdk_ring::{PlacedRing, RingBuilder, SyncType};

/// An object pointer as a ring element.
#[derive(Clone, Copy)]
#[repr(transparent)]
struct ObjPtr(*mut u8);

// SAFETY: a pool object's address, handed between threads as the pool does; the ring never
// dereferences it.
unsafe impl Send for ObjPtr {}

/// The free objects of a pool in a ring of `(n + 1).next_power_of_two()` slots, as DPDK's
/// `ring_alloc`, so that every object fits.
/// It lives in the pool's memzone (a [`PlacedRing`]), so every process that maps the pool uses
/// the same ring.
pub struct RingStore {
    ring: PlacedRing<ObjPtr>,
}

impl RingStore {
    fn builder(capacity: usize, put: SyncType, get: SyncType) -> Result<RingBuilder, String> {
        let count = u32::try_from(capacity + 1)
            .ok()
            .and_then(u32::checked_next_power_of_two)
            .ok_or_else(|| format!("{capacity} objects do not fit a ring"))?;
        let mut b = RingBuilder::new(count);
        b = b.sync(put, get);
        Ok(b)
    }

    /// The bytes and alignment of the ring for `capacity` objects.
    pub fn layout(capacity: usize, put: SyncType, get: SyncType) -> Result<(usize, usize), String> {
        Self::builder(capacity, put, get)?
            .placed_layout::<ObjPtr>()
            .map_err(|e| e.to_string())
    }

    /// A ring for `capacity` objects at `mem`, empty, with the given producer (put) and
    /// consumer (get) modes.
    ///
    /// # Safety
    /// `mem` has the bytes and alignment of [`layout`](Self::layout), used by nothing else,
    /// and outlives the store.
    pub unsafe fn new_at(
        mem: NonNull<u8>,
        capacity: usize,
        put: SyncType,
        get: SyncType,
    ) -> Result<RingStore, String> {
        let b = Self::builder(capacity, put, get)?;
        // SAFETY: the caller's contract.
        let ring = unsafe { b.build_at(mem) }.map_err(|e| e.to_string())?;
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
