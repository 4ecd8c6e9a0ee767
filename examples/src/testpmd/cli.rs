//! Interactive mode: the `testpmd>` prompt and its commands (those that matter for measuring,
//! and a flow session's), also run from `--cmdline-file`.

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
  set promisc all|N on|off   promiscuous mode of the ports
  set allmulti all|N on|off  all-multicast mode of the ports
  port config mtu N VALUE    MTU of port N
  port config all rss TYPE   RSS hash types of every port: all, ip, tcp, udp, sctp, none...
  port config N rss reta (H,Q)[(H,Q)...]
                             RETA entry H of port N to queue Q
  show port N rss reta       the redirection table of port N
  show port N rss-hash [key] the RSS hash types (and key) of port N
  set verbose N              dump received (1), sent (2) or both (3) bursts; 0: off
  port stop all|N            stop the ports (and flush their flow rules)
  port start all|N           start them again
  flow ...                   rte_flow: validate, create, destroy, flush, query, list,
                             isolate, dump, indirect_action (testpmd's syntax)
  add|del port meter profile|policy ..., create|enable|disable|del port meter ...,
  set|get|show port meter ...
                             rte_mtr: meter profiles, policies and meters (METER action)
  set raw_encap|raw_decap [N] ITEM / ... end_set, set vxlan|vxlan-with-vlan|vxlan-tos-ttl ...,
  set nvgre|nvgre-with-vlan ...
                             the headers raw_encap/raw_decap index N, vxlan_encap and
                             nvgre_encap take
  show raw_encap|raw_decap N|all
                             dump those buffers (rte_hexdump's layout)
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

/// The hash types of `port config all rss TYPE` (testpmd's names; `default` is all the
/// port offers).
fn rss_types(kind: &str) -> Option<rpdk_ethdev::RssHf> {
    match kind {
        "default" => rpdk_ethdev::RssHf::parse("all"),
        k => rpdk_ethdev::RssHf::parse(k),
    }
}

/// testpmd's RETA entries, `(H,Q)(H,Q)...` (hash index, queue).
fn reta_pairs(s: &str) -> Option<Vec<(u16, u16)>> {
    let mut out = Vec::new();
    for part in s.split(')').filter(|p| !p.is_empty()) {
        let (h, q) = part.strip_prefix('(')?.split_once(',')?;
        out.push((h.trim().parse().ok()?, q.trim().parse().ok()?));
    }
    (!out.is_empty()).then_some(out)
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
        if command(eal, tp, &line) == Next::Quit {
            return Ok(());
        }
    }
}

/// `--cmdline-file`: runs the commands of `path` as testpmd 22.11 does before its prompt (or
/// before forwarding starts without `-i`), echoing each after the prompt; `quit` ends the file.
pub fn run_file(eal: &Eal, tp: &mut Testpmd, path: &str) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("Failed to create file based cmdline context: {path} ({e})");
            return;
        }
    };
    for line in text.lines() {
        println!("testpmd> {line}");
        if command(eal, tp, line) == Next::Quit {
            break;
        }
    }
    println!("Read CLI commands from {path}");
}

/// What follows a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// The next command.
    Go,
    /// `quit`.
    Quit,
}

