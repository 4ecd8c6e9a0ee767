//! Safe views of the memory-mapped rings that a packet socket shares with the kernel: the
//! TPACKET_V3 receive ring (blocks of frames, handed over a block at a time), the TPACKET_V2
//! receive ring (one frame per slot, handed over as soon as it is written) and the TPACKET_V2
//! transmit ring. Ownership passes through each block's or frame's status
//! word: read with acquire ordering before the contents, written with release ordering after
//! them. Every offset the kernel writes is checked against the block before it is used.

use std::mem::size_of;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::drivers::packet_socket::Mmap;

/// `TPACKET_ALIGN(sizeof(struct tpacket3_hdr))`: where the `sockaddr_ll` of a V3 frame starts.
const V3_HDR: usize = 48;
/// `TPACKET_ALIGN(sizeof(struct tpacket2_hdr))`: where the `sockaddr_ll` of a V2 frame starts.
const V2_HDR: usize = 32;
/// Where the kernel puts an Ethernet frame's MAC header in a V2 RX slot:
/// `TPACKET_ALIGN(TPACKET2_HDRLEN + 16) - 14`. A slot holds `frame_size - V2_RX_MAC` bytes of it.
pub(super) const V2_RX_MAC: usize = 66;
/// Most V2 frames one `ready` looks ahead at.
const V2_LOOKAHEAD: u32 = 64;
/// Offset of `sll_pkttype` in `struct sockaddr_ll`.
const SLL_PKTTYPE: usize = 10;
/// Offsets in `struct tpacket_block_desc` (`hdr.bh1.block_status`, `num_pkts`,
/// `offset_to_first_pkt`).
const BLOCK_STATUS: usize = 8;
const BLOCK_NUM_PKTS: usize = 12;
const BLOCK_FIRST_PKT: usize = 16;
/// Size of the block descriptor: no frame starts before it.
const BLOCK_DESC: usize = 48;
/// `TPACKET2_HDRLEN - sizeof(struct sockaddr_ll)`: where a V2 TX frame's data starts.
pub(super) const TX_DATA_OFF: usize = 32;

/// The transmit-timestamp bits of a V2 status word, which say nothing of ownership.
const TP_STATUS_TS_MASK: u32 =
    libc::TP_STATUS_TS_SOFTWARE | libc::TP_STATUS_TS_SYS_HARDWARE | libc::TP_STATUS_TS_RAW_HARDWARE;

/// A frame of the receive ring, borrowed until the ring moves on.
#[derive(Debug)]
pub(super) struct Frame<'a> {
    /// The bytes captured, from the MAC header.
    pub data: &'a [u8],
    /// The frame's length on the wire (more than `data` when truncated).
    pub wire_len: u32,
    /// `TP_STATUS_*` bits of the frame (`VLAN_VALID`, `VLAN_TPID_VALID`, `CSUMNOTREADY`...).
    pub status: u32,
    /// The VLAN tag the kernel took out of the frame, with `TP_STATUS_VLAN_VALID`.
    pub vlan_tci: u16,
    /// Its TPID, with `TP_STATUS_VLAN_TPID_VALID`.
    pub vlan_tpid: u16,
    /// `PACKET_HOST`, `PACKET_OUTGOING`...
    pub pkttype: u8,
}

/// What [`RxFrames::ready`] found.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ready {
    /// Frames ready to read.
    pub frames: u32,
    /// Blocks taken from the kernel by this call (0 for a V2 ring).
    pub blocks: u32,
    /// Status bits of the V3 blocks taken, together (`TP_STATUS_LOSING`, `TP_STATUS_BLK_TMO`);
    /// of a V2 ring's frames, only `TP_STATUS_LOSING`. Zero when there is nothing to account.
    pub status: u32,
}

