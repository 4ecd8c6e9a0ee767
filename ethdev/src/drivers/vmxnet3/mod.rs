//! `net_vmxnet3`: VMware's vmxnet3 paravirtual NIC (15ad:07b0; QEMU's `-device vmxnet3`),
//! driven from userspace over VFIO or UIO (DPDK's `drivers/net/vmxnet3`).
//!
//! The driver and the device share memory: the driver-shared area (`Vmxnet3_DriverShared`:
//! guest and driver information, MTU, the queue-descriptor table's address, interrupt and
//! RX-filter configuration) and the queue descriptors (one per TX and RX queue: ring addresses
//! and sizes, the device's per-queue status and statistics). `start` fills both, gives the
//! device the shared area's address (DSAL/DSAH) and activates it; the device reads the rings
//! from there. Commands go through the CMD register; GET commands answer in it.
//!
//! Queues: TX has a command ring, a completion ring and the data ring the device expects;
//! RX has two command rings (ring 0 for the head buffer of each frame, ring 1 for body
//! buffers of frames larger than one) and a completion ring. Rings hold 32 to 4096
//! descriptors, a multiple of 32 (512 by default; ring 1 has 32). Up to 8 TX queues; one RX
//! queue (QEMU's device receives on queue 0 only and has no RSS; the port's software stage
//! spreads over more). Interrupts are disabled (`VMXNET3_IC_DISABLE_ALL` and every mask set):
//! the driver polls. RX checksum verification (`UPT1_F_RXCSUM`) marks good IP and TCP/UDP
//! checksums in the mbufs; MAC from the MACL/MACH registers; link from `GET_LINK`;
//! promiscuous and all-multicast through `UPDATE_RX_MODE`; the device's UPT1 counters
//! (`GET_STATS`) as xstats, its out-of-buffer drops as `imissed`.
//!
//! A secondary process can drive the queues (`share`): the primary passes BAR 0 (the producer
//! registers), and the rings, their mbufs (one slot per descriptor) and the cursors with their
//! generation bits are in shared memory; a queue back from a secondary that died driving it
//! is taken over from that process's last recorded burst, without a device reset.
//!
//! Limits: no TX offloads (checksum, TSO, VLAN insertion), no LRO, no VLAN stripping or
//! filtering, no multicast filter table, no RSS, no interrupts; revision 1 of the device only
//! (what QEMU emulates; later revisions' data rings and extended queues are not used).

mod cursor;
mod regs;
mod rxtx;
mod share;

pub(crate) use share::{attach_rx, attach_tx};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rpdk_eal::bus::{Bar, Devargs};
use rpdk_eal::bus::{DriverError as BusError, PCI_DRIVERS, PciAddr, PciDriver, PciHandle, PciId};
use rpdk_eal::memzone::Memzone;
use rpdk_mbuf::net::MacAddr;

use crate::config::{DescLim, DevInfo, EthConf, Link, rx_offload, tx_offload};
use crate::driver::{
    DriverResult, EthDevice, RxQueueOps, RxSetup, SharedQueue, TxQueueOps, TxSetup,
};
use crate::drivers::dma::DmaArea;
use crate::drivers::slots::MbufSlots;
use crate::error::DriverError;
use crate::shared::QueueWords;
use regs::*;
use rxtx::{RxContext, RxQueue, RxShared, TxQueue, TxShared, rx_layout, tx_layout};

/// The driver's name.
pub const DRIVER: &str = "net_vmxnet3";

const IDS: &[PciId] = &[PciId {
    vendor: 0x15ad,
    device: 0x07b0,
}];

#[linkme::distributed_slice(PCI_DRIVERS)]
static NET_VMXNET3: PciDriver = PciDriver {
    name: DRIVER,
    id_table: IDS,
    keys: &[],
    probe,
    remove,
};

const MAX_TX_QUEUES: u16 = 8;
const MAX_RX_QUEUES: u16 = 1;
const DEFAULT_DESC: u16 = 512;
const DESC_LIM: DescLim = DescLim {
    nb_max: RING_MAX,
    nb_min: RING_SIZE_ALIGN,
    nb_align: RING_SIZE_ALIGN,
};
const MAX_MTU: u16 = 9000;

