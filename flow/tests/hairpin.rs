//! Hairpin targets (root only): QUEUE and RSS actions naming a port's hairpin RX queue send
//! matching frames out of the peer TX queue while the application polls nothing (the hairpin
//! service's polling classifies as the packets leave the kernel queue); frames no rule takes
//! wait for the application in its queue. Two `net_af_packet` ports on veth pairs
//! (two-port hairpin, explicit TX flow mode, manual bind), and one port (one-port hairpin,
//! bound at start). Bytes and counts are checked.

use std::sync::Arc;
use std::time::Duration;

use rpdk_eal::Eal;
use rpdk_ethdev::{EthConf, HairpinConf, HairpinPeer, Port, RxConf, TxConf};
use rpdk_flow::FlowTable;
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, MbufBurst, PktmbufPool};
use rpdk_testsupport::netns::NetNs;
use rpdk_testsupport::raw::RawSocket as Raw;
use rpdk_testsupport::{allowed_cpus, require_root, serial};

mod common;
use common::rule;

const DEADLINE: Duration = Duration::from_secs(5);

/// Lcores 0 and 1 (1 the service lcore that moves the hairpins) and `vdevs`.
fn eal(prefix: &str, vdevs: &[&str]) -> Eal {
    let cpus = allowed_cpus();
    let mut args: Vec<String> = vec![
        "flow-hairpin-test".into(),
        "--no-huge".into(),
        "--no-shconf".into(),
        "--file-prefix".into(),
        prefix.into(),
        "--lcores".into(),
        format!("0@{},1@{}", cpus[0], cpus[cpus.len() - 1]),
        "-s".into(),
        "0x2".into(),
    ];
    for v in vdevs {
        args.extend(["--vdev".to_string(), v.to_string()]);
    }
    rpdk_eal::init(args).unwrap().0
}

/// UDP frame `i` to `dport`, of `60 + i % 200` bytes.
fn frame(i: u32, dport: u16) -> Vec<u8> {
    let mut f = Vec::new();
    let payload: Vec<u8> = (0..18 + i % 200).map(|k| (k * 7 + i) as u8).collect();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 0x0a], [2, 0, 0, 0, 0, 0x0b])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(1000 + i as u16, dport)
        .write(&mut f, &payload)
        .unwrap();
    f
}

/// Our frames (UDP from 10.0.0.1) received on `raw`, until `n` came or the deadline passed.
fn receive(raw: &Raw, n: usize) -> Vec<Vec<u8>> {
    raw.recv_n_where(n, DEADLINE, Duration::from_millis(200), |f| {
        f.len() >= 34 && f[12..14] == [8, 0] && f[26..30] == [10, 0, 0, 1]
    })
}

