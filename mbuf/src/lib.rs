//! # rpdk-mbuf
//!
//! The packet buffer. This part holds what describes a packet's bytes: DPDK's offload flags
//! ([`OlFlags`]) and packet types ([`PacketType`]) with their values and names, typed zero-copy
//! views over headers, checksums and the software packet-type parser ([`net`]).
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

pub mod net;
mod ol_flags;
mod ptype;

pub use ol_flags::OlFlags;
pub use ptype::PacketType;
