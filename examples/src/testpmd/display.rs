//! testpmd's statistics and information, printed as DPDK's testpmd prints them so that the
//! same scripts read both.

use std::collections::HashMap;

use rpdk_eal::time;
use rpdk_ethdev::Port;

use super::fwd::Stream;

const BORDER: &str = "########################";

/// Counters at the last display of each port, for the throughput lines.
#[derive(Default)]
pub struct Throughput {
    prev: HashMap<u16, (u64, u64, u64, u64, u64)>,
}

/// `show port stats N` (DPDK's `nic_stats_display`).
pub fn nic_stats(port: &Port, tp: &mut Throughput) -> String {
    let s = port.stats();
    let now = time::rdtsc();
    let (mut pps_rx, mut pps_tx, mut bps_rx, mut bps_tx) = (0u64, 0u64, 0u64, 0u64);
    if let Some(&(ip, op, ib, ob, tsc)) = tp.prev.get(&port.id()) {
        let cycles = now.saturating_sub(tsc);
        if cycles > 0 {
            let hz = time::tsc_hz() as u128;
            let rate = |d: u64| (d as u128 * hz / cycles as u128) as u64;
            pps_rx = rate(s.ipackets.saturating_sub(ip));
            pps_tx = rate(s.opackets.saturating_sub(op));
            bps_rx = rate(s.ibytes.saturating_sub(ib)) * 8;
            bps_tx = rate(s.obytes.saturating_sub(ob)) * 8;
        }
    }
    tp.prev
        .insert(port.id(), (s.ipackets, s.opackets, s.ibytes, s.obytes, now));
    format!(
        "\n  {BORDER} NIC statistics for port {:<2} {BORDER}\n\
         \x20 RX-packets: {:<10} RX-missed: {:<10} RX-bytes:  {}\n\
         \x20 RX-errors: {}\n\
         \x20 RX-nombuf:  {:<10}\n\
         \x20 TX-packets: {:<10} TX-errors: {:<10} TX-bytes:  {}\n\
         \n  Throughput (since last show)\n\
         \x20 Rx-pps: {pps_rx:>12}          Rx-bps: {bps_rx:>12}\n\
         \x20 Tx-pps: {pps_tx:>12}          Tx-bps: {bps_tx:>12}\n\
         \x20 {BORDER}############################{BORDER}\n",
        port.id(),
        s.ipackets,
        s.imissed,
        s.ibytes,
        s.ierrors,
        s.rx_nombuf,
        s.opackets,
        s.oerrors,
        s.obytes,
    )
}

fn fwd_lines(rx: u64, rx_dropped: u64, tx: u64, tx_dropped: u64) -> String {
    format!(
        "  RX-packets: {rx:<14} RX-dropped: {rx_dropped:<14}RX-total: {}\n  TX-packets: {tx:<14} TX-dropped: {tx_dropped:<14}TX-total: {}\n",
        rx + rx_dropped,
        tx + tx_dropped
    )
}

/// One stream's block (DPDK's `fwd_stream_stats_display`), printed when there are more
/// streams than ports; an unused stream prints nothing.
fn stream_stats(s: &Stream) -> String {
    if s.rx_packets == 0 && s.tx_packets == 0 && s.fwd_dropped == 0 {
        return String::new();
    }
    format!(
        "\n  ------- Forward Stats for RX Port={:2}/Queue={:2} -> TX Port={:2}/Queue={:2} -------\n  RX-packets: {:<14} TX-packets: {:<14} TX-dropped: {:<14}\n",
        s.rx_port, s.rx_queue, s.tx_port, s.tx_queue, s.rx_packets, s.tx_packets, s.fwd_dropped
    )
}

/// The forward statistics testpmd prints when forwarding stops: a block per stream when there
/// are more streams than ports, then per port, then the sum.
pub fn fwd_stats(ports: &[u16], streams: &[&Stream], imissed: &HashMap<u16, u64>) -> String {
    let mut out = String::new();
    if streams.len() > ports.len() {
        for s in streams {
            out.push_str(&stream_stats(s));
        }
    }
    let (mut trx, mut trxd, mut ttx, mut ttxd) = (0, 0, 0, 0);
    for &p in ports {
        let rx: u64 = streams
            .iter()
            .filter(|s| s.rx_port == p)
            .map(|s| s.rx_packets)
            .sum();
        let tx: u64 = streams
            .iter()
            .filter(|s| s.tx_port == p)
            .map(|s| s.tx_packets)
            .sum();
        let txd: u64 = streams
            .iter()
            .filter(|s| s.tx_port == p)
            .map(|s| s.fwd_dropped)
            .sum();
        let rxd = imissed.get(&p).copied().unwrap_or(0);
        out.push_str(&format!(
            "\n  ---------------------- Forward statistics for port {p:<2} ----------------------\n"
        ));
        out.push_str(&fwd_lines(rx, rxd, tx, txd));
        out.push_str(
            "  ----------------------------------------------------------------------------\n",
        );
        trx += rx;
        trxd += rxd;
        ttx += tx;
        ttxd += txd;
    }
    out.push_str(
        "\n  +++++++++++++++ Accumulated forward statistics for all ports+++++++++++++++\n",
    );
    out.push_str(&fwd_lines(trx, trxd, ttx, ttxd));
    out.push_str(
        "  ++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++\n",
    );
    out
}

