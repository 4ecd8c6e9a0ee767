//! The port API over `net_null`: life cycle, bursts, counts, queue ownership, errors,
//! exhaustion, transmit buffers, close and removal.

use rpdk_eal::Eal;
use rpdk_ethdev::{
    EthConf, EthError, Port, RssHf, RxConf, RxMqMode, TxBuffer, TxConf, rx_offload, tx_offload,
};
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, MbufBurst, PktmbufPool};
use rpdk_testsupport::logs::LogCapture;
use rpdk_testsupport::port::{PortFixture, PortSetup};
use rpdk_testsupport::{eal_args, serial};

fn init(vdevs: &[&str]) -> rpdk_eal::Result<Eal> {
    rpdk_eal::init(eal_args("null-test", vdevs)).map(|(e, _)| e)
}

fn setup(port: &Port, pool: &PktmbufPool, nq: u16) {
    port.configure(nq, nq, &EthConf::default()).unwrap();
    for q in 0..nq {
        port.rx_queue_setup(q, 512, None, &RxConf::default(), pool)
            .unwrap();
        port.tx_queue_setup(q, 512, None, &TxConf::default())
            .unwrap();
    }
}

#[test]
fn ports_come_from_vdevs_and_move_packets() {
    let _s = serial();
    let eal = init(&["net_null0,size=100", "net_null1,copy=1"]).unwrap();
    assert_eq!(rpdk_ethdev::port_count(), 2);
    assert_eq!(rpdk_ethdev::ports(), [0, 1]);
    let p0 = Port::get(0).unwrap();
    let p1 = Port::by_name("net_null1").unwrap();
    assert_eq!((p0.name(), p1.id()), ("net_null0", 1));
    assert_eq!(p0.info().driver_name, "net_null");
    assert!(!p0.link().up, "down until started");
    assert_ne!(p0.mac_addr(), p1.mac_addr());
    assert!(matches!(Port::get(7), Err(EthError::NoSuchPort(7))));

    let pool = PktmbufPool::create("null_pool", 4096, 128, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    setup(&p0, &pool, 2);
    setup(&p1, &pool, 1);
    p0.start().unwrap();
    p1.start().unwrap();
    let mut rx = p0.rx_queue(1).unwrap();
    let mut tx = p1.tx_queue(0).unwrap();
    let mut burst = MbufBurst::<32>::new();
    for _ in 0..10 {
        assert_eq!(rx.rx_burst(&mut burst), 32);
        assert!(burst.iter().all(|m| m.pkt_len() == 100 && m.port() == 0));
        assert_eq!(tx.tx_burst(&mut burst), 32);
        assert!(burst.is_empty());
    }
    let s0 = p0.stats();
    assert_eq!(
        (s0.ipackets, s0.ibytes, s0.q_ipackets[1], s0.q_ipackets[0]),
        (320, 32_000, 320, 0)
    );
    let s1 = p1.stats();
    assert_eq!((s1.opackets, s1.obytes), (320, 32_000));
    assert_eq!(p1.xstat("tx_q0_packets"), Some(320));
    assert_eq!(p0.xstat("rx_good_bytes"), Some(32_000));
    p0.stats_reset();
    assert_eq!(p0.stats().ipackets, 0);

    // A stopped port moves nothing.
    p0.stop().unwrap();
    assert_eq!(rx.rx_burst(&mut burst), 0);
    p0.start().unwrap();
    assert_eq!(rx.rx_burst(&mut burst), 32);
    burst.clear();
    drop((rx, tx));
    assert_eq!(pool.in_use_count(), 0);
    pool.audit().unwrap();
    drop(eal);
    assert_eq!(rpdk_ethdev::port_count(), 0, "ports removed at cleanup");
}

#[test]
fn one_handle_per_queue_and_states_are_checked() {
    let _s = serial();
    let _eal = init(&["net_null0"]).unwrap();
    let port = Port::get(0).unwrap();
    let pool = PktmbufPool::create("state_pool", 1024, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let err = |r: rpdk_ethdev::Result<()>| r.unwrap_err().to_string();
    assert_eq!(err(port.start()), "port 0: start needs configure first");
    assert_eq!(
        err(port.rx_queue_setup(0, 0, None, &RxConf::default(), &pool)),
        "port 0: set up queues after configure"
    );
    assert!(
        err(port.configure(2000, 1, &EthConf::default())).contains("2000 RX queues, at most 1024")
    );
    let bad = EthConf {
        rx_offloads: rx_offload::TCP_LRO,
        ..EthConf::default()
    };
    assert!(err(port.configure(1, 1, &bad)).contains("RX offloads 0x10 not supported"));
    let bad_rss = EthConf {
        rx_mq_mode: RxMqMode::Rss,
        rss: rpdk_ethdev::RssConf {
            key: None,
            hf: RssHf::L2_PAYLOAD,
        },
        ..EthConf::default()
    };
    assert!(err(port.configure(1, 1, &bad_rss)).contains("RSS hash types 0x4000 not supported"));
    port.configure(1, 1, &EthConf::default()).unwrap();
    assert_eq!(err(port.start()), "port 0: RX queue 0 is not set up");
    assert!(
        err(port.rx_queue_setup(3, 0, None, &RxConf::default(), &pool))
            .contains("rx queue 3 does not exist (1 configured)")
    );
    assert!(
        err(port.tx_queue_setup(1, 0, None, &TxConf::default()))
            .contains("tx queue 1 does not exist (1 configured)")
    );
    let lro = RxConf {
        offloads: rx_offload::TCP_LRO,
        ..RxConf::default()
    };
    assert!(
        err(port.rx_queue_setup(0, 0, None, &lro, &pool))
            .contains("RX queue offloads 0x10 not supported")
    );
    let tso = TxConf {
        offloads: tx_offload::TCP_TSO,
        ..TxConf::default()
    };
    assert!(err(port.tx_queue_setup(0, 0, None, &tso)).contains("TX queue offloads"));
    assert_eq!(
        port.tx_queue(0).unwrap_err().to_string(),
        "port 0: TX queue 0 is not set up"
    );
    setup(&port, &pool, 1);
    port.start().unwrap();
    assert_eq!(
        err(port.configure(1, 1, &EthConf::default())),
        "port 0: configure needs a stopped port"
    );
    assert_eq!(
        err(port.tx_queue_setup(0, 0, None, &TxConf::default())),
        "port 0: set up queues on a stopped port"
    );

    let rxq = port.rx_queue(0).unwrap();
    assert_eq!(
        port.rx_queue(0).unwrap_err().to_string(),
        "port 0: rx queue 0 is owned by another handle"
    );
    assert_eq!(
        err(port.rx_queue_setup(0, 0, None, &RxConf::default(), &pool)),
        "port 0: set up queues on a stopped port"
    );
    port.stop().unwrap();
    assert_eq!(
        err(port.rx_queue_setup(0, 0, None, &RxConf::default(), &pool)),
        "port 0: rx queue 0 is owned by another handle"
    );
    port.start().unwrap();
    // The handle can move to another thread, and comes back when dropped.
    std::thread::spawn(move || drop(rxq)).join().unwrap();
    let rxq = port.rx_queue(0).unwrap();
    port.stop().unwrap();
    assert_eq!(
        err(port.close()),
        "port 0: close needs every queue handle given back"
    );
    drop(rxq);
    port.close().unwrap();
    assert!(matches!(Port::get(0), Err(EthError::NoSuchPort(0))));
    assert_eq!(err(port.start()), "port 0: the port is closed");
    pool.free();
}

#[test]
fn the_port_layer_owns_started_mtu_and_reset() {
    let _s = serial();
    let _eal = init(&["net_null0"]).unwrap();
    let port = Port::get(0).unwrap();
    let pool = PktmbufPool::create("owner_pool", 512, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    setup(&port, &pool, 1);
    port.set_mtu(1400).unwrap();
    assert_eq!((port.mtu(), port.conf().mtu), (1400, Some(1400)));
    assert!(port.set_mtu(20).is_err());
    assert_eq!(port.conf().mtu, Some(1400), "a refused MTU changes nothing");
    port.start().unwrap();
    assert!(port.link().up);
    // reset checks for handles out before it touches the port: it stays started.
    let rxq = port.rx_queue(0).unwrap();
    assert_eq!(
        port.reset().unwrap_err().to_string(),
        "port 0: reset needs every queue handle given back"
    );
    assert!(port.is_started() && port.link().up);
    drop(rxq);
    port.reset().unwrap();
    assert!(!port.is_started() && !port.link().up);
    assert_eq!((port.nb_rx_queues(), port.conf()), (0, EthConf::default()));
    assert_eq!(
        port.start().unwrap_err().to_string(),
        "port 0: start needs configure first"
    );
    pool.free();
}

#[test]
fn queue_info_tells_how_each_queue_was_set_up() {
    let _s = serial();
    let _eal = init(&["net_null0"]).unwrap();
    let port = Port::get(0).unwrap();
    let pool = PktmbufPool::create("qinfo_pool", 512, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let conf = EthConf {
        rx_offloads: rx_offload::RSS_HASH,
        ..EthConf::default()
    };
    port.configure(2, 1, &conf).unwrap();
    let rx = RxConf {
        rx_free_thresh: 16,
        rx_drop_en: true,
        offloads: 0,
    };
    port.rx_queue_setup(0, 256, None, &rx, &pool).unwrap();
    port.tx_queue_setup(
        0,
        0,
        None,
        &TxConf {
            tx_free_thresh: 32,
            offloads: 0,
        },
    )
    .unwrap();
    let i = port.rx_queue_info(0).unwrap();
    assert_eq!(
        (i.nb_desc, i.conf, i.scattered_rx),
        (
            256,
            RxConf {
                offloads: rx_offload::RSS_HASH,
                ..rx
            },
            false
        )
    );
    let room = u32::from(MBUF_DEFAULT_BUF_SIZE - rpdk_mbuf::PKTMBUF_HEADROOM);
    assert_eq!((i.rx_buf_size, i.pool_name.as_str()), (room, "qinfo_pool"));
    assert_eq!(i.pool_socket, pool.mempool().socket_id());
    // 0 descriptors: the driver's preferred count, which net_null does not have.
    let t = port.tx_queue_info(0).unwrap();
    assert_eq!(
        (t.nb_desc, t.conf.tx_free_thresh, t.conf.offloads),
        (0, 32, 0)
    );
    assert_eq!(
        port.rx_queue_info(1).unwrap_err().to_string(),
        "port 0: RX queue 1 is not set up (or is hairpin)"
    );
    assert!(matches!(
        port.tx_queue_info(1),
        Err(EthError::NoSuchQueue {
            dir: "tx",
            queue: 1,
            count: 1,
            ..
        })
    ));
    port.close().unwrap();
    assert!(port.rx_queue_info(0).is_err(), "closed");
    pool.free();
}

#[test]
fn exhausted_pools_count_rx_nombuf_and_lose_nothing() {
    let _s = serial();
    let setup = PortSetup {
        pool_size: 40,
        nb_desc: 512,
        ..PortSetup::default()
    };
    let f = PortFixture::new("null-test", &["net_null0,size=64"], &setup).unwrap();
    let (port, pool) = (f.port(0), f.pool());
    let mut rx = port.rx_queue(0).unwrap();
    let mut a = MbufBurst::<32>::new();
    let mut b = MbufBurst::<32>::new();
    assert_eq!(rx.rx_burst(&mut a), 32);
    assert_eq!(
        rx.rx_burst(&mut b),
        0,
        "8 left, a burst of 32 cannot be had"
    );
    assert_eq!(port.stats().rx_nombuf, 32);
    assert_eq!(pool.in_use_count(), 32, "the failed burst took nothing");
    drop(a);
    assert_eq!(rx.rx_burst(&mut b), 32);
    drop(b);
    assert_eq!(port.stats().ipackets, 64);
}

#[test]
fn tx_buffers_flush_and_count_drops() {
    let _s = serial();
    let setup = PortSetup {
        pool_size: 256,
        nb_desc: 512,
        ..PortSetup::default()
    };
    let f = PortFixture::new("null-test", &["net_null0", "net_null1"], &setup).unwrap();
    let (p1, pool) = (f.port(1), f.pool());
    let mut tx = p1.tx_queue(0).unwrap();
    let mut buf = TxBuffer::<32>::with_size(8);
    let mut sent = 0;
    for _ in 0..20 {
        sent += buf.buffer(&mut tx, pool.alloc().unwrap());
    }
    assert_eq!((sent, buf.len()), (16, 4), "sent in groups of 8");
    assert_eq!(buf.flush(&mut tx), 4);
    assert_eq!(p1.stats().opackets, 20);
    // A stopped port takes nothing: the buffer drops and counts.
    p1.stop().unwrap();
    for _ in 0..3 {
        buf.buffer(&mut tx, pool.alloc().unwrap());
    }
    assert_eq!(buf.flush(&mut tx), 0);
    assert_eq!(buf.dropped(), 3);
    assert_eq!(pool.in_use_count(), 0, "dropped packets were freed");
}

#[test]
fn bad_devargs_fail_init_naming_the_key() {
    let _s = serial();
    let e = init(&["net_null0,size=huge"]).unwrap_err().to_string();
    assert!(
        e.contains("device 'net_null0'") && e.contains("invalid value 'huge' for key 'size'"),
        "{e}"
    );
    assert!(!rpdk_eal::is_initialized());
    assert_eq!(rpdk_ethdev::port_count(), 0);
}

#[test]
fn unknown_keys_are_warnings_and_the_port_probes() {
    let _s = serial();
    let logs = LogCapture::start();
    let eal = init(&["net_null0,speed=10,size=128"]).unwrap();
    let text = logs.text();
    assert!(
        text.contains(
            "net_null0: ignoring unknown key 'speed' (valid keys of net_null: size, copy, no-rx)"
        ),
        "{text}"
    );
    assert_eq!(rpdk_ethdev::port_count(), 1);
    drop(eal);
}
