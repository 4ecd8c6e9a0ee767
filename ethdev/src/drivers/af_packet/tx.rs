//! The transmit queue: mbufs copied into free slots of the socket's TPACKET_V2 ring, then one
//! `sendto` per burst asks the kernel to send them all. Mbufs are freed once copied; those that
//! find the ring full stay in the burst.

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use rpdk_mbuf::{BurstView, Mbuf, OlFlags};

use super::bump;
use super::tpacket::TxRing;
use crate::driver::TxQueueOps;
use crate::drivers::packet_socket::Socket;
use crate::shared::QueueRecord;
use crate::stats::QueueCounters;

/// Counters of a TX queue that only this driver has (its extended statistics).
#[derive(Debug, Default)]
#[repr(align(64))]
pub(super) struct TxXstats {
    /// `sendto` calls that asked the kernel to send.
    pub kicks: AtomicU64,
    /// Bursts cut short by a full ring.
    pub ring_full: AtomicU64,
}

/// A TX queue of an `net_af_packet` port.
pub(super) struct AfPacketTx {
    /// Dropped before the socket: the mapping goes first.
    pub ring: TxRing,
    pub sock: Arc<Socket>,
    pub counters: Arc<QueueCounters>,
    pub xstats: Arc<TxXstats>,
    /// Where the ring's position is left for the next process to drive the queue.
    pub record: Option<QueueRecord>,
}

impl Drop for AfPacketTx {
    fn drop(&mut self) {
        if let Some(r) = &self.record {
            r.park(self.ring.position());
        }
    }
}

const ETH_ADDRS: usize = 12;
const ETH_HLEN: usize = 14;

/// Copies the segments of `m` into `buf` (which holds them), inserting its VLAN tag after the
/// MAC addresses when asked; returns the frame's length.
#[inline(always)]
fn copy_out(m: &Mbuf, insert_vlan: bool, buf: &mut [u8]) -> usize {
    let mut at = 0;
    for (i, seg) in m.segments().enumerate() {
        let d = seg.data();
        if i == 0 && insert_vlan {
            buf[..ETH_ADDRS].copy_from_slice(&d[..ETH_ADDRS]);
            buf[ETH_ADDRS..ETH_ADDRS + 2]
                .copy_from_slice(&(libc::ETH_P_8021Q as u16).to_be_bytes());
            buf[ETH_ADDRS + 2..ETH_ADDRS + 4].copy_from_slice(&m.vlan_tci().to_be_bytes());
            buf[ETH_ADDRS + 4..d.len() + 4].copy_from_slice(&d[ETH_ADDRS..]);
            at = d.len() + 4;
        } else {
            buf[at..at + d.len()].copy_from_slice(d);
            at += d.len();
        }
    }
    at
}

impl TxQueueOps for AfPacketTx {
    #[inline]
    fn tx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let room = self.ring.data_room();
        let (mut taken, mut queued, mut queued_bytes, mut bad) = (0, 0u64, 0u64, 0u64);
        let mut blocked = None;
        for m in pkts.as_slice() {
            let insert = m.ol_flags().intersects(OlFlags::TX_VLAN);
            let len = m.pkt_len() as usize + if insert { 4 } else { 0 };
            let short = if insert {
                (m.data_len() as usize) < ETH_ADDRS
            } else {
                (m.pkt_len() as usize) < ETH_HLEN
            };
            if len > room || short {
                // Cannot be sent: dropped and counted.
                bad += 1;
                taken += 1;
                continue;
            }
            match self.ring.push(|buf| copy_out(m, insert, buf)) {
                Ok(()) => {
                    queued += 1;
                    queued_bytes += m.pkt_len() as u64;
                    taken += 1;
                }
                Err(status) => {
                    blocked = Some(status);
                    break;
                }
            }
        }
        // Frames the kernel has not taken yet (an earlier kick met a full socket buffer) need a
        // kick too, even if this burst added none.
        if queued > 0 || blocked == Some(libc::TP_STATUS_SEND_REQUEST) {
            bump(&self.xstats.kicks, 1);
            if let Err(e) = self.sock.kick() {
                let transient = matches!(
                    e.raw_os_error(),
                    Some(libc::EAGAIN | libc::ENOBUFS | libc::EINTR)
                );
                if !transient {
                    // The interface is down or gone: what this burst queued is lost.
                    bad += queued;
                    (queued, queued_bytes) = (0, 0);
                }
            }
        }
        if blocked.is_some() {
            bump(&self.xstats.ring_full, 1);
        }
        // Frames taken but dropped are errors, not sent packets.
        self.counters.add(queued, queued_bytes);
        if bad > 0 {
            self.counters.add_errors(bad);
        }
        pkts.free_front(taken);
        taken
    }
}
