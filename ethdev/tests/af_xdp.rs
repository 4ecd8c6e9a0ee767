//! `net_af_xdp` on real veth pairs, each test in a network namespace of its own (root only;
//! skipped with a message otherwise): identical bytes both ways in native and generic mode
//! with one and two queues, start/stop cycles and a SIGKILLed process leaving no XDP program
//! behind, pool exhaustion counted and recovered from, and clear errors. Every sending loop is
//! bounded in count and time.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rpdk_eal::Eal;
use rpdk_ethdev::{EthConf, Port, RxConf, RxQueue, TxConf, TxQueue};
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, Mbuf, MbufBurst, PktmbufPool};
use rpdk_testsupport::netns::NetNs;
use rpdk_testsupport::port::{PortFixture, PortSetup, receive_frames, send_frames};
use rpdk_testsupport::raw::RawSocket as Raw;
use rpdk_testsupport::{eal_args, require_root, serial};

const DEADLINE: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(150);

fn eal(vdevs: &[&str]) -> rpdk_eal::Result<Eal> {
    rpdk_eal::init(eal_args("af-xdp-test", vdevs)).map(|(e, _)| e)
}

fn pool(name: &str, n: u32) -> PktmbufPool {
    PktmbufPool::create(name, n, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap()
}

/// Configures `nq` queue pairs of `nb_desc` descriptors and starts the port.
fn start(port: &Port, pool: &PktmbufPool, nq: u16, nb_desc: u16) {
    port.configure(nq, nq, &EthConf::default()).unwrap();
    for q in 0..nq {
        port.tx_queue_setup(q, nb_desc, None, &TxConf::default())
            .unwrap();
        port.rx_queue_setup(q, nb_desc, None, &RxConf::default(), pool)
            .unwrap();
    }
    port.start().unwrap();
}

/// A namespace with a veth pair `xa` <-> `xb` of `nq` queues each way, entered by the calling
/// thread.
fn netns(tag: &str, nq: u16) -> (NetNs, rpdk_testsupport::netns::Entered) {
    let ns = NetNs::new(tag).unwrap();
    ns.sh(&format!(
        "ip link add xa numtxqueues {nq} numrxqueues {nq} type veth peer name xb \
         numtxqueues {nq} numrxqueues {nq} && \
         sysctl -qw net.ipv6.conf.xa.disable_ipv6=1 net.ipv6.conf.xb.disable_ipv6=1 && \
         ip link set xa up && ip link set xb up"
    ))
    .unwrap();
    let inside = ns.enter().unwrap();
    (ns, inside)
}

/// Whether an XDP program is attached to `iface` (of the namespace).
fn xdp_attached(ns: &NetNs, iface: &str) -> bool {
    let out = ns.sh(&format!("ip -d link show {iface}")).unwrap();
    out.contains("prog/xdp") || out.contains(" xdp")
}

/// An Ethernet/IPv4/UDP frame of flow `flow` carrying `seq`, `len` bytes long.
fn udp_frame(seq: u32, flow: u16, len: usize) -> Vec<u8> {
    let mut payload = seq.to_be_bytes().to_vec();
    payload.extend((0..len.saturating_sub(42 + 4)).map(|i| (seq as usize * 7 + i) as u8));
    let mut f = Vec::with_capacity(len);
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 0xa], [2, 0, 0, 0, 0, 0xb])
        .ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
        .udp(1024 + flow, 9)
        .write(&mut f, &payload)
        .unwrap();
    f
}

fn frames(n: u32) -> Vec<Vec<u8>> {
    const SIZES: [usize; 6] = [60, 64, 128, 511, 1024, 1514];
    (0..n)
        .map(|i| udp_frame(i, i as u16 % 16, SIZES[i as usize % SIZES.len()]))
        .collect()
}

/// Receives on `queues` until `n` frames came (or the deadline passed), then watches a little
/// longer for extra ones. Returns each frame with its queue.
fn receive(queues: &mut [RxQueue], n: usize) -> Vec<(usize, Vec<u8>)> {
    receive_frames(queues, n, DEADLINE, QUIET)
}

