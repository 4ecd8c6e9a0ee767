//! What a poll-mode driver implements (DPDK's `eth_dev_ops` and burst functions).
//!
//! A driver registers with the EAL's device registry (`rpdk_eal::bus::VDEV_DRIVERS`); its probe
//! creates the device and hands it to [`crate::port::allocate`], which gives it a port id. The
//! port layer checks states, limits and queue ownership; the driver moves packets and counts
//! them, as a DPDK PMD does: its burst functions count what they receive and send, packets and
//! bytes, into the queue's [`QueueCounters`], in the loops where each packet's length is
//! already at hand (the port layer never walks a burst's mbufs to count them).

use std::sync::Arc;

use rpdk_mbuf::net::MacAddr;
use rpdk_mbuf::{BurstView, PktmbufPool};

use crate::config::{DevInfo, EthConf, Link, RxConf, TxConf};
use crate::error::DriverError;
use crate::stats::QueueCounters;

/// The result of a driver operation.
pub type DriverResult<T> = std::result::Result<T, DriverError>;

/// What an RX queue setup gives the driver.
pub struct RxSetup<'a> {
    /// Port id.
    pub port: u16,
    /// Queue id.
    pub queue: u16,
    /// Descriptors asked for (0: the driver's default).
    pub nb_desc: u16,
    /// NUMA node for the queue's memory.
    pub socket: Option<u32>,
    /// Queue settings.
    pub conf: &'a RxConf,
    /// The port's configuration.
    pub eth_conf: &'a EthConf,
    /// Where received mbufs come from.
    pub pool: &'a PktmbufPool,
    /// The queue's counters: the driver counts into them what it receives (packets and
    /// bytes), errors, `nombuf` and `missed` (see [`RxQueueOps::rx_burst`]).
    pub counters: Arc<QueueCounters>,
}

/// What a TX queue setup gives the driver.
pub struct TxSetup<'a> {
    /// Port id.
    pub port: u16,
    /// Queue id.
    pub queue: u16,
    /// Descriptors asked for (0: the driver's default).
    pub nb_desc: u16,
    /// NUMA node for the queue's memory.
    pub socket: Option<u32>,
    /// Queue settings.
    pub conf: &'a TxConf,
    /// The port's configuration.
    pub eth_conf: &'a EthConf,
    /// The queue's counters: the driver counts into them what it sends (packets and bytes) and
    /// errors (see [`TxQueueOps::tx_burst`]).
    pub counters: Arc<QueueCounters>,
}

/// What a secondary process needs to drive a queue the primary set up (see
/// [`EthDevice::share_rx_queue`]): bytes the driver's attach function reads, and descriptors
/// passed over IPC (`SCM_RIGHTS`), which the secondary receives as its own.
#[derive(Debug, Default)]
pub struct SharedQueue {
    /// The driver's parameters (at most 200 bytes).
    pub args: Vec<u8>,
    /// Descriptors: the queue's socket or file.
    pub fds: Vec<std::os::fd::OwnedFd>,
}

/// A receive queue of a driver, used by one thread at a time.
pub trait RxQueueOps: Send {
    /// Receives up to `pkts.room()` packets into `pkts` and returns how many. Never blocks.
    ///
    /// Counts, into the queue's [`QueueCounters`] ([`RxSetup::counters`]): the packets it
    /// returns and their bytes (their `pkt_len`), with [`QueueCounters::add`], once per burst
    /// and from lengths it already has in hand (a driver that cannot know the bytes without a
    /// second pass over the mbufs counts packets only, and says so); frames it received but
    /// could not deliver, as errors; mbuf allocation failures (`nombuf`) and the device's drops
    /// for want of room (`missed`).
    fn rx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize;
}

/// A transmit queue of a driver, used by one thread at a time.
pub trait TxQueueOps: Send {
    /// Sends packets from the front of `pkts`, taking them (freeing each once sent), and
    /// returns how many it took; those it could not send stay in `pkts`, in order. Never blocks.
    ///
    /// Counts, into the queue's [`QueueCounters`] ([`TxSetup::counters`]): the packets it sent
    /// and their bytes (their `pkt_len`), with [`QueueCounters::add`], once per burst and from
    /// lengths it already has in hand (or packets only, as for receive); and errors.
    ///
    /// The one rule for errors (`oerrors`, DPDK's meaning): a packet taken but dropped (a
    /// frame the device refuses, a link that went away) is an error and not a sent packet; the
    /// count it returns is what it took, which may be more than what it counted as sent. A
    /// packet it did not take (no room) is not counted at all: it is still the caller's, who
    /// retries it or frees it and counts it (testpmd's `TX-dropped`).
    fn tx_burst(&mut self, pkts: &mut BurstView<'_>) -> usize;
}

/// The device operations of a port. Control path: every call, getters included, is made with
/// the port's lock held, so a driver's calls never run at the same time as each other. The port
/// layer owns the port's state (configured, started, closed, the configuration, the queues:
/// DPDK's `rte_eth_dev_data`) and checks the order of calls; a driver keeps no copy of it. The
/// link a stopped port reports is down whatever [`link`](EthDevice::link) says.
pub trait EthDevice: Send + Sync {
    /// What the device is and can do.
    fn info(&self) -> DevInfo;

