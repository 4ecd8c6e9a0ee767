//! A pcapng file fed from a capture ring: one interface description per port and direction,
//! the capture's mbufs written with their interface index, and the statistics at the end.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use rpdk_ethdev::Port;
use rpdk_mbuf::Mbuf;

use crate::pcapng::block::EpbView;
use crate::pcapng::{Direction, Interface, InterfaceStats, Section, Writer, now_ns};
use crate::request::PortDesc;

/// The interface description of `port` in direction `dir` (see [`interface`]).
pub fn describe(port: &Port, dir: Direction, snaplen: u32) -> Interface {
    let link = port.link();
    let desc = PortDesc {
        id: port.id(),
        name: port.name().to_string(),
        if_name: port.info().if_index.and_then(kernel_if_name),
        mac: port.mac_addr().0,
        speed_mbps: if link.up { link.speed } else { 0 },
        ..PortDesc::default()
    };
    interface(&desc, dir, snaplen)
}

/// The interface description of a port in direction `dir`: the kernel's interface name when
/// the port has one (DPDK: `if_indextoname`), else `rpdk:<port>`; a description naming the
/// port, its device and the direction; `<bus>-<device>` as the hardware; MAC and link speed.
pub fn interface(p: &PortDesc, dir: Direction, snaplen: u32) -> Interface {
    let ifname = p
        .if_name
        .clone()
        .unwrap_or_else(|| format!("rpdk:{}", p.id));
    let bus = if p.name.starts_with("net_") {
        "vdev"
    } else {
        "pci"
    };
    Interface {
        description: Some(format!("rpdk port {} ({}) {}", p.id, p.name, dir.as_str())),
        hardware: Some(format!("{bus}-{}", p.name)),
        mac: Some(p.mac),
        speed: (p.speed_mbps > 0).then(|| p.speed_mbps as u64 * 1_000_000),
        ..Interface::ethernet(&ifname, snaplen)
    }
}

/// The name of kernel interface `index`, from sysfs.
pub(crate) fn kernel_if_name(index: u32) -> Option<String> {
    std::fs::read_dir("/sys/class/net")
        .ok()?
        .flatten()
        .find(|e| {
            std::fs::read_to_string(e.path().join("ifindex"))
                .is_ok_and(|s| s.trim().parse() == Ok(index))
        })
        .and_then(|e| e.file_name().into_string().ok())
}

/// A pcapng file the capture's mbufs go into.
pub struct PcapngSink<W: Write = BufWriter<File>> {
    writer: Writer<W>,
    interfaces: HashMap<(u16, Direction), u32>,
    start_ns: u64,
    written: u64,
}

impl PcapngSink<BufWriter<File>> {
    /// Creates (truncates) the file at `path` and writes its section header.
    pub fn create(path: &Path) -> io::Result<PcapngSink> {
        let f = File::create(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        PcapngSink::new(BufWriter::with_capacity(1 << 16, f))
    }
}

impl<W: Write> PcapngSink<W> {
    /// A sink writing to `out`.
    pub fn new(out: W) -> io::Result<PcapngSink<W>> {
        Ok(PcapngSink {
            writer: Writer::new(out, &Section::default())?,
            interfaces: HashMap::new(),
            start_ns: now_ns(),
            written: 0,
        })
    }

    /// Describes `port` in `dir` (once; later calls return the same index).
    pub fn add_interface(&mut self, port: u16, dir: Direction, i: &Interface) -> io::Result<u32> {
        if let Some(&i) = self.interfaces.get(&(port, dir)) {
            return Ok(i);
        }
        let idx = self.writer.add_interface(i)?;
        self.interfaces.insert((port, dir), idx);
        Ok(idx)
    }

    /// Writes one capture mbuf (a block formatted by the capture callbacks, its port in the
    /// mbuf's `port` field). An error for an mbuf that is not one, or of a port and direction
    /// without an interface.
    pub fn write_mbuf(&mut self, m: &Mbuf) -> io::Result<()> {
        let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
        let data = m.data();
        let epb = EpbView::parse(data).ok_or_else(|| bad("not a capture mbuf".into()))?;
        let dir = Direction::from_flags(epb.flags).ok_or_else(|| {
            bad(format!(
                "capture mbuf without a direction ({:#x})",
                epb.flags
            ))
        })?;
        let idx = *self.interfaces.get(&(m.port(), dir)).ok_or_else(|| {
            bad(format!(
                "no interface for port {} {}",
                m.port(),
                dir.as_str()
            ))
        })?;
        self.writer.write_epb(idx, data)?;
        self.written += 1;
        Ok(())
    }

    /// Packets written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Writes an interface statistics block for `port` in `dir` from the capture's counters:
    /// `isb_ifrecv` what the capture saw, `isb_ifdrop` what it lost (empty pool, full ring),
    /// `isb_osdrop` what the port itself dropped before (when given), the capture's start and
    /// end times.
    pub fn write_stats(
        &mut self,
        port: u16,
        dir: Direction,
        s: &crate::PdumpStats,
        port_drops: Option<u64>,
    ) -> io::Result<()> {
        let Some(&idx) = self.interfaces.get(&(port, dir)) else {
            return Ok(());
        };
        let end = now_ns();
        self.writer.write_stats(
            idx,
            &InterfaceStats {
                timestamp_ns: end,
                start_ns: Some(self.start_ns),
                end_ns: Some(end),
                ifrecv: Some(s.seen()),
                ifdrop: Some(s.dropped()),
                osdrop: port_drops,
                comment: None,
            },
        )
    }

    /// Flushes the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }

    /// Flushes and returns the output.
    pub fn into_inner(self) -> io::Result<W> {
        self.writer.into_inner()
    }
}
