//! `net_pcap`: ports that read and write capture files or kernel interfaces (DPDK's
//! `drivers/net/pcap`), in pure Rust: the files are read and written by
//! [`format`](mod@format), the interfaces through raw packet sockets; no libpcap.
//!
//! Devargs (each file or interface is one queue, in the order given, up to 16 a direction):
//! - `rx_pcap=<file>`: receive the packets of a pcap or pcapng file (repeatable);
//! - `tx_pcap=<file>`: write what is sent to a new pcap file (nanosecond timestamps, repeatable);
//! - `rx_iface=<ifname>`: receive everything an interface sees, both directions (repeatable);
//! - `rx_iface_in=<ifname>`: receive what arrives on an interface only (repeatable, mixes with
//!   `rx_iface`);
//! - `tx_iface=<ifname>`: send on an interface (repeatable);
//! - `iface=<ifname>`: one queue pair on an interface, sharing one socket (so the port does not
//!   receive what it sends); alone, or with `phy_mac`;
//! - `phy_mac=0|1`: with `iface`, take the interface's MAC address (default 0: DPDK's
//!   `02:70:63:61:70:<n>`);
//! - `infinite_rx=0|1`: with `rx_pcap`, load each file into memory and replay it forever.
//!
//! Without a receive source the port gets one empty RX queue per TX queue; without a
//! destination, one TX queue per RX queue that counts and drops. Files are checked at probe
//! (a missing file or a bad header fails it, naming the file), and `tx_pcap` files are created
//! then. Interfaces are opened at probe, in the caller's network namespace, and put in
//! promiscuous mode while the port lives.
//!
//! At the end of a file a queue receives nothing, without error; starting the port again reads
//! the files from the start, as DPDK reopens them. A bad record in the middle of a file is
//! logged with the file and offset and counted in `ierrors`, and ends that queue's packets.
//! Files are opened once, at probe, and kept while the port lives.
//!
//! A secondary process drives every kind of queue (see `share`): the primary passes a
//! duplicate of the queue's file or socket; where a file queue stands (the next record to
//! read, the end of what was written) is in the queue's words in the shared port data, so the
//! processes hand a queue over record by record, and a secondary that dies writing leaves at
//! most part of a record, which the queue's next driver cuts off.

pub mod format;

mod file;
mod iface;
mod packet;
mod share;

use std::fs::File;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rpdk_eal::bus::{Devargs, DriverError as BusError, VDEV_DRIVERS, VdevDriver};
use rpdk_mbuf::net::MacAddr;

use self::file::{Clock, DropTx, FileRx, FileTx, InfiniteRx, NullRx, RxTimestamp};
use self::iface::{IfaceRx, IfaceTx};
pub(crate) use self::share::{attach_rx, attach_tx};
use crate::config::{DevInfo, EthConf, Link, link_speed, tx_offload};
use crate::driver::{
    DriverResult, EthDevice, RxQueueOps, RxSetup, SharedQueue, TxQueueOps, TxSetup,
};
use crate::drivers::netif::{self, NetIf};
use crate::error::DriverError;
use crate::shared::QueueWords;

/// The driver's name.
pub const DRIVER: &str = "net_pcap";
const KEYS: &[&str] = &[
    "rx_pcap",
    "tx_pcap",
    "rx_iface",
    "rx_iface_in",
    "tx_iface",
    "iface",
    "phy_mac",
    "infinite_rx",
];
/// Most queues a direction (DPDK's `RTE_PMD_PCAP_MAX_QUEUES`).
const MAX_QUEUES: usize = 16;
const LOG: &str = "pmd.net.pcap";

#[linkme::distributed_slice(VDEV_DRIVERS)]
static NET_PCAP: VdevDriver = VdevDriver {
    name: DRIVER,
    aliases: &["eth_pcap"],
    keys: KEYS,
    probe,
    remove,
};

/// Where an RX queue's packets come from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum RxArg {
    Pcap(String),
    Iface { name: String, inbound_only: bool },
    Null,
}

