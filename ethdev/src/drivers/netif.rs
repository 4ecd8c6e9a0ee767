//! Kernel network interfaces by name: flags, hardware type and address, MTU, index and ethtool
//! link settings, through `ioctl`s on a control socket (`SIOCGIFFLAGS`, `SIOCSIFHWADDR`,
//! `SIOCETHTOOL`, ...), and the check of an interface name. The drivers that put a port on a
//! kernel interface share it: `net_tap` for the TAP device it creates, `net_pcap` for the
//! interfaces of its `iface`/`rx_iface`/`tx_iface` devargs, `net_af_packet` and `net_af_xdp` for their `iface`.
//!
//! A socket belongs to the network namespace of the thread that created it, and the kernel
//! resolves the names in its `ioctl`s there, whatever the namespace of the thread that calls.
//! A [`NetIf`] is made at probe, in the namespace where the driver found the interface (and
//! where it opens its own sockets), so the port keeps acting on that interface when an lcore or
//! a thread in another namespace drives it later, and never on a namesake elsewhere.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use rpdk_mbuf::net::MacAddr;

/// Longest interface name, in bytes (`IFNAMSIZ` less the NUL).
const IFNAME_MAX: usize = libc::IFNAMSIZ - 1;

/// Whether the kernel's `isspace` counts byte `b` as a blank: ASCII's six (`\t`, `\n`, `\v`,
/// `\f`, `\r`, space) and Latin-1's no-break space, `0xa0`, which is part of the UTF-8 of
/// some characters.
fn kernel_space(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | b' ' | 0xa0)
}

/// Checks that `name` can be a Linux interface name, by the rules of the kernel's
/// `dev_valid_name`: 1 to [`IFNAME_MAX`] bytes, not `.` or `..`, and no `/`, `:`, blank or NUL.
/// The error names the name and what is wrong with it.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let why = if name.is_empty() {
        "it is empty".to_string()
    } else if name.len() > IFNAME_MAX {
        format!("it has {} bytes, at most {IFNAME_MAX} fit", name.len())
    } else if name == "." || name == ".." {
        "'.' and '..' are reserved".to_string()
    } else if let Some(c) = name.chars().find(|&c| {
        let mut utf8 = [0; 4];
        c.encode_utf8(&mut utf8)
            .bytes()
            .any(|b| b == b'/' || b == b':' || b == 0 || kernel_space(b))
    }) {
        if c.is_ascii() {
            format!("it holds '{}'", c.escape_debug())
        } else {
            format!(
                "it holds '{c}' (U+{:04X}), whose UTF-8 has byte 0xa0, a blank to the kernel",
                c as u32
            )
        }
    } else {
        return Ok(());
    };
    Err(format!(
        "'{}' is not a valid interface name: {why}",
        name.escape_debug()
    ))
}

/// An interface, by name, with a control socket in its namespace.
#[derive(Debug)]
pub(crate) struct NetIf {
    name: String,
    sock: OwnedFd,
}

/// An `ifreq` naming `name` (checked by [`check_name`]), the rest zeroed.
pub(crate) fn ifreq(name: &str) -> libc::ifreq {
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(name.bytes().take(IFNAME_MAX)) {
        *d = s as libc::c_char;
    }
    req
}

