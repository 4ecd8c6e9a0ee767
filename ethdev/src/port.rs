//! Ports: the table of ports, their life cycle (configure, queue setup, start, stop, close,
//! reset), and the control operations of `rte_ethdev`.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use rpdk_mbuf::PktmbufPool;
use rpdk_mbuf::net::MacAddr;

use crate::config::{DevInfo, EthConf, Link, RxConf, RxMqMode, RxQueueInfo, TxConf, TxQueueInfo};
use crate::config::{RssConf, rx_offload};
use crate::driver::{EthDevice, RxQueueOps, RxSetup, TxQueueOps, TxSetup};
use crate::error::{DriverError, EthError, Result};
use crate::queue::{RxQueue, TxQueue};
use crate::rss::RssHf;
use crate::shared::{PortDesc, RxqDesc, SharedPort, StartFlag, TxqDesc, flag, qflag};
use crate::stage::hairpin::{HAIRPIN_CAP, HairpinCap, HairpinConf, HairpinPeer};
use crate::stage::swq::{SharedRx, SharedTx, SwRxQueue, SwTxQueue};
use crate::stage::{
    CallbackId, Classifier, HashRx, PortStage, RssState, RxCallbackFn, STAGE_PTYPES, TxCallbackFn,
    active, port_info,
};
use crate::stats::QueueCounters;
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
    /// Set up, and lent to a secondary process: the queue object is dropped (what it held is
    /// the secondary's now) and made again from the queue's recipe when taken back.
    Lent,
}

/// What a [`Slot`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SlotKind {
    Empty,
    Ready,
    Taken,
    Lent,
}

impl<T: ?Sized> Slot<T> {
    pub(crate) fn kind(&self) -> SlotKind {
        match self {
            Slot::Empty => SlotKind::Empty,
            Slot::Ready(_) => SlotKind::Ready,
            Slot::Taken => SlotKind::Taken,
            Slot::Lent => SlotKind::Lent,
        }
    }
}

/// How an RX queue was set up, to set it up again after a secondary drove it.
#[derive(Clone)]
pub(crate) struct RxRecipe {
    pub nb_desc: u16,
    pub socket: Option<u32>,
    /// The device's share of the queue's settings.
    pub conf: RxConf,
    pub pool: PktmbufPool,
    /// A device queue with no stage between it and the handle: a secondary can drive it.
    pub lendable: bool,
}

/// How a TX queue was set up.
#[derive(Clone)]
pub(crate) struct TxRecipe {
    pub nb_desc: u16,
    pub socket: Option<u32>,
    pub conf: TxConf,
    pub lendable: bool,
}

/// The descriptor count of a queue set up with `nb_desc` (0: the driver's preferred one).
fn effective_desc(nb_desc: u16, info: &DevInfo) -> u16 {
    if nb_desc == 0 {
        info.default_ring_size
    } else {
        nb_desc
    }
}

/// How RX queue `q` is set up, from its recipe (`None`: not set up, or hairpin).
fn rx_info_of(st: &State, info: &DevInfo, q: usize) -> Option<RxQueueInfo> {
    let r = st.rx_recipe.get(q)?.as_ref()?;
    let offloads = r.conf.offloads | st.conf.rx_offloads;
    let pool = r.pool.mempool();
    Some(RxQueueInfo {
        nb_desc: effective_desc(r.nb_desc, info),
        conf: RxConf { offloads, ..r.conf },
        scattered_rx: offloads & rx_offload::SCATTER != 0,
        rx_buf_size: u32::from(
            r.pool
                .data_room_size()
                .saturating_sub(rpdk_mbuf::PKTMBUF_HEADROOM),
        ),
        pool_name: pool.name().to_string(),
        pool_socket: pool.socket_id(),
    })
}

/// How TX queue `q` is set up, from its recipe (`None`: not set up, or hairpin).
fn tx_info_of(st: &State, info: &DevInfo, q: usize) -> Option<TxQueueInfo> {
    let r = st.tx_recipe.get(q)?.as_ref()?;
    Some(TxQueueInfo {
        nb_desc: effective_desc(r.nb_desc, info),
        conf: TxConf {
            offloads: r.conf.offloads | st.conf.tx_offloads,
            ..r.conf
        },
    })
}

pub(crate) struct State {
    pub configured: bool,
    pub closed: bool,
    pub conf: EthConf,
    pub rxq: Vec<Slot<dyn RxQueueOps>>,
    pub txq: Vec<Slot<dyn TxQueueOps>>,
    pub counters: Arc<PortCounters>,
    /// The driver's extended statistics when they were last reset (by name).
    pub xstats_base: Vec<(String, u64)>,
    /// The software stage of each queue.
    pub stage: PortStage,
    /// The hairpin settings of each RX and TX queue (`None`: a normal queue).
    pub hairpin_rx: Vec<Option<HairpinConf>>,
    pub hairpin_tx: Vec<Option<HairpinConf>>,
    /// The pools of hairpin RX queues (the application gives none).
    pub hairpin_pools: Vec<PktmbufPool>,
    /// The smallest data room of the RX queues' pools (DPDK's `min_rx_buf_size`); 0 before
    /// any RX queue is set up.
    pub min_rx_buf_size: u32,
    /// How each queue was set up.
    pub rx_recipe: Vec<Option<RxRecipe>>,
    pub tx_recipe: Vec<Option<TxRecipe>>,
    /// Configuration changes so far (the shared description's `generation`).
    pub generation: u64,
}

impl State {
    /// Forgets the hairpin queues (their queues are gone); their pools go once their mbufs
    /// are back.
    fn clear_hairpin(&mut self, nb_rx: u16, nb_tx: u16) {
        self.hairpin_rx = vec![None; nb_rx as usize];
        self.hairpin_tx = vec![None; nb_tx as usize];
        for p in self.hairpin_pools.drain(..) {
            p.free();
        }
    }
}

/// A port's shared state (DPDK's `rte_eth_dev_data`): the one owner of whether the port is
/// configured, started or closed, of its configuration and of its queues. Drivers keep only
/// what their device needs and never a copy of these.
pub(crate) struct PortInner {
    pub id: PortId,
    pub name: String,
    pub dev: Box<dyn EthDevice>,
    pub socket: u32,
    pub started: StartFlag,
    pub state: Mutex<State>,
    /// The port's shared data (a primary with a runtime directory, and its secondaries).
    pub shared: Option<SharedPort>,
    /// This process is a secondary and the port the primary's.
    pub secondary: bool,
    /// Packets other ports' classifiers hand to this port's TX (PORT_ID), made on first use.
    pub inbox: crate::stage::port_inbox::InboxSlot,
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

/// Port `id`'s shared state, if it exists.
pub(crate) fn inner_of(id: PortId) -> Option<Arc<PortInner>> {
    table().get(id as usize).cloned().flatten()
}

/// The configuration a device sees: the port's, without the offloads the stage does for it.
fn device_conf(conf: &EthConf, dev: &DevInfo) -> EthConf {
    EthConf {
        rx_offloads: conf.rx_offloads & dev.rx_offload_capa,
        ..conf.clone()
    }
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
    let shared = SharedPort::of(id).unwrap_or_else(|e| {
        log::warn!(target: "lib.ethdev", "port {id}: no shared port data ({e}): secondary processes will not see it");
        None
    });
    let inner = new_inner(id, name, dev, socket, shared, false);
    Port {
        inner: inner.clone(),
    }
    .publish_locked(&inner.lock());
    t[id as usize] = Some(inner);
    log::info!(target: "lib.ethdev", "port {id}: {name}");
    crate::remote::serve();
    Ok(id)
}

/// Puts the primary's port `id` in this (secondary) process's table.
pub(crate) fn attach_secondary(
    id: PortId,
    name: &str,
    dev: Box<dyn EthDevice>,
    socket: u32,
    shared: SharedPort,
) {
    let mut t = PORTS.write().unwrap_or_else(|e| e.into_inner());
    if t.len() < MAX_ETHPORTS {
        t.resize(MAX_ETHPORTS, None);
    }
    if let Some(slot) = t.get_mut(id as usize) {
        *slot = Some(new_inner(id, name, dev, socket, Some(shared), true));
    }
}

/// Removes port `id` from this (secondary) process's table.
pub(crate) fn detach_secondary(id: PortId) {
    let mut t = PORTS.write().unwrap_or_else(|e| e.into_inner());
    if let Some(slot) = t.get_mut(id as usize)
        && slot.as_ref().is_some_and(|p| p.secondary)
    {
        *slot = None;
    }
}

/// The port of this (secondary) process's table at `id`, if any: its name and generation.
pub(crate) fn secondary_entry(id: PortId) -> Option<(String, u64)> {
    let p = inner_of(id)?;
    let g = p.lock().generation;
    Some((p.name.clone(), g))
}

fn new_inner(
    id: PortId,
    name: &str,
    dev: Box<dyn EthDevice>,
    socket: u32,
    shared: Option<SharedPort>,
    secondary: bool,
) -> Arc<PortInner> {
    Arc::new(PortInner {
        id,
        name: name.to_string(),
        dev,
        socket,
        started: StartFlag::new(shared.clone()),
        shared,
        secondary,
        state: Mutex::new(State {
            configured: false,
            closed: false,
            conf: EthConf::default(),
            rxq: Vec::new(),
            txq: Vec::new(),
            counters: Arc::new(PortCounters::new(0, 0, 0)),
            xstats_base: Vec::new(),
            stage: PortStage::default(),
            hairpin_rx: Vec::new(),
            hairpin_tx: Vec::new(),
            hairpin_pools: Vec::new(),
            min_rx_buf_size: 0,
            rx_recipe: Vec::new(),
            tx_recipe: Vec::new(),
            generation: 0,
        }),
        inbox: Default::default(),
    })
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
    crate::secondary::sync_ports();
    table().iter().flatten().count() as u16
}

/// The ids of the ports, in order (DPDK's `RTE_ETH_FOREACH_DEV`).
pub fn ports() -> Vec<PortId> {
    crate::secondary::sync_ports();
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
        crate::secondary::sync_ports();
        table()
            .get(id as usize)
            .and_then(Clone::clone)
            .map(|inner| Port { inner })
            .ok_or(EthError::NoSuchPort(id))
    }

