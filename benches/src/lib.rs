//! # rpdk-benches
//!
//! Benchmarks of rpdk, measured side by side with DPDK by `scripts/bench-vs-dpdk.sh`: criterion
//! benches per crate and perf binaries that print the same rows as DPDK's `*_perf_autotest`.
//!
//! - `ring_perf` (binary): DPDK 22.11's `ring_perf_autotest` rows on rpdk-ring, with RTS/HTS
//!   rows and crossbeam `ArrayQueue` and `rtrb` on the same work;
//! - `benches/ring.rs` (criterion): bulk and burst 8/32 for every ring mode, typed and run-time;
//! - `mempool_perf` (binary): DPDK's `mempool_perf_autotest` loop for a fixed set of cases,
//!   and pktmbuf alloc/free, in cycles per object;
//! - `timer_perf`: DPDK's `timer_perf_autotest` on rpdk-timer (`scripts/bench-vs-dpdk.sh timer`).
//! - `flow_perf`: rpdk-flow's classifier on ClassBench-like 5-tuple rule sets ([`classbench`]):
//!   classification rate on one core, insertion and deletion rates
//!   (`scripts/bench-vs-dpdk.sh acl` runs it beside DPDK's `dpdk-test-acl`).
//! - `flow_lookup`: flow_perf's classification loop alone, for instruction counts under
//!   callgrind (`--passes`) and timed A/B rounds.

pub mod classbench;
