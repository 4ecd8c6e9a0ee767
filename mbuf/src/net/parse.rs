//! The software packet-type parser (DPDK's `rte_net_get_ptype`).

use super::ethernet::{ether_type as et, field as eth_f};
use super::ipv4::field as ipv4_f;
use super::ipv6::{field as ipv6_f, is_ext, skip_ipv6_ext};
use super::l4::field::udp as udp_f;
use super::vlan::field as vlan_f;
use super::{get16, ip_proto};

/// The fields the parser reads of the tunnel headers that have no view of their own.
mod tunnel_f {
    /// VXLAN-GPE (draft-ietf-nvo3-vxlan-gpe section 3.1).
    pub(super) mod vxlan_gpe {
        pub(in super::super) const NEXT_PROTOCOL: usize = 3;
    }
    /// GENEVE (RFC 8926 section 3.4).
    pub(super) mod geneve {
        use crate::net::Field;
        /// Version (2 bits) and options length in 4-byte units (6 bits).
        pub(in super::super) const VER_OPT_LEN: usize = 0;
        pub(in super::super) const PROTOCOL: Field = 2..4;
    }
    /// GTPv1 (3GPP TS 29.281 section 5.1).
    pub(super) mod gtp {
        /// Version, protocol type and the E, S and PN bits (any of which adds 4 bytes).
        pub(in super::super) const FLAGS: usize = 0;
        pub(in super::super) const MSG_TYPE: usize = 1;
    }
    /// GRE (RFC 2784, RFC 2890).
    pub(super) mod gre {
        use crate::net::Field;
        /// The C, K and S bits (and reserved ones) and the version.
        pub(in super::super) const FLAGS_VER: Field = 0..2;
        pub(in super::super) const PROTOCOL: Field = 2..4;
    }
}
use crate::ptype::PacketType as P;

/// Header lengths found by [`get_ptype`] (DPDK's `struct rte_net_hdr_lens`).
///
/// For tunnels, `inner_l2_len` counts the tunnel's UDP and tunnel headers too (VXLAN: 8 + 8 +
/// 14), as DPDK does, and `tunnel_len` is the length of an IP-level tunnel header (GRE).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HdrLens {
    /// Outer L2 length, VLAN tags included.
    pub l2_len: u16,
    /// Outer L3 length, options and extension headers included.
    pub l3_len: u16,
    /// Outer L4 header length.
    pub l4_len: u16,
    /// Length of an IP-level tunnel header.
    pub tunnel_len: u16,
    /// Inner L2 length (with the UDP tunnel headers before it).
    pub inner_l2_len: u16,
    /// Inner L3 length.
    pub inner_l3_len: u16,
    /// Inner L4 header length.
    pub inner_l4_len: u16,
}

const VXLAN_PORT: u16 = 4789;
const VXLAN_GPE_PORT: u16 = 4790;
const GENEVE_PORT: u16 = 6081;
const GTPC_PORT: u16 = 2123;
const GTPU_PORT: u16 = 2152;
const MAX_MPLS: usize = 5;

/// What comes after a tunnel header.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Next {
    Ether,
    Type(u16),
    None,
}

fn bytes(pkt: &[u8], off: usize, n: usize) -> Option<&[u8]> {
    pkt.get(off..off.checked_add(n)?)
}

/// The L4 type of an IP protocol, for a non-fragment.
fn l4_of(proto: u8) -> P {
    match proto {
        ip_proto::TCP => P::L4_TCP,
        ip_proto::UDP => P::L4_UDP,
        ip_proto::SCTP => P::L4_SCTP,
        ip_proto::ICMP | ip_proto::ICMPV6 => P::L4_ICMP,
        ip_proto::IGMP => P::L4_IGMP,
        ip_proto::GRE | ip_proto::IPIP | ip_proto::IPV6 | ip_proto::ESP => P::UNKNOWN,
        _ => P::L4_NONFRAG,
    }
}

/// The inner L4 type of an IP protocol.
fn inner_l4_of(proto: u8) -> P {
    match proto {
        ip_proto::TCP => P::INNER_L4_TCP,
        ip_proto::UDP => P::INNER_L4_UDP,
        ip_proto::SCTP => P::INNER_L4_SCTP,
        ip_proto::ICMP | ip_proto::ICMPV6 => P::INNER_L4_ICMP,
        _ => P::INNER_L4_NONFRAG,
    }
}

/// The packet types of one level of headers: the outer one, or the inner one of a tunnel.
struct Level {
    l3_mask: u32,
    l4_mask: u32,
    ipv4: P,
    ipv4_ext: P,
    ipv6: P,
    ipv6_ext: P,
    frag: P,
    tcp: P,
    udp: P,
    sctp: P,
}

