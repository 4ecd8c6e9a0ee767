//! Service cores, as DPDK's `rte_service`: components register services (a callback that does
//! a slice of work and returns), the application maps them to service lcores and sets their
//! run state, and each started service lcore loops over the services mapped to it.
//!
//! ```no_run
//! use rpdk_eal::service::{self, ServiceSpec};
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! // app -l 0-1 -s 0x2
//! let (_eal, _) = rpdk_eal::init(std::env::args())?;
//! let n = Arc::new(AtomicU64::new(0));
//! let c = n.clone();
//! let id = service::component_register(ServiceSpec::new("counter", move || {
//!     c.fetch_add(1, Ordering::Relaxed);
//!     0
//! }))?;
//! service::component_runstate_set(id, true)?;
//! service::runstate_set(id, true)?;
//! service::map_lcore_set(id, 1, true)?;
//! service::lcore_start(1)?;
//! # Ok::<(), rpdk_eal::Error>(())
//! ```
//!
//! A service runs when both run states are on: the component's (it is ready) and the
//! application's. One that is not `mt_safe` runs on one lcore at a time (a flag taken for each
//! call, never waited for). Service lcores come from `-s`/`-S` or [`lcore_add`]; they are
//! pinned as other lcores, but [`crate::lcore::workers`], [`crate::lcore::list`] and the
//! launch calls leave them out. Statistics (calls, cycles) are kept when enabled per service
//! ([`set_stats_enable`]); loops per service lcore always.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::lcore::MAX_LCORE;

/// Most services (DPDK's `RTE_SERVICE_NUM_MAX`).
pub const SERVICE_NUM_MAX: usize = 64;

/// A service's callback: one slice of work; the return value is the service's (DPDK's
/// `rte_service_func`, 0 when it did work, `-EAGAIN` when it had none).
pub type ServiceFn = dyn Fn() -> i32 + Send + Sync;

/// What a component registers (DPDK's `struct rte_service_spec`).
#[derive(Clone)]
pub struct ServiceSpec {
    /// Its name, unique.
    pub name: String,
    /// The work.
    pub callback: Arc<ServiceFn>,
    /// Whether several lcores may run it at once (`RTE_SERVICE_CAP_MT_SAFE`).
    pub mt_safe: bool,
}

impl ServiceSpec {
    /// A service named `name` running `callback`, not MT-safe.
    pub fn new(name: &str, callback: impl Fn() -> i32 + Send + Sync + 'static) -> ServiceSpec {
        ServiceSpec {
            name: name.to_string(),
            callback: Arc::new(callback),
            mt_safe: false,
        }
    }
}

/// Statistics of a service (DPDK's `RTE_SERVICE_ATTR_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attr {
    /// Calls of its callback.
    Calls,
    /// TSC cycles spent in it.
    Cycles,
}

struct Service {
    spec: ServiceSpec,
    comp_run: AtomicBool,
    app_run: AtomicBool,
    stats: AtomicBool,
    /// Taken for each call of a service that is not MT-safe.
    busy: AtomicBool,
    calls: AtomicU64,
    cycles: AtomicU64,
}

impl Service {
    fn runnable(&self) -> bool {
        self.comp_run.load(Ordering::Acquire) && self.app_run.load(Ordering::Acquire)
    }

    /// Runs the callback once, unless another lcore runs it and it is not MT-safe; whether it
    /// ran.
    fn run_once(&self) -> bool {
        let exclusive = !self.spec.mt_safe;
        if exclusive
            && self
                .busy
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return false;
        }
        if self.stats.load(Ordering::Relaxed) {
            let t0 = crate::rdtsc();
            (self.spec.callback)();
            let dt = crate::rdtsc().wrapping_sub(t0);
            self.calls.fetch_add(1, Ordering::Relaxed);
            self.cycles.fetch_add(dt, Ordering::Relaxed);
        } else {
            (self.spec.callback)();
        }
        if exclusive {
            self.busy.store(false, Ordering::Release);
        }
        true
    }
}