    /// The port named `name` (DPDK's `rte_eth_dev_get_port_by_name`).
    pub fn by_name(name: &str) -> Result<Port> {
        crate::secondary::sync_ports();
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

    /// What it is and can do (DPDK's `rte_eth_dev_info_get`): the device's, with the software
    /// stage's queues beyond the device's and its RSS when the device has none.
    pub fn info(&self) -> DevInfo {
        let _st = self.inner.lock();
        port_info(self.inner.dev.info())
    }

    /// What the device alone is and can do, without the stage: how many queues it has
    /// (those beyond are the stage's software queues), whether it does RSS itself.
    pub fn device_info(&self) -> DevInfo {
        let _st = self.inner.lock();
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
                driver: self.inner.dev.info().driver_name,
                what,
            },
            DriverError::Invalid(reason) => EthError::InvalidConfig {
                port: self.id(),
                reason,
            },
            other => EthError::Driver {
                port: self.id(),
                driver: self.inner.dev.info().driver_name,
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

    /// Refuses `what` in a secondary process: the primary owns the port's configuration.
    fn primary_only(&self, what: &str) -> Result<()> {
        if self.inner.secondary {
            return Err(self.bad_state(format!(
                "{what} is the primary process's: a secondary drives the queues the primary \
                 set up"
            )));
        }
        Ok(())
    }

    /// Refuses `what` while another process drives one of the port's queues.
    fn check_not_lent(&self, what: &str) -> Result<()> {
        let Some(sh) = &self.inner.shared else {
            return Ok(());
        };
        for rx in [true, false] {
            for q in 0..crate::shared::SHARED_QUEUES as u16 {
                if let Some(pid) = sh.other_owner(rx, q) {
                    return Err(self.bad_state(format!(
                        "{what} needs every queue given back: {} queue {q} is driven by \
                         process {pid}",
                        if rx { "RX" } else { "TX" }
                    )));
                }
            }
        }
        Ok(())
    }

    /// Writes the port's description into its shared data, for secondaries (the caller holds
    /// the port's lock).
    pub(crate) fn publish_locked(&self, st: &State) {
        let Some(sh) = &self.inner.shared else {
            return;
        };
        if self.inner.secondary {
            return;
        }
        let dev = &self.inner.dev;
        let info = dev.info();
        let mut d = <PortDesc as bytemuck::Zeroable>::zeroed();
        d.generation = st.generation;
        d.pid = std::process::id();
        d.socket = self.inner.socket;
        let mut f = flag::IN_USE;
        if st.closed {
            f = 0;
        }
        if st.configured {
            f |= flag::CONFIGURED;
        }
        if dev.promiscuous() {
            f |= flag::PROMISC;
        }
        if dev.allmulticast() {
            f |= flag::ALLMULTI;
        }
        if self.is_started() {
            let l = dev.link();
            d.link_speed = l.speed;
            for (on, b) in [
                (l.up, flag::LINK_UP),
                (l.full_duplex, flag::FULL_DUPLEX),
                (l.autoneg, flag::AUTONEG),
            ] {
                if on {
                    f |= b;
                }
            }
        }
        d.flags = f;
        d.max_rx_pktlen = info.max_rx_pktlen;
        d.nb_rx = st.rxq.len() as u16;
        d.nb_tx = st.txq.len() as u16;
        d.mtu = dev.mtu();
        d.min_mtu = info.min_mtu;
        d.max_mtu = info.max_mtu;
        d.reta_size = port_info(info.clone()).reta_size;
        if let Some(rss) = &st.stage.rss {
            let snap = rss.snapshot();
            d.rss_hf = snap.hf.0;
            let n = snap.key.len().min(d.rss_key.len());
            d.rss_key[..n].copy_from_slice(&snap.key[..n]);
            d.rss_key_len = n as u16;
        }
        for (q, slot) in d.rxq.iter_mut().enumerate() {
            if let Some(i) = rx_info_of(st, &info, q) {
                *slot = RxqDesc {
                    offloads: i.conf.offloads,
                    buf_size: i.rx_buf_size,
                    pool_socket: i.pool_socket,
                    nb_desc: i.nb_desc,
                    free_thresh: i.conf.rx_free_thresh,
                    flags: qflag::SET
                        | if i.conf.rx_drop_en { qflag::DROP_EN } else { 0 }
                        | if i.scattered_rx { qflag::SCATTERED } else { 0 },
                    _reserved: 0,
                    pool: [0; crate::shared::POOL_NAME_LEN],
                };
                PortDesc::set_text(&mut slot.pool, &i.pool_name);
            }
        }
        for (q, slot) in d.txq.iter_mut().enumerate() {
            if let Some(i) = tx_info_of(st, &info, q) {
                *slot = TxqDesc {
                    offloads: i.conf.offloads,
                    nb_desc: i.nb_desc,
                    free_thresh: i.conf.tx_free_thresh,
                    rs_thresh: 0,
                    flags: qflag::SET,
                };
            }
        }
        d.mac = dev.mac_addr().0;
        PortDesc::set_text(&mut d.name, &self.inner.name);
        PortDesc::set_text(&mut d.driver, info.driver_name);
        sh.publish(&d);
    }

    /// Configures `nb_rx` RX and `nb_tx` TX queues (DPDK's `rte_eth_dev_configure`). The port
    /// must be stopped and its queue handles given back.
    pub fn configure(&self, nb_rx: u16, nb_tx: u16, conf: &EthConf) -> Result<()> {
        self.primary_only("configure")?;
        self.check_not_lent("configure")?;
        let mut st = self.open_state()?;
        if self.is_started() {
            return Err(self.bad_state("configure needs a stopped port"));
        }
        if st.rxq.iter().any(|s| matches!(s, Slot::Taken))
            || st.txq.iter().any(|s| matches!(s, Slot::Taken))
        {
            return Err(self.bad_state("configure needs every queue handle given back"));
        }
        let dev_info = self.inner.dev.info();
        let info = port_info(dev_info.clone());
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
        let wants_rss =
            conf.rx_mq_mode == RxMqMode::Rss || conf.rx_offloads & rx_offload::RSS_HASH != 0;
        if wants_rss {
            self.check_rss_conf(&info, &conf.rss)?;
        }
        let kernel_rx = nb_rx.min(dev_info.max_rx_queues);
        let kernel_tx = nb_tx.min(dev_info.max_tx_queues);
        self.inner
            .dev
            .configure(kernel_rx, kernel_tx, &device_conf(conf, &dev_info))
            .map_err(|e| self.driver_err(e))?;
        let mut stage = PortStage::new(nb_rx, nb_tx).map_err(|e| EthError::InvalidConfig {
            port: self.id(),
            reason: format!("the software stage's rings: {e}"),
        })?;
        stage.kernel_rx = kernel_rx;
        stage.kernel_tx = kernel_tx;
        let hf = if wants_rss { conf.rss.hf } else { RssHf::NONE };
        stage.rss = Some(Arc::new(RssState::new(
            hf,
            conf.rss.key.as_deref(),
            nb_rx,
            info.reta_size,
        )));
        let stage_rss = dev_info.reta_size == 0;
        // The stage spreads over more queues than the device has, and over all of them when
        // RSS is asked of a device that does not spread flows over its queues by a hash of
        // its own (a NIC's RETA, or a kernel's flow hash as `net_af_packet`'s fanout: such a
        // device says so with `reta_size` or `flow_type_rss_offloads`, and the stage trusts
        // it).
        let device_spreads =
            dev_info.reta_size != 0 || dev_info.flow_type_rss_offloads != RssHf::NONE;
        let stage_spreads =
            conf.rx_mq_mode == RxMqMode::Rss && !device_spreads && nb_rx > 1 && kernel_rx > 0;
        let counters = if nb_rx > kernel_rx || stage_spreads {
            let c = PortCounters::new_in(nb_rx, nb_tx, kernel_rx, self.inner.shared.as_ref());
            stage.sw_rx = Some(
                (0..kernel_rx)
                    .map(|k| {
                        SharedRx::new(
                            self.id(),
                            k,
                            nb_rx,
                            c.kernel_rx[k as usize].clone(),
                            stage.rx[k as usize].clone(),
                            stage.upstream.clone(),
                        )
                    })
                    .collect(),
            );
            stage.spread = conf.rx_mq_mode == RxMqMode::Rss;
            c
        } else {
            stage.hash_rx = stage_rss && conf.rx_offloads & rx_offload::RSS_HASH != 0;
            PortCounters::new_in(nb_rx, nb_tx, 0, self.inner.shared.as_ref())
        };
        if nb_tx > kernel_tx {
            stage.sw_tx = Some(
                (0..kernel_tx)
                    .map(|_| {
                        let c = Arc::new(QueueCounters::default());
                        (Arc::new(SharedTx::new(c.clone())), c)
                    })
                    .collect(),
            );
        }
        st.conf = conf.clone();
        st.rxq = (0..nb_rx).map(|_| Slot::Empty).collect();
        st.txq = (0..nb_tx).map(|_| Slot::Empty).collect();
        st.rx_recipe = vec![None; nb_rx as usize];
        st.tx_recipe = vec![None; nb_tx as usize];
        st.generation += 1;
        if let Some(sh) = &self.inner.shared {
            sh.clear_owners();
        }
        st.counters = Arc::new(counters);
        st.xstats_base.clear();
        if self.inner.inbox.get().is_some_and(Option::is_some)
            && let Some(tx0) = stage.tx.first()
        {
            // Other ports hand packets to this one: TX queue 0 drains them.
            tx0.set_active(active::INBOX, true);
        }
        st.stage = stage;
        st.clear_hairpin(nb_rx, nb_tx);
        st.configured = true;
        self.publish_locked(&st);
        Ok(())
    }

    /// RSS settings `rss` are within what the port offers.
    fn check_rss_conf(&self, info: &DevInfo, rss: &RssConf) -> Result<()> {
        let bad = rss.hf.0 & !info.flow_type_rss_offloads.0;
        if bad != 0 {
            return Err(EthError::InvalidConfig {
                port: self.id(),
                reason: format!(
                    "RSS hash types {bad:#x} not supported (valid: {:#x})",
                    info.flow_type_rss_offloads.0
                ),
            });
        }
        if let Some(key) = &rss.key
            && info.hash_key_size != 0
            && key.len() != info.hash_key_size as usize
        {
            return Err(EthError::InvalidConfig {
                port: self.id(),
                reason: format!(
                    "RSS key of {} bytes, the port takes {}",
                    key.len(),
                    info.hash_key_size
                ),
            });
        }
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

    /// In a secondary, the primary's description of the port.
    fn secondary_desc(&self) -> Option<PortDesc> {
        self.inner
            .shared
            .as_ref()
            .filter(|_| self.inner.secondary)
            .map(SharedPort::desc)
    }

    /// Checks that `queue` is below `count`, the queues of its direction.
    fn check_info_queue(&self, dir: &'static str, queue: u16, count: u16) -> Result<usize> {
        if queue >= count {
            return Err(EthError::NoSuchQueue {
                port: self.id(),
                dir,
                queue,
                count,
            });
        }
        Ok(queue as usize)
    }

    fn not_set_up(&self, dir: &str, queue: usize) -> EthError {
        self.bad_state(format!("{dir} queue {queue} is not set up (or is hairpin)"))
    }

    /// Queue `q`'s record in the shared port data, when it is `set` up.
    fn shared_record<'a, T>(
        &self,
        dir: &str,
        q: usize,
        records: &'a [T],
        set: impl Fn(&T) -> bool,
    ) -> Result<&'a T> {
        match records.get(q) {
            Some(r) if set(r) => Ok(r),
            Some(_) => Err(self.not_set_up(dir, q)),
            None => Err(self.bad_state(format!(
                "{dir} queue {q}: the shared port data describes the first {} queues",
                records.len()
            ))),
        }
    }

    /// How RX queue `queue` is set up (DPDK's `rte_eth_rx_queue_info_get`); in a secondary,
    /// as the primary set it up (the first 32 queues, those the shared port data describes).
    /// A hairpin queue, or one not set up, has none.
    pub fn rx_queue_info(&self, queue: u16) -> Result<RxQueueInfo> {
        if let Some(d) = self.secondary_desc() {
            let q = self.check_info_queue("rx", queue, d.nb_rx)?;
            let r = self.shared_record("RX", q, &d.rxq, |r| r.flags & qflag::SET != 0)?;
            return Ok(RxQueueInfo {
                nb_desc: r.nb_desc,
                conf: RxConf {
                    rx_free_thresh: r.free_thresh,
                    rx_drop_en: r.flags & qflag::DROP_EN != 0,
                    offloads: r.offloads,
                },
                scattered_rx: r.flags & qflag::SCATTERED != 0,
                rx_buf_size: r.buf_size,
                pool_name: PortDesc::text(&r.pool),
                pool_socket: r.pool_socket,
            });
        }
        let st = self.open_state()?;
        let q = self.check_info_queue("rx", queue, st.rxq.len() as u16)?;
        rx_info_of(&st, &self.inner.dev.info(), q).ok_or_else(|| self.not_set_up("RX", q))
    }

    /// How TX queue `queue` is set up (DPDK's `rte_eth_tx_queue_info_get`); in a secondary,
    /// as the primary set it up (the first 32 queues, those the shared port data describes).
    pub fn tx_queue_info(&self, queue: u16) -> Result<TxQueueInfo> {
        if let Some(d) = self.secondary_desc() {
            let q = self.check_info_queue("tx", queue, d.nb_tx)?;
            let r = self.shared_record("TX", q, &d.txq, |r| r.flags & qflag::SET != 0)?;
            return Ok(TxQueueInfo {
                nb_desc: r.nb_desc,
                conf: TxConf {
                    tx_free_thresh: r.free_thresh,
                    offloads: r.offloads,
                },
            });
        }
        let st = self.open_state()?;
        let q = self.check_info_queue("tx", queue, st.txq.len() as u16)?;
        tx_info_of(&st, &self.inner.dev.info(), q).ok_or_else(|| self.not_set_up("TX", q))
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
            && (nb_desc < lim.nb_min
                || nb_desc > lim.nb_max
                || !nb_desc.is_multiple_of(lim.nb_align))
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
            Slot::Lent => {
                *slot = Slot::Lent;
                Err(self.bad_state(format!(
                    "{} queue {queue} is lent to a secondary process",
                    dir.to_uppercase()
                )))
            }
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
    /// mbufs from `pool` (DPDK's `rte_eth_rx_queue_setup`). A queue beyond the device's is
    /// the stage's: `nb_desc` sizes its rings, and its packets come from the device queues'
    /// pools.
    pub fn rx_queue_setup(
        &self,
        queue: u16,
        nb_desc: u16,
        socket: Option<u32>,
        conf: &RxConf,
        pool: &PktmbufPool,
    ) -> Result<()> {
        self.primary_only("RX queue setup")?;
        let mut st = self.open_state()?;
        self.check_setup_state(&st)?;
        self.check_slot_free(&st.rxq, "rx", queue)?;
        self.check_queue_home(true, queue)?;
        let dev_info = self.inner.dev.info();
        let info = port_info(dev_info.clone());
        self.check_queue_conf(
            "RX",
            nb_desc,
            info.rx_desc_lim,
            conf.offloads,
            info.rx_offload_capa,
        )?;
        let eth_conf = device_conf(&st.conf, &dev_info);
        let dev_conf = RxConf {
            offloads: conf.offloads & dev_info.rx_offload_capa,
            ..*conf
        };
        // The queue set up before goes first (as DPDK releases it), so that what it holds (a
        // ring's single-consumer side, a socket) is free for the new one.
        st.rxq[queue as usize] = Slot::Empty;
        let sw_rx = st.stage.sw_rx.clone();
        let kernel = queue < st.stage.kernel_rx;
        let counters = if sw_rx.is_some() {
            st.counters.kernel_rx.get(queue as usize).cloned()
        } else {
            st.counters.rx.get(queue as usize).cloned()
        };
        let ops = if kernel {
            if let Some(sw) = &sw_rx {
                sw[queue as usize].clear_ops();
            }
            let ops = self
                .inner
                .dev
                .rx_queue_setup(RxSetup {
                    port: self.id(),
                    queue,
                    nb_desc,
                    socket,
                    conf: &dev_conf,
                    eth_conf: &eth_conf,
                    pool,
                    counters: counters.unwrap_or_default(),
                })
                .map_err(|e| self.driver_err(e))?;
            Some(ops)
        } else {
            None
        };
        let lendable = kernel && sw_rx.is_none() && !st.stage.hash_rx;
        let ops: Box<dyn RxQueueOps> = match (sw_rx, ops) {
            (Some(sw), ops) => {
                if let Some(ops) = ops {
                    sw[queue as usize].set_ops(ops);
                }
                let size = if nb_desc == 0 { 1024 } else { nb_desc as u32 };
                let rss = st.stage.spread.then(|| st.stage.rss.clone()).flatten();
                let q =
                    SwRxQueue::new(queue, size, sw, rss, st.counters.rx[queue as usize].clone())
                        .map_err(|e| EthError::InvalidConfig {
                            port: self.id(),
                            reason: format!("RX queue {queue}: the stage's rings: {e}"),
                        })?;
                Box::new(q)
            }
            (None, Some(ops)) => match (&st.stage.rss, st.stage.hash_rx) {
                (Some(rss), true) => Box::new(HashRx {
                    inner: ops,
                    rss: rss.clone(),
                }),
                _ => ops,
            },
            (None, None) => {
                return Err(self.bad_state(format!("RX queue {queue} has no device queue")));
            }
        };
        st.rxq[queue as usize] = Slot::Ready(ops);
        let room = u32::from(pool.data_room_size());
        if st.min_rx_buf_size == 0 || st.min_rx_buf_size > room {
            st.min_rx_buf_size = room;
        }
        if let Some(r) = st.rx_recipe.get_mut(queue as usize) {
            *r = Some(RxRecipe {
                nb_desc,
                socket,
                conf: dev_conf,
                pool: pool.clone(),
                lendable,
            });
        }
        st.generation += 1;
        self.publish_locked(&st);
        Ok(())
    }

    /// Sets up TX queue `queue` (DPDK's `rte_eth_tx_queue_setup`). A queue beyond the
    /// device's is the stage's, sharing device queue `queue % device queues`.
    pub fn tx_queue_setup(
        &self,
        queue: u16,
        nb_desc: u16,
        socket: Option<u32>,
        conf: &TxConf,
    ) -> Result<()> {
        self.primary_only("TX queue setup")?;
        let mut st = self.open_state()?;
        self.check_setup_state(&st)?;
        self.check_slot_free(&st.txq, "tx", queue)?;
        self.check_queue_home(false, queue)?;
        let dev_info = self.inner.dev.info();
        self.check_queue_conf(
            "TX",
            nb_desc,
            dev_info.tx_desc_lim,
            conf.offloads,
            dev_info.tx_offload_capa,
        )?;
        let eth_conf = device_conf(&st.conf, &dev_info);
        // As for RX: the previous queue goes first.
        st.txq[queue as usize] = Slot::Empty;
        let kernel_tx = st.stage.kernel_tx;
        let sw_tx = st.stage.sw_tx.clone();
        if queue < kernel_tx {
            let counters = match &sw_tx {
                Some(sw) => {
                    sw[queue as usize].0.clear_ops();
                    sw[queue as usize].1.clone()
                }
                None => st.counters.tx[queue as usize].clone(),
            };
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
                    counters,
                })
                .map_err(|e| self.driver_err(e))?;
            match &sw_tx {
                Some(sw) => sw[queue as usize].0.set_ops(ops),
                None => {
                    st.txq[queue as usize] = Slot::Ready(ops);
                    self.set_tx_recipe(&mut st, queue, nb_desc, socket, conf, true);
                    return Ok(());
                }
            }
        }
        let Some(sw) = sw_tx else {
            return Err(self.bad_state(format!("TX queue {queue} has no device queue")));
        };
        let shared = sw[(queue % kernel_tx.max(1)) as usize].0.clone();
        let ops = SwTxQueue::new(shared, st.counters.tx[queue as usize].clone());
        st.txq[queue as usize] = Slot::Ready(Box::new(ops));
        self.set_tx_recipe(&mut st, queue, nb_desc, socket, conf, false);
        Ok(())
    }

