//! Forwarding streams, the engines that run them on the forwarding lcores, and the registry the
//! engines put themselves in (as DPDK's `fwd_engines[]`, one engine a file: `io.rs`, `mac.rs`...).
//!
//! An engine is a type implementing [`Engine`]; its file registers it with
//! [`FwdEngine::new`] in [`FWD_ENGINES`]. The forwarding loop is compiled once per engine, so the
//! per-burst work has no indirect call.

mod flowgen;
mod io;
mod mac;
mod macswap;
mod rxonly;
mod txonly;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rpdk_ethdev::{RxQueue, TxQueue};
use rpdk_mbuf::net::{Ethernet, MacAddr};
use rpdk_mbuf::{MbufBurst, PktmbufPool};

use super::packets::PacketGen;

/// The largest burst (`MAX_PKT_BURST`).
pub const MAX_BURST: usize = 512;

/// A burst as the engines use it.
pub type Burst = MbufBurst<MAX_BURST>;

/// Every registered engine, in no particular order (see [`engines`]).
#[linkme::distributed_slice]
pub static FWD_ENGINES: [FwdEngine];

/// What a forwarding run needs besides its streams.
pub struct FwdCtx<'a> {
    /// Packets per burst.
    pub burst: usize,
    /// The pool generated packets come from.
    pub pool: &'a PktmbufPool,
    /// Segment lengths of generated packets (`--txpkts`).
    pub segs: &'a [u16],
    /// Flows of the flowgen engine.
    pub flows: u32,
}

/// A forwarding engine: what it does to each stream, per burst.
pub trait Engine {
    /// Prepares a stream when forwarding starts (the generators of txonly and flowgen).
    fn stream_init(_stream: &mut Stream, _ctx: &FwdCtx<'_>) {}

    /// One pass over `stream`: receive (or make) a burst into `b`, work on it, send it on
    /// `txq`. `b` is empty on entry and must be left empty.
    fn packet_fwd(stream: &mut Stream, txq: &mut TxQueue, b: &mut Burst, ctx: &FwdCtx<'_>);
}

/// A registered engine: its testpmd name and its forwarding loop.
pub struct FwdEngine {
    /// testpmd's name (`--forward-mode=NAME`, `set fwd NAME`).
    pub name: &'static str,
    run: fn(&mut CoreWork, &FwdCtx<'_>, &AtomicBool),
}

impl FwdEngine {
    /// The entry of engine `E` under `name`.
    pub const fn new<E: Engine>(name: &'static str) -> FwdEngine {
        FwdEngine {
            name,
            run: run_loop::<E>,
        }
    }
}

impl std::fmt::Debug for FwdEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for FwdEngine {
    fn eq(&self, other: &FwdEngine) -> bool {
        self.name == other.name
    }
}

/// The registered engines, sorted by name.
pub fn engines() -> Vec<&'static FwdEngine> {
    let mut v: Vec<_> = FWD_ENGINES.iter().collect();
    v.sort_by_key(|e| e.name);
    v
}

/// The engine called `name`.
pub fn find(name: &str) -> Option<&'static FwdEngine> {
    FWD_ENGINES.iter().find(|e| e.name == name)
}

/// `--forward-mode`'s parser: an engine name, or an error listing them.
pub fn parse_mode(name: &str) -> Result<&'static FwdEngine, String> {
    find(name).ok_or_else(|| {
        let names: Vec<_> = engines().iter().map(|e| e.name).collect();
        format!(
            "'{name}' is not a forwarding mode (possible values: {})",
            names.join(", ")
        )
    })
}

/// One forwarding stream: an RX queue of a port to a TX queue of its peer port.
pub struct Stream {
    /// Receiving port.
    pub rx_port: u16,
    /// Receiving queue.
    pub rx_queue: u16,
    /// Sending port.
    pub tx_port: u16,
    /// Sending queue.
    pub tx_queue: u16,
    /// Destination MAC in mac mode and of generated packets.
    pub peer: MacAddr,
    /// The sending port's MAC.
    pub tx_mac: MacAddr,
    /// Packets received.
    pub rx_packets: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Packets the TX queue did not take.
    pub fwd_dropped: u64,
    rxq: RxQueue,
    /// Index of its TX queue in the core's list.
    txq: usize,
    /// The packet generator of txonly and flowgen (made by their `stream_init`).
    generator: Option<PacketGen>,
}

impl Stream {
    /// Receives up to `ctx.burst` packets into `b`, counting them; how many.
    #[inline]
    pub fn receive(&mut self, b: &mut Burst, ctx: &FwdCtx<'_>) -> usize {
        let n = self.rxq.rx_burst_max(b, ctx.burst);
        self.rx_packets += n as u64;
        n
    }

    /// Sends `b` on `txq`, counting what was sent and freeing (and counting) what was not.
    #[inline]
    pub fn send(&mut self, txq: &mut TxQueue, b: &mut Burst) {
        let sent = txq.tx_burst(b);
        self.tx_packets += sent as u64;
        if !b.is_empty() {
            self.fwd_dropped += b.len() as u64;
            b.clear();
        }
    }
}

