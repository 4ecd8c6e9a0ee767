//! Memory on a real EAL: memzones on hugepages (as root) and on 4 KiB pages, IOVAs, the files
//! the EAL creates and removes.

use std::fs;
use std::path::{Path, PathBuf};

use rpdk_eal::memory::{self, hugetlbfs};
use rpdk_eal::memzone::{self, MemzoneFlags};
use rpdk_eal::options::IovaMode;
use rpdk_eal::{Eal, Error};
use rpdk_testsupport::{ensure_hugepages, require_root, serial, unique_prefix};

fn init(args: &[&str]) -> Result<Eal, Error> {
    let cpu = rpdk_testsupport::allowed_cpus()[0];
    let mut full = vec!["memory-test".to_string(), "-l".into(), format!("0@{cpu}")];
    full.extend(args.iter().map(|s| s.to_string()));
    rpdk_eal::init(full).map(|(e, _)| e)
}

fn hugepage_dir() -> PathBuf {
    hugetlbfs::find_mount(None).expect("a hugetlbfs mount").path
}

fn write_and_check(mz: &memzone::Memzone, seed: u8) {
    let p = mz.as_ptr();
    for i in 0..mz.len() {
        // SAFETY: the zone is valid for len() bytes while `mz` lives.
        unsafe { p.add(i).write(seed.wrapping_add(i as u8)) };
    }
    for i in 0..mz.len() {
        // SAFETY: as above.
        assert_eq!(unsafe { p.add(i).read() }, seed.wrapping_add(i as u8));
    }
}

/// Memzone reserve, lookup, free, alignment, bounds and errors, on 4 KiB pages.
#[test]
fn memzones_without_hugepages() {
    let _s = serial();
    let eal = init(&["--no-huge", "--no-shconf"]).unwrap();
    assert_eq!(memory::page_size(), Some(4096));
    assert_eq!(memory::iova_mode(), Some(IovaMode::Va));

    let a = memzone::reserve("zone_a", 100, None, MemzoneFlags::empty()).unwrap();
    assert_eq!(a.len(), 128, "rounded up to a cache line");
    assert_eq!(a.as_ptr() as usize % 64, 0);
    assert_eq!(a.name(), "zone_a");
    assert_eq!(a.iova(), a.as_ptr() as u64, "VA mode");
    assert_eq!(a.socket_id(), 0);
    write_and_check(&a, 1);

    let b = memzone::reserve_aligned("zone_b", 10_000, Some(0), MemzoneFlags::empty(), 1 << 16)
        .unwrap();
    assert_eq!(b.as_ptr() as usize % (1 << 16), 0);
    write_and_check(&b, 2);
    write_and_check(&a, 1);

    let c =
        memzone::reserve_bounded("zone_c", 3000, None, MemzoneFlags::empty(), 64, 4096).unwrap();
    let start = c.as_ptr() as usize;
    assert_eq!(
        start / 4096,
        (start + c.len() - 1) / 4096,
        "does not cross the bound"
    );

    let found = memzone::lookup("zone_b").unwrap();
    assert_eq!(found.as_ptr(), b.as_ptr());
    assert!(memzone::lookup("nope").is_none());
    assert_eq!(memzone::list().len(), 3);

    let errors = [
        (
            memzone::reserve("zone_a", 64, None, MemzoneFlags::empty()),
            "memzone 'zone_a': a memzone of this name already exists",
        ),
        (
            memzone::reserve("", 64, None, MemzoneFlags::empty()),
            "a name has 1 to 31 bytes",
        ),
        (
            memzone::reserve(&"x".repeat(32), 64, None, MemzoneFlags::empty()),
            "a name has 1 to 31 bytes",
        ),
        (
            memzone::reserve("z0", 0, None, MemzoneFlags::empty()),
            "length 0",
        ),
        (
            memzone::reserve_aligned("z1", 64, None, MemzoneFlags::empty(), 100),
            "alignment 100 is not a power of two",
        ),
        (
            memzone::reserve_bounded("z2", 5000, None, MemzoneFlags::empty(), 64, 4096),
            "bound 4096 must be a power of two no smaller than the length",
        ),
        (
            memzone::reserve("z3", 64, Some(77), MemzoneFlags::empty()),
            "socket 77 does not exist",
        ),
        (
            memzone::reserve("z4", 64, None, MemzoneFlags::PAGE_1GB),
            "1048576 kB pages asked for",
        ),
    ];
    for (result, want) in errors {
        let e = result.unwrap_err().to_string();
        assert!(e.contains(want), "got {e}, want {want}");
    }
    assert!(
        memzone::reserve(
            "z5",
            64,
            None,
            MemzoneFlags::PAGE_1GB | MemzoneFlags::SIZE_HINT_ONLY
        )
        .is_ok()
    );

    let mut dump = Vec::new();
    memzone::dump(&mut dump).unwrap();
    let dump = String::from_utf8(dump).unwrap();
    assert!(dump.contains("name:<zone_a>, len:0x80"), "{dump}");
    assert!(dump.contains("name:<zone_b>"), "{dump}");
    assert!(dump.contains("pagesz: 0x1000"), "{dump}");

    // Freeing removes the name at once; the memory stays valid while a handle lives.
    let b_ptr = b.as_ptr();
    b.free().unwrap();
    assert!(memzone::lookup("zone_b").is_none());
    write_and_check(&found, 3);
    assert_eq!(
        found.clone().free().unwrap_err().to_string(),
        "memzone 'zone_b': already freed"
    );
    let b2 = memzone::reserve("zone_b", 64, None, MemzoneFlags::empty()).unwrap();
    assert_ne!(b2.as_ptr(), b_ptr, "the old block is still held");
    drop(found);
    drop(eal);
    assert!(memzone::lookup("zone_a").is_none(), "cleanup forgets zones");
    // Handles outlive the EAL safely.
    write_and_check(&a, 9);
}

