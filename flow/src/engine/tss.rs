//! One group's classifier: tuple space search with priority pruning, and a list for the rules
//! it cannot hash.
//!
//! A tuple is a pattern shape (the header item types in order) and the set of header bytes a
//! rule matches whole (mask 0xff). Rules of one tuple sit in one hash table keyed by those
//! bytes; a bucket holds the rules with the same key, in (priority, creation) order, each with
//! its residual checks (bytes matched in part, such as a /20 prefix's third byte, ranges,
//! metadata items). Prefixes therefore share tuples by whole bytes (a /20 and a /17 both hash
//! two bytes), which keeps the number of tuples small. Tuples are visited in the order of the
//! best rule they hold, and the search stops at the first tuple whose best rule cannot beat
//! the match found so far. Rules with INVERT, ANY or RAW go to a list checked in order by the
//! reference matcher.

use super::compile::{Compiled, Extract, KEY_WORDS, read, resolve};
use crate::item::ItemType;
use crate::packet::{Layers, MAX_LAYERS, Meta};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;

/// A tuple table's key: the hashed words.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key([u64; KEY_WORDS]);

impl Hash for Key {
    #[inline(always)]
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut h = 0u64;
        for w in self.0 {
            h = (h.rotate_left(23) ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
        state.write_u64(h);
    }
}

/// Takes the one word `Key` writes and spreads its high bits down.
#[derive(Default)]
struct KeyHasher(u64);

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
}

type Map<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

#[derive(Clone, Default)]
struct Tuple {
    shape: u16,
    extracts: Vec<Extract>,
    buckets: Map<Key, Vec<Arc<Compiled>>>,
    /// The orders of the rules it holds, to know its best.
    orders: BTreeMap<(u32, u64), ()>,
}

/// A group's rules, ready to classify.
#[derive(Clone, Default)]
pub(crate) struct Group {
    shapes: Vec<Vec<ItemType>>,
    shape_rules: Vec<usize>,
    tuples: Vec<Tuple>,
    tuple_ids: HashMap<(u16, Vec<Extract>), usize>,
    /// Tuple indices by their best rule's order; empty tuples are left out.
    order: Vec<(u32, u64, usize)>,
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
            .filter_map(|(i, t)| t.orders.keys().next().map(|&(p, s)| (p, s, i)))
            .collect();
        self.order.sort_unstable();
    }

    pub fn insert(&mut self, r: Arc<Compiled>) {
        self.rules += 1;
        let Some(fast) = &r.fast else {
            let at = self.slow.partition_point(|x| x.order < r.order);
            self.slow.insert(at, r);
            return;
        };
        let shape = match self.shapes.iter().position(|s| *s == fast.shape) {
            Some(i) => {
                self.shape_rules[i] += 1;
                i
            }
            None => {
                self.shapes.push(fast.shape.clone());
                self.shape_rules.push(1);
                self.shapes.len() - 1
            }
        } as u16;
        let sig = (shape, fast.extracts.clone());
        let ti = match self.tuple_ids.get(&sig) {
            Some(&i) => i,
            None => {
                self.tuples.push(Tuple {
                    shape,
                    extracts: fast.extracts.clone(),
                    ..Tuple::default()
                });
                self.tuple_ids.insert(sig, self.tuples.len() - 1);
                self.tuples.len() - 1
            }
        };
        let t = &mut self.tuples[ti];
        let before = t.orders.keys().next().copied();
        t.orders.insert(r.order, ());
        let bucket = t.buckets.entry(Key(fast.key)).or_default();
        let at = bucket.partition_point(|x| x.order < r.order);
        bucket.insert(at, r.clone());
        if before.is_none_or(|b| r.order < b) {
            self.reorder();
        }
    }

    pub fn remove(&mut self, r: &Compiled) {
        let Some(fast) = &r.fast else {
            if let Some(i) = self.slow.iter().position(|x| x.id == r.id) {
                self.slow.remove(i);
                self.rules -= 1;
            }
            return;
        };
        let Some(shape) = self.shapes.iter().position(|s| *s == fast.shape) else {
            return;
        };
        let Some(&ti) = self.tuple_ids.get(&(shape as u16, fast.extracts.clone())) else {
            return;
        };
        let t = &mut self.tuples[ti];
        let key = Key(fast.key);
        let Some(bucket) = t.buckets.get_mut(&key) else {
            return;
        };
        let Some(i) = bucket.iter().position(|x| x.id == r.id) else {
            return;
        };
        bucket.remove(i);
        if bucket.is_empty() {
            t.buckets.remove(&key);
        }
        let was_best = t.orders.keys().next() == Some(&r.order);
        t.orders.remove(&r.order);
        self.rules -= 1;
        self.shape_rules[shape] -= 1;
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
    ) -> Option<&Arc<Compiled>> {
        let mut best: Option<&Arc<Compiled>> = None;
        // Shape resolutions, computed on first use: 0 unknown, 1 no match, 2 resolved.
        const CACHED: usize = 16;
        let mut state = [0u8; CACHED];
        let mut at = [[0u8; MAX_LAYERS]; CACHED];
        let mut scratch = [0u8; MAX_LAYERS];
        for &(p, s, ti) in &self.order {
            if best.is_some_and(|b| b.order < (p, s)) {
                break;
            }
            let t = &self.tuples[ti];
            let sh = t.shape as usize;
            let pos = if sh < CACHED {
                if state[sh] == 0 {
                    state[sh] = if resolve(&self.shapes[sh], l, &mut at[sh]) {
                        2
                    } else {
                        1
                    };
                }
                if state[sh] == 1 {
                    continue;
                }
                &at[sh]
            } else {
                if !resolve(&self.shapes[sh], l, &mut scratch) {
                    continue;
                }
                &scratch
            };
            let mut key = [0u64; KEY_WORDS];
            for (k, e) in key.iter_mut().zip(&t.extracts) {
                *k = read(l, pos, e) & e.mask;
            }
            let Some(bucket) = t.buckets.get(&Key(key)) else {
                continue;
            };
            for r in bucket {
                if best.is_some_and(|b| b.order < r.order) {
                    break;
                }
                if floor.is_some_and(|f| r.order <= f) {
                    continue;
                }
                if r.fast.as_ref().is_some_and(|f| f.residual_ok(l, pos, meta)) {
                    best = Some(r);
                    break;
                }
            }
        }
        for r in &self.slow {
            if best.is_some_and(|b| b.order < r.order) {
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
