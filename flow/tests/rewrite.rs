//! Header rewrites and VLAN actions on mbufs: each action's bytes against frames built whole by
//! etherparse (so the incrementally updated checksums equal recomputed ones), DEC_TTL at TTL 1
//! and 0, a rewrite in group 0 matched by group 1, SET_META / SET_TAG / MODIFY_FIELD seen by
//! META and TAG items and SET_META reaching the mbuf's metadata field, VLAN flags, a failed
//! push dropping the packet, validation; and on real traffic through a veth pair (root only):
//! af_packet in, the rewritten frames out of a pcap port, read back by our parser and by
//! `tcpdump -vv`.

use std::net::Ipv6Addr;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rpdk_flow::{Direction, ErrorType, Fate, FlowTable};
use rpdk_mbuf::net::{Ipv4, Ipv6, Tcp, Udp};
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, Mbuf, MbufBurst, OlFlags, PacketType, PktmbufPool};
use rpdk_testsupport::netns::NetNs;
use rpdk_testsupport::port::{PortFixture, PortSetup};
use rpdk_testsupport::raw::RawSocket;
use rpdk_testsupport::{eal_args, require_root, serial};

mod common;
use common::rule;

const SMAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const DMAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
const A6: [u8; 16] = [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const B6: [u8; 16] = [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const PAYLOAD: &[u8] = b"rpdk rewrites, 0123456789";

/// Ethernet / IPv4 / UDP, every checksum computed.
fn udp4(mac: ([u8; 6], [u8; 6]), ip: ([u8; 4], [u8; 4]), ttl: u8, ports: (u16, u16)) -> Vec<u8> {
    let mut v = Vec::new();
    etherparse::PacketBuilder::ethernet2(mac.0, mac.1)
        .ipv4(ip.0, ip.1, ttl)
        .udp(ports.0, ports.1)
        .write(&mut v, PAYLOAD)
        .unwrap();
    v
}

fn udp4p(ttl: u8, ports: (u16, u16)) -> Vec<u8> {
    udp4((SMAC, DMAC), ([10, 0, 0, 1], [10, 0, 0, 2]), ttl, ports)
}

/// Ethernet / IPv4 / TCP.
fn tcp4(ip: ([u8; 4], [u8; 4]), ports: (u16, u16)) -> Vec<u8> {
    let mut v = Vec::new();
    etherparse::PacketBuilder::ethernet2(SMAC, DMAC)
        .ipv4(ip.0, ip.1, 64)
        .tcp(ports.0, ports.1, 1000, 4096)
        .write(&mut v, PAYLOAD)
        .unwrap();
    v
}

/// Ethernet / IPv6 / UDP.
fn udp6(ip: ([u8; 16], [u8; 16]), hop: u8, ports: (u16, u16)) -> Vec<u8> {
    let mut v = Vec::new();
    etherparse::PacketBuilder::ethernet2(SMAC, DMAC)
        .ipv6(ip.0, ip.1, hop)
        .udp(ports.0, ports.1)
        .write(&mut v, PAYLOAD)
        .unwrap();
    v
}

/// The IPv4 TOS byte set (the header checksum recomputed).
fn tos(mut f: Vec<u8>, tos: u8) -> Vec<u8> {
    f[15] = tos;
    f[24..26].fill(0);
    let c = rpdk_mbuf::net::checksum::ipv4_header(&f[14..34]);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    f
}

/// The IPv6 traffic class set.
fn tc6(mut f: Vec<u8>, tc: u8) -> Vec<u8> {
    f[14] = (f[14] & 0xf0) | (tc >> 4);
    f[15] = (f[15] & 0x0f) | (tc << 4);
    f
}

/// UDP over IPv4 without a checksum.
fn no_udp_cksum(mut f: Vec<u8>) -> Vec<u8> {
    f[40..42].fill(0);
    f
}

/// A VLAN tag inserted after the MAC addresses.
fn tagged(mut f: Vec<u8>, tpid: u16, tci: u16) -> Vec<u8> {
    let [a, b] = tpid.to_be_bytes();
    let [c, d] = tci.to_be_bytes();
    f.splice(12..12, [a, b, c, d]);
    f
}

/// Whether our parser finds every IPv4 and L4 checksum of an (untagged or tagged) frame right.
fn checksums_ok(f: &[u8]) -> bool {
    let mut at = 12;
    while matches!(u16::from_be_bytes([f[at], f[at + 1]]), 0x8100 | 0x88a8) {
        at += 4;
    }
    let l3 = &f[at + 2..];
    match u16::from_be_bytes([f[at], f[at + 1]]) {
        0x0800 => {
            let ip = Ipv4::new_checked(l3).unwrap();
            let (s, d) = (ip.src(), ip.dst());
            ip.verify_checksum()
                && match ip.protocol() {
                    17 => Udp::new_checked(ip.payload())
                        .unwrap()
                        .verify_checksum_ipv4(s, d),
                    6 => Tcp::new_checked(ip.payload())
                        .unwrap()
                        .verify_checksum_ipv4(s, d),
                    _ => true,
                }
        }
        0x86dd => {
            let ip = Ipv6::new_checked(l3).unwrap();
            Udp::new_checked(ip.payload())
                .unwrap()
                .verify_checksum_ipv6(ip.src(), ip.dst())
        }
        _ => true,
    }
}

/// The rewrite cases: (rule actions after the pattern, the frame sent, the frame expected).
/// Each rule matches its frames by their L4 destination port (1001 up).
fn cases() -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let m =
        |p: &str, a: &str| format!("ingress pattern {p} / end actions {a} / queue index 0 / end");
    let u = |port: u16| format!("eth / ipv4 / udp dst is {port}");
    vec![
        (
            m(
                &u(1001),
                "set_mac_src mac_addr 02:aa:bb:cc:dd:ee / set_mac_dst mac_addr 00:11:22:33:44:55",
            ),
            udp4p(64, (7, 1001)),
            udp4(
                (
                    [2, 0xaa, 0xbb, 0xcc, 0xdd, 0xee],
                    [0, 0x11, 0x22, 0x33, 0x44, 0x55],
                ),
                ([10, 0, 0, 1], [10, 0, 0, 2]),
                64,
                (7, 1001),
            ),
        ),
        (
            m(
                &u(1002),
                "set_ipv4_src ipv4_addr 192.168.7.7 / set_ipv4_dst ipv4_addr 172.16.0.1",
            ),
            udp4p(64, (7, 1002)),
            udp4(
                (SMAC, DMAC),
                ([192, 168, 7, 7], [172, 16, 0, 1]),
                64,
                (7, 1002),
            ),
        ),
        (
            // A datagram without a UDP checksum keeps none.
            m(&u(1003), "set_ipv4_dst ipv4_addr 172.16.0.9"),
            no_udp_cksum(udp4p(64, (7, 1003))),
            no_udp_cksum(udp4(
                (SMAC, DMAC),
                ([10, 0, 0, 1], [172, 16, 0, 9]),
                64,
                (7, 1003),
            )),
        ),
        (
            m(
                "eth / ipv4 / tcp dst is 1004",
                "set_tp_src port 4321 / set_tp_dst port 80",
            ),
            tcp4(([10, 0, 0, 1], [10, 0, 0, 2]), (7, 1004)),
            tcp4(([10, 0, 0, 1], [10, 0, 0, 2]), (4321, 80)),
        ),
        (
            m(
                "eth / ipv6 / udp dst is 1005",
                "set_ipv6_src ipv6_addr 2001:db8::a / set_ipv6_dst ipv6_addr fe80::42 / dec_ttl / set_ipv6_dscp dscp_value 10",
            ),
            udp6((A6, B6), 64, (7, 1005)),
            tc6(
                udp6(
                    (
                        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xa).octets(),
                        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x42).octets(),
                    ),
                    63,
                    (7, 1005),
                ),
                10 << 2,
            ),
        ),
        (
            m(
                &u(1006),
                "set_ttl ttl_value 5 / set_ipv4_dscp dscp_value 46 / dec_ttl",
            ),
            tos(udp4p(64, (7, 1006)), 0x01),
            tos(udp4p(4, (7, 1006)), (46 << 2) | 0x01),
        ),
        (
            m(
                &u(1007),
                "modify_field op add dst_type udp_port_dst src_type value src_value 0064 width 16 / \
                 modify_field op set dst_type ipv4_src dst_offset 24 src_type ipv4_dst src_offset 24 width 8 / \
                 modify_field op sub dst_type ipv4_ttl src_type value src_value 0a width 8",
            ),
            udp4p(64, (7, 1007)),
            udp4((SMAC, DMAC), ([10, 0, 0, 2], [10, 0, 0, 2]), 54, (7, 1107)),
        ),
        (
            m(
                &u(1008),
                "of_push_vlan ethertype 0x8100 / of_set_vlan_vid vlan_vid 100 / of_set_vlan_pcp vlan_pcp 5",
            ),
            udp4p(64, (7, 1008)),
            tagged(udp4p(64, (7, 1008)), 0x8100, (5 << 13) | 100),
        ),
        (
            m(
                "eth / vlan vid is 7 / ipv4 / udp dst is 1009",
                "of_set_vlan_vid vlan_vid 9 / of_push_vlan ethertype 0x88a8",
            ),
            tagged(udp4p(64, (7, 1009)), 0x8100, (3 << 13) | 7),
            // The pushed tag copies the outer one's TCI (OpenFlow's push).
            tagged(
                tagged(udp4p(64, (7, 1009)), 0x8100, (3 << 13) | 9),
                0x88a8,
                (3 << 13) | 9,
            ),
        ),
        (
            // DEC_TTL at TTL 1: 0, and the packet goes on.
            m(&u(1010), "dec_ttl"),
            udp4p(1, (7, 1010)),
            udp4p(0, (7, 1010)),
        ),
        (
            // ... at TTL 0: 255 (modulo 256, as mlx5 does).
            m(&u(1011), "dec_ttl"),
            udp4p(0, (7, 1011)),
            udp4p(255, (7, 1011)),
        ),
    ]
}

