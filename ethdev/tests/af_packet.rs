//! `net_af_packet` on real veth pairs, each test in a network namespace of its own (root only;
//! skipped with a message otherwise): identical bytes both ways between a port and the kernel
//! and between two ports, fanout over several queues without loss or duplicates, offloads,
//! control operations, bad devargs, missing and vanishing interfaces, pool exhaustion, and the
//! veth topology script. Every sending loop is bounded in count and time.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rpdk_eal::Eal;
use rpdk_ethdev::rss::{self, DEFAULT_RSS_KEY};
use rpdk_ethdev::{
    EthConf, Port, RssConf, RssHf, RxConf, RxQueue, TxConf, TxQueue, rx_offload, tx_offload,
};
use rpdk_mbuf::net::MacAddr;
use rpdk_mbuf::{MbufBurst, OlFlags, PktmbufPool};
use rpdk_testsupport::logs::LogCapture;
use rpdk_testsupport::netns::NetNs;
use rpdk_testsupport::port::{PortFixture, PortSetup, receive_frames, send_frames};
use rpdk_testsupport::raw::RawSocket as Raw;
use rpdk_testsupport::{eal_args, require_root, serial, unique_prefix};

/// How long a test waits for frames before it fails.
const DEADLINE: Duration = Duration::from_secs(5);
/// How long it watches for frames that must not come (more than a block's retire timeout).
const QUIET: Duration = Duration::from_millis(150);

/// The EAL with `vdevs` and a pool of `pool_size` mbufs, every port set up with `queues`
/// queue pairs and started (or only made, with `queues` 0); torn down and audited on drop.
fn fixture(vdevs: &[&str], pool_size: u32, queues: u16) -> PortFixture {
    let setup = PortSetup {
        pool_size,
        start: queues > 0,
        ..PortSetup::queues(queues.max(1))
    };
    PortFixture::new("af-packet-test", vdevs, &setup).unwrap()
}

fn eal(vdevs: &[&str]) -> rpdk_eal::Result<Eal> {
    rpdk_eal::init(eal_args("af-packet-test", vdevs)).map(|(e, _)| e)
}

/// Configures `nq` queue pairs and starts the port.
fn start(port: &Port, pool: &PktmbufPool, nq: u16, conf: &EthConf) {
    port.configure(nq, nq, conf).unwrap();
    for q in 0..nq {
        port.rx_queue_setup(q, 0, None, &RxConf::default(), pool)
            .unwrap();
        port.tx_queue_setup(q, 0, None, &TxConf::default()).unwrap();
    }
    port.start().unwrap();
}

/// A namespace with a veth pair `a` <-> `b`, entered by the calling thread.
fn netns(tag: &str) -> (NetNs, rpdk_testsupport::netns::Entered) {
    let ns = NetNs::new(tag).unwrap();
    ns.add_veth("afa", "afb").unwrap();
    let inside = ns.enter().unwrap();
    (ns, inside)
}

const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];

/// An Ethernet/IPv4/UDP frame of flow `flow` carrying `seq`, `len` bytes long (at least 46).
fn udp_frame(seq: u32, flow: u16, len: usize) -> Vec<u8> {
    let mut payload = seq.to_be_bytes().to_vec();
    payload.extend((0..len.saturating_sub(42 + 4)).map(|i| (seq as usize * 7 + i) as u8));
    let mut f = Vec::with_capacity(len);
    etherparse::PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
        .udp(1024 + flow, 9)
        .write(&mut f, &payload)
        .unwrap();
    f
}

/// The sequence number of a frame of [`udp_frame`], after its 42 bytes of headers.
fn seq_of(frame: &[u8]) -> u32 {
    u32::from_be_bytes(frame[42..46].try_into().unwrap())
}

/// The same frame with an 802.1Q tag (`tci`) after the MAC addresses.
fn tagged(frame: &[u8], tci: u16) -> Vec<u8> {
    let mut f = frame[..12].to_vec();
    f.extend_from_slice(&0x8100u16.to_be_bytes());
    f.extend_from_slice(&tci.to_be_bytes());
    f.extend_from_slice(&frame[12..]);
    f
}

