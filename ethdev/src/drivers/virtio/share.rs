//! The queues of net_virtio driven from a secondary process.
//!
//! The primary passes the notification BAR (`pci_share`) and, in the driver's bytes, what the
//! secondary needs to find the virtqueue and its mbuf slots:
//!
//! | bytes | what |
//! |---|---|
//! | 0..2 | the virtqueue's index on the device (u16, little-endian) |
//! | 2..4 | its size |
//! | 4..8 | bytes after the rings (TX: the header area) |
//! | 8..12 | its notification register's offset in the BAR |
//! | 12 | the notification BAR |
//! | 13 | checksum offload: RX `GUEST_CSUM`, TX `CSUM` negotiated (1) or not (0) |
//! | then | the ring's memzone name, then the slots', each prefixed by its length (u8) |
//!
//! The virtqueue's memory stays the primary's device's. The queue's indices and generation
//! are in its record in the shared port data, recorded at each burst before the available
//! index is published; the chains in flight of a TX queue are read back from the descriptor
//! table. A queue object dropped while the queue is handed over leaves its mbufs in the slots
//! and parks the record; a secondary that dies driving the queue parks nothing, and the
//! primary takes over from its last recorded burst (`rxtx`, `resume`).

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rpdk_eal::memzone;

use super::rxtx::{RxQueue, TxQueue};
use super::virtqueue::{Notifier, QueueShared, Vring};
use super::{VirtioNet, feature};
use crate::driver::{DriverResult, RxQueueOps, SharedQueue, TxQueueOps};
use crate::drivers::pci_share::{self, Reader, push_name};
use crate::drivers::slots::MbufSlots;
use crate::error::DriverError;
use crate::secondary::Attach;

/// What the primary passes of queue `q` (RX when its virtqueue index is even); from here on,
/// the queue object dropped next hands the queue over.
pub(super) fn share(
    dev: &VirtioNet,
    q: Option<Arc<QueueShared>>,
    queue: u16,
) -> DriverResult<SharedQueue> {
    let q = q.ok_or_else(|| DriverError::Invalid(format!("queue {queue} is not set up")))?;
    pci_share::check_shared(&q.words)?;
    let (Some(ring_zone), Some(slots_zone)) = (q.ring.zone(), q.slots_zone.as_ref()) else {
        return Err(DriverError::Invalid(format!(
            "queue {queue} has no memzones"
        )));
    };
    let rx = q.index % 2 == 0;
    let csum = dev.has(if rx {
        feature::GUEST_CSUM
    } else {
        feature::CSUM
    });
    let bar = dev.notifier().bar as u8;
    let mut own = Vec::new();
    own.extend_from_slice(&q.index.to_le_bytes());
    own.extend_from_slice(&q.ring.size().to_le_bytes());
    own.extend_from_slice(&(q.ring.extra_len() as u32).to_le_bytes());
    own.extend_from_slice(&(q.notify_at as u32).to_le_bytes());
    own.push(bar);
    own.push(u8::from(csum));
    push_name(&mut own, ring_zone.name());
    push_name(&mut own, slots_zone.name());
    let shared = pci_share::share(dev.tp.handle(), &[bar], &own)?;
    q.hand_over.store(true, Ordering::Release);
    Ok(shared)
}

/// The queue state, notifier, slots and checksum flag a secondary builds its queue from.
fn attach(a: &mut Attach, rx: bool) -> DriverResult<(Arc<QueueShared>, Notifier, MbufSlots, bool)> {
    let (dev, own) = pci_share::attach(std::mem::take(&mut a.shared))?;
    let mut r = Reader(&own);
    let index = u16::from_le_bytes(r.take(2)?.try_into().expect("2 bytes"));
    let size = u16::from_le_bytes(r.take(2)?.try_into().expect("2 bytes"));
    let extra = r.u32()? as usize;
    let notify_at = r.u32()? as usize;
    let bar = r.u8()? as usize;
    let csum = r.u8()? == 1;
    let find = |name: String| {
        memzone::lookup(&name).ok_or_else(|| {
            DriverError::Invalid(format!(
                "the queue's memzone '{name}' is not in shared memory"
            ))
        })
    };
    let ring = Vring::view(find(r.name()?)?, size, extra)?;
    let slots = MbufSlots::attach(find(r.name()?)?, size as usize, false)?;
    let words = pci_share::take_words(a.port, rx, a.queue)?;
    let q = QueueShared::new(ring, index, notify_at, words, Some(slots.zone().clone()));
    // From here on, dropping the queue object gives the queue back.
    q.hand_over.store(true, Ordering::Release);
    Ok((q, Notifier { dev, bar }, slots, csum))
}

/// The RX queue a secondary process drives.
pub(crate) fn attach_rx(mut a: Attach) -> DriverResult<Box<dyn RxQueueOps>> {
    let pool = a
        .pool
        .clone()
        .ok_or_else(|| DriverError::Invalid("the RX queue has no pool".into()))?;
    let (q, notifier, slots, csum) = attach(&mut a, true)?;
    let mut rxq = RxQueue::new(q, notifier, slots, pool, a.port, a.counters, csum);
    rxq.resume(false);
    Ok(Box::new(rxq))
}

/// The TX queue a secondary process drives.
pub(crate) fn attach_tx(mut a: Attach) -> DriverResult<Box<dyn TxQueueOps>> {
    let (q, notifier, slots, csum) = attach(&mut a, false)?;
    let mut txq = TxQueue::new(q, notifier, slots, a.counters, csum);
    txq.resume(false);
    Ok(Box::new(txq))
}
