//! Property tests: the engine's verdicts equal a naive reference's (every rule checked in
//! order by the item-by-item matcher) on random rules and packets, before and after removals;
//! and random rules print and parse back to themselves.

mod common;

use common::*;
use proptest::prelude::*;
use rpdk_flow::syntax::{FlowCommand, parse};
use rpdk_flow::{
    Action, Direction, Fate, FlowRule, FlowTable, Item, Meta, Verdict, eth, ipv4, ipv6, mark, tcp,
    udp, vlan,
};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Draws numbers from a fixed list of entropy words.
struct Dice<'a>(&'a [u32], usize);

impl Dice<'_> {
    fn n(&mut self, below: u32) -> u32 {
        let v = self.0[self.1 % self.0.len()].rotate_left(self.1 as u32 / self.0.len() as u32);
        self.1 += 1;
        v % below
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.n(xs.len() as u32) as usize]
    }
}

const ADDRS: [[u8; 4]; 4] = [
    [10, 0, 0, 1],
    [10, 0, 1, 2],
    [192, 168, 1, 1],
    [10, 1, 2, 3],
];
const PORTS: [u16; 6] = [53, 80, 1000, 1500, 2000, 5000];

fn v4(
    d: &mut Dice<'_>,
    it: rpdk_flow::ItemBuilder<ipv4::Ipv4>,
) -> rpdk_flow::ItemBuilder<ipv4::Ipv4> {
    let mut it = it;
    for f in [ipv4::SRC, ipv4::DST] {
        let a = Ipv4Addr::from(d.pick(&ADDRS));
        it = match d.n(5) {
            0 => it.is(f, a),
            1 => it.prefix(f, a, d.pick(&[8, 16, 20, 24, 31])),
            2 => it.range(f, a, Ipv4Addr::from(u32::from(a) + d.n(300))),
            3 => it.spec(f, a),
            _ => it,
        };
    }
    if d.n(6) == 0 {
        it = it.is(ipv4::PROTO, d.pick(&[6u8, 17]));
    }
    it
}

fn ports<I: rpdk_flow::TypedItem>(
    d: &mut Dice<'_>,
    mut it: rpdk_flow::ItemBuilder<I>,
    fields: [rpdk_flow::FieldRef<I, u16>; 2],
) -> rpdk_flow::ItemBuilder<I> {
    for f in fields {
        let p = d.pick(&PORTS);
        it = match d.n(5) {
            0 => it.is(f, p),
            1 => it.range(f, p, p + d.n(1200) as u16),
            2 => it.spec(f, p).mask(f, 0xff00),
            3 => it.spec(f, p),
            _ => it,
        };
    }
    it
}

/// Rule priorities: two that share the engine's filter band (16 and 17) and two far apart.
const PRIORITIES: [u32; 4] = [0, 16, 17, 70_000];

fn random_rule(d: &mut Dice<'_>, n: usize) -> FlowRule {
    let group = if d.n(4) == 0 { 1 } else { 0 };
    let mut r = FlowRule::ingress()
        .group(group)
        .priority(PRIORITIES[d.n(4) as usize]);
    if d.n(8) == 0 {
        r = r.item(Item::new(rpdk_flow::ItemType::Invert));
    }
    if d.n(6) == 0 {
        r = r.item(mark::item().is(mark::ID, d.n(3)));
    }
    let start = d.n(4);
    if start == 0 {
        let mut e = eth::item();
        if d.n(4) == 0 {
            e = e.is(eth::TYPE, d.pick(&[0x0800u16, 0x8100, 0x86dd]));
        }
        r = r.item(e);
        if d.n(3) == 0 {
            r = r.item(vlan::item().is(vlan::VID, d.n(3) as u16));
        }
    }
    if start <= 1 {
        if d.n(5) == 0 {
            r = r.item(ipv6::item().is(ipv6::DST, Ipv6Addr::from([2u8; 16])));
        } else {
            r = r.item(v4(d, ipv4::item()));
        }
    } else if d.n(3) == 0 {
        r = r.item(Item::new(rpdk_flow::ItemType::Any));
    }
    if start <= 2 || d.n(2) == 0 {
        r = match d.n(3) {
            0 => r.item(ports(d, udp::item(), [udp::SRC, udp::DST])),
            1 => r.item(ports(d, tcp::item(), [tcp::SRC, tcp::DST])),
            _ => r,
        };
    }
    if d.n(3) == 0 {
        r = r.action(Action::Mark { id: d.n(3) });
    }
    if d.n(4) == 0 {
        r = r.action(Action::Count { id: n as u32 });
    }
    match d.n(6) {
        0 => r.action(Action::Drop),
        1 => r.action(Action::Passthru),
        2 if group == 0 => r.action(Action::Jump { group: 1 }),
        _ => r.action(Action::Queue {
            index: d.n(4) as u16,
        }),
    }
}

