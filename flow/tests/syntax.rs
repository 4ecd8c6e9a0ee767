//! testpmd's flow syntax: parse and print round-trip, and testpmd's replies.

mod common;

use common::*;
use rpdk_flow::syntax::{execute, parse};
use rpdk_flow::{Direction, FlowTable};
use std::sync::Arc;

/// Commands in the printer's canonical form: each parses and prints back unchanged.
const CANONICAL: &[&str] = &[
    "flow create 0 ingress pattern eth / ipv4 dst is 192.168.1.1 / end actions queue index 1 / end",
    "flow validate 1 group 2 priority 3 egress pattern end actions drop / end",
    "flow create 0 transfer pattern port_id id is 1 / end actions port_id id 2 / end",
    "flow create 0 ingress pattern eth dst is 00:aa:bb:cc:dd:ee src spec 02:00:00:00:00:01 type is 0x8100 / vlan pcp is 3 vid is 0x64 / ipv4 / end actions mark id 5 / jump group 1 / end",
    "flow create 0 ingress pattern ipv4 src spec 10.0.0.0 src prefix 8 dst spec 10.0.0.1 dst mask 255.0.255.0 / udp src is 0x400 dst spec 0x3e8 dst last 0x7d0 / end actions count / queue index 0 / end",
    "flow create 0 ingress pattern ipv6 src is 2001:db8::1 dst spec 2001:db8:: dst prefix 32 / tcp flags spec 2 flags mask 0x12 / end actions count identifier 7 / rss types ipv6-tcp ipv6-udp end queues 0 1 2 end / end",
    "flow create 0 ingress pattern eth / ipv4 / udp / vxlan vni is 0x2a / eth / ipv4 / end actions rss level 2 / end",
    "flow create 0 ingress pattern eth / ipv4 / gre c_rsvd0_ver spec 0x2000 c_rsvd0_ver mask 0x2000 protocol is 0x6558 / end actions passthru / end",
    "flow create 0 ingress pattern eth / ipv4 / nvgre tni is 0x123 / eth / end actions flag / drop / end",
    "flow create 0 ingress pattern eth / mpls label is 0x64 tc spec 1 s is 1 / end actions drop / end",
    "flow create 0 ingress pattern eth / ipv4 / udp / geneve vni is 7 protocol is 0x6558 optlen is 0 / eth / end actions drop / end",
    "flow create 0 ingress pattern eth / ipv4 / icmp type is 8 code is 0 / end actions drop / end",
    "flow create 0 ingress pattern eth / ipv6 / icmp6 type is 0x80 / end actions drop / end",
    "flow create 0 ingress pattern eth / ipv4 / sctp src is 1 tag is 0xdeadbeef / end actions drop / end",
    "flow create 0 ingress pattern void / any num is 2 / invert / raw relative is 1 search is 1 offset is -4 limit is 0x40 pattern is rpdk / end actions void / drop / end",
    "flow create 0 ingress pattern raw pattern_hex spec 00ff / end actions drop / end",
    // Found by the fuzzer: RAW without a pattern (create refuses it, the syntax does not).
    "flow create 1 ingress pattern raw relative is 1 search is 1 / end actions drop / end",
    "flow create 0 ingress pattern ipv4 dst last 0.0.7.208 / udp src mask 0xff00 src last 9 / end actions drop / end",
    "flow create 0 ingress pattern mark id is 9 / meta data is 0x10 / tag data is 1 index is 2 / represented_port ethdev_port_id is 3 / end actions represented_port ethdev_port_id 1 / end",
    "flow create 0 ingress pattern ipv4 version_ihl spec 0 / end actions indirect 3 / rss func toeplitz key 6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa queues 1 end / end",
    "flow create 0 ingress pattern udp src spec 0 src mask 0 / end actions port_id original 1 id 4 / end",
    "flow create 0 ingress pattern eth / ipv4 / end actions meter mtr_id 3 / queue index 1 / end",
    "flow create 0 ingress pattern eth / ipv4 / udp / end actions set_mac_src mac_addr 02:00:00:00:00:aa / set_mac_dst mac_addr 00:11:22:33:44:55 / set_ipv4_src ipv4_addr 192.168.1.1 / set_ipv4_dst ipv4_addr 10.0.0.2 / set_tp_src port 1000 / set_tp_dst port 53 / queue index 0 / end",
    "flow create 0 egress pattern eth / ipv6 / tcp / end actions set_ipv6_src ipv6_addr 2001:db8::1 / set_ipv6_dst ipv6_addr fe80::42 / set_ttl ttl_value 9 / dec_ttl / set_ipv6_dscp dscp_value 10 / end",
    "flow create 0 ingress pattern eth / ipv4 / end actions set_ipv4_dscp dscp_value 46 / modify_field op sub dst_type ipv4_ttl src_type value src_value 03 width 8 / jump group 1 / end",
    "flow create 0 group 1 ingress pattern eth / end actions modify_field op set dst_type tag dst_level 2 dst_offset 16 src_type udp_port_dst width 16 / modify_field op add dst_type meta src_type pointer src_ptr 07 width 32 / modify_field op set dst_type mac_dst dst_offset 16 src_type ipv4_src src_offset 24 width 8 / drop / end",
    "flow create 0 ingress pattern eth / vlan / end actions of_pop_vlan / of_push_vlan ethertype 0x88a8 / of_set_vlan_vid vlan_vid 100 / of_set_vlan_pcp vlan_pcp 3 / queue index 1 / end",
    "flow create 0 ingress pattern eth / end actions modify_field op set dst_type ipv6_src src_type value src_value 20010db8000000000000000000000001 width 128 / modify_field op set dst_type vlan_id src_type tag src_level 7 src_offset 20 width 12 / drop / end",
    "flow create 0 ingress pattern eth / vlan / end actions set_meta data 0x1234 / set_tag data 0x5 mask 0xff index 2 / of_pop_vlan / jump group 1 / end",
    "flow create 0 egress pattern eth / end actions set_meta data 0x1 mask 0xf / end",
    "flow create 0 ingress pattern eth / ipv4 / udp / vxlan / end actions raw_decap index 0 / raw_encap index 7 / queue index 0 / end",
    "flow create 0 ingress pattern eth / ipv4 / udp / vxlan vni is 4 / end actions vxlan_decap / jump group 1 / end",
    "flow create 0 egress pattern eth / ipv4 / end actions vxlan_encap / end",
    "flow create 0 transfer pattern eth / ipv4 / nvgre / end actions nvgre_decap / nvgre_encap / port_id id 1 / end",
    "flow create 0 ingress pattern eth / ipv4 / end actions age timeout 10 / queue index 1 / end",
    "flow create 0 egress pattern eth / end actions age timeout 16777215 / count / end",
    "flow destroy 0 rule 1 rule 7",
    "flow flush 3",
    "flow query 0 2 count",
    "flow query 0 2 age",
    "flow aged 0",
    "flow aged 1 destroy",
    "flow list 0",
    "flow list 0 group 1 group 2",
    "flow isolate 0 1",
    "flow dump 0 all",
    "flow dump 0 rule 3 /tmp/flow.txt",
    "flow indirect_action 0 create action_id 4 ingress action count / end",
    "flow indirect_action 0 create action count / end",
    "flow indirect_action 0 destroy action_id 4 action_id 5",
    "flow indirect_action 0 query 4",
];

