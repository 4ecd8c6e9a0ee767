//! Receive-side scaling in software: the Toeplitz hash with DPDK's default key, DPDK's hash
//! types (`RTE_ETH_RSS_*`), and the redirection of a hash to a queue.

use std::fmt;
use std::ops::BitOr;

use rpdk_mbuf::PacketType;
use rpdk_mbuf::net::{self, ip_proto};

/// DPDK's default RSS key (the Microsoft/Intel one, `rss_intel_key`), 40 bytes.
pub const DEFAULT_RSS_KEY: [u8; 40] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/// RSS hash types (`RTE_ETH_RSS_*` bits of `rss_hf`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RssHf(pub u64);

impl RssHf {
    /// Nothing.
    pub const NONE: RssHf = RssHf(0);
    /// IPv4 addresses.
    pub const IPV4: RssHf = RssHf(1 << 2);
    /// Fragmented IPv4: addresses.
    pub const FRAG_IPV4: RssHf = RssHf(1 << 3);
    /// IPv4 TCP: addresses and ports.
    pub const NONFRAG_IPV4_TCP: RssHf = RssHf(1 << 4);
    /// IPv4 UDP: addresses and ports.
    pub const NONFRAG_IPV4_UDP: RssHf = RssHf(1 << 5);
    /// IPv4 SCTP: addresses and ports.
    pub const NONFRAG_IPV4_SCTP: RssHf = RssHf(1 << 6);
    /// Other IPv4: addresses.
    pub const NONFRAG_IPV4_OTHER: RssHf = RssHf(1 << 7);
    /// IPv6 addresses.
    pub const IPV6: RssHf = RssHf(1 << 8);
    /// Fragmented IPv6: addresses.
    pub const FRAG_IPV6: RssHf = RssHf(1 << 9);
    /// IPv6 TCP: addresses and ports.
    pub const NONFRAG_IPV6_TCP: RssHf = RssHf(1 << 10);
    /// IPv6 UDP: addresses and ports.
    pub const NONFRAG_IPV6_UDP: RssHf = RssHf(1 << 11);
    /// IPv6 SCTP: addresses and ports.
    pub const NONFRAG_IPV6_SCTP: RssHf = RssHf(1 << 12);
    /// Other IPv6: addresses.
    pub const NONFRAG_IPV6_OTHER: RssHf = RssHf(1 << 13);
    /// Non-IP: L2 payload.
    pub const L2_PAYLOAD: RssHf = RssHf(1 << 14);
    /// IPv6 with extension headers.
    pub const IPV6_EX: RssHf = RssHf(1 << 15);
    /// IPv6 TCP with extension headers.
    pub const IPV6_TCP_EX: RssHf = RssHf(1 << 16);
    /// IPv6 UDP with extension headers.
    pub const IPV6_UDP_EX: RssHf = RssHf(1 << 17);
    /// Every IP packet by addresses (`RTE_ETH_RSS_IP`).
    pub const IP: RssHf = RssHf(
        Self::IPV4.0
            | Self::FRAG_IPV4.0
            | Self::NONFRAG_IPV4_OTHER.0
            | Self::IPV6.0
            | Self::FRAG_IPV6.0
            | Self::NONFRAG_IPV6_OTHER.0
            | Self::IPV6_EX.0,
    );
    /// TCP by addresses and ports (`RTE_ETH_RSS_TCP`).
    pub const TCP: RssHf =
        RssHf(Self::NONFRAG_IPV4_TCP.0 | Self::NONFRAG_IPV6_TCP.0 | Self::IPV6_TCP_EX.0);
    /// UDP by addresses and ports (`RTE_ETH_RSS_UDP`).
    pub const UDP: RssHf =
        RssHf(Self::NONFRAG_IPV4_UDP.0 | Self::NONFRAG_IPV6_UDP.0 | Self::IPV6_UDP_EX.0);
    /// SCTP by addresses and ports (`RTE_ETH_RSS_SCTP`).
    pub const SCTP: RssHf = RssHf(Self::NONFRAG_IPV4_SCTP.0 | Self::NONFRAG_IPV6_SCTP.0);

    /// Whether any bit of `other` is set.
    pub const fn intersects(self, other: RssHf) -> bool {
        self.0 & other.0 != 0
    }

    /// The bits in both.
    pub const fn and(self, other: RssHf) -> RssHf {
        RssHf(self.0 & other.0)
    }

