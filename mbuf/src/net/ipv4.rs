//! The IPv4 header (`struct rte_ipv4_hdr`), options included.

use std::net::Ipv4Addr;

use super::{HeaderError, bytes, checksum, get16, need, set16};

/// The header's fields (RFC 791 section 3.1).
pub(crate) mod field {
    use crate::net::Field;
    /// Version (high nibble) and header length in 32-bit words (low nibble).
    pub(crate) const VER_IHL: usize = 0;
    pub(crate) const TOS: usize = 1;
    pub(crate) const TOTAL_LEN: Field = 2..4;
    pub(crate) const ID: Field = 4..6;
    /// Flags (DF, MF) and fragment offset in 8-byte units.
    pub(crate) const FRAG: Field = 6..8;
    pub(crate) const TTL: usize = 8;
    pub(crate) const PROTOCOL: usize = 9;
    pub(crate) const CHECKSUM: Field = 10..12;
    pub(crate) const SRC: Field = 12..16;
    pub(crate) const DST: Field = 16..20;
}

/// A view of an IPv4 header and its payload.
#[derive(Clone, Copy, Debug)]
pub struct Ipv4<T> {
    buf: T,
}

const MF: u16 = 0x2000;
const DF: u16 = 0x4000;
const OFFSET_MASK: u16 = 0x1fff;

impl<T: AsRef<[u8]>> Ipv4<T> {
    /// Length of a header without options.
    pub const MIN_LEN: usize = 20;

    /// Wraps `buf`: it must hold a version 4 header whose IHL is at least 5 and whose options
    /// fit the buffer.
    pub fn new_checked(buf: T) -> Result<Self, HeaderError> {
        let b = buf.as_ref();
        need("IPv4", b, Self::MIN_LEN)?;
        if b[field::VER_IHL] >> 4 != 4 {
            return Err(HeaderError::Malformed {
                header: "IPv4",
                reason: "version is not 4",
            });
        }
        let hl = ((b[field::VER_IHL] & 0xf) as usize) * 4;
        if hl < Self::MIN_LEN {
            return Err(HeaderError::Malformed {
                header: "IPv4",
                reason: "IHL below 5",
            });
        }
        need("IPv4", b, hl)?;
        Ok(Ipv4 { buf })
    }

    /// The buffer.
    pub fn into_inner(self) -> T {
        self.buf
    }

    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// Header length in bytes (IHL x 4).
    pub fn header_len(&self) -> usize {
        ((self.b()[field::VER_IHL] & 0xf) as usize) * 4
    }

    /// Type of service (DSCP and ECN).
    pub fn tos(&self) -> u8 {
        self.b()[field::TOS]
    }

    /// Total length: header and payload.
    pub fn total_len(&self) -> u16 {
        get16(self.b(), field::TOTAL_LEN)
    }

    /// Identification.
    pub fn id(&self) -> u16 {
        get16(self.b(), field::ID)
    }

    /// Don't fragment.
    pub fn dont_frag(&self) -> bool {
        get16(self.b(), field::FRAG) & DF != 0
    }

    /// More fragments.
    pub fn more_frags(&self) -> bool {
        get16(self.b(), field::FRAG) & MF != 0
    }

    /// Fragment offset, in bytes.
    pub fn frag_offset(&self) -> u16 {
        (get16(self.b(), field::FRAG) & OFFSET_MASK) * 8
    }

    /// Whether it is a fragment (MF set or an offset).
    pub fn is_fragment(&self) -> bool {
        get16(self.b(), field::FRAG) & (MF | OFFSET_MASK) != 0
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.b()[field::TTL]
    }

    /// The payload's protocol.
    pub fn protocol(&self) -> u8 {
        self.b()[field::PROTOCOL]
    }

    /// The header checksum field.
    pub fn checksum(&self) -> u16 {
        get16(self.b(), field::CHECKSUM)
    }

    /// Source address.
    pub fn src(&self) -> Ipv4Addr {
        Ipv4Addr::from(bytes::<4>(self.b(), field::SRC))
    }

    /// Destination address.
    pub fn dst(&self) -> Ipv4Addr {
        Ipv4Addr::from(bytes::<4>(self.b(), field::DST))
    }

    /// The options.
    pub fn options(&self) -> &[u8] {
        &self.b()[Self::MIN_LEN..self.header_len()]
    }

    /// The header, options included.
    pub fn header(&self) -> &[u8] {
        &self.b()[..self.header_len()]
    }

