//! Hairpin targets: QUEUE and RSS actions may name the port's hairpin RX queues (DPDK's
//! `rte_eth_rx_hairpin_queue_setup`), whose packets the ethdev stage's hairpin service sends
//! out of the peer port's TX queue without the application (`rpdk_ethdev::stage::hairpin`).
//!
//! The table is told how many hairpin queues the port has, numbered after its normal RX
//! queues as testpmd's `--hairpinq` numbers them. A rule may send to them as to any queue; an
//! RSS action spreads over hairpin queues or over normal ones, not both (as DPDK's PMDs
//! refuse), and `rss` without queues spreads over the normal queues only.

use std::sync::atomic::Ordering;

use crate::action::Action;
use crate::error::{ErrorType, FlowError};
use crate::rule::FlowRule;
use crate::table::FlowTable;

impl FlowTable {
    /// Sets how many hairpin RX queues the port has after its normal ones (queues
    /// `nb_rx_queues()..nb_rx_queues() + n`): QUEUE and RSS actions may name them.
    pub fn set_hairpin_queues(&self, n: u16) {
        self.nb_hairpin.store(n, Ordering::Relaxed);
    }

    /// The hairpin RX queues the rules may name, after the normal ones.
    pub fn nb_hairpin_queues(&self) -> u16 {
        self.nb_hairpin.load(Ordering::Relaxed)
    }

    /// Whether RX queue `q` is a hairpin queue.
    pub fn is_hairpin_queue(&self, q: u16) -> bool {
        let first = self.nb_rx_queues();
        q >= first && q - first < self.nb_hairpin_queues()
    }

    /// Refuses an RSS action over hairpin and normal queues together.
    pub(crate) fn check_hairpin(&self, rule: &FlowRule) -> Result<(), FlowError> {
        if self.nb_hairpin_queues() == 0 {
            return Ok(());
        }
        for (i, a) in rule.actions.iter().enumerate() {
            if let Action::Rss(r) = a {
                let hairpin = r
                    .queues
                    .iter()
                    .filter(|&&q| self.is_hairpin_queue(q))
                    .count();
                if hairpin != 0 && hairpin != r.queues.len() {
                    let first = self.nb_rx_queues();
                    return Err(FlowError::action(
                        ErrorType::ActionConf,
                        i,
                        format!(
                            "RSS over hairpin queues ({first} to {}) and normal queues together",
                            first + self.nb_hairpin_queues() - 1
                        ),
                    )
                    .with_errno(libc::ENOTSUP));
                }
            }
        }
        Ok(())
    }
}
