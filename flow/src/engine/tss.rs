//! One group's classifier: tuple space search with tuple merging and priority pruning, and a
//! list for the rules it cannot hash.
//!
//! A packet's headers are gathered once per pattern shape (the header item types in order):
//! each item's header block end to end, as 64-bit words. A tuple is a shape and a mask over
//! those words; its rules sit in one hash table keyed by the masked words, a bucket holding
//! the rules with the same key in (priority, creation) order. A tuple's mask may hash fewer bits
//! than its rules match (tuple merging, after TupleMerge): a rule goes into the most specific
//! existing tuple of its shape whose mask it covers and whose bucket for it has fewer than
//! [`LIMIT`] rules; failing that, a new tuple hashes its whole bytes without ports and with
//! addresses cut to 16 bits (IPv4) or 64 (IPv6); if that one is full, all its whole bytes; and
//! if that one holds its key too, exactly the bits the rule matches (those last two take any
//! number of rules per key). So a few tuples hold many prefix lengths and port classes, and
//! each candidate in a bucket is checked whole (masked words, ranges, metadata). Tuples are
//! visited in the order of the best rule they hold; the search stops at the first whose best
//! cannot beat the match so far. Rules with INVERT, ANY or RAW go to a list checked in order by
//! the reference matcher.

use super::compile::{Compiled, Flat, KEY_WORDS, WordRange, gather, resolve};
use crate::item::ItemType;
use crate::packet::{Layers, Meta};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;

/// A tuple table's key: the hashed words, and their hash, computed once per probe for both
/// the filter and the table.
#[derive(Clone, Copy)]
struct Key {
    w: [u64; KEY_WORDS],
    h: u64,
}

impl PartialEq for Key {
    /// Word by word without a branch (a derived `==` calls `memcmp` on the lookup path). The
    /// hash follows from the words, so it is not compared.
    #[inline(always)]
    fn eq(&self, o: &Key) -> bool {
        self.w.iter().zip(&o.w).fold(0, |a, (x, y)| a | (x ^ y)) == 0
    }
}

impl Eq for Key {}

/// One round of the key hash.
#[inline(always)]
fn round(h: u64, x: u64) -> u64 {
    (h.rotate_left(23) ^ x).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The hash of the first `N` words and one more round (the words after them are 0).
#[inline(always)]
fn mix<const N: usize>(w: &[u64; KEY_WORDS]) -> u64 {
    let mut h = 0u64;
    for &x in &w[..N] {
        h = round(h, x);
    }
    round(h, 0)
}

impl Key {
    /// The key of a tuple hashing `n` words (the others are 0), with its hash: the tuple's
    /// words and one round more, the loop unrolled for each count.
    #[inline(always)]
    fn new(w: [u64; KEY_WORDS], n: usize) -> Key {
        let h = match n {
            0 | 1 => mix::<1>(&w),
            2 => mix::<2>(&w),
            3 => mix::<3>(&w),
            4 => mix::<4>(&w),
            5 => mix::<5>(&w),
            _ => mix::<KEY_WORDS>(&w),
        };
        Key { w, h }
    }
}

impl Hash for Key {
    #[inline(always)]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.h);
    }
}

/// A tuple's filter: a byte per slot of a power-of-two table, so that a packet skips most of
/// the tuples that cannot hold its key, or cannot hold a rule better than its match so far,
/// with one read instead of a hash-table probe. A slot holds the best [`band`] among the keys
/// of the tuple that hash there ([`NO_BAND`] when none does), with a count per slot for
/// removals. Once a packet has a match, a key whose band is worse is not probed: with many
/// rules a probe is a cache miss or more, and in `flow_lookup`'s trace of 100,000 rules, 55%
/// of the keys found after the first match held only worse rules.
#[derive(Clone)]
struct Filter {
    counts: Vec<u16>,
    /// Per slot, a band at or below the best band of its keys. It may be stale only
    /// downwards (a removal leaves it), so it never skips a key that holds a better rule.
    bands: Vec<u8>,
    keys: usize,
    /// Slots - 1 (0 while there are none: then `bands` is one `NO_BAND`, and nothing passes).
    mask: usize,
}

/// A slot no key hashes to.
const NO_BAND: u8 = u8::MAX;

/// A priority on a log scale with 3 bits of mantissa (0-7 as they are, then 8 steps per power
/// of two, up to 239): non-decreasing in the priority, so a band above another is a worse
/// priority.
#[inline(always)]
fn band(prio: u32) -> u8 {
    if prio < 8 {
        prio as u8
    } else {
        let e = prio.ilog2();
        (8 * (e - 2) + ((prio >> (e - 3)) & 7)) as u8
    }
}

