//! `net_e1000_em`: Intel's 82540EM (e1000) and 82574L (e1000e) gigabit NICs, driven from
//! userspace over VFIO or UIO (DPDK's `drivers/net/e1000/em_*`).
//!
//! The port is named after the PCI address (`0000:00:03.0`) and has one RX and one TX queue of
//! legacy descriptors (32 to 4096, a multiple of 8; 256 by default) in hugepage memory. Receive
//! re-arms each descriptor with a fresh mbuf as it takes the frame, and moves the tail once per
//! burst; transmit fills one descriptor per segment and moves the tail once per burst, freeing
//! sent mbufs as the device reports them done. CRC stripping is on unless the port asks for
//! `KEEP_CRC`; promiscuous and all-multicast modes, the MAC address (receive address 0) and the
//! MTU (up to the RX buffer size: frames are not scattered over several buffers) can be set.
//! The device's own counters (8254x §13.7, clear on read) are accumulated into extended
//! statistics, and its missed-packet count into the port's `imissed`. Interrupts stay masked:
//! the driver polls.
//!
//! A secondary process can drive the queues (`share`): the primary passes the registers' BAR
//! (a descriptor to map it from), and the rings, their mbufs and positions are in shared
//! memory; a queue back from a secondary that died driving it is re-armed from its slots.
//!
//! Limits: no checksum, VLAN or TSO offloads, no RSS (one queue; the port's software stage
//! spreads over more), no scattered receive, no link-state interrupt (link is read on demand).

mod regs;
mod rxtx;
mod share;

pub(crate) use share::{attach_rx, attach_tx};

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rpdk_eal::bus::{Bar, Devargs};
use rpdk_eal::bus::{DriverError as BusError, PCI_DRIVERS, PciAddr, PciDriver, PciHandle, PciId};
use rpdk_mbuf::net::MacAddr;

use crate::config::{DescLim, DevInfo, EthConf, Link, rx_offload, tx_offload};
use crate::driver::{
    DriverResult, EthDevice, RxQueueOps, RxSetup, SharedQueue, TxQueueOps, TxSetup,
};
use crate::drivers::dma::DescRing;
use crate::drivers::slots::MbufSlots;
use crate::error::DriverError;
use crate::shared::QueueWords;
use regs::*;
use rxtx::{CLEAN, GENERATION, POSITION, RingState, RxQueue, TxQueue};

/// The driver's name.
pub const DRIVER: &str = "net_e1000_em";

const INTEL: u16 = 0x8086;
/// The devices handled: 82540EM (QEMU's `e1000`) and 82574L (QEMU's `e1000e`).
const IDS: &[PciId] = &[
    PciId {
        vendor: INTEL,
        device: 0x100E,
    },
    PciId {
        vendor: INTEL,
        device: 0x10D3,
    },
];

#[linkme::distributed_slice(PCI_DRIVERS)]
static NET_E1000_EM: PciDriver = PciDriver {
    name: DRIVER,
    id_table: IDS,
    keys: &[],
    probe,
    remove,
};

const DEFAULT_DESC: u16 = 256;
const DESC_LIM: DescLim = DescLim {
    nb_max: 4096,
    nb_min: 32,
    nb_align: 8,
};
/// Ethernet header and CRC around an MTU's worth of payload.
const FRAME_OVERHEAD: u32 = 14 + 4;
/// Frames above this need RCTL.LPE (8254x §13.4.22).
const STANDARD_FRAME: u32 = 1522;
/// The largest frame the MACs take (82574 §8.2.2: 9018 with jumbo frames; the 82540EM takes
/// 16128).
const MAX_FRAME: u32 = 9018;

fn model(id: PciId) -> &'static str {
    match id.device {
        0x10D3 => "82574L",
        _ => "82540EM",
    }
}

fn probe(dev: PciHandle, _args: &Devargs) -> Result<(), BusError> {
    let name = dev.info().addr.to_string();
    if dev.bar(0).is_none() {
        return Err(format!("{name}: BAR 0 (the registers) is not mapped").into());
    }
    let socket = dev
        .info()
        .numa_node
        .unwrap_or_else(|| rpdk_eal::lcore::socket_id().unwrap_or(0));
    let device = E1000::new(dev)?;
    log::info!(
        target: "pmd.net.e1000",
        "{name}: {} MAC {}, {}",
        device.model,
        device.mac_addr(),
        device.link()
    );
    crate::port::allocate(&name, Box::new(device), socket)?;
    Ok(())
}

