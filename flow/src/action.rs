//! Actions (DPDK's `struct rte_flow_action` and the configurations of each type).

use crate::modify::ModifyField;
use rpdk_ethdev::RssHf;
use rpdk_mbuf::net::MacAddr;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The RSS hash function of an RSS action (`enum rte_eth_hash_function`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum RssFunc {
    /// The port's default: Toeplitz.
    #[default]
    Default,
    /// Toeplitz.
    Toeplitz,
}

/// An RSS action's configuration (`struct rte_flow_action_rss`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Rss {
    /// The hash function.
    pub func: RssFunc,
    /// Which headers to hash: 0 or 1 the outermost, 2 the inner ones of a tunnel.
    pub level: u32,
    /// The hash types (`RTE_ETH_RSS_*`); 0 for the port's default (`ip`).
    pub types: u64,
    /// The Toeplitz key (40 bytes); empty for DPDK's default key.
    pub key: Vec<u8>,
    /// The queues to spread over; empty for every rx queue of the port.
    pub queues: Vec<u16>,
}

/// The single-bit RSS type names testpmd prints and takes.
pub(crate) const RSS_TYPE_NAMES: [(&str, RssHf); 16] = [
    ("ipv4", RssHf::IPV4),
    ("ipv4-frag", RssHf::FRAG_IPV4),
    ("ipv4-tcp", RssHf::NONFRAG_IPV4_TCP),
    ("ipv4-udp", RssHf::NONFRAG_IPV4_UDP),
    ("ipv4-sctp", RssHf::NONFRAG_IPV4_SCTP),
    ("ipv4-other", RssHf::NONFRAG_IPV4_OTHER),
    ("ipv6", RssHf::IPV6),
    ("ipv6-frag", RssHf::FRAG_IPV6),
    ("ipv6-tcp", RssHf::NONFRAG_IPV6_TCP),
    ("ipv6-udp", RssHf::NONFRAG_IPV6_UDP),
    ("ipv6-sctp", RssHf::NONFRAG_IPV6_SCTP),
    ("ipv6-other", RssHf::NONFRAG_IPV6_OTHER),
    ("l2-payload", RssHf::L2_PAYLOAD),
    ("ipv6-ex", RssHf::IPV6_EX),
    ("ipv6-tcp-ex", RssHf::IPV6_TCP_EX),
    ("ipv6-udp-ex", RssHf::IPV6_UDP_EX),
];

/// The RSS types of a testpmd name (single types, and the groups `ip`, `tcp`, `udp`, `sctp`,
/// `all`, `none`).
pub(crate) fn rss_type(name: &str) -> Option<u64> {
    RSS_TYPE_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| t.0)
        .or_else(|| RssHf::parse(name).map(|t| t.0))
}

