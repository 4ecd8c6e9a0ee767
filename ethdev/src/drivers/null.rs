//! `net_null`: a port that receives made-up packets and drops what it sends, for measuring the
//! rest of the stack (DPDK's `drivers/net/null`).
//!
//! Devargs: `size` (packet length, default 64), `copy` (1: copy a dummy packet into every
//! received mbuf and every sent packet out of it, as a NIC's DMA would), `no-rx` (1: receive
//! nothing).
//!
//! Statistics: a queue counts packets and bytes (DPDK 22.11's null PMD counts packets only and
//! leaves `ibytes`/`obytes` at 0). Receive counts `n × size` for a burst of `n` without reading
//! the mbufs again; transmit adds up the `pkt_len` of the packets it frees, from the header
//! line freeing reads anyway (in copy mode, in the loop that copies them).
//!
//! A secondary process drives its queues as its own (DPDK's null PMD does too): a queue holds
//! nothing but its settings, which the primary passes (`size`, `copy`, `no-rx`: four bytes),
//! and counts into the queue's counters in the shared port data.

use std::sync::{Arc, Mutex};

use rpdk_eal::bus::{Devargs, DriverError as BusError, VDEV_DRIVERS, VdevDriver};
use rpdk_mbuf::net::MacAddr;
use rpdk_mbuf::{BurstView, PktmbufPool};

use crate::config::{DevInfo, EthConf, Link, link_speed};
use crate::driver::{
    DriverResult, EthDevice, RxQueueOps, RxSetup, SharedQueue, TxQueueOps, TxSetup,
};
use crate::error::DriverError;
use crate::secondary::Attach;
use crate::stats::QueueCounters;

/// The driver's name.
pub const DRIVER: &str = "net_null";
const KEYS: &[&str] = &["size", "copy", "no-rx"];
const DEFAULT_SIZE: u16 = 64;
const MAX_QUEUES: u16 = 1024;

#[linkme::distributed_slice(VDEV_DRIVERS)]
static NET_NULL: VdevDriver = VdevDriver {
    name: DRIVER,
    aliases: &["eth_null"],
    keys: KEYS,
    probe,
    remove,
};

#[derive(Clone, Copy, Debug)]
struct Params {
    size: u16,
    copy: bool,
    no_rx: bool,
}

fn parse(dev: &Devargs) -> Result<Params, String> {
    let size: u16 = dev.parse_or("size", DEFAULT_SIZE)?;
    if size == 0 {
        return Err("invalid value '0' for key 'size' (at least 1 byte)".into());
    }
    Ok(Params {
        size,
        copy: super::flag_arg(dev, "copy", false)?,
        no_rx: super::flag_arg(dev, "no-rx", false)?,
    })
}

fn probe(dev: &Devargs) -> Result<(), BusError> {
    let params = parse(dev)?;
    let socket = rpdk_eal::lcore::socket_id().unwrap_or(0);
    let device = NullDevice::new(params);
    crate::port::allocate(dev.name(), Box::new(device), socket)?;
    Ok(())
}

fn remove(name: &str) -> Result<(), BusError> {
    Ok(crate::port::release_by_name(name)?)
}

struct NullDevice {
    params: Params,
    mac: Mutex<MacAddr>,
    promisc: Mutex<bool>,
    allmulti: Mutex<bool>,
    mtu: Mutex<u16>,
    /// What copy mode copies from and into.
    dummy: Arc<[u8]>,
}

impl NullDevice {
    fn new(params: Params) -> NullDevice {
        NullDevice {
            params,
            mac: Mutex::new(super::next_mac()),
            promisc: Mutex::new(true),
            allmulti: Mutex::new(true),
            mtu: Mutex::new(1500),
            dummy: vec![0u8; params.size as usize].into(),
        }
    }
}

fn lock<T: Copy>(m: &Mutex<T>) -> T {
    *m.lock().unwrap_or_else(|e| e.into_inner())
}

fn set<T>(m: &Mutex<T>, v: T) {
    *m.lock().unwrap_or_else(|e| e.into_inner()) = v;
}

impl EthDevice for NullDevice {
    fn info(&self) -> DevInfo {
        DevInfo {
            max_rx_queues: MAX_QUEUES,
            max_tx_queues: MAX_QUEUES,
            max_rx_pktlen: u32::MAX,
            max_mtu: u16::MAX,
            speed_capa: link_speed::SPEED_10G,
            ..DevInfo::new(DRIVER)
        }
    }

    fn configure(&self, _nb_rx: u16, _nb_tx: u16, _conf: &EthConf) -> DriverResult<()> {
        Ok(())
    }

    fn rx_queue_setup(&self, s: RxSetup<'_>) -> DriverResult<Box<dyn RxQueueOps>> {
        let room = s
            .pool
            .data_room_size()
            .saturating_sub(rpdk_mbuf::PKTMBUF_HEADROOM);
        if self.params.size > room {
            return Err(DriverError::Invalid(format!(
                "packet size {} does not fit the pool's {room}-byte buffers",
                self.params.size
            )));
        }
        Ok(Box::new(NullRx {
            pool: s.pool.clone(),
            params: self.params,
            port: s.port,
            counters: s.counters,
            dummy: self.dummy.clone(),
        }))
    }

    fn tx_queue_setup(&self, s: TxSetup<'_>) -> DriverResult<Box<dyn TxQueueOps>> {
        Ok(Box::new(NullTx {
            counters: s.counters,
            copy: self.params.copy,
            dummy: vec![0u8; self.params.size as usize].into_boxed_slice(),
        }))
    }

