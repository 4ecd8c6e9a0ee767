//! The `net_af_packet` device: its interface, the sockets and rings of its queues, and the
//! control operations (link, MAC, MTU, promiscuous and all-multicast modes, xstats).

#![forbid(unsafe_code)]

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use rpdk_mbuf::net::MacAddr;

use super::devargs::Params;
use super::rx::{AfPacketRx, RxCfg, RxXstats};
use super::share::{self, Geometry};
use super::tpacket::{RxFrames, RxRingV2, RxRingV3, TxRing};
use super::tx::{AfPacketTx, TxXstats};
use super::{DRIVER, LOG};
use crate::config::{DevInfo, EthConf, Link, rx_offload, tx_offload};
use crate::driver::{
    DriverResult, EthDevice, RxQueueOps, RxSetup, SharedQueue, TxQueueOps, TxSetup,
};
use crate::drivers::netif::NetIf;
use crate::drivers::packet_socket::{self as sys, Fanout, Socket};
use crate::error::DriverError;
use crate::rss::RssHf;
use crate::shared::QueueRecord;
use crate::stats::QueueCounters;

/// How long the kernel keeps a block of the RX ring that is not full before handing it over,
/// in milliseconds: the latency of light traffic (`tp_retire_blk_tov`).
const RETIRE_BLOCK_MS: u32 = 1;
/// Ethernet header and one VLAN tag: a frame's length over its MTU.
const L2_OVERHEAD: u32 = 18;
const MIN_MTU: u16 = 68;

/// The receive ring of a queue, of the version the devargs chose.
pub(super) enum RxRing {
    V2(RxRingV2),
    V3(RxRingV3),
}

impl RxRing {
    fn frames(&mut self) -> &mut dyn RxFrames {
        match self {
            RxRing::V2(r) => r,
            RxRing::V3(r) => r,
        }
    }

    /// Continues where the queue's last driver parked the ring, or finds the place from the
    /// ring when it parked none (it died driving the queue).
    pub fn resume(&mut self, parked: Option<[u64; 3]>) -> DriverResult<()> {
        match parked {
            Some(pos) => self
                .frames()
                .set_position(pos)
                .map_err(DriverError::Invalid),
            None => {
                self.frames().resync();
                Ok(())
            }
        }
    }
}

/// A queue's position record in the shared port data, if the port has one.
pub(super) fn record(port: u16, rx: bool, queue: u16) -> Option<QueueRecord> {
    crate::shared::SharedPort::of(port)
        .ok()
        .flatten()
        .and_then(|sh| sh.record(rx, queue))
}

/// An RX queue object over `ring`.
pub(super) fn rx_queue(
    ring: RxRing,
    sock: Arc<Socket>,
    pool: rpdk_mbuf::PktmbufPool,
    cfg: RxCfg,
    counters: Arc<QueueCounters>,
    record: Option<QueueRecord>,
) -> (Box<dyn RxQueueOps>, Arc<RxXstats>) {
    let xstats = Arc::new(RxXstats::default());
    let x = xstats.clone();
    let q: Box<dyn RxQueueOps> = match ring {
        RxRing::V2(ring) => Box::new(AfPacketRx {
            ring,
            sock,
            pool,
            cfg,
            counters,
            xstats,
            record,
        }),
        RxRing::V3(ring) => Box::new(AfPacketRx {
            ring,
            sock,
            pool,
            cfg,
            counters,
            xstats,
            record,
        }),
    };
    (q, x)
}

/// One queue's socket, which the device keeps for as long as the queue is set up (a
/// secondary process may drive the queue with a descriptor of it).
#[derive(Clone)]
struct QueueSock {
    sock: Arc<Socket>,
    /// RX: frames keep their VLAN tags out of the data.
    vlan_strip: bool,
    /// Shared with a secondary process since the last setup: the next setup continues with
    /// this socket and its ring.
    lent: bool,
}

