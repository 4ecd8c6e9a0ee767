//! A rule compiled for the engine: its pattern as the reference matcher takes it, its tuple-table
//! form when it has one, and its actions resolved (counters, RSS queues and key).

use crate::action::{Action, Attr};
use crate::edit::Edit;
use crate::item::{Field, ItemType};
use crate::matcher::{ItemMatch, PatternMatch};
use crate::meter::{Color, Meter, MeterPolicy};
use crate::packet::{Layers, Meta};
use crate::rewrite::Rewrite;
use rpdk_ethdev::RssHf;
use rpdk_ethdev::rss::DEFAULT_RSS_KEY;
use std::sync::Arc;

/// Key words of a tuple table.
pub(crate) const KEY_WORDS: usize = 6;

/// Which side of the port a rule is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Received packets.
    Ingress,
    /// Packets sent.
    Egress,
    /// The switch domain (every port sharing the table), at reception.
    Transfer,
}

impl Direction {
    pub(crate) fn of(attr: &Attr) -> Direction {
        if attr.transfer {
            Direction::Transfer
        } else if attr.egress {
            Direction::Egress
        } else {
            Direction::Ingress
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// An action as the engine runs it.
#[derive(Clone, Debug)]
pub(crate) enum Step {
    Count(u32),
    Mark(u32),
    Flag,
    Queue(u16),
    Drop,
    Port(u16),
    Jump(u32),
    Passthru,
    Rss {
        level: u32,
        types: RssHf,
        key: Box<[u8]>,
        queues: Box<[u16]>,
    },
    /// SET_META: the packet's metadata, under a mask.
    SetMeta {
        data: u32,
        mask: u32,
    },
    /// SET_TAG: tag `index`, under a mask.
    SetTag {
        index: u8,
        data: u32,
        mask: u32,
    },
    /// A packet-modifying action (`crate::edit`).
    Edit(Edit),
    /// A MODIFY_FIELD into the metadata (MARK, META, TAG): run in place, as SET_META is.
    ModifyMeta(Rewrite),
    /// AGE: the rule's last hit (the cell is the table's, see `age.rs`).
    Age(Arc<crate::age::AgeCell>),
    /// A meter and its policy's steps per colour.
    Meter {
        meter: Arc<Meter>,
        policy: Box<[Box<[Step]>; 3]>,
    },
}

impl Step {
    /// Whether it decides where the packet goes (or that matching goes on elsewhere).
    fn is_fate(&self) -> bool {
        // A meter is not: its policy may give the fate, or leave it to the rule's own.
        !matches!(
            self,
            Step::Count(_)
                | Step::Mark(_)
                | Step::Flag
                | Step::Meter { .. }
                | Step::SetMeta { .. }
                | Step::SetTag { .. }
                | Step::Edit(_)
                | Step::ModifyMeta(_)
                | Step::Age(_)
        )
    }
}

/// The most bytes of headers a tuple-table rule looks at (its items' blocks end to end).
pub(crate) const FLAT_WORDS: usize = 16;

/// A packet's headers for one shape: each item's block, end to end, read as little-endian
/// words. Only the bytes of the shape's blocks are written by [`gather`]: the bytes after them
/// keep what an earlier packet left, which no mask covers (a rule's masks lie within its items'
/// blocks), so nothing is zeroed per packet.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
pub(crate) struct Flat(pub [u8; FLAT_WORDS * 8]);

impl Flat {
    pub const ZERO: Flat = Flat([0; FLAT_WORDS * 8]);

    /// Word `i` (below `FLAT_WORDS`).
    #[inline(always)]
    pub fn word(&self, i: usize) -> u64 {
        let at = (i % FLAT_WORDS) * 8;
        u64::from_le_bytes(self.0[at..at + 8].try_into().expect("8 bytes"))
    }
}

/// A rule's block of bytes as words, as [`Flat::word`] reads a packet's.
type Words = [u64; FLAT_WORDS];

/// The tuple-table form of a rule: its header items' blocks laid end to end ("flat"), the bits
/// it matches exactly as masked words, its ranges, and its metadata items.
#[derive(Clone, Debug)]
pub(crate) struct Fast {
    /// Header item types, in order: the pattern's shape.
    pub shape: Vec<ItemType>,
    /// (word, mask, value) of every word with exactly matched bits.
    pub words: Vec<(u8, u64, u64)>,
    /// Range fields within one word of the flat block (ports, protocol, TCI, ...), checked on
    /// the word ...
    pub word_ranges: Vec<WordRange>,
    /// ... and the others (IPv6 addresses, fields across two words): field over the flat
    /// block, its mask, lo, hi.
    pub ranges: Vec<(Field, u128, u128, u128)>,
    /// Metadata items.
    pub metas: Vec<ItemMatch>,
    /// Tuple masks to place the rule in: the whole bytes it matches (`full`), and that with
    /// ports and the low address bytes left to the check (`relaxed`).
    pub full: Vec<(u8, u64)>,
    pub relaxed: Vec<(u8, u64)>,
}

/// A range on a field that lies in one word of the flat block: the field's value is
/// `(swap_bytes(word >> shift) >> down) & mask` (its bytes are big-endian in the packet, the
/// word little-endian), and it matches when `value - lo <= span` (wrapping: below `lo` is
/// large).
#[derive(Clone, Copy, Debug)]
pub(crate) struct WordRange {
    word: u8,
    shift: u8,
    down: u8,
    mask: u64,
    lo: u64,
    span: u64,
}

impl WordRange {
    /// A range every packet is in (value 0 under mask 0), to fill fixed arrays.
    pub(crate) const ANY: WordRange = WordRange {
        word: 0,
        shift: 0,
        down: 0,
        mask: 0,
        lo: 0,
        span: 0,
    };

    /// The word form of range `lo..=hi` on field `f` (offset within the flat block) under
    /// mask `m`, when it has one.
    fn of(f: &Field, m: u128, lo: u128, hi: u128) -> Option<WordRange> {
        let (first, last) = (f.off / 8, (f.off + f.len).checked_sub(1)? / 8);
        if f.len == 0 || f.len > 8 || first != last || first >= FLAT_WORDS || lo > hi {
            return None;
        }
        let tz = f.bits.trailing_zeros();
        let (mask, lo, hi) = (
            u64::try_from(m).ok()?,
            u64::try_from(lo).ok()?,
            u64::try_from(hi).ok()?,
        );
        Some(WordRange {
            word: first as u8,
            shift: (f.off % 8 * 8) as u8,
            down: (64 - 8 * f.len as u32 + tz) as u8,
            mask,
            lo,
            span: hi - lo,
        })
    }

    #[inline(always)]
    pub(crate) fn matches(&self, flat: &Flat) -> bool {
        let w = flat.word(self.word as usize);
        let v = ((w >> self.shift).swap_bytes() >> self.down) & self.mask;
        v.wrapping_sub(self.lo) <= self.span
    }
}

fn to_words(bytes: &[u8]) -> Words {
    let mut w = [0u64; FLAT_WORDS];
    for (i, c) in bytes.chunks(8).enumerate().take(FLAT_WORDS) {
        let mut b = [0u8; 8];
        b[..c.len()].copy_from_slice(c);
        w[i] = u64::from_le_bytes(b);
    }
    w
}

fn nonzero(w: &Words) -> Vec<(u8, u64)> {
    w.iter()
        .enumerate()
        .filter(|(_, m)| **m != 0)
        .map(|(i, &m)| (i as u8, m))
        .collect()
}

#[derive(Debug)]
pub(crate) struct Compiled {
    pub id: u32,
    /// (priority, creation sequence): the lower wins; also the tie-break.
    pub order: (u32, u64),
    pub group: u32,
    pub dir: Direction,
    pub pattern: PatternMatch,
    pub fast: Option<Fast>,
    pub steps: Vec<Step>,
}

/// Resolves what the engine needs of the actions; `counter` gives the counter of COUNT action
/// `i` (in order) or of an indirect handle, `meter` a METER's meter and its policy.
pub(crate) fn steps(
    actions: &[Action],
    nb_rx_queues: u16,
    mut counter: impl FnMut(&Action) -> Option<u32>,
    mut meter: impl FnMut(u32) -> Option<(Arc<Meter>, MeterPolicy)>,
) -> Vec<Step> {
    let mut out = Vec::new();
    // The tunnel actions, compiled together (each depends on what the ones before it left);
    // validation has checked them.
    let mut tunnels = crate::tunnel::compile(actions).into_iter();
    for a in actions {
        out.push(match a {
            // The table adds AGE's step with the rule's cell.
            Action::Void | Action::Age { .. } => continue,
            Action::Passthru => Step::Passthru,
            Action::Jump { group } => Step::Jump(*group),
            Action::Mark { id } => Step::Mark(*id),
            Action::Flag => Step::Flag,
            Action::Queue { index } => Step::Queue(*index),
            Action::Drop => Step::Drop,
            Action::Count { .. } | Action::Indirect { .. } => match counter(a) {
                Some(c) => Step::Count(c),
                None => continue,
            },
            Action::Meter { mtr_id } => match meter(*mtr_id) {
                Some((meter, policy)) => Step::Meter {
                    meter,
                    // Policies hold no COUNT or METER (checked when they are added).
                    policy: Box::new(Color::ALL.map(|c| {
                        steps(policy.of(c), nb_rx_queues, none_counter, none_meter).into()
                    })),
                },
                None => continue,
            },
            Action::SetMeta { data, mask } => Step::SetMeta {
                data: *data,
                mask: *mask,
            },
            Action::SetTag { data, mask, index } => Step::SetTag {
                index: *index,
                data: *data,
                mask: *mask,
            },
            Action::OfPopVlan => Step::Edit(Edit::PopVlan),
            Action::RawDecap(_)
            | Action::RawEncap(_)
            | Action::VxlanDecap
            | Action::VxlanEncap { .. }
            | Action::NvgreDecap
            | Action::NvgreEncap { .. } => match tunnels.next() {
                Some(t) => Step::Edit(Edit::Tunnel(Box::new(t))),
                None => continue,
            },
            Action::ModifyField(m) => match Rewrite::modify(m) {
                Some(r) if !r.changes_bytes() => Step::ModifyMeta(r),
                Some(r) => Step::Edit(Edit::Rewrite(r)),
                // Refused by validation.
                None => continue,
            },
            Action::PortId { id, .. } => Step::Port(*id as u16),
            Action::RepresentedPort { port_id } => Step::Port(*port_id),
            Action::Rss(r) => Step::Rss {
                level: r.level,
                types: if r.types == 0 {
                    RssHf::IP
                } else {
                    RssHf(r.types)
                },
                key: if r.key.is_empty() {
                    DEFAULT_RSS_KEY.to_vec().into()
                } else {
                    r.key.clone().into()
                },
                queues: if r.queues.is_empty() {
                    (0..nb_rx_queues).collect()
                } else {
                    r.queues.clone().into()
                },
            },
            // The header rewrites and VLAN actions.
            Action::SetMacSrc { .. }
            | Action::SetMacDst { .. }
            | Action::SetIpv4Src { .. }
            | Action::SetIpv4Dst { .. }
            | Action::SetIpv6Src { .. }
            | Action::SetIpv6Dst { .. }
            | Action::SetTpSrc { .. }
            | Action::SetTpDst { .. }
            | Action::SetTtl { .. }
            | Action::DecTtl
            | Action::SetIpv4Dscp { .. }
            | Action::SetIpv6Dscp { .. }
            | Action::OfPushVlan { .. }
            | Action::OfSetVlanVid { .. }
            | Action::OfSetVlanPcp { .. } => match Rewrite::of(a) {
                Some(r) => Step::Edit(Edit::Rewrite(r)),
                None => continue,
            },
        });
    }
    // A rule's actions act together, as a NIC applies them: the fate (at most one, checked
    // by validation) takes effect after the others wherever it stands in the list, so
    // `queue index 1 / count` counts and `drop / mark id 1` is the same as `mark id 1 / drop`.
    if let Some(i) = out.iter().position(Step::is_fate) {
        let fate = out.remove(i);
        out.push(fate);
    }
    out
}

/// A policy's actions have no counter (as fn items, so that `steps` recurses into one
/// instance).
fn none_counter(_: &Action) -> Option<u32> {
    None
}

/// ... and no meter.
fn none_meter(_: u32) -> Option<(Arc<Meter>, MeterPolicy)> {
    None
}

/// The tuple-table form of a pattern, or `None` when it needs the reference matcher (INVERT,
/// ANY, RAW, or headers past 128 bytes).
pub(crate) fn fast(p: &PatternMatch) -> Option<Fast> {
    if p.invert {
        return None;
    }
    let mut shape = Vec::new();
    let mut metas = Vec::new();
    let (mut mask, mut spec, mut full, mut relaxed) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut ranges, mut word_ranges) = (Vec::new(), Vec::new());
    for it in &p.items {
        match it.ty {
            ItemType::Any | ItemType::Raw => return None,
            t if t.is_header() => {
                shape.push(t);
                let base = mask.len();
                let len = t.spec_len();
                mask.extend_from_slice(&it.exact[..len]);
                spec.extend_from_slice(&it.spec[..len]);
                let whole: Vec<u8> = it.exact[..len]
                    .iter()
                    .map(|&m| if m == 0xff { 0xff } else { 0 })
                    .collect();
                let mut relax = whole.clone();
                match t {
                    ItemType::Udp | ItemType::Tcp | ItemType::Sctp => relax.fill(0),
                    ItemType::Ipv4 => {
                        relax[14..16].fill(0);
                        relax[18..20].fill(0);
                    }
                    ItemType::Ipv6 => {
                        relax[16..24].fill(0);
                        relax[32..40].fill(0);
                    }
                    _ => {}
                }
                full.extend_from_slice(&whole);
                relaxed.extend_from_slice(&relax);
                for &(fl, lo, hi) in &it.ranges {
                    let m = crate::item::get_field(&it.mask, fl);
                    let mut f = *fl;
                    f.off += base;
                    match WordRange::of(&f, m, lo, hi) {
                        Some(w) => word_ranges.push(w),
                        None => ranges.push((f, m, lo, hi)),
                    }
                }
            }
            _ => metas.push(it.clone()),
        }
    }
    if mask.len() > FLAT_WORDS * 8 {
        return None;
    }
    let (m, v) = (to_words(&mask), to_words(&spec));
    let words = m
        .iter()
        .zip(&v)
        .enumerate()
        .filter(|(_, (m, _))| **m != 0)
        .map(|(i, (&m, &v))| (i as u8, m, v & m))
        .collect();
    let full = nonzero(&to_words(&full));
    if full.len() > KEY_WORDS {
        return None;
    }
    Some(Fast {
        shape,
        words,
        word_ranges,
        ranges,
        metas,
        full,
        relaxed: nonzero(&to_words(&relaxed)),
    })
}

/// The first layer of a packet that a shape's items match in turn, or `None` when the packet
/// does not have them (an empty shape: every packet, at 0).
#[inline]
pub(crate) fn resolve(items: &[ItemType], l: &Layers<'_>) -> Option<usize> {
    let Some(&first) = items.first() else {
        return Some(0);
    };
    let k = crate::matcher::first_layer(l, first)?;
    if k + items.len() > l.len() {
        return None;
    }
    items
        .iter()
        .enumerate()
        .all(|(i, &t)| l.kind(k + i).matches(t))
        .then_some(k)
}

/// Gathers the headers of a shape resolved at layer `k` ([`resolve`]): each item's block
/// (`lens`, in order) from its layer, end to end, written straight into `flat`'s bytes (see
/// [`Flat`] for the rest).
#[inline]
pub(crate) fn gather(lens: &[u8], k: usize, l: &Layers<'_>, flat: &mut Flat) {
    let mut at = 0;
    for (i, &len) in lens.iter().enumerate() {
        let len = len as usize;
        copy_header(&mut flat.0[at..at + len], l.header(k + i));
        at += len;
    }
}

/// Copies what `h` has of an item's block into `to` (the rest stays 0), with constant-size
/// copies for the usual blocks (a variable one is a `memmove` call per header).
#[inline(always)]
fn copy_header(to: &mut [u8], h: &[u8]) {
    fn fixed<const N: usize>(to: &mut [u8], h: &[u8]) -> bool {
        match (<&mut [u8; N]>::try_from(to), h.get(..N)) {
            (Ok(t), Some(f)) => {
                t.copy_from_slice(f);
                true
            }
            _ => false,
        }
    }
    let done = match to.len() {
        4 => fixed::<4>(to, h),
        8 => fixed::<8>(to, h),
        14 => fixed::<14>(to, h),
        20 => fixed::<20>(to, h),
        40 => fixed::<40>(to, h),
        _ => false,
    };
    if !done {
        let n = to.len().min(h.len());
        to[..n].copy_from_slice(&h[..n]);
        to[n..].fill(0);
    }
}

impl Fast {
    /// The whole check of the rule against a packet's gathered headers.
    #[inline]
    pub fn matches(&self, flat: &Flat, meta: &Meta) -> bool {
        self.words
            .iter()
            .all(|&(w, m, v)| flat.word(w as usize) & m == v)
            && self.word_ranges.iter().all(|r| r.matches(flat))
            && (self.ranges.is_empty() || self.ranges_ok(flat))
            && self.metas.iter().all(|m| m.meta_matches(meta))
    }

    #[cold]
    fn ranges_ok(&self, flat: &Flat) -> bool {
        self.ranges.iter().all(|(f, m, lo, hi)| {
            let v = crate::item::get_field(&flat.0, f) & m;
            *lo <= v && v <= *hi
        })
    }

    /// The rule's key in a tuple of mask `tmask`.
    pub fn key(&self, tmask: &[(u8, u64)]) -> [u64; KEY_WORDS] {
        let mut k = [0u64; KEY_WORDS];
        for (slot, &(w, m)) in k.iter_mut().zip(tmask) {
            let v = self.words.iter().find(|x| x.0 == w).map_or(0, |x| x.2);
            *slot = v & m;
        }
        k
    }

    /// Whether a tuple of mask `tmask` may hold the rule: it hashes only bits the rule matches
    /// exactly.
    pub fn fits(&self, tmask: &[(u8, u64)]) -> bool {
        tmask.iter().all(|&(w, m)| {
            let rm = self.words.iter().find(|x| x.0 == w).map_or(0, |x| x.1);
            m & !rm == 0
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A word range gives the same answers as the byte-by-byte field read, for every field of
    /// the header items that fits in one word (partial-bit fields such as VLAN PCP and IPv4 DSCP
    /// included), at every offset in the flat block, for values around its bounds.
    #[test]
    fn word_ranges_read_fields_as_get_field_does() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut checked = 0;
        for t in [
            ItemType::Eth,
            ItemType::Vlan,
            ItemType::Ipv4,
            ItemType::Ipv6,
            ItemType::Udp,
            ItemType::Tcp,
            ItemType::Sctp,
            ItemType::Vxlan,
        ] {
            for fl in t.info().fields {
                for base in 0..8 {
                    let mut f = *fl;
                    f.off += base;
                    let full = crate::item::get_field(&[0xff; FLAT_WORDS * 8], &f);
                    for _ in 0..50 {
                        let (a, b) = (rnd() as u128 & full, rnd() as u128 & full);
                        let (lo, hi) = (a.min(b), a.max(b));
                        let m = if rnd() % 3 == 0 {
                            rnd() as u128 & full
                        } else {
                            full
                        };
                        let Some(w) = WordRange::of(&f, m, lo, hi) else {
                            continue;
                        };
                        for v in [lo, hi, lo.wrapping_sub(1), hi + 1, rnd() as u128 & full] {
                            let mut flat = Flat::ZERO;
                            for b in flat.0.iter_mut() {
                                *b = rnd() as u8;
                            }
                            crate::item::set_field(&mut flat.0, &f, v & full);
                            let got = crate::item::get_field(&flat.0, &f) & m;
                            let want = lo <= got && got <= hi;
                            assert_eq!(
                                w.matches(&flat),
                                want,
                                "{} {} at {}",
                                t.name(),
                                f.name,
                                f.off
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 10_000, "{checked} checks");
    }
}
