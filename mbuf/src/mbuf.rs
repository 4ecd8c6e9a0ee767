//! The owned mbuf handle: data access, head and tail room, segment chains, clones, external
//! buffers, copies and freeing.

use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;

use rpdk_mempool::Exhausted;

use crate::external::{ExternalBuffer, SharedInfo};
use crate::header::{MBUF_HEADER_SIZE, MbufHeader, PKTMBUF_HEADROOM, txo};
use crate::net::{self, HdrLens};
use crate::pool::{PktmbufPool, pool_private, reset_fields};
use crate::{OlFlags, PacketType};

/// Why an mbuf operation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MbufError {
    /// Not enough headroom or tailroom.
    #[error("not enough room in the buffer")]
    NoRoom,
    /// The buffer is shared with clones, so writing to it would change them too.
    #[error("the buffer is shared with other mbufs")]
    Shared,
    /// Offset or length past the packet.
    #[error("out of the packet's bounds")]
    OutOfBounds,
    /// A chain would exceed 65535 segments or 4 GiB.
    #[error("too many segments or bytes in the chain")]
    TooLong,
    /// The pool ran out of mbufs.
    #[error("the mbuf pool is exhausted")]
    Exhausted,
}

impl From<Exhausted> for MbufError {
    fn from(_: Exhausted) -> MbufError {
        MbufError::Exhausted
    }
}

/// A packet buffer taken from a [`PktmbufPool`]: the head of a chain of segments that it owns.
///
/// Not `Clone`: [`clone_indirect`](Self::clone_indirect) makes another mbuf that shares the
/// data (DPDK's `rte_pktmbuf_clone`), [`copy`](Self::copy) a deep copy. Dropping an mbuf frees
/// every segment (DPDK's `rte_pktmbuf_free`): each goes back to its pool, or its reference count
/// drops if clones still use its buffer.
#[repr(transparent)]
pub struct Mbuf {
    ptr: NonNull<MbufHeader>,
}

// SAFETY: an Mbuf owns its chain; shared buffers are reference-counted atomically and only
// written through `&mut Mbuf` when not shared.
unsafe impl Send for Mbuf {}
// SAFETY: `&Mbuf` only reads, and reference counts are atomic.
unsafe impl Sync for Mbuf {}

/// The direct mbuf whose buffer an indirect mbuf uses (DPDK's `rte_mbuf_from_indirect`).
#[inline(always)]
fn direct_of(m: &MbufHeader) -> *mut MbufHeader {
    // An indirect mbuf's priv_size holds its direct mbuf's, and the buffer follows the direct
    // header and private area.
    m.buf_addr
        .wrapping_sub(MBUF_HEADER_SIZE + m.priv_size as usize) as *mut MbufHeader
}

#[inline(always)]
fn is_attached(m: &MbufHeader) -> bool {
    m.ol_flags & (OlFlags::INDIRECT.0 | OlFlags::EXTERNAL.0) != 0
}

/// Gives a segment's buffer back: an indirect or external attachment is released and the mbuf
/// gets its own buffer again (DPDK's `rte_pktmbuf_detach`).
///
/// # Safety
/// `m` is an mbuf the caller owns, attached to another buffer.
unsafe fn detach(m: *mut MbufHeader) {
    // SAFETY: the caller owns `m`.
    let h = unsafe { &mut *m };
    if h.ol_flags & OlFlags::EXTERNAL.0 != 0 {
        // SAFETY: an attached external buffer holds one reference for this mbuf.
        unsafe { SharedInfo::release(h.shinfo) };
        h.shinfo = std::ptr::null_mut();
    } else {
        let md = direct_of(h);
        // SAFETY: the indirect mbuf holds one reference on its direct mbuf.
        unsafe { free_direct(md) };
    }
    // SAFETY: the pool of an mbuf outlives it; its private area describes the mbuf's own buffer.
    let p = unsafe { pool_private(h.pool) };
    let off = MBUF_HEADER_SIZE + p.priv_size as usize;
    h.buf_addr = (m as *mut u8).wrapping_add(off);
    // SAFETY: the pool of an mbuf outlives it.
    h.buf_iova = unsafe { (*h.pool).virt2iova(m as *const u8) }.unwrap_or(0) + off as u64;
    h.buf_len = p.data_room_size;
    h.priv_size = p.priv_size;
    h.data_off = PKTMBUF_HEADROOM.min(h.buf_len);
    h.data_len = 0;
    h.ol_flags = 0;
}

