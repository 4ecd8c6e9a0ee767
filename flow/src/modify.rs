//! MODIFY_FIELD's configuration (`struct rte_flow_action_modify_field`): which field of the
//! packet (or of its metadata) changes, how, and from what.
//!
//! ```
//! use rpdk_flow::{Action, FieldId, ModifyData, ModifyField, ModifyOp, ModifySrc};
//!
//! // TTL -= 3: `modify_field op sub dst_type ipv4_ttl src_type value src_value 03 width 8`.
//! let a = Action::ModifyField(ModifyField {
//!     op: ModifyOp::Sub,
//!     dst: ModifyData::of(FieldId::Ipv4Ttl),
//!     src: ModifySrc::value(&[3]),
//!     width: 8,
//! });
//! assert_eq!(a.name(), "MODIFY_FIELD");
//! ```
//!
//! Fields are bit strings, most significant bit first: `offset` skips bits from the field's
//! start, `width` bits are taken. An immediate value (`ModifySrc::Value`, or the bytes a
//! `ModifySrc::Pointer` pointed at when the rule was made) holds the whole destination field as
//! the flow item has it: addresses and ports in network order; the small fields (DSCP, ECN,
//! VLAN id, TCP flags, VNIs) as big-endian numbers in as many bytes as they need (DSCP 46 is
//! `2e`, VLAN id 100 is `0064`); MARK, META and TAG as a `u32` in host order, as
//! `rte_flow_item_meta` holds it. Its bits at the destination's offset are used (DPDK's
//! "the immediate source bitfield offset is inherited from the destination's one").

use std::fmt;

/// A field MODIFY_FIELD can name (`enum rte_flow_field_id`, without `POINTER` and `VALUE`,
/// which are [`ModifySrc`]s).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldId {
    /// The start of the packet (not supported by the software engine).
    Start,
    /// Destination MAC address.
    MacDst,
    /// Source MAC address.
    MacSrc,
    /// The 802.1Q tag identifier (TPID; not supported).
    VlanType,
    /// The VLAN id of the outermost tag.
    VlanId,
    /// The EtherType (not supported).
    MacType,
    /// IPv4 DSCP.
    Ipv4Dscp,
    /// IPv4 TTL.
    Ipv4Ttl,
    /// IPv4 source address.
    Ipv4Src,
    /// IPv4 destination address.
    Ipv4Dst,
    /// IPv6 DSCP.
    Ipv6Dscp,
    /// IPv6 hop limit.
    Ipv6Hoplimit,
    /// IPv6 source address.
    Ipv6Src,
    /// IPv6 destination address.
    Ipv6Dst,
    /// TCP source port.
    TcpPortSrc,
    /// TCP destination port.
    TcpPortDst,
    /// TCP sequence number.
    TcpSeqNum,
    /// TCP acknowledgment number.
    TcpAckNum,
    /// TCP flags (9 bits, NS to FIN).
    TcpFlags,
    /// UDP source port.
    UdpPortSrc,
    /// UDP destination port.
    UdpPortDst,
    /// VXLAN network identifier.
    VxlanVni,
    /// GENEVE network identifier.
    GeneveVni,
    /// GTP TEID (not supported).
    GtpTeid,
    /// A tag (`level` is the index, 0 to 7).
    Tag,
    /// The mark (a source only).
    Mark,
    /// The metadata.
    Meta,
    /// IPv4 ECN.
    Ipv4Ecn,
    /// IPv6 ECN.
    Ipv6Ecn,
    /// GTP QFI (not supported).
    GtpPscQfi,
    /// The meter colour (not supported).
    MeterColor,
}

/// testpmd's names of the fields, in `enum rte_flow_field_id`'s order (`pointer` and `value`
/// are the sources).
const NAMES: [(FieldId, &str); 31] = [
    (FieldId::Start, "start"),
    (FieldId::MacDst, "mac_dst"),
    (FieldId::MacSrc, "mac_src"),
    (FieldId::VlanType, "vlan_type"),
    (FieldId::VlanId, "vlan_id"),
    (FieldId::MacType, "mac_type"),
    (FieldId::Ipv4Dscp, "ipv4_dscp"),
    (FieldId::Ipv4Ttl, "ipv4_ttl"),
    (FieldId::Ipv4Src, "ipv4_src"),
    (FieldId::Ipv4Dst, "ipv4_dst"),
    (FieldId::Ipv6Dscp, "ipv6_dscp"),
    (FieldId::Ipv6Hoplimit, "ipv6_hoplimit"),
    (FieldId::Ipv6Src, "ipv6_src"),
    (FieldId::Ipv6Dst, "ipv6_dst"),
    (FieldId::TcpPortSrc, "tcp_port_src"),
    (FieldId::TcpPortDst, "tcp_port_dst"),
    (FieldId::TcpSeqNum, "tcp_seq_num"),
    (FieldId::TcpAckNum, "tcp_ack_num"),
    (FieldId::TcpFlags, "tcp_flags"),
    (FieldId::UdpPortSrc, "udp_port_src"),
    (FieldId::UdpPortDst, "udp_port_dst"),
    (FieldId::VxlanVni, "vxlan_vni"),
    (FieldId::GeneveVni, "geneve_vni"),
    (FieldId::GtpTeid, "gtp_teid"),
    (FieldId::Tag, "tag"),
    (FieldId::Mark, "mark"),
    (FieldId::Meta, "meta"),
    (FieldId::Ipv4Ecn, "ipv4_ecn"),
    (FieldId::Ipv6Ecn, "ipv6_ecn"),
    (FieldId::GtpPscQfi, "gtp_psc_qfi"),
    (FieldId::MeterColor, "meter_color"),
];

