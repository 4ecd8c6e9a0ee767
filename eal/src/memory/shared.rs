//! The memory configuration the primary shares with its secondaries (DPDK's `rte_mem_config`):
//! where each heap lies and how much of it is mapped, and the memzone table. It lives in a
//! memfd the primary passes to each secondary over IPC, mapped wherever each process likes:
//! it holds addresses of hugepage memory (the same in every process, see `attach`) but no
//! pointer into itself, no heap pointer and no function pointer.
//!
//! Only the primary writes it (a secondary asks the primary to reserve or free a memzone), so
//! the table needs no lock between processes that a crashed process could leave held: heaps
//! are single atomic fields, and the memzone table is a sequence lock (odd while the primary
//! writes; readers copy and retry when it moved).

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

use crate::error::{Error, Result};
use crate::runtime::pid_alive;

/// Most heaps (NUMA nodes) the table describes.
pub const MAX_HEAPS: usize = 32;
const MAGIC: u64 = 0x7270_646b_6d63_6601; // "rpdkmcf" v1
const NAME_WORDS: usize = 4;

#[repr(C)]
struct SharedHeap {
    /// 1 + the socket, 0 while unused.
    socket: AtomicU32,
    _pad: AtomicU32,
    base: AtomicU64,
    reserved: AtomicU64,
    page_size: AtomicU64,
    mapped: AtomicU64,
}

#[repr(C)]
struct SharedZone {
    /// The zone's place in reservation order, 0 while the slot is free.
    order: AtomicU64,
    name: [AtomicU64; NAME_WORDS],
    name_len: AtomicU32,
    socket: AtomicU32,
    flags: AtomicU32,
    _pad: AtomicU32,
    addr: AtomicU64,
    iova: AtomicU64,
    len: AtomicU64,
}

#[repr(C)]
struct Layout {
    magic: AtomicU64,
    seq: AtomicU64,
    order: AtomicU64,
    /// The pid of the process running each lcore id (0: none), so that two processes never
    /// share an lcore's mempool caches.
    lcores: [AtomicU32; crate::lcore::MAX_LCORE as usize],
    heaps: [SharedHeap; MAX_HEAPS],
    zones: [SharedZone; super::memzone::MAX_MEMZONE],
}

/// A heap as the primary published it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeapInfo {
    pub socket: u32,
    pub base: usize,
    pub reserved: usize,
    pub page_size: usize,
    pub mapped: usize,
}

/// A memzone as the primary published it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneInfo {
    pub order: u64,
    pub name: String,
    pub socket: u32,
    pub flags: u32,
    pub addr: usize,
    pub iova: u64,
    pub len: usize,
}

/// The shared configuration, mapped in this process.
#[derive(Debug)]
pub struct SharedConfig {
    ptr: NonNull<Layout>,
    fd: OwnedFd,
}

// SAFETY: the mapping is only accessed through atomics.
unsafe impl Send for SharedConfig {}
// SAFETY: as above.
unsafe impl Sync for SharedConfig {}

impl SharedConfig {
    /// A new, empty configuration in a memfd (the primary).
    pub fn create() -> Result<SharedConfig> {
        // SAFETY: memfd_create with a NUL-terminated name and valid flags.
        let fd = unsafe { libc::memfd_create(c"rpdk_mem_config".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(Error::last_os("creating the shared memory configuration"));
        }
        // SAFETY: a descriptor we just created and own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        File::from(
            fd.try_clone()
                .map_err(|e| Error::io("duplicating a memfd", e))?,
        )
        .set_len(size_of::<Layout>() as u64)
        .map_err(|e| Error::io("sizing the shared memory configuration", e))?;
        let cfg = Self::map(fd)?;
        cfg.layout().magic.store(MAGIC, Ordering::Release);
        Ok(cfg)
    }

    /// Maps the configuration a primary passed (a secondary).
    pub fn open(fd: OwnedFd) -> Result<SharedConfig> {
        let size = File::from(
            fd.try_clone()
                .map_err(|e| Error::io("duplicating a memfd", e))?,
        )
        .metadata()
        .map_err(|e| Error::io("reading the shared memory configuration", e))?
        .len();
        if size != size_of::<Layout>() as u64 {
            return Err(Error::Memory(format!(
                "the primary's memory configuration has {size} bytes, this rpdk expects {}: \
                 primary and secondary must be the same rpdk version",
                size_of::<Layout>()
            )));
        }
        let cfg = Self::map(fd)?;
        if cfg.layout().magic.load(Ordering::Acquire) != MAGIC {
            return Err(Error::Memory(
                "the primary's memory configuration has another format: primary and \
                 secondary must be the same rpdk version"
                    .into(),
            ));
        }
        Ok(cfg)
    }

