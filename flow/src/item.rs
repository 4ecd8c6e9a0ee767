//! Pattern items: their types, the header bytes they match, their fields (with testpmd's names)
//! and DPDK's default masks.
//!
//! An item's spec, last and mask are byte strings laid out as the header they match, in network
//! order (the layout of DPDK's `struct rte_flow_item_*`, without its padding). Items that match
//! metadata rather than a header (MARK, META, TAG, PORT_ID, REPRESENTED_PORT, ANY) use the same
//! form over their configuration structure. RAW's block is its fixed part (`relative`,
//! `search`, `offset`, `limit`: 8 bytes) followed by the pattern.

use std::fmt;

/// The type of a pattern item (DPDK's `RTE_FLOW_ITEM_TYPE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ItemType {
    /// End of the pattern (implicit at the end of [`crate::FlowRule::pattern`]).
    End,
    /// Ignored.
    Void,
    /// The rule matches packets that do not match the rest of the pattern.
    Invert,
    /// Any protocol layers: `num` of them, or any number when `num` is masked out.
    Any,
    /// Ethernet.
    Eth,
    /// An 802.1Q tag.
    Vlan,
    /// IPv4.
    Ipv4,
    /// IPv6.
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
    /// VXLAN (UDP port 4789).
    Vxlan,
    /// GRE.
    Gre,
    /// NVGRE (GRE carrying Ethernet).
    Nvgre,
    /// An MPLS label.
    Mpls,
    /// GENEVE (UDP port 6081).
    Geneve,
    /// Bytes at an offset, or searched for.
    Raw,
    /// The mark a rule of an earlier group set.
    Mark,
    /// The packet's metadata.
    Meta,
    /// A tag set by an earlier rule.
    Tag,
    /// The port the packet came in on (deprecated in DPDK for REPRESENTED_PORT).
    PortId,
    /// The port the packet came in on.
    RepresentedPort,
}

/// How a field's value is written in testpmd's syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An unsigned integer: decimal, `0x` hex or `0` octal.
    Uint,
    /// A signed integer.
    Int,
    /// `0`/`1`, `true`/`false`, `on`/`off`, `yes`/`no`.
    Bool,
    /// A MAC address, either case.
    Mac,
    /// A dotted IPv4 address, or an integer.
    Ipv4,
    /// An IPv6 address.
    Ipv6,
    /// RAW's pattern as a string (`pattern`) or as hex (`pattern_hex`).
    Pattern,
    /// RAW's pattern in hex.
    PatternHex,
}

/// One field of an item: `len` bytes at `off` of the item's block, the bits of `bits` in them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Field {
    pub name: &'static str,
    pub off: usize,
    pub len: usize,
    /// The field's bits within the `len` bytes (big-endian); all ones for a whole field.
    pub bits: u128,
    pub kind: Kind,
    /// Whether the printer uses this field (the fields it prints cover every settable bit once).
    pub print: bool,
}

const fn f(name: &'static str, off: usize, len: usize, kind: Kind) -> Field {
    Field {
        name,
        off,
        len,
        bits: if len >= 16 {
            u128::MAX
        } else {
            (1u128 << (8 * len)) - 1
        },
        kind,
        print: true,
    }
}

const fn bits(name: &'static str, off: usize, len: usize, bits: u128) -> Field {
    Field {
        name,
        off,
        len,
        bits,
        kind: Kind::Uint,
        print: true,
    }
}

const fn hidden(mut fl: Field) -> Field {
    fl.print = false;
    fl
}

/// What the engine knows of an item type.
pub(crate) struct Info {
    /// testpmd's token.
    pub token: &'static str,
    /// DPDK's name (`rte_flow_conv`'s), as `flow list` prints it.
    pub name: &'static str,
    /// The block's length (RAW: its fixed part).
    pub len: usize,
    /// DPDK's default mask.
    pub default_mask: &'static [u8],
    pub fields: &'static [Field],
}

use Kind::*;

const FF: u8 = 0xff;

