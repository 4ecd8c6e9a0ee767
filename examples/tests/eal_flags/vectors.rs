//! The command lines of DPDK's `app/test/test_eal_flags.c` (v26.07), restated as data, with
//! the outcome DPDK's test expects of each.
//!
//! Placeholders, filled in by the runner:
//! - `{sec}`: DPDK passes its own `--file-prefix` and `--proc-type=secondary`, making the run a
//!   secondary process of the test binary, with the test's lcore ids, which rpdk refuses to
//!   share between processes; so these runs are primaries with a `--file-prefix` of their
//!   own: what they check is the flag after them.
//! - `{parent}`: `--file-prefix` of the running primary (here the test process's own EAL).
//! - `{u}`: a stem unique to this test process, so that prefixes do not collide with other runs.
//! - `{hugepath}`: the first hugetlbfs mount.
//! - `{sm:D:V:S}`: `--socket-mem=` with value `V` for (NUMA nodes + `D`) nodes, then `S`.

/// What DPDK's test expects of a command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// The EAL starts and the program exits 0.
    Run,
    /// The EAL refuses to start.
    Fail,
}

/// When DPDK's test runs a command line at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Always.
    Nothing,
    /// CPUs 0 to N-1 must be usable (DPDK checks that its own lcores 0..N-1 are enabled).
    Cpus(usize),
    /// At least this many NUMA nodes.
    Nodes(usize),
}

/// One command line of DPDK's test.
#[derive(Debug)]
pub struct Vector {
    /// DPDK's test function and the array's name in it.
    pub name: &'static str,
    /// The arguments after the program name.
    pub args: &'static [&'static str],
    /// DPDK's expected outcome.
    pub want: Want,
    /// When it runs.
    pub needs: Needs,
    /// Why rpdk's outcome differs from DPDK's, when it does (also in docs/eal.md).
    pub differs: Option<&'static str>,
}

const EAL_DEBUG: &str = "--log-level=lib.eal:debug";

macro_rules! v {
    ($name:expr, $want:ident, [$($a:expr),* $(,)?]) => {
        Vector { name: $name, args: &[$($a),*], want: Want::$want, needs: Needs::Nothing, differs: None }
    };
    ($name:expr, $want:ident, $needs:expr, [$($a:expr),* $(,)?]) => {
        Vector { name: $name, args: &[$($a),*], want: Want::$want, needs: $needs, differs: None }
    };
}

