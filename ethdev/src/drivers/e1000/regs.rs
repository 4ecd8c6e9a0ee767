//! Registers of the 8254x (e1000) and 82574L (e1000e) MACs, and their descriptors.
//!
//! Offsets and bits from Intel's "PCI/PCI-X Family of Gigabit Ethernet Controllers Software
//! Developer's Manual" (8254x, rev. 4.0; sections cited as "8254x §") and the "82574 GbE
//! Controller Datasheet" (rev. 3.4; "82574 §"); the two agree on everything used here.

use super::super::dma::Descriptor;

/// Device Control (8254x §13.4.1).
pub const CTRL: usize = 0x0000;
/// Device Status (8254x §13.4.2).
pub const STATUS: usize = 0x0008;
/// Interrupt Mask Clear (8254x §13.4.21).
pub const IMC: usize = 0x00D8;
/// Interrupt Cause Read, clear on read (8254x §13.4.17).
pub const ICR: usize = 0x00C0;
/// Receive Control (8254x §13.4.22).
pub const RCTL: usize = 0x0100;
/// Transmit Control (8254x §13.4.33).
pub const TCTL: usize = 0x0400;
/// Transmit Inter-Packet Gap (8254x §13.4.34).
pub const TIPG: usize = 0x0410;
/// Receive descriptor base address, low and high (8254x §13.4.25-26).
pub const RDBAL: usize = 0x2800;
/// See [`RDBAL`].
pub const RDBAH: usize = 0x2804;
/// Receive descriptor ring length in bytes (8254x §13.4.27).
pub const RDLEN: usize = 0x2808;
/// Receive descriptor head (8254x §13.4.28).
pub const RDH: usize = 0x2810;
/// Receive descriptor tail (8254x §13.4.29).
pub const RDT: usize = 0x2818;
/// Receive delay timer (8254x §13.4.30).
pub const RDTR: usize = 0x2820;
/// Transmit descriptor base address, low and high (8254x §13.4.36-37).
pub const TDBAL: usize = 0x3800;
/// See [`TDBAL`].
pub const TDBAH: usize = 0x3804;
/// Transmit descriptor ring length in bytes (8254x §13.4.38).
pub const TDLEN: usize = 0x3808;
/// Transmit descriptor head (8254x §13.4.39).
pub const TDH: usize = 0x3810;
/// Transmit descriptor tail (8254x §13.4.40).
pub const TDT: usize = 0x3818;
/// Multicast Table Array, 128 registers (8254x §13.5.1).
pub const MTA: usize = 0x5200;
/// Number of MTA registers.
pub const MTA_LEN: usize = 128;
/// Receive Address Low and High of entry 0 (8254x §13.5.2-3).
pub const RAL0: usize = 0x5400;
/// See [`RAL0`].
pub const RAH0: usize = 0x5404;

/// CTRL: Set Link Up.
pub const CTRL_SLU: u32 = 1 << 6;
/// CTRL: Auto-Speed Detection Enable.
pub const CTRL_ASDE: u32 = 1 << 5;
/// CTRL: Link Reset.
pub const CTRL_LRST: u32 = 1 << 3;
/// CTRL: device Reset (self-clearing).
pub const CTRL_RST: u32 = 1 << 26;
/// CTRL: PHY Reset.
pub const CTRL_PHY_RST: u32 = 1 << 31;
/// CTRL: VLAN Mode Enable.
pub const CTRL_VME: u32 = 1 << 30;

/// STATUS: Full Duplex.
pub const STATUS_FD: u32 = 1 << 0;
/// STATUS: Link Up.
pub const STATUS_LU: u32 = 1 << 1;
/// STATUS: speed, bits 7:6 (00 10, 01 100, 1x 1000 Mb/s).
pub const STATUS_SPEED_SHIFT: u32 = 6;

/// RCTL: Receiver Enable.
pub const RCTL_EN: u32 = 1 << 1;
/// RCTL: Unicast Promiscuous.
pub const RCTL_UPE: u32 = 1 << 3;
/// RCTL: Multicast Promiscuous.
pub const RCTL_MPE: u32 = 1 << 4;
/// RCTL: Long Packet Enable (frames above 1522 bytes).
pub const RCTL_LPE: u32 = 1 << 5;
/// RCTL: Broadcast Accept Mode.
pub const RCTL_BAM: u32 = 1 << 15;
/// RCTL: buffer size field, bits 17:16 (with BSEX 0: 00 2048, 01 1024, 10 512, 11 256).
pub const RCTL_BSIZE_SHIFT: u32 = 16;
/// RCTL: Strip Ethernet CRC.
pub const RCTL_SECRC: u32 = 1 << 26;

