//! The token buckets, shared by every lcore without a lock.
//!
//! A bucket is not a count of tokens topped up by a timer: it is one 64-bit word, updated by
//! compare-and-swap, so that any number of lcores can meter through it at once and a refill
//! never needs a second word.
//!
//! - A bucket that refills at its rate (the committed and peak buckets, RFC 4115's excess
//!   bucket) holds the time at which it would be empty, `e`. At time `now` it holds
//!   `min(size, rate * (now - e))`; taking `n` bytes moves `e` to `max(e, now - depth) + cost(n)`,
//!   where `depth` is the time it takes to fill and `cost(n)` the time `n` bytes take. It has
//!   room for the packet when that is not after `now`.
//! - srTCM's excess bucket fills only with what overflows the committed one: it holds a credit,
//!   in the same units of time, which grows by the time the committed bucket spent full (given
//!   by whoever next moves the committed bucket, so it is counted once) up to its own depth.
//!
//! Time is in sixteenths of a TSC cycle since the meter started (plus [`BIAS`], so that
//! `now - depth` never wraps), and a rate is the cost of one byte in that unit as a fixed-point
//! number with 24 fractional bits: costs are rounded up, so a meter never admits more than its
//! rate. Words are updated with relaxed atomics: a bucket publishes nothing but itself.

use super::color::Color;
use super::profile::{Compiled, Kind};
use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering::Relaxed};

/// Units of time per TSC cycle.
pub(crate) const SUB: u64 = 16;
/// Fractional bits of a rate's cost per byte.
const FRAC: u32 = 24;
/// Added to every time so that `now - depth` stays above zero.
pub(crate) const BIAS: u64 = 1 << 60;
/// The longest a bucket may take to fill (2^55 TSC cycles: 139 days at 3 GHz).
const MAX_DEPTH: u64 = 1 << 59;
/// Costs are capped here: more than any depth, and `time + cost` cannot overflow.
const MAX_COST: u64 = 1 << 61;

/// A rate and a bucket size, as times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rate {
    /// Time per byte (or packet), fixed point.
    cost_fp: u64,
    /// Time to fill the bucket from empty.
    depth: u64,
}

impl Rate {
    /// `rate` bytes per second into a bucket of `size` bytes, with a TSC of `hz`.
    pub fn new(rate: u64, size: u64, hz: u64) -> Result<Rate, String> {
        if rate == 0 {
            return if size == 0 {
                Ok(Rate::never())
            } else {
                Err("a bucket with no rate never refills".into())
            };
        }
        let unit = (hz as u128 * SUB as u128) << FRAC;
        if rate as u128 > unit {
            return Err(format!("above the highest rate ({})", max_rate(hz)));
        }
        // Rounded up: a byte never costs less than it should.
        let cost_fp = unit.div_ceil(rate as u128);
        let cost_fp = u64::try_from(cost_fp).map_err(|_| "below the lowest rate".to_string())?;
        let r = Rate { cost_fp, depth: 0 };
        let depth = r.cost(size);
        if depth > MAX_DEPTH {
            return Err("the bucket would take more than 2^55 TSC cycles to fill".into());
        }
        Ok(Rate { cost_fp, depth })
    }

    /// A bucket of size 0: nothing ever fits.
    pub fn never() -> Rate {
        Rate {
            cost_fp: 1 << FRAC,
            depth: 0,
        }
    }

    /// The time `n` bytes take, rounded up.
    #[inline(always)]
    fn cost(&self, n: u64) -> u64 {
        let t = (n as u128 * self.cost_fp as u128 + ((1u128 << FRAC) - 1)) >> FRAC;
        t.min(MAX_COST as u128) as u64
    }
}

/// The highest rate a bucket takes with a TSC of `hz` (a byte must cost at least 2^-24 of a
/// unit).
pub(crate) fn max_rate(hz: u64) -> u64 {
    u64::try_from((hz as u128 * SUB as u128) << FRAC).unwrap_or(u64::MAX)
}

/// One meter's buckets: its profile as atomics (read by every packet, written by profile
/// updates) and the two buckets' words on a cache line of their own.
pub(crate) struct Buckets {
    kind: AtomicU8,
    packet_mode: AtomicBool,
    a_cost: AtomicU64,
    a_depth: AtomicU64,
    b_cost: AtomicU64,
    b_depth: AtomicU64,
    state: CachePadded<[AtomicU64; 2]>,
}

