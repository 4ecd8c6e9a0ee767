//! `set verbose N`: testpmd's dump of every received (and, from level 2, sent) burst, as
//! `dump_pkt_burst` in DPDK 22.11's `app/test-pmd/util.c` prints it, from RX and TX callbacks
//! on every queue of every port (levels 1 and 3 and up: RX; 2 and up: TX).
//!
//! ```text
//! port 0/queue 1: received 1 packets
//!   src=02:00:00:00:00:01 - dst=00:11:22:33:44:55 - pool=mb_pool_0 - type=0x0800 - length=168 - nb_segs=1 - FDIR matched ID=0x7 - sw ptype: L2_ETHER L3_IPV4 L4_UDP  - l2_len=14 - l3_len=20 - l4_len=8 - Receive queue=0x1
//!   ol_flags: RTE_MBUF_F_RX_FDIR RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN ...
//! ```

use std::fmt::Write as _;
use std::io::Write as _;

use rpdk_ethdev::{CallbackId, Port};
use rpdk_mbuf::net::MacAddr;
use rpdk_mbuf::{Mbuf, OlFlags, PacketType};

/// The text testpmd prints for one burst of port `port`, queue `queue` (`rx`: received,
/// otherwise sent).
pub fn dump_burst(port: u16, queue: u16, pkts: &[Mbuf], rx: bool) -> String {
    let mut out = String::new();
    if pkts.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "port {port}/queue {queue}: {} {} packets",
        if rx { "received" } else { "sent" },
        pkts.len()
    );
    for m in pkts {
        dump_packet(&mut out, m, queue, rx);
    }
    out
}

fn mac(b: &[u8]) -> String {
    let mut a = [0u8; 6];
    a.copy_from_slice(&b[..6]);
    // DPDK's rte_ether_format_addr: upper case.
    MacAddr(a).to_string().to_uppercase()
}

/// A name list as DPDK writes it: every name followed by a space.
fn spaced<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names.into_iter().fold(String::new(), |mut s, n| {
        s.push_str(n);
        s.push(' ');
        s
    })
}

/// `rte_get_ptype_name`: `UNKNOWN`, or every layer's name followed by a space.
fn ptype_name(p: PacketType) -> String {
    if p.0 & PacketType::ALL_MASK == 0 {
        "UNKNOWN".into()
    } else {
        spaced(p.layer_names())
    }
}

fn dump_packet(out: &mut String, m: &Mbuf, queue: u16, rx: bool) {
    let mut head = [0u8; 14];
    let eth = m.read(0, &mut head).unwrap_or(&[0u8; 14]);
    let eth_type = u16::from_be_bytes([eth[12], eth[13]]);
    let _ = write!(
        out,
        "  src={} - dst={} - pool={} - type=0x{eth_type:04x} - length={} - nb_segs={}",
        mac(&eth[6..12]),
        mac(&eth[..6]),
        m.pool_name(),
        m.pkt_len(),
        m.nb_segs()
    );
    let fl = m.ol_flags();
    if fl.contains(OlFlags::RX_RSS_HASH) {
        let _ = write!(
            out,
            " - RSS hash=0x{:x} - RSS queue=0x{queue:x}",
            m.rss_hash()
        );
    }
    if fl.contains(OlFlags::RX_FDIR) {
        let (lo, hi) = m.fdir();
        out.push_str(" - FDIR matched ");
        if fl.contains(OlFlags::RX_FDIR_ID) {
            let _ = write!(out, "ID=0x{hi:x}");
        } else if fl.contains(OlFlags::RX_FDIR_FLX) {
            let _ = write!(out, "flex bytes=0x{hi:08x} {lo:08x}");
        } else {
            // hash.fdir.hash and hash.fdir.id: the two halves of hash.fdir.lo.
            let _ = write!(out, "hash=0x{:x} ID=0x{:x} ", lo & 0xffff, lo >> 16);
        }
    }
    if fl.contains(OlFlags::RX_QINQ) {
        let _ = write!(
            out,
            " - QinQ VLAN tci=0x{:x}, VLAN tci outer=0x{:x}",
            m.vlan_tci(),
            m.vlan_tci_outer()
        );
    } else if fl.contains(OlFlags::RX_VLAN) {
        let _ = write!(out, " - VLAN tci=0x{:x}", m.vlan_tci());
    }
    // The flow metadata (SET_META's, or the application's for TX): one flag for both ways.
    if let Some(v) = rpdk_flow::dynf_metadata(m) {
        let _ = write!(out, " - {} metadata: 0x{v:x}", if rx { "Rx" } else { "Tx" });
    }
    let hw = m.packet_type();
    if hw.0 != 0 {
        let _ = write!(out, " - hw ptype: {}", ptype_name(hw));
    }
    let (sw, lens) = m.parse_packet_type(PacketType::ALL_MASK);
    let _ = write!(out, " - sw ptype: {}", ptype_name(sw));
    for (mask, label, len) in [
        (PacketType::L2_MASK, "l2_len", lens.l2_len),
        (PacketType::L3_MASK, "l3_len", lens.l3_len),
        (PacketType::L4_MASK, "l4_len", lens.l4_len),
        (PacketType::TUNNEL_MASK, "tunnel_len", lens.tunnel_len),
        (PacketType::INNER_L2_MASK, "inner_l2_len", lens.inner_l2_len),
        (PacketType::INNER_L3_MASK, "inner_l3_len", lens.inner_l3_len),
        (PacketType::INNER_L4_MASK, "inner_l4_len", lens.inner_l4_len),
    ] {
        if sw.0 & mask != 0 {
            let _ = write!(out, " - {label}={len}");
        }
    }
    if hw.is_tunnel() {
        vxlan_part(out, m, hw);
    }
    let _ = writeln!(
        out,
        " - {} queue=0x{queue:x}",
        if rx { "Receive" } else { "Send" }
    );
    let names = if rx {
        fl.rx_list()
    } else {
        OlFlags(fl.0 & OlFlags::TX_OFFLOAD_MASK.0).names()
    };
    let _ = writeln!(out, "  ol_flags: {}", spaced(names));
}

