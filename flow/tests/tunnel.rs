//! Tunnel decap and encap in the engine, written as testpmd users write them (`set raw_encap`,
//! `set vxlan`, then `flow create`): the packets that come out, the rules of later groups
//! matching the decapsulated packet, counted drops of packets the edits cannot take, the
//! refusals, and testpmd's replies to the `set` commands.

use etherparse::PacketBuilder;
use rpdk_flow::syntax::{EncapConfs, FlowCommand, execute_with, is_encap_command, parse_with};
use rpdk_flow::{Direction, ErrorType, Fate, FlowRule, FlowTable};
use rpdk_mbuf::net::{Ethernet, Ipv4, Ipv6, Udp};
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, Mbuf, PacketType, PktmbufPool};
use rpdk_testsupport::{eal_args, serial};
use std::sync::Arc;

fn set(c: &mut EncapConfs, line: &str) {
    assert!(is_encap_command(line), "{line}");
    let o = c.execute(line, 0);
    assert_eq!((o.out.as_str(), o.err.as_str()), ("", ""), "{line}");
}

fn rule(c: &EncapConfs, text: &str) -> FlowRule {
    match parse_with(&format!("flow create 0 {text}"), c) {
        Ok(FlowCommand::Create { rule, .. }) => rule,
        other => panic!("{text}: {other:?}"),
    }
}

fn table(c: &EncapConfs, rules: &[&str]) -> FlowTable {
    let t = FlowTable::new(0, 4);
    for r in rules {
        t.create(rule(c, r)).unwrap_or_else(|e| panic!("{r}: {e}"));
    }
    t
}

/// Ethernet / IPv4 / UDP: the inner frame of the tunnels.
fn inner() -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 8])
        .ipv4([172, 16, 0, 1], [172, 16, 0, 9], 64)
        .udp(1111, 2222)
        .write(&mut v, b"the inner bytes")
        .unwrap();
    v
}

/// `inner()` in VXLAN `vni` over UDP/IPv4.
fn vxlan(vni: u32) -> Vec<u8> {
    let mut vx = vec![0x08, 0, 0, 0];
    vx.extend_from_slice(&(vni << 8).to_be_bytes());
    vx.extend_from_slice(&inner());
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(5000, 4789)
        .write(&mut v, &vx)
        .unwrap();
    v
}

fn mbuf(pool: &PktmbufPool, f: &[u8]) -> Mbuf {
    let mut m = pool.alloc().unwrap();
    m.append(f.len() as u16).unwrap().copy_from_slice(f);
    m.set_packet_type(m.parse_packet_type(PacketType::ALL_MASK).0);
    m
}

/// The outer IPv4 or IPv6 header, UDP and VXLAN of `f` checked; the VNI and what VXLAN
/// carries.
fn vxlan_of(f: &[u8]) -> (u32, Vec<u8>) {
    let eth = Ethernet::new_checked(f).unwrap();
    let udp = match eth.ether_type() {
        0x0800 => {
            let ip = Ipv4::new_checked(eth.payload()).unwrap();
            assert!(ip.verify_checksum(), "IPv4 checksum");
            assert_eq!(ip.total_len() as usize, f.len() - 14);
            assert_ne!(ip.ttl(), 0);
            let u = Udp::new_checked(ip.payload()).unwrap();
            assert!(u.checksum() == 0 || u.verify_checksum_ipv4(ip.src(), ip.dst()));
            ip.payload().to_vec()
        }
        0x86dd => {
            let ip = Ipv6::new_checked(eth.payload()).unwrap();
            assert_eq!(ip.payload_len() as usize, f.len() - 54);
            let u = Udp::new_checked(ip.payload()).unwrap();
            assert!(u.verify_checksum_ipv6(ip.src(), ip.dst()), "UDP checksum");
            ip.payload().to_vec()
        }
        t => panic!("EtherType {t:#x}"),
    };
    let u = Udp::new_checked(&udp[..]).unwrap();
    assert_eq!(u.len() as usize, udp.len());
    let vx = u.payload();
    assert_eq!(vx[0], 0x08, "VXLAN flags");
    (
        u32::from_be_bytes([0, vx[4], vx[5], vx[6]]),
        vx[8..].to_vec(),
    )
}

