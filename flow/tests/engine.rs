//! The engine against real frames: every item and action, default masks, ranges, prefixes,
//! priorities, groups, PASSTHRU, counters, isolate, and the validation rules.

mod common;

use common::*;
use rpdk_flow::{Action, Direction, ErrorType, Fate, FlowRule, FlowTable, IndirectAction, Verdict};

fn table(rules: &[&str]) -> FlowTable {
    let t = FlowTable::new(0, 16);
    for r in rules {
        t.create(rule(r)).unwrap_or_else(|e| panic!("{r}: {e}"));
    }
    t
}

fn v(t: &FlowTable, frame: &[u8]) -> Verdict {
    t.classify_frame(Direction::Ingress, frame, 0)
}

fn q(t: &FlowTable, frame: &[u8]) -> Fate {
    v(t, frame).fate
}

const A: [u8; 4] = [10, 0, 0, 1];
const B: [u8; 4] = [192, 168, 1, 1];

#[test]
fn flow_filtering_rule() {
    let t =
        table(&["ingress pattern eth / ipv4 dst is 192.168.1.1 / end actions queue index 1 / end"]);
    assert_eq!(q(&t, &udp4(A, B, 1, 2)), Fate::Queue(1));
    assert_eq!(q(&t, &tcp4(A, B, 1, 2)), Fate::Queue(1));
    assert_eq!(q(&t, &udp4(A, [192, 168, 1, 2], 1, 2)), Fate::Default);
    // Tagged frames do not match eth / ipv4 (the IPv4 header is not next to Ethernet).
    assert_eq!(q(&t, &udp4_vlan(5, A, B, 1, 2)), Fate::Default);
}

#[test]
fn lower_layers_may_be_left_out() {
    let t = table(&["ingress pattern ipv4 tos is 0 / end actions queue index 2 / end"]);
    assert_eq!(q(&t, &udp4(A, B, 1, 2)), Fate::Queue(2));
    assert_eq!(q(&t, &udp4_vlan(9, A, B, 1, 2)), Fate::Queue(2));
    assert_eq!(q(&t, &udp6([1; 16], [2; 16], 1, 2)), Fate::Default);
    let t = table(&["ingress pattern udp dst is 53 / end actions drop / end"]);
    assert_eq!(q(&t, &udp4(A, B, 9, 53)), Fate::Drop);
    assert_eq!(q(&t, &udp6([1; 16], [2; 16], 9, 53)), Fate::Drop);
    assert_eq!(q(&t, &tcp4(A, B, 9, 53)), Fate::Default);
}

#[test]
fn default_masks_apply_when_only_spec_is_given() {
    // IPv4's default mask covers both addresses: src spec alone also asks dst 0.0.0.0.
    let t =
        table(&["ingress pattern eth / ipv4 src spec 10.0.0.1 / end actions queue index 1 / end"]);
    assert_eq!(q(&t, &udp4(A, B, 1, 2)), Fate::Default);
    assert_eq!(q(&t, &udp4(A, [0; 4], 1, 2)), Fate::Queue(1));
    // `is` masks that field only.
    let t =
        table(&["ingress pattern eth / ipv4 src is 10.0.0.1 / end actions queue index 1 / end"]);
    assert_eq!(q(&t, &udp4(A, B, 1, 2)), Fate::Queue(1));
    // VLAN: the VID (not the PCP).
    let t =
        table(&["ingress pattern eth / vlan tci spec 0xe007 / end actions queue index 3 / end"]);
    assert_eq!(q(&t, &udp4_vlan(7, A, B, 1, 2)), Fate::Queue(3));
    assert_eq!(q(&t, &udp4_vlan(8, A, B, 1, 2)), Fate::Default);
    // UDP: both ports.
    let t = table(&["ingress pattern eth / ipv4 / udp dst spec 53 / end actions drop / end"]);
    assert_eq!(q(&t, &udp4(A, B, 0, 53)), Fate::Drop);
    assert_eq!(q(&t, &udp4(A, B, 1, 53)), Fate::Default);
}

