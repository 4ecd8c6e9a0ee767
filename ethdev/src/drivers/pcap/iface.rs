//! The queues over kernel interfaces (`rx_iface`, `rx_iface_in`, `tx_iface`, `iface`): a raw
//! packet socket each, read with `recvmmsg` and written with `sendmmsg`, up to 32 frames per
//! system call.
//!
//! Frames are received straight into stashed mbufs; a frame longer than one mbuf (up to 9018
//! bytes, DPDK's snap length for interfaces) spills into a per-queue overflow area and is copied
//! into a chain. A frame longer than that is cut by the kernel and counted in `ierrors`. A VLAN
//! tag the kernel moved out of the frame goes back in, as libpcap puts it.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use rpdk_mbuf::{BurstView, Mbuf, PKTMBUF_HEADROOM, PktmbufPool};

use super::file::append_segments;
use super::packet::{self, MAX_BATCH, Received};
use crate::driver::{RxQueueOps, TxQueueOps};
use crate::drivers::stash::RxStash;
use crate::stats::QueueCounters;

const LOG: &str = "pmd.net.pcap";

/// Longest frame received whole (DPDK's `RTE_ETH_PCAP_SNAPLEN`, a jumbo frame).
pub(crate) const MAX_FRAME: usize = 9018;

/// Segments of one mbuf chain sent in place; longer chains are copied first.
const MAX_TX_SEGS: usize = 8;

/// A receive queue on an interface.
pub(crate) struct IfaceRx {
    sock: OwnedFd,
    stash: RxStash,
    /// Per message, where the bytes beyond one mbuf land.
    overflow: Box<[u8]>,
    /// Overflow bytes per message (0 when an mbuf holds a whole frame).
    slot: usize,
    port: u16,
    counters: Arc<QueueCounters>,
    ifname: Arc<str>,
    failing: bool,
}

impl IfaceRx {
    pub(crate) fn new(
        sock: OwnedFd,
        pool: &PktmbufPool,
        port: u16,
        counters: Arc<QueueCounters>,
        ifname: Arc<str>,
    ) -> IfaceRx {
        let room = pool.data_room_size().saturating_sub(PKTMBUF_HEADROOM) as usize;
        let slot = MAX_FRAME.saturating_sub(room);
        IfaceRx {
            sock,
            stash: RxStash::new(pool.clone()),
            overflow: vec![0; slot * MAX_BATCH].into(),
            slot,
            port,
            counters,
            ifname,
            failing: false,
        }
    }
}

