//! Feeds arbitrary bytes to the packet-type parser and every header view: nothing may panic or
//! read out of bounds (the fuzzer runs with AddressSanitizer), and the lengths the parser
//! reports must lie within the data.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rpdk_mbuf::PacketType;
use rpdk_mbuf::net::{self, Ethernet, Icmp, Ipv4, Ipv6, Sctp, Tcp, Udp, Vlan};

fuzz_target!(|data: &[u8]| {
    let (_, h) = net::get_ptype(data, PacketType::ALL_MASK);
    let outer = h.l2_len as usize + h.l3_len as usize + h.l4_len as usize;
    assert!(outer <= data.len(), "outer lengths {h:?} past {} bytes", data.len());
    for layers in [PacketType::L2_MASK, PacketType::L2_MASK | PacketType::L3_MASK] {
        let _ = net::get_ptype(data, layers);
    }
    if let Ok(e) = Ethernet::new_checked(data) {
        let _ = (e.dst(), e.src(), e.ether_type(), e.payload().len());
    }
    if let Ok(v) = Vlan::new_checked(data) {
        let _ = (v.vid(), v.pcp(), v.ether_type());
    }
    if let Ok(ip) = Ipv4::new_checked(data) {
        let _ = (ip.payload().len(), ip.options().len(), ip.verify_checksum(), ip.is_fragment());
        let _ = ip.pseudo_sum(ip.payload().len() as u16);
    }
    if let Ok(ip) = Ipv6::new_checked(data) {
        let _ = net::skip_ipv6_ext(ip.next_header(), ip.payload());
        let _ = ip.pseudo_sum(17, ip.payload().len() as u32);
    }
    if let Ok(t) = Tcp::new_checked(data) {
        let _ = (t.payload().len(), t.options().len(), t.flags(), t.verify_checksum_ipv4([1, 2, 3, 4].into(), [5, 6, 7, 8].into()));
    }
    if let Ok(u) = Udp::new_checked(data) {
        let _ = (u.payload().len(), u.verify_checksum_ipv4([1, 2, 3, 4].into(), [5, 6, 7, 8].into()));
    }
    if let Ok(i) = Icmp::new_checked(data) {
        let _ = (i.payload().len(), i.verify_checksum());
    }
    if let Ok(s) = Sctp::new_checked(data) {
        let _ = (s.src_port(), s.tag());
    }
    let _ = net::checksum::sum(data);
});
