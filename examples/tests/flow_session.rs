//! An rpdk-testpmd flow session as DPDK's flow test plans run one: `-i` on a net_af_packet
//! port (one kernel queue, `--rxq=4` software queues, `--disable-rss`) of a veth pair in a
//! namespace, driven through stdin; frames sent from the peer end; the verbose dump lines,
//! `flow query` counts and the replies to refused rules and bad syntax checked.

use std::collections::HashMap;
use std::time::Duration;

use rpdk_testsupport::netns::NetNs;
use rpdk_testsupport::prompt::Prompted;
use rpdk_testsupport::raw::RawSocket;
use rpdk_testsupport::testpmd::{CmdlineRun, af_packet_in_netns, null_pair_with_cmdline_file};

const SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const DST: [u8; 6] = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];

/// An Ethernet/IPv4/UDP frame from 10.0.0.1 to 192.168.1.1 port `dport`, `len` bytes long;
/// with `vlan`, an 802.1Q tag of that TCI before the IPv4 header.
fn frame(dport: u16, len: usize, vlan: Option<u16>) -> Vec<u8> {
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&DST);
    f.extend_from_slice(&SRC);
    if let Some(tci) = vlan {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&[0x08, 0x00]);
    let ip_len = (len - f.len()) as u16;
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
    ip[16..20].copy_from_slice(&[192, 168, 1, 1]);
    let mut sum: u32 = ip
        .chunks(2)
        .map(|w| u16::from_be_bytes([w[0], w[1]]) as u32)
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&1234u16.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&(ip_len - 20).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.resize(len, 0);
    f
}

/// rpdk-testpmd in the namespace on a net_af_packet port of `iface`, driven at its prompt.
fn session(ns: &NetNs, iface: &str, app: &[&str]) -> Prompted {
    af_packet_in_netns(env!("CARGO_BIN_EXE_rpdk-testpmd"), ns, iface, app)
}

/// One packet of the verbose dump: its queue, its line and its ol_flags line.
#[derive(Debug, Clone)]
struct Dumped {
    queue: u16,
    line: String,
    flags: String,
}

/// The dumped packets of `out`, by their length.
fn dumped(out: &str) -> HashMap<u32, Vec<Dumped>> {
    let mut by_len: HashMap<u32, Vec<Dumped>> = HashMap::new();
    let mut queue = None;
    let mut lines = out.lines().map(|l| l.trim_start_matches("testpmd> "));
    while let Some(l) = lines.next() {
        if let Some(rest) = l.strip_prefix("port 0/queue ") {
            let (q, tail) = rest.split_once(':').unwrap();
            assert!(tail.starts_with(" received "), "{l}");
            queue = Some(q.parse().unwrap());
        } else if l.starts_with("  src=") {
            let len = l.split(" - length=").nth(1).unwrap();
            let len: u32 = len.split(' ').next().unwrap().parse().unwrap();
            let flags = lines.next().unwrap_or_default().to_string();
            by_len.entry(len).or_default().push(Dumped {
                queue: queue.expect("a burst line first"),
                line: l.to_string(),
                flags,
            });
        }
    }
    by_len
}

const SW: &str = "sw ptype: L2_ETHER L3_IPV4 L4_UDP  - l2_len=14 - l3_len=20 - l4_len=8";
const UNKNOWN_CKSUMS: [&str; 3] = [
    "RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN",
    "RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN",
    "RTE_MBUF_F_RX_OUTER_L4_CKSUM_UNKNOWN",
];

/// The line DPDK 22.11's testpmd prints for one of our frames of `len` bytes with `middle`
/// after `nb_segs=1` (as `dpdk-testpmd` printed it for the unmarked frames on a veth pair).
fn dpdk_line(len: usize, middle: &str, queue: u16) -> String {
    format!(
        "  src=02:00:00:00:00:01 - dst=00:11:22:33:44:55 - pool=mb_pool_0 - type=0x0800 - length={len} - nb_segs=1{middle} - {SW} - Receive queue=0x{queue:x}"
    )
}

fn flags_line(before: &[&str], after: &[&str]) -> String {
    let mut names: Vec<&str> = before.to_vec();
    names.extend(&UNKNOWN_CKSUMS[..2]);
    names.extend(after);
    names.push(UNKNOWN_CKSUMS[2]);
    format!("  ol_flags: {} ", names.join(" "))
}

