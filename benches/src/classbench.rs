//! A ClassBench-like generator of 5-tuple rule sets and packet traces.
//!
//! ClassBench (Taylor and Turner, 2005) describes a filter set by a parameter file: the
//! protocol distribution, the distribution of source/destination port *classes* (WC wildcard,
//! HI 1024-65535, LO 0-1023, AR an arbitrary range, EM an exact port), the joint distribution of
//! source/destination prefix lengths, and how addresses cluster. Its published seed files are
//! not freely licensed, so this generator reads the same kind of sections from a text of its
//! own ([`Params::ACL`], or a file in the same format) and follows the same steps: draw a
//! protocol, a port-class pair and a prefix-length pair per rule, then addresses from a few
//! clustered networks, so that rules overlap the way real ACLs do. The trace generator picks a
//! rule (Pareto-skewed toward the first ones) and a header inside it, as ClassBench's
//! `trace_generator` does.
//!
//! The format: sections `-prots` (`PROTO WEIGHT`, 0 for any protocol), `-ports`
//! (`SRC/DST WEIGHT` with the classes above), `-prefixes` (`SRCLEN/DSTLEN WEIGHT`) and
//! `-networks` (one number: how many address clusters each side draws from); `#` starts a
//! comment.

use std::fmt::Write;

/// A port class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortClass {
    /// 0-65535.
    Wc,
    /// 1024-65535.
    Hi,
    /// 0-1023.
    Lo,
    /// An arbitrary range.
    Ar,
    /// One port.
    Em,
}

impl PortClass {
    fn parse(s: &str) -> Option<PortClass> {
        Some(match s {
            "WC" => PortClass::Wc,
            "HI" => PortClass::Hi,
            "LO" => PortClass::Lo,
            "AR" => PortClass::Ar,
            "EM" => PortClass::Em,
            _ => return None,
        })
    }
}

/// A filter set's parameters.
#[derive(Clone, Debug)]
pub struct Params {
    prots: Vec<(u8, f64)>,
    ports: Vec<((PortClass, PortClass), f64)>,
    prefixes: Vec<((u8, u8), f64)>,
    networks: usize,
}

/// One rule: prefixes, port ranges, protocol (`None`: any).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule5 {
    /// Source network.
    pub src: u32,
    /// Its prefix length.
    pub src_len: u8,
    /// Destination network.
    pub dst: u32,
    /// Its prefix length.
    pub dst_len: u8,
    /// Source ports, inclusive.
    pub sport: (u16, u16),
    /// Destination ports, inclusive.
    pub dport: (u16, u16),
    /// The protocol.
    pub proto: Option<u8>,
}

/// One packet header of a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header5 {
    /// Source address.
    pub src: u32,
    /// Destination address.
    pub dst: u32,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Protocol.
    pub proto: u8,
}

/// splitmix64: a small deterministic generator.
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// The next word.
    pub fn word(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// In `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.word() % n.max(1)
    }
    /// In `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.word() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn weighted<T: Copy>(&mut self, xs: &[(T, f64)]) -> T {
        let total: f64 = xs.iter().map(|x| x.1).sum();
        let mut r = self.unit() * total;
        for &(v, w) in xs {
            if r < w {
                return v;
            }
            r -= w;
        }
        xs[xs.len() - 1].0
    }
}

impl Params {
    /// Parameters in the spirit of ClassBench's ACL seeds: mostly TCP/UDP, destination ports
    /// exact or ranges, long destination prefixes, sources often wide.
    pub const ACL: &'static str = "\
# rpdk's own ACL-like parameters (not a ClassBench seed)
-prots
6 0.52
17 0.34
1 0.04
0 0.10
-ports
WC/WC 0.20
WC/EM 0.38
WC/HI 0.08
WC/AR 0.10
WC/LO 0.03
HI/EM 0.05
EM/WC 0.04
EM/EM 0.04
AR/AR 0.03
LO/HI 0.02
HI/AR 0.03
-prefixes
32/32 0.16
24/32 0.12
16/32 0.10
0/32 0.08
32/24 0.08
24/24 0.08
16/24 0.06
8/16 0.05
0/24 0.06
28/28 0.04
20/30 0.04
32/16 0.05
0/0 0.03
12/20 0.05
-networks
48
";

