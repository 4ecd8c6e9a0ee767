//! The parts of `rpdk-proc-info` (DPDK 22.11's `dpdk-proc-info`): its command line and what
//! each option prints, in DPDK's formats, to any writer.
//!
//! ```text
//! rpdk-proc-info [EAL options] -- [-p PORTMASK] [-m] [--stats | --xstats | --stats-reset |
//!     --xstats-reset | --xstats-name NAME | --xstats-ids IDLIST] [--show-port]
//!     [--show-ring[=NAME]] [--show-mempool[=NAME]] [--version]
//! ```

use std::io::{self, Write};

use rpdk_ethdev::remote::{self, RemotePort};
use rpdk_ethdev::{Port, QUEUE_STAT_CNTRS, Stats, rx_offload, tx_offload};
use rpdk_mempool::{Mempool, MempoolFlags};

/// A port to report on: the process's own (a primary), or the primary's seen from a
/// secondary, whose counters come over IPC (`rpdk_ethdev::remote`).
pub enum PortRef {
    /// A port of this process.
    Local(Port),
    /// A port of the primary.
    Remote(RemotePort),
}

fn eth_err(e: rpdk_ethdev::EthError) -> io::Error {
    io::Error::other(e.to_string())
}

impl PortRef {
    /// The ports of this process, or (in a secondary) of the primary, in id order.
    pub fn all() -> io::Result<Vec<PortRef>> {
        if rpdk_eal::process_type() == Some(rpdk_eal::options::ProcType::Secondary) {
            let ports = remote::ports().map_err(eth_err)?;
            return Ok(ports.into_iter().map(PortRef::Remote).collect());
        }
        Ok(rpdk_ethdev::ports()
            .into_iter()
            .filter_map(|id| Port::get(id).ok())
            .map(PortRef::Local)
            .collect())
    }

    /// Its id.
    pub fn id(&self) -> u16 {
        match self {
            PortRef::Local(p) => p.id(),
            PortRef::Remote(r) => r.id,
        }
    }

    fn stats(&self) -> io::Result<Stats> {
        match self {
            PortRef::Local(p) => Ok(p.stats()),
            PortRef::Remote(r) => remote::stats(r.id).map_err(eth_err),
        }
    }

    fn xstats(&self) -> io::Result<Vec<(String, u64)>> {
        match self {
            PortRef::Local(p) => Ok(p.xstats()),
            PortRef::Remote(r) => remote::xstats(r.id).map_err(eth_err),
        }
    }

    fn stats_reset(&self) -> io::Result<()> {
        match self {
            PortRef::Local(p) => {
                p.stats_reset();
                Ok(())
            }
            PortRef::Remote(r) => remote::stats_reset(r.id).map_err(eth_err),
        }
    }

    fn xstats_reset(&self) -> io::Result<()> {
        match self {
            PortRef::Local(p) => {
                p.xstats_reset();
                Ok(())
            }
            PortRef::Remote(r) => remote::xstats_reset(r.id).map_err(eth_err),
        }
    }
}

const BORDER: &str = "########################";
/// DPDK's `STATS_BDR_FMT`.
const BDR_FMT: &str = "==========================================";

/// What to print.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `-p`: the ports (0: every port).
    pub portmask: u64,
    /// `-m`: memory zones.
    pub mem_info: bool,
    /// `--stats`. As DPDK 22.11's, nothing is on by default, whatever the usage says: with no
    /// option at all the program prints its usage and nothing else.
    pub stats: bool,
    /// `--xstats`.
    pub xstats: bool,
    /// `--stats-reset`.
    pub stats_reset: bool,
    /// `--xstats-reset`.
    pub xstats_reset: bool,
    /// `--xstats-name NAME`.
    pub xstats_name: Option<String>,
    /// `--xstats-ids LIST`.
    pub xstats_ids: Vec<u64>,
    /// `--show-port`.
    pub show_port: bool,
    /// `--show-ring[=NAME]`: `Some(None)` lists every ring.
    pub show_ring: Option<Option<String>>,
    /// `--show-mempool[=NAME]`.
    pub show_mempool: Option<Option<String>>,
    /// `--version`.
    pub version: bool,
}

