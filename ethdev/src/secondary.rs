//! The primary's ports in a secondary process (DPDK's multi-process ports): the port table
//! mirrors the shared port data, and the secondary drives queues the primary set up.
//!
//! A secondary's [`Port`] has the primary's id, name and description (read from the shared
//! port data at every `Port::get`), and a device that only reports: configuration, queue
//! setup, start and stop are the primary's. Taking a queue makes this process its owner in the
//! shared data, then asks the primary (IPC request `rpdk_ethdev_queue`) to lend it: the
//! primary drops its own queue object and answers with what the driver shares (a ring's
//! name, a TAP queue's file descriptor, an AF_PACKET queue's socket or a pcap queue's capture
//! file, passed with `SCM_RIGHTS`, and the RX pool's name);
//! the secondary's driver code builds its own queue object from that, counting into the
//! queue's counters in the shared data. Dropping the handle gives the queue back; the
//! primary sets its queue object up again when it takes the queue.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rpdk_eal::mp::{self, Message};
use rpdk_eal::options::ProcType;
use rpdk_mbuf::PktmbufPool;
use rpdk_mbuf::net::MacAddr;

use crate::config::{DevInfo, EthConf, Link};
use crate::driver::{DriverResult, EthDevice, RxQueueOps, RxSetup, TxQueueOps, TxSetup};
use crate::error::{DriverError, EthError, Result};
use crate::port::{self, MAX_ETHPORTS, Port, Slot, SlotKind};
use crate::queue::{RxQueue, TxQueue};
use crate::shared::{PortDesc, SharedPort, flag};
use crate::stage::PortStage;
use crate::stats::QueueCounters;

const ACTION: &str = "rpdk_ethdev_queue";
const TIMEOUT: Duration = Duration::from_secs(5);

fn is_secondary() -> bool {
    rpdk_eal::process_type() == Some(ProcType::Secondary)
}

/// Brings this secondary's port table in line with the shared port data (nothing in a
/// primary).
pub(crate) fn sync_ports() {
    if !is_secondary() {
        return;
    }
    let zone = match SharedPort::zone() {
        Ok(Some(z)) => z,
        Ok(None) => return,
        Err(e) => {
            log::warn!(target: "lib.ethdev", "the primary's ports: {e}");
            return;
        }
    };
    for id in 0..MAX_ETHPORTS as u16 {
        let Some(sh) = SharedPort::at(&zone, id) else {
            continue;
        };
        let d = sh.desc();
        let local = port::secondary_entry(id);
        if !d.has(flag::IN_USE) {
            if local.is_some() {
                port::detach_secondary(id);
            }
            continue;
        }
        let name = PortDesc::text(&d.name);
        if local.is_some_and(|(n, g)| n == name && g == d.generation) {
            continue;
        }
        let dev = SecondaryDevice {
            shared: sh.clone(),
            driver: intern(&PortDesc::text(&d.driver)),
        };
        port::attach_secondary(id, &name, Box::new(dev), d.socket, sh);
        if let Some(inner) = port::inner_of(id) {
            let mut st = inner.lock();
            st.configured = d.has(flag::CONFIGURED);
            st.conf = EthConf {
                mtu: Some(d.mtu),
                ..EthConf::default()
            };
            st.rxq = (0..d.nb_rx).map(|_| Slot::Empty).collect();
            st.txq = (0..d.nb_tx).map(|_| Slot::Empty).collect();
            st.stage = PortStage::new(d.nb_rx, d.nb_tx).unwrap_or_default();
            st.generation = d.generation;
        }
    }
}

/// A driver name as the `&'static str` of [`DevInfo`] (one copy per name).
fn intern(name: &str) -> &'static str {
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    let n: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.push(n);
    n
}

/// The device of a secondary's port: what the shared port data says; no control.
struct SecondaryDevice {
    shared: SharedPort,
    driver: &'static str,
}

const REFUSED: &str = "controlling a port from a secondary process (the primary owns it)";

impl EthDevice for SecondaryDevice {
    fn info(&self) -> DevInfo {
        let d = self.shared.desc();
        DevInfo {
            max_rx_queues: d.nb_rx,
            max_tx_queues: d.nb_tx,
            max_rx_pktlen: d.max_rx_pktlen,
            min_mtu: d.min_mtu,
            max_mtu: d.max_mtu,
            ..DevInfo::new(self.driver)
        }
    }

    fn configure(&self, _nb_rx: u16, _nb_tx: u16, _conf: &EthConf) -> DriverResult<()> {
        Err(DriverError::NotSupported(REFUSED))
    }

