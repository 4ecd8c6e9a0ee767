//! Queue handles: the per-lcore owners of a port's RX and TX queues, with the burst calls.
//!
//! A burst call checks that the port is started, calls the driver and then the queue's software
//! stage when it has work (one branch when it has none): the driver counts packets and bytes in
//! its own loops (see [`crate::driver`]); the stage is [`crate::stage`].

use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rpdk_mbuf::MbufBurst;

use rpdk_mbuf::{BurstView, MbufConsumer, MbufProducer};
use rpdk_ring::{Mp, Sc};

use crate::driver::{RxQueueOps, TxQueueOps};
use crate::port::{PortInner, Slot};
use crate::stage::port_inbox::{InboxDrain, PortSteer};
use crate::stage::{RxStage, TxStage, Verdict, active};

/// An RX queue, owned by one thread at a time (`Send`, not `Clone` nor `Sync`). Dropping it
/// gives the queue back to its port.
pub struct RxQueue {
    port: Arc<PortInner>,
    queue: u16,
    ops: ManuallyDrop<Box<dyn RxQueueOps>>,
    stage: Arc<RxStage>,
    /// What the slow path of the stage needs, made when first needed.
    slow: Option<Box<RxSlow>>,
    /// Every RX queue's stage of the port (for the classifier's `Queue` verdicts).
    stages: Vec<Arc<RxStage>>,
    /// The classifier runs before the queue (`PortStage::upstream`: `swq.rs` classifies what
    /// it takes from the kernel queues), so not again here.
    upstream: Arc<std::sync::atomic::AtomicBool>,
}

/// The classifier's working state of a queue handle.
struct RxSlow {
    /// This queue's inbox (taken from its stage, given back on drop).
    inbox: Option<MbufConsumer<Sc>>,
    /// Into each queue's inbox.
    steer: Vec<Option<MbufProducer<Mp>>>,
    /// Into other ports' inboxes (PORT_ID).
    ports: PortSteer,
    verdicts: Vec<Verdict>,
}

impl RxQueue {
    pub(crate) fn new(
        port: Arc<PortInner>,
        queue: u16,
        ops: Box<dyn RxQueueOps>,
        stages: Vec<Arc<RxStage>>,
        upstream: Arc<std::sync::atomic::AtomicBool>,
    ) -> RxQueue {
        RxQueue {
            port,
            queue,
            ops: ManuallyDrop::new(ops),
            stage: stages[queue as usize].clone(),
            slow: None,
            stages,
            upstream,
        }
    }

    /// The port id.
    pub fn port_id(&self) -> u16 {
        self.port.id
    }

    /// The queue id.
    pub fn queue_id(&self) -> u16 {
        self.queue
    }

    /// Receives up to `burst.room()` packets into `burst` and returns how many
    /// (DPDK's `rte_eth_rx_burst`); 0 while the port is stopped.
    #[inline]
    pub fn rx_burst<const N: usize>(&mut self, burst: &mut MbufBurst<N>) -> usize {
        self.rx_burst_max(burst, N)
    }

    /// Receives at most `max` packets into `burst` (DPDK's `nb_pkts`).
    #[inline]
    pub fn rx_burst_max<const N: usize>(&mut self, burst: &mut MbufBurst<N>, max: usize) -> usize {
        if !self.port.started.load(Ordering::Relaxed) {
            return 0;
        }
        let start = burst.len();
        let n = self.ops.rx_burst(&mut burst.view_limit(max));
        if self.stage.active.load(Ordering::Relaxed) == 0 {
            return n;
        }
        let room = max.saturating_sub(n);
        burst.with_tail_view(start, room, |v| self.slow_path(v))
    }

    /// The stage's work on the packets just received: packet types, the classifier, the
    /// inbox, the callbacks; how many packets are left.
    #[inline(never)]
    fn slow_path(&mut self, v: &mut BurstView<'_>) -> usize {
        let (port, queue) = (self.port.id, self.queue);
        let on = self.stage.active.load(Ordering::Acquire);
        if on & active::PTYPES != 0 {
            let mask = self.stage.ptypes.load(Ordering::Relaxed);
            for m in v.as_mut_slice() {
                let (pt, _) = m.parse_packet_type(mask);
                m.set_packet_type(pt);
            }
        }
        if on & active::CLASSIFIER != 0 {
            self.classify(v);
        }
        if on & active::CALLBACKS != 0 {
            self.stage.callbacks.run(|cb| cb(port, queue, v));
        }
        v.len()
    }