/// The usage text.
pub fn usage(prog: &str) -> String {
    format!(
        "{prog} [EAL options] -- -p PORTMASK\n\
         \x20 -m to display DPDK memory zones, segments and TAILQ information\n\
         \x20 -p PORTMASK: hexadecimal bitmask of ports to retrieve stats for\n\
         \x20 --stats: to display port statistics, enabled by default\n\
         \x20 --xstats: to display extended port statistics, disabled by default\n\
         \x20 --xstats-name NAME: to display single xstat id by NAME\n\
         \x20 --xstats-ids IDLIST: to display xstat values by id. The argument is comma-separated list of xstat ids to print out.\n\
         \x20 --stats-reset: to reset port statistics\n\
         \x20 --xstats-reset: to reset port extended statistics\n\
         \x20 --show-port: to display ports information\n\
         \x20 --show-ring[=name]: to display ring information\n\
         \x20 --show-mempool[=name]: to display mempool information\n\
         \x20 --version: to display DPDK version\n"
    )
}

/// Parses the arguments after the EAL's.
pub fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> Result<String, String> {
            it.next()
                .cloned()
                .ok_or_else(|| format!("option '{name}' needs a value"))
        };
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        match name {
            "-p" => {
                let v = value("-p")?;
                let hex = v.trim_start_matches("0x");
                o.portmask = u64::from_str_radix(hex, 16)
                    .ok()
                    .filter(|&m| m != 0)
                    .ok_or_else(|| format!("invalid portmask '{v}'"))?;
            }
            "-m" => o.mem_info = true,
            "--stats" => o.stats = true,
            "--xstats" => o.xstats = true,
            "--stats-reset" => o.stats_reset = true,
            "--xstats-reset" => o.xstats_reset = true,
            "--xstats-name" => o.xstats_name = Some(inline.map_or_else(|| value(name), Ok)?),
            "--xstats-ids" => {
                let v = inline.map_or_else(|| value(name), Ok)?;
                o.xstats_ids = v
                    .split(',')
                    .map(|x| x.trim().parse::<u64>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| "xstats-id list parse error.".to_string())?;
            }
            "--show-port" => o.show_port = true,
            "--show-ring" => o.show_ring = Some(inline.filter(|s| !s.is_empty())),
            "--show-mempool" => o.show_mempool = Some(inline.filter(|s| !s.is_empty())),
            "--version" => o.version = true,
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    Ok(o)
}

/// DPDK's `STATS_BDR_STR(w, s)`.
fn border(w: &mut dyn Write, width: usize, s: &str) -> io::Result<()> {
    writeln!(w, "{}{s}{}", &BDR_FMT[..width], &BDR_FMT[..width])
}

/// `--stats` for one port (DPDK's `nic_stats_display`).
pub fn nic_stats(w: &mut dyn Write, port: &PortRef) -> io::Result<()> {
    let s = port.stats()?;
    writeln!(
        w,
        "\n  {BORDER} NIC statistics for port {:<2} {BORDER}",
        port.id()
    )?;
    writeln!(
        w,
        "  RX-packets: {:<10}  RX-errors:  {:<10}  RX-bytes:  {:<10}",
        s.ipackets, s.ierrors, s.ibytes
    )?;
    writeln!(w, "  RX-nombuf:  {:<10}", s.rx_nombuf)?;
    writeln!(
        w,
        "  TX-packets: {:<10}  TX-errors:  {:<10}  TX-bytes:  {:<10}",
        s.opackets, s.oerrors, s.obytes
    )?;
    writeln!(w)?;
    for i in 0..QUEUE_STAT_CNTRS {
        writeln!(
            w,
            "  Stats reg {i:2} RX-packets: {:<10}  RX-errors: {:<10}  RX-bytes: {:<10}",
            s.q_ipackets[i], s.q_errors[i], s.q_ibytes[i]
        )?;
    }
    writeln!(w)?;
    for i in 0..QUEUE_STAT_CNTRS {
        writeln!(
            w,
            "  Stats reg {i:2} TX-packets: {:<10}  TX-bytes: {:<10}",
            s.q_opackets[i], s.q_obytes[i]
        )?;
    }
    writeln!(w, "  {BORDER}############################{BORDER}")
}

/// `--stats-reset` (DPDK's `nic_stats_clear`).
pub fn nic_stats_clear(w: &mut dyn Write, port: &PortRef) -> io::Result<()> {
    writeln!(w, "\n Clearing NIC stats for port {}", port.id())?;
    port.stats_reset()?;
    writeln!(w, "\n  NIC statistics for port {} cleared", port.id())
}

