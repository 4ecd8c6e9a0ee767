//! Pools of mbufs (DPDK's `rte_pktmbuf_pool_create`).

use std::ptr::NonNull;
use std::sync::atomic::AtomicU16;

use rpdk_mempool::{Exhausted, Mempool, Ops, RawMempool};

use crate::burst::{BurstView, MbufBurst};
use crate::header::{MBUF_HEADER_SIZE, MBUF_PORT_INVALID, MbufHeader, PKTMBUF_HEADROOM};
use crate::mbuf::Mbuf;

/// What every mbuf of a pool has, kept in the pool's private area
/// (DPDK's `struct rte_pktmbuf_pool_private`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct PoolPrivate {
    pub data_room_size: u16,
    pub priv_size: u16,
    pub flags: u32,
}

/// The private area of the pool an mbuf came from.
///
/// # Safety
/// `pool` is a live pktmbuf pool.
pub(crate) unsafe fn pool_private(pool: *const RawMempool) -> PoolPrivate {
    // SAFETY: pktmbuf pools are created with a PoolPrivate in their private area.
    unsafe { ((*pool).private_data().0 as *const PoolPrivate).read() }
}

/// The ops packet-buffer pools get by default (DPDK's `rte_mbuf_best_mempool_ops`): the EAL's
/// `--mbuf-pool-ops-name` when given, otherwise `ring_mp_mc`. An unknown name is an error that
/// names the flag.
pub fn best_mempool_ops() -> Result<Ops, String> {
    match rpdk_eal::options().and_then(|o| o.mbuf_pool_ops_name) {
        None => Ok(Ops::RingMpMc),
        Some(name) => name
            .parse()
            .map_err(|e| format!("--mbuf-pool-ops-name: {e}")),
    }
}

/// An error creating a pktmbuf pool.
pub type PoolError = rpdk_mempool::Error;

/// A pool of mbufs. Cloning gives another handle to the same pool.
///
/// ```
/// use rpdk_mbuf::PktmbufPool;
///
/// let (_eal, _) = rpdk_eal::init(["app", "--no-huge", "--no-shconf", "-l", "0"])?;
/// let pool = PktmbufPool::create("mbufs", 1024, 32, 0, rpdk_mbuf::MBUF_DEFAULT_BUF_SIZE, None)?;
/// let mut m = pool.alloc()?;
/// m.append(5).unwrap().copy_from_slice(b"hello");
/// assert_eq!(m.data(), b"hello");
/// assert_eq!(m.headroom(), 128);
/// drop(m); // back to the pool
/// pool.audit()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct PktmbufPool {
    pool: Mempool,
}

impl PktmbufPool {
    /// Creates a pool of `n` mbufs with a per-lcore cache of `cache_size`, `priv_size` bytes of
    /// application data after each header (a multiple of 8), and buffers of `data_room_size`
    /// bytes (headroom included: [`crate::MBUF_DEFAULT_BUF_SIZE`] gives 2048 after the
    /// default 128-byte headroom), on `socket` (default: the caller's). The backing store is
    /// [`best_mempool_ops`]'s.
    pub fn create(
        name: &str,
        n: u32,
        cache_size: u32,
        priv_size: u16,
        data_room_size: u16,
        socket: Option<u32>,
    ) -> Result<PktmbufPool, PoolError> {
        let ops = best_mempool_ops().map_err(|reason| PoolError::InvalidConfig {
            name: name.to_string(),
            reason,
        })?;
        Self::create_with_ops(name, n, cache_size, priv_size, data_room_size, socket, ops)
    }

    /// As [`create`](Self::create), with a chosen backing store (DPDK's
    /// `rte_pktmbuf_pool_create_by_ops`). Mbufs are freed from any lcore, so the ops must be
    /// multi-thread on both sides.
    pub fn create_with_ops(
        name: &str,
        n: u32,
        cache_size: u32,
        priv_size: u16,
        data_room_size: u16,
        socket: Option<u32>,
        ops: Ops,
    ) -> Result<PktmbufPool, PoolError> {
        let invalid = |reason: String| PoolError::InvalidConfig {
            name: name.to_string(),
            reason,
        };
        if !priv_size.is_multiple_of(8) {
            return Err(invalid(format!(
                "private size {priv_size} is not a multiple of 8"
            )));
        }
        if ops.is_single_thread() {
            return Err(invalid(format!(
                "ops {ops} has a single-thread side; packet-buffer pools take ring_mp_mc, \
                 ring_mt_rts, ring_mt_hts, stack or lf_stack"
            )));
        }
        // Secondaries find this process's dynamic fields from here on.
        crate::dynfield::serve();
        let elt = MBUF_HEADER_SIZE + priv_size as usize + data_room_size as usize;
        let mut b = Mempool::builder(name, n, elt)
            .cache_size(cache_size)
            .ops(ops)
            .private_data_size(std::mem::size_of::<PoolPrivate>())
            .obj_init(move |obj, _, iova| {
                let m = obj.as_mut_ptr() as *mut MbufHeader;
                // SAFETY: the object starts with room for a header, is 64-byte aligned (pool
                // objects are cache-line aligned), and is ours during creation.
                unsafe { init_mbuf(m, iova, priv_size, data_room_size) };
            });
        if let Some(s) = socket {
            b = b.socket(s);
        }
        let pool = b.create()?;
        let (private, _) = pool.private_data();
        // SAFETY: the private area has room for a PoolPrivate and nobody reads it yet.
        unsafe {
            (private as *mut PoolPrivate).write(PoolPrivate {
                data_room_size,
                priv_size,
                flags: 0,
            })
        };
        // The headers point at their pool, which only exists once created.
        let raw = pool.as_raw();
        pool.for_each_obj(|obj, _| {
            // SAFETY: every object is an initialised, free mbuf; nobody else holds it yet.
            unsafe { (*(obj as *mut MbufHeader)).pool = raw };
        });
        Ok(PktmbufPool { pool })
    }