fn pool(name: &str) -> PktmbufPool {
    PktmbufPool::create(name, 1023, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap()
}

/// What the application finds in RX queue 0 of `port` (polled until `n` came, or 2 s).
fn app_receives(port: &Port, n: usize) -> Vec<Vec<u8>> {
    let mut rxq = port.rx_queue(0).unwrap();
    let mut got = Vec::new();
    let end = std::time::Instant::now() + Duration::from_secs(2);
    while got.len() < n && std::time::Instant::now() < end {
        let mut b = MbufBurst::<32>::new();
        rxq.rx_burst(&mut b);
        got.extend(b.iter().map(|m| m.data().to_vec()));
        b.clear();
        std::thread::sleep(Duration::from_millis(1));
    }
    got.retain(|f| f.len() >= 34 && f[26..30] == [10, 0, 0, 1]);
    got
}

#[test]
fn two_port_hairpin_rule_forwards_matching_frames_unpolled() {
    if !require_root("two_port_hairpin_rule_forwards_matching_frames_unpolled") {
        return;
    }
    let _s = serial();
    let ns = NetNs::new("fhp2").unwrap();
    ns.add_veth("fha", "fhb").unwrap();
    ns.add_veth("fqa", "fqb").unwrap();
    let _in = ns.enter().unwrap();
    let _eal = eal(
        "rpdkt-agehp-hp2",
        &["net_af_packet0,iface=fha", "net_af_packet1,iface=fqa"],
    );
    let (p0, p1) = (Port::get(0).unwrap(), Port::get(1).unwrap());
    let pool = pool("fhp2_pool");
    // testpmd --rxq=1 --txq=1 --hairpinq=1 --hairpin-mode=0x12: queue 1 of each port is a
    // hairpin queue; port 0's RX hairpin sends to port 1's TX hairpin, and back.
    let conf = |port, queue| HairpinConf {
        peers: vec![HairpinPeer { port, queue }],
        tx_explicit: true,
        manual_bind: true,
    };
    for (p, peer) in [(&p0, 1), (&p1, 0)] {
        p.configure(2, 2, &EthConf::default()).unwrap();
        p.rx_queue_setup(0, 0, None, &RxConf::default(), &pool)
            .unwrap();
        p.tx_queue_setup(0, 0, None, &TxConf::default()).unwrap();
        p.rx_hairpin_queue_setup(1, 512, &conf(peer, 1)).unwrap();
        p.tx_hairpin_queue_setup(1, 512, &conf(peer, 1)).unwrap();
    }
    let table = Arc::new(FlowTable::new(0, 1));
    table.set_hairpin_queues(1);
    p0.set_classifier(Some(table.clone())).unwrap();
    p0.start().unwrap();
    p1.start().unwrap();
    p0.hairpin_bind(Some(1)).unwrap();
    p1.hairpin_bind(Some(0)).unwrap();
    table
        .create(rule(
            "ingress pattern eth / ipv4 dst is 10.0.0.2 / udp dst is 4789 / end actions queue index 1 / end",
        ))
        .unwrap();
    // RSS over normal and hairpin queues together is refused.
    let e = table
        .create(rule(
            "ingress pattern eth / end actions rss queues 0 1 end / end",
        ))
        .unwrap_err();
    assert!(e.message.contains("hairpin"), "{e}");

    let (into, out) = (Raw::open("fhb"), Raw::open("fqb"));
    let hit: Vec<Vec<u8>> = (0..100).map(|i| frame(i, 4789)).collect();
    let miss: Vec<Vec<u8>> = (0..30).map(|i| frame(i, 53)).collect();
    for (i, f) in hit.iter().enumerate() {
        into.send(f);
        if i % 4 == 0 {
            into.send(&miss[i / 4 % miss.len()]);
        }
    }
    for f in &miss[25..] {
        into.send(f);
    }
    // Explicit TX flow mode without an egress rule on port 1: the frames leave unchanged.
    let got = receive(&out, hit.len());
    assert!(
        got == hit,
        "{} of {} matching frames out of port 1, identical and in order",
        got.len(),
        hit.len()
    );
    let s1 = p1.stats();
    assert_eq!(s1.opackets, hit.len() as u64);
    // The others waited for the application, in its queue 0.
    let app = app_receives(&p0, miss.len());
    assert_eq!(
        app.len(),
        miss.len(),
        "non-matching frames reach the application"
    );
    let mut want: Vec<Vec<u8>> = (0..25).map(|i| miss[i % miss.len()].clone()).collect();
    want.extend(miss[25..].iter().cloned());
    assert!(
        app == want,
        "the application's frames, identical and in order"
    );
    assert_eq!(p0.stats().ipackets, (hit.len() + miss.len()) as u64);

    p0.stop().unwrap();
    p1.stop().unwrap();
    p0.close().unwrap();
    p1.close().unwrap();
    rpdk_eal::service::lcore_stop(1).unwrap();
    pool.audit().unwrap();
    pool.free();
}

#[test]
fn one_port_hairpin_rss_rule_returns_matching_frames() {
    if !require_root("one_port_hairpin_rss_rule_returns_matching_frames") {
        return;
    }
    let _s = serial();
    let ns = NetNs::new("fhp1").unwrap();
    ns.add_veth("fra", "frb").unwrap();
    let _in = ns.enter().unwrap();
    let _eal = eal("rpdkt-agehp-hp1", &["net_af_packet0,iface=fra"]);
    let p = Port::get(0).unwrap();
    let pool = pool("fhp1_pool");
    // testpmd --rxq=1 --txq=1 --hairpinq=2 (mode 0: each port to itself, bound at start).
    let auto = |queue| HairpinConf {
        peers: vec![HairpinPeer { port: 0, queue }],
        tx_explicit: false,
        manual_bind: false,
    };
    p.configure(3, 3, &EthConf::default()).unwrap();
    p.rx_queue_setup(0, 0, None, &RxConf::default(), &pool)
        .unwrap();
    p.tx_queue_setup(0, 0, None, &TxConf::default()).unwrap();
    for q in [1, 2] {
        p.rx_hairpin_queue_setup(q, 0, &auto(q)).unwrap();
        p.tx_hairpin_queue_setup(q, 0, &auto(q)).unwrap();
    }
    let table = Arc::new(FlowTable::new(0, 1));
    table.set_hairpin_queues(2);
    p.set_classifier(Some(table.clone())).unwrap();
    p.start().unwrap();
    assert_eq!(p.hairpin_services().len(), 2, "bound at start");
    table
        .create(rule(
            "ingress pattern eth / ipv4 / udp dst is 4789 / end actions rss types ipv4-udp end queues 1 2 end / end",
        ))
        .unwrap();
    let raw = Raw::open("frb");
    let hit: Vec<Vec<u8>> = (0..60).map(|i| frame(i, 4789)).collect();
    let miss: Vec<Vec<u8>> = (0..10).map(|i| frame(i, 53)).collect();
    for f in hit.iter().chain(&miss) {
        raw.send(f);
    }
    // Two hairpin queues, two services: each queue's frames in order, the two interleaved.
    let mut got = receive(&raw, hit.len());
    got.sort();
    let mut want = hit.clone();
    want.sort();
    assert!(
        got == want,
        "{} frames came back, the {} matching ones expected (RSS over 2 hairpin queues)",
        got.len(),
        want.len()
    );
    let app = app_receives(&p, miss.len());
    assert!(
        app == miss,
        "{} of {} non-matching frames to the application",
        app.len(),
        miss.len()
    );
    p.stop().unwrap();
    p.close().unwrap();
    rpdk_eal::service::lcore_stop(1).unwrap();
    pool.audit().unwrap();
    pool.free();
}