/// `--xstats` (DPDK's `nic_xstats_display`).
pub fn nic_xstats(w: &mut dyn Write, port: &PortRef) -> io::Result<()> {
    writeln!(
        w,
        "###### NIC extended statistics for port {:<2} #########",
        port.id()
    )?;
    writeln!(w, "{BORDER}############################")?;
    for (name, v) in port.xstats()? {
        writeln!(w, "{name}: {v}")?;
    }
    writeln!(w, "{BORDER}############################")
}

/// `--xstats-name NAME` (DPDK's `nic_xstats_by_name_display`).
pub fn nic_xstats_by_name(w: &mut dyn Write, port: &PortRef, name: &str) -> io::Result<()> {
    writeln!(
        w,
        "###### NIC statistics for port {:<2}, statistic name '{name}':",
        port.id()
    )?;
    match port.xstats()?.into_iter().find(|(n, _)| n == name) {
        Some((_, v)) => writeln!(w, "{name}: {v}"),
        None => writeln!(w, "Statistic not found..."),
    }
}

/// `--xstats-ids LIST` (DPDK's `nic_xstats_by_ids_display`): ids index the xstats list.
pub fn nic_xstats_by_ids(w: &mut dyn Write, port: &PortRef, ids: &[u64]) -> io::Result<()> {
    let x = port.xstats()?;
    writeln!(
        w,
        "###### NIC extended statistics for port {:<2} #########",
        port.id()
    )?;
    writeln!(w, "{BORDER}############################")?;
    for &id in ids {
        match x.get(id as usize) {
            Some((name, v)) => writeln!(w, "{name}: {v}")?,
            None => {
                writeln!(w, "Error getting extended statistics")?;
                break;
            }
        }
    }
    writeln!(w, "{BORDER}############################")
}

/// `--xstats-reset` (DPDK's `nic_xstats_clear`).
pub fn nic_xstats_clear(w: &mut dyn Write, port: &PortRef) -> io::Result<()> {
    writeln!(w, "\n Clearing NIC xstats for port {}", port.id())?;
    port.xstats_reset()?;
    writeln!(
        w,
        "\n  NIC extended statistics for port {} cleared",
        port.id()
    )
}

/// DPDK's `show_offloads`: ` offloads :` and the name of each bit, lowest first.
fn offloads(w: &mut dyn Write, bits: u64, name: fn(u64) -> &'static str) -> io::Result<()> {
    write!(w, " offloads :")?;
    let mut left = bits;
    while left != 0 {
        let bit = left & left.wrapping_neg();
        write!(w, " {}", name(bit))?;
        left &= !bit;
    }
    Ok(())
}

