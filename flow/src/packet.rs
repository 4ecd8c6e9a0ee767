//! A packet seen as the stack of protocol layers the pattern items match, found by
//! rpdk-mbuf's parser (`get_ptype`), and the metadata the non-header items match.

use crate::item::ItemType;
use rpdk_mbuf::PacketType as P;
use rpdk_mbuf::net::{ether_type, get_ptype, ip_proto, udp_tunnel_port};

/// The most layers the engine looks at (outer Ethernet to inner L4 with two tags each side is
/// 11; MPLS stacks take the rest).
pub const MAX_LAYERS: usize = 16;

/// A protocol layer of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// Ethernet.
    Eth,
    /// An 802.1Q / 802.1ad tag.
    Vlan,
    /// An MPLS label.
    Mpls,
    /// IPv4.
    Ipv4,
    /// IPv6 (with its extension headers).
    Ipv6,
    /// ICMP.
    Icmp,
    /// ICMPv6.
    Icmp6,
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// SCTP.
    Sctp,
    /// VXLAN.
    Vxlan,
    /// GRE carrying IP.
    Gre,
    /// GRE carrying Ethernet.
    Nvgre,
    /// GENEVE.
    Geneve,
}

impl Layer {
    /// Whether an item of type `ty` matches this layer (GRE also matches NVGRE's GRE header).
    pub fn matches(self, ty: ItemType) -> bool {
        matches!(
            (self, ty),
            (Layer::Eth, ItemType::Eth)
                | (Layer::Vlan, ItemType::Vlan)
                | (Layer::Mpls, ItemType::Mpls)
                | (Layer::Ipv4, ItemType::Ipv4)
                | (Layer::Ipv6, ItemType::Ipv6)
                | (Layer::Icmp, ItemType::Icmp)
                | (Layer::Icmp6, ItemType::Icmp6)
                | (Layer::Udp, ItemType::Udp)
                | (Layer::Tcp, ItemType::Tcp)
                | (Layer::Sctp, ItemType::Sctp)
                | (Layer::Vxlan, ItemType::Vxlan)
                | (Layer::Gre, ItemType::Gre)
                | (Layer::Nvgre, ItemType::Gre)
                | (Layer::Nvgre, ItemType::Nvgre)
                | (Layer::Geneve, ItemType::Geneve)
        )
    }

    fn is_tunnel(self) -> bool {
        matches!(
            self,
            Layer::Vxlan | Layer::Gre | Layer::Nvgre | Layer::Geneve
        )
    }
}

/// What the non-header items match: where the packet came from and what earlier rules set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    /// The input port (`mbuf.port`), for PORT_ID and REPRESENTED_PORT items.
    pub port: u16,
    /// The mark an earlier group's rule set, for the MARK item.
    pub mark: Option<u32>,
    /// The packet's metadata, for the META item (0 unless set).
    pub meta: u32,
    /// Tags 0..8, for the TAG item (0 unless set).
    pub tags: [u32; MAX_TAGS],
}

/// How many tags a packet carries (TAG item, SET_TAG action).
pub const MAX_TAGS: usize = 8;

/// A packet's layers: what each is and where it starts, in order from the outermost.
#[derive(Clone, Copy, Debug)]
pub struct Layers<'a> {
    /// The packet's bytes (the first segment).
    pub data: &'a [u8],
    n: usize,
    kind: [Layer; MAX_LAYERS],
    off: [u16; MAX_LAYERS],
    end: [u16; MAX_LAYERS],
    /// Index of the first tunnel layer (`n` without one).
    pub(crate) outer_end: usize,
}

