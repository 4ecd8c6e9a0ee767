//! A meter on real traffic (root only): a `net_af_packet` port on a veth pair in a namespace of
//! the test's, a rule `count / meter mtr_id 0 / queue index 0` on a packet-mode srTCM meter of
//! 1000 packets per second (burst 50, no excess bucket), red dropped by the policy, and a
//! sender on the peer pacing 5000 frames per second by the clock for 3 s (15,000 at most).
//!
//! The meter runs in the port's RX stage, so it measures by the TSC of the application's
//! polls, not of the frames' arrival. Its green count is then `cbs + cir * W` at most, `W`
//! the time from the first poll that met a frame to the last, which the test measures: the
//! bucket starts full and never gives more than its rate. It gives less only for the time the
//! bucket spends full, which needs a gap of more than `cbs / cir` = 50 ms between polls that
//! find frames while frames keep coming (a frame is always waiting, at 5 times the rate). So:
//! green within 10% below `cbs + cir * W` (the stalls a loaded 2-core machine may cause) and
//! 2% above it (the TSC's calibrated rate against the clock), red all the rest and dropped,
//! the application gets exactly the green frames, every frame sent is counted (by the rule, by
//! the port as missed in the kernel ring, or by the veth as dropped), and every mbuf comes
//! back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rpdk_eal::Eal;
use rpdk_ethdev::{EthConf, Port, RxConf, TxConf};
use rpdk_flow::meter::{Color, MeterParams, MeterPolicy, MeterProfile, MeterStats};
use rpdk_flow::{Action, FlowTable};
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, MbufBurst, PktmbufPool};
use rpdk_testsupport::netns::NetNs;
use rpdk_testsupport::raw::RawSocket as Raw;
use rpdk_testsupport::{allowed_cpus, require_root, serial};

mod common;
use common::rule;

/// The meter's committed rate, packets per second.
const CIR: u64 = 1000;
/// Its committed burst, packets.
const CBS: u64 = 50;
/// The sender's rate, frames per second.
const PPS: u64 = 5000;
/// How long the sender sends.
const SEND_FOR: Duration = Duration::from_secs(3);
/// The most frames it sends.
const MAX_FRAMES: u64 = 15_000;
/// The metered frames' UDP destination port.
const DPORT: u16 = 5001;

fn eal(prefix: &str, vdev: &str) -> Eal {
    let args: Vec<String> = vec![
        "flow-meter-traffic-test".into(),
        "--no-huge".into(),
        "--no-shconf".into(),
        "--file-prefix".into(),
        prefix.into(),
        "-l".into(),
        format!("0@{}", allowed_cpus()[0]),
        "--vdev".into(),
        vdev.into(),
    ];
    rpdk_eal::init(args).unwrap().0
}

/// Frame `i`: UDP from 10.0.0.1 to `DPORT`, 64 bytes, its number in the payload.
fn frame(i: u32) -> Vec<u8> {
    let mut f = Vec::new();
    let mut payload = [0u8; 22];
    payload[..4].copy_from_slice(&i.to_be_bytes());
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 0x0a], [2, 0, 0, 0, 0, 0x0b])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(1000, DPORT)
        .write(&mut f, &payload)
        .unwrap();
    f
}

fn ours(f: &[u8]) -> bool {
    f.len() >= 46
        && f[12..14] == [8, 0]
        && f[26..30] == [10, 0, 0, 1]
        && f[36..38] == DPORT.to_be_bytes()
}

/// What the sender did: frames sent, and the time from the first to the last.
struct Sent {
    frames: u64,
    took: Duration,
}

/// Sends frame `i` at `i / PPS` s after the start (at once when late, so the average holds
/// under load), for `SEND_FOR` or `MAX_FRAMES`, whichever ends first.
fn send_paced(raw: Raw) -> Sent {
    let frames: Vec<Vec<u8>> = (0..64).map(frame).collect();
    let start = Instant::now();
    let mut last = start;
    let mut i = 0u64;
    while i < MAX_FRAMES {
        let due = start + Duration::from_nanos(i * 1_000_000_000 / PPS);
        let now = Instant::now();
        if now >= start + SEND_FOR {
            break;
        }
        if due > now {
            std::thread::sleep(due - now);
        }
        raw.send(&frames[(i % 64) as usize]);
        last = Instant::now();
        i += 1;
    }
    Sent {
        frames: i,
        took: last - start,
    }
}

