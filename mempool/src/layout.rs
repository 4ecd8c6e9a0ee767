//! Object layout: header, element and trailer sizes, and DPDK's spreading of objects over
//! memory channels and ranks.

/// Cache line size.
pub const CACHE_LINE: usize = 64;

/// Sizes making up one object slot (DPDK's `struct rte_mempool_objsz`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjSize {
    /// Bytes before the object: the object header.
    pub header_size: usize,
    /// The object itself, as asked.
    pub elt_size: usize,
    /// Padding after the object (alignment and spreading).
    pub trailer_size: usize,
    /// `header_size + elt_size + trailer_size`: the distance between objects.
    pub total_size: usize,
}

/// Greatest common divisor.
fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Grows a size in cache lines until its line count shares no factor with the number of
/// channels times ranks, so that consecutive objects start on different channels and ranks
/// (DPDK's `arch_mem_object_align`).
fn spread(size: usize, channels: usize, ranks: usize) -> usize {
    let mut lines = size.div_ceil(CACHE_LINE);
    while gcd(lines, channels * ranks) != 1 {
        lines += 1;
    }
    lines * CACHE_LINE
}

/// The slot layout of objects of `elt_size` bytes with a header of `header` bytes
/// (DPDK's `rte_mempool_calc_obj_size`).
pub fn obj_size(
    elt_size: usize,
    header: usize,
    cache_align: bool,
    spread_channels: Option<(usize, usize)>,
) -> ObjSize {
    let align = if cache_align { CACHE_LINE } else { 8 };
    let header_size = header.next_multiple_of(align);
    let elt_aligned = elt_size.next_multiple_of(align);
    let mut total = header_size + elt_aligned;
    if let (true, Some((channels, ranks))) = (cache_align, spread_channels) {
        total = spread(total, channels.max(1), ranks.max(1));
    }
    ObjSize {
        header_size,
        elt_size,
        trailer_size: total - header_size - elt_size,
        total_size: total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbuf_sized_objects() {
        // An mbuf pool's element: 128-byte header + 2176-byte buffer: 64 + 2304 is 37 lines,
        // already coprime with 4 channels.
        let s = obj_size(2304, 24, true, Some((4, 1)));
        assert_eq!(s.header_size, 64);
        assert_eq!(s.total_size, 64 + 2304);
        // 64 + 2240 is 36 lines, which shares a factor with 4: one line is added.
        let s = obj_size(2240, 24, true, Some((4, 1)));
        assert_eq!(s.total_size, 64 + 2240 + 64);
        assert_eq!(gcd(s.total_size / 64, 4), 1);
    }

    #[test]
    fn no_spread_and_no_cache_align() {
        let s = obj_size(100, 24, true, None);
        assert_eq!((s.header_size, s.total_size), (64, 64 + 128));
        let s = obj_size(100, 24, false, Some((4, 1)));
        assert_eq!(
            (s.header_size, s.total_size, s.trailer_size),
            (24, 24 + 104, 4)
        );
    }

    #[test]
    fn spreading_avoids_shared_factors() {
        for elt in [64usize, 128, 256, 1000, 2048, 4096] {
            for ch in [2usize, 3, 4, 6, 8] {
                let s = obj_size(elt, 24, true, Some((ch, 2)));
                assert_eq!(gcd(s.total_size / 64, ch * 2), 1, "elt {elt} ch {ch}");
                assert!(s.total_size >= s.header_size + elt);
            }
        }
    }
}
