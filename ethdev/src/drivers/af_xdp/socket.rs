//! One queue pair's AF_XDP socket with its UMEM, shared by the queue pair's RX queue (which
//! owns the fill and RX rings) and TX queue (the TX and completion rings, handed over when
//! the port starts). When the last of them goes, the socket closes first and then every mbuf
//! the kernel still held is freed.

#![forbid(unsafe_code)]

use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::LOG;
use super::ring::{Consumer, Producer};
use super::umem::{Lent, Umem, zone_name};
use super::xsk::{RingKind, XskSocket};

/// The TX side's rings.
pub(super) struct TxRings {
    pub tx: Producer<libc::xdp_desc>,
    pub comp: Consumer<u64>,
}

/// The RX side's rings.
pub(super) struct RxRings {
    pub fill: Producer<u64>,
    pub rx: Consumer<libc::xdp_desc>,
}

/// Counters of a queue pair that only this driver has (its extended statistics), written by
/// the queue that owns each.
#[derive(Debug, Default)]
#[repr(align(64))]
pub(super) struct QueueXstats {
    /// `recvfrom` wake-ups (the kernel asked for one, or busy polling).
    pub rx_wakeups: AtomicU64,
    /// `sendto` wake-ups.
    pub tx_wakeups: AtomicU64,
    /// Frames copied into the UMEM to be sent (not from the pool, chained, or clones).
    pub tx_copies: AtomicU64,
    /// Bursts cut short by a full TX ring.
    pub tx_ring_full: AtomicU64,
}

/// A queue pair's socket.
pub(super) struct QueueSocket {
    /// `None` only while dropping: closed before the lent mbufs are freed.
    sock: Option<XskSocket>,
    pub umem: Arc<Umem>,
    /// The interface's queue.
    pub queue: u32,
    /// Whether the kernel moves frames without copying.
    pub zerocopy: bool,
    pub xstats: Arc<QueueXstats>,
    tx: Mutex<Option<TxRings>>,
    /// What the queues gave the kernel and did not get back when they went.
    returned: Mutex<Vec<Lent>>,
    /// Entries of each ring.
    pub ring_size: u32,
    /// The port and its queue (the port's numbering) this socket serves.
    pub port: u16,
    pub qid: u16,
    /// The socket's inode (names it in a lent record's memzone).
    pub ino: u64,
    /// Opened by this process (the primary), not passed to it.
    opener: bool,
    /// Per side (RX, TX): handed to another process at least once, so that its record of lent
    /// mbufs lives in a memzone (see `umem`) and a driver that goes parks it there.
    lent_mode: [AtomicBool; 2],
}

/// How to set up a socket.
pub(super) struct SocketCfg<'a> {
    pub ifindex: u32,
    pub queue: u32,
    /// Entries of each ring.
    pub ring_size: u32,
    pub force_copy: bool,
    pub need_wakeup: bool,
    /// Busy-poll budget (0: none).
    pub busy_budget: u32,
    /// A socket of the same pool whose UMEM to share.
    pub share: Option<&'a QueueSocket>,
    /// The port and its queue.
    pub port: u16,
    pub qid: u16,
}

/// How long a bind that meets a busy queue (a socket of an earlier user still closing) is
/// retried.
const BUSY_RETRY: std::time::Duration = std::time::Duration::from_secs(3);

/// Busy-poll timeout in microseconds (DPDK's `ETH_AF_XDP_DFLT_BUSY_TIMEOUT`).
const BUSY_TIMEOUT_US: u32 = 20;

fn ctx(what: &str) -> impl FnOnce(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("{what}: {e}"))
}

