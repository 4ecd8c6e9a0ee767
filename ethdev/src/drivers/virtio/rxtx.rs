//! net_virtio's receive and transmit queues over split virtqueues (virtio spec v1.2 §5.1.6).
//!
//! Every buffer starts with the 12-byte `virtio_net_hdr` (§5.1.6.1, VERSION_1 layout). Receive
//! posts each mbuf with the header in its headroom, just before where the frame will start;
//! transmit pushes the header into the headroom of an mbuf it owns alone (one descriptor per
//! segment), or points a first descriptor at a header area of its own. The available index is
//! written once per burst, and the device notified at most once per burst, only when it asks
//! for it (`VIRTQ_USED_F_NO_NOTIFY` clear, §2.7.10); interrupts are never asked for.

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rpdk_mbuf::{BurstView, Mbuf, OlFlags, PktmbufPool};

use super::virtqueue::{DESC_F_NEXT, DESC_F_WRITE, Notifier, QueueShared};
use crate::driver::{RxQueueOps, TxQueueOps};
use crate::drivers::slots::MbufSlots;
use crate::stats::QueueCounters;

/// `sizeof(struct virtio_net_hdr)` with VERSION_1 (§5.1.6: `num_buffers` always there).
pub const NET_HDR_LEN: usize = 12;
/// Header flags (§5.1.6).
const HDR_F_NEEDS_CSUM: u8 = 1;
const HDR_F_DATA_VALID: u8 = 2;
/// Bytes of the TX header area per descriptor.
pub const TX_HDR_STRIDE: usize = 16;

/// The receive queue: descriptor `i` holds the mbuf of slot `i`, posted with room for the
/// header before the frame.
pub struct RxQueue {
    pub q: Arc<QueueShared>,
    pub notifier: Notifier,
    pub generation: u64,
    pub slots: MbufSlots,
    /// Descriptors without a buffer (the pool was empty when they came back).
    pub empty: Vec<u16>,
    pub pool: PktmbufPool,
    pub port: u16,
    pub counters: Arc<QueueCounters>,
    pub avail_idx: u16,
    pub last_used: u16,
    /// Whether received frames may carry a partial checksum (GUEST_CSUM negotiated).
    pub guest_csum: bool,
    /// A frame spread over several buffers (MRG_RXBUF), while its buffers come in.
    pub partial: Option<(Mbuf, u16)>,
}

impl RxQueue {
    /// A queue over `q` whose slots are `slots`, at index 0 until [`resume`](Self::resume)d
    /// (or restarted by the device's start).
    pub fn new(
        q: Arc<QueueShared>,
        notifier: Notifier,
        slots: MbufSlots,
        pool: PktmbufPool,
        port: u16,
        counters: Arc<QueueCounters>,
        guest_csum: bool,
    ) -> RxQueue {
        RxQueue {
            generation: q.generation(),
            q,
            notifier,
            empty: Vec::with_capacity(slots.len()),
            slots,
            pool,
            port,
            counters,
            avail_idx: 0,
            last_used: 0,
            guest_csum,
            partial: None,
        }
    }

    /// Posts mbuf `m` in descriptor `id` at the next available index (not yet published).
    #[inline(always)]
    fn post(&mut self, id: u16, m: Mbuf) {
        let ring = &self.q.ring;
        let addr = m.data_iova() - NET_HDR_LEN as u64;
        let len = m.tailroom() as u32 + NET_HDR_LEN as u32;
        ring.write_desc(id, addr, len, DESC_F_WRITE, 0);
        ring.set_avail(self.avail_idx, id);
        self.avail_idx = self.avail_idx.wrapping_add(1);
        drop(self.slots.replace(id as usize, m));
    }

    /// Posts descriptor `id` again with the mbuf of its slot, or a fresh one; or leaves it
    /// empty when the pool has none.
    fn repost(&mut self, id: u16) {
        let m = match self.slots.take(id as usize) {
            Some(m) => Some(m),
            None => self.pool.alloc().ok(),
        };
        match m {
            Some(m) => self.post(id, m),
            None => self.empty.push(id),
        }
    }

