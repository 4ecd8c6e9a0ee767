//! Looking into a pool: objects by index and their IOVAs, iteration, statistics, the audit
//! and the dump.

use std::collections::HashSet;
use std::io::Write;

use crate::cache::MempoolStats;
use crate::error::Error;

use super::{ObjHeader, RawMempool};

impl RawMempool {
    /// Free objects in the lcore caches and in the backing store, as DPDK's telemetry counts
    /// them (`total_cache_count`, `common_pool_count`).
    pub(crate) fn counts(&self) -> (u32, u32) {
        let cached: u32 = self.caches.iter().map(|s| s.cache.len()).sum();
        let common = (self.backing.count() as u32).min(self.n.saturating_sub(cached));
        (cached, common)
    }

    /// Object `index`.
    pub fn obj(&self, index: u32) -> Option<*mut u8> {
        self.objs.get(index as usize).copied()
    }

    /// The index of `obj`, if it is one of this pool's objects (computed from its address;
    /// nothing is read).
    pub fn index_of(&self, obj: *const u8) -> Option<u32> {
        let off = (obj as usize).checked_sub(self.obj_base as usize)?;
        let total = self.size.total_size;
        let idx = match self.per_page {
            None => {
                if off % total != self.size.header_size {
                    return None;
                }
                off / total
            }
            Some((k, page)) => {
                let (p, in_page) = (off / page, off % page);
                if in_page % total != self.size.header_size || in_page / total >= k {
                    return None;
                }
                p * k + in_page / total
            }
        };
        (idx < self.n as usize).then_some(idx as u32)
    }

    /// The IOVA of object `obj` (stored in its header at creation).
    pub fn virt2iova(&self, obj: *const u8) -> Option<u64> {
        let i = self.index_of(obj)?;
        // SAFETY: `obj` is object `i` of this pool.
        Some(unsafe { ObjHeader::of(self.objs[i as usize], self.size.header_size) }.iova)
    }

    /// The pool's memory: the start and length of the one memzone that holds every object
    /// slot (headers included) and the private area, as DPDK's `rte_mempool_mem_iter` gives
    /// its chunks. Drivers that register a pool's memory with a device (AF_XDP's UMEM) use it.
    pub fn memory(&self) -> (*mut u8, usize) {
        (self.mz_base, self.mz_len)
    }

    /// Calls `f(object, index)` for every object (DPDK's `rte_mempool_obj_iter`).
    pub fn for_each_obj(&self, mut f: impl FnMut(*mut u8, u32)) {
        for (i, &o) in self.objs.iter().enumerate() {
            f(o, i as u32);
        }
    }

    /// The pool-private area (DPDK's `rte_mempool_get_priv`) and its size.
    pub fn private_data(&self) -> (*mut u8, usize) {
        (self.priv_ptr, self.priv_size)
    }

    /// Summed statistics, if the pool keeps them.
    pub fn stats(&self) -> Option<MempoolStats> {
        if !self.stats_on {
            return None;
        }
        let mut s = MempoolStats::default();
        self.shared_stats.add_to(&mut s);
        self.caches.iter().for_each(|c| c.stats.add_to(&mut s));
        Some(s)
    }

