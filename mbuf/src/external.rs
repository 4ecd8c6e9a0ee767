//! External buffers: memory that is not an mbuf's own, attached to mbufs and freed by a callback
//! when the last mbuf lets go (DPDK's `rte_pktmbuf_attach_extbuf` and
//! `struct rte_mbuf_ext_shared_info`).

use std::cell::UnsafeCell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

type FreeFn = Box<dyn FnOnce(*mut u8) + Send>;

/// The shared state of an external buffer: how many mbufs use it, and how to free it.
pub(crate) struct SharedInfo {
    refcnt: AtomicU16,
    addr: *mut u8,
    free: UnsafeCell<Option<FreeFn>>,
}

impl SharedInfo {
    /// Adds a user.
    pub fn acquire(this: *mut SharedInfo) {
        // SAFETY: callers hold a reference, so the info is alive.
        let prev = unsafe { &*this }.refcnt.fetch_add(1, Ordering::Relaxed);
        assert!(prev < u16::MAX, "external buffer reference count overflow");
    }

    /// Drops a user; the last one frees the buffer and the info.
    ///
    /// # Safety
    /// The caller holds one reference and gives it up.
    pub unsafe fn release(this: *mut SharedInfo) {
        // SAFETY: the caller's reference keeps it alive until here.
        let info = unsafe { &*this };
        if info.refcnt.fetch_sub(1, Ordering::AcqRel) == 1 {
            // SAFETY: we were the last user: nobody else can reach the info any more.
            let info = unsafe { Box::from_raw(this) };
            // SAFETY: as above, exclusive.
            if let Some(free) = unsafe { &mut *info.free.get() }.take() {
                free(info.addr);
            }
        }
    }

    /// Users now.
    pub fn refcnt(this: *const SharedInfo) -> u16 {
        // SAFETY: callers hold a reference.
        unsafe { &*this }.refcnt.load(Ordering::Acquire)
    }
}

/// A buffer that does not belong to a pool, ready to be attached to an mbuf
/// ([`crate::Mbuf::attach_external`]). The buffer is freed by its callback once neither this
/// value nor any mbuf uses it.
pub struct ExternalBuffer {
    pub(crate) addr: NonNull<u8>,
    pub(crate) iova: u64,
    pub(crate) len: u16,
    pub(crate) shinfo: *mut SharedInfo,
}

// SAFETY: the buffer is owned (see the constructors' contracts) and its shared info is atomic;
// the free callback is Send.
unsafe impl Send for ExternalBuffer {}

impl ExternalBuffer {
    /// Wraps raw memory.
    ///
    /// # Safety
    /// `addr` is valid for reads and writes of `len` bytes, and stays so, unused by anything
    /// else, until `free` is called with it; `iova` is its IOVA.
    pub unsafe fn from_raw(
        addr: NonNull<u8>,
        len: u16,
        iova: u64,
        free: impl FnOnce(*mut u8) + Send + 'static,
    ) -> ExternalBuffer {
        let shinfo = Box::into_raw(Box::new(SharedInfo {
            refcnt: AtomicU16::new(1),
            addr: addr.as_ptr(),
            free: UnsafeCell::new(Some(Box::new(free))),
        }));
        ExternalBuffer {
            addr,
            iova,
            len,
            shinfo,
        }
    }

    /// Wraps an owned heap buffer of at most 65535 bytes; it is dropped when no mbuf uses it.
    /// Its IOVA is its virtual address (only software drivers can use it).
    pub fn from_boxed(buf: Box<[u8]>) -> Result<ExternalBuffer, Box<[u8]>> {
        let Ok(len) = u16::try_from(buf.len()) else {
            return Err(buf);
        };
        let size = buf.len();
        let addr = NonNull::new(Box::into_raw(buf) as *mut u8).expect("boxes are not null");
        // SAFETY: the box's memory is ours until the callback rebuilds and drops it.
        Ok(unsafe {
            ExternalBuffer::from_raw(addr, len, addr.as_ptr() as u64, move |p| {
                drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, size)));
            })
        })
    }

    /// Its length.
    pub fn len(&self) -> u16 {
        self.len
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn into_parts(self) -> (NonNull<u8>, u64, u16, *mut SharedInfo) {
        let parts = (self.addr, self.iova, self.len, self.shinfo);
        std::mem::forget(self);
        parts
    }
}

impl Drop for ExternalBuffer {
    fn drop(&mut self) {
        // SAFETY: this value holds one reference.
        unsafe { SharedInfo::release(self.shinfo) };
    }
}
