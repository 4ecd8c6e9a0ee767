//! `flow_perf`: the classification rate of rpdk-flow's software engine on one core (64-byte
//! frames in mbufs, bursts of 32) with 1 to 100k 5-tuple rules of prefixes and port ranges
//! from a ClassBench-like generator, and the rates of rule insertion and deletion.
//!
//! ```text
//! flow_perf -l 0 --no-huge --file-prefix fp -- [--rules 1,16,256,1000,10000,100000]
//!     [--trace 8192] [--runs 5] [--ms 300] [--seed 1] [--params FILE] [--write-acl DIR]
//! ```
//!
//! Each rule count prints one row: the tuples the rules fall into, insertion in rules per
//! second (validate, compile, publish: `rte_flow_create` each), classification in Mpps (the
//! median of `--runs` runs of `--ms` each, with their minimum and maximum) and cycles per
//! packet, and deletion in rules per second. The verdicts of a sample of the trace are checked
//! against a linear scan of the rules first. `--write-acl DIR` also writes each rule set and
//! the trace in dpdk-test-acl's formats (`DIR/rules-N`, `DIR/trace-N`).

use rpdk_benches::classbench::{Header5, Params, Rule5, trace};
use rpdk_eal::rdtsc;
use rpdk_flow::syntax::{FlowCommand, parse};
use rpdk_flow::{Direction, Fate, FlowTable, Verdict};
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, Mbuf, PktmbufPool};
use std::time::Instant;

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn die(msg: impl std::fmt::Display) -> ! {
    eprintln!("flow_perf: {msg}");
    std::process::exit(2)
}

fn num<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    match flag(args, name) {
        None => default,
        Some(v) => v
            .parse()
            .unwrap_or_else(|_| die(format!("bad value '{v}' for {name}"))),
    }
}

/// The first rule (lowest index: highest priority) a header matches, by linear scan.
fn expected(rules: &[Rule5], h: &Header5) -> Fate {
    if rules.iter().any(|r| r.matches(h)) {
        Fate::Queue(0)
    } else {
        Fate::Default
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let (_eal, args) = match rpdk_eal::init(std::env::args()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("flow_perf: {e}");
            std::process::exit(e.exit_code());
        }
    };
    let counts: Vec<usize> = flag(&args, "--rules")
        .unwrap_or_else(|| "1,16,256,1000,10000,100000".into())
        .split(',')
        .map(|s| {
            s.parse()
                .unwrap_or_else(|_| die(format!("bad rule count '{s}'")))
        })
        .collect();
    let ntrace: usize = num(&args, "--trace", 8192);
    let runs: usize = num(&args, "--runs", 5).max(1);
    let ms: u64 = num(&args, "--ms", 300).max(1);
    let seed: u64 = num(&args, "--seed", 1);
    let params = match flag(&args, "--params") {
        Some(p) => std::fs::read_to_string(&p).unwrap_or_else(|e| die(format!("{p}: {e}"))),
        None => Params::ACL.to_string(),
    };
    let params = Params::parse(&params).unwrap_or_else(|e| die(e));
    let acl_dir = flag(&args, "--write-acl");
    let pool = PktmbufPool::create(
        "flow_perf",
        (ntrace + 64) as u32,
        256,
        0,
        MBUF_DEFAULT_BUF_SIZE,
        None,
    )
    .unwrap_or_else(|e| die(format!("mbuf pool: {e}")));
    let max = counts.iter().copied().max().unwrap_or(0);
    let all = params.generate(max, seed);

    println!(
        "flow_perf: ClassBench-like 5-tuple rules, {ntrace} 64-byte frames, bursts of 32, 1 core, \
         {runs} runs of {ms} ms"
    );
    println!("rules\ttuples\tinsert/s\tMpps(median)\tMpps(min)\tMpps(max)\tcycles/pkt\tdelete/s");
    for &n in &counts {
        let rules = &all[..n];
        let headers = trace(rules, ntrace, seed + n as u64);
        if let Some(dir) = &acl_dir {
            let w = |name: String, lines: Vec<String>| {
                std::fs::write(format!("{dir}/{name}"), lines.join("\n") + "\n")
                    .unwrap_or_else(|e| die(format!("{dir}/{name}: {e}")))
            };
            w(
                format!("rules-{n}"),
                rules.iter().map(Rule5::acl_line).collect(),
            );
            w(
                format!("trace-{n}"),
                headers.iter().map(Header5::acl_line).collect(),
            );
        }
        let parsed: Vec<_> = rules
            .iter()
            .enumerate()
            .map(|(i, r)| match parse(&r.flow_syntax(i as u32)) {
                Ok(FlowCommand::Create { rule, .. }) => rule,
                other => die(format!("rule {i}: {other:?}")),
            })
            .collect();
        let table = FlowTable::new(0, 4);
        let t0 = Instant::now();
        for r in parsed {
            table.create(r).unwrap_or_else(|e| die(e));
        }
        let insert = n as f64 / t0.elapsed().as_secs_f64();
        let dump = table.dev_dump(None).unwrap_or_default();
        let tuples: usize = dump
            .lines()
            .filter_map(|l| l.strip_prefix("ingress group 0: "))
            .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
            .sum();

        let mut mbufs: Vec<Mbuf> = headers
            .iter()
            .map(|h| {
                let mut m = pool.alloc().unwrap_or_else(|e| die(format!("mbuf: {e}")));
                m.append(60)
                    .unwrap_or_else(|e| die(e))
                    .copy_from_slice(&h.frame());
                m
            })
            .collect();
        // Correctness first, on a sample.
        for h in headers.iter().step_by((ntrace / 256).max(1)) {
            let got = table.classify_frame(Direction::Ingress, &h.frame(), 0).fate;
            if got != expected(rules, h) {
                die(format!(
                    "{n} rules: {h:?} classified {got:?}, a linear scan says otherwise"
                ));
            }
        }
        let mut verdicts = [Verdict::default(); 32];
        let mut rates = Vec::new();
        let mut cycles = Vec::new();
        for _ in 0..runs {
            let deadline = Instant::now() + std::time::Duration::from_millis(ms);
            let (mut pkts, start) = (0u64, rdtsc());
            let t = Instant::now();
            while Instant::now() < deadline {
                for burst in mbufs.chunks_mut(32) {
                    table.classify(Direction::Ingress, burst, &mut verdicts[..burst.len()]);
                    pkts += burst.len() as u64;
                }
            }
            let c = rdtsc() - start;
            rates.push(pkts as f64 / t.elapsed().as_secs_f64() / 1e6);
            cycles.push(c as f64 / pkts as f64);
        }
        std::hint::black_box(&verdicts);
        let (lo, hi) = (
            rates.iter().copied().fold(f64::MAX, f64::min),
            rates.iter().copied().fold(0.0, f64::max),
        );
        let mpps = median(&mut rates);
        let cpp = median(&mut cycles);
        mbufs.clear();

        let t0 = Instant::now();
        for (id, _) in table.rules() {
            table.destroy(id).unwrap_or_else(|e| die(e));
        }
        let delete = n as f64 / t0.elapsed().as_secs_f64();
        println!("{n}\t{tuples}\t{insert:.0}\t{mpps:.2}\t{lo:.2}\t{hi:.2}\t{cpp:.1}\t{delete:.0}");
    }
}
