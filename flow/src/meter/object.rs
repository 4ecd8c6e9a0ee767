//! A meter object (an MTR object): its buckets, how it finds a packet's input colour, its
//! on/off switch and its statistics. Everything a packet reads is an atomic, so every lcore
//! meters through the same object and the control path changes it while traffic runs.

use super::bucket::{BIAS, Buckets, SUB};
use super::color::{Color, ColorInProto, ColorInputs};
use super::profile::Compiled;
use crossbeam_utils::CachePadded;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering::Relaxed};

/// A meter's counters (`struct rte_mtr_stats`), each counted when its bit of the meter's
/// statistics mask is set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MeterStats {
    /// Packets per output colour, in [`Color::ALL`]'s order.
    pub n_pkts: [u64; 3],
    /// Bytes per output colour.
    pub n_bytes: [u64; 3],
    /// Packets the policy dropped.
    pub n_pkts_dropped: u64,
    /// Bytes the policy dropped.
    pub n_bytes_dropped: u64,
}

impl MeterStats {
    /// `RTE_MTR_STATS_N_PKTS_GREEN`.
    pub const N_PKTS_GREEN: u64 = 1 << 0;
    /// `RTE_MTR_STATS_N_PKTS_YELLOW`.
    pub const N_PKTS_YELLOW: u64 = 1 << 1;
    /// `RTE_MTR_STATS_N_PKTS_RED`.
    pub const N_PKTS_RED: u64 = 1 << 2;
    /// `RTE_MTR_STATS_N_PKTS_DROPPED`.
    pub const N_PKTS_DROPPED: u64 = 1 << 3;
    /// `RTE_MTR_STATS_N_BYTES_GREEN`.
    pub const N_BYTES_GREEN: u64 = 1 << 4;
    /// `RTE_MTR_STATS_N_BYTES_YELLOW`.
    pub const N_BYTES_YELLOW: u64 = 1 << 5;
    /// `RTE_MTR_STATS_N_BYTES_RED`.
    pub const N_BYTES_RED: u64 = 1 << 6;
    /// `RTE_MTR_STATS_N_BYTES_DROPPED`.
    pub const N_BYTES_DROPPED: u64 = 1 << 7;
    /// Every counter.
    pub const ALL: u64 = 0xff;
}

/// Counter indexes: packets per colour 0-2, dropped packets 3, bytes per colour 4-6, dropped
/// bytes 7 (the mask's bit numbers).
const DROPPED: usize = 3;
const BYTES: usize = 4;

/// The control path's view of a meter (under the table's lock).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Control {
    pub profile: u32,
    pub policy: u32,
    /// The priority of each input-colour protocol that is on, by [`ColorInProto::index`].
    pub prio: [Option<u32>; 4],
}

/// A meter object, created by [`super::MeterTable::create`]. A rule's METER action holds one
/// (through [`super::MeterTable::attach`]); the hot path is [`Meter::color`].
pub struct Meter {
    id: u32,
    shared: bool,
    /// The TSC when the meter was made: bucket times count from it.
    origin: u64,
    buckets: Buckets,
    enabled: AtomicBool,
    use_prev: AtomicBool,
    default_input: AtomicU8,
    /// The input-colour protocols that are on, highest priority first: a byte each (a
    /// [`ColorInProto::index`]), 0xff after the last.
    order: AtomicU32,
    /// VLAN tables (outer, inner), indexed by PCP and DEI (the TCI's top four bits).
    vlan: [[AtomicU8; 16]; 2],
    /// DSCP tables (outer, inner).
    dscp: [[AtomicU8; 64]; 2],
    stats_mask: AtomicU64,
    counters: CachePadded<[AtomicU64; 8]>,
    pub(crate) control: Mutex<Control>,
}

/// What [`super::MeterTable::create`] gives a new meter.
pub(crate) struct Setup<'a> {
    pub id: u32,
    pub shared: bool,
    pub origin: u64,
    pub profile: (u32, &'a Compiled),
    pub policy: u32,
    pub params: &'a super::MeterParams,
}

impl Meter {
    pub(crate) fn new(s: Setup<'_>) -> Meter {
        let p = s.params;
        let mut prio = [None; 4];
        if p.dscp_table.is_some() {
            prio[ColorInProto::OuterIp.index()] = Some(0);
        }
        if p.vlan_table.is_some() {
            prio[ColorInProto::OuterVlan.index()] = Some(1);
        }
        let table =
            |t: &[Color]| -> Vec<AtomicU8> { t.iter().map(|&c| AtomicU8::new(c as u8)).collect() };
        let vlan = p.vlan_table.unwrap_or([Color::Green; 16]);
        let dscp = p.dscp_table.unwrap_or([Color::Green; 64]);
        let m = Meter {
            id: s.id,
            shared: s.shared,
            origin: s.origin,
            buckets: Buckets::new(s.profile.1, BIAS),
            enabled: AtomicBool::new(p.meter_enable),
            use_prev: AtomicBool::new(p.use_prev_mtr_color),
            default_input: AtomicU8::new(p.default_input_color as u8),
            order: AtomicU32::new(u32::MAX),
            vlan: [0, 1].map(|_| table(&vlan).try_into().unwrap()),
            dscp: [0, 1].map(|_| table(&dscp).try_into().unwrap()),
            stats_mask: AtomicU64::new(p.stats_mask),
            counters: CachePadded::new(Default::default()),
            control: Mutex::new(Control {
                profile: s.profile.0,
                policy: s.policy,
                prio,
            }),
        };
        m.publish_order(&prio);
        m
    }