/// Frames of sizes from the minimum to the maximum Ethernet frame.
fn frames(n: u32) -> Vec<Vec<u8>> {
    const SIZES: [usize; 6] = [60, 64, 128, 511, 1024, 1514];
    (0..n)
        .map(|i| udp_frame(i, i as u16 % 8, SIZES[i as usize % SIZES.len()]))
        .collect()
}

/// Receives on `queues` until `n` frames came (or the deadline passed), then watches a little
/// longer for extra ones. Returns each frame with its queue.
fn receive(queues: &mut [RxQueue], n: usize) -> Vec<(usize, Vec<u8>)> {
    receive_then_wait(queues, n, QUIET)
}

/// As [`receive`], watching `quiet` for extra frames.
fn receive_then_wait(queues: &mut [RxQueue], n: usize, quiet: Duration) -> Vec<(usize, Vec<u8>)> {
    receive_frames(queues, n, DEADLINE, quiet)
}

fn receive_one_queue(rxq: &mut RxQueue, n: usize) -> Vec<Vec<u8>> {
    receive(std::slice::from_mut(rxq), n)
        .into_iter()
        .map(|(_, f)| f)
        .collect()
}

/// Sends `frames` on `txq` in bursts of up to 32, retrying what the queue could not take.
fn send(txq: &mut TxQueue, pool: &PktmbufPool, frames: &[Vec<u8>]) {
    send_frames(txq, pool, frames, DEADLINE);
}

#[test]
fn frames_cross_between_a_port_and_the_kernel_unchanged() {
    if !require_root("frames_cross_between_a_port_and_the_kernel_unchanged") {
        return;
    }
    let _s = serial();
    let (_ns, _in) = netns("afpk");
    let f = fixture(&["net_af_packet0,iface=afa"], 1024, 1);
    let (port, pool) = (f.port(0), f.pool());
    assert_eq!(port.info().driver_name, "net_af_packet");
    let (mut rxq, mut txq) = (port.rx_queue(0).unwrap(), port.tx_queue(0).unwrap());
    let raw = Raw::open("afb");
    let sent = frames(200);

    // Kernel to port.
    for f in &sent {
        raw.send(f);
    }
    let got = receive_one_queue(&mut rxq, sent.len());
    assert_eq!(got.len(), sent.len(), "frames received");
    assert!(got == sent, "received bytes differ from those sent");
    let bytes: u64 = sent.iter().map(|f| f.len() as u64).sum();
    let s = port.stats();
    assert_eq!(
        (s.ipackets, s.ibytes, s.ierrors, s.imissed),
        (200, bytes, 0, 0)
    );

    // Port to kernel.
    send(&mut txq, pool, &sent);
    let out = raw.recv_n(sent.len(), DEADLINE, QUIET);
    assert_eq!(out.len(), sent.len(), "frames the kernel received");
    assert!(
        out == sent,
        "bytes the kernel received differ from those sent"
    );
    let s = port.stats();
    assert_eq!((s.opackets, s.obytes, s.oerrors), (200, bytes, 0));
    // A frame shorter than an Ethernet header is taken and dropped: an error, not sent bytes.
    send(&mut txq, pool, &[vec![0xff; 10]]);
    let s = port.stats();
    assert_eq!((s.opackets, s.obytes, s.oerrors), (200, bytes, 1));
    // The port does not see what it sent.
    assert!(
        receive_one_queue(&mut rxq, 0).is_empty(),
        "own frames came back"
    );
    assert!(port.xstat("tx_q0_kicks").unwrap() >= 1);
}

