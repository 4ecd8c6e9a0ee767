//! rpdk-testpmd run for a test, as DPDK's flow and meter test plans drive testpmd: at its
//! prompt in a test's network namespace ([`in_netns`], [`af_packet_in_netns`]), or on two
//! `net_null` ports with a `--cmdline-file` whose commands run before the first prompt
//! ([`null_pair_with_cmdline_file`]).

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::allowed_cpus;
use crate::netns::NetNs;
use crate::prompt::Prompted;

/// `bin` (rpdk-testpmd) in the namespace `ns` with EAL options `eal` and testpmd's `app`,
/// driven at its `testpmd> ` prompt.
pub fn in_netns(bin: &str, ns: &NetNs, eal: &[&str], app: &[&str]) -> Prompted {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns.name(), bin])
        .args(eal)
        .arg("--")
        .args(app);
    Prompted::spawn(cmd, "testpmd> ")
}

/// [`in_netns`] on a `net_af_packet` port of `iface`, with two lcores (on the first and last
/// allowed CPUs), 4 KiB pages and no shared files.
pub fn af_packet_in_netns(bin: &str, ns: &NetNs, iface: &str, app: &[&str]) -> Prompted {
    let cpus = allowed_cpus();
    let lcores = format!("0@{},1@{}", cpus[0], cpus[cpus.len() - 1]);
    let vdev = format!("net_af_packet0,iface={iface}");
    let eal = [
        "--lcores",
        &lcores,
        "--no-huge",
        "--no-shconf",
        "--vdev",
        &vdev,
    ];
    in_netns(bin, ns, &eal, app)
}

/// What a run printed, and the command file's path as testpmd was given it.
pub struct CmdlineRun {
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
    /// The `--cmdline-file` path (removed after the run).
    pub file: String,
}

/// Runs `bin` (rpdk-testpmd, `-i`) on `net_null0` and `net_null1` with `commands` as its
/// `--cmdline-file` (written to a directory of `tag`). Without `forward`, its stdin is closed
/// at once; with `Some((time, after))`, it is sent `start`, forwards for `time`, then gets
/// the lines of `after` (which should end with `quit`). Panics unless it exits successfully.
pub fn null_pair_with_cmdline_file(
    bin: &str,
    tag: &str,
    commands: &str,
    forward: Option<(Duration, &str)>,
) -> CmdlineRun {
    let dir = std::env::temp_dir().join(format!("rpdk-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("commands.txt");
    std::fs::write(&file, commands).unwrap();
    let cpus = allowed_cpus();
    let lcores = format!("0@{},1@{}", cpus[0], cpus[cpus.len() - 1]);
    let mut child = Command::new(bin)
        .args(["--lcores", &lcores, "--no-huge", "--no-shconf"])
        .args(["--vdev", "net_null0", "--vdev", "net_null1", "--"])
        .arg(format!("--cmdline-file={}", file.display()))
        .arg("-i")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {bin}: {e}"));
    if let Some((time, after)) = forward {
        let stdin = child.stdin.as_mut().expect("piped");
        stdin.write_all(b"start\n").unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(time);
        stdin.write_all(after.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let run = CmdlineRun {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        file: file.display().to_string(),
    };
    assert!(out.status.success(), "{}{}", run.stdout, run.stderr);
    run
}
