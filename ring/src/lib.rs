//! # rpdk-ring: lock-free bounded rings with all of `rte_ring`'s sync modes
//!
//! A ring is a bounded FIFO of fixed-size elements (`T: Copy + Send`: pointers, indices,
//! 16-byte descriptors...) with DPDK's `rte_ring` semantics and memory layout: a power-of-two
//! number of slots (capacity `count - 1`) or, with [`RingFlags::EXACT_SZ`], exactly the
//! capacity asked for; free-running 32-bit head and tail positions per side, each head and each
//! tail on its own 128 bytes.
//!
//! ```
//! use rpdk_ring::{RingBuilder, Sc, Sp};
//!
//! // One producer thread, one consumer thread.
//! let (tx, rx) = RingBuilder::new(1024).pair::<u64, Sp, Sc>()?;
//! let worker = std::thread::spawn(move || {
//!     let mut got = Vec::new();
//!     let mut buf = [0u64; 32];
//!     while got.len() < 100 {
//!         let n = rx.dequeue_burst(&mut buf).count;
//!         got.extend_from_slice(&buf[..n]);
//!     }
//!     got
//! });
//! let items: Vec<u64> = (0..100).collect();
//! let mut sent = 0;
//! while sent < items.len() {
//!     sent += tx.enqueue_burst(&items[sent..]).count;
//! }
//! assert_eq!(worker.join().unwrap(), items);
//! # Ok::<(), rpdk_ring::Error>(())
//! ```
//!
//! ## Sync modes
//!
//! Each side has its own mode, as in DPDK:
//!
//! | producer | consumer | how | handle |
//! |---|---|---|---|
//! | [`Mp`] | [`Mc`] | CAS on the head, copy, wait for earlier operations, move the tail (the default) | `Clone + Send + Sync` |
//! | [`Sp`] | [`Sc`] | plain stores: one thread only | `Send`, not `Clone`, not `Sync` |
//! | [`MpRts`] | [`McRts`] | relaxed tail sync: nobody waits for another thread; the last one out moves the tail. Good when threads may be preempted (more threads than cores) | `Clone + Send + Sync` |
//! | [`MpHts`] | [`McHts`] | head/tail sync: one operation at a time per side; allows peek and zero-copy | `Clone + Send + Sync` |
//!
//! The type of a [`Producer`] or [`Consumer`] carries its mode, so misuse does not compile:
//! an `Sp` producer cannot be cloned or shared between threads (one producer handle exists per
//! SP ring), and peek/zero-copy exist only on SP/SC and HTS handles. Their guards borrow the
//! handle, so they cannot outlive it.
//!
//! ## Operations
//!
//! - single ([`Producer::enqueue`], [`Consumer::dequeue`]), bulk (all or nothing) and burst (as
//!   many as possible), returning [`Enqueued`] / [`Dequeued`] with DPDK's free space and
//!   available counts;
//! - [`Ring::count`], [`Ring::free_count`], [`Ring::is_full`], [`Ring::is_empty`],
//!   [`Ring::capacity`], [`Ring::reset`];
//! - peek ([`peek`]): reserve, then finish with fewer; zero-copy ([`zc`]): write or read the
//!   ring's slots in place, as up to two slices.
//!
//! ## Modes chosen at run time
//!
//! [`Ring`] itself keeps the modes as values ([`SyncType`], from [`RingFlags`] as DPDK's
//! `RING_F_*`) and offers `unsafe` enqueue/dequeue that dispatch on them, with DPDK's contract
//! for single-thread sides. A mempool whose ring mode comes from creation flags uses this; the
//! branch on the mode is one predictable compare before the same code the typed handles run.
//!
//! ## Named rings
//!
//! [`Ring::create`] puts a ring in an EAL memzone (hugepage memory) under a name,
//! [`Ring::lookup`] finds it, [`Ring::free`] removes the name. [`RingBuilder::build`] and
//! [`RingBuilder::pair`] make heap rings that need no EAL.
//!
//! ## Dependencies
//!
//! `rpdk-eal` (memzones, logging), `log`, `thiserror`. `loom` (under `--cfg loom` only)
//! model-checks the protocols. `crossbeam-utils`' `CachePadded` was not needed: the layout is
//! spelled out as DPDK's, which a second process must be able to read.

mod atomic;
mod error;
mod handles;
mod headtail;
#[cfg(not(loom))]
mod info;
mod layout;
#[cfg(not(loom))]
mod named;
pub mod peek;
#[cfg(not(loom))]
mod placed;
mod ring;
mod shared;
mod slots;
mod sync;
#[cfg(not(loom))]
mod telemetry;
#[cfg(not(loom))]
pub mod zc;

pub use error::{Error, Result};
pub use handles::{Consumer, Producer};
#[cfg(not(loom))]
pub use info::{RingInfo, info};
pub use layout::{RING_NAME_MAX, RING_SIZE_MAX};
#[cfg(not(loom))]
pub use named::{RING_MZ_PREFIX, list_dump};
#[cfg(not(loom))]
pub use placed::PlacedRing;
pub use ring::{Ring, RingBuilder};
pub use shared::{Dequeued, Enqueued};
pub use sync::{
    ConsumerMode, Mc, McHts, McRts, Mp, MpHts, MpRts, MultiThread, Peek, ProducerMode, RingFlags,
    Sc, Sp, SyncType,
};
