//! The pcapng wire format: block and option codes, and the encoding of each block into a byte
//! buffer (little-endian, the writer's byte order, which the section header's magic declares).

/// Block types.
pub const SECTION_HEADER: u32 = 0x0A0D_0D0A;
/// Interface description block.
pub const INTERFACE_DESCRIPTION: u32 = 1;
/// Interface statistics block.
pub const INTERFACE_STATISTICS: u32 = 5;
/// Enhanced packet block.
pub const ENHANCED_PACKET: u32 = 6;

/// The section header's byte-order magic.
pub const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// Option codes shared by every block.
pub const OPT_END: u16 = 0;
/// `opt_comment`.
pub const OPT_COMMENT: u16 = 1;
/// `shb_hardware`, `shb_os`, `shb_userappl`.
pub const SHB_HARDWARE: u16 = 2;
pub(crate) const SHB_OS: u16 = 3;
pub(crate) const SHB_USERAPPL: u16 = 4;
/// Interface description options.
pub(crate) const IF_NAME: u16 = 2;
pub(crate) const IF_DESCRIPTION: u16 = 3;
pub(crate) const IF_MACADDR: u16 = 6;
pub(crate) const IF_SPEED: u16 = 8;
pub(crate) const IF_TSRESOL: u16 = 9;
pub(crate) const IF_HARDWARE: u16 = 15;
/// Enhanced packet options.
pub(crate) const EPB_FLAGS: u16 = 2;
pub(crate) const EPB_QUEUE: u16 = 6;
/// Interface statistics options.
pub(crate) const ISB_STARTTIME: u16 = 2;
pub(crate) const ISB_ENDTIME: u16 = 3;
pub(crate) const ISB_IFRECV: u16 = 4;
pub(crate) const ISB_IFDROP: u16 = 5;
pub(crate) const ISB_OSDROP: u16 = 7;

/// The `epb_flags` direction bits.
pub const EPB_INBOUND: u32 = 0b01;
/// Outbound.
pub const EPB_OUTBOUND: u32 = 0b10;

/// Bytes of an enhanced packet block before the packet data: type, length, interface,
/// timestamp (two words), captured and original length.
pub const EPB_HEADER_LEN: usize = 28;

/// Bytes of an enhanced packet block after the (padded) packet data as rpdk writes it:
/// `epb_flags` (8), `epb_queue` (8), `opt_endofopt` (4) and the trailing length (4).
pub const EPB_TRAILER_LEN: usize = 24;

/// `len` rounded up to a multiple of 4.
#[inline(always)]
pub const fn pad4(len: usize) -> usize {
    (len + 3) & !3
}

/// A block being built: its header words, then options, then the trailing length.
pub(crate) struct BlockBuf {
    buf: Vec<u8>,
    options: bool,
}

impl BlockBuf {
    /// Starts a block of type `block_type`; the fixed body comes next with [`u32`](Self::u32)
    /// and friends.
    pub fn new(block_type: u32) -> BlockBuf {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&block_type.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes()); // length, set by finish
        BlockBuf {
            buf,
            options: false,
        }
    }

    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends `data` padded with zeros to 4 bytes.
    pub fn padded(&mut self, data: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(data);
        self.buf
            .resize(self.buf.len() + pad4(data.len()) - data.len(), 0);
        self
    }

    /// Appends option `code` with value `value` (at most 65535 bytes: longer values are cut).
    pub fn option(&mut self, code: u16, value: &[u8]) -> &mut Self {
        let value = &value[..value.len().min(u16::MAX as usize)];
        self.u16(code).u16(value.len() as u16).padded(value);
        self.options = true;
        self
    }

    /// A string option, if there is one.
    pub fn option_str(&mut self, code: u16, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.option(code, v.as_bytes());
        }
        self
    }

    /// A 64-bit option, if there is one.
    pub fn option_u64(&mut self, code: u16, value: Option<u64>) -> &mut Self {
        if let Some(v) = value {
            self.option(code, &v.to_le_bytes());
        }
        self
    }

    /// Ends the options (when there are any), writes the length at both ends, returns the bytes.
    pub fn finish(mut self) -> Vec<u8> {
        if self.options {
            self.u16(OPT_END).u16(0);
        }
        let len = (self.buf.len() + 4) as u32;
        self.u32(len);
        self.buf[4..8].copy_from_slice(&len.to_le_bytes());
        self.buf
    }
}

/// The length of an enhanced packet block as rpdk writes it, for `caplen` captured bytes.
#[inline(always)]
pub const fn epb_len(caplen: usize) -> usize {
    EPB_HEADER_LEN + pad4(caplen) + EPB_TRAILER_LEN
}

