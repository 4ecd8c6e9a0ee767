//! DPDK's EAL command line: parsing `argv` into [`EalOptions`].
//!
//! Flags follow DPDK's `getopt_long` conventions: `-l 0-3` and `-l0-3`, `--lcores 0-3` and
//! `--lcores=0-3`, grouped value-less short flags (`-vh`), and `--` ending the EAL's part of the
//! command line; words before it that are not flags go to the application, as in DPDK 26.07. Parsing has no side effects; [`crate::init`] acts on the result.

mod lcores;
mod usage;
mod values;

use std::path::PathBuf;

pub use lcores::{LcoreMap, parse_coremask, parse_cpus, parse_lcores, remap};
pub use usage::usage;
pub use values::{PageSizeLimit, VfioIntr, WorkerStack, parse_size};

use crate::bus::{Devargs, PciAddr};
use crate::error::{Error, Result};
use crate::logging::{LogColor, LogSetting, LogTimestamp, SyslogFacility};

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

/// The service lcores and the flag that gave them, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceSpec {
    /// `-s` or `-S`.
    pub flag: String,
    /// Its value.
    pub value: String,
    /// The lcore ids, in increasing order.
    pub lcores: Vec<u32>,
}

/// Every EAL flag, parsed.
#[derive(Clone, Debug, Default)]
pub struct EalOptions {
    /// `-l`/`--lcores`/`-c`; `None` means one lcore per CPU the process may run on.
    pub lcores: Option<LcoreSpec>,
    /// `--main-lcore`; `None` means the lowest lcore.
    pub main_lcore: Option<u32>,
    /// `-s COREMASK`/`-S CORELIST`: the service lcores (DPDK's `ROLE_SERVICE`), which run
    /// `rte_service` services and are not handed work by the launch calls.
    pub service_lcores: Option<ServiceSpec>,
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
    /// `--no-auto-probing`: probe only the devices `-a` and `--vdev` name, no PCI scan-all.
    pub no_auto_probing: bool,
    /// `--log-level`, in order.
    pub log_levels: Vec<LogSetting>,
    /// `--log-timestamp`.
    pub log_timestamp: LogTimestamp,
    /// `--log-color`.
    pub log_color: LogColor,
    /// `--syslog`: also send log messages to the system logger with this facility.
    pub syslog: Option<SyslogFacility>,
    /// `--legacy-mem`: all memory mapped at start (`-m`/`--socket-mem`, or every free
    /// hugepage), never grown or given back.
    pub legacy_mem: bool,
    /// `--pagesz-mem`: the most memory of each page size, in the order given (a page size given
    /// twice keeps the later limit).
    pub pagesz_mem: Vec<PageSizeLimit>,
    /// `--base-virtaddr`: where to place the first heap (rounded up to 16 MiB), a hint.
    pub base_virtaddr: Option<u64>,
    /// `--vfio-intr`: interrupt mode for VFIO devices (rpdk's PCI drivers poll; kept for them).
    pub vfio_intr: Option<VfioIntr>,
    /// `--create-uio-dev`: accepted; rpdk never creates `/dev/uioX` nodes (udev does).
    pub create_uio_dev: bool,
    /// `--huge-worker-stack`: the stack size of worker lcore threads.
    pub huge_worker_stack: Option<WorkerStack>,
    /// `-R`/`--remap-lcore-ids[=base]`: lcore ids from `base` up, one per CPU, whatever the
    /// CPUs' numbers.
    pub remap_lcore_ids: Option<u32>,
    /// `--numa-limit`/`--socket-limit`: the most megabytes each NUMA node's heap maps (0: no
    /// limit).
    pub numa_limit: Option<Vec<u64>>,
    /// `--match-allocations`: accepted (rpdk gives back only whole free pages at a heap's end).
    pub match_allocations: bool,
    /// `--force-max-simd-bitwidth`: the widest vectors code may use (rpdk chooses no vector
    /// paths at run time: kept for applications).
    pub max_simd_bitwidth: Option<u32>,
    /// `--vmware-tsc-map`: accepted; rpdk reads the TSC with `rdtsc` in any case.
    pub vmware_tsc_map: bool,
    /// `--vfio-vf-token`: the VF token (UUID) shared by an SR-IOV PF and its VFs.
    pub vfio_vf_token: Option<[u8; 16]>,
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
    ("main-lcore", None, Arg::Required),
    ("service-coremask", Some('s'), Arg::Required),
    ("service-corelist", Some('S'), Arg::Required),
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
    ("log-timestamp", None, Arg::Optional),
    ("log-color", None, Arg::Optional),
    ("syslog", None, Arg::Optional),
    ("auto-probing", None, Arg::None),
    ("no-auto-probing", Some('A'), Arg::None),
    ("legacy-mem", None, Arg::None),
    ("pagesz-mem", None, Arg::Required),
    ("base-virtaddr", None, Arg::Required),
    ("vfio-intr", None, Arg::Required),
    ("create-uio-dev", None, Arg::None),
    ("huge-worker-stack", None, Arg::Optional),
    ("remap-lcore-ids", Some('R'), Arg::Optional),
    ("numa-limit", None, Arg::Required),
    ("socket-limit", None, Arg::Required),
    ("match-allocations", None, Arg::None),
    ("force-max-simd-bitwidth", None, Arg::Required),
    ("vmware-tsc-map", None, Arg::None),
    ("vfio-vf-token", None, Arg::Required),
    ("version", Some('v'), Arg::None),
    ("help", Some('h'), Arg::None),
    ("memory-channels", Some('n'), Arg::Required),
    ("memory-ranks", Some('r'), Arg::Required),
    ("memory-size", Some('m'), Arg::Required),
    ("coremask", Some('c'), Arg::Required),
    ("mbuf-pool-ops-name", None, Arg::Required),
    ("no-telemetry", None, Arg::None),
    ("telemetry", None, Arg::None),
    // Accepted for command-line compatibility with DPDK; see docs/eal.md.
    ("no-hpet", None, Arg::None),
    ("single-file-segments", None, Arg::None),
];

