//! DPDK's own EAL flag tests (`app/test/test_eal_flags.c`, v26.07) run against rpdk's
//! helloworld: every command line of [`vectors::VECTORS`] must give DPDK's outcome, or the
//! outcome its `differs` note explains (docs/eal.md lists the same).
//!
//! As in DPDK's test, the test process is itself a running primary (an EAL with a file prefix
//! of its own) while the command lines run as child processes.

#[path = "eal_flags/vectors.rs"]
mod vectors;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rpdk_eal::memory::hugetlbfs;
use rpdk_testsupport::{allowed_cpus, ensure_hugepages, require_root, unique_prefix};
use vectors::{Needs, VECTORS, Want};

/// The test's primary, a hugepage directory's subdirectories, and the prefixes to clean.
struct Setup {
    stem: String,
    parent: String,
    hugepath: PathBuf,
    nodes: usize,
    /// The CPUs this process may use, read before the EAL pins the thread.
    cpus: Vec<usize>,
    _eal: rpdk_eal::Eal,
}

impl Setup {
    fn new() -> Setup {
        ensure_hugepages(64).expect("reserving hugepages");
        let stem = unique_prefix("ef");
        let parent = format!("{stem}parent");
        let cpus = allowed_cpus();
        let cpu = cpus[0];
        let (eal, _) = rpdk_eal::init([
            "eal-flags-test".to_string(),
            format!("--file-prefix={parent}"),
            "-l".into(),
            format!("0@{cpu}"),
            "-m".into(),
            "2".into(),
        ])
        .expect("the test's own primary starts");
        let hugepath = hugetlbfs::mounts()
            .first()
            .expect("a hugetlbfs mount (ensure_hugepages mounts one)")
            .path
            .clone();
        let dir = hugepath.join(format!("{stem}dpdk.dir"));
        std::fs::create_dir_all(dir.join("sub")).expect("making the --huge-dir subdirectory");
        let nodes = rpdk_eal::sockets().len().max(1);
        Setup {
            stem,
            parent,
            hugepath,
            nodes,
            cpus,
            _eal: eal,
        }
    }

    /// The vector's arguments with the placeholders filled in.
    fn expand(&self, args: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        for a in args {
            match *a {
                "{sec}" => out.push(format!("--file-prefix={}sec", self.stem)),
                "{parent}" => out.push(format!("--file-prefix={}", self.parent)),
                "{parent_name}" => out.push(self.parent.clone()),
                _ if a.starts_with("{sm:") => out.push(self.socket_mem(a)),
                _ => {
                    let hp = self.hugepath.display().to_string();
                    out.push(
                        a.replace("{u}", &self.stem)
                            .replace("{hugepath}/dpdk.", &format!("{hp}/{}dpdk.", self.stem))
                            .replace("{hugepath}", &hp),
                    );
                }
            }
        }
        out
    }

    /// `{sm:D:V:S}`: `--socket-mem=` with `V` for (nodes + D) nodes, then `S` (DPDK's
    /// `populate_socket_mem_param`).
    fn socket_mem(&self, token: &str) -> String {
        let inner = token.trim_start_matches("{sm:").trim_end_matches('}');
        let mut parts = inner.splitn(3, ':');
        let delta: i64 = parts.next().unwrap().parse().unwrap();
        let value = parts.next().unwrap();
        let suffix = parts.next().unwrap_or("");
        let n = (self.nodes as i64 + delta).max(1) as usize;
        format!("--socket-mem={}{suffix}", vec![value; n].join(","))
    }

    fn runnable(&self, needs: Needs) -> bool {
        match needs {
            Needs::Nothing => true,
            Needs::Cpus(n) => (0..n).all(|c| self.cpus.contains(&c)),
            Needs::Nodes(n) => self.nodes >= n,
        }
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.hugepath.join(format!("{}dpdk.dir", self.stem)));
        // Files a run kept (--huge-unlink=never) go with the test.
        if let Ok(entries) = std::fs::read_dir(&self.hugepath) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(&self.stem)
                    && !e.file_name().to_string_lossy().starts_with(&self.parent)
                {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
}

/// Hugepage files of prefix `stem + name` in the hugepage directory.
fn files(setup: &Setup, name: &str) -> Vec<String> {
    let want = format!("{}{name}map_", setup.stem);
    std::fs::read_dir(&setup.hugepath)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&want))
                .collect()
        })
        .unwrap_or_default()
}