impl Buckets {
    /// Buckets for profile `c`, both full at time `now`.
    pub fn new(c: &Compiled, now: u64) -> Buckets {
        let b = Buckets {
            kind: AtomicU8::new(Kind::None as u8),
            packet_mode: AtomicBool::new(false),
            a_cost: AtomicU64::new(0),
            a_depth: AtomicU64::new(0),
            b_cost: AtomicU64::new(0),
            b_depth: AtomicU64::new(0),
            state: CachePadded::new([AtomicU64::new(0), AtomicU64::new(0)]),
        };
        b.load(c, now);
        b
    }

    /// Takes profile `c` and fills both buckets (as DPDK's software meter does when it is
    /// configured). A packet metered meanwhile may see parts of the old profile and the new.
    pub fn load(&self, c: &Compiled, now: u64) {
        self.kind.store(c.kind as u8, Relaxed);
        self.packet_mode.store(c.packet_mode, Relaxed);
        self.a_cost.store(c.a.cost_fp, Relaxed);
        self.a_depth.store(c.a.depth, Relaxed);
        self.b_cost.store(c.b.cost_fp, Relaxed);
        self.b_depth.store(c.b.depth, Relaxed);
        self.state[0].store(now - c.a.depth, Relaxed);
        let b = if c.kind == Kind::SrTcm {
            c.b.depth
        } else {
            now - c.b.depth
        };
        self.state[1].store(b, Relaxed);
    }

    fn rate_a(&self) -> Rate {
        Rate {
            cost_fp: self.a_cost.load(Relaxed),
            depth: self.a_depth.load(Relaxed),
        }
    }

    fn rate_b(&self) -> Rate {
        Rate {
            cost_fp: self.b_cost.load(Relaxed),
            depth: self.b_depth.load(Relaxed),
        }
    }

    /// The colour of a packet of `len` bytes at time `now` whose input colour is `input`
    /// (green for a colour-blind meter), taking its tokens.
    #[inline]
    pub fn mark(&self, now: u64, len: u32, input: Color) -> Color {
        let n = if self.packet_mode.load(Relaxed) {
            1
        } else {
            len as u64
        };
        match Kind::from_u8(self.kind.load(Relaxed)) {
            Kind::None => input,
            Kind::SrTcm => self.srtcm(now, n, input),
            Kind::TrTcm => self.trtcm(now, n, input),
            Kind::TrTcm4115 => self.trtcm4115(now, n, input),
        }
    }

    /// RFC 2697: green from the committed bucket, yellow from the excess one.
    fn srtcm(&self, now: u64, n: u64, input: Color) -> Color {
        let c = self.rate_a();
        let cost = c.cost(n);
        let floor = now - c.depth;
        let word = &self.state[0];
        let mut e = word.load(Relaxed);
        let green = loop {
            let eff = e.max(floor);
            let take = input == Color::Green && eff + cost <= now;
            let new = if take { eff + cost } else { eff };
            if new == e {
                break take;
            }
            match word.compare_exchange_weak(e, new, Relaxed, Relaxed) {
                Ok(_) => {
                    // The time the committed bucket spent full went to the excess bucket.
                    if floor > e {
                        self.credit(floor - e);
                    }
                    break take;
                }
                Err(x) => e = x,
            }
        };
        if green {
            Color::Green
        } else if input != Color::Red && self.debit(cost) {
            Color::Yellow
        } else {
            Color::Red
        }
    }

    /// Adds `t` to srTCM's excess bucket, up to its depth.
    fn credit(&self, t: u64) {
        let depth = self.b_depth.load(Relaxed);
        let _ = self.state[1].fetch_update(Relaxed, Relaxed, |x| {
            let new = x.saturating_add(t).min(depth);
            (new != x).then_some(new)
        });
    }

    /// Takes `cost` from srTCM's excess bucket if it holds that much.
    fn debit(&self, cost: u64) -> bool {
        self.state[1]
            .fetch_update(Relaxed, Relaxed, |x| x.checked_sub(cost))
            .is_ok()
    }

    /// RFC 2698: every non-red packet takes from the peak bucket, green ones from the
    /// committed bucket too.
    fn trtcm(&self, now: u64, n: u64, input: Color) -> Color {
        if input == Color::Red {
            return Color::Red;
        }
        let p = self.rate_a();
        if !take(&self.state[0], now, p.depth, p.cost(n)) {
            return Color::Red;
        }
        if input == Color::Yellow {
            return Color::Yellow;
        }
        let c = self.rate_b();
        if take(&self.state[1], now, c.depth, c.cost(n)) {
            Color::Green
        } else {
            Color::Yellow
        }
    }