/// The flags that may be given more than once (DPDK's list arguments).
const REPEATABLE: &[&str] = &["allow", "block", "vdev", "log-level", "pagesz-mem"];

/// One flag occurrence: its canonical name (long name, or the short letter), how it was
/// written, and its value.
struct Occurrence {
    name: String,
    written: String,
    value: Option<String>,
}

/// Splits `args` (without the program name) into flag occurrences and application arguments.
/// As DPDK 26.07, words before `--` that are not flags go to the application, ahead of those
/// after `--`.
fn tokenize(args: &[String]) -> Result<(Vec<Occurrence>, Vec<String>)> {
    let mut out = Vec::new();
    let mut stray = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            stray.extend_from_slice(&args[i..]);
            return Ok((out, stray));
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
                if *kind == Arg::Optional {
                    // An optional value is only ever attached: `-R5`, `-R=5`.
                    let value = rest.strip_prefix('=').unwrap_or(rest);
                    out.push(Occurrence {
                        name,
                        written,
                        value: (!rest.is_empty()).then(|| value.to_string()),
                    });
                    break;
                }
                let value = if !rest.is_empty() {
                    // `-l=0-3` as `-l0-3`, as DPDK's parser takes it.
                    rest.strip_prefix('=').unwrap_or(rest).to_string()
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
            stray.push(arg.clone());
        }
    }
    Ok((out, stray))
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

/// Parses `MB,MB...` (`--socket-mem`, `--numa-limit`).
fn parse_mb_list(flag: &str, v: &str) -> Result<Vec<u64>> {
    if v.trim().is_empty() {
        return Err(Error::invalid(flag, v, "empty list"));
    }
    v.split(',')
        .map(|p| {
            parse_megabytes(flag, p)
                .map_err(|_| Error::invalid(flag, v, format!("'{p}' is not a number of megabytes")))
        })
        .collect()
}