    fn rx_queue_setup(&self, _setup: RxSetup<'_>) -> DriverResult<Box<dyn RxQueueOps>> {
        Err(DriverError::NotSupported(REFUSED))
    }

    fn tx_queue_setup(&self, _setup: TxSetup<'_>) -> DriverResult<Box<dyn TxQueueOps>> {
        Err(DriverError::NotSupported(REFUSED))
    }

    fn start(&self) -> DriverResult<()> {
        Err(DriverError::NotSupported(REFUSED))
    }

    fn stop(&self) -> DriverResult<()> {
        Err(DriverError::NotSupported(REFUSED))
    }

    fn close(&self) -> DriverResult<()> {
        Ok(())
    }

    fn link(&self) -> Link {
        let d = self.shared.desc();
        Link {
            up: d.has(flag::LINK_UP),
            speed: d.link_speed,
            full_duplex: d.has(flag::FULL_DUPLEX),
            autoneg: d.has(flag::AUTONEG),
        }
    }

    fn mac_addr(&self) -> MacAddr {
        MacAddr(self.shared.desc().mac)
    }

    fn promiscuous(&self) -> bool {
        self.shared.flags() & flag::PROMISC != 0
    }

    fn allmulticast(&self) -> bool {
        self.shared.flags() & flag::ALLMULTI != 0
    }

    fn mtu(&self) -> u16 {
        self.shared.desc().mtu
    }
}

/// What a driver's attach function gets in the secondary.
pub(crate) struct Attach {
    pub port: u16,
    pub queue: u16,
    /// The RX queue's pool (the primary's, found by name).
    pub pool: Option<PktmbufPool>,
    /// The queue's counters in the shared port data.
    pub counters: Arc<QueueCounters>,
    /// What the primary's driver shared.
    pub shared: crate::driver::SharedQueue,
}

/// Checks that port `port` of this secondary is still the primary's current one and that
/// `queue` exists and is free here.
fn check_take(port: &Port, rx: bool, queue: u16) -> Result<()> {
    let inner = &port.inner;
    let sh = inner
        .shared
        .as_ref()
        .ok_or_else(|| EthError::Remote("the port has no shared data".into()))?;
    let d = sh.desc();
    let st = inner.lock();
    let bad = |reason: String| EthError::BadState {
        port: port.id(),
        reason,
    };
    if !d.has(flag::IN_USE) || d.generation != st.generation {
        return Err(bad(
            "the primary closed or set the port up anew: get it again with Port::get".into(),
        ));
    }
    if !st.configured {
        return Err(bad("the primary has not configured the port".into()));
    }
    let (slot, count, dir) = if rx {
        (
            st.rxq.get(queue as usize).map(Slot::kind),
            st.rxq.len(),
            "rx",
        )
    } else {
        (
            st.txq.get(queue as usize).map(Slot::kind),
            st.txq.len(),
            "tx",
        )
    };
    match slot {
        None => Err(EthError::NoSuchQueue {
            port: port.id(),
            dir,
            queue,
            count: count as u16,
        }),
        Some(SlotKind::Taken) => Err(EthError::QueueBusy {
            port: port.id(),
            dir,
            queue,
        }),
        Some(_) => Ok(()),
    }
}

/// Asks the primary to lend a queue this process claimed.
fn borrow(
    port: &Port,
    rx: bool,
    queue: u16,
) -> Result<(Option<PktmbufPool>, crate::driver::SharedQueue)> {
    let mut p = vec![u8::from(rx)];
    p.extend_from_slice(&port.id().to_le_bytes());
    p.extend_from_slice(&queue.to_le_bytes());
    p.extend_from_slice(&std::process::id().to_le_bytes());
    let err = |e: rpdk_eal::Error| EthError::Remote(e.to_string());
    let mut reply = mp::request_sync(&Message::new(ACTION, &p), TIMEOUT).map_err(err)?;
    let msg = reply
        .msgs
        .pop()
        .ok_or_else(|| EthError::Remote("the primary did not answer".into()))?;
    match msg.param.split_first() {
        Some((0, rest)) => {
            let (&len, rest) = rest
                .split_first()
                .ok_or_else(|| EthError::Remote("malformed answer".into()))?;
            let len = len as usize;
            if rest.len() < len {
                return Err(EthError::Remote("malformed answer".into()));
            }
            let name = String::from_utf8_lossy(&rest[..len]).into_owned();
            let pool = if name.is_empty() {
                None
            } else {
                Some(PktmbufPool::lookup(&name).ok_or_else(|| {
                    EthError::Remote(format!(
                        "the queue's pool '{name}' is not in the shared memory"
                    ))
                })?)
            };
            Ok((
                pool,
                crate::driver::SharedQueue {
                    args: rest[len..].to_vec(),
                    fds: msg.fds,
                },
            ))
        }
        Some((_, why)) => Err(EthError::BadState {
            port: port.id(),
            reason: String::from_utf8_lossy(why).into_owned(),
        }),
        None => Err(EthError::Remote("empty answer".into())),
    }
}