/// Sends `frames` on `txq` in bursts of up to 32, retrying what the queue could not take.
fn send(txq: &mut TxQueue, pool: &PktmbufPool, frames: &[Vec<u8>]) {
    send_frames(txq, pool, frames, DEADLINE);
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

/// Frames both ways between the kernel and a port of `nq` queues in `mode`, with `extra`
/// devargs.
fn both_ways(mode: &str, nq: u16, extra: &str) {
    let tag = format!("{}{nq}{}", &mode[..3], extra.len());
    let (ns, _in) = netns(&format!("x{tag}"), nq);
    let vdev = format!("net_af_xdp0,iface=xa,queue_count={nq},mode={mode}{extra}");
    let f = PortFixture::new(&format!("afxdp_{tag}"), &[&vdev], &PortSetup::queues(nq)).unwrap();
    let (port, pool) = (f.port(0), f.pool());
    assert_eq!(port.info().driver_name, "net_af_xdp");
    assert!(xdp_attached(&ns, "xa"), "program attached at start");
    assert_eq!(port.xstat("xdp_native"), Some((mode == "native") as u64));
    let mut rxqs: Vec<RxQueue> = (0..nq).map(|q| port.rx_queue(q).unwrap()).collect();
    let mut txqs: Vec<TxQueue> = (0..nq).map(|q| port.tx_queue(q).unwrap()).collect();
    let raw = Raw::open("xb");
    let sent = frames(300);

    // Kernel to port.
    for f in &sent {
        raw.send(f);
    }
    let got = receive(&mut rxqs, sent.len());
    let mut per_queue = BTreeMap::new();
    for (q, _) in &got {
        *per_queue.entry(*q).or_insert(0) += 1;
    }
    assert_eq!(
        got.len(),
        sent.len(),
        "{mode}, {nq} queue(s): frames received {per_queue:?}"
    );
    let got: Vec<Vec<u8>> = got.into_iter().map(|(_, f)| f).collect();
    if nq == 1 {
        assert!(
            got == sent,
            "received bytes differ from those sent, or their order"
        );
    } else {
        assert!(
            sorted(got) == sorted(sent.clone()),
            "received bytes differ from those sent"
        );
        if mode == "native" {
            // The sender's queue (its flow hash) is the receiving veth's queue.
            assert_eq!(
                per_queue.len(),
                nq as usize,
                "flows spread over the queues: {per_queue:?}"
            );
        }
    }
    let bytes: u64 = sent.iter().map(|f| f.len() as u64).sum();
    let s = port.stats();
    assert_eq!(
        (s.ipackets, s.ibytes, s.ierrors, s.imissed),
        (300, bytes, 0, 0)
    );

    // Port to kernel, spread over the TX queues.
    let chunk = sent.len().div_ceil(nq as usize);
    for (q, part) in sent.chunks(chunk).enumerate() {
        send(&mut txqs[q], pool, part);
    }
    let out = raw.recv_n(sent.len(), DEADLINE, QUIET);
    assert_eq!(out.len(), sent.len(), "frames the kernel received");
    if nq == 1 {
        assert!(
            out == sent,
            "bytes the kernel received differ from those sent"
        );
    } else {
        assert!(
            sorted(out) == sorted(sent.clone()),
            "bytes the kernel received differ"
        );
    }
    let s = port.stats();
    assert_eq!((s.opackets, s.obytes, s.oerrors), (300, bytes, 0));
    // The mbufs were the pool's: sent from their own buffers, nothing copied.
    assert_eq!(port.xstat("tx_q0_copies"), Some(0));
    // A frame shorter than an Ethernet header is taken and dropped: an error.
    send(&mut txqs[0], pool, &[vec![0xff; 10]]);
    assert_eq!(port.stats().oerrors, 1);
    // A chained mbuf is copied into the UMEM.
    let mut head = pool.alloc().unwrap();
    head.append(20).unwrap().copy_from_slice(&sent[0][..20]);
    let mut tail: Mbuf = pool.alloc().unwrap();
    tail.append((sent[0].len() - 20) as u16)
        .unwrap()
        .copy_from_slice(&sent[0][20..]);
    head.chain(tail).map_err(|(e, _)| e).unwrap();
    let mut burst = MbufBurst::<4>::new();
    burst.push(head).unwrap();
    assert_eq!(txqs[0].tx_burst(&mut burst), 1);
    assert_eq!(
        raw.recv_n(1, DEADLINE, QUIET),
        vec![sent[0].clone()],
        "a chained mbuf arrives whole"
    );
    assert_eq!(port.xstat("tx_q0_copies"), Some(1));

    drop((rxqs, txqs));
    port.stop().unwrap();
    assert!(!xdp_attached(&ns, "xa"), "program detached at stop");
    // The fixture closes the port and checks that every mbuf the kernel held came back.
}

#[test]
fn frames_cross_unchanged_in_native_and_generic_mode_on_one_and_two_queues() {
    if !require_root("frames_cross_unchanged_in_native_and_generic_mode_on_one_and_two_queues") {
        return;
    }
    let _s = serial();
    for mode in ["native", "generic"] {
        for nq in [1, 2] {
            both_ways(mode, nq, "");
        }
    }
    // Two queues on one UMEM registration, without busy polling.
    both_ways("native", 2, ",shared_umem=1,busy_budget=0");
}

#[test]
fn start_stop_cycles_leave_no_program_attached() {
    if !require_root("start_stop_cycles_leave_no_program_attached") {
        return;
    }
    let _s = serial();
    let (ns, _in) = netns("xcyc", 1);
    let setup = PortSetup {
        nb_desc: 256,
        ..PortSetup::default()
    };
    let f = PortFixture::new("afxdp_cyc", &["net_af_xdp0,iface=xa"], &setup).unwrap();
    let port = f.port(0);
    let raw = Raw::open("xb");
    for round in 0..5u32 {
        assert!(xdp_attached(&ns, "xa"), "round {round}: attached");
        let sent: Vec<Vec<u8>> = (0..20)
            .map(|i| udp_frame(round * 100 + i, 0, 128))
            .collect();
        for f in &sent {
            raw.send(f);
        }
        let mut rxq = port.rx_queue(0).unwrap();
        let got: Vec<Vec<u8>> = receive(std::slice::from_mut(&mut rxq), sent.len())
            .into_iter()
            .map(|(_, f)| f)
            .collect();
        assert!(got == sent, "round {round}: frames received");
        drop(rxq);
        port.stop().unwrap();
        assert!(!xdp_attached(&ns, "xa"), "round {round}: detached at stop");
        port.start().unwrap();
    }
    port.stop().unwrap();
    port.close().unwrap();
    assert!(!xdp_attached(&ns, "xa"));
}

/// The body of the process the SIGKILL test kills: a started port, then a long sleep.
fn killed_child() {
    let _eal = eal(&["net_af_xdp0,iface=xa"]).unwrap();
    let pool = pool("afxdp_kill", 4096);
    let port = Port::get(0).unwrap();
    start(&port, &pool, 1, 0);
    println!("AFXDP-CHILD-READY");
    std::thread::sleep(Duration::from_secs(30));
}

#[test]
fn a_killed_process_leaves_no_program_and_the_next_start_works() {
    if std::env::var_os("RPDK_AFXDP_CHILD").is_some() {
        killed_child();
        return;
    }
    if !require_root("a_killed_process_leaves_no_program_and_the_next_start_works") {
        return;
    }
    let _s = serial();
    let (ns, _in) = netns("xkill", 1);
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns.name()])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_killed_process_leaves_no_program_and_the_next_start_works",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RPDK_AFXDP_CHILD", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.any(|l| l.is_ok_and(|l| l.contains("AFXDP-CHILD-READY")));
    assert!(ready, "the child started its port");
    assert!(xdp_attached(&ns, "xa"), "the child's program is attached");
    // SAFETY: kill on our own child's pid (`ip netns exec` execs the test binary).
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
    let deadline = Instant::now() + DEADLINE;
    while xdp_attached(&ns, "xa") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !xdp_attached(&ns, "xa"),
        "the kernel detached the dead process's program"
    );
    // No socket is left on the queue: a new port binds to it (a socket still bound would make
    // the bind answer EBUSY past the driver's 3 s of retries) and receives.
    let _eal = eal(&["net_af_xdp0,iface=xa"]).unwrap();
    let pool = pool("afxdp_after", 4096);
    let port = Port::get(0).unwrap();
    start(&port, &pool, 1, 0);
    let raw = Raw::open("xb");
    let f = udp_frame(1, 0, 100);
    raw.send(&f);
    let mut rxq = port.rx_queue(0).unwrap();
    let got = receive(std::slice::from_mut(&mut rxq), 1);
    assert_eq!(got.len(), 1, "a frame after the restart");
    drop(rxq);
    port.stop().unwrap();
    port.close().unwrap();
    pool.audit().unwrap();
}

