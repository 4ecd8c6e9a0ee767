//! `net_pcap` with real files and interfaces: what a port writes reads back identically through
//! another and through `tcpdump -r`; classic files of every flavour and pcapng files read; bad
//! files fail with the file and offset; `infinite_rx` replays; interfaces over a veth pair in a
//! network namespace (root).

use std::time::{Duration, Instant};

use rpdk_eal::Eal;
use rpdk_ethdev::drivers::pcap::format::{write_file_header, write_record_header};
use rpdk_ethdev::{EthConf, Port, RxConf, RxQueue, TxConf, TxQueue};
use rpdk_mbuf::{DynField, MBUF_DEFAULT_BUF_SIZE, Mbuf, MbufBurst, PktmbufPool};
use rpdk_testsupport::logs::LogCapture;
use rpdk_testsupport::netns::NetNs;
use rpdk_testsupport::tcpdump;
use rpdk_testsupport::tempdir::TempDir;
use rpdk_testsupport::{eal_args, require_root, serial};

fn init(vdevs: &[String]) -> rpdk_eal::Result<Eal> {
    rpdk_eal::init(eal_args("pcap-test", vdevs)).map(|(e, _)| e)
}

fn setup(port: &Port, pool: &PktmbufPool) {
    let dev = port.device_info();
    let (nrx, ntx) = (dev.max_rx_queues, dev.max_tx_queues);
    port.configure(nrx, ntx, &EthConf::default()).unwrap();
    for q in 0..nrx {
        port.rx_queue_setup(q, 0, None, &RxConf::default(), pool)
            .unwrap();
    }
    for q in 0..ntx {
        port.tx_queue_setup(q, 0, None, &TxConf::default()).unwrap();
    }
    port.start().unwrap();
}

/// Frame `i`: `len` bytes, an experimental EtherType, a counter and a pattern.
fn frame(i: usize, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0xbb]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0xaa]);
    f[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
    f[14..18].copy_from_slice(&(i as u32).to_be_bytes());
    for (j, b) in f[18..].iter_mut().enumerate() {
        *b = (i * 31 + j * 7) as u8;
    }
    f
}

/// Frame `i` with an 802.1Q tag (VLAN 100, priority 5) after the MAC addresses.
fn tagged_frame(i: usize, len: usize) -> Vec<u8> {
    let f = frame(i, len - 4);
    [&f[..12], &[0x81, 0x00, 0xa0, 0x64], &f[12..]].concat()
}

/// An mbuf holding `data`, in `segs` segments (chained further when a buffer is too small).
fn mbuf(pool: &PktmbufPool, data: &[u8], segs: usize) -> Mbuf {
    let piece = data.len().div_ceil(segs).min(2048);
    let mut chunks = data.chunks(piece);
    let mut head = pool.alloc().unwrap();
    let c = chunks.next().unwrap();
    head.append(c.len() as u16).unwrap().copy_from_slice(c);
    for c in chunks {
        let mut m = pool.alloc().unwrap();
        m.append(c.len() as u16).unwrap().copy_from_slice(c);
        head.chain(m).map_err(|(e, _)| e).unwrap();
    }
    head
}

fn bytes(m: &Mbuf) -> Vec<u8> {
    let mut buf = vec![0; m.pkt_len() as usize];
    m.read(0, &mut buf).unwrap().to_vec()
}

fn send_all(txq: &mut TxQueue, pool: &PktmbufPool, frames: &[(Vec<u8>, usize)]) {
    for chunk in frames.chunks(32) {
        let mut burst = MbufBurst::<32>::new();
        for (f, segs) in chunk {
            burst.push(mbuf(pool, f, *segs)).unwrap();
        }
        assert_eq!(txq.tx_burst(&mut burst), chunk.len());
    }
}

