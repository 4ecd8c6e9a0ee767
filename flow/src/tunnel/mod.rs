//! Tunnel decap and encap: RAW_DECAP, RAW_ENCAP, VXLAN_DECAP/ENCAP, NVGRE_DECAP/ENCAP as
//! edits of the packet in its mbuf.
//!
//! An encap is compiled once, when the rule is created, into a header template (completed as a
//! NIC completes one: see [`build::encap`]) and the places of what changes per packet: the
//! outer IPv4 total length and header checksum (from the template's sum, so one addition and a
//! fold), the IPv6 payload length, the UDP length and, over IPv6, the UDP checksum (over the
//! payload; over IPv4 it is 0, "no checksum"). A decap walks the outer headers the packet has
//! (its VLAN tags, IPv4 options, IPv6 extension headers and GRE key/sequence words are its own)
//! along the shape it was given, checks they are those, and removes them. Either updates the
//! mbuf's packet type and header lengths from the new headers.
//!
//! Nothing here allocates or panics on a packet: a packet too short for the decap, with
//! other headers than the decap's, without the headroom the encap needs, or whose buffer is
//! shared with clones fails the edit (the engine drops and counts it).

pub(crate) mod build;

use crate::action::Action;
use crate::item::ItemType;
use build::Payload;
use build::num::*;
use rpdk_mbuf::net::{checksum, get_ptype, skip_ipv6_ext};
use rpdk_mbuf::{Mbuf, PacketType};

/// Why an edit failed on a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TunnelFail {
    /// The packet (its first segment) ends before the headers to remove do, or leaves less
    /// than a header after them.
    TooShort,
    /// The packet's headers are not the ones the decap removes.
    OtherHeaders,
    /// Not enough headroom for the header to prepend.
    NoHeadroom,
    /// The buffer is shared with clones (it cannot be written).
    Shared,
}

/// The IPv4 header of an encap template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ipv4Fix {
    pub off: u16,
    pub hl: u16,
    /// The total length is set per packet (not preserved).
    pub len: bool,
    /// The checksum is set per packet.
    pub csum: bool,
    /// The header's sum with the checksum (and a per-packet length) taken as 0.
    pub base: u16,
}

/// The IPv6 header of an encap template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ipv6Fix {
    pub off: u16,
    pub len: bool,
}

/// The UDP header of an encap template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UdpFix {
    pub off: u16,
    pub len: bool,
    /// Computed per packet (over IPv6).
    pub csum: bool,
    /// The IPv6 pseudo-header's sum without the length.
    pub pseudo: u16,
    /// The source port is set per packet from a hash of the inner headers (a VXLAN_ENCAP
    /// definition that leaves it 0: see [`entropy_port`]).
    pub src_hash: bool,
}

/// A compiled encap: the header to prepend and what to set in it per packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Encap {
    pub hdr: Box<[u8]>,
    /// An EtherType taken from the payload's IP version (an L2 header over an IP packet).
    pub eth_type_at: Option<u16>,
    /// A GRE protocol taken from the payload's IP version.
    pub gre_proto_at: Option<u16>,
    pub ipv4: Option<Ipv4Fix>,
    pub ipv6: Option<Ipv6Fix>,
    pub udp: Option<UdpFix>,
}

/// The outer IP header a decap removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ip {
    None,
    V4,
    V6,
    /// Whichever the packet has (VXLAN_DECAP, NVGRE_DECAP).
    Any,
}

/// What a decap removes after the IP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum L4 {
    /// Nothing (the tail bytes, if any, follow the IP header directly).
    None,
    /// UDP (8 bytes); the IP protocol must be UDP.
    Udp,
    /// GRE, as long as its flags make it; the IP protocol must be GRE.
    Gre,
}

/// A compiled decap: the shape of the outer headers to remove.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Decap {
    /// VLAN tags: exactly this many, or as many as the packet has (`None`).
    pub vlans: Option<u8>,
    pub ip: Ip,
    pub l4: L4,
    /// Bytes removed as they are after that (a VXLAN header, inner Ethernet of an L3 decap).
    pub tail: u16,
    /// What is left: an Ethernet frame or an IP packet.
    pub leaves: Payload,
}

impl Decap {
    /// VXLAN_DECAP: Ethernet, its tags, IPv4 or IPv6, UDP and the 8-byte VXLAN header.
    pub(crate) fn vxlan() -> Decap {
        Decap {
            vlans: None,
            ip: Ip::Any,
            l4: L4::Udp,
            tail: 8,
            leaves: Payload::Ether,
        }
    }

