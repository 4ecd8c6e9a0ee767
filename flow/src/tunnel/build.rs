//! Header templates: the bytes an encap prepends, completed as a NIC completes them, and where
//! the per-packet fields (lengths, checksums, a protocol that depends on the payload) sit.

use super::{Encap, Ipv4Fix, Ipv6Fix, UdpFix};
use crate::item::{Item, ItemType};
use rpdk_mbuf::net::checksum;

/// EtherTypes and IP protocols the templates use.
pub(crate) mod num {
    pub const IPV4: u16 = 0x0800;
    pub const IPV6: u16 = 0x86dd;
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88a8;
    pub const QINQ_OLD: u16 = 0x9100;
    pub const TEB: u16 = 0x6558;
    pub const UDP: u8 = 17;
    pub const TCP: u8 = 6;
    pub const GRE: u8 = 47;
    pub const VXLAN_PORT: u16 = 4789;
    pub const GENEVE_PORT: u16 = 6081;
}
use num::*;

/// The longest header an encap prepends (testpmd's `ACTION_RAW_ENCAP_MAX_DATA`).
pub(crate) const MAX_HEADER: usize = 512;

/// What the packet is when an action reaches it: an Ethernet frame, or an IP packet left by
/// a decap of an L3 tunnel (which only an encap of an L2 header may follow).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Payload {
    /// An Ethernet frame.
    Ether,
    /// An IP packet (its version nibble tells which).
    Ip,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Whether any bit of `b[at..at + n]` is preserved (`preserve` may be empty: nothing is).
fn kept(preserve: &[u8], at: usize, n: usize) -> bool {
    preserve
        .get(at..at + n)
        .is_some_and(|p| p.iter().any(|&x| x != 0))
}

/// Sets a zero byte to `v` unless it is preserved.
fn fill8(b: &mut [u8], preserve: &[u8], at: usize, v: u8) {
    if b[at] == 0 && !kept(preserve, at, 1) {
        b[at] = v;
    }
}

/// Sets a zero 16-bit field to `v` unless it is preserved.
fn fill16(b: &mut [u8], preserve: &[u8], at: usize, v: u16) {
    if be16(b, at) == 0 && !kept(preserve, at, 2) {
        put16(b, at, v);
    }
}

/// The EtherType for an IP header whose first byte is `b0`, if its version says.
fn ether_type_of(b0: u8) -> Option<u16> {
    match b0 >> 4 {
        4 => Some(IPV4),
        6 => Some(IPV6),
        _ => None,
    }
}