fn probe(dev: PciHandle, _args: &Devargs) -> Result<(), BusError> {
    let name = dev.info().addr.to_string();
    let socket = dev
        .info()
        .numa_node
        .unwrap_or_else(|| rpdk_eal::lcore::socket_id().unwrap_or(0));
    let device = Vmxnet3::new(dev)?;
    log::info!(target: "pmd.net.vmxnet3", "{name}: vmxnet3 MAC {}, {}", device.mac, device.link());
    crate::port::allocate(&name, Box::new(device), socket)?;
    Ok(())
}

fn remove(addr: &PciAddr) -> Result<(), BusError> {
    Ok(crate::port::release_by_name(&addr.to_string())?)
}

struct State {
    mac: MacAddr,
    promisc: bool,
    allmulti: bool,
    mtu: u16,
    nb_rx: u16,
    nb_tx: u16,
    started: bool,
    rx: Vec<Option<Arc<RxShared>>>,
    tx: Vec<Option<Arc<TxShared>>>,
    /// Device counters at the last reset (per queue, [`TX_STATS`] then [`RX_STATS`]).
    baseline: Vec<u64>,
    seq: u32,
}

struct Vmxnet3 {
    dev: PciHandle,
    mac: MacAddr,
    /// The driver-shared area, then the queue descriptors (TX queues first).
    shared: Arc<DmaArea>,
    state: Mutex<State>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Offset of TX queue `q`'s descriptor in the shared area.
fn txqd(q: u16) -> usize {
    DS_LEN + q as usize * QD_LEN
}

/// Offset of RX queue `q`'s descriptor (after every TX queue's: the device reads them as one
/// table of `numTxQueues` then `numRxQueues`).
fn rxqd(nb_tx: u16, q: u16) -> usize {
    DS_LEN + (nb_tx + q) as usize * QD_LEN
}

impl Vmxnet3 {
    fn new(dev: PciHandle) -> Result<Vmxnet3, String> {
        let name = dev.info().addr.to_string();
        let (Some(_), Some(vd)) = (dev.bar(0), dev.bar(1)) else {
            return Err(format!(
                "{name}: BARs 0 and 1 (the registers) are not both mapped"
            ));
        };
        // Revision 1 and UPT version 1 (the device reports what it has, the driver selects).
        if vd.read32(REG_VRRS) & 1 == 0 {
            return Err(format!("{name}: the device offers no vmxnet3 revision 1"));
        }
        vd.write32(REG_VRRS, 1);
        if vd.read32(REG_UVRS) & 1 == 0 {
            return Err(format!("{name}: the device offers no UPT version 1"));
        }
        vd.write32(REG_UVRS, 1);
        let lo = vd.read32(REG_MACL).to_le_bytes();
        let hi = vd.read32(REG_MACH).to_le_bytes();
        let mac = MacAddr([lo[0], lo[1], lo[2], lo[3], hi[0], hi[1]]);
        let socket = dev.info().numa_node.unwrap_or(0);
        let shared = DmaArea::new(
            &dev,
            &format!("vmxnet3_{name}_shared"),
            DS_LEN + (MAX_TX_QUEUES + MAX_RX_QUEUES) as usize * QD_LEN,
            128,
            socket,
        )
        .map_err(|e| e.to_string())?;
        let d = Vmxnet3 {
            dev,
            mac,
            shared: Arc::new(shared),
            state: Mutex::new(State {
                mac,
                promisc: false,
                allmulti: false,
                mtu: 1500,
                nb_rx: 1,
                nb_tx: 1,
                started: false,
                rx: (0..MAX_RX_QUEUES).map(|_| None).collect(),
                tx: (0..MAX_TX_QUEUES).map(|_| None).collect(),
                baseline: vec![0; 20 * (MAX_TX_QUEUES + MAX_RX_QUEUES) as usize],
                seq: 0,
            }),
        };
        d.command(CMD_QUIESCE_DEV);
        d.command(CMD_RESET_DEV);
        Ok(d)
    }

    fn name(&self) -> String {
        self.dev.info().addr.to_string()
    }

    fn vd(&self) -> &Bar {
        self.dev.bar(1).expect("probe checked BAR 1")
    }

    fn pt(&self) -> &Bar {
        self.dev.bar(0).expect("probe checked BAR 0")
    }

    /// Runs a SET command.
    fn command(&self, cmd: u32) {
        self.vd().write32(REG_CMD, cmd);
    }

    /// Runs a GET command (or ACTIVATE_DEV) and returns the device's answer in the register.
    fn query(&self, cmd: u32) -> u32 {
        self.vd().write32(REG_CMD, cmd);
        self.vd().read32(REG_CMD)
    }

