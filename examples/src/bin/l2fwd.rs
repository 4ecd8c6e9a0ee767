//! DPDK's l2fwd: every packet received on a port goes out of its paired port, with its MAC
//! addresses rewritten (destination `02:00:00:00:00:<tx port>`, source the tx port's MAC).
//!
//! ```text
//! l2fwd [EAL options] -- -p PORTMASK [-P] [-q NQ] [-T PERIOD]
//!       [--[no-]mac-updating] [--portmap="(0,1)(2,3)"]
//! ```
//!
//! One lcore serves up to `NQ` receiving ports (lcores taken in order, the main one first); the
//! main lcore prints statistics every `PERIOD` seconds; SIGINT or SIGTERM stops the forwarding,
//! prints final statistics and closes the ports.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::Parser;
use rpdk_eal::time;
use rpdk_ethdev::{EthConf, Port, RxConf, RxQueue, TxBuffer, TxConf, TxQueue};
use rpdk_examples::signals;
use rpdk_mbuf::net::{Ethernet, MacAddr};
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, MbufBurst, PktmbufPool};

const MAX_PKT_BURST: usize = 32;
const BURST_TX_DRAIN_US: u64 = 100;
const MEMPOOL_CACHE_SIZE: u32 = 256;
const RX_DESC_DEFAULT: u16 = 1024;
const TX_DESC_DEFAULT: u16 = 1024;
const MAX_TIMER_PERIOD: u64 = 86400;

#[derive(Parser, Debug)]
#[command(
    name = "l2fwd",
    about = "DPDK's l2fwd on rpdk: forwards between paired ports"
)]
struct Args {
    /// Hexadecimal bitmask of the ports to use.
    #[arg(short = 'p', value_parser = parse_portmask)]
    portmask: u64,
    /// Turns promiscuous mode on for every port.
    #[arg(short = 'P')]
    promiscuous: bool,
    /// Receiving ports per lcore.
    #[arg(short = 'q', default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    queues_per_lcore: u32,
    /// Seconds between statistics (0 disables them).
    #[arg(short = 'T', default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=MAX_TIMER_PERIOD))]
    period: u64,
    /// Rewrite MAC addresses (the default).
    #[arg(long = "mac-updating", overrides_with = "no_mac_updating")]
    mac_updating: bool,
    /// Leave MAC addresses alone.
    #[arg(long = "no-mac-updating")]
    no_mac_updating: bool,
    /// Forwarding pairs, `(rx,tx)(rx,tx)...`; default: enabled ports paired in order.
    #[arg(long, value_parser = parse_portmap)]
    portmap: Option<PortMap>,
}

/// `--portmap` pairs.
#[derive(Clone, Debug)]
struct PortMap(Vec<(u16, u16)>);

fn parse_portmask(s: &str) -> Result<u64, String> {
    let hex = s.trim_start_matches("0x").trim_start_matches("0X");
    let v = u64::from_str_radix(hex, 16)
        .map_err(|_| format!("'{s}' is not a hexadecimal port mask"))?;
    if v == 0 {
        return Err("the port mask selects no port".into());
    }
    Ok(v)
}

fn parse_portmap(s: &str) -> Result<PortMap, String> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let inner = rest
            .strip_prefix('(')
            .and_then(|r| r.split_once(')'))
            .ok_or_else(|| format!("'{s}' is not a list of (rx,tx) pairs"))?;
        let (a, b) = inner
            .0
            .split_once(',')
            .ok_or_else(|| format!("'({})' is not an (rx,tx) pair", inner.0))?;
        let port = |x: &str| {
            x.trim()
                .parse::<u16>()
                .map_err(|_| format!("'{}' is not a port number", x.trim()))
        };
        out.push((port(a)?, port(b)?));
        rest = inner.1.trim_start();
    }
    if out.is_empty() {
        return Err("empty port map".into());
    }
    Ok(PortMap(out))
}

/// Per-port counters, written by the lcore that owns the event and read by the main lcore.
#[derive(Default)]
struct PortCounters {
    tx: AtomicU64,
    rx: AtomicU64,
    dropped: AtomicU64,
}

fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Ordering::Relaxed) + n, Ordering::Relaxed);
}

/// The queues one lcore serves: its receiving ports and the sending queues of their peers.
struct LcoreWork {
    lcore: u32,
    rx: Vec<(u16, RxQueue)>,
    tx: Vec<(u16, TxQueue)>,
}

