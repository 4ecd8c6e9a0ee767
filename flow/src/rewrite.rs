//! Header rewrites and VLAN actions: what SET_MAC_*, SET_IPV4_*, SET_IPV6_*, SET_TP_*,
//! SET_TTL, DEC_TTL, SET_IPV4/6_DSCP, MODIFY_FIELD, OF_PUSH_VLAN, OF_SET_VLAN_VID and
//! OF_SET_VLAN_PCP do to a packet.
//!
//! Every header change is a change of a few bits of one layer. The checksums that cover those
//! bits are updated incrementally (RFC 1624, eqn. 3: `HC' = ~(~HC + ~m + m')`), and the change
//! of a checksum field is itself a change that the checksums around it see (an outer UDP
//! checksum over a VXLAN packet whose inner addresses change): each covering checksum is updated
//! from the one's complement difference of the bytes, so nothing is summed over the packet. The
//! checksums: IPv4 headers; TCP, UDP and ICMPv6 over their segment and their pseudo-header
//! (addresses of the IP header below); ICMP; GRE with its C bit. A UDP checksum of 0 means none
//! and stays 0; a computed 0 is sent as 0xffff, so a checksum that was there never becomes 0.
//!
//! Where the mbuf asks the port to compute a checksum (`RTE_MBUF_F_TX_IP_CKSUM`,
//! `RTE_MBUF_F_TX_TCP_CKSUM`/`UDP_CKSUM`, the outer ones, at the offsets its `l2_len`,
//! `l3_len`, `outer_l2_len`, `outer_l3_len` give), that field is the port's business: an IPv4
//! checksum to be offloaded is left alone, and an offloaded L4 checksum field, which holds the
//! pseudo-header sum (`rte_ipv4_phdr_cksum`), follows the address changes only.

use crate::action::Action;
use crate::modify::{FieldId, ModifyData, ModifyField, ModifyOp, ModifySrc};
use crate::packet::{Layer, Layers, MAX_LAYERS, Meta};
use rpdk_mbuf::net::MacAddr;
use rpdk_mbuf::net::checksum::{combine, sum};
use rpdk_mbuf::{Mbuf, OlFlags};

/// The TPIDs of VLAN tags.
const TPIDS: [u16; 3] = [0x8100, 0x88a8, 0x9100];

/// Which header a field is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hdr {
    Eth,
    Vlan,
    Ipv4,
    Ipv6,
    Tcp,
    Udp,
    /// The first TCP or UDP header (SET_TP_*).
    Tp,
    Vxlan,
    Geneve,
}

impl Hdr {
    fn matches(self, l: Layer) -> bool {
        match self {
            Hdr::Eth => l == Layer::Eth,
            Hdr::Vlan => l == Layer::Vlan,
            Hdr::Ipv4 => l == Layer::Ipv4,
            Hdr::Ipv6 => l == Layer::Ipv6,
            Hdr::Tcp => l == Layer::Tcp,
            Hdr::Udp => l == Layer::Udp,
            Hdr::Tp => matches!(l, Layer::Tcp | Layer::Udp),
            Hdr::Vxlan => l == Layer::Vxlan,
            Hdr::Geneve => l == Layer::Geneve,
        }
    }
}

/// Where a field is: a bit range of a header, or a metadata word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Loc {
    /// Bits from `bit` (counted from the header's first bit, most significant first).
    Header {
        hdr: Hdr,
        bit: u16,
    },
    Meta,
    Tag(u8),
    Mark,
}

/// A field's header, first bit and width, or its metadata word.
pub(crate) fn field_loc(f: FieldId, level: u32) -> Option<(Loc, u32)> {
    use FieldId::*;
    let h = |hdr, bit, w| Some((Loc::Header { hdr, bit }, w));
    match f {
        MacDst => h(Hdr::Eth, 0, 48),
        MacSrc => h(Hdr::Eth, 48, 48),
        VlanId => h(Hdr::Vlan, 4, 12),
        Ipv4Dscp => h(Hdr::Ipv4, 8, 6),
        Ipv4Ecn => h(Hdr::Ipv4, 14, 2),
        Ipv4Ttl => h(Hdr::Ipv4, 64, 8),
        Ipv4Src => h(Hdr::Ipv4, 96, 32),
        Ipv4Dst => h(Hdr::Ipv4, 128, 32),
        Ipv6Dscp => h(Hdr::Ipv6, 4, 6),
        Ipv6Ecn => h(Hdr::Ipv6, 10, 2),
        Ipv6Hoplimit => h(Hdr::Ipv6, 56, 8),
        Ipv6Src => h(Hdr::Ipv6, 64, 128),
        Ipv6Dst => h(Hdr::Ipv6, 192, 128),
        TcpPortSrc => h(Hdr::Tcp, 0, 16),
        TcpPortDst => h(Hdr::Tcp, 16, 16),
        TcpSeqNum => h(Hdr::Tcp, 32, 32),
        TcpAckNum => h(Hdr::Tcp, 64, 32),
        TcpFlags => h(Hdr::Tcp, 103, 9),
        UdpPortSrc => h(Hdr::Udp, 0, 16),
        UdpPortDst => h(Hdr::Udp, 16, 16),
        VxlanVni => h(Hdr::Vxlan, 32, 24),
        GeneveVni => h(Hdr::Geneve, 32, 24),
        Meta => Some((Loc::Meta, 32)),
        Mark => Some((Loc::Mark, 32)),
        Tag => Some((Loc::Tag(level.min(7) as u8), 32)),
        _ => None,
    }
}

/// A source of bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Src {
    /// Immediate bits (already `width` wide).
    Imm(u128),
    /// Bits of another field, from its bit `bit` (relative to the header, or to the metadata
    /// word's most significant bit).
    Loc(Loc, u16),
}

