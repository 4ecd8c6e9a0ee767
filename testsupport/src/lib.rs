//! Helpers for rpdk's own tests (not published).
//!
//! - [`is_root`] / [`require_root`]: tests that need root (hugepages, network namespaces) say so
//!   and skip when run without it; CI runs as root.
//! - [`ensure_hugepages`]: reserves 2 MiB hugepages and mounts hugetlbfs when needed, as
//!   `scripts/hugepages.sh --setup` does.
//! - [`serial`]: the EAL is one per process, so tests of one binary that initialise it take
//!   this lock first.
//! - [`netns::NetNs`]: a network namespace per test, with veth pairs inside, entered by the
//!   test's thread.
//! - `port::PortFixture` (feature `port`): the EAL, a pool and every `--vdev` port set up and started, stopped,
//!   closed and audited on drop.
//! - [`logs::LogCapture`]: the EAL's log lines, captured for a test to assert on.
//! - [`raw::RawSocket`]: a raw packet socket on an interface, the kernel's end of a test.
//! - [`skip`]: a test that cannot run here says why; under `CI=true` that is a failure.
//! - [`process`]: multi-process tests, the test binary started again as a primary or a
//!   secondary (in a namespace, driven at its stdin), its report lines' `key=value` fields.
//! - [`tempdir::TempDir`]: a directory of a test's own for its files, removed on drop.
//! - [`tcpdump::list`]: a capture file read back by `tcpdump -r`.
//! - [`prompt::Prompted`]: a program driven at its prompt (rpdk-testpmd's `-i`), one command
//!   and its output at a time.
//! - [`testpmd::null_pair_with_cmdline_file`]: rpdk-testpmd on two net_null ports with a
//!   command file, optionally forwarding between more commands.

pub mod logs;
pub mod netns;
#[cfg(feature = "port")]
pub mod port;
pub mod process;
pub mod prompt;
pub mod raw;
pub mod tcpdump;
pub mod tempdir;
pub mod testpmd;

use std::fs;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// Whether the process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Whether the tests run under CI (`CI=true`, as `.ci/run` is started).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Says that `test` (or a part of it) is skipped because `why`. Under CI, which is root and
/// installs everything the tests use, a skip means the set-up broke: it fails the test.
pub fn skip(test: &str, why: &str) {
    assert!(
        !in_ci(),
        "{test} would be skipped under CI=true ({why}): CI's set-up is broken"
    );
    eprintln!("SKIPPED {test}: {why}");
}

/// Returns true when running as root; otherwise says that `test` needs root and is skipped
/// (a failure under CI: see [`skip`]).
pub fn require_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    skip(
        test,
        "needs root (hugepages, network namespaces); CI runs it as root",
    );
    false
}

const HP_DIR: &str = "/sys/kernel/mm/hugepages/hugepages-2048kB";

fn read_count(name: &str) -> u64 {
    fs::read_to_string(Path::new(HP_DIR).join(name))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Free 2 MiB hugepages that no mapping has reserved.
pub fn free_hugepages() -> u64 {
    read_count("free_hugepages").saturating_sub(read_count("resv_hugepages"))
}

/// Makes sure at least `pages` 2 MiB hugepages are free and a hugetlbfs is mounted
/// (root only). Returns an error message when that cannot be done.
pub fn ensure_hugepages(pages: u64) -> Result<(), String> {
    let free = free_hugepages();
    if free < pages {
        let total = read_count("nr_hugepages") + (pages - free);
        fs::write(Path::new(HP_DIR).join("nr_hugepages"), total.to_string())
            .map_err(|e| format!("reserving {total} hugepages: {e}"))?;
        if free_hugepages() < pages {
            return Err(format!(
                "asked the kernel for {total} hugepages but only {} are free",
                free_hugepages()
            ));
        }
    }
    let mounted = fs::read_to_string("/proc/mounts")
        .map(|m| {
            m.lines()
                .any(|l| l.split_whitespace().nth(2) == Some("hugetlbfs"))
        })
        .unwrap_or(false);
    if !mounted {
        fs::create_dir_all("/dev/hugepages").map_err(|e| e.to_string())?;
        let status = std::process::Command::new("mount")
            .args(["-t", "hugetlbfs", "nodev", "/dev/hugepages"])
            .status()
            .map_err(|e| format!("running mount: {e}"))?;
        if !status.success() {
            return Err("mount -t hugetlbfs failed".into());
        }
    }
    Ok(())
}

/// Serialises the tests of one binary that initialise the EAL.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A file prefix unique to this process and `tag`, so concurrent test binaries never collide.
pub fn unique_prefix(tag: &str) -> String {
    format!("rpdkt{}{tag}", std::process::id())
}

/// EAL arguments for a test of ports: program `name`, one lcore on the first allowed CPU,
/// 4 KiB pages and no shared files (`--no-huge --no-shconf`), and a `--vdev` per entry.
pub fn eal_args<S: AsRef<str>>(name: &str, vdevs: &[S]) -> Vec<String> {
    let mut args = vec![
        name.to_string(),
        "--no-huge".into(),
        "--no-shconf".into(),
        "-l".into(),
        format!("0@{}", allowed_cpus()[0]),
    ];
    for v in vdevs {
        args.push("--vdev".into());
        args.push(v.as_ref().to_string());
    }
    args
}

/// The CPUs this process may run on, lowest first.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: all-zero is a valid empty cpu_set_t.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid cpu_set_t of the size passed.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    assert_eq!(rc, 0, "sched_getaffinity");
    // SAFETY: every index is below CPU_SETSIZE.
    (0..libc::CPU_SETSIZE as usize)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect()
}
