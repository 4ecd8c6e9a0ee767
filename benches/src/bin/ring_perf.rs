//! `ring_perf`: DPDK's `ring_perf_autotest` (22.11) on rpdk-ring, with the same cases, labels
//! and units, plus rows for the RTS and HTS modes, for the run-time-mode `Ring` (the mempool
//! path), and for two other Rust rings (crossbeam's `ArrayQueue`, `rtrb`) doing the same work.
//!
//! ```text
//! ring_perf -l 0,1 --file-prefix perf [-- [--quick] [--only SECTIONS]]
//! ```
//!
//! `--quick` divides iteration counts by 256; `--only` runs the comma-separated sections of
//! `single,burst,bulk,empty,two-cores,all-lcores,others`.
//!
//! What each row measures, as DPDK's test does (TSC cycles):
//! - `single`: one enqueue plus one dequeue of one element, per iteration (2^24 iterations);
//! - `burst`/`bulk (size: n)` on one lcore: one enqueue plus one dequeue of `n` elements, per
//!   iteration (2^23 iterations);
//! - empty bulk dequeue: one failing bulk dequeue of 8 from an empty ring, per call (2^26);
//! - two physical cores (or two hyperthreads, or two NUMA nodes, as the two lcores are placed):
//!   one lcore enqueues, the other dequeues, bulks of `n` (2^15 each);
//!   the enqueuer's cycles per element plus the dequeuer's cycles per element;
//! - all worker nodes: on every lcore, bulk enqueue plus dequeue for 100 ms; the count of
//!   iterations per lcore and in total.
//!
//! Every ring is a named ring of 4096 slots in an EAL memzone (hugepages), as DPDK's
//! `RING_PERF`; burst sizes go through `black_box` as DPDK's are `volatile`.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use rpdk_eal::Eal;
use rpdk_eal::time::{rdtsc, tsc_hz};
use rpdk_ring::{
    Consumer, ConsumerMode, Mc, McHts, McRts, Mp, MpHts, MpRts, Producer, ProducerMode, Ring,
    RingFlags, Sc, Sp,
};

const RING_NAME: &str = "RING_PERF";
const RING_SIZE: u32 = 4096;
const MAX_BURST: usize = 32;
const BULK_SIZES: [usize; 2] = [8, 32];

/// DPDK's 16-byte element (`rte_int128_t`-sized).
#[derive(Clone, Copy, Default, Debug, PartialEq)]
#[repr(C, align(16))]
struct Elem16([u64; 2]);

/// An element type under test.
trait Elem: Copy + Send + Default + 'static {}
impl Elem for usize {}
impl Elem for Elem16 {}

/// Iteration counts (divided by 2^8 with `--quick`) and the sections asked for (`--only`).
#[derive(Clone, Copy)]
struct Iters {
    quick: u32,
    only: Option<&'static str>,
}

impl Iters {
    fn n(self, shift: u32) -> u64 {
        1u64 << shift.saturating_sub(self.quick)
    }

    /// Whether section `name` runs (all of them without `--only`).
    fn wants(self, name: &str) -> bool {
        self.only
            .is_none_or(|list| list.split(',').any(|s| s == name))
    }
}

/// The enqueue side of something under test.
trait Enq<T>: Send {
    fn enq1(&mut self, v: T) -> bool;
    fn enq_bulk(&mut self, s: &[T]) -> usize;
    fn enq_burst(&mut self, s: &[T]) -> usize;
}

/// The dequeue side of something under test.
trait Deq<T>: Send {
    fn deq1(&mut self) -> Option<T>;
    fn deq_bulk(&mut self, s: &mut [T]) -> usize;
    fn deq_burst(&mut self, s: &mut [T]) -> usize;
}

