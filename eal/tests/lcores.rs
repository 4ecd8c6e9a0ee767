//! Lcore threads on a real EAL: pinning, launch, wait, state, scopes, panics.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use rpdk_eal::{CallMain, Eal, Error, LcoreState, lcore};
use rpdk_testsupport::{allowed_cpus, serial};

/// Two lcores, 0 and 1, on the first and last CPU this process may use (the same CPU on a
/// one-CPU machine), in memory that needs neither root nor hugepages.
fn two_lcores() -> (Vec<usize>, String) {
    let cpus = allowed_cpus();
    let (a, b) = (cpus[0], *cpus.last().unwrap());
    (vec![a, b], format!("0@{a},1@{b}"))
}

fn init(extra: &[&str]) -> Eal {
    let mut args = vec!["lcores-test", "--no-huge", "--no-shconf"];
    args.extend_from_slice(extra);
    rpdk_eal::init(args).expect("init").0
}

#[test]
fn lcores_run_on_the_cpus_they_are_pinned_to() {
    let _s = serial();
    let (cpus, map) = two_lcores();
    let eal = init(&["--lcores", &map]);
    assert_eq!(eal.main_lcore(), 0);
    assert_eq!(eal.workers(), [1]);
    assert_eq!(eal.lcores(), [0, 1]);
    assert_eq!(lcore::count(), 2);
    assert_eq!(lcore::id(), Some(0));
    let results = eal.run_on_lcores(|id| (id, lcore::id(), rpdk_eal::cpuset::current_cpu()));
    assert_eq!(results.len(), 2);
    for (id, r) in results {
        let (arg, tls, cpu) = r.unwrap();
        assert_eq!(arg, id);
        assert_eq!(tls, Some(id), "lcore_id() on lcore {id}");
        assert_eq!(cpu, Some(cpus[id as usize]), "lcore {id} runs on its CPU");
        let info = lcore::info(id).unwrap();
        assert!(info.cpuset.contains(cpus[id as usize]));
        assert_eq!(info.index, id);
    }
}

#[test]
fn a_group_of_lcores_shares_a_cpu_set() {
    let _s = serial();
    let cpu = allowed_cpus()[0];
    let eal = init(&["--lcores", &format!("(0-2)@{cpu}")]);
    assert_eq!(eal.lcore_count(), 3);
    for (id, r) in eal.run_on_lcores(|_| rpdk_eal::cpuset::current_cpu()) {
        assert_eq!(r.unwrap(), Some(cpu), "lcore {id}");
    }
}

#[test]
fn main_lcore_can_be_chosen() {
    let _s = serial();
    let (_, map) = two_lcores();
    let eal = init(&["--lcores", &map, "--main-lcore", "1"]);
    assert_eq!(eal.main_lcore(), 1);
    assert_eq!(lcore::id(), Some(1));
    assert_eq!(eal.workers(), [0]);
}

#[test]
fn launch_wait_and_state() {
    let _s = serial();
    let (_, map) = two_lcores();
    let eal = init(&["--lcores", &map]);
    assert_eq!(eal.lcore_state(1), Some(LcoreState::Wait));
    assert_eq!(eal.wait_lcore(1).unwrap(), 0, "nothing launched: 0 as DPDK");

    let (tx, rx) = std::sync::mpsc::channel::<()>();
    eal.remote_launch(1, move || {
        rx.recv().unwrap();
        42
    })
    .unwrap();
    assert_eq!(eal.lcore_state(1), Some(LcoreState::Running));
    let busy = eal.remote_launch(1, || 0).unwrap_err();
    assert!(busy.to_string().contains("lcore 1: busy"), "{busy}");
    tx.send(()).unwrap();
    while eal.lcore_state(1) != Some(LcoreState::Finished) {
        std::thread::yield_now();
    }
    assert_eq!(eal.wait_lcore(1).unwrap(), 42);
    assert_eq!(eal.lcore_state(1), Some(LcoreState::Wait));

    let e = eal.remote_launch(0, || 0).unwrap_err();
    assert!(e.to_string().contains("main lcore"), "{e}");
    let e = eal.remote_launch(5, || 0).unwrap_err();
    assert!(
        e.to_string().contains("lcore 5: not an enabled lcore"),
        "{e}"
    );
    let e = eal.wait_lcore(7).unwrap_err();
    assert!(e.to_string().contains("lcore 7"), "{e}");
}