/// What one forwarding lcore runs: its streams and the queue handles they use.
pub struct CoreWork {
    /// The lcore.
    pub lcore: u32,
    /// Its streams.
    pub streams: Vec<Stream>,
    txqs: Vec<TxQueue>,
}

/// The forwarding loop of engine `E`: every stream of the core in turn until `stop` is set.
fn run_loop<E: Engine>(core: &mut CoreWork, ctx: &FwdCtx<'_>, stop: &AtomicBool) {
    for s in &mut core.streams {
        E::stream_init(s, ctx);
    }
    let mut b = Burst::new();
    let txqs = &mut core.txqs;
    while !stop.load(Ordering::Relaxed) {
        for s in core.streams.iter_mut() {
            let txq = &mut txqs[s.txq];
            E::packet_fwd(s, txq, &mut b, ctx);
        }
    }
}

impl CoreWork {
    /// An empty core.
    pub fn new(lcore: u32) -> CoreWork {
        CoreWork {
            lcore,
            streams: Vec::new(),
            txqs: Vec::new(),
        }
    }

    /// Adds a stream with its queue handles (the TX queue is shared with earlier streams of the
    /// same port and queue on this core).
    pub fn add_stream(
        &mut self,
        rxq: RxQueue,
        (tx_port, tx_queue): (u16, u16),
        txq: impl FnOnce() -> rpdk_ethdev::Result<TxQueue>,
        peer: MacAddr,
        tx_mac: MacAddr,
    ) -> rpdk_ethdev::Result<()> {
        let idx = match self
            .txqs
            .iter()
            .position(|q| q.port_id() == tx_port && q.queue_id() == tx_queue)
        {
            Some(i) => i,
            None => {
                self.txqs.push(txq()?);
                self.txqs.len() - 1
            }
        };
        self.streams.push(Stream {
            rx_port: rxq.port_id(),
            rx_queue: rxq.queue_id(),
            tx_port,
            tx_queue,
            peer,
            tx_mac,
            rx_packets: 0,
            tx_packets: 0,
            fwd_dropped: 0,
            rxq,
            txq: idx,
            generator: None,
        });
        Ok(())
    }

    /// Clears the stream counters (at each start).
    pub fn reset_counters(&mut self) {
        for s in &mut self.streams {
            s.rx_packets = 0;
            s.tx_packets = 0;
            s.fwd_dropped = 0;
        }
    }

    /// Drains every RX queue (testpmd's flush before forwarding).
    pub fn flush_rx(&mut self) {
        let mut b = Burst::new();
        for s in &mut self.streams {
            for _ in 0..512 {
                if s.rxq.rx_burst(&mut b) == 0 {
                    break;
                }
                b.clear();
            }
        }
    }

    /// Sends one burst of generated packets on every stream (`--tx-first`).
    pub fn tx_first(&mut self, pool: &PktmbufPool, burst: usize, segs: &[u16]) {
        let mut b = Burst::new();
        for s in &mut self.streams {
            let mut g = PacketGen::new(s.tx_mac, s.peer, segs, 1);
            g.generate(pool, &mut b, burst);
            s.send(&mut self.txqs[s.txq], &mut b);
        }
    }

    /// Runs `engine` until `stop` is set.
    pub fn run(&mut self, engine: &FwdEngine, ctx: &FwdCtx<'_>, stop: &Arc<AtomicBool>) {
        (engine.run)(self, ctx, stop);
    }
}

/// Runs `f` on the Ethernet header of every packet of `b` that has one and whose data is not
/// shared (mac, macswap).
#[inline]
fn for_each_ethernet(b: &mut Burst, mut f: impl FnMut(&mut Ethernet<&mut [u8]>)) {
    for m in b.iter_mut() {
        if let Ok(d) = m.data_mut()
            && let Ok(mut eth) = Ethernet::new_checked(d)
        {
            f(&mut eth);
        }
    }
}

/// Makes a stream's generator of `flows` flows (txonly: 1, flowgen: `--flowgen-flows`).
fn init_generator(stream: &mut Stream, ctx: &FwdCtx<'_>, flows: u32) {
    stream.generator = Some(PacketGen::new(stream.tx_mac, stream.peer, ctx.segs, flows));
}

/// Generates a burst with the stream's generator and sends it (txonly, flowgen).
#[inline]
fn generate_and_send(stream: &mut Stream, txq: &mut TxQueue, b: &mut Burst, ctx: &FwdCtx<'_>) {
    let Some(g) = stream.generator.as_mut() else {
        return;
    };
    if g.generate(ctx.pool, b, ctx.burst) > 0 {
        stream.send(txq, b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_is_registered_once() {
        let names: Vec<_> = engines().iter().map(|e| e.name).collect();
        assert_eq!(
            names,
            ["flowgen", "io", "mac", "macswap", "rxonly", "txonly"]
        );
        assert_eq!(find("macswap").map(|e| e.name), Some("macswap"));
        let e = parse_mode("warp").unwrap_err();
        assert!(e.contains("'warp'") && e.contains("io, mac"), "{e}");
    }
}
