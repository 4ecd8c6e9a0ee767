//! Dynamic fields and flags: space in the mbuf header and bits of `ol_flags` that libraries and
//! applications claim by name at run time (DPDK's `rte_mbuf_dyn`).
//!
//! ```
//! use rpdk_mbuf::{DynField, DynFlag};
//!
//! let seq: DynField<u32> = DynField::register("example_seq_number")?;
//! let marked = DynFlag::register("example_marked")?;
//! // The same name gives the same place, in any crate.
//! assert_eq!(DynField::<u32>::lookup("example_seq_number").unwrap().offset(), seq.offset());
//! # let _ = marked;
//! # Ok::<(), rpdk_mbuf::DynError>(())
//! ```
//!
//! Processes of one file prefix share the registry: a secondary process registers and looks
//! up through the primary (over the EAL's IPC), so a field has the same offset, and a flag the
//! same bit, in every process (see `shared`).

mod local;
mod shared;

use std::io::Write;
use std::marker::PhantomData;

use crate::header::DYNFIELD_SIZE;
use crate::{Mbuf, OlFlags};
use shared::Op;
pub(crate) use shared::serve;

/// Longest name of a dynamic field or flag (DPDK's `RTE_MBUF_DYN_NAMESIZE` less the NUL).
pub const DYN_NAME_MAX: usize = 63;

/// Why a dynamic field or flag could not be registered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DynError {
    /// The name is empty or too long.
    #[error("dynamic name '{0}': 1 to 63 bytes")]
    BadName(String),
    /// The name is taken with another size, alignment or position.
    #[error("dynamic '{0}' is already registered with other parameters")]
    Conflict(String),
    /// No room is left (36 bytes of fields, 18 flag bits).
    #[error("no room left for dynamic '{0}'")]
    NoSpace(String),
    /// A requested offset or bit is outside the dynamic area or misaligned.
    #[error("dynamic '{0}': requested position is invalid or taken")]
    BadPosition(String),
    /// A secondary process could not have the primary's answer.
    #[error("dynamic {0}")]
    Primary(String),
}

fn check_name(name: &str) -> Result<(), DynError> {
    if name.is_empty() || name.len() > DYN_NAME_MAX {
        return Err(DynError::BadName(name.to_string()));
    }
    Ok(())
}

/// "Anywhere", for a wanted position on the wire.
const ANYWHERE: u32 = u32::MAX;

/// Registers a field of `size` bytes aligned to `align` (DPDK's `rte_mbuf_dynfield_register`),
/// at `want` (an offset from the start of the mbuf) if given. Returns its offset. In a
/// secondary process the primary places it, so that every process has it at the same offset.
pub fn register_field(
    name: &str,
    size: usize,
    align: usize,
    want: Option<usize>,
) -> Result<usize, DynError> {
    check_name(name)?;
    if !shared::is_secondary() {
        shared::serve();
        return local::register_field(name, size, align, want);
    }
    if size == 0 || size > DYNFIELD_SIZE || !align.is_power_of_two() {
        return Err(DynError::BadPosition(name.to_string()));
    }
    let want32 = want.map_or(ANYWHERE, |w| w.min(ANYWHERE as usize - 1) as u32);
    let [offset, ..] = shared::ask(
        Op::RegisterField,
        name,
        &[size as u32, align as u32, want32],
    )?
    .ok_or_else(|| DynError::Primary(format!("{name}: the primary did not place it")))?;
    // Kept here at the primary's offset.
    local::register_field(name, size, align, Some(offset as usize))
}

/// Registers a flag (DPDK's `rte_mbuf_dynflag_register`), at bit `want` if given. Returns its
/// bit number in `ol_flags`. In a secondary process the primary chooses the bit.
pub fn register_flag(name: &str, want: Option<u32>) -> Result<u32, DynError> {
    check_name(name)?;
    if !shared::is_secondary() {
        shared::serve();
        return local::register_flag(name, want);
    }
    let [bit, ..] = shared::ask(Op::RegisterFlag, name, &[want.unwrap_or(ANYWHERE)])?
        .ok_or_else(|| DynError::Primary(format!("{name}: the primary did not place it")))?;
    local::register_flag(name, Some(bit))
}

/// The offset, size and alignment of a registered field (DPDK's `rte_mbuf_dynfield_lookup`);
/// a secondary asks the primary for a field it has not seen yet.
pub fn lookup_field(name: &str) -> Option<(usize, usize, usize)> {
    if let Some(f) = local::lookup_field(name) {
        return Some(f);
    }
    if !shared::is_secondary() {
        return None;
    }
    let [o, s, a] = shared::ask(Op::LookupField, name, &[]).ok()??;
    local::register_field(name, s as usize, a as usize, Some(o as usize)).ok()?;
    Some((o as usize, s as usize, a as usize))
}

