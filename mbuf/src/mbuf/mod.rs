//! The owned mbuf handle, [`Mbuf`], split by concern:
//!
//! - this file: the handle itself (ownership, raw conversion, the header, sharing, reset) and
//!   its errors;
//! - `data.rs`: the first segment's data, head and tail room, growing and shrinking it, filling
//!   fresh mbufs;
//! - `chain.rs`: segment chains: walking, chaining, reading across segments, linearising,
//!   deep copies;
//! - `clone.rs`: indirect clones and external buffers;
//! - `fields.rs`: the metadata fields (port, offload flags, packet type, hashes, VLAN tags,
//!   TX lengths, IOVAs, private area);
//! - `free.rs`: giving segments back to their pools (detaching clones, reference counts).

mod chain;
mod clone;
mod data;
mod fields;
mod free;

use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;

use rpdk_mempool::Exhausted;

use crate::external::SharedInfo;
use crate::header::MbufHeader;
use crate::pool::reset_fields;
use crate::{OlFlags, PacketType};

pub use chain::Segment;
pub(crate) use free::prefree_seg;
use free::{detach, direct_of, free_chain, is_attached};

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

/// A packet buffer taken from a [`PktmbufPool`](crate::PktmbufPool): the head of a chain of segments that it owns.
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

impl Drop for Mbuf {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: an Mbuf owns its chain.
        unsafe { free_chain(self.ptr.as_ptr()) };
    }
}

impl Mbuf {
    /// Takes ownership of a raw mbuf.
    ///
    /// # Safety
    /// `ptr` is an allocated mbuf (chain head) from a [`PktmbufPool`](crate::PktmbufPool) that nobody else owns,
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

    pub(crate) fn raw(&self) -> *mut MbufHeader {
        self.ptr.as_ptr()
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
