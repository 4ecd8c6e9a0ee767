//! The `/ring/...` telemetry commands, with DPDK's names and replies (`docs/telemetry.md`),
//! registered by being linked. They read the named rings' headers in their memzones: the
//! fixed fields, and the head and tail positions with the atomic loads any reader uses.

use linkme::distributed_slice;
use rpdk_eal::telemetry::{Command, CommandError, Data, TELEMETRY_COMMANDS, ValueType};

use crate::layout::RING_NAME_MAX;
use crate::named::{RING_MZ_PREFIX, walk};
use crate::sync::SyncType;

type Reply = Result<(), CommandError>;

fn list(_cmd: &str, _params: Option<&str>, d: &mut Data) -> Reply {
    d.start_array(ValueType::String);
    walk(|_, h| d.add_array_string(h.name()))?;
    Ok(())
}

/// `/ring/info,NAME`: the ring's description, or `{}` for a name no ring has (as DPDK).
fn info(_cmd: &str, params: Option<&str>, d: &mut Data) -> Reply {
    let name = params
        .filter(|p| !p.is_empty() && p.len() <= RING_NAME_MAX)
        .ok_or("a ring name is needed")?;
    d.start_dict();
    let mz_name = format!("{RING_MZ_PREFIX}{name}");
    walk(|mz, h| {
        if mz.name() != mz_name {
            return Ok(());
        }
        let side = |v: u32, label: fn(SyncType) -> &'static str| {
            SyncType::from_u32(v).map_or("Unknown", label)
        };
        d.add_dict_string("name", h.name())?;
        d.add_dict_int("socket", i64::from(mz.socket_id()))?;
        d.add_dict_int("flags", i64::from(h.meta.flags))?;
        d.add_dict_string(
            "producer_type",
            side(h.prod.head.sync, SyncType::producer_name),
        )?;
        d.add_dict_string(
            "consumer_type",
            side(h.cons.head.sync, SyncType::consumer_name),
        )?;
        d.add_dict_uint("size", u64::from(h.meta.size))?;
        d.add_dict_uint_hex("mask", u64::from(h.meta.mask), 0)?;
        d.add_dict_uint("capacity", u64::from(h.meta.capacity))?;
        d.add_dict_uint("used_count", u64::from(h.count()))?;
        d.add_dict_string("mz_name", mz.name())?;
        d.add_dict_uint("mz_len", mz.len() as u64)?;
        d.add_dict_uint("mz_hugepage_sz", mz.hugepage_size() as u64)?;
        d.add_dict_int("mz_socket_id", i64::from(mz.socket_id()))?;
        d.add_dict_uint_hex("mz_flags", u64::from(mz.flags().bits()), 0)
    })?;
    Ok(())
}

#[distributed_slice(TELEMETRY_COMMANDS)]
static LIST: Command = Command {
    name: "/ring/list",
    help: "Returns list of available rings. Takes no parameters",
    handler: list,
};

#[distributed_slice(TELEMETRY_COMMANDS)]
static INFO: Command = Command {
    name: "/ring/info",
    help: "Returns ring info. Parameters: ring_name.",
    handler: info,
};
