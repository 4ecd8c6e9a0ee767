//! testpmd's encap configuration commands: `set raw_encap`, `set raw_decap` (`cmdline_flow.c`),
//! `set vxlan`, `set vxlan-tos-ttl`, `set vxlan-with-vlan`, `set nvgre`, `set nvgre-with-vlan`
//! (`cmdline.c`), and the buffers and configurations they leave, which the `raw_encap index N`,
//! `raw_decap index N`, `vxlan_encap` and `nvgre_encap` actions of later `flow` commands take.

use super::cli::Output;
use super::parse::{R, Words, item, parse_uint};
use crate::item::{Item, ItemType};
use crate::tunnel::build;
use rpdk_mbuf::net::MacAddr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// How many `set raw_encap` / `set raw_decap` buffers there are (testpmd's
/// `RAW_ENCAP_CONFS_MAX_NUM`).
pub const RAW_ENCAP_CONFS: usize = 8;

/// testpmd's largest buffer (`ACTION_RAW_ENCAP_MAX_DATA`).
const MAX_DATA: usize = build::MAX_HEADER;

/// What `set vxlan` and `set nvgre` configure (testpmd's `vxlan_encap_conf`,
/// `nvgre_encap_conf`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct TunnelConf {
    ipv4: bool,
    vlan: bool,
    tos_ttl: bool,
    /// VNI or TNI (24 bits).
    id: u32,
    udp_src: u16,
    udp_dst: u16,
    ip_src: IpAddr,
    ip_dst: IpAddr,
    tci: u16,
    tos: u8,
    ttl: u8,
    eth_src: [u8; 6],
    eth_dst: [u8; 6],
}

impl TunnelConf {
    /// testpmd's defaults.
    fn new() -> TunnelConf {
        TunnelConf {
            ipv4: true,
            vlan: false,
            tos_ttl: false,
            id: 0,
            udp_src: 0,
            udp_dst: 4789,
            ip_src: Ipv4Addr::new(127, 0, 0, 1).into(),
            ip_dst: Ipv4Addr::BROADCAST.into(),
            tci: 0,
            tos: 0,
            ttl: 255,
            eth_src: [0; 6],
            eth_dst: [0xff; 6],
        }
    }

    fn ip6(a: IpAddr, v6_default: Ipv6Addr) -> Ipv6Addr {
        match a {
            IpAddr::V6(a) => a,
            IpAddr::V4(_) => v6_default,
        }
    }

    /// The definition items testpmd's `vxlan_encap` / `nvgre_encap` build from it.
    fn definition(&self, vxlan: bool, v6_src: Ipv6Addr, v6_dst: Ipv6Addr) -> Vec<Item> {
        let spec = |ty: ItemType, b: Vec<u8>| Item {
            ty,
            spec: Some(b),
            last: None,
            mask: None,
        };
        let mut eth = vec![0u8; 14];
        eth[..6].copy_from_slice(&self.eth_dst);
        eth[6..12].copy_from_slice(&self.eth_src);
        let mut out = vec![spec(ItemType::Eth, eth)];
        if self.vlan {
            let mut v = vec![0u8; 4];
            v[..2].copy_from_slice(&self.tci.to_be_bytes());
            out.push(spec(ItemType::Vlan, v));
        }
        match (self.ipv4, self.ip_src, self.ip_dst) {
            (true, IpAddr::V4(s), IpAddr::V4(d)) => {
                let mut h = vec![0u8; 20];
                h[12..16].copy_from_slice(&s.octets());
                h[16..20].copy_from_slice(&d.octets());
                if self.tos_ttl && vxlan {
                    h[1] = self.tos;
                    h[8] = self.ttl;
                }
                out.push(spec(ItemType::Ipv4, h));
            }
            _ => {
                let mut h = vec![0u8; 40];
                h[8..24].copy_from_slice(&Self::ip6(self.ip_src, v6_src).octets());
                h[24..40].copy_from_slice(&Self::ip6(self.ip_dst, v6_dst).octets());
                if self.tos_ttl && vxlan {
                    let vtc = (self.tos as u32) << 20;
                    h[..4].copy_from_slice(&vtc.to_be_bytes());
                    h[7] = self.ttl;
                }
                out.push(spec(ItemType::Ipv6, h));
            }
        }
        let id = (self.id & 0xff_ffff).to_be_bytes();
        if vxlan {
            let mut u = vec![0u8; 8];
            u[..2].copy_from_slice(&self.udp_src.to_be_bytes());
            u[2..4].copy_from_slice(&self.udp_dst.to_be_bytes());
            out.push(spec(ItemType::Udp, u));
            let mut v = vec![0u8; 8];
            v[4..7].copy_from_slice(&id[1..]);
            out.push(spec(ItemType::Vxlan, v));
        } else {
            let mut g = vec![0x20, 0, 0x65, 0x58, 0, 0, 0, 0];
            g[4..7].copy_from_slice(&id[1..]);
            out.push(spec(ItemType::Nvgre, g));
        }
        out
    }
}