#[test]
fn eth_type_is_the_tpid_before_a_vlan_item() {
    let t = table(&[
        "ingress pattern eth type is 0x8100 / vlan vid is 5 / ipv4 / end actions queue index 4 / end",
    ]);
    assert_eq!(q(&t, &udp4_vlan(5, A, B, 1, 2)), Fate::Queue(4));
    assert_eq!(q(&t, &udp4_vlan(6, A, B, 1, 2)), Fate::Default);
    let t = table(&["ingress pattern eth type is 0x0800 / end actions queue index 4 / end"]);
    assert_eq!(q(&t, &udp4(A, B, 1, 2)), Fate::Queue(4));
    assert_eq!(q(&t, &udp4_vlan(5, A, B, 1, 2)), Fate::Default);
}

#[test]
fn mac_addresses_in_either_case_and_ipv4_as_integers() {
    let t = table(&[
        "ingress pattern eth dst is 00:11:22:33:44:55 / end actions queue index 1 / end",
        "ingress pattern eth dst is 00:AA:BB:CC:DD:EE / end actions queue index 2 / end",
    ]);
    assert_eq!(q(&t, &udp4(A, B, 1, 2)), Fate::Queue(1));
    let t = table(&["ingress pattern ipv4 dst is 3232235777 / end actions queue index 5 / end"]);
    assert_eq!(q(&t, &udp4(A, B, 1, 2)), Fate::Queue(5));
}

#[test]
fn ranges_and_prefixes() {
    let t = table(&[
        "ingress pattern eth / ipv4 / udp dst spec 1000 dst last 2000 dst mask 0xffff / end actions queue index 1 / end",
        "ingress pattern eth / ipv4 src spec 10.1.0.0 src prefix 16 / end actions queue index 2 / end",
        "ingress pattern eth / ipv4 src spec 10.2.16.0 src prefix 20 / end actions queue index 3 / end",
    ]);
    assert_eq!(q(&t, &udp4(A, B, 1, 999)), Fate::Default);
    assert_eq!(q(&t, &udp4(A, B, 1, 1000)), Fate::Queue(1));
    assert_eq!(q(&t, &udp4(A, B, 1, 1500)), Fate::Queue(1));
    assert_eq!(q(&t, &udp4(A, B, 1, 2000)), Fate::Queue(1));
    assert_eq!(q(&t, &udp4(A, B, 1, 2001)), Fate::Default);
    assert_eq!(q(&t, &udp4([10, 1, 200, 3], B, 1, 2)), Fate::Queue(2));
    assert_eq!(q(&t, &udp4([10, 2, 31, 3], B, 1, 2)), Fate::Queue(3));
    assert_eq!(q(&t, &udp4([10, 2, 32, 3], B, 1, 2)), Fate::Default);
    // last equal to spec, or zero, is no range.
    let t = table(&["ingress pattern udp dst spec 7 dst last 7 / end actions drop / end"]);
    assert_eq!(q(&t, &udp4(A, B, 0, 7)), Fate::Drop);
    assert_eq!(q(&t, &udp4(A, B, 0, 8)), Fate::Default);
}

#[test]
fn every_header_item() {
    let t = table(&[
        "ingress pattern eth / ipv6 dst is ::202:202:202:202 / udp / end actions queue index 1 / end",
        "ingress pattern eth / ipv4 / icmp type is 8 / end actions queue index 2 / end",
        "ingress pattern eth / ipv6 / icmp6 type is 128 / end actions queue index 3 / end",
        "ingress pattern eth / ipv4 / tcp dst is 80 flags spec 0 flags mask 0x02 / end actions queue index 4 / end",
        "ingress pattern eth / ipv4 / sctp dst is 99 tag is 0xdeadbeef / end actions queue index 5 / end",
        "ingress pattern eth / ipv4 / udp / vxlan vni is 42 / eth / ipv4 dst is 172.16.0.9 / tcp / end actions queue index 6 / end",
        "ingress pattern eth / ipv4 / udp / geneve vni is 7 / eth / end actions queue index 7 / end",
        "ingress pattern eth / ipv4 / nvgre tni is 0x123 / eth / ipv4 / end actions queue index 8 / end",
        "ingress pattern eth / ipv4 / gre protocol is 0x0800 / ipv4 / udp / end actions queue index 9 / end",
        "ingress pattern eth / mpls label is 100 / mpls label is 200 s is 1 / end actions queue index 10 / end",
    ]);
    let mut v6 = [0u8; 16];
    v6[8..].copy_from_slice(&[2; 8]);
    assert_eq!(q(&t, &udp6([1; 16], v6, 1, 2)), Fate::Queue(1));
    assert_eq!(q(&t, &icmp4(A, B, 8)), Fate::Queue(2));
    assert_eq!(q(&t, &icmp4(A, B, 0)), Fate::Default);
    assert_eq!(q(&t, &icmp6([1; 16], [3; 16])), Fate::Queue(3));
    // etherparse's TCP header has no SYN.
    assert_eq!(q(&t, &tcp4(A, B, 5, 80)), Fate::Queue(4));
    assert_eq!(q(&t, &sctp4(1, 99)), Fate::Queue(5));
    assert_eq!(q(&t, &vxlan(42, [172, 16, 0, 9])), Fate::Queue(6));
    assert_eq!(q(&t, &vxlan(43, [172, 16, 0, 9])), Fate::Default);
    assert_eq!(q(&t, &vxlan(42, [172, 16, 0, 8])), Fate::Default);
    assert_eq!(q(&t, &geneve(7)), Fate::Queue(7));
    assert_eq!(q(&t, &geneve(8)), Fate::Default);
    assert_eq!(q(&t, &gre(Some(0x123))), Fate::Queue(8));
    assert_eq!(q(&t, &gre(Some(0x124))), Fate::Default);
    assert_eq!(q(&t, &gre(None)), Fate::Queue(9));
    assert_eq!(q(&t, &mpls(100, 200)), Fate::Queue(10));
    assert_eq!(q(&t, &mpls(100, 201)), Fate::Default);
}

