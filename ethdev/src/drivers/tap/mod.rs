//! `net_tap`: a port whose other end is a TAP interface of the kernel (DPDK's
//! `drivers/net/tap`). What the port sends, the kernel receives on the interface; what the
//! kernel sends out of the interface, the port receives.
//!
//! Devargs:
//! - `iface=<name>`: the TAP interface to create (default `dtap%d`: the kernel picks the first
//!   free `dtapN`). An existing TAP device of that name is attached to instead.
//! - `mac=fixed|<xx:xx:xx:xx:xx:xx>`: the port's and the interface's MAC address: `fixed` gives
//!   DPDK's `00:64:74:61:70:<n>` (`n` counting fixed devices from ASCII `'0'`), an address must be
//!   unicast; default a random locally administered address.
//!
//! The device is created at probe through `/dev/net/tun` with `IFF_MULTI_QUEUE`, kept alive by a
//! detached queue (as DPDK), and disappears when the port is closed (it is not persistent).
//! `configure` opens one TAP queue per queue pair (RX and TX counts must match, as DPDK); the
//! kernel spreads the frames it sends over them by flow. `start` brings the interface up and
//! `stop` down. Link status, promiscuous and all-multicast modes, MAC address and MTU are the
//! interface's own, read and set with `ioctl`s.
//!
//! Each frame costs one `readv` or `writev` (see `rxtx.rs`): a TAP file has no batched call.
//! With the `SCATTER` RX offload, frames up to 9018 bytes are read into chains of mbufs;
//! without it, a frame longer than one mbuf is counted in `ierrors`. Sending takes chained
//! mbufs (`writev` of the segments).
//!
//! A deleted interface makes its queues count one error and return nothing from then on; its
//! port still stops and closes.

mod rxtx;
mod tun;

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rpdk_eal::bus::{Devargs, DriverError as BusError, VDEV_DRIVERS, VdevDriver};
use rpdk_mbuf::net::MacAddr;

use self::rxtx::{MAX_RX_SEGS, TapRx, TapTx};
use crate::config::{DevInfo, EthConf, Link, link_speed, rx_offload, tx_offload};
use crate::driver::{
    DriverResult, EthDevice, RxQueueOps, RxSetup, SharedQueue, TxQueueOps, TxSetup,
};
use crate::drivers::netif::{self, NetIf};
use crate::drivers::stash::{RxStash, STASH};
use crate::error::DriverError;
use crate::secondary::Attach;

/// The driver's name.
pub const DRIVER: &str = "net_tap";
const KEYS: &[&str] = &["iface", "mac"];
const DEFAULT_IFACE: &str = "dtap%d";
/// Most queue pairs (DPDK's `RTE_PMD_TAP_MAX_QUEUES`).
const MAX_QUEUES: u16 = 16;
const LOG: &str = "pmd.net.tap";

#[linkme::distributed_slice(VDEV_DRIVERS)]
static NET_TAP: VdevDriver = VdevDriver {
    name: DRIVER,
    aliases: &["eth_tap"],
    keys: KEYS,
    probe,
    remove,
};

/// Where the port's MAC address comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MacChoice {
    Random,
    Fixed,
    Given(MacAddr),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Params {
    iface: String,
    mac: MacChoice,
}

fn parse(dev: &Devargs) -> Result<Params, String> {
    let iface = match dev.get("iface") {
        None => DEFAULT_IFACE.to_string(),
        Some(v) => {
            netif::check_name(v)
                .map_err(|e| format!("invalid value '{v}' for key 'iface': {e}"))?;
            v.to_string()
        }
    };
    let mac = match dev.get("mac") {
        None => MacChoice::Random,
        Some(v) if v.eq_ignore_ascii_case("fixed") => MacChoice::Fixed,
        Some(v) => match v.parse::<MacAddr>() {
            Ok(m) if m.is_valid_unicast() => MacChoice::Given(m),
            _ => {
                return Err(format!(
                    "invalid value '{v}' for key 'mac' (expected 'fixed' or a unicast address \
                     xx:xx:xx:xx:xx:xx)"
                ));
            }
        },
    };
    Ok(Params { iface, mac })
}

/// DPDK's fixed address: `00:64:74:61:70:<'0' + n>` ("\0dtap" and a digit).
fn fixed_mac() -> MacAddr {
    static NEXT: AtomicU8 = AtomicU8::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    MacAddr([0x00, 0x64, 0x74, 0x61, 0x70, b'0'.wrapping_add(n)])
}

