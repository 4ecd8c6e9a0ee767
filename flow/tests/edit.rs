//! Packet-modifying actions in the engine: SET_META and SET_TAG seen by the META and TAG items
//! of the group a JUMP leads to; OF_POP_VLAN changes the mbuf, and the rules after it match the
//! untagged packet; edits are refused where they cannot run.

use rpdk_flow::{Direction, ErrorType, Fate, FlowTable};
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, Mbuf, OlFlags, PacketType, PktmbufPool};
use rpdk_testsupport::{eal_args, serial};

mod common;
use common::rule;

fn table(rules: &[&str]) -> FlowTable {
    let t = FlowTable::new(0, 4);
    for r in rules {
        t.create(rule(r)).unwrap_or_else(|e| panic!("{r}: {e}"));
    }
    t
}

/// A UDP datagram from 10.0.0.1 to 10.0.0.2, tagged with VLAN `vid` when there is one.
fn frame(vid: Option<u16>) -> Vec<u8> {
    let mut f = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(1000, 2000)
        .write(&mut f, &[0x5a; 18])
        .unwrap();
    if let Some(v) = vid {
        let [h, l] = v.to_be_bytes();
        f.splice(12..12, [0x81, 0x00, h, l]);
    }
    f
}

#[test]
fn set_meta_and_set_tag_reach_the_items_of_a_later_group() {
    let t = table(&[
        "ingress pattern eth / ipv4 / end actions set_meta data 0x1234 mask 0xffff / set_tag data 0xab index 3 / jump group 1 / end",
        "ingress group 1 priority 0 pattern meta data is 0x1234 / tag data is 0xab index is 3 / end actions queue index 3 / end",
        "ingress group 1 priority 1 pattern eth / end actions queue index 1 / end",
    ]);
    let v = t.classify_frame(Direction::Ingress, &frame(None), 0);
    assert_eq!(v.fate, Fate::Queue(3));

    // A mask keeps the bits it leaves out: META 0x1234 under mask 0xff00 is 0x1200.
    let t = table(&[
        "ingress pattern eth / end actions set_meta data 0x1234 mask 0xff00 / jump group 1 / end",
        "ingress group 1 priority 0 pattern meta data is 0x1234 / end actions queue index 3 / end",
        "ingress group 1 priority 1 pattern meta data is 0x1200 / end actions queue index 2 / end",
    ]);
    let v = t.classify_frame(Direction::Ingress, &frame(None), 0);
    assert_eq!(v.fate, Fate::Queue(2));
}

fn mbuf(pool: &PktmbufPool, f: &[u8]) -> Mbuf {
    let mut m = pool.alloc().unwrap();
    m.append(f.len() as u16).unwrap().copy_from_slice(f);
    m
}