#[test]
fn void_any_invert_raw() {
    let t =
        table(&["ingress pattern void / any / tcp dst is 80 / end actions queue index 1 / end"]);
    // ANY lets TCP be found anywhere: the inner header of a VXLAN frame too.
    assert_eq!(q(&t, &vxlan(1, B)), Fate::Queue(1));
    let t = table(&["ingress pattern tcp dst is 80 / end actions queue index 1 / end"]);
    assert_eq!(
        q(&t, &vxlan(1, B)),
        Fate::Default,
        "without ANY only outer headers"
    );
    let t = table(&[
        "ingress pattern eth / any num is 2 / udp dst is 2 / end actions queue index 2 / end",
    ]);
    assert_eq!(q(&t, &udp4_vlan(3, A, B, 1, 2)), Fate::Queue(2));
    assert_eq!(q(&t, &udp4(A, B, 1, 2)), Fate::Default);
    let t = table(&["ingress pattern invert / eth / ipv4 / udp / end actions drop / end"]);
    assert_eq!(q(&t, &udp4(A, B, 1, 2)), Fate::Default);
    assert_eq!(q(&t, &tcp4(A, B, 1, 2)), Fate::Drop);
    let mut f = udp4(A, B, 1, 2);
    f[42..46].copy_from_slice(b"rpdk");
    let t = table(&[
        "ingress pattern eth / ipv4 / udp / raw relative is 1 pattern is rpdk / end actions queue index 3 / end",
        "ingress pattern raw search is 1 pattern_hex spec 72706b / end actions queue index 4 / end",
    ]);
    assert_eq!(q(&t, &f), Fate::Queue(3));
    f[42] = b'x';
    assert_eq!(
        q(&t, &f),
        Fate::Default,
        "rpdk -> xpdk: neither raw item matches"
    );
    f[42..46].copy_from_slice(b"xrpk");
    assert_eq!(q(&t, &f), Fate::Queue(4));
}

#[test]
fn meta_items_and_port() {
    let t = table(&[
        "ingress pattern port_id id is 3 / end actions queue index 1 / end",
        "ingress pattern represented_port ethdev_port_id is 4 / end actions queue index 2 / end",
        "ingress pattern meta data is 0 / tag data is 0 index is 1 / end actions queue index 3 / end",
    ]);
    let f = udp4(A, B, 1, 2);
    assert_eq!(
        t.classify_frame(Direction::Ingress, &f, 3).fate,
        Fate::Queue(1)
    );
    assert_eq!(
        t.classify_frame(Direction::Ingress, &f, 4).fate,
        Fate::Queue(2)
    );
    assert_eq!(
        t.classify_frame(Direction::Ingress, &f, 0).fate,
        Fate::Queue(3)
    );
}