    /// Parses testpmd's names: `ip`, `tcp`, `udp`, `sctp`, `all`, `none`, `ipv4`, `ipv6`,
    /// `ipv4-tcp`, `ipv4-udp`, `ipv6-tcp`, `ipv6-udp`, `ipv4-other`, `ipv6-other`, `l2-payload`.
    pub fn parse(name: &str) -> Option<RssHf> {
        Some(match name {
            "none" => Self::NONE,
            "all" => {
                RssHf(Self::IP.0 | Self::TCP.0 | Self::UDP.0 | Self::SCTP.0 | Self::L2_PAYLOAD.0)
            }
            "ip" => Self::IP,
            "tcp" => Self::TCP,
            "udp" => Self::UDP,
            "sctp" => Self::SCTP,
            "ipv4" => Self::IPV4,
            "ipv6" => Self::IPV6,
            "ipv4-frag" => Self::FRAG_IPV4,
            "ipv4-tcp" => Self::NONFRAG_IPV4_TCP,
            "ipv4-udp" => Self::NONFRAG_IPV4_UDP,
            "ipv4-sctp" => Self::NONFRAG_IPV4_SCTP,
            "ipv4-other" => Self::NONFRAG_IPV4_OTHER,
            "ipv6-frag" => Self::FRAG_IPV6,
            "ipv6-tcp" => Self::NONFRAG_IPV6_TCP,
            "ipv6-udp" => Self::NONFRAG_IPV6_UDP,
            "ipv6-sctp" => Self::NONFRAG_IPV6_SCTP,
            "ipv6-other" => Self::NONFRAG_IPV6_OTHER,
            "l2-payload" => Self::L2_PAYLOAD,
            _ => return None,
        })
    }
}

impl BitOr for RssHf {
    type Output = RssHf;
    fn bitor(self, rhs: RssHf) -> RssHf {
        RssHf(self.0 | rhs.0)
    }
}

impl fmt::Display for RssHf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// The Toeplitz hash of `input` under `key` (DPDK's `rte_softrss_be` over a byte string). The
/// key must be at least 4 bytes longer than the input.
pub fn toeplitz(input: &[u8], key: &[u8]) -> u32 {
    let mut hash = 0u32;
    // A 64-bit window over the key, refilled a byte at a time.
    let mut window = u64::from_be_bytes([
        key.first().copied().unwrap_or(0),
        key.get(1).copied().unwrap_or(0),
        key.get(2).copied().unwrap_or(0),
        key.get(3).copied().unwrap_or(0),
        key.get(4).copied().unwrap_or(0),
        key.get(5).copied().unwrap_or(0),
        key.get(6).copied().unwrap_or(0),
        key.get(7).copied().unwrap_or(0),
    ]);
    for (i, &byte) in input.iter().enumerate() {
        for bit in 0..8 {
            if byte & (0x80 >> bit) != 0 {
                hash ^= (window >> (32 - bit)) as u32;
            }
        }
        window = (window << 8) | key.get(i + 8).copied().unwrap_or(0) as u64;
    }
    hash
}

/// The RSS hash of a frame as a NIC computes it for the types in `hf`: addresses (and ports
/// for TCP/UDP/SCTP when asked) of the outer IPv4 or IPv6 header, hashed with `key`. `None` when
/// no type in `hf` applies to the frame.
pub fn hash_frame(frame: &[u8], hf: RssHf, key: &[u8]) -> Option<u32> {
    let (pt, lens) = net::get_ptype(
        frame,
        PacketType::L2_MASK | PacketType::L3_MASK | PacketType::L4_MASK,
    );
    let l3 = frame.get(lens.l2_len as usize..)?;
    let l4 = frame.get(lens.l2_len as usize + lens.l3_len as usize..);
    let ports = |want: bool| -> Option<[u8; 4]> {
        if !want {
            return None;
        }
        let p = l4?.get(..4)?;
        Some([p[0], p[1], p[2], p[3]])
    };
    let l4t = pt.l4();
    let mut buf = [0u8; 36];
    let n = if pt.is_ipv4() {
        let ip = net::Ipv4::new_checked(l3).ok()?;
        let frag = l4t == PacketType::L4_FRAG;
        let (wanted, with_ports) = match (frag, ip.protocol()) {
            (true, _) => (hf.intersects(RssHf::FRAG_IPV4 | RssHf::IPV4), false),
            (false, ip_proto::TCP) if hf.intersects(RssHf::NONFRAG_IPV4_TCP) => (true, true),
            (false, ip_proto::UDP) if hf.intersects(RssHf::NONFRAG_IPV4_UDP) => (true, true),
            (false, ip_proto::SCTP) if hf.intersects(RssHf::NONFRAG_IPV4_SCTP) => (true, true),
            (false, _) => (
                hf.intersects(RssHf::NONFRAG_IPV4_OTHER | RssHf::IPV4),
                false,
            ),
        };
        if !wanted {
            return None;
        }
        buf[..4].copy_from_slice(&ip.src().octets());
        buf[4..8].copy_from_slice(&ip.dst().octets());
        match ports(with_ports) {
            Some(p) => {
                buf[8..12].copy_from_slice(&p);
                12
            }
            None if with_ports => return None,
            None => 8,
        }
    } else if pt.is_ipv6() {
        let ip = net::Ipv6::new_checked(l3).ok()?;
        let frag = l4t == PacketType::L4_FRAG;
        let (wanted, with_ports) = match (frag, l4t) {
            (true, _) => (hf.intersects(RssHf::FRAG_IPV6 | RssHf::IPV6), false),
            (false, PacketType::L4_TCP) if hf.intersects(RssHf::NONFRAG_IPV6_TCP) => (true, true),
            (false, PacketType::L4_UDP) if hf.intersects(RssHf::NONFRAG_IPV6_UDP) => (true, true),
            (false, PacketType::L4_SCTP) if hf.intersects(RssHf::NONFRAG_IPV6_SCTP) => (true, true),
            (false, _) => (
                hf.intersects(RssHf::NONFRAG_IPV6_OTHER | RssHf::IPV6),
                false,
            ),
        };
        if !wanted {
            return None;
        }
        buf[..16].copy_from_slice(&ip.src().octets());
        buf[16..32].copy_from_slice(&ip.dst().octets());
        match ports(with_ports) {
            Some(p) => {
                buf[32..36].copy_from_slice(&p);
                36
            }
            None if with_ports => return None,
            None => 32,
        }
    } else {
        return None;
    };
    Some(toeplitz(&buf[..n], key))
}