/// Everything `rxq` gives until it has been quiet for `quiet`, with segment counts.
fn receive_all(rxq: &mut RxQueue, quiet: Duration) -> Vec<(Vec<u8>, u16)> {
    let mut out = Vec::new();
    let mut burst = MbufBurst::<32>::new();
    let mut last = Instant::now();
    let end = Instant::now() + Duration::from_secs(10);
    while last.elapsed() < quiet && Instant::now() < end {
        if rxq.rx_burst(&mut burst) > 0 {
            last = Instant::now();
        }
        out.extend(burst.iter().map(|m| (bytes(m), m.nb_segs())));
        burst.clear();
    }
    out
}

#[test]
fn a_written_file_reads_back_identically_and_tcpdump_agrees() {
    let _s = serial();
    let dir = TempDir::new("pcaprt");
    let path = dir.file("out.pcap");
    let eal = init(&[format!("net_pcap0,tx_pcap={path}")]).unwrap();
    let tx_port = Port::get(0).unwrap();
    assert_eq!(tx_port.info().driver_name, "net_pcap");
    assert_eq!(
        tx_port.mac_addr().0[..5],
        [0x02, 0x70, 0x63, 0x61, 0x70],
        "DPDK's made-up MAC"
    );
    assert!(tx_port.promiscuous() && tx_port.allmulticast());
    let pool = PktmbufPool::create("pcap_rt", 1024, 32, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    setup(&tx_port, &pool);
    // 100 frames of every size, some in several segments, one jumbo (a chain of 3).
    let frames: Vec<(Vec<u8>, usize)> = (0..100)
        .map(|i| match i {
            99 => (frame(i, 5000), 3),
            _ => (frame(i, 60 + (i * 37) % 1455), 1 + i % 3),
        })
        .collect();
    let mut txq = tx_port.tx_queue(0).unwrap();
    send_all(&mut txq, &pool, &frames);
    let total: usize = frames.iter().map(|(f, _)| f.len()).sum();
    let st = tx_port.stats();
    assert_eq!((st.opackets, st.obytes), (100, total as u64));
    assert_eq!(pool.in_use_count(), 0, "sent mbufs were freed");

    // The file is whole after each burst: tcpdump reads it while the port is open.
    if let Some((n, err)) = tcpdump::list(&path) {
        assert_eq!(n, 100, "tcpdump's count");
        assert!(
            err.contains("link-type EN10MB") && err.contains("snapshot length 65535"),
            "{err}"
        );
    }

    // Read back through a port probed now.
    rpdk_eal::bus::probe_vdev_str(&format!("net_pcap1,rx_pcap={path}")).unwrap();
    let rx_port = Port::by_name("net_pcap1").unwrap();
    setup(&rx_port, &pool);
    let mut rxq = rx_port.rx_queue(0).unwrap();
    let mut got = Vec::new();
    let mut burst = MbufBurst::<32>::new();
    let ts = DynField::<u64>::lookup("rte_dynfield_timestamp").expect("timestamps registered");
    let now_us = std::time::UNIX_EPOCH.elapsed().unwrap().as_micros() as u64;
    let mut last_ts = 0;
    while rxq.rx_burst(&mut burst) > 0 {
        for m in burst.iter() {
            let t = ts.get(m);
            assert!(
                t >= last_ts && now_us.abs_diff(t) < 60_000_000,
                "{t} vs {now_us}"
            );
            last_ts = t;
            assert_eq!(m.port(), rx_port.id());
            got.push((bytes(m), m.nb_segs()));
        }
        burst.clear();
    }
    assert_eq!(got.len(), 100);
    for (i, ((want, _), (have, segs))) in frames.iter().zip(&got).enumerate() {
        assert_eq!(want, have, "frame {i}");
        assert_eq!(*segs, if i == 99 { 3 } else { 1 }, "frame {i}'s segments");
    }
    assert_eq!(rxq.rx_burst(&mut burst), 0, "end of file: nothing, again");
    let st = rx_port.stats();
    assert_eq!((st.ipackets, st.ibytes, st.ierrors), (100, total as u64, 0));
    drop((rxq, txq));
    for p in [&tx_port, &rx_port] {
        p.stop().unwrap();
        p.close().unwrap();
    }
    pool.audit().unwrap();
    pool.free();
    drop(eal);
}

/// A big-endian classic file, by hand.
fn pcap_be(nanos: bool, recs: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend(if nanos { 0xa1b2_3c4du32 } else { 0xa1b2_c3d4 }.to_be_bytes());
    f.extend(2u16.to_be_bytes());
    f.extend(4u16.to_be_bytes());
    f.extend([0; 8]);
    f.extend(262_144u32.to_be_bytes());
    f.extend(1u32.to_be_bytes());
    for (sec, frac, d) in recs {
        for v in [*sec, *frac, d.len() as u32, d.len() as u32] {
            f.extend(v.to_be_bytes());
        }
        f.extend(*d);
    }
    f
}

/// A pcapng block, little-endian.
fn ng_block(t: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    body.resize(body.len().div_ceil(4) * 4, 0);
    let len = (12 + body.len() as u32).to_le_bytes();
    [&t.to_le_bytes()[..], &len, &body, &len].concat()
}

fn pcapng(packets: &[&[u8]]) -> Vec<u8> {
    let mut f = ng_block(
        0x0a0d_0d0a,
        &[&0x1a2b_3c4du32.to_le_bytes()[..], &[1, 0, 0, 0], &[0xff; 8]].concat(),
    );
    // Ethernet, snaplen 0, if_tsresol 9 (nanoseconds).
    f.extend(ng_block(
        1,
        &[1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0],
    ));
    f.extend(ng_block(0x40, b"a name resolution block to skip"));
    for (i, p) in packets.iter().enumerate() {
        if i % 2 == 0 {
            let ts = 1_700_000_000_000_000_000u64 + i as u64;
            let mut b = Vec::new();
            for v in [
                0,
                (ts >> 32) as u32,
                ts as u32,
                p.len() as u32,
                p.len() as u32,
            ] {
                b.extend(v.to_le_bytes());
            }
            b.extend(*p);
            f.extend(ng_block(6, &b));
        } else {
            f.extend(ng_block(
                3,
                &[&(p.len() as u32).to_le_bytes()[..], p].concat(),
            ));
        }
    }
    f
}

fn read_file_port(vdev: &str, pool: &PktmbufPool) -> Vec<Vec<u8>> {
    rpdk_eal::bus::probe_vdev_str(vdev).unwrap();
    let name = vdev.split(',').next().unwrap();
    let port = Port::by_name(name).unwrap();
    setup(&port, &pool.clone());
    let mut out = Vec::new();
    for q in 0..port.nb_rx_queues() {
        let mut rxq = port.rx_queue(q).unwrap();
        let mut burst = MbufBurst::<32>::new();
        while rxq.rx_burst(&mut burst) > 0 {
            out.extend(burst.iter().map(bytes));
            burst.clear();
        }
    }
    assert_eq!(port.stats().ierrors, 0);
    // Hot-unplug: the driver's remove stops and closes the port.
    rpdk_eal::bus::remove_device(name).unwrap();
    assert!(Port::by_name(name).is_err());
    out
}

#[test]
fn nanosecond_big_endian_and_pcapng_files_read() {
    let _s = serial();
    let dir = TempDir::new("pcapfl");
    let eal = init(&[]).unwrap();
    let pool = PktmbufPool::create("pcap_fl", 512, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let frames: Vec<Vec<u8>> = (0..7).map(|i| frame(i, 60 + i * 200)).collect();
    let refs: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();

    // Nanosecond, little-endian, through the writer; microsecond and nanosecond big-endian by
    // hand.
    let mut ns_le = Vec::new();
    write_file_header(&mut ns_le, true, 65535);
    for (i, f) in frames.iter().enumerate() {
        write_record_header(
            &mut ns_le,
            true,
            1_700_000_000_000_000_000 + i as u64,
            f.len() as u32,
            f.len() as u32,
        );
        ns_le.extend(f);
    }
    let recs: Vec<(u32, u32, &[u8])> = refs.iter().map(|f| (1_700_000_000, 999_999, *f)).collect();
    for (name, data) in [
        ("ns_le.pcap", ns_le),
        ("us_be.pcap", pcap_be(false, &recs)),
        ("ns_be.pcap", pcap_be(true, &recs)),
        ("capture.pcapng", pcapng(&refs)),
    ] {
        let path = dir.file(name);
        std::fs::write(&path, &data).unwrap();
        let got = read_file_port(&format!("net_pcap0,rx_pcap={path}"), &pool);
        assert_eq!(got, frames, "{name}");
        // libpcap agrees on what the hand-made files hold.
        if let Some((n, _)) = tcpdump::list(&path) {
            assert_eq!(n, 7, "tcpdump on {name}");
        }
    }

    // Two files: two queues, each with its own packets.
    let (a, b) = (dir.file("a.pcap"), dir.file("b.pcap"));
    std::fs::write(&a, pcap_be(false, &recs[..2])).unwrap();
    std::fs::write(&b, pcapng(&refs[2..])).unwrap();
    rpdk_eal::bus::probe_vdev_str(&format!("net_pcap1,rx_pcap={a},rx_pcap={b}")).unwrap();
    let port = Port::by_name("net_pcap1").unwrap();
    let dev = port.device_info();
    assert_eq!((dev.max_rx_queues, dev.max_tx_queues), (2, 2));
    setup(&port, &pool);
    let mut per_queue = Vec::new();
    for q in 0..2 {
        let mut rxq = port.rx_queue(q).unwrap();
        per_queue.push(
            receive_all(&mut rxq, Duration::from_millis(1))
                .into_iter()
                .map(|(f, _)| f)
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(per_queue, [frames[..2].to_vec(), frames[2..].to_vec()]);
    // The TX queues drop what they get, counting it.
    let mut txq = port.tx_queue(1).unwrap();
    send_all(&mut txq, &pool, &[(frame(0, 60), 1), (frame(1, 70), 2)]);
    assert_eq!(port.stats().q_opackets[1], 2);
    assert_eq!(
        port.stats().q_obytes[1],
        60 + 70,
        "the dropping queue counts bytes too"
    );
    drop(txq);
    port.stop().unwrap();
    port.close().unwrap();
    pool.audit().unwrap();
    pool.free();
    drop(eal);
}

#[test]
fn bad_files_fail_with_the_file_and_offset() {
    let _s = serial();
    let dir = TempDir::new("pcapbad");
    let missing = dir.file("missing.pcap");
    let e = init(&[format!("net_pcap0,rx_pcap={missing}")])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("rx_pcap '{missing}'")) && e.contains("No such file"),
        "{e}"
    );
    let junk = dir.file("junk.pcap");
    std::fs::write(&junk, b"this is not a capture").unwrap();
    let e = init(&[format!("net_pcap0,rx_pcap={junk}")])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("{junk}, offset 0: not a pcap or pcapng file")),
        "{e}"
    );
    let e = init(&[format!(
        "net_pcap0,tx_pcap={}",
        dir.file("no/such/dir.pcap")
    )])
    .unwrap_err()
    .to_string();
    assert!(e.contains("tx_pcap '") && e.contains("No such file"), "{e}");
    let e = init(&["net_pcap0,rx_pcap=a.pcap,rx_iface=lo".into()])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'rx_pcap' and 'rx_iface'/'rx_iface_in' cannot be combined"),
        "{e}"
    );
    assert_eq!(rpdk_ethdev::port_count(), 0);

    // A file cut inside its fourth record: three packets, then an error, then nothing.
    let cut = dir.file("cut.pcap");
    let mut f = Vec::new();
    write_file_header(&mut f, false, 65535);
    for i in 0..4 {
        write_record_header(&mut f, false, 0, 100, 100);
        f.extend(frame(i, 100));
    }
    f.truncate(f.len() - 30);
    std::fs::write(&cut, &f).unwrap();
    let eal = init(&[format!("net_pcap0,rx_pcap={cut}")]).unwrap();
    let port = Port::get(0).unwrap();
    let pool = PktmbufPool::create("pcap_bad", 256, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    setup(&port, &pool);
    let mut rxq = port.rx_queue(0).unwrap();
    let got = receive_all(&mut rxq, Duration::from_millis(1));
    assert_eq!(got.len(), 3);
    let st = port.stats();
    assert_eq!((st.ipackets, st.ierrors), (3, 1));
    let mut burst = MbufBurst::<32>::new();
    assert_eq!(rxq.rx_burst(&mut burst), 0);
    assert_eq!(port.stats().ierrors, 1, "reported once");
    drop(rxq);
    port.stop().unwrap();
    port.close().unwrap();
    pool.audit().unwrap();
    pool.free();
    drop(eal);
}

