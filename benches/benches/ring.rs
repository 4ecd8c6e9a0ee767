//! Criterion benches of rpdk-ring: one enqueue plus one dequeue of a bulk or a burst of 8 or
//! 32 pointer-sized elements on one thread, for every sync mode, through the typed handles and
//! through the run-time-mode `Ring` (the path a mempool takes).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rpdk_ring::{
    Consumer, ConsumerMode, Mc, McHts, McRts, Mp, MpHts, MpRts, Producer, ProducerMode, Ring,
    RingBuilder, RingFlags, Sc, Sp,
};

const SIZES: [usize; 2] = [8, 32];

fn typed<P: ProducerMode, C: ConsumerMode>(c: &mut Criterion, mode: &str) {
    let (tx, rx): (Producer<usize, P>, Consumer<usize, C>) =
        RingBuilder::new(4096).pair().expect("ring");
    let mut g = c.benchmark_group(format!("ring/{mode}"));
    for size in SIZES {
        g.throughput(Throughput::Elements(size as u64));
        let mut buf = [0usize; 32];
        g.bench_with_input(BenchmarkId::new("bulk", size), &size, |b, &n| {
            let n = black_box(n);
            b.iter(|| {
                let _ = tx.enqueue_bulk(&buf[..n]);
                rx.dequeue_bulk(&mut buf[..n]).count
            })
        });
        g.bench_with_input(BenchmarkId::new("burst", size), &size, |b, &n| {
            let n = black_box(n);
            b.iter(|| {
                let _ = tx.enqueue_burst(&buf[..n]);
                rx.dequeue_burst(&mut buf[..n]).count
            })
        });
    }
    g.finish();
}

fn runtime(c: &mut Criterion, mode: &str, flags: RingFlags) {
    let ring = Ring::<usize>::new(4096, flags).expect("ring");
    let mut g = c.benchmark_group(format!("ring-runtime-mode/{mode}"));
    for size in SIZES {
        g.throughput(Throughput::Elements(size as u64));
        let mut buf = [0usize; 32];
        g.bench_with_input(BenchmarkId::new("bulk", size), &size, |b, &n| {
            let n = black_box(n);
            // SAFETY: one thread uses the ring.
            b.iter(|| unsafe {
                let _ = ring.enqueue_bulk(&buf[..n]);
                ring.dequeue_bulk(&mut buf[..n]).count
            })
        });
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    typed::<Sp, Sc>(c, "SP-SC");
    typed::<Mp, Mc>(c, "MP-MC");
    typed::<MpRts, McRts>(c, "MP_RTS-MC_RTS");
    typed::<MpHts, McHts>(c, "MP_HTS-MC_HTS");
    runtime(c, "SP-SC", RingFlags::SP_ENQ | RingFlags::SC_DEQ);
    runtime(c, "MP-MC", RingFlags::empty());
    runtime(
        c,
        "MP_RTS-MC_RTS",
        RingFlags::MP_RTS_ENQ | RingFlags::MC_RTS_DEQ,
    );
    runtime(
        c,
        "MP_HTS-MC_HTS",
        RingFlags::MP_HTS_ENQ | RingFlags::MC_HTS_DEQ,
    );
}

criterion_group!(ring, benches);
criterion_main!(ring);
