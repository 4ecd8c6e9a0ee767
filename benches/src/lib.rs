//! # rpdk-benches
//!
//! Benchmarks of rpdk, measured side by side with DPDK by `scripts/bench-vs-dpdk.sh`: criterion
//! benches per crate and perf binaries that print the same rows as DPDK's `*_perf_autotest`.
//!
//! **Nothing to measure yet.** The first benchmarks (`ring_perf`) arrive with rpdk-ring.
