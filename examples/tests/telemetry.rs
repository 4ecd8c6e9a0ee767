//! DPDK's own telemetry client, `dpdk-telemetry.py` from Debian's `dpdk-dev` package,
//! unchanged, against a running rpdk-testpmd on two net_null ports: the port statistics
//! testpmd prints, DPDK's replies to `/`, `/info`, `/help` and unknown commands, ten clients at
//! once, and a testpmd killed with SIGKILL and started again with the same file prefix.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rpdk_eal::telemetry::{self, SOCKET_NAME};
use rpdk_testsupport::{allowed_cpus, skip, unique_prefix};

/// The client: `$RPDK_DPDK_TELEMETRY`, or where Debian's package (or `.ci/run`) puts it.
fn client_script() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("RPDK_DPDK_TELEMETRY").map(PathBuf::from),
        Some(PathBuf::from("/usr/bin/dpdk-telemetry.py")),
        Some(PathBuf::from("/usr/local/bin/dpdk-telemetry.py")),
    ];
    let found = candidates.into_iter().flatten().find(|p| p.exists());
    if found.is_none() {
        skip(
            "the dpdk-telemetry.py tests",
            "dpdk-telemetry.py not found (scripts/install-deps.sh test installs it)",
        );
    }
    found
}

/// rpdk-testpmd, interactive, with its output collected as it comes.
struct Testpmd {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<Mutex<String>>,
}

