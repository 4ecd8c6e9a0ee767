//! A user's XDP program from a BPF ELF object (`xdp_prog=<file>`), as clang writes them
//! (`clang -target bpf -c`): the first executable section whose name starts with `xdp`, its
//! `xsks_map` (in `.maps` or `maps`), global data in `.data`, `.rodata` or `.bss`, and the
//! `license`. The map definition itself is not read: the driver makes the XSKMAP, as it does
//! for its own program, and points the program's references at it; each data section becomes
//! a one-element array map initialised with the section's bytes, as libbpf does. Other maps,
//! calls to functions of other sections and other relocations are refused with an error that
//! names them. Pure parsing: the loading is [`super::bpf`]'s.

#![forbid(unsafe_code)]

use super::program::{Insn, LD_IMM64_CODE, PSEUDO_MAP_FD_SRC, PSEUDO_MAP_VALUE};

const SHT_SYMTAB: u32 = 2;
const SHT_NOBITS: u32 = 8;
const SHT_REL: u32 = 9;
const SHF_EXECINSTR: u64 = 0x4;
/// `R_BPF_64_64`: a 64-bit immediate load of a symbol's address.
const R_BPF_64_64: u32 = 1;
const STT_FUNC: u8 = 2;

/// A data section of the object, made into an array map at load.
#[derive(Clone, Debug)]
pub(super) struct DataSection {
    /// Its name (`.data`, `.rodata`, `.bss`): also the map's.
    pub name: String,
    /// Its initial bytes (zeros for `.bss`).
    pub bytes: Vec<u8>,
}

/// What a relocated instruction refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    XsksMap,
    /// Data section `section` (an index into [`XdpObject::data`]), at `offset`.
    Data {
        section: usize,
        offset: i32,
    },
}

/// An XDP program read from an object file.
#[derive(Clone, Debug)]
pub(super) struct XdpObject {
    /// The program's function name.
    pub name: String,
    pub license: String,
    pub data: Vec<DataSection>,
    insns: Vec<Insn>,
    relocs: Vec<(usize, Target)>,
}

struct Section<'a> {
    name: String,
    kind: u32,
    flags: u64,
    size: usize,
    link: u32,
    info: u32,
    bytes: &'a [u8],
}