    /// Checks that every object is free, once: each is in the backing store or one cache, none
    /// is missing and none appears twice. Call it when the pool is idle (at the end of a test):
    /// it fails with a reason otherwise. It runs on the main lcore while no worker lcore runs
    /// (checked), so that reading their caches cannot race with them.
    pub fn audit(&self) -> Result<(), Error> {
        let err = |reason: String| Error::Audit {
            name: self.name().to_string(),
            reason,
        };
        if rpdk_eal::is_initialized() {
            if rpdk_eal::lcore::id() != rpdk_eal::lcore::main_lcore() {
                return Err(err("audit runs on the main lcore".into()));
            }
            // Service lcores included: their caches are read too.
            if let Some(w) = rpdk_eal::lcore::all()
                .into_iter()
                .filter(|&l| Some(l) != rpdk_eal::lcore::main_lcore())
                .find(|&w| rpdk_eal::lcore::state(w) == Some(rpdk_eal::LcoreState::Running))
            {
                return Err(err(format!("lcore {w} is running: audit an idle pool")));
            }
        }
        let mut seen: HashSet<*mut u8> = HashSet::with_capacity(self.n as usize);
        let mut check = |o: *mut u8, place: &str| -> Result<(), Error> {
            if self.index_of(o).is_none() {
                return Err(err(format!(
                    "{o:p} in {place} is not an object of this pool"
                )));
            }
            if !seen.insert(o) {
                return Err(err(format!(
                    "object {o:p} is free twice (found again in {place})"
                )));
            }
            Ok(())
        };
        for (lcore, slot) in self.caches.iter().enumerate() {
            // SAFETY: no lcore runs (checked above) and this is the main lcore, so no thread
            // uses any cache now.
            for &o in unsafe { slot.cache.contents() } {
                check(o, &format!("the cache of lcore {lcore}"))?;
            }
        }
        let count = self.backing.count();
        let mut drained = vec![std::ptr::null_mut(); count];
        if !self.backing.dequeue_bulk(&mut drained) {
            return Err(err(
                "the pool is in use: its backing store changed during the audit".into(),
            ));
        }
        let result = drained
            .iter()
            .try_for_each(|&o| check(o, "the backing store"));
        self.backing.enqueue_bulk(&drained);
        result?;
        if seen.len() != self.n as usize {
            let missing: Vec<u32> = self
                .objs
                .iter()
                .enumerate()
                .filter(|(_, o)| !seen.contains(*o))
                .map(|(i, _)| i as u32)
                .take(8)
                .collect();
            return Err(err(format!(
                "{} of {} objects are not back (first indices: {missing:?})",
                self.n as usize - seen.len(),
                self.n
            )));
        }
        Ok(())
    }

    /// Writes a description of the pool (DPDK's `rte_mempool_dump`).
    pub fn dump(&self, w: &mut dyn Write) -> std::io::Result<()> {
        writeln!(w, "mempool <{}>@{:p}", self.name(), self)?;
        writeln!(w, "  flags={:#x}", self.flags.bits())?;
        writeln!(w, "  socket_id={}", self.socket)?;
        writeln!(w, "  pool ops={}", self.ops)?;
        writeln!(w, "  size={}", self.n)?;
        writeln!(w, "  header_size={}", self.size.header_size)?;
        writeln!(w, "  elt_size={}", self.size.elt_size)?;
        writeln!(w, "  trailer_size={}", self.size.trailer_size)?;
        writeln!(w, "  total_obj_size={}", self.size.total_size)?;
        writeln!(w, "  private_data_size={}", self.priv_size)?;
        writeln!(w, "  memzone=<MP_{}> iova={:#x}", self.name(), self.mz_iova)?;
        writeln!(w, "  avail_count={}", self.avail_count())?;
        writeln!(w, "  in_use_count={}", self.in_use_count())?;
        writeln!(w, "  cache_size={}", self.cache_size)?;
        for (lcore, slot) in self.caches.iter().enumerate() {
            if slot.cache.len() > 0 {
                writeln!(w, "    cache_count[{lcore}]={}", slot.cache.len())?;
            }
        }
        if let Some(s) = self.stats() {
            writeln!(w, "  stats:")?;
            writeln!(w, "    put_bulk={}", s.put_bulk)?;
            writeln!(w, "    put_objs={}", s.put_objs)?;
            writeln!(w, "    get_success_bulk={}", s.get_success_bulk)?;
            writeln!(w, "    get_success_objs={}", s.get_success_objs)?;
            writeln!(w, "    get_fail_bulk={}", s.get_fail_bulk)?;
            writeln!(w, "    get_fail_objs={}", s.get_fail_objs)?;
        }
        Ok(())
    }
}
