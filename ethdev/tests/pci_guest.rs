//! PCI drivers against emulated NICs, inside the QEMU guest of `scripts/qemu-test.sh` (which
//! runs this binary, built static, with `--ignored` from `scripts/qemu-guest.sh`). They are
//! `#[ignore]`d elsewhere: they need a NIC bound to vfio-pci or uio_pci_generic and its peer.
//!
//! The guest script names what to test through the environment:
//! - `RPDK_GUEST_PCI`: the PCI address of the NIC rpdk drives;
//! - `RPDK_GUEST_MAC`: the MAC address QEMU gave it;
//! - `RPDK_GUEST_PEER`: the kernel interface on the same QEMU hub (the peer), which the test
//!   reaches through `net_af_packet`;
//! - `RPDK_GUEST_PEER2`: for [`l2fwd_peer`], the interface on the other hub;
//! - `RPDK_GUEST_IOVA`: `va` or `pa`.
//!
//! Traffic is paced (QEMU's emulated NICs drop what the kernel peer cannot take at once), bounded
//! in count and time, and stays on the guest's QEMU-internal hubs.

use std::time::{Duration, Instant};

use rpdk_eal::Eal;
use rpdk_ethdev::{EthConf, Port, RxConf, RxQueue, TxConf, TxQueue};
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, MbufBurst, PktmbufPool};

const DEADLINE: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(300);
/// Frames each way.
const FRAMES: u32 = 300;
/// Frames per burst, then a pause: the peer takes them all.
const PACE: usize = 4;

const SRC: [u8; 6] = [0x02, 0x52, 0x50, 0x44, 0x4b, 0x01];

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn guest(test: &str) -> (String, String) {
    match (env("RPDK_GUEST_PCI"), env("RPDK_GUEST_PEER")) {
        (Some(pci), Some(peer)) => (pci, peer),
        _ => panic!(
            "{test} runs in the QEMU guest of scripts/qemu-test.sh: RPDK_GUEST_PCI and \
             RPDK_GUEST_PEER name the NIC and its peer"
        ),
    }
}

fn eal(pci: &[&str], vdevs: &[String], prefix: &str) -> Eal {
    let mut args: Vec<String> = vec!["pci_guest".into(), "-l".into(), "0".into()];
    args.extend(["--file-prefix".into(), prefix.into()]);
    if let Some(mode) = env("RPDK_GUEST_IOVA") {
        args.extend(["--iova-mode".into(), mode]);
    }
    if pci.is_empty() {
        args.push("--no-pci".into());
    }
    for p in pci {
        args.extend(["-a".into(), p.to_string()]);
    }
    for v in vdevs {
        args.extend(["--vdev".into(), v.clone()]);
    }
    rpdk_eal::init(args).expect("EAL init").0
}

fn start(port: &Port, pool: &PktmbufPool) {
    port.configure(1, 1, &EthConf::default()).unwrap();
    let info = port.info();
    let (nrx, ntx) = (
        info.rx_desc_lim.nb_max.min(512),
        info.tx_desc_lim.nb_max.min(512),
    );
    port.rx_queue_setup(0, nrx, None, &RxConf::default(), pool)
        .unwrap();
    port.tx_queue_setup(0, ntx, None, &TxConf::default())
        .unwrap();
    port.start().unwrap();
    port.promiscuous_enable().unwrap();
}

/// A test frame: our source MAC, an experimental ethertype, `seq`, then bytes made from it.
fn frame(dst: [u8; 6], seq: u32, len: usize) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&SRC);
    f.extend_from_slice(&0x88b5u16.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend((f.len()..len).map(|i| (seq as usize * 31 + i) as u8));
    f
}

fn frames(dst: [u8; 6]) -> Vec<Vec<u8>> {
    const SIZES: [usize; 7] = [60, 64, 100, 128, 511, 1024, 1514];
    (0..FRAMES)
        .map(|i| frame(dst, i, SIZES[i as usize % SIZES.len()]))
        .collect()
}

/// Whether a received frame is one of ours (the hub also carries the kernel's own traffic).
fn ours(f: &[u8]) -> bool {
    f.len() >= 18 && f[6..12] == SRC && f[12..14] == [0x88, 0xb5]
}

fn seq(f: &[u8]) -> u32 {
    u32::from_be_bytes(f[14..18].try_into().unwrap())
}