const OUTER: Level = Level {
    l3_mask: P::L3_MASK,
    l4_mask: P::L4_MASK,
    ipv4: P::L3_IPV4,
    ipv4_ext: P::L3_IPV4_EXT,
    ipv6: P::L3_IPV6,
    ipv6_ext: P::L3_IPV6_EXT,
    frag: P::L4_FRAG,
    tcp: P::L4_TCP,
    udp: P::L4_UDP,
    sctp: P::L4_SCTP,
};

const INNER: Level = Level {
    l3_mask: P::INNER_L3_MASK,
    l4_mask: P::INNER_L4_MASK,
    ipv4: P::INNER_L3_IPV4,
    ipv4_ext: P::INNER_L3_IPV4_EXT,
    ipv6: P::INNER_L3_IPV6,
    ipv6_ext: P::INNER_L3_IPV6_EXT,
    frag: P::INNER_L4_FRAG,
    tcp: P::INNER_L4_TCP,
    udp: P::INNER_L4_UDP,
    sctp: P::INNER_L4_SCTP,
};

/// The length of an L4 header of packet type `l4` (of level `lv`) at `off`, if it fits.
#[inline(always)]
fn l4_len(pkt: &[u8], off: usize, l4: P, lv: &Level) -> Option<u16> {
    if l4 == lv.tcp {
        let th = bytes(pkt, off, 20)?;
        let len = ((th[12] & 0xf0) >> 2) as u16;
        (len >= 20 && bytes(pkt, off, len as usize).is_some()).then_some(len)
    } else if l4 == lv.udp {
        bytes(pkt, off, 8).map(|_| 8)
    } else if l4 == lv.sctp {
        bytes(pkt, off, 12).map(|_| 12)
    } else {
        Some(0)
    }
}

/// Parses the IP header of ether type `proto` at `*off`, at level `lv`: adds its L3 type (and a
/// fragment's L4 type) to `pt`, sets `l3_len` and moves `off` past it. Returns the L4 protocol
/// if the parse goes on, `None` where it ends (not IP, malformed, truncated, a fragment, or
/// `layers` stops there).
#[inline(always)]
fn ip(
    pkt: &[u8],
    layers: u32,
    lv: &Level,
    proto: u16,
    off: &mut usize,
    pt: &mut P,
    l3_len: &mut u16,
) -> Option<u8> {
    if layers & lv.l3_mask == 0 {
        return None;
    }
    let (next, frag) = match proto {
        et::IPV4 => {
            let ip = bytes(pkt, *off, 20)?;
            let hl = ((ip[ipv4_f::VER_IHL] & 0xf) as usize) * 4;
            if ip[ipv4_f::VER_IHL] >> 4 != 4 || hl < 20 || bytes(pkt, *off, hl).is_none() {
                return None;
            }
            *pt |= if hl == 20 { lv.ipv4 } else { lv.ipv4_ext };
            *l3_len = hl as u16;
            *off += hl;
            (ip[ipv4_f::PROTOCOL], get16(ip, ipv4_f::FRAG) & 0x3fff != 0)
        }
        et::IPV6 => {
            let ip = bytes(pkt, *off, 40)?;
            if ip[ipv6_f::VTC_FLOW.start] >> 4 != 6 {
                return None;
            }
            *off += 40;
            *l3_len = 40;
            if is_ext(ip[ipv6_f::NEXT_HEADER]) {
                *pt |= lv.ipv6_ext;
                let (next, len, frag) =
                    skip_ipv6_ext(ip[ipv6_f::NEXT_HEADER], &pkt[*off..]).ok()?;
                *off += len;
                *l3_len += len as u16;
                (next?, frag)
            } else {
                *pt |= lv.ipv6;
                if ip[ipv6_f::NEXT_HEADER] == ip_proto::NONE {
                    return None;
                }
                (ip[ipv6_f::NEXT_HEADER], false)
            }
        }
        _ => return None,
    };
    if layers & lv.l4_mask == 0 {
        return None;
    }
    if frag {
        *pt |= lv.frag;
        return None;
    }
    Some(next)
}

/// Parses the headers at the start of `pkt` and returns its packet type and header lengths,
/// looking only as deep as `layers` (a mask of [`P`] layer masks; [`P::ALL_MASK`] for all).
///
/// Recognises Ethernet, VLAN, QinQ, MPLS, ARP, LLDP, PPPoE, FCoE, NSH and time-sync frames;
/// IPv4 (with options, fragments) and IPv6 (with up to 5 extension headers, fragments); TCP,
/// UDP, SCTP, ICMP, ICMPv6 and IGMP; and the tunnels IP-in-IP, GRE, NVGRE, VXLAN, VXLAN-GPE,
/// GENEVE and GTP, with the inner Ethernet/VLAN/IP/L4 headers. A layer that does not fit in
/// `pkt`, or is malformed, ends the parse there: nothing is read past the data.
///
/// Compared with DPDK's software parser, this one also reports ICMP, IGMP and other protocols
/// (`L4_NONFRAG`), the L2 types of non-IP frames, and only claims an L4 type whose header fits.
pub fn get_ptype(pkt: &[u8], layers: u32) -> (P, HdrLens) {
    let mut h = HdrLens::default();
    let pt = parse(pkt, layers, &mut h);
    (pt, h)
}

