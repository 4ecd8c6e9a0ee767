//! L4 headers: TCP, UDP, ICMP (v4 and v6) and SCTP, with their checksums.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{HeaderError, checksum, get16, get32, ip_proto, need, set16, set32};

/// The fields of each header, as RFC 793 (TCP), RFC 768 (UDP), RFC 792 / RFC 4443 (ICMP) and
/// RFC 9260 (SCTP's common header) lay them out.
pub(crate) mod field {
    /// TCP.
    pub(crate) mod tcp {
        use crate::net::Field;
        pub(crate) const SRC_PORT: Field = 0..2;
        pub(crate) const DST_PORT: Field = 2..4;
        pub(crate) const SEQ: Field = 4..8;
        pub(crate) const ACK: Field = 8..12;
        /// Data offset (header length in 32-bit words) in the high nibble.
        pub(crate) const DATA_OFF: usize = 12;
        pub(crate) const FLAGS: usize = 13;
        pub(crate) const WINDOW: Field = 14..16;
        pub(crate) const CHECKSUM: Field = 16..18;
        pub(crate) const URGENT: Field = 18..20;
    }
    /// UDP.
    pub(crate) mod udp {
        use crate::net::Field;
        pub(crate) const SRC_PORT: Field = 0..2;
        pub(crate) const DST_PORT: Field = 2..4;
        pub(crate) const LENGTH: Field = 4..6;
        pub(crate) const CHECKSUM: Field = 6..8;
    }
    /// ICMP and ICMPv6 (echo messages for the identifier and sequence number).
    pub(crate) mod icmp {
        use crate::net::Field;
        pub(crate) const TYPE: usize = 0;
        pub(crate) const CODE: usize = 1;
        pub(crate) const CHECKSUM: Field = 2..4;
        pub(crate) const IDENT: Field = 4..6;
        pub(crate) const SEQ: Field = 6..8;
    }
    /// SCTP's common header.
    pub(crate) mod sctp {
        use crate::net::Field;
        pub(crate) const SRC_PORT: Field = 0..2;
        pub(crate) const DST_PORT: Field = 2..4;
        pub(crate) const TAG: Field = 4..8;
        pub(crate) const CHECKSUM: Field = 8..12;
    }
}

fn pseudo_v4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: usize) -> u16 {
    checksum::ipv4_pseudo(src.octets(), dst.octets(), proto, len as u16)
}

fn pseudo_v6(src: Ipv6Addr, dst: Ipv6Addr, proto: u8, len: usize) -> u16 {
    checksum::ipv6_pseudo(&src.octets(), &dst.octets(), proto, len as u32)
}

/// TCP flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// URG.
    pub const URG: u8 = 0x20;
    /// ECE.
    pub const ECE: u8 = 0x40;
    /// CWR.
    pub const CWR: u8 = 0x80;

    /// Whether all of `bits` are set.
    pub fn has(self, bits: u8) -> bool {
        self.0 & bits == bits
    }
}

/// A view of a TCP segment (`struct rte_tcp_hdr` and what follows).
#[derive(Clone, Copy, Debug)]
pub struct Tcp<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Tcp<T> {
    /// Length of a header without options.
    pub const MIN_LEN: usize = 20;

