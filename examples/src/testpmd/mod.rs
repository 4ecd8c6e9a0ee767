//! rpdk-testpmd: DPDK's testpmd for rpdk ports: set up every port, forward with a chosen
//! engine on the worker lcores, and print statistics as testpmd does, so that the same command
//! line can run against both.
//!
//! ```text
//! rpdk-testpmd [EAL options] -- [--forward-mode=io|mac|macswap|txonly|rxonly|flowgen]
//!     [--nb-cores=N] [--rxq=N] [--txq=N] [--burst=N] [--txpkts=L[,L...]] [--tx-first]
//!     [--stats-period=S] [--eth-peer=P,MAC] [--disable-rss] [--cmdline-file=FILE] [-i]
//! ```
//!
//! Every port has a flow table (`rpdk_flow::FlowTable`, installed as the port's classifier by
//! the first `flow` command for it): the `flow` commands at the prompt or in `--cmdline-file`
//! create rules in it, with testpmd's replies.

pub mod args;
mod cli;
pub mod display;
pub mod fwd;
pub mod packets;
mod stdin;
pub mod verbose;

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use rpdk_eal::Eal;
use rpdk_ethdev::{EthConf, Port, RssConf, RssHf, RxConf, RxMqMode, TxConf};
use rpdk_flow::FlowTable;
use rpdk_mbuf::net::MacAddr;
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, PktmbufPool};

use crate::signals;
use args::{Args, Topology};
use display::Throughput;
use fwd::{CoreWork, FwdCtx, FwdEngine};

/// An error that ends testpmd with a message, as `rte_exit`.
#[derive(Debug)]
pub struct Fatal(pub String);

impl<E: std::fmt::Display> From<E> for Fatal {
    fn from(e: E) -> Fatal {
        Fatal(e.to_string())
    }
}

/// The running application.
pub struct Testpmd {
    args: Args,
    mode: &'static FwdEngine,
    ports: Vec<u16>,
    pool: PktmbufPool,
    cores: Vec<Arc<Mutex<CoreWork>>>,
    stop: Option<Arc<AtomicBool>>,
    throughput: Throughput,
    /// Every port's flow table, installed as its classifier by the first `flow` command for
    /// the port (until then its RX path has no classifier call at all).
    flows: HashMap<u16, Arc<FlowTable>>,
    classified: std::cell::RefCell<std::collections::HashSet<u16>>,
    verbose: u16,
    dumps: verbose::Dumps,
    /// What `set raw_encap`, `set raw_decap`, `set vxlan` and `set nvgre` left, for the encap
    /// actions of later `flow` commands.
    encap: rpdk_flow::syntax::EncapConfs,
}

fn peer_of(ports: &[u16], i: usize, topo: Topology) -> u16 {
    match topo {
        Topology::Loop => ports[i],
        Topology::Chained => ports[(i + 1) % ports.len()],
        Topology::Paired => {
            if i.is_multiple_of(2) {
                ports.get(i + 1).copied().unwrap_or(ports[i])
            } else {
                ports[i - 1]
            }
        }
    }
}

/// The hairpin peers of port `ports[i]` in `--hairpin-mode` `mode`: (the port its hairpin RX
/// queues send to, the port its hairpin TX queues take from), as DPDK's testpmd pairs them.
fn hairpin_peers(ports: &[u16], i: usize, mode: u64) -> (u16, u16) {
    let n = ports.len();
    if mode & 0x1 != 0 {
        (ports[(i + 1) % n], ports[(i + n - 1) % n])
    } else if mode & 0x2 != 0 {
        let p = if i.is_multiple_of(2) {
            ports.get(i + 1).copied().unwrap_or(ports[i])
        } else {
            ports[i - 1]
        };
        (p, p)
    } else {
        (ports[i], ports[i])
    }
}