    /// Runs the classifier and carries out its verdicts, then takes what other queues sent.
    fn classify(&mut self, v: &mut BurstView<'_>) {
        let (port, queue) = (self.port.id, self.queue);
        let slow = self.slow.get_or_insert_with(|| {
            Box::new(RxSlow {
                inbox: self
                    .stage
                    .inbox_rx
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take(),
                steer: self
                    .stages
                    .iter()
                    .map(|s| s.inbox.producer::<Mp>().ok())
                    .collect(),
                ports: PortSteer::new(),
                verdicts: Vec::new(),
            })
        });
        let n = v.len();
        if slow.verdicts.len() < n {
            slow.verdicts.resize(n, Verdict::Keep);
        }
        let verdicts = &mut slow.verdicts[..n];
        verdicts.fill(Verdict::Keep);
        let mut ran = false;
        if !self.upstream.load(Ordering::Relaxed) {
            self.stage.classifier.run(|c| {
                c.rx(port, queue, v.as_mut_slice(), verdicts);
                ran = true;
            });
        }
        if ran && verdicts.iter().any(|&d| d != Verdict::Keep) {
            let mut i = 0;
            let mut dropped = 0u64;
            let steer = &slow.steer;
            let ports = &mut slow.ports;
            v.retain_owned(|m| {
                let d = verdicts[i];
                i += 1;
                match d {
                    Verdict::Keep => Some(m),
                    Verdict::Queue(q) if q == queue => Some(m),
                    Verdict::Drop => {
                        dropped += 1;
                        None
                    }
                    Verdict::Queue(q) => {
                        // Moved to the other queue's inbox, or freed when it is full.
                        let sent = steer
                            .get(q as usize)
                            .and_then(Option::as_ref)
                            .is_some_and(|p| p.enqueue(m).is_ok());
                        if !sent {
                            dropped += 1;
                        }
                        None
                    }
                    Verdict::Port(p) => {
                        if !ports.send(p, m) {
                            dropped += 1;
                        }
                        None
                    }
                }
            });
            if dropped > 0 {
                let d = &self.stage.drops;
                d.store(d.load(Ordering::Relaxed) + dropped, Ordering::Relaxed);
            }
        }
        if let Some(inbox) = &slow.inbox
            && v.room() > 0
        {
            inbox.dequeue_burst(v);
        }
    }
}

impl std::fmt::Debug for RxQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RxQueue(port {}, queue {})", self.port.id, self.queue)
    }
}

impl std::fmt::Debug for TxQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TxQueue(port {}, queue {})", self.port.id, self.queue)
    }
}

impl Drop for RxQueue {
    fn drop(&mut self) {
        if let Some(inbox) = self.slow.take().and_then(|s| s.inbox) {
            *self
                .stage
                .inbox_rx
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(inbox);
        }
        // SAFETY: taken once, here.
        let ops = unsafe { ManuallyDrop::take(&mut self.ops) };
        let mut st = self.port.lock();
        if let Some(slot) = st.rxq.get_mut(self.queue as usize)
            && matches!(slot, Slot::Taken)
        {
            // A secondary's queue object goes (the primary lends the queue again on the next
            // take, as it may have been set up anew meanwhile).
            *slot = if self.port.secondary {
                drop(ops);
                Slot::Empty
            } else {
                Slot::Ready(ops)
            };
        }
        drop(st);
        if let Some(sh) = &self.port.shared {
            sh.release(true, self.queue);
        }
    }
}

/// A TX queue, owned by one thread at a time. Dropping it gives the queue back to its port.
pub struct TxQueue {
    port: Arc<PortInner>,
    queue: u16,
    ops: ManuallyDrop<Box<dyn TxQueueOps>>,
    stage: Arc<TxStage>,
    verdicts: Vec<Verdict>,
    /// Egress PORT_ID verdicts: into other ports' inboxes (made when first needed).
    steer: Option<Box<PortSteer>>,
    /// Queue 0: what other ports hand to this one (made when first needed).
    inbox: Option<Box<InboxDrain>>,
}