impl<'a> Layers<'a> {
    /// Parses `data` with rpdk-mbuf's `get_ptype`. A layer is listed only when the whole of the
    /// header an item matches lies within the data, so matching never reads past it.
    pub fn parse(data: &'a [u8]) -> Layers<'a> {
        let mut l = Layers {
            data,
            n: 0,
            kind: [Layer::Eth; MAX_LAYERS],
            off: [0; MAX_LAYERS],
            end: [0; MAX_LAYERS],
            outer_end: 0,
        };
        l.fill();
        l.outer_end = (0..l.n).find(|&i| l.kind[i].is_tunnel()).unwrap_or(l.n);
        l
    }

    /// How many layers there are.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether no layer was found (shorter than an Ethernet header).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Layer `i`.
    #[inline(always)]
    pub fn kind(&self, i: usize) -> Layer {
        self.kind[i]
    }

    /// Where layer `i` starts.
    #[inline(always)]
    pub fn offset(&self, i: usize) -> usize {
        self.off[i] as usize
    }

    /// Where layer `i` ends (its header, options and extensions included).
    #[inline(always)]
    pub fn end(&self, i: usize) -> usize {
        self.end[i] as usize
    }

    /// The bytes of layer `i` to the end of the packet.
    #[inline(always)]
    pub fn header(&self, i: usize) -> &'a [u8] {
        &self.data[self.off[i] as usize..]
    }

    fn push(&mut self, kind: Layer, off: usize, len: usize, need: usize) -> bool {
        if self.n == MAX_LAYERS
            || off + need.max(len) > self.data.len()
            || off + len > u16::MAX as usize
        {
            return false;
        }
        self.kind[self.n] = kind;
        self.off[self.n] = off as u16;
        self.end[self.n] = (off + len) as u16;
        self.n += 1;
        true
    }

    /// The layers of an untagged Ethernet frame carrying IPv4 without options, not a
    /// fragment, and TCP, or UDP on ports no tunnel uses: what [`fill`](Self::fill) finds for
    /// such a frame (the usual one), without the general parser. `false`, with nothing
    /// pushed, for any other frame.
    #[inline(always)]
    fn fill_ipv4_l4(&mut self) -> bool {
        let d = self.data;
        let Some(ip) = d.get(14..34) else {
            return false;
        };
        if d[12..14] != ether_type::IPV4.to_be_bytes()
            || ip[0] != 0x45
            || (ip[6] & 0x3f) | ip[7] != 0
        {
            return false;
        }
        let (l4, len) = match ip[9] {
            // TCP: its data offset, at least the fixed header.
            ip_proto::TCP => match d.get(34..54) {
                Some(th) if th[12] >> 4 >= 5 => (Layer::Tcp, (th[12] >> 4) as usize * 4),
                _ => return false,
            },
            ip_proto::UDP => match d.get(34..42) {
                Some(uh) => {
                    let port = |i: usize| u16::from_be_bytes([uh[i], uh[i + 1]]);
                    if udp_tunnel_port(port(0), port(2)) {
                        return false;
                    }
                    (Layer::Udp, 8)
                }
                None => return false,
            },
            _ => return false,
        };
        if 34 + len > d.len() {
            return false;
        }
        // What three `push`es would record (each header lies within the data, checked above).
        self.kind[..3].copy_from_slice(&[Layer::Eth, Layer::Ipv4, l4]);
        self.off[..3].copy_from_slice(&[0, 14, 34]);
        self.end[..3].copy_from_slice(&[14, 34, 34 + len as u16]);
        self.n = 3;
        true
    }

    fn fill(&mut self) {
        if !self.fill_ipv4_l4() {
            self.fill_general();
        }
    }