/// One action of a rule (DPDK's `RTE_FLOW_ACTION_TYPE_*` with its configuration).
///
/// Actions run in order; the packet-modifying ones (OF_POP_VLAN...) change the packet for the
/// actions after them and for the groups a JUMP leads to. The enum is `non_exhaustive`: more
/// actions come.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// Ignored.
    Void,
    /// Makes the rule non-terminating: matching goes on with the rules after it.
    Passthru,
    /// Goes on with the rules of another group.
    Jump {
        /// The group.
        group: u32,
    },
    /// Marks the packet: `RTE_MBUF_F_RX_FDIR | RTE_MBUF_F_RX_FDIR_ID`, the id in
    /// `hash.fdir.hi`.
    Mark {
        /// The mark.
        id: u32,
    },
    /// Flags the packet: `RTE_MBUF_F_RX_FDIR`.
    Flag,
    /// Sends the packet to an rx queue.
    Queue {
        /// The queue.
        index: u16,
    },
    /// Drops the packet.
    Drop,
    /// Counts packets and bytes of the rule (query with [`crate::FlowTable::query_count`]).
    Count {
        /// The counter's id, as the application numbers it (DPDK: PMD-specific; here only a
        /// label: rules never share a COUNT action's counter; share one through an indirect
        /// action).
        id: u32,
    },
    /// Spreads packets over queues by a hash.
    Rss(Rss),
    /// Sends the packet to another port's tx (deprecated in DPDK for REPRESENTED_PORT).
    PortId {
        /// The port.
        id: u32,
        /// DPDK's `original` flag: use the original port (accepted, not used).
        original: bool,
    },
    /// Sends the packet to another port's tx.
    RepresentedPort {
        /// The port.
        port_id: u16,
    },
    /// Meters the packet with a meter object of the port's [`crate::meter::MeterTable`]
    /// ([`crate::FlowTable::meters`]), then runs the actions of its policy for the colour: a
    /// colour whose actions have a fate ends the rule there; otherwise the rule's next
    /// actions run.
    Meter {
        /// The meter object.
        mtr_id: u32,
    },
    /// Sets the packet's metadata (`meta.meta = meta.meta & !mask | data & mask`), which the
    /// META item of later groups matches.
    SetMeta {
        /// The value.
        data: u32,
        /// The bits set.
        mask: u32,
    },
    /// Sets tag `index` (0 to 7) under a mask, which the TAG item of later groups matches.
    SetTag {
        /// The value.
        data: u32,
        /// The bits set.
        mask: u32,
        /// The tag.
        index: u8,
    },
    /// Removes exactly one VLAN tag, the outermost (OpenFlow's `OFPAT_POP_VLAN`). A tag a
    /// driver stripped (`RTE_MBUF_F_RX_VLAN_STRIPPED` with `vlan_tci`, or
    /// `RTE_MBUF_F_RX_QINQ_STRIPPED` with `vlan_tci_outer`) was the outermost on the wire, so
    /// it is the one removed (its flags and TCI cleared, the data untouched); otherwise the
    /// data's outermost tag goes, with RX_VLAN/`vlan_tci` when they described it. An untagged
    /// packet goes on unchanged.
    OfPopVlan,
    /// Reports the rule aged when no packet matched it for `timeout` seconds
    /// ([`crate::FlowTable::get_aged_flows`], [`crate::FlowTable::query_age`] and
    /// `RTE_ETH_EVENT_FLOW_AGED`; see `docs/flow.md`).
    Age {
        /// Seconds, 1 to 2^24 - 1.
        timeout: u32,
        /// What `get_aged_flows` reports for the rule (DPDK's `context`; `None`: the rule).
        context: Option<u64>,
    },
    /// An indirect action by handle (a shared counter).
    Indirect {
        /// The handle, from [`crate::FlowTable::action_handle_create`].
        handle: u32,
    },
    /// Sets the source MAC address of the outermost Ethernet header.
    SetMacSrc {
        /// The address.
        mac_addr: MacAddr,
    },
    /// Sets the destination MAC address of the outermost Ethernet header.
    SetMacDst {
        /// The address.
        mac_addr: MacAddr,
    },
    /// Sets the source address of the outermost IPv4 header (checksums updated).
    SetIpv4Src {
        /// The address.
        ipv4_addr: Ipv4Addr,
    },
    /// Sets the destination address of the outermost IPv4 header (checksums updated).
    SetIpv4Dst {
        /// The address.
        ipv4_addr: Ipv4Addr,
    },
    /// Sets the source address of the outermost IPv6 header (L4 checksum updated).
    SetIpv6Src {
        /// The address.
        ipv6_addr: Ipv6Addr,
    },
    /// Sets the destination address of the outermost IPv6 header (L4 checksum updated).
    SetIpv6Dst {
        /// The address.
        ipv6_addr: Ipv6Addr,
    },
    /// Sets the source port of the outermost TCP or UDP header (checksum updated).
    SetTpSrc {
        /// The port.
        port: u16,
    },
    /// Sets the destination port of the outermost TCP or UDP header (checksum updated).
    SetTpDst {
        /// The port.
        port: u16,
    },
    /// Sets the TTL (IPv4) or hop limit (IPv6) of the outermost IP header.
    SetTtl {
        /// The value.
        ttl_value: u8,
    },
    /// Decrements the TTL (IPv4) or hop limit (IPv6) of the outermost IP header, modulo 256
    /// (nothing drops the packet: 1 becomes 0, 0 becomes 255, as mlx5's hardware does).
    DecTtl,
    /// Sets the DSCP (the top 6 bits of the TOS byte) of the outermost IPv4 header; ECN stays.
    SetIpv4Dscp {
        /// The DSCP (its low 6 bits).
        dscp: u8,
    },
    /// Sets the DSCP (the top 6 bits of the traffic class) of the outermost IPv6 header.
    SetIpv6Dscp {
        /// The DSCP (its low 6 bits).
        dscp: u8,
    },
    /// Sets, adds to or subtracts from a field of the packet or of its metadata.
    ModifyField(ModifyField),
    /// Pushes a VLAN tag in front of the others (OpenFlow's OFPAT_PUSH_VLAN): its TCI is the
    /// outermost tag's before, or 0; the packet then carries `RTE_MBUF_F_RX_VLAN` and the
    /// tag's TCI in `vlan_tci`, as a received tagged frame does.
    OfPushVlan {
        /// The tag's TPID (0x8100, 0x88a8, ...).
        ethertype: u16,
    },
    /// Sets the VLAN id of the outermost tag (OpenFlow's OFPAT_SET_VLAN_VID).
    OfSetVlanVid {
        /// The id (0 to 4095).
        vlan_vid: u16,
    },
    /// Sets the priority of the outermost tag (OpenFlow's OFPAT_SET_VLAN_PCP).
    OfSetVlanPcp {
        /// The priority (0 to 7).
        vlan_pcp: u8,
    },
    /// Removes the outer headers whose template `data` holds (`RTE_FLOW_ACTION_TYPE_RAW_DECAP`):
    /// Ethernet first, up to the tunnel header (or just Ethernet before an L3 encap). The
    /// packet's own header lengths count (its VLAN tags, IPv4 options, IPv6 extensions, GRE
    /// key and sequence); the packet must have those headers, or it is dropped.
    RawDecap(RawDecap),
    /// Prepends the header `data` holds (`RTE_FLOW_ACTION_TYPE_RAW_ENCAP`), completed per
    /// packet: lengths, the IPv4 checksum, the UDP checksum over IPv6 (0 over IPv4), and the
    /// zero fields a NIC fills (EtherTypes, IPv4 version/IHL and TTL, VXLAN flags).
    RawEncap(RawEncap),
    /// Removes the outermost VXLAN tunnel's headers (the pattern must have a VXLAN item).
    VxlanDecap,
    /// Encapsulates the packet in VXLAN (`struct rte_flow_action_vxlan_encap`).
    VxlanEncap {
        /// The tunnel's headers as items: ETH (VLAN) IPV4|IPV6 UDP VXLAN, by their specs.
        definition: Vec<crate::Item>,
    },
    /// Removes the outermost NVGRE tunnel's headers (the pattern must have an NVGRE item).
    NvgreDecap,
    /// Encapsulates the packet in NVGRE (`struct rte_flow_action_nvgre_encap`).
    NvgreEncap {
        /// The tunnel's headers as items: ETH (VLAN) IPV4|IPV6 NVGRE, by their specs.
        definition: Vec<crate::Item>,
    },
}

