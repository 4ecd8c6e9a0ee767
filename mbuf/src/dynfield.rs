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

use std::io::Write;
use std::marker::PhantomData;
use std::sync::Mutex;

use crate::header::{DYNFIELD_OFFSET, DYNFIELD_SIZE};
use crate::{Mbuf, OlFlags};

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
}

#[derive(Clone)]
struct FieldEntry {
    name: String,
    offset: usize,
    size: usize,
    align: usize,
}

struct Registry {
    fields: Vec<FieldEntry>,
    used: [bool; DYNFIELD_SIZE],
    flags: Vec<(String, u32)>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    fields: Vec::new(),
    used: [false; DYNFIELD_SIZE],
    flags: Vec::new(),
});

fn check_name(name: &str) -> Result<(), DynError> {
    if name.is_empty() || name.len() > DYN_NAME_MAX {
        return Err(DynError::BadName(name.to_string()));
    }
    Ok(())
}

/// Registers a field of `size` bytes aligned to `align` (DPDK's `rte_mbuf_dynfield_register`),
/// at `want` (an offset from the start of the mbuf) if given. Returns its offset.
pub fn register_field(
    name: &str,
    size: usize,
    align: usize,
    want: Option<usize>,
) -> Result<usize, DynError> {
    check_name(name)?;
    if size == 0 || size > DYNFIELD_SIZE || !align.is_power_of_two() {
        return Err(DynError::BadPosition(name.to_string()));
    }
    let mut r = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(f) = r.fields.iter().find(|f| f.name == name) {
        return if f.size == size && f.align == align && want.is_none_or(|w| w == f.offset) {
            Ok(f.offset)
        } else {
            Err(DynError::Conflict(name.to_string()))
        };
    }
    let fits = |r: &Registry, off: usize| {
        off >= DYNFIELD_OFFSET
            && off % align == 0
            && off + size <= DYNFIELD_OFFSET + DYNFIELD_SIZE
            && r.used[off - DYNFIELD_OFFSET..off - DYNFIELD_OFFSET + size]
                .iter()
                .all(|u| !u)
    };
    let offset = match want {
        Some(w) if fits(&r, w) => w,
        Some(_) => return Err(DynError::BadPosition(name.to_string())),
        None => (DYNFIELD_OFFSET..DYNFIELD_OFFSET + DYNFIELD_SIZE)
            .find(|&o| fits(&r, o))
            .ok_or_else(|| DynError::NoSpace(name.to_string()))?,
    };
    r.used[offset - DYNFIELD_OFFSET..offset - DYNFIELD_OFFSET + size].fill(true);
    r.fields.push(FieldEntry {
        name: name.to_string(),
        offset,
        size,
        align,
    });
    log::debug!(target: "lib.mbuf", "dynamic field {name}: {size} bytes at offset {offset}");
    Ok(offset)
}

/// Registers a flag (DPDK's `rte_mbuf_dynflag_register`), at bit `want` if given. Returns its
/// bit number in `ol_flags`.
pub fn register_flag(name: &str, want: Option<u32>) -> Result<u32, DynError> {
    check_name(name)?;
    let mut r = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, bit)) = r.flags.iter().find(|(n, _)| n == name) {
        return if want.is_none_or(|w| w == *bit) {
            Ok(*bit)
        } else {
            Err(DynError::Conflict(name.to_string()))
        };
    }
    let free = |r: &Registry, b: u32| {
        (OlFlags::FIRST_FREE_BIT..=OlFlags::LAST_FREE_BIT).contains(&b)
            && !r.flags.iter().any(|(_, x)| *x == b)
    };
    let bit = match want {
        Some(b) if free(&r, b) => b,
        Some(_) => return Err(DynError::BadPosition(name.to_string())),
        // DPDK hands out the highest free bit first.
        None => (OlFlags::FIRST_FREE_BIT..=OlFlags::LAST_FREE_BIT)
            .rev()
            .find(|&b| free(&r, b))
            .ok_or_else(|| DynError::NoSpace(name.to_string()))?,
    };
    r.flags.push((name.to_string(), bit));
    Ok(bit)
}

/// The offset of a registered field (DPDK's `rte_mbuf_dynfield_lookup`).
pub fn lookup_field(name: &str) -> Option<(usize, usize, usize)> {
    let r = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    r.fields
        .iter()
        .find(|f| f.name == name)
        .map(|f| (f.offset, f.size, f.align))
}

/// The bit of a registered flag (DPDK's `rte_mbuf_dynflag_lookup`).
pub fn lookup_flag(name: &str) -> Option<u32> {
    let r = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    r.flags.iter().find(|(n, _)| n == name).map(|(_, b)| *b)
}

/// Writes the registered fields and flags (DPDK's `rte_mbuf_dyn_dump`).
pub fn dump(w: &mut dyn Write) -> std::io::Result<()> {
    let r = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    writeln!(w, "Reserved fields:")?;
    for f in &r.fields {
        writeln!(
            w,
            "  name={}, offset={}, size={}, align={}",
            f.name, f.offset, f.size, f.align
        )?;
    }
    writeln!(w, "Reserved flags:")?;
    for (n, b) in &r.flags {
        writeln!(w, "  name={n}, bitnum={b}")?;
    }
    let free: usize = r.used.iter().filter(|u| !**u).count();
    writeln!(
        w,
        "Free space in mbuf (0 = occupied, value = free zone alignment):"
    )?;
    writeln!(w, "  {free} bytes of dynamic field space free")
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
