//! [`Ring`]: the ring object with its sync modes as run-time values, and [`RingBuilder`].

use std::fmt;
use std::io::Write;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::handles::{Consumer, Producer};
use crate::headtail::{Hts, Mt, Rts, St};
use crate::layout::{self, CLAIM_CONSUMER, CLAIM_PRODUCER, Init, RING_NAME_MAX};
use crate::shared::{Dequeued, Enqueued, Shared};
use crate::sync::{ConsumerMode, ProducerMode, RingFlags, SyncType};

/// A ring whose sync modes are run-time values, as a DPDK `struct rte_ring *`.
///
/// `Ring` is a counted handle (`Clone + Send + Sync`): the ring lives while any handle to it
/// (or a [`Producer`]/[`Consumer`] taken from it) lives. Two ways to use it:
///
/// - take typed handles, [`producer`](Ring::producer) and [`consumer`](Ring::consumer), whose
///   safe operations are checked at compile time for the side's mode;
/// - call its own `unsafe` operations ([`enqueue_bulk`](Ring::enqueue_bulk), ...), which run
///   the side's mode chosen at creation (one well-predicted branch, then the same code as the
///   typed handles). The contract is DPDK's: on a single-producer (single-consumer) side, no two
///   threads enqueue (dequeue) at the same time. This is what a mempool whose ring mode comes
///   from run-time flags uses.
///
/// ```
/// use rpdk_ring::{Ring, RingFlags, SyncType};
///
/// let ring = Ring::<u64>::new(1024, RingFlags::MP_RTS_ENQ)?;
/// assert_eq!((ring.prod_sync(), ring.cons_sync()), (SyncType::MtRts, SyncType::Mt));
/// // SAFETY: neither side is single-thread, so any thread may call these.
/// let done = unsafe { ring.enqueue_bulk(&[1, 2, 3]) };
/// assert_eq!((done.count, done.free_space), (3, 1020));
/// let mut out = [0; 8];
/// let got = unsafe { ring.dequeue_burst(&mut out) };
/// assert_eq!(&out[..got.count], &[1, 2, 3]);
/// # Ok::<(), rpdk_ring::Error>(())
/// ```
pub struct Ring<T> {
    pub(crate) shared: Arc<Shared<T>>,
}

impl<T> Clone for Ring<T> {
    fn clone(&self) -> Self {
        Ring {
            shared: self.shared.clone(),
        }
    }
}

/// Everything about a new ring: count, flags (or sync types), name, NUMA socket.
///
/// ```
/// use rpdk_ring::{Mp, RingBuilder, Sc};
///
/// let (tx, rx) = RingBuilder::new(100).exact_size(true).pair::<u32, Mp, Sc>()?;
/// assert_eq!(tx.ring().capacity(), 100);
/// let tx2 = tx.clone(); // MP handles clone; the SC one does not.
/// tx2.enqueue(7).unwrap();
/// assert_eq!(rx.dequeue(), Some(7));
/// # Ok::<(), rpdk_ring::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct RingBuilder {
    count: u32,
    flags: RingFlags,
    name: String,
    pub(crate) socket: Option<u32>,
}

impl RingBuilder {
    /// A ring of `count` slots: a power of two with capacity `count - 1`, unless
    /// [`exact_size`](Self::exact_size). MP/MC, unnamed, on the caller's socket.
    pub fn new(count: u32) -> RingBuilder {
        RingBuilder {
            count,
            flags: RingFlags::empty(),
            name: String::new(),
            socket: None,
        }
    }

    /// The ring's name (at most 28 bytes); needed for [`create`](Self::create).
    pub fn name(mut self, name: &str) -> RingBuilder {
        self.name = name.to_string();
        self
    }

    /// The creation flags (replacing any set before).
    pub fn flags(mut self, flags: RingFlags) -> RingBuilder {
        self.flags = flags;
        self
    }

    /// With `true`, the capacity is exactly `count` (`RING_F_EXACT_SZ`).
    pub fn exact_size(mut self, exact: bool) -> RingBuilder {
        let keep = self.flags.bits() & !RingFlags::EXACT_SZ.bits();
        let bit = if exact { RingFlags::EXACT_SZ.bits() } else { 0 };
        self.flags = RingFlags::from_bits(keep | bit);
        self
    }