    /// After a device (re)start: every buffer posted again from index 0.
    fn restart(&mut self, generation: u64) {
        self.generation = generation;
        self.avail_idx = 0;
        self.last_used = 0;
        self.partial = None;
        self.empty.clear();
        for id in 0..self.slots.len() as u16 {
            self.repost(id);
        }
        self.q.record(self.avail_idx, self.last_used);
        self.q.ring.publish(self.avail_idx);
        if self.q.ring.wants_notify() {
            self.notifier.notify(&self.q);
        }
    }

    /// Arms the descriptors left without a buffer; returns how many.
    fn refill_empty(&mut self) -> usize {
        let mut n = 0;
        while let Some(&id) = self.empty.last() {
            let Ok(m) = self.pool.alloc() else {
                self.counters.add_nombuf(1);
                break;
            };
            self.empty.pop();
            self.post(id, m);
            n += 1;
        }
        n
    }

    /// Turns a filled buffer into an mbuf of `len` frame bytes; reads the header's buffer count
    /// and flags.
    #[inline(always)]
    fn take_header(m: &mut Mbuf, written: u32) -> Option<(u16, u8, u16, u16)> {
        let hdr = m.prepend(NET_HDR_LEN as u16).ok()?;
        let flags = hdr[0];
        let csum_start = u16::from_le_bytes([hdr[6], hdr[7]]);
        let csum_offset = u16::from_le_bytes([hdr[8], hdr[9]]);
        let num_buffers = u16::from_le_bytes([hdr[10], hdr[11]]);
        m.adj(NET_HDR_LEN as u16).ok()?;
        m.set_len((written as usize).checked_sub(NET_HDR_LEN)? as u16)
            .ok()?;
        Some((num_buffers, flags, csum_start, csum_offset))
    }
}

impl RxQueue {
    /// The queue from where its last driver left it: its recorded indices, the descriptors
    /// whose slots are empty to be armed. When that driver died driving it (`crashed`), what
    /// it may have half done is made whole: the entries it recorded are published, and every
    /// buffer the device returned since its last recorded burst is posted again with the mbuf
    /// of its slot (those frames are dropped: whether it took them is not known).
    pub fn resume(&mut self, crashed: bool) {
        let (avail, used) = self.q.recorded();
        self.avail_idx = avail;
        self.last_used = used;
        self.generation = self.q.generation();
        if crashed {
            self.q.ring.publish(avail);
            let end = self.q.ring.used_idx();
            while self.last_used != end {
                let (id, _) = self.q.ring.used_elem(self.last_used);
                self.last_used = self.last_used.wrapping_add(1);
                if id < self.q.ring.size() {
                    self.repost(id);
                }
            }
        }
        self.empty.clear();
        for id in 0..self.q.ring.size() {
            if self.slots.is_empty(id as usize) {
                self.empty.push(id);
            }
        }
        self.q.record(self.avail_idx, self.last_used);
        self.q.ring.publish(self.avail_idx);
        if crashed && self.q.ring.wants_notify() {
            self.notifier.notify(&self.q);
        }
    }
}

impl Drop for RxQueue {
    fn drop(&mut self) {
        if self.q.hand_over.load(Ordering::Acquire) {
            // A merged frame in progress is lost: its first buffers are this process's.
            self.slots.leave();
            self.q.record(self.avail_idx, self.last_used);
            self.q.words.park();
        }
    }
}

