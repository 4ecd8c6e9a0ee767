//! Where a pool keeps its free objects: the mempool "ops" of DPDK.

mod lf_stack;
mod stack;

use std::fmt;
use std::str::FromStr;

pub use lf_stack::LfStack;
pub use stack::SpinStack;

/// The backing store of a pool, chosen at creation (DPDK's mempool ops names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Ops {
    /// A stack behind a spinlock (`stack`).
    #[default]
    Stack,
    /// A lock-free stack (`lf_stack`).
    LfStack,
}

impl Ops {
    /// DPDK's name of these ops.
    pub fn name(self) -> &'static str {
        match self {
            Ops::Stack => "stack",
            Ops::LfStack => "lf_stack",
        }
    }
}

impl fmt::Display for Ops {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Ops {
    type Err = String;
    fn from_str(s: &str) -> Result<Ops, String> {
        match s {
            "stack" => Ok(Ops::Stack),
            "lf_stack" => Ok(Ops::LfStack),
            other => Err(format!(
                "unknown mempool ops '{other}' (known: stack, lf_stack)"
            )),
        }
    }
}

/// A backing store.
pub(crate) enum Backing {
    Stack(SpinStack),
    LfStack(LfStack, usize),
}

impl Backing {
    /// A backing for `objs`, empty. `header_size` locates each object's header (its index).
    pub fn new(ops: Ops, objs: &[*mut u8], header_size: usize) -> Backing {
        match ops {
            Ops::Stack => Backing::Stack(SpinStack::new(objs.len())),
            Ops::LfStack => Backing::LfStack(LfStack::new(objs.into()), header_size),
        }
    }

    /// Adds objects (the pool never holds more than fit, so this succeeds).
    #[inline]
    pub fn enqueue_bulk(&self, objs: &[*mut u8]) {
        let ok = match self {
            Backing::Stack(s) => s.push_bulk(objs),
            Backing::LfStack(s, header) => s.push_bulk(objs.iter().map(|&o| {
                // SAFETY: every pointer given to a pool's backing is one of its objects, whose
                // header lies `header` bytes before it.
                unsafe { crate::pool::ObjHeader::of(o, *header) }.index
            })),
        };
        debug_assert!(ok, "a pool backing overflowed: an object was put twice");
    }

    /// Takes `out.len()` objects, or none.
    #[inline]
    pub fn dequeue_bulk(&self, out: &mut [*mut u8]) -> bool {
        match self {
            Backing::Stack(s) => s.pop_bulk(out),
            Backing::LfStack(s, _) => s.pop_bulk(out),
        }
    }

    /// Objects held.
    pub fn count(&self) -> usize {
        match self {
            Backing::Stack(s) => s.len(),
            Backing::LfStack(s, _) => s.len(),
        }
    }
}
