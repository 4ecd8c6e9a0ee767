//! The packet-type parser and header views against real packet layouts, truncations, random
//! bytes, and etherparse.

use etherparse::{PacketBuilder, SlicedPacket};
use proptest::prelude::*;
use rpdk_mbuf::PacketType as P;
use rpdk_mbuf::net::{self, Ethernet, HdrLens, Ipv4, Ipv6, Tcp, Udp, ether_type, get_ptype};

const MAC1: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC2: [u8; 6] = [2, 0, 0, 0, 0, 2];

fn udp4(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(MAC1, MAC2)
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(1000, 2000)
        .write(&mut v, payload)
        .unwrap();
    v
}

/// Ethernet header with `ether_type`, then `rest`.
fn eth(t: u16, rest: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&MAC1);
    v.extend_from_slice(&MAC2);
    v.extend_from_slice(&t.to_be_bytes());
    v.extend_from_slice(rest);
    v
}

/// An IPv4 header of `ihl` words for protocol `proto`, then `payload`.
fn ip4(proto: u8, ihl: u8, frag: u16, payload: &[u8]) -> Vec<u8> {
    let hl = ihl as usize * 4;
    let mut v = vec![0u8; hl];
    v[0] = 0x40 | ihl;
    v[2..4].copy_from_slice(&((hl + payload.len()) as u16).to_be_bytes());
    v[6..8].copy_from_slice(&frag.to_be_bytes());
    v[8] = 64;
    v[9] = proto;
    v[12..16].copy_from_slice(&[10, 0, 0, 1]);
    v[16..20].copy_from_slice(&[10, 0, 0, 2]);
    let mut ip = Ipv4::new_checked(&mut v[..]).unwrap();
    ip.fill_checksum();
    v.extend_from_slice(payload);
    v
}

fn ip6(next: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; 40];
    v[0] = 0x60;
    v[4..6].copy_from_slice(&(payload.len() as u16).to_be_bytes());
    v[6] = next;
    v[7] = 64;
    v.extend_from_slice(payload);
    v
}

