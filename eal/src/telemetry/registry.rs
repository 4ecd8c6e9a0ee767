//! The commands the socket answers: those linked in through [`TELEMETRY_COMMANDS`] and those
//! registered at run time with [`register_cmd`], in DPDK's alphabetical order.

use std::sync::{Arc, Mutex};

use super::data::{Data, DataError, MAX_STRING_LEN};
use super::json::MAX_CMD_LEN;
use crate::error::{Error, Result};

/// Why a command gave no data; the client gets `{"<cmd>":null}`, as from DPDK when a handler
/// returns an error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CommandError(pub String);

impl From<&str> for CommandError {
    fn from(s: &str) -> Self {
        CommandError(s.to_string())
    }
}

impl From<String> for CommandError {
    fn from(s: String) -> Self {
        CommandError(s)
    }
}

impl From<DataError> for CommandError {
    fn from(e: DataError) -> Self {
        CommandError(e.to_string())
    }
}

/// A command handler (DPDK's `telemetry_cb`): the command, its parameters (what follows the
/// first comma, if anything does) and the reply to fill.
pub type Handler = fn(cmd: &str, params: Option<&str>, d: &mut Data) -> Result<(), CommandError>;

/// A command known at link time.
#[derive(Debug)]
pub struct Command {
    /// `/` then letters, digits, `_` and `/`; fewer than 56 bytes.
    pub name: &'static str,
    /// What it returns and takes; fewer than 128 bytes.
    pub help: &'static str,
    /// Fills the reply.
    pub handler: Handler,
}

/// Commands registered by being linked, as DPDK's `RTE_INIT` constructors register theirs:
///
/// ```
/// use rpdk_eal::telemetry::{Command, CommandError, Data, TELEMETRY_COMMANDS};
///
/// fn uptime(_cmd: &str, _params: Option<&str>, d: &mut Data) -> Result<(), CommandError> {
///     d.start_dict();
///     d.add_dict_uint("seconds", 42)?;
///     Ok(())
/// }
///
/// #[linkme::distributed_slice(TELEMETRY_COMMANDS)]
/// static UPTIME: Command = Command {
///     name: "/example/uptime",
///     help: "Returns the uptime. Takes no parameters",
///     handler: uptime,
/// };
/// ```
#[linkme::distributed_slice]
pub static TELEMETRY_COMMANDS: [Command];

type DynHandler = dyn Fn(&str, Option<&str>, &mut Data) -> Result<(), CommandError> + Send + Sync;

/// A command as the server runs it.
#[derive(Clone)]
pub(crate) struct Entry {
    pub name: String,
    pub help: String,
    pub run: Arc<DynHandler>,
}

static RUNTIME: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// Checks a command name and help text as DPDK's `rte_telemetry_register_cmd` does.
fn check(name: &str, help: &str) -> std::result::Result<(), String> {
    if !name.starts_with('/') {
        return Err("a command starts with '/'".into());
    }
    if name.len() >= MAX_CMD_LEN {
        return Err(format!("a command has fewer than {MAX_CMD_LEN} bytes"));
    }
    if !super::data::valid_name(name) {
        return Err("a command has only letters, digits, '_' and '/'".into());
    }
    if help.len() >= MAX_STRING_LEN {
        return Err(format!("help text has fewer than {MAX_STRING_LEN} bytes"));
    }
    Ok(())
}

fn static_entries() -> impl Iterator<Item = &'static Command> {
    TELEMETRY_COMMANDS
        .iter()
        .filter(|c| check(c.name, c.help).is_ok())
}

