//! `flowgen`: send generated UDP packets over `--flowgen-flows` destination addresses,
//! receive nothing (DPDK's `flowgen.c`).

use rpdk_ethdev::TxQueue;

use super::{Burst, Engine, FwdCtx, FwdEngine, Stream};

struct Flowgen;

impl Engine for Flowgen {
    fn stream_init(s: &mut Stream, ctx: &FwdCtx<'_>) {
        super::init_generator(s, ctx, ctx.flows);
    }

    #[inline]
    fn packet_fwd(s: &mut Stream, txq: &mut TxQueue, b: &mut Burst, ctx: &FwdCtx<'_>) {
        super::generate_and_send(s, txq, b, ctx);
    }
}

#[linkme::distributed_slice(super::FWD_ENGINES)]
static FLOWGEN: FwdEngine = FwdEngine::new::<Flowgen>("flowgen");
