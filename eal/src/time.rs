//! Time from the CPU's time-stamp counter: `rdtsc()`, `tsc_hz()` and cycle-based delays.
//!
//! The TSC frequency is calibrated once per process, at [`crate::init`] or at the first call of
//! [`tsc_hz`]: from CPUID leaf 0x15 when the CPU reports its crystal clock, otherwise by counting
//! TSC cycles across 100 ms of `CLOCK_MONOTONIC_RAW`, rounded to 10 MHz as DPDK does.

use std::sync::OnceLock;
use std::time::Duration;

/// Reads the time-stamp counter (DPDK's `rte_rdtsc`). Not serialising: the CPU may execute it
/// before earlier instructions finish; see [`rdtsc_precise`].
#[inline(always)]
pub fn rdtsc() -> u64 {
    arch::rdtsc()
}

/// Reads the time-stamp counter after every earlier memory access completes
/// (DPDK's `rte_rdtsc_precise`).
#[inline(always)]
pub fn rdtsc_precise() -> u64 {
    std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    arch::rdtsc()
}

/// TSC cycles per second.
pub fn tsc_hz() -> u64 {
    static HZ: OnceLock<u64> = OnceLock::new();
    *HZ.get_or_init(calibrate)
}

/// Busy-waits for `cycles` TSC cycles.
#[inline]
pub fn delay_cycles(cycles: u64) {
    let start = rdtsc();
    while rdtsc().wrapping_sub(start) < cycles {
        std::hint::spin_loop();
    }
}

/// Busy-waits for `us` microseconds (DPDK's `rte_delay_us_block`).
pub fn delay_us(us: u64) {
    delay_cycles(us_to_cycles(us));
}

/// Busy-waits for `ms` milliseconds (DPDK's `rte_delay_ms`).
pub fn delay_ms(ms: u64) {
    delay_cycles(us_to_cycles(ms.saturating_mul(1000)));
}

/// Sleeps (yielding the CPU) for `us` microseconds (DPDK's `rte_delay_us_sleep`).
pub fn sleep_us(us: u64) {
    std::thread::sleep(Duration::from_micros(us));
}

/// Converts microseconds to TSC cycles.
pub fn us_to_cycles(us: u64) -> u64 {
    ((us as u128 * tsc_hz() as u128) / 1_000_000) as u64
}

/// Converts TSC cycles to nanoseconds.
pub fn cycles_to_ns(cycles: u64) -> u64 {
    ((cycles as u128 * 1_000_000_000) / tsc_hz() as u128) as u64
}

/// Whether the CPU says its TSC runs at a constant rate across power states
/// (`constant_tsc` and `nonstop_tsc` in /proc/cpuinfo).
pub fn tsc_is_invariant() -> bool {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| {
            s.lines().find(|l| l.starts_with("flags")).is_some_and(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.contains(&"constant_tsc") && f.contains(&"nonstop_tsc")
            })
        })
        .unwrap_or(false)
}

fn calibrate() -> u64 {
    if let Some(hz) = arch::cpuid_tsc_hz() {
        return hz;
    }
    measure()
}

fn monotonic_raw_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_RAW, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

fn measure() -> u64 {
    const TEN_MHZ: u64 = 10_000_000;
    let t0 = monotonic_raw_ns();
    let c0 = rdtsc_precise();
    std::thread::sleep(Duration::from_millis(100));
    let t1 = monotonic_raw_ns();
    let c1 = rdtsc_precise();
    let ns = (t1 - t0).max(1);
    let hz = ((c1.wrapping_sub(c0)) as u128 * 1_000_000_000 / ns) as u64;
    if hz < TEN_MHZ {
        return hz.max(1);
    }
    (hz + TEN_MHZ / 2) / TEN_MHZ * TEN_MHZ
}

#[cfg(target_arch = "x86_64")]
mod arch {
    #[inline(always)]
    pub fn rdtsc() -> u64 {
        // SAFETY: RDTSC is available on every x86_64 CPU and has no memory effects.
        unsafe { core::arch::x86_64::_rdtsc() }
    }

    /// The TSC frequency from CPUID leaf 0x15 (TSC/crystal ratio and crystal frequency).
    pub fn cpuid_tsc_hz() -> Option<u64> {
        use core::arch::x86_64::__cpuid;
        let max_leaf = __cpuid(0).eax;
        if max_leaf < 0x15 {
            return None;
        }
        let l = __cpuid(0x15);
        if l.eax == 0 || l.ebx == 0 || l.ecx == 0 {
            return None;
        }
        Some(l.ecx as u64 * l.ebx as u64 / l.eax as u64)
    }
}

#[cfg(target_arch = "aarch64")]
mod arch {
    #[inline(always)]
    pub fn rdtsc() -> u64 {
        let v: u64;
        // SAFETY: reading the virtual counter register is allowed at EL0 on Linux.
        unsafe { core::arch::asm!("mrs {}, cntvct_el0", out(reg) v, options(nomem, nostack)) };
        v
    }

    pub fn cpuid_tsc_hz() -> Option<u64> {
        let v: u64;
        // SAFETY: reading the counter frequency register is allowed at EL0 on Linux.
        unsafe { core::arch::asm!("mrs {}, cntfrq_el0", out(reg) v, options(nomem, nostack)) };
        (v != 0).then_some(v)
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod arch {
    /// Without a cycle counter, nanoseconds of `CLOCK_MONOTONIC_RAW` stand in for cycles.
    #[inline(always)]
    pub fn rdtsc() -> u64 {
        super::monotonic_raw_ns() as u64
    }

    pub fn cpuid_tsc_hz() -> Option<u64> {
        Some(1_000_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsc_moves_forward_at_its_rate() {
        let hz = tsc_hz();
        assert!(hz > 1_000_000, "implausible TSC frequency {hz}");
        let t0 = std::time::Instant::now();
        let c0 = rdtsc();
        delay_us(20_000);
        let cycles = rdtsc() - c0;
        let elapsed = t0.elapsed();
        assert!(cycles >= us_to_cycles(20_000), "delay_us returned early");
        // The wall clock agrees with the TSC within 25% (the machine may be loaded).
        let ns = cycles_to_ns(cycles) as f64;
        let wall = elapsed.as_nanos() as f64;
        assert!(
            (ns / wall - 1.0).abs() < 0.25,
            "tsc says {ns} ns, clock says {wall} ns"
        );
    }

    #[test]
    fn conversions() {
        let hz = tsc_hz();
        assert_eq!(us_to_cycles(1_000_000), hz);
        assert_eq!(cycles_to_ns(hz), 1_000_000_000);
    }
}
