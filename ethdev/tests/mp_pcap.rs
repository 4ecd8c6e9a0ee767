//! `net_pcap` queues driven from secondary processes, for real: the test binary starts itself
//! again as a primary with three `net_pcap` ports and as secondaries that take their queues.
//!
//! - Port 0 reads a classic pcap file and a pcapng file of the same 200 frames (two RX queues)
//!   and writes two pcap files (two TX queues); every process that holds the queues forwards
//!   RX queue q to TX queue q: the primary 30 records of each, a secondary 70, the primary 40
//!   more, a second secondary 20; that one then writes frames of its own to TX queue 1 until it
//!   is killed with SIGKILL. The test appends a whole record and half of one to the first
//!   output file, as a kill inside a write leaves them; the primary takes the queues back,
//!   keeps the whole records after what the queue recorded, cuts both files after the last of
//!   them and forwards the rest. Each output file then holds every input record once, in
//!   order, byte for byte (read back with the crate's reader and `tcpdump -r`), with the
//!   killed process's whole records in the middle.
//! - Port 1 replays a file of 7 frames (`infinite_rx`): each process goes on with the frame
//!   after the last one its predecessor received.
//! - Port 2 is an interface (`iface=`, on a veth pair in a namespace): the primary and a
//!   secondary receive what the test sends into the peer and send frames out that the peer
//!   receives byte for byte.
//! - Port 3 reads the 7 frames once: a secondary reads them all, the primary restarts the port
//!   and the secondary reads them again from the first; the primary, taking the queue back,
//!   is at the end of the file.
//!
//! Every mbuf is back in the primary's pool (no cache) at the end, the killed one's included.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rpdk_ethdev::drivers::pcap::format::{Reader, write_file_header, write_record_header};
use rpdk_ethdev::{EthConf, Port, RxConf, RxQueue, TxConf, TxQueue};
use rpdk_mbuf::{MbufBurst, PktmbufPool};
use rpdk_testsupport::netns::NetNs;
use rpdk_testsupport::process::{
    Interactive, child_line, eal_args, eal_args_with_vdevs, field, role,
};
use rpdk_testsupport::raw::RawSocket;
use rpdk_testsupport::tcpdump;
use rpdk_testsupport::tempdir::TempDir;
use rpdk_testsupport::unique_prefix;

/// The processes' program name.
const NAME: &str = "mppcap";
const DIR_ENV: &str = "RPDK_MPPCAP_DIR";
const POOL: &str = "mppcap_pool";
const POOL_SIZE: u32 = 511;
/// Frames of the input files.
const N: usize = 200;
/// Records of each input file forwarded by: the primary, a secondary, the primary again, the
/// secondary that is killed; the primary forwards the rest.
const P1: usize = 30;
const S1: usize = 70;
const P2: usize = 40;
const CR: usize = 20;
const REST: usize = N - P1 - S1 - P2 - CR;
/// Frames of the replayed file, and how many each process receives of it.
const REPLAY: usize = 7;
const REPLAYED: usize = 25;
/// The killed secondary's own frames: a tag, their length, a burst.
const CRASH_TAG: u8 = 9;
const CRASH_LEN: usize = 100;
const CRASH_BURST: usize = 8;
/// The half record appended to the first output file: a header saying 100 bytes, and 37.
const TORN: usize = 16 + 37;
const VETH: (&str, &str) = ("rpdktmpq0", "rpdktmpq1");
const ETHERTYPE: u16 = 0x88b5;

/// Frame `i` of tag `tag`: `len` bytes, our EtherType, the tag, the number, a pattern.
fn frame(tag: u8, i: usize, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0xbb]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0xaa]);
    f[12..14].copy_from_slice(&ETHERTYPE.to_be_bytes());
    f[14] = tag;
    f[15..19].copy_from_slice(&(i as u32).to_be_bytes());
    for (j, b) in f[19..].iter_mut().enumerate() {
        *b = (i * 31 + j * 7 + tag as usize) as u8;
    }
    f
}