#[test]
fn tunnels_in_the_engine() {
    let _s = serial();
    let _eal = rpdk_eal::init(eal_args::<&str>("flow-tunnel-test", &[])).unwrap();
    let pool = PktmbufPool::create("tunnel_pool", 63, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let mut c = EncapConfs::default();

    // VXLAN_DECAP, then group 1 matches the inner headers.
    let t = table(
        &c,
        &[
            "ingress pattern eth / ipv4 / udp / vxlan vni is 42 / end actions vxlan_decap / jump group 1 / end",
            "ingress group 1 pattern eth / ipv4 dst is 172.16.0.9 / udp dst is 2222 / end actions count / queue index 3 / end",
        ],
    );
    let mut pkts = [mbuf(&pool, &vxlan(42)), mbuf(&pool, &vxlan(7))];
    let mut v = [Default::default(); 2];
    t.classify(Direction::Ingress, &mut pkts, &mut v);
    assert_eq!(v[0].fate, Fate::Queue(3));
    assert_eq!(pkts[0].data(), &inner()[..], "identical inner bytes");
    assert!(!pkts[0].packet_type().is_tunnel());
    assert_eq!((pkts[0].l2_len(), pkts[0].l3_len()), (14, 20));
    assert_eq!(v[1].fate, Fate::Default);
    assert_eq!(pkts[1].data(), &vxlan(7)[..], "another VNI is left alone");
    assert_eq!(t.query_count(1, false).unwrap().hits, 1);

    // VXLAN_ENCAP with `set vxlan`, over IPv4 and IPv6.
    for (line, v6) in [
        (
            "set vxlan ip-version ipv4 vni 4 udp-src 4 udp-dst 4789 ip-src 127.0.0.1 ip-dst 128.0.0.1 eth-src 11:11:11:11:11:11 eth-dst 22:22:22:22:22:22",
            false,
        ),
        (
            "set vxlan-with-vlan ip-version ipv6 vni 5 udp-src 4 udp-dst 4789 ip-src 2001:db8::1 ip-dst 2001:db8::2 vlan-tci 34 eth-src 11:11:11:11:11:11 eth-dst 22:22:22:22:22:22",
            true,
        ),
    ] {
        set(&mut c, line);
        let t = table(
            &c,
            &["ingress pattern eth / ipv4 / udp / end actions vxlan_encap / queue index 1 / end"],
        );
        let mut pkts = [mbuf(&pool, &inner())];
        let mut v = [Default::default(); 1];
        t.classify(Direction::Ingress, &mut pkts, &mut v);
        assert_eq!(v[0].fate, Fate::Queue(1));
        let mut f = pkts[0].data().to_vec();
        assert_eq!(
            &f[..12],
            &[
                0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11
            ]
        );
        if v6 {
            assert_eq!(&f[12..16], &[0x81, 0, 0, 34], "the tag");
            f.drain(12..16);
        }
        assert_eq!(vxlan_of(&f), (if v6 { 5 } else { 4 }, inner()));
        assert_eq!(pkts[0].packet_type().tunnel(), PacketType::TUNNEL_VXLAN);
    }

    // RAW_DECAP and RAW_ENCAP: VXLAN into GRE.
    set(&mut c, "set raw_decap 0 eth / ipv4 / udp / vxlan / end_set");
    set(
        &mut c,
        "set raw_encap 1 eth src is 02:00:00:00:00:aa dst is 02:00:00:00:00:bb / ipv4 src is 9.9.9.1 dst is 9.9.9.2 / gre protocol is 0x6558 / end_set",
    );
    let t = table(
        &c,
        &[
            "ingress pattern eth / ipv4 / udp / vxlan / end actions raw_decap index 0 / raw_encap index 1 / queue index 2 / end",
        ],
    );
    drop(pkts);
    let mut pkts = [mbuf(&pool, &vxlan(1))];
    let mut v = [Default::default(); 1];
    t.classify(Direction::Ingress, &mut pkts, &mut v);
    assert_eq!(v[0].fate, Fate::Queue(2));
    let f = pkts[0].data();
    let ip = Ipv4::new_checked(&f[14..]).unwrap();
    assert!(ip.verify_checksum());
    assert_eq!((ip.protocol(), ip.total_len() as usize), (47, f.len() - 14));
    assert_eq!(&f[34..38], &[0, 0, 0x65, 0x58]);
    assert_eq!(&f[38..], &inner()[..]);
    assert_eq!(pkts[0].packet_type().tunnel(), PacketType::TUNNEL_NVGRE);

    // NVGRE_ENCAP then NVGRE_DECAP on egress gives the frame back.
    set(
        &mut c,
        "set nvgre ip-version ipv4 tni 0x123 ip-src 1.1.1.1 ip-dst 2.2.2.2 eth-src 02:00:00:00:00:01 eth-dst 02:00:00:00:00:02",
    );
    let t = table(
        &c,
        &[
            "egress pattern eth / ipv4 / udp / end actions nvgre_encap / jump group 1 / end",
            "egress group 1 pattern eth / ipv4 / nvgre tni is 0x123 / end actions nvgre_decap / count / end",
        ],
    );
    drop(pkts);
    let mut pkts = [mbuf(&pool, &inner())];
    let mut v = [Default::default(); 1];
    t.classify(Direction::Egress, &mut pkts, &mut v);
    assert_eq!(v[0].fate, Fate::Default);
    assert_eq!(pkts[0].data(), &inner()[..]);
    assert_eq!(t.query_count(1, false).unwrap().hits, 1);

    // Packets the edits cannot take are dropped and counted, the mbufs left whole.
    let t = table(
        &c,
        &[
            "ingress pattern eth / ipv4 / udp / vxlan / end actions raw_decap index 0 / queue index 1 / end",
        ],
    );
    let mut short = vxlan(1);
    short.truncate(14 + 20 + 8 + 8); // the VXLAN header, without the inner frame
    drop(pkts);
    let mut pkts = [mbuf(&pool, &short[..49]), mbuf(&pool, &vxlan(1))];
    let mut v = [Default::default(); 2];
    t.classify(Direction::Ingress, &mut pkts, &mut v);
    // 49 bytes: the parser sees no VXLAN layer, so the rule does not match.
    assert_eq!(v[0].fate, Fate::Default);
    assert_eq!(v[1].fate, Fate::Queue(1));
    let t = table(
        &c,
        &["ingress pattern eth / ipv4 / end actions raw_decap index 0 / queue index 1 / end"],
    );
    let mut tcp = Vec::new();
    PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 64)
        .tcp(1, 2, 3, 4)
        .write(&mut tcp, &[])
        .unwrap();
    drop(pkts);
    let mut pkts = [mbuf(&pool, &short), mbuf(&pool, &tcp)];
    let mut v = [Default::default(); 2];
    t.classify(Direction::Ingress, &mut pkts, &mut v);
    assert_eq!(
        (v[0].fate, v[0].edit_failed),
        (Fate::Drop, true),
        "a VXLAN header alone would leave no frame"
    );
    assert_eq!(pkts[0].data(), &short[..]);
    assert_eq!(
        (v[1].fate, v[1].edit_failed),
        (Fate::Drop, true),
        "TCP is not UDP"
    );
    assert_eq!(pkts[1].data(), &tcp[..]);
    assert_eq!(t.edit_drops(), 2);
    // No headroom for an encap.
    let t = table(
        &c,
        &["ingress pattern eth / end actions vxlan_encap / queue index 1 / end"],
    );
    let mut m = pool.alloc().unwrap();
    m.set_headroom(0).unwrap();
    m.append(inner().len() as u16)
        .unwrap()
        .copy_from_slice(&inner());
    drop(pkts);
    let mut pkts = [m];
    let mut v = [Default::default(); 1];
    t.classify(Direction::Ingress, &mut pkts, &mut v);
    assert_eq!(v[0].fate, Fate::Drop);
    assert_eq!(t.edit_drops(), 1);
    drop(pkts);
    assert_eq!(pool.avail_count(), 63, "every mbuf back in the pool");
}

