//! Port configuration and description: `rte_eth_conf`, `rte_eth_rxconf`, `rte_eth_txconf`,
//! `rte_eth_dev_info`, link status, and the offload and RSS bits with DPDK's values.

use std::fmt;

use rpdk_mbuf::net::MacAddr;

use crate::rss::RssHf;

/// RX offload bits (`RTE_ETH_RX_OFFLOAD_*`).
pub mod rx_offload {
    /// Strip VLAN tags.
    pub const VLAN_STRIP: u64 = 1 << 0;
    /// Check IPv4 header checksums.
    pub const IPV4_CKSUM: u64 = 1 << 1;
    /// Check UDP checksums.
    pub const UDP_CKSUM: u64 = 1 << 2;
    /// Check TCP checksums.
    pub const TCP_CKSUM: u64 = 1 << 3;
    /// Large receive offload.
    pub const TCP_LRO: u64 = 1 << 4;
    /// Strip QinQ tags.
    pub const QINQ_STRIP: u64 = 1 << 5;
    /// VLAN filtering.
    pub const VLAN_FILTER: u64 = 1 << 9;
    /// Receive frames in several segments.
    pub const SCATTER: u64 = 1 << 13;
    /// Timestamps.
    pub const TIMESTAMP: u64 = 1 << 14;
    /// Keep the CRC.
    pub const KEEP_CRC: u64 = 1 << 16;
    /// Compute the RSS hash into the mbuf.
    pub const RSS_HASH: u64 = 1 << 19;
    /// Every checksum check.
    pub const CHECKSUM: u64 = IPV4_CKSUM | UDP_CKSUM | TCP_CKSUM;

    /// DPDK's names of the RX offload bits, by bit number.
    const NAMES: &[(u32, &str)] = &[
        (0, "VLAN_STRIP"),
        (1, "IPV4_CKSUM"),
        (2, "UDP_CKSUM"),
        (3, "TCP_CKSUM"),
        (4, "TCP_LRO"),
        (5, "QINQ_STRIP"),
        (6, "OUTER_IPV4_CKSUM"),
        (7, "MACSEC_STRIP"),
        (9, "VLAN_FILTER"),
        (10, "VLAN_EXTEND"),
        (13, "SCATTER"),
        (14, "TIMESTAMP"),
        (15, "SECURITY"),
        (16, "KEEP_CRC"),
        (17, "SCTP_CKSUM"),
        (18, "OUTER_UDP_CKSUM"),
        (19, "RSS_HASH"),
        (20, "BUFFER_SPLIT"),
    ];

    /// The name of one RX offload bit, `UNKNOWN` for a bit DPDK 22.11 does not name (DPDK's
    /// `rte_eth_dev_rx_offload_name`).
    pub fn name(bit: u64) -> &'static str {
        super::offload_name(NAMES, bit)
    }
}

/// TX offload bits (`RTE_ETH_TX_OFFLOAD_*`).
pub mod tx_offload {
    /// Insert VLAN tags.
    pub const VLAN_INSERT: u64 = 1 << 0;
    /// Compute IPv4 header checksums.
    pub const IPV4_CKSUM: u64 = 1 << 1;
    /// Compute UDP checksums.
    pub const UDP_CKSUM: u64 = 1 << 2;
    /// Compute TCP checksums.
    pub const TCP_CKSUM: u64 = 1 << 3;
    /// TCP segmentation.
    pub const TCP_TSO: u64 = 1 << 5;
    /// Send mbufs of several segments.
    pub const MULTI_SEGS: u64 = 1 << 15;
    /// The application frees mbufs fast (one pool, refcount 1).
    pub const MBUF_FAST_FREE: u64 = 1 << 16;

    /// DPDK's names of the TX offload bits, by bit number.
    const NAMES: &[(u32, &str)] = &[
        (0, "VLAN_INSERT"),
        (1, "IPV4_CKSUM"),
        (2, "UDP_CKSUM"),
        (3, "TCP_CKSUM"),
        (4, "SCTP_CKSUM"),
        (5, "TCP_TSO"),
        (6, "UDP_TSO"),
        (7, "OUTER_IPV4_CKSUM"),
        (8, "QINQ_INSERT"),
        (9, "VXLAN_TNL_TSO"),
        (10, "GRE_TNL_TSO"),
        (11, "IPIP_TNL_TSO"),
        (12, "GENEVE_TNL_TSO"),
        (13, "MACSEC_INSERT"),
        (14, "MT_LOCKFREE"),
        (15, "MULTI_SEGS"),
        (16, "MBUF_FAST_FREE"),
        (17, "SECURITY"),
        (18, "UDP_TNL_TSO"),
        (19, "IP_TNL_TSO"),
        (20, "OUTER_UDP_CKSUM"),
        (21, "SEND_ON_TIMESTAMP"),
    ];