impl QueueSocket {
    /// Opens, sets up and binds a socket for `cfg.queue` over `umem`; returns it with its RX
    /// rings.
    pub fn open(umem: Arc<Umem>, cfg: &SocketCfg<'_>) -> io::Result<(Arc<QueueSocket>, RxRings)> {
        let sock = XskSocket::new().map_err(ctx("opening an AF_XDP socket"))?;
        let n = cfg.ring_size;
        if cfg.share.is_none() {
            let (addr, len) = umem.region();
            sock.register_umem(addr, len, umem.chunk_size())
                .map_err(ctx(&format!(
                    "registering the pool's {len} bytes as UMEM (XDP_UMEM_REG, chunks of {})",
                    umem.chunk_size()
                )))?;
        }
        for kind in [
            RingKind::Fill,
            RingKind::Completion,
            RingKind::Rx,
            RingKind::Tx,
        ] {
            sock.set_ring_size(kind, n)
                .map_err(ctx(&format!("sizing the {kind:?} ring to {n} entries")))?;
        }
        let rx = RxRings {
            fill: sock.producer(RingKind::Fill, n)?,
            rx: sock.consumer(RingKind::Rx, n)?,
        };
        let tx = TxRings {
            tx: sock.producer(RingKind::Tx, n)?,
            comp: sock.consumer(RingKind::Completion, n)?,
        };
        if cfg.busy_budget > 0 {
            sock.set_busy_poll(BUSY_TIMEOUT_US, cfg.busy_budget)
                .map_err(ctx(&format!(
                    "turning busy polling on (busy_budget={}; 0 turns it off)",
                    cfg.busy_budget
                )))?;
        }
        let mut flags = 0;
        if cfg.force_copy {
            flags |= libc::XDP_COPY;
        }
        if cfg.need_wakeup {
            flags |= libc::XDP_USE_NEED_WAKEUP;
        }
        let shared = cfg.share.map(|s| s.fd());
        if shared.is_some() {
            // A socket sharing a UMEM takes the first one's copy and wake-up settings; the
            // kernel refuses them here.
            flags = libc::XDP_SHARED_UMEM;
        }
        let deadline = std::time::Instant::now() + BUSY_RETRY;
        loop {
            match sock.bind(cfg.ifindex, cfg.queue, flags, shared) {
                Ok(()) => break,
                Err(e)
                    if e.raw_os_error() == Some(libc::EBUSY)
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => {
                    let why = match e.raw_os_error() {
                        Some(libc::EBUSY) => format!(
                            "queue {} is busy (another AF_XDP socket is bound to it, or one \
                             still closing after {} s)",
                            cfg.queue,
                            BUSY_RETRY.as_secs()
                        ),
                        Some(libc::EINVAL) => format!(
                            "queue {} cannot take a socket (out of range for the interface?)",
                            cfg.queue
                        ),
                        _ => format!("binding to queue {}", cfg.queue),
                    };
                    return Err(io::Error::new(e.kind(), format!("{why}: {e}")));
                }
            }
        }
        let zerocopy = sock.zerocopy().unwrap_or(false);
        let ino = sock.inode().map_err(ctx("reading the socket's inode"))?;
        Ok((
            Arc::new(QueueSocket {
                sock: Some(sock),
                umem,
                queue: cfg.queue,
                zerocopy,
                xstats: Arc::new(QueueXstats::default()),
                tx: Mutex::new(Some(tx)),
                returned: Mutex::new(Vec::new()),
                ring_size: n,
                port: cfg.port,
                qid: cfg.qid,
                ino,
                opener: true,
                lent_mode: [AtomicBool::new(false), AtomicBool::new(false)],
            }),
            rx,
        ))
    }

