//! The IPv6 header (`struct rte_ipv6_hdr`) and extension-header walking.

use std::net::Ipv6Addr;

use super::{HeaderError, bytes, checksum, get16, get32, ip_proto, need, set16, set32};

/// The fixed header's fields (RFC 8200 section 3).
pub(crate) mod field {
    use crate::net::Field;
    /// Version (4 bits), traffic class (8) and flow label (20).
    pub(crate) const VTC_FLOW: Field = 0..4;
    pub(crate) const PAYLOAD_LEN: Field = 4..6;
    pub(crate) const NEXT_HEADER: usize = 6;
    pub(crate) const HOP_LIMIT: usize = 7;
    pub(crate) const SRC: Field = 8..24;
    pub(crate) const DST: Field = 24..40;
    /// Every extension header's next header (RFC 8200 section 4; AH's too, RFC 4302).
    pub(crate) const EXT_NEXT_HEADER: usize = 0;
    /// An extension header's length: in 8-byte units past the first 8, or for AH in 4-byte
    /// units less 2.
    pub(crate) const EXT_LEN: usize = 1;
}

/// A view of the fixed 40-byte IPv6 header and what follows it.
#[derive(Clone, Copy, Debug)]
pub struct Ipv6<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Ipv6<T> {
    /// Length of the fixed header.
    pub const LEN: usize = 40;

    /// Wraps `buf`, which must hold a version 6 fixed header.
    pub fn new_checked(buf: T) -> Result<Self, HeaderError> {
        let b = buf.as_ref();
        need("IPv6", b, Self::LEN)?;
        if b[field::VTC_FLOW.start] >> 4 != 6 {
            return Err(HeaderError::Malformed {
                header: "IPv6",
                reason: "version is not 6",
            });
        }
        Ok(Ipv6 { buf })
    }

    /// The buffer.
    pub fn into_inner(self) -> T {
        self.buf
    }

    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// Traffic class.
    pub fn traffic_class(&self) -> u8 {
        ((get32(self.b(), field::VTC_FLOW) >> 20) & 0xff) as u8
    }

    /// Flow label.
    pub fn flow_label(&self) -> u32 {
        get32(self.b(), field::VTC_FLOW) & 0x000f_ffff
    }

    /// Payload length (extension headers included).
    pub fn payload_len(&self) -> u16 {
        get16(self.b(), field::PAYLOAD_LEN)
    }

    /// The first next header.
    pub fn next_header(&self) -> u8 {
        self.b()[field::NEXT_HEADER]
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.b()[field::HOP_LIMIT]
    }

    /// Source address.
    pub fn src(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.src_bytes())
    }

    /// Destination address.
    pub fn dst(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.dst_bytes())
    }

    fn src_bytes(&self) -> [u8; 16] {
        bytes(self.b(), field::SRC)
    }

    fn dst_bytes(&self) -> [u8; 16] {
        bytes(self.b(), field::DST)
    }

    /// What follows the fixed header, up to the payload length or the end of the buffer.
    pub fn payload(&self) -> &[u8] {
        let end = (Self::LEN + self.payload_len() as usize).min(self.b().len());
        &self.b()[Self::LEN..end]
    }

    /// The pseudo-header sum for an upper-layer packet of `len` bytes with protocol `next`.
    pub fn pseudo_sum(&self, next: u8, len: u32) -> u16 {
        checksum::ipv6_pseudo(&self.src_bytes(), &self.dst_bytes(), next, len)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6<T> {
    /// Sets version 6, the traffic class and the flow label.
    pub fn set_vtc_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let v = (6 << 28) | ((traffic_class as u32) << 20) | (flow_label & 0x000f_ffff);
        set32(self.buf.as_mut(), field::VTC_FLOW, v);
    }

    /// Sets the payload length.
    pub fn set_payload_len(&mut self, v: u16) {
        set16(self.buf.as_mut(), field::PAYLOAD_LEN, v);
    }

    /// Sets the next header.
    pub fn set_next_header(&mut self, v: u8) {
        self.buf.as_mut()[field::NEXT_HEADER] = v;
    }

    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, v: u8) {
        self.buf.as_mut()[field::HOP_LIMIT] = v;
    }

    /// Sets the source address.
    pub fn set_src(&mut self, a: Ipv6Addr) {
        self.buf.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }

    /// Sets the destination address.
    pub fn set_dst(&mut self, a: Ipv6Addr) {
        self.buf.as_mut()[field::DST].copy_from_slice(&a.octets());
    }

    /// What follows the fixed header, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = (Self::LEN + self.payload_len() as usize).min(self.b().len());
        &mut self.buf.as_mut()[Self::LEN..end]
    }
}

