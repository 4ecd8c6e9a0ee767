//! The receive queue: descriptors out of the RX ring become the mbufs whose buffers the kernel
//! wrote into (no copy), and fresh mbufs of the pool go into the fill ring in their place, in
//! bulk. No system call, unless the kernel asks for a wake-up (`need_wakeup` on the fill ring,
//! zero-copy drivers) or busy polling is on, and then one `recvfrom` per empty poll.

#![forbid(unsafe_code)]

use std::sync::Arc;

use rpdk_mbuf::{BurstView, MbufBurst};

use super::bump;
use super::socket::{QueueSocket, RxRings};
use super::umem::Lent;
use crate::driver::RxQueueOps;
use crate::stats::QueueCounters;

/// Mbufs put into the fill ring at most per refill.
const REFILL_BATCH: usize = 64;

/// An RX queue of a `net_af_xdp` port.
pub(super) struct AfXdpRx {
    pub rings: RxRings,
    pub lent: Lent,
    pub xsk: Arc<QueueSocket>,
    /// Mbufs the kernel should hold in the fill ring and its own cache.
    pub target: u32,
    pub port: u16,
    /// Wake the kernel on every empty poll (busy polling).
    pub busy: bool,
    pub counters: Arc<QueueCounters>,
}

impl AfXdpRx {
    /// Puts fresh mbufs into the fill ring up to the target; returns how many it could not
    /// get from the pool.
    #[inline]
    fn refill(&mut self) -> u32 {
        let want = self
            .target
            .saturating_sub(self.lent.count())
            .min(REFILL_BATCH as u32);
        if want == 0 {
            return 0;
        }
        let room = self.rings.fill.free(want);
        if room == 0 {
            return 0;
        }
        let mut fresh = MbufBurst::<REFILL_BATCH>::new();
        let pool = self.xsk.umem.pool();
        if pool
            .alloc_bulk_into(&mut fresh.view(), room as usize)
            .is_err()
        {
            while fresh.len() < room as usize {
                match pool.alloc() {
                    Ok(m) => {
                        let _ = fresh.push(m);
                    }
                    Err(_) => break,
                }
            }
        }
        let got = fresh.len() as u32;
        let mut put = 0;
        while let Some(m) = fresh.pop() {
            match self.xsk.umem.lend_for_rx(&mut self.lent, m) {
                Ok(addr) => {
                    self.rings.fill.write(put, addr);
                    put += 1;
                }
                // Not this pool's (cannot happen: it came from it): freed.
                Err(m) => drop(m),
            }
        }
        self.rings.fill.submit(put);
        room - got
    }
}

impl AfXdpRx {
    /// Fills the fill ring up to the target before the first frame, or as far as the pool
    /// allows.
    pub fn fill_to_target(&mut self) {
        while self.lent.count() < self.target {
            let before = self.lent.count();
            self.refill();
            if self.lent.count() == before {
                break;
            }
        }
    }
}

impl RxQueueOps for AfXdpRx {
    #[inline]
    fn rx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let n = self.rings.rx.ready(pkts.room() as u32);
        if n == 0 {
            if self.busy || self.rings.fill.needs_wakeup() {
                bump(&self.xsk.xstats.rx_wakeups, 1);
                self.xsk.wake_rx();
            }
            // Tops the fill ring up after the pool ran dry.
            self.refill();
            return 0;
        }
        let (mut bytes, mut errors, mut got) = (0u64, 0u64, 0usize);
        for i in 0..n {
            let d = self.rings.rx.read(i);
            match self.xsk.umem.take_back(&mut self.lent, d.addr) {
                Some((mut m, off)) => {
                    if m.set_headroom(off).is_err() || m.set_len(d.len as u16).is_err() {
                        errors += 1;
                        continue;
                    }
                    m.set_port(self.port);
                    bytes += d.len as u64;
                    // Room for `n` was asked of the ring.
                    let _ = pkts.push(m);
                    got += 1;
                }
                None => errors += 1,
            }
        }
        self.rings.rx.release(n);
        let short = self.refill();
        if short > 0 {
            // Frames received whose buffers could not be replaced.
            self.counters.add_nombuf(short.min(n) as u64);
        }
        if errors > 0 {
            self.counters.add_errors(errors);
        }
        self.counters.add(got as u64, bytes);
        got
    }
}

impl Drop for AfXdpRx {
    fn drop(&mut self) {
        let lent = std::mem::replace(&mut self.lent, self.xsk.umem.lent());
        self.xsk.leave(true, lent);
    }
}