    /// The meter's id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Whether several rules may use the meter.
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// The meter's time for TSC `tsc`.
    #[inline(always)]
    fn now(&self, tsc: u64) -> u64 {
        BIAS + tsc
            .saturating_sub(self.origin)
            .saturating_mul(SUB)
            .min(BIAS * 7)
    }

    /// The colour a packet comes in with: the previous meter's (when the meter uses it),
    /// else the table of the first input protocol, by priority, that the packet has, else the
    /// default input colour; green when no protocol is on (colour-blind).
    #[inline]
    pub fn input_color(&self, inputs: &ColorInputs) -> Color {
        if let Some(prev) = inputs.prev
            && self.use_prev.load(Relaxed)
        {
            return prev;
        }
        let order = self.order.load(Relaxed);
        if order & 0xff == 0xff {
            return Color::Green;
        }
        for k in 0..4 {
            let cell = match (order >> (8 * k)) & 0xff {
                0 => inputs
                    .vlan(false)
                    .map(|t| &self.vlan[0][(t >> 12) as usize]),
                1 => inputs.vlan(true).map(|t| &self.vlan[1][(t >> 12) as usize]),
                2 => inputs.dscp(false).map(|d| &self.dscp[0][d as usize & 63]),
                3 => inputs.dscp(true).map(|d| &self.dscp[1][d as usize & 63]),
                _ => break,
            };
            if let Some(cell) = cell {
                return Color::from_u8(cell.load(Relaxed));
            }
        }
        Color::from_u8(self.default_input.load(Relaxed))
    }

    /// Meters a packet of `len` bytes at TSC `tsc` (read once per burst, as DPDK's meters
    /// take the time from the caller): its input colour, then the buckets (or, disabled, the
    /// input colour unchanged), counted in the statistics. Lock-free: every lcore may meter
    /// through the same meter at once.
    ///
    /// ```
    /// use rpdk_flow::meter::{Color, ColorInputs, MeterParams, MeterPolicy, MeterProfile, MeterTable};
    ///
    /// let t = MeterTable::new();
    /// t.profile_add(1, MeterProfile::srtcm_rfc2697(1_000_000, 1500, 0))?;
    /// t.policy_add(1, MeterPolicy::new())?;
    /// let m = t.create(7, MeterParams::new(1, 1), false)?;
    /// let now = rpdk_eal::time::rdtsc();
    /// assert_eq!(m.color(now, 1000, &ColorInputs::default()), Color::Green);
    /// assert_eq!(m.color(now, 1000, &ColorInputs::default()), Color::Red);
    /// # Ok::<(), rpdk_flow::meter::MtrError>(())
    /// ```
    #[inline]
    pub fn color(&self, tsc: u64, len: u32, inputs: &ColorInputs) -> Color {
        let input = self.input_color(inputs);
        let out = if self.enabled.load(Relaxed) {
            self.buckets.mark(self.now(tsc), len, input)
        } else {
            input
        };
        self.count(out as usize, len);
        out
    }

    /// Counts a packet of `len` bytes that the policy dropped.
    #[inline]
    pub fn count_dropped(&self, len: u32) {
        self.count(DROPPED, len);
    }

    #[inline(always)]
    fn count(&self, i: usize, len: u32) {
        let mask = self.stats_mask.load(Relaxed);
        if mask & (1 << i) != 0 {
            self.counters[i].fetch_add(1, Relaxed);
        }
        if mask & (1 << (BYTES + i)) != 0 {
            self.counters[BYTES + i].fetch_add(len as u64, Relaxed);
        }
    }

    /// The counters (zeroed after reading with `clear`) and the mask that says which count.
    pub(crate) fn stats(&self, clear: bool) -> (MeterStats, u64) {
        let read = |i: usize| {
            if clear {
                self.counters[i].swap(0, Relaxed)
            } else {
                self.counters[i].load(Relaxed)
            }
        };
        let stats = MeterStats {
            n_pkts: [read(0), read(1), read(2)],
            n_bytes: [read(BYTES), read(BYTES + 1), read(BYTES + 2)],
            n_pkts_dropped: read(DROPPED),
            n_bytes_dropped: read(BYTES + DROPPED),
        };
        (stats, self.stats_mask.load(Relaxed))
    }

    pub(crate) fn set_stats_mask(&self, mask: u64) {
        self.stats_mask.store(mask, Relaxed);
    }

    pub(crate) fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Relaxed);
    }

    pub(crate) fn load_profile(&self, c: &Compiled, tsc: u64) {
        self.buckets.load(c, self.now(tsc));
    }

    pub(crate) fn set_vlan_table(&self, inner: bool, t: &[Color; 16]) {
        for (cell, c) in self.vlan[inner as usize].iter().zip(t) {
            cell.store(*c as u8, Relaxed);
        }
    }

    pub(crate) fn set_dscp_table(&self, inner: bool, t: &[Color; 64]) {
        for (cell, c) in self.dscp[inner as usize].iter().zip(t) {
            cell.store(*c as u8, Relaxed);
        }
    }

    /// Publishes the protocols that are on, by priority (lower first; equal priorities by
    /// protocol bit).
    pub(crate) fn publish_order(&self, prio: &[Option<u32>; 4]) {
        let mut on: Vec<(u32, usize)> = (0..4).filter_map(|i| prio[i].map(|p| (p, i))).collect();
        on.sort();
        let mut order = u32::MAX;
        for (k, (_, i)) in on.iter().enumerate() {
            order &= !(0xff << (8 * k));
            order |= (*i as u32) << (8 * k);
        }
        self.order.store(order, Relaxed);
    }
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter")
            .field("id", &self.id)
            .field("shared", &self.shared)
            .field("enabled", &self.enabled.load(Relaxed))
            .finish_non_exhaustive()
    }
}
