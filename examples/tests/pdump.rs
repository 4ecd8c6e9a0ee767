//! rpdk-pdump and rpdk-proc-info as secondary processes of a running primary:
//!
//! - rpdk-pdump captures l2fwd's traffic on an af_packet port while it forwards between veth
//!   pairs in a namespace; `tcpdump -r` reads the pcapng and finds exactly the frames sent, in
//!   both directions (and tshark, when installed, the directions and interface names).
//! - rpdk-proc-info's `--stats` equal what the primary (rpdk-testpmd, stopped) prints, and its
//!   `--show-port` shows the modes, MTU, queues, descriptors, pool and RSS the primary set up
//!   and changed (two RX and TX queues of non-default sizes, drop_en, a TX free threshold, an RX
//!   offload, promiscuous mode off on one port, all-multicast off on the other, an MTU, RSS hash
//!   types).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rpdk_testsupport::allowed_cpus;
use rpdk_testsupport::netns::NetNs;
use rpdk_testsupport::raw::RawSocket;

fn lcores() -> String {
    let cpus = allowed_cpus();
    format!("0@{},1@{}", cpus[0], cpus[cpus.len() - 1])
}

/// Sends `sig` to `child` and waits for it (killing it after 20 s at worst).
fn signal_and_wait(mut child: Child, sig: i32) -> std::process::Output {
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, sig) };
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// The lines `child` prints on stdout, read by a thread; the text so far on request.
struct Lines {
    rx: mpsc::Receiver<String>,
    seen: String,
}

impl Lines {
    fn of(child: &mut Child) -> Lines {
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Lines {
            rx,
            seen: String::new(),
        }
    }

    /// Waits up to `wait` for a line containing `want`.
    fn wait_for(&mut self, want: &str, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.rx.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push_str(&l);
                    self.seen.push('\n');
                    if l.contains(want) {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
        false
    }

    fn rest(mut self) -> String {
        while let Ok(l) = self.rx.recv_timeout(Duration::from_millis(500)) {
            self.seen.push_str(&l);
            self.seen.push('\n');
        }
        self.seen
    }
}

/// A frame of our own ethertype, numbered `i` in `tag`.
fn frame(tag: u8, i: usize) -> Vec<u8> {
    let mut f = vec![0u8; 64 + i % 7 * 10];
    f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0xee, tag]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0xdd, tag]);
    f[12..14].copy_from_slice(&[0x88, 0xb5]);
    f[14] = tag;
    f[15..19].copy_from_slice(&(i as u32).to_be_bytes());
    f
}

fn ours(f: &[u8]) -> bool {
    f.len() > 14 && f[12..14] == [0x88, 0xb5]
}

/// The packets `tcpdump -r` reads from `path`, as bytes.
fn tcpdump(path: &std::path::Path) -> Vec<Vec<u8>> {
    let out = Command::new("tcpdump")
        .args(["-r", path.to_str().unwrap(), "-nn", "-xx"])
        .output()
        .expect("tcpdump is installed (scripts/install-deps.sh test)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut pkts: Vec<Vec<u8>> = Vec::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        if let Some(hex) = line.trim_start().strip_prefix("0x") {
            let (_, words) = hex.split_once(':').unwrap();
            let last = pkts.last_mut().unwrap();
            for w in words.split_whitespace() {
                for i in (0..w.len()).step_by(2) {
                    last.push(u8::from_str_radix(&w[i..i + 2], 16).unwrap());
                }
            }
        } else {
            pkts.push(Vec::new());
        }
    }
    pkts
}