/// Freed memory goes back to the heap, and whole pages at its end back to the system.
#[test]
fn freed_memory_is_reused_and_returned() {
    let _s = serial();
    let eal = init(&["--no-huge", "--no-shconf"]).unwrap();
    let before = memory::heap_stats().iter().map(|h| h.mapped).sum::<usize>();
    let big = memzone::reserve("big", 8 << 20, None, MemzoneFlags::empty()).unwrap();
    let mapped = memory::heap_stats()[0].mapped;
    assert!(mapped >= before + (8 << 20));
    let addr = big.as_ptr();
    big.free().unwrap();
    assert!(memory::heap_stats()[0].mapped < 8 << 20, "pages given back");
    let again = memzone::reserve("big", 8 << 20, None, MemzoneFlags::empty()).unwrap();
    assert_eq!(again.as_ptr(), addr, "same place reused");
    drop(eal);
}

/// `-m` maps memory at start and keeps it.
#[test]
fn memory_reserved_at_start_stays() {
    let _s = serial();
    let eal = init(&["--no-huge", "--no-shconf", "-m", "16"]).unwrap();
    let stats = memory::heap_stats();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].mapped, 16 << 20);
    let z = memzone::reserve("small", 4096, None, MemzoneFlags::empty()).unwrap();
    z.free().unwrap();
    assert_eq!(memory::heap_stats()[0].mapped, 16 << 20);
    drop(eal);
}

fn files_with_prefix(dir: &Path, prefix: &str) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// Hugepage memzones, backing files named from --file-prefix, the runtime directory, and
/// nothing left behind after cleanup.
#[test]
fn memzones_on_hugepages_leave_nothing_behind() {
    if !require_root("memzones_on_hugepages_leave_nothing_behind") {
        return;
    }
    let _s = serial();
    ensure_hugepages(16).unwrap();
    let prefix = unique_prefix("hp");
    let dir = hugepage_dir();
    let free_before = hugetlbfs::available_pages(2 << 20);
    let eal = init(&["--file-prefix", &prefix, "--iova-mode", "va"]).unwrap();
    let runtime = PathBuf::from("/var/run/rpdk").join(&prefix);
    assert!(
        runtime.join("config").exists(),
        "runtime directory and lock"
    );
    let config = fs::read_to_string(runtime.join("config")).unwrap();
    assert!(
        config.contains(&format!("pid={}", std::process::id())),
        "{config}"
    );

    let mz = memzone::reserve("hp_zone", 3 << 20, None, MemzoneFlags::empty()).unwrap();
    assert_eq!(mz.hugepage_size(), 2 << 20);
    assert_eq!(mz.as_ptr() as usize % 64, 0);
    write_and_check(&mz, 5);
    assert_eq!(files_with_prefix(&dir, &prefix), [format!("{prefix}map_0")]);
    assert!(
        hugetlbfs::available_pages(2 << 20) <= free_before - 2,
        "hugepages in use"
    );

    drop(eal);
    assert!(
        files_with_prefix(&dir, &prefix).is_empty(),
        "hugepage file removed at cleanup"
    );
    assert!(!runtime.exists(), "runtime directory removed");
    write_and_check(&mz, 6);
    drop(mz);
    assert_eq!(
        hugetlbfs::available_pages(2 << 20),
        free_before,
        "hugepages returned"
    );
}