#[test]
fn two_ports_on_a_veth_pair_exchange_identical_frames() {
    if !require_root("two_ports_on_a_veth_pair_exchange_identical_frames") {
        return;
    }
    let _s = serial();
    let (_ns, _in) = netns("afp2");
    // Port 1 receives through a TPACKET_V2 ring (the default), port 0 through a V3 one.
    let f = fixture(
        &[
            "net_af_packet0,iface=afa,tpacket_version=3",
            "eth_af_packet1,iface=afb",
        ],
        2048,
        1,
    );
    let (p0, p1, pool) = (f.port(0), f.port(1), f.pool());
    let (mut rx0, mut tx0) = (p0.rx_queue(0).unwrap(), p0.tx_queue(0).unwrap());
    let (mut rx1, mut tx1) = (p1.rx_queue(0).unwrap(), p1.tx_queue(0).unwrap());
    let mut sent = frames(300);
    // VLAN tags the kernel takes out of frames come back in the bytes.
    sent.push(tagged(&udp_frame(1000, 1, 100), 0x2005));
    sent.push(tagged(&udp_frame(1001, 1, 1514), 0x0fff));

    send(&mut tx0, pool, &sent);
    assert!(receive_one_queue(&mut rx1, sent.len()) == sent, "0 -> 1");
    send(&mut tx1, pool, &sent);
    assert!(receive_one_queue(&mut rx0, sent.len()) == sent, "1 -> 0");
    let (s0, s1) = (p0.stats(), p1.stats());
    assert_eq!((s0.opackets, s0.ipackets), (302, 302));
    assert_eq!((s1.opackets, s1.ipackets), (302, 302));
    assert_eq!(s0.obytes, s1.ibytes);
    // A V2 RX slot holds framesz - 66 bytes of frame, a V3 port promises framesz - 32.
    assert_eq!(p0.info().max_rx_pktlen, 2016);
    assert_eq!(p1.info().max_rx_pktlen, 1982);
    // A V2 ring hands frames over one by one, never in blocks.
    assert!(p0.xstat("rx_q0_blocks").unwrap() >= 1);
    assert_eq!(p1.xstat("rx_q0_blocks").unwrap(), 0);
}

#[test]
fn fanout_spreads_flows_over_queues_without_loss_or_duplicates() {
    if require_root("fanout_spreads_flows_over_queues_without_loss_or_duplicates") {
        fanout("afpf", "net_af_packet0,iface=afa,qpairs=4");
    }
}

#[test]
fn fanout_over_tpacket_v3_rings() {
    if require_root("fanout_over_tpacket_v3_rings") {
        fanout(
            "afpg",
            "net_af_packet0,iface=afa,qpairs=4,tpacket_version=3",
        );
    }
}

fn fanout(tag: &str, vdev: &str) {
    let _s = serial();
    let (_ns, _in) = netns(tag);
    let f = fixture(&[vdev], 4096, 4);
    let (port, pool) = (f.port(0), f.pool());
    assert_eq!(port.device_info().max_rx_queues, 4);
    let mut rxqs: Vec<RxQueue> = (0..4).map(|q| port.rx_queue(q).unwrap()).collect();
    let raw = Raw::open("afb");
    const N: u32 = 2000;
    let sent: Vec<Vec<u8>> = (0..N)
        .map(|i| udp_frame(i, (i % 251) as u16, 60 + (i as usize * 13) % 400))
        .collect();
    let mut got = Vec::new();
    for chunk in sent.chunks(100) {
        for f in chunk {
            raw.send(f);
        }
        got.extend(receive_then_wait(&mut rxqs, 0, Duration::from_millis(10)));
    }
    got.extend(receive(&mut rxqs, sent.len() - got.len()));
    let mut per_queue = [0usize; 4];
    let mut seen = HashMap::new();
    for (q, f) in &got {
        per_queue[*q] += 1;
        let seq = seq_of(f);
        assert!(
            seen.insert(seq, f.clone()).is_none(),
            "frame {seq} received twice"
        );
    }
    assert_eq!(
        got.len(),
        N as usize,
        "frames received (per queue {per_queue:?})"
    );
    for (i, f) in sent.iter().enumerate() {
        assert!(
            seen.get(&(i as u32)) == Some(f),
            "frame {i} lost or changed"
        );
    }
    assert!(
        per_queue.iter().filter(|&&n| n > 0).count() >= 3,
        "flows spread over the queues: {per_queue:?}"
    );
    let s = port.stats();
    assert_eq!(s.ipackets, N as u64);
    for (q, n) in per_queue.iter().enumerate() {
        assert_eq!(s.q_ipackets[q], *n as u64);
    }

    // Every TX queue sends.
    let mut txqs: Vec<TxQueue> = (0..4).map(|q| port.tx_queue(q).unwrap()).collect();
    for (q, txq) in txqs.iter_mut().enumerate() {
        send(txq, pool, &sent[q * 50..q * 50 + 50]);
    }
    let out = raw.recv_n(200, DEADLINE, QUIET);
    assert!(out == sent[..200], "frames sent on four queues");
    assert!(
        receive(&mut rxqs, 0).is_empty(),
        "the fanout group saw the port's own frames"
    );
    assert!(port.stats().q_opackets[..4].iter().all(|&n| n == 50));
}

