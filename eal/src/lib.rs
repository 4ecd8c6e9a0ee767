//! # rpdk-eal: the Environment Abstraction Layer
//!
//! The EAL is what every rpdk application starts with, as in DPDK: it parses DPDK's EAL flags
//! (`-l`, `--vdev`, `--file-prefix`, ...), starts one pinned thread per worker lcore, calibrates
//! the TSC, maps hugepage memory and hands out named memzones with their IOVAs, sets up logging,
//! and probes the devices the command line names.
//!
//! ```
//! use rpdk_eal::CallMain;
//!
//! fn main() -> Result<(), rpdk_eal::Error> {
//!     // As `helloworld -l 0 --no-huge --no-shconf -- app-args`:
//!     let (eal, app_args) = rpdk_eal::init([
//!         "helloworld", "-l", "0", "--no-huge", "--no-shconf", "--", "app-args",
//!     ])?;
//!     assert_eq!(app_args, ["app-args"]);
//!
//!     // Run a function on every lcore, the main one included.
//!     eal.mp_remote_launch(
//!         || {
//!             println!("hello from core {}", rpdk_eal::lcore::id().unwrap());
//!             0
//!         },
//!         CallMain::Call,
//!     )?;
//!     eal.mp_wait_lcore();
//!
//!     // Closures that borrow local data, with each lcore's result.
//!     let greeting = String::from("hi");
//!     for (lcore, len) in eal.run_on_lcores(|_lcore| greeting.len()) {
//!         assert_eq!(len?, 2, "lcore {lcore}");
//!     }
//!     Ok(())
//!     // `eal` drops here: workers are joined, memory unmapped, hugepage files removed.
//! }
//! ```
//!
//! ## What is where
//!
//! - [`mod@options`]: the command line, with DPDK's syntax and errors that name the flag and value;
//! - [`lcore`]: lcore ids, the main lcore, workers; launching is on [`Eal`];
//! - [`time`]: `rdtsc`, `tsc_hz`, delays;
//! - [`memory`] and [`memzone`]: hugepage heaps, memzones, `virt2iova`;
//! - [`logging`]: DPDK log types and levels over the `log` facade, with DPDK's timestamps,
//!   colours and syslog output;
//! - [`bus`]: devargs, driver registration and probing;
//! - [`telemetry`]: DPDK's telemetry socket, its data model and command registry;
//! - [`cpuset`]: CPU sets and affinity.
//!
//! ## Dependencies
//!
//! `libc` for the system calls (`mmap`, `flock`, `sched_setaffinity`, ...), `log` as the logging
//! facade, `regex` for `--log-level` regular expressions, `linkme` so that drivers and telemetry
//! commands register by being linked (as DPDK's constructors do), `thiserror` for the error
//! type. `core_affinity` was considered for pinning but pins to single cores only, and DPDK's
//! `(0-3)@(0-1)` needs CPU sets.
//! Syslog is a standard-library `UnixDatagram` to `/dev/log` rather than libc's `syslog(3)`
//! (process-global state and a variadic call), and `chrono` was not taken for the one
//! `localtime_r` call that log timestamps need.

pub mod bus;
pub mod cpuset;
mod error;
pub mod lcore;
pub mod logging;
pub mod memory;
pub mod mp;
pub mod options;
mod runtime;
pub mod service;
mod state;
pub mod telemetry;
pub mod time;

use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

pub use error::{Error, Result};
pub use lcore::{CallMain, LcoreState, Scope, ScopedJoinHandle};
pub use memory::memzone;
pub use options::EalOptions;
pub use time::{rdtsc, tsc_hz};

use cpuset::CpuSet;
use memory::{Memory, MemoryConfig, PageKind, hugetlbfs};
use options::{HugeUnlink, IovaMode, Parsed, ProcType};
use runtime::{Claim, RuntimeDir};
use state::{CmdLine, EalState};

/// rpdk's version, as `-v` prints it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Serialises init and cleanup.
static INIT_LOCK: Mutex<()> = Mutex::new(());