impl RxQueueOps for IfaceRx {
    fn rx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let want = pkts.room().min(MAX_BATCH);
        if want == 0 {
            return 0;
        }
        if !self.stash.ensure(want) && self.stash.len() == 0 {
            self.counters.add_nombuf(1);
            return 0;
        }
        let k = want.min(self.stash.len());
        let per = if self.slot > 0 { 2 } else { 1 };
        let mut got = [Received::default(); MAX_BATCH];
        let res = {
            let mut iov: [IoSliceMut<'_>; 2 * MAX_BATCH] =
                std::array::from_fn(|_| IoSliceMut::new(&mut []));
            let mut spill = self.overflow.chunks_mut(self.slot.max(1));
            // The next mbuf taken is the last of the stash: message 0.
            for (i, m) in self.stash.top_mut(k).iter_mut().rev().enumerate() {
                if let Ok(room) = m.room_mut() {
                    iov[i * per] = IoSliceMut::new(room);
                }
                if per == 2
                    && let Some(s) = spill.next()
                {
                    iov[i * per + 1] = IoSliceMut::new(s);
                }
            }
            packet::recv_batch(self.sock.as_fd(), &mut iov[..k * per], per, &mut got[..k])
        };
        let r = match res {
            Ok(r) => {
                self.failing = false;
                r
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return 0,
            Err(e) => {
                // ENETDOWN: the interface went down or away.
                self.counters.add_errors(1);
                if !self.failing {
                    log::error!(target: LOG, "receiving on {}: {e}", self.ifname);
                    self.failing = true;
                }
                return 0;
            }
        };
        let (mut n, mut bytes) = (0, 0u64);
        for (i, info) in got[..r].iter().enumerate() {
            let Some(mut m) = self.stash.take() else {
                break;
            };
            let room = m.room_mut().map_or(0, |r| r.len());
            if info.truncated || info.len > room + self.slot {
                self.counters.add_errors(1);
                continue;
            }
            m.fill_len(info.len);
            if info.len > room {
                let spilled = &self.overflow[i * self.slot..][..info.len - room];
                if !append_segments(&mut m, self.stash.pool(), spilled) {
                    self.counters.add_nombuf(1);
                    continue;
                }
            }
            if let Some((tpid, tci)) = info.vlan
                && !insert_vlan(&mut m, tpid, tci)
            {
                self.counters.add_errors(1);
                continue;
            }
            m.set_port(self.port);
            // The frame's length, with the tag put back.
            bytes += m.pkt_len() as u64;
            // Cannot fail: at most `room` frames were asked for.
            let _ = pkts.push(m);
            n += 1;
        }
        self.counters.add(n as u64, bytes);
        n
    }
}

/// Puts back after the MAC addresses the VLAN tag the kernel took out of a received frame (as
/// libpcap does), using the headroom.
fn insert_vlan(m: &mut Mbuf, tpid: u16, tci: u16) -> bool {
    if m.data_len() < 12 {
        return false;
    }
    if m.prepend(4).is_err() {
        return false;
    }
    // The first segment now starts 4 bytes earlier and holds at least 16.
    let Ok(d) = m.data_mut() else {
        return false;
    };
    d.copy_within(4..16, 0);
    d[12..14].copy_from_slice(&tpid.to_be_bytes());
    d[14..16].copy_from_slice(&tci.to_be_bytes());
    true
}

/// A transmit queue on an interface.
pub(crate) struct IfaceTx {
    sock: OwnedFd,
    /// Where chains longer than [`MAX_TX_SEGS`] are gathered.
    scratch: Vec<u8>,
    counters: Arc<QueueCounters>,
    ifname: Arc<str>,
    failing: bool,
}

impl IfaceTx {
    pub(crate) fn new(sock: OwnedFd, counters: Arc<QueueCounters>, ifname: Arc<str>) -> IfaceTx {
        IfaceTx {
            sock,
            scratch: Vec::new(),
            counters,
            ifname,
            failing: false,
        }
    }
}

impl TxQueueOps for IfaceTx {
    fn tx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let total = pkts.len();
        let (mut taken, mut sent, mut bytes) = (0, 0u64, 0u64);
        while taken < total {
            let mut iov = [IoSlice::new(&[]); MAX_BATCH * MAX_TX_SEGS];
            let mut counts = [0usize; MAX_BATCH];
            let mut lens = [0u64; MAX_BATCH];
            let (mut k, mut at) = (0, 0);
            for m in pkts.as_slice()[taken..].iter().take(MAX_BATCH) {
                let segs = m.nb_segs() as usize;
                if segs > MAX_TX_SEGS {
                    if k == 0 {
                        self.scratch.clear();
                        for s in m.segments() {
                            self.scratch.extend_from_slice(s.data());
                        }
                        iov[0] = IoSlice::new(&self.scratch);
                        counts[0] = 1;
                        lens[0] = m.pkt_len() as u64;
                        k = 1;
                    }
                    break;
                }
                for s in m.segments() {
                    iov[at] = IoSlice::new(s.data());
                    at += 1;
                }
                counts[k] = segs;
                lens[k] = m.pkt_len() as u64;
                k += 1;
            }
            match packet::send_batch(self.sock.as_fd(), &iov, &counts[..k]) {
                Ok(0) => break,
                Ok(s) => {
                    taken += s;
                    sent += s as u64;
                    bytes += lens[..s].iter().sum::<u64>();
                    self.failing = false;
                }
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.raw_os_error() == Some(libc::ENOBUFS) =>
                {
                    break;
                }
                // The frame itself is refused (longer than the MTU allows, shorter than a
                // header): drop it, as a NIC drops a bad descriptor (an error, not sent), and go
                // on.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMSGSIZE | libc::EINVAL)) => {
                    self.counters.add_errors(1);
                    taken += 1;
                }
                // The interface is down or gone: give the rest back.
                Err(e) => {
                    self.counters.add_errors((total - taken) as u64);
                    if !self.failing {
                        log::error!(target: LOG, "sending on {}: {e}", self.ifname);
                        self.failing = true;
                    }
                    break;
                }
            }
        }
        self.counters.add(sent, bytes);
        pkts.free_front(taken);
        taken
    }
}