#[test]
fn offloads_strip_and_insert_vlan_tags_and_hash_in_software() {
    if !require_root("offloads_strip_and_insert_vlan_tags_and_hash_in_software") {
        return;
    }
    let _s = serial();
    let (_ns, _in) = netns("afpo");
    let f = fixture(
        &["net_af_packet0,iface=afa", "net_af_packet1,iface=afb"],
        1024,
        0,
    );
    let (p0, p1, pool) = (f.port(0), f.port(1), f.pool());
    let tx_conf = EthConf {
        tx_offloads: tx_offload::VLAN_INSERT | tx_offload::MULTI_SEGS,
        ..EthConf::default()
    };
    start(p0, pool, 1, &tx_conf);
    let rx_conf = EthConf {
        rx_offloads: rx_offload::VLAN_STRIP | rx_offload::RSS_HASH,
        rss: RssConf {
            key: None,
            hf: RssHf::IP | RssHf::UDP,
        },
        ..EthConf::default()
    };
    start(p1, pool, 1, &rx_conf);
    let mut tx0 = p0.tx_queue(0).unwrap();
    let mut rx1 = p1.rx_queue(0).unwrap();

    let plain = udp_frame(7, 3, 200);
    let mut burst = MbufBurst::<4>::new();
    // A tagged frame, an untagged one the port tags, and one in two segments.
    for (frame, tci) in [
        (tagged(&plain, 0x0123), None),
        (plain.clone(), Some(0x0456)),
    ] {
        let mut m = pool.alloc().unwrap();
        m.append(frame.len() as u16)
            .unwrap()
            .copy_from_slice(&frame);
        if let Some(tci) = tci {
            m.set_vlan_tci(tci);
            m.set_ol_flags(OlFlags::TX_VLAN);
        }
        burst.push(m).unwrap();
    }
    let mut head = pool.alloc().unwrap();
    head.append(50).unwrap().copy_from_slice(&plain[..50]);
    let mut tail = pool.alloc().unwrap();
    tail.append((plain.len() - 50) as u16)
        .unwrap()
        .copy_from_slice(&plain[50..]);
    head.chain(tail).map_err(|(e, _)| e).unwrap();
    burst.push(head).unwrap();
    assert_eq!(tx0.tx_burst(&mut burst), 3);

    let mut got = MbufBurst::<32>::new();
    let deadline = Instant::now() + DEADLINE;
    while got.len() < 3 && Instant::now() < deadline {
        rx1.rx_burst(&mut got);
    }
    assert_eq!(got.len(), 3);
    let want_hash = rss::hash_frame(&plain, RssHf::IP | RssHf::UDP, &DEFAULT_RSS_KEY).unwrap();
    for (m, tci) in got.iter().zip([Some(0x0123), Some(0x0456), None]) {
        assert_eq!(m.data(), &plain[..], "tag stripped");
        let stripped = OlFlags::RX_VLAN | OlFlags::RX_VLAN_STRIPPED;
        match tci {
            Some(tci) => {
                assert_eq!(m.vlan_tci(), tci);
                assert!(m.ol_flags().contains(stripped));
            }
            None => assert!(!m.ol_flags().intersects(stripped)),
        }
        assert!(m.ol_flags().contains(OlFlags::RX_RSS_HASH));
        assert_eq!(m.rss_hash(), want_hash);
        assert_eq!(m.port(), 1);
    }
    drop(got);
}

