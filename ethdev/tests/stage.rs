//! The software stage's packet types and classifier hook on `net_ring` ports: packet types
//! parsed only once asked; a classifier that drops, marks and moves packets to another queue on
//! receive and drops on transmit, installed and removed while the port runs; no mbuf lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rpdk_ethdev::drivers::net_ring::from_ring;
use rpdk_ethdev::{Classifier, EthConf, Port, RxConf, TxConf, Verdict};
use rpdk_mbuf::{
    MBUF_DEFAULT_BUF_SIZE, Mbuf, MbufBurst, MbufRing, OlFlags, PacketType, PktmbufPool,
};
use rpdk_ring::RingFlags;
use rpdk_testsupport::{eal_args, serial};

fn udp(pool: &PktmbufPool, tag: u8) -> Mbuf {
    let mut f = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(1000, 2000)
        .write(&mut f, &[tag; 8])
        .unwrap();
    let mut m = pool.alloc().unwrap();
    m.append(f.len() as u16).unwrap().copy_from_slice(&f);
    m
}

fn tag(m: &Mbuf) -> u8 {
    m.data()[42]
}

/// A loopback port over one ring with `nb_rx` RX queues (beyond the first, the stage's).
fn port(ring: &MbufRing, pool: &PktmbufPool, nb_rx: u16) -> Port {
    let port = Port::get(from_ring(ring).unwrap()).unwrap();
    port.configure(nb_rx, 1, &EthConf::default()).unwrap();
    for q in 0..nb_rx {
        port.rx_queue_setup(q, 0, None, &RxConf::default(), pool)
            .unwrap();
    }
    port.tx_queue_setup(0, 0, None, &TxConf::default()).unwrap();
    port.start().unwrap();
    port
}

#[test]
fn packet_types_only_when_asked() {
    let _s = serial();
    let _eal = rpdk_eal::init(eal_args("stage-test", &[] as &[&str])).unwrap();
    let pool = PktmbufPool::create("pt_pool", 511, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let ring = MbufRing::create("pt_lo", 64, None, RingFlags::SP_ENQ | RingFlags::SC_DEQ).unwrap();
    let port = port(&ring, &pool, 1);
    let l4 = port.get_supported_ptypes(PacketType::L4_MASK);
    assert!(l4.contains(&PacketType::L4_UDP.0) && !l4.contains(&PacketType::L3_IPV4.0));
    let (mut rx, mut tx) = (port.rx_queue(0).unwrap(), port.tx_queue(0).unwrap());
    let mut b = MbufBurst::<8>::new();
    let mut round = |want: u32| {
        b.push(udp(&pool, 0)).unwrap();
        assert_eq!(tx.tx_burst(&mut b), 1);
        assert_eq!(rx.rx_burst(&mut b), 1);
        assert_eq!(b.as_slice()[0].packet_type().0, want);
        b.clear();
    };
    round(0);
    port.set_ptypes(PacketType::L2_MASK | PacketType::L3_MASK | PacketType::L4_MASK)
        .unwrap();
    round((PacketType::L2_ETHER | PacketType::L3_IPV4 | PacketType::L4_UDP).0);
    port.set_ptypes(PacketType::L2_MASK).unwrap();
    round(PacketType::L2_ETHER.0);
    port.set_ptypes(0).unwrap();
    round(0);
    drop((rx, tx));
    port.stop().unwrap();
    port.close().unwrap();
    pool.audit().unwrap();
    pool.free();
    ring.free().unwrap();
}

/// Tag 1: to queue 1; 2: dropped; 3: marked; 9: dropped on transmit.
struct Rules {
    rx_calls: AtomicU64,
}

impl Classifier for Rules {
    fn rx(&self, _port: u16, _queue: u16, pkts: &mut [Mbuf], verdicts: &mut [Verdict]) {
        self.rx_calls.fetch_add(1, Ordering::Relaxed);
        for (m, v) in pkts.iter_mut().zip(verdicts) {
            match tag(m) {
                1 => *v = Verdict::Queue(1),
                2 => *v = Verdict::Drop,
                3 => m.set_fdir_id(77),
                _ => {}
            }
        }
    }

    fn tx(&self, _port: u16, _queue: u16, pkts: &mut [Mbuf], verdicts: &mut [Verdict]) {
        for (m, v) in pkts.iter().zip(verdicts) {
            if tag(m) == 9 {
                *v = Verdict::Drop;
            }
        }
    }
}

#[test]
fn a_classifier_drops_marks_and_moves_packets() {
    let _s = serial();
    let _eal = rpdk_eal::init(eal_args("stage-test", &[] as &[&str])).unwrap();
    let pool = PktmbufPool::create("cl_pool", 511, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let ring = MbufRing::create("cl_lo", 256, None, RingFlags::SP_ENQ | RingFlags::SC_DEQ).unwrap();
    let port = port(&ring, &pool, 2);
    let rules = Arc::new(Rules {
        rx_calls: AtomicU64::new(0),
    });
    let (mut rx0, mut rx1) = (port.rx_queue(0).unwrap(), port.rx_queue(1).unwrap());
    let mut tx = port.tx_queue(0).unwrap();
    port.set_classifier(Some(rules.clone())).unwrap();
    let mut b = MbufBurst::<32>::new();
    for t in [0, 1, 2, 3, 9, 1, 0] {
        b.push(udp(&pool, t)).unwrap();
    }
    assert_eq!(tx.tx_burst(&mut b), 7, "the egress drop counts as taken");
    // The device queue is queue 0's (no RSS): 0, 3 and 0 stay; both 1s move to queue 1.
    assert_eq!(rx0.rx_burst(&mut b), 3);
    let tags: Vec<u8> = b.iter().map(tag).collect();
    assert_eq!(tags, [0, 3, 0]);
    let marked = &b.as_slice()[1];
    assert!(marked.ol_flags().contains(OlFlags::RX_FDIR_ID));
    assert_eq!(marked.fdir().1, 77);
    b.clear();
    assert_eq!(rx1.rx_burst(&mut b), 2);
    assert!(b.iter().all(|m| tag(m) == 1));
    b.clear();
    assert!(rules.rx_calls.load(Ordering::Relaxed) >= 2);
    assert_eq!(port.xstat("rx_q0_classifier_drops"), Some(1));

    // Removed: everything goes through untouched, and the classifier is not called again.
    port.set_classifier(None).unwrap();
    let calls = rules.rx_calls.load(Ordering::Relaxed);
    for t in [1, 2, 9] {
        b.push(udp(&pool, t)).unwrap();
    }
    assert_eq!(tx.tx_burst(&mut b), 3);
    assert_eq!(rx0.rx_burst(&mut b), 3);
    b.clear();
    assert_eq!(rules.rx_calls.load(Ordering::Relaxed), calls);
    drop((rx0, rx1, tx));
    port.stop().unwrap();
    port.close().unwrap();
    assert_eq!(pool.in_use_count(), 0);
    pool.audit().unwrap();
    pool.free();
    ring.free().unwrap();
}
