//! # rpdk-ethdev
//!
//! Ports and poll-mode drivers: configure, queues, rx_burst/tx_burst, stats, and the net_null, net_ring, net_pcap, net_af_packet and net_tap drivers.
//!
//! **Not built yet.** This crate reserves its place in the workspace; issue #6 fills it. It
//! exports nothing, so nothing can depend on behaviour it does not have.
