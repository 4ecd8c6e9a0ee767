//! Mempools on a real EAL: creation errors, get/put, exhaustion, caches across lcores, user
//! caches, every backing, audits, stats, dumps and IOVAs.

use std::collections::HashSet;
use std::sync::mpsc;

use rpdk_eal::Eal;
use rpdk_mempool::{Error, Exhausted, Mempool, MempoolBuilder, MempoolFlags, Ops};
use rpdk_testsupport::{allowed_cpus, serial};

/// The ops that any number of threads may use at once.
const MT_OPS: [Ops; 5] = [
    Ops::RingMpMc,
    Ops::RingMtRts,
    Ops::RingMtHts,
    Ops::Stack,
    Ops::LfStack,
];

/// Creates a pool with any ops, single-thread sides included.
///
/// # Safety
/// With a single-thread side, the test uses the pool as its contract says.
unsafe fn create_any(b: MempoolBuilder<'_>) -> Mempool {
    // SAFETY: the caller's contract.
    unsafe { b.create_single_thread() }.unwrap()
}

fn init(extra: &[&str]) -> Eal {
    let cpus = allowed_cpus();
    let map = format!("0@{},1@{}", cpus[0], cpus[cpus.len() - 1]);
    let mut args = vec![
        "mempool-test".to_string(),
        "--no-huge".into(),
        "--no-shconf".into(),
        "--lcores".into(),
        map,
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    rpdk_eal::init(args).unwrap().0
}

fn null<const N: usize>() -> [*mut u8; N] {
    [std::ptr::null_mut(); N]
}

#[test]
fn creation_errors_name_the_problem() {
    let _s = serial();
    let _eal = init(&[]);
    let cases: Vec<(Result<Mempool, Error>, &str)> = vec![
        (
            Mempool::builder("", 10, 64).create(),
            "a name has 1 to 28 bytes",
        ),
        (
            Mempool::builder(&"n".repeat(29), 10, 64).create(),
            "a name has 1 to 28 bytes",
        ),
        (
            Mempool::builder("zero", 0, 64).create(),
            "at least one object",
        ),
        (Mempool::builder("zsize", 10, 0).create(), "object size 0"),
        (
            Mempool::builder("bigcache", 2000, 64)
                .cache_size(513)
                .create(),
            "cache size 513 is above the maximum 512",
        ),
        (
            Mempool::builder("smallpool", 100, 64)
                .cache_size(128)
                .create(),
            "cache size 128 needs at least 192 objects",
        ),
    ];
    for (r, want) in cases {
        let e = r.unwrap_err().to_string();
        assert!(e.contains(want), "got {e}, want {want}");
    }
    let p = Mempool::builder("dup", 10, 64).create().unwrap();
    assert!(matches!(
        Mempool::builder("dup", 10, 64).create(),
        Err(Error::Exists(_))
    ));
    assert_eq!(Mempool::lookup("dup").unwrap().as_raw(), p.as_raw());
    p.free();
    assert!(Mempool::lookup("dup").is_none());
    assert!(
        Mempool::builder("dup", 10, 64).create().is_ok(),
        "the name is free again"
    );
    Mempool::lookup("dup").unwrap().free();
}

#[test]
fn get_put_and_exhaustion_on_every_backing() {
    let _s = serial();
    let _eal = init(&[]);
    for ops in Ops::ALL {
        for cache in [0u32, 32] {
            let name = format!("gp_{ops}_{cache}");
            let mut inits = Vec::new();
            let b = Mempool::builder(&name, 64, 100)
                .ops(ops)
                .cache_size(cache)
                .obj_init(|obj, i, _| {
                    obj[0] = i as u8;
                    inits.push(i);
                });
            // SAFETY: only this thread uses the pool.
            let pool = unsafe { create_any(b) };
            assert_eq!(
                inits,
                (0..64).collect::<Vec<_>>(),
                "obj_init once per object"
            );
            assert_eq!(
                (pool.size(), pool.avail_count(), pool.in_use_count()),
                (64, 64, 0)
            );
            assert!(pool.is_full());

            // Bulk gets are all or nothing, and exhaustion is an error, not a block.
            let mut first = null::<40>();
            pool.get_bulk(&mut first).unwrap();
            let mut too_many = null::<25>();
            assert_eq!(pool.get_bulk(&mut too_many), Err(Exhausted));
            assert_eq!(
                pool.in_use_count(),
                40,
                "{ops} cache {cache}: a failed get takes nothing"
            );
            let mut singles = Vec::new();
            while let Ok(o) = pool.get() {
                singles.push(o.as_ptr());
            }
            assert_eq!(
                singles.len(),
                24,
                "{ops} cache {cache}: every object can be had"
            );
            assert!(pool.is_empty());
            assert_eq!(pool.get(), Err(Exhausted));

            // Each object once, each is ours, each keeps its index and init.
            let all: HashSet<*mut u8> = first.iter().chain(singles.iter()).copied().collect();
            assert_eq!(all.len(), 64);
            for &o in &all {
                let i = pool.index_of(o).expect("an object of the pool");
                // SAFETY: we own the object.
                assert_eq!(unsafe { *o }, i as u8);
                assert_eq!(pool.obj(i), Some(o));
            }
            assert_eq!(
                pool.index_of(first[0].wrapping_add(1)),
                None,
                "not an object start"
            );
            let outside = [0u8; 8];
            assert_eq!(pool.index_of(outside.as_ptr()), None);

            // SAFETY: all objects came from the pool and are given back once.
            unsafe {
                pool.put_bulk(&first);
                singles.iter().for_each(|&o| pool.put(o));
            }
            assert_eq!(pool.avail_count(), 64);
            pool.audit().unwrap();
            pool.free();
        }
    }
}

/// One-object gets and puts take their own path through the lcore cache: the most recent put
/// comes back first, a put past the flush threshold and a get from an empty cache go to the
/// backing, exhaustion is an error, and the counters see every call.
#[test]
fn single_gets_and_puts_through_the_lcore_cache() {
    let _s = serial();
    let _eal = init(&[]);
    for ops in Ops::ALL {
        // Cache 8: flush threshold 12, refills to 8.
        let b = Mempool::builder(&format!("one_{ops}"), 40, 64)
            .ops(ops)
            .cache_size(8)
            .stats(true);
        // SAFETY: only this thread uses the pool.
        let pool = unsafe { create_any(b) };
        let mut got = Vec::new();
        while let Ok(o) = pool.get() {
            got.push(o.as_ptr());
        }
        assert_eq!(got.len(), 40, "{ops}: every object, through refills");
        assert_eq!(got.iter().collect::<HashSet<_>>().len(), 40);
        assert_eq!(pool.get(), Err(Exhausted));
        // SAFETY: objects of the pool, each given back once.
        unsafe { got.iter().for_each(|&o| pool.put(o)) };
        assert_eq!(pool.avail_count(), 40, "{ops}: flushes lost nothing");
        let last = *got.last().unwrap();
        assert_eq!(
            pool.get().unwrap().as_ptr(),
            last,
            "{ops}: the warmest first"
        );
        // SAFETY: as above.
        unsafe { pool.put(last) };
        let s = pool.stats().unwrap();
        assert_eq!(
            (s.get_success_objs, s.get_fail_bulk, s.put_objs),
            (41, 2, 41),
            "{ops}"
        );
        pool.audit().unwrap();
        pool.free();
    }
}

#[test]
fn audits_find_leaks_and_double_puts() {
    let _s = serial();
    let _eal = init(&[]);
    for ops in Ops::ALL {
        let b = Mempool::builder(&format!("audit_{ops}"), 32, 64)
            .ops(ops)
            .cache_size(8);
        // SAFETY: only this thread uses the pool.
        let pool = unsafe { create_any(b) };
        let leaked = pool.get().unwrap().as_ptr();
        let e = pool.audit().unwrap_err().to_string();
        assert!(e.contains("1 of 32 objects are not back"), "{e}");
        // SAFETY: deliberately returning an object twice, to see the audit catch it.
        unsafe {
            pool.put(leaked);
            pool.put(leaked);
        }
        let e = pool.audit().unwrap_err().to_string();
        assert!(e.contains("is free twice"), "{ops}: {e}");
        pool.free();
    }
}

#[test]
fn owned_objects_and_iteration() {
    let _s = serial();
    let _eal = init(&[]);
    let pool = Mempool::builder("owned", 16, 32)
        .stats(true)
        .create()
        .unwrap();
    {
        let mut a = pool.alloc().unwrap();
        a[31] = 9;
        assert_eq!(a.len(), 32);
        assert_eq!(pool.in_use_count(), 1);
        assert_eq!(a.iova(), a.as_ptr() as u64, "VA mode");
        assert_eq!(pool.virt2iova(a.as_ptr()), Some(a.as_ptr() as u64));
    }
    assert_eq!(pool.in_use_count(), 0, "returned on drop");
    let mut n = 0;
    let (mem, mem_len) = pool.memory();
    pool.for_each_obj(|o, i| {
        assert_eq!(pool.index_of(o), Some(i));
        let off = o as usize - mem as usize;
        assert!(off + 32 <= mem_len, "object {i} inside the pool's memory");
        assert_eq!(o as usize % 64, 0, "cache-line aligned");
        n += 1;
    });
    assert_eq!(n, 16);
    let s = pool.stats().unwrap();
    assert_eq!(
        (s.get_success_bulk, s.get_success_objs, s.put_objs),
        (1, 1, 1)
    );
    assert!(pool.get_bulk(&mut null::<17>()).is_err());
    assert_eq!(pool.stats().unwrap().get_fail_objs, 17);
    let mut dump = Vec::new();
    pool.dump(&mut dump).unwrap();
    let dump = String::from_utf8(dump).unwrap();
    for want in [
        "mempool <owned>",
        "size=16",
        "elt_size=32",
        "pool ops=ring_mp_mc",
        "get_fail_objs=17",
        "in_use_count=0",
    ] {
        assert!(dump.contains(want), "dump lacks {want}:\n{dump}");
    }
    pool.audit().unwrap();
    pool.free();
}

#[test]
fn objects_are_spread_over_channels_unless_asked_not_to() {
    let _s = serial();
    let _eal = init(&["-n", "4"]);
    let spread = Mempool::builder("spread", 8, 2240).create().unwrap();
    let tight = Mempool::builder("tight", 8, 2240)
        .flags(MempoolFlags::NO_SPREAD)
        .create()
        .unwrap();
    assert_eq!(
        spread.obj_size().total_size,
        64 + 2240 + 64,
        "37 lines, coprime with 4"
    );
    assert_eq!(tight.obj_size().total_size, 64 + 2240, "36 lines");
    let distance = spread.obj(1).unwrap() as usize - spread.obj(0).unwrap() as usize;
    assert_eq!(distance, spread.obj_size().total_size);
    spread.free();
    tight.free();
}

/// Lcores allocate on one lcore and free on the other, through each other's caches; nothing is
/// lost or duplicated.
#[test]
fn lcores_share_objects_through_their_caches() {
    let _s = serial();
    let eal = init(&[]);
    for ops in MT_OPS {
        let pool = Mempool::builder(&format!("xlc_{ops}"), 4096, 64)
            .ops(ops)
            .cache_size(256)
            .create()
            .unwrap();
        let (to_main, from_worker) = mpsc::sync_channel::<Vec<usize>>(64);
        let (to_worker, from_main) = mpsc::sync_channel::<Vec<usize>>(64);
        let rounds = 2000;
        eal.scope(|s| {
            let p = &pool;
            let worker = s
                .launch(1, move || {
                    let mut burst = null::<32>();
                    for r in 0..rounds {
                        p.get_bulk(&mut burst).expect("worker get");
                        to_main
                            .send(burst.iter().map(|o| *o as usize).collect())
                            .unwrap();
                        let back = from_main.recv().unwrap();
                        let back: Vec<*mut u8> = back.into_iter().map(|o| o as *mut u8).collect();
                        // SAFETY: objects of the pool, allocated on lcore 0 and handed to us; each
                        // goes back once, in two bulks of varying size.
                        unsafe {
                            p.put_bulk(&back[..(r % 32) + 1]);
                            p.put_bulk(&back[(r % 32) + 1..]);
                        }
                    }
                })
                .unwrap();
            let mut burst = null::<32>();
            for _ in 0..rounds {
                let got = from_worker.recv().unwrap();
                pool.get_bulk(&mut burst).expect("main get");
                to_worker
                    .send(burst.iter().map(|o| *o as usize).collect())
                    .unwrap();
                let got: Vec<*mut u8> = got.into_iter().map(|o| o as *mut u8).collect();
                // SAFETY: objects allocated on lcore 1 and handed to us.
                unsafe { pool.put_bulk(&got) };
            }
            worker.join().unwrap();
        });
        assert_eq!(pool.in_use_count(), 0);
        pool.audit().unwrap();
        pool.free();
    }
}

/// A thread that is not an EAL lcore uses a user cache; it flushes when dropped.
#[test]
fn user_caches_for_other_threads() {
    let _s = serial();
    let _eal = init(&[]);
    let pool = Mempool::builder("ucache", 1024, 64)
        .cache_size(64)
        .create()
        .unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            assert!(rpdk_eal::lcore::id().is_none());
            let mut cache = pool.create_cache(64).unwrap();
            let mut burst = null::<16>();
            for _ in 0..100 {
                pool.get_bulk_with_cache(&mut cache, &mut burst).unwrap();
                // SAFETY: objects of the pool, given back once.
                unsafe { pool.put_bulk_with_cache(&mut cache, &burst) };
            }
            assert!(!cache.is_empty());
            assert_eq!(cache.size(), 64);
            assert!(pool.create_cache(0).is_err());
        });
    });
    assert_eq!(pool.in_use_count(), 0, "the user cache flushed on drop");
    pool.audit().unwrap();
    pool.free();
}