    /// RFC 4115: green from the committed bucket, or else yellow from the excess bucket.
    fn trtcm4115(&self, now: u64, n: u64, input: Color) -> Color {
        let c = self.rate_a();
        if input == Color::Green && take(&self.state[0], now, c.depth, c.cost(n)) {
            return Color::Green;
        }
        let e = self.rate_b();
        if input != Color::Red && take(&self.state[1], now, e.depth, e.cost(n)) {
            Color::Yellow
        } else {
            Color::Red
        }
    }
}

/// Takes `cost` from a refilling bucket of `depth` at `now`, if it holds that much.
#[inline(always)]
fn take(word: &AtomicU64, now: u64, depth: u64, cost: u64) -> bool {
    let floor = now - depth;
    word.fetch_update(Relaxed, Relaxed, |e| {
        let new = e.max(floor) + cost;
        (new <= now).then_some(new)
    })
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meter::MeterProfile;

    /// A TSC of 1 MHz: one unit is 1/16 µs; a rate of 1000 B/s costs 16000 units a byte.
    const HZ: u64 = 1_000_000;

    fn buckets(p: MeterProfile) -> Buckets {
        Buckets::new(&p.compile(0, HZ).unwrap(), BIAS)
    }

    /// Time `us` microseconds after the start.
    fn at(us: u64) -> u64 {
        BIAS + us * SUB
    }

    fn colors(b: &Buckets, now: u64, len: u32, n: usize, input: Color) -> Vec<Color> {
        (0..n).map(|_| b.mark(now, len, input)).collect()
    }

    use Color::{Green as G, Red as R, Yellow as Y};

    #[test]
    fn costs_round_up_and_depths_are_fill_times() {
        let r = Rate::new(1000, 500, HZ).unwrap();
        assert_eq!(r.cost(1), 16_000);
        assert_eq!(r.depth, 500 * 16_000);
        // 3 bytes per second: a byte costs 1/3 s, rounded up by a 2^-24 fraction of a unit.
        let r = Rate::new(3, 1, HZ).unwrap();
        assert!(r.cost(3) >= HZ * SUB);
        assert!(r.cost(3) <= HZ * SUB + 1);
        assert!(Rate::new(1, 1 << 40, 1 << 32).unwrap_err().contains("2^55"));
        assert!(
            Rate::new(u64::MAX, 1, HZ)
                .unwrap_err()
                .contains("highest rate")
        );
    }

    #[test]
    fn srtcm_committed_then_excess_then_red() {
        // cir 1000 B/s, cbs 500, ebs 300: five green, three yellow, then red at once.
        let b = buckets(MeterProfile::srtcm_rfc2697(1000, 500, 300));
        assert_eq!(colors(&b, at(0), 100, 9, G), [G, G, G, G, G, Y, Y, Y, R]);
        // 100 ms later 100 bytes came back, to the committed bucket.
        assert_eq!(colors(&b, at(100_000), 100, 2, G), [G, R]);
        // Colour-aware: a yellow packet never takes green tokens, a red one nothing.
        assert_eq!(b.mark(at(300_000), 100, Y), R); // the excess bucket is empty
        assert_eq!(b.mark(at(300_000), 100, R), R);
        assert_eq!(b.mark(at(300_000), 100, G), G);
    }

    #[test]
    fn srtcm_overflow_fills_the_excess_bucket() {
        let b = buckets(MeterProfile::srtcm_rfc2697(1000, 500, 300));
        assert_eq!(colors(&b, at(0), 100, 9, G), [G, G, G, G, G, Y, Y, Y, R]);
        // 0.5 s refills the committed bucket; 0.2 s more overflow gives the excess 200 bytes.
        assert_eq!(colors(&b, at(700_000), 100, 8, G), [G, G, G, G, G, Y, Y, R]);
        // Yellow packets also settle the overflow first: after 1 s the committed bucket is
        // full and 0.5 s overflowed, capped at the excess bucket's 300.
        assert_eq!(colors(&b, at(1_700_000), 100, 4, Y), [Y, Y, Y, R]);
        assert_eq!(colors(&b, at(1_700_000), 100, 6, G), [G, G, G, G, G, R]);
    }

    #[test]
    fn srtcm_packet_bigger_than_the_committed_bucket_uses_the_excess() {
        let b = buckets(MeterProfile::srtcm_rfc2697(1000, 100, 1000));
        assert_eq!(b.mark(at(0), 500, G), Y);
        assert_eq!(b.mark(at(0), 600, G), R);
        // The committed bucket was full all along: 1 s of overflow fills the excess one.
        assert_eq!(b.mark(at(1_000_000), 900, G), Y);
        assert_eq!(b.mark(at(1_000_000), 100, G), G);
    }

    #[test]
    fn trtcm_rfc2698_peak_then_committed() {
        // cir 1000, pir 2000, cbs 200, pbs 400.
        let b = buckets(MeterProfile::trtcm_rfc2698(1000, 2000, 200, 400));
        assert_eq!(colors(&b, at(0), 100, 5, G), [G, G, Y, Y, R]);
        // 50 ms: 100 bytes of peak, 50 of committed.
        assert_eq!(colors(&b, at(50_000), 100, 2, G), [Y, R]);
        // 100 ms more: 200 peak, 100+50 committed: the first green, the second yellow.
        assert_eq!(colors(&b, at(150_000), 100, 3, G), [G, Y, R]);
        // Aware: yellow input takes peak tokens only; red input takes none.
        let b = buckets(MeterProfile::trtcm_rfc2698(1000, 2000, 200, 400));
        assert_eq!(colors(&b, at(0), 100, 4, Y), [Y, Y, Y, Y]);
        assert_eq!(b.mark(at(0), 100, G), R);
        let b = buckets(MeterProfile::trtcm_rfc2698(1000, 2000, 200, 400));
        assert_eq!(colors(&b, at(0), 100, 10, R), [R; 10]);
        assert_eq!(colors(&b, at(0), 100, 2, G), [G, G]);
    }

    #[test]
    fn trtcm_rfc4115_independent_buckets() {
        // cir 1000, eir 500, cbs 200, ebs 100.
        let b = buckets(MeterProfile::trtcm_rfc4115(1000, 500, 200, 100));
        assert_eq!(colors(&b, at(0), 100, 4, G), [G, G, Y, R]);
        // 200 ms: committed +200, excess +100 (full at 100).
        assert_eq!(colors(&b, at(200_000), 100, 4, G), [G, G, Y, R]);
        // Aware: yellow input only from the excess bucket.
        assert_eq!(b.mark(at(400_000), 100, Y), Y);
        assert_eq!(b.mark(at(400_000), 100, Y), R);
        assert_eq!(b.mark(at(400_000), 100, G), G);
        // No excess rate: a two-colour meter.
        let b = buckets(MeterProfile::trtcm_rfc4115(1000, 0, 100, 0));
        assert_eq!(colors(&b, at(0), 100, 2, G), [G, R]);
    }

    #[test]
    fn packet_mode_counts_packets() {
        // 10 packets per second, 3 in the bucket, whatever their length.
        let b = buckets(MeterProfile::trtcm_rfc4115(10, 0, 3, 0).in_packets());
        assert_eq!(colors(&b, at(0), 1500, 4, G), [G, G, G, R]);
        assert_eq!(colors(&b, at(100_000), 64, 2, G), [G, R]);
    }

    #[test]
    fn none_passes_the_input_colour() {
        let b = buckets(MeterProfile::none());
        assert_eq!([G, Y, R].map(|c| b.mark(at(0), 100, c)), [G, Y, R]);
    }

    #[test]
    fn shared_by_threads_without_double_spending() {
        // No refill while they race (time stands still): exactly cbs bytes go green and ebs
        // yellow, however the four threads interleave.
        let b = std::sync::Arc::new(buckets(MeterProfile::srtcm_rfc2697(1000, 64_000, 32_000)));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let b = b.clone();
                std::thread::spawn(move || {
                    let mut n = [0u64; 3];
                    for _ in 0..1000 {
                        n[b.mark(at(0), 100, G) as usize] += 1;
                    }
                    n
                })
            })
            .collect();
        let mut n = [0u64; 3];
        for t in threads {
            let m = t.join().unwrap();
            (0..3).for_each(|i| n[i] += m[i]);
        }
        assert_eq!(n, [640, 320, 3040]);
    }
}
