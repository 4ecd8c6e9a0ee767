//! A primary and a secondary process sharing a mempool and named rings, for real: the test
//! binary starts itself again in each role (the `child` entry point runs `RPDK_MP_ROLE`).

use std::time::{Duration, Instant};

use rpdk_mempool::Mempool;
use rpdk_ring::{Ring, RingFlags};
use rpdk_testsupport::process::{Child, role, runtime_dir, text, wait_for_primary};
use rpdk_testsupport::unique_prefix;

fn eal_args(prefix: &str, proc_type: &str, lcore: u32) -> Vec<String> {
    rpdk_testsupport::process::eal_args("mp-pool-test", prefix, proc_type, lcore)
}

const TOTAL: u64 = 1_000_000;
const BURST: usize = 32;
const POOL: u32 = 4095;

#[test]
fn child() {
    let Some((role, prefix)) = role() else {
        return;
    };
    match role.as_str() {
        "primary" => primary(&prefix, false),
        "primary_kill" => primary(&prefix, true),
        "secondary" => secondary(&prefix, TOTAL),
        "secondary_forever" => secondary(&prefix, u64::MAX),
        r => panic!("unknown role {r}"),
    }
}

/// The secondary's pid, from its IPC socket's name.
fn secondary_pid(prefix: &str) -> Option<i32> {
    std::fs::read_dir(runtime_dir(prefix))
        .ok()?
        .flatten()
        .find_map(|e| {
            e.file_name()
                .to_str()?
                .strip_prefix("mp_socket_")?
                .split('_')
                .next()?
                .parse()
                .ok()
        })
}

/// Takes objects back from `to_primary`, checks their sequence numbers and puts them back;
/// with `kill`, kills the secondary after 200 000 and accounts for what it held.
fn primary(prefix: &str, kill: bool) {
    let (_eal, _) = rpdk_eal::init(eal_args(prefix, "primary", 0)).unwrap();
    let pool = Mempool::builder("mp_objs", POOL, 64)
        .cache_size(BURST as u32)
        .create()
        .unwrap();
    let to_primary = Ring::<usize>::create("mp_to_pri", 1024, None, RingFlags::empty()).unwrap();
    let mut expect = 0u64;
    let mut buf = [0usize; BURST];
    let start = Instant::now();
    let mut quiet = Instant::now();
    let goal = if kill { 200_000 } else { TOTAL };
    let mut killed = false;
    loop {
        // SAFETY: a multi-consumer ring; this thread is its only consumer anyway.
        let got = unsafe { to_primary.dequeue_burst(&mut buf) }.count;
        for &addr in &buf[..got] {
            let obj = addr as *mut u8;
            // SAFETY: the secondary wrote the sequence number in the object's first 8 bytes
            // before enqueueing it.
            let seq = unsafe { (obj as *const u64).read() };
            assert_eq!(seq, expect, "objects arrive in order");
            expect += 1;
        }
        let objs: Vec<*mut u8> = buf[..got].iter().map(|&a| a as *mut u8).collect();
        // SAFETY: the objects came from `pool` (the secondary got them) and are not used
        // after this.
        unsafe { pool.put_bulk(&objs) };
        if got > 0 {
            quiet = Instant::now();
        }
        if kill && !killed && expect >= goal {
            let pid = secondary_pid(prefix).expect("the secondary's socket");
            // SAFETY: kill on the secondary this test started.
            assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
            println!("killed the secondary {pid} after {expect} objects");
            killed = true;
            quiet = Instant::now();
        }
        if (!kill && expect == TOTAL) || (killed && quiet.elapsed() > Duration::from_millis(500)) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "stuck at {expect}"
        );
    }
    println!(
        "received {expect} in order in {} ms",
        start.elapsed().as_millis()
    );
    if !kill {
        // The secondary has left: what its lcore cache holds is counted and found there.
        while secondary_pid(prefix).is_some() {
            std::thread::sleep(Duration::from_millis(10));
        }
        println!("in use {}", pool.in_use_count());
        pool.audit().unwrap();
        println!("audit ok");
        return;
    }
    let reclaimed = pool.reclaim_orphan_caches();
    let lost = pool.in_use_count();
    println!("reclaimed {reclaimed} from the dead secondary's cache, lost {lost}");
    assert!(lost as usize <= BURST / 4, "{lost} objects lost");
    pool.flush_lcore_cache();
    // Every object not lost can still be had, and goes back.
    let mut all = vec![std::ptr::null_mut(); (POOL - lost) as usize];
    pool.get_bulk(&mut all).unwrap();
    // SAFETY: just taken from the pool.
    unsafe { pool.put_bulk(&all) };
    println!("pool usable after the kill: {} objects", all.len());
}

fn secondary(prefix: &str, total: u64) {
    let start = Instant::now();
    let (_eal, _) = rpdk_eal::init(eal_args(prefix, "secondary", 1)).unwrap();
    let to_primary = loop {
        if let Ok(r) = Ring::<usize>::lookup("mp_to_pri") {
            break r;
        }
        assert!(start.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(10));
    };
    let pool = Mempool::lookup("mp_objs").expect("the primary's pool");
    println!(
        "secondary found the pool ({} objects) and ring",
        pool.size()
    );
    let mut seq = 0u64;
    // Bursts smaller than the cache, so that gets go through the secondary's lcore cache.
    let mut objs = [std::ptr::null_mut::<u8>(); BURST];
    while seq < total {
        let n = (BURST / 4).min((total - seq) as usize);
        if pool.get_bulk(&mut objs[..n]).is_err() {
            std::hint::spin_loop();
            continue;
        }
        let mut addrs = [0usize; BURST];
        for (i, &o) in objs[..n].iter().enumerate() {
            // SAFETY: a 64-byte object of the pool, ours until enqueued.
            unsafe { (o as *mut u64).write(seq + i as u64) };
            addrs[i] = o as usize;
        }
        // SAFETY: a multi-producer ring.
        while unsafe { to_primary.enqueue_bulk(&addrs[..n]) }.count == 0 {
            std::hint::spin_loop();
        }
        seq += n as u64;
    }
    println!("secondary sent {seq}");
}

fn run(primary_role: &str, secondary_role: &str, tag: &str) -> (String, String) {
    let prefix = unique_prefix(tag);
    let p = Child::start(primary_role, &prefix);
    wait_for_primary(&prefix);
    let s = Child::start(secondary_role, &prefix);
    let (so, po) = (s.wait(), p.wait());
    let (st, pt) = (text(&so), text(&po));
    assert!(po.status.success(), "{pt}\n{st}");
    let left: Vec<_> = std::fs::read_dir(runtime_dir(&prefix))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "the runtime directory keeps {left:?}\n{pt}"
    );
    (pt, st)
}

#[test]
fn a_primary_and_a_secondary_exchange_a_million_objects() {
    let (pt, st) = run("primary", "secondary", "mpx");
    assert!(
        st.contains("secondary found the pool (4095 objects) and ring"),
        "{st}"
    );
    assert!(st.contains("secondary sent 1000000"), "{st}");
    assert!(pt.contains("received 1000000 in order"), "{pt}");
    assert!(pt.contains("audit ok"), "{pt}");
}

#[test]
fn a_killed_secondary_leaves_the_primary_and_the_pool_working() {
    let (pt, st) = run("primary_kill", "secondary_forever", "mpk");
    assert!(st.contains("secondary found the pool"), "{st}");
    assert!(pt.contains("killed the secondary"), "{pt}");
    assert!(pt.contains("pool usable after the kill"), "{pt}");
}
