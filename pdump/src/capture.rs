//! Capture in the process that polls the ports (DPDK's `rte_pdump_enable`/`disable` on the
//! primary side): RX and TX callbacks of the ethdev stage that copy each packet, formatted as
//! a pcapng enhanced packet block, into an mbuf of the capture pool and enqueue the copies to
//! the capture ring a burst at a time.
//!
//! Per burst the callback reads the TSC once, converts it to wall-clock nanoseconds with the
//! anchor taken at enable, allocates the copies in bulk and enqueues them in one call: no lock,
//! no allocation, no syscall. An empty pool (`nombuf`) or a full ring (`ringfull`) is a counted
//! drop. With capture off the callbacks are removed, so the queues pay nothing.

use std::sync::{Arc, Mutex};

use rpdk_ethdev::{CallbackId, Port};
use rpdk_mbuf::{BurstView, Mbuf, MbufBurst, MbufProducer, MbufRing, OlFlags, PktmbufPool};
use rpdk_ring::Mp;
use std::sync::atomic::Ordering;

use crate::pcapng::Direction;
use crate::pcapng::block::{EPB_HEADER_LEN, EPB_TRAILER_LEN, encode_epb_frame};
use crate::stats::SharedStats;
use crate::{Error, Result};

/// Every queue of the port (DPDK's `RTE_PDUMP_ALL_QUEUES`).
pub const ALL_QUEUES: u16 = u16::MAX;

/// The smallest capture mbuf: an enhanced packet block of at least 64 captured bytes.
pub const MIN_CAPTURE_ROOM: usize = EPB_HEADER_LEN + 64 + EPB_TRAILER_LEN;

/// Which directions to capture (DPDK's `RTE_PDUMP_FLAG_RX`/`_TX`/`_RXTX`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CaptureFlags(pub u32);

impl CaptureFlags {
    /// Received packets.
    pub const RX: CaptureFlags = CaptureFlags(1);
    /// Sent packets.
    pub const TX: CaptureFlags = CaptureFlags(2);
    /// Both.
    pub const RXTX: CaptureFlags = CaptureFlags(3);

    /// The directions set.
    pub fn directions(self) -> impl Iterator<Item = Direction> {
        [(1, Direction::Inbound), (2, Direction::Outbound)]
            .into_iter()
            .filter(move |(b, _)| self.0 & b != 0)
            .map(|(_, d)| d)
    }
}

/// Which port: by id or by device name (DPDK's `port=` and `device_id=`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A port id.
    Port(u16),
    /// A device (port) name, such as `net_af_packet0` or a PCI address.
    Device(String),
}

impl Target {
    /// The port.
    pub fn port(&self) -> Result<Port> {
        match self {
            Target::Port(p) => Port::get(*p),
            Target::Device(d) => Port::by_name(d),
        }
        .map_err(|e| Error::Port(e.to_string()))
    }
}

/// A capture to turn on (DPDK's `struct pdump_request`, by names instead of pointers so that
/// it crosses processes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureRequest {
    /// The port.
    pub target: Target,
    /// A queue, or [`ALL_QUEUES`].
    pub queue: u16,
    /// The directions.
    pub flags: CaptureFlags,
    /// The name of the capture ring (a multi-producer ring of mbufs).
    pub ring: String,
    /// The name of the capture pktmbuf pool.
    pub pool: String,
    /// Most bytes copied of a packet (0: as many as a capture mbuf holds).
    pub snaplen: u32,
}

/// Wall-clock nanoseconds from TSC cycles: an anchor taken once, then a multiply and a divide.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TscClock {
    cycles: u64,
    ns: u64,
    hz: u64,
}

impl TscClock {
    pub fn now() -> TscClock {
        let a = rpdk_eal::rdtsc();
        let ns = crate::pcapng::now_ns();
        let b = rpdk_eal::rdtsc();
        TscClock {
            cycles: a / 2 + b / 2,
            ns,
            hz: rpdk_eal::tsc_hz().max(1),
        }
    }

    #[inline]
    pub fn ns(&self, cycles: u64) -> u64 {
        let d = cycles.wrapping_sub(self.cycles) as i64 as i128;
        (self.ns as i128 + d * 1_000_000_000 / self.hz as i128) as u64
    }
}

/// What one queue's callback holds.
struct Tap {
    port: u16,
    dir: Direction,
    ring: MbufProducer<Mp>,
    pool: PktmbufPool,
    snaplen: usize,
    clock: TscClock,
    stats: Arc<SharedStats>,
}

