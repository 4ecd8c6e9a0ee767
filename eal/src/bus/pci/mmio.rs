//! A mapped memory BAR and volatile register access to it. Every `unsafe` block touching device
//! registers is in this file.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// A memory BAR of a PCI device, mapped into the process: 32-bit register reads and writes at
/// byte offsets, bounds-checked against the BAR's length.
///
/// It counts its register writes ([`Bar::writes`]), so that tests can check how many a driver
/// does per burst (one relaxed atomic add per write: bursts write a tail register once).
#[derive(Debug)]
pub struct Bar {
    base: NonNull<u8>,
    len: usize,
    /// Where it starts in the file it was mapped from.
    offset: u64,
    index: u8,
    writes: AtomicU64,
}

// SAFETY: a Bar is a mapping of device registers; reads and writes are volatile single
// instructions that the device serialises, and the mapping lives until drop.
unsafe impl Send for Bar {}
// SAFETY: see Send; no method hands out references into the mapping.
unsafe impl Sync for Bar {}

impl Bar {
    /// Maps `len` bytes of `file` at `offset` (a VFIO device fd's region, or a sysfs
    /// `resourceN` file) as BAR `index`.
    pub(crate) fn map(file: &File, offset: u64, len: usize, index: u8) -> Result<Bar> {
        // SAFETY: a new shared mapping of the device's BAR at an address the kernel chooses;
        // it aliases no Rust object.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                offset as libc::off_t,
            )
        };
        if raw == libc::MAP_FAILED {
            return Err(Error::last_os(format!(
                "mapping BAR {index} ({len:#x} bytes)"
            )));
        }
        Ok(Bar {
            base: NonNull::new(raw.cast()).expect("mmap returned a non-null address"),
            len,
            offset,
            index,
            writes: AtomicU64::new(0),
        })
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it is empty (never, for a mapped BAR).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Its BAR number (0-5).
    pub fn index(&self) -> u8 {
        self.index
    }

    /// Where it starts in the file it was mapped from (a VFIO region's offset; 0 for a sysfs
    /// `resourceN` file).
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    #[inline]
    fn check<T>(&self, offset: usize) {
        assert!(
            offset.is_multiple_of(std::mem::size_of::<T>())
                && offset + std::mem::size_of::<T>() <= self.len,
            "register offset {offset:#x} outside BAR {} ({:#x} bytes) or unaligned",
            self.index,
            self.len
        );
    }

    /// Reads the 32-bit register at byte `offset`. Panics if it lies outside the BAR (a driver
    /// bug, like an index out of bounds).
    #[inline]
    pub fn read32(&self, offset: usize) -> u32 {
        self.check::<u32>(offset);
        // SAFETY: checked inside the mapping and aligned; device memory is read volatile.
        unsafe { std::ptr::read_volatile(self.base.as_ptr().add(offset).cast::<u32>()) }
    }

    /// Writes the 32-bit register at byte `offset`.
    #[inline]
    pub fn write32(&self, offset: usize, value: u32) {
        self.check::<u32>(offset);
        self.writes.fetch_add(1, Ordering::Relaxed);
        // SAFETY: checked inside the mapping and aligned; device memory is written volatile.
        unsafe { std::ptr::write_volatile(self.base.as_ptr().add(offset).cast::<u32>(), value) }
    }

    /// Reads the 16-bit register at byte `offset`.
    #[inline]
    pub fn read16(&self, offset: usize) -> u16 {
        self.check::<u16>(offset);
        // SAFETY: as read32.
        unsafe { std::ptr::read_volatile(self.base.as_ptr().add(offset).cast::<u16>()) }
    }

    /// Writes the 16-bit register at byte `offset`.
    #[inline]
    pub fn write16(&self, offset: usize, value: u16) {
        self.check::<u16>(offset);
        self.writes.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as write32.
        unsafe { std::ptr::write_volatile(self.base.as_ptr().add(offset).cast::<u16>(), value) }
    }

    /// Reads the 8-bit register at byte `offset`.
    #[inline]
    pub fn read8(&self, offset: usize) -> u8 {
        self.check::<u8>(offset);
        // SAFETY: as read32.
        unsafe { std::ptr::read_volatile(self.base.as_ptr().add(offset)) }
    }

    /// Writes the 8-bit register at byte `offset`.
    #[inline]
    pub fn write8(&self, offset: usize, value: u8) {
        self.check::<u8>(offset);
        self.writes.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as write32.
        unsafe { std::ptr::write_volatile(self.base.as_ptr().add(offset), value) }
    }

    /// Reads the 64-bit register at byte `offset` as two 32-bit reads, low half first (PCI
    /// devices need not take 64-bit accesses).
    #[inline]
    pub fn read64(&self, offset: usize) -> u64 {
        self.read32(offset) as u64 | (self.read32(offset + 4) as u64) << 32
    }

    /// Writes the 64-bit register at byte `offset` as two 32-bit writes, low half first.
    #[inline]
    pub fn write64(&self, offset: usize, value: u64) {
        self.write32(offset, value as u32);
        self.write32(offset + 4, (value >> 32) as u32);
    }

    /// How many register writes went through this BAR so far.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping; no reference into it outlives the Bar.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}
