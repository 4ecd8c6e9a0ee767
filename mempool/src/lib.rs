//! # rpdk-mempool
//!
//! Pools of fixed-size objects in EAL memory (hugepages, or 4 KiB pages under `--no-huge`),
//! as DPDK's `rte_mempool`: named and found by name, objects cache-line aligned and spread over
//! memory channels (`-n`), a cache per EAL lcore used automatically (and user caches for other
//! threads), a choice of backing store, bulk get and put that take all or nothing, object
//! initialisation and iteration, counts, optional statistics, an audit and a dump, and the IOVA of
//! every object for drivers.
//!
//! ```
//! use rpdk_mempool::Mempool;
//!
//! let (_eal, _) = rpdk_eal::init(["app", "--no-huge", "--no-shconf", "-l", "0"])?;
//! let pool = Mempool::builder("frames", 4096, 2048)
//!     .cache_size(256)
//!     .obj_init(|obj, index, _iova| obj[0] = index as u8)
//!     .create()?;
//! {
//!     let mut obj = pool.alloc()?; // back to the pool when dropped
//!     obj[1] = 42;
//! }
//! let mut burst = [std::ptr::null_mut(); 32];
//! pool.get_bulk(&mut burst)?;
//! assert_eq!(pool.in_use_count(), 32);
//! // SAFETY: the 32 objects came from `pool` and are not used after this.
//! unsafe { pool.put_bulk(&burst) };
//! pool.audit()?; // every object back, none twice
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Safety and lifetime
//!
//! Getting objects is safe; putting them back is `unsafe` (the pointer must be one of the pool's
//! objects, given back once), as is anything that hands raw objects around. [`Mempool::alloc`]
//! gives an owned object that goes back when dropped. A pool's memory stays while any handle or
//! any object taken from it is alive: dropping the last handle with objects still out keeps the
//! memory (with a warning) instead of leaving them dangling.
//!
//! Per-lcore caches belong to the lcore whose id indexes them: only the thread of that lcore
//! (the EAL gives each id to one thread) touches its cache, without locks.
//!
//! ## Backing stores
//!
//! Behind the caches, the free objects live in one of DPDK's mempool ops ([`Ops`]): a ring
//! (`ring_mp_mc`, the default, and `ring_sp_sc`, `ring_mp_sc`, `ring_sp_mc`, `ring_mt_rts`,
//! `ring_mt_hts`, on `rpdk-ring`), a spinlock stack (`stack`) or a lock-free stack
//! (`lf_stack`). The ops with a single-thread side keep DPDK's contract (one thread at a time
//! puts, or gets), so a pool with them is made with the `unsafe`
//! [`MempoolBuilder::create_single_thread`]; the `SP_PUT` and `SC_GET` flags pick them as
//! `rte_mempool_create` does.

mod backing;
mod cache;
mod copy;
mod error;
mod layout;
mod placed;
mod pool;
mod telemetry;

pub use backing::Ops;
pub use cache::{CACHE_MAX_SIZE, MempoolStats, flush_threshold};
pub use error::{Error, Exhausted};
pub use layout::ObjSize;
pub use pool::{
    LcoreCache, MEMPOOL_NAME_MAX, Mempool, MempoolBuilder, MempoolCache, MempoolFlags, PoolObj,
    RawMempool,
};
