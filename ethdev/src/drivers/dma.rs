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
///
/// A ring owns its memzone (frees it when dropped) unless it was attached as a view or left
/// to the queue's next driver ([`leave`](Self::leave)): a queue a secondary process drives
/// passes its ring from process to process.
pub(crate) struct DescRing<D: Descriptor> {
    zone: Option<Memzone>,
    base: *mut D,
    count: usize,
    owned: bool,
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
            owned: true,
            _d: PhantomData,
        })
    }

    /// The ring in `zone`, as the queue's last driver left it: owned (the zone is freed when
    /// the ring is dropped) or a view.
    pub fn attach(zone: Memzone, count: usize, owned: bool) -> DriverResult<Self> {
        let bytes = count * std::mem::size_of::<D>();
        if zone.len() < bytes || !(zone.as_ptr() as usize).is_multiple_of(std::mem::align_of::<D>())
        {
            return Err(DriverError::Invalid(format!(
                "descriptor ring {}: {} bytes for {count} descriptors",
                zone.name(),
                zone.len()
            )));
        }
        Ok(DescRing {
            base: zone.as_ptr().cast::<D>(),
            zone: Some(zone),
            count,
            owned,
            _d: PhantomData,
        })
    }

    /// The ring's memzone, for the queue's next driver.
    pub fn zone(&self) -> Option<&Memzone> {
        self.zone.as_ref()
    }

    /// Leaves the ring to the queue's next driver: dropping this object frees nothing.
    pub fn leave(&mut self) {
        self.owned = false;
    }

    /// How many descriptors it has.
    pub fn len(&self) -> usize {
        self.count
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
        if let Some(zone) = self.zone.take()
            && self.owned
        {
            let _ = zone.free();
        }
    }
}

/// A block of DMA-able memory shared with a device whose layout is not one array of
/// descriptors (a virtqueue's descriptor table and rings, a NIC's shared area): volatile,
/// bounds-checked little-endian reads and writes of integers at byte offsets, and copies of
/// byte strings in and out. Shared between the control path and a queue (`&self` methods):
/// the protocol with the device orders their accesses (fences around index updates).
pub(crate) struct DmaArea {
    zone: Option<Memzone>,
    base: *mut u8,
    len: usize,
    /// Frees the zone when dropped (not for a secondary process's view of the primary's).
    owned: bool,
}

// SAFETY: plain memory owned through the memzone; every access is a volatile, bounds-checked
// read or write of an integer, so concurrent use can give stale values but never undefined
// behaviour of Rust objects.
unsafe impl Send for DmaArea {}
// SAFETY: see Send.
unsafe impl Sync for DmaArea {}

impl DmaArea {
    /// Reserves and zeroes `len` bytes for `dev`, aligned to `align` bytes.
    pub fn new(
        dev: &PciHandle,
        name: &str,
        len: usize,
        align: usize,
        socket: u32,
    ) -> DriverResult<Self> {
        let zone = dev
            .dma_zone(name, len, align, socket)
            .map_err(|e| DriverError::Invalid(format!("DMA area {name}: {e}")))?;
        let base = zone.as_ptr();
        // SAFETY: the zone holds `len` bytes that nothing else uses yet.
        unsafe { std::ptr::write_bytes(base, 0, len) };
        Ok(DmaArea {
            zone: Some(zone),
            base,
            len,
            owned: true,
        })
    }

    /// A secondary process's view of the primary's area in `zone` (`len` bytes of it): freed
    /// by the primary, not when dropped.
    pub fn view(zone: Memzone, len: usize) -> DriverResult<Self> {
        if zone.len() < len {
            return Err(DriverError::Invalid(format!(
                "DMA area {}: {} bytes, {len} needed",
                zone.name(),
                zone.len()
            )));
        }
        Ok(DmaArea {
            base: zone.as_ptr(),
            zone: Some(zone),
            len,
            owned: false,
        })
    }

    /// The area's memzone.
    pub fn zone(&self) -> Option<&Memzone> {
        self.zone.as_ref()
    }

    /// The IOVA of byte `offset`, for the device.
    pub fn iova(&self, offset: usize) -> u64 {
        assert!(offset <= self.len);
        self.zone.as_ref().map_or(0, Memzone::iova) + offset as u64
    }

    #[inline(always)]
    fn at<T>(&self, offset: usize) -> *mut T {
        assert!(
            offset.is_multiple_of(std::mem::align_of::<T>())
                && offset + std::mem::size_of::<T>() <= self.len,
            "DMA area access at {offset:#x} outside its {:#x} bytes or unaligned",
            self.len
        );
        // SAFETY: in bounds (checked above).
        unsafe { self.base.add(offset).cast::<T>() }
    }

    /// Reads the byte at `offset`.
    #[inline(always)]
    pub fn read8(&self, offset: usize) -> u8 {
        // SAFETY: in bounds (checked by `at`).
        unsafe { std::ptr::read_volatile(self.at::<u8>(offset)) }
    }

    /// Reads the little-endian u16 at `offset`.
    #[inline(always)]
    pub fn read16(&self, offset: usize) -> u16 {
        // SAFETY: in bounds and aligned (checked by `at`); any bits are a valid u16.
        u16::from_le(unsafe { std::ptr::read_volatile(self.at::<u16>(offset)) })
    }

    /// Writes the little-endian u16 at `offset`.
    #[inline(always)]
    pub fn write16(&self, offset: usize, v: u16) {
        // SAFETY: in bounds and aligned; the memory is shared with the device only.
        unsafe { std::ptr::write_volatile(self.at::<u16>(offset), v.to_le()) }
    }

    /// Reads the little-endian u32 at `offset`.
    #[inline(always)]
    pub fn read32(&self, offset: usize) -> u32 {
        // SAFETY: as read16.
        u32::from_le(unsafe { std::ptr::read_volatile(self.at::<u32>(offset)) })
    }

    /// Writes the little-endian u32 at `offset`.
    #[inline(always)]
    pub fn write32(&self, offset: usize, v: u32) {
        // SAFETY: as write16.
        unsafe { std::ptr::write_volatile(self.at::<u32>(offset), v.to_le()) }
    }

    /// Writes the little-endian u64 at `offset`.
    #[inline(always)]
    pub fn write64(&self, offset: usize, v: u64) {
        // SAFETY: as write16.
        unsafe { std::ptr::write_volatile(self.at::<u64>(offset), v.to_le()) }
    }

    /// Copies `src` to `offset`.
    pub fn write_bytes(&self, offset: usize, src: &[u8]) {
        for (i, b) in src.iter().enumerate() {
            // SAFETY: each byte in bounds (checked by `at`).
            unsafe { std::ptr::write_volatile(self.at::<u8>(offset + i), *b) }
        }
    }

    /// Copies `dst.len()` bytes from `offset`.
    pub fn read_bytes(&self, offset: usize, dst: &mut [u8]) {
        for (i, b) in dst.iter_mut().enumerate() {
            // SAFETY: each byte in bounds (checked by `at`).
            *b = unsafe { std::ptr::read_volatile(self.at::<u8>(offset + i)) };
        }
    }
}

impl Drop for DmaArea {
    fn drop(&mut self) {
        if let Some(zone) = self.zone.take()
            && self.owned
        {
            let _ = zone.free();
        }
    }
}