/// A receive ring, read frame by frame.
pub(super) trait RxFrames: Send {
    /// Frames ready to read. Gives back to the kernel what was read before.
    fn ready(&mut self) -> Ready;
    /// The next ready frame, if any is left; it stays ours until the next `ready` or
    /// `release_used`.
    fn next_frame(&mut self) -> Option<Frame<'_>>;
    /// Gives back to the kernel the frames read (a V3 block once all of its frames are).
    fn release_used(&mut self);
    /// Where the ring is (for another process that maps the same ring, or this one later).
    fn position(&self) -> Position;
    /// Continues from `pos` (a [`position`](RxFrames::position) of a mapping of this ring).
    fn set_position(&mut self, pos: Position) -> Result<(), String>;
    /// Finds the place to read from the ring itself, when no position was kept (its last reader
    /// died): the oldest of the frames or blocks the kernel handed over, or, when it handed
    /// none over, the first it hands over from now on (each `ready` looks over the ring until
    /// then).
    fn resync(&mut self);
}

/// A ring's place: its words are the driver's own (see each ring's `position`).
pub(super) type Position = [u64; 3];

/// The first slot of the run of slots that `is_user` says the kernel handed over (slots are
/// handed over in order, so they form one run, oldest first), looking from `from`; `Some(from)`
/// when every slot is handed over, `None` when none is.
fn run_start(n: usize, from: usize, is_user: impl Fn(usize) -> bool) -> Option<usize> {
    let mut any = false;
    for k in 0..n {
        let i = (from + k) % n;
        if is_user(i) {
            any = true;
            if !is_user((i + n - 1) % n) {
                return Some(i);
            }
        }
    }
    any.then_some(from)
}

/// The TPACKET_V3 receive ring of a socket: `nb_blocks` blocks of `block_size` bytes.
#[derive(Debug)]
pub(super) struct RxRingV3 {
    map: Mmap,
    block_size: usize,
    nb_blocks: usize,
    /// The block at the cursor.
    block: usize,
    /// Whether the kernel handed that block over and we have not given it back.
    held: bool,
    /// Frames of the held block not read yet.
    left: u32,
    /// Offset of the next frame in the held block.
    off: usize,
    /// The place is not known yet (see [`RxFrames::resync`]).
    resync: bool,
}

impl RxRingV3 {
    /// The ring over `map`, which holds at least `nb_blocks` blocks of `block_size` bytes.
    pub fn new(map: Mmap, block_size: usize, nb_blocks: usize) -> RxRingV3 {
        assert!(
            block_size > BLOCK_DESC && nb_blocks > 0 && map.len() >= block_size * nb_blocks,
            "ring geometry does not match its mapping"
        );
        RxRingV3 {
            map,
            block_size,
            nb_blocks,
            block: 0,
            held: false,
            left: 0,
            off: 0,
            resync: false,
        }
    }

    fn block_status(&self, b: usize) -> u32 {
        // SAFETY: the status word of block b < nb_blocks: 4-aligned, inside the mapping; the
        // kernel writes it atomically.
        let w = unsafe {
            AtomicU32::from_ptr(
                self.map
                    .as_ptr()
                    .add(b * self.block_size + BLOCK_STATUS)
                    .cast(),
            )
        };
        w.load(Ordering::Acquire)
    }

    fn find_start(&mut self) {
        let user = |b| self.block_status(b) & libc::TP_STATUS_USER != 0;
        if let Some(b) = run_start(self.nb_blocks, self.block, user) {
            self.block = b;
            self.resync = false;
        }
    }

    fn block_ptr(&self) -> *mut u8 {
        // SAFETY: block < nb_blocks, so the offset stays in the mapping (checked in `new`).
        unsafe { self.map.as_ptr().add(self.block * self.block_size) }
    }

    fn status_word(&self) -> &AtomicU32 {
        // SAFETY: the status word of the current block: 4-aligned (blocks are page-aligned),
        // inside the mapping, which lives as long as `self`; the kernel writes it atomically.
        unsafe { AtomicU32::from_ptr(self.block_ptr().add(BLOCK_STATUS).cast()) }
    }

    fn read_u32(&self, off: usize) -> u32 {
        debug_assert!(off + 4 <= self.block_size);
        // SAFETY: inside the current block, which the kernel handed over (or whose descriptor
        // it wrote before handing it over); read without alignment assumptions.
        unsafe { self.block_ptr().add(off).cast::<u32>().read_unaligned() }
    }

    fn give_back(&mut self) {
        self.status_word()
            .store(libc::TP_STATUS_KERNEL, Ordering::Release);
        self.held = false;
        self.left = 0;
        self.block += 1;
        if self.block == self.nb_blocks {
            self.block = 0;
        }
    }
}

