//! Shared port data, for real: the test binary starts itself again as a primary with a TAP
//! port (bridged to a veth pair in a namespace), a `net_ring` port, a `net_null` port and a
//! `net_af_packet` port (on another veth pair), and as a secondary that sees those ports and
//! drives the primary's queues. Frames sent into the veths come out of the secondary's RX
//! queues of the TAP and AF_PACKET ports; what it sends comes out of the veths; the ring port
//! loops frames in the secondary; the counts land in the primary's statistics, the primary
//! takes the queues back and goes on from where the secondary left the AF_PACKET rings, and
//! every mbuf is back in the pool at the end. A `net_af_xdp` port (on a third veth pair, with
//! the built-in XDP program) goes through the same rounds as the AF_PACKET ports: its socket,
//! rings and lent mbufs pass between the processes.

use std::time::{Duration, Instant};

use rpdk_ethdev::{EthConf, Port, RxConf, TxConf};
use rpdk_mbuf::{MbufBurst, PktmbufPool};
use rpdk_testsupport::netns::NetNs;
use rpdk_testsupport::process::{
    Interactive, child_line, eal_args, eal_args_with_vdevs, field, role,
};
use rpdk_testsupport::raw::RawSocket;
use rpdk_testsupport::unique_prefix;

/// The processes' program name.
const NAME: &str = "mpport";
const TAP: &str = "rpdktmptap";
const VETH: (&str, &str) = ("rpdktmpv0", "rpdktmpv1");
const BRIDGE: &str = "rpdktmpbr";
/// The AF_PACKET ports' veth pairs and the AF_XDP port's: a port on each `.0`, the test's raw
/// socket on `.1`.
const AFP_VETHS: [(&str, &str); 3] = [
    ("rpdktmpa0", "rpdktmpa1"),
    ("rpdktmpb0", "rpdktmpb1"),
    ("rpdktmpx0", "rpdktmpx1"),
];
/// The AF_XDP port (id 5), which the rounds of the AF_PACKET ports take as their third.
const XDP: &str = "net_af_xdp0,iface=rpdktmpx0";
/// The AF_PACKET ports (ids 3 and 4), with TPACKET_V2 and V3 RX rings; ring frames of 1920
/// bytes (1854 of frame in a V2 RX slot), so that a frame fits the pool's mbufs.
const AFPS: [&str; 2] = [
    "net_af_packet0,iface=rpdktmpa0,framesz=1920,framecnt=256",
    "net_af_packet1,iface=rpdktmpb0,framesz=1920,framecnt=256,tpacket_version=3",
];
const AFP_FIRST_ID: usize = 3;
/// AF_PACKET frames: the primary's before it lends its queues (in and out), the secondary's
/// (in, out), and the primary's once they are back (in and out).
const AFP_PRE: usize = 7;
const AFP_IN: usize = 40;
const AFP_OUT: usize = 30;
const AFP_BACK: usize = 6;
/// Frames into the primary and out of it once the secondary gave the queues back.
const AFP_MID: usize = 9;
/// Frames into a second secondary that is killed holding the AF_PACKET queues.
const AFP_CRASH: usize = 10;
const POOL: &str = "mpport_pool";
const POOL_SIZE: u32 = 1023;
/// Frames into the secondary, out of it, and into the primary after the secondary is gone.
const N_IN: usize = 50;
const N_OUT: usize = 20;
const N_BACK: usize = 5;
const ETHERTYPE: u16 = 0x88b5;
const FRAME_LEN: usize = 100;
const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x4d, 0x01];

/// A frame of ours: `dst`, the peer's MAC as source, our ethertype, a tag and a number.
fn frame(dst: [u8; 6], src: [u8; 6], tag: u8, i: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(FRAME_LEN);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ETHERTYPE.to_be_bytes());
    f.push(tag);
    f.extend_from_slice(&(i as u32).to_be_bytes());
    f.resize(FRAME_LEN, 0xa5);
    f
}

