//! The template API: rules made from templates on flow queues classify as the same rules
//! created synchronously; 100k rules in batches; the calls' errors.

mod common;

use common::*;
use proptest::prelude::*;
use rpdk_flow::template::{
    ActionsTemplateAttr, OpAttr, OpKind, OpStatus, PatternTemplateAttr, QueueAttr,
    TemplateTableAttr,
};
use rpdk_flow::{Action, Attr, Direction, ErrorType, Fate, FlowRule, FlowTable, Item, ItemType};

const POSTPONE: OpAttr = OpAttr { postpone: true };
const NOW: OpAttr = OpAttr { postpone: false };

fn ingress() -> Attr {
    Attr {
        ingress: true,
        ..Attr::default()
    }
}

fn pt_ingress() -> PatternTemplateAttr {
    PatternTemplateAttr {
        ingress: true,
        ..Default::default()
    }
}

fn at_ingress() -> ActionsTemplateAttr {
    ActionsTemplateAttr {
        ingress: true,
        ..Default::default()
    }
}

/// An item with a spec (and a mask, for the synchronous rules).
fn it(
    ty: ItemType,
    len: usize,
    fields: &[(usize, &[u8])],
    mask: Option<&[(usize, &[u8])]>,
) -> Item {
    let mut spec = vec![0; len];
    for (off, b) in fields {
        spec[*off..*off + b.len()].copy_from_slice(b);
    }
    let mask = mask.map(|m| {
        let mut v = vec![0; len];
        for (off, b) in m {
            v[*off..*off + b.len()].copy_from_slice(b);
        }
        v
    });
    Item {
        ty,
        spec: Some(spec),
        last: None,
        mask,
    }
}

/// A mask-only template item.
fn mask_item(ty: ItemType, len: usize, mask: &[(usize, &[u8])]) -> Item {
    let mut v = vec![0; len];
    for (off, b) in mask {
        v[*off..*off + b.len()].copy_from_slice(b);
    }
    Item {
        ty,
        spec: None,
        last: None,
        mask: Some(v),
    }
}

fn prefix4(len: u32) -> [u8; 4] {
    (if len == 0 { 0 } else { u32::MAX << (32 - len) }).to_be_bytes()
}

/// The shapes the tests use: (pattern template items, the masks as (ipv4 mask fields, l4
/// type and mask fields)).
struct Shape {
    ip: Vec<(usize, [u8; 4])>,
    l4: Option<(ItemType, usize)>,
}

fn shapes() -> Vec<Shape> {
    vec![
        // eth / ipv4 dst /32 / udp dst
        Shape {
            ip: vec![(16, prefix4(32))],
            l4: Some((ItemType::Udp, 8)),
        },
        // eth / ipv4 src /16 dst /24
        Shape {
            ip: vec![(12, prefix4(16)), (16, prefix4(24))],
            l4: None,
        },
        // eth / ipv4 src /8 / tcp dst
        Shape {
            ip: vec![(12, prefix4(8))],
            l4: Some((ItemType::Tcp, 20)),
        },
    ]
}

fn template_items(s: &Shape) -> Vec<Item> {
    let ipm: Vec<(usize, &[u8])> = s.ip.iter().map(|(o, m)| (*o, &m[..])).collect();
    let mut v = vec![
        Item::new(ItemType::Eth),
        mask_item(ItemType::Ipv4, 20, &ipm),
    ];
    if let Some((ty, len)) = s.l4 {
        v.push(mask_item(ty, len, &[(2, &[0xff, 0xff])]));
    }
    v
}

/// A rule's values for a shape: src, dst, port.
fn rule_items(s: &Shape, src: [u8; 4], dst: [u8; 4], port: u16, with_mask: bool) -> Vec<Item> {
    let ipm: Vec<(usize, &[u8])> = s.ip.iter().map(|(o, m)| (*o, &m[..])).collect();
    let mut v = vec![
        Item::new(ItemType::Eth),
        it(
            ItemType::Ipv4,
            20,
            &[(12, &src), (16, &dst)],
            with_mask.then_some(&ipm[..]),
        ),
    ];
    if let Some((ty, len)) = s.l4 {
        v.push(it(
            ty,
            len,
            &[(2, &port.to_be_bytes())],
            with_mask.then_some(&[(2, &[0xff, 0xff][..])][..]),
        ));
    }
    v
}

