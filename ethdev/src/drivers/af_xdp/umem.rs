//! The UMEM: the memory a queue's AF_XDP socket shares with the kernel, here the whole memzone
//! of the RX queue's pktmbuf pool, registered as it is, so that the kernel writes received
//! frames straight into mbuf buffers and sends mbufs from their own buffers.
//!
//! A mempool is one memzone of object slots (`[mempool header][mbuf header][private][buffer]`),
//! not aligned on any power of two, so the UMEM is registered in unaligned-chunk mode
//! (`XDP_UMEM_UNALIGNED_CHUNK_FLAG`): an address in the rings is the offset of a buffer from the
//! start of the UMEM (the memzone's first page), with, in its top 16 bits, the offset of the
//! data within that buffer. A chunk is an mbuf's buffer (`buf_len` bytes, up to a page), and
//! the kernel writes a received frame `XDP_PACKET_HEADROOM` (256) bytes into it; the mbuf
//! headers stay outside every chunk, so neither the kernel nor an XDP program touches them.
//!
//! Ownership: an mbuf given to the kernel (into the fill ring, or the TX ring from its own
//! buffer) is owned by no `Mbuf` until the kernel gives its address back (RX ring, completion
//! ring). [`Lent`] records, one bit per object of the pool, which mbufs a ring side gave away;
//! an address comes back as an `Mbuf` only if its bit is set, so a bad address from the kernel
//! is an error counted, never a second owner. When the socket is closed, the mbufs still lent
//! are freed ([`Umem::free_lent`]): no leak, whatever the kernel held.

use rpdk_mbuf::{MBUF_HEADER_SIZE, Mbuf, MbufHeader, PktmbufPool};

/// Bytes the kernel leaves before a received frame (`XDP_PACKET_HEADROOM`).
pub(super) const XDP_PACKET_HEADROOM: u32 = 256;
/// The smallest chunk the kernel takes (`XDP_UMEM_MIN_CHUNK_SIZE`).
const MIN_CHUNK: u32 = 2048;
/// The low 48 bits of a ring address: the buffer's offset.
const ADDR_MASK: u64 = libc::XSK_UNALIGNED_BUF_ADDR_MASK;
const OFFSET_SHIFT: u32 = libc::XSK_UNALIGNED_BUF_OFFSET_SHIFT as u32;

/// A pool's memory as a UMEM.
#[derive(Debug)]
pub(super) struct Umem {
    pool: PktmbufPool,
    /// Start (page-aligned) and length (whole pages) of the region registered.
    base: usize,
    len: usize,
    chunk: u32,
    /// Bytes from an mbuf's header to its buffer: the header and the private area.
    buf_off: usize,
    objects: u32,
}

/// Which of a pool's mbufs one ring side gave to the kernel: a bit per object.
#[derive(Debug)]
pub(super) struct Lent {
    bits: Box<[u64]>,
    count: u32,
}

impl Lent {
    /// How many mbufs are out.
    #[inline(always)]
    pub fn count(&self) -> u32 {
        self.count
    }

    #[inline(always)]
    fn set(&mut self, i: u32) -> bool {
        let (w, b) = ((i / 64) as usize, 1u64 << (i % 64));
        if self.bits[w] & b != 0 {
            return false;
        }
        self.bits[w] |= b;
        self.count += 1;
        true
    }

    #[inline(always)]
    fn clear(&mut self, i: u32) -> bool {
        let (w, b) = ((i / 64) as usize, 1u64 << (i % 64));
        if self.bits[w] & b == 0 {
            return false;
        }
        self.bits[w] &= !b;
        self.count -= 1;
        true
    }
}

impl Umem {
    /// The UMEM over `pool`'s memory, with page size `page`. Refuses a pool whose buffers are
    /// smaller than the kernel's smallest chunk.
    pub fn new(pool: &PktmbufPool, page: usize) -> Result<Umem, String> {
        let buf_len = pool.data_room_size() as u32;
        if buf_len < MIN_CHUNK {
            return Err(format!(
                "the pool's mbufs have {buf_len}-byte buffers; AF_XDP needs at least {MIN_CHUNK} \
                 (data room and headroom)"
            ));
        }
        let (mem, mem_len) = pool.mempool().memory();
        let start = mem as usize;
        let base = start & !(page - 1);
        let end = (start + mem_len).next_multiple_of(page);
        Ok(Umem {
            pool: pool.clone(),
            base,
            len: end - base,
            chunk: buf_len.min(page as u32),
            buf_off: MBUF_HEADER_SIZE + pool.priv_size() as usize,
            objects: pool.mempool().size(),
        })
    }

