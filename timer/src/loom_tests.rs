//! Loom models of the cross-lcore protocol: `manage()` on one lcore against reset, stop and
//! drop on another. Loom runs every interleaving (up to a preemption bound) and fails on a data
//! race on the fields the protocol guards (they are loom cells here, the closure included, so a
//! callback running on two lcores at once is caught), on a leak, and on a deadlock.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p rpdk-timer --lib --release loom
//! ```

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;

use crate::sync::set_lcore;
use crate::{Expired, Timer, TimerData, TimerError, TimerType};

/// Runs `f` under every interleaving with up to 3 preemptions, and says how many there were.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = runs.clone();
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(move || {
        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f()
    });
    eprintln!(
        "{} interleavings",
        runs.load(std::sync::atomic::Ordering::Relaxed)
    );
}

/// A timer of `data` that counts its runs in `count`.
fn counting(
    data: &std::sync::Arc<TimerData>,
    count: &Arc<AtomicUsize>,
) -> Timer<impl FnMut(&Expired<'_>) + Send + 'static> {
    let count = count.clone();
    Timer::new_in(data, move |_| {
        count.fetch_add(1, Ordering::Relaxed);
    })
}

#[test]
fn loom_manage_against_reset_and_stop_from_another_lcore() {
    model(|| {
        set_lcore(Some(0));
        let data = TimerData::new();
        let fired = Arc::new(AtomicUsize::new(0));
        let timer = std::sync::Arc::new(counting(&data, &fired));
        timer.reset(0, TimerType::Single, 0).unwrap();
        let other = timer.clone();
        let h = thread::spawn(move || {
            set_lcore(Some(1));
            let reset = other.reset(0, TimerType::Single, 1);
            let stop = other.stop();
            (reset, stop)
        });
        let ran = data.manage();
        let (reset, stop) = h.join().unwrap();
        assert!(ran <= 1 && fired.load(Ordering::Relaxed) == ran);
        for r in [reset, stop] {
            assert!(matches!(r, Ok(()) | Err(TimerError::Running { lcore: 0 })));
        }
        // What stop returned Ok for stays stopped.
        if stop.is_ok() {
            assert!(!timer.pending());
        }
        timer.stop_sync().unwrap();
        assert_eq!(data.manage(), 0);
        assert!(!timer.pending());
    });
}

#[test]
fn loom_drop_waits_for_the_callback_running_elsewhere() {
    model(|| {
        set_lcore(Some(0));
        let data = TimerData::new();
        let dropped = Arc::new(AtomicBool::new(false));
        let seen = dropped.clone();
        let timer = Timer::new_in(&data, move |_| {
            assert!(
                !seen.load(Ordering::Acquire),
                "callback ran after drop returned"
            );
        });
        timer.reset(0, TimerType::Single, 0).unwrap();
        let flag = dropped.clone();
        let h = thread::spawn(move || {
            set_lcore(Some(1));
            drop(timer);
            flag.store(true, Ordering::Release);
        });
        data.manage();
        h.join().unwrap();
        assert_eq!(data.manage(), 0);
    });
}

#[test]
fn loom_a_reset_moves_a_timer_between_lcores_while_it_may_run() {
    model(|| {
        set_lcore(Some(0));
        let data = TimerData::new();
        let fired = Arc::new(AtomicUsize::new(0));
        let timer = std::sync::Arc::new(counting(&data, &fired));
        timer.reset(0, TimerType::Single, 0).unwrap();
        let other = timer.clone();
        let d = data.clone();
        let h = thread::spawn(move || {
            set_lcore(Some(1));
            other.reset_sync(0, TimerType::Single, 1).unwrap();
            d.manage()
        });
        let here = data.manage();
        let there = h.join().unwrap();
        let total = fired.load(Ordering::Relaxed);
        assert_eq!(here + there, total);
        assert!((1..=2).contains(&total) || (total == 0 && timer.pending()));
    });
}

#[test]
fn loom_a_callback_resetting_itself_elsewhere_never_runs_twice_at_once() {
    model(|| {
        set_lcore(Some(0));
        let data = TimerData::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let count = runs.clone();
        let timer = Timer::new_in(&data, move |e| {
            if count.fetch_add(1, Ordering::Relaxed) == 0 {
                e.reset(0, TimerType::Single, 1).unwrap();
            }
        });
        timer.reset(0, TimerType::Single, 0).unwrap();
        let d = data.clone();
        let h = thread::spawn(move || {
            set_lcore(Some(1));
            d.manage() + d.manage()
        });
        let here = data.manage();
        let there = h.join().unwrap();
        assert_eq!(here, 1);
        assert_eq!(runs.load(Ordering::Relaxed), 1 + there);
        drop(timer);
    });
}

#[test]
fn loom_stop_sync_of_a_periodic_timer_ends_its_runs() {
    model(|| {
        set_lcore(Some(0));
        let data = TimerData::new();
        let stopped = Arc::new(AtomicBool::new(false));
        let seen = stopped.clone();
        let timer = std::sync::Arc::new(Timer::new_in(&data, move |_| {
            assert!(
                !seen.load(Ordering::Acquire),
                "ran after stop_sync returned"
            );
        }));
        timer.reset(1, TimerType::Periodical, 0).unwrap();
        let other = timer.clone();
        let flag = stopped.clone();
        let h = thread::spawn(move || {
            set_lcore(Some(1));
            other.stop_sync().unwrap();
            flag.store(true, Ordering::Release);
        });
        data.manage();
        h.join().unwrap();
        data.manage();
        assert!(!timer.pending());
    });
}

#[test]
fn loom_a_callback_may_drop_its_own_timer() {
    model(|| {
        set_lcore(Some(0));
        let data = TimerData::new();
        let slot: Arc<loom::sync::Mutex<Option<Box<dyn Send>>>> =
            Arc::new(loom::sync::Mutex::new(None));
        let inner = slot.clone();
        let timer = Timer::new_in(&data, move |e| {
            let own = inner.lock().unwrap().take();
            drop(own);
            e.reset(0, TimerType::Single, 0).unwrap();
        });
        timer.reset(0, TimerType::Single, 0).unwrap();
        *slot.lock().unwrap() = Some(Box::new(timer));
        assert_eq!(data.manage(), 1);
        assert_eq!(data.manage(), 0);
        drop(slot);
    });
}

#[test]
fn loom_two_lcores_reset_the_same_timer_while_it_expires() {
    model(|| {
        set_lcore(Some(0));
        let data = TimerData::new();
        let fired = Arc::new(AtomicUsize::new(0));
        let timer = std::sync::Arc::new(counting(&data, &fired));
        timer.reset(0, TimerType::Single, 0).unwrap();
        let other = timer.clone();
        let h = thread::spawn(move || {
            set_lcore(Some(1));
            other.reset_sync(1 << 30, TimerType::Single, 1).unwrap();
        });
        let first = timer.reset(1 << 30, TimerType::Single, 0);
        let ran = data.manage();
        h.join().unwrap();
        assert!(matches!(first, Ok(()) | Err(TimerError::Config)));
        assert_eq!(fired.load(Ordering::Relaxed), ran);
        // Whoever reset last, the timer is pending exactly once, far away.
        assert!(timer.pending());
        assert_eq!(data.stats().pending, 1);
        timer.stop_sync().unwrap();
        assert_eq!(data.stats().pending, 0);
    });
}

#[test]
fn loom_two_lcores_managing_one_list_run_a_timer_once() {
    model(|| {
        set_lcore(Some(0));
        let data = TimerData::new();
        let fired = Arc::new(AtomicUsize::new(0));
        let timer = counting(&data, &fired);
        timer.reset(0, TimerType::Single, 0).unwrap();
        let d = data.clone();
        let h = thread::spawn(move || {
            set_lcore(Some(1));
            d.manage_lcores(&[0]).unwrap()
        });
        let here = data.manage();
        let there = h.join().unwrap();
        assert_eq!(here + there, 1);
        assert_eq!(fired.load(Ordering::Relaxed), 1);
        assert!(!timer.pending());
    });
}