/// The lcores of `-l`/`--lcores` (or `-c` when `mask`) with value `v`, remapped when `-R` asks.
fn lcore_spec(o: &mut EalOptions, mask: bool, flag: &str, v: &str) -> Result<LcoreSpec> {
    let invalid = |reason: String| Error::invalid(flag, v, reason);
    let map = match o.remap_lcore_ids {
        Some(base) => remap(&parse_cpus(v, mask).map_err(invalid)?, base).map_err(invalid)?,
        None if mask => parse_coremask(v).map_err(invalid)?,
        None => parse_lcores(v).map_err(invalid)?,
    };
    if mask {
        let list: Vec<String> = map.keys().map(u32::to_string).collect();
        o.warnings.push(format!(
            "-c COREMASK is deprecated; use -l CORELIST (here: -l {})",
            list.join(",")
        ));
    }
    Ok(LcoreSpec {
        flag: flag.to_string(),
        value: v.to_string(),
        map,
    })
}

/// Parses an EAL command line. `args` includes the program name (`argv[0]`).
pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<Parsed> {
    let args: Vec<String> = args
        .iter()
        .skip(1)
        .map(|s| s.as_ref().to_string())
        .collect();
    let (occurrences, app_args) = tokenize(&args)?;
    let mut seen: Vec<&str> = Vec::new();
    for occ in &occurrences {
        if !REPEATABLE.contains(&occ.name.as_str()) {
            if seen.contains(&occ.name.as_str()) {
                return Err(Error::Repeated(occ.written.clone()));
            }
            seen.push(&occ.name);
        }
    }
    let mut o = EalOptions::default();
    // The memory flag given last, and whether it is -m.
    let mut mem_flag: Option<(String, bool)> = None;
    let mut unlink_flag: Option<String> = None;
    let mut auto_probing: Option<String> = None;
    let mut numa_limit_flag: Option<String> = None;
    // The lcore flag (whether it is -c, as written, its value), parsed once -R is known.
    let mut lcore_arg: Option<(bool, String, String)> = None;
    let mut single_file_segments = false;
    for occ in occurrences {
        let flag = occ.written.as_str();
        let v = occ.value.as_deref().unwrap_or("");
        match occ.name.as_str() {
            "help" => return Ok(Parsed::Help),
            "lcores" | "coremask" => {
                if let Some((_, prev, _)) = &lcore_arg {
                    return Err(Error::Conflict(prev.clone(), flag.to_string()));
                }
                lcore_arg = Some((occ.name == "coremask", flag.to_string(), v.to_string()));
            }
            "remap-lcore-ids" => {
                let base = match occ.value.as_deref() {
                    None => 0,
                    Some(b) => parse_u32(flag, b, 0, crate::lcore::MAX_LCORE - 1)?,
                };
                o.remap_lcore_ids = Some(base);
            }
            "numa-limit" | "socket-limit" => {
                o.numa_limit = Some(parse_mb_list(flag, v)?);
                numa_limit_flag = Some(flag.to_string());
            }
            "match-allocations" => o.match_allocations = true,
            "force-max-simd-bitwidth" => {
                o.max_simd_bitwidth = Some(
                    values::parse_simd_bitwidth(v)
                        .map_err(|reason| Error::invalid(flag, v, reason))?,
                );
            }
            "vmware-tsc-map" => o.vmware_tsc_map = true,
            "vfio-vf-token" => {
                o.vfio_vf_token =
                    Some(values::parse_uuid(v).map_err(|reason| Error::invalid(flag, v, reason))?);
            }
            "service-coremask" | "service-corelist" => {
                if let Some(prev) = &o.service_lcores {
                    return Err(Error::Conflict(prev.flag.clone(), flag.to_string()));
                }
                let map = if occ.name == "service-coremask" {
                    parse_coremask(v)
                } else {
                    parse_lcores(v)
                }
                .map_err(|reason| Error::invalid(flag, v, reason))?;
                if v.contains('@') || v.contains('(') || map.is_empty() {
                    return Err(Error::invalid(
                        flag,
                        v,
                        "service lcores are lcore ids, without '@' CPU sets",
                    ));
                }
                o.service_lcores = Some(ServiceSpec {
                    flag: flag.to_string(),
                    value: v.to_string(),
                    lcores: map.keys().copied().collect(),
                });
            }
            "main-lcore" => {
                o.main_lcore = Some(parse_u32(flag, v, 0, crate::lcore::MAX_LCORE - 1)?);
            }
            "memory-channels" => o.memory_channels = Some(parse_u32(flag, v, 1, 64)?),
            "memory-ranks" => o.memory_ranks = Some(parse_u32(flag, v, 1, 16)?),
            "memory-size" => {
                let mb = parse_megabytes(flag, v)?;
                if mb == 0 {
                    return Err(Error::invalid(flag, v, "must be more than 0"));
                }
                o.memory_mb = Some(mb);
                if let Some((prev, false)) = mem_flag.replace((flag.to_string(), true)) {
                    return Err(Error::Conflict(prev, flag.to_string()));
                }
            }
            "socket-mem" | "numa-mem" => {
                o.socket_mem = Some(parse_mb_list(flag, v)?);
                if let Some((prev, true)) = mem_flag.replace((flag.to_string(), false)) {
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
            "version" => o.show_version = true,
            "auto-probing" => auto_probing = Some(flag.to_string()),
            "no-auto-probing" => o.no_auto_probing = true,
            "log-timestamp" => {
                o.log_timestamp = LogTimestamp::parse(occ.value.as_deref())
                    .map_err(|reason| Error::invalid(flag, v, reason))?;
            }
            "log-color" => {
                o.log_color = LogColor::parse(occ.value.as_deref())
                    .map_err(|reason| Error::invalid(flag, v, reason))?;
            }
            "syslog" => {
                o.syslog = Some(match occ.value.as_deref() {
                    None => SyslogFacility::DAEMON,
                    Some(name) => SyslogFacility::parse(name)
                        .map_err(|reason| Error::invalid(flag, v, reason))?,
                });
            }
            "legacy-mem" => o.legacy_mem = true,
            "pagesz-mem" => {
                let p = values::parse_pagesz_mem(v)
                    .map_err(|reason| Error::invalid(flag, v, reason))?;
                match o.pagesz_mem.iter_mut().find(|q| q.page_size == p.page_size) {
                    Some(q) => {
                        o.warnings.push(format!(
                            "--pagesz-mem given twice for page size {} KiB: the later limit \
                             ({v}) is used",
                            p.page_size >> 10
                        ));
                        q.limit = p.limit;
                    }
                    None => o.pagesz_mem.push(p),
                }
            }
            "base-virtaddr" => {
                o.base_virtaddr = Some(
                    values::parse_base_virtaddr(v)
                        .map_err(|reason| Error::invalid(flag, v, reason))?,
                );
            }
            "vfio-intr" => {
                o.vfio_intr = Some(
                    values::parse_vfio_intr(v).map_err(|reason| Error::invalid(flag, v, reason))?,
                );
            }
            "create-uio-dev" => o.create_uio_dev = true,
            "huge-worker-stack" => {
                o.huge_worker_stack = Some(
                    values::parse_worker_stack(occ.value.as_deref())
                        .map_err(|reason| Error::invalid(flag, v, reason))?,
                );
            }
            "single-file-segments" => single_file_segments = true,
            "no-telemetry" => o.no_telemetry = true,
            // As in DPDK, --telemetry does not undo --no-telemetry.
            "telemetry" | "no-hpet" => {}
            other => unreachable!("flag table entry '{other}' without a handler"),
        }
    }
    if let Some((mask, flag, v)) = lcore_arg {
        o.lcores = Some(lcore_spec(&mut o, mask, &flag, &v)?);
    }
    if o.legacy_mem {
        if let Some(f) = numa_limit_flag {
            return Err(Error::Conflict(f, "--legacy-mem".into()));
        }
        if o.match_allocations {
            return Err(Error::Conflict(
                "--legacy-mem".into(),
                "--match-allocations".into(),
            ));
        }
    }
    if o.no_huge && o.match_allocations {
        return Err(Error::Conflict(
            "--no-huge".into(),
            "--match-allocations".into(),
        ));
    }
    let given = Given {
        mem: mem_flag,
        unlink: unlink_flag,
        auto_probing,
        single_file_segments,
    };
    check_conflicts(&o, &given)?;
    Ok(Parsed::Run(Box::new(o), app_args))
}

/// Flags whose only trace in [`EalOptions`] is not enough to report a conflict.
struct Given {
    /// The memory flag given last (`-m`, `--socket-mem`...), and whether it is `-m`.
    mem: Option<(String, bool)>,
    /// `--huge-unlink` as written, with its value.
    unlink: Option<String>,
    /// `--auto-probing` as written.
    auto_probing: Option<String>,
    /// `--single-file-segments`.
    single_file_segments: bool,
}

/// The pairs of flags DPDK 26.07 refuses together.
fn check_conflicts(o: &EalOptions, given: &Given) -> Result<()> {
    let conflict = |a: &str, b: &str| Err(Error::Conflict(a.to_string(), b.to_string()));
    if o.no_auto_probing {
        if let Some(f) = &given.auto_probing {
            return conflict(f, "--no-auto-probing");
        }
        if !o.block.is_empty() {
            return conflict("-b/--block", "--no-auto-probing");
        }
    }
    if !o.pagesz_mem.is_empty() {
        if o.no_huge {
            return conflict("--pagesz-mem", "--no-huge");
        }
        if o.legacy_mem {
            return conflict("--pagesz-mem", "--legacy-mem");
        }
    }
    if o.legacy_mem && o.in_memory {
        return conflict("--legacy-mem", "--in-memory");
    }
    if o.no_huge {
        if let Some((f, false)) = &given.mem {
            return conflict(f, "--no-huge");
        }
        if o.huge_worker_stack.is_some() {
            return conflict("--huge-worker-stack", "--no-huge");
        }
        if given.single_file_segments {
            return conflict("--single-file-segments", "--no-huge");
        }
    }
    if let Some(unlink) = &given.unlink {
        if o.no_huge {
            return conflict(unlink, "--no-huge");
        }
        if o.in_memory {
            return conflict("--in-memory", unlink);
        }
        if given.single_file_segments {
            return conflict("--single-file-segments", unlink);
        }
    }
    check_service_lcores(o)?;
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

/// The service lcores are lcores of the set, and not the main one.
fn check_service_lcores(o: &EalOptions) -> Result<()> {
    if let (Some(svc), Some(spec)) = (&o.service_lcores, &o.lcores)
        && let Some(l) = svc.lcores.iter().find(|l| !spec.map.contains_key(l))
    {
        return Err(Error::invalid(
            &svc.flag,
            &svc.value,
            format!(
                "service lcore {l} is not in the lcore set given by {} {}",
                spec.flag, spec.value
            ),
        ));
    }
    if let Some(svc) = &o.service_lcores {
        let main = o
            .main_lcore
            .or_else(|| o.lcores.as_ref().and_then(|s| s.map.keys().next().copied()));
        if let Some(main) = main
            && svc.lcores.contains(&main)
        {
            return Err(Error::invalid(
                &svc.flag,
                &svc.value,
                format!("lcore {main} is the main lcore, which cannot be a service lcore"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
