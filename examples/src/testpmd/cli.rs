//! Interactive mode: the `testpmd>` prompt and the commands that matter for measuring.

use std::io::Write;
use std::time::Duration;

use rpdk_eal::Eal;
use rpdk_ethdev::Port;

use super::fwd;
use super::stdin::{Lines, Poll};
use super::{Fatal, Testpmd, display};
use crate::signals;

const HELP: &str = "\
Commands:
  start                      start forwarding
  start tx_first             send a burst on every stream, then start forwarding
  stop                       stop forwarding and show the forward statistics
  show port stats all|N      NIC statistics of the ports
  show port info all|N       what the ports are
  show port summary all      one line per port
  clear port stats all|N     reset the statistics
  set fwd MODE               io, mac, macswap, txonly, rxonly, flowgen (while stopped)
  show config fwd            the forwarding streams
  quit                       stop and exit
";

fn ports_of(tp: &Testpmd, which: &str) -> Result<Vec<u16>, String> {
    if which == "all" {
        return Ok(tp.ports.clone());
    }
    let p: u16 = which.parse().map_err(|_| format!("Invalid port {which}"))?;
    if tp.ports.contains(&p) {
        Ok(vec![p])
    } else {
        Err(format!("Invalid port {p}"))
    }
}

/// Runs commands until `quit`, end of input or a signal.
pub fn run(eal: &Eal, tp: &mut Testpmd) -> Result<(), Fatal> {
    if tp.args.auto_start {
        println!("Start automatic packet forwarding");
        let tx_first = tp.args.tx_first;
        tp.start(eal, tx_first)?;
    }
    let mut input = Lines::new();
    loop {
        print!("testpmd> ");
        let _ = std::io::stdout().flush();
        let line = loop {
            if signals::quit_requested() {
                if let Some(sig) = signals::signal() {
                    println!("\nSignal {sig} received, preparing to exit...");
                }
                return Ok(());
            }
            match input.poll_line(Duration::from_millis(100)) {
                Poll::Pending => {}
                Poll::Line(l) => break l,
                Poll::Eof => {
                    println!();
                    return Ok(());
                }
            }
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            ["quit"] | ["exit"] => return Ok(()),
            ["help"] => print!("{HELP}"),
            ["start"] => {
                if let Err(Fatal(e)) = tp.start(eal, false) {
                    println!("{e}");
                }
            }
            ["start", "tx_first"] => {
                if let Err(Fatal(e)) = tp.start(eal, true) {
                    println!("{e}");
                }
            }
            ["stop"] => tp.stop(eal),
            ["show", "port", "stats", which] => match ports_of(tp, which) {
                Ok(ps) => {
                    for p in ps {
                        if let Ok(port) = Port::get(p) {
                            print!("{}", display::nic_stats(&port, &mut tp.throughput));
                        }
                    }
                }
                Err(e) => println!("{e}"),
            },
            ["show", "port", "info", which] => match ports_of(tp, which) {
                Ok(ps) => {
                    for p in ps {
                        if let Ok(port) = Port::get(p) {
                            print!("{}", display::port_info(&port));
                        }
                    }
                }
                Err(e) => println!("{e}"),
            },
            ["show", "port", "summary", "all"] => print!("{}", display::port_summary(&tp.ports)),
            ["clear", "port", "stats", which] => match ports_of(tp, which) {
                Ok(ps) => {
                    for p in ps {
                        if let Ok(port) = Port::get(p) {
                            port.stats_reset();
                            println!("\n  NIC statistics for port {p} cleared");
                        }
                    }
                }
                Err(e) => println!("{e}"),
            },
            ["set", "fwd", mode] => {
                if tp.stop.is_some() {
                    println!("Please stop forwarding first");
                } else {
                    match fwd::find(mode) {
                        Some(m) => {
                            tp.mode = m;
                            println!("Set {} packet forwarding mode", m.name);
                        }
                        None => println!("Invalid {mode} packet forwarding mode"),
                    }
                }
            }
            ["show", "config", "fwd"] => {
                if let Err(Fatal(e)) = tp.plan(eal) {
                    println!("{e}");
                } else {
                    tp.print_config();
                }
            }
            _ => println!("Bad arguments"),
        }
    }
}
