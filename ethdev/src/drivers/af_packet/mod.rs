//! `net_af_packet`: a port on a Linux network interface through `AF_PACKET` sockets and their
//! memory-mapped rings (DPDK's `drivers/net/af_packet`, alias `eth_af_packet`).
//!
//! ```text
//! --vdev net_af_packet0,iface=veth0,qpairs=2
//! ```
//!
//! Devargs, with DPDK's names and defaults:
//!
//! | key | meaning | default |
//! |---|---|---|
//! | `iface` | the interface (required) | |
//! | `qpairs` | RX/TX queue pairs, 1 to 256 | 1 |
//! | `blocksz` | ring block size, a multiple of the page size | the page size |
//! | `framesz` | ring frame size, a multiple of 16, at most `blocksz` | 2048 |
//! | `framecnt` | frames per ring, a multiple of `blocksz / framesz` | 512 |
//! | `qdisc_bypass` | send with `PACKET_QDISC_BYPASS` (skip the interface's qdisc) | 1 |
//! | `tpacket_version` | RX ring layout: `2` (a frame a slot, as DPDK) or `3` (blocks of frames) | 2 |
//!
//! Each RX queue has its own socket and a TPACKET_V2 ring of `framecnt` slots of `framesz`
//! bytes, as DPDK's: the kernel hands each frame over as soon as it is written; `rx_burst`
//! polls the slots' status words, copies the frames into mbufs of the queue's pool and gives the
//! slots back, without a system call. With `tpacket_version=3` (rpdk's own key) the ring is
//! TPACKET_V3, `framecnt / (blocksz / framesz)` blocks of `blocksz` bytes that the kernel hands
//! over full or after 1 ms: batches for the kernel, latency under light traffic. With more than
//! one RX queue, the sockets form a `PACKET_FANOUT_HASH` group of their own (with rollover and
//! defragmentation, as DPDK), so that the kernel spreads flows over the queues. Frames this
//! host sends on the interface, the port's own included, are left out
//! (`PACKET_IGNORE_OUTGOING`, and a check of each frame's packet type where the kernel cannot).
//! Until the port starts, and while it is stopped, a socket filter keeps frames out of the
//! rings.
//!
//! Each TX queue has its own socket, bound without a protocol so that it never receives, and a
//! TPACKET_V2 ring of `framecnt` slots of `framesz` bytes (`framesz - 32` bytes of frame):
//! `tx_burst` copies mbufs into free slots, frees them, and asks the kernel to send with one
//! `sendto` per burst. Mbufs that find the ring full stay in the burst.
//!
//! Offloads: `VLAN_STRIP` on receive; VLAN tags that the kernel took out of frames are put back
//! when `VLAN_STRIP` is off. `MULTI_SEGS` and `VLAN_INSERT` on transmit. RSS (the `RSS_HASH`
//! offload, `RTE_ETH_MQ_RX_RSS` over more RX queues than `qpairs`) is the software stage's
//! (`crate::stage`), as for every driver: with `qpairs` queues the kernel's fanout spreads flows
//! and the stage only writes the Toeplitz hash; with more queues than `qpairs` the stage spreads
//! by its redirection table.
//!
//! Counters: `rx_nombuf` when the pool runs dry (the frames wait in the ring), `imissed` for
//! frames the kernel dropped because the ring was full, `ierrors` for frames truncated by the
//! ring or too long for an mbuf, `oerrors` for frames too long for a slot and frames lost
//! because the interface went down or away. Extended statistics per queue: `rx_qN_blocks`,
//! `rx_qN_block_timeouts` (blocks handed over by the timer: light traffic), `tx_qN_kicks`
//! (`sendto` calls), `tx_qN_ring_full`.
//!
//! A secondary process can drive the queues (`share`): the primary passes each queue's socket
//! (`SCM_RIGHTS`) with its ring's layout, the secondary maps the same kernel ring, and the
//! ring's position goes from one process to the other through the queue's record in the shared
//! port data; the primary keeps the socket while the queue is lent, and goes on from where the
//! secondary left the ring when it takes the queue back (from the ring's status words, for an
//! RX ring whose secondary died; a new socket for a TX ring).
//!
//! The MAC address, MTU, link status (and speed, from ethtool) are the interface's;
//! promiscuous and all-multicast modes are socket memberships, which the kernel drops when the
//! port closes. An interface that disappears while the port runs gives a link down, TX errors
//! and no RX; it never blocks.

mod devargs;
mod device;
mod rx;
mod share;
mod tpacket;
mod tx;

pub(crate) use share::{attach_rx, attach_tx};

use std::sync::atomic::{AtomicU64, Ordering};

use rpdk_eal::bus::{Devargs, DriverError as BusError, VDEV_DRIVERS, VdevDriver};

use crate::drivers::packet_socket as sys;
use device::AfPacketDevice;

/// The driver's name.
pub const DRIVER: &str = "net_af_packet";
const LOG: &str = "pmd.net.af_packet";

#[linkme::distributed_slice(VDEV_DRIVERS)]
static NET_AF_PACKET: VdevDriver = VdevDriver {
    name: DRIVER,
    aliases: &["eth_af_packet"],
    keys: devargs::KEYS,
    probe,
    remove,
};

/// Adds to a counter that only the queue's owner writes (a load and a store, no locked
/// instruction), as `QueueCounters` does.
#[inline(always)]
fn bump(c: &AtomicU64, by: u64) {
    c.store(
        c.load(Ordering::Relaxed).wrapping_add(by),
        Ordering::Relaxed,
    );
}

fn probe(dev: &Devargs) -> Result<(), BusError> {
    let params = devargs::parse(dev, sys::page_size() as u32)?;
    log::info!(
        target: LOG,
        "{}: iface {}, {} queue pair(s), rings of {} blocks of {} bytes ({} frames of {})",
        dev.name(),
        params.iface,
        params.qpairs,
        params.block_count(),
        params.block_size,
        params.frame_count,
        params.frame_size
    );
    let device = AfPacketDevice::open(params)?;
    log::debug!(target: LOG, "{}: interface index {}", dev.name(), device.ifindex());
    let socket = rpdk_eal::lcore::socket_id().unwrap_or(0);
    crate::port::allocate(dev.name(), Box::new(device), socket)?;
    Ok(())
}

fn remove(name: &str) -> Result<(), BusError> {
    Ok(crate::port::release_by_name(name)?)
}
