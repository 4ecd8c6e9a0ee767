//! helloworld run as a process: its output, exit codes, and what it leaves behind.

use std::process::{Command, Output};

use rpdk_testsupport::{allowed_cpus, ensure_hugepages, is_root, unique_prefix};

fn helloworld(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_helloworld"))
        .args(args)
        .output()
        .expect("running helloworld")
}

/// `-l 0-1` where the machine has two CPUs for it; two lcores on the CPUs we have otherwise.
fn two_lcores() -> String {
    let cpus = allowed_cpus();
    if cpus[..cpus.len().min(2)] == [0, 1] {
        "0-1".to_string()
    } else {
        format!("0@{},1@{}", cpus[0], cpus[cpus.len() - 1])
    }
}

/// Memory flags: real hugepages as root, 4 KiB pages otherwise.
fn memory_flags(prefix: &str) -> Vec<String> {
    if is_root() {
        ensure_hugepages(32).expect("reserving hugepages");
        vec![
            "--file-prefix".into(),
            prefix.into(),
            "-m".into(),
            "16".into(),
        ]
    } else {
        eprintln!("not root: running helloworld with --no-huge");
        vec!["--no-huge".into(), "--no-shconf".into()]
    }
}

fn hugepage_files(prefix: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/dev/hugepages") else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

#[test]
fn prints_hello_from_every_lcore_once() {
    let prefix = unique_prefix("hello");
    let lcores = two_lcores();
    let mut args = vec!["-l", lcores.as_str()];
    let mem = memory_flags(&prefix);
    args.extend(mem.iter().map(String::as_str));
    let out = helloworld(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        out.status
    );
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        ["hello from core 0", "hello from core 1"],
        "stderr: {stderr}"
    );
    assert!(
        hugepage_files(&prefix).is_empty(),
        "hugepage files left behind"
    );
    assert!(!std::path::Path::new("/var/run/rpdk").join(&prefix).exists());
}

#[test]
fn a_bad_flag_exits_non_zero_and_names_it() {
    let out = helloworld(&["-l", "0", "--no-huge", "--bogus"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown EAL option '--bogus'"), "{stderr}");
    assert!(stderr.contains("Cannot init EAL"), "{stderr}");
    assert!(out.stdout.is_empty(), "no lcore ran");

    let out = helloworld(&["-l", "0-x", "--no-huge"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid value '0-x' for -l: 'x' is not a number"),
        "{stderr}"
    );

    let out = helloworld(&["-l", "0,1@1000", "--no-huge"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("CPU 1000 does not exist"), "{stderr}");
}

#[test]
fn help_prints_usage_and_exits_zero() {
    let out = helloworld(&["-h"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("Usage: helloworld [EAL options] --"),
        "{stdout}"
    );
    assert!(stdout.contains("--vdev"), "{stdout}");
}

#[test]
fn version_flag_prints_the_version() {
    let out = helloworld(&["-v", "-l", "0", "--no-huge", "--no-shconf"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("RTE Version: 'rpdk {}'", rpdk_eal::VERSION)),
        "{stderr}"
    );
}

#[test]
fn log_timestamps_and_colours_as_asked() {
    let base = ["-l", "0", "--no-huge", "--no-shconf"];
    let stderr = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let out = helloworld(&args);
        assert!(out.status.success(), "{extra:?}: {:?}", out.status);
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let plain = stderr(&[]);
    assert!(plain.lines().all(|l| l.starts_with("EAL: ")), "{plain}");
    let timed = stderr(&["--log-timestamp"]);
    for l in timed.lines() {
        let (ts, rest) = l.split_once("] ").unwrap_or_else(|| panic!("{l}"));
        let secs = ts.trim_start_matches('[').trim();
        assert!(secs.parse::<f64>().is_ok(), "seconds since start: {l}");
        assert!(rest.starts_with("EAL: "), "{l}");
    }
    let iso = stderr(&["--log-timestamp=iso"]);
    let first = iso.lines().next().unwrap();
    assert_eq!(
        &first[5..6],
        "-",
        "[YYYY-MM-DDThh:mm:ss,uuuuuu+hh:mm] {first}"
    );
    assert_eq!(&first[11..12], "T", "{first}");
    let coloured = stderr(&["--log-color", "--log-timestamp=delta"]);
    let first = coloured.lines().next().unwrap();
    assert!(
        first.starts_with("\x1b[32m[<") && first.contains("\x1b[33mEAL:\x1b[0m"),
        "{first:?}"
    );
    let never = stderr(&["--log-color=never"]);
    assert!(!never.contains('\x1b'), "{never:?}");
}
