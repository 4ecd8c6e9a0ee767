//! `io`: forward packets unchanged (DPDK's `iofwd.c`).

use rpdk_ethdev::TxQueue;

use super::{Burst, Engine, FwdCtx, FwdEngine, Stream};

struct Io;

impl Engine for Io {
    #[inline]
    fn packet_fwd(s: &mut Stream, txq: &mut TxQueue, b: &mut Burst, ctx: &FwdCtx<'_>) {
        if s.receive(b, ctx) > 0 {
            s.send(txq, b);
        }
    }
}

#[linkme::distributed_slice(super::FWD_ENGINES)]
static IO: FwdEngine = FwdEngine::new::<Io>("io");