    fn rx_mode(s: &State) -> u32 {
        let mut m = RXM_UCAST | RXM_BCAST;
        if s.promisc {
            m |= RXM_PROMISC;
        }
        if s.allmulti {
            m |= RXM_ALL_MULTI;
        }
        m
    }

    fn write_mac(&self, mac: MacAddr) {
        let m = mac.0;
        self.vd()
            .write32(REG_MACL, u32::from_le_bytes([m[0], m[1], m[2], m[3]]));
        self.vd()
            .write32(REG_MACH, u32::from_le_bytes([m[4], m[5], 0, 0]));
    }

    /// Fills the shared area and the queue descriptors for the queues set up.
    fn fill_shared(&self, s: &State) {
        let ds = &*self.shared;
        ds.write32(DS_MAGIC, REV1_MAGIC);
        ds.write32(DS_VERSION, 0x0001_0000);
        ds.write32(DS_GOS, GOS_LINUX_64);
        ds.write32(DS_REV_SPT, 1);
        ds.write32(DS_UPT_SPT, 1);
        ds.write64(DS_UPT_FEATURES, UPT1_F_RXCSUM);
        ds.write64(DS_QUEUE_DESC_PA, ds.iova(DS_LEN));
        ds.write32(
            DS_QUEUE_DESC_LEN,
            ((s.nb_tx + s.nb_rx) as usize * QD_LEN) as u32,
        );
        ds.write32(DS_MTU, s.mtu as u32);
        ds.write16(DS_MAX_RX_SG, 2);
        ds.write_bytes(DS_NUM_TX_QUEUES, &[s.nb_tx as u8, s.nb_rx as u8]);
        ds.write_bytes(DS_AUTO_MASK, &[1, 1]);
        ds.write32(DS_INTR_CTRL, IC_DISABLE_ALL);
        ds.write32(DS_RX_MODE, Self::rx_mode(s));
        for (q, t) in s.tx.iter().take(s.nb_tx as usize).enumerate() {
            let Some(t) = t else { continue };
            let at = txqd(q as u16);
            ds.write_bytes(at, &[0; QD_LEN]);
            ds.write64(at + TQ_RING_PA, t.mem.iova(t.ring.at));
            ds.write64(at + TQ_DATA_PA, t.mem.iova(t.data_at));
            ds.write64(at + TQ_COMP_PA, t.mem.iova(t.comp.at));
            ds.write32(at + TQ_RING_SIZE, t.ring.size as u32);
            ds.write32(at + TQ_DATA_SIZE, t.ring.size as u32);
            ds.write32(at + TQ_COMP_SIZE, t.comp.size as u32);
        }
        for (q, r) in s.rx.iter().take(s.nb_rx as usize).enumerate() {
            let Some(r) = r else { continue };
            let at = rxqd(s.nb_tx, q as u16);
            ds.write_bytes(at, &[0; QD_LEN]);
            for k in 0..2 {
                ds.write64(at + RQ_RING_PA[k], r.mem.iova(r.rings[k].at));
                ds.write32(at + RQ_RING_SIZE[k], r.rings[k].size as u32);
            }
            ds.write64(at + RQ_COMP_PA, r.mem.iova(r.comp.at));
            ds.write32(at + RQ_COMP_SIZE, r.comp.size as u32);
        }
    }

    /// The device's counters of every queue set up: (name, value) after a GET_STATS.
    fn hw_stats(&self, s: &State) -> Vec<(String, u64)> {
        if !s.started {
            return Vec::new();
        }
        self.command(CMD_GET_STATS);
        let ds = &*self.shared;
        let mut out = Vec::new();
        for q in 0..s.nb_tx {
            for (i, n) in TX_STATS.iter().enumerate() {
                let v = ds.read32(txqd(q) + QD_STATS + 8 * i) as u64
                    | (ds.read32(txqd(q) + QD_STATS + 8 * i + 4) as u64) << 32;
                out.push((format!("tx_q{q}_hw_{n}"), v));
            }
        }
        for q in 0..s.nb_rx {
            for (i, n) in RX_STATS.iter().enumerate() {
                let at = rxqd(s.nb_tx, q) + QD_STATS + 8 * i;
                let v = ds.read32(at) as u64 | (ds.read32(at + 4) as u64) << 32;
                out.push((format!("rx_q{q}_hw_{n}"), v));
            }
        }
        out
    }

