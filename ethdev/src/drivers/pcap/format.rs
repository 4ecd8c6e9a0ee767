//! Capture files: reading classic pcap and pcapng, writing classic pcap.
//!
//! [`Reader`] takes any [`Read`] and yields [`Packet`]s that borrow its buffer (no allocation
//! per packet, one `read` per 256 KiB): classic pcap with microsecond or nanosecond timestamps
//! in either byte order, and pcapng (section header, interface description, enhanced, simple and
//! obsolete packet blocks; other blocks are skipped; several sections, each in its own byte
//! order). Only Ethernet captures are accepted. A file that ends in the middle of a record or
//! holds an impossible field gives a [`FormatError`] naming the file and the offset of the bad
//! record; an end of file between records is the end of the packets.
//!
//! The writer side is two functions that append a file header and a record header to a buffer,
//! in the layout `tcpdump -r` and Wireshark read: little-endian, Ethernet, microsecond or
//! nanosecond timestamps.
//!
//! ```
//! use rpdk_ethdev::drivers::pcap::format::{Reader, write_file_header, write_record_header};
//!
//! let frame = [0xffu8; 60];
//! let mut file = Vec::new();
//! write_file_header(&mut file, true, 65535);
//! write_record_header(&mut file, true, 1_700_000_000_123_456_789, 60, 60);
//! file.extend_from_slice(&frame);
//!
//! let mut r = Reader::new(&file[..], "mem.pcap")?;
//! let p = r.next_packet()?.expect("one packet");
//! assert_eq!((p.ts_ns, p.orig_len, p.data), (1_700_000_000_123_456_789, 60, &frame[..]));
//! assert!(r.next_packet()?.is_none());
//! # Ok::<(), rpdk_ethdev::drivers::pcap::format::FormatError>(())
//! ```

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};

/// Link type of Ethernet captures (`LINKTYPE_ETHERNET`).
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Largest captured length a record may have (libpcap's `MAXIMUM_SNAPLEN`).
pub const MAX_SNAPLEN: u32 = 262_144;
/// Largest pcapng block accepted (libpcap's limit).
pub const MAX_BLOCK: u32 = 16 * 1024 * 1024;
/// Size of a classic pcap file header.
pub const FILE_HEADER_LEN: usize = 24;
/// Size of a classic pcap record header.
pub const RECORD_HEADER_LEN: usize = 16;

const MAGIC_US: u32 = 0xa1b2_c3d4;
const MAGIC_NS: u32 = 0xa1b2_3c4d;
const NG_SHB: u32 = 0x0a0d_0d0a;
const NG_BOM: u32 = 0x1a2b_3c4d;
const NG_IDB: u32 = 1;
const NG_OPB: u32 = 2;
const NG_SPB: u32 = 3;
const NG_EPB: u32 = 6;
const CHUNK: usize = 256 * 1024;

/// What is wrong with a capture file.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    /// Reading failed.
    #[error("read error: {0}")]
    Io(#[source] io::Error),
    /// The file ends inside a header or record.
    #[error("truncated {what}: needs {need} bytes, {have} left")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes it needs.
        need: u64,
        /// Bytes the file still had.
        have: u64,
    },
    /// A field holds an impossible or unsupported value.
    #[error("{0}")]
    Malformed(String),
}

/// A capture file that cannot be read, with where.
#[derive(Debug, thiserror::Error)]
#[error("{file}, offset {offset}: {kind}")]
pub struct FormatError {
    /// The file's name.
    pub file: String,
    /// Offset of the header or record at fault.
    pub offset: u64,
    /// What is wrong.
    #[source]
    pub kind: ErrorKind,
}

/// A packet of a capture file, borrowing the reader's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Capture time, nanoseconds since the Unix epoch (0 when the record has none).
    pub ts_ns: u64,
    /// Length of the packet on the wire.
    pub orig_len: u32,
    /// The captured bytes (fewer than `orig_len` when the capture cut it).
    pub data: &'a [u8],
}

/// The kind of file a [`Reader`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// Classic pcap.
    Pcap {
        /// Nanosecond timestamps (magic `a1b23c4d`) rather than microseconds.
        nanos: bool,
        /// Big-endian.
        big_endian: bool,
    },
    /// pcapng.
    Pcapng,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileKind::Pcap { nanos, big_endian } => write!(
                f,
                "pcap ({}, {})",
                if *nanos { "ns" } else { "us" },
                if *big_endian {
                    "big-endian"
                } else {
                    "little-endian"
                }
            ),
            FileKind::Pcapng => f.write_str("pcapng"),
        }
    }
}

