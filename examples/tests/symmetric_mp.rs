//! symmetric_mp as DPDK's users run it: two processes (`--proc-type auto`, proc ids 0 and 1)
//! forwarding between two TAP ports of two queues each, every TAP bridged to a veth pair in a
//! namespace. Frames of many UDP flows go into each veth; the kernel spreads them over the
//! TAP's queues; each process forwards its queue to the other port. Every frame comes out of
//! the other veth, and each process forwarded some. Root only.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use rpdk_testsupport::netns::NetNs;
use rpdk_testsupport::raw::RawSocket;
use rpdk_testsupport::{allowed_cpus, require_root, unique_prefix};

const N: usize = 200;
const FLOWS: usize = 64;
const DST: [u8; 6] = [0x02, 0, 0, 0, 0x99, 0x99];

struct App {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl App {
    fn start(ns: &NetNs, prefix: &str, lcore: &str, proc_id: u16, vdevs: &[String]) -> App {
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            ns.name(),
            env!("CARGO_BIN_EXE_symmetric_mp"),
        ])
        .args(["-l", lcore, "--no-huge", "--no-telemetry"])
        .arg(format!("--file-prefix={prefix}"))
        .arg("--proc-type=auto");
        for v in vdevs {
            cmd.args(["--vdev", v]);
        }
        let mut child = cmd
            .args(["--", "-p", "3", "--num-procs", "2", "--proc-id"])
            .arg(proc_id.to_string())
            .stdin(Stdio::null())
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
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn expect(&mut self, want: &str) -> String {
        let start = Instant::now();
        loop {
            if let Some(l) = self.seen.iter().find(|l| l.contains(want)) {
                return l.clone();
            }
            let left = Duration::from_secs(30).saturating_sub(start.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(_) => panic!("no {want:?} in:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// SIGINT, then its `Port N: RX - a, TX - b, Drop - c` lines as `(a, b, c)` per port.
    fn stop(mut self) -> Vec<(u64, u64, u64)> {
        // SAFETY: kill on our own child's pid (`ip netns exec` execs the program).
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let out: Vec<_> = (0..2)
            .map(|p| {
                let l = self.expect(&format!("Port {p}: RX - "));
                let v: Vec<u64> = l
                    .split(|c: char| !c.is_ascii_digit())
                    .filter(|s| !s.is_empty())
                    .skip(1)
                    .map(|s| s.parse().unwrap())
                    .collect();
                (v[0], v[1], v[2])
            })
            .collect();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status:?}\n{}", self.seen.join("\n"));
        out
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An Ethernet/IPv4/UDP frame of flow `flow`, direction `dir`, number `i`.
fn frame(dir: u8, flow: usize, i: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&DST);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0x77, dir]);
    f.extend_from_slice(&[0x08, 0x00]);
    let ip_len = 20 + 8 + 6;
    let mut ip = vec![0x45, 0, 0, ip_len as u8, 0, 0, 0, 0, 64, 17, 0, 0];
    ip.extend_from_slice(&[10, 0, dir, 1, 10, 0, dir, 2]);
    let sum = !ip
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .fold(0u32, |a, b| {
            let s = a + b;
            (s & 0xffff) + (s >> 16)
        }) as u16;
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&(10_000 + flow as u16).to_be_bytes());
    f.extend_from_slice(&9u16.to_be_bytes());
    f.extend_from_slice(&14u16.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&[0x5a, dir]);
    f.extend_from_slice(&(i as u32).to_be_bytes());
    f.resize(64, 0);
    f
}

/// The number of one of our frames of direction `dir`.
fn number(f: &[u8], dir: u8) -> Option<u32> {
    (f.len() >= 48 && f[12..14] == [0x08, 0x00] && f[42] == 0x5a && f[43] == dir)
        .then(|| u32::from_be_bytes([f[44], f[45], f[46], f[47]]))
}

#[test]
fn two_processes_forward_their_queues() {
    if !require_root("two_processes_forward_their_queues") {
        return;
    }
    let prefix = unique_prefix("symmp");
    let ns = NetNs::new("symmp").unwrap();
    ns.sh("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1")
        .unwrap();
    for i in 0..2 {
        ns.add_veth(&format!("rpdktsa{i}"), &format!("rpdktsb{i}"))
            .unwrap();
        ns.sh(&format!(
            "ip link add rpdktsbr{i} type bridge mcast_snooping 0 && \
             ip link set rpdktsbr{i} up && \
             ip link set rpdktsa{i} master rpdktsbr{i}"
        ))
        .unwrap();
    }
    let cpus = allowed_cpus();
    let (c0, c1) = (cpus[0], *cpus.get(1).unwrap_or(&cpus[0]));
    let vdevs: Vec<String> = (0..2)
        .map(|i| format!("net_tap{i},iface=rpdktst{i}"))
        .collect();
    let mut primary = App::start(&ns, &prefix, &format!("0@{c0}"), 0, &vdevs);
    primary.expect("APP: Finished Process Init.");
    primary.expect("lcore 0 using queue 0 of each port");
    for i in 0..2 {
        ns.sh(&format!("ip link set rpdktst{i} master rpdktsbr{i}"))
            .unwrap();
    }
    let mut secondary = App::start(&ns, &prefix, &format!("1@{c1}"), 1, &[]);
    secondary.expect("Auto-detected process type: SECONDARY");
    secondary.expect("lcore 1 using queue 1 of each port");

    let _in = ns.enter().unwrap();
    let socks = [RawSocket::open("rpdktsb0"), RawSocket::open("rpdktsb1")];
    for i in 0..N {
        socks[0].send(&frame(0, i % FLOWS, i));
        socks[1].send(&frame(1, i % FLOWS, i));
    }
    for (dir, out) in [(0u8, 1usize), (1, 0)] {
        let got = socks[out].recv_n_where(
            N,
            Duration::from_secs(10),
            Duration::from_millis(300),
            |f| number(f, dir).is_some(),
        );
        let nums: HashSet<u32> = got.iter().filter_map(|f| number(f, dir)).collect();
        assert_eq!(got.len(), N, "frames of port {dir} out of port {out}");
        assert_eq!(nums.len(), N, "each frame once");
    }
    let s = secondary.stop();
    let p = primary.stop();
    for port in 0..2 {
        let (rx_p, rx_s) = (p[port].0, s[port].0);
        assert!(
            rx_p > 0 && rx_s > 0,
            "port {port}: each process received some: {p:?} {s:?}"
        );
        assert_eq!(rx_p + rx_s, N as u64, "port {port}: {p:?} {s:?}");
        assert_eq!(
            p[port].1 + s[port].1,
            N as u64,
            "port {port} sent: {p:?} {s:?}"
        );
        assert_eq!(p[port].2 + s[port].2, 0, "no drops: {p:?} {s:?}");
    }
}
