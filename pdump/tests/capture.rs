//! Capture in-process on a `net_ring` port looped onto itself: what is sent is captured once
//! outbound and once inbound; the pcapng file written from the capture ring is read back by
//! tcpdump (exact frames, count, nanosecond timestamps) and, when it is installed, tshark
//! (interface names and descriptions, directions, queues, the statistics' drop counts). Empty
//! pools and full rings are counted drops; after disable nothing is copied; both pools audit
//! clean.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rpdk_eal::Eal;
use rpdk_ethdev::{EthConf, Port, RxConf, TxConf};
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, MbufBurst, MbufRing, PktmbufPool};
use rpdk_pdump::pcapng::Direction;
use rpdk_pdump::{ALL_QUEUES, CaptureFlags, CaptureRequest, PcapngSink, Target};
use rpdk_ring::{RingFlags, Sc};
use rpdk_testsupport::serial;

fn init() -> Eal {
    let args = rpdk_testsupport::eal_args::<&str>("pdump-capture", &[]);
    rpdk_eal::init(args).unwrap().0
}

/// A port on ring `name` (what it sends it receives), 2 queue pairs, started.
fn loop_port(name: &str, pool: &PktmbufPool) -> Port {
    let ring = MbufRing::create(name, 1024, None, RingFlags::empty()).unwrap();
    let port = Port::get(rpdk_ethdev::drivers::net_ring::from_ring(&ring).unwrap()).unwrap();
    port.configure(1, 1, &EthConf::default()).unwrap();
    port.rx_queue_setup(0, 0, None, &RxConf::default(), pool)
        .unwrap();
    port.tx_queue_setup(0, 0, None, &TxConf::default()).unwrap();
    port.start().unwrap();
    port
}

/// A UDP-ish frame `i` of `len` bytes (distinct bytes everywhere).
fn frame(i: usize, len: usize) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|b| (b * 7 + i * 13) as u8).collect();
    f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[12..14].copy_from_slice(&[0x88, 0xb5]); // local experimental ethertype
    f[14..18].copy_from_slice(&(i as u32).to_be_bytes());
    f
}

/// Sends `frames` on the port's queue 0 and receives them back on its RX queue 0.
fn send_and_receive(port: &Port, pool: &PktmbufPool, frames: &[Vec<u8>]) {
    let mut tx = port.tx_queue(0).unwrap();
    let mut rx = port.rx_queue(0).unwrap();
    rpdk_testsupport::port::send_frames(&mut tx, pool, frames, Duration::from_secs(5));
    let got = rpdk_testsupport::port::receive_frames(
        std::slice::from_mut(&mut rx),
        frames.len(),
        Duration::from_secs(5),
        Duration::from_millis(20),
    );
    assert_eq!(got.len(), frames.len());
    for ((_, g), f) in got.iter().zip(frames) {
        assert_eq!(g, f);
    }
}

fn request(port: u16, flags: CaptureFlags, name: &str, snaplen: u32) -> CaptureRequest {
    CaptureRequest {
        target: Target::Port(port),
        queue: ALL_QUEUES,
        flags,
        ring: name.into(),
        pool: name.into(),
        snaplen,
    }
}

/// Drains `ring` into a new pcapng file at `path` with the port's two interfaces (rx first),
/// and the statistics; returns how many were written.
fn write_file(path: &Path, port: &Port, ring: &MbufRing, snaplen: u32) -> u64 {
    let mut sink = PcapngSink::create(path).unwrap();
    for dir in [Direction::Inbound, Direction::Outbound] {
        sink.add_interface(port.id(), dir, &rpdk_pdump::describe(port, dir, snaplen))
            .unwrap();
    }
    let c = ring.consumer::<Sc>().unwrap();
    let mut burst = MbufBurst::<32>::new();
    while c.dequeue_burst(&mut burst.view()) > 0 {
        for m in burst.iter() {
            sink.write_mbuf(m).unwrap();
        }
        burst.clear();
    }
    for dir in [Direction::Inbound, Direction::Outbound] {
        let s = rpdk_pdump::stats_dir(port.id(), dir).unwrap();
        sink.write_stats(port.id(), dir, &s, Some(0)).unwrap();
    }
    let n = sink.written();
    sink.into_inner().unwrap();
    n
}

