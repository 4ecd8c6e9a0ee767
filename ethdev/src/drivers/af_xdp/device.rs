//! The `net_af_xdp` device: its interface, the XDP program and XSKMAP, the sockets of its
//! queue pairs, and the control operations (link, MAC, MTU, promiscuous mode, stats and
//! xstats).

#![forbid(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use rpdk_mbuf::net::MacAddr;

use super::devargs::{Mode, Params};
use super::elf::XdpObject;
use super::rx::AfXdpRx;
use super::socket::{QueueSocket, SocketCfg};
use super::tx::{AfXdpTx, TxLink};
use super::umem::{Umem, XDP_PACKET_HEADROOM};
use super::{DRIVER, LOG, bpf, program, share};
use crate::config::{DevInfo, EthConf, Link};
use crate::driver::{
    DriverResult, EthDevice, RxQueueOps, RxSetup, SharedQueue, TxQueueOps, TxSetup,
};
use crate::drivers::netif::NetIf;
use crate::error::DriverError;
use crate::stats::QueueCounters;

/// Ring entries when the queue setup asks for the default (DPDK's
/// `XSK_RING_CONS__DEFAULT_NUM_DESCS`).
const DEFAULT_RING: u32 = 2048;
/// Ethernet header and a VLAN tag: a frame's length over its MTU.
const L2_OVERHEAD: u32 = 18;
const MIN_MTU: u16 = 68;

/// An RX queue's socket and counters, for start and stats.
struct RxEntry {
    sock: Weak<QueueSocket>,
    counters: Arc<QueueCounters>,
    /// The kernel's drop count already added to `missed`.
    missed_seen: u64,
}

/// The program attached: dropping the link detaches it.
struct Attached {
    _link: OwnedFd,
}

#[derive(Default)]
struct State {
    promisc_set: bool,
    mac: MacAddr,
    mtu: u16,
    rx: Vec<Option<RxEntry>>,
    tx_links: Vec<Arc<TxLink>>,
    /// The XSKMAP and the built-in program, made at the first start.
    map: Option<OwnedFd>,
    prog: Option<OwnedFd>,
    /// The array maps of a user program's global data.
    data_maps: Vec<OwnedFd>,
    attached: Option<Attached>,
    /// The mode of the last attach, for xstats after stop.
    last_mode: Option<Mode>,
    /// The sockets of queue pairs handed to a secondary process, kept open while their
    /// queue objects are elsewhere; the next RX setup of the queue continues on it.
    lent: Vec<Option<Arc<QueueSocket>>>,
}

/// A port on a kernel interface through AF_XDP sockets.
pub(super) struct AfXdpDevice {
    params: Params,
    /// The user's program (`xdp_prog`), read at probe.
    object: Option<XdpObject>,
    ifindex: u32,
    netif: NetIf,
    page: usize,
    state: Mutex<State>,
}

fn io_err(what: String) -> impl FnOnce(io::Error) -> DriverError {
    move |e| DriverError::io(what, e)
}

impl AfXdpDevice {
    /// Opens interface `params.iface` of this thread's network namespace: it must exist, carry
    /// Ethernet frames and have the queues asked for.
    pub fn open(
        params: Params,
        object: Option<XdpObject>,
        page: usize,
    ) -> Result<AfXdpDevice, String> {
        let iface = &params.iface;
        let netif =
            NetIf::new(iface).map_err(|e| format!("interface '{iface}' (key 'iface'): {e}"))?;
        let ifindex = netif.index().map_err(|e| {
            if e.raw_os_error() == Some(libc::ENODEV) {
                format!("interface '{iface}' (key 'iface') does not exist")
            } else {
                format!("interface '{iface}' (key 'iface'): {e}")
            }
        })?;
        let (hwtype, mac) = netif
            .hwaddr()
            .map_err(|e| format!("reading the MAC address of '{iface}': {e}"))?;
        if hwtype != libc::ARPHRD_ETHER {
            return Err(format!(
                "interface '{iface}' (key 'iface') does not carry Ethernet frames (hardware type {hwtype})"
            ));
        }
        let end = params.start_queue + params.queue_count as u32;
        if let Some(n) = netif.rx_queues()
            && n > 0
            && end > n
        {
            return Err(format!(
                "queues {}..{end} (start_queue {}, queue_count {}) are out of range: '{iface}' has {n} RX queue(s)",
                params.start_queue, params.start_queue, params.queue_count
            ));
        }
        let mtu = netif.mtu().unwrap_or(1500).min(u16::MAX as u32) as u16;
        Ok(AfXdpDevice {
            state: Mutex::new(State {
                mac,
                mtu,
                ..State::default()
            }),
            params,
            object,
            ifindex,
            netif,
            page,
        })
    }