#[test]
fn control_operations_reach_the_interface() {
    if !require_root("control_operations_reach_the_interface") {
        return;
    }
    let _s = serial();
    let (ns, _in) = netns("afpc");
    let f = fixture(&["net_af_packet0,iface=afa,qpairs=2"], 1024, 0);
    let (port, pool) = (f.port(0), f.pool());
    let link = |dev: &str| ns.sh(&format!("ip -d link show {dev}")).unwrap();
    let info = port.info();
    let ifindex: u32 = ns
        .sh("cat /sys/class/net/afa/ifindex")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(info.if_index, Some(ifindex));
    let dev = port.device_info();
    assert_eq!((dev.max_rx_queues, dev.max_tx_queues), (2, 2));
    assert_eq!(info.max_rx_queues, 1024, "the stage serves more");
    assert_eq!(
        (info.max_mtu, info.max_rx_pktlen),
        (1964, 1982),
        "V2 RX slots"
    );

    let mac = ns.sh("cat /sys/class/net/afa/address").unwrap();
    assert_eq!(port.mac_addr().to_string().to_lowercase(), mac.trim());
    let new: MacAddr = "02:aa:bb:cc:dd:01".parse().unwrap();
    port.set_mac_addr(new).unwrap();
    assert!(link("afa").contains("link/ether 02:aa:bb:cc:dd:01"));
    assert_eq!(port.mac_addr(), new);

    assert_eq!(port.mtu(), 1500);
    port.set_mtu(1400).unwrap();
    assert!(link("afa").contains("mtu 1400"));
    assert_eq!(port.mtu(), 1400);
    let e = port.set_mtu(9000).unwrap_err().to_string();
    assert!(e.contains("MTU 9000 outside 68..=1964"), "{e}");
    port.set_mtu(1500).unwrap();

    port.promiscuous_enable().unwrap();
    assert!(port.promiscuous());
    assert!(link("afa").contains("promiscuity 1"));
    port.promiscuous_disable().unwrap();
    assert!(link("afa").contains("promiscuity 0"));
    // The all-multicast count (`allmulti N`) shows with Linux 6.6 and iproute2 6.7 on.
    let allmulti = |s: String| {
        let mut w = s.split_whitespace().skip_while(|w| *w != "allmulti");
        w.nth(1).map(str::to_string)
    };
    port.allmulticast_enable().unwrap();
    assert!(port.allmulticast());
    if let Some(n) = allmulti(link("afa")) {
        assert_eq!(n, "1");
    }
    port.allmulticast_disable().unwrap();
    assert!(!port.allmulticast());
    if let Some(n) = allmulti(link("afa")) {
        assert_eq!(n, "0");
    }

    // Link: down until started; then the interface's, with ethtool's speed.
    assert!(!port.link().up);
    start(port, pool, 2, &EthConf::default());
    let l = port.link();
    assert!(l.up && l.full_duplex, "{l}");
    assert_eq!(l.speed, 10_000, "veth reports 10 Gbit/s");
    ns.sh("ip link set afb down").unwrap();
    assert!(!port.link().up, "peer down: no carrier");
    ns.sh("ip link set afb up").unwrap();
    // The kernel brings the carrier back asynchronously (link events are rate-limited).
    let deadline = Instant::now() + DEADLINE;
    while !port.link().up {
        assert!(Instant::now() < deadline, "link did not come back up");
        std::thread::sleep(Duration::from_millis(10));
    }

    // Frames that come while the port is stopped never reach it.
    let mut rxqs: Vec<RxQueue> = (0..2).map(|q| port.rx_queue(q).unwrap()).collect();
    let raw = Raw::open("afb");
    port.stop().unwrap();
    for f in &frames(20) {
        raw.send(f);
    }
    port.start().unwrap();
    assert!(
        receive(&mut rxqs, 0).is_empty(),
        "frames from while stopped"
    );
    let later = frames(5);
    for f in &later {
        raw.send(f);
    }
    let mut got: Vec<Vec<u8>> = receive(&mut rxqs, 5).into_iter().map(|(_, f)| f).collect();
    got.sort_by_key(|f| seq_of(f));
    assert!(got == later);

    assert!(port.xstat("rx_q1_blocks").is_some());
    port.xstats_reset();
    assert_eq!(port.xstat("rx_q0_blocks"), Some(0));
    drop(rxqs);
    // Closing drops the memberships.
    port.promiscuous_enable().unwrap();
    assert!(link("afa").contains("promiscuity 1"));
    port.stop().unwrap();
    port.close().unwrap();
    assert!(link("afa").contains("promiscuity 0"));
}