    /// Wraps `buf`: it must hold the header, options included, with a data offset of at least 5.
    pub fn new_checked(buf: T) -> Result<Self, HeaderError> {
        let b = buf.as_ref();
        need("TCP", b, Self::MIN_LEN)?;
        let hl = ((b[field::tcp::DATA_OFF] >> 4) as usize) * 4;
        if hl < Self::MIN_LEN {
            return Err(HeaderError::Malformed {
                header: "TCP",
                reason: "data offset below 5",
            });
        }
        need("TCP", b, hl)?;
        Ok(Tcp { buf })
    }

    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        get16(self.b(), field::tcp::SRC_PORT)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        get16(self.b(), field::tcp::DST_PORT)
    }
    /// Sequence number.
    pub fn seq(&self) -> u32 {
        get32(self.b(), field::tcp::SEQ)
    }
    /// Acknowledgement number.
    pub fn ack(&self) -> u32 {
        get32(self.b(), field::tcp::ACK)
    }
    /// Header length in bytes (data offset x 4).
    pub fn header_len(&self) -> usize {
        ((self.b()[field::tcp::DATA_OFF] >> 4) as usize) * 4
    }
    /// Flags.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.b()[field::tcp::FLAGS])
    }
    /// Receive window.
    pub fn window(&self) -> u16 {
        get16(self.b(), field::tcp::WINDOW)
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        get16(self.b(), field::tcp::CHECKSUM)
    }
    /// Urgent pointer.
    pub fn urgent(&self) -> u16 {
        get16(self.b(), field::tcp::URGENT)
    }
    /// Options.
    pub fn options(&self) -> &[u8] {
        &self.b()[Self::MIN_LEN..self.header_len()]
    }
    /// The data after the header.
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..]
    }
    /// Whether the checksum is right for this segment (the whole buffer) over IPv4.
    pub fn verify_checksum_ipv4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        checksum::l4_ok(pseudo_v4(src, dst, ip_proto::TCP, self.b().len()), self.b())
    }
    /// Whether the checksum is right for this segment over IPv6.
    pub fn verify_checksum_ipv6(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        checksum::l4_ok(pseudo_v6(src, dst, ip_proto::TCP, self.b().len()), self.b())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Tcp<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, v: u16) {
        set16(self.buf.as_mut(), field::tcp::SRC_PORT, v);
    }
    /// Sets the destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        set16(self.buf.as_mut(), field::tcp::DST_PORT, v);
    }
    /// Sets the sequence number.
    pub fn set_seq(&mut self, v: u32) {
        set32(self.buf.as_mut(), field::tcp::SEQ, v);
    }
    /// Sets the acknowledgement number.
    pub fn set_ack(&mut self, v: u32) {
        set32(self.buf.as_mut(), field::tcp::ACK, v);
    }
    /// Sets the flags.
    pub fn set_flags(&mut self, f: TcpFlags) {
        self.buf.as_mut()[field::tcp::FLAGS] = f.0;
    }
    /// Sets the window.
    pub fn set_window(&mut self, v: u16) {
        set16(self.buf.as_mut(), field::tcp::WINDOW, v);
    }
    /// Computes and stores the checksum over IPv4 (the buffer is the whole segment).
    pub fn fill_checksum_ipv4(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        let p = pseudo_v4(src, dst, ip_proto::TCP, self.b().len());
        let c = checksum::l4(p, self.b(), field::tcp::CHECKSUM.start);
        set16(self.buf.as_mut(), field::tcp::CHECKSUM, c);
    }
    /// Computes and stores the checksum over IPv6.
    pub fn fill_checksum_ipv6(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        let p = pseudo_v6(src, dst, ip_proto::TCP, self.b().len());
        let c = checksum::l4(p, self.b(), field::tcp::CHECKSUM.start);
        set16(self.buf.as_mut(), field::tcp::CHECKSUM, c);
    }
}

/// A view of a UDP datagram (`struct rte_udp_hdr` and what follows).
#[derive(Clone, Copy, Debug)]
pub struct Udp<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Udp<T> {
    /// Header length.
    pub const LEN: usize = 8;

