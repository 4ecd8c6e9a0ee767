//! The shared port data (DPDK's `rte_eth_dev_data` in shared memory): what every process of a
//! file prefix sees of the primary's ports, in one memzone (`rpdk_eth_dev_data`).
//!
//! Per port: a description the primary writes at each change under a sequence counter (name,
//! driver, MAC address, queue counts, each queue's descriptors, thresholds, offloads and RX
//! pool name, link, MTU, promiscuous and all-multicast modes, RSS key and hash types), the started
//! flag every burst reads, the owner (a process id) of each queue, and the counters of each
//! queue. Nothing in it is a pointer: the description is plain numbers and bytes, the flag,
//! owners and counters are atomics, and every process finds the zone by name and the port
//! by its id. The queues' own state stays in the process driving them (see
//! `crate::secondary`).
//!
//! The zone exists in primaries that have a runtime directory (not `--no-shconf` or
//! `--in-memory`: no secondary can attach to those), and carries a magic number and its
//! layout's size, so a process built from another rpdk gets an error instead of misreading it.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering, fence};

use bytemuck::{Pod, Zeroable};
use rpdk_eal::memzone::{self, Memzone, MemzoneFlags};
use rpdk_eal::options::ProcType;

use crate::port::MAX_ETHPORTS;
use crate::stats::CounterBlock;

/// Queues per direction and port with a shared owner and shared counters: those a secondary
/// can drive.
pub const SHARED_QUEUES: usize = 32;

const ZONE: &str = "rpdk_eth_dev_data";
/// The zone's magic number; the last digit is the layout's version (2: per-queue records; 3:
/// per-queue driver positions).
const MAGIC: u64 = u64::from_le_bytes(*b"rpdkEDD3");

/// Bits of [`PortDesc::flags`].
pub(crate) mod flag {
    pub const IN_USE: u32 = 1;
    pub const CONFIGURED: u32 = 1 << 1;
    pub const PROMISC: u32 = 1 << 2;
    pub const ALLMULTI: u32 = 1 << 3;
    pub const LINK_UP: u32 = 1 << 4;
    pub const FULL_DUPLEX: u32 = 1 << 5;
    pub const AUTONEG: u32 = 1 << 6;
}

/// Bits of [`RxqDesc::flags`] and [`TxqDesc::flags`].
pub(crate) mod qflag {
    /// The queue is set up (the record is meaningful).
    pub const SET: u16 = 1;
    /// RX: drop packets when no descriptor is free.
    pub const DROP_EN: u16 = 1 << 1;
    /// RX: frames may arrive in several segments.
    pub const SCATTERED: u16 = 1 << 2;
}

/// Longest RX pool name kept (with its terminating zero); pool names are shorter
/// (`rpdk_mempool::MEMPOOL_NAME_MAX`).
pub(crate) const POOL_NAME_LEN: usize = 32;
const _: () = assert!(rpdk_mempool::MEMPOOL_NAME_MAX < POOL_NAME_LEN);

/// How an RX queue is set up (DPDK's `rte_eth_rxq_info`), the pool by name.
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub(crate) struct RxqDesc {
    /// The queue's offloads, the port's included.
    pub offloads: u64,
    /// Bytes of data each buffer takes (the pool's data room less the headroom).
    pub buf_size: u32,
    /// The pool's NUMA node.
    pub pool_socket: u32,
    /// Descriptors (0: unknown, the driver's default).
    pub nb_desc: u16,
    pub free_thresh: u16,
    /// [`qflag`] bits.
    pub flags: u16,
    pub _reserved: u16,
    pub pool: [u8; POOL_NAME_LEN],
}

/// How a TX queue is set up (DPDK's `rte_eth_txq_info`).
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub(crate) struct TxqDesc {
    /// The queue's offloads, the port's included.
    pub offloads: u64,
    /// Descriptors (0: unknown, the driver's default).
    pub nb_desc: u16,
    pub free_thresh: u16,
    pub rs_thresh: u16,
    /// [`qflag`] bits.
    pub flags: u16,
}

