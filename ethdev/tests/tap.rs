//! `net_tap` against the kernel: each test makes its own network namespace and enters it before
//! EAL init, so the TAP interface is created inside and goes away with it. Needs root.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use rpdk_eal::Eal;
use rpdk_ethdev::{EthConf, Port, RxConf, TxConf, rx_offload};
use rpdk_mbuf::net::{Ethernet, Ipv4, MacAddr, Udp, ether_type, ip_proto};
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, Mbuf, MbufBurst, PktmbufPool};
use rpdk_testsupport::logs::LogCapture;
use rpdk_testsupport::netns::NetNs;
use rpdk_testsupport::port::{PortFixture, PortSetup};
use rpdk_testsupport::{eal_args, require_root, serial};

fn init(vdevs: &[&str]) -> rpdk_eal::Result<Eal> {
    rpdk_eal::init(eal_args("tap-test", vdevs)).map(|(e, _)| e)
}

/// A namespace with IPv6 off (so the kernel sends nothing of its own on new interfaces).
fn netns(tag: &str) -> NetNs {
    let ns = NetNs::new(tag).unwrap();
    ns.sh("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1")
        .unwrap();
    ns
}

/// The EAL with `vdevs`, set up as `setup` says (512 descriptors a queue), started.
fn fixture(vdevs: &[&str], setup: PortSetup) -> PortFixture {
    let setup = PortSetup {
        nb_desc: 512,
        ..setup
    };
    PortFixture::new("tap-test", vdevs, &setup).unwrap()
}

fn setup(port: &Port, pool: &PktmbufPool, nq: u16, conf: &EthConf) {
    port.configure(nq, nq, conf).unwrap();
    for q in 0..nq {
        port.rx_queue_setup(q, 512, None, &RxConf::default(), pool)
            .unwrap();
        port.tx_queue_setup(q, 512, None, &TxConf::default())
            .unwrap();
    }
}

