//! Physical addresses from `/proc/self/pagemap`.

use std::fs::File;
use std::os::unix::fs::FileExt;

const PAGEMAP_PAGE: usize = 4096;
const PFN_MASK: u64 = (1 << 55) - 1;
const PRESENT: u64 = 1 << 63;

/// An open `/proc/self/pagemap`.
pub struct Pagemap(File);

impl Pagemap {
    /// Opens this process's pagemap.
    pub fn open() -> std::io::Result<Pagemap> {
        File::open("/proc/self/pagemap").map(Pagemap)
    }

    /// The physical address of virtual address `va`, if its page is present and the process may
    /// see page frame numbers (CAP_SYS_ADMIN; others read zeros).
    pub fn phys(&self, va: usize) -> Option<u64> {
        let mut entry = [0u8; 8];
        let offset = (va / PAGEMAP_PAGE * 8) as u64;
        self.0.read_exact_at(&mut entry, offset).ok()?;
        let entry = u64::from_le_bytes(entry);
        let pfn = entry & PFN_MASK;
        if entry & PRESENT == 0 || pfn == 0 {
            return None;
        }
        Some(pfn * PAGEMAP_PAGE as u64 + (va % PAGEMAP_PAGE) as u64)
    }
}

/// Whether this process can read physical addresses (DPDK's `rte_eal_using_phys_addrs`).
pub fn phys_addrs_available() -> bool {
    let probe = Box::new(0u64);
    // Touch the value so its page is present.
    let addr = std::hint::black_box(&*probe) as *const u64 as usize;
    Pagemap::open().ok().and_then(|p| p.phys(addr)).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn physical_addresses_keep_the_page_offset() {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        if !root {
            assert!(!phys_addrs_available(), "non-root must not see page frames");
            return;
        }
        let buf = vec![7u8; 3 * PAGEMAP_PAGE];
        let pm = Pagemap::open().unwrap();
        let va = std::hint::black_box(&buf[PAGEMAP_PAGE + 123]) as *const u8 as usize;
        if let Some(pa) = pm.phys(va) {
            assert_eq!(pa % PAGEMAP_PAGE as u64, (va % PAGEMAP_PAGE) as u64);
            assert!(phys_addrs_available());
        }
    }
}
