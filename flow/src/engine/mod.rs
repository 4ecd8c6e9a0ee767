//! The software engine: per direction, groups of rules in tuple tables, published to the
//! classifying lcores left-right, and the loop that runs a packet through groups and actions.

pub(crate) mod compile;
pub(crate) mod counters;
#[allow(unsafe_code)]
pub(crate) mod publish;
pub(crate) mod tss;

use crate::edit::Frame;
use crate::meter::{Color, ColorInputs};
use crate::packet::{Layer, Layers, Meta};
use compile::{Compiled, Direction, Step};
use counters::Counters;
use rpdk_ethdev::rss::hash_frame;
use std::sync::Arc;
pub(crate) use tss::Scratch;
use tss::{Group, Map};

/// Where a packet goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Fate {
    /// No rule decided: what the port does without rules (its RSS or queue 0 at rx; sent at
    /// tx).
    #[default]
    Default,
    /// To this rx queue (QUEUE, or RSS: the queue its hash picked).
    Queue(u16),
    /// Dropped by a rule.
    Drop,
    /// To this port's tx (PORT_ID, REPRESENTED_PORT).
    Port(u16),
    /// Matched no rule on an isolated port: the application must not see it.
    Isolated,
}

/// What the rules decided for one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Verdict {
    /// Where it goes.
    pub fate: Fate,
    /// MARK's id (the last one run), for `hash.fdir.hi`.
    pub mark: Option<u32>,
    /// FLAG ran (or MARK: both set `RTE_MBUF_F_RX_FDIR`).
    pub flag: bool,
    /// The RSS hash of an RSS action, for `hash.rss`.
    pub rss_hash: Option<u32>,
    /// A packet-modifying action could not change the packet (too short, no headroom): the
    /// fate is `Drop`.
    pub edit_failed: bool,
    /// The metadata after SET_META (or a MODIFY_FIELD into META) ran, for the mbuf's
    /// `rte_flow_dynfield_metadata` ([`crate::dynf_metadata_register`]).
    pub meta: Option<u32>,
}

/// Most rules a packet goes through (PASSTHRU and JUMP steps); past it, the packet takes the
/// default fate. Jump loops are refused at create, so only long PASSTHRU chains reach it.
pub(crate) const MAX_STEPS: usize = 256;

/// What a burst's packets are classified with: the counters, the calling thread's slot in
/// them, whether the port is isolated, and the TSC at the burst (for meters).
pub(crate) struct Ctx<'a> {
    pub counters: &'a Counters,
    pub slot: usize,
    pub isolated: bool,
    pub now: u64,
}

/// One direction's groups.
#[derive(Clone, Default)]
pub(crate) struct Domain {
    groups: Map<u32, Group>,
    rules: usize,
}

/// What the lcores read: the rules of each direction.
#[derive(Clone, Default)]
pub(crate) struct Engine {
    domains: [Domain; 3],
}

impl Engine {
    pub fn insert(&mut self, r: &Arc<Compiled>) {
        let d = &mut self.domains[r.dir.index()];
        d.groups.entry(r.group).or_default().insert(r.clone());
        d.rules += 1;
    }

    pub fn remove(&mut self, r: &Compiled) {
        let d = &mut self.domains[r.dir.index()];
        if let Some(g) = d.groups.get_mut(&r.group) {
            g.remove(r);
            d.rules -= 1;
            if g.is_empty() {
                d.groups.remove(&r.group);
            }
        }
    }

    pub fn clear(&mut self) {
        *self = Engine::default();
    }

    pub fn has_rules(&self, dir: Direction) -> bool {
        self.domains[dir.index()].rules != 0
    }

    /// (group, tuples, shapes, slow rules) of every group of a direction.
    pub fn stats(&self, dir: Direction) -> Vec<(u32, usize, usize, usize)> {
        let mut v: Vec<_> = self.domains[dir.index()]
            .groups
            .iter()
            .map(|(&g, grp)| {
                let (t, s, l) = grp.stats();
                (g, t, s, l)
            })
            .collect();
        v.sort_unstable();
        v
    }

    /// Runs one packet through the rules of `dir`; packet-modifying actions change `frame`.
    #[inline]
    pub fn run(
        &self,
        dir: Direction,
        frame: &mut impl Frame,
        mut meta: Meta,
        ctx: &Ctx<'_>,
        scratch: &mut Scratch,
    ) -> Verdict {
        let d = &self.domains[dir.index()];
        let len = frame.len();
        run(
            |g, l, meta, floor| {
                d.groups
                    .get(&g)?
                    .lookup(l, meta, floor, scratch)
                    .map(|r| &**r)
            },
            frame,
            &mut meta,
            &mut Packet {
                len,
                now: ctx.now,
                count: |c| ctx.counters.add(ctx.slot, c, len),
            },
            ctx.isolated,
        )
    }
}

/// What the steps of a packet need besides its headers: its length, the time (for meters) and
/// where COUNT adds.
pub(crate) struct Packet<C: FnMut(u32)> {
    pub len: u64,
    pub now: u64,
    pub count: C,
}

/// What comes after a step.
enum Next {
    /// The rule's next step.
    Step,
    /// The packet's fate is decided.
    Done,
    /// Lookup again: in this group, below this rule (PASSTHRU) or from the top (JUMP).
    Lookup(u32, Option<(u32, u64)>),
    /// The step at this index (of the steps run) is an edit: apply it, parse the packet
    /// again, and go on after it.
    Edit(usize),
}