#[derive(Default)]
struct State {
    promisc: bool,
    allmulti: bool,
    /// Last MAC address and MTU seen, for when the interface is gone.
    mac: MacAddr,
    mtu: u16,
    /// RX queues configured: more than one share a fanout group.
    nb_rx: u16,
    /// The port's fanout group, once its first RX socket made it.
    fanout: Option<u16>,
    /// The RX sockets, to stop and start their traffic.
    rx_socks: Vec<Weak<Socket>>,
    rx_xstats: Vec<Option<Arc<RxXstats>>>,
    tx_xstats: Vec<Option<Arc<TxXstats>>>,
    rx_q: Vec<Option<QueueSock>>,
    tx_q: Vec<Option<QueueSock>>,
}

/// A port on a kernel interface through `AF_PACKET` sockets.
pub(super) struct AfPacketDevice {
    params: Params,
    ifindex: i32,
    /// The interface: index, flags, MAC address, MTU and link settings, in the namespace of
    /// the port's sockets.
    netif: NetIf,
    /// For the promiscuous and all-multicast memberships, which the kernel drops when it
    /// closes.
    ctl: Socket,
    state: Mutex<State>,
}

fn io_err(what: String) -> impl FnOnce(io::Error) -> DriverError {
    move |e| DriverError::io(what, e)
}

impl AfPacketDevice {
    /// Opens interface `params.iface`: it must exist, in this thread's network namespace, and
    /// carry Ethernet frames.
    pub fn open(params: Params) -> Result<AfPacketDevice, String> {
        let ctl = Socket::new(false).map_err(|e| {
            format!("opening an AF_PACKET socket: {e} (needs CAP_NET_RAW: run as root)")
        })?;
        let iface = &params.iface;
        let netif =
            NetIf::new(iface).map_err(|e| format!("interface '{iface}' (key 'iface'): {e}"))?;
        let ifindex = netif.index().map_err(|e| {
            if e.raw_os_error() == Some(libc::ENODEV) {
                format!("interface '{iface}' (key 'iface') does not exist")
            } else {
                format!("interface '{iface}' (key 'iface'): {e}")
            }
        })? as i32;
        let (hwtype, mac) = netif
            .hwaddr()
            .map_err(|e| format!("reading the MAC address of '{iface}': {e}"))?;
        if hwtype != libc::ARPHRD_ETHER && hwtype != libc::ARPHRD_LOOPBACK {
            return Err(format!(
                "interface '{iface}' (key 'iface') does not carry Ethernet frames (hardware type {hwtype})"
            ));
        }
        let mtu = netif.mtu().unwrap_or(1500).min(u16::MAX as u32) as u16;
        Ok(AfPacketDevice {
            state: Mutex::new(State {
                mac,
                mtu,
                ..State::default()
            }),
            params,
            ifindex,
            netif,
            ctl,
        })
    }