    /// Parses a parameter text.
    pub fn parse(text: &str) -> Result<Params, String> {
        let mut p = Params {
            prots: Vec::new(),
            ports: Vec::new(),
            prefixes: Vec::new(),
            networks: 32,
        };
        let mut section = "";
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            if let Some(s) = line.strip_prefix('-') {
                section = match s {
                    "prots" | "ports" | "prefixes" | "networks" => s,
                    _ => return Err(format!("line {}: unknown section -{s}", n + 1)),
                };
                continue;
            }
            let bad = || format!("line {}: bad entry '{line}' in -{section}", n + 1);
            let mut words = line.split_whitespace();
            let (a, w) = (words.next().ok_or_else(bad)?, words.next());
            let weight =
                || -> Result<f64, String> { w.ok_or_else(bad)?.parse().map_err(|_| bad()) };
            match section {
                "prots" => p.prots.push((a.parse().map_err(|_| bad())?, weight()?)),
                "ports" => {
                    let (s, d) = a.split_once('/').ok_or_else(bad)?;
                    let c = (
                        PortClass::parse(s).ok_or_else(bad)?,
                        PortClass::parse(d).ok_or_else(bad)?,
                    );
                    p.ports.push((c, weight()?));
                }
                "prefixes" => {
                    let (s, d) = a.split_once('/').ok_or_else(bad)?;
                    let l: (u8, u8) =
                        (s.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
                    if l.0 > 32 || l.1 > 32 {
                        return Err(bad());
                    }
                    p.prefixes.push((l, weight()?));
                }
                "networks" => p.networks = a.parse().map_err(|_| bad())?,
                _ => return Err(format!("line {}: entry before any section", n + 1)),
            }
        }
        if p.prots.is_empty() || p.ports.is_empty() || p.prefixes.is_empty() {
            return Err("needs -prots, -ports and -prefixes".into());
        }
        Ok(p)
    }

    fn ports(rng: &mut Rng, c: PortClass) -> (u16, u16) {
        match c {
            PortClass::Wc => (0, 65535),
            PortClass::Hi => (1024, 65535),
            PortClass::Lo => (0, 1023),
            PortClass::Em => {
                let well_known = [
                    21u16, 22, 23, 25, 53, 80, 110, 123, 143, 161, 443, 445, 993, 3306, 8080,
                ];
                let p = if rng.below(3) == 0 {
                    rng.below(65536) as u16
                } else {
                    well_known[rng.below(well_known.len() as u64) as usize]
                };
                (p, p)
            }
            PortClass::Ar => {
                let a = rng.below(65536) as u16;
                let len = 1 + rng.below(4096) as u16;
                (a, a.saturating_add(len))
            }
        }
    }

    /// `n` distinct rules.
    pub fn generate(&self, n: usize, seed: u64) -> Vec<Rule5> {
        let mut rng = Rng::new(seed);
        let nets: Vec<(u32, u32)> = (0..self.networks.max(1))
            .map(|_| (rng.word() as u32, rng.word() as u32))
            .collect();
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let proto = match rng.weighted(&self.prots) {
                0 => None,
                p => Some(p),
            };
            let (sc, dc) = match proto {
                Some(6) | Some(17) => rng.weighted(&self.ports),
                _ => (PortClass::Wc, PortClass::Wc),
            };
            let (sl, dl) = rng.weighted(&self.prefixes);
            let net = nets[rng.below(nets.len() as u64) as usize];
            // Clustered: a network's top 12 bits, then random.
            let addr = |base: u32, rng: &mut Rng, len: u8| -> u32 {
                let a = (base & 0xfff0_0000) | (rng.word() as u32 & 0x000f_ffff);
                if len == 0 {
                    0
                } else {
                    a & (u32::MAX << (32 - len))
                }
            };
            let r = Rule5 {
                src: addr(net.0, &mut rng, sl),
                src_len: sl,
                dst: addr(net.1, &mut rng, dl),
                dst_len: dl,
                sport: Self::ports(&mut rng, sc),
                dport: Self::ports(&mut rng, dc),
                proto,
            };
            if seen.insert((
                r.src, r.src_len, r.dst, r.dst_len, r.sport, r.dport, r.proto,
            )) {
                out.push(r);
            }
        }
        out
    }
}

impl Rule5 {
    /// Whether a header matches the rule.
    pub fn matches(&self, h: &Header5) -> bool {
        let pfx = |a: u32, net: u32, len: u8| len == 0 || (a ^ net) >> (32 - len) == 0;
        pfx(h.src, self.src, self.src_len)
            && pfx(h.dst, self.dst, self.dst_len)
            && (self.sport.0..=self.sport.1).contains(&h.sport)
            && (self.dport.0..=self.dport.1).contains(&h.dport)
            && self.proto.is_none_or(|p| p == h.proto)
    }

    /// The rule in testpmd's flow syntax, at priority `prio`, to queue 0.
    pub fn flow_syntax(&self, prio: u32) -> String {
        let mut s = format!("flow create 0 priority {prio} ingress pattern eth / ipv4");
        let ip = |a: u32| std::net::Ipv4Addr::from(a).to_string();
        if self.src_len > 0 {
            let _ = write!(s, " src spec {} src prefix {}", ip(self.src), self.src_len);
        }
        if self.dst_len > 0 {
            let _ = write!(s, " dst spec {} dst prefix {}", ip(self.dst), self.dst_len);
        }
        let l4 = match self.proto {
            Some(6) => Some("tcp"),
            Some(17) => Some("udp"),
            Some(p) => {
                let _ = write!(s, " proto is {p}");
                None
            }
            None => None,
        };
        if let Some(l4) = l4 {
            let _ = write!(s, " / {l4}");
            for (name, (lo, hi)) in [("src", self.sport), ("dst", self.dport)] {
                if (lo, hi) == (0, 65535) {
                    continue;
                }
                if lo == hi {
                    let _ = write!(s, " {name} is {lo}");
                } else {
                    let _ = write!(s, " {name} spec {lo} {name} last {hi} {name} mask 0xffff");
                }
            }
        }
        s.push_str(" / end actions queue index 0 / end");
        s
    }