/// A header rewrite as the engine runs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Rewrite {
    /// `width` bits of `dst` (from its bit `at` for metadata words) set, added to or
    /// subtracted from with `src`.
    Modify {
        dst: Loc,
        at: u16,
        op: ModifyOp,
        src: Src,
        width: u8,
    },
    /// TTL or hop limit of the first IP header, minus 1 modulo 256.
    DecTtl,
    /// TTL or hop limit of the first IP header.
    SetTtl(u8),
    /// OF_PUSH_VLAN with this TPID.
    PushVlan(u16),
    /// OF_SET_VLAN_VID.
    SetVlanVid(u16),
    /// OF_SET_VLAN_PCP.
    SetVlanPcp(u8),
}

/// Why a rewrite could not be made: no headroom for a tag, a shared buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RewriteFailed;

fn mask(width: u32) -> u128 {
    if width >= 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    }
}

/// The immediate bits of a MODIFY_FIELD value for a destination of field width `fw`, offset
/// `off` and width `w`: the value is the whole field laid out as its item has it.
fn immediate(field: FieldId, fw: u32, off: u32, w: u32, bytes: &[u8; 16]) -> u128 {
    let v = if field.is_metadata() {
        u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as u128
    } else {
        let n = fw.div_ceil(8) as usize;
        bytes[..n].iter().fold(0u128, |a, &b| (a << 8) | b as u128) & mask(fw)
    };
    (v >> (fw - off - w)) & mask(w)
}

impl Rewrite {
    /// The rewrite of a MODIFY_FIELD (checked by validation: supported fields, widths and
    /// offsets in range, a field destination).
    pub(crate) fn modify(m: &ModifyField) -> Option<Rewrite> {
        let (dst, dw) = field_loc(m.dst.field, m.dst.level)?;
        let at = |loc: Loc, d: &ModifyData| match loc {
            Loc::Header { hdr, bit } => (
                Loc::Header {
                    hdr,
                    bit: bit + d.offset as u16,
                },
                0,
            ),
            l => (l, d.offset as u16),
        };
        let (dst, dat) = at(dst, &m.dst);
        let src = match &m.src {
            ModifySrc::Value(b) | ModifySrc::Pointer(b) => {
                Src::Imm(immediate(m.dst.field, dw, m.dst.offset, m.width, b))
            }
            ModifySrc::Field(s) => {
                let (l, _) = field_loc(s.field, s.level)?;
                let (l, sat) = at(l, s);
                Src::Loc(l, sat)
            }
        };
        Some(Rewrite::Modify {
            dst,
            at: dat,
            op: m.op,
            src,
            width: m.width as u8,
        })
    }

    /// A whole-field SET of immediate bits.
    pub(crate) fn set(field: FieldId, v: u128) -> Rewrite {
        let (dst, w) = field_loc(field, 0).expect("a header field");
        Rewrite::Modify {
            dst,
            at: 0,
            op: ModifyOp::Set,
            src: Src::Imm(v & mask(w)),
            width: w as u8,
        }
    }

    /// A SET_TP_SRC/DST: bits 0 or 16 of the first TCP or UDP header.
    pub(crate) fn set_tp(dst_port: bool, port: u16) -> Rewrite {
        Rewrite::Modify {
            dst: Loc::Header {
                hdr: Hdr::Tp,
                bit: if dst_port { 16 } else { 0 },
            },
            at: 0,
            op: ModifyOp::Set,
            src: Src::Imm(port as u128),
            width: 16,
        }
    }

    /// The rewrite of a legacy rewrite or VLAN action (`None` for other actions).
    pub(crate) fn of(a: &Action) -> Option<Rewrite> {
        let mac = |m: &MacAddr| m.0.iter().fold(0u128, |v, &b| (v << 8) | b as u128);
        Some(match a {
            Action::SetMacSrc { mac_addr } => Rewrite::set(FieldId::MacSrc, mac(mac_addr)),
            Action::SetMacDst { mac_addr } => Rewrite::set(FieldId::MacDst, mac(mac_addr)),
            Action::SetIpv4Src { ipv4_addr } => {
                Rewrite::set(FieldId::Ipv4Src, u32::from(*ipv4_addr) as u128)
            }
            Action::SetIpv4Dst { ipv4_addr } => {
                Rewrite::set(FieldId::Ipv4Dst, u32::from(*ipv4_addr) as u128)
            }
            Action::SetIpv6Src { ipv6_addr } => {
                Rewrite::set(FieldId::Ipv6Src, u128::from(*ipv6_addr))
            }
            Action::SetIpv6Dst { ipv6_addr } => {
                Rewrite::set(FieldId::Ipv6Dst, u128::from(*ipv6_addr))
            }
            Action::SetTpSrc { port } => Rewrite::set_tp(false, *port),
            Action::SetTpDst { port } => Rewrite::set_tp(true, *port),
            Action::SetTtl { ttl_value } => Rewrite::SetTtl(*ttl_value),
            Action::DecTtl => Rewrite::DecTtl,
            Action::SetIpv4Dscp { dscp } => Rewrite::set(FieldId::Ipv4Dscp, *dscp as u128),
            Action::SetIpv6Dscp { dscp } => Rewrite::set(FieldId::Ipv6Dscp, *dscp as u128),
            Action::ModifyField(m) => return Rewrite::modify(m),
            Action::OfPushVlan { ethertype } => Rewrite::PushVlan(*ethertype),
            Action::OfSetVlanVid { vlan_vid } => Rewrite::SetVlanVid(*vlan_vid),
            Action::OfSetVlanPcp { vlan_pcp } => Rewrite::SetVlanPcp(*vlan_pcp),
            _ => return None,
        })
    }

    /// Whether it is a MODIFY_FIELD into META.
    pub(crate) fn sets_meta(&self) -> bool {
        matches!(self, Rewrite::Modify { dst: Loc::Meta, .. })
    }

