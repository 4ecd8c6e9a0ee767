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
//!
//! ```text
//! flow_perf -l 0 --no-huge --file-prefix fp -- --template [--rules 100000]
//!     [--rules-batch 1024] [--rounds 3] [--dump-iterations]
//! ```
//!
//! `--template`: the insertion and deletion rates through the template API instead, beside
//! the synchronous calls on the same rules. The rules are dpdk-test-flow-perf's default shape
//! (`eth / ipv4 src is A` with A counting up from 0, full mask; here `queue index (A % 4)`),
//! one template table of exactly that many rules over a pattern template `eth / ipv4 src
//! mask 255.255.255.255` and an actions template whose queue each rule gives. Insertion is
//! `async_create` with `postpone` for a batch of `--rules-batch` (the flow queue's size),
//! then `push` and `pull` of the batch's results (each checked), batch after batch; deletion
//! the same with `async_destroy`. The synchronous rows create the same rules one by one with
//! `create` and destroy them with `destroy`. A sample of the rules is classified between the
//! two (each must give its queue). Each round prints dpdk-test-flow-perf's lines for the
//! template rates (`:: Port 0 :: Core 0 :: Rules insertion rate -> R K Rule/Sec`, `... The
//! time for creating N in rules T seconds`, and the deletion pair; with `--dump-iterations`
//! its `:: Rules batch #i: ...` lines per batch), then one line with the four rates in rules
//! per second; the end, the median of each over the rounds with its minimum and maximum.
//! DPDK's own tool has no template mode (22.11 to 26.07: `rte_flow_create` only), so its
//! output format is the one of its synchronous rates.

use rpdk_benches::classbench::{Header5, Params, Rule5, trace, trace_mbufs};
use rpdk_eal::rdtsc;
use rpdk_flow::syntax::{FlowCommand, parse};
use rpdk_flow::template::{
    ActionsTemplateAttr, OpAttr, PatternTemplateAttr, PortAttr, QueueAttr, TemplateTableAttr,
};
use rpdk_flow::{
    Action, Attr, Direction, Fate, FlowRule, FlowTable, Item, ItemType, Verdict, eth, ipv4,
};
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, Mbuf, PktmbufPool};
use std::net::Ipv4Addr;
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

/// The rule `i` of the template mode: its pattern (specs only) and actions.
fn template_rule(i: u32) -> ([Item; 2], [Action; 1]) {
    (
        [
            Item::new(ItemType::Eth),
            ipv4::item().spec(ipv4::SRC, Ipv4Addr::from(i)).into(),
        ],
        [Action::Queue {
            index: (i % 4) as u16,
        }],
    )
}

/// The same rule as one `create` takes.
fn sync_rule(i: u32) -> FlowRule {
    FlowRule::ingress()
        .item(eth::item())
        .item(ipv4::item().is(ipv4::SRC, Ipv4Addr::from(i)))
        .action(Action::Queue {
            index: (i % 4) as u16,
        })
}

/// A frame from `src` that rule `src` matches.
fn frame_from(src: u32) -> [u8; 60] {
    Header5 {
        src,
        dst: 0x0a00_0001,
        sport: 1000,
        dport: 2000,
        proto: 17,
    }
    .frame()
}

/// dpdk-test-flow-perf's per-batch line (`--dump-iterations`): each batch's rules and seconds.
fn dump_batches(batches: &[(usize, f64)]) {
    for (i, (n, t)) in batches.iter().enumerate() {
        println!(
            ":: Rules batch #{i}: {n} rules in {t:.6} sec[ Rate = {:.6} K Rule/Sec ]",
            *n as f64 / t / 1000.0
        );
    }
}