    /// Wraps `buf`, which must hold the 8-byte header.
    pub fn new_checked(buf: T) -> Result<Self, HeaderError> {
        need("UDP", buf.as_ref(), Self::LEN)?;
        Ok(Udp { buf })
    }

    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        get16(self.b(), field::udp::SRC_PORT)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        get16(self.b(), field::udp::DST_PORT)
    }
    /// Length field: header and payload.
    pub fn len(&self) -> u16 {
        get16(self.b(), field::udp::LENGTH)
    }
    /// Whether the length field says there is no payload.
    pub fn is_empty(&self) -> bool {
        self.len() as usize <= Self::LEN
    }
    /// Checksum field (0: none, over IPv4).
    pub fn checksum(&self) -> u16 {
        get16(self.b(), field::udp::CHECKSUM)
    }
    /// The datagram as the length field bounds it (clamped to the buffer).
    fn datagram(&self) -> &[u8] {
        let end = (self.len() as usize).clamp(Self::LEN, self.b().len());
        &self.b()[..end]
    }
    /// The payload, up to the length field or the end of the buffer.
    pub fn payload(&self) -> &[u8] {
        &self.datagram()[Self::LEN..]
    }
    /// Whether the checksum is right over IPv4 (a zero checksum means none, and passes).
    pub fn verify_checksum_ipv4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let d = self.datagram();
        self.checksum() == 0 || checksum::l4_ok(pseudo_v4(src, dst, ip_proto::UDP, d.len()), d)
    }
    /// Whether the checksum is right over IPv6 (where it is mandatory).
    pub fn verify_checksum_ipv6(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        let d = self.datagram();
        self.checksum() != 0 && checksum::l4_ok(pseudo_v6(src, dst, ip_proto::UDP, d.len()), d)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Udp<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, v: u16) {
        set16(self.buf.as_mut(), field::udp::SRC_PORT, v);
    }
    /// Sets the destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        set16(self.buf.as_mut(), field::udp::DST_PORT, v);
    }
    /// Sets the length field.
    pub fn set_len(&mut self, v: u16) {
        set16(self.buf.as_mut(), field::udp::LENGTH, v);
    }
    /// Computes and stores the checksum over IPv4.
    pub fn fill_checksum_ipv4(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        let d = self.datagram();
        let c = checksum::udp_value(checksum::l4(
            pseudo_v4(src, dst, ip_proto::UDP, d.len()),
            d,
            field::udp::CHECKSUM.start,
        ));
        set16(self.buf.as_mut(), field::udp::CHECKSUM, c);
    }
    /// Computes and stores the checksum over IPv6.
    pub fn fill_checksum_ipv6(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        let d = self.datagram();
        let c = checksum::udp_value(checksum::l4(
            pseudo_v6(src, dst, ip_proto::UDP, d.len()),
            d,
            field::udp::CHECKSUM.start,
        ));
        set16(self.buf.as_mut(), field::udp::CHECKSUM, c);
    }
}

/// A view of an ICMP or ICMPv6 message: type, code, checksum and the rest.
#[derive(Clone, Copy, Debug)]
pub struct Icmp<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Icmp<T> {
    /// Length of the header that every message has (type, code, checksum, 4 more bytes).
    pub const LEN: usize = 8;
    /// ICMP echo reply.
    pub const ECHO_REPLY: u8 = 0;
    /// ICMP echo request.
    pub const ECHO_REQUEST: u8 = 8;
    /// ICMPv6 echo request.
    pub const V6_ECHO_REQUEST: u8 = 128;
    /// ICMPv6 echo reply.
    pub const V6_ECHO_REPLY: u8 = 129;

