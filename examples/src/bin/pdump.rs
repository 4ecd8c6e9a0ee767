//! `rpdk-pdump`, DPDK's `dpdk-pdump`: a secondary process that captures a primary's ports into
//! pcapng files (options: [`rpdk_examples::pdump::args`]).
//!
//! ```text
//! rpdk-pdump [EAL options] -- --pdump 'port=0,queue=*,rx-dev=/tmp/rx.pcapng,tx-dev=/tmp/tx.pcapng'
//! ```
//!
//! For each `--pdump` it makes a capture pool (`pdump_pool_<i>`) and a ring per direction
//! (`rx_ring_<i>`, `tx_ring_<i>`) in the shared memory, asks the primary (which called
//! `rpdk_pdump::init`) to turn capture on, and writes what the rings bring into the files: one
//! interface description per port and direction, the packets, and at the end (SIGINT or
//! SIGTERM) capture off, the rest of the rings, and the statistics blocks with the drops.

use std::collections::HashMap;
use std::path::PathBuf;

use rpdk_examples::pdump::args::{self, Tuple};
use rpdk_examples::signals;
use rpdk_mbuf::{MbufBurst, MbufConsumer, MbufRing, PktmbufPool};
use rpdk_pdump::pcapng::Direction;
use rpdk_pdump::request::{Op, PortDesc, send};
use rpdk_pdump::{CaptureFlags, CaptureRequest, PcapngSink};
use rpdk_ring::{RingFlags, Sc};

/// The capture pool's per-lcore cache (`MBUF_POOL_CACHE_SIZE`).
const POOL_CACHE: u32 = 250;

/// One direction of one `--pdump`: its ring, where it goes, and counters.
struct Stream {
    tuple: usize,
    dir: Direction,
    ring: MbufRing,
    rx: MbufConsumer<Sc>,
    file: usize,
    port: PortDesc,
    dequeued: u64,
    written: u64,
}

fn fail(msg: &str) -> ! {
    eprintln!("EAL: Error - exiting with code: 1\n  Cause: {msg}");
    std::process::exit(1)
}

fn main() {
    let mut argv: Vec<String> = std::env::args().collect();
    let prog = argv.first().cloned().unwrap_or_else(|| "rpdk-pdump".into());
    // As dpdk-pdump: always a secondary.
    argv.insert(1, "--proc-type=secondary".into());
    let (eal, rest) = match rpdk_eal::init(argv) {
        Ok(v) => v,
        Err(e) => rpdk_examples::exit_on_eal_error(e),
    };
    let args = match args::parse(&rest) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\n{}", args::usage(&prog));
            std::process::exit(1);
        }
    };
    signals::install();
    let mut files: Vec<(PathBuf, PcapngSink)> = Vec::new();
    let mut streams: Vec<Stream> = Vec::new();
    let mut pools = Vec::new();
    for (i, t) in args.tuples.iter().enumerate() {
        let pool = PktmbufPool::create(
            &format!("pdump_pool_{i}"),
            t.total_num_mbufs,
            POOL_CACHE,
            0,
            t.mbuf_size,
            None,
        )
        .unwrap_or_else(|e| fail(&format!("Mempool creation failed: {e}")));
        for (dir, dev) in [
            (Direction::Inbound, &t.rx_dev),
            (Direction::Outbound, &t.tx_dev),
        ] {
            let Some(dev) = dev else { continue };
            match open_stream(i, t, dir, dev, &mut files) {
                Ok(s) => streams.push(s),
                Err(e) => {
                    disable_all(&args.tuples, &streams);
                    fail(&e)
                }
            }
        }
        pools.push(pool);
    }
    for (i, t) in args.tuples.iter().enumerate() {
        println!(
            " core ({}); port {} device ({}) queue {}",
            rpdk_eal::lcore::id().unwrap_or(0),
            streams
                .iter()
                .find(|s| s.tuple == i)
                .map_or(0, |s| s.port.id),
            streams
                .iter()
                .find(|s| s.tuple == i)
                .map_or("", |s| s.port.name.as_str()),
            t.queue
        );
    }
    // Drain until told to stop.
    let mut burst = MbufBurst::<32>::new();
    while !signals::quit_requested() {
        let mut idle = true;
        for s in &mut streams {
            idle &= drain_once(s, &mut files, &mut burst) == 0;
        }
        if idle {
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
    }
    if let Some(sig) = signals::signal() {
        println!("\n\nSignal {sig} received, preparing to exit...");
    }
    // Capture off, then what the rings still hold, then the statistics.
    let port_drops = disable_all(&args.tuples, &streams);
    for s in &mut streams {
        while drain_once(s, &mut files, &mut burst) > 0 {}
    }
    for s in &streams {
        let st = rpdk_pdump::stats_dir(s.port.id, s.dir).unwrap_or_default();
        let drops = port_drops.get(&(s.port.id, s.dir)).copied();
        if let Err(e) = files[s.file].1.write_stats(s.port.id, s.dir, &st, drops) {
            eprintln!("{}: {e}", files[s.file].0.display());
        }
    }
    for (path, sink) in files {
        if let Err(e) = sink.into_inner() {
            eprintln!("{}: {e}", path.display());
        }
    }
    for (i, _) in args.tuples.iter().enumerate() {
        let (deq, written) = streams
            .iter()
            .filter(|s| s.tuple == i)
            .fold((0, 0), |(d, w), s| (d + s.dequeued, w + s.written));
        println!("##### PDUMP DEBUG STATS #####");
        println!(" -packets dequeued:\t\t\t{deq}");
        println!(" -packets written to pcapng:\t\t{written}");
        println!(" -packets freed:\t\t\t{deq}");
    }
    for s in streams {
        let _ = s.ring.free();
    }
    for p in pools {
        p.free();
    }
    drop(eal);
}

