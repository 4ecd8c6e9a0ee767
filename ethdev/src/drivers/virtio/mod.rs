//! `net_virtio`: virtio-net devices (virtio spec v1.2 §5.1) over the modern PCI transport
//! (§4.1), driven from userspace over VFIO or UIO (DPDK's `drivers/net/virtio`). QEMU's
//! `-device virtio-net-pci,disable-legacy=on` is one; legacy-only (0.9.5) devices are refused.
//!
//! The port is named after the PCI address. Probe finds the virtio structures through the
//! vendor capabilities (common configuration, notification, ISR, device configuration),
//! negotiates features and reads the MAC address and the number of queue pairs. Each
//! `start` resets the device and brings it up again (§3.1.1), programming every queue set up,
//! so a restart never leaves the device with memory of a queue that is gone; `stop` resets it
//! (the device stops using the rings) and negotiates again, leaving it at FEATURES_OK with no
//! queue enabled; `close` leaves it reset.
//!
//! Features taken when offered: VERSION_1 (required), ACCESS_PLATFORM (the device goes through
//! the IOMMU: needed for IOVAs that are not physical addresses), MAC, STATUS (link state),
//! MRG_RXBUF (frames over several buffers, chained), CTRL_VQ with CTRL_RX (promiscuous and
//! all-multicast), CTRL_MAC_ADDR (setting the MAC), MQ (queue pairs, up to what the device
//! has), CSUM (TX checksum offload: the mbuf's `TX_TCP_CKSUM`/`TX_UDP_CKSUM` with `l2_len` and
//! `l3_len`), GUEST_CSUM (RX: frames the device marks valid get `RX_L4_CKSUM_GOOD`; partial
//! checksums are completed in software), SPEED_DUPLEX. Not taken: EVENT_IDX (notifications
//! are suppressed through the ring flags), INDIRECT_DESC, RING_PACKED (split rings only), the
//! GSO/TSO features, RSS and hash reports (the port's software stage does RSS), MTU.
//!
//! Queues are split virtqueues of a power-of-2 size up to the device's (QEMU: 256 by
//! default). Interrupts are never asked for; the available index is written once per burst and
//! the device notified at most once per burst, when it asks (see `rxtx.rs`).
//!
//! A secondary process can drive the queues (`share.rs`): the primary passes the
//! notification BAR; the virtqueues stay the primary's device's memory, the mbufs of the
//! descriptors are in slots of a memzone, and the queue's indices and generation in its record
//! of the shared port data.

mod ctrl;
mod rxtx;
mod share;
mod transport;
mod virtqueue;

pub(crate) use share::{attach_rx, attach_tx};

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use rpdk_eal::bus::Devargs;
use rpdk_eal::bus::{DriverError as BusError, PCI_DRIVERS, PciAddr, PciDriver, PciHandle, PciId};
use rpdk_eal::memzone::Memzone;
use rpdk_mbuf::net::MacAddr;

use crate::config::{DescLim, DevInfo, EthConf, Link, rx_offload, tx_offload};
use crate::driver::{
    DriverResult, EthDevice, RxQueueOps, RxSetup, SharedQueue, TxQueueOps, TxSetup,
};
use crate::drivers::slots::MbufSlots;
use crate::error::DriverError;
use crate::shared::QueueWords;
use ctrl::CtrlQueue;
use rxtx::{NET_HDR_LEN, RxQueue, TX_HDR_STRIDE, TxQueue};
use transport::{Transport, status};
use virtqueue::{GENERATION, Notifier, QueueShared, Vring};

/// The driver's name.
pub const DRIVER: &str = "net_virtio";

const VIRTIO: u16 = 0x1af4;
/// virtio-net: the transitional id and the modern one (0x1040 + device type 1, §4.1.2).
const IDS: &[PciId] = &[
    PciId {
        vendor: VIRTIO,
        device: 0x1000,
    },
    PciId {
        vendor: VIRTIO,
        device: 0x1041,
    },
];

#[linkme::distributed_slice(PCI_DRIVERS)]
static NET_VIRTIO: PciDriver = PciDriver {
    name: DRIVER,
    id_table: IDS,
    keys: &[],
    probe,
    remove,
};