/// Auditing while a worker runs is refused instead of racing with it.
#[test]
fn audit_refuses_a_busy_eal() {
    let _s = serial();
    let eal = init(&[]);
    let pool = Mempool::builder("busy", 64, 64).create().unwrap();
    let (tx, rx) = mpsc::channel::<()>();
    eal.remote_launch(1, move || {
        rx.recv().unwrap();
        0
    })
    .unwrap();
    let e = pool.audit().unwrap_err().to_string();
    assert!(e.contains("lcore 1 is running"), "{e}");
    tx.send(()).unwrap();
    eal.wait_lcore(1).unwrap();
    pool.audit().unwrap();
    let p = pool.clone();
    let e = std::thread::spawn(move || p.audit().unwrap_err().to_string())
        .join()
        .unwrap();
    assert!(e.contains("main lcore"), "{e}");
    pool.free();
}

/// A pool dropped with objects out keeps its memory: the objects stay valid and can go back.
#[test]
fn dropping_a_pool_with_objects_out_keeps_it_alive() {
    let _s = serial();
    let _eal = init(&[]);
    let pool = Mempool::builder("orphan", 8, 64).create().unwrap();
    let obj = pool.get().unwrap().as_ptr();
    let raw = pool.as_raw();
    pool.free();
    // SAFETY: the object is still ours and its pool state is kept while it is out.
    unsafe {
        obj.write_bytes(0xab, 64);
        assert_eq!(*obj.add(63), 0xab);
        (*raw).put(obj);
        assert_eq!((*raw).in_use_count(), 0);
    }
}