const ETH_FIELDS: [Field; 3] = [
    f("dst", 0, 6, Mac),
    f("src", 6, 6, Mac),
    f("type", 12, 2, Uint),
];
const VLAN_FIELDS: [Field; 5] = [
    hidden(f("tci", 0, 2, Uint)),
    bits("pcp", 0, 2, 0xe000),
    bits("dei", 0, 2, 0x1000),
    bits("vid", 0, 2, 0x0fff),
    f("inner_type", 2, 2, Uint),
];
const IPV4_FIELDS: [Field; 8] = [
    f("version_ihl", 0, 1, Uint),
    f("tos", 1, 1, Uint),
    f("packet_id", 4, 2, Uint),
    f("fragment_offset", 6, 2, Uint),
    f("ttl", 8, 1, Uint),
    f("proto", 9, 1, Uint),
    f("src", 12, 4, Ipv4),
    f("dst", 16, 4, Ipv4),
];
const IPV6_FIELDS: [Field; 6] = [
    bits("tc", 0, 4, 0x0ff0_0000),
    bits("flow", 0, 4, 0x000f_ffff),
    f("proto", 6, 1, Uint),
    f("hop", 7, 1, Uint),
    f("src", 8, 16, Ipv6),
    f("dst", 24, 16, Ipv6),
];
const ICMP_FIELDS: [Field; 4] = [
    f("type", 0, 1, Uint),
    f("code", 1, 1, Uint),
    f("ident", 4, 2, Uint),
    f("seq", 6, 2, Uint),
];
const ICMP6_FIELDS: [Field; 2] = [f("type", 0, 1, Uint), f("code", 1, 1, Uint)];
const PORTS_FIELDS: [Field; 2] = [f("src", 0, 2, Uint), f("dst", 2, 2, Uint)];
const TCP_FIELDS: [Field; 3] = [
    f("src", 0, 2, Uint),
    f("dst", 2, 2, Uint),
    f("flags", 13, 1, Uint),
];
const SCTP_FIELDS: [Field; 4] = [
    f("src", 0, 2, Uint),
    f("dst", 2, 2, Uint),
    f("tag", 4, 4, Uint),
    f("cksum", 8, 4, Uint),
];
const VXLAN_FIELDS: [Field; 2] = [f("vni", 4, 3, Uint), f("last_rsvd", 7, 1, Uint)];
const NVGRE_FIELDS: [Field; 1] = [f("tni", 4, 3, Uint)];
const MPLS_FIELDS: [Field; 3] = [
    bits("label", 0, 3, 0xff_fff0),
    bits("tc", 0, 3, 0x00_000e),
    bits("s", 0, 3, 0x00_0001),
];
const GRE_FIELDS: [Field; 5] = [
    f("c_rsvd0_ver", 0, 2, Uint),
    hidden(bits("c_bit", 0, 2, 0x8000)),
    hidden(bits("s_bit", 0, 2, 0x1000)),
    hidden(bits("k_bit", 0, 2, 0x2000)),
    f("protocol", 2, 2, Uint),
];
const GENEVE_FIELDS: [Field; 3] = [
    f("vni", 4, 3, Uint),
    f("protocol", 2, 2, Uint),
    bits("optlen", 0, 2, 0x3f00),
];
const RAW_FIELDS: [Field; 6] = [
    Field {
        bits: 1,
        ..f("relative", 0, 1, Bool)
    },
    Field {
        bits: 1,
        ..f("search", 1, 1, Bool)
    },
    f("offset", 2, 4, Int),
    f("limit", 6, 2, Uint),
    f("pattern", 8, 0, Pattern),
    hidden(f("pattern_hex", 8, 0, PatternHex)),
];
const ID_FIELDS: [Field; 1] = [f("id", 0, 4, Uint)];
const META_FIELDS: [Field; 1] = [f("data", 0, 4, Uint)];
const TAG_FIELDS: [Field; 2] = [f("data", 0, 4, Uint), f("index", 4, 1, Uint)];
const REPR_FIELDS: [Field; 1] = [f("ethdev_port_id", 0, 2, Uint)];
const ANY_FIELDS: [Field; 1] = [f("num", 0, 4, Uint)];

const NO_MASK: [u8; 0] = [];

macro_rules! info {
    ($token:literal, $name:literal, $len:expr, $mask:expr, $fields:expr) => {
        &Info {
            token: $token,
            name: $name,
            len: $len,
            default_mask: $mask,
            fields: $fields,
        }
    };
}

impl ItemType {
    /// Every item type, in testpmd's order.
    pub const ALL: [ItemType; 24] = [
        ItemType::End,
        ItemType::Void,
        ItemType::Invert,
        ItemType::Any,
        ItemType::PortId,
        ItemType::Mark,
        ItemType::Raw,
        ItemType::Eth,
        ItemType::Vlan,
        ItemType::Ipv4,
        ItemType::Ipv6,
        ItemType::Icmp,
        ItemType::Udp,
        ItemType::Tcp,
        ItemType::Sctp,
        ItemType::Vxlan,
        ItemType::Nvgre,
        ItemType::Mpls,
        ItemType::Gre,
        ItemType::Geneve,
        ItemType::Icmp6,
        ItemType::Meta,
        ItemType::Tag,
        ItemType::RepresentedPort,
    ];