impl<T: Elem, M: ProducerMode> Enq<T> for Producer<T, M> {
    #[inline(always)]
    fn enq1(&mut self, v: T) -> bool {
        self.enqueue(v).is_ok()
    }
    #[inline(always)]
    fn enq_bulk(&mut self, s: &[T]) -> usize {
        self.enqueue_bulk(s).count
    }
    #[inline(always)]
    fn enq_burst(&mut self, s: &[T]) -> usize {
        self.enqueue_burst(s).count
    }
}

impl<T: Elem, M: ConsumerMode> Deq<T> for Consumer<T, M> {
    #[inline(always)]
    fn deq1(&mut self) -> Option<T> {
        self.dequeue()
    }
    #[inline(always)]
    fn deq_bulk(&mut self, s: &mut [T]) -> usize {
        self.dequeue_bulk(s).count
    }
    #[inline(always)]
    fn deq_burst(&mut self, s: &mut [T]) -> usize {
        self.dequeue_burst(s).count
    }
}

/// crossbeam's MPMC `ArrayQueue`: one element at a time, so a "bulk" is a loop.
struct Crossbeam<T>(Arc<crossbeam_queue::ArrayQueue<T>>);

impl<T: Elem> Enq<T> for Crossbeam<T> {
    #[inline(always)]
    fn enq1(&mut self, v: T) -> bool {
        self.0.push(v).is_ok()
    }
    #[inline(always)]
    fn enq_bulk(&mut self, s: &[T]) -> usize {
        if self.0.capacity() - self.0.len() < s.len() {
            return 0;
        }
        self.enq_burst(s)
    }
    #[inline(always)]
    fn enq_burst(&mut self, s: &[T]) -> usize {
        let mut n = 0;
        for &v in s {
            if self.0.push(v).is_err() {
                break;
            }
            n += 1;
        }
        n
    }
}

impl<T: Elem> Deq<T> for Crossbeam<T> {
    #[inline(always)]
    fn deq1(&mut self) -> Option<T> {
        self.0.pop()
    }
    #[inline(always)]
    fn deq_bulk(&mut self, s: &mut [T]) -> usize {
        if self.0.len() < s.len() {
            return 0;
        }
        self.deq_burst(s)
    }
    #[inline(always)]
    fn deq_burst(&mut self, s: &mut [T]) -> usize {
        let mut n = 0;
        for slot in s.iter_mut() {
            match self.0.pop() {
                Some(v) => *slot = v,
                None => break,
            }
            n += 1;
        }
        n
    }
}

/// rtrb's SPSC ring with its chunk API for bulks.
impl<T: Elem> Enq<T> for rtrb::Producer<T> {
    #[inline(always)]
    fn enq1(&mut self, v: T) -> bool {
        self.push(v).is_ok()
    }
    #[inline(always)]
    fn enq_bulk(&mut self, s: &[T]) -> usize {
        match self.write_chunk_uninit(s.len()) {
            Ok(chunk) => chunk.fill_from_iter(s.iter().copied()),
            Err(_) => 0,
        }
    }
    #[inline(always)]
    fn enq_burst(&mut self, s: &[T]) -> usize {
        let n = s.len().min(self.slots());
        self.enq_bulk(&s[..n])
    }
}

impl<T: Elem> Deq<T> for rtrb::Consumer<T> {
    #[inline(always)]
    fn deq1(&mut self) -> Option<T> {
        self.pop().ok()
    }
    #[inline(always)]
    fn deq_bulk(&mut self, s: &mut [T]) -> usize {
        match self.read_chunk(s.len()) {
            Ok(chunk) => {
                let (a, b) = chunk.as_slices();
                s[..a.len()].copy_from_slice(a);
                s[a.len()..a.len() + b.len()].copy_from_slice(b);
                chunk.commit_all();
                s.len()
            }
            Err(_) => 0,
        }
    }
    #[inline(always)]
    fn deq_burst(&mut self, s: &mut [T]) -> usize {
        let n = s.len().min(self.slots());
        self.deq_bulk(&mut s[..n])
    }
}

