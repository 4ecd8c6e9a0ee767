//! `mempool_perf`: a fixed subset of DPDK's `mempool_perf_autotest` (22.11) and pktmbuf
//! alloc/free loops on rpdk, printing the rows `scripts/bench/mempool_perf.c` prints for DPDK.
//!
//! ```text
//! mempool_perf -l 0,1 --file-prefix perf [-- [--ms MS] [--ops OPS]]
//! ```
//!
//! - mempool: cache 0 and 512, 1 and 2 cores, get and put in bulks of 1, 4 and 32 while keeping
//!   128 objects, as the autotest's loop: each core finds its cache once (`default_cache`, as
//!   `rte_mempool_default_cache`), gets 128 objects by bulks, then puts them back by bulks, for
//!   `MS` milliseconds (2000 by default). One line as the autotest prints
//!   it (`rate_persec`: objects got and put per second, all cores), then a row: cycles of one
//!   core per object.
//! - mbuf: `PktmbufPool::alloc` + drop one at a time, and `alloc_bulk` + freeing the burst by
//!   8 and 32, with cache 256 and 0, on one core: cycles per mbuf.
//!
//! `--ops` picks the pools' backing store (the default is the pools' default, as DPDK's).
//! Rows are `row<TAB>case<TAB>unit<TAB>better<TAB>value`.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};

use rpdk_eal::Eal;
use rpdk_eal::time::{rdtsc, rdtsc_precise, tsc_hz};
use rpdk_mbuf::{MbufBurst, PktmbufPool};
use rpdk_mempool::{CACHE_MAX_SIZE, Mempool, Ops};

const N_PER_LOOP: u64 = 65536;
const KEEP: usize = 128;
const ELT_SIZE: usize = 2048;

/// One core's loop: for `ms` milliseconds, get `KEEP` objects by `bulk`, put them back by
/// `bulk`; objects got (and put) in all.
fn worker(pool: &Mempool, bulk: usize, ms: u64, go: &AtomicBool) -> u64 {
    let mut objs = [std::ptr::null_mut::<u8>(); KEEP];
    let bulk = black_box(bulk);
    let window = tsc_hz() * ms / 1000;
    while !go.load(Ordering::Acquire) {
        std::hint::spin_loop();
    }
    // As the autotest: the lcore's cache is found once (none with cache 0: the backing).
    let cache = pool.default_cache();
    let start = rdtsc();
    let mut count = 0;
    while rdtsc() - start < window {
        for _ in 0..N_PER_LOOP / KEEP as u64 {
            for chunk in objs.chunks_mut(bulk) {
                let got = match &cache {
                    Some(c) => c.get_bulk(chunk),
                    None => pool.get_bulk(chunk),
                };
                got.expect("the pool holds every core's objects");
            }
            for chunk in objs.chunks(bulk) {
                // SAFETY: these objects were just got from `pool` and are put back once.
                unsafe {
                    match &cache {
                        Some(c) => c.put_bulk(chunk),
                        None => pool.put_bulk(chunk),
                    }
                }
            }
        }
        count += N_PER_LOOP;
    }
    count
}

fn mempool_case(eal: &Eal, pool: &Mempool, cores: usize, bulk: usize, ms: u64) {
    let go = AtomicBool::new(false);
    let total: u64 = eal.scope(|s| {
        let others: Vec<_> = eal
            .workers()
            .into_iter()
            .take(cores - 1)
            .map(|w| {
                s.launch(w, || worker(pool, bulk, ms, &go))
                    .expect("launching a worker")
            })
            .collect();
        go.store(true, Ordering::Release);
        let mine = worker(pool, bulk, ms, &go);
        mine + others
            .into_iter()
            .map(|h| h.join().expect("a worker lcore"))
            .sum::<u64>()
    });
    let rate = total * 1000 / ms;
    let cache = pool.cache_size();
    println!(
        "mempool_autotest cache={cache} cores={cores} n_get_bulk={bulk} n_put_bulk={bulk} \
         n_keep={KEEP} constant_n=0 rate_persec={rate}"
    );
    println!(
        "row\tmempool cache={cache} cores={cores} bulk={bulk} keep={KEEP}\tcycles/obj\tlower\t{:.2}",
        tsc_hz() as f64 * cores as f64 / rate as f64
    );
}

