//! The METER action in rules: the meter's colour picks its policy's actions, the rule's other
//! actions run when the colour's list has no fate, meters chain, drops are counted, policies
//! change under the rules, and the refusals.

mod common;

use common::*;
use rpdk_flow::meter::{Color, MeterParams, MeterPolicy, MeterProfile, MeterStats, MtrErrorType};
use rpdk_flow::syntax::parse;
use rpdk_flow::{Action, Direction, ErrorType, Fate, FlowTable, Verdict};

fn v(t: &FlowTable, frame: &[u8]) -> Verdict {
    t.classify_frame(Direction::Ingress, frame, 0)
}

/// A frame of exactly 100 bytes.
fn frame100() -> Vec<u8> {
    let f = udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2);
    let mut f = f;
    f.resize(100, 0);
    f
}

/// A port table with meter `id` of a rate so low (1 byte per second) that nothing refills
/// while a test runs: `cbs` bytes go green, `ebs` yellow, the rest red.
fn metered(t: &FlowTable, id: u32, cbs: u64, ebs: u64, policy: MeterPolicy, shared: bool) {
    let m = t.meters();
    m.profile_add(id, MeterProfile::srtcm_rfc2697(1, cbs, ebs))
        .unwrap();
    m.policy_add(id, policy).unwrap();
    let mut p = MeterParams::new(id, id);
    p.stats_mask = MeterStats::ALL;
    m.create(id, p, shared).unwrap();
}

fn traffic_light() -> MeterPolicy {
    MeterPolicy::new()
        .actions(Color::Green, vec![Action::Queue { index: 1 }])
        .actions(
            Color::Yellow,
            vec![Action::Mark { id: 2 }, Action::Queue { index: 2 }],
        )
        .actions(Color::Red, vec![Action::Drop])
}

#[test]
fn the_colour_picks_the_policy_actions() {
    let t = FlowTable::new(0, 4);
    metered(&t, 1, 300, 200, traffic_light(), false);
    t.create(rule(
        "ingress pattern eth / ipv4 / end actions meter mtr_id 1 / end",
    ))
    .unwrap();
    let f = frame100();
    let got: Vec<(Fate, Option<u32>)> = (0..7)
        .map(|_| {
            let v = v(&t, &f);
            (v.fate, v.mark)
        })
        .collect();
    use Fate::*;
    assert_eq!(
        got,
        [
            (Queue(1), None),
            (Queue(1), None),
            (Queue(1), None),
            (Queue(2), Some(2)),
            (Queue(2), Some(2)),
            (Drop, None),
            (Drop, None)
        ]
    );
    let (s, _) = t.meters().stats_read(1, false).unwrap();
    assert_eq!(s.n_pkts, [3, 2, 2]);
    assert_eq!((s.n_pkts_dropped, s.n_bytes_dropped), (2, 200));
    // Other traffic is not metered.
    let ipv6 = udp6([1; 16], [2; 16], 1, 2);
    assert_eq!(v(&t, &ipv6).fate, Fate::Default);
    assert_eq!(t.meters().stats_read(1, false).unwrap().0.n_pkts, [3, 2, 2]);
}

#[test]
fn colours_without_a_fate_go_on_with_the_rule() {
    let t = FlowTable::new(0, 4);
    let policy = MeterPolicy::new()
        .actions(Color::Yellow, vec![Action::Mark { id: 9 }])
        .actions(Color::Red, vec![Action::Drop]);
    metered(&t, 1, 100, 100, policy, false);
    t.create(rule(
        "ingress pattern eth / end actions count / meter mtr_id 1 / queue index 3 / end",
    ))
    .unwrap();
    let f = frame100();
    let a = v(&t, &f);
    let b = v(&t, &f);
    let c = v(&t, &f);
    assert_eq!((a.fate, a.mark), (Fate::Queue(3), None));
    assert_eq!((b.fate, b.mark), (Fate::Queue(3), Some(9)));
    assert_eq!(c.fate, Fate::Drop);
    assert_eq!(t.query_count(0, false).unwrap().hits, 3);
}