    /// NVGRE_DECAP: Ethernet, its tags, IPv4 or IPv6 and the GRE header.
    pub(crate) fn nvgre() -> Decap {
        Decap {
            vlans: None,
            ip: Ip::Any,
            l4: L4::Gre,
            tail: 0,
            leaves: Payload::Ether,
        }
    }

    /// RAW_DECAP of `data` (Ethernet first, as DPDK asks): its headers' shape.
    pub(crate) fn raw(data: &[u8]) -> Result<Decap, String> {
        let n = data.len();
        if n == 0 {
            return Err("no header data (set raw_decap first)".into());
        }
        if n < 14 {
            return Err(format!("{n} bytes: shorter than an Ethernet header"));
        }
        let b16 = |at: usize| u16::from_be_bytes([data[at], data[at + 1]]);
        let mut off = 14;
        let mut ty = b16(12);
        let mut vlans = 0u8;
        while matches!(ty, VLAN | QINQ | QINQ_OLD) && off + 4 <= n {
            vlans += 1;
            ty = b16(off + 2);
            off += 4;
        }
        let mut d = Decap {
            vlans: Some(vlans),
            ip: Ip::None,
            l4: L4::None,
            tail: 0,
            leaves: Payload::Ip,
        };
        if off == n {
            // An L2 header only: what is left is its payload (an L3 encap follows).
            d.leaves = if matches!(ty, IPV4 | IPV6 | 0) {
                Payload::Ip
            } else {
                return Err(format!(
                    "RAW_DECAP of an L2 header with EtherType {ty:#06x}: only IP can be left"
                ));
            };
            return Ok(d);
        }
        let proto = match ty {
            IPV4 if off + 20 <= n => {
                d.ip = Ip::V4;
                let hl = ((data[off] & 0xf) as usize * 4).max(20);
                let p = data[off + 9];
                off += hl.min(n - off);
                p
            }
            IPV6 if off + 40 <= n => {
                d.ip = Ip::V6;
                let p = data[off + 6];
                off += 40;
                p
            }
            _ => {
                return Err(format!(
                    "RAW_DECAP data: EtherType {ty:#06x} at byte {} is not IPv4 or IPv6 with its whole header",
                    off - 2
                ));
            }
        };
        let rest = n - off;
        match proto {
            UDP if rest >= 8 => {
                d.l4 = L4::Udp;
                d.tail = (rest - 8) as u16;
                // A tunnel header of 8 bytes (VXLAN, VXLAN-GPE, GENEVE without options) leaves
                // the Ethernet frame it carries; more bytes take the inner L2 header too.
                d.leaves = if d.tail == 8 {
                    Payload::Ether
                } else {
                    Payload::Ip
                };
            }
            GRE if rest >= 4 => {
                d.l4 = L4::Gre;
                let flags = u16::from_be_bytes([data[off], data[off + 1]]);
                let len = gre_len(flags).ok_or_else(|| format!("GRE flags {flags:#06x}"))?;
                if rest < len {
                    return Err(format!("GRE header at byte {off} cut short"));
                }
                d.tail = (rest - len) as u16;
                let gre_proto = u16::from_be_bytes([data[off + 2], data[off + 3]]);
                d.leaves = if d.tail == 0 && gre_proto == TEB {
                    Payload::Ether
                } else {
                    Payload::Ip
                };
            }
            _ => {
                d.tail = rest as u16;
                d.leaves = Payload::Ip;
            }
        }
        Ok(d)
    }

    /// Removes the headers from `m`.
    #[inline]
    pub(crate) fn apply(&self, m: &mut Mbuf) -> Result<(), TunnelFail> {
        let len = self.measure(m.data())?;
        if m.is_shared() {
            return Err(TunnelFail::Shared);
        }
        m.adj(len as u16).map_err(|_| TunnelFail::TooShort)?;
        refresh(m);
        Ok(())
    }