#[test]
fn pdump_captures_l2fwd_on_af_packet_both_directions() {
    if !rpdk_testsupport::require_root("pdump_captures_l2fwd_on_af_packet_both_directions") {
        return;
    }
    let prefix = rpdk_testsupport::unique_prefix("pdump");
    let ns = NetNs::new("pd").unwrap();
    ns.add_veth("pa0", "pb0").unwrap();
    ns.add_veth("pa1", "pb1").unwrap();
    let file = std::env::temp_dir().join(format!("{prefix}.pcapng"));
    let lc = lcores();
    let mut l2fwd = Command::new("ip")
        .args(["netns", "exec", ns.name(), env!("CARGO_BIN_EXE_l2fwd")])
        .args(["--lcores", &lc, "--no-huge", "-m", "64", "--no-telemetry"])
        .args(["--file-prefix", &prefix])
        .args([
            "--vdev",
            "net_af_packet0,iface=pa0",
            "--vdev",
            "net_af_packet1,iface=pa1",
        ])
        .args(["--", "-p", "0x3", "-T", "1", "--no-mac-updating"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut l2_lines = Lines::of(&mut l2fwd);
    assert!(
        l2_lines.wait_for("Port statistics", Duration::from_secs(20)),
        "l2fwd is forwarding: {}",
        l2_lines.seen
    );
    let pdump_arg = format!(
        "port=0,queue=*,rx-dev={f},tx-dev={f},ring-size=4096,total-num-mbufs=2048",
        f = file.display()
    );
    let mut pdump = Command::new(env!("CARGO_BIN_EXE_rpdk-pdump"))
        .args(["--lcores", &format!("2@{}", allowed_cpus()[0])])
        .args(["--no-huge", "--no-telemetry", "--file-prefix", &prefix])
        .args(["--", "--pdump", &pdump_arg])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pd_lines = Lines::of(&mut pdump);
    if !pd_lines.wait_for(" core (", Duration::from_secs(20)) {
        let out = signal_and_wait(pdump, libc::SIGINT);
        signal_and_wait(l2fwd, libc::SIGTERM);
        panic!(
            "rpdk-pdump did not start capturing: {}{}",
            pd_lines.seen,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Into pb0: received on port 0 (rx), forwarded out of port 1 to pb1. Into pb1: received
    // on port 1, sent out of port 0 (tx) to pb0.
    let (rx_frames, tx_frames): (Vec<_>, Vec<_>) = (
        (0..60).map(|i| frame(1, i)).collect(),
        (0..40).map(|i| frame(2, i)).collect(),
    );
    let (got0, got1) = {
        let _in = ns.enter().unwrap();
        let (s0, s1) = (RawSocket::open("pb0"), RawSocket::open("pb1"));
        for (a, b) in rx_frames.iter().zip(&tx_frames) {
            s0.send(a);
            s1.send(b);
        }
        for a in &rx_frames[tx_frames.len()..] {
            s0.send(a);
        }
        let wait = Duration::from_secs(5);
        let got1 = s1.recv_n_where(rx_frames.len(), wait, Duration::from_millis(300), ours);
        let got0 = s0.recv_n_where(tx_frames.len(), wait, Duration::from_millis(300), ours);
        (got0, got1)
    };
    std::thread::sleep(Duration::from_millis(300));
    let pd = signal_and_wait(pdump, libc::SIGINT);
    let pd_out = pd_lines.rest();
    let l2 = signal_and_wait(l2fwd, libc::SIGTERM);
    let l2_out = l2_lines.rest();
    assert_eq!(got1, rx_frames, "l2fwd forwarded pb0's frames: {l2_out}");
    assert_eq!(got0, tx_frames, "l2fwd forwarded pb1's frames");
    assert!(
        pd.status.success(),
        "rpdk-pdump: {pd_out}{}",
        String::from_utf8_lossy(&pd.stderr)
    );
    assert!(
        l2.status.success(),
        "{}",
        String::from_utf8_lossy(&l2.stderr)
    );
    assert!(pd_out.contains("PDUMP DEBUG STATS"), "{pd_out}");

    // Exactly the frames sent, each once: pb0's as port 0 received them, pb1's as port 0
    // sent them (unchanged: --no-mac-updating).
    let pkts: Vec<Vec<u8>> = tcpdump(&file).into_iter().filter(|f| ours(f)).collect();
    let mut want: Vec<Vec<u8>> = rx_frames.iter().chain(&tx_frames).cloned().collect();
    let mut have = pkts.clone();
    want.sort();
    have.sort();
    assert_eq!(have.len(), want.len(), "{pd_out}");
    assert_eq!(have, want);
    if let Ok(out) = Command::new("tshark")
        .args(["-r", file.to_str().unwrap(), "-T", "fields"])
        .args([
            "-e",
            "frame.interface_name",
            "-e",
            "frame.packet_flags_direction",
        ])
        .args(["-Y", "eth.type == 0x88b5"])
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len(), 100, "{text}");
        assert_eq!(
            rows.iter().filter(|r| r.ends_with("0x00000001")).count(),
            60
        );
        assert_eq!(
            rows.iter().filter(|r| r.ends_with("0x00000002")).count(),
            40
        );
        assert!(rows.iter().all(|r| r.starts_with("pa0\t")), "{text}");
    }
    // The statistics blocks: interface 0 is port 0 rx, 1 is tx; every packet the capture saw
    // is in the file (nothing dropped), and the port dropped nothing either.
    let isbs = statistics_blocks(&std::fs::read(&file).unwrap());
    assert_eq!(isbs.len(), 2, "{isbs:?}");
    let all = tcpdump(&file).len() as u64;
    assert_eq!(isbs[0].0, 0);
    assert_eq!(isbs[1].0, 1);
    assert!(isbs[0].1 >= 60 && isbs[1].1 >= 40, "{isbs:?}");
    assert_eq!(
        isbs[0].1 + isbs[1].1,
        all,
        "ifrecv = packets written: {isbs:?}"
    );
    assert_eq!((isbs[0].2, isbs[1].2), (0, 0), "no capture drops: {isbs:?}");
    assert_eq!((isbs[0].3, isbs[1].3), (0, 0), "no port drops: {isbs:?}");
    std::fs::remove_file(&file).unwrap();
}

/// The interface statistics blocks of a pcapng file: (interface, ifrecv, ifdrop, osdrop).
fn statistics_blocks(file: &[u8]) -> Vec<(u32, u64, u64, u64)> {
    let word = |at: usize| u32::from_le_bytes(file[at..at + 4].try_into().unwrap());
    let mut out = Vec::new();
    let mut at = 0;
    while at < file.len() {
        let (ty, len) = (word(at), word(at + 4) as usize);
        if ty == 5 {
            let mut v = (word(at + 8), 0, 0, 0);
            let mut o = at + 20;
            while o < at + len - 4 {
                let code = u16::from_le_bytes(file[o..o + 2].try_into().unwrap());
                let olen = u16::from_le_bytes(file[o + 2..o + 4].try_into().unwrap()) as usize;
                if code == 0 {
                    break;
                }
                let val = || u64::from_le_bytes(file[o + 4..o + 12].try_into().unwrap());
                match code {
                    4 => v.1 = val(),
                    5 => v.2 = val(),
                    7 => v.3 = val(),
                    _ => {}
                }
                o += 4 + olen.div_ceil(4) * 4;
            }
            out.push(v);
        }
        at += len;
    }
    out
}

/// The numbers after `label` in `text`, in order.
fn numbers_after(text: &str, label: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| l.split_once(label))
        .filter_map(|(_, r)| r.split_whitespace().next()?.parse().ok())
        .collect()
}

/// The lines of `text` from the one equal to `from` up to (not including) the next one
/// starting with `=====` (a port's block of `--show-port`).
fn block<'a>(text: &'a str, from: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| *l != from)
        .enumerate()
        .take_while(|(i, l)| *i == 0 || !l.starts_with("====="))
        .map(|(_, l)| l)
        .collect()
}