    /// The socket another process set up and passed (`fd`), bound to interface queue `queue`
    /// with rings of `ring_size` entries; `ino` is the inode that process saw.
    pub fn adopt(
        fd: OwnedFd,
        umem: Arc<Umem>,
        queue: u32,
        ring_size: u32,
        ino: u64,
        (port, qid): (u16, u16),
    ) -> io::Result<Arc<QueueSocket>> {
        let sock = XskSocket::from_fd(fd)?;
        let seen = sock.inode()?;
        if seen != ino {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the socket passed is inode {seen}, the primary described inode {ino}"),
            ));
        }
        let zerocopy = sock.zerocopy().unwrap_or(false);
        Ok(Arc::new(QueueSocket {
            sock: Some(sock),
            umem,
            queue,
            zerocopy,
            xstats: Arc::new(QueueXstats::default()),
            tx: Mutex::new(None),
            returned: Mutex::new(Vec::new()),
            ring_size,
            port,
            qid,
            ino,
            opener: false,
            lent_mode: [AtomicBool::new(true), AtomicBool::new(true)],
        }))
    }

    /// Another descriptor of the socket, to pass to another process.
    pub fn dup(&self) -> io::Result<OwnedFd> {
        self.xsk().dup()
    }

    /// Marks side RX (`rx`) or TX as handed to another process: from now on its record of
    /// lent mbufs is parked in a memzone whenever its driver goes.
    pub fn set_lent(&self, rx: bool) {
        self.lent_mode[usize::from(!rx)].store(true, Ordering::Release);
    }

    /// Whether side `rx` was ever handed over.
    pub fn is_lent(&self, rx: bool) -> bool {
        self.lent_mode[usize::from(!rx)].load(Ordering::Acquire)
    }

    fn zone(&self, rx: bool) -> String {
        zone_name(self.port, rx, self.qid)
    }

    /// The RX side of a socket handed over: its rings mapped again (their positions are in the
    /// rings' shared words) and the record its last driver left in the memzone.
    pub fn rx_side(&self) -> io::Result<(RxRings, Lent)> {
        let n = self.ring_size;
        let lent = self
            .umem
            .take_parked(&self.zone(true), self.ino)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let rings = RxRings {
            fill: self.xsk().producer(RingKind::Fill, n)?,
            rx: self.xsk().consumer(RingKind::Rx, n)?,
        };
        Ok((rings, lent))
    }

    /// The TX side's rings and record: those of the socket's first TX queue, or, for the next
    /// one, the rings mapped again and the record its last driver parked.
    pub fn tx_side(&self) -> io::Result<(TxRings, Lent)> {
        let stored = self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        let lent = if self.is_lent(false) {
            self.umem
                .take_parked(&self.zone(false), self.ino)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?
        } else if let Some(rings) = stored {
            return Ok((rings, self.umem.lent()));
        } else {
            self.umem.lent()
        };
        let n = self.ring_size;
        let rings = TxRings {
            tx: self.xsk().producer(RingKind::Tx, n)?,
            comp: self.xsk().consumer(RingKind::Completion, n)?,
        };
        Ok((rings, lent))
    }

    /// Makes sure side `rx` has a record parked for the process it is handed to (a TX side
    /// that never sent has none yet).
    pub fn park_empty_if_none(&self, rx: bool) -> Result<(), String> {
        let name = self.zone(rx);
        if self.umem.take_parked(&name, self.ino).is_ok() {
            return Ok(());
        }
        self.umem.park(&self.umem.lent(), &name, self.ino)
    }

    /// What a queue side's driver does with its record of lent mbufs when it goes: parks it
    /// for the next driver if the side is handed between processes, otherwise keeps it to
    /// free once the socket is closed.
    pub fn leave(&self, rx: bool, lent: Lent) {
        if self.is_lent(rx) {
            match self.umem.park(&lent, &self.zone(rx), self.ino) {
                Ok(()) => return,
                Err(e) => log::error!(
                    target: LOG,
                    "port {} queue {}: {e}; the mbufs its {} side lent are freed when the \
                     socket closes",
                    self.port,
                    self.qid,
                    if rx { "RX" } else { "TX" }
                ),
            }
        }
        self.give_back(lent);
    }

    fn xsk(&self) -> &XskSocket {
        self.sock.as_ref().expect("the socket lives until drop")
    }

    /// The socket's descriptor (for the XSKMAP, and sockets that share the UMEM).
    pub fn fd(&self) -> i32 {
        self.xsk().fd()
    }

    /// Asks the kernel to send.
    #[inline]
    pub fn wake_tx(&self) -> io::Result<()> {
        self.xsk().wake_tx()
    }

    /// Asks the kernel to receive.
    #[inline]
    pub fn wake_rx(&self) {
        self.xsk().wake_rx()
    }

    /// The kernel's counters.
    pub fn statistics(&self) -> io::Result<libc::xdp_statistics> {
        self.xsk().statistics()
    }

    /// Keeps a queue side's record of lent mbufs, to free them once the socket is closed.
    pub fn give_back(&self, lent: Lent) {
        let lent = if lent.in_zone() { lent.to_heap() } else { lent };
        if lent.count() > 0 {
            self.returned
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(lent);
        }
    }
}

impl Drop for QueueSocket {
    fn drop(&mut self) {
        // The kernel lets go of the UMEM's buffers when the socket closes; only then are the
        // mbufs it held free again.
        if let Ok(tx) = self.tx.get_mut() {
            tx.take();
        }
        drop(self.sock.take());
        let returned = self.returned.get_mut().unwrap_or_else(|e| e.into_inner());
        for mut lent in returned.drain(..) {
            // A secondary's descriptor closing leaves the socket open: the kernel may still
            // hold the mbufs, which then stay lent (no second owner).
            if self.opener {
                self.umem.free_lent(&mut lent);
            }
        }
        // A side handed between processes left its record in a memzone; the process that
        // opened the socket frees what it records once the socket is gone (in the others,
        // closing a descriptor leaves the socket open).
        // The zone goes with the socket (a later socket's side reserves one anew).
        if self.opener {
            for rx in [true, false] {
                if !self.lent_mode[usize::from(!rx)].load(Ordering::Acquire) {
                    continue;
                }
                let name = self.zone(rx);
                if let Ok(mut lent) = self.umem.take_parked(&name, self.ino) {
                    self.umem.free_lent(&mut lent);
                }
                if let Some(zone) = rpdk_eal::memzone::lookup(&name) {
                    let _ = zone.free();
                }
            }
        }
    }
}
