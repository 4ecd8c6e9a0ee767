//! Buffered transmit (DPDK's `rte_eth_tx_buffer`): packets collect until the buffer is full or
//! flushed, and what the queue does not take is dropped and counted.

use rpdk_mbuf::{Mbuf, MbufBurst};

use crate::queue::TxQueue;

/// A transmit buffer of up to `N` packets for one TX queue.
///
/// ```no_run
/// # fn f(txq: &mut rpdk_ethdev::TxQueue, m: rpdk_mbuf::Mbuf) {
/// let mut buf = rpdk_ethdev::TxBuffer::<32>::new();
/// buf.buffer(txq, m); // sends when 32 are buffered
/// buf.flush(txq);     // sends what is there (call every ~100 us)
/// println!("dropped {}", buf.dropped());
/// # }
/// ```
pub struct TxBuffer<const N: usize = 32> {
    pkts: MbufBurst<N>,
    size: usize,
    dropped: u64,
}

impl<const N: usize> Default for TxBuffer<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> TxBuffer<N> {
    /// A buffer that sends when `N` packets wait.
    pub fn new() -> Self {
        Self::with_size(N)
    }

    /// A buffer that sends when `size` (at most `N`, at least 1) packets wait
    /// (DPDK's `rte_eth_tx_buffer_init`).
    pub fn with_size(size: usize) -> Self {
        TxBuffer {
            pkts: MbufBurst::new(),
            size: size.clamp(1, N),
            dropped: 0,
        }
    }

    /// Packets waiting.
    pub fn len(&self) -> usize {
        self.pkts.len()
    }

    /// Whether none wait.
    pub fn is_empty(&self) -> bool {
        self.pkts.is_empty()
    }

    /// Packets dropped because the queue did not take them (the default error callback,
    /// `rte_eth_tx_buffer_count_callback`).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Adds a packet; sends the buffer when it is full. Returns how many were sent
    /// (DPDK's `rte_eth_tx_buffer`).
    #[inline]
    pub fn buffer(&mut self, txq: &mut TxQueue, m: Mbuf) -> usize {
        if let Err(m) = self.pkts.push(m) {
            // Full (size == N and not yet flushed): make room first.
            let sent = self.flush(txq);
            let _ = self.pkts.push(m);
            return sent;
        }
        if self.pkts.len() < self.size {
            return 0;
        }
        self.flush(txq)
    }

    /// Sends every waiting packet; those the queue does not take are freed and counted as
    /// dropped. Returns how many were sent (DPDK's `rte_eth_tx_buffer_flush`).
    #[inline]
    pub fn flush(&mut self, txq: &mut TxQueue) -> usize {
        if self.pkts.is_empty() {
            return 0;
        }
        let sent = txq.tx_burst(&mut self.pkts);
        let unsent = self.pkts.len();
        if unsent > 0 {
            self.dropped += unsent as u64;
            self.pkts.clear();
        }
        sent
    }

    /// Sends what waits and hands back what the queue did not take, instead of dropping it
    /// (a custom error callback).
    pub fn flush_with(&mut self, txq: &mut TxQueue, mut unsent: impl FnMut(Mbuf)) -> usize {
        let sent = txq.tx_burst(&mut self.pkts);
        let n = self.pkts.len();
        self.pkts.take_front(n, &mut unsent);
        sent
    }
}