    /// The interface's index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn iface(&self) -> &str {
        &self.params.iface
    }

    fn present(&self) -> bool {
        self.netif.index().ok() == Some(self.ifindex)
    }

    fn max_frame(&self) -> u32 {
        self.page as u32 - XDP_PACKET_HEADROOM
    }

    /// The XSKMAP, made at the first start.
    /// RX queue setup of a queue pair handed to a secondary process: the same socket, its
    /// rings from where the last driver left them, and the record of lent mbufs it parked
    /// (or, if it died driving the queue, the record as it stood).
    fn rx_back(
        &self,
        st: &mut State,
        sock: Arc<QueueSocket>,
        ring: u32,
        s: RxSetup<'_>,
    ) -> DriverResult<Box<dyn RxQueueOps>> {
        if ring != sock.ring_size
            || !std::ptr::eq(
                sock.umem.pool().mempool().as_raw(),
                s.pool.mempool().as_raw(),
            )
        {
            return Err(DriverError::Invalid(format!(
                "RX queue {} is back from a secondary process with rings of {} entries on pool \
                 '{}': set it up the same way (or reconfigure the port for another socket)",
                s.queue,
                sock.ring_size,
                sock.umem.pool().mempool().name()
            )));
        }
        let (rings, lent) = sock
            .rx_side()
            .map_err(io_err(format!("RX queue {}: taking it back", s.queue)))?;
        log::debug!(
            target: LOG,
            "port {}: RX queue {} back on its socket, {} mbufs with the kernel",
            s.port,
            s.queue,
            lent.count()
        );
        if let Some(slot) = st.rx.get_mut(s.queue as usize) {
            let missed_seen = slot.as_ref().map(|e| e.missed_seen).unwrap_or(0);
            *slot = Some(RxEntry {
                sock: Arc::downgrade(&sock),
                counters: s.counters.clone(),
                missed_seen,
            });
        }
        let mut rx = AfXdpRx {
            rings,
            lent,
            xsk: sock,
            target: ring / 2,
            port: s.port,
            busy: self.params.busy_budget > 0,
            counters: s.counters,
        };
        rx.fill_to_target();
        Ok(Box::new(rx))
    }

    /// Hands side `rx` of queue pair `queue` to a secondary process.
    fn share(&self, rx: bool, queue: u16) -> DriverResult<SharedQueue> {
        let mut st = self.lock();
        let dir = if rx { "RX" } else { "TX" };
        let sock = st
            .rx
            .get(queue as usize)
            .and_then(|e| e.as_ref())
            .and_then(|e| e.sock.upgrade())
            .ok_or_else(|| {
                DriverError::Invalid(format!("{dir} queue {queue}: its socket is not set up"))
            })?;
        let fd = sock
            .dup()
            .map_err(io_err(format!("duplicating queue {queue}'s socket")))?;
        sock.set_lent(rx);
        if !rx {
            sock.park_empty_if_none(false)
                .map_err(DriverError::Invalid)?;
        }
        let (base, len) = sock.umem.region();
        let args = share::encode(&share::Desc {
            rx,
            ring_size: sock.ring_size,
            queue: sock.queue,
            ino: sock.ino,
            page: self.page as u64,
            base: base as u64,
            len: len as u64,
            need_wakeup: self.params.need_wakeup,
            busy: self.params.busy_budget > 0,
            pool: sock.umem.pool().mempool().name().to_string(),
        });
        if let Some(slot) = st.lent.get_mut(queue as usize) {
            *slot = Some(sock);
        }
        Ok(SharedQueue {
            args,
            fds: vec![fd],
        })
    }

    fn map(&self, st: &mut State) -> DriverResult<()> {
        if st.map.is_none() {
            let entries = self.params.start_queue + self.params.queue_count as u32;
            st.map = Some(
                bpf::xskmap("xsks_map", entries)
                    .map_err(|e| self.bpf_err("creating the XSKMAP", e))?,
            );
        }
        Ok(())
    }

    fn bpf_err(&self, what: &str, e: io::Error) -> DriverError {
        match e.raw_os_error() {
            Some(libc::EPERM | libc::EACCES) => DriverError::io(
                format!(
                    "{what} for '{}': not permitted (XDP needs CAP_BPF and CAP_NET_ADMIN: run as root)",
                    self.iface()
                ),
                e,
            ),
            _ => DriverError::io(format!("{what} for '{}'", self.iface()), e),
        }
    }

    /// Attaches the built-in program in the mode asked for (native first, then generic, by
    /// default).
    fn attach(&self, st: &mut State) -> DriverResult<()> {
        let Some(map) = &st.map else {
            return Err(DriverError::Invalid(
                "no XSKMAP to attach a program to".into(),
            ));
        };
        if st.prog.is_none() {
            let prog = match &self.object {
                None => {
                    let insns = program::redirect_to_xsks(map.as_raw_fd());
                    bpf::load_xdp("rpdk_xsk_redir", &insns, "Dual MIT/GPL")
                        .map_err(|e| self.bpf_err("loading the XDP program", e))?
                }
                Some(obj) => {
                    let path = self.params.xdp_prog.as_deref().unwrap_or("");
                    let mut fds = Vec::new();
                    for d in &obj.data {
                        let m = bpf::data_map(&d.name, d.bytes.len() as u32).map_err(|e| {
                            self.bpf_err(
                                &format!("making the {} map of xdp_prog '{path}'", d.name),
                                e,
                            )
                        })?;
                        if !d.bytes.is_empty() {
                            bpf::map_set_bytes(&m, &d.bytes).map_err(|e| {
                                self.bpf_err(
                                    &format!("writing the {} map of xdp_prog '{path}'", d.name),
                                    e,
                                )
                            })?;
                        }
                        fds.push(m);
                    }
                    let raw: Vec<i32> = fds.iter().map(|f| f.as_raw_fd()).collect();
                    let insns = obj.relocated(map.as_raw_fd(), &raw);
                    let p = bpf::load_xdp(&obj.name, &insns, &obj.license).map_err(|e| {
                        self.bpf_err(
                            &format!("loading program '{}' of xdp_prog '{path}'", obj.name),
                            e,
                        )
                    })?;
                    st.data_maps = fds;
                    p
                }
            };
            st.prog = Some(prog);
        }
        let Some(prog) = &st.prog else {
            return Err(DriverError::Invalid("no program".into()));
        };
        let tries: &[(Mode, u32)] = match self.params.mode {
            Mode::Native => &[(Mode::Native, bpf::XDP_FLAGS_DRV_MODE)],
            Mode::Generic => &[(Mode::Generic, bpf::XDP_FLAGS_SKB_MODE)],
            Mode::Auto => &[
                (Mode::Native, bpf::XDP_FLAGS_DRV_MODE),
                (Mode::Generic, bpf::XDP_FLAGS_SKB_MODE),
            ],
        };
        let mut last = None;
        for &(mode, flags) in tries {
            match bpf::link_xdp(prog, self.ifindex, flags) {
                Ok(link) => {
                    log::info!(target: LOG, "'{}': XDP program attached in {mode:?} mode", self.iface());
                    st.attached = Some(Attached { _link: link });
                    st.last_mode = Some(mode);
                    return Ok(());
                }
                // The driver has no native XDP: generic mode next, when allowed.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::EINVAL)) => {
                    last = Some((mode, e));
                }
                Err(e) => return Err(self.link_err(mode, e)),
            }
        }
        let (mode, e) =
            last.unwrap_or((self.params.mode, io::Error::from_raw_os_error(libc::EINVAL)));
        Err(self.link_err(mode, e))
    }

    fn link_err(&self, mode: Mode, e: io::Error) -> DriverError {
        let iface = self.iface();
        match e.raw_os_error() {
            Some(libc::EBUSY | libc::EEXIST) => DriverError::io(
                format!(
                    "attaching the XDP program to '{iface}': the interface has an XDP program \
                     already (another application's; `ip link set dev {iface} xdp off` removes \
                     one attached through netlink)"
                ),
                e,
            ),
            Some(libc::EOPNOTSUPP | libc::EINVAL) if mode == Mode::Native => DriverError::io(
                format!(
                    "attaching the XDP program to '{iface}' in native mode: the driver has no native XDP (try mode=generic)"
                ),
                e,
            ),
            _ => self.bpf_err(&format!("attaching the XDP program in {mode:?} mode"), e),
        }
    }

    fn current_xstats(&self, st: &State) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for (q, e) in st.rx.iter().enumerate() {
            let Some(sock) = e.as_ref().and_then(|e| e.sock.upgrade()) else {
                continue;
            };
            let k = sock.statistics().unwrap_or(libc::xdp_statistics {
                rx_dropped: 0,
                rx_invalid_descs: 0,
                tx_invalid_descs: 0,
                rx_ring_full: 0,
                rx_fill_ring_empty_descs: 0,
                tx_ring_empty_descs: 0,
            });
            let x = &sock.xstats;
            let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
            out.extend([
                (format!("rx_q{q}_xdp_dropped"), k.rx_dropped),
                (format!("rx_q{q}_ring_full"), k.rx_ring_full),
                (
                    format!("rx_q{q}_fill_ring_empty"),
                    k.rx_fill_ring_empty_descs,
                ),
                (format!("rx_q{q}_invalid_descs"), k.rx_invalid_descs),
                (format!("rx_q{q}_wakeups"), get(&x.rx_wakeups)),
                (format!("tx_q{q}_invalid_descs"), k.tx_invalid_descs),
                (format!("tx_q{q}_ring_empty"), k.tx_ring_empty_descs),
                (format!("tx_q{q}_wakeups"), get(&x.tx_wakeups)),
                (format!("tx_q{q}_copies"), get(&x.tx_copies)),
                (format!("tx_q{q}_ring_full"), get(&x.tx_ring_full)),
                (format!("q{q}_zero_copy"), sock.zerocopy as u64),
            ]);
        }
        out.push((
            "xdp_native".to_string(),
            (st.last_mode == Some(Mode::Native)) as u64,
        ));
        out
    }
}