/// A random locally administered unicast address (DPDK's `rte_eth_random_addr`).
fn random_mac() -> MacAddr {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::UNIX_EPOCH
            .elapsed()
            .map_or(0, |d| d.as_nanos() as u64),
    );
    let b = h.finish().to_le_bytes();
    MacAddr([(b[0] & 0xfe) | 0x02, b[1], b[2], b[3], b[4], b[5]])
}

fn probe(dev: &Devargs) -> Result<(), BusError> {
    let params = parse(dev)?;
    let socket = rpdk_eal::lcore::socket_id().unwrap_or(0);
    let device = TapDevice::create(params)?;
    let (ifname, mac) = (device.ifname.clone(), device.mac_addr());
    log::info!(target: LOG, "{}: TAP interface {ifname} ({mac})", dev.name());
    crate::port::allocate(dev.name(), Box::new(device), socket)?;
    Ok(())
}

fn remove(name: &str) -> Result<(), BusError> {
    match crate::port::release_by_name(name) {
        // Closed by the application already (DPDK: "port already released").
        Err(crate::EthError::NoSuchName(_)) => Ok(()),
        r => Ok(r?),
    }
}

/// The identity of the calling thread's network namespace.
fn current_netns() -> Option<(u64, u64)> {
    std::fs::metadata("/proc/thread-self/ns/net")
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

struct TapDevice {
    /// The interface's name as the kernel gave it.
    ifname: Arc<str>,
    netif: NetIf,
    ifindex: u32,
    mac: Mutex<MacAddr>,
    /// The detached queue that keeps the device alive while no queue is configured.
    keepalive: Mutex<Option<File>>,
    /// One TAP queue per configured queue pair; each RX and TX queue holds a duplicate.
    queues: Mutex<Vec<File>>,
    /// Whether each RX queue takes frames of several mbufs (for a secondary driving it).
    scatter: Mutex<Vec<bool>>,
    netns: Option<(u64, u64)>,
}

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TapDevice {
    fn create(params: Params) -> DriverResult<TapDevice> {
        let (keepalive, ifname) = tun::open_queue(&params.iface, true)
            .map_err(|e| DriverError::io(format!("creating TAP device '{}'", params.iface), e))?;
        let netif = NetIf::new(&ifname)
            .map_err(|e| DriverError::io("opening an interface control socket", e))?;
        let mac = match params.mac {
            MacChoice::Random => random_mac(),
            MacChoice::Fixed => fixed_mac(),
            MacChoice::Given(m) => m,
        };
        netif
            .set_mac(mac)
            .map_err(|e| DriverError::io(format!("setting the MAC address of {ifname}"), e))?;
        let ifindex = netif
            .index()
            .map_err(|e| DriverError::io(format!("finding the index of {ifname}"), e))?;
        Ok(TapDevice {
            ifname: ifname.into(),
            netif,
            ifindex,
            mac: Mutex::new(mac),
            keepalive: Mutex::new(Some(keepalive)),
            queues: Mutex::new(Vec::new()),
            scatter: Mutex::new(Vec::new()),
            netns: current_netns(),
        })
    }

    /// A TAP queue for a secondary process (as DPDK's TAP driver does over `rte_mp`): a
    /// duplicate of its file, and whether RX takes frames of several mbufs, with the
    /// interface's name. The kernel keeps the queue's position: the file is all there is.
    fn share(&self, q: u16) -> DriverResult<SharedQueue> {
        let file = self.queue_file(q)?;
        let scatter = guard(&self.scatter)
            .get(q as usize)
            .copied()
            .unwrap_or(false);
        let mut args = vec![u8::from(scatter)];
        args.extend_from_slice(self.ifname.as_bytes());
        Ok(SharedQueue {
            args,
            fds: vec![file.into()],
        })
    }

    fn io_err(&self, what: &str, e: std::io::Error) -> DriverError {
        DriverError::io(format!("{what} {}", self.ifname), e)
    }

    /// A duplicate of TAP queue `q`'s file.
    fn queue_file(&self, q: u16) -> DriverResult<File> {
        let queues = guard(&self.queues);
        let file = queues.get(q as usize).ok_or_else(|| {
            DriverError::Invalid(format!("queue {q} was not configured ({})", queues.len()))
        })?;
        file.try_clone()
            .map_err(|e| self.io_err(&format!("duplicating queue {q} of"), e))
    }
}

/// Mbufs of `pool` one received frame may take.
fn rx_segs(scatter: bool, pool: &rpdk_mbuf::PktmbufPool) -> DriverResult<usize> {
    if !scatter {
        return Ok(1);
    }
    let n = rxtx::segs_for(
        pool.data_room_size() as usize,
        rpdk_mbuf::PKTMBUF_HEADROOM as usize,
    );
    if n > MAX_RX_SEGS.min(STASH) {
        return Err(DriverError::Invalid(format!(
            "mbufs of {} bytes would need {n} segments for a {}-byte frame (at most {})",
            pool.data_room_size(),
            rxtx::MAX_FRAME,
            MAX_RX_SEGS
        )));
    }
    Ok(n)
}

/// The file and interface name a primary shared.
fn shared_queue(a: &mut Attach) -> DriverResult<(File, Arc<str>, bool)> {
    let fd = a.shared.fds.pop().ok_or_else(|| {
        DriverError::Invalid(format!("queue {}: no TAP file was passed", a.queue))
    })?;
    let (&scatter, name) = a
        .shared
        .args
        .split_first()
        .ok_or_else(|| DriverError::Invalid(format!("queue {}: no parameters", a.queue)))?;
    Ok((
        File::from(fd),
        String::from_utf8_lossy(name).into(),
        scatter != 0,
    ))
}

/// The RX queue a secondary process drives: the TAP queue's file the primary passed.
pub(crate) fn attach_rx(mut a: Attach) -> DriverResult<Box<dyn RxQueueOps>> {
    let (file, ifname, scatter) = shared_queue(&mut a)?;
    let pool = a
        .pool
        .ok_or_else(|| DriverError::Invalid(format!("RX queue {}: no pool", a.queue)))?;
    let segs = rx_segs(scatter, &pool)?;
    Ok(Box::new(TapRx::new(
        file,
        RxStash::new(pool),
        a.port,
        a.counters,
        segs,
        ifname,
    )))
}

/// The TX queue a secondary process drives.
pub(crate) fn attach_tx(mut a: Attach) -> DriverResult<Box<dyn TxQueueOps>> {
    let (file, ifname, _) = shared_queue(&mut a)?;
    Ok(Box::new(TapTx::new(file, a.counters, ifname)))
}

impl EthDevice for TapDevice {
    fn info(&self) -> DevInfo {
        DevInfo {
            if_index: Some(self.ifindex),
            max_rx_queues: MAX_QUEUES,
            max_tx_queues: MAX_QUEUES,
            max_rx_pktlen: rxtx::MAX_FRAME as u32,
            max_mtu: (rxtx::MAX_FRAME - 18) as u16,
            rx_offload_capa: rx_offload::SCATTER,
            tx_offload_capa: tx_offload::MULTI_SEGS,
            speed_capa: link_speed::SPEED_10G,
            ..DevInfo::new(DRIVER)
        }
    }

    fn configure(&self, nb_rx: u16, nb_tx: u16, conf: &EthConf) -> DriverResult<()> {
        if nb_rx != nb_tx {
            return Err(DriverError::Invalid(format!(
                "net_tap needs as many RX as TX queues, one TAP queue each ({nb_rx} RX, {nb_tx} TX)"
            )));
        }
        if current_netns() != self.netns {
            return Err(DriverError::Invalid(format!(
                "configure from the network namespace {} was created in",
                self.ifname
            )));
        }
        let mut files = Vec::with_capacity(nb_rx as usize);
        for q in 0..nb_rx {
            let (file, _) = tun::open_queue(&self.ifname, false)
                .map_err(|e| self.io_err(&format!("opening queue {q} of"), e))?;
            files.push(file);
        }
        *guard(&self.queues) = files;
        *guard(&self.scatter) = vec![false; nb_rx as usize];
        if let Some(mtu) = conf.mtu {
            self.set_mtu(mtu)?;
        }
        Ok(())
    }

    fn rx_queue_setup(&self, s: RxSetup<'_>) -> DriverResult<Box<dyn RxQueueOps>> {
        let file = self.queue_file(s.queue)?;
        let scatter = (s.eth_conf.rx_offloads | s.conf.offloads) & rx_offload::SCATTER != 0;
        let segs = rx_segs(scatter, s.pool)?;
        if let Some(sc) = guard(&self.scatter).get_mut(s.queue as usize) {
            *sc = scatter;
        }
        Ok(Box::new(TapRx::new(
            file,
            RxStash::new(s.pool.clone()),
            s.port,
            s.counters,
            segs,
            self.ifname.clone(),
        )))
    }

    fn tx_queue_setup(&self, s: TxSetup<'_>) -> DriverResult<Box<dyn TxQueueOps>> {
        let file = self.queue_file(s.queue)?;
        Ok(Box::new(TapTx::new(file, s.counters, self.ifname.clone())))
    }

    fn share_rx_queue(&self, queue: u16) -> DriverResult<SharedQueue> {
        self.share(queue)
    }

    fn share_tx_queue(&self, queue: u16) -> DriverResult<SharedQueue> {
        self.share(queue)
    }

    fn start(&self) -> DriverResult<()> {
        self.netif
            .change_flags(libc::IFF_UP as u32, 0)
            .map_err(|e| self.io_err("bringing up", e))
    }

    fn stop(&self) -> DriverResult<()> {
        match self.netif.change_flags(0, libc::IFF_UP as u32) {
            // A deleted interface is as stopped as it gets.
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(()),
            r => r.map_err(|e| self.io_err("bringing down", e)),
        }
    }

    fn close(&self) -> DriverResult<()> {
        guard(&self.queues).clear();
        // The last queue closed: the kernel deletes the (non-persistent) device.
        guard(&self.keepalive).take();
        log::info!(target: LOG, "{}: TAP interface removed", self.ifname);
        Ok(())
    }

    fn link(&self) -> Link {
        Link {
            speed: 10_000,
            full_duplex: true,
            autoneg: false,
            up: self.netif.is_running(),
        }
    }

    fn mac_addr(&self) -> MacAddr {
        *guard(&self.mac)
    }

    fn set_mac_addr(&self, mac: MacAddr) -> DriverResult<()> {
        self.netif
            .set_mac(mac)
            .map_err(|e| self.io_err("setting the MAC address of", e))?;
        *guard(&self.mac) = mac;
        Ok(())
    }

    fn set_promiscuous(&self, on: bool) -> DriverResult<()> {
        let f = libc::IFF_PROMISC as u32;
        let (set, clear) = if on { (f, 0) } else { (0, f) };
        self.netif
            .change_flags(set, clear)
            .map_err(|e| self.io_err("changing promiscuous mode of", e))
    }

    fn promiscuous(&self) -> bool {
        self.netif
            .flags()
            .is_ok_and(|f| f & libc::IFF_PROMISC as u32 != 0)
    }

    fn set_allmulticast(&self, on: bool) -> DriverResult<()> {
        let f = libc::IFF_ALLMULTI as u32;
        let (set, clear) = if on { (f, 0) } else { (0, f) };
        self.netif
            .change_flags(set, clear)
            .map_err(|e| self.io_err("changing all-multicast mode of", e))
    }

    fn allmulticast(&self) -> bool {
        self.netif
            .flags()
            .is_ok_and(|f| f & libc::IFF_ALLMULTI as u32 != 0)
    }

    fn set_mtu(&self, mtu: u16) -> DriverResult<()> {
        self.netif
            .set_mtu(mtu as u32)
            .map_err(|e| self.io_err(&format!("setting MTU {mtu} on"), e))
    }

    fn mtu(&self) -> u16 {
        self.netif.mtu().map_or(1500, |m| m as u16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Params, String> {
        parse(&Devargs::parse_vdev(s).unwrap())
    }

    #[test]
    fn devargs() {
        let p = args("net_tap0").unwrap();
        assert_eq!((p.iface.as_str(), p.mac), ("dtap%d", MacChoice::Random));
        let p = args("net_tap0,iface=tap7,mac=fixed").unwrap();
        assert_eq!((p.iface.as_str(), p.mac), ("tap7", MacChoice::Fixed));
        let p = args("net_tap0,mac=02:0a:0b:0c:0d:0e").unwrap();
        assert_eq!(
            p.mac,
            MacChoice::Given(MacAddr([2, 0xa, 0xb, 0xc, 0xd, 0xe]))
        );
        for (bad, want) in [
            ("net_tap0,iface=", "invalid value '' for key 'iface'"),
            (
                "net_tap0,iface=averyverylongname0",
                "'averyverylongname0' for key 'iface': 'averyverylongname0' is not a valid interface name: it has 18 bytes",
            ),
            ("net_tap0,iface=a/b", "invalid value 'a/b' for key 'iface'"),
            ("net_tap0,mac=zz", "invalid value 'zz' for key 'mac'"),
            (
                "net_tap0,mac=01:00:5e:00:00:01",
                "invalid value '01:00:5e:00:00:01' for key 'mac'",
            ),
            ("net_tap0,mac=00:00:00:00:00:00", "for key 'mac'"),
        ] {
            let e = args(bad).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }

    #[test]
    fn made_up_addresses() {
        let a = fixed_mac();
        let b = fixed_mac();
        assert_eq!(&a.0[..5], &[0x00, 0x64, 0x74, 0x61, 0x70]);
        assert_eq!(b.0[5], a.0[5] + 1);
        let r = random_mac();
        assert!(r.is_valid_unicast() && r.is_local_admin());
        assert_ne!(random_mac(), random_mac());
    }
}