/// `--show-port` (DPDK's `show_port`) for the ports of `ports`. A primary's port seen from a
/// secondary shows what the primary tells over IPC (driver, device, socket, link, MAC) and
/// what the shared port data holds (modes, MTU, each queue's set-up, RSS). rpdk has no port
/// owners, flow control, queue fill counts, deferred start or burst modes: those parts of
/// DPDK's output are left out, as DPDK leaves them out for a driver without them.
pub fn show_port(w: &mut dyn Write, ports: &[PortRef]) -> io::Result<()> {
    border(w, 10, " show - Port PMD ")?;
    let on = |b: bool| if b { "enabled" } else { "disabled" };
    for pr in ports {
        let port = match pr {
            PortRef::Local(p) => p.clone(),
            PortRef::Remote(r) => Port::get(r.id).map_err(eth_err)?,
        };
        border(w, 5, &format!(" Port {} ", pr.id()))?;
        writeln!(w, "  - generic config")?;
        let (driver, device, socket, link, mac) = match pr {
            PortRef::Remote(r) => (r.driver.clone(), r.name.clone(), r.socket, r.link, r.mac),
            PortRef::Local(p) => (
                p.info().driver_name.to_string(),
                p.name().to_string(),
                p.socket_id(),
                p.link(),
                p.mac_addr(),
            ),
        };
        writeln!(w, "\t  -- driver {driver} device {device} socket {socket}")?;
        writeln!(w, "\t{link}")?;
        writeln!(w, "\t  -- mac {mac}")?;
        writeln!(w, "\t  -- promiscuous mode {}", on(port.promiscuous()))?;
        writeln!(w, "\t  -- all multicast mode {}", on(port.allmulticast()))?;
        writeln!(w, "\t  -- mtu ({})", port.mtu())?;
        // As DPDK: the queues up to the first one without information.
        for q in 0..port.nb_rx_queues() {
            let Ok(i) = port.rx_queue_info(q) else { break };
            if q == 0 {
                writeln!(w, "  - rx queue")?;
            }
            write!(w, "\t  -- {q} descriptors {}", i.nb_desc)?;
            if i.scattered_rx {
                write!(w, " scattered")?;
            }
            if i.conf.rx_drop_en {
                write!(w, " drop_en")?;
            }
            if i.rx_buf_size != 0 {
                write!(w, " rx buffer size {}", i.rx_buf_size)?;
            }
            write!(w, " mempool {} socket {}", i.pool_name, i.pool_socket)?;
            if i.conf.offloads != 0 {
                offloads(w, i.conf.offloads, rx_offload::name)?;
            }
            writeln!(w)?;
        }
        for q in 0..port.nb_tx_queues() {
            let Ok(i) = port.tx_queue_info(q) else { break };
            if q == 0 {
                writeln!(w, "  - tx queue")?;
            }
            // rpdk's TX queues have no RS threshold: 0, as DPDK shows a driver's default.
            write!(
                w,
                "\t  -- {q} descriptors {} thresh 0/{}",
                i.nb_desc, i.conf.tx_free_thresh
            )?;
            if i.conf.offloads != 0 {
                offloads(w, i.conf.offloads, tx_offload::name)?;
            }
            writeln!(w)?;
        }
        if let Ok(rss) = port.rss_hash_conf_get() {
            let key = rss
                .key
                .unwrap_or_else(|| rpdk_ethdev::rss::DEFAULT_RSS_KEY.to_vec());
            writeln!(w, "  - RSS")?;
            write!(w, "\t  -- RSS len {} key (hex):", key.len())?;
            for b in &key {
                write!(w, " {b:x}")?;
            }
            writeln!(w, "\t  -- hf {:#x}", rss.hf.0)?;
        }
    }
    Ok(())
}

/// `--show-ring[=NAME]` (DPDK's `show_ring`): one ring, or every ring's dump.
pub fn show_ring(w: &mut dyn Write, name: Option<&str>) -> io::Result<()> {
    border(w, 10, " show - RING ")?;
    if let Some(r) = name.and_then(rpdk_ring::info) {
        use rpdk_ring::RingFlags;
        writeln!(w, "  - Name ({}) on socket ({})", r.name, r.socket)?;
        writeln!(w, "  - flags:")?;
        writeln!(
            w,
            "\t  -- Single Producer Enqueue ({})",
            r.flags.bits() & RingFlags::SP_ENQ.bits()
        )?;
        writeln!(
            w,
            "\t  -- Single Consumer Dequeue ({})",
            r.flags.bits() & RingFlags::SC_DEQ.bits()
        )?;
        writeln!(
            w,
            "  - size ({}) mask ({:#x}) capacity ({})",
            r.size, r.mask, r.capacity
        )?;
        writeln!(w, "  - count ({}) free count ({})", r.count, r.free_count())?;
        writeln!(
            w,
            "  - full ({}) empty ({})",
            (r.count == r.capacity) as u8,
            (r.count == 0) as u8
        )?;
        return border(w, 50, "");
    }
    rpdk_ring::list_dump(w)
}

/// `--show-mempool[=NAME]` (DPDK's `show_mempool`): one pool, or every pool's dump.
pub fn show_mempool(w: &mut dyn Write, name: Option<&str>) -> io::Result<()> {
    border(w, 10, " show - MEMPOOL ")?;
    if let Some(p) = name.and_then(Mempool::lookup) {
        let f = p.flags();
        let yn = |flag: MempoolFlags| if f.contains(flag) { 'y' } else { 'n' };
        writeln!(w, "  - Name: {} on socket {}", p.name(), p.socket_id())?;
        writeln!(w, "  - flags:")?;
        writeln!(w, "\t  -- No spread ({})", yn(MempoolFlags::NO_SPREAD))?;
        writeln!(
            w,
            "\t  -- No cache align ({})",
            yn(MempoolFlags::NO_CACHE_ALIGN)
        )?;
        writeln!(
            w,
            "\t  -- SP put ({}), SC get ({})",
            yn(MempoolFlags::SP_PUT),
            yn(MempoolFlags::SC_GET)
        )?;
        writeln!(w, "\t  -- Pool created (y)")?;
        writeln!(
            w,
            "\t  -- No IOVA config ({})",
            yn(MempoolFlags::NO_IOVA_CONTIG)
        )?;
        writeln!(w, "\t  -- Not used for IO ({})", yn(MempoolFlags::NON_IO))?;
        let s = p.obj_size();
        writeln!(
            w,
            "  - Size {} Cache {} element {}",
            p.size(),
            p.cache_size(),
            s.elt_size
        )?;
        writeln!(w, "  - header {} trailer {}", s.header_size, s.trailer_size)?;
        writeln!(w, "  - private data size {}", p.private_data().1)?;
        writeln!(w, "  - memezone - socket {}", p.socket_id())?;
        writeln!(
            w,
            "  - Count: avail ({}), in use ({})",
            p.avail_count(),
            p.in_use_count()
        )?;
        return writeln!(w, "  - ops_index {} ops_name {}", p.ops() as u32, p.ops());
    }
    for p in Mempool::list() {
        p.dump(w)?;
    }
    Ok(())
}

