//! Software hairpin queues on `net_af_packet` ports over veth pairs (root only): two-port
//! hairpin (manual bind) forwards frames with identical bytes while the application polls
//! nothing, one-port hairpin (automatic bind at start) returns them on the same port; both
//! moved by an EAL service on a `-s` lcore; unbind stops them; errors name what is wrong.

use std::time::Duration;

use rpdk_eal::Eal;
use rpdk_ethdev::{EthConf, HairpinConf, HairpinPeer, Port, RxConf, TxConf};
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, PktmbufPool};
use rpdk_testsupport::netns::NetNs;
use rpdk_testsupport::raw::RawSocket as Raw;
use rpdk_testsupport::{allowed_cpus, require_root, serial};

const DEADLINE: Duration = Duration::from_secs(5);

/// Lcores 0 and 1 (1 the service lcore) and `vdevs`.
fn eal(vdevs: &[&str]) -> Eal {
    let cpus = allowed_cpus();
    let map = format!("0@{},1@{}", cpus[0], cpus[cpus.len() - 1]);
    let mut args: Vec<String> = ["hairpin-test", "--no-huge", "--no-shconf", "--lcores"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(map);
    args.extend(["-s".to_string(), "0x2".to_string()]);
    for v in vdevs {
        args.extend(["--vdev".to_string(), v.to_string()]);
    }
    rpdk_eal::init(args).unwrap().0
}

/// Frames of ours (EtherType 0x88b5) until `n` came or the deadline passed, then a little
/// longer for extra ones.
fn receive(raw: &Raw, n: usize) -> Vec<Vec<u8>> {
    raw.recv_n_where(n, DEADLINE, Duration::from_millis(100), |f| {
        f.len() >= 14 && f[12..14] == [0x88, 0xb5]
    })
}

/// Frame `i`: an experimental EtherType, a counter and a pattern, `60 + i % 300` bytes.
fn frame(i: u32) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a, 0x88, 0xb5];
    f.extend_from_slice(&i.to_be_bytes());
    f.extend((0..42 + i % 300).map(|k| (k * 7 + i) as u8));
    f
}

fn pool(name: &str) -> PktmbufPool {
    PktmbufPool::create(name, 1023, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap()
}

fn peer(port: u16, queue: u16) -> Vec<HairpinPeer> {
    vec![HairpinPeer { port, queue }]
}

#[test]
fn two_port_hairpin_forwards_identical_bytes_unpolled() {
    if !require_root("two_port_hairpin_forwards_identical_bytes_unpolled") {
        return;
    }
    let _s = serial();
    let ns = NetNs::new("hp2").unwrap();
    ns.add_veth("hpa", "hpb").unwrap();
    ns.add_veth("hqa", "hqb").unwrap();
    let _in = ns.enter().unwrap();
    let _eal = eal(&["net_af_packet0,iface=hpa", "net_af_packet1,iface=hqa"]);
    let (p0, p1) = (Port::get(0).unwrap(), Port::get(1).unwrap());
    let cap = p0.hairpin_capability_get().unwrap();
    assert_eq!((cap.max_rx_2_tx, cap.max_tx_2_rx), (1, 1));
    let pool = pool("hp2_pool");
    // Port 0: RX queue 0 a hairpin to port 1's TX queue 0; its TX queue 0 a normal one.
    // Port 1: the reverse.
    let manual = |peers| HairpinConf {
        peers,
        tx_explicit: false,
        manual_bind: true,
    };
    for p in [&p0, &p1] {
        p.configure(1, 1, &EthConf::default()).unwrap();
    }
    p0.rx_hairpin_queue_setup(0, 512, &manual(peer(1, 0)))
        .unwrap();
    p0.tx_queue_setup(0, 0, None, &TxConf::default()).unwrap();
    p1.rx_queue_setup(0, 0, None, &RxConf::default(), &pool)
        .unwrap();
    p1.tx_hairpin_queue_setup(0, 512, &manual(peer(0, 0)))
        .unwrap();
    assert_eq!(p0.hairpin_get_peer_ports(false).unwrap(), [1]);
    assert_eq!(p1.hairpin_get_peer_ports(true).unwrap(), [0]);
    // Auto bind across ports is not possible, as DPDK's.
    let e = p1
        .tx_hairpin_queue_setup(
            0,
            512,
            &HairpinConf {
                manual_bind: false,
                ..manual(peer(0, 0))
            },
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs manual_bind"), "{e}");
    assert!(
        p0.rx_queue(0)
            .unwrap_err()
            .to_string()
            .contains("RX queue 0 is a hairpin queue")
    );
    p0.start().unwrap();
    assert!(
        p1.hairpin_bind(Some(0))
            .unwrap_err()
            .to_string()
            .contains("both ports started")
    );
    p1.start().unwrap();
    p1.hairpin_bind(Some(0)).unwrap();
    assert_eq!(p0.hairpin_services().len(), 1);

    let (into, out) = (Raw::open("hpb"), Raw::open("hqb"));
    let sent: Vec<Vec<u8>> = (0..200).map(frame).collect();
    for f in &sent {
        into.send(f);
    }
    let got = receive(&out, sent.len());
    assert!(
        got == sent,
        "{} of {} frames, identical and in order",
        got.len(),
        sent.len()
    );
    let (s0, s1) = (p0.stats(), p1.stats());
    assert_eq!((s0.ipackets, s1.opackets), (200, 200));

    // Unbound: nothing more goes through.
    p1.hairpin_unbind(None).unwrap();
    assert!(p0.hairpin_services().is_empty());
    for f in &sent[..10] {
        into.send(f);
    }
    assert!(receive(&out, 0).is_empty(), "nothing after unbind");
    p0.stop().unwrap();
    p1.stop().unwrap();
    p0.close().unwrap();
    p1.close().unwrap();
    // The service lcore the hairpin started is stopped first: an audit reads its cache.
    rpdk_eal::service::lcore_stop(1).unwrap();
    pool.audit().unwrap();
    pool.free();
}

#[test]
fn one_port_hairpin_returns_frames_on_the_same_port() {
    if !require_root("one_port_hairpin_returns_frames_on_the_same_port") {
        return;
    }
    let _s = serial();
    let ns = NetNs::new("hp1").unwrap();
    ns.add_veth("hra", "hrb").unwrap();
    let _in = ns.enter().unwrap();
    let _eal = eal(&["net_af_packet0,iface=hra"]);
    let p = Port::get(0).unwrap();
    let auto = HairpinConf {
        peers: peer(0, 0),
        tx_explicit: false,
        manual_bind: false,
    };
    p.configure(1, 1, &EthConf::default()).unwrap();
    p.rx_hairpin_queue_setup(0, 0, &auto).unwrap();
    p.tx_hairpin_queue_setup(0, 0, &auto).unwrap();
    let bad = HairpinConf {
        peers: vec![],
        ..auto.clone()
    };
    assert!(
        p.rx_hairpin_queue_setup(0, 0, &bad)
            .unwrap_err()
            .to_string()
            .contains("exactly 1")
    );
    p.start().unwrap();
    assert_eq!(p.hairpin_services().len(), 1, "bound at start");
    let raw = Raw::open("hrb");
    let sent: Vec<Vec<u8>> = (0..100).map(frame).collect();
    for f in &sent {
        raw.send(f);
    }
    let got = receive(&raw, sent.len());
    assert!(
        got == sent,
        "{} of {} frames back, identical",
        got.len(),
        sent.len()
    );
    p.stop().unwrap();
    assert!(p.hairpin_services().is_empty(), "unbound at stop");
    p.close().unwrap();
}