/// Drops one reference on a direct mbuf that clones point to; the last one frees it.
///
/// # Safety
/// The caller gives up one reference on `md`.
unsafe fn free_direct(md: *mut MbufHeader) {
    // SAFETY: the reference keeps `md` alive.
    let h = unsafe { &mut *md };
    if h.refcnt.load(Ordering::Acquire) == 1 || h.refcnt.fetch_sub(1, Ordering::AcqRel) == 1 {
        h.refcnt.store(1, Ordering::Relaxed);
        h.next = std::ptr::null_mut();
        h.nb_segs = 1;
        // SAFETY: the last reference: the mbuf goes back to its pool.
        unsafe { (*h.pool).put(md as *mut u8) };
    }
}

/// Prepares one segment for its pool (DPDK's `rte_pktmbuf_prefree_seg`): returns it if this
/// was its last reference.
///
/// # Safety
/// The caller gives up its reference on `m`.
#[inline(always)]
pub(crate) unsafe fn prefree_seg(m: *mut MbufHeader) -> Option<*mut MbufHeader> {
    // SAFETY: the caller's reference keeps `m` alive.
    let h = unsafe { &mut *m };
    if h.refcnt.load(Ordering::Acquire) == 1 {
        if is_attached(h) {
            // SAFETY: we own `m`.
            unsafe { detach(m) };
        }
        if !h.next.is_null() {
            h.next = std::ptr::null_mut();
            h.nb_segs = 1;
        }
        Some(m)
    } else if h.refcnt.fetch_sub(1, Ordering::AcqRel) == 1 {
        if is_attached(h) {
            // SAFETY: the last reference is ours.
            unsafe { detach(m) };
        }
        if !h.next.is_null() {
            h.next = std::ptr::null_mut();
            h.nb_segs = 1;
        }
        h.refcnt.store(1, Ordering::Relaxed);
        Some(m)
    } else {
        None
    }
}

/// Frees a whole chain from `m` (DPDK's `rte_pktmbuf_free`).
///
/// # Safety
/// The caller owns the chain.
#[inline]
pub(crate) unsafe fn free_chain(mut m: *mut MbufHeader) {
    while !m.is_null() {
        // SAFETY: we own the chain; read `next` before the segment is recycled.
        let next = unsafe { (*m).next };
        // SAFETY: we give up our reference on `m`.
        if let Some(seg) = unsafe { prefree_seg(m) } {
            // SAFETY: the segment's last reference: back to its pool.
            unsafe { (*(*seg).pool).put(seg as *mut u8) };
        }
        m = next;
    }
}

impl Drop for Mbuf {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: an Mbuf owns its chain.
        unsafe { free_chain(self.ptr.as_ptr()) };
    }
}

/// One segment of a chain, read-only.
#[derive(Clone, Copy)]
pub struct Segment<'a> {
    h: &'a MbufHeader,
}

impl<'a> Segment<'a> {
    /// The segment's data.
    pub fn data(&self) -> &'a [u8] {
        // SAFETY: a segment's data lies within its buffer, valid while the chain is borrowed.
        unsafe {
            std::slice::from_raw_parts(
                self.h.buf_addr.add(self.h.data_off as usize),
                self.h.data_len as usize,
            )
        }
    }

    /// The IOVA of its data.
    pub fn data_iova(&self) -> u64 {
        self.h.buf_iova + self.h.data_off as u64
    }
}

impl Mbuf {
    /// Takes ownership of a raw mbuf.
    ///
    /// # Safety
    /// `ptr` is an allocated mbuf (chain head) from a [`PktmbufPool`] that nobody else owns,
    /// for example one given out by [`into_raw`](Self::into_raw).
    #[inline(always)]
    pub unsafe fn from_raw(ptr: NonNull<MbufHeader>) -> Mbuf {
        Mbuf { ptr }
    }

    /// Gives up ownership without freeing (for rings and drivers that carry mbufs as pointers).
    #[inline(always)]
    pub fn into_raw(self) -> NonNull<MbufHeader> {
        let p = self.ptr;
        std::mem::forget(self);
        p
    }

    /// The header.
    #[inline(always)]
    pub fn header(&self) -> &MbufHeader {
        // SAFETY: we own a valid mbuf.
        unsafe { self.ptr.as_ref() }
    }

    /// The header, writable. Drivers that fill descriptors use this to set fields the safe
    /// API guards.
    ///
    /// # Safety
    /// The caller keeps the header's invariants: `buf_addr`/`buf_len` describe a live buffer,
    /// `data_off + data_len <= buf_len`, `pkt_len` is the sum of the chain's `data_len`,
    /// `nb_segs` its length, and `next`/`pool`/`refcnt`/`shinfo` untouched.
    #[inline(always)]
    pub unsafe fn header_mut(&mut self) -> &mut MbufHeader {
        // SAFETY: we own the mbuf; the caller keeps the invariants.
        unsafe { self.ptr.as_mut() }
    }

    #[inline(always)]
    fn h(&self) -> &MbufHeader {
        // SAFETY: we own a valid mbuf.
        unsafe { self.ptr.as_ref() }
    }