/// Timestamp resolution of a pcapng interface (`if_tsresol`).
#[derive(Clone, Copy, Debug)]
enum Resol {
    Pow10(u8),
    Pow2(u8),
}

impl Resol {
    fn to_ns(self, ts: u64) -> u64 {
        match self {
            Resol::Pow10(k) if k <= 9 => ts.saturating_mul(10u64.pow(9 - k as u32)),
            Resol::Pow10(k) => 10u64.checked_pow(k as u32 - 9).map_or(0, |div| ts / div),
            Resol::Pow2(k) => ((ts as u128 * 1_000_000_000) >> k.min(127)) as u64,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Iface {
    snaplen: u32,
    resol: Resol,
}

#[derive(Debug)]
enum State {
    Pcap { swap: bool, nanos: bool },
    Pcapng { swap: bool, ifaces: Vec<Iface> },
}

/// Where the next packet lies in the buffer, found by [`Reader::peek`].
#[derive(Clone, Copy, Debug)]
struct Next {
    /// Bytes of the record, from the reader's position.
    len: usize,
    data_off: usize,
    data_len: usize,
    ts_ns: u64,
    orig_len: u32,
}

/// Reads the packets of a pcap or pcapng file (see the [module docs](self)).
pub struct Reader<R> {
    src: R,
    file: String,
    kind: FileKind,
    state: State,
    buf: Vec<u8>,
    /// Start of the unread bytes in `buf`.
    pos: usize,
    /// End of the valid bytes in `buf`.
    end: usize,
    /// File offset of `buf[0]`.
    base: u64,
    eof: bool,
    next: Option<Next>,
}

impl<R> fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("file", &self.file)
            .field("kind", &self.kind)
            .field("offset", &(self.base + self.pos as u64))
            .finish()
    }
}

#[inline]
fn u16_at(b: &[u8], at: usize, swap: bool) -> u16 {
    let v = u16::from_le_bytes([b[at], b[at + 1]]);
    if swap { v.swap_bytes() } else { v }
}

#[inline]
fn u32_at(b: &[u8], at: usize, swap: bool) -> u32 {
    let v = u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    if swap { v.swap_bytes() } else { v }
}

impl<R: Read> Reader<R> {
    /// Reads the file header of `src`, named `file` in errors.
    pub fn new(src: R, file: impl Into<String>) -> Result<Reader<R>, FormatError> {
        let mut r = Reader {
            src,
            file: file.into(),
            kind: FileKind::Pcapng,
            state: State::Pcapng {
                swap: false,
                ifaces: Vec::new(),
            },
            buf: Vec::new(),
            pos: 0,
            end: 0,
            base: 0,
            eof: false,
            next: None,
        };
        r.read_header()?;
        Ok(r)
    }

    /// The file's kind.
    pub fn kind(&self) -> FileKind {
        self.kind
    }

    /// Offset in the file of the next unread byte.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    fn err(&self, kind: ErrorKind) -> FormatError {
        FormatError {
            file: self.file.clone(),
            offset: self.offset(),
            kind,
        }
    }

    fn malformed(&self, what: String) -> FormatError {
        self.err(ErrorKind::Malformed(what))
    }