    /// The producer and consumer sync types (replacing the mode flags).
    pub fn sync(mut self, prod: SyncType, cons: SyncType) -> RingBuilder {
        let exact = self.flags.bits() & RingFlags::EXACT_SZ.bits();
        self.flags = RingFlags::from_bits(exact | RingFlags::for_sync(prod, cons).bits());
        self
    }

    /// The NUMA socket of a named ring's memory (`None`: the caller's).
    pub fn socket(mut self, socket: Option<u32>) -> RingBuilder {
        self.socket = socket;
        self
    }

    /// Checks everything and says what the header will hold.
    pub(crate) fn plan<T>(&self) -> Result<(Init<'_>, usize)> {
        let invalid = |reason: String| Error::Invalid {
            name: self.name.clone(),
            reason,
        };
        if self.name.len() > RING_NAME_MAX {
            return Err(invalid(format!(
                "the name has {} bytes; at most {RING_NAME_MAX}",
                self.name.len()
            )));
        }
        if size_of::<T>() == 0 {
            return Err(invalid("elements of size 0 cannot be queued".into()));
        }
        if size_of::<T>() > u32::MAX as usize {
            return Err(invalid(format!(
                "elements of {} bytes are too large",
                size_of::<T>()
            )));
        }
        if align_of::<T>() > 128 {
            return Err(invalid(format!(
                "elements aligned to {} bytes; at most 128 is supported",
                align_of::<T>()
            )));
        }
        let (prod, cons) = self.flags.sync_types().map_err(invalid)?;
        let exact = self.flags.contains(RingFlags::EXACT_SZ);
        let (size, _mask, capacity) = layout::geometry(self.count, exact).map_err(invalid)?;
        let bytes = Shared::<T>::layout(size)
            .ok_or_else(|| {
                invalid(format!(
                    "{size} slots of {} bytes do not fit in memory",
                    size_of::<T>()
                ))
            })?
            .size();
        Ok((
            Init {
                name: &self.name,
                flags: self.flags,
                size,
                capacity,
                prod,
                cons,
                esize: size_of::<T>(),
                ealign: align_of::<T>(),
                type_hash: layout::fnv1a(std::any::type_name::<T>()),
            },
            bytes,
        ))
    }

    /// Builds the ring on the heap (no EAL needed; not findable by name).
    pub fn build<T: Copy + Send>(&self) -> Result<Ring<T>> {
        let (init, bytes) = self.plan::<T>()?;
        let shared = Shared::new_heap(&init).ok_or_else(|| Error::NoMemory {
            name: self.name.clone(),
            bytes,
        })?;
        Ok(Ring {
            shared: Arc::new(shared),
        })
    }

    /// Builds a heap ring with sync modes `P` and `C` (replacing the mode flags) and returns its
    /// typed handles.
    pub fn pair<T: Copy + Send, P: ProducerMode, C: ConsumerMode>(
        &self,
    ) -> Result<(Producer<T, P>, Consumer<T, C>)> {
        let ring = self.clone().sync(P::SYNC, C::SYNC).build::<T>()?;
        Ok((ring.producer::<P>()?, ring.consumer::<C>()?))
    }
}

impl<T: Copy + Send> Ring<T> {
    /// A heap ring of `count` slots with DPDK flags (no EAL needed).
    pub fn new(count: u32, flags: RingFlags) -> Result<Ring<T>> {
        RingBuilder::new(count).flags(flags).build()
    }

    /// The ring's name ("" for an unnamed heap ring).
    pub fn name(&self) -> &str {
        self.shared.header().name()
    }

    /// The creation flags.
    pub fn flags(&self) -> RingFlags {
        RingFlags::from_bits(self.shared.header().meta.flags)
    }

    /// The number of slots (DPDK's `rte_ring_get_size`): a power of two.
    pub fn size(&self) -> usize {
        self.shared.size() as usize
    }

    /// How many elements the ring can hold (DPDK's `rte_ring_get_capacity`).
    pub fn capacity(&self) -> usize {
        self.shared.capacity() as usize
    }

    /// Elements in the ring now (DPDK's `rte_ring_count`).
    pub fn count(&self) -> usize {
        self.shared.count() as usize
    }

    /// Free slots now (DPDK's `rte_ring_free_count`).
    pub fn free_count(&self) -> usize {
        (self.shared.capacity() - self.shared.count()) as usize
    }

    /// Whether the ring is full (DPDK's `rte_ring_full`).
    pub fn is_full(&self) -> bool {
        self.free_count() == 0
    }

    /// Whether the ring is empty (DPDK's `rte_ring_empty`).
    pub fn is_empty(&self) -> bool {
        self.shared.is_empty()
    }

