//! The receive queue: frames out of the socket's receive ring (TPACKET_V3, or V2 with
//! `tpacket_version=2`), copied into mbufs of the port's pool, blocks or frames given back to
//! the kernel as soon as they are read. No system call, except one `getsockopt` to collect the
//! kernel's drop count after it flagged a block or frame with `TP_STATUS_LOSING`.

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use rpdk_mbuf::{BurstView, Mbuf, OlFlags, PktmbufPool};

use super::bump;
use super::tpacket::{Frame, RxFrames};
use crate::driver::RxQueueOps;
use crate::drivers::packet_socket::Socket;
use crate::shared::QueueRecord;
use crate::stats::QueueCounters;

/// Counters of an RX queue that only this driver has (its extended statistics).
#[derive(Debug, Default)]
#[repr(align(64))]
pub(super) struct RxXstats {
    /// Blocks the kernel handed over.
    pub blocks: AtomicU64,
    /// Of those, blocks it closed on the retire timer rather than full (traffic was light).
    pub block_timeouts: AtomicU64,
}

/// How a queue turns frames into mbufs.
#[derive(Debug)]
pub(super) struct RxCfg {
    /// The port id written into mbufs.
    pub port: u16,
    /// Bytes of frame an mbuf holds.
    pub room: usize,
    /// Leave VLAN tags out of the data (`RX_OFFLOAD_VLAN_STRIP`); otherwise the tags the kernel
    /// took out are put back.
    pub vlan_strip: bool,
}

/// An RX queue of an `net_af_packet` port over receive ring `R`.
pub(super) struct AfPacketRx<R: RxFrames> {
    /// Dropped before the socket: the mapping goes first.
    pub ring: R,
    pub sock: Arc<Socket>,
    pub pool: PktmbufPool,
    pub cfg: RxCfg,
    pub counters: Arc<QueueCounters>,
    pub xstats: Arc<RxXstats>,
    /// Where the ring's position is left for the next process to drive the queue (none for a
    /// port without shared port data).
    pub record: Option<QueueRecord>,
}

impl<R: RxFrames> Drop for AfPacketRx<R> {
    fn drop(&mut self) {
        self.ring.release_used();
        if let Some(r) = &self.record {
            r.park(self.ring.position());
        }
    }
}

enum Fill {
    /// A frame of this many bytes.
    Done(usize),
    /// Not for us (a frame this host sent, when the kernel cannot leave those out).
    Skip,
    /// Truncated by the ring or too long for an mbuf.
    Error,
}

const ETH_ADDRS: usize = 12;

/// Writes frame `f` into the fresh mbuf `m`.
#[inline(always)]
fn fill(m: &mut Mbuf, f: &Frame<'_>, cfg: &RxCfg) -> Fill {
    if f.pkttype == libc::PACKET_OUTGOING {
        return Fill::Skip;
    }
    let data = f.data;
    if data.len() < f.wire_len as usize {
        return Fill::Error;
    }
    let tagged = f.status & libc::TP_STATUS_VLAN_VALID != 0;
    let reinsert = tagged && !cfg.vlan_strip && data.len() >= ETH_ADDRS;
    let len = data.len() + if reinsert { 4 } else { 0 };
    if len > cfg.room {
        return Fill::Error;
    }
    let Ok(room) = m.room_mut() else {
        return Fill::Error;
    };
    if reinsert {
        let tpid = if f.status & libc::TP_STATUS_VLAN_TPID_VALID != 0 && f.vlan_tpid != 0 {
            f.vlan_tpid
        } else {
            libc::ETH_P_8021Q as u16
        };
        room[..ETH_ADDRS].copy_from_slice(&data[..ETH_ADDRS]);
        room[ETH_ADDRS..ETH_ADDRS + 2].copy_from_slice(&tpid.to_be_bytes());
        room[ETH_ADDRS + 2..ETH_ADDRS + 4].copy_from_slice(&f.vlan_tci.to_be_bytes());
        room[ETH_ADDRS + 4..len].copy_from_slice(&data[ETH_ADDRS..]);
    } else {
        room[..len].copy_from_slice(data);
    }
    // `len` fits the buffer (checked against the room above) and the mbuf has one segment.
    if m.set_len(len as u16).is_err() {
        return Fill::Error;
    }
    m.set_port(cfg.port);
    if tagged {
        // As DPDK's driver: `vlan_tci` holds the tag either way; STRIPPED only when the tag
        // is not back in the data.
        m.set_vlan_tci(f.vlan_tci);
        let stripped = if reinsert {
            OlFlags::default()
        } else {
            OlFlags::RX_VLAN_STRIPPED
        };
        m.set_ol_flags(m.ol_flags() | OlFlags::RX_VLAN | stripped);
    }
    Fill::Done(len)
}

impl<R: RxFrames> AfPacketRx<R> {
    /// Appends `want` fresh mbufs to `pkts`, or as many as the pool has; counts the shortfall
    /// as `rx_nombuf` (those frames wait in the ring).
    #[inline]
    fn alloc(&mut self, pkts: &mut BurstView<'_>, want: usize) -> usize {
        if self.pool.alloc_bulk_into(pkts, want).is_ok() {
            return want;
        }
        let mut got = 0;
        while got < want {
            match self.pool.alloc() {
                Ok(m) => {
                    // Room for `want` was checked by the caller.
                    let _ = pkts.push(m);
                    got += 1;
                }
                Err(_) => break,
            }
        }
        self.counters.add_nombuf((want - got) as u64);
        got
    }

    /// Accounts for blocks (or lossy frames) just taken from the kernel.
    #[cold]
    fn took_blocks(&mut self, blocks: u32, status: u32) {
        bump(&self.xstats.blocks, blocks as u64);
        if status & libc::TP_STATUS_BLK_TMO != 0 {
            bump(&self.xstats.block_timeouts, 1);
        }
        if status & libc::TP_STATUS_LOSING != 0
            && let Ok(drops) = self.sock.take_drops()
        {
            self.counters.add_missed(drops as u64);
        }
    }
}

impl<R: RxFrames> RxQueueOps for AfPacketRx<R> {
    #[inline]
    fn rx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let start = pkts.len();
        let mut bytes = 0u64;
        loop {
            let room = pkts.room();
            if room == 0 {
                break;
            }
            let ready = self.ring.ready();
            if ready.blocks > 0 || ready.status != 0 {
                self.took_blocks(ready.blocks, ready.status);
            }
            if ready.frames == 0 {
                break;
            }
            let want = room.min(ready.frames as usize);
            let got = self.alloc(pkts, want);
            if got == 0 {
                break;
            }
            let first = pkts.len() - got;
            let mut filled = first;
            let mut errors = 0;
            while filled < first + got {
                let Some(frame) = self.ring.next_frame() else {
                    break;
                };
                match fill(&mut pkts.as_mut_slice()[filled], &frame, &self.cfg) {
                    Fill::Done(len) => {
                        filled += 1;
                        bytes += len as u64;
                    }
                    Fill::Skip => {}
                    Fill::Error => errors += 1,
                }
            }
            if errors > 0 {
                self.counters.add_errors(errors);
            }
            // Mbufs left over when frames were skipped or the block ended early.
            pkts.pop_n(first + got - filled);
            if got < want {
                break;
            }
        }
        self.ring.release_used();
        let n = pkts.len() - start;
        self.counters.add(n as u64, bytes);
        n
    }
}