    fn set_tx_recipe(
        &self,
        st: &mut State,
        queue: u16,
        nb_desc: u16,
        socket: Option<u32>,
        conf: &TxConf,
        lendable: bool,
    ) {
        if let Some(r) = st.tx_recipe.get_mut(queue as usize) {
            *r = Some(TxRecipe {
                nb_desc,
                socket,
                conf: *conf,
                lendable,
            });
        }
        st.generation += 1;
        self.publish_locked(st);
    }

    /// Refuses to set up a queue another process drives.
    fn check_queue_home(&self, rx: bool, queue: u16) -> Result<()> {
        if let Some(pid) = self
            .inner
            .shared
            .as_ref()
            .and_then(|s| s.other_owner(rx, queue))
        {
            return Err(self.bad_state(format!(
                "{} queue {queue} is driven by process {pid}",
                if rx { "RX" } else { "TX" }
            )));
        }
        Ok(())
    }

    /// Starts the port (DPDK's `rte_eth_dev_start`); every queue must be set up.
    pub fn start(&self) -> Result<()> {
        self.primary_only("start")?;
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
        self.publish_locked(&st);
        log::info!(target: "lib.ethdev", "port {}: started", self.id());
        let auto = st
            .hairpin_tx
            .iter()
            .any(|c| c.as_ref().is_some_and(|c| !c.manual_bind));
        drop(st);
        if auto {
            // Automatic bind: the hairpins of this port to itself.
            self.bind_hairpins(Some(self.id()), false)?;
        }
        Ok(())
    }

