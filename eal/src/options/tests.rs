//! Table tests of the EAL command line: good inputs, bad ones, and the error text.

use super::*;

fn run(args: &[&str]) -> Result<(EalOptions, Vec<String>)> {
    let mut full = vec!["app"];
    full.extend_from_slice(args);
    match parse(&full)? {
        Parsed::Run(o, app) => Ok((*o, app)),
        other => panic!("{args:?}: expected options, got {other:?}"),
    }
}

fn err(args: &[&str]) -> String {
    let mut full = vec!["app"];
    full.extend_from_slice(args);
    match parse(&full) {
        Ok(p) => panic!("{args:?}: expected an error, got {p:?}"),
        Err(e) => e.to_string(),
    }
}

fn lcores(o: &EalOptions) -> String {
    o.lcores
        .as_ref()
        .map(|s| {
            s.map
                .iter()
                .map(|(l, c)| format!("{l}@{c}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

#[test]
fn lcore_flags_in_every_spelling() {
    let cases: &[(&[&str], &str, &str)] = &[
        (&["-l", "0-1"], "-l", "0@0 1@1"),
        (&["-l0-1"], "-l", "0@0 1@1"),
        (&["-l=0-1"], "-l", "0@0 1@1"),
        (&["--lcores", "0,2"], "--lcores", "0@0 2@2"),
        (
            &["--lcores=(0-3)@(0-1)"],
            "--lcores",
            "0@0-1 1@0-1 2@0-1 3@0-1",
        ),
        (&["-l", "1@0,2@1"], "-l", "1@0 2@1"),
        (&["-c", "0x3"], "-c", "0@0 1@1"),
        (&["-c5"], "-c", "0@0 2@2"),
    ];
    for (args, flag, want) in cases {
        let (o, _) = run(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        assert_eq!(lcores(&o), *want, "{args:?}");
        assert_eq!(o.lcores.as_ref().unwrap().flag, *flag);
    }
    let (o, _) = run(&["-c", "0x3"]).unwrap();
    assert_eq!(o.warnings.len(), 1);
    assert!(o.warnings[0].contains("deprecated"), "{:?}", o.warnings);
    assert!(o.warnings[0].contains("-l 0,1"), "{:?}", o.warnings);
}

#[test]
fn app_arguments_follow_the_separator() {
    let (o, app) = run(&["-l", "0", "--", "-p", "0x3", "--", "x"]).unwrap();
    assert_eq!(app, ["-p", "0x3", "--", "x"]);
    assert_eq!(lcores(&o), "0@0");
    let (_, app) = run(&["-l", "0"]).unwrap();
    assert!(app.is_empty());
    let (_, app) = run(&["--"]).unwrap();
    assert!(app.is_empty());
    // As DPDK 26.07: words that are not flags go to the application, before those after `--`.
    let (o, app) = run(&["foo", "-l", "0", "", "bar", "--", "-p"]).unwrap();
    assert_eq!(app, ["foo", "", "bar", "-p"]);
    assert_eq!(lcores(&o), "0@0");
}

#[test]
fn every_flag_is_understood() {
    let (o, _) = run(&[
        "-l",
        "0-1",
        "--main-lcore",
        "1",
        "-n",
        "4",
        "-r",
        "2",
        "-m",
        "512",
        "--huge-dir",
        "/dev/hugepages",
        "--huge-unlink",
        "--file-prefix",
        "test1",
        "--no-shconf",
        "--iova-mode",
        "va",
        "--proc-type=auto",
        "--no-pci",
        "--vdev",
        "net_null0,size=64",
        "--vdev=net_ring0",
        "--log-level",
        "lib.eal:debug",
        "--log-level=7",
        "-v",
        "--no-telemetry",
        "--mbuf-pool-ops-name",
        "ring_mt_hts",
    ])
    .unwrap();
    assert_eq!(o.mbuf_pool_ops_name.as_deref(), Some("ring_mt_hts"));
    assert!(o.no_telemetry);
    assert_eq!(o.main_lcore, Some(1));
    assert_eq!(o.memory_channels, Some(4));
    assert_eq!(o.memory_ranks, Some(2));
    assert_eq!(o.memory_mb, Some(512));
    assert_eq!(
        o.huge_dir.as_deref(),
        Some(std::path::Path::new("/dev/hugepages"))
    );
    assert_eq!(o.huge_unlink, HugeUnlink::Always);
    assert_eq!(o.file_prefix(), "test1");
    assert!(o.no_shconf && o.no_pci && o.show_version);
    assert!(!o.no_huge && !o.in_memory);
    assert_eq!(o.iova_mode, Some(IovaMode::Va));
    assert_eq!(o.proc_type, ProcType::Auto);
    assert_eq!(o.vdevs.len(), 2);
    assert_eq!(o.vdevs[0].get("size"), Some("64"));
    assert_eq!(o.vdevs[1].name(), "net_ring0");
    assert_eq!(o.log_levels.len(), 2);

    let (o, _) = run(&["--no-huge", "--in-memory", "-m", "64"]).unwrap();
    assert!(o.no_huge && o.in_memory);
    assert_eq!(o.memory_mb, Some(64));
    let (o, _) = run(&[
        "--socket-mem",
        "1024,0",
        "-a",
        "0000:00:03.0,rxq=2",
        "-a",
        "00:04.0",
    ])
    .unwrap();
    assert_eq!(o.socket_mem, Some(vec![1024, 0]));
    assert_eq!(o.allow.len(), 2);
    assert_eq!(o.allow[1].name(), "0000:00:04.0");
    let (o, _) = run(&["--numa-mem=64", "-b", "00:05.0", "--huge-unlink=never"]).unwrap();
    assert_eq!(o.socket_mem, Some(vec![64]));
    assert_eq!(o.block[0].to_string(), "0000:00:05.0");
    assert_eq!(o.huge_unlink, HugeUnlink::Never);
    assert_eq!(
        run(&["--proc-type", "PRIMARY"]).unwrap().0.proc_type,
        ProcType::Primary
    );
    assert_eq!(
        run(&["--iova-mode=pa"]).unwrap().0.iova_mode,
        Some(IovaMode::Pa)
    );
    assert_eq!(run(&[]).unwrap().0.file_prefix(), DEFAULT_FILE_PREFIX);
}

#[test]
fn help_and_log_help() {
    assert!(matches!(parse(&["app", "-h"]).unwrap(), Parsed::Help));
    assert!(matches!(
        parse(&["app", "-l", "0", "--help"]).unwrap(),
        Parsed::Help
    ));
    assert!(matches!(parse(&["app", "-vh"]).unwrap(), Parsed::Help));
    assert!(matches!(
        parse(&["app", "--log-level", "help"]).unwrap(),
        Parsed::LogHelp
    ));
    let text = usage("helloworld");
    for flag in [
        "-l, --lcores",
        "-c, --coremask",
        "--main-lcore",
        "--huge-worker-stack",
        "-n, --memory-channels",
        "-r, --memory-ranks",
        "-m, --memory-size",
        "--pagesz-mem",
        "--legacy-mem",
        "--base-virtaddr",
        "-A, --no-auto-probing",
        "--auto-probing",
        "--vfio-intr",
        "--create-uio-dev",
        "--log-timestamp",
        "--log-color",
        "--syslog",
        "--socket-mem",
        "--huge-dir",
        "--huge-unlink",
        "--file-prefix",
        "--no-huge",
        "--in-memory",
        "--no-shconf",
        "--iova-mode",
        "--proc-type",
        "--no-pci",
        "-a, --allow",
        "-b, --block",
        "--vdev",
        "--log-level",
        "-v, --version",
        "-h, --help",
    ] {
        assert!(text.contains(flag), "usage lacks {flag}");
    }
    assert!(text.starts_with("Usage: helloworld [EAL options] --"));
}

/// Every bad command line names the flag and the value, or the word that is wrong.
#[test]
fn bad_command_lines_name_what_is_wrong() {
    let cases: &[(&[&str], &str)] = &[
        (&["--bogus"], "unknown EAL option '--bogus'"),
        (&["-x"], "unknown EAL option '-x'"),
        (&["-d", "lib.so"], "unknown EAL option '-d'"),
        (
            &["-p", "0x3"],
            "unknown EAL option '-p' (application options go after '--'",
        ),
        (&["-l"], "option -l requires a value"),
        (&["--lcores"], "option --lcores requires a value"),
        (&["--no-huge=1"], "option --no-huge takes no value, got '1'"),
        (
            &["-l", "0-x"],
            "invalid value '0-x' for -l: 'x' is not a number",
        ),
        (
            &["-l", "a"],
            "invalid value 'a' for -l: 'a' is not a number",
        ),
        (
            &["--lcores", "(0-1"],
            "invalid value '(0-1' for --lcores: '(' without a matching ')'",
        ),
        (
            &["-l", "200"],
            "invalid value '200' for -l: lcore 200 is out of range (max 127)",
        ),
        (
            &["-c", "0xz"],
            "invalid value '0xz' for -c: 'z' is not a hexadecimal digit",
        ),
        (
            &["-l", "0", "-c", "1"],
            "options -l and -c cannot be used together",
        ),
        (
            &["-c", "1", "--lcores", "0"],
            "options -c and --lcores cannot be used together",
        ),
        (
            &["-l", "0", "-l", "1"],
            "option -l is given twice (only -a, -b, --vdev, --log-level and --pagesz-mem repeat)",
        ),
        (
            &["-l", "0", "--lcores", "1"],
            "option --lcores is given twice",
        ),
        (
            &["-m", "1", "--memory-size=2"],
            "option --memory-size is given twice",
        ),
        (
            &["--no-huge", "--no-huge"],
            "option --no-huge is given twice",
        ),
        (
            &["-a", "00:03.0", "-b", "00:04.0"],
            "options -a/--allow and -b cannot be used together",
        ),
        (
            &["-b", "00:04.0", "--allow", "00:03.0"],
            "options -b/--block and --allow cannot be used together",
        ),
        (
            &["-a", "eth0"],
            "invalid value 'eth0' for -a: 'eth0' is not a PCI address",
        ),
        (
            &["-b", "00:04.0,k=v"],
            "invalid value '00:04.0,k=v' for -b: a blocked device takes no arguments",
        ),
        (
            &["--vdev", ""],
            "invalid value '' for --vdev: missing device name",
        ),
        (&["--vdev", "net_null0,,x=1"], "for --vdev: empty argument"),
        (
            &["--vdev", "net_null0", "--vdev", "net_null0,size=1"],
            "device 'net_null0' is given twice",
        ),
        (
            &["-n", "0"],
            "invalid value '0' for -n: must be between 1 and 64",
        ),
        (&["-n", "four"], "invalid value 'four' for -n: not a number"),
        (
            &["-r", "17"],
            "invalid value '17' for -r: must be between 1 and 16",
        ),
        (
            &["-m", "lots"],
            "invalid value 'lots' for -m: not a number of megabytes",
        ),
        (
            &["-m", "0"],
            "invalid value '0' for -m: must be more than 0",
        ),
        (
            &["--socket-mem", "1024,x"],
            "invalid value '1024,x' for --socket-mem: 'x' is not a number of megabytes",
        ),
        (
            &["-m", "64", "--socket-mem", "64"],
            "options -m and --socket-mem cannot be used together",
        ),
        (
            &["--numa-mem", "64", "-m", "64"],
            "options --numa-mem and -m cannot be used together",
        ),
        (
            &["--no-huge", "--socket-mem", "64"],
            "options --socket-mem and --no-huge cannot be used together",
        ),
        (
            &["--no-huge", "--huge-unlink"],
            "options --huge-unlink and --no-huge cannot be used together",
        ),
        (
            &["--in-memory", "--huge-unlink=never"],
            "options --in-memory and --huge-unlink=never cannot be used together",
        ),
        (
            &["--huge-unlink=sometimes"],
            "invalid value 'sometimes' for --huge-unlink",
        ),
        (
            &["--huge-dir="],
            "invalid value '' for --huge-dir: empty path",
        ),
        (
            &["--file-prefix", ""],
            "invalid value '' for --file-prefix: empty prefix",
        ),
        (
            &["--mbuf-pool-ops-name="],
            "invalid value '' for --mbuf-pool-ops-name: empty name",
        ),
        (
            &["--file-prefix", "a/b"],
            "invalid value 'a/b' for --file-prefix: the prefix must not contain",
        ),
        (
            &["--iova-mode", "io"],
            "invalid value 'io' for --iova-mode: expected 'pa' or 'va'",
        ),
        (
            &["--proc-type", "tertiary"],
            "invalid value 'tertiary' for --proc-type",
        ),
        (
            &["--main-lcore", "x"],
            "invalid value 'x' for --main-lcore: not a number",
        ),
        (
            &["--main-lcore", "128"],
            "invalid value '128' for --main-lcore: must be between 0 and 127",
        ),
        (
            &["-l", "0-1", "--main-lcore", "3"],
            "invalid value '3' for --main-lcore: lcore 3 is not in the lcore set given by -l 0-1",
        ),
        (
            &["--log-level", "loud"],
            "invalid value 'loud' for --log-level: 'loud' is not a log level",
        ),
        (
            &["--log-level", "lib.eal:0"],
            "invalid value 'lib.eal:0' for --log-level: log level 0 is not valid",
        ),
        (
            &["--log-level", "(,8"],
            "invalid value '(,8' for --log-level: bad regular expression",
        ),
    ];
    for (args, want) in cases {
        let got = err(args);
        assert!(got.contains(want), "{args:?}:\n  got  {got}\n  want {want}");
    }
}

#[test]
fn no_input_panics() {
    // Arbitrary words, flags with odd values, unicode: errors, never panics.
    let words = [
        "-l",
        "--lcores",
        "-c",
        "--vdev",
        "-a",
        "-b",
        "-m",
        "--socket-mem",
        "--log-level",
        "é",
        "-é",
        "--",
        "---",
        "-",
        "(",
        ")",
        "@",
        ",",
        "0-",
        "0x",
        "--=",
        "=",
        "-l@",
        "-c0x",
        "99999999999999999999",
        "--huge-unlink=",
        "--file-prefix=%",
        "--pagesz-mem",
        "--pagesz-mem=:",
        "--syslog=",
        "-R",
        "-R=",
        "--base-virtaddr",
        "--log-timestamp=",
        "--huge-worker-stack=",
        "--numa-limit",
        "--force-max-simd-bitwidth",
        "--vfio-vf-token",
        "18446744073709551615",
    ];
    for a in words {
        for b in words {
            let _ = parse(&["app", a, b]);
            let _ = parse(&["app", a, b, a]);
        }
    }
}

#[test]
fn dpdk_26_07_flags_parse_to_their_meaning() {
    let (o, _) = run(&[
        "--no-auto-probing",
        "--legacy-mem",
        "--syslog=local3",
        "--base-virtaddr=0x23456789",
        "--vfio-intr=msix",
        "--create-uio-dev",
        "--huge-worker-stack=512",
        "--log-timestamp=iso",
        "--log-color=never",
        "--memory-channels=2",
        "--memory-ranks",
        "4",
        "--memory-size=64",
        "--version",
    ])
    .unwrap();
    assert!(o.no_auto_probing && o.legacy_mem && o.create_uio_dev && o.show_version);
    assert_eq!(o.syslog.unwrap().name(), "local3");
    assert_eq!(o.base_virtaddr, Some(0x2400_0000));
    assert_eq!(o.vfio_intr, Some(VfioIntr::Msix));
    assert_eq!(o.huge_worker_stack, Some(WorkerStack::Bytes(512 << 10)));
    assert_eq!(o.log_timestamp, LogTimestamp::Iso);
    assert_eq!(o.log_color, LogColor::Never);
    assert_eq!(
        (o.memory_channels, o.memory_ranks, o.memory_mb),
        (Some(2), Some(4), Some(64))
    );

    let (o, _) = run(&[
        "-A",
        "--syslog",
        "--huge-worker-stack",
        "--log-timestamp",
        "--log-color",
    ])
    .unwrap();
    assert!(o.no_auto_probing);
    assert_eq!(o.syslog, Some(SyslogFacility::DAEMON));
    assert_eq!(o.huge_worker_stack, Some(WorkerStack::Default));
    assert_eq!(o.log_timestamp, LogTimestamp::Time);
    assert_eq!(o.log_color, LogColor::Always);

    let (o, _) = run(&["--auto-probing", "--coremask", "0x1"]).unwrap();
    assert!(!o.no_auto_probing);
    assert_eq!(lcores(&o), "0@0");

    // A page size given twice keeps the later limit, with a warning, as DPDK.
    let (o, _) = run(&[
        "--pagesz-mem=2M:64M",
        "--pagesz-mem=1K:8K",
        "--pagesz-mem=2M:32M",
    ])
    .unwrap();
    assert_eq!(
        o.pagesz_mem,
        [
            PageSizeLimit {
                page_size: 2 << 20,
                limit: 32 << 20
            },
            PageSizeLimit {
                page_size: 1 << 10,
                limit: 8 << 10
            }
        ]
    );
    assert!(o.warnings[0].contains("later limit"), "{:?}", o.warnings);
}

/// Bad values of the flags DPDK 26.07 added, and the pairs it refuses together.
#[test]
fn dpdk_26_07_bad_values_and_conflicts() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--syslog=invalid"],
            "invalid value 'invalid' for --syslog: unknown syslog facility",
        ),
        (
            &["--log-timestamp=invalid"],
            "invalid value 'invalid' for --log-timestamp: expected 'notime'",
        ),
        (
            &["--log-color=invalid"],
            "invalid value 'invalid' for --log-color: expected 'always', 'auto' or 'never'",
        ),
        (
            &["--vfio-intr=invalid"],
            "invalid value 'invalid' for --vfio-intr: expected 'legacy', 'msi' or 'msix'",
        ),
        (&["--vfio-intr"], "option --vfio-intr requires a value"),
        (
            &["--base-virtaddr=0xnope"],
            "invalid value '0xnope' for --base-virtaddr: not a hexadecimal address",
        ),
        (
            &["--huge-worker-stack=0"],
            "invalid value '0' for --huge-worker-stack: the stack size must be more than 0 KB",
        ),
        (
            &["--pagesz-mem=2M:3M"],
            "invalid value '2M:3M' for --pagesz-mem: limit '3M' is not a multiple",
        ),
        (
            &["--pagesz-mem=3M:6M"],
            "invalid value '3M:6M' for --pagesz-mem: page size '3M' is not a power of two",
        ),
        (&["--legacy-mem=1"], "option --legacy-mem takes no value"),
        (
            &["--auto-probing", "--no-auto-probing"],
            "options --auto-probing and --no-auto-probing cannot be used together",
        ),
        (
            &["-b", "0:0.0", "--no-auto-probing"],
            "options -b/--block and --no-auto-probing cannot be used together",
        ),
        (
            &["--no-huge", "--pagesz-mem=2M:2M"],
            "options --pagesz-mem and --no-huge cannot be used together",
        ),
        (
            &["--legacy-mem", "--pagesz-mem=2M:2M"],
            "options --pagesz-mem and --legacy-mem cannot be used together",
        ),
        (
            &["--legacy-mem", "--in-memory"],
            "options --legacy-mem and --in-memory cannot be used together",
        ),
        (
            &["--no-huge", "--huge-worker-stack"],
            "options --huge-worker-stack and --no-huge cannot be used together",
        ),
        (
            &["--no-huge", "--single-file-segments"],
            "options --single-file-segments and --no-huge cannot be used together",
        ),
        (
            &["--single-file-segments", "--huge-unlink=never"],
            "options --single-file-segments and --huge-unlink=never cannot be used together",
        ),
        (
            &["--in-memory", "--huge-unlink"],
            "options --in-memory and --huge-unlink cannot be used together",
        ),
        (
            &["--no-huge", "--huge-unlink=existing"],
            "options --huge-unlink=existing and --no-huge cannot be used together",
        ),
        (
            &["--lcores", "0-1@(0,1)"],
            "invalid value '0-1@(0,1)' for --lcores: a range of lcores before '@' must be a group: write (0-1)@...",
        ),
        // DPDK's test_memory_flags lines that need two or three NUMA nodes to run.
        (&["--socket-mem=2,"], "'' is not a number of megabytes"),
        (
            &["--socket-mem=2,Fred"],
            "'Fred' is not a number of megabytes",
        ),
        (
            &["--socket-mem=2,Fred0"],
            "'Fred0' is not a number of megabytes",
        ),
        (&["--socket-mem=2,,2"], "'' is not a number of megabytes"),
    ];
    for (args, want) in cases {
        let got = err(args);
        assert!(got.contains(want), "{args:?}:\n  got  {got}\n  want {want}");
    }
    // DPDK's command lines that need more CPUs than a test machine may have parse.
    assert_eq!(lcores(&run(&["-l", "1-2,3"]).unwrap().0), "1@1 2@2 3@3");
    let (o, _) = run(&["--lcores", "(0-1)@(0,1)"]).unwrap();
    assert_eq!(lcores(&o), "0@0-1 1@0-1");
}

#[test]
fn more_dpdk_26_07_flags() {
    let (o, app) = run(&["-R", "-l", "0,2"]).unwrap();
    assert!(app.is_empty(), "-R takes no detached value");
    assert_eq!(o.remap_lcore_ids, Some(0));
    assert_eq!(lcores(&o), "0@0 1@2");
    let (o, _) = run(&["-l", "200-201", "--remap-lcore-ids=4"]).unwrap();
    assert_eq!(lcores(&o), "4@200 5@201");
    let (o, _) = run(&["-R7"]).unwrap();
    assert_eq!(o.remap_lcore_ids, Some(7));
    let (o, _) = run(&[
        "--numa-limit=512,0",
        "--match-allocations",
        "--force-max-simd-bitwidth=0",
        "--vmware-tsc-map",
        "--vfio-vf-token=bd48ea05-4fe4-4d52-a04a-43d8d2dcb87d",
    ])
    .unwrap();
    assert_eq!(o.numa_limit, Some(vec![512, 0]));
    assert!(o.match_allocations && o.vmware_tsc_map);
    assert_eq!(o.max_simd_bitwidth, Some(values::SIMD_MAX));
    assert_eq!(o.vfio_vf_token.unwrap()[0], 0xbd);
    assert_eq!(
        run(&["--socket-limit", "64"]).unwrap().0.numa_limit,
        Some(vec![64])
    );
    let cases: &[(&[&str], &str)] = &[
        (
            &["-R", "--lcores", "0@1"],
            "invalid value '0@1' for --lcores: '@' and groups '()' cannot be used when remapping",
        ),
        (
            &["--remap-lcore-ids=200"],
            "invalid value '200' for --remap-lcore-ids: must be between 0 and 127",
        ),
        (
            &["--numa-limit=64", "--legacy-mem"],
            "options --numa-limit and --legacy-mem cannot be used together",
        ),
        (
            &["--legacy-mem", "--match-allocations"],
            "options --legacy-mem and --match-allocations cannot be used together",
        ),
        (
            &["--no-huge", "--match-allocations"],
            "options --no-huge and --match-allocations cannot be used together",
        ),
        (
            &["--force-max-simd-bitwidth=100"],
            "invalid value '100' for --force-max-simd-bitwidth: expected 0 or a power of two",
        ),
        (
            &["--vfio-vf-token=nope"],
            "invalid value 'nope' for --vfio-vf-token: not a UUID",
        ),
        (&["--numa-limit=2,x"], "'x' is not a number of megabytes"),
    ];
    for (args, want) in cases {
        let got = err(args);
        assert!(got.contains(want), "{args:?}:\n  got  {got}\n  want {want}");
    }
}

#[test]
fn service_lcores_by_mask_or_list() {
    let (o, _) = run(&["-l", "0-3", "-s", "0xc"]).unwrap();
    assert_eq!(o.service_lcores.unwrap().lcores, [2, 3]);
    let (o, _) = run(&["-l", "0-3", "-S", "1,3"]).unwrap();
    let svc = o.service_lcores.unwrap();
    assert_eq!((svc.flag.as_str(), svc.lcores), ("-S", vec![1, 3]));
    for (args, want) in [
        (
            &["-l", "0-1", "-s", "0x4"][..],
            "service lcore 2 is not in the lcore set given by -l 0-1",
        ),
        (
            &["-l", "0-1", "-S", "0"][..],
            "lcore 0 is the main lcore, which cannot be a service lcore",
        ),
        (&["-l", "0-1", "-s", "zz"][..], "invalid value 'zz' for -s"),
        (&["-l", "0-3", "-s", "0x2", "-S", "3"][..], "-s"),
        (
            &["-l", "0-3", "-S", "2@1"][..],
            "service lcores are lcore ids, without '@' CPU sets",
        ),
    ] {
        let e = err(args);
        assert!(e.contains(want), "{args:?}: {e}");
    }
}

#[test]
fn telemetry_is_on_unless_no_telemetry() {
    assert!(!run(&[]).unwrap().0.no_telemetry);
    assert!(!run(&["--telemetry"]).unwrap().0.no_telemetry);
    assert!(
        run(&["--no-telemetry", "--telemetry"])
            .unwrap()
            .0
            .no_telemetry
    );
    assert!(
        run(&["--telemetry", "--no-telemetry"])
            .unwrap()
            .0
            .no_telemetry
    );
    assert_eq!(
        err(&["--telemetry=1"]),
        "option --telemetry takes no value, got '1'"
    );
}
