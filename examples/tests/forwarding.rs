//! l2fwd and rpdk-testpmd run as processes over net_null ports: their output, counts, signals,
//! interactive commands and bad arguments.

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rpdk_testsupport::allowed_cpus;

fn two_lcores() -> String {
    let cpus = allowed_cpus();
    format!("0@{},1@{}", cpus[0], cpus[cpus.len() - 1])
}

fn spawn(bin: &str, eal: &[&str], app: &[&str], stdin: Stdio) -> Child {
    let lcores = two_lcores();
    Command::new(bin)
        .args(["--lcores", &lcores, "--no-huge", "--no-shconf"])
        .args(eal)
        .arg("--")
        .args(app)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the example")
}

/// Lets `child` run for `secs`, then sends `sig` and collects its output (killing it after 20 s
/// more at worst).
fn run_then_signal(mut child: Child, secs: u64, sig: i32) -> Output {
    std::thread::sleep(Duration::from_secs(secs));
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

/// Lets `child` run until its stdout so far satisfies `ready` (60 s at most, so that a loaded
/// machine's slow start-up does not make the signal come before forwarding did), then sends
/// `sig` and collects its output as [`run_then_signal`].
fn run_until_then_signal(mut child: Child, ready: impl Fn(&str) -> bool, sig: i32) -> Output {
    use std::io::Read;
    let mut so = child.stdout.take().expect("piped stdout");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let sink = seen.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = so.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
        if ready(&String::from_utf8_lossy(&seen.lock().unwrap())) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = run_then_signal(child, 0, sig);
    reader.join().unwrap();
    out.stdout = std::mem::take(&mut *seen.lock().unwrap());
    out
}

fn number_after(text: &str, label: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| l.split_once(label))
        .filter_map(|(_, rest)| rest.split_whitespace().next()?.parse().ok())
        .collect()
}

const NULL2: [&str; 4] = ["--vdev", "net_null0", "--vdev", "net_null1"];

#[test]
fn l2fwd_forwards_and_stops_cleanly_on_sigterm() {
    let child = spawn(
        env!("CARGO_BIN_EXE_l2fwd"),
        &NULL2,
        &["-p", "0x3", "-T", "1"],
        Stdio::null(),
    );
    let out = run_then_signal(child, 3, libc::SIGTERM);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Lcore 0: RX port 0 TX port 1") && stdout.contains("RX port 1 TX port 0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Signal 15 received, preparing to exit..."),
        "{stdout}"
    );
    assert!(
        stdout.matches("Port statistics ====").count() >= 2,
        "periodic and final statistics: {stdout}"
    );
    let final_block = stdout.rsplit("Port statistics ====").next().unwrap();
    let received = number_after(final_block, "Total packets received:")[0];
    let sent = number_after(final_block, "Total packets sent:")[0];
    assert!(received > 1000, "{final_block}");
    assert_eq!(sent, received, "null ports take everything: {final_block}");
    assert_eq!(number_after(final_block, "Total packets dropped:")[0], 0);
    assert!(
        stdout.contains("Closing port 0... Done") && stdout.trim_end().ends_with("Bye..."),
        "{stdout}"
    );
}

#[test]
fn l2fwd_refuses_bad_arguments() {
    for (app, want) in [
        (&["-p", "0xz"][..], "'0xz' is not a hexadecimal port mask"),
        (&["-p", "0x4"], "Invalid portmask; possible (0x3)"),
        (&["-p", "0x3", "-q", "0"], "-q"),
        (
            &["-p", "0x3", "--portmap", "(0,1"],
            "is not a list of (rx,tx) pairs",
        ),
        (
            &["-p", "0x3", "--portmap", "(0,2)"],
            "port 2 of --portmap is not enabled",
        ),
        (&[], "-p <PORTMASK>"),
    ] {
        let out = spawn(env!("CARGO_BIN_EXE_l2fwd"), &NULL2, app, Stdio::null())
            .wait_with_output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{app:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(want), "{app:?}: {stderr}");
    }
}

