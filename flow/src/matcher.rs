//! The reference matcher: a pattern interpreted item by item against a packet's layers, as
//! the semantics say, with no precompilation. The engine uses it for the rules its tuple
//! tables do not take (INVERT, ANY, RAW), and the property tests check the engine against it.
//!
//! Matching, as DPDK's guide puts it and as this engine pins down where the guide leaves it
//! open:
//! - Items stack from the lowest layer. The first header item of a pattern matches the first
//!   layer of its type in the outer headers (before any tunnel), so lower layers may be left
//!   out (`ipv4 / udp` matches any Ethernet frame, tagged or not, with IPv4 and UDP); a tunnel
//!   item first matches the first tunnel header. Every following header item matches the very
//!   next layer.
//! - ANY with `num` masked out lets the next header item match any later layer (a search);
//!   with `num` it skips exactly that many layers.
//! - MARK, META, TAG, PORT_ID and REPRESENTED_PORT match the packet's metadata wherever they
//!   stand; RAW matches bytes relative to the start of the packet or the end of the previous
//!   header item.
//! - Within an item, a field whose `last` is non-zero and differs from its spec is a range;
//!   every other masked bit must equal the spec's.
//! - INVERT anywhere negates the whole pattern.

use crate::item::{Field, Item, ItemType, get_field};
use crate::packet::{Layers, Meta};

/// An item ready to match: effective spec, mask and ranges.
#[derive(Clone, Debug)]
pub(crate) struct ItemMatch {
    pub ty: ItemType,
    pub spec: Vec<u8>,
    pub mask: Vec<u8>,
    /// The mask without the bits of range fields.
    pub exact: Vec<u8>,
    /// (field, lo, hi), both masked.
    pub ranges: Vec<(&'static Field, u128, u128)>,
}

impl ItemMatch {
    pub fn new(item: &Item) -> ItemMatch {
        let len = item
            .ty
            .spec_len()
            .max(item.spec.as_ref().map_or(0, Vec::len));
        let mut spec = item.spec.clone().unwrap_or_default();
        spec.resize(len, 0);
        let mut mask = if item.spec.is_some() {
            item.effective_mask()
        } else {
            Vec::new()
        };
        mask.resize(len, 0);
        let mut exact = mask.clone();
        let mut ranges = Vec::new();
        if let Some(last) = &item.last {
            for fl in item.ty.info().fields {
                if fl.len == 0 || item.ty == ItemType::Raw {
                    continue;
                }
                let m = get_field(&mask, fl);
                let lo = get_field(&spec, fl) & m;
                let hi = get_field(last, fl) & m;
                if hi != 0 && hi != lo && m != 0 {
                    // Overlapping fields (VLAN tci and vid) count once.
                    if ranges.iter().any(|(r, _, _): &(&Field, u128, u128)| {
                        r.off < fl.off + fl.len && fl.off < r.off + r.len && r.bits & fl.bits != 0
                    }) {
                        continue;
                    }
                    crate::item::set_field(&mut exact, fl, 0);
                    ranges.push((fl, lo, hi));
                }
            }
        }
        for (s, m) in spec.iter_mut().zip(&mask) {
            *s &= m;
        }
        ItemMatch {
            ty: item.ty,
            spec,
            mask,
            exact,
            ranges,
        }
    }

    /// Whether a block (header bytes, or metadata laid out as the item's block) matches.
    pub fn block_matches(&self, block: &[u8]) -> bool {
        for i in 0..self.exact.len() {
            let m = self.exact[i];
            if m != 0 && block.get(i).copied().unwrap_or(0) & m != self.spec[i] & m {
                return false;
            }
        }
        self.ranges.iter().all(|&(fl, lo, hi)| {
            let v = get_field(block, fl) & get_field(&self.mask, fl);
            lo <= v && v <= hi
        })
    }

    /// Whether the metadata an item of a non-header type looks at matches.
    pub fn meta_matches(&self, meta: &Meta) -> bool {
        let mut block = [0u8; 8];
        match self.ty {
            ItemType::Mark => match meta.mark {
                Some(m) => block[..4].copy_from_slice(&m.to_be_bytes()),
                None => return false,
            },
            ItemType::Meta => block[..4].copy_from_slice(&meta.meta.to_be_bytes()),
            ItemType::Tag => {
                let idx = (self.spec[4] & self.mask[4]) as usize;
                let Some(&t) = meta.tags.get(idx) else {
                    return false;
                };
                block[..4].copy_from_slice(&t.to_be_bytes());
                block[4] = idx as u8;
            }
            ItemType::PortId => block[..4].copy_from_slice(&(meta.port as u32).to_be_bytes()),
            ItemType::RepresentedPort => block[..2].copy_from_slice(&meta.port.to_be_bytes()),
            _ => return true,
        }
        self.block_matches(&block)
    }