/// Ops with a single-thread side need the unsafe constructor; the flags pick DPDK's rings.
#[test]
fn single_thread_ops_and_flags() {
    let _s = serial();
    let _eal = init(&[]);
    for ops in [Ops::RingSpSc, Ops::RingMpSc, Ops::RingSpMc] {
        let e = Mempool::builder("st", 64, 64)
            .ops(ops)
            .create()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("ops {ops} has a single-thread side")),
            "{e}"
        );
    }
    let e = Mempool::builder("st", 64, 64)
        .flags(MempoolFlags::SC_GET)
        .create()
        .unwrap_err()
        .to_string();
    assert!(e.contains("ops ring_mp_sc has a single-thread side"), "{e}");
    assert!(Mempool::lookup("st").is_none(), "nothing registered");

    for (flags, want) in [
        (MempoolFlags::empty(), Ops::RingMpMc),
        (MempoolFlags::SP_PUT, Ops::RingSpMc),
        (MempoolFlags::SC_GET, Ops::RingMpSc),
        (MempoolFlags::SP_PUT | MempoolFlags::SC_GET, Ops::RingSpSc),
    ] {
        let b = Mempool::builder("flags", 64, 64).flags(flags);
        // SAFETY: the pool is only created and freed.
        let pool = unsafe { create_any(b) };
        assert_eq!(pool.ops(), want, "{flags:?}");
        pool.free();
    }
    // Explicit ops win over the flags, as rte_mempool_set_ops_byname after creation.
    let b = Mempool::builder("flags", 64, 64)
        .flags(MempoolFlags::SP_PUT)
        .ops(Ops::Stack);
    // SAFETY: the pool is only created and freed.
    let pool = unsafe { create_any(b) };
    assert_eq!(pool.ops(), Ops::Stack);
    pool.free();

    assert_eq!("ring_mt_hts".parse::<Ops>(), Ok(Ops::RingMtHts));
    let e = "ring".parse::<Ops>().unwrap_err();
    assert!(
        e.contains("unknown mempool ops 'ring' (known: ring_mp_mc, ring_sp_sc"),
        "{e}"
    );
}