fn random_packet(d: &mut Dice<'_>) -> Vec<u8> {
    let (s, t) = (d.pick(&ADDRS), d.pick(&ADDRS));
    let mut s = s;
    s[3] = s[3].wrapping_add(d.n(3) as u8 * 100);
    let (sp, dp) = (d.pick(&PORTS) + d.n(3) as u16 * 400, d.pick(&PORTS));
    match d.n(5) {
        0 => udp4_vlan(d.n(3) as u16, s, t, sp, dp),
        1 => tcp4(s, t, sp, dp),
        2 => udp6([1; 16], [2; 16], sp, dp),
        3 => vxlan(d.n(3), t),
        _ => udp4(s, t, sp, dp),
    }
}

/// The naive classifier: the rules in (priority, creation) order, matched one by one.
fn reference(rules: &[(u32, FlowRule)], frame: &[u8]) -> Verdict {
    let mut v = Verdict::default();
    let mut meta = Meta::default();
    let mut group = 0;
    let mut floor: Option<(u32, usize)> = None;
    'outer: for _ in 0..256 {
        let mut cands: Vec<(u32, usize, &FlowRule)> = rules
            .iter()
            .enumerate()
            .filter(|(_, (_, r))| r.attr.group == group)
            .map(|(i, (_, r))| (r.attr.priority, i, r))
            .filter(|&(p, i, _)| floor.is_none_or(|f| (p, i) > f))
            .collect();
        cands.sort_by_key(|&(p, i, _)| (p, i));
        let Some(&(p, i, r)) = cands
            .iter()
            .find(|(_, _, r)| rpdk_flow::reference_matches(r, frame, &meta))
        else {
            break;
        };
        for a in &r.actions {
            match a {
                Action::Mark { id } => {
                    v.mark = Some(*id);
                    v.flag = true;
                    meta.mark = Some(*id);
                }
                Action::Queue { index } => {
                    v.fate = Fate::Queue(*index);
                    return v;
                }
                Action::Drop => {
                    v.fate = Fate::Drop;
                    return v;
                }
                Action::Jump { group: g } => {
                    group = *g;
                    floor = None;
                    continue 'outer;
                }
                Action::Passthru => {
                    floor = Some((p, i));
                    continue 'outer;
                }
                _ => {}
            }
        }
        return v;
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn engine_agrees_with_the_reference(entropy in proptest::collection::vec(any::<u32>(), 97), nrules in 1usize..120) {
        let mut d = Dice(&entropy, 0);
        let t = FlowTable::new(0, 4);
        let mut rules = Vec::new();
        for n in 0..nrules {
            let r = random_rule(&mut d, n);
            let id = t.create(r.clone()).unwrap_or_else(|e| panic!("{e}: {r:?}"));
            rules.push((id, r));
        }
        let packets: Vec<Vec<u8>> = (0..48).map(|_| random_packet(&mut d)).collect();
        for p in &packets {
            let want = reference(&rules, p);
            let got = t.classify_frame(Direction::Ingress, p, 0);
            prop_assert_eq!(got.fate, want.fate, "rules {:#?}", rules);
            prop_assert_eq!(got.mark, want.mark);
        }
        // Remove every other rule: the tables stay right.
        let mut keep = Vec::new();
        for (k, (id, r)) in rules.into_iter().enumerate() {
            if k % 2 == 0 {
                t.destroy(id).unwrap();
            } else {
                keep.push((id, r));
            }
        }
        for p in &packets {
            let want = reference(&keep, p);
            let got = t.classify_frame(Direction::Ingress, p, 0);
            prop_assert_eq!(got.fate, want.fate);
            prop_assert_eq!(got.mark, want.mark);
        }
    }

    #[test]
    fn rules_print_and_parse_back(entropy in proptest::collection::vec(any::<u32>(), 41)) {
        let mut d = Dice(&entropy, 0);
        let rule = random_rule(&mut d, 0);
        let cmd = FlowCommand::Create { port: 0, rule };
        let text = cmd.to_string();
        let back = parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        prop_assert_eq!(back, cmd, "{}", text);
    }
}
