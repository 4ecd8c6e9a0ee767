//! The queues over capture files, and the stand-ins DPDK gives a port without one direction.
//!
//! - [`FileRx`] reads a pcap or pcapng file through a [`Reader`] over `pread` (one call per
//!   256 KiB, at the queue's own offset: never the descriptor's, which duplicates in other
//!   processes share), one packet per mbuf (a chain for packets longer than a buffer), and
//!   returns 0 at the end of the file. The mbufs of a burst are allocated for it and those it
//!   did not fill are freed at its end: the queue holds none between bursts. A record it cannot
//!   read is logged with the file and offset, counted in `ierrors`, and ends the queue's
//!   packets. Starting the port again reads the file again from its first record, as DPDK
//!   reopens it.
//! - [`InfiniteRx`] loads the whole file into memory once and replays it forever, copying each
//!   packet into a fresh mbuf (DPDK does the same from mbufs it keeps): the application gets
//!   private, writable mbufs, where clones would be read-only.
//! - [`FileTx`] writes each burst to a pcap file (nanosecond timestamps from the TSC) with one
//!   `pwrite` at the end of the last burst, so the file is whole after every burst, as DPDK
//!   flushes after each.
//! - [`NullRx`] receives nothing; [`DropTx`] frees and counts what it is given.
//!
//! Where a file queue stands is in its [`QueueWords`], written after every burst (a relaxed
//! store), so that any process can drive the queue next (see `share`): RX, the offset of the
//! next record and the port's start count; `infinite_rx`, the next packet; TX, the end of the
//! last whole burst. A new queue object goes on from there; a TX one first looks at what lies
//! beyond (a write its last driver died in, a prefix of a burst): it keeps the whole records
//! and cuts the file after the last of them. Dropped, a queue object parks the words.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rpdk_mbuf::{BurstView, DynField, DynFlag, Mbuf, MbufBurst, PKTMBUF_HEADROOM, PktmbufPool};

use super::format::{FormatError, RECORD_HEADER_LEN, Reader, write_record_header};
use crate::driver::{DriverResult, RxQueueOps, TxQueueOps};
use crate::drivers::stash::drop_headroom;
use crate::error::DriverError;
use crate::shared::QueueWords;
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

/// Copies a packet into `m` (and more mbufs from `pool` when it is longer than a buffer);
/// `None` when mbufs ran out (`m` and what was chained to it are freed).
#[inline]
fn copy_packet(mut m: Mbuf, pool: &PktmbufPool, data: &[u8]) -> Option<Mbuf> {
    let n = m.fill_from(data);
    if n < data.len() && !append_segments(&mut m, pool, &data[n..]) {
        return None;
    }
    Some(m)
}

/// A file read with `pread` at an offset of its own: the descriptor's offset, which its
/// duplicates in other processes share, is never used.
pub(crate) struct PreadFile {
    file: Arc<File>,
    off: u64,
}

impl PreadFile {
    pub(crate) fn new(file: Arc<File>) -> PreadFile {
        PreadFile { file, off: 0 }
    }
}

impl Read for PreadFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.off)?;
        self.off += n as u64;
        Ok(n)
    }
}

impl Seek for PreadFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let to = match pos {
            SeekFrom::Start(o) => Some(o),
            SeekFrom::Current(d) => self.off.checked_add_signed(d),
            SeekFrom::End(d) => self.file.metadata()?.len().checked_add_signed(d),
        };
        self.off = to.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seeking before the file's start",
            )
        })?;
        Ok(self.off)
    }
}

/// [`QueueWords`] of a file RX queue: the offset of the next record (0: the first one;
/// [`ENDED`]: a bad record ended the queue's packets).
const OFFSET: usize = 0;
/// Bumped by each start of the port (the primary's `start`): the file is read again.
pub(crate) const STARTS: usize = 1;
/// The [`STARTS`] value [`OFFSET`] belongs to.
const SEEN: usize = 2;
/// [`OFFSET`] of a queue whose file holds a bad record where it stands.
const ENDED: u64 = u64::MAX;
/// [`QueueWords`] of an `infinite_rx` queue: the index of the next packet replayed.
const NEXT: usize = 0;
/// [`QueueWords`] of a TX file queue: the end of the last whole burst of records written.
const COMMITTED: usize = 0;

