//! The transmit queue: mbufs of the UMEM's pool go into the TX ring from their own buffers (no
//! copy); others (another pool's, chained, clones, external buffers) are copied into a fresh
//! mbuf of the pool first. The kernel gives sent buffers back through the completion ring,
//! read at the start of each burst, and their mbufs are freed in bulk. One `sendto` per burst,
//! and only when the kernel asks for it (`need_wakeup` on the TX ring, which copy mode always
//! sets) or busy polling is on.
//!
//! The queue pair's socket is made with its RX queue; the port hands it to the TX queue when
//! it starts ([`TxLink`]), and again if the RX queue was set up anew.

#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use rpdk_mbuf::{BurstView, Mbuf, MbufBurst};

use super::bump;
use super::socket::{QueueSocket, TxRings};
use super::umem::Lent;
use crate::driver::TxQueueOps;
use crate::stats::QueueCounters;

const ETH_HLEN: usize = 14;
/// Entries read from the completion ring at most per pass.
const COMPLETE_BATCH: u32 = 64;
/// Mbufs a burst takes at most (the rest stay with the caller).
const MAX_BURST: usize = 64;

/// Where the port puts the socket a TX queue sends on.
#[derive(Default)]
pub(super) struct TxLink {
    generation: AtomicU32,
    sock: Mutex<Option<Arc<QueueSocket>>>,
}

impl TxLink {
    /// Points the TX queue at `sock`.
    pub fn set(&self, sock: Arc<QueueSocket>) {
        let mut s = self.sock.lock().unwrap_or_else(|e| e.into_inner());
        if s.as_ref().is_some_and(|old| Arc::ptr_eq(old, &sock)) {
            return;
        }
        *s = Some(sock);
        self.generation.fetch_add(1, Ordering::Release);
    }
}

struct Bound {
    xsk: Arc<QueueSocket>,
    rings: TxRings,
    lent: Lent,
}

impl Bound {
    /// Frees the mbufs whose buffers the kernel gave back.
    #[inline]
    fn complete(&mut self) {
        loop {
            let n = self.rings.comp.ready(COMPLETE_BATCH);
            if n == 0 {
                return;
            }
            let mut done = MbufBurst::<{ COMPLETE_BATCH as usize }>::new();
            for i in 0..n {
                let addr = self.rings.comp.read(i);
                if let Some((m, _)) = self.xsk.umem.take_back(&mut self.lent, addr) {
                    let _ = done.push(m);
                }
            }
            self.rings.comp.release(n);
            done.clear();
            if n < COMPLETE_BATCH {
                return;
            }
        }
    }
}

impl Drop for Bound {
    fn drop(&mut self) {
        self.complete();
        let lent = std::mem::replace(&mut self.lent, self.xsk.umem.lent());
        self.xsk.leave(false, lent);
    }
}

/// A TX queue of a `net_af_xdp` port.
pub(super) struct AfXdpTx {
    pub link: Arc<TxLink>,
    generation: u32,
    bound: Option<Bound>,
    pub need_wakeup: bool,
    pub busy: bool,
    pub counters: Arc<QueueCounters>,
}

impl AfXdpTx {
    pub fn new(
        link: Arc<TxLink>,
        need_wakeup: bool,
        busy: bool,
        counters: Arc<QueueCounters>,
    ) -> AfXdpTx {
        AfXdpTx {
            link,
            generation: 0,
            bound: None,
            need_wakeup,
            busy,
            counters,
        }
    }

    #[cold]
    fn rebind(&mut self, generation: u32) {
        self.bound = None;
        self.generation = generation;
        let sock = self
            .link
            .sock
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(xsk) = sock {
            match xsk.tx_side() {
                Ok((rings, lent)) => self.bound = Some(Bound { xsk, rings, lent }),
                Err(e) => log::error!(
                    target: super::LOG,
                    "port {} TX queue {}: {e}: the queue sends nothing",
                    xsk.port,
                    xsk.qid
                ),
            }
        }
    }