/// Initialises the EAL from a command line (DPDK's `rte_eal_init`). `args` starts with the
/// program name; the EAL's flags come next, then `--` and the application's arguments, which
/// are returned.
///
/// The calling thread becomes the main lcore and is pinned to its CPUs. `-h` prints the usage
/// to stdout and returns [`Error::HelpRequested`] (exit with [`Error::exit_code`], 0).
pub fn init<I, S>(args: I) -> Result<(Eal, Vec<String>)>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let args: Vec<String> = args.into_iter().map(|s| s.as_ref().to_string()).collect();
    let prog = args
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or(p).to_string())
        .unwrap_or_else(|| "rpdk".to_string());
    match options::parse(&args)? {
        Parsed::Help => {
            print!("{}", options::usage(&prog));
            Err(Error::HelpRequested)
        }
        Parsed::LogHelp => {
            print!("{}", logging::help_text());
            Err(Error::HelpRequested)
        }
        Parsed::Run(opts, app_args) => {
            let eal_args = args.iter().take_while(|a| *a != "--").cloned().collect();
            let cmdline = CmdLine {
                eal: eal_args,
                app: app_args.clone(),
            };
            init_inner(*opts, cmdline).map(|eal| (eal, app_args))
        }
    }
}

/// Whether the EAL is initialised in this process.
pub fn is_initialized() -> bool {
    state::is_set()
}

/// The options the running EAL was started with.
pub fn options() -> Option<EalOptions> {
    state::get().ok().map(|s| s.options.clone())
}

/// Whether this process is the primary or a secondary (DPDK's `rte_eal_process_type`), after
/// init; `--proc-type auto` is resolved.
pub fn process_type() -> Option<ProcType> {
    state::get().ok().map(|s| s.proc_type)
}

/// The number of memory channels (`-n`), used by mempools to spread objects; 4 when not given.
pub fn memory_channels() -> u32 {
    options().and_then(|o| o.memory_channels).unwrap_or(4)
}

/// The NUMA nodes of the machine, after init.
pub fn sockets() -> Vec<u32> {
    state::get().map(|s| s.sockets.clone()).unwrap_or_default()
}

/// Initialises the EAL from parsed options (for applications that build them in code).
pub fn init_with(opts: EalOptions) -> Result<Eal> {
    init_inner(opts, CmdLine::default())
}

