//! Offload flags: DPDK's `RTE_MBUF_F_*` bits of `ol_flags`, with their values and names.

use std::fmt;

/// The offload flags of an mbuf (DPDK's `uint64_t ol_flags`).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct OlFlags(pub u64);

macro_rules! flags {
    ($($(#[$doc:meta])* $name:ident = $value:expr, $label:expr;)*) => {
        impl OlFlags {
            $($(#[$doc])* pub const $name: OlFlags = OlFlags($value);)*
        }
        const NAMES: &[(u64, &str)] = &[$(($value, $label),)*];
    };
}

flags! {
    /// The packet had an 802.1Q tag, whose TCI is in `vlan_tci`.
    RX_VLAN = 1 << 0, "RTE_MBUF_F_RX_VLAN";
    /// `hash.rss` holds the RSS hash.
    RX_RSS_HASH = 1 << 1, "RTE_MBUF_F_RX_RSS_HASH";
    /// A flow director filter matched.
    RX_FDIR = 1 << 2, "RTE_MBUF_F_RX_FDIR";
    /// The L4 checksum is wrong (with [`OlFlags::RX_L4_CKSUM_GOOD`]: none).
    RX_L4_CKSUM_BAD = 1 << 3, "RTE_MBUF_F_RX_L4_CKSUM_BAD";
    /// The IP checksum is wrong (with [`OlFlags::RX_IP_CKSUM_GOOD`]: none).
    RX_IP_CKSUM_BAD = 1 << 4, "RTE_MBUF_F_RX_IP_CKSUM_BAD";
    /// The outermost IP checksum is wrong.
    RX_OUTER_IP_CKSUM_BAD = 1 << 5, "RTE_MBUF_F_RX_OUTER_IP_CKSUM_BAD";
    /// The VLAN tag was stripped from the data.
    RX_VLAN_STRIPPED = 1 << 6, "RTE_MBUF_F_RX_VLAN_STRIPPED";
    /// The IP checksum is valid.
    RX_IP_CKSUM_GOOD = 1 << 7, "RTE_MBUF_F_RX_IP_CKSUM_GOOD";
    /// The L4 checksum is valid.
    RX_L4_CKSUM_GOOD = 1 << 8, "RTE_MBUF_F_RX_L4_CKSUM_GOOD";
    /// An IEEE 1588 PTP packet.
    RX_IEEE1588_PTP = 1 << 9, "RTE_MBUF_F_RX_IEEE1588_PTP";
    /// An IEEE 1588 timestamped packet.
    RX_IEEE1588_TMST = 1 << 10, "RTE_MBUF_F_RX_IEEE1588_TMST";
    /// `hash.fdir.hi` holds the flow director id.
    RX_FDIR_ID = 1 << 13, "RTE_MBUF_F_RX_FDIR_ID";
    /// `hash.fdir` holds flexible bytes.
    RX_FDIR_FLX = 1 << 14, "RTE_MBUF_F_RX_FDIR_FLX";
    /// The outer VLAN was stripped; its TCI is in `vlan_tci_outer`.
    RX_QINQ_STRIPPED = 1 << 15, "RTE_MBUF_F_RX_QINQ_STRIPPED";
    /// Coalesced by LRO; `tso_segsz` holds the original segment size.
    RX_LRO = 1 << 16, "RTE_MBUF_F_RX_LRO";
    /// Security offload was applied.
    RX_SEC_OFFLOAD = 1 << 18, "RTE_MBUF_F_RX_SEC_OFFLOAD";
    /// Security offload failed.
    RX_SEC_OFFLOAD_FAILED = 1 << 19, "RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED";
    /// A double VLAN packet; the outer TCI is in `vlan_tci_outer`.
    RX_QINQ = 1 << 20, "RTE_MBUF_F_RX_QINQ";
    /// The outer L4 checksum is wrong.
    RX_OUTER_L4_CKSUM_BAD = 1 << 21, "RTE_MBUF_F_RX_OUTER_L4_CKSUM_BAD";
    /// The outer L4 checksum is valid.
    RX_OUTER_L4_CKSUM_GOOD = 1 << 22, "RTE_MBUF_F_RX_OUTER_L4_CKSUM_GOOD";
    /// Offload the outer UDP checksum.
    TX_OUTER_UDP_CKSUM = 1 << 41, "RTE_MBUF_F_TX_OUTER_UDP_CKSUM";
    /// UDP fragmentation offload.
    TX_UDP_SEG = 1 << 42, "RTE_MBUF_F_TX_UDP_SEG";
    /// Request security offload.
    TX_SEC_OFFLOAD = 1 << 43, "RTE_MBUF_F_TX_SEC_OFFLOAD";
    /// Offload MACsec.
    TX_MACSEC = 1 << 44, "RTE_MBUF_F_TX_MACSEC";
    /// Insert two VLAN tags.
    TX_QINQ = 1 << 49, "RTE_MBUF_F_TX_QINQ";
    /// TCP segmentation offload.
    TX_TCP_SEG = 1 << 50, "RTE_MBUF_F_TX_TCP_SEG";
    /// Timestamp this IEEE 1588 packet.
    TX_IEEE1588_TMST = 1 << 51, "RTE_MBUF_F_TX_IEEE1588_TMST";
    /// Offload the TCP checksum.
    TX_TCP_CKSUM = 1 << 52, "RTE_MBUF_F_TX_TCP_CKSUM";
    /// Offload the SCTP checksum.
    TX_SCTP_CKSUM = 2 << 52, "RTE_MBUF_F_TX_SCTP_CKSUM";
    /// Offload the UDP checksum.
    TX_UDP_CKSUM = 3 << 52, "RTE_MBUF_F_TX_UDP_CKSUM";
    /// Offload the IP checksum.
    TX_IP_CKSUM = 1 << 54, "RTE_MBUF_F_TX_IP_CKSUM";
    /// The packet is IPv4 (for offloads).
    TX_IPV4 = 1 << 55, "RTE_MBUF_F_TX_IPV4";
    /// The packet is IPv6 (for offloads).
    TX_IPV6 = 1 << 56, "RTE_MBUF_F_TX_IPV6";
    /// Insert the VLAN tag of `vlan_tci`.
    TX_VLAN = 1 << 57, "RTE_MBUF_F_TX_VLAN";
    /// Offload the outer IP checksum.
    TX_OUTER_IP_CKSUM = 1 << 58, "RTE_MBUF_F_TX_OUTER_IP_CKSUM";
    /// The outer header is IPv4.
    TX_OUTER_IPV4 = 1 << 59, "RTE_MBUF_F_TX_OUTER_IPV4";
    /// The outer header is IPv6.
    TX_OUTER_IPV6 = 1 << 60, "RTE_MBUF_F_TX_OUTER_IPV6";
    /// The mbuf has an external buffer attached.
    EXTERNAL = 1 << 61, "RTE_MBUF_F_EXTERNAL";
    /// The mbuf is a clone attached to another's data.
    INDIRECT = 1 << 62, "RTE_MBUF_F_INDIRECT";
}

impl OlFlags {
    /// No flags.
    pub const NONE: OlFlags = OlFlags(0);
    /// Bits of the RX IP checksum status.
    pub const RX_IP_CKSUM_MASK: OlFlags = OlFlags((1 << 4) | (1 << 7));
    /// No information on the IP checksum.
    pub const RX_IP_CKSUM_UNKNOWN: OlFlags = OlFlags(0);
    /// The IP header was checked, not its checksum field.
    pub const RX_IP_CKSUM_NONE: OlFlags = OlFlags((1 << 4) | (1 << 7));
    /// Bits of the RX L4 checksum status.
    pub const RX_L4_CKSUM_MASK: OlFlags = OlFlags((1 << 3) | (1 << 8));
    /// No information on the L4 checksum.
    pub const RX_L4_CKSUM_UNKNOWN: OlFlags = OlFlags(0);
    /// The L4 data was checked, not its checksum field.
    pub const RX_L4_CKSUM_NONE: OlFlags = OlFlags((1 << 3) | (1 << 8));
    /// Bits of the outer L4 checksum status.
    pub const RX_OUTER_L4_CKSUM_MASK: OlFlags = OlFlags((1 << 21) | (1 << 22));
    /// Bits of the TX L4 checksum request.
    pub const TX_L4_MASK: OlFlags = OlFlags(3 << 52);
    /// Bits of the TX tunnel type.
    pub const TX_TUNNEL_MASK: OlFlags = OlFlags(0xf << 45);
    /// TX tunnel: VXLAN.
    pub const TX_TUNNEL_VXLAN: OlFlags = OlFlags(0x1 << 45);
    /// TX tunnel: GRE.
    pub const TX_TUNNEL_GRE: OlFlags = OlFlags(0x2 << 45);
    /// TX tunnel: IP in IP.
    pub const TX_TUNNEL_IPIP: OlFlags = OlFlags(0x3 << 45);
    /// TX tunnel: GENEVE.
    pub const TX_TUNNEL_GENEVE: OlFlags = OlFlags(0x4 << 45);
    /// First bit free for dynamic flags.
    pub const FIRST_FREE_BIT: u32 = 23;
    /// Last bit free for dynamic flags.
    pub const LAST_FREE_BIT: u32 = 40;
    /// Every TX offload bit (`RTE_MBUF_F_TX_OFFLOAD_MASK`).
    pub const TX_OFFLOAD_MASK: OlFlags = OlFlags(
        Self::TX_OUTER_IPV6.0
            | Self::TX_OUTER_IPV4.0
            | Self::TX_OUTER_IP_CKSUM.0
            | Self::TX_VLAN.0
            | Self::TX_IPV6.0
            | Self::TX_IPV4.0
            | Self::TX_IP_CKSUM.0
            | Self::TX_L4_MASK.0
            | Self::TX_IEEE1588_TMST.0
            | Self::TX_TCP_SEG.0
            | Self::TX_QINQ.0
            | Self::TX_TUNNEL_MASK.0
            | Self::TX_MACSEC.0
            | Self::TX_SEC_OFFLOAD.0
            | Self::TX_UDP_SEG.0
            | Self::TX_OUTER_UDP_CKSUM.0,
    );

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: OlFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any bit of `other` is set.
    pub const fn intersects(self, other: OlFlags) -> bool {
        self.0 & other.0 != 0
    }

    /// The RX flags in the order and with the names of DPDK's `rte_get_rx_ol_flag_list`
    /// (what testpmd's verbose mode prints after `ol_flags:`): the checksum fields always
    /// name their state, `..._UNKNOWN` when neither bit is set.
    pub fn rx_list(self) -> Vec<&'static str> {
        const IP: u64 = OlFlags::RX_IP_CKSUM_MASK.0;
        const L4: u64 = OlFlags::RX_L4_CKSUM_MASK.0;
        const OL4: u64 = OlFlags::RX_OUTER_L4_CKSUM_MASK.0;
        const RX: &[(u64, u64, &str)] = &[
            (1 << 0, 1 << 0, "RTE_MBUF_F_RX_VLAN"),
            (1 << 1, 1 << 1, "RTE_MBUF_F_RX_RSS_HASH"),
            (1 << 2, 1 << 2, "RTE_MBUF_F_RX_FDIR"),
            (1 << 3, L4, "RTE_MBUF_F_RX_L4_CKSUM_BAD"),
            (1 << 8, L4, "RTE_MBUF_F_RX_L4_CKSUM_GOOD"),
            (L4, L4, "RTE_MBUF_F_RX_L4_CKSUM_NONE"),
            (0, L4, "RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN"),
            (1 << 4, IP, "RTE_MBUF_F_RX_IP_CKSUM_BAD"),
            (1 << 7, IP, "RTE_MBUF_F_RX_IP_CKSUM_GOOD"),
            (IP, IP, "RTE_MBUF_F_RX_IP_CKSUM_NONE"),
            (0, IP, "RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN"),
            (1 << 5, 1 << 5, "RTE_MBUF_F_RX_OUTER_IP_CKSUM_BAD"),
            (1 << 6, 1 << 6, "RTE_MBUF_F_RX_VLAN_STRIPPED"),
            (1 << 9, 1 << 9, "RTE_MBUF_F_RX_IEEE1588_PTP"),
            (1 << 10, 1 << 10, "RTE_MBUF_F_RX_IEEE1588_TMST"),
            (1 << 13, 1 << 13, "RTE_MBUF_F_RX_FDIR_ID"),
            (1 << 14, 1 << 14, "RTE_MBUF_F_RX_FDIR_FLX"),
            (1 << 15, 1 << 15, "RTE_MBUF_F_RX_QINQ_STRIPPED"),
            (1 << 16, 1 << 16, "RTE_MBUF_F_RX_LRO"),
            (1 << 18, 1 << 18, "RTE_MBUF_F_RX_SEC_OFFLOAD"),
            (1 << 19, 1 << 19, "RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED"),
            (1 << 20, 1 << 20, "RTE_MBUF_F_RX_QINQ"),
            (1 << 21, OL4, "RTE_MBUF_F_RX_OUTER_L4_CKSUM_BAD"),
            (1 << 22, OL4, "RTE_MBUF_F_RX_OUTER_L4_CKSUM_GOOD"),
            (OL4, OL4, "RTE_MBUF_F_RX_OUTER_L4_CKSUM_INVALID"),
            (0, OL4, "RTE_MBUF_F_RX_OUTER_L4_CKSUM_UNKNOWN"),
        ];
        RX.iter()
            .filter(|(flag, mask, _)| self.0 & mask == *flag)
            .map(|(_, _, name)| *name)
            .collect()
    }

    /// The names of the set flags, DPDK's (`RTE_MBUF_F_RX_VLAN`...). Multi-bit fields (the
    /// checksum states, the TX L4 checksum type) are named by their value.
    pub fn names(self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut rest = self.0;
        for (field, good, bad, names) in [
            (
                Self::RX_IP_CKSUM_MASK.0,
                Self::RX_IP_CKSUM_GOOD.0,
                Self::RX_IP_CKSUM_BAD.0,
                [
                    "RTE_MBUF_F_RX_IP_CKSUM_GOOD",
                    "RTE_MBUF_F_RX_IP_CKSUM_BAD",
                    "RTE_MBUF_F_RX_IP_CKSUM_NONE",
                ],
            ),
            (
                Self::RX_L4_CKSUM_MASK.0,
                Self::RX_L4_CKSUM_GOOD.0,
                Self::RX_L4_CKSUM_BAD.0,
                [
                    "RTE_MBUF_F_RX_L4_CKSUM_GOOD",
                    "RTE_MBUF_F_RX_L4_CKSUM_BAD",
                    "RTE_MBUF_F_RX_L4_CKSUM_NONE",
                ],
            ),
            (
                Self::RX_OUTER_L4_CKSUM_MASK.0,
                Self::RX_OUTER_L4_CKSUM_GOOD.0,
                Self::RX_OUTER_L4_CKSUM_BAD.0,
                [
                    "RTE_MBUF_F_RX_OUTER_L4_CKSUM_GOOD",
                    "RTE_MBUF_F_RX_OUTER_L4_CKSUM_BAD",
                    "RTE_MBUF_F_RX_OUTER_L4_CKSUM_INVALID",
                ],
            ),
        ] {
            match rest & field {
                0 => {}
                v if v == good => out.push(names[0]),
                v if v == bad => out.push(names[1]),
                _ => out.push(names[2]),
            }
            rest &= !field;
        }
        let l4 = rest & Self::TX_L4_MASK.0;
        rest &= !Self::TX_L4_MASK.0;
        let tunnel = rest & Self::TX_TUNNEL_MASK.0;
        rest &= !Self::TX_TUNNEL_MASK.0;
        for (value, name) in NAMES {
            if value.count_ones() == 1 && rest & value != 0 {
                out.push(name);
            }
        }
        if let Some((_, name)) = NAMES.iter().find(|(v, _)| *v == l4 && l4 != 0) {
            out.push(name);
        }
        match tunnel >> 45 {
            0 => {}
            1 => out.push("RTE_MBUF_F_TX_TUNNEL_VXLAN"),
            2 => out.push("RTE_MBUF_F_TX_TUNNEL_GRE"),
            3 => out.push("RTE_MBUF_F_TX_TUNNEL_IPIP"),
            4 => out.push("RTE_MBUF_F_TX_TUNNEL_GENEVE"),
            5 => out.push("RTE_MBUF_F_TX_TUNNEL_MPLSINUDP"),
            6 => out.push("RTE_MBUF_F_TX_TUNNEL_VXLAN_GPE"),
            7 => out.push("RTE_MBUF_F_TX_TUNNEL_GTP"),
            8 => out.push("RTE_MBUF_F_TX_TUNNEL_ESP"),
            0xd => out.push("RTE_MBUF_F_TX_TUNNEL_IP"),
            0xe => out.push("RTE_MBUF_F_TX_TUNNEL_UDP"),
            _ => out.push("RTE_MBUF_F_TX_TUNNEL_UNKNOWN"),
        }
        out
    }
}

impl std::ops::BitOr for OlFlags {
    type Output = OlFlags;
    fn bitor(self, rhs: OlFlags) -> OlFlags {
        OlFlags(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for OlFlags {
    fn bitor_assign(&mut self, rhs: OlFlags) {
        self.0 |= rhs.0;
    }
}

impl std::ops::BitAnd for OlFlags {
    type Output = OlFlags;
    fn bitand(self, rhs: OlFlags) -> OlFlags {
        OlFlags(self.0 & rhs.0)
    }
}

impl std::ops::Not for OlFlags {
    type Output = OlFlags;
    fn not(self) -> OlFlags {
        OlFlags(!self.0)
    }
}

impl fmt::Debug for OlFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OlFlags({:#x}: {})", self.0, self.names().join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_dpdks() {
        assert_eq!(OlFlags::RX_VLAN.0, 1);
        assert_eq!(OlFlags::RX_OUTER_L4_CKSUM_GOOD.0, 1 << 22);
        assert_eq!(OlFlags::TX_UDP_CKSUM.0, 3 << 52);
        assert_eq!(OlFlags::INDIRECT.0, 1 << 62);
        // The TX mask covers bits 41..=60 and nothing of RX or the generic bits.
        assert_eq!(
            OlFlags::TX_OFFLOAD_MASK.0,
            ((1u64 << 61) - 1) & !((1u64 << 41) - 1)
        );
    }

    #[test]
    fn rx_list_is_dpdks() {
        assert_eq!(
            OlFlags::NONE.rx_list(),
            [
                "RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN",
                "RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN",
                "RTE_MBUF_F_RX_OUTER_L4_CKSUM_UNKNOWN"
            ]
        );
        let f =
            OlFlags::RX_FDIR_ID | OlFlags::RX_FDIR | OlFlags::RX_VLAN | OlFlags::RX_IP_CKSUM_NONE;
        assert_eq!(
            f.rx_list(),
            [
                "RTE_MBUF_F_RX_VLAN",
                "RTE_MBUF_F_RX_FDIR",
                "RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN",
                "RTE_MBUF_F_RX_IP_CKSUM_NONE",
                "RTE_MBUF_F_RX_FDIR_ID",
                "RTE_MBUF_F_RX_OUTER_L4_CKSUM_UNKNOWN"
            ]
        );
    }

    #[test]
    fn names_decode_fields() {
        let f = OlFlags::RX_VLAN | OlFlags::RX_IP_CKSUM_GOOD | OlFlags::RX_L4_CKSUM_NONE;
        assert_eq!(
            f.names(),
            [
                "RTE_MBUF_F_RX_IP_CKSUM_GOOD",
                "RTE_MBUF_F_RX_L4_CKSUM_NONE",
                "RTE_MBUF_F_RX_VLAN"
            ]
        );
        let t = OlFlags::TX_IPV4
            | OlFlags::TX_IP_CKSUM
            | OlFlags::TX_UDP_CKSUM
            | OlFlags::TX_TUNNEL_VXLAN;
        assert_eq!(
            t.names(),
            [
                "RTE_MBUF_F_TX_IP_CKSUM",
                "RTE_MBUF_F_TX_IPV4",
                "RTE_MBUF_F_TX_UDP_CKSUM",
                "RTE_MBUF_F_TX_TUNNEL_VXLAN"
            ]
        );
        assert!(OlFlags::NONE.names().is_empty());
    }
}
