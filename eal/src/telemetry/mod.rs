//! Telemetry: DPDK's v2 telemetry socket, wire-compatible, so that DPDK's
//! `dpdk-telemetry.py` (and the collectd and Prometheus exporters built on the socket) read a
//! running rpdk application unchanged.
//!
//! [`crate::init`] creates `dpdk_telemetry.v2` in DPDK's runtime directory of the file prefix
//! ([`socket_dir`]: `/var/run/dpdk/<prefix>/` for root) unless `--no-telemetry` is given, and
//! a control thread serves it: a client connects (`SOCK_SEQPACKET`), is greeted with
//! `{"version":...,"pid":...,"max_output_len":16384}`, sends `/command[,params]` and gets
//! `{"/command":<data>}` back. Commands come from the crates that own the data: `/`, `/info`,
//! `/help` and `/eal/...` from here, `/ethdev/...`, `/mempool/...`, `/ring/...` from their
//! crates, each linked in through [`TELEMETRY_COMMANDS`]; applications add theirs with
//! [`register_cmd`]. `docs/telemetry.md` lists every command and its reply.
//!
//! ```
//! use rpdk_eal::telemetry::{self, Client, Data};
//!
//! telemetry::register_cmd("/app/stats", "Returns the app's counters. Takes no parameters",
//!     |_cmd: &str, _params: Option<&str>, d: &mut Data| {
//!         d.start_dict();
//!         d.add_dict_uint("drops", 7)?;
//!         Ok(())
//!     },
//! )?;
//! let (eal, _) = rpdk_eal::init(["app", "--no-huge", "--no-shconf", "-l", "0",
//!                                "--file-prefix", "teldoc"])?;
//! let mut client = Client::connect(&telemetry::socket_path().unwrap())?;
//! assert!(client.greeting().contains("\"max_output_len\":16384"));
//! assert_eq!(client.request("/app/stats")?, r#"{"/app/stats":{"drops":7}}"#);
//! assert_eq!(client.request("/eal/lcore/list")?, r#"{"/eal/lcore/list":[0]}"#);
//! drop(eal); // the socket goes with the EAL
//! assert!(telemetry::socket_path().is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod commands;
mod data;
mod json;
mod registry;
mod server;
mod socket;

use std::path::PathBuf;
use std::sync::Mutex;

pub use client::Client;
pub use data::{
    Data, DataError, MAX_ARRAY_ENTRIES, MAX_DICT_ENTRIES, MAX_SINGLE_STRING_LEN, MAX_STRING_LEN,
    Value, ValueType,
};
pub use json::{MAX_CMD_LEN, MAX_OUTPUT_LEN};
pub use registry::{Command, CommandError, Handler, TELEMETRY_COMMANDS, commands, register_cmd};
pub use server::{MAX_CONNECTIONS, SOCKET_NAME};

pub(crate) use server::Server;

/// The version a client is told (`/info` and the greeting).
pub fn version() -> String {
    format!("rpdk {}", crate::VERSION)
}

/// DPDK's runtime directory of `prefix`, where the socket goes: `$RUNTIME_DIRECTORY` (set by
/// systemd's `RuntimeDirectory=`), else `/var/run` for root and `$XDG_RUNTIME_DIR` (or `/tmp`)
/// for others, then `dpdk/<prefix>`, the directory `dpdk-telemetry.py -f <prefix>` looks in.
pub fn socket_dir(prefix: &str) -> PathBuf {
    let base = match std::env::var_os("RUNTIME_DIRECTORY") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ if socket::real_uid_is_root() => PathBuf::from("/var/run"),
        _ => std::env::var_os("XDG_RUNTIME_DIR")
            .filter(|d| !d.is_empty())
            .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from),
    };
    base.join("dpdk").join(prefix)
}

static SOCKET: Mutex<Option<PathBuf>> = Mutex::new(None);

/// The socket of the running EAL, if telemetry is on.
pub fn socket_path() -> Option<PathBuf> {
    SOCKET.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

pub(crate) fn set_socket_path(p: Option<PathBuf>) {
    static AT_EXIT: std::sync::Once = std::sync::Once::new();
    if p.is_some() {
        AT_EXIT.call_once(|| socket::at_exit(remove_at_exit));
    }
    *SOCKET.lock().unwrap_or_else(|e| e.into_inner()) = p;
}

/// An application that exits (`std::process::exit`) while the EAL runs leaves no socket file,
/// as DPDK's `atexit` handler sees to; a normal cleanup has removed it already.
extern "C" fn remove_at_exit() {
    let Ok(guard) = SOCKET.try_lock() else {
        return;
    };
    if let Some(path) = guard.as_ref() {
        let _ = std::fs::remove_file(path);
        if let Some(dir) = path.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}