    /// A queue lent to a secondary process and back: its slots, owned again, and whether its
    /// driver there died driving it.
    fn back(
        &self,
        words: &QueueWords,
        hand_over: &AtomicBool,
        slots_zone: &Memzone,
        count: usize,
        what: &str,
    ) -> DriverResult<(MbufSlots, bool)> {
        let parked = words.take();
        hand_over.store(false, Ordering::Release);
        let slots = MbufSlots::attach(slots_zone.clone(), count, true)?;
        if !parked {
            log::warn!(
                target: "pmd.net.vmxnet3",
                "{}: {what} is back from a process that died driving it: taking the rings \
                 over from its last recorded burst",
                self.name()
            );
        }
        Ok((slots, !parked))
    }

    fn next_seq(&self) -> u32 {
        let mut s = lock(&self.state);
        s.seq += 1;
        s.seq
    }
}

fn ring_size(nb_desc: u16) -> DriverResult<u16> {
    let n = if nb_desc == 0 { DEFAULT_DESC } else { nb_desc };
    if !(DESC_LIM.nb_min..=DESC_LIM.nb_max).contains(&n) || n % DESC_LIM.nb_align != 0 {
        return Err(DriverError::Invalid(format!(
            "{n} descriptors: a vmxnet3 ring takes {} to {}, a multiple of {}",
            DESC_LIM.nb_min, DESC_LIM.nb_max, DESC_LIM.nb_align
        )));
    }
    Ok(n)
}

impl EthDevice for Vmxnet3 {
    fn info(&self) -> DevInfo {
        DevInfo {
            max_rx_queues: MAX_RX_QUEUES,
            max_tx_queues: MAX_TX_QUEUES,
            min_mtu: 60,
            max_mtu: MAX_MTU,
            max_rx_pktlen: MAX_MTU as u32 + 18,
            min_rx_bufsize: 256,
            max_mac_addrs: 1,
            rx_offload_capa: rx_offload::CHECKSUM | rx_offload::SCATTER,
            tx_offload_capa: tx_offload::MULTI_SEGS,
            rx_desc_lim: DESC_LIM,
            tx_desc_lim: DESC_LIM,
            speed_capa: 0,
            default_ring_size: DEFAULT_DESC,
            default_burst: 32,
            ..DevInfo::new(DRIVER)
        }
    }

    fn configure(&self, nb_rx: u16, nb_tx: u16, conf: &EthConf) -> DriverResult<()> {
        let mut s = lock(&self.state);
        s.nb_rx = nb_rx.max(1);
        s.nb_tx = nb_tx.max(1);
        if let Some(mtu) = conf.mtu {
            s.mtu = mtu;
        }
        Ok(())
    }

    fn rx_queue_setup(&self, setup: RxSetup<'_>) -> DriverResult<Box<dyn RxQueueOps>> {
        let size = ring_size(setup.nb_desc)?;
        let (nb_tx, nb_rx, lent) = {
            let s = lock(&self.state);
            (s.nb_tx, s.nb_rx, s.rx[setup.queue as usize].clone())
        };
        let cx = RxContext {
            dev: self.dev.clone(),
            ds: self.shared.clone(),
            qd_at: rxqd(nb_tx, setup.queue),
            qid: setup.queue,
            nb_rxq: nb_rx,
            pool: setup.pool.clone(),
            port: setup.port,
            counters: setup.counters,
        };
        if let Some(sh) = lent.filter(|sh| sh.hand_over.load(Ordering::Acquire)) {
            let (slots, crashed) = self.back(
                &sh.words,
                &sh.hand_over,
                &sh.slots_zone,
                sh.slot_count(),
                &format!("RX queue {}", setup.queue),
            )?;
            if sh.rings[0].size == size {
                return Ok(Box::new(RxQueue::resume(sh, slots, cx, crashed)));
            }
            // Set up again with another size: the old ring's mbufs go back to the pool.
            drop(slots);
        }
        let (rings, _, len) = rx_layout(size);
        let seq = self.next_seq();
        let name = format!("vmxnet3_{}_rx{}_{seq}", self.name(), setup.queue);
        let socket = setup.socket.unwrap_or(0);
        let mem = DmaArea::new(&self.dev, &name, len, RING_ALIGN, socket)?;
        let count = rings[0].size as usize + rings[1].size as usize;
        let slots_name = format!("vmxs_{}_rx{}_{seq}", self.name(), setup.queue);
        let slots = MbufSlots::new(&slots_name, count, socket)?;
        let words = QueueWords::of(setup.port, true, setup.queue);
        words.take();
        let sh = RxShared::new(mem, size, words, &slots, false);
        let q = RxQueue::new(sh.clone(), slots, cx).map_err(DriverError::Invalid)?;
        lock(&self.state).rx[setup.queue as usize] = Some(sh);
        Ok(Box::new(q))
    }

