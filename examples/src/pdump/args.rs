//! `rpdk-pdump`'s command line, as `dpdk-pdump`'s (DPDK 22.11 `app/pdump`):
//!
//! ```text
//! rpdk-pdump [EAL options] -- [--multi]
//!     --pdump '(port=<port id> | device_id=<pci id or vdev name>),
//!              (queue=<queue_id> | queue=*),
//!              (rx-dev=<pcapng file> | tx-dev=<pcapng file>),
//!              [ring-size=<ring size>default:16384],
//!              [mbuf-size=<mbuf data size>default:2176],
//!              [total-num-mbufs=<number of mbufs>default:65535],
//!              [snap-len=<bytes>default:0 (no limit)]'
//! ```
//!
//! Several `--pdump` options capture several ports or queues; the same file as `rx-dev` and
//! `tx-dev` gives both directions in one file. rpdk writes pcapng files (DPDK's pdump hands
//! packets to a `net_pcap` port); an interface name as `rx-dev` is refused.

use rpdk_pdump::{ALL_QUEUES, CaptureFlags, Target};

/// Ring slots by default (`RING_SIZE`).
pub const RING_SIZE: u32 = 16384;
/// Mbufs per pool by default (`MBUFS_PER_POOL`).
pub const MBUFS_PER_POOL: u32 = 65535;
/// Mbuf data size by default (`RTE_MBUF_DEFAULT_BUF_SIZE`).
pub const MBUF_SIZE: u16 = 2176;
/// Most `--pdump` options (`APP_ARG_TCPDUMP_MAX_TUPLES`).
pub const MAX_TUPLES: usize = 54;

/// One `--pdump` option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tuple {
    /// The port.
    pub target: Target,
    /// A queue or [`ALL_QUEUES`].
    pub queue: u16,
    /// Where received packets go.
    pub rx_dev: Option<String>,
    /// Where sent packets go.
    pub tx_dev: Option<String>,
    /// Capture ring slots (a power of two).
    pub ring_size: u32,
    /// Capture mbufs' data size.
    pub mbuf_size: u16,
    /// Capture mbufs.
    pub total_num_mbufs: u32,
    /// Most bytes kept of a packet (0: what a capture mbuf holds).
    pub snaplen: u32,
}

impl Tuple {
    /// The directions captured.
    pub fn flags(&self) -> CaptureFlags {
        CaptureFlags(self.rx_dev.is_some() as u32 | (self.tx_dev.is_some() as u32) << 1)
    }

    /// Whether both directions go to one file.
    pub fn single_dev(&self) -> bool {
        self.rx_dev.is_some() && self.rx_dev == self.tx_dev
    }
}

/// The whole command line after the EAL's arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// The `--pdump` options in order.
    pub tuples: Vec<Tuple>,
    /// `--multi`: one lcore per capture (accepted; rpdk-pdump drains every ring on one).
    pub multi: bool,
}

const KEYS: &[&str] = &[
    "port",
    "device_id",
    "queue",
    "dir",
    "rx-dev",
    "tx-dev",
    "ring-size",
    "mbuf-size",
    "total-num-mbufs",
    "snap-len",
];

/// The usage text, as dpdk-pdump's.
pub fn usage(prog: &str) -> String {
    format!(
        "usage: {prog} [EAL options] -- --[multi]\n --pdump \
         '(port=<port id> | device_id=<pci id or vdev name>),(queue=<queue_id>),\
         (rx-dev=<iface or pcap file> | tx-dev=<iface or pcap file>,\
         [ring-size=<ring size>default:16384],[mbuf-size=<mbuf data size>default:2176],\
         [total-num-mbufs=<number of mbufs>default:65535],[snap-len=<bytes>default:0]'\n"
    )
}

fn uint(key: &str, value: &str, min: u64, max: u64) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(format!(
            "invalid value:\"{value}\" for key:\"{key}\", value must be >= {min} and <= {max}"
        )),
    }
}

