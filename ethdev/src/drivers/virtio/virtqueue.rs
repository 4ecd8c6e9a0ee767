//! Split virtqueues (virtio spec v1.2 §2.7) in DMA-able memory: the descriptor table, the
//! driver area (available ring) and the device area (used ring), laid out in one memzone with
//! room after them for what a queue needs next to its buffers (TX headers, control commands).
//!
//! Indices are free-running u16 counters that wrap at 65536 (§2.7.6, §2.7.8); ring slots are
//! `idx & (size - 1)` (the size is a power of 2). Publication order (§2.7.13): descriptors and
//! ring entries first, a release fence, then the available index; the used index is read
//! before the elements it covers, with an acquire fence between. Whether the device wants a
//! notification is read after a full fence following the index update (§2.7.10: a store-load
//! order, which x86 does not keep on its own).

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};

use rpdk_eal::bus::PciHandle;
use rpdk_eal::memzone::Memzone;

use crate::driver::DriverResult;
use crate::drivers::dma::DmaArea;
use crate::shared::QueueWords;

/// Descriptor flags (§2.7.5).
pub const DESC_F_NEXT: u16 = 1;
pub const DESC_F_WRITE: u16 = 2;
/// The driver asks for no interrupts (§2.7.7): it polls.
const AVAIL_F_NO_INTERRUPT: u16 = 1;
/// The device asks for no notifications (§2.7.10): it is already processing the queue.
const USED_F_NO_NOTIFY: u16 = 1;

const DESC_SIZE: usize = 16;

const fn round_up(x: usize, to: usize) -> usize {
    x.div_ceil(to) * to
}

/// A split virtqueue's memory.
pub struct Vring {
    mem: DmaArea,
    size: u16,
    avail: usize,
    used: usize,
    extra: usize,
    extra_len: usize,
}

impl Vring {
    /// Where the driver area, the device area and the extra bytes start, and the whole length,
    /// for `size` descriptors and `extra` bytes.
    fn layout(size: u16, extra: usize) -> (usize, usize, usize, usize) {
        let n = size as usize;
        // Alignments (§2.7: 16 for descriptors, 2 for the driver area, 4 for the device
        // area); cache lines between the parts, so driver and device writes do not share one.
        let avail = n * DESC_SIZE;
        let used = round_up(avail + 6 + 2 * n, 64);
        let extra_at = round_up(used + 6 + 8 * n, 64);
        (avail, used, extra_at, extra_at + extra.max(1))
    }

    /// Reserves a ring of `size` descriptors (a power of 2) and `extra` bytes after it.
    pub fn new(
        dev: &PciHandle,
        name: &str,
        size: u16,
        extra: usize,
        socket: u32,
    ) -> DriverResult<Vring> {
        assert!(size.is_power_of_two());
        let (avail, used, extra_at, len) = Vring::layout(size, extra);
        let mem = DmaArea::new(dev, name, len, 4096, socket)?;
        let v = Vring {
            mem,
            size,
            avail,
            used,
            extra: extra_at,
            extra_len: extra,
        };
        v.reset();
        Ok(v)
    }

    /// A secondary process's view of the primary's ring in `zone`, as [`new`](Self::new) laid
    /// it out.
    pub fn view(zone: Memzone, size: u16, extra: usize) -> DriverResult<Vring> {
        if !size.is_power_of_two() {
            return Err(crate::error::DriverError::Invalid(format!(
                "virtqueue size {size}"
            )));
        }
        let (avail, used, extra_at, len) = Vring::layout(size, extra);
        Ok(Vring {
            mem: DmaArea::view(zone, len)?,
            size,
            avail,
            used,
            extra: extra_at,
            extra_len: extra,
        })
    }

    /// The ring's memzone.
    pub fn zone(&self) -> Option<&Memzone> {
        self.mem.zone()
    }

    /// The bytes after the rings (what [`new`](Self::new) was given).
    pub fn extra_len(&self) -> usize {
        self.extra_len
    }

    pub fn size(&self) -> u16 {
        self.size
    }

    /// The three areas' IOVAs, for the device.
    pub fn desc_iova(&self) -> u64 {
        self.mem.iova(0)
    }
    pub fn avail_iova(&self) -> u64 {
        self.mem.iova(self.avail)
    }
    pub fn used_iova(&self) -> u64 {
        self.mem.iova(self.used)
    }

    /// The memory after the rings.
    pub fn extra(&self) -> usize {
        self.extra
    }
    pub fn extra_iova(&self, offset: usize) -> u64 {
        self.mem.iova(self.extra + offset)
    }
    pub fn mem(&self) -> &DmaArea {
        &self.mem
    }

    /// Both indices back to 0 and no interrupts asked for: what a device that was just reset
    /// expects to find (§2.7.6 "initialized to 0").
    pub fn reset(&self) {
        self.mem.write16(self.avail, AVAIL_F_NO_INTERRUPT);
        self.mem.write16(self.avail + 2, 0);
        self.mem.write16(self.used, 0);
        self.mem.write16(self.used + 2, 0);
    }

    /// Writes descriptor `i` (§2.7.5).
    #[inline(always)]
    pub fn write_desc(&self, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
        let at = i as usize * DESC_SIZE;
        self.mem.write64(at, addr);
        self.mem.write32(at + 8, len);
        self.mem.write16(at + 12, flags);
        self.mem.write16(at + 14, next);
    }