    fn tx_queue_setup(&self, setup: TxSetup<'_>) -> DriverResult<Box<dyn TxQueueOps>> {
        let size = ring_size(setup.nb_desc)?;
        let lent = lock(&self.state).tx[setup.queue as usize].clone();
        if let Some(sh) = lent.filter(|sh| sh.hand_over.load(Ordering::Acquire)) {
            let (slots, crashed) = self.back(
                &sh.words,
                &sh.hand_over,
                &sh.slots_zone,
                sh.ring.size as usize,
                &format!("TX queue {}", setup.queue),
            )?;
            if sh.ring.size == size {
                return Ok(Box::new(TxQueue::resume(
                    sh,
                    slots,
                    self.dev.clone(),
                    setup.queue,
                    setup.counters,
                    crashed,
                )));
            }
            drop(slots);
        }
        let (.., len) = tx_layout(size);
        let seq = self.next_seq();
        let name = format!("vmxnet3_{}_tx{}_{seq}", self.name(), setup.queue);
        let socket = setup.socket.unwrap_or(0);
        let mem = DmaArea::new(&self.dev, &name, len, RING_ALIGN, socket)?;
        let slots_name = format!("vmxs_{}_tx{}_{seq}", self.name(), setup.queue);
        let slots = MbufSlots::new(&slots_name, size as usize, socket)?;
        let words = QueueWords::of(setup.port, false, setup.queue);
        words.take();
        let sh = TxShared::new(mem, size, words, &slots, false);
        lock(&self.state).tx[setup.queue as usize] = Some(sh.clone());
        Ok(Box::new(TxQueue::new(
            sh,
            slots,
            self.dev.clone(),
            setup.queue,
            setup.counters,
        )))
    }

    fn share_rx_queue(&self, queue: u16) -> DriverResult<SharedQueue> {
        let s = lock(&self.state);
        let sh = s.rx.get(queue as usize).cloned().flatten();
        share::share_rx(self, sh, queue, rxqd(s.nb_tx, queue), s.nb_rx)
    }

    fn share_tx_queue(&self, queue: u16) -> DriverResult<SharedQueue> {
        let sh = lock(&self.state).tx.get(queue as usize).cloned().flatten();
        share::share_tx(self, sh, queue)
    }

    fn start(&self) -> DriverResult<()> {
        let mut s = lock(&self.state);
        if (0..s.nb_tx as usize).any(|q| s.tx[q].is_none())
            || (0..s.nb_rx as usize).any(|q| s.rx[q].is_none())
        {
            return Err(DriverError::Invalid("queues are not set up".into()));
        }
        self.command(CMD_QUIESCE_DEV);
        self.command(CMD_RESET_DEV);
        for t in s.tx.iter().take(s.nb_tx as usize).flatten() {
            t.rearm();
        }
        for r in s.rx.iter().take(s.nb_rx as usize).flatten() {
            r.rearm();
        }
        self.fill_shared(&s);
        let iova = self.shared.iova(0);
        self.vd().write32(REG_DSAL, iova as u32);
        self.vd().write32(REG_DSAH, (iova >> 32) as u32);
        let ret = self.query(CMD_ACTIVATE_DEV);
        if ret != 0 {
            return Err(DriverError::Other(format!(
                "{}: the device refused activation ({ret:#x}): it found the shared area or a \
                 queue descriptor invalid",
                self.name()
            )));
        }
        // Every descriptor of both RX rings holds a buffer: the producer indices are where
        // the next fill goes, 0.
        for q in 0..s.nb_rx as usize {
            self.pt().write32(REG_RXPROD + REG_STRIDE * q, 0);
            self.pt().write32(REG_RXPROD2 + REG_STRIDE * q, 0);
        }
        // The one interrupt (events) masked.
        self.pt().write32(REG_IMR, 1);
        // The queue descriptors (with the device's counters) start from zero.
        s.baseline.iter_mut().for_each(|b| *b = 0);
        self.write_mac(s.mac);
        self.command(CMD_UPDATE_RX_MODE);
        s.started = true;
        let stopped: Vec<u16> = (0..s.nb_tx)
            .filter(|&q| self.shared.read8(txqd(q) + QD_STOPPED) != 0)
            .collect();
        if !stopped.is_empty() {
            let q = stopped[0];
            return Err(DriverError::Other(format!(
                "{}: TX queue {q} stopped with error {:#x}",
                self.name(),
                self.shared.read32(txqd(q) + QD_ERROR)
            )));
        }
        Ok(())
    }

