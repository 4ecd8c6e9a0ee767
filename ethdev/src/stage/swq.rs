//! Software queues: a port with more RX (or TX) queues than its driver has device queues.
//!
//! RX: the driver's queues (kernel queues) sit in [`SharedRx`]es. Whichever lcore polls any of
//! the port's RX queues first takes each kernel queue in turn for one burst (a compare-and-swap
//! that never waits: if another lcore has it, this one goes on), receives from the driver, and
//! hands every packet to the queue the RSS redirection table gives it (or, without RSS, to the
//! kernel queue's own number), through one single-producer single-consumer ring per pair of
//! kernel queue and RX queue; then it takes what its own rings hold. So every polled queue
//! makes traffic move, a packet never waits for a queue nobody polls to be polled, and a ring
//! that nobody empties fills and its excess is freed and counted as `imissed` without slowing
//! the others. Packets of one flow take one ring, so they stay in order.
//!
//! TX: software TX queues beyond the driver's share the driver's queue `q % device queues`,
//! taking turns for one burst (a spin on a flag held for the driver's `tx_burst` only). The
//! driver counts into counters private to the stage; each software queue gets the packets,
//! bytes and errors of its own bursts.
//!
//! This module owns the atomics protocol that gives one lcore at a time a kernel queue.

use std::cell::UnsafeCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rpdk_mbuf::{BurstView, MbufBurst, MbufConsumer, MbufProducer, MbufRing};
use rpdk_ring::{RingFlags, Sc, Sp};

use super::port_inbox::PortSteer;
use super::rss::RssState;
use super::{RxStage, Verdict, active};
use crate::driver::{RxQueueOps, TxQueueOps};
use crate::stats::QueueCounters;

/// A flag that gives one thread at a time the value behind it.
struct Exclusive<T> {
    busy: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached by the thread that set `busy` (acquire) until it clears it
// (release), so it moves between threads as a `Send` value does.
unsafe impl<T: Send> Sync for Exclusive<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Exclusive<T> {}

impl<T> Exclusive<T> {
    fn new(value: T) -> Exclusive<T> {
        Exclusive {
            busy: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Runs `f` on the value if nobody else has it.
    #[inline]
    fn try_with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        if self
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        // Released even if `f` panics.
        struct Release<'a>(&'a AtomicBool);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let _r = Release(&self.busy);
        // SAFETY: `busy` was false and is now ours: no other thread reaches the value until we
        // clear it.
        Some(f(unsafe { &mut *self.value.get() }))
    }