    /// Whether it changes the packet's bytes (not only its metadata).
    pub(crate) fn changes_bytes(&self) -> bool {
        !matches!(
            self,
            Rewrite::Modify {
                dst: Loc::Meta | Loc::Tag(_) | Loc::Mark,
                ..
            }
        )
    }

    /// Applies the rewrite to an mbuf (its first segment) and the metadata the rules carry.
    /// A header the packet does not have is not rewritten (the packet goes on unchanged).
    pub(crate) fn apply(&self, m: &mut Mbuf, meta: &mut Meta) -> Result<(), RewriteFailed> {
        match *self {
            Rewrite::PushVlan(tpid) => return push_vlan(m, tpid),
            Rewrite::SetVlanVid(vid) => return set_tci(m, 0x0fff, vid),
            Rewrite::SetVlanPcp(pcp) => return set_tci(m, 0xe000, (pcp as u16 & 7) << 13),
            _ => {}
        }
        if !self.changes_bytes() {
            apply_meta(self, m.data(), meta);
            return Ok(());
        }
        let offload = Offload::of(m);
        let d = m.data_mut().map_err(|_| RewriteFailed)?;
        apply_bytes(self, d, meta, &offload);
        if let Rewrite::Modify {
            dst: Loc::Header { hdr: Hdr::Vlan, .. },
            ..
        } = self
        {
            sync_vlan_tci(m);
        }
        Ok(())
    }
}

/// The rewrite on a frame's bytes (and the metadata), with the checksums to leave to the
/// port.
pub(crate) fn apply_bytes(r: &Rewrite, d: &mut [u8], meta: &mut Meta, off: &Offload) {
    match *r {
        Rewrite::Modify {
            dst,
            at,
            op,
            src,
            width,
        } => {
            // The outermost Ethernet header starts the frame and no checksum covers it: an
            // immediate into it needs no parse.
            if let (Loc::Header { hdr: Hdr::Eth, bit }, Src::Imm(v)) = (dst, src) {
                let w = width as u32;
                if d.len() >= 14 && bit as usize + w as usize <= 112 {
                    let cur = read_bits(d, bit as usize, w);
                    write_bits(d, bit as usize, w, combine_op(op, cur, v, w));
                }
                return;
            }
            let map = Map::of(d);
            if let Some(new) = result(d, &map, meta, dst, at, op, src, width) {
                write(d, &map, meta, off, dst, at, width as u32, new);
            }
        }
        Rewrite::DecTtl | Rewrite::SetTtl(_) => {
            let map = Map::of(d);
            let Some(i) = (0..map.n).find(|&i| matches!(map.kind[i], Layer::Ipv4 | Layer::Ipv6))
            else {
                return;
            };
            let hdr = if map.kind[i] == Layer::Ipv4 {
                Hdr::Ipv4
            } else {
                Hdr::Ipv6
            };
            let bit = if hdr == Hdr::Ipv4 { 64 } else { 56 };
            let at = map.off[i] as usize + bit as usize / 8;
            let v = match *r {
                Rewrite::SetTtl(v) => v,
                _ => d[at].wrapping_sub(1),
            };
            change(d, &map, off, at, 1, |b| b[0] = v);
        }
        Rewrite::PushVlan(_) | Rewrite::SetVlanVid(_) | Rewrite::SetVlanPcp(_) => {}
    }
}

/// A MODIFY_FIELD into metadata (MARK, META, TAG), from the packet's bytes or other metadata.
pub(crate) fn apply_meta(r: &Rewrite, d: &[u8], meta: &mut Meta) {
    if let Rewrite::Modify {
        dst,
        at,
        op,
        src,
        width,
    } = *r
    {
        let map = if matches!(src, Src::Loc(Loc::Header { .. }, _)) {
            Map::of(d)
        } else {
            Map::default()
        };
        if let Some(new) = result(d, &map, meta, dst, at, op, src, width) {
            write(
                &mut [],
                &map,
                meta,
                &Offload::default(),
                dst,
                at,
                width as u32,
                new,
            );
        }
    }
}

/// The destination bits a MODIFY_FIELD gives, if the packet has its fields.
#[allow(clippy::too_many_arguments)]
fn result(
    d: &[u8],
    map: &Map,
    meta: &Meta,
    dst: Loc,
    at: u16,
    op: ModifyOp,
    src: Src,
    width: u8,
) -> Option<u128> {
    let w = width as u32;
    let s = match src {
        Src::Imm(v) => v,
        Src::Loc(l, sat) => read(d, map, meta, l, sat, w)?,
    };
    let cur = read(d, map, meta, dst, at, w)?;
    Some(combine_op(op, cur, s, w))
}

/// `op` of the destination bits `cur` and the source bits `s`, `w` bits wide.
fn combine_op(op: ModifyOp, cur: u128, s: u128, w: u32) -> u128 {
    let v = match op {
        ModifyOp::Set => s,
        ModifyOp::Add => cur.wrapping_add(s),
        ModifyOp::Sub => cur.wrapping_sub(s),
    };
    v & mask(w)
}

/// What the checksum updates leave to the port: offsets of an IPv4 header whose checksum and
/// of an L4 header whose checksum the mbuf's tx offload flags give to it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Offload {
    ip: [Option<usize>; 2],
    l4: [Option<usize>; 2],
}

