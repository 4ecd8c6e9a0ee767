//! vmxnet3's registers, commands, shared-memory layouts and descriptor bits, as VMware's
//! device headers define them (`vmxnet3_defs.h`, `upt1_defs.h`; revision 1 of the device,
//! which QEMU emulates). Offsets are in bytes; all structures are little-endian and packed.

/// BAR 0, the pass-through registers (8-byte stride per queue or interrupt).
pub const REG_IMR: usize = 0x0;
pub const REG_TXPROD: usize = 0x600;
pub const REG_RXPROD: usize = 0x800;
pub const REG_RXPROD2: usize = 0xA00;
pub const REG_STRIDE: usize = 8;

/// BAR 1, the virtual-device registers.
pub const REG_VRRS: usize = 0x0;
pub const REG_UVRS: usize = 0x8;
pub const REG_DSAL: usize = 0x10;
pub const REG_DSAH: usize = 0x18;
pub const REG_CMD: usize = 0x20;
pub const REG_MACL: usize = 0x28;
pub const REG_MACH: usize = 0x30;

/// Commands written to REG_CMD (SET commands; GET commands answer in REG_CMD).
pub const CMD_ACTIVATE_DEV: u32 = 0xCAFE_0000;
pub const CMD_QUIESCE_DEV: u32 = 0xCAFE_0001;
pub const CMD_RESET_DEV: u32 = 0xCAFE_0002;
pub const CMD_UPDATE_RX_MODE: u32 = 0xCAFE_0003;
pub const CMD_GET_STATS: u32 = 0xF00D_0001;
pub const CMD_GET_LINK: u32 = 0xF00D_0002;

/// `Vmxnet3_DriverShared`: magic, then `devRead` (misc, interrupt and RX filter configuration).
pub const DS_MAGIC: usize = 0;
pub const REV1_MAGIC: u32 = 0xbabe_fee1;
pub const DS_VERSION: usize = 8;
pub const DS_GOS: usize = 12;
pub const DS_REV_SPT: usize = 16;
pub const DS_UPT_SPT: usize = 20;
pub const DS_UPT_FEATURES: usize = 24;
pub const DS_QUEUE_DESC_PA: usize = 40;
pub const DS_QUEUE_DESC_LEN: usize = 52;
pub const DS_MTU: usize = 56;
pub const DS_MAX_RX_SG: usize = 60;
/// `numTxQueues`, then `numRxQueues` in the next byte.
pub const DS_NUM_TX_QUEUES: usize = 62;
/// `autoMask`, then `numIntrs` in the next byte.
pub const DS_AUTO_MASK: usize = 80;
pub const DS_INTR_CTRL: usize = 108;
pub const DS_RX_MODE: usize = 120;
/// The whole structure (with the extension after `devRead`), rounded up.
pub const DS_LEN: usize = 1024;

/// Guest OS info: 64-bit Linux (`gosBits` 2 at bit 30, `gosType` 1 at bit 26).
pub const GOS_LINUX_64: u32 = (2 << 30) | (1 << 26);
/// `UPT1_F_RXCSUM`: the device checks IP and TCP/UDP checksums of received frames.
pub const UPT1_F_RXCSUM: u64 = 1;
/// `VMXNET3_IC_DISABLE_ALL`: no interrupts.
pub const IC_DISABLE_ALL: u32 = 1;

/// RX filter modes.
pub const RXM_UCAST: u32 = 0x01;
pub const RXM_BCAST: u32 = 0x04;
pub const RXM_ALL_MULTI: u32 = 0x08;
pub const RXM_PROMISC: u32 = 0x10;