    /// Wraps `buf`, which must hold 8 bytes.
    pub fn new_checked(buf: T) -> Result<Self, HeaderError> {
        need("ICMP", buf.as_ref(), Self::LEN)?;
        Ok(Icmp { buf })
    }

    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// Message type.
    pub fn msg_type(&self) -> u8 {
        self.b()[field::icmp::TYPE]
    }
    /// Code.
    pub fn code(&self) -> u8 {
        self.b()[field::icmp::CODE]
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        get16(self.b(), field::icmp::CHECKSUM)
    }
    /// Identifier (echo messages).
    pub fn ident(&self) -> u16 {
        get16(self.b(), field::icmp::IDENT)
    }
    /// Sequence number (echo messages).
    pub fn seq(&self) -> u16 {
        get16(self.b(), field::icmp::SEQ)
    }
    /// What follows the 8 bytes.
    pub fn payload(&self) -> &[u8] {
        &self.b()[Self::LEN..]
    }
    /// Whether an ICMP (v4) checksum is right: the whole buffer, no pseudo-header.
    pub fn verify_checksum(&self) -> bool {
        checksum::l4_ok(0, self.b())
    }
    /// Whether an ICMPv6 checksum is right (with the IPv6 pseudo-header).
    pub fn verify_checksum_v6(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        checksum::l4_ok(
            pseudo_v6(src, dst, ip_proto::ICMPV6, self.b().len()),
            self.b(),
        )
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmp<T> {
    /// Sets the type.
    pub fn set_msg_type(&mut self, v: u8) {
        self.buf.as_mut()[field::icmp::TYPE] = v;
    }
    /// Sets the code.
    pub fn set_code(&mut self, v: u8) {
        self.buf.as_mut()[field::icmp::CODE] = v;
    }
    /// Sets the identifier.
    pub fn set_ident(&mut self, v: u16) {
        set16(self.buf.as_mut(), field::icmp::IDENT, v);
    }
    /// Sets the sequence number.
    pub fn set_seq(&mut self, v: u16) {
        set16(self.buf.as_mut(), field::icmp::SEQ, v);
    }
    /// Computes and stores an ICMP (v4) checksum.
    pub fn fill_checksum(&mut self) {
        let c = checksum::l4(0, self.b(), field::icmp::CHECKSUM.start);
        set16(self.buf.as_mut(), field::icmp::CHECKSUM, c);
    }
    /// Computes and stores an ICMPv6 checksum.
    pub fn fill_checksum_v6(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        let p = pseudo_v6(src, dst, ip_proto::ICMPV6, self.b().len());
        let c = checksum::l4(p, self.b(), field::icmp::CHECKSUM.start);
        set16(self.buf.as_mut(), field::icmp::CHECKSUM, c);
    }
}

/// A view of an SCTP common header (`struct rte_sctp_hdr`).
#[derive(Clone, Copy, Debug)]
pub struct Sctp<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Sctp<T> {
    /// Header length.
    pub const LEN: usize = 12;

    /// Wraps `buf`, which must hold 12 bytes.
    pub fn new_checked(buf: T) -> Result<Self, HeaderError> {
        need("SCTP", buf.as_ref(), Self::LEN)?;
        Ok(Sctp { buf })
    }
    /// Source port.
    pub fn src_port(&self) -> u16 {
        get16(self.buf.as_ref(), field::sctp::SRC_PORT)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        get16(self.buf.as_ref(), field::sctp::DST_PORT)
    }
    /// Verification tag.
    pub fn tag(&self) -> u32 {
        get32(self.buf.as_ref(), field::sctp::TAG)
    }
    /// Checksum field (CRC32c).
    pub fn checksum(&self) -> u32 {
        get32(self.buf.as_ref(), field::sctp::CHECKSUM)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_checksums_both_families() {
        let mut seg = [0u8; 24];
        seg[12] = 5 << 4;
        seg[20..].copy_from_slice(b"data");
        let mut t = Tcp::new_checked(&mut seg[..]).unwrap();
        t.set_src_port(1234);
        t.set_dst_port(80);
        t.set_flags(TcpFlags(TcpFlags::SYN | TcpFlags::ACK));
        let (s4, d4) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        t.fill_checksum_ipv4(s4, d4);
        assert!(t.verify_checksum_ipv4(s4, d4));
        assert!(!t.verify_checksum_ipv4(s4, Ipv4Addr::new(10, 0, 0, 3)));
        let (s6, d6): (Ipv6Addr, Ipv6Addr) = (
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        );
        t.fill_checksum_ipv6(s6, d6);
        assert!(t.verify_checksum_ipv6(s6, d6));
        assert!(t.flags().has(TcpFlags::SYN) && !t.flags().has(TcpFlags::FIN));
        assert_eq!(t.payload(), b"data");
        seg[12] = 4 << 4;
        assert!(Tcp::new_checked(&seg[..]).is_err());
        seg[12] = 15 << 4;
        assert!(matches!(
            Tcp::new_checked(&seg[..]),
            Err(HeaderError::Truncated { need: 60, .. })
        ));
    }

    #[test]
    fn udp_length_bounds_payload() {
        let mut d = [0u8; 20];
        let mut u = Udp::new_checked(&mut d[..]).unwrap();
        u.set_len(12);
        assert_eq!(u.payload().len(), 4);
        u.set_len(3);
        assert_eq!(
            u.payload().len(),
            0,
            "a length below 8 gives no payload, no panic"
        );
        u.set_len(500);
        assert_eq!(u.payload().len(), 12);
        let (s, t) = (Ipv4Addr::new(1, 2, 3, 4), Ipv4Addr::new(5, 6, 7, 8));
        u.set_len(20);
        u.fill_checksum_ipv4(s, t);
        assert_ne!(u.checksum(), 0);
        assert!(u.verify_checksum_ipv4(s, t));
    }

    #[test]
    fn icmp_echo() {
        let mut m = [0u8; 16];
        let mut i = Icmp::new_checked(&mut m[..]).unwrap();
        i.set_msg_type(Icmp::<&[u8]>::ECHO_REQUEST);
        i.set_ident(7);
        i.set_seq(1);
        i.fill_checksum();
        assert!(i.verify_checksum());
        assert_eq!((i.msg_type(), i.ident(), i.seq()), (8, 7, 1));
    }
}