impl Offload {
    fn of(m: &Mbuf) -> Offload {
        let f = m.ol_flags();
        let mut o = Offload::default();
        if f.0 & (OlFlags::TX_OFFLOAD_MASK.0) == 0 {
            return o;
        }
        let (ol2, ol3) = (m.outer_l2_len() as usize, m.outer_l3_len() as usize);
        let tunnel = f.0 & OlFlags::TX_TUNNEL_MASK.0 != 0;
        let ip = if tunnel { ol2 + ol3 } else { 0 } + m.l2_len() as usize;
        if f.contains(OlFlags::TX_IP_CKSUM) {
            o.ip[0] = Some(ip);
        }
        let l4 = f.0 & OlFlags::TX_L4_MASK.0;
        if l4 == OlFlags::TX_TCP_CKSUM.0 || l4 == OlFlags::TX_UDP_CKSUM.0 {
            o.l4[0] = Some(ip + m.l3_len() as usize);
        }
        if tunnel && f.contains(OlFlags::TX_OUTER_IP_CKSUM) {
            o.ip[1] = Some(ol2);
        }
        if tunnel && f.contains(OlFlags::TX_OUTER_UDP_CKSUM) {
            o.l4[1] = Some(ol2 + ol3);
        }
        o
    }

    fn ip(&self, at: usize) -> bool {
        self.ip.contains(&Some(at))
    }

    fn l4(&self, at: usize) -> bool {
        self.l4.contains(&Some(at))
    }
}

/// A packet's layers, copied out of [`Layers`] so that the bytes can be changed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Map {
    n: usize,
    kind: [Layer; MAX_LAYERS],
    off: [u16; MAX_LAYERS],
    end: [u16; MAX_LAYERS],
}

impl Default for Map {
    fn default() -> Map {
        Map {
            n: 0,
            kind: [Layer::Eth; MAX_LAYERS],
            off: [0; MAX_LAYERS],
            end: [0; MAX_LAYERS],
        }
    }
}

impl Map {
    pub(crate) fn of(d: &[u8]) -> Map {
        let l = Layers::parse(d);
        let mut m = Map {
            n: l.len(),
            ..Map::default()
        };
        for i in 0..m.n {
            m.kind[i] = l.kind(i);
            m.off[i] = l.offset(i) as u16;
            m.end[i] = l.end(i) as u16;
        }
        m.first_fragment(d);
        m
    }

    /// The parser gives a fragment no L4 layer; a first fragment carries the TCP or UDP
    /// header, whose checksum (over the whole datagram) must follow address changes.
    fn first_fragment(&mut self, d: &[u8]) {
        let Some(last) = self.n.checked_sub(1) else {
            return;
        };
        if self.kind[last] != Layer::Ipv4 || self.n == MAX_LAYERS {
            return;
        }
        let (o, e) = (self.off[last] as usize, self.end[last] as usize);
        let frag = u16::from_be_bytes([d[o + 6], d[o + 7]]);
        let (mf, offset) = (frag & 0x2000 != 0, frag & 0x1fff);
        let kind = match d[o + 9] {
            6 if d.len() >= e + 20 => Layer::Tcp,
            17 if d.len() >= e + 8 => Layer::Udp,
            _ => return,
        };
        if mf && offset == 0 {
            self.kind[self.n] = kind;
            self.off[self.n] = e as u16;
            self.end[self.n] = (e + if kind == Layer::Tcp { 20 } else { 8 }) as u16;
            self.n += 1;
        }
    }

    fn find(&self, h: Hdr) -> Option<usize> {
        (0..self.n).find(|&i| h.matches(self.kind[i]))
    }
}

fn read_bits(d: &[u8], bit: usize, w: u32) -> u128 {
    let (first, last) = (bit / 8, (bit + w as usize).div_ceil(8));
    let acc = d[first..last]
        .iter()
        .fold(0u128, |a, &b| (a << 8) | b as u128);
    let shift = (last - first) * 8 - bit % 8 - w as usize;
    (acc >> shift) & mask(w)
}

fn write_bits(d: &mut [u8], bit: usize, w: u32, v: u128) {
    let (first, last) = (bit / 8, (bit + w as usize).div_ceil(8));
    let bytes = &mut d[first..last];
    let mut acc = bytes.iter().fold(0u128, |a, &b| (a << 8) | b as u128);
    let shift = (last - first) * 8 - bit % 8 - w as usize;
    acc = (acc & !(mask(w) << shift)) | ((v & mask(w)) << shift);
    for (i, b) in bytes.iter_mut().rev().enumerate() {
        *b = (acc >> (8 * i)) as u8;
    }
}

/// Where a header field's bits are in the frame: their first bit from the frame's start, if
/// the header is there and the bits within it.
fn header_bit(d: &[u8], map: &Map, hdr: Hdr, bit: u16, w: u32) -> Option<usize> {
    let i = map.find(hdr)?;
    let start = map.off[i] as usize * 8 + bit as usize;
    (start + w as usize <= d.len() * 8).then_some(start)
}

fn read(d: &[u8], map: &Map, meta: &Meta, l: Loc, at: u16, w: u32) -> Option<u128> {
    let word = |v: u32| ((v as u128) >> (32 - at as u32 - w)) & mask(w);
    match l {
        Loc::Header { hdr, bit } => {
            let b = header_bit(d, map, hdr, bit, w)?;
            Some(read_bits(d, b, w))
        }
        Loc::Meta => Some(word(meta.meta)),
        Loc::Tag(i) => Some(word(meta.tags[i as usize & 7])),
        Loc::Mark => Some(word(meta.mark.unwrap_or(0))),
    }
}

#[allow(clippy::too_many_arguments)]
fn write(
    d: &mut [u8],
    map: &Map,
    meta: &mut Meta,
    off: &Offload,
    l: Loc,
    at: u16,
    w: u32,
    v: u128,
) {
    let word = |old: u32| {
        let shift = 32 - at as u32 - w;
        let m = (mask(w) << shift) as u32;
        (old & !m) | (((v << shift) as u32) & m)
    };
    match l {
        Loc::Header { hdr, bit } => {
            let Some(b) = header_bit(d, map, hdr, bit, w) else {
                return;
            };
            let (first, last) = (b / 8, (b + w as usize).div_ceil(8));
            change(d, map, off, first, last - first, |bytes| {
                write_bits(bytes, b - first * 8, w, v)
            });
        }
        Loc::Meta => meta.meta = word(meta.meta),
        Loc::Tag(i) => meta.tags[i as usize & 7] = word(meta.tags[i as usize & 7]),
        Loc::Mark => meta.mark = Some(word(meta.mark.unwrap_or(0))),
    }
}