/// testpmd's encap state: the `set raw_encap` and `set raw_decap` buffers and the `set vxlan`
/// and `set nvgre` configurations, which `flow` commands read
/// ([`crate::syntax::parse_with`], [`crate::syntax::execute_with`]). The default is testpmd's at
/// start: empty buffers, VXLAN and NVGRE over IPv4 from 127.0.0.1 to 255.255.255.255.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncapConfs {
    raw_encap: [Vec<u8>; RAW_ENCAP_CONFS],
    raw_decap: [Vec<u8>; RAW_ENCAP_CONFS],
    vxlan: TunnelConf,
    nvgre: TunnelConf,
}

impl Default for EncapConfs {
    fn default() -> EncapConfs {
        EncapConfs {
            raw_encap: Default::default(),
            raw_decap: Default::default(),
            vxlan: TunnelConf::new(),
            nvgre: TunnelConf::new(),
        }
    }
}

/// testpmd's IPv6 defaults of the VXLAN and NVGRE configurations (`::1` to `::1111`).
const V6_SRC: Ipv6Addr = Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1);
const V6_DST: Ipv6Addr = Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0x1111);

/// The words that start the commands [`EncapConfs::execute`] takes.
const SET_WORDS: [&str; 7] = [
    "raw_encap",
    "raw_decap",
    "vxlan",
    "vxlan-tos-ttl",
    "vxlan-with-vlan",
    "nvgre",
    "nvgre-with-vlan",
];

/// Whether `line` is one of the encap `set` commands, or `show raw_encap|raw_decap ...` (for
/// [`EncapConfs::execute`]).
pub fn is_encap_command(line: &str) -> bool {
    let mut w = line.split_whitespace();
    match w.next() {
        Some("set") => w.next().is_some_and(|t| SET_WORDS.contains(&t)),
        Some("show") => matches!(w.next(), Some("raw_encap" | "raw_decap")),
        _ => false,
    }
}

/// `data` in the layout of DPDK's `rte_hexdump`: a `TITLE at [ADDR], len=N` line, then 16
/// bytes a line, each line the offset (8 hex digits), the bytes in hex (blanks past the end),
/// ` | ` and the bytes as ASCII (`.` for what is not printable).
pub fn hexdump(title: &str, addr: *const u8, data: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = format!("{title} at [{addr:p}], len={}\n", data.len());
    for (n, line) in data.chunks(16).enumerate() {
        let _ = write!(out, "{:08X}:", n * 16);
        for i in 0..16 {
            match line.get(i) {
                Some(b) => {
                    let _ = write!(out, " {b:02X}");
                }
                None => out.push_str("   "),
            }
        }
        out.push_str(" | ");
        out.extend(line.iter().map(|&b| {
            if (b' '..=b'~').contains(&b) {
                b as char
            } else {
                '.'
            }
        }));
        out.push('\n');
    }
    out
}

impl EncapConfs {
    /// `set raw_encap N`'s buffer (empty before one).
    pub fn raw_encap(&self, index: usize) -> &[u8] {
        self.raw_encap.get(index).map_or(&[], Vec::as_slice)
    }

    /// `set raw_decap N`'s buffer.
    pub fn raw_decap(&self, index: usize) -> &[u8] {
        self.raw_decap.get(index).map_or(&[], Vec::as_slice)
    }