impl EthDevice for AfXdpDevice {
    fn info(&self) -> DevInfo {
        let max_frame = self.max_frame();
        DevInfo {
            if_index: Some(self.ifindex),
            min_mtu: MIN_MTU,
            max_mtu: (max_frame - L2_OVERHEAD) as u16,
            max_rx_pktlen: max_frame,
            max_rx_queues: self.params.queue_count,
            max_tx_queues: self.params.queue_count,
            max_mac_addrs: 1,
            // The NIC's queues: the interface spreads flows over them by its own hash, which
            // the software stage trusts (it spreads only over queues beyond `queue_count`).
            flow_type_rss_offloads: crate::rss::RssHf::IP
                | crate::rss::RssHf::TCP
                | crate::rss::RssHf::UDP
                | crate::rss::RssHf::SCTP,
            ..DevInfo::new(DRIVER)
        }
    }

    fn configure(&self, nb_rx: u16, nb_tx: u16, conf: &EthConf) -> DriverResult<()> {
        if nb_rx != nb_tx {
            return Err(DriverError::Invalid(format!(
                "{nb_rx} RX and {nb_tx} TX queues: an AF_XDP socket is one queue pair, so \
                 net_af_xdp takes as many of each"
            )));
        }
        if let Some(mtu) = conf.mtu
            && mtu != self.mtu()
        {
            self.set_mtu(mtu)?;
        }
        let mut st = self.lock();
        st.rx = (0..nb_rx).map(|_| None).collect();
        st.lent = (0..nb_rx).map(|_| None).collect();
        st.tx_links = (0..nb_tx).map(|_| Arc::new(TxLink::default())).collect();
        Ok(())
    }