/// What `tcpdump -r` reads: each packet's timestamp (as printed, nanoseconds) and bytes.
fn tcpdump(path: &Path) -> Vec<(String, Vec<u8>)> {
    let out = Command::new("tcpdump")
        .args(["-r", path.to_str().unwrap(), "-nn", "-xx", "-tt"])
        .arg("--time-stamp-precision=nano")
        .output()
        .expect("tcpdump is installed (scripts/install-deps.sh test)");
    assert!(
        out.status.success(),
        "tcpdump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut pkts: Vec<(String, Vec<u8>)> = Vec::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        if let Some(hex) = line.trim_start().strip_prefix("0x") {
            let (_, words) = hex.split_once(':').unwrap();
            let last = pkts.last_mut().expect("a header line first");
            for w in words.split_whitespace() {
                for i in (0..w.len()).step_by(2) {
                    last.1.push(u8::from_str_radix(&w[i..i + 2], 16).unwrap());
                }
            }
        } else {
            let ts = line.split_whitespace().next().unwrap_or("").to_string();
            pkts.push((ts, Vec::new()));
        }
    }
    pkts
}

/// tshark's fields of each packet, if tshark is installed.
fn tshark(path: &Path, fields: &[&str]) -> Option<Vec<Vec<String>>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-r", path.to_str().unwrap(), "-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = match cmd.output() {
        Ok(o) => o,
        Err(_) if !rpdk_testsupport::in_ci() => {
            eprintln!("skipped: tshark is not installed");
            return None;
        }
        Err(e) => panic!("tshark (scripts/install-deps.sh test): {e}"),
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect(),
    )
}

/// The interface statistics blocks of a pcapng file: (interface, ifrecv, ifdrop, osdrop).
fn statistics_blocks(file: &[u8]) -> Vec<(u32, u64, u64, u64)> {
    let word = |at: usize| u32::from_le_bytes(file[at..at + 4].try_into().unwrap());
    let mut out = Vec::new();
    let mut at = 0;
    while at < file.len() {
        let (ty, len) = (word(at), word(at + 4) as usize);
        if ty == 5 {
            let mut v = (word(at + 8), 0, 0, 0);
            let mut o = at + 20;
            while o < at + len - 4 {
                let code = u16::from_le_bytes(file[o..o + 2].try_into().unwrap());
                let olen = u16::from_le_bytes(file[o + 2..o + 4].try_into().unwrap()) as usize;
                if code == 0 {
                    break;
                }
                let val = |n: usize| u64::from_le_bytes(file[n..n + 8].try_into().unwrap());
                match code {
                    4 => v.1 = val(o + 4),
                    5 => v.2 = val(o + 4),
                    7 => v.3 = val(o + 4),
                    _ => {}
                }
                o += 4 + olen.div_ceil(4) * 4;
            }
            out.push(v);
        }
        at += len;
    }
    out
}

fn tmp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("rpdk-pdump-{}-{name}.pcapng", std::process::id()))
}

