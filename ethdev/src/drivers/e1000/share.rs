//! The queues of net_e1000_em driven from a secondary process.
//!
//! The primary passes BAR 0 (the registers: the secondary writes the tail registers) through
//! `pci_share`, and in the driver's bytes the ring's size and the names of the descriptor
//! ring's and the mbuf slots' memzones:
//!
//! | bytes | what |
//! |---|---|
//! | 0..4 | descriptors (u32, little-endian) |
//! | then | the ring's memzone name, then the slots', each prefixed by its length (u8) |
//!
//! Whoever drops a queue object while the queue is handed over (the primary's when it lends
//! it, before its answer goes out; the secondary's when it gives it back) leaves the ring and
//! the mbufs in place and parks the position in the queue's record; the next driver takes them
//! from there. A secondary that dies holding the queue parks nothing: the primary re-arms the
//! RX ring from its slots, and empties the TX ring, when it takes the queue back.

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rpdk_eal::bus::PciHandle;
use rpdk_eal::memzone;

use super::rxtx::{RingState, RxQueue, TxQueue};
use crate::driver::{DriverResult, RxQueueOps, SharedQueue, TxQueueOps};
use crate::drivers::dma::{DescRing, Descriptor};
use crate::drivers::pci_share::{self, Reader, push_name};
use crate::drivers::slots::MbufSlots;
use crate::error::DriverError;
use crate::secondary::Attach;

/// What the primary passes of the queue whose state is `state`; from here on, the queue
/// object dropped next hands the queue over.
pub(super) fn share(dev: &PciHandle, state: Option<&Arc<RingState>>) -> DriverResult<SharedQueue> {
    let state = state.ok_or_else(|| DriverError::Invalid("the queue is not set up".into()))?;
    pci_share::check_shared(&state.words)?;
    let mut own = state.count.to_le_bytes().to_vec();
    push_name(&mut own, state.ring_zone.name());
    push_name(&mut own, state.slots_zone.name());
    let shared = pci_share::share(dev, &[0], &own)?;
    state.hand_over.store(true, Ordering::Release);
    Ok(shared)
}

/// The device, ring, slots and state a secondary builds its queue object from.
fn attach<D: Descriptor>(
    a: &mut Attach,
    rx: bool,
) -> DriverResult<(PciHandle, DescRing<D>, MbufSlots, Arc<RingState>)> {
    let (dev, own) = pci_share::attach(std::mem::take(&mut a.shared))?;
    let mut r = Reader(&own);
    let count = r.u32()? as usize;
    let find = |name: String| {
        memzone::lookup(&name).ok_or_else(|| {
            DriverError::Invalid(format!(
                "the queue's memzone '{name}' is not in shared memory"
            ))
        })
    };
    let ring = DescRing::attach(find(r.name()?)?, count, false)?;
    let slots = MbufSlots::attach(find(r.name()?)?, count, false)?;
    let words = pci_share::take_words(a.port, rx, a.queue)?;
    let state = RingState::new(a.queue, words, &ring, &slots);
    // From here on, dropping the queue object gives the queue back.
    state.hand_over.store(true, Ordering::Release);
    Ok((dev, ring, slots, Arc::new(state)))
}

/// The RX queue a secondary process drives.
pub(crate) fn attach_rx(mut a: Attach) -> DriverResult<Box<dyn RxQueueOps>> {
    let pool = a
        .pool
        .clone()
        .ok_or_else(|| DriverError::Invalid("the RX queue has no pool".into()))?;
    let (dev, ring, slots, state) = attach(&mut a, true)?;
    Ok(Box::new(RxQueue {
        next: state.position() as usize % slots.len(),
        ring,
        slots,
        pool,
        port: a.port,
        dev,
        counters: a.counters,
        state,
        discarding: false,
        idle_polls: 0,
    }))
}

/// The TX queue a secondary process drives.
pub(crate) fn attach_tx(mut a: Attach) -> DriverResult<Box<dyn TxQueueOps>> {
    let (dev, ring, slots, state) = attach(&mut a, false)?;
    Ok(Box::new(TxQueue::resume(
        ring, slots, dev, a.counters, state,
    )))
}