    /// The producer side's sync type.
    pub fn prod_sync(&self) -> SyncType {
        self.shared.prod_sync()
    }

    /// The consumer side's sync type.
    pub fn cons_sync(&self) -> SyncType {
        self.shared.cons_sync()
    }

    /// The producer's largest head/tail distance (MP_RTS only; DPDK's
    /// `rte_ring_get_prod_htd_max`, `u32::MAX` otherwise).
    pub fn prod_htd_max(&self) -> u32 {
        match self.prod_sync() {
            SyncType::MtRts => self
                .shared
                .header()
                .prod
                .head
                .htd_max
                .load(crate::atomic::Ordering::Relaxed),
            _ => u32::MAX,
        }
    }

    /// The consumer's largest head/tail distance (MC_RTS only, `u32::MAX` otherwise).
    pub fn cons_htd_max(&self) -> u32 {
        match self.cons_sync() {
            SyncType::MtRts => self
                .shared
                .header()
                .cons
                .head
                .htd_max
                .load(crate::atomic::Ordering::Relaxed),
            _ => u32::MAX,
        }
    }

    /// Sets the producer's head/tail distance (DPDK's `rte_ring_set_prod_htd_max`): how far
    /// RTS producers may reserve ahead of the slowest one still copying.
    pub fn set_prod_htd_max(&self, v: u32) -> Result<()> {
        self.set_htd(self.prod_sync(), &self.shared.header().prod, v, "producer")
    }

    /// Sets the consumer's head/tail distance (DPDK's `rte_ring_set_cons_htd_max`).
    pub fn set_cons_htd_max(&self, v: u32) -> Result<()> {
        self.set_htd(self.cons_sync(), &self.shared.header().cons, v, "consumer")
    }

