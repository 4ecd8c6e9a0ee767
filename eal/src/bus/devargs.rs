//! Device arguments: `net_af_packet0,iface=veth0,qpairs=2` and `0000:00:03.0,key=val`.

use std::fmt;

use super::pci::PciAddr;

/// The bus a device sits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BusKind {
    /// Virtual devices (`--vdev`).
    Vdev,
    /// PCI devices (`-a`).
    Pci,
}

impl fmt::Display for BusKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BusKind::Vdev => "vdev",
            BusKind::Pci => "pci",
        })
    }
}

/// A device name and its `key=value` arguments, as given on the command line.
///
/// Keys may repeat (`net_pcap0,rx_pcap=a.pcap,rx_pcap=b.pcap` gives two queues), a key may come
/// without a value (`key` alone gives the empty value), and a value may be a bracketed list with
/// commas inside (`key=[a,b]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Devargs {
    bus: BusKind,
    name: String,
    args: Vec<(String, String)>,
}

impl Devargs {
    /// Parses a `--vdev` value: `<driver><id>[,key=val...]`.
    pub fn parse_vdev(s: &str) -> Result<Devargs, String> {
        let (name, args) = split_name(s)?;
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
        {
            return Err(format!(
                "device name '{name}' may only hold letters, digits and '_-.:'"
            ));
        }
        Ok(Devargs {
            bus: BusKind::Vdev,
            name: name.to_string(),
            args: parse_kvargs(args)?,
        })
    }

    /// Parses an `-a`/`-b` value: `<[domain:]bus:devid.func>[,key=val...]`.
    pub fn parse_pci(s: &str) -> Result<Devargs, String> {
        let (name, args) = split_name(s)?;
        let addr: PciAddr = name.parse()?;
        Ok(Devargs {
            bus: BusKind::Pci,
            name: addr.to_string(),
            args: parse_kvargs(args)?,
        })
    }

    /// The bus.
    pub fn bus(&self) -> BusKind {
        self.bus
    }

    /// The device name (`net_null0`), or the PCI address in full form (`0000:00:03.0`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The PCI address of a PCI device.
    pub fn pci_addr(&self) -> Option<PciAddr> {
        match self.bus {
            BusKind::Pci => self.name.parse().ok(),
            BusKind::Vdev => None,
        }
    }

    /// Every `(key, value)` pair, in order.
    pub fn args(&self) -> &[(String, String)] {
        &self.args
    }

    /// The last value given for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.args
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value given for `key`, in order.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.args
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `key` was given.
    pub fn has(&self, key: &str) -> bool {
        self.args.iter().any(|(k, _)| k == key)
    }

    /// The value of `key` parsed as `T`, or `default` when absent; an error names the key.
    pub fn parse_or<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, String> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("invalid value '{v}' for key '{key}'")),
        }
    }

    /// The keys given that are not in `valid`, each once, in order.
    pub fn unknown_keys(&self, valid: &[&str]) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for (k, _) in &self.args {
            if !valid.contains(&k.as_str()) && !out.contains(&k.as_str()) {
                out.push(k);
            }
        }
        out
    }

    /// Warns about every key not in `valid`, naming the driver and its keys, and goes on: as
    /// DPDK's drivers do, a driver ignores the keys it does not know. Returns the warnings.
    pub fn warn_unknown_keys(&self, driver: &str, valid: &[&str]) -> Vec<String> {
        let known = if valid.is_empty() {
            format!("driver {driver} takes no arguments")
        } else {
            format!("valid keys of {driver}: {}", valid.join(", "))
        };
        self.unknown_keys(valid)
            .into_iter()
            .map(|k| {
                let w = format!("{}: ignoring unknown key '{k}' ({known})", self.name);
                log::warn!(target: "lib.eal", "{w}");
                w
            })
            .collect()
    }
}

impl fmt::Display for Devargs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (k, v) in &self.args {
            if v.is_empty() {
                write!(f, ",{k}")?;
            } else {
                write!(f, ",{k}={v}")?;
            }
        }
        Ok(())
    }
}

fn split_name(s: &str) -> Result<(&str, &str), String> {
    let (name, rest) = s.split_once(',').unwrap_or((s, ""));
    let name = name.trim();
    if name.is_empty() {
        return Err("missing device name".into());
    }
    if name.contains('=') {
        return Err(format!(
            "'{name}' is not a device name (it comes first, before any key=value)"
        ));
    }
    Ok((name, rest))
}

