//! A pcapng writer (the format of DPDK's `lib/pcapng`, which tcpdump, tshark and Wireshark
//! read): one section, interface description blocks, enhanced packet blocks with nanosecond
//! timestamps, direction and queue, and interface statistics blocks.
//!
//! It is hand-written rather than taken from a crate: the capture path formats enhanced packet
//! blocks straight into capture mbufs on the polling lcore (no allocation, no second copy), so
//! the writer's job is to put those blocks into a file with the right interface index, which no
//! general pcapng crate does; the format itself is a few fixed little-endian layouts.
//!
//! ```
//! use rpdk_pdump::pcapng::{Direction, Interface, Section, Writer};
//!
//! let mut w = Writer::new(Vec::new(), &Section::default())?;
//! let rx = w.add_interface(&Interface::ethernet("veth0", 65535).description("port 0 rx"))?;
//! w.write_packet(rx, 1_700_000_000_000_000_000, 60, &[0u8; 60], Some(Direction::Inbound), 0)?;
//! let bytes = w.into_inner()?;
//! assert_eq!(&bytes[..4], &[0x0A, 0x0D, 0x0D, 0x0A]);
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod block;

use std::io::{self, Write};

use block::{BlockBuf, EpbView};

/// Link type Ethernet (`LINKTYPE_ETHERNET`, `DLT_EN10MB`).
pub const LINKTYPE_ETHERNET: u16 = 1;

/// A packet's direction on its interface (`epb_flags` bits 0-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Received by the port.
    Inbound,
    /// Sent by the port.
    Outbound,
}

impl Direction {
    /// The `epb_flags` bits.
    pub fn flags(self) -> u32 {
        match self {
            Direction::Inbound => block::EPB_INBOUND,
            Direction::Outbound => block::EPB_OUTBOUND,
        }
    }

    /// The direction in `epb_flags`, if any.
    pub fn from_flags(flags: u32) -> Option<Direction> {
        match flags & 3 {
            block::EPB_INBOUND => Some(Direction::Inbound),
            block::EPB_OUTBOUND => Some(Direction::Outbound),
            _ => None,
        }
    }

    /// `"rx"` or `"tx"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "rx",
            Direction::Outbound => "tx",
        }
    }
}

/// The section header's options.
#[derive(Clone, Debug, Default)]
pub struct Section {
    /// `shb_os` (default: the kernel's name and release).
    pub os: Option<String>,
    /// `shb_hardware` (default: the CPU's model name).
    pub hardware: Option<String>,
    /// `shb_userappl` (default: `rpdk-pdump <version>`).
    pub application: Option<String>,
    /// `opt_comment`.
    pub comment: Option<String>,
}

/// An interface description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Link type ([`LINKTYPE_ETHERNET`]).
    pub link_type: u16,
    /// Most bytes captured of a packet (0: no limit).
    pub snaplen: u32,
    /// `if_name`.
    pub name: String,
    /// `if_description`.
    pub description: Option<String>,
    /// `if_hardware` (DPDK: `<bus>-<device>`).
    pub hardware: Option<String>,
    /// `if_MACaddr`.
    pub mac: Option<[u8; 6]>,
    /// `if_speed`, bits per second (when the link is up).
    pub speed: Option<u64>,
}

impl Interface {
    /// An Ethernet interface named `name` capturing up to `snaplen` bytes.
    pub fn ethernet(name: &str, snaplen: u32) -> Interface {
        Interface {
            link_type: LINKTYPE_ETHERNET,
            snaplen,
            name: name.to_string(),
            description: None,
            hardware: None,
            mac: None,
            speed: None,
        }
    }

    /// With `if_description`.
    pub fn description(mut self, d: &str) -> Interface {
        self.description = Some(d.to_string());
        self
    }
}

/// An interface statistics block's values (`None`: left out).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InterfaceStats {
    /// The block's own timestamp, nanoseconds since the epoch.
    pub timestamp_ns: u64,
    /// `isb_starttime`.
    pub start_ns: Option<u64>,
    /// `isb_endtime`.
    pub end_ns: Option<u64>,
    /// `isb_ifrecv`: packets the capture saw.
    pub ifrecv: Option<u64>,
    /// `isb_ifdrop`: packets the capture lost (DPDK: no capture mbuf, or the ring full).
    pub ifdrop: Option<u64>,
    /// `isb_osdrop`: packets lost before the capture (the port's own drops).
    pub osdrop: Option<u64>,
    /// `opt_comment`.
    pub comment: Option<String>,
}

/// A pcapng writer: a section header at creation, then interfaces, packets and statistics in
/// any order (an interface before its first packet).
pub struct Writer<W: Write> {
    out: W,
    interfaces: Vec<u32>,
}

