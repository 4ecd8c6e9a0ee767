//! DPDK's EAL command line: parsing `argv` into [`EalOptions`].
//!
//! Flags follow DPDK's `getopt_long` conventions: `-l 0-3` and `-l0-3`, `--lcores 0-3` and
//! `--lcores=0-3`, grouped value-less short flags (`-vh`), and `--` ending the EAL's part of the
//! command line. Parsing has no side effects; [`crate::init`] acts on the result.

mod lcores;
mod usage;

use std::path::PathBuf;

pub use lcores::{LcoreMap, parse_coremask, parse_lcores};
pub use usage::usage;

use crate::bus::{Devargs, PciAddr};
use crate::error::{Error, Result};
use crate::logging::LogSetting;

/// The default `--file-prefix`: hugepage files are named `rpdkmap_<n>`.
pub const DEFAULT_FILE_PREFIX: &str = "rpdk";

/// How addresses given to devices are formed (`--iova-mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IovaMode {
    /// Physical addresses (needs root to read `/proc/self/pagemap`).
    Pa,
    /// Virtual addresses (for an IOMMU, or software drivers).
    Va,
}

/// `--proc-type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ProcType {
    /// The process that owns the memory (the default).
    #[default]
    Primary,
    /// A process that attaches to a primary's memory.
    Secondary,
    /// Secondary if a primary with the same file prefix runs, primary otherwise.
    Auto,
}

/// `--huge-unlink[=existing|always|never]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HugeUnlink {
    /// Remove stale hugepage files of this prefix at start and ours at exit (the default).
    #[default]
    Existing,
    /// Also unlink each hugepage file right after it is mapped (`--huge-unlink`).
    Always,
    /// Leave hugepage files in place, at start and at exit.
    Never,
}

/// Which flag set the lcores, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LcoreSpec {
    /// The flag as written: `-l`, `--lcores` or `-c`.
    pub flag: String,
    /// Its value.
    pub value: String,
    /// Lcore id to CPU set.
    pub map: LcoreMap,
}

/// Every EAL flag, parsed.
#[derive(Clone, Debug, Default)]
pub struct EalOptions {
    /// `-l`/`--lcores`/`-c`; `None` means one lcore per CPU the process may run on.
    pub lcores: Option<LcoreSpec>,
    /// `--main-lcore`; `None` means the lowest lcore.
    pub main_lcore: Option<u32>,
    /// `-n`: memory channels, used by mempools to spread objects.
    pub memory_channels: Option<u32>,
    /// `-r`: memory ranks.
    pub memory_ranks: Option<u32>,
    /// `-m`: megabytes of memory to reserve at start.
    pub memory_mb: Option<u64>,
    /// `--socket-mem`/`--numa-mem`: megabytes to reserve at start, per NUMA node.
    pub socket_mem: Option<Vec<u64>>,
    /// `--huge-dir`.
    pub huge_dir: Option<PathBuf>,
    /// `--huge-unlink`.
    pub huge_unlink: HugeUnlink,
    /// `--file-prefix`.
    pub file_prefix: Option<String>,
    /// `--no-huge`: 4 KiB pages instead of hugepages.
    pub no_huge: bool,
    /// `--in-memory`: anonymous hugepage memory, no files at all.
    pub in_memory: bool,
    /// `--no-shconf`: no runtime directory or shared config file.
    pub no_shconf: bool,
    /// `--iova-mode`; `None` lets the EAL choose.
    pub iova_mode: Option<IovaMode>,
    /// `--proc-type`.
    pub proc_type: ProcType,
    /// `--no-pci`.
    pub no_pci: bool,
    /// `-a`/`--allow`: PCI devices to use, with their arguments.
    pub allow: Vec<Devargs>,
    /// `-b`/`--block`: PCI devices not to use.
    pub block: Vec<PciAddr>,
    /// `--vdev`: virtual devices.
    pub vdevs: Vec<Devargs>,
    /// `--log-level`, in order.
    pub log_levels: Vec<LogSetting>,
    /// `--mbuf-pool-ops-name`: the mempool ops of packet-buffer pools (checked by the mbuf
    /// library, which knows the names).
    pub mbuf_pool_ops_name: Option<String>,
    /// `--no-telemetry`: no telemetry socket (`--telemetry`, the default, changes nothing).
    pub no_telemetry: bool,
    /// `-v`: print the version at start.
    pub show_version: bool,
    /// Warnings about the command line (deprecated flags), logged by [`crate::init`] once the
    /// log levels are set.
    pub warnings: Vec<String>,
}

