//! The system calls of `net_af_packet`: packet sockets and their options, the interface ioctls,
//! and the mapping of a socket's rings. With `ring.rs`, the only `unsafe` code of the driver.

use std::ffi::{c_int, c_void};
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

/// Every protocol (`ETH_P_ALL`), in host order.
pub(super) const ETH_P_ALL: u16 = libc::ETH_P_ALL as u16;
/// `TPACKET_V2`, the TX ring's layout.
pub(super) const TPACKET_V2: c_int = 1;
/// `TPACKET_V3`, the RX ring's layout.
pub(super) const TPACKET_V3: c_int = 2;

/// The system's page size (ring blocks are multiples of it).
pub(super) fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 { n as usize } else { 4096 }
}

/// An interface name as the kernel takes it: 1 to 15 bytes, none of `/`, `:`, blanks or NUL.
#[derive(Clone, Copy, Debug)]
pub(super) struct IfName([libc::c_char; libc::IFNAMSIZ]);

impl IfName {
    /// Checks `name` as the kernel's `dev_valid_name` does.
    pub fn new(name: &str) -> Result<IfName, String> {
        let bad = name.is_empty()
            || name.len() >= libc::IFNAMSIZ
            || name == "."
            || name == ".."
            || name
                .bytes()
                .any(|b| b == b'/' || b == b':' || b == 0 || b.is_ascii_whitespace());
        if bad {
            return Err(format!(
                "'{name}' is not an interface name (1 to {} characters, none of '/', ':' or blanks)",
                libc::IFNAMSIZ - 1
            ));
        }
        let mut out = [0 as libc::c_char; libc::IFNAMSIZ];
        for (o, b) in out.iter_mut().zip(name.bytes()) {
            *o = b as libc::c_char;
        }
        Ok(IfName(out))
    }
}

fn ifreq(name: &IfName) -> libc::ifreq {
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { zeroed() };
    ifr.ifr_name = name.0;
    ifr
}

fn check(rc: c_int) -> io::Result<c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// What a fanout group spreads frames by, with its flags (the high half of `PACKET_FANOUT`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Fanout {
    /// Group id (0 with `unique`).
    pub id: u16,
    /// Let the kernel pick an unused id (`PACKET_FANOUT_FLAG_UNIQUEID`).
    pub unique: bool,
    /// Leave outgoing frames out (`PACKET_FANOUT_FLAG_IGNORE_OUTGOING`).
    pub ignore_outgoing: bool,
}

/// A packet socket (`AF_PACKET`, `SOCK_RAW`), closed on drop.
#[derive(Debug)]
pub(super) struct Socket(OwnedFd);

impl Socket {
    /// A packet socket that receives nothing until bound with a protocol.
    pub fn new() -> io::Result<Socket> {
        // SAFETY: socket has no memory preconditions; protocol 0 hooks nothing yet.
        let fd = check(unsafe {
            libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0)
        })?;
        // SAFETY: a fresh descriptor that nothing else owns.
        Ok(Socket(unsafe { OwnedFd::from_raw_fd(fd) }))
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
    /// `PACKET_QDISC_BYPASS`, `PACKET_IGNORE_OUTGOING`).
    pub fn set_packet_opt(&self, opt: c_int, val: c_int) -> io::Result<()> {
        self.setsockopt(libc::SOL_PACKET, opt, &val)
    }

