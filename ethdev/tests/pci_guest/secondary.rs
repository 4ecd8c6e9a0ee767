//! A PCI NIC's queues driven from a secondary process, in the guest: the test binary starts
//! itself as a primary that drives the NIC, then as a secondary that takes the NIC's queues
//! (the primary passes the registers' BAR; rings and mbufs are in shared memory), exchanges
//! frames with the kernel peer and gives the queues back, then as a secondary killed while
//! it holds them. The primary exchanges frames before, between and after, with a pool audit
//! at the end: every mbuf is back, the crashed secondary's ones included.

use std::time::{Duration, Instant};

use rpdk_ethdev::{EthConf, Port, RxConf, RxQueue, TxConf, TxQueue};
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, MbufBurst, PktmbufPool};
use rpdk_testsupport::process::{Interactive, child_command, child_line, field, role};
use rpdk_testsupport::raw::RawSocket;

use super::{env, guest, ring_size};

const POOL: &str = "guest_mp";
const ETHERTYPE: u16 = 0x88b6;
const FRAME_LEN: usize = 100;
/// Frames in and out in each round.
const N: usize = 40;
const PEER_SRC: [u8; 6] = [0x02, 0x52, 0x50, 0x44, 0x4b, 0x02];
/// Broadcast: the peer kernel NIC is not promiscuous.
const OUT_DST: [u8; 6] = [0xff; 6];

fn frame(dst: [u8; 6], tag: u8, i: usize) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&PEER_SRC);
    f.extend_from_slice(&ETHERTYPE.to_be_bytes());
    f.push(tag);
    f.extend_from_slice(&(i as u32).to_be_bytes());
    f.extend((f.len()..FRAME_LEN).map(|k| (i * 7 + k) as u8));
    f
}

fn ours(f: &[u8], tag: u8) -> Option<usize> {
    (f.len() >= 19 && f[12..14] == ETHERTYPE.to_be_bytes() && f[14] == tag)
        .then(|| u32::from_be_bytes([f[15], f[16], f[17], f[18]]) as usize)
}

fn eal_args(prefix: &str, proc_type: &str, lcore: u32, pci: Option<&str>) -> Vec<String> {
    let mut v: Vec<String> = vec![
        "pci_guest".into(),
        "-l".into(),
        lcore.to_string(),
        format!("--file-prefix={prefix}"),
        format!("--proc-type={proc_type}"),
        "--no-telemetry".into(),
    ];
    if let Some(mode) = env("RPDK_GUEST_IOVA") {
        v.push(format!("--iova-mode={mode}"));
    }
    match pci {
        Some(p) => v.extend(["-a".into(), p.into()]),
        None => v.push("--no-pci".into()),
    }
    v
}

/// The parent: one round of `p`'s (it prints `{marker}_READY`, receives, sends, prints
/// `{marker} frames=... in_order=... sent=...`): `n` frames of `tag` from the peer to `mac`,
/// then `out` frames of `tag_out` from `p`, checked byte for byte at the peer.
fn round(
    p: &mut Interactive,
    marker: &str,
    sock: &RawSocket,
    mac: [u8; 6],
    (tag, n): (u8, usize),
    (tag_out, out): (u8, usize),
) {
    p.expect(&format!("{marker}_READY"));
    for i in 0..n {
        sock.send(&frame(mac, tag, i));
        std::thread::sleep(Duration::from_millis(1));
    }
    let got = p.expect(&format!("{marker} frames="));
    assert_eq!(field(&got, "frames"), n as u64, "{marker}: {got}");
    assert_eq!(field(&got, "in_order"), 1, "{marker}: {got}");
    assert_eq!(field(&got, "sent"), out as u64, "{marker}: {got}");
    if out == 0 {
        return;
    }
    let seen = sock.recv_n_where(
        out,
        Duration::from_secs(10),
        Duration::from_millis(300),
        |f| ours(f, tag_out).is_some(),
    );
    assert_eq!(
        seen.len(),
        out,
        "{marker}: frames of tag {tag_out} at the peer"
    );
    for (i, f) in seen.iter().enumerate() {
        assert_eq!(
            *f,
            frame(OUT_DST, tag_out, i),
            "{marker}: frame {i} at the peer"
        );
    }
}