/// Copies made per allocation.
const CHUNK: usize = 32;

impl Tap {
    /// The callback body: copies `burst` to the ring.
    #[inline]
    fn capture(&self, queue: u16, burst: &BurstView<'_>) {
        let pkts = burst.as_slice();
        if pkts.is_empty() {
            return;
        }
        let ns = self.clock.ns(rpdk_eal::rdtsc());
        let c = self.stats.queue(self.port, self.dir, queue);
        let (mut accepted, mut nombuf, mut ringfull) = (0u64, 0u64, 0u64);
        for chunk in pkts.chunks(CHUNK) {
            let mut copies = MbufBurst::<CHUNK>::new();
            if self.pool.alloc_bulk(&mut copies, chunk.len()).is_err() {
                while copies.len() < chunk.len() {
                    let Ok(m) = self.pool.alloc() else { break };
                    let _ = copies.push(m);
                }
            }
            let n = copies.len();
            nombuf += (chunk.len() - n) as u64;
            for (dst, src) in copies.as_mut_slice().iter_mut().zip(chunk) {
                self.copy(dst, src, ns, queue);
            }
            accepted += n as u64;
            let sent = self.ring.enqueue_burst(&mut copies.view());
            ringfull += (n - sent) as u64;
            // What the ring did not take is freed with `copies`.
        }
        c.accepted.fetch_add(accepted, Ordering::Relaxed);
        if nombuf > 0 {
            c.nombuf.fetch_add(nombuf, Ordering::Relaxed);
        }
        if ringfull > 0 {
            c.ringfull.fetch_add(ringfull, Ordering::Relaxed);
        }
    }

    /// Formats `src` into the fresh capture mbuf `dst`.
    #[inline]
    fn copy(&self, dst: &mut Mbuf, src: &Mbuf, ns: u64, queue: u16) {
        let _ = dst.set_headroom(0);
        let Ok(room) = dst.room_mut() else { return };
        let cap = room
            .len()
            .saturating_sub(EPB_HEADER_LEN + 3 + EPB_TRAILER_LEN);
        let cap = cap.min(self.snaplen);
        // A tag the port stripped (RX) or is to insert (TX) goes back in, as DPDK's capture.
        let flags = src.ol_flags();
        let vlan = match self.dir {
            Direction::Inbound => flags & OlFlags::RX_VLAN_STRIPPED != OlFlags::default(),
            Direction::Outbound => flags & OlFlags::TX_VLAN != OlFlags::default(),
        };
        let mut orig = src.pkt_len() as usize;
        let end = EPB_HEADER_LEN + cap;
        let mut out = EPB_HEADER_LEN;
        if vlan && orig >= 12 {
            out += copy_range(src, 0, &mut room[out..end.min(out + 12)]);
            let tci = src.vlan_tci().to_be_bytes();
            let tag = [0x81, 0x00, tci[0], tci[1]];
            let n = 4.min(end - out);
            room[out..out + n].copy_from_slice(&tag[..n]);
            out += n;
            out += copy_range(src, 12, &mut room[out..end]);
            orig += 4;
        } else {
            out += copy_range(src, 0, &mut room[out..end]);
        }
        let caplen = out - EPB_HEADER_LEN;
        let len = encode_epb_frame(
            room,
            self.port as u32,
            ns,
            orig as u32,
            caplen,
            self.dir.flags(),
            queue as u32,
        );
        dst.fill_len(len);
        dst.set_port(self.port);
    }
}

/// Copies the bytes of `src`'s chain from offset `off` into `out`, as many as fit; returns
/// how many.
#[inline]
fn copy_range(src: &Mbuf, mut off: usize, out: &mut [u8]) -> usize {
    let mut n = 0;
    for seg in src.segments() {
        let d = seg.data();
        if off >= d.len() {
            off -= d.len();
            continue;
        }
        let k = (d.len() - off).min(out.len() - n);
        out[n..n + k].copy_from_slice(&d[off..off + k]);
        n += k;
        off = 0;
        if n == out.len() {
            break;
        }
    }
    n
}

/// A capture that is on.
struct Active {
    port: u16,
    queue: u16,
    dir: Direction,
    cb: CallbackId,
}

static ACTIVE: Mutex<Vec<Active>> = Mutex::new(Vec::new());

fn active() -> std::sync::MutexGuard<'static, Vec<Active>> {
    ACTIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// The queues a request names on `port`, in `dir`.
