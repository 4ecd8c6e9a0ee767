//! The `bpf()` system call, for what `net_af_xdp` needs of it: an `XSKMAP`, the XDP program
//! loaded from its instructions, and the XDP link that attaches it to an interface (and
//! detaches it when the link's descriptor closes, also when the process dies). The attribute
//! layouts are those of the kernel's `linux/bpf.h` (`union bpf_attr`), written out here: no
//! libbpf.

use std::ffi::c_void;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::program::Insn;

const BPF_MAP_CREATE: i32 = 0;
const BPF_MAP_UPDATE_ELEM: i32 = 2;
const BPF_MAP_DELETE_ELEM: i32 = 3;
const BPF_PROG_LOAD: i32 = 5;
const BPF_LINK_CREATE: i32 = 28;

/// `BPF_MAP_TYPE_ARRAY`: global data of a program.
const BPF_MAP_TYPE_ARRAY: u32 = 2;
/// `BPF_MAP_TYPE_XSKMAP`: AF_XDP sockets by queue index.
const BPF_MAP_TYPE_XSKMAP: u32 = 17;
/// `BPF_PROG_TYPE_XDP`.
const BPF_PROG_TYPE_XDP: u32 = 6;
/// `BPF_XDP`, the attach type of an XDP link.
const BPF_XDP: u32 = 37;
/// `BPF_ANY`: create or replace a map element.
const BPF_ANY: u64 = 0;

/// `XDP_FLAGS_SKB_MODE`: generic XDP, on the kernel's socket buffers.
pub(super) const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
/// `XDP_FLAGS_DRV_MODE`: native XDP, in the driver.
pub(super) const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;

/// `union bpf_attr`, as a zeroed block of its largest size this module fills field by field
/// (the kernel requires the bytes it does not know to be zero).
#[repr(C, align(8))]
struct Attr([u8; 128]);

impl Attr {
    fn new() -> Attr {
        Attr([0; 128])
    }

    fn u32_at(&mut self, off: usize, v: u32) -> &mut Self {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }

    fn u64_at(&mut self, off: usize, v: u64) -> &mut Self {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }

    fn name_at(&mut self, off: usize, name: &str) -> &mut Self {
        // BPF_OBJ_NAME_LEN is 16 with the NUL.
        for (d, s) in self.0[off..off + 15].iter_mut().zip(name.bytes()) {
            *d = s;
        }
        self
    }
}

fn bpf(cmd: i32, attr: &mut Attr) -> io::Result<i64> {
    // SAFETY: `attr` is a valid, initialised bpf_attr of the size passed; the pointers in it
    // (instructions, license, log, keys, values) point to memory the caller keeps alive and
    // sized for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut Attr as *mut c_void,
            std::mem::size_of::<Attr>() as u32,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn fd_of(rc: i64) -> OwnedFd {
    // SAFETY: the kernel returned a fresh descriptor that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(rc as i32) }
}

/// An `XSKMAP` of `entries` slots (one per interface queue), named `name`.
pub(super) fn xskmap(name: &str, entries: u32) -> io::Result<OwnedFd> {
    let mut a = Attr::new();
    a.u32_at(0, BPF_MAP_TYPE_XSKMAP)
        .u32_at(4, 4)
        .u32_at(8, 4)
        .u32_at(12, entries)
        .name_at(28, name);
    bpf(BPF_MAP_CREATE, &mut a).map(fd_of)
}

/// An array map of one element of `value_size` bytes, named `name` (a program's global data).
pub(super) fn data_map(name: &str, value_size: u32) -> io::Result<OwnedFd> {
    let mut a = Attr::new();
    a.u32_at(0, BPF_MAP_TYPE_ARRAY)
        .u32_at(4, 4)
        .u32_at(8, value_size.max(1))
        .u32_at(12, 1)
        .name_at(28, name);
    bpf(BPF_MAP_CREATE, &mut a).map(fd_of)
}

/// Writes `value` (the map's value size) into element 0 of array map `map`.
pub(super) fn map_set_bytes(map: &OwnedFd, value: &[u8]) -> io::Result<()> {
    let key = 0u32;
    let mut a = Attr::new();
    a.u32_at(0, map.as_raw_fd() as u32)
        .u64_at(8, &key as *const u32 as u64)
        .u64_at(16, value.as_ptr() as u64)
        .u64_at(24, BPF_ANY);
    bpf(BPF_MAP_UPDATE_ELEM, &mut a).map(drop)
}

/// Puts socket `xsk_fd` in slot `key` of map `map`.
pub(super) fn map_set(map: &OwnedFd, key: u32, xsk_fd: i32) -> io::Result<()> {
    let value = xsk_fd as u32;
    let mut a = Attr::new();
    a.u32_at(0, map.as_raw_fd() as u32)
        .u64_at(8, &key as *const u32 as u64)
        .u64_at(16, &value as *const u32 as u64)
        .u64_at(24, BPF_ANY);
    bpf(BPF_MAP_UPDATE_ELEM, &mut a).map(drop)
}

/// Empties slot `key` of map `map` (no error if it was empty).
pub(super) fn map_clear(map: &OwnedFd, key: u32) -> io::Result<()> {
    let mut a = Attr::new();
    a.u32_at(0, map.as_raw_fd() as u32)
        .u64_at(8, &key as *const u32 as u64);
    match bpf(BPF_MAP_DELETE_ELEM, &mut a) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        r => r.map(drop),
    }
}

/// Loads XDP program `insns` named `name` under `license`; on a refusal, the error carries
/// the verifier's log.
pub(super) fn load_xdp(name: &str, insns: &[Insn], license: &str) -> io::Result<OwnedFd> {
    let license = std::ffi::CString::new(license)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a license with a NUL byte"))?;
    let mut log = vec![0u8; 64 << 10];
    let mut a = Attr::new();
    a.u32_at(0, BPF_PROG_TYPE_XDP)
        .u32_at(4, insns.len() as u32)
        .u64_at(8, insns.as_ptr() as u64)
        .u64_at(16, license.as_ptr() as u64)
        .u32_at(24, 1)
        .u32_at(28, log.len() as u32)
        .u64_at(32, log.as_mut_ptr() as u64)
        .name_at(48, name)
        .u32_at(68, BPF_XDP);
    bpf(BPF_PROG_LOAD, &mut a).map(fd_of).map_err(|e| {
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        let text = String::from_utf8_lossy(&log[..end]);
        if text.trim().is_empty() {
            e
        } else {
            io::Error::new(e.kind(), format!("{e}; verifier log: {}", text.trim()))
        }
    })
}

/// Attaches program `prog` to interface `ifindex` with `flags` (the XDP mode) through a link,
/// which the kernel detaches when the returned descriptor closes.
pub(super) fn link_xdp(prog: &OwnedFd, ifindex: u32, flags: u32) -> io::Result<OwnedFd> {
    let mut a = Attr::new();
    a.u32_at(0, prog.as_raw_fd() as u32)
        .u32_at(4, ifindex)
        .u32_at(8, BPF_XDP)
        .u32_at(12, flags);
    bpf(BPF_LINK_CREATE, &mut a).map(fd_of)
}
