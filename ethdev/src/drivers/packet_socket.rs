//! Packet sockets (`AF_PACKET`) and their options, and the mapping of a socket's rings: the
//! system calls of `net_af_packet` (rings, fanout) and of `net_pcap`'s interface mode (a plain
//! socket read and written in batches). The interface's own `ioctl`s (index, flags, MAC address,
//! MTU, ethtool) are [`crate::drivers::netif`]'s.

use std::ffi::{c_int, c_void};
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

/// Every protocol (`ETH_P_ALL`), in host order.
pub(crate) const ETH_P_ALL: u16 = libc::ETH_P_ALL as u16;
/// `TPACKET_V2`, the TX ring's layout, and the RX ring's with `tpacket_version=2`.
pub(crate) const TPACKET_V2: c_int = 1;
/// `TPACKET_V3`, the RX ring's layout by default.
pub(crate) const TPACKET_V3: c_int = 2;

/// The system's page size (ring blocks are multiples of it).
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 { n as usize } else { 4096 }
}

pub(crate) fn check(rc: c_int) -> io::Result<c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// What a fanout group spreads frames by, with its flags (the high half of `PACKET_FANOUT`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fanout {
    /// Group id (0 with `unique`).
    pub id: u16,
    /// Let the kernel pick an unused id (`PACKET_FANOUT_FLAG_UNIQUEID`).
    pub unique: bool,
    /// Leave outgoing frames out (`PACKET_FANOUT_FLAG_IGNORE_OUTGOING`).
    pub ignore_outgoing: bool,
}

/// A packet socket (`AF_PACKET`, `SOCK_RAW`), closed on drop.
#[derive(Debug)]
pub(crate) struct Socket(OwnedFd);