/// Claims a queue and borrows it from the primary: what the driver's attach function needs.
fn prepare(port: &Port, rx: bool, queue: u16) -> Result<Attach> {
    check_take(port, rx, queue)?;
    if !port.claim(rx, queue)? {
        return Err(EthError::BadState {
            port: port.id(),
            reason: format!(
                "queue {queue}: only the first {} queues of each direction can be driven from \
                 a secondary process",
                crate::shared::SHARED_QUEUES
            ),
        });
    }
    let made = (|| {
        let block = port
            .inner
            .shared
            .as_ref()
            .and_then(|sh| sh.block(rx, queue))
            .ok_or_else(|| EthError::Remote("the queue has no shared counters".into()))?;
        let (pool, shared) = borrow(port, rx, queue)?;
        Ok(Attach {
            port: port.id(),
            queue,
            pool,
            counters: Arc::new(QueueCounters::in_shared(block)),
            shared,
        })
    })();
    if made.is_err() {
        port.release(rx, queue);
    }
    made
}

fn driver_err(port: &Port, rx: bool, queue: u16) -> impl FnOnce(DriverError) -> EthError + '_ {
    move |e| {
        port.release(rx, queue);
        EthError::Driver {
            port: port.id(),
            driver: port.inner.dev.info().driver_name,
            message: e.to_string(),
        }
    }
}

/// A secondary's `Port::rx_queue`.
pub(crate) fn take_rx(port: &Port, queue: u16) -> Result<RxQueue> {
    let a = prepare(port, true, queue)?;
    let driver = port.inner.dev.info().driver_name;
    let ops = crate::drivers::attach_rx(driver, a).map_err(driver_err(port, true, queue))?;
    let mut st = port.inner.lock();
    st.rxq[queue as usize] = Slot::Taken;
    let stages = st.stage.rx.clone();
    let upstream = st.stage.upstream.clone();
    Ok(RxQueue::new(
        port.inner.clone(),
        queue,
        ops,
        stages,
        upstream,
    ))
}

/// A secondary's `Port::tx_queue`.
pub(crate) fn take_tx(port: &Port, queue: u16) -> Result<TxQueue> {
    let a = prepare(port, false, queue)?;
    let driver = port.inner.dev.info().driver_name;
    let ops = crate::drivers::attach_tx(driver, a).map_err(driver_err(port, false, queue))?;
    let mut st = port.inner.lock();
    st.txq[queue as usize] = Slot::Taken;
    let stage = st.stage.tx[queue as usize].clone();
    Ok(TxQueue::new(port.inner.clone(), queue, ops, stage))
}

/// Registers the primary's answer to secondaries' queue requests.
pub(crate) fn serve() {
    let _ = mp::action_register(ACTION, |msg, peer| {
        let reply = match lend(&msg.param) {
            Ok((pool, shared)) => {
                let mut p = vec![0, pool.len() as u8];
                p.extend_from_slice(pool.as_bytes());
                p.extend_from_slice(&shared.args);
                Message::new(ACTION, &p).with_fds(shared.fds)
            }
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

fn lend(param: &[u8]) -> Result<(String, crate::driver::SharedQueue)> {
    if param.len() != 9 {
        return Err(EthError::Remote("malformed queue request".into()));
    }
    let rx = param[0] == 1;
    let id = u16::from_le_bytes([param[1], param[2]]);
    let queue = u16::from_le_bytes([param[3], param[4]]);
    let pid = u32::from_le_bytes([param[5], param[6], param[7], param[8]]);
    let (shared, pool) = Port::get(id)?.lend(rx, queue, pid)?;
    if pool.len() > 255 || shared.args.len() + pool.len() + 2 > mp::MAX_PARAM_LEN {
        return Err(EthError::Remote(
            "the queue's parameters do not fit a message".into(),
        ));
    }
    Ok((pool, shared))
}