impl Testpmd {
    fn start(prefix: &str) -> Testpmd {
        let cpus = allowed_cpus();
        let lcores = format!("0@{},1@{}", cpus[0], cpus[cpus.len() - 1]);
        let mut child = Command::new(env!("CARGO_BIN_EXE_rpdk-testpmd"))
            .args(["--lcores", &lcores, "--no-huge", "--no-shconf"])
            .args(["--file-prefix", prefix])
            .args(["--vdev", "net_null0", "--vdev", "net_null1", "--", "-i"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting rpdk-testpmd");
        let stdin = child.stdin.take();
        let out = Arc::new(Mutex::new(String::new()));
        let sink = out.clone();
        let stdout = child.stdout.take().unwrap();
        // Raw reads, not lines: the prompt has no newline.
        std::thread::spawn(move || {
            let mut stdout = stdout;
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut buf) {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let tp = Testpmd { child, stdin, out };
        tp.wait_for("testpmd> ");
        tp
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin.as_mut().unwrap(), "{line}").unwrap();
    }

    fn output(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    fn wait_for(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.output().contains(text) {
            assert!(
                Instant::now() < deadline,
                "testpmd did not print {text:?}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn quit(mut self) -> String {
        self.send("quit");
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{}", self.output());
        self.wait_for("Bye...");
        self.output()
    }
}

impl Drop for Testpmd {
    /// After a failed assertion: SIGTERM, on which testpmd cleans up (its socket too), then
    /// SIGKILL if it is still there after 5 s.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            // SAFETY: signalling our own child process.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the client once over `commands` (one a line, as on its prompt) and returns what it
/// printed: one JSON reply a line.
fn ask(script: &PathBuf, prefix: &str, commands: &[&str]) -> Vec<String> {
    let mut c = client(script, prefix);
    let mut stdin = c.stdin.take().unwrap();
    for cmd in commands {
        writeln!(stdin, "{cmd}").unwrap();
    }
    drop(stdin);
    let out = c.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines().map(str::to_string).collect()
}

fn client(script: &PathBuf, prefix: &str) -> Child {
    Command::new("python3")
        .arg(script)
        .args(["-f", prefix])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running python3 dpdk-telemetry.py")
}

/// The number after `"key": ` in a reply the client printed.
fn field(reply: &str, key: &str) -> u64 {
    let pat = format!("\"{key}\": ");
    let at = reply
        .find(&pat)
        .unwrap_or_else(|| panic!("{key} in {reply}"))
        + pat.len();
    reply[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// testpmd's `show port stats` numbers of `port`, from its last display.
fn printed_stats(out: &str, port: u16) -> (u64, u64, u64, u64) {
    let block = out
        .rsplit(&format!("NIC statistics for port {port:<2}"))
        .next()
        .unwrap();
    let after = |label: &str| -> u64 {
        let at = block.find(label).unwrap() + label.len();
        block[at..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (
        after("RX-packets:"),
        after("TX-packets:"),
        after("RX-bytes:"),
        after("TX-bytes:"),
    )
}

#[test]
fn dpdk_telemetry_py_reads_testpmd() {
    let Some(script) = client_script() else {
        return;
    };
    let prefix = unique_prefix("telpmd");
    let mut tp = Testpmd::start(&prefix);
    let pid = tp.child.id();
    tp.send("start");
    std::thread::sleep(Duration::from_millis(700));
    tp.send("stop");
    tp.wait_for("Accumulated forward statistics");
    tp.send("show port stats all");
    tp.wait_for("NIC statistics for port 1");

    let replies = ask(
        &script,
        &prefix,
        &[
            "/ethdev/stats,0",
            "/ethdev/stats,1",
            "/",
            "/info",
            "/help,/ethdev/stats",
            "/no/such/command",
            "/ethdev/list",
            "/ethdev/link_status,0",
            "/ethdev/info,1",
            "/ethdev/xstats,0",
            "/mempool/list",
            "/mempool/info,mb_pool_0",
            "/ring/list",
            "/eal/lcore/list",
            "/eal/app_params",
            "/ethdev/stats,7",
        ],
    );
    assert_eq!(replies.len(), 16, "{replies:#?}");
    let out = tp.output();
    for port in [0u16, 1] {
        let r = &replies[port as usize];
        let (rx, tx, rxb, txb) = printed_stats(&out, port);
        assert!(rx > 0, "port {port} received nothing:\n{out}");
        assert_eq!(
            (
                field(r, "ipackets"),
                field(r, "opackets"),
                field(r, "ibytes"),
                field(r, "obytes")
            ),
            (rx, tx, rxb, txb),
            "port {port}: {r}"
        );
        assert!(r.contains(&format!("\"q_ipackets\": [{rx}, 0, ")), "{r}");
    }
    for cmd in [
        "/eal/params",
        "/eal/lcore/list",
        "/ethdev/list",
        "/ethdev/info",
        "/ethdev/stats",
        "/ethdev/xstats",
        "/ethdev/link_status",
        "/mempool/list",
        "/mempool/info",
        "/ring/list",
        "/ring/info",
        "/help",
        "/info",
    ] {
        assert!(
            replies[2].contains(&format!("\"{cmd}\"")),
            "{cmd}: {}",
            replies[2]
        );
    }
    assert!(replies[2].starts_with(r#"{"/": ["/", "/eal/app_params", "#));
    assert_eq!(
        replies[3],
        format!(
            r#"{{"/info": {{"version": "rpdk {}", "pid": {pid}, "max_output_len": 16384}}}}"#,
            rpdk_eal::VERSION
        )
    );
    assert_eq!(
        replies[4],
        r#"{"/help": {"/ethdev/stats": "Returns the common stats for a port. Parameters: int port_id"}}"#
    );
    assert_eq!(replies[5], r#"{"/no/such/command": null}"#);
    assert_eq!(replies[6], r#"{"/ethdev/list": [0, 1]}"#);
    assert_eq!(
        replies[7],
        r#"{"/ethdev/link_status": {"status": "UP", "speed": 10000, "duplex": "full-duplex"}}"#
    );
    assert!(
        replies[8].starts_with(
            r#"{"/ethdev/info": {"name": "net_null1", "state": 1, "nb_rx_queues": 1, "nb_tx_queues": 1, "port_id": 1, "mtu": 1500, "rx_mbuf_size_min": 2176, "#
        ),
        "{}",
        replies[8]
    );
    let (rx0, ..) = printed_stats(&out, 0);
    assert!(
        replies[9].contains(&format!("\"rx_good_packets\": {rx0}, "))
            && replies[9].contains(&format!("\"rx_q0_packets\": {rx0}, ")),
        "{}",
        replies[9]
    );
    assert_eq!(replies[10], r#"{"/mempool/list": ["mb_pool_0"]}"#);
    assert!(
        replies[11].starts_with(r#"{"/mempool/info": {"name": "mb_pool_0", "pool_id": "#)
            && replies[11].contains(r#""mz_name": "MP_mb_pool_0""#),
        "{}",
        replies[11]
    );
    assert_eq!(replies[12], r#"{"/ring/list": []}"#);
    assert_eq!(replies[13], r#"{"/eal/lcore/list": [0, 1]}"#);
    assert_eq!(replies[14], r#"{"/eal/app_params": ["-i"]}"#);
    assert_eq!(replies[15], r#"{"/ethdev/stats": null}"#);

    let dir = telemetry::socket_dir(&prefix);
    tp.quit();
    assert!(!dir.join(SOCKET_NAME).exists(), "socket left after quit");
}

/// Reads one line of a client's output, with a deadline.
fn read_line(r: &mut BufReader<ChildStdout>) -> String {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    line.trim_end().to_string()
}

#[test]
fn ten_dpdk_clients_at_once() {
    let Some(script) = client_script() else {
        return;
    };
    let prefix = unique_prefix("tel10py");
    let tp = Testpmd::start(&prefix);
    let mut clients: Vec<(Child, ChildStdin, BufReader<ChildStdout>)> = (0..10)
        .map(|_| {
            let mut c = client(&script, &prefix);
            let stdin = c.stdin.take().unwrap();
            let stdout = BufReader::new(c.stdout.take().unwrap());
            (c, stdin, stdout)
        })
        .collect();
    // Each answers one request while keeping its connection: then all ten are connected.
    for (_, stdin, stdout) in &mut clients {
        writeln!(stdin, "/ethdev/list").unwrap();
        assert_eq!(read_line(stdout), r#"{"/ethdev/list": [0, 1]}"#);
    }
    // And all ten are served together.
    for (_, stdin, _) in &mut clients {
        for _ in 0..20 {
            writeln!(stdin, "/ethdev/link_status,1").unwrap();
        }
    }
    for (_, _, stdout) in &mut clients {
        for _ in 0..20 {
            assert_eq!(
                read_line(stdout),
                r#"{"/ethdev/link_status": {"status": "UP", "speed": 10000, "duplex": "full-duplex"}}"#
            );
        }
    }
    for (mut c, stdin, _) in clients {
        drop(stdin);
        assert!(c.wait().unwrap().success());
    }
    tp.quit();
}

#[test]
fn a_testpmd_killed_with_sigkill_is_served_again_after_restart() {
    let Some(script) = client_script() else {
        return;
    };
    let prefix = unique_prefix("telkill");
    let socket = telemetry::socket_dir(&prefix).join(SOCKET_NAME);
    let mut tp = Testpmd::start(&prefix);
    assert_eq!(
        ask(&script, &prefix, &["/ethdev/list"]),
        [r#"{"/ethdev/list": [0, 1]}"#]
    );
    tp.child.kill().unwrap();
    tp.child.wait().unwrap();
    drop(tp);
    assert!(socket.exists(), "SIGKILL leaves the socket file");

    let tp = Testpmd::start(&prefix);
    let pid = tp.child.id();
    let info = ask(&script, &prefix, &["/info", "/ethdev/list"]);
    assert!(
        info[0].contains(&format!("\"pid\": {pid},")),
        "the new process answers at the same path: {info:?}"
    );
    assert_eq!(info[1], r#"{"/ethdev/list": [0, 1]}"#);
    tp.quit();
    assert!(!socket.exists());
}

#[test]
fn an_application_that_exits_with_the_eal_running_leaves_no_socket() {
    let prefix = unique_prefix("telexit");
    // l2fwd refuses a port mask after the EAL is up, and exits (DPDK's rte_exit) without
    // cleaning up: the exit handler removes the socket.
    let out = Command::new(env!("CARGO_BIN_EXE_l2fwd"))
        .args([
            "-l",
            &allowed_cpus()[0].to_string(),
            "--no-huge",
            "--no-shconf",
        ])
        .args([
            "--file-prefix",
            &prefix,
            "--vdev",
            "net_null0",
            "--",
            "-p",
            "0x4",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Invalid portmask"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = telemetry::socket_dir(&prefix);
    assert!(!dir.join(SOCKET_NAME).exists(), "socket left at exit");
    assert!(!dir.exists(), "prefix directory left at exit");
}