#[test]
fn priorities_and_equal_priority_tie_break() {
    let t = table(&[
        "ingress priority 1 pattern eth / ipv4 / end actions queue index 1 / end",
        "ingress priority 0 pattern eth / ipv4 / udp dst is 2 / end actions queue index 2 / end",
        "ingress priority 2 pattern eth / ipv4 dst is 192.168.1.1 / end actions queue index 3 / end",
    ]);
    assert_eq!(q(&t, &udp4(A, B, 1, 2)), Fate::Queue(2));
    assert_eq!(q(&t, &udp4(A, B, 1, 3)), Fate::Queue(1));
    // Overlapping rules at one priority: the one created first wins, whatever their shapes.
    let t = table(&[
        "ingress pattern eth / ipv4 / udp / end actions queue index 5 / end",
        "ingress pattern eth / ipv4 dst is 192.168.1.1 / end actions queue index 6 / end",
    ]);
    assert_eq!(q(&t, &udp4(A, B, 1, 2)), Fate::Queue(5));
    t.destroy(0).unwrap();
    assert_eq!(q(&t, &udp4(A, B, 1, 2)), Fate::Queue(6));
}

#[test]
fn groups_jump_and_marks_surviving_jump_and_passthru() {
    let t = table(&[
        "ingress group 1 pattern eth / ipv4 / udp dst is 2 / end actions queue index 3 / end",
        "ingress group 1 pattern mark id is 9 / end actions queue index 4 / end",
        "ingress pattern eth / ipv4 dst is 192.168.1.1 / end actions mark id 9 / jump group 1 / end",
    ]);
    let r = v(&t, &udp4(A, B, 1, 2));
    assert_eq!((r.fate, r.mark), (Fate::Queue(3), Some(9)));
    let r = v(&t, &udp4(A, B, 1, 5));
    assert_eq!(
        (r.fate, r.mark),
        (Fate::Queue(4), Some(9)),
        "MARK item sees the earlier mark"
    );
    // Group 1 is reached only by JUMP.
    assert_eq!(q(&t, &udp4(A, [1, 1, 1, 1], 1, 2)), Fate::Default);

    let t = table(&[
        "ingress priority 0 pattern eth / end actions mark id 1 / passthru / end",
        "ingress priority 1 pattern eth / ipv4 / udp / end actions flag / queue index 2 / end",
    ]);
    let r = v(&t, &udp4(A, B, 1, 2));
    assert_eq!((r.fate, r.mark, r.flag), (Fate::Queue(2), Some(1), true));
    // PASSTHRU alone is a valid rule that falls through to the default.
    let t = table(&["ingress pattern end actions passthru / end"]);
    assert_eq!(v(&t, &udp4(A, B, 1, 2)), Verdict::default());
}

#[test]
fn rss_spreads_over_its_queues() {
    let t = table(&[
        "ingress pattern eth / ipv4 / udp / end actions rss types ipv4-udp end queues 4 5 6 7 end / end",
    ]);
    let mut seen = std::collections::BTreeSet::new();
    for p in 0..64u16 {
        let r = v(&t, &udp4(A, B, 1000 + p, 2));
        let Fate::Queue(qi) = r.fate else {
            panic!("{r:?}")
        };
        assert!((4..8).contains(&qi));
        let h = r.rss_hash.expect("hashed");
        assert_eq!(qi, [4, 5, 6, 7][(h as usize & 127) % 4]);
        seen.insert(qi);
    }
    assert_eq!(seen.len(), 4, "64 flows over 4 queues");
    // Plain `rss`: every queue of the port, default types (ip).
    let t = table(&["ingress pattern end actions rss / end"]);
    let r = v(&t, &udp4(A, B, 1, 2));
    assert!(matches!(r.fate, Fate::Queue(q) if q < 16) && r.rss_hash.is_some());
}