    /// Stops the port (DPDK's `rte_eth_dev_stop`): bursts return 0 until it starts again.
    pub fn stop(&self) -> Result<()> {
        // Hairpins through this port stop first (their services hold its queues).
        self.primary_only("stop")?;
        crate::stage::hairpin::unbind_where(|b| b.rx_port == self.id() || b.tx_port == self.id());
        let st = self.open_state()?;
        let r = self.stop_locked();
        self.publish_locked(&st);
        r
    }

    /// Stops the port; the caller holds its lock.
    fn stop_locked(&self) -> Result<()> {
        if !self.is_started() {
            return Ok(());
        }
        self.inner.started.store(false, Ordering::Release);
        self.drain_inbox();
        self.inner.dev.stop().map_err(|e| self.driver_err(e))
    }

    /// Frees what other ports handed to this one and it did not send (unless TX queue 0's
    /// handle holds the inbox: it sends them once the port starts again).
    fn drain_inbox(&self) {
        if let Some(Some(i)) = self.inner.inbox.get() {
            i.drain();
        }
    }

    /// Closes the port and frees its id (DPDK's `rte_eth_dev_close`): it must be stopped and
    /// every queue handle given back.
    pub fn close(&self) -> Result<()> {
        self.primary_only("close")?;
        self.check_not_lent("close")?;
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
        st.stage = PortStage::default();
        st.clear_hairpin(0, 0);
        st.closed = true;
        st.generation += 1;
        if let Some(sh) = &self.inner.shared {
            sh.clear_owners();
        }
        self.publish_locked(&st);
        drop(st);
        self.drain_inbox();
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
    /// (DPDK's `rte_eth_dev_reset`). Every queue handle must be given back first: a port with
    /// a handle out is left as it was, started or not.
    pub fn reset(&self) -> Result<()> {
        self.primary_only("reset")?;
        self.check_not_lent("reset")?;
        let mut st = self.open_state()?;
        if st.rxq.iter().any(|s| matches!(s, Slot::Taken))
            || st.txq.iter().any(|s| matches!(s, Slot::Taken))
        {
            return Err(self.bad_state("reset needs every queue handle given back"));
        }
        self.stop_locked()?;
        st.rxq.clear();
        st.txq.clear();
        st.configured = false;
        st.conf = EthConf::default();
        st.xstats_base.clear();
        st.stage = PortStage::default();
        st.clear_hairpin(0, 0);
        st.rx_recipe.clear();
        st.tx_recipe.clear();
        st.generation += 1;
        self.publish_locked(&st);
        Ok(())
    }

    /// Takes RX queue `queue` for this thread: one handle per queue at a time, given back when
    /// dropped. A hairpin queue is not the application's.
    pub fn rx_queue(&self, queue: u16) -> Result<RxQueue> {
        if self.is_hairpin(true, queue) {
            return Err(self.bad_state(format!("RX queue {queue} is a hairpin queue")));
        }
        self.take_rx_queue(queue)
    }

    fn is_hairpin(&self, rx: bool, queue: u16) -> bool {
        let st = self.inner.lock();
        let list = if rx { &st.hairpin_rx } else { &st.hairpin_tx };
        list.get(queue as usize).is_some_and(Option::is_some)
    }

    fn take_rx_queue(&self, queue: u16) -> Result<RxQueue> {
        if self.inner.secondary {
            return crate::secondary::take_rx(self, queue);
        }
        let claimed = self.claim(true, queue)?;
        let r = (|| {
            let mut st = self.open_state()?;
            self.restore_lent(&mut st, true, queue)?;
            let ops = self.take_slot(&mut st.rxq, "rx", queue)?;
            let stages = st.stage.rx.clone();
            let upstream = st.stage.upstream.clone();
            Ok(RxQueue::new(
                self.inner.clone(),
                queue,
                ops,
                stages,
                upstream,
            ))
        })();
        if r.is_err() && claimed {
            self.release(true, queue);
        }
        r
    }

    /// Makes this process the owner of a queue in the shared port data (whether it has an
    /// owner word).
    pub(crate) fn claim(&self, rx: bool, queue: u16) -> Result<bool> {
        let Some(sh) = &self.inner.shared else {
            return Ok(false);
        };
        let dir = if rx { "rx" } else { "tx" };
        sh.claim(rx, queue).map_err(|pid| {
            if pid == std::process::id() {
                self.queue_busy(dir, queue)
            } else {
                self.bad_state(format!(
                    "{} queue {queue} is driven by process {pid}",
                    dir.to_uppercase()
                ))
            }
        })
    }

    pub(crate) fn release(&self, rx: bool, queue: u16) {
        if let Some(sh) = &self.inner.shared {
            sh.release(rx, queue);
        }
    }

    /// Sets up again a queue a secondary drove, now that it is back.
    fn restore_lent(&self, st: &mut State, rx: bool, queue: u16) -> Result<()> {
        let q = queue as usize;
        if rx {
            if !matches!(st.rxq.get(q), Some(Slot::Lent)) {
                return Ok(());
            }
            let Some(Some(r)) = st.rx_recipe.get(q).cloned() else {
                return Err(self.bad_state(format!("RX queue {queue} has no setup to restore")));
            };
            let eth_conf = device_conf(&st.conf, &self.inner.dev.info());
            let ops = self
                .inner
                .dev
                .rx_queue_setup(RxSetup {
                    port: self.id(),
                    queue,
                    nb_desc: r.nb_desc,
                    socket: r.socket,
                    conf: &r.conf,
                    eth_conf: &eth_conf,
                    pool: &r.pool,
                    counters: st.counters.rx[q].clone(),
                })
                .map_err(|e| self.driver_err(e))?;
            st.rxq[q] = Slot::Ready(ops);
        } else {
            if !matches!(st.txq.get(q), Some(Slot::Lent)) {
                return Ok(());
            }
            let Some(Some(r)) = st.tx_recipe.get(q).cloned() else {
                return Err(self.bad_state(format!("TX queue {queue} has no setup to restore")));
            };
            let eth_conf = device_conf(&st.conf, &self.inner.dev.info());
            let ops = self
                .inner
                .dev
                .tx_queue_setup(TxSetup {
                    port: self.id(),
                    queue,
                    nb_desc: r.nb_desc,
                    socket: r.socket,
                    conf: &r.conf,
                    eth_conf: &eth_conf,
                    counters: st.counters.tx[q].clone(),
                })
                .map_err(|e| self.driver_err(e))?;
            st.txq[q] = Slot::Ready(ops);
        }
        Ok(())
    }

    /// Lends a queue to secondary process `pid`, which claimed it (the primary's answer to
    /// its request): what the driver shares of it, and the name of its RX pool. The primary's
    /// queue object is dropped, so that what it held is free for the secondary's.
    pub(crate) fn lend(
        &self,
        rx: bool,
        queue: u16,
        pid: u32,
    ) -> Result<(crate::driver::SharedQueue, String)> {
        let mut st = self.open_state()?;
        let dir = if rx { "RX" } else { "TX" };
        if !st.configured {
            return Err(self.bad_state("the port is not configured"));
        }
        let count = if rx { st.rxq.len() } else { st.txq.len() };
        if queue as usize >= count {
            return Err(self.no_such_queue(count, if rx { "rx" } else { "tx" }, queue));
        }
        let owner = self
            .inner
            .shared
            .as_ref()
            .map_or(0, |s| s.owner_of(rx, queue));
        if owner != pid {
            return Err(self.bad_state(format!(
                "{dir} queue {queue}: process {pid} does not own it (owner {owner}; queues \
                 beyond {} are not shared)",
                crate::shared::SHARED_QUEUES
            )));
        }
        let q = queue as usize;
        let (slot, lendable, pool) = if rx {
            let r = st.rx_recipe.get(q).cloned().flatten();
            (
                st.rxq[q].kind(),
                r.as_ref().is_some_and(|r| r.lendable),
                r.map(|r| r.pool.mempool().name().to_string()),
            )
        } else {
            let r = st.tx_recipe.get(q).cloned().flatten();
            (st.txq[q].kind(), r.is_some_and(|r| r.lendable), None)
        };
        match slot {
            SlotKind::Empty => {
                return Err(self.bad_state(format!("{dir} queue {queue} is not set up")));
            }
            SlotKind::Taken => {
                return Err(self.bad_state(format!(
                    "{dir} queue {queue} is held by a handle of the primary process"
                )));
            }
            SlotKind::Ready | SlotKind::Lent => {}
        }
        if !lendable {
            return Err(self.bad_state(format!(
                "{dir} queue {queue} goes through the software stage of the primary (more \
                 queues than the device has, RSS done in software, or a hairpin): a secondary \
                 drives device queues only"
            )));
        }
        let shared = if rx {
            self.inner.dev.share_rx_queue(queue)
        } else {
            self.inner.dev.share_tx_queue(queue)
        }
        .map_err(|e| self.driver_err(e))?;
        if rx {
            st.rxq[q] = Slot::Lent;
        } else {
            st.txq[q] = Slot::Lent;
        }
        Ok((shared, pool.unwrap_or_default()))
    }

    /// Takes TX queue `queue` for this thread. A hairpin queue is not the application's.
    pub fn tx_queue(&self, queue: u16) -> Result<TxQueue> {
        if self.is_hairpin(false, queue) {
            return Err(self.bad_state(format!("TX queue {queue} is a hairpin queue")));
        }
        self.take_tx_queue(queue)
    }

    fn take_tx_queue(&self, queue: u16) -> Result<TxQueue> {
        if self.inner.secondary {
            return crate::secondary::take_tx(self, queue);
        }
        let claimed = self.claim(false, queue)?;
        let r = (|| {
            let mut st = self.open_state()?;
            self.restore_lent(&mut st, false, queue)?;
            let ops = self.take_slot(&mut st.txq, "tx", queue)?;
            let stage = st.stage.tx[queue as usize].clone();
            Ok(TxQueue::new(self.inner.clone(), queue, ops, stage))
        })();
        if r.is_err() && claimed {
            self.release(false, queue);
        }
        r
    }

    /// Adds `cb` after the RX callbacks of queue `queue` (DPDK's `rte_eth_add_rx_callback`):
    /// from the next burst on, it runs on the polling lcore after the driver's receive. Safe
    /// while traffic runs.
    pub fn add_rx_callback(
        &self,
        queue: u16,
        cb: impl Fn(u16, u16, &mut rpdk_mbuf::BurstView<'_>) + Send + Sync + 'static,
    ) -> Result<CallbackId> {
        self.add_rx_cb(queue, Arc::new(cb), false)
    }

    /// Adds `cb` before the other RX callbacks of queue `queue` (DPDK's
    /// `rte_eth_add_first_rx_callback`).
    pub fn add_first_rx_callback(
        &self,
        queue: u16,
        cb: impl Fn(u16, u16, &mut rpdk_mbuf::BurstView<'_>) + Send + Sync + 'static,
    ) -> Result<CallbackId> {
        self.add_rx_cb(queue, Arc::new(cb), true)
    }

    fn add_rx_cb(&self, queue: u16, cb: Arc<RxCallbackFn>, first: bool) -> Result<CallbackId> {
        let stage = {
            let st = self.open_state()?;
            st.stage
                .rx
                .get(queue as usize)
                .cloned()
                .ok_or_else(|| self.no_such_queue(st.stage.rx.len(), "rx", queue))?
        };
        let id = stage.callbacks.add(cb, first);
        stage.set_active(active::CALLBACKS, true);
        Ok(CallbackId { queue, id })
    }

    /// Removes an RX callback (DPDK's `rte_eth_remove_rx_callback`). Returns once the lcore
    /// polling the queue is past it: after that, the callback is never called again and what
    /// it holds is dropped. Safe while traffic runs.
    pub fn remove_rx_callback(&self, cb: CallbackId) -> Result<()> {
        let stage = {
            let st = self.open_state()?;
            st.stage.rx.get(cb.queue as usize).cloned()
        };
        match stage {
            Some(s) if s.callbacks.remove(cb.id) => {
                if s.callbacks.is_empty() {
                    s.set_active(active::CALLBACKS, false);
                }
                Ok(())
            }
            _ => Err(self.no_callback("RX", cb)),
        }
    }

    /// Adds `cb` after the TX callbacks of queue `queue` (DPDK's `rte_eth_add_tx_callback`):
    /// it runs on the sending lcore before the driver's transmit.
    pub fn add_tx_callback(
        &self,
        queue: u16,
        cb: impl Fn(u16, u16, &mut rpdk_mbuf::BurstView<'_>) + Send + Sync + 'static,
    ) -> Result<CallbackId> {
        let cb: Arc<TxCallbackFn> = Arc::new(cb);
        let stage = {
            let st = self.open_state()?;
            st.stage
                .tx
                .get(queue as usize)
                .cloned()
                .ok_or_else(|| self.no_such_queue(st.stage.tx.len(), "tx", queue))?
        };
        let id = stage.callbacks.add(cb, false);
        stage.set_active(active::CALLBACKS, true);
        Ok(CallbackId { queue, id })
    }

    /// Removes a TX callback (DPDK's `rte_eth_remove_tx_callback`), waiting as
    /// [`remove_rx_callback`](Self::remove_rx_callback) does.
    pub fn remove_tx_callback(&self, cb: CallbackId) -> Result<()> {
        let stage = {
            let st = self.open_state()?;
            st.stage.tx.get(cb.queue as usize).cloned()
        };
        match stage {
            Some(s) if s.callbacks.remove(cb.id) => {
                if s.callbacks.is_empty() {
                    s.set_active(active::CALLBACKS, false);
                }
                Ok(())
            }
            _ => Err(self.no_callback("TX", cb)),
        }
    }

    /// Installs the port's classifier (the flow engine's hook, see [`Classifier`]) on every
    /// RX and TX queue, replacing the one before, or removes it (`None`). Safe while traffic
    /// runs; returns once no lcore can still be inside the one it replaced or removed. It
    /// lasts until the next configure, reset or close.
    pub fn set_classifier(&self, c: Option<Arc<dyn Classifier>>) -> Result<()> {
        let (rx, tx) = {
            let st = self.open_state()?;
            if !st.configured {
                return Err(self.bad_state("a classifier needs configure first"));
            }
            (st.stage.rx.clone(), st.stage.tx.clone())
        };
        for s in &rx {
            Self::swap_classifier(&s.classifier, c.clone());
            s.set_active(active::CLASSIFIER, c.is_some());
        }
        for s in &tx {
            Self::swap_classifier(&s.classifier, c.clone());
            s.set_active(active::CLASSIFIER, c.is_some());
        }
        Ok(())
    }

    fn swap_classifier(
        list: &crate::stage::CallbackList<dyn Classifier>,
        c: Option<Arc<dyn Classifier>>,
    ) {
        list.clear();
        if let Some(c) = c {
            list.add(c, false);
        }
    }

    /// The packet types the port can give (DPDK's `rte_eth_dev_get_supported_ptypes`), those
    /// in the layers of `mask`: the device's when it classifies, else the stage's parser's.
    pub fn get_supported_ptypes(&self, mask: u32) -> Vec<u32> {
        let _st = self.inner.lock();
        let dev = self.inner.dev.supported_ptypes();
        let all: &[u32] = if dev.is_empty() { STAGE_PTYPES } else { &dev };
        all.iter().copied().filter(|p| p & mask != 0).collect()
    }

    /// The packet types the application wants in `mbuf.packet_type` (DPDK's
    /// `rte_eth_dev_set_ptypes`), as layer masks (`PacketType::L2_MASK | ..`); 0 asks for
    /// none. On a device that does not classify, the stage parses received packets for those
    /// layers (and pays nothing when none are asked).
    pub fn set_ptypes(&self, mask: u32) -> Result<()> {
        let st = self.open_state()?;
        if !st.configured {
            return Err(self.bad_state("set_ptypes needs configure first"));
        }
        if !self.inner.dev.supported_ptypes().is_empty() {
            return Ok(());
        }
        let mask = mask & rpdk_mbuf::PacketType::ALL_MASK;
        for s in &st.stage.rx {
            s.ptypes.store(mask, Ordering::Relaxed);
            s.set_active(active::PTYPES, mask != 0);
        }
        Ok(())
    }

    fn no_callback(&self, dir: &str, cb: CallbackId) -> EthError {
        EthError::InvalidConfig {
            port: self.id(),
            reason: format!(
                "no such {dir} callback on queue {} (removed already, or the port was \
                 configured again)",
                cb.queue
            ),
        }
    }

    /// Whether RSS calls go to the device (it has its own RSS and all the port's RX queues).
    fn device_rss(&self, st: &State) -> bool {
        self.inner.dev.info().reta_size != 0 && st.stage.sw_rx.is_none()
    }

    fn rss_state(&self, st: &State) -> Result<Arc<RssState>> {
        if !st.configured {
            return Err(self.bad_state("RSS needs configure first"));
        }
        st.stage
            .rss
            .clone()
            .ok_or_else(|| self.bad_state("RSS needs configure first"))
    }

    /// Changes the RSS hash types and, when `conf.key` is given, the key (DPDK's
    /// `rte_eth_dev_rss_hash_update`); takes effect on the next burst.
    pub fn rss_hash_update(&self, conf: &RssConf) -> Result<()> {
        let mut st = self.open_state()?;
        let rss = self.rss_state(&st)?;
        let info = port_info(self.inner.dev.info());
        self.check_rss_conf(&info, conf)?;
        let key = conf
            .key
            .clone()
            .unwrap_or_else(|| rss.snapshot().key.to_vec());
        let new = RssConf {
            key: Some(key.clone()),
            hf: conf.hf,
        };
        if self.device_rss(&st) {
            self.inner
                .dev
                .rss_hash_update(&new)
                .map_err(|e| self.driver_err(e))?;
        }
        rss.set(conf.hf, &key);
        st.conf.rss = new;
        // Secondaries see the new key and hash types.
        self.publish_locked(&st);
        Ok(())
    }

    /// The RSS hash types and key in use (DPDK's `rte_eth_dev_rss_hash_conf_get`); in a
    /// secondary, the primary's, from the shared port data.
    pub fn rss_hash_conf_get(&self) -> Result<RssConf> {
        if let Some(d) = self.secondary_desc() {
            if !d.has(flag::CONFIGURED) || d.rss_key_len == 0 {
                return Err(self.bad_state("RSS needs configure first"));
            }
            return Ok(RssConf {
                key: Some(d.rss_key[..usize::from(d.rss_key_len)].to_vec()),
                hf: RssHf(d.rss_hf),
            });
        }
        let st = self.open_state()?;
        let snap = self.rss_state(&st)?.snapshot();
        Ok(RssConf {
            key: Some(snap.key.to_vec()),
            hf: snap.hf,
        })
    }

    /// Sets redirection table entries, `(index, queue)` pairs (DPDK's
    /// `rte_eth_dev_rss_reta_update`, its mask and groups as a list); takes effect on the
    /// next burst.
    pub fn rss_reta_update(&self, entries: &[(u16, u16)]) -> Result<()> {
        let st = self.open_state()?;
        let rss = self.rss_state(&st)?;
        let size = port_info(self.inner.dev.info()).reta_size;
        let nb_rx = st.rxq.len() as u16;
        for &(i, q) in entries {
            if i >= size {
                return Err(EthError::InvalidConfig {
                    port: self.id(),
                    reason: format!("RETA index {i}: the table has {size} entries"),
                });
            }
            if q >= nb_rx {
                return Err(EthError::InvalidConfig {
                    port: self.id(),
                    reason: format!("RETA entry {i} to queue {q}: {nb_rx} RX queues configured"),
                });
            }
        }
        if self.device_rss(&st) {
            let mut reta = rss.reta();
            for &(i, q) in entries {
                reta[i as usize] = q;
            }
            self.inner
                .dev
                .rss_reta_update(&reta)
                .map_err(|e| self.driver_err(e))?;
        }
        rss.reta_set(entries);
        Ok(())
    }

    /// The redirection table (DPDK's `rte_eth_dev_rss_reta_query`), `reta_size` entries.
    pub fn rss_reta_query(&self) -> Result<Vec<u16>> {
        let st = self.open_state()?;
        let rss = self.rss_state(&st)?;
        let size = port_info(self.inner.dev.info()).reta_size as usize;
        let mut reta = rss.reta();
        reta.truncate(size);
        Ok(reta)
    }

    /// What hairpin queues the port can have (DPDK's `rte_eth_dev_hairpin_capability_get`):
    /// the software hairpin's, on every driver.
    pub fn hairpin_capability_get(&self) -> Result<HairpinCap> {
        drop(self.open_state()?);
        Ok(HAIRPIN_CAP)
    }

    fn check_hairpin_conf(&self, dir: &str, nb_desc: u16, conf: &HairpinConf) -> Result<()> {
        let invalid = |reason: String| EthError::InvalidConfig {
            port: self.id(),
            reason,
        };
        let [peer] = conf.peers[..] else {
            return Err(invalid(format!(
                "{dir} hairpin queue with {} peers: the software hairpin takes exactly 1",
                conf.peers.len()
            )));
        };
        if nb_desc > HAIRPIN_CAP.max_nb_desc {
            return Err(invalid(format!(
                "{nb_desc} hairpin descriptors, at most {}",
                HAIRPIN_CAP.max_nb_desc
            )));
        }
        if Port::get(peer.port).is_err() {
            return Err(invalid(format!(
                "hairpin peer port {} does not exist",
                peer.port
            )));
        }
        if peer.port != self.id() && !conf.manual_bind {
            return Err(invalid(format!(
                "a hairpin to another port ({}) needs manual_bind, then hairpin_bind",
                peer.port
            )));
        }
        Ok(())
    }

    fn hairpin_count(st: &State) -> usize {
        st.hairpin_rx.iter().flatten().count() + st.hairpin_tx.iter().flatten().count()
    }

    /// Sets up RX queue `queue` as a hairpin queue (DPDK's `rte_eth_rx_hairpin_queue_setup`):
    /// what it receives goes to its peer TX queue once bound, never to the application. Its
    /// mbufs come from a pool of its own of `nb_desc` (0: 1024) mbufs.
    pub fn rx_hairpin_queue_setup(
        &self,
        queue: u16,
        nb_desc: u16,
        conf: &HairpinConf,
    ) -> Result<()> {
        self.check_hairpin_conf("RX", nb_desc, conf)?;
        {
            let st = self.open_state()?;
            self.check_setup_state(&st)?;
            self.check_slot_free(&st.rxq, "rx", queue)?;
            if Self::hairpin_count(&st) >= HAIRPIN_CAP.max_nb_queues as usize * 2 {
                return Err(self.bad_state("too many hairpin queues"));
            }
        }
        let n = if nb_desc == 0 { 1024 } else { nb_desc as u32 }.max(64) * 2 - 1;
        let pool = PktmbufPool::create(
            &format!("HP_p{}q{queue}", self.id()),
            n,
            0,
            0,
            rpdk_mbuf::MBUF_DEFAULT_BUF_SIZE,
            Some(self.socket_id()),
        )
        .map_err(|e| EthError::InvalidConfig {
            port: self.id(),
            reason: format!("the pool of hairpin RX queue {queue}: {e}"),
        })?;
        if let Err(e) = self.rx_queue_setup(queue, nb_desc, None, &RxConf::default(), &pool) {
            pool.free();
            return Err(e);
        }
        let mut st = self.inner.lock();
        st.hairpin_rx[queue as usize] = Some(conf.clone());
        st.hairpin_pools.push(pool);
        if st.stage.sw_rx.is_some() {
            // The hairpin's service may be the only poller: flow rules classify at the
            // kernel queues, so that what they send to it moves without the application.
            st.stage.upstream.store(true, Ordering::Relaxed);
        }
        // RSS spreads over the normal queues only: a hairpin queue gets what flow rules send it.
        let normal: Vec<u16> = (0..st.hairpin_rx.len() as u16)
            .filter(|&q| st.hairpin_rx[q as usize].is_none())
            .collect();
        if let (Some(rss), false) = (&st.stage.rss, normal.is_empty()) {
            let size = rss.reta().len() as u16;
            let entries: Vec<(u16, u16)> = (0..size)
                .map(|i| (i, normal[i as usize % normal.len()]))
                .collect();
            rss.reta_set(&entries);
        }
        Ok(())
    }

    /// Sets up TX queue `queue` as a hairpin queue (DPDK's `rte_eth_tx_hairpin_queue_setup`):
    /// it sends what its peer RX queue receives.
    pub fn tx_hairpin_queue_setup(
        &self,
        queue: u16,
        nb_desc: u16,
        conf: &HairpinConf,
    ) -> Result<()> {
        self.check_hairpin_conf("TX", nb_desc, conf)?;
        {
            let st = self.open_state()?;
            if Self::hairpin_count(&st) >= HAIRPIN_CAP.max_nb_queues as usize * 2 {
                return Err(self.bad_state("too many hairpin queues"));
            }
        }
        self.tx_queue_setup(queue, nb_desc, None, &TxConf::default())?;
        self.inner.lock().hairpin_tx[queue as usize] = Some(conf.clone());
        Ok(())
    }

    /// Binds the hairpin TX queues of this port to their peer RX queues on port `rx_port`
    /// (all peer ports when `None`) (DPDK's `rte_eth_hairpin_bind(tx_port, rx_port)`): both
    /// ports started; from now on an EAL service moves their packets.
    pub fn hairpin_bind(&self, rx_port: Option<u16>) -> Result<()> {
        self.bind_hairpins(rx_port, true)
    }

    fn bind_hairpins(&self, rx_port: Option<u16>, manual: bool) -> Result<()> {
        let txs: Vec<(u16, HairpinConf)> = {
            let st = self.open_state()?;
            st.hairpin_tx
                .iter()
                .enumerate()
                .filter_map(|(q, c)| Some((q as u16, c.clone()?)))
                .filter(|(_, c)| c.manual_bind == manual)
                .filter(|(_, c)| rx_port.is_none_or(|p| c.peers[0].port == p))
                .collect()
        };
        if manual && txs.is_empty() {
            return Err(self.bad_state(match rx_port {
                Some(p) => format!("no hairpin TX queue with a peer on port {p}"),
                None => "no hairpin TX queue to bind".into(),
            }));
        }
        for (tq, conf) in txs {
            let peer = conf.peers[0];
            if crate::stage::hairpin::is_bound(self.id(), tq) {
                if manual {
                    return Err(self.bad_state(format!("hairpin TX queue {tq} is bound already")));
                }
                continue;
            }
            let rx = Port::get(peer.port)?;
            if !self.is_started() || !rx.is_started() {
                return Err(self.bad_state(format!(
                    "hairpin bind needs both ports started (port {}: {}, port {}: {})",
                    self.id(),
                    self.is_started(),
                    rx.id(),
                    rx.is_started()
                )));
            }
            let rx_conf = rx
                .inner
                .lock()
                .hairpin_rx
                .get(peer.queue as usize)
                .cloned()
                .flatten();
            let want = HairpinPeer {
                port: self.id(),
                queue: tq,
            };
            match rx_conf {
                Some(c) if c.peers[0] == want && c.tx_explicit == conf.tx_explicit => {}
                Some(c) => {
                    return Err(self.bad_state(format!(
                        "hairpin TX queue {tq} and RX queue {} of port {} do not name each \
                         other with the same settings ({:?} / {:?})",
                        peer.queue, peer.port, conf, c
                    )));
                }
                None => {
                    return Err(self.bad_state(format!(
                        "RX queue {} of port {} is not a hairpin queue",
                        peer.queue, peer.port
                    )));
                }
            }
            let rxq = rx.take_rx_queue(peer.queue)?;
            let txq = self.take_tx_queue(tq)?;
            crate::stage::hairpin::bind(rxq, txq).map_err(|e| EthError::Driver {
                port: self.id(),
                driver: "hairpin",
                message: e.to_string(),
            })?;
        }
        Ok(())
    }

    /// Unbinds the hairpin TX queues of this port from port `rx_port` (all when `None`) (DPDK's
    /// `rte_eth_hairpin_unbind`): their service stops and the queues move nothing.
    pub fn hairpin_unbind(&self, rx_port: Option<u16>) -> Result<()> {
        drop(self.open_state()?);
        let me = self.id();
        crate::stage::hairpin::unbind_where(|b| {
            b.tx_port == me && rx_port.is_none_or(|p| b.rx_port == p)
        });
        Ok(())
    }

    /// The peer ports of this port's hairpin queues (DPDK's `rte_eth_hairpin_get_peer_ports`):
    /// with `tx`, the RX ports its hairpin TX queues take from; otherwise the TX ports its
    /// hairpin RX queues send to.
    pub fn hairpin_get_peer_ports(&self, tx: bool) -> Result<Vec<u16>> {
        let st = self.open_state()?;
        let list = if tx { &st.hairpin_tx } else { &st.hairpin_rx };
        let mut ports: Vec<u16> = list.iter().flatten().map(|c| c.peers[0].port).collect();
        ports.sort_unstable();
        ports.dedup();
        Ok(ports)
    }

    /// The EAL services moving this port's bound hairpins (as RX or TX port), for an
    /// application without service lcores to run (`service_run_iter_on_app_lcore`).
    pub fn hairpin_services(&self) -> Vec<u32> {
        crate::stage::hairpin::services_of(self.id())
    }

    /// Statistics (DPDK's `rte_eth_stats_get`).
    pub fn stats(&self) -> Stats {
        if self.inner.secondary {
            // The primary keeps the baselines of resets: it answers.
            return crate::remote::stats(self.id()).unwrap_or_else(|e| {
                log::warn!(target: "lib.ethdev", "port {}: statistics: {e}", self.id());
                Stats::default()
            });
        }
        let st = self.inner.lock();
        self.inner.dev.refresh_stats();
        let mut s = st.counters.stats();
        s.imissed += self.inner.dev.device_missed();
        s
    }

    /// Resets the statistics, the device's own counters with them (so the driver's extended
    /// statistics that show those counters restart too: their baseline is taken anew).
    pub fn stats_reset(&self) {
        if self.inner.secondary {
            if let Err(e) = crate::remote::stats_reset(self.id()) {
                log::warn!(target: "lib.ethdev", "port {}: statistics reset: {e}", self.id());
            }
            return;
        }
        let mut st = self.inner.lock();
        self.reset_locked(&mut st);
    }

    fn reset_locked(&self, st: &mut State) {
        self.inner.dev.refresh_stats();
        st.counters.reset();
        self.inner.dev.device_stats_reset();
        st.xstats_base = self.inner.dev.xstats();
    }

    /// Extended statistics by name: the generic ones, then the driver's (DPDK's
    /// `rte_eth_xstats_get_names` and `rte_eth_xstats_get`).
    pub fn xstats(&self) -> Vec<(String, u64)> {
        if self.inner.secondary {
            return crate::remote::xstats(self.id()).unwrap_or_else(|e| {
                log::warn!(target: "lib.ethdev", "port {}: extended statistics: {e}", self.id());
                Vec::new()
            });
        }
        let st = self.inner.lock();
        self.inner.dev.refresh_stats();
        let mut x = st.counters.xstats();
        let mut drv = self.inner.dev.xstats();
        for (name, v) in &mut drv {
            if let Some((_, b)) = st.xstats_base.iter().find(|(n, _)| n == name)
                && self.inner.dev.xstat_is_counter(name)
            {
                *v = v.wrapping_sub(*b);
            }
        }
        x.extend(drv);
        for (i, s) in st.stage.rx.iter().enumerate() {
            let drops = s.drops.load(Ordering::Relaxed);
            if drops != 0 || s.active.load(Ordering::Relaxed) & active::CLASSIFIER != 0 {
                x.push((format!("rx_q{i}_classifier_drops"), drops));
            }
        }
        if let Some(Some(i)) = self.inner.inbox.get() {
            x.push((
                "tx_port_inbox_packets".into(),
                i.sent.load(Ordering::Relaxed),
            ));
        }
        x
    }

    /// One extended statistic (DPDK's `rte_eth_xstats_get_id_by_name` and a get).
    pub fn xstat(&self, name: &str) -> Option<u64> {
        self.xstats()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// Resets the extended statistics: the generic ones and the driver's, whose values now
    /// become the baseline they are reported from (the driver's counters are never written).
    pub fn xstats_reset(&self) {
        if self.inner.secondary {
            if let Err(e) = crate::remote::xstats_reset(self.id()) {
                log::warn!(target: "lib.ethdev", "port {}: extended statistics reset: {e}", self.id());
            }
            return;
        }
        let mut st = self.inner.lock();
        self.reset_locked(&mut st);
    }

    /// Link status (DPDK's `rte_eth_link_get_nowait`): down while the port is stopped, the
    /// device's once it is started.
    pub fn link(&self) -> Link {
        let st = self.inner.lock();
        if !self.is_started() {
            return Link::default();
        }
        let link = self.inner.dev.link();
        if let Some(sh) = &self.inner.shared
            && !self.inner.secondary
            && (sh.flags() & flag::LINK_UP != 0) != link.up
        {
            // Secondaries see the link change.
            self.publish_locked(&st);
        }
        link
    }

    /// The MAC address (DPDK's `rte_eth_macaddr_get`).
    pub fn mac_addr(&self) -> MacAddr {
        let _st = self.inner.lock();
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
        let st = self.open_state()?;
        self.inner
            .dev
            .set_mac_addr(mac)
            .map_err(|e| self.driver_err(e))?;
        self.publish_locked(&st);
        Ok(())
    }

    /// Turns promiscuous mode on.
    pub fn promiscuous_enable(&self) -> Result<()> {
        let st = self.open_state()?;
        self.inner
            .dev
            .set_promiscuous(true)
            .map_err(|e| self.driver_err(e))?;
        self.publish_locked(&st);
        Ok(())
    }

    /// Turns promiscuous mode off.
    pub fn promiscuous_disable(&self) -> Result<()> {
        let st = self.open_state()?;
        self.inner
            .dev
            .set_promiscuous(false)
            .map_err(|e| self.driver_err(e))?;
        self.publish_locked(&st);
        Ok(())
    }

    /// Whether promiscuous mode is on.
    pub fn promiscuous(&self) -> bool {
        let _st = self.inner.lock();
        self.inner.dev.promiscuous()
    }

    /// Turns all-multicast on.
    pub fn allmulticast_enable(&self) -> Result<()> {
        let st = self.open_state()?;
        self.inner
            .dev
            .set_allmulticast(true)
            .map_err(|e| self.driver_err(e))?;
        self.publish_locked(&st);
        Ok(())
    }

    /// Turns all-multicast off.
    pub fn allmulticast_disable(&self) -> Result<()> {
        let st = self.open_state()?;
        self.inner
            .dev
            .set_allmulticast(false)
            .map_err(|e| self.driver_err(e))?;
        self.publish_locked(&st);
        Ok(())
    }

    /// Whether all-multicast is on.
    pub fn allmulticast(&self) -> bool {
        let _st = self.inner.lock();
        self.inner.dev.allmulticast()
    }

    /// The MTU.
    pub fn mtu(&self) -> u16 {
        let _st = self.inner.lock();
        self.inner.dev.mtu()
    }

    /// Sets the MTU (DPDK's `rte_eth_dev_set_mtu`); [`conf`](Self::conf) reports it after.
    pub fn set_mtu(&self, mtu: u16) -> Result<()> {
        let mut st = self.open_state()?;
        let info = self.inner.dev.info();
        if mtu < info.min_mtu || mtu > info.max_mtu {
            return Err(EthError::InvalidConfig {
                port: self.id(),
                reason: format!("MTU {mtu} outside {}..={}", info.min_mtu, info.max_mtu),
            });
        }
        self.inner
            .dev
            .set_mtu(mtu)
            .map_err(|e| self.driver_err(e))?;
        st.conf.mtu = Some(mtu);
        self.publish_locked(&st);
        Ok(())
    }
}