/// The run-time-mode `Ring` (what a mempool uses), one thread at a time.
struct Runtime<T>(Ring<T>);

impl<T: Elem> Enq<T> for Runtime<T> {
    #[inline(always)]
    fn enq1(&mut self, v: T) -> bool {
        // SAFETY: one thread uses the ring at a time (this benchmark's loops).
        unsafe { self.0.enqueue(v).is_ok() }
    }
    #[inline(always)]
    fn enq_bulk(&mut self, s: &[T]) -> usize {
        // SAFETY: as in `enq1`.
        unsafe { self.0.enqueue_bulk(s).count }
    }
    #[inline(always)]
    fn enq_burst(&mut self, s: &[T]) -> usize {
        // SAFETY: as in `enq1`.
        unsafe { self.0.enqueue_burst(s).count }
    }
}

impl<T: Elem> Deq<T> for Runtime<T> {
    #[inline(always)]
    fn deq1(&mut self) -> Option<T> {
        // SAFETY: as in `enq1`.
        unsafe { self.0.dequeue() }
    }
    #[inline(always)]
    fn deq_bulk(&mut self, s: &mut [T]) -> usize {
        // SAFETY: as in `enq1`.
        unsafe { self.0.dequeue_bulk(s).count }
    }
    #[inline(always)]
    fn deq_burst(&mut self, s: &mut [T]) -> usize {
        // SAFETY: as in `enq1`.
        unsafe { self.0.dequeue_burst(s).count }
    }
}

/// A named ring in a memzone with typed handles, freed when dropped.
struct Named<T: Elem, P: ProducerMode, C: ConsumerMode> {
    tx: Producer<T, P>,
    rx: Consumer<T, C>,
}

fn named<T: Elem, P: ProducerMode, C: ConsumerMode>() -> Named<T, P, C> {
    let ring = Ring::<T>::create(
        RING_NAME,
        RING_SIZE,
        None,
        RingFlags::for_sync(P::SYNC, C::SYNC),
    )
    .expect("creating the ring");
    let tx = ring.producer::<P>().expect("producer handle");
    let rx = ring.consumer::<C>().expect("consumer handle");
    ring.free().expect("freeing the ring's name");
    Named { tx, rx }
}

/// Prints a row as DPDK's `test_ring_print_test_string`.
fn row(prefix: &str, mode: &str, what: &str, value: f64) {
    println!("{prefix}: {mode}: {what}: {value:.2}");
}

#[inline(never)]
fn single<T: Elem>(e: &mut impl Enq<T>, d: &mut impl Deq<T>, it: Iters) -> f64 {
    let n = it.n(24);
    let v = black_box(T::default());
    let start = rdtsc();
    for _ in 0..n {
        e.enq1(v);
        black_box(d.deq1());
    }
    (rdtsc() - start) as f64 / n as f64
}

#[inline(never)]
fn burst_bulk<T: Elem>(
    e: &mut impl Enq<T>,
    d: &mut impl Deq<T>,
    size: usize,
    bulk: bool,
    it: Iters,
) -> f64 {
    let n = it.n(23);
    let mut burst = [T::default(); MAX_BURST];
    let size = black_box(size);
    let start = rdtsc();
    for _ in 0..n {
        if bulk {
            e.enq_bulk(&burst[..size]);
            d.deq_bulk(&mut burst[..size]);
        } else {
            e.enq_burst(&burst[..size]);
            d.deq_burst(&mut burst[..size]);
        }
    }
    (rdtsc() - start) as f64 / n as f64
}

#[inline(never)]
fn empty_deq<T: Elem>(d: &mut impl Deq<T>, it: Iters) -> f64 {
    let n = it.n(26);
    let mut burst = [T::default(); MAX_BURST];
    let size = black_box(BULK_SIZES[0]);
    let start = rdtsc();
    for _ in 0..n {
        // The count is dropped, as DPDK's loop drops it: the head and tail are atomics, whose
        // loads stay; a `black_box` here would add a store and a reload of the ring.
        d.deq_bulk(&mut burst[..size]);
    }
    (rdtsc() - start) as f64 / n as f64
}

