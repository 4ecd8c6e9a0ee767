//! The ring's memory: a 640-byte header (what the ring is; the producer's head, then its tail;
//! the consumer's head, then its tail; each on its own 128 bytes) followed by the slots, as
//! DPDK's `struct rte_ring` followed by its table (DPDK keeps each side's head and tail on one
//! line; see [`HeadTail`]). Everything a second process needs to use the ring is
//! in this block, and nothing in it is a pointer, so it can be attached at another address.

use crate::atomic::AtomicU32;
use crate::headtail::HeadTail;
use crate::sync::{RingFlags, SyncType};

/// "RPDKRING", little-endian: marks an initialised ring header.
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"RPDKRING");
/// Bumped when the layout changes.
pub(crate) const VERSION: u32 = 1;
/// Longest ring name in bytes (DPDK's `RTE_RING_NAMESIZE` less the NUL: memzone names have 31
/// bytes and ring memzones are named `RG_<name>`).
pub const RING_NAME_MAX: usize = 28;
/// The largest ring size (DPDK's `RTE_RING_SZ_MASK`).
pub const RING_SIZE_MAX: u32 = 0x7fff_ffff;
/// Claims: an SP producer handle exists.
pub(crate) const CLAIM_PRODUCER: u32 = 1;
/// Claims: an SC consumer handle exists.
pub(crate) const CLAIM_CONSUMER: u32 = 2;

/// What the ring is: written once at creation, read by attaching handles.
#[repr(C, align(128))]
pub(crate) struct Meta {
    pub(crate) magic: u64,
    pub(crate) version: u32,
    pub(crate) flags: u32,
    pub(crate) size: u32,
    pub(crate) mask: u32,
    pub(crate) capacity: u32,
    /// Element size and alignment in bytes.
    pub(crate) esize: u32,
    pub(crate) ealign: u32,
    /// Single-side handles that exist ([`CLAIM_PRODUCER`], [`CLAIM_CONSUMER`]).
    pub(crate) claims: AtomicU32,
    /// FNV-1a of the element type's name, so a lookup with another type is refused.
    pub(crate) type_hash: u64,
    pub(crate) name_len: u32,
    pub(crate) name: [u8; RING_NAME_MAX],
}

/// The whole header. The slots start right after it (at 640 bytes).
#[repr(C)]
pub(crate) struct Header {
    pub(crate) meta: Meta,
    pub(crate) prod: HeadTail,
    pub(crate) cons: HeadTail,
}

/// The size of the header, where the slots start.
pub(crate) const HEADER_SIZE: usize = std::mem::size_of::<Header>();
/// The alignment of a ring's memory.
pub(crate) const HEADER_ALIGN: usize = std::mem::align_of::<Header>();

/// Size, mask and capacity for `count` (DPDK's `rte_ring_init` rules): a power of two with
/// capacity `count - 1`, or with `exact` the next power of two above `count` and capacity
/// `count`.
pub(crate) fn geometry(count: u32, exact: bool) -> Result<(u32, u32, u32), String> {
    if exact {
        if count == 0 || count >= RING_SIZE_MAX {
            return Err(format!(
                "count {count} is out of range for an exact-size ring (1 to {})",
                RING_SIZE_MAX - 1
            ));
        }
        let size = (count + 1).next_power_of_two();
        Ok((size, size - 1, count))
    } else {
        if !count.is_power_of_two() || !(2..=RING_SIZE_MAX).contains(&count) {
            return Err(format!(
                "count {count} must be a power of two from 2 to {} (or use RingFlags::EXACT_SZ)",
                RING_SIZE_MAX.div_ceil(2)
            ));
        }
        Ok((count, count - 1, count - 1))
    }
}

/// Bytes a ring of `size` slots of `esize` bytes takes, rounded to a cache line (DPDK's
/// `rte_ring_get_memsize_elem`).
pub(crate) fn memsize(size: u32, esize: usize) -> Option<usize> {
    (size as usize)
        .checked_mul(esize)?
        .checked_add(HEADER_SIZE)?
        .checked_next_multiple_of(64)
}

