//! Segment chains: walking, chaining, reading across segments, linearising, deep copies.

use crate::header::MbufHeader;
use crate::pool::PktmbufPool;

use super::fields::copy_metadata;
use super::{Mbuf, MbufError, free_chain};

/// One segment of a chain, read-only.
#[derive(Clone, Copy)]
pub struct Segment<'a> {
    pub(super) h: &'a MbufHeader,
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

    /// Copies `len` bytes from `off` into new mbufs of `pool` (DPDK's `rte_pktmbuf_copy`); the
    /// copy is chained when it does not fit one buffer. Metadata is copied too.
    pub fn copy(&self, pool: &PktmbufPool, off: u32, len: u32) -> Result<Mbuf, MbufError> {
        let end = off.checked_add(len).ok_or(MbufError::OutOfBounds)?;
        if end > self.pkt_len() {
            return Err(MbufError::OutOfBounds);
        }
        let mut out = pool.alloc()?;
        copy_metadata(out.hm(), self.h());
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