/// The bit of a registered flag (DPDK's `rte_mbuf_dynflag_lookup`); a secondary asks the
/// primary for a flag it has not seen yet.
pub fn lookup_flag(name: &str) -> Option<u32> {
    if let Some(b) = local::lookup_flag(name) {
        return Some(b);
    }
    if !shared::is_secondary() {
        return None;
    }
    let [b, ..] = shared::ask(Op::LookupFlag, name, &[]).ok()??;
    local::register_flag(name, Some(b)).ok()
}

/// Writes the registered fields and flags (DPDK's `rte_mbuf_dyn_dump`): in a secondary, those
/// it has used.
pub fn dump(w: &mut dyn Write) -> std::io::Result<()> {
    local::dump(w)
}

/// DPDK's receive timestamp (`rte_mbuf_dyn_rx_timestamp_register`): the
/// `rte_dynfield_timestamp` field (a `u64` in the driver's clock) and the
/// `rte_dynflag_rx_timestamp` flag that says it is set.
pub fn register_rx_timestamp() -> Result<(DynField<u64>, DynFlag), DynError> {
    Ok((
        DynField::register("rte_dynfield_timestamp")?,
        DynFlag::register("rte_dynflag_rx_timestamp")?,
    ))
}

/// A typed dynamic field.
#[derive(Debug)]
pub struct DynField<T> {
    offset: usize,
    ty: PhantomData<fn() -> T>,
}

impl<T> Clone for DynField<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for DynField<T> {}

impl<T: bytemuck::Pod> DynField<T> {
    /// Registers (or finds) the field `name` sized and aligned for `T`.
    pub fn register(name: &str) -> Result<DynField<T>, DynError> {
        let offset = register_field(
            name,
            std::mem::size_of::<T>(),
            std::mem::align_of::<T>(),
            None,
        )?;
        Ok(DynField {
            offset,
            ty: PhantomData,
        })
    }

    /// Finds a registered field of `T`'s size.
    pub fn lookup(name: &str) -> Option<DynField<T>> {
        let (offset, size, _) = lookup_field(name)?;
        (size == std::mem::size_of::<T>()).then_some(DynField {
            offset,
            ty: PhantomData,
        })
    }

    /// Its offset from the start of the mbuf.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Reads the field of `m`.
    #[inline]
    pub fn get(&self, m: &Mbuf) -> T {
        // SAFETY: the field lies in the header's dynamic area (checked at registration), T is
        // plain data, and the read is unaligned-safe.
        unsafe {
            (m.raw() as *const u8)
                .add(self.offset)
                .cast::<T>()
                .read_unaligned()
        }
    }

    /// Writes the field of `m`.
    #[inline]
    pub fn set(&self, m: &mut Mbuf, v: T) {
        // SAFETY: as `get`; `&mut Mbuf` makes the write exclusive.
        unsafe {
            (m.raw() as *mut u8)
                .add(self.offset)
                .cast::<T>()
                .write_unaligned(v)
        }
    }
}

/// A dynamic flag: a bit of `ol_flags`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DynFlag {
    bit: u32,
}

impl DynFlag {
    /// Registers (or finds) the flag `name`.
    pub fn register(name: &str) -> Result<DynFlag, DynError> {
        Ok(DynFlag {
            bit: register_flag(name, None)?,
        })
    }

    /// Finds a registered flag.
    pub fn lookup(name: &str) -> Option<DynFlag> {
        lookup_flag(name).map(|bit| DynFlag { bit })
    }

    /// Its bit number.
    pub fn bit(&self) -> u32 {
        self.bit
    }

    /// Its mask.
    pub fn mask(&self) -> OlFlags {
        OlFlags(1 << self.bit)
    }

    /// Whether it is set on `m`.
    #[inline]
    pub fn get(&self, m: &Mbuf) -> bool {
        m.ol_flags().0 & (1 << self.bit) != 0
    }

    /// Sets or clears it on `m`.
    #[inline]
    pub fn set(&self, m: &mut Mbuf, on: bool) {
        let f = m.ol_flags().0;
        m.set_ol_flags(OlFlags(if on {
            f | (1 << self.bit)
        } else {
            f & !(1 << self.bit)
        }));
    }
}