/// Changes `len` bytes at `at` with `f` and updates the checksums that cover them.
fn change(
    d: &mut [u8],
    map: &Map,
    off: &Offload,
    at: usize,
    len: usize,
    f: impl FnOnce(&mut [u8]),
) {
    let (a, b) = (at & !1, ((at + len + 1) & !1).min(d.len()));
    let old = sum(&d[a..b]);
    f(&mut d[at..at + len]);
    let new = sum(&d[a..b]);
    propagate(d, map, off, a, combine(new, !old));
}

/// The IPv4 header checksum of layer `i`, at +10.
const IPV4_CKSUM: usize = 10;

/// Where layer `i`'s checksum is, if it has one that covers the bytes from its start on.
fn l4_cksum(d: &[u8], map: &Map, i: usize) -> Option<usize> {
    let o = map.off[i] as usize;
    let at = match map.kind[i] {
        Layer::Tcp => o + 16,
        Layer::Udp => o + 6,
        Layer::Icmp | Layer::Icmp6 => o + 2,
        Layer::Gre | Layer::Nvgre if d.get(o).is_some_and(|b| b & 0x80 != 0) => o + 4,
        _ => return None,
    };
    (at + 2 <= d.len()).then_some(at)
}

/// Whether `p` is in the pseudo-header of layer `i` (the addresses of the IP header below a
/// TCP, UDP or ICMPv6 header).
fn in_pseudo(map: &Map, i: usize, p: usize) -> bool {
    if i == 0 || !matches!(map.kind[i], Layer::Tcp | Layer::Udp | Layer::Icmp6) {
        return false;
    }
    let ip = map.off[i - 1] as usize;
    match map.kind[i - 1] {
        Layer::Ipv4 => (ip + 12..ip + 20).contains(&p),
        Layer::Ipv6 => (ip + 8..ip + 40).contains(&p),
        _ => false,
    }
}

/// Folds a one's complement difference `delta` of the bytes at the even offset `p` into every
/// checksum that covers them (and, through the checksum fields that change, the checksums
/// around those).
fn propagate(d: &mut [u8], map: &Map, off: &Offload, p: usize, delta: u16) {
    if delta == 0 || delta == 0xffff {
        return;
    }
    for i in 0..map.n {
        let o = map.off[i] as usize;
        let (at, covered, offloaded, pseudo, udp) = match map.kind[i] {
            Layer::Ipv4 => {
                let at = o + IPV4_CKSUM;
                let covered = (o..map.end[i] as usize).contains(&p) && p != at;
                (at, covered, off.ip(o), false, false)
            }
            _ => {
                let Some(at) = l4_cksum(d, map, i) else {
                    continue;
                };
                let pseudo = in_pseudo(map, i, p);
                let covered = (p >= o && p != at) || pseudo;
                (at, covered, off.l4(o), pseudo, map.kind[i] == Layer::Udp)
            }
        };
        if !covered {
            continue;
        }
        let old = u16::from_be_bytes([d[at], d[at + 1]]);
        let new = if offloaded {
            // The port computes it: an L4 field holds the pseudo-header sum, not inverted.
            if !pseudo || map.kind[i] == Layer::Ipv4 {
                continue;
            }
            combine(old, delta)
        } else {
            if udp && old == 0 {
                // No UDP checksum: it stays so.
                continue;
            }
            let c = !combine(!old, delta);
            if udp && c == 0 { 0xffff } else { c }
        };
        if new == old {
            continue;
        }
        d[at..at + 2].copy_from_slice(&new.to_be_bytes());
        propagate(d, map, off, at, combine(new, !old));
    }
}

/// The outermost tag in the data: its TCI's offset, if the frame has one.
fn outer_tag(d: &[u8]) -> Option<usize> {
    (d.len() >= 18 && TPIDS.contains(&u16::from_be_bytes([d[12], d[13]]))).then_some(14)
}

/// The TPID a stripped QinQ outer tag gets when it goes back into the data (the driver kept
/// only its TCI; 802.1ad's S-tag TPID). A stripped single or inner tag gets 0x8100.
const STRIPPED_OUTER_TPID: u16 = 0x88a8;

/// OF_PUSH_VLAN. Tags the driver stripped were the outermost on the wire, so they go back into
/// the data first, in their order (`RTE_MBUF_F_RX_VLAN_STRIPPED`'s `vlan_tci` under
/// `RTE_MBUF_F_RX_QINQ_STRIPPED`'s `vlan_tci_outer`), and the flags then say that the data
/// holds them (`RX_VLAN`, with `RX_QINQ` when there was a QinQ pair). The new tag goes in
/// front, with the TCI of the outermost tag or 0, and is reported as a received one:
/// `RX_VLAN`, `vlan_tci`, and with `RX_QINQ` also `vlan_tci_outer` (the new tag is the outer
/// one, the tag under it has the same TCI). Without the headroom for every tag it puts in,
/// nothing changes and the packet is dropped.
fn push_vlan(m: &mut Mbuf, tpid: u16) -> Result<(), RewriteFailed> {
    if m.data_len() < 14 {
        return Err(RewriteFailed);
    }
    let f = m.ol_flags();
    let inner_stripped = f.contains(OlFlags::RX_VLAN_STRIPPED);
    let outer_stripped = f.contains(OlFlags::RX_QINQ_STRIPPED);
    let tags = 1 + inner_stripped as u16 + outer_stripped as u16;
    if m.headroom() < 4 * tags || m.is_shared() {
        return Err(RewriteFailed);
    }
    if inner_stripped {
        insert_tag(m, 0x8100, m.vlan_tci())?;
    }
    if outer_stripped {
        insert_tag(m, STRIPPED_OUTER_TPID, m.vlan_tci_outer())?;
    }
    let tci = {
        let d = m.data();
        outer_tag(d).map_or(0, |t| u16::from_be_bytes([d[t], d[t + 1]]))
    };
    insert_tag(m, tpid, tci)?;
    let f = m.ol_flags() & !(OlFlags::RX_VLAN_STRIPPED | OlFlags::RX_QINQ_STRIPPED);
    m.set_ol_flags(f | OlFlags::RX_VLAN);
    m.set_vlan_tci(tci);
    if f.contains(OlFlags::RX_QINQ) {
        m.set_vlan_tci_outer(tci);
    }
    Ok(())
}