/// Feature bits (§5.1.3 for the network device, §6 for the reserved ones).
mod feature {
    pub const CSUM: u64 = 1 << 0;
    pub const GUEST_CSUM: u64 = 1 << 1;
    pub const MAC: u64 = 1 << 5;
    pub const MRG_RXBUF: u64 = 1 << 15;
    pub const STATUS: u64 = 1 << 16;
    pub const CTRL_VQ: u64 = 1 << 17;
    pub const CTRL_RX: u64 = 1 << 18;
    pub const MQ: u64 = 1 << 22;
    pub const CTRL_MAC_ADDR: u64 = 1 << 23;
    pub const VERSION_1: u64 = 1 << 32;
    pub const ACCESS_PLATFORM: u64 = 1 << 33;
    pub const SPEED_DUPLEX: u64 = 1 << 63;
    /// What the driver takes when the device offers it.
    pub const WANTED: u64 = CSUM
        | GUEST_CSUM
        | MAC
        | MRG_RXBUF
        | STATUS
        | CTRL_VQ
        | CTRL_RX
        | MQ
        | CTRL_MAC_ADDR
        | VERSION_1
        | ACCESS_PLATFORM
        | SPEED_DUPLEX;
}

/// The network device's configuration fields (§5.1.4), byte offsets.
mod netcfg {
    pub const MAC: usize = 0;
    pub const STATUS: usize = 6;
    pub const MAX_VIRTQUEUE_PAIRS: usize = 8;
    pub const SPEED: usize = 12;
    pub const DUPLEX: usize = 16;
    /// `status` bits.
    pub const LINK_UP: u16 = 1;
}

/// The features, after negotiation, with the checks the driver needs (pure: unit-tested).
fn negotiate(offered: u64) -> Result<u64, String> {
    if offered & feature::VERSION_1 == 0 {
        return Err(format!(
            "the device offers no VERSION_1 (features {offered:#x}): a legacy virtio device, \
             which net_virtio does not drive (QEMU: disable-legacy=on)"
        ));
    }
    let mut f = offered & feature::WANTED;
    // The features that depend on another (§5.1.3.1).
    if f & feature::CTRL_VQ == 0 {
        f &= !(feature::CTRL_RX | feature::MQ | feature::CTRL_MAC_ADDR);
    }
    Ok(f)
}

fn probe(dev: PciHandle, _args: &Devargs) -> Result<(), BusError> {
    let name = dev.info().addr.to_string();
    let socket = dev
        .info()
        .numa_node
        .unwrap_or_else(|| rpdk_eal::lcore::socket_id().unwrap_or(0));
    let device = VirtioNet::new(dev)?;
    let l = &device.tp.layout;
    log::debug!(
        target: "pmd.net.virtio",
        "{name}: common {:?}, notify {:?} x{}, ISR {:?}, device {:?}",
        l.common, l.notify, l.notify_multiplier, l.isr, l.device
    );
    log::info!(
        target: "pmd.net.virtio",
        "{name}: virtio-net MAC {}, {} queue pair(s), features {:#x}",
        device.mac_addr(),
        device.max_pairs,
        device.features
    );
    crate::port::allocate(&name, Box::new(device), socket)?;
    Ok(())
}

fn remove(addr: &PciAddr) -> Result<(), BusError> {
    Ok(crate::port::release_by_name(&addr.to_string())?)
}

struct QueueSlot {
    q: Arc<QueueShared>,
}

struct State {
    mac: MacAddr,
    promisc: bool,
    allmulti: bool,
    mtu: u16,
    pairs: u16,
    started: bool,
    rx: Vec<Option<QueueSlot>>,
    tx: Vec<Option<QueueSlot>>,
    ctrl: Option<CtrlQueue>,
    /// RX buffer bytes for frames (after the header), once an RX queue is set up.
    rx_room: Option<u32>,
    seq: u32,
}