    /// The interface's index.
    pub fn ifindex(&self) -> i32 {
        self.ifindex
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A descriptor of an RX (`rx`) or TX queue's socket, with the ring's geometry and the
    /// queue's settings; the ring's position goes through the queue's record in the shared
    /// port data, where this process's queue object parks it when the port layer drops it.
    fn share_queue(&self, rx: bool, queue: u16) -> DriverResult<SharedQueue> {
        let dir = if rx { "RX" } else { "TX" };
        let mut st = self.lock();
        let slots = if rx { &mut st.rx_q } else { &mut st.tx_q };
        let l = slots
            .get_mut(queue as usize)
            .and_then(Option::as_mut)
            .ok_or_else(|| DriverError::Invalid(format!("{dir} queue {queue} is not set up")))?;
        let fd = l
            .sock
            .dup_fd()
            .map_err(io_err(format!("duplicating the {dir} socket")))?;
        l.lent = true;
        let args = share::encode(rx, rx && l.vlan_strip, &Geometry::of(&self.params, rx));
        Ok(SharedQueue {
            args,
            fds: vec![fd],
        })
    }

    fn iface(&self) -> &str {
        &self.params.iface
    }

    /// Whether the interface is still the one probed (not deleted, or replaced by another of
    /// the same name).
    fn present(&self) -> bool {
        self.netif.index().ok() == Some(self.ifindex as u32)
    }

    /// Puts a new RX socket in the port's fanout group (creating it with the first), leaving
    /// outgoing frames out where the kernel can.
    fn join_fanout(&self, sock: &Socket, st: &mut State) -> DriverResult<()> {
        let mut last = None;
        for ignore_outgoing in [true, false] {
            let f = match st.fanout {
                Some(id) => Fanout {
                    id,
                    unique: false,
                    ignore_outgoing,
                },
                None => Fanout {
                    id: 0,
                    unique: true,
                    ignore_outgoing,
                },
            };
            match sock.join_fanout(f) {
                Ok(()) => {
                    if st.fanout.is_none() {
                        let id = sock
                            .fanout_id()
                            .map_err(io_err("reading the fanout group id".into()))?;
                        log::debug!(
                            target: LOG,
                            "'{}': fanout group {id}{}",
                            self.iface(),
                            if ignore_outgoing { "" } else { " (outgoing frames filtered by the queues)" }
                        );
                        st.fanout = Some(id);
                    }
                    return Ok(());
                }
                // An older kernel without PACKET_FANOUT_FLAG_IGNORE_OUTGOING: the queue leaves
                // outgoing frames out itself.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = Some(e),
                Err(e) => return Err(DriverError::io("joining the fanout group", e)),
            }
        }
        Err(DriverError::io(
            "joining the fanout group",
            last.unwrap_or_else(|| io::Error::from_raw_os_error(libc::EINVAL)),
        ))
    }

    fn rx_socket(&self, st: &mut State) -> DriverResult<(Socket, RxRing)> {
        let p = &self.params;
        let sock = Socket::new(false).map_err(io_err("opening an AF_PACKET socket".into()))?;
        let ring = if p.rx_v2 {
            sock.set_packet_opt(libc::PACKET_VERSION, sys::TPACKET_V2)
                .map_err(io_err("asking for TPACKET_V2".into()))?;
            let req = p.tpacket_req();
            sock.set_rx_ring_v2(&req).map_err(io_err(format!(
                "setting up an RX ring of {} frames of {} bytes",
                req.tp_frame_nr, req.tp_frame_size
            )))?;
            share::map_rx(&sock, &Geometry::of(p, true))?
        } else {
            sock.set_packet_opt(libc::PACKET_VERSION, sys::TPACKET_V3)
                .map_err(io_err("asking for TPACKET_V3".into()))?;
            let req = libc::tpacket_req3 {
                tp_block_size: p.block_size,
                tp_block_nr: p.block_count(),
                tp_frame_size: p.frame_size,
                tp_frame_nr: p.frame_count,
                tp_retire_blk_tov: RETIRE_BLOCK_MS,
                tp_sizeof_priv: 0,
                tp_feature_req_word: 0,
            };
            sock.set_rx_ring_v3(&req).map_err(io_err(format!(
                "setting up an RX ring of {} blocks of {} bytes",
                req.tp_block_nr, req.tp_block_size
            )))?;
            share::map_rx(&sock, &Geometry::of(p, true))?
        };
        // Linux 4.20 and later leave frames sent from this host out; the queue checks too.
        let _ = sock.set_packet_opt(libc::PACKET_IGNORE_OUTGOING, 1);
        // Queues are set up on a stopped port: no traffic until it starts.
        sock.drop_all(true)
            .map_err(io_err("holding traffic until start".into()))?;
        sock.bind(self.ifindex, sys::ETH_P_ALL)
            .map_err(io_err(format!("binding to '{}'", self.iface())))?;
        if st.nb_rx > 1 {
            self.join_fanout(&sock, st)?;
        }
        Ok((sock, ring))
    }

    fn tx_socket(&self) -> DriverResult<(Socket, TxRing)> {
        let p = &self.params;
        let sock = Socket::new(false).map_err(io_err("opening an AF_PACKET socket".into()))?;
        sock.set_packet_opt(libc::PACKET_VERSION, sys::TPACKET_V2)
            .map_err(io_err("asking for TPACKET_V2".into()))?;
        // Malformed frames are skipped rather than stopping the ring.
        sock.set_packet_opt(libc::PACKET_LOSS, 1)
            .map_err(io_err("setting PACKET_LOSS".into()))?;
        if p.qdisc_bypass {
            sock.set_packet_opt(libc::PACKET_QDISC_BYPASS, 1)
                .map_err(io_err(
                    "setting PACKET_QDISC_BYPASS (key 'qdisc_bypass')".into(),
                ))?;
        }
        let req = p.tpacket_req();
        sock.set_tx_ring(&req).map_err(io_err(format!(
            "setting up a TX ring of {} frames of {} bytes",
            req.tp_frame_nr, req.tp_frame_size
        )))?;
        let ring = share::map_tx(&sock, &Geometry::of(p, false))?;
        // Protocol 0: the socket sends and never receives.
        sock.bind(self.ifindex, 0)
            .map_err(io_err(format!("binding to '{}'", self.iface())))?;
        Ok((sock, ring))
    }

    fn set_traffic(&self, st: &State, on: bool) -> DriverResult<()> {
        for sock in st.rx_socks.iter().filter_map(Weak::upgrade) {
            sock.drop_all(!on).map_err(io_err(if on {
                "letting traffic in".to_string()
            } else {
                "holding traffic back".to_string()
            }))?;
        }
        Ok(())
    }

    fn current_xstats(&self, st: &State) -> Vec<(String, u64)> {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = Vec::new();
        for (q, x) in st.rx_xstats.iter().enumerate() {
            if let Some(x) = x {
                out.push((format!("rx_q{q}_blocks"), get(&x.blocks)));
                out.push((format!("rx_q{q}_block_timeouts"), get(&x.block_timeouts)));
            }
        }
        for (q, x) in st.tx_xstats.iter().enumerate() {
            if let Some(x) = x {
                out.push((format!("tx_q{q}_kicks"), get(&x.kicks)));
                out.push((format!("tx_q{q}_ring_full"), get(&x.ring_full)));
            }
        }
        out
    }

    fn membership(&self, kind: libc::c_int, on: bool, what: &str) -> DriverResult<()> {
        self.ctl
            .membership(self.ifindex, kind, on)
            .map_err(io_err(format!(
                "turning {what} {} on '{}'",
                if on { "on" } else { "off" },
                self.iface()
            )))
    }
}

impl EthDevice for AfPacketDevice {
    fn info(&self) -> DevInfo {
        let max_frame = self.params.max_frame();
        DevInfo {
            if_index: Some(self.ifindex as u32),
            min_mtu: MIN_MTU,
            max_mtu: (max_frame - L2_OVERHEAD).min(u16::MAX as u32) as u16,
            max_rx_pktlen: max_frame,
            max_rx_queues: self.params.qpairs,
            max_tx_queues: self.params.qpairs,
            max_mac_addrs: 1,
            rx_offload_capa: rx_offload::VLAN_STRIP,
            tx_offload_capa: tx_offload::MULTI_SEGS | tx_offload::VLAN_INSERT,
            // The fanout group spreads flows over the queues by the kernel's flow hash (of
            // addresses and ports): the software stage trusts it and spreads only over queues
            // beyond `qpairs`.
            flow_type_rss_offloads: RssHf::IP | RssHf::TCP | RssHf::UDP | RssHf::SCTP,
            ..DevInfo::new(DRIVER)
        }
    }

