//! DPDK's `multi_process/symmetric_mp`: several copies of one program forward packets between
//! pairs of ports, each copy on its own RX and TX queue of every port, the device spreading
//! flows over the queues. The first (primary) sets the ports up with `--num-procs` queues each;
//! the others attach to it as secondaries and drive queue `--proc-id` of the same ports:
//!
//! ```text
//! symmetric_mp -l 0 --proc-type auto -- -p 3 --num-procs 2 --proc-id 0
//! symmetric_mp -l 1 --proc-type auto -- -p 3 --num-procs 2 --proc-id 1
//! ```
//!
//! Ports pair up in the mask's order (0 <-> 1, 2 <-> 3): what queue K of one receives goes out
//! of queue K of the other. Each process's lcores share its port pairs. On SIGINT or SIGTERM
//! a process prints what it received, sent and dropped per port, and exits.
//!
//! As in DPDK, ports are configured for RSS on the hash types the device supports; a device
//! that does not hash flows over its queues itself (`net_tap`, whose kernel queues are filled
//! by the kernel's own flow hash) is configured without RSS, since the software stage's RSS
//! spreads packets within one process only and the queues here are driven by several.
//! The pool has 8191 mbufs (DPDK's example takes 64 Ki, more than a `--no-huge` run holds).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rpdk_eal::options::ProcType;
use rpdk_ethdev::{EthConf, Port, RssConf, RssHf, RxConf, RxMqMode, RxQueue, TxConf, TxQueue};
use rpdk_examples::signals;
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, MbufBurst, PktmbufPool};

const POOL: &str = "SMP_MBUF_POOL";
const NB_MBUFS: u32 = 8191;
const MBUF_CACHE_SIZE: u32 = 256;
const PKT_BURST: usize = 32;
const RX_RING_SIZE: u16 = 1024;
const TX_RING_SIZE: u16 = 1024;

/// One port's counts in this process.
#[derive(Default)]
struct PortStats {
    rx: AtomicU64,
    tx: AtomicU64,
    drop: AtomicU64,
}

fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Ordering::Relaxed) + n, Ordering::Relaxed);
}

fn usage(prog: &str, msg: &str) -> ! {
    println!("\nError: {msg}");
    println!(
        "\n{prog} [EAL options] -- -p <port mask> --num-procs <n> --proc-id <id>\n\
         -p         : a hex bitmask indicating what ports are to be used\n\
         --num-procs: the number of processes which will be used\n\
         --proc-id  : the id of the current process (id < num-procs)\n"
    );
    std::process::exit(1)
}

fn fail(msg: &str) -> ! {
    eprintln!("EAL: Error - exiting with code: 1\n  Cause: {msg}");
    std::process::exit(1)
}

struct Args {
    ports: Vec<u16>,
    num_procs: u16,
    proc_id: u16,
}

fn parse_args(prog: &str, args: &[String], primary: bool) -> Args {
    let (mut mask, mut num_procs, mut proc_id) = (0u64, None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (key, inline) = match a.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .unwrap_or_else(|| usage(prog, "Cannot parse all command-line arguments\n"))
        };
        match key {
            "-p" => {
                let v = value();
                mask = u64::from_str_radix(v.trim_start_matches("0x"), 16).unwrap_or(0);
            }
            "--num-procs" => num_procs = value().parse::<u16>().ok(),
            "--proc-id" => proc_id = value().parse::<u16>().ok(),
            _ if key.starts_with("-p") => {
                mask = u64::from_str_radix(key[2..].trim_start_matches("0x"), 16).unwrap_or(0);
            }
            _ => usage(prog, "Cannot parse all command-line arguments\n"),
        }
    }
    let Some(proc_id) = proc_id else {
        usage(prog, "Invalid or missing proc-id parameter\n")
    };
    let num_procs = num_procs.unwrap_or(0);
    if primary && num_procs == 0 {
        usage(prog, "Invalid or missing num-procs parameter\n");
    }
    if mask == 0 {
        usage(prog, "Invalid or missing port mask\n");
    }
    let ports = rpdk_ethdev::ports()
        .into_iter()
        .filter(|&p| p < 64 && mask & (1 << p) != 0)
        .collect();
    Args {
        ports,
        num_procs,
        proc_id,
    }
}

/// Configures, sets up and starts `port` with `queues` queue pairs (the primary only).
fn port_init(id: u16, pool: &PktmbufPool, queues: u16) -> rpdk_ethdev::Result<()> {
    let port = Port::get(id)?;
    print!("# Initialising port {id}... ");
    let _ = std::io::stdout().flush();
    let requested = RssHf::IP;
    // What the device hashes itself: the stage's software RSS would keep every packet of a
    // device queue in the process polling it.
    let hf = RssHf(requested.0 & port.device_info().flow_type_rss_offloads.0);
    if hf != requested {
        println!(
            "Port {id} modified RSS hash function based on hardware support,requested:{:#x} configured:{:#x}",
            requested.0, hf.0
        );
    }
    let conf = EthConf {
        rx_mq_mode: if hf == RssHf::NONE {
            RxMqMode::None
        } else {
            RxMqMode::Rss
        },
        rss: RssConf { key: None, hf },
        ..EthConf::default()
    };
    port.configure(queues, queues, &conf)?;
    for q in 0..queues {
        port.rx_queue_setup(q, RX_RING_SIZE, None, &RxConf::default(), pool)?;
    }
    for q in 0..queues {
        port.tx_queue_setup(q, TX_RING_SIZE, None, &TxConf::default())?;
    }
    // Not every device has a promiscuous mode to turn on (DPDK fails here; rpdk's software
    // devices receive everything anyway).
    let _ = port.promiscuous_enable();
    port.start()
}

