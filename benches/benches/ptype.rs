//! Criterion benches of rpdk-mbuf's software packet-type parser (`get_ptype`, DPDK's
//! `rte_net_get_ptype`), which software RSS runs on every received frame: a plain UDP/IPv4
//! frame, TCP over IPv6 with two extension headers, and TCP inside VXLAN. Frames are built by
//! etherparse.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use etherparse::{IpNumber, Ipv6Extensions, Ipv6RawExtHeader, PacketBuilder};
use rpdk_mbuf::PacketType;
use rpdk_mbuf::net::get_ptype;

const MAC1: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC2: [u8; 6] = [2, 0, 0, 0, 0, 2];

fn udp4(dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(MAC1, MAC2)
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(1000, dst_port)
        .write(&mut v, payload)
        .expect("udp4 frame");
    v
}

fn tcp4() -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(MAC1, MAC2)
        .ipv4([10, 1, 0, 1], [10, 1, 0, 2], 64)
        .tcp(1000, 80, 1, 65535)
        .write(&mut v, &[0; 64])
        .expect("tcp4 frame");
    v
}

fn tcp6_ext() -> Vec<u8> {
    let hop =
        Ipv6RawExtHeader::new_raw(IpNumber::IPV6_DESTINATION_OPTIONS, &[0; 6]).expect("hop-by-hop");
    let dst = Ipv6RawExtHeader::new_raw(IpNumber::TCP, &[0; 6]).expect("destination options");
    let ext = Ipv6Extensions {
        hop_by_hop_options: Some(hop),
        destination_options: Some(dst),
        ..Ipv6Extensions::default()
    };
    let mut v = Vec::new();
    PacketBuilder::ethernet2(MAC1, MAC2)
        .ipv6([1; 16], [2; 16], 64)
        .tcp(1000, 80, 1, 65535)
        .write(&mut v, &[0; 64])
        .expect("tcp6 frame");
    // Splice the extension headers in after the fixed IPv6 header (next header 0).
    let mut out = v[..54].to_vec();
    out[20] = IpNumber::IPV6_HEADER_HOP_BY_HOP.0;
    let mut hdrs = Vec::new();
    ext.write(&mut hdrs, IpNumber::IPV6_HEADER_HOP_BY_HOP)
        .expect("extension headers");
    let plen = u16::from_be_bytes([out[18], out[19]]) + hdrs.len() as u16;
    out[18..20].copy_from_slice(&plen.to_be_bytes());
    out.extend_from_slice(&hdrs);
    out.extend_from_slice(&v[54..]);
    out
}

fn vxlan() -> Vec<u8> {
    let mut payload = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
    payload.extend_from_slice(&tcp4());
    udp4(4789, &payload)
}

fn ptype(c: &mut Criterion) {
    let mut g = c.benchmark_group("get_ptype");
    g.throughput(Throughput::Elements(1));
    for (name, frame, expect) in [
        ("udp4", udp4(2000, &[0; 64]), "L2_ETHER L3_IPV4 L4_UDP"),
        ("tcp6-ext", tcp6_ext(), "L2_ETHER L3_IPV6_EXT L4_TCP"),
        (
            "vxlan-tcp4",
            vxlan(),
            "L2_ETHER L3_IPV4 L4_UDP TUNNEL_VXLAN INNER_L2_ETHER INNER_L3_IPV4 INNER_L4_TCP",
        ),
    ] {
        let (pt, _) = get_ptype(&frame, PacketType::ALL_MASK);
        assert_eq!(pt.to_string(), expect, "{name}");
        g.bench_function(name, |b| {
            b.iter(|| get_ptype(black_box(&frame), black_box(PacketType::ALL_MASK)))
        });
    }
    g.finish();
}

criterion_group!(benches, ptype);
criterion_main!(benches);