impl Default for Filter {
    fn default() -> Filter {
        Filter {
            counts: Vec::new(),
            bands: vec![NO_BAND],
            keys: 0,
            mask: 0,
        }
    }
}

impl Filter {
    #[inline(always)]
    fn slot(&self, h: u64) -> usize {
        (h >> 40) as usize & self.mask
    }

    /// Whether a key hashing to `h` may be held with a rule of band `band` or better.
    #[inline(always)]
    fn may_beat(&self, h: u64, band: u8) -> bool {
        self.bands[self.slot(h)] <= band
    }

    /// A new key `h` whose best rule is of band `b`; `all`, the other keys and their bands,
    /// is read only when the table grows.
    fn add(&mut self, h: u64, b: u8, all: impl Iterator<Item = (u64, u8)>) {
        self.keys += 1;
        if self.keys * 8 > self.counts.len() {
            let n = (self.keys * 16).next_power_of_two().max(512);
            self.counts = vec![0; n];
            self.bands = vec![NO_BAND; n];
            self.mask = n - 1;
            for (k, kb) in all {
                self.set(k, kb);
            }
        }
        self.set(h, b);
    }

    fn set(&mut self, h: u64, b: u8) {
        let i = self.slot(h);
        self.counts[i] = self.counts[i].saturating_add(1);
        self.lower(h, b);
    }

    /// Key `h` now holds a rule of band `b`.
    fn lower(&mut self, h: u64, b: u8) {
        let i = self.slot(h);
        self.bands[i] = self.bands[i].min(b);
    }

    fn remove(&mut self, h: u64) {
        self.keys -= 1;
        let i = self.slot(h);
        // A saturated count stays set: the filter may only err towards a probe.
        if self.counts[i] != u16::MAX {
            self.counts[i] -= 1;
            if self.counts[i] == 0 {
                self.bands[i] = NO_BAND;
            }
        }
    }
}

