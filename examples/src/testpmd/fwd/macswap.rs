//! `macswap`: swap the source and destination MAC of every packet, then forward it (DPDK's
//! `macswap.c`).

use rpdk_ethdev::TxQueue;

use super::{Burst, Engine, FwdCtx, FwdEngine, Stream};

struct Macswap;

impl Engine for Macswap {
    #[inline]
    fn packet_fwd(s: &mut Stream, txq: &mut TxQueue, b: &mut Burst, ctx: &FwdCtx<'_>) {
        if s.receive(b, ctx) == 0 {
            return;
        }
        super::for_each_ethernet(b, |eth| eth.swap_addrs());
        s.send(txq, b);
    }
}

#[linkme::distributed_slice(super::FWD_ENGINES)]
static MACSWAP: FwdEngine = FwdEngine::new::<Macswap>("macswap");
