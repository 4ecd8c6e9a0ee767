//! The system calls std does not offer for the telemetry socket: `AF_UNIX` `SOCK_SEQPACKET`
//! sockets (std's `UnixListener` and `UnixStream` are stream sockets), bound, listening or
//! connected, and `poll`. Once made, a socket is handed to std's types, whose `accept`,
//! `read` and `write` work unchanged on a seqpacket socket: each `read` takes one message
//! (cutting what does not fit) and each `write` sends one.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// How many connections may wait to be accepted.
const BACKLOG: i32 = 64;

fn sockaddr(path: &Path) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid (empty) address.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() >= addr.sun_path.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "socket path {} is longer than {} bytes",
                path.display(),
                addr.sun_path.len() - 1
            ),
        ));
    }
    for (dst, &src) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    Ok((addr, len as libc::socklen_t))
}

fn seqpacket() -> io::Result<OwnedFd> {
    // SAFETY: socket has no memory preconditions; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A seqpacket socket bound to `path` and listening. Fails with `AddrInUse` when the path
/// exists (live or stale: see [`is_live`]).
pub fn listen(path: &Path) -> io::Result<UnixListener> {
    let (addr, len) = sockaddr(path)?;
    let sock = seqpacket()?;
    // SAFETY: `addr` is a valid sockaddr_un of `len` bytes; `sock` is open.
    let rc = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            (&raw const addr).cast::<libc::sockaddr>(),
            len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `sock` is an open, bound socket.
    if unsafe { libc::listen(sock.as_raw_fd(), BACKLOG) } != 0 {
        let e = io::Error::last_os_error();
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(UnixListener::from(sock))
}

/// Connects a seqpacket socket to `path`.
pub fn connect(path: &Path) -> io::Result<UnixStream> {
    let (addr, len) = sockaddr(path)?;
    let sock = seqpacket()?;
    // SAFETY: `addr` is a valid sockaddr_un of `len` bytes; `sock` is open.
    let rc = unsafe {
        libc::connect(
            sock.as_raw_fd(),
            (&raw const addr).cast::<libc::sockaddr>(),
            len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(UnixStream::from(sock))
}

/// Whether a process listens on the socket at `path` (a socket file left by a killed process
/// refuses connections).
pub fn is_live(path: &Path) -> bool {
    connect(path).is_ok()
}

/// Waits until one of `fds` is ready, or `timeout_ms` passes (-1: no limit); returns how many
/// are ready. An interrupted wait returns 0.
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> io::Result<usize> {
    // SAFETY: `fds` is a valid, writable array of `fds.len()` pollfd structures.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(e);
    }
    Ok(n as usize)
}

/// Whether the real user is root (DPDK picks its runtime directory by `getuid`).
pub fn real_uid_is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

/// Has `f` run when the process exits through `exit` (what `std::process::exit` calls), as
/// DPDK unlinks its sockets with `atexit`.
pub fn at_exit(f: extern "C" fn()) {
    // SAFETY: `f` is a plain function with no arguments, as atexit wants; it stays valid for
    // the life of the process.
    if unsafe { libc::atexit(f) } != 0 {
        log::warn!(target: "lib.telemetry", "atexit failed: the socket stays if the process exits without cleanup");
    }
}