    /// RAW: the pattern at (or searched from) its offset; `prev_end` is where the previous
    /// header item's layer ends.
    pub fn raw_matches(&self, data: &[u8], prev_end: usize) -> bool {
        let s = &self.spec;
        // The fixed part is configuration: take it from the spec as given.
        let relative = s[0] & 1 != 0;
        let search = s[1] & 1 != 0;
        let offset = i32::from_be_bytes([s[2], s[3], s[4], s[5]]) as i64;
        let limit = u16::from_be_bytes([s[6], s[7]]) as i64;
        let pat = &s[8..];
        let pmask = &self.mask[8..];
        let start = if relative { prev_end as i64 } else { 0 } + offset;
        if start < 0 {
            return false;
        }
        let at = |pos: usize| -> bool {
            let Some(bytes) = data.get(pos..pos + pat.len()) else {
                return false;
            };
            bytes
                .iter()
                .zip(pat)
                .zip(pmask)
                .all(|((b, p), m)| b & m == p & m)
        };
        let start = start as usize;
        if !search {
            return at(start);
        }
        let last = data.len().saturating_sub(pat.len());
        let last = if limit > 0 {
            last.min(start + limit as usize)
        } else {
            last
        };
        (start..=last).any(at)
    }
}

/// A pattern ready for the reference matcher.
#[derive(Clone, Debug)]
pub(crate) struct PatternMatch {
    pub items: Vec<ItemMatch>,
    pub invert: bool,
}

impl PatternMatch {
    pub fn new(pattern: &[Item]) -> PatternMatch {
        PatternMatch {
            items: pattern
                .iter()
                .filter(|i| !matches!(i.ty, ItemType::Void | ItemType::End | ItemType::Invert))
                .map(ItemMatch::new)
                .collect(),
            invert: pattern.iter().any(|i| i.ty == ItemType::Invert),
        }
    }

    /// Whether the packet matches.
    pub fn matches(&self, l: &Layers<'_>, meta: &Meta) -> bool {
        self.walk(0, l, meta, Pos::Start, None) != self.invert
    }

    fn walk(&self, i: usize, l: &Layers<'_>, meta: &Meta, pos: Pos, prev: Option<usize>) -> bool {
        let Some(it) = self.items.get(i) else {
            return true;
        };
        match it.ty {
            ItemType::Any => {
                let num = u32::from_be_bytes([it.spec[0], it.spec[1], it.spec[2], it.spec[3]]);
                let mask = u32::from_be_bytes([it.mask[0], it.mask[1], it.mask[2], it.mask[3]]);
                let next = match pos {
                    Pos::Start => 0,
                    Pos::At(n) | Pos::From(n) => n,
                };
                let pos = if mask == 0 {
                    Pos::From(next)
                } else {
                    Pos::At(next + (num & mask) as usize)
                };
                self.walk(i + 1, l, meta, pos, prev)
            }
            ItemType::Raw => {
                let prev_end = prev.map_or(0, |p| l.end(p));
                it.raw_matches(l.data, prev_end) && self.walk(i + 1, l, meta, pos, prev)
            }
            t if t.is_header() => {
                let try_at = |k: usize| {
                    k < l.len()
                        && l.kind(k).matches(t)
                        && it.block_matches(l.header(k))
                        && self.walk(i + 1, l, meta, Pos::At(k + 1), Some(k))
                };
                match pos {
                    Pos::At(k) => try_at(k),
                    Pos::From(k) => (k..l.len()).any(try_at),
                    Pos::Start => match first_layer(l, t) {
                        Some(k) => try_at(k),
                        None => false,
                    },
                }
            }
            _ => it.meta_matches(meta) && self.walk(i + 1, l, meta, pos, prev),
        }
    }
}

/// Where the next header item may match.
#[derive(Clone, Copy)]
enum Pos {
    /// Nothing matched yet: the first layer of the item's type in the outer headers.
    Start,
    /// Exactly this layer.
    At(usize),
    /// This layer or any later one.
    From(usize),
}

/// The layer a pattern's first header item of type `t` matches.
pub(crate) fn first_layer(l: &Layers<'_>, t: ItemType) -> Option<usize> {
    let tunnel = matches!(
        t,
        ItemType::Vxlan | ItemType::Gre | ItemType::Nvgre | ItemType::Geneve
    );
    if tunnel {
        (l.outer_end < l.len() && l.kind(l.outer_end).matches(t)).then_some(l.outer_end)
    } else {
        (0..l.outer_end).find(|&k| l.kind(k).matches(t))
    }
}