/// Every command line of test_eal_flags.c that applies to an EAL without PCI devices: all of
/// them (none needs a PCI device: `-a`/`-b` name absent addresses).
pub const VECTORS: &[Vector] = &[
    // test_allow_flag: malformed PCI addresses fail (DPDK pads its array with empty words,
    // which its parser skips), well-formed ones of absent devices run.
    v!(
        "allow.wlinval0",
        Fail,
        ["{sec}", EAL_DEBUG, "--allow", "error", "", ""]
    ),
    v!(
        "allow.wlinval1",
        Fail,
        ["{sec}", EAL_DEBUG, "--allow", "0:0:0", "", ""]
    ),
    v!(
        "allow.wlinval2",
        Fail,
        ["{sec}", EAL_DEBUG, "--allow", "0:error:0.1", "", ""]
    ),
    v!(
        "allow.wlinval3",
        Fail,
        ["{sec}", EAL_DEBUG, "--allow", "0:0:0.1error", "", ""]
    ),
    v!(
        "allow.wlinval4",
        Fail,
        ["{sec}", EAL_DEBUG, "--allow", "error0:0:0.1", "", ""]
    ),
    v!(
        "allow.wlinval5",
        Fail,
        ["{sec}", EAL_DEBUG, "--allow", "0:0:0.1.2", "", ""]
    ),
    v!(
        "allow.wlval1",
        Run,
        ["{sec}", EAL_DEBUG, "--allow", "00FF:09:0B.3"]
    ),
    v!(
        "allow.wlval2",
        Run,
        [
            "{sec}", EAL_DEBUG, "--allow", "09:0B.3", "--allow", "0a:0b.1"
        ]
    ),
    v!(
        "allow.wlval3",
        Run,
        [
            "{sec}",
            EAL_DEBUG,
            "--allow",
            "09:0B.3,type=test",
            "--allow",
            "08:00.1,type=normal"
        ]
    ),
    v!(
        "allow.wlval4",
        Run,
        ["{sec}", EAL_DEBUG, "--no-auto-probing"]
    ),
    v!(
        "allow.wlval5",
        Run,
        [
            "{sec}",
            EAL_DEBUG,
            "--no-auto-probing",
            "--allow",
            "00FF:09:0B.3"
        ]
    ),
    v!("allow.wlval6", Run, ["{sec}", EAL_DEBUG, "--auto-probing"]),
    v!(
        "allow.wlval7",
        Run,
        [
            "{sec}",
            EAL_DEBUG,
            "--auto-probing",
            "--allow",
            "00FF:09:0B.3"
        ]
    ),
    // test_invalid_b_flag.
    v!("block.blinval0", Fail, ["{sec}", EAL_DEBUG, "-b", "error"]),
    v!("block.blinval1", Fail, ["{sec}", EAL_DEBUG, "-b", "0:0:0"]),
    v!(
        "block.blinval2",
        Fail,
        ["{sec}", EAL_DEBUG, "-b", "0:error:0.1"]
    ),
    v!(
        "block.blinval3",
        Fail,
        ["{sec}", EAL_DEBUG, "-b", "0:0:0.1error"]
    ),
    v!(
        "block.blinval4",
        Fail,
        ["{sec}", EAL_DEBUG, "-b", "error0:0:0.1"]
    ),
    v!(
        "block.blinval5",
        Fail,
        ["{sec}", EAL_DEBUG, "-b", "0:0:0.1.2"]
    ),
    v!(
        "block.blinval_probing",
        Run,
        ["{sec}", EAL_DEBUG, "-b", "0:0.0", "--auto-probing"]
    ),
    v!(
        "block.blinval_probing_inval",
        Fail,
        ["{sec}", EAL_DEBUG, "-b", "0:0.0", "--no-auto-probing"]
    ),
    v!("block.blval", Run, ["{sec}", EAL_DEBUG, "-b", "FF:09:0B.3"]),
    // test_invalid_vdev_flag (DPDK runs it when net_ring is built, as it is in rpdk).
    v!(
        "vdev.vdevinval",
        Fail,
        [
            "--file-prefix={u}vdev",
            "--no-huge",
            EAL_DEBUG,
            "--log-level=bus.*:debug",
            "--no-pci",
            "--vdev",
            "eth_dummy"
        ]
    ),
    v!(
        "vdev.vdevval1",
        Run,
        [
            "--file-prefix={u}vdev",
            "--no-huge",
            EAL_DEBUG,
            "--log-level=bus.*:debug",
            "--no-pci",
            "--vdev",
            "net_ring0"
        ]
    ),
    v!(
        "vdev.vdevval2",
        Run,
        [
            "--file-prefix={u}vdev",
            "--no-huge",
            EAL_DEBUG,
            "--log-level=bus.*:debug",
            "--no-pci",
            "--vdev",
            "net_ring0,args=test"
        ]
    ),
    v!(
        "vdev.vdevval3",
        Run,
        [
            "--file-prefix={u}vdev",
            "--no-huge",
            EAL_DEBUG,
            "--log-level=bus.*:debug",
            "--no-pci",
            "--vdev",
            "net_ring0,nodeaction=r1:0:CREATE"
        ]
    ),
    v!(
        "vdev.vdevval4",
        Run,
        [
            "--file-prefix={u}vdev",
            "--no-huge",
            EAL_DEBUG,
            "--log-level=bus.*:debug",
            "--no-auto-probing",
            "--vdev",
            "net_ring0"
        ]
    ),
    v!(
        "vdev.vdevval5",
        Run,
        [
            "--file-prefix={u}vdev",
            "--no-huge",
            EAL_DEBUG,
            "--log-level=bus.*:debug",
            "--auto-probing",
            "--vdev",
            "net_ring0"
        ]
    ),
    // test_invalid_r_flag.
    v!("r.rinval0", Fail, ["{sec}", EAL_DEBUG, "-r", "error"]),
    v!("r.rinval1", Fail, ["{sec}", EAL_DEBUG, "-r", "0"]),
    v!("r.rinval2", Fail, ["{sec}", EAL_DEBUG, "-r", "-1"]),
    v!("r.rinval3", Fail, ["{sec}", EAL_DEBUG, "-r", "17"]),
    v!("r.rval", Run, ["{sec}", EAL_DEBUG, "-r", "16"]),
    // test_missing_c_flag: -c, -l and --lcores.
    v!("c.argv1", Fail, ["{sec}", EAL_DEBUG, "-c"]),
    v!("c.argv2", Run, ["{sec}"]),
    v!("c.argv3", Fail, ["{sec}", EAL_DEBUG, "-c", "error"]),
    v!(
        "c.argv4",
        Run,
        Needs::Cpus(1),
        ["{sec}", EAL_DEBUG, "-c", "1"]
    ),
    v!("c.argv5", Fail, ["{sec}", EAL_DEBUG, "-l"]),
    v!("c.argv6", Fail, ["{sec}", EAL_DEBUG, "-l", " "]),
    v!("c.argv7", Fail, ["{sec}", EAL_DEBUG, "-l", "error"]),
    v!("c.argv8", Fail, ["{sec}", EAL_DEBUG, "-l", "1-"]),
    v!("c.argv9", Fail, ["{sec}", EAL_DEBUG, "-l", "1,"]),
    v!("c.argv10", Fail, ["{sec}", EAL_DEBUG, "-l", "1#2"]),
    v!("c.argv11", Fail, ["{sec}", EAL_DEBUG, "-l", "-5"]),
    v!("c.argv12", Fail, ["{sec}", EAL_DEBUG, "-l", "-5-7"]),
    // RTE_MAX_LCORE is 128 in DPDK's default build, as rpdk's MAX_LCORE.
    v!("c.argv13", Fail, ["{sec}", EAL_DEBUG, "-l", "128"]),
    v!("c.argv14", Fail, ["{sec}", EAL_DEBUG, "-l", "1-128"]),
    v!(
        "c.argv15",
        Run,
        Needs::Cpus(4),
        ["{sec}", EAL_DEBUG, "-l", "1-2,3"]
    ),
    v!("c.argv16", Fail, ["{sec}", EAL_DEBUG, "--lcores"]),
    v!("c.argv17", Fail, ["{sec}", EAL_DEBUG, "--lcores", " "]),
    v!("c.argv18", Fail, ["{sec}", EAL_DEBUG, "--lcores", "1-3-5"]),
    v!("c.argv19", Fail, ["{sec}", EAL_DEBUG, "--lcores", "0-1,,2"]),
    v!("c.argv20", Fail, ["{sec}", EAL_DEBUG, "--lcores", "0-,1"]),
    v!(
        "c.argv21",
        Fail,
        ["{sec}", EAL_DEBUG, "--lcores", "(0-,2-4)"]
    ),
    v!("c.argv22", Fail, ["{sec}", EAL_DEBUG, "--lcores", "(-1,2)"]),
    v!(
        "c.argv23",
        Fail,
        ["{sec}", EAL_DEBUG, "--lcores", "(2-4)@(2-4-6)"]
    ),
    v!("c.argv24", Fail, ["{sec}", EAL_DEBUG, "--lcores", "(a,2)"]),
    v!(
        "c.argv25",
        Fail,
        ["{sec}", EAL_DEBUG, "--lcores", "1-3@(1,3)"]
    ),
    v!(
        "c.argv26",
        Fail,
        ["{sec}", EAL_DEBUG, "--lcores", "3@((1,3)"]
    ),
    v!(
        "c.argv27",
        Fail,
        ["{sec}", EAL_DEBUG, "--lcores", "(4-7)=(1,3)"]
    ),
    v!(
        "c.argv28",
        Fail,
        ["{sec}", EAL_DEBUG, "--lcores", "[4-7]@(1,3)"]
    ),
    v!(
        "c.argv29",
        Run,
        Needs::Cpus(8),
        [
            "{sec}",
            EAL_DEBUG,
            "--lcores",
            "0-1,2@(5-7),(3-5)@(0,2),(0,6),7"
        ]
    ),
    // CPU_SETSIZE is 1024, as rpdk's MAX_CPUS.
    v!("c.argv30", Fail, ["{sec}", EAL_DEBUG, "--lcores", "3@1024"]),
    // test_main_lcore_flag (DPDK runs it when lcores 0 and 1 are enabled).
    v!(
        "main.argv1",
        Fail,
        Needs::Cpus(2),
        ["{sec}", EAL_DEBUG, "-c", "3", "--main-lcore"]
    ),
    v!(
        "main.argv2",
        Fail,
        Needs::Cpus(2),
        ["{sec}", EAL_DEBUG, "-c", "3", "--main-lcore", "-1"]
    ),
    v!(
        "main.argv3",
        Fail,
        Needs::Cpus(2),
        ["{sec}", EAL_DEBUG, "-c", "3", "--main-lcore", "X"]
    ),
    v!(
        "main.argv4",
        Fail,
        Needs::Cpus(2),
        ["{sec}", EAL_DEBUG, "-c", "3", "--main-lcore", "2"]
    ),
    v!(
        "main.argv5",
        Run,
        Needs::Cpus(2),
        ["{sec}", EAL_DEBUG, "-c", "3", "--main-lcore", "1"]
    ),
    v!(
        "main.argv6",
        Run,
        Needs::Cpus(2),
        ["{sec}", EAL_DEBUG, "--main-lcore", "1", "-c", "3"]
    ),
    // test_invalid_n_flag: primaries with the parent's prefix, no shared config.
    v!(
        "n.argv1",
        Fail,
        ["{parent}", "--no-huge", "--no-shconf", "-n"]
    ),
    v!(
        "n.argv2",
        Fail,
        ["{parent}", "--no-huge", "--no-shconf", "-n", "e"]
    ),
    v!(
        "n.argv3",
        Fail,
        ["{parent}", "--no-huge", "--no-shconf", "-n", "0"]
    ),
    v!(
        "n.argv4",
        Run,
        ["{parent}", "--no-huge", "--no-shconf", "-n", "2"]
    ),
    v!("n.argv5", Run, ["{parent}", "--no-huge", "--no-shconf"]),
    // test_no_hpet_flag.
    v!("hpet.argv1", Run, ["{sec}", EAL_DEBUG, "--no-hpet"]),
    v!("hpet.argv2", Run, ["{sec}", EAL_DEBUG]),
    // test_no_huge_flag.
    v!(
        "nohuge.argv1",
        Run,
        ["--file-prefix={u}nohuge", "--no-huge"]
    ),
    v!(
        "nohuge.argv2",
        Run,
        ["--file-prefix={u}nohuge", "--no-huge", "-m", "18"]
    ),
    v!(
        "nohuge.argv3",
        Fail,
        ["--file-prefix={u}nohuge", "--no-huge", "--socket-mem=18"]
    ),
    v!(
        "nohuge.argv4",
        Fail,
        [
            "--file-prefix={u}nohuge",
            "--no-huge",
            "-m",
            "18",
            "--socket-mem=18"
        ]
    ),
    v!(
        "nohuge.argv5",
        Fail,
        [
            "--file-prefix={u}nohuge",
            "--no-huge",
            "--huge-worker-stack"
        ]
    ),
    v!(
        "nohuge.argv6",
        Fail,
        [
            "--file-prefix={u}nohuge",
            "--no-huge",
            "--huge-worker-stack=512"
        ]
    ),
    // test_misc_flags.
    v!("misc.argv0", Fail, ["{sec}", EAL_DEBUG, "--invalid-opt"]),
    v!("misc.argv1", Run, ["{sec}", EAL_DEBUG, "--no-pci"]),
    v!("misc.argv2", Run, ["{sec}", EAL_DEBUG, "-v"]),
    v!("misc.argv3", Run, ["{sec}", EAL_DEBUG, "--syslog=user"]),
    v!("misc.argv4", Run, ["{sec}", EAL_DEBUG, "--syslog"]),
    v!("misc.argv5", Fail, ["{sec}", EAL_DEBUG, "--syslog=invalid"]),
    v!(
        "misc.argv6",
        Run,
        [
            EAL_DEBUG,
            "--no-pci",
            "-m",
            "18",
            "--no-shconf",
            "--file-prefix={u}noshconf",
            "--no-huge"
        ]
    ),
    v!(
        "misc.argv7",
        Run,
        [
            "-m",
            "18",
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}hugedir",
            "--huge-dir",
            "{hugepath}"
        ]
    ),
    v!(
        "misc.argv8",
        Fail,
        [
            "-m",
            "18",
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}hugedir",
            "--huge-dir"
        ]
    ),
    v!(
        "misc.argv9",
        Fail,
        [
            "-m",
            "18",
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}hugedir",
            "--huge-dir",
            "invalid"
        ]
    ),
    v!(
        "misc.argv10",
        Fail,
        [
            "-m",
            "18",
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}hugedir",
            "--huge-dir",
            "{hugepath}/dpdk.missing"
        ]
    ),
    v!(
        "misc.argv11",
        Run,
        [
            "-m",
            "18",
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}hugedir",
            "--huge-dir",
            "{hugepath}/dpdk.dir"
        ]
    ),
    Vector {
        name: "misc.argv12",
        args: &["{sec}", EAL_DEBUG, "--huge-dir", "invalid"],
        want: Want::Run,
        needs: Needs::Nothing,
        differs: Some(
            "DPDK's secondary ignores --huge-dir (it maps the primary's files); rpdk has no \
             secondary processes, and a primary with a --huge-dir that does not exist fails",
        ),
    },
    v!(
        "misc.argv13",
        Run,
        [
            "--file-prefix={u}virtaddr",
            EAL_DEBUG,
            "--no-pci",
            "--base-virtaddr=0x23456789"
        ]
    ),
    v!(
        "misc.argv14",
        Run,
        [
            "--file-prefix={u}intr",
            EAL_DEBUG,
            "--no-pci",
            "--vfio-intr=legacy"
        ]
    ),
    v!(
        "misc.argv15",
        Run,
        [
            "--file-prefix={u}intr",
            EAL_DEBUG,
            "--no-pci",
            "--vfio-intr=msi"
        ]
    ),
    v!(
        "misc.argv16",
        Run,
        [
            "--file-prefix={u}intr",
            EAL_DEBUG,
            "--no-pci",
            "--vfio-intr=msix"
        ]
    ),
    v!(
        "misc.argv17",
        Fail,
        [
            "--file-prefix={u}intr",
            EAL_DEBUG,
            "--no-pci",
            "--vfio-intr=invalid"
        ]
    ),
    v!(
        "misc.argv18",
        Run,
        [
            "--file-prefix={u}auto",
            EAL_DEBUG,
            "--no-pci",
            "--proc-type=auto"
        ]
    ),
    v!(
        "misc.argv19",
        Run,
        [
            "--proc-type=auto",
            EAL_DEBUG,
            "--no-pci",
            "--no-shconf",
            "--file-prefix={u}noshconf",
            "--no-huge"
        ]
    ),
    v!(
        "misc.argv20",
        Run,
        [
            "--file-prefix={u}uiodev",
            EAL_DEBUG,
            "--no-pci",
            "--create-uio-dev"
        ]
    ),
    v!(
        "misc.argv21",
        Run,
        ["{sec}", EAL_DEBUG, "--huge-worker-stack"]
    ),
    v!(
        "misc.argv22",
        Run,
        ["{sec}", EAL_DEBUG, "--huge-worker-stack=512"]
    ),
    v!("misc.argv23", Run, ["{sec}", EAL_DEBUG, "--log-timestamp"]),
    v!(
        "misc.argv24",
        Run,
        ["{sec}", EAL_DEBUG, "--log-timestamp=iso"]
    ),
    v!(
        "misc.argv25",
        Fail,
        ["{sec}", EAL_DEBUG, "--log-timestamp=invalid"]
    ),
    v!("misc.argv26", Run, ["{sec}", EAL_DEBUG, "--log-color"]),
    v!(
        "misc.argv27",
        Run,
        ["{sec}", EAL_DEBUG, "--log-color=never"]
    ),
    v!(
        "misc.argv28",
        Fail,
        ["{sec}", EAL_DEBUG, "--log-color=invalid"]
    ),
    // test_file_prefix. argv0 is a secondary without a primary: DPDK fails for that, rpdk
    // because it has no secondaries; the flag is passed as DPDK passes it.
    v!(
        "prefix.argv0",
        Fail,
        [
            "--proc-type=secondary",
            EAL_DEBUG,
            "-m",
            "18",
            "--file-prefix={u}memtest"
        ]
    ),
    v!(
        "prefix.argv1",
        Run,
        [
            EAL_DEBUG,
            "--no-pci",
            "-m",
            "18",
            "--file-prefix={u}memtest1"
        ]
    ),
    v!(
        "prefix.argv2",
        Run,
        [
            EAL_DEBUG,
            "--no-pci",
            "-m",
            "18",
            "--file-prefix={u}memtest1",
            "--legacy-mem"
        ]
    ),
    v!(
        "prefix.argv3",
        Run,
        [
            EAL_DEBUG,
            "--no-pci",
            "-m",
            "18",
            "--file-prefix={u}memtest2",
            "--legacy-mem"
        ]
    ),
    v!(
        "prefix.argv4",
        Run,
        [
            EAL_DEBUG,
            "--no-pci",
            "-m",
            "18",
            "--file-prefix={u}memtest2"
        ]
    ),
    v!(
        "prefix.argv5",
        Run,
        [EAL_DEBUG, "--no-pci", "-m", "18", "--in-memory"]
    ),
    v!(
        "prefix.argv6",
        Run,
        [
            EAL_DEBUG,
            "--no-pci",
            "-m",
            "18",
            "--in-memory",
            "--file-prefix={u}memtest1"
        ]
    ),
    v!(
        "prefix.argv7",
        Run,
        [
            EAL_DEBUG,
            "--no-pci",
            "-m",
            "18",
            "--in-memory",
            "--file-prefix",
            "{parent_name}"
        ]
    ),
    v!(
        "prefix.argv8",
        Run,
        [
            EAL_DEBUG,
            "--no-pci",
            "-m",
            "18",
            "--single-file-segments",
            "--file-prefix={u}memtest1"
        ]
    ),
    v!(
        "prefix.argv9",
        Run,
        [
            EAL_DEBUG,
            "--no-pci",
            "-m",
            "18",
            "--huge-unlink=never",
            "--file-prefix={u}memtest1"
        ]
    ),
    // test_pagesz_mem_flags.
    v!(
        "pagesz.argv0",
        Fail,
        [
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}memtest",
            "--in-memory",
            "--pagesz-mem="
        ]
    ),
    v!(
        "pagesz.argv1",
        Fail,
        [
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}memtest",
            "--in-memory",
            "--pagesz-mem=2M"
        ]
    ),
    v!(
        "pagesz.argv2",
        Fail,
        [
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}memtest",
            "--in-memory",
            "--pagesz-mem=2M:"
        ]
    ),
    v!(
        "pagesz.argv3",
        Fail,
        [
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}memtest",
            "--in-memory",
            "--pagesz-mem=2M:3M"
        ]
    ),
    v!(
        "pagesz.argv4",
        Fail,
        [
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}memtest",
            "--in-memory",
            "--pagesz-mem=garbage"
        ]
    ),
    v!(
        "pagesz.argv5",
        Fail,
        [
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}memtest",
            "--in-memory",
            "--pagesz-mem=2M:garbage"
        ]
    ),
    v!(
        "pagesz.argv6",
        Fail,
        [
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}memtest",
            "--in-memory",
            "--no-huge",
            "--pagesz-mem=2M:2M"
        ]
    ),
    v!(
        "pagesz.argv7",
        Run,
        [
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}memtest",
            "--in-memory",
            "--pagesz-mem=2M:64M"
        ]
    ),
    v!(
        "pagesz.argv8",
        Run,
        [
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}memtest",
            "--in-memory",
            "--pagesz-mem=2M:64M",
            "--pagesz-mem=1K:8K"
        ]
    ),
    v!(
        "pagesz.argv9",
        Run,
        [
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}memtest",
            "--in-memory",
            "--pagesz-mem=1K:0"
        ]
    ),
    v!(
        "pagesz.argv10",
        Fail,
        [
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}memtest",
            "--in-memory",
            "--pagesz-mem=3M:6M"
        ]
    ),
    // test_memory_flags.
    v!("mem.argv0", Run, ["{sec}", EAL_DEBUG, "-m", "18"]),
    v!(
        "mem.argv1",
        Run,
        [
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}memtest",
            "-m",
            "18"
        ]
    ),
    v!(
        "mem.argv2",
        Run,
        [
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}memtest",
            "{sm:0:0:}"
        ]
    ),
    v!(
        "mem.argv3",
        Fail,
        Needs::Nodes(2),
        [
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}memtest",
            "{sm:-1:2:,}"
        ]
    ),
    v!(
        "mem.argv4",
        Fail,
        Needs::Nodes(2),
        [
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}memtest",
            "{sm:-1:2:,Fred}"
        ]
    ),
    v!(
        "mem.argv5",
        Fail,
        Needs::Nodes(2),
        [
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}memtest",
            "{sm:-1:2:,Fred0}"
        ]
    ),
    v!(
        "mem.argv6",
        Fail,
        Needs::Nodes(3),
        [
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}memtest",
            "{sm:-2:2:,,2}"
        ]
    ),
    v!(
        "mem.argv7",
        Fail,
        [
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}memtest",
            "--socket-mem="
        ]
    ),
    v!(
        "mem.argv8",
        Fail,
        [
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}memtest",
            "-m",
            "18",
            "{sm:0:2:}"
        ]
    ),
    v!(
        "mem.argv9",
        Fail,
        [
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}memtest",
            "{sm:1:2:}"
        ]
    ),
    v!(
        "mem.argv10",
        Run,
        [
            EAL_DEBUG,
            "--no-pci",
            "--file-prefix={u}memtest",
            "{sm:0:2:}"
        ]
    ),
];