#[test]
fn an_exhausted_pool_counts_drops_and_recovers() {
    if !require_root("an_exhausted_pool_counts_drops_and_recovers") {
        return;
    }
    let _s = serial();
    let (_ns, _in) = netns("xexh", 1);
    let setup = PortSetup {
        nb_desc: 128,
        pool_size: 256,
        ..PortSetup::default()
    };
    let f = PortFixture::new("afxdp_exh", &["net_af_xdp0,iface=xa,busy_budget=0"], &setup).unwrap();
    let port = f.port(0);
    let mut rxq = port.rx_queue(0).unwrap();
    let raw = Raw::open("xb");
    // Hold every frame received: the pool runs dry, the fill ring empties, the kernel drops.
    let mut held: Vec<Mbuf> = Vec::new();
    let mut burst = MbufBurst::<32>::new();
    for i in 0..400 {
        raw.send(&udp_frame(i, 0, 100));
        if i % 8 == 0 {
            while rxq.rx_burst(&mut burst) > 0 {
                while let Some(m) = burst.pop() {
                    held.push(m);
                }
            }
        }
    }
    let deadline = Instant::now() + Duration::from_millis(300);
    while Instant::now() < deadline {
        while rxq.rx_burst(&mut burst) > 0 {
            while let Some(m) = burst.pop() {
                held.push(m);
            }
        }
    }
    assert!(held.len() < 400 && held.len() >= 192, "{} held", held.len());
    let s = port.stats();
    assert!(s.imissed > 0, "the kernel's drops count in imissed: {s:?}");
    assert!(
        s.rx_nombuf > 0,
        "frames whose buffers were not replaced: {s:?}"
    );
    assert_eq!(
        s.imissed + held.len() as u64,
        400,
        "every frame received or counted: {s:?}"
    );
    assert!(port.xstat("rx_q0_fill_ring_empty").unwrap() > 0);
    // Give the mbufs back: the queue refills and receives again.
    held.clear();
    let sent: Vec<Vec<u8>> = (0..50).map(|i| udp_frame(1000 + i, 0, 200)).collect();
    // The first polls top the fill ring up.
    for _ in 0..8 {
        rxq.rx_burst(&mut burst);
    }
    assert!(burst.is_empty());
    for f in &sent {
        raw.send(f);
    }
    let got: Vec<Vec<u8>> = receive(std::slice::from_mut(&mut rxq), sent.len())
        .into_iter()
        .map(|(_, f)| f)
        .collect();
    assert!(got == sent, "frames after recovery: {}", got.len());
    drop((rxq, burst));
}