    fn rx_queue_setup(&self, s: RxSetup<'_>) -> DriverResult<Box<dyn RxQueueOps>> {
        let p = &self.params;
        let ring = if s.nb_desc == 0 {
            DEFAULT_RING
        } else {
            s.nb_desc as u32
        };
        if !ring.is_power_of_two() {
            return Err(DriverError::Invalid(format!(
                "{ring} descriptors: AF_XDP rings have a power of two"
            )));
        }
        let mut st = self.lock();
        // Back from a secondary process: the same socket (a queue pair whose TX side alone
        // was lent gets a new one, below).
        if let Some(sock) = st.lent.get(s.queue as usize).cloned().flatten()
            && sock.is_lent(true)
        {
            return self.rx_back(&mut st, sock, ring, s);
        }
        // A live socket of the same pool, whose UMEM this one shares with shared_umem=1.
        let share = if p.shared_umem {
            st.rx
                .iter()
                .flatten()
                .filter_map(|e| e.sock.upgrade())
                .find(|o| std::ptr::eq(o.umem.pool().mempool().as_raw(), s.pool.mempool().as_raw()))
        } else {
            None
        };
        let umem = match &share {
            Some(o) => o.umem.clone(),
            None => Arc::new(Umem::new(s.pool, self.page).map_err(DriverError::Invalid)?),
        };
        let mtu = self.netif.mtu().unwrap_or(st.mtu as u32);
        if mtu + L2_OVERHEAD > umem.max_frame() {
            return Err(DriverError::Invalid(format!(
                "frames of '{}' (MTU {mtu}) do not fit the pool's buffers: the kernel writes at \
                 most {} bytes of frame into one; use larger mbufs or a smaller MTU",
                self.iface(),
                umem.max_frame()
            )));
        }
        let queue = p.start_queue + s.queue as u32;
        let (sock, rings) = QueueSocket::open(
            umem.clone(),
            &SocketCfg {
                ifindex: self.ifindex,
                queue,
                ring_size: ring,
                force_copy: p.force_copy,
                need_wakeup: p.need_wakeup,
                busy_budget: p.busy_budget,
                share: share.as_deref(),
                port: s.port,
                qid: s.queue,
            },
        )
        .map_err(io_err(format!("'{}' queue {queue}", self.iface())))?;
        log::debug!(
            target: LOG,
            "port {}: RX queue {} on '{}' queue {queue}, {} mode, rings of {ring}",
            s.port,
            s.queue,
            self.iface(),
            if sock.zerocopy { "zero-copy" } else { "copy" }
        );
        if let Some(slot) = st.rx.get_mut(s.queue as usize) {
            *slot = Some(RxEntry {
                sock: Arc::downgrade(&sock),
                counters: s.counters.clone(),
                missed_seen: sock
                    .statistics()
                    .map(|k| k.rx_dropped + k.rx_ring_full)
                    .unwrap_or(0),
            });
        }
        let mut rx = AfXdpRx {
            rings,
            lent: umem.lent(),
            xsk: sock,
            target: ring / 2,
            port: s.port,
            busy: p.busy_budget > 0,
            counters: s.counters,
        };
        rx.fill_to_target();
        Ok(Box::new(rx))
    }