/// Input frame `i`: 60 to 1514 bytes, every 50th 3000 (two mbufs).
fn input(i: usize) -> Vec<u8> {
    let len = if i % 50 == 49 {
        3000
    } else {
        60 + (i * 37) % 1455
    };
    frame(0, i, len)
}

fn replay_frame(i: usize) -> Vec<u8> {
    frame(1, i, 60 + i)
}

/// The tag and number of one of our frames.
fn ours(f: &[u8]) -> Option<(u8, usize)> {
    (f.len() >= 19 && f[12..14] == ETHERTYPE.to_be_bytes()).then(|| {
        (
            f[14],
            u32::from_be_bytes([f[15], f[16], f[17], f[18]]) as usize,
        )
    })
}

fn pcap_file(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut f = Vec::new();
    write_file_header(&mut f, true, 65535);
    for (i, d) in frames.iter().enumerate() {
        write_record_header(
            &mut f,
            true,
            1_700_000_000_000_000_000 + i as u64,
            d.len() as u32,
            d.len() as u32,
        );
        f.extend_from_slice(d);
    }
    f
}

/// A pcapng file: a section, an interface, a block the reader skips, the frames as enhanced
/// packet blocks, and a second interface description half way.
fn pcapng_file(frames: &[Vec<u8>]) -> Vec<u8> {
    fn block(out: &mut Vec<u8>, btype: u32, body: &[u8]) {
        let mut body = body.to_vec();
        body.resize(body.len().div_ceil(4) * 4, 0);
        let len = 12 + body.len() as u32;
        out.extend(btype.to_le_bytes());
        out.extend(len.to_le_bytes());
        out.extend(body);
        out.extend(len.to_le_bytes());
    }
    let idb = [1u16.to_le_bytes(), [0, 0]]
        .concat()
        .into_iter()
        .chain(0u32.to_le_bytes())
        .collect::<Vec<u8>>();
    let mut out = Vec::new();
    let shb: Vec<u8> = [
        0x1a2b_3c4du32.to_le_bytes().as_slice(),
        &1u16.to_le_bytes(),
        &0u16.to_le_bytes(),
        &(-1i64).to_le_bytes(),
    ]
    .concat();
    block(&mut out, 0x0a0d_0d0a, &shb);
    block(&mut out, 1, &idb);
    block(&mut out, 0x0000_0bad, b"a block to skip");
    for (i, d) in frames.iter().enumerate() {
        if i == frames.len() / 2 {
            block(&mut out, 1, &idb);
        }
        let iface = u32::from(i >= frames.len() / 2);
        let ts = 1_700_000_000_000_000u64 + i as u64;
        let mut b = Vec::new();
        b.extend(iface.to_le_bytes());
        b.extend(((ts >> 32) as u32).to_le_bytes());
        b.extend((ts as u32).to_le_bytes());
        b.extend((d.len() as u32).to_le_bytes());
        b.extend((d.len() as u32).to_le_bytes());
        b.extend(d);
        block(&mut out, 6, &b);
    }
    out
}

/// Every record of a capture file: (wire length, bytes).
fn records(path: &Path) -> Vec<(u32, Vec<u8>)> {
    let f = std::fs::File::open(path).unwrap();
    let mut r = Reader::new(f, path.to_str().unwrap()).unwrap();
    let mut out = Vec::new();
    while let Some(p) = r.next_packet().unwrap_or_else(|e| panic!("{e}")) {
        out.push((p.orig_len, p.data.to_vec()));
    }
    out
}

/// How many packets `tcpdump -r` lists, none of them cut short; `None` without tcpdump.
fn tcpdump_count(path: &Path) -> Option<usize> {
    let (n, err) = tcpdump::list(path)?;
    assert!(
        !err.contains("truncated"),
        "tcpdump -r {}: {err}",
        path.display()
    );
    Some(n)
}