/// An SP/SC pool used as its contract says: lcore 1 only gets, lcore 0 only puts; every
/// object comes back once.
#[test]
fn sp_sc_pool_between_two_lcores() {
    let _s = serial();
    let eal = init(&[]);
    for cache in [0, 64] {
        let b = Mempool::builder(&format!("spsc_{cache}"), 1024, 64)
            .flags(MempoolFlags::SP_PUT | MempoolFlags::SC_GET)
            .cache_size(cache);
        // SAFETY: below, only lcore 1 gets and only lcore 0 puts (cache refills are gets on
        // lcore 1, flushes are puts on lcore 0).
        let pool = unsafe { create_any(b) };
        assert_eq!(pool.ops(), Ops::RingSpSc);
        let (tx, rx) = mpsc::sync_channel::<Vec<usize>>(8);
        let rounds = 5000;
        eal.scope(|s| {
            let p = &pool;
            let getter = s
                .launch(1, move || {
                    let mut burst = null::<16>();
                    let mut got = 0u64;
                    for _ in 0..rounds {
                        while p.get_bulk(&mut burst).is_err() {
                            std::hint::spin_loop();
                        }
                        got += burst.len() as u64;
                        tx.send(burst.iter().map(|&o| o as usize).collect())
                            .unwrap();
                    }
                    got
                })
                .unwrap();
            let mut seen = std::collections::HashSet::new();
            for _ in 0..rounds {
                let objs: Vec<*mut u8> = rx
                    .recv()
                    .unwrap()
                    .into_iter()
                    .map(|o| o as *mut u8)
                    .collect();
                for &o in &objs {
                    assert!(pool.index_of(o).is_some(), "an object of the pool");
                    seen.insert(o as usize);
                }
                // SAFETY: objects lcore 1 got and handed over; each goes back once.
                unsafe { pool.put_bulk(&objs) };
            }
            assert_eq!(getter.join().unwrap(), rounds * 16);
            assert!(seen.len() > 16, "objects circulate");
        });
        pool.flush_lcore_cache();
        assert_eq!(pool.in_use_count(), 0);
        pool.audit().unwrap();
        pool.free();
    }
}

