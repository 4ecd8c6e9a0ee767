//! The parts of `rpdk-pdump` (DPDK's `dpdk-pdump`): its command line.

pub mod args;
