//! AGE: a rule whose traffic stops is reported aged after its timeout (within a second of it),
//! by `get_aged_flows`, the AGE query and `RTE_ETH_EVENT_FLOW_AGED` raised by the aging
//! thread; testpmd's `flow aged` and `flow query ... age` replies; refusals.

mod common;

use common::*;
use rpdk_ethdev::event::{self, EthEvent};
use rpdk_flow::syntax::execute;
use rpdk_flow::{Action, AgedFlow, Direction, ErrorType, FlowRule, FlowTable, eth, ipv4, udp};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn rule(dport: u16, timeout: u32, context: Option<u64>) -> FlowRule {
    FlowRule::ingress()
        .item(eth::item())
        .item(ipv4::item())
        .item(udp::item().is(udp::DST, dport))
        .action(Action::Age { timeout, context })
        .action(Action::Queue { index: 0 })
}

/// Sends frames to `dport` for `d`, every millisecond.
fn traffic(t: &FlowTable, dport: u16, d: Duration) {
    let f = udp4([10, 0, 0, 1], [10, 0, 0, 2], 1000, dport);
    let end = Instant::now() + d;
    while Instant::now() < end {
        t.classify_frame(Direction::Ingress, &f, 0);
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_stopped_flow_ages_after_its_timeout_and_raises_the_event() {
    const PORT: u16 = 5;
    let t = FlowTable::new(PORT, 1);
    let events = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let ev = events.clone();
    let cb = event::callback_register(
        Some(PORT),
        EthEvent::FlowAged,
        Arc::new(move |p, e| {
            assert_eq!((p, e), (PORT, EthEvent::FlowAged));
            ev.lock().unwrap().push(Instant::now());
        }),
    )
    .unwrap();
    let busy = t.create(rule(1000, 1, Some(0xc0ffee))).unwrap();
    let idle = t.create(rule(2000, 3, None)).unwrap();
    // Traffic for 1.5 s: the busy rule's timeout (1 s) passes without aging it.
    traffic(&t, 1000, Duration::from_millis(1500));
    assert!(t.get_aged_flows().is_empty(), "hit within its timeout");
    let q = t.query_age(busy).unwrap();
    assert_eq!((q.aged, q.sec_since_last_hit_valid), (false, true));
    assert_eq!(q.sec_since_last_hit, 0);
    // The flow stops: aged 1 s later, reported within one more second.
    let stop = Instant::now();
    let aged_at = loop {
        if t.get_aged_flows()
            == [AgedFlow {
                rule: busy,
                context: Some(0xc0ffee),
            }]
        {
            break stop.elapsed();
        }
        assert!(stop.elapsed() < Duration::from_secs(3), "not aged");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        aged_at >= Duration::from_millis(990) && aged_at < Duration::from_secs(2),
        "aged {aged_at:?} after the last packet (timeout 1 s)"
    );
    assert!(t.query_age(busy).unwrap().aged);
    // The idle rule (never hit) ages 3 s after its creation; the event comes from the aging
    // thread (get_aged_flows armed it again), within one second.
    let events_before = events.lock().unwrap().len();
    let t0 = Instant::now();
    while t.query_age(idle).map(|q| q.aged) == Ok(false) {
        assert!(t0.elapsed() < Duration::from_secs(4), "idle rule not aged");
        std::thread::sleep(Duration::from_millis(20));
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while events.lock().unwrap().len() == events_before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        events.lock().unwrap().len() > events_before,
        "FLOW_AGED within a second"
    );
    assert_eq!(t.get_aged_flows().len(), 2);
    // Destroyed rules leave the list.
    t.destroy(busy).unwrap();
    assert_eq!(
        t.get_aged_flows(),
        [AgedFlow {
            rule: idle,
            context: None
        }]
    );
    t.flush().unwrap();
    assert!(t.get_aged_flows().is_empty());
    assert!(event::callback_unregister(cb));
}

#[test]
fn testpmd_flow_aged_and_age_queries() {
    let t = Arc::new(FlowTable::new(0, 2));
    let tables = |p: u16| (p == 0).then(|| t.clone());
    let run = |line: &str| execute(line, &tables);
    let o = run(
        "flow create 0 ingress pattern eth / ipv4 / udp dst is 7 / end actions age timeout 1 / queue index 1 / end",
    );
    assert_eq!(o.out, "Flow rule #0 created\n");
    run("flow create 0 priority 3 ingress pattern eth / end actions count / queue index 0 / end");
    let o = run("flow query 0 0 age");
    assert_eq!(
        o.out,
        "AGE:\n aged: 0\n sec_since_last_hit_valid: 1\n sec_since_last_hit: 0\n"
    );
    assert_eq!(run("flow aged 0").out, "Port 0 total aged flows: 0\n");
    std::thread::sleep(Duration::from_millis(1100));
    let listing = "Port 0 total aged flows: 1\n\
         Type                \tID\tGroup\tPrio\tAttr\n\
         Flow                \t0\t0\t0\ti--\t\n";
    assert_eq!(
        run("flow aged 0").out,
        format!("{listing}\n0 flows destroyed\n")
    );
    let o = run("flow query 0 0 age");
    assert_eq!(
        o.out,
        "AGE:\n aged: 1\n sec_since_last_hit_valid: 1\n sec_since_last_hit: 1\n"
    );
    assert_eq!(
        run("flow aged 0 destroy").out,
        format!("{listing}Flow rule #0 destroyed\n\n1 flows destroyed\n")
    );
    assert!(t.rule(0).is_none());
    assert_eq!(run("flow query 0 0 age").err, "Flow rule #0 not found\n");
    let o = run("flow query 0 1 age");
    assert!(o.err.contains("the rule has no AGE action"), "{o:?}");
    // Refusals: a zero timeout, two AGE actions; a timeout over 24 bits does not parse.
    let o = run("flow create 0 ingress pattern eth / end actions age timeout 0 / drop / end");
    assert!(
        o.err.contains("type 15") && o.err.contains("AGE timeout 0"),
        "{o:?}"
    );
    let o = run(
        "flow create 0 ingress pattern eth / end actions age timeout 2 / age timeout 3 / drop / end",
    );
    assert!(o.err.contains("more than one AGE action"), "{o:?}");
    let o =
        run("flow create 0 ingress pattern eth / end actions age timeout 16777216 / drop / end");
    assert_eq!(o.out, "Bad arguments\n");
    let e = t.validate(&rule(1, 0, None)).expect_err("timeout 0");
    assert_eq!(e.kind, ErrorType::ActionConf);
    // An egress rule ages too (its hits are the packets sent).
    let id = t
        .create(FlowRule::egress().item(eth::item()).action(Action::Age {
            timeout: 5,
            context: None,
        }))
        .unwrap();
    assert!(!t.query_age(id).unwrap().aged);
}

#[test]
fn many_lcores_hitting_one_rule_keep_it_alive() {
    let t = Arc::new(FlowTable::new(0, 1));
    let id = t.create(rule(3000, 1, None)).unwrap();
    let hits = Arc::new(AtomicU64::new(0));
    std::thread::scope(|s| {
        for _ in 0..2 {
            let (t, hits) = (t.clone(), hits.clone());
            s.spawn(move || {
                let f = udp4([10, 0, 0, 1], [10, 0, 0, 2], 1000, 3000);
                let end = Instant::now() + Duration::from_millis(1300);
                while Instant::now() < end {
                    t.classify_frame(Direction::Ingress, &f, 0);
                    hits.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    assert!(hits.load(Ordering::Relaxed) > 1000);
    assert!(!t.query_age(id).unwrap().aged);
}