struct VirtioNet {
    tp: Transport,
    features: u64,
    max_pairs: u16,
    /// The device's size of queue 0 (read once: selecting a queue is a register write).
    ring_max: u16,
    state: Mutex<State>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

const CTRL_RING: u16 = 64;

impl VirtioNet {
    fn new(dev: PciHandle) -> Result<VirtioNet, String> {
        let name = dev.info().addr.to_string();
        let tp = Transport::new(dev)?;
        tp.reset().map_err(|e| format!("{name}: {e}"))?;
        tp.set_status(status::ACKNOWLEDGE | status::DRIVER);
        let features = negotiate(tp.device_features()).map_err(|e| format!("{name}: {e}"))?;
        tp.init(features).map_err(|e| format!("{name}: {e}"))?;
        let cfg16 = |off: usize| {
            tp.read_device_config(|b| u16::from_le_bytes([b(off), b(off + 1)]))
                .unwrap_or(0)
        };
        let mac = if features & feature::MAC != 0 {
            tp.read_device_config(|b| MacAddr(std::array::from_fn(|i| b(netcfg::MAC + i))))
                .ok_or_else(|| format!("{name}: MAC offered but no device configuration"))?
        } else {
            crate::drivers::next_mac()
        };
        let max_pairs = if features & feature::MQ != 0 {
            cfg16(netcfg::MAX_VIRTQUEUE_PAIRS).max(1)
        } else {
            1
        };
        let needed = 2 * max_pairs + u16::from(features & feature::CTRL_VQ != 0);
        if tp.num_queues() < needed {
            return Err(format!(
                "{name}: the device has {} virtqueues, {needed} are needed for {max_pairs} \
                 queue pair(s)",
                tp.num_queues()
            ));
        }
        let mut rx = Vec::new();
        let mut tx = Vec::new();
        rx.resize_with(max_pairs as usize, || None);
        tx.resize_with(max_pairs as usize, || None);
        let ring_max = tp.queue_max_size(0);
        let dev = VirtioNet {
            tp,
            features,
            max_pairs,
            ring_max,
            state: Mutex::new(State {
                mac,
                // QEMU's device starts promiscuous; the port's state starts off, as DPDK's.
                promisc: false,
                allmulti: false,
                mtu: 1500,
                pairs: 1,
                started: false,
                rx,
                tx,
                ctrl: None,
                rx_room: None,
                seq: 0,
            }),
        };
        if features & feature::CTRL_VQ != 0 {
            let index = 2 * max_pairs;
            let ring = dev.ring(index, CTRL_RING, ctrl::EXTRA, "ctrl")?;
            let q = dev.shared(ring, index, QueueWords::local(), None)?;
            lock(&dev.state).ctrl = Some(CtrlQueue {
                notifier: dev.notifier(),
                q,
                avail_idx: 0,
                last_used: 0,
                commands: 0,
            });
        }
        // The device stays at FEATURES_OK until start: its queues exist (QEMU's has its
        // queue pairs beyond the first only while MQ is negotiated) and none is enabled.
        Ok(dev)
    }

    fn name(&self) -> String {
        self.tp.handle().info().addr.to_string()
    }

    fn has(&self, f: u64) -> bool {
        self.features & f == f
    }

    fn notifier(&self) -> Notifier {
        Notifier {
            dev: self.tp.handle().clone(),
            bar: self.tp.layout.notify.bar as usize,
        }
    }

    /// A ring for virtqueue `index`, of `size` descriptors (at most the device's).
    fn ring(&self, index: u16, size: u16, extra: usize, what: &str) -> Result<Vring, String> {
        let max = self.tp.queue_max_size(index);
        if max == 0 {
            return Err(format!("{}: virtqueue {index} does not exist", self.name()));
        }
        let size = size.min(max);
        let seq = {
            let mut s = lock(&self.state);
            s.seq += 1;
            s.seq
        };
        let socket = self.tp.handle().info().numa_node.unwrap_or(0);
        Vring::new(
            self.tp.handle(),
            &format!("virtio_{}_{what}_{seq}", self.tp.handle().info().addr),
            size,
            extra,
            socket,
        )
        .map_err(|e| e.to_string())
    }

    /// The queue's shared state, with its notification register (which the device tells
    /// through `queue_notify_off` of the selected queue).
    fn shared(
        &self,
        ring: Vring,
        index: u16,
        words: QueueWords,
        slots: Option<Memzone>,
    ) -> Result<Arc<QueueShared>, String> {
        let at = self.tp.notify_offset(index)?;
        Ok(QueueShared::new(ring, index, at, words, slots))
    }

    /// The mbuf slots of a new queue on `ring`.
    fn slots(&self, ring: &Vring) -> DriverResult<MbufSlots> {
        let name = format!("{}_m", ring.zone().map_or("virtio", |z| z.name()));
        let socket = self.tp.handle().info().numa_node.unwrap_or(0);
        MbufSlots::new(&name, ring.size() as usize, socket)
    }