/// A service lcore.
struct ServiceLcore {
    /// Bit `i`: service `i` is mapped to it.
    map: AtomicU64,
    /// Whether its loop should run.
    run: AtomicBool,
    loops: AtomicU64,
}

struct Registry {
    services: Vec<Option<Arc<Service>>>,
    /// Service lcores by lcore id.
    lcores: Vec<Option<Arc<ServiceLcore>>>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

fn registry() -> MutexGuard<'static, Option<Registry>> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

fn with<T>(f: impl FnOnce(&mut Registry) -> Result<T>) -> Result<T> {
    let mut g = registry();
    let r = g.get_or_insert_with(|| Registry {
        services: (0..SERVICE_NUM_MAX).map(|_| None).collect(),
        lcores: (0..MAX_LCORE).map(|_| None).collect(),
    });
    f(r)
}

fn no_service(id: u32) -> Error {
    Error::Service(format!("no service {id}"))
}

fn service(r: &Registry, id: u32) -> Result<Arc<Service>> {
    r.services
        .get(id as usize)
        .and_then(Clone::clone)
        .ok_or_else(|| no_service(id))
}

fn service_lcore(r: &Registry, lcore: u32) -> Result<Arc<ServiceLcore>> {
    r.lcores
        .get(lcore as usize)
        .and_then(Clone::clone)
        .ok_or_else(|| Error::Service(format!("lcore {lcore} is not a service lcore")))
}

/// Registers a service (DPDK's `rte_service_component_register`); returns its id. Both its
/// run states start off.
pub fn component_register(spec: ServiceSpec) -> Result<u32> {
    if spec.name.is_empty() {
        return Err(Error::Service("a service needs a name".into()));
    }
    with(|r| {
        if r.services
            .iter()
            .flatten()
            .any(|s| s.spec.name == spec.name)
        {
            return Err(Error::Service(format!(
                "a service named '{}' exists",
                spec.name
            )));
        }
        let id = r
            .services
            .iter()
            .position(Option::is_none)
            .ok_or_else(|| Error::Service(format!("{SERVICE_NUM_MAX} services already")))?;
        r.services[id] = Some(Arc::new(Service {
            spec,
            comp_run: AtomicBool::new(false),
            app_run: AtomicBool::new(false),
            stats: AtomicBool::new(false),
            busy: AtomicBool::new(false),
            calls: AtomicU64::new(0),
            cycles: AtomicU64::new(0),
        }));
        Ok(id as u32)
    })
}

/// Unregisters a service (DPDK's `rte_service_component_unregister`): it must be unmapped
/// from every lcore, or every lcore it is mapped to stopped.
pub fn component_unregister(id: u32) -> Result<()> {
    with(|r| {
        service(r, id)?;
        let bit = 1u64 << id;
        if r.lcores
            .iter()
            .flatten()
            .any(|l| l.map.load(Ordering::Relaxed) & bit != 0 && l.run.load(Ordering::Relaxed))
        {
            return Err(Error::Service(format!(
                "service {id} runs on a started lcore: unmap it or stop the lcore first"
            )));
        }
        for l in r.lcores.iter().flatten() {
            l.map.fetch_and(!bit, Ordering::Relaxed);
        }
        r.services[id as usize] = None;
        Ok(())
    })
}

/// The number of services (DPDK's `rte_service_get_count`).
pub fn service_count() -> u32 {
    with(|r| Ok(r.services.iter().flatten().count() as u32)).unwrap_or(0)
}

/// The id of the service named `name` (DPDK's `rte_service_get_by_name`).
pub fn get_by_name(name: &str) -> Result<u32> {
    with(|r| {
        r.services
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.spec.name == name))
            .map(|i| i as u32)
            .ok_or_else(|| Error::Service(format!("no service named '{name}'")))
    })
}

/// The name of service `id` (DPDK's `rte_service_get_name`).
pub fn get_name(id: u32) -> Result<String> {
    with(|r| Ok(service(r, id)?.spec.name.clone()))
}

