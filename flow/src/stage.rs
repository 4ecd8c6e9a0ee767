//! rpdk-flow in the port's software stage: a [`FlowTable`] is an `rpdk_ethdev::Classifier`, so
//! `port.set_classifier(Some(table))` runs its rules on every RX and TX burst of the port.
//!
//! At RX the transfer rules run first (the switch domain: every port whose stage calls this
//! table), then the ingress rules for what they leave; at TX the egress rules. Fates map to
//! the stage's verdicts: `Queue(q)` moves the packet to RX queue `q`, `Drop` and `Isolated`
//! drop it (an isolated port's unmatched packets never reach the application), `Port(p)`
//! (PORT_ID, REPRESENTED_PORT) hands it to port `p`'s TX, `Default` keeps it; MARK, FLAG and
//! the RSS hash are written into the mbuf by [`FlowTable::classify`].

use rpdk_ethdev::Verdict as StageVerdict;
use rpdk_mbuf::Mbuf;

use crate::engine::compile::Direction;
use crate::engine::{Fate, Verdict};
use crate::table::FlowTable;

/// Packets classified at a time (the verdicts live on the stack).
const CHUNK: usize = 64;

fn stage_verdict(v: &Verdict, dir: Direction) -> StageVerdict {
    match v.fate {
        Fate::Drop | Fate::Isolated => StageVerdict::Drop,
        Fate::Queue(q) if dir == Direction::Ingress => StageVerdict::Queue(q),
        Fate::Port(p) => StageVerdict::Port(p),
        _ => StageVerdict::Keep,
    }
}

fn run(t: &FlowTable, port: u16, dir: Direction, pkts: &mut [Mbuf], out: &mut [StageVerdict]) {
    let rx = dir == Direction::Ingress;
    let transfer = rx && t.has_rules(Direction::Transfer);
    if !transfer && !t.has_rules(dir) {
        return;
    }
    let mut tmp = [Verdict::default(); CHUNK];
    for (ms, vs) in pkts.chunks_mut(CHUNK).zip(out.chunks_mut(CHUNK)) {
        let tmp = &mut tmp[..ms.len()];
        if rx {
            t.classify_rx(port, ms, tmp);
        } else {
            t.classify(dir, ms, tmp);
        }
        for (o, v) in vs.iter_mut().zip(tmp.iter()) {
            *o = stage_verdict(v, dir);
        }
    }
}

impl rpdk_ethdev::Classifier for FlowTable {
    fn rx(&self, port: u16, _queue: u16, pkts: &mut [Mbuf], verdicts: &mut [StageVerdict]) {
        run(self, port, Direction::Ingress, pkts, verdicts);
    }

    fn tx(&self, port: u16, _queue: u16, pkts: &mut [Mbuf], verdicts: &mut [StageVerdict]) {
        run(self, port, Direction::Egress, pkts, verdicts);
    }
}
