//! `net_af_xdp`: a port on a Linux network interface through AF_XDP sockets (DPDK's
//! `drivers/net/af_xdp`, alias `eth_af_xdp`), with nothing but the kernel: no libbpf, no
//! libxdp, no clang.
//!
//! ```text
//! --vdev net_af_xdp0,iface=veth0,start_queue=0,queue_count=2
//! ```
//!
//! - **Program.** The built-in XDP program is xdp-tools' default one,
//!   `bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS)`, six eBPF instructions
//!   written in Rust (`program.rs`) and loaded with the `bpf()` system call (`bpf.rs`) with an
//!   `XSKMAP` of its own. It is attached when the port starts, through a `BPF_LINK_CREATE`
//!   XDP link, in native mode where the interface's driver has XDP and generic mode otherwise
//!   (`mode=native|generic` forces one), and detached when the port stops: the link is a file
//!   descriptor, so the kernel detaches it also when the process dies, even by `SIGKILL`.
//!   `xdp_prog=<file>` attaches the XDP program of a BPF ELF object instead (`elf.rs`), its
//!   `xsks_map` references pointed at the driver's XSKMAP.
//! - **UMEM.** Each RX queue's socket registers the whole memory of the queue's mbuf pool as its
//!   UMEM (`umem.rs`); received frames are written by the kernel into mbuf buffers and become
//!   mbufs without a copy, and mbufs of that pool are sent from their own buffers.
//!   `shared_umem=1` registers a pool once for all the queues that use it.
//! - **Rings** (`ring.rs`) are driven in bursts with one acquire load and one release store
//!   each. The fill ring is topped up in bulk from the pool; completions are read at each TX
//!   burst and freed in bulk. `sendto`/`recvfrom` wake the kernel only when it asks
//!   (`XDP_USE_NEED_WAKEUP`; `need_wakeup=0` wakes it every burst) or when busy polling
//!   (`busy_budget`, DPDK's default 64; 0 turns it off).
//! - **Queues.** One socket per queue pair, bound to interface queue `start_queue + q`.
//! - **Secondary processes** drive a queue pair's sides (`share.rs`): the primary passes a
//!   descriptor of the socket; the secondary maps the side's two rings from it again (their
//!   indexes are in the rings' shared memory) over the same UMEM (the pool's memzone, at the
//!   same address), and the record of the mbufs the side gave the kernel goes between the
//!   processes in a memzone of its own (`afxdp_lent_P_rQ`/`_tQ`), used in place, so that a
//!   secondary that dies leaves it as it stood.
//! - **Counters.** `imissed` is the kernel's `rx_dropped + rx_ring_full` (`XDP_STATISTICS`,
//!   read when the statistics are), `rx_nombuf` the received frames whose buffer could not be
//!   replaced. xstats per queue: `rx_qN_xdp_dropped`, `rx_qN_ring_full`,
//!   `rx_qN_fill_ring_empty`, `rx_qN_invalid_descs`, `rx_qN_wakeups`, `tx_qN_invalid_descs`,
//!   `tx_qN_ring_empty`, `tx_qN_wakeups`, `tx_qN_copies`, `tx_qN_ring_full`, `qN_zero_copy`,
//!   and `xdp_native`.
//!
//! `unsafe` lives in `bpf.rs` and `xsk.rs` (system calls), `ring.rs` (the memory shared with
//! the kernel) and `umem.rs` (mbufs that the kernel held, owned again, and the lent record in
//! a memzone); the other modules
//! forbid it.

mod bpf;
mod devargs;
mod device;
mod elf;
mod program;
mod ring;
mod rx;
mod share;
mod socket;
mod tx;
mod umem;
mod xsk;

use std::sync::atomic::{AtomicU64, Ordering};

use rpdk_eal::bus::{Devargs, DriverError as BusError, VDEV_DRIVERS, VdevDriver};

use device::AfXdpDevice;
pub(crate) use share::{attach_rx, attach_tx};

/// The driver's name.
pub const DRIVER: &str = "net_af_xdp";
const LOG: &str = "pmd.net.af_xdp";

#[linkme::distributed_slice(VDEV_DRIVERS)]
static NET_AF_XDP: VdevDriver = VdevDriver {
    name: DRIVER,
    aliases: &["eth_af_xdp"],
    keys: devargs::KEYS,
    probe,
    remove,
};

/// Adds to a counter that only the queue's owner writes (a load and a store, no locked
/// instruction).
#[inline(always)]
fn bump(c: &AtomicU64, by: u64) {
    c.store(
        c.load(Ordering::Relaxed).wrapping_add(by),
        Ordering::Relaxed,
    );
}

fn probe(dev: &Devargs) -> Result<(), BusError> {
    let params = devargs::parse(dev)?;
    log::info!(
        target: LOG,
        "{}: iface {}, queues {}..{}",
        dev.name(),
        params.iface,
        params.start_queue,
        params.start_queue + params.queue_count as u32
    );
    let object = match &params.xdp_prog {
        None => None,
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| format!("xdp_prog '{path}': {e}"))?;
            Some(elf::XdpObject::parse(path, &bytes)?)
        }
    };
    let device = AfXdpDevice::open(params, object, crate::drivers::packet_socket::page_size())?;
    log::debug!(target: LOG, "{}: interface index {}", dev.name(), device.ifindex());
    let socket = rpdk_eal::lcore::socket_id().unwrap_or(0);
    crate::port::allocate(dev.name(), Box::new(device), socket)?;
    Ok(())
}

fn remove(name: &str) -> Result<(), BusError> {
    Ok(crate::port::release_by_name(name)?)
}