fn udp(src: u16, dst: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; 8];
    v[0..2].copy_from_slice(&src.to_be_bytes());
    v[2..4].copy_from_slice(&dst.to_be_bytes());
    v[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn tcp(doff: u8) -> Vec<u8> {
    let mut v = vec![0u8; doff as usize * 4];
    v[12] = doff << 4;
    v
}

fn inner_tcp4() -> Vec<u8> {
    eth(ether_type::IPV4, &ip4(6, 5, 0, &tcp(5)))
}

fn lens(l2: u16, l3: u16, l4: u16) -> HdrLens {
    HdrLens {
        l2_len: l2,
        l3_len: l3,
        l4_len: l4,
        ..HdrLens::default()
    }
}

#[test]
fn packet_types_of_real_layouts() {
    let vxlan = {
        let mut vx = vec![0x08, 0, 0, 0, 0, 0, 0x2a, 0];
        vx.extend_from_slice(&inner_tcp4());
        eth(ether_type::IPV4, &ip4(17, 5, 0, &udp(5555, 4789, &vx)))
    };
    let gre = {
        let mut g = vec![0, 0, 0x08, 0x00];
        g.extend_from_slice(&ip4(17, 5, 0, &udp(1, 2, b"x")));
        eth(ether_type::IPV4, &ip4(47, 5, 0, &g))
    };
    let nvgre = {
        let mut g = vec![0x20, 0, 0x65, 0x58, 0, 0, 0, 1];
        g.extend_from_slice(&inner_tcp4());
        eth(ether_type::IPV6, &ip6(47, &g))
    };
    let ipip = eth(
        ether_type::IPV4,
        &ip4(4, 5, 0, &ip4(1, 5, 0, &[8, 0, 0, 0, 0, 0, 0, 0])),
    );
    let geneve = {
        let mut g = vec![0x01, 0, 0x65, 0x58, 0, 0, 1, 0, 0, 0, 0, 0];
        g.extend_from_slice(&eth(ether_type::IPV6, &ip6(58, &[128, 0, 0, 0])));
        eth(ether_type::IPV4, &ip4(17, 5, 0, &udp(1, 6081, &g)))
    };
    let vlan = {
        let mut t = vec![0x20, 0x0a, 0x08, 0x00];
        t.extend_from_slice(&ip4(6, 6, 0, &tcp(8)));
        eth(ether_type::VLAN, &t)
    };
    let qinq = {
        let mut t = vec![0, 1, 0x81, 0x00, 0, 2, 0x86, 0xdd];
        t.extend_from_slice(&ip6(132, &[0u8; 12]));
        eth(ether_type::QINQ, &t)
    };
    let ip6_ext = {
        // hop-by-hop (8) -> destination options (16) -> TCP
        let mut e = vec![60, 0, 0, 0, 0, 0, 0, 0, 6, 1];
        e.resize(24, 0);
        e.extend_from_slice(&tcp(5));
        eth(ether_type::IPV6, &ip6(0, &e))
    };
    let ip6_frag = {
        let mut e = vec![17, 0, 0, 8, 0, 0, 0, 1];
        e.extend_from_slice(&udp(1, 2, b""));
        eth(ether_type::IPV6, &ip6(44, &e))
    };
    let mpls = eth(ether_type::MPLS, &[0, 0, 0x10, 64, 0, 0, 0x21, 64, 0x45]);

    let cases: Vec<(&str, Vec<u8>, &str, HdrLens)> = vec![
        (
            "udp4",
            udp4(b"abc"),
            "L2_ETHER L3_IPV4 L4_UDP",
            lens(14, 20, 8),
        ),
        (
            "ip4 options",
            eth(0x0800, &ip4(6, 7, 0, &tcp(5))),
            "L2_ETHER L3_IPV4_EXT L4_TCP",
            lens(14, 28, 20),
        ),
        (
            "ip4 first fragment",
            eth(0x0800, &ip4(17, 5, 0x2000, &udp(1, 2, b""))),
            "L2_ETHER L3_IPV4 L4_FRAG",
            lens(14, 20, 0),
        ),
        (
            "ip4 later fragment",
            eth(0x0800, &ip4(6, 5, 0x0010, &[0; 8])),
            "L2_ETHER L3_IPV4 L4_FRAG",
            lens(14, 20, 0),
        ),
        (
            "icmp",
            eth(0x0800, &ip4(1, 5, 0, &[8, 0, 0, 0, 0, 0, 0, 0])),
            "L2_ETHER L3_IPV4 L4_ICMP",
            lens(14, 20, 0),
        ),
        (
            "igmp",
            eth(0x0800, &ip4(2, 5, 0, &[0x11; 8])),
            "L2_ETHER L3_IPV4 L4_IGMP",
            lens(14, 20, 0),
        ),
        (
            "other proto",
            eth(0x0800, &ip4(89, 5, 0, &[0; 8])),
            "L2_ETHER L3_IPV4 L4_NONFRAG",
            lens(14, 20, 0),
        ),
        (
            "vlan",
            vlan,
            "L2_ETHER_VLAN L3_IPV4_EXT L4_TCP",
            lens(18, 24, 32),
        ),
        (
            "qinq sctp6",
            qinq,
            "L2_ETHER_QINQ L3_IPV6 L4_SCTP",
            lens(22, 40, 12),
        ),
        (
            "ip6 ext",
            ip6_ext,
            "L2_ETHER L3_IPV6_EXT L4_TCP",
            lens(14, 64, 20),
        ),
        (
            "ip6 frag",
            ip6_frag,
            "L2_ETHER L3_IPV6_EXT L4_FRAG",
            lens(14, 48, 0),
        ),
        (
            "ip6 no next",
            eth(0x86dd, &ip6(59, b"")),
            "L2_ETHER L3_IPV6",
            lens(14, 40, 0),
        ),
        (
            "arp",
            eth(ether_type::ARP, &[0; 28]),
            "L2_ETHER_ARP",
            lens(14, 0, 0),
        ),
        (
            "lldp",
            eth(ether_type::LLDP, &[0; 28]),
            "L2_ETHER_LLDP",
            lens(14, 0, 0),
        ),
        ("mpls", mpls, "L2_ETHER_MPLS", lens(22, 0, 0)),
        (
            "unknown type",
            eth(0x1234, &[0; 28]),
            "L2_ETHER",
            lens(14, 0, 0),
        ),
        (
            "vxlan",
            vxlan,
            "L2_ETHER L3_IPV4 L4_UDP TUNNEL_VXLAN INNER_L2_ETHER INNER_L3_IPV4 INNER_L4_TCP",
            HdrLens {
                l2_len: 14,
                l3_len: 20,
                l4_len: 8,
                inner_l2_len: 30,
                inner_l3_len: 20,
                inner_l4_len: 20,
                tunnel_len: 0,
            },
        ),
        (
            "gre",
            gre,
            "L2_ETHER L3_IPV4 TUNNEL_GRE INNER_L3_IPV4 INNER_L4_UDP",
            HdrLens {
                l2_len: 14,
                l3_len: 20,
                tunnel_len: 4,
                inner_l3_len: 20,
                inner_l4_len: 8,
                ..HdrLens::default()
            },
        ),
        (
            "nvgre over ipv6",
            nvgre,
            "L2_ETHER L3_IPV6 TUNNEL_NVGRE INNER_L2_ETHER INNER_L3_IPV4 INNER_L4_TCP",
            HdrLens {
                l2_len: 14,
                l3_len: 40,
                tunnel_len: 8,
                inner_l2_len: 14,
                inner_l3_len: 20,
                inner_l4_len: 20,
                ..HdrLens::default()
            },
        ),
        (
            "ipip",
            ipip,
            "L2_ETHER L3_IPV4 TUNNEL_IP INNER_L3_IPV4 INNER_L4_ICMP",
            HdrLens {
                l2_len: 14,
                l3_len: 20,
                inner_l3_len: 20,
                ..HdrLens::default()
            },
        ),
        (
            "geneve with options",
            geneve,
            "L2_ETHER L3_IPV4 L4_UDP TUNNEL_GENEVE INNER_L2_ETHER INNER_L3_IPV6 INNER_L4_ICMP",
            HdrLens {
                l2_len: 14,
                l3_len: 20,
                l4_len: 8,
                inner_l2_len: 8 + 12 + 14,
                inner_l3_len: 40,
                ..HdrLens::default()
            },
        ),
    ];
    for (name, pkt, want, want_lens) in cases {
        let (pt, h) = get_ptype(&pkt, P::ALL_MASK);
        assert_eq!(pt.to_string(), want, "{name}");
        assert_eq!(h, want_lens, "{name}");
        // Asking for fewer layers gives a prefix of the answer.
        let (l2, _) = get_ptype(&pkt, P::L2_MASK);
        assert_eq!(l2, pt.l2(), "{name}: L2 only");
        let (l3, _) = get_ptype(&pkt, P::L2_MASK | P::L3_MASK);
        assert_eq!(l3.0 & !P::L2_MASK, pt.l3().0, "{name}: up to L3");
        let (outer, _) = get_ptype(&pkt, P::L2_MASK | P::L3_MASK | P::L4_MASK);
        assert_eq!(
            outer.0,
            pt.0 & (P::L2_MASK | P::L3_MASK | P::L4_MASK),
            "{name}: outer"
        );
    }
}

/// Every prefix of a valid packet parses without panicking, to a subset of the full answer.
#[test]
fn truncated_packets_give_a_prefix_of_the_type() {
    let mut vx = vec![0x08, 0, 0, 0, 0, 0, 0x2a, 0];
    vx.extend_from_slice(&inner_tcp4());
    let packets = [
        udp4(b"hello"),
        eth(ether_type::IPV4, &ip4(17, 5, 0, &udp(5555, 4789, &vx))),
        eth(
            ether_type::IPV6,
            &ip6(
                0,
                &[
                    6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x50,
                ],
            ),
        ),
    ];
    for pkt in packets {
        let (full, _) = get_ptype(&pkt, P::ALL_MASK);
        for n in 0..pkt.len() {
            let (pt, _) = get_ptype(&pkt[..n], P::ALL_MASK);
            for mask in [
                P::L2_MASK,
                P::L3_MASK,
                P::L4_MASK,
                P::TUNNEL_MASK,
                P::INNER_L2_MASK,
                P::INNER_L3_MASK,
                P::INNER_L4_MASK,
            ] {
                let layer = pt.0 & mask;
                assert!(
                    layer == 0 || layer == full.0 & mask || mask == P::L2_MASK,
                    "prefix {n}: {pt} vs {full}"
                );
            }
        }
    }
}

/// An IPv6 extension header that says "no next header" but is longer than the data is not
/// counted in `l3_len` (a case the fuzzer found: the lengths pointed past the packet).
#[test]
fn an_extension_header_past_the_data_is_not_counted() {
    // Hop-by-hop, next header 59 (none), length (3 + 1) * 8 = 32 bytes, but only 8 present.
    let pkt = eth(ether_type::IPV6, &ip6(0, &[59, 3, 0, 0, 0, 0, 0, 0]));
    let (pt, h) = get_ptype(&pkt, P::ALL_MASK);
    assert_eq!(pt, P::L2_ETHER | P::L3_IPV6_EXT);
    assert_eq!(h, lens(14, 40, 0));
    // The same header when it fits.
    let pkt = eth(ether_type::IPV6, &ip6(0, &[59, 0, 0, 0, 0, 0, 0, 0]));
    assert_eq!(get_ptype(&pkt, P::ALL_MASK).1, lens(14, 48, 0));
}

proptest! {
    /// Arbitrary bytes never panic the parser or the views.
    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..300), t in prop::sample::select(vec![0x0800u16, 0x86dd, 0x8100, 0x88a8, 0x8847, 0x0806, 0x1234])) {
        let pkt = eth(t, &data);
        let _ = get_ptype(&data, P::ALL_MASK);
        let (_, h) = get_ptype(&pkt, P::ALL_MASK);
        let total = h.l2_len as usize + h.l3_len as usize + h.l4_len as usize;
        prop_assert!(total <= pkt.len(), "lengths point past the data");
        if let Ok(e) = Ethernet::new_checked(&pkt[..]) {
            let _ = (e.dst(), e.src(), e.ether_type());
        }
        if let Ok(ip) = Ipv4::new_checked(&data[..]) {
            let _ = (ip.payload(), ip.options(), ip.verify_checksum(), ip.src(), ip.is_fragment());
        }
        if let Ok(ip) = Ipv6::new_checked(&data[..]) {
            let _ = (ip.payload(), ip.flow_label(), net::skip_ipv6_ext(ip.next_header(), ip.payload()));
        }
        if let Ok(t) = Tcp::new_checked(&data[..]) {
            let _ = (t.payload(), t.options(), t.flags());
        }
        if let Ok(u) = Udp::new_checked(&data[..]) {
            let _ = u.payload();
        }
    }

    /// For packets etherparse builds, our parser finds the same layers and lengths, and our
    /// views read the same fields and verify etherparse's checksums.
    #[test]
    fn agrees_with_etherparse(
        v6 in any::<bool>(),
        tcp in any::<bool>(),
        vlan in prop::option::of(0u16..4096),
        ports in (any::<u16>(), any::<u16>()),
        payload in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut pkt = Vec::new();
        let b = PacketBuilder::ethernet2(MAC1, MAC2);
        let b = if v6 {
            b.ipv6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 64)
        } else {
            b.ipv4([192, 168, 1, 1], [192, 168, 1, 2], 64)
        };
        if tcp {
            b.tcp(ports.0, ports.1, 7, 1024).write(&mut pkt, &payload).unwrap();
        } else {
            b.udp(ports.0, ports.1).write(&mut pkt, &payload).unwrap();
        }
        if let Some(id) = vlan {
            let tci = id.to_be_bytes();
            pkt.splice(12..12, [0x81, 0x00, tci[0], tci[1]]);
        }
        let (pt, h) = get_ptype(&pkt, P::ALL_MASK);
        let sliced = SlicedPacket::from_ethernet(&pkt).unwrap();
        let l3_start = h.l2_len as usize;
        prop_assert_eq!(pt.is_ipv6(), v6);
        prop_assert_eq!(pt.l2(), if vlan.is_some() { P::L2_ETHER_VLAN } else { P::L2_ETHER });
        prop_assert_eq!(pt.l4(), if tcp { P::L4_TCP } else { P::L4_UDP });
        let (l3, l4): (&[u8], &[u8]) = match (&sliced.net, &sliced.transport) {
            (Some(etherparse::NetSlice::Ipv4(ip)), Some(t)) => (ip.header().slice(), transport_slice(t)),
            (Some(etherparse::NetSlice::Ipv6(ip)), Some(t)) => (ip.header().slice(), transport_slice(t)),
            other => panic!("etherparse sliced {other:?}"),
        };
        prop_assert_eq!(h.l3_len as usize, l3.len());
        prop_assert_eq!(h.l4_len as usize, if tcp { l4.len() } else { 8 });
        prop_assert_eq!(&pkt[l3_start..l3_start + l3.len()], l3);
        let l4_start = l3_start + h.l3_len as usize;
        let seg = &pkt[l4_start..];
        if v6 {
            let ip = Ipv6::new_checked(&pkt[l3_start..]).unwrap();
            if tcp {
                let t = Tcp::new_checked(seg).unwrap();
                prop_assert!(t.verify_checksum_ipv6(ip.src(), ip.dst()));
                prop_assert_eq!((t.src_port(), t.dst_port(), t.seq()), (ports.0, ports.1, 7));
            } else {
                let u = Udp::new_checked(seg).unwrap();
                prop_assert!(u.verify_checksum_ipv6(ip.src(), ip.dst()));
                prop_assert_eq!(u.payload(), &payload[..]);
            }
        } else {
            let ip = Ipv4::new_checked(&pkt[l3_start..]).unwrap();
            prop_assert!(ip.verify_checksum());
            if tcp {
                let t = Tcp::new_checked(seg).unwrap();
                prop_assert!(t.verify_checksum_ipv4(ip.src(), ip.dst()));
                prop_assert_eq!(t.payload(), &payload[..]);
            } else {
                let u = Udp::new_checked(seg).unwrap();
                prop_assert!(u.verify_checksum_ipv4(ip.src(), ip.dst()));
                prop_assert_eq!((u.src_port(), u.dst_port()), ports);
            }
        }
    }

    /// Checksums we fill are the ones etherparse computes.
    #[test]
    fn filled_checksums_match_etherparse(payload in prop::collection::vec(any::<u8>(), 0..100), ttl in any::<u8>()) {
        let mut pkt = Vec::new();
        PacketBuilder::ethernet2(MAC1, MAC2)
            .ipv4([1, 2, 3, 4], [5, 6, 7, 8], ttl)
            .udp(53, 5353)
            .write(&mut pkt, &payload)
            .unwrap();
        let theirs = pkt.clone();
        let mut ip = Ipv4::new_checked(&mut pkt[14..]).unwrap();
        let (src, dst) = (ip.src(), ip.dst());
        ip.fill_checksum();
        let mut u = Udp::new_checked(&mut pkt[34..]).unwrap();
        u.fill_checksum_ipv4(src, dst);
        prop_assert_eq!(pkt, theirs);
    }
}

fn transport_slice<'a>(t: &etherparse::TransportSlice<'a>) -> &'a [u8] {
    match t {
        etherparse::TransportSlice::Tcp(s) => s.header_slice(),
        etherparse::TransportSlice::Udp(s) => s.header_slice(),
        etherparse::TransportSlice::Icmpv4(_) | etherparse::TransportSlice::Icmpv6(_) => &[],
    }
}
