//! Multi-process tests: the test binary starts itself again in a role (a primary, a secondary),
//! the child's test entry point reads the role from the environment, and the parent waits for
//! each child with a deadline, killing it if it overruns or the test fails first.
//!
//! A process driven through its prompt (an example binary, or a child in a role that reads
//! commands) is an [`Interactive`]: lines to its stdin, its output lines awaited.
//!
//! ```no_run
//! use rpdk_testsupport::process::{Child, role};
//!
//! #[test]
//! fn child() {
//!     let Some((role, prefix)) = role() else { return };
//!     // ... run `role` with `--file-prefix=prefix` ...
//! }
//!
//! #[test]
//! fn two_processes() {
//!     let prefix = rpdk_testsupport::unique_prefix("two");
//!     let p = Child::start("primary", &prefix);
//!     // ... wait for the primary, start the secondary ...
//!     assert!(p.wait().status.success());
//! }
//! ```

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{ChildStdin, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::netns::NetNs;

/// The environment variables a child reads its role and file prefix from.
const ROLE: &str = "RPDK_MP_ROLE";
const PREFIX: &str = "RPDK_MP_PREFIX";

/// How long a child may run.
pub const CHILD_DEADLINE: Duration = Duration::from_secs(120);

/// In the child's entry point (a `#[test] fn child()`), its role and file prefix; `None` in
/// the parent's run of the same test.
pub fn role() -> Option<(String, String)> {
    Some((std::env::var(ROLE).ok()?, std::env::var(PREFIX).ok()?))
}

/// EAL arguments of one process of a multi-process test: no hugepages, lcore `lcore` on the
/// first allowed CPU, the file prefix, the process type, no telemetry.
pub fn eal_args(name: &str, prefix: &str, proc_type: &str, lcore: u32) -> Vec<String> {
    vec![
        name.into(),
        "--no-huge".into(),
        "-l".into(),
        format!("{lcore}@{}", crate::allowed_cpus()[0]),
        format!("--file-prefix={prefix}"),
        format!("--proc-type={proc_type}"),
        "--no-telemetry".into(),
    ]
}

/// [`eal_args`] and a `--vdev` per entry of `vdevs` (a primary's ports).
pub fn eal_args_with_vdevs<S: AsRef<str>>(
    name: &str,
    prefix: &str,
    proc_type: &str,
    lcore: u32,
    vdevs: &[S],
) -> Vec<String> {
    let mut v = eal_args(name, prefix, proc_type, lcore);
    for d in vdevs {
        v.push("--vdev".into());
        v.push(d.as_ref().to_string());
    }
    v
}

/// The runtime directory of a file prefix (where the IPC sockets are).
pub fn runtime_dir(prefix: &str) -> PathBuf {
    if crate::is_root() {
        return PathBuf::from("/var/run/rpdk").join(prefix);
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("rpdk").join(prefix),
        _ => std::env::temp_dir().join("rpdk").join(prefix),
    }
}

/// Waits (up to 20 s) for the primary of `prefix` to listen for secondaries.
pub fn wait_for_primary(prefix: &str) {
    let start = Instant::now();
    while !runtime_dir(prefix).join("mp_socket").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the primary of {prefix} did not start in 20 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The command that runs the test binary's `child` test in `role` with file prefix `prefix`,
/// under `wrapper` when it is not empty (`["ip", "netns", "exec", NS]` runs it in a network
/// namespace).
pub fn child_command(wrapper: &[&str], role: &str, prefix: &str) -> Command {
    let exe = std::env::current_exe().expect("the test binary");
    let mut c = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    c.args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(PREFIX, prefix);
    c
}

/// In a child driven through its stdin: the next line the parent wrote, trimmed.
pub fn child_line() -> String {
    let mut l = String::new();
    std::io::stdin()
        .read_line(&mut l)
        .expect("reading the parent's line");
    l.trim().to_string()
}

/// The number of the `key=value` word of `line` (a child's report, `frames=40 in_order=1`);
/// panics, quoting the line, when it has none or the value is not a number.
pub fn field(line: &str, key: &str) -> u64 {
    let want = format!("{key}=");
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&want))
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
        .parse()
        .unwrap_or_else(|e| panic!("{key}= in {line:?}: {e}"))
}

/// A child process of the test in a role; killed when dropped before it was waited for.
pub struct Child(Option<std::process::Child>);