/// Spins until both sides have arrived (DPDK's `lcore_count` barrier).
fn meet(count: &AtomicU32) {
    count.fetch_add(1, Ordering::AcqRel);
    while count.load(Ordering::Acquire) < 2 {
        std::hint::spin_loop();
    }
}

/// One lcore enqueues (this one), a worker dequeues: cycles per element, summed.
fn two_cores<T: Elem>(
    eal: &Eal,
    worker: u32,
    e: &mut impl Enq<T>,
    d: &mut impl Deq<T>,
    size: usize,
    it: Iters,
) -> f64 {
    let n = it.n(15);
    let size = black_box(size);
    let count = AtomicU32::new(0);
    let per_elem = |start: u64| (rdtsc() - start) as f64 / (n as usize * size) as f64;
    eal.scope(|s| {
        let count = &count;
        let deq = s
            .launch(worker, move || {
                let mut burst = [T::default(); MAX_BURST];
                meet(count);
                let start = rdtsc();
                for _ in 0..n {
                    while d.deq_bulk(&mut burst[..size]) == 0 {
                        std::hint::spin_loop();
                    }
                }
                per_elem(start)
            })
            .expect("launching the dequeue lcore");
        let burst = [T::default(); MAX_BURST];
        meet(count);
        let start = rdtsc();
        for _ in 0..n {
            while e.enq_bulk(&burst[..size]) == 0 {
                std::hint::spin_loop();
            }
        }
        let enq = per_elem(start);
        enq + deq.join().expect("the dequeue lcore")
    })
}

/// Every lcore runs MP/MC bulk enqueue plus dequeue for 100 ms; iterations per lcore.
fn all_lcores<T: Elem>(eal: &Eal, size: usize) -> Vec<(u32, u64)> {
    let ring = Ring::<T>::create(RING_NAME, RING_SIZE, None, RingFlags::empty())
        .expect("creating the ring");
    let tx = ring.producer::<Mp>().expect("producer");
    let rx = ring.consumer::<Mc>().expect("consumer");
    let window = tsc_hz() / 10;
    let go = AtomicU32::new(0);
    let main = eal.main_lcore();
    let results = eal.run_on_lcores(|lcore| {
        let mut burst = [T::default(); MAX_BURST];
        let size = black_box(size);
        if lcore != main {
            while go.load(Ordering::Relaxed) == 0 {
                std::hint::spin_loop();
            }
        } else {
            go.store(1, Ordering::Relaxed);
        }
        let begin = rdtsc();
        let mut count = 0u64;
        while rdtsc() - begin < window {
            let _ = tx.enqueue_bulk(&burst[..size]);
            let _ = rx.dequeue_bulk(&mut burst[..size]);
            count += 1;
        }
        count
    });
    drop((tx, rx));
    ring.free().expect("freeing the ring");
    results
        .into_iter()
        .map(|(l, r)| (l, r.expect("an lcore of the all-lcores test")))
        .collect()
}

/// Single-lcore rows of one pair of sync modes.
fn one_lcore_rows<T: Elem, P: ProducerMode, C: ConsumerMode>(
    prefix: &str,
    mode: &str,
    section: Section,
    it: Iters,
) {
    let mut q = named::<T, P, C>();
    match section {
        Section::Single => row(prefix, mode, "single", single(&mut q.tx, &mut q.rx, it)),
        Section::Burst | Section::Bulk => {
            let bulk = matches!(section, Section::Bulk);
            for size in BULK_SIZES {
                let v = burst_bulk(&mut q.tx, &mut q.rx, size, bulk, it);
                let what = format!("{} (size: {size})", if bulk { "bulk" } else { "burst" });
                row(prefix, mode, &what, v);
            }
        }
        Section::Empty => row(
            prefix,
            mode,
            &format!("bulk (size: {})", BULK_SIZES[0]),
            empty_deq(&mut q.rx, it),
        ),
    }
}

