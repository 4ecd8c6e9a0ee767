//! # rpdk-ethdev
//!
//! Ports, as DPDK's `rte_ethdev`: found from `--vdev`/`-a` devargs at EAL init, configured
//! (queues, offloads, RSS, MTU), given RX/TX queues with descriptors and a mempool, started and
//! stopped, closed and reset; packets move in bursts through per-queue handles that one lcore
//! owns at a time; statistics and extended statistics by name, link status, MAC address,
//! promiscuous and all-multicast modes, a transmit buffer, and the software stage every port
//! has ([`stage`]): RX/TX callbacks, more queues than the device has, Toeplitz RSS with a
//! redirection table, packet types, hairpin queues, and the [`Classifier`] hook of the flow
//! engine; port events with callbacks ([`event`]).
//!
//! ```no_run
//! use rpdk_ethdev::{EthConf, Port, RxConf, TxConf};
//! use rpdk_mbuf::{MbufBurst, PktmbufPool, MBUF_DEFAULT_BUF_SIZE};
//!
//! // app --vdev net_null0 -l 0
//! let (_eal, _) = rpdk_eal::init(std::env::args())?;
//! let pool = PktmbufPool::create("mbufs", 8191, 256, 0, MBUF_DEFAULT_BUF_SIZE, None)?;
//! let port = Port::get(0)?;
//! port.configure(1, 1, &EthConf::default())?;
//! port.rx_queue_setup(0, 1024, None, &RxConf::default(), &pool)?;
//! port.tx_queue_setup(0, 1024, None, &TxConf::default())?;
//! port.start()?;
//! let (mut rxq, mut txq) = (port.rx_queue(0)?, port.tx_queue(0)?);
//! let mut burst = MbufBurst::<32>::new();
//! for _ in 0..1000 {
//!     rxq.rx_burst(&mut burst);
//!     txq.tx_burst(&mut burst);
//!     burst.clear(); // free what was not sent
//! }
//! println!("{:?}", port.stats());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Drivers register with the EAL by name and devargs, as DPDK's, and implement [`EthDevice`].

pub mod config;
pub mod driver;
pub mod drivers;
mod error;
pub mod event;
pub mod port;
mod queue;
pub mod remote;
pub mod rss;
mod secondary;
mod shared;
pub mod stage;
mod stats;
mod telemetry;
mod txbuffer;

pub use config::{
    DevInfo, EthConf, Link, RssConf, RxConf, RxMqMode, RxQueueInfo, TxConf, TxQueueInfo,
    rx_offload, tx_offload,
};
pub use driver::{EthDevice, RxQueueOps, RxSetup, SharedQueue, TxQueueOps, TxSetup};
pub use error::{DriverError, EthError, Result};
pub use event::{EthEvent, EventCallbackId};
pub use port::{MAX_ETHPORTS, Port, PortId, allocate, port_count, ports, release_by_name};
pub use queue::{RxQueue, TxQueue};
pub use rss::RssHf;
pub use stage::hairpin::{HairpinCap, HairpinConf, HairpinPeer};
pub use stage::{CallbackId, Classifier, RxCallbackFn, TxCallbackFn, Verdict};
pub use stats::{QUEUE_STAT_CNTRS, QueueCounters, QueueSnapshot, Stats};
pub use txbuffer::TxBuffer;