#[test]
fn bad_devargs_and_missing_interfaces_are_named() {
    if !require_root("bad_devargs_and_missing_interfaces_are_named") {
        return;
    }
    let _s = serial();
    let (ns, _in) = netns("afpb");
    for (dev, want) in [
        ("net_af_packet0", "missing key 'iface'"),
        (
            "net_af_packet0,iface=nosuch0",
            "interface 'nosuch0' (key 'iface') does not exist",
        ),
        (
            "net_af_packet0,iface=afa,qpairs=0",
            "invalid value '0' for key 'qpairs'",
        ),
        (
            "net_af_packet0,iface=afa,blocksz=1000",
            "invalid value '1000' for key 'blocksz'",
        ),
        (
            "net_af_packet0,iface=afa,framesz=100",
            "invalid value '100' for key 'framesz'",
        ),
        (
            "net_af_packet0,iface=afa,framecnt=3",
            "invalid value '3' for key 'framecnt'",
        ),
        (
            "net_af_packet0,iface=afa,qdisc_bypass=yes please",
            "invalid value 'yes please' for key 'qdisc_bypass'",
        ),
        (
            "net_af_packet0,iface=afa,tpacket_version=1",
            "invalid value '1' for key 'tpacket_version' (2 or 3)",
        ),
    ] {
        let e = eal(&[dev]).unwrap_err().to_string();
        assert!(
            e.contains("net_af_packet0") && e.contains(want),
            "{dev}: {e}"
        );
        assert_eq!(rpdk_ethdev::port_count(), 0);
    }
    // A key the driver does not know is a warning, and the port probes without it.
    let logs = LogCapture::start();
    let eal_ok = eal(&["net_af_packet0,iface=afa,speed=10"]).unwrap();
    let text = logs.text();
    assert!(
        text.contains("net_af_packet0: ignoring unknown key 'speed' (valid keys of net_af_packet"),
        "{text}"
    );
    assert_eq!(rpdk_ethdev::port_count(), 1);
    drop(logs);
    drop(eal_ok);
    // Not an Ethernet interface.
    if ns.sh("ip tuntap add dev aftun mode tun").is_ok() {
        let e = eal(&["net_af_packet0,iface=aftun"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'aftun' (key 'iface') does not carry Ethernet frames"),
            "{e}"
        );
    }
    // A pool whose mbufs cannot hold a frame.
    let _eal = eal(&["net_af_packet0,iface=afa"]).unwrap();
    let small = PktmbufPool::create("afpb_small", 64, 0, 0, 1024, None).unwrap();
    let port = Port::get(0).unwrap();
    port.configure(1, 1, &EthConf::default()).unwrap();
    let e = port
        .rx_queue_setup(0, 0, None, &RxConf::default(), &small)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("frames of up to 1982 bytes (framesz 2048) do not fit"),
        "{e}"
    );
}