/// Sets up the `--hairpinq` hairpin queues of port `ports[i]`, after its normal queues.
fn setup_hairpin(ports: &[u16], i: usize, args: &Args) -> Result<(), Fatal> {
    use rpdk_ethdev::{HairpinConf, HairpinPeer};
    let port = Port::get(ports[i])?;
    let (to, from) = hairpin_peers(ports, i, args.hairpin_mode);
    let manual_bind = args.hairpin_mode & 0xf != 0;
    let tx_explicit = args.hairpin_mode & 0x10 != 0;
    for h in 0..args.hairpinq {
        let rx = HairpinConf {
            peers: vec![HairpinPeer {
                port: to,
                queue: args.txq + h,
            }],
            tx_explicit,
            manual_bind,
        };
        port.rx_hairpin_queue_setup(args.rxq + h, args.rxd, &rx)?;
        let tx = HairpinConf {
            peers: vec![HairpinPeer {
                port: from,
                queue: args.rxq + h,
            }],
            tx_explicit,
            manual_bind,
        };
        port.tx_hairpin_queue_setup(args.txq + h, args.txd, &tx)?;
    }
    Ok(())
}

impl Testpmd {
    /// Configures and starts every port, as testpmd does before its prompt.
    pub fn setup(eal: &Eal, args: Args) -> Result<Testpmd, Fatal> {
        let mut ports = rpdk_ethdev::ports();
        if let Some(mask) = args.portmask {
            ports.retain(|p| mask & (1 << p) != 0);
        }
        if let Some(n) = args.nb_ports {
            ports.truncate(n as usize);
        }
        if ports.is_empty() {
            return Err(Fatal("No probed ethernet devices".into()));
        }
        if eal.workers().is_empty() {
            return Err(Fatal(
                "testpmd needs at least one worker lcore to forward (give two lcores or more with -l)".into(),
            ));
        }
        let nb_lcores = eal.lcore_count();
        let per_port = args.rxd as u32 * args.rxq as u32
            + args.txd as u32 * args.txq as u32
            + fwd::MAX_BURST as u32;
        let n = args
            .total_num_mbufs
            .unwrap_or((per_port * ports.len() as u32 + nb_lcores * args.mbcache).max(8192));
        println!(
            "testpmd: create a new mbuf pool <mb_pool_0>: n={n}, size={MBUF_DEFAULT_BUF_SIZE}, socket=0"
        );
        let pool =
            PktmbufPool::create("mb_pool_0", n, args.mbcache, 0, MBUF_DEFAULT_BUF_SIZE, None)?;
        println!(
            "testpmd: preferred mempool ops selected: {}",
            pool.mempool().ops()
        );
        if args.port_topology == Topology::Paired && ports.len() % 2 == 1 && ports.len() > 1 {
            println!(
                "\nWarning! port-topology=paired and odd forward ports number, the last port will pair with itself.\n"
            );
        }
        if args.hairpinq > 0 && rpdk_eal::service::lcore_count() == 0 {
            // Hairpins are moved by an EAL service: without -s/-S, the last worker runs them.
            let workers = eal.workers();
            if workers.len() < 2 {
                return Err(Fatal(
                    "--hairpinq needs a service lcore (-s/-S) or two worker lcores".into(),
                ));
            }
            let l = workers[workers.len() - 1];
            rpdk_eal::service::lcore_add(l)?;
            println!("testpmd: lcore {l} is the service lcore that moves the hairpins");
        }
        let nb_hp = args.hairpinq;
        // testpmd's eth_event_callback for the events rpdk raises (the flow engine's aging),
        // printed as its default event_print_mask does.
        let _ = rpdk_ethdev::event::callback_register(
            None,
            rpdk_ethdev::EthEvent::FlowAged,
            Arc::new(|port, event| {
                use std::io::Write as _;
                println!("\nPort {port}: {} event", event.desc());
                let _ = std::io::stdout().flush();
            }),
        );
        let mut flows = HashMap::new();
        for (i, &p) in ports.iter().enumerate() {
            let port = Port::get(p)?;
            println!("Configuring Port {p} (socket {})", port.socket_id());
            let mut conf = EthConf {
                rx_offloads: args.rx_offloads,
                tx_offloads: args.tx_offloads,
                ..EthConf::default()
            };
            if args.rxq > 1 && !args.disable_rss {
                let mut hf = if args.rss_udp {
                    RssHf::IP | RssHf::UDP
                } else {
                    RssHf::IP
                };
                hf = hf.and(port.info().flow_type_rss_offloads);
                if hf != RssHf::NONE {
                    conf.rx_mq_mode = RxMqMode::Rss;
                    conf.rss = RssConf { key: None, hf };
                }
            }
            port.configure(args.rxq + nb_hp, args.txq + nb_hp, &conf)?;
            let table = FlowTable::new(p, args.rxq);
            // QUEUE and RSS may name the hairpin queues, numbered after the --rxq ones.
            table.set_hairpin_queues(nb_hp);
            flows.insert(p, Arc::new(table));
            let rx_conf = RxConf {
                rx_free_thresh: args.rxfreet,
                rx_drop_en: args.enable_drop_en,
                offloads: 0,
            };
            let tx_conf = TxConf {
                tx_free_thresh: args.txfreet,
                offloads: 0,
            };
            for q in 0..args.rxq {
                port.rx_queue_setup(q, args.rxd, None, &rx_conf, &pool)?;
            }
            for q in 0..args.txq {
                port.tx_queue_setup(q, args.txd, None, &tx_conf)?;
            }
            setup_hairpin(&ports, i, &args)?;
            port.start()?;
            if !args.no_promisc {
                // Not every driver has the mode (net_ring); testpmd goes on without it.
                let _ = port.promiscuous_enable();
            }
            println!("Port {p}: {}", port.mac_addr());
        }
        if nb_hp > 0 && args.hairpin_mode & 0xf != 0 {
            // Two-port hairpins are bound by the application, once both ports run.
            for (i, &p) in ports.iter().enumerate() {
                let (_, rx_peer) = hairpin_peers(&ports, i, args.hairpin_mode);
                Port::get(p)?.hairpin_bind(Some(rx_peer))?;
            }
        }
        println!("Checking link statuses...");
        let deadline = Instant::now() + Duration::from_secs(9);
        while Instant::now() < deadline
            && !ports
                .iter()
                .all(|&p| Port::get(p).is_ok_and(|x| x.link().up))
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        println!("Done");
        Ok(Testpmd {
            mode: args.forward_mode,
            args,
            ports,
            pool,
            cores: Vec::new(),
            stop: None,
            throughput: Throughput::default(),
            flows,
            classified: Default::default(),
            verbose: 0,
            dumps: verbose::Dumps::default(),
            encap: Default::default(),
        })
    }