    fn configure(&self, nb_rx: u16, nb_tx: u16, conf: &EthConf) -> DriverResult<()> {
        if let Some(mtu) = conf.mtu
            && mtu != self.mtu()
        {
            self.set_mtu(mtu)?;
        }
        let mut st = self.lock();
        st.nb_rx = nb_rx;
        st.fanout = None;
        st.rx_socks.clear();
        st.rx_xstats = vec![None; nb_rx as usize];
        st.tx_xstats = vec![None; nb_tx as usize];
        st.rx_q = vec![None; nb_rx as usize];
        st.tx_q = vec![None; nb_tx as usize];
        Ok(())
    }

    fn rx_queue_setup(&self, s: RxSetup<'_>) -> DriverResult<Box<dyn RxQueueOps>> {
        let room = s
            .pool
            .data_room_size()
            .saturating_sub(rpdk_mbuf::PKTMBUF_HEADROOM) as usize;
        let max_frame = self.params.max_frame() as usize;
        if room < max_frame {
            return Err(DriverError::Invalid(format!(
                "frames of up to {max_frame} bytes (framesz {}) do not fit the pool's \
                 {room}-byte mbufs: use larger mbufs or a smaller framesz",
                self.params.frame_size
            )));
        }
        let offloads = s.eth_conf.rx_offloads | s.conf.offloads;
        let vlan_strip = offloads & rx_offload::VLAN_STRIP != 0;
        let q = s.queue as usize;
        let record = record(s.port, true, s.queue);
        let parked = record.as_ref().and_then(QueueRecord::take);
        let mut st = self.lock();
        let lent = st.rx_q.get(q).cloned().flatten().filter(|l| l.lent);
        let (sock, ring) = match lent {
            // Back from a secondary process: the same socket and ring, from where it left
            // them.
            Some(l) => {
                let mut ring = share::map_rx(&l.sock, &Geometry::of(&self.params, true))?;
                if parked.is_none() {
                    log::warn!(
                        target: LOG,
                        "port {}: RX queue {} is back from a process that did not give \
                         it back (it died): finding the place in the ring from its status words",
                        s.port, s.queue
                    );
                }
                ring.resume(parked)?;
                (l.sock, ring)
            }
            None => {
                let (sock, ring) = self.rx_socket(&mut st)?;
                let sock = Arc::new(sock);
                st.rx_socks.retain(|w| w.strong_count() > 0);
                st.rx_socks.push(Arc::downgrade(&sock));
                (sock, ring)
            }
        };
        if let Some(slot) = st.rx_q.get_mut(q) {
            *slot = Some(QueueSock {
                sock: sock.clone(),
                vlan_strip,
                lent: false,
            });
        }
        log::debug!(target: LOG, "port {}: RX queue {} on '{}'", s.port, s.queue, self.iface());
        let cfg = RxCfg {
            port: s.port,
            room,
            vlan_strip,
        };
        let (queue, xstats) = rx_queue(ring, sock, s.pool.clone(), cfg, s.counters, record);
        if let Some(slot) = st.rx_xstats.get_mut(q) {
            *slot = Some(xstats);
        }
        Ok(queue)
    }