fn mbuf(pool: &PktmbufPool, f: &[u8]) -> Mbuf {
    let mut m = pool.alloc().unwrap();
    m.append(f.len() as u16).unwrap().copy_from_slice(f);
    m
}

#[test]
fn each_rewrite_gives_the_frame_expected() {
    let _s = serial();
    let _eal = rpdk_eal::init(eal_args::<&str>("flow-rewrite-bytes", &[])).unwrap();
    let pool = PktmbufPool::create("rw_bytes", 127, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let t = FlowTable::new(0, 4);
    let cases = cases();
    for (r, _, _) in &cases {
        t.create(rule(r)).unwrap_or_else(|e| panic!("{r}: {e}"));
    }
    for (r, sent, want) in &cases {
        let mut pkts = [mbuf(&pool, sent)];
        pkts[0].set_packet_type(PacketType::L2_ETHER | PacketType::L3_IPV4 | PacketType::L4_UDP);
        let mut v = [Default::default()];
        t.classify(Direction::Ingress, &mut pkts, &mut v);
        assert_eq!(v[0].fate, Fate::Queue(0), "{r}");
        assert_eq!(pkts[0].data(), &want[..], "{r}");
        assert_eq!(pkts[0].pkt_len() as usize, want.len());
        assert!(checksums_ok(pkts[0].data()), "{r}");
        // The packet type describes the new headers.
        let (pt, _) = rpdk_mbuf::net::get_ptype(want, PacketType::ALL_MASK);
        assert_eq!(pkts[0].packet_type(), pt, "{r}");
    }
    assert_eq!(t.edit_drops(), 0);
    pool.audit().unwrap();
}

#[test]
fn a_pushed_tag_is_reported_as_a_received_one_and_a_popped_one_is_not() {
    let _s = serial();
    let _eal = rpdk_eal::init(eal_args::<&str>("flow-rewrite-vlan", &[])).unwrap();
    let pool = PktmbufPool::create("rw_vlan", 63, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let t = FlowTable::new(0, 4);
    t.create(rule(
        "ingress pattern eth / ipv4 / udp dst is 1 / end actions of_push_vlan ethertype 0x8100 / of_set_vlan_vid vlan_vid 0x123 / queue index 1 / end",
    ))
    .unwrap();
    t.create(rule(
        "ingress pattern eth / vlan / ipv4 / udp dst is 2 / end actions of_pop_vlan / queue index 2 / end",
    ))
    .unwrap();
    // A tag the driver stripped goes back under the pushed one.
    t.create(rule(
        "ingress pattern eth / ipv4 / udp dst is 3 / end actions of_push_vlan ethertype 0x88a8 / queue index 3 / end",
    ))
    .unwrap();
    let mut pkts = [
        mbuf(&pool, &udp4p(64, (9, 1))),
        mbuf(&pool, &tagged(udp4p(64, (9, 2)), 0x8100, 5)),
        mbuf(&pool, &udp4p(64, (9, 3))),
    ];
    pkts[1].set_ol_flags(OlFlags::RX_VLAN);
    pkts[1].set_vlan_tci(5);
    pkts[2].set_ol_flags(OlFlags::RX_VLAN | OlFlags::RX_VLAN_STRIPPED);
    pkts[2].set_vlan_tci(0x2007);
    let mut v = [Default::default(); 3];
    t.classify(Direction::Ingress, &mut pkts, &mut v);
    assert_eq!(v.map(|v| v.fate), [1, 2, 3].map(Fate::Queue));
    assert_eq!(
        pkts[0].data(),
        &tagged(udp4p(64, (9, 1)), 0x8100, 0x123)[..]
    );
    assert!(pkts[0].ol_flags().contains(OlFlags::RX_VLAN));
    assert!(!pkts[0].ol_flags().contains(OlFlags::RX_VLAN_STRIPPED));
    assert_eq!(pkts[0].vlan_tci(), 0x123);
    assert_eq!(pkts[1].data(), &udp4p(64, (9, 2))[..]);
    assert!(!pkts[1].ol_flags().contains(OlFlags::RX_VLAN));
    assert_eq!(pkts[1].vlan_tci(), 0);
    assert_eq!(
        pkts[2].data(),
        &tagged(tagged(udp4p(64, (9, 3)), 0x8100, 0x2007), 0x88a8, 0x2007)[..]
    );
    assert_eq!(
        pkts[2].ol_flags() & (OlFlags::RX_VLAN | OlFlags::RX_VLAN_STRIPPED),
        OlFlags::RX_VLAN
    );
    assert_eq!(pkts[2].vlan_tci(), 0x2007);
}

/// QinQ frames whose tags the driver stripped (DPDK: `RX_QINQ_STRIPPED` with `vlan_tci_outer`,
/// `RX_VLAN_STRIPPED` with `vlan_tci`): OF_PUSH_VLAN puts them back into the data in wire
/// order first (the outer one as an 802.1ad tag), OF_SET_VLAN_VID/PCP change the outermost tag
/// on the wire, the stripped one first, and the reporting fields follow, as OF_POP_VLAN.
#[test]
fn push_and_set_take_the_stripped_qinq_tags_as_the_outermost() {
    let _s = serial();
    let _eal = rpdk_eal::init(eal_args::<&str>("flow-rewrite-qinq", &[])).unwrap();
    let pool = PktmbufPool::create("rw_qinq", 63, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let t = FlowTable::new(0, 4);
    for r in [
        "ingress pattern eth / ipv4 / udp dst is 1 / end actions of_push_vlan ethertype 0x8100 / of_set_vlan_vid vlan_vid 0x123 / queue index 1 / end",
        "ingress pattern eth / vlan / ipv4 / udp dst is 2 / end actions of_push_vlan ethertype 0x9100 / queue index 2 / end",
        "ingress pattern eth / vlan / ipv4 / udp dst is 3 / end actions of_set_vlan_pcp vlan_pcp 5 / queue index 3 / end",
        "ingress pattern eth / vlan / ipv4 / udp dst is 4 / end actions of_set_vlan_vid vlan_vid 300 / queue index 1 / end",
        "ingress pattern eth / vlan / vlan / ipv4 / udp dst is 5 / end actions of_set_vlan_vid vlan_vid 301 / queue index 2 / end",
    ] {
        t.create(rule(r)).unwrap_or_else(|e| panic!("{r}: {e}"));
    }
    let both =
        OlFlags::RX_VLAN | OlFlags::RX_VLAN_STRIPPED | OlFlags::RX_QINQ | OlFlags::RX_QINQ_STRIPPED;
    let outer_only = OlFlags::RX_VLAN | OlFlags::RX_QINQ | OlFlags::RX_QINQ_STRIPPED;
    let in_data = OlFlags::RX_VLAN | OlFlags::RX_QINQ;
    // (frame, flags, vlan_tci, vlan_tci_outer); outer TCI 0x20c8 (PCP 1, VID 200), inner 100.
    let cases: [(Vec<u8>, OlFlags, u16, u16); 6] = [
        // 0: both tags stripped, nothing in the data: both back, then the new one.
        (udp4p(64, (9, 1)), both, 100, 0x20c8),
        // 1: the outer tag stripped, the inner one (100) in the data.
        (
            tagged(udp4p(64, (9, 2)), 0x8100, 100),
            outer_only,
            100,
            0x20c8,
        ),
        // 2: both stripped, a third tag (7) in the data: the stripped outer one gets PCP 5.
        (tagged(udp4p(64, (9, 3)), 0x8100, 7), both, 100, 0x20c8),
        // 3: the outer stripped, the inner in the data: the stripped one gets VID 300.
        (
            tagged(udp4p(64, (9, 4)), 0x8100, 100),
            outer_only,
            100,
            0x20c8,
        ),
        // 4: both in the data and reported: the data's outer tag, vlan_tci_outer following.
        (
            tagged(tagged(udp4p(64, (9, 5)), 0x8100, 100), 0x88a8, 0x20c8),
            in_data,
            100,
            0x20c8,
        ),
        // 5: as 0 with room for two of the three tags: dropped, untouched.
        (udp4p(64, (9, 1)), both, 100, 0x20c8),
    ];
    let mut pkts: Vec<Mbuf> = cases
        .iter()
        .enumerate()
        .map(|(i, (f, flags, tci, outer))| {
            let mut m = pool.alloc().unwrap();
            if i == 5 {
                m.set_headroom(8).unwrap();
            }
            m.append(f.len() as u16).unwrap().copy_from_slice(f);
            m.set_ol_flags(*flags);
            m.set_vlan_tci(*tci);
            m.set_vlan_tci_outer(*outer);
            m
        })
        .collect();
    let mut v = [Default::default(); 6];
    t.classify(Direction::Ingress, &mut pkts, &mut v);
    use Fate::{Drop, Queue};
    assert_eq!(
        v.map(|v| v.fate),
        [Queue(1), Queue(2), Queue(3), Queue(1), Queue(2), Drop]
    );
    let vlan_flags = |m: &Mbuf| {
        m.ol_flags()
            & (OlFlags::RX_VLAN
                | OlFlags::RX_VLAN_STRIPPED
                | OlFlags::RX_QINQ
                | OlFlags::RX_QINQ_STRIPPED)
    };
    let tcis = |m: &Mbuf| (m.vlan_tci(), m.vlan_tci_outer());

    // 0: inner 100 (802.1Q), outer 0x20c8 (802.1ad), then the pushed tag: the outer's TCI
    // with VID 0x123. Reported as a QinQ frame received with both tags in the data.
    let want = tagged(
        tagged(tagged(udp4p(64, (9, 1)), 0x8100, 100), 0x88a8, 0x20c8),
        0x8100,
        0x2123,
    );
    assert_eq!(pkts[0].data(), &want[..]);
    assert_eq!(vlan_flags(&pkts[0]), in_data);
    assert_eq!(
        tcis(&pkts[0]),
        (0x20c8, 0x2123),
        "inner: the tag under the new one"
    );

    // 1: the stripped outer tag back over the inner one in the data, the new one on top.
    let want = tagged(
        tagged(tagged(udp4p(64, (9, 2)), 0x8100, 100), 0x88a8, 0x20c8),
        0x9100,
        0x20c8,
    );
    assert_eq!(pkts[1].data(), &want[..]);
    assert_eq!(vlan_flags(&pkts[1]), in_data);
    assert_eq!(tcis(&pkts[1]), (0x20c8, 0x20c8));

    // 2: only vlan_tci_outer changes (PCP 5 over PCP 1); the data's tag 7 and vlan_tci stay.
    assert_eq!(pkts[2].data(), &cases[2].0[..]);
    assert_eq!(vlan_flags(&pkts[2]), both);
    assert_eq!(tcis(&pkts[2]), (100, 0xa0c8));

    // 3: the stripped outer tag gets VID 300 (PCP 1 kept); the inner one is untouched.
    assert_eq!(pkts[3].data(), &cases[3].0[..]);
    assert_eq!(vlan_flags(&pkts[3]), outer_only);
    assert_eq!(tcis(&pkts[3]), (100, 0x2000 | 300));

    // 4: the data's outer tag gets VID 301, vlan_tci_outer follows it, vlan_tci (inner) stays.
    let want = tagged(tagged(udp4p(64, (9, 5)), 0x8100, 100), 0x88a8, 0x2000 | 301);
    assert_eq!(pkts[4].data(), &want[..]);
    assert_eq!(vlan_flags(&pkts[4]), in_data);
    assert_eq!(tcis(&pkts[4]), (100, 0x2000 | 301));

    // 5: 8 bytes of headroom for 12: nothing moved, nothing cleared, counted.
    assert_eq!(pkts[5].data(), &cases[5].0[..]);
    assert_eq!(vlan_flags(&pkts[5]), both);
    assert_eq!(tcis(&pkts[5]), (100, 0x20c8));
    assert_eq!(t.edit_drops(), 1);
    drop(pkts);
    assert_eq!(pool.in_use_count(), 0);
    pool.audit().unwrap();
}

#[test]
fn a_push_without_headroom_drops_the_packet() {
    let _s = serial();
    let _eal = rpdk_eal::init(eal_args::<&str>("flow-rewrite-room", &[])).unwrap();
    let pool = PktmbufPool::create("rw_room", 63, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let t = FlowTable::new(0, 4);
    t.create(rule(
        "ingress pattern eth / end actions of_push_vlan ethertype 0x8100 / count / queue index 1 / end",
    ))
    .unwrap();
    let f = udp4p(64, (1, 2));
    let mut m = pool.alloc().unwrap();
    m.set_headroom(0).unwrap();
    m.append(f.len() as u16).unwrap().copy_from_slice(&f);
    let mut pkts = [m];
    let mut v = [Default::default()];
    t.classify(Direction::Ingress, &mut pkts, &mut v);
    assert_eq!(v[0].fate, Fate::Drop);
    assert_eq!(t.edit_drops(), 1);
    assert_eq!(pkts[0].data(), &f[..], "a failed edit leaves the bytes");
}

#[test]
fn a_rewrite_in_group_0_is_matched_in_group_1() {
    let _s = serial();
    let _eal = rpdk_eal::init(eal_args::<&str>("flow-rewrite-jump", &[])).unwrap();
    let pool = PktmbufPool::create("rw_jump", 63, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let t = FlowTable::new(0, 4);
    for r in [
        "ingress pattern eth / ipv4 src is 10.0.0.1 / udp / end actions set_ipv4_src ipv4_addr 192.168.0.9 / set_tp_dst port 53 / dec_ttl / jump group 1 / end",
        "ingress group 1 priority 0 pattern eth / ipv4 src is 192.168.0.9 ttl is 63 / udp dst is 53 / end actions queue index 3 / end",
        "ingress group 1 priority 1 pattern eth / end actions queue index 1 / end",
        // VLAN: pushed in group 0, matched by a VLAN item in group 1.
        "ingress pattern eth / ipv4 src is 10.0.0.7 / end actions of_push_vlan ethertype 0x8100 / of_set_vlan_vid vlan_vid 77 / jump group 2 / end",
        "ingress group 2 pattern eth / vlan vid is 77 / ipv4 / end actions queue index 2 / end",
    ] {
        t.create(rule(r)).unwrap_or_else(|e| panic!("{r}: {e}"));
    }
    let mut pkts = [
        mbuf(&pool, &udp4p(64, (5, 6))),
        mbuf(
            &pool,
            &udp4((SMAC, DMAC), ([10, 0, 0, 7], [10, 0, 0, 2]), 64, (5, 6)),
        ),
    ];
    let mut v = [Default::default(); 2];
    t.classify(Direction::Ingress, &mut pkts, &mut v);
    assert_eq!(v[0].fate, Fate::Queue(3));
    assert_eq!(
        pkts[0].data(),
        &udp4((SMAC, DMAC), ([192, 168, 0, 9], [10, 0, 0, 2]), 63, (5, 53))[..]
    );
    assert_eq!(v[1].fate, Fate::Queue(2));
}

#[test]
fn set_meta_set_tag_and_modify_field_reach_later_groups_and_the_mbuf() {
    let _s = serial();
    let _eal = rpdk_eal::init(eal_args::<&str>("flow-rewrite-meta", &[])).unwrap();
    let pool = PktmbufPool::create("rw_meta", 63, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let t = FlowTable::new(0, 4);
    for r in [
        // The UDP destination port into tag 1's low half; META 0x1200, then + 0x34.
        "ingress pattern eth / ipv4 / udp / end actions set_meta data 0x1200 / set_tag data 0xab index 3 / \
         modify_field op set dst_type tag dst_level 1 dst_offset 16 src_type udp_port_dst width 16 / \
         modify_field op add dst_type meta src_type value src_value 34000000 width 32 / jump group 1 / end",
        "ingress group 1 priority 0 pattern meta data is 0x1234 / tag data is 0xab index is 3 / tag data is 2000 index is 1 / end actions queue index 3 / end",
        "ingress group 1 priority 1 pattern eth / end actions queue index 1 / end",
    ] {
        t.create(rule(r)).unwrap_or_else(|e| panic!("{r}: {e}"));
    }
    assert!(
        rpdk_flow::dynf_metadata_avail(),
        "SET_META registers the field"
    );
    let mut pkts = [mbuf(&pool, &udp4p(64, (1000, 2000)))];
    let mut v = [Default::default()];
    t.classify(Direction::Ingress, &mut pkts, &mut v);
    assert_eq!(v[0].fate, Fate::Queue(3));
    assert_eq!(v[0].meta, Some(0x1234));
    assert_eq!(rpdk_flow::dynf_metadata(&pkts[0]), Some(0x1234));
    assert_eq!(
        pkts[0].data(),
        &udp4p(64, (1000, 2000))[..],
        "no byte changed"
    );

    // At egress, META items see the application's TX metadata.
    let e = FlowTable::new(0, 1);
    e.create(rule(
        "egress pattern meta data is 5 / end actions drop / end",
    ))
    .unwrap();
    let mut pkts = [
        mbuf(&pool, &udp4p(64, (1, 2))),
        mbuf(&pool, &udp4p(64, (1, 2))),
    ];
    let (field, flag) = rpdk_flow::dynf_metadata_register().unwrap();
    field.set(&mut pkts[0], 5);
    flag.set(&mut pkts[0], true);
    let mut v = [Default::default(); 2];
    e.classify(Direction::Egress, &mut pkts, &mut v);
    assert_eq!([v[0].fate, v[1].fate], [Fate::Drop, Fate::Default]);
}

#[test]
fn validation_refuses_what_cannot_be_rewritten() {
    let t = FlowTable::new(0, 4);
    for (r, kind, words) in [
        (
            "ingress pattern eth / end actions set_ipv4_src ipv4_addr 1.2.3.4 / queue index 0 / end",
            ErrorType::Action,
            "SET_IPV4_SRC: the pattern has no IPV4 item",
        ),
        (
            "ingress pattern eth / ipv4 / end actions set_tp_dst port 1 / queue index 0 / end",
            ErrorType::Action,
            "no TCP or UDP item",
        ),
        (
            "ingress pattern eth / end actions of_set_vlan_vid vlan_vid 5000 / queue index 0 / end",
            ErrorType::ActionConf,
            "out of range",
        ),
        (
            "ingress pattern eth / end actions of_set_vlan_vid vlan_vid 5 / queue index 0 / end",
            ErrorType::Action,
            "needs a VLAN item",
        ),
        (
            "ingress pattern eth / end actions of_push_vlan ethertype 0x0800 / queue index 0 / end",
            ErrorType::ActionConf,
            "not a VLAN TPID",
        ),
        (
            "ingress pattern eth / end actions modify_field op set dst_type ipv4_ttl src_type value src_value 01 width 0 / queue index 0 / end",
            ErrorType::ActionConf,
            "width 0",
        ),
        (
            "ingress pattern eth / end actions modify_field op set dst_type ipv4_ttl dst_offset 4 src_type value width 8 / queue index 0 / end",
            ErrorType::ActionConf,
            "past its 8 bits",
        ),
        (
            "ingress pattern eth / end actions modify_field op set dst_type mac_type src_type value width 8 / queue index 0 / end",
            ErrorType::ActionConf,
            "not supported",
        ),
        (
            "ingress pattern eth / end actions modify_field op set dst_type mark src_type meta width 8 / queue index 0 / end",
            ErrorType::ActionConf,
            "source only",
        ),
        (
            "ingress pattern eth / end actions modify_field op set dst_type ipv4_src dst_level 2 src_type value width 8 / queue index 0 / end",
            ErrorType::ActionConf,
            "outermost",
        ),
    ] {
        let e = t.validate(&rule(r)).unwrap_err();
        assert_eq!(e.kind, kind, "{r}: {e}");
        assert!(e.message.contains(words), "{r}: {e}");
    }
    // In a meter policy, edits are refused.
    let p = rpdk_flow::meter::MeterPolicy::new().actions(
        rpdk_flow::meter::Color::Green,
        vec![rpdk_flow::Action::DecTtl],
    );
    assert!(t.meters().policy_add(1, p).is_err());
}

/// The records of a pcap file (classic, any timestamp precision).
fn pcap_frames(file: &str) -> Vec<Vec<u8>> {
    let b = std::fs::read(file).unwrap();
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= b.len() {
        let n = u32::from_le_bytes(b[at + 8..at + 12].try_into().unwrap()) as usize;
        out.push(b[at + 16..at + 16 + n].to_vec());
        at += 16 + n;
    }
    out
}

#[test]
fn rewrites_on_real_traffic_through_a_veth_pair() {
    if !require_root("rewrites_on_real_traffic_through_a_veth_pair") {
        return;
    }
    let _s = serial();
    let ns = NetNs::new("frw").unwrap();
    ns.add_veth("rwa", "rwb").unwrap();
    let _in = ns.enter().unwrap();
    let pcap = format!(
        "/tmp/{}-rewrite.pcap",
        rpdk_testsupport::unique_prefix("rw")
    );
    let f = PortFixture::new(
        "flow-rewrite-veth",
        &[
            "net_af_packet0,iface=rwa".to_string(),
            format!("net_pcap0,tx_pcap={pcap}"),
        ]
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
        &PortSetup::default(),
    )
    .unwrap();
    let (p0, p1) = (f.port(0), f.port(1));
    let rx_rules = Arc::new(FlowTable::new(p0.id(), 1));
    let mut cases = cases();
    for (r, _, _) in &cases {
        rx_rules
            .create(rule(r))
            .unwrap_or_else(|e| panic!("{r}: {e}"));
    }
    p0.set_classifier(Some(rx_rules.clone())).unwrap();
    // An egress rule on the pcap port: an 802.1ad tag on case 2's frames, without a fate.
    let tx_rules = Arc::new(FlowTable::new(p1.id(), 1));
    tx_rules
        .create(rule(
            "egress pattern eth / ipv4 / udp dst is 1002 / end actions of_push_vlan ethertype 0x88a8 / of_set_vlan_vid vlan_vid 42 / end",
        ))
        .unwrap();
    p1.set_classifier(Some(tx_rules.clone())).unwrap();
    cases[1].2 = tagged(cases[1].2.clone(), 0x88a8, 42);

    let peer = RawSocket::open("rwb");
    for (_, sent, _) in &cases {
        peer.send(sent);
    }
    let (mut rx, mut tx) = (p0.rx_queue(0).unwrap(), p1.tx_queue(0).unwrap());
    let mut b = MbufBurst::<32>::new();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < cases.len() && Instant::now() < deadline {
        if rx.rx_burst(&mut b) == 0 {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        got.extend(b.iter().map(|m| m.data().to_vec()));
        tx.tx_burst(&mut b);
        b.clear();
    }
    drop((rx, tx, b));
    p0.set_classifier(None).unwrap();
    p1.set_classifier(None).unwrap();
    drop(f);
    assert_eq!(got.len(), cases.len(), "every frame came in");
    let written = pcap_frames(&pcap);
    assert_eq!(written.len(), cases.len(), "every frame went out");
    for ((r, _, want), out) in cases.iter().zip(&written) {
        assert_eq!(out, want, "{r}");
        assert!(checksums_ok(out), "{r}");
    }
    // tcpdump checks the IPv4, TCP and UDP checksums with -vv.
    let td = Command::new("tcpdump")
        .args(["-e", "-vv", "-nn", "-r", &pcap])
        .output();
    let _ = std::fs::remove_file(&pcap);
    let Ok(td) = td else {
        eprintln!("tcpdump not found: its check is skipped");
        return;
    };
    let text = String::from_utf8_lossy(&td.stdout);
    assert!(
        td.status.success(),
        "{}",
        String::from_utf8_lossy(&td.stderr)
    );
    assert!(!text.contains("bad"), "{text}");
    assert!(!text.contains("incorrect"), "{text}");
    let verified = text.matches("[udp sum ok]").count() + text.matches("(correct)").count();
    assert_eq!(verified, cases.len() - 1, "{text}");
    assert!(text.contains("[no cksum]"), "{text}");
    assert!(text.contains("172.16.0.1"), "{text}");
    assert!(text.contains("vlan 100, p 5"), "{text}");
}