impl FieldId {
    /// testpmd's name (`dst_type` / `src_type`).
    pub fn token(self) -> &'static str {
        NAMES
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("start", |(_, n)| n)
    }

    /// The field of a testpmd name.
    pub fn from_token(t: &str) -> Option<FieldId> {
        NAMES.iter().find(|(_, n)| *n == t).map(|(f, _)| *f)
    }

    /// The field's width in bits (`None`: the software engine does not have the field).
    pub fn width(self) -> Option<u32> {
        use FieldId::*;
        Some(match self {
            MacDst | MacSrc => 48,
            VlanId => 12,
            Ipv4Dscp | Ipv6Dscp => 6,
            Ipv4Ecn | Ipv6Ecn => 2,
            Ipv4Ttl | Ipv6Hoplimit => 8,
            Ipv4Src | Ipv4Dst | TcpSeqNum | TcpAckNum | Tag | Mark | Meta => 32,
            Ipv6Src | Ipv6Dst => 128,
            TcpPortSrc | TcpPortDst | UdpPortSrc | UdpPortDst => 16,
            TcpFlags => 9,
            VxlanVni | GeneveVni => 24,
            Start | VlanType | MacType | GtpTeid | GtpPscQfi | MeterColor => return None,
        })
    }

    /// Whether it is a value the rules carry (MARK, META, TAG) rather than packet bytes.
    pub fn is_metadata(self) -> bool {
        matches!(self, FieldId::Tag | FieldId::Mark | FieldId::Meta)
    }
}

impl fmt::Display for FieldId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.token())
    }
}

/// MODIFY_FIELD's operation (`enum rte_flow_modify_op`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ModifyOp {
    /// The destination bits take the source's.
    #[default]
    Set,
    /// The source is added to the destination bits (modulo 2^width).
    Add,
    /// The source is subtracted from the destination bits (modulo 2^width).
    Sub,
}

impl ModifyOp {
    /// testpmd's name.
    pub fn token(self) -> &'static str {
        match self {
            ModifyOp::Set => "set",
            ModifyOp::Add => "add",
            ModifyOp::Sub => "sub",
        }
    }
}

/// A field operand (`struct rte_flow_action_modify_data` for a field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ModifyData {
    /// The field.
    pub field: FieldId,
    /// The encapsulation level (0 or 1: the outermost header; the software engine has no
    /// other), or the tag index for [`FieldId::Tag`].
    pub level: u32,
    /// Bits to skip from the field's start.
    pub offset: u32,
}

impl ModifyData {
    /// `field`, level 0, offset 0.
    pub fn of(field: FieldId) -> ModifyData {
        ModifyData {
            field,
            level: 0,
            offset: 0,
        }
    }
}

/// MODIFY_FIELD's source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModifySrc {
    /// Another field of the packet or its metadata.
    Field(ModifyData),
    /// An immediate value (`RTE_FLOW_FIELD_VALUE`), laid out as the destination field.
    Value([u8; 16]),
    /// `RTE_FLOW_FIELD_POINTER`: the bytes the pointer pointed at, read when the rule was
    /// made (as a NIC's driver reads them), laid out as the destination field.
    Pointer([u8; 16]),
}

impl ModifySrc {
    /// An immediate value of these leading bytes (the rest 0).
    pub fn value(bytes: &[u8]) -> ModifySrc {
        let mut v = [0u8; 16];
        let n = bytes.len().min(16);
        v[..n].copy_from_slice(&bytes[..n]);
        ModifySrc::Value(v)
    }
}

/// MODIFY_FIELD's configuration (`struct rte_flow_action_modify_field`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ModifyField {
    /// The operation.
    pub op: ModifyOp,
    /// The destination (a field: immediate values and pointers are sources only).
    pub dst: ModifyData,
    /// The source.
    pub src: ModifySrc,
    /// Bits to take from the source.
    pub width: u32,
}
