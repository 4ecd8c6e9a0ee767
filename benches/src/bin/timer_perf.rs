//! `timer_perf`: DPDK's `timer_perf_autotest` (app/test/test_timer_perf.c) on rpdk-timer, step
//! for step, printing the same lines so that `scripts/bench/timer.sh` reads both alike.
//!
//! For N = 100, 1000, ..., 1,000,000 timers on the calling lcore: arm N single-shot timers one
//! second out (cycles per arm), wait a second, call `manage()` until every callback has run
//! (cycles per callback), re-arm them at random delays below a second (cycles per reset), wait
//! and check they all fire. Then the cost of `manage()` with no timer, and with one timer
//! pending far in the future.
//!
//! ```text
//! timer_perf -l 0 --file-prefix bench
//! ```

use std::process::ExitCode;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use rpdk_eal::{rdtsc, tsc_hz};
use rpdk_timer::{Expired, Timer, TimerType};

const MAX_ITERATIONS: usize = 1_000_000;

/// Callbacks still to run; only the main lcore touches it (DPDK's `outstanding_count`).
static OUTSTANDING: AtomicI64 = AtomicI64::new(0);

fn timer_cb(_: &Expired<'_>) {
    OUTSTANDING.store(OUTSTANDING.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
}

/// DPDK's `do_delay()` loop: `usleep(10)` until `ticks` have passed.
fn delay(ticks: u64) {
    let start = rdtsc();
    while rdtsc() < start + ticks {
        std::thread::sleep(Duration::from_micros(10));
    }
}

/// xoshiro256**, as DPDK's `rte_rand`.
struct Rand([u64; 4]);

impl Rand {
    fn new(seed: u64) -> Self {
        let mut s = seed;
        let mut next = || {
            s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Rand([next(), next(), next(), next()])
    }

    #[inline(always)]
    fn next(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }
}

fn report(what: &str, n: usize, cycles: u64, ticks_per_ms: u64, ticks_per_us: u64) {
    let per = cycles / n as u64;
    println!(
        "Time for {n} {what}s: {cycles} ({}ms), Time per {what}: {per} ({}us)",
        (cycles + ticks_per_ms / 2) / ticks_per_ms,
        (per + ticks_per_us / 2) / ticks_per_us.max(1)
    );
}

fn main() -> ExitCode {
    let (eal, _) = match rpdk_eal::init(std::env::args()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("timer_perf: {e}");
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    let lcore = eal.main_lcore();
    let tms: Vec<_> = (0..MAX_ITERATIONS).map(|_| Timer::new(timer_cb)).collect();
    let ticks = tsc_hz();
    let ticks_per_ms = tsc_hz() / 1000;
    let ticks_per_us = ticks_per_ms / 1000;
    let mut rand = Rand::new(rdtsc());
    let mut failed = 0usize;

    let mut iterations = 100;
    while iterations <= MAX_ITERATIONS {
        println!("Appending {iterations} timers");
        let start = rdtsc();
        for t in &tms[..iterations] {
            failed += t.reset(ticks, TimerType::Single, lcore).is_err() as usize;
        }
        let end = rdtsc();
        report("timer", iterations, end - start, ticks_per_ms, ticks_per_us);
        OUTSTANDING.store(iterations as i64, Ordering::Relaxed);
        delay(ticks);

        let start = rdtsc();
        while OUTSTANDING.load(Ordering::Relaxed) != 0 {
            rpdk_timer::manage();
        }
        let end = rdtsc();
        report(
            "callback",
            iterations,
            end - start,
            ticks_per_ms,
            ticks_per_us,
        );

        println!("Resetting {iterations} timers");
        let start = rdtsc();
        for t in &tms[..iterations] {
            failed += t
                .reset(rand.next() % ticks, TimerType::Single, lcore)
                .is_err() as usize;
        }
        let end = rdtsc();
        report("timer", iterations, end - start, ticks_per_ms, ticks_per_us);
        OUTSTANDING.store(iterations as i64, Ordering::Relaxed);
        delay(ticks);
        rpdk_timer::manage();
        let outstanding = OUTSTANDING.load(Ordering::Relaxed);
        if outstanding != 0 || failed != 0 {
            println!("Error: outstanding callback count = {outstanding}, failed resets = {failed}");
            return ExitCode::FAILURE;
        }
        iterations *= 10;
        println!();
    }
    println!("All timers processed ok");

    let n = iterations as u64;
    let start = rdtsc();
    for _ in 0..iterations {
        rpdk_timer::manage();
    }
    let end = rdtsc();
    println!(
        "\nTime per rte_timer_manage with zero timers: {} cycles",
        (end - start + n / 2) / n
    );

    if tms[0].reset(ticks * 100, TimerType::Single, lcore).is_err() {
        println!("Error: resetting a timer failed");
        return ExitCode::FAILURE;
    }
    let start = rdtsc();
    for _ in 0..iterations {
        rpdk_timer::manage();
    }
    let end = rdtsc();
    println!(
        "Time per rte_timer_manage with zero callbacks: {} cycles",
        (end - start + n / 2) / n
    );
    ExitCode::SUCCESS
}
