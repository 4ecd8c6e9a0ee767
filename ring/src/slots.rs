//! The slots: copying elements in and out with wrap-around, and handing out slot pointers for
//! zero-copy. Under loom every slot is a `loom::cell::UnsafeCell`, so the model checker sees
//! each access and flags any that the protocols fail to order.

use std::mem::MaybeUninit;

#[cfg(not(loom))]
use std::ptr::{self, NonNull};

/// Copies of more than this many bytes go to `memcpy`; below, an inline loop of 16-byte moves
/// (a call costs more than the copy at burst sizes).
#[cfg(not(loom))]
const INLINE_COPY_MAX: usize = 512;

/// Copies `n` elements from `src` to `dst` (non-overlapping).
///
/// # Safety
/// `src` is valid for reading and `dst` for writing `n` elements, and they do not overlap.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) unsafe fn copy<T>(src: *const T, dst: *mut T, n: usize) {
    if n == 1 {
        // Single-element operations (n is a constant there once inlined): one typed move.
        // SAFETY: the caller's contract.
        unsafe { ptr::copy_nonoverlapping(src, dst, 1) };
        return;
    }
    let bytes = n * size_of::<T>();
    if bytes > INLINE_COPY_MAX {
        // SAFETY: the caller's contract.
        unsafe { ptr::copy_nonoverlapping(src, dst, n) };
        return;
    }
    let s = src.cast::<u8>();
    let d = dst.cast::<u8>();
    // SAFETY: every chunk copied lies within the `bytes` bytes at `src` and at `dst`, which the
    // caller vouches for. Chunks are MaybeUninit, so padding bytes inside T (uninitialised)
    // are carried without being read as integers; accesses are unaligned. Tails are copied as
    // one last chunk ending at `bytes`, overlapping what was already copied (as glibc does):
    // no loop over the remainder.
    unsafe {
        if bytes >= 32 {
            let mut off = 0;
            while off + 32 <= bytes {
                chunk::<32>(s, d, off);
                off += 32;
            }
            if off < bytes {
                chunk::<32>(s, d, bytes - 32);
            }
        } else if bytes >= 16 {
            chunk::<16>(s, d, 0);
            chunk::<16>(s, d, bytes - 16);
        } else if bytes >= 8 {
            chunk::<8>(s, d, 0);
            chunk::<8>(s, d, bytes - 8);
        } else if bytes >= 4 {
            chunk::<4>(s, d, 0);
            chunk::<4>(s, d, bytes - 4);
        } else {
            for i in 0..bytes {
                chunk::<1>(s, d, i);
            }
        }
    }
}

/// Copies the `N` bytes at `off`.
///
/// # Safety
/// `s + off` is readable and `d + off` writable for `N` bytes.
#[cfg(not(loom))]
#[inline(always)]
unsafe fn chunk<const N: usize>(s: *const u8, d: *mut u8, off: usize) {
    // SAFETY: the caller's contract.
    unsafe {
        let v = ptr::read_unaligned(s.add(off).cast::<MaybeUninit<[u8; N]>>());
        ptr::write_unaligned(d.add(off).cast::<MaybeUninit<[u8; N]>>(), v);
    }
}

/// The ring's slots, `size` of them, in ring memory.
#[cfg(not(loom))]
pub(crate) struct Slots<T> {
    data: NonNull<T>,
}

#[cfg(not(loom))]
impl<T> Slots<T> {
    /// Slots at `data`.
    ///
    /// # Safety
    /// `data` points to `size` slots of `T`, properly aligned, valid while this value is used.
    pub(crate) unsafe fn new(data: NonNull<T>, _size: u32) -> Slots<T> {
        Slots { data }
    }

    /// Writes `n` elements from `src` into the slots from position `head`.
    ///
    /// # Safety
    /// The caller has reserved those slots (they are not read or written by anyone else), `n`
    /// is at most `size`, and `src` is valid for `n` reads.
    #[inline(always)]
    pub(crate) unsafe fn write(&self, head: u32, mask: u32, src: *const T, n: u32) {
        let idx = (head & mask) as usize;
        let size = mask as usize + 1;
        let n = n as usize;
        let base = self.data.as_ptr();
        // SAFETY: idx + first <= size and n - first <= size: all in the slot array, and the
        // caller owns these slots.
        unsafe {
            if idx + n <= size {
                copy(src, base.add(idx), n);
            } else {
                let first = size - idx;
                copy(src, base.add(idx), first);
                copy(src.add(first), base, n - first);
            }
        }
    }

