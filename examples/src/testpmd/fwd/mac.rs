//! `mac`: rewrite the source MAC (the TX port's) and destination MAC (its peer's) of every
//! packet, then forward it (DPDK's `macfwd.c`).

use rpdk_ethdev::TxQueue;
use rpdk_mbuf::net::Ethernet;

use super::{Burst, Engine, FwdCtx, FwdEngine, Stream};

struct Mac;

impl Engine for Mac {
    #[inline]
    fn packet_fwd(s: &mut Stream, txq: &mut TxQueue, b: &mut Burst, ctx: &FwdCtx<'_>) {
        if s.receive(b, ctx) == 0 {
            return;
        }
        for m in b.iter_mut() {
            if let Ok(d) = m.data_mut()
                && let Ok(mut eth) = Ethernet::new_checked(d)
            {
                eth.set_dst(s.peer);
                eth.set_src(s.tx_mac);
            }
        }
        s.send(txq, b);
    }
}

#[linkme::distributed_slice(super::FWD_ENGINES)]
static MAC: FwdEngine = FwdEngine::new::<Mac>("mac");
