//! `mac`: rewrite the source MAC (the TX port's) and destination MAC (its peer's) of every
//! packet, then forward it (DPDK's `macfwd.c`).

use rpdk_ethdev::TxQueue;

use super::{Burst, Engine, FwdCtx, FwdEngine, Stream};

struct Mac;

impl Engine for Mac {
    #[inline]
    fn packet_fwd(s: &mut Stream, txq: &mut TxQueue, b: &mut Burst, ctx: &FwdCtx<'_>) {
        if s.receive(b, ctx) == 0 {
            return;
        }
        let (peer, tx_mac) = (s.peer, s.tx_mac);
        super::for_each_ethernet(b, |eth| {
            eth.set_dst(peer);
            eth.set_src(tx_mac);
        });
        s.send(txq, b);
    }
}

#[linkme::distributed_slice(super::FWD_ENGINES)]
static MAC: FwdEngine = FwdEngine::new::<Mac>("mac");
