//! The wheel against a model: every timer due is collected, in deadline order, never early,
//! and the bounds it reports hold.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;
use crate::data::TimerData;
use crate::expired::Expired;
use crate::node::Node;

fn node(expire: u64) -> *mut Header {
    let n = Node::alloc(|_: &Expired<'_>| {}, TimerData::acquire_global(), 0);
    // SAFETY: a fresh node is the test's.
    unsafe { (*n).expire.set(expire) };
    n
}

fn free(n: *mut Header) {
    // SAFETY: the node is in no list and used no more.
    unsafe { Header::free(n) };
}

fn exp(n: *mut Header) -> u64 {
    // SAFETY: the test owns its nodes.
    unsafe { expire(n) }
}

/// Collects at `now` and returns the batch as deadlines, sorted as `manage()` would run them.
fn collect(w: &mut Wheel, now: u64) -> Vec<*mut Header> {
    let mut batch = Batch::new();
    // SAFETY: the test owns the wheel and its nodes.
    unsafe {
        w.collect(now, &mut batch, 0);
        if !batch.is_sorted() {
            batch.sort();
        }
    }
    let mut out = Vec::new();
    let mut n = batch.head();
    while !n.is_null() {
        out.push(n);
        // SAFETY: as above.
        n = unsafe { next(n) };
    }
    out
}

#[test]
fn levels_follow_the_highest_differing_digit() {
    assert_eq!(level_for(0, 0), 0);
    assert_eq!(level_for(0, 63), 0);
    assert_eq!(level_for(0, 64), 1);
    assert_eq!(level_for(64, 127), 0);
    assert_eq!(level_for(63, 64), 1);
    assert_eq!(level_for(0, 1 << 12), 2);
    assert_eq!(level_for(0, u64::MAX), LEVELS - 1);
    assert_eq!(slot_start(0, LEVELS - 1, 15), 15 << 60);
    assert_eq!(slot_last(15 << 60, LEVELS - 1), u64::MAX);
    assert_eq!(slot_start(0x1234_5678, 1, 3), 0x1234_50C0);
}

#[test]
fn timers_fire_in_deadline_order_and_never_early() {
    let mut w = Wheel::new(1000);
    let deadlines = [
        5000u64,
        1001,
        70_000,
        1000,
        999,
        4_000_000,
        1 << 40,
        5000,
        64_000,
    ];
    let nodes: Vec<_> = deadlines.iter().map(|&d| node(d)).collect();
    for &n in &nodes {
        // SAFETY: fresh nodes, linked nowhere.
        unsafe { w.insert(n) };
    }
    assert_eq!(w.len(), deadlines.len() as u64);
    assert_eq!(w.earliest_expire(), Some(999));
    let mut fired = Vec::new();
    for now in [998, 1000, 4999, 5000, 100_000, 1 << 39, u64::MAX / 2] {
        for n in collect(&mut w, now) {
            assert!(exp(n) <= now, "{} fired at {now}", exp(n));
            fired.push(exp(n));
        }
        if let Some(e) = w.earliest_expire() {
            assert!(w.next_due() != 0 && w.next_due() <= e.max(w.cur));
        }
    }
    let mut sorted = deadlines.to_vec();
    sorted.sort();
    assert_eq!(fired, sorted);
    assert_eq!(w.len(), 0);
    assert_eq!(w.next_due(), 0);
    nodes.into_iter().for_each(free);
}

#[test]
fn removed_timers_do_not_fire() {
    let mut w = Wheel::new(0);
    let a = node(100);
    let b = node(100);
    let c = node(100);
    // SAFETY: fresh nodes, then nodes of `w`.
    unsafe {
        w.insert(a);
        w.insert(b);
        w.insert(c);
        w.remove(b);
        w.remove(a);
    }
    assert_eq!(collect(&mut w, 100), [c]);
    // SAFETY: `a` is linked nowhere.
    unsafe { w.insert(a) };
    assert_eq!(w.earliest_expire(), Some(100));
    // SAFETY: `a` is linked in `w`.
    unsafe { w.remove(a) };
    assert_eq!(w.len(), 0);
    assert!(collect(&mut w, u64::MAX).is_empty());
    [a, b, c].into_iter().for_each(free);
}

#[derive(Clone, Debug)]
enum Op {
    Insert {
        delta: u64,
        past: bool,
    },
    Remove(usize),
    Advance(u64),
    /// Advances to just before, at or just after a pending deadline.
    AdvanceNear {
        which: usize,
        off: u64,
    },
}

/// Distances of every magnitude, with slot edges (powers of 64 and their neighbours) often.
fn distance(max_scale: u32) -> impl Strategy<Value = u64> {
    prop_oneof![
        (0..max_scale, any::<u64>()).prop_map(|(scale, d)| d & ((1u64 << scale) - 1)),
        (0u32..8, 0u64..3).prop_map(|(digit, off)| (1u64 << (6 * digit)) + off - 1),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (distance(48), prop::bool::weighted(0.1))
            .prop_map(|(delta, past)| Op::Insert { delta, past }),
        1 => any::<usize>().prop_map(Op::Remove),
        1 => distance(40).prop_map(Op::Advance),
        1 => (any::<usize>(), 0u64..3).prop_map(|(which, off)| Op::AdvanceNear { which, off }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_wheel_agrees_with_a_sorted_set(
        start in 0u64..(1 << 62),
        ops in prop::collection::vec(op(), 1..300),
    ) {
        let mut w = Wheel::new(start);
        let mut now = start;
        let mut model: BTreeSet<(u64, usize)> = BTreeSet::new();
        let mut nodes: Vec<*mut Header> = Vec::new();
        let mut linked: Vec<usize> = Vec::new();
        for op in ops {
            match op.clone() {
                Op::Insert { delta, past } => {
                    let e = if past { now.saturating_sub(delta) } else { now + delta };
                    let n = node(e);
                    // SAFETY: a fresh node.
                    unsafe { w.insert(n) };
                    model.insert((e, nodes.len()));
                    linked.push(nodes.len());
                    nodes.push(n);
                }
                Op::Remove(i) if !linked.is_empty() => {
                    let id = linked.swap_remove(i % linked.len());
                    // SAFETY: `id` is linked in `w`.
                    unsafe { w.remove(nodes[id]) };
                    prop_assert!(model.remove(&(exp(nodes[id]), id)));
                }
                Op::Remove(_) => {}
                Op::Advance(_) | Op::AdvanceNear { .. } => {
                    now = match op {
                        Op::AdvanceNear { which, off } if !model.is_empty() => {
                            let e = model.iter().nth(which % model.len()).unwrap().0;
                            now.max((e + off).saturating_sub(1))
                        }
                        Op::Advance(d) => now + d,
                        _ => now,
                    };
                    let fired = collect(&mut w, now);
                    let due: Vec<(u64, usize)> =
                        model.iter().copied().take_while(|&(e, _)| e <= now).collect();
                    let got: Vec<u64> = fired.iter().map(|&n| exp(n)).collect();
                    let want: Vec<u64> = due.iter().map(|&(e, _)| e).collect();
                    prop_assert_eq!(got, want);
                    for d in &due {
                        model.remove(d);
                        linked.retain(|&i| i != d.1);
                    }
                }
            }
            prop_assert_eq!(w.len(), model.len() as u64);
            let min = model.iter().next().map(|&(e, _)| e);
            prop_assert_eq!(w.earliest_expire(), min);
            if let Some(min) = min {
                prop_assert!(w.next_due() != 0 && w.next_due() <= min.max(w.cur));
            }
        }
        let mut rest = Vec::new();
        // SAFETY: the test owns the wheel and its nodes.
        unsafe { w.drain(|n| rest.push(n)) };
        prop_assert_eq!(rest.len(), model.len());
        prop_assert_eq!(w.len(), 0);
        nodes.into_iter().for_each(free);
    }
}
