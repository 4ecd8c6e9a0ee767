//! One queue pair's AF_XDP socket with its UMEM, shared by the queue pair's RX queue (which
//! owns the fill and RX rings) and TX queue (the TX and completion rings, handed over when
//! the port starts). When the last of them goes, the socket closes first and then every mbuf
//! the kernel still held is freed.

#![forbid(unsafe_code)]

use std::io;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use super::ring::{Consumer, Producer};
use super::umem::{Lent, Umem};
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
        Ok((
            Arc::new(QueueSocket {
                sock: Some(sock),
                umem,
                queue: cfg.queue,
                zerocopy,
                xstats: Arc::new(QueueXstats::default()),
                tx: Mutex::new(Some(tx)),
                returned: Mutex::new(Vec::new()),
            }),
            rx,
        ))
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

    /// The TX rings, once (for the TX queue when the port starts).
    pub fn take_tx(&self) -> Option<TxRings> {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Keeps a queue side's record of lent mbufs, to free them once the socket is closed.
    pub fn give_back(&self, lent: Lent) {
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
            self.umem.free_lent(&mut lent);
        }
    }
}
