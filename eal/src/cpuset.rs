//! Sets of CPUs, the machine's CPU and NUMA topology, and thread affinity.

use std::fmt;
use std::fs;

use crate::error::{Error, Result};

/// The largest number of CPUs a [`CpuSet`] can hold (glibc's `CPU_SETSIZE`).
pub const MAX_CPUS: usize = 1024;

const WORDS: usize = MAX_CPUS / 64;

/// A set of CPU numbers, as `cpu_set_t`.
///
/// It displays as a DPDK core list: `0-3,6`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CpuSet {
    bits: [u64; WORDS],
}

impl Default for CpuSet {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuSet {
    /// The empty set.
    pub const fn new() -> Self {
        CpuSet { bits: [0; WORDS] }
    }

    /// A set holding one CPU.
    pub fn single(cpu: usize) -> Self {
        let mut s = Self::new();
        s.insert(cpu);
        s
    }

    /// Adds `cpu`; CPUs at or above [`MAX_CPUS`] are ignored.
    pub fn insert(&mut self, cpu: usize) {
        if cpu < MAX_CPUS {
            self.bits[cpu / 64] |= 1 << (cpu % 64);
        }
    }

    /// Removes `cpu`.
    pub fn remove(&mut self, cpu: usize) {
        if cpu < MAX_CPUS {
            self.bits[cpu / 64] &= !(1 << (cpu % 64));
        }
    }

    /// Whether `cpu` is in the set.
    pub fn contains(&self, cpu: usize) -> bool {
        cpu < MAX_CPUS && self.bits[cpu / 64] & (1 << (cpu % 64)) != 0
    }

    /// The number of CPUs in the set.
    pub fn len(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|&w| w == 0)
    }

    /// The lowest CPU in the set.
    pub fn first(&self) -> Option<usize> {
        self.iter().next()
    }

    /// The CPUs in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..MAX_CPUS).filter(move |&c| self.contains(c))
    }

    /// Whether every CPU of `self` is also in `other`.
    pub fn is_subset(&self, other: &CpuSet) -> bool {
        self.bits
            .iter()
            .zip(other.bits.iter())
            .all(|(a, b)| a & !b == 0)
    }

    /// The union of two sets.
    pub fn union(&self, other: &CpuSet) -> CpuSet {
        let mut out = *self;
        for (o, b) in out.bits.iter_mut().zip(other.bits.iter()) {
            *o |= b;
        }
        out
    }

    /// The CPUs of `self` that are not in `other`.
    pub fn difference(&self, other: &CpuSet) -> CpuSet {
        let mut out = *self;
        for (o, b) in out.bits.iter_mut().zip(other.bits.iter()) {
            *o &= !b;
        }
        out
    }

    pub(crate) fn to_libc(self) -> libc::cpu_set_t {
        // SAFETY: cpu_set_t is a plain bit array for which all-zero is the empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        for cpu in self.iter() {
            // SAFETY: `cpu` < MAX_CPUS == CPU_SETSIZE, inside the set.
            unsafe { libc::CPU_SET(cpu, &mut set) };
        }
        set
    }

    pub(crate) fn from_libc(set: &libc::cpu_set_t) -> CpuSet {
        let mut out = CpuSet::new();
        for cpu in 0..MAX_CPUS {
            // SAFETY: `cpu` < MAX_CPUS == CPU_SETSIZE, inside the set.
            if unsafe { libc::CPU_ISSET(cpu, set) } {
                out.insert(cpu);
            }
        }
        out
    }

    /// Parses the kernel's list format (`0-3,8,10-11`), as found in sysfs.
    pub fn parse_list(s: &str) -> Option<CpuSet> {
        let mut set = CpuSet::new();
        let s = s.trim();
        if s.is_empty() {
            return Some(set);
        }
        for part in s.split(',') {
            let (lo, hi) = match part.split_once('-') {
                Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
                None => {
                    let v: usize = part.trim().parse().ok()?;
                    (v, v)
                }
            };
            if lo > hi || hi >= MAX_CPUS {
                return None;
            }
            (lo..=hi).for_each(|c| set.insert(c));
        }
        Some(set)
    }
}

