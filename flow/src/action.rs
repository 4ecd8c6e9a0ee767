//! Actions (DPDK's `struct rte_flow_action` and the configurations of each type).

use rpdk_ethdev::RssHf;
use std::fmt;

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
/// The enum is `non_exhaustive`: the packet-modifying actions and aging come later.
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
            Action::Age { .. } => "AGE",
            Action::Indirect { .. } => "INDIRECT",
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
