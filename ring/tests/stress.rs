//! Stress: producer and consumer threads move millions of elements through small rings in
//! every sync mode; each element is (producer, sequence), consumers check per-producer FIFO
//! order, and the totals (count and a checksum) must match what was sent. Every loop is
//! bounded by a deadline, so a lost element fails the test instead of hanging it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rpdk_ring::{
    Consumer, ConsumerMode, Mc, McHts, McRts, Mp, MpHts, MpRts, Peek, Producer, ProducerMode,
    RingBuilder, Sc, Sp,
};

const PER_PRODUCER: u64 = 500_000;
const DEADLINE: Duration = Duration::from_secs(120);

fn mix(v: u64) -> u64 {
    // splitmix64's finaliser: a checksum that catches duplicates and losses.
    let mut z = v.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What consumers saw: count and checksum.
#[derive(Default)]
struct Seen {
    count: AtomicU64,
    sum: AtomicU64,
}

fn expected(producers: u64) -> (u64, u64) {
    let mut sum = 0u64;
    for p in 0..producers {
        for s in 0..PER_PRODUCER {
            sum = sum.wrapping_add(mix(p << 32 | s));
        }
    }
    (producers * PER_PRODUCER, sum)
}

fn produce<P: ProducerMode>(tx: &Producer<u64, P>, id: u64, start: Instant) {
    let mut seq = 0u64;
    let mut round = 0usize;
    while seq < PER_PRODUCER {
        assert!(start.elapsed() < DEADLINE, "producer {id} stuck at {seq}");
        let n = ((round * 7) % 32 + 1).min((PER_PRODUCER - seq) as usize);
        let batch: Vec<u64> = (seq..seq + n as u64).map(|s| id << 32 | s).collect();
        let done = match round % 3 {
            0 => tx.enqueue_bulk(&batch).count,
            1 => tx.enqueue_burst(&batch).count,
            _ => tx.enqueue(batch[0]).map_or(0, |_| 1),
        };
        seq += done as u64;
        round += 1;
        if done == 0 {
            std::thread::yield_now();
        }
    }
}

/// Checks one dequeued batch against the last sequence seen per producer.
fn account(vals: &[u64], last: &mut [Option<u64>], count: &mut u64, sum: &mut u64) {
    for &v in vals {
        let (p, s) = ((v >> 32) as usize, v & 0xffff_ffff);
        if let Some(prev) = last[p] {
            assert!(s > prev, "producer {p}: {s} after {prev}");
        }
        last[p] = Some(s);
        *count += 1;
        *sum = sum.wrapping_add(mix(v));
    }
}

fn consume<C: ConsumerMode>(
    rx: &Consumer<u64, C>,
    producers: usize,
    total: u64,
    seen: &Seen,
    start: Instant,
) {
    let mut last = vec![None; producers];
    let (mut count, mut sum) = (0u64, 0u64);
    let mut buf = [0u64; 32];
    let mut round = 0usize;
    while seen.count.load(Ordering::Relaxed) + count < total {
        assert!(start.elapsed() < DEADLINE, "consumer stuck after {count}");
        let n = (round * 5) % 32 + 1;
        let got = match round % 3 {
            0 => rx.dequeue_bulk(&mut buf[..n]).count,
            1 => rx.dequeue_burst(&mut buf[..n]).count,
            _ => match rx.dequeue() {
                Some(v) => {
                    buf[0] = v;
                    1
                }
                None => 0,
            },
        };
        account(&buf[..got], &mut last, &mut count, &mut sum);
        round += 1;
        if got == 0 {
            // Publish progress so the others see when everything has arrived.
            seen.count.fetch_add(count, Ordering::Relaxed);
            seen.sum.fetch_add(sum, Ordering::Relaxed);
            (count, sum) = (0, 0);
            std::thread::yield_now();
        }
    }
    seen.count.fetch_add(count, Ordering::Relaxed);
    seen.sum.fetch_add(sum, Ordering::Relaxed);
}

/// `np` producers and `nc` consumers on a ring of 64 slots (`np`/`nc` above 1 need
/// multi-thread modes, which clone their handles).
fn stress<P: ProducerMode, C: ConsumerMode>(
    np: u64,
    nc: usize,
    tx: Producer<u64, P>,
    rx: Consumer<u64, C>,
    clone_tx: impl Fn(&Producer<u64, P>) -> Producer<u64, P>,
    clone_rx: impl Fn(&Consumer<u64, C>) -> Consumer<u64, C>,
) {
    let seen = Seen::default();
    let start = Instant::now();
    let total = np * PER_PRODUCER;
    std::thread::scope(|s| {
        for id in 1..np {
            let t = clone_tx(&tx);
            s.spawn(move || produce(&t, id, start));
        }
        for _ in 1..nc {
            let r = clone_rx(&rx);
            let seen = &seen;
            s.spawn(move || consume(&r, np as usize, total, seen, start));
        }
        let seen = &seen;
        s.spawn(move || consume(&rx, np as usize, total, seen, start));
        produce(&tx, 0, start);
    });
    let (count, sum) = expected(np);
    assert_eq!(
        seen.count.load(Ordering::Relaxed),
        count,
        "elements lost or duplicated"
    );
    assert_eq!(seen.sum.load(Ordering::Relaxed), sum, "checksum");
}

fn multi<P: ProducerMode + rpdk_ring::MultiThread, C: ConsumerMode + rpdk_ring::MultiThread>() {
    let (tx, rx) = RingBuilder::new(64).pair::<u64, P, C>().unwrap();
    stress(4, 3, tx, rx, |t| t.clone(), |r| r.clone());
}

fn no_clone<X>(_: &X) -> X {
    unreachable!("single-thread handles are not cloned")
}

#[test]
fn sp_sc_moves_every_element_in_order() {
    let (tx, rx) = RingBuilder::new(64).pair::<u64, Sp, Sc>().unwrap();
    stress(1, 1, tx, rx, no_clone, no_clone);
}

#[test]
fn mp_mc_moves_every_element_in_order() {
    multi::<Mp, Mc>();
}

#[test]
fn rts_moves_every_element_in_order() {
    multi::<MpRts, McRts>();
}

#[test]
fn hts_moves_every_element_in_order() {
    multi::<MpHts, McHts>();
}

#[test]
fn mixed_modes_move_every_element_in_order() {
    let (tx, rx) = RingBuilder::new(64).pair::<u64, Mp, McRts>().unwrap();
    stress(2, 2, tx, rx, |t| t.clone(), |r| r.clone());
    let (tx, rx) = RingBuilder::new(64).pair::<u64, MpHts, Sc>().unwrap();
    stress(2, 1, tx, rx, |t| t.clone(), no_clone);
}

/// Zero-copy producer, peek and zero-copy consumers (SP to MC_HTS).
#[test]
fn zero_copy_and_peek_move_every_element_in_order() {
    let (mut tx, rx) = RingBuilder::new(64).pair::<u64, Sp, McHts>().unwrap();
    let seen = Seen::default();
    let start = Instant::now();
    let total = PER_PRODUCER;
    std::thread::scope(|s| {
        for c in 0..2 {
            let mut rx = rx.clone();
            let seen = &seen;
            s.spawn(move || peek_consume(&mut rx, c, total, seen, start));
        }
        let mut seq = 0u64;
        let mut round = 0usize;
        while seq < total {
            assert!(start.elapsed() < DEADLINE, "producer stuck at {seq}");
            let n = ((round * 7) % 32 + 1).min((total - seq) as usize);
            let mut zc = tx.enqueue_zc_burst_start(n);
            // Publish all but, every fourth time, the last reserved slot.
            let keep = if round.is_multiple_of(4) {
                zc.len().saturating_sub(1)
            } else {
                zc.len()
            };
            for i in 0..keep as u64 {
                zc.push(seq + i).unwrap();
            }
            seq += zc.finish() as u64;
            round += 1;
        }
    });
    assert_eq!(seen.count.load(Ordering::Relaxed), total);
    let (_, sum) = expected(1);
    assert_eq!(seen.sum.load(Ordering::Relaxed), sum);
}

fn peek_consume<C: ConsumerMode + Peek>(
    rx: &mut Consumer<u64, C>,
    who: usize,
    total: u64,
    seen: &Seen,
    start: Instant,
) {
    let mut last = vec![None; 1];
    let (mut count, mut sum) = (0u64, 0u64);
    let mut round = 0usize;
    let mut buf = [0u64; 32];
    while seen.count.load(Ordering::Relaxed) + count < total {
        assert!(
            start.elapsed() < DEADLINE,
            "consumer {who} stuck after {count}"
        );
        let n = (round * 5) % 32 + 1;
        // Take all but, every third time, the last reserved element (it stays for later).
        let got = if round.is_multiple_of(2) {
            let g = rx.dequeue_zc_burst_start(n);
            let keep = if round.is_multiple_of(3) {
                g.len().saturating_sub(1)
            } else {
                g.len()
            };
            let (a, b) = g.slices();
            let vals: Vec<u64> = a.iter().chain(b).take(keep).copied().collect();
            g.finish(keep);
            account(&vals, &mut last, &mut count, &mut sum);
            keep
        } else {
            let g = rx.dequeue_burst_start(&mut buf[..n]);
            let keep = if round.is_multiple_of(3) {
                g.len().saturating_sub(1)
            } else {
                g.len()
            };
            g.finish(keep);
            account(&buf[..keep], &mut last, &mut count, &mut sum);
            keep
        };
        round += 1;
        if got == 0 {
            seen.count.fetch_add(count, Ordering::Relaxed);
            seen.sum.fetch_add(sum, Ordering::Relaxed);
            (count, sum) = (0, 0);
            std::thread::yield_now();
        }
    }
    seen.count.fetch_add(count, Ordering::Relaxed);
    seen.sum.fetch_add(sum, Ordering::Relaxed);
}