#[inline(always)]
fn put(out: &mut [u8], at: usize, v: u32) {
    out[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Writes the parts of an enhanced packet block around its data into `out` (at least
/// [`epb_len`]`(caplen)` bytes; the `caplen` data bytes at [`EPB_HEADER_LEN`] are the
/// caller's): header, zero padding, `epb_flags`, `epb_queue`, end of options, trailing length.
/// `interface` is the interface index in the file (the capture callbacks put the port id there;
/// the writer replaces it). Returns the block's length.
#[inline]
pub fn encode_epb_frame(
    out: &mut [u8],
    interface: u32,
    ts_ns: u64,
    orig_len: u32,
    caplen: usize,
    flags: u32,
    queue: u32,
) -> usize {
    let len = epb_len(caplen);
    let out = &mut out[..len];
    put(out, 0, ENHANCED_PACKET);
    put(out, 4, len as u32);
    put(out, 8, interface);
    put(out, 12, (ts_ns >> 32) as u32);
    put(out, 16, ts_ns as u32);
    put(out, 20, caplen as u32);
    put(out, 24, orig_len);
    let t = EPB_HEADER_LEN + pad4(caplen);
    out[EPB_HEADER_LEN + caplen..t].fill(0);
    put(out, t, EPB_FLAGS as u32 | 4 << 16);
    put(out, t + 4, flags);
    put(out, t + 8, EPB_QUEUE as u32 | 4 << 16);
    put(out, t + 12, queue);
    put(out, t + 16, 0); // opt_endofopt
    put(out, t + 20, len as u32);
    len
}

/// Writes a whole enhanced packet block for `data` into `out` (at least
/// [`epb_len`]`(data.len())` bytes), as [`encode_epb_frame`]. Returns the block's length.
pub fn encode_epb(
    out: &mut [u8],
    interface: u32,
    ts_ns: u64,
    orig_len: u32,
    data: &[u8],
    flags: u32,
    queue: u32,
) -> usize {
    out[EPB_HEADER_LEN..EPB_HEADER_LEN + data.len()].copy_from_slice(data);
    encode_epb_frame(out, interface, ts_ns, orig_len, data.len(), flags, queue)
}

/// An enhanced packet block as [`encode_epb`] wrote it, read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpbView<'a> {
    /// The interface field (a port id in a capture mbuf, an index in a file).
    pub interface: u32,
    /// Nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// The packet's length on the wire.
    pub orig_len: u32,
    /// What was captured of it.
    pub data: &'a [u8],
    /// `epb_flags` ([`EPB_INBOUND`] or [`EPB_OUTBOUND`] in the low bits).
    pub flags: u32,
    /// `epb_queue`.
    pub queue: u32,
}

impl<'a> EpbView<'a> {
    /// Reads `block`, which must be one whole enhanced packet block of rpdk's form; `None`
    /// for anything else.
    pub fn parse(block: &'a [u8]) -> Option<EpbView<'a>> {
        let word = |at: usize| -> Option<u32> {
            Some(u32::from_le_bytes(block.get(at..at + 4)?.try_into().ok()?))
        };
        if word(0)? != ENHANCED_PACKET || word(4)? as usize != block.len() {
            return None;
        }
        let caplen = word(20)? as usize;
        let t = EPB_HEADER_LEN + pad4(caplen);
        if t + EPB_TRAILER_LEN != block.len()
            || word(t)? != (EPB_FLAGS as u32 | 4 << 16)
            || word(t + 8)? != (EPB_QUEUE as u32 | 4 << 16)
        {
            return None;
        }
        Some(EpbView {
            interface: word(8)?,
            ts_ns: (word(12)? as u64) << 32 | word(16)? as u64,
            orig_len: word(24)?,
            data: &block[EPB_HEADER_LEN..EPB_HEADER_LEN + caplen],
            flags: word(t + 4)?,
            queue: word(t + 12)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epb_round_trip_and_padding() {
        for n in [0usize, 1, 3, 4, 5, 60, 61] {
            let data: Vec<u8> = (0..n as u8).collect();
            let mut buf = vec![0xAAu8; 200];
            let len = encode_epb(
                &mut buf,
                3,
                0x1234_5678_9abc_def0,
                1500,
                &data,
                EPB_OUTBOUND,
                7,
            );
            assert_eq!(len, EPB_HEADER_LEN + pad4(n) + EPB_TRAILER_LEN);
            assert_eq!(len % 4, 0);
            let v = EpbView::parse(&buf[..len]).unwrap();
            assert_eq!(v.interface, 3);
            assert_eq!(v.ts_ns, 0x1234_5678_9abc_def0);
            assert_eq!((v.orig_len, v.flags, v.queue), (1500, EPB_OUTBOUND, 7));
            assert_eq!(v.data, &data[..]);
            assert!(
                buf[EPB_HEADER_LEN + n..EPB_HEADER_LEN + pad4(n)]
                    .iter()
                    .all(|&b| b == 0)
            );
            assert_eq!(&buf[len - 4..len], &(len as u32).to_le_bytes());
            assert_eq!(&buf[len - 8..len - 4], &[0; 4], "opt_endofopt");
            assert!(EpbView::parse(&buf[..len - 4]).is_none());
        }
    }

    #[test]
    fn options_are_padded_and_ended() {
        let mut b = BlockBuf::new(INTERFACE_DESCRIPTION);
        b.u16(1).u16(0).u32(0).option(IF_NAME, b"abcde");
        let v = b.finish();
        // 8 header + 8 body + (4 + 8) name + 4 end + 4 trailer
        assert_eq!(v.len(), 36);
        assert_eq!(&v[4..8], &36u32.to_le_bytes());
        assert_eq!(&v[16..20], &[2, 0, 5, 0]);
        assert_eq!(&v[20..28], b"abcde\0\0\0");
        assert_eq!(&v[28..32], &[0; 4]);
        assert_eq!(&v[32..36], &36u32.to_le_bytes());
    }
}
