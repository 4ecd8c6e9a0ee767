//! `macswap`: swap the source and destination MAC of every packet, then forward it (DPDK's
//! `macswap.c`).

use rpdk_ethdev::TxQueue;
use rpdk_mbuf::net::Ethernet;

use super::{Burst, Engine, FwdCtx, FwdEngine, Stream};

struct Macswap;

impl Engine for Macswap {
    #[inline]
    fn packet_fwd(s: &mut Stream, txq: &mut TxQueue, b: &mut Burst, ctx: &FwdCtx<'_>) {
        if s.receive(b, ctx) == 0 {
            return;
        }
        for m in b.iter_mut() {
            if let Ok(d) = m.data_mut()
                && let Ok(mut eth) = Ethernet::new_checked(d)
            {
                eth.swap_addrs();
            }
        }
        s.send(txq, b);
    }
}

#[linkme::distributed_slice(super::FWD_ENGINES)]
static MACSWAP: FwdEngine = FwdEngine::new::<Macswap>("macswap");
