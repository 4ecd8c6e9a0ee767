//! The capture counters, per port, direction and queue, in a memzone (`rpdk_pdump_stats`, as
//! DPDK's `rte_pdump_stats`) so that a secondary process reads what the primary's callbacks
//! count. The zone holds only atomics: nothing in it differs between processes.

use std::sync::atomic::{AtomicU64, Ordering};

use rpdk_eal::memzone::{self, Memzone, MemzoneFlags};
use rpdk_ethdev::MAX_ETHPORTS;

use crate::pcapng::Direction;
use crate::{Error, Result};

/// The memzone's name.
pub const STATS_ZONE: &str = "rpdk_pdump_stats";

/// Queues per port and direction with counters of their own (DPDK's
/// `RTE_MAX_QUEUES_PER_PORT`); captures on higher queues count on the last one.
pub const STATS_QUEUES: usize = 1024;

/// One queue's counters, as the callbacks write them (relaxed adds, once per burst).
#[repr(C)]
#[derive(Default)]
pub(crate) struct QueueCounters {
    /// Packets copied for the capture (DPDK's `accepted`: ring-full ones included).
    pub accepted: AtomicU64,
    /// Packets a filter left out (rpdk has no BPF filter: always 0, kept for the format).
    pub filtered: AtomicU64,
    /// Packets not copied: the capture pool was empty.
    pub nombuf: AtomicU64,
    /// Copies freed because the capture ring was full.
    pub ringfull: AtomicU64,
}

type Table = [[[QueueCounters; STATS_QUEUES]; 2]; MAX_ETHPORTS];

/// A port's capture counters summed over queues (DPDK's `struct rte_pdump_stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PdumpStats {
    /// Packets copied (written to the ring, or freed as `ringfull`).
    pub accepted: u64,
    /// Packets filtered out (always 0: no filters).
    pub filtered: u64,
    /// Packets lost for want of a capture mbuf.
    pub nombuf: u64,
    /// Packets lost to a full capture ring.
    pub ringfull: u64,
}

impl PdumpStats {
    /// Every packet the capture saw: what pcapng's `isb_ifrecv` reports.
    pub fn seen(&self) -> u64 {
        self.accepted + self.nombuf + self.filtered
    }

    /// Every packet the capture lost: what pcapng's `isb_ifdrop` reports (as DPDK's dumpcap).
    pub fn dropped(&self) -> u64 {
        self.nombuf + self.ringfull
    }
}

/// The counters' memzone, reserved by the primary at [`crate::init`] (or the first capture)
/// and looked up by secondaries.
pub(crate) struct SharedStats {
    zone: Memzone,
}

impl SharedStats {
    /// The zone, reserved (zeroed) if it does not exist yet.
    pub fn get_or_create() -> Result<SharedStats> {
        if let Some(s) = Self::lookup() {
            return Ok(s);
        }
        let zone = memzone::reserve(
            STATS_ZONE,
            std::mem::size_of::<Table>(),
            None,
            MemzoneFlags::empty(),
        )
        .or_else(|e| memzone::lookup(STATS_ZONE).ok_or(e))
        .map_err(|e| Error::Stats(e.to_string()))?;
        let s = SharedStats::from_zone(zone)?;
        for c in s.table().iter().flatten().flatten() {
            for a in [&c.accepted, &c.filtered, &c.nombuf, &c.ringfull] {
                a.store(0, Ordering::Relaxed);
            }
        }
        Ok(s)
    }

    /// The zone, if the primary made it.
    pub fn lookup() -> Option<SharedStats> {
        SharedStats::from_zone(memzone::lookup(STATS_ZONE)?).ok()
    }

    fn from_zone(zone: Memzone) -> Result<SharedStats> {
        if zone.len() < std::mem::size_of::<Table>()
            || !(zone.as_ptr() as usize).is_multiple_of(std::mem::align_of::<Table>())
        {
            return Err(Error::Stats(format!(
                "memzone {STATS_ZONE} has {} bytes, {} needed",
                zone.len(),
                std::mem::size_of::<Table>()
            )));
        }
        Ok(SharedStats { zone })
    }

    fn table(&self) -> &Table {
        // SAFETY: the zone is at least a Table long and aligned for it (checked in from_zone),
        // lives as long as `self` holds it, and every bit pattern is a valid Table (atomics
        // only), which is only accessed through atomic operations.
        unsafe { &*(self.zone.as_ptr() as *const Table) }
    }

    /// The counters of `queue` of `port` in direction `dir`.
    #[inline]
    pub fn queue(&self, port: u16, dir: Direction, queue: u16) -> &QueueCounters {
        let d = matches!(dir, Direction::Outbound) as usize;
        let q = (queue as usize).min(STATS_QUEUES - 1);
        &self.table()[port as usize % MAX_ETHPORTS][d][q]
    }

    /// The counters of `port` in `dir` summed over queues.
    pub fn sum(&self, port: u16, dir: Direction) -> PdumpStats {
        let d = matches!(dir, Direction::Outbound) as usize;
        let mut s = PdumpStats::default();
        for c in &self.table()[port as usize % MAX_ETHPORTS][d] {
            s.accepted += c.accepted.load(Ordering::Relaxed);
            s.filtered += c.filtered.load(Ordering::Relaxed);
            s.nombuf += c.nombuf.load(Ordering::Relaxed);
            s.ringfull += c.ringfull.load(Ordering::Relaxed);
        }
        s
    }
}