    #[inline(always)]
    fn hm(&mut self) -> &mut MbufHeader {
        // SAFETY: we own the mbuf; private callers keep the invariants.
        unsafe { self.ptr.as_mut() }
    }

    /// The first segment's data (DPDK's `rte_pktmbuf_mtod` and `data_len`).
    #[inline(always)]
    pub fn data(&self) -> &[u8] {
        Segment { h: self.h() }.data()
    }

    /// Asks the CPU to bring the first cache line of the data into its caches (DPDK's
    /// `rte_prefetch0` on `rte_pktmbuf_mtod`): worth doing for a burst before touching headers.
    #[inline(always)]
    pub fn prefetch_data(&self) {
        let h = self.h();
        let p = h.buf_addr.wrapping_add(h.data_off as usize);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: prefetching is a hint: it never faults, whatever the address.
        unsafe {
            core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
        };
        #[cfg(not(target_arch = "x86_64"))]
        let _ = p;
    }

    /// Whether writing to the first segment's buffer could be seen by other mbufs.
    #[inline(always)]
    fn shared(h: &MbufHeader) -> bool {
        if h.ol_flags & OlFlags::EXTERNAL.0 != 0 {
            SharedInfo::refcnt(h.shinfo) > 1
        } else if h.ol_flags & OlFlags::INDIRECT.0 != 0 {
            // SAFETY: an indirect mbuf keeps its direct mbuf alive.
            unsafe { &*direct_of(h) }.refcnt.load(Ordering::Acquire) > 1
        } else {
            h.refcnt.load(Ordering::Acquire) > 1
        }
    }

    /// Whether the first segment's buffer is shared with clones.
    pub fn is_shared(&self) -> bool {
        Self::shared(self.h())
    }

    /// The first segment's data, writable; refused while the buffer is shared with clones.
    #[inline(always)]
    pub fn data_mut(&mut self) -> Result<&mut [u8], MbufError> {
        let h = self.h();
        if Self::shared(h) {
            return Err(MbufError::Shared);
        }
        // SAFETY: the data lies within the buffer, which only this mbuf uses.
        Ok(unsafe {
            std::slice::from_raw_parts_mut(h.buf_addr.add(h.data_off as usize), h.data_len as usize)
        })
    }

    /// Moves the start of an empty mbuf's data to `headroom` bytes into its buffer (DPDK's
    /// `rte_pktmbuf_reset_headroom` with a chosen room; 0 for a segment that continues a chain).
    pub fn set_headroom(&mut self, headroom: u16) -> Result<(), MbufError> {
        let h = self.hm();
        if h.data_len != 0 {
            return Err(MbufError::OutOfBounds);
        }
        if headroom > h.buf_len {
            return Err(MbufError::NoRoom);
        }
        h.data_off = headroom;
        Ok(())
    }

    /// Bytes before the data in the first segment (DPDK's `rte_pktmbuf_headroom`).
    #[inline]
    pub fn headroom(&self) -> u16 {
        self.h().data_off
    }

    fn last_seg(&self) -> &MbufHeader {
        let mut h = self.h();
        while !h.next.is_null() {
            // SAFETY: the chain's segments live as long as we do.
            h = unsafe { &*h.next };
        }
        h
    }

    /// Bytes after the data in the last segment (DPDK's `rte_pktmbuf_tailroom`).
    #[inline]
    pub fn tailroom(&self) -> u16 {
        let l = self.last_seg();
        l.buf_len - l.data_off - l.data_len
    }

    /// Grows the data at the front by `len` bytes taken from the headroom and returns them
    /// (DPDK's `rte_pktmbuf_prepend`).
    #[inline]
    pub fn prepend(&mut self, len: u16) -> Result<&mut [u8], MbufError> {
        if len > self.headroom() {
            return Err(MbufError::NoRoom);
        }
        if self.is_shared() {
            return Err(MbufError::Shared);
        }
        let h = self.hm();
        h.data_off -= len;
        h.data_len += len;
        h.pkt_len += len as u32;
        // SAFETY: the new bytes are inside the unshared buffer.
        Ok(unsafe {
            std::slice::from_raw_parts_mut(h.buf_addr.add(h.data_off as usize), len as usize)
        })
    }

    /// Grows the data at the end of the last segment by `len` bytes and returns them
    /// (DPDK's `rte_pktmbuf_append`).
    #[inline]
    pub fn append(&mut self, len: u16) -> Result<&mut [u8], MbufError> {
        let head = self.ptr.as_ptr();
        let mut last = head;
        // SAFETY: walking our own chain.
        unsafe {
            while !(*last).next.is_null() {
                last = (*last).next;
            }
            let l = &mut *last;
            if len > l.buf_len - l.data_off - l.data_len {
                return Err(MbufError::NoRoom);
            }
            if Self::shared(l) {
                return Err(MbufError::Shared);
            }
            let start = l.buf_addr.add((l.data_off + l.data_len) as usize);
            l.data_len += len;
            (*head).pkt_len += len as u32;
            Ok(std::slice::from_raw_parts_mut(start, len as usize))
        }
    }