#[test]
fn secondaries_drive_pcap_queues_and_a_killed_one_leaves_whole_records() {
    if !rpdk_testsupport::require_root("mp_pcap") {
        return;
    }
    let prefix = unique_prefix("mppcap");
    let dir = TempDir::new("mppcap");
    let env = [(DIR_ENV, dir.path().to_str().unwrap())];
    let inputs: Vec<_> = (0..N).map(input).collect();
    std::fs::write(dir.path().join("in.pcap"), pcap_file(&inputs)).unwrap();
    std::fs::write(dir.path().join("in.pcapng"), pcapng_file(&inputs)).unwrap();
    let replay: Vec<_> = (0..REPLAY).map(replay_frame).collect();
    std::fs::write(dir.path().join("replay.pcap"), pcap_file(&replay)).unwrap();

    let ns = NetNs::new("mppcap").unwrap();
    ns.add_veth(VETH.0, VETH.1).unwrap();
    let _in_ns = ns.enter().unwrap();
    let sock = RawSocket::open(VETH.1);

    let mut primary = Interactive::child_in(&ns, "primary", &prefix, &env);
    primary.expect("PRIMARY_READY");
    primary.say("p1");
    round(&mut primary, "P1", 0, P1, (0x21, 5), (0x22, 5), &sock);

    let mut secondary = Interactive::child_in(&ns, "secondary", &prefix, &env);
    round(&mut secondary, "S1", 1, S1, (0x23, 10), (0x24, 10), &sock);
    // The file read once, then again after the primary restarted the port.
    let whole = (REPLAY as u64, 0, 1);
    let once = |l: &str| (field(l, "got"), field(l, "first"), field(l, "in_order"));
    let l = secondary.expect("S1_ONCE");
    assert_eq!(once(&l), whole, "{l}");
    primary.say("restart");
    primary.expect("RESTARTED");
    secondary.say("again");
    let l = secondary.expect("S1_AGAIN");
    assert_eq!(once(&l), whole, "{l}");
    secondary.finish();

    primary.say("p2");
    round(&mut primary, "P2", 2, P2, (0x25, 5), (0x26, 5), &sock);
    // Back in the primary, at the end of the file where the secondary left it.
    let l = primary.expect("P2_ONCE");
    assert_eq!(field(&l, "got"), 0, "{l}");

    let mut crasher = Interactive::child_in(&ns, "crasher", &prefix, &env);
    round(&mut crasher, "CR", 3, CR, (0, 0), (0, 0), &sock);
    crasher.expect("CRASHER_WRITING");
    std::thread::sleep(Duration::from_millis(20));
    let killed = Command::new("kill")
        .args(["-KILL", &crasher.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    drop(crasher);
    // What a kill inside a write leaves after the last burst the queue recorded: a prefix of
    // its burst, whole records (one here) and part of one.
    let out0 = dir.path().join("out0.pcap");
    let unrecorded = frame(CRASH_TAG, 0, CRASH_LEN);
    let mut torn = Vec::new();
    write_record_header(&mut torn, true, 1, CRASH_LEN as u32, CRASH_LEN as u32);
    torn.extend_from_slice(&unrecorded);
    write_record_header(&mut torn, true, 1, 100, 100);
    torn.extend_from_slice(&[0xee; TORN - 16]);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&out0)
        .unwrap()
        .write_all(&torn)
        .unwrap();

    primary.say("back");
    round(&mut primary, "P3", 4, REST, (0, 0), (0, 0), &sock);
    let st = primary.expect("PRIMARY_STATS");
    for dir in ["RX", "TX"] {
        primary.expect(&format!(
            "port 0: {dir} queue 0 is back from a process that died driving it"
        ));
    }

    // Every input record once, in order, byte for byte, in both output files.
    let want: Vec<_> = inputs.iter().map(|f| (f.len() as u32, f.clone())).collect();
    let before = P1 + S1 + P2 + CR;
    let got0 = records(&out0);
    assert_eq!(got0.len(), N + 1, "records in out0.pcap");
    assert!(
        got0[..before] == want[..before],
        "out0.pcap before the kill"
    );
    assert_eq!(
        got0[before],
        (CRASH_LEN as u32, unrecorded),
        "the whole record kept"
    );
    assert!(
        got0[before + 1..] == want[before..],
        "out0.pcap after the kill"
    );
    // The second: the killed process's frames, whole and numbered from 0, after the records
    // forwarded before it was killed.
    let out1 = dir.path().join("out1.pcap");
    let got1 = records(&out1);
    let crashed = got1.len() - N;
    println!(
        "the killed process wrote {crashed} whole records; the primary said:\n{}",
        primary.seen()
    );
    assert!(
        crashed >= CRASH_BURST,
        "{crashed} frames of the killed process"
    );
    assert!(
        got1[..before] == want[..before],
        "out1.pcap before the kill"
    );
    for (k, (len, f)) in got1[before..before + crashed].iter().enumerate() {
        assert_eq!(
            (*len, f),
            (CRASH_LEN as u32, &frame(CRASH_TAG, k, CRASH_LEN)),
            "frame {k} of the killed process"
        );
    }
    assert!(
        got1[before + crashed..] == want[before..],
        "out1.pcap after the kill"
    );
    primary.expect(&format!(
        "out0.pcap: cutting {TORN} bytes of an unfinished write after offset"
    ));
    if let Some(n) = tcpdump_count(&out0) {
        assert_eq!(n, N + 1, "tcpdump -r out0.pcap");
        assert_eq!(
            tcpdump_count(&out1),
            Some(N + crashed),
            "tcpdump -r out1.pcap"
        );
    }

    // The port counted every record read once, and what was written (the killed process's
    // last burst may be in the file and not yet counted).
    let in_bytes: u64 = inputs.iter().map(|f| f.len() as u64).sum();
    assert_eq!(field(&st, "ipackets"), 2 * N as u64, "{st}");
    assert_eq!(field(&st, "ibytes"), 2 * in_bytes, "{st}");
    assert_eq!(
        (field(&st, "ierrors"), field(&st, "oerrors")),
        (0, 0),
        "{st}"
    );
    let opackets = field(&st, "opackets");
    let full = (2 * N + crashed) as u64;
    assert!(
        (full - CRASH_BURST as u64..=full).contains(&opackets),
        "{opackets} packets counted out of {full} written: {st}"
    );
    assert_eq!(field(&st, "replay_ipackets"), 5 * REPLAYED as u64, "{st}");
    assert_eq!(field(&st, "iface_ipackets"), 20, "{st}");
    assert_eq!(field(&st, "iface_opackets"), 20, "{st}");
    assert_eq!(field(&st, "pool_avail"), POOL_SIZE as u64, "{st}");
    assert_eq!(field(&st, "audit"), 1, "{st}");
    primary.finish();
}

/// One process's turn as the test sees it: `p` forwards `n` records of each file queue and
/// receives [`REPLAYED`] replayed frames, going on from frame `turn * REPLAYED`; then, if
/// `iface_in.1` is not 0, receives the frames the test sends into the veth and sends its own,
/// which the peer must receive whole.
fn round(
    p: &mut Interactive,
    name: &str,
    turn: usize,
    n: usize,
    iface_in: (u8, usize),
    iface_out: (u8, usize),
    sock: &RawSocket,
) {
    let files = p.expect(&format!("{name}_FILES"));
    assert_eq!(field(&files, "q0"), n as u64, "{files}");
    assert_eq!(field(&files, "q1"), n as u64, "{files}");
    let replay = p.expect(&format!("{name}_REPLAY"));
    assert_eq!(
        (
            field(&replay, "first"),
            field(&replay, "in_order"),
            field(&replay, "got")
        ),
        (((turn * REPLAYED) % REPLAY) as u64, 1, REPLAYED as u64),
        "{replay}"
    );
    if iface_in.1 == 0 {
        return;
    }
    p.expect(&format!("{name}_IFACE_READY"));
    for i in 0..iface_in.1 {
        sock.send(&frame(iface_in.0, i, 80));
    }
    let got = p.expect(&format!("{name}_IFACE frames"));
    assert_eq!(field(&got, "frames"), iface_in.1 as u64, "{}", p.seen());
    assert_eq!(field(&got, "in_order"), 1, "{got}");
    assert_eq!(field(&got, "sent"), iface_out.1 as u64, "{got}");
    let out = sock.recv_n_where(
        iface_out.1,
        Duration::from_secs(10),
        Duration::from_millis(200),
        |f| ours(f).is_some_and(|(t, _)| t == iface_out.0),
    );
    assert_eq!(out.len(), iface_out.1, "frames out of the interface port");
    for (i, f) in out.iter().enumerate() {
        assert_eq!(
            *f,
            frame(iface_out.0, i, 90),
            "frame {i} out of the interface port"
        );
    }
}

#[test]
fn child() {
    let Some((role, prefix)) = role() else {
        return;
    };
    let dir = PathBuf::from(std::env::var(DIR_ENV).unwrap());
    match role.as_str() {
        "primary" => primary(&prefix, &dir),
        "secondary" => secondary(&prefix),
        "crasher" => crasher(&prefix),
        r => panic!("unknown role {r}"),
    }
}

/// The ports: the files, the replay, the interface (the fourth, the file read once, is
/// [`once`]'s).
fn ports() -> [Port; 3] {
    ["net_pcap0", "net_pcap1", "net_pcap2"].map(|n| Port::by_name(n).unwrap())
}

fn once() -> Port {
    Port::by_name("net_pcap3").unwrap()
}

/// Receives from `rxq` until it has given nothing for 50 ms: `got=`, the first frame's
/// number, and whether they are the file's frames in order.
fn read_once(name: &str, rxq: &mut RxQueue) {
    let mut burst = MbufBurst::<4>::new();
    let (mut got, mut in_order, mut first) = (0, true, usize::MAX);
    let (mut last, deadline) = (Instant::now(), Instant::now() + Duration::from_secs(5));
    while last.elapsed() < Duration::from_millis(50) && Instant::now() < deadline {
        if rxq.rx_burst(&mut burst) > 0 {
            last = Instant::now();
        }
        for m in burst.iter() {
            let i = ours(m.data()).map_or(usize::MAX, |(_, i)| i);
            if got == 0 {
                first = i;
            }
            in_order &= i == first.wrapping_add(got) && m.data() == replay_frame(i).as_slice();
            got += 1;
        }
        burst.clear();
    }
    println!(
        "{name} got={got} first={first} in_order={}",
        u8::from(in_order)
    );
}

fn primary(prefix: &str, dir: &Path) {
    let f = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let vdevs = [
        format!(
            "net_pcap0,rx_pcap={},rx_pcap={},tx_pcap={},tx_pcap={}",
            f("in.pcap"),
            f("in.pcapng"),
            f("out0.pcap"),
            f("out1.pcap")
        ),
        format!("net_pcap1,rx_pcap={},infinite_rx=1", f("replay.pcap")),
        format!("net_pcap2,iface={}", VETH.0),
        format!("net_pcap3,rx_pcap={}", f("replay.pcap")),
    ];
    let (_eal, _) =
        rpdk_eal::init(eal_args_with_vdevs(NAME, prefix, "primary", 0, &vdevs)).unwrap();
    let pool = PktmbufPool::create(POOL, POOL_SIZE, 0, 0, 2048, None).unwrap();
    for p in ports().into_iter().chain([once()]) {
        let (nrx, ntx) = (p.device_info().max_rx_queues, p.device_info().max_tx_queues);
        p.configure(nrx, ntx, &EthConf::default()).unwrap();
        for q in 0..nrx {
            p.rx_queue_setup(q, 0, None, &RxConf::default(), &pool)
                .unwrap();
        }
        for q in 0..ntx {
            p.tx_queue_setup(q, 0, None, &TxConf::default()).unwrap();
        }
        p.start().unwrap();
    }
    println!("PRIMARY_READY");
    assert_eq!(child_line(), "p1");
    turn("P1", P1, Some((&pool, 0x21, 5, 0x22, 5)));
    assert_eq!(child_line(), "restart");
    // While a secondary holds port 3's queue: it reads the file again from the start.
    once().stop().unwrap();
    once().start().unwrap();
    println!("RESTARTED");
    assert_eq!(child_line(), "p2");
    turn("P2", P2, Some((&pool, 0x25, 5, 0x26, 5)));
    read_once("P2_ONCE", &mut once().rx_queue(0).unwrap());
    assert_eq!(child_line(), "back");
    turn("P3", REST, None);
    let [files, replay, iface] = ports();
    let (s, r, i) = (files.stats(), replay.stats(), iface.stats());
    for p in ports().into_iter().chain([once()]) {
        p.stop().unwrap();
        p.close().unwrap();
    }
    println!(
        "PRIMARY_STATS ipackets={} ibytes={} ierrors={} opackets={} oerrors={} \
         replay_ipackets={} iface_ipackets={} iface_opackets={} pool_avail={} audit={}",
        s.ipackets,
        s.ibytes,
        s.ierrors,
        s.opackets,
        s.oerrors,
        r.ipackets,
        i.ipackets,
        i.opackets,
        pool.avail_count(),
        u8::from(pool.audit().is_ok())
    );
}

fn secondary(prefix: &str) {
    let (_eal, _) = rpdk_eal::init(eal_args(NAME, prefix, "secondary", 1)).unwrap();
    let pool = PktmbufPool::lookup(POOL).unwrap();
    turn("S1", S1, Some((&pool, 0x23, 10, 0x24, 10)));
    let mut rxq = once().rx_queue(0).unwrap();
    read_once("S1_ONCE", &mut rxq);
    assert_eq!(child_line(), "again");
    read_once("S1_AGAIN", &mut rxq);
}

/// A secondary that forwards its share, then writes frames of its own to TX queue 1 (from a
/// pool of its own) until it is killed, every queue in hand.
fn crasher(prefix: &str) {
    let (_eal, _) = rpdk_eal::init(eal_args(NAME, prefix, "secondary", 2)).unwrap();
    let [files, replay, _] = ports();
    let mut queues: Vec<(RxQueue, TxQueue)> = (0..2)
        .map(|q| (files.rx_queue(q).unwrap(), files.tx_queue(q).unwrap()))
        .collect();
    let mut rq = replay.rx_queue(0).unwrap();
    forward_files("CR", &mut queues, CR);
    receive_replay("CR", &mut rq);
    let own = PktmbufPool::create("mppcap_crash", 255, 0, 0, 2048, None).unwrap();
    let txq = &mut queues[1].1;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut k = 0;
    while k < 100_000 && Instant::now() < deadline {
        let mut burst = MbufBurst::<CRASH_BURST>::new();
        for j in 0..CRASH_BURST {
            let f = frame(CRASH_TAG, k + j, CRASH_LEN);
            let mut m = own.alloc().unwrap();
            m.append(f.len() as u16).unwrap().copy_from_slice(&f);
            burst.push(m).unwrap();
        }
        assert_eq!(txq.tx_burst(&mut burst), CRASH_BURST);
        if k == 0 {
            println!("CRASHER_WRITING");
        }
        k += CRASH_BURST;
    }
    // Not reached in the test: it is killed first.
    println!("CRASHER_NOT_KILLED after {k}");
    let _ = child_line();
}

/// One process's turn: `n` records of each file queue forwarded, the replay, and the
/// interface round when `iface` says what to receive and send.
fn turn(name: &str, n: usize, iface: Option<(&PktmbufPool, u8, usize, u8, usize)>) {
    let [files, replay, port] = ports();
    {
        let mut queues: Vec<(RxQueue, TxQueue)> = (0..2)
            .map(|q| (files.rx_queue(q).unwrap(), files.tx_queue(q).unwrap()))
            .collect();
        forward_files(name, &mut queues, n);
        receive_replay(name, &mut replay.rx_queue(0).unwrap());
    }
    let Some((pool, tag_in, n_in, tag_out, n_out)) = iface else {
        return;
    };
    let (mut rxq, mut txq) = (port.rx_queue(0).unwrap(), port.tx_queue(0).unwrap());
    println!("{name}_IFACE_READY");
    let mut burst = MbufBurst::<32>::new();
    let (mut frames, mut in_order) = (0, true);
    let deadline = Instant::now() + Duration::from_secs(10);
    while frames < n_in && Instant::now() < deadline {
        rxq.rx_burst(&mut burst);
        for m in burst.iter() {
            let mut buf = vec![0; m.pkt_len() as usize];
            let b = m.read(0, &mut buf).unwrap().to_vec();
            if let Some((t, i)) = ours(&b).filter(|(t, _)| *t == tag_in) {
                in_order &= i == frames && b == frame(t, i, 80);
                frames += 1;
            }
        }
        burst.clear();
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut sent = 0;
    while sent < n_out && Instant::now() < deadline {
        let f = frame(tag_out, sent, 90);
        let mut m = pool.alloc().unwrap();
        m.append(f.len() as u16).unwrap().copy_from_slice(&f);
        burst.push(m).unwrap();
        sent += txq.tx_burst(&mut burst);
        burst.clear();
    }
    println!(
        "{name}_IFACE frames={frames} in_order={} sent={sent}",
        u8::from(in_order)
    );
}

/// Forwards `n` records from each RX queue to its TX queue, `q0=` and `q1=` what each did.
fn forward_files(name: &str, queues: &mut [(RxQueue, TxQueue)], n: usize) {
    let mut done = [0usize; 2];
    let deadline = Instant::now() + Duration::from_secs(20);
    for (q, (rxq, txq)) in queues.iter_mut().enumerate() {
        let mut burst = MbufBurst::<10>::new();
        while done[q] < n && Instant::now() < deadline {
            let got = rxq.rx_burst_max(&mut burst, (n - done[q]).min(10));
            if got == 0 {
                break;
            }
            assert_eq!(txq.tx_burst(&mut burst), got);
            done[q] += got;
        }
    }
    println!("{name}_FILES q0={} q1={}", done[0], done[1]);
}

/// Receives [`REPLAYED`] frames of the replay: `first=` the number of the first, whether each
/// follows the one before.
fn receive_replay(name: &str, rxq: &mut RxQueue) {
    let mut burst = MbufBurst::<5>::new();
    let (mut got, mut first, mut last, mut in_order) = (0, None, 0, true);
    let deadline = Instant::now() + Duration::from_secs(10);
    while got < REPLAYED && Instant::now() < deadline {
        rxq.rx_burst(&mut burst);
        for m in burst.iter() {
            let i = ours(m.data()).map_or(usize::MAX, |(_, i)| i);
            in_order &= m.data() == replay_frame(i % REPLAY).as_slice();
            if first.is_some() {
                in_order &= i == (last + 1) % REPLAY;
            }
            first.get_or_insert(i);
            last = i;
            got += 1;
        }
        burst.clear();
    }
    println!(
        "{name}_REPLAY got={got} first={} in_order={}",
        first.unwrap_or(usize::MAX),
        u8::from(in_order)
    );
}
