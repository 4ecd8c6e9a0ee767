//! Raw `AF_PACKET` sockets on one interface, for `net_pcap`'s interface mode (what libpcap's
//! `pcap_open_live` gives DPDK): bound to the interface, promiscuous, non-blocking, read with
//! `recvmmsg` and written with `sendmmsg` in batches (no memory-mapped ring; `net_af_packet` is
//! the fast path). As libpcap, it asks for each frame's auxiliary data, so that a VLAN tag the
//! kernel took out of the frame can be put back.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::{MaybeUninit, size_of};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use crate::drivers::packet_socket::{ETH_P_ALL, Socket, check};

/// Most messages one batch moves.
pub(crate) const MAX_BATCH: usize = 32;

/// Opens a raw packet socket on interface `ifindex`, non-blocking, receiving every protocol,
/// with the interface in promiscuous mode while the socket lives; `inbound_only` leaves out the
/// frames the host sends (libpcap's `PCAP_D_IN`).
pub(crate) fn open(ifindex: u32, inbound_only: bool) -> io::Result<OwnedFd> {
    let ifindex = ifindex as libc::c_int;
    // Protocol 0 first, so nothing arrives from other interfaces before the bind.
    let sock = Socket::new(true)?;
    sock.bind(ifindex, ETH_P_ALL)?;
    sock.membership(ifindex, libc::PACKET_MR_PROMISC, true)?;
    sock.set_packet_opt(libc::PACKET_AUXDATA, 1)?;
    if inbound_only {
        sock.set_packet_opt(libc::PACKET_IGNORE_OUTGOING, 1)?;
    }
    Ok(sock.into_fd())
}

/// What one received message holds.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Received {
    /// The frame's full length (more than the buffers when `truncated`).
    pub len: usize,
    /// The frame did not fit the buffers given.
    pub truncated: bool,
    /// The VLAN tag the kernel took out of the frame (TPID, TCI).
    pub vlan: Option<(u16, u16)>,
}

/// Room for one message's control data: a `tpacket_auxdata`, aligned for `cmsghdr`.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct Control([u8; 64]);

/// The VLAN tag in a received message's `PACKET_AUXDATA`, if the kernel took one out.
///
/// # Safety
/// `hdr` was filled by `recvmsg`, its control pointer and length covering live memory.
unsafe fn vlan_of(hdr: &libc::msghdr) -> Option<(u16, u16)> {
    // SAFETY: the caller guarantees the control area; CMSG_* walk within msg_controllen.
    let mut c = unsafe { libc::CMSG_FIRSTHDR(hdr) };
    while !c.is_null() {
        // SAFETY: `c` is a header inside the control area.
        let h = unsafe { &*c };
        // SAFETY: CMSG_LEN only computes a length.
        let need = unsafe { libc::CMSG_LEN(size_of::<libc::tpacket_auxdata>() as u32) } as usize;
        if h.cmsg_level == libc::SOL_PACKET
            && h.cmsg_type == libc::PACKET_AUXDATA
            && h.cmsg_len as usize >= need
        {
            // SAFETY: the data holds a whole tpacket_auxdata (checked just above).
            let aux: libc::tpacket_auxdata =
                unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(c).cast()) };
            if aux.tp_status & libc::TP_STATUS_VLAN_VALID == 0 {
                return None;
            }
            let tpid = if aux.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                aux.tp_vlan_tpid
            } else {
                libc::ETH_P_8021Q as u16
            };
            return Some((tpid, aux.tp_vlan_tci));
        }
        // SAFETY: as above.
        c = unsafe { libc::CMSG_NXTHDR(hdr, c) };
    }
    None
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
    let mut ctrl = [Control([0; 64]); MAX_BATCH];
    for (i, (m, c)) in msgs.iter_mut().zip(&mut ctrl).take(k).enumerate() {
        // SAFETY: mmsghdr is plain data; zeroed is valid, and we set the fields we use.
        let m = unsafe { m.assume_init_mut() };
        // IoSliceMut is ABI-compatible with iovec (std guarantees it on Unix).
        m.msg_hdr.msg_iov = iov[i * per_msg..].as_mut_ptr().cast();
        m.msg_hdr.msg_iovlen = per_msg as _;
        m.msg_hdr.msg_control = c.0.as_mut_ptr().cast();
        m.msg_hdr.msg_controllen = c.0.len() as _;
    }
    // SAFETY: the first `k` headers are initialised and point to `per_msg` live iovecs each,
    // inside `iov`, and to a control area each, all outliving the call; the kernel writes only
    // within them.
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
            // SAFETY: recvmsg filled the header and its control area, alive in `ctrl`.
            vlan: unsafe { vlan_of(&m.msg_hdr) },
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
