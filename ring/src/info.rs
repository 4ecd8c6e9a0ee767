//! A named ring's description by name, whatever its element type (DPDK's `rte_ring_lookup`
//! followed by reading the ring's fields, as `dpdk-proc-info --show-ring=NAME` does).

use crate::named::{RING_MZ_PREFIX, walk};
use crate::sync::RingFlags;

/// What a named ring is and holds now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RingInfo {
    /// Its name.
    pub name: String,
    /// The NUMA node of its memzone.
    pub socket: u32,
    /// Its flags (sync modes, `EXACT_SZ`).
    pub flags: RingFlags,
    /// Slots (a power of two).
    pub size: u32,
    /// `size - 1`.
    pub mask: u32,
    /// How many elements fit.
    pub capacity: u32,
    /// Elements in it now.
    pub count: u32,
}

impl RingInfo {
    /// Free slots now.
    pub fn free_count(&self) -> u32 {
        self.capacity - self.count
    }
}

/// The named ring `name`, if there is one.
pub fn info(name: &str) -> Option<RingInfo> {
    let mz_name = format!("{RING_MZ_PREFIX}{name}");
    let mut out = None;
    let _ = walk(|mz, h| -> Result<(), ()> {
        if mz.name() == mz_name {
            out = Some(RingInfo {
                name: h.name().to_string(),
                socket: mz.socket_id(),
                flags: RingFlags::from_bits(h.meta.flags),
                size: h.meta.size,
                mask: h.meta.mask,
                capacity: h.meta.capacity,
                count: h.count(),
            });
        }
        Ok(())
    });
    out
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::{Ring, Sp};

    #[test]
    fn a_ring_by_name() {
        let _eal = rpdk_eal::init(["info-test", "--no-huge", "--no-shconf", "-l", "0"])
            .unwrap()
            .0;
        let r = Ring::<u32>::create("info_r", 64, None, RingFlags::SP_ENQ).unwrap();
        let p = r.producer::<Sp>().unwrap();
        for i in 0..5 {
            p.enqueue(i).unwrap();
        }
        let i = info("info_r").unwrap();
        assert_eq!(
            (i.name.as_str(), i.size, i.mask, i.capacity),
            ("info_r", 64, 63, 63)
        );
        assert_eq!((i.count, i.free_count()), (5, 58));
        assert!(i.flags.contains(RingFlags::SP_ENQ));
        assert!(info("nope").is_none());
    }
}