/// The most extension headers walked, as DPDK's `rte_net_skip_ip6_ext`.
const MAX_EXT_HDRS: usize = 5;

/// Walks the extension headers that start `data` (DPDK's `rte_net_skip_ip6_ext`): hop-by-hop,
/// routing, destination options, fragment (always the last), AH. Returns the upper-layer
/// protocol (`None` for "no next header"), the bytes the extension headers take, and whether a
/// fragment header was seen; `Err` if they run past `data` or are too many.
pub fn skip_ipv6_ext(first: u8, data: &[u8]) -> Result<(Option<u8>, usize, bool), HeaderError> {
    let mut proto = first;
    let mut off = 0usize;
    for _ in 0..MAX_EXT_HDRS {
        match proto {
            ip_proto::HOPOPTS | ip_proto::ROUTING | ip_proto::DSTOPTS | ip_proto::AH => {
                let h = data.get(off..off + 2).ok_or(HeaderError::Truncated {
                    header: "IPv6 extension",
                    need: off + 2,
                    have: data.len(),
                })?;
                let len = if proto == ip_proto::AH {
                    (h[field::EXT_LEN] as usize + 2) * 4
                } else {
                    (h[field::EXT_LEN] as usize + 1) * 8
                };
                proto = h[field::EXT_NEXT_HEADER];
                off += len;
            }
            ip_proto::FRAGMENT => {
                let h = data.get(off..off + 8).ok_or(HeaderError::Truncated {
                    header: "IPv6 fragment",
                    need: off + 8,
                    have: data.len(),
                })?;
                return Ok((Some(h[field::EXT_NEXT_HEADER]), off + 8, true));
            }
            // The last extension header walked must fit too, "no next header" included.
            _ if off > data.len() => {
                return Err(HeaderError::Truncated {
                    header: "IPv6 extension",
                    need: off,
                    have: data.len(),
                });
            }
            ip_proto::NONE => return Ok((None, off, false)),
            other => return Ok((Some(other), off, false)),
        }
    }
    Err(HeaderError::Malformed {
        header: "IPv6",
        reason: "more than 5 extension headers",
    })
}

/// Whether `proto` is an extension header [`skip_ipv6_ext`] walks.
pub(crate) fn is_ext(proto: u8) -> bool {
    matches!(
        proto,
        ip_proto::HOPOPTS
            | ip_proto::ROUTING
            | ip_proto::FRAGMENT
            | ip_proto::DSTOPTS
            | ip_proto::AH
            | ip_proto::ESP
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        let mut b = [0u8; 48];
        b[0] = 0x60;
        let mut ip = Ipv6::new_checked(&mut b[..]).unwrap();
        ip.set_vtc_flow(0xab, 0x12345);
        ip.set_payload_len(8);
        ip.set_next_header(17);
        ip.set_hop_limit(64);
        ip.set_src("fe80::1".parse().unwrap());
        ip.set_dst("fe80::2".parse().unwrap());
        assert_eq!((ip.traffic_class(), ip.flow_label()), (0xab, 0x12345));
        assert_eq!(ip.payload().len(), 8);
        assert_eq!(ip.src().to_string(), "fe80::1");
        b[0] = 0x40;
        assert!(Ipv6::new_checked(&b[..]).is_err());
    }

    #[test]
    fn extension_headers() {
        // hop-by-hop (8 bytes) -> routing (16 bytes) -> fragment -> UDP
        let mut d = vec![0u8; 32];
        d[0] = ip_proto::ROUTING;
        d[1] = 0;
        d[8] = ip_proto::FRAGMENT;
        d[9] = 1;
        d[24] = ip_proto::UDP;
        assert_eq!(
            skip_ipv6_ext(ip_proto::HOPOPTS, &d).unwrap(),
            (Some(17), 32, true)
        );
        assert_eq!(
            skip_ipv6_ext(ip_proto::TCP, &d).unwrap(),
            (Some(6), 0, false)
        );
        assert_eq!(skip_ipv6_ext(ip_proto::NONE, &d).unwrap(), (None, 0, false));
        assert!(skip_ipv6_ext(ip_proto::HOPOPTS, &d[..20]).is_err());
        // A loop of hop-by-hop headers stops after 5.
        let looped = vec![0u8; 64];
        assert!(skip_ipv6_ext(ip_proto::HOPOPTS, &looped).is_err());
        // A header that says "no next header" but runs past the data (found by the fuzzer).
        let short = [ip_proto::NONE, 3, 0, 0];
        assert!(skip_ipv6_ext(ip_proto::HOPOPTS, &short).is_err());
    }
}
