//! `rpdk-proc-info`, DPDK's `dpdk-proc-info`: a secondary process that prints the statistics
//! and state of the primary's ports, rings and mempools (see [`rpdk_examples::proc_info`]).
//!
//! ```text
//! rpdk-proc-info [EAL options] -- [-p PORTMASK] [--stats | --xstats | --stats-reset | ...]
//!     [--show-port] [--show-ring[=NAME]] [--show-mempool[=NAME]]
//! ```
//!
//! As DPDK's, it runs as a secondary (`--proc-type=secondary` is added to the EAL arguments)
//! on one lcore (lcore 127 on CPU 0 unless `-l`/`--lcores` say otherwise: the processes of a
//! prefix each run their own lcore ids), so it needs a running primary with the same
//! `--file-prefix`.

use rpdk_examples::proc_info::{self, PortRef};

fn main() {
    let mut argv: Vec<String> = std::env::args().collect();
    let prog = argv
        .first()
        .cloned()
        .unwrap_or_else(|| "rpdk-proc-info".into());
    // DPDK's proc-info runs as a secondary on one lcore (its `-c1`). rpdk's processes of one
    // prefix each need their own lcore ids, so it takes the last one (on CPU 0) unless the
    // command line names lcores.
    let named = argv
        .iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .any(|a| ["-l", "-c", "--lcores"].iter().any(|f| a.starts_with(f)));
    argv.insert(1, "--proc-type=secondary".to_string());
    if !named {
        let last = rpdk_eal::lcore::MAX_LCORE - 1;
        argv.splice(2..2, ["--lcores".to_string(), format!("{last}@0")]);
    }
    let (eal, rest) = match rpdk_eal::init(argv) {
        Ok(v) => v,
        Err(e) => rpdk_examples::exit_on_eal_error(e),
    };
    // DPDK's prints its usage when given no option, and goes on with nothing to show.
    if rest.is_empty() {
        print!("{}", proc_info::usage(&prog));
    }
    let opts = match proc_info::parse(&rest) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}\n{}", proc_info::usage(&prog));
            std::process::exit(1);
        }
    };
    let all = match PortRef::all() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("EAL: Error - exiting with code: 1\n  Cause: the primary's ports: {e}");
            std::process::exit(1);
        }
    };
    let per_port = opts.stats
        || opts.xstats
        || opts.stats_reset
        || opts.xstats_reset
        || opts.xstats_name.is_some()
        || !opts.xstats_ids.is_empty()
        || opts.show_port;
    if per_port && all.is_empty() {
        eprintln!("EAL: Error - exiting with code: 1\n  Cause: No Ethernet ports - bye");
        std::process::exit(1);
    }
    let ports: Vec<PortRef> = all
        .into_iter()
        .filter(|p| opts.portmask == 0 || opts.portmask & (1 << p.id()) != 0)
        .collect();
    let mut out = std::io::stdout().lock();
    if let Err(e) = proc_info::run(&mut out, &opts, &ports) {
        eprintln!("{prog}: {e}");
        std::process::exit(1);
    }
    drop(eal);
}