fn send_paced(txq: &mut TxQueue, pool: &PktmbufPool, frames: &[Vec<u8>]) {
    let deadline = Instant::now() + DEADLINE;
    let mut burst = MbufBurst::<32>::new();
    for chunk in frames.chunks(PACE) {
        for f in chunk {
            let mut m = pool.alloc().expect("pool");
            m.append(f.len() as u16).unwrap().copy_from_slice(f);
            burst.push(m).unwrap();
        }
        while !burst.is_empty() {
            assert!(Instant::now() < deadline, "sending timed out");
            if txq.tx_burst(&mut burst) == 0 {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Receives our frames until `n` came and nothing more for a while (or the deadline passed).
fn receive(rxq: &mut RxQueue, n: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut burst = MbufBurst::<32>::new();
    let deadline = Instant::now() + DEADLINE;
    let mut quiet_until = None;
    loop {
        let now = Instant::now();
        if got.len() >= n && quiet_until.is_none() {
            quiet_until = Some(now + QUIET);
        }
        if now > deadline || quiet_until.is_some_and(|q| now > q) {
            return got;
        }
        if rxq.rx_burst(&mut burst) > 0 {
            got.extend(burst.iter().map(|m| m.data().to_vec()).filter(|f| ours(f)));
            burst.clear();
        } else {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
}

fn mmio_writes(port: &Port) -> u64 {
    port.xstat("mmio_register_writes")
        .expect("the PCI driver counts its register writes")
}

/// Frames rpdk sends on the PCI NIC arrive at the kernel peer with identical bytes and counts,
/// and frames the peer sends arrive in rpdk; the port's and the device's counters agree; each
/// burst writes one tail register and an idle poll writes none.
#[test]
#[ignore = "runs in the QEMU guest: scripts/qemu-test.sh"]
fn nic_both_directions() {
    let (pci, peer) = guest("nic_both_directions");
    let _eal = eal(&[&pci], &[format!("net_af_packet0,iface={peer}")], "rpdkg");
    let pool = PktmbufPool::create("guest", 4095, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let nic = Port::by_name(&pci).expect("the PCI NIC is a port");
    let kern = Port::by_name("net_af_packet0").unwrap();
    start(&nic, &pool);
    start(&kern, &pool);

    if let Some(mac) = env("RPDK_GUEST_MAC") {
        assert_eq!(
            nic.mac_addr().to_string(),
            mac,
            "MAC from receive address 0"
        );
    }
    let deadline = Instant::now() + DEADLINE;
    while !nic.link().up {
        assert!(Instant::now() < deadline, "link never came up");
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("{pci}: {}", nic.link());

    let (mut nic_rx, mut nic_tx) = (nic.rx_queue(0).unwrap(), nic.tx_queue(0).unwrap());
    let (mut kern_rx, mut kern_tx) = (kern.rx_queue(0).unwrap(), kern.tx_queue(0).unwrap());

    // rpdk -> kernel.
    let out = frames([0x02, 0, 0, 0, 0, 0xee]);
    send_paced(&mut nic_tx, &pool, &out);
    let got = receive(&mut kern_rx, out.len());
    assert_eq!(got.len(), out.len(), "frames the peer received");
    assert!(got == out, "the peer received different bytes or order");
    let s = nic.stats();
    assert_eq!(s.opackets, FRAMES as u64);
    assert_eq!(s.obytes, out.iter().map(|f| f.len() as u64).sum::<u64>());

    // kernel -> rpdk.
    let mac = nic.mac_addr().0;
    let back = frames(mac);
    send_paced(&mut kern_tx, &pool, &back);
    let got = receive(&mut nic_rx, back.len());
    if got.len() != back.len() {
        let seqs: Vec<u32> = got.iter().map(|f| seq(f)).collect();
        eprintln!(
            "received {seqs:?}\nstats {:?}\nxstats {:?}",
            nic.stats(),
            nic.xstats()
        );
        eprintln!("peer stats {:?}", kern.stats());
    }
    assert_eq!(got.len(), back.len(), "frames rpdk received");
    assert!(got == back, "rpdk received different bytes or order");
    let s = nic.stats();
    assert!(s.ipackets >= FRAMES as u64, "ipackets {}", s.ipackets);
    assert_eq!(s.ierrors, 0);
    assert_eq!(s.imissed, 0, "the device missed frames");
    if let Some(hw_rx) = nic.xstat("hw_rx_good_packets") {
        assert!(hw_rx >= FRAMES as u64, "device counted {hw_rx} good frames");
    }
    // The e1000 writes its tail once per burst; virtio notifies at most once, when the device
    // asks for it.
    let exact = nic.info().driver_name == "net_e1000_em";
    let per_burst = |w: u64, what: &str| {
        if exact {
            assert_eq!(w, 1, "{what} writes its tail register once");
        } else {
            assert!(w <= 1, "{what} wrote {w} registers");
        }
    };

    // Register writes: one tail write per burst, none per packet; an idle queue writes at most
    // one per 1024 empty polls (the e1000 rewrites its tail for QEMU's model).
    let mut burst = MbufBurst::<32>::new();
    let before = mmio_writes(&nic);
    for _ in 0..2048 {
        nic_rx.rx_burst(&mut burst);
        burst.clear();
    }
    let idle = mmio_writes(&nic) - before;
    assert!(idle <= 2, "2048 idle polls wrote {idle} registers");
    for f in frames([0x02, 0, 0, 0, 0, 0xee]).iter().take(16) {
        let mut m = pool.alloc().unwrap();
        m.append(f.len() as u16).unwrap().copy_from_slice(f);
        burst.push(m).unwrap();
    }
    let before = mmio_writes(&nic);
    assert_eq!(nic_tx.tx_burst(&mut burst), 16);
    per_burst(mmio_writes(&nic) - before, "a TX burst of 16");
    let got = receive(&mut kern_rx, 16);
    assert_eq!(got.len(), 16);
    send_paced(&mut kern_tx, &pool, &back[..16]);
    std::thread::sleep(Duration::from_millis(100));
    let before = mmio_writes(&nic);
    let n = nic_rx.rx_burst(&mut burst);
    assert!(n > 1, "frames waiting: {n}");
    per_burst(mmio_writes(&nic) - before, "an RX burst");
    burst.clear();
    let rest = receive(&mut nic_rx, 16 - n);
    assert_eq!(n + rest.len(), 16, "the frames of the register-write check");

    // Promiscuous off: frames to another MAC are filtered by the device, ours still come.
    nic.promiscuous_disable().unwrap();
    let other = frames([0x02, 0, 0, 0, 0, 0x77]);
    send_paced(&mut kern_tx, &pool, &other[..20]);
    send_paced(&mut kern_tx, &pool, &back[..20]);
    let got = receive(&mut nic_rx, 20);
    assert!(
        got == back[..20],
        "without promiscuous mode only frames to our MAC come"
    );

    drop((nic_rx, nic_tx, kern_rx, kern_tx));
    nic.stop().unwrap();
    kern.stop().unwrap();
    nic.close().unwrap();
    kern.close().unwrap();
    pool.audit()
        .expect("every mbuf is back in the pool once the ports are closed");
    eprintln!("{pci}: {FRAMES} frames each way, identical");
}

/// The two ends of `l2fwd` running between two rpdk-driven NICs on different hubs: frames
/// sent on the first hub's peer come out on the second's, with l2fwd's MAC rewrite and the rest
/// identical.
#[test]
#[ignore = "runs in the QEMU guest: scripts/qemu-test.sh"]
fn l2fwd_peer() {
    let (Some(peer), Some(peer2)) = (env("RPDK_GUEST_PEER"), env("RPDK_GUEST_PEER2")) else {
        panic!("l2fwd_peer runs in the QEMU guest: RPDK_GUEST_PEER and RPDK_GUEST_PEER2");
    };
    let _eal = eal(
        &[],
        &[
            format!("net_af_packet0,iface={peer}"),
            format!("net_af_packet1,iface={peer2}"),
        ],
        "rpdkp",
    );
    let pool = PktmbufPool::create("peer", 2047, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let a = Port::by_name("net_af_packet0").unwrap();
    let b = Port::by_name("net_af_packet1").unwrap();
    start(&a, &pool);
    start(&b, &pool);
    let mut a_tx = a.tx_queue(0).unwrap();
    let mut b_rx = b.rx_queue(0).unwrap();
    let out = frames([0x02, 0, 0, 0, 0, 0x00]);
    send_paced(&mut a_tx, &pool, &out);
    let got = receive_any(&mut b_rx, out.len());
    assert_eq!(got.len(), out.len(), "frames forwarded");
    for (g, o) in got.iter().zip(&out) {
        assert_eq!(
            g[..6],
            [0x02, 0, 0, 0, 0, 0x01],
            "l2fwd's destination: its port 1"
        );
        assert_eq!(
            g[12..],
            o[12..],
            "the frame after the MAC addresses is unchanged"
        );
    }
    drop((a_tx, b_rx));
    a.stop().unwrap();
    b.stop().unwrap();
    a.close().unwrap();
    b.close().unwrap();
    pool.audit()
        .expect("every mbuf is back in the pool once the ports are closed");
}

/// As [`receive`], for frames whose source MAC l2fwd rewrote: ours by ethertype and sequence.
fn receive_any(rxq: &mut RxQueue, n: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut burst = MbufBurst::<32>::new();
    let deadline = Instant::now() + DEADLINE;
    let mut quiet_until = None;
    loop {
        let now = Instant::now();
        if got.len() >= n && quiet_until.is_none() {
            quiet_until = Some(now + QUIET);
        }
        if now > deadline || quiet_until.is_some_and(|q| now > q) {
            return got;
        }
        if rxq.rx_burst(&mut burst) > 0 {
            got.extend(
                burst
                    .iter()
                    .map(|m| m.data().to_vec())
                    .filter(|f| f.len() >= 18 && f[12..14] == [0x88, 0xb5]),
            );
            burst.clear();
        } else {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
}