    fn stop(&self) -> DriverResult<()> {
        let mut s = lock(&self.state);
        s.started = false;
        self.command(CMD_QUIESCE_DEV);
        self.command(CMD_RESET_DEV);
        Ok(())
    }

    fn close(&self) -> DriverResult<()> {
        self.stop()?;
        let mut s = lock(&self.state);
        s.rx.iter_mut().for_each(|q| *q = None);
        s.tx.iter_mut().for_each(|q| *q = None);
        Ok(())
    }

    fn link(&self) -> Link {
        let v = self.query(CMD_GET_LINK);
        let up = v & 1 != 0;
        Link {
            speed: if up { v >> 16 } else { 0 },
            full_duplex: true,
            autoneg: false,
            up,
        }
    }

    fn mac_addr(&self) -> MacAddr {
        lock(&self.state).mac
    }

    fn set_mac_addr(&self, mac: MacAddr) -> DriverResult<()> {
        lock(&self.state).mac = mac;
        self.write_mac(mac);
        Ok(())
    }

    fn set_promiscuous(&self, on: bool) -> DriverResult<()> {
        let mut s = lock(&self.state);
        s.promisc = on;
        if s.started {
            self.shared.write32(DS_RX_MODE, Self::rx_mode(&s));
            self.command(CMD_UPDATE_RX_MODE);
        }
        Ok(())
    }

    fn promiscuous(&self) -> bool {
        lock(&self.state).promisc
    }

    fn set_allmulticast(&self, on: bool) -> DriverResult<()> {
        let mut s = lock(&self.state);
        s.allmulti = on;
        if s.started {
            self.shared.write32(DS_RX_MODE, Self::rx_mode(&s));
            self.command(CMD_UPDATE_RX_MODE);
        }
        Ok(())
    }

    fn allmulticast(&self) -> bool {
        lock(&self.state).allmulti
    }

    fn set_mtu(&self, mtu: u16) -> DriverResult<()> {
        let mut s = lock(&self.state);
        if s.started {
            return Err(DriverError::Invalid(
                "vmxnet3 takes a new MTU at start: stop the port first".into(),
            ));
        }
        s.mtu = mtu;
        Ok(())
    }

    fn mtu(&self) -> u16 {
        lock(&self.state).mtu
    }

    fn xstats(&self) -> Vec<(String, u64)> {
        let s = lock(&self.state);
        let mut x: Vec<(String, u64)> = self
            .hw_stats(&s)
            .into_iter()
            .enumerate()
            .map(|(i, (n, v))| (n, v.saturating_sub(s.baseline.get(i).copied().unwrap_or(0))))
            .collect();
        // Every register write to BAR 0 (producer indices, interrupt masks), never reset:
        // tests check one per TX burst.
        x.push(("mmio_register_writes".into(), self.pt().writes()));
        x
    }

    fn device_missed(&self) -> u64 {
        let s = lock(&self.state);
        let per_tx = TX_STATS.len() * s.nb_tx as usize;
        self.hw_stats(&s)
            .iter()
            .enumerate()
            .filter(|(i, _)| *i >= per_tx && (i - per_tx) % RX_STATS.len() == RX_OUT_OF_BUF)
            .map(|(i, (_, v))| v.saturating_sub(s.baseline.get(i).copied().unwrap_or(0)))
            .sum()
    }

    fn device_stats_reset(&self) {
        let mut s = lock(&self.state);
        let now: Vec<u64> = self.hw_stats(&s).into_iter().map(|(_, v)| v).collect();
        for (i, v) in now.into_iter().enumerate() {
            if let Some(b) = s.baseline.get_mut(i) {
                *b = v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_sizes() {
        assert_eq!(ring_size(0).unwrap(), 512);
        assert_eq!(ring_size(4096).unwrap(), 4096);
        for bad in [16, 100, 8192] {
            assert!(ring_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn queue_descriptor_table() {
        assert_eq!(txqd(0), DS_LEN);
        assert_eq!(rxqd(2, 0), DS_LEN + 2 * QD_LEN);
        assert_eq!(DS_LEN % 128, 0);
    }
}