/// Compiles an encap header: `data` must start with Ethernet. Zero fields that a NIC fills are
/// filled (EtherTypes and next protocols by what follows, IPv4 version/IHL and TTL 64, IPv6
/// version and hop limit 255, the VXLAN flags, the GRE protocol of an Ethernet payload), unless
/// `preserve` (empty, or as long as `data`) keeps their bits; lengths and checksums are left
/// to each packet. `payload` is what the header goes in front of.
pub(crate) fn encap(data: &[u8], preserve: &[u8], payload: Payload) -> Result<Encap, String> {
    if data.is_empty() {
        return Err("no header data (set raw_encap first)".into());
    }
    if !preserve.is_empty() && preserve.len() != data.len() {
        return Err(format!(
            "preserve is {} bytes, the data {}",
            preserve.len(),
            data.len()
        ));
    }
    if data.len() > MAX_HEADER {
        return Err(format!(
            "{} bytes of header: at most {MAX_HEADER}",
            data.len()
        ));
    }
    let mut h = data.to_vec();
    let p = preserve;
    let n = h.len();
    if n < 14 {
        return Err(format!("{n} bytes: shorter than an Ethernet header"));
    }
    let mut e = Encap {
        hdr: Box::default(),
        eth_type_at: None,
        gre_proto_at: None,
        ipv4: None,
        ipv6: None,
        udp: None,
    };
    // The L2 headers: Ethernet, then VLAN tags; `at` is the EtherType field in force.
    let mut at = 12;
    let mut off = 14;
    let mut ty;
    loop {
        ty = be16(&h, at);
        if ty == 0 {
            if off == n {
                // An L2 header alone: the payload's version tells the EtherType.
                if payload == Payload::Ip && !kept(p, at, 2) {
                    e.eth_type_at = Some(at as u16);
                }
                break;
            }
            ty = ether_type_of(h[off]).ok_or_else(|| {
                format!("EtherType at byte {at} is 0 and no IP header follows to tell it")
            })?;
            fill16(&mut h, p, at, ty);
        }
        if matches!(ty, VLAN | QINQ | QINQ_OLD) && off + 4 <= n {
            at = off + 2;
            off += 4;
            continue;
        }
        break;
    }
    if off == n {
        e.hdr = h.into();
        return Ok(e);
    }
    match ty {
        IPV4 => {
            if off + 20 > n {
                return Err(format!("IPv4 header at byte {off} cut short"));
            }
            fill8(&mut h, p, off, 0x45);
            if h[off] >> 4 != 4 {
                return Err(format!("IPv4 version {} at byte {off}", h[off] >> 4));
            }
            let hl = (h[off] & 0xf) as usize * 4;
            if hl < 20 || off + hl > n {
                return Err(format!("IPv4 header length {hl} at byte {off}"));
            }
            fill8(&mut h, p, off + 8, 64);
            let l4 = off + hl;
            let proto = next_proto(&h, off + 9, l4)?;
            e.ipv4 = Some(Ipv4Fix {
                off: off as u16,
                hl: hl as u16,
                len: !kept(p, off + 2, 2),
                csum: !kept(p, off + 10, 2),
                base: 0,
            });
            l4_part(&mut h, p, &mut e, proto, l4, payload, false)?;
            // The header's sum without its length and checksum (they are set per packet).
            if let Some(f) = &mut e.ipv4 {
                let mut copy = h[off..off + hl].to_vec();
                if f.len {
                    copy[2..4].fill(0);
                }
                copy[10..12].fill(0);
                f.base = checksum::sum(&copy);
            }
        }
        IPV6 => {
            if off + 40 > n {
                return Err(format!("IPv6 header at byte {off} cut short"));
            }
            if h[off] >> 4 == 0 && !kept(p, off, 1) {
                h[off] |= 0x60;
            }
            if h[off] >> 4 != 6 {
                return Err(format!("IPv6 version {} at byte {off}", h[off] >> 4));
            }
            fill8(&mut h, p, off + 7, 255);
            let l4 = off + 40;
            let proto = next_proto(&h, off + 6, l4)?;
            e.ipv6 = Some(Ipv6Fix {
                off: off as u16,
                len: !kept(p, off + 4, 2),
            });
            l4_part(&mut h, p, &mut e, proto, l4, payload, true)?;
        }
        // MPLS and other L2 payloads: the bytes go as they are.
        _ => {}
    }
    e.hdr = h.into();
    Ok(e)
}

/// The IP header's next protocol at `at`; 0 is refused, as the header after it (at `l4`)
/// cannot be told from its bytes (testpmd's `set raw_encap` and the definitions fill it).
fn next_proto(h: &[u8], at: usize, l4: usize) -> Result<u8, String> {
    match h[at] {
        0 if l4 == h.len() => Err(format!(
            "IP protocol at byte {at} is 0 and nothing follows: set it (4 or 41 for IP in IP)"
        )),
        0 => Err(format!(
            "IP protocol at byte {at} is 0: what follows cannot be told from its bytes"
        )),
        p => Ok(p),
    }
}

