//! `rxonly`: receive and free (DPDK's `rxonly.c`).

use rpdk_ethdev::TxQueue;

use super::{Burst, Engine, FwdCtx, FwdEngine, Stream};

struct Rxonly;

impl Engine for Rxonly {
    #[inline]
    fn packet_fwd(s: &mut Stream, _txq: &mut TxQueue, b: &mut Burst, ctx: &FwdCtx<'_>) {
        if s.receive(b, ctx) > 0 {
            b.clear();
        }
    }
}

#[linkme::distributed_slice(super::FWD_ENGINES)]
static RXONLY: FwdEngine = FwdEngine::new::<Rxonly>("rxonly");