    /// The payload: after the header, up to the total length or the end of the buffer,
    /// whichever comes first (Ethernet padding is not payload).
    pub fn payload(&self) -> &[u8] {
        let end = (self.total_len() as usize)
            .min(self.b().len())
            .max(self.header_len());
        &self.b()[self.header_len()..end]
    }

    /// Whether the header checksum is right.
    pub fn verify_checksum(&self) -> bool {
        checksum::sum(self.header()) == 0xffff
    }

    /// The pseudo-header sum for the L4 checksum of its payload.
    pub fn pseudo_sum(&self, l4_len: u16) -> u16 {
        checksum::ipv4_pseudo(
            self.src().octets(),
            self.dst().octets(),
            self.protocol(),
            l4_len,
        )
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buf.as_mut()
    }

    /// Sets the type of service.
    pub fn set_tos(&mut self, v: u8) {
        self.bm()[field::TOS] = v;
    }

    /// Sets the total length.
    pub fn set_total_len(&mut self, v: u16) {
        set16(self.bm(), field::TOTAL_LEN, v);
    }

    /// Sets the identification.
    pub fn set_id(&mut self, v: u16) {
        set16(self.bm(), field::ID, v);
    }

    /// Sets the flags and fragment offset word (DF, MF, offset in 8-byte units).
    pub fn set_frag_word(&mut self, v: u16) {
        set16(self.bm(), field::FRAG, v);
    }

    /// Sets the time to live.
    pub fn set_ttl(&mut self, v: u8) {
        self.bm()[field::TTL] = v;
    }

    /// Sets the protocol.
    pub fn set_protocol(&mut self, v: u8) {
        self.bm()[field::PROTOCOL] = v;
    }

    /// Sets the source address.
    pub fn set_src(&mut self, a: Ipv4Addr) {
        self.bm()[field::SRC].copy_from_slice(&a.octets());
    }

    /// Sets the destination address.
    pub fn set_dst(&mut self, a: Ipv4Addr) {
        self.bm()[field::DST].copy_from_slice(&a.octets());
    }

    /// Computes and stores the header checksum.
    pub fn fill_checksum(&mut self) {
        let c = checksum::ipv4_header(self.header());
        set16(self.bm(), field::CHECKSUM, c);
    }

    /// The payload, writable (bounded as [`payload`](Self::payload)).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        let end = (self.total_len() as usize).min(self.b().len()).max(hl);
        &mut self.bm()[hl..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_checksum() {
        let mut b = [0u8; 28];
        b[0] = 0x45;
        let mut ip = Ipv4::new_checked(&mut b[..]).unwrap();
        ip.set_total_len(28);
        ip.set_ttl(64);
        ip.set_protocol(17);
        ip.set_frag_word(0x4000);
        ip.set_src(Ipv4Addr::new(10, 0, 0, 1));
        ip.set_dst(Ipv4Addr::new(10, 0, 0, 2));
        ip.fill_checksum();
        assert!(ip.verify_checksum());
        assert!(ip.dont_frag() && !ip.more_frags() && !ip.is_fragment());
        assert_eq!(ip.payload().len(), 8);
        ip.set_ttl(63);
        assert!(!ip.verify_checksum());
    }

    #[test]
    fn bad_headers_are_refused() {
        let mut b = [0u8; 24];
        b[0] = 0x65;
        assert!(matches!(
            Ipv4::new_checked(&b[..]),
            Err(HeaderError::Malformed {
                reason: "version is not 4",
                ..
            })
        ));
        b[0] = 0x44;
        assert!(matches!(
            Ipv4::new_checked(&b[..]),
            Err(HeaderError::Malformed { .. })
        ));
        b[0] = 0x47; // 28-byte header in 24 bytes
        assert!(matches!(
            Ipv4::new_checked(&b[..]),
            Err(HeaderError::Truncated {
                need: 28,
                have: 24,
                ..
            })
        ));
        assert!(Ipv4::new_checked(&b[..19]).is_err());
    }

    #[test]
    fn payload_is_clamped() {
        let mut b = [0u8; 40];
        b[0] = 0x45;
        b[2..4].copy_from_slice(&30u16.to_be_bytes());
        assert_eq!(
            Ipv4::new_checked(&b[..]).unwrap().payload().len(),
            10,
            "padding excluded"
        );
        b[2..4].copy_from_slice(&1000u16.to_be_bytes());
        assert_eq!(
            Ipv4::new_checked(&b[..]).unwrap().payload().len(),
            20,
            "buffer end"
        );
        b[2..4].copy_from_slice(&3u16.to_be_bytes());
        assert_eq!(
            Ipv4::new_checked(&b[..]).unwrap().payload().len(),
            0,
            "bogus total length"
        );
    }
}