    /// Makes `need` unread bytes available if the file has them; returns how many there are
    /// (fewer only at the end of the file).
    fn fill(&mut self, need: usize) -> Result<usize, FormatError> {
        if self.end - self.pos >= need || self.eof {
            return Ok(self.end - self.pos);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.buf.len() < need.max(CHUNK) {
            self.buf.resize(need.max(CHUNK), 0);
        }
        while self.end < need {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.err(ErrorKind::Io(e))),
            }
        }
        Ok(self.end - self.pos)
    }

    /// Makes `need` bytes available or fails naming `what` as truncated.
    fn need(&mut self, need: usize, what: &'static str) -> Result<(), FormatError> {
        let have = self.fill(need)?;
        if have < need {
            return Err(self.err(ErrorKind::Truncated {
                what,
                need: need as u64,
                have: have as u64,
            }));
        }
        Ok(())
    }

    /// The unread bytes (as many as [`fill`](Self::fill) made available).
    #[inline]
    fn bytes(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    fn read_header(&mut self) -> Result<(), FormatError> {
        self.need(4, "file header")?;
        match u32_at(self.bytes(), 0, false) {
            NG_SHB => {
                self.kind = FileKind::Pcapng;
                // The first block is the section header: read it now, so a bad one fails here.
                // It holds no packet.
                self.block()?;
                Ok(())
            }
            m => {
                let (nanos, swap) = match m {
                    MAGIC_US => (false, false),
                    MAGIC_NS => (true, false),
                    _ if m.swap_bytes() == MAGIC_US => (false, true),
                    _ if m.swap_bytes() == MAGIC_NS => (true, true),
                    _ => {
                        return Err(self.malformed(format!(
                            "not a pcap or pcapng file (magic {:02x?})",
                            m.to_le_bytes()
                        )));
                    }
                };
                self.need(FILE_HEADER_LEN, "pcap file header")?;
                let h = self.bytes();
                let (major, minor) = (u16_at(h, 4, swap), u16_at(h, 6, swap));
                let linktype = u32_at(h, 20, swap) & 0x03ff_ffff;
                if major != 2 {
                    return Err(self.malformed(format!(
                        "unsupported pcap version {major}.{minor} (2.x expected)"
                    )));
                }
                if linktype != LINKTYPE_ETHERNET {
                    return Err(self.malformed(format!(
                        "link type {linktype} is not Ethernet ({LINKTYPE_ETHERNET})"
                    )));
                }
                self.kind = FileKind::Pcap {
                    nanos,
                    big_endian: swap != cfg!(target_endian = "big"),
                };
                self.state = State::Pcap { swap, nanos };
                self.pos += FILE_HEADER_LEN;
                Ok(())
            }
        }
    }

    /// The next packet, without consuming it: the same packet comes back until
    /// [`consume`](Self::consume). `None` at the end of the file.
    pub fn peek(&mut self) -> Result<Option<Packet<'_>>, FormatError> {
        if self.next.is_none() {
            self.next = match self.state {
                State::Pcap { swap, nanos } => self.record(swap, nanos)?,
                State::Pcapng { .. } => loop {
                    if let Some(n) = self.block()? {
                        break Some(n);
                    }
                    if self.fill(1)? == 0 {
                        break None;
                    }
                },
            };
        }
        Ok(self.next.map(|n| Packet {
            ts_ns: n.ts_ns,
            orig_len: n.orig_len,
            data: &self.buf[self.pos + n.data_off..self.pos + n.data_off + n.data_len],
        }))
    }

    /// Moves past the packet [`peek`](Self::peek) returned.
    pub fn consume(&mut self) {
        if let Some(n) = self.next.take() {
            self.pos += n.len;
        }
    }

    /// The next packet, consumed; `None` at the end of the file.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, FormatError> {
        self.peek()?;
        let Some(n) = self.next.take() else {
            return Ok(None);
        };
        let start = self.pos;
        self.pos += n.len;
        Ok(Some(Packet {
            ts_ns: n.ts_ns,
            orig_len: n.orig_len,
            data: &self.buf[start + n.data_off..start + n.data_off + n.data_len],
        }))
    }

    /// A classic pcap record.
    fn record(&mut self, swap: bool, nanos: bool) -> Result<Option<Next>, FormatError> {
        if self.fill(RECORD_HEADER_LEN)? == 0 {
            return Ok(None);
        }
        self.need(RECORD_HEADER_LEN, "record header")?;
        let h = self.bytes();
        let sec = u32_at(h, 0, swap) as u64;
        let frac = u32_at(h, 4, swap) as u64;
        let caplen = u32_at(h, 8, swap);
        let orig_len = u32_at(h, 12, swap);
        if caplen > MAX_SNAPLEN {
            return Err(self.malformed(format!(
                "record of {caplen} captured bytes (at most {MAX_SNAPLEN})"
            )));
        }
        let len = RECORD_HEADER_LEN + caplen as usize;
        let have = self.fill(len)?;
        if have < len {
            return Err(self.err(ErrorKind::Truncated {
                what: "record data",
                need: caplen as u64,
                have: (have - RECORD_HEADER_LEN) as u64,
            }));
        }
        let ts_ns = sec * 1_000_000_000 + if nanos { frac } else { frac * 1000 };
        Ok(Some(Next {
            len,
            data_off: RECORD_HEADER_LEN,
            data_len: caplen as usize,
            ts_ns,
            orig_len,
        }))
    }

    /// One pcapng block: `Some` for a packet (left unconsumed), `None` for any other block
    /// (consumed) or the end of the file.
    fn block(&mut self) -> Result<Option<Next>, FormatError> {
        let have = self.fill(12)?;
        if have == 0 {
            return Ok(None);
        }
        self.need(8, "block header")?;
        if u32_at(self.bytes(), 0, false) == NG_SHB {
            self.need(12, "section header")?;
            let bom = u32_at(self.bytes(), 8, false);
            let swap = match bom {
                NG_BOM => false,
                _ if bom.swap_bytes() == NG_BOM => true,
                _ => {
                    return Err(self.malformed(format!(
                        "section header with byte-order magic {:02x?}",
                        bom.to_le_bytes()
                    )));
                }
            };
            self.state = State::Pcapng {
                swap,
                ifaces: Vec::new(),
            };
        }
        let State::Pcapng { swap, .. } = self.state else {
            unreachable!("blocks are read in pcapng files only")
        };
        let btype = u32_at(self.bytes(), 0, swap);
        let blen = u32_at(self.bytes(), 4, swap);
        if blen < 12 || blen % 4 != 0 || blen > MAX_BLOCK {
            return Err(self.malformed(format!(
                "block of type {btype:#x} with length {blen} (a multiple of 4, 12 to {MAX_BLOCK})"
            )));
        }
        let blen = blen as usize;
        self.need(blen, "block")?;
        let b = self.bytes();
        let trailer = u32_at(b, blen - 4, swap);
        if trailer as usize != blen {
            return Err(self.malformed(format!(
                "block length {blen} does not match its trailing length {trailer}"
            )));
        }
        let body = &b[8..blen - 4];
        let short = |min: usize| -> Result<(), String> {
            if body.len() < min {
                Err(format!(
                    "block of type {btype:#x} too short for its fields ({} < {min} bytes)",
                    body.len()
                ))
            } else {
                Ok(())
            }
        };
        let found = match btype {
            NG_SHB => {
                short(16).map_err(|e| self.malformed(e))?;
                let major = u16_at(body, 4, swap);
                if major != 1 {
                    let minor = u16_at(body, 6, swap);
                    return Err(self.malformed(format!(
                        "unsupported pcapng version {major}.{minor} (1.x expected)"
                    )));
                }
                None
            }
            NG_IDB => {
                short(8).map_err(|e| self.malformed(e))?;
                let linktype = u16_at(body, 0, swap) as u32;
                let snaplen = u32_at(body, 4, swap);
                let resol = idb_resol(&body[8..], swap).map_err(|e| self.malformed(e))?;
                let State::Pcapng { ifaces, .. } = &self.state else {
                    unreachable!()
                };
                if linktype != LINKTYPE_ETHERNET {
                    return Err(self.malformed(format!(
                        "interface {} has link type {linktype}, not Ethernet ({LINKTYPE_ETHERNET})",
                        ifaces.len()
                    )));
                }
                let iface = Iface { snaplen, resol };
                if let State::Pcapng { ifaces, .. } = &mut self.state {
                    ifaces.push(iface);
                }
                None
            }
            NG_EPB | NG_OPB => {
                short(20).map_err(|e| self.malformed(e))?;
                let (iface_id, caplen, orig_len) = if btype == NG_EPB {
                    (
                        u32_at(body, 0, swap),
                        u32_at(body, 12, swap),
                        u32_at(body, 16, swap),
                    )
                } else {
                    (
                        u16_at(body, 0, swap) as u32,
                        u32_at(body, 12, swap),
                        u32_at(body, 16, swap),
                    )
                };
                let ts = (u32_at(body, 4, swap) as u64) << 32 | u32_at(body, 8, swap) as u64;
                let iface = self.iface(iface_id)?;
                if caplen as usize > body.len() - 20 {
                    return Err(self.malformed(format!(
                        "packet of {caplen} captured bytes overruns its {blen}-byte block"
                    )));
                }
                Some(Next {
                    len: blen,
                    data_off: 28,
                    data_len: caplen as usize,
                    ts_ns: iface.resol.to_ns(ts),
                    orig_len,
                })
            }
            NG_SPB => {
                short(4).map_err(|e| self.malformed(e))?;
                let orig_len = u32_at(body, 0, swap);
                let iface = self.iface(0)?;
                let mut caplen = (orig_len as usize).min(body.len() - 4);
                if iface.snaplen != 0 {
                    caplen = caplen.min(iface.snaplen as usize);
                }
                Some(Next {
                    len: blen,
                    data_off: 12,
                    data_len: caplen,
                    ts_ns: 0,
                    orig_len,
                })
            }
            _ => None,
        };
        if found.is_none() {
            self.pos += blen;
        }
        Ok(found)
    }

    fn iface(&self, id: u32) -> Result<Iface, FormatError> {
        let State::Pcapng { ifaces, .. } = &self.state else {
            unreachable!()
        };
        ifaces.get(id as usize).copied().ok_or_else(|| {
            self.malformed(format!(
                "packet of interface {id}, but the section describes {}",
                ifaces.len()
            ))
        })
    }
}

