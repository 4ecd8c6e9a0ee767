//! The TAP queues: frames read from and written to one TAP queue file each.
//!
//! A TAP file moves one frame per `read`/`write` (the kernel offers no batched call for it), so
//! both directions make one system call per frame, and an empty poll costs one `readv` that
//! returns `EAGAIN`. Everything around the call is batched: mbufs come from a bulk-refilled
//! stash, freed mbufs go back in bulk, counters are bumped once per burst.

use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::sync::Arc;

use rpdk_mbuf::{BurstView, Mbuf};

use super::tun::{self, PI_LEN, PKT_STRIP};
use crate::driver::{RxQueueOps, TxQueueOps};
use crate::drivers::stash::{RxStash, STASH, drop_headroom};
use crate::stats::QueueCounters;

const LOG: &str = "pmd.net.tap";

/// Most mbufs one received frame may take (with the `SCATTER` offload).
pub(crate) const MAX_RX_SEGS: usize = 16;

/// Segments sent straight from the mbufs with `writev`; longer chains are copied first.
const MAX_TX_SEGS: usize = 32;

/// Largest frame the TAP hands over (DPDK's `RTE_ETHER_MAX_JUMBO_FRAME_LEN`).
pub(crate) const MAX_FRAME: usize = 9018;

/// How many mbufs of `buf_len` bytes (`headroom` kept in the first) hold a [`MAX_FRAME`] frame.
pub(crate) fn segs_for(buf_len: usize, headroom: usize) -> usize {
    let first = buf_len.saturating_sub(headroom).max(1);
    1 + MAX_FRAME.saturating_sub(first).div_ceil(buf_len.max(1))
}

/// A TAP receive queue.
pub(crate) struct TapRx {
    file: File,
    stash: RxStash,
    port: u16,
    counters: Arc<QueueCounters>,
    /// Mbufs offered to each read: 1, or enough for [`MAX_FRAME`] with `SCATTER`.
    segs: usize,
    /// The device was deleted: nothing more will come.
    gone: bool,
    ifname: Arc<str>,
}

impl TapRx {
    pub(crate) fn new(
        file: File,
        stash: RxStash,
        port: u16,
        counters: Arc<QueueCounters>,
        segs: usize,
        ifname: Arc<str>,
    ) -> TapRx {
        debug_assert!((1..=MAX_RX_SEGS.min(STASH)).contains(&segs));
        TapRx {
            file,
            stash,
            port,
            counters,
            segs,
            gone: false,
            ifname,
        }
    }

    /// Reads one frame into the next `segs` stashed mbufs; returns the read's length with the
    /// packet information header.
    #[inline]
    fn read_frame(&mut self, pi: &mut [u8; PI_LEN]) -> io::Result<usize> {
        let segs = self.segs;
        let mut iov: [IoSliceMut<'_>; 1 + MAX_RX_SEGS] =
            std::array::from_fn(|_| IoSliceMut::new(&mut []));
        iov[0] = IoSliceMut::new(pi);
        let tops = self.stash.top_mut(segs);
        for (i, m) in tops.iter_mut().rev().enumerate() {
            if i > 0 {
                drop_headroom(m);
            }
            if let Ok(room) = m.room_mut() {
                iov[1 + i] = IoSliceMut::new(room);
            }
        }
        (&self.file).read_vectored(&mut iov[..1 + segs])
    }

    /// Makes the next `k` stashed mbufs, offered to a read as inner segments but not used, fresh
    /// again.
    #[inline]
    fn restore(&mut self, k: usize) {
        if self.segs > 1 {
            for m in self.stash.top_mut(k) {
                m.reset();
            }
        }
    }

    /// Builds the packet of `len` bytes read into the next stashed mbufs.
    #[inline]
    fn take_packet(&mut self, len: usize) -> Option<Mbuf> {
        let mut head = self.stash.take()?;
        let first = head.fill_len(len);
        let mut left = len - first;
        let mut used = 1;
        while left > 0 && used < self.segs {
            let mut seg = self.stash.take()?;
            let n = seg.fill_len(left);
            if head.chain(seg).is_err() {
                return None;
            }
            left -= n;
            used += 1;
        }
        self.restore(self.segs - used);
        head.set_port(self.port);
        Some(head)
    }
}

impl RxQueueOps for TapRx {
    fn rx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        if self.gone {
            return 0;
        }
        let (mut n, mut bytes) = (0, 0u64);
        let mut pi = [0u8; PI_LEN];
        while pkts.room() > 0 {
            if !self.stash.ensure(self.segs) {
                self.counters.add_nombuf(1);
                break;
            }
            match self.read_frame(&mut pi) {
                Ok(len) if len > PI_LEN => {
                    if u16::from_ne_bytes([pi[0], pi[1]]) & PKT_STRIP != 0 {
                        // Bigger than the buffers offered: the kernel cut it.
                        self.counters.add_errors(1);
                        self.restore(self.segs);
                        continue;
                    }
                    match self.take_packet(len - PI_LEN) {
                        Some(m) => {
                            bytes += m.pkt_len() as u64;
                            // Cannot fail: room was checked.
                            let _ = pkts.push(m);
                            n += 1;
                        }
                        None => {
                            self.counters.add_errors(1);
                            break;
                        }
                    }
                }
                Ok(_) => {
                    self.restore(self.segs);
                    self.counters.add_errors(1);
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.restore(self.segs);
                    break;
                }
                Err(e) => {
                    self.restore(self.segs);
                    self.counters.add_errors(1);
                    if tun::is_gone(&e) {
                        self.gone = true;
                        let ifname = &self.ifname;
                        log::error!(target: LOG, "{ifname}: receive queue lost its device: {e}");
                    }
                    break;
                }
            }
        }
        self.counters.add(n as u64, bytes);
        n
    }
}