fn init_inner(opts: EalOptions, cmdline: CmdLine) -> Result<Eal> {
    let _guard = INIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if state::is_set() {
        return Err(Error::AlreadyInitialized);
    }
    logging::reset();
    for setting in &opts.log_levels {
        logging::apply(setting);
    }
    logging::install();
    let output = logging::OutputConfig {
        timestamp: opts.log_timestamp,
        color: opts.log_color,
        syslog: opts.syslog,
    };
    if let Some(w) = logging::output::configure(output, &program_name()) {
        log::warn!(target: "lib.eal", "{w}");
    }
    for w in &opts.warnings {
        log::warn!(target: "lib.eal", "{w}");
    }
    if opts.show_version {
        log::error!(target: "lib.eal", "RTE Version: 'rpdk {VERSION}'");
    }
    if opts.proc_type == ProcType::Secondary && (opts.no_shconf || opts.in_memory) {
        return Err(Error::Conflict(
            "--proc-type secondary".into(),
            if opts.in_memory {
                "--in-memory"
            } else {
                "--no-shconf"
            }
            .into(),
        ));
    }

    let (lcore_map, main) = plan_lcores(&opts)?;
    log::info!(
        target: "lib.eal",
        "Detected CPU lcores: {}",
        cpuset::detected_cpus().len()
    );
    let sockets = cpuset::numa_nodes();
    log::info!(target: "lib.eal", "Detected NUMA nodes: {}", sockets.len());

    let hz = time::tsc_hz();
    log::info!(target: "lib.eal", "TSC frequency is ~{} KHz", hz / 1000);
    if !time::tsc_is_invariant() {
        log::warn!(target: "lib.eal", "TSC is not invariant: cycle-based time may drift");
    }

    let mut runtime = None;
    let mut secondary_dir = None;
    if !opts.no_shconf && !opts.in_memory {
        if opts.proc_type == ProcType::Secondary {
            secondary_dir = Some(RuntimeDir::of_primary(opts.file_prefix())?);
        } else {
            match RuntimeDir::claim(opts.file_prefix())? {
                Claim::Primary(dir) => runtime = Some(dir),
                Claim::Taken(lock) => {
                    if opts.proc_type != ProcType::Auto {
                        return Err(Error::PrefixInUse {
                            prefix: opts.file_prefix().to_string(),
                            lock,
                        });
                    }
                    log::info!(target: "lib.eal", "Auto-detected process type: SECONDARY");
                    secondary_dir = Some(RuntimeDir::of_primary(opts.file_prefix())?);
                }
            }
        }
    }

    let main_socket = lcore_map
        .get(&main)
        .and_then(CpuSet::first)
        .map(cpuset::cpu_socket)
        .unwrap_or(0);
    let mut shared = None;
    let memory = if let Some(dir) = &secondary_dir {
        mp::set_channel(Some(mp::Channel::start(dir, false)?));
        match memory::secondary::attach() {
            Ok(m) => Arc::new(m),
            Err(e) => {
                mp::set_channel(None);
                return Err(e);
            }
        }
    } else {
        if runtime.is_some() {
            shared = Some(Arc::new(memory::shared::SharedConfig::create()?));
        }
        let memory = Arc::new(setup_memory(&opts, &sockets, main_socket, shared.clone())?);
        if let Some(dir) = runtime.as_mut() {
            dir.describe(&describe(&opts, &memory))?;
            mp::set_channel(Some(mp::Channel::start(dir.path(), true)?));
        }
        if let Some(sh) = &shared {
            memory::secondary::register_primary_actions(memory.clone(), sh.clone());
        }
        memory
    };
    let proc_type = if secondary_dir.is_some() {
        ProcType::Secondary
    } else {
        ProcType::Primary
    };
    let table = shared.clone().or_else(|| memory.attached_config().cloned());
    if let Some(table) = &table {
        let ids: Vec<u32> = lcore_map.keys().copied().collect();
        if let Err((lcore, pid)) = table.claim_lcores(&ids, std::process::id()) {
            mp::set_channel(None);
            return Err(Error::Lcore {
                lcore,
                reason: format!(
                    "process {pid} of file prefix '{}' runs it: processes of one prefix share \
                     mempool caches by lcore id, so give each its own lcore ids (-l 2@0 runs \
                     lcore 2 on CPU 0)",
                    opts.file_prefix()
                ),
            });
        }
    }

    let stack = opts.huge_worker_stack.map(lcore::worker_stack_size);
    if let Some(bytes) = stack {
        log::debug!(target: "lib.eal", "each worker lcore gets a {} kB stack", bytes >> 10);
    }
    let lcores = match lcore::Lcores::start(&lcore_map, main, stack) {
        Ok(l) => l,
        Err(e) => {
            mp::set_channel(None);
            return Err(e);
        }
    };
    let main_info = lcores.main_info().clone();
    let saved_affinity = cpuset::thread_affinity().ok();
    if let Err(e) = cpuset::set_thread_affinity(&main_info.cpuset) {
        lcores.stop();
        mp::set_channel(None);
        return Err(Error::invalid(
            lcore_flag(&opts),
            &lcore_value(&opts),
            format!("cannot pin the main lcore {main}: {e}"),
        ));
    }
    lcore::set_current(Some(main), Some(main_info.socket));
    log::info!(
        target: "lib.eal",
        "Main lcore {main} is ready on CPUs {} (workers: {})",
        main_info.cpuset,
        lcores.infos().len() - 1
    );

    state::set(Arc::new(EalState {
        options: opts,
        proc_type,
        shared,
        memory,
        zones: Mutex::new(Vec::new()),
        lcores,
        sockets,
        main_socket,
        cmdline,
    }));
    let mut eal = Eal {
        runtime,
        telemetry: None,
        saved_affinity,
        cleaned: false,
        not_send: PhantomData,
    };

    let opts = state::get()?.options.clone();
    if let Some(svc) = &opts.service_lcores {
        service::init(&svc.lcores)?;
        log::info!(target: "lib.eal", "Service lcores: {:?}", svc.lcores);
    }
    drop(_guard);
    if !opts.no_telemetry {
        match start_telemetry(&opts, eal.saved_affinity.as_ref()) {
            Ok(server) => eal.telemetry = Some(server),
            Err(e) => {
                eal.teardown();
                return Err(e);
            }
        }
    }
    if proc_type == ProcType::Secondary {
        log::info!(target: "lib.eal", "secondary process: the devices are the primary's, none is probed here");
    } else if let Err(e) = bus::probe_all(&opts) {
        eal.teardown();
        return Err(e);
    }
    Ok(eal)
}

