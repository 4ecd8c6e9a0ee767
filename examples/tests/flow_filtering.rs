//! flow_filtering run as a process, unchanged, in its template mode (the default) and its
//! non-template mode, on net_af_packet, net_af_xdp and net_tap (in a
//! network namespace of the test's own, root only) and net_pcap (a capture file this test
//! writes): every frame sent is printed once, with its MAC addresses, on queue 1 when it is IPv4
//! to 192.168.1.1 and on another queue otherwise. Sending is bounded; every child is stopped by
//! SIGINT (killed after 20 s at worst) and its namespace removed on drop.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use rpdk_testsupport::netns::NetNs;
use rpdk_testsupport::raw::RawSocket;
use rpdk_testsupport::{allowed_cpus, require_root};

const BIN: &str = env!("CARGO_BIN_EXE_flow_filtering");

/// A running flow_filtering: its stdout as lines through a channel.
struct Run {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Run {
    /// Starts flow_filtering with one lcore, 4 KiB pages and `vdevs`, in the calling thread's
    /// network namespace.
    fn start(vdevs: &[String]) -> Run {
        Run::start_with(vdevs, &[])
    }

    /// The same with application arguments (after `--`).
    fn start_with(vdevs: &[String], app: &[&str]) -> Run {
        let mut cmd = Command::new(BIN);
        cmd.args([
            "--lcores",
            &format!("0@{}", allowed_cpus()[0]),
            "--no-huge",
            "--no-shconf",
        ]);
        for v in vdevs {
            cmd.args(["--vdev", v]);
        }
        if !app.is_empty() {
            cmd.arg("--").args(app);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting flow_filtering");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Run {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads lines until `done` holds for what was seen or `wait` passes; whether it held.
    fn wait_until(&mut self, wait: Duration, done: impl Fn(&[String]) -> bool) -> bool {
        let deadline = Instant::now() + wait;
        while !done(&self.seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(_) => return false,
            }
        }
        true
    }

    /// Reads what comes within `quiet` of the last line.
    fn drain(&mut self, quiet: Duration) {
        while let Ok(l) = self.lines.recv_timeout(quiet) {
            self.seen.push(l);
        }
    }

    /// Sends SIGINT, waits for the exit (killing after 20 s) and returns the exit code, all
    /// of stdout and stderr.
    fn stop(mut self) -> (Option<i32>, Vec<String>, String) {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let status = self.child.wait().unwrap();
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.seen.push(l);
        }
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (status.code(), self.seen, err)
    }
}

fn started(lines: &[String]) -> bool {
    lines.iter().any(|l| l == ":: initializing port: 0 done")
}

/// The frames a test sends: `(frame, should land on queue 1)`, each with its own source MAC
/// `02:00:00:00:KK:II` (kind, index). Matching: IPv4 to 192.168.1.1 from any source, UDP, TCP
/// and ICMP. Not matching: IPv4 to 192.168.1.2, ARP asking for 192.168.1.1, IPv6.
fn frames(per_kind: u8) -> Vec<(Vec<u8>, bool)> {
    let dst = [0x02, 0, 0, 0, 0, 0xee];
    let mut out = Vec::new();
    for i in 0..per_kind {
        let src = |k: u8| [0x02, 0, 0, 0, k, i];
        let mut f = Vec::new();
        etherparse::PacketBuilder::ethernet2(src(1), dst)
            .ipv4([10, 0, 0, i], [192, 168, 1, 1], 64)
            .udp(1000 + i as u16, 53)
            .write(&mut f, b"to 192.168.1.1")
            .unwrap();
        out.push((f, true));
        let mut f = Vec::new();
        etherparse::PacketBuilder::ethernet2(src(2), dst)
            .ipv4([172, 16, i, 9], [192, 168, 1, 1], 64)
            .tcp(40000, 80, i as u32, 1024)
            .write(&mut f, b"")
            .unwrap();
        out.push((f, true));
        let mut f = Vec::new();
        etherparse::PacketBuilder::ethernet2(src(3), dst)
            .ipv4([10, 0, 0, i], [192, 168, 1, 1], 64)
            .icmpv4_echo_request(7, i as u16)
            .write(&mut f, b"ping")
            .unwrap();
        out.push((f, true));
        let mut f = Vec::new();
        etherparse::PacketBuilder::ethernet2(src(4), dst)
            .ipv4([10, 0, 0, i], [192, 168, 1, 2], 64)
            .udp(1000 + i as u16, 53)
            .write(&mut f, b"to 192.168.1.2")
            .unwrap();
        out.push((f, false));
        // ARP who-has 192.168.1.1: not IPv4.
        let mut f = vec![0xff; 6];
        f.extend(src(5));
        f.extend([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
        f.extend(src(5));
        f.extend([10, 0, 0, i, 0, 0, 0, 0, 0, 0, 192, 168, 1, 1]);
        f.resize(60, 0);
        out.push((f, false));
        let mut f = Vec::new();
        etherparse::PacketBuilder::ethernet2(src(6), dst)
            .ipv6([0xfe; 16], [0x20; 16], 64)
            .udp(1, 2)
            .write(&mut f, b"v6")
            .unwrap();
        out.push((f, false));
    }
    out
}

/// The line flow_filtering prints for a frame received on queue `q`.
fn line_of(frame: &[u8], q: u16) -> String {
    let mac = |b: &[u8]| {
        b.iter()
            .map(|x| format!("{x:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    format!(
        "src={} - dst={} - queue=0x{q:x}",
        mac(&frame[6..12]),
        mac(&frame[0..6])
    )
}

/// The packet lines of our frames (source MAC `02:00:00:00:..`), by source MAC.
fn packet_lines(lines: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut by_src: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in lines.iter().filter(|l| l.starts_with("src=02:00:00:00:")) {
        by_src
            .entry(l[4..21].to_string())
            .or_default()
            .push(l.clone());
    }
    by_src
}

/// Every frame was printed exactly once; the matching ones on queue 1, the others on
/// `other_queue` (queue 0 where the port has one device queue), or on any queue when `None`
/// (the kernel picks a device queue per flow).
fn check_lines(lines: &[String], sent: &[(Vec<u8>, bool)], other_queue: Option<u16>) {
    let by_src = packet_lines(lines);
    assert_eq!(by_src.len(), sent.len(), "one source per frame: {lines:#?}");
    for (f, matching) in sent {
        let src = &line_of(f, 0)[4..21];
        let got = by_src
            .get(src)
            .unwrap_or_else(|| panic!("no line for {src}: {lines:#?}"));
        assert_eq!(got.len(), 1, "{src} printed once: {got:?}");
        if *matching {
            assert_eq!(got[0], line_of(f, 1), "{lines:#?}");
        } else if let Some(q) = other_queue {
            assert_eq!(got[0], line_of(f, q), "{lines:#?}");
        } else {
            assert!(
                (0..5).any(|q| got[0] == line_of(f, q)),
                "{got:?} is a line of one of the 5 queues"
            );
        }
    }
}

/// Runs flow_filtering on `vdev`, sends `sent` through `raw`, and checks the lines and a clean
/// exit on SIGINT.
fn run_over(vdev: String, raw: &RawSocket, other_queue: Option<u16>) {
    run_over_with(vdev, raw, other_queue, &[]);
}

/// [`run_over`] with flow_filtering's own arguments; returns its lines.
fn run_over_with(
    vdev: String,
    raw: &RawSocket,
    other_queue: Option<u16>,
    app: &[&str],
) -> Vec<String> {
    let mut run = Run::start_with(&[vdev], app);
    assert!(
        run.wait_until(Duration::from_secs(15), started),
        "did not start: {:?}",
        run.stop()
    );
    let sent = frames(10);
    for (f, _) in &sent {
        raw.send(f);
    }
    let ours = |ls: &[String]| {
        ls.iter()
            .filter(|l| l.starts_with("src=02:00:00:00:"))
            .count()
            >= 60
    };
    run.wait_until(Duration::from_secs(10), ours);
    run.drain(Duration::from_millis(300));
    let (code, lines, err) = run.stop();
    assert_eq!(code, Some(0), "{lines:#?}\n{err}");
    check_lines(&lines, &sent, other_queue);
    assert_eq!(lines[0], ":: initializing port: 0", "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l == "Signal 2 received, preparing to exit..."),
        "{lines:#?}"
    );
    // Only the non-matching frames and the matching ones: 60 lines of ours.
    let ours = lines
        .iter()
        .filter(|l| l.starts_with("src=02:00:00:00:"))
        .count();
    assert_eq!(ours, 60, "{lines:#?}");
    lines
}

#[test]
fn template_and_non_template_modes_on_af_packet() {
    if !require_root("template_and_non_template_modes_on_af_packet") {
        return;
    }
    let ns = NetNs::new("ffmode").unwrap();
    ns.add_veth("veth0", "veth1").unwrap();
    let _in = ns.enter().unwrap();
    let raw = RawSocket::open("veth1");
    let vdev = || "net_af_packet0,iface=veth0".to_string();
    let configured = |ls: &[String]| {
        ls.iter()
            .any(|l| l == ":: Configuring template port [0] Done ..")
    };
    let created = |ls: &[String]| ls.iter().any(|l| l == "Flow created!!:");
    let lines = run_over_with(vdev(), &raw, Some(0), &["--template"]);
    assert!(configured(&lines) && created(&lines), "{lines:#?}");
    let lines = run_over_with(vdev(), &raw, Some(0), &["--non-template"]);
    assert!(!configured(&lines) && created(&lines), "{lines:#?}");
    // An unknown argument.
    let out = Command::new(BIN)
        .args(["--no-huge", "--no-shconf", "--lcores"])
        .arg(format!("0@{}", allowed_cpus()[0]))
        .args(["--vdev", "net_null0", "--", "--fast"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Invalid flow filtering arguments"), "{err}");
}

#[test]
fn steers_ipv4_to_192_168_1_1_to_queue_1_on_af_packet() {
    if !require_root("steers_ipv4_to_192_168_1_1_to_queue_1_on_af_packet") {
        return;
    }
    let ns = NetNs::new("ffpkt").unwrap();
    ns.add_veth("veth0", "veth1").unwrap();
    let _in = ns.enter().unwrap();
    let raw = RawSocket::open("veth1");
    run_over("net_af_packet0,iface=veth0".into(), &raw, Some(0));
}

#[test]
fn steers_on_af_xdp() {
    if !require_root("steers_on_af_xdp") {
        return;
    }
    let ns = NetNs::new("ffxdp").unwrap();
    ns.add_veth("veth0", "veth1").unwrap();
    let _in = ns.enter().unwrap();
    let raw = RawSocket::open("veth1");
    // Non-template: the template mode's `port stop` + `port start` leaves an af_xdp port on a
    // veth receiving nothing (a driver restart problem, noted for the af_xdp driver).
    run_over_with(
        "net_af_xdp0,iface=veth0".into(),
        &raw,
        Some(0),
        &["--non-template"],
    );
}

#[test]
fn steers_on_tap() {
    if !require_root("steers_on_tap") {
        return;
    }
    let ns = NetNs::new("fftap").unwrap();
    let _in = ns.enter().unwrap();
    let mut run = Run::start(&["net_tap0,iface=fftap0".into()]);
    assert!(
        run.wait_until(Duration::from_secs(15), started),
        "did not start: {:?}",
        run.stop()
    );
    ns.sh("sysctl -qw net.ipv6.conf.fftap0.disable_ipv6=1")
        .unwrap();
    // The kernel sends the frames out of the TAP interface, on the device queue its flow hash
    // picks: non-matching frames may land on any of the 5.
    let raw = RawSocket::open("fftap0");
    let sent = frames(10);
    for (f, _) in &sent {
        raw.send(f);
    }
    let n = |ls: &[String]| {
        ls.iter()
            .filter(|l| l.starts_with("src=02:00:00:00:"))
            .count()
            >= 60
    };
    run.wait_until(Duration::from_secs(10), n);
    run.drain(Duration::from_millis(300));
    let (code, lines, err) = run.stop();
    assert_eq!(code, Some(0), "{lines:#?}\n{err}");
    check_lines(&lines, &sent, None);
}

/// A classic little-endian pcap file of `frames`.
fn write_pcap(path: &std::path::Path, frames: &[&[u8]]) {
    let mut b = Vec::new();
    b.extend(0xa1b2_c3d4u32.to_le_bytes());
    b.extend(2u16.to_le_bytes());
    b.extend(4u16.to_le_bytes());
    b.extend([0u8; 8]);
    b.extend(65535u32.to_le_bytes());
    b.extend(1u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        b.extend((1_700_000_000u32 + i as u32).to_le_bytes());
        b.extend(0u32.to_le_bytes());
        b.extend((f.len() as u32).to_le_bytes());
        b.extend((f.len() as u32).to_le_bytes());
        b.extend_from_slice(f);
    }
    std::fs::write(path, b).unwrap();
}

#[test]
fn steers_frames_of_a_capture_file_on_pcap_and_warns_of_a_second_port() {
    let dir = std::env::temp_dir().join(format!("rpdk-ff-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sent = frames(10);
    let input = dir.join("in.pcap");
    write_pcap(
        &input,
        &sent.iter().map(|(f, _)| f.as_slice()).collect::<Vec<_>>(),
    );
    // Port 1's frames are never read: flow_filtering uses port 0 only.
    let mut other = Vec::new();
    etherparse::PacketBuilder::ethernet2([4, 0, 0, 0, 0, 1], [4, 0, 0, 0, 0, 2])
        .ipv4([1, 1, 1, 1], [192, 168, 1, 1], 64)
        .udp(1, 2)
        .write(&mut other, b"")
        .unwrap();
    let input1 = dir.join("in1.pcap");
    write_pcap(&input1, &[&other]);
    let mut run = Run::start(&[
        format!("net_pcap0,rx_pcap={}", input.display()),
        format!("net_pcap1,rx_pcap={}", input1.display()),
    ]);
    let n = |ls: &[String]| ls.iter().filter(|l| l.starts_with("src=")).count() >= 60;
    run.wait_until(Duration::from_secs(15), n);
    run.drain(Duration::from_millis(300));
    let (code, lines, err) = run.stop();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(0), "{lines:#?}\n{err}");
    assert_eq!(
        lines[0], ":: warn: 2 ports detected, but we use only one: port 0",
        "{lines:#?}"
    );
    assert!(started(&lines), "{lines:#?}");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("src=")).count(),
        60,
        "{lines:#?}"
    );
    check_lines(&lines, &sent, Some(0));
    // A file is read in order: each queue prints its packets in the file's order.
    for q in [0u16, 1] {
        let want: Vec<String> = sent
            .iter()
            .filter(|(_, m)| *m == (q == 1))
            .map(|(f, _)| line_of(f, q))
            .collect();
        let suffix = format!("queue=0x{q:x}");
        let got: Vec<String> = lines
            .iter()
            .filter(|l| l.starts_with("src=") && l.ends_with(&suffix))
            .cloned()
            .collect();
        assert_eq!(got, want, "queue {q}");
    }
}

#[test]
fn without_a_port_it_says_so() {
    let out = Command::new(BIN)
        .args(["--no-huge", "--no-shconf", "--lcores"])
        .arg(format!("0@{}", allowed_cpus()[0]))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(":: no Ethernet ports found"), "{err}");
}