/// TCTL: Transmit Enable.
pub const TCTL_EN: u32 = 1 << 1;
/// TCTL: Pad Short Packets.
pub const TCTL_PSP: u32 = 1 << 3;
/// TCTL: Collision Threshold, bits 11:4 (the manual recommends 0x0F).
pub const TCTL_CT_SHIFT: u32 = 4;
/// TCTL: Collision Distance, bits 21:12 (0x40 in full duplex).
pub const TCTL_COLD_SHIFT: u32 = 12;
/// TCTL: Re-transmit on Late Collision.
pub const TCTL_RTLC: u32 = 1 << 24;

/// TIPG for copper parts (8254x §13.4.34, table 13-77): IPGT 10, IPGR1 8, IPGR2 6.
pub const TIPG_COPPER: u32 = 10 | (8 << 10) | (6 << 20);

/// RAH: Address Valid.
pub const RAH_AV: u32 = 1 << 31;

/// Statistics registers (8254x §13.7), all clear on read: (offset, xstat name).
pub const STATS: &[(usize, &str)] = &[
    (0x4000, "rx_crc_errors"),
    (0x4004, "rx_alignment_errors"),
    (0x4008, "rx_symbol_errors"),
    (0x400C, "rx_errors"),
    (MPC, "rx_missed_errors"),
    (0x4014, "tx_single_collision_packets"),
    (0x4028, "tx_total_collisions"),
    (0x4040, "rx_length_errors"),
    (0x4074, "rx_good_packets"),
    (0x4078, "rx_broadcast_packets"),
    (0x407C, "rx_multicast_packets"),
    (0x4080, "tx_good_packets"),
    (RNBC, "rx_no_buffer_count"),
    (0x40A4, "rx_undersize_errors"),
    (0x40A8, "rx_fragment_errors"),
    (0x40AC, "rx_oversize_errors"),
    (0x40B0, "rx_jabber_errors"),
    (0x40D0, "rx_total_packets"),
    (0x40D4, "tx_total_packets"),
    (0x40F0, "tx_multicast_packets"),
    (0x40F4, "tx_broadcast_packets"),
];
/// Missed Packets Count: frames dropped for want of receive buffers or FIFO room.
pub const MPC: usize = 0x4010;
/// Receive No Buffers Count: times a frame arrived with no free descriptor.
pub const RNBC: usize = 0x40A0;

/// A legacy receive descriptor (8254x §3.2.3): the device writes length, status and errors.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct RxDesc {
    /// Buffer IOVA.
    pub addr: u64,
    /// Bytes the device wrote.
    pub length: u16,
    /// Packet checksum.
    pub csum: u16,
    /// Status bits (`RXD_STAT_*`).
    pub status: u8,
    /// Error bits (`RXD_ERR_*`).
    pub errors: u8,
    /// VLAN tag.
    pub special: u16,
}

// SAFETY: repr(C), integers only, 16 bytes without padding.
unsafe impl Descriptor for RxDesc {}

/// Byte offset of [`RxDesc::status`].
pub const RXD_STATUS_OFFSET: usize = 12;
/// RX status: Descriptor Done.
pub const RXD_STAT_DD: u8 = 1 << 0;
/// RX status: End Of Packet.
pub const RXD_STAT_EOP: u8 = 1 << 1;
/// RX errors the frame should be dropped for: CRC/alignment (CE), symbol (SE), sequence (SEQ),
/// carrier extension (CXE), RX data error (RXE).
pub const RXD_ERR_FRAME: u8 = 0x01 | 0x02 | 0x04 | 0x10 | 0x80;

/// A legacy transmit descriptor (8254x §3.3.3).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct TxDesc {
    /// Buffer IOVA.
    pub addr: u64,
    /// Bytes to send from the buffer.
    pub length: u16,
    /// Checksum offset.
    pub cso: u8,
    /// Command bits (`TXD_CMD_*`).
    pub cmd: u8,
    /// Status bits (the device sets DD).
    pub status: u8,
    /// Checksum start.
    pub css: u8,
    /// VLAN tag.
    pub special: u16,
}

// SAFETY: repr(C), integers only, 16 bytes without padding.
unsafe impl Descriptor for TxDesc {}

/// Byte offset of [`TxDesc::status`].
pub const TXD_STATUS_OFFSET: usize = 12;
/// TX command: End Of Packet.
pub const TXD_CMD_EOP: u8 = 1 << 0;
/// TX command: Insert FCS (the CRC).
pub const TXD_CMD_IFCS: u8 = 1 << 1;
/// TX command: Report Status (write DD back when sent).
pub const TXD_CMD_RS: u8 = 1 << 3;
/// TX status: Descriptor Done.
pub const TXD_STAT_DD: u8 = 1 << 0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_are_16_bytes_with_status_at_12() {
        assert_eq!(std::mem::size_of::<RxDesc>(), 16);
        assert_eq!(std::mem::size_of::<TxDesc>(), 16);
        assert_eq!(std::mem::offset_of!(RxDesc, status), RXD_STATUS_OFFSET);
        assert_eq!(std::mem::offset_of!(TxDesc, status), TXD_STATUS_OFFSET);
    }
}