    /// Queue `q`, lent to a secondary process and back: its slots, owned again, and whether
    /// its driver there died driving it.
    fn back(&self, q: &QueueShared, what: &str) -> DriverResult<(MbufSlots, bool)> {
        let parked = q.words.take();
        q.hand_over.store(false, Ordering::Release);
        let zone = q.slots_zone.clone().expect("a shared queue has slots");
        let slots = MbufSlots::attach(zone, q.ring.size() as usize, true)?;
        if !parked {
            log::warn!(
                target: "pmd.net.virtio",
                "{}: {what} is back from a process that died driving it: taking the ring \
                 over from its last recorded burst",
                self.name()
            );
        }
        Ok((slots, !parked))
    }

    fn rx_queue(&self, q: Arc<QueueShared>, slots: MbufSlots, setup: &RxSetup<'_>) -> RxQueue {
        RxQueue::new(
            q,
            self.notifier(),
            slots,
            setup.pool.clone(),
            setup.port,
            setup.counters.clone(),
            self.has(feature::GUEST_CSUM),
        )
    }

    fn tx_queue(
        &self,
        q: Arc<QueueShared>,
        slots: MbufSlots,
        counters: Arc<crate::stats::QueueCounters>,
    ) -> TxQueue {
        TxQueue::new(q, self.notifier(), slots, counters, self.has(feature::CSUM))
    }

    /// A queue set up here before and lent since, of `size` descriptors.
    fn lent(slot: &Option<QueueSlot>, size: u16) -> Option<Arc<QueueShared>> {
        slot.as_ref()
            .map(|s| s.q.clone())
            .filter(|q| q.hand_over.load(Ordering::Acquire) && q.ring.size() == size)
    }

    fn program(&self, q: &QueueShared) -> Result<(), String> {
        q.ring.reset();
        self.tp.setup_queue(
            q.index,
            q.ring.size(),
            q.ring.desc_iova(),
            q.ring.avail_iova(),
            q.ring.used_iova(),
        );
        Ok(())
    }

    /// Brings the device up with every queue set up (§3.1.1), then applies the settings
    /// through the control queue.
    fn bring_up(&self, s: &mut State) -> Result<(), String> {
        self.tp.init(self.features)?;
        for q in s.rx.iter().chain(s.tx.iter()).flatten() {
            self.program(&q.q)?;
        }
        if let Some(c) = &mut s.ctrl {
            self.program(&c.q)?;
            c.restart();
        }
        self.tp.driver_ok();
        let st = self.tp.status();
        if st & (status::DEVICE_NEEDS_RESET | status::FAILED) != 0 || st & status::DRIVER_OK == 0 {
            return Err(format!(
                "the device did not take DRIVER_OK (status {st:#x})"
            ));
        }
        // The queues start again from index 0 at their next burst.
        for q in s.rx.iter().chain(s.tx.iter()).flatten() {
            q.q.words.get(GENERATION).fetch_add(1, Ordering::Release);
        }
        if self.has(feature::MQ) {
            self.command(
                s,
                ctrl::CLASS_MQ,
                ctrl::MQ_VQ_PAIRS_SET,
                &s.pairs.to_le_bytes(),
            )?;
        }
        if self.has(feature::CTRL_MAC_ADDR) {
            let mac = s.mac.0;
            self.command(s, ctrl::CLASS_MAC, ctrl::MAC_ADDR_SET, &mac)?;
        }
        if self.has(feature::CTRL_RX) {
            let (p, a) = (s.promisc, s.allmulti);
            self.command(s, ctrl::CLASS_RX, ctrl::RX_PROMISC, &[p as u8])?;
            self.command(s, ctrl::CLASS_RX, ctrl::RX_ALLMULTI, &[a as u8])?;
        }
        Ok(())
    }

    fn command(&self, s: &mut State, class: u8, cmd: u8, data: &[u8]) -> Result<(), String> {
        let c = s
            .ctrl
            .as_mut()
            .ok_or_else(|| "the device has no control queue".to_string())?;
        c.command(class, cmd, data)
            .map_err(|e| format!("{}: {e}", self.name()))
    }

