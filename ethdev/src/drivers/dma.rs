//! Descriptor rings in DMA-able memory, shared with a PCI device: volatile reads and writes of
//! whole descriptors and of single fields. Every `unsafe` block over ring memory of the PCI
//! drivers is in this file.

use std::marker::PhantomData;

use rpdk_eal::bus::PciHandle;
use rpdk_eal::memzone::Memzone;

use crate::driver::DriverResult;
use crate::error::DriverError;

/// A descriptor layout a device reads and writes.
///
/// # Safety
///
/// The type is `repr(C)`, made of integers only (every bit pattern is a valid value), with no
/// padding, so that the device's writes can never produce an invalid value.
pub(crate) unsafe trait Descriptor: Copy {}

/// `count` descriptors of type `D`, contiguous in IOVA space, zeroed at creation.
pub(crate) struct DescRing<D: Descriptor> {
    zone: Option<Memzone>,
    base: *mut D,
    count: usize,
    _d: PhantomData<D>,
}

// SAFETY: the ring is plain memory owned by the ring (through its memzone); access goes through
// `&self`/`&mut self` methods of the one queue that owns it.
unsafe impl<D: Descriptor> Send for DescRing<D> {}
// SAFETY: see Send; shared references only read descriptors.
unsafe impl<D: Descriptor> Sync for DescRing<D> {}

impl<D: Descriptor> DescRing<D> {
    /// Reserves and zeroes a ring of `count` descriptors for `dev`, aligned to `align` bytes.
    pub fn new(
        dev: &PciHandle,
        name: &str,
        count: usize,
        align: usize,
        socket: u32,
    ) -> DriverResult<Self> {
        let bytes = count * std::mem::size_of::<D>();
        let zone = dev
            .dma_zone(name, bytes, align, socket)
            .map_err(|e| DriverError::Invalid(format!("descriptor ring {name}: {e}")))?;
        let base = zone.as_ptr().cast::<D>();
        // SAFETY: the zone holds `bytes` bytes that nothing else uses yet.
        unsafe { std::ptr::write_bytes(zone.as_ptr(), 0, bytes) };
        Ok(DescRing {
            zone: Some(zone),
            base,
            count,
            _d: PhantomData,
        })
    }

    /// The ring's IOVA, for the device's base address registers.
    pub fn iova(&self) -> u64 {
        self.zone.as_ref().map_or(0, Memzone::iova)
    }

    /// Its length in bytes.
    pub fn bytes(&self) -> usize {
        self.count * std::mem::size_of::<D>()
    }

    /// Reads descriptor `i` (volatile: the device writes it).
    #[inline(always)]
    pub fn read(&self, i: usize) -> D {
        assert!(i < self.count);
        // SAFETY: in bounds, aligned (the zone is aligned to at least the descriptor size), and
        // any bit pattern is a valid D.
        unsafe { std::ptr::read_volatile(self.base.add(i)) }
    }

    /// Writes descriptor `i` (volatile: the device reads it).
    #[inline(always)]
    pub fn write(&mut self, i: usize, d: D) {
        assert!(i < self.count);
        // SAFETY: in bounds and aligned; the ring is ours to write.
        unsafe { std::ptr::write_volatile(self.base.add(i), d) }
    }

    /// Reads the byte at `offset` inside descriptor `i` (a status field the device sets last).
    #[inline(always)]
    pub fn read_u8(&self, i: usize, offset: usize) -> u8 {
        assert!(i < self.count && offset < std::mem::size_of::<D>());
        // SAFETY: in bounds of descriptor i.
        unsafe { std::ptr::read_volatile(self.base.add(i).cast::<u8>().add(offset)) }
    }
}

impl<D: Descriptor> Drop for DescRing<D> {
    fn drop(&mut self) {
        if let Some(zone) = self.zone.take() {
            let _ = zone.free();
        }
    }
}