fn parse(pkt: &[u8], layers: u32, h: &mut HdrLens) -> P {
    let Some(eth) = bytes(pkt, 0, 14) else {
        return P::UNKNOWN;
    };
    if layers & P::L2_MASK == 0 {
        return P::UNKNOWN;
    }
    let mut proto = get16(eth, eth_f::ETHERTYPE);
    let mut off = 14usize;
    h.l2_len = 14;
    let mut pt = P::L2_ETHER;
    match proto {
        et::IPV4 | et::IPV6 => {}
        et::VLAN => {
            pt = P::L2_ETHER_VLAN;
            let Some(vh) = bytes(pkt, off, 4) else {
                return pt;
            };
            off += 4;
            h.l2_len += 4;
            proto = get16(vh, vlan_f::ETHERTYPE);
        }
        et::QINQ => {
            pt = P::L2_ETHER_QINQ;
            let Some(vh) = bytes(pkt, off + 4, 4) else {
                return pt;
            };
            off += 8;
            h.l2_len += 8;
            proto = get16(vh, vlan_f::ETHERTYPE);
        }
        et::MPLS | et::MPLSM => {
            for i in 0..MAX_MPLS {
                let Some(label) = bytes(pkt, off + 4 * i, 4) else {
                    return pt;
                };
                if label[2] & 1 != 0 {
                    h.l2_len += 4 * (i as u16 + 1);
                    return P::L2_ETHER_MPLS;
                }
            }
            return pt;
        }
        et::ARP => return P::L2_ETHER_ARP,
        et::LLDP => return P::L2_ETHER_LLDP,
        et::TIMESYNC => return P::L2_ETHER_TIMESYNC,
        et::PPPOE_DISCOVERY | et::PPPOE_SESSION => return P::L2_ETHER_PPPOE,
        et::FCOE => return P::L2_ETHER_FCOE,
        et::NSH => return P::L2_ETHER_NSH,
        _ => return pt,
    }
    let Some(l4_proto) = ip(pkt, layers, &OUTER, proto, &mut off, &mut pt, &mut h.l3_len) else {
        return pt;
    };

    // Outer L4, and tunnels.
    let l4 = l4_of(l4_proto);
    let Some(len) = l4_len(pkt, off, l4, &OUTER) else {
        return pt;
    };
    pt |= l4;
    h.l4_len = len;
    if layers & P::TUNNEL_MASK == 0 {
        return pt;
    }
    let next = if l4 == P::L4_UDP {
        let Some((tunnel, next)) = udp_tunnel(pkt, &mut off, h) else {
            return pt;
        };
        pt |= tunnel;
        next
    } else if l4 == P::UNKNOWN {
        let start = off;
        let Some((tunnel, next)) = ip_tunnel(pkt, l4_proto, &mut off) else {
            return pt;
        };
        h.tunnel_len = (off - start) as u16;
        pt |= tunnel;
        next
    } else {
        return pt;
    };

    inner(pkt, layers, h, pt, off, next)
}

/// Whether [`get_ptype`] may see a tunnel behind a UDP header with these ports (VXLAN,
/// VXLAN-GPE, GENEVE, GTP-C, GTP-U on either port): a parser of its own that stops at UDP is
/// right for the other ports only.
#[inline(always)]
pub fn udp_tunnel_port(src: u16, dst: u16) -> bool {
    let t = |p| {
        matches!(
            p,
            VXLAN_PORT | VXLAN_GPE_PORT | GENEVE_PORT | GTPC_PORT | GTPU_PORT
        )
    };
    t(src) || t(dst)
}