/// Frames the NIC's queues of `p` exchange with the kernel peer across a primary, a
/// secondary that gives the queues back, and a secondary killed holding them.
#[test]
#[ignore = "runs in the QEMU guest: scripts/qemu-test.sh"]
fn nic_secondary() {
    let (_pci, peer) = guest("nic_secondary");
    // The peer's kernel drops what it sends until its link is up.
    let operstate = format!("/sys/class/net/{peer}/operstate");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&operstate).map_or(true, |s| s.trim() != "up") {
        assert!(Instant::now() < deadline, "{peer}: the link never came up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let sock = RawSocket::open(&peer);
    let prefix = rpdk_testsupport::unique_prefix("gmp");
    let mut p = Interactive::spawn(child_command(&[], "primary", &prefix));
    let ready = p.expect("PRIMARY_READY");
    let mac: Vec<u8> = ready
        .split_whitespace()
        .nth(1)
        .expect("the MAC address")
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    let mac: [u8; 6] = mac.try_into().unwrap();

    p.say("round P1 1 2");
    round(&mut p, "P1", &sock, mac, (1, N), (2, N));

    let mut s = Interactive::spawn(child_command(&[], "secondary", &prefix));
    round(&mut s, "S", &sock, mac, (3, N), (4, N));
    let st = s.expect("S_STATS");
    // The secondary's counts land in the port's counters in the shared port data.
    assert!(field(&st, "ipackets") >= 2 * N as u64, "{st}");
    assert_eq!(field(&st, "opackets"), 2 * N as u64, "{st}");
    s.quit();

    // Back from the secondary: the primary goes on from where it left the rings.
    p.say("round P2 5 6");
    round(&mut p, "P2", &sock, mac, (5, N), (6, N));

    let mut c = Interactive::spawn(child_command(&[], "crasher", &prefix));
    round(&mut c, "C", &sock, mac, (7, N), (8, N));
    c.expect("C_HOLDS");
    drop(c); // SIGKILL, the queues in hand

    // Back from a secondary that died: the RX ring re-armed, the TX ring emptied.
    p.say("round P3 9 10");
    round(&mut p, "P3", &sock, mac, (9, N), (10, N));
    assert!(p.seen().contains("died driving it"), "{}", p.seen());

    p.say("quit");
    let st = p.expect("PRIMARY_STATS");
    assert!(field(&st, "ipackets") >= 5 * N as u64, "{st}");
    assert_eq!(field(&st, "opackets"), 5 * N as u64, "{st}");
    assert_eq!(
        field(&st, "audit"),
        1,
        "every mbuf is back in the pool: {st}"
    );
    p.finish();
}

/// The child processes' entry point (the binary's `child` test).
pub(super) fn child() {
    let Some((role, prefix)) = role() else {
        return;
    };
    match role.as_str() {
        "primary" => primary(&prefix),
        "secondary" => secondary(&prefix, false),
        "crasher" => secondary(&prefix, true),
        r => panic!("unknown role {r}"),
    }
}

/// The child's side of a round (see [`round`]).
fn child_round(
    marker: &str,
    rxq: &mut RxQueue,
    txq: &mut TxQueue,
    pool: &PktmbufPool,
    (tag, n): (u8, usize),
    (tag_out, out): (u8, usize),
) {
    println!("{marker}_READY");
    let (mut frames, mut in_order) = (0, true);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut burst = MbufBurst::<32>::new();
    while frames < n && Instant::now() < deadline {
        rxq.rx_burst(&mut burst);
        for m in burst.iter() {
            if let Some(i) = ours(m.data(), tag) {
                in_order &= i == frames;
                frames += 1;
            }
        }
        burst.clear();
        std::thread::sleep(Duration::from_micros(200));
    }
    let mut sent = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while sent < out && Instant::now() < deadline {
        if burst.is_empty() {
            let f = frame(OUT_DST, tag_out, sent);
            let mut m = pool.alloc().expect("an mbuf");
            m.append(f.len() as u16).unwrap().copy_from_slice(&f);
            burst.push(m).unwrap();
        }
        sent += txq.tx_burst(&mut burst);
        std::thread::sleep(Duration::from_millis(1));
    }
    burst.clear();
    println!(
        "{marker} frames={frames} in_order={} sent={sent}",
        u8::from(in_order)
    );
}

fn primary(prefix: &str) {
    let pci = env("RPDK_GUEST_PCI").expect("RPDK_GUEST_PCI");
    let (_eal, _) = rpdk_eal::init(eal_args(prefix, "primary", 0, Some(&pci))).unwrap();
    // No cache: what a secondary frees is in the pool at once, for the audit.
    let pool = PktmbufPool::create(POOL, 2047, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let nic = Port::by_name(&pci).expect("the PCI NIC is a port");
    nic.configure(1, 1, &EthConf::default()).unwrap();
    let ring = ring_size(&nic);
    nic.rx_queue_setup(0, ring, None, &RxConf::default(), &pool)
        .unwrap();
    nic.tx_queue_setup(0, ring, None, &TxConf::default())
        .unwrap();
    nic.start().unwrap();
    nic.promiscuous_enable().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !nic.link().up {
        assert!(Instant::now() < deadline, "link never came up");
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("PRIMARY_READY {}", nic.mac_addr());
    loop {
        let l = child_line();
        let w: Vec<&str> = l.split_whitespace().collect();
        match w[..] {
            ["round", marker, tag, tag_out] => {
                let (mut rxq, mut txq) = (nic.rx_queue(0).unwrap(), nic.tx_queue(0).unwrap());
                let (tag, tag_out) = (tag.parse().unwrap(), tag_out.parse().unwrap());
                child_round(marker, &mut rxq, &mut txq, &pool, (tag, N), (tag_out, N));
            }
            ["quit"] => break,
            _ => panic!("unknown command {l:?}"),
        }
    }
    let s = nic.stats();
    nic.stop().unwrap();
    nic.close().unwrap();
    println!(
        "PRIMARY_STATS ipackets={} opackets={} pool_avail={} audit={}",
        s.ipackets,
        s.opackets,
        pool.avail_count(),
        u8::from(pool.audit().is_ok())
    );
}

fn secondary(prefix: &str, crash: bool) {
    let pci = env("RPDK_GUEST_PCI").expect("RPDK_GUEST_PCI");
    let (_eal, _) = rpdk_eal::init(eal_args(prefix, "secondary", 1, None)).unwrap();
    let pool = PktmbufPool::lookup(POOL).unwrap();
    let nic = Port::by_name(&pci).expect("the primary's NIC is a port here");
    let (mut rxq, mut txq) = (nic.rx_queue(0).unwrap(), nic.tx_queue(0).unwrap());
    let marker = if crash { "C" } else { "S" };
    child_round(
        marker,
        &mut rxq,
        &mut txq,
        &pool,
        (if crash { 7 } else { 3 }, N),
        (if crash { 8 } else { 4 }, N),
    );
    if crash {
        println!("C_HOLDS");
        // Killed here, the queues in hand.
        let _ = child_line();
        std::process::exit(1);
    }
    drop((rxq, txq));
    let s = nic.stats();
    println!("S_STATS ipackets={} opackets={}", s.ipackets, s.opackets);
    assert_eq!(child_line(), "quit");
}