/// Where a TX queue's packets go.
#[derive(Clone, Debug, PartialEq, Eq)]
enum TxArg {
    Pcap(String),
    Iface(String),
    Drop,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Params {
    rx: Vec<RxArg>,
    tx: Vec<TxArg>,
    /// `iface`: RX and TX queue 0 share one socket.
    single_iface: bool,
    phy_mac: bool,
    infinite_rx: bool,
}

fn parse(dev: &Devargs) -> Result<Params, String> {
    let mut rx = Vec::new();
    let mut tx = Vec::new();
    let mut ifaces = Vec::new();
    let value = |k: &str, v: &str| -> Result<String, String> {
        if v.is_empty() {
            return Err(format!("invalid value '' for key '{k}' (a name is needed)"));
        }
        if k.contains("iface") {
            netif::check_name(v).map_err(|e| format!("invalid value '{v}' for key '{k}': {e}"))?;
        }
        Ok(v.to_string())
    };
    for (k, v) in dev.args() {
        match k.as_str() {
            "rx_pcap" => rx.push(RxArg::Pcap(value(k, v)?)),
            "rx_iface" | "rx_iface_in" => rx.push(RxArg::Iface {
                name: value(k, v)?,
                inbound_only: k == "rx_iface_in",
            }),
            "tx_pcap" => tx.push(TxArg::Pcap(value(k, v)?)),
            "tx_iface" => tx.push(TxArg::Iface(value(k, v)?)),
            "iface" => ifaces.push(value(k, v)?),
            _ => {}
        }
    }
    let phy_mac = super::flag_arg(dev, "phy_mac", false)?;
    let infinite_rx = super::flag_arg(dev, "infinite_rx", false)?;
    let single_iface = !ifaces.is_empty();
    if single_iface {
        if ifaces.len() > 1 {
            return Err(format!(
                "key 'iface' given {} times (one interface for both directions)",
                ifaces.len()
            ));
        }
        if let Some((k, _)) = dev
            .args()
            .iter()
            .find(|(k, _)| k.starts_with("rx_") || k.starts_with("tx_"))
        {
            return Err(format!(
                "key 'iface' cannot be combined with '{k}' (iface is both directions)"
            ));
        }
        rx.push(RxArg::Iface {
            name: ifaces[0].clone(),
            inbound_only: false,
        });
        tx.push(TxArg::Iface(ifaces.remove(0)));
    } else if dev.has("phy_mac") {
        return Err("key 'phy_mac' applies to 'iface' only".into());
    }
    let rx_files = rx.iter().any(|a| matches!(a, RxArg::Pcap(_)));
    if rx_files && rx.iter().any(|a| matches!(a, RxArg::Iface { .. })) {
        return Err("keys 'rx_pcap' and 'rx_iface'/'rx_iface_in' cannot be combined".into());
    }
    let tx_files = tx.iter().any(|a| matches!(a, TxArg::Pcap(_)));
    if tx_files && tx.iter().any(|a| matches!(a, TxArg::Iface(_))) {
        return Err("keys 'tx_pcap' and 'tx_iface' cannot be combined".into());
    }
    if infinite_rx && !rx_files {
        return Err("key 'infinite_rx' applies to 'rx_pcap' only".into());
    }
    for (i, a) in tx.iter().enumerate() {
        if let TxArg::Pcap(p) = a
            && tx[..i].contains(a)
        {
            return Err(format!("file '{p}' given twice for 'tx_pcap'"));
        }
    }
    match (rx.len(), tx.len()) {
        (0, 0) => {
            return Err(
                "no queue: give rx_pcap, tx_pcap, rx_iface, rx_iface_in, tx_iface or iface".into(),
            );
        }
        (0, n) => rx = vec![RxArg::Null; n],
        (n, 0) => tx = vec![TxArg::Drop; n],
        _ => {}
    }
    for (dir, n) in [("RX", rx.len()), ("TX", tx.len())] {
        if n > MAX_QUEUES {
            return Err(format!("{n} {dir} queues, at most {MAX_QUEUES}"));
        }
    }
    Ok(Params {
        rx,
        tx,
        single_iface,
        phy_mac,
        infinite_rx,
    })
}

fn probe(dev: &Devargs) -> Result<(), BusError> {
    let params = parse(dev)?;
    let socket = rpdk_eal::lcore::socket_id().unwrap_or(0);
    let device = PcapDevice::open(&params)?;
    crate::port::allocate(dev.name(), Box::new(device), socket)?;
    Ok(())
}

fn remove(name: &str) -> Result<(), BusError> {
    match crate::port::release_by_name(name) {
        // Closed by the application already (DPDK: "port already released").
        Err(crate::EthError::NoSuchName(_)) => Ok(()),
        r => Ok(r?),
    }
}

/// An open interface: its control handle and a packet socket.
struct Iface {
    netif: NetIf,
    name: Arc<str>,
    sock: OwnedFd,
}

impl Iface {
    fn open(key: &str, name: &str, inbound_only: bool) -> DriverResult<Iface> {
        let netif = NetIf::new(name).map_err(|e| DriverError::io(format!("{key} '{name}'"), e))?;
        let ifindex = netif.index().map_err(|e| match e.raw_os_error() {
            Some(libc::ENODEV) => {
                DriverError::Invalid(format!("{key} '{name}': no such interface"))
            }
            _ => DriverError::io(format!("{key} '{name}'"), e),
        })?;
        let sock = packet::open(ifindex, inbound_only)
            .map_err(|e| DriverError::io(format!("{key} '{name}': opening a packet socket"), e))?;
        Ok(Iface {
            netif,
            name: name.into(),
            sock,
        })
    }

