//! Loom models of every sync mode on small rings: loom runs each model under every
//! interleaving (up to a preemption bound) and every allowed reordering of the atomics, and
//! checks each slot access is ordered by the protocol. In every model nothing is lost, nothing
//! duplicated, and each producer's elements come out in order.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test -p rpdk-ring --test loom
//! ```
#![cfg(loom)]

use loom::thread;
use rpdk_ring::{
    Consumer, ConsumerMode, Mc, McHts, McRts, Mp, MpHts, MpRts, MultiThread, Peek, ProducerMode,
    RingBuilder, Sc, Sp,
};

/// Drains what is left, single-threaded, after the threads of a model are joined.
fn drain<C: ConsumerMode>(rx: &Consumer<u32, C>) -> Vec<u32> {
    let mut buf = [0u32; 4];
    let n = rx.dequeue_burst(&mut buf).count;
    buf[..n].to_vec()
}

fn in_order(seen: &[u32], a: u32, b: u32) -> bool {
    let pa = seen.iter().position(|&v| v == a);
    let pb = seen.iter().position(|&v| v == b);
    match (pa, pb) {
        (Some(x), Some(y)) => x < y,
        _ => true,
    }
}

/// RTS sides of small rings default to a head/tail distance of capacity / 8 = 0, which
/// serialises them; allow overlap so the relaxed tail protocol is what gets checked.
fn overlap_rts(ring: &rpdk_ring::Ring<u32>) {
    let _ = ring.set_prod_htd_max(8);
    let _ = ring.set_cons_htd_max(8);
}

fn sorted(parts: &[&[u32]]) -> Vec<u32> {
    let mut all: Vec<u32> = parts.concat();
    all.sort();
    all
}

/// Runs a model with a preemption bound (3 unless `LOOM_MAX_PREEMPTIONS` says otherwise) and
/// room for the spin-waits of the protocols.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    b.max_branches = 100_000;
    b.check(f);
}

/// Two producers (a bulk of 2 and a single) against one concurrent dequeue attempt; what it
/// did not get is drained afterwards. Nothing spins but the protocols themselves.
fn producers<P: ProducerMode + MultiThread, C: ConsumerMode>() {
    model(|| {
        let (tx, rx) = RingBuilder::new(4).pair::<u32, P, C>().unwrap();
        overlap_rts(tx.ring());
        let tx2 = tx.clone();
        let p1 = thread::spawn(move || assert_eq!(tx2.enqueue_bulk(&[1, 2]).count, 2));
        let c = thread::spawn(move || {
            let mut buf = [0u32; 3];
            let n = rx.dequeue_burst(&mut buf).count;
            (buf[..n].to_vec(), rx)
        });
        assert_eq!(tx.enqueue(3), Ok(()));
        p1.join().unwrap();
        let (got, rx) = c.join().unwrap();
        let rest = drain(&rx);
        let seen = [got.as_slice(), rest.as_slice()].concat();
        assert!(in_order(&seen, 1, 2), "{got:?} then {rest:?}");
        assert_eq!(sorted(&[&got, &rest]), [1, 2, 3]);
        assert!(tx.ring().is_empty());
    });
}

/// One producer (a bulk of 2, then up to three singles) against two concurrent dequeue attempts (a
/// single and a burst).
fn consumers<P: ProducerMode, C: ConsumerMode + MultiThread>() {
    model(|| {
        let (tx, rx) = RingBuilder::new(4).pair::<u32, P, C>().unwrap();
        overlap_rts(tx.ring());
        let rx2 = rx.clone();
        let c1 = thread::spawn(move || rx2.dequeue().into_iter().collect::<Vec<_>>());
        let c2 = thread::spawn(move || {
            let mut buf = [0u32; 2];
            let n = rx.dequeue_burst(&mut buf).count;
            buf[..n].to_vec()
        });
        assert_eq!(tx.enqueue_bulk(&[1, 2]).count, 2);
        assert_eq!(tx.enqueue(3), Ok(()));
        // 5 reuses the slot of 1 once consumers have published their dequeues: loom checks
        // that slot's read happened before this write.
        let extra: Vec<u32> = [4, 5]
            .into_iter()
            .take_while(|&v| tx.enqueue(v).is_ok())
            .collect();
        let (a, b) = (c1.join().unwrap(), c2.join().unwrap());
        let rx = tx
            .ring()
            .consumer::<C>()
            .unwrap_or_else(|_| unreachable!("multi-thread side"));
        let rest = drain(&rx);
        assert!(in_order(&b, 1, 2) && in_order(&b, 2, 3), "{b:?}");
        let sent = [&[1, 2, 3][..], &extra].concat();
        let rest = [rest, drain(&rx)].concat();
        assert_eq!(sorted(&[&a, &b, &rest]), sent, "{a:?} {b:?} {rest:?}");
    });
}

