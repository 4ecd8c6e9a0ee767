//! A FlowTable as the port's classifier: its rules run in the software stage of a `net_ring`
//! loopback port with 2 RX queues: QUEUE moves packets to queue 1, DROP drops them, MARK
//! writes the mbuf's fdir id; egress DROP on transmit; removing it lets everything through.

use std::sync::Arc;

use rpdk_ethdev::drivers::net_ring::from_ring;
use rpdk_ethdev::{EthConf, Port, RxConf, TxConf};
use rpdk_flow::FlowTable;
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, Mbuf, MbufBurst, MbufRing, OlFlags, PktmbufPool};
use rpdk_ring::RingFlags;
use rpdk_testsupport::{eal_args, serial};

mod common;
use common::rule;

fn udp(pool: &PktmbufPool, dport: u16) -> Mbuf {
    let mut f = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(1000, dport)
        .write(&mut f, &[0; 8])
        .unwrap();
    let mut m = pool.alloc().unwrap();
    m.append(f.len() as u16).unwrap().copy_from_slice(&f);
    m
}

fn dport(m: &Mbuf) -> u16 {
    u16::from_be_bytes([m.data()[36], m.data()[37]])
}

#[test]
fn flow_rules_run_in_the_ports_stage() {
    let _s = serial();
    let _eal = rpdk_eal::init(eal_args("flow-stage-test", &[] as &[&str])).unwrap();
    let pool = PktmbufPool::create("fs_pool", 511, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let ring = MbufRing::create("fs_lo", 256, None, RingFlags::SP_ENQ | RingFlags::SC_DEQ).unwrap();
    let port = Port::get(from_ring(&ring).unwrap()).unwrap();
    port.configure(2, 1, &EthConf::default()).unwrap();
    for q in 0..2 {
        port.rx_queue_setup(q, 0, None, &RxConf::default(), &pool)
            .unwrap();
    }
    port.tx_queue_setup(0, 0, None, &TxConf::default()).unwrap();
    port.start().unwrap();
    let table = Arc::new(FlowTable::new(port.id(), 2));
    for r in [
        "ingress pattern eth / ipv4 / udp dst is 2000 / end actions queue index 1 / end",
        "ingress pattern eth / ipv4 / udp dst is 3000 / end actions drop / end",
        "ingress pattern eth / ipv4 / udp dst is 4000 / end actions mark id 7 / queue index 0 / end",
        "egress pattern eth / ipv4 / udp dst is 9000 / end actions drop / end",
    ] {
        table.create(rule(r)).unwrap_or_else(|e| panic!("{r}: {e}"));
    }
    let (mut rx0, mut rx1) = (port.rx_queue(0).unwrap(), port.rx_queue(1).unwrap());
    let mut tx = port.tx_queue(0).unwrap();
    port.set_classifier(Some(table.clone())).unwrap();
    let mut b = MbufBurst::<32>::new();
    for d in [1, 2000, 3000, 4000, 9000, 2000] {
        b.push(udp(&pool, d)).unwrap();
    }
    assert_eq!(tx.tx_burst(&mut b), 6);
    assert_eq!(rx0.rx_burst(&mut b), 2);
    let ports: Vec<u16> = b.iter().map(dport).collect();
    assert_eq!(ports, [1, 4000]);
    let marked = &b.as_slice()[1];
    assert!(marked.ol_flags().contains(OlFlags::RX_FDIR_ID));
    assert_eq!(marked.fdir().1, 7);
    b.clear();
    assert_eq!(rx1.rx_burst(&mut b), 2, "QUEUE 1");
    assert!(b.iter().all(|m| dport(m) == 2000));
    b.clear();
    // Without the classifier, every packet goes through.
    port.set_classifier(None).unwrap();
    for d in [3000, 9000] {
        b.push(udp(&pool, d)).unwrap();
    }
    assert_eq!(tx.tx_burst(&mut b), 2);
    assert_eq!(rx0.rx_burst(&mut b), 2);
    b.clear();
    drop((rx0, rx1, tx));
    port.stop().unwrap();
    port.close().unwrap();
    assert_eq!(pool.in_use_count(), 0);
    pool.audit().unwrap();
    pool.free();
    ring.free().unwrap();
}
