//! This process's registry: the one that places fields and flags (in the primary, or a process
//! on its own), and what a secondary learnt from the primary.

use std::io::Write;
use std::sync::Mutex;

use super::{DynError, check_name};
use crate::OlFlags;
use crate::header::{DYNFIELD_OFFSET, DYNFIELD_SIZE};

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

/// Registers a field of `size` bytes aligned to `align` (DPDK's `rte_mbuf_dynfield_register`),
/// at `want` (an offset from the start of the mbuf) if given. Returns its offset.
pub(super) fn register_field(
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
            && off.is_multiple_of(align)
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
pub(super) fn register_flag(name: &str, want: Option<u32>) -> Result<u32, DynError> {
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
pub(super) fn lookup_field(name: &str) -> Option<(usize, usize, usize)> {
    let r = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    r.fields
        .iter()
        .find(|f| f.name == name)
        .map(|f| (f.offset, f.size, f.align))
}

/// The bit of a registered flag (DPDK's `rte_mbuf_dynflag_lookup`).
pub(super) fn lookup_flag(name: &str) -> Option<u32> {
    let r = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    r.flags.iter().find(|(n, _)| n == name).map(|(_, b)| *b)
}

/// Writes the registered fields and flags (DPDK's `rte_mbuf_dyn_dump`).
pub(super) fn dump(w: &mut dyn Write) -> std::io::Result<()> {
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
