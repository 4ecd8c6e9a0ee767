//! # rpdk-mempool
//!
//! Pools of fixed-size objects in hugepage memory with per-lcore caches, ring or stack backing, stats and audit.
//!
//! **Not built yet.** This crate reserves its place in the workspace; issue #4 fills it. It
//! exports nothing, so nothing can depend on behaviour it does not have.