    /// Builds the forwarding streams and gives them to the forwarding lcores (once: the queue
    /// handles stay with their cores between runs).
    fn plan(&mut self, eal: &Eal) -> Result<(), Fatal> {
        if !self.cores.is_empty() {
            return Ok(());
        }
        let peers: HashMap<u16, MacAddr> = self.args.eth_peer.iter().copied().collect();
        let mut streams = Vec::new();
        for (i, &p) in self.ports.iter().enumerate() {
            let tx = peer_of(&self.ports, i, self.args.port_topology);
            for q in 0..self.args.rxq {
                streams.push((p, q, tx, q % self.args.txq));
            }
        }
        let workers = eal.workers();
        let nb_cores = (self.args.nb_cores.unwrap_or(workers.len() as u32) as usize)
            .min(workers.len())
            .min(streams.len())
            .max(1);
        let mut tx_owner: HashMap<(u16, u16), usize> = HashMap::new();
        let mut cores: Vec<CoreWork> = workers[..nb_cores]
            .iter()
            .map(|&l| CoreWork::new(l))
            .collect();
        let per_core = streams.len() / nb_cores;
        let extra = streams.len() % nb_cores;
        let mut it = streams.into_iter();
        for (ci, core) in cores.iter_mut().enumerate() {
            let take = per_core + usize::from(ci < extra);
            for (rp, rq, tp, tq) in it.by_ref().take(take) {
                if let Some(&owner) = tx_owner.get(&(tp, tq))
                    && owner != ci
                {
                    return Err(Fatal(format!(
                        "TX queue {tq} of port {tp} would be shared by two forwarding cores: use --txq equal to --rxq"
                    )));
                }
                tx_owner.insert((tp, tq), ci);
                let peer = peers
                    .get(&tp)
                    .copied()
                    .unwrap_or(MacAddr([0x02, 0, 0, 0, 0, tp as u8]));
                let tx_mac = Port::get(tp)?.mac_addr();
                let rx_port = Port::get(rp)?;
                if self.args.noop_rx_callbacks {
                    rx_port.add_rx_callback(rq, |_, _, _| {})?;
                }
                let rxq = rx_port.rx_queue(rq)?;
                core.add_stream(rxq, (tp, tq), || Port::get(tp)?.tx_queue(tq), peer, tx_mac)?;
            }
        }
        self.cores = cores.into_iter().map(|c| Arc::new(Mutex::new(c))).collect();
        Ok(())
    }

