//! Forwarding streams and the engines that run them on the forwarding lcores.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rpdk_ethdev::{RxQueue, TxQueue};
use rpdk_mbuf::net::{Ethernet, MacAddr};
use rpdk_mbuf::{MbufBurst, PktmbufPool};

use super::args::FwdMode;
use super::packets::PacketGen;

/// The largest burst (`MAX_PKT_BURST`).
pub const MAX_BURST: usize = 512;

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
    rxq: Option<RxQueue>,
    /// Index of its TX queue in the core's list.
    txq: usize,
    generator: Option<PacketGen>,
}

/// What one forwarding lcore runs: its streams and the queue handles they use.
pub struct CoreWork {
    /// The lcore.
    pub lcore: u32,
    /// Its streams.
    pub streams: Vec<Stream>,
    txqs: Vec<TxQueue>,
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
    #[allow(clippy::too_many_arguments)]
    pub fn add_stream(
        &mut self,
        rxq: RxQueue,
        tx_port: u16,
        tx_queue: u16,
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
            rxq: Some(rxq),
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
        let mut b = MbufBurst::<MAX_BURST>::new();
        for s in &mut self.streams {
            if let Some(rxq) = s.rxq.as_mut() {
                for _ in 0..512 {
                    if rxq.rx_burst(&mut b) == 0 {
                        break;
                    }
                    b.clear();
                }
            }
        }
    }

    /// Sends one burst of generated packets on every stream (`--tx-first`).
    pub fn tx_first(&mut self, pool: &PktmbufPool, burst: usize, segs: &[u16]) {
        let mut b = MbufBurst::<MAX_BURST>::new();
        for s in &mut self.streams {
            let mut g = PacketGen::new(s.tx_mac, s.peer, segs, 1);
            let n = g.generate(pool, &mut b, burst);
            let sent = self.txqs[s.txq].tx_burst(&mut b);
            s.tx_packets += sent as u64;
            s.fwd_dropped += (n - sent) as u64;
            b.clear();
        }
    }

    /// Runs `mode` until `stop` is set.
    pub fn run(
        &mut self,
        mode: FwdMode,
        burst: usize,
        pool: &PktmbufPool,
        segs: &[u16],
        flows: u32,
        stop: &Arc<AtomicBool>,
    ) {
        if matches!(mode, FwdMode::Txonly | FwdMode::Flowgen) {
            let flows = if mode == FwdMode::Flowgen { flows } else { 1 };
            for s in &mut self.streams {
                s.generator = Some(PacketGen::new(s.tx_mac, s.peer, segs, flows));
            }
        }
        let mut b = MbufBurst::<MAX_BURST>::new();
        let txqs = &mut self.txqs;
        while !stop.load(Ordering::Relaxed) {
            for s in self.streams.iter_mut() {
                let Some(rxq) = s.rxq.as_mut() else { continue };
                match mode {
                    FwdMode::Txonly | FwdMode::Flowgen => {
                        let g = s.generator.as_mut().expect("made above");
                        if g.generate(pool, &mut b, burst) == 0 {
                            continue;
                        }
                    }
                    _ => {
                        let n = rxq.rx_burst_max(&mut b, burst);
                        if n == 0 {
                            continue;
                        }
                        s.rx_packets += n as u64;
                    }
                }
                match mode {
                    FwdMode::Rxonly => {
                        b.clear();
                        continue;
                    }
                    FwdMode::Mac => {
                        for m in b.iter_mut() {
                            if let Ok(d) = m.data_mut()
                                && let Ok(mut eth) = Ethernet::new_checked(d)
                            {
                                eth.set_dst(s.peer);
                                eth.set_src(s.tx_mac);
                            }
                        }
                    }
                    FwdMode::Macswap => {
                        for m in b.iter_mut() {
                            if let Ok(d) = m.data_mut()
                                && let Ok(mut eth) = Ethernet::new_checked(d)
                            {
                                eth.swap_addrs();
                            }
                        }
                    }
                    FwdMode::Io | FwdMode::Txonly | FwdMode::Flowgen => {}
                }
                let sent = txqs[s.txq].tx_burst(&mut b);
                s.tx_packets += sent as u64;
                if !b.is_empty() {
                    s.fwd_dropped += b.len() as u64;
                    b.clear();
                }
            }
        }
    }
}
