//! Port events and their callbacks (DPDK's `rte_eth_dev_callback_register`,
//! `rte_eth_dev_callback_unregister` and `rte_eth_dev_callback_process`).
//!
//! A callback is registered for one port or for all (`RTE_ETH_ALL`: `None`) and one event
//! type; whoever detects the event (a driver, the flow engine's aging scan) calls
//! [`callback_process`], which runs the matching callbacks on its own thread, in the order
//! they were registered, with no lock held (so a callback may register or unregister
//! callbacks). Control path only: nothing here runs per packet.

use std::sync::{Arc, Mutex};

use crate::error::{EthError, Result};
use crate::port::MAX_ETHPORTS;

/// A port event (`enum rte_eth_event_type`): the ones rpdk raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EthEvent {
    /// New aged-out flow rules were detected (`RTE_ETH_EVENT_FLOW_AGED`): the flow engine's
    /// AGE actions; `get_aged_flows` gives them.
    FlowAged,
}

impl EthEvent {
    /// DPDK's number of the event type.
    pub fn number(self) -> u32 {
        match self {
            EthEvent::FlowAged => 10,
        }
    }

    /// testpmd's description of the event (`eth_event_desc[]`).
    pub fn desc(self) -> &'static str {
        match self {
            EthEvent::FlowAged => "flow aged",
        }
    }
}

/// A port event callback: called as `cb(port, event)`.
pub type EventCallbackFn = dyn Fn(u16, EthEvent) + Send + Sync;

/// A registered callback's handle, for [`callback_unregister`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventCallbackId(u64);

struct Registered {
    id: u64,
    port: Option<u16>,
    event: EthEvent,
    cb: Arc<EventCallbackFn>,
}

struct Callbacks {
    next: u64,
    list: Vec<Registered>,
}

static CALLBACKS: Mutex<Callbacks> = Mutex::new(Callbacks {
    next: 0,
    list: Vec::new(),
});

fn callbacks() -> std::sync::MutexGuard<'static, Callbacks> {
    CALLBACKS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Registers `cb` for `event` on `port` (`None`: every port, DPDK's `RTE_ETH_ALL`).
/// Refused for a port id at or above [`MAX_ETHPORTS`].
pub fn callback_register(
    port: Option<u16>,
    event: EthEvent,
    cb: Arc<EventCallbackFn>,
) -> Result<EventCallbackId> {
    if let Some(p) = port
        && p as usize >= MAX_ETHPORTS
    {
        return Err(EthError::NoSuchPort(p));
    }
    let mut c = callbacks();
    let id = c.next;
    c.next += 1;
    c.list.push(Registered {
        id,
        port,
        event,
        cb,
    });
    Ok(EventCallbackId(id))
}

/// Unregisters a callback; false if it was not registered. A call of it in progress on
/// another thread finishes (it holds its own reference to the callback).
pub fn callback_unregister(id: EventCallbackId) -> bool {
    let mut c = callbacks();
    let before = c.list.len();
    c.list.retain(|r| r.id != id.0);
    c.list.len() != before
}

/// Runs the callbacks registered for `event` on `port` (or on every port), on the calling
/// thread; returns how many ran.
pub fn callback_process(port: u16, event: EthEvent) -> usize {
    let run: Vec<Arc<EventCallbackFn>> = callbacks()
        .list
        .iter()
        .filter(|r| r.event == event && r.port.is_none_or(|p| p == port))
        .map(|r| r.cb.clone())
        .collect();
    for cb in &run {
        cb(port, event);
    }
    run.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn callbacks_run_for_their_port_and_event_until_unregistered() {
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let one = callback_register(
            Some(3),
            EthEvent::FlowAged,
            Arc::new(move |p, e| {
                assert_eq!((p, e), (3, EthEvent::FlowAged));
                h.fetch_add(1, Ordering::Relaxed);
            }),
        )
        .unwrap();
        let h = hits.clone();
        let all = callback_register(
            None,
            EthEvent::FlowAged,
            Arc::new(move |_, _| {
                h.fetch_add(10, Ordering::Relaxed);
            }),
        )
        .unwrap();
        assert!(callback_process(3, EthEvent::FlowAged) >= 2);
        callback_process(4, EthEvent::FlowAged);
        assert_eq!(hits.load(Ordering::Relaxed), 21);
        assert!(callback_unregister(one));
        assert!(!callback_unregister(one));
        callback_process(3, EthEvent::FlowAged);
        assert_eq!(hits.load(Ordering::Relaxed), 31);
        assert!(callback_unregister(all));
        assert!(
            callback_register(
                Some(MAX_ETHPORTS as u16),
                EthEvent::FlowAged,
                Arc::new(|_, _| {})
            )
            .is_err()
        );
        assert_eq!(EthEvent::FlowAged.number(), 10);
    }
}