impl Child {
    /// Starts the test binary's `child` test in `role` with file prefix `prefix`.
    pub fn start(role: &str, prefix: &str) -> Child {
        Child::start_with_env(role, prefix, &[])
    }

    /// As [`Child::start`], with more environment variables for the child.
    pub fn start_with_env(role: &str, prefix: &str, env: &[(&str, &str)]) -> Child {
        Child(Some(
            child_command(&[], role, prefix)
                .envs(env.iter().copied())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("starting the test binary again"),
        ))
    }

    /// Its pid.
    pub fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, |c| c.id())
    }

    /// Waits for it to end (killing it after [`CHILD_DEADLINE`]), with what it printed.
    pub fn wait(mut self) -> Output {
        let child = self.0.take().expect("not waited for yet");
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || tx.send(child.wait_with_output()));
        match rx.recv_timeout(CHILD_DEADLINE) {
            Ok(out) => out.expect("waiting for the child"),
            Err(_) => {
                // SAFETY: kill on our own child's pid.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                panic!("child {pid} did not finish in {CHILD_DEADLINE:?}");
            }
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A child's exit status and output, for an assertion message.
pub fn text(o: &Output) -> String {
    format!(
        "{:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// How long [`Interactive::expect`] waits for a line, and [`Interactive::finish`] for the exit.
pub const EXPECT_WAIT: Duration = Duration::from_secs(30);

/// A process with a prompt: lines go to its stdin, and threads read its stdout and stderr
/// (as lines, in the order they arrive) for [`expect`](Self::expect). Killed when dropped.
pub struct Interactive {
    child: std::process::Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Interactive {
    /// Starts `cmd` with its stdin, stdout and stderr piped.
    pub fn spawn(mut cmd: Command) -> Interactive {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
        let (tx, lines) = mpsc::channel();
        for out in [
            Box::new(child.stdout.take().expect("piped")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("piped")),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(out).lines().map_while(Result::ok) {
                    if tx.send(l).is_err() {
                        break;
                    }
                }
            });
        }
        Interactive {
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The test binary's `child` in `role` with file prefix `prefix` (see [`child_command`]),
    /// inside network namespace `ns`, with the environment variables `env` besides.
    pub fn child_in(ns: &NetNs, role: &str, prefix: &str, env: &[(&str, &str)]) -> Interactive {
        let mut c = child_command(&["ip", "netns", "exec", ns.name()], role, prefix);
        c.envs(env.iter().copied());
        Interactive::spawn(c)
    }

    /// Its pid.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Writes `line` and a newline to its stdin.
    pub fn say(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{line}").expect("writing to the child's stdin");
    }

    /// The first line it printed that contains `want` (earlier lines included), from `want`
    /// on, waiting up to [`EXPECT_WAIT`] for it; panics with everything printed otherwise.
    pub fn expect(&mut self, want: &str) -> String {
        let start = Instant::now();
        loop {
            if let Some(l) = self.seen.iter().find_map(|l| l.find(want).map(|i| &l[i..])) {
                return l.to_string();
            }
            let left = EXPECT_WAIT.saturating_sub(start.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(_) => panic!("no {want:?} in:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Everything it printed so far (the lines [`expect`](Self::expect) read).
    pub fn seen(&self) -> String {
        self.seen.join("\n")
    }

    /// Waits up to [`EXPECT_WAIT`] for it to exit, then asserts that it succeeded (the
    /// message has all it printed).
    pub fn finish(mut self) {
        drop(self.stdin.take());
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for the child") {
                while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(l);
                }
                assert!(status.success(), "{status:?}\n{}", self.seen());
                return;
            }
            assert!(
                start.elapsed() < EXPECT_WAIT,
                "did not exit in {EXPECT_WAIT:?}:\n{}",
                self.seen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Says `quit`, then [`finish`](Self::finish)es.
    pub fn quit(mut self) {
        self.say("quit");
        self.finish();
    }
}

impl Drop for Interactive {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields_of_a_report_line() {
        let l = "RX frames=40 in_order=1 sent=0 other_bytes=1234";
        assert_eq!(field(l, "frames"), 40);
        assert_eq!(field(l, "sent"), 0);
        assert_eq!(field(l, "other_bytes"), 1234);
        // A key is a whole word's start up to its `=`: `bytes` is not `other_bytes`.
        assert!(std::panic::catch_unwind(|| field(l, "bytes")).is_err());
        assert!(std::panic::catch_unwind(|| field("frames=x", "frames")).is_err());
    }
}
