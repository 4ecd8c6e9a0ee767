//! # rpdk-mbuf
//!
//! The packet buffer, as DPDK's `rte_mbuf`: a 128-byte header in two cache lines with DPDK's
//! fields at DPDK's offsets ([`MbufHeader`]), pools of mbufs built on rpdk-mempool
//! ([`PktmbufPool`]), and an owned handle ([`Mbuf`]) that returns to its pool when dropped:
//! data access, headroom and tailroom, prepend/append/adj/trim, segment chains, clones sharing
//! data, external buffers, copies. Around it: offload flags ([`OlFlags`]) and packet types
//! ([`PacketType`]) with DPDK's values and names, dynamic fields and flags ([`DynField`],
//! [`DynFlag`]), a burst container for rx/tx ([`MbufBurst`]), rings that hand mbufs between
//! lcores with their ownership ([`MbufRing`], on rpdk-ring), and typed views over headers,
//! checksums and a packet-type parser ([`net`]).
//!
//! ```
//! use rpdk_mbuf::{MbufBurst, PktmbufPool, MBUF_DEFAULT_BUF_SIZE};
//!
//! let (_eal, _) = rpdk_eal::init(["app", "--no-huge", "--no-shconf", "-l", "0"])?;
//! let pool = PktmbufPool::create("pkts", 2048, 256, 0, MBUF_DEFAULT_BUF_SIZE, None)?;
//! let mut burst = MbufBurst::<32>::new();
//! pool.alloc_bulk(&mut burst, 32)?;
//! for m in &mut burst {
//!     m.append(64)?.fill(0xab);
//! }
//! assert!(burst.iter().all(|m| m.pkt_len() == 64));
//! drop(burst); // all 32 back, in bulk
//! pool.audit()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! And the packet-level part on its own:
//!
//! ```
//! use rpdk_mbuf::{PacketType, net};
//!
//! let mut frame = Vec::new();
//! etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
//!     .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
//!     .tcp(1000, 80, 1, 4096)
//!     .write(&mut frame, b"payload")
//!     .unwrap();
//! let (ptype, lens) = net::get_ptype(&frame, PacketType::ALL_MASK);
//! assert_eq!(ptype.to_string(), "L2_ETHER L3_IPV4 L4_TCP");
//! assert_eq!((lens.l2_len, lens.l3_len, lens.l4_len), (14, 20, 20));
//! ```
//!
//! `etherparse` is used in the tests to build and cross-check packets; the parser and the views
//! are hand-written so that the per-packet path allocates nothing and never reads past the data.

mod burst;
pub mod dynfield;
mod external;
mod header;
mod mbuf;
mod mbuf_ring;
pub mod net;
mod ol_flags;
mod pool;
mod ptype;

pub use burst::{BurstView, DEFAULT_BURST, MbufBurst};
pub use dynfield::{DynError, DynField, DynFlag};
pub use external::ExternalBuffer;
pub use header::{
    MBUF_DEFAULT_BUF_SIZE, MBUF_DEFAULT_DATAROOM, MBUF_HEADER_SIZE, MBUF_PORT_INVALID, MbufHeader,
    PKTMBUF_HEADROOM,
};
pub use mbuf::{Mbuf, MbufError, Segment};
pub use mbuf_ring::{MbufConsumer, MbufProducer, MbufRing, RingError};
pub use ol_flags::OlFlags;
pub use pool::{PktmbufPool, PoolError, best_mempool_ops};
pub use ptype::PacketType;
