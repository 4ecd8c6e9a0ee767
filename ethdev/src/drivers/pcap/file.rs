//! The queues over capture files, and the stand-ins DPDK gives a port without one direction.
//!
//! - [`FileRx`] reads a pcap or pcapng file through a [`Reader`] (one `read` per 256 KiB), one
//!   packet per mbuf (a chain for packets longer than a buffer), and returns 0 at the end of the
//!   file. A record it cannot read is logged with the file and offset, counted in `ierrors`, and
//!   ends the queue's packets. Starting the port again rewinds the file, as DPDK reopens it.
//! - [`InfiniteRx`] loads the whole file into memory once and replays it forever, copying each
//!   packet into a fresh mbuf (DPDK does the same from mbufs it keeps): the application gets
//!   private, writable mbufs, where clones would be read-only.
//! - [`FileTx`] appends each burst to a pcap file (nanosecond timestamps from the TSC) with one
//!   `write`, so the file is whole after every burst, as DPDK flushes after each.
//! - [`NullRx`] receives nothing; [`DropTx`] frees and counts what it is given.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rpdk_mbuf::{BurstView, DynField, DynFlag, Mbuf, PKTMBUF_HEADROOM, PktmbufPool};

use super::format::{Reader, write_record_header};
use crate::driver::{DriverResult, RxQueueOps, TxQueueOps};
use crate::drivers::stash::{RxStash, drop_headroom};
use crate::error::DriverError;
use crate::stats::QueueCounters;

const LOG: &str = "pmd.net.pcap";

/// Captured length written at most per packet (the files' snaplen, DPDK's
/// `RTE_ETH_PCAP_SNAPSHOT_LEN`).
pub(crate) const SNAPLEN: u32 = 65535;

/// DPDK's receive timestamp: the `rte_dynfield_timestamp` field and `rte_dynflag_rx_timestamp`
/// flag, set from the file's timestamps in microseconds as DPDK's pcap driver does.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RxTimestamp {
    field: DynField<u64>,
    flag: DynFlag,
}

impl RxTimestamp {
    /// Registers (or finds) the field and flag.
    pub(crate) fn register() -> Option<RxTimestamp> {
        let (field, flag) = rpdk_mbuf::dynfield::register_rx_timestamp().ok()?;
        Some(RxTimestamp { field, flag })
    }

    #[inline]
    fn set(&self, m: &mut Mbuf, ts_ns: u64) {
        self.field.set(m, ts_ns / 1000);
        self.flag.set(m, true);
    }
}

/// Appends `data` to `head` in new segments from `pool` (no headroom in them). On failure the
/// segments made so far are freed and `head` is unchanged but for its chain.
pub(crate) fn append_segments(head: &mut Mbuf, pool: &PktmbufPool, mut data: &[u8]) -> bool {
    while !data.is_empty() {
        let Ok(mut seg) = pool.alloc() else {
            return false;
        };
        drop_headroom(&mut seg);
        let n = seg.fill_from(data);
        if n == 0 || head.chain(seg).is_err() {
            return false;
        }
        data = &data[n..];
    }
    true
}

/// Copies a packet into the next stashed mbuf (and more from the pool when it is longer than a
/// buffer); `None` when mbufs ran out, with nothing taken.
#[inline]
fn copy_packet(stash: &mut RxStash, data: &[u8]) -> Option<Mbuf> {
    let mut m = stash.take()?;
    let n = m.fill_from(data);
    if n < data.len() && !append_segments(&mut m, stash.pool(), &data[n..]) {
        return None;
    }
    Some(m)
}

/// A receive queue reading a capture file.
pub(crate) struct FileRx {
    path: Arc<str>,
    reader: Option<Reader<File>>,
    /// No packet was taken since the file was opened.
    fresh: bool,
    stash: RxStash,
    port: u16,
    counters: Arc<QueueCounters>,
    /// Bumped by every start of the port: the file is read again from the start.
    starts: Arc<AtomicU64>,
    seen: u64,
    ts: Option<RxTimestamp>,
}

fn open_reader(path: &str) -> DriverResult<Reader<File>> {
    let f = File::open(path).map_err(|e| DriverError::io(format!("opening '{path}'"), e))?;
    Reader::new(f, path).map_err(|e| DriverError::Other(e.to_string()))
}