    /// The TX queue a secondary process drives: bound to the socket the primary passed from
    /// the start.
    pub fn attached(
        xsk: Arc<QueueSocket>,
        need_wakeup: bool,
        busy: bool,
        counters: Arc<QueueCounters>,
    ) -> std::io::Result<AfXdpTx> {
        let (rings, lent) = xsk.tx_side()?;
        let mut tx = AfXdpTx::new(Arc::new(TxLink::default()), need_wakeup, busy, counters);
        tx.bound = Some(Bound { xsk, rings, lent });
        Ok(tx)
    }
}

/// What to send for one mbuf.
enum Plan {
    /// From its own buffer.
    Own,
    /// Copied into this fresh mbuf of the UMEM's pool.
    Copy(Mbuf),
    /// Dropped: no Ethernet header, or too long for a chunk.
    Bad,
}

/// Copies the segments of `m` into `dst`, an empty mbuf of at least `m.pkt_len()` bytes of
/// room.
fn copy_into(m: &Mbuf, dst: &mut Mbuf) -> bool {
    let len = m.pkt_len() as usize;
    let Ok(room) = dst.room_mut() else {
        return false;
    };
    let mut at = 0;
    for seg in m.segments() {
        let d = seg.data();
        room[at..at + d.len()].copy_from_slice(d);
        at += d.len();
    }
    dst.set_len(len as u16).is_ok()
}

impl TxQueueOps for AfXdpTx {
    #[inline]
    fn tx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let generation = self.link.generation.load(Ordering::Acquire);
        if generation != self.generation {
            self.rebind(generation);
        }
        let Some(b) = self.bound.as_mut() else {
            return 0;
        };
        b.complete();
        let Bound { xsk, rings, lent } = b;
        let umem = &xsk.umem;
        let pool = umem.pool();
        let max = umem.max_frame() as usize;
        let want = pkts.len() as u32;
        let free = rings.tx.free(want.min(MAX_BURST as u32));
        // Decide each mbuf's fate first, so that those that cannot go stay in the burst.
        let mut plans: [Option<Plan>; MAX_BURST] = [const { None }; MAX_BURST];
        let mut take = 0usize;
        for m in pkts.as_slice().iter().take(free as usize) {
            let len = m.pkt_len() as usize;
            let plan = if len < ETH_HLEN || len > max {
                Plan::Bad
            } else if m.nb_segs() == 1 && m.is_own_buffer_of(pool) {
                Plan::Own
            } else {
                let Ok(mut c) = pool.alloc() else {
                    break;
                };
                if !copy_into(m, &mut c) {
                    Plan::Bad
                } else {
                    bump(&xsk.xstats.tx_copies, 1);
                    Plan::Copy(c)
                }
            };
            plans[take] = Some(plan);
            take += 1;
        }
        let (mut sent, mut bytes, mut bad, mut i) = (0u32, 0u64, 0u64, 0usize);
        pkts.take_front(take, |m| {
            let plan = plans[i].take();
            i += 1;
            let m = match plan {
                Some(Plan::Own) => m,
                Some(Plan::Copy(c)) => {
                    drop(m);
                    c
                }
                _ => {
                    bad += 1;
                    return;
                }
            };
            match umem.lend_for_tx(lent, m) {
                Ok((addr, len)) => {
                    rings.tx.write(
                        sent,
                        libc::xdp_desc {
                            addr,
                            len,
                            options: 0,
                        },
                    );
                    sent += 1;
                    bytes += len as u64;
                }
                // Already lent (the same mbuf twice in flight): not sent.
                Err(_) => bad += 1,
            }
        });
        if sent > 0 {
            rings.tx.submit(sent);
        }
        if (take as u32) < want {
            bump(&xsk.xstats.tx_ring_full, 1);
        }
        if (sent > 0 || take == 0) && (!self.need_wakeup || self.busy || rings.tx.needs_wakeup()) {
            bump(&xsk.xstats.tx_wakeups, 1);
            // EAGAIN, EBUSY, ENOBUFS: the kernel sends what is left at the next wake-up.
            let _ = xsk.wake_tx();
        }
        self.counters.add(sent as u64, bytes);
        if bad > 0 {
            self.counters.add_errors(bad);
        }
        take
    }
}