/// A TAP transmit queue.
pub(crate) struct TapTx {
    file: File,
    counters: Arc<QueueCounters>,
    /// Where chains longer than [`MAX_TX_SEGS`] are gathered.
    scratch: Vec<u8>,
    gone: bool,
    ifname: Arc<str>,
}

impl TapTx {
    pub(crate) fn new(file: File, counters: Arc<QueueCounters>, ifname: Arc<str>) -> TapTx {
        TapTx {
            file,
            counters,
            scratch: Vec::new(),
            gone: false,
            ifname,
        }
    }

    #[inline]
    fn write_frame(&mut self, m: &Mbuf) -> io::Result<usize> {
        const PI: [u8; PI_LEN] = [0; PI_LEN];
        let mut iov = [IoSlice::new(&[]); 1 + MAX_TX_SEGS];
        iov[0] = IoSlice::new(&PI);
        if m.nb_segs() as usize <= MAX_TX_SEGS {
            let mut k = 1;
            for s in m.segments() {
                iov[k] = IoSlice::new(s.data());
                k += 1;
            }
            (&self.file).write_vectored(&iov[..k])
        } else {
            self.scratch.clear();
            for s in m.segments() {
                self.scratch.extend_from_slice(s.data());
            }
            iov[1] = IoSlice::new(&self.scratch);
            (&self.file).write_vectored(&iov[..2])
        }
    }
}

impl TxQueueOps for TapTx {
    fn tx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        if self.gone {
            self.counters.add_errors(pkts.len() as u64);
            return 0;
        }
        let (mut taken, mut sent, mut bytes) = (0, 0u64, 0u64);
        for m in pkts.as_slice() {
            match self.write_frame(m) {
                Ok(_) => {
                    taken += 1;
                    sent += 1;
                    bytes += m.pkt_len() as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if tun::is_gone(&e) => {
                    self.gone = true;
                    self.counters.add_errors((pkts.len() - taken) as u64);
                    let ifname = &self.ifname;
                    log::error!(target: LOG, "{ifname}: transmit queue lost its device: {e}");
                    break;
                }
                Err(e) => match e.raw_os_error() {
                    // The frame itself is refused (shorter than an Ethernet header, too long):
                    // drop it, as a NIC drops a bad descriptor (an error, not sent), and go on.
                    Some(libc::EINVAL | libc::EMSGSIZE | libc::EFAULT) => {
                        self.counters.add_errors(1);
                        taken += 1;
                    }
                    // The device is down or out of memory: give the rest back.
                    _ => {
                        self.counters.add_errors(1);
                        break;
                    }
                },
            }
        }
        self.counters.add(sent, bytes);
        pkts.free_front(taken);
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_for_jumbo_frames() {
        // 2048 + 128: 2048 in the first, 2176 in each other.
        assert_eq!(segs_for(2176, 128), 5);
        assert_eq!(segs_for(9018 + 128, 128), 1);
        assert_eq!(segs_for(10_000, 128), 1);
        assert_eq!(segs_for(1024, 128), 9);
    }
}