    fn tx_queue_setup(&self, s: TxSetup<'_>) -> DriverResult<Box<dyn TxQueueOps>> {
        let q = s.queue as usize;
        let record = record(s.port, false, s.queue);
        let parked = record.as_ref().and_then(QueueRecord::take);
        let lent = self
            .lock()
            .tx_q
            .get(q)
            .cloned()
            .flatten()
            .filter(|l| l.lent);
        let (sock, ring) = match (lent, parked) {
            // Back from a secondary process: the same socket and ring.
            (Some(l), Some(pos)) => {
                let mut ring = share::map_tx(&l.sock, &Geometry::of(&self.params, false))?;
                ring.set_position(pos).map_err(DriverError::Invalid)?;
                (l.sock, ring)
            }
            (lent, _) => {
                if lent.is_some() {
                    // Its driver died with it: where the kernel stands in the ring is not
                    // known, a new socket starts afresh (what it had queued is lost).
                    log::warn!(
                        target: LOG,
                        "port {}: TX queue {} is back from a process that did not give \
                         it back (it died): a new socket and ring",
                        s.port, s.queue
                    );
                }
                let (sock, ring) = self.tx_socket()?;
                (Arc::new(sock), ring)
            }
        };
        let xstats = Arc::new(TxXstats::default());
        let mut st = self.lock();
        if let Some(slot) = st.tx_xstats.get_mut(q) {
            *slot = Some(xstats.clone());
        }
        if let Some(slot) = st.tx_q.get_mut(q) {
            *slot = Some(QueueSock {
                sock: sock.clone(),
                vlan_strip: false,
                lent: false,
            });
        }
        Ok(Box::new(AfPacketTx {
            ring,
            sock,
            counters: s.counters,
            xstats,
            record,
        }))
    }