/// The lcore's cache found once serves gets and puts as the implicit path does; there is none
/// off EAL lcores or without a cache.
#[test]
fn default_cache_is_the_lcores_own() {
    let _s = serial();
    let _eal = init(&[]);
    let pool = Mempool::builder("dcache", 1024, 64)
        .cache_size(64)
        .stats(true)
        .create()
        .unwrap();
    let cache = pool.default_cache().expect("lcore 0 has a cache");
    let mut burst = null::<32>();
    cache.get_bulk(&mut burst).unwrap();
    assert_eq!(pool.in_use_count(), 32);
    assert_eq!(
        cache.len(),
        64 + 32 - 32,
        "refilled to size plus the request, then served"
    );
    // SAFETY: the objects just got, back once.
    unsafe { cache.put_bulk(&burst) };
    assert_eq!((cache.len(), pool.in_use_count()), (96, 0));
    assert!(
        cache
            .get_bulk(&mut vec![std::ptr::null_mut(); 2000])
            .is_err()
    );
    let s = pool.stats().unwrap();
    assert_eq!(
        (s.get_success_objs, s.put_objs, s.get_fail_objs),
        (32, 32, 2000)
    );
    std::thread::scope(|s| {
        s.spawn(|| assert!(pool.default_cache().is_none(), "not an EAL thread"));
    });
    let uncached = Mempool::builder("dcache0", 64, 64).create().unwrap();
    assert!(uncached.default_cache().is_none());
    uncached.free();
    pool.flush_lcore_cache();
    pool.audit().unwrap();
    pool.free();
}