/// One round of the template mode for `n` rules: (template insert/s, template delete/s,
/// synchronous insert/s, synchronous delete/s).
fn template_round(n: u32, batch: u32, dump: bool) -> [f64; 4] {
    const POSTPONE: OpAttr = OpAttr { postpone: true };
    let t = FlowTable::new(0, 4);
    t.configure(&PortAttr::default(), &[QueueAttr { size: batch }])
        .unwrap_or_else(|e| die(e));
    let pt = t
        .pattern_template_create(
            None,
            PatternTemplateAttr {
                ingress: true,
                ..Default::default()
            },
            vec![
                Item::new(ItemType::Eth),
                ipv4::item().mask(ipv4::SRC, Ipv4Addr::BROADCAST).into(),
            ],
        )
        .unwrap_or_else(|e| die(e));
    let at = t
        .actions_template_create(
            None,
            ActionsTemplateAttr {
                ingress: true,
                ..Default::default()
            },
            vec![Action::Queue { index: 0 }],
            vec![Action::Queue { index: 0 }],
        )
        .unwrap_or_else(|e| die(e));
    let tbl = t
        .template_table_create(
            None,
            TemplateTableAttr {
                attr: Attr {
                    ingress: true,
                    ..Attr::default()
                },
                nb_flows: n,
            },
            &[pt],
            &[at],
        )
        .unwrap_or_else(|e| die(e));
    let rules: Vec<_> = (0..n).map(template_rule).collect();
    let check = |results: Vec<rpdk_flow::template::OpResult>, want: usize| {
        if results.len() != want {
            die(format!("pulled {} results, {want} expected", results.len()));
        }
        if let Some(r) = results.iter().find(|r| !r.status.is_success()) {
            die(format!("operation {:?} failed: {:?}", r.op, r.status));
        }
    };

    let mut ids = Vec::with_capacity(n as usize);
    let mut batches = Vec::new();
    let t0 = Instant::now();
    for chunk in rules.chunks(batch as usize) {
        let b0 = Instant::now();
        for (pattern, actions) in chunk {
            let k = ids.len() as u64;
            let id = t
                .async_create(0, POSTPONE, tbl, pattern, 0, actions, 0, k)
                .unwrap_or_else(|e| die(e));
            ids.push(id);
        }
        t.push(0).unwrap_or_else(|e| die(e));
        check(
            t.pull(0, batch as usize).unwrap_or_else(|e| die(e)),
            chunk.len(),
        );
        batches.push((chunk.len(), b0.elapsed().as_secs_f64()));
    }
    let insert_s = t0.elapsed().as_secs_f64();
    if dump {
        dump_batches(&batches);
    }
    println!(
        ":: Port 0 :: Core 0 :: Rules insertion rate -> {:.6} K Rule/Sec",
        n as f64 / insert_s / 1000.0
    );
    println!(":: Port 0 :: Core 0 :: The time for creating {n} in rules {insert_s:.6} seconds");

    if t.rules().len() != n as usize {
        die(format!(
            "{} rules in the table, {n} expected",
            t.rules().len()
        ));
    }
    for i in (0..n).step_by((n as usize / 1000).max(1)) {
        let got = t.classify_frame(Direction::Ingress, &frame_from(i), 0).fate;
        if got != Fate::Queue((i % 4) as u16) {
            die(format!("rule {i}: the frame it matches went to {got:?}"));
        }
    }

    batches.clear();
    let t0 = Instant::now();
    for chunk in ids.chunks(batch as usize) {
        let b0 = Instant::now();
        for &id in chunk {
            t.async_destroy(0, POSTPONE, id, id as u64)
                .unwrap_or_else(|e| die(e));
        }
        t.push(0).unwrap_or_else(|e| die(e));
        check(
            t.pull(0, batch as usize).unwrap_or_else(|e| die(e)),
            chunk.len(),
        );
        batches.push((chunk.len(), b0.elapsed().as_secs_f64()));
    }
    let delete_s = t0.elapsed().as_secs_f64();
    if dump {
        dump_batches(&batches);
    }
    println!(
        ":: Port 0 :: Core 0 :: Rules deletion rate -> {:.6} K Rule/Sec",
        n as f64 / delete_s / 1000.0
    );
    println!(":: Port 0 :: Core 0 :: The time for deleting {n} rules is {delete_s:.6} seconds");
    if !t.rules().is_empty() {
        die(format!("{} rules left after the deletion", t.rules().len()));
    }
    t.template_table_destroy(tbl).unwrap_or_else(|e| die(e));

    // The same rules, synchronously.
    let s = FlowTable::new(0, 4);
    let sync: Vec<FlowRule> = (0..n).map(sync_rule).collect();
    let t0 = Instant::now();
    let ids: Vec<u32> = sync
        .into_iter()
        .map(|r| s.create(r).unwrap_or_else(|e| die(e)))
        .collect();
    let sync_insert_s = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    for id in ids {
        s.destroy(id).unwrap_or_else(|e| die(e));
    }
    let sync_delete_s = t0.elapsed().as_secs_f64();
    let n = n as f64;
    [
        n / insert_s,
        n / delete_s,
        n / sync_insert_s,
        n / sync_delete_s,
    ]
}

/// `--template`: insertion and deletion rates through the template API, and synchronously.
fn template_mode(args: &[String]) {
    let counts: Vec<u32> = flag(args, "--rules")
        .unwrap_or_else(|| "100000".into())
        .split(',')
        .map(|s| match s.parse() {
            Ok(n) if n > 0 => n,
            _ => die(format!("bad rule count '{s}' (1 or more)")),
        })
        .collect();
    let batch: u32 = num(args, "--rules-batch", 1024);
    if batch == 0 {
        die("--rules-batch must be 1 or more");
    }
    let rounds: usize = num(args, "--rounds", 3).max(1);
    let dump = args.iter().any(|a| a == "--dump-iterations");
    println!(
        "flow_perf --template: eth / ipv4 src is A (A = 0, 1, ...) / queue, 1 core, flow queue \
         of {batch}, batches of {batch}, {rounds} rounds"
    );
    let mut rows = Vec::new();
    for &n in &counts {
        println!(":: Rules Count per port: {n}\n");
        let mut per = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
        for round in 0..rounds {
            let r = template_round(n, batch, dump);
            println!(
                "round {round}: {n} rules: template insert {:.0}/s delete {:.0}/s, \
                 synchronous insert {:.0}/s delete {:.0}/s\n",
                r[0], r[1], r[2], r[3]
            );
            for (v, x) in per.iter_mut().zip(r) {
                v.push(x);
            }
        }
        rows.push((n, per));
    }
    println!(
        "rules\ttemplate insert/s (min-max)\ttemplate delete/s (min-max)\t\
         sync insert/s (min-max)\tsync delete/s (min-max)"
    );
    for (n, mut per) in rows {
        let cells: Vec<String> = per
            .iter_mut()
            .map(|v| {
                let lo = v.iter().copied().fold(f64::MAX, f64::min);
                let hi = v.iter().copied().fold(0.0, f64::max);
                format!("{:.0} ({lo:.0}-{hi:.0})", median(v))
            })
            .collect();
        println!("{n}\t{}", cells.join("\t"));
    }
}

fn main() {
    let (_eal, args) = match rpdk_eal::init(std::env::args()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("flow_perf: {e}");
            std::process::exit(e.exit_code());
        }
    };
    if args.iter().any(|a| a == "--template") {
        template_mode(&args);
        return;
    }
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

        let mut mbufs: Vec<Mbuf> = trace_mbufs(&pool, &headers).unwrap_or_else(|e| die(e));
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