#[test]
fn a_panicking_function_is_an_error_and_the_lcore_survives() {
    let _s = serial();
    let (_, map) = two_lcores();
    let eal = init(&["--lcores", &map]);
    eal.remote_launch(1, || panic!("boom on purpose")).unwrap();
    match eal.wait_lcore(1) {
        Err(Error::Panicked { lcore: 1, message }) => assert_eq!(message, "boom on purpose"),
        other => panic!("expected a panic report, got {other:?}"),
    }
    eal.remote_launch(1, || 7).unwrap();
    assert_eq!(eal.wait_lcore(1).unwrap(), 7);
}

#[test]
fn mp_remote_launch_runs_everywhere() {
    let _s = serial();
    let (_, map) = two_lcores();
    let eal = init(&["--lcores", &map]);
    let hits = Arc::new(AtomicU32::new(0));
    let h = hits.clone();
    let main_ret = eal
        .mp_remote_launch(
            move || {
                h.fetch_add(1 << (lcore::id().unwrap() * 8), Ordering::SeqCst);
                lcore::id().unwrap() as i32 + 100
            },
            CallMain::Call,
        )
        .unwrap();
    assert_eq!(main_ret, Some(100));
    let waited = eal.mp_wait_lcore();
    assert_eq!(waited.len(), 1);
    assert_eq!(waited[0].0, 1);
    assert_eq!(*waited[0].1.as_ref().unwrap(), 101);
    assert_eq!(hits.load(Ordering::SeqCst), 0x101, "each lcore ran once");

    let h = hits.clone();
    let ret = eal
        .mp_remote_launch(
            move || {
                h.fetch_add(1, Ordering::SeqCst);
                0
            },
            CallMain::Skip,
        )
        .unwrap();
    assert_eq!(ret, None);
    eal.mp_wait_lcore();
    assert_eq!(hits.load(Ordering::SeqCst), 0x102);
}