fn check_link_status(ports: &[u16]) {
    print!("\nChecking link status");
    let deadline = std::time::Instant::now() + Duration::from_secs(9);
    loop {
        let all_up = ports
            .iter()
            .all(|&p| Port::get(p).is_ok_and(|port| port.link().up));
        if all_up || std::time::Instant::now() > deadline {
            break;
        }
        print!(".");
        let _ = std::io::stdout().flush();
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("done");
    for &p in ports {
        if let Ok(port) = Port::get(p) {
            println!("Port {p} {}", port.link());
        }
    }
}

/// What one lcore forwards: `(src, rx, dst, tx)` for each of its ports.
type Lanes = Vec<(u16, RxQueue, u16, TxQueue)>;

fn lcore_main(lcore: u32, ports: Vec<u16>, q_id: u16, stats: &[PortStats]) -> i32 {
    if ports.is_empty() {
        println!("Lcore {lcore} has nothing to do");
        return 0;
    }
    let mut msg = format!("Lcore {lcore} using ports ");
    for p in &ports {
        msg.push_str(&format!("{p} "));
    }
    println!("{msg}");
    println!("lcore {lcore} using queue {q_id} of each port");
    let mut lanes: Lanes = Vec::new();
    for (i, &src) in ports.iter().enumerate() {
        let dst = ports[i ^ 1];
        let taken = Port::get(src)
            .and_then(|p| p.rx_queue(q_id))
            .and_then(|rx| Ok((rx, Port::get(dst)?.tx_queue(q_id)?)));
        match taken {
            Ok((rx, tx)) => lanes.push((src, rx, dst, tx)),
            Err(e) => fail(&format!("lcore {lcore}: queue {q_id}: {e}")),
        }
    }
    let mut burst = MbufBurst::<PKT_BURST>::new();
    while !signals::quit_requested() {
        for (src, rx, dst, tx) in &mut lanes {
            let rx_c = rx.rx_burst(&mut burst);
            if rx_c == 0 {
                continue;
            }
            bump(&stats[*src as usize].rx, rx_c as u64);
            let tx_c = tx.tx_burst(&mut burst);
            bump(&stats[*dst as usize].tx, tx_c as u64);
            if tx_c != rx_c {
                bump(&stats[*dst as usize].drop, (rx_c - tx_c) as u64);
                burst.clear();
            }
        }
    }
    0
}

fn main() {
    signals::install();
    let (eal, args) = rpdk_examples::init_eal_or_exit();
    let prog = std::env::args()
        .next()
        .unwrap_or_else(|| "symmetric_mp".into());
    if rpdk_ethdev::port_count() == 0 {
        fail("No Ethernet ports - bye");
    }
    let primary = rpdk_eal::process_type() == Some(ProcType::Primary);
    let a = parse_args(&prog, &args, primary);
    let pool = if primary {
        PktmbufPool::create(
            POOL,
            NB_MBUFS,
            MBUF_CACHE_SIZE,
            0,
            MBUF_DEFAULT_BUF_SIZE,
            None,
        )
        .ok()
    } else {
        PktmbufPool::lookup(POOL)
    };
    let Some(pool) = pool else {
        fail("Cannot get memory pool for buffers")
    };
    if a.ports.len() % 2 == 1 {
        fail("Application must use an even number of ports");
    }
    if primary {
        for &p in &a.ports {
            if let Err(e) = port_init(p, &pool, a.num_procs) {
                println!("{e}");
                fail("Error initialising ports");
            }
        }
        check_link_status(&a.ports);
    }

    // Port pairs shared out over the lcores, the main one first.
    let lcores = eal.lcores();
    let pairs = a.ports.len() / 2;
    let (per, mut extra) = (pairs / lcores.len(), pairs % lcores.len());
    let mut assigned = 0;
    let mut plan = Vec::new();
    for &l in &lcores {
        let mut n = per * 2;
        if extra > 0 {
            n += 2;
            extra -= 1;
        }
        plan.push((l, a.ports[assigned..assigned + n].to_vec()));
        assigned += n;
    }
    let stats: &'static [PortStats] = Box::leak(
        (0..rpdk_ethdev::MAX_ETHPORTS)
            .map(|_| PortStats::default())
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    log::info!(target: "user1", "Finished Process Init.");
    println!("APP: Finished Process Init.");

    let main = eal.main_lcore();
    let mut mine = Vec::new();
    for (l, ports) in plan {
        if l == main {
            mine = ports;
            continue;
        }
        let q = a.proc_id;
        if let Err(e) = eal.remote_launch(l, move || lcore_main(l, ports, q, stats)) {
            fail(&format!("cannot launch on lcore {l}: {e}"));
        }
    }
    lcore_main(main, mine, a.proc_id, stats);
    eal.mp_wait_lcore();

    println!(
        "\nExiting on signal {}\n",
        signals::signal().unwrap_or(libc::SIGINT)
    );
    for &p in &a.ports {
        let s = &stats[p as usize];
        println!(
            "Port {p}: RX - {}, TX - {}, Drop - {}",
            s.rx.load(Ordering::Relaxed),
            s.tx.load(Ordering::Relaxed),
            s.drop.load(Ordering::Relaxed)
        );
    }
    let _ = std::io::stdout().flush();
    drop(pool);
    drop(eal);
}
