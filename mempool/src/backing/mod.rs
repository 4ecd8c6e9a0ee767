//! Where a pool keeps its free objects: the mempool "ops" of DPDK.

mod lf_stack;
mod ring;
mod stack;

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::AtomicU32;

use crate::placed::{Carver, ShSlice};

pub use lf_stack::LfStack;
pub use ring::RingStore;
pub use stack::SpinStack;

/// The backing store of a pool, chosen at creation (DPDK's mempool ops names).
///
/// The rings are DPDK's `drivers/mempool/ring` ops, in rpdk-ring's modes; `ring_mp_mc` is the
/// default, as DPDK's. The ops with a single-thread side (`ring_sp_sc`, `ring_sp_mc`,
/// `ring_mp_sc`) come with DPDK's contract that one thread at a time puts (SP) or gets (SC);
/// pools with them are made with the `unsafe`
/// [`MempoolBuilder::create_single_thread`](crate::MempoolBuilder::create_single_thread).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Ops {
    /// A ring, multi-producer and multi-consumer (`ring_mp_mc`).
    #[default]
    RingMpMc,
    /// A ring, single-producer and single-consumer (`ring_sp_sc`).
    RingSpSc,
    /// A ring, multi-producer, single-consumer (`ring_mp_sc`).
    RingMpSc,
    /// A ring, single-producer, multi-consumer (`ring_sp_mc`).
    RingSpMc,
    /// A ring in relaxed tail sync mode on both sides (`ring_mt_rts`): no thread waits for a
    /// preempted one.
    RingMtRts,
    /// A ring in head/tail sync mode on both sides (`ring_mt_hts`).
    RingMtHts,
    /// A stack behind a spinlock (`stack`).
    Stack,
    /// A lock-free stack (`lf_stack`).
    LfStack,
}

impl Ops {
    /// Every ops, in the order DPDK lists them.
    pub const ALL: [Ops; 8] = [
        Ops::RingMpMc,
        Ops::RingSpSc,
        Ops::RingMpSc,
        Ops::RingSpMc,
        Ops::RingMtRts,
        Ops::RingMtHts,
        Ops::Stack,
        Ops::LfStack,
    ];

    /// DPDK's name of these ops.
    pub fn name(self) -> &'static str {
        match self {
            Ops::RingMpMc => "ring_mp_mc",
            Ops::RingSpSc => "ring_sp_sc",
            Ops::RingMpSc => "ring_mp_sc",
            Ops::RingSpMc => "ring_sp_mc",
            Ops::RingMtRts => "ring_mt_rts",
            Ops::RingMtHts => "ring_mt_hts",
            Ops::Stack => "stack",
            Ops::LfStack => "lf_stack",
        }
    }

    /// The ring ops that DPDK's `rte_mempool_create` picks from the `SP_PUT` and `SC_GET`
    /// flags.
    pub fn from_flags(single_put: bool, single_get: bool) -> Ops {
        match (single_put, single_get) {
            (false, false) => Ops::RingMpMc,
            (true, true) => Ops::RingSpSc,
            (false, true) => Ops::RingMpSc,
            (true, false) => Ops::RingSpMc,
        }
    }

    /// Whether puts (`true` in `.0`) or gets (`.1`) must come from one thread at a time.
    pub fn single_thread_sides(self) -> (bool, bool) {
        match self {
            Ops::RingSpSc => (true, true),
            Ops::RingMpSc => (false, true),
            Ops::RingSpMc => (true, false),
            _ => (false, false),
        }
    }

    /// Whether any side is single-thread.
    pub fn is_single_thread(self) -> bool {
        self.single_thread_sides() != (false, false)
    }
}