#[test]
fn testpmd_io_prints_testpmd_statistics() {
    let child = spawn(
        env!("CARGO_BIN_EXE_rpdk-testpmd"),
        &NULL2,
        &["--forward-mode=io", "--stats-period=1", "--nb-cores=1"],
        Stdio::null(),
    );
    let out = run_until_then_signal(
        child,
        |so| number_after(so, "Rx-pps:").iter().any(|&p| p > 0),
        libc::SIGINT,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("io packet forwarding - ports=2 - cores=1 - streams=2"),
        "{stdout}"
    );
    assert!(
        stdout.contains("RX P=0/Q=0 (socket 0) -> TX P=1/Q=0 (socket 0) peer=02:00:00:00:00:01"),
        "{stdout}"
    );
    assert!(stdout.contains("NIC statistics for port 0"), "{stdout}");
    let pps = number_after(&stdout, "Rx-pps:");
    assert!(pps.iter().any(|&p| p > 0), "throughput lines: {stdout}");
    let acc = stdout
        .split("Accumulated forward statistics")
        .nth(1)
        .expect("accumulated block");
    let rx = number_after(acc, "RX-packets:")[0];
    let tx = number_after(acc, "TX-packets:")[0];
    assert!(rx > 1000 && rx == tx, "{acc}");
    assert!(
        stdout.contains("Port 1 is closed") && stdout.trim_end().ends_with("Bye..."),
        "{stdout}"
    );
}