    /// How many bytes of `p` the headers to remove take.
    #[inline]
    fn measure(&self, p: &[u8]) -> Result<usize, TunnelFail> {
        let b16 = |at: usize| -> Result<u16, TunnelFail> {
            p.get(at..at + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .ok_or(TunnelFail::TooShort)
        };
        let mut ty = b16(12)?;
        let mut off = 14;
        let mut tags = 0u8;
        while matches!(ty, VLAN | QINQ | QINQ_OLD) && self.vlans.is_none_or(|n| tags < n) {
            ty = b16(off + 2)?;
            off += 4;
            tags += 1;
        }
        if self.vlans.is_some_and(|n| tags != n) {
            return Err(TunnelFail::OtherHeaders);
        }
        let proto = match (self.ip, ty) {
            (Ip::None, _) => None,
            (Ip::V4 | Ip::Any, IPV4) => {
                let h = p.get(off..off + 20).ok_or(TunnelFail::TooShort)?;
                let hl = (h[0] & 0xf) as usize * 4;
                if h[0] >> 4 != 4 || hl < 20 {
                    return Err(TunnelFail::OtherHeaders);
                }
                off += hl;
                Some(h[9])
            }
            (Ip::V6 | Ip::Any, IPV6) => {
                let h = p.get(off..off + 40).ok_or(TunnelFail::TooShort)?;
                off += 40;
                let (next, ext, frag) = skip_ipv6_ext(h[6], p.get(off..).unwrap_or_default())
                    .map_err(|_| TunnelFail::TooShort)?;
                if frag {
                    return Err(TunnelFail::OtherHeaders);
                }
                off += ext;
                next
            }
            _ => return Err(TunnelFail::OtherHeaders),
        };
        match self.l4 {
            L4::None => {}
            L4::Udp => {
                if proto != Some(UDP) {
                    return Err(TunnelFail::OtherHeaders);
                }
                off += 8;
            }
            L4::Gre => {
                if proto != Some(GRE) {
                    return Err(TunnelFail::OtherHeaders);
                }
                off += gre_len(b16(off)?).ok_or(TunnelFail::OtherHeaders)?;
            }
        }
        off += self.tail as usize;
        // What is left must be a packet: an Ethernet header, or an IPv4 header's worth.
        let left = if self.leaves == Payload::Ether {
            14
        } else {
            20
        };
        if off + left > p.len() {
            return Err(TunnelFail::TooShort);
        }
        Ok(off)
    }
}

impl Encap {
    /// Prepends the header to `m` and completes it for this packet.
    #[inline]
    pub(crate) fn apply(&self, m: &mut Mbuf) -> Result<(), TunnelFail> {
        let t = self.hdr.len();
        if m.is_shared() {
            return Err(TunnelFail::Shared);
        }
        // What the payload's first byte says (its IP version), for the fields that need it.
        let first = m.data().first().copied().unwrap_or(0);
        let src_port = match &self.udp {
            Some(u) if u.src_hash => Some(entropy_port(m)),
            _ => None,
        };
        let total = m.pkt_len() as usize + t;
        let front = m.prepend(t as u16).map_err(|_| TunnelFail::NoHeadroom)?;
        front.copy_from_slice(&self.hdr);
        let ip_type = match first >> 4 {
            4 => IPV4,
            6 => IPV6,
            _ => 0,
        };
        if let Some(at) = self.eth_type_at {
            put16(front, at as usize, ip_type);
        }
        if let Some(at) = self.gre_proto_at {
            put16(front, at as usize, ip_type);
        }
        if let Some(f) = &self.ipv4 {
            let o = f.off as usize;
            let len = (total - o).min(u16::MAX as usize) as u16;
            let mut s = f.base;
            if f.len {
                put16(front, o + 2, len);
                s = checksum::combine(s, len);
            }
            if f.csum {
                put16(front, o + 10, !s);
            }
        }
        if let Some(f) = &self.ipv6
            && f.len
        {
            let o = f.off as usize;
            put16(front, o + 4, (total - o - 40).min(u16::MAX as usize) as u16);
        }
        if let Some(u) = &self.udp {
            let o = u.off as usize;
            if let Some(p) = src_port {
                put16(front, o, p);
            }
            let len = (total - o).min(u16::MAX as usize) as u16;
            if u.len {
                put16(front, o + 4, len);
            }
            if u.csum {
                let s = checksum::combine(u.pseudo, len);
                let c = udp_sum(m, o, s);
                let data = m.data_mut().map_err(|_| TunnelFail::Shared)?;
                put16(data, o + 6, checksum::udp_value(c));
            }
        }
        refresh(m);
        Ok(())
    }
}

/// The first port of RFC 6335's dynamic range, where RFC 7348 §5 recommends VXLAN's source
/// ports be.
pub(crate) const ENTROPY_PORT_MIN: u16 = 49152;

/// The outer UDP source port of a VXLAN encap whose definition leaves it 0, as RFC 7348 §5
/// recommends and NICs do: a hash of the inner packet, so one inner flow keeps one outer port
/// (the network's ECMP and the receiver's RSS spread flows, never reorder one), mapped onto
/// 49152-65535. The hash is the packet's RSS hash when it has one (`RTE_MBUF_F_RX_RSS_HASH`:
/// the port or a rule's RSS computed it over these same headers), else [`inner_hash`] of its
/// first segment.
#[inline]
pub(crate) fn entropy_port(m: &Mbuf) -> u16 {
    let h = if m.ol_flags().contains(rpdk_mbuf::OlFlags::RX_RSS_HASH) {
        m.rss_hash()
    } else {
        inner_hash(m.data())
    };
    let h = h ^ (h >> 16);
    ENTROPY_PORT_MIN | (h as u16 & 0x3fff)
}

/// FNV-1a over `h` and `b`.
#[inline]
fn fnv(mut h: u32, b: &[u8]) -> u32 {
    for &x in b {
        h = (h ^ x as u32).wrapping_mul(0x0100_0193);
    }
    h
}

/// A hash of an Ethernet frame's L2 to L4 headers: the MAC addresses, the VLAN tags and
/// EtherType, the IPv4 or IPv6 addresses and protocol, and the TCP, UDP or SCTP ports (of a
/// first or only fragment, after IPv6's extension headers). The same headers give the same
/// hash in every process and run (no seed); a frame cut short hashes what it has.
pub(crate) fn inner_hash(d: &[u8]) -> u32 {
    const SCTP: u8 = 132;
    let mut h = 0x811c_9dc5;
    if d.len() < 14 {
        return fnv(h, d);
    }
    h = fnv(h, &d[..12]);
    let mut at = 12;
    let mut ty = be16(d, at);
    while matches!(ty, VLAN | QINQ | QINQ_OLD) && at + 8 <= d.len() {
        h = fnv(h, &d[at..at + 4]);
        at += 4;
        ty = be16(d, at);
    }
    h = fnv(h, &d[at..at + 2]);
    let l3 = &d[at + 2..];
    let (proto, l4) = match ty {
        IPV4 if l3.len() >= 20 => {
            h = fnv(h, &l3[9..10]);
            h = fnv(h, &l3[12..20]);
            let later_fragment = be16(l3, 6) & 0x1fff != 0;
            let ihl = (l3[0] & 0x0f) as usize * 4;
            if later_fragment || ihl < 20 {
                return h;
            }
            (l3[9], ihl)
        }
        IPV6 if l3.len() >= 40 => {
            h = fnv(h, &l3[6..7]);
            h = fnv(h, &l3[8..40]);
            match skip_ipv6_ext(l3[6], &l3[40..]) {
                Ok((Some(p), ext, _)) => (p, 40 + ext),
                _ => return h,
            }
        }
        _ => return h,
    };
    if matches!(proto, TCP | UDP | SCTP) && l4 + 4 <= l3.len() {
        h = fnv(h, &l3[l4..l4 + 4]);
    }
    h
}

/// A GRE header's length by its C, K and S bits (the reserved ones refused, as DPDK's parser).
fn gre_len(flags: u16) -> Option<usize> {
    match flags >> 12 {
        0x0 => Some(4),
        0x1 | 0x2 | 0x8 => Some(8),
        0x3 | 0x9 | 0xa => Some(12),
        0xb => Some(16),
        _ => None,
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// The UDP checksum of the segment at `off` of `m` (its checksum field 0) with the pseudo-header
/// sum `pseudo`, across the mbuf's segments.
fn udp_sum(m: &Mbuf, off: usize, pseudo: u16) -> u16 {
    let mut acc = pseudo;
    let mut at = 0usize;
    for seg in m.segments() {
        let d = seg.data();
        let d = if at == 0 { &d[off.min(d.len())..] } else { d };
        let s = checksum::sum(d);
        // A segment that starts at an odd offset of the UDP segment has its bytes swapped.
        acc = checksum::combine(acc, if at % 2 == 1 { s.swap_bytes() } else { s });
        at += d.len();
    }
    !acc
}

/// Sets the mbuf's packet type and header lengths from its headers, as a NIC reports them
/// after its own decap or encap (for a tunnel: the outer lengths, and `l2_len` from the outer
/// L4 header to the inner L3, as DPDK's tx offloads count them).
#[inline]
pub(crate) fn refresh(m: &mut Mbuf) {
    let (pt, h) = get_ptype(m.data(), PacketType::ALL_MASK);
    // A packet type nobody set stays unset, as for the other edits.
    if m.packet_type() != PacketType::UNKNOWN {
        m.set_packet_type(pt);
    }
    if pt.is_tunnel() {
        m.set_outer_lens(h.l2_len, h.l3_len);
        let l2 = if h.tunnel_len != 0 {
            h.tunnel_len + h.inner_l2_len
        } else {
            h.inner_l2_len
        };
        m.set_tx_lens(l2, h.inner_l3_len, h.inner_l4_len);
    } else {
        m.set_outer_lens(0, 0);
        m.set_tx_lens(h.l2_len, h.l3_len, h.l4_len);
    }
}

/// A tunnel action compiled for the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tunnel {
    Decap(Decap),
    Encap(Encap),
}

impl Tunnel {
    /// Runs it on `m`.
    #[inline]
    pub(crate) fn apply(&self, m: &mut Mbuf) -> Result<(), TunnelFail> {
        match self {
            Tunnel::Decap(d) => d.apply(m),
            Tunnel::Encap(e) => e.apply(m),
        }
    }
}

/// Whether an action is one of the tunnel actions.
pub(crate) fn is_tunnel(a: &Action) -> bool {
    matches!(
        a,
        Action::RawDecap(_)
            | Action::RawEncap(_)
            | Action::VxlanDecap
            | Action::VxlanEncap { .. }
            | Action::NvgreDecap
            | Action::NvgreEncap { .. }
    )
}

/// The tunnel actions of a validated rule, compiled in order (none if they do not compile:
/// validation refuses such rules).
pub(crate) fn compile(actions: &[Action]) -> Vec<Tunnel> {
    if !actions.iter().any(is_tunnel) {
        return Vec::new();
    }
    plan(actions, None)
        .map(|v| v.into_iter().map(|(_, t)| t).collect())
        .unwrap_or_default()
}

/// Compiles the tunnel actions of a rule, in order, following what the packet is after each
/// (an Ethernet frame, or an IP packet after an L3 decap): the index of each tunnel action
/// and its compiled form, or the index of the one at fault and why. `pattern` is the rule's
/// item types (VXLAN_DECAP and NVGRE_DECAP need their tunnel item there), `None` to skip
/// that check.
pub(crate) fn plan(
    actions: &[Action],
    pattern: Option<&[ItemType]>,
) -> Result<Vec<(usize, Tunnel)>, (usize, String)> {
    let mut out = Vec::new();
    let mut now = Payload::Ether;
    let mut last = None;
    for (i, a) in actions.iter().enumerate() {
        if !is_tunnel(a) {
            continue;
        }
        let need_l2 = |what: &str| -> Result<(), (usize, String)> {
            if now == Payload::Ip {
                Err((
                    i,
                    format!(
                        "{what} after a RAW_DECAP that leaves an IP packet: only a RAW_ENCAP of an L2 header may follow it"
                    ),
                ))
            } else {
                Ok(())
            }
        };
        let t = match a {
            Action::RawDecap(r) => {
                need_l2("RAW_DECAP")?;
                let d = Decap::raw(&r.data).map_err(|e| (i, format!("RAW_DECAP: {e}")))?;
                now = d.leaves;
                Tunnel::Decap(d)
            }
            Action::VxlanDecap | Action::NvgreDecap => {
                let (item, name, d) = if *a == Action::VxlanDecap {
                    (ItemType::Vxlan, "VXLAN_DECAP", Decap::vxlan())
                } else {
                    (ItemType::Nvgre, "NVGRE_DECAP", Decap::nvgre())
                };
                need_l2(name)?;
                if pattern.is_some_and(|p| !p.contains(&item)) {
                    return Err((
                        i,
                        format!("{name} needs a {} item in the pattern", item.name()),
                    ));
                }
                Tunnel::Decap(d)
            }
            Action::RawEncap(r) => {
                let e = build::encap(&r.data, &r.preserve, now)
                    .map_err(|e| (i, format!("RAW_ENCAP: {e}")))?;
                now = Payload::Ether;
                Tunnel::Encap(e)
            }
            Action::VxlanEncap { definition } | Action::NvgreEncap { definition } => {
                let (item, name) = if matches!(a, Action::VxlanEncap { .. }) {
                    (ItemType::Vxlan, "VXLAN_ENCAP")
                } else {
                    (ItemType::Nvgre, "NVGRE_ENCAP")
                };
                need_l2(name)?;
                let data =
                    build::definition(definition, item).map_err(|e| (i, format!("{name}: {e}")))?;
                let mut e =
                    build::encap(&data, &[], now).map_err(|e| (i, format!("{name}: {e}")))?;
                // A VXLAN definition's source port 0: one per inner flow (RFC 7348 §5).
                if let Some(u) = e.udp.as_mut().filter(|_| item == ItemType::Vxlan) {
                    let o = u.off as usize;
                    u.src_hash = e.hdr.get(o..o + 2) == Some(&[0, 0][..]);
                }
                Tunnel::Encap(e)
            }
            _ => continue,
        };
        last = Some(i);
        out.push((i, t));
    }
    if now == Payload::Ip {
        return Err((
            last.unwrap_or(0),
            "RAW_DECAP leaves an IP packet: a RAW_ENCAP of an Ethernet header must follow".into(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