/// What DPDK's test_file_prefix checks of the hugepage files after some runs.
fn check_files(setup: &Setup, vector: &str) -> Result<(), String> {
    let none = |name: &str| match files(setup, name) {
        f if f.is_empty() => Ok(()),
        f => Err(format!("{vector}: hugepage files left behind: {f:?}")),
    };
    match vector {
        // Default mode, and --legacy-mem (where DPDK keeps its files; rpdk does not, see
        // docs/eal.md), --in-memory and --single-file-segments: nothing left.
        "prefix.argv1" | "prefix.argv2" | "prefix.argv6" | "prefix.argv8" => none("memtest1"),
        "prefix.argv3" | "prefix.argv4" => none("memtest2"),
        // --huge-unlink=never leaves them; the test then removes them, as DPDK's does.
        "prefix.argv9" => {
            let left = files(setup, "memtest1");
            if left.is_empty() {
                return Err("prefix.argv9: --huge-unlink=never left no hugepage file".into());
            }
            for f in left {
                std::fs::remove_file(setup.hugepath.join(f)).map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Runs helloworld with `args`, for at most 30 s; whether the EAL started and it exited 0.
fn run(args: &[String]) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_helloworld"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting helloworld");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().expect("waiting for helloworld").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().expect("helloworld's output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ok = out.status.success() && stdout.contains("hello from core");
    (ok, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn dpdk_eal_flag_vectors_give_dpdks_outcome() {
    if !require_root("dpdk_eal_flag_vectors_give_dpdks_outcome") {
        return;
    }
    assert_eq!(VECTORS.len(), 143, "every command line of test_eal_flags.c");
    let setup = Setup::new();
    let (mut same, mut differ, mut skipped) = (0, Vec::new(), Vec::new());
    let mut wrong = Vec::new();
    for v in VECTORS {
        if !setup.runnable(v.needs) {
            skipped.push(format!("{} ({:?})", v.name, v.needs));
            continue;
        }
        let args = setup.expand(v.args);
        let (ok, stderr) = run(&args);
        if let Err(e) = check_files(&setup, v.name) {
            wrong.push(e);
        }
        let got = if ok { Want::Run } else { Want::Fail };
        match (got == v.want, v.differs) {
            (true, None) => same += 1,
            (false, Some(why)) => differ.push(format!("{}: {why}", v.name)),
            (true, Some(_)) => wrong.push(format!(
                "{}: now gives DPDK's outcome; drop its `differs` note (and docs/eal.md's)",
                v.name
            )),
            (false, None) => wrong.push(format!(
                "{} {args:?}: DPDK expects {:?}, rpdk gives {got:?}\n{stderr}",
                v.name, v.want
            )),
        }
    }
    eprintln!(
        "test_eal_flags.c: {same} of {} run give DPDK's outcome; {} differ as documented; \
         {} not run here, as DPDK's test would not: {}",
        same + differ.len(),
        differ.len(),
        skipped.len(),
        skipped.join(", ")
    );
    for d in &differ {
        eprintln!("  differs: {d}");
    }
    // As DPDK's test checks first: the running primary's file is there, and locked.
    let parent_files = files(&setup, "parent");
    assert_eq!(parent_files.len(), 1, "{parent_files:?}");
    let held = std::fs::File::open(setup.hugepath.join(&parent_files[0])).unwrap();
    // SAFETY: flock on a file descriptor we own.
    let rc = unsafe {
        libc::flock(
            std::os::fd::AsRawFd::as_raw_fd(&held),
            libc::LOCK_EX | libc::LOCK_NB,
        )
    };
    assert_eq!(rc, -1, "the primary holds its hugepage file locked");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        !Path::new(&setup.hugepath)
            .join(format!("{}dpdk.missing", setup.stem))
            .exists()
    );
}