fn sysfs(ns: &NetNs, ifname: &str, attr: &str) -> String {
    ns.sh(&format!("cat /sys/class/net/{ifname}/{attr}"))
        .unwrap()
        .trim()
        .to_string()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Polls `rxq` for up to 3 s, handing every frame to `f`, until `f` says it has seen enough.
fn receive(rxq: &mut rpdk_ethdev::RxQueue, mut f: impl FnMut(&Mbuf) -> bool) {
    let end = Instant::now() + Duration::from_secs(3);
    let mut burst = MbufBurst::<32>::new();
    loop {
        rxq.rx_burst(&mut burst);
        let mut done = false;
        for m in burst.iter() {
            done |= f(m);
        }
        burst.clear();
        if done {
            return;
        }
        assert!(Instant::now() < end, "timed out receiving");
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn arp_request(pool: &PktmbufPool, sha: MacAddr, spa: [u8; 4], tpa: [u8; 4]) -> Mbuf {
    let mut m = pool.alloc().unwrap();
    let mut eth = Ethernet::new_checked(m.append(42).unwrap()).unwrap();
    eth.set_dst(MacAddr::BROADCAST);
    eth.set_src(sha);
    eth.set_ether_type(ether_type::ARP);
    let arp = eth.payload_mut();
    // Ethernet, IPv4, 6-byte and 4-byte addresses, request.
    arp[..8].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    arp[8..14].copy_from_slice(&sha.0);
    arp[14..18].copy_from_slice(&spa);
    arp[18..24].fill(0);
    arp[24..28].copy_from_slice(&tpa);
    m
}

/// A UDP datagram frame from `src` to `dst`, as bytes.
fn udp_frame(
    (smac, sip, sport): (MacAddr, [u8; 4], u16),
    (dmac, dip, dport): (MacAddr, [u8; 4], u16),
    payload: &[u8],
) -> Vec<u8> {
    let mut frame = Vec::new();
    etherparse::PacketBuilder::ethernet2(smac.0, dmac.0)
        .ipv4(sip, dip, 64)
        .udp(sport, dport)
        .write(&mut frame, payload)
        .unwrap();
    frame
}

/// The UDP datagram in `m` to `dport`: (source address, payload).
fn udp_to(m: &Mbuf, dport: u16) -> Option<([u8; 4], Vec<u8>)> {
    let mut buf = vec![0; m.pkt_len() as usize];
    let bytes = m.read(0, &mut buf)?;
    let eth = Ethernet::new_checked(bytes).ok()?;
    if eth.ether_type() != ether_type::IPV4 {
        return None;
    }
    let ip = Ipv4::new_checked(eth.payload()).ok()?;
    if ip.protocol() != ip_proto::UDP {
        return None;
    }
    let udp = Udp::new_checked(ip.payload()).ok()?;
    (udp.dst_port() == dport).then(|| (ip.src().octets(), udp.payload().to_vec()))
}

#[test]
fn kernel_answers_arp_and_exchanges_udp() {
    if !require_root("kernel_answers_arp_and_exchanges_udp") {
        return;
    }
    let _s = serial();
    let ns = netns("tapa");
    let _inside = ns.enter().unwrap();
    let setup = PortSetup {
        pool_size: 1024,
        cache: 32,
        start: false,
        ..PortSetup::default()
    };
    let f = fixture(&["net_tap0,iface=rtap0"], setup);
    let (port, pool) = (f.port(0), f.pool());
    assert_eq!(port.info().driver_name, "net_tap");
    assert!(port.info().if_index.is_some());
    let mac = port.mac_addr();
    assert!(
        mac.is_valid_unicast() && mac.is_local_admin(),
        "random MAC {mac}"
    );
    assert_eq!(sysfs(&ns, "rtap0", "address").parse::<MacAddr>(), Ok(mac));
    ns.sh("ip addr add 10.9.0.1/24 dev rtap0").unwrap();

    assert!(!port.link().up, "down until started");
    port.start().unwrap();
    wait_until("link up", || port.link().up);
    let (mut rxq, mut txq) = (port.rx_queue(0).unwrap(), port.tx_queue(0).unwrap());

    // Who has 10.9.0.1? Tell 10.9.0.2.
    let mut burst = MbufBurst::<4>::new();
    burst
        .push(arp_request(pool, mac, [10, 9, 0, 2], [10, 9, 0, 1]))
        .unwrap();
    assert_eq!(txq.tx_burst(&mut burst), 1);
    let kmac: MacAddr = sysfs(&ns, "rtap0", "address").parse().unwrap();
    // Every frame received, and its bytes, for the statistics.
    let (mut frames, mut bytes) = (0u64, 0u64);
    let mut reply = Vec::new();
    receive(&mut rxq, |m| {
        frames += 1;
        bytes += m.pkt_len() as u64;
        let eth = Ethernet::new_checked(m.data()).unwrap();
        let arp = eth.payload();
        if eth.ether_type() == ether_type::ARP && arp.len() >= 28 && arp[6..8] == [0, 2] {
            reply = m.data().to_vec();
            return true;
        }
        false
    });
    let eth = Ethernet::new_checked(&reply[..]).unwrap();
    assert_eq!((eth.dst(), eth.src()), (mac, kmac));
    let arp = eth.payload();
    assert_eq!(
        &arp[..8],
        &[0, 1, 8, 0, 6, 4, 0, 2],
        "an Ethernet/IPv4 reply"
    );
    assert_eq!(&arp[8..14], &kmac.0, "sender MAC");
    assert_eq!(&arp[14..18], &[10, 9, 0, 1], "sender IP");
    assert_eq!(&arp[18..24], &mac.0, "target MAC");
    assert_eq!(&arp[24..28], &[10, 9, 0, 2], "target IP");
    // The kernel learned our address from the request.
    let neigh = ns.sh("ip neigh show 10.9.0.2 dev rtap0").unwrap();
    assert!(neigh.contains(&mac.to_string().to_lowercase()), "{neigh}");

    // Datagrams the kernel sends toward 10.9.0.2 arrive whole, with packet types once asked
    // (the software stage parses them: net_tap does not classify).
    assert!(
        port.get_supported_ptypes(rpdk_mbuf::PacketType::L4_MASK)
            .contains(&rpdk_mbuf::PacketType::L4_UDP.0)
    );
    port.set_ptypes(rpdk_mbuf::PacketType::ALL_MASK).unwrap();
    let sock = UdpSocket::bind("10.9.0.1:0").unwrap();
    let sport = sock.local_addr().unwrap().port();
    for i in 0..3u8 {
        sock.send_to(&[i; 100], "10.9.0.2:7777").unwrap();
    }
    let mut got = Vec::new();
    receive(&mut rxq, |m| {
        frames += 1;
        bytes += m.pkt_len() as u64;
        if let Some((src, payload)) = udp_to(m, 7777) {
            let eth = Ethernet::new_checked(m.data()).unwrap();
            assert_eq!((eth.dst(), eth.src()), (mac, kmac));
            let ip = Ipv4::new_checked(eth.payload()).unwrap();
            assert!(ip.verify_checksum());
            let udp = Udp::new_checked(ip.payload()).unwrap();
            assert!(udp.verify_checksum_ipv4(ip.src(), ip.dst()));
            assert_eq!(udp.src_port(), sport);
            assert_eq!(m.port(), port.id());
            assert!(m.packet_type().to_string().contains("L4_UDP"));
            assert_eq!(src, [10, 9, 0, 1]);
            got.push(payload);
        }
        got.len() == 3
    });
    assert_eq!(got, [[0u8; 100], [1; 100], [2; 100]]);

    // A datagram sent in two segments reaches a kernel socket in one piece.
    let server = UdpSocket::bind("10.9.0.1:7778").unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let payload: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let frame = udp_frame(
        (mac, [10, 9, 0, 2], 4000),
        (kmac, [10, 9, 0, 1], 7778),
        &payload,
    );
    let mut head = pool.alloc().unwrap();
    head.append(42).unwrap().copy_from_slice(&frame[..42]);
    let mut tail = pool.alloc().unwrap();
    tail.append(1000).unwrap().copy_from_slice(&frame[42..]);
    head.chain(tail).map_err(|(e, _)| e).unwrap();
    assert_eq!(head.nb_segs(), 2);
    burst.push(head).unwrap();
    assert_eq!(txq.tx_burst(&mut burst), 1);
    let mut buf = [0u8; 2000];
    let (n, from) = server.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], &payload[..]);
    assert_eq!(from.to_string(), "10.9.0.2:4000");

    let st = port.stats();
    assert_eq!((st.opackets, st.obytes), (2, 42 + 1042));
    assert!(st.ipackets >= 4, "{st:?}");
    assert_eq!((st.ierrors, st.oerrors, st.rx_nombuf), (0, 0, 0));
    // The ARP reply (42 bytes) and three 142-byte datagrams at least.
    assert_eq!((st.ipackets, st.ibytes), (frames, bytes));
    assert!(bytes >= 42 + 3 * 142, "{bytes}");

    // A frame shorter than an Ethernet header: the kernel refuses it, the queue takes it and
    // counts an error, not a sent packet.
    let mut runt = pool.alloc().unwrap();
    runt.append(10).unwrap().fill(0xff);
    burst.push(runt).unwrap();
    assert_eq!(txq.tx_burst(&mut burst), 1, "taken");
    let st = port.stats();
    assert_eq!((st.opackets, st.obytes, st.oerrors), (2, 42 + 1042, 1));
}

#[test]
fn device_is_made_in_the_namespace_and_removed_on_close() {
    if !require_root("device_is_made_in_the_namespace_and_removed_on_close") {
        return;
    }
    let _s = serial();
    let ns = netns("tapd");
    let inside = ns.enter().unwrap();
    let eal = init(&["net_tap0,mac=fixed"]).unwrap();
    // The default name: the kernel's first free dtapN, in this namespace only.
    assert!(ns.sh("ip -o link show dtap0").unwrap().contains("dtap0"));
    let port = Port::get(0).unwrap();
    let mac = port.mac_addr();
    assert_eq!(
        &mac.0[..5],
        &[0x00, 0x64, 0x74, 0x61, 0x70],
        "DPDK's fixed MAC"
    );
    assert!(mac.0[5].is_ascii_digit());
    assert_eq!(sysfs(&ns, "dtap0", "address").parse::<MacAddr>(), Ok(mac));

    // MAC, MTU, promiscuous and all-multicast are the interface's.
    let new_mac = MacAddr([0x02, 0, 0, 0xab, 0xcd, 0xef]);
    port.set_mac_addr(new_mac).unwrap();
    assert_eq!(port.mac_addr(), new_mac);
    assert_eq!(sysfs(&ns, "dtap0", "address"), "02:00:00:ab:cd:ef");
    port.set_mtu(1400).unwrap();
    assert_eq!(
        (port.mtu(), sysfs(&ns, "dtap0", "mtu").as_str()),
        (1400, "1400")
    );
    let flags = || u32::from_str_radix(&sysfs(&ns, "dtap0", "flags")[2..], 16).unwrap();
    assert!(!port.promiscuous() && !port.allmulticast());
    port.promiscuous_enable().unwrap();
    port.allmulticast_enable().unwrap();
    assert!(port.promiscuous() && port.allmulticast());
    assert_eq!(flags() & 0x300, 0x300, "IFF_PROMISC | IFF_ALLMULTI");
    port.promiscuous_disable().unwrap();
    assert!(!port.promiscuous() && port.allmulticast());
    assert_eq!(flags() & 0x300, 0x200);

    let pool = PktmbufPool::create("tap_dev", 512, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let conf = EthConf {
        mtu: Some(1280),
        ..EthConf::default()
    };
    setup(&port, &pool, 1, &conf);
    assert_eq!(
        sysfs(&ns, "dtap0", "mtu"),
        "1280",
        "configure applies the MTU"
    );
    port.start().unwrap();
    assert_eq!(flags() & 1, 1, "IFF_UP once started");
    port.stop().unwrap();
    assert_eq!(flags() & 1, 0, "down once stopped");
    assert!(!port.link().up);
    port.close().unwrap();
    assert!(
        ns.sh("ip link show dtap0").is_err(),
        "the interface is gone after close"
    );
    pool.audit().unwrap();
    pool.free();
    drop(eal);
    drop(inside);
    assert!(
        !std::path::Path::new("/sys/class/net/dtap0").exists()
            || ns.sh("ip link show dtap0").is_err()
    );
}

#[test]
fn queue_pairs_spread_the_kernels_flows() {
    if !require_root("queue_pairs_spread_the_kernels_flows") {
        return;
    }
    let _s = serial();
    let ns = netns("tapm");
    let _inside = ns.enter().unwrap();
    const NQ: u16 = 4;
    let setup = PortSetup {
        pool_size: 2048,
        cache: 32,
        start: false,
        ..PortSetup::queues(NQ)
    };
    let f = fixture(&["net_tap0,iface=mtap0"], setup);
    let (port, pool) = (f.port(0), f.pool());
    let err = port.configure(2, 1, &EthConf::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("needs as many RX as TX queues, one TAP queue each (2 RX, 1 TX)"),
        "{err}"
    );
    let queues = ns.sh("ls /sys/class/net/mtap0/queues").unwrap();
    assert!(
        queues.contains("tx-3") && !queues.contains("tx-4"),
        "{queues}"
    );
    ns.sh("ip addr add 10.9.1.1/24 dev mtap0").unwrap();
    port.start().unwrap();
    wait_until("link up", || port.link().up);
    let mac = port.mac_addr();
    ns.sh(&format!(
        "ip neigh replace 10.9.1.2 lladdr {mac} dev mtap0 nud permanent"
    ))
    .unwrap();
    let kmac: MacAddr = sysfs(&ns, "mtap0", "address").parse().unwrap();

    // Every TX queue reaches the kernel.
    let server = UdpSocket::bind("10.9.1.1:7000").unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut txqs: Vec<_> = (0..NQ).map(|q| port.tx_queue(q).unwrap()).collect();
    for (q, txq) in txqs.iter_mut().enumerate() {
        let frame = udp_frame(
            (mac, [10, 9, 1, 2], 5000 + q as u16),
            (kmac, [10, 9, 1, 1], 7000),
            &[q as u8; 32],
        );
        let mut m = pool.alloc().unwrap();
        m.append(frame.len() as u16)
            .unwrap()
            .copy_from_slice(&frame);
        let mut burst = MbufBurst::<1>::new();
        burst.push(m).unwrap();
        assert_eq!(txq.tx_burst(&mut burst), 1, "queue {q}");
    }
    let mut seen = Vec::new();
    for _ in 0..NQ {
        let mut buf = [0u8; 64];
        let (n, from) = server.recv_from(&mut buf).unwrap();
        assert_eq!(n, 32);
        seen.push((from.port() - 5000, buf[0]));
    }
    seen.sort();
    assert_eq!(seen, [(0, 0), (1, 1), (2, 2), (3, 3)]);

    // The kernel spreads its flows (one socket each) over the RX queues, each flow on one.
    const FLOWS: usize = 64;
    let socks: Vec<UdpSocket> = (0..FLOWS)
        .map(|_| UdpSocket::bind("10.9.1.1:0").unwrap())
        .collect();
    for round in 0..2u8 {
        for (i, s) in socks.iter().enumerate() {
            s.send_to(&[i as u8, round], "10.9.1.2:9000").unwrap();
        }
    }
    let mut rxqs: Vec<_> = (0..NQ).map(|q| port.rx_queue(q).unwrap()).collect();
    let mut queue_of = vec![Vec::new(); FLOWS];
    let mut total = 0;
    let end = Instant::now() + Duration::from_secs(3);
    let mut burst = MbufBurst::<32>::new();
    while total < 2 * FLOWS {
        assert!(Instant::now() < end, "received {total} of {}", 2 * FLOWS);
        for (q, rxq) in rxqs.iter_mut().enumerate() {
            rxq.rx_burst(&mut burst);
            for m in burst.iter() {
                if let Some((_, p)) = udp_to(m, 9000) {
                    queue_of[p[0] as usize].push(q);
                    total += 1;
                }
            }
            burst.clear();
        }
    }
    let mut used = [false; NQ as usize];
    for (flow, qs) in queue_of.iter().enumerate() {
        assert_eq!(qs.len(), 2, "flow {flow}: {qs:?}");
        assert_eq!(qs[0], qs[1], "flow {flow} stayed on one queue");
        used[qs[0]] = true;
    }
    assert!(
        used.iter().filter(|&&u| u).count() >= 2,
        "{FLOWS} flows all landed on one queue: {used:?}"
    );
    let st = port.stats();
    assert_eq!(st.opackets, NQ as u64);
    assert!((0..NQ as usize).all(|q| st.q_opackets[q] == 1));
}

#[test]
fn a_deleted_interface_gives_errors_not_hangs() {
    if !require_root("a_deleted_interface_gives_errors_not_hangs") {
        return;
    }
    let _s = serial();
    let ns = netns("tapv");
    let _inside = ns.enter().unwrap();
    let setup = PortSetup {
        pool_size: 512,
        ..PortSetup::default()
    };
    let f = fixture(&["net_tap0,iface=vtap0"], setup);
    let (port, pool) = (f.port(0), f.pool());
    let (mut rxq, mut txq) = (port.rx_queue(0).unwrap(), port.tx_queue(0).unwrap());
    let mut burst = MbufBurst::<32>::new();
    assert_eq!(rxq.rx_burst(&mut burst), 0);
    assert_eq!(port.stats().ierrors, 0, "an empty poll is no error");

    ns.sh("ip link del vtap0").unwrap();
    assert!(!port.link().up);
    let started = Instant::now();
    for _ in 0..100 {
        assert_eq!(rxq.rx_burst(&mut burst), 0);
    }
    let frame = vec![0xffu8; 60];
    for _ in 0..3 {
        let mut m = pool.alloc().unwrap();
        m.append(60).unwrap().copy_from_slice(&frame);
        burst.push(m).unwrap();
    }
    assert_eq!(
        txq.tx_burst(&mut burst),
        0,
        "nothing sent, everything given back"
    );
    assert_eq!(burst.len(), 3);
    assert!(started.elapsed() < Duration::from_secs(1), "no hang");
    let st = port.stats();
    assert_eq!(st.ierrors, 1, "one receive error, then silence");
    assert_eq!((st.oerrors, st.opackets), (3, 0));
    burst.clear();
    drop((rxq, txq));
    port.stop().unwrap();
    let e = port.start().unwrap_err().to_string();
    assert!(
        e.contains("bringing up vtap0") && e.contains("No such device"),
        "{e}"
    );
    port.close().unwrap();
}

#[test]
fn exhausted_pools_count_rx_nombuf_and_lose_nothing() {
    if !require_root("exhausted_pools_count_rx_nombuf_and_lose_nothing") {
        return;
    }
    let _s = serial();
    let ns = netns("tapx");
    let _inside = ns.enter().unwrap();
    let setup = PortSetup {
        pool_size: 100,
        ..PortSetup::default()
    };
    let f = fixture(&["net_tap0,iface=xtap0"], setup);
    let (port, pool) = (f.port(0), f.pool());
    ns.sh("ip addr add 10.9.2.1/24 dev xtap0").unwrap();
    wait_until("link up", || port.link().up);
    ns.sh(&format!(
        "ip neigh replace 10.9.2.2 lladdr {} dev xtap0 nud permanent",
        port.mac_addr()
    ))
    .unwrap();
    const SENT: usize = 300;
    let sock = UdpSocket::bind("10.9.2.1:0").unwrap();
    for i in 0..SENT {
        sock.send_to(&(i as u32).to_be_bytes(), "10.9.2.2:9000")
            .unwrap();
    }
    let mut rxq = port.rx_queue(0).unwrap();
    // Hold everything received until the pool runs dry.
    let mut held: Vec<MbufBurst<32>> = Vec::new();
    let mut got = Vec::new();
    let end = Instant::now() + Duration::from_secs(5);
    while port.stats().rx_nombuf == 0 {
        assert!(Instant::now() < end, "the pool never ran out");
        let mut b = MbufBurst::<32>::new();
        rxq.rx_burst(&mut b);
        got.extend(b.iter().filter_map(|m| udp_to(m, 9000)));
        held.push(b);
    }
    assert!(got.len() < SENT, "the pool of 100 ran out early");
    assert_eq!(pool.avail_count(), 0);
    // Give them back: the rest is still queued in the kernel.
    held.clear();
    let mut burst = MbufBurst::<32>::new();
    let end = Instant::now() + Duration::from_secs(5);
    while got.len() < SENT {
        assert!(Instant::now() < end, "got {} of {SENT}", got.len());
        rxq.rx_burst(&mut burst);
        got.extend(burst.iter().filter_map(|m| udp_to(m, 9000)));
        burst.clear();
    }
    let order: Vec<u32> = got
        .iter()
        .map(|(_, p)| u32::from_be_bytes(p[..4].try_into().unwrap()))
        .collect();
    assert_eq!(
        order,
        (0..SENT as u32).collect::<Vec<_>>(),
        "every datagram, in order"
    );
    let st = port.stats();
    assert!(st.rx_nombuf > 0);
    assert_eq!(st.ierrors, 0);
}

#[test]
fn scattered_receive_takes_jumbo_frames() {
    if !require_root("scattered_receive_takes_jumbo_frames") {
        return;
    }
    let _s = serial();
    let ns = netns("tapj");
    let _inside = ns.enter().unwrap();
    let setup = PortSetup {
        pool_size: 512,
        conf: EthConf {
            mtu: Some(9000),
            rx_offloads: rx_offload::SCATTER,
            ..EthConf::default()
        },
        ..PortSetup::default()
    };
    let f = fixture(&["net_tap0,iface=jtap0"], setup);
    let port = f.port(0);
    ns.sh("ip addr add 10.9.3.1/24 dev jtap0").unwrap();
    wait_until("link up", || port.link().up);
    ns.sh(&format!(
        "ip neigh replace 10.9.3.2 lladdr {} dev jtap0 nud permanent",
        port.mac_addr()
    ))
    .unwrap();
    let sock = UdpSocket::bind("10.9.3.1:0").unwrap();
    let big: Vec<u8> = (0..8000u32).map(|i| (i * 7) as u8).collect();
    sock.send_to(&big, "10.9.3.2:9000").unwrap();
    sock.send_to(b"small", "10.9.3.2:9000").unwrap();
    let mut rxq = port.rx_queue(0).unwrap();
    let mut got = Vec::new();
    receive(&mut rxq, |m| {
        if let Some((_, p)) = udp_to(m, 9000) {
            got.push((m.nb_segs(), m.pkt_len(), p));
        }
        got.len() == 2
    });
    assert_eq!(got[0].0, 4, "8042 bytes in 2048 + 3 x 2176");
    assert_eq!((got[0].1, &got[0].2), (8000 + 42, &big));
    assert_eq!((got[1].0, got[1].1, &got[1].2[..]), (1, 47, &b"small"[..]));
    assert_eq!(port.stats().ierrors, 0);
}

#[test]
fn bad_devargs_and_interfaces_fail_probe() {
    let _s = serial();
    for (vdev, want) in [
        ("net_tap0,mac=nope", "invalid value 'nope' for key 'mac'"),
        (
            "net_tap0,iface=this_is_too_long",
            "invalid value 'this_is_too_long' for key 'iface'",
        ),
    ] {
        let e = init(&[vdev]).unwrap_err().to_string();
        assert!(e.contains("device 'net_tap0'") && e.contains(want), "{e}");
    }
    if require_root("bad_devargs_and_interfaces_fail_probe (unknown key)") {
        // A key net_tap does not know is a warning, and the port probes without it.
        let logs = LogCapture::start();
        let eal = init(&["net_tap0,iface=tapukey0,remote=eth0"]).unwrap();
        let text = logs.text();
        assert!(
            text.contains(
                "net_tap0: ignoring unknown key 'remote' (valid keys of net_tap: iface, mac)"
            ),
            "{text}"
        );
        assert_eq!(rpdk_ethdev::port_count(), 1);
        drop(logs);
        drop(eal);
    }
    if !require_root("bad_devargs_and_interfaces_fail_probe (existing interface)") {
        return;
    }
    let ns = netns("tapb");
    ns.add_veth("bveth0", "bveth1").unwrap();
    let _inside = ns.enter().unwrap();
    let e = init(&["net_tap0,iface=bveth0"]).unwrap_err().to_string();
    assert!(
        e.contains("creating TAP device 'bveth0'") && e.contains("Invalid argument"),
        "{e}"
    );
    assert!(!rpdk_eal::is_initialized());
    assert_eq!(rpdk_ethdev::port_count(), 0);
}
