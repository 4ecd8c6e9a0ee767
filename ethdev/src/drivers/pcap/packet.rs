//! Raw `AF_PACKET` sockets on one interface, for `net_pcap`'s interface mode (what libpcap's
//! `pcap_open_live` gives DPDK): bound to the interface, promiscuous, non-blocking, read with
//! `recvmmsg` and written with `sendmmsg` in batches (no memory-mapped ring; `net_af_packet` is
//! the fast path).

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::{MaybeUninit, size_of};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Most messages one batch moves.
pub(crate) const MAX_BATCH: usize = 32;

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn setsockopt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, v: &T) -> io::Result<()> {
    // SAFETY: `v` points to a live value of the size passed, as the option expects.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (v as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Opens a raw packet socket on interface `ifindex`, receiving every protocol, with the
/// interface in promiscuous mode while the socket lives; `inbound_only` leaves out the frames the
/// host sends (libpcap's `PCAP_D_IN`).
pub(crate) fn open(ifindex: u32, inbound_only: bool) -> io::Result<OwnedFd> {
    // Protocol 0 first, so nothing arrives from other interfaces before the bind.
    // SAFETY: plain socket(2) call; the result is checked.
    let fd = check(unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })?;
    // SAFETY: a fresh descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_ll is plain data; all-zero is valid.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: `sll` is a valid sockaddr_ll of the length passed.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    })?;
    // SAFETY: packet_mreq is plain data; all-zero is valid.
    let mut mreq: libc::packet_mreq = unsafe { std::mem::zeroed() };
    mreq.mr_ifindex = ifindex as i32;
    mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
    setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mreq)?;
    if inbound_only {
        setsockopt(
            &fd,
            libc::SOL_PACKET,
            libc::PACKET_IGNORE_OUTGOING,
            &1 as &libc::c_int,
        )?;
    }
    Ok(fd)
}

/// What one received message holds.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Received {
    /// The frame's full length (more than the buffers when `truncated`).
    pub len: usize,
    /// The frame did not fit the buffers given.
    pub truncated: bool,
}

/// Receives up to `out.len()` frames without blocking, frame `i` into the `per_msg` buffers
/// `iov[i * per_msg..][..per_msg]`; returns how many arrived (`WouldBlock` when none).
pub(crate) fn recv_batch(
    fd: BorrowedFd<'_>,
    iov: &mut [IoSliceMut<'_>],
    per_msg: usize,
    out: &mut [Received],
) -> io::Result<usize> {
    let k = out.len().min(MAX_BATCH).min(iov.len() / per_msg.max(1));
    let mut msgs = [MaybeUninit::<libc::mmsghdr>::zeroed(); MAX_BATCH];
    for (i, m) in msgs.iter_mut().take(k).enumerate() {
        // SAFETY: mmsghdr is plain data; zeroed is valid, and we set the fields we use.
        let m = unsafe { m.assume_init_mut() };
        // IoSliceMut is ABI-compatible with iovec (std guarantees it on Unix).
        m.msg_hdr.msg_iov = iov[i * per_msg..].as_mut_ptr().cast();
        m.msg_hdr.msg_iovlen = per_msg as _;
    }
    // SAFETY: the first `k` headers are initialised and point to `per_msg` live iovecs each,
    // inside `iov`, which outlives the call; the kernel writes only within them.
    let n = check(unsafe {
        libc::recvmmsg(
            fd.as_raw_fd(),
            msgs.as_mut_ptr().cast(),
            k as libc::c_uint,
            libc::MSG_DONTWAIT | libc::MSG_TRUNC,
            std::ptr::null_mut(),
        )
    })? as usize;
    for (o, m) in out.iter_mut().zip(&msgs[..n]) {
        // SAFETY: the kernel filled the first `n` headers.
        let m = unsafe { m.assume_init_ref() };
        *o = Received {
            len: m.msg_len as usize,
            truncated: m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
        };
    }
    Ok(n)
}

/// Sends frames without blocking: frame `i` is the next `counts[i]` slices of `iov`. Returns
/// how many were sent; an error means the first one failed.
pub(crate) fn send_batch(
    fd: BorrowedFd<'_>,
    iov: &[IoSlice<'_>],
    counts: &[usize],
) -> io::Result<usize> {
    let k = counts.len().min(MAX_BATCH);
    let mut msgs = [MaybeUninit::<libc::mmsghdr>::zeroed(); MAX_BATCH];
    let mut at = 0;
    for (m, &c) in msgs.iter_mut().zip(&counts[..k]) {
        if at + c > iov.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "more slices counted than given",
            ));
        }
        // SAFETY: as in recv_batch.
        let m = unsafe { m.assume_init_mut() };
        // IoSlice is ABI-compatible with iovec; the kernel only reads through it.
        m.msg_hdr.msg_iov = iov[at..].as_ptr().cast_mut().cast();
        m.msg_hdr.msg_iovlen = c as _;
        at += c;
    }
    // SAFETY: the first `k` headers are initialised and point to live iovecs within `iov`; a
    // bound packet socket needs no address.
    let n = check(unsafe {
        libc::sendmmsg(
            fd.as_raw_fd(),
            msgs.as_mut_ptr().cast(),
            k as libc::c_uint,
            libc::MSG_DONTWAIT,
        )
    })?;
    Ok(n as usize)
}
