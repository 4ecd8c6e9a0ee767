//! The devargs of `net_af_packet`, with DPDK's names and defaults, and the ring geometry they
//! give. `tpacket_version` is rpdk's own: DPDK's driver always uses TPACKET_V2, as rpdk's does by
//! default; `tpacket_version=3` gives V3 receive rings.

use rpdk_eal::bus::Devargs;

use super::tpacket::{TX_DATA_OFF, V2_RX_MAC};
use crate::drivers::netif;

/// The keys the driver takes.
pub(super) const KEYS: &[&str] = &[
    "iface",
    "qpairs",
    "blocksz",
    "framesz",
    "framecnt",
    "qdisc_bypass",
    "tpacket_version",
];
/// Default frame size (DPDK's `DFLT_FRAME_SIZE`).
pub(super) const DEFAULT_FRAMESZ: u32 = 1 << 11;
/// Default frame count (DPDK's `DFLT_FRAME_COUNT`).
pub(super) const DEFAULT_FRAMECNT: u32 = 1 << 9;
/// Most queue pairs: the kernel's default limit of members in a fanout group.
pub(super) const MAX_QPAIRS: u16 = 256;
/// Largest ring, per direction and queue.
const MAX_RING_BYTES: u64 = 1 << 30;

/// What the devargs ask for.
#[derive(Clone, Debug)]
pub(super) struct Params {
    /// The interface's name (`iface`), checked for the kernel.
    pub iface: String,
    /// RX/TX queue pairs (`qpairs`, default 1).
    pub qpairs: u16,
    /// Ring block size in bytes (`blocksz`, default the page size).
    pub block_size: u32,
    /// Ring frame size in bytes (`framesz`, default 2048).
    pub frame_size: u32,
    /// Frames per ring (`framecnt`, default 512).
    pub frame_count: u32,
    /// `PACKET_QDISC_BYPASS` on the TX sockets (`qdisc_bypass`, default 1 as in DPDK's code).
    pub qdisc_bypass: bool,
    /// The RX rings are TPACKET_V2 (the default, `tpacket_version=2`: a frame is handed over
    /// as soon as the kernel writes it) rather than V3 (`tpacket_version=3`: blocks of frames,
    /// handed over full or after the kernel's 1 ms block timeout).
    pub rx_v2: bool,
}

impl Params {
    /// Blocks per ring.
    pub fn block_count(&self) -> u32 {
        self.frame_count / (self.block_size / self.frame_size)
    }

    /// The geometry of a TPACKET_V2 ring (TX, and RX with `tpacket_version=2`).
    pub fn tpacket_req(&self) -> libc::tpacket_req {
        libc::tpacket_req {
            tp_block_size: self.block_size,
            tp_block_nr: self.block_count(),
            tp_frame_size: self.frame_size,
            tp_frame_nr: self.frame_count,
        }
    }

    /// The longest frame a TX slot holds, and the longest the driver promises to receive (a V2
    /// RX slot holds less than a TX slot).
    pub fn max_frame(&self) -> u32 {
        let off = if self.rx_v2 { V2_RX_MAC } else { TX_DATA_OFF };
        self.frame_size - off as u32
    }
}

fn positive(dev: &Devargs, key: &str, default: u32) -> Result<u32, String> {
    let v: u32 = dev.parse_or(key, default)?;
    if v == 0 {
        return Err(format!(
            "invalid value '0' for key '{key}' (a positive number)"
        ));
    }
    Ok(v)
}

