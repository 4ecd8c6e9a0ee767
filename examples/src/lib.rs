//! Helpers shared by rpdk's example applications.
//!
//! The examples themselves are binaries under `src/bin/`: `helloworld`, `l2fwd`, `simple_mp`,
//! `symmetric_mp` and `rpdk-testpmd` (whose parts are in [`testpmd`]).

pub mod pdump;
pub mod proc_info;
pub mod signals;
pub mod testpmd;

use rpdk_eal::{Eal, Error};

/// Initialises the EAL from the process's command line, or prints why it cannot and exits as
/// DPDK's examples do (`-h` exits 0 after printing the usage, anything else exits 1).
pub fn init_eal_or_exit() -> (Eal, Vec<String>) {
    match rpdk_eal::init(std::env::args()) {
        Ok(v) => v,
        Err(e) => exit_on_eal_error(e),
    }
}

/// Prints an EAL error as DPDK's `rte_exit` does and exits with the error's code.
pub fn exit_on_eal_error(e: Error) -> ! {
    let code = e.exit_code();
    if code != 0 {
        eprintln!("EAL: {e}");
        eprintln!("EAL: Error - exiting with code: {code}\n  Cause: Cannot init EAL");
    }
    std::process::exit(code)
}