/// testpmd's VXLAN part for a packet the driver typed as a tunnel: the UDP destination port
/// and VNI at the fixed offsets testpmd reads them (IPv4 without options, or IPv6).
fn vxlan_part(out: &mut String, m: &Mbuf, hw: PacketType) {
    let l3 = if hw.is_ipv4() { 20 } else { 40 };
    let mut b = [0u8; 14 + 40 + 8 + 8];
    let Some(d) = m.read(0, &mut b[..14 + l3 + 16]) else {
        return;
    };
    let proto = if hw.is_ipv4() { d[14 + 9] } else { d[14 + 6] };
    if proto != 17 {
        return;
    }
    let udp = 14 + l3;
    let port = u16::from_be_bytes([d[udp + 2], d[udp + 3]]);
    let vni = u32::from_be_bytes([d[udp + 12], d[udp + 13], d[udp + 14], d[udp + 15]]);
    let _ = write!(
        out,
        " - VXLAN packet: packet type ={}, Destination UDP port ={port}, VNI = {}, last_rsvd = {}",
        hw.0,
        vni >> 8,
        vni & 0xff
    );
}

/// The dump callbacks installed on the ports.
#[derive(Default)]
pub struct Dumps {
    rx: Vec<(Port, CallbackId)>,
    tx: Vec<(Port, CallbackId)>,
}

fn print(s: &str) {
    if !s.is_empty() {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(s.as_bytes());
        let _ = o.flush();
    }
}

impl Dumps {
    /// Installs or removes the callbacks for `level` on every queue of `ports`, as
    /// `configure_rxtx_dump_callbacks` does.
    pub fn configure(&mut self, level: u16, ports: &[u16]) {
        let want_rx = level == 1 || level > 2;
        let want_tx = level >= 2;
        if want_rx && self.rx.is_empty() {
            for &p in ports {
                let Ok(port) = Port::get(p) else { continue };
                for q in 0..port.nb_rx_queues() {
                    match port
                        .add_rx_callback(q, |p, q, b| print(&dump_burst(p, q, b.as_slice(), true)))
                    {
                        Ok(id) => self.rx.push((port.clone(), id)),
                        Err(e) => eprintln!("Port {p}: cannot dump RX queue {q}: {e}"),
                    }
                }
            }
        } else if !want_rx {
            for (port, id) in self.rx.drain(..) {
                let _ = port.remove_rx_callback(id);
            }
        }
        if want_tx && self.tx.is_empty() {
            for &p in ports {
                let Ok(port) = Port::get(p) else { continue };
                for q in 0..port.nb_tx_queues() {
                    match port
                        .add_tx_callback(q, |p, q, b| print(&dump_burst(p, q, b.as_slice(), false)))
                    {
                        Ok(id) => self.tx.push((port.clone(), id)),
                        Err(e) => eprintln!("Port {p}: cannot dump TX queue {q}: {e}"),
                    }
                }
            }
        } else if !want_tx {
            for (port, id) in self.tx.drain(..) {
                let _ = port.remove_tx_callback(id);
            }
        }
    }
}
