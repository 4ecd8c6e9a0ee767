//! The mbufs a PCI driver's ring holds, one slot per descriptor, in a memzone: the software
//! ring beside the descriptor ring (DPDK's `sw_ring`), kept in shared memory so that a
//! secondary process can drive the queue and give it back, and so that the mbufs of a
//! secondary that died driving it are still found. Every `unsafe` block over the slots is in
//! this file.
//!
//! A slot holds an mbuf's address (mbufs are in EAL memory, at the same address in every
//! process of a primary) or 0. A queue object owns the mbufs of its slots: dropped, it frees
//! them, unless it [`leave`](MbufSlots::leave)s them to the next driver of the queue (the
//! primary lending it to a secondary, the secondary giving it back). The queue's position and
//! the handover itself go through the queue's record in the shared port data
//! (`crate::shared::QueueRecord`), whose release and acquire order the slots' writes before
//! the next driver's reads.

use std::ptr::NonNull;

use rpdk_eal::memzone::{self, Memzone, MemzoneFlags};
use rpdk_mbuf::{Mbuf, MbufHeader};

use crate::driver::DriverResult;
use crate::error::DriverError;

/// `count` slots of mbufs in a memzone.
pub(crate) struct MbufSlots {
    zone: Memzone,
    base: NonNull<usize>,
    count: usize,
    /// Frees the zone and the mbufs in it when dropped.
    owned: bool,
}

// SAFETY: the slots are plain memory reached through the zone handle, used through `&mut self`
// by the one queue object that drives the queue; the mbufs in them are owned by that object.
unsafe impl Send for MbufSlots {}

impl MbufSlots {
    /// Reserves `count` empty slots, named `name`, on `socket`.
    pub fn new(name: &str, count: usize, socket: u32) -> DriverResult<MbufSlots> {
        let bytes = count * std::mem::size_of::<usize>();
        let zone = memzone::reserve(name, bytes, Some(socket), MemzoneFlags::empty())
            .map_err(|e| DriverError::Invalid(format!("mbuf slots {name}: {e}")))?;
        // SAFETY: the zone holds `bytes` bytes that nothing else uses yet.
        unsafe { std::ptr::write_bytes(zone.as_ptr(), 0, bytes) };
        MbufSlots::attach(zone, count, true)
    }

    /// The slots in `zone`, left by the queue's last driver: owned (freed when dropped, with
    /// their mbufs) or a view that leaves them when dropped.
    pub fn attach(zone: Memzone, count: usize, owned: bool) -> DriverResult<MbufSlots> {
        if zone.len() < count * std::mem::size_of::<usize>() {
            return Err(DriverError::Invalid(format!(
                "mbuf slots {}: {} bytes for {count} slots",
                zone.name(),
                zone.len()
            )));
        }
        let base = zone.addr().cast::<usize>();
        Ok(MbufSlots {
            zone,
            base,
            count,
            owned,
        })
    }

    /// The zone, for the next driver.
    pub fn zone(&self) -> &Memzone {
        &self.zone
    }

    #[inline(always)]
    fn at(&self, i: usize) -> *mut usize {
        assert!(i < self.count, "slot {i} of {}", self.count);
        // SAFETY: in bounds of the zone (checked at attach).
        unsafe { self.base.as_ptr().add(i) }
    }

    /// Whether slot `i` holds no mbuf.
    #[inline(always)]
    pub fn is_empty(&self, i: usize) -> bool {
        // SAFETY: in bounds, aligned (zones are cache-line aligned); any bits are a usize.
        unsafe { self.at(i).read() == 0 }
    }

    /// Puts `m` in slot `i` and returns what was there.
    #[inline(always)]
    pub fn replace(&mut self, i: usize, m: Mbuf) -> Option<Mbuf> {
        let p = self.at(i);
        let new = m.into_raw().as_ptr() as usize;
        // SAFETY: in bounds and aligned; the slot holds 0 or an mbuf this object owns (put
        // there by `replace`, in this process or the queue's last driver's, whose ownership
        // came with the slots).
        let old = unsafe { p.replace(new) };
        // SAFETY: `old` is an mbuf of ours (see above), not owned by anything else.
        NonNull::new(old as *mut MbufHeader).map(|h| unsafe { Mbuf::from_raw(h) })
    }

    /// Takes the mbuf of slot `i`, leaving it empty.
    #[inline(always)]
    pub fn take(&mut self, i: usize) -> Option<Mbuf> {
        let p = self.at(i);
        // SAFETY: as `replace`.
        let old = unsafe { p.replace(0) };
        // SAFETY: as `replace`.
        NonNull::new(old as *mut MbufHeader).map(|h| unsafe { Mbuf::from_raw(h) })
    }

    /// Frees every mbuf in the slots.
    pub fn clear(&mut self) {
        for i in 0..self.count {
            drop(self.take(i));
        }
    }

    /// How many slots there are.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Leaves the slots and their mbufs to the queue's next driver: dropping this object frees
    /// nothing.
    pub fn leave(&mut self) {
        self.owned = false;
    }
}

impl Drop for MbufSlots {
    fn drop(&mut self) {
        if self.owned {
            self.clear();
            let _ = self.zone.clone().free();
        }
    }
}