    /// Applies an RX mode now if the device runs (else at start).
    fn rx_mode(&self, cmd: u8, on: bool) -> DriverResult<()> {
        if !self.has(feature::CTRL_RX) {
            return Err(DriverError::NotSupported(
                "RX modes (the device offers no CTRL_RX)",
            ));
        }
        let mut s = lock(&self.state);
        if cmd == ctrl::RX_PROMISC {
            s.promisc = on;
        } else {
            s.allmulti = on;
        }
        if s.started {
            self.command(&mut s, ctrl::CLASS_RX, cmd, &[on as u8])
                .map_err(DriverError::Other)?;
        }
        Ok(())
    }
}

/// The ring size for `nb_desc` asked for (0: the device's): a split virtqueue's size is a
/// power of 2 up to the device's (§2.7), so the request is rounded down to one, at least 16,
/// and clamped to the device's (as DPDK's virtio driver takes the device's size).
fn queue_size(nb_desc: u16, max: u16) -> u16 {
    let max = if max.is_power_of_two() {
        max
    } else {
        1 << (15 - max.leading_zeros())
    };
    if nb_desc == 0 || nb_desc >= max {
        return max;
    }
    (1u16 << (15 - nb_desc.leading_zeros())).clamp(16.min(max), max)
}

impl EthDevice for VirtioNet {
    fn info(&self) -> DevInfo {
        let max = self.ring_max;
        // Any count is taken and fitted to the device (see queue_size).
        let lim = DescLim {
            nb_max: u16::MAX,
            nb_min: 1,
            nb_align: 1,
        };
        let mut rx_capa = 0;
        if self.has(feature::GUEST_CSUM) {
            rx_capa |= rx_offload::UDP_CKSUM | rx_offload::TCP_CKSUM;
        }
        if self.has(feature::MRG_RXBUF) {
            rx_capa |= rx_offload::SCATTER;
        }
        let mut tx_capa = tx_offload::MULTI_SEGS;
        if self.has(feature::CSUM) {
            tx_capa |= tx_offload::UDP_CKSUM | tx_offload::TCP_CKSUM;
        }
        DevInfo {
            max_rx_queues: self.max_pairs,
            max_tx_queues: self.max_pairs,
            min_mtu: 68,
            max_mtu: 9000,
            max_rx_pktlen: 9018,
            min_rx_bufsize: 64,
            max_mac_addrs: 1,
            rx_offload_capa: rx_capa,
            tx_offload_capa: tx_capa,
            rx_desc_lim: lim,
            tx_desc_lim: lim,
            speed_capa: 0,
            default_ring_size: max,
            default_burst: 32,
            ..DevInfo::new(DRIVER)
        }
    }

    fn configure(&self, nb_rx: u16, nb_tx: u16, conf: &EthConf) -> DriverResult<()> {
        let mut s = lock(&self.state);
        s.pairs = nb_rx.max(nb_tx).max(1);
        if let Some(mtu) = conf.mtu {
            s.mtu = mtu;
        }
        Ok(())
    }

    fn rx_queue_setup(&self, setup: RxSetup<'_>) -> DriverResult<Box<dyn RxQueueOps>> {
        let index = 2 * setup.queue;
        let size = queue_size(setup.nb_desc, self.tp.queue_max_size(index));
        let room = setup
            .pool
            .data_room_size()
            .saturating_sub(rpdk_mbuf::PKTMBUF_HEADROOM) as u32;
        if rpdk_mbuf::PKTMBUF_HEADROOM < NET_HDR_LEN as u16 || room < 64 {
            return Err(DriverError::Invalid(format!(
                "the pool's buffers hold {room} bytes after the headroom; net_virtio needs 64"
            )));
        }
        let lent = Self::lent(&lock(&self.state).rx[setup.queue as usize], size);
        if let Some(q) = lent {
            let (slots, crashed) = self.back(&q, &format!("RX queue {}", setup.queue))?;
            let mut rxq = self.rx_queue(q, slots, &setup);
            rxq.resume(crashed);
            lock(&self.state).rx_room = Some(room);
            return Ok(Box::new(rxq));
        }
        let ring = self
            .ring(index, size, 0, &format!("rx{}", setup.queue))
            .map_err(DriverError::Invalid)?;
        let mut slots = self.slots(&ring)?;
        for i in 0..ring.size() as usize {
            let m = setup.pool.alloc().map_err(|_| {
                DriverError::Invalid(format!(
                    "the pool has fewer free mbufs than the {size} RX descriptors"
                ))
            })?;
            slots.replace(i, m);
        }
        let words = QueueWords::of(setup.port, true, setup.queue);
        words.take();
        let zone = slots.zone().clone();
        let q = self
            .shared(ring, index, words, Some(zone))
            .map_err(DriverError::Invalid)?;
        let mut s = lock(&self.state);
        s.rx[setup.queue as usize] = Some(QueueSlot { q: q.clone() });
        s.rx_room = Some(room);
        drop(s);
        // The buffers are posted at the first burst after the device starts.
        Ok(Box::new(self.rx_queue(q, slots, &setup)))
    }