/// Sets the component's run state: whether the service is ready to run (DPDK's
/// `rte_service_component_runstate_set`).
pub fn component_runstate_set(id: u32, on: bool) -> Result<()> {
    with(|r| {
        service(r, id)?.comp_run.store(on, Ordering::Release);
        Ok(())
    })
}

/// Sets the application's run state of a service (DPDK's `rte_service_runstate_set`).
pub fn runstate_set(id: u32, on: bool) -> Result<()> {
    with(|r| {
        service(r, id)?.app_run.store(on, Ordering::Release);
        Ok(())
    })
}

/// Whether a service runs: both run states on (DPDK's `rte_service_runstate_get`).
pub fn runstate_get(id: u32) -> Result<bool> {
    with(|r| Ok(service(r, id)?.runnable()))
}

/// Whether a service can be running now: runnable and mapped to a started service lcore
/// (DPDK's `rte_service_may_be_active`).
pub fn may_be_active(id: u32) -> Result<bool> {
    with(|r| {
        let s = service(r, id)?;
        let bit = 1u64 << id;
        Ok(s.runnable()
            && r.lcores
                .iter()
                .flatten()
                .any(|l| l.map.load(Ordering::Relaxed) & bit != 0 && l.run.load(Ordering::Relaxed)))
    })
}

/// Turns statistics of a service on or off (DPDK's `rte_service_set_stats_enable`).
pub fn set_stats_enable(id: u32, on: bool) -> Result<()> {
    with(|r| {
        service(r, id)?.stats.store(on, Ordering::Relaxed);
        Ok(())
    })
}

/// A statistic of a service (DPDK's `rte_service_attr_get`).
pub fn attr_get(id: u32, attr: Attr) -> Result<u64> {
    with(|r| {
        let s = service(r, id)?;
        Ok(match attr {
            Attr::Calls => s.calls.load(Ordering::Relaxed),
            Attr::Cycles => s.cycles.load(Ordering::Relaxed),
        })
    })
}

/// Zeroes the statistics of a service (DPDK's `rte_service_attr_reset_all`).
pub fn attr_reset_all(id: u32) -> Result<()> {
    with(|r| {
        let s = service(r, id)?;
        s.calls.store(0, Ordering::Relaxed);
        s.cycles.store(0, Ordering::Relaxed);
        Ok(())
    })
}

/// Maps or unmaps a service to service lcore `lcore` (DPDK's `rte_service_map_lcore_set`).
pub fn map_lcore_set(id: u32, lcore: u32, on: bool) -> Result<()> {
    with(|r| {
        service(r, id)?;
        let l = service_lcore(r, lcore)?;
        let bit = 1u64 << id;
        if on {
            l.map.fetch_or(bit, Ordering::AcqRel);
        } else {
            l.map.fetch_and(!bit, Ordering::AcqRel);
        }
        Ok(())
    })
}

/// Whether a service is mapped to `lcore` (DPDK's `rte_service_map_lcore_get`).
pub fn map_lcore_get(id: u32, lcore: u32) -> Result<bool> {
    with(|r| {
        service(r, id)?;
        Ok(service_lcore(r, lcore)?.map.load(Ordering::Relaxed) & (1u64 << id) != 0)
    })
}

/// Makes worker lcore `lcore` a service lcore (DPDK's `rte_service_lcore_add`): the launch
/// calls leave it out from now on.
pub fn lcore_add(lcore: u32) -> Result<()> {
    let info = crate::lcore::info(lcore).ok_or_else(|| Error::Lcore {
        lcore,
        reason: "not an enabled lcore".into(),
    })?;
    if info.is_main {
        return Err(Error::Lcore {
            lcore,
            reason: "the main lcore cannot be a service lcore".into(),
        });
    }
    if crate::lcore::state(lcore) != Some(crate::LcoreState::Wait) {
        return Err(Error::Lcore {
            lcore,
            reason: "busy: wait for it before making it a service lcore".into(),
        });
    }
    with(|r| {
        let slot = &mut r.lcores[lcore as usize];
        if slot.is_some() {
            return Err(Error::Service(format!(
                "lcore {lcore} is a service lcore already"
            )));
        }
        *slot = Some(Arc::new(ServiceLcore {
            map: AtomicU64::new(0),
            run: AtomicBool::new(false),
            loops: AtomicU64::new(0),
        }));
        Ok(())
    })
}