fn three_packet_file(dir: &TempDir, name: &str, sizes: [usize; 3]) -> String {
    let path = dir.file(name);
    let mut f = Vec::new();
    write_file_header(&mut f, true, 65535);
    for (i, n) in sizes.into_iter().enumerate() {
        write_record_header(&mut f, true, 0, n as u32, n as u32);
        f.extend(frame(i, n));
    }
    std::fs::write(&path, &f).unwrap();
    path
}

#[test]
fn infinite_rx_replays_forever_and_restarts_rewind() {
    let _s = serial();
    let dir = TempDir::new("pcapinf");
    let path = three_packet_file(&dir, "three.pcap", [60, 61, 62]);
    let eal = init(&[
        format!("net_pcap0,rx_pcap={path},infinite_rx=1"),
        format!("net_pcap1,rx_pcap={path}"),
    ])
    .unwrap();
    let pool = PktmbufPool::create("pcap_inf", 40, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let port = Port::get(0).unwrap();
    setup(&port, &pool);
    let mut rxq = port.rx_queue(0).unwrap();
    let mut burst = MbufBurst::<32>::new();
    let mut n = 0;
    while n < 990 {
        assert_eq!(rxq.rx_burst(&mut burst), 32);
        for m in burst.iter() {
            assert_eq!(bytes(m), frame(n % 3, 60 + n % 3), "packet {n}");
            n += 1;
        }
        burst.clear();
    }
    // The replayed mbufs are the application's own: writable.
    assert_eq!(rxq.rx_burst(&mut burst), 32);
    burst
        .iter_mut()
        .for_each(|m| m.data_mut().unwrap()[0] = 0xee);
    // 8 mbufs left: a burst of 32 cannot be had; nothing is lost.
    let mut more = MbufBurst::<32>::new();
    assert_eq!(rxq.rx_burst(&mut more), 0);
    assert_eq!(port.stats().rx_nombuf, 32);
    drop(burst);
    assert_eq!(rxq.rx_burst(&mut more), 32);
    let next = n + 32;
    assert_eq!(
        bytes(&more.as_slice()[0]),
        frame(next % 3, 60 + next % 3),
        "the replay went on where it was"
    );
    drop(more);
    assert_eq!(port.stats().ipackets, n as u64 + 64);
    let replayed: u64 = (0..n as u64 + 64).map(|k| 60 + k % 3).sum();
    assert_eq!(port.stats().ibytes, replayed);
    drop(rxq);
    port.stop().unwrap();
    port.close().unwrap();

    // Without infinite_rx: the file once, then nothing; a restart reads it again.
    let port = Port::get(1).unwrap();
    setup(&port, &pool);
    let mut rxq = port.rx_queue(0).unwrap();
    assert_eq!(receive_all(&mut rxq, Duration::from_millis(1)).len(), 3);
    port.stop().unwrap();
    port.start().unwrap();
    let again = receive_all(&mut rxq, Duration::from_millis(1));
    assert_eq!(
        again.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>(),
        [frame(0, 60), frame(1, 61), frame(2, 62)]
    );
    drop(rxq);
    port.stop().unwrap();
    port.close().unwrap();

    // A packet bigger than one mbuf, or an empty file, cannot be replayed.
    let big = three_packet_file(&dir, "big.pcap", [60, 3000, 60]);
    rpdk_eal::bus::probe_vdev_str(&format!("net_pcap2,rx_pcap={big},infinite_rx=1")).unwrap();
    let port = Port::by_name("net_pcap2").unwrap();
    port.configure(1, 1, &EthConf::default()).unwrap();
    let e = port
        .rx_queue_setup(0, 0, None, &RxConf::default(), &pool)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!(
            "infinite_rx: packet 1 of '{big}' has 3000 bytes, more than the 2048 of one mbuf"
        )),
        "{e}"
    );
    let empty = dir.file("empty.pcap");
    let mut f = Vec::new();
    write_file_header(&mut f, false, 65535);
    std::fs::write(&empty, f).unwrap();
    rpdk_eal::bus::probe_vdev_str(&format!("net_pcap3,rx_pcap={empty},infinite_rx=1")).unwrap();
    let port = Port::by_name("net_pcap3").unwrap();
    port.configure(1, 1, &EthConf::default()).unwrap();
    let e = port
        .rx_queue_setup(0, 0, None, &RxConf::default(), &pool)
        .unwrap_err()
        .to_string();
    assert!(e.contains("holds no packet to replay"), "{e}");
    assert_eq!(pool.in_use_count(), 0);
    pool.audit().unwrap();
    pool.free();
    drop(eal);
}