/// Completes a partial checksum the device left (`VIRTIO_NET_HDR_F_NEEDS_CSUM`, §5.1.6.4.1):
/// the ones' complement sum from `start` to the end, folded into the 16 bits at
/// `start + offset`. Returns false when the offsets lie outside the frame.
fn complete_csum(data: &mut [u8], start: usize, offset: usize) -> bool {
    let at = start + offset;
    if at + 2 > data.len() || start >= data.len() {
        return false;
    }
    let mut sum = 0u32;
    let mut chunks = data[start..].chunks_exact(2);
    for c in &mut chunks {
        sum += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    if let [b] = chunks.remainder() {
        sum += (*b as u32) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let v = !(sum as u16);
    data[at..at + 2].copy_from_slice(&v.to_be_bytes());
    true
}

impl RxQueueOps for RxQueue {
    fn rx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let generation = self.q.generation();
        if generation != self.generation {
            self.restart(generation);
        }
        let first_used = self.last_used;
        let mut reposted = if self.empty.is_empty() {
            0
        } else {
            self.refill_empty()
        };
        let used = self.q.ring.used_idx();
        let (mut n, mut bytes, mut errors) = (0usize, 0u64, 0u64);
        while self.last_used != used && n < pkts.room() {
            let (id, written) = self.q.ring.used_elem(self.last_used);
            self.last_used = self.last_used.wrapping_add(1);
            let Some(mut m) = (id < self.q.ring.size())
                .then(|| self.slots.take(id as usize))
                .flatten()
            else {
                // A device bug: a descriptor we did not post.
                errors += 1;
                continue;
            };
            // The buffer goes back to the device with a fresh mbuf.
            match self.pool.alloc() {
                Ok(fresh) => {
                    self.post(id, fresh);
                    reposted += 1;
                }
                Err(_) => {
                    self.counters.add_nombuf(1);
                    self.empty.push(id);
                }
            }
            if let Some((mut head, left)) = self.partial.take() {
                // The next buffer of a merged frame (§5.1.6.4: no header of its own, so its
                // data starts where the header would, at the start of what was posted).
                let fits =
                    m.prepend(NET_HDR_LEN as u16).is_ok() && m.set_len(written as u16).is_ok();
                if !fits || head.chain(m).is_err() {
                    errors += 1;
                    continue;
                }
                if left > 1 {
                    self.partial = Some((head, left - 1));
                    continue;
                }
                m = head;
            } else {
                let Some((num_buffers, flags, start, offset)) = Self::take_header(&mut m, written)
                else {
                    errors += 1;
                    continue;
                };
                if flags & HDR_F_NEEDS_CSUM != 0 && self.guest_csum {
                    // A frame from a peer that left its checksum to us.
                    let ok = m.is_contiguous()
                        && num_buffers <= 1
                        && m.data_mut()
                            .is_ok_and(|d| complete_csum(d, start as usize, offset as usize));
                    if !ok {
                        errors += 1;
                        continue;
                    }
                    m.set_ol_flags(m.ol_flags() | OlFlags::RX_L4_CKSUM_GOOD);
                } else if flags & HDR_F_DATA_VALID != 0 {
                    m.set_ol_flags(m.ol_flags() | OlFlags::RX_L4_CKSUM_GOOD);
                }
                if num_buffers > 1 {
                    self.partial = Some((m, num_buffers - 1));
                    continue;
                }
            }
            m.set_port(self.port);
            bytes += m.pkt_len() as u64;
            if let Err(m) = pkts.push(m) {
                drop(m);
                break;
            }
            n += 1;
        }
        if reposted > 0 || self.last_used != first_used {
            // Recorded before the publication: a process taking the queue over from one that
            // died can tell what the device has.
            self.q.record(self.avail_idx, self.last_used);
        }
        if reposted > 0 {
            self.q.ring.publish(self.avail_idx);
            if self.q.ring.wants_notify() {
                self.notifier.notify(&self.q);
            }
        }
        self.counters.add(n as u64, bytes);
        if errors > 0 {
            self.counters.add_errors(errors);
        }
        n
    }
}

/// The transmit queue: a chain of descriptors per packet, taken from a free list and given
/// back when the device returns the chain's head in the used ring.
pub struct TxQueue {
    pub q: Arc<QueueShared>,
    pub notifier: Notifier,
    pub generation: u64,
    /// The packet of each chain, in the slot of its head descriptor.
    pub slots: MbufSlots,
    /// The next descriptor of each descriptor's chain, and each chain's length.
    pub next: Vec<u16>,
    pub chain_len: Vec<u16>,
    /// Free descriptors (a stack).
    pub free: Vec<u16>,
    pub avail_idx: u16,
    pub last_used: u16,
    pub counters: Arc<QueueCounters>,
    /// Whether the device completes checksums (CSUM negotiated).
    pub csum: bool,
}

impl TxQueue {
    /// A queue over `q` whose slots are `slots`, at index 0 until [`resume`](Self::resume)d
    /// (or restarted by the device's start).
    pub fn new(
        q: Arc<QueueShared>,
        notifier: Notifier,
        slots: MbufSlots,
        counters: Arc<QueueCounters>,
        csum: bool,
    ) -> TxQueue {
        let n = slots.len();
        TxQueue {
            generation: q.generation(),
            q,
            notifier,
            slots,
            next: vec![0; n],
            chain_len: vec![0; n],
            free: Vec::with_capacity(n),
            avail_idx: 0,
            last_used: 0,
            counters,
            csum,
        }
    }

    fn restart(&mut self, generation: u64) {
        self.generation = generation;
        self.slots.clear();
        self.free.clear();
        self.free.extend((0..self.slots.len() as u16).rev());
        self.avail_idx = 0;
        self.last_used = 0;
        self.q.record(0, 0);
    }

    /// The queue from where its last driver left it: the chains of the recorded in-flight
    /// entries (from the used to the available index) are read back from the descriptor table
    /// (the device does not write it) into the chain links and lengths, every other
    /// descriptor is free. When that driver died driving it (`crashed`), the entries it
    /// recorded are published (its chains are complete before it records them) and the
    /// packets it had not recorded, which the device never saw, are freed.
    pub fn resume(&mut self, crashed: bool) {
        let (avail, used) = self.q.recorded();
        let ring = &self.q.ring;
        let size = ring.size();
        if crashed {
            ring.publish(avail);
        }
        self.avail_idx = avail;
        self.last_used = used;
        self.generation = self.q.generation();
        let mut busy = vec![false; size as usize];
        self.chain_len.iter_mut().for_each(|c| *c = 0);
        let mut idx = used;
        while idx != avail {
            let head = ring.avail_entry(idx);
            idx = idx.wrapping_add(1);
            if head >= size || busy[head as usize] {
                continue;
            }
            let (mut d, mut count) = (head, 0u16);
            loop {
                busy[d as usize] = true;
                count += 1;
                let (flags, next) = ring.desc_flags(d);
                if flags & DESC_F_NEXT == 0 || next >= size || count >= size {
                    break;
                }
                self.next[d as usize] = next;
                d = next;
            }
            self.chain_len[head as usize] = count;
        }
        self.free.clear();
        for d in (0..size).rev() {
            if !busy[d as usize] {
                // Not in flight: a packet left there was never published.
                drop(self.slots.take(d as usize));
                self.free.push(d);
            }
        }
    }

    /// Takes back the chains the device is done with.
    fn reclaim(&mut self) {
        let used = self.q.ring.used_idx();
        while self.last_used != used {
            let (id, _) = self.q.ring.used_elem(self.last_used);
            self.last_used = self.last_used.wrapping_add(1);
            if id >= self.q.ring.size() {
                continue;
            }
            drop(self.slots.take(id as usize));
            let mut d = id;
            for _ in 0..self.chain_len[id as usize] {
                self.free.push(d);
                d = self.next[d as usize];
            }
            self.chain_len[id as usize] = 0;
        }
    }
}

/// The header for `m` (§5.1.6.2): all zero but for a checksum the device is to complete.
#[inline(always)]
fn tx_header(m: &Mbuf, csum: bool) -> [u8; NET_HDR_LEN] {
    let mut h = [0u8; NET_HDR_LEN];
    let l4 = m.ol_flags().0 & OlFlags::TX_L4_MASK.0;
    if csum && l4 != 0 {
        let start = m.l2_len() + m.l3_len();
        let offset: u16 = if l4 == OlFlags::TX_TCP_CKSUM.0 {
            16
        } else if l4 == OlFlags::TX_UDP_CKSUM.0 {
            6
        } else {
            return h;
        };
        h[0] = HDR_F_NEEDS_CSUM;
        h[6..8].copy_from_slice(&start.to_le_bytes());
        h[8..10].copy_from_slice(&offset.to_le_bytes());
    }
    h
}

impl TxQueueOps for TxQueue {
    fn tx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let generation = self.q.generation();
        if generation != self.generation {
            self.restart(generation);
        }
        let first_used = self.last_used;
        self.reclaim();
        // How many packets fit in the free descriptors.
        let mut take = 0;
        let mut need = 0;
        for m in pkts.as_slice() {
            need += m.nb_segs() as usize + usize::from(!can_push(m));
            if need > self.free.len() {
                break;
            }
            take += 1;
        }
        let mut bytes = 0u64;
        pkts.take_front(take, |mut m| {
            bytes += m.pkt_len() as u64;
            let hdr = tx_header(&m, self.csum);
            let ring = &self.q.ring;
            let head = *self.free.last().expect("counted above");
            let mut count = 0u16;
            let mut prev: Option<u16> = None;
            let mut link = |free: &mut Vec<u16>, next: &mut [u16], addr: u64, len: u32| {
                let d = free.pop().expect("counted above");
                if let Some(p) = prev {
                    next[p as usize] = d;
                }
                ring.write_desc(d, addr, len, 0, 0);
                prev = Some(d);
                count += 1;
            };
            if can_push(&m) {
                m.prepend(NET_HDR_LEN as u16)
                    .expect("checked by can_push")
                    .copy_from_slice(&hdr);
            } else {
                let at = ring.extra() + head as usize * TX_HDR_STRIDE;
                ring.mem().write_bytes(at, &hdr);
                link(
                    &mut self.free,
                    &mut self.next,
                    ring.extra_iova(head as usize * TX_HDR_STRIDE),
                    NET_HDR_LEN as u32,
                );
            }
            for seg in m.segments() {
                link(
                    &mut self.free,
                    &mut self.next,
                    seg.data_iova(),
                    seg.data().len() as u32,
                );
            }
            // Link the chain (NEXT on every descriptor but the last).
            let mut d = head;
            for _ in 1..count {
                let nx = self.next[d as usize];
                ring.write_desc_flags(d, DESC_F_NEXT, nx);
                d = nx;
            }
            self.chain_len[head as usize] = count;
            ring.set_avail(self.avail_idx, head);
            self.avail_idx = self.avail_idx.wrapping_add(1);
            drop(self.slots.replace(head as usize, m));
        });
        if take > 0 || self.last_used != first_used {
            // Recorded before the publication (see `resume`).
            self.q.record(self.avail_idx, self.last_used);
        }
        if take > 0 {
            self.q.ring.publish(self.avail_idx);
            if self.q.ring.wants_notify() {
                self.notifier.notify(&self.q);
            }
            self.counters.add(take as u64, bytes);
        }
        take
    }
}

