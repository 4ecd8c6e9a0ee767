//! The software stage's queues and RSS on drivers with one device queue: `net_af_packet` with
//! `qpairs=1` over a veth pair, `net_tap`, and `net_pcap` reading a file, each configured with
//! 4 RX queues and `RTE_ETH_MQ_RX_RSS`. Frames of many UDP flows reach all 4 queues, each flow
//! one queue, the queue of every frame the one DPDK's Toeplitz hash (default key) and the
//! redirection table give; RETA and key updates apply to the next burst; a queue nobody polls
//! overflows into `imissed` without holding the others. Root only for the kernel interfaces;
//! every sending loop is bounded in count and time.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rpdk_eal::Eal;
use rpdk_ethdev::rss::{self, DEFAULT_RSS_KEY};
use rpdk_ethdev::{EthConf, Port, RssConf, RssHf, RxConf, RxMqMode, RxQueue, TxConf};
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, MbufBurst, OlFlags, PktmbufPool};
use rpdk_testsupport::netns::NetNs;
use rpdk_testsupport::raw::RawSocket as Raw;
use rpdk_testsupport::{eal_args, require_root, serial};

const DEADLINE: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(100);

fn eal(vdevs: &[&str]) -> Eal {
    rpdk_eal::init(eal_args("stage-rss-test", vdevs)).unwrap().0
}

fn rss_conf() -> EthConf {
    EthConf {
        rx_mq_mode: RxMqMode::Rss,
        rss: RssConf {
            key: None,
            hf: RssHf::IP | RssHf::UDP,
        },
        ..EthConf::default()
    }
}

/// 4 RX queues (rings of `nb_desc`) and `nb_tx` TX queues, started.
fn start(port: &Port, pool: &PktmbufPool, nb_desc: u16, nb_tx: u16) {
    port.configure(4, nb_tx, &rss_conf()).unwrap();
    for q in 0..4 {
        port.rx_queue_setup(q, nb_desc, None, &RxConf::default(), pool)
            .unwrap();
    }
    for q in 0..nb_tx {
        port.tx_queue_setup(q, 0, None, &TxConf::default()).unwrap();
    }
    port.start().unwrap();
}

/// An Ethernet/IPv4/UDP frame of flow `flow` (its source address and port) carrying `seq`.
fn udp_frame(seq: u32, flow: u16) -> Vec<u8> {
    let mut f = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 0x0a], [2, 0, 0, 0, 0, 0x0b])
        .ipv4([10, 1, (flow >> 8) as u8, flow as u8], [10, 2, 0, 1], 64)
        .udp(1024 + flow, 4789)
        .write(&mut f, &seq.to_be_bytes())
        .unwrap();
    f
}

/// Whether `frame` is one of [`udp_frame`]'s.
fn ours(frame: &[u8]) -> bool {
    frame.len() >= 46 && frame[12..14] == [8, 0] && frame[23] == 17 && frame[36..38] == [0x12, 0xb5]
}

fn seq_of(frame: &[u8]) -> u32 {
    u32::from_be_bytes(frame[42..46].try_into().unwrap())
}

fn flow_of(frame: &[u8]) -> u16 {
    u16::from_be_bytes([frame[34], frame[35]]) - 1024
}

/// The Toeplitz input of a frame of [`udp_frame`]: addresses and ports, as DPDK's
/// `rte_thash_tuple` for UDP/IPv4.
fn tuple(frame: &[u8]) -> [u8; 12] {
    let mut t = [0u8; 12];
    t[..8].copy_from_slice(&frame[26..34]);
    t[8..].copy_from_slice(&frame[34..38]);
    t
}

/// A frame as received: its queue, bytes and RSS hash.
struct Got {
    queue: usize,
    data: Vec<u8>,
    hash: Option<u32>,
}

