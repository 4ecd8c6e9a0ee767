//! A rule compiled for the engine: its pattern as the reference matcher takes it, its tuple-table
//! form when it has one, and its actions resolved (counters, RSS queues and key).

use crate::action::{Action, Attr};
use crate::item::ItemType;
use crate::matcher::{ItemMatch, PatternMatch};
use crate::packet::{Layers, MAX_LAYERS, Meta};
use rpdk_ethdev::RssHf;
use rpdk_ethdev::rss::DEFAULT_RSS_KEY;

/// Key words of a tuple table: up to 48 masked bytes.
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
}

/// Bytes `off..off + len` (at most 8) of the header of item `pos`, big-endian, masked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Extract {
    pub pos: u8,
    pub off: u8,
    pub len: u8,
    pub mask: u64,
}

/// The tuple-table form of a rule.
#[derive(Clone, Debug)]
pub(crate) struct Fast {
    /// Header item types, in order: the pattern's shape.
    pub shape: Vec<ItemType>,
    /// The bytes hashed: every byte the rule matches whole.
    pub extracts: Vec<Extract>,
    pub key: [u64; KEY_WORDS],
    /// Header items (by position) still to check after the hash: partial bytes and ranges.
    pub residual: Vec<(u8, ItemMatch)>,
    /// Metadata items.
    pub metas: Vec<ItemMatch>,
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
/// `i` (in order) or of an indirect handle.
pub(crate) fn steps(
    actions: &[Action],
    nb_rx_queues: u16,
    mut counter: impl FnMut(&Action) -> Option<u32>,
) -> Vec<Step> {
    let mut out = Vec::new();
    for a in actions {
        out.push(match a {
            Action::Void => continue,
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
        });
    }
    out
}

/// The tuple-table form of a pattern, or `None` when it needs the reference matcher (INVERT,
/// ANY, RAW, more than 48 whole bytes or 16 header items).
pub(crate) fn fast(p: &PatternMatch) -> Option<Fast> {
    if p.invert {
        return None;
    }
    let mut f = Fast {
        shape: Vec::new(),
        extracts: Vec::new(),
        key: [0; KEY_WORDS],
        residual: Vec::new(),
        metas: Vec::new(),
    };
    let mut bytes: Vec<(u8, u8, u8)> = Vec::new(); // (pos, off, value)
    for it in &p.items {
        match it.ty {
            ItemType::Any | ItemType::Raw => return None,
            t if t.is_header() => {
                let pos = f.shape.len() as u8;
                f.shape.push(t);
                let mut partial = !it.ranges.is_empty();
                for (off, (&m, &s)) in it.exact.iter().zip(&it.spec).enumerate() {
                    if m == 0xff {
                        bytes.push((pos, off as u8, s));
                    } else if m != 0 {
                        partial = true;
                    }
                }
                if partial {
                    f.residual.push((pos, it.clone()));
                }
            }
            _ => f.metas.push(it.clone()),
        }
    }
    if f.shape.len() > MAX_LAYERS {
        return None;
    }
    // Runs of consecutive bytes of one item, up to 8 at a time.
    let mut words: Vec<(Extract, u64)> = Vec::new();
    for (pos, off, v) in bytes {
        if let Some((e, val)) = words.last_mut() {
            if e.pos == pos && e.off + e.len == off && e.len < 8 {
                e.len += 1;
                e.mask = (e.mask << 8) | 0xff;
                *val = (*val << 8) | v as u64;
                continue;
            }
        }
        words.push((
            Extract {
                pos,
                off,
                len: 1,
                mask: 0xff,
            },
            v as u64,
        ));
    }
    if words.len() > KEY_WORDS {
        return None;
    }
    for (i, (e, v)) in words.into_iter().enumerate() {
        f.extracts.push(e);
        f.key[i] = v;
    }
    Some(f)
}

/// Resolves a shape against a packet: the layer of each header item.
#[inline]
pub(crate) fn resolve(shape: &[ItemType], l: &Layers<'_>, at: &mut [u8; MAX_LAYERS]) -> bool {
    let Some(&first) = shape.first() else {
        return true;
    };
    let Some(k) = crate::matcher::first_layer(l, first) else {
        return false;
    };
    if k + shape.len() > l.len() {
        return false;
    }
    for (i, &t) in shape.iter().enumerate() {
        if !l.kind(k + i).matches(t) {
            return false;
        }
        at[i] = (k + i) as u8;
    }
    true
}

/// Reads an extract from the packet (0 past the data, which a resolved layer never is).
#[inline(always)]
pub(crate) fn read(l: &Layers<'_>, at: &[u8; MAX_LAYERS], e: &Extract) -> u64 {
    let start = l.offset(at[e.pos as usize] as usize) + e.off as usize;
    match l.data.get(start..start + e.len as usize) {
        Some(b) => {
            let mut v = 0u64;
            for &x in b {
                v = (v << 8) | x as u64;
            }
            v
        }
        None => u64::MAX,
    }
}

impl Fast {
    /// The checks after the hash hit: partial bytes, ranges, metadata.
    #[inline]
    pub fn residual_ok(&self, l: &Layers<'_>, at: &[u8; MAX_LAYERS], meta: &Meta) -> bool {
        self.residual
            .iter()
            .all(|(pos, it)| it.block_matches(l.header(at[*pos as usize] as usize)))
            && self.metas.iter().all(|m| m.meta_matches(meta))
    }
}
