//! [`RawSocket`]: a raw packet socket on an interface, the kernel's end of a driver test:
//! sends whole frames and receives every frame that reaches the interface.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// An `AF_PACKET` raw socket bound to one interface. It leaves out the frames this host sends
/// on the interface (`PACKET_IGNORE_OUTGOING`) and holds 16 MiB, so that all a test sends
/// waits for it before it reads. Closed on drop.
pub struct RawSocket {
    fd: OwnedFd,
}

impl RawSocket {
    /// Opens the socket on `iface` (root only; panics with the reason otherwise: a test
    /// set-up error).
    pub fn open(iface: &str) -> RawSocket {
        let name = std::ffi::CString::new(iface).expect("an interface name has no NUL");
        // SAFETY: a valid C string.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        assert_ne!(ifindex, 0, "no interface {iface}");
        // SAFETY: plain socket creation.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        // SAFETY: a fresh descriptor, owned from here on.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        for (level, opt, val) in [
            (libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, 1),
            (libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, 16 << 20),
        ] {
            let val: libc::c_int = val;
            // SAFETY: an int option of the size passed.
            let rc = unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    level,
                    opt,
                    (&val as *const libc::c_int).cast(),
                    4,
                )
            };
            assert_eq!(rc, 0, "setsockopt: {}", std::io::Error::last_os_error());
        }
        // SAFETY: sockaddr_ll is plain data.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: a sockaddr_ll of the size passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
        RawSocket { fd }
    }

    /// Sends one whole frame, retrying for up to 5 s while the kernel has no room.
    pub fn send(&self, frame: &[u8]) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            // SAFETY: the buffer is valid for its length.
            let rc =
                unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
            if rc == frame.len() as isize {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("raw send: {}", std::io::Error::last_os_error());
    }

    /// The next frame, if one comes before `deadline`.
    pub fn recv(&self, deadline: Instant) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 65536];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one pollfd.
            unsafe { libc::poll(&mut pfd, 1, left.as_millis().max(1) as i32) };
            // SAFETY: the buffer is valid for its length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n > 0 {
                buf.truncate(n as usize);
                return Some(buf);
            }
        }
    }

    /// Frames until `n` came or `wait` passed, then every further one that comes within
    /// `quiet` of the last (the extra frames a test must see to fail on them).
    pub fn recv_n(&self, n: usize, wait: Duration, quiet: Duration) -> Vec<Vec<u8>> {
        self.recv_n_where(n, wait, quiet, |_| true)
    }

    /// As [`recv_n`](Self::recv_n), counting and keeping only the frames `keep` accepts (the
    /// kernel may send frames of its own on an interface).
    pub fn recv_n_where(
        &self,
        n: usize,
        wait: Duration,
        quiet: Duration,
        keep: impl Fn(&[u8]) -> bool,
    ) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + wait;
        let mut got = Vec::new();
        while got.len() < n {
            match self.recv(deadline) {
                Some(f) if keep(&f) => got.push(f),
                Some(_) => {}
                None => return got,
            }
        }
        while let Some(f) = self.recv(Instant::now() + quiet) {
            if keep(&f) {
                got.push(f);
            }
        }
        got
    }
}