fn remove(addr: &PciAddr) -> Result<(), BusError> {
    Ok(crate::port::release_by_name(&addr.to_string())?)
}

#[derive(Debug)]
struct Settings {
    mac: MacAddr,
    promisc: bool,
    allmulti: bool,
    mtu: u16,
    keep_crc: bool,
    started: bool,
    /// RCTL.BSIZE code and bytes of the RX buffers, once the RX queue is set up.
    rx_buf: Option<(u32, u32)>,
}

struct E1000 {
    dev: PciHandle,
    model: &'static str,
    settings: Mutex<Settings>,
    rx: Mutex<Option<Arc<RingState>>>,
    tx: Mutex<Option<Arc<RingState>>>,
    /// Accumulated device counters ([`STATS`] order) and the values at the last reset.
    hw_stats: Mutex<(Vec<u64>, Vec<u64>)>,
    zone_seq: AtomicU32,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl E1000 {
    fn new(dev: PciHandle) -> Result<E1000, String> {
        let model = model(dev.info().id);
        let e = E1000 {
            model,
            dev,
            settings: Mutex::new(Settings {
                mac: MacAddr::default(),
                promisc: false,
                allmulti: false,
                mtu: 1500,
                keep_crc: false,
                started: false,
                rx_buf: None,
            }),
            rx: Mutex::new(None),
            tx: Mutex::new(None),
            hw_stats: Mutex::new((vec![0; STATS.len()], vec![0; STATS.len()])),
            zone_seq: AtomicU32::new(0),
        };
        e.reset()?;
        let mac = e
            .read_mac()
            .ok_or_else(|| format!("{}: receive address 0 holds no valid MAC address", e.name()))?;
        lock(&e.settings).mac = mac;
        e.init_link();
        // Clear the multicast table (8254x §14.4) and the clear-on-read counters.
        for i in 0..MTA_LEN {
            e.bar().write32(MTA + 4 * i, 0);
        }
        e.read_stats();
        *lock(&e.hw_stats) = (vec![0; STATS.len()], vec![0; STATS.len()]);
        Ok(e)
    }

    fn name(&self) -> String {
        self.dev.info().addr.to_string()
    }

    fn bar(&self) -> &Bar {
        self.dev.bar(0).expect("probe checked BAR 0")
    }

    /// Global reset (8254x §14.5, 82574 §4.6.1): interrupts masked, CTRL.RST, wait for it to
    /// clear, mask again and clear pending causes.
    fn reset(&self) -> Result<(), String> {
        let bar = self.bar();
        bar.write32(IMC, u32::MAX);
        bar.write32(RCTL, 0);
        bar.write32(TCTL, 0);
        bar.write32(CTRL, bar.read32(CTRL) | CTRL_RST);
        // The manual asks for at least 1 µs before touching registers again; 82574 needs ~1 ms.
        std::thread::sleep(Duration::from_millis(2));
        let deadline = Instant::now() + Duration::from_millis(200);
        while bar.read32(CTRL) & CTRL_RST != 0 {
            if Instant::now() > deadline {
                return Err(format!(
                    "{}: the device did not come out of reset",
                    self.name()
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        bar.write32(IMC, u32::MAX);
        let _ = bar.read32(ICR);
        Ok(())
    }

    /// The MAC address the EEPROM loaded into receive address 0 at reset (8254x §5.6.1).
    fn read_mac(&self) -> Option<MacAddr> {
        let lo = self.bar().read32(RAL0);
        let hi = self.bar().read32(RAH0);
        if hi & RAH_AV == 0 {
            return None;
        }
        let b = lo.to_le_bytes();
        let h = hi.to_le_bytes();
        Some(MacAddr([b[0], b[1], b[2], b[3], h[0], h[1]]))
    }

    fn write_mac(&self, mac: MacAddr) {
        let m = mac.0;
        self.bar()
            .write32(RAL0, u32::from_le_bytes([m[0], m[1], m[2], m[3]]));
        self.bar()
            .write32(RAH0, u32::from_le_bytes([m[4], m[5], 0, 0]) | RAH_AV);
    }

    /// Link set-up for the copper PHY (8254x §14.3): auto speed detection, Set Link Up, no
    /// forced speed or duplex, PHY and link out of reset.
    fn init_link(&self) {
        let bar = self.bar();
        let ctrl = bar.read32(CTRL) & !(CTRL_LRST | CTRL_PHY_RST | CTRL_VME);
        bar.write32(CTRL, ctrl | CTRL_SLU | CTRL_ASDE);
    }

    /// RCTL for the settings (8254x §14.4): enabled, broadcasts accepted, the buffer size, CRC
    /// stripped unless kept, long packets when the MTU needs them, the promiscuous bits.
    fn rctl(s: &Settings, enable: bool) -> u32 {
        let mut r = RCTL_BAM;
        if enable {
            r |= RCTL_EN;
        }
        if let Some((code, _)) = s.rx_buf {
            r |= code << RCTL_BSIZE_SHIFT;
        }
        if !s.keep_crc {
            r |= RCTL_SECRC;
        }
        if s.mtu as u32 + FRAME_OVERHEAD > STANDARD_FRAME - 4 {
            r |= RCTL_LPE;
        }
        if s.promisc {
            r |= RCTL_UPE | RCTL_MPE;
        }
        if s.allmulti {
            r |= RCTL_MPE;
        }
        r
    }

    fn apply_rctl(&self, s: &Settings) {
        self.bar().write32(RCTL, Self::rctl(s, s.started));
    }

    /// The RX queue back from a secondary process: the same ring and mbufs, from where it left
    /// them; re-armed if it died driving the queue (what it had received is lost).
    fn rx_back(
        &self,
        state: Arc<RingState>,
        setup: &RxSetup<'_>,
        count: usize,
    ) -> DriverResult<RxQueue> {
        let parked = state.words.take();
        state.hand_over.store(false, Ordering::Release);
        let mut q = RxQueue {
            ring: DescRing::attach(state.ring_zone.clone(), count, true)?,
            slots: MbufSlots::attach(state.slots_zone.clone(), count, true)?,
            pool: setup.pool.clone(),
            next: state.position() as usize % count,
            port: setup.port,
            dev: self.dev.clone(),
            counters: setup.counters.clone(),
            state,
            discarding: false,
            idle_polls: 0,
        };
        if !parked {
            log::warn!(
                target: "pmd.net.e1000",
                "{}: RX queue {} is back from a process that died driving it: re-arming the ring",
                self.name(),
                setup.queue
            );
            // Receive stops while the ring is rewritten; head and tail start again at 0.
            let s = lock(&self.settings);
            self.bar().write32(RCTL, Self::rctl(&s, false));
            q.fill().map_err(DriverError::Invalid)?;
            self.bar().write32(RDH, 0);
            self.bar().write32(RDT, count as u32 - 1);
            self.apply_rctl(&s);
        }
        Ok(q)
    }

    /// The TX queue back from a secondary process, from where it left it; if it died driving
    /// the queue, transmit stops, what was queued is dropped and the ring starts again empty.
    fn tx_back(
        &self,
        state: Arc<RingState>,
        counters: Arc<crate::stats::QueueCounters>,
        count: usize,
    ) -> DriverResult<TxQueue> {
        let parked = state.words.take();
        state.hand_over.store(false, Ordering::Release);
        let mut ring = DescRing::attach(state.ring_zone.clone(), count, true)?;
        let mut slots = MbufSlots::attach(state.slots_zone.clone(), count, true)?;
        if !parked {
            log::warn!(
                target: "pmd.net.e1000",
                "{}: TX queue {} is back from a process that died driving it: an empty ring",
                self.name(),
                state.queue
            );
            let started = lock(&self.settings).started;
            let bar = self.bar();
            bar.write32(TCTL, 0);
            slots.clear();
            for i in 0..count {
                ring.write(i, TxDesc::default());
            }
            bar.write32(TDH, 0);
            bar.write32(TDT, 0);
            state.words.get(POSITION).store(0, Ordering::Relaxed);
            state.words.get(CLEAN).store(0, Ordering::Relaxed);
            if started {
                bar.write32(TCTL, TCTL_ON);
            }
        }
        Ok(TxQueue::resume(
            ring,
            slots,
            self.dev.clone(),
            counters,
            state,
        ))
    }

    /// Reads the clear-on-read counters into the totals.
    fn read_stats(&self) {
        let mut st = lock(&self.hw_stats);
        for (i, (off, _)) in STATS.iter().enumerate() {
            st.0[i] += self.bar().read32(*off) as u64;
        }
    }

    fn stat(&self, off: usize) -> u64 {
        self.read_stats();
        let st = lock(&self.hw_stats);
        let i = STATS
            .iter()
            .position(|(o, _)| *o == off)
            .expect("a listed counter");
        st.0[i] - st.1[i]
    }
}

/// TCTL while transmitting (8254x §14.5): enabled, short packets padded, the full-duplex
/// collision threshold and distance, retransmit on late collision.
const TCTL_ON: u32 =
    TCTL_EN | TCTL_PSP | (0x0F << TCTL_CT_SHIFT) | (0x40 << TCTL_COLD_SHIFT) | TCTL_RTLC;

/// RCTL.BSIZE for the largest standard buffer size (BSEX 0) that fits `room` bytes.
fn buffer_size(room: u32) -> Option<(u32, u32)> {
    [(0, 2048), (1, 1024), (2, 512), (3, 256)]
        .into_iter()
        .find(|&(_, size)| size <= room)
}

impl EthDevice for E1000 {
    fn info(&self) -> DevInfo {
        DevInfo {
            max_rx_queues: 1,
            max_tx_queues: 1,
            min_mtu: 68,
            max_mtu: (MAX_FRAME - FRAME_OVERHEAD) as u16,
            max_rx_pktlen: MAX_FRAME,
            min_rx_bufsize: 256,
            max_mac_addrs: 1,
            rx_offload_capa: rx_offload::KEEP_CRC,
            tx_offload_capa: tx_offload::MULTI_SEGS,
            rx_desc_lim: DESC_LIM,
            tx_desc_lim: DESC_LIM,
            speed_capa: 0,
            default_ring_size: DEFAULT_DESC,
            default_burst: 32,
            ..DevInfo::new(DRIVER)
        }
    }

    fn configure(&self, _nb_rx: u16, _nb_tx: u16, conf: &EthConf) -> DriverResult<()> {
        let mut s = lock(&self.settings);
        s.keep_crc = conf.rx_offloads & rx_offload::KEEP_CRC != 0;
        if let Some(mtu) = conf.mtu {
            s.mtu = mtu;
        }
        Ok(())
    }

    fn rx_queue_setup(&self, setup: RxSetup<'_>) -> DriverResult<Box<dyn RxQueueOps>> {
        let count = desc_count(setup.nb_desc)?;
        let room = setup
            .pool
            .data_room_size()
            .saturating_sub(rpdk_mbuf::PKTMBUF_HEADROOM) as u32;
        let buf = buffer_size(room).ok_or_else(|| {
            DriverError::Invalid(format!(
                "the pool's buffers hold {room} bytes after the headroom; the device needs 256"
            ))
        })?;
        let lent = lock(&self.rx)
            .clone()
            .filter(|s| s.hand_over.load(Ordering::Acquire) && s.count as usize == count);
        let q = match lent {
            Some(state) => self.rx_back(state, &setup, count)?,
            None => {
                let seq = self.zone_seq.fetch_add(1, Ordering::Relaxed);
                let socket = setup.socket.unwrap_or(0);
                let name = format!("em{}_rx{}_{seq}", setup.port, setup.queue);
                let ring = DescRing::new(&self.dev, &name, count, 128, socket)?;
                let slots = MbufSlots::new(&format!("{name}_m"), count, socket)?;
                let words = QueueWords::of(setup.port, true, setup.queue);
                let state = Arc::new(RingState::new(setup.queue, words, &ring, &slots));
                state.words.take();
                let mut q = RxQueue {
                    ring,
                    slots,
                    pool: setup.pool.clone(),
                    next: 0,
                    port: setup.port,
                    dev: self.dev.clone(),
                    counters: setup.counters,
                    state,
                    discarding: false,
                    idle_polls: 0,
                };
                q.fill().map_err(DriverError::Invalid)?;
                q
            }
        };
        lock(&self.settings).rx_buf = Some(buf);
        *lock(&self.rx) = Some(q.state.clone());
        Ok(Box::new(q))
    }

    fn tx_queue_setup(&self, setup: TxSetup<'_>) -> DriverResult<Box<dyn TxQueueOps>> {
        let count = desc_count(setup.nb_desc)?;
        let lent = lock(&self.tx)
            .clone()
            .filter(|s| s.hand_over.load(Ordering::Acquire) && s.count as usize == count);
        let q = match lent {
            Some(state) => self.tx_back(state, setup.counters, count)?,
            None => {
                let seq = self.zone_seq.fetch_add(1, Ordering::Relaxed);
                let socket = setup.socket.unwrap_or(0);
                let name = format!("em{}_tx{}_{seq}", setup.port, setup.queue);
                let ring = DescRing::new(&self.dev, &name, count, 128, socket)?;
                let slots = MbufSlots::new(&format!("{name}_m"), count, socket)?;
                let words = QueueWords::of(setup.port, false, setup.queue);
                let state = Arc::new(RingState::new(setup.queue, words, &ring, &slots));
                state.words.take();
                state.words.get(POSITION).store(0, Ordering::Relaxed);
                state.words.get(CLEAN).store(0, Ordering::Relaxed);
                TxQueue::resume(ring, slots, self.dev.clone(), setup.counters, state)
            }
        };
        *lock(&self.tx) = Some(q.state.clone());
        Ok(Box::new(q))
    }

    fn share_rx_queue(&self, _queue: u16) -> DriverResult<SharedQueue> {
        share::share(&self.dev, lock(&self.rx).as_ref())
    }

    fn share_tx_queue(&self, _queue: u16) -> DriverResult<SharedQueue> {
        share::share(&self.dev, lock(&self.tx).as_ref())
    }

    /// Programs the rings and enables receive and transmit (8254x §14.4 and §14.5).
    fn start(&self) -> DriverResult<()> {
        let mut s = lock(&self.settings);
        let (rx, tx) = match (lock(&self.rx).clone(), lock(&self.tx).clone()) {
            (Some(rx), Some(tx)) => (rx, tx),
            _ => return Err(DriverError::Invalid("queues are not set up".into())),
        };
        let (_, buf_bytes) = s.rx_buf.expect("set with the RX queue");
        let frame = s.mtu as u32 + FRAME_OVERHEAD;
        if frame > buf_bytes {
            return Err(DriverError::Invalid(format!(
                "MTU {} needs {frame}-byte RX buffers; the pool's give {buf_bytes} (scattered \
                 receive is not supported)",
                s.mtu
            )));
        }
        let bar = self.bar();
        // Receive: ring base and length, head at the queue's next descriptor and the tail just
        // behind it (every descriptor armed), no receive delay.
        bar.write32(RCTL, 0);
        bar.write32(RDBAL, rx.iova as u32);
        bar.write32(RDBAH, (rx.iova >> 32) as u32);
        bar.write32(RDLEN, rx.bytes);
        let head = rx.position();
        bar.write32(RDH, head);
        bar.write32(RDT, (head + rx.count - 1) % rx.count);
        bar.write32(RDTR, 0);
        // Transmit: the ring, head = tail where the queue stands, full-duplex collision
        // settings, short packets padded, the copper inter-packet gap.
        bar.write32(TCTL, 0);
        bar.write32(TDBAL, tx.iova as u32);
        bar.write32(TDBAH, (tx.iova >> 32) as u32);
        bar.write32(TDLEN, tx.bytes);
        let tail = tx.position();
        bar.write32(TDH, tail);
        bar.write32(TDT, tail);
        tx.words.get(GENERATION).fetch_add(1, Ordering::Relaxed);
        bar.write32(TIPG, TIPG_COPPER);
        bar.write32(TCTL, TCTL_ON);
        self.write_mac(s.mac);
        s.started = true;
        self.apply_rctl(&s);
        Ok(())
    }

    fn stop(&self) -> DriverResult<()> {
        let mut s = lock(&self.settings);
        s.started = false;
        self.bar().write32(RCTL, Self::rctl(&s, false));
        self.bar().write32(TCTL, 0);
        Ok(())
    }

    fn close(&self) -> DriverResult<()> {
        self.stop()?;
        // Nothing may DMA into the rings once their memory goes back to the heap.
        self.reset().map_err(DriverError::Other)
    }

    fn link(&self) -> Link {
        let status = self.bar().read32(STATUS);
        let speed = match (status >> STATUS_SPEED_SHIFT) & 3 {
            0 => 10,
            1 => 100,
            _ => 1000,
        };
        let up = status & STATUS_LU != 0;
        Link {
            speed: if up { speed } else { 0 },
            full_duplex: status & STATUS_FD != 0,
            autoneg: true,
            up,
        }
    }

    fn mac_addr(&self) -> MacAddr {
        lock(&self.settings).mac
    }

    fn set_mac_addr(&self, mac: MacAddr) -> DriverResult<()> {
        lock(&self.settings).mac = mac;
        self.write_mac(mac);
        Ok(())
    }

    fn set_promiscuous(&self, on: bool) -> DriverResult<()> {
        let mut s = lock(&self.settings);
        s.promisc = on;
        self.apply_rctl(&s);
        Ok(())
    }

    fn promiscuous(&self) -> bool {
        lock(&self.settings).promisc
    }

    fn set_allmulticast(&self, on: bool) -> DriverResult<()> {
        let mut s = lock(&self.settings);
        s.allmulti = on;
        self.apply_rctl(&s);
        Ok(())
    }

    fn allmulticast(&self) -> bool {
        lock(&self.settings).allmulti
    }

    fn set_mtu(&self, mtu: u16) -> DriverResult<()> {
        let mut s = lock(&self.settings);
        if let Some((_, bytes)) = s.rx_buf
            && mtu as u32 + FRAME_OVERHEAD > bytes
        {
            return Err(DriverError::Invalid(format!(
                "MTU {mtu} needs {}-byte RX buffers; the queue's are {bytes} (scattered receive \
                 is not supported)",
                mtu as u32 + FRAME_OVERHEAD
            )));
        }
        s.mtu = mtu;
        self.apply_rctl(&s);
        Ok(())
    }

    fn mtu(&self) -> u16 {
        lock(&self.settings).mtu
    }

    fn xstats(&self) -> Vec<(String, u64)> {
        self.read_stats();
        let st = lock(&self.hw_stats);
        let mut x: Vec<(String, u64)> = STATS
            .iter()
            .enumerate()
            .map(|(i, (_, name))| (format!("hw_{name}"), st.0[i] - st.1[i]))
            .collect();
        // Every register write so far (tail writes, set-up), never reset: tests check that a
        // burst writes one tail register.
        x.push(("mmio_register_writes".into(), self.bar().writes()));
        x
    }

    fn device_missed(&self) -> u64 {
        self.stat(MPC)
    }

    fn device_stats_reset(&self) {
        self.read_stats();
        let mut st = lock(&self.hw_stats);
        st.1 = st.0.clone();
    }
}

fn desc_count(nb_desc: u16) -> DriverResult<usize> {
    let n = if nb_desc == 0 { DEFAULT_DESC } else { nb_desc };
    if !(DESC_LIM.nb_min..=DESC_LIM.nb_max).contains(&n) || n % DESC_LIM.nb_align != 0 {
        return Err(DriverError::Invalid(format!(
            "{n} descriptors: the ring takes {} to {}, a multiple of {}",
            DESC_LIM.nb_min, DESC_LIM.nb_max, DESC_LIM.nb_align
        )));
    }
    Ok(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_sizes_fit_the_pool() {
        assert_eq!(buffer_size(2048), Some((0, 2048)));
        assert_eq!(buffer_size(4000), Some((0, 2048)));
        assert_eq!(buffer_size(1500), Some((1, 1024)));
        assert_eq!(buffer_size(256), Some((3, 256)));
        assert_eq!(buffer_size(255), None);
    }

    #[test]
    fn descriptor_counts() {
        assert_eq!(desc_count(0).unwrap(), 256);
        assert_eq!(desc_count(1024).unwrap(), 1024);
        for bad in [8, 100, 8192] {
            assert!(desc_count(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rctl_follows_the_settings() {
        let mut s = Settings {
            mac: MacAddr::default(),
            promisc: false,
            allmulti: false,
            mtu: 1500,
            keep_crc: false,
            started: true,
            rx_buf: Some((0, 2048)),
        };
        let r = E1000::rctl(&s, true);
        assert_eq!(
            r & (RCTL_EN | RCTL_SECRC | RCTL_BAM),
            RCTL_EN | RCTL_SECRC | RCTL_BAM
        );
        assert_eq!(r & (RCTL_UPE | RCTL_MPE | RCTL_LPE), 0);
        s.promisc = true;
        s.keep_crc = true;
        s.mtu = 2000;
        let r = E1000::rctl(&s, false);
        assert_eq!(
            r & (RCTL_UPE | RCTL_MPE | RCTL_LPE),
            RCTL_UPE | RCTL_MPE | RCTL_LPE
        );
        assert_eq!(r & (RCTL_EN | RCTL_SECRC), 0);
        s.promisc = false;
        s.allmulti = true;
        assert_eq!(E1000::rctl(&s, true) & (RCTL_UPE | RCTL_MPE), RCTL_MPE);
    }
}