impl<W: Write> Writer<W> {
    /// Writes the section header block to `out`.
    pub fn new(mut out: W, s: &Section) -> io::Result<Writer<W>> {
        let os = s.os.clone().or_else(default_os);
        let hw = s.hardware.clone().or_else(default_hardware);
        let app = s
            .application
            .clone()
            .unwrap_or_else(|| format!("rpdk-pdump {}", env!("CARGO_PKG_VERSION")));
        let mut b = BlockBuf::new(block::SECTION_HEADER);
        b.u32(block::BYTE_ORDER_MAGIC).u16(1).u16(0).u64(u64::MAX);
        b.option_str(block::OPT_COMMENT, s.comment.as_deref())
            .option_str(block::SHB_HARDWARE, hw.as_deref())
            .option_str(block::SHB_OS, os.as_deref())
            .option_str(block::SHB_USERAPPL, Some(&app));
        out.write_all(&b.finish())?;
        Ok(Writer {
            out,
            interfaces: Vec::new(),
        })
    }

    /// Writes an interface description block (with `if_tsresol` 9: nanoseconds); returns its
    /// index in the file, which packets and statistics name.
    pub fn add_interface(&mut self, i: &Interface) -> io::Result<u32> {
        let mut b = BlockBuf::new(block::INTERFACE_DESCRIPTION);
        b.u16(i.link_type).u16(0).u32(i.snaplen);
        b.option(block::IF_TSRESOL, &[9])
            .option(block::IF_NAME, i.name.as_bytes())
            .option_str(block::IF_DESCRIPTION, i.description.as_deref());
        if let Some(mac) = i.mac {
            b.option(block::IF_MACADDR, &mac);
        }
        b.option_u64(block::IF_SPEED, i.speed)
            .option_str(block::IF_HARDWARE, i.hardware.as_deref());
        self.out.write_all(&b.finish())?;
        self.interfaces.push(i.snaplen);
        Ok(self.interfaces.len() as u32 - 1)
    }

    /// How many interfaces the file describes.
    pub fn interface_count(&self) -> u32 {
        self.interfaces.len() as u32
    }

    fn check_interface(&self, interface: u32) -> io::Result<()> {
        if (interface as usize) < self.interfaces.len() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "no interface {interface} in the file ({} described)",
                    self.interfaces.len()
                ),
            ))
        }
    }

    /// Writes an enhanced packet block: `data` (what was captured) of a packet of `orig_len`
    /// bytes, at `ts_ns` nanoseconds since the epoch.
    pub fn write_packet(
        &mut self,
        interface: u32,
        ts_ns: u64,
        orig_len: u32,
        data: &[u8],
        direction: Option<Direction>,
        queue: u32,
    ) -> io::Result<()> {
        self.check_interface(interface)?;
        let mut buf = vec![0u8; block::epb_len(data.len())];
        let flags = direction.map_or(0, Direction::flags);
        block::encode_epb(&mut buf, interface, ts_ns, orig_len, data, flags, queue);
        self.out.write_all(&buf)
    }

    /// Writes an enhanced packet block formatted by the capture (see
    /// [`block::encode_epb_frame`]) as a packet of `interface`, whatever its interface field
    /// says. An error if `epb` is not one whole block of that form.
    pub fn write_epb(&mut self, interface: u32, epb: &[u8]) -> io::Result<()> {
        self.check_interface(interface)?;
        if EpbView::parse(epb).is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not an enhanced packet block of the capture's form",
            ));
        }
        self.out.write_all(&epb[..8])?;
        self.out.write_all(&interface.to_le_bytes())?;
        self.out.write_all(&epb[12..])
    }

    /// Writes an interface statistics block for `interface`.
    pub fn write_stats(&mut self, interface: u32, s: &InterfaceStats) -> io::Result<()> {
        self.check_interface(interface)?;
        let mut b = BlockBuf::new(block::INTERFACE_STATISTICS);
        b.u32(interface)
            .u32((s.timestamp_ns >> 32) as u32)
            .u32(s.timestamp_ns as u32);
        b.option_str(block::OPT_COMMENT, s.comment.as_deref())
            .option_u64(block::ISB_STARTTIME, s.start_ns)
            .option_u64(block::ISB_ENDTIME, s.end_ns)
            .option_u64(block::ISB_IFRECV, s.ifrecv)
            .option_u64(block::ISB_IFDROP, s.ifdrop)
            .option_u64(block::ISB_OSDROP, s.osdrop);
        self.out.write_all(&b.finish())
    }

    /// Flushes the output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and returns the output.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// `<sysname> <release>` from `uname`, as DPDK's pdump writes `shb_os`.
fn default_os() -> Option<String> {
    let r = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    Some(format!(
        "{} {}",
        r("/proc/sys/kernel/ostype")?,
        r("/proc/sys/kernel/osrelease")?
    ))
}

/// The CPU's model name, as DPDK's dumpcap writes `shb_hardware`.
fn default_hardware() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

/// Nanoseconds since the Unix epoch now (`CLOCK_REALTIME`).
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_interface_is_an_error() {
        let mut w = Writer::new(Vec::new(), &Section::default()).unwrap();
        let e = w.write_packet(0, 0, 1, &[1], None, 0).unwrap_err();
        assert!(e.to_string().contains("no interface 0"), "{e}");
        let i = w.add_interface(&Interface::ethernet("x", 0)).unwrap();
        assert_eq!(i, 0);
        w.write_packet(0, 0, 1, &[1], None, 0).unwrap();
        assert!(w.write_epb(0, &[0; 40]).is_err());
        assert!(w.write_stats(1, &InterfaceStats::default()).is_err());
    }
}
