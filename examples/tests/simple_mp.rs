//! simple_mp as DPDK's users run it: a primary and a secondary, each with its prompt, passing
//! strings both ways through named rings and a shared mempool.

use std::process::Command;

use rpdk_testsupport::process::Interactive;
use rpdk_testsupport::{allowed_cpus, unique_prefix};

/// simple_mp with its prompt, of `proc_type` on `lcores`.
fn start(prefix: &str, proc_type: &str, lcores: &str) -> Interactive {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_simple_mp"));
    cmd.args([
        "-l",
        lcores,
        "--no-huge",
        "--no-telemetry",
        &format!("--file-prefix={prefix}"),
        &format!("--proc-type={proc_type}"),
    ]);
    Interactive::spawn(cmd)
}

#[test]
fn two_processes_exchange_messages() {
    let prefix = unique_prefix("smp");
    let (c0, c1) = {
        let cpus = allowed_cpus();
        (cpus[0], *cpus.get(1).unwrap_or(&cpus[0]))
    };
    let mut primary = start(&prefix, "primary", &format!("0@{c0},1@{c1}"));
    primary.expect("APP: Finished Process Init.");
    primary.expect("Starting core 1");
    let mut secondary = start(&prefix, "secondary", &format!("2@{c0},3@{c1}"));
    secondary.expect("APP: Finished Process Init.");
    secondary.expect("Starting core 3");
    primary.say("send hello secondary");
    secondary.expect("core 3: Received 'hello secondary'");
    secondary.say("send hello primary");
    primary.expect("core 1: Received 'hello primary'");
    secondary.say("help");
    secondary.expect("- send [string]");
    let long = "x".repeat(200);
    primary.say(&format!("send {long}"));
    secondary.expect(&format!("core 3: Received '{}'", &long[..127]));
    // A second secondary with the lcores the first one runs is refused.
    let mut clash = start(&prefix, "secondary", &format!("2@{c0},3@{c1}"));
    clash.expect("lcore 2: process ");
    secondary.quit();
    primary.quit();
}