#[test]
fn canonical_commands_round_trip() {
    for &c in CANONICAL {
        let cmd = parse(c).unwrap_or_else(|e| panic!("{c}: {e}"));
        assert_eq!(cmd.to_string(), c);
        assert_eq!(parse(&cmd.to_string()).unwrap(), cmd);
    }
}

#[test]
fn other_spellings_parse_to_the_same_rule() {
    let same = [
        (
            "flow create 0 ingress pattern eth dst is 00:AA:BB:cc:dd:ee / end actions queue index 01 / end",
            "flow create 0 ingress pattern eth dst is 00:aa:bb:cc:dd:ee / end actions queue index 1 / end",
        ),
        (
            "flow create 0 ingress pattern ipv4 dst is 3232235777 / end actions drop / end",
            "flow create 0 ingress pattern ipv4 dst is 192.168.1.1 / end actions drop / end",
        ),
        (
            "flow   create 0 ingress   pattern vlan tci is 0x6064 / end actions rss types ip end / end",
            "flow create 0 ingress pattern vlan pcp is 3 dei is 0 vid is 0x64 / end actions rss types ipv4 ipv4-frag ipv4-other ipv6 ipv6-frag ipv6-other ipv6-ex end / end",
        ),
        (
            "flow create 0 ingress pattern eth / end actions raw_decap / raw_encap / drop / end",
            "flow create 0 ingress pattern eth / end actions raw_decap index 0 / raw_encap index 0 / drop / end",
        ),
        (
            "flow create 0 ingress pattern eth / ipv4 / udp / end actions set_tp_src / set_ipv4_src ipv4_addr 3232235777 / of_push_vlan ethertype 33024 / set_ttl ttl_value 1 ttl_value 0x40 / drop / end",
            "flow create 0 ingress pattern eth / ipv4 / udp / end actions set_tp_src port 0 / set_ipv4_src ipv4_addr 192.168.1.1 / of_push_vlan ethertype 0x8100 / set_ttl ttl_value 64 / drop / end",
        ),
        (
            "flow create 0 ingress pattern eth / end actions modify_field op set dst_type meta src_type value src_value 0x0700 width 32 / drop / end",
            "flow create 0 ingress pattern eth / end actions modify_field op set dst_type meta src_type value src_value 07 width 32 / drop / end",
        ),
        (
            "flow create 0 ingress pattern gre c_bit is 1 / end actions drop / end",
            "flow create 0 ingress pattern gre c_rsvd0_ver spec 0x8000 c_rsvd0_ver mask 0x8000 / end actions drop / end",
        ),
    ];
    for (a, b) in same {
        assert_eq!(parse(a).unwrap(), parse(b).unwrap(), "{a}");
    }
}

