//! Flow aging (DPDK's AGE action, `rte_flow_get_aged_flows`, the AGE query and
//! `RTE_ETH_EVENT_FLOW_AGED`).
//!
//! Each rule with an AGE action has an [`AgeCell`]: the TSC of its last hit, rounded down to
//! a tick of 2^22 cycles (about 1.5 ms at 3 GHz), in one atomic word. The classifying lcores
//! load it and store the burst's tick only when it moved on, a relaxed store, so a rule hit by
//! many packets costs one load per packet and one store per tick and lcore, never a
//! read-modify-write (two lcores storing at once may leave the older tick: an error of a tick).
//!
//! Aging is decided off the hot path, by a scan: at every [`FlowTable::get_aged_flows`] and
//! AGE query, and every 100 ms on the process's aging thread (`rpdk-flow-age`; DPDK's PMDs
//! use the interrupt thread), which runs while some table has rules with AGE. A rule whose last
//! hit (or creation) is `timeout` seconds old is aged, and stays aged until destroyed. When
//! a scan finds newly aged rules after the last `get_aged_flows` call, the thread raises
//! `RTE_ETH_EVENT_FLOW_AGED` on the table's port (`rpdk_ethdev::event::callback_process`, on
//! that thread).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use rpdk_ethdev::event::{EthEvent, callback_process};

use crate::error::{Cause, ErrorType, FlowError};
use crate::table::FlowTable;

/// Low bits of the TSC dropped from a last-hit time.
const TICK_BITS: u32 = 22;

/// How often the aging thread scans.
const SCAN_PERIOD: Duration = Duration::from_millis(100);

/// The largest timeout (DPDK's 24-bit field), in seconds.
pub const MAX_AGE_TIMEOUT: u32 = 0xff_ffff;

/// An AGE query's result (`struct rte_flow_query_age`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AgeQuery {
    /// The timeout passed without a hit.
    pub aged: bool,
    /// `sec_since_last_hit` is valid.
    pub sec_since_last_hit_valid: bool,
    /// Seconds since the last hit (or since the rule was made), at most 2^24 - 1.
    pub sec_since_last_hit: u32,
}

/// An aged rule, as `rte_flow_get_aged_flows` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgedFlow {
    /// The rule.
    pub rule: u32,
    /// The AGE action's context (`None`: DPDK reports the flow handle, here the rule id).
    pub context: Option<u64>,
}

/// A rule's last hit, as the classifying lcores write it.
#[derive(Debug)]
pub(crate) struct AgeCell {
    last: AtomicU64,
}

impl AgeCell {
    fn new(now: u64) -> AgeCell {
        AgeCell {
            last: AtomicU64::new(now >> TICK_BITS),
        }
    }

    /// A hit at TSC `now`.
    #[inline(always)]
    pub fn touch(&self, now: u64) {
        let t = now >> TICK_BITS;
        if self.last.load(Ordering::Relaxed) < t {
            self.last.store(t, Ordering::Relaxed);
        }
    }

    /// Cycles since the last hit.
    fn idle(&self, now: u64) -> u64 {
        (now >> TICK_BITS).saturating_sub(self.last.load(Ordering::Relaxed)) << TICK_BITS
    }
}

struct Entry {
    cell: Arc<AgeCell>,
    timeout: u32,
    context: Option<u64>,
    aged: bool,
}

#[derive(Default)]
struct State {
    rules: BTreeMap<u32, Entry>,
    /// Aged rules in the order they aged.
    aged: Vec<u32>,
    /// A newly aged rule raises the event (set again by `get_aged_flows`).
    armed: bool,
    /// The aging thread is to raise the event.
    pending: bool,
    /// The aging thread scans the table.
    watched: bool,
}

/// The AGE actions of a table.
pub(crate) struct Aging {
    port: u16,
    hz: u64,
    state: Mutex<State>,
    /// For tests: no aging thread (scans only on calls).
    quiet: AtomicBool,
}