/// `show port info N` (DPDK's `port_infos_display`, the parts that apply).
pub fn port_info(port: &Port) -> String {
    let info = port.info();
    let link = port.link();
    let onoff = |b: bool| if b { "enabled" } else { "disabled" };
    let speed = match link.speed {
        0 => "Unknown".to_string(),
        s if s % 1000 == 0 => format!("{} Gbps", s / 1000),
        s => format!("{s} Mbps"),
    };
    format!(
        "\n********************* Infos for port {:<2} *********************\n\
         MAC address: {}\n\
         Device name: {}\n\
         Driver name: {}\n\
         Connect to socket: {}\n\
         Link status: {}\n\
         Link speed: {speed}\n\
         Link duplex: {}\n\
         MTU: {}\n\
         Promiscuous mode: {}\n\
         Allmulticast mode: {}\n\
         Maximum number of MAC addresses: {}\n\
         Supported RSS offload flow types: {:#x}\n\
         Current number of RX queues: {}\n\
         Max possible RX queues: {}\n\
         Max possible number of RXDs per queue: {}\n\
         Min possible number of RXDs per queue: {}\n\
         Current number of TX queues: {}\n\
         Max possible TX queues: {}\n\
         Max possible number of TXDs per queue: {}\n\
         Min possible number of TXDs per queue: {}\n",
        port.id(),
        port.mac_addr(),
        port.name(),
        info.driver_name,
        port.socket_id(),
        if link.up { "up" } else { "down" },
        if link.full_duplex {
            "full-duplex"
        } else {
            "half-duplex"
        },
        port.mtu(),
        onoff(port.promiscuous()),
        onoff(port.allmulticast()),
        info.max_mac_addrs,
        info.flow_type_rss_offloads.0,
        port.nb_rx_queues(),
        info.max_rx_queues,
        info.rx_desc_lim.nb_max,
        info.rx_desc_lim.nb_min,
        port.nb_tx_queues(),
        info.max_tx_queues,
        info.tx_desc_lim.nb_max,
        info.tx_desc_lim.nb_min,
    )
}

/// `show port summary all`.
pub fn port_summary(ports: &[u16]) -> String {
    let mut out = format!(
        "Number of available ports: {}\nPort MAC Address       Name         Driver         Status   Link\n",
        ports.len()
    );
    for &p in ports {
        if let Ok(port) = Port::get(p) {
            let link = port.link();
            out.push_str(&format!(
                "{:<4} {} {:<12} {:<14} {:<8} {}\n",
                p,
                port.mac_addr(),
                port.name(),
                port.info().driver_name,
                if link.up { "up" } else { "down" },
                match link.speed {
                    0 => "None".to_string(),
                    s if s % 1000 == 0 => format!("{} Gbps", s / 1000),
                    s => format!("{s} Mbps"),
                }
            ));
        }
    }
    out
}

/// `show port N rss-hash [key]` (DPDK's `port_rss_hash_conf_show`): the hash types by name,
/// and the key in hex.
pub fn rss_hash(c: &rpdk_ethdev::RssConf, key: bool) -> String {
    use rpdk_ethdev::RssHf;
    if c.hf == RssHf::NONE {
        return "RSS disabled\n".into();
    }
    let names: Vec<&str> = [
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
    ]
    .into_iter()
    .filter(|(_, f)| c.hf.intersects(*f))
    .map(|(n, _)| n)
    .collect();
    let mut out = format!("RSS functions:\n  {}\n", names.join(" "));
    if key && let Some(k) = &c.key {
        out.push_str("RSS key:\n");
        out.extend(k.iter().map(|b| format!("{b:02X}")));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_hash_names_types_and_key() {
        use rpdk_ethdev::{RssConf, RssHf};
        let c = RssConf {
            key: Some(vec![0x6d, 0x5a]),
            hf: RssHf::NONFRAG_IPV4_UDP | RssHf::IPV4,
        };
        assert_eq!(
            rss_hash(&c, true),
            "RSS functions:\n  ipv4 ipv4-udp\nRSS key:\n6D5A\n"
        );
        assert_eq!(rss_hash(&RssConf::default(), false), "RSS disabled\n");
    }

    #[test]
    fn forward_lines_match_testpmd() {
        assert_eq!(
            fwd_lines(156525248, 0, 156525248, 0),
            "  RX-packets: 156525248      RX-dropped: 0             RX-total: 156525248\n  TX-packets: 156525248      TX-dropped: 0             TX-total: 156525248\n"
        );
    }
}