    /// The definition `vxlan_encap` takes now (testpmd's `parse_setup_vxlan_encap_data`).
    pub fn vxlan_definition(&self) -> Vec<Item> {
        self.vxlan.definition(true, V6_SRC, V6_DST)
    }

    /// The definition `nvgre_encap` takes now.
    pub fn nvgre_definition(&self) -> Vec<Item> {
        self.nvgre.definition(false, V6_SRC, V6_DST)
    }

    /// Runs one encap `set` command with testpmd 22.11's output: nothing on success (`total
    /// data size is N` for `set raw_encap|raw_decap` at verbose levels with bit 0 set),
    /// `Error - Not supported item` for an item testpmd cannot put in a buffer (which is then
    /// left empty), `Bad arguments` for a line that does not parse.
    ///
    /// Also testpmd 22.11's `show raw_encap|raw_decap N` and `show raw_encap|raw_decap all`
    /// (`cmd_show_set_raw` in `cmdline_flow.c`): each buffer (all eight for `all`) as
    /// [`hexdump`] writes it, titled with an empty line and `index: N`, an empty buffer as
    /// `len=0` alone; `index should be 0-7` on stderr for an index past the last. The address
    /// is the buffer's in this process, as testpmd's is in its.
    pub fn execute(&mut self, line: &str, verbose: u16) -> Output {
        let mut o = Output::default();
        let mut w = Words {
            w: line.split_whitespace().collect(),
            i: 0,
        };
        if let Err(e) = self.run(&mut w, verbose, &mut o) {
            o.out.push_str("Bad arguments\n");
            o.syntax = Some(e);
        }
        o
    }

    fn run(&mut self, w: &mut Words<'_>, verbose: u16, o: &mut Output) -> R<()> {
        let at = w.i;
        match w.next("set or show")? {
            "set" => self.set(w, verbose, o),
            "show" => self.show(w, o),
            _ => w.err(at, "expected set or show"),
        }
    }

    /// `show raw_encap|raw_decap N|all`.
    fn show(&self, w: &mut Words<'_>, o: &mut Output) -> R<()> {
        let at = w.i;
        let bufs = match w.next("raw_encap or raw_decap")? {
            "raw_encap" => &self.raw_encap,
            "raw_decap" => &self.raw_decap,
            _ => return w.err(at, "expected raw_encap or raw_decap"),
        };
        let at = w.i;
        let which = match w.next("an index or all")? {
            "all" => None,
            t => match parse_uint(t) {
                // testpmd's index token is a 16-bit number.
                Some(i) if i <= u16::MAX as u128 => Some(i as usize),
                _ => return w.err(at, "expected an index (0 to 65535) or all"),
            },
        };
        w.done()?;
        let range = match which {
            None => 0..RAW_ENCAP_CONFS,
            Some(i) if i < RAW_ENCAP_CONFS => i..i + 1,
            Some(_) => {
                o.err
                    .push_str(&format!("index should be 0-{}\n", RAW_ENCAP_CONFS - 1));
                return Ok(());
            }
        };
        for i in range {
            let b = &bufs[i];
            let addr = if b.is_empty() {
                (b as *const Vec<u8>).cast::<u8>()
            } else {
                b.as_ptr()
            };
            o.out.push_str(&hexdump(&format!("\nindex: {i}"), addr, b));
        }
        Ok(())
    }

