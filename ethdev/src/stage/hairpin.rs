//! Hairpin queues in software: an RX queue whose packets go to a peer TX queue (of the same
//! port, or another) without the application seeing them (DPDK's `rte_eth_*_hairpin_*`).
//!
//! Something must move the packets: here each bound RX/TX pair is an EAL service
//! (`rpdk_eal::service`, named `hairpin_rx<port>q<queue>`), mapped to every service lcore
//! (`-s`/`-S`; stopped ones are started). Without a service lcore, the binding still happens
//! and the application runs the services itself (`service_run_iter_on_app_lcore` with the ids
//! of [`crate::Port::hairpin_services`]). The service holds the two queues' handles, so the
//! RX queue's stage (RSS, classifier, callbacks) and the TX queue's (egress classifier,
//! callbacks) apply as for any queue, and the ports' statistics count the packets.

use std::sync::{Arc, Mutex};

use rpdk_mbuf::MbufBurst;

use crate::queue::{RxQueue, TxQueue};

/// One peer of a hairpin queue (`struct rte_eth_hairpin_peer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HairpinPeer {
    /// The peer port.
    pub port: u16,
    /// The peer queue.
    pub queue: u16,
}

/// A hairpin queue's settings (`struct rte_eth_hairpin_conf`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HairpinConf {
    /// Its peers: one (the software hairpin pairs one RX with one TX queue).
    pub peers: Vec<HairpinPeer>,
    /// Explicit TX flow mode: the application's egress rules on the TX port select what the
    /// peer RX queue sends (in software every packet reaches the TX queue's stage, whose
    /// egress classifier applies either way; the flag is kept and checked to match).
    pub tx_explicit: bool,
    /// The application binds and unbinds (`hairpin_bind`); otherwise it happens at start,
    /// which a hairpin between two ports cannot do.
    pub manual_bind: bool,
}

/// What hairpin queues a port can have (`struct rte_eth_hairpin_cap`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HairpinCap {
    /// Most hairpin queues.
    pub max_nb_queues: u16,
    /// Most TX peers of an RX hairpin queue.
    pub max_rx_2_tx: u16,
    /// Most RX peers of a TX hairpin queue.
    pub max_tx_2_rx: u16,
    /// Most descriptors of a hairpin queue.
    pub max_nb_desc: u16,
}

/// The software hairpin's capability.
pub const HAIRPIN_CAP: HairpinCap = HairpinCap {
    max_nb_queues: 16,
    max_rx_2_tx: 1,
    max_tx_2_rx: 1,
    max_nb_desc: 8192,
};

/// A bound RX/TX pair moved by an EAL service.
pub(crate) struct Binding {
    pub rx_port: u16,
    pub rx_queue: u16,
    pub tx_port: u16,
    pub tx_queue: u16,
    pub service: u32,
    queues: Arc<Mutex<Option<(RxQueue, TxQueue)>>>,
}

/// The service's work: one burst from the RX queue to the TX queue; what the TX queue does
/// not take is freed (a NIC's hairpin drops when its TX side is full).
fn move_burst(queues: &Mutex<Option<(RxQueue, TxQueue)>>) -> i32 {
    let mut g = queues.lock().unwrap_or_else(|e| e.into_inner());
    let Some((rx, tx)) = g.as_mut() else {
        return -libc_eagain();
    };
    let mut b = MbufBurst::<32>::new();
    if rx.rx_burst(&mut b) == 0 {
        return -libc_eagain();
    }
    tx.tx_burst(&mut b);
    0
}

/// DPDK's `EAGAIN`, what a service returns when it had no work.
const fn libc_eagain() -> i32 {
    11
}

impl Binding {
    /// Registers and starts the service moving `rx` to `tx`.
    pub fn start(rx: RxQueue, tx: TxQueue) -> Result<Binding, rpdk_eal::Error> {
        use rpdk_eal::service;
        let (rx_port, rx_queue) = (rx.port_id(), rx.queue_id());
        let (tx_port, tx_queue) = (tx.port_id(), tx.queue_id());
        let queues = Arc::new(Mutex::new(Some((rx, tx))));
        let q = queues.clone();
        let name = format!("hairpin_rx{rx_port}q{rx_queue}");
        let id =
            service::component_register(service::ServiceSpec::new(&name, move || move_burst(&q)))?;
        service::component_runstate_set(id, true)?;
        service::runstate_set(id, true)?;
        let lcores = service::lcore_list();
        if lcores.is_empty() {
            log::warn!(
                target: "lib.ethdev",
                "{name}: no service lcore (-s/-S): the application runs service {id}"
            );
        }
        for l in lcores {
            service::map_lcore_set(id, l, true)?;
            // Started here if the application has not: a hairpin moves without it.
            let _ = service::lcore_start(l);
        }
        Ok(Binding {
            rx_port,
            rx_queue,
            tx_port,
            tx_queue,
            service: id,
            queues,
        })
    }

    /// Stops the service and gives the queues back to their ports.
    pub fn stop(self) {
        use rpdk_eal::service;
        let _ = service::runstate_set(self.service, false);
        for l in service::lcore_list() {
            let _ = service::map_lcore_set(self.service, l, false);
        }
        // A call in progress holds the lock: after this, no call has the queues.
        let taken = self.queues.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(taken);
        if let Err(e) = service::component_unregister(self.service) {
            log::warn!(target: "lib.ethdev", "hairpin service {}: {e}", self.service);
        }
    }
}

/// Every bound hairpin of the process.
static BINDINGS: Mutex<Vec<Binding>> = Mutex::new(Vec::new());

fn bindings() -> std::sync::MutexGuard<'static, Vec<Binding>> {
    BINDINGS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts moving `rx` to `tx`.
pub(crate) fn bind(rx: RxQueue, tx: TxQueue) -> Result<(), rpdk_eal::Error> {
    let (port, queue) = (tx.port_id(), tx.queue_id());
    let b = Binding::start(rx, tx)?;
    log::info!(
        target: "lib.ethdev",
        "hairpin: port {} RX queue {} -> port {port} TX queue {queue} (service {})",
        b.rx_port,
        b.rx_queue,
        b.service
    );
    bindings().push(b);
    Ok(())
}

/// Whether TX queue `queue` of `port` is bound.
pub(crate) fn is_bound(port: u16, queue: u16) -> bool {
    bindings()
        .iter()
        .any(|b| b.tx_port == port && b.tx_queue == queue)
}

/// Stops the bindings `which` selects (with no port lock held: the queues go back to their
/// ports).
pub(crate) fn unbind_where(which: impl Fn(&Binding) -> bool) {
    let gone: Vec<Binding> = {
        let mut all = bindings();
        let (gone, keep) = std::mem::take(&mut *all)
            .into_iter()
            .partition(|b| which(b));
        *all = keep;
        gone
    };
    for b in gone {
        b.stop();
    }
}

/// The services of the bindings through `port`.
pub(crate) fn services_of(port: u16) -> Vec<u32> {
    bindings()
        .iter()
        .filter(|b| b.rx_port == port || b.tx_port == port)
        .map(|b| b.service)
        .collect()
}