impl<R: Read + Seek> Reader<R> {
    /// Moves forward to the record at `offset`, an [`offset`](Self::offset) this reader (or
    /// another over the same file) gave between records: the next packet is the one there. A
    /// classic pcap file seeks straight to it; a pcapng file is read block by block up to it,
    /// so that the byte order and interfaces of its section are known. An offset behind the
    /// reader, or one that does not fall between two records, is refused.
    pub fn skip_to(&mut self, offset: u64) -> Result<(), FormatError> {
        if offset < self.offset() {
            return Err(self.malformed(format!(
                "cannot go back to offset {offset} (the reader is past it)"
            )));
        }
        self.next = None;
        match self.state {
            State::Pcap { .. } => {
                if let Err(e) = self.src.seek(SeekFrom::Start(offset)) {
                    return Err(self.err(ErrorKind::Io(e)));
                }
                self.base = offset;
                self.pos = 0;
                self.end = 0;
                self.eof = false;
            }
            State::Pcapng { .. } => {
                while self.offset() < offset {
                    match self.block()? {
                        Some(n) => self.pos += n.len,
                        None if self.fill(1)? == 0 => break,
                        None => {}
                    }
                }
                if self.offset() != offset {
                    return Err(self.malformed(format!(
                        "offset {offset} is not between two blocks of the file"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// The `if_tsresol` option among an interface description's options (default microseconds).
fn idb_resol(mut opts: &[u8], swap: bool) -> Result<Resol, String> {
    let mut resol = Resol::Pow10(6);
    while opts.len() >= 4 {
        let code = u16_at(opts, 0, swap);
        let len = u16_at(opts, 2, swap) as usize;
        if code == 0 {
            break;
        }
        let padded = len.div_ceil(4) * 4;
        if 4 + padded > opts.len() {
            return Err(format!(
                "option {code} of {len} bytes overruns its interface description"
            ));
        }
        if code == 9 && len == 1 {
            let v = opts[4];
            resol = if v & 0x80 != 0 {
                Resol::Pow2(v & 0x7f)
            } else {
                Resol::Pow10(v)
            };
        }
        opts = &opts[4 + padded..];
    }
    Ok(resol)
}

/// Appends a classic pcap file header: little-endian, Ethernet, `snaplen`, nanosecond
/// timestamps (magic `a1b23c4d`) or microseconds (`a1b2c3d4`).
pub fn write_file_header(out: &mut Vec<u8>, nanos: bool, snaplen: u32) {
    out.extend_from_slice(&(if nanos { MAGIC_NS } else { MAGIC_US }).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes()); // thiszone
    out.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    out.extend_from_slice(&snaplen.to_le_bytes());
    out.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
}

/// Appends a record header for `caplen` bytes that follow (the caller appends them) of a
/// packet of `orig_len` bytes captured at `ts_ns`, in a file of [`write_file_header`]'s layout.
#[inline]
pub fn write_record_header(out: &mut Vec<u8>, nanos: bool, ts_ns: u64, caplen: u32, orig_len: u32) {
    let sec = (ts_ns / 1_000_000_000) as u32;
    let frac = (ts_ns % 1_000_000_000) as u32;
    let frac = if nanos { frac } else { frac / 1000 };
    let mut h = [0u8; RECORD_HEADER_LEN];
    h[0..4].copy_from_slice(&sec.to_le_bytes());
    h[4..8].copy_from_slice(&frac.to_le_bytes());
    h[8..12].copy_from_slice(&caplen.to_le_bytes());
    h[12..16].copy_from_slice(&orig_len.to_le_bytes());
    out.extend_from_slice(&h);
}

#[cfg(test)]
mod tests;
