//! The UDP/IPv4 packets that txonly, flowgen and `--tx-first` send, as testpmd builds them:
//! 198.18.0.1 -> 198.18.0.2, UDP port 9 -> 9, TTL 64, the rest of the frame left as is.

use std::net::Ipv4Addr;

use rpdk_mbuf::net::{Ethernet, Ipv4, MacAddr, Udp, ether_type, ip_proto};
use rpdk_mbuf::{Mbuf, MbufBurst, PktmbufPool};

/// Length of the Ethernet, IPv4 and UDP headers.
pub const HEADERS: usize = 14 + 20 + 8;

const IP_SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const IP_DST: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const UDP_PORT: u16 = 9;

/// Makes the packets of one stream.
pub struct PacketGen {
    header: [u8; HEADERS],
    segs: Vec<u16>,
    flows: u32,
    next_flow: u32,
}

impl PacketGen {
    /// Packets from `src` to `dst` with segments of `segs` bytes; `flows` > 1 varies the
    /// destination address over that many flows (flowgen).
    pub fn new(src: MacAddr, dst: MacAddr, segs: &[u16], flows: u32) -> PacketGen {
        let total: usize = segs.iter().map(|&l| l as usize).sum();
        let mut header = [0u8; HEADERS];
        {
            let mut eth = Ethernet::new_checked(&mut header[..]).expect("14 bytes");
            eth.set_dst(dst);
            eth.set_src(src);
            eth.set_ether_type(ether_type::IPV4);
        }
        {
            header[14] = 0x45;
            let mut ip = Ipv4::new_checked(&mut header[14..]).expect("20 bytes");
            ip.set_total_len((total - 14) as u16);
            ip.set_ttl(64);
            ip.set_protocol(ip_proto::UDP);
            ip.set_src(IP_SRC);
            ip.set_dst(IP_DST);
            ip.fill_checksum();
        }
        {
            let mut udp = Udp::new_checked(&mut header[34..]).expect("8 bytes");
            udp.set_src_port(UDP_PORT);
            udp.set_dst_port(UDP_PORT);
            udp.set_len((total - 34) as u16);
        }
        PacketGen {
            header,
            segs: segs.to_vec(),
            flows: flows.max(1),
            next_flow: 0,
        }
    }

    /// The header of the next packet.
    fn next_header(&mut self) -> [u8; HEADERS] {
        let mut h = self.header;
        if self.flows > 1 {
            let dst = u32::from(IP_DST).wrapping_add(self.next_flow);
            self.next_flow = (self.next_flow + 1) % self.flows;
            let mut ip = Ipv4::new_checked(&mut h[14..]).expect("20 bytes");
            ip.set_dst(Ipv4Addr::from(dst));
            ip.fill_checksum();
        }
        h
    }

    /// Allocates and fills up to `n` packets into `burst`; returns how many (0 when the pool
    /// is short).
    pub fn generate<const N: usize>(
        &mut self,
        pool: &PktmbufPool,
        burst: &mut MbufBurst<N>,
        n: usize,
    ) -> usize {
        let n = n.min(burst.room());
        let start = burst.len();
        if pool.alloc_bulk(burst, n).is_err() {
            return 0;
        }
        let multi = self.segs.len() > 1;
        let mut failed = false;
        for i in start..start + n {
            let h = self.next_header();
            let m = &mut burst.as_mut_slice()[i];
            if let Ok(room) = m.room_mut() {
                room[..HEADERS].copy_from_slice(&h);
            }
            m.fill_len(self.segs[0] as usize);
            if multi && !failed && Self::add_segments(pool, m, &self.segs[1..]).is_err() {
                failed = true;
            }
        }
        if failed {
            // Out of mbufs for the extra segments: send none of this burst.
            while burst.len() > start {
                drop(burst.pop());
            }
            return 0;
        }
        n
    }

    fn add_segments(pool: &PktmbufPool, m: &mut Mbuf, segs: &[u16]) -> Result<(), ()> {
        for &len in segs {
            let mut seg = pool.alloc().map_err(|_| ())?;
            seg.set_len(len).map_err(|_| ())?;
            m.chain(seg).map_err(|_| ())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_valid_and_flows_vary() {
        let mut g = PacketGen::new(
            MacAddr([2, 0, 0, 0, 0, 1]),
            MacAddr([2, 0, 0, 0, 0, 2]),
            &[64],
            4,
        );
        let mut dsts = Vec::new();
        for _ in 0..5 {
            let h = g.next_header();
            let ip = Ipv4::new_checked(&h[14..]).unwrap();
            assert!(ip.verify_checksum());
            assert_eq!((ip.total_len(), ip.src()), (50, IP_SRC));
            dsts.push(ip.dst().octets()[3]);
            let udp = Udp::new_checked(&h[34..]).unwrap();
            assert_eq!((udp.src_port(), udp.dst_port(), udp.len()), (9, 9, 30));
        }
        assert_eq!(dsts, [2, 3, 4, 5, 2]);
    }
}