    /// `set raw_encap|raw_decap|vxlan*|nvgre* ...`.
    fn set(&mut self, w: &mut Words<'_>, verbose: u16, o: &mut Output) -> R<()> {
        let at = w.i;
        match w.next("raw_encap, raw_decap, vxlan or nvgre")? {
            which @ ("raw_encap" | "raw_decap") => {
                let index = match w.peek().and_then(parse_uint) {
                    Some(i) if i < RAW_ENCAP_CONFS as u128 => {
                        w.i += 1;
                        i as usize
                    }
                    Some(_) => {
                        return w.err(
                            w.i,
                            format!("index out of range (0 to {})", RAW_ENCAP_CONFS - 1),
                        );
                    }
                    None => {
                        // Without an index, buffer 0 and the headers start with Ethernet.
                        if w.peek() != Some("eth") {
                            return w.err(w.i, "expected an index or eth");
                        }
                        0
                    }
                };
                let mut items = Vec::new();
                loop {
                    let at = w.i;
                    let t = w.next("an item or \"end_set\"")?;
                    if t == "end_set" {
                        break;
                    }
                    let Some(ty) = ItemType::from_token(t).filter(|&t| t != ItemType::End) else {
                        return w.err(at, "unknown item");
                    };
                    items.push(item(w, ty)?);
                }
                w.done()?;
                let buf = if which == "raw_encap" {
                    &mut self.raw_encap[index]
                } else {
                    &mut self.raw_decap[index]
                };
                match build::raw_buffer(&items) {
                    Ok(b) if b.len() <= MAX_DATA => {
                        if verbose & 1 != 0 {
                            o.out.push_str(&format!("total data size is {}\n", b.len()));
                        }
                        *buf = b;
                    }
                    Ok(_) | Err(_) => {
                        o.err.push_str("Error - Not supported item\n");
                        buf.clear();
                    }
                }
            }
            kind @ ("vxlan" | "vxlan-tos-ttl" | "vxlan-with-vlan") => {
                let mut c = self.vxlan.clone();
                c.vlan = kind == "vxlan-with-vlan";
                c.tos_ttl = kind == "vxlan-tos-ttl";
                tunnel_args(w, &mut c, true)?;
                self.vxlan = c;
            }
            kind @ ("nvgre" | "nvgre-with-vlan") => {
                let mut c = self.nvgre.clone();
                c.vlan = kind == "nvgre-with-vlan";
                tunnel_args(w, &mut c, false)?;
                self.nvgre = c;
            }
            _ => return w.err(at, "expected raw_encap, raw_decap, vxlan or nvgre"),
        }
        Ok(())
    }
}

fn key(w: &mut Words<'_>, name: &str) -> R<()> {
    w.expect(name)
}

fn ip(w: &mut Words<'_>, v4: bool) -> R<IpAddr> {
    let at = w.i;
    let t = w.next("an IP address")?;
    match (v4, t.parse::<IpAddr>()) {
        (true, Ok(a @ IpAddr::V4(_))) | (false, Ok(a @ IpAddr::V6(_))) => Ok(a),
        (_, Ok(_)) => w.err(at, "an address of the other IP version"),
        _ => w.err(at, "expected an IP address"),
    }
}

fn mac(w: &mut Words<'_>) -> R<[u8; 6]> {
    let at = w.i;
    match w.next("a MAC address")?.parse::<MacAddr>() {
        Ok(m) => Ok(m.0),
        Err(_) => w.err(at, "expected a MAC address"),
    }
}

/// The arguments of `set vxlan*` (`vxlan`: with `udp-src`, `udp-dst` and, for
/// `vxlan-tos-ttl`, `ip-tos`, `ip-ttl`) and `set nvgre*`, in testpmd's fixed order.
fn tunnel_args(w: &mut Words<'_>, c: &mut TunnelConf, vxlan: bool) -> R<()> {
    key(w, "ip-version")?;
    let at = w.i;
    c.ipv4 = match w.next("ipv4 or ipv6")? {
        "ipv4" => true,
        "ipv6" => false,
        _ => return w.err(at, "expected ipv4 or ipv6"),
    };
    if vxlan {
        key(w, "vni")?;
        c.id = w.u32("a VNI")?;
        key(w, "udp-src")?;
        c.udp_src = w.u16("a UDP port")?;
        key(w, "udp-dst")?;
        c.udp_dst = w.u16("a UDP port")?;
        if c.tos_ttl {
            key(w, "ip-tos")?;
            c.tos = w.uint("a TOS", 255)? as u8;
            key(w, "ip-ttl")?;
            c.ttl = w.uint("a TTL", 255)? as u8;
        }
    } else {
        key(w, "tni")?;
        c.id = w.u32("a TNI")?;
    }
    key(w, "ip-src")?;
    c.ip_src = ip(w, c.ipv4)?;
    key(w, "ip-dst")?;
    c.ip_dst = ip(w, c.ipv4)?;
    if c.vlan {
        key(w, "vlan-tci")?;
        c.tci = w.u16("a VLAN TCI")?;
    }
    key(w, "eth-src")?;
    c.eth_src = mac(w)?;
    key(w, "eth-dst")?;
    c.eth_dst = mac(w)?;
    w.done()
}