/// `-m` (DPDK's `meminfo_display`): the memory zones.
pub fn meminfo(w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "------------ MEMORY_ZONES -------------")?;
    rpdk_eal::memzone::dump(w).map_err(io::Error::other)?;
    writeln!(w, "---------- END_MEMORY_ZONES -----------")
}

/// Runs `o` over `ports` (those of the portmask), writing to `w`, in DPDK's order.
pub fn run(w: &mut dyn Write, o: &Options, ports: &[PortRef]) -> io::Result<()> {
    if o.mem_info {
        return meminfo(w);
    }
    for p in ports {
        if o.stats {
            nic_stats(w, p)?;
        } else if o.xstats {
            nic_xstats(w, p)?;
        } else if o.stats_reset {
            nic_stats_clear(w, p)?;
        } else if o.xstats_reset {
            nic_xstats_clear(w, p)?;
        } else if let Some(n) = &o.xstats_name {
            nic_xstats_by_name(w, p, n)?;
        } else if !o.xstats_ids.is_empty() {
            nic_xstats_by_ids(w, p, &o.xstats_ids)?;
        }
    }
    if o.show_port {
        show_port(w, ports)?;
    }
    if let Some(n) = &o.show_ring {
        show_ring(w, n.as_deref())?;
    }
    if let Some(n) = &o.show_mempool {
        show_mempool(w, n.as_deref())?;
    }
    if o.version {
        writeln!(w, "rpdk {}", env!("CARGO_PKG_VERSION"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Result<Options, String> {
        parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn offloads_are_named_lowest_bit_first() {
        let text = |bits: u64, name: fn(u64) -> &'static str| {
            let mut v = Vec::new();
            offloads(&mut v, bits, name).unwrap();
            String::from_utf8(v).unwrap()
        };
        assert_eq!(
            text(
                rx_offload::RSS_HASH | rx_offload::VLAN_STRIP,
                rx_offload::name
            ),
            " offloads : VLAN_STRIP RSS_HASH"
        );
        // Bit 8 has no RX name in DPDK 22.11; bit 63 has none either way.
        assert_eq!(
            text(1 << 8 | 1 << 63, rx_offload::name),
            " offloads : UNKNOWN UNKNOWN"
        );
        assert_eq!(
            text(tx_offload::MBUF_FAST_FREE | 1 << 21, tx_offload::name),
            " offloads : MBUF_FAST_FREE SEND_ON_TIMESTAMP"
        );
        assert_eq!(rx_offload::name(0), "UNKNOWN");
        assert_eq!(rx_offload::name(3), "UNKNOWN", "two bits");
    }

    #[test]
    fn options() {
        assert_eq!(args(&[]).unwrap(), Options::default(), "nothing by default");
        let o = args(&["-p", "3", "--xstats", "--show-ring=r", "--show-mempool"]).unwrap();
        assert_eq!(o.portmask, 3);
        assert!(o.xstats && !o.stats);
        assert_eq!(o.show_ring, Some(Some("r".into())));
        assert_eq!(o.show_mempool, Some(None));
        assert_eq!(args(&["--xstats-ids", "1,4"]).unwrap().xstats_ids, [1, 4]);
        assert!(
            args(&["--xstats-ids", "x"])
                .unwrap_err()
                .contains("parse error")
        );
        assert!(args(&["-p", "0"]).unwrap_err().contains("portmask"));
        assert!(args(&["--bogus"]).unwrap_err().contains("'--bogus'"));
    }
}
