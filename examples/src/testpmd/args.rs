//! testpmd's command line (after `--`), with DPDK testpmd's names and defaults.

use clap::{Parser, ValueEnum};
use rpdk_mbuf::net::MacAddr;

use super::fwd::{self, FwdEngine};

/// How ports pair up for forwarding (`--port-topology`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Topology {
    /// 0 <-> 1, 2 <-> 3...
    Paired,
    /// 0 -> 1 -> 2 ... -> 0.
    Chained,
    /// Every port to itself.
    Loop,
}

/// testpmd's options.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "testpmd",
    about = "DPDK's testpmd on rpdk: forward and measure packets"
)]
pub struct Args {
    /// Interactive mode: a `testpmd>` prompt reads commands.
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Start forwarding at once in interactive mode.
    #[arg(short = 'a', long = "auto-start")]
    pub auto_start: bool,
    /// Send a burst of packets on every port before forwarding.
    #[arg(long = "tx-first")]
    pub tx_first: bool,
    /// Print port statistics every PERIOD seconds (non-interactive).
    #[arg(long = "stats-period", value_name = "PERIOD")]
    pub stats_period: Option<u64>,
    /// Forwarding engine.
    #[arg(long = "forward-mode", value_name = "MODE", default_value = "io", value_parser = fwd::parse_mode)]
    pub forward_mode: &'static FwdEngine,
    /// Forwarding cores (worker lcores); default: all workers, at most one per stream.
    #[arg(long = "nb-cores", value_parser = clap::value_parser!(u32).range(1..=128))]
    pub nb_cores: Option<u32>,
    /// Ports to use (first N).
    #[arg(long = "nb-ports", value_parser = clap::value_parser!(u16).range(1..=32))]
    pub nb_ports: Option<u16>,
    /// Hexadecimal mask of ports to use.
    #[arg(long = "portmask", value_parser = parse_hex)]
    pub portmask: Option<u64>,
    /// RX queues per port.
    #[arg(long = "rxq", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub rxq: u16,
    /// TX queues per port.
    #[arg(long = "txq", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub txq: u16,
    /// RX descriptors per queue (0: the driver's default).
    #[arg(long = "rxd", default_value_t = 1024)]
    pub rxd: u16,
    /// TX descriptors per queue.
    #[arg(long = "txd", default_value_t = 1024)]
    pub txd: u16,
    /// Packets per burst.
    #[arg(long = "burst", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=512))]
    pub burst: u16,
    /// Segment lengths of generated packets (txonly, flowgen, --tx-first), e.g. 64 or 64,64.
    #[arg(long = "txpkts", value_parser = parse_txpkts, default_value = "64")]
    pub txpkts: TxPkts,
    /// Destination MAC of a port's packets in mac mode: PORT,XX:XX:XX:XX:XX:XX (repeatable).
    #[arg(long = "eth-peer", value_parser = parse_peer)]
    pub eth_peer: Vec<(u16, MacAddr)>,
    /// Mbufs in the pool (default: enough for every queue's descriptors and caches).
    #[arg(long = "total-num-mbufs")]
    pub total_num_mbufs: Option<u32>,
    /// Mempool cache per lcore.
    #[arg(long = "mbcache", default_value_t = 250, value_parser = clap::value_parser!(u32).range(0..=512))]
    pub mbcache: u32,
    /// How ports pair up.
    #[arg(long = "port-topology", value_enum, default_value_t = Topology::Paired)]
    pub port_topology: Topology,
    /// Flows of the flowgen engine.
    #[arg(long = "flowgen-flows", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub flowgen_flows: u32,
    /// RSS on IP addresses (with --rxq > 1).
    #[arg(long = "rss-ip")]
    pub rss_ip: bool,
    /// RSS on IP addresses and UDP ports.
    #[arg(long = "rss-udp")]
    pub rss_udp: bool,
    /// No RSS, even with --rxq > 1 (each queue gets what its device queue, or nothing).
    #[arg(long = "disable-rss")]
    pub disable_rss: bool,
    /// Do not drain RX queues before forwarding.
    #[arg(long = "no-flush-rx")]
    pub no_flush_rx: bool,
    /// RX offloads of every port, a hexadecimal mask of `RTE_ETH_RX_OFFLOAD_*` bits.
    #[arg(long = "rx-offloads", default_value = "0", value_parser = parse_hex)]
    pub rx_offloads: u64,
    /// TX offloads of every port, a hexadecimal mask of `RTE_ETH_TX_OFFLOAD_*` bits.
    #[arg(long = "tx-offloads", default_value = "0", value_parser = parse_hex)]
    pub tx_offloads: u64,
    /// Drop packets on an RX queue with no free descriptor.
    #[arg(long = "enable-drop-en")]
    pub enable_drop_en: bool,
    /// RX free threshold of each queue (0: the driver's choice).
    #[arg(long = "rxfreet", default_value_t = 0)]
    pub rxfreet: u16,
    /// TX free threshold of each queue (0: the driver's choice).
    #[arg(long = "txfreet", default_value_t = 0)]
    pub txfreet: u16,
    /// Turn promiscuous mode off (testpmd turns it on by default).
    #[arg(long = "no-promisc")]
    pub no_promisc: bool,
    /// Hairpin queues per port, after the --rxq/--txq ones (moved by an EAL service).
    #[arg(long = "hairpinq", default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=16))]
    pub hairpinq: u16,
    /// Hairpin port mode, DPDK's bits: 0x00 each port to itself, 0x01 ports in a loop
    /// (0 -> 1 -> ... -> 0), 0x02 ports paired (0 <-> 1), 0x10 explicit TX flow rules.
    #[arg(long = "hairpin-mode", default_value = "0", value_parser = parse_hex)]
    pub hairpin_mode: u64,
    /// Commands to run before the prompt (or before forwarding starts without `-i`), one a
    /// line, as if typed.
    #[arg(long = "cmdline-file", value_name = "FILE")]
    pub cmdline_file: Option<String>,
    /// rpdk only: one empty RX callback on every forwarding RX queue (measures the cost of
    /// the callback path of the software stage).
    #[arg(long = "noop-rx-callbacks")]
    pub noop_rx_callbacks: bool,
}