/// The group/action loop, over any lookup (the engine's tuple tables, or the reference's list
/// in the tests). The packet is parsed once, and again after each edit that changes it.
#[inline]
pub(crate) fn run<'r>(
    mut lookup: impl FnMut(u32, &Layers<'_>, &Meta, Option<(u32, u64)>) -> Option<&'r Compiled>,
    frame: &mut impl Frame,
    meta: &mut Meta,
    pkt: &mut Packet<impl FnMut(u32)>,
    isolated: bool,
) -> Verdict {
    let mut v = Verdict::default();
    let mut group = 0;
    let mut floor = None;
    let mut matched = false;
    let mut color = None;
    // The rule being run and the step it goes on at, after an edit.
    let mut resume: Option<(&Compiled, usize)> = None;
    let mut left = MAX_STEPS;
    loop {
        let edit = {
            let l = Layers::parse(frame.bytes());
            let mut edit = None;
            while left > 0 {
                let (r, from) = match resume.take() {
                    Some(at) => at,
                    None => {
                        left -= 1;
                        let Some(r) = lookup(group, &l, meta, floor) else {
                            break;
                        };
                        matched = true;
                        (r, 0)
                    }
                };
                // A rule whose only action is its fate, QUEUE or DROP (an ACL's usual rule),
                // without the step loop's call: what `steps` would do for it.
                match &r.steps[from..] {
                    [Step::Queue(q)] => {
                        v.fate = Fate::Queue(*q);
                        return v;
                    }
                    [Step::Drop] => {
                        v.fate = Fate::Drop;
                        return v;
                    }
                    _ => {}
                }
                match steps(&r.steps[from..], r, &l, meta, pkt, &mut v, &mut color) {
                    // A rule without a fate (egress): the packet goes on as without rules.
                    Next::Step | Next::Done => return v,
                    Next::Lookup(g, f) => (group, floor) = (g, f),
                    Next::Edit(i) => {
                        edit = Some((r, from + i));
                        break;
                    }
                }
            }
            edit
        };
        let Some((r, at)) = edit else {
            break;
        };
        let Step::Edit(e) = &r.steps[at] else {
            unreachable!("Next::Edit names an edit step");
        };
        if frame.apply(e, meta).is_err() {
            v.fate = Fate::Drop;
            v.edit_failed = true;
            return v;
        }
        resume = Some((r, at + 1));
    }
    if !matched && isolated {
        v.fate = Fate::Isolated;
    }
    v
}

/// Runs the steps of rule `r` (or of a meter policy's colour inside it).
#[inline]
fn steps(
    steps_: &[Step],
    r: &Compiled,
    l: &Layers<'_>,
    meta: &mut Meta,
    pkt: &mut Packet<impl FnMut(u32)>,
    v: &mut Verdict,
    color: &mut Option<Color>,
) -> Next {
    for (i, s) in steps_.iter().enumerate() {
        match s {
            Step::Count(c) => (pkt.count)(*c),
            Step::Age(a) => a.touch(pkt.now),
            Step::Mark(id) => {
                v.mark = Some(*id);
                v.flag = true;
                meta.mark = Some(*id);
            }
            Step::Flag => v.flag = true,
            Step::Queue(q) => {
                v.fate = Fate::Queue(*q);
                return Next::Done;
            }
            Step::Drop => {
                v.fate = Fate::Drop;
                return Next::Done;
            }
            Step::Port(p) => {
                v.fate = Fate::Port(*p);
                return Next::Done;
            }
            Step::Rss {
                level,
                types,
                key,
                queues,
            } => {
                let frame = if *level >= 2 {
                    (l.outer_end..l.len())
                        .find(|&i| l.kind(i) == Layer::Eth)
                        .map_or(l.data, |i| l.header(i))
                } else {
                    l.data
                };
                let h = hash_frame(frame, *types, key);
                v.rss_hash = h;
                let h = h.unwrap_or(0);
                v.fate = Fate::Queue(queues[(h as usize & 127) % queues.len()]);
                return Next::Done;
            }
            Step::SetMeta { data, mask } => {
                meta.meta = (meta.meta & !mask) | (data & mask);
                v.meta = Some(meta.meta);
            }
            Step::ModifyMeta(m) => {
                crate::rewrite::apply_meta(m, l.data, meta);
                if m.sets_meta() {
                    v.meta = Some(meta.meta);
                }
            }
            Step::SetTag { index, data, mask } => {
                let t = &mut meta.tags[*index as usize];
                *t = (*t & !mask) | (data & mask);
            }
            Step::Edit(_) => return Next::Edit(i),
            Step::Jump(g) => return Next::Lookup(*g, None),
            Step::Passthru => return Next::Lookup(r.group, Some(r.order)),
            Step::Meter { meter, policy } => {
                let inputs = ColorInputs {
                    prev: *color,
                    ..ColorInputs::from_layers(l)
                };
                let c = meter.color(pkt.now, pkt.len.min(u32::MAX as u64) as u32, &inputs);
                *color = Some(c);
                match steps(&policy[c as usize], r, l, meta, pkt, v, color) {
                    Next::Step => {}
                    next => {
                        if v.fate == Fate::Drop {
                            meter.count_dropped(pkt.len.min(u32::MAX as u64) as u32);
                        }
                        return next;
                    }
                }
            }
        }
    }
    Next::Step
}