    /// Gives the socket a TPACKET_V3 receive ring (`PACKET_RX_RING`); the version is set first.
    pub fn set_rx_ring_v3(&self, req: &libc::tpacket_req3) -> io::Result<()> {
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

    fn ioctl(&self, req: libc::c_ulong, ifr: &mut libc::ifreq) -> io::Result<()> {
        // SAFETY: every request used here reads or writes one ifreq, which `ifr` is.
        check(unsafe { libc::ioctl(self.0.as_raw_fd(), req as _, ifr as *mut libc::ifreq) })
            .map(drop)
    }

    /// The index of interface `name`, in the socket's network namespace.
    pub fn ifindex(&self, name: &IfName) -> io::Result<c_int> {
        let mut ifr = ifreq(name);
        self.ioctl(libc::SIOCGIFINDEX, &mut ifr)?;
        // SAFETY: SIOCGIFINDEX filled the ifindex member.
        Ok(unsafe { ifr.ifr_ifru.ifru_ifindex })
    }

    /// The hardware type (`ARPHRD_ETHER`...) and address of interface `name`.
    pub fn hwaddr(&self, name: &IfName) -> io::Result<(u16, [u8; 6])> {
        let mut ifr = ifreq(name);
        self.ioctl(libc::SIOCGIFHWADDR, &mut ifr)?;
        // SAFETY: SIOCGIFHWADDR filled the hwaddr member.
        let sa = unsafe { ifr.ifr_ifru.ifru_hwaddr };
        let mut mac = [0u8; 6];
        for (m, b) in mac.iter_mut().zip(sa.sa_data) {
            *m = b as u8;
        }
        Ok((sa.sa_family, mac))
    }

    /// Sets the hardware address of interface `name`.
    pub fn set_hwaddr(&self, name: &IfName, mac: [u8; 6]) -> io::Result<()> {
        let mut ifr = ifreq(name);
        // SAFETY: sockaddr is plain data; all-zero is valid.
        let mut sa: libc::sockaddr = unsafe { zeroed() };
        sa.sa_family = libc::ARPHRD_ETHER;
        for (d, b) in sa.sa_data.iter_mut().zip(mac) {
            *d = b as libc::c_char;
        }
        ifr.ifr_ifru.ifru_hwaddr = sa;
        self.ioctl(libc::SIOCSIFHWADDR, &mut ifr)
    }

    /// The flags of interface `name` (`IFF_UP`, `IFF_RUNNING`...).
    pub fn flags(&self, name: &IfName) -> io::Result<c_int> {
        let mut ifr = ifreq(name);
        self.ioctl(libc::SIOCGIFFLAGS, &mut ifr)?;
        // SAFETY: SIOCGIFFLAGS filled the flags member.
        Ok(unsafe { ifr.ifr_ifru.ifru_flags } as u16 as c_int)
    }

    /// The MTU of interface `name`.
    pub fn mtu(&self, name: &IfName) -> io::Result<u32> {
        let mut ifr = ifreq(name);
        self.ioctl(libc::SIOCGIFMTU, &mut ifr)?;
        // SAFETY: SIOCGIFMTU filled the mtu member.
        Ok(unsafe { ifr.ifr_ifru.ifru_mtu } as u32)
    }

    /// Sets the MTU of interface `name`.
    pub fn set_mtu(&self, name: &IfName, mtu: u32) -> io::Result<()> {
        let mut ifr = ifreq(name);
        ifr.ifr_ifru.ifru_mtu = mtu as c_int;
        self.ioctl(libc::SIOCSIFMTU, &mut ifr)
    }

    /// Speed (Mbit/s), full duplex and autonegotiation of interface `name`, from ethtool
    /// (`ETHTOOL_GSET`); `None` when the driver does not know its speed.
    pub fn link_settings(&self, name: &IfName) -> io::Result<Option<(u32, bool, bool)>> {
        let mut cmd = EthtoolCmd {
            cmd: ETHTOOL_GSET,
            ..EthtoolCmd::default()
        };
        let mut ifr = ifreq(name);
        ifr.ifr_ifru.ifru_data = (&mut cmd as *mut EthtoolCmd).cast();
        self.ioctl(libc::SIOCETHTOOL, &mut ifr)?;
        let speed = (cmd.speed_hi as u32) << 16 | cmd.speed as u32;
        if speed == 0 || speed == u32::MAX || speed == u16::MAX as u32 {
            return Ok(None);
        }
        Ok(Some((speed, cmd.duplex == 1, cmd.autoneg == 1)))
    }
}

const ETHTOOL_GSET: u32 = 1;

/// `struct ethtool_cmd` (legacy link settings, which every driver still answers).
#[repr(C)]
#[derive(Default)]
struct EthtoolCmd {
    cmd: u32,
    supported: u32,
    advertising: u32,
    speed: u16,
    duplex: u8,
    port: u8,
    phy_address: u8,
    transceiver: u8,
    autoneg: u8,
    mdio_support: u8,
    maxtxpkt: u32,
    maxrxpkt: u32,
    speed_hi: u16,
    eth_tp_mdix: u8,
    eth_tp_mdix_ctrl: u8,
    lp_advertising: u32,
    reserved: [u32; 2],
}

/// A shared mapping of a socket's ring, unmapped on drop.
#[derive(Debug)]
pub(super) struct Mmap {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_are_checked() {
        assert!(IfName::new("veth0").is_ok());
        assert!(IfName::new("a234567890abcde").is_ok(), "15 bytes fit");
        for bad in ["", "a234567890abcdef", "a/b", "a b", "a:1", ".", ".."] {
            let e = IfName::new(bad).unwrap_err();
            assert!(e.contains("is not an interface name"), "{bad}: {e}");
        }
    }

    #[test]
    fn ethtool_cmd_has_the_kernel_layout() {
        assert_eq!(size_of::<EthtoolCmd>(), 44);
    }
}