/// In PA mode the IOVA of a hugepage memzone is a physical address, consistent inside a page.
#[test]
fn iova_pa_mode_gives_physical_addresses() {
    if !require_root("iova_pa_mode_gives_physical_addresses") {
        return;
    }
    let _s = serial();
    ensure_hugepages(8).unwrap();
    let prefix = unique_prefix("pa");
    let eal = init(&["--file-prefix", &prefix, "--iova-mode=pa"]).unwrap();
    assert_eq!(memory::iova_mode(), Some(IovaMode::Pa));
    let mz = memzone::reserve("pa_zone", 4096, None, MemzoneFlags::IOVA_CONTIG).unwrap();
    let iova = mz.iova();
    assert_ne!(iova, 0);
    assert_ne!(
        iova,
        mz.as_ptr() as u64,
        "a physical, not a virtual, address"
    );
    let page = 2u64 << 20;
    assert_eq!(
        iova % page,
        mz.as_ptr() as u64 % page,
        "same offset in the page"
    );
    assert_eq!(mz.iova_at(100), Some(iova + 100));
    assert_eq!(
        memory::virt2iova(mz.as_ptr().wrapping_add(64)),
        Some(iova + 64)
    );
    // Agrees with the kernel's pagemap.
    let pm = memory::Pagemap::open().unwrap();
    assert_eq!(pm.phys(mz.as_ptr() as usize), Some(iova));
    // Memory outside the EAL is translated through pagemap too.
    let outside = [1u8; 64];
    assert_eq!(
        memory::virt2iova(outside.as_ptr()),
        pm.phys(outside.as_ptr() as usize)
    );

    // A zone larger than a page must be physically contiguous, or refused with a reason.
    match memzone::reserve("pa_big", 6 << 20, None, MemzoneFlags::IOVA_CONTIG) {
        Ok(z) => {
            for off in (0..z.len()).step_by(1 << 20) {
                assert_eq!(z.iova_at(off), Some(z.iova() + off as u64));
            }
        }
        Err(e) => assert!(e.to_string().contains("IOVA-contiguous"), "{e}"),
    }
    let mut layout = Vec::new();
    memory::dump_physmem_layout(&mut layout).unwrap();
    assert!(String::from_utf8(layout).unwrap().contains("Segment 0"));
    drop(eal);
}

/// `--in-memory` uses anonymous hugepages: no file, no runtime directory.
#[test]
fn in_memory_creates_no_files() {
    if !require_root("in_memory_creates_no_files") {
        return;
    }
    let _s = serial();
    ensure_hugepages(4).unwrap();
    let prefix = unique_prefix("im");
    let eal = init(&["--in-memory", "--file-prefix", &prefix]).unwrap();
    let mz = memzone::reserve("im_zone", 1 << 20, None, MemzoneFlags::empty()).unwrap();
    assert_eq!(mz.hugepage_size(), 2 << 20);
    write_and_check(&mz, 7);
    assert!(files_with_prefix(&hugepage_dir(), &prefix).is_empty());
    assert!(!PathBuf::from("/var/run/rpdk").join(&prefix).exists());
    assert!(memory::heap_stats()[0].file.is_none());
    drop(eal);
}

