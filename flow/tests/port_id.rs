//! PORT_ID and REPRESENTED_PORT in the ports' stage: a rule on one port hands its packets to
//! another port's TX (through that port's inbox, drained by its TX queue 0), at ingress, at
//! egress and in the transfer domain; a full inbox or a stopped port counts drops; every mbuf
//! comes back to the pool. Over `net_ring` loopback ports, and over two af_packet ports on
//! veth pairs in a namespace (root only).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rpdk_ethdev::drivers::net_ring::from_ring;
use rpdk_ethdev::{EthConf, Port, RxConf, RxQueue, TxConf, TxQueue};
use rpdk_flow::FlowTable;
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, Mbuf, MbufBurst, MbufRing, PktmbufPool};
use rpdk_ring::RingFlags;
use rpdk_testsupport::netns::NetNs;
use rpdk_testsupport::port::{PortFixture, PortSetup};
use rpdk_testsupport::raw::RawSocket;
use rpdk_testsupport::{eal_args, require_root, serial};

mod common;
use common::rule;

fn frame(dport: u16) -> Vec<u8> {
    let mut f = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(1000, dport)
        .write(&mut f, &[0x5a; 8])
        .unwrap();
    f
}

fn udp(pool: &PktmbufPool, dport: u16) -> Mbuf {
    let f = frame(dport);
    let mut m = pool.alloc().unwrap();
    m.append(f.len() as u16).unwrap().copy_from_slice(&f);
    m
}

fn dport(m: &Mbuf) -> u16 {
    u16::from_be_bytes([m.data()[36], m.data()[37]])
}

/// A `net_ring` port looping its TX into its RX, started with one queue pair.
fn loop_port(name: &str, pool: &PktmbufPool) -> (Port, MbufRing) {
    let ring = MbufRing::create(name, 256, None, RingFlags::SP_ENQ | RingFlags::SC_DEQ).unwrap();
    let port = Port::get(from_ring(&ring).unwrap()).unwrap();
    port.configure(1, 1, &EthConf::default()).unwrap();
    port.rx_queue_setup(0, 0, None, &RxConf::default(), pool)
        .unwrap();
    port.tx_queue_setup(0, 0, None, &TxConf::default()).unwrap();
    port.start().unwrap();
    (port, ring)
}

/// Sends `dports` out of `tx` (looped back into the port's RX) and receives them, classified.
fn through(tx: &mut TxQueue, rx: &mut RxQueue, pool: &PktmbufPool, dports: &[u16]) -> Vec<u16> {
    let mut b = MbufBurst::<32>::new();
    for &d in dports {
        b.push(udp(pool, d)).unwrap();
    }
    assert_eq!(tx.tx_burst(&mut b), dports.len());
    rx.rx_burst(&mut b);
    let got = b.iter().map(dport).collect();
    b.clear();
    got
}

/// What port B's TX queue 0 sends from its inbox (an empty burst drains it), as B's RX sees it.
fn drained(tx: &mut TxQueue, rx: &mut RxQueue) -> Vec<u16> {
    let mut b = MbufBurst::<32>::new();
    assert_eq!(tx.tx_burst(&mut b), 0);
    rx.rx_burst(&mut b);
    let got = b.iter().map(dport).collect();
    b.clear();
    got
}

