//! Timers across lcores: armed for another lcore, reset and stopped while their callback runs
//! elsewhere, dropped while running, moved by their own callback, and two lcores hammering the
//! same timers.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{DropCount, Rng, eal, manage_until, us};
use rpdk_eal::{lcore, rdtsc};
use rpdk_testsupport::serial;
use rpdk_timer::{Timer, TimerData, TimerError, TimerState, TimerType};

#[test]
fn a_timer_armed_for_another_lcore_runs_there() {
    let _s = serial();
    let eal = eal();
    let ran_on = Arc::new(AtomicU64::new(u64::MAX));
    let out = ran_on.clone();
    let t = Timer::new(move |e| {
        assert_eq!(lcore::id(), Some(e.lcore()));
        out.store(e.lcore() as u64, Ordering::SeqCst);
    });
    t.reset(us(100), TimerType::Single, 1).unwrap();
    assert_eq!(t.status().owner, Some(1));
    let done = &ran_on;
    let fired = eal.scope(|s| {
        s.launch(1, || {
            manage_until(Duration::from_secs(5), || {
                done.load(Ordering::SeqCst) != u64::MAX
            })
        })
        .unwrap()
        .join()
        .unwrap()
    });
    assert!(fired);
    assert_eq!(ran_on.load(Ordering::SeqCst), 1);
    assert_eq!(rpdk_timer::manage(), 0, "lcore 0 has nothing to run");
}