    fn map(fd: OwnedFd) -> Result<SharedConfig> {
        // SAFETY: a fresh shared mapping of the whole memfd, which has size_of::<Layout>()
        // bytes; no existing memory is touched.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size_of::<Layout>(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return Err(Error::last_os("mapping the shared memory configuration"));
        }
        Ok(SharedConfig {
            ptr: NonNull::new(raw.cast()).expect("mmap succeeded"),
            fd,
        })
    }

    fn layout(&self) -> &Layout {
        // SAFETY: the mapping is page aligned, lives as long as self, and every field of
        // Layout is an atomic, valid for any bit pattern (zeroes at creation).
        unsafe { self.ptr.as_ref() }
    }

    /// The memfd, to pass to a secondary.
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Records a heap's place and mapped length (the primary, under its heaps' lock).
    pub fn publish_heap(&self, h: HeapInfo) {
        let heaps = &self.layout().heaps;
        let slot = heaps
            .iter()
            .find(|s| s.socket.load(Ordering::Relaxed) == h.socket + 1)
            .or_else(|| heaps.iter().find(|s| s.socket.load(Ordering::Relaxed) == 0));
        let Some(s) = slot else {
            log::error!(target: "lib.eal", "more than {MAX_HEAPS} heaps: socket {} is not shared", h.socket);
            return;
        };
        s.base.store(h.base as u64, Ordering::Relaxed);
        s.reserved.store(h.reserved as u64, Ordering::Relaxed);
        s.page_size.store(h.page_size as u64, Ordering::Relaxed);
        s.mapped.store(h.mapped as u64, Ordering::Release);
        s.socket.store(h.socket + 1, Ordering::Release);
    }

    /// The heap of `socket`, if the primary has one.
    pub fn heap(&self, socket: u32) -> Option<HeapInfo> {
        self.layout()
            .heaps
            .iter()
            .find(|s| s.socket.load(Ordering::Acquire) == socket + 1)
            .map(|s| HeapInfo {
                socket,
                mapped: s.mapped.load(Ordering::Acquire) as usize,
                base: s.base.load(Ordering::Relaxed) as usize,
                reserved: s.reserved.load(Ordering::Relaxed) as usize,
                page_size: s.page_size.load(Ordering::Relaxed) as usize,
            })
    }

    /// Takes `lcores` for process `pid`; an lcore of a process that died is taken over. Fails
    /// with the first lcore a live process runs, and that process.
    pub fn claim_lcores(&self, lcores: &[u32], pid: u32) -> std::result::Result<(), (u32, u32)> {
        let table = &self.layout().lcores;
        for (i, &l) in lcores.iter().enumerate() {
            let Some(slot) = table.get(l as usize) else {
                continue;
            };
            loop {
                let cur = slot.load(Ordering::Acquire);
                if cur == pid {
                    break;
                }
                if cur != 0 && pid_alive(cur) {
                    for &done in &lcores[..i] {
                        let _ = table[done as usize].compare_exchange(
                            pid,
                            0,
                            Ordering::AcqRel,
                            Ordering::Relaxed,
                        );
                    }
                    return Err((l, cur));
                }
                if slot
                    .compare_exchange(cur, pid, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Gives back every lcore of `pid`.
    pub fn release_lcores(&self, pid: u32) {
        for slot in &self.layout().lcores {
            let _ = slot.compare_exchange(pid, 0, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    /// Calls `f` with each lcore id that no live process runs, holding it for `pid` meanwhile
    /// (so no process starting now takes it while `f` cleans up after the one that died).
    pub fn with_orphan_lcores(&self, pid: u32, mut f: impl FnMut(u32)) {
        for (l, slot) in self.layout().lcores.iter().enumerate() {
            let cur = slot.load(Ordering::Acquire);
            if cur == pid || (cur != 0 && pid_alive(cur)) {
                continue;
            }
            if slot
                .compare_exchange(cur, pid, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                f(l as u32);
                slot.store(0, Ordering::Release);
            }
        }
    }

    fn write(&self, f: impl FnOnce(&Layout)) {
        let l = self.layout();
        l.seq.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::Release);
        f(l);
        l.seq.fetch_add(1, Ordering::Release);
    }

    /// Adds a zone (the primary, under its memzone lock); false when the table is full.
    pub fn add_zone(&self, z: &ZoneInfo) -> bool {
        let l = self.layout();
        let Some(slot) = l
            .zones
            .iter()
            .find(|s| s.order.load(Ordering::Relaxed) == 0)
        else {
            return false;
        };
        let order = l.order.fetch_add(1, Ordering::Relaxed) + 1;
        self.write(|_| {
            let mut words = [0u8; NAME_WORDS * 8];
            words[..z.name.len()].copy_from_slice(z.name.as_bytes());
            for (i, w) in slot.name.iter().enumerate() {
                let b: [u8; 8] = words[i * 8..i * 8 + 8].try_into().expect("8 bytes");
                w.store(u64::from_le_bytes(b), Ordering::Relaxed);
            }
            slot.name_len.store(z.name.len() as u32, Ordering::Relaxed);
            slot.socket.store(z.socket, Ordering::Relaxed);
            slot.flags.store(z.flags, Ordering::Relaxed);
            slot.addr.store(z.addr as u64, Ordering::Relaxed);
            slot.iova.store(z.iova, Ordering::Relaxed);
            slot.len.store(z.len as u64, Ordering::Relaxed);
            slot.order.store(order, Ordering::Relaxed);
        });
        true
    }

    /// Removes the zone at `addr` (the primary, under its memzone lock).
    pub fn remove_zone(&self, addr: usize) {
        let l = self.layout();
        if let Some(slot) = l.zones.iter().find(|s| {
            s.order.load(Ordering::Relaxed) != 0 && s.addr.load(Ordering::Relaxed) == addr as u64
        }) {
            self.write(|_| slot.order.store(0, Ordering::Relaxed));
        }
    }

    /// Every zone, in reservation order: a consistent copy of the table.
    pub fn zones(&self) -> Vec<ZoneInfo> {
        let l = self.layout();
        loop {
            let before = l.seq.load(Ordering::Acquire);
            if before % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let mut out = Vec::new();
            for s in &l.zones {
                let order = s.order.load(Ordering::Relaxed);
                if order == 0 {
                    continue;
                }
                let mut bytes = Vec::with_capacity(NAME_WORDS * 8);
                for w in &s.name {
                    bytes.extend_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
                }
                bytes.truncate((s.name_len.load(Ordering::Relaxed) as usize).min(bytes.len()));
                out.push(ZoneInfo {
                    order,
                    name: String::from_utf8_lossy(&bytes).into_owned(),
                    socket: s.socket.load(Ordering::Relaxed),
                    flags: s.flags.load(Ordering::Relaxed),
                    addr: s.addr.load(Ordering::Relaxed) as usize,
                    iova: s.iova.load(Ordering::Relaxed),
                    len: s.len.load(Ordering::Relaxed) as usize,
                });
            }
            fence(Ordering::Acquire);
            if l.seq.load(Ordering::Relaxed) == before {
                out.sort_by_key(|z| z.order);
                return out;
            }
        }
    }
}

impl Drop for SharedConfig {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping; references into it do not outlive self.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), size_of::<Layout>()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_and_heaps_seen_through_a_second_mapping() {
        let a = SharedConfig::create().unwrap();
        let b = SharedConfig::open(a.fd().try_clone().unwrap()).unwrap();
        a.publish_heap(HeapInfo {
            socket: 0,
            base: 0x1000_0000_0000,
            reserved: 1 << 36,
            page_size: 4096,
            mapped: 8192,
        });
        assert_eq!(b.heap(0).unwrap().mapped, 8192);
        assert!(b.heap(1).is_none());
        for (i, name) in ["zone_a", "a_name_of_thirty_one_bytes_long"]
            .iter()
            .enumerate()
        {
            assert!(a.add_zone(&ZoneInfo {
                order: 0,
                name: name.to_string(),
                socket: 0,
                flags: 0,
                addr: 0x1000_0000_0000 + i * 64,
                iova: 0,
                len: 64,
            }));
        }
        let z = b.zones();
        assert_eq!(z.len(), 2);
        assert_eq!(z[1].name, "a_name_of_thirty_one_bytes_long");
        a.remove_zone(0x1000_0000_0000);
        assert_eq!(b.zones().len(), 1);
    }
}