    fn print_config(&self) {
        let nb_streams: usize = self
            .cores
            .iter()
            .map(|c| c.lock().map(|c| c.streams.len()).unwrap_or(0))
            .sum();
        println!(
            "{} packet forwarding - ports={} - cores={} - streams={nb_streams} - NUMA support enabled, MP allocation mode: native",
            self.mode.name,
            self.ports.len(),
            self.cores.len()
        );
        for c in &self.cores {
            let c = c.lock().unwrap_or_else(|e| e.into_inner());
            let socket = rpdk_eal::lcore::info(c.lcore).map_or(0, |i| i.socket);
            println!(
                "Logical Core {} (socket {socket}) forwards packets on {} streams:",
                c.lcore,
                c.streams.len()
            );
            for s in &c.streams {
                println!(
                    "  RX P={}/Q={} (socket 0) -> TX P={}/Q={} (socket 0) peer={}",
                    s.rx_port, s.rx_queue, s.tx_port, s.tx_queue, s.peer
                );
            }
        }
        println!(
            "\n  {} packet forwarding packets/burst={}",
            self.mode.name, self.args.burst
        );
        println!(
            "  nb forwarding cores={} - nb forwarding ports={}",
            self.cores.len(),
            self.ports.len()
        );
    }

    /// Starts forwarding on the forwarding lcores (`start`, `start tx_first`).
    pub fn start(&mut self, eal: &Eal, tx_first: bool) -> Result<(), Fatal> {
        if self.stop.is_some() {
            println!("Packet forwarding already started");
            return Ok(());
        }
        self.plan(eal)?;
        self.print_config();
        let stop = Arc::new(AtomicBool::new(false));
        for c in &self.cores {
            let mut w = c.lock().unwrap_or_else(|e| e.into_inner());
            w.reset_counters();
            if !self.args.no_flush_rx {
                w.flush_rx();
            }
            if tx_first {
                w.tx_first(&self.pool, self.args.burst as usize, &self.args.txpkts.0);
            }
        }
        for c in &self.cores {
            let work = c.clone();
            let stop = stop.clone();
            let (mode, burst, pool) = (self.mode, self.args.burst as usize, self.pool.clone());
            let (segs, flows) = (self.args.txpkts.0.clone(), self.args.flowgen_flows);
            let lcore = work.lock().unwrap_or_else(|e| e.into_inner()).lcore;
            eal.remote_launch(lcore, move || {
                let mut w = work.lock().unwrap_or_else(|e| e.into_inner());
                let ctx = FwdCtx {
                    burst,
                    pool: &pool,
                    segs: &segs,
                    flows,
                };
                w.run(mode, &ctx, &stop);
                0
            })?;
        }
        self.stop = Some(stop);
        Ok(())
    }

    /// Stops forwarding and prints the forward statistics (`stop`).
    pub fn stop(&mut self, eal: &Eal) {
        let Some(stop) = self.stop.take() else {
            println!("Packet forwarding not started");
            return;
        };
        println!("Telling cores to stop...");
        stop.store(true, Ordering::Release);
        println!("Waiting for lcores to finish...");
        for (lcore, r) in eal.mp_wait_lcore() {
            if let Err(e) = r {
                eprintln!("lcore {lcore}: {e}");
            }
        }
        let imissed: HashMap<u16, u64> = self
            .ports
            .iter()
            .filter_map(|&p| Port::get(p).ok().map(|x| (p, x.stats().imissed)))
            .collect();
        let guards: Vec<_> = self
            .cores
            .iter()
            .map(|c| c.lock().unwrap_or_else(|e| e.into_inner()))
            .collect();
        let streams: Vec<&fwd::Stream> = guards.iter().flat_map(|g| g.streams.iter()).collect();
        print!("{}", display::fwd_stats(&self.ports, &streams, &imissed));
        println!("\nDone.");
    }

