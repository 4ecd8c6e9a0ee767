//! `net_ring`: a port over rings of mbufs (DPDK's `drivers/net/ring`). What a TX queue sends
//! goes into a ring; an RX queue receives what is in its ring. No copies, no system calls:
//! packets move between lcores, pipeline stages or ports of one process at the rings' speed.
//!
//! Two ways to make one:
//! - from the command line, `--vdev net_ring0`: 16 rings of 1024 slots, single-producer and
//!   single-consumer, named `ETH_RXTX<i>_<name>` in EAL memory; queue `i` sends into ring `i`
//!   and receives from it, so the port is a loopback. Devargs
//!   `nodeaction=<name>:<node>:<CREATE|ATTACH>` choose the rings' name and NUMA node, and
//!   whether to create them (falling back to attaching when they exist, as DPDK) or attach to
//!   rings made before. Without devargs the rings are named after the device and created (or
//!   attached to).
//! - from code, [`from_rings`] (DPDK's `rte_eth_from_rings`) with the application's
//!   [`MbufRing`]s, one per RX and per TX queue, in any sync mode; [`from_ring`] for one ring
//!   that is both.
//!
//! The queues use the rings' typed handles: a single-consumer ring can be the RX ring of one
//! queue only, and setting up a second queue on it (on this port or another) is an error, as
//! is an application holding its single-consumer handle.
//!
//! Statistics are DPDK's: queues count packets only, never bytes (`ibytes` and `obytes` stay
//! 0, as with DPDK's `net_ring`): a ring moves mbuf pointers and never reads their headers, and
//! adding up their lengths would cost a pass over every mbuf of every burst. A TX burst that
//! does not fit in the ring leaves the rest with the caller, not counted: they were not taken,
//! so they are not errors (DPDK's ring PMD counts them in `oerrors`, and testpmd then counts
//! them again as dropped; rpdk keeps one rule, see [`crate::driver::TxQueueOps::tx_burst`]).
//! Closing a port whose rings it created frees
//! the mbufs still in them and the rings' names; rings given by the application or attached
//! to are left as they are.

use std::sync::{Arc, Mutex};

use rpdk_eal::bus::{Devargs, DriverError as BusError, VDEV_DRIVERS, VdevDriver};
use rpdk_mbuf::net::MacAddr;
use rpdk_mbuf::{BurstView, MbufConsumer, MbufProducer, MbufRing, RingError};
use rpdk_ring::{Mc, McHts, McRts, Mp, MpHts, MpRts, RingFlags, Sc, Sp, SyncType};

use crate::config::{DevInfo, EthConf, Link, link_speed};
use crate::driver::{
    DriverResult, EthDevice, RxQueueOps, RxSetup, SharedQueue, TxQueueOps, TxSetup,
};
use crate::error::{DriverError, EthError};
use crate::port::PortId;
use crate::secondary::Attach;
use crate::stats::QueueCounters;

/// The driver's name.
pub const DRIVER: &str = "net_ring";
/// Rings a `--vdev` port makes (DPDK's `RTE_PMD_RING_MAX_RX_RINGS`).
pub const VDEV_RINGS: usize = 16;
/// Slots of each of them.
pub const VDEV_RING_SIZE: u32 = 1024;
const KEYS: &[&str] = &["nodeaction"];

#[linkme::distributed_slice(VDEV_DRIVERS)]
static NET_RING: VdevDriver = VdevDriver {
    name: DRIVER,
    aliases: &["eth_ring"],
    keys: KEYS,
    probe,
    remove,
};

/// What to do with the rings of a `--vdev` port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    /// Create them, or attach when they exist.
    Create,
    /// Attach to existing ones.
    Attach,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Params {
    /// The rings are `ETH_RXTX<i>_<name>`.
    name: String,
    node: Option<u32>,
    action: Action,
}

fn parse(dev: &Devargs) -> Result<Params, String> {
    let mut pairs = dev.get_all("nodeaction");
    let Some(v) = pairs.next() else {
        return Ok(Params {
            name: dev.name().to_string(),
            node: None,
            action: Action::Create,
        });
    };
    if pairs.next().is_some() {
        return Err("key 'nodeaction' given twice (one port, one set of rings)".into());
    }
    let bad = |why: &str| format!("invalid value '{v}' for key 'nodeaction': {why}");
    let mut parts = v.split(':');
    let (Some(name), Some(node), Some(action), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("expected <name>:<node>:<CREATE|ATTACH>"));
    };
    if name.is_empty() {
        return Err(bad("empty ring name"));
    }
    let longest = rpdk_ring::RING_NAME_MAX - ring_name(VDEV_RINGS - 1, "").len();
    if name.len() > longest {
        return Err(bad(&format!(
            "ring name '{name}' is longer than {longest} characters"
        )));
    }
    let node = node
        .parse()
        .map_err(|_| bad(&format!("NUMA node '{node}' is not a number")))?;
    let action = match action {
        "CREATE" => Action::Create,
        "ATTACH" => Action::Attach,
        other => return Err(bad(&format!("action '{other}' is not CREATE or ATTACH"))),
    };
    Ok(Params {
        name: name.to_string(),
        node: Some(node),
        action,
    })
}

