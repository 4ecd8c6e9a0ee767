//! The stage's RSS settings, shared by a port's queues: the Toeplitz key and hash types, and
//! the redirection table (RETA). Control threads change them with the port's lock held;
//! polling lcores read them once per burst without a lock, so a change takes effect on the
//! next burst.
//!
//! The key and hash types sit behind a sequence lock (a reader copies them and retries if a
//! writer was at work: no torn key); the RETA is an array of atomics, each entry read on its
//! own (an update moves flows entry by entry, as on a NIC).

use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering, fence};

use rpdk_mbuf::Mbuf;

use crate::rss::{self, RssHf};

/// The stage's RETA size (DPDK's `RTE_ETH_RSS_RETA_SIZE_128`).
pub const STAGE_RETA_SIZE: u16 = 128;
/// The stage's key size: DPDK's default key's.
pub const STAGE_KEY_SIZE: u8 = 40;
/// The hash types the stage computes.
pub const STAGE_RSS_TYPES: RssHf = RssHf(RssHf::IP.0 | RssHf::TCP.0 | RssHf::UDP.0 | RssHf::SCTP.0);

const KEY_WORDS: usize = STAGE_KEY_SIZE as usize / 8;

/// A copy of the key and hash types for one burst.
#[derive(Clone, Copy)]
pub(crate) struct RssSnapshot {
    pub hf: RssHf,
    pub key: [u8; STAGE_KEY_SIZE as usize],
}

impl RssSnapshot {
    /// The Toeplitz hash of `m`'s frame, when a type in `hf` applies to it.
    #[inline]
    pub fn hash(&self, m: &Mbuf) -> Option<u32> {
        if self.hf == RssHf::NONE {
            return None;
        }
        rss::hash_frame(m.data(), self.hf, &self.key)
    }
}

/// A port's RSS state in the stage.
pub(crate) struct RssState {
    seq: AtomicU32,
    hf: AtomicU64,
    key: [AtomicU64; KEY_WORDS],
    reta: Box<[AtomicU16]>,
}

impl RssState {
    /// Hash types `hf`, key `key` (DPDK's default when `None`; its length is checked by the
    /// caller), and the default RETA of `reta_size` entries over `nb_queues`.
    pub fn new(hf: RssHf, key: Option<&[u8]>, nb_queues: u16, reta_size: u16) -> RssState {
        // A power of two, so that the low bits of a hash index it.
        let size = (reta_size.max(1) as usize).next_power_of_two();
        let s = RssState {
            seq: AtomicU32::new(0),
            hf: AtomicU64::new(0),
            key: Default::default(),
            reta: rss::default_reta(size, nb_queues)
                .into_iter()
                .map(AtomicU16::new)
                .collect(),
        };
        s.set(hf, key.unwrap_or(&rss::DEFAULT_RSS_KEY));
        s
    }

    /// Sets the hash types and key (40 bytes). Writers hold the port's lock.
    pub fn set(&self, hf: RssHf, key: &[u8]) {
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        self.hf.store(hf.0, Ordering::Relaxed);
        for (i, w) in self.key.iter().enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&key[i * 8..i * 8 + 8]);
            w.store(u64::from_be_bytes(b), Ordering::Relaxed);
        }
        self.seq.store(s.wrapping_add(2), Ordering::Release);
    }

    /// The key and hash types, consistent.
    #[inline]
    pub fn snapshot(&self) -> RssSnapshot {
        loop {
            let s0 = self.seq.load(Ordering::Acquire);
            if s0 % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let hf = RssHf(self.hf.load(Ordering::Relaxed));
            let mut key = [0u8; STAGE_KEY_SIZE as usize];
            for (i, w) in self.key.iter().enumerate() {
                key[i * 8..i * 8 + 8].copy_from_slice(&w.load(Ordering::Relaxed).to_be_bytes());
            }
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == s0 {
                return RssSnapshot { hf, key };
            }
        }
    }

    /// The queue the RETA gives `hash` (its low bits index the table, as a NIC's).
    #[inline(always)]
    pub fn queue_of(&self, hash: u32) -> u16 {
        self.reta[hash as usize & (self.reta.len() - 1)].load(Ordering::Relaxed)
    }

    /// Sets RETA entries `(index, queue)`, checked by the caller.
    pub fn reta_set(&self, entries: &[(u16, u16)]) {
        for &(i, q) in entries {
            self.reta[i as usize].store(q, Ordering::Relaxed);
        }
    }

    /// The whole RETA.
    pub fn reta(&self) -> Vec<u16> {
        self.reta
            .iter()
            .map(|e| e.load(Ordering::Relaxed))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_the_reta_spreads() {
        let s = RssState::new(RssHf::UDP, None, 4, STAGE_RETA_SIZE);
        let snap = s.snapshot();
        assert_eq!((snap.hf, snap.key), (RssHf::UDP, rss::DEFAULT_RSS_KEY));
        assert_eq!(s.reta()[..6], [0, 1, 2, 3, 0, 1]);
        assert_eq!(s.queue_of(0x1234_5605), 1, "entry 5 of 128");
        s.reta_set(&[(5, 3)]);
        assert_eq!(s.queue_of(0x1234_5605), 3);
        let key: Vec<u8> = (0..40).collect();
        s.set(RssHf::IP, &key);
        assert_eq!(s.snapshot().key.to_vec(), key);
    }
}