#[test]
fn errors_name_what_is_wrong() {
    if !require_root("errors_name_what_is_wrong") {
        return;
    }
    let _s = serial();
    let (_ns, _in) = netns("xerr", 2);
    for (vdev, want) in [
        ("net_af_xdp0", "missing key 'iface'"),
        (
            "net_af_xdp0,iface=nosuch0",
            "interface 'nosuch0' (key 'iface') does not exist",
        ),
        (
            "net_af_xdp0,iface=xa,start_queue=1,queue_count=2",
            "queues 1..3 (start_queue 1, queue_count 2) are out of range: 'xa' has 2 RX queue(s)",
        ),
        (
            "net_af_xdp0,iface=xa,mode=fast",
            "invalid value 'fast' for key 'mode'",
        ),
        (
            "net_af_xdp0,iface=xa,xdp_prog=/nonexistent/x.o",
            "xdp_prog '/nonexistent/x.o': No such file or directory",
        ),
        ("net_af_xdp0,iface=xa,use_cni=1", "key 'use_cni'"),
    ] {
        let e = eal(&[vdev]).map(drop).unwrap_err().to_string();
        assert!(e.contains(want), "{vdev}: {e}");
    }
    // Two ports on one interface: the second cannot attach a second program.
    let _eal = eal(&["net_af_xdp0,iface=xa", "net_af_xdp1,iface=xa,start_queue=1"]).unwrap();
    let pool = pool("afxdp_err", 8192);
    let (a, b) = (Port::get(0).unwrap(), Port::get(1).unwrap());
    start(&a, &pool, 1, 0);
    b.configure(1, 1, &EthConf::default()).unwrap();
    b.tx_queue_setup(0, 0, None, &TxConf::default()).unwrap();
    b.rx_queue_setup(0, 0, None, &RxConf::default(), &pool)
        .unwrap();
    let e = b.start().unwrap_err().to_string();
    assert!(e.contains("has an XDP program already"), "{e}");
    // The same queue twice: busy.
    b.configure(1, 1, &EthConf::default()).unwrap();
    let small = PktmbufPool::create("afxdp_small", 512, 0, 0, 1024, None).unwrap();
    let e = b
        .rx_queue_setup(0, 0, None, &RxConf::default(), &small)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("1024-byte buffers; AF_XDP needs at least 2048"),
        "{e}"
    );
    let e = b
        .rx_queue_setup(0, 100, None, &RxConf::default(), &pool)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("100 descriptors: AF_XDP rings have a power of two"),
        "{e}"
    );
    a.stop().unwrap();
    a.close().unwrap();
    b.close().unwrap();
    pool.audit().unwrap();
}