    fn tx_queue_setup(&self, s: TxSetup<'_>) -> DriverResult<Box<dyn TxQueueOps>> {
        let st = self.lock();
        let link = st.tx_links.get(s.queue as usize).cloned().ok_or_else(|| {
            DriverError::Invalid(format!("TX queue {} is not configured", s.queue))
        })?;
        Ok(Box::new(AfXdpTx::new(
            link,
            self.params.need_wakeup,
            self.params.busy_budget > 0,
            s.counters,
        )))
    }

    fn share_rx_queue(&self, queue: u16) -> DriverResult<SharedQueue> {
        self.share(true, queue)
    }

    fn share_tx_queue(&self, queue: u16) -> DriverResult<SharedQueue> {
        self.share(false, queue)
    }

    fn start(&self) -> DriverResult<()> {
        let mut st = self.lock();
        let mut socks = Vec::new();
        for (q, e) in st.rx.iter().enumerate() {
            let sock = e.as_ref().and_then(|e| e.sock.upgrade()).ok_or_else(|| {
                DriverError::Invalid(format!(
                    "RX queue {q} is not set up (its socket serves TX queue {q} too)"
                ))
            })?;
            socks.push(sock);
        }
        for (link, sock) in st.tx_links.iter().zip(&socks) {
            link.set(sock.clone());
        }
        self.map(&mut st)?;
        if let Some(map) = &st.map {
            for sock in &socks {
                bpf::map_set(map, sock.queue, sock.fd()).map_err(|e| {
                    self.bpf_err(
                        &format!("putting queue {}'s socket in the XSKMAP", sock.queue),
                        e,
                    )
                })?;
            }
        }
        if st.attached.is_none() {
            self.attach(&mut st)?;
        }
        Ok(())
    }