/// Parses one `--pdump` value.
pub fn parse_tuple(arg: &str) -> Result<Tuple, String> {
    let invalid = || format!("--pdump=\"{arg}\": invalid argument passed");
    let mut kv: Vec<(&str, &str)> = Vec::new();
    for part in arg.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').ok_or_else(invalid)?;
        if !KEYS.contains(&k) {
            return Err(invalid());
        }
        kv.push((k, v));
    }
    let one = |k: &str| -> Result<Option<&str>, String> {
        let v: Vec<&str> = kv
            .iter()
            .filter(|(key, _)| *key == k)
            .map(|(_, v)| *v)
            .collect();
        match v.len() {
            0 => Ok(None),
            1 => Ok(Some(v[0])),
            _ => Err(format!("--pdump=\"{arg}\": key \"{k}\" given twice")),
        }
    };
    let target = match (one("port")?, one("device_id")?) {
        (Some(p), None) => {
            Target::Port(uint("port", p, 0, rpdk_ethdev::MAX_ETHPORTS as u64 - 1)? as u16)
        }
        (None, Some(d)) if !d.is_empty() => Target::Device(d.to_string()),
        _ => {
            return Err(format!(
                "--pdump=\"{arg}\": must have either port or device_id argument"
            ));
        }
    };
    let queue = match one("queue")? {
        Some("*") => ALL_QUEUES,
        Some(q) => uint("queue", q, 0, ALL_QUEUES as u64 - 1)? as u16,
        None => return Err(format!("--pdump=\"{arg}\": must have queue argument")),
    };
    let rx_dev = one("rx-dev")?.map(str::to_string);
    let tx_dev = one("tx-dev")?.map(str::to_string);
    if rx_dev.is_none() && tx_dev.is_none() {
        return Err(format!(
            "--pdump=\"{arg}\": must have either rx-dev or tx-dev argument"
        ));
    }
    for dev in rx_dev.iter().chain(&tx_dev) {
        if dev.is_empty() {
            return Err(format!("--pdump=\"{arg}\": an empty file name"));
        }
        if std::path::Path::new("/sys/class/net").join(dev).exists() && !dev.contains('/') {
            return Err(format!(
                "--pdump=\"{arg}\": '{dev}' is a network interface; rpdk-pdump writes pcapng files only"
            ));
        }
    }
    let ring_size = match one("ring-size")? {
        Some(v) => {
            let n = uint("ring-size", v, 2, (1 << 31) - 2)? as u32;
            if !n.is_power_of_two() {
                return Err(format!(
                    "invalid value:\"{v}\" for key:\"ring-size\", value must be power of 2"
                ));
            }
            n
        }
        None => RING_SIZE,
    };
    let mbuf_size = match one("mbuf-size")? {
        Some(v) => uint("mbuf-size", v, 1, u16::MAX as u64)? as u16,
        None => MBUF_SIZE,
    };
    let total_num_mbufs = match one("total-num-mbufs")? {
        Some(v) => uint("total-num-mbufs", v, 1025, u16::MAX as u64)? as u32,
        None => MBUFS_PER_POOL,
    };
    let snaplen = match one("snap-len")? {
        Some(v) => uint("snap-len", v, 0, u32::MAX as u64)? as u32,
        None => 0,
    };
    Ok(Tuple {
        target,
        queue,
        rx_dev,
        tx_dev,
        ring_size,
        mbuf_size,
        total_num_mbufs,
        snaplen,
    })
}

/// Parses the arguments after the EAL's (`--pdump X`, `--pdump=X`, `--multi`).
pub fn parse(args: &[String]) -> Result<Args, String> {
    let mut out = Args::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = if a == "--pdump" {
            Some(it.next().ok_or("--pdump needs a value")?.as_str())
        } else {
            a.strip_prefix("--pdump=")
        };
        match (value, a.as_str()) {
            (Some(v), _) => {
                if out.tuples.len() == MAX_TUPLES {
                    return Err(format!("at most {MAX_TUPLES} --pdump options"));
                }
                out.tuples.push(parse_tuple(v)?);
            }
            (None, "--multi") => out.multi = true,
            (None, other) => return Err(format!("unknown option '{other}'")),
        }
    }
    if out.tuples.is_empty() {
        return Err("no --pdump option: nothing to capture".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpdk_syntax() {
        let t = parse_tuple("port=0,queue=*,rx-dev=/tmp/rx.pcapng,tx-dev=/tmp/tx.pcapng").unwrap();
        assert_eq!(t.target, Target::Port(0));
        assert_eq!(t.queue, ALL_QUEUES);
        assert_eq!(t.flags(), CaptureFlags::RXTX);
        assert!(!t.single_dev());
        assert_eq!(
            (t.ring_size, t.mbuf_size, t.total_num_mbufs),
            (16384, 2176, 65535)
        );
        let t = parse_tuple(
            "device_id=net_af_packet0,queue=2,rx-dev=/tmp/c,tx-dev=/tmp/c,ring-size=1024,\
             mbuf-size=1024,total-num-mbufs=2048,snap-len=96",
        )
        .unwrap();
        assert_eq!(t.target, Target::Device("net_af_packet0".into()));
        assert!(t.single_dev());
        assert_eq!((t.queue, t.ring_size, t.mbuf_size), (2, 1024, 1024));
        assert_eq!((t.total_num_mbufs, t.snaplen), (2048, 96));
        let t = parse_tuple("port=1,queue=0,tx-dev=/tmp/t").unwrap();
        assert_eq!(t.flags(), CaptureFlags::TX);
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let e = |s: &str| parse_tuple(s).unwrap_err();
        assert!(e("queue=*,rx-dev=/x").contains("either port or device_id"));
        assert!(e("port=0,device_id=a,queue=*,rx-dev=/x").contains("either port or device_id"));
        assert!(e("port=0,rx-dev=/x").contains("must have queue"));
        assert!(e("port=0,queue=*").contains("either rx-dev or tx-dev"));
        assert!(e("port=0,queue=*,rx-dev=/x,bogus=1").contains("invalid argument"));
        assert!(e("port=0,queue=*,rx-dev=/x,ring-size=1000").contains("power of 2"));
        assert!(e("port=0,queue=*,rx-dev=/x,total-num-mbufs=10").contains(">= 1025"));
        assert!(e("port=99,queue=*,rx-dev=/x").contains("<= 31"));
        assert!(e("port=0,queue=*,rx-dev=lo").contains("network interface"));
        let args = |v: &[&str]| parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(args(&[]).unwrap_err().contains("nothing to capture"));
        assert!(args(&["--bogus"]).unwrap_err().contains("'--bogus'"));
        let a = args(&[
            "--pdump",
            "port=0,queue=*,rx-dev=/a",
            "--pdump=port=1,queue=0,tx-dev=/b",
            "--multi",
        ])
        .unwrap();
        assert_eq!(a.tuples.len(), 2);
        assert!(a.multi);
    }
}
