//! The poll-mode drivers, each registered with the EAL under DPDK's name and devargs: software
//! devices (`--vdev`) and PCI NICs driven over VFIO or UIO (`-a`).

pub mod af_packet;
pub mod af_xdp;
pub(crate) mod dma;
pub mod e1000;
pub mod net_ring;
pub(crate) mod netif;
pub mod null;
pub(crate) mod packet_socket;
pub mod pcap;
pub(crate) mod pci_share;
pub(crate) mod slots;
pub(crate) mod stash;
pub mod tap;
pub mod virtio;
pub mod vmxnet3;

use std::sync::atomic::{AtomicU16, Ordering};

use rpdk_eal::bus::Devargs;
use rpdk_mbuf::net::MacAddr;

/// Builds, in a secondary process, the RX queue object of a queue the primary's driver
/// `driver` shared (by name: each process runs its own copy of the driver's code).
pub(crate) fn attach_rx(
    driver: &str,
    a: crate::secondary::Attach,
) -> crate::driver::DriverResult<Box<dyn crate::driver::RxQueueOps>> {
    match driver {
        net_ring::DRIVER => net_ring::attach_rx(a),
        null::DRIVER => null::attach_rx(a),
        pcap::DRIVER => pcap::attach_rx(a),
        af_packet::DRIVER => af_packet::attach_rx(a),
        af_xdp::DRIVER => af_xdp::attach_rx(a),
        tap::DRIVER => tap::attach_rx(a),
        e1000::DRIVER => e1000::attach_rx(a),
        virtio::DRIVER => virtio::attach_rx(a),
        vmxnet3::DRIVER => vmxnet3::attach_rx(a),
        _ => Err(crate::error::DriverError::NotSupported(
            "driving its queues from a secondary process",
        )),
    }
}

/// The same for a TX queue.
pub(crate) fn attach_tx(
    driver: &str,
    a: crate::secondary::Attach,
) -> crate::driver::DriverResult<Box<dyn crate::driver::TxQueueOps>> {
    match driver {
        net_ring::DRIVER => net_ring::attach_tx(a),
        null::DRIVER => null::attach_tx(a),
        pcap::DRIVER => pcap::attach_tx(a),
        af_packet::DRIVER => af_packet::attach_tx(a),
        af_xdp::DRIVER => af_xdp::attach_tx(a),
        tap::DRIVER => tap::attach_tx(a),
        e1000::DRIVER => e1000::attach_tx(a),
        virtio::DRIVER => virtio::attach_tx(a),
        vmxnet3::DRIVER => vmxnet3::attach_tx(a),
        _ => Err(crate::error::DriverError::NotSupported(
            "driving its queues from a secondary process",
        )),
    }
}

/// Parses a `0`/`1` devarg (absent: `default`; present without a value: true).
pub(crate) fn flag_arg(dev: &Devargs, key: &str, default: bool) -> Result<bool, String> {
    match dev.get(key) {
        None => Ok(default),
        Some("" | "1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(v) => Err(format!(
            "invalid value '{v}' for key '{key}' (expected 0 or 1)"
        )),
    }
}

/// A fresh locally administered MAC address for a software device.
pub(crate) fn next_mac() -> MacAddr {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    crate::config::default_mac(NEXT.fetch_add(1, Ordering::Relaxed))
}
