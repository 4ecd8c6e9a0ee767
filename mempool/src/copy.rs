//! Copying object pointers between a caller's table and a cache, the one copy on the fast path.
//!
//! Up to [`INLINE_MAX`] pointers (a cache line) the copy is inline: one pointer alone (the
//! commonest request), else pairs of 16-byte moves and the rest one by one. Longer copies (a
//! burst of 32 is 256 bytes) take the widest moves the CPU has, chosen at run time so that the
//! portable build copies as DPDK built for the machine does: on x86-64, 64-byte AVX-512 moves
//! with one masked move for the tail, else 32-byte AVX moves; elsewhere, and on CPUs with
//! neither, the inline loop.
//!
//! The choice costs a load and a test of the standard library's cached CPU features per long
//! copy. The vector copies are the only `unsafe` here: raw loads and stores over the two
//! slices' own ranges, in functions compiled for a feature that is checked before each call.

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

/// A long copy with the widest moves this CPU has.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn wide(dst: &mut [*mut u8], src: &[*mut u8]) {
    let n = dst.len().min(src.len());
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F; both slices hold `n` pointers.
        unsafe { x86::copy_avx512(dst.as_mut_ptr(), src.as_ptr(), n) }
    } else if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU has AVX; both slices hold `n` pointers.
        unsafe { x86::copy_avx(dst.as_mut_ptr(), src.as_ptr(), n) }
    } else {
        narrow(dst, src);
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn wide(dst: &mut [*mut u8], src: &[*mut u8]) {
    narrow(dst, src);
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m256i, __m512i, _mm256_loadu_si256, _mm256_storeu_si256, _mm512_loadu_si512,
        _mm512_mask_storeu_epi64, _mm512_maskz_loadu_epi64, _mm512_storeu_si512,
    };

    /// Eight pointers per 64-byte move; the last one to seven by one masked load and store.
    ///
    /// # Safety
    /// The CPU has AVX-512F; `src` is readable and `dst` writable for `n` pointers, and the
    /// two ranges do not overlap.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn copy_avx512(dst: *mut *mut u8, src: *const *mut u8, n: usize) {
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: pointers `i..i + 8` are in both ranges (the contract); unaligned moves.
            unsafe {
                let v = _mm512_loadu_si512(src.add(i).cast::<__m512i>());
                _mm512_storeu_si512(dst.add(i).cast::<__m512i>(), v);
            }
            i += 8;
        }
        let rest = n - i;
        if rest > 0 {
            // The low `rest` lanes, `rest` below 8.
            let k = (1u8 << rest) - 1;
            // SAFETY: the masked lanes are pointers `i..n`, in both ranges; masked-off lanes
            // are neither read nor written (and cannot fault).
            unsafe {
                let v = _mm512_maskz_loadu_epi64(k, src.add(i).cast::<i64>());
                _mm512_mask_storeu_epi64(dst.add(i).cast::<i64>(), k, v);
            }
        }
    }

    /// Four pointers per 32-byte move, then one by one.
    ///
    /// # Safety
    /// As [`copy_avx512`], with AVX for AVX-512F.
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn copy_avx(dst: *mut *mut u8, src: *const *mut u8, n: usize) {
        let mut i = 0;
        while i + 4 <= n {
            // SAFETY: pointers `i..i + 4` are in both ranges (the contract); unaligned moves.
            unsafe {
                let v = _mm256_loadu_si256(src.add(i).cast::<__m256i>());
                _mm256_storeu_si256(dst.add(i).cast::<__m256i>(), v);
            }
            i += 4;
        }
        while i < n {
            // SAFETY: pointer `i` is in both ranges.
            unsafe { *dst.add(i) = *src.add(i) };
            i += 1;
        }
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

    /// The vector copies on their own (where the CPU has them), at every length and offset.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vector_copies() {
        let src: Vec<*mut u8> = (1..=80usize).map(|i| (i * 8) as *mut u8).collect();
        let guard = usize::MAX as *mut u8;
        type Copy = unsafe fn(*mut *mut u8, *const *mut u8, usize);
        let mut paths: Vec<(&str, Copy)> = vec![];
        if std::arch::is_x86_feature_detected!("avx512f") {
            paths.push(("avx512", super::x86::copy_avx512));
        }
        if std::arch::is_x86_feature_detected!("avx") {
            paths.push(("avx", super::x86::copy_avx));
        }
        for (name, copy) in paths {
            for off in 0..8 {
                for n in 0..=64 {
                    let mut dst = vec![guard; 80];
                    // SAFETY: the CPU has the feature (checked above); both ranges are inside
                    // their vectors and apart.
                    unsafe { copy(dst[off..].as_mut_ptr(), src[1..].as_ptr(), n) };
                    for (i, &p) in dst.iter().enumerate() {
                        let want = if (off..off + n).contains(&i) {
                            src[i - off + 1]
                        } else {
                            guard
                        };
                        assert_eq!(p, want, "{name}, offset {off}, length {n}, slot {i}");
                    }
                }
            }
        }
    }
}