    /// Runs `f` on the value, waiting for whoever has it (for one burst).
    #[inline]
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut f = Some(f);
        let mut spins = 0u32;
        loop {
            // `try_with` calls its closure only once it has the value: `f` is taken once.
            if let Some(Some(r)) = self.try_with(|v| f.take().map(|f| f(v))) {
                return r;
            }
            spins += 1;
            if spins < 128 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// A kernel RX queue and where its packets go.
struct KernelRx {
    /// The driver's queue (set up with the port; `None` until then).
    ops: Option<Box<dyn RxQueueOps>>,
    /// The ring to each RX queue (`None` until that queue is set up).
    to: Vec<Option<MbufProducer<Sp>>>,
    /// The driver's counters for this queue: its errors, `nombuf` and `missed` are the
    /// port's; the stage adds ring overflows to `missed`.
    counters: Arc<QueueCounters>,
    scratch: MbufBurst<64>,
    /// The stage of the RX queue of the same number: its classifier runs here, on the packets
    /// as they leave the kernel queue, and its drops count them.
    stage: Arc<RxStage>,
    /// Whether to classify here (`PortStage::upstream`).
    upstream: Arc<AtomicBool>,
    verdicts: [Verdict; 64],
    /// Into other ports' inboxes (PORT_ID).
    ports: PortSteer,
}

/// One kernel RX queue, shared by the port's software RX queues.
pub(crate) struct SharedRx {
    port: u16,
    kernel: u16,
    inner: Exclusive<KernelRx>,
}

impl SharedRx {
    pub fn new(
        port: u16,
        kernel: u16,
        nb_rx: u16,
        counters: Arc<QueueCounters>,
        stage: Arc<RxStage>,
        upstream: Arc<AtomicBool>,
    ) -> SharedRx {
        SharedRx {
            port,
            kernel,
            inner: Exclusive::new(KernelRx {
                ops: None,
                to: (0..nb_rx).map(|_| None).collect(),
                counters,
                scratch: MbufBurst::new(),
                stage,
                upstream,
                verdicts: [Verdict::Keep; 64],
                ports: PortSteer::new(),
            }),
        }
    }

    /// Installs the driver's queue (dropping the one before).
    pub fn set_ops(&self, ops: Box<dyn RxQueueOps>) {
        let old = self.inner.with(move |k| k.ops.replace(ops));
        drop(old);
    }

    /// Drops the driver's queue (before the queue is set up again, so that what it holds is
    /// free for the new one).
    pub fn clear_ops(&self) {
        let old = self.inner.with(|k| k.ops.take());
        drop(old);
    }

    /// Installs the ring to queue `queue` (dropping the one before).
    fn set_ring(&self, queue: u16, p: MbufProducer<Sp>) {
        let old = self.inner.with(move |k| k.to[queue as usize].replace(p));
        drop(old);
    }

    /// Receives one burst from the kernel queue, if nobody else is, classifies it (when the
    /// port has a classifier and hairpin queues) and spreads it.
    ///
    /// With hairpin queues the classifier runs here rather than on the queue that receives a
    /// packet, as a NIC classifies at reception: a packet a rule sends to a hairpin queue
    /// moves as soon as any queue of the port is polled, its service's too, so it needs no
    /// application.
    #[inline]
    fn pull(&self, rss: Option<&RssState>) {
        let (port, kernel) = (self.port, self.kernel);
        self.inner.try_with(|k| {
            let Some(ops) = k.ops.as_mut() else {
                return;
            };
            let n = ops.rx_burst(&mut k.scratch.view());
            if n == 0 {
                return;
            }
            let verdicts = &mut k.verdicts[..n];
            let classify = k.upstream.load(Ordering::Relaxed)
                && k.stage.active.load(Ordering::Acquire) & active::CLASSIFIER != 0;
            if classify {
                verdicts.fill(Verdict::Keep);
                let pkts = &mut k.scratch.as_mut_slice()[..n];
                k.stage
                    .classifier
                    .run(|c| c.rx(port, kernel, pkts, verdicts));
            }
            let snap = rss.map(RssState::snapshot);
            let mut overflow = 0u64;
            let mut dropped = 0u64;
            let to = &k.to;
            let ports = &mut k.ports;
            let mut i = 0;
            k.scratch.take_front(n, |mut m| {
                let v = if classify { verdicts[i] } else { Verdict::Keep };
                i += 1;
                let dest = match v {
                    Verdict::Keep => None,
                    Verdict::Queue(q) => Some(q),
                    Verdict::Drop => {
                        dropped += 1;
                        drop(m);
                        return;
                    }
                    Verdict::Port(p) => {
                        if !ports.send(p, m) {
                            dropped += 1;
                        }
                        return;
                    }
                };
                let dest = dest.unwrap_or_else(|| match (rss, &snap) {
                    (Some(r), Some(s)) => match s.hash(&m) {
                        Some(h) => {
                            m.set_rss_hash(h);
                            r.queue_of(h)
                        }
                        // Not hashed (no type applies): queue 0, as a NIC.
                        None => 0,
                    },
                    _ => kernel,
                });
                match to.get(dest as usize).and_then(Option::as_ref) {
                    Some(p) => {
                        if p.enqueue(m).is_err() {
                            overflow += 1;
                        }
                    }
                    None => overflow += 1,
                }
            });
            if overflow > 0 {
                k.counters.add_missed(overflow);
            }
            if dropped > 0 {
                let d = &k.stage.drops;
                d.store(d.load(Ordering::Relaxed) + dropped, Ordering::Relaxed);
            }
        });
    }
}

/// An RX queue of a port with software queues.
pub(crate) struct SwRxQueue {
    kernels: Arc<[SharedRx]>,
    /// Where to start pulling (its own kernel queue first, when it has one).
    first: usize,
    /// The rings from each kernel queue.
    from: Vec<MbufConsumer<Sc>>,
    rss: Option<Arc<RssState>>,
    counters: Arc<QueueCounters>,
}

impl SwRxQueue {
    /// RX queue `queue`: rings of `size` slots from each kernel queue of `kernels`.
    pub fn new(
        queue: u16,
        size: u32,
        kernels: Arc<[SharedRx]>,
        rss: Option<Arc<RssState>>,
        counters: Arc<QueueCounters>,
    ) -> Result<SwRxQueue, rpdk_mbuf::RingError> {
        let size = size.max(64).next_power_of_two();
        let mut from = Vec::with_capacity(kernels.len());
        for k in kernels.iter() {
            let ring = MbufRing::new(size, RingFlags::SP_ENQ | RingFlags::SC_DEQ)?;
            from.push(ring.consumer::<Sc>()?);
            k.set_ring(queue, ring.producer::<Sp>()?);
        }
        Ok(SwRxQueue {
            first: queue as usize % kernels.len().max(1),
            kernels,
            from,
            rss,
            counters,
        })
    }
}

impl RxQueueOps for SwRxQueue {
    #[inline]
    fn rx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let nk = self.kernels.len();
        for i in 0..nk {
            self.kernels[(self.first + i) % nk].pull(self.rss.as_deref());
        }
        let start = pkts.len();
        for c in &self.from {
            if pkts.room() == 0 {
                break;
            }
            c.dequeue_burst(pkts);
        }
        let got = &pkts.as_slice()[start..];
        let bytes: u64 = got.iter().map(|m| m.pkt_len() as u64).sum();
        self.counters.add(got.len() as u64, bytes);
        got.len()
    }
}

impl Drop for SwRxQueue {
    fn drop(&mut self) {
        for c in &self.from {
            c.drain();
        }
    }
}

/// A driver TX queue shared by software TX queues.
pub(crate) struct SharedTx {
    inner: Exclusive<KernelTx>,
}

struct KernelTx {
    ops: Option<Box<dyn TxQueueOps>>,
    /// The driver's counters for this queue, private to the stage.
    counters: Arc<QueueCounters>,
}

impl SharedTx {
    pub fn new(counters: Arc<QueueCounters>) -> SharedTx {
        SharedTx {
            inner: Exclusive::new(KernelTx {
                ops: None,
                counters,
            }),
        }
    }

