//! Property tests: random sequences of single, bulk, burst, peek and zero-copy operations on
//! a ring and on a `VecDeque` model of it; every count, free space, available figure and
//! element must agree.

use std::collections::VecDeque;

use proptest::prelude::*;
use rpdk_ring::{
    Consumer, ConsumerMode, Mc, McHts, McRts, Mp, MpHts, MpRts, Peek, Producer, ProducerMode,
    RingBuilder, Sc, Sp,
};

#[derive(Clone, Debug)]
enum Op {
    Enq1,
    Deq1,
    EnqBulk(usize),
    EnqBurst(usize),
    DeqBulk(usize),
    DeqBurst(usize),
    /// Peek (or zero-copy with `zc`) enqueue: reserve `n` (bulk or burst), publish `keep`.
    PeekEnq {
        n: usize,
        bulk: bool,
        keep: usize,
        zc: bool,
    },
    /// Peek (or zero-copy) dequeue: reserve `n`, remove `keep`.
    PeekDeq {
        n: usize,
        bulk: bool,
        keep: usize,
        zc: bool,
    },
}

fn ops(peek: bool) -> impl Strategy<Value = Vec<Op>> {
    let n = 0usize..40;
    let basic = prop_oneof![
        Just(Op::Enq1),
        Just(Op::Deq1),
        n.clone().prop_map(Op::EnqBulk),
        n.clone().prop_map(Op::EnqBurst),
        n.clone().prop_map(Op::DeqBulk),
        n.clone().prop_map(Op::DeqBurst),
    ];
    let peeks =
        prop_oneof![
            (n.clone(), any::<bool>(), 0usize..45, any::<bool>())
                .prop_map(|(n, bulk, keep, zc)| Op::PeekEnq { n, bulk, keep, zc }),
            (n, any::<bool>(), 0usize..45, any::<bool>())
                .prop_map(|(n, bulk, keep, zc)| Op::PeekDeq { n, bulk, keep, zc }),
        ];
    let op = if peek {
        prop_oneof![3 => basic, 2 => peeks].boxed()
    } else {
        basic.boxed()
    };
    proptest::collection::vec(op, 1..200)
}

/// The model: a bounded FIFO, and the next value to enqueue.
struct Model {
    q: VecDeque<u64>,
    cap: usize,
    next: u64,
}

impl Model {
    fn fresh(&mut self, n: usize) -> Vec<u64> {
        let v: Vec<u64> = (self.next..self.next + n as u64).collect();
        v
    }
    fn room(&self) -> usize {
        self.cap - self.q.len()
    }
    fn push(&mut self, vals: &[u64]) {
        self.q.extend(vals);
        self.next += vals.len() as u64;
    }
}

/// Runs `ops` on a ring and the model (peek ops only if `peek` handles were given).
fn check_basic<P: ProducerMode, C: ConsumerMode>(
    tx: &Producer<u64, P>,
    rx: &Consumer<u64, C>,
    m: &mut Model,
    op: &Op,
) -> Result<(), TestCaseError> {
    match *op {
        Op::Enq1 => {
            let v = m.next;
            let r = tx.enqueue(v);
            if m.room() > 0 {
                prop_assert_eq!(r, Ok(()));
                m.push(&[v]);
            } else {
                prop_assert_eq!(r, Err(v));
            }
        }
        Op::Deq1 => prop_assert_eq!(rx.dequeue(), m.q.pop_front()),
        Op::EnqBulk(n) | Op::EnqBurst(n) => {
            let bulk = matches!(op, Op::EnqBulk(_));
            let vals = m.fresh(n);
            let room = m.room();
            let e = if bulk {
                tx.enqueue_bulk(&vals)
            } else {
                tx.enqueue_burst(&vals)
            };
            let want = if n <= room {
                n
            } else if bulk {
                0
            } else {
                room
            };
            prop_assert_eq!(e.count, want);
            prop_assert_eq!(e.free_space, room - want);
            m.push(&vals[..want]);
        }
        Op::DeqBulk(n) | Op::DeqBurst(n) => {
            let bulk = matches!(op, Op::DeqBulk(_));
            let mut out = vec![u64::MAX; n];
            let have = m.q.len();
            let d = if bulk {
                rx.dequeue_bulk(&mut out)
            } else {
                rx.dequeue_burst(&mut out)
            };
            let want = if n <= have {
                n
            } else if bulk {
                0
            } else {
                have
            };
            prop_assert_eq!(d.count, want);
            prop_assert_eq!(d.available, have - want);
            let expect: Vec<u64> = m.q.drain(..want).collect();
            prop_assert_eq!(&out[..want], &expect[..]);
        }
        Op::PeekEnq { .. } | Op::PeekDeq { .. } => unreachable!("peek op on a non-peek ring"),
    }
    prop_assert_eq!(tx.ring().count(), m.q.len());
    prop_assert_eq!(tx.ring().free_count(), m.room());
    Ok(())
}