/// Resets a file RX queue's words for a queue set up anew: from the first record.
pub(crate) fn rx_from_start(words: &QueueWords) {
    words.get(OFFSET).store(0, Ordering::Relaxed);
    let starts = words.get(STARTS).load(Ordering::Relaxed);
    words.get(SEEN).store(starts, Ordering::Relaxed);
}

/// Resets an `infinite_rx` queue's words: from the first packet.
pub(crate) fn replay_from_start(words: &QueueWords) {
    words.get(NEXT).store(0, Ordering::Relaxed);
}

/// Sets a new TX file queue's words: the file holds `len` bytes of whole records.
pub(crate) fn tx_committed(words: &QueueWords, len: u64) {
    words.get(COMMITTED).store(len, Ordering::Relaxed);
}

/// A receive queue reading a capture file, from the offset in its words.
pub(crate) struct FileRx {
    file: Arc<File>,
    path: Arc<str>,
    /// `None`: a bad record ended the packets (until the port starts again).
    reader: Option<Reader<PreadFile>>,
    pool: PktmbufPool,
    port: u16,
    counters: Arc<QueueCounters>,
    words: Arc<QueueWords>,
    /// [`STARTS`] when the queue last looked.
    seen: u64,
    ts: Option<RxTimestamp>,
}

/// A reader of `file` at `offset` (0: the first record).
fn reader_at(file: &Arc<File>, path: &str, offset: u64) -> Result<Reader<PreadFile>, FormatError> {
    let mut r = Reader::new(PreadFile::new(file.clone()), path)?;
    if offset != 0 {
        r.skip_to(offset)?;
    }
    Ok(r)
}

impl FileRx {
    /// The queue from where its words say its last driver stopped.
    pub(crate) fn resume(
        file: Arc<File>,
        path: Arc<str>,
        pool: &PktmbufPool,
        port: u16,
        counters: Arc<QueueCounters>,
        words: Arc<QueueWords>,
        ts: Option<RxTimestamp>,
    ) -> DriverResult<FileRx> {
        let seen = words.get(SEEN).load(Ordering::Relaxed);
        let offset = words.get(OFFSET).load(Ordering::Relaxed);
        let reader = match offset {
            ENDED => None,
            o => Some(
                reader_at(&file, &path, o)
                    .map_err(|e| DriverError::Other(format!("going on from offset {o}: {e}")))?,
            ),
        };
        let mut q = FileRx {
            file,
            path,
            reader,
            pool: pool.clone(),
            port,
            counters,
            words,
            seen,
            ts,
        };
        q.check_starts();
        Ok(q)
    }

    /// Reads the file again from the start if the port started since the queue last looked.
    #[inline]
    fn check_starts(&mut self) {
        let starts = self.words.get(STARTS).load(Ordering::Relaxed);
        if starts != self.seen {
            self.seen = starts;
            self.words.get(SEEN).store(starts, Ordering::Relaxed);
            if self.words.get(OFFSET).load(Ordering::Relaxed) != 0 {
                self.rewind();
            }
        }
    }

    #[cold]
    fn rewind(&mut self) {
        match reader_at(&self.file, &self.path, 0) {
            Ok(r) => {
                self.reader = Some(r);
                self.words.get(OFFSET).store(0, Ordering::Relaxed);
            }
            Err(e) => {
                log::error!(target: LOG, "rereading {}: {e}", self.path);
                self.counters.add_errors(1);
                self.end();
            }
        }
    }

    #[cold]
    fn end(&mut self) {
        self.reader = None;
        self.words.get(OFFSET).store(ENDED, Ordering::Relaxed);
    }
}