/// Parses `k1=v1,k2=[a,b],k3`.
fn parse_kvargs(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    if s.is_empty() {
        return Ok(out);
    }
    let mut items = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth < 0 {
                    return Err("']' without a matching '['".into());
                }
            }
            ',' if depth == 0 => {
                items.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("'[' without a matching ']'".into());
    }
    items.push(&s[start..]);
    for item in items {
        let item = item.trim();
        if item.is_empty() {
            return Err("empty argument (two commas in a row, or a trailing comma)".into());
        }
        let (k, v) = item.split_once('=').unwrap_or((item, ""));
        let k = k.trim();
        if k.is_empty() {
            return Err(format!("argument '{item}' has no key"));
        }
        if !k
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(format!("key '{k}' may only hold letters, digits and '_-.'"));
        }
        out.push((k.to_string(), v.trim().to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vdevs() {
        let d = Devargs::parse_vdev("net_af_packet0,iface=veth0,qpairs=2").unwrap();
        assert_eq!(d.bus(), BusKind::Vdev);
        assert_eq!(d.name(), "net_af_packet0");
        assert_eq!(d.get("iface"), Some("veth0"));
        assert_eq!(d.parse_or("qpairs", 1u16), Ok(2));
        assert_eq!(d.parse_or("framesz", 2048u32), Ok(2048));
        assert!(
            d.parse_or::<u16>("iface", 1)
                .unwrap_err()
                .contains("'iface'")
        );
        assert_eq!(d.to_string(), "net_af_packet0,iface=veth0,qpairs=2");

        let d = Devargs::parse_vdev("net_pcap0,rx_pcap=a.pcap,rx_pcap=b.pcap,infinite_rx").unwrap();
        assert_eq!(
            d.get_all("rx_pcap").collect::<Vec<_>>(),
            ["a.pcap", "b.pcap"]
        );
        assert!(d.has("infinite_rx"));
        assert_eq!(d.get("infinite_rx"), Some(""));

        let d = Devargs::parse_vdev("net_x0,list=[1,2,3],k=v").unwrap();
        assert_eq!(d.get("list"), Some("[1,2,3]"));
        assert_eq!(d.get("k"), Some("v"));
        assert_eq!(Devargs::parse_vdev("net_null0").unwrap().args().len(), 0);
    }

    #[test]
    fn bad_vdevs() {
        let cases = [
            ("", "missing device name"),
            (",iface=x", "missing device name"),
            ("iface=x", "is not a device name"),
            ("net_null0,,size=64", "empty argument"),
            ("net_null0,size=64,", "empty argument"),
            ("net_null0,=3", "has no key"),
            ("net_null0,k=[1,2", "without a matching ']'"),
            ("net_null0,k=1]", "without a matching '['"),
            ("net null0", "may only hold"),
            ("net_null0,a b=1", "may only hold"),
        ];
        for (input, want) in cases {
            let err = Devargs::parse_vdev(input).expect_err(input);
            assert!(err.contains(want), "{input:?}: got {err:?}");
        }
    }

    #[test]
    fn unknown_keys_are_warnings() {
        let d = Devargs::parse_vdev("net_null0,size=64,colour=blue,colour=red,args=x").unwrap();
        assert_eq!(d.unknown_keys(&["size", "copy"]), ["colour", "args"]);
        assert_eq!(
            d.warn_unknown_keys("net_null", &["size", "copy"]),
            [
                "net_null0: ignoring unknown key 'colour' (valid keys of net_null: size, copy)",
                "net_null0: ignoring unknown key 'args' (valid keys of net_null: size, copy)",
            ]
        );
        assert!(d.unknown_keys(&["size", "colour", "args"]).is_empty());
        let w = d.warn_unknown_keys("net_x", &[]);
        assert!(w[0].contains("takes no arguments"), "{w:?}");
    }

    #[test]
    fn pci_devargs() {
        let d = Devargs::parse_pci("00:03.0,rxq=2").unwrap();
        assert_eq!(d.name(), "0000:00:03.0");
        assert_eq!(d.get("rxq"), Some("2"));
        assert_eq!(d.pci_addr().unwrap().to_string(), "0000:00:03.0");
        assert!(Devargs::parse_pci("eth0").is_err());
    }
}