#[test]
fn tunnel_rules_are_refused_where_they_cannot_run() {
    let mut c = EncapConfs::default();
    let t = Arc::new(FlowTable::new(0, 4));
    let run = |c: &EncapConfs, line: &str| execute_with(line, c, &|_| Some(t.clone()));
    // An empty buffer.
    let o = run(
        &c,
        "flow create 0 ingress pattern eth / end actions raw_encap index 3 / queue index 0 / end",
    );
    assert!(o.err.contains("Caught PMD error type 15"), "{o:?}");
    assert!(o.err.contains("RAW_ENCAP: no header data"), "{o:?}");
    // VXLAN_DECAP without a VXLAN item: RTE_FLOW_ERROR_TYPE_ACTION.
    let e = t
        .validate(&rule(
            &c,
            "ingress pattern eth / ipv4 / udp / end actions vxlan_decap / queue index 0 / end",
        ))
        .unwrap_err();
    assert_eq!(e.kind, ErrorType::Action);
    assert!(e.message.contains("needs a VXLAN item"), "{e}");
    // An L3 decap alone leaves an IP packet.
    set(
        &mut c,
        "set raw_decap 2 eth / ipv4 / gre protocol is 0x0800 / end_set",
    );
    let e = t
        .validate(&rule(
            &c,
            "ingress pattern eth / ipv4 / gre / end actions raw_decap index 2 / queue index 0 / end",
        ))
        .unwrap_err();
    assert!(
        e.message
            .contains("RAW_ENCAP of an Ethernet header must follow"),
        "{e}"
    );
    set(&mut c, "set raw_encap 2 eth / end_set");
    t.validate(&rule(
        &c,
        "ingress pattern eth / ipv4 / gre / end actions raw_decap index 2 / raw_encap index 2 / queue index 0 / end",
    ))
    .unwrap();
    // Not in a meter policy.
    let o = rpdk_flow::syntax::execute_meter(
        "add port meter policy 0 1 g_actions vxlan_decap / end y_actions end r_actions drop / end",
        &|_| Some(t.clone()),
    );
    assert_eq!(o.out, "Bad arguments\n", "{o:?}");
    let e = t
        .meters()
        .policy_add(
            1,
            rpdk_flow::meter::MeterPolicy::new().actions(
                rpdk_flow::meter::Color::Green,
                vec![rpdk_flow::Action::VxlanDecap],
            ),
        )
        .unwrap_err();
    assert!(
        e.message
            .contains("VXLAN_DECAP is not allowed in a meter policy"),
        "{e:?}"
    );
}