    /// Rewrites the flags and next fields of descriptor `i`.
    #[inline(always)]
    pub fn write_desc_flags(&self, i: u16, flags: u16, next: u16) {
        let at = i as usize * DESC_SIZE;
        self.mem.write16(at + 12, flags);
        self.mem.write16(at + 14, next);
    }

    /// Puts descriptor chain head `id` in the available ring at index `idx` (not yet
    /// published).
    #[inline(always)]
    pub fn set_avail(&self, idx: u16, id: u16) {
        let slot = (idx & (self.size - 1)) as usize;
        self.mem.write16(self.avail + 4 + 2 * slot, id);
    }

    /// Makes the entries up to `idx` visible to the device.
    #[inline(always)]
    pub fn publish(&self, idx: u16) {
        fence(Ordering::Release);
        self.mem.write16(self.avail + 2, idx);
    }

    /// The device's used index; the elements before it may be read after this.
    #[inline(always)]
    pub fn used_idx(&self) -> u16 {
        let i = self.mem.read16(self.used + 2);
        fence(Ordering::Acquire);
        i
    }

    /// The used element at index `idx`: (descriptor chain head, bytes written).
    #[inline(always)]
    pub fn used_elem(&self, idx: u16) -> (u16, u32) {
        let at = self.used + 4 + 8 * (idx & (self.size - 1)) as usize;
        (self.mem.read32(at) as u16, self.mem.read32(at + 4))
    }

    /// The flags and next fields of descriptor `i`, as the driver wrote them.
    pub fn desc_flags(&self, i: u16) -> (u16, u16) {
        let at = i as usize * DESC_SIZE;
        (self.mem.read16(at + 12), self.mem.read16(at + 14))
    }

    /// The available ring's entry at index `idx`.
    pub fn avail_entry(&self, idx: u16) -> u16 {
        let slot = (idx & (self.size - 1)) as usize;
        self.mem.read16(self.avail + 4 + 2 * slot)
    }

    /// Whether the device wants to be notified of new buffers, after a publication.
    #[inline(always)]
    pub fn wants_notify(&self) -> bool {
        fence(Ordering::SeqCst);
        self.mem.read16(self.used) & USED_F_NO_NOTIFY == 0
    }
}

/// What the control path and a queue share: the ring, the register that notifies the device
/// of it, the device generation and the counters the port reports.
pub struct QueueShared {
    pub ring: Vring,
    /// The virtqueue's index on the device.
    pub index: u16,
    /// Byte offset of its notification register in the notification BAR.
    pub notify_at: usize,
    /// [`AVAIL`], [`USED`] and [`GENERATION`]: in the queue's record in the shared port data
    /// when it has one, so that every process driving the queue sees them.
    pub words: QueueWords,
    /// The mbuf slots' memzone (an RX or TX queue's), for the queue's next driver.
    pub slots_zone: Option<Memzone>,
    /// The queue object dropped next hands the queue over (see `share`).
    pub hand_over: AtomicBool,
    /// Notifications sent.
    pub notifications: AtomicU64,
}

/// [`QueueShared::words`]: the next available index, the next used index to read (both as of
/// the last burst, stored before the available index is published), and the device
/// generation, bumped by each device start: the queue re-posts its buffers (or drops what was
/// in flight) and starts again from index 0.
pub const AVAIL: usize = 0;
pub const USED: usize = 1;
pub const GENERATION: usize = 2;

impl QueueShared {
    pub fn new(
        ring: Vring,
        index: u16,
        notify_at: usize,
        words: QueueWords,
        slots_zone: Option<Memzone>,
    ) -> Arc<QueueShared> {
        Arc::new(QueueShared {
            ring,
            index,
            notify_at,
            words,
            slots_zone,
            hand_over: AtomicBool::new(false),
            notifications: AtomicU64::new(0),
        })
    }

    #[inline(always)]
    pub fn generation(&self) -> u64 {
        self.words.get(GENERATION).load(Ordering::Acquire)
    }

    /// Records where the queue stands (before the available index is published).
    #[inline(always)]
    pub fn record(&self, avail: u16, used: u16) {
        self.words.get(AVAIL).store(avail as u64, Ordering::Relaxed);
        self.words.get(USED).store(used as u64, Ordering::Relaxed);
    }

    /// The recorded (available, used) indices.
    pub fn recorded(&self) -> (u16, u16) {
        (
            self.words.get(AVAIL).load(Ordering::Relaxed) as u16,
            self.words.get(USED).load(Ordering::Relaxed) as u16,
        )
    }
}

/// Sends queue notifications (§4.1.5.2: the queue's index written to its register).
pub struct Notifier {
    pub dev: PciHandle,
    pub bar: usize,
}

impl Notifier {
    #[inline(always)]
    pub fn notify(&self, q: &QueueShared) {
        if let Some(bar) = self.dev.bar(self.bar) {
            bar.write16(q.notify_at, q.index);
            q.notifications.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::round_up;

    #[test]
    fn layout_offsets() {
        // 256 descriptors: 4096 bytes of descriptors, the driver area after them, the device
        // area on the next cache line.
        let n = 256usize;
        let avail = n * 16;
        let used = round_up(avail + 6 + 2 * n, 64);
        assert_eq!((avail, used), (4096, 4096 + 576));
        assert_eq!(used % 4, 0);
        // Free-running indices wrap at 65536; slots follow the low bits.
        let idx: u16 = 65535;
        assert_eq!(idx.wrapping_add(1) & (n as u16 - 1), 0);
        assert_eq!(idx & (n as u16 - 1), 255);
        assert_eq!(3u16.wrapping_sub(65533), 6);
    }
}