/// Polls `queues` (all of them, or only those in `only`) until `n` frames came or the deadline
/// passed, then a little longer for extra ones.
fn receive(queues: &mut [RxQueue], only: &[usize], n: usize) -> Vec<Got> {
    let mut got = Vec::new();
    let mut burst = MbufBurst::<32>::new();
    let deadline = Instant::now() + DEADLINE;
    let mut quiet_until = None;
    loop {
        let now = Instant::now();
        if got.len() >= n && quiet_until.is_none() {
            quiet_until = Some(now + QUIET);
        }
        if now > deadline || quiet_until.is_some_and(|q| now > q) {
            return got;
        }
        for (q, rxq) in queues.iter_mut().enumerate() {
            if !only.is_empty() && !only.contains(&q) {
                continue;
            }
            rxq.rx_burst(&mut burst);
            // The test's frames only (a kernel interface sends its own, IPv6 ones).
            got.extend(burst.iter().filter(|m| ours(m.data())).map(|m| {
                Got {
                    queue: q,
                    data: m.data().to_vec(),
                    hash: m
                        .ol_flags()
                        .contains(OlFlags::RX_RSS_HASH)
                        .then(|| m.rss_hash()),
                }
            }));
            burst.clear();
        }
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// Checks that each frame came on the queue `reta` and `key` give, with its hash, that every
/// flow kept one queue and that all 4 queues had some; returns the queue of each flow.
fn check_spread(got: &[Got], key: &[u8], reta: &[u16], sent: usize) -> HashMap<u16, usize> {
    let mut seqs: Vec<u32> = got.iter().map(|g| seq_of(&g.data)).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!((got.len(), seqs.len()), (sent, sent), "each frame once");
    let mut flows = HashMap::new();
    for g in got {
        let hash = rss::toeplitz(&tuple(&g.data), key);
        assert_eq!(
            hash,
            rss::hash_frame(&g.data, RssHf::UDP, key).unwrap(),
            "frame and tuple agree"
        );
        assert_eq!(g.hash, Some(hash), "the mbuf carries the hash");
        let want = reta[hash as usize % reta.len()] as usize;
        assert_eq!(g.queue, want, "seq {}: RETA[{:#x}]", seq_of(&g.data), hash);
        let q = *flows.entry(flow_of(&g.data)).or_insert(g.queue);
        assert_eq!(q, g.queue, "a flow keeps its queue");
    }
    flows
}

/// The test over a live interface: `send_on` is where the kernel's frames for the port go out.
fn live(port: &Port, pool: &PktmbufPool, send_on: &str) {
    let mut rxqs: Vec<RxQueue> = (0..4).map(|q| port.rx_queue(q).unwrap()).collect();
    let raw = Raw::open(send_on);
    const FLOWS: u16 = 64;
    let burst = |first: u32, n: u32| {
        let frames: Vec<Vec<u8>> = (first..first + n)
            .map(|i| udp_frame(i, i as u16 % FLOWS))
            .collect();
        for f in &frames {
            raw.send(f);
        }
        frames.len()
    };

    // DPDK's default key and the default RETA (entry i to queue i % 4).
    let reta = port.rss_reta_query().unwrap();
    assert_eq!((reta.len(), &reta[..5]), (128, &[0u16, 1, 2, 3, 0][..]));
    let sent = burst(0, 256);
    let got = receive(&mut rxqs, &[], sent);
    let flows = check_spread(&got, &DEFAULT_RSS_KEY, &reta, sent);
    for q in 0..4 {
        assert!(flows.values().any(|&f| f == q), "queue {q} got no flow");
    }

    // Every entry to queue 2: the next burst is all on queue 2.
    let all2: Vec<(u16, u16)> = (0..128).map(|i| (i, 2)).collect();
    port.rss_reta_update(&all2).unwrap();
    assert!(port.rss_reta_query().unwrap().iter().all(|&q| q == 2));
    let sent = burst(1000, 64);
    let got = receive(&mut rxqs, &[], sent);
    check_spread(&got, &DEFAULT_RSS_KEY, &[2; 128], sent);

    // Back to the default table, and a new key.
    let default: Vec<(u16, u16)> = (0..128).map(|i| (i, i % 4)).collect();
    port.rss_reta_update(&default).unwrap();
    let key: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
    port.rss_hash_update(&RssConf {
        key: Some(key.clone()),
        hf: RssHf::IP | RssHf::UDP,
    })
    .unwrap();
    assert_eq!(port.rss_hash_conf_get().unwrap().key, Some(key.clone()));
    let sent = burst(2000, 128);
    let got = receive(&mut rxqs, &[], sent);
    check_spread(&got, &key, &port.rss_reta_query().unwrap(), sent);
    let before = port.stats();

    // Only queue 0 is polled: the others' rings (256 slots from each device queue) overflow,
    // counted; queue 0 gets every frame of its flows all the same.
    let frames: Vec<Vec<u8>> = (3000..8000)
        .map(|i| udp_frame(i, i as u16 % FLOWS))
        .collect();
    let for_q0 = frames
        .iter()
        .filter(|f| {
            let h = rss::toeplitz(&tuple(f), &key);
            default[h as usize % 128].1 == 0
        })
        .count();
    // Sent in chunks while queue 0 is polled, so that the kernel's queues never fill.
    let mut got = Vec::new();
    for chunk in frames.chunks(250) {
        for f in chunk {
            raw.send(f);
        }
        got.extend(receive(&mut rxqs, &[0], 0));
    }
    got.extend(receive(&mut rxqs, &[0], for_q0 - got.len().min(for_q0)));
    assert_eq!(got.len(), for_q0, "queue 0 is not held by the others");
    let s = port.stats();
    assert!(
        s.imissed > before.imissed,
        "overflow counted: {before:?} -> {s:?}"
    );
    // The others still hold what fit: drained, nothing leaks.
    let rest = receive(&mut rxqs, &[1, 2, 3], 0);
    let missed = s.imissed - before.imissed;
    // (The interface's own frames, IPv6 ones, may overflow too: a few more.)
    let accounted = for_q0 + rest.len() + missed as usize;
    assert!(
        (frames.len()..frames.len() + 16).contains(&accounted),
        "every frame delivered or counted: {accounted} of {}",
        frames.len()
    );
    drop(rxqs);
    port.stop().unwrap();
    port.close().unwrap();
    assert_eq!(pool.in_use_count(), 0);
    pool.audit().unwrap();
}

#[test]
fn af_packet_with_one_kernel_queue_spreads_over_four() {
    if !require_root("af_packet_with_one_kernel_queue_spreads_over_four") {
        return;
    }
    let _s = serial();
    let ns = NetNs::new("srss").unwrap();
    ns.add_veth("sra", "srb").unwrap();
    let _in = ns.enter().unwrap();
    let _eal = eal(&["net_af_packet0,iface=sra,qpairs=1"]);
    let pool = PktmbufPool::create("srss_pool", 4095, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let port = Port::get(0).unwrap();
    assert_eq!(port.device_info().max_rx_queues, 1);
    let info = port.info();
    assert_eq!(
        (info.reta_size, info.hash_key_size),
        (128, 40),
        "the stage's RSS"
    );
    start(&port, &pool, 256, 1);
    live(&port, &pool, "srb");
    pool.free();
}

#[test]
fn tap_spreads_over_four_queues() {
    if !require_root("tap_spreads_over_four_queues") {
        return;
    }
    let _s = serial();
    let ns = NetNs::new("stap").unwrap();
    let _in = ns.enter().unwrap();
    let _eal = eal(&["net_tap0,iface=rsstap0"]);
    let pool = PktmbufPool::create("stap_pool", 4095, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let port = Port::get(0).unwrap();
    // Four TAP queues, which the kernel fills by its own flow hash: with RSS asked, the stage
    // spreads by the RETA.
    start(&port, &pool, 256, 4);
    let deadline = Instant::now() + DEADLINE;
    while !port.link().up {
        assert!(Instant::now() < deadline, "tap link up");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Frames sent on the interface by a packet socket are what the port receives.
    live(&port, &pool, "rsstap0");
    pool.free();
}

/// A pcap file (microsecond, Ethernet) of `frames`.
fn pcap_file(path: &str, frames: &[Vec<u8>]) {
    let mut out = Vec::new();
    for w in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        if w == 0x0004_0002 {
            out.extend_from_slice(&2u16.to_le_bytes());
            out.extend_from_slice(&4u16.to_le_bytes());
        } else {
            out.extend_from_slice(&w.to_le_bytes());
        }
    }
    for (i, f) in frames.iter().enumerate() {
        for w in [i as u32, 0, f.len() as u32, f.len() as u32] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(f);
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn pcap_file_input_spreads_over_four_queues() {
    let _s = serial();
    let dir = std::env::temp_dir().join(format!("rpdk-stage-rss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("flows.pcap").to_string_lossy().into_owned();
    const N: u32 = 400;
    let frames: Vec<Vec<u8>> = (0..N).map(|i| udp_frame(i, i as u16 % 50)).collect();
    pcap_file(&path, &frames);
    let _eal = eal(&[&format!("net_pcap0,rx_pcap={path}")]);
    let pool = PktmbufPool::create("spcap_pool", 2047, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let port = Port::get(0).unwrap();
    start(&port, &pool, 512, 1);
    let mut rxqs: Vec<RxQueue> = (0..4).map(|q| port.rx_queue(q).unwrap()).collect();
    let got = receive(&mut rxqs, &[], N as usize);
    let reta = port.rss_reta_query().unwrap();
    let flows = check_spread(&got, &DEFAULT_RSS_KEY, &reta, N as usize);
    for q in 0..4 {
        assert!(flows.values().any(|&f| f == q), "queue {q} got no flow");
    }
    let s = port.stats();
    assert_eq!((s.ipackets, s.imissed), (N as u64, 0));
    let per_queue: u64 = s.q_ipackets[..4].iter().sum();
    assert_eq!(per_queue, N as u64, "each queue counts what it delivered");
    drop(rxqs);
    port.stop().unwrap();
    port.close().unwrap();
    pool.audit().unwrap();
    pool.free();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_toeplitz_hash_matches_dpdks_published_vectors() {
    // DPDK's test_thash.c (the Microsoft RSS verification suite), IPv4 with ports and IPv6.
    let v4 = [
        (
            [66, 9, 149, 187],
            [161, 142, 100, 80],
            2794u16,
            1766u16,
            0x51cc_c178u32,
        ),
        (
            [199, 92, 111, 2],
            [65, 69, 140, 83],
            14230,
            4739,
            0xc626_b0ea,
        ),
        (
            [24, 19, 198, 95],
            [12, 22, 207, 184],
            12898,
            38024,
            0x5c2b_394a,
        ),
        (
            [38, 27, 205, 30],
            [209, 142, 163, 6],
            48228,
            2217,
            0xafc7_327f,
        ),
        (
            [153, 39, 163, 191],
            [202, 188, 127, 2],
            44251,
            1303,
            0x10e8_28a2,
        ),
    ];
    for (src, dst, sp, dp, want) in v4 {
        let mut f = Vec::new();
        etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4(src, dst, 64)
            .udp(sp, dp)
            .write(&mut f, &[0; 8])
            .unwrap();
        assert_eq!(
            rss::hash_frame(&f, RssHf::UDP, &DEFAULT_RSS_KEY),
            Some(want)
        );
    }
    let v6: [(&str, &str, u16, u16, u32); 3] = [
        (
            "3ffe:2501:200:1fff::7",
            "3ffe:2501:200:3::1",
            2794,
            1766,
            0x4020_7d3d,
        ),
        (
            "3ffe:501:8::260:97ff:fe40:efab",
            "ff02::1",
            14230,
            4739,
            0xdde5_1bbf,
        ),
        (
            "3ffe:1900:4545:3:200:f8ff:fe21:67cf",
            "fe80::200:f8ff:fe21:67cf",
            44251,
            38024,
            0x02d1_feef,
        ),
    ];
    for (src, dst, sp, dp, want) in v6 {
        let a: std::net::Ipv6Addr = src.parse().unwrap();
        let b: std::net::Ipv6Addr = dst.parse().unwrap();
        let mut f = Vec::new();
        etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv6(a.octets(), b.octets(), 64)
            .udp(sp, dp)
            .write(&mut f, &[0; 8])
            .unwrap();
        assert_eq!(
            rss::hash_frame(&f, RssHf::UDP, &DEFAULT_RSS_KEY),
            Some(want),
            "{src}"
        );
    }
}