    /// The layers as rpdk-mbuf's parser finds them, for every kind of frame.
    fn fill_general(&mut self) {
        let (pt, h) = get_ptype(self.data, P::ALL_MASK);
        if pt.l2() == P::UNKNOWN || !self.push(Layer::Eth, 0, 14, 14) {
            return;
        }
        let mut off = 14;
        match pt.l2() {
            P::L2_ETHER_VLAN => {
                self.push(Layer::Vlan, 14, 4, 4);
                off = 18;
            }
            P::L2_ETHER_QINQ => {
                self.push(Layer::Vlan, 14, 4, 4);
                self.push(Layer::Vlan, 18, 4, 4);
                off = 22;
            }
            P::L2_ETHER_MPLS => {
                while off < h.l2_len as usize {
                    if !self.push(Layer::Mpls, off, 4, 4) {
                        return;
                    }
                    off += 4;
                }
                return;
            }
            P::L2_ETHER => {}
            _ => return,
        }
        let l3 = if pt.is_ipv4() {
            Layer::Ipv4
        } else if pt.is_ipv6() {
            Layer::Ipv6
        } else {
            return;
        };
        let need = if l3 == Layer::Ipv4 { 20 } else { 40 };
        if !self.push(l3, off, h.l3_len as usize, need) {
            return;
        }
        let l4off = off + h.l3_len as usize;
        let l4 = match pt.l4() {
            P::L4_TCP => (Layer::Tcp, 20),
            P::L4_UDP => (Layer::Udp, 8),
            P::L4_SCTP => (Layer::Sctp, 12),
            P::L4_ICMP if l3 == Layer::Ipv4 => (Layer::Icmp, 8),
            P::L4_ICMP => (Layer::Icmp6, 4),
            _ => {
                // IP-level tunnels have no L4 layer.
                self.tunnel(pt, &h, l4off);
                return;
            }
        };
        let len = if h.l4_len == 0 {
            l4.1
        } else {
            h.l4_len as usize
        };
        if !self.push(l4.0, l4off, len, l4.1) {
            return;
        }
        self.tunnel(pt, &h, l4off);
    }