struct Forwarding {
    dst: Vec<u16>,
    macs: Vec<MacAddr>,
    counters: Vec<Arc<PortCounters>>,
    mac_updating: bool,
}

fn die(msg: impl std::fmt::Display) -> ! {
    eprintln!("EAL: Error - exiting with code: 1\n  Cause: {msg}");
    std::process::exit(1)
}

fn main() {
    let (eal, app_args) = rpdk_examples::init_eal_or_exit();
    signals::install();
    // Captures from rpdk-pdump (DPDK's rte_pdump_init).
    if let Err(e) = rpdk_pdump::init() {
        eprintln!("pdump: {e}");
    }
    let args = match Args::try_parse_from(std::iter::once("l2fwd".to_string()).chain(app_args)) {
        Ok(a) => a,
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
            print!("{e}");
            return;
        }
        Err(e) => {
            eprint!("{e}");
            die("Invalid L2FWD arguments");
        }
    };
    let mac_updating = !args.no_mac_updating;
    println!(
        "MAC updating {}",
        if mac_updating { "enabled" } else { "disabled" }
    );

    let nb_ports = rpdk_ethdev::port_count();
    if nb_ports == 0 {
        die("No Ethernet ports - bye");
    }
    let all = rpdk_ethdev::ports();
    let max_id = *all.iter().max().expect("at least one port");
    if args.portmask >> (max_id as u32 + 1) != 0 {
        die(format!(
            "Invalid portmask; possible (0x{:x})",
            (1u64 << (max_id as u32 + 1)) - 1
        ));
    }
    let enabled: Vec<u16> = all
        .iter()
        .copied()
        .filter(|p| args.portmask & (1 << p) != 0)
        .collect();

    // Destination of each enabled port.
    let mut dst = vec![u16::MAX; max_id as usize + 1];
    match &args.portmap {
        Some(map) => {
            for &(a, b) in &map.0 {
                for p in [a, b] {
                    if !enabled.contains(&p) {
                        die(format!(
                            "port {p} of --portmap is not enabled in the port mask"
                        ));
                    }
                }
                if dst[a as usize] != u16::MAX || dst[b as usize] != u16::MAX {
                    die(format!("port pair ({a},{b}) reuses a port of --portmap"));
                }
                dst[a as usize] = b;
                dst[b as usize] = a;
            }
            if let Some(p) = enabled.iter().find(|&&p| dst[p as usize] == u16::MAX) {
                die(format!("port {p} is enabled but not in --portmap"));
            }
        }
        None => {
            for pair in enabled.chunks(2) {
                match pair {
                    [a, b] => {
                        dst[*a as usize] = *b;
                        dst[*b as usize] = *a;
                    }
                    [a] => {
                        println!("Notice: odd number of ports in portmask.");
                        dst[*a as usize] = *a;
                    }
                    _ => unreachable!("chunks of 2"),
                }
            }
        }
    }

    // Receiving ports of each lcore, lcores in order.
    let lcores = eal.lcores();
    let mut rx_of: Vec<(u32, Vec<u16>)> = lcores.iter().map(|&l| (l, Vec::new())).collect();
    let mut li = 0;
    for &p in &enabled {
        while li < rx_of.len() && rx_of[li].1.len() == args.queues_per_lcore as usize {
            li += 1;
        }
        if li == rx_of.len() {
            die("Not enough cores");
        }
        rx_of[li].1.push(p);
        println!(
            "Lcore {}: RX port {p} TX port {}",
            rx_of[li].0, dst[p as usize]
        );
    }

    let nb_mbufs = (enabled.len() as u32
        * (RX_DESC_DEFAULT as u32
            + TX_DESC_DEFAULT as u32
            + MAX_PKT_BURST as u32
            + lcores.len() as u32 * MEMPOOL_CACHE_SIZE))
        .max(8192);
    let pool = PktmbufPool::create(
        "mbuf_pool",
        nb_mbufs,
        MEMPOOL_CACHE_SIZE,
        0,
        MBUF_DEFAULT_BUF_SIZE,
        None,
    )
    .unwrap_or_else(|e| die(format!("Cannot init mbuf pool: {e}")));

    let mut macs = vec![MacAddr::ZERO; max_id as usize + 1];
    let mut counters: Vec<Arc<PortCounters>> = (0..=max_id).map(|_| Arc::default()).collect();
    let mut rxqs: Vec<Option<RxQueue>> = (0..=max_id).map(|_| None).collect();
    let mut txqs: Vec<Option<TxQueue>> = (0..=max_id).map(|_| None).collect();
    for &p in &enabled {
        print!("Initializing port {p}... ");
        let _ = std::io::stdout().flush();
        let port = Port::get(p).unwrap_or_else(|e| die(e));
        let setup = || -> rpdk_ethdev::Result<()> {
            port.configure(1, 1, &EthConf::default())?;
            port.rx_queue_setup(0, RX_DESC_DEFAULT, None, &RxConf::default(), &pool)?;
            port.tx_queue_setup(0, TX_DESC_DEFAULT, None, &TxConf::default())?;
            port.start()?;
            if args.promiscuous {
                port.promiscuous_enable()?;
            }
            Ok(())
        };
        setup().unwrap_or_else(|e| die(format!("Cannot set up port {p}: {e}")));
        macs[p as usize] = port.mac_addr();
        rxqs[p as usize] = Some(port.rx_queue(0).unwrap_or_else(|e| die(e)));
        txqs[p as usize] = Some(port.tx_queue(0).unwrap_or_else(|e| die(e)));
        println!("done: \nPort {p}, MAC address: {}\n", macs[p as usize]);
    }
    check_link_status(&enabled);

    let fwd = Forwarding {
        dst,
        macs,
        counters: std::mem::take(&mut counters),
        mac_updating,
    };
    let period_tsc = args.period * time::tsc_hz();
    let main_lcore = eal.main_lcore();
    let enabled_ref = &enabled;
    let fwd_ref = &fwd;
    // Hand each lcore its queues.
    let mut work: Vec<LcoreWork> = Vec::new();
    for (l, ports) in &rx_of {
        let rx: Vec<(u16, RxQueue)> = ports
            .iter()
            .map(|&p| (p, rxqs[p as usize].take().expect("one rx queue per port")))
            .collect();
        let tx: Vec<(u16, TxQueue)> = ports
            .iter()
            .map(|&p| fwd.dst[p as usize])
            .map(|d| {
                (
                    d,
                    txqs[d as usize]
                        .take()
                        .expect("each port is the destination of one port"),
                )
            })
            .collect();
        work.push(LcoreWork { lcore: *l, rx, tx });
    }
    eal.scope(|s| {
        let mut main_work = None;
        let mut handles = Vec::new();
        for w in work {
            if w.lcore == main_lcore {
                main_work = Some(w);
            } else {
                let l = w.lcore;
                handles.push(
                    s.launch(l, move || forward_loop(w, fwd_ref, false, 0, enabled_ref))
                        .unwrap_or_else(|e| die(e)),
                );
            }
        }
        if let Some(w) = main_work {
            forward_loop(w, fwd_ref, true, period_tsc, enabled_ref);
        } else {
            println!("lcore {main_lcore} has nothing to do");
            while !signals::quit_requested() {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        for h in handles {
            if let Err(e) = h.join() {
                eprintln!("{e}");
            }
        }
    });
    if let Some(sig) = signals::signal() {
        println!("\n\nSignal {sig} received, preparing to exit...");
    }
    print_stats(&fwd, &enabled, false);
    for &p in &enabled {
        print!("Closing port {p}...");
        if let Ok(port) = Port::get(p)
            && let Err(e) = port.stop().and_then(|_| port.close())
        {
            print!(" {e}");
        }
        println!(" Done");
    }
    drop(pool);
    drop(eal);
    println!("Bye...");
}

fn check_link_status(ports: &[u16]) {
    print!("\nChecking link status");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(9);
    loop {
        let all_up = ports
            .iter()
            .all(|&p| Port::get(p).map(|port| port.link().up).unwrap_or(false));
        if all_up || std::time::Instant::now() > deadline {
            break;
        }
        print!(".");
        let _ = std::io::stdout().flush();
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    println!("done");
    for &p in ports {
        if let Ok(port) = Port::get(p) {
            println!("Port {p} {}", port.link());
        }
    }
}

/// The loop of one lcore: receive from its ports, rewrite, buffer for the paired port, drain
/// the buffers every 100 us, and (on the main lcore) print statistics every period.
fn forward_loop(
    work: LcoreWork,
    fwd: &Forwarding,
    is_main: bool,
    period_tsc: u64,
    enabled: &[u16],
) {
    let LcoreWork {
        lcore,
        mut rx,
        mut tx,
    } = work;
    println!("entering main loop on lcore {lcore}");
    for (p, _) in &rx {
        println!(" -- lcoreid={lcore} portid={p}");
    }
    let drain_tsc = time::us_to_cycles(BURST_TX_DRAIN_US);
    let mut buffers: Vec<TxBuffer<MAX_PKT_BURST>> = tx.iter().map(|_| TxBuffer::new()).collect();
    let mut dropped_seen = vec![0u64; tx.len()];
    let mut burst = MbufBurst::<MAX_PKT_BURST>::new();
    let (mut prev_tsc, mut timer_tsc) = (time::rdtsc(), 0u64);
    while !signals::quit_requested() {
        let cur = time::rdtsc();
        let diff = cur.wrapping_sub(prev_tsc);
        if diff > drain_tsc {
            for (i, (d, txq)) in tx.iter_mut().enumerate() {
                let sent = buffers[i].flush(txq);
                bump(&fwd.counters[*d as usize].tx, sent as u64);
                let dropped = buffers[i].dropped();
                bump(
                    &fwd.counters[*d as usize].dropped,
                    dropped - dropped_seen[i],
                );
                dropped_seen[i] = dropped;
            }
            if is_main && period_tsc > 0 {
                timer_tsc += diff;
                if timer_tsc >= period_tsc {
                    print_stats(fwd, enabled, true);
                    timer_tsc = 0;
                }
            }
            prev_tsc = cur;
        }
        for (i, (p, rxq)) in rx.iter_mut().enumerate() {
            let n = rxq.rx_burst(&mut burst);
            if n == 0 {
                continue;
            }
            bump(&fwd.counters[*p as usize].rx, n as u64);
            let d = fwd.dst[*p as usize];
            let (_, txq) = &mut tx[i];
            for m in burst.iter() {
                m.prefetch_data();
            }
            let buffer = &mut buffers[i];
            let mut sent = 0;
            // In order, as they came.
            burst.take_front(n, |mut m| {
                if fwd.mac_updating
                    && let Ok(data) = m.data_mut()
                    && let Ok(mut eth) = Ethernet::new_checked(data)
                {
                    eth.set_dst(MacAddr([0x02, 0, 0, 0, 0, d as u8]));
                    eth.set_src(fwd.macs[d as usize]);
                }
                sent += buffer.buffer(txq, m);
            });
            bump(&fwd.counters[d as usize].tx, sent as u64);
        }
    }
    for (i, (d, txq)) in tx.iter_mut().enumerate() {
        let sent = buffers[i].flush(txq);
        bump(&fwd.counters[*d as usize].tx, sent as u64);
        bump(
            &fwd.counters[*d as usize].dropped,
            buffers[i].dropped() - dropped_seen[i],
        );
    }
}

fn print_stats(fwd: &Forwarding, enabled: &[u16], clear: bool) {
    let mut out = String::new();
    if clear && std::io::stdout().is_terminal() {
        // Clear the screen and go to the top left, as DPDK's l2fwd does.
        out.push_str("\x1b[2J\x1b[1;1H");
    }
    out.push_str("\nPort statistics ====================================");
    let (mut tx, mut rx, mut dropped) = (0u64, 0u64, 0u64);
    for &p in enabled {
        let c = &fwd.counters[p as usize];
        let (t, r, d) = (
            c.tx.load(Ordering::Relaxed),
            c.rx.load(Ordering::Relaxed),
            c.dropped.load(Ordering::Relaxed),
        );
        out.push_str(&format!(
            "\nStatistics for port {p} ------------------------------\nPackets sent: {t:>24}\nPackets received: {r:>20}\nPackets dropped: {d:>21}"
        ));
        tx += t;
        rx += r;
        dropped += d;
    }
    out.push_str(&format!(
        "\nAggregate statistics ===============================\nTotal packets sent: {tx:>18}\nTotal packets received: {rx:>14}\nTotal packets dropped: {dropped:>15}\n====================================================\n"
    ));
    print!("{out}");
    let _ = std::io::stdout().flush();
}