/// RAW_DECAP's configuration (`struct rte_flow_action_raw_decap`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct RawDecap {
    /// The headers to remove, as bytes (their `size` is the length).
    pub data: Vec<u8>,
    /// testpmd's `set raw_decap` buffer the data came from (`raw_decap index N`), a label.
    pub index: u8,
}

/// RAW_ENCAP's configuration (`struct rte_flow_action_raw_encap`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct RawEncap {
    /// The header to prepend.
    pub data: Vec<u8>,
    /// Bits of `data` that must not be changed (empty: any may be; else as long as `data`).
    pub preserve: Vec<u8>,
    /// testpmd's `set raw_encap` buffer the data came from (`raw_encap index N`), a label.
    pub index: u8,
}

impl Action {
    /// DPDK's name of the action type, as `flow list` prints it.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Void => "VOID",
            Action::Passthru => "PASSTHRU",
            Action::Jump { .. } => "JUMP",
            Action::Mark { .. } => "MARK",
            Action::Flag => "FLAG",
            Action::Queue { .. } => "QUEUE",
            Action::Drop => "DROP",
            Action::Count { .. } => "COUNT",
            Action::Rss(_) => "RSS",
            Action::PortId { .. } => "PORT_ID",
            Action::RepresentedPort { .. } => "REPRESENTED_PORT",
            Action::Meter { .. } => "METER",
            Action::SetMeta { .. } => "SET_META",
            Action::SetTag { .. } => "SET_TAG",
            Action::OfPopVlan => "OF_POP_VLAN",
            Action::Age { .. } => "AGE",
            Action::Indirect { .. } => "INDIRECT",
            Action::RawDecap(_) => "RAW_DECAP",
            Action::RawEncap(_) => "RAW_ENCAP",
            Action::VxlanDecap => "VXLAN_DECAP",
            Action::VxlanEncap { .. } => "VXLAN_ENCAP",
            Action::NvgreDecap => "NVGRE_DECAP",
            Action::NvgreEncap { .. } => "NVGRE_ENCAP",
            Action::SetMacSrc { .. } => "SET_MAC_SRC",
            Action::SetMacDst { .. } => "SET_MAC_DST",
            Action::SetIpv4Src { .. } => "SET_IPV4_SRC",
            Action::SetIpv4Dst { .. } => "SET_IPV4_DST",
            Action::SetIpv6Src { .. } => "SET_IPV6_SRC",
            Action::SetIpv6Dst { .. } => "SET_IPV6_DST",
            Action::SetTpSrc { .. } => "SET_TP_SRC",
            Action::SetTpDst { .. } => "SET_TP_DST",
            Action::SetTtl { .. } => "SET_TTL",
            Action::DecTtl => "DEC_TTL",
            Action::SetIpv4Dscp { .. } => "SET_IPV4_DSCP",
            Action::SetIpv6Dscp { .. } => "SET_IPV6_DSCP",
            Action::ModifyField(_) => "MODIFY_FIELD",
            Action::OfPushVlan { .. } => "OF_PUSH_VLAN",
            Action::OfSetVlanVid { .. } => "OF_SET_VLAN_VID",
            Action::OfSetVlanPcp { .. } => "OF_SET_VLAN_PCP",
        }
    }

    /// Whether the action decides where the packet goes (a rule has at most one).
    pub fn is_fate(&self) -> bool {
        matches!(
            self,
            Action::Passthru
                | Action::Jump { .. }
                | Action::Queue { .. }
                | Action::Drop
                | Action::Rss(_)
                | Action::PortId { .. }
                | Action::RepresentedPort { .. }
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an indirect action holds (`rte_flow_action_handle_create`'s action).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IndirectAction {
    /// A counter shared by every rule that uses the handle.
    Count,
}

/// The attributes of a rule (`struct rte_flow_attr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Attr {
    /// The group: only group 0 is matched first; others are reached by JUMP.
    pub group: u32,
    /// The priority within the group: 0 is the highest.
    pub priority: u32,
    /// Applies to received packets.
    pub ingress: bool,
    /// Applies to packets sent.
    pub egress: bool,
    /// Applies in the switch domain: in software, received packets of every port of the
    /// process whose rules are in the same [`crate::FlowTable`] (PORT_ID / REPRESENTED_PORT
    /// items tell the ports apart).
    pub transfer: bool,
}

impl Attr {
    /// `flow list`'s attribute column: `i--`, `-e-`, `--t`.
    pub fn flags(&self) -> String {
        format!(
            "{}{}{}",
            if self.ingress { 'i' } else { '-' },
            if self.egress { 'e' } else { '-' },
            if self.transfer { 't' } else { '-' }
        )
    }
}