/// What the primary tells of a port: numbers and bytes only.
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub(crate) struct PortDesc {
    /// RSS hash types configured.
    pub rss_hf: u64,
    /// Bumped at every configuration change (configure, queue setup, reset, close).
    pub generation: u64,
    /// Each RX and TX queue, as set up.
    pub rxq: [RxqDesc; SHARED_QUEUES],
    pub txq: [TxqDesc; SHARED_QUEUES],
    /// The primary's process id.
    pub pid: u32,
    pub socket: u32,
    pub link_speed: u32,
    /// [`flag`] bits.
    pub flags: u32,
    pub max_rx_pktlen: u32,
    pub nb_rx: u16,
    pub nb_tx: u16,
    pub mtu: u16,
    pub min_mtu: u16,
    pub max_mtu: u16,
    pub reta_size: u16,
    pub rss_key_len: u16,
    pub mac: [u8; 6],
    pub name: [u8; 64],
    pub driver: [u8; 32],
    pub rss_key: [u8; 64],
}

const DESC_WORDS: usize = std::mem::size_of::<PortDesc>() / 8;
const _: () = assert!(std::mem::size_of::<PortDesc>().is_multiple_of(8));

impl PortDesc {
    pub fn text(bytes: &[u8]) -> String {
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        String::from_utf8_lossy(&bytes[..end]).into_owned()
    }

    pub fn set_text(dst: &mut [u8], s: &str) {
        dst.fill(0);
        let n = s.len().min(dst.len() - 1);
        dst[..n].copy_from_slice(&s.as_bytes()[..n]);
    }

    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }
}

/// The started flag, alone in its cache line (every burst of every process reads it).
#[repr(C, align(64))]
struct Started(AtomicBool);

/// One port's shared data.
#[repr(C)]
pub(crate) struct PortData {
    started: Started,
    seq: AtomicU64,
    desc: [AtomicU64; DESC_WORDS],
    /// The process id driving each RX (`[0]`) and TX (`[1]`) queue, 0 for none.
    owners: [[AtomicU32; SHARED_QUEUES]; 2],
    counters: [[CounterBlock; SHARED_QUEUES]; 2],
    /// Where each RX (`[0]`) and TX (`[1]`) queue's driver left its ring (see
    /// [`QueueRecord`]).
    positions: [[PositionWords; SHARED_QUEUES]; 2],
}

/// One queue's [`QueueRecord`]: a state word and the driver's position words, in a cache line
/// of its own.
#[repr(C, align(64))]
struct PositionWords {
    state: AtomicU64,
    pos: [AtomicU64; POSITION_WORDS],
}

/// Words of position a driver keeps in a [`QueueRecord`].
pub(crate) const POSITION_WORDS: usize = 3;

/// [`QueueRecord`] states.
const PARKED: u64 = 1;
const DRIVEN: u64 = 2;

#[repr(C)]
struct Table {
    magic: u64,
    layout: u64,
    ports: [PortData; MAX_ETHPORTS],
}

/// The zone, reserved by the primary or found by a secondary.
fn table_zone() -> rpdk_eal::Result<Option<Memzone>> {
    let size = std::mem::size_of::<Table>();
    match rpdk_eal::process_type() {
        Some(ProcType::Primary) => {
            let shconf = rpdk_eal::options().is_some_and(|o| !o.no_shconf && !o.in_memory);
            if !shconf {
                return Ok(None);
            }
            if let Some(z) = memzone::lookup(ZONE) {
                return Ok(Some(z));
            }
            let z = memzone::reserve(ZONE, size, None, MemzoneFlags::empty())?;
            let p = z.as_ptr();
            // SAFETY: the zone has `size` bytes, just reserved and not yet known to any other
            // code; every field of `Table` is an integer or an atomic integer, for which zero
            // bytes are a valid value.
            unsafe {
                std::ptr::write_bytes(p, 0, size);
                let t = p.cast::<Table>();
                (*t).layout = size as u64;
                std::ptr::addr_of_mut!((*t).magic).write_volatile(MAGIC);
            }
            Ok(Some(z))
        }
        Some(ProcType::Secondary) => {
            let Some(z) = memzone::lookup(ZONE) else {
                return Ok(None);
            };
            // SAFETY: a zone of this name holds at least the two header words (checked
            // against its length first); they are written once by the primary before any
            // port exists.
            let (magic, layout) = unsafe {
                if z.len() < 16 {
                    (0, 0)
                } else {
                    let t = z.as_ptr().cast::<u64>();
                    (t.read_volatile(), t.add(1).read_volatile())
                }
            };
            if magic != MAGIC || layout != size as u64 || z.len() < size {
                return Err(rpdk_eal::Error::Mp {
                    name: ZONE.into(),
                    reason: format!(
                        "the primary's shared port data has another layout ({layout} bytes, \
                         this process expects {size}): is it built from another rpdk?"
                    ),
                });
            }
            Ok(Some(z))
        }
        _ => Ok(None),
    }
}