/// Files of a dead instance are removed at start; a live primary keeps its prefix.
#[test]
fn stale_files_go_and_a_live_prefix_is_refused() {
    if !require_root("stale_files_go_and_a_live_prefix_is_refused") {
        return;
    }
    let _s = serial();
    ensure_hugepages(4).unwrap();
    let prefix = unique_prefix("st");
    let dir = hugepage_dir();
    let stale = dir.join(format!("{prefix}map_0"));
    fs::write(&stale, b"").unwrap();
    let eal = init(&["--file-prefix", &prefix]).unwrap();
    // The stale file was replaced by ours when the heap was made.
    let _z = memzone::reserve("st_zone", 64, None, MemzoneFlags::empty()).unwrap();
    drop(eal);
    assert!(!stale.exists());

    // Another primary (simulated by holding the lock) keeps the prefix.
    let runtime = PathBuf::from("/var/run/rpdk").join(&prefix);
    fs::create_dir_all(&runtime).unwrap();
    let held = fs::File::create(runtime.join("config")).unwrap();
    // SAFETY: flock on a file we own.
    let rc = unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&held), libc::LOCK_EX) };
    assert_eq!(rc, 0);
    let e = init(&["--file-prefix", &prefix]).unwrap_err();
    assert!(matches!(e, Error::PrefixInUse { .. }), "{e}");
    assert!(
        e.to_string().contains(&format!("file prefix '{prefix}'")),
        "{e}"
    );
    // `auto` makes this process a secondary of the holder, which does not answer on IPC.
    let e = init(&["--file-prefix", &prefix, "--proc-type=auto"]).unwrap_err();
    assert!(
        e.to_string()
            .contains("attaching to the primary's memory: IPC message 'rpdk_mem_attach': the primary process is gone"),
        "{e}"
    );
    drop(held);
    fs::remove_dir_all(&runtime).unwrap();
}

/// Errors that say how to get hugepages.
#[test]
fn missing_hugepages_say_how_to_reserve_them() {
    if !require_root("missing_hugepages_say_how_to_reserve_them") {
        return;
    }
    let _s = serial();
    // A directory that is not hugetlbfs.
    let e = init(&["--huge-dir", "/tmp", "--file-prefix", &unique_prefix("hd")]).unwrap_err();
    assert!(
        e.to_string()
            .contains("--huge-dir /tmp: not on a hugetlbfs mount"),
        "{e}"
    );

    // A mount of 1 GiB pages, of which none are reserved.
    let gb_pages = Path::new("/sys/kernel/mm/hugepages/hugepages-1048576kB");
    if !gb_pages.exists() || hugetlbfs::available_pages(1 << 30) > 0 {
        eprintln!("no 1 GiB hugepage support, or some are free: skipping the empty-pool case");
        return;
    }
    let mnt = std::env::temp_dir().join(unique_prefix("gb"));
    fs::create_dir_all(&mnt).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "hugetlbfs", "-o", "pagesize=1G", "nodev"])
        .arg(&mnt)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mounting hugetlbfs pagesize=1G");
    let e = init(&[
        "--huge-dir",
        mnt.to_str().unwrap(),
        "--file-prefix",
        &unique_prefix("gb"),
    ]);
    std::process::Command::new("umount")
        .arg(&mnt)
        .status()
        .unwrap();
    fs::remove_dir(&mnt).unwrap();
    let e = e.unwrap_err().to_string();
    assert!(e.contains("no free 1048576 kB hugepages"), "{e}");
    assert!(e.contains("scripts/hugepages.sh --setup"), "{e}");
    assert!(e.contains("--no-huge"), "{e}");
}

/// Memory asked for at start beyond what can be had names the flag, what it asked and the
/// limit, not the heap's internals.
#[test]
fn too_much_memory_names_the_flag_the_amount_and_the_limit() {
    let _s = serial();
    let e = init(&["--no-huge", "--no-shconf", "-m", "99999999"]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid value '99999999' for -m: 99999999 MiB asked on NUMA node 0, but one node's \
         heap holds at most 65536 MiB"
    );
    assert!(!rpdk_eal::is_initialized());
    // At run time: a memzone larger than a heap can hold says so.
    let eal = init(&["--no-huge", "--no-shconf"]).unwrap();
    let e = memzone::reserve("huge", 70 << 30, None, MemzoneFlags::empty()).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("memzone 'huge'") && text.contains("the 65536 MiB one heap can hold"),
        "{text}"
    );
    drop(eal);
    if !require_root("too_much_memory_names_the_flag_the_amount_and_the_limit (hugepages)") {
        return;
    }
    ensure_hugepages(16).unwrap();
    for (flag, value) in [("-m", "99999999"), ("--socket-mem", "99999999")] {
        let prefix = unique_prefix("toomuch");
        let e = init(&[flag, value, "--file-prefix", &prefix]).unwrap_err();
        let text = e.to_string();
        let page_kb = hugetlbfs::find_mount(None).unwrap().page_size >> 10;
        assert!(
            text.starts_with(&format!(
                "invalid value '99999999' for {flag}: 99999999 MiB asked, but only "
            )) && text.contains(&format!("MiB of {page_kb} kB hugepages are free")),
            "{text}"
        );
        assert!(files_with_prefix(&hugepage_dir(), &prefix).is_empty());
    }
}