    /// The name of one TX offload bit, `UNKNOWN` for a bit DPDK 22.11 does not name (DPDK's
    /// `rte_eth_dev_tx_offload_name`).
    pub fn name(bit: u64) -> &'static str {
        super::offload_name(NAMES, bit)
    }
}

/// The name of `bit` (a single bit) in `names`.
fn offload_name(names: &[(u32, &'static str)], bit: u64) -> &'static str {
    if bit.count_ones() != 1 {
        return "UNKNOWN";
    }
    names
        .iter()
        .find(|(b, _)| 1u64 << b == bit)
        .map_or("UNKNOWN", |(_, n)| n)
}

/// Link speed capability bits (`RTE_ETH_LINK_SPEED_*`).
pub mod link_speed {
    /// Autonegotiation.
    pub const AUTONEG: u32 = 0;
    /// 10 Gbit/s.
    pub const SPEED_10G: u32 = 1 << 8;
    /// 100 Gbit/s.
    pub const SPEED_100G: u32 = 1 << 14;
}

/// RSS settings of a port (`struct rte_eth_rss_conf`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RssConf {
    /// The Toeplitz key; `None` for DPDK's default 40-byte key.
    pub key: Option<Vec<u8>>,
    /// Which packet types are hashed, and on what.
    pub hf: RssHf,
}

/// Multi-queue RX mode (`enum rte_eth_rx_mq_mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RxMqMode {
    /// No spreading: queue 0, or as the driver does.
    #[default]
    None,
    /// Spread over the queues by RSS hash.
    Rss,
}

/// Port configuration (`struct rte_eth_conf` and what `rte_eth_dev_configure` takes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EthConf {
    /// MTU; `None` keeps the port's.
    pub mtu: Option<u16>,
    /// RX offloads wanted (`rx_offload::*`).
    pub rx_offloads: u64,
    /// TX offloads wanted (`tx_offload::*`).
    pub tx_offloads: u64,
    /// Multi-queue mode.
    pub rx_mq_mode: RxMqMode,
    /// RSS settings, used with [`RxMqMode::Rss`] or the `RSS_HASH` offload.
    pub rss: RssConf,
    /// Link speeds to advertise (`link_speeds`), 0 for autonegotiation.
    pub link_speeds: u32,
}

/// Per-queue RX settings (`struct rte_eth_rxconf`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxConf {
    /// Free descriptors that trigger a refill (0: driver's choice).
    pub rx_free_thresh: u16,
    /// Drop packets when no descriptor is free.
    pub rx_drop_en: bool,
    /// Per-queue RX offloads, on top of the port's.
    pub offloads: u64,
}

/// Per-queue TX settings (`struct rte_eth_txconf`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxConf {
    /// Used descriptors that trigger cleanup (0: driver's choice).
    pub tx_free_thresh: u16,
    /// Per-queue TX offloads, on top of the port's.
    pub offloads: u64,
}

/// How an RX queue is set up (`struct rte_eth_rxq_info`, DPDK's `rte_eth_rx_queue_info_get`),
/// its pool by name and node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RxQueueInfo {
    /// Descriptors: as set up, or the driver's preferred count for 0 (0 when it has none).
    pub nb_desc: u16,
    /// The queue's settings; `offloads` are the port's and the queue's own.
    pub conf: RxConf,
    /// Frames may arrive in several segments (the `SCATTER` offload is on).
    pub scattered_rx: bool,
    /// Data bytes of each buffer: the pool's data room less the headroom.
    pub rx_buf_size: u32,
    /// The pool the queue takes mbufs from.
    pub pool_name: String,
    /// That pool's NUMA node.
    pub pool_socket: u32,
}

/// How a TX queue is set up (`struct rte_eth_txq_info`, DPDK's `rte_eth_tx_queue_info_get`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxQueueInfo {
    /// Descriptors: as set up, or the driver's preferred count for 0 (0 when it has none).
    pub nb_desc: u16,
    /// The queue's settings; `offloads` are the port's and the queue's own.
    pub conf: TxConf,
}

/// Descriptor limits of a queue (`struct rte_eth_desc_lim`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DescLim {
    /// Most descriptors.
    pub nb_max: u16,
    /// Fewest descriptors.
    pub nb_min: u16,
    /// Descriptor count must be a multiple of this.
    pub nb_align: u16,
}