/// xdp-tools' own default program, compiled by clang and shipped by libxdp: the object
/// `xdp_prog` loads, with its `xsks_map` and its global `refcnt` in `.data`.
const LIBXDP_PROG: &str = "/usr/lib/x86_64-linux-gnu/bpf/xsk_def_xdp_prog.o";

#[test]
fn a_users_program_from_an_elf_object_redirects_to_the_sockets() {
    if !require_root("a_users_program_from_an_elf_object_redirects_to_the_sockets") {
        return;
    }
    if !std::path::Path::new(LIBXDP_PROG).exists() {
        rpdk_testsupport::skip(
            "a_users_program_from_an_elf_object_redirects_to_the_sockets",
            &format!("needs {LIBXDP_PROG} (Debian's libxdp1)"),
        );
        return;
    }
    let _s = serial();
    let (ns, _in) = netns("xelf", 1);
    // An object without xsks_map: the same file with the map's symbol renamed.
    let bytes = std::fs::read(LIBXDP_PROG).unwrap();
    let mut renamed = bytes.clone();
    let mut at = 0;
    while let Some(i) = renamed[at..].windows(8).position(|w| w == b"xsks_map") {
        renamed[at + i..at + i + 8].copy_from_slice(b"othermap");
        at += i + 8;
    }
    assert!(at > 0, "the object names xsks_map");
    let bad = std::env::temp_dir().join(format!("afxdp-nomap-{}.o", std::process::id()));
    std::fs::write(&bad, &renamed).unwrap();
    let e = eal(&[&format!("net_af_xdp0,iface=xa,xdp_prog={}", bad.display())])
        .map(drop)
        .unwrap_err()
        .to_string();
    std::fs::remove_file(&bad).unwrap();
    assert!(e.contains("has no map named xsks_map"), "{e}");

    let vdev = format!("net_af_xdp0,iface=xa,xdp_prog={LIBXDP_PROG}");
    let f = PortFixture::new("afxdp_elf", &[&vdev], &PortSetup::default()).unwrap();
    let (port, pool) = (f.port(0), f.pool());
    let link = ns.sh("ip -d link show xa").unwrap();
    assert!(
        link.contains("xsk_def_prog"),
        "libxdp's program attached: {link}"
    );
    let raw = Raw::open("xb");
    let sent = frames(100);
    for fr in &sent {
        raw.send(fr);
    }
    let mut rxq = port.rx_queue(0).unwrap();
    let got: Vec<Vec<u8>> = receive(std::slice::from_mut(&mut rxq), sent.len())
        .into_iter()
        .map(|(_, f)| f)
        .collect();
    assert!(
        got == sent,
        "frames through the user's program: {}",
        got.len()
    );
    let mut txq = port.tx_queue(0).unwrap();
    send(&mut txq, pool, &sent[..10]);
    assert_eq!(raw.recv_n(10, DEADLINE, QUIET), sent[..10].to_vec());
    drop((rxq, txq));
    port.stop().unwrap();
    assert!(!xdp_attached(&ns, "xa"), "detached at stop");
}
