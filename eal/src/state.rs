//! The process-wide state of an initialised EAL.

use std::sync::{Arc, Mutex, RwLock};

use crate::error::{Error, Result};
use crate::lcore::Lcores;
use crate::memory::Memory;
use crate::memory::memzone::Memzone;
use crate::memory::shared::SharedConfig;
use crate::options::{EalOptions, ProcType};

/// The command line `init` was given, for telemetry's `/eal/params` and `/eal/app_params`.
#[derive(Clone, Debug, Default)]
pub(crate) struct CmdLine {
    /// The program name and the EAL's flags (before `--`).
    pub eal: Vec<String>,
    /// The application's arguments (after `--`).
    pub app: Vec<String>,
}

/// What `init` sets up and cleanup tears down.
pub(crate) struct EalState {
    pub options: EalOptions,
    /// Primary or secondary (`auto` resolved).
    pub proc_type: ProcType,
    /// The configuration a primary shares with its secondaries (none without a runtime
    /// directory, and in a secondary, whose view is in `memory`).
    pub shared: Option<Arc<SharedConfig>>,
    pub memory: Arc<Memory>,
    pub zones: Mutex<Vec<Memzone>>,
    pub lcores: Lcores,
    /// The NUMA nodes of the machine.
    pub sockets: Vec<u32>,
    /// The NUMA node of the main lcore.
    pub main_socket: u32,
    /// The command line.
    pub cmdline: CmdLine,
}

static STATE: RwLock<Option<Arc<EalState>>> = RwLock::new(None);

/// The running EAL.
pub(crate) fn get() -> Result<Arc<EalState>> {
    STATE
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .ok_or(Error::NotInitialized)
}

/// Whether an EAL runs.
pub(crate) fn is_set() -> bool {
    STATE.read().unwrap_or_else(|e| e.into_inner()).is_some()
}

pub(crate) fn set(state: Arc<EalState>) {
    *STATE.write().unwrap_or_else(|e| e.into_inner()) = Some(state);
}

pub(crate) fn take() -> Option<Arc<EalState>> {
    STATE.write().unwrap_or_else(|e| e.into_inner()).take()
}