impl fmt::Display for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cpus: Vec<usize> = self.iter().collect();
        let mut i = 0;
        let mut first = true;
        while i < cpus.len() {
            let mut j = i;
            while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
                j += 1;
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if j > i {
                write!(f, "{}-{}", cpus[i], cpus[j])?;
            } else {
                write!(f, "{}", cpus[i])?;
            }
            i = j + 1;
        }
        Ok(())
    }
}

impl fmt::Debug for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CpuSet({self})")
    }
}

impl FromIterator<usize> for CpuSet {
    fn from_iter<I: IntoIterator<Item = usize>>(iter: I) -> Self {
        let mut s = CpuSet::new();
        iter.into_iter().for_each(|c| s.insert(c));
        s
    }
}

/// The CPUs the kernel reports present (`/sys/devices/system/cpu/present`); what DPDK calls
/// "detected" lcores.
pub fn detected_cpus() -> CpuSet {
    fs::read_to_string("/sys/devices/system/cpu/present")
        .ok()
        .and_then(|s| CpuSet::parse_list(&s))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            // Without sysfs, fall back to the CPUs this process may use.
            thread_affinity().unwrap_or_else(|_| CpuSet::single(0))
        })
}

/// The CPUs the calling thread may run on.
pub fn thread_affinity() -> Result<CpuSet> {
    // SAFETY: all-zero is a valid empty cpu_set_t.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable cpu_set_t of the size passed; pid 0 is this thread.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Err(Error::last_os("sched_getaffinity"));
    }
    Ok(CpuSet::from_libc(&set))
}

/// Pins the calling thread to `cpus`.
pub fn set_thread_affinity(cpus: &CpuSet) -> Result<()> {
    let set = cpus.to_libc();
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is the calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        return Err(Error::last_os(format!("sched_setaffinity to CPUs {cpus}")));
    }
    Ok(())
}

/// The CPU the calling thread is running on now (`sched_getcpu`).
pub fn current_cpu() -> Option<usize> {
    // SAFETY: sched_getcpu has no preconditions.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).ok()
}

/// The NUMA nodes of the machine (`/sys/devices/system/node/online`); `[0]` without NUMA.
pub fn numa_nodes() -> Vec<u32> {
    let set = fs::read_to_string("/sys/devices/system/node/online")
        .ok()
        .and_then(|s| CpuSet::parse_list(&s))
        .filter(|s| !s.is_empty());
    match set {
        Some(s) => s.iter().map(|n| n as u32).collect(),
        None => vec![0],
    }
}

/// The NUMA node (DPDK's "socket") of a CPU; 0 when the machine does not say.
pub fn cpu_socket(cpu: usize) -> u32 {
    let dir = format!("/sys/devices/system/cpu/cpu{cpu}");
    if let Ok(entries) = fs::read_dir(&dir) {
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if let Some(n) = name.strip_prefix("node")
                && let Ok(n) = n.parse()
            {
                return n;
            }
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_round_trip() {
        let s = CpuSet::parse_list("0-3,8,10-11").unwrap();
        assert_eq!(s.len(), 7);
        assert_eq!(s.to_string(), "0-3,8,10-11");
        assert!(CpuSet::parse_list("3-1").is_none());
        assert!(CpuSet::parse_list("x").is_none());
        assert!(CpuSet::parse_list("").unwrap().is_empty());
    }

    #[test]
    fn set_operations() {
        let a: CpuSet = [0, 1, 2].into_iter().collect();
        let b: CpuSet = [1, 2].into_iter().collect();
        assert!(b.is_subset(&a));
        assert!(!a.is_subset(&b));
        assert_eq!(a.difference(&b).to_string(), "0");
        assert_eq!(b.union(&CpuSet::single(5)).to_string(), "1-2,5");
        assert_eq!(CpuSet::from_libc(&a.to_libc()), a);
    }

    #[test]
    fn this_thread_has_an_affinity() {
        let aff = thread_affinity().unwrap();
        assert!(!aff.is_empty());
        assert!(aff.is_subset(&detected_cpus().union(&aff)));
    }
}