/// Runs one command line.
pub fn command(eal: &Eal, tp: &mut Testpmd, line: &str) -> Next {
    let line = line.trim();
    if line.starts_with('#') {
        return Next::Go;
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        _ if rpdk_flow::syntax::is_meter_command(line) => tp.flow(line),
        _ if rpdk_flow::syntax::is_encap_command(line) => tp.encap_set(line),
        [] => {}
        ["quit"] | ["exit"] => return Next::Quit,
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
        [
            "set",
            mode @ ("promisc" | "allmulti"),
            which,
            onoff @ ("on" | "off"),
        ] => match ports_of(tp, which) {
            Ok(ps) => {
                for p in ps {
                    let Ok(port) = Port::get(p) else { continue };
                    let r = match (*mode, *onoff) {
                        ("promisc", "on") => port.promiscuous_enable(),
                        ("promisc", _) => port.promiscuous_disable(),
                        (_, "on") => port.allmulticast_enable(),
                        _ => port.allmulticast_disable(),
                    };
                    if let Err(e) = r {
                        println!("Error setting {mode} mode {onoff} for port {p}: {e}");
                    }
                }
            }
            Err(e) => println!("{e}"),
        },
        ["port", "config", "mtu", n, value] => {
            match (
                n.parse::<u16>().ok().and_then(|p| Port::get(p).ok()),
                value.parse::<u16>(),
            ) {
                (Some(port), Ok(mtu)) => {
                    if let Err(e) = port.set_mtu(mtu) {
                        println!("Set MTU failed: {e}");
                    }
                }
                (None, _) => println!("Invalid port {n}"),
                (_, Err(_)) => println!("Bad arguments"),
            }
        }
        ["port", "config", "all", "rss", kind] => match rss_types(kind) {
            Some(hf) => {
                for &p in &tp.ports {
                    if let Ok(port) = Port::get(p) {
                        let hf = hf.and(port.info().flow_type_rss_offloads);
                        let conf = rpdk_ethdev::RssConf { key: None, hf };
                        if let Err(e) = port.rss_hash_update(&conf) {
                            println!("Port {p}: {e}");
                        }
                    }
                }
            }
            None => println!("Unknown RSS type {kind}"),
        },
        ["port", "config", n, "rss", "reta", pairs @ ..] if !pairs.is_empty() => {
            match (
                n.parse::<u16>().ok().and_then(|p| Port::get(p).ok()),
                reta_pairs(&pairs.concat()),
            ) {
                (Some(port), Some(entries)) => {
                    if let Err(e) = port.rss_reta_update(&entries) {
                        println!("Failed to set RSS redirection table: {e}");
                    }
                }
                (None, _) => println!("Invalid port {n}"),
                (_, None) => println!("Invalid RETA entries {}", pairs.concat()),
            }
        }
        ["show", "port", n, "rss", "reta"] => {
            match n.parse::<u16>().ok().and_then(|p| Port::get(p).ok()) {
                Some(port) => match port.rss_reta_query() {
                    Ok(reta) => {
                        for (i, q) in reta.iter().enumerate() {
                            println!("RSS RETA configuration: hash index={i}, queue={q}");
                        }
                    }
                    Err(e) => println!("{e}"),
                },
                None => println!("Invalid port {n}"),
            }
        }
        ["show", "port", n, "rss-hash", rest @ ..] if rest.len() <= 1 => {
            match n.parse::<u16>().ok().and_then(|p| Port::get(p).ok()) {
                Some(port) => match port.rss_hash_conf_get() {
                    Ok(c) => print!("{}", display::rss_hash(&c, rest == ["key"])),
                    Err(e) => println!("{e}"),
                },
                None => println!("Invalid port {n}"),
            }
        }
        ["show", "config", "fwd"] => {
            if let Err(Fatal(e)) = tp.plan(eal) {
                println!("{e}");
            } else {
                tp.print_config();
            }
        }
        ["flow", ..] => tp.flow(line),
        ["set", "verbose", n] => match n.parse::<u16>() {
            Ok(level) => tp.set_verbose(level),
            Err(_) => println!("Bad arguments"),
        },
        ["port", "stop", which] => match ports_of(tp, which) {
            Ok(ps) => tp.stop_ports(&ps),
            Err(e) => println!("{e}"),
        },
        ["port", "start", which] => match ports_of(tp, which) {
            Ok(ps) => tp.start_ports(&ps),
            Err(e) => println!("{e}"),
        },
        _ => println!("Bad arguments"),
    }
    Next::Go
}

#[cfg(test)]
mod tests {
    use super::reta_pairs;

    #[test]
    fn reta_entries_parse_as_testpmd_writes_them() {
        assert_eq!(reta_pairs("(0,1)(127,3)"), Some(vec![(0, 1), (127, 3)]));
        assert_eq!(reta_pairs("(0,x)"), None);
        assert_eq!(reta_pairs("0,1"), None);
    }
}
