//! Rings of mbufs: packets handed between lcores (a pipeline's stages, `net_ring` ports) with
//! their ownership, over `rpdk-ring`.
//!
//! A [`MbufRing`] is a ring whose elements are mbufs. Its producer and consumer handles move
//! [`Mbuf`]s in and out, one at a time or a burst at a time, so an mbuf in a ring has exactly
//! one owner (the ring) and comes out once. The element type is private: the raw ring is not
//! reachable from safe code (and a lookup of the name with another element type fails), so
//! nothing else can put a pointer in that would come out as an mbuf.
//!
//! ```
//! use rpdk_mbuf::{MbufBurst, MbufRing, PktmbufPool};
//! use rpdk_ring::{Mc, Mp};
//!
//! let (_eal, _) = rpdk_eal::init(["app", "--no-huge", "--no-shconf", "-l", "0"])?;
//! let pool = PktmbufPool::create("ring_doc", 256, 0, 0, 2176, None)?;
//! let ring = MbufRing::new(64, rpdk_ring::RingFlags::empty())?;
//! let (tx, rx) = (ring.producer::<Mp>()?, ring.consumer::<Mc>()?);
//! let mut burst = MbufBurst::<32>::new();
//! pool.alloc_bulk(&mut burst, 8)?;
//! assert_eq!(tx.enqueue_burst(&mut burst.view()), 8); // moved into the ring
//! assert!(burst.is_empty());
//! assert_eq!(rx.dequeue_burst(&mut burst.view()), 8); // and out again
//! drop(burst);
//! pool.audit()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::mem::MaybeUninit;

use rpdk_ring::{ConsumerMode, ProducerMode, Ring, RingBuilder, RingFlags, SyncType};

use crate::burst::BurstView;
use crate::header::MbufHeader;
use crate::mbuf::Mbuf;

/// One mbuf in a ring: its header's address. Only this module makes them, from owned mbufs.
#[derive(Clone, Copy)]
#[repr(transparent)]
struct RingMbuf(*mut MbufHeader);

// SAFETY: an mbuf's ownership moves between threads with it, as `Mbuf` (which is Send).
unsafe impl Send for RingMbuf {}

/// An error of a ring of mbufs: the ring library's.
pub type RingError = rpdk_ring::Error;

/// A ring of mbufs (cloning gives another handle to the same ring). Mbufs still in it when it
/// goes are not freed, as in DPDK; [`MbufConsumer::drain`] frees them.
#[derive(Clone)]
pub struct MbufRing {
    ring: Ring<RingMbuf>,
}

impl MbufRing {
    /// A ring of `count` slots (a power of two; `count - 1` mbufs fit, or `count` with
    /// [`RingFlags::EXACT_SZ`]) in process memory; the sync modes come from `flags`.
    pub fn new(count: u32, flags: RingFlags) -> Result<MbufRing, RingError> {
        let ring = RingBuilder::new(count).flags(flags).build()?;
        Ok(MbufRing { ring })
    }

    /// A named ring in an EAL memzone (DPDK's `rte_ring_create`), found again by
    /// [`lookup`](Self::lookup).
    pub fn create(
        name: &str,
        count: u32,
        socket: Option<u32>,
        flags: RingFlags,
    ) -> Result<MbufRing, RingError> {
        let ring = Ring::create(name, count, socket, flags)?;
        Ok(MbufRing { ring })
    }

    /// Finds a named ring of mbufs (a ring of other elements is an error).
    pub fn lookup(name: &str) -> Result<MbufRing, RingError> {
        Ok(MbufRing {
            ring: Ring::lookup(name)?,
        })
    }

    /// Removes the name of a named ring (DPDK's `rte_ring_free`); handles keep working.
    pub fn free(self) -> Result<(), RingError> {
        self.ring.free()
    }

    /// The producer handle of mode `M`, which must be the ring's (a single-producer ring has
    /// one at a time).
    pub fn producer<M: ProducerMode>(&self) -> Result<MbufProducer<M>, RingError> {
        Ok(MbufProducer(self.ring.producer()?))
    }

    /// The consumer handle of mode `M`, which must be the ring's (a single-consumer ring has
    /// one at a time).
    pub fn consumer<M: ConsumerMode>(&self) -> Result<MbufConsumer<M>, RingError> {
        Ok(MbufConsumer(self.ring.consumer()?))
    }

    /// The ring's name (empty for a ring made by [`new`](Self::new)).
    pub fn name(&self) -> &str {
        self.ring.name()
    }

    /// Its flags, sync modes included.
    pub fn flags(&self) -> RingFlags {
        self.ring.flags()
    }

    /// The producer side's sync mode.
    pub fn prod_sync(&self) -> SyncType {
        self.ring.prod_sync()
    }

    /// The consumer side's sync mode.
    pub fn cons_sync(&self) -> SyncType {
        self.ring.cons_sync()
    }

    /// How many mbufs fit.
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// Mbufs in the ring now.
    pub fn count(&self) -> usize {
        self.ring.count()
    }

    /// Free slots now.
    pub fn free_count(&self) -> usize {
        self.ring.free_count()
    }
}

impl std::fmt::Debug for MbufRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MbufRing")
            .field("name", &self.name())
            .field("capacity", &self.capacity())
            .field("count", &self.count())
            .finish()
    }
}

