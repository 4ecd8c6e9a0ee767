//! Indirect clones that share a buffer (`rte_pktmbuf_clone`, `rte_pktmbuf_attach`) and
//! external buffers (`rte_pktmbuf_attach_extbuf`).

use std::sync::atomic::Ordering;

use crate::OlFlags;
use crate::external::{ExternalBuffer, SharedInfo};
use crate::header::MbufHeader;
use crate::pool::PktmbufPool;

use super::fields::copy_metadata;
use super::free::{direct_of, is_attached};
use super::{Mbuf, MbufError};

impl Mbuf {
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
        head.hm().pkt_len = self.h().pkt_len;
        copy_metadata(head.hm(), self.h());
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

    /// Whether the first segment is a direct mbuf of `pool`: its buffer is its own, inside
    /// the pool's memory, with no external buffer attached.
    #[inline(always)]
    pub fn is_own_buffer_of(&self, pool: &PktmbufPool) -> bool {
        let h = self.h();
        h.pool == pool.mempool().as_raw() && !is_attached(h)
    }

    /// Whether it is a clone using another mbuf's buffer (DPDK's `RTE_MBUF_CLONED`).
    pub fn is_indirect(&self) -> bool {
        self.h().ol_flags & OlFlags::INDIRECT.0 != 0
    }

    /// Whether it uses an external buffer (DPDK's `RTE_MBUF_HAS_EXTBUF`).
    pub fn has_external(&self) -> bool {
        self.h().ol_flags & OlFlags::EXTERNAL.0 != 0
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
