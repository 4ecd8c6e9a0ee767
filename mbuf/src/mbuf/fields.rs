//! The metadata fields of an mbuf: port, offload flags, packet type, RSS and flow director
//! values, VLAN tags, timesync, TX offload lengths, IOVAs, reference count, private area.

use std::sync::atomic::Ordering;

use crate::header::{MBUF_HEADER_SIZE, MbufHeader, txo};
use crate::net::{self, HdrLens};
use crate::pool::pool_private;
use crate::{OlFlags, PacketType};

use super::Mbuf;

impl Mbuf {
    /// The input port (`port`).
    #[inline(always)]
    pub fn port(&self) -> u16 {
        self.h().port
    }

    /// Sets the port.
    #[inline(always)]
    pub fn set_port(&mut self, port: u16) {
        self.hm().port = port;
    }

    /// Offload flags.
    #[inline(always)]
    pub fn ol_flags(&self) -> OlFlags {
        OlFlags(self.h().ol_flags)
    }

    /// Sets the offload flags; the attachment bits (`INDIRECT`, `EXTERNAL`) are kept as they are.
    #[inline(always)]
    pub fn set_ol_flags(&mut self, flags: OlFlags) {
        let keep = OlFlags::INDIRECT.0 | OlFlags::EXTERNAL.0;
        let h = self.hm();
        h.ol_flags = (h.ol_flags & keep) | (flags.0 & !keep);
    }

    /// The packet type.
    #[inline(always)]
    pub fn packet_type(&self) -> PacketType {
        PacketType(self.h().packet_type)
    }

    /// Sets the packet type.
    #[inline(always)]
    pub fn set_packet_type(&mut self, p: PacketType) {
        self.hm().packet_type = p.0;
    }

    /// Parses the headers (up to 256 bytes, across segments) and returns the packet type and
    /// header lengths (DPDK's `rte_net_get_ptype`); the mbuf is not changed.
    pub fn parse_packet_type(&self, layers: u32) -> (PacketType, HdrLens) {
        if self.data_len() as u32 == self.pkt_len() || self.data_len() >= 256 {
            return net::get_ptype(self.data(), layers);
        }
        let mut buf = [0u8; 256];
        let n = (self.pkt_len() as usize).min(256);
        match self.read(0, &mut buf[..n]) {
            Some(bytes) => net::get_ptype(bytes, layers),
            None => (PacketType::UNKNOWN, HdrLens::default()),
        }
    }

    /// The RSS hash (`hash.rss`).
    #[inline(always)]
    pub fn rss_hash(&self) -> u32 {
        self.h().hash[0]
    }

    /// Sets the RSS hash and `RX_RSS_HASH`.
    #[inline(always)]
    pub fn set_rss_hash(&mut self, hash: u32) {
        let h = self.hm();
        h.hash[0] = hash;
        h.ol_flags |= OlFlags::RX_RSS_HASH.0;
    }

    /// The flow director words (`hash.fdir.lo`, `hash.fdir.hi`).
    pub fn fdir(&self) -> (u32, u32) {
        (self.h().hash[0], self.h().hash[1])
    }

    /// Sets the flow director id (`hash.fdir.hi`) and `RX_FDIR | RX_FDIR_ID`, as a flow rule's
    /// MARK action does.
    pub fn set_fdir_id(&mut self, id: u32) {
        let h = self.hm();
        h.hash[1] = id;
        h.ol_flags |= OlFlags::RX_FDIR.0 | OlFlags::RX_FDIR_ID.0;
    }

    /// VLAN TCI (valid with `RX_VLAN`, or to insert with `TX_VLAN`).
    pub fn vlan_tci(&self) -> u16 {
        self.h().vlan_tci
    }

    /// Sets the VLAN TCI.
    pub fn set_vlan_tci(&mut self, tci: u16) {
        self.hm().vlan_tci = tci;
    }

    /// Outer VLAN TCI (QinQ).
    pub fn vlan_tci_outer(&self) -> u16 {
        self.h().vlan_tci_outer
    }

    /// Sets the outer VLAN TCI.
    pub fn set_vlan_tci_outer(&mut self, tci: u16) {
        self.hm().vlan_tci_outer = tci;
    }

    /// IEEE 1588 timesync flags.
    pub fn timesync(&self) -> u16 {
        self.h().timesync
    }

    /// Sets the timesync flags.
    pub fn set_timesync(&mut self, v: u16) {
        self.hm().timesync = v;
    }

    /// L2 header length for TX offloads.
    pub fn l2_len(&self) -> u16 {
        txo::get(self.h().tx_offload, txo::L2_LEN) as u16
    }

    /// L3 header length.
    pub fn l3_len(&self) -> u16 {
        txo::get(self.h().tx_offload, txo::L3_LEN) as u16
    }