#[derive(Clone, Copy)]
enum Section {
    Single,
    Burst,
    Bulk,
    Empty,
}

/// DPDK's `test_ring_perf_esize` for element type `T`, then RTS and HTS rows.
fn run_esize<T: Elem>(eal: &Eal, prefix: &str, it: Iters) {
    let sections = [
        (Section::Single, "### Testing single element enq/deq ###"),
        (Section::Burst, "### Testing burst enq/deq ###"),
        (Section::Bulk, "### Testing bulk enq/deq ###"),
        (Section::Empty, "### Testing empty bulk deq ###"),
    ];
    let names = ["single", "burst", "bulk", "empty"];
    for ((section, title), name) in sections.into_iter().zip(names) {
        if !it.wants(name) {
            continue;
        }
        println!("\n{title}");
        one_lcore_rows::<T, Sp, Sc>(prefix, "SP/SC", section, it);
        one_lcore_rows::<T, Mp, Mc>(prefix, "MP/MC", section, it);
        one_lcore_rows::<T, MpRts, McRts>(prefix, "MP_RTS/MC_RTS", section, it);
        one_lcore_rows::<T, MpHts, McHts>(prefix, "MP_HTS/MC_HTS", section, it);
    }

    let Some(&worker) = eal.workers().first() else {
        println!("\n(one lcore: no two-core or all-lcore tests; give -l 0,1)");
        return;
    };
    if it.wants("two-cores") {
        two_core_rows::<T>(eal, worker, prefix, it);
    }
    if it.wants("all-lcores") {
        all_lcore_rows::<T>(eal);
    }
}

/// How two lcores relate, as DPDK's test sorts them: the same physical core (hyperthreads),
/// two cores of one socket, or two sockets; the section title it prints.
fn pair_title(a: u32, b: u32) -> &'static str {
    let place = |lcore: u32| {
        let info = rpdk_eal::lcore::info(lcore)?;
        let cpu = info.cpuset.first()?;
        let core =
            std::fs::read_to_string(format!("/sys/devices/system/cpu/cpu{cpu}/topology/core_id"))
                .ok()?
                .trim()
                .parse::<u32>()
                .ok()?;
        Some((core, info.socket))
    };
    match (place(a), place(b)) {
        (Some((_, sa)), Some((_, sb))) if sa != sb => "two NUMA nodes",
        (Some((ca, _)), Some((cb, _))) if ca == cb => "two hyperthreads",
        _ => "two physical cores",
    }
}

/// The two-core rows of every mode pair.
fn two_core_rows<T: Elem>(eal: &Eal, worker: u32, prefix: &str, it: Iters) {
    println!(
        "\n### Testing using {} ###",
        pair_title(eal.main_lcore(), worker)
    );
    for size in BULK_SIZES {
        let what = format!("bulk (size: {size})");
        let mut q = named::<T, Sp, Sc>();
        row(
            prefix,
            "SP/SC",
            &what,
            two_cores(eal, worker, &mut q.tx, &mut q.rx, size, it),
        );
        drop(q);
        let mut q = named::<T, Mp, Mc>();
        row(
            prefix,
            "MP/MC",
            &what,
            two_cores(eal, worker, &mut q.tx, &mut q.rx, size, it),
        );
        drop(q);
        let mut q = named::<T, MpRts, McRts>();
        let v = two_cores(eal, worker, &mut q.tx, &mut q.rx, size, it);
        row(prefix, "MP_RTS/MC_RTS", &what, v);
        drop(q);
        let mut q = named::<T, MpHts, McHts>();
        let v = two_cores(eal, worker, &mut q.tx, &mut q.rx, size, it);
        row(prefix, "MP_HTS/MC_HTS", &what, v);
    }
}

