//! Finding hugetlbfs mounts, their page sizes and free pages, and removing stale hugepage files.

use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// How to reserve hugepages, for error messages.
pub const HOW_TO_RESERVE: &str = "reserve some with `scripts/hugepages.sh --setup 512M` \
     (or as root: `echo 256 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages`), \
     or run with --no-huge";

/// A hugetlbfs mount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HugeMount {
    /// Mount point.
    pub path: PathBuf,
    /// Page size in bytes.
    pub page_size: usize,
}

/// The kernel's default hugepage size (`Hugepagesize` in /proc/meminfo).
pub fn default_page_size() -> Option<usize> {
    let meminfo = fs::read_to_string("/proc/meminfo").ok()?;
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("Hugepagesize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map(|kb| kb * 1024)
}

/// Parses a size such as `2M`, `1G`, `2048k`.
fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1 << 10),
        'm' | 'M' => (&s[..s.len() - 1], 1 << 20),
        'g' | 'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<usize>().ok().map(|n| n * mult)
}

/// Every hugetlbfs mount in /proc/mounts.
pub fn mounts() -> Vec<HugeMount> {
    let Ok(text) = fs::read_to_string("/proc/mounts") else {
        return Vec::new();
    };
    let default = default_page_size();
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 4 || f[2] != "hugetlbfs" {
                return None;
            }
            let page_size = f[3]
                .split(',')
                .find_map(|o| o.strip_prefix("pagesize="))
                .and_then(parse_size)
                .or(default)?;
            Some(HugeMount {
                path: PathBuf::from(unescape_mount_path(f[1])),
                page_size,
            })
        })
        .collect()
}

fn unescape_mount_path(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\134", "\\")
}

/// The mount to use: the one holding `huge_dir` if given, else the one with the default page
/// size, else the first.
pub fn find_mount(huge_dir: Option<&Path>) -> Result<HugeMount> {
    let all = mounts();
    if let Some(dir) = huge_dir {
        let canon = fs::canonicalize(dir)
            .map_err(|e| Error::Hugepages(format!("--huge-dir {}: {e}", dir.display())))?;
        let mount = all
            .iter()
            .filter(|m| canon.starts_with(&m.path))
            .max_by_key(|m| m.path.as_os_str().len())
            .ok_or_else(|| {
                Error::Hugepages(format!(
                    "--huge-dir {}: not on a hugetlbfs mount (mount one with \
                     `mount -t hugetlbfs nodev {}`)",
                    dir.display(),
                    dir.display()
                ))
            })?;
        return Ok(HugeMount {
            path: canon,
            page_size: mount.page_size,
        });
    }
    let default = default_page_size();
    all.iter()
        .find(|m| Some(m.page_size) == default)
        .or(all.first())
        .cloned()
        .ok_or_else(|| {
            Error::Hugepages(format!(
                "no hugetlbfs mount found in /proc/mounts: {}",
                HOW_TO_RESERVE.replace("reserve some", "mount hugetlbfs and reserve pages")
            ))
        })
}

fn sysfs_dir(page_size: usize) -> PathBuf {
    PathBuf::from(format!(
        "/sys/kernel/mm/hugepages/hugepages-{}kB",
        page_size / 1024
    ))
}

fn read_count(path: PathBuf) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Hugepages of `page_size` that are free and not reserved by another mapping.
pub fn available_pages(page_size: usize) -> u64 {
    let dir = sysfs_dir(page_size);
    let free = read_count(dir.join("free_hugepages")).unwrap_or(0);
    let resv = read_count(dir.join("resv_hugepages")).unwrap_or(0);
    free.saturating_sub(resv)
}

/// Hugepages of `page_size` the kernel holds in its pool (`nr_hugepages`).
pub fn total_pages(page_size: usize) -> u64 {
    read_count(sysfs_dir(page_size).join("nr_hugepages")).unwrap_or(0)
}

/// Fails with the way to reserve pages when none of `page_size` is available.
pub fn check_available(page_size: usize) -> Result<()> {
    if available_pages(page_size) == 0 {
        return Err(Error::Hugepages(format!(
            "no free {} kB hugepages ({} reserved in all): {HOW_TO_RESERVE}",
            page_size / 1024,
            total_pages(page_size)
        )));
    }
    Ok(())
}

/// The name of hugepage file `n` of a prefix: `rpdkmap_0`.
pub fn file_name(prefix: &str, n: u32) -> String {
    format!("{prefix}map_{n}")
}

/// Removes hugepage files of `prefix` in `dir` that no running process holds (each live file is
/// locked by its owner with a shared `flock`). Returns how many were removed.
pub fn remove_stale_files(dir: &Path, prefix: &str) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let stem = format!("{prefix}map_");
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(&stem)) else {
            continue;
        };
        if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(file) = fs::OpenOptions::new().read(true).open(e.path()) else {
            continue;
        };
        // SAFETY: flock on a file descriptor we own; no memory is involved.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if locked == 0 && fs::remove_file(e.path()).is_ok() {
            log::info!(target: "lib.eal", "removed stale hugepage file {}", e.path().display());
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2M"), Some(2 << 20));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("2048k"), Some(2 << 20));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn names() {
        assert_eq!(file_name("rpdk", 0), "rpdkmap_0");
    }

    #[test]
    fn stale_files_go_and_locked_ones_stay() {
        let dir = std::env::temp_dir().join(format!("rpdk-stale-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("tstmap_0"), b"").unwrap();
        fs::write(dir.join("tstmap_1"), b"").unwrap();
        fs::write(dir.join("tstmap_x"), b"").unwrap();
        fs::write(dir.join("othermap_0"), b"").unwrap();
        let held = fs::File::open(dir.join("tstmap_1")).unwrap();
        // SAFETY: flock on an fd we own.
        assert_eq!(unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_SH) }, 0);
        assert_eq!(remove_stale_files(&dir, "tst"), 1);
        assert!(!dir.join("tstmap_0").exists());
        assert!(dir.join("tstmap_1").exists());
        assert!(dir.join("tstmap_x").exists());
        assert!(dir.join("othermap_0").exists());
        drop(held);
        fs::remove_dir_all(&dir).unwrap();
    }
}
