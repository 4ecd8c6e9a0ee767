//! A receive queue's store of free mbufs: refilled from the pool in bulk, taken one at a time as
//! frames arrive. A poll that finds nothing allocates nothing, and a frame is only read from the
//! kernel once an mbuf is ready for it, so running out of mbufs leaves frames queued in the
//! kernel instead of losing them. Used by the receive queues of `net_tap` and of `net_pcap`'s
//! interfaces (its file queues allocate per burst and keep none, see `pcap::file`).

use rpdk_mbuf::{Mbuf, MbufBurst, PktmbufPool};

/// Mbufs a stash holds when full.
pub(crate) const STASH: usize = 64;

/// Free mbufs of one receive queue; they go back to the pool when it drops.
pub(crate) struct RxStash {
    pool: PktmbufPool,
    mbufs: MbufBurst<STASH>,
}

impl RxStash {
    /// An empty stash over `pool`.
    pub(crate) fn new(pool: PktmbufPool) -> RxStash {
        RxStash {
            pool,
            mbufs: MbufBurst::new(),
        }
    }

    /// The pool.
    pub(crate) fn pool(&self) -> &PktmbufPool {
        &self.pool
    }

    /// Mbufs ready.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.mbufs.len()
    }

    /// Makes sure at least `need` (at most [`STASH`]) mbufs are ready: refills to full in bulk,
    /// or one by one when the pool runs low. False when the pool cannot give enough; what it
    /// gave stays in the stash.
    #[inline]
    pub(crate) fn ensure(&mut self, need: usize) -> bool {
        if self.mbufs.len() >= need {
            return true;
        }
        let room = self.mbufs.room();
        if self.pool.alloc_bulk(&mut self.mbufs, room).is_ok() {
            return true;
        }
        while self.mbufs.len() < need {
            match self.pool.alloc() {
                // Cannot fail: len < need <= STASH.
                Ok(m) => drop(self.mbufs.push(m)),
                Err(_) => return false,
            }
        }
        true
    }

    /// The next `k` mbufs to be taken, the next one last (call [`ensure`](Self::ensure) first).
    #[inline]
    pub(crate) fn top_mut(&mut self, k: usize) -> &mut [Mbuf] {
        let len = self.mbufs.len();
        &mut self.mbufs.as_mut_slice()[len - k.min(len)..]
    }

    /// Takes the next mbuf.
    #[inline]
    pub(crate) fn take(&mut self) -> Option<Mbuf> {
        self.mbufs.pop()
    }
}

/// Turns a fresh mbuf into an inner segment of a chain: no headroom, the whole buffer is room
/// (what DPDK's receive paths do for every segment after the first).
#[inline]
pub(crate) fn drop_headroom(m: &mut Mbuf) {
    // A fresh mbuf is empty, so this cannot fail.
    let _ = m.set_headroom(0);
}
