//! Worker threads and the launch protocol: a mutex and condition variable per worker.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::{LcoreInfo, LcoreState, set_current};
use crate::cpuset::{self, set_thread_affinity};
use crate::error::{Error, Result};
use crate::options::LcoreMap;

/// Whether [`crate::Eal::mp_remote_launch`] also runs the function on the main lcore
/// (DPDK's `CALL_MAIN` / `SKIP_MAIN`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallMain {
    /// Run it on the main lcore too, after launching the workers.
    Call,
    /// Run it on the workers only.
    Skip,
}

pub(crate) type Job = Box<dyn FnOnce() -> i32 + Send + 'static>;

struct SlotInner {
    state: LcoreState,
    job: Option<Job>,
    result: Option<Result<i32, String>>,
    stop: bool,
}

struct Slot {
    inner: Mutex<SlotInner>,
    cv: Condvar,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, SlotInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Worker {
    id: u32,
    slot: Arc<Slot>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// The lcores of a running EAL.
pub(crate) struct Lcores {
    main: u32,
    infos: Vec<LcoreInfo>,
    workers: Vec<Worker>,
}

pub(crate) fn panic_message(payload: Box<dyn Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

fn worker_loop(slot: &Slot) {
    loop {
        let job = {
            let mut g = slot.lock();
            loop {
                if g.stop {
                    return;
                }
                if let Some(job) = g.job.take() {
                    break job;
                }
                g = slot.cv.wait(g).unwrap_or_else(|e| e.into_inner());
            }
        };
        let result = catch_unwind(AssertUnwindSafe(job)).map_err(panic_message);
        let mut g = slot.lock();
        g.result = Some(result);
        g.state = LcoreState::Finished;
        slot.cv.notify_all();
    }
}

impl Lcores {
    /// Describes the lcores of `map` and starts a pinned thread for each worker, with a stack
    /// of `stack` bytes if given (`--huge-worker-stack`).
    pub fn start(map: &LcoreMap, main: u32, stack: Option<usize>) -> Result<Lcores> {
        let infos: Vec<LcoreInfo> = map
            .iter()
            .enumerate()
            .map(|(index, (&id, cpus))| LcoreInfo {
                id,
                index: index as u32,
                cpuset: *cpus,
                socket: cpus.first().map(cpuset::cpu_socket).unwrap_or(0),
                is_main: id == main,
            })
            .collect();
        let mut lcores = Lcores {
            main,
            infos,
            workers: Vec::new(),
        };
        for info in lcores.infos.iter().filter(|i| !i.is_main) {
            match spawn_worker(info, stack) {
                Ok(w) => lcores.workers.push(w),
                Err(e) => {
                    lcores.stop();
                    return Err(e);
                }
            }
        }
        Ok(lcores)
    }

    pub fn main(&self) -> u32 {
        self.main
    }

    pub fn infos(&self) -> &[LcoreInfo] {
        &self.infos
    }

    pub fn main_info(&self) -> &LcoreInfo {
        self.infos
            .iter()
            .find(|i| i.is_main)
            .expect("the main lcore is enabled")
    }

    fn worker(&self, id: u32) -> Result<&Worker> {
        if id == self.main {
            return Err(Error::Lcore {
                lcore: id,
                reason: "this is the main lcore; launch on workers only".into(),
            });
        }
        self.workers
            .iter()
            .find(|w| w.id == id)
            .ok_or_else(|| Error::Lcore {
                lcore: id,
                reason: "not an enabled lcore".into(),
            })
    }

    pub fn state(&self, id: u32) -> Option<LcoreState> {
        if id == self.main {
            return Some(LcoreState::Running);
        }
        self.workers
            .iter()
            .find(|w| w.id == id)
            .map(|w| w.slot.lock().state)
    }

    pub fn remote_launch(&self, id: u32, job: Job) -> Result<()> {
        let w = self.worker(id)?;
        let mut g = w.slot.lock();
        if g.stop {
            return Err(Error::Lcore {
                lcore: id,
                reason: "the EAL is shutting down".into(),
            });
        }
        if g.state != LcoreState::Wait {
            return Err(Error::Lcore {
                lcore: id,
                reason: format!("busy (state {:?}): wait_lcore it first", g.state),
            });
        }
        g.job = Some(job);
        g.state = LcoreState::Running;
        w.slot.cv.notify_all();
        Ok(())
    }

    pub fn wait(&self, id: u32) -> Result<i32> {
        let w = self.worker(id)?;
        let mut g = w.slot.lock();
        while g.state == LcoreState::Running {
            g = w.slot.cv.wait(g).unwrap_or_else(|e| e.into_inner());
        }
        g.state = LcoreState::Wait;
        match g.result.take() {
            None => Ok(0),
            Some(Ok(v)) => Ok(v),
            Some(Err(message)) => Err(Error::Panicked { lcore: id, message }),
        }
    }

    /// The workers that are not service lcores (those run their services' loop).
    fn app_workers(&self) -> impl Iterator<Item = &Worker> {
        self.workers
            .iter()
            .filter(|w| !crate::service::is_service_lcore(w.id))
    }

    pub fn mp_launch(&self, f: Arc<dyn Fn() -> i32 + Send + Sync>) -> Result<()> {
        if let Some(busy) = self
            .app_workers()
            .find(|w| w.slot.lock().state != LcoreState::Wait)
        {
            return Err(Error::Lcore {
                lcore: busy.id,
                reason: "busy: wait for all workers before mp_remote_launch".into(),
            });
        }
        for w in self.app_workers() {
            let f = f.clone();
            self.remote_launch(w.id, Box::new(move || f()))?;
        }
        Ok(())
    }

    pub fn wait_all(&self) -> Vec<(u32, Result<i32>)> {
        self.app_workers()
            .map(|w| (w.id, self.wait(w.id)))
            .collect()
    }

    /// Waits for running functions, then stops and joins every worker thread.
    pub fn stop(&self) {
        for w in &self.workers {
            let mut g = w.slot.lock();
            while g.state == LcoreState::Running {
                g = w.slot.cv.wait(g).unwrap_or_else(|e| e.into_inner());
            }
            g.stop = true;
            w.slot.cv.notify_all();
        }
        for w in &self.workers {
            if let Some(t) = w.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = t.join();
            }
        }
    }
}

fn spawn_worker(info: &LcoreInfo, stack: Option<usize>) -> Result<Worker> {
    let slot = Arc::new(Slot {
        inner: Mutex::new(SlotInner {
            state: LcoreState::Wait,
            job: None,
            result: None,
            stop: false,
        }),
        cv: Condvar::new(),
    });
    let (tx, rx) = mpsc::sync_channel::<Result<()>>(1);
    let (id, cpus, socket) = (info.id, info.cpuset, info.socket);
    let thread_slot = slot.clone();
    let mut builder = std::thread::Builder::new().name(format!("rpdk-lcore-{id}"));
    if let Some(bytes) = stack {
        builder = builder.stack_size(bytes);
    }
    let handle = builder
        .spawn(move || {
            let pinned = set_thread_affinity(&cpus);
            let ok = pinned.is_ok();
            let _ = tx.send(pinned);
            if ok {
                set_current(Some(id), Some(socket));
                worker_loop(&thread_slot);
            }
        })
        .map_err(|e| Error::io(format!("starting the thread of lcore {id}"), e))?;
    let pinned = rx.recv().unwrap_or_else(|_| {
        Err(Error::Lcore {
            lcore: id,
            reason: "its thread exited during start".into(),
        })
    });
    if let Err(e) = pinned {
        let _ = handle.join();
        return Err(Error::Lcore {
            lcore: id,
            reason: format!("cannot pin to CPUs {cpus}: {e}"),
        });
    }
    log::debug!(target: "lib.eal", "lcore {id} is ready on CPUs {cpus}, socket {socket}");
    Ok(Worker {
        id,
        slot,
        thread: Mutex::new(Some(handle)),
    })
}
