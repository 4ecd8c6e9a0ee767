//! Copying object pointers between a caller's table and a cache, the one copy on the fast path.
//!
//! Up to [`INLINE_MAX`] pointers (a cache line) the copy is inline: one pointer alone (the
//! commonest request), else the first and the last two or four pointers, overlapping in the
//! middle, so that every length takes two moves and one branch on the length (`mempool
//! cache=512 bulk=4` on a Zen 4: 2.70 to 2.15 cycles per object against a loop of four and a
//! remainder one by one). Longer copies (a burst of 32 is 256 bytes) go to
//! [`rpdk_eal::memcpy::copy`], which takes 32-byte AVX moves where the CPU has them, chosen at
//! run time, so that the portable build copies a burst as DPDK built for the machine does
//! (docs/performance.md).

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

/// The inline copy of 2 to [`INLINE_MAX`] pointers: the first and the last half-or-more,
/// which overlap in the middle (the destination gets its values twice there, and `src` and
/// `dst` do not overlap), so that any length takes two moves of two or four pointers and one
/// branch on the length, not a loop and a remainder.
#[inline(always)]
fn narrow(dst: &mut [*mut u8], src: &[*mut u8]) {
    let n = dst.len().min(src.len());
    debug_assert!(n <= INLINE_MAX);
    if n >= 4 {
        let last = n - 4;
        let (head, tail): ([*mut u8; 4], [*mut u8; 4]) = (
            src[..4].try_into().expect("four"),
            src[last..last + 4].try_into().expect("four"),
        );
        dst[..4].copy_from_slice(&head);
        dst[last..last + 4].copy_from_slice(&tail);
    } else if n >= 2 {
        let last = n - 2;
        let (head, tail): ([*mut u8; 2], [*mut u8; 2]) = (
            src[..2].try_into().expect("two"),
            src[last..last + 2].try_into().expect("two"),
        );
        dst[..2].copy_from_slice(&head);
        dst[last..last + 2].copy_from_slice(&tail);
    } else if n == 1 {
        dst[0] = src[0];
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
    use super::{INLINE_MAX, copy_ptrs, narrow};

    /// Every length from 0 to past a burst (to [`INLINE_MAX`] for the inline copy), at an odd
    /// offset in both slices, through the dispatching copy and the inline one: each destination
    /// slot holds its source pointer and the slots around the copy are untouched.
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
            let longest = if name == "narrow" { INLINE_MAX } else { 70 };
            for n in 0..=longest {
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
