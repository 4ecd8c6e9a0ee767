//! A region of virtual memory that grows by whole pages: the raw mappings under a heap.
//!
//! A region reserves a large range of address space at once (`PROT_NONE`, no memory behind it)
//! and maps pages at its start as the heap grows, so the heap stays virtually contiguous. Pages
//! come from one file on hugetlbfs (DPDK's `--single-file-segments`), from anonymous
//! `MAP_HUGETLB` memory (`--in-memory`) or from anonymous 4 KiB pages (`--no-huge`). Every page is
//! populated when mapped, and its IOVA recorded.

use std::fs::{self, File, OpenOptions};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::ptr::NonNull;

use crate::error::{Error, Result};
use crate::options::IovaMode;

/// Alignment of every region's start: the largest alignment a memzone can ask for.
pub const BASE_ALIGN: usize = 1 << 30;

/// Where a region's pages come from.
#[derive(Debug)]
pub enum Backing {
    /// A file on hugetlbfs, locked shared while we use it.
    File {
        /// Its path.
        path: PathBuf,
        /// The open file.
        file: File,
        /// Whether it is still linked in the directory.
        linked: bool,
    },
    /// Anonymous hugepages (`MAP_HUGETLB`).
    AnonHuge,
    /// 4 KiB pages of a memfd (`--no-huge`), which secondaries map too.
    Memfd(File),
    /// The primary's file or memfd, mapped by a secondary: never resized here.
    Attached(File),
}

/// A reserved address range with a mapped, populated prefix.
#[derive(Debug)]
pub struct Region {
    base: NonNull<u8>,
    reserved: usize,
    mapped: usize,
    page_size: usize,
    backing: Backing,
    iova_mode: IovaMode,
    numa_node: Option<u32>,
    /// IOVA of each mapped page.
    iovas: Vec<u64>,
}

// SAFETY: a Region owns its mappings; the raw base pointer is only an address, and every method
// that touches the mapping takes `&mut self` or reads immutable bookkeeping.
unsafe impl Send for Region {}
// SAFETY: see Send; shared access only reads bookkeeping.
unsafe impl Sync for Region {}