    /// Reads `n` elements from the slots from position `head` into `dst`.
    ///
    /// # Safety
    /// The caller has reserved those slots, they hold initialised elements, `n` is at most
    /// `size`, and `dst` is valid for `n` writes.
    #[inline(always)]
    pub(crate) unsafe fn read(&self, head: u32, mask: u32, dst: *mut T, n: u32) {
        let idx = (head & mask) as usize;
        let size = mask as usize + 1;
        let n = n as usize;
        let base = self.data.as_ptr();
        // SAFETY: as in `write`.
        unsafe {
            if idx + n <= size {
                copy(base.add(idx), dst, n);
            } else {
                let first = size - idx;
                copy(base.add(idx), dst, first);
                copy(base, dst.add(first), n - first);
            }
        }
    }

    /// The `n` slots from position `head` as up to two runs: (start, length) of the run up to
    /// the end of the array, and of the run from its start.
    #[inline(always)]
    pub(crate) fn runs(&self, head: u32, mask: u32, n: u32) -> [(*mut MaybeUninit<T>, usize); 2] {
        let idx = (head & mask) as usize;
        let size = mask as usize + 1;
        let n = n as usize;
        let base = self.data.as_ptr().cast::<MaybeUninit<T>>();
        let first = n.min(size - idx);
        // `wrapping_add` keeps this safe; idx < size so the pointer is in the array.
        [(base.wrapping_add(idx), first), (base, n - first)]
    }
}

/// Under loom: one tracked cell per slot.
#[cfg(loom)]
pub(crate) struct Slots<T> {
    cells: Box<[loom::cell::UnsafeCell<MaybeUninit<T>>]>,
}

#[cfg(loom)]
impl<T> Slots<T> {
    pub(crate) unsafe fn new(_data: std::ptr::NonNull<T>, size: u32) -> Slots<T> {
        Slots {
            cells: (0..size)
                .map(|_| loom::cell::UnsafeCell::new(MaybeUninit::uninit()))
                .collect(),
        }
    }

    pub(crate) unsafe fn write(&self, head: u32, mask: u32, src: *const T, n: u32) {
        for i in 0..n {
            let cell = &self.cells[(head.wrapping_add(i) & mask) as usize];
            // SAFETY: the caller's contract; loom checks the access is ordered.
            cell.with_mut(|p| unsafe { (*p).write(src.add(i as usize).read()) });
        }
    }

    pub(crate) unsafe fn read(&self, head: u32, mask: u32, dst: *mut T, n: u32) {
        for i in 0..n {
            let cell = &self.cells[(head.wrapping_add(i) & mask) as usize];
            // SAFETY: the caller's contract; loom checks the access is ordered.
            cell.with(|p| unsafe { dst.add(i as usize).write((*p).assume_init_read()) });
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn copy_moves_every_length_and_element_size() {
        for n in 0..200usize {
            let src: Vec<u64> = (0..n as u64).map(|i| i * 7 + 1).collect();
            let mut dst = vec![0u64; n];
            // SAFETY: both vectors hold n elements.
            unsafe { copy(src.as_ptr(), dst.as_mut_ptr(), n) };
            assert_eq!(src, dst);
            let src: Vec<[u8; 3]> = (0..n).map(|i| [i as u8, 1, 2]).collect();
            let mut dst = vec![[0u8; 3]; n];
            // SAFETY: both vectors hold n elements.
            unsafe { copy(src.as_ptr(), dst.as_mut_ptr(), n) };
            assert_eq!(src, dst);
            let src: Vec<[u32; 5]> = (0..n as u32).map(|i| [i; 5]).collect();
            let mut dst = vec![[0u32; 5]; n];
            // SAFETY: both vectors hold n elements.
            unsafe { copy(src.as_ptr(), dst.as_mut_ptr(), n) };
            assert_eq!(src, dst);
        }
    }

    #[test]
    fn write_and_read_wrap_around() {
        let mut mem = vec![0u32; 8];
        // SAFETY: 8 slots of u32.
        let slots = unsafe { Slots::new(NonNull::new(mem.as_mut_ptr()).unwrap(), 8) };
        let src = [1, 2, 3, 4, 5];
        // SAFETY: positions 6..11 wrap to slots 6, 7, 0, 1, 2.
        unsafe { slots.write(6, 7, src.as_ptr(), 5) };
        let mut out = [0u32; 5];
        // SAFETY: as above.
        unsafe { slots.read(6, 7, out.as_mut_ptr(), 5) };
        assert_eq!(out, src);
        let runs = slots.runs(6, 7, 5);
        assert_eq!((runs[0].1, runs[1].1), (2, 3));
        assert_eq!(runs[1].0.cast::<u32>(), slots.data.as_ptr());
        // SAFETY: slots 0..8 are initialised u32s.
        let all = unsafe { std::slice::from_raw_parts(slots.data.as_ptr(), 8) };
        assert_eq!(all, [3, 4, 5, 0, 0, 0, 1, 2]);
    }
}
