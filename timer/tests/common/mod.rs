//! What the timer tests share: an EAL with two lcores, and bounded waits.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use rpdk_eal::Eal;
use rpdk_testsupport::allowed_cpus;

/// An EAL with lcores 0 (main) and 1 on the first and last CPU this process may use, without
/// hugepages.
pub fn eal() -> Eal {
    let cpus = allowed_cpus();
    let map = format!("0@{},1@{}", cpus[0], cpus.last().unwrap());
    rpdk_eal::init(["timer-test", "--lcores", &map, "--no-huge", "--no-shconf"])
        .expect("EAL init")
        .0
}

/// TSC cycles in `us` microseconds.
pub fn us(us: u64) -> u64 {
    rpdk_eal::time::us_to_cycles(us)
}

/// Calls `rpdk_timer::manage()` until `done()` or `limit` passes; returns whether `done()`.
pub fn manage_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        rpdk_timer::manage();
        if done() {
            return true;
        }
    }
    done()
}

/// A small deterministic random generator (splitmix64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Counts the drops of the guards it hands out (to see when a timer's closure is dropped).
#[derive(Clone)]
pub struct DropCount(std::sync::Arc<std::sync::atomic::AtomicUsize>);

pub struct DropGuard(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl DropCount {
    pub fn new() -> Self {
        DropCount(Default::default())
    }

    pub fn guard(&self) -> DropGuard {
        DropGuard(self.0.clone())
    }

    pub fn get(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}