/// Configures `t` and makes one table per priority 0..3 of every shape with two actions
/// templates: [0] `mark (open) / queue (open)`, [1] `mark id 7 (fixed) / drop`. Returns the
/// table ids by priority.
fn setup(t: &FlowTable, queue_size: u32, nb_flows: u32) -> Vec<u32> {
    t.configure(&Default::default(), &[QueueAttr { size: queue_size }; 2])
        .unwrap();
    let pts: Vec<u32> = shapes()
        .iter()
        .map(|s| {
            t.pattern_template_create(None, pt_ingress(), template_items(s))
                .unwrap()
        })
        .collect();
    let a0 = t
        .actions_template_create(
            None,
            at_ingress(),
            vec![Action::Mark { id: 0 }, Action::Queue { index: 0 }],
            vec![Action::Mark { id: 0 }, Action::Queue { index: 0 }],
        )
        .unwrap();
    let a1 = t
        .actions_template_create(
            None,
            at_ingress(),
            vec![Action::Mark { id: 7 }, Action::Drop],
            vec![Action::Mark { id: u32::MAX }, Action::Drop],
        )
        .unwrap();
    (0..3)
        .map(|prio| {
            t.template_table_create(
                None,
                TemplateTableAttr {
                    attr: Attr {
                        priority: prio,
                        ..ingress()
                    },
                    nb_flows,
                },
                &pts,
                &[a0, a1],
            )
            .unwrap()
        })
        .collect()
}

/// One rule of the tests: shape, priority, values, actions template and values.
#[derive(Clone, Debug)]
struct Spec {
    shape: u8,
    prio: u32,
    src: [u8; 4],
    dst: [u8; 4],
    port: u16,
    at: u8,
    mark: u32,
    queue: u16,
}

impl Spec {
    fn actions(&self) -> Vec<Action> {
        match self.at {
            0 => vec![
                Action::Mark { id: self.mark },
                Action::Queue { index: self.queue },
            ],
            _ => vec![Action::Mark { id: self.mark }, Action::Drop],
        }
    }

    /// The same rule for `create`.
    fn sync_rule(&self) -> FlowRule {
        let s = &shapes()[self.shape as usize];
        FlowRule {
            attr: Attr {
                priority: self.prio,
                ..ingress()
            },
            pattern: rule_items(s, self.src, self.dst, self.port, true),
            actions: match self.at {
                0 => self.actions(),
                // The template fixes the mark.
                _ => vec![Action::Mark { id: 7 }, Action::Drop],
            },
        }
    }

