//! The usage text of `-h`/`--help`.

use crate::lcore::MAX_LCORE;

/// The EAL usage text for program `prog`, as `-h` prints it.
pub fn usage(prog: &str) -> String {
    format!(
        "\
Usage: {prog} [EAL options] -- [application options]

EAL common options:
  -l, --lcores CORELIST|COREMAP
                      Lcores to run on, and the CPUs each one is pinned to:
                      '<lcores[@cpus]>[,<lcores[@cpus]>...]'. Lcores and CPUs are
                      numbers (0-{max}), ranges ('0-3') or groups ('(0-3,5)').
                      '0-3': lcores 0..3 each on its own CPU; '1@2': lcore 1 on CPU 2;
                      '(0-3)@(0-1)': lcores 0..3 each on CPUs 0 and 1 (a range before
                      '@' must be a group).
  -c, --coremask COREMASK
                      Hexadecimal bitmask of lcores (deprecated, use -l)
  --main-lcore ID     Lcore used as main (default: the lowest)
  -s, --service-coremask COREMASK
                      Hexadecimal bitmask of lcores to be service lcores
  -S, --service-corelist CORELIST
                      List of lcores to be service lcores ('2,3' or '2-3')
  -R, --remap-lcore-ids[=BASE]
                      Number lcores from BASE (default 0), one per CPU of -l/-c
  --huge-worker-stack[=KB]
                      Stack size of worker lcore threads (default: the system's)
  -n, --memory-channels CHANNELS
                      Number of memory channels (spreads mempool objects)
  -r, --memory-ranks RANKS
                      Number of memory ranks
  -m, --memory-size MB
                      Memory to reserve at start, in megabytes
  --socket-mem MB[,MB...], --numa-mem MB[,MB...]
                      Memory to reserve at start on each NUMA node, in megabytes
  --pagesz-mem SIZE:LIMIT
                      At most LIMIT of pages of SIZE (ex: 2M:512M; repeatable)
  --numa-limit MB[,MB...], --socket-limit MB[,MB...]
                      Most memory each NUMA node's heap maps (0: no limit)
  --legacy-mem        Map all memory at start and never grow or give it back
  --match-allocations Accepted (rpdk gives back whole free pages at a heap's end)
  --base-virtaddr ADDR
                      Hexadecimal address at which to place the first heap
  -a, --allow <[domain:]bus:devid.func>[,key=val...]
                      Use only these PCI devices (repeatable; not with -b)
  -b, --block <[domain:]bus:devid.func>
                      Do not use this PCI device (repeatable; not with -a)
  --vdev <driver><id>[,key=val...]
                      Add a virtual device (ex: --vdev=net_af_packet0,iface=veth0)
  --no-pci            Do not scan or probe PCI devices
  -A, --no-auto-probing
                      Probe only the devices given with -a and --vdev
  --auto-probing      Probe every device not blocked (the default)
  --vfio-intr legacy|msi|msix
                      VFIO interrupt mode (rpdk's drivers poll: no effect)
  --create-uio-dev    Accepted; rpdk creates no /dev/uioX nodes
  --vfio-vf-token UUID
                      VF token shared by an SR-IOV PF and its VFs
  --force-max-simd-bitwidth BITS
                      Widest vectors to use (0: no limit; 64: none)
  --vmware-tsc-map    Accepted; rpdk reads the TSC with rdtsc
  --iova-mode pa|va   IOVA mode: physical (needs root) or virtual addresses
  --proc-type primary|secondary|auto
                      Type of this process
  --file-prefix NAME  Prefix of hugepage files and of the runtime directory
                      (default: rpdk), so that several instances can run at once
  --huge-dir DIR      Hugetlbfs directory to use (default: found in /proc/mounts)
  --huge-unlink[=existing|always|never]
                      When to unlink hugepage files ('existing' by default, no value
                      means 'always')
  --in-memory         Anonymous hugepage memory, no files; implies --no-shconf
  --no-huge           4 KiB pages instead of hugepages (for tests; slower)
  --no-shconf         No runtime directory or shared configuration
  --telemetry         Serve the telemetry socket (the default)
  --no-telemetry      No telemetry socket
  --mbuf-pool-ops-name NAME
                      Mempool ops of packet-buffer pools (default ring_mp_mc)
  --log-level LEVEL   Global log level (1-8 or a name: emergency, alert, critical,
                      error, warning, notice, info, debug)
  --log-level PATTERN:LEVEL
                      Level of the log types matching a glob ('pmd.net.*:debug')
  --log-level REGEX,LEVEL
                      Level of the log types matching a regular expression
  --log-level help    Show log types and levels
  --log-timestamp[=notime|delta|reltime|ctime|iso]
                      Timestamp log lines (no value: seconds since start)
  --log-color[=always|auto|never]
                      Colour log lines (no value: always)
  --syslog[=FACILITY] Also log to syslog (/dev/log); default facility daemon
  -v, --version       Print the version at start
  -h, --help          This help
",
        max = MAX_LCORE - 1
    )
}