#[test]
fn a_vanished_interface_gives_errors_and_link_down_not_a_hang() {
    if !require_root("a_vanished_interface_gives_errors_and_link_down_not_a_hang") {
        return;
    }
    let _s = serial();
    let (ns, _in) = netns("afpv");
    let f = fixture(&["net_af_packet0,iface=afa"], 2048, 1);
    let (port, pool) = (f.port(0), f.pool());
    let (mut rxq, mut txq) = (port.rx_queue(0).unwrap(), port.tx_queue(0).unwrap());
    send(&mut txq, pool, &frames(10));
    assert!(port.link().up);

    ns.sh("ip link del afa").unwrap();
    assert!(!port.link().up, "link down once the interface is gone");
    // Bounded: at most 100 bursts of 32, within the deadline; none may block.
    let frame = udp_frame(1, 1, 100);
    let (mut burst, mut rx_burst) = (MbufBurst::<32>::new(), MbufBurst::<32>::new());
    let t0 = Instant::now();
    let mut taken = 0;
    for _ in 0..100 {
        while !burst.is_full() {
            let mut m = pool.alloc().unwrap();
            m.append(frame.len() as u16)
                .unwrap()
                .copy_from_slice(&frame);
            burst.push(m).unwrap();
        }
        taken += txq.tx_burst(&mut burst);
        assert_eq!(rxq.rx_burst(&mut rx_burst), 0);
    }
    assert!(t0.elapsed() < DEADLINE, "bursts took {:?}", t0.elapsed());
    let s = port.stats();
    assert!(s.oerrors > 0, "errors counted: {s:?}");
    assert_eq!(
        s.oerrors, taken as u64,
        "everything taken after the loss is an error"
    );
    assert_eq!(
        s.opackets, 10,
        "frames taken and lost are errors, not sent packets"
    );
    let first: u64 = frames(10).iter().map(|f| f.len() as u64).sum();
    assert_eq!(s.obytes, first, "nor sent bytes");
    assert_eq!(s.ipackets, 0);
    let _ = port.mac_addr();
    let _ = port.mtu();
    drop(burst);
}

#[test]
fn an_exhausted_pool_counts_rx_nombuf_and_loses_nothing() {
    if require_root("an_exhausted_pool_counts_rx_nombuf_and_loses_nothing") {
        exhausted_pool("afpx", "net_af_packet0,iface=afa");
    }
}

#[test]
fn an_exhausted_pool_loses_nothing_from_a_tpacket_v3_ring() {
    if require_root("an_exhausted_pool_loses_nothing_from_a_tpacket_v3_ring") {
        exhausted_pool("afpy", "net_af_packet0,iface=afa,tpacket_version=3");
    }
}

fn exhausted_pool(tag: &str, vdev: &str) {
    let _s = serial();
    let (_ns, _in) = netns(tag);
    let f = fixture(&[vdev], 48, 1);
    let (port, pool) = (f.port(0), f.pool());
    let mut rxq = port.rx_queue(0).unwrap();
    let raw = Raw::open("afb");
    let sent = frames(40);
    for f in &sent {
        raw.send(f);
    }
    // Take 32 frames and hold them, then the rest of the pool.
    let mut first = MbufBurst::<32>::new();
    let deadline = Instant::now() + DEADLINE;
    while !first.is_full() && Instant::now() < deadline {
        rxq.rx_burst(&mut first);
    }
    assert_eq!(first.len(), 32);
    let mut hold = MbufBurst::<32>::new();
    pool.alloc_bulk(&mut hold, 16).unwrap();
    assert_eq!(pool.avail_count(), 0);
    let mut b = MbufBurst::<32>::new();
    assert_eq!(rxq.rx_burst(&mut b), 0, "no mbufs, no frames");
    let nombuf = port.stats().rx_nombuf;
    assert!(
        (1..=8).contains(&nombuf),
        "waiting frames found no mbuf: {nombuf}"
    );
    assert_eq!(pool.avail_count(), 0);
    // Mbufs back: the 8 frames come, unchanged.
    drop(hold);
    let mut got: Vec<Vec<u8>> = first.iter().map(|m| m.data().to_vec()).collect();
    drop(first);
    got.extend(receive_one_queue(&mut rxq, 8));
    assert!(got == sent, "frames lost or changed");
    let s = port.stats();
    assert_eq!((s.ipackets, s.imissed, s.ierrors), (40, 0, 0));
}