    fn share_rx_queue(&self, _queue: u16) -> DriverResult<SharedQueue> {
        Ok(share(self.params))
    }

    fn share_tx_queue(&self, _queue: u16) -> DriverResult<SharedQueue> {
        Ok(share(self.params))
    }

    fn start(&self) -> DriverResult<()> {
        Ok(())
    }

    fn stop(&self) -> DriverResult<()> {
        Ok(())
    }

    fn close(&self) -> DriverResult<()> {
        Ok(())
    }

    fn link(&self) -> Link {
        Link {
            speed: 10_000,
            full_duplex: true,
            autoneg: false,
            up: true,
        }
    }

    fn mac_addr(&self) -> MacAddr {
        lock(&self.mac)
    }

    fn set_mac_addr(&self, mac: MacAddr) -> DriverResult<()> {
        set(&self.mac, mac);
        Ok(())
    }

    fn set_promiscuous(&self, on: bool) -> DriverResult<()> {
        set(&self.promisc, on);
        Ok(())
    }

    fn promiscuous(&self) -> bool {
        lock(&self.promisc)
    }

    fn set_allmulticast(&self, on: bool) -> DriverResult<()> {
        set(&self.allmulti, on);
        Ok(())
    }

    fn allmulticast(&self) -> bool {
        lock(&self.allmulti)
    }

    fn set_mtu(&self, mtu: u16) -> DriverResult<()> {
        set(&self.mtu, mtu);
        Ok(())
    }

    fn mtu(&self) -> u16 {
        lock(&self.mtu)
    }
}

/// The settings a secondary's queue needs.
fn share(p: Params) -> SharedQueue {
    let mut args = p.size.to_le_bytes().to_vec();
    args.extend([u8::from(p.copy), u8::from(p.no_rx)]);
    SharedQueue {
        args,
        fds: Vec::new(),
    }
}

fn shared_params(a: &Attach) -> DriverResult<Params> {
    match a.shared.args[..] {
        [lo, hi, copy, no_rx] if u16::from_le_bytes([lo, hi]) > 0 => Ok(Params {
            size: u16::from_le_bytes([lo, hi]),
            copy: copy == 1,
            no_rx: no_rx == 1,
        }),
        _ => Err(DriverError::Invalid(
            "the primary's net_null queue share is malformed".into(),
        )),
    }
}

/// The RX queue a secondary process drives.
pub(crate) fn attach_rx(a: Attach) -> DriverResult<Box<dyn RxQueueOps>> {
    let params = shared_params(&a)?;
    let pool = a
        .pool
        .ok_or_else(|| DriverError::Invalid("the RX queue has no pool".into()))?;
    Ok(Box::new(NullRx {
        pool,
        params,
        port: a.port,
        counters: a.counters,
        dummy: vec![0u8; params.size as usize].into(),
    }))
}

/// The TX queue a secondary process drives.
pub(crate) fn attach_tx(a: Attach) -> DriverResult<Box<dyn TxQueueOps>> {
    let params = shared_params(&a)?;
    Ok(Box::new(NullTx {
        counters: a.counters,
        copy: params.copy,
        dummy: vec![0u8; params.size as usize].into_boxed_slice(),
    }))
}

struct NullRx {
    pool: PktmbufPool,
    params: Params,
    port: u16,
    counters: Arc<QueueCounters>,
    dummy: Arc<[u8]>,
}

impl RxQueueOps for NullRx {
    #[inline]
    fn rx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        if self.params.no_rx {
            return 0;
        }
        let n = pkts.room();
        if n == 0 {
            return 0;
        }
        let before = pkts.len();
        if self.pool.alloc_bulk_into(pkts, n).is_err() {
            self.counters.add_nombuf(n as u64);
            return 0;
        }
        let size = self.params.size;
        for m in &mut pkts.as_mut_slice()[before..] {
            // Fresh mbufs, and the size fits their buffers (checked at setup).
            if self.params.copy {
                m.fill_from(&self.dummy[..size as usize]);
            } else {
                m.fill_len(size as usize);
            }
            m.set_port(self.port);
        }
        self.counters.add(n as u64, n as u64 * size as u64);
        n
    }
}

struct NullTx {
    counters: Arc<QueueCounters>,
    copy: bool,
    dummy: Box<[u8]>,
}

impl TxQueueOps for NullTx {
    #[inline]
    fn tx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize {
        let n = pkts.len();
        let mut bytes = 0u64;
        if self.copy {
            for m in pkts.as_slice() {
                let len = m.data().len().min(self.dummy.len());
                self.dummy[..len].copy_from_slice(&m.data()[..len]);
                bytes += m.pkt_len() as u64;
            }
        } else {
            // pkt_len sits in the header line that freeing reads next: no extra cache miss.
            bytes = pkts.as_slice().iter().map(|m| m.pkt_len() as u64).sum();
        }
        self.counters.add(n as u64, bytes);
        pkts.free_front(n);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devargs() {
        let p = parse(&Devargs::parse_vdev("net_null0,size=128,copy=1").unwrap()).unwrap();
        assert_eq!((p.size, p.copy, p.no_rx), (128, true, false));
        let p = parse(&Devargs::parse_vdev("net_null0,no-rx=1").unwrap()).unwrap();
        assert!(p.no_rx && p.size == 64);
        for (bad, want) in [
            ("net_null0,size=big", "invalid value 'big' for key 'size'"),
            ("net_null0,size=0", "invalid value '0' for key 'size'"),
            ("net_null0,copy=2", "invalid value '2' for key 'copy'"),
        ] {
            let e = parse(&Devargs::parse_vdev(bad).unwrap()).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }
}
