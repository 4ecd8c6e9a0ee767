//! Frames for the flow tests, built with etherparse.

#![allow(dead_code)]

use etherparse::PacketBuilder;
use rpdk_flow::FlowRule;
use rpdk_flow::syntax::{FlowCommand, parse};

/// A rule in testpmd's syntax: `text` is what follows `flow create 0 `.
pub fn rule(text: &str) -> FlowRule {
    match parse(&format!("flow create 0 {text}")) {
        Ok(FlowCommand::Create { rule, .. }) => rule,
        other => panic!("{text}: {other:?}"),
    }
}

/// The frames' source MAC.
pub const SRC_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
/// The frames' destination MAC.
pub const DST_MAC: [u8; 6] = [0, 0x11, 0x22, 0x33, 0x44, 0x55];

/// Ethernet / IPv4 / UDP.
pub fn udp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .ipv4(src, dst, 64)
        .udp(sport, dport)
        .write(&mut v, &[0u8; 18])
        .unwrap();
    v
}

/// Ethernet / IPv4 / TCP.
pub fn tcp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .ipv4(src, dst, 64)
        .tcp(sport, dport, 1, 1024)
        .write(&mut v, &[0u8; 6])
        .unwrap();
    v
}

/// Ethernet / VLAN / IPv4 / UDP.
pub fn udp4_vlan(vid: u16, src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .single_vlan(vid.try_into().unwrap())
        .ipv4(src, dst, 64)
        .udp(sport, dport)
        .write(&mut v, &[0u8; 18])
        .unwrap();
    v
}

/// Ethernet / IPv6 / UDP.
pub fn udp6(src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .ipv6(src, dst, 64)
        .udp(sport, dport)
        .write(&mut v, &[0u8; 8])
        .unwrap();
    v
}

/// Ethernet / IPv4 / ICMP echo request (`ty` 8) or reply.
pub fn icmp4(src: [u8; 4], dst: [u8; 4], ty: u8) -> Vec<u8> {
    let mut v = Vec::new();
    let b = PacketBuilder::ethernet2(SRC_MAC, DST_MAC).ipv4(src, dst, 64);
    let b = if ty == 8 {
        b.icmpv4_echo_request(1, 2)
    } else {
        b.icmpv4_echo_reply(1, 2)
    };
    b.write(&mut v, &[0u8; 8]).unwrap();
    v
}

/// Ethernet / IPv6 / ICMPv6 echo request.
pub fn icmp6(src: [u8; 16], dst: [u8; 16]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .ipv6(src, dst, 64)
        .icmpv6_echo_request(1, 2)
        .write(&mut v, &[0u8; 8])
        .unwrap();
    v
}

/// VXLAN (UDP 4789) around an inner TCP/IPv4 frame.
pub fn vxlan(vni: u32, inner_dst: [u8; 4]) -> Vec<u8> {
    let inner = tcp4([172, 16, 0, 1], inner_dst, 1234, 80);
    let mut payload = vec![0x08, 0, 0, 0];
    payload.extend_from_slice(&(vni << 8).to_be_bytes());
    payload.extend_from_slice(&inner);
    let mut v = Vec::new();
    PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(40000, 4789)
        .write(&mut v, &payload)
        .unwrap();
    v
}

/// GENEVE (UDP 6081) around an inner Ethernet frame.
pub fn geneve(vni: u32) -> Vec<u8> {
    let inner = udp4([172, 16, 0, 1], [172, 16, 0, 2], 1, 2);
    let mut payload = vec![0, 0, 0x65, 0x58];
    payload.extend_from_slice(&(vni << 8).to_be_bytes());
    payload.extend_from_slice(&inner);
    let mut v = Vec::new();
    PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(40000, 6081)
        .write(&mut v, &payload)
        .unwrap();
    v
}

/// IPv4 protocol 47: GRE carrying IPv4 (`nvgre`: carrying Ethernet with key = TNI << 8).
pub fn gre(nvgre_tni: Option<u32>) -> Vec<u8> {
    let (hdr, inner): (Vec<u8>, Vec<u8>) = match nvgre_tni {
        Some(tni) => {
            let mut h = vec![0x20, 0x00, 0x65, 0x58];
            h.extend_from_slice(&(tni << 8).to_be_bytes());
            (h, udp4([172, 16, 0, 1], [172, 16, 0, 2], 1, 2))
        }
        None => (
            vec![0, 0, 0x08, 0],
            udp4([172, 16, 0, 1], [172, 16, 0, 2], 1, 2)[14..].to_vec(),
        ),
    };
    let mut payload = hdr;
    payload.extend_from_slice(&inner);
    let mut v = Vec::new();
    PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .write(&mut v, etherparse::IpNumber(47), &payload)
        .unwrap();
    v
}

/// An MPLS frame with two labels.
pub fn mpls(l1: u32, l2: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&DST_MAC);
    v.extend_from_slice(&SRC_MAC);
    v.extend_from_slice(&0x8847u16.to_be_bytes());
    v.extend_from_slice(&((l1 << 12) | 64).to_be_bytes());
    v.extend_from_slice(&((l2 << 12) | 0x100 | 64).to_be_bytes());
    v.extend_from_slice(&udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2)[14..]);
    v
}

/// Ethernet / IPv4 / SCTP.
pub fn sctp4(sport: u16, dport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .write(&mut v, etherparse::IpNumber(132), &{
            let mut s = Vec::new();
            s.extend_from_slice(&sport.to_be_bytes());
            s.extend_from_slice(&dport.to_be_bytes());
            s.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0]);
            s
        })
        .unwrap();
    v
}
