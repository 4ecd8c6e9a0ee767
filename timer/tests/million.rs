//! A million timers armed and fired, each exactly once, in deadline order, never early; and a
//! million stopped before they fire.

mod common;

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use common::{Rng, eal, manage_until, us};
use rpdk_eal::rdtsc;
use rpdk_testsupport::serial;
use rpdk_timer::{Timer, TimerType};

const N: usize = 1_000_000;

thread_local! {
    static LAST: Cell<u64> = const { Cell::new(0) };
    static EARLY: Cell<u64> = const { Cell::new(0) };
    static DISORDER: Cell<u64> = const { Cell::new(0) };
}

#[test]
fn a_million_timers_armed_and_fired_once_each() {
    let _s = serial();
    let _eal = eal();
    let runs: Arc<Vec<AtomicU8>> = Arc::new((0..N).map(|_| AtomicU8::new(0)).collect());
    let total = Arc::new(AtomicUsize::new(0));
    let timers: Vec<_> = (0..N)
        .map(|i| {
            let (runs, total) = (runs.clone(), total.clone());
            Timer::new(move |e| {
                runs[i].fetch_add(1, Ordering::Relaxed);
                total.fetch_add(1, Ordering::Relaxed);
                if rdtsc() < e.expire() {
                    EARLY.set(EARLY.get() + 1);
                }
                if e.expire() < LAST.get() {
                    DISORDER.set(DISORDER.get() + 1);
                }
                LAST.set(e.expire());
            })
        })
        .collect();
    let mut rng = Rng(7);
    // Deadlines spread over 200 ms, armed in random order; half are stopped again.
    for t in &timers {
        t.reset(rng.below(us(200_000)), TimerType::Single, 0)
            .unwrap();
    }
    assert_eq!(rpdk_timer::stats().pending, N as u64);
    let mut stopped = 0;
    for t in timers.iter().step_by(2) {
        t.stop().unwrap();
        stopped += 1;
    }
    let expected = N - stopped;
    assert!(manage_until(Duration::from_secs(60), || {
        total.load(Ordering::Relaxed) >= expected
    }));
    for _ in 0..1000 {
        rpdk_timer::manage();
    }
    assert_eq!(total.load(Ordering::Relaxed), expected);
    for (i, r) in runs.iter().enumerate() {
        assert_eq!(r.load(Ordering::Relaxed), (i % 2) as u8, "timer {i}");
    }
    assert_eq!(EARLY.get(), 0, "timers ran early");
    assert_eq!(DISORDER.get(), 0, "timers ran out of deadline order");
    assert_eq!(rpdk_timer::stats().pending, 0);
    drop(timers);
}