impl Socket {
    /// A packet socket that receives nothing until bound with a protocol; `nonblocking` makes
    /// its reads and writes return `WouldBlock` rather than wait.
    pub fn new(nonblocking: bool) -> io::Result<Socket> {
        let mut ty = libc::SOCK_RAW | libc::SOCK_CLOEXEC;
        if nonblocking {
            ty |= libc::SOCK_NONBLOCK;
        }
        // SAFETY: socket has no memory preconditions; protocol 0 hooks nothing yet.
        let fd = check(unsafe { libc::socket(libc::AF_PACKET, ty, 0) })?;
        // SAFETY: a fresh descriptor that nothing else owns.
        Ok(Socket(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// The socket of a descriptor another process passed (`SCM_RIGHTS`): the same kernel
    /// socket, rings included.
    pub fn from_fd(fd: OwnedFd) -> Socket {
        Socket(fd)
    }

    /// A second descriptor of the socket, to pass to another process.
    pub fn dup_fd(&self) -> io::Result<OwnedFd> {
        self.0.try_clone()
    }

    /// The descriptor, for the socket's reads and writes elsewhere.
    pub fn into_fd(self) -> OwnedFd {
        self.0
    }

    fn setsockopt<T>(&self, level: c_int, opt: c_int, val: &T) -> io::Result<()> {
        // SAFETY: `val` points to a T of the size passed, read by the kernel during the call.
        check(unsafe {
            libc::setsockopt(
                self.0.as_raw_fd(),
                level,
                opt,
                (val as *const T).cast::<c_void>(),
                size_of::<T>() as libc::socklen_t,
            )
        })
        .map(drop)
    }

    fn getsockopt<T: Copy>(&self, level: c_int, opt: c_int, init: T) -> io::Result<T> {
        let mut val = init;
        let mut len = size_of::<T>() as libc::socklen_t;
        // SAFETY: `val` is a writable T of the size passed.
        check(unsafe {
            libc::getsockopt(
                self.0.as_raw_fd(),
                level,
                opt,
                (&mut val as *mut T).cast::<c_void>(),
                &mut len,
            )
        })?;
        Ok(val)
    }

    /// Sets an integer `SOL_PACKET` option (`PACKET_VERSION`, `PACKET_LOSS`,
    /// `PACKET_QDISC_BYPASS`, `PACKET_IGNORE_OUTGOING`, `PACKET_AUXDATA`).
    pub fn set_packet_opt(&self, opt: c_int, val: c_int) -> io::Result<()> {
        self.setsockopt(libc::SOL_PACKET, opt, &val)
    }

    /// Gives the socket a TPACKET_V3 receive ring (`PACKET_RX_RING`); the version is set first.
    pub fn set_rx_ring_v3(&self, req: &libc::tpacket_req3) -> io::Result<()> {
        self.setsockopt(libc::SOL_PACKET, libc::PACKET_RX_RING, req)
    }

    /// Gives the socket a TPACKET_V2 receive ring (`PACKET_RX_RING`); the version is set first.
    pub fn set_rx_ring_v2(&self, req: &libc::tpacket_req) -> io::Result<()> {
        self.setsockopt(libc::SOL_PACKET, libc::PACKET_RX_RING, req)
    }

    /// Gives the socket a TPACKET_V2 transmit ring (`PACKET_TX_RING`).
    pub fn set_tx_ring(&self, req: &libc::tpacket_req) -> io::Result<()> {
        self.setsockopt(libc::SOL_PACKET, libc::PACKET_TX_RING, req)
    }

    /// Binds to interface `ifindex`: protocol `ETH_P_ALL` receives every frame, 0 none.
    pub fn bind(&self, ifindex: c_int, protocol: u16) -> io::Result<()> {
        // SAFETY: sockaddr_ll is plain data; all-zero is valid.
        let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = protocol.to_be();
        sll.sll_ifindex = ifindex;
        // SAFETY: `sll` is a sockaddr_ll of the size passed.
        check(unsafe {
            libc::bind(
                self.0.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })
        .map(drop)
    }

    /// Joins (or creates) a `PACKET_FANOUT_HASH` group with defragmentation and rollover, as
    /// DPDK's driver does.
    pub fn join_fanout(&self, f: Fanout) -> io::Result<()> {
        let mut flags = libc::PACKET_FANOUT_FLAG_DEFRAG | libc::PACKET_FANOUT_FLAG_ROLLOVER;
        if f.unique {
            flags |= libc::PACKET_FANOUT_FLAG_UNIQUEID;
        }
        if f.ignore_outgoing {
            flags |= libc::PACKET_FANOUT_FLAG_IGNORE_OUTGOING;
        }
        let arg = f.id as u32 | ((libc::PACKET_FANOUT_HASH | flags) << 16);
        self.setsockopt(libc::SOL_PACKET, libc::PACKET_FANOUT, &arg)
    }

    /// The id of the fanout group the socket is in.
    pub fn fanout_id(&self) -> io::Result<u16> {
        let v: u32 = self.getsockopt(libc::SOL_PACKET, libc::PACKET_FANOUT, 0u32)?;
        Ok(v as u16)
    }

    /// Adds or drops a membership (`PACKET_MR_PROMISC`, `PACKET_MR_ALLMULTI`) on an interface;
    /// the kernel drops what is left when the socket closes.
    pub fn membership(&self, ifindex: c_int, kind: c_int, add: bool) -> io::Result<()> {
        let mreq = libc::packet_mreq {
            mr_ifindex: ifindex,
            mr_type: kind as u16,
            mr_alen: 0,
            mr_address: [0; 8],
        };
        let opt = if add {
            libc::PACKET_ADD_MEMBERSHIP
        } else {
            libc::PACKET_DROP_MEMBERSHIP
        };
        self.setsockopt(libc::SOL_PACKET, opt, &mreq)
    }

    /// Drops every frame before it reaches the ring (a one-instruction BPF filter), or stops
    /// doing so.
    pub fn drop_all(&self, on: bool) -> io::Result<()> {
        if on {
            // BPF_RET | BPF_K with 0: accept 0 bytes.
            let mut insn = libc::sock_filter {
                code: 0x06,
                jt: 0,
                jf: 0,
                k: 0,
            };
            let prog = libc::sock_fprog {
                len: 1,
                filter: &mut insn,
            };
            self.setsockopt(libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &prog)
        } else {
            match self.setsockopt(libc::SOL_SOCKET, libc::SO_DETACH_FILTER, &0 as &c_int) {
                // No filter attached: nothing to detach.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
                r => r,
            }
        }
    }

    /// Frames the kernel dropped for want of ring room since the last call
    /// (`PACKET_STATISTICS`, which resets them).
    pub fn take_drops(&self) -> io::Result<u32> {
        let init = libc::tpacket_stats_v3 {
            tp_packets: 0,
            tp_drops: 0,
            tp_freeze_q_cnt: 0,
        };
        Ok(self
            .getsockopt(libc::SOL_PACKET, libc::PACKET_STATISTICS, init)?
            .tp_drops)
    }

    /// Asks the kernel to send the frames marked in the TX ring, without waiting
    /// (`sendto(fd, NULL, 0, MSG_DONTWAIT)`).
    pub fn kick(&self) -> io::Result<()> {
        // SAFETY: no buffer and no address are passed.
        check(unsafe {
            libc::sendto(
                self.0.as_raw_fd(),
                std::ptr::null(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null(),
                0,
            ) as c_int
        })
        .map(drop)
    }

    /// Maps the socket's rings (RX first, then TX), `len` bytes.
    pub fn map(&self, len: usize) -> io::Result<Mmap> {
        // SAFETY: a fresh shared mapping of the socket's ring; the kernel checks `len`.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                self.0.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mmap {
            ptr: NonNull::new(ptr.cast()).ok_or_else(|| io::Error::other("mmap gave NULL"))?,
            len,
        })
    }
}

/// A shared mapping of a socket's ring, unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mmap {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping belongs to this value alone; moving it to another thread moves that
// ownership (the kernel's side is synchronised by the ring's status words).
unsafe impl Send for Mmap {}

impl Mmap {
    /// The start of the mapping.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Its length.
    pub fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `Socket::map`, unmapped once.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}