/// The default redirection table: entry `i` sends to queue `i % nb_queues`, as DPDK drivers
/// fill it.
pub fn default_reta(size: usize, nb_queues: u16) -> Vec<u16> {
    (0..size)
        .map(|i| (i % nb_queues.max(1) as usize) as u16)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: [u8; 4], b: [u8; 4], sp: u16, dp: u16) -> Vec<u8> {
        let mut v = a.to_vec();
        v.extend_from_slice(&b);
        v.extend_from_slice(&sp.to_be_bytes());
        v.extend_from_slice(&dp.to_be_bytes());
        v
    }

    /// Microsoft's RSS verification suite, IPv4.
    #[test]
    fn microsoft_verification_vectors() {
        let cases = [
            (
                [66, 9, 149, 187],
                [161, 142, 100, 80],
                2794,
                1766,
                0x323e_8fc2,
                0x51cc_c178,
            ),
            (
                [199, 92, 111, 2],
                [65, 69, 140, 83],
                14230,
                4739,
                0xd718_262a,
                0xc626_b0ea,
            ),
            (
                [24, 19, 198, 95],
                [12, 22, 207, 184],
                12898,
                38024,
                0xd2d0_a5de,
                0x5c2b_394a,
            ),
            (
                [38, 27, 205, 30],
                [209, 142, 163, 6],
                48228,
                2217,
                0x8298_9176,
                0xafc7_327f,
            ),
            (
                [153, 39, 163, 191],
                [202, 188, 127, 2],
                44251,
                1303,
                0x5d18_09c5,
                0x10e8_28a2,
            ),
        ];
        for (src, dst, sp, dp, ip_only, with_ports) in cases {
            let t = v4(src, dst, sp, dp);
            assert_eq!(toeplitz(&t[..8], &DEFAULT_RSS_KEY), ip_only, "{src:?}");
            assert_eq!(toeplitz(&t, &DEFAULT_RSS_KEY), with_ports, "{src:?}");
        }
    }

    #[test]
    fn frames_hash_by_type() {
        let mut frame = Vec::new();
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([66, 9, 149, 187], [161, 142, 100, 80], 64)
            .tcp(2794, 1766, 0, 1024)
            .write(&mut frame, b"")
            .unwrap();
        assert_eq!(
            hash_frame(&frame, RssHf::TCP, &DEFAULT_RSS_KEY),
            Some(0x51cc_c178)
        );
        assert_eq!(
            hash_frame(&frame, RssHf::IP, &DEFAULT_RSS_KEY),
            Some(0x323e_8fc2),
            "TCP not asked: addresses only"
        );
        assert_eq!(hash_frame(&frame, RssHf::UDP, &DEFAULT_RSS_KEY), None);
        assert_eq!(
            hash_frame(&frame[..20], RssHf::TCP, &DEFAULT_RSS_KEY),
            None,
            "truncated"
        );
        assert_eq!(default_reta(8, 3), [0, 1, 2, 0, 1, 2, 0, 1]);
        assert_eq!(RssHf::parse("udp"), Some(RssHf::UDP));
        assert!(RssHf::parse("bogus").is_none());
    }
}