    fn dup(&self) -> DriverResult<OwnedFd> {
        self.sock
            .try_clone()
            .map_err(|e| DriverError::io(format!("duplicating the socket of {}", self.name), e))
    }
}

/// A capture file of a queue, opened at probe and kept while the port lives, and the queue's
/// words: where reading or writing stands, in the shared port data when the port has some
/// (made at the queue's first setup, when the port's id is known).
struct FileQueue {
    path: Arc<str>,
    file: Arc<File>,
    words: Option<Arc<QueueWords>>,
    /// Lent to a secondary process since the last setup: the next setup goes on from the
    /// words instead of starting again.
    lent: bool,
}

impl FileQueue {
    fn new(path: &str, file: Arc<File>) -> FileQueue {
        FileQueue {
            path: path.into(),
            file,
            words: None,
            lent: false,
        }
    }

    /// The queue's words (made now at its first setup), and whether it is back from a
    /// secondary process (`Some(parked)`: whether that process gave it back, or died).
    fn setup(&mut self, port: u16, rx: bool, queue: u16) -> (Arc<QueueWords>, Option<bool>) {
        let words = self
            .words
            .get_or_insert_with(|| Arc::new(QueueWords::of(port, rx, queue)))
            .clone();
        let parked = words.take();
        let back = std::mem::take(&mut self.lent).then_some(parked);
        (words, back)
    }

