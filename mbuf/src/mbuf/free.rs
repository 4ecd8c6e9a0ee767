//! Giving segments back: detaching clones and external buffers, reference counts, and the
//! free of a whole chain (DPDK's `rte_pktmbuf_free`).

use std::sync::atomic::Ordering;

use crate::OlFlags;
use crate::external::SharedInfo;
use crate::header::{MBUF_HEADER_SIZE, MbufHeader, PKTMBUF_HEADROOM};
use crate::pool::pool_private;

/// The direct mbuf whose buffer an indirect mbuf uses (DPDK's `rte_mbuf_from_indirect`).
#[inline(always)]
pub(super) fn direct_of(m: &MbufHeader) -> *mut MbufHeader {
    // An indirect mbuf's priv_size holds its direct mbuf's, and the buffer follows the direct
    // header and private area.
    m.buf_addr
        .wrapping_sub(MBUF_HEADER_SIZE + m.priv_size as usize) as *mut MbufHeader
}

#[inline(always)]
pub(super) fn is_attached(m: &MbufHeader) -> bool {
    m.ol_flags & (OlFlags::INDIRECT.0 | OlFlags::EXTERNAL.0) != 0
}

/// Gives a segment's buffer back: an indirect or external attachment is released and the mbuf
/// gets its own buffer again (DPDK's `rte_pktmbuf_detach`).
///
/// # Safety
/// `m` is an mbuf the caller owns, attached to another buffer.
pub(super) unsafe fn detach(m: *mut MbufHeader) {
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
pub(super) unsafe fn free_chain(mut m: *mut MbufHeader) {
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