#[test]
fn proc_info_shows_the_primarys_stats_and_ports() {
    let prefix = rpdk_testsupport::unique_prefix("procinfo");
    let lc = lcores();
    let mut testpmd = Command::new(env!("CARGO_BIN_EXE_rpdk-testpmd"))
        .args(["--lcores", &lc, "--no-huge", "-m", "64", "--no-telemetry"])
        .args(["--file-prefix", &prefix])
        .args(["--vdev", "net_null0", "--vdev", "net_null1"])
        .args(["--", "-i", "--total-num-mbufs=2048"])
        .args([
            "--rxq=2",
            "--txq=2",
            "--rxd=512",
            "--txd=256",
            "--txfreet=64",
        ])
        // RSS_HASH, which every port has (rpdk's stage computes it).
        .args(["--enable-drop-en", "--rx-offloads=0x80000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = testpmd.stdin.take().unwrap();
    let mut lines = Lines::of(&mut testpmd);
    writeln!(stdin, "start").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    writeln!(stdin, "stop").unwrap();
    assert!(
        lines.wait_for("Done.", Duration::from_secs(10)) || lines.seen.contains("stop"),
        "{}",
        lines.seen
    );
    std::thread::sleep(Duration::from_millis(200));
    let info = Command::new(env!("CARGO_BIN_EXE_rpdk-proc-info"))
        .args(["--no-huge", "--no-telemetry", "--file-prefix", &prefix])
        .args(["--", "--stats"])
        .output()
        .unwrap();
    let info_out = String::from_utf8_lossy(&info.stdout).into_owned();
    // Non-default modes and MTU, and new RSS hash types, while the primary runs; the key
    // testpmd shows tells they were applied (the commands run in order).
    for cmd in [
        "set promisc 0 off",
        "set allmulti 1 off",
        "port config mtu 0 1400",
        "port config all rss udp",
        "show port 0 rss-hash key",
    ] {
        writeln!(stdin, "{cmd}").unwrap();
    }
    assert!(
        lines.wait_for("RSS key:", Duration::from_secs(10))
            && lines.wait_for("", Duration::from_secs(10)),
        "{}",
        lines.seen
    );
    let tp_key = lines
        .seen
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string();
    let show = Command::new(env!("CARGO_BIN_EXE_rpdk-proc-info"))
        .args(["--no-huge", "--no-telemetry", "--file-prefix", &prefix])
        .args(["--", "--show-port"])
        .output()
        .unwrap();
    let show_out = String::from_utf8_lossy(&show.stdout).into_owned();
    writeln!(stdin, "show port stats all\nquit").unwrap();
    drop(stdin);
    let out = testpmd.wait_with_output().unwrap();
    let tp = lines.rest();
    assert!(
        info.status.success(),
        "proc-info: {info_out}{}",
        String::from_utf8_lossy(&info.stderr)
    );
    assert!(out.status.success());
    // testpmd's `show port stats all`, after the `stop`'s "Done.".
    let tp_stats = tp.rsplit("Done.").next().unwrap_or(&tp).to_string();
    for (label, beside) in [("RX-packets:", "RX-missed"), ("TX-packets:", "TX-errors")] {
        let port_lines: String = tp_stats
            .lines()
            .filter(|l| l.contains(beside))
            .map(|l| format!("{l}\n"))
            .collect();
        let primary = numbers_after(&port_lines, label);
        // proc-info's per-port lines come first; the per-queue "Stats reg" lines follow.
        let secondary: Vec<u64> = info_out
            .lines()
            .filter(|l| !l.contains("Stats reg"))
            .filter_map(|l| l.split_once(label))
            .filter_map(|(_, r)| r.split_whitespace().next()?.parse().ok())
            .collect();
        assert_eq!(primary.len(), 2, "{tp_stats}");
        if label == "RX-packets:" {
            assert!(primary.iter().all(|&n| n > 0), "{tp_stats}");
        }
        assert_eq!(
            secondary, primary,
            "{label}\nproc-info:\n{info_out}\ntestpmd:\n{tp_stats}"
        );
    }

    assert!(
        show.status.success(),
        "proc-info --show-port: {show_out}{}",
        String::from_utf8_lossy(&show.stderr)
    );
    assert_eq!(
        show_out.lines().next(),
        Some("========== show - Port PMD =========="),
        "{show_out}"
    );
    // The MACs testpmd printed when it configured the ports.
    let mac = |p: u16| {
        tp.lines()
            .find_map(|l| l.strip_prefix(&format!("Port {p}: ")))
            .unwrap_or_else(|| panic!("no MAC of port {p} in:\n{tp}"))
            .to_string()
    };
    // testpmd's key as proc-info prints it: bytes in lower-case hex without leading zeros.
    assert_eq!(tp_key.len(), 80, "a 40-byte key: {tp_key}\n{tp}");
    let key: String = (0..40)
        .map(|i| {
            format!(
                " {:x}",
                u8::from_str_radix(&tp_key[2 * i..2 * i + 2], 16).unwrap()
            )
        })
        .collect();
    for (p, promisc, allmulti, mtu) in [
        (0, "disabled", "enabled", 1400),
        (1, "enabled", "disabled", 1500),
    ] {
        let got = block(&show_out, &format!("===== Port {p} ====="));
        let mut want = vec![
            format!("===== Port {p} ====="),
            "  - generic config".to_string(),
            format!("\t  -- driver net_null device net_null{p} socket 0"),
            "\tLink up at 10 Gbps FDX Fixed".to_string(),
            format!("\t  -- mac {}", mac(p)),
            format!("\t  -- promiscuous mode {promisc}"),
            format!("\t  -- all multicast mode {allmulti}"),
            format!("\t  -- mtu ({mtu})"),
            "  - rx queue".to_string(),
        ];
        // testpmd's pool: 2176-byte buffers (2048 of data after the 128 of headroom).
        for q in 0..2 {
            want.push(format!(
                "\t  -- {q} descriptors 512 drop_en rx buffer size 2048 mempool mb_pool_0 \
                 socket 0 offloads : RSS_HASH"
            ));
        }
        want.push("  - tx queue".to_string());
        for q in 0..2 {
            want.push(format!("\t  -- {q} descriptors 256 thresh 0/64"));
        }
        want.push("  - RSS".to_string());
        // udp: ipv4-udp, ipv6-udp and ipv6-udp-ex (bits 5, 11 and 17).
        want.push(format!(
            "\t  -- RSS len 40 key (hex):{key}\t  -- hf 0x20820"
        ));
        assert_eq!(got, want, "port {p}:\n{show_out}");
    }
}
