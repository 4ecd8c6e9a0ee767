//! Criterion benches of rpdk-flow's meters (`rte_mtr` in software): the cost of metering one
//! packet ([`Meter::color`]) for each algorithm, colour-blind with every counter on, on one
//! lcore and with two threads sharing one meter (the compare-and-swap contended).

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rpdk_eal::time::rdtsc;
use rpdk_flow::meter::{
    ColorInputs, Meter, MeterParams, MeterPolicy, MeterProfile, MeterStats, MeterTable,
};

/// 10 Gbit/s with 64 KB buckets: at these rates most packets are green, so every bucket
/// word is written.
const RATE: u64 = 1_250_000_000;

fn meter(t: &MeterTable, id: u32, profile: MeterProfile) -> Arc<Meter> {
    t.profile_add(id, profile).expect("profile");
    let mut p = MeterParams::new(id, 0);
    p.stats_mask = MeterStats::ALL;
    t.create(id, p, true).expect("meter")
}

fn one_lcore(c: &mut Criterion) {
    let t = MeterTable::new();
    t.policy_add(0, MeterPolicy::new()).expect("policy");
    let meters = [
        (
            "srtcm_rfc2697",
            meter(&t, 1, MeterProfile::srtcm_rfc2697(RATE, 65536, 65536)),
        ),
        (
            "trtcm_rfc2698",
            meter(
                &t,
                2,
                MeterProfile::trtcm_rfc2698(RATE, 2 * RATE, 65536, 65536),
            ),
        ),
        (
            "trtcm_rfc4115",
            meter(&t, 3, MeterProfile::trtcm_rfc4115(RATE, RATE, 65536, 65536)),
        ),
    ];
    let mut g = c.benchmark_group("meter");
    g.throughput(Throughput::Elements(32));
    let inputs = ColorInputs::default();
    for (name, m) in &meters {
        g.bench_function(format!("{name}/burst32"), |b| {
            b.iter(|| {
                let now = rdtsc();
                for _ in 0..32 {
                    black_box(m.color(now, black_box(64), &inputs));
                }
            })
        });
    }
    g.finish();
}

fn two_threads(c: &mut Criterion) {
    let t = MeterTable::new();
    t.policy_add(0, MeterPolicy::new()).expect("policy");
    let m = meter(&t, 1, MeterProfile::srtcm_rfc2697(RATE, 65536, 65536));
    let stop = Arc::new(AtomicBool::new(false));
    let other = {
        let (m, stop) = (m.clone(), stop.clone());
        std::thread::spawn(move || {
            let inputs = ColorInputs::default();
            while !stop.load(Ordering::Relaxed) {
                let now = rdtsc();
                for _ in 0..32 {
                    black_box(m.color(now, 64, &inputs));
                }
            }
        })
    };
    let mut g = c.benchmark_group("meter_shared");
    g.throughput(Throughput::Elements(32));
    let inputs = ColorInputs::default();
    g.bench_function("srtcm_rfc2697/burst32", |b| {
        b.iter(|| {
            let now = rdtsc();
            for _ in 0..32 {
                black_box(m.color(now, black_box(64), &inputs));
            }
        })
    });
    g.finish();
    stop.store(true, Ordering::Relaxed);
    other.join().expect("second thread");
}

criterion_group!(benches, one_lcore, two_threads);
criterion_main!(benches);