    fn dup(&self) -> DriverResult<OwnedFd> {
        self.file.try_clone().map(OwnedFd::from).map_err(|e| {
            DriverError::io(format!("duplicating the descriptor of '{}'", self.path), e)
        })
    }
}

enum RxSource {
    File(FileQueue),
    Iface(Arc<Iface>),
    Null,
}

enum TxSink {
    File(FileQueue),
    Iface(Arc<Iface>),
    Drop,
}

struct Sources {
    rx: Vec<RxSource>,
    tx: Vec<TxSink>,
}

struct PcapDevice {
    sources: Mutex<Option<Sources>>,
    nb_rx: u16,
    nb_tx: u16,
    infinite_rx: bool,
    mac: MacAddr,
    /// The interface whose state is the link's (`iface`, or the first one used).
    link_iface: Option<Arc<Iface>>,
    if_index: Option<u32>,
    clock: Clock,
    ts: Option<RxTimestamp>,
}

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// DPDK's made-up address: `02:70:63:61:70:<n>` ("pcap", locally administered).
fn next_mac() -> MacAddr {
    static NEXT: AtomicU8 = AtomicU8::new(0);
    MacAddr([
        0x02,
        0x70,
        0x63,
        0x61,
        0x70,
        NEXT.fetch_add(1, Ordering::Relaxed),
    ])
}

impl PcapDevice {
    fn open(p: &Params) -> DriverResult<PcapDevice> {
        let mut rx = Vec::new();
        let mut tx = Vec::new();
        let mut first_iface: Option<Arc<Iface>> = None;
        for a in &p.rx {
            rx.push(match a {
                RxArg::Pcap(path) => {
                    // Check the header now: a bad file fails probe.
                    let f = Arc::new(
                        File::open(path)
                            .map_err(|e| DriverError::io(format!("rx_pcap '{path}'"), e))?,
                    );
                    format::Reader::new(file::PreadFile::new(f.clone()), path.as_str())
                        .map_err(|e| DriverError::Other(format!("rx_pcap {e}")))?;
                    RxSource::File(FileQueue::new(path, f))
                }
                RxArg::Iface { name, inbound_only } => {
                    let key = if *inbound_only {
                        "rx_iface_in"
                    } else {
                        "rx_iface"
                    };
                    let key = if p.single_iface { "iface" } else { key };
                    let i = Arc::new(Iface::open(key, name, *inbound_only)?);
                    first_iface.get_or_insert_with(|| i.clone());
                    RxSource::Iface(i)
                }
                RxArg::Null => RxSource::Null,
            });
        }
        for a in &p.tx {
            tx.push(match a {
                TxArg::Pcap(path) => {
                    // Readable too: a queue reads back what a writer that died left.
                    let mut f = File::options()
                        .read(true)
                        .write(true)
                        .create(true)
                        .truncate(true)
                        .open(path)
                        .map_err(|e| DriverError::io(format!("tx_pcap '{path}'"), e))?;
                    let mut header = Vec::new();
                    format::write_file_header(&mut header, true, file::SNAPLEN);
                    std::io::Write::write_all(&mut f, &header)
                        .map_err(|e| DriverError::io(format!("tx_pcap '{path}'"), e))?;
                    TxSink::File(FileQueue::new(path, Arc::new(f)))
                }
                // `iface`: the RX queue's socket, so the port does not hear itself.
                TxArg::Iface(name) if p.single_iface => match rx.first() {
                    Some(RxSource::Iface(i)) => TxSink::Iface(i.clone()),
                    _ => return Err(DriverError::Other(format!("iface '{name}' has no socket"))),
                },
                TxArg::Iface(name) => {
                    let i = Arc::new(Iface::open("tx_iface", name, false)?);
                    first_iface.get_or_insert_with(|| i.clone());
                    TxSink::Iface(i)
                }
                TxArg::Drop => TxSink::Drop,
            });
        }
        let mac = match (&first_iface, p.phy_mac) {
            (Some(i), true) => i.netif.mac().map_err(|e| {
                DriverError::io(format!("reading the MAC address of {}", i.name), e)
            })?,
            _ => next_mac(),
        };
        let if_index = match &first_iface {
            Some(i) if p.single_iface => i.netif.index().ok(),
            _ => None,
        };
        let ts = RxTimestamp::register();
        if ts.is_none() {
            log::warn!(target: LOG, "no room for the receive timestamp field: packets go without");
        }
        Ok(PcapDevice {
            nb_rx: rx.len() as u16,
            nb_tx: tx.len() as u16,
            sources: Mutex::new(Some(Sources { rx, tx })),
            infinite_rx: p.infinite_rx,
            mac,
            link_iface: first_iface,
            if_index,
            clock: Clock::new(),
            ts,
        })
    }

    fn closed() -> DriverError {
        DriverError::Other("the device is closed".into())
    }
}

impl EthDevice for PcapDevice {
    fn info(&self) -> DevInfo {
        DevInfo {
            if_index: self.if_index,
            max_rx_queues: self.nb_rx,
            max_tx_queues: self.nb_tx,
            max_rx_pktlen: u32::MAX,
            tx_offload_capa: tx_offload::MULTI_SEGS,
            speed_capa: link_speed::SPEED_10G,
            ..DevInfo::new(DRIVER)
        }
    }

    fn configure(&self, _nb_rx: u16, _nb_tx: u16, _conf: &EthConf) -> DriverResult<()> {
        Ok(())
    }

    fn rx_queue_setup(&self, s: RxSetup<'_>) -> DriverResult<Box<dyn RxQueueOps>> {
        let mut sources = guard(&self.sources);
        let src = sources
            .as_mut()
            .ok_or_else(Self::closed)?
            .rx
            .get_mut(s.queue as usize)
            .ok_or_else(|| DriverError::Invalid(format!("no RX queue {}", s.queue)))?;
        Ok(match src {
            RxSource::File(fq) => {
                let (words, back) = fq.setup(s.port, true, s.queue);
                match back {
                    Some(false) => log::warn!(
                        target: LOG,
                        "port {}: RX queue {} is back from a process that died driving it: \
                         reading goes on from where its last burst left the file",
                        s.port, s.queue
                    ),
                    Some(true) => {}
                    None if self.infinite_rx => file::replay_from_start(&words),
                    None => file::rx_from_start(&words),
                }
                if self.infinite_rx {
                    Box::new(InfiniteRx::load(
                        &fq.file, &fq.path, s.pool, s.port, s.counters, words,
                    )?)
                } else {
                    Box::new(FileRx::resume(
                        fq.file.clone(),
                        fq.path.clone(),
                        s.pool,
                        s.port,
                        s.counters,
                        words,
                        self.ts,
                    )?)
                }
            }
            RxSource::Iface(i) => Box::new(IfaceRx::new(
                i.dup()?,
                s.pool,
                s.port,
                s.counters,
                i.name.clone(),
            )),
            RxSource::Null => Box::new(NullRx),
        })
    }