    pub(crate) fn info(self) -> &'static Info {
        match self {
            ItemType::End => info!("end", "END", 0, &NO_MASK, &[]),
            ItemType::Void => info!("void", "VOID", 0, &NO_MASK, &[]),
            ItemType::Invert => info!("invert", "INVERT", 0, &NO_MASK, &[]),
            ItemType::Any => info!("any", "ANY", 4, &[0; 4], &ANY_FIELDS),
            ItemType::Eth => info!(
                "eth",
                "ETH",
                14,
                &[FF, FF, FF, FF, FF, FF, FF, FF, FF, FF, FF, FF, 0, 0],
                &ETH_FIELDS
            ),
            ItemType::Vlan => info!("vlan", "VLAN", 4, &[0x0f, FF, 0, 0], &VLAN_FIELDS),
            ItemType::Ipv4 => info!(
                "ipv4",
                "IPV4",
                20,
                &[
                    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, FF, FF, FF, FF, FF, FF, FF, FF
                ],
                &IPV4_FIELDS
            ),
            ItemType::Ipv6 => info!(
                "ipv6",
                "IPV6",
                40,
                &[
                    0, 0, 0, 0, 0, 0, 0, 0, FF, FF, FF, FF, FF, FF, FF, FF, FF, FF, FF, FF, FF, FF,
                    FF, FF, FF, FF, FF, FF, FF, FF, FF, FF, FF, FF, FF, FF, FF, FF, FF, FF
                ],
                &IPV6_FIELDS
            ),
            ItemType::Icmp => info!("icmp", "ICMP", 8, &[FF, FF, 0, 0, 0, 0, 0, 0], &ICMP_FIELDS),
            ItemType::Icmp6 => info!("icmp6", "ICMP6", 4, &[FF, FF, 0, 0], &ICMP6_FIELDS),
            ItemType::Udp => info!(
                "udp",
                "UDP",
                8,
                &[FF, FF, FF, FF, 0, 0, 0, 0],
                &PORTS_FIELDS
            ),
            ItemType::Tcp => info!(
                "tcp",
                "TCP",
                20,
                &[
                    FF, FF, FF, FF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
                ],
                &TCP_FIELDS
            ),
            ItemType::Sctp => info!(
                "sctp",
                "SCTP",
                12,
                &[FF, FF, FF, FF, 0, 0, 0, 0, 0, 0, 0, 0],
                &SCTP_FIELDS
            ),
            ItemType::Vxlan => info!(
                "vxlan",
                "VXLAN",
                8,
                &[0, 0, 0, 0, FF, FF, FF, 0],
                &VXLAN_FIELDS
            ),
            ItemType::Nvgre => info!(
                "nvgre",
                "NVGRE",
                8,
                &[0, 0, 0, 0, FF, FF, FF, 0],
                &NVGRE_FIELDS
            ),
            ItemType::Mpls => info!("mpls", "MPLS", 4, &[FF, FF, 0xf0, 0], &MPLS_FIELDS),
            ItemType::Gre => info!("gre", "GRE", 4, &[0, 0, FF, FF], &GRE_FIELDS),
            ItemType::Geneve => info!(
                "geneve",
                "GENEVE",
                8,
                &[0, 0, 0, 0, FF, FF, FF, 0],
                &GENEVE_FIELDS
            ),
            ItemType::Raw => info!(
                "raw",
                "RAW",
                8,
                &[1, 1, FF, FF, FF, FF, FF, FF],
                &RAW_FIELDS
            ),
            ItemType::Mark => info!("mark", "MARK", 4, &[FF; 4], &ID_FIELDS),
            ItemType::Meta => info!("meta", "META", 4, &[FF; 4], &META_FIELDS),
            ItemType::Tag => info!("tag", "TAG", 5, &[FF; 5], &TAG_FIELDS),
            ItemType::PortId => info!("port_id", "PORT_ID", 4, &[FF; 4], &ID_FIELDS),
            ItemType::RepresentedPort => info!(
                "represented_port",
                "REPRESENTED_PORT", 2, &[FF; 2], &REPR_FIELDS
            ),
        }
    }

    /// DPDK's name of the type (`ETH`, `IPV4`, ...), as `flow list` prints it.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// testpmd's token for the type (`eth`, `ipv4`, ...).
    pub fn token(self) -> &'static str {
        self.info().token
    }

    /// The type of a testpmd token.
    pub fn from_token(token: &str) -> Option<ItemType> {
        ItemType::ALL.into_iter().find(|t| t.token() == token)
    }

    /// The length of the item's spec, last and mask (RAW: without its pattern).
    pub fn spec_len(self) -> usize {
        self.info().len
    }

    /// DPDK's default mask (`rte_flow_item_*_mask`); RAW's covers the fixed part only, the
    /// pattern's default mask being all ones.
    pub fn default_mask(self) -> &'static [u8] {
        self.info().default_mask
    }

    /// The header item types, matched against a protocol layer of the packet.
    pub fn is_header(self) -> bool {
        matches!(
            self,
            ItemType::Eth
                | ItemType::Vlan
                | ItemType::Ipv4
                | ItemType::Ipv6
                | ItemType::Icmp
                | ItemType::Icmp6
                | ItemType::Udp
                | ItemType::Tcp
                | ItemType::Sctp
                | ItemType::Vxlan
                | ItemType::Gre
                | ItemType::Nvgre
                | ItemType::Mpls
                | ItemType::Geneve
        )
    }

    pub(crate) fn field(self, name: &str) -> Option<&'static Field> {
        self.info().fields.iter().find(|f| f.name == name)
    }
}