    /// Runs a `flow ...` line, or a meter command, against the ports' flow tables, with
    /// testpmd's replies (a line that does not parse: `Bad arguments`, and on stderr the word
    /// at fault).
    pub fn flow(&mut self, line: &str) {
        let (flows, classified, encap) = (&self.flows, &self.classified, &self.encap);
        let meter = rpdk_flow::syntax::is_meter_command(line);
        let run = |line: &str, t: &dyn Fn(u16) -> Option<Arc<FlowTable>>| {
            if meter {
                rpdk_flow::syntax::execute_meter(line, t)
            } else {
                rpdk_flow::syntax::execute_with(line, encap, t)
            }
        };
        let o = run(line, &|p| {
            let t = flows.get(&p)?;
            if classified.borrow_mut().insert(p) {
                // Safe while forwarding runs: the next burst sees it.
                if let Err(e) = Port::get(p).and_then(|x| x.set_classifier(Some(t.clone()))) {
                    eprintln!("Port {p}: cannot install the flow table: {e}");
                    classified.borrow_mut().remove(&p);
                    return None;
                }
            }
            Some(t.clone())
        });
        print!("{}", o.out);
        eprint!("{}", o.err);
        if let Some(e) = o.syntax {
            eprintln!("testpmd: {e}");
        }
        let _ = std::io::stdout().flush();
    }

    /// `set raw_encap|raw_decap ...`, `set vxlan ...`, `set nvgre ...`: testpmd's encap
    /// buffers and configurations, which the `raw_encap`, `raw_decap`, `vxlan_encap` and
    /// `nvgre_encap` actions of later `flow` commands take.
    pub fn encap_set(&mut self, line: &str) {
        let o = self.encap.execute(line, self.verbose);
        print!("{}", o.out);
        eprint!("{}", o.err);
        if let Some(e) = o.syntax {
            eprintln!("testpmd: {e}");
        }
        let _ = std::io::stdout().flush();
    }

    /// `set verbose N`.
    pub fn set_verbose(&mut self, level: u16) {
        println!("Change verbose level from {} to {level}", self.verbose);
        self.verbose = level;
        self.dumps.configure(level, &self.ports);
    }

    /// `port stop all|N`: as testpmd's `stop_port`, refused for ports that forward, and the
    /// ports' flow rules are flushed.
    pub fn stop_ports(&mut self, which: &[u16]) {
        println!("Stopping ports...");
        let mut stopped = false;
        for &p in which {
            if self.stop.is_some() {
                eprintln!("Please remove port {p} from forwarding configuration.");
                continue;
            }
            let Ok(port) = Port::get(p) else { continue };
            if !port.is_started() {
                continue;
            }
            if let Some(t) = self.flows.get(&p)
                && let Err(e) = t.flush()
            {
                eprintln!("{}", e.complain());
            }
            match port.stop() {
                Ok(()) => stopped = true,
                Err(e) => eprintln!("rte_eth_dev_stop failed for port {p}: {e}"),
            }
        }
        if stopped {
            println!("Checking link statuses...");
        }
        println!("Done");
    }

    /// `port start all|N`.
    pub fn start_ports(&mut self, which: &[u16]) {
        let mut started = false;
        for &p in which {
            let Ok(port) = Port::get(p) else { continue };
            if port.is_started() {
                continue;
            }
            match port.start() {
                Ok(()) => {
                    if !self.args.no_promisc {
                        let _ = port.promiscuous_enable();
                    }
                    println!("Port {p}: {}", port.mac_addr());
                    started = true;
                }
                Err(e) => eprintln!("Fail to start port {p}: {e}"),
            }
        }
        if started {
            println!("Checking link statuses...");
        }
        println!("Done");
    }