    /// Finds a pool by name.
    pub fn lookup(name: &str) -> Option<PktmbufPool> {
        let pool = Mempool::lookup(name)?;
        // A pktmbuf pool has its PoolPrivate in a private area of exactly that size.
        (pool.private_data().1 == std::mem::size_of::<PoolPrivate>())
            .then_some(PktmbufPool { pool })
    }

    /// The mempool under it.
    pub fn mempool(&self) -> &Mempool {
        &self.pool
    }

    /// Buffer size of each mbuf, headroom included (DPDK's `rte_pktmbuf_data_room_size`).
    pub fn data_room_size(&self) -> u16 {
        // SAFETY: this is a pktmbuf pool.
        unsafe { pool_private(self.pool.as_raw()) }.data_room_size
    }

    /// Application private bytes after each header (DPDK's `rte_pktmbuf_priv_size`).
    pub fn priv_size(&self) -> u16 {
        // SAFETY: this is a pktmbuf pool.
        unsafe { pool_private(self.pool.as_raw()) }.priv_size
    }

    /// Allocates an mbuf, reset (DPDK's `rte_pktmbuf_alloc`).
    #[inline]
    pub fn alloc(&self) -> Result<Mbuf, Exhausted> {
        let obj = self.pool.get()?;
        // SAFETY: a free mbuf of this pool, now ours.
        unsafe {
            let m = obj.as_ptr() as *mut MbufHeader;
            reset_fields(m);
            Ok(Mbuf::from_raw(NonNull::new_unchecked(m)))
        }
    }

    /// Allocates `n` mbufs into `burst`, all or nothing (DPDK's `rte_pktmbuf_alloc_bulk`).
    /// Fails also if the burst has no room for `n` more.
    #[inline]
    pub fn alloc_bulk<const N: usize>(
        &self,
        burst: &mut MbufBurst<N>,
        n: usize,
    ) -> Result<(), Exhausted> {
        self.alloc_bulk_into(&mut burst.view(), n)
    }

    /// As [`alloc_bulk`](Self::alloc_bulk), into a burst of any size (for drivers).
    #[inline]
    pub fn alloc_bulk_into(&self, burst: &mut BurstView<'_>, n: usize) -> Result<(), Exhausted> {
        if n > burst.room() {
            return Err(Exhausted);
        }
        // The objects land straight in the burst's free slots, which are then reset in place.
        let slots = burst.spare_raw(n);
        self.pool.get_bulk(slots)?;
        for &obj in slots.iter() {
            // SAFETY: each is a free mbuf of this pool, now ours.
            unsafe { reset_fields(obj as *mut MbufHeader) };
        }
        // SAFETY: the `n` slots after the burst's mbufs now hold allocated mbufs it owns.
        unsafe { burst.commit_raw(n) };
        Ok(())
    }

    /// Mbufs free now.
    pub fn avail_count(&self) -> u32 {
        self.pool.avail_count()
    }

    /// Mbufs allocated and not freed.
    pub fn in_use_count(&self) -> u32 {
        self.pool.in_use_count()
    }

    /// Checks that every mbuf is back, once (see [`rpdk_mempool::RawMempool::audit`]).
    pub fn audit(&self) -> Result<(), rpdk_mempool::Error> {
        self.pool.audit()
    }

    /// Unregisters the pool's name.
    pub fn free(self) {
        self.pool.free();
    }
}

/// Initialises a free mbuf at creation (DPDK's `rte_pktmbuf_init`).
///
/// # Safety
/// `m` points to a writable, aligned object of the pool with room for the header, the private
/// area and the data room; `iova` is the object's IOVA.
unsafe fn init_mbuf(m: *mut MbufHeader, iova: u64, priv_size: u16, data_room: u16) {
    let off = MBUF_HEADER_SIZE + priv_size as usize;
    // SAFETY: the caller guarantees the object; the buffer starts after header and private
    // area, inside the object.
    unsafe {
        m.write(MbufHeader {
            buf_addr: (m as *mut u8).add(off),
            buf_iova: iova + off as u64,
            data_off: PKTMBUF_HEADROOM.min(data_room),
            refcnt: AtomicU16::new(1),
            nb_segs: 1,
            port: MBUF_PORT_INVALID,
            ol_flags: 0,
            packet_type: 0,
            pkt_len: 0,
            data_len: 0,
            vlan_tci: 0,
            hash: [0; 2],
            vlan_tci_outer: 0,
            buf_len: data_room,
            pool: std::ptr::null(),
            next: std::ptr::null_mut(),
            tx_offload: 0,
            shinfo: std::ptr::null_mut(),
            priv_size,
            timesync: 0,
            dynfield1: [0; 9],
        });
    }
}

/// Resets the fields of a freshly allocated mbuf (DPDK's `rte_pktmbuf_reset`). Free mbufs keep
/// `refcnt == 1`, `next == NULL`, `nb_segs == 1`, and their own buffer.
///
/// # Safety
/// `m` is a free mbuf the caller just took from its pool.
#[inline(always)]
pub(crate) unsafe fn reset_fields(m: *mut MbufHeader) {
    // SAFETY: the caller owns `m`.
    let h = unsafe { &mut *m };
    h.pkt_len = 0;
    h.tx_offload = 0;
    h.vlan_tci = 0;
    h.vlan_tci_outer = 0;
    h.port = MBUF_PORT_INVALID;
    h.ol_flags = 0;
    h.packet_type = 0;
    h.data_off = PKTMBUF_HEADROOM.min(h.buf_len);
    h.data_len = 0;
}
