//! # rpdk-benches
//!
//! Benchmarks of rpdk, measured side by side with DPDK by `scripts/bench-vs-dpdk.sh`: criterion
//! benches per crate and perf binaries that print the same rows as DPDK's `*_perf_autotest`.
//!
//! - `timer_perf`: DPDK's `timer_perf_autotest` on rpdk-timer (`scripts/bench-vs-dpdk.sh timer`).
