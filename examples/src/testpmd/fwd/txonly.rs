//! `txonly`: send generated UDP packets of one flow, receive nothing (DPDK's `txonly.c`).

use rpdk_ethdev::TxQueue;

use super::{Burst, Engine, FwdCtx, FwdEngine, Stream};

struct Txonly;

impl Engine for Txonly {
    fn stream_init(s: &mut Stream, ctx: &FwdCtx<'_>) {
        super::init_generator(s, ctx, 1);
    }

    #[inline]
    fn packet_fwd(s: &mut Stream, txq: &mut TxQueue, b: &mut Burst, ctx: &FwdCtx<'_>) {
        super::generate_and_send(s, txq, b, ctx);
    }
}

#[linkme::distributed_slice(super::FWD_ENGINES)]
static TXONLY: FwdEngine = FwdEngine::new::<Txonly>("txonly");
