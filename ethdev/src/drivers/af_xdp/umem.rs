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

use std::ptr::NonNull;

use rpdk_eal::memzone::{self, Memzone, MemzoneFlags};
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

/// Which of a pool's mbufs one ring side gave to the kernel: a bit per object, with their
/// count. In this process's heap, or, once the side was lent to a secondary process, in a
/// memzone ([`zone_name`]) that whichever process drives the side updates in place: a process
/// that dies driving it leaves the record as it stood.
#[derive(Debug)]
pub(super) struct Lent {
    bits: NonNull<u64>,
    words: usize,
    count: NonNull<u32>,
    store: Store,
}

#[derive(Debug)]
enum Store {
    Heap { _bits: Box<[u64]>, _count: Box<u32> },
    Zone { _keep: Memzone },
}

// SAFETY: the pointers point into `store` (a heap allocation that moves with it, or a memzone
// it keeps mapped); one ring side is driven by one thread of one process at a time.
unsafe impl Send for Lent {}

impl Lent {
    fn heap(words: usize) -> Lent {
        let mut bits = vec![0u64; words].into_boxed_slice();
        let mut count = Box::new(0u32);
        Lent {
            bits: NonNull::new(bits.as_mut_ptr()).unwrap_or(NonNull::dangling()),
            words,
            count: NonNull::from(&mut *count),
            store: Store::Heap {
                _bits: bits,
                _count: count,
            },
        }
    }

    /// How many mbufs are out.
    #[inline(always)]
    pub fn count(&self) -> u32 {
        // SAFETY: `count` points into `store`, which `self` keeps.
        unsafe { self.count.as_ptr().read() }
    }

    #[inline(always)]
    fn word(&self, w: usize) -> *mut u64 {
        debug_assert!(w < self.words);
        // SAFETY: `w` is below `words` (an object index of the pool), within the bits.
        unsafe { self.bits.as_ptr().add(w) }
    }

    #[inline(always)]
    fn set(&mut self, i: u32) -> bool {
        let (w, b) = ((i / 64) as usize, 1u64 << (i % 64));
        let p = self.word(w);
        // SAFETY: a word of the bits, which only this side's driver (`&mut self`) touches.
        unsafe {
            if p.read() & b != 0 {
                return false;
            }
            p.write(p.read() | b);
            self.count.as_ptr().write(self.count() + 1);
        }
        true
    }

    #[inline(always)]
    fn clear(&mut self, i: u32) -> bool {
        let (w, b) = ((i / 64) as usize, 1u64 << (i % 64));
        let p = self.word(w);
        // SAFETY: as in `set`.
        unsafe {
            if p.read() & b == 0 {
                return false;
            }
            p.write(p.read() & !b);
            self.count.as_ptr().write(self.count().saturating_sub(1));
        }
        true
    }

    /// Whether the record is in a memzone.
    pub fn in_zone(&self) -> bool {
        matches!(self.store, Store::Zone { .. })
    }

    /// A copy in this process's heap (of a record in a memzone, to keep after the zone's next
    /// use).
    pub fn to_heap(&self) -> Lent {
        let h = Lent::heap(self.words);
        for w in 0..self.words {
            // SAFETY: word `w` of both records, each `words` long.
            unsafe { h.word(w).write(self.word(w).read()) };
        }
        // SAFETY: `h.count` points into `h`'s store.
        unsafe { h.count.as_ptr().write(self.count()) };
        h
    }
}

/// Bytes of a lent record's memzone header: the socket's inode (u64), the count (u32), the pool's
/// objects (u32).
const ZONE_HEADER: usize = 16;

/// The memzone that holds one ring side's [`Lent`] record once processes hand the side over:
/// `afxdp_lent_P_rQ` (RX) or `afxdp_lent_P_tQ` (TX) for queue Q of port P. Its header names
/// the socket it is for by its inode (the same in every process that has a descriptor of it),
/// so that a record of an older socket is never taken for the current one's.
pub(super) fn zone_name(port: u16, rx: bool, queue: u16) -> String {
    format!("afxdp_lent_{port}_{}{queue}", if rx { 'r' } else { 't' })
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
        Lent::heap(self.words())
    }

    fn words(&self) -> usize {
        (self.objects as usize).div_ceil(64)
    }

    fn zone_len(&self) -> usize {
        ZONE_HEADER + 8 * self.words()
    }

    /// Leaves `lent` in memzone `name` for socket `ino`'s next driver, in another process:
    /// a record already in the zone stays as it is, one in the heap is copied there.
    pub fn park(&self, lent: &Lent, name: &str, ino: u64) -> Result<(), String> {
        if lent.in_zone() {
            return Ok(());
        }
        let zone = match memzone::lookup(name) {
            Some(z) => z,
            None => memzone::reserve(name, self.zone_len(), None, MemzoneFlags::default())
                .map_err(|e| format!("reserving memzone {name} for the lent mbufs: {e}"))?,
        };
        if zone.len() < self.zone_len() {
            return Err(format!(
                "memzone {name} has {} bytes, the record of {} mbufs {}",
                zone.len(),
                self.objects,
                self.zone_len()
            ));
        }
        let base = zone.as_ptr();
        // SAFETY: the zone holds at least `zone_len` bytes (checked), 8-aligned (a memzone
        // starts on a cache line); no process drives this side while it is handed over.
        unsafe {
            base.cast::<u64>().write(ino);
            base.add(8).cast::<u32>().write(lent.count());
            base.add(12).cast::<u32>().write(self.objects);
            let bits = base.add(ZONE_HEADER).cast::<u64>();
            for w in 0..self.words() {
                bits.add(w).write(lent.word(w).read());
            }
        }
        Ok(())
    }

    /// The record of socket `ino`'s side parked in memzone `name`, used in place.
    pub fn take_parked(&self, name: &str, ino: u64) -> Result<Lent, String> {
        let zone = memzone::lookup(name)
            .ok_or_else(|| format!("no memzone {name}: the side's lent mbufs were not parked"))?;
        if zone.len() < self.zone_len() {
            return Err(format!("memzone {name} is too small for the pool's record"));
        }
        let base = zone.as_ptr();
        // SAFETY: the header's words, within the zone (checked), aligned.
        let (z_ino, objects) =
            unsafe { (base.cast::<u64>().read(), base.add(12).cast::<u32>().read()) };
        if z_ino != ino || objects != self.objects {
            return Err(format!(
                "memzone {name} holds the record of another socket or pool (inode {z_ino}, {objects} \
                 mbufs; this queue's socket is inode {ino}, its pool has {})",
                self.objects
            ));
        }
        // SAFETY: as above: the count and the bits lie within the zone, which the record keeps.
        let (count, bits) = unsafe {
            (
                NonNull::new_unchecked(base.add(8).cast::<u32>()),
                NonNull::new_unchecked(base.add(ZONE_HEADER).cast::<u64>()),
            )
        };
        Ok(Lent {
            bits,
            words: self.words(),
            count,
            store: Store::Zone { _keep: zone },
        })
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