/// Gives service lcore `lcore` back to the application (DPDK's `rte_service_lcore_del`); it
/// must be stopped.
pub fn lcore_del(lcore: u32) -> Result<()> {
    with(|r| {
        let l = service_lcore(r, lcore)?;
        if l.run.load(Ordering::Relaxed) {
            return Err(Error::Service(format!(
                "service lcore {lcore} is running: stop it first"
            )));
        }
        r.lcores[lcore as usize] = None;
        Ok(())
    })
}

/// Whether `lcore` is a service lcore.
pub fn is_service_lcore(lcore: u32) -> bool {
    registry()
        .as_ref()
        .and_then(|r| r.lcores.get(lcore as usize).map(Option::is_some))
        .unwrap_or(false)
}

/// The service lcores, in increasing order (DPDK's `rte_service_lcore_list`).
pub fn lcore_list() -> Vec<u32> {
    registry()
        .as_ref()
        .map(|r| {
            r.lcores
                .iter()
                .enumerate()
                .filter(|(_, l)| l.is_some())
                .map(|(i, _)| i as u32)
                .collect()
        })
        .unwrap_or_default()
}

/// How many service lcores there are (DPDK's `rte_service_lcore_count`).
pub fn lcore_count() -> u32 {
    lcore_list().len() as u32
}

/// Loops a service lcore has made (DPDK's `RTE_SERVICE_LCORE_ATTR_LOOPS`).
pub fn lcore_loops(lcore: u32) -> Result<u64> {
    with(|r| Ok(service_lcore(r, lcore)?.loops.load(Ordering::Relaxed)))
}

/// The loop of a started service lcore.
fn run_lcore(l: Arc<ServiceLcore>, services: Vec<Option<Arc<Service>>>) -> i32 {
    let mut services = services;
    let mut seen_map = u64::MAX;
    let mut mapped: Vec<Arc<Service>> = Vec::new();
    while l.run.load(Ordering::Acquire) {
        let map = l.map.load(Ordering::Acquire);
        if map != seen_map {
            // The mapping changed: take the registry's services anew.
            if let Some(r) = registry().as_ref() {
                services = r.services.clone();
            }
            mapped = services
                .iter()
                .enumerate()
                .filter(|(i, _)| map & (1u64 << i) != 0)
                .filter_map(|(_, s)| s.clone())
                .collect();
            seen_map = map;
        }
        let mut ran = false;
        for s in &mapped {
            if s.runnable() {
                ran |= s.run_once();
            }
        }
        l.loops.fetch_add(1, Ordering::Relaxed);
        if !ran {
            std::hint::spin_loop();
        }
    }
    0
}

/// Starts service lcore `lcore` looping over its services (DPDK's
/// `rte_service_lcore_start`).
pub fn lcore_start(lcore: u32) -> Result<()> {
    let state = crate::state::get()?;
    let (l, services) = with(|r| {
        let l = service_lcore(r, lcore)?;
        if l.run.swap(true, Ordering::AcqRel) {
            return Err(Error::Service(format!(
                "service lcore {lcore} is started already"
            )));
        }
        Ok((l, r.services.clone()))
    })?;
    let job_l = l.clone();
    if let Err(e) = state
        .lcores
        .remote_launch(lcore, Box::new(move || run_lcore(job_l, services)))
    {
        l.run.store(false, Ordering::Release);
        return Err(e);
    }
    Ok(())
}

