//! Packet types: DPDK's `RTE_PTYPE_*` values, masks and names.
//!
//! A packet type is 32 bits of which each nibble says what one layer holds: bits 0-3 the
//! (outer) L2 type, 4-7 L3, 8-11 L4, 12-15 the tunnel, 16-19 inner L2, 20-23 inner L3, 24-27
//! inner L4. Values are DPDK's, so a packet type read from a NIC descriptor or written by
//! [`crate::net::get_ptype`] means what it means in DPDK.

use std::fmt;

/// A packet type (DPDK's `uint32_t packet_type`).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PacketType(pub u32);

macro_rules! ptypes {
    ($($(#[$doc:meta])* $name:ident = $value:expr, $label:expr;)*) => {
        impl PacketType {
            $($(#[$doc])* pub const $name: PacketType = PacketType($value);)*
        }
        /// (value, mask, name) of every named type, for [`PacketType::layer_names`].
        const NAMES: &[(u32, u32, &str)] = &[$(($value, mask_of($value), $label),)*];
    };
}

/// The layer mask a non-zero type value belongs to.
const fn mask_of(v: u32) -> u32 {
    let mut m = 0xf;
    while m != 0 {
        if v & m != 0 {
            return m;
        }
        m <<= 4;
    }
    0
}

ptypes! {
    /// Ethernet.
    L2_ETHER = 0x0000_0001, "L2_ETHER";
    /// Ethernet for time sync (0x88F7).
    L2_ETHER_TIMESYNC = 0x0000_0002, "L2_ETHER_TIMESYNC";
    /// ARP (0x0806).
    L2_ETHER_ARP = 0x0000_0003, "L2_ETHER_ARP";
    /// LLDP (0x88CC).
    L2_ETHER_LLDP = 0x0000_0004, "L2_ETHER_LLDP";
    /// NSH (0x894F).
    L2_ETHER_NSH = 0x0000_0005, "L2_ETHER_NSH";
    /// 802.1Q VLAN (0x8100).
    L2_ETHER_VLAN = 0x0000_0006, "L2_ETHER_VLAN";
    /// QinQ (0x88A8).
    L2_ETHER_QINQ = 0x0000_0007, "L2_ETHER_QINQ";
    /// PPPoE (0x8863, 0x8864).
    L2_ETHER_PPPOE = 0x0000_0008, "L2_ETHER_PPPOE";
    /// FCoE (0x8906).
    L2_ETHER_FCOE = 0x0000_0009, "L2_ETHER_FCOE";
    /// MPLS (0x8847, 0x8848).
    L2_ETHER_MPLS = 0x0000_000a, "L2_ETHER_MPLS";
    /// IPv4 without options.
    L3_IPV4 = 0x0000_0010, "L3_IPV4";
    /// IPv4 with options.
    L3_IPV4_EXT = 0x0000_0030, "L3_IPV4_EXT";
    /// IPv6 without extension headers.
    L3_IPV6 = 0x0000_0040, "L3_IPV6";
    /// IPv4, options unknown.
    L3_IPV4_EXT_UNKNOWN = 0x0000_0090, "L3_IPV4_EXT_UNKNOWN";
    /// IPv6 with extension headers.
    L3_IPV6_EXT = 0x0000_00c0, "L3_IPV6_EXT";
    /// IPv6, extension headers unknown.
    L3_IPV6_EXT_UNKNOWN = 0x0000_00e0, "L3_IPV6_EXT_UNKNOWN";
    /// TCP.
    L4_TCP = 0x0000_0100, "L4_TCP";
    /// UDP.
    L4_UDP = 0x0000_0200, "L4_UDP";
    /// An IP fragment.
    L4_FRAG = 0x0000_0300, "L4_FRAG";
    /// SCTP.
    L4_SCTP = 0x0000_0400, "L4_SCTP";
    /// ICMP or ICMPv6.
    L4_ICMP = 0x0000_0500, "L4_ICMP";
    /// Another L4 protocol, not fragmented.
    L4_NONFRAG = 0x0000_0600, "L4_NONFRAG";
    /// IGMP.
    L4_IGMP = 0x0000_0700, "L4_IGMP";
    /// IP in IP (IPv4 or IPv6 inside).
    TUNNEL_IP = 0x0000_1000, "TUNNEL_IP";
    /// GRE.
    TUNNEL_GRE = 0x0000_2000, "TUNNEL_GRE";
    /// VXLAN (UDP port 4789).
    TUNNEL_VXLAN = 0x0000_3000, "TUNNEL_VXLAN";
    /// NVGRE (GRE carrying Ethernet, 0x6558).
    TUNNEL_NVGRE = 0x0000_4000, "TUNNEL_NVGRE";
    /// GENEVE (UDP port 6081).
    TUNNEL_GENEVE = 0x0000_5000, "TUNNEL_GENEVE";
    /// Teredo, VXLAN or GRE, not told apart.
    TUNNEL_GRENAT = 0x0000_6000, "TUNNEL_GRENAT";
    /// GTP-C (UDP port 2123).
    TUNNEL_GTPC = 0x0000_7000, "TUNNEL_GTPC";
    /// GTP-U (UDP port 2152).
    TUNNEL_GTPU = 0x0000_8000, "TUNNEL_GTPU";
    /// ESP.
    TUNNEL_ESP = 0x0000_9000, "TUNNEL_ESP";
    /// L2TP.
    TUNNEL_L2TP = 0x0000_a000, "TUNNEL_L2TP";
    /// VXLAN-GPE (UDP port 4790).
    TUNNEL_VXLAN_GPE = 0x0000_b000, "TUNNEL_VXLAN_GPE";
    /// MPLS in GRE.
    TUNNEL_MPLS_IN_GRE = 0x0000_c000, "TUNNEL_MPLS_IN_GRE";
    /// MPLS in UDP (port 6635).
    TUNNEL_MPLS_IN_UDP = 0x0000_d000, "TUNNEL_MPLS_IN_UDP";
    /// Inner Ethernet.
    INNER_L2_ETHER = 0x0001_0000, "INNER_L2_ETHER";
    /// Inner Ethernet with a VLAN tag.
    INNER_L2_ETHER_VLAN = 0x0002_0000, "INNER_L2_ETHER_VLAN";
    /// Inner QinQ.
    INNER_L2_ETHER_QINQ = 0x0003_0000, "INNER_L2_ETHER_QINQ";
    /// Inner IPv4 without options.
    INNER_L3_IPV4 = 0x0010_0000, "INNER_L3_IPV4";
    /// Inner IPv4 with options.
    INNER_L3_IPV4_EXT = 0x0020_0000, "INNER_L3_IPV4_EXT";
    /// Inner IPv6 without extension headers.
    INNER_L3_IPV6 = 0x0030_0000, "INNER_L3_IPV6";
    /// Inner IPv4, options unknown.
    INNER_L3_IPV4_EXT_UNKNOWN = 0x0040_0000, "INNER_L3_IPV4_EXT_UNKNOWN";
    /// Inner IPv6 with extension headers.
    INNER_L3_IPV6_EXT = 0x0050_0000, "INNER_L3_IPV6_EXT";
    /// Inner IPv6, extension headers unknown.
    INNER_L3_IPV6_EXT_UNKNOWN = 0x0060_0000, "INNER_L3_IPV6_EXT_UNKNOWN";
    /// Inner TCP.
    INNER_L4_TCP = 0x0100_0000, "INNER_L4_TCP";
    /// Inner UDP.
    INNER_L4_UDP = 0x0200_0000, "INNER_L4_UDP";
    /// Inner IP fragment.
    INNER_L4_FRAG = 0x0300_0000, "INNER_L4_FRAG";
    /// Inner SCTP.
    INNER_L4_SCTP = 0x0400_0000, "INNER_L4_SCTP";
    /// Inner ICMP.
    INNER_L4_ICMP = 0x0500_0000, "INNER_L4_ICMP";
    /// Inner other L4, not fragmented.
    INNER_L4_NONFRAG = 0x0600_0000, "INNER_L4_NONFRAG";
}

impl PacketType {
    /// No information (`RTE_PTYPE_UNKNOWN`).
    pub const UNKNOWN: PacketType = PacketType(0);
    /// L2 bits.
    pub const L2_MASK: u32 = 0x0000_000f;
    /// L3 bits.
    pub const L3_MASK: u32 = 0x0000_00f0;
    /// L4 bits.
    pub const L4_MASK: u32 = 0x0000_0f00;
    /// Tunnel bits.
    pub const TUNNEL_MASK: u32 = 0x0000_f000;
    /// Inner L2 bits.
    pub const INNER_L2_MASK: u32 = 0x000f_0000;
    /// Inner L3 bits.
    pub const INNER_L3_MASK: u32 = 0x00f0_0000;
    /// Inner L4 bits.
    pub const INNER_L4_MASK: u32 = 0x0f00_0000;
    /// Every layer (`RTE_PTYPE_ALL_MASK`).
    pub const ALL_MASK: u32 = 0x0fff_ffff;

    /// The (outer) L2 type.
    pub const fn l2(self) -> PacketType {
        PacketType(self.0 & Self::L2_MASK)
    }
    /// The (outer) L3 type.
    pub const fn l3(self) -> PacketType {
        PacketType(self.0 & Self::L3_MASK)
    }
    /// The (outer) L4 type.
    pub const fn l4(self) -> PacketType {
        PacketType(self.0 & Self::L4_MASK)
    }
    /// The tunnel type.
    pub const fn tunnel(self) -> PacketType {
        PacketType(self.0 & Self::TUNNEL_MASK)
    }
    /// The inner L2 type.
    pub const fn inner_l2(self) -> PacketType {
        PacketType(self.0 & Self::INNER_L2_MASK)
    }
    /// The inner L3 type.
    pub const fn inner_l3(self) -> PacketType {
        PacketType(self.0 & Self::INNER_L3_MASK)
    }
    /// The inner L4 type.
    pub const fn inner_l4(self) -> PacketType {
        PacketType(self.0 & Self::INNER_L4_MASK)
    }

    /// Whether the outer L3 is IPv4 of any kind (`RTE_ETH_IS_IPV4_HDR`).
    pub const fn is_ipv4(self) -> bool {
        self.0 & Self::L3_IPV4.0 != 0
    }
    /// Whether the outer L3 is IPv6 of any kind (`RTE_ETH_IS_IPV6_HDR`).
    pub const fn is_ipv6(self) -> bool {
        self.0 & Self::L3_IPV6.0 != 0
    }
    /// Whether it is a tunnel packet (`RTE_ETH_IS_TUNNEL_PKT`).
    pub const fn is_tunnel(self) -> bool {
        self.0
            & (Self::TUNNEL_MASK | Self::INNER_L2_MASK | Self::INNER_L3_MASK | Self::INNER_L4_MASK)
            != 0
    }

    /// The names of its layers, outer first (`L2_ETHER`, `L3_IPV4`, `L4_UDP`), as DPDK's
    /// `rte_get_ptype_name` lists them; a value DPDK does not name is `L2_UNKNOWN` and so on.
    pub fn layer_names(self) -> impl Iterator<Item = &'static str> {
        const MASKS: [u32; 7] = [
            PacketType::L2_MASK,
            PacketType::L3_MASK,
            PacketType::L4_MASK,
            PacketType::TUNNEL_MASK,
            PacketType::INNER_L2_MASK,
            PacketType::INNER_L3_MASK,
            PacketType::INNER_L4_MASK,
        ];
        const UNKNOWN: [&str; 7] = [
            "L2_UNKNOWN",
            "L3_UNKNOWN",
            "L4_UNKNOWN",
            "TUNNEL_UNKNOWN",
            "INNER_L2_UNKNOWN",
            "INNER_L3_UNKNOWN",
            "INNER_L4_UNKNOWN",
        ];
        MASKS
            .into_iter()
            .zip(UNKNOWN)
            .filter_map(move |(mask, unknown)| {
                let v = self.0 & mask;
                if v == 0 {
                    return None;
                }
                Some(
                    NAMES
                        .iter()
                        .find(|(value, m, _)| *m == mask && *value == v)
                        .map_or(unknown, |(_, _, name)| name),
                )
            })
    }
}

impl std::ops::BitOr for PacketType {
    type Output = PacketType;
    fn bitor(self, rhs: PacketType) -> PacketType {
        PacketType(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for PacketType {
    fn bitor_assign(&mut self, rhs: PacketType) {
        self.0 |= rhs.0;
    }
}

/// As DPDK's `rte_get_ptype_name`: the layer names separated by spaces, `UNKNOWN` for 0.
impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 & Self::ALL_MASK == 0 {
            return f.write_str("UNKNOWN");
        }
        let mut first = true;
        for name in self.layer_names() {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            f.write_str(name)?;
        }
        Ok(())
    }
}

impl fmt::Debug for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PacketType({:#010x}: {self})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_dpdks() {
        assert_eq!(PacketType::L2_ETHER_QINQ.0, 0x7);
        assert_eq!(PacketType::L3_IPV6_EXT_UNKNOWN.0, 0xe0);
        assert_eq!(PacketType::L4_IGMP.0, 0x700);
        assert_eq!(PacketType::TUNNEL_MPLS_IN_UDP.0, 0xd000);
        assert_eq!(PacketType::INNER_L3_IPV6_EXT_UNKNOWN.0, 0x60_0000);
        assert_eq!(PacketType::INNER_L4_NONFRAG.0, 0x600_0000);
    }

    #[test]
    fn names() {
        let p = PacketType::L2_ETHER | PacketType::L3_IPV4 | PacketType::L4_UDP;
        assert_eq!(p.to_string(), "L2_ETHER L3_IPV4 L4_UDP");
        let t = p
            | PacketType::TUNNEL_VXLAN
            | PacketType::INNER_L2_ETHER
            | PacketType::INNER_L3_IPV6
            | PacketType::INNER_L4_TCP;
        assert_eq!(
            t.to_string(),
            "L2_ETHER L3_IPV4 L4_UDP TUNNEL_VXLAN INNER_L2_ETHER INNER_L3_IPV6 INNER_L4_TCP"
        );
        assert_eq!(PacketType::UNKNOWN.to_string(), "UNKNOWN");
        assert_eq!(PacketType(0xf).to_string(), "L2_UNKNOWN");
        assert!(t.is_tunnel() && t.is_ipv4() && !t.is_ipv6());
        assert!(PacketType::L3_IPV6_EXT.is_ipv6());
        assert!(PacketType::L3_IPV4_EXT_UNKNOWN.is_ipv4());
    }
}
