//! The mbuf header: DPDK's `struct rte_mbuf`, field for field, 128 bytes in two cache lines.

use std::sync::atomic::AtomicU16;

use rpdk_mempool::RawMempool;

/// The header at the start of every mbuf, with DPDK 22.11's layout (IOVA-as-PA build).
///
/// The first cache line holds what the receive path writes; the second what transmit and the
/// slow path use. Its fields are private: [`crate::Mbuf`] keeps the invariants (the buffer
/// pointer, lengths within the buffer, the chain), and drivers that write descriptors directly
/// use the `unsafe` accessors.
#[repr(C, align(64))]
pub struct MbufHeader {
    // Cache line 0.
    pub(crate) buf_addr: *mut u8,
    pub(crate) buf_iova: u64,
    pub(crate) data_off: u16,
    pub(crate) refcnt: AtomicU16,
    pub(crate) nb_segs: u16,
    pub(crate) port: u16,
    pub(crate) ol_flags: u64,
    pub(crate) packet_type: u32,
    pub(crate) pkt_len: u32,
    pub(crate) data_len: u16,
    pub(crate) vlan_tci: u16,
    /// The hash union: `rss` (word 0), or `fdir.lo` and `fdir.hi`, or `sched`, or `usr`.
    pub(crate) hash: [u32; 2],
    pub(crate) vlan_tci_outer: u16,
    pub(crate) buf_len: u16,
    pub(crate) pool: *const RawMempool,
    // Cache line 1.
    pub(crate) next: *mut MbufHeader,
    pub(crate) tx_offload: u64,
    pub(crate) shinfo: *mut crate::external::SharedInfo,
    pub(crate) priv_size: u16,
    pub(crate) timesync: u16,
    pub(crate) dynfield1: [u32; 9],
}

/// Size of the header (`sizeof(struct rte_mbuf)`).
pub const MBUF_HEADER_SIZE: usize = 128;

/// Default headroom (`RTE_PKTMBUF_HEADROOM`).
pub const PKTMBUF_HEADROOM: u16 = 128;

/// Default data room (`RTE_MBUF_DEFAULT_DATAROOM`).
pub const MBUF_DEFAULT_DATAROOM: u16 = 2048;

/// Default buffer size: data room plus headroom (`RTE_MBUF_DEFAULT_BUF_SIZE`).
pub const MBUF_DEFAULT_BUF_SIZE: u16 = MBUF_DEFAULT_DATAROOM + PKTMBUF_HEADROOM;

/// The port of an mbuf that came from no port (`RTE_MBUF_PORT_INVALID`).
pub const MBUF_PORT_INVALID: u16 = u16::MAX;

/// Offset of the dynamic field area (`dynfield1`) in the header.
pub(crate) const DYNFIELD_OFFSET: usize = 92;

/// Size of the dynamic field area.
pub(crate) const DYNFIELD_SIZE: usize = 36;

/// Bit widths and offsets of `tx_offload` (little-endian layout).
pub(crate) mod txo {
    pub const L2_LEN: (u32, u32) = (0, 7);
    pub const L3_LEN: (u32, u32) = (7, 9);
    pub const L4_LEN: (u32, u32) = (16, 8);
    pub const TSO_SEGSZ: (u32, u32) = (24, 16);
    pub const OUTER_L3_LEN: (u32, u32) = (40, 9);
    pub const OUTER_L2_LEN: (u32, u32) = (49, 7);

    pub fn get(v: u64, (off, bits): (u32, u32)) -> u64 {
        (v >> off) & ((1 << bits) - 1)
    }

    pub fn set(v: &mut u64, (off, bits): (u32, u32), x: u64) {
        let mask = ((1u64 << bits) - 1) << off;
        *v = (*v & !mask) | ((x << off) & mask);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{align_of, offset_of, size_of};

    /// Offsets of DPDK 22.11's `struct rte_mbuf` on x86_64.
    #[test]
    fn layout_is_dpdks() {
        assert_eq!(size_of::<MbufHeader>(), 128);
        assert_eq!(align_of::<MbufHeader>(), 64);
        let offsets = [
            ("buf_addr", offset_of!(MbufHeader, buf_addr), 0),
            ("buf_iova", offset_of!(MbufHeader, buf_iova), 8),
            ("data_off", offset_of!(MbufHeader, data_off), 16),
            ("refcnt", offset_of!(MbufHeader, refcnt), 18),
            ("nb_segs", offset_of!(MbufHeader, nb_segs), 20),
            ("port", offset_of!(MbufHeader, port), 22),
            ("ol_flags", offset_of!(MbufHeader, ol_flags), 24),
            ("packet_type", offset_of!(MbufHeader, packet_type), 32),
            ("pkt_len", offset_of!(MbufHeader, pkt_len), 36),
            ("data_len", offset_of!(MbufHeader, data_len), 40),
            ("vlan_tci", offset_of!(MbufHeader, vlan_tci), 42),
            ("hash", offset_of!(MbufHeader, hash), 44),
            ("vlan_tci_outer", offset_of!(MbufHeader, vlan_tci_outer), 52),
            ("buf_len", offset_of!(MbufHeader, buf_len), 54),
            ("pool", offset_of!(MbufHeader, pool), 56),
            ("next", offset_of!(MbufHeader, next), 64),
            ("tx_offload", offset_of!(MbufHeader, tx_offload), 72),
            ("shinfo", offset_of!(MbufHeader, shinfo), 80),
            ("priv_size", offset_of!(MbufHeader, priv_size), 88),
            ("timesync", offset_of!(MbufHeader, timesync), 90),
            (
                "dynfield1",
                offset_of!(MbufHeader, dynfield1),
                DYNFIELD_OFFSET,
            ),
        ];
        for (name, got, want) in offsets {
            assert_eq!(got, want, "offset of {name}");
        }
        assert_eq!(DYNFIELD_OFFSET + DYNFIELD_SIZE, 128);
    }

    #[test]
    fn tx_offload_bitfields() {
        let mut v = 0u64;
        txo::set(&mut v, txo::L2_LEN, 14);
        txo::set(&mut v, txo::L3_LEN, 20);
        txo::set(&mut v, txo::L4_LEN, 20);
        txo::set(&mut v, txo::TSO_SEGSZ, 1448);
        txo::set(&mut v, txo::OUTER_L3_LEN, 40);
        txo::set(&mut v, txo::OUTER_L2_LEN, 18);
        assert_eq!(txo::get(v, txo::L2_LEN), 14);
        assert_eq!(txo::get(v, txo::L3_LEN), 20);
        assert_eq!(txo::get(v, txo::L4_LEN), 20);
        assert_eq!(txo::get(v, txo::TSO_SEGSZ), 1448);
        assert_eq!(txo::get(v, txo::OUTER_L3_LEN), 40);
        assert_eq!(txo::get(v, txo::OUTER_L2_LEN), 18);
        // As DPDK's bitfield: l2_len in bits 0-6, l3_len in 7-15.
        assert_eq!(v & 0xffff, 14 | (20 << 7));
        txo::set(&mut v, txo::L2_LEN, 200);
        assert_eq!(txo::get(v, txo::L2_LEN), 200 & 0x7f, "masked to 7 bits");
    }
}