    fn share_rx_queue(&self, queue: u16) -> DriverResult<SharedQueue> {
        self.share_queue(true, queue)
    }

    fn share_tx_queue(&self, queue: u16) -> DriverResult<SharedQueue> {
        self.share_queue(false, queue)
    }

    fn start(&self) -> DriverResult<()> {
        let st = self.lock();
        self.set_traffic(&st, true)
    }

    fn stop(&self) -> DriverResult<()> {
        let st = self.lock();
        self.set_traffic(&st, false)
    }

    fn close(&self) -> DriverResult<()> {
        let mut st = self.lock();
        // Memberships also go when the socket closes; dropping them now keeps the interface's
        // flags right while a handle to the port lives on.
        if st.promisc {
            let _ = self
                .ctl
                .membership(self.ifindex, libc::PACKET_MR_PROMISC, false);
            st.promisc = false;
        }
        if st.allmulti {
            let _ = self
                .ctl
                .membership(self.ifindex, libc::PACKET_MR_ALLMULTI, false);
            st.allmulti = false;
        }
        st.rx_socks.clear();
        st.rx_q.clear();
        st.tx_q.clear();
        Ok(())
    }

    fn link(&self) -> Link {
        if !self.present() {
            return Link::default();
        }
        self.netif.link()
    }

    fn mac_addr(&self) -> MacAddr {
        let mut st = self.lock();
        if self.present()
            && let Ok(mac) = self.netif.mac()
        {
            st.mac = mac;
        }
        st.mac
    }

    fn set_mac_addr(&self, mac: MacAddr) -> DriverResult<()> {
        let mut st = self.lock();
        self.netif.set_mac(mac).map_err(io_err(format!(
            "setting the MAC address of '{}' (SIOCSIFHWADDR)",
            self.iface()
        )))?;
        st.mac = mac;
        Ok(())
    }

    fn set_promiscuous(&self, on: bool) -> DriverResult<()> {
        let mut st = self.lock();
        if st.promisc != on {
            self.membership(libc::PACKET_MR_PROMISC, on, "promiscuous mode")?;
            st.promisc = on;
        }
        Ok(())
    }

    fn promiscuous(&self) -> bool {
        self.lock().promisc
    }

    fn set_allmulticast(&self, on: bool) -> DriverResult<()> {
        let mut st = self.lock();
        if st.allmulti != on {
            self.membership(libc::PACKET_MR_ALLMULTI, on, "all-multicast mode")?;
            st.allmulti = on;
        }
        Ok(())
    }

    fn allmulticast(&self) -> bool {
        self.lock().allmulti
    }

    fn set_mtu(&self, mtu: u16) -> DriverResult<()> {
        let mut st = self.lock();
        self.netif.set_mtu(mtu as u32).map_err(io_err(format!(
            "setting the MTU of '{}' to {mtu} (SIOCSIFMTU)",
            self.iface()
        )))?;
        st.mtu = mtu;
        Ok(())
    }

    fn mtu(&self) -> u16 {
        let mut st = self.lock();
        if self.present()
            && let Ok(mtu) = self.netif.mtu()
        {
            st.mtu = mtu.min(u16::MAX as u32) as u16;
        }
        st.mtu
    }

    fn xstats(&self) -> Vec<(String, u64)> {
        self.current_xstats(&self.lock())
    }
}