/// VXLAN, VXLAN-GPE, GENEVE and GTP over the UDP header at `off`.
fn udp_tunnel(pkt: &[u8], off: &mut usize, h: &mut HdrLens) -> Option<(P, Next)> {
    let uh = bytes(pkt, *off, 8)?;
    let src = get16(uh, udp_f::SRC_PORT);
    let port = if src == GTPC_PORT {
        src
    } else {
        get16(uh, udp_f::DST_PORT)
    };
    let at = *off + 8;
    let (tunnel, next, len) = match port {
        VXLAN_PORT => {
            bytes(pkt, at, 8)?;
            (P::TUNNEL_VXLAN, Next::Ether, 8)
        }
        VXLAN_GPE_PORT => {
            let g = bytes(pkt, at, 8)?;
            let next = match g[tunnel_f::vxlan_gpe::NEXT_PROTOCOL] {
                1 => Next::Type(et::IPV4),
                2 => Next::Type(et::IPV6),
                3 => Next::Ether,
                _ => Next::None,
            };
            (P::TUNNEL_VXLAN_GPE, next, 8)
        }
        GENEVE_PORT => {
            let g = bytes(pkt, at, 8)?;
            let len = 8 + ((g[tunnel_f::geneve::VER_OPT_LEN] & 0x3f) as usize) * 4;
            bytes(pkt, at, len)?;
            let next = match get16(g, tunnel_f::geneve::PROTOCOL) {
                et::TEB => Next::Ether,
                0 => Next::Type(et::IPV4),
                t => Next::Type(t),
            };
            (P::TUNNEL_GENEVE, next, len)
        }
        GTPC_PORT | GTPU_PORT => {
            let g = bytes(pkt, at, 8)?;
            let len = if g[tunnel_f::gtp::FLAGS] & 0x07 != 0 {
                12
            } else {
                8
            };
            bytes(pkt, at, len)?;
            let next = if g[tunnel_f::gtp::MSG_TYPE] == 0xff {
                match bytes(pkt, at + len, 1)?[0] >> 4 {
                    4 => Next::Type(et::IPV4),
                    6 => Next::Type(et::IPV6),
                    _ => Next::None,
                }
            } else {
                Next::None
            };
            let t = if port == GTPC_PORT {
                P::TUNNEL_GTPC
            } else {
                P::TUNNEL_GTPU
            };
            (t, next, len)
        }
        _ => return None,
    };
    *off = at + len;
    h.inner_l2_len = (8 + len) as u16;
    Some((tunnel, next))
}

/// GRE, NVGRE and IP-in-IP at `off`, after an IP header whose protocol is `proto`.
fn ip_tunnel(pkt: &[u8], proto: u8, off: &mut usize) -> Option<(P, Next)> {
    match proto {
        ip_proto::GRE => {
            let gh = bytes(pkt, *off, 4)?;
            // Header length by the C, K and S bits (and reserved ones), as DPDK.
            let len = match get16(gh, tunnel_f::gre::FLAGS_VER) >> 12 {
                0x0 => 4,
                0x1 | 0x2 | 0x8 => 8,
                0x3 | 0x9 | 0xa => 12,
                0xb => 16,
                _ => return None,
            };
            bytes(pkt, *off, len)?;
            *off += len;
            let t = get16(gh, tunnel_f::gre::PROTOCOL);
            if t == et::TEB {
                Some((P::TUNNEL_NVGRE, Next::Ether))
            } else {
                Some((P::TUNNEL_GRE, Next::Type(t)))
            }
        }
        ip_proto::IPIP => Some((P::TUNNEL_IP, Next::Type(et::IPV4))),
        ip_proto::IPV6 => Some((P::TUNNEL_IP, Next::Type(et::IPV6))),
        ip_proto::ESP => Some((P::TUNNEL_ESP, Next::None)),
        _ => None,
    }
}

fn inner(pkt: &[u8], layers: u32, h: &mut HdrLens, mut pt: P, mut off: usize, next: Next) -> P {
    if layers & P::INNER_L2_MASK == 0 {
        return pt;
    }
    let mut proto = match next {
        Next::None => return pt,
        Next::Type(t) => t,
        Next::Ether => {
            let Some(eh) = bytes(pkt, off, 14) else {
                return pt;
            };
            pt |= P::INNER_L2_ETHER;
            off += 14;
            h.inner_l2_len += 14;
            get16(eh, eth_f::ETHERTYPE)
        }
    };
    if proto == et::VLAN || proto == et::QINQ {
        let tags = if proto == et::VLAN { 1 } else { 2 };
        let Some(vh) = bytes(pkt, off + 4 * (tags - 1), 4) else {
            return pt;
        };
        pt = P(pt.0 & !P::INNER_L2_MASK)
            | if tags == 1 {
                P::INNER_L2_ETHER_VLAN
            } else {
                P::INNER_L2_ETHER_QINQ
            };
        off += 4 * tags;
        h.inner_l2_len += 4 * tags as u16;
        proto = get16(vh, vlan_f::ETHERTYPE);
    }
    let Some(l4_proto) = ip(
        pkt,
        layers,
        &INNER,
        proto,
        &mut off,
        &mut pt,
        &mut h.inner_l3_len,
    ) else {
        return pt;
    };
    let l4 = inner_l4_of(l4_proto);
    let Some(len) = l4_len(pkt, off, l4, &INNER) else {
        return pt;
    };
    h.inner_l4_len = len;
    pt | l4
}