    fn tx_queue_setup(&self, setup: TxSetup<'_>) -> DriverResult<Box<dyn TxQueueOps>> {
        let index = 2 * setup.queue + 1;
        let size = queue_size(setup.nb_desc, self.tp.queue_max_size(index));
        let lent = Self::lent(&lock(&self.state).tx[setup.queue as usize], size);
        if let Some(q) = lent {
            let (slots, crashed) = self.back(&q, &format!("TX queue {}", setup.queue))?;
            let mut txq = self.tx_queue(q, slots, setup.counters);
            txq.resume(crashed);
            return Ok(Box::new(txq));
        }
        let ring = self
            .ring(
                index,
                size,
                size as usize * TX_HDR_STRIDE,
                &format!("tx{}", setup.queue),
            )
            .map_err(DriverError::Invalid)?;
        let slots = self.slots(&ring)?;
        let words = QueueWords::of(setup.port, false, setup.queue);
        words.take();
        let zone = slots.zone().clone();
        let q = self
            .shared(ring, index, words, Some(zone))
            .map_err(DriverError::Invalid)?;
        lock(&self.state).tx[setup.queue as usize] = Some(QueueSlot { q: q.clone() });
        let mut txq = self.tx_queue(q, slots, setup.counters);
        // Differs from the queue's: the first burst starts from index 0.
        txq.generation = txq.q.generation().wrapping_sub(1);
        Ok(Box::new(txq))
    }

    fn share_rx_queue(&self, queue: u16) -> DriverResult<SharedQueue> {
        let q = lock(&self.state)
            .rx
            .get(queue as usize)
            .and_then(|s| s.as_ref().map(|s| s.q.clone()));
        share::share(self, q, queue)
    }

    fn share_tx_queue(&self, queue: u16) -> DriverResult<SharedQueue> {
        let q = lock(&self.state)
            .tx
            .get(queue as usize)
            .and_then(|s| s.as_ref().map(|s| s.q.clone()));
        share::share(self, q, queue)
    }

    fn start(&self) -> DriverResult<()> {
        let mut s = lock(&self.state);
        let pairs = s.pairs as usize;
        if (0..pairs).any(|i| s.rx[i].is_none() || s.tx[i].is_none()) {
            return Err(DriverError::Invalid("queues are not set up".into()));
        }
        let room = s.rx_room.unwrap_or(0);
        if !self.has(feature::MRG_RXBUF) && s.mtu as u32 + 14 > room {
            return Err(DriverError::Invalid(format!(
                "MTU {} needs {}-byte RX buffers; the pool's give {room} (the device does not \
                 merge buffers)",
                s.mtu,
                s.mtu as u32 + 14
            )));
        }
        self.bring_up(&mut s)
            .map_err(|e| DriverError::Other(format!("{}: {e}", self.name())))?;
        s.started = true;
        Ok(())
    }

    fn stop(&self) -> DriverResult<()> {
        let mut s = lock(&self.state);
        s.started = false;
        // The device stops using the rings (a reset), and comes back to FEATURES_OK with no
        // queue enabled: queues can be set up again, the next start programs them.
        self.tp
            .init(self.features)
            .map_err(|e| DriverError::Other(format!("{}: {e}", self.name())))
    }

    fn close(&self) -> DriverResult<()> {
        let mut s = lock(&self.state);
        s.started = false;
        self.tp
            .reset()
            .map_err(|e| DriverError::Other(format!("{}: {e}", self.name())))?;
        s.rx.iter_mut().for_each(|q| *q = None);
        s.tx.iter_mut().for_each(|q| *q = None);
        s.ctrl = None;
        Ok(())
    }

