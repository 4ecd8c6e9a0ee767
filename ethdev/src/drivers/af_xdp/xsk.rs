//! AF_XDP sockets (`linux/if_xdp.h`): creation, UMEM registration, ring sizes and their
//! mappings, bind, statistics and options, busy-poll settings, and the two wake-up calls. The
//! system calls of `net_af_xdp`'s queues; the rings' memory protocol is [`super::ring`]'s.

use std::ffi::{c_int, c_void};
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::ring::{Consumer, Entry, Mapping, Producer};

/// `SO_PREFER_BUSY_POLL` (Linux 5.11).
const SO_PREFER_BUSY_POLL: c_int = 69;
/// `SO_BUSY_POLL_BUDGET` (Linux 5.11).
const SO_BUSY_POLL_BUDGET: c_int = 70;

fn check(rc: c_int) -> io::Result<c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Which rings a socket has, for [`XskSocket::set_ring_size`] and [`XskSocket::map_ring`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RingKind {
    Rx,
    Tx,
    Fill,
    Completion,
}

impl RingKind {
    fn opt(self) -> c_int {
        match self {
            RingKind::Rx => libc::XDP_RX_RING,
            RingKind::Tx => libc::XDP_TX_RING,
            RingKind::Fill => libc::XDP_UMEM_FILL_RING,
            RingKind::Completion => libc::XDP_UMEM_COMPLETION_RING,
        }
    }

    fn pgoff(self) -> i64 {
        match self {
            RingKind::Rx => libc::XDP_PGOFF_RX_RING,
            RingKind::Tx => libc::XDP_PGOFF_TX_RING,
            RingKind::Fill => libc::XDP_UMEM_PGOFF_FILL_RING as i64,
            RingKind::Completion => libc::XDP_UMEM_PGOFF_COMPLETION_RING as i64,
        }
    }

    /// Bytes of one entry: a descriptor for RX and TX, an address for the UMEM's rings.
    pub fn entry_size(self) -> usize {
        match self {
            RingKind::Rx | RingKind::Tx => size_of::<libc::xdp_desc>(),
            RingKind::Fill | RingKind::Completion => size_of::<u64>(),
        }
    }
}

/// Where a ring's producer, consumer, flags and entries are in its mapping.
#[derive(Clone, Copy, Debug)]
pub(super) struct RingOffsets {
    pub producer: usize,
    pub consumer: usize,
    pub flags: usize,
    pub desc: usize,
}

/// An AF_XDP socket, closed on drop.
#[derive(Debug)]
pub(super) struct XskSocket(OwnedFd);

impl XskSocket {
    /// A new socket (needs `CAP_NET_RAW`).
    pub fn new() -> io::Result<XskSocket> {
        // SAFETY: socket has no memory preconditions.
        let fd =
            check(unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) })?;
        // SAFETY: a fresh descriptor that nothing else owns.
        Ok(XskSocket(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// The socket of descriptor `fd`, which another process passed (`SCM_RIGHTS`): bound,
    /// with its rings; checked to be an AF_XDP socket.
    pub fn from_fd(fd: OwnedFd) -> io::Result<XskSocket> {
        let mut domain: c_int = 0;
        let mut len = size_of::<c_int>() as libc::socklen_t;
        // SAFETY: `domain` is a writable int of the size passed.
        check(unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_DOMAIN,
                (&mut domain as *mut c_int).cast::<c_void>(),
                &mut len,
            )
        })?;
        if domain != libc::AF_XDP {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the descriptor passed is a socket of family {domain}, not AF_XDP"),
            ));
        }
        Ok(XskSocket(fd))
    }

    /// Another descriptor of the socket (to pass to another process).
    pub fn dup(&self) -> io::Result<OwnedFd> {
        self.0.try_clone()
    }

    /// The socket's inode: the same in every process holding a descriptor of it.
    pub fn inode(&self) -> io::Result<u64> {
        // SAFETY: an all-zero `stat` is a valid value for fstat to overwrite.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `st` is a writable stat.
        check(unsafe { libc::fstat(self.fd(), &mut st) })?;
        Ok(st.st_ino)
    }

    /// The descriptor (for the XSKMAP and for sockets sharing this one's UMEM).
    pub fn fd(&self) -> i32 {
        self.0.as_raw_fd()
    }

    fn setsockopt<T>(&self, level: c_int, opt: c_int, val: &T) -> io::Result<()> {
        // SAFETY: `val` points to a T of the size passed, read by the kernel during the call.
        check(unsafe {
            libc::setsockopt(
                self.fd(),
                level,
                opt,
                (val as *const T).cast::<c_void>(),
                size_of::<T>() as libc::socklen_t,
            )
        })
        .map(drop)
    }

    fn getsockopt<T: Copy>(&self, opt: c_int, val: &mut T) -> io::Result<usize> {
        let mut len = size_of::<T>() as libc::socklen_t;
        // SAFETY: `val` is a writable T of the size passed; the kernel writes at most `len`.
        check(unsafe {
            libc::getsockopt(
                self.fd(),
                libc::SOL_XDP,
                opt,
                (val as *mut T).cast::<c_void>(),
                &mut len,
            )
        })?;
        Ok(len as usize)
    }

    /// Registers `len` bytes at `addr` (page-aligned) as the socket's UMEM, in chunks of
    /// `chunk_size` bytes that may start anywhere (`XDP_UMEM_UNALIGNED_CHUNK_FLAG`).
    ///
    /// The kernel pins the pages and writes received frames into them, at addresses this
    /// process gives it in the fill ring, until the socket and every socket sharing the UMEM
    /// are closed: the caller keeps the memory mapped that long (a mempool's memzone, kept by
    /// the pool handle the queue holds).
    pub fn register_umem(&self, addr: *mut u8, len: usize, chunk_size: u32) -> io::Result<()> {
        let reg = libc::xdp_umem_reg {
            addr: addr as u64,
            len: len as u64,
            chunk_size,
            headroom: 0,
            flags: libc::XDP_UMEM_UNALIGNED_CHUNK_FLAG,
            tx_metadata_len: 0,
        };
        self.setsockopt(libc::SOL_XDP, libc::XDP_UMEM_REG, &reg)
    }

    /// Sets the number of entries of ring `kind` (a power of two).
    pub fn set_ring_size(&self, kind: RingKind, entries: u32) -> io::Result<()> {
        self.setsockopt(libc::SOL_XDP, kind.opt(), &entries)
    }

    /// Where each ring's fields are (`XDP_MMAP_OFFSETS`).
    pub fn offsets(&self, kind: RingKind) -> io::Result<RingOffsets> {
        // SAFETY: plain data; all-zero is valid.
        let mut off: libc::xdp_mmap_offsets = unsafe { std::mem::zeroed() };
        let len = self.getsockopt(libc::XDP_MMAP_OFFSETS, &mut off)?;
        if len != size_of::<libc::xdp_mmap_offsets>() {
            return Err(io::Error::other(
                "the kernel's XDP_MMAP_OFFSETS has no ring flags (Linux 5.4 or later needed)",
            ));
        }
        let r = match kind {
            RingKind::Rx => off.rx,
            RingKind::Tx => off.tx,
            RingKind::Fill => off.fr,
            RingKind::Completion => off.cr,
        };
        Ok(RingOffsets {
            producer: r.producer as usize,
            consumer: r.consumer as usize,
            flags: r.flags as usize,
            desc: r.desc as usize,
        })
    }

    /// Maps ring `kind` of `entries` entries (its size set before).
    fn map_ring(&self, kind: RingKind, entries: u32) -> io::Result<(Mapping, RingOffsets)> {
        let off = self.offsets(kind)?;
        let len = off.desc + entries as usize * kind.entry_size();
        // SAFETY: a fresh shared mapping of one of the socket's rings; the kernel checks the
        // offset and the length against the ring it made.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                self.fd(),
                kind.pgoff(),
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a mapping of `len` bytes made above, owned by the value from here on.
        Ok((unsafe { Mapping::new(ptr.cast(), len) }, off))
    }

    /// The producing side of ring `kind` (fill or TX) of `entries` entries.
    pub fn producer<T: Entry>(&self, kind: RingKind, entries: u32) -> io::Result<Producer<T>> {
        assert!(
            matches!(kind, RingKind::Fill | RingKind::Tx) && size_of::<T>() == kind.entry_size()
        );
        let (map, off) = self
            .map_ring(kind, entries)
            .map_err(|e| io::Error::new(e.kind(), format!("mapping the {kind:?} ring: {e}")))?;
        // SAFETY: the kernel's mapping of this ring, of `entries` entries of T (checked above),
        // laid out as the kernel's offsets say; this process produces into it from here only.
        Ok(unsafe { Producer::new(map, &off, entries) })
    }

    /// The consuming side of ring `kind` (RX or completion) of `entries` entries.
    pub fn consumer<T: Entry>(&self, kind: RingKind, entries: u32) -> io::Result<Consumer<T>> {
        assert!(
            matches!(kind, RingKind::Rx | RingKind::Completion)
                && size_of::<T>() == kind.entry_size()
        );
        let (map, off) = self
            .map_ring(kind, entries)
            .map_err(|e| io::Error::new(e.kind(), format!("mapping the {kind:?} ring: {e}")))?;
        // SAFETY: as for `producer`; this process consumes from it from here only.
        Ok(unsafe { Consumer::new(map, &off, entries) })
    }

    /// Binds the socket to queue `queue` of interface `ifindex`, with `flags` (`XDP_COPY`,
    /// `XDP_ZEROCOPY`, `XDP_USE_NEED_WAKEUP`, `XDP_SHARED_UMEM`) and, with `XDP_SHARED_UMEM`,
    /// the socket whose UMEM it shares.
    pub fn bind(
        &self,
        ifindex: u32,
        queue: u32,
        flags: u16,
        shared: Option<i32>,
    ) -> io::Result<()> {
        let sa = libc::sockaddr_xdp {
            sxdp_family: libc::AF_XDP as u16,
            sxdp_flags: flags,
            sxdp_ifindex: ifindex,
            sxdp_queue_id: queue,
            sxdp_shared_umem_fd: shared.unwrap_or(0) as u32,
        };
        // SAFETY: a sockaddr_xdp of the size passed.
        check(unsafe {
            libc::bind(
                self.fd(),
                (&sa as *const libc::sockaddr_xdp).cast(),
                size_of::<libc::sockaddr_xdp>() as libc::socklen_t,
            )
        })
        .map(drop)
    }

    /// The kernel's counters for the socket (`XDP_STATISTICS`).
    pub fn statistics(&self) -> io::Result<libc::xdp_statistics> {
        // SAFETY: plain data; all-zero is valid.
        let mut s: libc::xdp_statistics = unsafe { std::mem::zeroed() };
        self.getsockopt(libc::XDP_STATISTICS, &mut s)?;
        Ok(s)
    }

    /// Whether the kernel moves frames in zero-copy mode (`XDP_OPTIONS`).
    pub fn zerocopy(&self) -> io::Result<bool> {
        let mut o = libc::xdp_options { flags: 0 };
        self.getsockopt(libc::XDP_OPTIONS, &mut o)?;
        Ok(o.flags & libc::XDP_OPTIONS_ZEROCOPY != 0)
    }

    /// Turns on busy polling: the socket's wake-ups poll the device's NAPI context for up to
    /// `timeout_us` microseconds and `budget` packets, in preference to interrupts.
    pub fn set_busy_poll(&self, timeout_us: u32, budget: u32) -> io::Result<()> {
        let one: c_int = 1;
        self.setsockopt(libc::SOL_SOCKET, SO_PREFER_BUSY_POLL, &one)?;
        self.setsockopt(libc::SOL_SOCKET, libc::SO_BUSY_POLL, &(timeout_us as c_int))?;
        self.setsockopt(libc::SOL_SOCKET, SO_BUSY_POLL_BUDGET, &(budget as c_int))
    }

    /// Asks the kernel to send what the TX ring holds (`sendto` of nothing, non-blocking).
    #[inline]
    pub fn wake_tx(&self) -> io::Result<()> {
        // SAFETY: a zero-length send with no buffer and no address.
        let rc = unsafe {
            libc::sendto(
                self.fd(),
                std::ptr::null(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null(),
                0,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Asks the kernel to fill the RX ring (`recvfrom` of nothing, non-blocking): what a
    /// zero-copy driver waiting for fill-ring entries, or busy polling, needs.
    #[inline]
    pub fn wake_rx(&self) {
        // SAFETY: a zero-length receive with no buffer and no address. Its result does not
        // matter: the ring tells what came.
        unsafe {
            libc::recvfrom(
                self.fd(),
                std::ptr::null_mut(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
    }
}
