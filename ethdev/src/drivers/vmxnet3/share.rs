//! The queues of net_vmxnet3 driven from a secondary process.
//!
//! The primary passes BAR 0 (the pass-through registers: the secondary writes the producer
//! registers) through `pci_share`, and in the driver's bytes ([`QueueShare`]) what the
//! secondary needs to find the queue's memory:
//!
//! | bytes | what |
//! |---|---|
//! | 0..2 | ring size (RX: ring 0's; ring 1 has 32 descriptors) (u16, little-endian) |
//! | 2..4 | the queue's index on the device |
//! | 4..6 | RX: the device's RX queue count (ring 1's completions name queue + count); TX: 0 |
//! | 6..10 | RX: the queue descriptor's offset in the driver-shared area (u32); TX: 0 |
//! | then | the rings' memzone name, the slots', the driver-shared area's (TX: empty) |
//!
//! Each name is prefixed by its length (u8).
//!
//! The rings' layout follows from the size (`rxtx::rx_layout`, `rxtx::tx_layout`), as in the
//! primary. The device and the queue memory stay the primary's: the secondary never writes the
//! shared area (it reads its queue's `updateRxProd` byte there) and sends no command. Cursors
//! and generation bits are in the queue's record in the shared port data (`cursor`).

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rpdk_eal::memzone::{self, Memzone};

use super::Vmxnet3;
use super::regs::QD_LEN;
use super::rxtx::{RxContext, RxQueue, RxShared, TxQueue, TxShared, rx_layout, tx_layout};
use crate::driver::{DriverResult, RxQueueOps, SharedQueue, TxQueueOps};
use crate::drivers::dma::DmaArea;
use crate::drivers::pci_share::{self, Reader, push_name};
use crate::drivers::slots::MbufSlots;
use crate::error::DriverError;
use crate::secondary::Attach;

/// The driver's bytes of a queue's share.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct QueueShare {
    pub size: u16,
    pub qid: u16,
    pub nb_rxq: u16,
    pub qd_at: u32,
    pub mem: String,
    pub slots: String,
    pub ds: String,
}

impl QueueShare {
    pub fn encode(&self) -> Vec<u8> {
        let mut own = Vec::with_capacity(16 + self.mem.len() + self.slots.len() + self.ds.len());
        own.extend_from_slice(&self.size.to_le_bytes());
        own.extend_from_slice(&self.qid.to_le_bytes());
        own.extend_from_slice(&self.nb_rxq.to_le_bytes());
        own.extend_from_slice(&self.qd_at.to_le_bytes());
        push_name(&mut own, &self.mem);
        push_name(&mut own, &self.slots);
        push_name(&mut own, &self.ds);
        own
    }

    pub fn decode(own: &[u8]) -> DriverResult<QueueShare> {
        let mut r = Reader(own);
        let mut u16 = || -> DriverResult<u16> {
            Ok(u16::from_le_bytes(r.take(2)?.try_into().expect("2 bytes")))
        };
        let (size, qid, nb_rxq) = (u16()?, u16()?, u16()?);
        Ok(QueueShare {
            size,
            qid,
            nb_rxq,
            qd_at: r.u32()?,
            mem: r.name()?,
            slots: r.name()?,
            ds: r.name()?,
        })
    }
}

fn not_set_up(queue: u16) -> DriverError {
    DriverError::Invalid(format!("queue {queue} is not set up"))
}

fn zone_name(z: Option<&Memzone>) -> DriverResult<String> {
    z.map(|z| z.name().to_string())
        .ok_or_else(|| DriverError::Invalid("the queue has no memzone".into()))
}

/// What the primary passes of RX queue `queue`, whose descriptor is at `qd_at` in the shared
/// area of a device with `nb_rxq` RX queues; from here on, the queue object dropped next hands
/// the queue over.
pub(super) fn share_rx(
    dev: &Vmxnet3,
    sh: Option<Arc<RxShared>>,
    queue: u16,
    qd_at: usize,
    nb_rxq: u16,
) -> DriverResult<SharedQueue> {
    let sh = sh.ok_or_else(|| not_set_up(queue))?;
    pci_share::check_shared(&sh.words)?;
    let own = QueueShare {
        size: sh.rings[0].size,
        qid: queue,
        nb_rxq,
        qd_at: qd_at as u32,
        mem: zone_name(sh.mem.zone())?,
        slots: sh.slots_zone.name().to_string(),
        ds: zone_name(dev.shared.zone())?,
    };
    let shared = pci_share::share(&dev.dev, &[0], &own.encode())?;
    sh.hand_over.store(true, Ordering::Release);
    Ok(shared)
}

