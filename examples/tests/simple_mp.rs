//! simple_mp as DPDK's users run it: a primary and a secondary, each with its prompt, passing
//! strings both ways through named rings and a shared mempool.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use rpdk_testsupport::{allowed_cpus, unique_prefix};

struct App {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl App {
    fn start(prefix: &str, proc_type: &str, lcores: &str) -> App {
        let mut child = Command::new(env!("CARGO_BIN_EXE_simple_mp"))
            .args([
                "-l",
                lcores,
                "--no-huge",
                "--no-telemetry",
                &format!("--file-prefix={prefix}"),
                &format!("--proc-type={proc_type}"),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        for out in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(out).lines().map_while(Result::ok) {
                    let _ = tx.send(l);
                }
            });
        }
        App {
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn say(&mut self, line: &str) {
        writeln!(self.stdin.as_mut().unwrap(), "{line}").unwrap();
    }

    fn expect(&mut self, want: &str) {
        let start = Instant::now();
        while !self.seen.iter().any(|l| l.contains(want)) {
            let left = Duration::from_secs(20).saturating_sub(start.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(_) => panic!("no {want:?} in:\n{}", self.seen.join("\n")),
            }
        }
    }

    fn quit(mut self) {
        self.say("quit");
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status:?}\n{}", self.seen.join("\n"));
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn two_processes_exchange_messages() {
    let prefix = unique_prefix("smp");
    let (c0, c1) = {
        let cpus = allowed_cpus();
        (cpus[0], *cpus.get(1).unwrap_or(&cpus[0]))
    };
    let mut primary = App::start(&prefix, "primary", &format!("0@{c0},1@{c1}"));
    primary.expect("APP: Finished Process Init.");
    primary.expect("Starting core 1");
    let mut secondary = App::start(&prefix, "secondary", &format!("2@{c0},3@{c1}"));
    secondary.expect("APP: Finished Process Init.");
    secondary.expect("Starting core 3");
    primary.say("send hello secondary");
    secondary.expect("core 3: Received 'hello secondary'");
    secondary.say("send hello primary");
    primary.expect("core 1: Received 'hello primary'");
    secondary.say("help");
    secondary.expect("- send [string]");
    let long = "x".repeat(200);
    primary.say(&format!("send {long}"));
    secondary.expect(&format!("core 3: Received '{}'", &long[..127]));
    // A second secondary with the lcores the first one runs is refused.
    let mut clash = App::start(&prefix, "secondary", &format!("2@{c0},3@{c1}"));
    clash.expect("lcore 2: process ");
    secondary.quit();
    primary.quit();
}
