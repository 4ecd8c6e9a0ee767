//! The built-in XDP program, as eBPF instructions: xdp-tools' default program for AF_XDP,
//! `return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);`, which hands each
//! frame to the socket of its receive queue and leaves frames of queues without one to the
//! kernel's stack. Six instruction slots, no compiler.

#![forbid(unsafe_code)]

/// One eBPF instruction (`struct bpf_insn`): opcode, destination and source registers (low
/// and high nibble of one byte), offset, immediate.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

impl Insn {
    const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (src << 4) | (dst & 0x0f),
            off,
            imm,
        }
    }

    /// The instruction as an ELF object stores it (little-endian).
    pub(crate) fn from_le_bytes(b: [u8; 8]) -> Insn {
        Insn {
            code: b[0],
            regs: b[1],
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// The opcode.
    pub(crate) fn code(&self) -> u8 {
        self.code
    }

    /// The immediate.
    pub(crate) fn imm(&self) -> i32 {
        self.imm
    }

    /// The same with source register `src` (a pseudo-register of a 64-bit load) and
    /// immediate `imm`.
    pub(crate) fn with_src_imm(self, src: u8, imm: i32) -> Insn {
        Insn {
            regs: (src << 4) | (self.regs & 0x0f),
            imm,
            ..self
        }
    }
}

/// The opcode of a 64-bit immediate load, the instruction a map reference is.
pub(crate) const LD_IMM64_CODE: u8 = LD_IMM64;
/// `BPF_PSEUDO_MAP_VALUE`: the immediate is a map's descriptor, the next one an offset into
/// its one value (global data).
pub(crate) const PSEUDO_MAP_VALUE: u8 = 2;
/// `BPF_PSEUDO_MAP_FD`, for relocations.
pub(crate) const PSEUDO_MAP_FD_SRC: u8 = PSEUDO_MAP_FD;

/// `BPF_LDX | BPF_MEM | BPF_W`: a 32-bit load.
const LDX_MEM_W: u8 = 0x61;
/// `BPF_LD | BPF_DW | BPF_IMM`: a 64-bit immediate (two slots).
const LD_IMM64: u8 = 0x18;
/// `BPF_ALU64 | BPF_MOV | BPF_K`.
const MOV64_IMM: u8 = 0xb7;
/// `BPF_JMP | BPF_CALL`.
const CALL: u8 = 0x85;
/// `BPF_JMP | BPF_EXIT`.
const EXIT: u8 = 0x95;
/// `BPF_PSEUDO_MAP_FD`: the immediate of a 64-bit load is a map's descriptor.
const PSEUDO_MAP_FD: u8 = 1;
/// `BPF_FUNC_redirect_map`.
const FUNC_REDIRECT_MAP: i32 = 51;
/// Offset of `rx_queue_index` in `struct xdp_md`.
const XDP_MD_RX_QUEUE_INDEX: i16 = 16;
/// `XDP_PASS`: the action `bpf_redirect_map` returns when the slot is empty (its flags' low
/// bits).
pub(crate) const XDP_PASS: i32 = 2;

/// The program, redirecting to the `XSKMAP` whose descriptor is `map_fd`.
pub(crate) fn redirect_to_xsks(map_fd: i32) -> [Insn; 6] {
    [
        // r2 = ctx->rx_queue_index
        Insn::new(LDX_MEM_W, 2, 1, XDP_MD_RX_QUEUE_INDEX, 0),
        // r1 = &xsks_map
        Insn::new(LD_IMM64, 1, PSEUDO_MAP_FD, 0, map_fd),
        Insn::new(0, 0, 0, 0, 0),
        // r3 = XDP_PASS (what to do when the queue has no socket)
        Insn::new(MOV64_IMM, 3, 0, 0, XDP_PASS),
        // r0 = bpf_redirect_map(r1, r2, r3)
        Insn::new(CALL, 0, 0, 0, FUNC_REDIRECT_MAP),
        Insn::new(EXIT, 0, 0, 0, 0),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_encode_as_the_kernel_reads_them() {
        assert_eq!(std::mem::size_of::<Insn>(), 8);
        let p = redirect_to_xsks(7);
        // r2 = *(u32 *)(r1 + 16): dst in the low nibble, src in the high one.
        assert_eq!(
            p[0],
            Insn {
                code: 0x61,
                regs: 0x12,
                off: 16,
                imm: 0
            }
        );
        assert_eq!(
            p[1],
            Insn {
                code: 0x18,
                regs: 0x11,
                off: 0,
                imm: 7
            }
        );
        assert_eq!(p[4].imm, 51);
        assert_eq!(p[5].code, 0x95);
    }
}