/// The L4 and tunnel headers at `l4`, after an IP header whose protocol is `proto`.
fn l4_part(
    h: &mut [u8],
    p: &[u8],
    e: &mut Encap,
    proto: u8,
    l4: usize,
    payload: Payload,
    v6: bool,
) -> Result<(), String> {
    let n = h.len();
    match proto {
        UDP => {
            if l4 + 8 > n {
                return Err(format!("UDP header at byte {l4} cut short"));
            }
            let t = l4 + 8;
            let dst = be16(h, l4 + 2);
            if dst == VXLAN_PORT && t + 8 <= n {
                fill8(h, p, t, 0x08);
            }
            if dst == GENEVE_PORT && t + 8 <= n && payload == Payload::Ether {
                fill16(h, p, t + 2, TEB);
            }
            let csum = !kept(p, l4 + 6, 2);
            if csum {
                // Over IPv4, no checksum (0); over IPv6, computed per packet.
                put16(h, l4 + 6, 0);
            }
            e.udp = Some(UdpFix {
                off: l4 as u16,
                len: !kept(p, l4 + 4, 2),
                csum: csum && v6,
                pseudo: 0,
                src_hash: false,
            });
            if v6 && let (Some(ip), Some(u)) = (&e.ipv6, &mut e.udp) {
                let o = ip.off as usize;
                let src: [u8; 16] = h[o + 8..o + 24].try_into().expect("16 bytes");
                let dst: [u8; 16] = h[o + 24..o + 40].try_into().expect("16 bytes");
                // Without the length, added per packet.
                u.pseudo = checksum::ipv6_pseudo(&src, &dst, UDP, 0);
            }
        }
        GRE => {
            if l4 + 4 > n {
                return Err(format!("GRE header at byte {l4} cut short"));
            }
            let flags = be16(h, l4);
            if flags & 0x8000 != 0 {
                return Err("GRE with a checksum (C bit) is not supported".into());
            }
            if be16(h, l4 + 2) == 0 && !kept(p, l4 + 2, 2) {
                let rest = n - l4;
                let len = 4 + 4 * ((flags & 0x2000 != 0) as usize + (flags & 0x1000 != 0) as usize);
                if rest == len {
                    match payload {
                        Payload::Ether => put16(h, l4 + 2, TEB),
                        Payload::Ip => e.gre_proto_at = Some((l4 + 2) as u16),
                    }
                } else if let Some(t) = h.get(l4 + len).and_then(|&b| ether_type_of(b)) {
                    put16(h, l4 + 2, t);
                } else {
                    return Err(format!(
                        "GRE protocol at byte {} is 0 and what follows cannot tell it",
                        l4 + 2
                    ));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The header bytes of an encap definition (VXLAN_ENCAP, NVGRE_ENCAP: items from ETH to the
/// tunnel): each item's spec (zeros without one), with the EtherTypes and protocols of the
/// items after it, the VXLAN port and flags and the NVGRE bits filled where zero, as a NIC
/// takes such a definition. `tunnel` is the last item it must have.
pub(crate) fn definition(items: &[Item], tunnel: ItemType) -> Result<Vec<u8>, String> {
    let items: Vec<&Item> = items
        .iter()
        .take_while(|i| i.ty != ItemType::End)
        .filter(|i| i.ty != ItemType::Void)
        .collect();
    let types: Vec<ItemType> = items.iter().map(|i| i.ty).collect();
    use ItemType::*;
    let ok = match types.as_slice() {
        [Eth, rest @ ..] => {
            let rest = rest.strip_prefix(&[Vlan]).unwrap_or(rest);
            match tunnel {
                Vxlan => matches!(rest, [Ipv4 | Ipv6, Udp, Vxlan]),
                _ => matches!(rest, [Ipv4 | Ipv6, Nvgre]),
            }
        }
        _ => false,
    };
    if !ok {
        let names: Vec<&str> = types.iter().map(|t| t.name()).collect();
        let want = if tunnel == Vxlan {
            "ETH [VLAN] IPV4|IPV6 UDP VXLAN"
        } else {
            "ETH [VLAN] IPV4|IPV6 NVGRE"
        };
        return Err(format!(
            "definition {} is not {want}",
            if names.is_empty() {
                "(empty)".to_string()
            } else {
                names.join(" ")
            }
        ));
    }
    let mut out = Vec::new();
    let mut offs = Vec::new();
    for it in &items {
        let len = it.ty.spec_len();
        let mut b = it.spec.clone().unwrap_or_default();
        b.resize(len, 0);
        offs.push(out.len());
        out.extend_from_slice(&b);
    }
    for (k, it) in items.iter().enumerate() {
        let o = offs[k];
        let next = types.get(k + 1).copied();
        let ether = |t: Option<ItemType>| match t {
            Some(Vlan) => VLAN,
            Some(Ipv4) => IPV4,
            Some(Ipv6) => IPV6,
            _ => 0,
        };
        match it.ty {
            Eth if be16(&out, o + 12) == 0 => put16(&mut out, o + 12, ether(next)),
            Vlan if be16(&out, o + 2) == 0 => put16(&mut out, o + 2, ether(next)),
            Ipv4 | Ipv6 => {
                let at = if it.ty == Ipv4 { o + 9 } else { o + 6 };
                if out[at] == 0 {
                    out[at] = if next == Some(Udp) { UDP } else { GRE };
                }
            }
            Udp if be16(&out, o + 2) == 0 => put16(&mut out, o + 2, VXLAN_PORT),
            Vxlan if out[o] == 0 => out[o] = 0x08,
            Nvgre => {
                if be16(&out, o) == 0 {
                    put16(&mut out, o, 0x2000);
                }
                if be16(&out, o + 2) == 0 {
                    put16(&mut out, o + 2, TEB);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// testpmd's `set raw_encap` / `set raw_decap` buffer from items (`cmd_set_raw_parsed`): each
/// item's spec, or its default mask when it has none, end to end, with `update_fields()`'s
/// completions (the EtherType or protocol of the item after, IPv4 version/IHL, IPv6 version,
/// VXLAN flags 0x08, NVGRE's key bit and protocol). `Err` names an item it does not take.
pub(crate) fn raw_buffer(items: &[Item]) -> Result<Vec<u8>, ItemType> {
    use ItemType::*;
    let mut parts: Vec<Vec<u8>> = Vec::new();
    let mut upper: u16 = 0;
    // From the innermost item out, as testpmd does, each learning the protocol of the next.
    for it in items.iter().rev() {
        let (proto, len): (u16, usize) = match it.ty {
            Eth => (0, 14),
            Vlan => (VLAN, 4),
            Ipv4 => (IPV4, 20),
            Ipv6 => (IPV6, 40),
            Udp => (UDP as u16, 8),
            Tcp => (TCP as u16, 20),
            Vxlan => (0, 8),
            Gre => (GRE as u16, 4),
            Mpls => (0, 4),
            Nvgre => (GRE as u16, 8),
            Geneve => (0, 8),
            t => return Err(t),
        };
        let mut b = it
            .spec
            .clone()
            .unwrap_or_else(|| it.ty.default_mask().to_vec());
        b.resize(len, 0);
        match it.ty {
            Eth if upper != 0 => put16(&mut b, 12, upper),
            Ipv4 => {
                if b[0] == 0 {
                    b[0] = 0x45;
                }
                if upper != 0 && b[9] == 0 {
                    b[9] = upper as u8;
                }
            }
            Ipv6 => {
                if upper != 0 && b[6] == 0 {
                    b[6] = upper as u8;
                }
                b[0] = (b[0] & 0x0f) | 0x60;
            }
            Vxlan => b[0] = 0x08,
            Nvgre => {
                put16(&mut b, 0, 0x2000);
                put16(&mut b, 2, TEB);
            }
            _ => {}
        }
        parts.push(b);
        upper = proto;
    }
    Ok(parts.into_iter().rev().flatten().collect())
}