    /// Removes `len` bytes from the front of the first segment (DPDK's `rte_pktmbuf_adj`).
    #[inline]
    pub fn adj(&mut self, len: u16) -> Result<(), MbufError> {
        let h = self.hm();
        if len > h.data_len {
            return Err(MbufError::OutOfBounds);
        }
        h.data_off += len;
        h.data_len -= len;
        h.pkt_len -= len as u32;
        Ok(())
    }

    /// Removes `len` bytes from the end of the last segment (DPDK's `rte_pktmbuf_trim`).
    #[inline]
    pub fn trim(&mut self, len: u16) -> Result<(), MbufError> {
        let head = self.ptr.as_ptr();
        // SAFETY: walking our own chain.
        unsafe {
            let mut last = head;
            while !(*last).next.is_null() {
                last = (*last).next;
            }
            if len > (*last).data_len {
                return Err(MbufError::OutOfBounds);
            }
            (*last).data_len -= len;
            (*head).pkt_len -= len as u32;
        }
        Ok(())
    }

    /// Makes a single-segment mbuf hold `len` bytes of data from its data offset (`data_len`
    /// and `pkt_len`) without touching the bytes: what a receive path does after the data was
    /// written into the buffer.
    #[inline(always)]
    pub fn set_len(&mut self, len: u16) -> Result<(), MbufError> {
        let h = self.hm();
        if !h.next.is_null() {
            return Err(MbufError::TooLong);
        }
        if h.data_off as u32 + len as u32 > h.buf_len as u32 {
            return Err(MbufError::NoRoom);
        }
        h.data_len = len;
        h.pkt_len = len as u32;
        Ok(())
    }

    /// The whole buffer of the first segment after the data offset, writable: where a
    /// receive path writes a frame before [`set_len`](Self::set_len). Refused while shared.
    #[inline(always)]
    pub fn room_mut(&mut self) -> Result<&mut [u8], MbufError> {
        let h = self.h();
        if Self::shared(h) {
            return Err(MbufError::Shared);
        }
        let len = (h.buf_len - h.data_off) as usize;
        // SAFETY: the range lies in the buffer, which only this mbuf uses.
        Ok(unsafe { std::slice::from_raw_parts_mut(h.buf_addr.add(h.data_off as usize), len) })
    }

    /// Total length of the packet, every segment (`pkt_len`).
    #[inline(always)]
    pub fn pkt_len(&self) -> u32 {
        self.h().pkt_len
    }

    /// Length of the first segment's data (`data_len`).
    #[inline(always)]
    pub fn data_len(&self) -> u16 {
        self.h().data_len
    }

    /// Size of the first segment's buffer (`buf_len`).
    pub fn buf_len(&self) -> u16 {
        self.h().buf_len
    }

    /// Number of segments (`nb_segs`).
    pub fn nb_segs(&self) -> u16 {
        self.h().nb_segs
    }

    /// The segments, first to last.
    pub fn segments(&self) -> impl Iterator<Item = Segment<'_>> + '_ {
        let mut cur: *const MbufHeader = self.h();
        std::iter::from_fn(move || {
            if cur.is_null() {
                return None;
            }
            // SAFETY: segments live as long as the chain is borrowed.
            let h = unsafe { &*cur };
            cur = h.next;
            Some(Segment { h })
        })
    }

    /// Whether the data is in one segment (DPDK's `rte_pktmbuf_is_contiguous`).
    pub fn is_contiguous(&self) -> bool {
        self.h().nb_segs == 1
    }

    /// Appends the chain `tail` after the last segment (DPDK's `rte_pktmbuf_chain`). On
    /// failure (too many segments or bytes) `tail` is given back.
    pub fn chain(&mut self, tail: Mbuf) -> Result<(), (MbufError, Mbuf)> {
        let (segs, len) = (tail.nb_segs() as u32, tail.pkt_len() as u64);
        let h = self.h();
        if h.nb_segs as u32 + segs > u16::MAX as u32 || h.pkt_len as u64 + len > u32::MAX as u64 {
            return Err((MbufError::TooLong, tail));
        }
        let head = self.ptr.as_ptr();
        let t = tail.into_raw().as_ptr();
        // SAFETY: we own both chains; the tail's head becomes an inner segment.
        unsafe {
            let mut last = head;
            while !(*last).next.is_null() {
                last = (*last).next;
            }
            (*last).next = t;
            (*head).nb_segs += segs as u16;
            (*head).pkt_len += len as u32;
            // Inner segments keep their own data_len; pkt_len and nb_segs matter on the head.
            (*t).pkt_len = (*t).data_len as u32;
            (*t).nb_segs = 1;
        }
        Ok(())
    }