#[test]
fn both_directions_into_one_file_read_by_tcpdump_and_tshark() {
    let _s = serial();
    let _eal = init();
    let pool = PktmbufPool::create("cap_port", 1023, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let port = loop_port("cap_loop", &pool);
    let ring = MbufRing::create("cap_both", 1024, None, RingFlags::SC_DEQ).unwrap();
    let cap = PktmbufPool::create("cap_both", 1023, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let frames: Vec<Vec<u8>> = (0..100).map(|i| frame(i, 60 + i * 14)).collect();
    let before = rpdk_pdump::pcapng::now_ns();
    rpdk_pdump::enable(&request(port.id(), CaptureFlags::RXTX, "cap_both", 0)).unwrap();
    assert_eq!(rpdk_pdump::active_count(), 2);
    let again = rpdk_pdump::enable(&request(port.id(), CaptureFlags::RX, "cap_both", 0));
    assert!(
        matches!(again, Err(rpdk_pdump::Error::AlreadyEnabled { .. })),
        "{again:?}"
    );
    send_and_receive(&port, &pool, &frames);
    rpdk_pdump::disable(&Target::Port(port.id()), ALL_QUEUES, CaptureFlags::RXTX).unwrap();
    assert_eq!(rpdk_pdump::active_count(), 0);
    assert!(rpdk_pdump::disable(&Target::Port(port.id()), ALL_QUEUES, CaptureFlags::RX).is_err());
    let after = rpdk_pdump::pcapng::now_ns();
    // Off: nothing more is copied.
    send_and_receive(&port, &pool, &frames[..10]);
    assert_eq!(ring.count(), 200);
    let s = rpdk_pdump::stats(port.id()).unwrap();
    assert_eq!((s.accepted, s.nombuf, s.ringfull), (200, 0, 0));

    let path = tmp("both");
    assert_eq!(write_file(&path, &port, &ring, 0), 200);
    assert_eq!(cap.in_use_count(), 0, "every capture mbuf is back");
    cap.audit().unwrap();
    pool.audit().unwrap();

    // tcpdump: each frame twice (sent, then received), the bytes exact, in time order.
    let pkts = tcpdump(&path);
    assert_eq!(pkts.len(), 200);
    for (i, f) in frames.iter().enumerate() {
        let tx = pkts
            .iter()
            .position(|p| &p.1 == f)
            .expect("sent frame captured");
        let n = pkts.iter().filter(|p| &p.1 == f).count();
        assert_eq!(n, 2, "frame {i} once per direction");
        assert!(tx < 200);
    }
    for (ts, _) in &pkts {
        let (sec, ns) = ts.split_once('.').unwrap();
        assert_eq!(ns.len(), 9, "nanosecond timestamps: {ts}");
        let t = sec.parse::<u64>().unwrap() * 1_000_000_000 + ns.parse::<u64>().unwrap();
        assert!(
            t + 2_000_000 >= before && t <= after + 2_000_000,
            "{t} not in [{before}, {after}]"
        );
    }
    let fields = [
        "frame.interface_name",
        "frame.interface_description",
        "frame.packet_flags_direction",
        "frame.len",
        "frame.cap_len",
    ];
    if let Some(rows) = tshark(&path, &fields) {
        assert_eq!(rows.len(), 200);
        let ifname = format!("rpdk:{}", port.id());
        let inbound = rows.iter().filter(|r| r[2] == "0x00000001").count();
        let outbound = rows.iter().filter(|r| r[2] == "0x00000002").count();
        assert_eq!((inbound, outbound), (100, 100), "{:?}", &rows[..2]);
        for r in &rows {
            assert_eq!(r[0], ifname);
            let dir = if r[2] == "0x00000001" { "rx" } else { "tx" };
            assert_eq!(
                r[1],
                format!("rpdk port {} ({}) {dir}", port.id(), port.name())
            );
            assert_eq!(r[3], r[4]);
        }
    }
    std::fs::remove_file(&path).unwrap();
    ring.free().unwrap();
    cap.free();
    port.stop().unwrap();
    port.close().unwrap();
    pool.free();
}

#[test]
fn snaplen_cuts_and_keeps_the_original_length() {
    let _s = serial();
    let _eal = init();
    let pool = PktmbufPool::create("snap_port", 1023, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let port = loop_port("snap_loop", &pool);
    let ring = MbufRing::create("snap", 256, None, RingFlags::SC_DEQ).unwrap();
    let cap = PktmbufPool::create("snap", 255, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    rpdk_pdump::enable(&request(port.id(), CaptureFlags::RX, "snap", 64)).unwrap();
    let frames: Vec<Vec<u8>> = (0..20).map(|i| frame(i, 60 + i * 50)).collect();
    send_and_receive(&port, &pool, &frames);
    rpdk_pdump::disable(&Target::Port(port.id()), ALL_QUEUES, CaptureFlags::RX).unwrap();
    let path = tmp("snap");
    assert_eq!(write_file(&path, &port, &ring, 64), 20);
    let pkts = tcpdump(&path);
    assert_eq!(pkts.len(), 20);
    for (p, f) in pkts.iter().zip(&frames) {
        assert_eq!(p.1, f[..64.min(f.len())], "the first 64 bytes");
    }
    if let Some(rows) = tshark(&path, &["frame.len", "frame.cap_len"]) {
        for (r, f) in rows.iter().zip(&frames) {
            assert_eq!(r[0], f.len().to_string(), "original length");
            assert_eq!(r[1], 64.min(f.len()).to_string());
        }
    }
    std::fs::remove_file(&path).unwrap();
    cap.audit().unwrap();
    ring.free().unwrap();
    cap.free();
    port.stop().unwrap();
    port.close().unwrap();
    pool.free();
}

/// A ring of 16 slots and a pool of 40 mbufs: of 100 frames captured in both directions
/// (in bursts of 32), the ring takes 15, and the rest is lost to the full ring or the empty
/// pool, each counted, and the file's statistics say so.
#[test]
fn full_ring_and_empty_pool_are_counted_drops() {
    let _s = serial();
    let _eal = init();
    let pool = PktmbufPool::create("drop_port", 1023, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let port = loop_port("drop_loop", &pool);
    let ring = MbufRing::create("drops", 16, None, RingFlags::SC_DEQ).unwrap();
    let cap = PktmbufPool::create("drops", 40, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    rpdk_pdump::enable(&request(port.id(), CaptureFlags::RXTX, "drops", 0)).unwrap();
    let frames: Vec<Vec<u8>> = (0..100).map(|i| frame(i, 64)).collect();
    send_and_receive(&port, &pool, &frames);
    rpdk_pdump::disable(&Target::Port(port.id()), ALL_QUEUES, CaptureFlags::RXTX).unwrap();
    let s = rpdk_pdump::stats(port.id()).unwrap();
    assert_eq!(ring.count(), 15);
    assert_eq!(s.seen(), 200, "{s:?}");
    assert_eq!(s.accepted - s.ringfull, 15, "{s:?}");
    assert!(s.nombuf > 0 && s.ringfull > 0, "{s:?}");
    assert_eq!(s.dropped(), 185);
    let path = tmp("drops");
    assert_eq!(write_file(&path, &port, &ring, 0), 15);
    assert_eq!(tcpdump(&path).len(), 15);
    assert_eq!(cap.in_use_count(), 0);
    cap.audit().unwrap();
    pool.audit().unwrap();
    // The statistics blocks: the drops per interface (tshark 4.0 does not print them; they
    // are read here from the file's blocks). Interface 0 is rx, 1 is tx.
    let rx = rpdk_pdump::stats_dir(port.id(), Direction::Inbound).unwrap();
    let tx = rpdk_pdump::stats_dir(port.id(), Direction::Outbound).unwrap();
    let isbs = statistics_blocks(&std::fs::read(&path).unwrap());
    assert_eq!(isbs.len(), 2);
    assert_eq!(isbs[0], (0, rx.seen(), rx.dropped(), 0));
    assert_eq!(isbs[1], (1, tx.seen(), tx.dropped(), 0));
    assert_eq!(rx.seen() + tx.seen(), 200);
    if let Ok(out) = Command::new("capinfos").arg("-I").arg(&path).output() {
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text.matches("Number of stat entries = 1").count(),
            2,
            "{text}"
        );
    }
    std::fs::remove_file(&path).unwrap();
    ring.free().unwrap();
    cap.free();
    port.stop().unwrap();
    port.close().unwrap();
    pool.free();
}

#[test]
fn bad_requests_are_errors() {
    let _s = serial();
    let _eal = init();
    let pool = PktmbufPool::create("bad_port", 255, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let port = loop_port("bad_loop", &pool);
    let sp = MbufRing::create("bad_sp", 64, None, RingFlags::SP_ENQ).unwrap();
    let _tiny = PktmbufPool::create("bad_tiny", 63, 0, 0, 64, None).unwrap();
    let _ok = PktmbufPool::create("bad_ok", 63, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let _mc = MbufRing::create("bad_ok", 64, None, RingFlags::SC_DEQ).unwrap();
    let err = |r: CaptureRequest| rpdk_pdump::enable(&r).unwrap_err().to_string();
    let mut r = request(port.id(), CaptureFlags::RX, "bad_ok", 0);
    r.ring = "nope".into();
    assert!(err(r.clone()).contains("capture ring 'nope'"));
    r.ring = "bad_sp".into();
    assert!(err(r.clone()).contains("not multi-producer"));
    r.ring = "bad_ok".into();
    r.pool = "nope".into();
    assert!(err(r.clone()).contains("no pktmbuf pool 'nope'"));
    r.pool = "bad_tiny".into();
    assert!(err(r.clone()).contains("at least"));
    r.pool = "bad_ok".into();
    r.queue = 3;
    assert!(err(r.clone()).contains("rx queue 3 does not exist"));
    r.queue = ALL_QUEUES;
    r.target = Target::Device("net_nothing".into());
    assert!(err(r.clone()).contains("net_nothing"));
    r.target = Target::Port(31);
    assert!(err(r.clone()).contains("31"));
    assert_eq!(rpdk_pdump::active_count(), 0);
    drop(sp);
    port.stop().unwrap();
    port.close().unwrap();
}

/// The primary's side of the `mp_pdump` action, run in-process: a request's bytes turn capture
/// on and off and the reply describes the port; a refused one comes back as its error.
#[test]
fn request_handler_enables_and_describes_the_port() {
    use rpdk_pdump::request::{Op, decode_reply, handle};
    let _s = serial();
    let _eal = init();
    let pool = PktmbufPool::create("ipc_port", 1023, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let port = loop_port("ipc_loop", &pool);
    let ring = MbufRing::create("ipc", 256, None, RingFlags::SC_DEQ).unwrap();
    let cap = PktmbufPool::create("ipc", 255, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let mut req = request(port.id(), CaptureFlags::TX, "ipc", 0);
    req.target = Target::Device(port.name().to_string());
    let reply = handle(&Op::Enable(req.clone()).encode().unwrap());
    let d = decode_reply(&reply).unwrap();
    assert_eq!((d.id, d.name.as_str()), (port.id(), port.name()));
    assert_eq!(d.mac, port.mac_addr().0);
    let e = decode_reply(&handle(&Op::Enable(req).encode().unwrap())).unwrap_err();
    assert!(e.to_string().contains("already being captured"), "{e}");
    let frames: Vec<Vec<u8>> = (0..10).map(|i| frame(i, 100)).collect();
    send_and_receive(&port, &pool, &frames);
    let off = Op::Disable(Target::Port(port.id()), ALL_QUEUES, CaptureFlags::TX);
    decode_reply(&handle(&off.encode().unwrap())).unwrap();
    assert_eq!(ring.count(), 10);
    assert_eq!(rpdk_pdump::active_count(), 0);
    ring.consumer::<Sc>().unwrap().drain();
    cap.audit().unwrap();
    ring.free().unwrap();
    cap.free();
    port.stop().unwrap();
    port.close().unwrap();
    pool.free();
}