impl RxFrames for RxRingV3 {
    /// Frames ready to read. When the held block is used up, gives it back to the kernel and
    /// takes the next one if the kernel has closed it.
    #[inline]
    fn ready(&mut self) -> Ready {
        let mut r = Ready {
            frames: self.left,
            blocks: 0,
            status: 0,
        };
        if self.held && self.left > 0 {
            return r;
        }
        if self.resync && !self.held {
            self.find_start();
        }
        for _ in 0..self.nb_blocks {
            if self.held {
                self.give_back();
            }
            let status = self.status_word().load(Ordering::Acquire);
            if status & libc::TP_STATUS_USER == 0 {
                break;
            }
            r.blocks += 1;
            r.status |= status;
            self.held = true;
            let first = self.read_u32(BLOCK_FIRST_PKT) as usize;
            self.left = if (BLOCK_DESC..self.block_size).contains(&first) {
                self.read_u32(BLOCK_NUM_PKTS)
            } else {
                0
            };
            self.off = first;
            if self.left > 0 {
                break;
            }
        }
        r.frames = self.left;
        r
    }

    /// The next frame of the held block, if any is left. A frame whose offsets fall outside
    /// the block ends the block.
    #[inline]
    fn next_frame(&mut self) -> Option<Frame<'_>> {
        if !self.held || self.left == 0 {
            return None;
        }
        let off = self.off;
        if off + V3_HDR + size_of::<libc::sockaddr_ll>() > self.block_size {
            self.left = 0;
            return None;
        }
        // SAFETY: the header lies in the held block (checked above); frames are 16-aligned.
        let h: libc::tpacket3_hdr = unsafe {
            self.block_ptr()
                .add(off)
                .cast::<libc::tpacket3_hdr>()
                .read()
        };
        let (mac, snap) = (h.tp_mac as usize, h.tp_snaplen as usize);
        if mac < V3_HDR || off + mac + snap > self.block_size {
            self.left = 0;
            return None;
        }
        self.left -= 1;
        let next = h.tp_next_offset as usize;
        if self.left > 0 {
            if next == 0 || off + next >= self.block_size {
                self.left = 0;
            }
            self.off = off + next;
        }
        // SAFETY: in the held block, checked above.
        let pkttype = unsafe { *self.block_ptr().add(off + V3_HDR + SLL_PKTTYPE) };
        // SAFETY: `mac..mac + snap` lies in the held block (checked above); the kernel does not
        // write to it until the block is given back, which needs `&mut self`.
        let data = unsafe { std::slice::from_raw_parts(self.block_ptr().add(off + mac), snap) };
        Some(Frame {
            data,
            wire_len: h.tp_len,
            status: h.tp_status,
            vlan_tci: h.hv1.tp_vlan_tci as u16,
            vlan_tpid: h.hv1.tp_vlan_tpid,
            pkttype,
        })
    }

    /// Gives the held block back to the kernel if every frame of it was read.
    #[inline]
    fn release_used(&mut self) {
        if self.held && self.left == 0 {
            self.give_back();
        }
    }

    /// The block at the cursor, whether it is held with the frames left in it, and the
    /// offset of its next frame.
    fn position(&self) -> Position {
        [
            self.block as u64,
            u64::from(self.held) | (self.left as u64) << 32,
            self.off as u64,
        ]
    }

    fn set_position(&mut self, pos: Position) -> Result<(), String> {
        let block = pos[0] as usize;
        let held = pos[1] & 1 == 1;
        let (left, off) = ((pos[1] >> 32) as u32, pos[2] as usize);
        if block >= self.nb_blocks
            || (held && left > 0 && !(BLOCK_DESC..self.block_size).contains(&off))
        {
            return Err(format!(
                "position block {block} offset {off} is outside a ring of {} blocks of {} bytes",
                self.nb_blocks, self.block_size
            ));
        }
        (self.block, self.held, self.left, self.off) =
            (block, held, if held { left } else { 0 }, off);
        // A held block that its reader gave back meanwhile is not ours.
        if held && self.block_status(block) & libc::TP_STATUS_USER == 0 {
            (self.held, self.left) = (false, 0);
        }
        self.resync = false;
        Ok(())
    }

    fn resync(&mut self) {
        // A block its reader held is read again from its first frame.
        (self.held, self.left) = (false, 0);
        self.resync = true;
        self.find_start();
    }
}