    /// The rule in dpdk-test-acl's `--rulesf` format (ClassBench's filter format).
    pub fn acl_line(&self) -> String {
        let ip = |a: u32| std::net::Ipv4Addr::from(a).to_string();
        let (p, m) = match self.proto {
            Some(p) => (p, 0xff),
            None => (0, 0),
        };
        format!(
            "@{}/{}\t{}/{}\t{} : {}\t{} : {}\t0x{p:02x}/0x{m:02x}",
            ip(self.src),
            self.src_len,
            ip(self.dst),
            self.dst_len,
            self.sport.0,
            self.sport.1,
            self.dport.0,
            self.dport.1
        )
    }
}

/// `n` headers: each from a rule picked with a Pareto skew toward the first rules (the
/// busy ones), a point inside it; one in eight from no rule in particular.
pub fn trace(rules: &[Rule5], n: usize, seed: u64) -> Vec<Header5> {
    let mut rng = Rng::new(seed ^ 0x5eed);
    (0..n)
        .map(|_| {
            if rules.is_empty() || rng.below(8) == 0 {
                return Header5 {
                    src: rng.word() as u32,
                    dst: rng.word() as u32,
                    sport: rng.word() as u16,
                    dport: rng.word() as u16,
                    proto: [6u8, 17][rng.below(2) as usize],
                };
            }
            // Pareto(a = 1) over rule indices.
            let u = rng.unit().max(1e-9);
            let i = (((1.0 / u) - 1.0) * (rules.len() as f64 / 16.0)) as usize % rules.len();
            let r = &rules[i];
            let within = |net: u32, len: u8, rng: &mut Rng| {
                if len == 0 {
                    rng.word() as u32
                } else if len == 32 {
                    net
                } else {
                    net | (rng.word() as u32 & (u32::MAX >> len))
                }
            };
            let port = |(lo, hi): (u16, u16), rng: &mut Rng| {
                lo + rng.below(hi as u64 - lo as u64 + 1) as u16
            };
            Header5 {
                src: within(r.src, r.src_len, &mut rng),
                dst: within(r.dst, r.dst_len, &mut rng),
                sport: port(r.sport, &mut rng),
                dport: port(r.dport, &mut rng),
                proto: r.proto.unwrap_or([6u8, 17][rng.below(2) as usize]),
            }
        })
        .collect()
}

/// The trace as mbufs of `pool`, one 60-byte frame each ([`Header5::frame`]), as the flow
/// benchmarks classify them.
pub fn trace_mbufs(
    pool: &rpdk_mbuf::PktmbufPool,
    headers: &[Header5],
) -> Result<Vec<rpdk_mbuf::Mbuf>, String> {
    headers
        .iter()
        .map(|h| {
            let mut m = pool.alloc().map_err(|e| format!("mbuf: {e}"))?;
            m.append(60)
                .map_err(|e| e.to_string())?
                .copy_from_slice(&h.frame());
            Ok(m)
        })
        .collect()
}

impl Header5 {
    /// The header in dpdk-test-acl's `--tracef` format.
    pub fn acl_line(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.src, self.dst, self.sport, self.dport, self.proto
        )
    }

    /// A 60-byte Ethernet/IPv4/TCP-or-UDP frame (64 on the wire with the FCS).
    pub fn frame(&self) -> [u8; 60] {
        let mut f = [0u8; 60];
        f[..6].copy_from_slice(&[0, 0x11, 0x22, 0x33, 0x44, 0x55]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        f[14] = 0x45;
        f[16..18].copy_from_slice(&46u16.to_be_bytes());
        f[22] = 64;
        f[23] = self.proto;
        f[26..30].copy_from_slice(&self.src.to_be_bytes());
        f[30..34].copy_from_slice(&self.dst.to_be_bytes());
        f[34..36].copy_from_slice(&self.sport.to_be_bytes());
        f[36..38].copy_from_slice(&self.dport.to_be_bytes());
        if self.proto == 6 {
            f[46] = 0x50;
        } else {
            f[38..40].copy_from_slice(&26u16.to_be_bytes());
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_parameters_parse_and_generate_distinct_rules() {
        let p = Params::parse(Params::ACL).unwrap();
        let rules = p.generate(2000, 1);
        assert_eq!(rules.len(), 2000);
        let t = trace(&rules, 1000, 1);
        let hit = t
            .iter()
            .filter(|h| rules.iter().any(|r| r.matches(h)))
            .count();
        assert!(hit > 800, "{hit} of 1000 headers match a rule");
        assert!(Params::parse("-prots\n6 x\n").is_err());
        assert!(rules[0].acl_line().starts_with('@'));
    }
}