    /// Prints `show port stats` for every port, with the periodic header when `periodic`.
    pub fn show_stats(&mut self, periodic: bool) {
        let mut out = String::new();
        if periodic {
            if std::io::stdout().is_terminal() {
                out.push_str("\x1b[2J\x1b[1;1H");
            }
            out.push_str("\nPort statistics ====================================");
        }
        for &p in &self.ports {
            if let Ok(port) = Port::get(p) {
                out.push_str(&display::nic_stats(&port, &mut self.throughput));
            }
        }
        print!("{out}");
        let _ = std::io::stdout().flush();
    }

    /// Stops and closes every port.
    pub fn shutdown(mut self) {
        self.cores.clear();
        for &p in &self.ports {
            println!("\nStopping port {p}...\nStopping ports...");
            if let Ok(port) = Port::get(p) {
                let _ = port.stop();
            }
            println!("Done");
        }
        for &p in &self.ports {
            println!("\nShutting down port {p}...\nClosing ports...");
            if let Ok(port) = Port::get(p) {
                match port.close() {
                    Ok(()) => println!("Port {p} is closed"),
                    Err(e) => println!("{e}"),
                }
            }
            println!("Done");
        }
    }
}

/// The whole program; returns the exit status.
pub fn main() -> i32 {
    let (eal, app_args) = crate::init_eal_or_exit();
    signals::install();
    // Captures from rpdk-pdump (DPDK's rte_pdump_init).
    if let Err(e) = rpdk_pdump::init() {
        eprintln!("pdump: {e}");
    }
    let args = match Args::try_parse_from(std::iter::once("testpmd".to_string()).chain(app_args)) {
        Ok(a) => a,
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
            print!("{e}");
            return 0;
        }
        Err(e) => {
            eprint!("{e}");
            eprintln!("EAL: Error - exiting with code: 1\n  Cause: Invalid testpmd arguments");
            return 1;
        }
    };
    println!("Set {} packet forwarding mode", args.forward_mode.name);
    let interactive = args.interactive;
    let cmdline_file = args.cmdline_file.clone();
    let mut tp = match Testpmd::setup(&eal, args) {
        Ok(t) => t,
        Err(Fatal(msg)) => {
            eprintln!("EAL: Error - exiting with code: 1\n  Cause: {msg}");
            return 1;
        }
    };
    if let Some(path) = &cmdline_file {
        cli::run_file(&eal, &mut tp, path);
    }
    let result = if interactive {
        cli::run(&eal, &mut tp)
    } else {
        run_batch(&eal, &mut tp)
    };
    if let Err(Fatal(msg)) = &result {
        eprintln!("testpmd: {msg}");
    }
    if tp.stop.is_some() {
        tp.stop(&eal);
    }
    tp.shutdown();
    drop(eal);
    println!("\nBye...");
    i32::from(result.is_err())
}

/// Non-interactive: forward until a signal (with `--stats-period`) or until a line or end of
/// input arrives on stdin ("Press enter to exit").
fn run_batch(eal: &Eal, tp: &mut Testpmd) -> Result<(), Fatal> {
    println!("No commandline core given, start packet forwarding");
    let tx_first = tp.args.tx_first;
    tp.start(eal, tx_first)?;
    match tp.args.stats_period {
        Some(period) if period > 0 => {
            let every = Duration::from_secs(period);
            let mut next = Instant::now() + every;
            while !signals::quit_requested() {
                std::thread::sleep(Duration::from_millis(20));
                if Instant::now() >= next {
                    tp.show_stats(true);
                    next += every;
                }
            }
        }
        _ => {
            println!("Press enter to exit");
            let mut input = stdin::Lines::new();
            while !signals::quit_requested() {
                match input.poll_line(Duration::from_millis(100)) {
                    stdin::Poll::Pending => {}
                    stdin::Poll::Line(_) | stdin::Poll::Eof => break,
                }
            }
        }
    }
    if let Some(sig) = signals::signal() {
        println!("\nSignal {sig} received, preparing to exit...");
    }
    Ok(())
}