#[test]
fn meters_chain_with_the_previous_colour() {
    let t = FlowTable::new(0, 4);
    // The first meter lets 200 bytes be green; the second, colour-aware, never makes a
    // packet greener than the first said.
    metered(&t, 1, 200, 1000, MeterPolicy::new(), true);
    let m = t.meters();
    m.profile_add(2, MeterProfile::srtcm_rfc2697(1, 1000, 1000))
        .unwrap();
    m.policy_add(
        2,
        MeterPolicy::new()
            .actions(Color::Green, vec![Action::Queue { index: 1 }])
            .actions(Color::Yellow, vec![Action::Queue { index: 2 }])
            .actions(Color::Red, vec![Action::Drop]),
    )
    .unwrap();
    let mut p = MeterParams::new(2, 2);
    p.use_prev_mtr_color = true;
    m.create(2, p, false).unwrap();
    t.create(rule(
        "ingress pattern eth / end actions meter mtr_id 1 / meter mtr_id 2 / end",
    ))
    .unwrap();
    let f = frame100();
    let fates: Vec<Fate> = (0..4).map(|_| v(&t, &f).fate).collect();
    assert_eq!(
        fates,
        [
            Fate::Queue(1),
            Fate::Queue(1),
            Fate::Queue(2),
            Fate::Queue(2)
        ]
    );
}

#[test]
fn refusals_name_the_meter() {
    let t = FlowTable::new(0, 2);
    let e = t
        .create(rule(
            "ingress pattern eth / end actions meter mtr_id 5 / end",
        ))
        .unwrap_err();
    assert_eq!((e.kind, e.errno), (ErrorType::ActionConf, libc::ENOENT));
    assert!(e.message.contains("no meter 5"), "{e}");
    // traffic_light() sends yellow to queue 2: the port has two.
    metered(&t, 1, 100, 100, traffic_light(), false);
    let e = t
        .create(rule(
            "ingress pattern eth / end actions meter mtr_id 1 / end",
        ))
        .unwrap_err();
    assert!(
        e.message
            .contains("meter 1's yellow actions: queue index 2 out of range"),
        "{e}"
    );
    // An egress rule's policy may not steer to queues.
    let e = t
        .validate(&rule(
            "egress pattern eth / end actions meter mtr_id 1 / end",
        ))
        .unwrap_err();
    assert!(e.message.contains("QUEUE is for ingress rules"), "{e}");

    let t = FlowTable::new(0, 4);
    metered(&t, 1, 100, 100, traffic_light(), false);
    t.create(rule(
        "ingress pattern eth / end actions meter mtr_id 1 / end",
    ))
    .unwrap();
    // Not shared: a second rule is refused.
    let e = t
        .create(rule(
            "ingress pattern eth / ipv4 / end actions meter mtr_id 1 / end",
        ))
        .unwrap_err();
    assert!(e.message.contains("not shared"), "{e}");
    assert_eq!(e.errno, libc::EBUSY);
    // A meter a rule uses cannot go; once the rule is gone, it can.
    assert_eq!(t.meters().destroy(1).unwrap_err().kind, MtrErrorType::MtrId);
    t.destroy(0).unwrap();
    t.meters().destroy(1).unwrap();
}

#[test]
fn policy_updates_reach_the_rules() {
    let t = FlowTable::new(0, 4);
    metered(&t, 1, 10_000, 0, traffic_light(), false);
    t.create(rule(
        "ingress pattern eth / end actions meter mtr_id 1 / end",
    ))
    .unwrap();
    let f = frame100();
    assert_eq!(v(&t, &f).fate, Fate::Queue(1));
    let m = t.meters();
    m.policy_add(
        2,
        MeterPolicy::new().actions(Color::Green, vec![Action::Queue { index: 3 }]),
    )
    .unwrap();
    m.policy_add(
        3,
        MeterPolicy::new().actions(Color::Green, vec![Action::Queue { index: 7 }]),
    )
    .unwrap();
    // A policy the rule cannot run is refused and nothing changes.
    let e = t.meter_policy_update(1, 3).unwrap_err();
    assert!(e.message.contains("queue index 7 out of range"), "{e}");
    assert_eq!(m.meter_ids(1).unwrap(), (1, 1));
    assert_eq!(v(&t, &f).fate, Fate::Queue(1));
    t.meter_policy_update(1, 2).unwrap();
    assert_eq!(m.meter_ids(1).unwrap(), (1, 2));
    assert_eq!(v(&t, &f).fate, Fate::Queue(3));
    assert!(t.meter_policy_update(1, 9).is_err());
    assert!(t.meter_policy_update(9, 2).is_err());
}

#[test]
fn testpmd_syntax_round_trips() {
    let text = "flow create 0 ingress pattern eth / ipv4 / end actions meter mtr_id 3 / queue index 1 / end";
    let cmd = parse(text).unwrap();
    assert_eq!(cmd.to_string(), text);
    assert_eq!(
        rule(&text["flow create 0 ".len()..]).actions[0],
        Action::Meter { mtr_id: 3 }
    );
    let e = parse("flow create 0 ingress pattern end actions meter 3 / end").unwrap_err();
    assert!(e.to_string().contains("mtr_id"), "{e}");
}
