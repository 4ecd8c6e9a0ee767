//! Egress rules in the ports' stage: they run on every TX queue of every port (device queues
//! and the stage's software TX queues, `net_ring`, `net_null` and af_packet on a veth pair),
//! DROP drops (counted as taken, not sent), COUNT counts, a rule without a fate sends, JUMP
//! works as at ingress; MARK is refused at egress; isolate hides unmatched ingress traffic and
//! leaves egress alone.

use std::sync::Arc;
use std::time::Duration;

use rpdk_ethdev::drivers::net_ring::from_ring;
use rpdk_ethdev::{EthConf, Port, RxConf, TxConf};
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
        .write(&mut f, &[0x77; 8])
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

/// The egress rules every test installs (ids 0..5) on a table of port `port`.
fn egress_table(port: u16) -> Arc<FlowTable> {
    let t = Arc::new(FlowTable::new(port, 1));
    for r in [
        "egress pattern eth / ipv4 / udp dst is 9 / end actions count / drop / end".to_string(),
        "egress pattern eth / ipv4 / udp dst is 10 / end actions count / end".into(),
        "egress pattern eth / ipv4 / udp dst is 11 / end actions jump group 1 / end".into(),
        "egress group 1 pattern eth / ipv4 / udp dst is 11 / end actions count / drop / end".into(),
        format!("egress pattern eth / ipv4 / udp dst is 12 / end actions port_id id {port} / end"),
    ] {
        t.create(rule(&r)).unwrap_or_else(|e| panic!("{r}: {e}"));
    }
    t
}

const SENT: [u16; 5] = [9, 10, 11, 12, 1];