#[test]
fn set_commands_reply_as_testpmd() {
    let mut c = EncapConfs::default();
    // Verbose: the buffer's size.
    let o = c.execute("set raw_encap 3 eth / ipv4 / udp / vxlan / end_set", 1);
    assert_eq!(o.out, "total data size is 50\n");
    assert_eq!(c.raw_encap(3).len(), 50);
    // Without an index: buffer 0, from eth.
    let o = c.execute("set raw_decap eth / ipv6 / end_set", 0);
    assert_eq!((o.out.as_str(), o.err.as_str()), ("", ""));
    assert_eq!(c.raw_decap(0).len(), 54);
    // An item testpmd cannot put in a buffer empties it.
    let o = c.execute("set raw_encap 3 eth / ipv4 / icmp / end_set", 0);
    assert_eq!(o.err, "Error - Not supported item\n");
    assert!(c.raw_encap(3).is_empty());
    for bad in [
        "set raw_encap 8 eth / end_set",
        "set raw_encap ipv4 / end_set",
        "set raw_encap 0 eth / ipv4",
        "set vxlan ip-version ipv4 vni 4 udp-src 4 udp-dst 4 ip-src 127.0.0.1 ip-dst 128.0.0.1 eth-src 11:11:11:11:11:11",
        "set vxlan ip-version ipv5 vni 4 udp-src 4 udp-dst 4 ip-src 127.0.0.1 ip-dst 128.0.0.1 eth-src 11:11:11:11:11:11 eth-dst 22:22:22:22:22:22",
        "set vxlan ip-version ipv4 vni 4 udp-src 70000 udp-dst 4 ip-src 127.0.0.1 ip-dst 128.0.0.1 eth-src 11:11:11:11:11:11 eth-dst 22:22:22:22:22:22",
        "set nvgre ip-version ipv6 tni 4 ip-src 127.0.0.1 ip-dst 128.0.0.1 eth-src 11:11:11:11:11:11 eth-dst 22:22:22:22:22:22",
    ] {
        let o = c.execute(bad, 0);
        assert_eq!(o.out, "Bad arguments\n", "{bad}");
        assert!(o.syntax.is_some());
    }
    assert!(!is_encap_command("set fwd io"));
    assert!(is_encap_command("set vxlan-tos-ttl ip-version ipv4"));
    let o = c.execute(
        "set vxlan-tos-ttl ip-version ipv4 vni 4 udp-src 4 udp-dst 4 ip-tos 0x10 ip-ttl 9 ip-src 127.0.0.1 ip-dst 128.0.0.1 eth-src 11:11:11:11:11:11 eth-dst 22:22:22:22:22:22",
        0,
    );
    assert_eq!(o.out, "");
    let def = c.vxlan_definition();
    let ip = def[1].spec.as_ref().unwrap();
    assert_eq!((ip[1], ip[8]), (0x10, 9), "TOS and TTL");
}

