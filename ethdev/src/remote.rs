//! The primary's ports, from a secondary process (what `dpdk-proc-info` reads): the port list
//! with names, drivers, MAC addresses and links, statistics and extended statistics, and their
//! reset.
//!
//! A port's driver and its control state stay in the process that probed it (the primary):
//! the driver is a trait object, which shared memory must not hold. A secondary sees the
//! ports' descriptions in the shared port data (`Port::get` in a secondary) and asks the
//! primary over the EAL's IPC (`rpdk_ethdev` requests) for what only the primary knows: the
//! driver's own counters and the baselines of resets (the primary answers with a memfd
//! holding the data). A secondary's `Port::stats` comes from here.
//!
//! ```no_run
//! // In a secondary (`--proc-type secondary`, the primary's `--file-prefix`):
//! for p in rpdk_ethdev::remote::ports()? {
//!     let s = rpdk_ethdev::remote::stats(p.id)?;
//!     println!("{} {} {} rx {} tx {}", p.id, p.name, p.mac, s.ipackets, s.opackets);
//! }
//! # Ok::<(), rpdk_ethdev::EthError>(())
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rpdk_eal::mp::{self, Message};
use rpdk_eal::options::ProcType;
use rpdk_mbuf::net::MacAddr;

use crate::config::Link;
use crate::error::{EthError, Result};
use crate::port::{Port, PortId, ports as local_ports};
use crate::stats::{QUEUE_STAT_CNTRS, Stats};

const ACTION: &str = "rpdk_ethdev";
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy)]
enum Op {
    List = 0,
    Stats = 1,
    Xstats = 2,
    StatsReset = 3,
    XstatsReset = 4,
}

/// A port of the primary, as a secondary sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemotePort {
    /// Its id.
    pub id: PortId,
    /// Its name (`net_null0`).
    pub name: String,
    /// Its driver.
    pub driver: String,
    /// Its MAC address.
    pub mac: MacAddr,
    /// Its link.
    pub link: Link,
    /// Whether it is started.
    pub started: bool,
    /// RX queues configured.
    pub nb_rx_queues: u16,
    /// TX queues configured.
    pub nb_tx_queues: u16,
    /// Its NUMA node.
    pub socket: u32,
}

/// Registers the primary's answer to secondaries (once a port exists).
pub(crate) fn serve() {
    static DONE: AtomicBool = AtomicBool::new(false);
    if rpdk_eal::process_type() != Some(ProcType::Primary) || DONE.swap(true, Ordering::AcqRel) {
        return;
    }
    // Registered for the life of the process; a second EAL of the process reuses it.
    crate::secondary::serve();
    let _ = mp::action_register(ACTION, |msg, peer| {
        let reply = match answer(&msg.param) {
            Ok(text) => Message::new(ACTION, &[0]).with_payload(text.as_bytes())?,
            Err(e) => {
                let mut p = vec![1];
                let t = e.to_string();
                p.extend_from_slice(&t.as_bytes()[..t.len().min(mp::MAX_PARAM_LEN - 1)]);
                Message::new(ACTION, &p)
            }
        };
        mp::reply(&reply, peer)
    });
}

