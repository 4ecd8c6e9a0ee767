//! A program driven at its prompt (rpdk-testpmd's `testpmd> `): commands written to its stdin,
//! its stdout and stderr gathered apart, as text, by threads, so that a test can run one
//! command and read what it printed up to the next prompt. Unlike
//! [`process::Interactive`](crate::process::Interactive), which reads lines, this reads
//! chunks: a prompt has no newline.
//!
//! ```no_run
//! use std::process::Command;
//! use rpdk_testsupport::prompt::Prompted;
//!
//! let mut cmd = Command::new("target/debug/rpdk-testpmd");
//! cmd.args(["--no-huge", "--vdev", "net_null0", "--", "-i"]);
//! let mut s = Prompted::spawn(cmd, "testpmd> ");
//! let (out, _err) = s.cmd("show port stats 0");
//! assert!(out.contains("NIC statistics for port 0"));
//! ```

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long [`Prompted::cmd`] waits for the next prompt.
pub const PROMPT_WAIT: Duration = Duration::from_secs(10);

/// A child process with a prompt; its stdin closed (which ends testpmd), then killed after
/// 20 s, when dropped.
pub struct Prompted {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
    prompt: &'static str,
}

/// Appends what `r` yields to `into`, a chunk at a time, keeping a UTF-8 sequence a chunk cut
/// for the next read.
fn gather(mut r: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut pending = Vec::new();
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            pending.extend_from_slice(&buf[..n]);
            let valid = match std::str::from_utf8(&pending) {
                Ok(t) => t.len(),
                Err(e) => e.valid_up_to(),
            };
            let text = String::from_utf8_lossy(&pending[..valid]).into_owned();
            into.lock().unwrap().push_str(&text);
            pending.drain(..valid);
        }
    });
}

impl Prompted {
    /// Starts `cmd` with its stdin, stdout and stderr piped; `prompt` is what it prints when
    /// it waits for a command.
    pub fn spawn(mut cmd: Command, prompt: &'static str) -> Prompted {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
        let (out, err) = (Arc::default(), Arc::default());
        gather(child.stdout.take().expect("piped"), Arc::clone(&out));
        gather(child.stderr.take().expect("piped"), Arc::clone(&err));
        Prompted {
            stdin: child.stdin.take(),
            child,
            out,
            err,
            prompt,
        }
    }

    /// Writes `line` and a newline to its stdin, without waiting.
    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{line}").expect("writing to the child's stdin");
    }

    /// Everything it printed on stdout so far.
    pub fn out(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// Everything it printed on stderr so far.
    pub fn err(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    /// Waits up to `within` until stdout holds `n` occurrences of `needle`; panics with both
    /// outputs otherwise.
    pub fn wait_for(&self, needle: &str, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.out().matches(needle).count() < n {
            assert!(
                Instant::now() < deadline,
                "no {n} x {needle:?} in:\n{}\nstderr:\n{}",
                self.out(),
                self.err()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Runs `line` and returns what it printed on stdout up to the prompt that follows it,
    /// and on stderr meanwhile (given 50 ms more: it comes through its own pipe).
    pub fn cmd(&mut self, line: &str) -> (String, String) {
        let (o0, e0) = (self.out().len(), self.err().len());
        let prompts = self.out().matches(self.prompt).count();
        self.send(line);
        self.wait_for(self.prompt, prompts + 1, PROMPT_WAIT);
        std::thread::sleep(Duration::from_millis(50));
        let (o, e) = (self.out(), self.err());
        let o = o[o0..].rsplit_once(self.prompt).map_or("", |(a, _)| a);
        (o.to_string(), e[e0..].to_string())
    }
}

impl Prompted {
    /// Closes its stdin and waits up to `within` for it to exit; panics (with both outputs)
    /// if it does not.
    pub fn exit_status(&mut self, within: Duration) -> ExitStatus {
        drop(self.stdin.take());
        let deadline = Instant::now() + within;
        loop {
            if let Some(st) = self.child.try_wait().expect("waiting for the child") {
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "did not exit in {within:?}:\n{}\nstderr:\n{}",
                self.out(),
                self.err()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Prompted {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(20);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