    /// The tunnel header and the inner layers; `l4off` is where the outer L4 (or, for IP-level
    /// tunnels, the tunnel header) starts.
    fn tunnel(&mut self, pt: P, h: &rpdk_mbuf::net::HdrLens, l4off: usize) {
        let (inner_at, inner_eth) = match pt.tunnel() {
            P::TUNNEL_VXLAN => {
                if !self.push(Layer::Vxlan, l4off + 8, 8, 8) {
                    return;
                }
                (l4off + 16, true)
            }
            P::TUNNEL_GENEVE => {
                let at = l4off + 8;
                let Some(&b0) = self.data.get(at) else { return };
                let len = 8 + (b0 & 0x3f) as usize * 4;
                if !self.push(Layer::Geneve, at, len, 8) {
                    return;
                }
                (at + len, pt.inner_l2() != P::UNKNOWN)
            }
            P::TUNNEL_GRE | P::TUNNEL_NVGRE => {
                let kind = if pt.tunnel() == P::TUNNEL_GRE {
                    Layer::Gre
                } else {
                    Layer::Nvgre
                };
                let need = if kind == Layer::Nvgre { 8 } else { 4 };
                if !self.push(kind, l4off, h.tunnel_len as usize, need) {
                    return;
                }
                (l4off + h.tunnel_len as usize, kind == Layer::Nvgre)
            }
            P::TUNNEL_IP => (l4off, false),
            _ => return,
        };
        let mut off = inner_at;
        if inner_eth {
            if pt.inner_l2() == P::UNKNOWN || !self.push(Layer::Eth, off, 14, 14) {
                return;
            }
            off += 14;
            let tags = match pt.inner_l2() {
                P::INNER_L2_ETHER_VLAN => 1,
                P::INNER_L2_ETHER_QINQ => 2,
                _ => 0,
            };
            for _ in 0..tags {
                if !self.push(Layer::Vlan, off, 4, 4) {
                    return;
                }
                off += 4;
            }
        }
        let l3 = match pt.inner_l3().0 >> 20 {
            1 | 2 | 4 => Layer::Ipv4,
            3 | 5 | 6 => Layer::Ipv6,
            _ => return,
        };
        let need = if l3 == Layer::Ipv4 { 20 } else { 40 };
        if !self.push(l3, off, h.inner_l3_len as usize, need) {
            return;
        }
        let l4off = off + h.inner_l3_len as usize;
        let l4 = match pt.inner_l4() {
            P::INNER_L4_TCP => (Layer::Tcp, 20),
            P::INNER_L4_UDP => (Layer::Udp, 8),
            P::INNER_L4_SCTP => (Layer::Sctp, 12),
            P::INNER_L4_ICMP if l3 == Layer::Ipv4 => (Layer::Icmp, 8),
            P::INNER_L4_ICMP => (Layer::Icmp6, 4),
            _ => return,
        };
        let len = if h.inner_l4_len == 0 {
            l4.1
        } else {
            h.inner_l4_len as usize
        };
        self.push(l4.0, l4off, len, l4.1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(b: etherparse::PacketBuilderStep<etherparse::UdpHeader>, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    /// The layers of `data` through the general parser alone.
    fn general(data: &[u8]) -> Layers<'_> {
        let mut l = Layers::parse(&[]);
        l.data = data;
        l.fill_general();
        l.outer_end = (0..l.n).find(|&i| l.kind[i].is_tunnel()).unwrap_or(l.n);
        l
    }

    proptest::proptest! {
        /// The fast path for Ethernet/IPv4/TCP or UDP finds what the general parser finds, on
        /// such frames with random ports (tunnel ones among them), protocols, header bytes
        /// (version, IHL, fragment bits, TCP data offset) and truncations.
        #[test]
        fn fast_path_as_the_general_parser(
            tcp in proptest::bool::ANY,
            ports in (0usize..7, 0usize..7, proptest::num::u16::ANY),
            pokes in proptest::collection::vec((12usize..60, proptest::num::u8::ANY), 0..3),
            cut in 0usize..80,
        ) {
            let special = [53, 2123, 2152, 4789, 4790, 6081, ports.2];
            let (sp, dp) = (special[ports.0], special[ports.1]);
            let b = etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64);
            let mut v = Vec::new();
            if tcp {
                b.tcp(sp, dp, 1, 100).write(&mut v, &[7; 24]).unwrap();
            } else {
                b.udp(sp, dp).write(&mut v, &[7; 24]).unwrap();
            }
            for &(at, x) in &pokes {
                if at < v.len() {
                    v[at] = x;
                }
            }
            v.truncate(cut.max(1));
            let (a, g) = (Layers::parse(&v), general(&v));
            proptest::prop_assert_eq!(a.n, g.n);
            proptest::prop_assert_eq!(&a.kind[..a.n], &g.kind[..g.n]);
            proptest::prop_assert_eq!(&a.off[..a.n], &g.off[..g.n]);
            proptest::prop_assert_eq!(&a.end[..a.n], &g.end[..g.n]);
            proptest::prop_assert_eq!(a.outer_end, g.outer_end);
        }
    }

    #[test]
    fn vxlan_layers() {
        let mut inner = Vec::new();
        etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 64)
            .tcp(10, 20, 0, 100)
            .write(&mut inner, &[])
            .unwrap();
        let mut vx = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
        vx.extend_from_slice(&inner);
        let pkt = frame(
            etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
                .single_vlan(7.try_into().unwrap())
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .udp(5000, 4789),
            &vx,
        );
        let l = Layers::parse(&pkt);
        let kinds: Vec<Layer> = (0..l.len()).map(|i| l.kind(i)).collect();
        use Layer::*;
        assert_eq!(kinds, [Eth, Vlan, Ipv4, Udp, Vxlan, Eth, Ipv4, Tcp]);
        assert_eq!(l.offset(4), 14 + 4 + 20 + 8);
        assert_eq!(l.outer_end, 4);
        assert_eq!(l.header(7)[..4], [0, 10, 0, 20]);
    }

    #[test]
    fn short_frames_have_no_layers_past_the_data() {
        let l = Layers::parse(&[0u8; 10]);
        assert!(l.is_empty());
        let mut icmp = vec![0u8; 14 + 20 + 4];
        icmp[12] = 0x08;
        icmp[14] = 0x45;
        icmp[16..18].copy_from_slice(&24u16.to_be_bytes());
        icmp[23] = 1;
        let l = Layers::parse(&icmp);
        assert_eq!(l.len(), 2, "a 4-byte ICMP header is no ICMP layer");
    }
}