/// Makes the ring of direction `dir` of tuple `i`, opens (or shares) its file, and asks the
/// primary to capture into it.
fn open_stream(
    i: usize,
    t: &Tuple,
    dir: Direction,
    dev: &str,
    files: &mut Vec<(PathBuf, PcapngSink)>,
) -> Result<Stream, String> {
    let name = format!("{}_ring_{i}", dir.as_str());
    let ring = MbufRing::create(&name, t.ring_size, None, RingFlags::SC_DEQ).map_err(|e| {
        format!(
            "File {}, Line {}: rte_ring_create failed: {e}",
            file!(),
            line!()
        )
    })?;
    let rx = ring.consumer::<Sc>().map_err(|e| e.to_string())?;
    let path = PathBuf::from(dev);
    let file = match files.iter().position(|(p, _)| *p == path) {
        Some(f) => f,
        None => {
            let sink = PcapngSink::create(&path).map_err(|e| e.to_string())?;
            files.push((path, sink));
            files.len() - 1
        }
    };
    let flags = match dir {
        Direction::Inbound => CaptureFlags::RX,
        Direction::Outbound => CaptureFlags::TX,
    };
    let port = send(&Op::Enable(CaptureRequest {
        target: t.target.clone(),
        queue: t.queue,
        flags,
        ring: name.clone(),
        pool: format!("pdump_pool_{i}"),
        snaplen: t.snaplen,
    }))
    .map_err(|e| format!("pdump enable {} failed: {e}", dir.as_str()))?;
    let iface = rpdk_pdump::interface(&port, dir, t.snaplen);
    files[file]
        .1
        .add_interface(port.id, dir, &iface)
        .map_err(|e| format!("{dev}: {e}"))?;
    Ok(Stream {
        tuple: i,
        dir,
        ring,
        rx,
        file,
        port,
        dequeued: 0,
        written: 0,
    })
}

/// Moves one burst of `s`'s ring into its file; returns how many.
fn drain_once(
    s: &mut Stream,
    files: &mut [(PathBuf, PcapngSink)],
    burst: &mut MbufBurst<32>,
) -> usize {
    let n = s.rx.dequeue_burst(&mut burst.view());
    s.dequeued += n as u64;
    for m in burst.iter() {
        match files[s.file].1.write_mbuf(m) {
            Ok(()) => s.written += 1,
            Err(e) => eprintln!("{}: {e}", files[s.file].0.display()),
        }
    }
    burst.clear();
    n
}

/// Turns every capture of `streams` off; returns the ports' own drops per direction.
fn disable_all(tuples: &[Tuple], streams: &[Stream]) -> HashMap<(u16, Direction), u64> {
    let mut drops = HashMap::new();
    for s in streams {
        let t = &tuples[s.tuple];
        let flags = match s.dir {
            Direction::Inbound => CaptureFlags::RX,
            Direction::Outbound => CaptureFlags::TX,
        };
        match send(&Op::Disable(t.target.clone(), t.queue, flags)) {
            Ok(d) => {
                let n = match s.dir {
                    Direction::Inbound => d.rx_drops,
                    Direction::Outbound => d.tx_drops,
                };
                drops.insert((s.port.id, s.dir), n);
            }
            Err(e) => eprintln!("pdump disable {} failed: {e}", s.dir.as_str()),
        }
    }
    drops
}