    /// Reads `buf.len()` bytes at `off` across segments (DPDK's `rte_pktmbuf_read`): a slice
    /// of the mbuf when they are in one segment, otherwise copied into `buf`.
    pub fn read<'a>(&'a self, off: usize, buf: &'a mut [u8]) -> Option<&'a [u8]> {
        let len = buf.len();
        if off.checked_add(len)? > self.pkt_len() as usize {
            return None;
        }
        let mut skip = off;
        let mut segs = self.segments();
        let mut seg = segs.next()?;
        while skip >= seg.data().len() && skip > 0 {
            skip -= seg.data().len();
            seg = segs.next()?;
        }
        if skip + len <= seg.data().len() {
            return Some(&seg.data()[skip..skip + len]);
        }
        let mut done = 0;
        let mut src = &seg.data()[skip..];
        loop {
            let n = src.len().min(len - done);
            buf[done..done + n].copy_from_slice(&src[..n]);
            done += n;
            if done == len {
                return Some(buf);
            }
            src = segs.next()?.data();
        }
    }

    /// Moves the whole packet into the first segment (DPDK's `rte_pktmbuf_linearize`); needs
    /// the tailroom, and an unshared first buffer.
    pub fn linearize(&mut self) -> Result<(), MbufError> {
        if self.is_contiguous() {
            return Ok(());
        }
        let head = self.ptr.as_ptr();
        let h = self.h();
        let extra = h.pkt_len - h.data_len as u32;
        if extra > (h.buf_len - h.data_off - h.data_len) as u32 {
            return Err(MbufError::NoRoom);
        }
        if self.is_shared() {
            return Err(MbufError::Shared);
        }
        // SAFETY: we own the chain; the head's buffer is unshared and has room for the rest.
        unsafe {
            let mut dst = (*head)
                .buf_addr
                .add(((*head).data_off + (*head).data_len) as usize);
            let rest = (*head).next;
            (*head).next = std::ptr::null_mut();
            free_after_copy(&mut dst, rest);
            (*head).data_len += extra as u16;
            (*head).nb_segs = 1;
        }
        Ok(())
    }

    /// Makes an mbuf that shares this one's data, segment by segment, from `pool`
    /// (DPDK's `rte_pktmbuf_clone`). Both see the same bytes; neither can write them while both
    /// live.
    pub fn clone_indirect(&self, pool: &PktmbufPool) -> Result<Mbuf, MbufError> {
        let mut head: Option<Mbuf> = None;
        for seg in self.segments() {
            let mut mi = pool.alloc()?;
            // SAFETY: `mi` is fresh and ours; `seg` is alive while we borrow self.
            unsafe {
                attach(
                    mi.ptr.as_ptr(),
                    seg.h as *const MbufHeader as *mut MbufHeader,
                )
            };
            match head.as_mut() {
                None => head = Some(mi),
                Some(h) => {
                    mi.hm().pkt_len = mi.h().data_len as u32;
                    if let Err((e, _)) = h.chain(mi) {
                        return Err(e);
                    }
                }
            }
        }
        let mut head = head.expect("an mbuf has at least one segment");
        let src = self.h();
        let dst = head.hm();
        dst.pkt_len = src.pkt_len;
        dst.port = src.port;
        dst.vlan_tci = src.vlan_tci;
        dst.vlan_tci_outer = src.vlan_tci_outer;
        dst.tx_offload = src.tx_offload;
        dst.hash = src.hash;
        dst.packet_type = src.packet_type;
        dst.ol_flags |= src.ol_flags & !(OlFlags::INDIRECT.0 | OlFlags::EXTERNAL.0);
        Ok(head)
    }

    /// Attaches an external buffer in place of this mbuf's own (DPDK's
    /// `rte_pktmbuf_attach_extbuf`); the data starts empty at `headroom` bytes into it. The mbuf
    /// must be a single segment that is not already attached; the buffer is freed when the last
    /// mbuf using it is.
    pub fn attach_external(
        &mut self,
        ext: ExternalBuffer,
        headroom: u16,
    ) -> Result<(), (MbufError, ExternalBuffer)> {
        let h = self.h();
        if h.nb_segs != 1
            || is_attached(h)
            || h.refcnt.load(Ordering::Acquire) != 1
            || headroom > ext.len()
        {
            return Err((MbufError::Shared, ext));
        }
        let (addr, iova, len, shinfo) = ext.into_parts();
        let h = self.hm();
        h.buf_addr = addr.as_ptr();
        h.buf_iova = iova;
        h.buf_len = len;
        h.data_off = headroom;
        h.data_len = 0;
        h.pkt_len = 0;
        h.shinfo = shinfo;
        h.ol_flags |= OlFlags::EXTERNAL.0;
        Ok(())
    }