#[test]
fn telemetry_lists_and_describes_pools() {
    use rpdk_eal::telemetry::{self, Client};
    let _s = serial();
    let prefix = rpdk_testsupport::unique_prefix("mptel");
    let eal = init(&["--file-prefix", &prefix]);
    let pool = Mempool::builder("tel_pool", 1024, 100)
        .cache_size(32)
        .ops(Ops::Stack)
        .create()
        .unwrap();
    let mut taken = null::<10>();
    pool.get_bulk(&mut taken).unwrap();
    let mut c = Client::connect(&telemetry::socket_path().unwrap()).unwrap();
    assert!(
        c.request("/mempool/list")
            .unwrap()
            .contains(r#""tel_pool""#)
    );
    let size = pool.obj_size();
    let info = c.request("/mempool/info,tel_pool").unwrap();
    let want = format!(
        r#"{{"/mempool/info":{{"name":"tel_pool","pool_id":{},"flags":0,"socket_id":0,"size":1024,"cache_size":32,"elt_size":100,"header_size":{},"trailer_size":{},"private_data_size":0,"ops_index":6,"populated_size":1024,"total_cache_count":"#,
        pool.as_raw() as u64,
        size.header_size,
        size.trailer_size
    );
    assert!(info.starts_with(&want), "{info}\n{want}");
    assert!(
        info.contains(r#""mz_name":"MP_tel_pool","mz_len":"#),
        "{info}"
    );
    // The free objects, wherever they are, are the pool's less the ten taken.
    let count = |key: &str| -> u32 {
        let at = info.find(&format!("\"{key}\":")).unwrap() + key.len() + 3;
        info[at..]
            .split([',', '}'])
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(
        count("total_cache_count") + count("common_pool_count"),
        1024 - 10
    );
    assert_eq!(
        c.request("/mempool/info,nosuch").unwrap(),
        r#"{"/mempool/info":{}}"#
    );
    assert_eq!(
        c.request("/mempool/info").unwrap(),
        r#"{"/mempool/info":null}"#
    );
    for obj in taken {
        // SAFETY: each object came from this pool and goes back once.
        unsafe { pool.put(obj) };
    }
    pool.audit().unwrap();
    pool.free();
    drop(eal);
}