/// A handle to one port's shared data; it keeps the zone mapped.
#[derive(Clone)]
pub(crate) struct SharedPort {
    data: NonNull<PortData>,
    zone: Memzone,
}

// SAFETY: the data is atomics only, in EAL memory the zone handle keeps mapped.
unsafe impl Send for SharedPort {}
// SAFETY: as for Send.
unsafe impl Sync for SharedPort {}

impl SharedPort {
    /// Port `id`'s shared data, in a process that has the zone (a primary with a runtime
    /// directory, or its secondary).
    pub fn of(id: u16) -> rpdk_eal::Result<Option<SharedPort>> {
        Ok(table_zone()?.and_then(|zone| SharedPort::at(&zone, id)))
    }

    /// The zone of the shared port data, if this process has one.
    pub fn zone() -> rpdk_eal::Result<Option<Memzone>> {
        table_zone()
    }

    /// Port `id`'s shared data in `zone` (from [`SharedPort::zone`]).
    pub fn at(zone: &Memzone, id: u16) -> Option<SharedPort> {
        if id as usize >= MAX_ETHPORTS {
            return None;
        }
        let t = zone.as_ptr().cast::<Table>();
        // SAFETY: the zone holds a whole Table (reserved so, or checked in `table_zone`), at
        // the same address in every process; `id` is in range, and the place is only
        // computed, not read.
        let data = unsafe { std::ptr::addr_of_mut!((*t).ports[id as usize]) };
        Some(SharedPort {
            data: NonNull::new(data)?,
            zone: zone.clone(),
        })
    }

    fn data(&self) -> &PortData {
        // SAFETY: see `of`: the zone is mapped while `self.zone` lives.
        unsafe { self.data.as_ref() }
    }

    /// The started flag.
    #[inline(always)]
    pub fn started(&self) -> &AtomicBool {
        &self.data().started.0
    }

    /// Reads the description (a consistent copy).
    pub fn desc(&self) -> PortDesc {
        let d = self.data();
        loop {
            let s1 = d.seq.load(Ordering::Acquire);
            if s1 & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let mut words = [0u64; DESC_WORDS];
            for (w, a) in words.iter_mut().zip(&d.desc) {
                *w = a.load(Ordering::Relaxed);
            }
            fence(Ordering::Acquire);
            if d.seq.load(Ordering::Relaxed) == s1 {
                let mut desc = PortDesc::zeroed();
                bytemuck::bytes_of_mut(&mut desc).copy_from_slice(bytemuck::cast_slice(&words));
                return desc;
            }
        }
    }

    /// The description's [`flag`] bits alone: one word of it, read without the sequence
    /// counter (a whole description is some 2.5 KiB).
    pub fn flags(&self) -> u32 {
        const OFF: usize = std::mem::offset_of!(PortDesc, flags);
        const _: () = assert!(OFF % 8 <= 4, "flags within one word");
        let w = self.data().desc[OFF / 8]
            .load(Ordering::Acquire)
            .to_ne_bytes();
        let at = OFF % 8;
        u32::from_ne_bytes([w[at], w[at + 1], w[at + 2], w[at + 3]])
    }

    /// Writes the description (the primary, with the port's lock held: one writer).
    pub fn publish(&self, desc: &PortDesc) {
        let d = self.data();
        let mut words = [0u64; DESC_WORDS];
        bytemuck::cast_slice_mut::<u64, u8>(&mut words).copy_from_slice(bytemuck::bytes_of(desc));
        d.seq.fetch_add(1, Ordering::AcqRel);
        fence(Ordering::Release);
        for (w, a) in words.iter().zip(&d.desc) {
            a.store(*w, Ordering::Relaxed);
        }
        d.seq.fetch_add(1, Ordering::Release);
    }