#[test]
fn bad_tokens_are_named() {
    for (line, token) in [
        (
            "flow create 0 ingress pattern eht / end actions drop / end",
            "eht",
        ),
        (
            "flow create 0 ingress pattern eth / end actions dorp / end",
            "dorp",
        ),
        (
            "flow create 0 ingress pattern eth dst is 00:11:22:33:44 / end actions drop / end",
            "00:11:22:33:44",
        ),
        (
            "flow create 0 ingress pattern ipv4 src is 1.2.3.256 / end actions drop / end",
            "1.2.3.256",
        ),
        (
            "flow create 0 ingress pattern ipv4 src is 4294967296 / end actions drop / end",
            "4294967296",
        ),
        (
            "flow create 0 ingress pattern vlan vid is 4096 / end actions drop / end",
            "4096",
        ),
        (
            "flow create 0 ingress pattern ipv4 src prefix 33 / end actions drop / end",
            "33",
        ),
        (
            "flow create 0 ingress pattern eth / end actions rss types ipv9 end / end",
            "ipv9",
        ),
        (
            "flow create 0 ingress pattern eth / end actions drop / end trailing",
            "trailing",
        ),
        (
            "flow create 70000 ingress pattern end actions drop / end",
            "70000",
        ),
        (
            "flow create 0 bogus pattern end actions drop / end",
            "bogus",
        ),
        ("flow isolate 0 maybe", "maybe"),
        (
            "flow create 0 ingress pattern eth / end actions set_mac_src mac_addr 02:00:00:00:00 / drop / end",
            "02:00:00:00:00",
        ),
        (
            "flow create 0 ingress pattern eth / end actions set_ttl ttl_value 256 / drop / end",
            "256",
        ),
        (
            "flow create 0 ingress pattern eth / end actions modify_field op mul dst_type meta src_type value width 1 / drop / end",
            "mul",
        ),
        (
            "flow create 0 ingress pattern eth / end actions modify_field op set dst_type value src_type meta width 1 / drop / end",
            "value",
        ),
        (
            "flow create 0 ingress pattern eth / end actions modify_field op set dst_type ipv9_src src_type meta width 1 / drop / end",
            "ipv9_src",
        ),
        (
            "flow create 0 ingress pattern eth / end actions modify_field op set dst_type meta src_type value src_value 000102030405060708090a0b0c0d0e0f10 width 1 / drop / end",
            "000102030405060708090a0b0c0d0e0f10",
        ),
    ] {
        let e = parse(line).expect_err(line);
        assert_eq!(e.token, token, "{line}: {e}");
        assert!(e.to_string().contains(token));
    }
}