/// Registers a command at run time (DPDK's `rte_telemetry_register_cmd`), before or after
/// [`crate::init`]; it stays registered for the life of the process. A name that is taken,
/// malformed, or 56 bytes or longer, or help of 128 bytes or more, is refused.
///
/// ```
/// use rpdk_eal::telemetry::{self, Data};
///
/// telemetry::register_cmd("/app/answer", "Returns the answer. Takes no parameters",
///     |_cmd: &str, _params: Option<&str>, d: &mut Data| {
///         d.start_dict();
///         d.add_dict_int("answer", 42)?;
///         Ok(())
///     },
/// )?;
/// assert!(telemetry::commands().contains(&"/app/answer".to_string()));
/// assert!(telemetry::register_cmd("no-slash", "", |_: &str, _: Option<&str>, _: &mut Data| Ok(())).is_err());
/// # Ok::<(), rpdk_eal::Error>(())
/// ```
pub fn register_cmd<F>(name: &str, help: &str, handler: F) -> Result<()>
where
    F: Fn(&str, Option<&str>, &mut Data) -> Result<(), CommandError> + Send + Sync + 'static,
{
    let refuse = |reason: String| Error::Telemetry(format!("command '{name}': {reason}"));
    check(name, help).map_err(refuse)?;
    let mut rt = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    if static_entries().any(|c| c.name == name) || rt.iter().any(|e| e.name == name) {
        return Err(refuse("already registered".into()));
    }
    rt.push(Entry {
        name: name.to_string(),
        help: help.to_string(),
        run: Arc::new(handler),
    });
    Ok(())
}

/// Every command, sorted (what `/` lists).
pub fn commands() -> Vec<String> {
    let mut names: Vec<String> = static_entries().map(|c| c.name.to_string()).collect();
    names.extend(
        RUNTIME
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|e| e.name.clone()),
    );
    names.sort();
    names.dedup();
    names
}

/// The command named `name`; a link-time one wins over a run-time one.
pub(crate) fn find(name: &str) -> Option<Entry> {
    if let Some(c) = static_entries().find(|c| c.name == name) {
        let handler = c.handler;
        return Some(Entry {
            name: c.name.to_string(),
            help: c.help.to_string(),
            run: Arc::new(handler),
        });
    }
    RUNTIME
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|e| e.name == name)
        .cloned()
}

/// Logs the link-time commands that cannot be served (a bad name or help, or a name twice).
pub(crate) fn report_bad_static() {
    let mut seen = std::collections::HashSet::new();
    for c in TELEMETRY_COMMANDS.iter() {
        if let Err(reason) = check(c.name, c.help) {
            log::error!(target: "lib.telemetry", "command '{}' not served: {reason}", c.name);
        } else if !seen.insert(c.name) {
            log::warn!(target: "lib.telemetry", "command '{}' is linked twice: the first is served", c.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_help_are_checked_as_dpdk() {
        assert!(check("/ethdev/stats", "x").is_ok());
        assert!(check("ethdev", "x").is_err());
        assert!(check("/a-b", "x").is_err());
        assert!(check("/a,b", "x").is_err());
        assert!(check(&format!("/{}", "a".repeat(55)), "x").is_err());
        assert!(check(&format!("/{}", "a".repeat(54)), "x").is_ok());
        assert!(check("/a", &"h".repeat(128)).is_err());
    }

    #[test]
    fn every_linked_command_is_well_formed_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in TELEMETRY_COMMANDS.iter() {
            assert_eq!(check(c.name, c.help), Ok(()), "{}", c.name);
            assert!(seen.insert(c.name), "{} twice", c.name);
        }
        for want in ["/", "/info", "/help", "/eal/params", "/eal/lcore/list"] {
            assert!(seen.contains(want), "{want}");
        }
    }

    #[test]
    fn run_time_commands_join_the_sorted_list() {
        let f = |_: &str, _: Option<&str>, d: &mut Data| {
            d.set_string("hi");
            Ok(())
        };
        register_cmd("/zz_registry_test", "Says hi", f).unwrap();
        assert!(register_cmd("/zz_registry_test", "again", f).is_err());
        assert!(register_cmd("/info", "taken", f).is_err());
        let all = commands();
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(all, sorted);
        let e = find("/zz_registry_test").unwrap();
        let mut d = Data::new();
        (e.run)("/zz_registry_test", None, &mut d).unwrap();
        assert_eq!(d.to_json(), "\"hi\"");
        assert_eq!(e.help, "Says hi");
    }
}