impl Aging {
    pub fn new(port: u16) -> Arc<Aging> {
        Arc::new(Aging {
            port,
            hz: rpdk_eal::time::tsc_hz().max(1),
            state: Mutex::new(State {
                armed: true,
                ..State::default()
            }),
            quiet: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new cell, its last hit now (before the rule is published).
    pub fn cell() -> Arc<AgeCell> {
        Arc::new(AgeCell::new(rpdk_eal::time::rdtsc()))
    }

    /// Starts aging rule `id` (published with `cell`), and the aging thread if it is not
    /// running.
    pub fn add(self: &Arc<Self>, id: u32, cell: Arc<AgeCell>, timeout: u32, context: Option<u64>) {
        let mut s = self.lock();
        s.rules.insert(
            id,
            Entry {
                cell,
                timeout,
                context,
                aged: false,
            },
        );
        if !s.watched && !self.quiet.load(Ordering::Relaxed) {
            s.watched = true;
            drop(s);
            // The state's lock is not held while WATCHED's is taken (the thread takes them
            // the other way round).
            if !watch(Arc::downgrade(self)) {
                // No thread (the system refused one): aged rules are still found by
                // get_aged_flows and queries, without the event.
                self.lock().watched = false;
            }
        }
    }

    /// The cell of rule `id`, if it ages.
    pub fn cell_of(&self, id: u32) -> Option<Arc<AgeCell>> {
        self.lock().rules.get(&id).map(|e| e.cell.clone())
    }

    /// Stops aging rule `id` (destroyed).
    pub fn remove(&self, id: u32) {
        let mut s = self.lock();
        if s.rules.remove(&id).is_some_and(|e| e.aged) {
            s.aged.retain(|&r| r != id);
        }
    }

    /// Stops aging every rule (flushed).
    pub fn clear(&self) {
        let mut s = self.lock();
        s.rules.clear();
        s.aged.clear();
    }

    /// Marks the rules whose timeout passed at TSC `now`; whether some aged now (then, when
    /// armed, the aging thread is to raise the event).
    fn scan(&self, s: &mut State, now: u64) -> bool {
        let mut new = false;
        for (&id, e) in s.rules.iter_mut() {
            if !e.aged && e.cell.idle(now) >= e.timeout as u64 * self.hz {
                e.aged = true;
                s.aged.push(id);
                new = true;
            }
        }
        if new && s.armed {
            s.armed = false;
            s.pending = true;
        }
        new
    }

    /// Scans (at `now`) and returns the aged rules; arms the event again.
    fn aged_at(&self, now: u64) -> Vec<AgedFlow> {
        let mut s = self.lock();
        self.scan(&mut s, now);
        // What this call found it reports itself.
        s.pending = false;
        s.armed = true;
        s.aged
            .iter()
            .map(|id| AgedFlow {
                rule: *id,
                context: s.rules[id].context,
            })
            .collect()
    }

    /// Rule `id`'s aging at `now`, `None` when it has no AGE action.
    fn query_at(&self, id: u32, now: u64) -> Option<AgeQuery> {
        let mut s = self.lock();
        self.scan(&mut s, now);
        let e = s.rules.get(&id)?;
        let secs = e.cell.idle(now) / self.hz;
        Some(AgeQuery {
            aged: e.aged,
            sec_since_last_hit_valid: true,
            sec_since_last_hit: secs.min(MAX_AGE_TIMEOUT as u64) as u32,
        })
    }

    /// One periodic scan: whether to raise the event, and whether to go on.
    fn tick(&self, now: u64) -> (bool, bool) {
        let mut s = self.lock();
        if s.rules.is_empty() {
            s.watched = false;
            return (false, false);
        }
        self.scan(&mut s, now);
        (std::mem::take(&mut s.pending), true)
    }
}

/// The tables the aging thread scans, and whether it runs.
static WATCHED: Mutex<(Vec<Weak<Aging>>, bool)> = Mutex::new((Vec::new(), false));

/// Has the aging thread scan `a` (started if it is not running); false if it cannot start.
fn watch(a: Weak<Aging>) -> bool {
    let mut w = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
    if !w.0.iter().any(|t| t.ptr_eq(&a)) {
        w.0.push(a);
    }
    if !w.1 {
        match std::thread::Builder::new()
            .name("rpdk-flow-age".into())
            .spawn(run)
        {
            Ok(_) => w.1 = true,
            Err(_) => {
                w.0.pop();
                return false;
            }
        }
    }
    true
}

/// The aging thread: every [`SCAN_PERIOD`], scans the tables that have AGE rules and raises
/// their events; ends when no table has any.
fn run() {
    loop {
        std::thread::sleep(SCAN_PERIOD);
        let tables: Vec<Arc<Aging>> = {
            let mut w = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
            w.0.retain(|t| t.strong_count() > 0);
            if w.0.is_empty() {
                w.1 = false;
                return;
            }
            w.0.iter().filter_map(Weak::upgrade).collect()
        };
        let now = rpdk_eal::time::rdtsc();
        let mut some_done = false;
        for a in &tables {
            let (raise, go_on) = a.tick(now);
            if raise {
                callback_process(a.port, EthEvent::FlowAged);
            }
            some_done |= !go_on;
        }
        drop(tables);
        if some_done {
            // Tables without AGE rules leave (unless a rule came since: `watched` again).
            let mut w = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
            w.0.retain(|t| t.upgrade().is_some_and(|a| a.lock().watched));
        }
    }
}

impl FlowTable {
    /// The aged rules (`rte_flow_get_aged_flows`): rules with an AGE action that saw no
    /// packet for their timeout, in the order they aged; they stay aged until destroyed. The
    /// call scans the rules first, and arms `RTE_ETH_EVENT_FLOW_AGED` again for the next
    /// newly aged rule.
    pub fn get_aged_flows(&self) -> Vec<AgedFlow> {
        self.ages.aged_at(rpdk_eal::time::rdtsc())
    }

    /// The AGE action of rule `id` (`rte_flow_query` of AGE).
    pub fn query_age(&self, id: u32) -> Result<AgeQuery, FlowError> {
        if self.rule(id).is_none() {
            return Err(FlowError::new(
                ErrorType::Handle,
                Some(Cause::Rule(id)),
                format!("no flow rule #{id}"),
            )
            .with_errno(libc::ENOENT));
        }
        self.ages
            .query_at(id, rpdk_eal::time::rdtsc())
            .ok_or_else(|| {
                FlowError::new(
                    ErrorType::Action,
                    Some(Cause::Rule(id)),
                    "the rule has no AGE action",
                )
                .with_errno(libc::ENOTSUP)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_age_after_their_timeout_by_a_controlled_clock() {
        let a = Aging::new(0);
        a.quiet.store(true, Ordering::Relaxed);
        let hz = a.hz;
        let t0 = 1000 * hz;
        let (c1, c2) = (Arc::new(AgeCell::new(t0)), Arc::new(AgeCell::new(t0)));
        a.add(1, c1.clone(), 2, Some(77));
        a.add(2, c2.clone(), 5, None);
        // Rule 2 is hit at 4 s; rule 1 never.
        assert!(a.aged_at(t0 + hz).is_empty());
        c2.touch(t0 + 4 * hz);
        let q = a.query_at(1, t0 + hz + hz / 2).unwrap();
        assert_eq!((q.aged, q.sec_since_last_hit_valid), (false, true));
        assert_eq!(q.sec_since_last_hit, 1);
        let aged = a.aged_at(t0 + 2 * hz + hz / 100);
        assert_eq!(
            aged,
            [AgedFlow {
                rule: 1,
                context: Some(77)
            }]
        );
        assert!(a.query_at(1, t0 + 3 * hz).unwrap().aged);
        // Rule 2's timeout counts from its hit.
        assert_eq!(a.aged_at(t0 + 8 * hz).len(), 1);
        assert_eq!(a.aged_at(t0 + 9 * hz + hz / 100).len(), 2);
        // Hits after aging do not bring it back; destroy does remove it.
        c1.touch(t0 + 9 * hz);
        assert!(a.query_at(1, t0 + 9 * hz).unwrap().aged);
        a.remove(1);
        assert_eq!(
            a.aged_at(t0 + 10 * hz),
            [AgedFlow {
                rule: 2,
                context: None
            }]
        );
        assert!(a.query_at(1, t0).is_none());
        // The event is raised once until the next get_aged_flows.
        a.add(3, Arc::new(AgeCell::new(t0 + 10 * hz)), 1, None);
        a.add(4, Arc::new(AgeCell::new(t0 + 10 * hz)), 2, None);
        assert_eq!(a.tick(t0 + 11 * hz + hz / 100), (true, true));
        assert_eq!(a.tick(t0 + 12 * hz + hz / 100), (false, true), "not armed");
        assert_eq!(a.aged_at(t0 + 12 * hz + hz / 100).len(), 3);
        a.add(5, Arc::new(AgeCell::new(t0 + 12 * hz)), 1, None);
        assert_eq!(a.tick(t0 + 13 * hz + hz / 100), (true, true), "armed again");
        a.clear();
        assert_eq!(a.tick(t0), (false, false), "no rules: the thread ends");
    }
}
