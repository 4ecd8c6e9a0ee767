//! rpdk-testpmd with hairpin queues and aging rules, as DPDK's test plans drive dpdk-testpmd:
//! two af_packet ports on veth pairs, `--rxq=1 --txq=1 --hairpinq=1 --hairpin-mode=0x12`
//! (ports paired, explicit TX flow mode), a rule sending matching frames to hairpin queue 1
//! forwards them out of port 1 unchanged while the application polls nothing, the others
//! reach the application once it forwards; a rule with `age timeout 1` whose flow stops
//! raises `Port 0: flow aged event` and `flow aged 0 destroy` lists and destroys it.

use std::time::{Duration, Instant};

use rpdk_testsupport::allowed_cpus;
use rpdk_testsupport::netns::NetNs;
use rpdk_testsupport::prompt::Prompted;
use rpdk_testsupport::raw::RawSocket;
use rpdk_testsupport::testpmd::in_netns;

/// UDP frame `i` from 10.0.0.1 to 192.168.1.1 port `dport` (etherparse builds it).
fn frame(i: u32, dport: u16) -> Vec<u8> {
    let mut f = Vec::new();
    let payload: Vec<u8> = (0..20 + i % 100).map(|k| (k * 3 + i) as u8).collect();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [0, 0x11, 0x22, 0x33, 0x44, 0x55])
        .ipv4([10, 0, 0, 1], [192, 168, 1, 1], 64)
        .udp(1000 + i as u16, dport)
        .write(&mut f, &payload)
        .unwrap();
    f
}

fn ours(f: &[u8]) -> bool {
    f.len() >= 34 && f[12..14] == [8, 0] && f[26..30] == [10, 0, 0, 1]
}

/// rpdk-testpmd in the namespace with EAL options `eal`, driven at its prompt.
fn session(ns: &NetNs, eal: &[&str], app: &[&str]) -> Prompted {
    in_netns(env!("CARGO_BIN_EXE_rpdk-testpmd"), ns, eal, app)
}

/// Runs `line` at the prompt; what it printed on stdout.
fn run(s: &mut Prompted, line: &str) -> String {
    s.cmd(line).0
}

#[test]
fn testpmd_hairpin_rule_and_aged_flows() {
    if !rpdk_testsupport::require_root("testpmd_hairpin_rule_and_aged_flows") {
        return;
    }
    let ns = NetNs::new("tphp").unwrap();
    ns.add_veth("tha", "thb").unwrap();
    ns.add_veth("tqa", "tqb").unwrap();
    let (into, out) = {
        let _in = ns.enter().unwrap();
        (RawSocket::open("thb"), RawSocket::open("tqb"))
    };
    let cpus = allowed_cpus();
    let (a, b) = (cpus[0], cpus[cpus.len() - 1]);
    let lcores = format!("0@{a},1@{b},2@{b}");
    let mut s = session(
        &ns,
        &[
            "--lcores",
            &lcores,
            "-s",
            "0x4",
            "--no-huge",
            "--no-shconf",
            "--file-prefix",
            "rpdkt-agehp-testpmd",
            "--vdev",
            "net_af_packet0,iface=tha",
            "--vdev",
            "net_af_packet1,iface=tqa",
        ],
        &[
            "-i",
            "--rxq=1",
            "--txq=1",
            "--hairpinq=1",
            "--hairpin-mode=0x12",
            "--nb-cores=1",
        ],
    );
    s.wait_for("testpmd> ", 1, Duration::from_secs(20));
    let o = run(
        &mut s,
        "flow create 0 ingress pattern eth / ipv4 dst is 192.168.1.1 / udp dst is 4789 / end actions queue index 1 / end",
    );
    assert_eq!(o, "Flow rule #0 created\n");

    // Not forwarding: the application polls nothing. Matching frames leave port 1 as they
    // came (explicit TX flow mode, no egress rule); the others wait in port 0's queue 0
    // (where `start` flushes them, as testpmd's flush_fwd_rx_queues does).
    let hit: Vec<Vec<u8>> = (0..50).map(|i| frame(i, 4789)).collect();
    let miss: Vec<Vec<u8>> = (0..10).map(|i| frame(i, 53)).collect();
    for (i, f) in hit.iter().enumerate() {
        into.send(f);
        if i % 5 == 0 {
            into.send(&miss[i / 5]);
        }
    }
    let got = out.recv_n_where(
        hit.len(),
        Duration::from_secs(5),
        Duration::from_millis(200),
        ours,
    );
    assert!(
        got == hit,
        "{} of {} matching frames out of port 1, identical and in order",
        got.len(),
        hit.len()
    );
    // Forwarding (rxonly): frames no rule takes reach the application.
    run(&mut s, "set fwd rxonly");
    run(&mut s, "start");
    for f in &miss {
        into.send(f);
    }
    std::thread::sleep(Duration::from_millis(300));
    let stats = run(&mut s, "stop");
    let port0 = stats
        .split("Forward statistics for port 0")
        .nth(1)
        .unwrap_or_else(|| panic!("no port 0 statistics in {stats}"));
    assert!(
        port0.contains(&format!("RX-packets: {:<14} RX-dropped", miss.len())),
        "the {} non-matching frames reach the application:\n{stats}",
        miss.len()
    );

    // Aging: frames of the flow for 1.5 s (the hairpin service's polling classifies them),
    // then none; the rule ages 1 s after the last one, the event within a second of that.
    let o = run(
        &mut s,
        "flow create 0 ingress pattern eth / ipv4 / udp dst is 5000 / end actions age timeout 1 / queue index 0 / end",
    );
    assert_eq!(o, "Flow rule #1 created\n");
    let end = Instant::now() + Duration::from_millis(1500);
    let mut i = 0;
    while Instant::now() < end {
        into.send(&frame(i, 5000));
        i += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    let last = Instant::now();
    assert_eq!(
        run(&mut s, "flow query 0 1 age"),
        "AGE:\n aged: 0\n sec_since_last_hit_valid: 1\n sec_since_last_hit: 0\n"
    );
    s.wait_for("Port 0: flow aged event", 1, Duration::from_secs(3));
    let after = last.elapsed();
    assert!(
        after >= Duration::from_millis(950) && after < Duration::from_millis(2100),
        "aged event {after:?} after the last frame (timeout 1 s)"
    );
    let o = run(&mut s, "flow aged 0 destroy");
    assert!(
        o.ends_with(
            "Port 0 total aged flows: 1\n\
             Type                \tID\tGroup\tPrio\tAttr\n\
             Flow                \t1\t0\t0\ti--\t\n\
             Flow rule #1 destroyed\n\
             \n1 flows destroyed\n"
        ),
        "{o:?}"
    );
    assert_eq!(run(&mut s, "flow aged 0"), "Port 0 total aged flows: 0\n");
    assert_eq!(
        run(&mut s, "flow list 0").lines().count(),
        2,
        "rule 0 is left"
    );
}