/// `Vmxnet3_TxQueueDesc` and `Vmxnet3_RxQueueDesc`: 256 bytes each, TX queues first.
pub const QD_LEN: usize = 256;
pub const TQ_RING_PA: usize = 16;
pub const TQ_DATA_PA: usize = 24;
pub const TQ_COMP_PA: usize = 32;
pub const TQ_RING_SIZE: usize = 56;
pub const TQ_DATA_SIZE: usize = 60;
pub const TQ_COMP_SIZE: usize = 64;
pub const RQ_RING_PA: [usize; 2] = [16, 24];
pub const RQ_COMP_PA: usize = 32;
pub const RQ_RING_SIZE: [usize; 2] = [56, 60];
pub const RQ_COMP_SIZE: usize = 64;
/// `status.stopped` and `status.error`, then the UPT1 statistics (u64 each).
pub const QD_STOPPED: usize = 80;
pub const QD_ERROR: usize = 84;
pub const QD_STATS: usize = 88;
/// Names of `UPT1_TxStats` and `UPT1_RxStats`, in order.
pub const TX_STATS: [&str; 10] = [
    "tso_packets",
    "tso_bytes",
    "ucast_packets",
    "ucast_bytes",
    "mcast_packets",
    "mcast_bytes",
    "bcast_packets",
    "bcast_bytes",
    "errors",
    "discards",
];
pub const RX_STATS: [&str; 10] = [
    "lro_packets",
    "lro_bytes",
    "ucast_packets",
    "ucast_bytes",
    "mcast_packets",
    "mcast_bytes",
    "bcast_packets",
    "bcast_bytes",
    "out_of_buffer",
    "errors",
];
/// Index of `pktsRxOutOfBuf` in the RX statistics.
pub const RX_OUT_OF_BUF: usize = 8;

/// Every descriptor is 16 bytes; rings are 512-byte aligned, their sizes multiples of 32.
pub const DESC_LEN: usize = 16;
pub const RING_ALIGN: usize = 512;
pub const RING_SIZE_ALIGN: u16 = 32;
pub const RING_MAX: u16 = 4096;
/// TX data ring entries (unused by the driver; the device wants the ring).
pub const TX_DATA_DESC: usize = 128;

/// TX descriptor, dword 2: `len` (bits 0-13, 0 meaning 16384), `gen` (14).
pub const TXD_GEN: u32 = 1 << 14;
/// TX descriptor, dword 3: `eop` (12), `cq` (13, ask for a completion).
pub const TXD_EOP: u32 = 1 << 12;
pub const TXD_CQ: u32 = 1 << 13;
/// RX descriptor, dword 2: `len` (0-13), `btype` (14: 0 head, 1 body), `gen` (31).
pub const RXD_BTYPE_BODY: u32 = 1 << 14;
pub const RXD_GEN: u32 = 1 << 31;
/// Completion descriptors, dword 3: `gen` (31), `type` (24-30).
pub const COMP_GEN: u32 = 1 << 31;
/// TX completion dword 0: `txdIdx` (0-11).
pub const TCD_IDX_MASK: u32 = 0xfff;
/// RX completion dword 0: `rxdIdx` (0-11), `eop` (14), `sop` (15), `rqID` (16-25).
pub const RCD_IDX_MASK: u32 = 0xfff;
pub const RCD_EOP: u32 = 1 << 14;
pub const RCD_SOP: u32 = 1 << 15;
pub const RCD_RQID_SHIFT: u32 = 16;
pub const RCD_RQID_MASK: u32 = 0x3ff;
/// RX completion dword 2: `len` (0-13), `err` (14).
pub const RCD_LEN_MASK: u32 = 0x3fff;
pub const RCD_ERR: u32 = 1 << 14;
/// RX completion dword 3: `tuc` (16), `udp` (17), `tcp` (18), `ipc` (19), `v4` (21), `cnc` is
/// in dword 0 bit 30.
pub const RCD_TUC: u32 = 1 << 16;
pub const RCD_UDP: u32 = 1 << 17;
pub const RCD_TCP: u32 = 1 << 18;
pub const RCD_IPC: u32 = 1 << 19;
pub const RCD_V4: u32 = 1 << 21;
pub const RCD_CNC: u32 = 1 << 30;
