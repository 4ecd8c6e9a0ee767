//! The software stage of every port: what runs on the polling lcore between the driver's burst
//! and the application, the same for every driver.
//!
//! Per RX queue, after the driver's `rx_burst`: the software queues and RSS when the port has
//! more queues than its device (`swq.rs`), the RSS hash when the device writes none, then the
//! RX callbacks in order (DPDK's `rte_eth_add_rx_callback`). Per TX queue, before the driver's
//! `tx_burst`: the TX callbacks, then the software TX queues' turn-taking.
//! A queue with no callback pays one relaxed load and a branch that always goes the same way.
//! Callbacks are added and removed while traffic runs, without a lock on the burst path;
//! removal waits until the polling lcore is past the callback (see `callbacks.rs`).

pub(crate) mod callbacks;
pub mod hairpin;
pub(crate) mod port_inbox;
pub(crate) mod rss;
pub(crate) mod swq;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rpdk_mbuf::{BurstView, MbufConsumer, MbufRing, PacketType};
use rpdk_ring::{RingFlags, Sc};

use crate::driver::RxQueueOps;
pub(crate) use callbacks::CallbackList;
pub(crate) use rss::RssState;
pub use rss::{STAGE_KEY_SIZE, STAGE_RETA_SIZE, STAGE_RSS_TYPES};

/// An RX callback: called as `cb(port, queue, burst)` on the polling lcore after each receive,
/// with the packets just received in `burst` (its room is what is left of the caller's
/// maximum). It may keep, rewrite or drop them ([`BurstView::retain`] frees what it drops), or
/// add packets; what it leaves is what `rx_burst` returns.
pub type RxCallbackFn = dyn Fn(u16, u16, &mut BurstView<'_>) + Send + Sync;

/// A TX callback: called as `cb(port, queue, burst)` on the sending lcore before the driver
/// sends `burst`. It may keep, rewrite or drop packets (dropped ones count as taken by
/// `tx_burst`, so the caller's burst holds only what was neither dropped nor sent).
pub type TxCallbackFn = dyn Fn(u16, u16, &mut BurstView<'_>) + Send + Sync;

/// A callback's handle, for removal (DPDK's `struct rte_eth_rxtx_callback *`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallbackId {
    pub(crate) queue: u16,
    pub(crate) id: u64,
}

impl CallbackId {
    /// The queue it is on.
    pub fn queue(&self) -> u16 {
        self.queue
    }
}

/// What a [`Classifier`] decides for one packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verdict {
    /// Goes on to the callbacks and the application (marks written into the mbuf stay).
    #[default]
    Keep,
    /// Freed by the stage (counted in the queue's `rx_qN_classifier_drops` xstat).
    Drop,
    /// Moved to RX queue `q` of the same port (through that queue's inbox ring: the lcore
    /// polling `q` receives it in its next burst); a full inbox frees and counts it.
    Queue(u16),
    /// Handed to port `p`'s TX (PORT_ID, REPRESENTED_PORT): into that port's inbox, which the
    /// lcore owning its TX queue 0 sends at its next `tx_burst` (see `port_inbox.rs`). A
    /// missing or stopped port or a full inbox frees and counts it. On TX, `Port` of the
    /// sending port itself means `Keep`.
    Port(u16),
}

/// The hook a flow engine plugs into (rpdk-flow's compiled rules): one per port, installed
/// with [`crate::Port::set_classifier`], run by the stage on the polling lcore.
///
/// `rx` gets every RX burst of every queue after the driver (and the stage's RSS and packet
/// types), before the RX callbacks (on a port with software queues and a hairpin RX queue:
/// every burst of each kernel queue, before the stage spreads it, `queue` being the kernel
/// queue's number); `tx` gets every TX burst before the TX callbacks and the
/// driver. For each packet it writes a [`Verdict`] at the same index (they start as `Keep`);
/// marks go straight into the mbuf ([`rpdk_mbuf::Mbuf::set_fdir_id`], `RX_FDIR` flags), as
/// a NIC's flow rules write them. On TX, `Queue` means `Keep`. It must not block, allocate
/// per packet or take locks; it may be called from several lcores at once (one per queue).
/// Installing, replacing and removing it are safe while traffic runs: a removal returns once
/// no lcore can still be inside it.
pub trait Classifier: Send + Sync {
    /// Classifies an RX burst of queue `queue`.
    fn rx(&self, port: u16, queue: u16, pkts: &mut [rpdk_mbuf::Mbuf], verdicts: &mut [Verdict]);

