//! ARP for IPv4 over Ethernet (`struct rte_arp_hdr`).

use std::net::Ipv4Addr;

use super::{HeaderError, MacAddr, be16, need, put16};

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
        if be16(b, 0) != 1 || be16(b, 2) != 0x0800 || b[4] != 6 || b[5] != 4 {
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
        be16(self.b(), 6)
    }

    /// Sender hardware address.
    pub fn sha(&self) -> MacAddr {
        let b = self.b();
        MacAddr([b[8], b[9], b[10], b[11], b[12], b[13]])
    }

    /// Sender protocol address.
    pub fn spa(&self) -> Ipv4Addr {
        let b = self.b();
        Ipv4Addr::new(b[14], b[15], b[16], b[17])
    }

    /// Target hardware address.
    pub fn tha(&self) -> MacAddr {
        let b = self.b();
        MacAddr([b[18], b[19], b[20], b[21], b[22], b[23]])
    }

    /// Target protocol address.
    pub fn tpa(&self) -> Ipv4Addr {
        let b = self.b();
        Ipv4Addr::new(b[24], b[25], b[26], b[27])
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
        put16(b, 0, 1);
        put16(b, 2, 0x0800);
        b[4] = 6;
        b[5] = 4;
        put16(b, 6, oper);
        b[8..14].copy_from_slice(&sha.0);
        b[14..18].copy_from_slice(&spa.octets());
        b[18..24].copy_from_slice(&tha.0);
        b[24..28].copy_from_slice(&tpa.octets());
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