impl TxQueue {
    pub(crate) fn new(
        port: Arc<PortInner>,
        queue: u16,
        ops: Box<dyn TxQueueOps>,
        stage: Arc<TxStage>,
    ) -> TxQueue {
        TxQueue {
            port,
            queue,
            ops: ManuallyDrop::new(ops),
            stage,
            verdicts: Vec::new(),
            steer: None,
            inbox: None,
        }
    }

    /// The port id.
    pub fn port_id(&self) -> u16 {
        self.port.id
    }

    /// The queue id.
    pub fn queue_id(&self) -> u16 {
        self.queue
    }

    /// Sends packets from the front of `burst` and returns how many were taken (DPDK's
    /// `rte_eth_tx_burst`); the rest stay in `burst`, in order. 0 while the port is stopped.
    /// Packets a TX callback dropped count as taken. On TX queue 0 it also sends what other
    /// ports' flow rules handed to this port (PORT_ID), an empty `burst` too.
    #[inline]
    pub fn tx_burst<const N: usize>(&mut self, burst: &mut MbufBurst<N>) -> usize {
        if !self.port.started.load(Ordering::Relaxed) {
            return 0;
        }
        if self.stage.active.load(Ordering::Relaxed) != 0 {
            return self.tx_slow(burst);
        }
        if burst.is_empty() {
            return 0;
        }
        self.ops.tx_burst(&mut burst.view())
    }

    /// The classifier's egress verdicts and the TX callbacks, then the driver; then, on
    /// queue 0, the port's inbox.
    #[inline(never)]
    fn tx_slow<const N: usize>(&mut self, burst: &mut MbufBurst<N>) -> usize {
        let on = self.stage.active.load(Ordering::Acquire);
        let taken = if burst.is_empty() {
            0
        } else {
            self.tx_stage(burst, on)
        };
        if on & active::INBOX != 0 {
            let port = &self.port;
            self.inbox
                .get_or_insert_with(|| Box::new(InboxDrain::new(port.clone())))
                .run(&mut **self.ops);
        }
        taken
    }

    fn tx_stage<const N: usize>(&mut self, burst: &mut MbufBurst<N>, on: u32) -> usize {
        let (port, queue) = (self.port.id, self.queue);
        let before = burst.len();
        let mut v = burst.view();
        if on & active::CLASSIFIER != 0 {
            let n = v.len();
            if self.verdicts.len() < n {
                self.verdicts.resize(n, Verdict::Keep);
            }
            let verdicts = &mut self.verdicts[..n];
            verdicts.fill(Verdict::Keep);
            self.stage
                .classifier
                .run(|c| c.tx(port, queue, v.as_mut_slice(), verdicts));
            let moves = |d: &Verdict| match *d {
                Verdict::Drop => true,
                Verdict::Port(p) => p != port,
                _ => false,
            };
            if verdicts.iter().any(moves) {
                let steer = self.steer.get_or_insert_with(|| Box::new(PortSteer::new()));
                let mut i = 0;
                // Dropped or handed to another port: both count as taken.
                v.retain_owned(|m| {
                    i += 1;
                    match verdicts[i - 1] {
                        Verdict::Drop => None,
                        Verdict::Port(p) if p != port => {
                            steer.send(p, m);
                            None
                        }
                        _ => Some(m),
                    }
                });
            }
        }
        if on & active::CALLBACKS != 0 {
            self.stage.callbacks.run(|cb| cb(port, queue, &mut v));
        }
        let dropped = before.saturating_sub(v.len());
        dropped + self.ops.tx_burst(&mut v)
    }
}

impl Drop for TxQueue {
    fn drop(&mut self) {
        // SAFETY: taken once, here.
        let ops = unsafe { ManuallyDrop::take(&mut self.ops) };
        let mut st = self.port.lock();
        if let Some(slot) = st.txq.get_mut(self.queue as usize)
            && matches!(slot, Slot::Taken)
        {
            // A secondary's queue object goes (the primary lends the queue again on the next
            // take, as it may have been set up anew meanwhile).
            *slot = if self.port.secondary {
                drop(ops);
                Slot::Empty
            } else {
                Slot::Ready(ops)
            };
        }
        drop(st);
        if let Some(sh) = &self.port.shared {
            sh.release(false, self.queue);
        }
    }
}