    /// Classifies a TX burst of queue `queue` (egress rules); keeps everything by default.
    fn tx(
        &self,
        _port: u16,
        _queue: u16,
        _pkts: &mut [rpdk_mbuf::Mbuf],
        _verdicts: &mut [Verdict],
    ) {
    }
}

/// The packet types the stage's parser (`rpdk_mbuf::net::get_ptype`) gives.
pub const STAGE_PTYPES: &[u32] = &[
    PacketType::L2_ETHER.0,
    PacketType::L2_ETHER_ARP.0,
    PacketType::L2_ETHER_VLAN.0,
    PacketType::L2_ETHER_QINQ.0,
    PacketType::L3_IPV4.0,
    PacketType::L3_IPV4_EXT.0,
    PacketType::L3_IPV6.0,
    PacketType::L3_IPV6_EXT.0,
    PacketType::L4_TCP.0,
    PacketType::L4_UDP.0,
    PacketType::L4_FRAG.0,
    PacketType::L4_SCTP.0,
    PacketType::L4_ICMP.0,
    PacketType::L4_NONFRAG.0,
    PacketType::TUNNEL_IP.0,
    PacketType::TUNNEL_GRE.0,
    PacketType::TUNNEL_VXLAN.0,
    PacketType::TUNNEL_NVGRE.0,
    PacketType::TUNNEL_GENEVE.0,
    PacketType::INNER_L2_ETHER.0,
    PacketType::INNER_L3_IPV4.0,
    PacketType::INNER_L3_IPV6.0,
    PacketType::INNER_L4_TCP.0,
    PacketType::INNER_L4_UDP.0,
];

/// Bits of [`RxStage::active`]/[`TxStage::active`]: what the slow path has to do.
pub(crate) mod active {
    pub const CALLBACKS: u32 = 1;
    pub const PTYPES: u32 = 2;
    pub const CLASSIFIER: u32 = 4;
    /// TX queue 0 only: other ports hand packets to this port (`port_inbox.rs`).
    pub const INBOX: u32 = 8;
}

/// The stage of one RX queue. Lives as long as the port's configuration: callbacks survive
/// stop, start and queue setup, as DPDK's.
pub(crate) struct RxStage {
    /// What is on ([`active`] bits); 0 is the burst path's one branch.
    pub active: AtomicU32,
    /// The packet types to parse (a DPDK layer mask), 0 for none.
    pub ptypes: AtomicU32,
    pub callbacks: CallbackList<RxCallbackFn>,
    pub classifier: CallbackList<dyn Classifier>,
    /// Packets other queues' classifier verdicts moved here (multi-producer, one consumer:
    /// the queue's handle takes the consumer).
    pub inbox: MbufRing,
    pub inbox_rx: Mutex<Option<MbufConsumer<Sc>>>,
    /// Packets dropped by the classifier, or lost to a full inbox (counted by the polling
    /// lcore; read by xstats).
    pub drops: AtomicU64,
    /// Serialises changes of `active`.
    change: Mutex<()>,
}

/// Slots of a queue's inbox.
const INBOX_SIZE: u32 = 1024;

impl RxStage {
    fn new() -> Result<RxStage, rpdk_mbuf::RingError> {
        let inbox = MbufRing::new(INBOX_SIZE, RingFlags::SC_DEQ)?;
        let rx = Some(inbox.consumer::<Sc>()?);
        Ok(RxStage {
            active: AtomicU32::new(0),
            ptypes: AtomicU32::new(0),
            callbacks: CallbackList::default(),
            classifier: CallbackList::default(),
            inbox,
            inbox_rx: Mutex::new(rx),
            drops: AtomicU64::new(0),
            change: Mutex::new(()),
        })
    }

    /// Sets or clears `bit` of `active`.
    pub fn set_active(&self, bit: u32, on: bool) {
        let _g = self.change.lock().unwrap_or_else(|e| e.into_inner());
        let a = self.active.load(Ordering::Relaxed);
        let a = if on { a | bit } else { a & !bit };
        self.active.store(a, Ordering::Release);
    }
}

impl Drop for RxStage {
    fn drop(&mut self) {
        // Packets left in the inbox go back to their pools.
        if let Some(c) = self.inbox_rx.get_mut().unwrap_or_else(|e| e.into_inner()) {
            c.drain();
        }
    }
}