impl EalOptions {
    /// The file prefix in effect.
    pub fn file_prefix(&self) -> &str {
        self.file_prefix.as_deref().unwrap_or(DEFAULT_FILE_PREFIX)
    }
}

/// What a parse produced: options, or a request to print something and stop.
#[derive(Debug)]
pub enum Parsed {
    /// Options and the application's arguments (those after `--`).
    Run(Box<EalOptions>, Vec<String>),
    /// `-h`/`--help`: print [`usage`] and exit 0.
    Help,
    /// `--log-level=help`: print the log types and levels and exit 0.
    LogHelp,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Arg {
    None,
    Required,
    Optional,
}

/// (long name, short name, argument).
const FLAGS: &[(&str, Option<char>, Arg)] = &[
    ("lcores", Some('l'), Arg::Required),
    ("", Some('c'), Arg::Required),
    ("main-lcore", None, Arg::Required),
    ("", Some('n'), Arg::Required),
    ("", Some('r'), Arg::Required),
    ("", Some('m'), Arg::Required),
    ("socket-mem", None, Arg::Required),
    ("numa-mem", None, Arg::Required),
    ("huge-dir", None, Arg::Required),
    ("huge-unlink", None, Arg::Optional),
    ("file-prefix", None, Arg::Required),
    ("no-huge", None, Arg::None),
    ("in-memory", None, Arg::None),
    ("no-shconf", None, Arg::None),
    ("iova-mode", None, Arg::Required),
    ("proc-type", None, Arg::Required),
    ("no-pci", None, Arg::None),
    ("allow", Some('a'), Arg::Required),
    ("block", Some('b'), Arg::Required),
    ("vdev", None, Arg::Required),
    ("log-level", None, Arg::Required),
    ("", Some('v'), Arg::None),
    ("help", Some('h'), Arg::None),
    ("no-telemetry", None, Arg::None),
    ("telemetry", None, Arg::None),
    // Accepted for command-line compatibility with DPDK; see docs/eal.md.
    ("mbuf-pool-ops-name", None, Arg::Required),
    ("no-hpet", None, Arg::None),
    ("single-file-segments", None, Arg::None),
];

/// One flag occurrence: its canonical name (long name, or the short letter), how it was
/// written, and its value.
struct Occurrence {
    name: String,
    written: String,
    value: Option<String>,
}

/// Splits `args` (without the program name) into flag occurrences and application arguments.
fn tokenize(args: &[String]) -> Result<(Vec<Occurrence>, Vec<String>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            return Ok((out, args[i..].to_vec()));
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, attached) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let (lname, _, kind) = FLAGS
                .iter()
                .find(|(l, _, _)| !l.is_empty() && *l == name)
                .ok_or_else(|| Error::UnknownOption(format!("--{name}")))?;
            let written = format!("--{lname}");
            let value = match (kind, attached) {
                (Arg::None, Some(v)) => {
                    return Err(Error::UnexpectedValue {
                        flag: written,
                        value: v,
                    });
                }
                (Arg::None, None) | (Arg::Optional, None) => None,
                (_, Some(v)) => Some(v),
                (Arg::Required, None) => match args.get(i) {
                    Some(v) => {
                        i += 1;
                        Some(v.clone())
                    }
                    None => return Err(Error::MissingValue(written)),
                },
            };
            out.push(Occurrence {
                name: lname.to_string(),
                written,
                value,
            });
        } else if arg.len() > 1 && arg.starts_with('-') {
            for (pos, c) in arg[1..].char_indices() {
                let (lname, short, kind) = FLAGS
                    .iter()
                    .find(|(_, s, _)| *s == Some(c))
                    .ok_or_else(|| Error::UnknownOption(format!("-{c}")))?;
                let written = format!("-{c}");
                let name = if lname.is_empty() {
                    short.map(String::from).unwrap_or_default()
                } else {
                    lname.to_string()
                };
                if *kind == Arg::None {
                    out.push(Occurrence {
                        name,
                        written,
                        value: None,
                    });
                    continue;
                }
                let rest = &arg[1 + pos + c.len_utf8()..];
                let value = if !rest.is_empty() {
                    rest.to_string()
                } else {
                    match args.get(i) {
                        Some(v) => {
                            i += 1;
                            v.clone()
                        }
                        None => return Err(Error::MissingValue(written)),
                    }
                };
                out.push(Occurrence {
                    name,
                    written,
                    value: Some(value),
                });
                break;
            }
        } else {
            return Err(Error::UnexpectedArgument(arg.clone()));
        }
    }
    Ok((out, Vec::new()))
}