/// One producer thread and one consumer thread on a ring of capacity 1 (`count` 2) or 3: the
/// producer tries 1, 2, 3 in turn, the consumer tries twice; the outcome must be a FIFO one.
fn single<P: ProducerMode, C: ConsumerMode>(count: u32) {
    model(move || {
        let (tx, rx) = RingBuilder::new(count).pair::<u32, P, C>().unwrap();
        let p = thread::spawn(move || {
            let sent: Vec<u32> = [1u32, 2, 3]
                .into_iter()
                .filter(|&v| tx.enqueue(v).is_ok())
                .collect();
            (sent, tx)
        });
        let mut got = Vec::new();
        for _ in 0..2 {
            got.extend(rx.dequeue());
        }
        let (sent, _tx) = p.join().unwrap();
        got.extend(drain(&rx));
        assert_eq!(got, sent, "everything sent comes out once, in order");
        assert!(sent.contains(&1), "the first enqueue always finds room");
    });
}

#[test]
fn mp() {
    producers::<Mp, Mc>();
}

#[test]
fn mc() {
    consumers::<Mp, Mc>();
}

#[test]
fn mp_rts() {
    producers::<MpRts, McRts>();
}

#[test]
fn mc_rts() {
    consumers::<MpRts, McRts>();
}

#[test]
fn mp_hts() {
    producers::<MpHts, McHts>();
}

#[test]
fn mc_hts() {
    consumers::<MpHts, McHts>();
}

#[test]
fn sp_sc() {
    single::<Sp, Sc>(4);
}

#[test]
fn full_ring_every_mode() {
    single::<Sp, Sc>(2);
    single::<Mp, Mc>(2);
    single::<MpRts, McRts>(2);
    single::<MpHts, McHts>(2);
}

#[test]
fn mixed_modes() {
    producers::<Mp, Sc>();
    consumers::<Sp, McRts>();
    single::<MpRts, McHts>(4);
    single::<MpHts, Mc>(4);
}

/// Peek on both sides: the producer reserves 2 and publishes 1, twice; two HTS consumers each
/// peek once and remove at most one.
fn peek<P: ProducerMode + Peek, C: ConsumerMode + Peek + MultiThread>() {
    model(|| {
        let (mut tx, rx) = RingBuilder::new(4).pair::<u32, P, C>().unwrap();
        let mut rx2 = rx.clone();
        let mut rx = rx;
        let c1 = thread::spawn(move || {
            let mut buf = [0u32; 2];
            let g = rx2.dequeue_burst_start(&mut buf);
            let n = g.len().min(1);
            g.finish(n);
            buf[..n].to_vec()
        });
        for v in [1, 2] {
            let g = tx.enqueue_burst_start(2);
            assert_eq!(g.len(), 2);
            assert_eq!(g.finish(&[v]), 1);
        }
        let mut buf = [0u32; 1];
        let g = rx.dequeue_bulk_start(&mut buf);
        let n = g.len();
        g.finish(n);
        let mine = buf[..n].to_vec();
        let theirs = c1.join().unwrap();
        let rest = drain(&rx);
        assert_eq!(sorted(&[&mine, &theirs, &rest]), [1, 2]);
    });
}

#[test]
fn peek_sp_to_hts() {
    peek::<Sp, McHts>();
}

#[test]
fn peek_hts_to_hts() {
    peek::<MpHts, McHts>();
}