fn port0(t: &Arc<FlowTable>) -> impl Fn(u16) -> Option<Arc<FlowTable>> + '_ {
    move |p| (p == 0).then(|| t.clone())
}

#[test]
fn testpmd_replies() {
    let t = Arc::new(FlowTable::new(0, 4));
    let run = |line: &str| execute(line, &port0(&t));
    assert_eq!(
        run("flow validate 0 ingress pattern eth / ipv4 dst is 192.168.1.1 / end actions queue index 1 / end").out,
        "Flow rule validated\n"
    );
    assert_eq!(
        run("flow create 0 ingress pattern eth / ipv4 dst is 192.168.1.1 / end actions queue index 1 / end").out,
        "Flow rule #0 created\n"
    );
    assert_eq!(
        run("flow create 0 ingress priority 1 pattern eth / ipv4 / udp / end actions count / mark id 3 / rss / end").out,
        "Flow rule #1 created\n"
    );
    assert_eq!(
        run("flow create 0 egress group 2 pattern void / eth / end actions count / end").out,
        "Flow rule #2 created\n"
    );
    assert_eq!(
        run("flow list 0").out,
        "ID\tGroup\tPrio\tAttr\tRule\n\
         0\t0\t0\ti--\tETH IPV4 => QUEUE\n\
         1\t0\t1\ti--\tETH IPV4 UDP => COUNT MARK RSS\n\
         2\t2\t0\t-e-\tETH => COUNT\n"
    );
    assert_eq!(
        run("flow list 0 group 2").out,
        "ID\tGroup\tPrio\tAttr\tRule\n2\t2\t0\t-e-\tETH => COUNT\n"
    );
    let f = udp4([1, 1, 1, 1], [2, 2, 2, 2], 5, 6);
    for _ in 0..2 {
        t.classify_frame(Direction::Ingress, &f, 0);
    }
    assert_eq!(
        run("flow query 0 1 count").out,
        format!(
            "COUNT:\n hits_set: 1\n bytes_set: 1\n hits: 2\n bytes: {}\n",
            2 * f.len()
        )
    );
    assert_eq!(run("flow query 0 9 count").err, "Flow rule #9 not found\n");
    let o = run("flow query 0 0 count");
    assert!(
        o.err
            .starts_with("port_flow_complain(): Caught PMD error type 16 (specific action): "),
        "{o:?}"
    );
    let o = run("flow create 0 ingress pattern eth / end actions queue index 9 / end");
    assert_eq!(o.out, "");
    assert_eq!(
        o.err,
        "port_flow_complain(): Caught PMD error type 15 (action configuration): cause: action 0, \
         queue index 9 out of range (4 rx queues): Invalid argument\n"
    );
    let o = run("flow create 0 ingress pattern eth / udp / end actions drop / end");
    assert!(
        o.err
            .contains("type 13 (specific pattern item): cause: item 1, UDP cannot follow ETH"),
        "{o:?}"
    );
    let o = run("flow create 0 pattern eth / end actions drop / end");
    assert!(o.err.contains("type 8 (attributes structure)"), "{o:?}");
    let o = run("flow create 0 ingress pattern eth / end actions quue index 1 / end");
    assert_eq!(o.out, "Bad arguments\n");
    assert_eq!(o.syntax.unwrap().token, "quue");
    assert_eq!(
        run("flow create 5 ingress pattern end actions drop / end").err,
        "Invalid port 5\n"
    );
    assert_eq!(
        run("flow isolate 0 true").out,
        "Ingress traffic on port 0 is now restricted to the defined flow rules\n"
    );
    assert_eq!(
        run("flow isolate 0 0").out,
        "Ingress traffic on port 0 is not restricted anymore to the defined flow rules\n"
    );
    let d = run("flow dump 0 all").out;
    assert!(
        d.ends_with("Flow dump finished\n") && d.contains("rule #1"),
        "{d}"
    );
    assert_eq!(run("flow dump 0 rule 9").err, "Failed to dump to flow 9\n");
    assert_eq!(
        run("flow destroy 0 rule 0 rule 2 rule 8").out,
        "Flow rule #0 destroyed\nFlow rule #2 destroyed\n"
    );
    assert_eq!(
        run("flow indirect_action 0 create action_id 7 ingress action count / end").out,
        "Indirect action #7 created\n"
    );
    assert!(
        run("flow indirect_action 0 create action_id 7 ingress action count / end")
            .err
            .contains("already assigned")
    );
    assert_eq!(
        run("flow create 0 ingress pattern eth / end actions indirect 7 / drop / end").out,
        "Flow rule #2 created\n"
    );
    t.classify_frame(Direction::Ingress, &f, 0);
    assert_eq!(
        run("flow indirect_action 0 query 7").out,
        format!(
            "Indirect COUNT action:\n hits_set: 1\n bytes_set: 1\n hits: 1\n bytes: {}\n",
            f.len()
        )
    );
    let o = run("flow indirect_action 0 destroy action_id 7");
    assert!(o.err.contains("used by 1 rule"), "{o:?}");
    assert_eq!(o.out, "Indirect action #7 not destroyed\n");
    assert_eq!(run("flow flush 0").out, "");
    assert_eq!(run("flow list 0").out, "");
    assert_eq!(
        run("flow indirect_action 0 destroy action_id 7").out,
        "Indirect action #7 destroyed\n"
    );
}