fn ours(f: &[u8], tag: u8) -> Option<usize> {
    (f.len() >= 19 && f[12..14] == ETHERTYPE.to_be_bytes() && f[14] == tag)
        .then(|| u32::from_be_bytes([f[15], f[16], f[17], f[18]]) as usize)
}

/// What a process received: frames of its tag (how many, their bytes, whether in order) and
/// the kernel's own frames besides them.
#[derive(Default)]
struct Received {
    frames: usize,
    bytes: u64,
    in_order: bool,
    others: u64,
    other_bytes: u64,
}

impl Received {
    /// Polls `rxq` for frames of `tag` until `n` came or `deadline` passed, then goes on for
    /// `linger` (what else comes: duplicates, the kernel's own frames).
    fn poll(
        rxq: &mut rpdk_ethdev::RxQueue,
        (tag, n): (u8, usize),
        deadline: Duration,
        linger: Duration,
    ) -> Received {
        let mut r = Received {
            in_order: true,
            ..Received::default()
        };
        let deadline = Instant::now() + deadline;
        let mut quiet = None;
        let mut burst = MbufBurst::<32>::new();
        while Instant::now() < deadline && quiet.is_none_or(|q| Instant::now() < q) {
            rxq.rx_burst(&mut burst);
            for m in burst.iter() {
                if let Some(i) = ours(m.data(), tag) {
                    r.in_order &= i == r.frames;
                    r.frames += 1;
                    r.bytes += u64::from(m.pkt_len());
                } else {
                    r.others += 1;
                    r.other_bytes += u64::from(m.pkt_len());
                }
            }
            burst.clear();
            if r.frames >= n && quiet.is_none() {
                quiet = Some(Instant::now() + linger);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        r
    }

    /// `frames=... bytes=... in_order=... others=... other_bytes=...`, as the parent reads it.
    fn fields(&self) -> String {
        format!(
            "frames={} bytes={} in_order={} others={} other_bytes={}",
            self.frames,
            self.bytes,
            u8::from(self.in_order),
            self.others,
            self.other_bytes
        )
    }
}

#[test]
fn secondary_drives_the_primarys_queues() {
    if !rpdk_testsupport::require_root("secondary_drives_the_primarys_queues") {
        return;
    }
    let prefix = unique_prefix("mpport");
    let ns = NetNs::new("mpp").unwrap();
    ns.sh("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1")
        .unwrap();
    ns.add_veth(VETH.0, VETH.1).unwrap();
    for (a, b) in AFP_VETHS {
        ns.add_veth(a, b).unwrap();
    }
    ns.sh(&format!(
        "ip link add {BRIDGE} type bridge mcast_snooping 0 && ip link set {BRIDGE} up && \
         ip link set {} master {BRIDGE}",
        VETH.0
    ))
    .unwrap();

    let mut primary = Interactive::child_in(&ns, "primary", &prefix, &[]);
    let ready = primary.expect("PRIMARY_READY");
    ns.sh(&format!("ip link set {TAP} master {BRIDGE}"))
        .unwrap();
    let tap_mac = ready.split_whitespace().nth(1).unwrap().to_string();
    let _in_ns = ns.enter().unwrap();
    let asocks = AFP_VETHS.map(|(_, b)| RawSocket::open(b));
    // Per AF_PACKET port, frames (and bytes) of the kernel's own that it received.
    let mut afp_others = [(0u64, 0u64); 3];

    // The primary drives its AF_PACKET queues first, so that the rings' positions are not
    // their start when it lends them.
    primary.say("pre");
    for (k, asock) in asocks.iter().enumerate() {
        let m = format!("PRIMARY_AFP{k}");
        afp_phase(
            &mut primary,
            &m,
            asock,
            (8, AFP_PRE),
            (9, AFP_PRE),
            &mut afp_others[k],
        );
    }
    let dst = [0xff; 6];

    let mut secondary = Interactive::child_in(&ns, "secondary", &prefix, &[]);
    let seen = secondary.expect("PORTS");
    assert!(
        seen.contains(&format!("net_tap0/net_tap/{tap_mac}/")),
        "{seen}"
    );
    assert!(seen.contains("net_ring0/net_ring/"), "{seen}");
    // Every port: 128 RX descriptors from the pool (2048-byte buffers less the 128 of
    // headroom), drop_en, 64 TX descriptors.
    let ports: Vec<&str> = seen.split_whitespace().skip(1).collect();
    assert_eq!(ports.len(), 6, "{seen}");
    assert!(seen.contains("net_af_packet0/net_af_packet/"), "{seen}");
    assert!(seen.contains("net_af_packet1/net_af_packet/"), "{seen}");
    assert!(seen.contains("net_af_xdp0/net_af_xdp/"), "{seen}");
    for p in ports {
        assert!(p.ends_with(&format!("/1/1/128/{POOL}/1920/1/64")), "{seen}");
    }
    // The null port's queues, driven here: made-up packets of 64 bytes in, all taken out,
    // counted in the shared port data.
    let null = secondary.expect("NULL rx=");
    assert_eq!(
        (
            field(&null, "rx"),
            field(&null, "len64"),
            field(&null, "tx"),
            field(&null, "ipackets"),
            field(&null, "opackets")
        ),
        (32, 32, 32, 32, 32),
        "{null}"
    );
    let ring = secondary.expect("RING");
    assert_eq!(
        (field(&ring, "rx"), field(&ring, "tx")),
        (100, 100),
        "{ring}"
    );
    secondary.expect("SECONDARY_READY");

    let sock = RawSocket::open(VETH.1);
    for i in 0..N_IN {
        sock.send(&frame(dst, PEER_MAC, 1, i));
    }
    let got = secondary.expect("SECONDARY_RX");
    assert_eq!(field(&got, "frames"), N_IN as u64, "{got}");
    assert_eq!(field(&got, "bytes"), (N_IN * FRAME_LEN) as u64, "{got}");
    assert_eq!(field(&got, "in_order"), 1, "{got}");
    let out = sock.recv_n_where(
        N_OUT,
        Duration::from_secs(10),
        Duration::from_millis(300),
        |f| ours(f, 2).is_some(),
    );
    assert_eq!(
        out.len(),
        N_OUT,
        "frames the secondary sent out of the veth"
    );
    for (i, f) in out.iter().enumerate() {
        assert_eq!(ours(f, 2), Some(i));
        assert_eq!(f.len(), FRAME_LEN);
    }
    let st = secondary.expect("SECONDARY_STATS");
    let (others, other_bytes) = (field(&got, "others"), field(&got, "other_bytes"));
    assert_eq!(field(&st, "ipackets"), N_IN as u64 + others, "{st}");
    assert_eq!(field(&st, "opackets"), N_OUT as u64, "{st}");

    // The AF_PACKET ports' queues, in the secondary, from where the primary left them.
    for (k, asock) in asocks.iter().enumerate() {
        let m = format!("SECONDARY_AFP{k}");
        afp_phase(
            &mut secondary,
            &m,
            asock,
            (4, AFP_IN),
            (5, AFP_OUT),
            &mut afp_others[k],
        );
        let st = secondary.expect(&format!("{m}_STATS"));
        assert_eq!(
            field(&st, "ipackets"),
            (AFP_PRE + AFP_IN) as u64 + afp_others[k].0,
            "{st}"
        );
        assert_eq!(field(&st, "opackets"), (AFP_PRE + AFP_OUT) as u64, "{st}");
    }
    secondary.say("quit");
    secondary.finish();

    // The primary takes the AF_PACKET queues back from the secondary, which parked its
    // positions: it goes on from there, with no resynchronisation.
    primary.say("mid");
    for (k, asock) in asocks.iter().enumerate() {
        let m = format!("PRIMARY_AFP{k}_MID");
        afp_phase(
            &mut primary,
            &m,
            asock,
            (12, AFP_MID),
            (13, AFP_MID),
            &mut afp_others[k],
        );
    }
    assert!(
        !primary.seen().contains("did not give it back"),
        "{}",
        primary.seen()
    );

    // Another secondary takes the AF_PACKET queues, receives, and is killed holding them: it
    // parks no position, and the primary finds its place from the ring (below).
    let mut crasher = Interactive::child_in(&ns, "crasher", &prefix, &[]);
    for (k, asock) in asocks.iter().enumerate() {
        let m = format!("CRASHER{k}");
        afp_phase(
            &mut crasher,
            &m,
            asock,
            (10, AFP_CRASH),
            (11, 0),
            &mut afp_others[k],
        );
    }
    crasher.expect("CRASHER_HOLDS");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &crasher.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    drop(crasher);

    // Where the dead secondary stood in an AF_PACKET TX ring is not known: another secondary
    // is refused the TX queue, with the reason, until the primary has taken it back.
    let mut refused = Interactive::child_in(&ns, "refused", &prefix, &[]);
    for k in 0..AFPS.len() {
        let line = refused.expect(&format!("REFUSED{k} "));
        assert!(
            line.contains(
                "TX queue 0: the process that drove it last died without giving it back; \
                 the primary has to take it back first"
            ),
            "{line}"
        );
    }
    refused.finish();

    // The primary takes its queue back (set up again) and receives.
    primary.say("back");
    primary.expect("PRIMARY_RX_READY");
    for i in 0..N_BACK {
        sock.send(&frame(dst, PEER_MAC, 3, i));
    }
    let back = primary.expect("PRIMARY_RX frames");
    assert_eq!(field(&back, "frames"), N_BACK as u64, "{back}");
    // And its AF_PACKET queues, from where the secondary left the rings: a wrong place in the
    // RX ring would miss these frames, one in the TX ring would leave its frames unsent.
    for (k, asock) in asocks.iter().enumerate() {
        let m = format!("PRIMARY_AFP{k}_BACK");
        afp_phase(
            &mut primary,
            &m,
            asock,
            (6, AFP_BACK),
            (7, AFP_BACK),
            &mut afp_others[k],
        );
        // Back from the killed secondary: the RX ring resynchronised, the TX ring new (the
        // AF_XDP port's rings are where the dead process left them, as its record of lent
        // mbufs is).
        if k >= AFPS.len() {
            continue;
        }
        for dir in ["RX", "TX"] {
            primary.expect(&format!(
                "port {}: {dir} queue 0 is back from a process that did not give it back",
                AFP_FIRST_ID + k
            ));
        }
    }
    let st = primary.expect("PRIMARY_STATS");
    // Frames of the kernel's own, counted where they were received.
    let others = others + field(&back, "others");
    let other_bytes = other_bytes + field(&back, "other_bytes");
    assert_eq!(
        field(&st, "tap_ipackets"),
        (N_IN + N_BACK) as u64 + others,
        "{st}"
    );
    assert_eq!(
        field(&st, "tap_ibytes"),
        ((N_IN + N_BACK) * FRAME_LEN) as u64 + other_bytes,
        "{st}"
    );
    assert_eq!(field(&st, "tap_opackets"), N_OUT as u64, "{st}");
    assert_eq!(field(&st, "tap_obytes"), (N_OUT * FRAME_LEN) as u64, "{st}");
    assert_eq!(field(&st, "ring_ipackets"), 100, "{st}");
    assert_eq!(field(&st, "ring_opackets"), 100, "{st}");
    let afp_in = (AFP_PRE + AFP_IN + AFP_MID + AFP_CRASH + AFP_BACK) as u64;
    let afp_out = (AFP_PRE + AFP_OUT + AFP_MID + AFP_BACK) as u64;
    for (k, (others, other_bytes)) in afp_others.iter().enumerate() {
        let f = |key: &str| field(&st, &format!("afp{k}_{key}"));
        assert_eq!(f("ipackets"), afp_in + others, "{st}");
        assert_eq!(f("ibytes"), afp_in * FRAME_LEN as u64 + other_bytes, "{st}");
        assert_eq!(f("opackets"), afp_out, "{st}");
        assert_eq!(f("obytes"), afp_out * FRAME_LEN as u64, "{st}");
        // An address the kernel gave back that the queue's record did not hold (a record not
        // handed over, or one of another socket) is an RX error, a TX frame refused an
        // error too.
        assert_eq!((f("ierrors"), f("oerrors")), (0, 0), "{st}");
    }
    assert_eq!(field(&st, "pool_avail"), POOL_SIZE as u64, "{st}");
    assert_eq!(field(&st, "audit"), 1, "{st}");
    // The AF_XDP sides' records of lent mbufs went with the port's sockets.
    assert_eq!(field(&st, "lent_zones_open"), 2, "{st}");
    assert_eq!(field(&st, "lent_zones"), 0, "{st}");
    primary.finish();
}

/// One AF_PACKET round as the test sees it: once `p` says `{marker}_READY`, sends `n` frames of
/// `tag` into the peer of `sock`; checks that `p` received them (`{marker} frames=...`, all of
/// them, in order, their bytes) and adds what else it received to `others`; then checks the
/// `out` frames of `tag_out` it sent, at the peer.
fn afp_phase(
    p: &mut Interactive,
    marker: &str,
    sock: &RawSocket,
    (tag, n): (u8, usize),
    (tag_out, out): (u8, usize),
    others: &mut (u64, u64),
) {
    p.expect(&format!("{marker}_READY"));
    for i in 0..n {
        sock.send(&frame([0xff; 6], PEER_MAC, tag, i));
    }
    let got = p.expect(&format!("{marker} frames"));
    assert_eq!(field(&got, "frames"), n as u64, "{got}");
    assert_eq!(field(&got, "bytes"), (n * FRAME_LEN) as u64, "{got}");
    assert_eq!(field(&got, "in_order"), 1, "{got}");
    assert_eq!(field(&got, "sent"), out as u64, "{got}");
    others.0 += field(&got, "others");
    others.1 += field(&got, "other_bytes");
    if out > 0 {
        expect_out(sock, tag_out, out);
    }
}

/// The frames of `tag` sent out of the AF_PACKET port, numbered from 0: `n` of them, each
/// byte as [`frame`] made it.
fn expect_out(sock: &RawSocket, tag: u8, n: usize) {
    let out = sock.recv_n_where(
        n,
        Duration::from_secs(10),
        Duration::from_millis(300),
        |f| ours(f, tag).is_some(),
    );
    assert_eq!(
        out.len(),
        n,
        "frames of tag {tag} out of the AF_PACKET port"
    );
    for (i, f) in out.iter().enumerate() {
        assert_eq!(
            *f,
            frame(PEER_MAC, AFP_SRC, tag, i),
            "frame {i} of tag {tag}"
        );
    }
}

const AFP_SRC: [u8; 6] = [0x02, 0, 0, 0, 0x4d, 0x03];

/// Receives frames of `tag` on `rxq` until `n` came (or 10 s passed), then whatever else comes
/// within 200 ms; then sends `out` frames of `tag_out` on `txq`. Prints `PREFIX_READY` first,
/// `PREFIX frames=... bytes=... in_order=... others=... other_bytes=... sent=...` at the end.
fn afp_round(
    prefix: &str,
    rxq: &mut rpdk_ethdev::RxQueue,
    txq: &mut rpdk_ethdev::TxQueue,
    pool: &PktmbufPool,
    (tag, n): (u8, usize),
    (tag_out, out): (u8, usize),
) {
    println!("{prefix}_READY");
    let got = Received::poll(
        rxq,
        (tag, n),
        Duration::from_secs(10),
        Duration::from_millis(200),
    );
    let mut burst = MbufBurst::<32>::new();
    let mut sent = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while sent < out && Instant::now() < deadline {
        while burst.len() < 8 && sent + burst.len() < out {
            let f = frame(PEER_MAC, AFP_SRC, tag_out, sent + burst.len());
            burst.push(mbuf_of(pool, &f)).unwrap();
        }
        sent += txq.tx_burst(&mut burst);
        // What did not fit the ring goes again in the next burst.
        std::thread::sleep(Duration::from_millis(1));
    }
    burst.clear();
    println!("{prefix} {} sent={sent}", got.fields());
}

#[test]
fn child() {
    let Some((role, prefix)) = role() else {
        return;
    };
    match role.as_str() {
        "primary" => primary(&prefix),
        "secondary" => secondary(&prefix),
        "crasher" => crasher(&prefix),
        "refused" => refused(&prefix),
        r => panic!("unknown role {r}"),
    }
}

fn primary(prefix: &str) {
    let tap = format!("net_tap0,iface={TAP}");
    let mut vdevs = vec![tap.as_str(), "net_ring0", "net_null0"];
    vdevs.extend(AFPS);
    vdevs.push(XDP);
    let args = eal_args_with_vdevs(NAME, prefix, "primary", 0, &vdevs);
    let (_eal, _) = rpdk_eal::init(args).unwrap();
    let pool = PktmbufPool::create(POOL, POOL_SIZE, 0, 0, 2048, None).unwrap();
    for id in rpdk_ethdev::ports() {
        let p = Port::get(id).unwrap();
        p.configure(1, 1, &EthConf::default()).unwrap();
        let rx_conf = RxConf {
            rx_drop_en: true,
            ..RxConf::default()
        };
        p.rx_queue_setup(0, 128, None, &rx_conf, &pool).unwrap();
        p.tx_queue_setup(0, 64, None, &TxConf::default()).unwrap();
        p.start().unwrap();
    }
    let tap = Port::by_name("net_tap0").unwrap();
    let ring = Port::by_name("net_ring0").unwrap();
    let afps = afp_ports();
    println!("PRIMARY_READY {}", tap.mac_addr());
    assert_eq!(child_line(), "pre");
    for (k, afp) in afps.iter().enumerate() {
        let (mut rxq, mut txq) = (afp.rx_queue(0).unwrap(), afp.tx_queue(0).unwrap());
        let m = format!("PRIMARY_AFP{k}");
        afp_round(&m, &mut rxq, &mut txq, &pool, (8, AFP_PRE), (9, AFP_PRE));
    }
    assert_eq!(child_line(), "mid");
    for (k, afp) in afps.iter().enumerate() {
        let (mut rxq, mut txq) = (afp.rx_queue(0).unwrap(), afp.tx_queue(0).unwrap());
        let m = format!("PRIMARY_AFP{k}_MID");
        afp_round(&m, &mut rxq, &mut txq, &pool, (12, AFP_MID), (13, AFP_MID));
    }
    assert_eq!(child_line(), "back");
    let mut rxq = tap.rx_queue(0).unwrap();
    println!("PRIMARY_RX_READY");
    let (mut got, mut others, mut other_bytes) = (0, 0, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut burst = MbufBurst::<32>::new();
    // Our frames, then whatever else came within 200 ms (all of it is in the counters).
    let mut quiet = None;
    while Instant::now() < deadline && quiet.is_none_or(|q| Instant::now() < q) {
        rxq.rx_burst(&mut burst);
        for m in burst.iter() {
            if ours(m.data(), 3).is_some() {
                got += 1;
            } else {
                others += 1;
                other_bytes += m.pkt_len();
            }
        }
        burst.clear();
        if got == N_BACK && quiet.is_none() {
            quiet = Some(Instant::now() + Duration::from_millis(200));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    println!("PRIMARY_RX frames={got} others={others} other_bytes={other_bytes}");
    drop(rxq);
    for (k, afp) in afps.iter().enumerate() {
        let (mut rxq, mut txq) = (afp.rx_queue(0).unwrap(), afp.tx_queue(0).unwrap());
        let m = format!("PRIMARY_AFP{k}_BACK");
        afp_round(&m, &mut rxq, &mut txq, &pool, (6, AFP_BACK), (7, AFP_BACK));
    }
    let (t, r) = (tap.stats(), ring.stats());
    let mut afp_stats = String::new();
    for (k, afp) in afps.iter().enumerate() {
        let a = afp.stats();
        afp_stats += &format!(
            " afp{k}_ipackets={} afp{k}_ibytes={} afp{k}_opackets={} afp{k}_obytes={} \
             afp{k}_ierrors={} afp{k}_oerrors={}",
            a.ipackets, a.ibytes, a.opackets, a.obytes, a.ierrors, a.oerrors
        );
    }
    let lent_zones = || {
        rpdk_eal::memzone::list()
            .iter()
            .filter(|z| z.name().starts_with("afxdp_lent_"))
            .count()
    };
    let lent_zones_open = lent_zones();
    for id in rpdk_ethdev::ports() {
        let p = Port::get(id).unwrap();
        p.stop().unwrap();
        p.close().unwrap();
    }
    println!(
        "PRIMARY_STATS tap_ipackets={} tap_ibytes={} tap_opackets={} tap_obytes={} \
         ring_ipackets={} ring_opackets={}{afp_stats} pool_avail={} audit={} \
         lent_zones_open={lent_zones_open} lent_zones={}",
        t.ipackets,
        t.ibytes,
        t.opackets,
        t.obytes,
        r.ipackets,
        r.opackets,
        pool.avail_count(),
        u8::from(pool.audit().is_ok()),
        lent_zones()
    );
}

fn mbuf_of(pool: &PktmbufPool, f: &[u8]) -> rpdk_mbuf::Mbuf {
    let mut m = pool.alloc().unwrap();
    m.append(f.len() as u16).unwrap().copy_from_slice(f);
    m
}

fn secondary(prefix: &str) {
    let (_eal, _) = rpdk_eal::init(eal_args(NAME, prefix, "secondary", 1)).unwrap();
    let pool = PktmbufPool::lookup(POOL).unwrap();
    let mut seen = String::from("PORTS");
    for id in rpdk_ethdev::ports() {
        let p = Port::get(id).unwrap();
        // How the primary set the queues up, from the shared port data.
        let (rxi, txi) = (p.rx_queue_info(0).unwrap(), p.tx_queue_info(0).unwrap());
        seen.push_str(&format!(
            " {}/{}/{}/{}/{}/{}/{}/{}/{}/{}",
            p.name(),
            p.info().driver_name,
            p.mac_addr(),
            p.nb_rx_queues(),
            p.nb_tx_queues(),
            rxi.nb_desc,
            rxi.pool_name,
            rxi.rx_buf_size,
            u8::from(rxi.conf.rx_drop_en),
            txi.nb_desc
        ));
        assert!(matches!(
            p.rx_queue_info(1),
            Err(rpdk_ethdev::EthError::NoSuchQueue { queue: 1, .. })
        ));
        assert!(p.is_started());
        assert!(p.configure(1, 1, &EthConf::default()).is_err());
    }
    println!("{seen}");

    let null = Port::by_name("net_null0").unwrap();
    let (mut rxq, mut txq) = (null.rx_queue(0).unwrap(), null.tx_queue(0).unwrap());
    let mut burst = MbufBurst::<32>::new();
    let rx = rxq.rx_burst(&mut burst);
    let len64 = burst.iter().filter(|m| m.pkt_len() == 64).count();
    let tx = txq.tx_burst(&mut burst);
    drop((rxq, txq));
    let s = null.stats();
    println!(
        "NULL rx={rx} len64={len64} tx={tx} ipackets={} opackets={}",
        s.ipackets, s.opackets
    );

    // The ring port: TX into its ring, RX out of it, in this process.
    let ring = Port::by_name("net_ring0").unwrap();
    let (mut rxq, mut txq) = (ring.rx_queue(0).unwrap(), ring.tx_queue(0).unwrap());
    let (mut sent, mut received) = (0, 0);
    let mut burst = MbufBurst::<32>::new();
    while sent < 100 {
        while burst.len() < 25 {
            let f = frame([0xff; 6], PEER_MAC, 9, sent + burst.len());
            burst.push(mbuf_of(&pool, &f)).unwrap();
        }
        sent += txq.tx_burst(&mut burst);
        burst.clear();
        received += rxq.rx_burst(&mut burst);
        burst.clear();
    }
    received += rxq.rx_burst(&mut burst);
    burst.clear();
    println!("RING rx={received} tx={sent}");
    drop((rxq, txq));

    let tap = Port::by_name("net_tap0").unwrap();
    let (mut rxq, mut txq) = (tap.rx_queue(0).unwrap(), tap.tx_queue(0).unwrap());
    println!("SECONDARY_READY");
    // Besides ours, the kernel's own frames (a bridge's IGMP report) are counted too.
    let got = Received::poll(&mut rxq, (1, N_IN), Duration::from_secs(20), Duration::ZERO);
    println!("SECONDARY_RX {}", got.fields());
    let mut out = 0;
    while out < N_OUT {
        let f = frame(PEER_MAC, [0x02, 0, 0, 0, 0x4d, 0x02], 2, out);
        burst.push(mbuf_of(&pool, &f)).unwrap();
        out += txq.tx_burst(&mut burst);
        burst.clear();
    }
    drop((rxq, txq));
    let s = tap.stats();
    println!(
        "SECONDARY_STATS ipackets={} opackets={}",
        s.ipackets, s.opackets
    );

    for (k, afp) in afp_ports().iter().enumerate() {
        let (mut rxq, mut txq) = (afp.rx_queue(0).unwrap(), afp.tx_queue(0).unwrap());
        let m = format!("SECONDARY_AFP{k}");
        afp_round(&m, &mut rxq, &mut txq, &pool, (4, AFP_IN), (5, AFP_OUT));
        drop((rxq, txq));
        let s = afp.stats();
        println!("{m}_STATS ipackets={} opackets={}", s.ipackets, s.opackets);
    }
    assert_eq!(child_line(), "quit");
}

/// The AF_PACKET ports, V2 then V3, and the AF_XDP port.
fn afp_ports() -> Vec<Port> {
    (0..AFPS.len())
        .map(|k| Port::by_name(&format!("net_af_packet{k}")).unwrap())
        .chain([Port::by_name("net_af_xdp0").unwrap()])
        .collect()
}

/// A secondary that asks for the AF_PACKET TX queues the crasher died holding, and says what
/// it got (`REFUSED<k> <error>`, or `REFUSED<k> granted`).
fn refused(prefix: &str) {
    let (_eal, _) = rpdk_eal::init(eal_args(NAME, prefix, "secondary", 2)).unwrap();
    for k in 0..AFPS.len() {
        let afp = Port::by_name(&format!("net_af_packet{k}")).unwrap();
        match afp.tx_queue(0) {
            Ok(_) => println!("REFUSED{k} granted"),
            Err(e) => println!("REFUSED{k} {e}"),
        }
    }
}

/// A secondary that takes the AF_PACKET queues, receives, and waits to be killed.
fn crasher(prefix: &str) {
    let (_eal, _) = rpdk_eal::init(eal_args(NAME, prefix, "secondary", 2)).unwrap();
    let pool = PktmbufPool::lookup(POOL).unwrap();
    let mut held = Vec::new();
    for (k, afp) in afp_ports().iter().enumerate() {
        let (mut rxq, mut txq) = (afp.rx_queue(0).unwrap(), afp.tx_queue(0).unwrap());
        let m = format!("CRASHER{k}");
        afp_round(&m, &mut rxq, &mut txq, &pool, (10, AFP_CRASH), (11, 0));
        held.push((rxq, txq));
    }
    println!("CRASHER_HOLDS");
    // Killed here, the queues in hand.
    let _ = child_line();
    std::process::exit(1);
}