impl RxQueueOps for FileRx {
    fn rx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        self.check_starts();
        let Some(reader) = &mut self.reader else {
            return 0;
        };
        let (mut n, mut bytes) = (0, 0u64);
        let mut failed = false;
        // Mbufs are taken for a burst and what it leaves is freed: the queue holds none
        // between bursts, so a process that dies driving it takes none with it.
        let mut fresh = MbufBurst::<BULK>::new();
        while pkts.room() > 0 {
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
            if fresh.is_empty() {
                let k = pkts.room().min(BULK);
                if self.pool.alloc_bulk(&mut fresh, k).is_err() {
                    match self.pool.alloc() {
                        // Cannot fail: the burst is empty.
                        Ok(m) => drop(fresh.push(m)),
                        Err(_) => {
                            self.counters.add_nombuf(1);
                            break;
                        }
                    }
                }
            }
            let Some(m) = fresh.pop() else { break };
            let Some(mut m) = copy_packet(m, &self.pool, p.data) else {
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
        if n > 0 {
            let at = reader.offset();
            self.words.get(OFFSET).store(at, Ordering::Relaxed);
        }
        if failed {
            self.end();
        }
        n
    }
}

impl Drop for FileRx {
    fn drop(&mut self) {
        // The words are current after every burst: left as they are for the next driver.
        self.words.park();
    }
}

/// Mbufs a file RX burst allocates at once.
const BULK: usize = 32;

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
    words: Arc<QueueWords>,
}