#[test]
fn tunnel_actions_take_the_set_commands_state() {
    use rpdk_flow::syntax::{EncapConfs, parse_with};
    use rpdk_flow::{Action, ItemType};
    let mut c = EncapConfs::default();
    for line in [
        "set raw_encap 1 eth src is 02:00:00:00:00:01 / ipv6 src is 2001:db8::1 / udp dst is 4789 / vxlan vni is 9 / end_set",
        "set raw_decap 2 eth / ipv4 / gre protocol is 0x6558 / end_set",
        "set vxlan ip-version ipv6 vni 7 udp-src 1 udp-dst 4789 ip-src ::1 ip-dst ::2 eth-src 00:00:00:00:00:01 eth-dst 00:00:00:00:00:02",
    ] {
        assert_eq!(c.execute(line, 0).out, "", "{line}");
    }
    let line = "flow create 0 ingress pattern eth / end actions raw_decap index 2 / raw_encap index 1 / vxlan_encap / queue index 0 / end";
    let cmd = parse_with(line, &c).unwrap();
    assert_eq!(cmd.to_string(), line);
    assert_eq!(parse_with(&cmd.to_string(), &c).unwrap(), cmd);
    let rpdk_flow::syntax::FlowCommand::Create { rule, .. } = &cmd else {
        unreachable!()
    };
    let Action::RawEncap(e) = &rule.actions[1] else {
        panic!("{:?}", rule.actions[1])
    };
    assert_eq!(e.data.len(), 14 + 40 + 8 + 8);
    assert_eq!(&e.data[12..14], &[0x86, 0xdd]);
    let Action::RawDecap(d) = &rule.actions[0] else {
        panic!()
    };
    assert_eq!(d.data.len(), 14 + 20 + 4);
    let Action::VxlanEncap { definition } = &rule.actions[2] else {
        panic!()
    };
    let types: Vec<ItemType> = definition.iter().map(|i| i.ty).collect();
    assert_eq!(
        types,
        [
            ItemType::Eth,
            ItemType::Ipv6,
            ItemType::Udp,
            ItemType::Vxlan
        ]
    );
    // flow list names them.
    let t = Arc::new(FlowTable::new(0, 1));
    let o = rpdk_flow::syntax::execute_with(line, &c, &|_| Some(t.clone()));
    assert_eq!(o.out, "Flow rule #0 created\n", "{o:?}");
    let o = execute("flow list 0", &|_| Some(t.clone()));
    assert_eq!(
        o.out,
        "ID\tGroup\tPrio\tAttr\tRule\n0\t0\t0\ti--\tETH => RAW_DECAP RAW_ENCAP VXLAN_ENCAP QUEUE\n"
    );
}