impl fmt::Display for Ops {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Ops {
    type Err = String;
    fn from_str(s: &str) -> Result<Ops, String> {
        Ops::ALL.into_iter().find(|o| o.name() == s).ok_or_else(|| {
            let known: Vec<&str> = Ops::ALL.iter().map(|o| o.name()).collect();
            format!("unknown mempool ops '{s}' (known: {})", known.join(", "))
        })
    }
}

/// A backing store.
pub(crate) enum Backing {
    Ring(RingStore),
    Stack(SpinStack),
    LfStack(LfStack, usize),
}

impl Backing {
    fn ring_sync(ops: Ops) -> Option<(rpdk_ring::SyncType, rpdk_ring::SyncType)> {
        use rpdk_ring::SyncType::{Mt, MtHts, MtRts, St};
        Some(match ops {
            Ops::RingMpMc => (Mt, Mt),
            Ops::RingSpSc => (St, St),
            Ops::RingMpSc => (Mt, St),
            Ops::RingSpMc => (St, Mt),
            Ops::RingMtRts => (MtRts, MtRts),
            Ops::RingMtHts => (MtHts, MtHts),
            Ops::Stack | Ops::LfStack => return None,
        })
    }

    /// Takes the memory a backing of `ops` for the objects `objs` needs from `carver` and
    /// builds it there, empty; when the carver only measures, returns `None` after taking the
    /// room. `header_size` locates each object's header (its index).
    pub fn carve(
        ops: Ops,
        objs: ShSlice<*mut u8>,
        header_size: usize,
        carver: &mut Carver,
    ) -> Result<Option<Backing>, String> {
        let n = objs.len();
        if let Some((put, get)) = Self::ring_sync(ops) {
            let (bytes, align) = RingStore::layout(n, put, get)?;
            let mem = carver.bytes(bytes, align);
            if carver.measuring() {
                return Ok(None);
            }
            // SAFETY: the carver gave `bytes` of pool memory aligned to `align`, ours alone,
            // which lives as long as the pool.
            return unsafe { RingStore::new_at(mem, n, put, get) }.map(|r| Some(Backing::Ring(r)));
        }
        Ok(match ops {
            Ops::Stack => {
                let slots = carver.slice_with(n, |_| std::ptr::null_mut());
                (!carver.measuring()).then(|| Backing::Stack(SpinStack::new(slots)))
            }
            _ => {
                let next = carver.slice_with(n, |_| AtomicU32::new(lf_stack::NIL));
                (!carver.measuring())
                    .then(|| Backing::LfStack(LfStack::new(next, objs), header_size))
            }
        })
    }

    /// Adds objects (the pool never holds more than fit, so this succeeds).
    ///
    /// Not inlined, as DPDK's ops are called through a pointer: the callers' fast paths (the
    /// caches) stay small enough to inline where they are used.
    #[inline(never)]
    pub fn enqueue_bulk(&self, objs: &[*mut u8]) {
        let ok = match self {
            // SAFETY: a pool with a single-producer ring was made with `create_single_thread`,
            // whose caller promised that one thread at a time puts.
            Backing::Ring(r) => unsafe { r.push_bulk(objs) },
            Backing::Stack(s) => s.push_bulk(objs),
            Backing::LfStack(s, header) => s.push_bulk(objs.iter().map(|&o| {
                // SAFETY: every pointer given to a pool's backing is one of its objects, whose
                // header lies `header` bytes before it.
                unsafe { crate::pool::ObjHeader::of(o, *header) }.index
            })),
        };
        debug_assert!(ok, "a pool backing overflowed: an object was put twice");
    }

    /// Takes `out.len()` objects, or none. Not inlined, as `enqueue_bulk`.
    #[inline(never)]
    pub fn dequeue_bulk(&self, out: &mut [*mut u8]) -> bool {
        match self {
            // SAFETY: a pool with a single-consumer ring was made with
            // `create_single_thread`, whose caller promised that one thread at a time gets.
            Backing::Ring(r) => unsafe { r.pop_bulk(out) },
            Backing::Stack(s) => s.pop_bulk(out),
            Backing::LfStack(s, _) => s.pop_bulk(out),
        }
    }

    /// Objects held.
    pub fn count(&self) -> usize {
        match self {
            Backing::Ring(r) => r.len(),
            Backing::Stack(s) => s.len(),
            Backing::LfStack(s, _) => s.len(),
        }
    }
}