fn parse_u32(flag: &str, v: &str, min: u32, max: u32) -> Result<u32> {
    let n: u32 = v
        .trim()
        .parse()
        .map_err(|_| Error::invalid(flag, v, "not a number"))?;
    if n < min || n > max {
        return Err(Error::invalid(
            flag,
            v,
            format!("must be between {min} and {max}"),
        ));
    }
    Ok(n)
}

fn parse_megabytes(flag: &str, v: &str) -> Result<u64> {
    v.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n <= (1 << 40))
        .ok_or_else(|| Error::invalid(flag, v, "not a number of megabytes"))
}

/// Parses an EAL command line. `args` includes the program name (`argv[0]`).
pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<Parsed> {
    let args: Vec<String> = args
        .iter()
        .skip(1)
        .map(|s| s.as_ref().to_string())
        .collect();
    let (occurrences, app_args) = tokenize(&args)?;
    let mut o = EalOptions::default();
    let mut mem_flag: Option<String> = None;
    let mut unlink_flag: Option<String> = None;
    for occ in occurrences {
        let flag = occ.written.as_str();
        let v = occ.value.as_deref().unwrap_or("");
        match occ.name.as_str() {
            "help" => return Ok(Parsed::Help),
            "lcores" | "c" => {
                if let Some(prev) = &o.lcores {
                    return Err(Error::Conflict(prev.flag.clone(), flag.to_string()));
                }
                let map = if occ.name == "c" {
                    parse_coremask(v)
                } else {
                    parse_lcores(v)
                }
                .map_err(|reason| Error::invalid(flag, v, reason))?;
                if occ.name == "c" {
                    let list: Vec<String> = map.keys().map(u32::to_string).collect();
                    o.warnings.push(format!(
                        "-c COREMASK is deprecated; use -l CORELIST (here: -l {})",
                        list.join(",")
                    ));
                }
                o.lcores = Some(LcoreSpec {
                    flag: flag.to_string(),
                    value: v.to_string(),
                    map,
                });
            }
            "main-lcore" => {
                o.main_lcore = Some(parse_u32(flag, v, 0, crate::lcore::MAX_LCORE - 1)?);
            }
            "n" => o.memory_channels = Some(parse_u32(flag, v, 1, 64)?),
            "r" => o.memory_ranks = Some(parse_u32(flag, v, 1, 16)?),
            "m" => {
                let mb = parse_megabytes(flag, v)?;
                if mb == 0 {
                    return Err(Error::invalid(flag, v, "must be more than 0"));
                }
                o.memory_mb = Some(mb);
                if let Some(prev) = mem_flag.replace(flag.to_string())
                    && prev != "-m"
                {
                    return Err(Error::Conflict(prev, flag.to_string()));
                }
            }
            "socket-mem" | "numa-mem" => {
                if v.trim().is_empty() {
                    return Err(Error::invalid(flag, v, "empty list"));
                }
                let list = v
                    .split(',')
                    .map(|p| {
                        parse_megabytes(flag, p).map_err(|_| {
                            Error::invalid(flag, v, format!("'{p}' is not a number of megabytes"))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                o.socket_mem = Some(list);
                if let Some(prev) = mem_flag.replace(flag.to_string())
                    && prev == "-m"
                {
                    return Err(Error::Conflict(prev, flag.to_string()));
                }
            }
            "mbuf-pool-ops-name" => {
                if v.is_empty() {
                    return Err(Error::invalid(flag, v, "empty name"));
                }
                o.mbuf_pool_ops_name = Some(v.to_string());
            }
            "huge-dir" => {
                if v.is_empty() {
                    return Err(Error::invalid(flag, v, "empty path"));
                }
                o.huge_dir = Some(PathBuf::from(v));
            }
            "huge-unlink" => {
                o.huge_unlink = match occ.value.as_deref() {
                    None | Some("always") => HugeUnlink::Always,
                    Some("existing") => HugeUnlink::Existing,
                    Some("never") => HugeUnlink::Never,
                    Some(other) => {
                        return Err(Error::invalid(
                            flag,
                            other,
                            "expected 'existing', 'always' or 'never'",
                        ));
                    }
                };
                unlink_flag = Some(match occ.value {
                    Some(val) => format!("{flag}={val}"),
                    None => flag.to_string(),
                });
            }
            "file-prefix" => {
                if v.is_empty() {
                    return Err(Error::invalid(flag, v, "empty prefix"));
                }
                if v.contains(['%', '/']) || v == "." || v == ".." {
                    return Err(Error::invalid(
                        flag,
                        v,
                        "the prefix must not contain '%' or '/'",
                    ));
                }
                o.file_prefix = Some(v.to_string());
            }
            "no-huge" => o.no_huge = true,
            "in-memory" => o.in_memory = true,
            "no-shconf" => o.no_shconf = true,
            "iova-mode" => {
                o.iova_mode = Some(match v {
                    "pa" => IovaMode::Pa,
                    "va" => IovaMode::Va,
                    _ => return Err(Error::invalid(flag, v, "expected 'pa' or 'va'")),
                });
            }
            "proc-type" => {
                o.proc_type = match v.to_ascii_lowercase().as_str() {
                    "primary" => ProcType::Primary,
                    "secondary" => ProcType::Secondary,
                    "auto" => ProcType::Auto,
                    _ => {
                        return Err(Error::invalid(
                            flag,
                            v,
                            "expected 'primary', 'secondary' or 'auto'",
                        ));
                    }
                };
            }
            "no-pci" => o.no_pci = true,
            "allow" => {
                if !o.block.is_empty() {
                    return Err(Error::Conflict("-b/--block".into(), flag.to_string()));
                }
                let d = Devargs::parse_pci(v).map_err(|reason| Error::invalid(flag, v, reason))?;
                o.allow.push(d);
            }
            "block" => {
                if !o.allow.is_empty() {
                    return Err(Error::Conflict("-a/--allow".into(), flag.to_string()));
                }
                let d = Devargs::parse_pci(v).map_err(|reason| Error::invalid(flag, v, reason))?;
                if !d.args().is_empty() {
                    return Err(Error::invalid(
                        flag,
                        v,
                        "a blocked device takes no arguments",
                    ));
                }
                o.block
                    .push(d.pci_addr().expect("parse_pci gives a PCI address"));
            }
            "vdev" => {
                let d = Devargs::parse_vdev(v).map_err(|reason| Error::invalid(flag, v, reason))?;
                if o.vdevs.iter().any(|x| x.name() == d.name()) {
                    return Err(Error::invalid(
                        flag,
                        v,
                        format!("device '{}' is given twice", d.name()),
                    ));
                }
                o.vdevs.push(d);
            }
            "log-level" => {
                if v == "help" {
                    return Ok(Parsed::LogHelp);
                }
                let s = LogSetting::parse(v).map_err(|reason| Error::invalid(flag, v, reason))?;
                o.log_levels.push(s);
            }
            "v" => o.show_version = true,
            "no-telemetry" => o.no_telemetry = true,
            // As in DPDK, --telemetry does not undo --no-telemetry.
            "telemetry" | "no-hpet" | "single-file-segments" => {}
            other => unreachable!("flag table entry '{other}' without a handler"),
        }
    }
    check_conflicts(&o, mem_flag.as_deref(), unlink_flag.as_deref())?;
    Ok(Parsed::Run(Box::new(o), app_args))
}

fn check_conflicts(o: &EalOptions, mem_flag: Option<&str>, unlink: Option<&str>) -> Result<()> {
    if o.no_huge {
        if let Some(f) = mem_flag.filter(|f| *f != "-m") {
            return Err(Error::Conflict(f.to_string(), "--no-huge".into()));
        }
        if o.huge_unlink == HugeUnlink::Always && !o.in_memory {
            return Err(Error::Conflict(
                unlink.unwrap_or("--huge-unlink").into(),
                "--no-huge".into(),
            ));
        }
    }
    if o.in_memory && o.huge_unlink == HugeUnlink::Never {
        return Err(Error::Conflict(
            "--in-memory".into(),
            "--huge-unlink=never".into(),
        ));
    }
    if let (Some(main), Some(spec)) = (o.main_lcore, &o.lcores)
        && !spec.map.contains_key(&main)
    {
        return Err(Error::invalid(
            "--main-lcore",
            &main.to_string(),
            format!(
                "lcore {main} is not in the lcore set given by {} {}",
                spec.flag, spec.value
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
