//! Copying object pointers between a caller's table and a cache, the one copy on the fast path.
//!
//! Up to [`INLINE_MAX`] pointers (a cache line) the copy is inline: one pointer alone (the
//! commonest request), else pairs of 16-byte moves and the rest one by one. Longer copies (a
//! burst of 32 is 256 bytes) go to [`rpdk_eal::memcpy::copy`], which takes 32-byte AVX moves
//! where the CPU has them, chosen at run time, so that the portable build copies a burst as DPDK
//! built for the machine does (`mempool cache=512 bulk=32` on one core: about 2.1 to 1.5
//! cycles per object, docs/performance.md).

/// The longest copy done inline: 8 pointers, one 64-byte line.
pub(crate) const INLINE_MAX: usize = 8;

/// Copies `src` into `dst`, which have the same length.
#[inline(always)]
pub(crate) fn copy_ptrs(dst: &mut [*mut u8], src: &[*mut u8]) {
    debug_assert_eq!(dst.len(), src.len());
    if let ([d], [s]) = (&mut *dst, src) {
        *d = *s;
        return;
    }
    if src.len() > INLINE_MAX {
        return wide(dst, src);
    }
    narrow(dst, src);
}

/// The inline copy: four pointers at a time (two 16-byte moves), then one by one.
#[inline(always)]
fn narrow(dst: &mut [*mut u8], src: &[*mut u8]) {
    let mut d4 = dst.chunks_exact_mut(4);
    let mut s4 = src.chunks_exact(4);
    for (d, s) in (&mut d4).zip(&mut s4) {
        d.copy_from_slice(s);
    }
    for (d, &s) in d4.into_remainder().iter_mut().zip(s4.remainder()) {
        *d = s;
    }
}

/// A long copy, with the widest moves [`rpdk_eal::memcpy`] takes on this CPU.
#[inline(always)]
fn wide(dst: &mut [*mut u8], src: &[*mut u8]) {
    let n = dst.len().min(src.len());
    // SAFETY: both slices hold `n` pointers; `dst` is a `&mut`, so apart from `src`.
    unsafe {
        rpdk_eal::memcpy::copy(
            dst.as_mut_ptr().cast::<u8>(),
            src.as_ptr().cast::<u8>(),
            n * size_of::<*mut u8>(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{copy_ptrs, narrow};

    /// Every length from 0 to past a burst, at an odd offset in both slices, through the
    /// dispatching copy and the inline one: each destination slot holds its source pointer and
    /// the slots around the copy are untouched.
    #[test]
    fn every_length_every_path() {
        let src: Vec<*mut u8> = (1..=80usize).map(|i| (i * 8) as *mut u8).collect();
        let guard = usize::MAX as *mut u8;
        type Copy = fn(&mut [*mut u8], &[*mut u8]);
        let paths: [(&str, Copy); 2] = [
            ("copy_ptrs", |d, s| copy_ptrs(d, s)),
            ("narrow", |d, s| narrow(d, s)),
        ];
        for (name, copy) in paths {
            for n in 0..=70 {
                let mut dst = vec![guard; 80];
                copy(&mut dst[3..3 + n], &src[1..1 + n]);
                for (i, &p) in dst.iter().enumerate() {
                    let want = if (3..3 + n).contains(&i) {
                        src[i - 2]
                    } else {
                        guard
                    };
                    assert_eq!(p, want, "{name}, length {n}, slot {i}");
                }
            }
        }
    }
}
