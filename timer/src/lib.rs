//! # rpdk-timer
//!
//! Per-lcore timers driven by the TSC, single and periodic, with cross-lcore reset and stop.
//!
//! **Not built yet.** This crate reserves its place in the workspace; issue #5 fills it. It
//! exports nothing, so nothing can depend on behaviour it does not have.