    fn owner(&self, rx: bool, queue: u16) -> Option<&AtomicU32> {
        self.data().owners[usize::from(!rx)].get(queue as usize)
    }

    /// Makes this process the owner of a queue: `Err(pid)` of the live process that owns it.
    /// A queue owned by a process that is gone is taken over. A queue beyond
    /// [`SHARED_QUEUES`] has no owner word: `Ok(false)`.
    pub fn claim(&self, rx: bool, queue: u16) -> Result<bool, u32> {
        let Some(o) = self.owner(rx, queue) else {
            return Ok(false);
        };
        let me = std::process::id();
        let mut cur = 0;
        loop {
            match o.compare_exchange(cur, me, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(true),
                Err(pid) if pid == me || (pid != 0 && process_alive(pid)) => return Err(pid),
                Err(pid) => cur = pid,
            }
        }
    }

    /// Gives up this process's ownership of a queue.
    pub fn release(&self, rx: bool, queue: u16) {
        if let Some(o) = self.owner(rx, queue) {
            let _ = o.compare_exchange(std::process::id(), 0, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    /// The owner of a queue (0: none).
    pub fn owner_of(&self, rx: bool, queue: u16) -> u32 {
        self.owner(rx, queue)
            .map_or(0, |o| o.load(Ordering::Acquire))
    }

    /// The owner of a queue, when a live process other than this one.
    pub fn other_owner(&self, rx: bool, queue: u16) -> Option<u32> {
        let pid = self.owner(rx, queue)?.load(Ordering::Acquire);
        (pid != 0 && pid != std::process::id() && process_alive(pid)).then_some(pid)
    }

    /// Forgets every owner (the primary, when the port's queues are replaced or closed).
    pub fn clear_owners(&self) {
        for dir in &self.data().owners {
            for o in dir {
                o.store(0, Ordering::Release);
            }
        }
    }

    /// The position record of a queue, if it has one (the first [`SHARED_QUEUES`]).
    pub fn record(&self, rx: bool, queue: u16) -> Option<QueueRecord> {
        let w = self.data().positions[usize::from(!rx)].get(queue as usize)?;
        Some(QueueRecord {
            ptr: NonNull::from(w),
            _zone: self.zone.clone(),
        })
    }

    /// The counter block of a queue, if it has one.
    pub fn block(&self, rx: bool, queue: u16) -> Option<SharedBlock> {
        let b = self.data().counters[usize::from(!rx)].get(queue as usize)?;
        Some(SharedBlock {
            ptr: NonNull::from(b),
            _zone: self.zone.clone(),
        })
    }
}

/// Whether process `pid` exists (a zombie counts: it is gone as soon as it is reaped).
fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// A queue's counters in the shared port data; it keeps the zone mapped.
pub(crate) struct SharedBlock {
    ptr: NonNull<CounterBlock>,
    _zone: Memzone,
}

// SAFETY: the block is atomics only, in EAL memory the zone handle keeps mapped.
unsafe impl Send for SharedBlock {}
// SAFETY: as for Send.
unsafe impl Sync for SharedBlock {}

impl std::fmt::Debug for SharedBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedBlock({:p})", self.ptr)
    }
}

impl SharedBlock {
    #[inline(always)]
    pub fn get(&self) -> &CounterBlock {
        // SAFETY: the block is in the zone `_zone` keeps mapped.
        unsafe { self.ptr.as_ref() }
    }
}

/// Where a queue's driver left the ring that processes share (a `net_af_packet` socket's ring,
/// mapped by whichever process drives the queue): the process that drops its queue object
/// *parks* its position here; the one that builds a queue object next *takes* it. A queue whose
/// last driver died without parking (a crashed secondary) has no position to take, and the
/// driver finds its place from the ring itself.
pub(crate) struct QueueRecord {
    ptr: NonNull<PositionWords>,
    _zone: Memzone,
}

// SAFETY: the record is atomics only, in EAL memory the zone handle keeps mapped.
unsafe impl Send for QueueRecord {}
// SAFETY: as for Send.
unsafe impl Sync for QueueRecord {}

impl QueueRecord {
    fn words(&self) -> &PositionWords {
        // SAFETY: the record is in the zone `_zone` keeps mapped.
        unsafe { self.ptr.as_ref() }
    }