fn answer(param: &[u8]) -> Result<String> {
    let (&op, rest) = param
        .split_first()
        .ok_or_else(|| EthError::Remote("empty request".into()))?;
    let port = || -> Result<Port> {
        let id = rest
            .get(..2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .ok_or_else(|| EthError::Remote("no port id".into()))?;
        Port::get(id)
    };
    let mut out = String::new();
    match op {
        0 => {
            for id in local_ports() {
                let p = Port::get(id)?;
                let l = p.link();
                let m = p.mac_addr().0;
                out.push_str(&format!(
                    "{id}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                    p.name(),
                    p.info().driver_name,
                    m.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                    u8::from(l.up),
                    l.speed,
                    u8::from(l.full_duplex),
                    u8::from(l.autoneg),
                    u8::from(p.is_started()),
                    p.nb_rx_queues(),
                    p.nb_tx_queues(),
                    p.socket_id()
                ));
            }
        }
        1 => {
            let s = port()?.stats();
            let mut v = vec![
                s.ipackets,
                s.opackets,
                s.ibytes,
                s.obytes,
                s.imissed,
                s.ierrors,
                s.oerrors,
                s.rx_nombuf,
            ];
            for q in [
                s.q_ipackets,
                s.q_opackets,
                s.q_ibytes,
                s.q_obytes,
                s.q_errors,
            ] {
                v.extend_from_slice(&q);
            }
            out = v.iter().map(u64::to_string).collect::<Vec<_>>().join("\n");
        }
        2 => {
            for (name, v) in port()?.xstats() {
                out.push_str(&format!("{name}\t{v}\n"));
            }
        }
        3 => port()?.stats_reset(),
        4 => port()?.xstats_reset(),
        o => return Err(EthError::Remote(format!("unknown request {o}"))),
    }
    Ok(out)
}

fn ask(op: Op, port: PortId) -> Result<String> {
    let mut p = vec![op as u8];
    p.extend_from_slice(&port.to_le_bytes());
    let err = |e: rpdk_eal::Error| EthError::Remote(e.to_string());
    let mut reply = mp::request_sync(&Message::new(ACTION, &p), TIMEOUT).map_err(err)?;
    let msg = reply.msgs.pop().ok_or_else(|| {
        EthError::Remote(
            "no primary answered (is this a secondary process of one with ports?)".into(),
        )
    })?;
    match msg.param.split_first() {
        Some((0, _)) => String::from_utf8(msg.payload().map_err(err)?)
            .map_err(|_| EthError::Remote("the answer is not text".into())),
        Some((_, why)) => Err(EthError::Remote(String::from_utf8_lossy(why).into_owned())),
        None => Err(EthError::Remote("empty answer".into())),
    }
}

fn num<T: std::str::FromStr>(s: Option<&str>) -> Result<T> {
    s.and_then(|v| v.parse().ok())
        .ok_or_else(|| EthError::Remote("malformed answer".into()))
}

/// The primary's ports (DPDK's `RTE_ETH_FOREACH_DEV` in a secondary).
pub fn ports() -> Result<Vec<RemotePort>> {
    let text = ask(Op::List, 0)?;
    text.lines()
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() != 12 || f[3].len() != 12 {
                return Err(EthError::Remote("malformed answer".into()));
            }
            let mut mac = [0u8; 6];
            for (i, b) in mac.iter_mut().enumerate() {
                *b = u8::from_str_radix(&f[3][2 * i..2 * i + 2], 16)
                    .map_err(|_| EthError::Remote("malformed answer".into()))?;
            }
            Ok(RemotePort {
                id: num(Some(f[0]))?,
                name: f[1].to_string(),
                driver: f[2].to_string(),
                mac: MacAddr(mac),
                link: Link {
                    up: f[4] == "1",
                    speed: num(Some(f[5]))?,
                    full_duplex: f[6] == "1",
                    autoneg: f[7] == "1",
                },
                started: f[8] == "1",
                nb_rx_queues: num(Some(f[9]))?,
                nb_tx_queues: num(Some(f[10]))?,
                socket: num(Some(f[11]))?,
            })
        })
        .collect()
}

/// The statistics of the primary's port `port` (DPDK's `rte_eth_stats_get`).
pub fn stats(port: PortId) -> Result<Stats> {
    let text = ask(Op::Stats, port)?;
    let v: Vec<u64> = text.lines().map(|l| num(Some(l))).collect::<Result<_>>()?;
    if v.len() != 8 + 5 * QUEUE_STAT_CNTRS {
        return Err(EthError::Remote("malformed answer".into()));
    }
    let q = |k: usize| -> [u64; QUEUE_STAT_CNTRS] {
        v[8 + k * QUEUE_STAT_CNTRS..8 + (k + 1) * QUEUE_STAT_CNTRS]
            .try_into()
            .expect("sized")
    };
    Ok(Stats {
        ipackets: v[0],
        opackets: v[1],
        ibytes: v[2],
        obytes: v[3],
        imissed: v[4],
        ierrors: v[5],
        oerrors: v[6],
        rx_nombuf: v[7],
        q_ipackets: q(0),
        q_opackets: q(1),
        q_ibytes: q(2),
        q_obytes: q(3),
        q_errors: q(4),
    })
}

/// The extended statistics of the primary's port `port`, by name.
pub fn xstats(port: PortId) -> Result<Vec<(String, u64)>> {
    ask(Op::Xstats, port)?
        .lines()
        .map(|l| {
            let (n, v) = l
                .rsplit_once('\t')
                .ok_or_else(|| EthError::Remote("malformed answer".into()))?;
            Ok((n.to_string(), num(Some(v))?))
        })
        .collect()
}

/// Resets the statistics of the primary's port `port` (DPDK's `rte_eth_stats_reset`).
pub fn stats_reset(port: PortId) -> Result<()> {
    ask(Op::StatsReset, port).map(|_| ())
}

/// Resets the extended statistics of the primary's port `port`.
pub fn xstats_reset(port: PortId) -> Result<()> {
    ask(Op::XstatsReset, port).map(|_| ())
}