/// Takes the one word `Key` writes and spreads its high bits down.
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    #[inline(always)]
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    #[inline(always)]
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
    #[inline(always)]
    fn write_u32(&mut self, v: u32) {
        self.0 = (v as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

pub(crate) type Map<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

/// Most rules in one bucket of a merged tuple before a rule looks for a more specific tuple
/// (the last tier, a tuple of a rule's whole bytes or of its exact bits, takes any number).
/// One: a packet that finds a key in a merged tuple then checks one rule, not a row of them
/// that differ in the bits the tuple does not hash. With 100,000 ClassBench-like rules (41
/// tuples instead of 22 with a limit of 16, before the exact tier), callgrind's cache model
/// counts 19 first-level and 0.7 last-level misses per packet instead of 24 and 1.2, at the
/// same instruction count; 1,000 and 10,000 rules are level.
pub(crate) const LIMIT: usize = 1;

/// The rules of one key in (priority, creation) order. The first sits in the hash table's slot
/// beside its key, so the usual bucket of one rule costs no pointer chase.
#[derive(Clone)]
struct Bucket {
    head: Entry,
    rest: Vec<Entry>,
}

impl Bucket {
    fn len(&self) -> usize {
        1 + self.rest.len()
    }

    #[inline(always)]
    fn iter(&self) -> impl Iterator<Item = &Entry> {
        std::iter::once(&self.head).chain(self.rest.iter())
    }

    fn insert(&mut self, e: Entry) {
        if e.order < self.head.order {
            let old = std::mem::replace(&mut self.head, e);
            self.rest.insert(0, old);
        } else {
            let at = self.rest.partition_point(|x| x.order < e.order);
            self.rest.insert(at, e);
        }
    }

    /// Removes rule `id`; whether it was there.
    fn remove(&mut self, id: u32) -> bool {
        if self.head.rule.id == id {
            if !self.rest.is_empty() {
                self.head = self.rest.remove(0);
            }
            return true;
        }
        match self.rest.iter().position(|x| x.rule.id == id) {
            Some(i) => {
                self.rest.remove(i);
                true
            }
            None => false,
        }
    }
}

#[derive(Clone, Default)]
struct Tuple {
    shape: u16,
    mask: Vec<(u8, u64)>,
    buckets: Map<Key, Bucket>,
    filter: Filter,
    /// The orders of the rules it holds, to know its best.
    orders: BTreeMap<(u32, u64), ()>,
}

/// Words a bucket entry checks in place; rules with more (or with ranges or metadata items)
/// are checked through their compiled form.
const INLINE: usize = 4;

/// One-word ranges a bucket entry checks in place (a 5-tuple rule's two port ranges).
const INLINE_RANGES: usize = 2;

/// A rule in a bucket, with what its check needs in place (one read, no pointer chase).
#[derive(Clone)]
struct Entry {
    order: (u32, u64),
    n: u8,
    /// How many of `ranges` are the rule's.
    nr: u8,
    /// Other ranges, metadata, more than `INLINE` words or `INLINE_RANGES` one-word ranges:
    /// check `rule` too.
    more: bool,
    ranges: [WordRange; INLINE_RANGES],
    idx: [u8; INLINE],
    mask: [u64; INLINE],
    val: [u64; INLINE],
    rule: Arc<Compiled>,
}

impl Entry {
    fn new(r: &Arc<Compiled>, f: &super::compile::Fast) -> Entry {
        let mut e = Entry {
            order: r.order,
            n: f.words.len().min(INLINE) as u8,
            nr: f.word_ranges.len().min(INLINE_RANGES) as u8,
            more: f.words.len() > INLINE
                || f.word_ranges.len() > INLINE_RANGES
                || !f.ranges.is_empty()
                || !f.metas.is_empty(),
            ranges: [WordRange::ANY; INLINE_RANGES],
            idx: [0; INLINE],
            mask: [0; INLINE],
            val: [0; INLINE],
            rule: r.clone(),
        };
        for (i, &(w, m, v)) in f.words.iter().take(INLINE).enumerate() {
            e.idx[i] = w;
            e.mask[i] = m;
            e.val[i] = v;
        }
        for (i, r) in f.word_ranges.iter().take(INLINE_RANGES).enumerate() {
            e.ranges[i] = *r;
        }
        e
    }

    #[inline(always)]
    fn matches(&self, flat: &Flat, meta: &Meta) -> bool {
        for i in 0..self.n as usize {
            if flat.word(self.idx[i] as usize) & self.mask[i] != self.val[i] {
                return false;
            }
        }
        for r in &self.ranges[..self.nr as usize] {
            if !r.matches(flat) {
                return false;
            }
        }
        !self.more
            || self
                .rule
                .fast
                .as_ref()
                .is_some_and(|f| f.matches(flat, meta))
    }
}

/// What the lookup reads of a tuple, in the order tuples are visited.
#[derive(Clone, Copy)]
struct Probe {
    best: (u32, u64),
    tuple: u32,
    shape: u16,
    /// The shape's bit in the lookup's shape sets (0 past the first `RELATED` shapes).
    bit: u64,
    n: u8,
    idx: [u8; KEY_WORDS],
    mask: [u64; KEY_WORDS],
}

/// Shapes whose gathered headers one lookup keeps.
const CACHED: usize = 4;

/// Where lookups gather a packet's headers: made once per burst (or frame) and handed down, so
/// that no packet pays for zeroing it.
pub(crate) struct Scratch {
    flats: [Flat; CACHED],
}

impl Default for Scratch {
    fn default() -> Scratch {
        Scratch {
            flats: [Flat::ZERO; CACHED],
        }
    }
}

/// Shapes whose relations [`Shape`] records (the lookup caches the headers of these only).
const RELATED: usize = 64;

/// A pattern shape (its header item types in order) as the lookup resolves it.
#[derive(Clone)]
struct Shape {
    items: Vec<ItemType>,
    /// Each item's block length.
    lens: Vec<u8>,
    /// Of the group's first [`RELATED`] shapes, one bit each: those that begin with this one
    /// (itself included), which a packet without this one's layers cannot have either ...
    ext: u64,
    /// ... and those this one begins with (itself included), whose gathered headers are the
    /// start of this one's: the same first layer, the same blocks at the same places.
    pre: u64,
}

/// A group's rules, ready to classify.
#[derive(Clone, Default)]
pub(crate) struct Group {
    shapes: Vec<Shape>,
    tuples: Vec<Tuple>,
    /// Where each hashed rule is: tuple and key.
    placed: HashMap<u32, (usize, Key)>,
    /// The tuples by their best rule's order; empty tuples are left out.
    order: Vec<Probe>,
    slow: Vec<Arc<Compiled>>,
    rules: usize,
}

impl Group {
    pub fn is_empty(&self) -> bool {
        self.rules == 0
    }

    /// How many tuples (non-empty), shapes and slow-path rules there are.
    pub fn stats(&self) -> (usize, usize, usize) {
        (self.order.len(), self.shapes.len(), self.slow.len())
    }

    fn reorder(&mut self) {
        self.order = self
            .tuples
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                let &best = t.orders.keys().next()?;
                let mut p = Probe {
                    best,
                    tuple: i as u32,
                    shape: t.shape,
                    bit: if (t.shape as usize) < RELATED {
                        1 << t.shape
                    } else {
                        0
                    },
                    n: t.mask.len() as u8,
                    idx: [0; KEY_WORDS],
                    mask: [0; KEY_WORDS],
                };
                for (k, &(w, m)) in t.mask.iter().enumerate() {
                    p.idx[k] = w;
                    p.mask[k] = m;
                }
                Some(p)
            })
            .collect();
        self.order.sort_unstable_by_key(|p| (p.best, p.tuple));
    }

    /// Adds a shape and records how it relates to the others.
    fn add_shape(&mut self, items: &[ItemType]) -> usize {
        let j = self.shapes.len();
        let bit = |i: usize| if i < RELATED { 1u64 << i } else { 0 };
        let mut new = Shape {
            items: items.to_vec(),
            lens: items.iter().map(|t| t.spec_len() as u8).collect(),
            ext: bit(j),
            pre: bit(j),
        };
        for (i, s) in self.shapes.iter_mut().enumerate() {
            if items.starts_with(&s.items) {
                new.pre |= bit(i);
                s.ext |= bit(j);
            }
            if s.items.starts_with(items) {
                new.ext |= bit(i);
                s.pre |= bit(j);
            }
        }
        self.shapes.push(new);
        j
    }

    /// The tuple of `shape` hashing `mask`, if there is one.
    fn find(&self, shape: u16, mask: &[(u8, u64)]) -> Option<usize> {
        self.tuples
            .iter()
            .position(|t| t.shape == shape && t.mask == mask)
    }

    /// The tuple of `shape` hashing `mask`, made if there is none.
    fn tuple(&mut self, shape: u16, mask: &[(u8, u64)]) -> usize {
        match self.find(shape, mask) {
            Some(i) => i,
            None => {
                self.tuples.push(Tuple {
                    shape,
                    mask: mask.to_vec(),
                    ..Tuple::default()
                });
                self.tuples.len() - 1
            }
        }
    }

    pub fn insert(&mut self, r: Arc<Compiled>) {
        self.rules += 1;
        let Some(fast) = &r.fast else {
            let at = self.slow.partition_point(|x| x.order < r.order);
            self.slow.insert(at, r);
            return;
        };
        let shape = match self.shapes.iter().position(|s| s.items == fast.shape) {
            Some(i) => i,
            None => self.add_shape(&fast.shape),
        } as u16;
        let room = |t: &Tuple| {
            t.buckets
                .get(&Key::new(fast.key(&t.mask), t.mask.len()))
                .is_none_or(|b| b.len() < LIMIT)
        };
        let bits = |m: &[(u8, u64)]| m.iter().map(|x| x.1.count_ones()).sum::<u32>();
        let best = self
            .tuples
            .iter()
            .enumerate()
            .filter(|(_, t)| t.shape == shape && fast.fits(&t.mask) && room(t))
            .max_by_key(|(i, t)| (bits(&t.mask), std::cmp::Reverse(*i)))
            .map(|(i, _)| i);
        let ti = match best {
            Some(i) => i,
            None => {
                // A tier's tuple is made only when the rule goes there.
                let free = |g: &Group, m: &[(u8, u64)]| {
                    g.find(shape, m).is_none_or(|i| room(&g.tuples[i]))
                };
                let exact: Vec<(u8, u64)> = fast.words.iter().map(|&(w, m, _)| (w, m)).collect();
                let mask = if free(self, &fast.relaxed) {
                    &fast.relaxed
                } else if exact.len() > KEY_WORDS || exact == fast.full || free(self, &fast.full) {
                    &fast.full
                } else {
                    &exact
                };
                self.tuple(shape, mask)
            }
        };
        let t = &mut self.tuples[ti];
        let key = Key::new(fast.key(&t.mask), t.mask.len());
        let before = t.orders.keys().next().copied();
        t.orders.insert(r.order, ());
        let e = Entry::new(&r, fast);
        let b = band(r.order.0);
        match t.buckets.get_mut(&key) {
            Some(bucket) => {
                bucket.insert(e);
                t.filter.lower(key.h, b);
            }
            None => {
                // The other keys are read only when the filter grows (not per insert).
                let all = t.buckets.iter().map(|(k, v)| (k.h, band(v.head.order.0)));
                t.filter.add(key.h, b, all);
                t.buckets.insert(
                    key,
                    Bucket {
                        head: e,
                        rest: Vec::new(),
                    },
                );
            }
        }
        self.placed.insert(r.id, (ti, key));
        if before.is_none_or(|b| r.order < b) {
            self.reorder();
        }
    }

    pub fn remove(&mut self, r: &Compiled) {
        let Some((ti, key)) = self.placed.remove(&r.id) else {
            if let Some(i) = self.slow.iter().position(|x| x.id == r.id) {
                self.slow.remove(i);
                self.rules -= 1;
            }
            return;
        };
        let t = &mut self.tuples[ti];
        let Some(bucket) = t.buckets.get_mut(&key) else {
            return;
        };
        let last = bucket.len() == 1;
        if !bucket.remove(r.id) {
            return;
        }
        if last {
            t.buckets.remove(&key);
            t.filter.remove(key.h);
        }
        let was_best = t.orders.keys().next() == Some(&r.order);
        t.orders.remove(&r.order);
        self.rules -= 1;
        if was_best {
            self.reorder();
        }
    }

    /// The best rule matching the packet whose order is after `floor`.
    #[inline]
    pub fn lookup(
        &self,
        l: &Layers<'_>,
        meta: &Meta,
        floor: Option<(u32, u64)>,
        scratch: &mut Scratch,
    ) -> Option<&Arc<Compiled>> {
        let mut best: Option<&Arc<Compiled>> = None;
        // The best rule's order, kept here so that pruning never reads the rule itself.
        let mut best_order = (u32::MAX, u64::MAX);
        // Its band (below NO_BAND before a match, so that every key that may be held passes).
        let mut best_band = NO_BAND - 1;
        // The shapes (bits, of the first RELATED) whose headers are gathered, in which slot,
        // and the shapes the packet does not have; the shapes each slot holds.
        let (mut have, mut fail) = (0u64, 0u64);
        let mut slot_of = [0u8; RELATED];
        let mut owner = [0u64; CACHED];
        let flats = &mut scratch.flats;
        let mut next = 0;
        for p in &self.order {
            if best_order < p.best {
                break;
            }
            let (sh, bit) = (p.shape as usize, p.bit);
            if fail & bit != 0 {
                continue;
            }
            let slot = if have & bit != 0 {
                slot_of[sh % RELATED] as usize % CACHED
            } else {
                let shape = &self.shapes[sh];
                let Some(k) = resolve(&shape.items, l) else {
                    // Nor does it have any shape that begins with this one.
                    fail |= shape.ext;
                    continue;
                };
                let s = next;
                next = (next + 1) % CACHED;
                have &= !owner[s];
                gather(&shape.lens, k, l, &mut flats[s]);
                // The shapes this one begins with read the same bytes.
                let new = shape.pre & !have;
                owner[s] = new;
                have |= new;
                let mut b = new;
                while b != 0 {
                    slot_of[b.trailing_zeros() as usize] = s as u8;
                    b &= b - 1;
                }
                s
            };
            let flat = &flats[slot];
            let mut key = [0u64; KEY_WORDS];
            for ((k, &w), &m) in key.iter_mut().zip(&p.idx).zip(&p.mask).take(p.n as usize) {
                *k = flat.word(w as usize) & m;
            }
            let key = Key::new(key, p.n as usize);
            let t = &self.tuples[p.tuple as usize];
            if !t.filter.may_beat(key.h, best_band) {
                continue;
            }
            let Some(bucket) = t.buckets.get(&key) else {
                continue;
            };
            for e in bucket.iter() {
                if best_order < e.order {
                    break;
                }
                if floor.is_some_and(|f| e.order <= f) {
                    continue;
                }
                if e.matches(flat, meta) {
                    best = Some(&e.rule);
                    best_order = e.order;
                    best_band = band(e.order.0);
                    break;
                }
            }
        }
        for r in &self.slow {
            if best_order < r.order {
                break;
            }
            if floor.is_some_and(|f| r.order <= f) {
                continue;
            }
            if r.pattern.matches(l, meta) {
                best = Some(r);
                break;
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::{NO_BAND, band};

    #[test]
    fn bands_never_decrease_and_stay_below_no_band() {
        let mut prev = 0;
        for p in (0..70_000).chain([u32::MAX / 2, u32::MAX - 1, u32::MAX]) {
            let b = band(p);
            assert!(
                b >= prev && b < NO_BAND - 1,
                "priority {p}: band {b} after {prev}"
            );
            prev = b;
        }
        assert_eq!(
            (band(7), band(8), band(16), band(17), band(18)),
            (7, 8, 16, 16, 17)
        );
        assert_eq!(band(u32::MAX), 239);
    }
}