    /// Whether the mbuf uses its own buffer (DPDK's `RTE_MBUF_DIRECT`).
    pub fn is_direct(&self) -> bool {
        !is_attached(self.h())
    }

    /// Whether it is a clone using another mbuf's buffer (DPDK's `RTE_MBUF_CLONED`).
    pub fn is_indirect(&self) -> bool {
        self.h().ol_flags & OlFlags::INDIRECT.0 != 0
    }

    /// Whether it uses an external buffer (DPDK's `RTE_MBUF_HAS_EXTBUF`).
    pub fn has_external(&self) -> bool {
        self.h().ol_flags & OlFlags::EXTERNAL.0 != 0
    }

    /// Copies `len` bytes from `off` into new mbufs of `pool` (DPDK's `rte_pktmbuf_copy`); the
    /// copy is chained when it does not fit one buffer. Metadata is copied too.
    pub fn copy(&self, pool: &PktmbufPool, off: u32, len: u32) -> Result<Mbuf, MbufError> {
        let end = off.checked_add(len).ok_or(MbufError::OutOfBounds)?;
        if end > self.pkt_len() {
            return Err(MbufError::OutOfBounds);
        }
        let mut out = pool.alloc()?;
        {
            let src = self.h();
            let dst = out.hm();
            dst.port = src.port;
            dst.vlan_tci = src.vlan_tci;
            dst.vlan_tci_outer = src.vlan_tci_outer;
            dst.tx_offload = src.tx_offload;
            dst.hash = src.hash;
            dst.packet_type = src.packet_type;
            dst.ol_flags = src.ol_flags & !(OlFlags::INDIRECT.0 | OlFlags::EXTERNAL.0);
        }
        let mut pos = off as usize;
        let mut left = len as usize;
        let mut scratch = [0u8; 2048];
        while left > 0 {
            if out.tailroom() == 0 {
                let mut seg = pool.alloc()?;
                // A new segment starts at the beginning of its buffer.
                let hs = seg.hm();
                hs.data_off = 0;
                out.chain(seg).map_err(|(e, _)| e)?;
            }
            let n = left.min(out.tailroom() as usize).min(scratch.len());
            let bytes = self
                .read(pos, &mut scratch[..n])
                .ok_or(MbufError::OutOfBounds)?;
            out.append(n as u16)?.copy_from_slice(bytes);
            pos += n;
            left -= n;
        }
        Ok(out)
    }

    /// Frees every segment but the first, gives back an attached buffer, and resets the fields
    /// as a fresh allocation has them (DPDK's `rte_pktmbuf_reset`).
    pub fn reset(&mut self) {
        let m = self.ptr.as_ptr();
        // SAFETY: we own the chain.
        unsafe {
            let rest = (*m).next;
            (*m).next = std::ptr::null_mut();
            (*m).nb_segs = 1;
            free_chain(rest);
            if is_attached(&*m) && (*m).refcnt.load(Ordering::Acquire) == 1 {
                detach(m);
            }
            reset_fields(m);
        }
    }

    /// The input port (`port`).
    #[inline(always)]
    pub fn port(&self) -> u16 {
        self.h().port
    }

    /// Sets the port.
    #[inline(always)]
    pub fn set_port(&mut self, port: u16) {
        self.hm().port = port;
    }

    /// Offload flags.
    #[inline(always)]
    pub fn ol_flags(&self) -> OlFlags {
        OlFlags(self.h().ol_flags)
    }

    /// Sets the offload flags; the attachment bits (`INDIRECT`, `EXTERNAL`) are kept as they are.
    #[inline(always)]
    pub fn set_ol_flags(&mut self, flags: OlFlags) {
        let keep = OlFlags::INDIRECT.0 | OlFlags::EXTERNAL.0;
        let h = self.hm();
        h.ol_flags = (h.ol_flags & keep) | (flags.0 & !keep);
    }

    /// The packet type.
    #[inline(always)]
    pub fn packet_type(&self) -> PacketType {
        PacketType(self.h().packet_type)
    }

    /// Sets the packet type.
    #[inline(always)]
    pub fn set_packet_type(&mut self, p: PacketType) {
        self.hm().packet_type = p.0;
    }