/// DPDK's name of ring `i` of a `--vdev` port.
fn ring_name(i: usize, name: &str) -> String {
    format!("ETH_RXTX{i}_{name}")
}

/// Creates or attaches to the rings of a `--vdev` port; whether it created them.
fn vdev_rings(p: &Params) -> Result<(Vec<MbufRing>, bool), String> {
    let longest = rpdk_ring::RING_NAME_MAX - ring_name(VDEV_RINGS - 1, "").len();
    if p.name.len() > longest {
        return Err(format!(
            "device name '{}' is too long for its rings' names (at most {longest} \
             characters; or name the rings with nodeaction=<name>:<node>:CREATE)",
            p.name
        ));
    }
    let attach = || {
        (0..VDEV_RINGS)
            .map(|i| {
                let n = ring_name(i, &p.name);
                MbufRing::lookup(&n).map_err(|e| format!("attaching to ring {n}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()
    };
    if p.action == Action::Attach {
        return Ok((attach()?, false));
    }
    let mut made = Vec::with_capacity(VDEV_RINGS);
    for i in 0..VDEV_RINGS {
        let n = ring_name(i, &p.name);
        match MbufRing::create(
            &n,
            VDEV_RING_SIZE,
            p.node,
            RingFlags::SP_ENQ | RingFlags::SC_DEQ,
        ) {
            Ok(r) => made.push(r),
            Err(RingError::Exists(_)) if i == 0 => {
                log::info!(target: LOG, "rings {} exist: attaching", ring_name(0, &p.name));
                return Ok((attach()?, false));
            }
            Err(e) => {
                for r in made {
                    let _ = r.free();
                }
                return Err(format!("creating ring {n}: {e}"));
            }
        }
    }
    Ok((made, true))
}

const LOG: &str = "pmd.net.ring";

fn probe(dev: &Devargs) -> Result<(), BusError> {
    let params = parse(dev)?;
    let (rings, created) = vdev_rings(&params)?;
    let socket = params.node.or_else(rpdk_eal::lcore::socket_id).unwrap_or(0);
    let device = RingDevice::new(rings.clone(), rings, created);
    crate::port::allocate(dev.name(), Box::new(device), socket)?;
    log::info!(
        target: LOG,
        "{}: {VDEV_RINGS} rings {} ({})",
        dev.name(),
        ring_name(0, &params.name),
        if created { "created" } else { "attached" }
    );
    Ok(())
}

fn remove(name: &str) -> Result<(), BusError> {
    Ok(crate::port::release_by_name(name)?)
}

/// A port `net_ring_<name>` whose RX queue `i` receives from `rx[i]` and TX queue `i` sends
/// into `tx[i]` (DPDK's `rte_eth_from_rings`). The rings stay the application's: closing the
/// port leaves them and what they hold.
pub fn from_rings(
    name: &str,
    rx: &[MbufRing],
    tx: &[MbufRing],
    socket: Option<u32>,
) -> Result<PortId, EthError> {
    let port = format!("{DRIVER}_{name}");
    let invalid = |reason: String| EthError::InvalidDevice {
        name: port.clone(),
        reason,
    };
    if rx.is_empty() && tx.is_empty() {
        return Err(invalid("a ring port needs at least one ring".into()));
    }
    if rx.len() > u16::MAX as usize || tx.len() > u16::MAX as usize {
        return Err(invalid("too many rings".into()));
    }
    let socket = socket.or_else(rpdk_eal::lcore::socket_id).unwrap_or(0);
    let device = RingDevice::new(rx.to_vec(), tx.to_vec(), false);
    crate::port::allocate(&port, Box::new(device), socket)
}

/// A port over one named ring, both its RX and its TX queue (DPDK's `rte_eth_from_ring`): the
/// port is `net_ring_<ring name>` and receives what it sends.
pub fn from_ring(ring: &MbufRing) -> Result<PortId, EthError> {
    if ring.name().is_empty() {
        return Err(EthError::InvalidDevice {
            name: DRIVER.to_string(),
            reason: "from_ring names the port after the ring, which has no name: use from_rings"
                .into(),
        });
    }
    from_rings(
        ring.name(),
        std::slice::from_ref(ring),
        std::slice::from_ref(ring),
        None,
    )
}

struct RingDevice {
    rx: Vec<MbufRing>,
    tx: Vec<MbufRing>,
    /// Whether the port made its rings (then closing it frees them).
    owns_rings: bool,
    mac: Mutex<MacAddr>,
}

impl RingDevice {
    fn new(rx: Vec<MbufRing>, tx: Vec<MbufRing>, owns_rings: bool) -> RingDevice {
        RingDevice {
            rx,
            tx,
            owns_rings,
            mac: Mutex::new(super::next_mac()),
        }
    }
}

impl EthDevice for RingDevice {
    fn info(&self) -> DevInfo {
        DevInfo {
            max_rx_queues: self.rx.len() as u16,
            max_tx_queues: self.tx.len() as u16,
            max_rx_pktlen: u32::MAX,
            max_mtu: u16::MAX,
            speed_capa: link_speed::SPEED_10G,
            ..DevInfo::new(DRIVER)
        }
    }

    fn configure(&self, _nb_rx: u16, _nb_tx: u16, _conf: &EthConf) -> DriverResult<()> {
        Ok(())
    }

    fn rx_queue_setup(&self, s: RxSetup<'_>) -> DriverResult<Box<dyn RxQueueOps>> {
        let ring = &self.rx[s.queue as usize];
        let side = RxSide::new(ring).map_err(|e| {
            DriverError::Invalid(format!("RX queue {}: ring '{}': {e}", s.queue, ring.name()))
        })?;
        Ok(Box::new(RingRx {
            side,
            counters: s.counters,
        }))
    }

    fn tx_queue_setup(&self, s: TxSetup<'_>) -> DriverResult<Box<dyn TxQueueOps>> {
        let ring = &self.tx[s.queue as usize];
        let side = TxSide::new(ring).map_err(|e| {
            DriverError::Invalid(format!("TX queue {}: ring '{}': {e}", s.queue, ring.name()))
        })?;
        Ok(Box::new(RingTx {
            side,
            counters: s.counters,
        }))
    }

    fn start(&self) -> DriverResult<()> {
        Ok(())
    }

    fn stop(&self) -> DriverResult<()> {
        Ok(())
    }

    fn close(&self) -> DriverResult<()> {
        if !self.owns_rings {
            return Ok(());
        }
        // The rings are both RX and TX of this port; the queues are gone, so their
        // single-consumer sides are free, unless another port attached to them holds one.
        let mut freed = 0;
        for ring in &self.rx {
            match ring.consumer::<Sc>() {
                Ok(rx) => freed += rx.drain(),
                Err(e) => log::warn!(
                    target: LOG,
                    "ring {}: mbufs left in it ({e})",
                    ring.name()
                ),
            }
            let name = ring.name().to_string();
            if let Err(e) = ring.clone().free() {
                log::warn!(target: LOG, "ring {name}: {e}");
            }
        }
        if freed > 0 {
            log::debug!(target: LOG, "freed {freed} mbufs left in the rings");
        }
        Ok(())
    }

    fn link(&self) -> Link {
        Link {
            speed: 10_000,
            full_duplex: true,
            autoneg: true,
            up: true,
        }
    }

    fn mac_addr(&self) -> MacAddr {
        *self.mac.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_mac_addr(&self, mac: MacAddr) -> DriverResult<()> {
        *self.mac.lock().unwrap_or_else(|e| e.into_inner()) = mac;
        Ok(())
    }

    fn share_rx_queue(&self, queue: u16) -> DriverResult<SharedQueue> {
        share(&self.rx[queue as usize], "RX", queue)
    }

    fn share_tx_queue(&self, queue: u16) -> DriverResult<SharedQueue> {
        share(&self.tx[queue as usize], "TX", queue)
    }
}

/// A queue's ring, for a secondary: its name (the ring is in the shared memory, where the
/// secondary finds it).
fn share(ring: &MbufRing, dir: &str, queue: u16) -> DriverResult<SharedQueue> {
    if ring.name().is_empty() || MbufRing::lookup(ring.name()).is_err() {
        return Err(DriverError::Invalid(format!(
            "{dir} queue {queue}: its ring is not a named ring of the shared memory, which a \
             secondary process could find"
        )));
    }
    Ok(SharedQueue {
        args: ring.name().as_bytes().to_vec(),
        fds: Vec::new(),
    })
}

fn shared_ring(a: &Attach) -> DriverResult<MbufRing> {
    let name = String::from_utf8_lossy(&a.shared.args).into_owned();
    MbufRing::lookup(&name)
        .map_err(|e| DriverError::Invalid(format!("queue {}: ring '{name}': {e}", a.queue)))
}

/// The RX queue a secondary process drives: the ring the primary named.
pub(crate) fn attach_rx(a: Attach) -> DriverResult<Box<dyn RxQueueOps>> {
    let ring = shared_ring(&a)?;
    let side = RxSide::new(&ring).map_err(|e| {
        DriverError::Invalid(format!("RX queue {}: ring '{}': {e}", a.queue, ring.name()))
    })?;
    Ok(Box::new(RingRx {
        side,
        counters: a.counters,
    }))
}

/// The TX queue a secondary process drives.
pub(crate) fn attach_tx(a: Attach) -> DriverResult<Box<dyn TxQueueOps>> {
    let ring = shared_ring(&a)?;
    let side = TxSide::new(&ring).map_err(|e| {
        DriverError::Invalid(format!("TX queue {}: ring '{}': {e}", a.queue, ring.name()))
    })?;
    Ok(Box::new(RingTx {
        side,
        counters: a.counters,
    }))
}

/// A queue's consumer handle, in its ring's mode.
enum RxSide {
    Sc(MbufConsumer<Sc>),
    Mc(MbufConsumer<Mc>),
    Rts(MbufConsumer<McRts>),
    Hts(MbufConsumer<McHts>),
}

impl RxSide {
    fn new(ring: &MbufRing) -> Result<RxSide, RingError> {
        Ok(match ring.cons_sync() {
            SyncType::St => RxSide::Sc(ring.consumer()?),
            SyncType::Mt => RxSide::Mc(ring.consumer()?),
            SyncType::MtRts => RxSide::Rts(ring.consumer()?),
            SyncType::MtHts => RxSide::Hts(ring.consumer()?),
        })
    }
}

struct RingRx {
    side: RxSide,
    counters: Arc<QueueCounters>,
}

impl RxQueueOps for RingRx {
    #[inline]
    fn rx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let n = match &self.side {
            RxSide::Sc(c) => c.dequeue_burst(pkts),
            RxSide::Mc(c) => c.dequeue_burst(pkts),
            RxSide::Rts(c) => c.dequeue_burst(pkts),
            RxSide::Hts(c) => c.dequeue_burst(pkts),
        };
        // Packets only, as DPDK's ring PMD: the mbufs' headers are not read.
        self.counters.add(n as u64, 0);
        n
    }
}

/// A queue's producer handle, in its ring's mode.
enum TxSide {
    Sp(MbufProducer<Sp>),
    Mp(MbufProducer<Mp>),
    Rts(MbufProducer<MpRts>),
    Hts(MbufProducer<MpHts>),
}

impl TxSide {
    fn new(ring: &MbufRing) -> Result<TxSide, RingError> {
        Ok(match ring.prod_sync() {
            SyncType::St => TxSide::Sp(ring.producer()?),
            SyncType::Mt => TxSide::Mp(ring.producer()?),
            SyncType::MtRts => TxSide::Rts(ring.producer()?),
            SyncType::MtHts => TxSide::Hts(ring.producer()?),
        })
    }
}

struct RingTx {
    side: TxSide,
    counters: Arc<QueueCounters>,
}

impl TxQueueOps for RingTx {
    #[inline]
    fn tx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let sent = match &self.side {
            TxSide::Sp(p) => p.enqueue_burst(pkts),
            TxSide::Mp(p) => p.enqueue_burst(pkts),
            TxSide::Rts(p) => p.enqueue_burst(pkts),
            TxSide::Hts(p) => p.enqueue_burst(pkts),
        };
        // Packets only, as DPDK's ring PMD: the mbufs' headers are not read.
        // What did not fit stays with the caller: not taken, so not an error.
        self.counters.add(sent as u64, 0);
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devargs() {
        let p = parse(&Devargs::parse_vdev("net_ring0").unwrap()).unwrap();
        assert_eq!(
            p,
            Params {
                name: "net_ring0".into(),
                node: None,
                action: Action::Create
            }
        );
        let p = parse(&Devargs::parse_vdev("net_ring1,nodeaction=r1:0:ATTACH").unwrap()).unwrap();
        assert_eq!(
            p,
            Params {
                name: "r1".into(),
                node: Some(0),
                action: Action::Attach
            }
        );
        for (bad, want) in [
            (
                "net_ring0,nodeaction=r1:0",
                "invalid value 'r1:0' for key 'nodeaction': expected <name>:<node>:<CREATE|ATTACH>",
            ),
            (
                "net_ring0,nodeaction=r1:x:CREATE",
                "NUMA node 'x' is not a number",
            ),
            (
                "net_ring0,nodeaction=r1:0:MAKE",
                "action 'MAKE' is not CREATE or ATTACH",
            ),
            ("net_ring0,nodeaction=:0:CREATE", "empty ring name"),
            (
                "net_ring0,nodeaction=a_very_long_ring_name:0:CREATE",
                "is longer than 17 characters",
            ),
            (
                "net_ring0,nodeaction=a:0:CREATE,nodeaction=b:0:CREATE",
                "key 'nodeaction' given twice",
            ),
        ] {
            let e = parse(&Devargs::parse_vdev(bad).unwrap()).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }
}