impl FileRx {
    pub(crate) fn open(
        path: Arc<str>,
        pool: &PktmbufPool,
        port: u16,
        counters: Arc<QueueCounters>,
        starts: Arc<AtomicU64>,
        ts: Option<RxTimestamp>,
    ) -> DriverResult<FileRx> {
        Ok(FileRx {
            reader: Some(open_reader(&path)?),
            path,
            fresh: true,
            stash: RxStash::new(pool.clone()),
            port,
            counters,
            seen: starts.load(Ordering::Relaxed),
            starts,
            ts,
        })
    }

    #[cold]
    fn rewind(&mut self) {
        match open_reader(&self.path) {
            Ok(r) => self.reader = Some(r),
            Err(e) => {
                log::error!(target: LOG, "rereading {}: {e}", self.path);
                self.counters.add_errors(1);
                self.reader = None;
            }
        }
        self.fresh = true;
    }
}

impl RxQueueOps for FileRx {
    fn rx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let starts = self.starts.load(Ordering::Relaxed);
        if starts != self.seen {
            self.seen = starts;
            if !self.fresh {
                self.rewind();
            }
        }
        let Some(reader) = &mut self.reader else {
            return 0;
        };
        let (mut n, mut bytes) = (0, 0u64);
        let mut failed = false;
        while pkts.room() > 0 {
            if !self.stash.ensure(1) {
                self.counters.add_nombuf(1);
                break;
            }
            let p = match reader.peek() {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => {
                    log::error!(target: LOG, "{e}");
                    self.counters.add_errors(1);
                    failed = true;
                    break;
                }
            };
            let Some(mut m) = copy_packet(&mut self.stash, p.data) else {
                self.counters.add_nombuf(1);
                break;
            };
            if let Some(ts) = &self.ts {
                ts.set(&mut m, p.ts_ns);
            }
            bytes += p.data.len() as u64;
            m.set_port(self.port);
            reader.consume();
            // Cannot fail: room was checked.
            let _ = pkts.push(m);
            n += 1;
        }
        self.counters.add(n as u64, bytes);
        if failed {
            self.reader = None;
        }
        if n > 0 {
            self.fresh = false;
        }
        n
    }
}

/// A receive queue replaying a file from memory, forever.
pub(crate) struct InfiniteRx {
    /// Every packet's bytes, back to back.
    bytes: Box<[u8]>,
    /// Where each packet ends in `bytes`.
    ends: Box<[usize]>,
    next: usize,
    pool: PktmbufPool,
    port: u16,
    counters: Arc<QueueCounters>,
}

impl InfiniteRx {
    /// Loads `path`; every packet must fit one mbuf of `pool` (as DPDK requires).
    pub(crate) fn load(
        path: &str,
        pool: &PktmbufPool,
        port: u16,
        counters: Arc<QueueCounters>,
    ) -> DriverResult<InfiniteRx> {
        let room = pool.data_room_size().saturating_sub(PKTMBUF_HEADROOM) as usize;
        let mut reader = open_reader(path)?;
        let mut bytes = Vec::new();
        let mut ends = Vec::new();
        while let Some(p) = reader
            .next_packet()
            .map_err(|e| DriverError::Other(e.to_string()))?
        {
            if p.data.len() > room {
                return Err(DriverError::Invalid(format!(
                    "infinite_rx: packet {} of '{path}' has {} bytes, more than the {room} of \
                     one mbuf",
                    ends.len(),
                    p.data.len()
                )));
            }
            bytes.extend_from_slice(p.data);
            ends.push(bytes.len());
        }
        if ends.is_empty() {
            return Err(DriverError::Invalid(format!(
                "infinite_rx: '{path}' holds no packet to replay"
            )));
        }
        Ok(InfiniteRx {
            bytes: bytes.into(),
            ends: ends.into(),
            next: 0,
            pool: pool.clone(),
            port,
            counters,
        })
    }
}

impl RxQueueOps for InfiniteRx {
    fn rx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let n = pkts.room();
        if n == 0 {
            return 0;
        }
        let before = pkts.len();
        if self.pool.alloc_bulk_into(pkts, n).is_err() {
            self.counters.add_nombuf(n as u64);
            return 0;
        }
        let mut bytes = 0u64;
        for m in &mut pkts.as_mut_slice()[before..] {
            let start = if self.next == 0 {
                0
            } else {
                self.ends[self.next - 1]
            };
            let data = &self.bytes[start..self.ends[self.next]];
            // A fresh mbuf, and every packet fits (checked at load).
            m.fill_from(data);
            m.set_port(self.port);
            bytes += data.len() as u64;
            self.next += 1;
            if self.next == self.ends.len() {
                self.next = 0;
            }
        }
        self.counters.add(n as u64, bytes);
        n
    }
}