    fn enqueue(&self, t: &FlowTable, tables: &[u32], queue: u32, op: OpAttr, user: u64) -> u32 {
        let s = &shapes()[self.shape as usize];
        t.async_create(
            queue,
            op,
            tables[self.prio as usize],
            &rule_items(s, self.src, self.dst, self.port, false),
            self.shape,
            &self.actions(),
            self.at,
            user,
        )
        .unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    fn frame(&self) -> Vec<u8> {
        match shapes()[self.shape as usize].l4 {
            Some((ItemType::Tcp, _)) => tcp4(self.src, self.dst, 1000, self.port),
            _ => udp4(self.src, self.dst, 1000, self.port),
        }
    }
}

fn pull_all(t: &FlowTable, queue: u32) -> (usize, usize) {
    let r = t.pull(queue, usize::MAX).unwrap();
    let ok = r.iter().filter(|r| r.status.is_success()).count();
    (ok, r.len() - ok)
}

#[test]
fn a_100k_rule_table_in_batches() {
    const N: u32 = 100_000;
    const BATCH: u32 = 1024;
    let t = FlowTable::new(0, 4);
    let tables = setup(&t, BATCH, N);
    let spec = |i: u32| Spec {
        shape: 0,
        prio: 0,
        src: [192, 168, 0, 1],
        dst: [10, (i >> 16) as u8, (i >> 8) as u8, i as u8],
        port: (i % 1000) as u16,
        at: 0,
        mark: i,
        queue: (i % 4) as u16,
    };
    let mut i = 0;
    while i < N {
        let end = (i + BATCH).min(N);
        for k in i..end {
            let id = spec(k).enqueue(&t, &tables, 0, POSTPONE, k as u64);
            assert_eq!(id, k);
        }
        // Not visible before the push.
        assert_eq!(
            t.classify_frame(Direction::Ingress, &spec(end - 1).frame(), 0)
                .fate,
            Fate::Default
        );
        t.push(0).unwrap();
        let r = t.pull(0, BATCH as usize).unwrap();
        assert_eq!(r.len() as u32, end - i);
        for (k, res) in (i..end).zip(&r) {
            assert_eq!(res.status, OpStatus::Success);
            assert_eq!(res.user_data, k as u64);
            assert_eq!(res.op, OpKind::Create(k));
        }
        i = end;
    }
    assert_eq!(t.rules().len(), N as usize);
    // Every 97th rule, and misses.
    for k in (0..N).step_by(97) {
        let v = t.classify_frame(Direction::Ingress, &spec(k).frame(), 0);
        assert_eq!(
            (v.fate, v.mark),
            (Fate::Queue((k % 4) as u16), Some(k)),
            "rule {k}"
        );
        let mut miss = spec(k);
        miss.port = miss.port.wrapping_add(1000);
        assert_eq!(
            t.classify_frame(Direction::Ingress, &miss.frame(), 0).fate,
            Fate::Default
        );
    }
    // The same rules created synchronously (a sample: the first 5,000) give the same verdicts.
    let s = FlowTable::new(0, 4);
    for k in 0..5_000 {
        s.create(spec(k).sync_rule()).unwrap();
    }
    for k in (0..5_000).step_by(7) {
        let f = spec(k).frame();
        assert_eq!(
            s.classify_frame(Direction::Ingress, &f, 0),
            t.classify_frame(Direction::Ingress, &f, 0)
        );
    }
    // Destroyed in batches too.
    let mut i = 0;
    while i < N {
        let end = (i + BATCH).min(N);
        for k in i..end {
            t.async_destroy(0, POSTPONE, k, k as u64).unwrap();
        }
        t.push(0).unwrap();
        assert_eq!(pull_all(&t, 0), ((end - i) as usize, 0));
        i = end;
    }
    assert!(t.rules().is_empty());
    assert!(!t.has_rules(Direction::Ingress));
    for tb in tables {
        t.template_table_destroy(tb).unwrap();
    }
}

fn arb_spec() -> impl Strategy<Value = Spec> {
    (
        0u8..3,
        0u32..3,
        (0u8..4, 0u8..4),
        (0u8..4, 0u8..4),
        0u16..4,
        0u8..2,
        0u32..1000,
        0u16..4,
    )
        .prop_map(
            |(shape, prio, (s1, s2), (d1, d2), port, at, mark, queue)| Spec {
                shape,
                prio,
                src: [10 + s1, s2, 1, 1],
                dst: [172, 16, d1, d2],
                port: 80 + port,
                at,
                mark,
                queue,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random rules of three shapes, three priorities and two actions templates, enqueued on
    /// two queues in random batches (some pushed at once), then half of them destroyed the
    /// same way: the verdicts are those of the same rules created and destroyed with `create`
    /// and `destroy` in the same order.
    #[test]
    fn template_rules_classify_as_synchronous_rules(
        specs in proptest::collection::vec(arb_spec(), 1..60),
        cuts in proptest::collection::vec(any::<u8>(), 60),
        probes in proptest::collection::vec(arb_spec(), 32),
    ) {
        let t = FlowTable::new(0, 4);
        let tables = setup(&t, 64, 1024);
        let s = FlowTable::new(0, 4);
        let mut ids = Vec::new();
        for (k, sp) in specs.iter().enumerate() {
            let sync = s.create(sp.sync_rule()).unwrap();
            let op = if cuts[k] % 5 == 0 { NOW } else { POSTPONE };
            let id = sp.enqueue(&t, &tables, 0, op, k as u64);
            prop_assert_eq!(id, sync);
            ids.push(id);
            if cuts[k] % 3 == 0 {
                t.push(0).unwrap();
            }
        }
        t.push(0).unwrap();
        prop_assert_eq!(pull_all(&t, 0), (specs.len(), 0));
        let frames: Vec<Vec<u8>> = specs.iter().chain(&probes).map(Spec::frame).collect();
        for f in &frames {
            prop_assert_eq!(
                t.classify_frame(Direction::Ingress, f, 0),
                s.classify_frame(Direction::Ingress, f, 0)
            );
        }
        prop_assert_eq!(t.rules(), s.rules());
        for (k, id) in ids.iter().enumerate() {
            if cuts[k] % 2 == 0 {
                s.destroy(*id).unwrap();
                t.async_destroy((k % 2) as u32, POSTPONE, *id, 0).unwrap();
            }
        }
        t.push(0).unwrap();
        t.push(1).unwrap();
        for f in &frames {
            prop_assert_eq!(
                t.classify_frame(Direction::Ingress, f, 0),
                s.classify_frame(Direction::Ingress, f, 0)
            );
        }
        prop_assert_eq!(t.rules(), s.rules());
    }
}

#[test]
fn postpone_waits_for_push_and_results_wait_for_pull() {
    let t = FlowTable::new(0, 4);
    let tables = setup(&t, 4, 16);
    let a = Spec {
        shape: 1,
        prio: 0,
        src: [10, 1, 2, 3],
        dst: [172, 16, 0, 9],
        port: 0,
        at: 0,
        mark: 5,
        queue: 2,
    };
    let id = a.enqueue(&t, &tables, 1, POSTPONE, 99);
    assert_eq!(id, 0);
    // The id is taken: a synchronous rule gets the next one.
    let sync = t
        .create(
            FlowRule::ingress()
                .priority(3)
                .item(Item::new(ItemType::Eth))
                .action(Action::Drop),
        )
        .unwrap();
    assert_eq!(sync, 1);
    assert_eq!(
        t.classify_frame(Direction::Ingress, &a.frame(), 0).fate,
        Fate::Drop
    );
    assert!(t.pull(1, 8).unwrap().is_empty());
    t.push(1).unwrap();
    assert_eq!(
        t.classify_frame(Direction::Ingress, &a.frame(), 0).fate,
        Fate::Queue(2)
    );
    // Without postpone, the operation (and those before it) apply at once.
    let mut b = a.clone();
    b.dst = [172, 16, 1, 9];
    b.at = 1;
    b.enqueue(&t, &tables, 1, NOW, 100);
    let v = t.classify_frame(Direction::Ingress, &b.frame(), 0);
    assert_eq!((v.fate, v.mark), (Fate::Drop, Some(7)));
    let r = t.pull(1, 1).unwrap();
    assert_eq!((r.len(), r[0].user_data), (1, 99));
    let r = t.pull(1, 8).unwrap();
    assert_eq!((r.len(), r[0].user_data), (1, 100));
    // A full queue: size 4, counting unpulled results.
    for k in 0..4 {
        t.async_destroy(0, NOW, 100 + k, 0).unwrap_err();
    }
    let c = (0..4)
        .map(|k| {
            let mut s = a.clone();
            s.dst = [172, 16, 2, k];
            s.enqueue(&t, &tables, 0, NOW, k as u64)
        })
        .count();
    assert_eq!(c, 4);
    let mut s = a.clone();
    s.dst = [172, 16, 3, 0];
    let e = t
        .async_create(
            0,
            NOW,
            tables[0],
            &rule_items(&shapes()[1], s.src, s.dst, 0, false),
            1,
            &s.actions(),
            0,
            0,
        )
        .unwrap_err();
    assert_eq!(e.errno, libc::ENOMEM, "{e}");
    assert_eq!(pull_all(&t, 0), (4, 0));
}

#[test]
fn failures_come_back_as_results() {
    let t = FlowTable::new(0, 4);
    let tables = setup(&t, 8, 16);
    // Queue 9 of a 4-queue port: conforms to the templates, refused when pushed.
    let mut a = Spec {
        shape: 0,
        prio: 1,
        src: [10, 0, 0, 1],
        dst: [10, 0, 0, 2],
        port: 53,
        at: 0,
        mark: 1,
        queue: 9,
    };
    let id = a.enqueue(&t, &tables, 0, POSTPONE, 1);
    t.async_destroy(0, POSTPONE, id, 2).unwrap();
    t.push(0).unwrap();
    let r = t.pull(0, 8).unwrap();
    assert_eq!(r.len(), 2);
    match &r[0].status {
        OpStatus::Error(e) => assert_eq!(e.kind, ErrorType::ActionConf, "{e}"),
        s => panic!("{s:?}"),
    }
    assert!(matches!(r[1].status, OpStatus::Error(_)));
    assert!(t.rules().is_empty());
    // The id is free again.
    a.queue = 1;
    assert_eq!(a.enqueue(&t, &tables, 0, NOW, 3), id);
}

#[test]
fn template_errors() {
    let t = FlowTable::new(0, 4);
    // Before configure.
    let e = t
        .pattern_template_create(None, pt_ingress(), vec![Item::new(ItemType::Eth)])
        .unwrap_err();
    assert!(e.message.contains("not configured"), "{e}");
    assert!(t.push(0).is_err());
    t.configure(&Default::default(), &[]).unwrap_err();
    t.configure(&Default::default(), &[QueueAttr { size: 0 }])
        .unwrap_err();
    let tables = setup(&t, 8, 2);
    // A template's pattern is checked as a rule's.
    let e = t
        .pattern_template_create(
            None,
            pt_ingress(),
            vec![
                Item::new(ItemType::Eth),
                mask_item(ItemType::Udp, 8, &[(2, &[0xff, 0xff])]),
            ],
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorType::Item, "{e}");
    // Masks of another type, or missing.
    let e = t
        .actions_template_create(None, at_ingress(), vec![Action::Drop], vec![Action::Flag])
        .unwrap_err();
    assert_eq!(e.kind, ErrorType::Action);
    let e = t
        .actions_template_create(None, at_ingress(), vec![Action::Drop], vec![])
        .unwrap_err();
    assert_eq!(e.kind, ErrorType::ActionNum);
    // Ids asked for that are taken.
    let e = t
        .pattern_template_create(Some(0), pt_ingress(), vec![Item::new(ItemType::Eth)])
        .unwrap_err();
    assert_eq!(e.errno, libc::EEXIST);
    // A template of another direction.
    let eg = t
        .pattern_template_create(
            None,
            PatternTemplateAttr {
                egress: true,
                ..Default::default()
            },
            vec![Item::new(ItemType::Eth)],
        )
        .unwrap();
    let e = t
        .template_table_create(
            None,
            TemplateTableAttr {
                attr: ingress(),
                nb_flows: 4,
            },
            &[eg],
            &[0],
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorType::Attr, "{e}");
    // Used templates and tables with rules are busy; configure again too.
    assert_eq!(
        t.pattern_template_destroy(0).unwrap_err().errno,
        libc::EBUSY
    );
    assert_eq!(
        t.actions_template_destroy(0).unwrap_err().errno,
        libc::EBUSY
    );
    assert_eq!(
        t.configure(&Default::default(), &[QueueAttr { size: 8 }])
            .unwrap_err()
            .errno,
        libc::EBUSY
    );
    let s = |dst: u8| Spec {
        shape: 0,
        prio: 0,
        src: [1, 1, 1, 1],
        dst: [2, 2, 2, dst],
        port: 7,
        at: 0,
        mark: 0,
        queue: 0,
    };
    let r0 = s(0).enqueue(&t, &tables, 0, NOW, 0);
    s(1).enqueue(&t, &tables, 0, POSTPONE, 0);
    // nb_flows 2: full, enqueued rules counted.
    let e = t
        .async_create(
            0,
            NOW,
            tables[0],
            &rule_items(&shapes()[0], [1; 4], [3; 4], 7, false),
            0,
            &s(2).actions(),
            0,
            0,
        )
        .unwrap_err();
    assert_eq!(e.errno, libc::ENOSPC, "{e}");
    // Items or actions that do not fit the templates; bad indexes, queues, tables.
    let bad = |pattern: &[Item], pi: u8, actions: &[Action], ai: u8, q: u32, tb: u32| {
        t.async_create(q, NOW, tb, pattern, pi, actions, ai, 0)
            .unwrap_err()
    };
    let p1 = rule_items(&shapes()[1], [1; 4], [3; 4], 7, false);
    let p0 = rule_items(&shapes()[0], [1; 4], [3; 4], 7, false);
    let a0 = s(2).actions();
    assert_eq!(bad(&p1, 0, &a0, 0, 0, tables[1]).kind, ErrorType::ItemNum);
    assert_eq!(
        bad(&p0[..2], 0, &a0, 0, 0, tables[1]).kind,
        ErrorType::ItemNum
    );
    let mut swapped = p0.clone();
    swapped[2].ty = ItemType::Tcp;
    assert_eq!(bad(&swapped, 0, &a0, 0, 0, tables[1]).kind, ErrorType::Item);
    assert_eq!(bad(&p0, 0, &a0, 1, 0, tables[1]).kind, ErrorType::Action);
    assert_eq!(
        bad(&p0, 0, &a0[..1], 0, 0, tables[1]).kind,
        ErrorType::ActionNum
    );
    assert!(bad(&p0, 3, &a0, 0, 0, tables[1]).message.contains("index"));
    assert!(bad(&p0, 0, &a0, 2, 0, tables[1]).message.contains("index"));
    assert!(
        bad(&p0, 0, &a0, 0, 2, tables[1])
            .message
            .contains("queue 2")
    );
    assert_eq!(bad(&p0, 0, &a0, 0, 0, 77).errno, libc::ENOENT);
    assert_eq!(
        t.async_destroy(0, NOW, 12345, 0).unwrap_err().errno,
        libc::ENOENT
    );
    assert_eq!(
        t.template_table_destroy(tables[0]).unwrap_err().errno,
        libc::EBUSY
    );
    // A synchronous flush empties the table.
    t.push(0).unwrap();
    t.flush().unwrap();
    assert!(!t.has_rules(Direction::Ingress));
    let _ = r0;
    for tb in tables {
        t.template_table_destroy(tb).unwrap();
    }
    t.pattern_template_destroy(0).unwrap();
    assert_eq!(
        t.pattern_template_destroy(0).unwrap_err().errno,
        libc::ENOENT
    );
}

#[test]
fn relaxed_matching_and_presence_items() {
    let t = FlowTable::new(0, 4);
    t.configure(&Default::default(), &[QueueAttr { size: 8 }])
        .unwrap();
    let ud = mask_item(ItemType::Udp, 8, &[(2, &[0xff, 0xff])]);
    // Not relaxed: `eth / ipv4 / udp dst` where eth and ipv4 only need to be there.
    let strict = t
        .pattern_template_create(
            None,
            pt_ingress(),
            vec![
                Item::new(ItemType::Eth),
                Item::new(ItemType::Ipv4),
                ud.clone(),
            ],
        )
        .unwrap();
    let at = t
        .actions_template_create(
            None,
            at_ingress(),
            vec![Action::Queue { index: 3 }],
            vec![Action::Queue { index: 0xffff }],
        )
        .unwrap();
    let tb = t
        .template_table_create(
            None,
            TemplateTableAttr {
                attr: ingress(),
                nb_flows: 8,
            },
            &[strict],
            &[at],
        )
        .unwrap();
    let pat = vec![
        Item::new(ItemType::Eth),
        Item::new(ItemType::Ipv4),
        it(ItemType::Udp, 8, &[(2, &53u16.to_be_bytes())], None),
    ];
    // The template fixes the queue: the rule's index 1 is not used.
    t.async_create(0, NOW, tb, &pat, 0, &[Action::Queue { index: 1 }], 0, 0)
        .unwrap();
    assert_eq!(
        t.classify_frame(Direction::Ingress, &udp4([1; 4], [2; 4], 9, 53), 0)
            .fate,
        Fate::Queue(3)
    );
    assert_eq!(
        t.classify_frame(Direction::Ingress, &udp6([1; 16], [2; 16], 9, 53), 0)
            .fate,
        Fate::Default
    );
    let r = &t.rules()[0].1;
    assert_eq!(r.pattern[1], Item::new(ItemType::Ipv4));
    // Relaxed: the items without masks are left out (`udp dst` alone: IPv6 matches too).
    let relaxed = t
        .pattern_template_create(
            None,
            PatternTemplateAttr {
                relaxed_matching: true,
                ..pt_ingress()
            },
            vec![Item::new(ItemType::Ipv4), ud],
        )
        .unwrap();
    let tb2 = t
        .template_table_create(
            None,
            TemplateTableAttr {
                attr: Attr {
                    priority: 1,
                    ..ingress()
                },
                nb_flows: 8,
            },
            &[relaxed],
            &[at],
        )
        .unwrap();
    t.async_create(
        0,
        NOW,
        tb2,
        &pat[1..],
        0,
        &[Action::Queue { index: 0 }],
        0,
        0,
    )
    .unwrap();
    assert_eq!(t.rules()[1].1.pattern.len(), 1);
    assert_eq!(
        t.classify_frame(Direction::Ingress, &udp6([1; 16], [2; 16], 9, 53), 0)
            .fate,
        Fate::Queue(3)
    );
}