/// Parses and checks the devargs; errors name the key and the value.
pub(super) fn parse(dev: &Devargs, page_size: u32) -> Result<Params, String> {
    let iface = match dev.get("iface") {
        Some(v) => v.to_string(),
        None => {
            return Err("missing key 'iface' (the kernel interface to attach to)".into());
        }
    };
    netif::check_name(&iface)
        .map_err(|e| format!("invalid value '{iface}' for key 'iface': {e}"))?;
    let qpairs: u16 = dev.parse_or("qpairs", 1)?;
    if qpairs == 0 || qpairs > MAX_QPAIRS {
        return Err(format!(
            "invalid value '{qpairs}' for key 'qpairs' (1 to {MAX_QPAIRS})"
        ));
    }
    let block_size = positive(dev, "blocksz", page_size)?;
    if block_size % page_size != 0 {
        return Err(format!(
            "invalid value '{block_size}' for key 'blocksz' (a multiple of the page size, {page_size})"
        ));
    }
    let frame_size = positive(dev, "framesz", DEFAULT_FRAMESZ)?;
    let min_frame = TX_DATA_OFF as u32 + 96;
    if frame_size % 16 != 0 || frame_size < min_frame {
        return Err(format!(
            "invalid value '{frame_size}' for key 'framesz' (a multiple of 16, at least {min_frame})"
        ));
    }
    if frame_size > block_size {
        return Err(format!(
            "invalid value '{frame_size}' for key 'framesz' (more than blocksz, {block_size})"
        ));
    }
    let frame_count = positive(dev, "framecnt", DEFAULT_FRAMECNT)?;
    let per_block = block_size / frame_size;
    if frame_count % per_block != 0 {
        return Err(format!(
            "invalid value '{frame_count}' for key 'framecnt' (a multiple of the {per_block} \
             frames of {frame_size} bytes that a block of {block_size} holds)"
        ));
    }
    let bytes = (frame_count / per_block) as u64 * block_size as u64;
    if bytes > MAX_RING_BYTES {
        return Err(format!(
            "invalid value '{frame_count}' for key 'framecnt' (rings of {bytes} bytes, at most {MAX_RING_BYTES})"
        ));
    }
    let rx_v2 = match dev.get("tpacket_version") {
        None | Some("2") => true,
        Some("3") => false,
        Some(v) => {
            return Err(format!(
                "invalid value '{v}' for key 'tpacket_version' (2 or 3)"
            ));
        }
    };
    Ok(Params {
        iface,
        qpairs,
        block_size,
        frame_size,
        frame_count,
        qdisc_bypass: super::super::flag_arg(dev, "qdisc_bypass", true)?,
        rx_v2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Params, String> {
        parse(&Devargs::parse_vdev(s).unwrap(), 4096)
    }

    #[test]
    fn defaults_are_dpdks() {
        let p = p("net_af_packet0,iface=veth0").unwrap();
        assert_eq!(p.iface, "veth0");
        assert_eq!(
            (p.qpairs, p.block_size, p.frame_size, p.frame_count),
            (1, 4096, 2048, 512)
        );
        assert!(p.qdisc_bypass && p.rx_v2, "TPACKET_V2 RX rings, as DPDK's");
        assert_eq!((p.block_count(), p.block_size), (256, 4096));
        assert_eq!(p.max_frame(), 2048 - 66);
    }

    #[test]
    fn values_are_taken() {
        let p = p(
            "net_af_packet0,iface=eth1,qpairs=4,blocksz=65536,framesz=4096,framecnt=64,qdisc_bypass=0,\
             tpacket_version=3",
        )
        .unwrap();
        assert_eq!(
            (p.qpairs, p.block_size, p.frame_size, p.frame_count),
            (4, 65536, 4096, 64)
        );
        assert!(!p.qdisc_bypass && !p.rx_v2);
        assert_eq!(p.block_count(), 4);
        assert_eq!(p.max_frame(), 4096 - 32);
    }

    #[test]
    fn bad_values_name_the_key() {
        for (args, want) in [
            ("", "missing key 'iface'"),
            (
                ",iface=",
                "invalid value '' for key 'iface': '' is not a valid interface name: it is empty",
            ),
            (
                ",iface=averyveryverylongname",
                "invalid value 'averyveryverylongname' for key 'iface': \
                 'averyveryverylongname' is not a valid interface name: it has 21 bytes",
            ),
            (
                ",iface=..",
                "invalid value '..' for key 'iface': '..' is not a valid interface name",
            ),
            (
                ",iface=v,qpairs=0",
                "invalid value '0' for key 'qpairs' (1 to 256)",
            ),
            (",iface=v,qpairs=x", "invalid value 'x' for key 'qpairs'"),
            (
                ",iface=v,qpairs=300",
                "invalid value '300' for key 'qpairs'",
            ),
            (",iface=v,blocksz=0", "invalid value '0' for key 'blocksz'"),
            (
                ",iface=v,blocksz=5000",
                "invalid value '5000' for key 'blocksz' (a multiple of the page size, 4096)",
            ),
            (
                ",iface=v,framesz=1000",
                "invalid value '1000' for key 'framesz' (a multiple of 16",
            ),
            (
                ",iface=v,framesz=112",
                "invalid value '112' for key 'framesz' (a multiple of 16, at least 128)",
            ),
            (
                ",iface=v,framesz=8192",
                "invalid value '8192' for key 'framesz' (more than blocksz, 4096)",
            ),
            (
                ",iface=v,framecnt=0",
                "invalid value '0' for key 'framecnt'",
            ),
            (
                ",iface=v,framecnt=511",
                "invalid value '511' for key 'framecnt' (a multiple of the 2 frames",
            ),
            (
                ",iface=v,framecnt=4000000",
                "invalid value '4000000' for key 'framecnt' (rings of",
            ),
            (
                ",iface=v,qdisc_bypass=2",
                "invalid value '2' for key 'qdisc_bypass'",
            ),
            (
                ",iface=v,tpacket_version=1",
                "invalid value '1' for key 'tpacket_version' (2 or 3)",
            ),
        ] {
            let e = p(&format!("net_af_packet0{args}")).unwrap_err();
            assert!(e.contains(want), "{args}: {e}");
        }
    }
}