/// The same for TX queue `queue`.
pub(super) fn share_tx(
    dev: &Vmxnet3,
    sh: Option<Arc<TxShared>>,
    queue: u16,
) -> DriverResult<SharedQueue> {
    let sh = sh.ok_or_else(|| not_set_up(queue))?;
    pci_share::check_shared(&sh.words)?;
    let own = QueueShare {
        size: sh.ring.size,
        qid: queue,
        nb_rxq: 0,
        qd_at: 0,
        mem: zone_name(sh.mem.zone())?,
        slots: sh.slots_zone.name().to_string(),
        ds: String::new(),
    };
    let shared = pci_share::share(&dev.dev, &[0], &own.encode())?;
    sh.hand_over.store(true, Ordering::Release);
    Ok(shared)
}

fn find(name: &str) -> DriverResult<Memzone> {
    memzone::lookup(name).ok_or_else(|| {
        DriverError::Invalid(format!(
            "the queue's memzone '{name}' is not in shared memory"
        ))
    })
}

/// The RX queue a secondary process drives.
pub(crate) fn attach_rx(mut a: Attach) -> DriverResult<Box<dyn RxQueueOps>> {
    let pool = a
        .pool
        .clone()
        .ok_or_else(|| DriverError::Invalid("the RX queue has no pool".into()))?;
    let (dev, own) = pci_share::attach(std::mem::take(&mut a.shared))?;
    let s = QueueShare::decode(&own)?;
    let (rings, _, len) = rx_layout(s.size);
    let mem = DmaArea::view(find(&s.mem)?, len)?;
    let count = rings[0].size as usize + rings[1].size as usize;
    let slots = MbufSlots::attach(find(&s.slots)?, count, false)?;
    let ds = DmaArea::view(find(&s.ds)?, s.qd_at as usize + QD_LEN)?;
    let words = pci_share::take_words(a.port, true, a.queue)?;
    // Dropping the queue object gives the queue back.
    let sh = RxShared::new(mem, s.size, words, &slots, true);
    let cx = RxContext {
        dev,
        ds: Arc::new(ds),
        qd_at: s.qd_at as usize,
        qid: s.qid,
        nb_rxq: s.nb_rxq,
        pool,
        port: a.port,
        counters: a.counters,
    };
    Ok(Box::new(RxQueue::resume(sh, slots, cx, false)))
}

/// The TX queue a secondary process drives.
pub(crate) fn attach_tx(mut a: Attach) -> DriverResult<Box<dyn TxQueueOps>> {
    let (dev, own) = pci_share::attach(std::mem::take(&mut a.shared))?;
    let s = QueueShare::decode(&own)?;
    let (.., len) = tx_layout(s.size);
    let mem = DmaArea::view(find(&s.mem)?, len)?;
    let slots = MbufSlots::attach(find(&s.slots)?, s.size as usize, false)?;
    let words = pci_share::take_words(a.port, false, a.queue)?;
    let sh = TxShared::new(mem, s.size, words, &slots, true);
    Ok(Box::new(TxQueue::resume(
        sh, slots, dev, s.qid, a.counters, false,
    )))
}

#[cfg(test)]
mod tests {
    use super::QueueShare;

    #[test]
    fn queue_share_bytes() {
        let s = QueueShare {
            size: 4096,
            qid: 0,
            nb_rxq: 1,
            qd_at: 1024 + 8 * 256,
            mem: "vmxnet3_0000:00:0c.0_rx0_3".into(),
            slots: "vmxs_0000:00:0c.0_rx0_3".into(),
            ds: "vmxnet3_0000:00:0c.0_shared".into(),
        };
        let b = s.encode();
        assert_eq!(&b[..10], &[0, 16, 0, 0, 1, 0, 0, 12, 0, 0]);
        assert_eq!(QueueShare::decode(&b).unwrap(), s);
        for cut in 0..b.len() {
            assert!(QueueShare::decode(&b[..cut]).is_err(), "{cut} bytes");
        }
        let tx = QueueShare {
            ds: String::new(),
            ..s
        };
        assert_eq!(QueueShare::decode(&tx.encode()).unwrap(), tx);
    }
}
