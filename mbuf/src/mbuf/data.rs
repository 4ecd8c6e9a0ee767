//! The first segment's data: access, head and tail room, prepend/append/adj/trim, and the
//! lengths a receive path sets on a fresh mbuf.

use crate::header::MbufHeader;

use super::{Mbuf, MbufError, Segment};

impl Mbuf {
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

    /// Fills a fresh mbuf from `data`: copies the longest start of `data` that fits the
    /// buffer after the data offset and makes it the mbuf's data (`data_len`, `pkt_len`).
    /// Returns how many bytes it took: the rest is the caller's to put in more segments.
    ///
    /// What a receive path does with a frame it has in a buffer of its own. An mbuf just
    /// allocated always takes the bytes; one that is shared or has a chain takes none
    /// (returns 0) and stays as it was.
    ///
    /// ```
    /// # let (_eal, _) = rpdk_eal::init(["app", "--no-huge", "--no-shconf", "-l", "0"]).unwrap();
    /// # let pool = rpdk_mbuf::PktmbufPool::create("fill_doc", 15, 0, 0, 256, None).unwrap();
    /// let mut m = pool.alloc().unwrap();
    /// // 256 bytes of buffer, 128 of them headroom: 128 of the 200 fit.
    /// assert_eq!(m.fill_from(&[7u8; 200]), 128);
    /// assert_eq!((m.data_len(), m.pkt_len(), m.data()[127]), (128, 128, 7));
    /// ```
    #[inline]
    pub fn fill_from(&mut self, data: &[u8]) -> usize {
        if !self.h().next.is_null() {
            return 0;
        }
        let Ok(room) = self.room_mut() else {
            return 0;
        };
        let n = data.len().min(room.len());
        room[..n].copy_from_slice(&data[..n]);
        self.set_data_len_unchained(n as u16);
        n
    }

    /// Makes the first `len` bytes after the data offset of a fresh mbuf its data, as far as
    /// the buffer goes, without touching them: what a receive path does after the kernel or
    /// the hardware wrote a frame into [`room_mut`](Self::room_mut). Returns the length set,
    /// `len` or the room if smaller. An mbuf with a chain is left as it is (returns 0).
    ///
    /// ```
    /// # let (_eal, _) = rpdk_eal::init(["app", "--no-huge", "--no-shconf", "-l", "0"]).unwrap();
    /// # let pool = rpdk_mbuf::PktmbufPool::create("fill_len_doc", 15, 0, 0, 256, None).unwrap();
    /// let mut m = pool.alloc().unwrap();
    /// m.room_mut().unwrap()[..4].copy_from_slice(b"abcd");
    /// assert_eq!(m.fill_len(4), 4);
    /// assert_eq!(m.data(), b"abcd");
    /// assert_eq!(m.fill_len(1000), 128, "at most the room");
    /// ```
    #[inline(always)]
    pub fn fill_len(&mut self, len: usize) -> usize {
        let h = self.h();
        if !h.next.is_null() {
            return 0;
        }
        let n = len.min((h.buf_len - h.data_off) as usize);
        self.set_data_len_unchained(n as u16);
        n
    }

    /// Sets `data_len` and `pkt_len` of a single segment; `len` fits its buffer.
    #[inline(always)]
    fn set_data_len_unchained(&mut self, len: u16) {
        let h = self.hm();
        debug_assert!(h.next.is_null() && h.data_off as u32 + len as u32 <= h.buf_len as u32);
        h.data_len = len;
        h.pkt_len = len as u32;
    }

    /// The whole buffer of the first segment after the data offset, writable: where a
    /// receive path writes a frame before [`fill_len`](Self::fill_len). Refused while shared.
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
}