/// `--legacy-mem`: what is mapped at start is all there is; nothing is given back.
#[test]
fn legacy_mem_never_grows_or_shrinks() {
    let _s = serial();
    let eal = init(&["--no-huge", "--no-shconf", "--legacy-mem", "-m", "4"]).unwrap();
    assert_eq!(memory::heap_stats()[0].mapped, 4 << 20);
    let a = memzone::reserve("legacy_a", 2 << 20, None, MemzoneFlags::empty()).unwrap();
    let e = memzone::reserve("legacy_b", 4 << 20, None, MemzoneFlags::empty()).unwrap_err();
    assert!(
        e.to_string().contains(
            "--legacy-mem: 4194304 bytes do not fit in the 4 MiB of socket 0 mapped at start"
        ),
        "{e}"
    );
    a.free().unwrap();
    assert_eq!(memory::heap_stats()[0].mapped, 4 << 20);
    drop(eal);
}

/// `--pagesz-mem` caps the memory of the page size in use; limits of other sizes do nothing.
#[test]
fn pagesz_mem_caps_the_page_size_in_use() {
    if !require_root("pagesz_mem_caps_the_page_size_in_use") {
        return;
    }
    let _s = serial();
    ensure_hugepages(16).unwrap();
    let page = hugetlbfs::default_page_size().unwrap();
    let size = |b: usize| format!("{}K", b >> 10);
    let limit = format!("--pagesz-mem={}:{}", size(page), size(4 * page));
    let eal = init(&["--in-memory", &limit, "--pagesz-mem=1K:0"]).unwrap();
    let a = memzone::reserve("capped_a", 2 * page, None, MemzoneFlags::empty()).unwrap();
    let e = memzone::reserve("capped_b", 3 * page, None, MemzoneFlags::empty()).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("memzone 'capped_b'")
            && text.contains(&format!(
                "past the {} MiB that --pagesz-mem=",
                (4 * page) >> 20
            )),
        "{text}"
    );
    let b = memzone::reserve("capped_c", page, None, MemzoneFlags::empty()).unwrap();
    drop((a, b));
    drop(eal);
    // Asking for more at start than the limit is refused before anything is mapped.
    let e = init(&["--in-memory", &limit, "-m", &((8 * page) >> 20).to_string()]).unwrap_err();
    assert!(
        e.to_string().contains("MiB asked, but --pagesz-mem="),
        "{e}"
    );
}

/// `--base-virtaddr` places the first heap there (rounded up to the heaps' 1 GiB alignment).
#[test]
fn base_virtaddr_places_the_heap() {
    let _s = serial();
    let eal = init(&[
        "--no-huge",
        "--no-shconf",
        "-m",
        "2",
        "--base-virtaddr=0x1fff00001000",
    ])
    .unwrap();
    assert_eq!(memory::heap_stats()[0].base, 0x1fff_4000_0000);
    drop(eal);
}

/// `--numa-limit` caps each node's heap.
#[test]
fn numa_limit_caps_a_node() {
    let _s = serial();
    let eal = init(&["--no-huge", "--no-shconf", "--numa-limit=8"]).unwrap();
    let a = memzone::reserve("nl_a", 4 << 20, None, MemzoneFlags::empty()).unwrap();
    let e = memzone::reserve("nl_b", 6 << 20, None, MemzoneFlags::empty()).unwrap_err();
    assert!(
        e.to_string()
            .contains("past the 8 MiB that --numa-limit=8 allows"),
        "{e}"
    );
    drop(a);
    drop(eal);
}