/// Wall-clock nanoseconds from the TSC: a realtime base taken once, plus TSC cycles since.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    base_ns: u64,
    base_tsc: u64,
    /// Nanoseconds per cycle, times 2^32.
    mult: u64,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        // First: the frequency may be calibrated now, which takes a while.
        let hz = rpdk_eal::time::tsc_hz().max(1);
        let base_ns = std::time::UNIX_EPOCH
            .elapsed()
            .map_or(0, |d| d.as_nanos() as u64);
        Clock {
            base_ns,
            base_tsc: rpdk_eal::time::rdtsc(),
            mult: ((1_000_000_000u128 << 32) / hz as u128) as u64,
        }
    }

    #[inline]
    pub(crate) fn now_ns(&self) -> u64 {
        let cycles = rpdk_eal::time::rdtsc().wrapping_sub(self.base_tsc);
        self.base_ns + ((cycles as u128 * self.mult as u128) >> 32) as u64
    }
}

/// A transmit queue appending to a pcap file.
pub(crate) struct FileTx {
    file: File,
    path: Arc<str>,
    /// The records of one burst.
    buf: Vec<u8>,
    /// Bytes of the file known good: a failed write is cut back to here.
    written: u64,
    clock: Clock,
    counters: Arc<QueueCounters>,
    failing: bool,
}

impl FileTx {
    pub(crate) fn new(
        mut file: File,
        path: Arc<str>,
        clock: Clock,
        counters: Arc<QueueCounters>,
    ) -> DriverResult<FileTx> {
        let written = file
            .stream_position()
            .map_err(|e| DriverError::io(format!("seeking in '{path}'"), e))?;
        Ok(FileTx {
            file,
            path,
            buf: Vec::with_capacity(64 * 1024),
            written,
            clock,
            counters,
            failing: false,
        })
    }
}

impl TxQueueOps for FileTx {
    fn tx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let n = pkts.len();
        if n == 0 {
            return 0;
        }
        self.buf.clear();
        let mut bytes = 0u64;
        for m in pkts.as_slice() {
            let len = m.pkt_len();
            bytes += len as u64;
            let cap = len.min(SNAPLEN);
            write_record_header(&mut self.buf, true, self.clock.now_ns(), cap, len);
            let mut left = cap as usize;
            for s in m.segments() {
                let d = &s.data()[..left.min(s.data().len())];
                self.buf.extend_from_slice(d);
                left -= d.len();
                if left == 0 {
                    break;
                }
            }
        }
        match self.file.write_all(&self.buf) {
            Ok(()) => {
                self.written += self.buf.len() as u64;
                self.failing = false;
                self.counters.add(n as u64, bytes);
                pkts.free_front(n);
                n
            }
            Err(e) => {
                if !self.failing {
                    log::error!(target: LOG, "writing {}: {e}", self.path);
                    self.failing = true;
                }
                self.counters.add_errors(n as u64);
                // Cut a partial write so that the file stays readable.
                let _ = self.file.set_len(self.written);
                let _ = self.file.seek(SeekFrom::Start(self.written));
                0
            }
        }
    }
}

/// The receive queue of a port with no receive source: nothing ever arrives.
pub(crate) struct NullRx;

impl RxQueueOps for NullRx {
    fn rx_burst(&mut self, _pkts: &mut BurstView<'_>) -> usize {
        0
    }
}

/// The transmit queue of a port with no destination: packets are counted and freed.
pub(crate) struct DropTx {
    counters: Arc<QueueCounters>,
}

impl DropTx {
    pub(crate) fn new(counters: Arc<QueueCounters>) -> DropTx {
        DropTx { counters }
    }
}

impl TxQueueOps for DropTx {
    fn tx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let n = pkts.len();
        // pkt_len sits in the header line that freeing reads next: no extra cache miss.
        let bytes = pkts.as_slice().iter().map(|m| m.pkt_len() as u64).sum();
        self.counters.add(n as u64, bytes);
        pkts.free_front(n);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_moves_with_the_wall() {
        let c = Clock::new();
        let wall = std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos() as u64;
        let t1 = c.now_ns();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let t2 = c.now_ns();
        assert!(t1.abs_diff(wall) < 50_000_000, "{t1} vs {wall}");
        assert!(
            (15_000_000..500_000_000).contains(&(t2 - t1)),
            "{}",
            t2 - t1
        );
    }
}