/// DPDK's "all worker nodes" counts.
fn all_lcore_rows<T: Elem>(eal: &Eal) {
    println!("\n### Testing using all worker nodes ###");
    for size in BULK_SIZES {
        println!("\nBulk enq/dequeue count on size {size}");
        let counts = all_lcores::<T>(eal, size);
        for (lcore, c) in &counts {
            println!("Core [{lcore}] count = {c}");
        }
        let total: u64 = counts.iter().map(|(_, c)| c).sum();
        println!("Total count (size: {size}): {total}");
    }
}

/// The same single-lcore and two-core work on crossbeam's ArrayQueue and rtrb.
fn alternatives(eal: &Eal, it: Iters) {
    println!("\n### Testing other Rust rings and the run-time-mode Ring on the same work ###");
    let cb = || {
        let q = Arc::new(crossbeam_queue::ArrayQueue::<usize>::new(
            RING_SIZE as usize - 1,
        ));
        (Crossbeam(q.clone()), Crossbeam(q))
    };
    let rb = || rtrb::RingBuffer::<usize>::new(RING_SIZE as usize - 1);
    let (p, m) = ("crossbeam ArrayQueue", "MP/MC");
    let (mut e, mut d) = cb();
    row(p, m, "single", single(&mut e, &mut d, it));
    for size in BULK_SIZES {
        row(
            p,
            m,
            &format!("bulk (size: {size})"),
            burst_bulk(&mut e, &mut d, size, true, it),
        );
    }
    let (p2, m2) = ("rtrb", "SP/SC");
    let (mut e2, mut d2) = rb();
    row(p2, m2, "single", single(&mut e2, &mut d2, it));
    for size in BULK_SIZES {
        let v = burst_bulk(&mut e2, &mut d2, size, true, it);
        row(p2, m2, &format!("bulk (size: {size})"), v);
    }
    // The run-time-mode Ring on the same single-lcore work as the typed rows above.
    let p3 = "Ring with run-time modes";
    for (m3, flags) in [
        ("SP/SC", RingFlags::SP_ENQ | RingFlags::SC_DEQ),
        ("MP/MC", RingFlags::empty()),
    ] {
        let ring = Ring::<usize>::create(RING_NAME, RING_SIZE, None, flags).expect("ring");
        let (mut e3, mut d3) = (Runtime(ring.clone()), Runtime(ring.clone()));
        row(p3, m3, "single", single(&mut e3, &mut d3, it));
        for size in BULK_SIZES {
            let v = burst_bulk(&mut e3, &mut d3, size, true, it);
            row(p3, m3, &format!("bulk (size: {size})"), v);
        }
        ring.free().expect("freeing the ring");
    }
    let Some(&worker) = eal.workers().first() else {
        return;
    };
    println!(
        "\n### Testing other Rust rings using {} ###",
        pair_title(eal.main_lcore(), worker)
    );
    for size in BULK_SIZES {
        let what = format!("bulk (size: {size})");
        let (mut e, mut d) = cb();
        row(
            p,
            m,
            &what,
            two_cores(eal, worker, &mut e, &mut d, size, it),
        );
        let (mut e2, mut d2) = rb();
        row(
            p2,
            m2,
            &what,
            two_cores(eal, worker, &mut e2, &mut d2, size, it),
        );
    }
}

fn main() {
    let (eal, args) = match rpdk_eal::init(std::env::args()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("ring_perf: {e}");
            std::process::exit(e.exit_code());
        }
    };
    let quick = args.iter().any(|a| a == "--quick");
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|s| &*Box::leak(s.clone().into_boxed_str()));
    let it = Iters {
        quick: if quick { 8 } else { 0 },
        only,
    };
    println!("RTE>>ring_perf_autotest");
    run_esize::<usize>(&eal, "legacy APIs", it);
    run_esize::<Elem16>(&eal, "elem APIs: element size 16B", it);
    if it.wants("others") {
        alternatives(&eal, it);
    }
    println!("Test OK");
}
