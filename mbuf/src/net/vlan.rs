//! The 802.1Q VLAN tag (`struct rte_vlan_hdr`): TCI and the encapsulated Ethernet type.

use super::{HeaderError, get16, need, set16};

/// The tag's fields (IEEE 802.1Q clause 9.6: TCI, then the encapsulated type).
pub(crate) mod field {
    use crate::net::Field;
    pub(crate) const TCI: Field = 0..2;
    pub(crate) const ETHERTYPE: Field = 2..4;
}

/// A view of a 4-byte VLAN tag (what follows the outer Ethernet type 0x8100 or 0x88A8).
#[derive(Clone, Copy, Debug)]
pub struct Vlan<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Vlan<T> {
    /// Tag length.
    pub const LEN: usize = 4;

    /// Wraps `buf`, which must hold the 4-byte tag.
    pub fn new_checked(buf: T) -> Result<Self, HeaderError> {
        need("VLAN", buf.as_ref(), Self::LEN)?;
        Ok(Vlan { buf })
    }

    /// Tag control information: priority (3 bits), drop eligible (1), VLAN id (12).
    pub fn tci(&self) -> u16 {
        get16(self.buf.as_ref(), field::TCI)
    }

    /// VLAN id.
    pub fn vid(&self) -> u16 {
        self.tci() & 0x0fff
    }

    /// Priority code point.
    pub fn pcp(&self) -> u8 {
        (self.tci() >> 13) as u8
    }

    /// Drop eligible indicator.
    pub fn dei(&self) -> bool {
        self.tci() & 0x1000 != 0
    }

    /// The Ethernet type of what follows.
    pub fn ether_type(&self) -> u16 {
        get16(self.buf.as_ref(), field::ETHERTYPE)
    }

    /// What follows the tag.
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[Self::LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Vlan<T> {
    /// Sets the TCI.
    pub fn set_tci(&mut self, tci: u16) {
        set16(self.buf.as_mut(), field::TCI, tci);
    }

    /// Sets the encapsulated Ethernet type.
    pub fn set_ether_type(&mut self, t: u16) {
        set16(self.buf.as_mut(), field::ETHERTYPE, t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        let mut b = [0u8; 4];
        let mut v = Vlan::new_checked(&mut b[..]).unwrap();
        v.set_tci((5 << 13) | 0x1000 | 100);
        v.set_ether_type(0x0800);
        assert_eq!((v.pcp(), v.dei(), v.vid()), (5, true, 100));
        assert_eq!(v.ether_type(), 0x0800);
        assert!(Vlan::new_checked(&b[..3]).is_err());
    }
}
