//! Arrays carved out of a pool's memzone: the pool's state lives in the memzone with everything
//! it points at, so that every process that maps the memzone (at the same address: see
//! `docs/multi-process.md`) can use the pool, and objects' headers can point at it.

use std::ptr::NonNull;

use crate::layout::CACHE_LINE;

/// `len` values of `T` in pool memory: a pointer and a length, no ownership (the memzone owns
/// the memory) and no drop.
pub(crate) struct ShSlice<T> {
    ptr: NonNull<T>,
    len: usize,
}

// SAFETY: a view of memory that the pool keeps alive; the users of each slice synchronise as
// the slice's owner type says (atomics, the cache owner, a lock).
unsafe impl<T: Send> Send for ShSlice<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for ShSlice<T> {}

impl<T> Clone for ShSlice<T> {
    fn clone(&self) -> ShSlice<T> {
        *self
    }
}

/// A view can be copied: it owns nothing.
impl<T> Copy for ShSlice<T> {}

impl<T> ShSlice<T> {
    /// A view of `mem`, which must outlive every use of the view.
    pub fn over(mem: &mut [T]) -> ShSlice<T> {
        ShSlice {
            ptr: NonNull::new(mem.as_mut_ptr()).expect("slices are not null"),
            len: mem.len(),
        }
    }

    /// The number of elements (without making a slice: a measuring carver's are dangling).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// The first element.
    #[inline(always)]
    pub fn as_mut_ptr(&self) -> *mut T {
        self.ptr.as_ptr()
    }

    /// The elements, writable.
    ///
    /// # Safety
    /// Nobody else reads or writes the elements while the slice lives.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice_mut(&self) -> &mut [T] {
        // SAFETY: `len` initialised elements at `ptr` (see `Carver::slice_with`); exclusivity
        // is the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// A slice over a leaked vector, for unit tests of the stores.
    #[cfg(test)]
    pub fn leak(v: Vec<T>) -> ShSlice<T> {
        let len = v.len();
        ShSlice {
            ptr: NonNull::new(Box::leak(v.into_boxed_slice()).as_mut_ptr()).unwrap(),
            len,
        }
    }
}

impl<T> std::ops::Deref for ShSlice<T> {
    type Target = [T];
    #[inline(always)]
    fn deref(&self) -> &[T] {
        // SAFETY: `len` initialised elements at `ptr`, alive while the pool is.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

/// Hands out cache-line aligned pieces of a block of memory, front to back. Without a block it
/// only measures (the bytes a pool needs, before its memzone is reserved).
pub(crate) struct Carver {
    base: Option<NonNull<u8>>,
    off: usize,
}

impl Carver {
    /// A carver that measures, starting at offset `off`.
    pub fn measure(off: usize) -> Carver {
        Carver { base: None, off }
    }

    /// A carver over memory at `base`, starting at offset `off`.
    ///
    /// # Safety
    /// `base` is valid for as many bytes as a measuring carver with the same calls reached,
    /// and nobody else uses them.
    pub unsafe fn new(base: NonNull<u8>, off: usize) -> Carver {
        Carver {
            base: Some(base),
            off,
        }
    }

    /// Whether it only measures.
    pub fn measuring(&self) -> bool {
        self.base.is_none()
    }

    /// Where the next piece would start: the bytes used so far.
    pub fn offset(&self) -> usize {
        self.off
    }

    /// A piece for `bytes` bytes aligned to `align` (at least a cache line); dangling when
    /// measuring.
    pub fn bytes(&mut self, bytes: usize, align: usize) -> NonNull<u8> {
        let start = self.off.next_multiple_of(align.max(CACHE_LINE));
        self.off = start + bytes;
        match self.base {
            // SAFETY: within the block (the constructor's contract).
            Some(b) => unsafe { b.add(start) },
            None => NonNull::dangling(),
        }
    }

    /// `len` values made by `f(i)`, written in place (not when measuring).
    pub fn slice_with<T>(&mut self, len: usize, mut f: impl FnMut(usize) -> T) -> ShSlice<T> {
        let at = self.bytes(len * size_of::<T>(), align_of::<T>());
        let ptr = if self.measuring() {
            NonNull::dangling()
        } else {
            at.cast::<T>()
        };
        if self.base.is_some() {
            for i in 0..len {
                // SAFETY: the piece has room for `len` aligned values of T, ours alone.
                unsafe { ptr.add(i).write(f(i)) };
            }
        }
        ShSlice { ptr, len }
    }
}
