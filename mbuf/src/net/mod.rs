//! Packet headers: typed, zero-copy views over bytes, checksums, and the packet-type parser.
//!
//! Each view (`Ethernet`, `Vlan`, `Arp`, `Ipv4`, `Ipv6`, `Tcp`, `Udp`, `Icmp`, `Sctp`) wraps any
//! `T: AsRef<[u8]>` (and `AsMut<[u8]>` for setters). `new_checked` verifies that the buffer holds
//! the whole header, and the header's own length fields, before anything is read, so accessors
//! never index out of bounds and never panic; payload accessors are clamped to both the buffer and
//! the header's length fields.
//!
//! ```
//! use rpdk_mbuf::net::{Ethernet, Ipv4, Udp, ether_type, ip_proto};
//!
//! // A UDP datagram built by etherparse, for the example.
//! let mut frame = Vec::new();
//! etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
//!     .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
//!     .udp(1000, 2000)
//!     .write(&mut frame, b"hi")
//!     .unwrap();
//! let eth = Ethernet::new_checked(&frame[..])?;
//! assert_eq!(eth.ether_type(), ether_type::IPV4);
//! let ip = Ipv4::new_checked(eth.payload())?;
//! assert!(ip.verify_checksum());
//! assert_eq!(ip.protocol(), ip_proto::UDP);
//! let udp = Udp::new_checked(ip.payload())?;
//! assert!(udp.verify_checksum_ipv4(ip.src(), ip.dst()));
//! assert_eq!(udp.payload(), b"hi");
//! # Ok::<(), rpdk_mbuf::net::HeaderError>(())
//! ```

mod arp;
pub mod checksum;
mod ethernet;
mod ipv4;
mod ipv6;
mod l4;
mod parse;
mod vlan;

pub use arp::Arp;
pub use ethernet::{Ethernet, MacAddr, ether_type};
pub use ipv4::Ipv4;
pub use ipv6::{Ipv6, skip_ipv6_ext};
pub use l4::{Icmp, Sctp, Tcp, TcpFlags, Udp};
pub use parse::{HdrLens, get_ptype, udp_tunnel_port};
pub use vlan::Vlan;

/// IP protocol numbers (`IPPROTO_*`).
pub mod ip_proto {
    /// IPv6 hop-by-hop options.
    pub const HOPOPTS: u8 = 0;
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// IGMP.
    pub const IGMP: u8 = 2;
    /// IPv4 in IP.
    pub const IPIP: u8 = 4;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPv6 in IP.
    pub const IPV6: u8 = 41;
    /// IPv6 routing header.
    pub const ROUTING: u8 = 43;
    /// IPv6 fragment header.
    pub const FRAGMENT: u8 = 44;
    /// GRE.
    pub const GRE: u8 = 47;
    /// ESP.
    pub const ESP: u8 = 50;
    /// Authentication header.
    pub const AH: u8 = 51;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// IPv6: no next header.
    pub const NONE: u8 = 59;
    /// IPv6 destination options.
    pub const DSTOPTS: u8 = 60;
    /// SCTP.
    pub const SCTP: u8 = 132;
}

/// A header that does not fit its buffer, or whose fields contradict themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The buffer is shorter than the header.
    #[error("{header} header truncated: needs {need} bytes, has {have}")]
    Truncated {
        /// Which header.
        header: &'static str,
        /// Bytes the header needs.
        need: usize,
        /// Bytes there are.
        have: usize,
    },
    /// A field holds a value the header cannot have.
    #[error("malformed {header} header: {reason}")]
    Malformed {
        /// Which header.
        header: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

pub(crate) fn need(header: &'static str, buf: &[u8], len: usize) -> Result<(), HeaderError> {
    if buf.len() < len {
        Err(HeaderError::Truncated {
            header,
            need: len,
            have: buf.len(),
        })
    } else {
        Ok(())
    }
}

/// A field of a header: the range of its bytes (smoltcp's `Field`). Each view names its
/// fields in a `field` module; single-byte fields are plain offsets.
pub(crate) type Field = std::ops::Range<usize>;

/// Reads the big-endian u16 field `f`; the caller has checked the length.
#[inline(always)]
pub(crate) fn get16(b: &[u8], f: Field) -> u16 {
    debug_assert_eq!(f.len(), 2);
    be16(b, f.start)
}

/// Reads the big-endian u32 field `f`; the caller has checked the length.
#[inline(always)]
pub(crate) fn get32(b: &[u8], f: Field) -> u32 {
    debug_assert_eq!(f.len(), 4);
    be32(b, f.start)
}

/// Writes the big-endian u16 field `f`.
#[inline(always)]
pub(crate) fn set16(b: &mut [u8], f: Field, v: u16) {
    debug_assert_eq!(f.len(), 2);
    put16(b, f.start, v);
}

/// Writes the big-endian u32 field `f`.
#[inline(always)]
pub(crate) fn set32(b: &mut [u8], f: Field, v: u32) {
    debug_assert_eq!(f.len(), 4);
    put32(b, f.start, v);
}

/// The bytes of field `f` (an address) as an array; `f` is `N` bytes long.
#[inline(always)]
pub(crate) fn bytes<const N: usize>(b: &[u8], f: Field) -> [u8; N] {
    debug_assert_eq!(f.len(), N);
    let mut a = [0u8; N];
    a.copy_from_slice(&b[f.start..f.start + N]);
    a
}

/// Reads a big-endian u16 at `at`; the caller has checked the length.
#[inline(always)]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Reads a big-endian u32 at `at`; the caller has checked the length.
#[inline(always)]
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[inline(always)]
fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

#[inline(always)]
fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}