    /// Parses the headers (up to 256 bytes, across segments) and returns the packet type and
    /// header lengths (DPDK's `rte_net_get_ptype`); the mbuf is not changed.
    pub fn parse_packet_type(&self, layers: u32) -> (PacketType, HdrLens) {
        if self.data_len() as u32 == self.pkt_len() || self.data_len() >= 256 {
            return net::get_ptype(self.data(), layers);
        }
        let mut buf = [0u8; 256];
        let n = (self.pkt_len() as usize).min(256);
        match self.read(0, &mut buf[..n]) {
            Some(bytes) => net::get_ptype(bytes, layers),
            None => (PacketType::UNKNOWN, HdrLens::default()),
        }
    }

    /// The RSS hash (`hash.rss`).
    #[inline(always)]
    pub fn rss_hash(&self) -> u32 {
        self.h().hash[0]
    }

    /// Sets the RSS hash and `RX_RSS_HASH`.
    #[inline(always)]
    pub fn set_rss_hash(&mut self, hash: u32) {
        let h = self.hm();
        h.hash[0] = hash;
        h.ol_flags |= OlFlags::RX_RSS_HASH.0;
    }

    /// The flow director words (`hash.fdir.lo`, `hash.fdir.hi`).
    pub fn fdir(&self) -> (u32, u32) {
        (self.h().hash[0], self.h().hash[1])
    }

    /// Sets the flow director id (`hash.fdir.hi`) and `RX_FDIR | RX_FDIR_ID`, as a flow rule's
    /// MARK action does.
    pub fn set_fdir_id(&mut self, id: u32) {
        let h = self.hm();
        h.hash[1] = id;
        h.ol_flags |= OlFlags::RX_FDIR.0 | OlFlags::RX_FDIR_ID.0;
    }

    /// VLAN TCI (valid with `RX_VLAN`, or to insert with `TX_VLAN`).
    pub fn vlan_tci(&self) -> u16 {
        self.h().vlan_tci
    }

    /// Sets the VLAN TCI.
    pub fn set_vlan_tci(&mut self, tci: u16) {
        self.hm().vlan_tci = tci;
    }

    /// Outer VLAN TCI (QinQ).
    pub fn vlan_tci_outer(&self) -> u16 {
        self.h().vlan_tci_outer
    }

    /// Sets the outer VLAN TCI.
    pub fn set_vlan_tci_outer(&mut self, tci: u16) {
        self.hm().vlan_tci_outer = tci;
    }

    /// IEEE 1588 timesync flags.
    pub fn timesync(&self) -> u16 {
        self.h().timesync
    }

    /// Sets the timesync flags.
    pub fn set_timesync(&mut self, v: u16) {
        self.hm().timesync = v;
    }

    /// L2 header length for TX offloads.
    pub fn l2_len(&self) -> u16 {
        txo::get(self.h().tx_offload, txo::L2_LEN) as u16
    }

    /// L3 header length.
    pub fn l3_len(&self) -> u16 {
        txo::get(self.h().tx_offload, txo::L3_LEN) as u16
    }

    /// L4 header length.
    pub fn l4_len(&self) -> u16 {
        txo::get(self.h().tx_offload, txo::L4_LEN) as u16
    }

    /// TSO segment size.
    pub fn tso_segsz(&self) -> u16 {
        txo::get(self.h().tx_offload, txo::TSO_SEGSZ) as u16
    }

    /// Outer L2 length.
    pub fn outer_l2_len(&self) -> u16 {
        txo::get(self.h().tx_offload, txo::OUTER_L2_LEN) as u16
    }

    /// Outer L3 length.
    pub fn outer_l3_len(&self) -> u16 {
        txo::get(self.h().tx_offload, txo::OUTER_L3_LEN) as u16
    }

    /// Sets the header lengths for TX offloads (masked to DPDK's bit widths: 7, 9, 8).
    pub fn set_tx_lens(&mut self, l2: u16, l3: u16, l4: u16) {
        let t = &mut self.hm().tx_offload;
        txo::set(t, txo::L2_LEN, l2 as u64);
        txo::set(t, txo::L3_LEN, l3 as u64);
        txo::set(t, txo::L4_LEN, l4 as u64);
    }

    /// Sets the TSO segment size.
    pub fn set_tso_segsz(&mut self, v: u16) {
        txo::set(&mut self.hm().tx_offload, txo::TSO_SEGSZ, v as u64);
    }

    /// Sets the outer header lengths (7 and 9 bits).
    pub fn set_outer_lens(&mut self, l2: u16, l3: u16) {
        let t = &mut self.hm().tx_offload;
        txo::set(t, txo::OUTER_L2_LEN, l2 as u64);
        txo::set(t, txo::OUTER_L3_LEN, l3 as u64);
    }

    /// The address of the first segment's buffer (DPDK's `buf_addr`), for drivers that hand a
    /// buffer's location to a device (AF_XDP's UMEM offsets); the data starts
    /// [`headroom`](Self::headroom) bytes into it.
    #[inline(always)]
    pub fn buf_addr(&self) -> *const u8 {
        self.h().buf_addr
    }