struct Symbol {
    name: String,
    kind: u8,
    shndx: u16,
    value: u64,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn cstr(b: &[u8], at: usize) -> String {
    let s = b.get(at..).unwrap_or(&[]);
    let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
    String::from_utf8_lossy(&s[..end]).into_owned()
}

impl XdpObject {
    /// Reads the object `file` (its name for errors) from `b`.
    pub fn parse(file: &str, b: &[u8]) -> Result<XdpObject, String> {
        let bad = |why: &str| format!("xdp_prog '{file}': {why}");
        if b.len() < 64 || &b[..4] != b"\x7fELF" {
            return Err(bad("not an ELF object"));
        }
        // 64-bit, little-endian, relocatable, machine EM_BPF (247).
        if b[4] != 2 || b[5] != 1 || u16_at(b, 16) != Some(1) || u16_at(b, 18) != Some(247) {
            return Err(bad(
                "not a little-endian 64-bit BPF relocatable object (clang -target bpf -c)",
            ));
        }
        let truncated = || bad("truncated or malformed section table");
        let shoff = u64_at(b, 0x28).ok_or_else(truncated)? as usize;
        let shentsize = u16_at(b, 0x3a).ok_or_else(truncated)? as usize;
        let shnum = u16_at(b, 0x3c).ok_or_else(truncated)? as usize;
        let shstrndx = u16_at(b, 0x3e).ok_or_else(truncated)? as usize;
        if shentsize < 64 {
            return Err(truncated());
        }
        let mut raw = Vec::with_capacity(shnum);
        for i in 0..shnum {
            let at = shoff + i * shentsize;
            let kind = u32_at(b, at + 4).ok_or_else(truncated)?;
            let offset = u64_at(b, at + 0x18).ok_or_else(truncated)? as usize;
            let size = u64_at(b, at + 0x20).ok_or_else(truncated)? as usize;
            let bytes = if kind == SHT_NOBITS {
                &[][..]
            } else {
                b.get(offset..offset.checked_add(size).ok_or_else(truncated)?)
                    .ok_or_else(truncated)?
            };
            raw.push((
                u32_at(b, at).ok_or_else(truncated)?,
                Section {
                    name: String::new(),
                    kind,
                    flags: u64_at(b, at + 8).ok_or_else(truncated)?,
                    size,
                    link: u32_at(b, at + 0x28).ok_or_else(truncated)?,
                    info: u32_at(b, at + 0x2c).ok_or_else(truncated)?,
                    bytes,
                },
            ));
        }
        let names = raw
            .get(shstrndx)
            .map(|(_, s)| s.bytes)
            .ok_or_else(truncated)?;
        let secs: Vec<Section<'_>> = raw
            .into_iter()
            .map(|(n, s)| Section {
                name: cstr(names, n as usize),
                ..s
            })
            .collect();

        let symtab = secs
            .iter()
            .find(|s| s.kind == SHT_SYMTAB)
            .ok_or_else(|| bad("no symbol table"))?;
        let strtab = secs
            .get(symtab.link as usize)
            .map(|s| s.bytes)
            .unwrap_or(&[]);
        let syms: Vec<Symbol> = symtab
            .bytes
            .chunks_exact(24)
            .map(|e| Symbol {
                name: cstr(strtab, u32_at(e, 0).unwrap_or(0) as usize),
                kind: e[4] & 0xf,
                shndx: u16_at(e, 6).unwrap_or(0),
                value: u64_at(e, 8).unwrap_or(0),
            })
            .collect();

        let (prog_idx, prog) = secs
            .iter()
            .enumerate()
            .find(|(_, s)| s.flags & SHF_EXECINSTR != 0 && s.size > 0 && s.name.starts_with("xdp"))
            .ok_or_else(|| bad("no XDP program (an executable section named xdp...)"))?;
        if prog.size % 8 != 0 {
            return Err(bad(&format!(
                "section '{}' is not whole instructions",
                prog.name
            )));
        }
        let insns: Vec<Insn> = prog
            .bytes
            .chunks_exact(8)
            .map(|c| Insn::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        let name = syms
            .iter()
            .find(|s| s.kind == STT_FUNC && s.shndx as usize == prog_idx)
            .map_or_else(|| prog.name.clone(), |s| s.name.clone());
        let xsks = syms
            .iter()
            .find(|s| {
                s.name == "xsks_map"
                    && secs
                        .get(s.shndx as usize)
                        .is_some_and(|m| m.name == ".maps" || m.name == "maps")
            })
            .ok_or_else(|| bad("has no map named xsks_map (in section .maps)"))?;
        let xsks_shndx = xsks.shndx;
        let license = secs
            .iter()
            .find(|s| s.name == "license")
            .map_or_else(String::new, |s| cstr(s.bytes, 0));

        let mut data: Vec<DataSection> = Vec::new();
        let mut data_of = Vec::new(); // (section index, data index)
        let mut relocs = Vec::new();
        for rel in secs
            .iter()
            .filter(|s| s.kind == SHT_REL && s.info as usize == prog_idx)
        {
            for e in rel.bytes.chunks_exact(16) {
                let off = u64_at(e, 0).unwrap_or(0) as usize;
                let info = u64_at(e, 8).unwrap_or(0);
                let (sym_i, kind) = ((info >> 32) as usize, info as u32);
                let sym = syms
                    .get(sym_i)
                    .ok_or_else(|| bad("a relocation names a symbol that does not exist"))?;
                let at = off / 8;
                let what = if sym.name.is_empty() {
                    "a section"
                } else {
                    &sym.name
                };
                if kind != R_BPF_64_64
                    || !off.is_multiple_of(8)
                    || insns.get(at).is_none_or(|i| i.code() != LD_IMM64_CODE)
                    || at + 1 >= insns.len()
                {
                    return Err(bad(&format!(
                        "relocation of type {kind} to {what} at instruction {at}: only map and \
                         global data references are supported (no calls into other sections)"
                    )));
                }
                let target = if sym.shndx == xsks_shndx {
                    if sym.name != "xsks_map" {
                        return Err(bad(&format!(
                            "the program uses map '{what}': only xsks_map is supported"
                        )));
                    }
                    Target::XsksMap
                } else {
                    let sec = secs.get(sym.shndx as usize).ok_or_else(|| {
                        bad(&format!("{what} is in a section that does not exist"))
                    })?;
                    if !matches!(sec.name.as_str(), ".data" | ".rodata" | ".bss")
                        && !sec.name.starts_with(".rodata.")
                    {
                        return Err(bad(&format!(
                            "the program refers to {what} in section '{}': only xsks_map and \
                             .data, .rodata and .bss are supported",
                            sec.name
                        )));
                    }
                    let d = match data_of.iter().find(|(s, _)| *s == sym.shndx) {
                        Some(&(_, d)) => d,
                        None => {
                            data.push(DataSection {
                                name: sec.name.clone(),
                                bytes: if sec.kind == SHT_NOBITS {
                                    vec![0; sec.size]
                                } else {
                                    sec.bytes.to_vec()
                                },
                            });
                            data_of.push((sym.shndx, data.len() - 1));
                            data.len() - 1
                        }
                    };
                    Target::Data {
                        section: d,
                        offset: insns[at].imm().wrapping_add(sym.value as i32),
                    }
                };
                relocs.push((at, target));
            }
        }
        if !relocs.iter().any(|(_, t)| *t == Target::XsksMap) {
            return Err(bad("the program never refers to xsks_map"));
        }
        Ok(XdpObject {
            name,
            license,
            data,
            insns,
            relocs,
        })
    }

    /// The instructions with the map references pointed at `xsks_map` (a descriptor) and the
    /// data sections' maps (`data_maps[i]` for [`XdpObject::data`]`[i]`).
    pub fn relocated(&self, xsks_map: i32, data_maps: &[i32]) -> Vec<Insn> {
        let mut out = self.insns.clone();
        for &(at, target) in &self.relocs {
            match target {
                Target::XsksMap => {
                    out[at] = out[at].with_src_imm(PSEUDO_MAP_FD_SRC, xsks_map);
                }
                Target::Data { section, offset } => {
                    let fd = data_maps.get(section).copied().unwrap_or(-1);
                    out[at] = out[at].with_src_imm(PSEUDO_MAP_VALUE, fd);
                    out[at + 1] = out[at + 1].with_src_imm(0, offset);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_objects_are_refused() {
        let e = XdpObject::parse("x.o", b"hello").unwrap_err();
        assert!(e.contains("x.o': not an ELF object"), "{e}");
        let mut elf = vec![0u8; 64];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        elf[5] = 1;
        elf[16] = 1;
        elf[18] = 62; // x86-64
        let e = XdpObject::parse("y.o", &elf).unwrap_err();
        assert!(
            e.contains("not a little-endian 64-bit BPF relocatable object"),
            "{e}"
        );
        elf[18] = 247;
        let e = XdpObject::parse("z.o", &elf).unwrap_err();
        assert!(e.contains("truncated or malformed section table"), "{e}");
    }
}
