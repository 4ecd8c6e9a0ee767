//! Ethernet: MAC addresses and the Ethernet II header.

use std::fmt;
use std::str::FromStr;

use super::{HeaderError, bytes, get16, need, set16};

/// The header's fields (IEEE 802.3 clause 3.1.1).
pub(crate) mod field {
    use crate::net::Field;
    pub(crate) const DST: Field = 0..6;
    pub(crate) const SRC: Field = 6..12;
    pub(crate) const ETHERTYPE: Field = 12..14;
}

/// Ethernet types (`RTE_ETHER_TYPE_*`).
pub mod ether_type {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// Transparent Ethernet bridging (NVGRE, GENEVE).
    pub const TEB: u16 = 0x6558;
    /// 802.1Q VLAN.
    pub const VLAN: u16 = 0x8100;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
    /// Slow protocols (LACP).
    pub const SLOW: u16 = 0x8809;
    /// PPPoE discovery.
    pub const PPPOE_DISCOVERY: u16 = 0x8863;
    /// PPPoE session.
    pub const PPPOE_SESSION: u16 = 0x8864;
    /// MPLS unicast.
    pub const MPLS: u16 = 0x8847;
    /// MPLS multicast.
    pub const MPLSM: u16 = 0x8848;
    /// QinQ (802.1ad).
    pub const QINQ: u16 = 0x88a8;
    /// LLDP.
    pub const LLDP: u16 = 0x88cc;
    /// IEEE 1588 time sync.
    pub const TIMESYNC: u16 = 0x88f7;
    /// FCoE.
    pub const FCOE: u16 = 0x8906;
    /// NSH.
    pub const NSH: u16 = 0x894f;
}

/// A MAC address (`struct rte_ether_addr`).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    /// `00:00:00:00:00:00`.
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// Whether it is the broadcast address.
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// Whether it is a group (multicast or broadcast) address.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 != 0
    }

    /// Whether it is a unicast address.
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// Whether it is locally administered.
    pub fn is_local_admin(&self) -> bool {
        self.0[0] & 2 != 0
    }

    /// Whether it is a usable unicast address: not zero, not multicast.
    pub fn is_valid_unicast(&self) -> bool {
        *self != Self::ZERO && self.is_unicast()
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MacAddr({self})")
    }
}

impl FromStr for MacAddr {
    type Err = String;

    /// Parses `aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff` (hexadecimal, any case).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}' is not a MAC address (expected XX:XX:XX:XX:XX:XX)");
        let parts: Vec<&str> = s.split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(bad());
        }
        let mut out = [0u8; 6];
        for (o, p) in out.iter_mut().zip(parts) {
            if p.is_empty() || p.len() > 2 {
                return Err(bad());
            }
            *o = u8::from_str_radix(p, 16).map_err(|_| bad())?;
        }
        Ok(MacAddr(out))
    }
}

/// A view of an Ethernet II header and what follows it.
#[derive(Clone, Copy, Debug)]
pub struct Ethernet<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Ethernet<T> {
    /// Header length.
    pub const LEN: usize = 14;

    /// Wraps `buf`, which must hold at least the 14-byte header.
    pub fn new_checked(buf: T) -> Result<Self, HeaderError> {
        need("Ethernet", buf.as_ref(), Self::LEN)?;
        Ok(Ethernet { buf })
    }

    /// The buffer.
    pub fn into_inner(self) -> T {
        self.buf
    }

    /// Destination address.
    pub fn dst(&self) -> MacAddr {
        MacAddr(bytes(self.buf.as_ref(), field::DST))
    }

    /// Source address.
    pub fn src(&self) -> MacAddr {
        MacAddr(bytes(self.buf.as_ref(), field::SRC))
    }

    /// The Ethernet type.
    pub fn ether_type(&self) -> u16 {
        get16(self.buf.as_ref(), field::ETHERTYPE)
    }

    /// What follows the header.
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[Self::LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ethernet<T> {
    /// Sets the destination address.
    pub fn set_dst(&mut self, mac: MacAddr) {
        self.buf.as_mut()[field::DST].copy_from_slice(&mac.0);
    }

    /// Sets the source address.
    pub fn set_src(&mut self, mac: MacAddr) {
        self.buf.as_mut()[field::SRC].copy_from_slice(&mac.0);
    }

    /// Sets the Ethernet type.
    pub fn set_ether_type(&mut self, t: u16) {
        set16(self.buf.as_mut(), field::ETHERTYPE, t);
    }

    /// Swaps source and destination (as testpmd's macswap).
    pub fn swap_addrs(&mut self) {
        let (dst, src) = (self.dst(), self.src());
        self.set_dst(src);
        self.set_src(dst);
    }

    /// What follows the header, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buf.as_mut()[Self::LEN..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs() {
        let m: MacAddr = "02:00:00:00:00:0a".parse().unwrap();
        assert_eq!(m.to_string(), "02:00:00:00:00:0A");
        assert!(m.is_local_admin() && m.is_unicast() && m.is_valid_unicast());
        assert!(MacAddr::BROADCAST.is_broadcast() && MacAddr::BROADCAST.is_multicast());
        assert!(!MacAddr::ZERO.is_valid_unicast());
        assert_eq!("AA-BB-CC-DD-EE-FF".parse::<MacAddr>().unwrap().0[5], 0xff);
        for bad in [
            "",
            "1:2:3:4:5",
            "1:2:3:4:5:6:7",
            "zz:00:00:00:00:00",
            "100:0:0:0:0:0",
            "::::::",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn header_fields() {
        let mut f = [0u8; 20];
        let mut e = Ethernet::new_checked(&mut f[..]).unwrap();
        e.set_dst(MacAddr([1, 2, 3, 4, 5, 6]));
        e.set_src(MacAddr([7, 8, 9, 10, 11, 12]));
        e.set_ether_type(ether_type::IPV6);
        e.swap_addrs();
        assert_eq!(e.dst().0, [7, 8, 9, 10, 11, 12]);
        assert_eq!(e.src().0, [1, 2, 3, 4, 5, 6]);
        assert_eq!(e.payload().len(), 6);
        assert_eq!(&f[12..14], &[0x86, 0xdd]);
        assert!(matches!(
            Ethernet::new_checked(&f[..13]),
            Err(HeaderError::Truncated {
                need: 14,
                have: 13,
                ..
            })
        ));
    }
}