#[test]
fn counters_per_rule_shared_and_reset() {
    let t = FlowTable::new(0, 4);
    let h = t
        .action_handle_create(None, rpdk_flow::Attr::default(), IndirectAction::Count)
        .unwrap();
    assert_eq!(h, 0);
    let a = t
        .create(rule(
            "ingress pattern udp dst is 1 / end actions count / indirect 0 / queue index 1 / end",
        ))
        .unwrap();
    let b = t.create(rule("ingress pattern udp dst is 2 / end actions count identifier 5 / indirect 0 / drop / end")).unwrap();
    let f1 = udp4(A, B, 0, 1);
    let f2 = udp4(A, B, 0, 2);
    for _ in 0..3 {
        t.classify_frame(Direction::Ingress, &f1, 0);
    }
    t.classify_frame(Direction::Ingress, &f2, 0);
    let qa = t.query_count(a, false).unwrap();
    assert_eq!(
        (qa.hits, qa.bytes, qa.hits_set),
        (3, 3 * f1.len() as u64, true)
    );
    assert_eq!(t.query_count(b, true).unwrap().hits, 1);
    assert_eq!(t.query_count(b, false).unwrap().hits, 0, "reset");
    assert_eq!(
        t.action_handle_query(h, false).unwrap().hits,
        4,
        "shared by both rules"
    );
    let e = t.action_handle_destroy(h).unwrap_err();
    assert_eq!(e.errno, libc::EBUSY);
    t.flush().unwrap();
    t.action_handle_destroy(h).unwrap();
    // A recycled counter starts from zero.
    let c = t
        .create(rule("ingress pattern end actions count / drop / end"))
        .unwrap();
    assert_eq!(t.query_count(c, false).unwrap().hits, 0);
    let e = t
        .create(rule("ingress pattern end actions indirect 0 / drop / end"))
        .unwrap_err();
    assert_eq!(e.errno, libc::ENOENT);
}

#[test]
fn actions_after_the_fate_still_act() {
    let t = FlowTable::new(0, 4);
    let a = t
        .create(rule(
            "ingress pattern udp dst is 1 / end actions queue index 1 / count / mark id 3 / end",
        ))
        .unwrap();
    let b = t
        .create(rule(
            "ingress pattern udp dst is 2 / end actions jump group 1 / count / end",
        ))
        .unwrap();
    let f1 = udp4(A, B, 0, 1);
    let r = v(&t, &f1);
    assert_eq!((r.fate, r.mark), (Fate::Queue(1), Some(3)));
    assert_eq!(t.query_count(a, false).unwrap().hits, 1);
    assert_eq!(q(&t, &udp4(A, B, 0, 2)), Fate::Default, "a miss in group 1");
    assert_eq!(t.query_count(b, false).unwrap().hits, 1);
}

#[test]
fn isolate_hides_unmatched_traffic() {
    let t = table(&["ingress pattern udp dst is 1 / end actions queue index 1 / end"]);
    t.isolate(true).unwrap();
    assert_eq!(q(&t, &udp4(A, B, 0, 1)), Fate::Queue(1));
    assert_eq!(q(&t, &udp4(A, B, 0, 2)), Fate::Isolated);
    assert_eq!(
        t.classify_frame(Direction::Egress, &udp4(A, B, 0, 2), 0)
            .fate,
        Fate::Default
    );
    t.isolate(false).unwrap();
    assert_eq!(q(&t, &udp4(A, B, 0, 2)), Fate::Default);
}

#[test]
fn egress_rules() {
    let t = table(&[
        "egress pattern eth / ipv4 / udp dst is 9 / end actions count / drop / end",
        "egress pattern eth / ipv4 / udp dst is 10 / end actions count / end",
    ]);
    let f = udp4(A, B, 0, 9);
    assert_eq!(t.classify_frame(Direction::Egress, &f, 0).fate, Fate::Drop);
    assert_eq!(
        t.classify_frame(Direction::Ingress, &f, 0).fate,
        Fate::Default
    );
    assert_eq!(
        t.classify_frame(Direction::Egress, &udp4(A, B, 0, 10), 0)
            .fate,
        Fate::Default
    );
    assert_eq!(
        t.query_count(1, false).unwrap().hits,
        1,
        "no fate: counted and sent"
    );
    let e = t
        .validate(&rule("egress pattern end actions queue index 0 / end"))
        .unwrap_err();
    assert_eq!(e.kind, ErrorType::Action);
}

#[test]
fn port_fates() {
    let t = table(&[
        "transfer pattern port_id id is 1 / end actions port_id id 2 / end",
        "ingress pattern udp / end actions represented_port ethdev_port_id 3 / end",
    ]);
    let f = udp4(A, B, 0, 9);
    assert_eq!(
        t.classify_frame(Direction::Transfer, &f, 1).fate,
        Fate::Port(2)
    );
    assert_eq!(
        t.classify_frame(Direction::Transfer, &f, 0).fate,
        Fate::Default
    );
    assert_eq!(q(&t, &f), Fate::Port(3));
}