/// Segment lengths of generated packets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxPkts(pub Vec<u16>);

impl TxPkts {
    /// Total packet length.
    pub fn total(&self) -> usize {
        self.0.iter().map(|&l| l as usize).sum()
    }
}

fn parse_hex(s: &str) -> Result<u64, String> {
    let h = s.trim_start_matches("0x").trim_start_matches("0X");
    u64::from_str_radix(h, 16).map_err(|_| format!("'{s}' is not a hexadecimal mask"))
}

fn parse_txpkts(s: &str) -> Result<TxPkts, String> {
    let segs: Vec<u16> = s
        .split(',')
        .map(|p| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| format!("'{p}' is not a segment length"))
        })
        .collect::<Result<_, _>>()?;
    let total: usize = segs.iter().map(|&l| l as usize).sum();
    if segs.contains(&0) {
        return Err("segment lengths must be above 0".into());
    }
    // Ethernet, IPv4 and UDP headers must fit, in the first segment.
    if segs[0] < 42 || total > 9000 {
        return Err(format!(
            "the first segment must hold the 42 bytes of headers and the packet at most 9000 bytes (got {s})"
        ));
    }
    Ok(TxPkts(segs))
}

fn parse_peer(s: &str) -> Result<(u16, MacAddr), String> {
    let (p, m) = s
        .split_once(',')
        .ok_or_else(|| format!("'{s}' is not PORT,MAC"))?;
    let port = p
        .trim()
        .parse::<u16>()
        .map_err(|_| format!("'{p}' is not a port number"))?;
    let mac = m.trim().parse::<MacAddr>()?;
    Ok((port, mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("testpmd").chain(args.iter().copied()))
    }

    #[test]
    fn testpmd_spellings() {
        let a = parse(&[
            "--forward-mode=macswap",
            "--nb-cores=2",
            "--rxq=2",
            "--txq",
            "2",
            "--burst=64",
            "--txpkts=60,40",
            "--tx-first",
            "--stats-period=1",
            "--eth-peer=1,02:00:00:00:00:09",
            "-i",
        ])
        .unwrap();
        assert_eq!(a.forward_mode.name, "macswap");
        assert_eq!((a.nb_cores, a.rxq, a.txq, a.burst), (Some(2), 2, 2, 64));
        assert_eq!(a.txpkts, TxPkts(vec![60, 40]));
        assert!(a.tx_first && a.interactive);
        assert_eq!(a.stats_period, Some(1));
        assert_eq!(a.eth_peer[0].0, 1);
        let h = parse(&["--hairpinq=2", "--hairpin-mode=0x12", "--rss-udp"]).unwrap();
        assert_eq!((h.hairpinq, h.hairpin_mode, h.rss_udp), (2, 0x12, true));
        assert!(parse(&["--disable-rss"]).unwrap().disable_rss);
        let d = parse(&[]).unwrap();
        assert_eq!(
            (d.forward_mode.name, d.burst, d.txpkts.total(), d.mbcache),
            ("io", 32, 64, 250)
        );
    }

    #[test]
    fn bad_values_name_the_option() {
        for (args, want) in [
            (&["--forward-mode=warp"][..], "--forward-mode"),
            (&["--burst=0"], "--burst"),
            (&["--txpkts=10"], "42 bytes of headers"),
            (
                &["--eth-peer=x,02:00:00:00:00:01"],
                "'x' is not a port number",
            ),
            (&["--eth-peer=0,zz"], "not a MAC address"),
            (&["--portmask=0xg"], "not a hexadecimal mask"),
            (&["--hairpinq=17"], "--hairpinq"),
            (&["--hairpin-mode=0xzz"], "not a hexadecimal mask"),
            (&["--bogus"], "--bogus"),
        ] {
            let e = parse(args).unwrap_err().to_string();
            assert!(e.contains(want), "{args:?}: {e}");
        }
    }
}
