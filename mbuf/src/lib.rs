//! # rpdk-mbuf
//!
//! The packet buffer: DPDK's 128-byte mbuf header, pktmbuf pools, segment chains, clones, offload flags, packet types and header views.
//!
//! **Not built yet.** This crate reserves its place in the workspace; issue #4 fills it. It
//! exports nothing, so nothing can depend on behaviour it does not have.