#[test]
fn scoped_closures_borrow_and_return() {
    let _s = serial();
    let (_, map) = two_lcores();
    let eal = init(&["--lcores", &map]);
    let data: Vec<u64> = (1..=1000).collect();
    let mut out = [0u64; 1];
    let joined = eal.scope(|s| {
        let h = s
            .launch(1, || {
                out[0] = data.iter().sum();
                data.len()
            })
            .unwrap();
        assert_eq!(h.lcore(), 1);
        let e = s.launch(1, || 0).map(|_| ()).unwrap_err();
        assert!(e.to_string().contains("busy"), "{e}");
        h.join().unwrap()
    });
    assert_eq!(joined, 1000);
    assert_eq!(out[0], 500_500);

    // A scope waits for closures nobody joined.
    let counter = AtomicU32::new(0);
    eal.scope(|s| {
        s.launch(1, || {
            rpdk_eal::time::delay_us(2000);
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    });
    assert_eq!(counter.load(Ordering::SeqCst), 1);

    // Panics come back as the lcore's error.
    let r = eal.scope(|s| {
        s.launch(1, || -> u8 { panic!("scoped boom") })
            .unwrap()
            .join()
    });
    assert!(
        matches!(r, Err(Error::Panicked { lcore: 1, ref message }) if message == "scoped boom")
    );
    let all = eal.run_on_lcores(|id| if id == 1 { panic!("worker boom") } else { id });
    assert_eq!(all[0].1.as_ref().unwrap(), &0);
    assert!(matches!(all[1].1, Err(Error::Panicked { lcore: 1, .. })));
}

#[test]
fn lcore_id_is_none_off_eal_threads() {
    let _s = serial();
    assert_eq!(lcore::id(), None);
    let eal = init(&["-l", &allowed_cpus()[0].to_string()]);
    assert!(lcore::id().is_some());
    std::thread::spawn(|| {
        assert_eq!(lcore::id(), None);
        assert_eq!(lcore::socket_id(), None);
    })
    .join()
    .unwrap();
    drop(eal);
    assert_eq!(lcore::id(), None, "cleanup forgets the main lcore");
    assert_eq!(lcore::count(), 0);
    assert!(lcore::main_lcore().is_none());
}

#[test]
fn init_twice_is_refused_and_cleanup_allows_another() {
    let _s = serial();
    let eal = init(&[]);
    let e = rpdk_eal::init(["again", "--no-huge", "--no-shconf"]).unwrap_err();
    assert!(matches!(e, Error::AlreadyInitialized), "{e}");
    eal.cleanup().unwrap();
    assert!(!rpdk_eal::is_initialized());
    let eal = init(&[]);
    assert!(rpdk_eal::is_initialized());
    drop(eal);
}

#[test]
fn cpus_that_do_not_exist_are_errors() {
    let _s = serial();
    let e = rpdk_eal::init(["t", "--no-huge", "--no-shconf", "-l", "0,1@1000"]).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("invalid value '0,1@1000' for -l"), "{msg}");
    assert!(
        msg.contains("lcore 1: CPU 1000 does not exist (this machine has CPUs"),
        "{msg}"
    );
    let e = rpdk_eal::init(["t", "--no-huge", "--no-shconf", "--lcores", "3@1000"]).unwrap_err();
    assert!(
        e.to_string()
            .contains("for --lcores: lcore 3: CPU 1000 does not exist"),
        "{e}"
    );
    assert!(!rpdk_eal::is_initialized());
}

#[test]
fn secondary_processes_are_refused_clearly() {
    let _s = serial();
    let e = rpdk_eal::init(["t", "--no-huge", "--proc-type", "secondary"]).unwrap_err();
    assert!(e.to_string().contains("secondary"), "{e}");
    assert!(!rpdk_eal::is_initialized());
}

/// `--huge-worker-stack=KB` gives worker lcores stacks of that size: 32 MiB holds a 6 MiB
/// local buffer that std's default 2 MiB thread stack could not.
#[test]
fn huge_worker_stack_sizes_worker_stacks() {
    // DPDK refuses the flag with --no-huge, so this needs hugepages.
    if !rpdk_testsupport::require_root("huge_worker_stack_sizes_worker_stacks") {
        return;
    }
    rpdk_testsupport::ensure_hugepages(4).unwrap();
    let _s = serial();
    let (_, map) = two_lcores();
    let args = [
        "lcores-test",
        "--in-memory",
        "-l",
        &map,
        "--huge-worker-stack=32768",
    ];
    let eal = rpdk_eal::init(args).expect("init").0;
    eal.remote_launch(1, || {
        let mut buf = [0u8; 6 << 20];
        std::hint::black_box(&mut buf)[(6 << 20) - 1] = 7;
        i32::from(std::hint::black_box(&buf)[(6 << 20) - 1])
    })
    .unwrap();
    assert_eq!(eal.wait_lcore(1).unwrap(), 7);
    drop(eal);
}

/// `--remap-lcore-ids`: lcore ids from the base up, whatever the CPUs' numbers.
#[test]
fn remapped_lcore_ids_start_at_the_base() {
    let _s = serial();
    let cpu = allowed_cpus()[0];
    let eal = init(&["-l", &cpu.to_string(), "--remap-lcore-ids=5"]);
    assert_eq!(eal.lcores(), [5]);
    assert_eq!(eal.main_lcore(), 5);
    let on = eal.run_on_lcores(|_| rpdk_eal::cpuset::thread_affinity().unwrap().first());
    assert_eq!(on[0].1.as_ref().unwrap(), &Some(cpu));
    drop(eal);
}
