//! `rpdk-proc-info`, DPDK's `dpdk-proc-info`: a secondary process that prints the statistics
//! and state of the primary's ports, rings and mempools (see [`rpdk_examples::proc_info`]).
//!
//! ```text
//! rpdk-proc-info [EAL options] -- [-p PORTMASK] [--stats | --xstats | --stats-reset | ...]
//!     [--show-port] [--show-ring[=NAME]] [--show-mempool[=NAME]]
//! ```
//!
//! As DPDK's, it runs as a secondary (`--proc-type=secondary` is added to the EAL arguments)
//! on one lcore, so it needs a running primary with the same `--file-prefix`.

use rpdk_ethdev::Port;
use rpdk_examples::proc_info;

fn main() {
    let mut argv: Vec<String> = std::env::args().collect();
    let prog = argv
        .first()
        .cloned()
        .unwrap_or_else(|| "rpdk-proc-info".into());
    // DPDK's proc-info runs as a secondary on one lcore.
    argv.splice(
        1..1,
        ["--proc-type=secondary".to_string(), "-l".into(), "0".into()],
    );
    let (eal, rest) = match rpdk_eal::init(argv) {
        Ok(v) => v,
        Err(e) => rpdk_examples::exit_on_eal_error(e),
    };
    let opts = match proc_info::parse(&rest) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}\n{}", proc_info::usage(&prog));
            std::process::exit(1);
        }
    };
    let ports: Vec<Port> = rpdk_ethdev::ports()
        .into_iter()
        .filter(|&id| opts.portmask == 0 || opts.portmask & (1 << id) != 0)
        .filter_map(|id| Port::get(id).ok())
        .collect();
    let per_port = opts.stats
        || opts.xstats
        || opts.stats_reset
        || opts.xstats_reset
        || opts.xstats_name.is_some()
        || !opts.xstats_ids.is_empty()
        || opts.show_port;
    if per_port && rpdk_ethdev::port_count() == 0 {
        eprintln!("EAL: Error - exiting with code: 1\n  Cause: No Ethernet ports - bye");
        std::process::exit(1);
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = proc_info::run(&mut out, &opts, &ports) {
        eprintln!("{prog}: {e}");
        std::process::exit(1);
    }
    drop(eal);
}