impl NetIf {
    /// A handle on interface `name` of the caller's network namespace (the interface need not
    /// exist yet).
    pub(crate) fn new(name: &str) -> io::Result<NetIf> {
        check_name(name).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: plain socket(2) call; the result is checked before use.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(NetIf {
            name: name.to_string(),
            // SAFETY: `fd` is a fresh descriptor that nothing else owns.
            sock: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn ioctl(&self, req: libc::c_ulong, ifr: &mut libc::ifreq) -> io::Result<()> {
        // SAFETY: `ifr` is a valid ifreq that outlives the call; the SIOC*IF* requests used here
        // read and write only within it.
        let rc = unsafe { libc::ioctl(self.sock.as_raw_fd(), req as _, ifr as *mut libc::ifreq) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The interface index (`SIOCGIFINDEX`).
    pub(crate) fn index(&self) -> io::Result<u32> {
        let mut r = ifreq(&self.name);
        self.ioctl(libc::SIOCGIFINDEX, &mut r)?;
        // SAFETY: SIOCGIFINDEX filled the ifindex member.
        Ok(unsafe { r.ifr_ifru.ifru_ifindex } as u32)
    }

    /// The interface flags (`IFF_*`).
    pub(crate) fn flags(&self) -> io::Result<u32> {
        let mut r = ifreq(&self.name);
        self.ioctl(libc::SIOCGIFFLAGS, &mut r)?;
        // SAFETY: SIOCGIFFLAGS filled the flags member.
        Ok(unsafe { r.ifr_ifru.ifru_flags } as u16 as u32)
    }

    /// Sets the flags in `on` and clears those in `off`, keeping the others.
    pub(crate) fn change_flags(&self, on: u32, off: u32) -> io::Result<()> {
        let flags = (self.flags()? | on) & !off;
        let mut r = ifreq(&self.name);
        r.ifr_ifru.ifru_flags = flags as u16 as libc::c_short;
        self.ioctl(libc::SIOCSIFFLAGS, &mut r)
    }

    /// Whether the interface is administratively up and has carrier (`IFF_UP | IFF_RUNNING`).
    pub(crate) fn is_running(&self) -> bool {
        let want = (libc::IFF_UP | libc::IFF_RUNNING) as u32;
        self.flags().is_ok_and(|f| f & want == want)
    }

    /// The link as the interface has it: down unless it is up with carrier; speed, duplex and
    /// autonegotiation from ethtool (speed 0, full duplex and no autonegotiation when ethtool
    /// does not say).
    pub(crate) fn link(&self) -> crate::Link {
        if !self.is_running() {
            return crate::Link::default();
        }
        let ls = self.link_settings().ok().flatten();
        crate::Link {
            speed: ls.map_or(0, |l| l.speed),
            full_duplex: ls.is_none_or(|l| l.full_duplex),
            autoneg: ls.is_some_and(|l| l.autoneg),
            up: true,
        }
    }

    /// The hardware type (`ARPHRD_ETHER`, `ARPHRD_LOOPBACK`, ...) and address
    /// (`SIOCGIFHWADDR`).
    pub(crate) fn hwaddr(&self) -> io::Result<(u16, MacAddr)> {
        let mut r = ifreq(&self.name);
        self.ioctl(libc::SIOCGIFHWADDR, &mut r)?;
        // SAFETY: SIOCGIFHWADDR filled the hwaddr member.
        let sa = unsafe { r.ifr_ifru.ifru_hwaddr };
        let mut mac = [0u8; 6];
        for (d, s) in mac.iter_mut().zip(sa.sa_data) {
            *d = s as u8;
        }
        Ok((sa.sa_family, MacAddr(mac)))
    }

    /// The hardware address (`SIOCGIFHWADDR`).
    pub(crate) fn mac(&self) -> io::Result<MacAddr> {
        self.hwaddr().map(|(_, mac)| mac)
    }

    /// Sets the hardware address (`SIOCSIFHWADDR`).
    pub(crate) fn set_mac(&self, mac: MacAddr) -> io::Result<()> {
        let mut r = ifreq(&self.name);
        // SAFETY: sockaddr is plain data; all-zero is valid.
        let mut sa: libc::sockaddr = unsafe { std::mem::zeroed() };
        sa.sa_family = libc::ARPHRD_ETHER;
        for (d, s) in sa.sa_data.iter_mut().zip(mac.0) {
            *d = s as libc::c_char;
        }
        r.ifr_ifru.ifru_hwaddr = sa;
        self.ioctl(libc::SIOCSIFHWADDR, &mut r)
    }

    /// The MTU (`SIOCGIFMTU`).
    pub(crate) fn mtu(&self) -> io::Result<u32> {
        let mut r = ifreq(&self.name);
        self.ioctl(libc::SIOCGIFMTU, &mut r)?;
        // SAFETY: SIOCGIFMTU filled the mtu member.
        Ok(unsafe { r.ifr_ifru.ifru_mtu } as u32)
    }

    /// Sets the MTU (`SIOCSIFMTU`).
    pub(crate) fn set_mtu(&self, mtu: u32) -> io::Result<()> {
        let mut r = ifreq(&self.name);
        r.ifr_ifru.ifru_mtu = mtu as libc::c_int;
        self.ioctl(libc::SIOCSIFMTU, &mut r)
    }

    /// Speed, duplex and autonegotiation, from ethtool (`ETHTOOL_GSET`); `None` when the driver
    /// does not know its speed (no carrier, or a virtual device without one).
    pub(crate) fn link_settings(&self) -> io::Result<Option<LinkSettings>> {
        let mut cmd = EthtoolCmd {
            cmd: ETHTOOL_GSET,
            ..EthtoolCmd::default()
        };
        let mut r = ifreq(&self.name);
        r.ifr_ifru.ifru_data = (&mut cmd as *mut EthtoolCmd).cast();
        // SAFETY: SIOCETHTOOL reads `r` and reads and writes the `struct ethtool_cmd` its data
        // member points to: `cmd`, of the kernel's layout (see the test), alive and not
        // otherwise borrowed during the call.
        let rc = unsafe {
            libc::ioctl(
                self.sock.as_raw_fd(),
                libc::SIOCETHTOOL as _,
                &mut r as *mut libc::ifreq,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let speed = (cmd.speed_hi as u32) << 16 | cmd.speed as u32;
        // SPEED_UNKNOWN is -1, in 32 bits or in the low 16 alone.
        if speed == 0 || speed == u32::MAX || speed == u16::MAX as u32 {
            return Ok(None);
        }
        Ok(Some(LinkSettings {
            speed,
            full_duplex: cmd.duplex == DUPLEX_FULL,
            autoneg: cmd.autoneg == AUTONEG_ENABLE,
        }))
    }

    /// The receive queues the interface has (ethtool's `ETHTOOL_GCHANNELS`: its RX and
    /// combined channels); `None` when the driver does not answer.
    pub(crate) fn rx_queues(&self) -> Option<u32> {
        let mut ch = EthtoolChannels {
            cmd: ETHTOOL_GCHANNELS,
            ..EthtoolChannels::default()
        };
        let mut r = ifreq(&self.name);
        r.ifr_ifru.ifru_data = (&mut ch as *mut EthtoolChannels).cast();
        // SAFETY: SIOCETHTOOL reads `r` and writes the `struct ethtool_channels` its data
        // member points to: `ch`, of the kernel's layout, alive during the call.
        let rc = unsafe {
            libc::ioctl(
                self.sock.as_raw_fd(),
                libc::SIOCETHTOOL as _,
                &mut r as *mut libc::ifreq,
            )
        };
        (rc == 0).then_some(ch.rx_count + ch.combined_count)
    }
}

const ETHTOOL_GCHANNELS: u32 = 0x3c;

/// `struct ethtool_channels`.
#[repr(C)]
#[derive(Default)]
struct EthtoolChannels {
    cmd: u32,
    max_rx: u32,
    max_tx: u32,
    max_other: u32,
    max_combined: u32,
    rx_count: u32,
    tx_count: u32,
    other_count: u32,
    combined_count: u32,
}

/// An interface's link as ethtool reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LinkSettings {
    /// Mbit/s.
    pub speed: u32,
    /// Full duplex (else half).
    pub full_duplex: bool,
    /// Autonegotiation on.
    pub autoneg: bool,
}

const ETHTOOL_GSET: u32 = 1;
const DUPLEX_FULL: u8 = 1;
const AUTONEG_ENABLE: u8 = 1;

/// `struct ethtool_cmd` (the legacy link settings, which every driver still answers).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_as_the_kernel_does() {
        for good in ["dtap0", "dtap%d", "a23456789012345", "...", "a.b", "é-0"] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("", "it is empty"),
            ("a234567890123456", "it has 16 bytes, at most 15 fit"),
            ("éééééééé", "it has 16 bytes"),
            (".", "'.' and '..' are reserved"),
            ("..", "'.' and '..' are reserved"),
            ("a/b", "it holds '/'"),
            ("a:b", "it holds ':'"),
            ("a b", "it holds ' '"),
            ("a\tb", "it holds '\\t'"),
            ("a\x0bb", "it holds '\\u{b}'"),
            ("a\0b", "it holds '\\0'"),
            ("\u{a0}x", "(U+00A0), whose UTF-8 has byte 0xa0"),
            ("à", "it holds 'à' (U+00E0)"),
        ] {
            let e = check_name(bad).unwrap_err();
            let name = format!("'{}' is not a valid interface name: ", bad.escape_debug());
            assert!(e.starts_with(&name) && e.contains(why), "{bad:?}: {e}");
        }
    }

    #[test]
    fn loopback_is_visible() {
        let lo = NetIf::new("lo").unwrap();
        assert!(lo.index().unwrap() > 0);
        assert!(lo.flags().unwrap() & libc::IFF_LOOPBACK as u32 != 0);
        assert!(lo.mtu().unwrap() >= 1500);
        let (hwtype, mac) = lo.hwaddr().unwrap();
        assert_eq!(hwtype, libc::ARPHRD_LOOPBACK);
        assert_eq!(mac, MacAddr([0; 6]));
        assert_eq!(lo.mac().unwrap(), mac);
        let missing = NetIf::new("rpdk-none0").unwrap();
        assert_eq!(
            missing.index().unwrap_err().raw_os_error(),
            Some(libc::ENODEV)
        );
        assert!(!missing.is_running());
        assert_eq!(
            missing.link_settings().unwrap_err().raw_os_error(),
            Some(libc::ENODEV)
        );
    }

    #[test]
    fn ethtool_cmd_has_the_kernel_layout() {
        assert_eq!(std::mem::size_of::<EthtoolCmd>(), 44);
    }
}
