//! Timers on one lcore: firing, order, periodic reloads, reset and stop, callbacks changing
//! their own timer, drops, panics, errors.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{DropCount, eal, manage_until, us};
use rpdk_eal::rdtsc;
use rpdk_testsupport::serial;
use rpdk_timer::{Expired, LCORE_ID_ANY, Timer, TimerError, TimerState, TimerType};

type DynTimer = Timer<Box<dyn FnMut(&Expired<'_>) + Send>>;

#[test]
fn a_single_timer_fires_once_never_early() {
    let _s = serial();
    let _eal = eal();
    let fired = Arc::new(Mutex::new(Vec::new()));
    let log = fired.clone();
    let t = Timer::new(move |e| log.lock().unwrap().push((e.expire(), rdtsc(), e.lcore())));
    let armed = rdtsc();
    t.reset(us(2000), TimerType::Single, 0).unwrap();
    assert!(t.pending());
    assert_eq!(t.status().state, TimerState::Pending);
    assert_eq!(t.status().owner, Some(0));
    assert!(manage_until(Duration::from_secs(5), || !fired
        .lock()
        .unwrap()
        .is_empty()));
    let (expire, at, lcore) = fired.lock().unwrap()[0];
    assert!(expire >= armed + us(2000));
    assert!(at >= expire, "fired {} cycles early", expire - at);
    assert_eq!(lcore, 0);
    for _ in 0..1000 {
        rpdk_timer::manage();
    }
    assert_eq!(fired.lock().unwrap().len(), 1);
    assert_eq!(t.status().state, TimerState::Stopped);
    assert_eq!(t.status().owner, None);
}

#[test]
fn timers_fire_in_deadline_order() {
    let _s = serial();
    let _eal = eal();
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut rng = common::Rng(42);
    let timers: Vec<_> = (0..3000)
        .map(|_| {
            let log = log.clone();
            Timer::new(move |e: &Expired<'_>| log.lock().unwrap().push((e.expire(), rdtsc())))
        })
        .collect();
    // Deadlines from 0 to 3 ms, armed in random order, some of them equal.
    for t in &timers {
        let ticks = us(rng.below(3000)) / 4 * 4;
        t.reset(ticks, TimerType::Single, 0).unwrap();
    }
    assert!(manage_until(Duration::from_secs(10), || {
        log.lock().unwrap().len() == timers.len()
    }));
    let log = log.lock().unwrap();
    for w in log.windows(2) {
        assert!(
            w[0].0 <= w[1].0,
            "deadline {} ran before {}",
            w[1].0,
            w[0].0
        );
    }
    for &(expire, at) in log.iter() {
        assert!(at >= expire, "ran {} cycles early", expire - at);
    }
}

#[test]
fn a_periodic_timer_runs_once_per_period_without_drift() {
    let _s = serial();
    let _eal = eal();
    let period = us(200);
    let runs = Arc::new(Mutex::new(Vec::new()));
    let log = runs.clone();
    let t = Timer::new(move |e| {
        assert_eq!(e.period(), Some(period));
        log.lock().unwrap().push((e.expire(), rdtsc()));
    });
    let start = rdtsc();
    t.reset(period, TimerType::Periodical, 0).unwrap();
    let mut per_call_max = 0;
    while rdtsc() - start < us(40_000) {
        per_call_max = per_call_max.max(rpdk_timer::manage());
    }
    let elapsed = rdtsc() - start;
    t.stop().unwrap();
    let runs = runs.lock().unwrap();
    // Never more runs than periods, and (a loaded machine may deschedule us) most of them.
    let periods = elapsed / period;
    assert!(
        (periods / 2..=periods).contains(&(runs.len() as u64)),
        "{} runs in {periods} periods",
        runs.len(),
    );
    assert_eq!(
        per_call_max, 1,
        "a periodic timer runs once per manage() at most"
    );
    for (k, &(expire, at)) in runs.iter().enumerate() {
        assert_eq!(expire, runs[0].0 + k as u64 * period, "run {k} drifted");
        assert!(at >= expire);
    }
}

#[test]
fn a_late_periodic_timer_catches_up_one_run_per_manage() {
    let _s = serial();
    let _eal = eal();
    let period = us(100);
    let runs = Arc::new(AtomicUsize::new(0));
    let count = runs.clone();
    let t = Timer::new(move |_| {
        count.fetch_add(1, Ordering::Relaxed);
    });
    t.reset(period, TimerType::Periodical, 0).unwrap();
    rpdk_eal::time::delay_us(1050);
    let mut calls = 0;
    while runs.load(Ordering::Relaxed) < 10 {
        assert!(rpdk_timer::manage() <= 1);
        calls += 1;
    }
    assert!(calls >= 10);
    t.stop_sync().unwrap();
}

#[test]
fn reset_reschedules_and_stop_cancels() {
    let _s = serial();
    let _eal = eal();
    let runs = Arc::new(AtomicUsize::new(0));
    let count = runs.clone();
    let t = Timer::new(move |_| {
        count.fetch_add(1, Ordering::Relaxed);
    });
    assert_eq!(t.stop(), Ok(()), "stopping a stopped timer succeeds");
    t.reset(rpdk_eal::tsc_hz() * 10, TimerType::Single, 0)
        .unwrap();
    assert_eq!(rpdk_timer::manage(), 0);
    t.reset(0, TimerType::Single, 0).unwrap();
    assert!(manage_until(Duration::from_secs(5), || runs
        .load(Ordering::Relaxed)
        == 1));

    t.reset(us(500), TimerType::Single, 0).unwrap();
    t.stop().unwrap();
    assert!(!t.pending());
    let end = rdtsc() + us(2000);
    while rdtsc() < end {
        rpdk_timer::manage();
    }
    assert_eq!(
        runs.load(Ordering::Relaxed),
        1,
        "a stopped timer does not run"
    );
}

#[test]
fn a_callback_resets_then_stops_its_own_timer() {
    let _s = serial();
    let _eal = eal();
    let runs = Arc::new(AtomicUsize::new(0));
    let count = runs.clone();
    let t = Timer::new(move |e| {
        let n = count.fetch_add(1, Ordering::Relaxed) + 1;
        if n < 4 {
            e.reset(us(50), TimerType::Single, e.lcore()).unwrap();
        }
    });
    t.reset(0, TimerType::Single, 0).unwrap();
    assert!(manage_until(Duration::from_secs(5), || runs
        .load(Ordering::Relaxed)
        == 4));

    // A periodic timer stopped by its callback on its third run.
    let runs = Arc::new(AtomicUsize::new(0));
    let count = runs.clone();
    let p = Timer::new(move |e| {
        if count.fetch_add(1, Ordering::Relaxed) + 1 == 3 {
            e.stop();
        }
    });
    p.reset(us(20), TimerType::Periodical, 0).unwrap();
    assert!(manage_until(Duration::from_secs(5), || !p.pending()
        && p.status().state == TimerState::Stopped));
    let end = rdtsc() + us(1000);
    while rdtsc() < end {
        rpdk_timer::manage();
    }
    assert_eq!(runs.load(Ordering::Relaxed), 3);
}

#[test]
fn dropping_a_pending_timer_stops_it_and_drops_its_closure() {
    let _s = serial();
    let _eal = eal();
    let drops = DropCount::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let (guard, count) = (drops.guard(), runs.clone());
    let t = Timer::new(move |_| {
        let _ = &guard;
        count.fetch_add(1, Ordering::Relaxed);
    });
    t.reset(us(100), TimerType::Single, 0).unwrap();
    let before = rpdk_timer::stats().pending;
    drop(t);
    assert_eq!(drops.get(), 1);
    assert_eq!(rpdk_timer::stats().pending, before - 1);
    let end = rdtsc() + us(1000);
    while rdtsc() < end {
        rpdk_timer::manage();
    }
    assert_eq!(runs.load(Ordering::Relaxed), 0);
}

/// A closure of one pointer puts the node in a 64-byte slab slot rather than a box: it runs and
/// is dropped there as well, and a thousand such timers made and dropped reuse their slots.
#[test]
fn small_closures_run_and_drop_in_slab_slots() {
    let _s = serial();
    let _eal = eal();
    let drops = DropCount::new();
    for round in 0..3 {
        let timers: Vec<_> = (0..1000)
            .map(|_| {
                let guard = drops.guard();
                Timer::new(move |_| {
                    let _ = &guard;
                })
            })
            .collect();
        for t in &timers[..10] {
            t.reset(0, TimerType::Single, 0).unwrap();
        }
        let mut ran = 0;
        let end = rdtsc() + us(100_000);
        while ran < 10 && rdtsc() < end {
            ran += rpdk_timer::manage();
        }
        assert_eq!(ran, 10, "round {round}");
        drop(timers);
        assert_eq!(drops.get(), 1000 * (round + 1));
    }
}

#[test]
fn a_callback_may_drop_its_own_timer() {
    let _s = serial();
    let _eal = eal();
    let drops = DropCount::new();
    let owner: Arc<Mutex<Option<DynTimer>>> = Arc::new(Mutex::new(None));
    let (slot, guard, seen) = (owner.clone(), drops.guard(), drops.clone());
    let t: DynTimer = Timer::new(Box::new(move |e: &Expired<'_>| {
        let own = slot.lock().unwrap().take();
        drop(own);
        // The closure (and `guard`) live until the callback returns.
        assert_eq!(seen.get(), 0);
        let _ = &guard;
        e.reset(0, TimerType::Single, 0).unwrap(); // no effect: the owner has let go
    }));
    t.reset(0, TimerType::Single, 0).unwrap();
    *owner.lock().unwrap() = Some(t);
    assert!(manage_until(Duration::from_secs(5), || drops.get() == 1));
    assert_eq!(rpdk_timer::manage(), 0);
}

#[test]
fn a_callback_may_drop_or_reset_timers_queued_behind_it() {
    let _s = serial();
    let _eal = eal();
    let drops = DropCount::new();
    let ran_b = Arc::new(AtomicUsize::new(0));
    let (count, guard) = (ran_b.clone(), drops.guard());
    let b: DynTimer = Timer::new(Box::new(move |_| {
        let _ = &guard;
        count.fetch_add(1, Ordering::Relaxed);
    }));
    let c = Arc::new(Timer::new(|_| {}));
    b.reset(0, TimerType::Single, 0).unwrap();
    c.reset(0, TimerType::Single, 0).unwrap();
    let b = Arc::new(Mutex::new(Some(b)));
    let (slot, c2) = (b.clone(), c.clone());
    let results = Arc::new(Mutex::new(Vec::new()));
    let out = results.clone();
    // `a` is due first, so `b` and `c` are queued behind it in the same manage() call.
    let a = Timer::new(move |_| {
        let mut out = out.lock().unwrap();
        out.push(c2.reset(0, TimerType::Single, 0));
        out.push(c2.reset_sync(0, TimerType::Single, 0));
        out.push(c2.stop_sync());
        drop(slot.lock().unwrap().take());
    });
    a.reset(0, TimerType::Single, 0).unwrap();
    // Make `a` the earliest: reset `b` and `c` again, later.
    b.lock()
        .unwrap()
        .as_ref()
        .unwrap()
        .reset(1, TimerType::Single, 0)
        .unwrap();
    c.reset(1, TimerType::Single, 0).unwrap();
    rpdk_eal::time::delay_us(10);
    assert_eq!(
        rpdk_timer::manage(),
        2,
        "a and c ran; b was dropped before its turn"
    );
    assert_eq!(ran_b.load(Ordering::Relaxed), 0);
    assert_eq!(drops.get(), 1);
    let results = results.lock().unwrap();
    assert_eq!(results[0], Err(TimerError::Running { lcore: 0 }));
    assert_eq!(results[1], Err(TimerError::WouldDeadlock { lcore: 0 }));
    assert_eq!(results[2], Err(TimerError::WouldDeadlock { lcore: 0 }));
}

#[test]
fn manage_is_not_reentrant() {
    let _s = serial();
    let _eal = eal();
    let inner = Arc::new(Mutex::new(None));
    let out = inner.clone();
    let t = Timer::new(move |_| *out.lock().unwrap() = Some(rpdk_timer::manage()));
    let other = Timer::new(|_| {});
    other.reset(0, TimerType::Single, 0).unwrap();
    t.reset(0, TimerType::Single, 0).unwrap();
    other.reset(1, TimerType::Single, 0).unwrap();
    rpdk_eal::time::delay_us(10);
    assert_eq!(rpdk_timer::manage(), 2);
    assert_eq!(*inner.lock().unwrap(), Some(0));
}

#[test]
fn a_panicking_callback_stops_its_timer_and_spares_the_rest() {
    let _s = serial();
    let _eal = eal();
    let runs = Arc::new(AtomicUsize::new(0));
    let make = |panics: bool| {
        let count = runs.clone();
        Timer::new(move |_| {
            count.fetch_add(1, Ordering::Relaxed);
            if panics {
                panic!("callback panics on purpose");
            }
        })
    };
    let (a, b, c) = (make(false), make(true), make(false));
    for (i, t) in [&a, &b, &c].into_iter().enumerate() {
        t.reset(1 + i as u64, TimerType::Periodical, 0).unwrap();
    }
    rpdk_eal::time::delay_us(10);
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = catch_unwind(AssertUnwindSafe(rpdk_timer::manage));
    std::panic::set_hook(hook);
    assert!(r.is_err());
    assert_eq!(runs.load(Ordering::Relaxed), 2);
    assert_eq!(b.status().state, TimerState::Stopped);
    assert!(
        a.pending() && c.pending(),
        "the others reload, or wait for the next manage()"
    );
    assert!(manage_until(Duration::from_secs(5), || runs
        .load(Ordering::Relaxed)
        >= 6));
    assert_eq!(b.status().state, TimerState::Stopped);
}

#[test]
fn next_ticks_tells_the_time_to_the_earliest_timer() {
    let _s = serial();
    let _eal = eal();
    while rpdk_timer::manage() > 0 {}
    assert_eq!(rpdk_timer::next_ticks(), None);
    let t = Timer::new(|_| {});
    let far = Timer::new(|_| {});
    far.reset(us(900_000), TimerType::Single, 0).unwrap();
    t.reset(us(50_000), TimerType::Single, 0).unwrap();
    let ticks = rpdk_timer::next_ticks().unwrap();
    assert!(ticks <= us(50_000) && ticks > us(40_000), "{ticks}");
    t.reset(0, TimerType::Single, 0).unwrap();
    assert_eq!(rpdk_timer::next_ticks(), Some(0));
    t.stop().unwrap();
    far.stop().unwrap();
    assert_eq!(rpdk_timer::next_ticks(), None);
}

#[test]
fn bad_arguments_are_errors() {
    let _s = serial();
    let _eal = eal();
    let t = Timer::new(|_| {});
    assert_eq!(
        t.reset(1, TimerType::Single, 128),
        Err(TimerError::InvalidLcore(128))
    );
    assert_eq!(
        t.reset(0, TimerType::Periodical, 0),
        Err(TimerError::ZeroPeriod)
    );
    let msg = TimerError::InvalidLcore(128).to_string();
    assert!(msg.contains("128") && msg.contains("127"), "{msg}");
    assert!(!t.pending());
}

#[test]
fn lcore_id_any_goes_round_robin() {
    let _s = serial();
    let eal = eal();
    let t = Timer::new(|_| {});
    let mut owners = Vec::new();
    for _ in 0..4 {
        t.reset(rpdk_eal::tsc_hz(), TimerType::Single, LCORE_ID_ANY)
            .unwrap();
        owners.push(t.status().owner.unwrap());
    }
    assert_eq!(eal.lcores(), [0, 1]);
    assert!(
        owners == [0, 1, 0, 1] || owners == [1, 0, 1, 0],
        "{owners:?}"
    );
    t.stop().unwrap();
}

#[test]
fn threads_that_are_not_lcores_arm_timers_but_do_not_manage() {
    let _s = serial();
    let _eal = eal();
    let runs = Arc::new(AtomicUsize::new(0));
    let count = runs.clone();
    let t = Arc::new(Timer::new(move |e| {
        assert_eq!(e.lcore(), 0);
        count.fetch_add(1, Ordering::Relaxed);
    }));
    let t2 = t.clone();
    let managed = std::thread::spawn(move || {
        t2.reset(0, TimerType::Single, 0).unwrap();
        rpdk_timer::manage()
    })
    .join()
    .unwrap();
    assert_eq!(managed, 0);
    assert!(manage_until(Duration::from_secs(5), || runs
        .load(Ordering::Relaxed)
        == 1));
}