/// Stops service lcore `lcore` and waits for its loop to end (DPDK's
/// `rte_service_lcore_stop`, then `rte_eal_wait_lcore`).
pub fn lcore_stop(lcore: u32) -> Result<()> {
    let l = with(|r| service_lcore(r, lcore))?;
    if !l.run.swap(false, Ordering::AcqRel) {
        return Err(Error::Service(format!(
            "service lcore {lcore} is not started"
        )));
    }
    crate::state::get()?.lcores.wait(lcore).map(|_| ())
}

/// Stops every service lcore (DPDK's `rte_service_lcore_reset_all`): their mappings go, they
/// stay service lcores.
pub fn lcore_reset_all() -> Result<()> {
    for lcore in lcore_list() {
        let _ = lcore_stop(lcore);
        with(|r| {
            service_lcore(r, lcore)?.map.store(0, Ordering::Release);
            Ok(())
        })?;
    }
    Ok(())
}

/// Runs service `id` once on the calling (application) lcore (DPDK's
/// `rte_service_run_iter_on_app_lcore`). With `serialize_mt_unsafe`, a service that is not
/// MT-safe is not run while another lcore runs it (an error then, as DPDK's `-EBUSY`).
pub fn service_run_iter_on_app_lcore(id: u32, serialize_mt_unsafe: bool) -> Result<()> {
    let s = with(|r| service(r, id))?;
    if !s.runnable() {
        return Err(Error::Service(format!("service {id} is not running")));
    }
    if serialize_mt_unsafe || s.spec.mt_safe {
        if !s.run_once() {
            return Err(Error::Service(format!(
                "service {id} is running on another lcore"
            )));
        }
    } else {
        (s.spec.callback)();
        if s.stats.load(Ordering::Relaxed) {
            s.calls.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// The services and service lcores with their statistics (DPDK's `rte_service_dump`).
pub fn dump() -> String {
    let g = registry();
    let Some(r) = g.as_ref() else {
        return "Services: none\n".into();
    };
    let mut out = String::from("Services:\n");
    for (i, s) in r.services.iter().enumerate() {
        let Some(s) = s else { continue };
        let calls = s.calls.load(Ordering::Relaxed);
        let cycles = s.cycles.load(Ordering::Relaxed);
        out.push_str(&format!(
            "  {}: stats {}\tcalls {}\tcycles {}\tavg: {}\n",
            s.spec.name,
            u8::from(s.stats.load(Ordering::Relaxed)),
            calls,
            cycles,
            cycles.checked_div(calls).unwrap_or(0)
        ));
        let lcores: Vec<String> = r
            .lcores
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                l.as_ref()
                    .is_some_and(|l| l.map.load(Ordering::Relaxed) & (1u64 << i) != 0)
            })
            .map(|(n, _)| n.to_string())
            .collect();
        out.push_str(&format!(
            "    id {i}, run state {}, mt_safe {}, lcores [{}]\n",
            u8::from(s.runnable()),
            u8::from(s.spec.mt_safe),
            lcores.join(",")
        ));
    }
    out.push_str("Service Cores:\n");
    for (n, l) in r.lcores.iter().enumerate() {
        let Some(l) = l else { continue };
        out.push_str(&format!(
            "  {n}: {}\tloops {}\tservice mask {:#x}\n",
            if l.run.load(Ordering::Relaxed) {
                "running"
            } else {
                "stopped"
            },
            l.loops.load(Ordering::Relaxed),
            l.map.load(Ordering::Relaxed)
        ));
    }
    out
}

/// At EAL init: the service lcores of `-s`/`-S`.
pub(crate) fn init(lcores: &[u32]) -> Result<()> {
    for &l in lcores {
        lcore_add(l)?;
    }
    Ok(())
}

/// At EAL cleanup: every service lcore stopped, services and service lcores forgotten.
pub(crate) fn finalize() {
    for lcore in lcore_list() {
        let _ = lcore_stop(lcore);
    }
    *registry() = None;
}
