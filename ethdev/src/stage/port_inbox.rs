//! PORT_ID in software: a classifier's [`Verdict::Port`](super::Verdict::Port) hands a packet
//! to another port's TX.
//!
//! Each port has an inbox, a multi-producer, single-consumer ring made the first time any
//! queue hands it a packet. The lcore that classified the packet enqueues it (one ring
//! operation, no lock, no allocation); the lcore that owns the destination port's **TX queue
//! 0** drains the inbox into that queue's driver at each of its `tx_burst` calls (an empty
//! burst too). So every TX queue keeps one owner, as the driver requires, and a port that
//! never sees a PORT_ID verdict has no inbox and pays nothing: the inbox sets a bit of TX queue
//! 0's stage `active` word when it is made, the one branch the burst path already has.
//!
//! A packet is dropped and counted in the classifying queue's `rx_qN_classifier_drops` (or, at
//! TX, as taken) when the destination port does not exist, is stopped, or its inbox is full.
//! Packets still in an inbox when the port stops are freed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rpdk_mbuf::{Mbuf, MbufBurst, MbufConsumer, MbufProducer, MbufRing};
use rpdk_ring::{Mp, RingFlags, Sc};

use crate::driver::TxQueueOps;
use crate::port::{MAX_ETHPORTS, PortInner};

/// Slots of a port's inbox.
const INBOX_SIZE: u32 = 1024;

/// A port's inbox.
pub(crate) struct PortInbox {
    ring: MbufRing,
    /// The consumer, held by TX queue 0's handle while it lives.
    rx: Mutex<Option<MbufConsumer<Sc>>>,
    /// Packets sent out of the inbox.
    pub sent: AtomicU64,
}

impl PortInbox {
    fn new() -> Option<PortInbox> {
        let ring = MbufRing::new(INBOX_SIZE, RingFlags::SC_DEQ).ok()?;
        let rx = ring.consumer::<Sc>().ok()?;
        Some(PortInbox {
            ring,
            rx: Mutex::new(Some(rx)),
            sent: AtomicU64::new(0),
        })
    }

    /// Frees what is in the inbox (the port stopped), unless TX queue 0's handle holds it.
    pub fn drain(&self) {
        if let Some(c) = self.rx.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            c.drain();
        }
    }
}

impl Drop for PortInbox {
    fn drop(&mut self) {
        self.drain();
    }
}

/// The inbox of `port`, made on first use (and TX queue 0 told to drain it).
pub(crate) fn inbox_of(port: &PortInner) -> Option<&PortInbox> {
    static MADE: Mutex<()> = Mutex::new(());
    if let Some(i) = port.inbox.get() {
        return i.as_ref();
    }
    let _g = MADE.lock().unwrap_or_else(|e| e.into_inner());
    let inbox = port.inbox.get_or_init(PortInbox::new).as_ref()?;
    if let Some(tx0) = port.lock().stage.tx.first() {
        tx0.set_active(super::active::INBOX, true);
    }
    Some(inbox)
}

/// A queue's way into other ports' inboxes: one producer per destination, looked up the first
/// time a packet goes there.
pub(crate) struct PortSteer {
    dest: Vec<Option<(Arc<PortInner>, MbufProducer<Mp>)>>,
    /// Ports looked up already (found or not), a bit each.
    looked: u64,
}

impl PortSteer {
    pub fn new() -> PortSteer {
        PortSteer {
            dest: (0..MAX_ETHPORTS).map(|_| None).collect(),
            looked: 0,
        }
    }

    /// Hands `m` to port `p`'s inbox; false (and `m` freed) when `p` does not exist, is
    /// stopped or its inbox is full.
    pub fn send(&mut self, p: u16, m: Mbuf) -> bool {
        let Some(slot) = self.dest.get_mut(p as usize) else {
            return false;
        };
        if self.looked & (1 << p) == 0 {
            self.looked |= 1 << p;
            *slot = crate::port::inner_of(p).and_then(|port| {
                let prod = inbox_of(&port)?.ring.producer::<Mp>().ok()?;
                Some((port, prod))
            });
        }
        match slot {
            Some((port, prod)) if port.started.load(Ordering::Relaxed) => prod.enqueue(m).is_ok(),
            _ => false,
        }
    }
}

/// TX queue 0's end of its port's inbox: the consumer (taken while the handle lives) and the
/// packets the driver did not take yet.
pub(crate) struct InboxDrain {
    port: Arc<PortInner>,
    rx: Option<MbufConsumer<Sc>>,
    pending: MbufBurst<32>,
}

impl InboxDrain {
    pub fn new(port: Arc<PortInner>) -> InboxDrain {
        let rx = port
            .inbox
            .get()
            .and_then(Option::as_ref)
            .and_then(|i| i.rx.lock().unwrap_or_else(|e| e.into_inner()).take());
        InboxDrain {
            port,
            rx,
            pending: MbufBurst::new(),
        }
    }

    /// Sends up to a burst of what waits in the inbox.
    pub fn run(&mut self, ops: &mut dyn TxQueueOps) {
        let Some(rx) = &self.rx else { return };
        rx.dequeue_burst(&mut self.pending.view());
        if self.pending.is_empty() {
            return;
        }
        let n = ops.tx_burst(&mut self.pending.view());
        if let Some(i) = self.port.inbox.get().and_then(Option::as_ref) {
            i.sent.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

impl Drop for InboxDrain {
    fn drop(&mut self) {
        if let Some(rx) = self.rx.take()
            && let Some(i) = self.port.inbox.get().and_then(Option::as_ref)
        {
            *i.rx.lock().unwrap_or_else(|e| e.into_inner()) = Some(rx);
        }
    }
}

/// The inbox slot of a port: `None` inside until first use, `Some(None)` if it could not be
/// made.
pub(crate) type InboxSlot = OnceLock<Option<PortInbox>>;
