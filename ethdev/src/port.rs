//! Ports: the table of ports, their life cycle (configure, queue setup, start, stop, close,
//! reset), and the control operations of `rte_ethdev`.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use rpdk_mbuf::PktmbufPool;
use rpdk_mbuf::net::MacAddr;

use crate::config::{DevInfo, EthConf, Link, RxConf, RxMqMode, TxConf};
use crate::driver::{EthDevice, RxQueueOps, RxSetup, TxQueueOps, TxSetup};
use crate::error::{DriverError, EthError, Result};
use crate::queue::{RxQueue, TxQueue};
use crate::stats::{PortCounters, Stats};

/// Most ports at once (DPDK's default `RTE_MAX_ETHPORTS`).
pub const MAX_ETHPORTS: usize = 32;

/// A port id.
pub type PortId = u16;

/// Where a queue's driver object is.
pub(crate) enum Slot<T: ?Sized> {
    /// Not set up.
    Empty,
    /// Set up, waiting for a handle.
    Ready(Box<T>),
    /// Held by a queue handle.
    Taken,
}

pub(crate) struct State {
    pub configured: bool,
    pub closed: bool,
    pub conf: EthConf,
    pub rxq: Vec<Slot<dyn RxQueueOps>>,
    pub txq: Vec<Slot<dyn TxQueueOps>>,
    pub counters: Arc<PortCounters>,
    /// The smallest data room of the RX queues' pools (DPDK's `min_rx_buf_size`); 0 before
    /// any RX queue is set up.
    pub min_rx_buf_size: u32,
}

/// A port's shared state.
pub(crate) struct PortInner {
    pub id: PortId,
    pub name: String,
    pub dev: Box<dyn EthDevice>,
    pub socket: u32,
    pub started: AtomicBool,
    pub state: Mutex<State>,
}

impl PortInner {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

static PORTS: RwLock<Vec<Option<Arc<PortInner>>>> = RwLock::new(Vec::new());

fn table() -> std::sync::RwLockReadGuard<'static, Vec<Option<Arc<PortInner>>>> {
    PORTS.read().unwrap_or_else(|e| e.into_inner())
}

/// Gives a device a port id (DPDK's `rte_eth_dev_allocate`, for drivers).
pub fn allocate(name: &str, dev: Box<dyn EthDevice>, socket: u32) -> Result<PortId> {
    let mut t = PORTS.write().unwrap_or_else(|e| e.into_inner());
    if t.iter().flatten().any(|p| p.name == name) {
        return Err(EthError::NameTaken(name.to_string()));
    }
    if t.len() < MAX_ETHPORTS {
        t.resize(MAX_ETHPORTS, None);
    }
    let id = t
        .iter()
        .position(Option::is_none)
        .ok_or(EthError::TooManyPorts(MAX_ETHPORTS))? as PortId;
    t[id as usize] = Some(Arc::new(PortInner {
        id,
        name: name.to_string(),
        dev,
        socket,
        started: AtomicBool::new(false),
        state: Mutex::new(State {
            configured: false,
            closed: false,
            conf: EthConf::default(),
            rxq: Vec::new(),
            txq: Vec::new(),
            counters: Arc::new(PortCounters::new(0, 0)),
            min_rx_buf_size: 0,
        }),
    }));
    log::info!(target: "lib.ethdev", "port {id}: {name}");
    Ok(id)
}