/// The stage of one TX queue.
#[derive(Default)]
pub(crate) struct TxStage {
    pub active: AtomicU32,
    pub callbacks: CallbackList<TxCallbackFn>,
    pub classifier: CallbackList<dyn Classifier>,
    change: Mutex<()>,
}

impl TxStage {
    /// Sets or clears `bit` of `active`.
    pub fn set_active(&self, bit: u32, on: bool) {
        let _g = self.change.lock().unwrap_or_else(|e| e.into_inner());
        let a = self.active.load(Ordering::Relaxed);
        let a = if on { a | bit } else { a & !bit };
        self.active.store(a, Ordering::Release);
    }
}

/// Most RX or TX queues of a port, the device's and the stage's (DPDK's
/// `RTE_MAX_QUEUES_PER_PORT`).
pub const STAGE_MAX_QUEUES: u16 = 1024;

/// The stage of a port, made at configure.
#[derive(Default)]
pub(crate) struct PortStage {
    pub rx: Vec<Arc<RxStage>>,
    pub tx: Vec<Arc<TxStage>>,
    /// The device's queues in use (the rest are the stage's).
    pub kernel_rx: u16,
    pub kernel_tx: u16,
    /// The RSS state (key, hash types, RETA): the stage's, or the one owner's copy of a device
    /// that does RSS itself.
    pub rss: Option<Arc<RssState>>,
    /// Whether the stage spreads by RSS over its software queues.
    pub spread: bool,
    /// Whether the stage writes the RSS hash on a device's own queues (`RSS_HASH`).
    pub hash_rx: bool,
    /// The device's RX queues, shared by software RX queues (when there are more queues).
    pub sw_rx: Option<Arc<[swq::SharedRx]>>,
    /// The device's TX queues, shared by software TX queues, with their private counters.
    pub sw_tx: Option<Vec<(Arc<swq::SharedTx>, Arc<crate::stats::QueueCounters>)>>,
    /// The classifier runs where packets leave the kernel queues (`swq.rs`) rather than on
    /// each RX queue: set when a port with software queues gets a hairpin RX queue, whose
    /// service may be the port's only poller.
    pub upstream: Arc<std::sync::atomic::AtomicBool>,
}

impl PortStage {
    pub fn new(nb_rx: u16, nb_tx: u16) -> Result<PortStage, rpdk_mbuf::RingError> {
        Ok(PortStage {
            rx: (0..nb_rx)
                .map(|_| RxStage::new().map(Arc::new))
                .collect::<Result<_, _>>()?,
            tx: (0..nb_tx).map(|_| Arc::default()).collect(),
            ..PortStage::default()
        })
    }
}

/// What the port reports (DPDK's `rte_eth_dev_info`) for a device described by `d`: the
/// stage's queues beyond the device's, and its RSS when the device has none.
pub(crate) fn port_info(mut d: crate::DevInfo) -> crate::DevInfo {
    if d.max_rx_queues > 0 {
        d.max_rx_queues = d.max_rx_queues.max(STAGE_MAX_QUEUES);
    }
    if d.max_tx_queues > 0 {
        d.max_tx_queues = d.max_tx_queues.max(STAGE_MAX_QUEUES);
    }
    if d.reta_size == 0 {
        d.reta_size = STAGE_RETA_SIZE;
        d.hash_key_size = STAGE_KEY_SIZE;
        d.flow_type_rss_offloads = STAGE_RSS_TYPES;
        d.rx_offload_capa |= crate::rx_offload::RSS_HASH;
    }
    d
}

/// The stage's RSS hash over a driver queue that does not compute it (the `RSS_HASH` offload
/// on a port whose device spreads over its own queues but writes no hash into mbufs).
pub(crate) struct HashRx {
    pub inner: Box<dyn RxQueueOps>,
    pub rss: Arc<RssState>,
}

impl RxQueueOps for HashRx {
    #[inline]
    fn rx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let start = pkts.len();
        let n = self.inner.rx_burst(pkts);
        if n > 0 {
            let snap = self.rss.snapshot();
            for m in &mut pkts.as_mut_slice()[start..] {
                if let Some(h) = snap.hash(m) {
                    m.set_rss_hash(h);
                }
            }
        }
        n
    }
}