fn check_peek<P: ProducerMode + Peek, C: ConsumerMode + Peek>(
    tx: &mut Producer<u64, P>,
    rx: &mut Consumer<u64, C>,
    m: &mut Model,
    op: &Op,
) -> Result<(), TestCaseError> {
    match *op {
        Op::PeekEnq { n, bulk, keep, zc } => {
            let room = m.room();
            let want = if n <= room {
                n
            } else if bulk {
                0
            } else {
                room
            };
            let vals = m.fresh(keep.min(want));
            if zc {
                let mut g = if bulk {
                    tx.enqueue_zc_bulk_start(n)
                } else {
                    tx.enqueue_zc_burst_start(n)
                };
                prop_assert_eq!((g.len(), g.free_space()), (want, room - want));
                let (a, b) = g.slices_mut();
                prop_assert_eq!(a.len() + b.len(), want);
                for &v in &vals {
                    prop_assert!(g.push(v).is_ok());
                }
                prop_assert_eq!(g.written(), vals.len());
                if keep == 0 {
                    drop(g);
                } else {
                    prop_assert_eq!(g.finish(), vals.len());
                }
            } else {
                let g = if bulk {
                    tx.enqueue_bulk_start(n)
                } else {
                    tx.enqueue_burst_start(n)
                };
                prop_assert_eq!((g.len(), g.free_space()), (want, room - want));
                // Offer more than reserved: only the reservation's worth goes in.
                let mut offer = vals.clone();
                offer.extend([u64::MAX; 3]);
                if keep == 0 {
                    drop(g);
                } else {
                    prop_assert_eq!(g.finish(&offer[..keep.min(want + 3)]), vals.len());
                }
            }
            m.push(&vals);
        }
        Op::PeekDeq { n, bulk, keep, zc } => {
            let have = m.q.len();
            let want = if n <= have {
                n
            } else if bulk {
                0
            } else {
                have
            };
            let expect: Vec<u64> = m.q.iter().take(want).copied().collect();
            let removed = keep.min(want);
            if zc {
                let g = if bulk {
                    rx.dequeue_zc_bulk_start(n)
                } else {
                    rx.dequeue_zc_burst_start(n)
                };
                prop_assert_eq!((g.len(), g.available()), (want, have - want));
                let (a, b) = g.slices();
                let seen: Vec<u64> = a.iter().chain(b).copied().collect();
                prop_assert_eq!(&seen, &expect);
                if keep == 0 {
                    drop(g);
                } else {
                    prop_assert_eq!(g.finish(keep), removed);
                }
            } else {
                let mut out = vec![u64::MAX; n];
                let g = if bulk {
                    rx.dequeue_bulk_start(&mut out)
                } else {
                    rx.dequeue_burst_start(&mut out)
                };
                prop_assert_eq!((g.len(), g.available()), (want, have - want));
                if keep == 0 {
                    drop(g);
                } else {
                    prop_assert_eq!(g.finish(keep), removed);
                }
                prop_assert_eq!(&out[..want], &expect[..]);
            }
            m.q.drain(..removed);
        }
        _ => return check_basic(tx, rx, m, op),
    }
    prop_assert_eq!(tx.ring().count(), m.q.len());
    Ok(())
}

fn ring_of<P: ProducerMode, C: ConsumerMode>(
    count: u32,
    exact: bool,
) -> (Producer<u64, P>, Consumer<u64, C>, Model) {
    let (tx, rx) = RingBuilder::new(count)
        .exact_size(exact)
        .pair::<u64, P, C>()
        .unwrap();
    let cap = tx.ring().capacity();
    (
        tx,
        rx,
        Model {
            q: VecDeque::new(),
            cap,
            next: 0,
        },
    )
}

fn geometry() -> impl Strategy<Value = (u32, bool)> {
    prop_oneof![
        (1u32..7).prop_map(|s| (1 << s, false)),
        (1u32..70).prop_map(|c| (c, true)),
    ]
}

fn run_basic<P: ProducerMode, C: ConsumerMode>(
    (count, exact): (u32, bool),
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let (tx, rx, mut m) = ring_of::<P, C>(count, exact);
    for op in ops {
        check_basic(&tx, &rx, &mut m, op)?;
    }
    Ok(())
}

fn run_peek<P: ProducerMode + Peek, C: ConsumerMode + Peek>(
    (count, exact): (u32, bool),
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let (mut tx, mut rx, mut m) = ring_of::<P, C>(count, exact);
    for op in ops {
        check_peek(&mut tx, &mut rx, &mut m, op)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn sp_sc_with_peek_and_zero_copy(g in geometry(), ops in ops(true)) {
        run_peek::<Sp, Sc>(g, &ops)?;
    }

    #[test]
    fn hts_with_peek_and_zero_copy(g in geometry(), ops in ops(true)) {
        run_peek::<MpHts, McHts>(g, &ops)?;
    }

    #[test]
    fn sp_and_hts_mixed_with_peek(g in geometry(), ops in ops(true)) {
        run_peek::<Sp, McHts>(g, &ops)?;
        run_peek::<MpHts, Sc>(g, &ops)?;
    }

    #[test]
    fn mp_mc(g in geometry(), ops in ops(false)) {
        run_basic::<Mp, Mc>(g, &ops)?;
    }

    #[test]
    fn rts(g in geometry(), ops in ops(false)) {
        run_basic::<MpRts, McRts>(g, &ops)?;
    }

    #[test]
    fn mixed_modes(g in geometry(), ops in ops(false)) {
        run_basic::<Mp, McRts>(g, &ops)?;
        run_basic::<MpRts, McHts>(g, &ops)?;
        run_basic::<Sp, Mc>(g, &ops)?;
    }
}