    /// Installs the driver's queue (dropping the one before).
    pub fn set_ops(&self, ops: Box<dyn TxQueueOps>) {
        let old = self.inner.with(move |k| k.ops.replace(ops));
        drop(old);
    }

    /// Drops the driver's queue.
    pub fn clear_ops(&self) {
        let old = self.inner.with(|k| k.ops.take());
        drop(old);
    }
}

/// A TX queue of a port with software TX queues.
pub(crate) struct SwTxQueue {
    shared: Arc<SharedTx>,
    counters: Arc<QueueCounters>,
}

impl SwTxQueue {
    pub fn new(shared: Arc<SharedTx>, counters: Arc<QueueCounters>) -> SwTxQueue {
        SwTxQueue { shared, counters }
    }
}

impl TxQueueOps for SwTxQueue {
    #[inline]
    fn tx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let (n, d) = self.shared.inner.with(|k| {
            let Some(ops) = k.ops.as_mut() else {
                return (0, Default::default());
            };
            let before = k.counters.snapshot();
            let n = ops.tx_burst(pkts);
            let after = k.counters.snapshot();
            (
                n,
                (
                    after.packets - before.packets,
                    after.bytes - before.bytes,
                    after.errors - before.errors,
                ),
            )
        });
        let (packets, bytes, errors): (u64, u64, u64) = d;
        self.counters.add(packets, bytes);
        if errors > 0 {
            self.counters.add_errors(errors);
        }
        n
    }
}