impl Default for DescLim {
    fn default() -> Self {
        DescLim {
            nb_max: u16::MAX,
            nb_min: 0,
            nb_align: 1,
        }
    }
}

/// What a port is and can do (`struct rte_eth_dev_info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevInfo {
    /// The driver's name (`net_af_packet`).
    pub driver_name: &'static str,
    /// Kernel interface index, when the port sits on one.
    pub if_index: Option<u32>,
    /// Smallest MTU.
    pub min_mtu: u16,
    /// Largest MTU.
    pub max_mtu: u16,
    /// Largest frame received.
    pub max_rx_pktlen: u32,
    /// Smallest RX buffer.
    pub min_rx_bufsize: u32,
    /// Most RX queues.
    pub max_rx_queues: u16,
    /// Most TX queues.
    pub max_tx_queues: u16,
    /// MAC addresses the port can hold.
    pub max_mac_addrs: u32,
    /// RX offloads it can do.
    pub rx_offload_capa: u64,
    /// TX offloads it can do.
    pub tx_offload_capa: u64,
    /// Packet types it can hash for RSS.
    pub flow_type_rss_offloads: RssHf,
    /// RSS redirection table size.
    pub reta_size: u16,
    /// RSS key size in bytes.
    pub hash_key_size: u8,
    /// RX descriptor limits.
    pub rx_desc_lim: DescLim,
    /// TX descriptor limits.
    pub tx_desc_lim: DescLim,
    /// Link speeds it supports (`link_speed::*`).
    pub speed_capa: u32,
    /// Preferred burst size (0: none).
    pub default_burst: u16,
    /// Preferred descriptor count (0: none).
    pub default_ring_size: u16,
}

impl DevInfo {
    /// A description with neutral limits for driver `name`: one queue each way, standard MTU,
    /// no offloads.
    pub fn new(driver_name: &'static str) -> DevInfo {
        DevInfo {
            driver_name,
            if_index: None,
            min_mtu: 68,
            max_mtu: 9000,
            max_rx_pktlen: 9018,
            min_rx_bufsize: 0,
            max_rx_queues: 1,
            max_tx_queues: 1,
            max_mac_addrs: 1,
            rx_offload_capa: 0,
            tx_offload_capa: 0,
            flow_type_rss_offloads: RssHf::NONE,
            reta_size: 0,
            hash_key_size: 0,
            rx_desc_lim: DescLim::default(),
            tx_desc_lim: DescLim::default(),
            speed_capa: 0,
            default_burst: 0,
            default_ring_size: 0,
        }
    }
}

/// Link status (`struct rte_eth_link`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Link {
    /// Speed in Mbit/s (0 unknown).
    pub speed: u32,
    /// Full duplex.
    pub full_duplex: bool,
    /// Autonegotiated.
    pub autoneg: bool,
    /// Up.
    pub up: bool,
}

impl fmt::Display for Link {
    /// As DPDK's `rte_eth_link_to_str`: `Link up at 10 Gbps FDX Autoneg`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.up {
            return f.write_str("Link down");
        }
        let speed = match self.speed {
            0 => "Unknown".to_string(),
            s if s >= 1000 && s % 1000 == 0 => format!("{} Gbps", s / 1000),
            s => format!("{s} Mbps"),
        };
        write!(
            f,
            "Link up at {speed} {} {}",
            if self.full_duplex { "FDX" } else { "HDX" },
            if self.autoneg { "Autoneg" } else { "Fixed" }
        )
    }
}

/// A MAC address given to a port when its driver has none (DPDK's drivers make one up the same
/// way): locally administered, from the port id.
pub fn default_mac(port: u16) -> MacAddr {
    MacAddr([0x02, 0x70, 0x64, 0x6b, (port >> 8) as u8, port as u8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_text() {
        let l = Link {
            speed: 10_000,
            full_duplex: true,
            autoneg: true,
            up: true,
        };
        assert_eq!(l.to_string(), "Link up at 10 Gbps FDX Autoneg");
        assert_eq!(Link::default().to_string(), "Link down");
        let l = Link {
            speed: 100,
            up: true,
            ..Link::default()
        };
        assert_eq!(l.to_string(), "Link up at 100 Mbps HDX Fixed");
    }

    #[test]
    fn made_up_macs_are_local_unicast() {
        let m = default_mac(3);
        assert!(m.is_local_admin() && m.is_valid_unicast());
        assert_ne!(default_mac(3), default_mac(4));
    }
}