fn refused(text: &str) -> rpdk_flow::FlowError {
    let t = FlowTable::new(0, 4);
    t.create(rule(
        "ingress group 1 pattern end actions jump group 2 / end",
    ))
    .unwrap();
    let e = t.validate(&rule(text)).expect_err(text);
    assert!(t.create(rule(text)).is_err());
    e
}

#[test]
fn validation_reasons() {
    let e = refused("pattern end actions drop / end");
    assert_eq!(e.kind, ErrorType::Attr);
    assert!(e.message.contains("no direction"), "{e}");
    let e = refused("ingress pattern end actions queue index 4 / end");
    assert_eq!(e.kind, ErrorType::ActionConf);
    assert!(e.message.contains("queue index 4 out of range"), "{e}");
    let e = refused("ingress pattern end actions rss queues 0 9 end / end");
    assert!(e.message.contains("RSS queue 9"), "{e}");
    let e = refused("ingress pattern end actions count / end");
    assert_eq!(e.kind, ErrorType::ActionNum);
    assert!(e.message.contains("no fate"), "{e}");
    let e = refused("ingress group 2 pattern end actions jump group 1 / end");
    assert!(e.message.contains("loop"), "{e}");
    let e = refused("ingress group 3 pattern end actions jump group 3 / end");
    assert!(e.message.contains("loop"), "{e}");
    let e = refused("ingress pattern eth / udp / end actions drop / end");
    assert_eq!(
        (e.kind, e.cause),
        (ErrorType::Item, Some(rpdk_flow::Cause::Item(1)))
    );
    assert!(e.message.contains("UDP cannot follow ETH"), "{e}");
    let e = refused("ingress pattern udp dst mask 0xff / end actions drop / end");
    assert_eq!(e.kind, ErrorType::ItemMask);
    let e = refused("ingress pattern udp dst last 9 / end actions drop / end");
    assert_eq!(e.kind, ErrorType::ItemLast);
    let e = refused("ingress pattern udp dst spec 9 dst last 8 / end actions drop / end");
    assert_eq!(e.kind, ErrorType::ItemLast);
    assert!(e.message.contains("last below spec"), "{e}");
    let e = refused("ingress pattern end actions queue index 1 / drop / end");
    assert!(e.message.contains("more than one fate"), "{e}");
    let e = refused("ingress egress pattern end actions drop / end");
    assert_eq!(e.errno, libc::ENOTSUP);
    assert!(
        e.complain()
            .starts_with("port_flow_complain(): Caught PMD error type 6 (egress field): ")
    );
}

#[test]
fn create_destroy_ids_as_testpmd() {
    let t = FlowTable::new(0, 2);
    let r = rule("ingress pattern end actions drop / end");
    assert_eq!(t.create(r.clone()).unwrap(), 0);
    assert_eq!(t.create(r.clone()).unwrap(), 1);
    assert_eq!(t.create(r.clone()).unwrap(), 2);
    t.destroy(1).unwrap();
    assert_eq!(t.create(r.clone()).unwrap(), 3);
    t.destroy(3).unwrap();
    t.destroy(2).unwrap();
    assert_eq!(t.create(r.clone()).unwrap(), 1);
    assert_eq!(t.destroy(7).unwrap_err().kind, ErrorType::Handle);
    assert!(t.dev_dump(None).unwrap().contains("rule #1"));
    t.flush().unwrap();
    assert!(t.rules().is_empty());
    assert!(!t.has_rules(Direction::Ingress));
}

#[test]
fn typed_builder_matches_like_the_syntax() {
    use rpdk_flow::{eth, ipv4, udp};
    use std::net::Ipv4Addr;
    let t = FlowTable::new(0, 4);
    t.create(
        FlowRule::ingress()
            .priority(3)
            .item(eth::item())
            .item(ipv4::item().prefix(ipv4::SRC, Ipv4Addr::new(10, 0, 0, 0), 8))
            .item(udp::item().range(udp::DST, 100, 200))
            .action(Action::Count { id: 0 })
            .action(Action::Queue { index: 3 }),
    )
    .unwrap();
    assert_eq!(q(&t, &udp4(A, B, 1, 150)), Fate::Queue(3));
    assert_eq!(q(&t, &udp4(A, B, 1, 250)), Fate::Default);
    assert_eq!(q(&t, &udp4([11, 0, 0, 1], B, 1, 150)), Fate::Default);
}