fn queues(port: &Port, queue: u16, dir: Direction) -> Result<Vec<u16>> {
    let n = match dir {
        Direction::Inbound => port.nb_rx_queues(),
        Direction::Outbound => port.nb_tx_queues(),
    };
    if queue == ALL_QUEUES {
        Ok((0..n).collect())
    } else if queue < n {
        Ok(vec![queue])
    } else {
        Err(Error::Port(format!(
            "port {}: {} queue {queue} does not exist ({n} configured)",
            port.id(),
            dir.as_str()
        )))
    }
}

/// Turns capture on as `req` says (in the process that owns the ports: the primary). Every
/// queue asked must be without a capture in that direction; nothing is turned on otherwise.
pub fn enable(req: &CaptureRequest) -> Result<()> {
    let port = req.target.port()?;
    let ring = MbufRing::lookup(&req.ring)
        .map_err(|e| Error::Ring(format!("capture ring '{}': {e}", req.ring)))?;
    let producer = ring.producer::<Mp>().map_err(|e| {
        Error::Ring(format!(
            "capture ring '{}' is not multi-producer: {e}",
            req.ring
        ))
    })?;
    let pool = PktmbufPool::lookup(&req.pool)
        .ok_or_else(|| Error::Pool(format!("no pktmbuf pool '{}'", req.pool)))?;
    if (pool.data_room_size() as usize) < MIN_CAPTURE_ROOM {
        return Err(Error::Pool(format!(
            "capture pool '{}': mbufs of {} bytes, at least {MIN_CAPTURE_ROOM} needed",
            req.pool,
            pool.data_room_size()
        )));
    }
    if req.flags.0 & !3 != 0 || req.flags.0 == 0 {
        return Err(Error::Request(format!(
            "capture flags {:#x}: rx (1), tx (2) or both",
            req.flags.0
        )));
    }
    let stats = Arc::new(SharedStats::get_or_create()?);
    let snaplen = if req.snaplen == 0 {
        usize::MAX
    } else {
        req.snaplen as usize
    };
    let clock = TscClock::now();
    let mut act = active();
    let mut plan = Vec::new();
    for dir in req.flags.directions() {
        for q in queues(&port, req.queue, dir)? {
            if act
                .iter()
                .any(|a| a.port == port.id() && a.queue == q && a.dir == dir)
            {
                return Err(Error::AlreadyEnabled {
                    port: port.id(),
                    queue: q,
                    dir: dir.as_str(),
                });
            }
            plan.push((dir, q));
        }
    }
    for (dir, q) in plan {
        let tap = Tap {
            port: port.id(),
            dir,
            ring: producer.clone(),
            pool: pool.clone(),
            snaplen,
            clock,
            stats: stats.clone(),
        };
        let cb = match dir {
            Direction::Inbound => port.add_rx_callback(q, move |_, queue, b| tap.capture(queue, b)),
            Direction::Outbound => {
                port.add_tx_callback(q, move |_, queue, b| tap.capture(queue, b))
            }
        }
        .map_err(|e| Error::Port(e.to_string()))?;
        act.push(Active {
            port: port.id(),
            queue: q,
            dir,
            cb,
        });
    }
    Ok(())
}

/// Turns capture off on `queue` (or [`ALL_QUEUES`]) of the port in the directions of `flags`
/// (DPDK's `rte_pdump_disable`). Returns once no lcore can still be copying for it: the
/// capture's mbufs are then all in the ring or back in the pool. An error if none was on.
pub fn disable(target: &Target, queue: u16, flags: CaptureFlags) -> Result<()> {
    let port = target.port()?;
    let mut act = active();
    let mut found = 0;
    let mut i = 0;
    while i < act.len() {
        let a = &act[i];
        let dir_bit = match a.dir {
            Direction::Inbound => 1,
            Direction::Outbound => 2,
        };
        if a.port == port.id()
            && (queue == ALL_QUEUES || a.queue == queue)
            && flags.0 & dir_bit != 0
        {
            let a = act.swap_remove(i);
            // A port configured again since has lost its callbacks already.
            let _ = match a.dir {
                Direction::Inbound => port.remove_rx_callback(a.cb),
                Direction::Outbound => port.remove_tx_callback(a.cb),
            };
            found += 1;
        } else {
            i += 1;
        }
    }
    if found == 0 {
        return Err(Error::NotEnabled { port: port.id() });
    }
    Ok(())
}

/// How many queue captures are on (every port and direction).
pub fn active_count() -> usize {
    active().len()
}
