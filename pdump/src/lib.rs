//! Packet capture for rpdk ports, as DPDK's `lib/pdump` and `lib/pcapng`: RX and TX callbacks
//! of the ethdev software stage copy each packet (up to a snap length) into an mbuf of a
//! capture pool, formatted as a pcapng enhanced packet block with its nanosecond timestamp,
//! direction and queue, and enqueue it to a capture ring; a reader (the `rpdk-pdump` tool, in a
//! secondary process) drains the ring into a pcapng file with [`pcapng::Writer`].
//!
//! - [`pcapng`]: the file format: section header, interface descriptions, enhanced packets,
//!   interface statistics.
//! - [`enable`]/[`disable`]: capture on a port's queues, in the process that polls them. The
//!   ring and the pool are found by name, so a secondary process can own them.
//! - [`stats`]: the capture's counters (packets copied, lost to an empty pool, lost to a full
//!   ring), per port and direction, kept in a memzone that secondaries read.
//!
//! It is a crate of its own above rpdk-ethdev (capture uses ports, and ports know nothing of
//! capture); the pcapng writer lives here because capture is its only user.
//!
//! ```
//! use rpdk_mbuf::{MbufRing, PktmbufPool};
//! use rpdk_pdump::{CaptureFlags, CaptureRequest, Target};
//! use rpdk_ring::RingFlags;
//!
//! let (_eal, _) = rpdk_eal::init([
//!     "app", "--no-huge", "--no-shconf", "-l", "0", "--vdev", "net_null0",
//! ])?;
//! let pool = PktmbufPool::create("doc_rx", 255, 0, 0, 2176, None)?;
//! let port = rpdk_ethdev::Port::get(0)?;
//! port.configure(1, 1, &Default::default())?;
//! port.rx_queue_setup(0, 0, None, &Default::default(), &pool)?;
//! port.tx_queue_setup(0, 0, None, &Default::default())?;
//! port.start()?;
//! // The capture's ring and pool (made by the capturing process, found by name).
//! let ring = MbufRing::create("doc_cap", 1024, None, RingFlags::SC_DEQ)?;
//! let cap = PktmbufPool::create("doc_cap", 1023, 0, 0, 2176, None)?;
//! rpdk_pdump::enable(&CaptureRequest {
//!     target: Target::Port(0),
//!     queue: rpdk_pdump::ALL_QUEUES,
//!     flags: CaptureFlags::RX,
//!     ring: "doc_cap".into(),
//!     pool: "doc_cap".into(),
//!     snaplen: 0,
//! })?;
//! let mut rxq = port.rx_queue(0)?;
//! let mut burst = rpdk_mbuf::MbufBurst::<32>::new();
//! assert_eq!(rxq.rx_burst(&mut burst), 32);
//! assert_eq!(ring.count(), 32); // a copy of each
//! rpdk_pdump::disable(&Target::Port(0), rpdk_pdump::ALL_QUEUES, CaptureFlags::RX)?;
//! assert_eq!(rpdk_pdump::stats(0)?.accepted, 32);
//! ring.consumer::<rpdk_ring::Sc>()?.drain();
//! # drop((burst, rxq));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(unsafe_code)]

mod capture;
pub mod pcapng;
pub mod request;
pub mod sink;
#[allow(unsafe_code)] // the counters' memzone, viewed as atomics
mod stats;

pub use capture::{
    ALL_QUEUES, CaptureFlags, CaptureRequest, MIN_CAPTURE_ROOM, Target, active_count, disable,
    enable,
};
pub use sink::{PcapngSink, describe, interface};
pub use stats::{PdumpStats, STATS_QUEUES, STATS_ZONE};

use pcapng::Direction;

/// Why a capture call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The port or queue asked for does not exist.
    #[error("{0}")]
    Port(String),
    /// The capture ring cannot be used.
    #[error("{0}")]
    Ring(String),
    /// The capture pool cannot be used.
    #[error("{0}")]
    Pool(String),
    /// The request is malformed.
    #[error("{0}")]
    Request(String),
    /// A queue already has a capture in that direction.
    #[error("port {port}: {dir} queue {queue} is already being captured")]
    AlreadyEnabled {
        /// Port id.
        port: u16,
        /// Queue.
        queue: u16,
        /// `rx` or `tx`.
        dir: &'static str,
    },
    /// No capture was on.
    #[error("port {port}: no capture is on for these queues")]
    NotEnabled {
        /// Port id.
        port: u16,
    },
    /// The counters' memzone cannot be had.
    #[error("capture statistics: {0}")]
    Stats(String),
}

/// A result of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Sets up capture in the primary (DPDK's `rte_pdump_init`): reserves the counters' memzone,
/// so that secondaries find it, and registers the `mp_pdump` action through which secondaries
/// (`rpdk-pdump`) turn capture on and off. Called after the EAL's init by applications that
/// accept captures (rpdk-testpmd, l2fwd); does nothing in a secondary.
pub fn init() -> Result<()> {
    if rpdk_eal::process_type() == Some(rpdk_eal::options::ProcType::Secondary) {
        return Ok(());
    }
    stats::SharedStats::get_or_create()?;
    request::register()
}

/// The capture counters of `port`, both directions, summed over queues (DPDK's
/// `rte_pdump_get_stats`). All zero when no capture ever ran.
pub fn stats(port: u16) -> Result<PdumpStats> {
    let rx = stats_dir(port, Direction::Inbound)?;
    let tx = stats_dir(port, Direction::Outbound)?;
    Ok(PdumpStats {
        accepted: rx.accepted + tx.accepted,
        filtered: rx.filtered + tx.filtered,
        nombuf: rx.nombuf + tx.nombuf,
        ringfull: rx.ringfull + tx.ringfull,
    })
}

/// The capture counters of `port` in one direction, summed over queues.
pub fn stats_dir(port: u16, dir: Direction) -> Result<PdumpStats> {
    if port as usize >= rpdk_ethdev::MAX_ETHPORTS {
        return Err(Error::Port(format!("port {port}: no such port")));
    }
    Ok(stats::SharedStats::lookup().map_or_else(PdumpStats::default, |s| s.sum(port, dir)))
}