fn sysfs(ns: &NetNs, ifname: &str, attr: &str) -> String {
    ns.sh(&format!("cat /sys/class/net/{ifname}/{attr}"))
        .unwrap()
        .trim()
        .to_string()
}

/// The frames of ours (EtherType 0x88b5, tagged or not) among `got`.
fn ours(got: Vec<(Vec<u8>, u16)>) -> Vec<(Vec<u8>, u16)> {
    let tagged = [0x81, 0, 0xa0, 0x64, 0x88, 0xb5];
    got.into_iter()
        .filter(|(f, _)| f.len() >= 18 && (f[12..14] == [0x88, 0xb5] || f[12..18] == tagged))
        .collect()
}

#[test]
fn interfaces_over_a_veth_pair() {
    if !require_root("interfaces_over_a_veth_pair") {
        return;
    }
    let _s = serial();
    let ns = NetNs::new("pcapif").unwrap();
    ns.add_veth("pva", "pvb").unwrap();
    let _inside = ns.enter().unwrap();
    let e = init(&["net_pcap0,iface=nope0".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("iface 'nope0': no such interface"), "{e}");
    let eal = init(&[
        "net_pcap0,iface=pva,phy_mac=1".into(),
        "net_pcap1,rx_iface_in=pvb,tx_iface=pvb".into(),
    ])
    .unwrap();
    let (p0, p1) = (Port::get(0).unwrap(), Port::get(1).unwrap());
    assert_eq!(
        p0.mac_addr().to_string().to_lowercase(),
        sysfs(&ns, "pva", "address"),
        "phy_mac"
    );
    assert!(p0.info().if_index.is_some());
    let flags = |i: &str| u32::from_str_radix(&sysfs(&ns, i, "flags")[2..], 16).unwrap();
    assert_ne!(flags("pva") & 0x100, 0, "promiscuous while the port lives");
    let pool = PktmbufPool::create("pcap_if", 2048, 32, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    assert!(!p0.link().up, "down until started");
    setup(&p0, &pool);
    setup(&p1, &pool);
    assert!(p0.link().up && p1.link().up);
    let (mut rx0, mut tx0) = (p0.rx_queue(0).unwrap(), p0.tx_queue(0).unwrap());
    let (mut rx1, mut tx1) = (p1.rx_queue(0).unwrap(), p1.tx_queue(0).unwrap());
    let quiet = Duration::from_millis(100);

    // pvb -> pva: every frame arrives, byte for byte, VLAN tags included (the kernel takes them
    // out of the frame; the driver puts them back).
    let frames: Vec<(Vec<u8>, usize)> = (0..40)
        .map(|i| match i % 10 {
            3 => (tagged_frame(i, 64 + i * 35), 1),
            _ => (frame(i, 60 + i * 35), 1 + i % 2),
        })
        .collect();
    send_all(&mut tx1, &pool, &frames);
    let all = receive_all(&mut rx0, quiet);
    // Bytes as received, the tags put back (and whatever else the kernel sent on the link).
    let (s0, s1) = (p0.stats(), p1.stats());
    assert_eq!(
        (s0.ipackets, s0.ibytes),
        (
            all.len() as u64,
            all.iter().map(|(f, _)| f.len() as u64).sum()
        )
    );
    assert_eq!(
        (s1.opackets, s1.obytes),
        (40, frames.iter().map(|(f, _)| f.len() as u64).sum())
    );
    let got = ours(all);
    assert_eq!(got.len(), frames.len());
    for (i, ((g, _), (f, _))) in got.iter().zip(&frames).enumerate() {
        assert!(
            g == f,
            "frame {i}: {} bytes received, {} sent",
            g.len(),
            f.len()
        );
    }
    assert!(
        ours(receive_all(&mut rx1, quiet)).is_empty(),
        "rx_iface_in: not what pvb sent"
    );

    // pva -> pvb; net_pcap0 shares one socket, so it does not hear itself either.
    let frames: Vec<(Vec<u8>, usize)> = (100..120).map(|i| (frame(i, 1514), 3)).collect();
    send_all(&mut tx0, &pool, &frames);
    let got = ours(receive_all(&mut rx1, quiet));
    assert_eq!(got.len(), 20);
    for (i, ((g, _), (f, _))) in got.iter().zip(&frames).enumerate() {
        assert!(g == f, "frame {i}");
    }
    assert!(
        ours(receive_all(&mut rx0, quiet)).is_empty(),
        "iface: not its own frames"
    );

    // Jumbo frames arrive in chains; a frame over the MTU is dropped and counted.
    ns.sh("ip link set pva mtu 9000 && ip link set pvb mtu 9000")
        .unwrap();
    send_all(&mut tx0, &pool, &[(frame(200, 8000), 4)]);
    let got = ours(receive_all(&mut rx1, quiet));
    assert_eq!(
        got,
        [(frame(200, 8000), 4)],
        "8000 bytes: 2048 + 3 x 2176 in a chain"
    );
    ns.sh("ip link set pva mtu 1500 && ip link set pvb mtu 1500")
        .unwrap();
    let mut burst = MbufBurst::<4>::new();
    burst.push(mbuf(&pool, &frame(201, 3000), 2)).unwrap();
    burst.push(mbuf(&pool, &frame(202, 100), 1)).unwrap();
    let before = p0.stats();
    assert_eq!(tx0.tx_burst(&mut burst), 2);
    let after = p0.stats();
    assert_eq!(after.oerrors, 1, "the oversized frame");
    assert_eq!(
        (
            after.opackets - before.opackets,
            after.obytes - before.obytes
        ),
        (1, 100),
        "taken but dropped: not counted as sent"
    );
    let got = ours(receive_all(&mut rx1, quiet));
    assert_eq!(got, [(frame(202, 100), 1)]);

    // The pair vanishes: errors, no hang, no panic.
    ns.sh("ip link del pva").unwrap();
    let started = Instant::now();
    assert!(!p0.link().up && !p1.link().up);
    burst.push(mbuf(&pool, &frame(300, 100), 1)).unwrap();
    assert_eq!(tx0.tx_burst(&mut burst), 0, "given back");
    burst.clear();
    for _ in 0..10 {
        assert_eq!(rx0.rx_burst(&mut MbufBurst::<32>::new()), 0);
    }
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(p0.stats().oerrors, 2);
    drop((rx0, tx0, rx1, tx1));
    for p in [&p0, &p1] {
        p.stop().unwrap();
        p.close().unwrap();
    }
    pool.audit().unwrap();
    pool.free();
    drop(eal);
}

#[test]
fn unknown_keys_are_warnings_and_the_port_probes() {
    let _s = serial();
    let dir = TempDir::new("pcapukey");
    let out = dir.path().join("out.pcap");
    let logs = LogCapture::start();
    let eal = init(&[format!("net_pcap0,tx_pcap={},snaplen=64", out.display())]).unwrap();
    let text = logs.text();
    assert!(
        text.contains("net_pcap0: ignoring unknown key 'snaplen' (valid keys of net_pcap:"),
        "{text}"
    );
    assert_eq!(rpdk_ethdev::port_count(), 1);
    drop(logs);
    drop(eal);
}