/// A timer whose callback, on lcore 1, signals `started` and then spins for `hold`.
fn slow_timer(
    started: &Arc<AtomicBool>,
    finished: &Arc<AtomicBool>,
    hold: u64,
) -> Timer<impl FnMut(&rpdk_timer::Expired<'_>) + Send + 'static> {
    let (started, finished) = (started.clone(), finished.clone());
    Timer::new(move |_| {
        started.store(true, Ordering::SeqCst);
        rpdk_eal::time::delay_cycles(hold);
        finished.store(true, Ordering::SeqCst);
    })
}

#[test]
fn reset_and_stop_fail_while_the_callback_runs_elsewhere_and_sync_waits() {
    let _s = serial();
    let eal = eal();
    let (started, finished) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let t = slow_timer(&started, &finished, us(30_000));
    t.reset(0, TimerType::Single, 1).unwrap();
    eal.scope(|s| {
        let worker = s
            .launch(1, || {
                manage_until(Duration::from_secs(5), || finished.load(Ordering::SeqCst))
            })
            .unwrap();
        while !started.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
        assert_eq!(t.status().state, TimerState::Running);
        assert_eq!(t.status().owner, Some(1));
        assert_eq!(t.stop(), Err(TimerError::Running { lcore: 1 }));
        assert_eq!(
            t.reset(1, TimerType::Single, 0),
            Err(TimerError::Running { lcore: 1 })
        );
        assert!(t.stop().unwrap_err().is_busy());
        t.reset_sync(rpdk_eal::tsc_hz(), TimerType::Single, 0)
            .unwrap();
        assert!(
            finished.load(Ordering::SeqCst),
            "reset_sync waited for the callback"
        );
        assert!(t.pending());
        assert_eq!(t.status().owner, Some(0));
        t.stop_sync().unwrap();
        assert!(worker.join().unwrap());
    });
}

#[test]
fn dropping_a_timer_waits_for_its_callback_on_another_lcore() {
    let _s = serial();
    let eal = eal();
    let drops = DropCount::new();
    let (started, finished) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let (s2, f2, guard) = (started.clone(), finished.clone(), drops.guard());
    let t = Timer::new(move |_| {
        let _ = &guard;
        s2.store(true, Ordering::SeqCst);
        rpdk_eal::time::delay_us(30_000);
        f2.store(true, Ordering::SeqCst);
    });
    t.reset(0, TimerType::Single, 1).unwrap();
    eal.scope(|s| {
        let worker = s
            .launch(1, || {
                manage_until(Duration::from_secs(5), || finished.load(Ordering::SeqCst))
            })
            .unwrap();
        while !started.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
        drop(t);
        assert!(
            finished.load(Ordering::SeqCst),
            "the drop returned before the callback"
        );
        assert_eq!(
            drops.get(),
            1,
            "the closure is dropped by the time drop returns"
        );
        assert!(worker.join().unwrap());
    });
}

#[test]
fn a_callback_moves_its_timer_between_lcores() {
    let _s = serial();
    let eal = eal();
    const HOPS: usize = 2000;
    let hops = Arc::new(AtomicUsize::new(0));
    let inside = Arc::new(AtomicBool::new(false));
    let last = Arc::new(AtomicU64::new(u64::MAX));
    let (count, busy, prev) = (hops.clone(), inside.clone(), last.clone());
    let t = Timer::new(move |e| {
        assert!(
            !busy.swap(true, Ordering::SeqCst),
            "the callback runs on two lcores at once"
        );
        assert_eq!(lcore::id(), Some(e.lcore()));
        assert_ne!(
            prev.swap(e.lcore() as u64, Ordering::SeqCst),
            e.lcore() as u64
        );
        if count.fetch_add(1, Ordering::SeqCst) + 1 < HOPS {
            e.reset(0, TimerType::Single, 1 - e.lcore()).unwrap();
        }
        busy.store(false, Ordering::SeqCst);
    });
    t.reset(0, TimerType::Single, 1).unwrap();
    let all = eal.run_on_lcores(|_| {
        manage_until(Duration::from_secs(20), || {
            hops.load(Ordering::SeqCst) == HOPS
        })
    });
    for (l, r) in all {
        assert!(r.unwrap(), "lcore {l} gave up");
    }
    assert_eq!(hops.load(Ordering::SeqCst), HOPS);
    assert!(!t.pending());
}

#[test]
fn manage_lcores_runs_another_lcores_list_here() {
    let _s = serial();
    let _eal = eal();
    let data = TimerData::new();
    let ran_on = Arc::new(AtomicU64::new(u64::MAX));
    let out = ran_on.clone();
    let t = Timer::new_in(&data, move |e| {
        out.store(e.lcore() as u64, Ordering::SeqCst)
    });
    t.reset(0, TimerType::Single, 1).unwrap();
    assert_eq!(data.manage(), 0, "lcore 0's own list is empty");
    assert_eq!(data.manage_lcores(&[0, 1]), Ok(1));
    assert_eq!(ran_on.load(Ordering::SeqCst), 0);
    assert_eq!(
        data.manage_lcores(&[200]),
        Err(TimerError::InvalidLcore(200))
    );
}

/// Per timer: whether its callback is running, and how many single-shot runs and arms it had.
#[derive(Default)]
struct Tally {
    inside: AtomicBool,
    single_runs: AtomicUsize,
    single_arms: AtomicUsize,
}

#[test]
fn two_lcores_hammering_the_same_timers() {
    let _s = serial();
    let eal = eal();
    const TIMERS: usize = 48;
    let tallies: Arc<Vec<Tally>> = Arc::new((0..TIMERS).map(|_| Tally::default()).collect());
    let drops = DropCount::new();
    let timers: Vec<_> = (0..TIMERS)
        .map(|i| {
            let (tallies, guard) = (tallies.clone(), drops.guard());
            Timer::new(move |e| {
                let _ = &guard;
                let tally = &tallies[i];
                assert!(
                    !tally.inside.swap(true, Ordering::SeqCst),
                    "timer {i} runs on two lcores at once"
                );
                assert_eq!(lcore::id(), Some(e.lcore()), "timer {i} runs off its lcore");
                assert!(rdtsc() >= e.expire(), "timer {i} runs early");
                if e.period().is_none() {
                    tally.single_runs.fetch_add(1, Ordering::SeqCst);
                }
                tally.inside.store(false, Ordering::SeqCst);
            })
        })
        .collect();
    let ops = AtomicUsize::new(0);
    let busy = AtomicUsize::new(0);
    let deadline = Instant::now() + Duration::from_millis(400);
    let barrier = Barrier::new(2);
    let results = eal.run_on_lcores(|me| {
        let mut rng = Rng(0x5eed + me as u64);
        barrier.wait();
        while Instant::now() < deadline {
            let i = rng.below(TIMERS as u64) as usize;
            let t = &timers[i];
            let target = rng.below(2) as u32;
            let ticks = rng.below(us(20));
            let r = match rng.below(8) {
                0..=2 => {
                    // Count the arm before it can run, and take it back if it failed.
                    tallies[i].single_arms.fetch_add(1, Ordering::SeqCst);
                    let r = t.reset(ticks, TimerType::Single, target);
                    if r.is_err() {
                        tallies[i].single_arms.fetch_sub(1, Ordering::SeqCst);
                    }
                    r
                }
                3 => t.reset(ticks + 1, TimerType::Periodical, target),
                4 => t.stop(),
                5 => t.stop_sync(),
                _ => {
                    rpdk_timer::manage();
                    Ok(())
                }
            };
            match r {
                Ok(()) => {}
                Err(e) if e.is_busy() => {
                    busy.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => panic!("lcore {me}: {e}"),
            }
            ops.fetch_add(1, Ordering::Relaxed);
            rpdk_timer::manage();
        }
        barrier.wait();
        // Stop everything, from both sides, then drain what is left.
        for t in &timers {
            t.stop_sync().unwrap();
        }
        barrier.wait();
        let mut late = 0;
        for _ in 0..1000 {
            late += rpdk_timer::manage();
        }
        late
    });
    for (l, r) in results {
        assert_eq!(
            r.unwrap(),
            0,
            "lcore {l} ran timers after they were all stopped"
        );
    }
    for (i, t) in timers.iter().enumerate() {
        assert!(!t.pending(), "timer {i}");
        let tally = &tallies[i];
        assert!(
            tally.single_runs.load(Ordering::SeqCst) <= tally.single_arms.load(Ordering::SeqCst),
            "timer {i} ran more single shots than it was armed for"
        );
    }
    let runs: usize = tallies
        .iter()
        .map(|t| t.single_runs.load(Ordering::SeqCst))
        .sum();
    assert!(
        ops.load(Ordering::Relaxed) > 10_000,
        "too few operations to mean anything"
    );
    assert!(runs > 100, "too few callbacks ran: {runs}");
    eprintln!(
        "{} operations, {} busy, {runs} single-shot runs",
        ops.load(Ordering::Relaxed),
        busy.load(Ordering::Relaxed)
    );
    drop(timers);
    assert_eq!(drops.get(), TIMERS, "every closure was dropped");
    assert_eq!(rpdk_timer::stats().pending, 0);
}