#[test]
fn egress_rules_run_on_every_tx_queue_of_ring_and_null_ports() {
    let _s = serial();
    let _eal = rpdk_eal::init(eal_args("flow-egress-test", &["net_null0"])).unwrap();
    let pool = PktmbufPool::create("eg_pool", 511, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let ring = MbufRing::create("eg_lo", 256, None, RingFlags::SP_ENQ | RingFlags::SC_DEQ).unwrap();
    let lo = Port::get(from_ring(&ring).unwrap()).unwrap();
    // 4 TX queues over the ring's one: three are the stage's.
    lo.configure(1, 4, &EthConf::default()).unwrap();
    lo.rx_queue_setup(0, 0, None, &RxConf::default(), &pool)
        .unwrap();
    for q in 0..4 {
        lo.tx_queue_setup(q, 0, None, &TxConf::default()).unwrap();
    }
    lo.start().unwrap();
    let table = egress_table(lo.id());
    let len = frame(9).len() as u64;
    lo.set_classifier(Some(table.clone())).unwrap();
    let mut rx = lo.rx_queue(0).unwrap();
    let mut b = MbufBurst::<32>::new();
    for q in 0..4 {
        let mut tx = lo.tx_queue(q).unwrap();
        for d in SENT {
            b.push(udp(&pool, d)).unwrap();
        }
        assert_eq!(
            tx.tx_burst(&mut b),
            5,
            "queue {q}: dropped ones count as taken"
        );
        assert!(b.is_empty());
        rx.rx_burst(&mut b);
        assert_eq!(
            b.iter().map(dport).collect::<Vec<_>>(),
            [10, 12, 1],
            "queue {q}"
        );
        b.clear();
    }
    let c = table.query_count(0, false).unwrap();
    assert_eq!((c.hits, c.bytes), (4, 4 * len));
    assert_eq!(table.query_count(1, false).unwrap().hits, 4);
    assert_eq!(table.query_count(3, false).unwrap().hits, 4, "after JUMP");
    assert_eq!(lo.stats().opackets, 12, "3 of 5 sent on each queue");

    // MARK and FLAG are RX flags: refused at egress, with the reason.
    for a in ["mark id 1", "flag"] {
        let e = table
            .validate(&rule(&format!("egress pattern end actions {a} / end")))
            .unwrap_err();
        assert!(e.message.ends_with("is for ingress rules"), "{e}");
        assert_eq!(e.errno, libc::ENOTSUP);
    }

    // Isolated: unmatched ingress traffic is dropped (and counted), egress goes on as before.
    table
        .create(rule(
            "ingress pattern eth / ipv4 / udp dst is 10 / end actions queue index 0 / end",
        ))
        .unwrap();
    table.isolate(true).unwrap();
    let mut tx = lo.tx_queue(2).unwrap();
    for d in SENT {
        b.push(udp(&pool, d)).unwrap();
    }
    assert_eq!(tx.tx_burst(&mut b), 5);
    rx.rx_burst(&mut b);
    assert_eq!(b.iter().map(dport).collect::<Vec<_>>(), [10]);
    b.clear();
    assert_eq!(lo.xstat("rx_q0_classifier_drops"), Some(2), "12 and 1");
    table.isolate(false).unwrap();
    drop((tx, rx));

    // net_null: the driver frees what it sends; egress DROP and COUNT run before it.
    let null = Port::get(0).unwrap();
    assert!(null.name().starts_with("net_null0"));
    null.configure(1, 2, &EthConf::default()).unwrap();
    null.rx_queue_setup(0, 0, None, &RxConf::default(), &pool)
        .unwrap();
    for q in 0..2 {
        null.tx_queue_setup(q, 0, None, &TxConf::default()).unwrap();
    }
    null.start().unwrap();
    let nt = egress_table(null.id());
    null.set_classifier(Some(nt.clone())).unwrap();
    for q in 0..2 {
        let mut tx = null.tx_queue(q).unwrap();
        for d in SENT {
            b.push(udp(&pool, d)).unwrap();
        }
        assert_eq!(tx.tx_burst(&mut b), 5);
    }
    assert_eq!(nt.query_count(0, false).unwrap().hits, 2);
    assert_eq!(nt.query_count(3, false).unwrap().hits, 2);
    assert_eq!(null.stats().opackets, 6);

    for p in [&lo, &null] {
        p.stop().unwrap();
        p.close().unwrap();
    }
    assert_eq!(pool.in_use_count(), 0);
    pool.audit().unwrap();
    pool.free();
    ring.free().unwrap();
}

#[test]
fn egress_drop_keeps_frames_off_the_wire_on_af_packet() {
    if !require_root("egress_drop_keeps_frames_off_the_wire_on_af_packet") {
        return;
    }
    let _s = serial();
    let ns = NetNs::new("feg").unwrap();
    ns.add_veth("ea0", "eb0").unwrap();
    let _in = ns.enter().unwrap();
    let f = PortFixture::new(
        "flow-egress-veth",
        &["net_af_packet0,iface=ea0"],
        &PortSetup::queues(2),
    )
    .unwrap();
    let port = f.port(0);
    let table = egress_table(port.id());
    port.set_classifier(Some(table.clone())).unwrap();
    let peer = RawSocket::open("eb0");
    let mut b = MbufBurst::<32>::new();
    for q in 0..2 {
        let mut tx = port.tx_queue(q).unwrap();
        for d in SENT {
            b.push(udp(f.pool(), d)).unwrap();
        }
        assert_eq!(tx.tx_burst(&mut b), 5);
    }
    let got = peer.recv_n_where(6, Duration::from_secs(5), Duration::from_millis(200), |f| {
        f.len() >= 38 && f[12..14] == [8, 0]
    });
    let mut ports: Vec<u16> = got
        .iter()
        .map(|f| u16::from_be_bytes([f[36], f[37]]))
        .collect();
    ports.sort_unstable();
    assert_eq!(ports, [1, 1, 10, 10, 12, 12]);
    assert!(
        got.iter()
            .all(|g| *g == frame(u16::from_be_bytes([g[36], g[37]])))
    );
    assert_eq!(table.query_count(0, false).unwrap().hits, 2);
    port.set_classifier(None).unwrap();
}
