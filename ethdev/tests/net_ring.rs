//! `net_ring`: loopback ports from `--vdev`, rings shared between ports and refused twice,
//! ports from the application's rings, full rings leaving the rest with the caller (not counted
//! as errors: nothing taken was dropped), and nothing lost at close.

use rpdk_eal::Eal;
use rpdk_ethdev::drivers::net_ring::{from_ring, from_rings};
use rpdk_ethdev::{EthConf, EthError, Port, RxConf, TxConf};
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, MbufBurst, MbufRing, PktmbufPool};
use rpdk_ring::{RingFlags, Sc};
use rpdk_testsupport::logs::LogCapture;
use rpdk_testsupport::{eal_args, serial};

fn init(vdevs: &[&str]) -> rpdk_eal::Result<Eal> {
    rpdk_eal::init(eal_args("ring-test", vdevs)).map(|(e, _)| e)
}

fn pool(name: &str) -> PktmbufPool {
    PktmbufPool::create(name, 4095, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap()
}

fn setup(port: &Port, pool: &PktmbufPool, nq: u16) -> Result<(), EthError> {
    port.configure(nq, nq, &EthConf::default())?;
    for q in 0..nq {
        port.rx_queue_setup(q, 0, None, &RxConf::default(), pool)?;
        port.tx_queue_setup(q, 0, None, &TxConf::default())?;
    }
    Ok(())
}

/// `n` mbufs whose data is their sequence number from `first`, as 4 bytes.
fn numbered(pool: &PktmbufPool, first: u32, n: usize) -> MbufBurst<64> {
    let mut b = MbufBurst::new();
    pool.alloc_bulk(&mut b, n).unwrap();
    for (i, m) in b.iter_mut().enumerate() {
        m.append(4)
            .unwrap()
            .copy_from_slice(&(first + i as u32).to_be_bytes());
    }
    b
}

fn numbers(b: &MbufBurst<64>) -> Vec<u32> {
    b.iter()
        .map(|m| u32::from_be_bytes(m.data().try_into().unwrap()))
        .collect()
}

#[test]
fn a_vdev_port_is_a_loopback_over_sixteen_rings() {
    let _s = serial();
    let _eal = init(&["net_ring0"]).unwrap();
    let port = Port::by_name("net_ring0").unwrap();
    let info = port.info();
    // 16 rings; the software stage serves queues beyond them.
    assert_eq!(
        (info.driver_name, info.max_rx_queues, info.max_tx_queues),
        ("net_ring", rpdk_ethdev::stage::STAGE_MAX_QUEUES, 1024)
    );
    let r = MbufRing::lookup("ETH_RXTX15_net_ring0").unwrap();
    assert_eq!(r.capacity(), 1023);
    drop(r);
    let pool = pool("ring_lo");
    setup(&port, &pool, 2).unwrap();
    assert!(!port.link().up, "down until started");
    port.start().unwrap();
    assert!(port.link().up);
    let (mut rx0, mut rx1) = (port.rx_queue(0).unwrap(), port.rx_queue(1).unwrap());
    let mut tx1 = port.tx_queue(1).unwrap();

    let mut out = numbered(&pool, 0, 64);
    assert_eq!(tx1.tx_burst(&mut out), 64);
    let mut got = MbufBurst::<64>::new();
    assert_eq!(rx0.rx_burst(&mut got), 0, "queue 0's ring is another");
    assert_eq!(rx1.rx_burst(&mut got), 64);
    assert_eq!(
        numbers(&got),
        (0..64).collect::<Vec<_>>(),
        "in order, data intact"
    );
    got.clear();

    // A ring holds 1023: the rest stays with the caller, in order, and is no error (DPDK's
    // meaning of oerrors: taken but dropped). The caller owns and frees what is left.
    let mut sent = 0;
    let mut left = 0;
    for round in 0..17 {
        let mut out = numbered(&pool, round * 64, 64);
        let took = tx1.tx_burst(&mut out);
        sent += took;
        assert_eq!(out.len(), 64 - took, "what was not taken stays");
        if let Some(&first) = numbers(&out).first() {
            assert_eq!(first, round * 64 + took as u32, "the rest, in order");
        }
        left += out.len();
        if round == 16 {
            assert_eq!(out.len(), 64, "a full ring takes nothing");
        }
    }
    assert_eq!((sent, left), (1023, 17 * 64 - 1023));
    let s = port.stats();
    assert_eq!((s.opackets, s.oerrors, s.ipackets), (64 + 1023, 0, 64));
    // Packets only, as DPDK's net_ring: the driver moves pointers and never reads the mbufs'
    // lengths, so its byte counters stay 0 (4-byte packets were sent and received).
    assert_eq!((s.obytes, s.ibytes), (0, 0));
    assert_eq!((s.q_opackets[1], s.q_ipackets[1]), (64 + 1023, 64));
    drop((rx0, rx1, tx1));
    port.stop().unwrap();

    // Closing frees the 1023 mbufs still in the ring, and the rings' names.
    port.close().unwrap();
    assert!(MbufRing::lookup("ETH_RXTX0_net_ring0").is_err());
    pool.audit().unwrap();
    pool.free();
}

#[test]
fn attached_ports_share_rings_and_single_sides_are_refused_twice() {
    let _s = serial();
    let _eal = init(&[
        "net_ring0,nodeaction=shared:0:CREATE",
        "net_ring1,nodeaction=shared:0:ATTACH",
    ])
    .unwrap();
    let (p0, p1) = (Port::get(0).unwrap(), Port::get(1).unwrap());
    let pool = pool("ring_sh");
    setup(&p0, &pool, 1).unwrap();
    p1.configure(1, 1, &EthConf::default()).unwrap();
    let e = p1
        .rx_queue_setup(0, 0, None, &RxConf::default(), &pool)
        .unwrap_err()
        .to_string();
    assert!(e.contains("RX queue 0: ring 'ETH_RXTX0_shared'"), "{e}");
    assert!(e.contains("consumer"), "{e}");
    // Setting up port 0's queue again releases the old one first.
    p0.rx_queue_setup(0, 0, None, &RxConf::default(), &pool)
        .unwrap();
    p0.tx_queue_setup(0, 0, None, &TxConf::default()).unwrap();

    // An application holding a ring's single consumer keeps queues off it.
    let held = MbufRing::lookup("ETH_RXTX1_shared").unwrap();
    let consumer = held.consumer::<Sc>().unwrap();
    p0.configure(2, 2, &EthConf::default()).unwrap();
    let e = p0
        .rx_queue_setup(1, 0, None, &RxConf::default(), &pool)
        .unwrap_err();
    assert!(e.to_string().contains("ETH_RXTX1_shared"), "{e}");
    drop(consumer);
    p0.rx_queue_setup(1, 0, None, &RxConf::default(), &pool)
        .unwrap();

    // Attaching to rings that do not exist is an error naming them.
    let e = rpdk_eal::bus::probe_vdev_str("net_ring2,nodeaction=none:0:ATTACH")
        .unwrap_err()
        .to_string();
    assert!(e.contains("attaching to ring ETH_RXTX0_none"), "{e}");

    p1.close().unwrap();
    assert!(
        MbufRing::lookup("ETH_RXTX0_shared").is_ok(),
        "port 1 only attached"
    );
    p0.close().unwrap();
    assert!(
        MbufRing::lookup("ETH_RXTX0_shared").is_err(),
        "port 0 made them"
    );
    pool.audit().unwrap();
    pool.free();
}

#[test]
fn ports_from_the_applications_rings_cross_connect() {
    let _s = serial();
    let _eal = init(&[]).unwrap();
    let a = MbufRing::new(256, RingFlags::empty()).unwrap();
    let b = MbufRing::new(256, RingFlags::empty()).unwrap();
    let x = Port::get(
        from_rings(
            "x",
            std::slice::from_ref(&a),
            std::slice::from_ref(&b),
            None,
        )
        .unwrap(),
    )
    .unwrap();
    let y = Port::get(
        from_rings(
            "y",
            std::slice::from_ref(&b),
            std::slice::from_ref(&a),
            None,
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!((x.name(), y.name()), ("net_ring_x", "net_ring_y"));
    let pool = pool("ring_app");
    setup(&x, &pool, 1).unwrap();
    setup(&y, &pool, 1).unwrap();
    x.start().unwrap();
    y.start().unwrap();
    let (mut xtx, mut yrx) = (x.tx_queue(0).unwrap(), y.rx_queue(0).unwrap());
    let (mut ytx, mut xrx) = (y.tx_queue(0).unwrap(), x.rx_queue(0).unwrap());
    let mut out = numbered(&pool, 100, 10);
    assert_eq!(xtx.tx_burst(&mut out), 10);
    let mut got = MbufBurst::<64>::new();
    assert_eq!(yrx.rx_burst(&mut got), 10, "x's TX is y's RX");
    assert_eq!(numbers(&got), (100..110).collect::<Vec<_>>());
    assert_eq!(ytx.tx_burst(&mut got), 10, "and back");
    assert_eq!(xrx.rx_burst(&mut got), 10);
    drop(got);
    assert_eq!((x.stats().opackets, y.stats().ipackets), (10, 10));
    drop((xtx, yrx, ytx, xrx));
    for p in [x, y] {
        p.stop().unwrap();
        p.close().unwrap();
    }

    let e = from_rings("z", &[], &[], None).unwrap_err().to_string();
    assert!(
        e.contains("device 'net_ring_z': a ring port needs at least one ring"),
        "{e}"
    );
    let e = from_ring(&a).unwrap_err().to_string();
    assert!(e.contains("which has no name: use from_rings"), "{e}");
    let named = MbufRing::create("lo", 64, None, RingFlags::empty()).unwrap();
    let lo = Port::get(from_ring(&named).unwrap()).unwrap();
    assert_eq!(lo.name(), "net_ring_lo");
    lo.close().unwrap();
    assert!(
        MbufRing::lookup("lo").is_ok(),
        "the application's ring stays"
    );
    named.free().unwrap();
    pool.audit().unwrap();
    pool.free();
}

#[test]
fn queues_beyond_the_rings_are_the_stages() {
    let _s = serial();
    let _eal = init(&[]).unwrap();
    let pool = pool("ring_sw");
    let ring =
        MbufRing::create("sw_lo", 1024, None, RingFlags::SP_ENQ | RingFlags::SC_DEQ).unwrap();
    let port = Port::get(from_ring(&ring).unwrap()).unwrap();
    assert_eq!(port.device_info().max_rx_queues, 1);
    // One ring: 2 RX and 4 TX queues, those beyond the first the stage's.
    port.configure(2, 4, &EthConf::default()).unwrap();
    for q in 0..2 {
        port.rx_queue_setup(q, 0, None, &RxConf::default(), &pool)
            .unwrap();
    }
    for q in 0..4 {
        port.tx_queue_setup(q, 0, None, &TxConf::default()).unwrap();
    }
    port.start().unwrap();
    let txs: Vec<_> = (0..4).map(|q| port.tx_queue(q).unwrap()).collect();
    let (mut rx0, mut rx1) = (port.rx_queue(0).unwrap(), port.rx_queue(1).unwrap());
    // Each TX queue from its own thread: they take turns on the ring.
    std::thread::scope(|s| {
        for (i, mut tx) in txs.into_iter().enumerate() {
            let pool = &pool;
            s.spawn(move || {
                let mut out = numbered(pool, i as u32 * 1000, 50);
                assert_eq!(tx.tx_burst(&mut out), 50);
            });
        }
    });
    // Without RSS, the device queue's packets are queue 0's; queue 1 gets none.
    let mut got = MbufBurst::<64>::new();
    let mut all = Vec::new();
    let mut polls = 0;
    while all.len() < 200 && polls < 100 {
        assert_eq!(rx1.rx_burst(&mut got), 0);
        rx0.rx_burst(&mut got);
        all.extend(numbers(&got));
        got.clear();
        polls += 1;
    }
    all.sort_unstable();
    let want: Vec<u32> = (0..4).flat_map(|i| i * 1000..i * 1000 + 50).collect();
    assert_eq!(all, want);
    let s = port.stats();
    assert_eq!(s.q_opackets[..4], [50, 50, 50, 50], "each TX queue its own");
    assert_eq!((s.opackets, s.ipackets, s.q_ipackets[0]), (200, 200, 200));
    drop((rx0, rx1));
    port.stop().unwrap();
    port.close().unwrap();
    pool.audit().unwrap();
    pool.free();
    ring.free().unwrap();
}

/// DPDK's `test_eal_flags` probes `net_ring0,args=test`: a key the driver does not know is a
/// warning, and the port probes without it.
#[test]
fn unknown_keys_are_warnings_and_the_port_probes() {
    let _s = serial();
    let logs = LogCapture::start();
    let eal = init(&["net_ring0,args=test"]).unwrap();
    let text = logs.text();
    assert!(
        text.contains(
            "net_ring0: ignoring unknown key 'args' (valid keys of net_ring: nodeaction)"
        ),
        "{text}"
    );
    assert_eq!(rpdk_ethdev::port_count(), 1);
    drop(logs);
    drop(eal);
}