fn insert_tag(m: &mut Mbuf, tpid: u16, tci: u16) -> Result<(), RewriteFailed> {
    if m.headroom() < 4 || m.is_shared() {
        return Err(RewriteFailed);
    }
    m.prepend(4).map_err(|_| RewriteFailed)?;
    let d = m.data_mut().map_err(|_| RewriteFailed)?;
    d.copy_within(4..16, 0);
    d[12..14].copy_from_slice(&tpid.to_be_bytes());
    d[14..16].copy_from_slice(&tci.to_be_bytes());
    Ok(())
}

/// Sets the `bits` of the outermost tag's TCI on the wire to `v`'s: a QinQ outer tag the
/// driver stripped (`vlan_tci_outer`, `RX_QINQ_STRIPPED`), else a stripped tag (`vlan_tci`,
/// `RX_VLAN_STRIPPED`), else the data's outermost tag, with the field that reports it
/// following (`vlan_tci_outer` under `RX_QINQ`, otherwise `vlan_tci` under `RX_VLAN`). A
/// frame without a tag is left alone.
fn set_tci(m: &mut Mbuf, bits: u16, v: u16) -> Result<(), RewriteFailed> {
    let f = m.ol_flags();
    let set = |tci: u16| (tci & !bits) | (v & bits);
    if f.contains(OlFlags::RX_QINQ_STRIPPED) {
        m.set_vlan_tci_outer(set(m.vlan_tci_outer()));
        return Ok(());
    }
    if f.contains(OlFlags::RX_VLAN_STRIPPED) {
        m.set_vlan_tci(set(m.vlan_tci()));
        return Ok(());
    }
    let Some(t) = outer_tag(m.data()) else {
        return Ok(());
    };
    let d = m.data_mut().map_err(|_| RewriteFailed)?;
    let tci = set(u16::from_be_bytes([d[t], d[t + 1]]));
    d[t..t + 2].copy_from_slice(&tci.to_be_bytes());
    sync_vlan_tci(m);
    Ok(())
}