/// Starts the telemetry socket, its thread on the CPUs of the process's affinity that no lcore
/// uses, or on the main lcore's when the lcores use every one, as DPDK places its control
/// threads: never on a worker's CPU unless the main lcore shares it.
fn start_telemetry(opts: &EalOptions, affinity: Option<&CpuSet>) -> Result<telemetry::Server> {
    let all = affinity.cloned().unwrap_or_else(cpuset::detected_cpus);
    let state = state::get()?;
    let infos = state.lcores.infos();
    let used = infos
        .iter()
        .fold(CpuSet::default(), |acc, l| acc.union(&l.cpuset));
    let free = all.difference(&used);
    let cpus = if free.is_empty() {
        infos.iter().find(|l| l.is_main).map_or(all, |l| l.cpuset)
    } else {
        free
    };
    let server = telemetry::Server::start(&telemetry::socket_dir(opts.file_prefix()), cpus)?;
    telemetry::set_socket_path(Some(server.path().to_path_buf()));
    Ok(server)
}

/// The program's name, for syslog messages.
fn program_name() -> String {
    std::env::args()
        .next()
        .map(|p| p.rsplit('/').next().unwrap_or(&p).to_string())
        .unwrap_or_else(|| "rpdk".to_string())
}

fn lcore_flag(opts: &EalOptions) -> &str {
    opts.lcores.as_ref().map_or("-l", |s| s.flag.as_str())
}

fn lcore_value(opts: &EalOptions) -> String {
    opts.lcores
        .as_ref()
        .map_or_else(|| "(default)".to_string(), |s| s.value.clone())
}

/// The lcore map and main lcore: from the flags, or one lcore per CPU we may run on.
fn plan_lcores(opts: &EalOptions) -> Result<(options::LcoreMap, u32)> {
    let detected = cpuset::detected_cpus();
    let allowed = cpuset::thread_affinity()?;
    let map = match &opts.lcores {
        Some(spec) => {
            for (lcore, cpus) in &spec.map {
                for cpu in cpus.iter() {
                    // As DPDK, only CPUs that do not exist are refused here: the process's
                    // affinity may be narrower (a parent pinned it) and pinning widens it; a
                    // CPU the cgroup forbids fails when its lcore is pinned.
                    if !detected.contains(cpu) {
                        return Err(Error::invalid(
                            &spec.flag,
                            &spec.value,
                            format!(
                                "lcore {lcore}: CPU {cpu} does not exist (this machine has CPUs {detected})"
                            ),
                        ));
                    }
                }
            }
            spec.map.clone()
        }
        None => {
            let cpus: Vec<usize> = allowed.iter().filter(|&c| detected.contains(c)).collect();
            match opts.remap_lcore_ids {
                Some(base) => options::remap(&cpus, base).map_err(|reason| {
                    Error::invalid("--remap-lcore-ids", &base.to_string(), reason)
                })?,
                None => cpus
                    .into_iter()
                    .filter(|&c| c < lcore::MAX_LCORE as usize)
                    .map(|c| (c as u32, CpuSet::single(c)))
                    .collect(),
            }
        }
    };
    let main = match opts.main_lcore {
        Some(m) if map.contains_key(&m) => m,
        Some(m) => {
            return Err(Error::invalid(
                "--main-lcore",
                &m.to_string(),
                format!(
                    "lcore {m} is not enabled (lcores: {})",
                    map.keys().map(u32::to_string).collect::<Vec<_>>().join(",")
                ),
            ));
        }
        None => *map.keys().next().ok_or_else(|| {
            Error::invalid(lcore_flag(opts), &lcore_value(opts), "no usable lcore")
        })?,
    };
    Ok((map, main))
}