/// The enqueue side of a ring of mbufs, in mode `M`. Single-producer handles are unique:
///
/// ```compile_fail
/// let ring = rpdk_mbuf::MbufRing::new(8, rpdk_ring::RingFlags::SP_ENQ).unwrap();
/// let tx = ring.producer::<rpdk_ring::Sp>().unwrap();
/// let tx2 = tx.clone();
/// ```
pub struct MbufProducer<M: ProducerMode>(rpdk_ring::Producer<RingMbuf, M>);

impl<M: ProducerMode> MbufProducer<M> {
    /// Moves `m` into the ring, or gives it back when the ring is full.
    #[inline]
    pub fn enqueue(&self, m: Mbuf) -> Result<(), Mbuf> {
        let raw = RingMbuf(m.into_raw().as_ptr());
        self.0.enqueue(raw).map_err(|r| {
            // SAFETY: the mbuf we just turned into `r` and that did not go in: still ours.
            unsafe { Mbuf::from_raw(std::ptr::NonNull::new_unchecked(r.0)) }
        })
    }

    /// Moves as many mbufs from the front of `burst` into the ring as fit, in order (DPDK's
    /// `rte_ring_enqueue_burst`); those left stay in the burst. Returns how many went.
    #[inline]
    pub fn enqueue_burst(&self, burst: &mut BurstView<'_>) -> usize {
        let raw = burst.as_raw();
        // SAFETY: RingMbuf is a transparent pointer, as NonNull<MbufHeader>.
        let elems =
            unsafe { std::slice::from_raw_parts(raw.as_ptr().cast::<RingMbuf>(), raw.len()) };
        let n = self.0.enqueue_burst(elems).count;
        // SAFETY: the ring owns the first `n` mbufs now.
        unsafe { burst.forget_front(n) };
        n
    }

    /// As [`enqueue_burst`](Self::enqueue_burst), all of the burst or none (DPDK's
    /// `rte_ring_enqueue_bulk`).
    #[inline]
    pub fn enqueue_bulk(&self, burst: &mut BurstView<'_>) -> bool {
        let raw = burst.as_raw();
        // SAFETY: as in enqueue_burst.
        let elems =
            unsafe { std::slice::from_raw_parts(raw.as_ptr().cast::<RingMbuf>(), raw.len()) };
        let n = self.0.enqueue_bulk(elems).count;
        // SAFETY: as in enqueue_burst.
        unsafe { burst.forget_front(n) };
        n > 0 || elems.is_empty()
    }

    /// A handle of the same ring.
    pub fn ring(&self) -> MbufRing {
        MbufRing {
            ring: self.0.ring().clone(),
        }
    }
}

impl<M: ProducerMode + rpdk_ring::MultiThread> Clone for MbufProducer<M> {
    fn clone(&self) -> Self {
        MbufProducer(self.0.clone())
    }
}

/// The dequeue side of a ring of mbufs, in mode `M`.
pub struct MbufConsumer<M: ConsumerMode>(rpdk_ring::Consumer<RingMbuf, M>);

impl<M: ConsumerMode> MbufConsumer<M> {
    /// Takes one mbuf out.
    #[inline]
    pub fn dequeue(&self) -> Option<Mbuf> {
        let r = self.0.dequeue()?;
        // SAFETY: every element was an owned mbuf moved in by a producer; it comes out once.
        Some(unsafe { Mbuf::from_raw(std::ptr::NonNull::new_unchecked(r.0)) })
    }

    /// Appends up to the burst's room of mbufs from the ring (DPDK's
    /// `rte_ring_dequeue_burst`); returns how many.
    #[inline]
    pub fn dequeue_burst(&self, burst: &mut BurstView<'_>) -> usize {
        let room = burst.room();
        self.dequeue_into(burst, room, false)
    }

    /// Appends exactly `n` mbufs or none (DPDK's `rte_ring_dequeue_bulk`); `n` larger than
    /// the burst's room takes none.
    #[inline]
    pub fn dequeue_bulk(&self, burst: &mut BurstView<'_>, n: usize) -> bool {
        n <= burst.room() && self.dequeue_into(burst, n, true) == n
    }

    #[inline(always)]
    fn dequeue_into(&self, burst: &mut BurstView<'_>, n: usize, bulk: bool) -> usize {
        let spare = burst.spare_uninit(n);
        // SAFETY: RingMbuf is a transparent pointer, as Mbuf; the slots stay uninitialised
        // until the ring writes them.
        let out = unsafe {
            std::slice::from_raw_parts_mut(spare.as_mut_ptr().cast::<MaybeUninit<RingMbuf>>(), n)
        };
        let got = if bulk {
            self.0.dequeue_bulk_uninit(out).count
        } else {
            self.0.dequeue_burst_uninit(out).count
        };
        // SAFETY: the first `got` slots hold mbufs that producers moved in, each out once.
        unsafe { burst.commit_raw(got) };
        got
    }

    /// Frees every mbuf in the ring now; returns how many.
    pub fn drain(&self) -> usize {
        let mut n = 0;
        while let Some(m) = self.dequeue() {
            drop(m);
            n += 1;
        }
        n
    }

    /// A handle of the same ring.
    pub fn ring(&self) -> MbufRing {
        MbufRing {
            ring: self.0.ring().clone(),
        }
    }
}

impl<M: ConsumerMode + rpdk_ring::MultiThread> Clone for MbufConsumer<M> {
    fn clone(&self) -> Self {
        MbufConsumer(self.0.clone())
    }
}