/// The slots of a TPACKET_V2 ring: `nb_frames` frames of `frame_size` bytes, packed into blocks
/// of `block_size` bytes, each opening with its `tp_status` word.
#[derive(Debug)]
struct V2Slots {
    map: Mmap,
    block_size: usize,
    frame_size: usize,
    frames_per_block: usize,
    nb_frames: usize,
}

impl V2Slots {
    /// The slots over `map`; each must hold more than `header` bytes.
    fn new(
        map: Mmap,
        block_size: usize,
        frame_size: usize,
        nb_frames: usize,
        header: usize,
    ) -> V2Slots {
        let frames_per_block = block_size / frame_size.max(1);
        assert!(
            frame_size > header
                && frame_size.is_multiple_of(16)
                && frames_per_block > 0
                && nb_frames > 0
                && nb_frames.div_ceil(frames_per_block) * block_size <= map.len(),
            "ring geometry does not match its mapping"
        );
        V2Slots {
            map,
            block_size,
            frame_size,
            frames_per_block,
            nb_frames,
        }
    }

    fn frame_ptr(&self, i: usize) -> *mut u8 {
        debug_assert!(i < self.nb_frames);
        let (b, f) = (i / self.frames_per_block, i % self.frames_per_block);
        // SAFETY: i < nb_frames (every caller's index went through `wrap`), so the frame lies in
        // the mapping (checked in `new`).
        unsafe {
            self.map
                .as_ptr()
                .add(b * self.block_size + f * self.frame_size)
        }
    }

    fn status_word(&self, i: usize) -> &AtomicU32 {
        // SAFETY: `tp_status` opens frame i: 16-aligned, inside the mapping, which lives as long
        // as `self`; the kernel writes it atomically.
        unsafe { AtomicU32::from_ptr(self.frame_ptr(i).cast()) }
    }

    /// Index `i`, less than twice the slot count, brought into the ring.
    fn wrap(&self, i: usize) -> usize {
        if i >= self.nb_frames {
            i - self.nb_frames
        } else {
            i
        }
    }
}

/// The TPACKET_V2 receive ring of a socket. The kernel hands each frame over as soon as it is
/// written, so light traffic waits for no block timer.
#[derive(Debug)]
pub(super) struct RxRingV2 {
    slots: V2Slots,
    /// The next frame to read.
    head: usize,
    /// Frames before `head` read and not given back yet.
    used: usize,
    /// Frames from `head` on that `ready` saw handed over.
    left: u32,
    /// The place is not known yet (see [`RxFrames::resync`]).
    resync: bool,
}

impl RxRingV2 {
    /// The ring over `map`, which holds `nb_frames` frames in blocks of `block_size`.
    pub fn new(map: Mmap, block_size: usize, frame_size: usize, nb_frames: usize) -> RxRingV2 {
        RxRingV2 {
            slots: V2Slots::new(map, block_size, frame_size, nb_frames, V2_RX_MAC),
            head: 0,
            used: 0,
            left: 0,
            resync: false,
        }
    }

    fn find_start(&mut self) {
        let slots = &self.slots;
        let user = |i| slots.status_word(i).load(Ordering::Acquire) & libc::TP_STATUS_USER != 0;
        if let Some(i) = run_start(slots.nb_frames, self.head, user) {
            self.head = i;
            self.resync = false;
        }
    }
}

impl RxFrames for RxRingV2 {
    #[inline]
    fn ready(&mut self) -> Ready {
        self.release_used();
        if self.resync {
            self.find_start();
        }
        let mut r = Ready {
            frames: self.left,
            blocks: 0,
            status: 0,
        };
        let mut i = self.slots.wrap(self.head + self.left as usize);
        while r.frames < V2_LOOKAHEAD && (r.frames as usize) < self.slots.nb_frames {
            let status = self.slots.status_word(i).load(Ordering::Acquire);
            if status & libc::TP_STATUS_USER == 0 {
                break;
            }
            r.status |= status & libc::TP_STATUS_LOSING;
            r.frames += 1;
            i = self.slots.wrap(i + 1);
        }
        self.left = r.frames;
        r
    }

