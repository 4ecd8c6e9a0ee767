//! The commands of the telemetry library itself (`/`, `/info`, `/help`) and of the EAL
//! (`/eal/...`), with DPDK's names, help texts and replies.

use linkme::distributed_slice;

use super::data::{Data, ValueType};
use super::json::MAX_OUTPUT_LEN;
use super::registry::{self, Command, CommandError, TELEMETRY_COMMANDS};

type Reply = Result<(), CommandError>;

fn list(_cmd: &str, _params: Option<&str>, d: &mut Data) -> Reply {
    d.start_array(ValueType::String);
    for name in registry::commands() {
        d.add_array_string(&name)?;
    }
    Ok(())
}

fn info(_cmd: &str, _params: Option<&str>, d: &mut Data) -> Reply {
    d.start_dict();
    d.add_dict_string("version", &super::version())?;
    d.add_dict_int("pid", i64::from(std::process::id()))?;
    d.add_dict_int("max_output_len", MAX_OUTPUT_LEN as i64)?;
    Ok(())
}

/// `/help`: the help of `/help` itself without a parameter (as a string), or
/// `{"<command>": "<help>"}`; an unknown command gives null.
fn help(cmd: &str, params: Option<&str>, d: &mut Data) -> Reply {
    let lookup = params.unwrap_or(cmd);
    let entry = registry::find(lookup).ok_or("no such command")?;
    match params {
        None => d.set_string(&entry.help),
        Some(p) => {
            d.start_dict();
            d.add_dict_string(p, &entry.help)?;
        }
    }
    Ok(())
}

/// `/eal/params` and `/eal/app_params`: the command line before and after `--`.
fn params(cmd: &str, _params: Option<&str>, d: &mut Data) -> Reply {
    d.start_array(ValueType::String);
    let Ok(state) = crate::state::get() else {
        return Ok(());
    };
    let args = if cmd == "/eal/app_params" {
        &state.cmdline.app
    } else {
        &state.cmdline.eal
    };
    for a in args {
        d.add_array_string(a)?;
    }
    Ok(())
}

fn lcore_list(_cmd: &str, _params: Option<&str>, d: &mut Data) -> Reply {
    d.start_array(ValueType::Int);
    for id in crate::lcore::list() {
        d.add_array_int(i64::from(id))?;
    }
    Ok(())
}

/// `/eal/lcore/info,N`: an lcore that is not enabled gives null, as in DPDK.
fn lcore_info(_cmd: &str, params: Option<&str>, d: &mut Data) -> Reply {
    let p = params.ok_or("an lcore id is needed")?;
    let id: u32 = p
        .parse()
        .ok()
        .filter(|&id| id < crate::lcore::MAX_LCORE)
        .ok_or("not an lcore id")?;
    let Some(info) = crate::lcore::info(id) else {
        return Ok(());
    };
    d.start_dict();
    d.add_dict_int("lcore_id", i64::from(info.id))?;
    d.add_dict_int("socket", i64::from(info.socket))?;
    d.add_dict_string("role", "RTE")?;
    let mut cpus = Data::new();
    cpus.start_array(ValueType::Int);
    for cpu in info.cpuset.iter() {
        cpus.add_array_int(cpu as i64)?;
    }
    d.add_dict_container("cpuset", cpus)?;
    Ok(())
}

/// `/eal/lcore/usage`: rpdk has no lcore usage callback (DPDK's `rte_lcore_register_usage_cb`),
/// so the arrays are empty, as DPDK's are without one.
fn lcore_usage(_cmd: &str, _params: Option<&str>, d: &mut Data) -> Reply {
    d.start_dict();
    for (name, ty) in [
        ("lcore_ids", ValueType::Uint),
        ("total_cycles", ValueType::Uint),
        ("busy_cycles", ValueType::Uint),
        ("usage_ratio", ValueType::String),
    ] {
        let mut a = Data::new();
        a.start_array(ty);
        d.add_dict_container(name, a)?;
    }
    Ok(())
}

macro_rules! command {
    ($id:ident, $name:literal, $help:literal, $handler:ident) => {
        #[distributed_slice(TELEMETRY_COMMANDS)]
        static $id: Command = Command {
            name: $name,
            help: $help,
            handler: $handler,
        };
    };
}

command!(
    LIST,
    "/",
    "Returns list of available commands, Takes no parameters",
    list
);
command!(
    INFO,
    "/info",
    "Returns DPDK Telemetry information. Takes no parameters",
    info
);
command!(
    HELP,
    "/help",
    "Returns help text for a command. Parameters: string command",
    help
);
command!(
    EAL_PARAMS,
    "/eal/params",
    "Returns EAL commandline parameters used. Takes no parameters",
    params
);
command!(
    EAL_APP_PARAMS,
    "/eal/app_params",
    "Returns app commandline parameters used. Takes no parameters",
    params
);
command!(
    LCORE_LIST,
    "/eal/lcore/list",
    "List of lcore ids. Takes no parameters",
    lcore_list
);
command!(
    LCORE_INFO,
    "/eal/lcore/info",
    "Returns lcore info. Parameters: int lcore_id",
    lcore_info
);
command!(
    LCORE_USAGE,
    "/eal/lcore/usage",
    "Returns lcore cycles usage. Takes no parameters",
    lcore_usage
);

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cmd: &str, params: Option<&str>) -> Option<String> {
        let e = registry::find(cmd)?;
        let mut d = Data::new();
        (e.run)(cmd, params, &mut d).ok()?;
        Some(super::super::json::reply(cmd.as_bytes(), &d))
    }

    #[test]
    fn help_replies_as_dpdk() {
        assert_eq!(
            run("/help", None).unwrap(),
            r#"{"/help":"Returns help text for a command. Parameters: string command"}"#
        );
        assert_eq!(
            run("/help", Some("/info")).unwrap(),
            r#"{"/help":{"/info":"Returns DPDK Telemetry information. Takes no parameters"}}"#
        );
        assert_eq!(run("/help", Some("/nope")), None);
    }

    #[test]
    fn info_and_list() {
        let info = run("/info", None).unwrap();
        assert!(info.starts_with(r#"{"/info":{"version":"rpdk "#), "{info}");
        assert!(
            info.ends_with(&format!(
                r#","pid":{},"max_output_len":16384}}}}"#,
                std::process::id()
            )),
            "{info}"
        );
        let list = run("/", None).unwrap();
        assert!(
            list.starts_with(r#"{"/":["/","/eal/app_params","#),
            "{list}"
        );
    }

    #[test]
    fn lcore_info_needs_a_valid_id() {
        assert_eq!(run("/eal/lcore/info", None), None);
        assert_eq!(run("/eal/lcore/info", Some("x")), None);
        assert_eq!(run("/eal/lcore/info", Some("128")), None);
        assert_eq!(
            run("/eal/lcore/usage", None).unwrap(),
            r#"{"/eal/lcore/usage":{"lcore_ids":[],"total_cycles":[],"busy_cycles":[],"usage_ratio":[]}}"#
        );
    }
}