impl Region {
    /// Maps, in a secondary, the heap a primary has at `base`: reserves the same range (failing,
    /// naming it, when something of this process is there) over the primary's `file`, whose
    /// first `mapped` bytes are mapped now.
    pub fn attach(
        base: usize,
        reserve: usize,
        page_size: usize,
        file: File,
        iova_mode: IovaMode,
        socket: u32,
    ) -> Result<Region> {
        // SAFETY: MAP_FIXED_NOREPLACE never replaces a mapping: it fails with EEXIST when the
        // range is taken. Kernels before 4.17 take it as a hint, hence the address check.
        let raw = unsafe {
            libc::mmap(
                base as *mut libc::c_void,
                reserve,
                libc::PROT_NONE,
                libc::MAP_PRIVATE
                    | libc::MAP_ANONYMOUS
                    | libc::MAP_NORESERVE
                    | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        let taken = |why: String| {
            Error::Memory(format!(
                "cannot map the primary's heap of socket {socket} at {base:#x}-{:#x} in this \
                 process: {why}; start the primary with --base-virtaddr at a range free in both",
                base + reserve
            ))
        };
        if raw == libc::MAP_FAILED {
            let e = std::io::Error::last_os_error();
            return Err(taken(match e.raw_os_error() {
                Some(libc::EEXIST) => "the range is in use here".to_string(),
                _ => e.to_string(),
            }));
        }
        if raw as usize != base {
            // SAFETY: unmapping the mapping we just made elsewhere.
            unsafe { libc::munmap(raw, reserve) };
            return Err(taken(format!(
                "the kernel placed it at {:#x}",
                raw as usize
            )));
        }
        Ok(Region {
            base: NonNull::new(raw.cast()).expect("mmap returned a non-null address"),
            reserved: reserve,
            mapped: 0,
            page_size,
            backing: Backing::Attached(file),
            iova_mode,
            numa_node: None,
            iovas: Vec::new(),
        })
    }

    /// The file or memfd under the pages, for a secondary to map (none for anonymous hugepages).
    pub fn shareable_file(&self) -> Option<&File> {
        match &self.backing {
            Backing::File { file, .. } | Backing::Memfd(file) | Backing::Attached(file) => {
                Some(file)
            }
            Backing::AnonHuge => None,
        }
    }

    /// Reserves `reserve` bytes of address space aligned to [`BASE_ALIGN`] (so that offsets
    /// aligned within the region are aligned in absolute terms too), at `hint` (rounded up to
    /// that alignment) if the kernel can place it there.
    pub fn new(
        reserve: usize,
        page_size: usize,
        backing: Backing,
        iova_mode: IovaMode,
        numa_node: Option<u32>,
        hint: Option<usize>,
        warn_if_moved: bool,
    ) -> Result<Region> {
        let reserve = reserve.next_multiple_of(page_size);
        let base_align = BASE_ALIGN.max(page_size);
        let len = reserve + base_align;
        let want = hint.and_then(|h| h.checked_next_multiple_of(base_align));
        // SAFETY: a fresh anonymous PROT_NONE mapping; without MAP_FIXED the address is only a
        // hint, so it touches no existing memory.
        let raw = unsafe {
            libc::mmap(
                want.unwrap_or(0) as *mut libc::c_void,
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return Err(Error::last_os(format!(
                "reserving {} MiB of address space",
                reserve >> 20
            )));
        }
        let start = raw as usize;
        let aligned = start.next_multiple_of(base_align);
        let head = aligned - start;
        let tail = len - head - reserve;
        // SAFETY: trimming the unaligned head and tail of the mapping we just made.
        unsafe {
            if head > 0 {
                libc::munmap(raw, head);
            }
            if tail > 0 {
                libc::munmap((aligned + reserve) as *mut libc::c_void, tail);
            }
        }
        if let Some(w) = want
            && w != aligned
            && warn_if_moved
        {
            log::warn!(
                target: "lib.eal",
                "--base-virtaddr: {w:#x} is taken, the heap is at {aligned:#x} instead"
            );
        }
        Ok(Region {
            base: NonNull::new(aligned as *mut u8).expect("mmap returned a non-null address"),
            reserved: reserve,
            mapped: 0,
            page_size,
            backing,
            iova_mode,
            numa_node,
            iovas: Vec::new(),
        })
    }

    /// Start of the region.
    pub fn base(&self) -> NonNull<u8> {
        self.base
    }

    /// Bytes of address space reserved.
    pub fn reserved(&self) -> usize {
        self.reserved
    }

    /// Bytes mapped.
    pub fn mapped(&self) -> usize {
        self.mapped
    }

    /// The page size.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// The backing file's path, if any and still linked.
    pub fn file_path(&self) -> Option<&PathBuf> {
        match &self.backing {
            Backing::File {
                path, linked: true, ..
            } => Some(path),
            _ => None,
        }
    }

    /// Whether `addr` lies in the mapped part.
    pub fn contains(&self, addr: usize) -> bool {
        let b = self.base.as_ptr() as usize;
        addr >= b && addr < b + self.mapped
    }

    /// IOVA of the byte at `offset` from the base (which must be mapped).
    pub fn iova_at(&self, offset: usize) -> u64 {
        match self.iova_mode {
            IovaMode::Va => self.base.as_ptr() as u64 + offset as u64,
            IovaMode::Pa => self.iovas[offset / self.page_size] + (offset % self.page_size) as u64,
        }
    }

    /// IOVA of each mapped page, in order.
    pub fn page_iovas(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.mapped / self.page_size).map(|i| self.iova_at(i * self.page_size))
    }

    /// Maps `bytes` more (rounded up to pages) at the end of the mapped part.
    pub fn grow(&mut self, bytes: usize) -> Result<()> {
        let bytes = bytes.next_multiple_of(self.page_size);
        if self.mapped + bytes > self.reserved {
            return Err(Error::Memory(format!(
                "{} MiB more would pass the {} MiB one heap can hold ({} MiB mapped)",
                bytes.div_ceil(1 << 20),
                self.reserved >> 20,
                self.mapped >> 20
            )));
        }
        let addr = self.base.as_ptr() as usize + self.mapped;
        let policy = NumaPolicy::prefer(self.numa_node);
        let mut flags = libc::MAP_FIXED;
        let mut fd = -1;
        match &self.backing {
            Backing::File { file, path, .. } => {
                // Allocate the pages first: a clean error now instead of SIGBUS on first touch.
                // SAFETY: fallocate on our own open file.
                let rc = unsafe {
                    libc::fallocate(file.as_raw_fd(), 0, self.mapped as i64, bytes as i64)
                };
                if rc != 0 {
                    let e = std::io::Error::last_os_error();
                    return Err(Error::Hugepages(format!(
                        "cannot allocate {} MiB of hugepages in {}: {e} ({} free {} kB pages): {}",
                        bytes >> 20,
                        path.display(),
                        super::hugetlbfs::available_pages(self.page_size),
                        self.page_size >> 10,
                        super::hugetlbfs::HOW_TO_RESERVE
                    )));
                }
                flags |= libc::MAP_SHARED | libc::MAP_POPULATE;
                fd = file.as_raw_fd();
            }
            Backing::AnonHuge => {
                let shift = self.page_size.trailing_zeros() as i32;
                flags |= libc::MAP_SHARED
                    | libc::MAP_ANONYMOUS
                    | libc::MAP_HUGETLB
                    | libc::MAP_POPULATE
                    | (shift << libc::MAP_HUGE_SHIFT);
            }
            Backing::Memfd(file) => {
                // SAFETY: growing our own memfd.
                if unsafe { libc::ftruncate(file.as_raw_fd(), (self.mapped + bytes) as i64) } != 0 {
                    return Err(Error::last_os(format!(
                        "growing the memfd by {} KiB",
                        bytes >> 10
                    )));
                }
                flags |= libc::MAP_SHARED | libc::MAP_POPULATE;
                fd = file.as_raw_fd();
            }
            Backing::Attached(file) => {
                flags |= libc::MAP_SHARED | libc::MAP_POPULATE;
                fd = file.as_raw_fd();
            }
        }
        let offset = if fd >= 0 { self.mapped as i64 } else { 0 };
        // SAFETY: the target range lies inside our PROT_NONE reservation (checked above), so
        // MAP_FIXED replaces only memory this region owns.
        let raw = unsafe {
            libc::mmap(
                addr as *mut libc::c_void,
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                fd,
                offset,
            )
        };
        drop(policy);
        if raw == libc::MAP_FAILED {
            let e = std::io::Error::last_os_error();
            if let Backing::File { file, .. } | Backing::Memfd(file) = &self.backing {
                // SAFETY: shrinking our own file back to the mapped size.
                unsafe { libc::ftruncate(file.as_raw_fd(), self.mapped as i64) };
            }
            return Err(match self.backing {
                Backing::Memfd(_) | Backing::Attached(_) => {
                    Error::io(format!("mapping {} KiB", bytes >> 10), e)
                }
                _ => Error::Hugepages(format!(
                    "cannot map {} MiB of {} kB hugepages: {e}: {}",
                    bytes >> 20,
                    self.page_size >> 10,
                    super::hugetlbfs::HOW_TO_RESERVE
                )),
            });
        }
        let old = self.mapped;
        self.mapped += bytes;
        if self.iova_mode == IovaMode::Pa {
            let pagemap = super::iova::Pagemap::open();
            for i in 0..bytes / self.page_size {
                let va = addr + i * self.page_size;
                match pagemap.as_ref().ok().and_then(|p| p.phys(va)) {
                    Some(pa) => self.iovas.push(pa),
                    None => {
                        self.unmap_from(old);
                        return Err(Error::Memory(format!(
                            "cannot read the physical address of {va:#x} from /proc/self/pagemap \
                             (IOVA mode PA needs root); use --iova-mode=va"
                        )));
                    }
                }
            }
        }
        // Devices behind an IOMMU may use the new pages as soon as anything is placed in them.
        for i in old / self.page_size..self.mapped / self.page_size {
            let off = i * self.page_size;
            let va = self.base.as_ptr() as usize + off;
            if let Err(e) = super::vfio::dma_map(va, self.iova_at(off), self.page_size) {
                self.unmap_from(old);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Unmaps everything past `keep` bytes (rounded up to pages), returning the pages.
    pub fn shrink_to(&mut self, keep: usize) {
        let keep = keep.next_multiple_of(self.page_size);
        if keep < self.mapped {
            self.unmap_from(keep);
        }
    }

    fn unmap_from(&mut self, keep: usize) {
        let addr = self.base.as_ptr() as usize + keep;
        let len = self.mapped.max(keep) - keep;
        for off in (keep..self.mapped).step_by(self.page_size) {
            if off / self.page_size < self.iovas.len() || self.iova_mode == IovaMode::Va {
                super::vfio::dma_unmap(self.iova_at(off), self.page_size);
            }
        }
        if len > 0 {
            // SAFETY: the range is inside our reservation; replacing it with a PROT_NONE
            // mapping drops the pages and keeps the address space reserved.
            unsafe {
                libc::mmap(
                    addr as *mut libc::c_void,
                    len,
                    libc::PROT_NONE,
                    libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                );
            }
        }
        if let Backing::File { file, .. } | Backing::Memfd(file) = &self.backing {
            // SAFETY: truncating our own file frees its hugepages past `keep`.
            unsafe { libc::ftruncate(file.as_raw_fd(), keep as i64) };
        }
        self.iovas.truncate(keep / self.page_size);
        self.mapped = keep;
    }

    /// Removes the backing file from its directory (the mapping stays valid).
    pub fn unlink(&mut self) {
        if let Backing::File { path, linked, .. } = &mut self.backing
            && *linked
        {
            if let Err(e) = fs::remove_file(&*path) {
                log::warn!(target: "lib.eal", "removing {}: {e}", path.display());
            }
            *linked = false;
        }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        for off in (0..self.mapped).step_by(self.page_size) {
            super::vfio::dma_unmap(self.iova_at(off), self.page_size);
        }
        // SAFETY: unmapping the whole reservation we own; nothing references it any more
        // (every memzone holds its heap alive).
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.reserved) };
    }
}

/// A memfd for the 4 KiB pages of `--no-huge`, so that secondaries can map them too.
pub fn memfd(socket: u32) -> Result<Backing> {
    let name = std::ffi::CString::new(format!("rpdk_heap_{socket}")).expect("no NUL");
    // SAFETY: memfd_create with a NUL-terminated name and valid flags.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(Error::last_os("creating a memfd for --no-huge memory"));
    }
    // SAFETY: a descriptor we just created and own.
    Ok(Backing::Memfd(unsafe { File::from_raw_fd(fd) }))
}

/// Opens a hugepage file and locks it shared, so that another instance's stale-file cleanup
/// leaves it alone. With `reuse` (`--huge-unlink=never`) an existing file that nobody holds is
/// taken over; otherwise the file must not exist (stale ones were removed at start).
pub fn open_hugepage_file(path: PathBuf, unlink_now: bool, reuse: bool) -> Result<Backing> {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).mode(0o600);
    if reuse {
        opts.create(true).truncate(false);
    } else {
        opts.create_new(true);
    }
    let file = opts.open(&path).map_err(|e| {
        Error::Hugepages(format!(
            "cannot create hugepage file {}: {e}",
            path.display()
        ))
    })?;
    if reuse {
        // SAFETY: flock on the file we just opened.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(Error::Hugepages(format!(
                "hugepage file {} is in use by another process",
                path.display()
            )));
        }
        // SAFETY: truncating our own, exclusively locked file.
        if unsafe { libc::ftruncate(file.as_raw_fd(), 0) } != 0 {
            return Err(Error::last_os(format!("truncating {}", path.display())));
        }
    }
    // SAFETY: flock on the file we just opened (converting an exclusive lock if we hold one).
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH) } != 0 {
        return Err(Error::last_os(format!("locking {}", path.display())));
    }
    let mut linked = true;
    if unlink_now {
        fs::remove_file(&path)
            .map_err(|e| Error::io(format!("unlinking {}", path.display()), e))?;
        linked = false;
    }
    Ok(Backing::File { path, file, linked })
}

/// Sets the calling thread's memory policy to prefer a NUMA node while pages are allocated,
/// and restores the default policy when dropped.
struct NumaPolicy {
    active: bool,
}

impl NumaPolicy {
    fn prefer(node: Option<u32>) -> NumaPolicy {
        const MPOL_PREFERRED: libc::c_long = 1;
        let Some(node) = node else {
            return NumaPolicy { active: false };
        };
        if node >= 64 {
            return NumaPolicy { active: false };
        }
        let mask: u64 = 1 << node;
        // SAFETY: set_mempolicy reads `maxnode` bits from the mask we pass; 65 covers our u64.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_set_mempolicy,
                MPOL_PREFERRED,
                &mask as *const u64,
                65 as libc::c_ulong,
            )
        };
        NumaPolicy { active: rc == 0 }
    }
}

impl Drop for NumaPolicy {
    fn drop(&mut self) {
        if self.active {
            // SAFETY: MPOL_DEFAULT takes no node mask.
            unsafe {
                libc::syscall(
                    libc::SYS_set_mempolicy,
                    0 as libc::c_long,
                    std::ptr::null::<u64>(),
                    0 as libc::c_ulong,
                )
            };
        }
    }
}