    /// The frame at the head. A header whose offsets fall outside its slot gives an empty
    /// frame (which the queue counts as an error) and the slot is given back all the same.
    #[inline]
    fn next_frame(&mut self) -> Option<Frame<'_>> {
        if self.left == 0 {
            return None;
        }
        let i = self.head;
        self.left -= 1;
        self.used += 1;
        self.head = self.slots.wrap(i + 1);
        let frame = self.slots.frame_ptr(i);
        // SAFETY: the header opens slot i, which the kernel handed over (its status was read with
        // acquire ordering in `ready`); 16-aligned.
        let h: libc::tpacket2_hdr = unsafe { frame.cast::<libc::tpacket2_hdr>().read() };
        let (mac, snap) = (h.tp_mac as usize, h.tp_snaplen as usize);
        let fits =
            mac >= V2_HDR + size_of::<libc::sockaddr_ll>() && mac + snap <= self.slots.frame_size;
        let (data, pkttype) = if fits {
            // SAFETY: `mac..mac + snap` and the sockaddr_ll lie in slot i (checked above); the
            // kernel does not write to it until it is given back, which needs `&mut self`.
            unsafe {
                (
                    std::slice::from_raw_parts(frame.add(mac), snap),
                    *frame.add(V2_HDR + SLL_PKTTYPE),
                )
            }
        } else {
            (&[][..], libc::PACKET_HOST)
        };
        Some(Frame {
            data,
            wire_len: h.tp_len.max(1),
            status: h.tp_status,
            vlan_tci: h.tp_vlan_tci,
            vlan_tpid: h.tp_vlan_tpid,
            pkttype,
        })
    }

    #[inline]
    fn release_used(&mut self) {
        let mut i = self
            .slots
            .wrap(self.head + self.slots.nb_frames - self.used);
        for _ in 0..self.used {
            self.slots
                .status_word(i)
                .store(libc::TP_STATUS_KERNEL, Ordering::Release);
            i = self.slots.wrap(i + 1);
        }
        self.used = 0;
    }

    /// The next frame to read (frames read are given back first).
    fn position(&self) -> Position {
        [
            self.slots
                .wrap(self.head + self.slots.nb_frames - self.used) as u64,
            0,
            0,
        ]
    }

    fn set_position(&mut self, pos: Position) -> Result<(), String> {
        let head = pos[0] as usize;
        if head >= self.slots.nb_frames {
            return Err(format!(
                "position frame {head} is outside a ring of {} frames",
                self.slots.nb_frames
            ));
        }
        (self.head, self.used, self.left, self.resync) = (head, 0, 0, false);
        Ok(())
    }

    fn resync(&mut self) {
        self.release_used();
        self.left = 0;
        self.resync = true;
        self.find_start();
    }
}

/// The TPACKET_V2 transmit ring of a socket.
#[derive(Debug)]
pub(super) struct TxRing {
    slots: V2Slots,
    head: usize,
}

impl TxRing {
    /// The ring over `map`, which holds `nb_frames` frames in blocks of `block_size`.
    pub fn new(map: Mmap, block_size: usize, frame_size: usize, nb_frames: usize) -> TxRing {
        TxRing {
            slots: V2Slots::new(map, block_size, frame_size, nb_frames, TX_DATA_OFF),
            head: 0,
        }
    }

    /// The next slot to fill.
    pub fn position(&self) -> Position {
        [self.head as u64, 0, 0]
    }

    /// Continues from `pos` (a [`position`](TxRing::position) of a mapping of this ring).
    pub fn set_position(&mut self, pos: Position) -> Result<(), String> {
        let head = pos[0] as usize;
        if head >= self.slots.nb_frames {
            return Err(format!(
                "position frame {head} is outside a ring of {} frames",
                self.slots.nb_frames
            ));
        }
        self.head = head;
        Ok(())
    }

    /// Bytes of frame data a slot holds.
    pub fn data_room(&self) -> usize {
        self.slots.frame_size - TX_DATA_OFF
    }