/// Cycles per mbuf of alloc + free, one at a time (`bulk` 0) or by `bulk`.
fn mbuf_case(pool: &PktmbufPool, bulk: usize) {
    let per_iter = bulk.max(1) as u64;
    let iters = 4_000_000 / per_iter;
    let mut burst = MbufBurst::<32>::new();
    let start = rdtsc_precise();
    for _ in 0..iters {
        if bulk == 0 {
            // No `black_box` around the mbuf, as the C loop has none: allocation and free
            // write pool memory, so neither can be left out, and a `black_box` would add a
            // store and a reload to the chain from one iteration to the next.
            drop(pool.alloc().expect("an mbuf"));
        } else {
            pool.alloc_bulk(&mut burst, black_box(bulk)).expect("mbufs");
            burst.clear();
        }
    }
    let per = (rdtsc_precise() - start) as f64 / (iters * per_iter) as f64;
    let cache = pool.mempool().cache_size();
    let what = match bulk {
        0 => "single".to_string(),
        n => format!("bulk {n}"),
    };
    println!("row\tmbuf cache={cache} alloc+free {what}\tcycles/mbuf\tlower\t{per:.2}");
}

/// The value after `flag` in `args`, parsed.
fn flag<T: std::str::FromStr>(args: &[String], flag: &str) -> Result<Option<T>, String>
where
    T::Err: std::fmt::Display,
{
    match args.iter().position(|a| a == flag) {
        None => Ok(None),
        Some(i) => {
            let v = args.get(i + 1).ok_or(format!("{flag} needs a value"))?;
            v.parse()
                .map(Some)
                .map_err(|e| format!("invalid value '{v}' for {flag}: {e}"))
        }
    }
}

fn main() {
    let (eal, args) = match rpdk_eal::init(std::env::args()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("mempool_perf: {e}");
            std::process::exit(e.exit_code());
        }
    };
    let parsed = flag::<u64>(&args, "--ms").and_then(|ms| Ok((ms, flag::<Ops>(&args, "--ops")?)));
    let (ms, ops) = match parsed {
        Ok((ms, ops)) => (ms.unwrap_or(2000).max(1), ops.unwrap_or_default()),
        Err(e) => {
            eprintln!("mempool_perf: {e}");
            std::process::exit(2);
        }
    };
    println!("mempool_perf: ops {ops}, {ms} ms per case");

    let lcores = eal.lcore_count();
    // DPDK's MEMPOOL_SIZE, for at least two lcores (a cache of 512 needs 768 objects).
    let size = lcores.max(2) * (KEEP as u32 + CACHE_MAX_SIZE) - 1;
    for cache in [0, CACHE_MAX_SIZE] {
        let pool = Mempool::builder(&format!("perf_{cache}"), size, ELT_SIZE)
            .cache_size(cache)
            .ops(ops)
            .create()
            .expect("creating the mempool");
        for cores in 1..=lcores.min(2) as usize {
            for bulk in [1, 4, 32] {
                mempool_case(&eal, &pool, cores, bulk, ms);
            }
        }
        pool.free();
    }

    for cache in [256, 0] {
        let pool = PktmbufPool::create_with_ops(
            &format!("mbuf_{cache}"),
            8191,
            cache,
            0,
            rpdk_mbuf::MBUF_DEFAULT_BUF_SIZE,
            None,
            ops,
        )
        .expect("creating the pktmbuf pool");
        for bulk in [0, 8, 32] {
            mbuf_case(&pool, bulk);
        }
        pool.audit().expect("every mbuf back in the pool");
        pool.free();
    }
}