/// Stops and closes the port named `name` (for a driver's remove); a port the application
/// closed already is fine.
pub fn release_by_name(name: &str) -> Result<()> {
    let port = match Port::by_name(name) {
        Ok(p) => p,
        Err(EthError::NoSuchName(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    // Close even when the driver's stop fails (its device may be gone), so that the port does
    // not linger in the table.
    let stopped = if port.is_started() {
        port.stop()
    } else {
        Ok(())
    };
    let closed = port.close();
    stopped.and(closed)
}

/// The number of ports (DPDK's `rte_eth_dev_count_avail`).
pub fn port_count() -> u16 {
    table().iter().flatten().count() as u16
}

/// The ids of the ports, in order (DPDK's `RTE_ETH_FOREACH_DEV`).
pub fn ports() -> Vec<PortId> {
    table().iter().flatten().map(|p| p.id).collect()
}

/// A handle to a port. Cloning gives another handle to the same port.
#[derive(Clone)]
pub struct Port {
    pub(crate) inner: Arc<PortInner>,
}

impl fmt::Debug for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Port")
            .field("id", &self.inner.id)
            .field("name", &self.inner.name)
            .field("started", &self.is_started())
            .finish()
    }
}

impl Port {
    /// The port of id `id`.
    pub fn get(id: PortId) -> Result<Port> {
        table()
            .get(id as usize)
            .and_then(Clone::clone)
            .map(|inner| Port { inner })
            .ok_or(EthError::NoSuchPort(id))
    }

    /// The port named `name` (DPDK's `rte_eth_dev_get_port_by_name`).
    pub fn by_name(name: &str) -> Result<Port> {
        table()
            .iter()
            .flatten()
            .find(|p| p.name == name)
            .map(|inner| Port {
                inner: inner.clone(),
            })
            .ok_or_else(|| EthError::NoSuchName(name.to_string()))
    }

    /// Its id.
    pub fn id(&self) -> PortId {
        self.inner.id
    }

    /// Its name (the device's: `net_null0`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Its NUMA node.
    pub fn socket_id(&self) -> u32 {
        self.inner.socket
    }

    /// What it is and can do (DPDK's `rte_eth_dev_info_get`).
    pub fn info(&self) -> DevInfo {
        self.inner.dev.info()
    }

    /// Whether it is started.
    pub fn is_started(&self) -> bool {
        self.inner.started.load(Ordering::Acquire)
    }

    fn driver_err(&self, e: DriverError) -> EthError {
        match e {
            DriverError::NotSupported(what) => EthError::NotSupported {
                port: self.id(),
                driver: self.info().driver_name,
                what,
            },
            DriverError::Invalid(reason) => EthError::InvalidConfig {
                port: self.id(),
                reason,
            },
            other => EthError::Driver {
                port: self.id(),
                driver: self.info().driver_name,
                message: other.to_string(),
            },
        }
    }

    fn bad_state(&self, reason: impl Into<String>) -> EthError {
        EthError::BadState {
            port: self.id(),
            reason: reason.into(),
        }
    }

    fn open_state(&self) -> Result<MutexGuard<'_, State>> {
        let st = self.inner.lock();
        if st.closed {
            return Err(self.bad_state("the port is closed"));
        }
        Ok(st)
    }

    /// Configures `nb_rx` RX and `nb_tx` TX queues (DPDK's `rte_eth_dev_configure`). The port
    /// must be stopped and its queue handles given back.
    pub fn configure(&self, nb_rx: u16, nb_tx: u16, conf: &EthConf) -> Result<()> {
        let mut st = self.open_state()?;
        if self.is_started() {
            return Err(self.bad_state("configure needs a stopped port"));
        }
        if st.rxq.iter().any(|s| matches!(s, Slot::Taken))
            || st.txq.iter().any(|s| matches!(s, Slot::Taken))
        {
            return Err(self.bad_state("configure needs every queue handle given back"));
        }
        let info = self.info();
        let invalid = |reason: String| EthError::InvalidConfig {
            port: self.id(),
            reason,
        };
        let (nb_rx, nb_tx) = if nb_rx == 0 && nb_tx == 0 {
            (1, 1)
        } else {
            (nb_rx, nb_tx)
        };
        if nb_rx > info.max_rx_queues {
            return Err(invalid(format!(
                "{nb_rx} RX queues, at most {}",
                info.max_rx_queues
            )));
        }
        if nb_tx > info.max_tx_queues {
            return Err(invalid(format!(
                "{nb_tx} TX queues, at most {}",
                info.max_tx_queues
            )));
        }
        let bad_rx = conf.rx_offloads & !info.rx_offload_capa;
        if bad_rx != 0 {
            return Err(invalid(format!(
                "RX offloads {bad_rx:#x} not supported (capable of {:#x})",
                info.rx_offload_capa
            )));
        }
        let bad_tx = conf.tx_offloads & !info.tx_offload_capa;
        if bad_tx != 0 {
            return Err(invalid(format!(
                "TX offloads {bad_tx:#x} not supported (capable of {:#x})",
                info.tx_offload_capa
            )));
        }
        if let Some(mtu) = conf.mtu
            && (mtu < info.min_mtu || mtu > info.max_mtu)
        {
            return Err(invalid(format!(
                "MTU {mtu} outside {}..={}",
                info.min_mtu, info.max_mtu
            )));
        }
        if conf.rx_mq_mode == RxMqMode::Rss {
            let bad = conf.rss.hf.0 & !info.flow_type_rss_offloads.0;
            if bad != 0 {
                return Err(invalid(format!(
                    "RSS hash types {bad:#x} not supported (valid: {:#x})",
                    info.flow_type_rss_offloads.0
                )));
            }
            if let Some(key) = &conf.rss.key
                && info.hash_key_size != 0
                && key.len() != info.hash_key_size as usize
            {
                return Err(invalid(format!(
                    "RSS key of {} bytes, the port takes {}",
                    key.len(),
                    info.hash_key_size
                )));
            }
        }
        self.inner
            .dev
            .configure(nb_rx, nb_tx, conf)
            .map_err(|e| self.driver_err(e))?;
        st.conf = conf.clone();
        st.rxq = (0..nb_rx).map(|_| Slot::Empty).collect();
        st.txq = (0..nb_tx).map(|_| Slot::Empty).collect();
        st.counters = Arc::new(PortCounters::new(nb_rx, nb_tx));
        st.configured = true;
        Ok(())
    }

    /// RX queues configured.
    pub fn nb_rx_queues(&self) -> u16 {
        self.inner.lock().rxq.len() as u16
    }

    /// TX queues configured.
    pub fn nb_tx_queues(&self) -> u16 {
        self.inner.lock().txq.len() as u16
    }

    /// Whether [`configure`](Self::configure) succeeded (and the port was not closed or reset
    /// since).
    pub fn is_configured(&self) -> bool {
        self.inner.lock().configured
    }

    /// The smallest buffer of the RX queues' pools, headroom included (DPDK's
    /// `min_rx_buf_size`); 0 before an RX queue is set up.
    pub fn min_rx_buf_size(&self) -> u32 {
        self.inner.lock().min_rx_buf_size
    }

    /// The configuration applied.
    pub fn conf(&self) -> EthConf {
        self.inner.lock().conf.clone()
    }

    /// A queue can be set up on a configured, stopped port.
    fn check_setup_state(&self, st: &State) -> Result<()> {
        if !st.configured {
            return Err(self.bad_state("set up queues after configure"));
        }
        if self.is_started() {
            return Err(self.bad_state("set up queues on a stopped port"));
        }
        Ok(())
    }

    /// Queue `queue` exists in `slots` and no handle holds it.
    fn check_slot_free<T: ?Sized>(
        &self,
        slots: &[Slot<T>],
        dir: &'static str,
        queue: u16,
    ) -> Result<()> {
        match slots.get(queue as usize) {
            None => Err(self.no_such_queue(slots.len(), dir, queue)),
            Some(Slot::Taken) => Err(self.queue_busy(dir, queue)),
            _ => Ok(()),
        }
    }

    /// The descriptor count (0: the driver's default) and the offloads asked of a queue are
    /// within what the driver offers.
    fn check_queue_conf(
        &self,
        dir: &str,
        nb_desc: u16,
        lim: crate::config::DescLim,
        offloads: u64,
        capa: u64,
    ) -> Result<()> {
        if nb_desc != 0
            && (nb_desc < lim.nb_min || nb_desc > lim.nb_max || nb_desc % lim.nb_align != 0)
        {
            return Err(EthError::InvalidConfig {
                port: self.id(),
                reason: format!(
                    "{nb_desc} {dir} descriptors: {}..={} in multiples of {}",
                    lim.nb_min, lim.nb_max, lim.nb_align
                ),
            });
        }
        let bad = offloads & !capa;
        if bad != 0 {
            return Err(EthError::InvalidConfig {
                port: self.id(),
                reason: format!("{dir} queue offloads {bad:#x} not supported"),
            });
        }
        Ok(())
    }

    /// Takes queue `queue`'s driver object out of `slots` for a handle.
    fn take_slot<T: ?Sized>(
        &self,
        slots: &mut [Slot<T>],
        dir: &'static str,
        queue: u16,
    ) -> Result<Box<T>> {
        let count = slots.len();
        let slot = slots
            .get_mut(queue as usize)
            .ok_or_else(|| self.no_such_queue(count, dir, queue))?;
        match std::mem::replace(slot, Slot::Taken) {
            Slot::Ready(ops) => Ok(ops),
            Slot::Taken => Err(self.queue_busy(dir, queue)),
            Slot::Empty => {
                *slot = Slot::Empty;
                Err(self.bad_state(format!(
                    "{} queue {queue} is not set up",
                    dir.to_uppercase()
                )))
            }
        }
    }

    fn no_such_queue(&self, count: usize, dir: &'static str, queue: u16) -> EthError {
        EthError::NoSuchQueue {
            port: self.id(),
            dir,
            queue,
            count: count as u16,
        }
    }

    fn queue_busy(&self, dir: &'static str, queue: u16) -> EthError {
        EthError::QueueBusy {
            port: self.id(),
            dir,
            queue,
        }
    }

    /// Sets up RX queue `queue` with `nb_desc` descriptors (0: the driver's default) taking
    /// mbufs from `pool` (DPDK's `rte_eth_rx_queue_setup`).
    pub fn rx_queue_setup(
        &self,
        queue: u16,
        nb_desc: u16,
        socket: Option<u32>,
        conf: &RxConf,
        pool: &PktmbufPool,
    ) -> Result<()> {
        let mut st = self.open_state()?;
        self.check_setup_state(&st)?;
        self.check_slot_free(&st.rxq, "rx", queue)?;
        let info = self.info();
        self.check_queue_conf(
            "RX",
            nb_desc,
            info.rx_desc_lim,
            conf.offloads,
            info.rx_offload_capa,
        )?;
        let eth_conf = st.conf.clone();
        // The queue set up before goes first (as DPDK releases it), so that what it holds (a
        // ring's single-consumer side, a socket) is free for the new one.
        st.rxq[queue as usize] = Slot::Empty;
        let ops = self
            .inner
            .dev
            .rx_queue_setup(RxSetup {
                port: self.id(),
                queue,
                nb_desc,
                socket,
                conf,
                eth_conf: &eth_conf,
                pool,
                counters: st.counters.rx[queue as usize].clone(),
            })
            .map_err(|e| self.driver_err(e))?;
        st.rxq[queue as usize] = Slot::Ready(ops);
        let room = u32::from(pool.data_room_size());
        if st.min_rx_buf_size == 0 || st.min_rx_buf_size > room {
            st.min_rx_buf_size = room;
        }
        Ok(())
    }

    /// Sets up TX queue `queue` (DPDK's `rte_eth_tx_queue_setup`).
    pub fn tx_queue_setup(
        &self,
        queue: u16,
        nb_desc: u16,
        socket: Option<u32>,
        conf: &TxConf,
    ) -> Result<()> {
        let mut st = self.open_state()?;
        self.check_setup_state(&st)?;
        self.check_slot_free(&st.txq, "tx", queue)?;
        let info = self.info();
        self.check_queue_conf(
            "TX",
            nb_desc,
            info.tx_desc_lim,
            conf.offloads,
            info.tx_offload_capa,
        )?;
        let eth_conf = st.conf.clone();
        // As for RX: the previous queue goes first.
        st.txq[queue as usize] = Slot::Empty;
        let ops = self
            .inner
            .dev
            .tx_queue_setup(TxSetup {
                port: self.id(),
                queue,
                nb_desc,
                socket,
                conf,
                eth_conf: &eth_conf,
                counters: st.counters.tx[queue as usize].clone(),
            })
            .map_err(|e| self.driver_err(e))?;
        st.txq[queue as usize] = Slot::Ready(ops);
        Ok(())
    }

    /// Starts the port (DPDK's `rte_eth_dev_start`); every queue must be set up.
    pub fn start(&self) -> Result<()> {
        let st = self.open_state()?;
        if !st.configured {
            return Err(self.bad_state("start needs configure first"));
        }
        if self.is_started() {
            return Ok(());
        }
        if let Some(q) = st.rxq.iter().position(|s| matches!(s, Slot::Empty)) {
            return Err(self.bad_state(format!("RX queue {q} is not set up")));
        }
        if let Some(q) = st.txq.iter().position(|s| matches!(s, Slot::Empty)) {
            return Err(self.bad_state(format!("TX queue {q} is not set up")));
        }
        self.inner.dev.start().map_err(|e| self.driver_err(e))?;
        self.inner.started.store(true, Ordering::Release);
        log::info!(target: "lib.ethdev", "port {}: started", self.id());
        Ok(())
    }

    /// Stops the port (DPDK's `rte_eth_dev_stop`): bursts return 0 until it starts again.
    pub fn stop(&self) -> Result<()> {
        let _st = self.open_state()?;
        if !self.is_started() {
            return Ok(());
        }
        self.inner.started.store(false, Ordering::Release);
        self.inner.dev.stop().map_err(|e| self.driver_err(e))
    }

    /// Closes the port and frees its id (DPDK's `rte_eth_dev_close`): it must be stopped and
    /// every queue handle given back.
    pub fn close(&self) -> Result<()> {
        let mut st = self.open_state()?;
        if self.is_started() {
            return Err(self.bad_state("close needs a stopped port"));
        }
        if st.rxq.iter().any(|s| matches!(s, Slot::Taken))
            || st.txq.iter().any(|s| matches!(s, Slot::Taken))
        {
            return Err(self.bad_state("close needs every queue handle given back"));
        }
        st.rxq.clear();
        st.txq.clear();
        st.closed = true;
        drop(st);
        let res = self.inner.dev.close().map_err(|e| self.driver_err(e));
        let mut t = PORTS.write().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = t.get_mut(self.id() as usize)
            && slot.as_ref().is_some_and(|p| Arc::ptr_eq(p, &self.inner))
        {
            *slot = None;
        }
        log::info!(target: "lib.ethdev", "port {}: closed", self.id());
        res
    }

    /// Stops the port and drops its configuration and queues, back to how it was after probe
    /// (DPDK's `rte_eth_dev_reset`).
    pub fn reset(&self) -> Result<()> {
        self.stop()?;
        let mut st = self.open_state()?;
        if st.rxq.iter().any(|s| matches!(s, Slot::Taken))
            || st.txq.iter().any(|s| matches!(s, Slot::Taken))
        {
            return Err(self.bad_state("reset needs every queue handle given back"));
        }
        st.rxq.clear();
        st.txq.clear();
        st.configured = false;
        st.conf = EthConf::default();
        Ok(())
    }

    /// Takes RX queue `queue` for this thread: one handle per queue at a time, given back when
    /// dropped.
    pub fn rx_queue(&self, queue: u16) -> Result<RxQueue> {
        let mut st = self.open_state()?;
        let ops = self.take_slot(&mut st.rxq, "rx", queue)?;
        Ok(RxQueue::new(self.inner.clone(), queue, ops))
    }

    /// Takes TX queue `queue` for this thread.
    pub fn tx_queue(&self, queue: u16) -> Result<TxQueue> {
        let mut st = self.open_state()?;
        let ops = self.take_slot(&mut st.txq, "tx", queue)?;
        Ok(TxQueue::new(self.inner.clone(), queue, ops))
    }

    /// Statistics (DPDK's `rte_eth_stats_get`).
    pub fn stats(&self) -> Stats {
        self.inner.dev.refresh_stats();
        let mut s = self.inner.lock().counters.stats();
        s.imissed += self.inner.dev.device_missed();
        s
    }

    /// Resets the statistics.
    pub fn stats_reset(&self) {
        self.inner.dev.refresh_stats();
        self.inner.lock().counters.reset();
        self.inner.dev.device_stats_reset();
    }

    /// Extended statistics by name: the generic ones, then the driver's (DPDK's
    /// `rte_eth_xstats_get_names` and `rte_eth_xstats_get`).
    pub fn xstats(&self) -> Vec<(String, u64)> {
        self.inner.dev.refresh_stats();
        let mut x = self.inner.lock().counters.xstats();
        x.extend(self.inner.dev.xstats());
        x
    }

    /// One extended statistic (DPDK's `rte_eth_xstats_get_id_by_name` and a get).
    pub fn xstat(&self, name: &str) -> Option<u64> {
        self.xstats()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// Resets the extended statistics.
    pub fn xstats_reset(&self) {
        self.stats_reset();
        self.inner.dev.xstats_reset();
    }

    /// Link status (DPDK's `rte_eth_link_get_nowait`).
    pub fn link(&self) -> Link {
        self.inner.dev.link()
    }

    /// The MAC address (DPDK's `rte_eth_macaddr_get`).
    pub fn mac_addr(&self) -> MacAddr {
        self.inner.dev.mac_addr()
    }

    /// Sets the MAC address (DPDK's `rte_eth_dev_default_mac_addr_set`).
    pub fn set_mac_addr(&self, mac: MacAddr) -> Result<()> {
        if !mac.is_valid_unicast() {
            return Err(EthError::InvalidConfig {
                port: self.id(),
                reason: format!("{mac} is not a unicast address"),
            });
        }
        let _st = self.open_state()?;
        self.inner
            .dev
            .set_mac_addr(mac)
            .map_err(|e| self.driver_err(e))
    }

    /// Turns promiscuous mode on.
    pub fn promiscuous_enable(&self) -> Result<()> {
        self.inner
            .dev
            .set_promiscuous(true)
            .map_err(|e| self.driver_err(e))
    }

    /// Turns promiscuous mode off.
    pub fn promiscuous_disable(&self) -> Result<()> {
        self.inner
            .dev
            .set_promiscuous(false)
            .map_err(|e| self.driver_err(e))
    }

    /// Whether promiscuous mode is on.
    pub fn promiscuous(&self) -> bool {
        self.inner.dev.promiscuous()
    }

    /// Turns all-multicast on.
    pub fn allmulticast_enable(&self) -> Result<()> {
        self.inner
            .dev
            .set_allmulticast(true)
            .map_err(|e| self.driver_err(e))
    }

    /// Turns all-multicast off.
    pub fn allmulticast_disable(&self) -> Result<()> {
        self.inner
            .dev
            .set_allmulticast(false)
            .map_err(|e| self.driver_err(e))
    }

    /// Whether all-multicast is on.
    pub fn allmulticast(&self) -> bool {
        self.inner.dev.allmulticast()
    }

    /// The MTU.
    pub fn mtu(&self) -> u16 {
        self.inner.dev.mtu()
    }

    /// Sets the MTU (DPDK's `rte_eth_dev_set_mtu`).
    pub fn set_mtu(&self, mtu: u16) -> Result<()> {
        let info = self.info();
        if mtu < info.min_mtu || mtu > info.max_mtu {
            return Err(EthError::InvalidConfig {
                port: self.id(),
                reason: format!("MTU {mtu} outside {}..={}", info.min_mtu, info.max_mtu),
            });
        }
        self.inner.dev.set_mtu(mtu).map_err(|e| self.driver_err(e))
    }
}
