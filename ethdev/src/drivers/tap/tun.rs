//! TAP queues through `/dev/net/tun`: each open file attached with `TUNSETIFF` and
//! `IFF_MULTI_QUEUE` is one queue of the device; the device lives while any queue is open.
//!
//! Queue files are opened non-blocking and read and written with `readv`/`writev` through
//! [`std::fs::File`]; the only `unsafe` here is for the two `ioctl`s that attach and detach a
//! queue (the calls and a zeroed `ifreq`).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;

use crate::drivers::netif;

const TUN_PATH: &str = "/dev/net/tun";

/// Size of the packet information header (`struct tun_pi`) before each frame.
pub(crate) const PI_LEN: usize = 4;

/// `tun_pi.flags` bit: the frame did not fit the buffers given to `read` and was cut.
pub(crate) const PKT_STRIP: u16 = libc::TUN_PKT_STRIP as u16;

fn ioctl(file: &File, req: libc::Ioctl, arg: *mut libc::c_void) -> io::Result<()> {
    // SAFETY: the callers pass TUN requests with an argument of the type the request expects,
    // alive for the call.
    if unsafe { libc::ioctl(file.as_raw_fd(), req, arg) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Opens a queue of TAP device `name` (a `%d` pattern lets the kernel pick the number),
/// creating the device when it does not exist, and returns it with the device's actual name.
///
/// Frames are read and written with a [`PI_LEN`]-byte header (no `IFF_NO_PI`), so that a frame
/// cut short by small buffers is flagged ([`PKT_STRIP`]) instead of silently truncated. A
/// `detached` queue keeps the device alive but receives no traffic (DPDK's keep-alive queue).
pub(crate) fn open_queue(name: &str, detached: bool) -> io::Result<(File, String)> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(TUN_PATH)
        .map_err(|e| io::Error::new(e.kind(), format!("opening {TUN_PATH}: {e}")))?;
    let mut features: libc::c_uint = 0;
    ioctl(
        &file,
        libc::TUNGETFEATURES,
        (&mut features as *mut libc::c_uint).cast(),
    )?;
    if features & libc::IFF_MULTI_QUEUE as libc::c_uint == 0 {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the kernel's TUN driver has no multi-queue support (IFF_MULTI_QUEUE)",
        ));
    }
    let mut req = netif::ifreq(name);
    req.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_MULTI_QUEUE) as libc::c_short;
    ioctl(
        &file,
        libc::TUNSETIFF,
        (&mut req as *mut libc::ifreq).cast(),
    )
    .map_err(|e| io::Error::new(e.kind(), format!("TUNSETIFF {name}: {e}")))?;
    let actual: Vec<u8> = req
        .ifr_name
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    let actual = String::from_utf8_lossy(&actual).into_owned();
    if detached {
        // SAFETY: ifreq is plain data; all-zero is valid.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        req.ifr_ifru.ifru_flags = libc::IFF_DETACH_QUEUE as libc::c_short;
        ioctl(
            &file,
            libc::TUNSETQUEUE,
            (&mut req as *mut libc::ifreq).cast(),
        )
        .map_err(|e| io::Error::new(e.kind(), format!("detaching the keep-alive queue: {e}")))?;
    }
    Ok((file, actual))
}

/// Whether an I/O error says the queue's device is gone for good (`EBADFD`: the TUN file was
/// detached when the interface was deleted).
pub(crate) fn is_gone(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EBADFD | libc::ENODEV | libc::ENXIO)
    )
}