    /// Applies a configuration for `nb_rx` and `nb_tx` queues (checked against [`info`]
    /// already).
    ///
    /// [`info`]: EthDevice::info
    fn configure(&self, nb_rx: u16, nb_tx: u16, conf: &EthConf) -> DriverResult<()>;

    /// Sets up an RX queue.
    fn rx_queue_setup(&self, setup: RxSetup<'_>) -> DriverResult<Box<dyn RxQueueOps>>;

    /// Sets up a TX queue.
    fn tx_queue_setup(&self, setup: TxSetup<'_>) -> DriverResult<Box<dyn TxQueueOps>>;

    /// Starts the device (queues are set up).
    fn start(&self) -> DriverResult<()>;

    /// Stops it; queues stay set up.
    fn stop(&self) -> DriverResult<()>;

    /// Releases what the device holds (kernel devices it made, sockets). The port is stopped
    /// and its queues dropped.
    fn close(&self) -> DriverResult<()>;

    /// Link status now, of a started port.
    fn link(&self) -> Link;

    /// The MAC address.
    fn mac_addr(&self) -> MacAddr;

    /// Changes the MAC address.
    fn set_mac_addr(&self, _mac: MacAddr) -> DriverResult<()> {
        Err(DriverError::NotSupported("setting the MAC address"))
    }

    /// Turns promiscuous mode on or off.
    fn set_promiscuous(&self, _on: bool) -> DriverResult<()> {
        Err(DriverError::NotSupported("promiscuous mode"))
    }

    /// Whether promiscuous mode is on.
    fn promiscuous(&self) -> bool {
        false
    }

    /// Turns all-multicast on or off.
    fn set_allmulticast(&self, _on: bool) -> DriverResult<()> {
        Err(DriverError::NotSupported("all-multicast mode"))
    }

    /// Whether all-multicast is on.
    fn allmulticast(&self) -> bool {
        false
    }

    /// Changes the MTU.
    fn set_mtu(&self, _mtu: u16) -> DriverResult<()> {
        Err(DriverError::NotSupported("setting the MTU"))
    }

    /// The MTU.
    fn mtu(&self) -> u16 {
        1500
    }

    /// Brings counters the device keeps elsewhere (the kernel's, read with a system call) into
    /// the queues' [`QueueCounters`], before the port reads them for [`crate::Port::stats`] and
    /// [`crate::Port::xstats`]. Called with the port's lock held, as every call here, and no
    /// queue lock: a driver doing this writes only counters its burst functions never write.
    fn refresh_stats(&self) {}

    /// The packet types the device writes into received mbufs itself (DPDK's
    /// `dev_supported_ptypes_get`); empty when it does not classify, and then the software
    /// stage parses packets when the application asks (`Port::set_ptypes`).
    fn supported_ptypes(&self) -> Vec<u32> {
        Vec::new()
    }

    /// Applies RSS hash types and key (for a device with its own RSS: `reta_size` not 0 in
    /// [`info`](EthDevice::info); otherwise the software stage does RSS and this is not called).
    fn rss_hash_update(&self, _conf: &crate::config::RssConf) -> DriverResult<()> {
        Err(DriverError::NotSupported("RSS hash update"))
    }

    /// Applies a whole redirection table (for a device with its own RSS, as above).
    fn rss_reta_update(&self, _reta: &[u16]) -> DriverResult<()> {
        Err(DriverError::NotSupported("RSS redirection table update"))
    }

    /// Frames the device itself dropped for want of room, counted in its own registers (a
    /// NIC's missed-packet counter), since the last [`device_stats_reset`]: added to the port's
    /// `imissed`.
    ///
    /// [`device_stats_reset`]: EthDevice::device_stats_reset
    fn device_missed(&self) -> u64 {
        0
    }

    /// Resets what the device counts itself (with the port's statistics).
    fn device_stats_reset(&self) {}

    /// Driver-specific extended statistics, after the generic ones: the counters as they are
    /// (the port layer keeps the baseline of a reset).
    fn xstats(&self) -> Vec<(String, u64)> {
        Vec::new()
    }

    /// What a secondary process needs to drive RX queue `queue`, set up in this (the primary)
    /// process: the driver's attach function in the secondary (by driver name, in the
    /// secondary's own code: no function pointer crosses processes) builds its queue from
    /// it. The port layer drops the primary's queue object for the time the secondary owns
    /// the queue, and sets it up again when the primary takes the queue back (a driver whose
    /// kernel object outlives the queue object, as a packet socket's ring, keeps it and goes on
    /// with it). A driver whose
    /// queues live in this process only (heap rings, device registers mapped here) does not
    /// implement it.
    fn share_rx_queue(&self, _queue: u16) -> DriverResult<SharedQueue> {
        Err(DriverError::NotSupported(
            "driving its queues from a secondary process",
        ))
    }

    /// The same, for TX queue `queue`.
    fn share_tx_queue(&self, _queue: u16) -> DriverResult<SharedQueue> {
        Err(DriverError::NotSupported(
            "driving its queues from a secondary process",
        ))
    }

    /// Whether extended statistic `name` counts (a reset zeroes it) or tells a state (a mode, a
    /// size: a reset leaves it).
    fn xstat_is_counter(&self, _name: &str) -> bool {
        true
    }
}