#[test]
fn rules_change_while_lcores_classify() {
    let t = std::sync::Arc::new(table(&[
        "ingress pattern udp dst is 1 / end actions queue index 1 / end",
    ]));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Lookups done by each reader so far: the rules keep changing until both have done some
    // (a thread may start late on a loaded machine), for at most 10 s.
    let done: std::sync::Arc<[std::sync::atomic::AtomicU64; 2]> = Default::default();
    let readers: Vec<_> = (0..2)
        .map(|i| {
            let (t, stop, done) = (t.clone(), stop.clone(), done.clone());
            std::thread::spawn(move || {
                let f = udp4(A, B, 0, 1);
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let fate = t.classify_frame(Direction::Ingress, &f, 0).fate;
                    assert!(matches!(fate, Fate::Queue(1) | Fate::Queue(2)), "{fate:?}");
                    n += 1;
                    done[i].store(n, std::sync::atomic::Ordering::Relaxed);
                }
                n
            })
        })
        .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut changes = 0;
    while changes < 300
        || (done
            .iter()
            .any(|d| d.load(std::sync::atomic::Ordering::Relaxed) < 1000)
            && std::time::Instant::now() < deadline)
    {
        let id = t
            .create(rule(
                "ingress pattern udp dst is 1 / end actions queue index 2 / end",
            ))
            .unwrap();
        t.destroy(id).unwrap();
        changes += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
}

#[test]
fn nested_prefixes_inside_one_byte() {
    // /17 to /24 prefixes of 10.9.0.0 share their /16 key and their whole-byte key, so past
    // the first two each goes to a tuple of its exact bits; the longest wins (best priority).
    let t = FlowTable::new(0, 16);
    let mut ids = Vec::new();
    for len in 17..=24u32 {
        let r = rule(&format!(
            "ingress priority {} pattern eth / ipv4 src spec 10.9.0.0 src prefix {len} / end actions queue index {} / end",
            24 - len,
            len - 16
        ));
        ids.push((len, t.create(r).unwrap()));
    }
    let check = |t: &FlowTable, alive: &dyn Fn(u32) -> bool| {
        for x in 0..=255u8 {
            let want = (17..=24u32)
                .rev()
                .find(|&len| alive(len) && (x as u32) >> (24 - len) == 0)
                .map_or(Fate::Default, |len| Fate::Queue((len - 16) as u16));
            assert_eq!(q(t, &udp4([10, 9, x, 1], B, 1, 2)), want, "10.9.{x}.1");
        }
        assert_eq!(q(t, &udp4([10, 8, 0, 1], B, 1, 2)), Fate::Default);
    };
    check(&t, &|_| true);
    for &(len, id) in &ids {
        if len % 3 == 0 {
            t.destroy(id).unwrap();
        }
    }
    check(&t, &|len| len % 3 != 0);
}

#[test]
fn many_rules_sharing_a_merged_tuple_key() {
    // 200 rules with one /16 and one port range each, differing in the low address bytes:
    // more than a bucket takes, so they spread over merged and specific tuples.
    let t = FlowTable::new(0, 16);
    let mut ids = Vec::new();
    for i in 0..200u16 {
        let (c, d) = ((i / 100) as u8, (i % 100) as u8);
        let r = rule(&format!(
            "ingress priority {} pattern eth / ipv4 dst is 10.9.{c}.{d} / udp dst spec {} dst last {} / end actions queue index {} / end",
            i % 3,
            1000 + i,
            1100 + i,
            i % 16
        ));
        ids.push(t.create(r).unwrap());
    }
    let check = |t: &FlowTable, alive: &dyn Fn(u16) -> bool| {
        for i in 0..200u16 {
            let (c, d) = ((i / 100) as u8, (i % 100) as u8);
            let want = if alive(i) {
                Fate::Queue(i % 16)
            } else {
                Fate::Default
            };
            // The default UDP mask also asks source port 0.
            assert_eq!(q(t, &udp4(A, [10, 9, c, d], 0, 1050 + i)), want, "rule {i}");
            assert_eq!(
                q(t, &udp4(A, [10, 9, c, d], 0, 1101 + i)),
                Fate::Default,
                "rule {i}: past the range"
            );
        }
    };
    check(&t, &|_| true);
    for (i, id) in ids.iter().enumerate() {
        if i % 2 == 0 {
            t.destroy(*id).unwrap();
        }
    }
    check(&t, &|i| i % 2 == 1);
    assert!(t.dev_dump(None).unwrap().contains("ingress group 0: "));
}
