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
        "-c COREMASK",
        "--main-lcore",
        "-n CHANNELS",
        "-r RANKS",
        "-m MB",
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
        "-v",
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
        (&["stray"], "unexpected argument 'stray'"),
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
            "options -l and -l cannot be used together",
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
    ];
    for a in words {
        for b in words {
            let _ = parse(&["app", a, b]);
            let _ = parse(&["app", a, b, a]);
        }
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