    fn link(&self) -> Link {
        let up = !self.has(feature::STATUS)
            || self
                .tp
                .read_device_config(|b| {
                    u16::from_le_bytes([b(netcfg::STATUS), b(netcfg::STATUS + 1)])
                })
                .is_some_and(|st| st & netcfg::LINK_UP != 0);
        let (speed, full) = if self.has(feature::SPEED_DUPLEX) {
            self.tp
                .read_device_config(|b| {
                    let sp = u32::from_le_bytes(std::array::from_fn(|i| b(netcfg::SPEED + i)));
                    (sp, b(netcfg::DUPLEX))
                })
                .map(|(sp, d)| (if sp == u32::MAX { 10_000 } else { sp }, d != 0))
                .unwrap_or((10_000, true))
        } else {
            (10_000, true)
        };
        Link {
            speed: if up { speed } else { 0 },
            full_duplex: full,
            autoneg: false,
            up,
        }
    }

    fn mac_addr(&self) -> MacAddr {
        lock(&self.state).mac
    }

    fn set_mac_addr(&self, mac: MacAddr) -> DriverResult<()> {
        if !self.has(feature::CTRL_MAC_ADDR) {
            return Err(DriverError::NotSupported(
                "setting the MAC (the device offers no CTRL_MAC_ADDR)",
            ));
        }
        let mut s = lock(&self.state);
        if s.started {
            self.command(&mut s, ctrl::CLASS_MAC, ctrl::MAC_ADDR_SET, &mac.0)
                .map_err(DriverError::Other)?;
        }
        s.mac = mac;
        Ok(())
    }

    fn set_promiscuous(&self, on: bool) -> DriverResult<()> {
        self.rx_mode(ctrl::RX_PROMISC, on)
    }

    fn promiscuous(&self) -> bool {
        lock(&self.state).promisc
    }

    fn set_allmulticast(&self, on: bool) -> DriverResult<()> {
        self.rx_mode(ctrl::RX_ALLMULTI, on)
    }

    fn allmulticast(&self) -> bool {
        lock(&self.state).allmulti
    }

    fn set_mtu(&self, mtu: u16) -> DriverResult<()> {
        let mut s = lock(&self.state);
        if let Some(room) = s.rx_room
            && !self.has(feature::MRG_RXBUF)
            && mtu as u32 + 14 > room
        {
            return Err(DriverError::Invalid(format!(
                "MTU {mtu} needs {}-byte RX buffers; the queue's are {room}",
                mtu as u32 + 14
            )));
        }
        s.mtu = mtu;
        Ok(())
    }

    fn mtu(&self) -> u16 {
        lock(&self.state).mtu
    }

    fn xstats(&self) -> Vec<(String, u64)> {
        let s = lock(&self.state);
        let mut x = Vec::new();
        for (i, q) in s.rx.iter().enumerate() {
            if let Some(q) = q {
                let n = q.q.notifications.load(Ordering::Relaxed);
                x.push((format!("rx_q{i}_notifications"), n));
            }
        }
        for (i, q) in s.tx.iter().enumerate() {
            if let Some(q) = q {
                let n = q.q.notifications.load(Ordering::Relaxed);
                x.push((format!("tx_q{i}_notifications"), n));
            }
        }
        if let Some(c) = &s.ctrl {
            x.push(("ctrl_commands".into(), c.commands));
        }
        // Every register write so far through the notification BAR (notifications, and
        // set-up when the common configuration shares it), never reset: tests check that a
        // burst writes at most one.
        x.push(("mmio_register_writes".into(), self.tp.notify_bar().writes()));
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert!(negotiate(feature::MAC).unwrap_err().contains("legacy"));
        let offered = feature::VERSION_1
            | feature::MAC
            | feature::MQ
            | feature::CTRL_RX
            | (1 << 29)
            | (1 << 34);
        // MQ and CTRL_RX need the control queue; EVENT_IDX and RING_PACKED are not taken.
        assert_eq!(
            negotiate(offered).unwrap(),
            feature::VERSION_1 | feature::MAC
        );
        let with_ctrl = offered | feature::CTRL_VQ;
        assert_eq!(
            negotiate(with_ctrl).unwrap(),
            feature::VERSION_1 | feature::MAC | feature::MQ | feature::CTRL_RX | feature::CTRL_VQ
        );
    }

    #[test]
    fn queue_sizes() {
        assert_eq!(queue_size(0, 256), 256);
        assert_eq!(queue_size(128, 256), 128);
        assert_eq!(queue_size(1024, 256), 256);
        assert_eq!(queue_size(100, 256), 64);
        assert_eq!(queue_size(8, 256), 16);
        assert_eq!(queue_size(8, 8), 8);
        assert_eq!(queue_size(0, 1000), 512);
    }
}