    fn set_htd(
        &self,
        sync: SyncType,
        ht: &crate::headtail::HeadTail,
        v: u32,
        side: &str,
    ) -> Result<()> {
        if sync != SyncType::MtRts {
            return Err(Error::NotSupported {
                name: self.name().to_string(),
                reason: format!("the {side} side is not RTS; it has no head/tail distance"),
            });
        }
        ht.head.htd_max.store(v, crate::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// The producer handle of mode `M`, which must be the ring's producer mode. A
    /// single-producer ring has one producer handle at a time.
    pub fn producer<M: ProducerMode>(&self) -> Result<Producer<T, M>> {
        self.check_mode(
            M::SYNC,
            self.prod_sync(),
            "producer",
            SyncType::producer_name,
        )?;
        if M::SYNC == SyncType::St && !self.shared.claim(CLAIM_PRODUCER) {
            return Err(Error::Busy {
                name: self.name().to_string(),
                side: "producer",
            });
        }
        Ok(Producer::new(self.clone()))
    }

    /// The consumer handle of mode `M`, which must be the ring's consumer mode. A
    /// single-consumer ring has one consumer handle at a time.
    pub fn consumer<M: ConsumerMode>(&self) -> Result<Consumer<T, M>> {
        self.check_mode(
            M::SYNC,
            self.cons_sync(),
            "consumer",
            SyncType::consumer_name,
        )?;
        if M::SYNC == SyncType::St && !self.shared.claim(CLAIM_CONSUMER) {
            return Err(Error::Busy {
                name: self.name().to_string(),
                side: "consumer",
            });
        }
        Ok(Consumer::new(self.clone()))
    }

    fn check_mode(
        &self,
        want: SyncType,
        have: SyncType,
        side: &str,
        label: fn(SyncType) -> &'static str,
    ) -> Result<()> {
        if want == have {
            return Ok(());
        }
        Err(Error::Mismatch {
            name: self.name().to_string(),
            reason: format!("the {side} side is {}, not {}", label(have), label(want)),
        })
    }

    /// Enqueues one element (DPDK's `rte_ring_enqueue`); gives it back if the ring is full.
    ///
    /// # Safety
    /// If the producer side is single-producer ([`SyncType::St`]), no other thread enqueues
    /// on this ring at the same time (through any handle).
    #[inline(always)]
    pub unsafe fn enqueue(&self, obj: T) -> std::result::Result<(), T> {
        let s = &*self.shared;
        // SAFETY: in every arm, the arm's protocol is the producer's; the caller's contract
        // covers single-producer.
        unsafe {
            match s.prod_sync() {
                SyncType::Mt => s.enqueue_one::<Mt>(obj),
                SyncType::St => s.enqueue_one::<St>(obj),
                SyncType::MtRts => s.enqueue_one::<Rts>(obj),
                SyncType::MtHts => s.enqueue_one::<Hts>(obj),
            }
        }
    }

    /// Enqueues all of `objs` or none (DPDK's `rte_ring_enqueue_bulk`).
    ///
    /// # Safety
    /// As [`enqueue`](Self::enqueue).
    #[inline(always)]
    pub unsafe fn enqueue_bulk(&self, objs: &[T]) -> Enqueued {
        // SAFETY: the caller's contract.
        unsafe { self.enqueue_n(objs, true) }
    }

    /// Enqueues as many of `objs` as fit (DPDK's `rte_ring_enqueue_burst`).
    ///
    /// # Safety
    /// As [`enqueue`](Self::enqueue).
    #[inline(always)]
    pub unsafe fn enqueue_burst(&self, objs: &[T]) -> Enqueued {
        // SAFETY: the caller's contract.
        unsafe { self.enqueue_n(objs, false) }
    }

    #[inline(always)]
    unsafe fn enqueue_n(&self, objs: &[T], fixed: bool) -> Enqueued {
        let s = &*self.shared;
        // SAFETY: the producer side's sync type; `objs` is readable; the caller's contract
        // covers single-producer.
        unsafe { s.enqueue_dyn(s.prod_sync(), objs.as_ptr(), objs.len(), fixed) }
    }

    /// Dequeues one element (DPDK's `rte_ring_dequeue`).
    ///
    /// # Safety
    /// If the consumer side is single-consumer ([`SyncType::St`]), no other thread dequeues
    /// from this ring at the same time (through any handle).
    #[inline(always)]
    pub unsafe fn dequeue(&self) -> Option<T> {
        let s = &*self.shared;
        // SAFETY: in every arm, the arm's protocol is the consumer's; the caller's contract
        // covers single-consumer.
        unsafe {
            match s.cons_sync() {
                SyncType::Mt => s.dequeue_one::<Mt>(),
                SyncType::St => s.dequeue_one::<St>(),
                SyncType::MtRts => s.dequeue_one::<Rts>(),
                SyncType::MtHts => s.dequeue_one::<Hts>(),
            }
        }
    }

    /// Fills all of `out` or dequeues nothing (DPDK's `rte_ring_dequeue_bulk`).
    ///
    /// # Safety
    /// As [`dequeue`](Self::dequeue).
    #[inline(always)]
    pub unsafe fn dequeue_bulk(&self, out: &mut [T]) -> Dequeued {
        // SAFETY: the caller's contract.
        unsafe { self.dequeue_n(out, true) }
    }

    /// Dequeues up to `out.len()` elements into the start of `out` (DPDK's
    /// `rte_ring_dequeue_burst`).
    ///
    /// # Safety
    /// As [`dequeue`](Self::dequeue).
    #[inline(always)]
    pub unsafe fn dequeue_burst(&self, out: &mut [T]) -> Dequeued {
        // SAFETY: the caller's contract.
        unsafe { self.dequeue_n(out, false) }
    }

    #[inline(always)]
    unsafe fn dequeue_n(&self, out: &mut [T], fixed: bool) -> Dequeued {
        let s = &*self.shared;
        // SAFETY: the consumer side's sync type; `out` is writable; the caller's contract
        // covers single-consumer.
        unsafe { s.dequeue_dyn(s.cons_sync(), out.as_mut_ptr(), out.len(), fixed) }
    }

    /// Empties the ring (DPDK's `rte_ring_reset`).
    ///
    /// # Safety
    /// Nothing else uses the ring meanwhile: no enqueue, dequeue or open peek/zero-copy
    /// reservation on either side, in any thread.
    pub unsafe fn reset(&self) {
        // SAFETY: the caller's contract.
        unsafe { self.shared.reset() }
    }

    /// Writes the ring's state (DPDK's `rte_ring_dump`).
    pub fn dump(&self, w: &mut dyn Write) -> std::io::Result<()> {
        self.shared.header().dump(w)
    }
}

impl<T: Copy + Send> fmt::Debug for Ring<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("name", &self.name())
            .field("size", &self.size())
            .field("capacity", &self.capacity())
            .field("prod", &self.prod_sync().producer_name())
            .field("cons", &self.cons_sync().consumer_name())
            .field("count", &self.count())
            .finish()
    }
}