/// `TITLE at [ADDR], len=N`: the title and length, the address left out (a process's own).
fn dump_head(line: &str) -> (&str, &str) {
    let (title, rest) = line.split_once(" at [").expect(line);
    let (addr, len) = rest.split_once("], ").expect(line);
    assert!(addr.starts_with("0x"), "{line}");
    (title, len)
}

#[test]
fn show_raw_dumps_the_buffers_as_testpmd() {
    let mut c = EncapConfs::default();
    set(
        &mut c,
        "set raw_encap 1 eth src is 02:00:00:00:00:aa dst is 02:00:00:00:00:bb / ipv4 src is 9.9.9.1 dst is 9.9.9.2 / gre protocol is 0x6558 / end_set",
    );
    assert!(is_encap_command("show raw_encap 1"));
    assert!(is_encap_command("show raw_decap all"));
    assert!(!is_encap_command("show port stats all"));
    let o = c.execute("show raw_encap 1", 0);
    assert_eq!(o.err, "");
    let lines: Vec<&str> = o.out.lines().collect();
    assert_eq!(lines.len(), 5, "{}", o.out);
    assert_eq!(lines[0], "", "the title starts with a newline");
    assert_eq!(dump_head(lines[1]), ("index: 1", "len=38"));
    // Ethernet (EtherType filled), IPv4 (version/IHL and protocol filled), GRE: rte_hexdump's
    // layout, the last line padded.
    assert_eq!(
        &lines[2..],
        [
            "00000000: 02 00 00 00 00 BB 02 00 00 00 00 AA 08 00 45 00 | ..............E.",
            "00000010: 00 00 00 00 00 00 00 2F 00 00 09 09 09 01 09 09 | ......./........",
            "00000020: 09 02 00 00 65 58                               | ....eX",
        ]
    );
    // An empty buffer: its header alone. `all`: the eight, in order.
    let o = c.execute("show raw_decap 0", 0);
    let lines: Vec<&str> = o.out.lines().collect();
    assert_eq!(lines.len(), 2, "{}", o.out);
    assert_eq!(dump_head(lines[1]), ("index: 0", "len=0"));
    let o = c.execute("show raw_encap all", 0);
    let heads: Vec<(&str, &str)> = o
        .out
        .lines()
        .filter(|l| l.starts_with("index: "))
        .map(dump_head)
        .collect();
    let want: Vec<(String, &str)> = (0..8)
        .map(|i| {
            (
                format!("index: {i}"),
                if i == 1 { "len=38" } else { "len=0" },
            )
        })
        .collect();
    assert_eq!(
        heads,
        want.iter()
            .map(|(t, l)| (t.as_str(), *l))
            .collect::<Vec<_>>()
    );
    assert_eq!(o.out.lines().count(), 8 * 2 + 3);
    // Past the last buffer: testpmd's complaint; not a number: the parser's.
    let o = c.execute("show raw_encap 8", 0);
    assert_eq!(
        (o.out.as_str(), o.err.as_str()),
        ("", "index should be 0-7\n")
    );
    for bad in [
        "show raw_encap",
        "show raw_encap x",
        "show raw_encap 70000",
        "show raw_encap 1 2",
    ] {
        let o = c.execute(bad, 0);
        assert_eq!(o.out, "Bad arguments\n", "{bad}");
    }
}

/// Ethernet / IPv4 / UDP from `sport` to 2222, its payload naming `n`.
fn inner_flow(sport: u16, n: u8) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 8])
        .ipv4([172, 16, 0, 1], [172, 16, 0, 9], 64)
        .udp(sport, 2222)
        .write(&mut v, &[n; 20])
        .unwrap();
    v
}

/// The outer UDP source port of an encapsulated frame (its headers checked).
fn outer_sport(f: &[u8]) -> u16 {
    vxlan_of(f);
    let ip = if f[12..14] == [0x08, 0x00] { 20 } else { 40 };
    u16::from_be_bytes([f[14 + ip], f[15 + ip]])
}

