//! Internet checksums: the one's complement sum (DPDK's `rte_raw_cksum`), the IPv4 header
//! checksum (`rte_ipv4_cksum`), pseudo-header sums (`rte_ipv4_phdr_cksum`,
//! `rte_ipv6_phdr_cksum`) and TCP/UDP/ICMPv6 checksums over IPv4 and IPv6.
//!
//! Values are numbers in host order of the big-endian 16-bit field: store them with
//! `to_be_bytes`. The header views use these; they are public for code that builds packets.

/// The one's complement sum of `data` read as big-endian 16-bit words (an odd last byte is
/// padded with a zero), folded to 16 bits. Not inverted.
#[inline]
pub fn sum(data: &[u8]) -> u16 {
    // One's complement addition does not depend on byte order: add native-order words and
    // convert the folded result once at the end.
    let mut acc: u64 = 0;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let v = u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        acc += (v & 0xffff_ffff) + (v >> 32);
    }
    let mut rest = chunks.remainder();
    while rest.len() >= 2 {
        acc += u16::from_ne_bytes([rest[0], rest[1]]) as u64;
        rest = &rest[2..];
    }
    if let [last] = rest {
        // The big-endian word (last << 8), as it sits in memory.
        acc += u16::from_ne_bytes([*last, 0]) as u64;
    }
    u16::from_be(fold(acc))
}

/// Folds a wide one's complement accumulator to 16 bits.
#[inline]
fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// One's complement addition of two folded sums.
#[inline]
pub fn combine(a: u16, b: u16) -> u16 {
    fold(a as u64 + b as u64)
}

/// The sum of `data` with the 16-bit field at the even offset `field` taken as zero.
#[inline]
fn sum_skipping(data: &[u8], field: usize) -> u16 {
    debug_assert!(
        field.is_multiple_of(2),
        "checksum fields sit at even offsets"
    );
    let start = field.min(data.len());
    let end = (field + 2).min(data.len());
    combine(sum(&data[..start]), sum(&data[end..]))
}

/// The IPv4 header checksum to store (DPDK's `rte_ipv4_cksum`): `hdr` is the whole header,
/// options included; its checksum field is ignored.
#[inline]
pub fn ipv4_header(hdr: &[u8]) -> u16 {
    !sum_skipping(hdr, 10)
}

/// The IPv4 pseudo-header sum for an L4 segment of `l4_len` bytes.
#[inline]
pub fn ipv4_pseudo(src: [u8; 4], dst: [u8; 4], proto: u8, l4_len: u16) -> u16 {
    let mut p = [0u8; 12];
    p[0..4].copy_from_slice(&src);
    p[4..8].copy_from_slice(&dst);
    p[9] = proto;
    p[10..12].copy_from_slice(&l4_len.to_be_bytes());
    sum(&p)
}

/// The IPv6 pseudo-header sum for an upper-layer packet of `len` bytes.
#[inline]
pub fn ipv6_pseudo(src: &[u8; 16], dst: &[u8; 16], next_header: u8, len: u32) -> u16 {
    let mut p = [0u8; 40];
    p[0..16].copy_from_slice(src);
    p[16..32].copy_from_slice(dst);
    p[32..36].copy_from_slice(&len.to_be_bytes());
    p[39] = next_header;
    sum(&p)
}

/// The checksum to store in an L4 segment: the segment's sum with its checksum field at
/// `field` taken as zero, plus the pseudo-header sum, inverted. For UDP, store 0xffff where this
/// gives 0 (see [`udp_value`]).
#[inline]
pub fn l4(pseudo: u16, segment: &[u8], field: usize) -> u16 {
    !combine(pseudo, sum_skipping(segment, field))
}

/// UDP sends a computed checksum of 0 as 0xffff (0 means "no checksum").
#[inline]
pub fn udp_value(cksum: u16) -> u16 {
    if cksum == 0 { 0xffff } else { cksum }
}

/// Whether an L4 segment's checksum (in place) is right for `pseudo`.
#[inline]
pub fn l4_ok(pseudo: u16, segment: &[u8]) -> bool {
    combine(pseudo, sum(segment)) == 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The textbook definition, for comparison.
    fn reference(data: &[u8]) -> u16 {
        let mut acc: u32 = 0;
        for c in data.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], 0])
            };
            acc += w as u32;
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u16
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071, section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
        assert_eq!(
            sum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0xddf2
        );
    }

    #[test]
    fn ipv4_header_of_a_known_packet() {
        // A real IPv4 header with checksum 0xb861.
        let hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(ipv4_header(&hdr), 0xb861);
        assert_eq!(sum(&hdr), 0xffff, "a correct header sums to all ones");
    }

    proptest! {
        #[test]
        fn sum_matches_the_definition(data in prop::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(sum(&data), reference(&data));
        }

        #[test]
        fn skipping_a_field_is_zeroing_it(data in prop::collection::vec(any::<u8>(), 2..100), at in 0usize..49) {
            let at = (2 * at).min(data.len() - 2) & !1;
            let mut zeroed = data.clone();
            zeroed[at] = 0;
            zeroed[at + 1] = 0;
            prop_assert_eq!(sum_skipping(&data, at), reference(&zeroed));
        }

        #[test]
        fn a_filled_checksum_verifies(mut seg in prop::collection::vec(any::<u8>(), 8..200), pseudo in any::<u16>()) {
            let c = l4(pseudo, &seg, 6);
            seg[6..8].copy_from_slice(&c.to_be_bytes());
            prop_assert!(l4_ok(pseudo, &seg));
            seg[0] ^= 1;
            prop_assert!(!l4_ok(pseudo, &seg));
        }
    }
}
