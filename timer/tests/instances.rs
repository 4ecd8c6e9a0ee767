//! Independent timer instances (DPDK's `alt` API), stop_all, statistics and their dump.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{eal, us};
use rpdk_testsupport::serial;
use rpdk_timer::{Timer, TimerData, TimerError, TimerStats, TimerType};

fn counter() -> (
    Arc<AtomicUsize>,
    impl FnMut(&rpdk_timer::Expired<'_>) + Send + 'static,
) {
    let runs = Arc::new(AtomicUsize::new(0));
    let count = runs.clone();
    (runs, move |_: &rpdk_timer::Expired<'_>| {
        count.fetch_add(1, Ordering::Relaxed);
    })
}

#[test]
fn instances_run_only_their_own_timers() {
    let _s = serial();
    let _eal = eal();
    let (a, b) = (TimerData::new(), TimerData::new());
    let (ran_a, fa) = counter();
    let (ran_b, fb) = counter();
    let (ran_g, fg) = counter();
    let ta = Timer::new_in(&a, fa);
    let tb = Timer::new_in(&b, fb);
    let tg = Timer::new(fg);
    ta.reset(0, TimerType::Single, 0).unwrap();
    tb.reset(0, TimerType::Single, 0).unwrap();
    tg.reset(0, TimerType::Single, 0).unwrap();
    rpdk_eal::time::delay_us(10);
    assert_eq!(a.manage(), 1);
    assert_eq!(
        (
            ran_a.load(Ordering::Relaxed),
            ran_b.load(Ordering::Relaxed),
            ran_g.load(Ordering::Relaxed)
        ),
        (1, 0, 0)
    );
    assert_eq!(rpdk_timer::manage(), 1);
    assert_eq!(b.manage(), 1);
    assert_eq!(
        (
            ran_a.load(Ordering::Relaxed),
            ran_b.load(Ordering::Relaxed),
            ran_g.load(Ordering::Relaxed)
        ),
        (1, 1, 1)
    );
    // A timer keeps its instance alive after the last handle to the instance is gone.
    drop(a);
    ta.reset(1, TimerType::Single, 0).unwrap();
    drop(ta);
}

#[test]
fn stop_all_stops_the_pending_timers_of_the_lcores_named() {
    let _s = serial();
    let _eal = eal();
    let data = TimerData::new();
    let (runs, _) = counter();
    let timers: Vec<_> = (0..10)
        .map(|_| {
            let count = runs.clone();
            Timer::new_in(&data, move |_| {
                count.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    for (i, t) in timers.iter().enumerate() {
        t.reset(us(100) + i as u64, TimerType::Single, (i % 2) as u32)
            .unwrap();
    }
    assert_eq!(data.stats().pending, 10);
    assert_eq!(data.stop_all(&[1]), Ok(5));
    assert_eq!(data.lcore_stats(1).unwrap().pending, 0);
    assert_eq!(data.lcore_stats(0).unwrap().pending, 5);
    for (i, t) in timers.iter().enumerate() {
        assert_eq!(t.pending(), i % 2 == 0, "timer {i}");
    }
    assert_eq!(data.stop_all(&[128]), Err(TimerError::InvalidLcore(128)));
    // The stopped ones can be armed again.
    timers[1].reset(0, TimerType::Single, 0).unwrap();
    assert!(common::manage_until(Duration::from_secs(5), || {
        data.manage();
        runs.load(Ordering::Relaxed) == 6
    }));
}

#[test]
fn statistics_count_calls_and_pending_timers_and_dump_as_dpdk() {
    let _s = serial();
    let _eal = eal();
    let data = TimerData::new();
    let (_, f) = counter();
    let t = Timer::new_in(&data, f);
    let t2 = Timer::new_in(&data, |_| {});
    t.reset(rpdk_eal::tsc_hz(), TimerType::Single, 0).unwrap();
    t.reset(rpdk_eal::tsc_hz(), TimerType::Single, 1).unwrap();
    t2.reset(rpdk_eal::tsc_hz(), TimerType::Single, 0).unwrap();
    t2.stop().unwrap();
    for _ in 0..5 {
        data.manage();
    }
    let s = data.stats();
    assert_eq!(
        s,
        TimerStats {
            reset: 3,
            stop: 1,
            manage: 5,
            pending: 1
        }
    );
    assert_eq!(
        data.lcore_stats(0).unwrap().reset,
        3,
        "counted for the calling lcore"
    );
    assert_eq!(data.lcore_stats(1).unwrap().pending, 1);
    let mut out = Vec::new();
    data.dump_stats(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with(
            "Timer statistics:\n  reset = 3\n  stop = 1\n  manage = 5\n  pending = 1\n  lcore 1: pending = 1, next in "
        ),
        "{text}"
    );
    // Resets from a thread that is not an lcore count too.
    let t = Arc::new(t);
    let t3 = t.clone();
    std::thread::spawn(move || t3.reset(1, TimerType::Single, 1).unwrap())
        .join()
        .unwrap();
    assert_eq!(data.stats().reset, 4);
    assert!(format!("{data:?}").contains("reset: 4"));
}