#[test]
fn of_pop_vlan_changes_the_packet_for_the_rules_after_it() {
    let _s = serial();
    let _eal = rpdk_eal::init(eal_args::<&str>("flow-edit-test", &[])).unwrap();
    let pool = PktmbufPool::create("edit_pool", 63, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let t = table(&[
        "ingress pattern eth / vlan vid is 100 / end actions of_pop_vlan / count / jump group 1 / end",
        // In group 1 the packet has no tag any more.
        "ingress group 1 priority 0 pattern eth type is 0x0800 / ipv4 / udp / end actions queue index 2 / end",
        "ingress group 1 priority 1 pattern eth / vlan / end actions queue index 1 / end",
    ]);
    let mut pkts = [
        mbuf(&pool, &frame(Some(100))),
        mbuf(&pool, &frame(Some(7))),
        mbuf(&pool, &frame(None)),
    ];
    // A driver that reported the tag it left in the data: the report goes with the tag.
    pkts[0].set_ol_flags(OlFlags::RX_VLAN);
    pkts[0].set_vlan_tci(100);
    pkts[0].set_packet_type(PacketType::L2_ETHER_VLAN);
    let mut v = [Default::default(); 3];
    t.classify(Direction::Ingress, &mut pkts, &mut v);
    assert_eq!(v[0].fate, Fate::Queue(2));
    assert_eq!(
        pkts[0].data(),
        &frame(None)[..],
        "the tag is gone, the rest intact"
    );
    assert_eq!(pkts[0].pkt_len() as usize, frame(None).len());
    assert!(
        !pkts[0]
            .ol_flags()
            .intersects(OlFlags::RX_VLAN | OlFlags::RX_VLAN_STRIPPED)
    );
    assert_eq!(pkts[0].vlan_tci(), 0);
    assert_eq!(pkts[0].packet_type().l2(), PacketType::L2_ETHER);
    // VLAN 7 matched no rule and keeps its tag; an untagged packet is not touched.
    assert_eq!(v[1].fate, Fate::Default);
    assert_eq!(pkts[1].data(), &frame(Some(7))[..]);
    assert_eq!(v[2].fate, Fate::Default);
    assert_eq!(t.query_count(0, false).unwrap().hits, 1);
    assert_eq!(t.edit_drops(), 0);
    drop(pkts);
    assert_eq!(pool.avail_count(), 63, "every mbuf back in the pool");
}

/// `f` with one more tag (`tpid`, `tci`) in front of its first EtherType.
fn push(mut f: Vec<u8>, tpid: u16, tci: u16) -> Vec<u8> {
    let [a, b] = tpid.to_be_bytes();
    let [h, l] = tci.to_be_bytes();
    f.splice(12..12, [a, b, h, l]);
    f
}

#[test]
fn of_pop_vlan_pops_one_tag_the_outermost_on_the_wire() {
    let _s = serial();
    let _eal = rpdk_eal::init(eal_args::<&str>("flow-edit-pop1", &[])).unwrap();
    let pool = PktmbufPool::create("edit_pop1", 63, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let t = table(&[
        "ingress pattern eth / vlan / end actions of_pop_vlan / jump group 1 / end",
        "ingress group 1 priority 0 pattern eth / vlan vid is 100 / vlan vid is 200 / end actions queue index 3 / end",
        "ingress group 1 priority 1 pattern eth / vlan vid is 100 / end actions queue index 1 / end",
        "ingress group 1 priority 2 pattern eth / vlan vid is 200 / end actions queue index 0 / end",
        "ingress group 1 priority 3 pattern eth type is 0x0800 / end actions queue index 2 / end",
    ]);
    let inner = frame(Some(100));
    let qinq = push(frame(Some(100)), 0x88a8, 200);
    let mut pkts = [
        // 0: the driver stripped the outer tag 5; tag 100 (the inner one on the wire) is in
        // the data. Only the stripped tag goes.
        mbuf(&pool, &inner),
        // 1: both tags stripped (outer 200 in vlan_tci_outer, inner 100 in vlan_tci), tag 7
        // in the data: the outer stripped tag goes, the inner stays stripped.
        mbuf(&pool, &frame(Some(7))),
        // 2: two tags in the data, both reported (RX_QINQ without stripping): the outer
        // one goes, RX_VLAN and vlan_tci still describe the tag now outermost.
        mbuf(&pool, &qinq),
        // 3: two tags in the data, nothing reported: the outer one goes.
        mbuf(&pool, &qinq),
    ];
    pkts[0].set_ol_flags(OlFlags::RX_VLAN | OlFlags::RX_VLAN_STRIPPED);
    pkts[0].set_vlan_tci(5);
    pkts[1].set_ol_flags(
        OlFlags::RX_VLAN | OlFlags::RX_VLAN_STRIPPED | OlFlags::RX_QINQ | OlFlags::RX_QINQ_STRIPPED,
    );
    pkts[1].set_vlan_tci(100);
    pkts[1].set_vlan_tci_outer(200);
    pkts[2].set_ol_flags(OlFlags::RX_VLAN | OlFlags::RX_QINQ);
    pkts[2].set_vlan_tci(100);
    pkts[2].set_vlan_tci_outer(200);
    let mut v = [Default::default(); 4];
    t.classify(Direction::Ingress, &mut pkts, &mut v);

    assert_eq!(v[0].fate, Fate::Queue(1), "tag 100 is still in the data");
    assert_eq!(pkts[0].data(), &inner[..]);
    assert!(
        !pkts[0]
            .ol_flags()
            .intersects(OlFlags::RX_VLAN | OlFlags::RX_VLAN_STRIPPED)
    );
    assert_eq!(pkts[0].vlan_tci(), 0);

    assert_eq!(
        pkts[1].data(),
        &frame(Some(7))[..],
        "the data keeps its tag"
    );
    assert!(
        !pkts[1]
            .ol_flags()
            .intersects(OlFlags::RX_QINQ | OlFlags::RX_QINQ_STRIPPED)
    );
    assert!(
        pkts[1]
            .ol_flags()
            .contains(OlFlags::RX_VLAN | OlFlags::RX_VLAN_STRIPPED)
    );
    assert_eq!((pkts[1].vlan_tci(), pkts[1].vlan_tci_outer()), (100, 0));

    assert_eq!(v[2].fate, Fate::Queue(1));
    assert_eq!(pkts[2].data(), &inner[..], "one tag left, the 802.1Q one");
    assert!(!pkts[2].ol_flags().contains(OlFlags::RX_QINQ));
    assert!(pkts[2].ol_flags().contains(OlFlags::RX_VLAN));
    assert!(!pkts[2].ol_flags().contains(OlFlags::RX_VLAN_STRIPPED));
    assert_eq!((pkts[2].vlan_tci(), pkts[2].vlan_tci_outer()), (100, 0));

    assert_eq!(v[3].fate, Fate::Queue(1));
    assert_eq!(pkts[3].data(), &inner[..]);
    assert_eq!(pkts[3].ol_flags(), OlFlags::default());
    assert_eq!(t.edit_drops(), 0);
    drop(pkts);
    assert_eq!(pool.avail_count(), 63, "every mbuf back in the pool");
}

#[test]
fn edits_are_refused_where_they_cannot_run() {
    let t = FlowTable::new(0, 4);
    let e = t
        .validate(&rule(
            "ingress pattern eth / end actions set_tag data 1 index 8 / queue index 0 / end",
        ))
        .unwrap_err();
    assert_eq!(e.kind, ErrorType::ActionConf);
    assert!(e.message.contains("tag index 8 out of range"), "{e}");
}
