//! Copies of bursts (DPDK's `rte_memcpy`): 32-byte AVX moves where the CPU has them, chosen at
//! run time.
//!
//! A portable build of rpdk targets the x86-64 baseline, whose widest moves are 16 bytes, while
//! DPDK built for the machine copies a burst of 32 pointers (256 bytes) with eight 32-byte AVX
//! moves. [`copy`] checks the CPU (the standard library caches its features: a load and a test
//! per call) and copies with 32-byte moves where AVX is there, and with `memcpy` elsewhere and
//! beyond [`VECTOR_MAX`] bytes, where `memcpy`'s own strategies (`rep movsb`, non-temporal
//! stores) win. The last move ends at the copy's end and may overlap the one before: no loop
//! over a remainder.
//!
//! No AVX-512, as in DPDK's default build (its `rte_memcpy` takes 64-byte moves only when built
//! with `RTE_MEMCPY_AVX512`): 512-bit instructions lower the clock of the core that runs them on
//! many Xeons, for every instruction it runs for milliseconds after.
//!
//! Meant for burst copies that one lcore owns, from a few cache lines to a few kilobytes (the
//! mempool caches' longer copies); copies shorter than [`VECTOR_MIN`] go to `memcpy` (inline
//! code of the caller's does better there). Rings do not use it: a call in their enqueue and
//! dequeue paths made their two-core rows two to four times slower (docs/performance.md).
//!
//! ```
//! let src: Vec<u8> = (0..=255).collect();
//! let mut dst = vec![0u8; 256];
//! // SAFETY: both buffers hold 256 bytes and do not overlap.
//! unsafe { rpdk_eal::memcpy::copy(dst.as_mut_ptr(), src.as_ptr(), 256) };
//! assert_eq!(dst, src);
//! ```

/// The shortest copy the vector path takes: two 32-byte moves.
pub const VECTOR_MIN: usize = 64;

/// The longest copy the vector path takes; `memcpy` beyond.
pub const VECTOR_MAX: usize = 4096;

/// Copies `n` bytes from `src` to `dst`.
///
/// # Safety
/// As [`std::ptr::copy_nonoverlapping`]: `src` is readable and `dst` writable for `n` bytes,
/// and the two ranges do not overlap. No alignment is needed.
#[inline(always)]
pub unsafe fn copy(dst: *mut u8, src: *const u8, n: usize) {
    #[cfg(target_arch = "x86_64")]
    if (VECTOR_MIN..=VECTOR_MAX).contains(&n) && std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU has AVX; the ranges are as our contract says, and `n` is at least 64.
        return unsafe { x86::copy_avx(dst, src, n) };
    }
    // SAFETY: our contract.
    unsafe { std::ptr::copy_nonoverlapping(src, dst, n) }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{__m256i, _mm256_loadu_si256, _mm256_storeu_si256};

    /// 32-byte moves, the last ones ending at `n`. Up to 256 bytes (a burst of 32 pointers)
    /// the copy is the first and the last half-or-more, which overlap in the middle: one branch
    /// on the length and straight-line moves, no loop. Longer copies loop over 32 bytes and end
    /// with a move ending at `n`.
    ///
    /// # Safety
    /// The CPU has AVX; `n` is at least 32; the ranges are as [`super::copy`] says.
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn copy_avx(dst: *mut u8, src: *const u8, n: usize) {
        // SAFETY: each move's 32 bytes start at or after 0 and end at or before `n` (`n` is at
        // least 32 and at least the span of the moves of its branch), so they are inside both
        // ranges; unaligned moves.
        unsafe {
            if n <= 64 {
                move32(dst, src, 0);
                move32(dst, src, n - 32);
            } else if n <= 128 {
                for off in [0, 32] {
                    move32(dst, src, off);
                }
                for off in [n - 64, n - 32] {
                    move32(dst, src, off);
                }
            } else if n <= 256 {
                for off in [0, 32, 64, 96] {
                    move32(dst, src, off);
                }
                for off in [n - 128, n - 96, n - 64, n - 32] {
                    move32(dst, src, off);
                }
            } else {
                let mut off = 0;
                while off + 32 < n {
                    move32(dst, src, off);
                    off += 32;
                }
                move32(dst, src, n - 32);
            }
        }
    }

    /// # Safety
    /// AVX; bytes `off..off + 32` are inside both ranges.
    #[target_feature(enable = "avx")]
    #[inline]
    unsafe fn move32(dst: *mut u8, src: *const u8, off: usize) {
        // SAFETY: the caller's contract.
        unsafe {
            let v = _mm256_loadu_si256(src.add(off).cast::<__m256i>());
            _mm256_storeu_si256(dst.add(off).cast::<__m256i>(), v);
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every length up to past the vector range's start and some beyond, at every offset
    /// within a line in both buffers, through the dispatch and each vector path the CPU has:
    /// the copied bytes are the source's and the bytes around them are untouched.
    #[test]
    fn every_length_offset_and_path() {
        let src: Vec<u8> = (0..5000u32).map(|i| (i * 7 + 1) as u8).collect();
        type Copy = unsafe fn(*mut u8, *const u8, usize);
        let mut paths: Vec<(&str, Copy, usize)> = vec![("copy", super::copy, 0)];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx") {
                paths.push(("avx", super::x86::copy_avx, 32));
            }
        }
        let lengths = (0..=300).chain([511, 512, 513, 1000, 4095, 4096, 4097]);
        for n in lengths {
            for (name, copy, min) in &paths {
                if n < *min {
                    continue;
                }
                for (so, d) in [(0, 0), (1, 3), (7, 63), (33, 17)] {
                    let mut dst = vec![0xeeu8; 4200];
                    // SAFETY: the CPU has the path's feature (checked above) and `n` is at
                    // least its minimum; both ranges are inside their buffers and apart.
                    unsafe { copy(dst[d..].as_mut_ptr(), src[so..].as_ptr(), n) };
                    assert_eq!(&dst[d..d + n], &src[so..so + n], "{name}, length {n}");
                    assert!(dst[..d].iter().all(|&b| b == 0xee), "{name}: before, {n}");
                    assert!(
                        dst[d + n..].iter().all(|&b| b == 0xee),
                        "{name}: after, {n}"
                    );
                }
            }
        }
    }
}