#[test]
fn port_id_hands_packets_to_another_ports_tx() {
    let _s = serial();
    let _eal = rpdk_eal::init(eal_args("flow-portid-test", &[] as &[&str])).unwrap();
    let pool = PktmbufPool::create("pid_pool", 2047, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let (a, ring_a) = loop_port("pid_a", &pool);
    let (b, ring_b) = loop_port("pid_b", &pool);
    let (pa, pb) = (a.id(), b.id());
    let (mut rxa, mut txa) = (a.rx_queue(0).unwrap(), a.tx_queue(0).unwrap());
    let (mut rxb, mut txb) = (b.rx_queue(0).unwrap(), b.tx_queue(0).unwrap());
    // Before any PORT_ID verdict, B has no inbox: nothing to drain, no xstat.
    assert_eq!(drained(&mut txb, &mut rxb), Vec::<u16>::new());
    assert_eq!(b.xstat("tx_port_inbox_packets"), None);

    let table = Arc::new(FlowTable::new(pa, 1));
    for r in [
        format!("ingress pattern eth / ipv4 / udp dst is 2000 / end actions port_id id {pb} / end"),
        format!(
            "ingress pattern eth / ipv4 / udp dst is 2001 / end actions count / represented_port ethdev_port_id {pb} / end"
        ),
        format!("egress pattern eth / ipv4 / udp dst is 7000 / end actions port_id id {pb} / end"),
        "ingress pattern eth / ipv4 / udp dst is 2002 / end actions port_id id 31 / end".into(),
    ] {
        table
            .create(rule(&r))
            .unwrap_or_else(|e| panic!("{r}: {e}"));
    }
    a.set_classifier(Some(table.clone())).unwrap();

    // Ingress: 2000 and 2001 go to B, the rest stays on A.
    assert_eq!(
        through(&mut txa, &mut rxa, &pool, &[1, 2000, 2001, 3, 2000]),
        [1, 3]
    );
    assert_eq!(drained(&mut txb, &mut rxb), [2000, 2001, 2000]);
    assert_eq!(b.xstat("tx_port_inbox_packets"), Some(3));
    assert_eq!(table.query_count(1, false).unwrap().hits, 1);
    // To a port that does not exist: dropped and counted on the queue that classified it.
    assert_eq!(through(&mut txa, &mut rxa, &pool, &[2002, 4]), [4]);
    assert_eq!(a.xstat("rx_q0_classifier_drops"), Some(1));

    // Egress: taken by A's TX, sent by B's.
    let mut burst = MbufBurst::<32>::new();
    for d in [7000, 5, 7000] {
        burst.push(udp(&pool, d)).unwrap();
    }
    assert_eq!(txa.tx_burst(&mut burst), 3);
    assert_eq!(drained(&mut txb, &mut rxb), [7000, 7000]);
    rxa.rx_burst(&mut burst);
    assert_eq!(burst.iter().map(dport).collect::<Vec<_>>(), [5]);
    burst.clear();

    // A full inbox: 1023 packets fit, the rest are counted drops.
    let drops = a.xstat("rx_q0_classifier_drops").unwrap();
    for _ in 0..40 {
        assert_eq!(through(&mut txa, &mut rxa, &pool, &[2000; 32]), []);
    }
    assert_eq!(
        a.xstat("rx_q0_classifier_drops").unwrap() - drops,
        40 * 32 - 1023
    );
    let mut got = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    while got < 1023 && Instant::now() < deadline {
        got += drained(&mut txb, &mut rxb).len();
    }
    assert_eq!(got, 1023);

    // A stopped destination drops (nothing is left waiting for it).
    b.stop().unwrap();
    let drops = a.xstat("rx_q0_classifier_drops").unwrap();
    assert_eq!(through(&mut txa, &mut rxa, &pool, &[2000, 6]), [6]);
    assert_eq!(a.xstat("rx_q0_classifier_drops").unwrap() - drops, 1);
    b.start().unwrap();
    assert_eq!(drained(&mut txb, &mut rxb), Vec::<u16>::new());

    // Transfer: one table on both ports is their switch domain; PORT_ID items tell them apart.
    let shared = Arc::new(FlowTable::new(pa, 1));
    shared
        .create(rule(&format!(
            "transfer pattern port_id id is {pb} / eth / ipv4 / udp dst is 3000 / end actions port_id id {pa} / end"
        )))
        .unwrap();
    shared
        .create(rule(&format!(
            "transfer pattern port_id id is {pa} / eth / ipv4 / udp dst is 3000 / end actions port_id id {pb} / end"
        )))
        .unwrap();
    shared
        .create(rule(
            "ingress pattern eth / ipv4 / udp dst is 3001 / end actions drop / end",
        ))
        .unwrap();
    a.set_classifier(Some(shared.clone())).unwrap();
    b.set_classifier(Some(shared.clone())).unwrap();
    // From B's RX to A's TX (and A's loop back into A's RX, where the A -> B rule sends it
    // on to B: one more round each time).
    assert_eq!(through(&mut txb, &mut rxb, &pool, &[3000, 3001, 8]), [8]);
    assert_eq!(drained(&mut txa, &mut rxa), Vec::<u16>::new());
    assert_eq!(drained(&mut txb, &mut rxb), Vec::<u16>::new());
    // Now it waits in A's inbox; without A's classifier it stays on A.
    a.set_classifier(None).unwrap();
    assert_eq!(drained(&mut txa, &mut rxa), [3000]);
    b.set_classifier(None).unwrap();

    drop((rxa, txa, rxb, txb));
    for p in [&a, &b] {
        p.stop().unwrap();
        p.close().unwrap();
    }
    assert_eq!(pool.in_use_count(), 0);
    pool.audit().unwrap();
    pool.free();
    ring_a.free().unwrap();
    ring_b.free().unwrap();
}

#[test]
fn a_rule_on_port_0_sends_matching_frames_out_of_port_1_over_veths() {
    if !require_root("a_rule_on_port_0_sends_matching_frames_out_of_port_1_over_veths") {
        return;
    }
    let _s = serial();
    let ns = NetNs::new("fpid").unwrap();
    ns.add_veth("pa0", "pb0").unwrap();
    ns.add_veth("pa1", "pb1").unwrap();
    let _in = ns.enter().unwrap();
    let f = PortFixture::new(
        "flow-portid-veth",
        &["net_af_packet0,iface=pa0", "net_af_packet1,iface=pa1"],
        &PortSetup::default(),
    )
    .unwrap();
    let (p0, p1) = (f.port(0), f.port(1));
    let table = Arc::new(FlowTable::new(p0.id(), 1));
    table
        .create(rule(&format!(
            "ingress pattern eth / ipv4 / udp dst is 2000 / end actions port_id id {} / end",
            p1.id()
        )))
        .unwrap();
    p0.set_classifier(Some(table.clone())).unwrap();
    let (peer0, peer1) = (RawSocket::open("pb0"), RawSocket::open("pb1"));
    let (mut rx0, mut tx1) = (p0.rx_queue(0).unwrap(), p1.tx_queue(0).unwrap());
    let sent: Vec<Vec<u8>> = (0..30u16)
        .map(|i| frame(if i % 3 == 0 { 9 } else { 2000 }))
        .collect();
    for s in &sent {
        peer0.send(s);
    }
    let mut b = MbufBurst::<32>::new();
    let mut kept = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while kept.len() < 10 && Instant::now() < deadline {
        rx0.rx_burst(&mut b);
        kept.extend(b.iter().map(|m| m.data().to_vec()));
        b.clear();
        tx1.tx_burst(&mut b);
    }
    // A few more rounds for anything left in the inbox.
    for _ in 0..10 {
        tx1.tx_burst(&mut b);
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = peer1.recv_n_where(
        20,
        Duration::from_secs(5),
        Duration::from_millis(200),
        |f| f.len() >= 38 && f[12..14] == [8, 0],
    );
    assert_eq!(kept.len(), 10, "the non-matching frames stay on port 0");
    assert!(kept.iter().all(|k| *k == frame(9)));
    assert_eq!(out.len(), 20, "the matching frames leave port 1");
    assert!(out.iter().all(|o| *o == frame(2000)));
    assert_eq!(p1.stats().opackets, 20);
    assert_eq!(p1.xstat("tx_port_inbox_packets"), Some(20));
    drop((rx0, tx1, b));
    p0.set_classifier(None).unwrap();
}