    /// Leaves `pos` for the next driver of the queue (after the ring's own status writes:
    /// release ordering publishes them with it).
    pub fn park(&self, pos: [u64; POSITION_WORDS]) {
        let w = self.words();
        for (a, v) in w.pos.iter().zip(pos) {
            a.store(v, Ordering::Relaxed);
        }
        w.state.store(PARKED, Ordering::Release);
    }

    /// Marks the queue driven, and returns the position parked by its last driver if it parked
    /// one (`None`: the queue is new, or its last driver died driving it).
    pub fn take(&self) -> Option<[u64; POSITION_WORDS]> {
        let w = self.words();
        if w.state.swap(DRIVEN, Ordering::AcqRel) != PARKED {
            return None;
        }
        let mut pos = [0; POSITION_WORDS];
        for (v, a) in pos.iter_mut().zip(&w.pos) {
            *v = a.load(Ordering::Relaxed);
        }
        Some(pos)
    }

    /// The record of queue `queue` of port `port`, if the port has shared data and the queue
    /// is one of the first [`SHARED_QUEUES`].
    pub fn of(port: u16, rx: bool, queue: u16) -> Option<QueueRecord> {
        SharedPort::of(port)
            .ok()
            .flatten()
            .and_then(|sh| sh.record(rx, queue))
    }
}

/// A PCI driver's queue position, in words that every process driving the queue reads and
/// writes in place: the queue's [`QueueRecord`] (the primary's `start` reprograms the device
/// from where a secondary's bursts stand), or this process's own words for a port without
/// shared data. Handing the queue over parks the record ([`QueueWords::park`]).
pub(crate) enum QueueWords {
    Shared(QueueRecord),
    Local([AtomicU64; POSITION_WORDS]),
}

impl QueueWords {
    /// The words of queue `queue` of port `port`: its record's, or new local ones.
    pub fn of(port: u16, rx: bool, queue: u16) -> QueueWords {
        match QueueRecord::of(port, rx, queue) {
            Some(r) => QueueWords::Shared(r),
            None => QueueWords::Local(Default::default()),
        }
    }

    /// Words of this process's own (a queue no other process drives).
    pub fn local() -> QueueWords {
        QueueWords::Local(Default::default())
    }

    /// Word `i` (below [`POSITION_WORDS`]).
    #[inline(always)]
    pub fn get(&self, i: usize) -> &AtomicU64 {
        match self {
            QueueWords::Shared(r) => &r.words().pos[i],
            QueueWords::Local(w) => &w[i],
        }
    }

    /// Whether a secondary process can drive the queue (it has a record).
    pub fn shared(&self) -> bool {
        matches!(self, QueueWords::Shared(_))
    }

    /// Marks the words left for the queue's next driver (after the ring's and the slots'
    /// writes, which the release publishes with them).
    pub fn park(&self) {
        if let QueueWords::Shared(r) = self {
            r.words().state.store(PARKED, Ordering::Release);
        }
    }

    /// Marks the queue driven; whether its last driver parked it (`false`: it died driving
    /// the queue, or the queue is new).
    pub fn take(&self) -> bool {
        match self {
            QueueWords::Shared(r) => r.words().state.swap(DRIVEN, Ordering::AcqRel) == PARKED,
            QueueWords::Local(_) => false,
        }
    }
}

/// A port's started flag: in the shared port data when the port has some (so a secondary's
/// bursts see the primary start and stop the port), in the port otherwise.
pub(crate) struct StartFlag {
    local: AtomicBool,
    shared: Option<SharedPort>,
}

impl StartFlag {
    pub fn new(shared: Option<SharedPort>) -> StartFlag {
        StartFlag {
            local: AtomicBool::new(false),
            shared,
        }
    }
}

impl std::ops::Deref for StartFlag {
    type Target = AtomicBool;

    #[inline(always)]
    fn deref(&self) -> &AtomicBool {
        match &self.shared {
            Some(s) => s.started(),
            None => &self.local,
        }
    }
}