#[test]
fn a_1000_pps_meter_on_a_5000_pps_stream_passes_about_1000_pps_green() {
    if !require_root("a_1000_pps_meter_on_a_5000_pps_stream_passes_about_1000_pps_green") {
        return;
    }
    let _s = serial();
    let ns = NetNs::new("fmtr").unwrap();
    ns.add_veth("fma", "fmb").unwrap();
    let _in = ns.enter().unwrap();
    // 2048 frames in the kernel ring: 400 ms of the stream waits there for a late poll.
    let _eal = eal(
        "rpdkt-meter-traffic",
        "net_af_packet0,iface=fma,framecnt=2048",
    );
    let port = Port::get(0).unwrap();
    let pool = PktmbufPool::create("fmtr_pool", 1023, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    port.configure(1, 1, &EthConf::default()).unwrap();
    port.rx_queue_setup(0, 0, None, &RxConf::default(), &pool)
        .unwrap();
    port.tx_queue_setup(0, 0, None, &TxConf::default()).unwrap();

    // testpmd: add port meter profile srtcm_rfc2697 0 0 1000 50 0 1 (packet mode);
    // add port meter policy 0 0 g_actions end y_actions drop / end r_actions drop / end;
    // create port meter 0 0 0 0 yes 0xffff 0 0.
    let table = Arc::new(FlowTable::new(0, 1));
    let meters = table.meters();
    meters
        .profile_add(0, MeterProfile::srtcm_rfc2697(CIR, CBS, 0).in_packets())
        .unwrap();
    meters
        .policy_add(
            0,
            MeterPolicy::new()
                .actions(Color::Yellow, vec![Action::Drop])
                .actions(Color::Red, vec![Action::Drop]),
        )
        .unwrap();
    let mut params = MeterParams::new(0, 0);
    params.stats_mask = MeterStats::ALL;
    meters.create(0, params, false).unwrap();
    let id = table
        .create(rule(&format!(
            "ingress pattern eth / ipv4 src is 10.0.0.1 / udp dst is {DPORT} / end \
             actions count / meter mtr_id 0 / queue index 0 / end"
        )))
        .unwrap();
    port.set_classifier(Some(table.clone())).unwrap();
    port.start().unwrap();

    let raw = Raw::open("fmb");
    let sender = std::thread::spawn(move || send_paced(raw));
    // The application: polls every millisecond until the sender is done and 300 ms of quiet,
    // noting when the rule first and last saw frames (its COUNT changed over a poll).
    let mut rxq = port.rx_queue(0).unwrap();
    let mut got: Vec<Vec<u8>> = Vec::new();
    let (mut first, mut last): (Option<Instant>, Option<Instant>) = (None, None);
    let mut hits = 0u64;
    let mut quiet_since = Instant::now();
    let give_up = Instant::now() + SEND_FOR + Duration::from_secs(5);
    while Instant::now() < give_up {
        let before = Instant::now();
        loop {
            let mut b = MbufBurst::<64>::new();
            let n = rxq.rx_burst(&mut b);
            got.extend(b.iter().map(|m| m.data().to_vec()).filter(|f| ours(f)));
            b.clear();
            if n == 0 {
                break;
            }
        }
        let after = Instant::now();
        let h = table.query_count(id, false).unwrap().hits;
        if h != hits {
            hits = h;
            first.get_or_insert(before);
            last = Some(after);
            quiet_since = after;
        }
        if sender.is_finished() && after - quiet_since > Duration::from_millis(300) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let sent = sender.join().unwrap();
    let window = last.expect("the rule saw frames") - first.unwrap();

    let (s, _) = meters.stats_read(0, false).unwrap();
    let [green, yellow, red] = s.n_pkts;
    let missed = port.stats().imissed;
    // Frames the veth pair could not deliver (the peer's backlog full), counted by the sender's
    // end.
    let veth_dropped: u64 = ns
        .sh("cat /sys/class/net/fmb/statistics/tx_dropped")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let expect = CBS as f64 + CIR as f64 * window.as_secs_f64();
    let report = format!(
        "sent {} in {:?}, rule hits {hits}, missed {missed}, veth dropped {veth_dropped}, \
         meter window {window:?}: \
         green {green} (expected {expect:.0}), yellow {yellow}, red {red}, dropped {}, \
         application {}",
        sent.frames,
        sent.took,
        s.n_pkts_dropped,
        got.len()
    );
    eprintln!("{report}");
    // The stream is what the test means: 5000 pps for about 3 s, at least 3 times the rate.
    assert!(
        sent.took >= SEND_FOR - Duration::from_millis(50),
        "{report}"
    );
    assert!(
        sent.frames as f64 >= 3.0 * CIR as f64 * sent.took.as_secs_f64(),
        "{report}"
    );
    // The meter saw the stream for as long as it was sent, give or take the polls' latency.
    assert!(
        window > sent.took - Duration::from_millis(500)
            && window < sent.took + Duration::from_millis(500),
        "{report}"
    );
    // Every frame sent is counted once: metered by the rule, missed in the kernel ring, or
    // dropped by the veth pair.
    assert_eq!(hits + missed + veth_dropped, sent.frames, "{report}");
    assert_eq!(green + yellow + red, hits, "{report}");
    // About 1000 pps green, plus the burst.
    assert!(
        green as f64 >= expect - 0.10 * CIR as f64 * window.as_secs_f64(),
        "{report}"
    );
    assert!(
        green as f64 <= expect + 0.02 * CIR as f64 * window.as_secs_f64() + 1.0,
        "{report}"
    );
    // No excess bucket: nothing yellow; red is the rest, all dropped.
    assert_eq!(yellow, 0, "{report}");
    assert_eq!(s.n_pkts_dropped, red, "{report}");
    assert_eq!(s.n_pkts[0] + s.n_pkts[2], hits, "{report}");
    assert_eq!(
        s.n_bytes,
        [green * 64, 0, red * 64],
        "bytes per colour, 64-byte frames: {report}"
    );
    // The application got exactly the green frames, intact.
    assert_eq!(got.len() as u64, green, "{report}");
    assert!(
        got.iter()
            .all(|f| f.len() == 64 && *f == frame(u32::from_be_bytes([f[42], f[43], f[44], f[45]]))),
        "frames intact"
    );

    drop(rxq);
    port.stop().unwrap();
    port.close().unwrap();
    assert_eq!(pool.in_use_count(), 0, "every mbuf back");
    pool.audit().unwrap();
    pool.free();
}