fn setup_memory(
    opts: &EalOptions,
    sockets: &[u32],
    main_socket: u32,
    shared: Option<Arc<memory::shared::SharedConfig>>,
) -> Result<Memory> {
    let (kind, page_size) = if opts.no_huge {
        log::warn!(target: "lib.eal", "--no-huge: using 4 KiB pages instead of hugepages; expect lower performance");
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        (PageKind::Small, page)
    } else if opts.in_memory {
        let page = match &opts.huge_dir {
            Some(_) => hugetlbfs::find_mount(opts.huge_dir.as_deref())?.page_size,
            None => hugetlbfs::default_page_size().ok_or_else(|| {
                Error::Hugepages(
                    "this kernel reports no hugepage size (no hugetlb support?)".into(),
                )
            })?,
        };
        hugetlbfs::check_available(page)?;
        (PageKind::HugeAnon, page)
    } else {
        let mount = hugetlbfs::find_mount(opts.huge_dir.as_deref())?;
        hugetlbfs::check_available(mount.page_size)?;
        if opts.huge_unlink != HugeUnlink::Never {
            hugetlbfs::remove_stale_files(&mount.path, opts.file_prefix());
        }
        (PageKind::HugeFile(mount.path), mount.page_size)
    };

    let phys = !opts.no_huge && memory::phys_addrs_available();
    let iova_mode = match opts.iova_mode {
        Some(IovaMode::Pa) if !phys => {
            return Err(Error::invalid(
                "--iova-mode",
                "pa",
                if opts.no_huge {
                    "physical addresses are not used with --no-huge".to_string()
                } else {
                    "physical addresses cannot be read (needs root: CAP_SYS_ADMIN)".to_string()
                },
            ));
        }
        Some(m) => (m, "as --iova-mode asks".to_string()),
        None => match bus::pci_needs_pa(opts) {
            Some(why) if phys => (
                IovaMode::Pa,
                format!("{why}: devices use physical addresses"),
            ),
            Some(why) => (
                IovaMode::Va,
                format!("{why}, but physical addresses cannot be read: the device will fail"),
            ),
            None if phys && !memory::iommu_present() => (
                IovaMode::Pa,
                "no IOMMU, and physical addresses are readable".to_string(),
            ),
            None if memory::iommu_present() => (IovaMode::Va, "an IOMMU is present".to_string()),
            None => (
                IovaMode::Va,
                "physical addresses cannot be read".to_string(),
            ),
        },
    };
    let (iova_mode, why) = iova_mode;
    log::info!(
        target: "lib.eal",
        "Selected IOVA mode '{}' ({why})",
        if iova_mode == IovaMode::Pa { "PA" } else { "VA" }
    );

    let limit = page_size_limit(opts, page_size);
    let mb = |m: u64| (m as usize) << 20;
    let mut prealloc: Vec<(u32, usize)> = match (&opts.socket_mem, opts.memory_mb) {
        (Some(list), _) => {
            let mut out = Vec::new();
            for (socket, &m) in list.iter().enumerate() {
                if m > 0 && !sockets.contains(&(socket as u32)) {
                    let v = list
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(",");
                    return Err(Error::invalid(
                        "--socket-mem",
                        &v,
                        format!("socket {socket} does not exist (sockets: {sockets:?})"),
                    ));
                }
                out.push((socket as u32, mb(m)));
            }
            out
        }
        (None, Some(m)) => vec![(main_socket, mb(m))],
        (None, None) => Vec::new(),
    };
    if opts.legacy_mem && prealloc.is_empty() {
        let all = legacy_default(&kind, page_size);
        log::info!(
            target: "lib.eal",
            "--legacy-mem without -m or --socket-mem: {} MiB mapped at start, and no more",
            all >> 20
        );
        prealloc.push((main_socket, all));
    }
    let asked = asked_memory(opts);
    check_prealloc(&asked, &prealloc, &kind, page_size, limit.as_ref())?;
    let cfg = MemoryConfig {
        kind,
        page_size,
        iova_mode,
        prefix: opts.file_prefix().to_string(),
        unlink: opts.huge_unlink,
        numa: sockets.len() > 1,
        fixed: opts.legacy_mem,
        limit,
        base_hint: opts.base_virtaddr.map(|a| a as usize),
        node_limits: match &opts.numa_limit {
            Some(list) => (
                list.iter().map(|&m| mb(m)).collect(),
                format!(
                    "--numa-limit={}",
                    list.iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            ),
            None => (Vec::new(), String::new()),
        },
        shared,
    };
    Memory::new(cfg, &prealloc).map_err(|e| match (e, &asked) {
        (Error::Hugepages(m) | Error::Memory(m), Some((flag, value))) => {
            Error::invalid(flag, value, m)
        }
        (e, _) => e,
    })
}

/// The memory flag given and its value, for messages: `("-m", "512")`.
fn asked_memory(opts: &EalOptions) -> Option<(&'static str, String)> {
    match (&opts.socket_mem, opts.memory_mb) {
        (Some(list), _) => Some((
            "--socket-mem",
            list.iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(","),
        )),
        (None, Some(m)) => Some(("-m", m.to_string())),
        (None, None) => None,
    }
}

/// The `--pagesz-mem` limit of the page size in use, with the flag as written; limits of other
/// page sizes are said to have no effect.
fn page_size_limit(opts: &EalOptions, page_size: usize) -> Option<(usize, String)> {
    let mut found = None;
    for p in &opts.pagesz_mem {
        let written = format!(
            "--pagesz-mem={}:{}",
            size_text(p.page_size),
            size_text(p.limit)
        );
        if p.page_size == page_size as u64 {
            found = Some((usize::try_from(p.limit).unwrap_or(usize::MAX), written));
        } else {
            log::info!(
                target: "lib.eal",
                "{written}: no effect, rpdk maps {} kB pages only",
                page_size >> 10
            );
        }
    }
    found
}

/// `2M`, `64M`, `1G`: a size in the largest binary unit that divides it.
fn size_text(bytes: u64) -> String {
    [(40, "T"), (30, "G"), (20, "M"), (10, "K")]
        .iter()
        .find(|(shift, _)| bytes > 0 && bytes.is_multiple_of(1u64 << shift))
        .map_or_else(
            || bytes.to_string(),
            |(shift, unit)| format!("{}{unit}", bytes >> shift),
        )
}

/// What `--legacy-mem` maps when no amount is given: every free hugepage (DPDK's static
/// layout), or 64 MiB of small pages with `--no-huge`.
fn legacy_default(kind: &PageKind, page_size: usize) -> usize {
    match kind {
        PageKind::Small => 64 << 20,
        _ => (hugetlbfs::available_pages(page_size) as usize * page_size)
            .min(memory::HEAP_VA_RESERVE),
    }
}

/// Fails, naming the flag and what it asked, when the memory to map at start is more than a
/// heap can hold, than `--pagesz-mem` allows, or than the free hugepages.
fn check_prealloc(
    asked: &Option<(&'static str, String)>,
    prealloc: &[(u32, usize)],
    kind: &PageKind,
    page_size: usize,
    limit: Option<&(usize, String)>,
) -> Result<()> {
    let Some((flag, value)) = asked else {
        return Ok(());
    };
    let mib = |b: usize| b >> 20;
    let total: usize = prealloc.iter().map(|(_, b)| b).sum();
    if *kind != PageKind::Small {
        let pages = hugetlbfs::available_pages(page_size);
        let free = pages as usize * page_size;
        if total > free {
            return Err(Error::invalid(
                flag,
                value,
                format!(
                    "{} MiB asked, but only {} MiB of {} kB hugepages are free ({pages} pages); {}",
                    mib(total),
                    mib(free),
                    page_size >> 10,
                    hugetlbfs::HOW_TO_RESERVE
                ),
            ));
        }
    }
    if let Some((bytes, limit_flag)) = limit
        && total > *bytes
    {
        return Err(Error::invalid(
            flag,
            value,
            format!(
                "{} MiB asked, but {limit_flag} allows {} MiB of {} kB pages",
                mib(total),
                mib(*bytes),
                page_size >> 10
            ),
        ));
    }
    for &(socket, bytes) in prealloc {
        if bytes > memory::HEAP_VA_RESERVE {
            return Err(Error::invalid(
                flag,
                value,
                format!(
                    "{} MiB asked on NUMA node {socket}, but one node's heap holds at most {} MiB",
                    mib(bytes),
                    mib(memory::HEAP_VA_RESERVE)
                ),
            ));
        }
    }
    Ok(())
}

fn describe(opts: &EalOptions, memory: &Memory) -> String {
    let mut text = format!(
        "pid={}\nversion=rpdk {VERSION}\nfile_prefix={}\npage_size={}\niova_mode={:?}\n",
        std::process::id(),
        opts.file_prefix(),
        memory.page_size(),
        memory.iova_mode()
    );
    for h in memory.stats() {
        text.push_str(&format!(
            "heap.{}.base={:#x}\nheap.{}.file={}\n",
            h.socket,
            h.base,
            h.socket,
            h.file.map(|f| f.display().to_string()).unwrap_or_default()
        ));
    }
    text
}

/// The running EAL. Dropping it cleans up (DPDK's `rte_eal_cleanup`): functions still running
/// on workers are waited for, devices removed, worker threads joined, hugepage files and the
/// runtime directory removed; memory is unmapped once the last memzone handle is gone.
///
/// It stays on the main lcore's thread (it is neither `Send` nor `Sync`), so launching work on
/// lcores, which DPDK allows only from the main lcore, can only be done from there.
pub struct Eal {
    runtime: Option<RuntimeDir>,
    telemetry: Option<telemetry::Server>,
    saved_affinity: Option<CpuSet>,
    cleaned: bool,
    not_send: PhantomData<*const ()>,
}

impl Eal {
    fn state(&self) -> Arc<EalState> {
        state::get().expect("the EAL is initialised while an Eal handle lives")
    }

    /// The main lcore.
    pub fn main_lcore(&self) -> u32 {
        self.state().lcores.main()
    }

    /// The worker lcores, in increasing order.
    pub fn workers(&self) -> Vec<u32> {
        lcore::workers()
    }

    /// Every enabled lcore, in increasing order.
    pub fn lcores(&self) -> Vec<u32> {
        lcore::list()
    }

    /// The number of enabled lcores.
    pub fn lcore_count(&self) -> u32 {
        lcore::count()
    }

    /// The state of worker `lcore`.
    pub fn lcore_state(&self, lcore: u32) -> Option<LcoreState> {
        lcore::state(lcore)
    }

    /// Runs `f` on worker lcore `worker` (DPDK's `rte_eal_remote_launch`). Fails if `worker` is
    /// not a worker lcore or has not been waited for since its last launch.
    pub fn remote_launch<F>(&self, worker: u32, f: F) -> Result<()>
    where
        F: FnOnce() -> i32 + Send + 'static,
    {
        self.state().lcores.remote_launch(worker, Box::new(f))
    }

    /// Waits for the function launched on `worker` and returns its value (DPDK's
    /// `rte_eal_wait_lcore`); 0 if nothing was launched. A panic is [`Error::Panicked`].
    pub fn wait_lcore(&self, worker: u32) -> Result<i32> {
        self.state().lcores.wait(worker)
    }

    /// Runs `f` on every worker, and with [`CallMain::Call`] on the main lcore too, returning
    /// the main lcore's value (DPDK's `rte_eal_mp_remote_launch`). Fails if a worker is busy.
    pub fn mp_remote_launch<F>(&self, f: F, call_main: CallMain) -> Result<Option<i32>>
    where
        F: Fn() -> i32 + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        self.state().lcores.mp_launch(f.clone())?;
        Ok(match call_main {
            CallMain::Call => Some(f()),
            CallMain::Skip => None,
        })
    }

    /// Waits for every worker (DPDK's `rte_eal_mp_wait_lcore`) and returns each one's value.
    pub fn mp_wait_lcore(&self) -> Vec<(u32, Result<i32>)> {
        self.state().lcores.wait_all()
    }

    /// Opens a scope in which closures that borrow local data run on worker lcores; every one
    /// has returned when `scope` returns.
    ///
    /// ```
    /// # let (eal, _) = rpdk_eal::init(["t", "--no-huge", "--no-shconf"]).unwrap();
    /// let counts = vec![0u64; 4];
    /// let total: u64 = eal.scope(|s| {
    ///     let handles: Vec<_> = eal
    ///         .workers()
    ///         .into_iter()
    ///         .map(|w| s.launch(w, || counts.iter().sum::<u64>() + 1).unwrap())
    ///         .collect();
    ///     handles.into_iter().map(|h| h.join().unwrap()).sum()
    /// });
    /// assert_eq!(total, eal.workers().len() as u64);
    /// ```
    pub fn scope<'env, F, R>(&self, f: F) -> R
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
    {
        lcore::scope_run(self.state(), f)
    }

    /// Runs `f(lcore)` on every lcore, the main one (on this thread) included, and returns each
    /// lcore's result in lcore order; a panic on an lcore is that lcore's [`Error::Panicked`].
    pub fn run_on_lcores<T, F>(&self, f: F) -> Vec<(u32, Result<T>)>
    where
        T: Send,
        F: Fn(u32) -> T + Sync,
    {
        let main = self.main_lcore();
        let workers = self.workers();
        let f = &f;
        self.scope(|s| {
            let handles: Vec<_> = workers
                .iter()
                .map(|&w| (w, s.launch(w, move || f(w))))
                .collect();
            let main_result =
                catch_unwind(AssertUnwindSafe(|| f(main))).map_err(|p| Error::Panicked {
                    lcore: main,
                    message: lcore::panic_message(p),
                });
            let mut out = vec![(main, main_result)];
            for (w, h) in handles {
                out.push((w, h.and_then(|h| h.join())));
            }
            out.sort_by_key(|(id, _)| *id);
            out
        })
    }

    /// Cleans up now, reporting problems (dropping the handle does the same silently).
    pub fn cleanup(mut self) -> Result<()> {
        self.teardown();
        Ok(())
    }

    fn teardown(&mut self) {
        if self.cleaned {
            return;
        }
        self.cleaned = true;
        let _guard = INIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        if self.telemetry.take().is_some() {
            telemetry::set_socket_path(None);
        }
        if let Ok(state) = state::get() {
            for (lcore, result) in state.lcores.wait_all() {
                if let Err(e) = result {
                    log::error!(target: "lib.eal", "at cleanup, lcore {lcore}: {e}");
                }
            }
        }
        bus::remove_all();
        mp::set_channel(None);
        memory::secondary::unregister_primary_actions();
        // After the devices (their services, hairpins, go with them), before the threads.
        service::finalize();
        if let Some(state) = state::take() {
            if let Some(t) = state.shared.as_ref().or(state.memory.attached_config()) {
                t.release_lcores(std::process::id());
            }
            state.lcores.stop();
            state.memory.unlink_files();
            state
                .zones
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
        }
        self.runtime.take();
        lcore::set_current(None, None);
        if let Some(aff) = self.saved_affinity.take() {
            let _ = cpuset::set_thread_affinity(&aff);
        }
        log::debug!(target: "lib.eal", "EAL cleaned up");
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        self.teardown();
    }
}

impl std::fmt::Debug for Eal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Eal")
            .field(
                "runtime_dir",
                &self.runtime.as_ref().map(|r| r.path().to_path_buf()),
            )
            .finish()
    }
}