    /// The pool whose memory this is.
    pub fn pool(&self) -> &PktmbufPool {
        &self.pool
    }

    /// The region to register: start and length.
    pub fn region(&self) -> (*mut u8, usize) {
        (self.base as *mut u8, self.len)
    }

    /// The chunk size: the bytes of an mbuf's buffer the kernel may use.
    pub fn chunk_size(&self) -> u32 {
        self.chunk
    }

    /// The longest frame the kernel can write into a chunk.
    pub fn max_frame(&self) -> u32 {
        self.chunk - XDP_PACKET_HEADROOM
    }

    /// An empty record of lent mbufs for one ring side.
    pub fn lent(&self) -> Lent {
        Lent {
            bits: vec![0; (self.objects as usize).div_ceil(64)].into_boxed_slice(),
            count: 0,
        }
    }

    #[inline(always)]
    fn index(&self, hdr: *const u8) -> Option<u32> {
        self.pool.mempool().index_of(hdr)
    }

    /// Gives fresh mbuf `m` (of this pool, empty) to the kernel to receive into; returns its
    /// fill-ring address (its buffer's offset).
    #[inline(always)]
    pub fn lend_for_rx(&self, lent: &mut Lent, m: Mbuf) -> Result<u64, Mbuf> {
        let hdr = m.header() as *const MbufHeader as *const u8;
        let Some(i) = self.index(hdr) else {
            return Err(m);
        };
        if !lent.set(i) {
            return Err(m);
        }
        let addr = (hdr as usize + self.buf_off - self.base) as u64;
        let _ = m.into_raw();
        Ok(addr)
    }

    /// Gives mbuf `m` to the kernel to send from its own buffer, if it can be: a direct,
    /// one-segment mbuf of this pool not already lent. Returns the TX descriptor's address
    /// and length, or the mbuf back.
    #[inline(always)]
    pub fn lend_for_tx(&self, lent: &mut Lent, m: Mbuf) -> Result<(u64, u32), Mbuf> {
        if m.nb_segs() != 1 || !m.is_own_buffer_of(&self.pool) {
            return Err(m);
        }
        let len = m.data_len() as u32;
        let data_off = m.headroom() as u64;
        if len == 0 || data_off + len as u64 > self.chunk as u64 {
            return Err(m);
        }
        let hdr = m.header() as *const MbufHeader as *const u8;
        let Some(i) = self.index(hdr) else {
            return Err(m);
        };
        if !lent.set(i) {
            return Err(m);
        }
        let buf = (m.buf_addr() as usize - self.base) as u64;
        let _ = m.into_raw();
        Ok((buf | (data_off << OFFSET_SHIFT), len))
    }

    /// The mbuf at ring address `addr`, back from the kernel, with the offset of its data in
    /// its buffer; `None` if the address is not that of an mbuf lent through `lent`.
    #[inline(always)]
    pub fn take_back(&self, lent: &mut Lent, addr: u64) -> Option<(Mbuf, u16)> {
        let buf = (addr & ADDR_MASK) as usize;
        let off = (addr >> OFFSET_SHIFT) as u16;
        if buf < self.buf_off || buf >= self.len {
            return None;
        }
        let hdr = (self.base + buf - self.buf_off) as *mut MbufHeader;
        let i = self.index(hdr as *const u8)?;
        if !lent.clear(i) {
            return None;
        }
        // SAFETY: bit `i` was set by `lend_for_rx` or `lend_for_tx`, which took this mbuf
        // (object `i` of the pool, whose header `hdr` is) out of an `Mbuf` with `into_raw`;
        // clearing it makes this the one owner again.
        let m = unsafe { Mbuf::from_raw(std::ptr::NonNull::new_unchecked(hdr)) };
        Some((m, off))
    }

    /// Frees every mbuf still recorded in `lent`. Only once the kernel is done with them: the
    /// socket that lent them is closed.
    pub fn free_lent(&self, lent: &mut Lent) {
        for i in 0..self.objects {
            if lent.clear(i)
                && let Some(obj) = self.pool.mempool().obj(i)
            {
                // SAFETY: as in `take_back`: bit `i` recorded that object `i`'s mbuf was given
                // up with `into_raw` and never taken back; the kernel no longer uses it.
                drop(unsafe {
                    Mbuf::from_raw(std::ptr::NonNull::new_unchecked(obj as *mut MbufHeader))
                });
            }
        }
    }
}