#[test]
fn vxlan_encap_source_port_follows_the_inner_flow() {
    let _s = serial();
    let _eal = rpdk_eal::init(eal_args::<&str>("flow-tunnel-sport", &[])).unwrap();
    let pool = PktmbufPool::create("tunnel_sport", 63, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    for (v6, line) in [
        (
            false,
            "set vxlan ip-version ipv4 vni 4 udp-src 0 udp-dst 4789 ip-src 127.0.0.1 ip-dst 128.0.0.1 eth-src 11:11:11:11:11:11 eth-dst 22:22:22:22:22:22",
        ),
        (
            true,
            "set vxlan ip-version ipv6 vni 4 udp-src 0 udp-dst 4789 ip-src 2001:db8::1 ip-dst 2001:db8::2 eth-src 11:11:11:11:11:11 eth-dst 22:22:22:22:22:22",
        ),
    ] {
        let mut c = EncapConfs::default();
        set(&mut c, line);
        let t = table(
            &c,
            &["ingress pattern eth / ipv4 / udp / end actions vxlan_encap / queue index 1 / end"],
        );
        // Two inner flows (source ports 1000 and 1001), each twice with other payload bytes;
        // one packet carrying an RSS hash.
        let frames = [
            inner_flow(1000, 1),
            inner_flow(1001, 1),
            inner_flow(1000, 2),
            inner_flow(1001, 2),
            inner_flow(1000, 3),
        ];
        let mut pkts: Vec<Mbuf> = frames.iter().map(|f| mbuf(&pool, f)).collect();
        pkts[4].set_rss_hash(0x1234_5678);
        let mut v = vec![Default::default(); pkts.len()];
        t.classify(Direction::Ingress, &mut pkts, &mut v);
        assert!(v.iter().all(|v| v.fate == Fate::Queue(1)));
        let ports: Vec<u16> = pkts.iter().map(|m| outer_sport(m.data())).collect();
        for (m, f) in pkts.iter().zip(&frames) {
            assert_eq!(vxlan_of(m.data()), (4, f.clone()), "inner bytes intact");
            assert_eq!(m.data()[12..14] == [0x86, 0xdd], v6);
        }
        assert!(ports.iter().all(|&p| p >= 49152), "{ports:?}");
        assert_ne!(ports[0], ports[1], "two flows, two ports");
        assert_eq!(
            (ports[0], ports[1]),
            (ports[2], ports[3]),
            "stable per flow"
        );
        // With an RSS hash: from it, folded onto 49152-65535.
        let h = 0x1234_5678u32;
        assert_eq!(ports[4], 0xc000 | ((h ^ (h >> 16)) as u16 & 0x3fff));
        assert_eq!(ports[4], 0xc44c);
        // A fresh table (a new rule) gives the same ports: nothing random in the hash.
        let t2 = table(
            &c,
            &["ingress pattern eth / ipv4 / udp / end actions vxlan_encap / queue index 1 / end"],
        );
        let mut again = [mbuf(&pool, &frames[0]), mbuf(&pool, &frames[1])];
        let mut v = [Default::default(); 2];
        t2.classify(Direction::Ingress, &mut again, &mut v);
        assert_eq!(
            [outer_sport(again[0].data()), outer_sport(again[1].data())],
            [ports[0], ports[1]]
        );
        assert_eq!(t.edit_drops() + t2.edit_drops(), 0);
    }
    // A definition's non-zero source port is kept, whatever the flow.
    let mut c = EncapConfs::default();
    set(
        &mut c,
        "set vxlan ip-version ipv4 vni 4 udp-src 4 udp-dst 4789 ip-src 127.0.0.1 ip-dst 128.0.0.1 eth-src 11:11:11:11:11:11 eth-dst 22:22:22:22:22:22",
    );
    let t = table(
        &c,
        &["ingress pattern eth / ipv4 / udp / end actions vxlan_encap / queue index 1 / end"],
    );
    let mut pkts = [
        mbuf(&pool, &inner_flow(1000, 1)),
        mbuf(&pool, &inner_flow(1001, 1)),
    ];
    pkts[1].set_rss_hash(7);
    let mut v = [Default::default(); 2];
    t.classify(Direction::Ingress, &mut pkts, &mut v);
    assert_eq!(
        [outer_sport(pkts[0].data()), outer_sport(pkts[1].data())],
        [4, 4]
    );
    drop(pkts);
    assert_eq!(pool.avail_count(), 63, "every mbuf back in the pool");
}