    /// Whether the first segment is a direct mbuf of `pool`: its buffer is its own, inside
    /// the pool's memory, with no external buffer attached.
    #[inline(always)]
    pub fn is_own_buffer_of(&self, pool: &PktmbufPool) -> bool {
        let h = self.h();
        h.pool == pool.mempool().as_raw() && !is_attached(h)
    }

    /// The IOVA of the first segment's buffer.
    pub fn buf_iova(&self) -> u64 {
        self.h().buf_iova
    }

    /// The IOVA of the first segment's data (DPDK's `rte_pktmbuf_iova`).
    pub fn data_iova(&self) -> u64 {
        self.h().buf_iova + self.h().data_off as u64
    }

    /// The reference count of the first segment.
    pub fn refcnt(&self) -> u16 {
        self.h().refcnt.load(Ordering::Acquire)
    }

    /// The application private area after the header (DPDK's `rte_mbuf_to_priv`).
    pub fn priv_data(&self) -> &[u8] {
        let size = self.own_priv_size();
        // SAFETY: every mbuf of the pool has `size` private bytes after its header, which only
        // its owner uses.
        unsafe {
            std::slice::from_raw_parts((self.ptr.as_ptr() as *const u8).add(MBUF_HEADER_SIZE), size)
        }
    }

    /// The application private area, writable.
    pub fn priv_data_mut(&mut self) -> &mut [u8] {
        let size = self.own_priv_size();
        // SAFETY: as above; `&mut self` makes the access exclusive.
        unsafe {
            std::slice::from_raw_parts_mut(
                (self.ptr.as_ptr() as *mut u8).add(MBUF_HEADER_SIZE),
                size,
            )
        }
    }

    fn own_priv_size(&self) -> usize {
        // SAFETY: an mbuf's pool outlives it.
        unsafe { pool_private(self.h().pool) }.priv_size as usize
    }

    pub(crate) fn raw(&self) -> *mut MbufHeader {
        self.ptr.as_ptr()
    }
}

/// Copies the data of every segment from `seg` on to `*dst` and frees them.
///
/// # Safety
/// We own the chain from `seg`; `*dst` has room for all its data.
unsafe fn free_after_copy(dst: &mut *mut u8, mut seg: *mut MbufHeader) {
    while !seg.is_null() {
        // SAFETY: as the caller guarantees.
        unsafe {
            let s = &*seg;
            std::ptr::copy_nonoverlapping(
                s.buf_addr.add(s.data_off as usize),
                *dst,
                s.data_len as usize,
            );
            *dst = dst.add(s.data_len as usize);
            let next = s.next;
            (*seg).next = std::ptr::null_mut();
            free_chain(seg);
            seg = next;
        }
    }
}

/// Makes `mi` use `m`'s buffer (DPDK's `rte_pktmbuf_attach`).
///
/// # Safety
/// `mi` is a fresh direct mbuf we own; `m` is a live segment.
unsafe fn attach(mi: *mut MbufHeader, m: *mut MbufHeader) {
    // SAFETY: as the caller guarantees.
    unsafe {
        let (hi, h) = (&mut *mi, &*m);
        if h.ol_flags & OlFlags::EXTERNAL.0 != 0 {
            SharedInfo::acquire(h.shinfo);
            hi.shinfo = h.shinfo;
            hi.ol_flags = OlFlags::EXTERNAL.0;
        } else {
            // For a direct `m` this is `m` itself; for a clone, the mbuf it points to.
            let md = direct_of(h);
            let prev = (*md).refcnt.fetch_add(1, Ordering::AcqRel);
            assert!(prev < u16::MAX, "mbuf reference count overflow");
            hi.priv_size = (*md).priv_size;
            hi.ol_flags = OlFlags::INDIRECT.0;
        }
        hi.buf_iova = h.buf_iova;
        hi.buf_addr = h.buf_addr;
        hi.buf_len = h.buf_len;
        hi.data_off = h.data_off;
        hi.data_len = h.data_len;
        hi.pkt_len = h.data_len as u32;
        hi.next = std::ptr::null_mut();
        hi.nb_segs = 1;
    }
}

impl fmt::Debug for Mbuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.h();
        f.debug_struct("Mbuf")
            .field("addr", &self.ptr)
            .field("pkt_len", &h.pkt_len)
            .field("data_len", &h.data_len)
            .field("nb_segs", &h.nb_segs)
            .field("port", &h.port)
            .field("ol_flags", &OlFlags(h.ol_flags))
            .field("packet_type", &PacketType(h.packet_type))
            .field("refcnt", &h.refcnt.load(Ordering::Relaxed))
            .finish()
    }
}