/// The field that reports the data's outermost tag follows it: `vlan_tci_outer` under
/// `RTE_MBUF_F_RX_QINQ` with both tags in the data, `vlan_tci` under `RTE_MBUF_F_RX_VLAN`
/// when the tag in the data is the only or the inner one reported (`RX_QINQ_STRIPPED` alone:
/// the outer one was stripped). With `RX_VLAN_STRIPPED` no tag in the data is reported.
fn sync_vlan_tci(m: &mut Mbuf) {
    let f = m.ol_flags();
    if f.contains(OlFlags::RX_VLAN_STRIPPED) {
        return;
    }
    let d = m.data();
    let Some(t) = outer_tag(d) else {
        return;
    };
    let tci = u16::from_be_bytes([d[t], d[t + 1]]);
    if f.contains(OlFlags::RX_QINQ) && !f.contains(OlFlags::RX_QINQ_STRIPPED) {
        m.set_vlan_tci_outer(tci);
    } else if f.contains(OlFlags::RX_VLAN) {
        m.set_vlan_tci(tci);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rpdk_mbuf::net::checksum;

    fn udp4(cksum: bool) -> Vec<u8> {
        let mut v = Vec::new();
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(1000, 2000)
            .write(&mut v, b"hello, world")
            .unwrap();
        if !cksum {
            v[40] = 0;
            v[41] = 0;
        }
        v
    }

    fn tcp6() -> Vec<u8> {
        let mut v = Vec::new();
        let a = [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let mut b = a;
        b[15] = 2;
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv6(a, b, 64)
            .tcp(1000, 80, 7, 1024)
            .write(&mut v, b"GET /")
            .unwrap();
        v
    }

    /// Whether every checksum of the frame verifies (IPv4 header, TCP/UDP/ICMP).
    fn checksums_ok(d: &[u8]) -> bool {
        let map = Map::of(d);
        for i in 0..map.n {
            let o = map.off[i] as usize;
            match map.kind[i] {
                Layer::Ipv4 if sum(&d[o..map.end[i] as usize]) != 0xffff => return false,
                Layer::Tcp | Layer::Udp => {
                    let ip = map.off[i - 1] as usize;
                    let (pseudo, seg_end) = if map.kind[i - 1] == Layer::Ipv4 {
                        let tl = u16::from_be_bytes([d[ip + 2], d[ip + 3]]) as usize;
                        let end = ip + tl;
                        let p = checksum::ipv4_pseudo(
                            d[ip + 12..ip + 16].try_into().unwrap(),
                            d[ip + 16..ip + 20].try_into().unwrap(),
                            d[ip + 9],
                            (end - o) as u16,
                        );
                        (p, end)
                    } else {
                        let pl = u16::from_be_bytes([d[ip + 4], d[ip + 5]]) as usize;
                        let end = ip + 40 + pl;
                        let p = checksum::ipv6_pseudo(
                            d[ip + 8..ip + 24].try_into().unwrap(),
                            d[ip + 24..ip + 40].try_into().unwrap(),
                            if map.kind[i] == Layer::Tcp { 6 } else { 17 },
                            (end - o) as u32,
                        );
                        (p, end)
                    };
                    if map.kind[i] == Layer::Udp && d[o + 6] == 0 && d[o + 7] == 0 {
                        continue;
                    }
                    if !checksum::l4_ok(pseudo, &d[o..seg_end]) {
                        return false;
                    }
                }
                _ => {}
            }
        }
        true
    }

    fn run(r: &Rewrite, d: &mut [u8]) {
        apply_bytes(r, d, &mut Meta::default(), &Offload::default());
    }

    #[test]
    fn set_ipv4_src_keeps_both_checksums() {
        let mut d = udp4(true);
        run(&Rewrite::set(FieldId::Ipv4Src, 0xc0a8_0101), &mut d);
        assert_eq!(d[26..30], [192, 168, 1, 1]);
        assert!(checksums_ok(&d));
        let mut e = udp4(true);
        e[26..30].copy_from_slice(&[192, 168, 1, 1]);
        // The incremental result is the full recomputation's.
        let ip = checksum::ipv4_header(&e[14..34]);
        assert_eq!(u16::from_be_bytes([d[24], d[25]]), ip);
    }

    #[test]
    fn a_zero_udp_checksum_stays_zero() {
        let mut d = udp4(false);
        run(&Rewrite::set(FieldId::Ipv4Dst, 0x0101_0101), &mut d);
        run(&Rewrite::set_tp(true, 53), &mut d);
        assert_eq!(d[40..42], [0, 0]);
        assert_eq!(d[36..38], 53u16.to_be_bytes());
        assert!(checksums_ok(&d));
    }

    #[test]
    fn a_udp_checksum_that_would_be_zero_is_all_ones() {
        // Find a source port that makes the checksum 0 when computed, then rewrite to it.
        let base = udp4(true);
        let c = u16::from_be_bytes([base[40], base[41]]);
        // Changing the source port from 1000 by x changes the sum by x, and the checksum to
        // ~(~c + x): 0 for x = c.
        let port = combine(1000, c);
        let mut d = base.clone();
        run(&Rewrite::set_tp(false, port), &mut d);
        assert_eq!(d[40..42], [0xff, 0xff], "port {port:#x}");
        assert!(checksums_ok(&d));
    }

    #[test]
    fn ipv6_address_and_tcp_port_rewrites() {
        let mut d = tcp6();
        run(
            &Rewrite::set(FieldId::Ipv6Dst, 0xfe80_0000_0000_0000_0000_0000_0000_0042),
            &mut d,
        );
        run(&Rewrite::set_tp(true, 8080), &mut d);
        assert_eq!(d[38..54][15], 0x42);
        assert_eq!(d[56..58], 8080u16.to_be_bytes());
        assert!(checksums_ok(&d));
    }

    #[test]
    fn ttl_and_dscp() {
        let mut d = udp4(true);
        d[15] = 0x03; // ECN bits set
        d[24] = 0;
        d[25] = 0;
        let c = checksum::ipv4_header(&d[14..34]);
        d[24..26].copy_from_slice(&c.to_be_bytes());
        run(&Rewrite::set(FieldId::Ipv4Dscp, 46), &mut d);
        assert_eq!(d[15], (46 << 2) | 3);
        run(&Rewrite::DecTtl, &mut d);
        assert_eq!(d[22], 63);
        run(&Rewrite::SetTtl(1), &mut d);
        run(&Rewrite::DecTtl, &mut d);
        assert_eq!(d[22], 0);
        run(&Rewrite::DecTtl, &mut d);
        assert_eq!(d[22], 255);
        assert!(checksums_ok(&d));
        let mut d = tcp6();
        run(&Rewrite::set(FieldId::Ipv6Dscp, 10), &mut d);
        run(&Rewrite::DecTtl, &mut d);
        assert_eq!(
            (d[14] & 0x0f, d[15] >> 4, d[21]),
            (10 >> 2, (10 & 3) << 2, 63)
        );
    }

    #[test]
    fn modify_field_add_and_copy() {
        let mut d = udp4(true);
        let add = Rewrite::modify(&ModifyField {
            op: ModifyOp::Add,
            dst: ModifyData::of(FieldId::UdpPortDst),
            src: ModifySrc::value(&[0, 5]),
            width: 16,
        })
        .unwrap();
        run(&add, &mut d);
        assert_eq!(d[36..38], 2005u16.to_be_bytes());
        // Copy the low byte of the source address to the third byte of the destination MAC.
        let copy = Rewrite::modify(&ModifyField {
            op: ModifyOp::Set,
            dst: ModifyData {
                field: FieldId::MacDst,
                level: 0,
                offset: 16,
            },
            src: ModifySrc::Field(ModifyData {
                field: FieldId::Ipv4Src,
                level: 0,
                offset: 24,
            }),
            width: 8,
        })
        .unwrap();
        run(&copy, &mut d);
        assert_eq!(d[0..6], [2, 0, 1, 0, 0, 2]);
        // DPDK's example: the third byte of a MAC from the value's third byte.
        let third = Rewrite::modify(&ModifyField {
            op: ModifyOp::Set,
            dst: ModifyData {
                field: FieldId::MacSrc,
                level: 0,
                offset: 16,
            },
            src: ModifySrc::value(&[9, 9, 0x85, 9, 9, 9]),
            width: 8,
        })
        .unwrap();
        run(&third, &mut d);
        assert_eq!(d[6..12], [2, 0, 0x85, 0, 0, 1]);
        assert!(checksums_ok(&d));
    }

    #[test]
    fn modify_field_metadata() {
        let mut meta = Meta::default();
        let r = Rewrite::modify(&ModifyField {
            op: ModifyOp::Set,
            dst: ModifyData {
                field: FieldId::Tag,
                level: 3,
                offset: 16,
            },
            src: ModifySrc::Field(ModifyData::of(FieldId::UdpPortDst)),
            width: 16,
        })
        .unwrap();
        assert!(
            !Rewrite::modify(&ModifyField {
                op: ModifyOp::Set,
                dst: ModifyData::of(FieldId::Meta),
                src: ModifySrc::value(&7u32.to_ne_bytes()),
                width: 32,
            })
            .unwrap()
            .changes_bytes()
        );
        let d = udp4(true);
        apply_meta(&r, &d, &mut meta);
        assert_eq!(meta.tags[3], 2000);
        let m = Rewrite::modify(&ModifyField {
            op: ModifyOp::Add,
            dst: ModifyData::of(FieldId::Meta),
            src: ModifySrc::value(&7u32.to_ne_bytes()),
            width: 32,
        })
        .unwrap();
        apply_meta(&m, &[], &mut meta);
        apply_meta(&m, &[], &mut meta);
        assert_eq!(meta.meta, 14);
    }

    #[test]
    fn an_absent_header_is_left_alone() {
        let mut d = udp4(true);
        let before = d.clone();
        run(&Rewrite::set(FieldId::TcpPortSrc, 1), &mut d);
        run(&Rewrite::set(FieldId::Ipv6Src, 1), &mut d);
        assert_eq!(d, before);
    }

    #[test]
    fn offloaded_checksums_are_the_ports() {
        let mut d = udp4(true);
        // As an application asking for offloads leaves them: IPv4 checksum 0, the UDP field
        // holding the pseudo-header sum.
        d[24] = 0;
        d[25] = 0;
        let p = checksum::ipv4_pseudo([10, 0, 0, 1], [10, 0, 0, 2], 17, 20);
        d[40..42].copy_from_slice(&p.to_be_bytes());
        let off = Offload {
            ip: [Some(14), None],
            l4: [Some(34), None],
        };
        apply_bytes(
            &Rewrite::set(FieldId::Ipv4Src, 0x0a00_0063),
            &mut d,
            &mut Meta::default(),
            &off,
        );
        apply_bytes(
            &Rewrite::set_tp(false, 7),
            &mut d,
            &mut Meta::default(),
            &off,
        );
        assert_eq!(d[24..26], [0, 0]);
        let p = checksum::ipv4_pseudo([10, 0, 0, 99], [10, 0, 0, 2], 17, 20);
        assert_eq!(u16::from_be_bytes([d[40], d[41]]), p);
    }

    #[test]
    fn vxlan_outer_udp_checksum_follows_inner_changes() {
        let mut inner = Vec::new();
        etherparse::PacketBuilder::ethernet2([4; 6], [6; 6])
            .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 64)
            .udp(10, 20)
            .write(&mut inner, b"inner")
            .unwrap();
        let mut vx = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
        vx.extend_from_slice(&inner);
        let mut d = Vec::new();
        etherparse::PacketBuilder::ethernet2([2; 6], [8; 6])
            .ipv6([1; 16], [2; 16], 64)
            .udp(5000, 4789)
            .write(&mut d, &vx)
            .unwrap();
        assert!(checksums_ok(&d));
        // The outermost IPv4 header is the inner one here.
        run(&Rewrite::set(FieldId::Ipv4Src, 0x0909_0909), &mut d);
        let vni = Rewrite::set(FieldId::VxlanVni, 7);
        run(&vni, &mut d);
        assert_eq!(d[62 + 4..62 + 7], [0, 0, 7]);
        assert!(checksums_ok(&d));
    }

    #[test]
    fn a_first_fragments_l4_checksum_follows_the_addresses() {
        // A datagram's first fragment: MF set, offset 0; its UDP checksum covers the whole
        // datagram, so it is checked by what it changes by.
        let mut d = udp4(true);
        d[20] |= 0x20;
        let c = checksum::ipv4_header(&{
            let mut h = d[14..34].to_vec();
            h[10] = 0;
            h[11] = 0;
            h
        });
        d[24..26].copy_from_slice(&c.to_be_bytes());
        let before = u16::from_be_bytes([d[40], d[41]]);
        run(&Rewrite::set(FieldId::Ipv4Src, 0x0a00_0002), &mut d);
        // 10.0.0.1 -> 10.0.0.2 adds 1 to the pseudo-header sum: the checksum loses 1.
        assert_eq!(u16::from_be_bytes([d[40], d[41]]), before.wrapping_sub(1));
        assert_eq!(sum(&d[14..34]), 0xffff);
    }

    proptest! {
        #[test]
        fn incremental_updates_equal_recomputation(src in any::<u32>(), dst in any::<u32>(),
                sp in any::<u16>(), dp in any::<u16>(), ttl in any::<u8>(), dscp in 0u8..64,
                payload in prop::collection::vec(any::<u8>(), 0..40)) {
            let mut d = Vec::new();
            etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .tcp(1, 2, 3, 4)
                .write(&mut d, &payload)
                .unwrap();
            for r in [
                Rewrite::set(FieldId::Ipv4Src, src as u128),
                Rewrite::set(FieldId::Ipv4Dst, dst as u128),
                Rewrite::set_tp(false, sp),
                Rewrite::set_tp(true, dp),
                Rewrite::SetTtl(ttl),
                Rewrite::set(FieldId::Ipv4Dscp, dscp as u128),
            ] {
                run(&r, &mut d);
            }
            let mut e = Vec::new();
            etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
                .ipv4(src.to_be_bytes(), dst.to_be_bytes(), ttl)
                .tcp(sp, dp, 3, 4)
                .write(&mut e, &payload)
                .unwrap();
            e[15] = dscp << 2;
            e[24] = 0;
            e[25] = 0;
            let c = checksum::ipv4_header(&e[14..34]);
            e[24..26].copy_from_slice(&c.to_be_bytes());
            prop_assert!(checksums_ok(&d));
            prop_assert_eq!(d, e);
        }
    }
}