/// FNV-1a, 64 bits.
pub(crate) fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// What a new header says.
pub(crate) struct Init<'a> {
    pub(crate) name: &'a str,
    pub(crate) flags: RingFlags,
    pub(crate) size: u32,
    pub(crate) capacity: u32,
    pub(crate) prod: SyncType,
    pub(crate) cons: SyncType,
    pub(crate) esize: usize,
    pub(crate) ealign: usize,
    pub(crate) type_hash: u64,
}

impl Header {
    pub(crate) fn new(init: &Init<'_>) -> Header {
        let mut name = [0u8; RING_NAME_MAX];
        name[..init.name.len()].copy_from_slice(init.name.as_bytes());
        // DPDK's default head/tail distance for RTS: an eighth of the capacity.
        let htd = init.capacity / 8;
        Header {
            meta: Meta {
                magic: MAGIC,
                version: VERSION,
                flags: init.flags.bits(),
                size: init.size,
                mask: init.size - 1,
                capacity: init.capacity,
                esize: init.esize as u32,
                ealign: init.ealign as u32,
                claims: AtomicU32::new(0),
                type_hash: init.type_hash,
                name_len: init.name.len() as u32,
                name,
            },
            prod: HeadTail::new(init.prod, htd),
            cons: HeadTail::new(init.cons, htd),
        }
    }

    pub(crate) fn name(&self) -> &str {
        let len = (self.meta.name_len as usize).min(RING_NAME_MAX);
        std::str::from_utf8(&self.meta.name[..len]).unwrap_or("?")
    }

    /// Elements in the ring now: what the producer published and the consumer has not freed.
    pub(crate) fn count(&self) -> u32 {
        let count = self.prod.tail_pos().wrapping_sub(self.cons.tail_pos()) & self.meta.mask;
        count.min(self.meta.capacity)
    }

    /// Writes the ring's state as DPDK's `rte_ring_dump` does.
    pub(crate) fn dump(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        let used = self.count();
        writeln!(w, "ring <{}>@{:p}", self.name(), self)?;
        writeln!(w, "  flags={:x}", self.meta.flags)?;
        writeln!(w, "  size={}", self.meta.size)?;
        writeln!(w, "  capacity={}", self.meta.capacity)?;
        writeln!(w, "  ct={}", self.cons.tail_pos())?;
        writeln!(w, "  ch={}", self.cons.head_pos())?;
        writeln!(w, "  pt={}", self.prod.tail_pos())?;
        writeln!(w, "  ph={}", self.prod.head_pos())?;
        writeln!(w, "  used={used}")?;
        writeln!(w, "  avail={}", self.meta.capacity - used)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn header_lines_are_128_bytes_apart() {
        assert_eq!(HEADER_SIZE, 640);
        assert_eq!(offset_of!(Header, prod), 128);
        assert_eq!(offset_of!(Header, cons), 384);
    }

    #[test]
    fn geometry_follows_dpdk() {
        assert_eq!(geometry(1024, false), Ok((1024, 1023, 1023)));
        assert_eq!(geometry(1000, true), Ok((1024, 1023, 1000)));
        assert_eq!(geometry(1023, true), Ok((1024, 1023, 1023)));
        assert_eq!(geometry(1024, true), Ok((2048, 2047, 1024)));
        assert_eq!(geometry(1, true), Ok((2, 1, 1)));
        assert!(geometry(1000, false).unwrap_err().contains("power of two"));
        assert!(geometry(0, false).is_err());
        assert!(geometry(1, false).is_err());
        assert!(geometry(0, true).is_err());
        assert!(geometry(1 << 31, false).is_err());
        assert_eq!(
            geometry(1 << 30, false),
            Ok((1 << 30, (1 << 30) - 1, (1 << 30) - 1))
        );
    }

    #[test]
    fn memsize_is_header_plus_slots() {
        assert_eq!(memsize(4096, 8), Some(640 + 32768));
        assert_eq!(memsize(4, 3), Some(704));
        assert_eq!(memsize(u32::MAX, usize::MAX / 2), None);
    }
}
