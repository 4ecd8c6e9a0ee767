//! # rpdk-ring
//!
//! Lock-free bounded rings with all of rte_ring's sync modes (MP/MC, SP/SC, RTS, HTS), bulk and burst, peek and zero-copy, and named rings in EAL memzones.
//!
//! **Not built yet.** This crate reserves its place in the workspace; issue #3 fills it. It
//! exports nothing, so nothing can depend on behaviour it does not have.
