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
pub(crate) mod stash;
pub mod tap;
pub mod virtio;
pub mod vmxnet3;

use std::sync::atomic::{AtomicU16, Ordering};

use rpdk_eal::bus::Devargs;
use rpdk_mbuf::net::MacAddr;

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
