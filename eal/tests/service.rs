//! Service cores on a real EAL: a service mapped to a `-s` lcore runs there (on its pinned
//! thread), stops with its run state, counts its calls; service lcores get no work from the
//! launch calls; `-S`, `lcore_add`, application-lcore runs, errors and the dump.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rpdk_eal::service::{self, Attr, ServiceSpec};
use rpdk_eal::{Eal, lcore};
use rpdk_testsupport::{allowed_cpus, serial};

/// Lcores 0 (main), 1 and 2 on the first and last CPUs, plus `extra` flags.
fn init(extra: &[&str]) -> Eal {
    let cpus = allowed_cpus();
    let (a, b) = (cpus[0], *cpus.last().unwrap());
    let map = format!("0@{a},1@{b},2@{a}");
    let mut args = vec!["service-test", "--no-huge", "--no-shconf", "--lcores", &map];
    args.extend_from_slice(extra);
    rpdk_eal::init(args).expect("init").0
}

fn wait_for(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_service_runs_on_its_service_lcore_and_stops() {
    let _s = serial();
    let eal = init(&["-s", "0x2"]);
    assert_eq!(service::lcore_list(), [1]);
    // Lcore 1 is the service lcore: not a worker, not counted, never launched on by
    // run_on_lcores.
    assert_eq!(
        (eal.workers(), eal.lcores(), eal.lcore_count()),
        (vec![2], vec![0, 2], 2)
    );
    let ran: Vec<u32> = eal
        .run_on_lcores(|_| lcore::id().unwrap())
        .into_iter()
        .map(|(_, r)| r.unwrap())
        .collect();
    assert_eq!(ran, [0, 2]);

    let calls = Arc::new(AtomicU64::new(0));
    let on = Arc::new(AtomicU64::new(u64::MAX));
    let (c, o) = (calls.clone(), on.clone());
    let id = service::component_register(ServiceSpec::new("count", move || {
        c.fetch_add(1, Ordering::Relaxed);
        o.store(lcore::id().map_or(u64::MAX, u64::from), Ordering::Relaxed);
        0
    }))
    .unwrap();
    assert_eq!(service::get_by_name("count").unwrap(), id);
    assert_eq!(service::get_name(id).unwrap(), "count");
    assert_eq!(service::service_count(), 1);
    service::set_stats_enable(id, true).unwrap();
    service::map_lcore_set(id, 1, true).unwrap();
    assert!(service::map_lcore_get(id, 1).unwrap());
    service::lcore_start(1).unwrap();
    // Not runnable yet: the component and the application both must say so.
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(calls.load(Ordering::Relaxed), 0);
    assert!(!service::may_be_active(id).unwrap());
    service::component_runstate_set(id, true).unwrap();
    service::runstate_set(id, true).unwrap();
    assert!(service::runstate_get(id).unwrap() && service::may_be_active(id).unwrap());
    wait_for("calls", || calls.load(Ordering::Relaxed) > 1000);
    assert_eq!(on.load(Ordering::Relaxed), 1, "it runs on lcore 1");
    assert!(service::lcore_loops(1).unwrap() > 1000);

    // Stopped by its run state: no more calls, and the statistics match the callback's count.
    service::runstate_set(id, false).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    let stopped_at = calls.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(calls.load(Ordering::Relaxed), stopped_at);
    assert_eq!(service::attr_get(id, Attr::Calls).unwrap(), stopped_at);
    assert!(service::attr_get(id, Attr::Cycles).unwrap() > 0);
    let dump = service::dump();
    assert!(
        dump.contains("count: stats 1") && dump.contains("lcores [1]"),
        "{dump}"
    );
    assert!(dump.contains("1: running"), "{dump}");

    // Errors name what is wrong.
    let e = service::component_unregister(id).unwrap_err().to_string();
    assert!(e.contains("runs on a started lcore"), "{e}");
    assert!(
        service::lcore_start(1)
            .unwrap_err()
            .to_string()
            .contains("started already")
    );
    assert!(
        service::map_lcore_set(id, 2, true)
            .unwrap_err()
            .to_string()
            .contains("lcore 2 is not a service lcore")
    );
    assert!(service::component_register(ServiceSpec::new("count", || 0)).is_err());

    service::lcore_stop(1).unwrap();
    assert!(service::dump().contains("1: stopped"));
    service::attr_reset_all(id).unwrap();
    assert_eq!(service::attr_get(id, Attr::Calls).unwrap(), 0);
    // On the application's lcore, once.
    service::runstate_set(id, true).unwrap();
    let before = calls.load(Ordering::Relaxed);
    service::service_run_iter_on_app_lcore(id, true).unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), before + 1);
    assert_eq!(on.load(Ordering::Relaxed), 0);
    service::map_lcore_set(id, 1, false).unwrap();
    service::component_unregister(id).unwrap();
    assert_eq!(service::service_count(), 0);
    drop(eal);
    assert_eq!(service::lcore_count(), 0, "forgotten at cleanup");
}

#[test]
fn corelists_and_added_lcores_and_cleanup_while_running() {
    let _s = serial();
    let eal = init(&["-S", "2"]);
    assert_eq!(service::lcore_list(), [2]);
    service::lcore_add(1).unwrap();
    assert_eq!(service::lcore_list(), [1, 2]);
    assert!(eal.workers().is_empty());
    assert!(
        service::lcore_add(0)
            .unwrap_err()
            .to_string()
            .contains("main lcore")
    );
    let n = Arc::new(AtomicU64::new(0));
    let c = n.clone();
    let id = service::component_register(ServiceSpec {
        mt_safe: true,
        ..ServiceSpec::new("both", move || {
            c.fetch_add(1, Ordering::Relaxed);
            0
        })
    })
    .unwrap();
    service::component_runstate_set(id, true).unwrap();
    service::runstate_set(id, true).unwrap();
    for l in [1, 2] {
        service::map_lcore_set(id, l, true).unwrap();
        service::lcore_start(l).unwrap();
    }
    wait_for("calls", || n.load(Ordering::Relaxed) > 100);
    // The EAL's cleanup stops running service lcores.
    drop(eal);
    let at = n.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!(n.load(Ordering::Relaxed), at);
}