    fn tx_queue_setup(&self, s: TxSetup<'_>) -> DriverResult<Box<dyn TxQueueOps>> {
        let mut sources = guard(&self.sources);
        let sink = sources
            .as_mut()
            .ok_or_else(Self::closed)?
            .tx
            .get_mut(s.queue as usize)
            .ok_or_else(|| DriverError::Invalid(format!("no TX queue {}", s.queue)))?;
        Ok(match sink {
            TxSink::File(fq) => {
                let first = fq.words.is_none();
                let (words, back) = fq.setup(s.port, false, s.queue);
                if first {
                    // The file holds the header written at probe.
                    file::tx_committed(&words, format::FILE_HEADER_LEN as u64);
                }
                if back == Some(false) {
                    log::warn!(
                        target: LOG,
                        "port {}: TX queue {} is back from a process that died driving it: \
                         writing goes on after its last whole record",
                        s.port, s.queue
                    );
                }
                Box::new(FileTx::new(
                    fq.file.clone(),
                    fq.path.clone(),
                    self.clock,
                    s.counters,
                    words,
                )?)
            }
            TxSink::Iface(i) => Box::new(IfaceTx::new(i.dup()?, s.counters, i.name.clone())),
            TxSink::Drop => Box::new(DropTx::new(s.counters)),
        })
    }

    fn share_rx_queue(&self, queue: u16) -> DriverResult<SharedQueue> {
        let mut sources = guard(&self.sources);
        let src = sources
            .as_mut()
            .ok_or_else(Self::closed)?
            .rx
            .get_mut(queue as usize)
            .ok_or_else(|| DriverError::Invalid(format!("no RX queue {queue}")))?;
        Ok(match src {
            RxSource::File(fq) => {
                let kind = if self.infinite_rx {
                    share::Kind::Replay
                } else {
                    share::Kind::File
                };
                let shared = share::encode(true, kind, &fq.path, vec![fq.dup()?]);
                fq.lent = true;
                shared
            }
            RxSource::Iface(i) => share::encode(true, share::Kind::Iface, &i.name, vec![i.dup()?]),
            RxSource::Null => share::encode(true, share::Kind::Nothing, "", Vec::new()),
        })
    }

    fn share_tx_queue(&self, queue: u16) -> DriverResult<SharedQueue> {
        let mut sources = guard(&self.sources);
        let sink = sources
            .as_mut()
            .ok_or_else(Self::closed)?
            .tx
            .get_mut(queue as usize)
            .ok_or_else(|| DriverError::Invalid(format!("no TX queue {queue}")))?;
        Ok(match sink {
            TxSink::File(fq) => {
                let shared = share::encode(false, share::Kind::File, &fq.path, vec![fq.dup()?]);
                fq.lent = true;
                shared
            }
            TxSink::Iface(i) => share::encode(false, share::Kind::Iface, &i.name, vec![i.dup()?]),
            TxSink::Drop => share::encode(false, share::Kind::Nothing, "", Vec::new()),
        })
    }

