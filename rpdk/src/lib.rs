//! # rpdk: the Rust Packet Development Kit
//!
//! One dependency for every rpdk crate: each is re-exported under a short name
//! ([`eal`], [`ring`], [`mempool`], [`mbuf`], [`timer`], [`ethdev`], [`flow`], [`pdump`]), and
//! [`prelude`] gathers the types most packet programs use. Depending on the crates one by one
//! gives the same types; this crate adds no code of its own.
//!
//! ```
//! use rpdk::prelude::*;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // As `app -l 0 --no-huge --no-shconf --vdev net_null0`: one lcore, 4 KiB pages, a port
//! // that receives empty packets and drops what it sends.
//! let (_eal, _app_args) = rpdk::eal::init([
//!     "app", "-l", "0", "--no-huge", "--no-shconf", "--vdev", "net_null0",
//! ])?;
//! let pool = PktmbufPool::create("prelude_pool", 1023, 0, 0, MBUF_DEFAULT_BUF_SIZE, None)?;
//! let port = Port::get(0)?;
//! port.configure(1, 1, &EthConf::default())?;
//! port.rx_queue_setup(0, 0, None, &RxConf::default(), &pool)?;
//! port.tx_queue_setup(0, 0, None, &TxConf::default())?;
//! port.start()?;
//!
//! let (mut rxq, mut txq) = (port.rx_queue(0)?, port.tx_queue(0)?);
//! let mut burst = MbufBurst::<32>::new();
//! assert_eq!(rxq.rx_burst(&mut burst), 32);
//! assert_eq!(txq.tx_burst(&mut burst), 32);
//! assert_eq!(port.stats().opackets, 32);
//! # drop((rxq, txq));
//! # port.stop()?;
//! # port.close()?;
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

pub use rpdk_eal as eal;
pub use rpdk_ethdev as ethdev;
pub use rpdk_flow as flow;
pub use rpdk_mbuf as mbuf;
pub use rpdk_mempool as mempool;
pub use rpdk_pdump as pdump;
pub use rpdk_ring as ring;
pub use rpdk_timer as timer;

/// The types most packet programs use: the EAL, ports and their queues and configurations,
/// mbufs and their pools, rings, mempools and timers.
pub mod prelude {
    pub use rpdk_eal::{CallMain, Eal, EalOptions};
    pub use rpdk_ethdev::{
        EthConf, EthError, Port, PortId, RssConf, RssHf, RxConf, RxMqMode, RxQueue, TxBuffer,
        TxConf, TxQueue,
    };
    pub use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, Mbuf, MbufBurst, MbufRing, OlFlags, PktmbufPool};
    pub use rpdk_mempool::{Mempool, MempoolBuilder};
    pub use rpdk_ring::{Ring, RingBuilder};
    pub use rpdk_timer::{Timer, TimerType};
}