/// `scripts/veth-topology.sh` run with its links in a test's namespace: in that network
/// namespace only (`nsenter`), since namespaces that `ip netns add` makes under `ip netns exec`
/// are not visible outside it. Removes the topology on drop, even when the test fails.
struct Topology<'a> {
    ns: &'a NetNs,
    prefix: String,
}

impl Topology<'_> {
    fn run(&self, args: &str) -> Result<String, String> {
        let script = format!("{}/../scripts/veth-topology.sh", env!("CARGO_MANIFEST_DIR"));
        let out = std::process::Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.ns.name()))
            .arg(script)
            .args(args.split_whitespace())
            .args(["--prefix", &self.prefix])
            .output()
            .map_err(|e| format!("running nsenter: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(format!(
                "{args}: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(text)
    }
}

impl Drop for Topology<'_> {
    fn drop(&mut self) {
        let _ = self.run("down");
    }
}

#[test]
fn veth_topology_carries_ping_through_two_ports() {
    if !require_root("veth_topology_carries_ping_through_two_ports") {
        return;
    }
    let _s = serial();
    let ns = NetNs::new("afpt").unwrap();
    let prefix = unique_prefix("t");
    let topo = Topology {
        ns: &ns,
        prefix: prefix.clone(),
    };
    topo.run("up --pairs 2").unwrap();
    let show = topo.run("show").unwrap();
    assert!(
        show.contains(&format!("{prefix}ns0")) && show.contains("198.18.0.2"),
        "{show}"
    );
    let _in = ns.enter().unwrap();
    let f = fixture(
        &[
            &format!("net_af_packet0,iface={prefix}0"),
            &format!("net_af_packet1,iface={prefix}1"),
        ],
        1024,
        1,
    );
    let (p0, p1) = (f.port(0), f.port(1));
    // Forward both ways until told to stop, on a thread (which inherits the namespace).
    let stop = Arc::new(AtomicBool::new(false));
    let fwd = {
        let stop = stop.clone();
        let mut q = [
            (p0.rx_queue(0).unwrap(), p1.tx_queue(0).unwrap()),
            (p1.rx_queue(0).unwrap(), p0.tx_queue(0).unwrap()),
        ];
        std::thread::spawn(move || {
            let mut burst = MbufBurst::<32>::new();
            let t0 = Instant::now();
            while !stop.load(Ordering::Relaxed) && t0.elapsed() < Duration::from_secs(30) {
                for (rx, tx) in &mut q {
                    if rx.rx_burst(&mut burst) > 0 {
                        tx.tx_burst(&mut burst);
                        burst.clear();
                    }
                }
                std::thread::sleep(Duration::from_micros(100));
            }
        })
    };
    let ping = std::process::Command::new("ip")
        .args(["netns", "exec", &format!("{prefix}ns0")])
        .args(["ping", "-c", "3", "-i", "0.2", "-W", "2", "198.18.0.2"])
        .output()
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    fwd.join().unwrap();
    let out = String::from_utf8_lossy(&ping.stdout);
    assert!(
        ping.status.success(),
        "ping through the ports failed: {out}{}",
        String::from_utf8_lossy(&ping.stderr)
    );
    assert!(out.contains("3 received"), "{out}");
    assert!(p0.stats().ipackets >= 3 && p1.stats().opackets >= 3);
    drop(topo);
    let left = ns.sh("ip netns list").unwrap();
    assert!(!left.contains(&prefix), "namespaces left: {left}");
}