impl Drop for TxQueue {
    fn drop(&mut self) {
        if self.q.hand_over.load(Ordering::Acquire) {
            self.slots.leave();
            self.q.record(self.avail_idx, self.last_used);
            self.q.words.park();
        }
    }
}

/// Whether the header can go into the packet's own headroom: the buffer is ours alone and has
/// the room (DPDK's `can_push`).
#[inline(always)]
fn can_push(m: &Mbuf) -> bool {
    !m.is_shared() && m.headroom() as usize >= NET_HDR_LEN
}

#[cfg(test)]
mod tests {
    use super::complete_csum;

    #[test]
    fn partial_checksum_completed() {
        // An IPv4/UDP frame whose checksum field holds the pseudo-header sum, as a peer
        // with checksum offload leaves it; completing it gives the full UDP checksum.
        let mut f = vec![0u8; 14 + 20 + 8 + 4];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = 14;
        f[ip] = 0x45;
        f[ip + 9] = 17;
        f[ip + 12..ip + 16].copy_from_slice(&[10, 0, 0, 1]);
        f[ip + 16..ip + 20].copy_from_slice(&[10, 0, 0, 2]);
        let udp = ip + 20;
        f[udp..udp + 2].copy_from_slice(&1000u16.to_be_bytes());
        f[udp + 2..udp + 4].copy_from_slice(&2000u16.to_be_bytes());
        f[udp + 4..udp + 6].copy_from_slice(&12u16.to_be_bytes());
        f[udp + 8..].copy_from_slice(b"abcd");
        // Pseudo header: addresses, protocol, UDP length.
        let pseudo: u32 = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + 12;
        f[udp + 6..udp + 8].copy_from_slice(&(pseudo as u16).to_be_bytes());
        assert!(complete_csum(&mut f, udp, 6));
        // Verify: the sum over pseudo header and UDP segment with the checksum is 0xffff.
        let mut sum = 0x0a00u32 + 0x0001 + 0x0a00 + 0x0002 + 17 + 12;
        for c in f[udp..].chunks(2) {
            sum += u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32;
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        assert_eq!(sum, 0xffff);
        assert!(!complete_csum(&mut f, 40, 6));
    }
}