    /// L4 header length.
    pub fn l4_len(&self) -> u16 {
        txo::get(self.h().tx_offload, txo::L4_LEN) as u16
    }

    /// TSO segment size.
    pub fn tso_segsz(&self) -> u16 {
        txo::get(self.h().tx_offload, txo::TSO_SEGSZ) as u16
    }

    /// Outer L2 length.
    pub fn outer_l2_len(&self) -> u16 {
        txo::get(self.h().tx_offload, txo::OUTER_L2_LEN) as u16
    }

    /// Outer L3 length.
    pub fn outer_l3_len(&self) -> u16 {
        txo::get(self.h().tx_offload, txo::OUTER_L3_LEN) as u16
    }

    /// Sets the header lengths for TX offloads (masked to DPDK's bit widths: 7, 9, 8).
    pub fn set_tx_lens(&mut self, l2: u16, l3: u16, l4: u16) {
        let t = &mut self.hm().tx_offload;
        txo::set(t, txo::L2_LEN, l2 as u64);
        txo::set(t, txo::L3_LEN, l3 as u64);
        txo::set(t, txo::L4_LEN, l4 as u64);
    }

    /// Sets the TSO segment size.
    pub fn set_tso_segsz(&mut self, v: u16) {
        txo::set(&mut self.hm().tx_offload, txo::TSO_SEGSZ, v as u64);
    }

    /// Sets the outer header lengths (7 and 9 bits).
    pub fn set_outer_lens(&mut self, l2: u16, l3: u16) {
        let t = &mut self.hm().tx_offload;
        txo::set(t, txo::OUTER_L2_LEN, l2 as u64);
        txo::set(t, txo::OUTER_L3_LEN, l3 as u64);
    }

    /// The address of the first segment's buffer (DPDK's `buf_addr`), for drivers that hand a
    /// buffer's location to a device (AF_XDP's UMEM offsets); the data starts
    /// [`headroom`](Self::headroom) bytes into it.
    #[inline(always)]
    pub fn buf_addr(&self) -> *const u8 {
        self.h().buf_addr
    }

    /// The IOVA of the first segment's buffer.
    pub fn buf_iova(&self) -> u64 {
        self.h().buf_iova
    }

    /// The IOVA of the first segment's data (DPDK's `rte_pktmbuf_iova`).
    pub fn data_iova(&self) -> u64 {
        self.h().buf_iova + self.h().data_off as u64
    }

    /// The reference count of the first segment.
    pub fn refcnt(&self) -> u16 {
        self.h().refcnt.load(Ordering::Acquire)
    }

    /// The application private area after the header (DPDK's `rte_mbuf_to_priv`).
    pub fn priv_data(&self) -> &[u8] {
        let size = self.own_priv_size();
        // SAFETY: every mbuf of the pool has `size` private bytes after its header, which only
        // its owner uses.
        unsafe {
            std::slice::from_raw_parts((self.ptr.as_ptr() as *const u8).add(MBUF_HEADER_SIZE), size)
        }
    }

    /// The application private area, writable.
    pub fn priv_data_mut(&mut self) -> &mut [u8] {
        let size = self.own_priv_size();
        // SAFETY: as above; `&mut self` makes the access exclusive.
        unsafe {
            std::slice::from_raw_parts_mut(
                (self.ptr.as_ptr() as *mut u8).add(MBUF_HEADER_SIZE),
                size,
            )
        }
    }

    /// The name of the pool this segment's buffer goes back to (DPDK's `m->pool->name`).
    pub fn pool_name(&self) -> &str {
        // SAFETY: an mbuf's pool outlives it, and its name never changes.
        unsafe { (*self.h().pool).name() }
    }

    fn own_priv_size(&self) -> usize {
        // SAFETY: an mbuf's pool outlives it.
        unsafe { pool_private(self.h().pool) }.priv_size as usize
    }
}

/// Copies the packet's metadata from `src` to `dst`, the head of a copy or a clone: port, VLAN
/// tags, TX offload lengths, hash, packet type, and the offload flags but those that say
/// where `src`'s buffer comes from (`INDIRECT`, `EXTERNAL`), which `dst` keeps its own of.
pub(super) fn copy_metadata(dst: &mut MbufHeader, src: &MbufHeader) {
    dst.port = src.port;
    dst.vlan_tci = src.vlan_tci;
    dst.vlan_tci_outer = src.vlan_tci_outer;
    dst.tx_offload = src.tx_offload;
    dst.hash = src.hash;
    dst.packet_type = src.packet_type;
    dst.ol_flags |= src.ol_flags & !(OlFlags::INDIRECT.0 | OlFlags::EXTERNAL.0);
}