    fn stop(&self) -> DriverResult<()> {
        let mut st = self.lock();
        // Dropping the link detaches the program: the interface is the kernel's again.
        st.attached = None;
        if let Some(map) = &st.map {
            for q in 0..st.rx.len() as u32 {
                let _ = bpf::map_clear(map, self.params.start_queue + q);
            }
        }
        Ok(())
    }

    fn close(&self) -> DriverResult<()> {
        let mut st = self.lock();
        st.attached = None;
        st.prog = None;
        st.data_maps.clear();
        st.map = None;
        st.rx.clear();
        st.lent.clear();
        st.tx_links.clear();
        if st.promisc_set {
            let _ = self.netif.change_flags(0, libc::IFF_PROMISC as u32);
            st.promisc_set = false;
        }
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
        let (set, clear) = if on {
            (libc::IFF_PROMISC as u32, 0)
        } else {
            (0, libc::IFF_PROMISC as u32)
        };
        self.netif.change_flags(set, clear).map_err(io_err(format!(
            "turning promiscuous mode {} on '{}'",
            if on { "on" } else { "off" },
            self.iface()
        )))?;
        st.promisc_set = on;
        Ok(())
    }

    fn promiscuous(&self) -> bool {
        self.netif
            .flags()
            .is_ok_and(|f| f & libc::IFF_PROMISC as u32 != 0)
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

    fn refresh_stats(&self) {
        let mut st = self.lock();
        for e in st.rx.iter_mut().flatten() {
            if let Some(sock) = e.sock.upgrade()
                && let Ok(k) = sock.statistics()
            {
                let missed = k.rx_dropped + k.rx_ring_full;
                // The RX queue never counts `missed` itself: this is its one writer.
                e.counters.add_missed(missed.wrapping_sub(e.missed_seen));
                e.missed_seen = missed;
            }
        }
    }

    fn xstats(&self) -> Vec<(String, u64)> {
        self.current_xstats(&self.lock())
    }

    fn xstat_is_counter(&self, name: &str) -> bool {
        // Modes, not counts: a reset leaves them.
        !name.ends_with("zero_copy") && name != "xdp_native"
    }
}