impl InfiniteRx {
    /// Loads `file` (named `path`); every packet must fit one mbuf of `pool` (as DPDK
    /// requires). The replay goes on from the packet its words say.
    pub(crate) fn load(
        file: &Arc<File>,
        path: &str,
        pool: &PktmbufPool,
        port: u16,
        counters: Arc<QueueCounters>,
        words: Arc<QueueWords>,
    ) -> DriverResult<InfiniteRx> {
        let room = pool.data_room_size().saturating_sub(PKTMBUF_HEADROOM) as usize;
        let mut reader = Reader::new(PreadFile::new(file.clone()), path)
            .map_err(|e| DriverError::Other(e.to_string()))?;
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
        let next = words.get(NEXT).load(Ordering::Relaxed) as usize % ends.len();
        Ok(InfiniteRx {
            bytes: bytes.into(),
            ends: ends.into(),
            next,
            pool: pool.clone(),
            port,
            counters,
            words,
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
        self.words
            .get(NEXT)
            .store(self.next as u64, Ordering::Relaxed);
        self.counters.add(n as u64, bytes);
        n
    }
}

impl Drop for InfiniteRx {
    fn drop(&mut self) {
        self.words.park();
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

/// A transmit queue appending to a pcap file at the end its words record.
pub(crate) struct FileTx {
    file: Arc<File>,
    path: Arc<str>,
    /// The records of one burst.
    buf: Vec<u8>,
    /// The end of the last whole burst written (also in the words): a failed write is cut
    /// back to here, and so is what a process that died writing left after it.
    committed: u64,
    words: Arc<QueueWords>,
    clock: Clock,
    counters: Arc<QueueCounters>,
    failing: bool,
}

impl FileTx {
    /// The queue, appending at the end its words record. Bytes after it are what a process
    /// that died writing left (a prefix of a burst): its whole records are kept, and the file
    /// is cut after the last of them.
    pub(crate) fn new(
        file: Arc<File>,
        path: Arc<str>,
        clock: Clock,
        counters: Arc<QueueCounters>,
        words: Arc<QueueWords>,
    ) -> DriverResult<FileTx> {
        let committed = words.get(COMMITTED).load(Ordering::Relaxed);
        let len = file
            .metadata()
            .map_err(|e| DriverError::io(format!("reading the size of '{path}'"), e))?
            .len();
        if len < committed {
            return Err(DriverError::Other(format!(
                "'{path}' has {len} bytes, fewer than the {committed} written to it: \
                 something else cut it"
            )));
        }
        let mut committed = committed;
        if len > committed {
            // What a dead writer left: whole records first (a write is a prefix of its
            // burst), kept, then at most part of one, cut.
            let whole = whole_records(&file, committed, len)
                .map_err(|e| DriverError::io(format!("reading the end of '{path}'"), e))?;
            if whole < len {
                log::warn!(
                    target: LOG,
                    "{path}: cutting {} bytes of an unfinished write after offset {whole} \
                     (its writer died)",
                    len - whole
                );
                file.set_len(whole)
                    .map_err(|e| DriverError::io(format!("cutting '{path}' back"), e))?;
            }
            committed = whole;
            words.get(COMMITTED).store(committed, Ordering::Release);
        }
        Ok(FileTx {
            file,
            path,
            buf: Vec::with_capacity(64 * 1024),
            committed,
            words,
            clock,
            counters,
            failing: false,
        })
    }
}

/// The end of the whole records of `file` from offset `from` (a record boundary) on, up to
/// `len`: where a record header is cut short, its data is, or it is not one [`FileTx`] writes.
fn whole_records(file: &File, mut from: u64, len: u64) -> io::Result<u64> {
    let mut h = [0u8; RECORD_HEADER_LEN];
    while from + RECORD_HEADER_LEN as u64 <= len {
        file.read_exact_at(&mut h, from)?;
        let caplen = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
        let orig_len = u32::from_le_bytes([h[12], h[13], h[14], h[15]]);
        let end = from + (RECORD_HEADER_LEN as u64) + u64::from(caplen);
        if caplen > SNAPLEN || caplen > orig_len || end > len {
            break;
        }
        from = end;
    }
    Ok(from)
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
        match self.file.write_all_at(&self.buf, self.committed) {
            Ok(()) => {
                self.committed += self.buf.len() as u64;
                // After the write: a process that dies before this store leaves the whole
                // burst to be cut, one that dies inside the write a part of it.
                self.words
                    .get(COMMITTED)
                    .store(self.committed, Ordering::Release);
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
                let _ = self.file.set_len(self.committed);
                0
            }
        }
    }
}

impl Drop for FileTx {
    fn drop(&mut self) {
        self.words.park();
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
    fn what_a_dead_writer_left_is_cut_after_its_last_whole_record() {
        let path = std::env::temp_dir().join(format!("rpdk-whole-{}.pcap", std::process::id()));
        let mut bytes = Vec::new();
        crate::drivers::pcap::format::write_file_header(&mut bytes, true, SNAPLEN);
        let mut ends = vec![bytes.len() as u64];
        for len in [60u32, 1514, 0] {
            write_record_header(&mut bytes, true, 1, len, len);
            bytes.resize(bytes.len() + len as usize, 0xab);
            ends.push(bytes.len() as u64);
        }
        std::fs::write(&path, &bytes).unwrap();
        let file = File::open(&path).unwrap();
        let len = bytes.len() as u64;
        // Whole records from any record boundary.
        for &from in &ends {
            assert_eq!(whole_records(&file, from, len).unwrap(), len, "from {from}");
        }
        // A record cut in its header or its data, or one no FileTx writes, ends them.
        for (cut, whole) in [
            (len - 1, ends[2]),      // the empty last record's header
            (ends[2] + 3, ends[2]),  // the same, shorter
            (ends[1] + 20, ends[1]), // the 1514-byte record's data
        ] {
            assert_eq!(
                whole_records(&file, ends[0], cut).unwrap(),
                whole,
                "cut at {cut}"
            );
        }
        let mut bad = bytes[..ends[1] as usize].to_vec();
        write_record_header(&mut bad, true, 1, 100, 60); // captured more than the wire length
        bad.resize(bad.len() + 100, 0);
        std::fs::write(&path, &bad).unwrap();
        let file = File::open(&path).unwrap();
        assert_eq!(
            whole_records(&file, ends[0], bad.len() as u64).unwrap(),
            ends[1]
        );
        let _ = std::fs::remove_file(&path);
    }

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