impl fmt::Display for ItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One pattern item: a type and, optionally, spec, last and mask (DPDK's `struct
/// rte_flow_item`). Without a mask, DPDK's default mask of the type applies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Item {
    /// The item's type.
    pub ty: ItemType,
    /// The values to match, as the header's bytes.
    pub spec: Option<Vec<u8>>,
    /// The upper end of ranges; ignored where zero or equal to spec.
    pub last: Option<Vec<u8>>,
    /// The bits that take part; DPDK's default mask when `None`.
    pub mask: Option<Vec<u8>>,
}

impl Item {
    /// An item of this type that matches any such layer.
    pub fn new(ty: ItemType) -> Item {
        Item {
            ty,
            spec: None,
            last: None,
            mask: None,
        }
    }

    /// The mask in force: the given one, or the default (RAW: over its pattern too).
    pub fn effective_mask(&self) -> Vec<u8> {
        match (&self.mask, &self.spec) {
            (Some(m), _) => m.clone(),
            (None, Some(s)) if self.ty == ItemType::Raw => {
                let mut m = self.ty.default_mask().to_vec();
                m.resize(s.len().max(m.len()), 0xff);
                m
            }
            (None, _) => self.ty.default_mask().to_vec(),
        }
    }
}

/// Reads `fl` from a block as an integer (bits shifted down); out-of-block bytes read 0.
pub(crate) fn get_field(block: &[u8], fl: &Field) -> u128 {
    let mut v = 0u128;
    for i in 0..fl.len {
        v = (v << 8) | block.get(fl.off + i).copied().unwrap_or(0) as u128;
    }
    (v & fl.bits) >> fl.bits.trailing_zeros()
}

/// Writes `value` into `fl` of a block (which must be long enough), leaving other bits.
pub(crate) fn set_field(block: &mut [u8], fl: &Field, value: u128) {
    let shift = fl.bits.trailing_zeros();
    let mut cur = 0u128;
    for i in 0..fl.len {
        cur = (cur << 8) | block[fl.off + i] as u128;
    }
    let v = (cur & !fl.bits) | ((value << shift) & fl.bits);
    for i in 0..fl.len {
        block[fl.off + i] = (v >> (8 * (fl.len - 1 - i))) as u8;
    }
}

/// The largest value a field holds.
pub(crate) fn field_max(fl: &Field) -> u128 {
    fl.bits >> fl.bits.trailing_zeros()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_masks_have_the_block_length() {
        for t in ItemType::ALL {
            let i = t.info();
            assert_eq!(i.default_mask.len(), i.len, "{t}");
            for fl in i.fields {
                assert!(fl.off + fl.len <= i.len || fl.len == 0, "{t} {}", fl.name);
            }
            assert_eq!(ItemType::from_token(i.token), Some(t));
        }
    }

    #[test]
    fn bit_fields_round_trip() {
        let mut b = [0u8; 4];
        let vid = ItemType::Vlan.field("vid").unwrap();
        let pcp = ItemType::Vlan.field("pcp").unwrap();
        set_field(&mut b, vid, 0x123);
        set_field(&mut b, pcp, 5);
        assert_eq!(b, [0xa1, 0x23, 0, 0]);
        assert_eq!(get_field(&b, vid), 0x123);
        assert_eq!(get_field(&b, pcp), 5);
        assert_eq!(field_max(pcp), 7);
        let label = ItemType::Mpls.field("label").unwrap();
        set_field(&mut b, label, 0xfffff);
        assert_eq!(&b[..3], &[0xff, 0xff, 0xf0]);
    }
}
