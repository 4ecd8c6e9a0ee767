//! ARP for IPv4 over Ethernet (`struct rte_arp_hdr`).

use std::net::Ipv4Addr;

use super::{HeaderError, MacAddr, bytes, get16, need, set16};

/// The packet's fields (RFC 826, for 6-byte hardware and 4-byte protocol addresses).
pub(crate) mod field {
    use crate::net::Field;
    pub(crate) const HTYPE: Field = 0..2;
    pub(crate) const PTYPE: Field = 2..4;
    pub(crate) const HLEN: usize = 4;
    pub(crate) const PLEN: usize = 5;
    pub(crate) const OPER: Field = 6..8;
    pub(crate) const SHA: Field = 8..14;
    pub(crate) const SPA: Field = 14..18;
    pub(crate) const THA: Field = 18..24;
    pub(crate) const TPA: Field = 24..28;
}

/// Hardware type: Ethernet.
const HTYPE_ETHERNET: u16 = 1;
/// Protocol type: IPv4.
const PTYPE_IPV4: u16 = 0x0800;

/// A view of a 28-byte ARP packet for IPv4 over Ethernet.
#[derive(Clone, Copy, Debug)]
pub struct Arp<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Arp<T> {
    /// Length of an ARP packet for IPv4 over Ethernet.
    pub const LEN: usize = 28;
    /// Operation: request.
    pub const REQUEST: u16 = 1;
    /// Operation: reply.
    pub const REPLY: u16 = 2;

    /// Wraps `buf`: 28 bytes of Ethernet (1) / IPv4 (0x0800) ARP with 6- and 4-byte addresses.
    pub fn new_checked(buf: T) -> Result<Self, HeaderError> {
        let b = buf.as_ref();
        need("ARP", b, Self::LEN)?;
        if get16(b, field::HTYPE) != HTYPE_ETHERNET
            || get16(b, field::PTYPE) != PTYPE_IPV4
            || b[field::HLEN] != 6
            || b[field::PLEN] != 4
        {
            return Err(HeaderError::Malformed {
                header: "ARP",
                reason: "not IPv4 over Ethernet",
            });
        }
        Ok(Arp { buf })
    }

    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// Operation (1 request, 2 reply).
    pub fn oper(&self) -> u16 {
        get16(self.b(), field::OPER)
    }

    /// Sender hardware address.
    pub fn sha(&self) -> MacAddr {
        MacAddr(bytes(self.b(), field::SHA))
    }

    /// Sender protocol address.
    pub fn spa(&self) -> Ipv4Addr {
        Ipv4Addr::from(bytes::<4>(self.b(), field::SPA))
    }

    /// Target hardware address.
    pub fn tha(&self) -> MacAddr {
        MacAddr(bytes(self.b(), field::THA))
    }

    /// Target protocol address.
    pub fn tpa(&self) -> Ipv4Addr {
        Ipv4Addr::from(bytes::<4>(self.b(), field::TPA))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Arp<T> {
    /// Writes a whole IPv4-over-Ethernet ARP packet into `buf` (at least 28 bytes).
    pub fn build(
        mut buf: T,
        oper: u16,
        sha: MacAddr,
        spa: Ipv4Addr,
        tha: MacAddr,
        tpa: Ipv4Addr,
    ) -> Result<Self, HeaderError> {
        let b = buf.as_mut();
        need("ARP", b, Self::LEN)?;
        set16(b, field::HTYPE, HTYPE_ETHERNET);
        set16(b, field::PTYPE, PTYPE_IPV4);
        b[field::HLEN] = 6;
        b[field::PLEN] = 4;
        set16(b, field::OPER, oper);
        b[field::SHA].copy_from_slice(&sha.0);
        b[field::SPA].copy_from_slice(&spa.octets());
        b[field::THA].copy_from_slice(&tha.0);
        b[field::TPA].copy_from_slice(&tpa.octets());
        Ok(Arp { buf })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_and_read() {
        let mut b = [0u8; 28];
        let a = Arp::build(
            &mut b[..],
            Arp::<&[u8]>::REQUEST,
            MacAddr([2, 0, 0, 0, 0, 1]),
            Ipv4Addr::new(10, 0, 0, 1),
            MacAddr::ZERO,
            Ipv4Addr::new(10, 0, 0, 2),
        )
        .unwrap();
        assert_eq!(
            (a.oper(), a.spa(), a.tpa()),
            (1, Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2))
        );
        let r = Arp::new_checked(&b[..]).unwrap();
        assert_eq!(r.sha(), MacAddr([2, 0, 0, 0, 0, 1]));
        assert_eq!(r.tha(), MacAddr::ZERO);
        let mut bad = b;
        bad[5] = 16;
        assert!(Arp::new_checked(&bad[..]).is_err());
        assert!(Arp::new_checked(&b[..27]).is_err());
    }
}