    /// Fills the head slot if the kernel is done with it: `write` gets the slot's data room and
    /// returns the frame's length; the slot is then marked for sending and the head moves on.
    /// Returns the slot's status when it is still the kernel's (`TP_STATUS_SEND_REQUEST` or
    /// `TP_STATUS_SENDING`).
    #[inline]
    pub fn push(&mut self, write: impl FnOnce(&mut [u8]) -> usize) -> Result<(), u32> {
        let status = self.slots.status_word(self.head).load(Ordering::Acquire) & !TP_STATUS_TS_MASK;
        // A malformed frame (only without PACKET_LOSS) is the kernel's no more either.
        if status != libc::TP_STATUS_AVAILABLE && status != libc::TP_STATUS_WRONG_FORMAT {
            return Err(status);
        }
        let room = self.data_room();
        let frame = self.slots.frame_ptr(self.head);
        // SAFETY: the slot's data area lies in the mapping; the kernel leaves an available slot
        // alone, and `&mut self` keeps any other writer out.
        let data = unsafe { std::slice::from_raw_parts_mut(frame.add(TX_DATA_OFF), room) };
        let len = write(data).min(room) as u32;
        // SAFETY: tp_len and tp_snaplen (offsets 4 and 8 of tpacket2_hdr) are in the slot, which
        // is still ours.
        unsafe {
            frame.add(4).cast::<u32>().write(len);
            frame.add(8).cast::<u32>().write(len);
        }
        self.slots
            .status_word(self.head)
            .store(libc::TP_STATUS_SEND_REQUEST, Ordering::Release);
        self.head = self.slots.wrap(self.head + 1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn the_run_of_handed_over_slots_is_found_from_anywhere() {
        let run = |n: usize, from: usize, user: &[usize]| run_start(n, from, |i| user.contains(&i));
        for from in 0..8 {
            assert_eq!(run(8, from, &[5, 6]), Some(5), "from {from}");
            assert_eq!(run(8, from, &[6, 7, 0, 1]), Some(6), "from {from}");
            assert_eq!(run(8, from, &[3]), Some(3), "from {from}");
            // Nothing handed over: no place to be had from the ring.
            assert_eq!(run(8, from, &[]), None, "from {from}");
            // A full ring: any place reads every frame.
            assert_eq!(run(8, from, &[0, 1, 2, 3, 4, 5, 6, 7]), Some(from));
        }
        assert_eq!(run(1, 0, &[0]), Some(0));
        assert_eq!(run(1, 0, &[]), None);
    }

    #[test]
    fn offsets_match_the_kernel_headers() {
        assert_eq!(
            V3_HDR,
            size_of::<libc::tpacket3_hdr>().next_multiple_of(libc::TPACKET_ALIGNMENT)
        );
        assert_eq!(offset_of!(libc::sockaddr_ll, sll_pkttype), SLL_PKTTYPE);
        let bh1 = offset_of!(libc::tpacket_block_desc, hdr);
        assert_eq!(
            bh1 + offset_of!(libc::tpacket_hdr_v1, block_status),
            BLOCK_STATUS
        );
        assert_eq!(
            bh1 + offset_of!(libc::tpacket_hdr_v1, num_pkts),
            BLOCK_NUM_PKTS
        );
        assert_eq!(
            bh1 + offset_of!(libc::tpacket_hdr_v1, offset_to_first_pkt),
            BLOCK_FIRST_PKT
        );
        assert_eq!(size_of::<libc::tpacket_block_desc>(), BLOCK_DESC);
        assert_eq!(
            TX_DATA_OFF,
            libc::TPACKET2_HDRLEN - size_of::<libc::sockaddr_ll>()
        );
        assert_eq!(
            V2_HDR,
            size_of::<libc::tpacket2_hdr>().next_multiple_of(libc::TPACKET_ALIGNMENT)
        );
        assert_eq!(
            V2_RX_MAC,
            (libc::TPACKET2_HDRLEN + 16).next_multiple_of(libc::TPACKET_ALIGNMENT) - 14
        );
        assert_eq!(offset_of!(libc::tpacket2_hdr, tp_len), 4);
        assert_eq!(offset_of!(libc::tpacket2_hdr, tp_snaplen), 8);
    }
}