#[test]
fn testpmd_flow_session_over_af_packet() {
    if !rpdk_testsupport::require_root("testpmd_flow_session_over_af_packet") {
        return;
    }
    let ns = NetNs::new("tpfl").unwrap();
    ns.add_veth("fla", "flb").unwrap();
    let peer = {
        let _in = ns.enter().unwrap();
        RawSocket::open("flb")
    };
    let mut s = session(
        &ns,
        "fla",
        &["-i", "--rxq=4", "--txq=4", "--disable-rss", "--nb-cores=1"],
    );
    s.wait_for("testpmd> ", 1, Duration::from_secs(10));
    assert!(
        s.cmd("set fwd rxonly")
            .0
            .contains("Set rxonly packet forwarding mode")
    );
    assert!(
        s.cmd("set verbose 1")
            .0
            .contains("Change verbose level from 0 to 1")
    );
    assert!(s.cmd("show port 0 rss-hash").0.contains("RSS disabled"));
    s.cmd("start");

    // Rules, created while forwarding runs.
    let head = "flow create 0 ingress pattern eth / ipv4 dst is 192.168.1.1 / udp dst is";
    let rules = [
        format!("{head} 1001 / end actions queue index 1 / count / end"),
        format!("{head} 1002 / end actions mark id 7 / queue index 2 / end"),
        format!("{head} 1003 / end actions flag / queue index 3 / end"),
        format!("{head} 1004 / end actions count / drop / end"),
        format!("{head} 1005 / end actions rss types udp end queues 2 3 end / end"),
        format!("{head} 1006 / end actions jump group 1 / end"),
        "flow create 0 group 1 ingress pattern eth / end actions mark id 9 / queue index 1 / end"
            .to_string(),
        format!(
            "flow create 0 priority 0{} 1007 / end actions mark id 5 / passthru / end",
            &head[13..]
        ),
        format!(
            "flow create 0 priority 1{} 1007 / end actions queue index 2 / end",
            &head[13..]
        ),
    ];
    for (id, r) in rules.iter().enumerate() {
        let (o, e) = s.cmd(r);
        assert_eq!(o, format!("Flow rule #{id} created\n"), "{r}: {e}");
    }
    let (o, _) =
        s.cmd("flow validate 0 ingress pattern eth / ipv4 / end actions queue index 1 / end");
    assert_eq!(o, "Flow rule validated\n");

    // Refused rules and bad syntax: testpmd's replies, and it stays alive.
    for (line, want) in [
        (
            "flow create 0 ingress pattern eth / end actions queue index 9 / end",
            "port_flow_complain(): Caught PMD error type 15 (action configuration): ",
        ),
        (
            "flow validate 0 ingress pattern eth / udp / end actions drop / end",
            "port_flow_complain(): Caught PMD error type 13 (specific pattern item): ",
        ),
        (
            "flow create 0 pattern eth / end actions drop / end",
            "port_flow_complain(): Caught PMD error type ",
        ),
        (
            "flow create 0 ingress pattern eth / end actions mark id 1 / end",
            "port_flow_complain(): Caught PMD error type 14 (number of actions): ",
        ),
    ] {
        let (o, e) = s.cmd(line);
        assert_eq!(o, "", "{line}");
        assert!(e.contains(want), "{line}: {e}");
    }
    for bad in [
        "flow create 0 ingress pattern eth / ipv5 / end actions drop / end",
        "flow create 0 ingress pattern eth / ipv4 dst is 300.1.1.1 / end actions drop / end",
        "flow frobnicate 0",
        "flow destroy 0 rule x",
    ] {
        assert_eq!(s.cmd(bad).0, "Bad arguments\n", "{bad}");
    }

    // One frame per rule, each of its own length, and two that no rule claims.
    let sends: [(u16, usize, Option<u16>); 9] = [
        (1001, 101, None),
        (1002, 102, None),
        (1003, 103, None),
        (1004, 104, None),
        (1005, 105, None),
        (1006, 106, None),
        (1007, 107, None),
        (2000, 168, None),
        (2000, 172, Some(5)),
    ];
    for &(port, len, vlan) in &sends {
        peer.send(&frame(port, len, vlan));
    }
    s.wait_for("  src=", 8, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    let got = dumped(&s.out());
    let one = |len: u32| -> Dumped {
        let d = got
            .get(&len)
            .unwrap_or_else(|| panic!("no dump of {len}: {got:?}"));
        assert_eq!(d.len(), 1, "{d:?}");
        d[0].clone()
    };
    // The frames no rule claims: exactly the lines dpdk-testpmd prints for them.
    let d = one(168);
    assert_eq!(
        (d.queue, d.line.as_str()),
        (0, dpdk_line(168, "", 0).as_str())
    );
    assert_eq!(d.flags, flags_line(&[], &[]));
    let d = one(172);
    assert_eq!(d.queue, 0);
    assert_eq!(
        d.line,
        "  src=02:00:00:00:00:01 - dst=00:11:22:33:44:55 - pool=mb_pool_0 - type=0x8100 - length=172 - nb_segs=1 - VLAN tci=0x5 - sw ptype: L2_ETHER_VLAN L3_IPV4 L4_UDP  - l2_len=18 - l3_len=20 - l4_len=8 - Receive queue=0x0"
    );
    assert_eq!(d.flags, flags_line(&["RTE_MBUF_F_RX_VLAN"], &[]));
    // QUEUE, MARK, FLAG, JUMP, PASSTHRU.
    let d = one(101);
    assert_eq!((d.queue, d.line), (1, dpdk_line(101, "", 1)));
    let d = one(102);
    assert_eq!(
        (d.queue, d.line),
        (2, dpdk_line(102, " - FDIR matched ID=0x7", 2))
    );
    assert_eq!(
        d.flags,
        flags_line(&["RTE_MBUF_F_RX_FDIR"], &["RTE_MBUF_F_RX_FDIR_ID"])
    );
    let d = one(103);
    assert_eq!(
        (d.queue, d.line),
        (3, dpdk_line(103, " - FDIR matched hash=0x0 ID=0x0 ", 3))
    );
    assert_eq!(d.flags, flags_line(&["RTE_MBUF_F_RX_FDIR"], &[]));
    let d = one(106);
    assert_eq!(
        (d.queue, d.line),
        (1, dpdk_line(106, " - FDIR matched ID=0x9", 1))
    );
    let d = one(107);
    assert_eq!(
        (d.queue, d.line),
        (2, dpdk_line(107, " - FDIR matched ID=0x5", 2))
    );
    // RSS: a hash, one of the rule's queues.
    let d = one(105);
    assert!(d.queue == 2 || d.queue == 3, "{d:?}");
    let hash = d.line.split(" - RSS hash=0x").nth(1).expect("an RSS hash");
    let hash = hash.split(' ').next().unwrap();
    assert!(u32::from_str_radix(hash, 16).is_ok(), "{d:?}");
    assert_eq!(
        d.line,
        dpdk_line(
            105,
            &format!(" - RSS hash=0x{hash} - RSS queue=0x{:x}", d.queue),
            d.queue
        )
    );
    assert_eq!(d.flags, flags_line(&["RTE_MBUF_F_RX_RSS_HASH"], &[]));
    // DROP: never dumped, counted.
    assert!(!got.contains_key(&104), "{got:?}");

    let count = |hits: u64, bytes: u64| {
        format!("COUNT:\n hits_set: 1\n bytes_set: 1\n hits: {hits}\n bytes: {bytes}\n")
    };
    assert_eq!(s.cmd("flow query 0 0 count").0, count(1, 101));
    assert_eq!(s.cmd("flow query 0 3 count").0, count(1, 104));
    let (o, e) = s.cmd("flow query 0 1 count");
    assert!(
        e.contains("port_flow_complain(): Caught PMD error type 16"),
        "{o}{e}"
    );
    let list = s.cmd("flow list 0").0;
    let rows: Vec<&str> = list.lines().collect();
    assert_eq!(rows[0], "ID\tGroup\tPrio\tAttr\tRule");
    assert_eq!(rows[1], "0\t0\t0\ti--\tETH IPV4 UDP => QUEUE COUNT");
    assert!(rows.contains(&"6\t1\t0\ti--\tETH => MARK QUEUE"), "{list}");
    assert_eq!(rows.len(), 10, "{list}");

    // Destroyed while forwarding: the next frame of that rule goes to queue 0, unmarked.
    assert_eq!(s.cmd("flow destroy 0 rule 1").0, "Flow rule #1 destroyed\n");
    peer.send(&frame(1002, 110, None));
    s.wait_for("  src=", 9, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(100));
    let d = dumped(&s.out())
        .remove(&110)
        .expect("the frame after destroy");
    assert_eq!((d[0].queue, &d[0].line), (0, &dpdk_line(110, "", 0)));

    // Stopping the port flushes its rules (as testpmd does); traffic flows again after start.
    // (dpdk-testpmd 22.11 prints these lines the same way.)
    let (o, e) = s.cmd("port stop all");
    assert_eq!(o, "Stopping ports...\nDone\n");
    assert!(
        e.contains("Please remove port 0 from forwarding configuration."),
        "{e}"
    );
    s.cmd("stop");
    let (o, e) = s.cmd("port stop all");
    assert_eq!(
        o, "Stopping ports...\nChecking link statuses...\nDone\n",
        "{e}"
    );
    assert_eq!(s.cmd("flow list 0").0, "");
    let (o, e) = s.cmd("port start all");
    let mac = o.strip_prefix("Port 0: ").and_then(|r| r.split_once('\n'));
    assert!(
        mac.is_some_and(|(m, rest)| m.len() == 17
            && m == m.to_uppercase()
            && rest == "Checking link statuses...\nDone\n"),
        "{o}{e}"
    );
    s.cmd("start");
    peer.send(&frame(1001, 111, None));
    s.wait_for("  src=", 10, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(100));
    let d = dumped(&s.out())
        .remove(&111)
        .expect("the frame after restart");
    assert_eq!((d[0].queue, &d[0].line), (0, &dpdk_line(111, "", 0)));
    assert!(
        s.cmd("set verbose 0")
            .0
            .contains("Change verbose level from 1 to 0")
    );
    s.cmd("stop");
    s.send("quit");
    let status = s.exit_status(Duration::from_secs(20));
    assert!(status.success(), "{}\n{}", s.out(), s.err());
    assert!(s.out().contains("Bye..."));
}

/// `--cmdline-file`: the rules are there before the first prompt, echoed as testpmd does.
#[test]
fn testpmd_cmdline_file_loads_rules() {
    let CmdlineRun {
        stdout,
        stderr,
        file,
    } = null_pair_with_cmdline_file(
        env!("CARGO_BIN_EXE_rpdk-testpmd"),
        "flowcmd",
        "flow create 0 ingress pattern eth / ipv4 / udp dst is 53 / end actions drop / end\n\
         flow create 0 ingress pattern eth / ipv4 / udp dst is 54 / end actions queue index 5 / end\n\
         flow list 0\n",
        None,
    );
    let i = stdout
        .find("testpmd> flow create 0 ingress pattern eth / ipv4 / udp dst is 53")
        .expect("the first command echoed");
    let rest = &stdout[i..];
    assert!(rest.contains("Flow rule #0 created\n"), "{stdout}");
    assert!(
        rest.contains("0\t0\t0\ti--\tETH IPV4 UDP => DROP\n"),
        "{stdout}"
    );
    assert!(
        stderr.contains("port_flow_complain(): Caught PMD error type 15"),
        "queue 5 of 1: {stderr}"
    );
    assert!(
        rest.contains(&format!("Read CLI commands from {file}\n")),
        "{stdout}"
    );
    let after = rest.split("Read CLI commands from").nth(1).unwrap();
    assert!(
        after.contains("testpmd> "),
        "the prompt after the file: {stdout}"
    );
}

/// testpmd's meter commands and a METER rule, from `--cmdline-file` on null ports: profiles,
/// a policy, a meter, the rule, the meter's statistics after forwarding, and a refusal.
#[test]
fn testpmd_meter_commands_and_a_metered_rule() {
    // 1 byte per second with 640-byte buckets: of net_null's 64-byte frames, 10 go green, 10
    // yellow, and every other one red (dropped by the policy).
    let CmdlineRun { stdout, stderr, .. } = null_pair_with_cmdline_file(
        env!("CARGO_BIN_EXE_rpdk-testpmd"),
        "mtrcmd",
        "add port meter profile srtcm_rfc2697 0 1 1 640 640 0\n\
         add port meter policy 0 1 g_actions end y_actions end r_actions drop / end\n\
         create port meter 0 7 1 1 yes 0xff 0 g 0\n\
         create port meter 0 7 1 1 yes 0xff 0 g 0\n\
         flow create 0 ingress pattern eth / end actions meter mtr_id 7 / queue index 0 / end\n\
         show port meter cap 0\n",
        Some((
            Duration::from_millis(500),
            "stop\nshow port meter stats 0 7 no\nquit\n",
        )),
    );
    assert!(
        stdout.contains("Flow rule #0 created\n"),
        "{stdout}{stderr}"
    );
    assert!(stdout.contains("cap.n_max 65536\n"), "{stdout}");
    assert!(
        stderr.contains("meter id: cause: 0x7, meter 7 exists (error 5)"),
        "the second create: {stderr}"
    );
    let stat = |name: &str| -> u64 {
        let line = stdout
            .lines()
            .map(|l| l.trim_start_matches("testpmd> ").trim_start())
            .find(|l| l.starts_with(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no {name} line: {stdout}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(stat("Pkts G"), 10);
    assert_eq!(stat("Bytes G"), 640);
    assert_eq!(stat("Pkts Y"), 10);
    let red = stat("Pkts R");
    assert!(
        red > 1000,
        "net_null sends far more than 20 frames in 0.5 s: {red}"
    );
    assert_eq!(stat("Pkts DROPPED"), red);
}

/// Rewrite and VLAN actions in a testpmd session: an ingress rule pushing a tag, setting its
/// VLAN id, rewriting the destination address and setting the metadata; the verbose line then
/// shows the tag as a received one (`type=0x8100`, `VLAN tci=`, the VLAN packet type) and the
/// metadata (`Rx metadata:`), as testpmd does for such a frame.
#[test]
fn testpmd_rewrite_and_vlan_actions() {
    if !rpdk_testsupport::require_root("testpmd_rewrite_and_vlan_actions") {
        return;
    }
    let ns = NetNs::new("tprw").unwrap();
    ns.add_veth("rwa", "rwb").unwrap();
    let peer = {
        let _in = ns.enter().unwrap();
        RawSocket::open("rwb")
    };
    let mut s = session(
        &ns,
        "rwa",
        &["-i", "--rxq=2", "--txq=2", "--disable-rss", "--nb-cores=1"],
    );
    s.wait_for("testpmd> ", 1, Duration::from_secs(10));
    s.cmd("set fwd rxonly");
    s.cmd("set verbose 1");
    s.cmd("start");
    let (o, e) = s.cmd(
        "flow create 0 ingress pattern eth / ipv4 / udp dst is 1001 / end actions \
         of_push_vlan ethertype 0x8100 / of_set_vlan_vid vlan_vid 100 / \
         set_ipv4_dst ipv4_addr 192.168.1.9 / set_meta data 0x1234 / queue index 1 / end",
    );
    assert_eq!(o, "Flow rule #0 created\n", "{e}");
    let (o, e) = s.cmd(
        "flow create 0 ingress pattern eth / end actions set_ipv4_dst ipv4_addr 1.2.3.4 / queue index 1 / end",
    );
    assert_eq!(o, "", "refused: no IPV4 item");
    assert!(
        e.contains("port_flow_complain(): Caught PMD error type 16 (specific action): "),
        "{e}"
    );
    peer.send(&frame(1001, 100, None));
    s.wait_for("  src=", 1, Duration::from_secs(10));
    let got = dumped(&s.out());
    let d = &got.get(&104).unwrap_or_else(|| panic!("{got:?}"))[0];
    assert_eq!(d.queue, 1);
    assert_eq!(
        d.line,
        "  src=02:00:00:00:00:01 - dst=00:11:22:33:44:55 - pool=mb_pool_0 - type=0x8100 - length=104 - nb_segs=1 - VLAN tci=0x64 - Rx metadata: 0x1234 - sw ptype: L2_ETHER_VLAN L3_IPV4 L4_UDP  - l2_len=18 - l3_len=20 - l4_len=8 - Receive queue=0x1"
    );
    assert!(d.flags.contains("RTE_MBUF_F_RX_VLAN "), "{}", d.flags);
    assert!(
        !d.flags.contains("RTE_MBUF_F_RX_VLAN_STRIPPED"),
        "{}",
        d.flags
    );
    s.cmd("stop");
    s.send("quit");
}
