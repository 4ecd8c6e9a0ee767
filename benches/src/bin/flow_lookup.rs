//! `flow_lookup`: rpdk-flow's classification loop alone, for A/B comparisons of the engine by
//! instruction counts (`valgrind --tool=callgrind`) and wall clock. The EAL is started only as
//! far as the mbuf pool needs (`--no-huge --no-shconf --no-telemetry`, one lcore, no device), so
//! the binary runs under valgrind.
//!
//! ```text
//! flow_lookup --rules N [--trace 8192] [--seed 1] [--count] [--passes P | --ms M --rounds R]
//! ```
//!
//! The rules and trace are `flow_perf`'s (the ClassBench-like generator of
//! [`rpdk_benches::classbench`] with its ACL parameters, the same seeds), created in one
//! `FlowTable` and classified as 64-byte frames in mbufs, bursts of 32, through
//! `FlowTable::classify`. The verdicts of a sample are first checked against a linear scan.
//! `--count`: each rule's actions are `count / queue index 0` instead of `queue index 0`
//! (the rule form of `scripts/bench/flowcost.sh`).
//!
//! - `--passes P`: exactly P passes over the trace inside `classify_passes` (not inlined), so
//!   that `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*classify_passes*'`
//!   counts the lookup's instructions only; prints the packets classified and a checksum of the
//!   verdicts.
//! - `--ms M --rounds R` (default 300 and 5): R timed runs of M ms each; prints Mpps per run,
//!   then the median with the minimum and maximum.

use rpdk_benches::classbench::{Params, Rule5, trace, trace_mbufs};
use rpdk_flow::syntax::{FlowCommand, parse};
use rpdk_flow::{Direction, Fate, FlowTable, Verdict};
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, Mbuf, PktmbufPool};
use std::time::{Duration, Instant};

fn die(msg: impl std::fmt::Display) -> ! {
    eprintln!("flow_lookup: {msg}");
    std::process::exit(2)
}

fn num<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    match args.iter().position(|a| a == name) {
        None => default,
        Some(i) => {
            let v = args
                .get(i + 1)
                .unwrap_or_else(|| die(format!("{name} needs a value")));
            v.parse()
                .unwrap_or_else(|_| die(format!("bad value '{v}' for {name}")))
        }
    }
}

/// P passes over `mbufs` in bursts of 32; a checksum of the verdicts.
#[inline(never)]
fn classify_passes(table: &FlowTable, mbufs: &mut [Mbuf], passes: u64) -> u64 {
    let mut verdicts = [Verdict::default(); 32];
    let mut sum = 0u64;
    for _ in 0..passes {
        for burst in mbufs.chunks_mut(32) {
            let v = &mut verdicts[..burst.len()];
            table.classify(Direction::Ingress, burst, v);
            sum += v.iter().filter(|v| v.fate != Fate::Default).count() as u64;
        }
    }
    sum
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let eal = [
        "flow_lookup",
        "--no-huge",
        "--no-shconf",
        "--no-telemetry",
        "--no-pci",
        "-l",
        "0",
    ];
    let _eal = rpdk_eal::init(eal.iter().map(|s| s.to_string()))
        .unwrap_or_else(|e| die(format!("EAL: {e}")));
    let n: usize = num(&args, "--rules", 1000);
    let ntrace: usize = num(&args, "--trace", 8192);
    let seed: u64 = num(&args, "--seed", 1);
    let passes: u64 = num(&args, "--passes", 0);
    let ms: u64 = num(&args, "--ms", 300).max(1);
    let rounds: usize = num(&args, "--rounds", 5).max(1);
    let count = args.iter().any(|a| a == "--count");

    let params = Params::parse(Params::ACL).unwrap_or_else(|e| die(e));
    let rules: Vec<Rule5> = params.generate(n, seed);
    let headers = trace(&rules, ntrace, seed + n as u64);
    let table = FlowTable::new(0, 4);
    for (i, r) in rules.iter().enumerate() {
        let mut text = r.flow_syntax(i as u32);
        if count {
            text = text.replace("actions queue", "actions count / queue");
        }
        match parse(&text) {
            Ok(FlowCommand::Create { rule, .. }) => {
                table.create(rule).unwrap_or_else(|e| die(e));
            }
            other => die(format!("rule {i}: {other:?}")),
        }
    }
    for h in headers.iter().step_by((ntrace / 256).max(1)) {
        let want = if rules.iter().any(|r| r.matches(h)) {
            Fate::Queue(0)
        } else {
            Fate::Default
        };
        let got = table.classify_frame(Direction::Ingress, &h.frame(), 0).fate;
        if got != want {
            die(format!(
                "{h:?} classified {got:?}, a linear scan says {want:?}"
            ));
        }
    }
    let pool = PktmbufPool::create(
        "flow_lookup",
        (ntrace + 64) as u32,
        256,
        0,
        MBUF_DEFAULT_BUF_SIZE,
        None,
    )
    .unwrap_or_else(|e| die(format!("mbuf pool: {e}")));
    let mut mbufs: Vec<Mbuf> = trace_mbufs(&pool, &headers).unwrap_or_else(|e| die(e));

    if passes > 0 {
        let sum = classify_passes(&table, &mut mbufs, passes);
        println!(
            "{n} rules: {} packets, {sum} matched",
            passes * mbufs.len() as u64
        );
        return;
    }
    let mut rates = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let deadline = t + Duration::from_millis(ms);
        let mut pkts = 0u64;
        while Instant::now() < deadline {
            std::hint::black_box(classify_passes(&table, &mut mbufs, 1));
            pkts += mbufs.len() as u64;
        }
        rates.push(pkts as f64 / t.elapsed().as_secs_f64() / 1e6);
    }
    let line: Vec<String> = rates.iter().map(|r| format!("{r:.3}")).collect();
    rates.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{n} rules: Mpps {:.3} ({:.3}-{:.3}) runs {}",
        rates[rates.len() / 2],
        rates[0],
        rates[rates.len() - 1],
        line.join(" ")
    );
}