#[test]
fn testpmd_txonly_sends_without_receiving() {
    let child = spawn(
        env!("CARGO_BIN_EXE_rpdk-testpmd"),
        &NULL2,
        &[
            "--forward-mode=txonly",
            "--stats-period=1",
            "--txpkts=64,64",
        ],
        Stdio::null(),
    );
    let out = run_until_then_signal(
        child,
        |so| number_after(so, "Tx-pps:").iter().any(|&p| p > 0),
        libc::SIGINT,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let acc = stdout
        .split("Accumulated forward statistics")
        .nth(1)
        .expect("accumulated block");
    assert_eq!(number_after(acc, "RX-packets:")[0], 0, "{acc}");
    assert!(number_after(acc, "TX-packets:")[0] > 100, "{acc}");
}

#[test]
fn testpmd_interactive_commands() {
    let mut child = spawn(
        env!("CARGO_BIN_EXE_rpdk-testpmd"),
        &NULL2,
        &["-i"],
        Stdio::piped(),
    );
    let mut stdin = child.stdin.take().unwrap();
    writeln!(
        stdin,
        "show port info 0\nshow port summary all\nset fwd macswap\nstart"
    )
    .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    writeln!(
        stdin,
        "show port stats all\nset fwd io\nstop\nshow port stats 9\nfrobnicate\nquit"
    )
    .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for want in [
        "Infos for port 0",
        "Driver name: net_null",
        "Number of available ports: 2",
        "Set macswap packet forwarding mode",
        "macswap packet forwarding - ports=2",
        "NIC statistics for port 1",
        "Please stop forwarding first",
        "Accumulated forward statistics",
        "Invalid port 9",
        "Bad arguments",
        "Bye...",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in:\n{stdout}");
    }
}

/// rpdk-testpmd with `app` after two net_null ports, run for `secs` then stopped by SIGINT;
/// its stdout.
fn testpmd_for(lcores: &str, app: &[&str], secs: u64) -> String {
    let child = Command::new(env!("CARGO_BIN_EXE_rpdk-testpmd"))
        .args(["--lcores", lcores, "--no-huge", "--no-shconf"])
        .args(NULL2)
        .arg("--")
        .args(app)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = run_then_signal(child, secs, libc::SIGINT);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn testpmd_hairpin_queues_on_a_service_lcore() {
    let cpus = allowed_cpus();
    if cpus.len() < 3 {
        // Main, forwarding and service lcores each on a CPU of their own: with fewer, the
        // busy service loop shares a CPU and the run measures the scheduler.
        eprintln!("SKIPPED testpmd_hairpin_queues_on_a_service_lcore: needs 3 CPUs");
        return;
    }
    let lcores = format!("0@{},1@{},2@{}", cpus[0], cpus[1], cpus[2]);
    let stdout = testpmd_for(
        &lcores,
        &["--hairpinq=1", "--nb-cores=1", "--stats-period=1"],
        3,
    );
    assert!(
        stdout.contains("lcore 2 is the service lcore that moves the hairpins"),
        "{stdout}"
    );
    // The hairpin queues' packets are the ports' but no stream's.
    let port0 = stdout.rsplit("NIC statistics for port 0").next().unwrap();
    let tx = number_after(port0, "TX-packets:")[0];
    let acc = stdout
        .split("Accumulated forward statistics")
        .nth(1)
        .expect("accumulated block");
    assert!(tx > number_after(acc, "TX-packets:")[0] / 2, "{stdout}");
}

#[test]
fn testpmd_streams_per_core_and_rss() {
    let stdout = testpmd_for(
        &two_lcores(),
        &[
            "--rxq=2",
            "--txq=2",
            "--rss-udp",
            "--nb-cores=1",
            "--stats-period=1",
        ],
        3,
    );
    for want in [
        "io packet forwarding - ports=2 - cores=1 - streams=4",
        "Logical Core 1 (socket 0) forwards packets on 4 streams:",
        // net_null's frames are not IP: RSS gives them all to queue 0, and the unused
        // queue-1 streams print nothing, as DPDK's.
        "------- Forward Stats for RX Port= 0/Queue= 0 -> TX Port= 1/Queue= 0 -------",
        "------- Forward Stats for RX Port= 1/Queue= 0 -> TX Port= 0/Queue= 0 -------",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("Queue= 1 ->"), "{stdout}");
    // The per-stream blocks come before the per-port ones, and add up to them.
    let at_stop = stdout.split("Telling cores to stop").nth(1).expect("stop");
    let (streams, ports) = at_stop
        .split_once("Forward statistics for port 0")
        .expect("port block");
    let per_stream: u64 = number_after(streams, "RX-packets:").iter().sum();
    let acc = ports
        .split("Accumulated forward statistics")
        .nth(1)
        .expect("accumulated block");
    assert_eq!(per_stream, number_after(acc, "RX-packets:")[0], "{stdout}");
    assert!(per_stream > 1000);
}

#[test]
fn testpmd_configures_rss_at_the_prompt() {
    let mut child = spawn(
        env!("CARGO_BIN_EXE_rpdk-testpmd"),
        &NULL2,
        &["-i", "--rxq=2", "--txq=2"],
        Stdio::piped(),
    );
    let mut stdin = child.stdin.take().unwrap();
    writeln!(
        stdin,
        "show port 0 rss-hash\nport config all rss udp\nshow port 1 rss-hash key\nport config all rss warp\nport config 0 rss reta (0,1)(5,1)\nshow port 0 rss reta\nport config 0 rss reta (0,9)\nquit"
    )
    .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for want in [
        "RSS functions:\n  ipv4 ipv4-frag ipv4-other ipv6 ipv6-frag ipv6-other ipv6-ex\n",
        "RSS functions:\n  ipv4-udp ipv6-udp ipv6-udp-ex\nRSS key:\n6D5A56DA255B0EC2",
        "Unknown RSS type warp",
        "RSS RETA configuration: hash index=0, queue=1\n",
        "RSS RETA configuration: hash index=1, queue=1\n",
        "RSS RETA configuration: hash index=2, queue=0\n",
        "RSS RETA configuration: hash index=5, queue=1\n",
        "RSS RETA configuration: hash index=127, queue=1\n",
        "Failed to set RSS redirection table: port 0: invalid configuration: RETA entry 0 to queue 9: 2 RX queues configured",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in:\n{stdout}");
    }
}

#[test]
fn testpmd_refuses_bad_arguments() {
    for (app, want) in [
        (&["--forward-mode=warp"][..], "--forward-mode"),
        (&["--burst=0"], "--burst"),
        (&["--txpkts=20"], "42 bytes of headers"),
    ] {
        let out = spawn(
            env!("CARGO_BIN_EXE_rpdk-testpmd"),
            &NULL2,
            app,
            Stdio::null(),
        )
        .wait_with_output()
        .unwrap();
        assert_eq!(out.status.code(), Some(1), "{app:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(want),
            "{app:?}"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_rpdk-testpmd"))
        .args([
            "-l",
            &allowed_cpus()[0].to_string(),
            "--no-huge",
            "--no-shconf",
            "--vdev",
            "net_null0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least one worker lcore"));
}

/// l2fwd between two pcap ports: every frame of the input file comes out of the other port in
/// order, its MACs rewritten as DPDK's l2fwd does, and tcpdump reads the output.
#[test]
fn l2fwd_rewrites_macs_between_pcap_ports() {
    use rpdk_ethdev::drivers::pcap::format;
    let dir = std::env::temp_dir().join(rpdk_testsupport::unique_prefix("l2pcap"));
    std::fs::create_dir_all(&dir).unwrap();
    let (input, output, empty) = (
        dir.join("in.pcap"),
        dir.join("out.pcap"),
        dir.join("empty.pcap"),
    );
    let mut bytes = Vec::new();
    format::write_file_header(&mut bytes, false, 65535);
    let mut frames = Vec::new();
    for i in 0..50u16 {
        let mut f = Vec::new();
        etherparse::PacketBuilder::ethernet2([0xaa; 6], [0xbb; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(1000 + i, 2000)
            .write(&mut f, &[i as u8; 30])
            .unwrap();
        format::write_record_header(
            &mut bytes,
            false,
            i as u64 * 1000,
            f.len() as u32,
            f.len() as u32,
        );
        bytes.extend_from_slice(&f);
        frames.push(f);
    }
    std::fs::write(&input, &bytes).unwrap();
    let mut hdr = Vec::new();
    format::write_file_header(&mut hdr, false, 65535);
    std::fs::write(&empty, &hdr).unwrap();
    let p0 = format!(
        "net_pcap0,rx_pcap={},tx_pcap={}",
        input.display(),
        dir.join("back.pcap").display()
    );
    let p1 = format!(
        "net_pcap1,rx_pcap={},tx_pcap={}",
        empty.display(),
        output.display()
    );
    let child = spawn(
        env!("CARGO_BIN_EXE_l2fwd"),
        &["--vdev", &p0, "--vdev", &p1],
        &["-p", "0x3", "-T", "1"],
        Stdio::null(),
    );
    let out = run_then_signal(child, 3, libc::SIGTERM);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let file = std::fs::File::open(&output).unwrap();
    let mut reader =
        format::Reader::new(std::io::BufReader::new(file), output.display().to_string()).unwrap();
    let mut got = Vec::new();
    while let Some(p) = reader.next_packet().unwrap() {
        got.push(p.data.to_vec());
    }
    assert_eq!(got.len(), frames.len(), "every frame forwarded once");
    let port1_mac = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Port 1, MAC address: "))
        .expect("l2fwd prints port 1's MAC")
        .trim()
        .parse::<rpdk_mbuf::net::MacAddr>()
        .unwrap();
    for (sent, recv) in frames.iter().zip(&got) {
        assert_eq!(
            &recv[..6],
            &[0x02, 0, 0, 0, 0, 0x01],
            "destination 02:00:00:00:00:<tx port>"
        );
        assert_eq!(&recv[6..12], &port1_mac.0, "source: the tx port's MAC");
        assert_eq!(&recv[12..], &sent[12..], "the rest untouched, in order");
    }
    let final_block = stdout.rsplit("Port statistics ====").next().unwrap();
    assert_eq!(number_after(final_block, "Total packets received:")[0], 50);
    if let Ok(tcpdump) = Command::new("tcpdump").arg("-nr").arg(&output).output()
        && tcpdump.status.success()
    {
        assert_eq!(String::from_utf8_lossy(&tcpdump.stdout).lines().count(), 50);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// l2fwd end to end on real interfaces (root): a generator in one namespace pings the other
/// through l2fwd on two af_packet ports; tcpdump on the far side captures the requests with
/// their MACs rewritten; l2fwd counts both directions.
#[test]
fn l2fwd_forwards_between_namespaces_over_af_packet() {
    if !rpdk_testsupport::require_root("l2fwd_forwards_between_namespaces_over_af_packet") {
        return;
    }
    l2fwd_between_namespaces("net_af_packet", &rpdk_testsupport::unique_prefix(""));
}

/// The same over two net_af_xdp ports (the XDP programs go with l2fwd).
#[test]
fn l2fwd_forwards_between_namespaces_over_af_xdp() {
    if !rpdk_testsupport::require_root("l2fwd_forwards_between_namespaces_over_af_xdp") {
        return;
    }
    // A prefix of its own, as long as the other's (the script takes 12 characters at most).
    let p = format!("rpdkx{}", std::process::id());
    l2fwd_between_namespaces("net_af_xdp", &p);
    let links = Command::new("ip")
        .args(["-d", "link", "show"])
        .output()
        .unwrap();
    let links = String::from_utf8_lossy(&links.stdout);
    assert!(!links.contains(&p), "the topology is gone: {links}");
}

fn l2fwd_between_namespaces(driver: &str, p: &str) {
    use rpdk_ethdev::drivers::pcap::format;
    // The topology's namespaces are the test's own (`<p>ns0`, `<p>ns1`); the root-side veth
    // ends (`<p>0`, `<p>1`) are l2fwd's ports.
    let topology = Topology::up(p, driver == "net_af_xdp");
    let port1_mac: rpdk_mbuf::net::MacAddr =
        std::fs::read_to_string(format!("/sys/class/net/{p}1/address"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
    let lcores = two_lcores();
    let l2fwd = Command::new(env!("CARGO_BIN_EXE_l2fwd"))
        .args(["--lcores", &lcores, "--no-huge", "--no-shconf"])
        .args(["--vdev", &format!("{driver}0,iface={p}0")])
        .args(["--vdev", &format!("{driver}1,iface={p}1")])
        .args(["--", "-p", "0x3", "-T", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let capture = std::env::temp_dir().join(format!("{p}.pcap"));
    let tcpdump = Command::new("ip")
        .args([
            "netns",
            "exec",
            &format!("{p}ns1"),
            "timeout",
            "15",
            "tcpdump",
            "-i",
            "eth0",
            "-U",
            "-c",
            "10",
            "-w",
        ])
        .arg(&capture)
        .arg("icmp[icmptype] == icmp-echo")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let ping = Command::new("ip")
        .args([
            "netns",
            "exec",
            &format!("{p}ns0"),
            "ping",
            "-c",
            "10",
            "-i",
            "0.1",
            "-W",
            "2",
            "198.18.0.2",
        ])
        .output()
        .unwrap();
    let ping_out = String::from_utf8_lossy(&ping.stdout);
    let captured = tcpdump.wait_with_output().unwrap();
    let l2 = run_then_signal(l2fwd, 0, libc::SIGTERM);
    let stdout = String::from_utf8_lossy(&l2.stdout);
    drop(topology);

    assert!(
        ping_out.contains("10 received"),
        "pings through l2fwd: {ping_out}\nl2fwd: {stdout}"
    );
    assert!(captured.status.success(), "tcpdump captured 10 requests");
    let file = std::fs::File::open(&capture).unwrap();
    let mut reader =
        format::Reader::new(std::io::BufReader::new(file), capture.display().to_string()).unwrap();
    let mut requests = 0;
    while let Some(pkt) = reader.next_packet().unwrap() {
        assert_eq!(
            &pkt.data[..6],
            &[0x02, 0, 0, 0, 0, 0x01],
            "destination rewritten for port 1"
        );
        assert_eq!(&pkt.data[6..12], &port1_mac.0, "source: port 1's MAC");
        requests += 1;
    }
    std::fs::remove_file(&capture).unwrap();
    assert_eq!(requests, 10);
    assert!(l2.status.success(), "{stdout}");
    let final_block = stdout.rsplit("Port statistics ====").next().unwrap();
    let received = number_after(final_block, "Total packets received:")[0];
    assert!(
        received >= 20,
        "requests and replies, both ports: {final_block}"
    );
    assert_eq!(number_after(final_block, "Total packets dropped:")[0], 0);
}

/// rpdk-testpmd's io forwarding over two net_af_xdp ports on the ends of one veth pair in a
/// namespace, with `--tx-first`: the injected packets circulate, both ports count them, and the
/// XDP programs are gone after the exit.
#[test]
fn testpmd_io_forwards_over_af_xdp_on_a_veth_loop() {
    if !rpdk_testsupport::require_root("testpmd_io_forwards_over_af_xdp_on_a_veth_loop") {
        return;
    }
    let ns = rpdk_testsupport::netns::NetNs::new("tpx").unwrap();
    ns.add_veth("xpa", "xpb").unwrap();
    let lcores = two_lcores();
    let child = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns.name(),
            env!("CARGO_BIN_EXE_rpdk-testpmd"),
        ])
        .args(["--lcores", &lcores, "--no-huge", "--no-shconf"])
        .args([
            "--vdev",
            "net_af_xdp0,iface=xpa",
            "--vdev",
            "net_af_xdp1,iface=xpb",
        ])
        .args([
            "--",
            "--forward-mode=io",
            "--stats-period=1",
            "--nb-cores=1",
            "--tx-first",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = run_then_signal(child, 3, libc::SIGINT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let acc = stdout
        .split("Accumulated forward statistics")
        .nth(1)
        .expect("accumulated block");
    let rx = number_after(acc, "RX-packets:")[0];
    let tx = number_after(acc, "TX-packets:")[0];
    assert!(rx > 1000 && tx >= rx, "{acc}");
    let links = ns.sh("ip -d link show").unwrap();
    assert!(
        !links.contains("prog/xdp"),
        "programs detached at exit: {links}"
    );
}

/// `scripts/veth-topology.sh up` for one test, taken down again when dropped (even when the
/// test fails).
struct Topology(String);

impl Topology {
    const SCRIPT: &'static str =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/veth-topology.sh");

    /// With `xdp`, the far ends take XDP redirects (`--xdp`).
    fn up(prefix: &str, xdp: bool) -> Topology {
        let out = Command::new(Self::SCRIPT)
            .args(["up", "--prefix", prefix, "--pairs", "2"])
            .args(xdp.then_some("--xdp"))
            .output()
            .unwrap();
        let topology = Topology(prefix.to_string());
        assert!(
            out.status.success(),
            "veth-topology.sh up: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        topology
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        let _ = Command::new(Self::SCRIPT)
            .args(["down", "--prefix", &self.0])
            .status();
    }
}