    fn start(&self) -> DriverResult<()> {
        // Every RX file is read again from its start, by whichever process drives its queue.
        if let Some(sources) = guard(&self.sources).as_ref() {
            for src in &sources.rx {
                if let RxSource::File(FileQueue { words: Some(w), .. }) = src {
                    w.get(file::STARTS).fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok(())
    }

    fn stop(&self) -> DriverResult<()> {
        Ok(())
    }

    fn close(&self) -> DriverResult<()> {
        // Files and sockets close with the last queue that holds them.
        guard(&self.sources).take();
        Ok(())
    }

    fn link(&self) -> Link {
        Link {
            speed: 10_000,
            full_duplex: true,
            autoneg: false,
            up: self
                .link_iface
                .as_ref()
                .is_none_or(|i| i.netif.is_running()),
        }
    }

    fn mac_addr(&self) -> MacAddr {
        self.mac
    }

    // Always promiscuous and all-multicast, as DPDK's: turning them on is a no-op.
    fn set_promiscuous(&self, on: bool) -> DriverResult<()> {
        if on {
            Ok(())
        } else {
            Err(DriverError::NotSupported("turning promiscuous mode off"))
        }
    }

    fn promiscuous(&self) -> bool {
        true
    }

    fn set_allmulticast(&self, on: bool) -> DriverResult<()> {
        if on {
            Ok(())
        } else {
            Err(DriverError::NotSupported("turning all-multicast mode off"))
        }
    }

    fn allmulticast(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Params, String> {
        parse(&Devargs::parse_vdev(s).unwrap())
    }

    #[test]
    fn devargs_make_queues_as_dpdk() {
        let p = args("net_pcap0,rx_pcap=a.pcap,rx_pcap=b.pcap,tx_pcap=c.pcap").unwrap();
        assert_eq!(
            p.rx,
            [RxArg::Pcap("a.pcap".into()), RxArg::Pcap("b.pcap".into())]
        );
        assert_eq!(p.tx, [TxArg::Pcap("c.pcap".into())]);
        let p = args("net_pcap0,tx_pcap=c.pcap,tx_pcap=d.pcap").unwrap();
        assert_eq!(
            p.rx,
            [RxArg::Null, RxArg::Null],
            "one empty RX queue per TX"
        );
        let p = args("net_pcap0,rx_iface=a,rx_iface_in=b,infinite_rx=0").unwrap();
        assert_eq!(
            p.tx,
            [TxArg::Drop, TxArg::Drop],
            "one dropping TX queue per RX"
        );
        assert_eq!(
            p.rx[1],
            RxArg::Iface {
                name: "b".into(),
                inbound_only: true
            }
        );
        let p = args("net_pcap0,iface=veth0,phy_mac=1").unwrap();
        assert!(p.single_iface && p.phy_mac);
        assert_eq!(p.tx, [TxArg::Iface("veth0".into())]);
        let p = args("net_pcap0,rx_pcap=a.pcap,infinite_rx=1").unwrap();
        assert!(p.infinite_rx);
    }

    #[test]
    fn bad_devargs_name_the_key() {
        let many: String = (0..17).map(|i| format!(",rx_pcap={i}.pcap")).collect();
        for (bad, want) in [
            ("net_pcap0", "no queue: give rx_pcap"),
            ("net_pcap0,rx_pcap=", "invalid value '' for key 'rx_pcap'"),
            (
                "net_pcap0,rx_iface=a/b",
                "invalid value 'a/b' for key 'rx_iface'",
            ),
            (
                "net_pcap0,tx_iface=..",
                "invalid value '..' for key 'tx_iface': '..' is not a valid interface name",
            ),
            ("net_pcap0,iface=a,iface=b", "key 'iface' given 2 times"),
            (
                "net_pcap0,iface=a,tx_pcap=x",
                "key 'iface' cannot be combined with 'tx_pcap'",
            ),
            (
                "net_pcap0,rx_pcap=x,phy_mac=1",
                "key 'phy_mac' applies to 'iface' only",
            ),
            (
                "net_pcap0,rx_pcap=x,rx_iface=a",
                "'rx_pcap' and 'rx_iface'/'rx_iface_in'",
            ),
            (
                "net_pcap0,tx_pcap=x,tx_iface=a",
                "'tx_pcap' and 'tx_iface' cannot",
            ),
            (
                "net_pcap0,rx_iface=a,infinite_rx=1",
                "'infinite_rx' applies to 'rx_pcap'",
            ),
            (
                "net_pcap0,rx_pcap=x,infinite_rx=2",
                "invalid value '2' for key 'infinite_rx'",
            ),
            (
                "net_pcap0,tx_pcap=x,tx_pcap=x",
                "file 'x' given twice for 'tx_pcap'",
            ),
            (&format!("net_pcap0{many}"), "17 RX queues, at most 16"),
        ] {
            let e = args(bad).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }
}
